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
from kgan.preset import from_preset, list_presets, load_preset, save_preset
from kgan.serving.reader import load
from kgan.version import VERSION as __version__

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
           "VanillaGAN", "__version__", "callbacks", "checkpoint", "classifier", "data", "evaluation", "export", "features",
           "from_preset", "images", "latent", "list_presets", "load", "load_preset", "losses", "metrics", "models", "save_preset", "serving", "svm", "tflite", "training"]

