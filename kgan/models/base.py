"""What the ready-made families share: argument checks, DCGAN initializers, architecture configs."""

import keras

from kgan.checks import PRECISIONS, check_precision  # noqa: F401 (the families import them from here)


def check_image_shape(image_shape):
    """Returns ``image_shape`` as a tuple (H, W, C) of positive ints or raises ValueError."""
    try:
        shape = tuple(int(d) for d in image_shape)
        valid = len(shape) == 3 and all(d > 0 and d == s for d, s in zip(shape, image_shape))
    except (TypeError, ValueError):
        valid = False
    if not valid:
        raise ValueError(f"image_shape must be (height, width, channels) of positive ints, got {image_shape!r}.")
    return shape


def dcgan_init():
    """The DCGAN paper's weight init, N(0, 0.02)."""
    return keras.initializers.RandomNormal(0.0, 0.02)


def dcgan_batch_norm(name, dtype=None):
    """BatchNorm with gamma ~ N(1, 0.02), as in the reference PyTorch DCGAN."""
    return keras.layers.BatchNormalization(
        gamma_initializer=keras.initializers.RandomNormal(1.0, 0.02), name=name, dtype=dtype)


class ArchitectureGAN:
    """Mixin for a GAN whose networks are built from a few architecture arguments.

    Use as ``class DCGAN(ArchitectureGAN, GAN)``. Subclasses set ``_arch`` (the
    architecture arguments, ``precision`` included) after calling
    ``GAN.__init__``; the config stores those arguments instead of the full
    network graphs, and ``from_config`` rebuilds the networks from them.
    """

    _arch = {}

    def get_config(self):
        config = keras.Model.get_config(self)
        config.update(dict(self._arch))
        config.update({"latent_dim": self.latent_dim, "latent_distribution": self.latent_distribution,
                       "seed": self.seed, "ema_generator": self.ema_generator is not None})
        if config.get("precision") is None:  # built under the global policy: record which
            config["precision"] = _network_policy(self.generator)
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        legacy = config.pop("network_dtype_policy", None)  # kgan <= 0.1 configs
        if config.get("precision") is None:
            config["precision"] = legacy
        has_average = config.pop("ema_generator", False)
        gan = cls(**config)
        if has_average:  # before the weights are loaded, so that its weights load too
            gan.build_ema_generator()
        return gan


def _network_policy(network):
    layers = [layer for layer in network.layers if not isinstance(layer, keras.layers.InputLayer)]
    return layers[0].dtype_policy.name if layers else None
