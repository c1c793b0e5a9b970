"""DCGAN discriminator features (Radford et al. 2015, sec. 5.1) for linear classifiers.

Every conv layer's activations are max-pooled to a 4x4 grid (layers already at
4x4 or smaller are kept as they are), flattened and concatenated. The paper
gets 28672 dimensions from its ImageNet model; kgan's MNIST DCGAN (28x28 input,
``discriminator_filters=f``) gives ``16*f + 16*2f + 16*4f + 4*8f = 144 f``
(4608 for f = 32, the zoo default).
"""

import keras

from kgan.spectral_norm import wrapped_layer

GRID = 4


class AdaptiveMaxPool(keras.layers.Layer):
    """Max-pools ``[N, H, W, C]`` to a ``grid x grid`` map (PyTorch's adaptive bins).

    Cell (i, j) covers rows ``floor(i*H/g) .. ceil((i+1)*H/g)`` (likewise
    columns), so bins overlap where H is not a multiple of g. Maps at or
    below the grid size pass through unchanged.

    Args:
      grid: output cells per side.
    """

    def __init__(self, grid=GRID, **kwargs):
        super().__init__(**kwargs)
        self.grid = grid

    def _bins(self, size):
        g = min(self.grid, size)
        return [(i * size // g, -(-(i + 1) * size // g)) for i in range(g)]

    def call(self, inputs):
        height, width = inputs.shape[1], inputs.shape[2]
        rows = [keras.ops.max(inputs[:, top:bottom], axis=1, keepdims=True) for top, bottom in self._bins(height)]
        rows = keras.ops.concatenate(rows, axis=1)
        cols = [keras.ops.max(rows[:, :, left:right], axis=2, keepdims=True) for left, right in self._bins(width)]
        return keras.ops.concatenate(cols, axis=2)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], min(self.grid, input_shape[1]), min(self.grid, input_shape[2]), input_shape[3])

    def get_config(self):
        return {**super().get_config(), "grid": self.grid}


def conv_activation_layers(discriminator):
    """The activation after each of D's conv layers (``<conv>_lrelu`` in kgan's nets, else the conv)."""
    names = {layer.name for layer in discriminator.layers}
    convs = [layer for layer in discriminator.layers if _is_conv(layer)]
    if not convs:
        raise ValueError(f"{discriminator.name} has no Conv2D layers: features need a convolutional discriminator.")
    return [discriminator.get_layer(f"{conv.name}_lrelu") if f"{conv.name}_lrelu" in names else conv
            for conv in convs]


def discriminator_features(gan, grid=GRID):
    """A Keras model ``images -> [N, F]`` of the DCGAN paper's discriminator features.

    Args:
      gan: a trained `kgan.DCGAN` (or any GAN whose discriminator has Conv2D
        layers), or such a discriminator itself (functional or Sequential).
      grid: cells per side of the max-pooling grid.

    Returns:
      A functional `keras.Model` sharing D's layers (inference mode).
    """
    d = getattr(gan, "discriminator", gan)
    if isinstance(d, keras.Sequential):
        return _sequential_features(d, getattr(gan, "image_shape", None), grid)
    if isinstance(d.input, (list, tuple)):
        raise ValueError("discriminator_features needs an unconditional discriminator (images only).")
    pooled = [_pool(layer.output, layer.name, grid) for layer in conv_activation_layers(d)]
    return _features_model(d.input, pooled)


def _pool(activation, name, grid):
    return keras.layers.Flatten(name=f"{name}_flat")(AdaptiveMaxPool(grid, name=f"{name}_pool")(activation))


def _features_model(inputs, pooled):
    features = keras.layers.Concatenate(name="features")(pooled) if len(pooled) > 1 else pooled[0]
    return keras.Model(inputs, features, name="discriminator_features")


def _is_conv(layer):
    """A Conv2D layer, spectrally normalized or not."""
    return isinstance(wrapped_layer(layer), keras.layers.Conv2D)


_ACTIVATIONS = (keras.layers.LeakyReLU, keras.layers.ReLU, keras.layers.Activation, keras.layers.ELU)


def _sequential_features(d, image_shape, grid):
    """The features of a Sequential D, on a graph re-traced through its layers (the weights are shared)."""
    if image_shape is None:
        try:
            image_shape = tuple(d.inputs[0].shape[1:])
        except (AttributeError, ValueError, TypeError):
            raise ValueError(f"{d.name} has not been built: call it on images once, or pass the GAN.") from None
    images = keras.Input(tuple(image_shape), name="images")
    x, pooled, layers = images, [], list(d.layers)
    for index, layer in enumerate(layers):
        x = layer(x)
        is_conv = _is_conv(layer)
        follows_conv = index > 0 and _is_conv(layers[index - 1])
        next_is_activation = index + 1 < len(layers) and isinstance(layers[index + 1], _ACTIVATIONS)
        if (is_conv and not next_is_activation) or (follows_conv and isinstance(layer, _ACTIVATIONS)):
            pooled.append(_pool(x, layer.name, grid))
    if not pooled:
        raise ValueError(f"{d.name} has no Conv2D layers: features need a convolutional discriminator.")
    return _features_model(images, pooled)
