"""Spectral normalization (Miyato et al. 2018) of a discriminator's conv and dense layers.

`SpectralNormalization` wraps a layer with a ``kernel`` and runs it with
``kernel / sigma(kernel)``, where sigma is the largest singular value of the kernel
reshaped to ``[-1, out]``, estimated by power iteration from a persistent vector
``u`` (a non-trainable variable, updated in training mode only). The gradient flows
through sigma as in the paper's reparameterization; the stored kernel is never
overwritten (Keras' own `keras.layers.SpectralNormalization` assigns the normalized
kernel into the variable on every training call, a projection instead).

`spectral_normalize(model)` returns a copy of a functional or Sequential model with
every Dense and Conv layer (and any layer with a 2-D+ ``kernel``) wrapped.
"""

import keras
import tensorflow as tf

_WRAPPED_TYPES = (keras.layers.Dense, keras.layers.Conv1D, keras.layers.Conv2D, keras.layers.Conv3D)


@keras.saving.register_keras_serializable(package="kgan")
class SpectralNormalization(keras.layers.Wrapper):
    """Runs ``layer`` with its kernel divided by its spectral norm.

    Args:
      layer: a layer with a ``kernel`` weight (Dense, Conv*, kgan's Maxout, ...).
      power_iterations: power-iteration steps per training call (1 in the paper).
      **kwargs: passed to `keras.layers.Wrapper` (e.g. ``name``).
    """

    def __init__(self, layer, power_iterations=1, **kwargs):
        super().__init__(layer, **kwargs)
        if isinstance(power_iterations, bool) or not isinstance(power_iterations, int) or power_iterations < 1:
            raise ValueError(f"power_iterations must be a positive int, got {power_iterations!r}.")
        self.power_iterations = power_iterations

    def build(self, input_shape):
        if not self.layer.built:
            self.layer.build(input_shape)
        kernel = getattr(self.layer, "kernel", None)
        if kernel is None or len(kernel.shape) < 2:
            raise ValueError(f"SpectralNormalization needs a layer with a kernel of rank >= 2; "
                             f"{self.layer.name} ({type(self.layer).__name__}) has none.")
        self.vector_u = self.add_weight(name="vector_u", shape=(1, kernel.shape[-1]), trainable=False,
                                        initializer=keras.initializers.RandomNormal(0.0, 1.0), dtype="float32")
        self.built = True

    def compute_output_shape(self, input_shape):
        return self.layer.compute_output_shape(input_shape)

    def spectral_norm(self, training=False):
        """(sigma, updated u): sigma is a tensor differentiable in the kernel; u is gradient-stopped."""
        kernel = tf.cast(self.layer.kernel.value, tf.float32)
        matrix = tf.reshape(kernel, [-1, kernel.shape[-1]])
        u = tf.cast(self.vector_u.value, tf.float32)
        steps = self.power_iterations if training else 0
        v = tf.math.l2_normalize(tf.matmul(u, matrix, transpose_b=True))
        for _ in range(steps):
            u = tf.math.l2_normalize(tf.matmul(v, matrix))
            v = tf.math.l2_normalize(tf.matmul(u, matrix, transpose_b=True))
        u, v = tf.stop_gradient(u), tf.stop_gradient(v)
        sigma = tf.reduce_sum(tf.matmul(v, matrix) * u)
        return sigma, u

    def call(self, inputs, training=False):
        sigma, u = self.spectral_norm(training=bool(training))
        if training:
            self.vector_u.assign(u)
        kernel = self.layer.kernel
        normalized = tf.cast(kernel.value, tf.float32) / tf.maximum(sigma, 1e-12)
        # Run the wrapped layer with the normalized kernel in place of its variable (its other
        # weights keep the values they have in any enclosing stateless call).
        mapping = [(kernel, normalized)] + [(w, w.value) for w in self.layer.weights if w is not kernel]
        with keras.StatelessScope(state_mapping=mapping):
            return self.layer(inputs)

    def get_config(self):
        config = super().get_config()
        config["power_iterations"] = self.power_iterations
        return config


def wrapped_layer(layer):
    """The layer a `SpectralNormalization` wraps, or ``layer`` itself."""
    return layer.layer if isinstance(layer, SpectralNormalization) else layer


def normalizable(layer):
    """Whether `spectral_normalize` wraps this layer: Dense/Conv, or any layer with a kernel of rank >= 2."""
    if isinstance(layer, SpectralNormalization):
        return False
    if isinstance(layer, _WRAPPED_TYPES):
        return True
    kernel = getattr(layer, "kernel", None)
    return kernel is not None and len(getattr(kernel, "shape", ())) >= 2 and not isinstance(
        layer, (keras.layers.Embedding, keras.layers.Conv1DTranspose, keras.layers.Conv2DTranspose,
                keras.layers.Conv3DTranspose))


def spectral_normalize(model, power_iterations=1):
    """A copy of ``model`` with its conv and dense layers spectrally normalized (fresh weights).

    Args:
      model: a functional or Sequential `keras.Model` (e.g. a discriminator).
      power_iterations: power-iteration steps per training call.

    Returns:
      A new `keras.Model` of the same structure, every normalizable layer wrapped in
      `SpectralNormalization` under its own name.
    """
    if not isinstance(model, keras.Model):
        raise TypeError(f"spectral_normalize needs a keras.Model, got {type(model).__name__}.")
    layers = [layer for layer in model._flatten_layers(include_self=False)]  # pylint: disable=protected-access
    if any(isinstance(layer, SpectralNormalization) for layer in layers):
        raise ValueError(f"{model.name} is already spectrally normalized.")
    if not any(normalizable(layer) for layer in model.layers):
        raise ValueError(f"{model.name} has no conv or dense layers for spectral normalization to act on: "
                         "it needs Dense/Conv layers (or layers with a kernel), or drop spectral_norm.")

    def clone(layer):
        config = layer.get_config()
        if not normalizable(layer):
            return layer.__class__.from_config(config)
        config["name"] = f"{layer.name}_kernel"  # the wrapper carries the layer's own name
        return SpectralNormalization(layer.__class__.from_config(config), power_iterations=power_iterations,
                                     name=layer.name, dtype=layer.dtype_policy)

    try:
        return keras.models.clone_model(model, clone_function=clone)
    except ValueError as error:
        if isinstance(model, keras.Sequential) or model.__class__.__name__ == "Functional":
            raise
        raise ValueError(f"spectral_normalize needs a functional or Sequential model, got the subclassed "
                         f"{type(model).__name__}: wrap its layers in kgan.SpectralNormalization "
                         "yourself.") from error
