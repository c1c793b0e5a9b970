"""tfds input pipelines for GAN training: batched float images in [-1, 1], the resumable stream.

This machine (and many training boxes) cannot download datasets, so kgan never
lets tfds download anything: datasets must first be *prepared* in a tfds data
dir. For MNIST / Fashion-MNIST that is done from the raw IDX files with
`kgan.data.idx.import_idx_dataset` (CLI: `python -m zoo.import_data`), which
writes a normal tfds dataset under the registered builder's name/version, so
afterwards plain `tfds.load("mnist", data_dir=...)` works offline as well.

Offline notes (tensorflow-datasets 4.9.10):
  * `tfds.load(..., download=True)` (the default) on an unprepared dataset tries
    the download URLs with urllib3 retries and backoff; offline it fails only
    after ~200 s (measured: 204 s, requests ConnectionError). `load_images`
    therefore checks the data dir first and always passes `download=False`.
  * GCS lookups (`try_gcs`, `DatasetInfo.initialize_from_bucket`,
    `try_download_gcs`) are hard-disabled in this tfds release
    (`gcs_utils._is_gcs_disabled = True`); we still pass `try_gcs=False` /
    `try_download_gcs=False` so newer releases stay offline too.
"""

from __future__ import annotations

import os
import re
from typing import Any, Optional

import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds

__all__ = [
    "DataNotFoundError",
    "SUPPORTED_DATASETS",
    "IDX_DATASETS",
    "default_data_dir",
    "resolve_data_dir",
    "is_prepared",
    "load_images",
    "dataset_spec",
    "batches_per_pass",
    "split_size",
]

# Well-known image datasets. Any tfds dataset with an 'image' (and, for
# `with_labels=True`, a 'label') feature works once prepared in the data dir.
SUPPORTED_DATASETS = ("mnist", "fashion_mnist", "cifar10")
# Datasets `import_idx_dataset` can build from raw IDX files.
IDX_DATASETS = ("mnist", "fashion_mnist")

class DataNotFoundError(FileNotFoundError):
    """The requested dataset is not prepared in the data dir (no downloads)."""

    def __init__(self, dataset: str, data_dir: str, detail: str = ""):
        self.dataset = dataset
        self.data_dir = str(data_dir)
        if dataset in IDX_DATASETS:
            how = (
                "Import the raw IDX files with: python -m zoo.import_data "
                f"--dataset {dataset} --source_dir /path/to/{dataset} "
                f"--data_dir {self.data_dir}"
            )
        else:
            how = (
                f"Prepare it with tfds on a machine with internet access (e.g. "
                f"`tfds build {dataset} --data_dir DIR`) and copy DIR/{dataset} into "
                f"{self.data_dir}; raw MNIST/Fashion-MNIST files can be imported "
                "offline with python -m zoo.import_data"
            )
        msg = (
            f"Dataset '{dataset}' is not prepared in data dir {self.data_dir}"
            f"{' (' + detail + ')' if detail else ''}; kgan never downloads data. "
            f"{how}"
        )
        super().__init__(msg)


def default_data_dir() -> str:
    """The tfds default data dir: $TFDS_DATA_DIR, else ~/tensorflow_datasets.

    Importing there makes a plain `tfds.load("mnist")` work in user code.
    """
    return os.path.expanduser(tfds.core.constants.get_default_data_dir())


def resolve_data_dir(data_dir) -> str:
    """An absolute tfds data dir (``~`` expanded; default `default_data_dir()`; URLs kept)."""
    data_dir = os.fspath(data_dir or default_data_dir())
    if "://" in data_dir:  # gs://... etc.
        return data_dir
    return os.path.abspath(os.path.expanduser(data_dir))


def _base_name(dataset: str) -> str:
    """'cifar10/config:1.0.0' -> 'cifar10'."""
    return dataset.split("/")[0].split(":")[0]


def _is_registered(dataset: str) -> bool:
    try:
        tfds.builder_cls(_base_name(dataset))
        return True
    except Exception:  # tfds raises DatasetNotFoundError (and others on odd names)
        return False


def is_prepared(dataset: str, data_dir: Optional[str] = None) -> bool:
    """Whether `dataset` is prepared (readable offline) in `data_dir`.

    Cheap: a filesystem glob first, so nothing touches the network.

    Args:
      dataset: tfds name, e.g. "mnist".
      data_dir: tfds data dir; defaults to `default_data_dir()`.

    Returns:
      True if tfds can read the dataset from `data_dir` without downloading.
    """
    data_dir = resolve_data_dir(data_dir)
    ds_dir = os.path.join(data_dir, _base_name(dataset))
    # <data_dir>/<name>/[<config>/]<version>/dataset_info.json
    infos = [
        p for pattern in ("*/dataset_info.json", "*/*/dataset_info.json")
        for p in tf.io.gfile.glob(os.path.join(ds_dir, pattern))
        if "incomplete." not in p
    ]
    if not infos:
        return False
    try:
        return tfds.builder(dataset, data_dir=data_dir, try_gcs=False).is_prepared()
    except Exception:  # pylint: disable=broad-except
        return False


# ---------------------------------------------------------------------------
# Input pipelines
# ---------------------------------------------------------------------------


def _check_positive_int(name: str, value, allow_none: bool = False):
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"{name} must be a positive int, got {value!r}.")


def _check_dataset_name(dataset, data_dir: str):
    if not isinstance(dataset, str) or not dataset.strip():
        raise ValueError(f"dataset must be a non-empty string, got {dataset!r}.")
    if not _is_registered(dataset) and not os.path.isdir(
        os.path.join(data_dir, _base_name(dataset))
    ):
        raise ValueError(
            f"Unknown dataset {dataset!r}. Supported: {', '.join(SUPPORTED_DATASETS)} "
            "(or any tfds image dataset with 'image' and 'label' features, once "
            "prepared in the data dir)."
        )


def _prepared_builder(dataset: str, data_dir) -> Any:
    """Registered/prepared builder or DataNotFoundError, without any network."""
    data_dir = resolve_data_dir(data_dir)
    _check_dataset_name(dataset, data_dir)
    if not is_prepared(dataset, data_dir):
        ds_dir = os.path.join(data_dir, _base_name(dataset))
        detail = ""
        if tf.io.gfile.isdir(ds_dir):
            detail = f"{ds_dir} exists but holds no complete version readable by this tfds"
        raise DataNotFoundError(dataset, data_dir, detail)
    builder = tfds.builder(dataset, data_dir=data_dir, try_gcs=False)
    if "image" not in builder.info.features:
        raise ValueError(f"Dataset {dataset!r} has no 'image' feature.")
    return builder


def _num_classes(builder) -> Optional[int]:
    features = builder.info.features
    label = features["label"] if "label" in features else None
    return getattr(label, "num_classes", None)


def dataset_spec(dataset: str, data_dir: Optional[str] = None) -> dict:
    """Shape information of a prepared dataset (for building models).

    Args:
      dataset: tfds name, e.g. "mnist".
      data_dir: tfds data dir; defaults to `default_data_dir()`.

    Returns:
      {"image_shape": (H, W, C), "num_classes": int or None,
       "num_examples": {split: count}}.

    Raises:
      DataNotFoundError: the dataset is not prepared in `data_dir`.
    """
    builder = _prepared_builder(dataset, data_dir)
    return {
        "image_shape": tuple(builder.info.features["image"].shape),
        "num_classes": _num_classes(builder),
        "num_examples": {s: v.num_examples for s, v in builder.info.splits.items()},
    }


def _check_split(split, builder):
    if not isinstance(split, str) or not split.strip():
        raise ValueError(f"split must be a non-empty string, got {split!r}.")
    known = sorted(builder.info.splits.keys())
    for part in split.split("+"):
        m = re.match(r"^\s*([\w-]+)\s*(\[.*\])?\s*$", part)
        if not m or m.group(1) not in known:
            raise ValueError(
                f"Unknown split {split!r} for {builder.name}; available: {', '.join(known)}."
            )


def _split_size(builder, split):
    try:
        return builder.info.splits[split].num_examples
    except Exception as error:  # pylint: disable=broad-except
        raise ValueError(f"The size of split {split!r} is not known: {error}") from None


def split_size(dataset="mnist", split="train", data_dir=None):
    """The number of examples in a prepared tfds split (tfds slicing like ``train[:-5000]`` included)."""
    builder = _prepared_builder(dataset, data_dir)
    _check_split(split, builder)
    return _split_size(builder, split)


def batches_per_pass(dataset="mnist", split="train", batch_size=128, data_dir=None):
    """Full batches in one pass over a prepared tfds split (the zoo's default epoch)."""
    _check_positive_int("batch_size", batch_size)
    builder = _prepared_builder(dataset, data_dir)
    _check_split(split, builder)
    return _split_size(builder, split) // batch_size


def _resumable_stream(examples, num_examples, batch_size, seed, start_batch):
    """Endless batches: pass ``p`` is a full permutation of the examples drawn from ``(seed, p)``;
    the stream starts at batch ``start_batch``."""
    per_pass = num_examples // batch_size
    whole = examples.batch(num_examples)  # one element: the split (from the in-memory cache)

    def one_pass(pass_index):
        order = tf.random.experimental.stateless_shuffle(
            tf.range(num_examples), seed=tf.stack([tf.constant(seed, tf.int64), pass_index]))
        permuted = whole.map(lambda *split: tuple(tf.gather(t, order) for t in split))
        return permuted.unbatch().batch(batch_size, drop_remainder=True)

    first_pass, skip = divmod(start_batch, per_pass)
    return tf.data.Dataset.range(first_pass, 2**62).flat_map(one_pass).skip(skip)


def load_images(
    dataset: str = "mnist",
    split: str = "train",
    batch_size: int = 128,
    image_size: Optional[int] = None,
    with_labels: bool = False,
    data_dir: Optional[str] = None,
    shuffle: bool = True,
    shuffle_buffer: int = 10_000,
    seed: Optional[int] = None,
    drop_remainder: bool = True,
    cache: bool = True,
    start_batch: Optional[int] = None,
) -> tf.data.Dataset:
    """Batched float32 images in [-1, 1] from a prepared tfds dataset.

    Never downloads: raises `DataNotFoundError` at once if the dataset is not
    prepared in `data_dir` (see `zoo.import_data`).

    Args:
      dataset: tfds name ("mnist", "fashion_mnist", "cifar10", ...).
      split: tfds split, e.g. "train", "test", "train[:10%]".
      batch_size: positive int.
      image_size: if set, resize (bilinear) to image_size x image_size.
      with_labels: also yield int32 labels.
      data_dir: tfds data dir; defaults to `default_data_dir()`.
      shuffle: shuffle files and examples (reshuffled every epoch).
      shuffle_buffer: shuffle buffer size (positive int).
      seed: optional seed for reproducible shuffling.
      drop_remainder: drop the last partial batch (static batch dimension).
      cache: cache the decoded uint8 images in memory after the first epoch.
      start_batch: if set, an endless *resumable* stream instead of one pass:
        pass ``p`` over the data is a full permutation drawn from ``(seed, p)``
        (``shuffle_buffer`` is not used; the split is held in memory),
        so batch ``i`` of the stream depends only on ``(seed, i)``, and the
        stream starts at batch ``start_batch``. A run resumed at batch ``i``
        sees exactly the batches an uninterrupted run would. Needs ``seed``,
        ``shuffle`` and ``drop_remainder``.

    Returns:
      `tf.data.Dataset` of images [B, H, W, C] float32, or of
      `(images, labels)` with labels int32 [B] if `with_labels`.

    Raises:
      ValueError: bad arguments (unknown dataset/split, non-positive sizes).
      DataNotFoundError: dataset not prepared in `data_dir`.
    """
    _check_positive_int("batch_size", batch_size)
    _check_positive_int("image_size", image_size, allow_none=True)
    _check_positive_int("shuffle_buffer", shuffle_buffer)
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))):
        raise ValueError(f"seed must be an int or None, got {seed!r}.")
    if start_batch is not None:
        if isinstance(start_batch, bool) or not isinstance(start_batch, (int, np.integer)) or start_batch < 0:
            raise ValueError(f"start_batch must be a non-negative int, got {start_batch!r}.")
        if seed is None or not shuffle or not drop_remainder:
            raise ValueError("A resumable stream (start_batch=...) needs seed=<int>, shuffle=True and "
                             "drop_remainder=True: its order must be a function of the seed.")
    builder = _prepared_builder(dataset, data_dir)
    _check_split(split, builder)
    features = builder.info.features
    if with_labels and _num_classes(builder) is None:
        raise ValueError(f"Dataset {dataset!r} has no ClassLabel 'label' feature.")
    image_shape = tuple(features["image"].shape)
    static = all(d is not None for d in image_shape)
    if not static and image_size is None:
        raise ValueError(
            f"Images of {dataset!r} have variable shape {image_shape}; pass image_size."
        )
    if drop_remainder:
        try:
            n = builder.info.splits[split].num_examples
        except Exception:  # pylint: disable=broad-except
            n = None
        if n is not None and n < batch_size:
            raise ValueError(
                f"batch_size={batch_size} exceeds the {n} examples of split "
                f"{split!r} with drop_remainder=True (the dataset would be empty)."
            )

    read_config = tfds.ReadConfig(shuffle_seed=seed) if seed is not None else None
    # A resumable stream reads files in order: its passes are shuffled by seed below.
    ds = builder.as_dataset(split=split, shuffle_files=shuffle and start_batch is None, read_config=read_config)

    def convert(image):  # uint8 [..., H, W, C] -> float32 in [-1, 1]
        image = tf.cast(image, tf.float32) / 127.5 - 1.0
        if image_size is not None and tuple(image.shape[-3:-1]) != (image_size, image_size):
            image = tf.image.resize(image, (image_size, image_size), method="bilinear", antialias=True)
            image = tf.clip_by_value(image, -1.0, 1.0)
        return image

    def select(ex):
        image = ex["image"] if static else convert(ex["image"])
        return (image, tf.cast(ex["label"], tf.int32)) if with_labels else image

    ds = ds.map(select, num_parallel_calls=tf.data.AUTOTUNE)
    if cache:  # compact uint8 cache (unless variable-shape images were resized)
        ds = ds.cache()
    if start_batch is not None:
        ds = _resumable_stream(ds, _split_size(builder, split), batch_size, seed, start_batch)
    else:
        if shuffle:
            ds = ds.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
        ds = ds.batch(batch_size, drop_remainder=drop_remainder)
    if static:  # convert / resize whole batches: much faster than per example
        if with_labels:
            ds = ds.map(lambda x, y: (convert(x), y), num_parallel_calls=tf.data.AUTOTUNE)
        else:
            ds = ds.map(convert, num_parallel_calls=tf.data.AUTOTUNE)
    # tf.data's autotune thread wakes at doubling intervals (up to 60 s), and
    # deleting an iterator waits for it: measured 1-10 s stalls at the end of
    # fit() calls (bench/train_throughput.py). The pipeline is >= 16x faster
    # than training without it, so it stays off.
    options = tf.data.Options()
    options.autotune.enabled = False
    return ds.prefetch(2).with_options(options)
