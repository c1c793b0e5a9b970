"""kgan: a Keras 3 / TensorFlow GAN model zoo."""

from kgan import callbacks, data, images, losses
from kgan.gan import GAN
from kgan.models import DCGAN, VanillaGAN

__all__ = ["DCGAN", "GAN", "VanillaGAN", "callbacks", "data", "images", "losses"]
__version__ = "0.1.0"
