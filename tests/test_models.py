"""Ready-made families: architectures as the papers describe them, shapes, ranges, save/load."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import kgan
from kgan.models import Maxout


def layers_of(model, cls):
    return [layer for layer in model.layers if type(layer) is cls]


def producers(layer):
    """The layers whose outputs ``layer`` takes (its inbound node's parents)."""
    return [node.operation for node in layer._inbound_nodes[0].parent_nodes]


@pytest.mark.parametrize("size,strides", [(28, [1, 1, 2, 2]), (64, [2, 2, 2, 2])])
@pytest.mark.parametrize("head,units", [("sigmoid", 1), ("softmax", 2)])
def test_dcgan_architecture(size, strides, head, units):
    gan = kgan.DCGAN(image_shape=(size, size, 1), head=head, generator_filters=4, discriminator_filters=4)
    g, d = gan.generator, gan.discriminator
    deconvs = layers_of(g, keras.layers.Conv2DTranspose)
    assert [layer.strides[0] for layer in deconvs] == strides
    assert [layer.filters for layer in deconvs] == [16, 8, 4, 1]
    # BN + ReLU after the projection and every transposed conv but the output one, which is tanh.
    assert len(layers_of(g, keras.layers.BatchNormalization)) == 4
    assert g.layers[-1].get_config()["activation"] == "tanh"
    assert layers_of(g, keras.layers.Dense)[0].units == (size // 2 ** strides.count(2)) ** 2 * 32
    convs = layers_of(d, keras.layers.Conv2D)
    assert [layer.strides for layer in convs] == [(2, 2)] * 4
    assert [layer.filters for layer in convs] == [4, 8, 16, 32]
    # BatchNorm on every conv but the input one: the layer that feeds each BN is conv_2, conv_3, conv_4.
    bn_sources = [producers(layer) for layer in layers_of(d, keras.layers.BatchNormalization)]
    assert bn_sources == [[convs[1]], [convs[2]], [convs[3]]]
    assert producers(d.get_layer("conv_1_lrelu")) == [convs[0]]
    assert all(layer.negative_slope == pytest.approx(0.2) for layer in layers_of(d, keras.layers.LeakyReLU))
    assert len(layers_of(d, keras.layers.Dense)) == 1  # no hidden dense layers
    assert not [layer for layer in d.layers if "Pooling" in type(layer).__name__]
    z = gan.sample_latents(5, seed=0)
    images = gan.generator(z, training=False).numpy()
    assert images.shape == (5, size, size, 1) and images.min() >= -1 and images.max() <= 1
    assert d(images).shape == (5, units)


def test_dcgan_init_is_normal_0_02():
    gan = kgan.DCGAN(generator_filters=32, discriminator_filters=32)
    kernel = gan.discriminator.get_layer("conv_3").kernel.numpy()
    assert kernel.mean() == pytest.approx(0.0, abs=2e-3) and kernel.std() == pytest.approx(0.02, rel=0.05)
    gamma = gan.generator.get_layer("project_bn").gamma.numpy()
    assert gamma.mean() == pytest.approx(1.0, abs=5e-3) and gamma.std() == pytest.approx(0.02, rel=0.2)


def test_maxout_matches_numpy():
    layer = Maxout(3, 4)
    x = np.random.default_rng(0).normal(size=(5, 7)).astype("float32")
    out = layer(x).numpy()
    pre = x @ layer.kernel.numpy() + layer.bias.numpy()
    np.testing.assert_allclose(out, pre.reshape(5, 3, 4).max(-1), rtol=1e-5, atol=1e-6)


def test_vanilla_gan_architecture():
    gan = kgan.VanillaGAN(generator_units=(32, 32), discriminator_units=(16, 16), maxout_pieces=5)
    g, d = gan.generator, gan.discriminator
    assert [layer.get_config()["activation"] for layer in layers_of(g, keras.layers.Dense)[:2]] == ["relu"] * 2
    assert [(m.units, m.pieces) for m in layers_of(d, Maxout)] == [(16, 5), (16, 5)]
    assert [layer.rate for layer in layers_of(d, keras.layers.Dropout)] == [0.2, 0.5, 0.5]
    z = gan.sample_latents(4, seed=1)
    assert float(tf.reduce_max(tf.abs(z))) <= 1.0  # uniform latents, as in the paper
    images = g(z).numpy()
    assert images.shape == (4, 28, 28, 1) and np.abs(images).max() <= 1
    assert d(images).shape == (4, 1)


@pytest.mark.parametrize("make", [
    lambda: kgan.DCGAN(head="softmax", generator_filters=4, discriminator_filters=4, seed=0),
    lambda: kgan.VanillaGAN(generator_units=(16,), discriminator_units=(8,), seed=0),
])
def test_families_train_save_and_load(tmp_path, make):
    keras.utils.set_random_seed(0)
    gan = make()
    gan.compile(d_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5), g_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5))
    x = np.random.default_rng(0).uniform(-1, 1, (16, 28, 28, 1)).astype("float32")
    history = gan.fit(x, batch_size=8, epochs=1, verbose=0).history
    assert all(np.isfinite(v[0]) for v in history.values())
    gan.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    assert type(loaded) is type(gan) and loaded.get_config() == gan.get_config()
    z = gan.sample_latents(2, seed=4)
    np.testing.assert_array_equal(gan(z).numpy(), loaded(z).numpy())
    assert int(loaded.d_optimizer.iterations) == 2
    images = loaded.generate(3, seed=1)
    assert images.shape == (3, 28, 28, 1) and images.dtype == np.float32
    np.testing.assert_array_equal(images, loaded.generate(3, seed=1))


def test_bad_model_arguments():
    with pytest.raises(ValueError, match="head"):
        kgan.DCGAN(head="tanh")
    with pytest.raises(ValueError, match="square"):
        kgan.DCGAN(image_shape=(28, 32, 1))
    with pytest.raises(ValueError, match="image_shape"):
        kgan.VanillaGAN(image_shape=(28, 28))
