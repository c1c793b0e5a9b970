"""Ready-made GAN families, one file each, all built on `kgan.GAN`."""

from kgan.models.dcgan import DCGAN, build_dcgan_discriminator, build_dcgan_generator
from kgan.models.mlp import Maxout, VanillaGAN, build_maxout_discriminator, build_mlp_generator

__all__ = [
    "DCGAN",
    "Maxout",
    "VanillaGAN",
    "build_dcgan_discriminator",
    "build_dcgan_generator",
    "build_maxout_discriminator",
    "build_mlp_generator",
]
