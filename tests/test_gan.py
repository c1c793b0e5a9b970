"""The shared adversarial update (kgan.GAN) on tiny models."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import kgan
from kgan import losses

LATENT = 6
SHAPE = (4, 4, 1)


def tiny_generator():
    z = keras.Input((LATENT,))
    x = keras.layers.Dense(16)(z)
    x = keras.layers.BatchNormalization()(x)
    x = keras.layers.Dense(16, activation="tanh")(x)
    return keras.Model(z, keras.layers.Reshape(SHAPE)(x))


def tiny_discriminator(batchnorm=True, dropout=0.0, units=2):
    images = keras.Input(SHAPE)
    x = keras.layers.Flatten()(images)
    x = keras.layers.Dense(8)(x)
    if batchnorm:
        x = keras.layers.BatchNormalization()(x)
    x = keras.layers.LeakyReLU(0.2)(x)
    if dropout:
        x = keras.layers.Dropout(dropout)(x)
    return keras.Model(images, keras.layers.Dense(units)(x))


def real_images(n=8, seed=0):
    return np.random.default_rng(seed).uniform(-1, 1, (n, *SHAPE)).astype("float32")


def make_gan(lr=1e-2, optimizer=keras.optimizers.SGD, **compile_kwargs):
    keras.utils.set_random_seed(1)
    gan = kgan.GAN(tiny_generator(), tiny_discriminator(dropout=0.3), latent_dim=LATENT, seed=3)
    gan.compile(d_optimizer=optimizer(lr), g_optimizer=optimizer(lr), **compile_kwargs)
    return gan


class FixedLatentGAN(kgan.GAN):
    """Draws z from a fixed table so a step can be recomputed independently."""

    table = np.random.default_rng(5).normal(size=(64, LATENT)).astype("float32")

    def sample_latents(self, batch_size, seed=None):
        return tf.constant(self.table)[:batch_size]


def snapshot(variables):
    return [np.array(keras.ops.convert_to_numpy(v)) for v in variables]


@pytest.mark.parametrize("d_steps", [1, 3])
def test_d_to_g_iteration_ratio_is_exactly_k(d_steps):
    gan = make_gan(d_steps=d_steps)
    data = tf.data.Dataset.from_tensor_slices(real_images(48)).batch(12)
    history = gan.fit(data, epochs=2, verbose=0)
    assert int(gan.g_optimizer.iterations) == 8
    assert int(gan.d_optimizer.iterations) == 8 * d_steps
    assert set(history.history) == {"d_loss", "g_loss", "d_real", "d_fake"}
    for name in ("d_real", "d_fake"):
        assert all(0.0 <= v <= 1.0 for v in history.history[name])


def test_discriminator_is_bit_identical_across_a_generator_step():
    gan = make_gan(optimizer=keras.optimizers.Adam)
    d = gan.discriminator
    # Some D history first, so moving statistics and optimizer state are non-trivial.
    gan.fit(tf.data.Dataset.from_tensor_slices(real_images(16)).batch(8), epochs=1, verbose=0)
    latents = gan.sample_latents(8)
    with tf.GradientTape() as tape:
        fake = gan.generator(latents, training=True)
    d_before, g_before = snapshot(d.variables), snapshot(gan.generator.trainable_variables)
    assert any("moving" in v.path for v in d.variables)  # BatchNorm statistics are covered
    assert any("seed_generator" in v.path for v in d.variables)  # dropout RNG state too
    gan.generator_update(tape, fake, latents)
    for before, after, var in zip(d_before, snapshot(d.variables), d.variables):
        np.testing.assert_array_equal(before, after, err_msg=var.path)
    assert any(not np.array_equal(b, a) for b, a in zip(g_before, snapshot(gan.generator.trainable_variables)))
    # Control: the naive call D(fake, training=True) would have moved BatchNorm statistics.
    d(fake, training=True)
    assert any(not np.array_equal(b, a) for b, a in zip(d_before, snapshot(d.variables)))


def test_frozen_discriminator_uses_batch_statistics():
    gan = kgan.GAN(tiny_generator(), tiny_discriminator(), latent_dim=LATENT)
    d = gan.discriminator
    bn = [layer for layer in d.layers if isinstance(layer, keras.layers.BatchNormalization)][0]
    bn.moving_mean.assign(np.full(8, 3.0, "float32"))  # moving stats far from batch stats
    x = real_images(8)
    frozen = gan.discriminate(x, training=True, frozen=True).numpy()
    np.testing.assert_allclose(frozen, d(x, training=True).numpy(), rtol=1e-5, atol=1e-6)
    assert not np.allclose(frozen, d(x, training=False).numpy(), atol=1e-3)


@pytest.mark.parametrize("generator_loss,label_smoothing", [("non_saturating", 0.0), ("minimax", 0.2)])
def test_step_losses_match_independent_computation(generator_loss, label_smoothing):
    keras.utils.set_random_seed(2)
    gan = FixedLatentGAN(tiny_generator(), tiny_discriminator(batchnorm=False, units=1), latent_dim=LATENT)
    gan.compile(d_optimizer=keras.optimizers.SGD(0.5), g_optimizer=keras.optimizers.SGD(0.5),
                generator_loss=generator_loss, label_smoothing=label_smoothing)
    x = real_images(8)
    z = FixedLatentGAN.table[:8]
    fake = gan.generator(z, training=True).numpy()  # G before its update
    real_logits, fake_logits = gan.discriminator(x).numpy()[:, 0], gan.discriminator(fake).numpy()[:, 0]
    logs = gan.train_step(tf.constant(x))
    t = 1.0 - label_smoothing  # one-sided (Salimans et al. 2016)
    log_sig = lambda v: -np.logaddexp(0.0, -v.astype(np.float64))  # noqa: E731
    expected_d = -np.mean(t * log_sig(real_logits) + (1 - t) * log_sig(-real_logits)) - np.mean(log_sig(-fake_logits))
    assert float(logs["d_loss"]) == pytest.approx(expected_d, rel=1e-5)
    assert float(logs["d_real"]) == pytest.approx(np.mean(1 / (1 + np.exp(-real_logits))), rel=1e-5)
    # G's loss is the UPDATED D on the SAME fakes that D just trained on.
    updated_logits = gan.discriminator(fake).numpy()[:, 0]
    assert not np.allclose(updated_logits, fake_logits)
    expected_g = (-np.mean(log_sig(updated_logits)) if generator_loss == "non_saturating"
                  else np.mean(log_sig(-updated_logits)))
    assert float(logs["g_loss"]) == pytest.approx(expected_g, rel=1e-5)


def test_each_d_step_gets_its_own_sub_batch():
    gan = FixedLatentGAN(tiny_generator(), tiny_discriminator(batchnorm=False, units=1), latent_dim=LATENT)
    gan.compile(d_optimizer=keras.optimizers.SGD(0.0), g_optimizer=keras.optimizers.SGD(0.0), d_steps=2)
    # 11 // 2 = 5 real images per D step; the 11th is left over. The two halves and the leftover differ
    # (dim, bright, saturated), so a D step on the other half, the whole batch or the leftover scores otherwise.
    x = np.concatenate([real_images(5) * 0.1, real_images(5, seed=1) * 0.1 + 0.8, np.ones((1, *SHAPE), "float32")])
    real_loss = {i: float(losses.discriminator_loss(gan.discriminator(x[i * 5:(i + 1) * 5]).numpy()[:, 0],
                                                    [-50.0])) for i in range(2)}
    assert abs(real_loss[0] - real_loss[1]) > 1e-3  # the halves are told apart
    logs = gan.train_step(tf.constant(x))
    fake_logits = gan.discriminator(gan.generator(FixedLatentGAN.table[:5], training=True)).numpy()[:, 0]
    expected = np.mean([
        float(losses.discriminator_loss(gan.discriminator(x[i * 5:(i + 1) * 5]).numpy()[:, 0], fake_logits))
        for i in range(2)])
    assert float(logs["d_loss"]) == pytest.approx(expected, rel=1e-5)
    whole = float(losses.discriminator_loss(gan.discriminator(x).numpy()[:, 0], fake_logits))
    assert float(logs["d_loss"]) != pytest.approx(whole, rel=1e-4)


def test_frozen_pass_draws_fresh_dropout_masks_and_changes_no_variable():
    """The G step's D pass uses new dropout noise, not the masks of D's next real pass, and no D state moves."""
    images = keras.Input(SHAPE)
    x = keras.layers.Dropout(0.5)(keras.layers.Flatten()(images))
    d = keras.Model(images, keras.layers.Dense(1, kernel_initializer="ones", use_bias=False)(x))
    gan = kgan.GAN(tiny_generator(), d, latent_dim=LATENT, seed=0)
    x = np.ones((64, *SHAPE), "float32")
    before = snapshot(d.variables)
    frozen = [gan.discriminate(x, training=True, frozen=True).numpy() for _ in range(2)]
    for old, new in zip(before, snapshot(d.variables)):
        np.testing.assert_array_equal(old, new)
    next_real = gan.discriminate(x, training=True).numpy()  # D's own next pass (advances its RNG)
    assert not np.allclose(frozen[0], next_real)  # fresh masks, not a copy of the next D pass
    np.testing.assert_array_equal(frozen[0], frozen[1])  # deterministic in D's state: no hidden RNG use
    after_real = gan.discriminate(x, training=True, frozen=True).numpy()
    assert not np.allclose(after_real, frozen[0])  # and they move on with D's RNG


def test_noise_is_seeded_and_fresh_each_step():
    a, b = (kgan.GAN(tiny_generator(), tiny_discriminator(), latent_dim=LATENT, seed=7) for _ in range(2))
    za1, za2, zb1 = a.sample_latents(4).numpy(), a.sample_latents(4).numpy(), b.sample_latents(4).numpy()
    np.testing.assert_array_equal(za1, zb1)
    assert not np.allclose(za1, za2)
    uniform = kgan.GAN(tiny_generator(), tiny_discriminator(), latent_dim=LATENT, latent_distribution="uniform")
    z = uniform.sample_latents(1000).numpy()
    assert z.min() >= -1 and z.max() <= 1 and z.std() == pytest.approx(1 / np.sqrt(3), rel=0.05)


def test_bad_configuration_is_rejected():
    g, d = tiny_generator(), tiny_discriminator()
    with pytest.raises(ValueError, match="latent_dim"):
        kgan.GAN(g, d, latent_dim=0)
    with pytest.raises(ValueError, match="discriminator output"):
        kgan.GAN(g, tiny_discriminator(units=3), latent_dim=LATENT)
    with pytest.raises(TypeError, match="generator must be a Keras"):
        kgan.GAN(lambda z: z, d, latent_dim=LATENT)
    gan = kgan.GAN(g, d, latent_dim=LATENT)
    opt = keras.optimizers.Adam()
    with pytest.raises(ValueError, match="two optimizer objects"):
        gan.compile(d_optimizer=opt, g_optimizer=opt)
    with pytest.raises(ValueError, match="d_steps"):
        gan.compile(d_optimizer="adam", g_optimizer="adam", d_steps=0)
    with pytest.raises(ValueError, match="generator_loss"):
        gan.compile(d_optimizer="adam", g_optimizer="adam", generator_loss="hinge")
    with pytest.raises(ValueError, match="label_smoothing"):
        gan.compile(d_optimizer="adam", g_optimizer="adam", label_smoothing=1.0)
    with pytest.raises(ValueError, match="Unknown loss 'mse'"):
        gan.compile(d_optimizer="adam", g_optimizer="adam", loss="mse")
    with pytest.raises(ValueError, match="does not take `metrics`"):
        gan.compile(d_optimizer="adam", g_optimizer="adam", metrics=["mse"])


def test_bad_images_are_rejected_with_the_fix():
    gan = make_gan()
    with pytest.raises(TypeError, match="127.5"):
        gan.fit(np.zeros((8, *SHAPE), "uint8"), batch_size=4, verbose=0)
    with pytest.raises(ValueError, match=r"generator makes images of shape \[N, 4, 4, 1\]"):
        gan.fit(np.zeros((8, 5, 5, 1), "float32"), batch_size=4, verbose=0)
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"\[-1, 1\]"):
        gan.fit(np.full((8, *SHAPE), 255.0, "float32"), batch_size=4, verbose=0)
    assert int(gan.d_optimizer.iterations) == 0  # no update ran on the bad batch
    gan3 = make_gan(d_steps=3)
    with pytest.raises(tf.errors.InvalidArgumentError, match="at least d_steps=3"):
        gan3.fit(real_images(2), batch_size=2, verbose=0)


def test_fit_accepts_labelled_batches_and_evaluate_works():
    gan = make_gan()
    labels = np.arange(8) % 2
    gan.fit(real_images(8), labels, batch_size=4, verbose=0)
    results = gan.evaluate(real_images(8), batch_size=4, verbose=0, return_dict=True)
    assert set(results) == {"d_loss", "g_loss", "d_real", "d_fake"}
    assert int(gan.d_optimizer.iterations) == 2  # evaluate did not train


def test_save_load_and_resume_custom_networks(tmp_path):
    gan = make_gan(optimizer=keras.optimizers.Adam, d_steps=2, generator_loss="minimax", label_smoothing=0.1)
    data = tf.data.Dataset.from_tensor_slices(real_images(16)).batch(8)
    gan.fit(data, epochs=1, verbose=0)
    path = tmp_path / "gan.keras"
    gan.save(path)
    loaded = keras.models.load_model(path)
    assert type(loaded) is kgan.GAN
    assert (loaded.d_steps, loaded.generator_loss, loaded.label_smoothing) == (2, "minimax", 0.1)
    dropout_rng = [v.path for v in gan.discriminator.variables if "seed_generator" in v.path]
    for a, b in zip(gan.variables, loaded.variables):
        if a.path not in dropout_rng:  # Keras does not save layers' RNG state
            np.testing.assert_array_equal(keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b), a.path)
    np.testing.assert_array_equal(gan.seed_generator.state.numpy(), loaded.seed_generator.state.numpy())
    assert loaded.seed_generator.state.numpy()[1] > 0  # the noise stream continues, not restarts
    for opt_name in ("d_optimizer", "g_optimizer"):
        saved, restored = getattr(gan, opt_name), getattr(loaded, opt_name)
        assert int(restored.iterations) == int(saved.iterations) > 0
        assert len(restored.variables) == len(saved.variables)
        for a, b in zip(saved.variables, restored.variables):
            np.testing.assert_array_equal(keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b))
    z = np.random.default_rng(0).normal(size=(3, LATENT)).astype("float32")
    np.testing.assert_array_equal(gan.predict(z, verbose=0), loaded.predict(z, verbose=0))
    loaded.fit(data, epochs=1, verbose=0)  # resumes: iteration counts carry on
    assert int(loaded.g_optimizer.iterations) == 4 and int(loaded.d_optimizer.iterations) == 8


def _all_state(gan):
    """Every variable a train step could touch but the metrics (which fit resets): weights, BN
    statistics, dropout RNG state, both optimizers, the noise state."""
    variables = list(gan.variables) + list(gan.d_optimizer.variables) + list(gan.g_optimizer.variables)
    variables += [gan.seed_generator.state]
    return [np.array(keras.ops.convert_to_numpy(v)) for v in variables]


@pytest.mark.parametrize("d_steps", [1, 2])
def test_out_of_range_batch_changes_no_state_at_all(d_steps):
    gan = make_gan(optimizer=keras.optimizers.Adam, d_steps=d_steps)
    gan.fit(real_images(8), batch_size=4, epochs=1, verbose=0)  # traced, every variable exists
    before = _all_state(gan)
    bad = real_images(4)
    bad[1] = 3.0
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"\[-1, 1\]"):
        gan.fit(bad, batch_size=4, epochs=1, verbose=0)
    after = _all_state(gan)
    assert len(before) == len(after)
    for old, new in zip(before, after):
        np.testing.assert_array_equal(old, new)


def test_wrong_image_shape_is_named_even_after_keras_relaxes_the_traced_shapes():
    gan = make_gan()
    for n in (8, 6, 5):  # other batch sizes: Keras retraces train_step with unknown dimensions
        gan.fit(real_images(n), batch_size=4, epochs=1, verbose=0)
    iterations = int(gan.d_optimizer.iterations)
    with pytest.raises((ValueError, tf.errors.InvalidArgumentError), match=r"shape \[N, 4, 4, 1\]"):
        gan.fit(np.zeros((8, 4, 4, 3), "float32"), batch_size=4, verbose=0)
    with pytest.raises((ValueError, tf.errors.InvalidArgumentError), match=r"shape \[N, 4, 4, 1\]"):
        gan.fit(np.zeros((6, 5, 4, 1), "float32"), batch_size=4, verbose=0)
    assert int(gan.d_optimizer.iterations) == iterations
