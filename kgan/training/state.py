"""The training state the run's callbacks share, handed to each when it is built."""

import dataclasses


@dataclasses.dataclass
class TrainingState:
    """Where training stands, for callbacks that must agree on it.

    Attributes:
      epoch: the current epoch (0-based), as Keras counts it.
      batch_offset: batches of the current epoch done before this `fit` call
        (a run resumed mid-epoch).
      batches_in_epoch: batches of the current epoch done so far (resumed ones included).
      last_checkpoint: path of the newest checkpoint written, or None.
      diverged: why training was stopped as diverged (a NaN/Inf), or None;
        once set, nothing more is checkpointed, sampled or kept as best.
    """

    epoch: int = 0
    batch_offset: int = 0
    batches_in_epoch: int = 0
    last_checkpoint: str = None
    diverged: str = None

    def batches_done(self, batch):
        """Batches of the current epoch done after Keras' 0-based ``batch`` of this fit call."""
        return self.batch_offset + batch + 1

    def mark_diverged(self, model, message):
        """Stops ``model``'s training as diverged, saying why."""
        self.diverged = message
        model.stop_training = True

    def last_good(self):
        """A sentence naming the last good checkpoint."""
        if self.last_checkpoint:
            return f"the last good checkpoint, {self.last_checkpoint}, is intact"
        return "no checkpoint had been written yet"
