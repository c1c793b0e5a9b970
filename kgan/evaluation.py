"""Scores a GAN's samples with kgan's shipped MNIST classifier (no Inception weights needed).

``evaluate(source)`` draws samples from a model and compares them with real
MNIST test images through the classifier of `kgan.classifier` (TF-GAN's MNIST
practice): the classifier score (Inception-Score formula, on its logits), the
Frechet distance (FID formula, on its 128-d penultimate features), improved
precision/recall (k=3) and density/coverage (k=5) on the same features, plus
the label accuracy of a CGAN and the code->class accuracy of an InfoGAN.
``reference_metrics()`` scores real TRAIN images the same way: what a
generator that reproduces the training distribution would get, to print
alongside. Every number comes with its sample sizes (Frechet distances are
biased upward at small n: compare values at equal sizes only).

A model is read through a `Sampler`: from a `kgan.GAN`, a zoo run directory or
a ``.keras`` file (`GANSampler`), or a SavedModel export directory through its
``sample`` signature and ``kgan_metadata.json``, without kgan's Keras classes
(`SavedModelSampler`). ``open_sampler(source)`` picks one.

Sampling protocol (``sample(num_images, seed)``): batches of `BATCH_SIZE`,
batch i drawn with seed ``SeedSequence([seed, i])``; CGAN labels are
balanced (``i % num_classes``); InfoGAN categories are balanced from a Keras
model, uniformly random from an export (drawn by its ``sample`` signature).
The same seed gives the same samples from the same source. A model and its
export are not guaranteed to draw the same latents (today they agree for
unconditional models, whose z both come from a stateless ``[seed, 0]`` stream,
and differ for CGAN/InfoGAN).
"""

import os
import time

import numpy as np

from kgan import classifier as classifier_lib
from kgan import metrics
from kgan.export import find_export_dir, open_export

__all__ = [
    "BATCH_SIZE",
    "PRECISION_RECALL_K",
    "DENSITY_COVERAGE_K",
    "Sampler",
    "GANSampler",
    "SavedModelSampler",
    "open_sampler",
    "find_export_dir",
    "check_image_shape",
    "real_images",
    "classify",
    "score",
    "evaluate",
    "reference_metrics",
    "format_table",
]

BATCH_SIZE = 500
PRECISION_RECALL_K = 3
DENSITY_COVERAGE_K = 5
_SOURCE_HINT = ("pass a zoo run directory (holding model.keras), a .keras file, or a SavedModel export "
                "directory (exports/<name>/<version>, or exports/<name> for its latest version)")


def _check_count(name, value, minimum=1):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}.")
    return int(value)


def _batch_seed(seed, index):
    """A 31-bit seed for batch ``index`` of a draw with ``seed``."""
    return int(np.random.SeedSequence([int(seed), int(index)]).generate_state(1)[0] % (2 ** 31 - 1))


def _batches(num_images, batch_size=BATCH_SIZE):
    for index, start in enumerate(range(0, num_images, batch_size)):
        yield index, start, min(start + batch_size, num_images)


def check_image_shape(image_shape, what="The model"):
    """Raises ValueError unless ``image_shape`` is the classifier's 28x28x1.

    Args:
      image_shape: (H, W, C) of the images to score.
      what: how to name their source in the message.
    """
    shape = tuple(int(d) for d in image_shape)
    if shape != tuple(classifier_lib.IMAGE_SHAPE):
        raise ValueError(
            f"{what} makes {'x'.join(map(str, shape))} images, but the shipped evaluation classifier is for "
            "28x28x1 MNIST-like images (kgan.classifier); these metrics cannot score other image shapes.")
    return shape


# ---- samplers -----------------------------------------------------------------


class Sampler:
    """Draws images (and their labels / codes) from a generative model.

    Attributes:
      family: "dcgan", "gan", "cgan" or "infogan" (as in `kgan.export.family`).
      image_shape: (H, W, C).
      num_classes: CGAN's number of classes (None otherwise).
      num_categories: InfoGAN's categorical code size (None otherwise).
      description: where the model came from.
    """

    family = "gan"
    image_shape = None
    num_classes = None
    num_categories = None
    description = ""

    def sample(self, num_images, seed=0):
        """Draws ``num_images`` samples.

        Args:
          num_images: how many (positive int).
          seed: int; the same seed gives the same samples.

        Returns:
          dict: ``"images"`` float32 ``[N, H, W, C]`` in [-1, 1]; for a CGAN
          ``"label"`` int32 ``[N]`` (the conditioning labels, balanced); for an
          InfoGAN ``"categorical_code"`` int32 ``[N]``.
        """
        num_images = _check_count("num_images", num_images)
        parts = [self._sample_batch(start, stop, _batch_seed(seed, index))
                 for index, start, stop in _batches(num_images)]
        return {key: np.concatenate([part[key] for part in parts]) for key in parts[0]}

    def _sample_batch(self, start, stop, seed):
        raise NotImplementedError


class GANSampler(Sampler):
    """Samples a `kgan.GAN` (inference mode).

    Args:
      gan: a `kgan.GAN`.
      description: shown in tables (default: the class name).
    """

    def __init__(self, gan, description=None):
        from kgan import export
        from kgan.gan import GAN

        if not isinstance(gan, GAN):
            raise TypeError(f"Expected a kgan.GAN, got {type(gan).__name__}.")
        self.gan = gan
        self.family = export.family(gan)
        self.image_shape = tuple(gan.image_shape)
        self.num_classes = getattr(gan, "num_classes", None) if self.family == "cgan" else None
        self.num_categories = getattr(gan, "num_categories", None) if self.family == "infogan" else None
        self.description = description or type(gan).__name__

    def latents(self, start, stop, seed):
        """Generator inputs of samples ``start..stop-1`` and their labels/codes (dict of numpy)."""
        count = stop - start
        balanced = (np.arange(start, stop) % (self.num_classes or self.num_categories or 1)).astype(np.int32)
        if self.family == "cgan":
            return self.gan.sample_latents(count, seed=seed, labels=balanced), {"label": balanced}
        if self.family == "infogan":
            return self.gan.sample_latents(count, seed=seed, categories=balanced), {"categorical_code": balanced}
        return self.gan.sample_latents(count, seed=seed), {}

    def _sample_batch(self, start, stop, seed):
        import keras

        latents, extras = self.latents(start, stop, seed)
        images = keras.ops.convert_to_numpy(self.gan.generator(latents, training=False)).astype(np.float32)
        return {"images": images, **extras}


class SavedModelSampler(Sampler):
    """Samples a kgan SavedModel export through its ``sample`` signature.

    Needs only TensorFlow and the export's ``kgan_metadata.json``.

    Args:
      export_dir: a version directory (``exports/<name>/<version>``).
    """

    def __init__(self, export_dir):
        self.metadata, self.loaded = open_export(export_dir, signatures=("sample",))
        self.export_dir = export_dir
        self.family = self.metadata["family"]
        self.image_shape = tuple(self.metadata["image_shape"])
        self.num_classes = self.metadata.get("num_classes") if self.family == "cgan" else None
        self.num_categories = self.metadata.get("num_categories") if self.family == "infogan" else None
        self.description = export_dir

    def _sample_batch(self, start, stop, seed):
        import tensorflow as tf

        inputs = {"num_images": tf.constant(stop - start, tf.int32), "seed": tf.constant(seed, tf.int32)}
        if self.family == "cgan":
            inputs["label"] = tf.constant(np.arange(start, stop) % self.num_classes, tf.int32)
        outputs = self.loaded.signatures["sample"](**inputs)
        result = {"images": outputs["images"].numpy().astype(np.float32)}
        for key in ("label", "categorical_code"):
            if key in outputs:
                result[key] = outputs[key].numpy().astype(np.int32)
        return result


def open_sampler(source):
    """A `Sampler` for a GAN, a run directory / ``.keras`` file or an export directory.

    Args:
      source: a `kgan.GAN`, a `Sampler`, or a path: a zoo run directory
        (``model.keras`` inside), a ``.keras`` file, a SavedModel version
        directory, or an export model directory (its latest version).

    Returns:
      A `Sampler`.

    Raises:
      FileNotFoundError: the path does not exist.
      ValueError: the path is none of the above, or cannot be loaded.
    """
    from kgan.gan import GAN

    if isinstance(source, Sampler):
        return source
    if isinstance(source, GAN):
        return GANSampler(source)
    if not isinstance(source, (str, os.PathLike)):
        raise TypeError(f"source must be a kgan.GAN, a Sampler or a path, got {type(source).__name__}.")
    path = os.fspath(source)
    if not os.path.exists(path):
        raise FileNotFoundError(f"Model path {path} does not exist: {_SOURCE_HINT}.")
    export_dir = find_export_dir(path)
    if export_dir is not None:
        return SavedModelSampler(export_dir)
    if os.path.isdir(path) and not os.path.isfile(os.path.join(path, "model.keras")):
        raise ValueError(f"{path} holds neither model.keras nor a SavedModel: {_SOURCE_HINT}.")
    from kgan import latent

    return GANSampler(latent.load_gan(path), description=path)


# ---- real data and the classifier ------------------------------------------------

_CLASSIFIER = []
_REAL_CACHE = {}


def _classifier():
    """The shipped classifier -> (logits, features), built in float32 whatever the global dtype policy
    (a mixed-precision training run must not change the metrics)."""
    if not _CLASSIFIER:
        import keras

        previous = keras.config.dtype_policy()
        keras.config.set_dtype_policy("float32")
        try:
            _CLASSIFIER.append(classifier_lib.classifier_features(classifier_lib.load_mnist_classifier()))
        finally:
            keras.config.set_dtype_policy(previous)
    return _CLASSIFIER[0]


def classify(images, batch_size=BATCH_SIZE):
    """Logits and penultimate features of the shipped MNIST classifier.

    Args:
      images: float ``[N, 28, 28, 1]`` in [-1, 1].
      batch_size: images per forward pass.

    Returns:
      (logits float64 ``[N, 10]``, features float64 ``[N, 128]``).
    """
    images = np.asarray(images, np.float32)
    check_image_shape(images.shape[1:], "The image array")
    if not np.all(np.isfinite(images)) or np.abs(images).max(initial=0.0) > 1.0 + 1e-3:
        raise ValueError("Images must be finite and in [-1, 1] (pixels / 127.5 - 1).")
    model = _classifier()
    logits, features = [], []
    for _, start, stop in _batches(len(images), batch_size):
        out = model.predict_on_batch(images[start:stop])
        logits.append(np.asarray(out[0], np.float64))
        features.append(np.asarray(out[1], np.float64))
    return np.concatenate(logits), np.concatenate(features)


def _split_size(dataset, split, data_dir):
    from kgan import data

    return int(data.dataset_spec(dataset, data_dir)["num_examples"][split])


def real_images(split="test", num_images=None, seed=0, dataset="mnist", data_dir=None, image_size=None):
    """Real images with labels: the whole split, or a seeded random subset of it.

    Args:
      split: "train" or "test".
      num_images: how many (None or more than the split holds: all, in order).
      seed: seed of the subset.
      dataset: tfds dataset prepared in the data dir (see `kgan.data`).
      data_dir: tfds data dir (default: kgan's).
      image_size: resize to this square size (None: as stored).

    Returns:
      (images float32 ``[N, H, W, C]`` in [-1, 1], labels int32 ``[N]``).
    """
    from kgan import data

    total = _split_size(dataset, split, data_dir)
    if num_images is None or num_images >= total:
        keep = None
    else:
        keep = np.zeros(total, bool)
        keep[np.random.default_rng(seed).choice(total, _check_count("num_images", num_images), replace=False)] = True
    ds = data.load_images(dataset, split, batch_size=1000, image_size=image_size, with_labels=True,
                          data_dir=data_dir, shuffle=False, drop_remainder=False, cache=False)
    images, labels, offset = [], [], 0
    for batch_images, batch_labels in ds.as_numpy_iterator():
        count = len(batch_labels)
        mask = slice(None) if keep is None else keep[offset:offset + count]
        images.append(batch_images[mask])
        labels.append(batch_labels[mask])
        offset += count
    return np.concatenate(images).astype(np.float32), np.concatenate(labels).astype(np.int32)


def _real_scores(split, num_images, seed, dataset, data_dir):
    """Cached classifier outputs of real images: dict(logits, features, labels)."""
    from kgan import data

    key = (split, num_images, seed, dataset, os.path.abspath(os.path.expanduser(data_dir or data.default_data_dir())))
    if key not in _REAL_CACHE:
        images, labels = real_images(split, num_images, seed, dataset, data_dir)
        check_image_shape(images.shape[1:], f"The {dataset} dataset")
        logits, features = classify(images)
        _REAL_CACHE[key] = {"logits": logits, "features": features, "labels": labels}
    return _REAL_CACHE[key]


# ---- the metric table ------------------------------------------------------------


def score(fake_logits, fake_features, real_features, labels=None, categorical_codes=None, num_categories=None):
    """Every applicable metric, each with its sample sizes.

    Args:
      fake_logits: classifier logits of the samples ``[N, 10]``.
      fake_features: classifier features of the samples ``[N, D]``.
      real_features: classifier features of the real reference set ``[M, D]``.
      labels: the samples' conditioning labels (CGAN) -> ``label_accuracy``.
      categorical_codes: the samples' categorical codes (InfoGAN) -> ``code_accuracy``.
      num_categories: the code's number of categories.

    Returns:
      dict: ``num_samples``, ``num_real`` and one entry per metric, a dict with
      ``value`` and the sizes it was computed on (``num_samples``, ``num_real``,
      ``k``): classifier_score, frechet_distance, precision, recall, density,
      coverage (+ label_accuracy, code_accuracy with its ``mapping``).
    """
    n, m = len(fake_features), len(real_features)
    sizes = {"num_samples": n, "num_real": m}
    predicted = np.argmax(fake_logits, axis=1).astype(np.int32)
    precision, recall = metrics.precision_recall(real_features, fake_features, PRECISION_RECALL_K)
    density, coverage = metrics.density_coverage(real_features, fake_features, DENSITY_COVERAGE_K)
    result = {
        **sizes,
        "classifier_score": {"value": metrics.classifier_score(fake_logits), "num_samples": n},
        "frechet_distance": {"value": metrics.frechet_distance(fake_features, real_features), **sizes},
        "precision": {"value": precision, "k": PRECISION_RECALL_K, **sizes},
        "recall": {"value": recall, "k": PRECISION_RECALL_K, **sizes},
        "density": {"value": density, "k": DENSITY_COVERAGE_K, **sizes},
        "coverage": {"value": coverage, "k": DENSITY_COVERAGE_K, **sizes},
    }
    if labels is not None:
        result["label_accuracy"] = {"value": metrics.label_accuracy(predicted, np.asarray(labels)), "num_samples": n}
    if categorical_codes is not None:
        accuracy, mapping = metrics.best_one_to_one_accuracy(
            np.asarray(categorical_codes), predicted, int(num_categories), classifier_lib.NUM_CLASSES)
        result["code_accuracy"] = {"value": accuracy, "num_samples": n, "mapping": mapping}
    return result


def _check_sizes(num_samples):
    num_samples = _check_count("num_samples", num_samples)
    if num_samples <= DENSITY_COVERAGE_K:
        raise ValueError(f"num_samples must be > {DENSITY_COVERAGE_K} (the k of density/coverage), "
                         f"got {num_samples}.")
    return num_samples


def evaluate(source, num_samples=10000, seed=0, data_dir=None, dataset="mnist", num_real=None):
    """Scores a model's samples against real test images.

    Args:
      source: a `kgan.GAN`, a `Sampler`, a run directory / ``.keras`` file or
        an export directory (see `open_sampler`).
      num_samples: generated samples.
      seed: seed of the samples (and of the real subset, if one is drawn).
      data_dir: tfds data dir holding the dataset (default: kgan's).
      dataset: the real data (the classifier is trained on "mnist").
      num_real: real test images (default: ``min(num_samples, test size)``,
        all 10000 for MNIST at the default ``num_samples``; a seeded subset
        when smaller).

    Returns:
      dict of `score`'s entries plus ``model`` (description), ``family``,
      ``seed`` and ``wall_time_s``.

    Raises:
      ValueError: not 28x28x1 images, too few samples, an unloadable model.
      FileNotFoundError: a missing path. `kgan.data.DataNotFoundError`: the
        dataset is not prepared.
    """
    start = time.time()
    num_samples = _check_sizes(num_samples)
    sampler = open_sampler(source)
    check_image_shape(sampler.image_shape, f"The model {sampler.description}")
    num_real = min(num_samples, _split_size(dataset, "test", data_dir)) if num_real is None else _check_sizes(num_real)
    real = _real_scores("test", num_real, seed, dataset, data_dir)
    samples = sampler.sample(num_samples, seed)
    logits, features = classify(samples["images"])
    result = score(logits, features, real["features"], labels=samples.get("label"),
                   categorical_codes=samples.get("categorical_code"), num_categories=sampler.num_categories)
    return {"model": sampler.description, "family": sampler.family, "seed": seed, **result,
            "wall_time_s": time.time() - start}


def reference_metrics(num_samples=10000, data_dir=None, seed=0, dataset="mnist", num_real=None):
    """The metrics of real TRAIN images scored as if they were samples, against the real test set.

    What a generator reproducing the training distribution would score, at
    the same sample sizes as `evaluate` (use the same ``num_samples``, ``seed``
    and ``num_real``). ``label_accuracy`` is the classifier's accuracy on
    those train images (the best a CGAN can score).

    Returns:
      dict like `evaluate`'s, with ``model`` "real train images" and ``family`` "real".
    """
    start = time.time()
    num_samples = _check_sizes(num_samples)
    num_real = min(num_samples, _split_size(dataset, "test", data_dir)) if num_real is None else _check_sizes(num_real)
    real = _real_scores("test", num_real, seed, dataset, data_dir)
    train = _real_scores("train", num_samples, seed, dataset, data_dir)
    result = score(train["logits"], train["features"], real["features"], labels=train["labels"])
    return {"model": f"real {dataset} train images (reference)", "family": "real", "seed": seed, **result,
            "wall_time_s": time.time() - start}


_COLUMNS = (("classifier_score", "CS", "{:.3f}"), ("frechet_distance", "FD", "{:.3f}"),
            ("precision", "P", "{:.3f}"), ("recall", "R", "{:.3f}"), ("density", "D", "{:.3f}"),
            ("coverage", "C", "{:.3f}"), ("label_accuracy", "label", "{:.4f}"), ("code_accuracy", "code", "{:.4f}"))


def format_table(results):
    """A plain-text table of `evaluate` / `reference_metrics` results, one row each.

    Columns: n_fake (samples), n_real (real test images), CS (classifier score,
    higher is better, 10 max), FD (Frechet distance, lower is better), P/R
    (precision/recall, k=3), D/C (density/coverage, k=5), label (CGAN label
    accuracy), code (InfoGAN code->class accuracy), time (s). "-" = not
    applicable.
    """
    header = ["model", "n_fake", "n_real"] + [short for _, short, _ in _COLUMNS] + ["time_s"]
    rows = []
    for result in results:
        row = [str(result["model"]), str(result["num_samples"]), str(result["num_real"])]
        row += [fmt.format(result[key]["value"]) if key in result else "-" for key, _, fmt in _COLUMNS]
        row.append(f"{result.get('wall_time_s', float('nan')):.1f}")
        rows.append(row)
    widths = [max(len(r[i]) for r in [header] + rows) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(r, widths)))
             for r in [header] + rows]
    legend = (f"CS: classifier score (Inception-Score formula, shipped MNIST classifier, max 10); FD: Frechet "
              f"distance on its 128-d features (lower is better; biased at small n); P/R: precision/recall "
              f"(k={PRECISION_RECALL_K}); D/C: density/coverage (k={DENSITY_COVERAGE_K}); label: CGAN samples "
              f"classified as their label; code: InfoGAN code->class accuracy (best one-to-one map); n_fake "
              f"samples vs n_real real test images.")
    return "\n".join(lines + [legend])
