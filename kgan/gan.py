"""`GAN`: the alternating adversarial update that every kgan model reuses.

The update (Goodfellow et al. 2014, Algorithm 1), one `fit` batch per call:

1. The batch of ``B`` real images is split into ``k = d_steps`` consecutive
   sub-batches of ``m = B // k`` images (the ``B % k`` left over are unused).
   For each sub-batch, D takes one optimizer step on
   ``-(log D(x) + log(1 - D(G(z))))``: the real sub-batch and ``m`` freshly
   generated images, each a separate forward pass through D (as in the DCGAN
   reference code, so BatchNorm never mixes real and fake statistics).
2. G then takes one optimizer step on the fakes of the last D step, scored by
   the *updated* D. G's forward pass for those fakes is recorded once and
   reused (as the PyTorch DCGAN example does), so G runs forward k times per
   batch, not k + 1.

So D's optimizer iterates exactly k times per G iteration. During G's step D
is frozen: it runs in training mode (batch statistics, dropout: the same
function D was trained as) through `keras.Model.stateless_call`, whose state
updates are discarded, so no D variable (weights, BatchNorm moving statistics,
RNG state) changes; its dropout masks are fresh (seeds folded from D's own), not
the masks of D's next real pass. ``D(fake, training=True)`` would move the moving
statistics; ``training=False`` or ``trainable=False`` would switch BatchNorm to
its moving averages, a different function from the one D is trained as.

A family describes itself through its hooks: ``latent_inputs`` (the
generator's named inputs, see `kgan.contract`), ``family_name`` and
``contract_metadata``; ``gan.contract`` is what serving, evaluation and the
latent tools read.
"""

import inspect

import keras
import numpy as np
import tensorflow as tf

from kgan import augment as augment_lib
from kgan import fused_adam, losses, preset
from kgan.checks import after_checks, check_non_negative, check_positive_int, fresh_seed
from kgan.contract import Contract, conditions_of, noise, pack
from kgan.spectral_norm import SpectralNormalization

LATENT_DISTRIBUTIONS = ("normal", "uniform")
_NOISE_STATE_KEY = "noise_seed_state"
_LAYER_SEED_KEY = "layer_seed_state_"
_PROBE_BATCH = 16  # latents G and D are built and checked on
_RANGE_TOLERANCE = 1e-3
_GENERATE_BATCH = 256  # rows per generator call in generate(): memory stays bounded for any count
# Folded into D's dropout seeds for its frozen pass in the G step: fresh masks, no D state change.
_FROZEN_PASS_STREAM = 0x6B67616E


@keras.saving.register_keras_serializable(package="kgan")
class GAN(keras.Model):
    """A GAN from any generator and discriminator, trained with `fit`.

    ``gan(z)`` (and ``gan.predict(z)``) runs the generator.

    Args:
      generator: a Keras model mapping ``[N, latent_dim]`` latents to images in
        [-1, 1] (e.g. a tanh output).
      discriminator: a Keras model mapping images to logits: ``[N]`` or
        ``[N, 1]`` (sigmoid head) or ``[N, 2]`` (softmax head, index 1 = real).
        Apply no sigmoid/softmax in the model: the losses take logits.
      latent_dim: size of z.
      latent_distribution: "normal" (N(0, 1)) or "uniform" (U[-1, 1]).
      seed: seed of the latent-noise generator (None: random).
      **kwargs: passed to `keras.Model` (e.g. ``name``).
    """

    family_name = None  # a family's name; None: "dcgan" if D has Conv2D layers, else "gan"

    def __init__(self, generator, discriminator, latent_dim, latent_distribution="normal",
                 seed=None, **kwargs):
        super().__init__(**kwargs)
        check_positive_int("latent_dim", latent_dim)
        if latent_distribution not in LATENT_DISTRIBUTIONS:
            raise ValueError(
                f"latent_distribution must be one of {LATENT_DISTRIBUTIONS}, "
                f"got {latent_distribution!r}."
            )
        for role, net in (("generator", generator), ("discriminator", discriminator)):
            if not isinstance(net, keras.layers.Layer):
                raise TypeError(f"{role} must be a Keras model or layer, got {type(net).__name__}.")
        self.generator = generator
        self.discriminator = discriminator
        self.latent_dim = latent_dim
        self.latent_distribution = latent_distribution
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self._d_call_takes_training = "training" in inspect.signature(discriminator.call).parameters
        self._inputs = tuple(self.latent_inputs())
        self.image_shape = self._build_networks()
        self._contract = Contract(self.family, self.image_shape, self._inputs, self._has_conv_features(),
                                  dict(self.contract_metadata()))
        self.built = True

        self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.g_loss_tracker = keras.metrics.Mean(name="g_loss")
        self.d_real_tracker = keras.metrics.Mean(name="d_real")  # mean D(x)
        self.d_fake_tracker = keras.metrics.Mean(name="d_fake")  # mean D(G(z))
        self.penalty_tracker = keras.metrics.Mean(name="d_penalty")  # reported when a penalty is on
        self.d_steps = 1
        self.loss = "classic"
        self.label_smoothing = 0.0
        self.generator_loss = "non_saturating"
        self.objective = losses.get_objective()
        self.gradient_penalty = 0.0
        self.r1_gamma = 0.0
        self.r1_every = 1
        self.weight_clip = None
        self.ema_decay = None
        self.ema_start = 0
        self.ema_generator = None
        self.augment = ()
        self.fused_adam = True

    # ---- the family's description ---------------------------------------------

    def latent_inputs(self):
        """The generator's named inputs, in the order of its latents (families add theirs after z).

        Returns:
          A sequence of `kgan.contract.LatentInput`; the first is z.
        """
        return (noise("z", self.latent_dim, self.latent_distribution),)

    def contract_metadata(self):
        """Family keys for export metadata (e.g. ``{"num_classes": 10}``)."""
        return {}

    @property
    def family(self):
        """The family's name, as exports and tools report it."""
        if self.family_name:
            return self.family_name
        return "dcgan" if self._has_conv_layers() else "gan"

    @property
    def contract(self):
        """The `kgan.contract.Contract` that serving, evaluation and the latent tools read."""
        return self._contract

    @property
    def conditional(self):
        """Whether `fit` takes ``(images, labels)``: the family has a class label input."""
        return any(spec.role == "class" for spec in self._inputs)

    def _has_conv_layers(self):
        return self._discriminator_has(keras.layers.Conv2D)

    def _has_conv_features(self):
        """The DCGAN paper's pooled conv features exist for a D of images alone -> one output with Conv2D layers."""
        d = self.discriminator
        if not isinstance(d, keras.Model) or len(d.inputs) != 1 or len(d.outputs) != 1:
            return False
        return self._has_conv_layers()

    # ---- hooks that model families override -------------------------------

    def sample_latents(self, batch_size, seed=None, **values):
        """Draws generator inputs.

        Args:
          batch_size: number of latents (int or scalar tensor).
          seed: None to draw from the model's noise SeedGenerator (advancing
            it), or an int / SeedGenerator for reproducible draws.
          **values: chosen serving values by input name (e.g. ``label=[3, 3]``),
            used instead of drawing them.

        Returns:
          The generator's input: z ``[batch_size, latent_dim]``, or a list of
          every input's latent (ids one-hot encoded) for families with more.
        """
        unknown = sorted(set(values) - {spec.name for spec in self._inputs})
        if unknown:
            raise ValueError(f"Unknown latent inputs {unknown}; this model takes "
                             f"{[spec.name for spec in self._inputs]}.")
        seed = keras.random.SeedGenerator(seed) if isinstance(seed, int) else seed
        latents = []
        for spec in self._inputs:
            value = values.get(spec.name)
            if value is None:
                value = spec.draw(batch_size, self.stateless_seed(seed))
            latents.append(spec.encode(value))
        return pack(latents)

    def discriminator_inputs(self, images, conditions=None):
        """Builds D's input from images and its conditions (None: images alone)."""
        if conditions is None:
            return images
        return [images, *(conditions if isinstance(conditions, (list, tuple)) else [conditions])]

    def fake_conditions(self, latents):
        """What D is conditioned on for generated images: the latents of the inputs marked
        ``conditions_discriminator`` (None: an unconditional D)."""
        return conditions_of(self._inputs, latents)

    def unpack_batch(self, data):
        """Splits a `fit` batch into (real images, real conditions).

        The unconditional GAN accepts ``images`` or ``(images, labels, ...)``
        and ignores everything but the images.
        """
        if isinstance(data, (tuple, list)):
            data = data[0]
        refuse_dict(data)
        return data, None

    def grid_shape(self, grid_size):
        """(rows, cols) of the per-epoch sample grid for a ``--grid_size``."""
        return grid_size, grid_size

    def grid_latents(self, rows, cols, seed=0):
        """Generator inputs for a ``rows x cols`` sample grid from a fixed seed."""
        return self.sample_latents(rows * cols, seed=seed)

    def split_discriminator_outputs(self, outputs):
        """Returns (adversarial logits, auxiliary outputs or None) from D's outputs."""
        return outputs, None

    def auxiliary_loss(self, fake_aux, latents, discriminator_step):
        """An extra loss on D's auxiliary outputs for generated images.

        Added to D's loss in the D step and to G's loss in the G step (e.g.
        InfoGAN's mutual-information term). None means no extra term.

        Args:
          fake_aux: D's auxiliary outputs on the generated images.
          latents: the generator inputs of those images.
          discriminator_step: True in the D step (where metrics are updated).
        """
        return None

    def real_auxiliary_loss(self, real_aux, real_conditions):
        """An extra loss on D's auxiliary outputs for real images, added to D's loss in the D step
        (e.g. AC-GAN's class loss on real data). None means no extra term."""
        return None

    # ---- the shared adversarial update --------------------------------------

    def compile(self, d_optimizer, g_optimizer, generator_loss="non_saturating", d_steps=1,
                label_smoothing=0.0, fused_adam=True, loss="classic", gradient_penalty=0.0, r1_gamma=0.0,
                r1_every=1, weight_clip=None, ema_decay=None, ema_start=0, augment=None, **kwargs):
        """Configures the adversarial update and its options (all off by default: the classic algorithm).

        Args:
          d_optimizer: Keras optimizer (or identifier) for the discriminator.
          g_optimizer: Keras optimizer (or identifier) for the generator; must be
            a different object from ``d_optimizer``.
          generator_loss: the classic loss's G loss: "non_saturating" (``-log D(G(z))``)
            or "minimax" (``log(1 - D(G(z)))``).
          d_steps: k, the discriminator updates per generator update.
          label_smoothing: one-sided label smoothing (Salimans et al. 2016) in [0, 1) of the
            classic loss: D's real target is ``1 - label_smoothing``, the fake target stays 0.
          fused_adam: apply plain `keras.optimizers.Adam` steps with TF's fused
            Adam kernel (same update, ~2% faster DCGAN steps on CPU; it forms
            ``1 - beta`` in float32, Keras in float64). See `kgan.fused_adam`.
          loss: the objective, "classic", "hinge", "least_squares" or "wasserstein"
            (the last needs ``gradient_penalty`` or ``weight_clip``); see `kgan.losses`.
          gradient_penalty: lambda of the WGAN-GP penalty on real/fake interpolates (0: off).
          r1_gamma: gamma of the R1 penalty ``gamma / 2 * E||grad D(x)||^2`` on real data (0: off).
          r1_every: apply R1 every N D steps only, scaled by N (lazy regularization, StyleGAN2).
          weight_clip: clip every D weight to [-c, c] after each D step (WGAN; None: off).
          ema_decay: keep an exponential moving average of G's weights with this decay in
            [0, 1), updated after every G step (None: off). When on, ``gan(z)``, `generate`,
            sample grids, evaluation and exports use it (`inference_generator`).
          ema_start: G steps during which the average just copies G (a warm-up).
          augment: DiffAugment policy applied to every image D sees, e.g.
            "translation,cutout,color" (None: off); see `kgan.augment`.
          **kwargs: passed to `keras.Model.compile` (e.g. ``jit_compile``,
            ``steps_per_execution``); no ``loss``/``optimizer``.
        """
        objective = losses.get_objective(loss, generator_loss, label_smoothing)
        check_positive_int("d_steps", d_steps)
        if isinstance(label_smoothing, bool) or not 0.0 <= float(label_smoothing) < 1.0:
            raise ValueError(f"label_smoothing must be a float in [0, 1), got {label_smoothing!r}.")
        if not isinstance(fused_adam, bool):
            raise ValueError(f"fused_adam must be True or False, got {fused_adam!r}.")
        gradient_penalty = check_non_negative("gradient_penalty", gradient_penalty)
        r1_gamma = check_non_negative("r1_gamma", r1_gamma)
        check_positive_int("r1_every", r1_every)
        if weight_clip is not None and not check_non_negative("weight_clip", weight_clip) > 0:
            raise ValueError(f"weight_clip must be > 0 (or None: off), got {weight_clip!r}.")
        if objective.needs_lipschitz and not (gradient_penalty or weight_clip):
            raise ValueError("loss='wasserstein' needs a Lipschitz critic: pass gradient_penalty (e.g. 10, WGAN-GP) "
                             "or weight_clip (e.g. 0.01, the original WGAN).")
        if ema_decay is not None and (isinstance(ema_decay, bool) or not 0.0 <= float(ema_decay) < 1.0):
            raise ValueError(f"ema_decay must be in [0, 1) (e.g. 0.999), or None for no average; got {ema_decay!r}.")
        if isinstance(ema_start, bool) or not isinstance(ema_start, (int, np.integer)) or ema_start < 0:
            raise ValueError(f"ema_start must be an int >= 0 (G steps before averaging starts), got {ema_start!r}.")
        augment = augment_lib.parse_policy(augment)
        for key in ("optimizer", "metrics"):
            if key in kwargs:
                raise ValueError(
                    f"GAN.compile() does not take `{key}`: the adversarial losses, both "
                    "optimizers and the metrics are set by the GAN itself."
                )
        d_optimizer = keras.optimizers.get(d_optimizer)
        g_optimizer = keras.optimizers.get(g_optimizer)
        if d_optimizer is None or g_optimizer is None:
            raise ValueError("Both d_optimizer and g_optimizer are required.")
        if d_optimizer is g_optimizer:
            raise ValueError(
                "d_optimizer and g_optimizer must be two optimizer objects: one optimizer "
                "cannot hold the state of both networks."
            )
        if any(_computes_in_float16(network) for network in (self.generator, self.discriminator)):
            d_optimizer = _loss_scaled(d_optimizer)
            g_optimizer = _loss_scaled(g_optimizer)
        super().compile(optimizer=None, **kwargs)
        self.d_optimizer = d_optimizer
        self.g_optimizer = g_optimizer
        self.loss = loss
        self.objective = objective
        self.generator_loss = generator_loss
        self.d_steps = d_steps
        self.label_smoothing = float(label_smoothing)
        self.fused_adam = fused_adam
        self.gradient_penalty, self.r1_gamma, self.r1_every = gradient_penalty, r1_gamma, int(r1_every)
        self.weight_clip = None if weight_clip is None else float(weight_clip)
        self.ema_decay = None if ema_decay is None else float(ema_decay)
        self.ema_start = int(ema_start)
        self.augment = augment
        if self.ema_decay is not None:
            self.build_ema_generator()
        # Built now (not lazily inside the first traced step) so that a loaded
        # model can restore the optimizers' state.
        self.d_optimizer.build(self.discriminator.trainable_variables)
        self.g_optimizer.build(self.generator.trainable_variables)

    def get_compile_config(self):
        if not self.compiled:
            return None
        return {
            "d_optimizer": keras.saving.serialize_keras_object(self.d_optimizer),
            "g_optimizer": keras.saving.serialize_keras_object(self.g_optimizer),
            "fused_adam": self.fused_adam,
            **self._update_options(),
        }

    def _update_options(self):
        """The `compile` options of the adversarial update itself (no optimizers)."""
        return {"loss": self.loss, "generator_loss": self.generator_loss, "d_steps": self.d_steps,
                "label_smoothing": self.label_smoothing, "gradient_penalty": self.gradient_penalty,
                "r1_gamma": self.r1_gamma, "r1_every": self.r1_every, "weight_clip": self.weight_clip,
                "ema_decay": self.ema_decay, "ema_start": self.ema_start, "augment": list(self.augment)}

    def compile_from_config(self, config):
        config = dict(config)
        for key in ("d_optimizer", "g_optimizer"):
            config[key] = keras.saving.deserialize_keras_object(config[key])
        self.compile(**config)

    def build_ema_generator(self):
        """Creates the EMA generator (a non-trainable copy of G with G's current weights) if there is none.

        `compile` calls it when ``ema_decay`` is set; `from_config` when the saved model had one.
        """
        if self.ema_generator is None:
            self.ema_generator = _averaged_copy(self.generator)
        return self.ema_generator

    @property
    def inference_generator(self):
        """The generator that samples: the EMA generator when ``ema_decay`` is set, else G itself."""
        return self.ema_generator if self.ema_generator is not None else self.generator

    @property
    def training_options(self):
        """The options of the update that exports and run records report (objective, penalties, EMA, augment)."""
        return {**self._update_options(), "spectral_norm": self._discriminator_has(SpectralNormalization)}

    def _discriminator_has(self, layer_type):
        layers = self.discriminator._flatten_layers(include_self=False)  # pylint: disable=protected-access
        return any(isinstance(layer, layer_type) for layer in layers)

    @property
    def metrics(self):
        trackers = [self.d_loss_tracker, self.g_loss_tracker, self.d_real_tracker, self.d_fake_tracker]
        return trackers + ([self.penalty_tracker] if self._penalized else [])

    @property
    def _penalized(self):
        return bool(self.gradient_penalty or self.r1_gamma)

    def call(self, inputs, training=False):
        return self.inference_generator(inputs, training=training)

    def discriminate(self, images, conditions=None, training=False, frozen=False):
        """Runs D and returns its logits.

        Args:
          images: a batch of images.
          conditions: labels for conditional models (None otherwise).
          training: D's training mode (batch statistics, dropout).
          frozen: if True, D's state updates (BatchNorm statistics, RNG state)
            are discarded: no D variable changes.

        Returns:
          D's logits.
        """
        inputs = self.discriminator_inputs(tf.convert_to_tensor(images), conditions)
        kwargs = {"training": training} if self._d_call_takes_training else {}
        if not frozen:
            return self.discriminator(inputs, **kwargs)
        d = self.discriminator
        logits, _ = d.stateless_call(d.trainable_variables, self._frozen_state(d), inputs, **kwargs)
        return logits

    def _frozen_state(self, network):
        """``network``'s non-trainable values for a frozen pass: its own, but with fresh dropout seeds.

        The state a stateless call returns is discarded, so a frozen pass with the
        layers' own seed states would draw exactly the dropout masks of the
        network's next real pass. Each seed state is replaced by a value derived
        from it (a fold-in), so the masks are fresh and no variable changes.
        """
        seed_states = {id(state) for state in self._seed_states((network,))}
        return [tf.random.experimental.stateless_fold_in(tf.cast(v, tf.int64), _FROZEN_PASS_STREAM)
                if id(v) in seed_states else v for v in network.non_trainable_variables]

    def train_step(self, data):
        if not self.compiled:
            raise RuntimeError("Call gan.compile(d_optimizer=..., g_optimizer=...) before fit().")
        real_images, real_conditions = self.unpack_batch(data)
        real_images = self._check_real_images(real_images)
        k = self.d_steps
        sub_batch = tf.shape(real_images)[0] // k
        if k > 1:
            real_images = after_checks(real_images, tf.debugging.assert_positive(
                sub_batch, message=f"Each fit batch must hold at least d_steps={k} images (one per D step)."))
        checked = [t for t in tf.nest.flatten((real_images, real_conditions)) if t is not None]
        # Every op of the update waits for the checked batch: a bad batch changes
        # nothing, not even the optimizers' iteration counters.
        with tf.control_dependencies(checked):
            return self._adversarial_update(real_images, real_conditions, k, sub_batch)

    def _adversarial_update(self, real_images, real_conditions, k, sub_batch):
        def sub(structure, i):
            if k == 1 or structure is None:
                return structure
            return tf.nest.map_structure(lambda t: t[i * sub_batch:(i + 1) * sub_batch], structure)

        for i in range(k - 1):
            latents = self.sample_latents(sub_batch)
            fake_images = self.generator(latents, training=True)
            self._discriminator_update(sub(real_images, i), sub(real_conditions, i), fake_images, latents)
        latents = self.sample_latents(sub_batch)
        with tf.GradientTape() as g_tape:
            fake_images = self.generator(latents, training=True)
        self._discriminator_update(
            sub(real_images, k - 1), sub(real_conditions, k - 1), tf.stop_gradient(fake_images), latents
        )
        self.generator_update(g_tape, fake_images, latents)
        return self._logs()

    def test_step(self, data):
        """What `evaluate` reports: the same losses and D(x), D(G(z)) as `fit`, but with both networks in
        inference mode (D's BatchNorm on its moving statistics, no dropout), one D pass on the whole batch
        and no update; so the numbers differ from `fit`'s, which run D in training mode."""
        real_images, real_conditions = self.unpack_batch(data)
        real_images = self._check_real_images(real_images)
        latents = self.sample_latents(tf.shape(real_images)[0])
        fake_images = self.generator(latents, training=False)
        real_logits, _ = self.split_discriminator_outputs(self.discriminate(real_images, real_conditions))
        fake_logits, fake_aux = self.split_discriminator_outputs(
            self.discriminate(fake_images, self.fake_conditions(latents)))
        self.auxiliary_loss(fake_aux, latents, discriminator_step=True)
        self._update_d_metrics(self.objective.discriminator(real_logits, fake_logits), real_logits, fake_logits)
        self.g_loss_tracker.update_state(self.objective.generator(fake_logits))
        return self._logs()

    def _logs(self):
        logs = {m.name: m.result() for m in self.metrics}
        if _multi_worker(self.distribute_strategy):
            # Keras 3 fit reduces logs across workers with strategy.reduce(MEAN, axis=0),
            # which fails on scalars (tensorflow#72388). The metrics are already
            # aggregated across replicas, so a [1]-shaped copy reduces to the same value.
            logs = {name: tf.reshape(value, [1]) for name, value in logs.items()}
        return logs

    def generator_update(self, tape, fake_images, latents):
        """One generator step against the frozen, already updated discriminator.

        Args:
          tape: the GradientTape that recorded ``fake_images = G(latents)``; it
            is re-entered to record D's forward pass.
          fake_images: the generated images (not gradient-stopped).
          latents: the generator inputs that produced them.

        Returns:
          The generator loss.
        """
        with tape:
            fake_logits, fake_aux = self.split_discriminator_outputs(self.discriminate(
                self._augmented(fake_images), self.fake_conditions(latents), training=True, frozen=True))
            g_loss = self.objective.generator(fake_logits)
            objective = self._objective(g_loss, self.generator, self.g_optimizer, fake_aux, latents, False)
        self._apply(tape, self.g_optimizer, self.generator, objective)
        if self.ema_generator is not None:
            self._update_average()
        self.g_loss_tracker.update_state(g_loss)
        return g_loss

    def _discriminator_update(self, real_images, real_conditions, fake_images, latents):
        real_images, fake_images = self._augmented(real_images), self._augmented(fake_images)
        with tf.GradientTape() as tape:
            real_logits, real_aux = self.split_discriminator_outputs(
                self.discriminate(real_images, real_conditions, training=True))
            fake_logits, fake_aux = self.split_discriminator_outputs(
                self.discriminate(fake_images, self.fake_conditions(latents), training=True))
            d_loss = self.objective.discriminator(real_logits, fake_logits)
            total = d_loss
            real_term = self.real_auxiliary_loss(real_aux, real_conditions)
            if real_term is not None:
                total += real_term
            if self._penalized:
                penalty = self._penalty(real_images, real_conditions, fake_images)
                self.penalty_tracker.update_state(penalty)
                total += penalty
            objective = self._objective(total, self.discriminator, self.d_optimizer, fake_aux, latents, True)
        self._apply(tape, self.d_optimizer, self.discriminator, objective)
        if self.weight_clip is not None:
            for variable in self.discriminator.trainable_variables:
                variable.assign(tf.clip_by_value(variable, -self.weight_clip, self.weight_clip))
        self._update_d_metrics(d_loss, real_logits, fake_logits)

    def _penalty(self, real_images, real_conditions, fake_images):
        """The weighted gradient penalties of this D step. D runs frozen in them (training mode), so
        interpolates and the extra real pass move no BatchNorm statistics or power-iteration vectors."""

        def critic(images):
            logits, _ = self.split_discriminator_outputs(
                self.discriminate(images, real_conditions, training=True, frozen=True))
            return logits

        total = tf.constant(0.0)
        if self.gradient_penalty:
            total += self.gradient_penalty * losses.gradient_penalty(critic, real_images, fake_images,
                                                                     self.stateless_seed())
        if self.r1_gamma:
            every = self.r1_every
            weight = 0.5 * self.r1_gamma * every
            if every == 1:
                total += weight * losses.r1_penalty(critic, real_images)
            else:  # lazy R1: only on every N-th D step, N times as strong
                total += tf.cond(tf.equal(self.d_optimizer.iterations % every, 0),
                                 lambda: weight * losses.r1_penalty(critic, real_images), lambda: tf.constant(0.0))
        return total

    def _augmented(self, images):
        """DiffAugment of a batch D is about to see, from the model's noise stream (identity when off)."""
        if not self.augment:
            return images
        return augment_lib.diff_augment(images, self.augment, self.stateless_seed())

    def _update_average(self):
        """ema <- decay * ema + (1 - decay) * G for every weight and BatchNorm statistic (copied during ema_start)."""
        decay = tf.where(self.g_optimizer.iterations > self.ema_start, self.ema_decay, 0.0)
        for average, variable in zip(self.ema_generator.variables, self.generator.variables):
            if not keras.backend.is_float_dtype(average.dtype):
                average.assign(variable)  # RNG states: copied
                continue
            value = tf.cast(variable, average.dtype)
            average.assign(value + tf.cast(decay, average.dtype) * (average - value))

    def _objective(self, loss, network, optimizer, fake_aux, latents, discriminator_step):
        """What ``network`` minimizes: its adversarial loss + its weight regularizers + the
        auxiliary term, scaled for the replica count and (mixed_float16) loss scaling."""
        total = loss + self._regularization(network)
        auxiliary = self.auxiliary_loss(fake_aux, latents, discriminator_step=discriminator_step)
        if auxiliary is not None:
            total += auxiliary
        return optimizer.scale_loss(_per_replica(total))

    def _apply(self, tape, optimizer, network, objective):
        variables = network.trainable_variables
        grads = tape.gradient(objective, variables)
        if self.fused_adam:
            fused_adam.apply_gradients(optimizer, grads, variables)
        else:
            optimizer.apply_gradients(zip(grads, variables))

    def _update_d_metrics(self, d_loss, real_logits, fake_logits):
        self.d_loss_tracker.update_state(d_loss)
        self.d_real_tracker.update_state(losses.probability_real(real_logits))
        self.d_fake_tracker.update_state(losses.probability_real(fake_logits))

    @staticmethod
    def _regularization(network):
        # Weight regularizers (kernel_regularizer=...) the user put on a network.
        if not network.losses:
            return 0.0
        return tf.add_n([tf.cast(loss, tf.float32) for loss in network.losses])

    # ---- helpers -----------------------------------------------------------

    def _sample_z(self, batch_size, seed=None):
        shape = (batch_size, self.latent_dim)
        seed = self.stateless_seed(seed)
        if self.latent_distribution == "uniform":
            return tf.random.stateless_uniform(shape, seed, minval=-1.0, maxval=1.0)
        return tf.random.stateless_normal(shape, seed)

    def stateless_seed(self, seed=None):
        """Draws a fresh ``[2]`` seed for TF's stateless random ops.

        Args:
          seed: None (the model's noise SeedGenerator), an int, or a SeedGenerator;
            each call advances the generator.

        Returns:
          int64 ``[2]`` tensor. Under a tf.distribute strategy the replica id is
          folded in, so replicas draw different latents (one SeedGenerator alone
          gives every replica the same z).
        """
        if seed is None:
            seed = self.seed_generator
        elif isinstance(seed, int):
            seed = keras.random.SeedGenerator(seed)
        value = tf.cast(seed.next(), tf.int64)
        context = tf.distribute.get_replica_context()
        if context is not None and context.num_replicas_in_sync > 1:
            value = tf.random.experimental.stateless_fold_in(value, context.replica_id_in_sync_group)
        return value

    def _build_networks(self):
        """Builds G and D on one dummy batch; returns and checks the image shape."""
        latents = self.sample_latents(_PROBE_BATCH, seed=0)
        images = self.generator(latents, training=False)
        image_shape = tuple(images.shape[1:])
        if len(image_shape) != 3:
            raise ValueError(
                f"The generator must output images [N, H, W, C]; it outputs shape {images.shape}."
            )
        peak = float(tf.reduce_max(tf.abs(tf.cast(images, tf.float32))))
        if not peak <= 1.0 + _RANGE_TOLERANCE:
            raise ValueError(f"The generator must output images in [-1, 1] (the range of the real images and of "
                             f"the exports' contract), but gives values up to {peak:.3g} on {_PROBE_BATCH} latents: "
                             "end it with a tanh (keras.layers.Activation('tanh', dtype='float32')).")
        logits, _ = self.split_discriminator_outputs(self.discriminate(images, self.fake_conditions(latents)))
        try:
            losses.real_logit(logits)
        except (TypeError, ValueError) as error:
            raise ValueError(f"Bad discriminator output: {error}") from None
        return image_shape

    def _check_real_images(self, images):
        images = tf.convert_to_tensor(images) if not isinstance(images, tf.Tensor) else images
        if not images.dtype.is_floating:
            raise TypeError(
                f"Real images must be floating point in [-1, 1], got dtype {images.dtype.name}: "
                "scale them with images / 127.5 - 1 (kgan.data.load_images does this)."
            )
        fix = ("resize the data (e.g. kgan.data.load_images(image_size=...)) or build the models for "
               "this shape.")
        expected = f"[N, {', '.join(map(str, self.image_shape))}]"
        shape_check = None
        if images.shape.rank is not None:
            got = tuple(images.shape[1:])
            if len(got) != 3 or any(g is not None and g != e for g, e in zip(got, self.image_shape)):
                raise ValueError(f"Real images have shape [N, {', '.join(map(str, got))}] but the generator "
                                 f"makes images of shape {expected}; {fix}")
        if images.shape.rank is None or None in tuple(images.shape[1:]):
            # Keras retraces with relaxed (unknown) shapes after other batch sizes: check at run time.
            got = tf.strings.reduce_join(tf.strings.as_string(tf.shape(images)[1:]), separator=",")
            shape_check = tf.debugging.Assert(
                tf.equal(got, ",".join(map(str, self.image_shape))),
                [f"Real images must have shape {expected}; {fix} Got [N, ...] with [...] =", got])
        images = after_checks(images, shape_check)
        check = tf.debugging.assert_less_equal(
            tf.reduce_max(tf.abs(tf.cast(images, tf.float32))),
            1.0 + 1e-3,
            message="Real images must be scaled to [-1, 1] (images / 127.5 - 1).",
        )
        return after_checks(images, check)

    def generate(self, num_images, seed=None):
        """Generates images.

        Args:
          num_images: how many.
          seed: int for a reproducible draw (None: random).

        Returns:
          float32 numpy array ``[num_images, H, W, C]`` in [-1, 1].
        """
        check_positive_int("num_images", num_images)
        return self.generate_from(self.sample_latents(num_images, seed=seed if seed is not None else fresh_seed()))

    def generate_from(self, latents):
        """Images for the generator's latents, in inference mode, ``_GENERATE_BATCH`` rows per call.

        Returns:
          float32 numpy array ``[N, H, W, C]`` in [-1, 1].
        """
        count = int(tf.shape(tf.nest.flatten(latents)[0])[0])
        parts = [keras.ops.convert_to_numpy(self.inference_generator(
            tf.nest.map_structure(lambda x, start=start: x[start:start + _GENERATE_BATCH], latents), training=False))
            for start in range(0, count, _GENERATE_BATCH)]
        return np.concatenate(parts).astype("float32")

    @classmethod
    def from_preset(cls, name_or_path, precision=None):
        """The model of a preset (see `kgan.preset`), which must be of this class (or a subclass).

        Args:
          name_or_path: a shipped preset name, a preset directory, or an hf:// / kaggle:// URI.
          precision: compute in this dtype policy instead of the preset's own (None: as trained).
        """
        return preset.load_preset(name_or_path, expected_class=cls, precision=precision)

    def save_to_preset(self, directory, storage="float32", **card):
        """Writes this model as a preset directory (config.json, the weights, metadata.json).

        Args:
          directory: a directory that does not exist yet.
          storage: "float32" (bit-exact), "float16" or "compact" (float16 + int8 big kernels); see
            `kgan.preset.save_preset`.
          **card: model-card entries for metadata.json (description, training_command, metrics, ...).
        """
        return preset.save_preset(self, directory, storage=storage, **card)

    def save(self, filepath, *args, **kwargs):
        """`keras.Model.save` to a ``.keras`` file (the legacy ``.h5`` format cannot hold a GAN)."""
        if str(filepath).endswith((".h5", ".hdf5")):
            raise ValueError(f"Cannot save a kgan GAN as {filepath}: the legacy HDF5 format holds neither its "
                             "generator/discriminator config nor its optimizers' and noise state. Save to a .keras "
                             "file (gan.save('gan.keras')).")
        return super().save(filepath, *args, **kwargs)

    def fit(self, x=None, y=None, *args, **kwargs):
        """`keras.Model.fit`, refusing empty data (which would silently train nothing)."""
        empty = (hasattr(x, "__len__") and not isinstance(x, (tf.data.Dataset, dict)) and len(x) == 0) or (
            isinstance(x, tf.data.Dataset) and int(x.cardinality()) == 0)
        if empty:
            raise ValueError("fit() got no training data (0 examples): check the dataset (split, filters, "
                             "batch_size with drop_remainder).")
        return super().fit(x, y, *args, **kwargs)

    def save_own_variables(self, store):
        # Keras saves no SeedGenerator state (neither the noise's nor the dropout layers'):
        # they are part of the training state, so a resumed run continues the same z and
        # dropout sequences.
        super().save_own_variables(store)
        store[_NOISE_STATE_KEY] = keras.ops.convert_to_numpy(self.seed_generator.state)
        for i, state in enumerate(self._seed_states()):
            store[f"{_LAYER_SEED_KEY}{i}"] = keras.ops.convert_to_numpy(state)

    def load_own_variables(self, store):
        own = self._trainable_variables + self._non_trainable_variables
        for i, variable in enumerate(own):
            variable.assign(store[f"{i}"])
        if _NOISE_STATE_KEY in store.keys():
            self.seed_generator.state.assign(store[_NOISE_STATE_KEY])
        for i, state in enumerate(self._seed_states()):
            if f"{_LAYER_SEED_KEY}{i}" in store.keys():
                state.assign(store[f"{_LAYER_SEED_KEY}{i}"])

    def _seed_states(self, networks=None):
        """The RNG states of the networks' layers (e.g. Dropout; default G and D), in a fixed order."""
        states = []
        for network in networks or (self.generator, self.discriminator):
            for layer in network._flatten_layers(include_self=True):  # pylint: disable=protected-access
                states += [generator.state for generator in getattr(layer, "_seed_generators", [])]
        return states

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "generator": keras.saving.serialize_keras_object(self.generator),
                "discriminator": keras.saving.serialize_keras_object(self.discriminator),
                "latent_dim": self.latent_dim,
                "latent_distribution": self.latent_distribution,
                "seed": self.seed,
                "ema_generator": self.ema_generator is not None,
            }
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        has_average = config.pop("ema_generator", False)
        for key in ("generator", "discriminator"):
            config[key] = keras.saving.deserialize_keras_object(config[key])
        gan = cls(**config)
        if has_average:  # before the weights are loaded, so that its weights load too
            gan.build_ema_generator()
        return gan


def _averaged_copy(generator):
    """A non-trainable copy of ``generator`` with its current weights: the EMA generator."""
    try:
        average = keras.models.clone_model(generator)
    except ValueError as error:
        raise ValueError(f"ema_decay needs a generator keras.models.clone_model can copy (functional or "
                         f"Sequential); {generator.name} is a subclassed {type(generator).__name__}.") from error
    average.set_weights(generator.get_weights())
    average.trainable = False
    return average


def refuse_dict(data):
    """Raises TypeError for a dict batch (tfds examples), saying how to map it to images."""
    if isinstance(data, dict):
        raise TypeError(
            f"fit batches must be images or (images, labels), got a dict with keys {sorted(data)}: map it, "
            'e.g. ds.map(lambda ex: ex["image"]), or use kgan.data.load_images.')


def _multi_worker(strategy):
    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy) and \
        strategy.extended._in_multi_worker_mode()


def _per_replica(loss):
    """Scales a replica's mean loss so that summing gradients over replicas averages them.

    Under a tf.distribute strategy each replica's loss is the mean over its
    share of the global batch, and the optimizer sums the replicas' gradients.
    """
    replicas = tf.distribute.get_strategy().num_replicas_in_sync
    return loss if replicas == 1 else loss / float(replicas)


def _loss_scaled(optimizer):
    if isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
        return optimizer
    return keras.optimizers.LossScaleOptimizer(optimizer)


def _computes_in_float16(network):
    layers = network._flatten_layers()  # pylint: disable=protected-access
    return any(layer.dtype_policy.compute_dtype == "float16" for layer in layers)
