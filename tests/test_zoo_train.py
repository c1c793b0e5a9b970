"""The zoo trainers end to end (subprocess, tiny models), and their bad-flag errors."""

import csv
import json
import os
import time

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import run_module

import kgan


def scalar_tags(event_dir):
    tags = {}
    for name in os.listdir(event_dir):
        for event in tf.compat.v1.train.summary_iterator(os.path.join(event_dir, name)):
            for value in event.summary.value:
                tags.setdefault(value.tag, []).append(event.step)
    return tags


@pytest.mark.parametrize("module,extra,cls,size,grid", [
    ("zoo.dcgan", ["--head=softmax", "--generator_filters=4", "--discriminator_filters=4", "--tflite=float32"],
     kgan.DCGAN, 28, (3, 3)),
    ("zoo.gan", ["--latent_distribution=normal"], kgan.VanillaGAN, 28, (3, 3)),
    # One row per class.
    ("zoo.cgan", ["--generator_filters=4", "--discriminator_filters=4"], kgan.ConditionalDCGAN, 28, (10, 3)),
    # Categories across columns.
    ("zoo.infogan", ["--head=softmax"], kgan.ConvInfoGAN, 28, (3, 10)),
])
def test_trainer_leaves_a_complete_run(tmp_path, mnist_data_dir, module, extra, cls, size, grid):
    run_dir, export_dir = tmp_path / "run", tmp_path / "exports"
    result = run_module(module, f"--data_dir={mnist_data_dir}", f"--output_dir={run_dir}", "--epochs=2",
                        "--batch_size=16", "--steps_per_epoch=2", "--grid_size=3", "--verbose=1",
                        f"--export_dir={export_dir}", "--eval_samples=16", *(extra if "--tflite=float32" in extra else [*extra, "--tflite="]))
    assert result.returncode == 0, result.stderr[-3000:]
    name = module.split(".")[1]
    version_dir = export_dir / name / "1"
    assert (version_dir / "saved_model.pb").is_file() and (export_dir / "models.config").is_file()
    with open(version_dir / "kgan_metadata.json") as f:
        metadata = json.load(f)
    assert set(metadata["metrics"]) >= {"d_loss", "g_loss"}
    assert (version_dir / "tflite" / "generator_float32.tflite").is_file() == ("--tflite=float32" in extra)
    assert "d_real" in result.stdout and "d_fake" in result.stdout  # Keras progress output with metrics
    for epoch in (1, 2):
        png = tf.io.decode_png(tf.io.read_file(str(run_dir / "samples" / f"epoch_{epoch:03d}.png"))).numpy()
        assert png.shape == (grid[0] * (size + 2) + 2, grid[1] * (size + 2) + 2, 1)  # tiles, 2 px borders
        assert (run_dir / "checkpoints" / f"epoch_{epoch:03d}.keras").is_file()
    if cls is kgan.ConvInfoGAN:  # a traversal grid per continuous code: 3 rows x 9 values in [-2, 2]
        for code in (0, 1):
            png = tf.io.decode_png(tf.io.read_file(str(run_dir / f"continuous_{code}" / "epoch_002.png")))
            assert png.shape == (3 * 30 + 2, 9 * 30 + 2, 1)
        assert "info_cat" in result.stdout
    # MNIST runs are scored every epoch with the shipped MNIST classifier; the best by FD is kept.
    with open(run_dir / "best.json") as f:
        best = json.load(f)
    assert best["epoch"] in (1, 2) and best["real"] == "mnist train[-6:]"  # a tenth of the 64 held out
    assert best["feature_extractor"].startswith("kgan MNIST classifier")
    assert sorted(scalar_tags(run_dir / "logs" / "evaluation")["frechet_distance"]) == [1, 2]
    # The export is the best model, and says so: its epoch and the scores it was selected by.
    assert metadata["exported"]["from"] == "best" and metadata["training_epochs"] == best["epoch"]
    assert metadata["exported"]["scores"]["frechet_distance"] == best["frechet_distance"]
    gan = keras.models.load_model(run_dir / "model.keras")
    assert type(gan) is cls and int(gan.g_optimizer.iterations) == 4
    assert gan.image_shape == (size, size, 1)
    checkpoint = keras.models.load_model(run_dir / "checkpoints" / "epoch_001.keras")
    assert int(checkpoint.g_optimizer.iterations) == 2
    with open(run_dir / "history.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 2 and {"d_loss", "g_loss", "d_real", "d_fake"} <= set(rows[0])
    train_tags = scalar_tags(run_dir / "logs" / "train")
    for tag in ("epoch_d_loss", "epoch_g_loss", "epoch_d_real", "epoch_d_fake") + (
            ("epoch_info_cat", "epoch_info_cont") if cls is kgan.ConvInfoGAN else ()):
        assert sorted(train_tags[tag]) == [0, 1], tag
    assert sorted(scalar_tags(run_dir / "logs" / "samples")["samples"]) == [1, 2]


def test_sample_grid_uses_fixed_latents(tmp_path, mnist_data_dir):
    # Same seed, untrained model => identical grids: the grid's z does not change between epochs.
    gan = kgan.DCGAN(generator_filters=4, discriminator_filters=4)
    callback = kgan.callbacks.SampleGrid(str(tmp_path), rows=2, cols=2, seed=5)
    callback.set_model(gan)
    callback.on_train_begin()
    first, second = callback.save(1), callback.save(2)
    np.testing.assert_array_equal(tf.io.decode_png(tf.io.read_file(first)), tf.io.decode_png(tf.io.read_file(second)))


def test_existing_run_is_never_overwritten(tmp_path, mnist_data_dir):
    run_dir = tmp_path / "run"
    (run_dir / "checkpoints").mkdir(parents=True)
    (run_dir / "model.keras").write_bytes(b"precious")
    result = run_module("zoo.dcgan", f"--data_dir={mnist_data_dir}", f"--output_dir={run_dir}", "--epochs=1")
    assert result.returncode != 0
    assert "no run.json" in result.stderr and "--fresh" in result.stderr and "--output_dir" in result.stderr
    assert (run_dir / "model.keras").read_bytes() == b"precious"


def test_missing_data_fails_fast_naming_the_import_command(tmp_path):
    start = time.time()
    result = run_module("zoo.dcgan", f"--data_dir={tmp_path / 'empty'}", f"--output_dir={tmp_path / 'run'}")
    assert result.returncode != 0
    assert "zoo.import_data" in result.stderr
    assert time.time() - start < 60  # TF import included; tfds must not retry downloads


@pytest.mark.parametrize("flag,message", [
    ("--head=tanh", "--head"),
    ("--generator_loss=wgan", "--generator_loss"),
    ("--dataset=imagenet", "Unknown dataset 'imagenet'"),
    ("--epochs=0", "--epochs"),
    ("--batch_size=-4", "--batch_size"),
    ("--d_steps=0", "--d_steps"),
    ("--label_smoothing=1.5", "--label_smoothing"),
    ("--tflite=int4", "--tflite"),
    ("--precision=fp8", "--precision"),
    ("--strategy=tpu", "--strategy"),
])
def test_bad_flags_are_rejected(tmp_path, flag, message):
    result = run_module("zoo.dcgan", flag, f"--output_dir={tmp_path / 'run'}")
    assert result.returncode != 0
    assert message in result.stderr
    assert not (tmp_path / "run").exists()


def test_conflicting_flags_are_rejected(tmp_path):
    result = run_module("zoo.dcgan", "--batch_size=2", "--d_steps=3", f"--output_dir={tmp_path / 'run'}")
    assert result.returncode != 0 and "--batch_size must be >= --d_steps" in result.stderr


def test_zoo_export_adds_versions_and_never_overwrites(tmp_path):
    gan = kgan.VanillaGAN(generator_units=(8,), discriminator_units=(4,))
    gan.save(tmp_path / "m.keras")
    export_dir = tmp_path / "exports"
    args = [f"--model={tmp_path / 'm.keras'}", "--name=mlp", f"--export_dir={export_dir}", "--tflite="]
    for expected in ("1", "2"):
        result = run_module("zoo.export", *args)
        assert result.returncode == 0, result.stderr[-2000:]
        assert result.stdout.strip().endswith(os.path.join("mlp", expected))
    result = run_module("zoo.export", *args, "--version=1")
    assert result.returncode != 0 and "never overwritten" in result.stderr
    assert sorted(os.listdir(export_dir / "mlp")) == ["1", "2"]
    result = run_module("zoo.export", f"--model={tmp_path / 'missing'}", f"--export_dir={export_dir}")
    assert result.returncode != 0 and "error:" in result.stderr and "Traceback" not in result.stderr


def test_multi_worker_without_tf_config_is_a_clear_error(tmp_path, mnist_data_dir):
    env_free = run_module("zoo.dcgan", "--strategy=multi_worker", f"--data_dir={mnist_data_dir}",
                          f"--output_dir={tmp_path / 'run'}")
    assert env_free.returncode != 0 and "TF_CONFIG" in env_free.stderr
