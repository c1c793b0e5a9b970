"""Argument checks shared by the model families."""

import keras


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


class PresetGAN:
    """Mixin for a GAN whose networks are built from a few architecture arguments.

    Use as ``class DCGAN(PresetGAN, GAN)``. Subclasses set ``_arch`` (the architecture arguments) after calling
    ``GAN.__init__``; the config stores those arguments instead of the full
    network graphs, and ``from_config`` rebuilds the networks from them.
    """

    _arch = {}

    def get_config(self):
        config = keras.Model.get_config(self)
        config.update(dict(self._arch))
        config.update({"latent_dim": self.latent_dim, "latent_distribution": self.latent_distribution,
                       "seed": self.seed, "network_dtype_policy": _network_policy(self.generator)})
        return config

    @classmethod
    def from_config(cls, config):
        # The networks are rebuilt from the architecture arguments under the dtype
        # policy they were trained with (e.g. mixed_bfloat16), not the current global one.
        config = dict(config)
        policy = config.pop("network_dtype_policy", None)
        previous = keras.config.dtype_policy()
        if policy:
            keras.config.set_dtype_policy(policy)
        try:
            return cls(**config)
        finally:
            keras.config.set_dtype_policy(previous)


def _network_policy(network):
    layers = [layer for layer in network.layers if not isinstance(layer, keras.layers.InputLayer)]
    return layers[0].dtype_policy.name if layers else None
