import gzip
import importlib.util
import os
import struct
import subprocess
import sys

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# Nothing in the tests may reach the network: every HTTP(S) request (tfds downloads, kgan's reachability check,
# subprocesses included) goes to a closed local port and is refused at once. Local connections (the gRPC of the
# multi-worker tests) bypass it.
OFFLINE_PROXY = "http://127.0.0.1:9"
for _name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "FTP_PROXY", "ftp_proxy"):
    os.environ[_name] = OFFLINE_PROXY
for _name in ("NO_PROXY", "no_proxy"):
    os.environ[_name] = "localhost,127.0.0.1,::1"

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def bench_module(name):
    """Imports ``bench/<name>.py`` (the benchmarks are scripts, not a package)."""
    spec = importlib.util.spec_from_file_location(name, os.path.join(REPO, "bench", f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def tiny_families():
    """One tiny model per family, keyed by its export family name (seeded noise)."""
    import kgan

    return {
        "dcgan": lambda: kgan.DCGAN(generator_filters=4, discriminator_filters=4, seed=0),
        "gan": lambda: kgan.VanillaGAN(generator_units=(16,), discriminator_units=(8,), seed=0),
        "cgan": lambda: kgan.ConditionalDCGAN(generator_filters=4, discriminator_filters=4, seed=0),
        "infogan": lambda: kgan.ConvInfoGAN(seed=0),
    }


def write_idx_gz(path, array):
    """Writes a uint8 array as a gzipped IDX file (the MNIST format)."""
    array = np.asarray(array, np.uint8)
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.tobytes())


@pytest.fixture(scope="session")
def mnist_data_dir(tmp_path_factory):
    """A tfds data dir holding a small synthetic MNIST (64 train / 16 test digits-like images)."""
    from kgan import data

    source = tmp_path_factory.mktemp("idx")
    rng = np.random.default_rng(0)
    for prefix, n in (("train", 64), ("t10k", 16)):
        labels = np.arange(n) % 10
        images = np.zeros((n, 28, 28), np.uint8)
        for i, label in enumerate(labels):  # a bar whose position encodes the label, plus noise
            images[i, 4:24, 2 + 2 * label:4 + 2 * label] = 255
        images = np.maximum(images, rng.integers(0, 40, images.shape, dtype=np.uint8))
        write_idx_gz(source / f"{prefix}-images-idx3-ubyte.gz", images)
        write_idx_gz(source / f"{prefix}-labels-idx1-ubyte.gz", labels)
    data_dir = tmp_path_factory.mktemp("tfds")
    data.import_idx_dataset("mnist", str(source), str(data_dir), verify_checksums=False)
    return str(data_dir)


def run_module(module, *args, timeout=300, env=None):
    """Runs ``python -m module args`` from the repo root; returns the CompletedProcess."""
    return subprocess.run([sys.executable, "-m", module, *map(str, args)], cwd=REPO, capture_output=True,
                          text=True, timeout=timeout, env=None if env is None else {**os.environ, **env})
