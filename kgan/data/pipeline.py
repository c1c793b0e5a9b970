"""Input pipelines for GAN training: tfds datasets by name or folders of images, as batched float images
in [-1, 1], with the resumable (seed, batch) stream.

A tfds dataset that is not prepared in the data dir is downloaded and prepared by
tfds (after a fast network check, `kgan.data.download`) unless ``download=False``.
MNIST / Fashion-MNIST can also be prepared offline from their raw IDX files
(`kgan.data.idx`, CLI: `python -m zoo.import_data`). A folder of images is
scanned, decoded once and cached (`kgan.data.folder`).

Offline notes (tensorflow-datasets 4.9.10): tfds' own download retries for ~200 s
offline (measured: 204 s); GCS lookups are disabled in this release, and kgan passes
``try_gcs=False`` so newer releases stay offline too when nothing is to be downloaded.
"""

from __future__ import annotations

import difflib
import os
import pathlib
import re
from typing import Any, Optional

import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds

from kgan.data import download as downloads
from kgan.data import folder as folders

__all__ = [
    "DataNotFoundError",
    "SUPPORTED_DATASETS",
    "IDX_DATASETS",
    "DEFAULT_FOLDER_IMAGE_SIZE",
    "default_data_dir",
    "default_cache_dir",
    "resolve_data_dir",
    "is_prepared",
    "is_image_folder",
    "load_images",
    "load_image_folder",
    "dataset_spec",
    "batches_per_pass",
    "split_size",
    "source_signature",
    "default_test_split",
]

# Well-known image datasets (any registered tfds builder with an image feature works).
SUPPORTED_DATASETS = ("mnist", "fashion_mnist", "cifar10", "svhn_cropped", "celeb_a", "lsun/bedroom", "stl10")
# Datasets `import_idx_dataset` can build from raw IDX files.
IDX_DATASETS = ("mnist", "fashion_mnist")
DEFAULT_FOLDER_IMAGE_SIZE = 64


class DataNotFoundError(FileNotFoundError):
    """The requested dataset is not prepared in the data dir, and downloads are off."""

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
                f"`tfds build {dataset} --data_dir DIR`) and copy DIR/{_base_name(dataset)} into "
                f"{self.data_dir}; raw MNIST/Fashion-MNIST files can be imported "
                "offline with python -m zoo.import_data"
            )
        msg = (
            f"Dataset '{dataset}' is not prepared in data dir {self.data_dir}"
            f"{' (' + detail + ')' if detail else ''} and downloads are off (--nodownload / download=False); "
            f"allow them to let tfds download it, or: {how}"
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


def default_cache_dir(data_dir=None) -> str:
    """Where decoded image folders are cached: ``<data dir>/kgan_image_folders``."""
    return os.path.join(resolve_data_dir(data_dir), "kgan_image_folders")


def _base_name(dataset: str) -> str:
    """'cifar10/config:1.0.0' -> 'cifar10'."""
    return dataset.split("/")[0].split(":")[0]


def is_image_folder(source) -> bool:
    """Whether ``source`` means a folder of images rather than a tfds dataset name.

    A path object, or a string that is not a registered tfds name and is an
    existing folder or looks like a path (``./x``, ``/x``, ``~/x``, ``a/b/c``).
    """
    if isinstance(source, os.PathLike):
        return True
    if not isinstance(source, str) or not source.strip() or _is_registered(source):
        return False
    if os.path.isdir(os.path.expanduser(source)) or source.startswith((".", "/", "~")):
        return True
    # "lsun/bedroom", "celeb_a/align:2.0.1": a tfds name; "photos/cats/2024": a path.
    return source.count("/") > 1 or "." in source.split(":")[0] and "/" in source


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
# Checks
# ---------------------------------------------------------------------------


def _check_positive_int(name: str, value, allow_none: bool = False):
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"{name} must be a positive int, got {value!r}.")


def _check_channels(channels):
    if channels is not None and (isinstance(channels, bool) or channels not in (1, 3)):
        raise ValueError(f"channels must be 1 (grayscale), 3 (RGB) or None (the data's own), got {channels!r}.")


def _check_dataset_name(dataset, data_dir: str):
    if not isinstance(dataset, str) or not dataset.strip():
        raise ValueError(f"dataset must be a non-empty string (a tfds name or a folder), got {dataset!r}.")
    if not _is_registered(dataset) and not os.path.isdir(os.path.join(data_dir, _base_name(dataset))):
        names = tfds.list_builders(with_community_datasets=False)
        base = _base_name(dataset)
        close = sorted(name for name in names if name.startswith(base))[:3] or difflib.get_close_matches(base, names, 3)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise ValueError(
            f"Unknown dataset {dataset!r}: not a registered tfds dataset, nor prepared in {data_dir}.{hint} "
            f"Image datasets include {', '.join(SUPPORTED_DATASETS)} (any tfds builder with an image feature: "
            "`tfds.list_builders()`); for a folder of your own images use --image_dir PATH / load_image_folder.")


def _check_split_syntax(split):
    if not isinstance(split, str) or not split.strip():
        raise ValueError(f"split must be a non-empty string, got {split!r}.")
    try:
        return tfds.core.ReadInstruction.from_spec(split)
    except (ValueError, AssertionError) as error:
        raise ValueError(f"Bad split {split!r} ({' '.join(str(error).split())}); use a split name, optionally sliced as in tfds: "
                         "train, train[:90%], train[-5000:], train+test.") from None


def _split_names(split):
    return [re.match(r"^\s*([\w-]+)", part).group(1) for part in split.split("+")]


# ---------------------------------------------------------------------------
# tfds datasets
# ---------------------------------------------------------------------------


def _image_key(features):
    if "image" in features and isinstance(features["image"], tfds.features.Image):
        return "image"
    keys = [key for key, feature in features.items() if isinstance(feature, tfds.features.Image)]
    return keys[0] if keys else None


def _label_key(features):
    if "label" in features and isinstance(features["label"], tfds.features.ClassLabel):
        return "label"
    keys = [key for key, feature in features.items() if isinstance(feature, tfds.features.ClassLabel)]
    return keys[0] if keys else None


def _builder(dataset: str, data_dir, download=True, with_labels=False, split=None) -> Any:
    """A prepared builder of `dataset` (downloading it when allowed), checked for an image feature."""
    data_dir = resolve_data_dir(data_dir)
    _check_dataset_name(dataset, data_dir)
    if split is not None:
        _check_split_syntax(split)
    prepared = is_prepared(dataset, data_dir)
    try:
        builder = tfds.builder(dataset, data_dir=data_dir, try_gcs=False)
    except Exception as error:  # pylint: disable=broad-except  (bad config or version)
        raise ValueError(f"tfds cannot open {dataset!r}: {' '.join(str(error).split())[:300]}") from None
    features = builder.info.features
    if _image_key(features) is None:
        raise ValueError(f"Dataset {dataset!r} has no image feature (its features: {', '.join(features.keys())}); "
                         "kgan trains on image datasets.")
    if with_labels and _label_key(features) is None:
        raise ValueError(f"Dataset {dataset!r} has no class label (its features: {', '.join(features.keys())}); a "
                         "conditional GAN or the SVM needs one: pick a labelled dataset, or a folder with one "
                         "sub-folder per class.")
    if not prepared:
        if not download:
            ds_dir = os.path.join(data_dir, _base_name(dataset))
            detail = ""
            if tf.io.gfile.isdir(ds_dir):
                detail = f"{ds_dir} exists but holds no complete version readable by this tfds"
            raise DataNotFoundError(dataset, data_dir, detail)
        downloads.download_and_prepare(builder, dataset, data_dir)
        builder = tfds.builder(dataset, data_dir=data_dir, try_gcs=False)
    if split is not None:
        _check_split(split, builder)
    return builder


def _num_classes(builder) -> Optional[int]:
    key = _label_key(builder.info.features)
    return builder.info.features[key].num_classes if key else None


def _check_split(split, builder):
    _check_split_syntax(split)
    known = sorted(builder.info.splits.keys())
    for name in _split_names(split):
        if name not in known:
            raise ValueError(f"Unknown split {split!r} for {builder.name}; available: {', '.join(known)}.")


def _split_size(builder, split):
    try:
        return builder.info.splits[split].num_examples
    except Exception as error:  # pylint: disable=broad-except
        raise ValueError(f"The size of split {split!r} is not known: {error}") from None


# ---------------------------------------------------------------------------
# Image folders
# ---------------------------------------------------------------------------

_SCANS = {}  # (root, skip_bad_images) -> FolderScan: a process scans a folder once
_DECODED = {}  # (root, size, channels, cache_dir) -> FolderImages: decoded images shared by every pipeline


def _folder_scan(path, skip_bad_images=True):
    root = os.path.abspath(os.path.expanduser(os.fspath(path)))
    key = (root, bool(skip_bad_images))
    if key not in _SCANS:
        scan = folders.scan_image_folder(root, skip_bad_images)
        if scan.bad:
            tf.get_logger().warning("%s; they are left out.", scan.describe_bad())
        _SCANS[key] = scan
    return _SCANS[key]


def _folder_images(scan, image_size, channels, cache_dir):
    key = (scan.root, image_size, channels, cache_dir)
    if key not in _DECODED:
        _DECODED[key] = folders.FolderImages(scan, image_size, channels, cache_dir)
    return _DECODED[key]


def _folder_positions(split, count):
    """The canonical positions of a folder's images that ``split`` (``train``, sliced as in tfds) selects."""
    instruction = _check_split_syntax(split)
    if any(name != "train" for name in _split_names(split)):
        raise ValueError(f"Unknown split {split!r} for an image folder: a folder has one split, 'train' (all its "
                         "images); slice it as in tfds: train[:90%], train[-500:].")
    info = tfds.core.SplitInfo(name="train", shard_lengths=[count], num_bytes=0, filename_template=None)
    ranges = instruction.to_absolute({"train": info})
    return np.concatenate([np.arange(count)[r.from_:r.to] for r in ranges]).astype(np.int64)


def _check_labels(scan, with_labels):
    if with_labels and scan.labels is None:
        raise ValueError(f"The image folder {scan.root} has no class labels ({scan.unlabelled_reason}); a "
                         "conditional GAN or the SVM needs one sub-folder per class holding all the images.")


# ---------------------------------------------------------------------------
# Shapes and sizes
# ---------------------------------------------------------------------------


def dataset_spec(dataset: str, data_dir: Optional[str] = None, image_size=None, channels=None, download=True,
                 skip_bad_images=True) -> dict:
    """Shape information of a dataset or image folder (for building models).

    Args:
      dataset: tfds name ("mnist", "cifar10", "lsun/bedroom", ...) or a folder of images.
      data_dir: tfds data dir; defaults to `default_data_dir()`.
      image_size: the size `load_images` would resize to (None: the data's own; 64 for folders).
      channels: the channels `load_images` would convert to (None: the data's own; 3 for folders).
      download: let tfds download an unprepared dataset.
      skip_bad_images: leave out unreadable files of a folder (else they are an error).

    Returns:
      {"image_shape": (H, W, C) as `load_images` yields it (None for a variable size without image_size),
       "num_classes": int or None, "class_names": list or None, "num_examples": {split: count}}.

    Raises:
      DataNotFoundError: the dataset is not prepared and downloads are off.
    """
    _check_positive_int("image_size", image_size, allow_none=True)
    _check_channels(channels)
    if is_image_folder(dataset):
        scan = _folder_scan(dataset, skip_bad_images)
        size = image_size or DEFAULT_FOLDER_IMAGE_SIZE
        return {"image_shape": (size, size, channels or 3), "num_classes": scan.num_classes,
                "class_names": list(scan.class_names) if scan.class_names else None,
                "num_examples": {"train": len(scan.files)}}
    builder = _builder(dataset, data_dir, download)
    features = builder.info.features
    height, width, native_channels = features[_image_key(features)].shape
    if image_size:
        height = width = image_size
    label = _label_key(features)
    return {
        "image_shape": (height, width, channels or native_channels),
        "num_classes": _num_classes(builder),
        "class_names": list(features[label].names) if label else None,
        "num_examples": {s: v.num_examples for s, v in builder.info.splits.items()},
    }


def source_signature(dataset, data_dir=None, download=True, skip_bad_images=True) -> str:
    """A string that changes when the data does: the tfds name, version and data dir, or a hash of a folder's
    files (paths, sizes, modification times). Keys caches of features computed from the data."""
    if is_image_folder(dataset):
        scan = _folder_scan(dataset, skip_bad_images)
        return f"folder:{scan.root}:{scan.content_hash()}"
    builder = _builder(dataset, data_dir, download)
    return f"tfds:{builder.name}:{builder.info.full_name}:{resolve_data_dir(data_dir)}"


def default_test_split(dataset, data_dir=None, download=True):
    """The split real images are compared from: "test" where the dataset has one, else "train" (folders)."""
    if is_image_folder(dataset):
        return "train"
    return "test" if "test" in _builder(dataset, data_dir, download).info.splits else "train"


def split_size(dataset="mnist", split="train", data_dir=None, download=True, skip_bad_images=True):
    """The number of examples in a split (tfds slicing like ``train[:-5000]`` included) of a dataset or folder."""
    if is_image_folder(dataset):
        return len(_folder_positions(split, len(_folder_scan(dataset, skip_bad_images).files)))
    builder = _builder(dataset, data_dir, download, split=split)
    return _split_size(builder, split)


def batches_per_pass(dataset="mnist", split="train", batch_size=128, data_dir=None, download=True,
                     skip_bad_images=True):
    """Full batches in one pass over a split (the zoo's default epoch)."""
    _check_positive_int("batch_size", batch_size)
    return split_size(dataset, split, data_dir, download, skip_bad_images) // batch_size


# ---------------------------------------------------------------------------
# Pipelines
# ---------------------------------------------------------------------------


def _pass_order(num_examples, seed, pass_index):
    """Pass ``pass_index`` of the resumable stream: a permutation of ``range(num_examples)`` from ``(seed, pass)``."""
    return tf.random.experimental.stateless_shuffle(
        tf.range(num_examples), seed=tf.stack([tf.constant(seed, tf.int64), pass_index]))


def _resumable_stream(examples, num_examples, batch_size, seed, start_batch):
    """Endless batches: pass ``p`` is a full permutation of the examples drawn from ``(seed, p)``;
    the stream starts at batch ``start_batch``."""
    per_pass = num_examples // batch_size
    whole = examples.batch(num_examples)  # one element: the split (from the in-memory cache)

    def one_pass(pass_index):
        order = _pass_order(num_examples, seed, pass_index)
        permuted = whole.map(lambda *split: tuple(tf.gather(t, order) for t in split))
        return permuted.unbatch().batch(batch_size, drop_remainder=True)

    first_pass, skip = divmod(start_batch, per_pass)
    return tf.data.Dataset.range(first_pass, 2**62).flat_map(one_pass).skip(skip)


def _resumable_index_stream(num_examples, batch_size, seed, start_batch):
    """The batches of `_resumable_stream` as index vectors ``[batch_size]`` into the examples."""
    per_pass = num_examples // batch_size

    def one_pass(pass_index):
        order = _pass_order(num_examples, seed, pass_index)[:per_pass * batch_size]
        return tf.data.Dataset.from_tensor_slices(tf.reshape(order, (per_pass, batch_size)))

    first_pass, skip = divmod(start_batch, per_pass)
    return tf.data.Dataset.range(first_pass, 2**62).flat_map(one_pass).skip(skip)


def _to_float(image, image_size, channels):
    """uint8 images ``[..., H, W, C]`` -> float32 in [-1, 1], center-cropped to a square and resized when asked."""
    if image.shape[-1] == 4 or image.shape[-1] == 2:  # drop an alpha channel
        image = image[..., :-1]
    image = tf.cast(image, tf.float32) / 127.5 - 1.0
    if channels == 3 and image.shape[-1] == 1:
        image = tf.image.grayscale_to_rgb(image)
    elif channels == 1 and image.shape[-1] == 3:
        image = tf.image.rgb_to_grayscale(image)
    if image_size is not None and tuple(image.shape[-3:-1]) != (image_size, image_size):
        height, width = tf.shape(image)[-3], tf.shape(image)[-2]
        side = tf.minimum(height, width)
        image = tf.image.crop_to_bounding_box(image, (height - side) // 2, (width - side) // 2, side, side)
        image = tf.image.resize(image, (image_size, image_size), method="bilinear", antialias=True)
        image = tf.clip_by_value(image, -1.0, 1.0)
    return image


def _check_batching(batch_size, count, split, drop_remainder):
    if drop_remainder and count is not None and count < batch_size:
        raise ValueError(
            f"batch_size={batch_size} exceeds the {count} examples of split "
            f"{split!r} with drop_remainder=True (the dataset would be empty).")


def _finish(ds):
    # tf.data's autotune thread wakes at doubling intervals (up to 60 s), and
    # deleting an iterator waits for it: measured 1-10 s stalls at the end of
    # fit() calls (bench/train_throughput.py). The pipelines are much faster
    # than training without it, so it stays off.
    options = tf.data.Options()
    options.autotune.enabled = False
    return ds.prefetch(2).with_options(options)


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
    channels: Optional[int] = None,
    download: bool = True,
    skip_bad_images: bool = True,
    cache_dir: Optional[str] = None,
) -> tf.data.Dataset:
    """Batched float32 images in [-1, 1] from a tfds dataset or a folder of images.

    Args:
      dataset: a tfds name ("mnist", "cifar10", "svhn_cropped", "celeb_a",
        "lsun/bedroom", "name/config:version", ...) or a folder of images (see
        `load_image_folder`).
      split: tfds split, e.g. "train", "test", "train[:10%]" (a folder has "train").
      batch_size: positive int.
      image_size: if set, center-crop to a square and resize (bilinear,
        antialiased) to image_size x image_size. Folders default to 64.
      with_labels: also yield int32 labels (the dataset's class label, or a
        folder's class sub-folder).
      data_dir: tfds data dir; defaults to `default_data_dir()`.
      shuffle: shuffle files and examples (reshuffled every epoch).
      shuffle_buffer: shuffle buffer size (positive int) of tfds data.
      seed: optional seed for reproducible shuffling.
      drop_remainder: drop the last partial batch (static batch dimension).
      cache: cache the decoded uint8 tfds images in memory after the first epoch
        (folders are always cached, on disk).
      start_batch: if set, an endless *resumable* stream instead of one pass:
        pass ``p`` over the data is a full permutation drawn from ``(seed, p)``
        (``shuffle_buffer`` is not used; tfds data is held in memory),
        so batch ``i`` of the stream depends only on ``(seed, i)``, and the
        stream starts at batch ``start_batch``. A run resumed at batch ``i``
        sees exactly the batches an uninterrupted run would. Needs ``seed``,
        ``shuffle`` and ``drop_remainder``.
      channels: 1 (grayscale) or 3 (RGB) to convert to; None: the data's own (3 for folders).
      download: let tfds download and prepare an unprepared dataset (False: raise
        `DataNotFoundError` instead).
      skip_bad_images: leave out (and log) unreadable files of a folder; False: they are an error.
      cache_dir: where a folder's decoded images are cached (default `default_cache_dir(data_dir)`).

    Returns:
      `tf.data.Dataset` of images [B, H, W, C] float32, or of
      `(images, labels)` with labels int32 [B] if `with_labels`.

    Raises:
      ValueError: bad arguments (unknown dataset/split, non-positive sizes, no labels).
      DataNotFoundError: dataset not prepared in `data_dir` and ``download=False``.
      kgan.data.download.DownloadUnavailableError: a download is needed and the network is unreachable.
    """
    _check_positive_int("batch_size", batch_size)
    _check_positive_int("image_size", image_size, allow_none=True)
    _check_positive_int("shuffle_buffer", shuffle_buffer)
    _check_channels(channels)
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))):
        raise ValueError(f"seed must be an int or None, got {seed!r}.")
    if start_batch is not None:
        if isinstance(start_batch, bool) or not isinstance(start_batch, (int, np.integer)) or start_batch < 0:
            raise ValueError(f"start_batch must be a non-negative int, got {start_batch!r}.")
        if seed is None or not shuffle or not drop_remainder:
            raise ValueError("A resumable stream (start_batch=...) needs seed=<int>, shuffle=True and "
                             "drop_remainder=True: its order must be a function of the seed.")
    if is_image_folder(dataset):
        return _folder_pipeline(dataset, split, batch_size, image_size or DEFAULT_FOLDER_IMAGE_SIZE, with_labels,
                                shuffle, seed, drop_remainder, start_batch, channels or 3, skip_bad_images,
                                cache_dir or default_cache_dir(data_dir))
    builder = _builder(dataset, data_dir, download, with_labels=with_labels, split=split)
    features = builder.info.features
    image_key, label_key = _image_key(features), _label_key(features)
    image_shape = tuple(features[image_key].shape)
    static = all(d is not None for d in image_shape)
    if not static and image_size is None:
        raise ValueError(
            f"Images of {dataset!r} have variable shape {image_shape}; pass image_size (e.g. 64)."
        )
    try:
        count = builder.info.splits[split].num_examples
    except Exception:  # pylint: disable=broad-except
        count = None
    _check_batching(batch_size, count, split, drop_remainder)

    read_config = tfds.ReadConfig(shuffle_seed=seed) if seed is not None else None
    # A resumable stream reads files in order: its passes are shuffled by seed below.
    ds = builder.as_dataset(split=split, shuffle_files=shuffle and start_batch is None, read_config=read_config)

    def convert(image):
        return _to_float(image, image_size, channels)

    def select(ex):
        # Variable-size images are converted one by one (they cannot be batched before resizing).
        image = ex[image_key] if static else convert(ex[image_key])
        return (image, tf.cast(ex[label_key], tf.int32)) if with_labels else image

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
    return _finish(ds)


def load_image_folder(path, split="train", batch_size=128, image_size=DEFAULT_FOLDER_IMAGE_SIZE, with_labels=False,
                      channels=3, shuffle=True, seed=None, drop_remainder=True, start_batch=None,
                      skip_bad_images=True, cache_dir=None, data_dir=None):
    """Batched float32 images in [-1, 1] from every image file below ``path``.

    Files with an extension in `kgan.data.folder.IMAGE_EXTENSIONS` (any case)
    are read; each is EXIF-rotated, center-cropped to a square and resized to
    ``image_size``. When every image sits in an immediate sub-folder of ``path``,
    the sorted sub-folder names are the classes (``with_labels``). Images are
    decoded on first use, in worker threads while training runs, and the decoded
    array is cached under ``cache_dir`` once complete, so later epochs and runs do
    not decode again. The image order is a stable hash of the file paths, so
    slices like ``train[-500:]`` mix the classes.

    Args:
      path: the folder.
      split: "train" (every image), sliced as in tfds ("train[:90%]").
      batch_size, with_labels, shuffle, seed, drop_remainder, start_batch: as in `load_images`.
      image_size: output height and width.
      channels: 3 (RGB) or 1 (grayscale).
      skip_bad_images: leave out (and log) unreadable, empty or truncated files; False: they are an error.
      cache_dir: where decoded images are cached (default ``<data_dir>/kgan_image_folders``).
      data_dir: the tfds data dir the default cache_dir is in.

    Returns:
      `tf.data.Dataset` of images ``[B, S, S, C]`` float32 (and int32 labels ``[B]`` if ``with_labels``).
    """
    folder = os.path.expanduser(os.fspath(path))
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"Image folder {os.path.abspath(folder)} does not exist (or is not a folder).")
    return load_images(pathlib.Path(folder), split, batch_size, image_size, with_labels, data_dir, shuffle,
                       seed=seed, drop_remainder=drop_remainder, start_batch=start_batch, channels=channels,
                       skip_bad_images=skip_bad_images, cache_dir=cache_dir)


def _folder_pipeline(path, split, batch_size, image_size, with_labels, shuffle, seed, drop_remainder, start_batch,
                     channels, skip_bad_images, cache_dir):
    scan = _folder_scan(path, skip_bad_images)
    _check_labels(scan, with_labels)
    positions = _folder_positions(split, len(scan.files))
    _check_batching(batch_size, len(positions), split, drop_remainder)
    decoded = _folder_images(scan, image_size, channels, cache_dir)
    positions_t = tf.constant(positions)
    labels_t = tf.constant(np.asarray(scan.labels if scan.labels else [0] * len(scan.files), np.int32))
    shape = (None if not drop_remainder else batch_size, image_size, image_size, channels)

    def load(index):  # index: positions into the split
        where = tf.gather(positions_t, tf.cast(index, tf.int64))
        images = tf.numpy_function(decoded.batch, [where], tf.uint8, stateful=False)
        images = tf.ensure_shape(images, shape)
        images = tf.cast(images, tf.float32) / 127.5 - 1.0
        return (images, tf.gather(labels_t, where)) if with_labels else images

    if start_batch is not None:
        ds = _resumable_index_stream(len(positions), batch_size, seed, start_batch)
    else:
        ds = tf.data.Dataset.range(len(positions))
        if shuffle:
            ds = ds.shuffle(len(positions), seed=seed, reshuffle_each_iteration=True)
        ds = ds.batch(batch_size, drop_remainder=drop_remainder)
    return _finish(ds.map(load, num_parallel_calls=2))
