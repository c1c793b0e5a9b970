"""Ready-made GAN families, one file each, all built on `kgan.GAN`; `features` builds D feature models."""

from kgan.models import features
from kgan.models.cgan import CGAN, ConditionalDCGAN
from kgan.models.dcgan import DCGAN, build_dcgan_discriminator, build_dcgan_generator
from kgan.models.infogan import (ConvInfoGAN, InfoGAN, build_infogan_discriminator, build_infogan_generator,
                                 info_losses)
from kgan.models.mlp import Maxout, VanillaGAN, build_maxout_discriminator, build_mlp_generator

__all__ = [
    "CGAN",
    "ConditionalDCGAN",
    "ConvInfoGAN",
    "DCGAN",
    "InfoGAN",
    "Maxout",
    "VanillaGAN",
    "build_dcgan_discriminator",
    "build_dcgan_generator",
    "build_infogan_discriminator",
    "build_infogan_generator",
    "build_maxout_discriminator",
    "build_mlp_generator",
    "features",
    "info_losses",
]
