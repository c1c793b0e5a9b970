"""The networks whose features the sample metrics are computed on: kgan's MNIST classifier, and InceptionV3.

A `FeatureExtractor` maps images in [-1, 1] to ``(logits, features)``. The
shipped MNIST classifier (`kgan.evaluation.classifier`) scores 28x28x1 images;
`inception_v3` scores any image: resized (bilinear) to 299x299, grayscale
repeated to RGB, through `keras.applications.InceptionV3` -> its 2048-d average
pool (FID, KID, precision/recall) and its 1000 ImageNet logits (Inception Score).
Keras' InceptionV3 is not the TF-Slim graph published FIDs were computed with, so
kgan's FIDs compare with each other, not with numbers in papers.
"""

import dataclasses
import os

import keras
import numpy as np
import tensorflow as tf

from kgan.data import download
from kgan.evaluation import classifier as classifier_lib

__all__ = ["FeatureExtractor", "INCEPTION_SIZE", "INCEPTION_WEIGHTS_URL", "mnist_classifier", "inception_v3",
           "inception_weights_file",
           "default_extractor"]

INCEPTION_SIZE = 299
INCEPTION_WEIGHTS_FILE = "inception_v3_weights_tf_dim_ordering_tf_kernels.h5"
INCEPTION_WEIGHTS_URL = f"https://storage.googleapis.com/tensorflow/keras-applications/inception_v3/{INCEPTION_WEIGHTS_FILE}"
EXTRACTORS = ("auto", "classifier", "inception")
_MODELS = {}  # weights key -> model: built once per process


@dataclasses.dataclass(frozen=True)
class FeatureExtractor:
    """Images -> (logits, features), with the names the results print.

    Attributes:
      kind: "classifier" (the shipped MNIST classifier) or "inception".
      name: what printed numbers say they were computed with.
      key: identifies the network and its weights (the real-feature cache key).
      model: a Keras model ``images -> [logits, features]``.
      image_shape: the only shape accepted, or None for any.
      batch_size: images per forward pass.
    """

    kind: str
    name: str
    key: str
    model: object
    image_shape: tuple = None
    batch_size: int = 256

    def check(self, image_shape, what="The model"):
        """Raises ValueError if images of ``image_shape`` cannot be scored."""
        shape = tuple(int(d) for d in image_shape)
        if self.image_shape is not None and shape != tuple(self.image_shape):
            raise ValueError(
                f"{what} makes {'x'.join(map(str, shape))} images, but the shipped evaluation classifier is for "
                "28x28x1 MNIST-like images (kgan.evaluation.classifier); score other images with InceptionV3 "
                "(--feature_extractor inception).")
        if len(shape) != 3 or shape[2] not in (1, 3):
            raise ValueError(f"{what} makes {shape} images; only 1- or 3-channel images can be scored.")
        return shape

    def __call__(self, images):
        """(logits float64 ``[N, K]``, features float64 ``[N, D]``) of images ``[N, H, W, C]`` in [-1, 1]."""
        images = np.asarray(images, np.float32)
        self.check(images.shape[1:], "The image array")
        if not np.all(np.isfinite(images)) or np.abs(images).max(initial=0.0) > 1.0 + 1e-3:
            raise ValueError("Images must be finite and in [-1, 1] (pixels / 127.5 - 1).")
        logits, features = [], []
        for start in range(0, len(images), self.batch_size):
            out = self.model.predict_on_batch(images[start:start + self.batch_size])
            logits.append(np.asarray(out[0], np.float64))
            features.append(np.asarray(out[1], np.float64))
        return np.concatenate(logits), np.concatenate(features)


def mnist_classifier():
    """The shipped MNIST classifier: 10 logits and its 128-d penultimate features, 28x28x1 only."""
    if "classifier" not in _MODELS:
        _MODELS["classifier"] = classifier_lib.classifier_features(classifier_lib.load_mnist_classifier())
    return FeatureExtractor("classifier", "kgan MNIST classifier (128-d features)", "mnist_classifier",
                            _MODELS["classifier"], tuple(classifier_lib.IMAGE_SHAPE))


def _weights_key(weights):
    if weights is None:
        return "random"
    if weights == "imagenet":
        return "imagenet"
    stat = os.stat(weights)
    return f"{os.path.abspath(weights)}:{stat.st_size}:{stat.st_mtime_ns}"


def _cached_imagenet_weights():
    keras_home = os.environ.get("KERAS_HOME", os.path.join(os.path.expanduser("~"), ".keras"))
    return os.path.join(keras_home, "models", INCEPTION_WEIGHTS_FILE)


def inception_weights_file(weights):
    """The local weights file for ``weights`` ("imagenet": Keras' cached download), checked before any building."""
    if weights == "imagenet":
        path = _cached_imagenet_weights()
        if os.path.exists(path):
            return path
        try:
            download.check_network([download.proxied_address("https", "storage.googleapis.com", 443)])
            return keras.utils.get_file(INCEPTION_WEIGHTS_FILE, INCEPTION_WEIGHTS_URL, cache_subdir="models",
                                        file_hash="9a0d58056eeedaa3f26cb7ebd46da564")
        except Exception as error:  # pylint: disable=broad-except  (offline, proxy, partial download)
            raise ValueError(
                f"The InceptionV3 ImageNet weights are not cached ({path}) and cannot be downloaded "
                f"({' '.join(str(error).split())[:200]}): connect to the internet, or download "
                f"{INCEPTION_WEIGHTS_URL} elsewhere and pass --inception_weights PATH "
                "(inception_weights=PATH).") from None
    if weights is not None and not os.path.isfile(weights):
        raise FileNotFoundError(f"--inception_weights {weights} does not exist: pass the InceptionV3 weights file "
                                f"({INCEPTION_WEIGHTS_FILE}, from {INCEPTION_WEIGHTS_URL}).")
    return weights


def _build_inception(weights):
    path = inception_weights_file(weights)
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("float32")  # metrics must not depend on a training run's mixed precision
    try:
        body = keras.applications.InceptionV3(include_top=True, weights=None, classifier_activation=None,
                                              input_shape=(INCEPTION_SIZE, INCEPTION_SIZE, 3))
    finally:
        keras.config.set_dtype_policy(previous)
    if path is not None:
        try:
            body.load_weights(path)
        except Exception as error:  # pylint: disable=broad-except  (wrong file, truncated file)
            raise ValueError(f"{path} is not a weights file of Keras' InceptionV3 with its top "
                             f"({' '.join(str(error).split())[:200]}): pass {INCEPTION_WEIGHTS_FILE}.") from None
    pool = body.get_layer("avg_pool").output
    images = keras.Input((None, None, None), name="images")
    rgb = keras.layers.Lambda(_to_inception_input, name="to_299_rgb")(images)
    logits, features = keras.Model(body.inputs, [body.outputs[0], pool])(rgb)
    return keras.Model(images, [logits, features], name="inception_v3_features")


def _to_inception_input(images):
    images = tf.cond(tf.equal(tf.shape(images)[-1], 1), lambda: tf.image.grayscale_to_rgb(images[..., :1]),
                     lambda: images[..., :3])
    # [-1, 1] is InceptionV3's own input range (keras.applications.inception_v3.preprocess_input).
    return tf.image.resize(images, (INCEPTION_SIZE, INCEPTION_SIZE), method="bilinear")


def inception_v3(weights="imagenet"):
    """InceptionV3 features for any image size or channel count.

    Args:
      weights: "imagenet" (downloaded and cached by Keras, under ~/.keras/models), a path to
        the Keras InceptionV3 weights file, or None for random weights (tests only: the numbers mean nothing).

    Returns:
      A `FeatureExtractor` (1000 ImageNet logits, 2048-d pool features).

    Raises:
      ValueError / FileNotFoundError: the weights cannot be had (offline and not cached, a bad file).
    """
    key = _weights_key(weights) if weights in (None, "imagenet") or os.path.exists(weights) else weights
    if key not in _MODELS:
        _MODELS[key] = _build_inception(weights)
    label = {"random": "RANDOM weights: not a quality measure", "imagenet": "ImageNet weights"}.get(
        key, f"weights {os.path.basename(str(weights))}")
    return FeatureExtractor("inception", f"InceptionV3 pool_3 (2048-d, {label})", f"inception_v3:{key}",
                            _MODELS[key], None, batch_size=50)


def default_extractor(image_shape, kind="auto", inception_weights="imagenet"):
    """The feature extractor for images of ``image_shape``: the MNIST classifier for 28x28x1, else InceptionV3.

    Args:
      image_shape: (H, W, C) of the images to score.
      kind: "auto", "classifier" or "inception".
      inception_weights: see `inception_v3`.
    """
    if kind not in EXTRACTORS:
        raise ValueError(f"feature extractor must be one of {', '.join(EXTRACTORS)}, got {kind!r}.")
    mnist_like = tuple(int(d) for d in image_shape) == tuple(classifier_lib.IMAGE_SHAPE)
    if kind == "classifier" or (kind == "auto" and mnist_like):
        return mnist_classifier()
    return inception_v3(inception_weights)
