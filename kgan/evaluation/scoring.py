"""Scores a GAN's samples: kgan's shipped MNIST classifier for 28x28x1 images, InceptionV3 for any other.

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
Any other image shape (or ``feature_extractor="inception"``) is scored on
InceptionV3's pool features (`kgan.evaluation.extractors`): Inception Score
(10 splits, mean and std), FID, KID (unbiased, mean and std over subsets) and
precision/recall/density/coverage. The real images' features are cached per
dataset, split, image shape, sample size and feature network, in memory and
under ``<data dir>/kgan_reference_features``.
"""

import dataclasses
import hashlib
import io
import json
import os
import time
import warnings

import numpy as np

from kgan.checks import check_count, write_bytes_atomic
from kgan.data import pipeline
from kgan.evaluation import classifier as classifier_lib
from kgan.evaluation import extractors, metrics
from kgan.evaluation.sampling import BATCH_SIZE, open_sampler

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
INCEPTION_SCORE_SPLITS = 10
KID_SUBSETS = 100
KID_SUBSET_SIZE = 1000


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

_REAL_CACHE = {}


def classify(images, batch_size=BATCH_SIZE):
    """Logits and penultimate features of the shipped MNIST classifier.

    Args:
      images: float ``[N, 28, 28, 1]`` in [-1, 1].
      batch_size: images per forward pass.

    Returns:
      (logits float64 ``[N, 10]``, features float64 ``[N, 128]``).
    """
    return dataclasses.replace(extractors.mnist_classifier(), batch_size=batch_size)(images)


def real_images(split="test", num_images=None, seed=0, dataset="mnist", data_dir=None, image_size=None,
                channels=None):
    """Real images with labels: the whole split, or a seeded random subset of it.

    Args:
      split: a tfds split, e.g. "test" or "train[-5000:]".
      num_images: how many (None or more than the split holds: all, in order).
      seed: seed of the subset.
      dataset: a tfds dataset or an image folder (see `kgan.data.load_images`).
      data_dir: tfds data dir (default: kgan's).
      image_size: crop and resize to this square size (None: as stored).
      channels: convert to 1 or 3 channels (None: as stored).

    Returns:
      (images float32 ``[N, H, W, C]`` in [-1, 1], labels int32 ``[N]``).
    """
    total = pipeline.split_size(dataset, split, data_dir)
    if num_images is None or num_images >= total:
        keep = None
    else:
        keep = np.zeros(total, bool)
        keep[np.random.default_rng(seed).choice(total, check_count("num_images", num_images), replace=False)] = True
    labelled = pipeline.dataset_spec(dataset, data_dir)["num_classes"] is not None
    ds = pipeline.load_images(dataset, split, batch_size=1000, image_size=image_size, with_labels=labelled,
                              data_dir=data_dir, shuffle=False, drop_remainder=False, cache=False, channels=channels)
    images, labels, offset = [], [], 0
    for batch in ds.as_numpy_iterator():
        # Unlabelled data (LSUN, a flat folder) gets label -1.
        batch_images, batch_labels = batch if labelled else (batch, np.full(len(batch), -1, np.int32))
        count = len(batch_labels)
        mask = slice(None) if keep is None else keep[offset:offset + count]
        images.append(batch_images[mask])
        labels.append(batch_labels[mask])
        offset += count
    return np.concatenate(images).astype(np.float32), np.concatenate(labels).astype(np.int32)


def _real_scores(split, num_images, seed, dataset, data_dir, extractor=None, image_shape=(28, 28, 1)):
    """Cached feature-network outputs of real images: dict(logits, features, labels).

    Cached in memory and on disk (``<data dir>/kgan_reference_features/<hash>.npz``, written atomically,
    ignored when unreadable), keyed by the data's signature, split, count, seed, image shape and network.
    """
    extractor = extractor or extractors.mnist_classifier()
    identity = {"data": pipeline.source_signature(dataset, data_dir), "split": split, "num_images": num_images,
                "seed": seed, "image_shape": list(image_shape), "features": extractor.key}
    key = hashlib.sha1(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:24]
    if key in _REAL_CACHE:
        return _REAL_CACHE[key]
    path = os.path.join(pipeline.resolve_data_dir(data_dir), "kgan_reference_features", f"{key}.npz")
    cached = _read_cached_features(path)
    if cached is None:
        height, _, channels = image_shape
        images, labels = real_images(split, num_images, seed, dataset, data_dir, image_size=height, channels=channels)
        extractor.check(images.shape[1:], f"The {dataset} dataset")
        logits, features = extractor(images)
        cached = {"logits": logits, "features": features, "labels": labels}
        _write_cached_features(path, cached, identity)
    _REAL_CACHE[key] = cached
    return cached


def _read_cached_features(path):
    try:
        with np.load(path) as arrays:
            return {name: arrays[name] for name in ("logits", "features", "labels")}
    except (OSError, ValueError, KeyError):
        return None


def _write_cached_features(path, arrays, identity):
    buffer = io.BytesIO()
    np.savez(buffer, identity=json.dumps(identity), **arrays)
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        write_bytes_atomic(path, buffer.getvalue())
    except OSError as error:  # a read-only data dir costs the cache, not the evaluation
        warnings.warn(f"Could not cache the real-image features in {path} ({error}).")


# ---- the metric table ------------------------------------------------------------


def score(fake_logits, fake_features, real_features, labels=None, codes=None, extractor_kind="classifier"):
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
      extractor_kind: "classifier" (the MNIST classifier's logits and features: the label and code
        accuracies apply) or "inception" (ImageNet logits: inception_score, fid and kid instead of
        classifier_score and frechet_distance; no label or code accuracy).

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
    result = {**sizes}
    if extractor_kind == "inception":
        splits = min(INCEPTION_SCORE_SPLITS, n)
        is_mean, is_std = metrics.inception_score(fake_logits, splits)
        kid_mean, kid_std = metrics.kernel_inception_distance(real_features, fake_features, KID_SUBSETS,
                                                              KID_SUBSET_SIZE)
        result.update({
            "inception_score": {"value": is_mean, "std": is_std, "splits": splits, "num_samples": n},
            "fid": {"value": metrics.frechet_distance(fake_features, real_features), **sizes},
            "kid": {"value": kid_mean, "std": kid_std, "subsets": KID_SUBSETS,
                    "subset_size": min(KID_SUBSET_SIZE, n, m), **sizes}})
    else:
        result.update({
            "classifier_score": {"value": metrics.classifier_score(fake_logits), "num_samples": n},
            "frechet_distance": {"value": metrics.frechet_distance(fake_features, real_features), **sizes}})
    result.update({
        "precision": {"value": precision, "k": PRECISION_RECALL_K, **sizes},
        "recall": {"value": recall, "k": PRECISION_RECALL_K, **sizes},
        "density": {"value": density, "k": DENSITY_COVERAGE_K, **sizes},
        "coverage": {"value": coverage, "k": DENSITY_COVERAGE_K, **sizes},
    })
    if extractor_kind == "inception":
        return result
    result.update(_class_metrics(predicted, labels, codes))
    return result


def _class_metrics(predicted, labels, codes):
    """label_accuracy / code_accuracy entries of the samples' predicted classes (see `score`)."""
    n, result = len(predicted), {}
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


def classifier_scores(source, num_samples=2000, seed=0):
    """The metrics that need no real images, for 28x28x1 models: classifier score, label and code accuracies.

    Quick to compute anywhere (no dataset): the shipped presets' cards carry them at 2000 samples so a
    fresh install can check its copy reproduces them.

    Args:
      source: anything `evaluate` takes.
      num_samples: generated samples.
      seed: seed of the samples (the same draw as `evaluate` with this seed).

    Returns:
      dict: ``num_samples``, ``seed``, ``classifier_score`` (+ ``label_accuracy``, ``code_accuracy``),
      entries as in `score`.
    """
    num_samples = _check_sizes(num_samples)
    sampler = open_sampler(source)
    extractor = extractors.default_extractor(sampler.image_shape, "classifier")
    extractor.check(sampler.image_shape, f"The model {sampler.description}")
    samples = sampler.sample(num_samples, seed)
    logits, _ = extractor(samples["images"])
    contract = sampler.contract
    predicted = np.argmax(logits, axis=1).astype(np.int32)
    return {"num_samples": num_samples, "seed": seed,
            "classifier_score": {"value": metrics.classifier_score(logits), "num_samples": num_samples},
            **_class_metrics(predicted, {spec.name: samples[spec.name] for spec in contract.class_inputs},
                             {spec.name: (samples[spec.name], spec.size) for spec in contract.code_inputs})}


def _check_sizes(num_samples):
    num_samples = check_count("num_samples", num_samples)
    if num_samples <= DENSITY_COVERAGE_K:
        raise ValueError(f"num_samples must be > {DENSITY_COVERAGE_K} (the k of density/coverage), "
                         f"got {num_samples}.")
    return num_samples


def _num_real(num_samples, num_real, dataset, data_dir, split):
    if num_real is None:
        return min(num_samples, pipeline.split_size(dataset, split, data_dir))
    return _check_sizes(num_real)


def evaluate(source, num_samples=10000, seed=0, data_dir=None, dataset="mnist", num_real=None, split=None,
             feature_extractor="auto", inception_weights="imagenet"):
    """Scores a model's samples against real images.

    Args:
      source: a `kgan.GAN`, a `Sampler`, a `kgan.serving.LoadedGAN`, a run
        directory / ``.keras`` file or an export directory (see `kgan.load`).
      num_samples: generated samples.
      seed: seed of the samples (and of the real subset, if one is drawn).
      data_dir: tfds data dir holding the dataset (default: kgan's).
      dataset: the real data: a tfds name or an image folder, cropped, resized and
        converted to the model's image shape.
      num_real: real images (default: ``min(num_samples, split size)``,
        all 10000 for MNIST at the default ``num_samples``; a seeded subset
        when smaller).
      split: the real images' split (default: "test", or "train" where there is none, e.g. a folder).
      feature_extractor: "auto" (the MNIST classifier for 28x28x1, else InceptionV3), "classifier"
        or "inception".
      inception_weights: "imagenet", a weights file, or None (random: tests only); see
        `kgan.evaluation.extractors.inception_v3`.

    Returns:
      dict of `score`'s entries plus ``model`` (description), ``family``, ``seed``,
      ``feature_extractor``, ``real_data`` and ``wall_time_s``.

    Raises:
      ValueError: a shape the extractor cannot score, too few samples, an unloadable model.
      FileNotFoundError: a missing path. `kgan.data.DataNotFoundError`: the
        dataset is not prepared.
    """
    start = time.time()
    num_samples = _check_sizes(num_samples)
    sampler = open_sampler(source)
    extractor = extractors.default_extractor(sampler.image_shape, feature_extractor, inception_weights)
    extractor.check(sampler.image_shape, f"The model {sampler.description}")
    split = split or pipeline.default_test_split(dataset, data_dir)
    num_real = _num_real(num_samples, num_real, dataset, data_dir, split)
    real = _real_scores(split, num_real, seed, dataset, data_dir, extractor, sampler.image_shape)
    samples = sampler.sample(num_samples, seed)
    logits, features = extractor(samples["images"])
    contract = sampler.contract
    result = score(logits, features, real["features"],
                   labels={spec.name: samples[spec.name] for spec in contract.class_inputs},
                   codes={spec.name: (samples[spec.name], spec.size) for spec in contract.code_inputs},
                   extractor_kind=extractor.kind)
    return {"model": sampler.description, "family": sampler.family, "seed": seed, **result,
            "feature_extractor": extractor.name, "real_data": f"{dataset} {split}", "wall_time_s": time.time() - start}


def reference_metrics(num_samples=10000, data_dir=None, seed=0, dataset="mnist", num_real=None, split=None,
                      image_shape=None, feature_extractor="auto", inception_weights="imagenet"):
    """The metrics of real TRAIN images scored as if they were samples, against the real test set.

    What a generator reproducing the training distribution would score, at
    the same sample sizes as `evaluate` (use the same ``num_samples``, ``seed``
    and ``num_real``). ``label_accuracy`` is the classifier's accuracy on
    those train images (the best a CGAN can score).

    Args:
      image_shape: the shape the images are scored at (default: the dataset's, 28x28x1 for MNIST).
      split: the real test split (see `evaluate`); it must not be "train".
      Other arguments: as in `evaluate`.

    Returns:
      dict like `evaluate`'s, with ``model`` "real train images" and ``family`` "real".
    """
    start = time.time()
    num_samples = _check_sizes(num_samples)
    split = split or pipeline.default_test_split(dataset, data_dir)
    if split.split("[")[0] == "train":
        raise ValueError(f"The reference row scores train images against the {split!r} split, which is train "
                         "images too: pass a test split, or skip the reference (--noreference).")
    image_shape = tuple(image_shape or pipeline.dataset_spec(dataset, data_dir)["image_shape"])
    extractor = extractors.default_extractor(image_shape, feature_extractor, inception_weights)
    num_real = _num_real(num_samples, num_real, dataset, data_dir, split)
    real = _real_scores(split, num_real, seed, dataset, data_dir, extractor, image_shape)
    train = _real_scores("train", num_samples, seed, dataset, data_dir, extractor, image_shape)
    result = score(train["logits"], train["features"], real["features"],
                   labels=train["labels"] if extractor.kind == "classifier" else None, extractor_kind=extractor.kind)
    return {"model": f"real {dataset} train images (reference)", "family": "real", "seed": seed, **result,
            "feature_extractor": extractor.name, "real_data": f"{dataset} {split}", "wall_time_s": time.time() - start}


_COLUMNS = (("classifier_score", "CS", "{:.3f}"), ("frechet_distance", "FD", "{:.3f}"),
            ("inception_score", "IS", "{:.3f}"), ("fid", "FID", "{:.2f}"), ("kid", "KID", "{:.4f}"),
            ("precision", "P", "{:.3f}"), ("recall", "R", "{:.3f}"), ("density", "D", "{:.3f}"),
            ("coverage", "C", "{:.3f}"), ("label_accuracy", "label", "{:.4f}"), ("code_accuracy", "code", "{:.4f}"))


def _cell(entry, fmt):
    text = fmt.format(entry["value"])
    return f"{text}±{fmt.format(entry['std'])}" if "std" in entry else text


def format_table(results):
    """A plain-text table of `evaluate` / `reference_metrics` results, one row each.

    Columns (those any row has): n_fake (samples), n_real (real images), CS
    (classifier score, higher is better, 10 max), FD (Frechet distance on the
    classifier's features, lower is better), IS (Inception Score, mean±std over
    10 splits), FID, KID (mean±std over subsets), P/R (precision/recall, k=3),
    D/C (density/coverage, k=5), label (CGAN label accuracy), code (InfoGAN
    code->class accuracy), time (s). "-" = not applicable. The legend names
    the feature network of every row. Accuracies of further class/code inputs are
    in the results, not the table.
    """
    columns = [(key, short, fmt) for key, short, fmt in _COLUMNS if any(key in result for result in results)]
    header = ["model", "n_fake", "n_real"] + [short for _, short, _ in columns] + ["time_s"]
    rows = []
    for result in results:
        row = [str(result["model"]), str(result["num_samples"]), str(result["num_real"])]
        row += [_cell(result[key], fmt) if key in result else "-" for key, _, fmt in columns]
        row.append(f"{result.get('wall_time_s', float('nan')):.1f}")
        rows.append(row)
    widths = [max(len(r[i]) for r in [header] + rows) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(r, widths)))
             for r in [header] + rows]
    names = sorted({result.get("feature_extractor", "kgan MNIST classifier (128-d features)") for result in results})
    real = sorted({result["real_data"] for result in results if "real_data" in result})
    legend = (f"Features: {'; '.join(names)}. CS: classifier score (Inception-Score formula on the MNIST "
              f"classifier, max 10); FD: Frechet distance on its features; IS: Inception Score; FID/KID: Frechet / "
              f"kernel (unbiased MMD^2) Inception distance (lower is better; FID is biased at small n); P/R: "
              f"precision/recall (k={PRECISION_RECALL_K}); D/C: density/coverage (k={DENSITY_COVERAGE_K}); label: "
              f"CGAN samples classified as their label; code: InfoGAN code->class accuracy (best one-to-one map); "
              f"n_fake samples vs n_real real images{' (' + ', '.join(real) + ')' if real else ''}.")
    return "\n".join(lines + [legend])
