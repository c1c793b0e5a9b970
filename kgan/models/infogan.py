"""InfoGAN (Chen et al. 2016): latent codes made recoverable by a Q head on D's body.

G's input is ``[z, c_cat, c_cont]``: unstructured noise z, one categorical code
(one-hot) and continuous codes ~ U[-1, 1]. The discriminator returns
``[logits, categorical_logits, continuous_mean]``: the Q head shares D's body.
The variational lower bound of the mutual information I(c; G(z, c)) enters as
``categorical_weight * CE(c_cat, Q_cat) + continuous_weight * NLL(c_cont | Q_mean)``,
added to D's loss (training Q and D's body) and to G's loss, as in the paper.
The continuous posterior is a Gaussian with the predicted mean and a FIXED unit
standard deviation (so its NLL is ``0.5 * (c - mean)^2 + 0.5 * log(2 pi)`` per
code); a learned variance can collapse and destabilise training on MNIST.
"""

import math

import keras
import numpy as np
import tensorflow as tf

from kgan.checks import check_ids, check_positive_int, fresh_seed
from kgan.contract import categorical_code, continuous_code
from kgan.gan import GAN
from kgan.models.base import ArchitectureGAN, check_image_shape, check_precision, dcgan_batch_norm, dcgan_init
from kgan.models.dcgan import HEADS
from kgan.spectral_norm import spectral_normalize

_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)


def info_losses(categorical_codes, continuous_codes, categorical_logits, continuous_mean):
    """The two terms of the (negated) mutual-information lower bound, batch-averaged.

    Args:
      categorical_codes: one-hot codes ``[N, K]`` given to G.
      continuous_codes: continuous codes ``[N, L]`` given to G.
      categorical_logits: Q's logits ``[N, K]``.
      continuous_mean: Q's Gaussian means ``[N, L]`` (unit std).

    Returns:
      (categorical cross-entropy, continuous Gaussian NLL summed over codes), float32 scalars.
    """
    categorical = tf.reduce_mean(keras.losses.categorical_crossentropy(
        tf.cast(categorical_codes, tf.float32), tf.cast(categorical_logits, tf.float32), from_logits=True))
    error = tf.cast(continuous_codes, tf.float32) - tf.cast(continuous_mean, tf.float32)
    continuous = tf.reduce_mean(tf.reduce_sum(0.5 * tf.square(error) + _HALF_LOG_2PI, axis=-1))
    return categorical, continuous


@keras.saving.register_keras_serializable(package="kgan")
class InfoGAN(GAN):
    """InfoGAN from any code-conditioned generator and a discriminator with a Q head.

    Trains unsupervised: `fit` takes images only (labels, if present, are ignored).

    Args:
      generator: a Keras model ``[z, categorical one-hot [N, K], continuous [N, L]] -> images``.
      discriminator: a Keras model ``images -> [logits, categorical_logits [N, K],
        continuous_mean [N, L]]`` whose Q outputs share its body.
      latent_dim: size of z (the incompressible noise).
      num_categories: K, categories of the categorical code (>= 2).
      num_continuous: L, continuous codes (>= 1), each ~ U[-1, 1].
      categorical_weight: lambda of the categorical MI term.
      continuous_weight: lambda of the continuous MI term (smaller, as in the paper).
      latent_distribution: distribution of z, "normal" or "uniform".
      seed: seed of z and the codes.
      **kwargs: passed to `keras.Model`.
    """

    def __init__(self, generator, discriminator, latent_dim, num_categories=10, num_continuous=2,
                 categorical_weight=1.0, continuous_weight=0.1, latent_distribution="normal", seed=None,
                 **kwargs):
        check_positive_int("num_categories", num_categories)
        check_positive_int("num_continuous", num_continuous)
        if num_categories < 2:
            raise ValueError(f"num_categories must be >= 2, got {num_categories}.")
        for name, weight in (("categorical_weight", categorical_weight), ("continuous_weight", continuous_weight)):
            if not float(weight) >= 0.0:
                raise ValueError(f"{name} must be >= 0, got {weight!r}.")
        self.num_categories = num_categories
        self.num_continuous = num_continuous
        self.categorical_weight = float(categorical_weight)
        self.continuous_weight = float(continuous_weight)
        super().__init__(generator, discriminator, latent_dim, latent_distribution=latent_distribution,
                         seed=seed, **kwargs)
        self.info_cat_tracker = keras.metrics.Mean(name="info_cat")
        self.info_cont_tracker = keras.metrics.Mean(name="info_cont")

    family_name = "infogan"

    def latent_inputs(self):
        return (*super().latent_inputs(), categorical_code("categorical_code", self.num_categories),
                continuous_code("continuous_code", self.num_continuous))

    def contract_metadata(self):
        return {"num_categories": self.num_categories, "num_continuous": self.num_continuous}

    @property
    def metrics(self):
        return super().metrics + [self.info_cat_tracker, self.info_cont_tracker]

    @property
    def q_network(self):
        """images -> [categorical_logits, continuous_mean]: D's Q head, sharing D's layers."""
        d = self.discriminator
        return keras.Model(d.inputs, d.outputs[1:], name="q_network")

    def sample_latents(self, batch_size, seed=None, categories=None, continuous=None):
        """Draws ``[z, one_hot(categories), continuous]``.

        Args:
          batch_size: number of latents.
          seed: None (the model's noise stream) or an int for a reproducible draw.
          categories: optional int categories ``[batch_size]`` (else uniform).
          continuous: optional codes ``[batch_size, L]`` (else U[-1, 1]).

        Returns:
          ``[z, categorical one-hot, continuous codes]``.
        """
        return super().sample_latents(batch_size, seed, categorical_code=categories, continuous_code=continuous)

    def split_discriminator_outputs(self, outputs):
        return outputs[0], outputs[1:]

    def auxiliary_loss(self, fake_aux, latents, discriminator_step):
        categorical, continuous = info_losses(latents[1], latents[2], *fake_aux)
        if discriminator_step:
            self.info_cat_tracker.update_state(categorical)
            self.info_cont_tracker.update_state(continuous)
        return self.categorical_weight * categorical + self.continuous_weight * continuous

    def grid_shape(self, grid_size):
        return grid_size, self.num_categories

    def grid_latents(self, rows, cols, seed=0):
        """Row r keeps one z; column c is category ``c % K``; continuous codes 0."""
        z = tf.repeat(self._sample_z(rows, keras.random.SeedGenerator(seed)), cols, axis=0)
        categories = tf.tile(tf.range(cols) % self.num_categories, [rows])
        return [z, tf.one_hot(categories, self.num_categories), tf.zeros((rows * cols, self.num_continuous))]

    def traversal_latents(self, code_index, rows, cols, seed=0, low=-2.0, high=2.0):
        """Latents varying continuous code ``code_index`` from low to high across columns.

        Row r keeps one z and category ``r % K``; the other continuous codes are 0.
        """
        if not 0 <= code_index < self.num_continuous:
            raise ValueError(f"code_index must be in [0, {self.num_continuous}), got {code_index}.")
        z = tf.repeat(self._sample_z(rows, keras.random.SeedGenerator(seed)), cols, axis=0)
        categories = tf.repeat(tf.range(rows) % self.num_categories, cols)
        values = np.zeros((rows * cols, self.num_continuous), np.float32)
        values[:, code_index] = np.tile(np.linspace(low, high, cols, dtype=np.float32), rows)
        return [z, tf.one_hot(categories, self.num_categories), tf.constant(values)]

    def generate(self, num_images=None, categories=None, continuous=None, seed=None):
        """Generates images, optionally with chosen codes.

        Args:
          num_images: how many (may be omitted when codes are given).
          categories: int categories in [0, K), one per image.
          continuous: float codes ``[N, L]``.
          seed: int for a reproducible draw (None: random).

        Returns:
          float32 numpy array ``[N, H, W, C]`` in [-1, 1].
        """
        seed = fresh_seed() if seed is None else seed
        if categories is not None:
            categories = check_ids(categories, self.num_categories, "categories")
        if continuous is not None:
            continuous = np.asarray(continuous, np.float32)
            if continuous.ndim != 2 or continuous.shape[1] != self.num_continuous:
                raise ValueError(f"continuous must have shape [N, {self.num_continuous}], got {continuous.shape}.")
            if not np.isfinite(continuous).all():
                raise ValueError("continuous codes must be finite (no NaN/Inf).")
        sizes = {len(v) for v in (categories, continuous) if v is not None} | (
            {num_images} if num_images is not None else set())
        if len(sizes) != 1:
            raise ValueError(f"num_images, categories and continuous disagree on the batch size: {sorted(sizes)}.")
        n = sizes.pop()
        check_positive_int("num_images", n)
        latents = self.sample_latents(n, seed=seed, categories=categories, continuous=continuous)
        return self.generate_from(latents)

    def get_config(self):
        config = super().get_config()
        config.update({"num_categories": self.num_categories, "num_continuous": self.num_continuous,
                       "categorical_weight": self.categorical_weight,
                       "continuous_weight": self.continuous_weight})
        return config


def _start_size(height, width):
    """(h, w, extra doublings): G's projection size, S/4 up to 8, halved once per extra doubling beyond it."""
    start_h, start_w, doublings = height // 4, width // 4, 0
    while max(start_h, start_w) > 8 and start_h % 2 == 0 and start_w % 2 == 0:
        start_h, start_w, doublings = start_h // 2, start_w // 2, doublings + 1
    return start_h, start_w, doublings


def build_infogan_generator(latent_dim=62, num_categories=10, num_continuous=2, image_shape=(28, 28, 1),
                            dtype=None):
    """The InfoGAN paper's MNIST generator (appendix C.1), for any (4k, 4k, C) size.

    ``[z, c_cat, c_cont]`` -> FC 1024 BN ReLU -> FC (S/4)^2*128 BN ReLU ->
    4x4 up-conv 64 stride 2 BN ReLU -> 4x4 up-conv C stride 2 -> tanh. Above 32 px the
    projection stays at 8x8 and one 4x4 up-conv 128 stride 2 BN ReLU per doubling comes
    before the paper's two (so the FC layer does not grow with the image). ``dtype`` is the
    hidden layers' dtype policy (None: Keras' global one); the output is float32.

    Returns:
      A functional `keras.Model` ``[z, categorical, continuous] -> images`` in [-1, 1].
    """
    height, width, channels = check_image_shape(image_shape)
    if height % 4 or width % 4:
        raise ValueError(f"InfoGAN networks need image sides divisible by 4, got {image_shape}.")
    z = keras.Input((latent_dim,), name="z")
    categorical = keras.Input((num_categories,), name="categorical_code")
    continuous = keras.Input((num_continuous,), name="continuous_code")
    x = keras.layers.Concatenate(name="z_codes", dtype=dtype)([z, categorical, continuous])
    x = keras.layers.Dense(1024, use_bias=False, kernel_initializer=dcgan_init(), name="fc_1", dtype=dtype)(x)
    x = keras.layers.ReLU(name="fc_1_relu", dtype=dtype)(dcgan_batch_norm("fc_1_bn", dtype)(x))
    start_h, start_w, doublings = _start_size(height, width)
    x = keras.layers.Dense(start_h * start_w * 128, use_bias=False, kernel_initializer=dcgan_init(),
                           name="fc_2", dtype=dtype)(x)
    x = keras.layers.ReLU(name="fc_2_relu", dtype=dtype)(dcgan_batch_norm("fc_2_bn", dtype)(x))
    x = keras.layers.Reshape((start_h, start_w, 128), name="reshape", dtype=dtype)(x)
    for i in range(1, doublings + 1):
        x = keras.layers.Conv2DTranspose(128, 4, strides=2, padding="same", use_bias=False,
                                         kernel_initializer=dcgan_init(), name=f"deconv_up_{i}", dtype=dtype)(x)
        x = keras.layers.ReLU(name=f"deconv_up_{i}_relu", dtype=dtype)(dcgan_batch_norm(f"deconv_up_{i}_bn", dtype)(x))
    x = keras.layers.Conv2DTranspose(64, 4, strides=2, padding="same", use_bias=False, kernel_initializer=dcgan_init(),
                                     name="deconv_1", dtype=dtype)(x)
    x = keras.layers.ReLU(name="deconv_1_relu", dtype=dtype)(dcgan_batch_norm("deconv_1_bn", dtype)(x))
    x = keras.layers.Conv2DTranspose(channels, 4, strides=2, padding="same", kernel_initializer=dcgan_init(),
                                     name="deconv_2", dtype=dtype)(x)
    images = keras.layers.Activation("tanh", dtype="float32", name="tanh")(x)
    return keras.Model([z, categorical, continuous], images, name="infogan_generator")


def build_infogan_discriminator(image_shape=(28, 28, 1), num_categories=10, num_continuous=2, head="sigmoid",
                                dtype=None):
    """The InfoGAN paper's MNIST discriminator with its Q head on the shared body.

    Body: 4x4 conv 64 stride 2 lReLU -> 4x4 conv 128 stride 2 BN lReLU -> FC 1024 BN lReLU; above
    32 px one more 4x4 conv 128 stride 2 BN lReLU per doubling before the FC layer (it sees 8x8).
    D head: FC 1 (sigmoid) or FC 2 (softmax) logits. Q head: FC 128 BN lReLU ->
    categorical logits (K) and continuous means (L). ``dtype`` is the hidden layers' dtype
    policy (None: Keras' global one); the three outputs are float32.

    Returns:
      A functional `keras.Model` ``images -> [logits, categorical_logits, continuous_mean]``.
    """
    image_shape = check_image_shape(image_shape)
    if head not in HEADS:
        raise ValueError(f"head must be one of {HEADS}, got {head!r}.")
    images = keras.Input(image_shape, name="images")
    x = keras.layers.Conv2D(64, 4, strides=2, padding="same", kernel_initializer=dcgan_init(), name="conv_1",
                            dtype=dtype)(images)
    x = keras.layers.LeakyReLU(0.1, name="conv_1_lrelu", dtype=dtype)(x)
    x = keras.layers.Conv2D(128, 4, strides=2, padding="same", use_bias=False, kernel_initializer=dcgan_init(),
                            name="conv_2", dtype=dtype)(x)
    x = keras.layers.LeakyReLU(0.1, name="conv_2_lrelu", dtype=dtype)(dcgan_batch_norm("conv_2_bn", dtype)(x))
    for i in range(1, _start_size(*image_shape[:2])[2] + 1):
        x = keras.layers.Conv2D(128, 4, strides=2, padding="same", use_bias=False, kernel_initializer=dcgan_init(),
                                name=f"conv_down_{i}", dtype=dtype)(x)
        x = keras.layers.LeakyReLU(0.1, name=f"conv_down_{i}_lrelu", dtype=dtype)(
            dcgan_batch_norm(f"conv_down_{i}_bn", dtype)(x))
    x = keras.layers.Flatten(name="flatten", dtype=dtype)(x)
    x = keras.layers.Dense(1024, use_bias=False, kernel_initializer=dcgan_init(), name="fc", dtype=dtype)(x)
    body = keras.layers.LeakyReLU(0.1, name="body_features", dtype=dtype)(dcgan_batch_norm("fc_bn", dtype)(x))
    logits = keras.layers.Dense(1 if head == "sigmoid" else 2, kernel_initializer=dcgan_init(), dtype="float32",
                                name="logits")(body)
    q = keras.layers.Dense(128, use_bias=False, kernel_initializer=dcgan_init(), name="q_fc", dtype=dtype)(body)
    q = keras.layers.LeakyReLU(0.1, name="q_fc_lrelu", dtype=dtype)(dcgan_batch_norm("q_fc_bn", dtype)(q))
    categorical = keras.layers.Dense(num_categories, kernel_initializer=dcgan_init(), dtype="float32",
                                     name="categorical_logits")(q)
    continuous = keras.layers.Dense(num_continuous, kernel_initializer=dcgan_init(), dtype="float32",
                                    name="continuous_mean")(q)
    return keras.Model(images, [logits, categorical, continuous], name="infogan_discriminator")


@keras.saving.register_keras_serializable(package="kgan")
class ConvInfoGAN(ArchitectureGAN, InfoGAN):
    """InfoGAN with the paper's MNIST networks (z 62-D, 10 categories, 2 continuous codes).

    Args:
      image_shape: (H, W, C) with H, W divisible by 4.
      latent_dim: size of z (62 in the paper).
      num_categories: categories of the categorical code.
      num_continuous: number of continuous codes.
      categorical_weight: lambda of the categorical MI term (1.0).
      continuous_weight: lambda of the continuous MI term (0.1).
      head: D head, "sigmoid" or "softmax".
      latent_distribution: distribution of z.
      seed: seed of z and the codes.
      precision: the networks' dtype policy (None: Keras' global policy); outputs stay float32.
      spectral_norm: spectrally normalize D's (and Q's) conv and dense layers.
      **kwargs: passed to `keras.Model`.
    """

    def __init__(self, image_shape=(28, 28, 1), latent_dim=62, num_categories=10, num_continuous=2,
                 categorical_weight=1.0, continuous_weight=0.1, head="sigmoid", latent_distribution="normal",
                 seed=None, precision=None, spectral_norm=False, **kwargs):
        image_shape = check_image_shape(image_shape)
        precision = check_precision(precision)
        arch = {"image_shape": image_shape, "num_categories": num_categories, "num_continuous": num_continuous,
                "categorical_weight": categorical_weight, "continuous_weight": continuous_weight, "head": head,
                "precision": precision, "spectral_norm": bool(spectral_norm)}
        discriminator = build_infogan_discriminator(image_shape, num_categories, num_continuous, head, precision)
        super().__init__(
            generator=build_infogan_generator(latent_dim, num_categories, num_continuous, image_shape, precision),
            discriminator=spectral_normalize(discriminator) if spectral_norm else discriminator,
            latent_dim=latent_dim, num_categories=num_categories, num_continuous=num_continuous,
            categorical_weight=categorical_weight, continuous_weight=continuous_weight,
            latent_distribution=latent_distribution, seed=seed, **kwargs)
        self._arch = arch
