"""kgan.evaluation (samplers, the metric table), EvaluationCallback and zoo.evaluate, on tiny models."""

import json
import os

import keras
import numpy as np
import pytest

import kgan
from kgan import data, evaluation, serving
from conftest import run_module

N = 16  # the synthetic MNIST test split holds 16 images


def tiny_dcgan(seed=0):
    keras.utils.set_random_seed(seed)
    return kgan.DCGAN(generator_filters=4, discriminator_filters=4, seed=seed)


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """A run dir (model.keras) and an export of the same tiny DCGAN, plus a CGAN export."""
    root = tmp_path_factory.mktemp("models")
    gan = tiny_dcgan()
    run_dir = root / "run"
    run_dir.mkdir()
    gan.save(str(run_dir / "model.keras"))
    exports = root / "exports"
    export_dir = serving.export_saved_model(gan, str(exports), "m", tflite_variants=())
    keras.utils.set_random_seed(0)
    cgan = kgan.ConditionalDCGAN(generator_filters=4, discriminator_filters=4, seed=0)
    cgan_export = serving.export_saved_model(cgan, str(exports), "c", tflite_variants=())
    return {"gan": gan, "run_dir": str(run_dir), "export_dir": export_dir, "export_base": str(exports / "m"),
            "cgan_export": cgan_export}


def check_result(result, num_samples, num_real):
    assert result["num_samples"] == num_samples and result["num_real"] == num_real
    for key in ("classifier_score", "frechet_distance", "precision", "recall", "density", "coverage"):
        assert np.isfinite(result[key]["value"]), key
        assert result[key]["num_samples"] == num_samples
    assert 1.0 <= result["classifier_score"]["value"] <= 10.0
    assert result["frechet_distance"]["value"] >= 0 and result["frechet_distance"]["num_real"] == num_real
    for key in ("precision", "recall", "coverage"):
        assert 0.0 <= result[key]["value"] <= 1.0
    assert result["precision"]["k"] == 3 and result["density"]["k"] == 5
    json.dumps(result)  # JSON-able


def test_evaluate_run_dir_and_export(models, mnist_data_dir):
    from_run = evaluation.evaluate(models["run_dir"], num_samples=20, data_dir=mnist_data_dir)
    check_result(from_run, 20, N)
    assert from_run["family"] == "dcgan" and "label_accuracy" not in from_run
    from_export = evaluation.evaluate(models["export_dir"], num_samples=20, data_dir=mnist_data_dir)
    check_result(from_export, 20, N)
    assert from_export["model"] == models["export_dir"]
    # A model directory of versions means its latest version.
    assert serving.find_export_dir(models["export_base"]) == models["export_dir"]
    again = evaluation.evaluate(models["export_base"], num_samples=20, data_dir=mnist_data_dir)
    assert again["frechet_distance"]["value"] == pytest.approx(from_export["frechet_distance"]["value"])
    # A GAN object works too, and fewer real images than samples are reported as such.
    small = evaluation.evaluate(models["gan"], num_samples=12, data_dir=mnist_data_dir)
    check_result(small, 12, 12)


def test_samplers_are_seeded_and_balanced(models):
    sampler = evaluation.open_sampler(models["run_dir"])
    a, b = sampler.sample(7, seed=3)["images"], sampler.sample(7, seed=3)["images"]
    np.testing.assert_array_equal(a, b)
    assert a.shape == (7, 28, 28, 1) and a.dtype == np.float32
    assert not np.array_equal(a, sampler.sample(7, seed=4)["images"])
    # Batches past BATCH_SIZE get their own seeds.
    big = sampler.sample(evaluation.BATCH_SIZE + 3, seed=0)["images"]
    assert not np.allclose(big[:3], big[evaluation.BATCH_SIZE:])
    cgan = evaluation.open_sampler(models["cgan_export"])
    assert cgan.family == "cgan" and cgan.contract.input("label").size == 10
    drawn = cgan.sample(23, seed=0)
    np.testing.assert_array_equal(drawn["label"], np.arange(23) % 10)
    info = evaluation.Sampler(kgan.ConvInfoGAN(seed=0))
    np.testing.assert_array_equal(info.sample(12)["categorical_code"], np.arange(12) % 10)


def test_conditional_metrics_and_reference(models, mnist_data_dir):
    cgan = evaluation.evaluate(models["cgan_export"], num_samples=20, data_dir=mnist_data_dir)
    check_result(cgan, 20, N)
    assert 0.0 <= cgan["label_accuracy"]["value"] <= 1.0 and cgan["label_accuracy"]["num_samples"] == 20
    info = evaluation.evaluate(kgan.ConvInfoGAN(seed=0), num_samples=20, data_dir=mnist_data_dir)
    assert 0.0 < info["code_accuracy"]["value"] <= 1.0 and len(info["code_accuracy"]["mapping"]) == 10
    reference = evaluation.reference_metrics(num_samples=20, data_dir=mnist_data_dir)
    check_result(reference, 20, N)
    assert reference["family"] == "real" and "label_accuracy" in reference
    table = evaluation.format_table([reference, cgan, info])
    lines = table.splitlines()
    assert lines[0].split()[:3] == ["model", "n_fake", "n_real"]
    assert len(lines) == 5 and models["cgan_export"] in lines[2]


def test_scores_of_real_images_are_perfect_against_themselves(mnist_data_dir):
    images, labels = evaluation.real_images("test", data_dir=mnist_data_dir)
    assert images.shape == (N, 28, 28, 1) and sorted(labels) == sorted(np.arange(N) % 10)
    logits, features = evaluation.classify(images)
    result = evaluation.score(logits, features, features)
    assert result["frechet_distance"]["value"] == pytest.approx(0.0, abs=1e-6)
    assert result["precision"]["value"] == result["recall"]["value"] == result["coverage"]["value"] == 1.0
    subset, _ = evaluation.real_images("train", 10, seed=1, data_dir=mnist_data_dir)
    assert subset.shape == (10, 28, 28, 1)


def test_evaluate_rejects_bad_sources(tmp_path, mnist_data_dir):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        evaluation.evaluate(str(tmp_path / "missing"), num_samples=10, data_dir=mnist_data_dir)
    with pytest.raises(ValueError, match="without model.keras .*and without a SavedModel"):
        evaluation.evaluate(str(tmp_path), num_samples=10, data_dir=mnist_data_dir)
    color = kgan.DCGAN(image_shape=(32, 32, 3), generator_filters=2, discriminator_filters=2)
    with pytest.raises(ValueError, match="ImageNet weights are not cached .*--inception_weights PATH"):
        evaluation.evaluate(color, num_samples=10, data_dir=mnist_data_dir)
    with pytest.raises(ValueError, match="28x28x1 MNIST-like"):
        evaluation.evaluate(color, num_samples=10, data_dir=mnist_data_dir, feature_extractor="classifier")
    with pytest.raises(ValueError, match="num_samples must be > 5"):
        evaluation.evaluate(color, num_samples=5, data_dir=mnist_data_dir)


# ---- the callback ---------------------------------------------------------------


def fit_with(callback, mnist_data_dir, epochs):
    gan = tiny_dcgan()
    gan.compile(d_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5),
                g_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5))
    dataset = data.load_images("mnist", batch_size=16, data_dir=mnist_data_dir, seed=0)
    gan.fit(dataset, epochs=epochs, callbacks=[callback], verbose=0)
    return gan


def test_callback_keeps_only_improvements(tmp_path, mnist_data_dir):
    path = tmp_path / "run" / "best.keras"
    real = np.random.default_rng(0).uniform(-1, 1, (8, 28, 28, 1)).astype("float32")
    callback = evaluation.EvaluationCallback(every_n_epochs=1, num_samples=8, checkpoint_path=str(path),
                                            log_dir=str(tmp_path / "logs"), real_images=real, verbose=0)
    injected = iter([5.0, 7.0, 3.0, 3.0])
    callback.measure = lambda: {"frechet_distance": next(injected), "classifier_score": 2.0}
    saves = []
    original = callback._save_best
    callback._save_best = lambda step, values: (saves.append(step), original(step, values))
    gan = fit_with(callback, mnist_data_dir, epochs=4)
    assert saves == [1, 3]  # 7 is worse than 5; a tie (3 again) is no improvement
    assert (callback.best_value, callback.best_epoch) == (3.0, 3)
    assert [h["improved"] for h in callback.history] == [True, False, True, False]
    record = json.loads((tmp_path / "run" / "best.json").read_text())
    assert record["epoch"] == 3 and record["frechet_distance"] == 3.0 and record["num_real"] == 8
    assert sorted(os.listdir(tmp_path / "run")) == ["best.json", "best.keras"]  # no temp files left
    best = keras.models.load_model(str(path))
    assert isinstance(best, kgan.DCGAN) and len(best.get_weights()) == len(gan.get_weights())
    events = os.listdir(tmp_path / "logs" / "evaluation")
    assert any(name.startswith("events.out.tfevents") for name in events)


def test_callback_measures_for_real(tmp_path, mnist_data_dir):
    real = data.load_images("mnist", "test", batch_size=8, data_dir=mnist_data_dir, with_labels=True)
    callback = evaluation.EvaluationCallback(every_n_epochs=2, num_samples=10, checkpoint_path=str(tmp_path / "b.keras"),
                                            real_images=real, verbose=0)
    fit_with(callback, mnist_data_dir, epochs=3)
    assert [h["epoch"] for h in callback.history] == [2]  # every 2nd epoch only
    assert callback.real_count == N and np.isfinite(callback.best_value) and callback.best_epoch == 2
    assert 1.0 <= callback.history[0]["classifier_score"] <= 10.0
    assert os.path.isfile(tmp_path / "b.keras")
    with pytest.raises(ValueError, match="end in .keras"):
        evaluation.EvaluationCallback(checkpoint_path="best.h5")
    with pytest.raises(ValueError, match="every_n_epochs"):
        evaluation.EvaluationCallback(every_n_epochs=0)


# ---- the CLI ------------------------------------------------------------------------


def test_zoo_evaluate_cli(models, mnist_data_dir, tmp_path):
    output = tmp_path / "results.json"
    result = run_module("zoo.evaluate", models["run_dir"], models["export_dir"], "--num_samples", 12,
                        "--data_dir", mnist_data_dir, "--output", output)
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.splitlines()
    assert lines[0].split()[:3] == ["model", "n_fake", "n_real"]
    assert lines[1].startswith("real mnist train images (reference)")
    assert lines[2].startswith(models["run_dir"]) and lines[3].startswith(models["export_dir"])
    report = json.loads(output.read_text())
    assert [r["family"] for r in report["results"]] == ["real", "dcgan", "dcgan"]
    assert all(r["frechet_distance"]["num_samples"] == 12 for r in report["results"])
    # Expected errors: one line, non-zero exit, no traceback; nothing is overwritten.
    again = run_module("zoo.evaluate", models["run_dir"], "--output", output, "--data_dir", mnist_data_dir)
    assert again.returncode == 2 and again.stderr.strip().splitlines()[-1].startswith("error:")
    assert "already exists" in again.stderr and "Traceback" not in again.stderr
    missing = run_module("zoo.evaluate", str(tmp_path / "nope"), "--output", tmp_path / "x.json")
    assert missing.returncode == 2 and "does not exist" in missing.stderr and "Traceback" not in missing.stderr


def test_classifier_stays_float32_under_mixed_precision(monkeypatch):
    x = np.random.default_rng(0).uniform(-1, 1, (4, 28, 28, 1)).astype("float32")
    expected = evaluation.classify(x)
    monkeypatch.setattr(evaluation.extractors, "_MODELS", {})
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_bfloat16")
    try:
        got = evaluation.classify(x)
    finally:
        keras.config.set_dtype_policy(previous)
    np.testing.assert_allclose(got[1], expected[1], rtol=1e-6, atol=1e-6)
