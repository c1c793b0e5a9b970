"""The vanilla GAN of Goodfellow et al. 2014: ReLU MLP generator, maxout MLP discriminator."""

import math

import keras

from kgan.gan import GAN
from kgan.models.base import ArchitectureGAN, check_image_shape, check_precision
from kgan.spectral_norm import spectral_normalize


@keras.saving.register_keras_serializable(package="kgan")
class Maxout(keras.layers.Layer):
    """Maxout units (Goodfellow et al. 2013): the max over ``pieces`` affine maps.

    Args:
      units: number of output units.
      pieces: affine pieces per unit.
      kernel_initializer: initializer of the ``[in, units * pieces]`` kernel.
    """

    def __init__(self, units, pieces, kernel_initializer="glorot_uniform", **kwargs):
        super().__init__(**kwargs)
        self.units = int(units)
        self.pieces = int(pieces)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)

    def build(self, input_shape):
        self.kernel = self.add_weight(
            name="kernel", shape=(input_shape[-1], self.units * self.pieces),
            initializer=self.kernel_initializer,
        )
        self.bias = self.add_weight(name="bias", shape=(self.units * self.pieces,), initializer="zeros")

    def call(self, inputs):
        pre = keras.ops.matmul(inputs, self.kernel) + self.bias
        pre = keras.ops.reshape(pre, (-1, self.units, self.pieces))
        return keras.ops.max(pre, axis=-1)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.units)

    def get_config(self):
        config = super().get_config()
        config.update({"units": self.units, "pieces": self.pieces,
                       "kernel_initializer": keras.initializers.serialize(self.kernel_initializer)})
        return config


def build_mlp_generator(latent_dim=100, image_shape=(28, 28, 1), units=(1200, 1200), dtype=None):
    """ReLU MLP generator with a tanh output in [-1, 1].

    Args:
      latent_dim: size of z.
      image_shape: (H, W, C) of the output images.
      units: sizes of the hidden ReLU layers.
      dtype: the hidden layers' dtype policy (None: Keras' global one).

    Returns:
      A functional `keras.Model` ``[N, latent_dim] -> [N, H, W, C]``.
    """
    image_shape = check_image_shape(image_shape)
    z = keras.Input((latent_dim,), name="z")
    x = z
    for i, n in enumerate(units, start=1):
        x = keras.layers.Dense(n, activation="relu", name=f"dense_{i}", dtype=dtype)(x)
    x = keras.layers.Dense(math.prod(image_shape), name="output_dense", dtype=dtype)(x)
    x = keras.layers.Activation("tanh", dtype="float32", name="tanh")(x)
    images = keras.layers.Reshape(image_shape, name="images", dtype="float32")(x)
    return keras.Model(z, images, name="mlp_generator")


def build_maxout_discriminator(image_shape=(28, 28, 1), units=(240, 240), pieces=5,
                               input_dropout=0.2, dropout=0.5, dtype=None):
    """Maxout MLP discriminator with dropout, returning one logit per image.

    Args:
      image_shape: (H, W, C) of the input images.
      units: maxout units per hidden layer.
      pieces: affine pieces per maxout unit.
      input_dropout: dropout rate on the input pixels.
      dropout: dropout rate after each maxout layer.
      dtype: the hidden layers' dtype policy (None: Keras' global one).

    Returns:
      A functional `keras.Model` ``[N, H, W, C] -> [N, 1]`` logits.
    """
    image_shape = check_image_shape(image_shape)
    images = keras.Input(image_shape, name="images")
    x = keras.layers.Flatten(name="flatten", dtype=dtype)(images)
    x = keras.layers.Dropout(input_dropout, name="input_dropout", dtype=dtype)(x)
    for i, n in enumerate(units, start=1):
        x = Maxout(n, pieces, name=f"maxout_{i}", dtype=dtype)(x)
        x = keras.layers.Dropout(dropout, name=f"dropout_{i}", dtype=dtype)(x)
    logits = keras.layers.Dense(1, dtype="float32", name="logit")(x)
    return keras.Model(images, logits, name="maxout_discriminator")


@keras.saving.register_keras_serializable(package="kgan")
class VanillaGAN(ArchitectureGAN, GAN):
    """The MLP GAN of Goodfellow et al. 2014 (MNIST setup: G 1200-1200 ReLU, D 240x5 maxout).

    Args:
      image_shape: (H, W, C) of the images.
      latent_dim: size of z.
      generator_units: hidden ReLU layer sizes of G.
      discriminator_units: maxout units per hidden layer of D.
      maxout_pieces: pieces per maxout unit.
      input_dropout: D's dropout rate on its input.
      dropout: D's dropout rate after each maxout layer.
      latent_distribution: "uniform" (U[-1, 1], as in the paper) or "normal".
      seed: seed of the latent noise.
      precision: the networks' dtype policy (None: Keras' global policy); outputs stay float32.
      spectral_norm: spectrally normalize D's maxout and dense layers.
      **kwargs: passed to `keras.Model`.
    """

    family_name = "gan"

    def __init__(self, image_shape=(28, 28, 1), latent_dim=100, generator_units=(1200, 1200),
                 discriminator_units=(240, 240), maxout_pieces=5, input_dropout=0.2, dropout=0.5,
                 latent_distribution="uniform", seed=None, precision=None, spectral_norm=False, **kwargs):
        image_shape = check_image_shape(image_shape)
        precision = check_precision(precision)
        arch = {
            "image_shape": image_shape, "generator_units": tuple(generator_units),
            "discriminator_units": tuple(discriminator_units), "maxout_pieces": maxout_pieces,
            "input_dropout": input_dropout, "dropout": dropout, "precision": precision,
            "spectral_norm": bool(spectral_norm),
        }
        discriminator = build_maxout_discriminator(
            image_shape, discriminator_units, maxout_pieces, input_dropout, dropout, dtype=precision)
        super().__init__(
            generator=build_mlp_generator(latent_dim, image_shape, generator_units, dtype=precision),
            discriminator=spectral_normalize(discriminator) if spectral_norm else discriminator,
            latent_dim=latent_dim, latent_distribution=latent_distribution, seed=seed, **kwargs)
        self._arch = arch
