"""The zoo on a folder of the user's own colour images: every trainer, the export, TF-Lite, zoo.svm, zoo.evaluate."""

import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import run_module
from test_folder import make_class_folder

import kgan
from kgan import latent
from kgan.serving.tflite import TFLiteGenerator


@pytest.fixture(scope="module")
def animals(tmp_path_factory):
    """64x70 RGB PNG/JPEG images in 3 class sub-folders (cats, dogs, owls)."""
    return make_class_folder(str(tmp_path_factory.mktemp("photos") / "animals"), per_class=12, size=(64, 70))


def train(module, folder, tmp_path, size, *extra):
    run_dir, export_dir = tmp_path / "run", tmp_path / "exports"
    result = run_module(module, f"--image_dir={folder}", f"--image_size={size}", f"--output_dir={run_dir}",
                        f"--export_dir={export_dir}", f"--data_dir={tmp_path / 'tfds'}", "--epochs=1",
                        "--steps_per_epoch=2", "--batch_size=8", "--grid_size=3", *extra)
    assert result.returncode == 0, result.stderr[-3000:]
    return run_dir, export_dir / module.split(".")[1] / "1", result


def test_dcgan_on_a_64px_colour_folder(tmp_path, animals):
    run_dir, version_dir, _ = train("zoo.dcgan", animals, tmp_path, 64, "--generator_filters=2",
                                    "--discriminator_filters=2", "--tflite=float32", "--precision=mixed_bfloat16")
    grid = tf.io.decode_png(tf.io.read_file(str(run_dir / "samples" / "epoch_001.png"))).numpy()
    assert grid.shape == (3 * 66 + 2, 3 * 66 + 2, 3)  # colour tiles, 2 px borders
    with open(run_dir / "run.json") as f:
        assert json.load(f)["flags"]["image_dir"] == animals
    with open(version_dir / "kgan_metadata.json") as f:
        metadata = json.load(f)
    # No --eval_every for non-MNIST data by default: the final model is exported, float32 (the run is bf16).
    assert metadata["exported"] == {"from": "final", "epoch": 1, "scores": None}
    assert metadata["image_shape"] == [64, 64, 3] and not (run_dir / "best.keras").exists()
    run_model = keras.models.load_model(run_dir / "model.keras")
    assert run_model.generator.get_layer("deconv_1").compute_dtype == "bfloat16"
    gan = kgan.load(str(version_dir))
    images = gan.sample(4, seed=1)["images"]
    assert images.shape == (4, 64, 64, 3) and np.abs(images).max() <= 1
    np.testing.assert_allclose(kgan.load(str(run_dir)).sample(4, seed=1)["images"], images, atol=2e-2)  # bf16 run, f32 export
    lite = TFLiteGenerator(str(version_dir / "tflite" / "generator_float32.tflite"))
    z = np.random.default_rng(0).normal(size=(2, 100)).astype(np.float32)
    assert lite.generate(z=z).shape == (2, 64, 64, 3)
    features = gan.features(images)
    assert features.ndim == 2 and len(features) == 4
    # The latent tools on the colour export.
    assert latent.interpolation_grid(gan, rows=2, steps=3, seed=0).shape == (6, 64, 64, 3)
    grid = latent.numbered_sample_grid(gan, seed=0, num_candidates=4, cols=2)
    assert grid.ndim == 3 and grid.shape[-1] == 3

    svm = run_module("zoo.svm", f"--model={run_dir}", f"--image_dir={animals}", "--labels_per_class=3",
                     "--num_validation=4", f"--data_dir={tmp_path / 'tfds'}", f"--output={tmp_path / 'svm.json'}")
    assert svm.returncode == 0, svm.stderr[-3000:]
    with open(tmp_path / "svm.json") as f:
        result = json.load(f)
    assert result["num_classes"] == 3 and result["num_train"] == 9 and result["test_split"] == "train[80%:]"
    assert {r["features"] for r in result["results"]} == {"trained D", "random D", "pixels"}

    evaluate = run_module("zoo.evaluate", str(run_dir), f"--image_dir={animals}", "--num_samples=12",
                          "--inception_weights=random", f"--data_dir={tmp_path / 'tfds'}",
                          f"--output={tmp_path / 'evaluation.json'}")
    assert evaluate.returncode == 0, evaluate.stderr[-3000:]
    assert "InceptionV3 pool_3 (2048-d, RANDOM weights" in evaluate.stdout and "FID" in evaluate.stdout
    with open(tmp_path / "evaluation.json") as f:
        row = json.load(f)["results"][0]
    assert {"inception_score", "fid", "kid", "precision", "coverage"} <= set(row)
    assert row["fid"]["num_samples"] == 12 and row["fid"]["num_real"] == 12 and "std" in row["kid"]


def test_cgan_conditions_on_the_sub_folders(tmp_path, animals):
    run_dir, version_dir, _ = train("zoo.cgan", animals, tmp_path, 32, "--generator_filters=2",
                                    "--discriminator_filters=2", "--tflite=")
    grid = tf.io.decode_png(tf.io.read_file(str(run_dir / "samples" / "epoch_001.png"))).numpy()
    assert grid.shape == (3 * 34 + 2, 3 * 34 + 2, 3)  # one row per class: cats, dogs, owls
    with open(version_dir / "kgan_metadata.json") as f:
        metadata = json.load(f)
    assert metadata["num_classes"] == 3
    gan = kgan.load(str(version_dir))
    assert gan.generate(z=np.zeros((2, 100), np.float32), label=[2, 0]).shape == (2, 32, 32, 3)


def test_infogan_on_colour(tmp_path, animals):
    # (The MLP GAN is shape-agnostic: tests/test_sizes.py trains it on 128x128x3.)
    _, version_dir, _ = train("zoo.infogan", animals, tmp_path, 32, "--tflite=", "--num_categories=3")
    assert kgan.load(str(version_dir)).sample(2, seed=0)["images"].shape == (2, 32, 32, 3)


def test_folder_flags_are_checked_before_any_work(tmp_path, animals):
    flat = tmp_path / "flat"
    flat.mkdir()
    for name in os.listdir(os.path.join(animals, "cats"))[:4]:
        os.link(os.path.join(animals, "cats", name), flat / name)
    cases = [
        ("zoo.cgan", [f"--image_dir={flat}", "--batch_size=2"], "has no class label"),
        ("zoo.dcgan", [f"--image_dir={animals}", "--dataset=cifar10"], "not both"),
        ("zoo.dcgan", [f"--image_dir={animals}", "--eval_every=1", "--inception_weights=/nope.h5"], "does not exist"),
    ]
    for module, args, message in cases:
        result = run_module(module, *args, f"--output_dir={tmp_path / 'run'}", f"--data_dir={tmp_path / 'tfds'}")
        assert result.returncode == 2 and message in result.stderr, (args, result.stderr[-2000:])
        assert not (tmp_path / "run").exists()
