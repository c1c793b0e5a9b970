"""Atomic, resumable training checkpoints and the non-finite guard.

A checkpoint is a whole-model ``.keras`` file (G, D, both optimizers, the
noise and dropout RNG states: see `GAN.save_own_variables`) named by where
training stood when it was written::

  epoch_003.keras                 after 3 full epochs
  epoch_003_batch_00050.keras     after 3 full epochs and 50 batches of the 4th

Each is written to a hidden ``.partial-*`` file in the same folder, flushed to
disk and then renamed over its final name, so a kill (or a full disk) during a
write leaves every earlier checkpoint usable. Together with a data stream whose
order is a function of (seed, batch) (`kgan.data.load_images(start_batch=...)`),
the name is all the state needed to resume exactly.
"""

import math
import os
import re
import shutil
import zipfile

import keras
import numpy as np

from kgan.checks import fsync_dir, set_aside
from kgan.training.state import TrainingState

_NAME = re.compile(r"^epoch_(\d{3,})(?:_batch_(\d{5,}))?\.keras$")
_PARTIAL_PREFIX = ".partial-"
CORRUPT_SUFFIX = ".corrupt"


class CorruptCheckpointError(OSError):
    """No checkpoint of a run could be read."""


class TrainingDiverged(ArithmeticError):
    """Training was stopped by a non-finite loss or weight."""


def checkpoint_name(epoch, batch=0):
    """File name of the checkpoint after ``epoch`` full epochs and ``batch`` more batches."""
    return f"epoch_{epoch:03d}.keras" if batch == 0 else f"epoch_{epoch:03d}_batch_{batch:05d}.keras"


def list_checkpoints(directory):
    """Checkpoints in ``directory``, oldest first.

    Returns:
      list of ``(epoch, batch, path)``; ``[]`` if the folder does not exist.
    """
    if not os.path.isdir(directory):
        return []
    found = []
    for name in os.listdir(directory):
        match = _NAME.match(name)
        if match:
            found.append((int(match.group(1)), int(match.group(2) or 0), os.path.join(directory, name)))
    return sorted(found)


def remove_partial_files(directory):
    """Deletes ``.partial-*`` files (writes a kill interrupted; never complete); returns their names."""
    if not os.path.isdir(directory):
        return []
    partial = sorted(name for name in os.listdir(directory) if name.startswith(_PARTIAL_PREFIX))
    for name in partial:
        os.remove(os.path.join(directory, name))
    return partial


def save_atomic(model, path):
    """Saves ``model`` to ``path`` (.keras) so that the file is either complete or absent.

    Raises:
      OSError: the write failed (e.g. disk full); ``path`` and every other file
        are as they were.
    """
    folder, name = os.path.split(os.path.abspath(path))
    partial = os.path.join(folder, f"{_PARTIAL_PREFIX}{os.getpid()}-{name}")
    try:
        os.makedirs(folder, exist_ok=True)
        model.save(partial)
        with open(partial, "rb") as f:
            os.fsync(f.fileno())
        os.replace(partial, path)
        fsync_dir(folder)
    except OSError as error:
        raise OSError(
            f"Could not write checkpoint {path}: {error}. Earlier checkpoints are intact; free some space "
            "(or fix the folder's permissions) and rerun the same command to resume.") from error
    finally:
        if os.path.exists(partial):
            os.remove(partial)


def restore_latest(gan, directory, log=print):
    """Loads the newest readable checkpoint of ``directory`` into the compiled ``gan``.

    A checkpoint that cannot be read (truncated, corrupt, not a checkpoint of
    this model) is reported, renamed to ``<name>.corrupt`` (kept, never
    retried) and the previous one is tried.

    Args:
      gan: a compiled `kgan.GAN` of the run's architecture.
      directory: the run's ``checkpoints/`` folder.
      log: where messages go.

    Returns:
      ``(epoch, batch, path)`` of the loaded checkpoint, or None if there is none.

    Raises:
      CorruptCheckpointError: there were checkpoints but none could be read.
    """
    bad = []
    for epoch, batch, path in reversed(list_checkpoints(directory)):
        try:
            verify(path)
            gan.load_weights(path)
        except Exception as error:  # pylint: disable=broad-except  # any unreadable file
            reason = f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"
            problem = f"is corrupt or truncated ({reason})"
        else:
            if weights_finite(gan):
                return epoch, batch, path
            reason = problem = "holds non-finite weights"
        bad.append(f"{path} ({reason})")
        aside = set_aside(path, CORRUPT_SUFFIX)
        log(f"Checkpoint {path} {problem}; kept as {os.path.basename(aside)}, trying the "
            "previous one.")
    if bad:
        raise CorruptCheckpointError(
            "No checkpoint could be read: " + "; ".join(bad) + ". Pass --fresh to start over (the old run is "
            "kept under previous/), or restore a good copy of a checkpoint.")
    return None


def verify(path):
    """Checks every member of a .keras file against its CRC-32 (a bit flip, a truncation).

    Keras reads the weights through seeks, which skip the zip's CRC check, so a
    damaged file could otherwise load silently with wrong weights.

    Raises:
      CorruptCheckpointError: naming the file and what is wrong.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            damaged = archive.testzip()
    except (zipfile.BadZipFile, OSError, EOFError) as error:
        raise CorruptCheckpointError(f"{path} is not a readable .keras file ({error})") from None
    if damaged is not None:
        raise CorruptCheckpointError(f"{path}: {damaged} fails its CRC-32 check")


def weights_finite(model):
    """Whether every floating-point variable of ``model`` (weights, BN statistics) is finite."""
    for variable in model.variables:
        value = keras.ops.convert_to_numpy(variable)
        if np.issubdtype(value.dtype, np.floating) and not np.isfinite(value).all():
            return False
    return True


def checkpoint_bytes(gan):
    """Estimated size of one checkpoint of ``gan`` (weights + both optimizers' slots)."""
    variables = list(gan.variables)
    for name in ("d_optimizer", "g_optimizer"):
        optimizer = getattr(gan, name, None)
        if optimizer is not None:
            variables += list(optimizer.variables)
    raw = sum(math.prod(v.shape) * np.dtype(keras.backend.standardize_dtype(v.dtype)).itemsize for v in variables)
    return int(raw * 1.05) + (1 << 20)  # zip + h5 headers, config


def check_free_space(directory, needed_bytes):
    """Raises OSError before training if ``directory`` cannot take ``needed_bytes`` more.

    Also proves the folder is writable by creating and removing a file in it.
    """
    probe = os.path.join(directory, f"{_PARTIAL_PREFIX}probe-{os.getpid()}")
    try:
        with open(probe, "wb") as f:
            f.write(b"kgan")
        os.remove(probe)
    except OSError as error:
        raise OSError(f"Cannot write to {directory}: {error}. Pass an --output_dir you can write to.") from None
    free = shutil.disk_usage(directory).free
    if free < needed_bytes:
        raise OSError(
            f"Only {free / 2**20:.0f} MiB free under {directory}, but this run needs about "
            f"{needed_bytes / 2**20:.0f} MiB for its checkpoints; free some space or pass another --output_dir. "
            "Nothing was written.")


class RunCheckpoint(keras.callbacks.Callback):
    """Writes atomic checkpoints at every epoch end and, optionally, every N batches.

    Batch checkpoints older than the newest epoch checkpoint are removed, and
    of the newer ones the two latest are kept (one to fall back on). Epoch
    checkpoints are all kept. Nothing is written once training diverged (see
    `StopOnNonFinite`), or if a weight is not finite.

    Args:
      directory: the run's ``checkpoints/`` folder.
      steps_per_epoch: batches per epoch.
      every_n_batches: also checkpoint every this many batches within an epoch
        (0 or None: epoch ends only).
      state: the run's `TrainingState` (shared with the other callbacks); it
        holds the batch offset of a resumed epoch and receives the newest path.
    """

    def __init__(self, directory, steps_per_epoch, every_n_batches=None, state=None):
        super().__init__()
        self.directory = directory
        self.steps_per_epoch = steps_per_epoch
        self.every_n_batches = every_n_batches or 0
        self.state = state if state is not None else TrainingState()

    @property
    def last_path(self):
        return self.state.last_checkpoint

    def on_epoch_begin(self, epoch, logs=None):
        self.state.epoch = epoch
        self.state.batches_in_epoch = self.state.batch_offset

    def on_train_batch_end(self, batch, logs=None):
        done = self.state.batches_done(batch)
        self.state.batches_in_epoch = done
        if self.every_n_batches and done % self.every_n_batches == 0 and done < self.steps_per_epoch:
            self.save(self.state.epoch, done)

    def on_epoch_end(self, epoch, logs=None):
        self.save(epoch + 1, 0)
        self.state.batch_offset = 0

    def save(self, epoch, batch):
        """Writes the checkpoint for (epoch, batch) unless training diverged; returns its path or None."""
        if self.state.diverged:
            return None
        if not weights_finite(self.model):
            self.state.mark_diverged(self.model, f"Training stopped: non-finite weights after epoch {epoch}, batch "
                                                 f"{batch}. Nothing from this point was saved; "
                                                 f"{self.state.last_good()}.")
            return None
        path = os.path.join(self.directory, checkpoint_name(epoch, batch))
        save_atomic(self.model, path)
        self.state.last_checkpoint = path
        self._prune()
        return path

    def _prune(self):
        checkpoints = list_checkpoints(self.directory)
        newest_epoch = max((e for e, b, _ in checkpoints if b == 0), default=-1)
        batch_checkpoints = [(e, b, p) for e, b, p in checkpoints if b > 0]
        stale = [p for e, b, p in batch_checkpoints if e < newest_epoch]
        newer = [p for e, b, p in batch_checkpoints if e >= newest_epoch]
        for path in stale + newer[:-2]:
            os.remove(path)


class StopOnNonFinite(keras.callbacks.Callback):
    """Stops training at the first batch whose logged losses are NaN or infinite.

    Unlike `keras.callbacks.TerminateOnNaN` it says where it happened and marks
    the shared `TrainingState` as diverged, so that no checkpoint, sample grid
    or best model is written from the broken weights.

    Args:
      steps_per_epoch: batches per epoch (for the global step in the message).
      state: the run's `TrainingState` (shared with the other callbacks).
    """

    def __init__(self, steps_per_epoch, state=None):
        super().__init__()
        self.steps_per_epoch = steps_per_epoch
        self.state = state if state is not None else TrainingState()

    @property
    def message(self):
        return self.state.diverged

    def on_epoch_begin(self, epoch, logs=None):
        self.state.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        bad = {name: float(np.asarray(value).ravel()[0]) for name, value in (logs or {}).items()
               if np.size(value) and not np.isfinite(np.asarray(value, np.float64)).all()}
        if not bad:
            return
        in_epoch = self.state.batches_done(batch)
        step = self.state.epoch * self.steps_per_epoch + in_epoch
        self.state.mark_diverged(self.model, (
            f"Training stopped: non-finite {', '.join(f'{k}={v}' for k, v in sorted(bad.items()))} at epoch "
            f"{self.state.epoch + 1}, batch {in_epoch} (step {step}). Nothing from this point was saved; "
            f"{self.state.last_good()}. Lower the learning rate (or check the data), then rerun to resume from the "
            "last good checkpoint."))
