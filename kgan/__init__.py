"""kgan: a Keras 3 / TensorFlow GAN model zoo."""

from kgan import callbacks, data, images, latent, losses
from kgan.gan import GAN
from kgan.models import CGAN, DCGAN, ConditionalDCGAN, ConvInfoGAN, InfoGAN, VanillaGAN

__all__ = ["CGAN", "ConditionalDCGAN", "ConvInfoGAN", "DCGAN", "GAN", "InfoGAN", "VanillaGAN",
           "callbacks", "data", "images", "latent", "losses"]
__version__ = "0.1.0"
