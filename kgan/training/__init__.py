"""Training runs: the run directory's layout, checkpoints, the shared training state, callbacks."""

from kgan.training import callbacks, checkpoint, layout, state
from kgan.training.callbacks import SampleGrid
from kgan.training.checkpoint import (CorruptCheckpointError, RunCheckpoint, StopOnNonFinite, TrainingDiverged,
                                      restore_latest, save_atomic)
from kgan.training.layout import RunLayout
from kgan.training.state import TrainingState

__all__ = ["CorruptCheckpointError", "RunCheckpoint", "RunLayout", "SampleGrid", "StopOnNonFinite",
           "TrainingDiverged", "TrainingState", "callbacks", "checkpoint", "layout", "restore_latest",
           "save_atomic", "state"]
