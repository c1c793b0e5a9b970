"""tfds datasets by name: downloads (simulated with local files), the fast offline failure, name/split checks."""

import os
import socket
import time

import numpy as np
import pytest
import tensorflow_datasets as tfds

from conftest import run_module
from kgan import data
from kgan.data import download


class KganTestShapes(tfds.core.GeneratorBasedBuilder):
    """A labelled 16x16 RGB dataset whose "download" is a local .npz file (tests only)."""

    VERSION = tfds.core.Version("1.0.0")
    source = None  # set by the test: a local path, so the download manager copies instead of fetching

    def _info(self):
        return tfds.core.DatasetInfo(builder=self, features=tfds.features.FeaturesDict({
            "image": tfds.features.Image(shape=(16, 16, 3)),
            "label": tfds.features.ClassLabel(names=["dark", "light"])}))

    def _split_generators(self, dl_manager):
        path = dl_manager.download(type(self).source)
        return {"train": self._generate_examples(path)}

    def _generate_examples(self, path):
        arrays = np.load(path)
        for i, (image, label) in enumerate(zip(arrays["images"], arrays["labels"])):
            yield i, {"image": image, "label": int(label)}


class KganTestTextOnly(tfds.core.GeneratorBasedBuilder):
    """A dataset without images."""

    VERSION = tfds.core.Version("1.0.0")

    def _info(self):
        return tfds.core.DatasetInfo(builder=self, features=tfds.features.FeaturesDict({"text": tfds.features.Text()}))

    def _split_generators(self, dl_manager):
        raise AssertionError("never prepared")

    def _generate_examples(self):
        raise AssertionError("never prepared")


def write_source(path, count=40):
    labels = np.arange(count) % 2
    images = np.where(labels[:, None, None, None] == 1, 220, 30).astype(np.uint8) * np.ones((1, 16, 16, 3), np.uint8)
    np.savez(path, images=images, labels=labels)
    return images, labels


def test_download_and_prepare_when_online(tmp_path, monkeypatch):
    _, labels = write_source(tmp_path / "source.npz")
    monkeypatch.setattr(KganTestShapes, "source", str(tmp_path / "source.npz"))
    probed = []
    monkeypatch.setattr(download, "check_network", lambda hosts, timeout=None: probed.append(hosts))
    data_dir = str(tmp_path / "tfds")
    with pytest.raises(data.DataNotFoundError, match="downloads are off"):
        data.load_images("kgan_test_shapes", data_dir=data_dir, download=False)
    assert not probed
    ds = data.load_images("kgan_test_shapes", batch_size=40, with_labels=True, data_dir=data_dir, shuffle=False)
    assert probed  # the reachability check ran before tfds downloaded
    x, y = next(iter(ds))
    assert sorted(y.numpy().tolist()) == sorted(labels.tolist())  # tfds stores the examples in its own order
    np.testing.assert_array_equal(x.numpy(), np.where(y.numpy() == 1, 220, 30).astype(np.float32)[:, None, None, None] *
                                  np.ones((1, 16, 16, 3), np.float32) / np.float32(127.5) - 1)
    assert data.is_prepared("kgan_test_shapes", data_dir)
    # Prepared now: no check, no download, also with downloads off.
    probed.clear()
    spec = data.dataset_spec("kgan_test_shapes", data_dir, download=False)
    assert spec["image_shape"] == (16, 16, 3) and spec["class_names"] == ["dark", "light"] and not probed
    gray = next(iter(data.load_images("kgan_test_shapes", batch_size=4, data_dir=data_dir, channels=1,
                                      image_size=8, download=False)))
    assert gray.shape == (4, 8, 8, 1)
    with pytest.raises(ValueError, match="Unknown split 'test' .*available: train"):
        data.load_images("kgan_test_shapes", split="test", data_dir=data_dir)


def test_offline_download_fails_fast_with_the_ways_out(tmp_path):
    # conftest points every proxy variable at a closed local port: the check is refused at once.
    start = time.monotonic()
    with pytest.raises(data.DownloadUnavailableError) as error:
        data.load_images("cifar10", data_dir=str(tmp_path / "tfds"))
    assert time.monotonic() - start < 15
    message = str(error.value)
    assert "127.0.0.1:9 is unreachable" in message and "\n" not in message
    for way_out in ("connect this machine to the internet", "tfds build cifar10 --data_dir DIR",
                    "zoo.import_data", "--image_dir"):
        assert way_out in message
    assert not (tmp_path / "tfds" / "cifar10").exists()


def test_network_check_has_a_deadline(monkeypatch):
    """An offline DNS lookup or connect that hangs is cut off at the deadline."""
    monkeypatch.setattr(socket, "create_connection", lambda *a, **k: time.sleep(30))
    start = time.monotonic()
    with pytest.raises(OSError, match="example.org:443 is unreachable .*no answer within 1 s"):
        download.check_network([("example.org", 443)], timeout=1)
    assert time.monotonic() - start < 3


def test_download_hosts_follow_urls_and_proxies(monkeypatch):
    builder = tfds.builder("cifar10", data_dir="/nonexistent")
    monkeypatch.delenv("HTTPS_PROXY")
    monkeypatch.delenv("https_proxy")
    assert download.download_hosts(builder) == [("www.cs.toronto.edu", 443)]
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.local:3128")
    assert download.download_hosts(builder) == [("proxy.local", 3128)]


def test_names_features_and_split_syntax_are_checked_before_any_work(tmp_path):
    data_dir = str(tmp_path / "tfds")
    with pytest.raises(ValueError, match="Unknown dataset 'cifar_10'.*Did you mean cifar10"):
        data.load_images("cifar_10", data_dir=data_dir)
    with pytest.raises(ValueError, match="has no image feature"):
        data.load_images("kgan_test_text_only", data_dir=data_dir)
    with pytest.raises(ValueError, match="has no class label"):
        data.load_images("lsun/bedroom", with_labels=True, data_dir=data_dir)
    with pytest.raises(ValueError, match=r"Bad split 'train\[:x\]'"):
        data.load_images("cifar10", split="train[:x]", data_dir=data_dir)
    with pytest.raises(ValueError, match="channels must be 1"):
        data.load_images("cifar10", channels=2, data_dir=data_dir)
    assert not os.path.exists(data_dir)


def test_cli_nodownload_and_offline_messages(tmp_path):
    base = ["--output_dir", tmp_path / "run", "--data_dir", tmp_path / "tfds", "--epochs", "1"]
    offline = run_module("zoo.dcgan", "--dataset", "svhn_cropped", *base, timeout=120)
    assert offline.returncode == 2, offline.stderr[-2000:]
    assert "cannot be downloaded" in offline.stderr and "--image_dir" in offline.stderr
    off = run_module("zoo.dcgan", "--dataset", "svhn_cropped", "--nodownload", *base, timeout=120)
    assert off.returncode == 2 and "downloads are off" in off.stderr
    assert not (tmp_path / "run").exists()
