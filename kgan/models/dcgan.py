"""DCGAN (Radford et al. 2015): all-convolutional G and D with BatchNorm."""

import keras

from kgan.gan import GAN
from kgan.models.base import ArchitectureGAN, check_image_shape, check_precision, dcgan_batch_norm, dcgan_init
from kgan.spectral_norm import spectral_normalize

HEADS = ("sigmoid", "softmax")
CONDITIONINGS = ("concat", "projection", "acgan")


@keras.saving.register_keras_serializable(package="kgan")
class ClassProjection(keras.layers.Layer):
    """The projection discriminator's class term (Miyato & Koyama 2018): ``<embed(y), features>``.

    Takes ``[features [N, F], one-hot label [N, K]]`` and returns ``[N, 1]`` (or, with
    ``two_way``, ``[N, 2]`` = ``[0, term]``, which adds the term to a softmax head's real logit).
    The class embedding is the ``kernel`` ``[K, F]``, so spectral normalization covers it.

    Args:
      two_way: return ``[0, term]`` for a 2-way softmax head.
    """

    def __init__(self, two_way=False, **kwargs):
        super().__init__(**kwargs)
        self.two_way = bool(two_way)

    def build(self, input_shape):
        features_shape, label_shape = input_shape
        self.kernel = self.add_weight(name="kernel", shape=(label_shape[-1], features_shape[-1]),
                                      initializer=dcgan_init())

    def call(self, inputs):
        features, label = inputs
        embedded = keras.ops.matmul(keras.ops.cast(label, self.compute_dtype), self.kernel)
        term = keras.ops.sum(features * embedded, axis=-1, keepdims=True)
        if self.two_way:
            term = keras.ops.concatenate([keras.ops.zeros_like(term), term], axis=-1)
        return term

    def compute_output_shape(self, input_shape):
        return (input_shape[0][0], 2 if self.two_way else 1)

    def get_config(self):
        return {**super().get_config(), "two_way": self.two_way}


def _upsampling_plan(size):
    """(start size, strides of the transposed convs) for a square output ``size``.

    Halves while the start stays an integer >= 4; at least 4 transposed convs, one
    per doubling beyond that: 64 -> 4 with strides (2, 2, 2, 2) as in the paper,
    128 -> 4 with five; 28 -> 7 with (1, 1, 2, 2) for MNIST.
    """
    start, doublings = size, 0
    while start % 2 == 0 and start // 2 >= 4:
        start //= 2
        doublings += 1
    return start, (1,) * max(0, 4 - doublings) + (2,) * doublings


def _num_downsamplings(size):
    """Stride-2 convs of D: 4, plus one per doubling of the image beyond 64 (128 -> 5), so D ends at 4x4 there."""
    count = 4
    while size > 4 * 2 ** count:
        count += 1
    return count


def build_dcgan_generator(latent_dim=100, image_shape=(28, 28, 1), filters=64, kernel_size=5,
                          num_classes=0, dtype=None):
    """DCGAN generator: z -> dense -> reshape -> 4 transposed convs (5 at 128 px) -> tanh.

    BatchNorm + ReLU after the projection and the first three transposed convs;
    none on the output layer.

    Args:
      latent_dim: size of z.
      image_shape: (S, S, C) square output images, S >= 4.
      filters: channels of the last hidden layer; earlier layers have 2x, 4x, 8x (16x at 128 px).
      kernel_size: transposed-conv kernel size.
      num_classes: if > 0, a conditional generator (CGAN): a second input
        "label" ``[N, num_classes]`` (one-hot) is concatenated to z.
      dtype: the hidden layers' dtype policy (None: Keras' global one); the
        tanh output is float32.

    Returns:
      A functional `keras.Model` ``z (, label) -> [N, S, S, C]`` in [-1, 1].
    """
    height, width, channels = check_image_shape(image_shape)
    if height != width or height < 4:
        raise ValueError(f"DCGAN needs square images of size >= 4, got image_shape {image_shape}.")
    start, strides = _upsampling_plan(height)
    z = keras.Input((latent_dim,), name="z")
    inputs, x = z, z
    if num_classes:
        label = keras.Input((num_classes,), name="label")
        inputs, x = [z, label], keras.layers.Concatenate(name="z_label", dtype=dtype)([z, label])
    widths = [filters * 2 ** i for i in reversed(range(len(strides)))]  # ..., 4f, 2f, f
    x = keras.layers.Dense(start * start * widths[0], use_bias=False, kernel_initializer=dcgan_init(),
                           name="project", dtype=dtype)(x)
    x = dcgan_batch_norm("project_bn", dtype)(x)
    x = keras.layers.ReLU(name="project_relu", dtype=dtype)(x)
    x = keras.layers.Reshape((start, start, widths[0]), name="reshape", dtype=dtype)(x)
    layer_filters = (*widths[1:], channels)
    for i, (n, stride) in enumerate(zip(layer_filters, strides), start=1):
        last = i == len(strides)
        x = keras.layers.Conv2DTranspose(n, kernel_size, strides=stride, padding="same", use_bias=last,
                                         kernel_initializer=dcgan_init(), name=f"deconv_{i}", dtype=dtype)(x)
        if not last:
            x = dcgan_batch_norm(f"deconv_{i}_bn", dtype)(x)
            x = keras.layers.ReLU(name=f"deconv_{i}_relu", dtype=dtype)(x)
    images = keras.layers.Activation("tanh", dtype="float32", name="tanh")(x)
    return keras.Model(inputs, images, name="dcgan_generator")


def build_dcgan_discriminator(image_shape=(28, 28, 1), filters=64, kernel_size=5, head="sigmoid",
                              num_classes=0, dtype=None, conditioning="concat", spectral_norm=False):
    """DCGAN discriminator: 4 stride-2 convs (5 at 128 px) with LeakyReLU(0.2) -> dense logits.

    BatchNorm on every conv but the first; no pooling, no hidden dense layer.

    Args:
      image_shape: (H, W, C) of the input images.
      filters: channels of the first conv; later convs have 2x, 4x, 8x.
      kernel_size: conv kernel size.
      head: "sigmoid" -> ``[N, 1]`` logit; "softmax" -> ``[N, 2]`` logits
        (index 1 = real). The sigmoid/softmax itself is applied by
        `kgan.losses` (on logits, for numerical stability).
      num_classes: if > 0, a conditional discriminator (CGAN), as ``conditioning`` says.
      dtype: the hidden layers' dtype policy (None: Keras' global one); the
        logits are float32.
      conditioning: with ``num_classes``: "concat" (a second input "label" ``[N, num_classes]``,
        one-hot, broadcast to constant image channels concatenated to the image), "projection"
        (the label's embedding dotted with the flattened features is added to the logit; Miyato &
        Koyama 2018) or "acgan" (images only; a second output of class logits, Odena et al. 2017).
      spectral_norm: spectrally normalize every conv and dense layer (Miyato et al. 2018).

    Returns:
      A functional `keras.Model` ``images (, label) -> logits`` (acgan: ``images -> [logits, class_logits]``).
    """
    image_shape = check_image_shape(image_shape)
    if head not in HEADS:
        raise ValueError(f"head must be one of {HEADS}, got {head!r}.")
    if conditioning not in CONDITIONINGS:
        raise ValueError(f"conditioning must be one of {CONDITIONINGS}, got {conditioning!r}.")
    images = keras.Input(image_shape, name="images")
    inputs, x = images, images
    if num_classes and conditioning != "acgan":
        label = keras.Input((num_classes,), name="label")
        inputs = [images, label]
    if num_classes and conditioning == "concat":
        planes = keras.layers.Reshape((1, 1, num_classes), name="label_planes", dtype=dtype)(label)
        planes = keras.layers.UpSampling2D(image_shape[:2], name="label_broadcast", dtype=dtype)(planes)
        x = keras.layers.Concatenate(name="image_label", dtype=dtype)([images, planes])
    count = _num_downsamplings(max(image_shape[:2]))
    for i, n in enumerate((filters * 2 ** j for j in range(count)), start=1):
        x = keras.layers.Conv2D(n, kernel_size, strides=2, padding="same", use_bias=i == 1,
                                kernel_initializer=dcgan_init(), name=f"conv_{i}", dtype=dtype)(x)
        if i > 1:
            x = dcgan_batch_norm(f"conv_{i}_bn", dtype)(x)
        x = keras.layers.LeakyReLU(0.2, name=f"conv_{i}_lrelu", dtype=dtype)(x)
    x = keras.layers.Flatten(name="flatten", dtype=dtype)(x)
    logits = keras.layers.Dense(1 if head == "sigmoid" else 2, kernel_initializer=dcgan_init(),
                                dtype="float32", name="logits")(x)
    outputs = logits
    if num_classes and conditioning == "projection":
        term = ClassProjection(two_way=head == "softmax", name="class_projection", dtype="float32")([x, label])
        outputs = keras.layers.Add(name="projected_logits", dtype="float32")([logits, term])
    elif num_classes and conditioning == "acgan":
        outputs = [logits, keras.layers.Dense(num_classes, kernel_initializer=dcgan_init(), dtype="float32",
                                              name="class_logits")(x)]
    model = keras.Model(inputs, outputs, name=f"dcgan_discriminator_{head}")
    return spectral_normalize(model) if spectral_norm else model


@keras.saving.register_keras_serializable(package="kgan")
class DCGAN(ArchitectureGAN, GAN):
    """DCGAN with either discriminator head; train with Adam(2e-4, beta_1=0.5).

    Args:
      image_shape: (S, S, C) square images (28x28x1 for MNIST, 64x64xC as in the paper).
      latent_dim: size of z (100 in the paper).
      head: "sigmoid" (dense(1) + sigmoid) or "softmax" (dense(2) + softmax).
      generator_filters: G's last hidden width (64 in the PyTorch reference).
      discriminator_filters: D's first conv width.
      kernel_size: conv kernel size (5 as in the paper's code).
      latent_distribution: "normal" or "uniform".
      seed: seed of the latent noise.
      precision: the networks' dtype policy, e.g. "mixed_bfloat16" (None:
        Keras' global policy); outputs stay float32.
      spectral_norm: spectrally normalize D's conv and dense layers.
      **kwargs: passed to `keras.Model`.
    """

    family_name = "dcgan"

    def __init__(self, image_shape=(28, 28, 1), latent_dim=100, head="sigmoid", generator_filters=64,
                 discriminator_filters=64, kernel_size=5, latent_distribution="normal", seed=None, precision=None,
                 spectral_norm=False, **kwargs):
        image_shape = check_image_shape(image_shape)
        precision = check_precision(precision)
        arch = {"image_shape": image_shape, "head": head, "generator_filters": generator_filters,
                "discriminator_filters": discriminator_filters, "kernel_size": kernel_size, "precision": precision,
                "spectral_norm": bool(spectral_norm)}
        super().__init__(
            generator=build_dcgan_generator(latent_dim, image_shape, generator_filters, kernel_size,
                                            dtype=precision),
            discriminator=build_dcgan_discriminator(image_shape, discriminator_filters, kernel_size, head,
                                                    dtype=precision, spectral_norm=spectral_norm),
            latent_dim=latent_dim, latent_distribution=latent_distribution, seed=seed, **kwargs)
        self._arch = arch
