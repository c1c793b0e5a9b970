"""kgan: a Keras 3 / TensorFlow GAN model zoo."""

from kgan import callbacks, classifier, data, evaluation, images, latent, losses, metrics, svm
from kgan.gan import GAN
from kgan.models import CGAN, DCGAN, ConditionalDCGAN, ConvInfoGAN, InfoGAN, VanillaGAN

__all__ = ["CGAN", "ConditionalDCGAN", "ConvInfoGAN", "DCGAN", "GAN", "InfoGAN", "VanillaGAN",
           "callbacks", "classifier", "data", "evaluation", "images", "latent", "losses", "metrics", "svm"]
__version__ = "0.1.0"
