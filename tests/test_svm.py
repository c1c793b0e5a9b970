"""Discriminator features (dimension, pooling), the SVM protocol (kgan.svm) and zoo.svm end to end."""

import json

import keras
import numpy as np
import pytest

import kgan
from kgan import serving
from kgan.evaluation import svm
from kgan.models import features
from conftest import run_module  # noqa: E402


def tiny_dcgan(filters=4, seed=0):
    keras.utils.set_random_seed(seed)
    return kgan.DCGAN(generator_filters=4, discriminator_filters=filters, seed=seed)


@pytest.fixture(scope="module")
def run_and_export(tmp_path_factory):
    root = tmp_path_factory.mktemp("svm_models")
    gan = tiny_dcgan()
    (root / "run").mkdir()
    gan.save(str(root / "run" / "model.keras"))
    export_dir = serving.export_saved_model(gan, str(root / "exports"), "m", tflite_variants=())
    return gan, str(root / "run"), export_dir


# ---- features --------------------------------------------------------------------


def brute_adaptive_max_pool(x, grid):
    n, h, w, c = x.shape
    gh, gw = min(grid, h), min(grid, w)
    out = np.zeros((n, gh, gw, c), x.dtype)
    for i in range(gh):
        for j in range(gw):
            top, bottom = int(np.floor(i * h / gh)), int(np.ceil((i + 1) * h / gh))
            left, right = int(np.floor(j * w / gw)), int(np.ceil((j + 1) * w / gw))
            out[:, i, j] = x[:, top:bottom, left:right].max(axis=(1, 2))
    return out


@pytest.mark.parametrize("size", [2, 4, 7, 14, 9])
def test_adaptive_max_pool_matches_brute_force(size):
    x = np.random.default_rng(size).normal(size=(2, size, size, 3)).astype("float32")
    got = features.AdaptiveMaxPool(4)(x).numpy()
    np.testing.assert_array_equal(got, brute_adaptive_max_pool(x, 4))
    assert got.shape == (2, min(size, 4), min(size, 4), 3)


@pytest.mark.parametrize("filters", [4, 8])
def test_feature_dimension_is_144_f_and_pooled_conv_activations(filters):
    gan = tiny_dcgan(filters)
    model = features.discriminator_features(gan)
    assert model.output.shape[-1] == 144 * filters
    x = np.random.default_rng(0).uniform(-1, 1, (3, 28, 28, 1)).astype("float32")
    got = model(x, training=False).numpy()
    d = gan.discriminator
    activations = keras.Model(d.input, [d.get_layer(f"conv_{i}_lrelu").output for i in range(1, 5)])(x)
    expected = np.concatenate([brute_adaptive_max_pool(a.numpy(), 4).reshape(3, -1) for a in activations], axis=1)
    np.testing.assert_allclose(got, expected, rtol=1e-6)


def test_extractors_trained_random_and_export(run_and_export):
    gan, run_dir, export_dir = run_and_export
    images = np.random.default_rng(0).integers(0, 256, (5, 28, 28, 1), dtype=np.uint8)
    from_run = svm.feature_extractors(run_dir, seed=0)
    from_export = svm.feature_extractors(export_dir, seed=0)
    trained = from_run["trained"](images)
    assert trained.shape == (5, 576) and from_run["image_shape"] == (28, 28, 1)
    np.testing.assert_allclose(from_export["trained"](images), trained, atol=1e-5)
    expected = features.discriminator_features(gan)(images.astype("float32") / 127.5 - 1).numpy()
    np.testing.assert_allclose(trained, expected, atol=1e-5)
    # The random D has the same architecture, fresh weights, and is seeded.
    for extractors in (from_run, from_export):
        random = extractors["random"](images)
        assert random.shape == trained.shape and not np.allclose(random, trained)
    np.testing.assert_allclose(svm.feature_extractors(run_dir, seed=0)["random"](images),
                               from_run["random"](images), atol=1e-6)
    again = svm.feature_extractors(export_dir, seed=0)["random"](images)
    np.testing.assert_allclose(again, from_export["random"](images), atol=1e-6)
    assert not np.allclose(svm.feature_extractors(export_dir, seed=1)["random"](images), again)


def test_unusable_discriminators_are_refused(tmp_path):
    cgan = kgan.ConditionalDCGAN(generator_filters=2, discriminator_filters=2)
    with pytest.raises(ValueError, match="conditional"):
        svm.feature_extractors(cgan)
    mlp = kgan.VanillaGAN(generator_units=(8,), discriminator_units=(4,))
    with pytest.raises(ValueError, match="without Conv2D layers"):
        svm.feature_extractors(mlp)
    cgan_export = serving.export_saved_model(cgan, str(tmp_path), "c", tflite_variants=())
    with pytest.raises(ValueError, match="conditional"):
        svm.feature_extractors(cgan_export)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        svm.feature_extractors(str(tmp_path / "missing"))


# ---- the protocol ------------------------------------------------------------------


def test_select_subsets():
    labels = np.repeat(np.arange(4), [10, 12, 9, 30])
    train, validation = svm.select_subsets(labels, 3, 20, seed=5)
    assert np.bincount(labels[train]).tolist() == [3, 3, 3, 3]
    assert len(validation) == 20 and not set(train) & set(validation)
    again = svm.select_subsets(labels, 3, 20, seed=5)
    np.testing.assert_array_equal(again[0], train)
    np.testing.assert_array_equal(again[1], validation)
    assert not np.array_equal(svm.select_subsets(labels, 3, 20, seed=6)[0], train)
    with pytest.raises(ValueError, match=r"fewer training examples: \{2: 9\}"):
        svm.select_subsets(labels, 10, 5)
    with pytest.raises(ValueError, match="num_validation=60"):
        svm.select_subsets(labels, 3, 60)


def test_fit_linear_svm_picks_c_on_validation():
    rng = np.random.default_rng(0)

    def blobs(n):
        y = np.arange(n) % 3
        return rng.normal(size=(n, 5)) + 4.0 * np.eye(5)[y], y

    fit = svm.fit_linear_svm(blobs(30), blobs(60), blobs(90), c_grid=(0.01, 1.0, 100.0))
    assert fit["test_accuracy"] > 0.95 and fit["C"] in (0.01, 1.0, 100.0)
    assert fit["validation_accuracy"] == max(fit["validation_by_C"].values())
    # Ties go to the smallest C.
    best = [c for c, a in fit["validation_by_C"].items() if a == fit["validation_accuracy"]]
    assert fit["C"] == min(best)


def test_zoo_svm_end_to_end(run_and_export, mnist_data_dir, tmp_path):
    _, run_dir, export_dir = run_and_export
    output = tmp_path / "svm.json"
    # The synthetic MNIST has 6-7 train images per class: 3 labelled + 20 validation, all 16 test images.
    result = run_module("zoo.svm", "--model", export_dir, "--labels_per_class", 3, "--num_validation", 20,
                        "--data_dir", mnist_data_dir, "--output", output)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "3 labels per class (30 train), C from 20 validation images, 16 test images" in result.stdout
    report = json.loads(output.read_text())
    assert [r["features"] for r in report["results"]] == ["trained D", "random D", "pixels"]
    assert [r["dim"] for r in report["results"]] == [576, 576, 784]
    for r in report["results"]:
        assert 0.0 <= r["test_accuracy"] <= 1.0 and r["C"] in report["c_grid"] and r["wall_time_s"] >= 0
    # The synthetic digits are bars whose position is the label: pixels separate them.
    assert report["results"][2]["test_accuracy"] >= 0.8
    # Expected errors: one line, exit 2, no traceback.
    too_many = run_module("zoo.svm", "--model", run_dir, "--labels_per_class", 10, "--data_dir", mnist_data_dir)
    assert too_many.returncode == 2 and "Traceback" not in too_many.stderr
    assert too_many.stderr.strip().splitlines()[-1].startswith("error: labels_per_class=10 but some classes")
    missing = run_module("zoo.svm", "--model", tmp_path / "nope", "--labels_per_class", 1)
    assert missing.returncode == 2 and "does not exist" in missing.stderr and "Traceback" not in missing.stderr


def test_c_at_edge_flags_only_a_strict_edge_optimum():
    assert svm._beats_inner_neighbour({0.1: 0.5, 1.0: 0.6, 10.0: 0.7}, 10.0)
    assert svm._beats_inner_neighbour({0.1: 0.8, 1.0: 0.6, 10.0: 0.7}, 0.1)
    assert not svm._beats_inner_neighbour({0.1: 0.7, 1.0: 0.7, 10.0: 0.7}, 0.1)  # flat: no hint
    assert not svm._beats_inner_neighbour({0.1: 0.5, 1.0: 0.8, 10.0: 0.7}, 1.0)
