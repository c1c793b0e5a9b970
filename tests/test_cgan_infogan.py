"""CGAN and InfoGAN: conditioning and codes change the output, Q shares D's body, the MI term."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import kgan
from kgan.models import info_losses


def snapshot(variables):
    return [np.array(keras.ops.convert_to_numpy(v)) for v in variables]


def assert_generator_step_leaves_discriminator_untouched(gan):
    latents = gan.sample_latents(4)
    with tf.GradientTape() as tape:
        fake = gan.generator(latents, training=True)
    before = snapshot(gan.discriminator.variables)
    gan.generator_update(tape, fake, latents)
    for a, b in zip(before, snapshot(gan.discriminator.variables)):
        np.testing.assert_array_equal(a, b)


def tiny_cgan(**kwargs):
    keras.utils.set_random_seed(0)
    return kgan.ConditionalDCGAN(generator_filters=4, discriminator_filters=4, seed=0, **kwargs)


def tiny_infogan(**kwargs):
    keras.utils.set_random_seed(0)
    return kgan.ConvInfoGAN(seed=0, **kwargs)


def compiled(gan, lr=2e-4, optimizer=keras.optimizers.Adam, **kwargs):
    gan.compile(d_optimizer=optimizer(lr), g_optimizer=optimizer(lr), **kwargs)
    return gan


def images(n=16, seed=0):
    return np.random.default_rng(seed).uniform(-1, 1, (n, 28, 28, 1)).astype("float32")


# ---- CGAN -------------------------------------------------------------------

def test_cgan_networks_take_the_one_hot_label():
    gan = tiny_cgan()
    assert [tuple(i.shape) for i in gan.generator.inputs] == [(None, 100), (None, 10)]
    assert [tuple(i.shape) for i in gan.discriminator.inputs] == [(None, 28, 28, 1), (None, 10)]
    # The label is broadcast to 10 constant planes next to the image channel.
    joined = gan.discriminator.get_layer("image_label").output
    assert tuple(joined.shape) == (None, 28, 28, 11)
    x = images(2)
    same = gan.discriminate(x, tf.one_hot([3, 3], 10)).numpy()
    other = gan.discriminate(x, tf.one_hot([4, 4], 10)).numpy()
    assert not np.allclose(same, other)


def test_cgan_label_changes_the_image_and_generate_is_reproducible():
    gan = tiny_cgan()
    a, b = gan.generate(labels=[7, 7], seed=3), gan.generate(labels=[7, 3], seed=3)
    np.testing.assert_array_equal(a[0], b[0])  # same z, same label
    assert not np.allclose(a[1], b[1])  # same z, other label
    assert a.shape == (2, 28, 28, 1) and np.abs(a).max() <= 1
    np.testing.assert_array_equal(a, gan.generate(labels=[7, 7], seed=3))


def test_cgan_grid_has_one_row_per_class_and_fixed_z_per_column():
    gan = tiny_cgan()
    z, onehot = gan.grid_latents(10, 4, seed=1)
    labels = np.argmax(onehot.numpy(), axis=1).reshape(10, 4)
    np.testing.assert_array_equal(labels, np.repeat(np.arange(10)[:, None], 4, axis=1))
    z = z.numpy().reshape(10, 4, -1)
    np.testing.assert_array_equal(z[0], z[9])
    assert not np.allclose(z[0, 0], z[0, 1])
    assert gan.grid_shape(5) == (10, 5)


def test_cgan_samples_labels_uniformly():
    gan = tiny_cgan()
    _, onehot = gan.sample_latents(20000)
    counts = np.bincount(np.argmax(onehot.numpy(), axis=1), minlength=10)
    assert counts.min() > 1800 and counts.max() < 2200


@pytest.mark.parametrize("labels,error,match", [
    ([10], ValueError, r"\[0, 10\)"), ([-1], ValueError, r"\[0, 10\)"),
    ([1.5], TypeError, "integer"), ([[1, 2]], ValueError, "1-D"), ([], ValueError, "non-empty"),
])
def test_cgan_generate_rejects_bad_labels(labels, error, match):
    with pytest.raises(error, match=match):
        tiny_cgan().generate(labels=labels)


def test_cgan_fit_rejects_bad_labels():
    gan = compiled(tiny_cgan(), run_eagerly=True)  # the checks are the same ops eagerly; no traces to wait for
    with pytest.raises(ValueError, match="with_labels=True"):
        gan.fit(images(8), batch_size=4, verbose=0)
    with pytest.raises(TypeError, match="integer class ids"):
        gan.fit(images(8), np.zeros(8, "float32"), batch_size=4, verbose=0)
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"labels must be in \[0, 10\)"):
        gan.fit(images(8), np.full(8, 10), batch_size=4, verbose=0)
    with pytest.raises(ValueError, match=r"shape \[N\]"):
        gan.fit(images(8), np.zeros((8, 2), "int32"), batch_size=4, verbose=0)
    assert int(gan.d_optimizer.iterations) == 0


class RecordingCGAN(kgan.ConditionalDCGAN):
    """Records what every D pass is given (eager train steps only)."""

    calls = None

    def discriminate(self, images, conditions=None, training=False, frozen=False):
        if self.calls is not None:
            self.calls.append((np.asarray(images), None if conditions is None else np.asarray(conditions), frozen))
        return super().discriminate(images, conditions, training=training, frozen=frozen)


def test_cgan_discriminator_frozen_in_generator_step_and_d_sees_real_labels():
    gan = compiled(tiny_cgan())
    gan.fit(images(8), np.arange(8), batch_size=8, verbose=0)
    assert_generator_step_leaves_discriminator_untouched(gan)
    keras.utils.set_random_seed(0)
    gan = compiled(RecordingCGAN(generator_filters=4, discriminator_filters=4, seed=0), d_steps=2)
    gan.calls = []
    real, labels = images(6), np.array([2, 0, 9, 4, 4, 1])
    gan.train_step((tf.constant(real), tf.constant(labels)))
    # Per D step: the real sub-batch with ITS labels, then fakes with the labels they were generated for;
    # then the frozen G-step pass on the last fakes and their labels.
    (r1, c1, _), (f1, fc1, _), (r2, c2, _), (f2, fc2, _), (g, gc, frozen) = gan.calls
    assert frozen and not any(call[2] for call in gan.calls[:4])
    np.testing.assert_array_equal(r1, real[:3])
    np.testing.assert_array_equal(np.argmax(c1, 1), labels[:3])
    np.testing.assert_array_equal(r2, real[3:])
    np.testing.assert_array_equal(np.argmax(c2, 1), labels[3:])
    np.testing.assert_array_equal(g, f2)  # G's step scores the fakes D last saw, with their labels
    np.testing.assert_array_equal(gc, fc2)
    for fake_labels in (fc1, fc2):  # the fakes' labels are drawn one-hots, not the real ones
        np.testing.assert_array_equal(fake_labels.sum(1), np.ones(3))


def test_cgan_save_load_resume(tmp_path):
    gan = compiled(tiny_cgan(head="softmax"), d_steps=2)
    data = tf.data.Dataset.from_tensor_slices((images(16), np.arange(16) % 10)).batch(8)
    gan.fit(data, verbose=0)
    gan.save(tmp_path / "cgan.keras")
    loaded = keras.models.load_model(tmp_path / "cgan.keras")
    assert type(loaded) is kgan.ConditionalDCGAN and loaded.num_classes == 10 and loaded.d_steps == 2
    np.testing.assert_array_equal(gan.generate(labels=[1, 2], seed=0), loaded.generate(labels=[1, 2], seed=0))
    loaded.fit(data, verbose=0)
    assert int(loaded.g_optimizer.iterations) == 4 and int(loaded.d_optimizer.iterations) == 8


def test_generic_cgan_with_user_networks():
    z, y = keras.Input((8,)), keras.Input((3,))
    g = keras.Model([z, y], keras.layers.Reshape((4, 4, 1))(
        keras.layers.Dense(16, activation="tanh")(keras.layers.Concatenate()([z, y]))))
    x, yd = keras.Input((4, 4, 1)), keras.Input((3,))
    d = keras.Model([x, yd], keras.layers.Dense(1)(keras.layers.Concatenate()([keras.layers.Flatten()(x), yd])))
    gan = compiled(kgan.CGAN(g, d, latent_dim=8, num_classes=3))
    history = gan.fit(np.zeros((6, 4, 4, 1), "float32"), np.array([0, 1, 2, 0, 1, 2]), batch_size=3, verbose=0)
    assert np.isfinite(history.history["d_loss"][0])
    assert gan.generate(labels=[2]).shape == (1, 4, 4, 1)


# ---- InfoGAN ----------------------------------------------------------------

def test_info_losses_match_numpy():
    rng = np.random.default_rng(0)
    cat = np.eye(4, dtype="float32")[[0, 3, 1]]
    cont = rng.uniform(-1, 1, (3, 2)).astype("float32")
    logits = rng.normal(size=(3, 4)).astype("float32")
    mean = rng.normal(size=(3, 2)).astype("float32")
    ce, nll = info_losses(cat, cont, logits, mean)
    log_softmax = logits - np.log(np.exp(logits).sum(1, keepdims=True))
    assert float(ce) == pytest.approx(-np.mean(np.sum(cat * log_softmax, 1)), rel=1e-5)
    gauss = 0.5 * (cont - mean) ** 2 + 0.5 * np.log(2 * np.pi)
    assert float(nll) == pytest.approx(np.mean(gauss.sum(1)), rel=1e-5)


def test_infogan_q_head_shares_the_discriminator_body():
    gan = tiny_infogan()
    d, q = gan.discriminator, gan.q_network
    for name in ("conv_1", "conv_2", "fc", "fc_bn"):
        assert q.get_layer(name) is d.get_layer(name)
    x = images(4)
    before = [t.numpy() for t in q(x)]
    kernel = d.get_layer("conv_1").kernel
    kernel.assign(kernel * 2.0)  # change D's body: Q's output moves too
    assert not np.allclose(before[0], q(x)[0].numpy())
    # The MI term trains D's body, not only the Q head.
    latents = gan.sample_latents(4)
    with tf.GradientTape() as tape:
        _, aux = gan.split_discriminator_outputs(gan.discriminator(gan.generator(latents), training=True))
        loss = gan.auxiliary_loss(aux, latents, discriminator_step=False)
    assert float(tf.reduce_max(tf.abs(tape.gradient(loss, kernel)))) > 0


def test_infogan_codes_change_the_image():
    gan = tiny_infogan()
    base = gan.generate(categories=[0, 5], continuous=[[0, 0], [0, 0]], seed=1)
    assert not np.allclose(base[0], gan.generate(categories=[1], continuous=[[0, 0]], seed=1)[0])
    assert not np.allclose(base[0], gan.generate(categories=[0], continuous=[[1.5, 0]], seed=1)[0])
    np.testing.assert_array_equal(base, gan.generate(categories=[0, 5], continuous=[[0, 0], [0, 0]], seed=1))
    with pytest.raises(ValueError, match=r"\[0, 10\)"):
        gan.generate(categories=[10])
    with pytest.raises(ValueError, match=r"\[N, 2\]"):
        gan.generate(continuous=[[0.0, 0.0, 0.0]])
    with pytest.raises(ValueError, match="disagree"):
        gan.generate(num_images=3, categories=[1])


def test_infogan_grids():
    gan = tiny_infogan()
    z, cat, cont = gan.grid_latents(2, 10, seed=0)
    np.testing.assert_array_equal(np.argmax(cat.numpy(), 1), np.tile(np.arange(10), 2))
    assert np.allclose(z.numpy()[:10], z.numpy()[0]) and not np.allclose(z.numpy()[0], z.numpy()[10])
    assert not cont.numpy().any()
    z, cat, cont = gan.traversal_latents(1, 3, 5, seed=0)
    np.testing.assert_allclose(cont.numpy()[:5, 1], [-2, -1, 0, 1, 2])
    assert not cont.numpy()[:, 0].any()
    np.testing.assert_array_equal(np.argmax(cat.numpy(), 1), np.repeat([0, 1, 2], 5))
    with pytest.raises(ValueError, match="code_index"):
        gan.traversal_latents(2, 1, 1)


class FixedCodeInfoGAN(kgan.ConvInfoGAN):
    def sample_latents(self, batch_size, seed=None, categories=None, continuous=None):
        rng = np.random.default_rng(4)
        return super().sample_latents(batch_size, seed=0, categories=rng.integers(0, 10, batch_size),
                                      continuous=rng.uniform(-1, 1, (batch_size, 2)))


def test_mi_term_enters_the_discriminator_loss():
    """With identical everything else, the lambda of the MI term changes D's update."""
    after = []
    for weight in (0.0, 5.0):
        keras.utils.set_random_seed(0)
        gan = compiled(FixedCodeInfoGAN(categorical_weight=weight, continuous_weight=weight, seed=0), lr=0.1,
                       optimizer=keras.optimizers.SGD)
        gan.train_step(tf.constant(images(8)))
        after.append(snapshot(gan.discriminator.trainable_variables))
    assert any(not np.allclose(a, b) for a, b in zip(*after))


def test_mi_term_enters_the_generator_loss_with_d_held_fixed():
    """G's own update (one G step against the SAME, untouched D) depends on the MI term's lambda."""
    after, d_weights = [], []
    for weight in (0.0, 5.0):
        keras.utils.set_random_seed(0)
        gan = compiled(FixedCodeInfoGAN(categorical_weight=weight, continuous_weight=weight, seed=0), lr=0.1,
                       optimizer=keras.optimizers.SGD)
        latents = gan.sample_latents(8)
        with tf.GradientTape() as tape:
            fake = gan.generator(latents, training=True)
        gan.generator_update(tape, fake, latents)
        after.append(snapshot(gan.generator.trainable_variables))
        d_weights.append(snapshot(gan.discriminator.variables))
    for a, b in zip(*d_weights):
        np.testing.assert_array_equal(a, b)  # the same D judged both
    assert any(not np.allclose(a, b) for a, b in zip(*after))


def test_infogan_fit_shows_mi_metrics_freezes_d_and_round_trips(tmp_path):
    gan = compiled(tiny_infogan())
    history = gan.fit(images(16), np.arange(16), batch_size=8, verbose=0).history  # labels ignored
    assert {"info_cat", "info_cont", "d_loss", "g_loss"} <= set(history)
    assert 0 < history["info_cat"][0] < 2 * np.log(10)
    assert_generator_step_leaves_discriminator_untouched(gan)
    gan.save(tmp_path / "info.keras")
    loaded = keras.models.load_model(tmp_path / "info.keras")
    assert type(loaded) is kgan.ConvInfoGAN and loaded.get_config() == gan.get_config()
    np.testing.assert_array_equal(gan.generate(categories=[4], seed=2), loaded.generate(categories=[4], seed=2))
    loaded.fit(images(16), batch_size=8, verbose=0)
    assert int(loaded.g_optimizer.iterations) == 2 + 1 + 2  # fit, the manual G step, fit
