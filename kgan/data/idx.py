"""Import raw IDX files (the MNIST format) as a regular tfds dataset, offline.

`import_idx_dataset` writes ``<data_dir>/<name>/<version>/`` with the
registered tfds builder's name, version and features, so `tfds.load(name)` and
`kgan.data.load_images(name)` read it without any network afterwards.
"""

from __future__ import annotations

import errno
import gzip
import hashlib
import math
import os
import shutil
import struct
import tempfile
import zlib

import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds
from absl import logging

from kgan.data.pipeline import IDX_DATASETS, is_prepared, resolve_data_dir

__all__ = ["IDX_DATASETS", "IDX_FILES", "read_idx", "import_idx_dataset"]

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
        got = hashlib.md5(data).hexdigest()
        for other, known in _KNOWN_MD5.items():
            if other != name and got in known.values():
                raise ValueError(
                    f"{path} is the official {other} file (its md5 is {got}), not {name}: import it with "
                    f"--dataset {other} (kgan.data.import_idx_dataset({other!r}, ...)). Nothing was written.")
        want = md5s.get(key) or md5s.get(key + ".gz")
        if want is not None:
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
    data_dir = resolve_data_dir(data_dir)

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
        try:
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
        except (RuntimeError, tf.errors.ResourceExhaustedError) as error:
            # tfds re-raises a full disk as RuntimeError("ResourceExhaustedError: ... No space left on device").
            if "No space left" not in str(error) and "ResourceExhausted" not in str(error):
                raise
            raise OSError(errno.ENOSPC, f"No space left on the disk of {data_dir} to import {name} (about "
                          f"{sum(a[0].nbytes for a in splits.values()) // 2**20} MiB are needed); free some space "
                          "and rerun. Nothing was written.") from None
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


