"""Keras callbacks for GAN training (the checkpoint ones are in `kgan.training.checkpoint`)."""

import csv
import io
import os

import keras
import numpy as np
import tensorflow as tf

from kgan import images as image_utils
from kgan.checks import write_text_atomic
from kgan.training.state import TrainingState


class SampleGrid(keras.callbacks.Callback):
    """After every epoch, saves a grid of samples from the SAME fixed latents.

    Writes ``<output_dir>/epoch_<NNN>.png`` and, with ``log_dir``, a TensorBoard
    image summary ``name`` under ``<log_dir>/<name>``. The latents come from
    ``latents_fn(model, rows, cols, seed)``, by default
    ``model.grid_latents(rows, cols, seed)`` (a conditional model lays out its
    rows by label), so runs with the same seed render comparable grids.

    Args:
      output_dir: folder for the PNG files.
      rows: grid rows.
      cols: grid columns.
      seed: seed of the fixed latents.
      log_dir: TensorBoard log folder (None: no image summaries).
      every_n_epochs: save every N epochs.
      name: TensorBoard summary name (and sub-folder of ``log_dir``).
      latents_fn: optional ``(model, rows, cols, seed) -> latents``, e.g. an
        InfoGAN code traversal.
      state: the run's `TrainingState`: no grid is saved once training diverged.
    """

    def __init__(self, output_dir, rows=8, cols=8, seed=0, log_dir=None, every_n_epochs=1, name="samples",
                 latents_fn=None, state=None):
        super().__init__()
        if every_n_epochs < 1:
            raise ValueError(f"every_n_epochs must be >= 1, got {every_n_epochs}.")
        self.output_dir = output_dir
        self.rows, self.cols, self.seed = rows, cols, seed
        self.log_dir = log_dir
        self.every_n_epochs = every_n_epochs
        self.name = name
        self.latents_fn = latents_fn or (lambda model, rows, cols, seed: model.grid_latents(rows, cols, seed=seed))
        self.state = state if state is not None else TrainingState()
        self._latents = None
        self._writer = None
        self.last_path = None

    def on_train_begin(self, logs=None):
        self._latents = self.latents_fn(self.model, self.rows, self.cols, self.seed)
        if self.log_dir:
            self._writer = tf.summary.create_file_writer(os.path.join(self.log_dir, self.name))

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every_n_epochs or self.state.diverged:
            return
        self.save(epoch + 1)

    def save(self, step):
        """Renders the grid now and saves it as ``epoch_<step>.png``; returns the path."""
        samples = self.model.inference_generator(self._latents, training=False)
        grid = image_utils.image_grid(keras.ops.convert_to_numpy(samples), self.rows, self.cols)
        self.last_path = os.path.join(self.output_dir, f"epoch_{step:03d}.png")
        image_utils.save_png(self.last_path, grid)
        if self._writer is not None:
            with self._writer.as_default():
                tf.summary.image(self.name, grid[None], step=step)
            self._writer.flush()
        return self.last_path

    def on_train_end(self, logs=None):
        if self._writer is not None:
            self._writer.close()
            self._writer = None


class HistoryCSV(keras.callbacks.Callback):
    """Appends each epoch's logs to a CSV file, rewriting it atomically (like `keras.callbacks.CSVLogger`
    with ``append=True``, but a kill or a full disk never leaves a half-written file).

    Args:
      path: the CSV file (columns ``epoch`` and the logged metrics, sorted).
    """

    def __init__(self, path):
        super().__init__()
        self.path = path

    def on_epoch_end(self, epoch, logs=None):
        rows = read_history(self.path)
        rows.append({"epoch": str(epoch), **{key: str(float(np.ravel(value)[0]) if np.size(value) else value)
                                              for key, value in sorted((logs or {}).items())}})
        write_history(self.path, rows)


def read_history(path):
    """The rows of a history CSV (dicts of strings); ``[]`` for a missing file.

    Raises:
      ValueError: the file is not a CSV with an ``epoch`` column, naming it.
    """
    if not os.path.exists(path):
        return []
    with open(path, newline="") as f:
        try:
            rows = list(csv.DictReader(f))
        except csv.Error as error:
            raise ValueError(f"{path} is not a readable CSV ({error}).") from None
    if rows and "epoch" not in rows[0]:
        raise ValueError(f"{path} has no epoch column: not a kgan history file.")
    return rows


def write_history(path, rows):
    """Writes history rows (dicts) to ``path`` atomically; columns ``epoch`` first, then the rest, sorted."""
    keys = sorted({key for row in rows for key in row} - {"epoch"})
    text = io.StringIO()
    writer = csv.DictWriter(text, ["epoch", *keys], restval="", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    write_text_atomic(path, text.getvalue())
