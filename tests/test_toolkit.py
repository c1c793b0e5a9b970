"""The training toolkit on the one update: objectives, penalties, spectral norm, EMA, DiffAugment."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import kgan
from kgan import augment, losses
from kgan.spectral_norm import SpectralNormalization, spectral_normalize

LATENT = 6
SHAPE = (8, 8, 1)
REAL = np.array([2.0, -0.5, 0.3, 1.5], np.float32)
FAKE = np.array([-1.2, 0.8, -3.0, 0.1], np.float32)


def as_softmax(logits, offset=0.6):
    return np.stack([np.full_like(logits, offset), logits + offset], axis=1)


def tiny_generator():
    z = keras.Input((LATENT,))
    x = keras.layers.Dense(32)(z)
    x = keras.layers.BatchNormalization()(x)
    x = keras.layers.Dense(64, activation="tanh")(x)
    return keras.Model(z, keras.layers.Reshape(SHAPE)(x))


def tiny_discriminator(units=1):
    images = keras.Input(SHAPE)
    x = keras.layers.Conv2D(4, 3, strides=2, padding="same")(images)
    x = keras.layers.BatchNormalization()(x)
    x = keras.layers.LeakyReLU(0.2)(x)
    x = keras.layers.Dropout(0.2)(keras.layers.Flatten()(x))
    return keras.Model(images, keras.layers.Dense(units)(x))


def make_gan(spectral_norm=False, units=1, **compile_kwargs):
    keras.utils.set_random_seed(1)
    d = tiny_discriminator(units)
    gan = kgan.GAN(tiny_generator(), spectral_normalize(d) if spectral_norm else d, latent_dim=LATENT, seed=3)
    gan.compile(d_optimizer=keras.optimizers.Adam(1e-2), g_optimizer=keras.optimizers.Adam(1e-2), **compile_kwargs)
    return gan


def real_images(n=16, seed=0):
    return np.random.default_rng(seed).uniform(-1, 1, (n, *SHAPE)).astype("float32")


def snapshot(variables):
    return [np.array(keras.ops.convert_to_numpy(v)) for v in variables]


# ---- objectives -------------------------------------------------------------------------

@pytest.mark.parametrize("head", ["single", "softmax"])
def test_objectives_match_reference_numbers(head):
    real, fake = (REAL, FAKE) if head == "single" else (as_softmax(REAL), as_softmax(FAKE))
    expected = {
        "hinge": (np.mean(np.maximum(0, 1 - REAL)) + np.mean(np.maximum(0, 1 + FAKE)), -np.mean(FAKE)),
        "least_squares": (0.5 * np.mean((REAL - 1) ** 2) + 0.5 * np.mean(FAKE ** 2), 0.5 * np.mean((FAKE - 1) ** 2)),
        "wasserstein": (np.mean(FAKE) - np.mean(REAL), -np.mean(FAKE)),
        "classic": (np.mean(np.logaddexp(0, -REAL)) + np.mean(np.logaddexp(0, FAKE)), np.mean(np.logaddexp(0, -FAKE))),
    }
    for name, (d_value, g_value) in expected.items():
        objective = losses.get_objective(name)
        assert float(objective.discriminator(real, fake)) == pytest.approx(d_value, rel=1e-5), name
        assert float(objective.generator(fake)) == pytest.approx(g_value, rel=1e-5), name
    # hand-computed: hinge D = mean(0, 1.5, 0.7, 0) + mean(0, 1.8, 0, 1.1) = 0.55 + 0.725
    assert float(losses.hinge_discriminator_loss(real, fake)) == pytest.approx(1.275, rel=1e-5)


def test_objective_choices_are_checked():
    with pytest.raises(ValueError, match="Unknown loss 'hinj'.*hinge"):
        losses.get_objective("hinj")
    with pytest.raises(ValueError, match="classic loss only"):
        losses.get_objective("hinge", generator_loss="minimax")
    with pytest.raises(ValueError, match="label_smoothing is a choice of the classic"):
        losses.get_objective("least_squares", label_smoothing=0.1)
    assert losses.get_objective("wasserstein").needs_lipschitz and not losses.get_objective("hinge").needs_lipschitz


def test_penalties_on_a_linear_critic():
    weights = tf.constant(np.random.default_rng(1).normal(size=(1, *SHAPE)).astype("float32"))

    def critic(x):
        return tf.reduce_sum(x * weights, axis=[1, 2, 3])

    norm = float(tf.norm(weights))
    x, y = real_images(4), real_images(4, seed=1)
    assert float(losses.gradient_penalty(critic, x, y, tf.constant([1, 2], tf.int64))) == pytest.approx(
        (norm - 1) ** 2, rel=1e-4)
    assert float(losses.r1_penalty(critic, x)) == pytest.approx(norm ** 2, rel=1e-4)
    # A critic flat in x has a zero gradient: the penalty is 1 and its own gradient stays finite.
    flat = tf.Variable(1.0)
    with tf.GradientTape() as tape:
        penalty = losses.gradient_penalty(lambda images: flat * tf.ones([tf.shape(images)[0]]), x, y,
                                          tf.constant([1, 2], tf.int64))
    assert float(penalty) == pytest.approx(1.0, abs=1e-5)
    gradient = tape.gradient(penalty, flat)
    assert gradient is None or np.isfinite(float(gradient))


def test_gradient_penalty_interpolates_per_example():
    seen = []

    def critic(images):
        seen.append(images)
        return tf.reduce_sum(images, axis=[1, 2, 3])

    real, fake = np.ones((6, *SHAPE), np.float32), -np.ones((6, *SHAPE), np.float32)
    losses.gradient_penalty(critic, real, fake, tf.constant([3, 4], tf.int64))
    mixed = seen[0].numpy()
    per_example = mixed.reshape(6, -1)
    assert np.allclose(per_example, per_example[:, :1])  # one weight per image
    assert len(np.unique(per_example[:, 0].round(5))) == 6 and np.all(np.abs(per_example) <= 1)


@pytest.mark.parametrize("options", [
    {"loss": "hinge"}, {"loss": "least_squares"}, {"loss": "wasserstein", "gradient_penalty": 10.0},
    {"loss": "wasserstein", "weight_clip": 0.01}, {"r1_gamma": 1.0, "r1_every": 2},
    {"augment": "translation,cutout,color"}, {"ema_decay": 0.9}, {"units": 2, "loss": "hinge"},
])
def test_every_option_trains_with_finite_losses(options):
    options = dict(options)
    gan = make_gan(units=options.pop("units", 1), **options)
    history = gan.fit(tf.data.Dataset.from_tensor_slices(real_images(32)).batch(8), epochs=1, verbose=0)
    for name, values in history.history.items():
        assert np.all(np.isfinite(values)), name
    assert int(gan.d_optimizer.iterations) == 4
    if "weight_clip" in options:
        assert max(float(np.max(np.abs(v))) for v in snapshot(gan.discriminator.trainable_variables)) <= 0.01 + 1e-7
    if options.get("r1_gamma") or options.get("gradient_penalty"):
        assert history.history["d_penalty"][0] > 0


def test_objective_is_the_one_the_step_minimizes():
    """One SGD step of a hinge GAN moves D's weights exactly along -grad of the hinge loss."""
    keras.utils.set_random_seed(2)
    images = keras.Input(SHAPE)
    d = keras.Model(images, keras.layers.Dense(1)(keras.layers.Flatten()(images)))

    class FixedLatentGAN(kgan.GAN):
        table = np.random.default_rng(5).normal(size=(8, LATENT)).astype("float32")

        def sample_latents(self, batch_size, seed=None):
            return tf.constant(self.table)[:batch_size]

    g = tiny_generator()
    gan = FixedLatentGAN(g, d, latent_dim=LATENT)
    gan.compile(d_optimizer=keras.optimizers.SGD(0.1), g_optimizer=keras.optimizers.SGD(0.1), loss="hinge",
                fused_adam=False)
    x = real_images(8)
    fake = g(FixedLatentGAN.table, training=True).numpy()
    kernel = d.trainable_variables[0].numpy()
    with tf.GradientTape() as tape:
        loss = losses.hinge_discriminator_loss(d(x), d(fake))
    expected = kernel - 0.1 * tape.gradient(loss, d.trainable_variables[0]).numpy()
    gan.fit(x, batch_size=8, epochs=1, verbose=0, shuffle=False)
    np.testing.assert_allclose(d.trainable_variables[0].numpy(), expected, rtol=1e-4, atol=1e-6)


def test_lazy_r1_is_applied_on_every_nth_d_step_only():
    gan = make_gan(r1_gamma=2.0, r1_every=3, run_eagerly=True)
    penalties = []
    for batch in tf.data.Dataset.from_tensor_slices(real_images(48)).batch(8):
        gan.penalty_tracker.reset_state()
        gan.train_step(batch)
        penalties.append(float(gan.penalty_tracker.result()))
    assert [p > 0 for p in penalties] == [True, False, False, True, False, False]


def test_bad_options_are_refused_before_any_work():
    gan = kgan.GAN(tiny_generator(), tiny_discriminator(), latent_dim=LATENT)
    cases = [
        ({"loss": "wasserstein"}, "needs a Lipschitz critic.*gradient_penalty.*weight_clip"),
        ({"gradient_penalty": -1.0}, "gradient_penalty must be a number >= 0"),
        ({"r1_gamma": -0.5}, "r1_gamma must be a number >= 0"),
        ({"r1_every": 0}, "r1_every"),
        ({"weight_clip": 0.0}, "weight_clip must be > 0"),
        ({"ema_decay": 1.0}, r"ema_decay must be in \[0, 1\)"),
        ({"ema_decay": -0.1}, r"ema_decay must be in \[0, 1\)"),
        ({"ema_start": -3}, "ema_start"),
        ({"augment": "translation,flip"}, "Unknown augmentation 'flip'.*color, translation, cutout"),
        ({"augment": "color,color"}, "twice"),
    ]
    for kwargs, message in cases:
        with pytest.raises(ValueError, match=message):
            gan.compile(d_optimizer="adam", g_optimizer="adam", **kwargs)
    assert not gan.compiled


# ---- the frozen D with every option on ------------------------------------------------

def test_no_d_variable_changes_in_the_g_step_with_every_option_on():
    gan = make_gan(spectral_norm=True, loss="hinge", r1_gamma=1.0, gradient_penalty=1.0, ema_decay=0.5,
                   augment="translation,cutout,color")
    gan.fit(tf.data.Dataset.from_tensor_slices(real_images(16)).batch(8), epochs=1, verbose=0)
    d = gan.discriminator
    assert any("vector_u" in v.path for v in d.variables)  # the power-iteration vectors are covered
    latents = gan.sample_latents(8)
    with tf.GradientTape() as tape:
        fake = gan.generator(latents, training=True)
    before = snapshot(d.variables)
    gan.generator_update(tape, fake, latents)
    for old, new, variable in zip(before, snapshot(d.variables), d.variables):
        np.testing.assert_array_equal(old, new, err_msg=variable.path)
    # Control: a training-mode D pass does move them (u included).
    d(fake, training=True)
    moved = [v.path for old, new, v in zip(before, snapshot(d.variables), d.variables) if not np.array_equal(old, new)]
    assert any("vector_u" in path for path in moved)


# ---- spectral normalization -------------------------------------------------------------

def test_spectral_norm_divides_by_the_largest_singular_value():
    keras.utils.set_random_seed(0)
    plain = tiny_discriminator()
    d = spectral_normalize(plain)
    wrappers = [layer for layer in d.layers if isinstance(layer, SpectralNormalization)]
    assert [w.name for w in wrappers] == [layer.name for layer in plain.layers
                                          if isinstance(layer, (keras.layers.Conv2D, keras.layers.Dense))]
    x = real_images(4)
    for _ in range(50):  # power iteration converges
        d(x, training=True)
    for wrapper in wrappers:
        kernel = wrapper.layer.kernel.numpy()
        largest = np.linalg.svd(kernel.reshape(-1, kernel.shape[-1]), compute_uv=False)[0]
        assert float(wrapper.spectral_norm()[0]) == pytest.approx(largest, rel=1e-3)
    # The layer runs with kernel / sigma: a wrapped Dense equals the plain op on the normalized kernel.
    dense = wrappers[-1]
    features = np.random.default_rng(0).normal(size=(3, dense.layer.kernel.shape[0])).astype("float32")
    sigma = float(dense.spectral_norm()[0])
    expected = features @ (dense.layer.kernel.numpy() / sigma) + dense.layer.bias.numpy()
    np.testing.assert_allclose(dense(features).numpy(), expected, rtol=1e-4, atol=1e-5)
    # The gradient reaches the kernel through sigma (not a projection): it differs from the plain layer's.
    with tf.GradientTape() as tape:
        out = tf.reduce_sum(dense(features))
    grad = tape.gradient(out, dense.layer.kernel).numpy()
    # One output unit: sigma = ||w|| exactly, so d/dw sum(x.w / ||w||) = x/||w|| - (x.w) w / ||w||^3.
    w, s = dense.layer.kernel.numpy(), features.sum(0)[:, None]
    np.testing.assert_allclose(grad, s / sigma - (s * w).sum() * w / sigma ** 3, rtol=1e-3, atol=1e-5)


def test_spectral_normalize_refuses_what_it_cannot_wrap():
    images = keras.Input(SHAPE)
    pooled = keras.Model(images, keras.layers.GlobalAveragePooling2D()(images))
    with pytest.raises(ValueError, match="no conv or dense layers"):
        spectral_normalize(pooled)
    with pytest.raises(ValueError, match="already spectrally normalized"):
        spectral_normalize(spectral_normalize(tiny_discriminator()))

    class Subclassed(keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = keras.layers.Dense(1)

        def call(self, x):
            return self.dense(keras.ops.reshape(x, (-1, 64)))

    with pytest.raises(ValueError, match="subclassed"):
        spectral_normalize(Subclassed())


def test_spectral_norm_saves_and_loads(tmp_path):
    gan = make_gan(spectral_norm=True)
    gan.fit(real_images(16), batch_size=8, epochs=1, verbose=0)
    gan.save(tmp_path / "sn.keras")
    loaded = keras.saving.load_model(tmp_path / "sn.keras")
    for a, b in zip(snapshot(gan.discriminator.variables), snapshot(loaded.discriminator.variables)):
        np.testing.assert_array_equal(a, b)
    x = real_images(4)
    np.testing.assert_array_equal(gan.discriminate(x).numpy(), loaded.discriminate(x).numpy())
    assert loaded.training_options["spectral_norm"]


# ---- EMA generator ----------------------------------------------------------------------

def test_ema_is_the_running_average_of_g_and_samples_use_it():
    gan = make_gan(ema_decay=0.75, ema_start=1, run_eagerly=True)
    g, ema = gan.generator, gan.ema_generator
    assert not ema.trainable_variables and all(v.trainable for v in g.trainable_variables)
    expected = snapshot(g.variables)
    batches = list(tf.data.Dataset.from_tensor_slices(real_images(24)).batch(8))
    for step, batch in enumerate(batches, start=1):
        gan.train_step(batch)
        decay = 0.0 if step <= 1 else 0.75  # ema_start=1: the first G step copies
        expected = [decay * e + (1 - decay) * v for e, v in zip(expected, snapshot(g.variables))]
    for average, want, variable in zip(snapshot(ema.variables), expected, ema.variables):
        np.testing.assert_allclose(average, want, rtol=1e-5, atol=1e-6, err_msg=variable.path)
    assert any("moving" in v.path for v in ema.variables)  # BatchNorm statistics averaged too
    assert not np.allclose(snapshot(ema.variables)[0], snapshot(g.variables)[0])
    z = gan.sample_latents(5, seed=0)
    np.testing.assert_array_equal(gan.generate_from(z), ema(z, training=False).numpy())
    np.testing.assert_array_equal(gan(z).numpy(), ema(z, training=False).numpy())
    assert not np.allclose(gan.generate_from(z), g(z, training=False).numpy())


def test_ema_saves_loads_and_resumes_bit_identically(tmp_path):
    data = tf.data.Dataset.from_tensor_slices(real_images(32)).batch(8)
    straight = make_gan(ema_decay=0.9, augment="translation")
    straight.fit(data, epochs=2, verbose=0, shuffle=False)

    first = make_gan(ema_decay=0.9, augment="translation")
    first.fit(data, epochs=1, verbose=0, shuffle=False)
    first.save(tmp_path / "half.keras")
    resumed = keras.saving.load_model(tmp_path / "half.keras")
    assert resumed.ema_decay == 0.9 and resumed.augment == ("translation",)
    np.testing.assert_array_equal(snapshot(resumed.ema_generator.variables)[0],
                                  snapshot(first.ema_generator.variables)[0])
    resumed.fit(data, epochs=1, verbose=0, shuffle=False)
    for a, b, v in zip(snapshot(straight.ema_generator.variables), snapshot(resumed.ema_generator.variables),
                       straight.ema_generator.variables):
        np.testing.assert_array_equal(a, b, err_msg=v.path)
    for a, b in zip(snapshot(straight.discriminator.variables), snapshot(resumed.discriminator.variables)):
        np.testing.assert_array_equal(a, b)


# ---- DiffAugment ------------------------------------------------------------------------

def test_diff_augment_is_seeded_differentiable_and_shaped_like_the_paper():
    images = tf.constant(real_images(8))
    seed = tf.constant([4, 5], tf.int64)
    policy = "color,translation,cutout"
    first = augment.diff_augment(images, policy, seed).numpy()
    np.testing.assert_array_equal(first, augment.diff_augment(images, policy, seed).numpy())
    assert not np.allclose(first, augment.diff_augment(images, policy, tf.constant([4, 6], tf.int64)).numpy())
    assert augment.diff_augment(images, "", seed) is images
    with tf.GradientTape() as tape:
        tape.watch(images)
        out = tf.reduce_sum(augment.diff_augment(images, policy, seed))
    assert np.any(tape.gradient(out, images).numpy() != 0)

    ones = tf.ones((64, 16, 16, 1))
    cut = augment.cutout(ones, seed).numpy()
    zeros = (cut == 0).reshape(64, -1).sum(1)
    assert zeros.max() == 8 * 8 and zeros.min() > 0  # a half-side square, clipped at the borders
    dot = np.zeros((64, 16, 16, 1), np.float32)
    dot[:, 8, 8] = 1.0
    moved = augment.translation(tf.constant(dot), seed).numpy()
    rows, cols = np.nonzero(moved[..., 0].max(0))
    shifts = [np.argwhere(m[..., 0] == 1)[0] - 8 for m in moved]
    assert np.abs(shifts).max() == 2 and moved.sum() == 64  # up to 1/8 of 16 px, nothing lost
    assert len({tuple(s) for s in shifts}) > 5 and rows.size and cols.size
    gray = augment.color(tf.zeros((4, 4, 4, 1)), seed).numpy()
    assert np.ptp(gray.reshape(4, -1), axis=1).max() < 1e-6 and np.all(np.abs(gray) <= 0.5)  # brightness only


def test_augmentation_is_drawn_from_the_model_noise_stream():
    """Same seed, same run; the augmentation changes what D sees (so D's weights differ)."""
    data = tf.data.Dataset.from_tensor_slices(real_images(16)).batch(8)
    runs = []
    for policy in ("translation,color", "translation,color", None):
        gan = make_gan(augment=policy)
        gan.fit(data, epochs=1, verbose=0, shuffle=False)
        runs.append(snapshot(gan.discriminator.trainable_variables))
    for a, b in zip(runs[0], runs[1]):
        np.testing.assert_array_equal(a, b)
    assert any(not np.allclose(a, c) for a, c in zip(runs[0], runs[2]))


# ---- conditioning variants and the families' options --------------------------------------

def tiny_cgan(conditioning, head="sigmoid", **kwargs):
    keras.utils.set_random_seed(4)
    return kgan.ConditionalDCGAN(image_shape=(28, 28, 1), num_classes=10, latent_dim=8, head=head,
                                 generator_filters=4, discriminator_filters=4, conditioning=conditioning, seed=1,
                                 **kwargs)


def labelled(n=16):
    return np.random.default_rng(3).uniform(-1, 1, (n, 28, 28, 1)).astype("float32"), np.arange(n) % 10


@pytest.mark.parametrize("conditioning,head", [("concat", "sigmoid"), ("projection", "sigmoid"),
                                               ("projection", "softmax"), ("acgan", "sigmoid")])
def test_conditioning_variants_train_save_load_and_keep_the_label_contract(tmp_path, conditioning, head):
    gan = tiny_cgan(conditioning, head)
    d = gan.discriminator
    spec = [s for s in gan.contract.inputs if s.name == "label"][0]
    assert spec.role == "class" and spec.conditions_discriminator == (conditioning != "acgan")
    assert [tuple(i.shape[1:]) for i in d.inputs] == ([(28, 28, 1)] if conditioning == "acgan"
                                                      else [(28, 28, 1), (10,)])
    assert ("image_label" in [layer.name for layer in d.layers]) == (conditioning == "concat")
    gan.compile(d_optimizer=keras.optimizers.Adam(1e-3), g_optimizer=keras.optimizers.Adam(1e-3))
    images, labels = labelled()
    history = gan.fit(images, labels, batch_size=8, epochs=1, verbose=0)
    assert ("class_real" in history.history) == (conditioning == "acgan")
    gan.save(tmp_path / "c.keras")
    loaded = keras.saving.load_model(tmp_path / "c.keras")
    assert loaded.conditioning == conditioning
    np.testing.assert_array_equal(loaded.generate(labels=[7, 3], seed=0), gan.generate(labels=[7, 3], seed=0))
    sampled = kgan.load(loaded).sample(4, seed=0, label=[1, 2, 3, 4])
    np.testing.assert_array_equal(sampled["label"], [1, 2, 3, 4])


def test_projection_term_is_the_class_embedding_dotted_with_the_features():
    layer = kgan.models.dcgan.ClassProjection(two_way=True)
    features = np.random.default_rng(0).normal(size=(3, 5)).astype("float32")
    labels = np.eye(4, dtype="float32")[[0, 2, 3]]
    out = layer([features, labels]).numpy()
    embed = layer.kernel.numpy()
    np.testing.assert_allclose(out[:, 1], (features * embed[[0, 2, 3]]).sum(1), rtol=1e-5)
    np.testing.assert_array_equal(out[:, 0], 0.0)  # adds to the softmax head's real logit only
    assert float(losses.real_logit(out)[0]) == pytest.approx(float(out[0, 1]))


def test_acgan_adds_its_class_losses_to_d_and_g():
    gan = tiny_cgan("acgan", class_weight=0.5)
    images, labels = labelled(8)
    real_aux = np.random.default_rng(1).normal(size=(8, 10)).astype("float32")
    one_hot = np.eye(10, dtype="float32")[labels]
    expected = 0.5 * np.mean(-np.sum(one_hot * (real_aux - np.log(np.exp(real_aux).sum(1, keepdims=True))), 1))
    assert float(gan.real_auxiliary_loss(real_aux, one_hot)) == pytest.approx(expected, rel=1e-5)
    latents = gan.sample_latents(8, seed=0, labels=labels)
    assert float(gan.auxiliary_loss(real_aux, latents, discriminator_step=False)) == pytest.approx(expected, rel=1e-5)
    # An AC-GAN's D never receives the label.
    assert gan.discriminator_inputs(images, one_hot) is images
    with pytest.raises(ValueError, match="conditioning must be one of"):
        tiny_cgan("film")


def test_every_family_takes_spectral_norm_and_reloads_it(tmp_path):
    models = [kgan.DCGAN(image_shape=(16, 16, 1), generator_filters=4, discriminator_filters=4, spectral_norm=True),
              kgan.VanillaGAN(image_shape=(8, 8, 1), generator_units=(8,), discriminator_units=(4,),
                              spectral_norm=True),
              kgan.ConvInfoGAN(image_shape=(8, 8, 1), latent_dim=4, spectral_norm=True),
              tiny_cgan("projection", spectral_norm=True)]
    for gan in models:
        wrapped = [layer for layer in gan.discriminator.layers if isinstance(layer, SpectralNormalization)]
        assert wrapped and gan.training_options["spectral_norm"], gan.family
        gan.save(tmp_path / f"{gan.family}.keras")
        loaded = keras.saving.load_model(tmp_path / f"{gan.family}.keras")
        assert loaded.training_options["spectral_norm"]
        probe = np.zeros((2, *gan.image_shape), np.float32)
        conditions = gan.fake_conditions(gan.sample_latents(2, seed=0))
        np.testing.assert_array_equal(gan.discriminate(probe, conditions)[0] if gan.family == "infogan" else
                                      gan.discriminate(probe, conditions),
                                      loaded.discriminate(probe, conditions)[0] if gan.family == "infogan" else
                                      loaded.discriminate(probe, conditions))
    # The DCGAN's features (SVM) still find its conv layers behind the wrappers.
    assert kgan.features.discriminator_features(models[0]).output.shape[-1] > 0


@pytest.mark.parametrize("conditioning", ["projection", "acgan"])
def test_conditioning_variants_export_and_score_label_accuracy(tmp_path, mnist_data_dir, conditioning):
    from kgan import evaluation
    from kgan.serving import saved_model

    gan = tiny_cgan(conditioning)
    gan.compile(d_optimizer="adam", g_optimizer="adam", ema_decay=0.5)
    gan.fit(*labelled(8), batch_size=8, epochs=1, verbose=0)
    path = saved_model.export_saved_model(gan, str(tmp_path / "exports"), "cgan")
    exported = kgan.load(path)
    assert exported.metadata["conditioning"] == conditioning and exported.metadata["generator"] == "ema"
    assert exported.metadata["training_options"]["ema_decay"] == 0.5
    drawn = exported.sample(3, seed=0, label=[7, 7, 1])
    latents = gan.sample_latents(3, seed=0, labels=[7, 7, 1])
    z = latents[0].numpy()
    np.testing.assert_allclose(drawn["z"], z, atol=1e-6)
    np.testing.assert_allclose(drawn["images"], gan.ema_generator(latents, training=False).numpy(), atol=1e-4)
    assert not np.allclose(drawn["images"], gan.generator(latents, training=False).numpy(), atol=1e-4)
    scores = evaluation.evaluate(path, num_samples=20, data_dir=mnist_data_dir)
    assert 0.0 <= scores["label_accuracy"]["value"] <= 1.0 and scores["label_accuracy"]["num_samples"] == 20
