"""One writer per run, final files atomic and checked, reruns that finish the work, an export tree that
cannot be broken, one-line errors (real processes for the races)."""

import json
import os
import signal
import stat
import subprocess
import sys
import time

import keras
import numpy as np
import pytest
from conftest import REPO, run_module

import kgan
from kgan import serving
from kgan.training.lock import Claim

SHARED_MNIST = os.path.join(os.path.dirname(REPO), "shared", "datasets", "mnist")


def trainer_args(data_dir, run_dir, epochs=1, **overrides):
    flags = {"data_dir": data_dir, "output_dir": run_dir, "epochs": epochs, "batch_size": 8, "steps_per_epoch": 4,
             "generator_filters": 2, "discriminator_filters": 2, "eval_every": 0, "export": "false", "verbose": 0,
             "grid_size": 2, "tflite": ""}
    flags.update(overrides)
    return [f"--{name}={value}" for name, value in flags.items()]


def inject_command(*args):
    return [sys.executable, os.path.join(REPO, "tests", "fault_injection.py"), "zoo.dcgan", *map(str, args)]


def inject(*args):
    return subprocess.run(inject_command(*args), cwd=REPO, capture_output=True, text=True, timeout=300)


def last_line(result):
    return result.stderr.strip().splitlines()[-1]


def wait_for(path, process, timeout=120):
    deadline = time.time() + timeout
    while not os.path.exists(path):
        assert process.poll() is None, process.communicate()[1][-3000:]
        assert time.time() < deadline, f"{path} never appeared"
        time.sleep(0.2)


def dead_pid():
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def tiny_dcgan():
    keras.utils.set_random_seed(0)
    return kgan.DCGAN(generator_filters=2, discriminator_filters=2, seed=0)


# ---- 1. one writer per run ----------------------------------------------------------------------------


def test_a_second_trainer_or_fresh_start_on_a_running_run_is_refused(tmp_path, mnist_data_dir):
    run_dir = tmp_path / "run"
    args = trainer_args(mnist_data_dir, run_dir, epochs=2, checkpoint_every=2)
    hold = tmp_path / "hold"
    hold.touch()  # the first trainer waits at its epoch ends until this file is gone, however slow the others start
    first = subprocess.Popen(inject_command(f"--hold_while={hold}", *args), cwd=REPO, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    try:
        wait_for(run_dir / "checkpoints" / "epoch_000_batch_00002.keras", first)
        others = [subprocess.Popen([sys.executable, "-m", "zoo.dcgan", *args, *extra], cwd=REPO,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                  for extra in ([], ["--fresh"])]
        second, fresh = [subprocess.CompletedProcess(p.args, p.wait(timeout=300), *p.communicate()) for p in others]
        assert first.poll() is None  # the refusals came while the first was still training
    finally:
        hold.unlink()
        out, err = first.communicate(timeout=300)
    for refused in (second, fresh):
        assert refused.returncode == 2 and "Traceback" not in refused.stderr
        assert f"in use: training by pid {first.pid} on " in last_line(refused)
        assert "nothing was changed" in last_line(refused)
    assert first.returncode == 0, err[-3000:]
    assert not (run_dir / "previous").exists()  # --fresh moved nothing
    with open(run_dir / "history.csv") as f:
        assert [line.split(",")[0] for line in f.read().splitlines()] == ["epoch", "0", "1"]  # one run's rows
    assert not (run_dir / ".lock").exists()  # released


def test_zoo_export_of_a_claimed_run_is_refused_and_a_stale_claim_is_taken_over(tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    tiny_dcgan().save(run_dir / "model.keras")
    with Claim(run_dir / ".lock", "training"):
        refused = run_module("zoo.export", f"--model={run_dir}", f"--export_dir={tmp_path / 'exports'}", "--tflite=")
    assert refused.returncode == 2 and f"in use: training by pid {os.getpid()}" in last_line(refused)
    assert not (tmp_path / "exports").exists()
    (run_dir / ".lock").write_text(json.dumps({"pid": dead_pid(), "host": os.uname().nodename, "purpose": "x"}))
    claim = Claim(run_dir / ".lock", "an export")
    with claim:
        assert claim.taken_over["purpose"] == "x"
        assert json.loads((run_dir / ".lock").read_text())["pid"] == os.getpid()
    assert not (run_dir / ".lock").exists()
    other_host = {"pid": 1, "host": "elsewhere.example", "purpose": "training", "since": "then"}
    (run_dir / ".lock").write_text(json.dumps(other_host))
    with pytest.raises(OSError, match=r"in use: training by pid 1 on elsewhere.example.*another host: if that "
                                      r"process is gone, remove"):
        Claim(run_dir / ".lock", "training").acquire()


def test_concurrent_exports_take_distinct_versions(tmp_path):
    tiny_dcgan().save(tmp_path / "m.keras")
    script = ("import sys, kgan; print(kgan.serving.export_saved_model(kgan.load(sys.argv[1]).gan, sys.argv[2], "
              "'dcgan'))")
    processes = [subprocess.Popen([sys.executable, "-c", script, str(tmp_path / "m.keras"), str(tmp_path / "ex")],
                                  cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for _ in range(2)]
    results = [process.communicate(timeout=300) + (process.returncode,) for process in processes]
    assert all(code == 0 for _, _, code in results), [err[-2000:] for _, err, _ in results]
    assert sorted(os.listdir(tmp_path / "ex" / "dcgan")) == ["1", "2"]  # no claim or staging files left
    assert {json.loads((tmp_path / "ex" / "dcgan" / v / "kgan_metadata.json").read_text())["version"]
            for v in ("1", "2")} == {1, 2}
    with Claim(tmp_path / "ex" / "dcgan" / ".3.claim", "an export"):
        with pytest.raises(OSError, match="Version 3 .* is in use: an export by pid"):
            serving.export_saved_model(tiny_dcgan(), str(tmp_path / "ex"), "dcgan", version=3)
        # The next free version skips the claimed one.
        assert serving.export_saved_model(tiny_dcgan(), str(tmp_path / "ex"), "dcgan").endswith(os.sep + "4")


# ---- 2., 3., 7. final files, unfinished work, metadata epochs, modes ---------------------------------------


def test_final_files_are_atomic_checked_and_reruns_finish_the_work(tmp_path, mnist_data_dir):
    run_dir, export_dir = tmp_path / "run", tmp_path / "exports"
    args = trainer_args(mnist_data_dir, run_dir)
    full = inject("--full_disk_at=model", *args)  # the final save hits a full disk
    assert full.returncode == 2 and "Traceback" not in full.stderr
    assert "model.keras" in last_line(full) and "No space left" in last_line(full)
    assert not (run_dir / "model.keras").exists()  # not a truncated file that looks finished
    assert not [name for name in os.listdir(run_dir) if name.startswith(".partial")]

    finished = run_module("zoo.dcgan", *args)  # finishes the save from the epoch checkpoint
    assert finished.returncode == 0, finished.stderr[-2000:]
    keras.models.load_model(run_dir / "model.keras")

    with open(run_dir / "model.keras", "r+b") as f:  # damage the finished run's model
        f.truncate(1000)
    (run_dir / ".lock").write_text(json.dumps({"pid": dead_pid(), "host": os.uname().nodename}))  # a killed run's
    repaired = run_module("zoo.dcgan", *args)
    assert repaired.returncode == 0, repaired.stderr[-2000:]
    assert "rebuilt model.keras" in repaired.stdout and "Took over" in repaired.stderr
    assert (run_dir / "model.keras.corrupt").stat().st_size == 1000
    keras.models.load_model(run_dir / "model.keras")

    exporting = [f"--export_dir={export_dir}", "--export=true"]
    failed = inject("--full_disk_at=export", *args, *exporting)  # the export of a finished run fails
    assert failed.returncode == 2 and "No space left" in last_line(failed) and "Traceback" not in failed.stderr
    assert not os.path.exists(export_dir / "dcgan") or not [v for v in os.listdir(export_dir / "dcgan")
                                                            if v.isdigit()]
    exported = run_module("zoo.dcgan", *args, *exporting)  # a rerun finishes it
    assert exported.returncode == 0 and "exported it (the run had no export)" in exported.stdout
    version = export_dir / "dcgan" / "1"
    metadata = json.loads((version / "kgan_metadata.json").read_text())
    assert metadata["training_epochs"] == 1 and metadata["exported"]["from"] == "final"
    assert json.loads((run_dir / "export.json").read_text())["path"] == str(version)
    again = run_module("zoo.dcgan", *args, *exporting)
    assert again.returncode == 0 and "nothing to do" in again.stdout and sorted(os.listdir(export_dir / "dcgan")) == ["1"]

    # zoo.export of the run records the model's epochs (its newest epoch checkpoint), not None.
    cli = run_module("zoo.export", f"--model={run_dir}", f"--export_dir={export_dir}", "--tflite=float32")
    assert cli.returncode == 0, cli.stderr[-2000:]
    assert json.loads((export_dir / "dcgan" / "2" / "kgan_metadata.json").read_text())["training_epochs"] == 1
    # 8. published with the modes of normal files under the umask, not the staging folder's 0700.
    umask = os.umask(0)
    os.umask(umask)
    for path in (export_dir / "dcgan" / "2", export_dir / "dcgan" / "2" / "tflite"):
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o777 & ~umask, path
    for path in ("saved_model.pb", "kgan_metadata.json", "tflite/generator_float32.tflite"):
        assert stat.S_IMODE(os.stat(export_dir / "dcgan" / "2" / path).st_mode) == 0o666 & ~umask, path


# ---- 4. a damaged best.json ----------------------------------------------------------------------------


def test_a_damaged_best_record_never_blocks_a_resume_and_paths_expand_tilde(tmp_path, mnist_data_dir):
    home = tmp_path / "home"
    home.mkdir()
    args = trainer_args(mnist_data_dir, "~/run", eval_every=1, eval_samples=8)
    first = run_module("zoo.dcgan", *args, env={"HOME": str(home)})
    assert first.returncode == 0, first.stderr[-2000:]
    run_dir = home / "run"  # --output_dir=~/run is under $HOME, not a folder named "~"
    assert (run_dir / "best.json").exists() and not (tmp_path / "~").exists()
    (run_dir / "best.json").write_text("")
    resumed = run_module("zoo.dcgan", *trainer_args(mnist_data_dir, run_dir, epochs=2, eval_every=1,
                                                    eval_samples=8))
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "best.json is unreadable" in resumed.stderr and (run_dir / "best.json.corrupt").exists()
    assert json.loads((run_dir / "best.json").read_text())["epoch"] == 2


# ---- 5. the export tree ----------------------------------------------------------------------------------


def test_the_export_tree_is_checked_before_any_work(tmp_path, mnist_data_dir):
    base = tmp_path / "exports"
    gan = tiny_dcgan()
    cases = [
        (dict(base_dir=""), "export directory is empty"),
        (dict(model_name="models.config"), "the export directory's own models.config"),
        (dict(model_name=".1-staging"), "must be letters"),
        (dict(version=2**63), r"1\.\.9223372036854775807"),
    ]
    for kwargs, message in cases:
        with pytest.raises(ValueError, match=message):
            serving.export_saved_model(gan, **{"base_dir": str(base), "model_name": "dcgan", **kwargs})
    assert not base.exists()
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "run.json").write_text("{}")
    with pytest.raises(ValueError, match="inside the run directory"):
        serving.export_saved_model(gan, str(tmp_path / "run" / "exports"))
    assert not (tmp_path / "run" / "exports").exists()
    serving.export_saved_model(gan, str(base), "digits")
    cgan = kgan.ConditionalDCGAN(generator_filters=2, discriminator_filters=2)
    with pytest.raises(ValueError, match="serves a dcgan model; exporting a cgan model under the same name"):
        serving.export_saved_model(cgan, str(base), "digits")
    assert sorted(os.listdir(base / "digits")) == ["1"]
    assert serving.export_saved_model(cgan, str(base), "digits", replace_family=True).endswith("2")
    with pytest.raises(ValueError, match="inside the export"):
        serving.export_saved_model(gan, str(base / "digits"))
    inside = run_module("zoo.dcgan", *trainer_args(mnist_data_dir, base / "digits" / "1" / "run"))
    assert inside.returncode == 2 and "inside the export" in last_line(inside)
    assert not (base / "digits" / "1" / "run").exists()


# ---- 6. one-line errors -----------------------------------------------------------------------------------


def test_ctrl_c_is_one_line_exit_130_and_the_rerun_resumes(tmp_path, mnist_data_dir):
    run_dir = tmp_path / "run"
    args = trainer_args(mnist_data_dir, run_dir, epochs=2, checkpoint_every=2)
    process = subprocess.Popen(inject_command("--sleep_per_batch=0.5", *args), cwd=REPO, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    wait_for(run_dir / "checkpoints" / "epoch_000_batch_00002.keras", process)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130 and "Traceback" not in err, err[-3000:]
    line = err.strip().splitlines()[-1]
    assert line.startswith("error: interrupted at epoch 1 batch ") and "rerun the same command to resume" in line.lower()
    assert not (run_dir / ".lock").exists()
    resumed = run_module("zoo.dcgan", *args)
    assert resumed.returncode == 0 and "Resuming" in resumed.stdout


def test_corrupt_data_bad_tf_config_and_no_room_are_one_line_errors(tmp_path, mnist_data_dir):
    import shutil

    data_dir = tmp_path / "tfds"
    shutil.copytree(mnist_data_dir, data_dir)
    record = next(os.path.join(root, name) for root, _, names in os.walk(data_dir) for name in names
                  if "train.tfrecord" in name)
    with open(record, "r+b") as f:
        f.seek(200)
        f.write(b"\xff" * 64)
    corrupt = run_module("zoo.dcgan", *trainer_args(data_dir, tmp_path / "run"))
    assert corrupt.returncode == 2 and "Traceback" not in corrupt.stderr
    assert "data files are corrupt" in last_line(corrupt) and "zoo.import_data" in last_line(corrupt)

    bad = run_module("zoo.dcgan", *trainer_args(mnist_data_dir, tmp_path / "run2"), "--strategy=multi_worker",
                     env={"TF_CONFIG": '{"cluster": {"worker": ["localhost:1"]}, "task": {"type": "worker"'})
    assert bad.returncode == 2 and "TF_CONFIG is not valid" in last_line(bad) and "Traceback" not in bad.stderr

    room = inject("--free_bytes=1000", *trainer_args(mnist_data_dir, tmp_path / "run3"))
    assert room.returncode == 2 and "free some space" in last_line(room)
    assert not (tmp_path / "run3").exists()  # "Nothing was written": not even run.json


@pytest.fixture
def small_disk(tmp_path):
    """A 3 MiB tmpfs, where this machine lets the tests mount one."""
    mount = tmp_path / "small"
    mount.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mount)],
                      capture_output=True).returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    yield mount
    subprocess.run(["umount", str(mount)], check=True)


def test_a_full_disk_in_export_and_import_is_one_line(small_disk, tmp_path):
    keras.utils.set_random_seed(0)
    kgan.DCGAN(generator_filters=16, discriminator_filters=16).save(tmp_path / "m.keras")
    export = run_module("zoo.export", f"--model={tmp_path / 'm.keras'}", f"--export_dir={small_disk / 'exports'}")
    assert export.returncode == 2 and "Traceback" not in export.stderr, export.stderr[-2000:]
    assert "space" in last_line(export).lower()
    assert not [v for v in os.listdir(small_disk / "exports" / "dcgan") if not v.startswith(".claim")]
    if not os.path.isdir(SHARED_MNIST):
        pytest.skip("no MNIST files beside the repository")
    imported = run_module("zoo.import_data", "--dataset=mnist", f"--source_dir={SHARED_MNIST}",
                          f"--data_dir={small_disk / 'tfds'}")
    assert imported.returncode == 2 and "Traceback" not in imported.stderr, imported.stderr[-2000:]
    assert "space" in last_line(imported).lower()
    assert not [name for name in os.listdir(small_disk / "tfds") if name.startswith(".kgan-import")]


# ---- 6., 7. library cases ------------------------------------------------------------------------------------


def test_a_sequential_conv_discriminator_exports_its_features(tmp_path):
    g = keras.Sequential([keras.Input((8,)), keras.layers.Dense(16, activation="tanh"), keras.layers.Reshape((4, 4, 1))])
    d = keras.Sequential([keras.layers.Conv2D(4, 3, strides=2, padding="same"), keras.layers.LeakyReLU(0.2),
                          keras.layers.Flatten(), keras.layers.Dense(1)])
    gan = kgan.GAN(g, d, latent_dim=8)
    assert gan.contract.features
    path = serving.export_saved_model(gan, str(tmp_path))
    images = np.random.default_rng(0).uniform(-1, 1, (3, 4, 4, 1)).astype("float32")
    np.testing.assert_allclose(kgan.load(path).features(images), kgan.load(gan).features(images), atol=1e-6)
    assert kgan.load(path).features(images).shape == (3, 2 * 2 * 4)


class BatchSpy(keras.layers.Layer):
    sizes = []

    def call(self, x):
        if x.shape[0] is not None:  # eager calls (not the symbolic build)
            BatchSpy.sizes.append(int(x.shape[0]))
        return x

    def compute_output_shape(self, input_shape):
        return input_shape


def test_generate_runs_in_bounded_batches_and_user_generators_must_stay_in_range(tmp_path):
    z = keras.Input((4,))
    g = keras.Model(z, keras.layers.Reshape((2, 2, 1))(BatchSpy()(keras.layers.Dense(4, activation="tanh")(z))))
    x = keras.Input((2, 2, 1))
    gan = kgan.GAN(g, keras.Model(x, keras.layers.Dense(1)(keras.layers.Flatten()(x))), latent_dim=4)
    BatchSpy.sizes.clear()  # (GAN() itself ran G once on its probe batch)
    assert gan.generate(600, seed=0).shape == (600, 2, 2, 1)
    assert BatchSpy.sizes == [256, 256, 88]
    linear = keras.Model(z, keras.layers.Reshape((2, 2, 1))(keras.layers.Dense(4, kernel_initializer="ones")(z)))
    with pytest.raises(ValueError, match=r"must output images in \[-1, 1\].*end it with a tanh"):
        kgan.GAN(linear, keras.Model(x, keras.layers.Dense(1)(keras.layers.Flatten()(x))), latent_dim=4)
    with pytest.raises(ValueError, match=r"Cannot save a kgan GAN as .*\.h5.*Save to a \.keras file"):
        gan.save(tmp_path / "gan.h5")
    assert not (tmp_path / "gan.h5").exists()


def test_the_mnist_files_do_not_import_as_another_dataset(tmp_path):
    if not os.path.isdir(SHARED_MNIST):
        pytest.skip("no MNIST files beside the repository")
    with pytest.raises(ValueError, match="is the official mnist file .* not fashion_mnist: import it with "
                                         "--dataset mnist"):
        kgan.data.import_idx_dataset("fashion_mnist", SHARED_MNIST, str(tmp_path))
    assert os.listdir(tmp_path) == []
