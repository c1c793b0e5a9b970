"""Evaluation: the shipped MNIST classifier, sample metrics, scoring any model, the best-model callback, the SVM."""

from kgan.evaluation import callbacks, classifier, extractors, metrics, sampling, scoring, svm
from kgan.evaluation.callbacks import HOLDOUT_SPLIT, EvaluationCallback
from kgan.evaluation.sampling import BATCH_SIZE, Sampler, open_sampler
from kgan.evaluation.scoring import (DENSITY_COVERAGE_K, PRECISION_RECALL_K, check_image_shape, classifier_scores,
                                     classify, evaluate, format_table, real_images, reference_metrics, score)

__all__ = ["BATCH_SIZE", "DENSITY_COVERAGE_K", "EvaluationCallback", "HOLDOUT_SPLIT", "PRECISION_RECALL_K",
           "Sampler", "callbacks", "check_image_shape", "classifier", "classifier_scores", "classify", "evaluate",
           "extractors", "format_table", "metrics", "open_sampler", "real_images", "reference_metrics", "sampling",
           "score", "scoring", "svm"]
