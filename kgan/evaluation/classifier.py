"""A small MNIST classifier shipped with kgan, for scoring GAN samples.

Inception weights cannot be downloaded everywhere, so (like TF-GAN's MNIST
evaluation) kgan scores MNIST-like samples with its own small CNN:

  * conditional-GAN accuracy: the fraction of samples generated for label y
    that `predict_labels` classifies as y;
  * classifier score / Frechet distance on the penultimate "features" layer
    (`classifier_features`).

The weights live in `kgan/assets/mnist_classifier.weights.h5` and are made by
`python bench/train_mnist_classifier.py` (seeded, 3 epochs; 99.3% MNIST test
accuracy).

Architecture (input [N, 28, 28, 1] float in [-1, 1], 197k parameters, all ReLU)::

  conv3x3(32) conv3x3(32) maxpool  conv3x3(64) conv3x3(64) maxpool  maxpool(same)
  flatten(4x4x64)  dense(128) "features"  dropout  dense(10) "logits"
"""

from __future__ import annotations

import functools
import os
import warnings
from typing import Optional

import keras
import numpy as np

__all__ = [
    "IMAGE_SHAPE",
    "NUM_CLASSES",
    "FEATURES_LAYER",
    "FEATURES_DIM",
    "WEIGHTS_FILE",
    "TRAIN_SCRIPT",
    "default_weights_path",
    "build_mnist_classifier",
    "load_mnist_classifier",
    "classifier_features",
    "predict_labels",
]

IMAGE_SHAPE = (28, 28, 1)
NUM_CLASSES = 10
FEATURES_LAYER = "features"
FEATURES_DIM = 128
WEIGHTS_FILE = "mnist_classifier.weights.h5"
TRAIN_SCRIPT = "bench/train_mnist_classifier.py"
# Inputs may exceed [-1, 1] by this much (float round-off of x / 127.5 - 1).
_RANGE_TOLERANCE = 1e-3
_REGENERATE = (
    f"Regenerate it from the kgan repository root with `python {TRAIN_SCRIPT}` "
    f"(writes kgan/assets/{WEIGHTS_FILE}; needs MNIST imported, see zoo.import_data)."
)


def default_weights_path() -> str:
    """Path of the weights file shipped in the package (`kgan/assets/`).

    Returns:
      Absolute path of `kgan/assets/mnist_classifier.weights.h5` (it may not exist).
    """
    return os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "assets", WEIGHTS_FILE)


def build_mnist_classifier(dropout: float = 0.3, name: str = "mnist_classifier",
                           dtype: str = "float32") -> keras.Model:
    """Builds the (untrained) MNIST classifier architecture.

    Args:
      dropout: dropout rate between the "features" layer and the logits (active
        in training only).
      name: model name.
      dtype: every layer's dtype policy: float32 by default, whatever Keras'
        global policy, so that a mixed-precision training run scores like any other.

    Returns:
      Functional `keras.Model`: images [N, 28, 28, 1] in [-1, 1] -> logits
      [N, 10]. The penultimate layer (128-d, ReLU) is named "features".
    """
    inputs = keras.Input(IMAGE_SHAPE, name="images")
    x = inputs
    for i, filters in enumerate((32, 64)):
        x = keras.layers.Conv2D(filters, 3, padding="same", activation="relu", name=f"conv{i}a", dtype=dtype)(x)
        x = keras.layers.Conv2D(filters, 3, padding="same", activation="relu", name=f"conv{i}b", dtype=dtype)(x)
        x = keras.layers.MaxPooling2D(2, name=f"pool{i}", dtype=dtype)(x)  # 28 -> 14 -> 7
    x = keras.layers.MaxPooling2D(2, padding="same", name="pool2", dtype=dtype)(x)  # 7 -> 4
    x = keras.layers.Flatten(name="flatten", dtype=dtype)(x)  # 4 * 4 * 64 = 1024
    features = keras.layers.Dense(FEATURES_DIM, activation="relu", name=FEATURES_LAYER, dtype=dtype)(x)
    x = keras.layers.Dropout(dropout, name="dropout", dtype=dtype)(features)
    logits = keras.layers.Dense(NUM_CLASSES, name="logits", dtype=dtype)(x)
    return keras.Model(inputs, logits, name=name)


def load_mnist_classifier(path: Optional[str] = None, dtype: str = "float32") -> keras.Model:
    """Builds the classifier and loads trained weights.

    Args:
      path: a `.weights.h5` file; defaults to the weights shipped with kgan
        (`default_weights_path()`).
      dtype: the layers' dtype policy (see `build_mnist_classifier`).

    Returns:
      The trained classifier (images in [-1, 1] -> logits), not compiled.

    Raises:
      FileNotFoundError: the weights file does not exist.
      ValueError: the file is corrupt, not a Keras weights file, holds
        weights of another architecture, or NaN/Inf values.
    """
    path = os.path.abspath(os.path.expanduser(os.fspath(path))) if path is not None else default_weights_path()
    if not os.path.isfile(path):
        raise FileNotFoundError(f"MNIST classifier weights not found: {path}. {_REGENERATE}")
    if not path.endswith(".weights.h5"):
        raise ValueError(f"MNIST classifier weights must be a Keras `.weights.h5` file, got {path}.")
    model = build_mnist_classifier(dtype=dtype)
    before = [keras.ops.convert_to_numpy(v).copy() for v in model.weights]
    try:
        # Keras warns about mismatched containers before it fails; on failure
        # the ValueError below says it all, on success the warnings are re-emitted.
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            model.load_weights(path)
    except Exception as e:  # h5py OSError on garbage, ValueError on mismatches, ...
        raise ValueError(
            f"Cannot load MNIST classifier weights from {path}: the file is corrupt or was "
            f"written for another architecture ({type(e).__name__}: {e}). {_REGENERATE}"
        ) from e
    for w in caught:
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    # Keras only warns on some partial mismatches; make sure every variable was set.
    unchanged = [v.path for v, b in zip(model.weights, before) if np.array_equal(keras.ops.convert_to_numpy(v), b)
                 and not np.all(b == 0)]
    if unchanged:
        raise ValueError(
            f"MNIST classifier weights in {path} do not match the architecture: "
            f"{', '.join(unchanged)} were not loaded. {_REGENERATE}"
        )
    bad = [v.path for v in model.weights if not np.all(np.isfinite(keras.ops.convert_to_numpy(v)))]
    if bad:
        raise ValueError(f"MNIST classifier weights in {path} hold NaN/Inf values ({', '.join(bad)}). "
                         f"{_REGENERATE}")
    return model


@functools.lru_cache(maxsize=1)
def _default_classifier() -> keras.Model:
    return load_mnist_classifier()


def classifier_features(model: Optional[keras.Model] = None) -> keras.Model:
    """A model returning the classifier's logits and penultimate features.

    Args:
      model: a classifier from `build_mnist_classifier` / `load_mnist_classifier`;
        defaults to a freshly loaded shipped classifier.

    Returns:
      `keras.Model`: images [N, 28, 28, 1] in [-1, 1] -> (logits [N, 10],
      features [N, 128]), sharing the classifier's layers.
    """
    if model is None:
        model = load_mnist_classifier()
    try:
        features = model.get_layer(FEATURES_LAYER).output
    except ValueError as e:
        raise ValueError(
            f"Model {model.name!r} has no {FEATURES_LAYER!r} layer; pass a model made by "
            "kgan.classifier.build_mnist_classifier / load_mnist_classifier."
        ) from e
    return keras.Model(model.input, [model.outputs[0], features], name=f"{model.name}_features")


def _check_images(images) -> np.ndarray:
    """Validates classifier input; returns float32 [N, 28, 28, 1]."""
    images = keras.ops.convert_to_numpy(images) if not isinstance(images, np.ndarray) else images
    if images.ndim == 3 and images.shape[1:] == IMAGE_SHAPE[:2]:
        images = images[..., None]  # [N, 28, 28] -> [N, 28, 28, 1]
    if images.ndim != 4 or images.shape[1:] != IMAGE_SHAPE:
        raise ValueError(
            f"Images must have shape [N, 28, 28, 1] (or [N, 28, 28]), got {list(images.shape)}."
        )
    if images.dtype == bool or not np.issubdtype(images.dtype, np.floating):
        raise ValueError(
            f"Images must be floating point in [-1, 1], got dtype {images.dtype.name}: "
            "scale uint8 images with images / 127.5 - 1."
        )
    images = images.astype(np.float32, copy=False)
    if images.size:
        if not np.all(np.isfinite(images)):
            raise ValueError("Images contain NaN or Inf values.")
        lo, hi = float(images.min()), float(images.max())
        if lo < -1 - _RANGE_TOLERANCE or hi > 1 + _RANGE_TOLERANCE:
            raise ValueError(
                f"Images must be in [-1, 1], got values in [{lo:g}, {hi:g}]: scale 0..255 "
                "images with images / 127.5 - 1, [0, 1] images with images * 2 - 1."
            )
    return images


def predict_labels(images, model: Optional[keras.Model] = None, batch_size: int = 256) -> np.ndarray:
    """Classifies MNIST-like images.

    Args:
      images: float array / tensor [N, 28, 28, 1] (or [N, 28, 28]) in [-1, 1].
      model: classifier (images -> logits); defaults to the shipped classifier
        (loaded once and cached).
      batch_size: images per forward pass (positive int).

    Returns:
      int32 numpy array [N] of predicted labels 0..9.

    Raises:
      ValueError: wrong shape, non-float dtype (e.g. uint8 0..255), values
        outside [-1, 1], NaN/Inf, or a bad batch_size.
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size <= 0:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}.")
    images = _check_images(images)
    if len(images) == 0:
        return np.zeros((0,), np.int32)
    if model is None:
        model = _default_classifier()
    labels = []
    for start in range(0, len(images), batch_size):
        logits = keras.ops.convert_to_numpy(model(images[start:start + batch_size], training=False))
        labels.append(np.argmax(logits, axis=-1))
    return np.concatenate(labels).astype(np.int32)
