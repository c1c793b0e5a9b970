"""Image datasets for GAN training: tfds input pipelines + offline import.

This machine (and many training boxes) cannot download datasets, so kgan never
lets tfds download anything: datasets must first be *prepared* in a tfds data
dir. For MNIST / Fashion-MNIST that is done from the raw IDX files with
`import_idx_dataset` (CLI: `python -m zoo.import_data`), which writes a normal
tfds dataset under the registered builder's name/version, so afterwards plain
`tfds.load("mnist", data_dir=...)` works offline as well.

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

import gzip
import hashlib
import math
import os
import re
import shutil
import struct
import tempfile
import zlib
from typing import Any, Optional

import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds
from absl import logging

__all__ = [
    "DataNotFoundError",
    "SUPPORTED_DATASETS",
    "IDX_DATASETS",
    "default_data_dir",
    "is_prepared",
    "read_idx",
    "import_idx_dataset",
    "load_images",
    "dataset_spec",
]

# Well-known image datasets. Any tfds dataset with an 'image' (and, for
# `with_labels=True`, a 'label') feature works once prepared in the data dir.
SUPPORTED_DATASETS = ("mnist", "fashion_mnist", "cifar10")
# Datasets `import_idx_dataset` can build from raw IDX files.
IDX_DATASETS = ("mnist", "fashion_mnist")

# split -> (images file, labels file); identical names for MNIST and Fashion.
IDX_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
# md5 of the *uncompressed* official files (the .gz wrappers vary).
_KNOWN_MD5 = {
    "mnist": {
                "train-images-idx3-ubyte.gz": "6bbc9ace898e44ae57da46a324031adb",
                "train-labels-idx1-ubyte.gz": "a25bea736e30d166cdddb491f175f624",
                "t10k-images-idx3-ubyte.gz": "2646ac647ad5339dbf082846283269ea",
                "t10k-labels-idx1-ubyte.gz": "27ae3e4e09519cfbb04c329615203637",
        },
    "fashion_mnist": {},  # no trusted checksums available here
}

# IDX type code -> numpy dtype (IDX data is big-endian).
_IDX_DTYPES = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


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


def _resolve_data_dir(data_dir) -> str:
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
    data_dir = _resolve_data_dir(data_dir)
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
# IDX files
# ---------------------------------------------------------------------------


def _read_idx_bytes(path: str) -> bytes:
    """Raw (uncompressed) bytes of an IDX file, gzip or not."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"IDX file not found: {path}")
    with open(path, "rb") as f:
        data = f.read()
    is_gzip = data[:2] == b"\x1f\x8b"
    if path.endswith(".gz") and not is_gzip:
        raise ValueError(
            f"{path} is not a gzip file (bad gzip header); the file is corrupt, "
            "re-copy it from its source."
        )
    if is_gzip:
        try:
            data = gzip.decompress(data)
        except (EOFError, OSError, zlib.error) as e:
            raise ValueError(
                f"{path} is truncated or corrupt ({e}); re-copy it from its source."
            ) from e
    return data


def _parse_idx(data: bytes, path: str) -> np.ndarray:
    """Validates and parses uncompressed IDX bytes."""
    bad = "re-copy it from its source"
    if len(data) < 4 or data[:2] != b"\0\0" or data[2] not in _IDX_DTYPES or data[3] == 0:
        magic = data[:4].hex() if data else "<empty>"
        raise ValueError(
            f"{path} is not an IDX file (bad magic number 0x{magic}: expected "
            f"00 00 <type code in {sorted(hex(c) for c in _IDX_DTYPES)}> <ndim>=1); "
            f"the file is corrupt or of another format, {bad}."
        )
    dtype, ndim = _IDX_DTYPES[data[2]], data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(
            f"{path} is truncated: {len(data)} bytes, shorter than its {header}-byte "
            f"IDX header; {bad}."
        )
    dims = struct.unpack(f">{ndim}I", data[4:header])
    count = math.prod(dims)
    expected = header + count * dtype.itemsize
    if len(data) != expected:
        what = "truncated" if len(data) < expected else "has trailing bytes"
        raise ValueError(
            f"{path} {what}: an IDX array of shape {dims} ({dtype.name}) needs "
            f"{expected} bytes, found {len(data)}; {bad}."
        )
    arr = np.frombuffer(data, dtype=dtype, count=count, offset=header)
    return arr.reshape(dims).astype(dtype.newbyteorder("="))  # native, writable


def read_idx(path) -> np.ndarray:
    """Reads an IDX file (gzip-compressed or raw) into a numpy array.

    Args:
      path: file path; gzip is detected from the content.

    Returns:
      Array with the file's shape and dtype (native byte order).

    Raises:
      FileNotFoundError: no such file.
      ValueError: truncated / corrupt / not gzip / not IDX (message names the
        file and says to re-copy it).
    """
    path = os.fspath(path)
    return _parse_idx(_read_idx_bytes(path), path)


# ---------------------------------------------------------------------------
# Import raw IDX files as a tfds dataset
# ---------------------------------------------------------------------------


def _find_idx_files(source_dir: str) -> dict:
    """{file name: path}; accepts `X.gz` or an uncompressed `X`."""
    found, missing = {}, []
    for names in IDX_FILES.values():
        for name in names:
            for candidate in (name, name[: -len(".gz")]):
                p = os.path.join(source_dir, candidate)
                if os.path.isfile(p):
                    found[name] = p
                    break
            else:
                missing.append(name)
    if missing:
        raise FileNotFoundError(
            f"Missing IDX files in {source_dir}: {', '.join(missing)} "
            "(expected the 4 files train-images-idx3-ubyte.gz, "
            "train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, "
            "t10k-labels-idx1-ubyte.gz)."
        )
    return found


def _load_idx_split(name, img_path, lbl_path, md5s, num_classes):
    arrays = []
    for key, path in ((os.path.basename(img_path), img_path), (os.path.basename(lbl_path), lbl_path)):
        data = _read_idx_bytes(path)
        want = md5s.get(key) or md5s.get(key + ".gz")
        if want is not None:
            got = hashlib.md5(data).hexdigest()
            if got != want:
                raise ValueError(
                    f"Checksum mismatch for {path}: md5 of the uncompressed data is "
                    f"{got}, expected {want} (official {name}). The file is corrupt or "
                    "not the official one: re-copy it, or skip the check with "
                    "verify_checksums=False (--noverify_checksums)."
                )
        arrays.append(_parse_idx(data, path))
    images, labels = arrays
    if images.ndim != 3 or images.shape[1:] != (28, 28) or images.dtype != np.uint8:
        raise ValueError(
            f"{img_path}: expected uint8 images of shape (N, 28, 28), got "
            f"{images.dtype.name} {images.shape}."
        )
    if labels.ndim != 1 or labels.dtype != np.uint8:
        raise ValueError(
            f"{lbl_path}: expected a 1-D uint8 label array, got "
            f"{labels.dtype.name} {labels.shape}."
        )
    if len(images) != len(labels):
        raise ValueError(
            f"{img_path} has {len(images)} images but {lbl_path} has "
            f"{len(labels)} labels."
        )
    if len(labels) and int(labels.max()) >= num_classes:
        raise ValueError(
            f"{lbl_path}: labels must be in 0..{num_classes - 1}, found "
            f"{int(labels.max())}."
        )
    return images, labels


def _examples(images: np.ndarray, labels: np.ndarray):
    # Index keys, exactly like tfds's own MNIST builder, so the stored example
    # order (tfds shuffles by key hash) matches a tfds-downloaded copy.
    for i in range(len(images)):
        yield i, {"image": images[i][..., None], "label": int(labels[i])}


def import_idx_dataset(
    name: str = "mnist",
    source_dir=None,
    data_dir=None,
    verify_checksums: bool = True,
    overwrite: bool = False,
) -> str:
    """Imports raw IDX files (MNIST layout) as a regular tfds dataset, offline.

    Writes `<data_dir>/<name>/<version>/` with the registered tfds builder's
    name, version and features (image (28,28,1) uint8, 10-class label) and
    splits train/test, so `tfds.load(name, data_dir=data_dir)` works without
    network afterwards (with or without `download=False`).

    Args:
      name: "mnist" or "fashion_mnist".
      source_dir: directory with train-images-idx3-ubyte.gz,
        train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz and
        t10k-labels-idx1-ubyte.gz (uncompressed variants are accepted too).
      data_dir: tfds data dir; defaults to `default_data_dir()`.
      verify_checksums: check the md5 of the uncompressed files against the
        official MNIST values (no known values for fashion_mnist: skipped).
      overwrite: replace an existing prepared dataset. The old one is swapped
        out only after the new one is completely written.

    Returns:
      Path of the prepared dataset version dir, e.g. `<data_dir>/mnist/3.0.1`.

    Raises:
      FileNotFoundError: missing source dir / files.
      ValueError: unknown name, bad checksum, corrupt or inconsistent files.
    """
    if name not in IDX_DATASETS:
        raise ValueError(
            f"Cannot import {name!r} from IDX files; supported: {', '.join(IDX_DATASETS)}."
        )
    if source_dir is None:
        raise ValueError("source_dir is required (directory with the 4 IDX files).")
    source_dir = os.path.abspath(os.path.expanduser(os.fspath(source_dir)))
    data_dir = _resolve_data_dir(data_dir)

    # Registered builder: gives the canonical version, features and target dir.
    # No data there yet -> its info comes from code (no network, see module doc).
    ref = tfds.builder(name, data_dir=data_dir, try_gcs=False)
    target = os.fspath(ref.data_dir)  # <data_dir>/<name>/<version>
    if is_prepared(name, data_dir) and not overwrite:
        logging.info("%s is already prepared in %s; not overwriting.", name, target)
        return target

    if not os.path.isdir(source_dir):
        raise FileNotFoundError(
            f"Source dir {source_dir} does not exist (it should contain the 4 "
            f"{name} IDX files)."
        )
    files = _find_idx_files(source_dir)
    md5s = _KNOWN_MD5[name] if verify_checksums else {}
    if verify_checksums and not md5s:
        logging.warning("No known checksums for %s; skipping verification.", name)
    num_classes = ref.info.features["label"].num_classes
    splits = {
        split: _load_idx_split(name, files[img], files[lbl], md5s, num_classes)
        for split, (img, lbl) in IDX_FILES.items()
    }

    os.makedirs(data_dir, exist_ok=True)
    # Build in a temp dir on the same filesystem, then rename into place, so an
    # existing good dataset is never half-overwritten.
    tmp_root = tempfile.mkdtemp(prefix=".kgan-import-", dir=data_dir)
    try:
        # Note: the registered builder (e.g. tfds MNIST) accepts these files as
        # they are: it only needs dataset_info.json + features.json +
        # `<name>-<split>.tfrecord-*` under <name>/<version>; the adhoc
        # moduleName/description in dataset_info.json is ignored and
        # supervised_keys still come from the builder code (checked by tests).
        features = tfds.features.FeatureConnector.from_json(ref.info.features.to_json())
        built = tfds.dataset_builders.store_as_tfds_dataset(
            name=name,
            version=str(ref.version),
            features=features,
            split_datasets={s: _examples(*arrs) for s, arrs in splits.items()},
            data_dir=tmp_root,
            description=ref.info.description,
            homepage=ref.info.homepage,
            citation=ref.info.citation,
            download_config=tfds.download.DownloadConfig(try_download_gcs=False),
        )
        new_dir = os.fspath(built.data_dir)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        old_dir = os.path.join(tmp_root, "previous")
        had_old = os.path.exists(target)
        if had_old:
            os.rename(target, old_dir)
        try:
            os.rename(new_dir, target)
        except BaseException:
            if had_old:
                os.rename(old_dir, target)
            raise
    finally:
        shutil.rmtree(tmp_root, ignore_errors=True)

    check = tfds.builder(name, data_dir=data_dir, try_gcs=False)
    counts = {s: check.info.splits[s].num_examples for s in splits}
    if not check.is_prepared() or counts != {s: len(a[0]) for s, a in splits.items()}:
        raise RuntimeError(f"Import of {name} into {target} failed verification: {counts}")
    logging.info("Imported %s into %s: %s", name, target, counts)
    return target


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
    data_dir = _resolve_data_dir(data_dir)
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
