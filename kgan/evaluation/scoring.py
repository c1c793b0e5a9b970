"""Scores a GAN's samples with kgan's shipped MNIST classifier (no Inception weights needed).

``evaluate(source)`` draws samples from a model (`kgan.evaluation.sampling`)
and compares them with real MNIST test images through the classifier of
`kgan.evaluation.classifier` (TF-GAN's MNIST practice): the classifier score
(Inception-Score formula, on its logits), the Frechet distance (FID formula,
on its 128-d penultimate features), improved precision/recall (k=3) and
density/coverage (k=5) on the same features, plus the label accuracy of every
class-label input and the code->class accuracy of every categorical code the
model's contract declares. ``reference_metrics()`` scores real TRAIN images
the same way: what a generator that reproduces the training distribution would
get, to print alongside. Every number comes with its sample sizes (Frechet
distances are biased upward at small n: compare values at equal sizes only).
"""

import time

import numpy as np

from kgan.checks import check_count
from kgan.data import pipeline
from kgan.evaluation import classifier as classifier_lib
from kgan.evaluation import metrics
from kgan.evaluation.sampling import BATCH_SIZE, batches, open_sampler

__all__ = [
    "PRECISION_RECALL_K",
    "DENSITY_COVERAGE_K",
    "check_image_shape",
    "real_images",
    "classify",
    "score",
    "evaluate",
    "reference_metrics",
    "format_table",
]

PRECISION_RECALL_K = 3
DENSITY_COVERAGE_K = 5


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
            "28x28x1 MNIST-like images (kgan.evaluation.classifier); these metrics cannot score other image shapes.")
    return shape


# ---- real data and the classifier ------------------------------------------------

_CLASSIFIER = []
_REAL_CACHE = {}


def _classifier():
    """The shipped classifier -> (logits, features); its layers are float32 whatever the global dtype
    policy (a mixed-precision training run must not change the metrics)."""
    if not _CLASSIFIER:
        _CLASSIFIER.append(classifier_lib.classifier_features(classifier_lib.load_mnist_classifier()))
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
    for _, start, stop in batches(len(images), batch_size):
        out = model.predict_on_batch(images[start:stop])
        logits.append(np.asarray(out[0], np.float64))
        features.append(np.asarray(out[1], np.float64))
    return np.concatenate(logits), np.concatenate(features)


def real_images(split="test", num_images=None, seed=0, dataset="mnist", data_dir=None, image_size=None):
    """Real images with labels: the whole split, or a seeded random subset of it.

    Args:
      split: a tfds split, e.g. "test" or "train[-5000:]".
      num_images: how many (None or more than the split holds: all, in order).
      seed: seed of the subset.
      dataset: tfds dataset prepared in the data dir (see `kgan.data`).
      data_dir: tfds data dir (default: kgan's).
      image_size: resize to this square size (None: as stored).

    Returns:
      (images float32 ``[N, H, W, C]`` in [-1, 1], labels int32 ``[N]``).
    """
    total = pipeline.split_size(dataset, split, data_dir)
    if num_images is None or num_images >= total:
        keep = None
    else:
        keep = np.zeros(total, bool)
        keep[np.random.default_rng(seed).choice(total, check_count("num_images", num_images), replace=False)] = True
    ds = pipeline.load_images(dataset, split, batch_size=1000, image_size=image_size, with_labels=True,
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
    key = (split, num_images, seed, dataset, pipeline.resolve_data_dir(data_dir))
    if key not in _REAL_CACHE:
        images, labels = real_images(split, num_images, seed, dataset, data_dir)
        check_image_shape(images.shape[1:], f"The {dataset} dataset")
        logits, features = classify(images)
        _REAL_CACHE[key] = {"logits": logits, "features": features, "labels": labels}
    return _REAL_CACHE[key]


# ---- the metric table ------------------------------------------------------------


def score(fake_logits, fake_features, real_features, labels=None, codes=None):
    """Every applicable metric, each with its sample sizes.

    Args:
      fake_logits: classifier logits of the samples ``[N, 10]``.
      fake_features: classifier features of the samples ``[N, D]``.
      real_features: classifier features of the real reference set ``[M, D]``.
      labels: the samples' class labels -> ``label_accuracy``: an int array,
        or ``{input name: ids}`` for several (the first gives ``label_accuracy``,
        the others ``label_accuracy_<name>``).
      codes: the samples' unsupervised categorical codes ->
        ``code_accuracy`` (likewise suffixed): ``{input name: (ids, num_categories)}``.

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
    if labels is not None and not isinstance(labels, dict):
        labels = {"label": labels}
    for index, (name, ids) in enumerate((labels or {}).items()):
        key = "label_accuracy" if index == 0 else f"label_accuracy_{name}"
        result[key] = {"value": metrics.label_accuracy(predicted, np.asarray(ids)), "num_samples": n, "input": name}
    for index, (name, (ids, num_categories)) in enumerate((codes or {}).items()):
        accuracy, mapping = metrics.best_one_to_one_accuracy(
            np.asarray(ids), predicted, int(num_categories), classifier_lib.NUM_CLASSES)
        key = "code_accuracy" if index == 0 else f"code_accuracy_{name}"
        result[key] = {"value": accuracy, "num_samples": n, "mapping": mapping, "input": name}
    return result


def _check_sizes(num_samples):
    num_samples = check_count("num_samples", num_samples)
    if num_samples <= DENSITY_COVERAGE_K:
        raise ValueError(f"num_samples must be > {DENSITY_COVERAGE_K} (the k of density/coverage), "
                         f"got {num_samples}.")
    return num_samples


def _num_real(num_samples, num_real, dataset, data_dir):
    if num_real is None:
        return min(num_samples, pipeline.split_size(dataset, "test", data_dir))
    return _check_sizes(num_real)


def evaluate(source, num_samples=10000, seed=0, data_dir=None, dataset="mnist", num_real=None):
    """Scores a model's samples against real test images.

    Args:
      source: a `kgan.GAN`, a `Sampler`, a `kgan.serving.LoadedGAN`, a run
        directory / ``.keras`` file or an export directory (see `kgan.load`).
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
    num_real = _num_real(num_samples, num_real, dataset, data_dir)
    real = _real_scores("test", num_real, seed, dataset, data_dir)
    samples = sampler.sample(num_samples, seed)
    logits, features = classify(samples["images"])
    contract = sampler.contract
    result = score(logits, features, real["features"],
                   labels={spec.name: samples[spec.name] for spec in contract.class_inputs},
                   codes={spec.name: (samples[spec.name], spec.size) for spec in contract.code_inputs})
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
    num_real = _num_real(num_samples, num_real, dataset, data_dir)
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
    applicable. Accuracies of further class/code inputs are in the results, not the table.
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
