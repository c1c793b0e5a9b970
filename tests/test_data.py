"""Tests for kgan.data (IDX import + tfds pipelines) and zoo.import_data.

Everything runs offline on tiny synthetic IDX files (64 train / 16 test
images), except one test on the real MNIST files when they are present.
"""

import gzip
import os
import pathlib
import struct
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

from kgan import data

REPO = pathlib.Path(__file__).resolve().parents[1]
REAL_MNIST = REPO.parent / "shared" / "datasets" / "mnist"
N_TRAIN, N_TEST = 64, 16
FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
_CODES = {"uint8": 0x08, "int8": 0x09, "int16": 0x0B, "int32": 0x0C, "float32": 0x0D, "float64": 0x0E}


def idx_bytes(arr):
    """Uncompressed IDX encoding of `arr`."""
    arr = np.asarray(arr)
    header = bytes([0, 0, _CODES[arr.dtype.name], arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape)
    return header + arr.astype(arr.dtype.newbyteorder(">")).tobytes()


def write_idx(path, arr, compress=True):
    raw = idx_bytes(arr)
    pathlib.Path(path).write_bytes(gzip.compress(raw) if compress else raw)
    return path


def synthetic_split(n, offset):
    """Image i: a gradient shifted by its global index, pixel (0,0) = index,
    pixel (27,27) = 255 and (27,26) = 0; label = index * 7 % 10."""
    index = np.arange(offset, offset + n)
    grad = (np.arange(28 * 28).reshape(28, 28) * 3) % 256
    images = ((grad[None] + index[:, None, None]) % 256).astype(np.uint8)
    images[:, 0, 0] = index
    images[:, 27, 27] = 255
    images[:, 27, 26] = 0
    labels = (index * 7 % 10).astype(np.uint8)
    return images, labels


def make_source(directory, label_shift=0):
    """Writes the 4 synthetic IDX .gz files; returns {split: (images, labels)}."""
    directory = pathlib.Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    arrays = {"train": synthetic_split(N_TRAIN, 0), "test": synthetic_split(N_TEST, N_TRAIN)}
    for split, (img_name, lbl_name) in FILES.items():
        images, labels = arrays[split]
        labels = ((labels.astype(int) + label_shift) % 10).astype(np.uint8)
        arrays[split] = (images, labels)
        write_idx(directory / img_name, images)
        write_idx(directory / lbl_name, labels)
    return arrays


def import_synthetic(source, data_dir, **kwargs):
    return data.import_idx_dataset(
        "mnist", source_dir=source, data_dir=data_dir, verify_checksums=False, **kwargs)


def all_labels(data_dir, split):
    ds = tfds.load("mnist", split=split, data_dir=data_dir, download=False, shuffle_files=False)
    return sorted(int(ex["label"]) for ex in ds)


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    """A data dir with the synthetic mnist imported (shared, read-only)."""
    root = tmp_path_factory.mktemp("prepared")
    arrays = make_source(root / "src")
    data_dir = root / "tfds"
    path = import_synthetic(root / "src", data_dir)
    return {"data_dir": str(data_dir), "arrays": arrays, "path": path}


# --------------------------------------------------------------------------- read_idx


@pytest.mark.parametrize("compress", [True, False])
@pytest.mark.parametrize("dtype", ["uint8", "int32", "float32"])
def test_read_idx_round_trip(tmp_path, compress, dtype):
    arr = (np.arange(2 * 3 * 5) - 7).reshape(2, 3, 5).astype(dtype)
    if dtype == "uint8":
        arr = np.arange(30, dtype=np.uint8).reshape(2, 3, 5) * 8
    path = write_idx(tmp_path / ("a.idx.gz" if compress else "a.idx"), arr, compress)
    out = data.read_idx(path)
    assert out.dtype == arr.dtype and out.dtype.isnative
    assert out.shape == (2, 3, 5)
    np.testing.assert_array_equal(out, arr)
    out[0, 0, 0] = 1  # writable copy, not a view on a bytes buffer


def test_read_idx_labels_1d(tmp_path):
    labels = np.array([3, 1, 4, 1, 5, 9], np.uint8)
    out = data.read_idx(write_idx(tmp_path / "l.gz", labels))
    assert out.shape == (6,)
    np.testing.assert_array_equal(out, labels)


def _bad_file_cases(tmp_path):
    good = idx_bytes(np.zeros((4, 28, 28), np.uint8))
    gz = gzip.compress(good)
    corrupt = bytearray(gz)
    corrupt[len(corrupt) // 2] ^= 0xFF
    corrupt[len(corrupt) // 2 + 1] ^= 0xFF
    wrong_magic = b"\x08\x03\x00\x00" + good[4:]
    return {
        "truncated_gzip.gz": (gz[: len(gz) // 2], "truncated or corrupt"),
        "corrupt_gzip.gz": (bytes(corrupt), "truncated or corrupt"),
        "not_gzip.gz": (good, "not a gzip file"),
        "wrong_magic.gz": (gzip.compress(wrong_magic), "not an IDX file"),
        "bad_type_code.gz": (gzip.compress(b"\0\0\x07\x01" + good[4:]), "not an IDX file"),
        "truncated_payload.gz": (gzip.compress(good[:-10]), "truncated"),
        "trailing_bytes.gz": (gzip.compress(good + b"xx"), "trailing bytes"),
        "short_header": (good[:9], "truncated"),
        "empty": (b"", "not an IDX file"),
    }


def test_read_idx_bad_files(tmp_path):
    for name, (content, expected) in _bad_file_cases(tmp_path).items():
        path = tmp_path / name
        path.write_bytes(content)
        with pytest.raises(ValueError) as err:
            data.read_idx(path)
        msg = str(err.value)
        assert str(path) in msg, (name, msg)
        assert expected in msg, (name, msg)
        assert "re-copy" in msg, (name, msg)


def test_read_idx_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.gz"):
        data.read_idx(tmp_path / "nope.gz")


# --------------------------------------------------------------------------- import


def test_import_writes_registered_layout(prepared):
    data_dir = prepared["data_dir"]
    assert prepared["path"] == os.path.join(data_dir, "mnist", "3.0.1")
    assert data.is_prepared("mnist", data_dir)
    # No temp dirs left behind.
    assert sorted(os.listdir(data_dir)) == ["mnist"]
    builder = tfds.builder("mnist", data_dir=data_dir)
    assert type(builder).__name__ == "MNIST"  # the registered builder reads it
    assert str(builder.version) == "3.0.1"
    feats = builder.info.features
    assert feats["image"].shape == (28, 28, 1) and feats["image"].dtype == np.uint8
    assert isinstance(feats["label"], tfds.features.ClassLabel) and feats["label"].num_classes == 10
    assert {s: v.num_examples for s, v in builder.info.splits.items()} == {"train": N_TRAIN, "test": N_TEST}
    assert data.dataset_spec("mnist", data_dir) == {
        "image_shape": (28, 28, 1), "num_classes": 10, "class_names": [str(i) for i in range(10)],
        "num_examples": {"train": N_TRAIN, "test": N_TEST}}


def test_plain_tfds_load_works_after_import(prepared):
    data_dir, arrays = prepared["data_dir"], prepared["arrays"]
    start = time.time()
    train = tfds.load("mnist", split="train", data_dir=data_dir, download=False)
    test = tfds.load("mnist", split="test", data_dir=data_dir)  # download=True default
    assert time.time() - start < 10  # no download attempt (that takes minutes offline)
    for ds, (images, labels) in ((train, arrays["train"]), (test, arrays["test"])):
        seen = {}
        for ex in tfds.as_numpy(ds):
            assert ex["image"].shape == (28, 28, 1) and ex["image"].dtype == np.uint8
            seen[int(ex["image"][0, 0, 0])] = ex
        assert len(seen) == len(images)
        for i, ex in seen.items():
            j = i - (0 if ds is train else N_TRAIN)
            np.testing.assert_array_equal(ex["image"][..., 0], images[j])
            assert ex["label"] == labels[j]
    image, label = next(iter(tfds.load("mnist", split="test", data_dir=data_dir, as_supervised=True)))
    assert image.shape == (28, 28, 1) and label.dtype == tf.int64


def test_existing_dataset_not_overwritten(tmp_path):
    src1, src2, data_dir = tmp_path / "src1", tmp_path / "src2", tmp_path / "tfds"
    make_source(src1)
    make_source(src2, label_shift=1)
    path = import_synthetic(src1, data_dir)
    original = all_labels(data_dir, "train")
    marker = pathlib.Path(path) / "features.json"
    mtime = marker.stat().st_mtime_ns
    # Second import without overwrite: no-op, same path, data untouched.
    assert import_synthetic(src2, data_dir) == path
    assert marker.stat().st_mtime_ns == mtime
    assert all_labels(data_dir, "train") == original
    # With overwrite: replaced by the new data, no temp dirs left.
    assert import_synthetic(src2, data_dir, overwrite=True) == path
    assert all_labels(data_dir, "train") == sorted((np.array(original) + 1) % 10)
    assert sorted(os.listdir(data_dir)) == ["mnist"]
    assert os.listdir(data_dir / "mnist") == ["3.0.1"]


def test_failed_overwrite_keeps_existing_dataset(tmp_path):
    data_dir = tmp_path / "tfds"
    make_source(tmp_path / "good")
    path = import_synthetic(tmp_path / "good", data_dir)
    bad = tmp_path / "bad"
    make_source(bad)
    (bad / FILES["test"][0]).write_bytes(b"garbage")
    with pytest.raises(ValueError, match="t10k-images-idx3-ubyte.gz"):
        import_synthetic(bad, data_dir, overwrite=True)
    assert data.is_prepared("mnist", str(data_dir))
    assert len(all_labels(data_dir, "train")) == N_TRAIN
    assert pathlib.Path(path, "dataset_info.json").exists()


def test_checksum_mismatch(tmp_path):
    make_source(tmp_path / "src")
    with pytest.raises(ValueError) as err:
        data.import_idx_dataset("mnist", source_dir=tmp_path / "src", data_dir=tmp_path / "tfds",
                                verify_checksums=True)
    msg = str(err.value)
    assert "Checksum mismatch" in msg and "train-images-idx3-ubyte.gz" in msg
    assert "6bbc9ace898e44ae57da46a324031adb" in msg  # the expected official md5
    assert not data.is_prepared("mnist", str(tmp_path / "tfds"))


def test_missing_source_files(tmp_path):
    src = tmp_path / "src"
    make_source(src)
    (src / "t10k-labels-idx1-ubyte.gz").unlink()
    (src / "train-images-idx3-ubyte.gz").unlink()
    with pytest.raises(FileNotFoundError) as err:
        import_synthetic(src, tmp_path / "tfds")
    msg = str(err.value)
    assert "t10k-labels-idx1-ubyte.gz" in msg and "train-images-idx3-ubyte.gz" in msg
    assert str(src) in msg
    with pytest.raises(FileNotFoundError, match="does not exist"):
        import_synthetic(tmp_path / "nowhere", tmp_path / "tfds")


def test_inconsistent_source_files(tmp_path):
    src = tmp_path / "src"
    make_source(src)
    write_idx(src / "train-labels-idx1-ubyte.gz", np.zeros(N_TRAIN - 1, np.uint8))
    with pytest.raises(ValueError, match="64 images but .* 63 labels"):
        import_synthetic(src, tmp_path / "tfds")
    write_idx(src / "train-labels-idx1-ubyte.gz", np.full(N_TRAIN, 10, np.uint8))
    with pytest.raises(ValueError, match=r"labels must be in 0\.\.9"):
        import_synthetic(src, tmp_path / "tfds")
    write_idx(src / "train-images-idx3-ubyte.gz", np.zeros((N_TRAIN, 32, 32), np.uint8))
    with pytest.raises(ValueError, match=r"shape \(N, 28, 28\)"):
        import_synthetic(src, tmp_path / "tfds")
    with pytest.raises(ValueError, match="fashion_mnist"):
        data.import_idx_dataset("cifar10", source_dir=src, data_dir=tmp_path / "tfds")


def test_import_fashion_mnist_uses_registered_builder(tmp_path):
    make_source(tmp_path / "src")
    # verify_checksums=True: no known fashion checksums, so nothing to verify.
    path = data.import_idx_dataset("fashion_mnist", source_dir=tmp_path / "src",
                                   data_dir=tmp_path / "tfds")
    version = str(tfds.builder_cls("fashion_mnist").VERSION)
    assert path == str(tmp_path / "tfds" / "fashion_mnist" / version)
    ds, info = tfds.load("fashion_mnist", split="train", data_dir=tmp_path / "tfds", with_info=True)
    assert info.features["label"].names[0] == "T-shirt/top"
    assert info.splits["train"].num_examples == N_TRAIN
    images, labels = next(iter(data.load_images("fashion_mnist", batch_size=8, with_labels=True,
                                                data_dir=tmp_path / "tfds")))
    assert images.shape == (8, 28, 28, 1) and labels.dtype == tf.int32


# --------------------------------------------------------------------------- load_images


def _index(images):
    """Recovers the synthetic index stored in pixel (0, 0)."""
    return np.rint((images[:, 0, 0, 0] + 1.0) * 127.5).astype(int)


def test_load_images_values_and_labels(prepared):
    images_np, labels_np = prepared["arrays"]["train"]
    ds = data.load_images("mnist", batch_size=16, with_labels=True,
                          data_dir=prepared["data_dir"], seed=0)
    assert ds.element_spec == (tf.TensorSpec([16, 28, 28, 1], tf.float32),
                               tf.TensorSpec([16], tf.int32))
    seen = []
    for images, labels in ds.as_numpy_iterator():
        assert images.dtype == np.float32 and labels.dtype == np.int32
        assert np.all(images[:, 27, 27, 0] == 1.0)   # 255 -> exactly 1
        assert np.all(images[:, 27, 26, 0] == -1.0)  # 0 -> exactly -1
        assert images.min() == -1.0 and images.max() == 1.0
        idx = _index(images)
        expected = images_np[idx][..., None].astype(np.float32) / np.float32(127.5) - np.float32(1)
        np.testing.assert_allclose(images, expected, rtol=0, atol=1e-6)
        np.testing.assert_array_equal(labels, labels_np[idx])
        seen.extend(idx)
    assert sorted(seen) == list(range(N_TRAIN))  # one epoch, every image once


def test_load_images_without_labels_and_test_split(prepared):
    ds = data.load_images("mnist", split="test", batch_size=4, shuffle=False,
                          data_dir=prepared["data_dir"])
    assert ds.element_spec == tf.TensorSpec([4, 28, 28, 1], tf.float32)
    batches = list(ds.as_numpy_iterator())
    assert len(batches) == N_TEST // 4
    assert sorted(np.concatenate([_index(b) for b in batches])) == list(range(N_TRAIN, N_TRAIN + N_TEST))
    again = np.concatenate(list(ds.as_numpy_iterator()))
    np.testing.assert_array_equal(np.concatenate(batches), again)  # shuffle=False: stable


def test_load_images_seeded_shuffle_is_reproducible(prepared):
    def first_epoch(seed):
        ds = data.load_images("mnist", batch_size=16, data_dir=prepared["data_dir"], seed=seed)
        return np.concatenate([_index(b) for b in ds.as_numpy_iterator()])
    a, b, c = first_epoch(1), first_epoch(1), first_epoch(2)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_load_images_resize_64(prepared):
    ds = data.load_images("mnist", batch_size=8, image_size=64, with_labels=True,
                          data_dir=prepared["data_dir"], seed=0)
    assert ds.element_spec[0] == tf.TensorSpec([8, 64, 64, 1], tf.float32)
    images_np = prepared["arrays"]["train"][0].astype(np.float32) / 127.5 - 1.0
    for images, labels in ds.take(2).as_numpy_iterator():
        assert images.shape == (8, 64, 64, 1) and images.dtype == np.float32
        assert images.min() >= -1.0 and images.max() <= 1.0
        assert labels.shape == (8,)
        # Resizing keeps the overall brightness of each image.
        small = tf.image.resize(images, (28, 28), antialias=True).numpy()
        means = images.mean(axis=(1, 2, 3))
        assert np.all(np.abs(means - small.mean(axis=(1, 2, 3))) < 0.02)
        assert abs(means.mean() - images_np.mean()) < 0.2


@pytest.mark.parametrize("batch_size,drop,expected", [
    (10, True, [10] * 6),
    (10, False, [10] * 6 + [4]),
    (64, True, [64]),
])
def test_load_images_batching(prepared, batch_size, drop, expected):
    ds = data.load_images("mnist", batch_size=batch_size, drop_remainder=drop,
                          data_dir=prepared["data_dir"], cache=False)
    assert [b.shape[0] for b in ds.as_numpy_iterator()] == expected
    assert ds.element_spec.shape[0] == (batch_size if drop else None)


def test_load_images_bad_args(prepared):
    d = prepared["data_dir"]
    bad = [
        dict(dataset="not_a_dataset"),
        dict(dataset=""),
        dict(split="validation"),
        dict(split="train+valid"),
        dict(batch_size=0),
        dict(batch_size=-3),
        dict(batch_size=1.5),
        dict(batch_size=True),
        dict(image_size=0),
        dict(image_size="64"),
        dict(shuffle_buffer=0),
        dict(seed="x"),
        dict(batch_size=N_TRAIN + 1),  # drop_remainder would leave nothing
    ]
    for kwargs in bad:
        with pytest.raises(ValueError):
            data.load_images(**{"data_dir": d, **kwargs})
    with pytest.raises(ValueError) as err:
        data.load_images("not_a_dataset", data_dir=d)
    assert all(name in str(err.value) for name in ("mnist", "fashion_mnist", "cifar10"))
    with pytest.raises(ValueError, match="available: test, train"):
        data.load_images("mnist", split="validation", data_dir=d)
    # Sliced splits are fine.
    assert next(iter(data.load_images("mnist", split="train[:50%]", batch_size=32, data_dir=d))).shape[0] == 32


@pytest.mark.parametrize("dataset", ["mnist", "fashion_mnist", "cifar10"])
def test_missing_data_raises_fast(tmp_path, dataset):
    start = time.time()
    with pytest.raises(data.DataNotFoundError) as err:
        data.load_images(dataset, data_dir=tmp_path, download=False)
    elapsed = time.time() - start
    assert elapsed < 5, elapsed
    assert isinstance(err.value, FileNotFoundError)
    msg = str(err.value)
    assert dataset in msg and str(tmp_path) in msg and "zoo.import_data" in msg
    if dataset != "cifar10":
        assert (f"python -m zoo.import_data --dataset {dataset} --source_dir" in msg
                and f"--data_dir {tmp_path}" in msg)
    assert "--nodownload" in msg
    with pytest.raises(data.DataNotFoundError):
        data.dataset_spec(dataset, data_dir=tmp_path, download=False)
    assert not data.is_prepared(dataset, str(tmp_path))
    assert os.listdir(tmp_path) == []  # nothing created, nothing downloaded


def test_incomplete_dataset_dir_is_not_prepared(tmp_path):
    (tmp_path / "mnist" / "3.0.1").mkdir(parents=True)
    (tmp_path / "mnist" / "3.0.1" / "mnist-train.tfrecord-00000-of-00001").write_bytes(b"x")
    assert not data.is_prepared("mnist", str(tmp_path))
    with pytest.raises(data.DataNotFoundError, match="exists but holds no complete version"):
        data.load_images("mnist", data_dir=tmp_path, download=False)


def test_default_data_dir_honours_env(monkeypatch, tmp_path):
    monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path))
    assert data.default_data_dir() == str(tmp_path)
    monkeypatch.delenv("TFDS_DATA_DIR")
    assert data.default_data_dir() == os.path.expanduser("~/tensorflow_datasets")


# --------------------------------------------------------------------------- CLI


def run_cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "zoo.import_data", *map(str, args)],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=120)


def test_cli_import(tmp_path):
    make_source(tmp_path / "src")
    data_dir = tmp_path / "tfds"
    # Default data dir comes from TFDS_DATA_DIR, like plain tfds.load("mnist").
    env = {**os.environ, "TFDS_DATA_DIR": str(data_dir)}
    res = run_cli("--dataset", "mnist", "--source_dir", tmp_path / "src", "--noverify_checksums", env=env)
    assert res.returncode == 0, res.stderr
    assert str(data_dir / "mnist" / "3.0.1") in res.stdout
    assert "tfds.load(" in res.stdout
    # Plain user code with no data_dir at all finds it, offline and fast.
    user_code = ("import time, tensorflow_datasets as tfds; t = time.time(); "
                 "n = len(list(tfds.load('mnist', split='train'))); print(n, time.time() - t)")
    res = subprocess.run([sys.executable, "-c", user_code], env=env, capture_output=True,
                         text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    count, seconds = res.stdout.split()
    assert int(count) == N_TRAIN and float(seconds) < 10
    # Expected errors: one clear line on stderr, non-zero exit, no traceback.
    res = run_cli("--dataset", "mnist", "--source_dir", tmp_path / "src", "--data_dir", tmp_path / "other")
    assert res.returncode != 0
    assert "Traceback" not in res.stderr
    err_lines = [l for l in res.stderr.splitlines() if l.startswith("error:")]
    assert len(err_lines) == 1 and "Checksum mismatch" in err_lines[0]
    assert "train-images-idx3-ubyte.gz" in err_lines[0]
    assert not (tmp_path / "other" / "mnist").exists()


# --------------------------------------------------------------------------- real MNIST


@pytest.mark.skipif(not (REAL_MNIST / "train-images-idx3-ubyte.gz").exists(),
                    reason="real MNIST files not available")
def test_import_real_mnist(tmp_path):
    path = data.import_idx_dataset("mnist", source_dir=REAL_MNIST, data_dir=tmp_path,
                                   verify_checksums=True)
    assert path == str(tmp_path / "mnist" / "3.0.1")
    info = tfds.builder("mnist", data_dir=tmp_path).info
    assert info.splits["train"].num_examples == 60000
    assert info.splits["test"].num_examples == 10000
    images, labels = next(iter(data.load_images("mnist", split="test", batch_size=1000,
                                                with_labels=True, data_dir=tmp_path, seed=0)))
    assert images.shape == (1000, 28, 28, 1)
    assert set(np.unique(labels.numpy())) == set(range(10))
    # Real digits: mostly background (-1) with some full-ink (1) pixels.
    assert float(tf.reduce_mean(tf.cast(images == -1.0, tf.float32))) > 0.7
    assert float(tf.reduce_max(images)) == 1.0
