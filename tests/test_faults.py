"""Faults during training: SIGKILL and exact resume, kills inside checkpoint writes, corrupt
checkpoints, NaN injection, full or unwritable disks, resuming with other flags."""

import errno
import os
import signal
import subprocess
import sys
from collections import namedtuple

import keras
import numpy as np
import pytest
from conftest import REPO, run_module

import kgan
from kgan.training import checkpoint

STEPS = 5  # batches per epoch


def trainer_args(data_dir, run_dir, epochs=3, **overrides):
    flags = {"data_dir": data_dir, "output_dir": run_dir, "epochs": epochs, "batch_size": 8,
             "steps_per_epoch": STEPS, "generator_filters": 4, "discriminator_filters": 4, "checkpoint_every": 2,
             "eval_every": 0, "export": "false", "verbose": 0, "deterministic": "true", "grid_size": 2}
    flags.update(overrides)
    return [f"--{name}={value}" for name, value in flags.items()]


def inject(module, fault, args):
    """Runs tests/fault_injection.py; returns the CompletedProcess."""
    return subprocess.run([sys.executable, os.path.join(REPO, "tests", "fault_injection.py"), module, fault, *args],
                          cwd=REPO, capture_output=True, text=True, timeout=300)


def all_state(path):
    """Every variable of a saved GAN: weights, BN statistics, optimizers, RNG states."""
    gan = keras.models.load_model(path)
    values = [keras.ops.convert_to_numpy(v) for v in gan.variables]
    values += [keras.ops.convert_to_numpy(v) for v in gan.d_optimizer.variables + gan.g_optimizer.variables]
    values += [keras.ops.convert_to_numpy(gan.seed_generator.state)]
    values += [keras.ops.convert_to_numpy(s) for s in gan._seed_states()]
    return values


def assert_same_state(path_a, path_b):
    a, b = all_state(path_a), all_state(path_b)
    assert len(a) == len(b)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)


Run = namedtuple("Run", "dir result")


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory, mnist_data_dir):
    run_dir = tmp_path_factory.mktemp("uninterrupted") / "run"
    result = run_module("zoo.dcgan", *trainer_args(mnist_data_dir, run_dir))
    assert result.returncode == 0, result.stderr[-3000:]
    return Run(run_dir, result)


def test_sigkill_mid_epoch_then_rerun_ends_with_identical_weights(tmp_path, mnist_data_dir, uninterrupted):
    run_dir = tmp_path / "run"
    args = trainer_args(mnist_data_dir, run_dir)
    # Batch 8 = epoch 2, batch 3: after the checkpoint at epoch 2 batch 2, before the next one.
    killed = inject("zoo.dcgan", "--kill_at_batch=8", args)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    assert [(e, b) for e, b, _ in checkpoint.list_checkpoints(run_dir / "checkpoints")] == [(1, 0), (1, 2)]
    assert not (run_dir / "model.keras").exists()
    resumed = run_module("zoo.dcgan", *args)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "epoch_001_batch_00002.keras (epoch 1 done + 2 batches)" in resumed.stdout
    assert_same_state(uninterrupted.dir / "model.keras", run_dir / "model.keras")
    # The history has one row per epoch, as in the uninterrupted run.
    assert [line.split(",")[0] for line in (run_dir / "history.csv").read_text().splitlines()[1:]] == ["0", "1", "2"]


# Every option of the update that holds state or draws noise: SN's power-iteration vectors, the EMA
# generator, DiffAugment's and the penalties' draws from the noise stream, lazy R1's step count.
TOOLKIT = {"loss": "hinge", "spectral_norm": "true", "r1_gamma": 1.0, "r1_every": 2, "gradient_penalty": 1.0,
           "ema": 0.9, "ema_start": 2, "augment": "translation,cutout,color", "d_learning_rate": 3e-4}


@pytest.fixture(scope="module")
def uninterrupted_toolkit(tmp_path_factory, mnist_data_dir):
    run_dir = tmp_path_factory.mktemp("uninterrupted_toolkit") / "run"
    result = run_module("zoo.dcgan", *trainer_args(mnist_data_dir, run_dir, **TOOLKIT))
    assert result.returncode == 0, result.stderr[-3000:]
    return Run(run_dir, result)


def test_sigkill_and_resume_are_exact_with_every_training_option_on(tmp_path, mnist_data_dir, uninterrupted,
                                                                     uninterrupted_toolkit):
    run_dir = tmp_path / "run"
    args = trainer_args(mnist_data_dir, run_dir, **TOOLKIT)
    killed = inject("zoo.dcgan", "--kill_at_batch=8", args)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    resumed = run_module("zoo.dcgan", *args)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "(epoch 1 done + 2 batches)" in resumed.stdout
    assert_same_state(uninterrupted_toolkit.dir / "model.keras", run_dir / "model.keras")
    saved = keras.models.load_model(run_dir / "model.keras")
    assert saved.ema_generator is not None and saved.loss == "hinge" and saved.augment == (
        "translation", "cutout", "color")
    assert any("vector_u" in v.path for v in saved.discriminator.variables)
    assert float(saved.d_optimizer.learning_rate) == pytest.approx(3e-4)
    # The options changed the run: its weights are not the classic run's.
    classic = keras.models.load_model(uninterrupted.dir / "model.keras")
    assert not np.allclose(keras.ops.convert_to_numpy(classic.generator.variables[0]),
                           keras.ops.convert_to_numpy(saved.generator.variables[0]))


def test_kill_inside_a_checkpoint_write_and_a_truncated_checkpoint_fall_back(tmp_path, mnist_data_dir,
                                                                            uninterrupted):
    run_dir = tmp_path / "run"
    args = trainer_args(mnist_data_dir, run_dir)
    # Writes: e0b2 (1), e0b4 (2), epoch 1 (3), e1b2 (4): killed with the 4th file written but not in place.
    killed = inject("zoo.dcgan", "--kill_in_checkpoint_write=4", args)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    names = sorted(os.listdir(run_dir / "checkpoints"))
    assert [n for n in names if not n.startswith(".partial-")] == ["epoch_001.keras"]
    assert any(n.startswith(".partial-") for n in names)  # the interrupted write, never renamed into place
    # Truncate the only complete checkpoint too: with nothing to fall back on the rerun must stop with
    # a clear error and keep the file; with the file restored, the rerun resumes.
    newest = run_dir / "checkpoints" / "epoch_001.keras"
    good = newest.read_bytes()
    newest.write_bytes(good[: len(good) // 2])
    failed = run_module("zoo.dcgan", *args)
    assert failed.returncode == 2 and "Traceback" not in failed.stderr
    assert "epoch_001.keras" in failed.stderr and "corrupt or truncated" in failed.stderr
    assert "--fresh" in failed.stderr
    assert "unfinished checkpoint write" in failed.stdout  # the .partial-* file was removed
    kept = run_dir / "checkpoints" / ("epoch_001.keras" + checkpoint.CORRUPT_SUFFIX)
    assert kept.read_bytes() == good[: len(good) // 2]  # kept for inspection, not deleted
    kept.rename(newest)
    newest.write_bytes(good)
    resumed = run_module("zoo.dcgan", *args)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert not any(n.startswith(".partial-") for n in os.listdir(run_dir / "checkpoints"))
    assert_same_state(uninterrupted.dir / "model.keras", run_dir / "model.keras")


def test_corrupt_newest_checkpoint_falls_back_to_the_previous_one(tmp_path, mnist_data_dir, uninterrupted):
    run_dir = tmp_path / "run"
    args = trainer_args(mnist_data_dir, run_dir)
    killed = inject("zoo.dcgan", "--kill_at_batch=8", args)  # checkpoints: epoch 1, epoch 1 + 2 batches
    assert killed.returncode == -signal.SIGKILL
    newest = run_dir / "checkpoints" / "epoch_001_batch_00002.keras"
    data = bytearray(newest.read_bytes())
    data[len(data) // 2: len(data) // 2 + 64] = b"\xff" * 64  # flipped bytes inside the zip
    newest.write_bytes(bytes(data))
    resumed = run_module("zoo.dcgan", *args)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "epoch_001_batch_00002.keras is corrupt or truncated" in resumed.stderr
    assert "from " + str(run_dir / "checkpoints" / "epoch_001.keras") in resumed.stdout
    assert (run_dir / "checkpoints" / ("epoch_001_batch_00002.keras" + checkpoint.CORRUPT_SUFFIX)).exists()
    assert_same_state(uninterrupted.dir / "model.keras", run_dir / "model.keras")


def test_nan_stops_training_naming_the_step_and_keeps_the_last_good_files(tmp_path, mnist_data_dir):
    run_dir = tmp_path / "run"
    args = trainer_args(mnist_data_dir, run_dir)
    # NaN weights after batch 7 (epoch 2, batch 2, just checkpointed): batch 8's losses are NaN.
    result = inject("zoo.dcgan", "--nan_at_batch=7", args)
    assert result.returncode == 3, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    assert "non-finite" in result.stderr and "epoch 2, batch 3 (step 8)" in result.stderr
    last_good = run_dir / "checkpoints" / "epoch_001_batch_00002.keras"
    assert str(last_good) in result.stderr
    assert [(e, b) for e, b, _ in checkpoint.list_checkpoints(run_dir / "checkpoints")] == [(1, 0), (1, 2)]
    gan = keras.models.load_model(last_good)
    assert checkpoint.weights_finite(gan) and int(gan.g_optimizer.iterations) == 7
    assert sorted(os.listdir(run_dir / "samples")) == ["epoch_001.png"]  # no grid from the broken weights
    assert not (run_dir / "model.keras").exists()


def test_nan_weights_at_an_epoch_end_are_never_checkpointed(tmp_path, mnist_data_dir):
    run_dir = tmp_path / "run"
    # NaN after batch 5, the last of epoch 1: no loss saw it yet, the epoch-end check must.
    result = inject("zoo.dcgan", "--nan_at_batch=5", trainer_args(mnist_data_dir, run_dir, checkpoint_every=0))
    assert result.returncode == 3 and "non-finite weights after epoch 1" in result.stderr
    assert checkpoint.list_checkpoints(run_dir / "checkpoints") == []
    assert "no checkpoint had been written yet" in result.stderr


def test_resume_with_other_flags_or_another_model_is_refused_and_fresh_keeps_the_old_run(
        tmp_path, mnist_data_dir):
    run_dir = tmp_path / "run"
    args = trainer_args(mnist_data_dir, run_dir, epochs=1, checkpoint_every=0)
    assert run_module("zoo.dcgan", *args).returncode == 0
    before = {p: p.read_bytes() for p in run_dir.rglob("*") if p.is_file()}
    other = run_module("zoo.dcgan", *args, "--batch_size=4", "--latent_dim=7")
    assert other.returncode == 2 and "--batch_size=4 (the run has 8)" in other.stderr
    assert "--latent_dim=7 (the run has 100)" in other.stderr and "--fresh" in other.stderr
    family = run_module("zoo.gan", f"--data_dir={mnist_data_dir}", f"--output_dir={run_dir}", "--epochs=1",
                        "--batch_size=8")
    assert family.returncode == 2 and "holds a dcgan run" in family.stderr
    after = {p: p.read_bytes() for p in run_dir.rglob("*") if p.is_file()}
    assert after == before  # refused reruns change nothing
    done = run_module("zoo.dcgan", *args)
    assert done.returncode == 0 and "nothing to do" in done.stdout
    fresh = run_module("zoo.dcgan", *args, "--fresh")
    assert fresh.returncode == 0, fresh.stderr[-3000:]
    (archive,) = (run_dir / "previous").iterdir()
    for path, content in before.items():  # the old run, moved whole
        assert (archive / path.relative_to(run_dir)).read_bytes() == content
    assert (run_dir / "model.keras").is_file()


def test_unwritable_or_full_output_dir_fails_before_training(tmp_path, mnist_data_dir, monkeypatch):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a directory")
    result = run_module("zoo.dcgan", *trainer_args(mnist_data_dir, blocker / "run"))
    assert result.returncode == 2 and "Traceback" not in result.stderr and "a_file" in result.stderr
    assert blocker.read_text() == "not a directory"

    gan = kgan.DCGAN(generator_filters=4, discriminator_filters=4)
    gan.compile(d_optimizer="adam", g_optimizer="adam")
    needed = checkpoint.checkpoint_bytes(gan)
    assert needed > 4 * sum(np.prod(v.shape) for v in gan.trainable_variables)  # weights + 2 Adam slots
    Usage = namedtuple("Usage", "total used free")
    monkeypatch.setattr(checkpoint.shutil, "disk_usage", lambda path: Usage(10**9, 10**9 - 1000, 1000))
    with pytest.raises(OSError, match="free some space or pass another --output_dir"):
        checkpoint.check_free_space(str(tmp_path), needed)


def test_a_failed_checkpoint_write_leaves_the_previous_one_intact(tmp_path, monkeypatch):
    gan = kgan.DCGAN(generator_filters=4, discriminator_filters=4)
    gan.compile(d_optimizer="adam", g_optimizer="adam")
    first = tmp_path / checkpoint.checkpoint_name(1)
    checkpoint.save_atomic(gan, str(first))
    content = first.read_bytes()

    def disk_full(self, path, *args, **kwargs):
        with open(path, "wb") as f:
            f.write(b"half a checkpoint")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(keras.Model, "save", disk_full)
    with pytest.raises(OSError, match=r"epoch_001_batch_00003.keras: .*No space left.*Earlier checkpoints are "
                                      r"intact"):
        checkpoint.save_atomic(gan, str(tmp_path / checkpoint.checkpoint_name(1, 3)))
    assert os.listdir(tmp_path) == [first.name] and first.read_bytes() == content


def test_dropout_and_noise_rng_states_are_checkpointed(tmp_path):
    gan = kgan.VanillaGAN(generator_units=(8,), discriminator_units=(4,), seed=0)
    gan.compile(d_optimizer="adam", g_optimizer="adam")
    gan.fit(np.zeros((16, 28, 28, 1), "float32"), batch_size=8, epochs=1, verbose=0)
    checkpoint.save_atomic(gan, str(tmp_path / "c.keras"))
    fresh = kgan.VanillaGAN(generator_units=(8,), discriminator_units=(4,), seed=0)
    fresh.compile(d_optimizer="adam", g_optimizer="adam")
    fresh.load_weights(tmp_path / "c.keras")
    states = gan._seed_states()
    assert len(states) >= 2  # D's input and hidden dropout
    for a, b in zip(states + [gan.seed_generator.state], fresh._seed_states() + [fresh.seed_generator.state]):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b))
        assert keras.ops.convert_to_numpy(a)[1] > 0  # advanced by training, not a fresh state
