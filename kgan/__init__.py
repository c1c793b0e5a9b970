"""kgan: a Keras 3 / TensorFlow GAN model zoo.

Packages, in the direction data flows: the core (`gan`, `losses`, `contract`,
`fused_adam`, `checks`, `images`), `models` (the families), `data` (tfds
pipelines, raw-file import), `training` (run layout, checkpoints, callbacks),
`serving` (signatures, SavedModel and TF-Lite exports, the one reader
`kgan.load`), `evaluation` (classifier, metrics, scoring, SVM) and the latent
tools (`latent`).
"""

from kgan import data, evaluation, images, latent, losses, models, serving, training
from kgan.contract import Contract, LatentInput
from kgan.gan import GAN
from kgan.models import CGAN, DCGAN, ConditionalDCGAN, ConvInfoGAN, InfoGAN, VanillaGAN
from kgan.serving.reader import load

# Modules that moved into the packages, under their earlier names.
callbacks = training.callbacks
checkpoint = training.checkpoint
classifier = evaluation.classifier
export = serving.saved_model
features = models.features
metrics = evaluation.metrics
svm = evaluation.svm
tflite = serving.tflite

__all__ = ["CGAN", "ConditionalDCGAN", "Contract", "ConvInfoGAN", "DCGAN", "GAN", "InfoGAN", "LatentInput",
           "VanillaGAN", "callbacks", "checkpoint", "classifier", "data", "evaluation", "export", "features",
           "images", "latent", "load", "losses", "metrics", "models", "serving", "svm", "tflite", "training"]
__version__ = "0.1.0"
