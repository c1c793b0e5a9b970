"""Every family builds, trains a step and generates at 32, 64 and 128 px, in colour and grayscale."""

import keras
import numpy as np
import pytest

import kgan


def tiny(family, shape):
    if family == "dcgan":
        return kgan.DCGAN(image_shape=shape, generator_filters=2, discriminator_filters=2, seed=0)
    if family == "cgan":
        return kgan.ConditionalDCGAN(image_shape=shape, num_classes=3, generator_filters=2, discriminator_filters=2,
                                     seed=0)
    if family == "infogan":
        return kgan.ConvInfoGAN(image_shape=shape, num_categories=3, seed=0)
    return kgan.VanillaGAN(image_shape=shape, generator_units=(8,), discriminator_units=(8,), seed=0)


@pytest.mark.parametrize("family,size,channels", [
    ("dcgan", 128, 3), ("dcgan", 32, 1), ("cgan", 64, 3), ("infogan", 128, 3), ("infogan", 64, 1), ("gan", 128, 3),
])  # 32 px colour runs through every zoo trainer in tests/test_zoo_folder.py
def test_family_trains_at_size(family, size, channels):
    shape = (size, size, channels)
    gan = tiny(family, shape)
    gan.compile(d_optimizer=keras.optimizers.Adam(1e-4), g_optimizer=keras.optimizers.Adam(1e-4))
    x = np.random.default_rng(0).uniform(-1, 1, (4, *shape)).astype(np.float32)
    data = (x, np.arange(4) % 3) if family == "cgan" else x
    history = gan.fit(*((data,) if family != "cgan" else data), batch_size=4, epochs=1, verbose=0).history
    assert np.isfinite(history["d_loss"][0])
    assert gan.generate(2, seed=0).shape == (2, *shape)


def test_the_big_sizes_keep_the_networks_small():
    """DCGAN: a 4x4 start and five up-samplings at 128; InfoGAN: its FC layers stay at 8x8."""
    dcgan = kgan.DCGAN(image_shape=(128, 128, 3))
    assert dcgan.generator.get_layer("reshape").output.shape[1:3] == (4, 4)
    assert len([layer for layer in dcgan.generator.layers if "deconv" in layer.name and layer.name[-1].isdigit()]) == 5
    assert dcgan.discriminator.get_layer("flatten").input.shape[1:3] == (4, 4)
    info = kgan.ConvInfoGAN(image_shape=(128, 128, 3))
    assert info.generator.get_layer("reshape").output.shape[1:3] == (8, 8)
    assert info.discriminator.get_layer("flatten").input.shape[1:3] == (8, 8)
    # 28 and 32 px keep the paper's MNIST networks.
    assert kgan.ConvInfoGAN(image_shape=(28, 28, 1)).generator.get_layer("reshape").output.shape[1:3] == (7, 7)
