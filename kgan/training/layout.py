"""The one definition of a run directory: what a zoo trainer writes and every reader finds there."""

import dataclasses
import os

MODEL_FILE = "model.keras"


@dataclasses.dataclass(frozen=True)
class RunLayout:
    """The files of a run directory.

    ::

      run.json                  the run's configuration (checked when it resumes)
      samples/epoch_NNN.png     sample grid from fixed latents, every epoch
      logs/                     TensorBoard
      checkpoints/              full-model checkpoints (see `kgan.training.checkpoint`)
      best.keras, best.json     the model with the best Frechet distance so far, and its scores
      history.csv               per-epoch metrics
      model.keras               the final model
      export.json               where the run was last exported (so a rerun can finish a missing export)
      .lock                     the claim of the process writing the run (see `kgan.training.lock`)
      previous/<time>/          earlier runs moved aside by a fresh start

    Attributes:
      root: the run directory.
    """

    root: str

    def __post_init__(self):
        object.__setattr__(self, "root", os.fspath(self.root))

    def path(self, *parts):
        return os.path.join(self.root, *parts)

    @property
    def run_config(self):
        return self.path("run.json")

    @property
    def model(self):
        return self.path(MODEL_FILE)

    @property
    def checkpoints(self):
        return self.path("checkpoints")

    @property
    def samples(self):
        return self.path("samples")

    def sample_grids(self, name):
        """The folder of a named grid series (``samples``, ``continuous_0``, ...)."""
        return self.path(name)

    @property
    def logs(self):
        return self.path("logs")

    @property
    def history(self):
        return self.path("history.csv")

    @property
    def best_model(self):
        return self.path("best.keras")

    @property
    def best_record(self):
        return self.path("best.json")

    @property
    def previous(self):
        return self.path("previous")

    @property
    def export_record(self):
        return self.path("export.json")

    @property
    def lock(self):
        return self.path(".lock")

    # The names that make a directory a run (moved aside together by a fresh start).
    RUN_FILES = ("run.json", MODEL_FILE, "checkpoints", "samples", "logs", "history.csv", "best.keras", "best.json",
                 "export.json")

    def existing_run_files(self):
        """The `RUN_FILES` present in the directory."""
        return [name for name in self.RUN_FILES if os.path.exists(self.path(name))]

    def is_run(self):
        """Whether the directory holds a finished run's model."""
        return os.path.isfile(self.model)
