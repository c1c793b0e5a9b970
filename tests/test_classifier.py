"""The shipped MNIST classifier (kgan.classifier) and its training script."""

import os
import subprocess
import sys

import keras
import numpy as np
import pytest

from conftest import REPO
from kgan import data
from kgan.evaluation import classifier

MNIST_DIR = os.path.join(os.path.dirname(REPO), "shared", "datasets", "mnist")
TEST_IMAGES = os.path.join(MNIST_DIR, "t10k-images-idx3-ubyte.gz")
TEST_LABELS = os.path.join(MNIST_DIR, "t10k-labels-idx1-ubyte.gz")
SCRIPT = os.path.join(REPO, "bench", "train_mnist_classifier.py")


@pytest.fixture(scope="module")
def model():
    return classifier.load_mnist_classifier()


@pytest.fixture(scope="module")
def real_test_digits():
    """The first 2000 real MNIST test digits, [-1, 1] float32 [N, 28, 28, 1], and labels."""
    if not (os.path.isfile(TEST_IMAGES) and os.path.isfile(TEST_LABELS)):
        pytest.skip(f"raw MNIST test files not found in {MNIST_DIR}")
    images = data.read_idx(TEST_IMAGES)[:2000]
    labels = data.read_idx(TEST_LABELS)[:2000].astype(np.int32)
    return (images[..., None].astype(np.float32) / 127.5 - 1.0), labels


def test_shipped_weights_exist_and_are_small():
    path = classifier.default_weights_path()
    assert os.path.isfile(path), path
    assert path.endswith(os.path.join("kgan", "assets", classifier.WEIGHTS_FILE))
    assert os.path.getsize(path) < 1.5e6


def test_architecture():
    m = classifier.build_mnist_classifier()
    assert tuple(m.input_shape) == (None, 28, 28, 1)
    assert tuple(m.output_shape) == (None, 10)
    assert tuple(m.get_layer(classifier.FEATURES_LAYER).output.shape) == (None, classifier.FEATURES_DIM)
    assert m.count_params() < 300_000
    logits = np.asarray(m(np.zeros((3, 28, 28, 1), np.float32)))
    assert logits.shape == (3, 10)


def test_shipped_weights_load(model):
    assert tuple(model.output_shape) == (None, 10)
    weights = model.get_weights()
    assert len(weights) == len(classifier.build_mnist_classifier().get_weights())
    assert all(np.all(np.isfinite(w)) for w in weights)


def test_accuracy_on_real_mnist_test_digits(model, real_test_digits):
    images, labels = real_test_digits
    predicted = classifier.predict_labels(images, model=model, batch_size=500)
    assert predicted.dtype == np.int32 and predicted.shape == labels.shape
    accuracy = float(np.mean(predicted == labels))
    assert accuracy >= 0.985, accuracy
    # The default (cached, shipped) model and [N, 28, 28] input give the same answer.
    np.testing.assert_array_equal(classifier.predict_labels(images[:300, ..., 0]), predicted[:300])


def test_classifier_features(model, real_test_digits):
    images = real_test_digits[0][:64]
    features_model = classifier.classifier_features(model)
    logits, features = (np.asarray(t) for t in features_model(images, training=False))
    assert logits.shape == (64, 10) and features.shape == (64, classifier.FEATURES_DIM)
    np.testing.assert_allclose(logits, np.asarray(model(images, training=False)), rtol=1e-5, atol=1e-5)
    assert np.all(features >= 0)  # ReLU features
    assert features_model.get_layer(classifier.FEATURES_LAYER) is model.get_layer(classifier.FEATURES_LAYER)
    x = keras.Input((28, 28, 1))
    with pytest.raises(ValueError, match="features"):
        classifier.classifier_features(keras.Model(x, keras.layers.Dense(10)(keras.layers.Flatten()(x))))


@pytest.mark.parametrize(
    "images, match",
    [
        (np.zeros((4, 32, 32, 1), np.float32), "shape"),
        (np.zeros((4, 784), np.float32), "shape"),
        (np.zeros((4, 28, 28, 3), np.float32), "shape"),
        (np.zeros((28, 28, 1), np.float32), "shape"),
        (np.full((4, 28, 28, 1), 255, np.uint8), "uint8"),
        (np.full((4, 28, 28, 1), 255.0, np.float32), r"\[-1, 1\]"),
        (np.full((4, 28, 28, 1), np.nan, np.float32), "NaN"),
    ],
)
def test_predict_labels_rejects_bad_images(model, images, match):
    with pytest.raises(ValueError, match=match):
        classifier.predict_labels(images, model=model)


def test_predict_labels_edge_cases(model):
    with pytest.raises(ValueError, match="batch_size"):
        classifier.predict_labels(np.zeros((2, 28, 28, 1), np.float32), model=model, batch_size=0)
    assert classifier.predict_labels(np.zeros((0, 28, 28, 1), np.float32), model=model).shape == (0,)
    # Round-off just past +-1 (x / 127.5 - 1 in float math) is accepted.
    out = classifier.predict_labels(np.full((2, 28, 28, 1), 1.0 + 1e-6, np.float32), model=model)
    assert out.shape == (2,)


def test_corrupt_weights_file_gives_clear_error(tmp_path):
    garbage = tmp_path / "garbage.weights.h5"
    garbage.write_bytes(b"this is not an HDF5 file" * 100)
    with pytest.raises(ValueError, match="corrupt") as info:
        classifier.load_mnist_classifier(path=str(garbage))
    assert str(garbage) in str(info.value) and classifier.TRAIN_SCRIPT in str(info.value)

    truncated = tmp_path / "truncated.weights.h5"
    shipped = open(classifier.default_weights_path(), "rb").read()
    truncated.write_bytes(shipped[: len(shipped) // 2])
    with pytest.raises(ValueError, match=classifier.TRAIN_SCRIPT):
        classifier.load_mnist_classifier(path=str(truncated))


def test_other_architecture_weights_rejected(tmp_path):
    x = keras.Input((28, 28, 1))
    other = keras.Model(x, keras.layers.Dense(10)(keras.layers.Flatten()(x)))
    path = tmp_path / "other.weights.h5"
    other.save_weights(str(path))
    with pytest.raises(ValueError, match="another architecture"):
        classifier.load_mnist_classifier(path=str(path))


def test_missing_weights_file_gives_clear_error(tmp_path):
    missing = tmp_path / "nope.weights.h5"
    with pytest.raises(FileNotFoundError, match=classifier.TRAIN_SCRIPT) as info:
        classifier.load_mnist_classifier(path=str(missing))
    assert str(missing) in str(info.value)
    with pytest.raises(ValueError, match=".weights.h5"):
        bad_name = tmp_path / "weights.bin"
        bad_name.write_bytes(b"x")
        classifier.load_mnist_classifier(path=str(bad_name))


def test_training_script_smoke(mnist_data_dir, tmp_path):
    """One short epoch on the tiny synthetic MNIST; the written file loads."""
    out = tmp_path / "clf.weights.h5"
    proc = subprocess.run(
        [sys.executable, SCRIPT, "--epochs", "1", "--batch_size", "16", "--min_accuracy", "0",
         "--data_dir", mnist_data_dir, "--output", str(out), "--verbose", "0"],
        cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Test accuracy:" in proc.stdout
    loaded = classifier.load_mnist_classifier(path=str(out))
    assert tuple(loaded.output_shape) == (None, 10)


def test_training_script_refuses_missing_data(tmp_path):
    proc = subprocess.run(
        [sys.executable, SCRIPT, "--epochs", "1", "--data_dir", str(tmp_path / "empty"),
         "--output", str(tmp_path / "x.weights.h5")],
        cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert "zoo.import_data" in proc.stderr
    assert not (tmp_path / "x.weights.h5").exists()
