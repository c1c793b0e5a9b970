"""Keras callbacks that score samples during training: the best model by Frechet distance."""

import json
import os
import sys

import keras
import numpy as np
import tensorflow as tf

from kgan.checks import one_line, set_aside, write_json_atomic
from kgan.evaluation import extractors, metrics, scoring
from kgan.evaluation.sampling import batch_seed, batches, draw_inputs
from kgan.training.checkpoint import save_atomic
from kgan.training.state import TrainingState

# Model selection must not see the test split: by default the last 5000 train images (the classic MNIST
# validation split), which the zoo trainers hold out of training when they select a best model.
HOLDOUT_SPLIT = "train[-5000:]"


class EvaluationCallback(keras.callbacks.Callback):
    """Every N epochs, scores samples (shipped MNIST classifier, or InceptionV3) and keeps the best model.

    Computes the Frechet distance (FID formula on the classifier's 128-d
    features) of ``num_samples`` generated images against real images, and
    the classifier score (Inception-Score formula), see `kgan.evaluation`.
    The samples come from the SAME fixed latents every time (seed ``seed``;
    balanced labels / categories for CGAN / InfoGAN), so epochs are compared
    on equal terms. The real features are computed once, at the first
    ``on_train_begin``: from ``real_images`` if given, else from up to
    ``num_real`` images of the ``dataset``'s ``real_split``, by default the
    held-out `HOLDOUT_SPLIT` of the train split (the test split stays unseen
    for the final evaluation: train on the rest, e.g. ``train[:-5000]``).

    GANs often get worse late in training, so whenever the Frechet distance
    improves on the best so far, the model (with both optimizers) is saved to
    ``checkpoint_path`` (written to a temporary file in the same folder, then
    renamed over the old one: a crash never leaves a half-written best
    model), with ``<checkpoint_path minus .keras>.json`` recording the epoch and
    the values. With the default feature extractor only 28x28x1 models can be
    scored (``on_train_begin`` raises ValueError otherwise); pass
    ``feature_extractor=kgan.evaluation.extractors.inception_v3()`` for any other
    images (the Frechet distance is then the FID, the score the Inception Score on all samples).

    With ``log_dir``, writes TensorBoard scalars ``frechet_distance``,
    ``classifier_score`` and ``best_frechet_distance`` under
    ``<log_dir>/<name>`` at step = epoch number (1-based). The values are not
    added to the epoch ``logs`` (they exist only every N epochs, which
    CSVLogger does not allow); they are in ``callback.history`` (a list of
    dicts) and ``best_value`` / ``best_epoch``.

    Args:
      every_n_epochs: evaluate after every N-th epoch.
      num_samples: generated images per evaluation (2000: a few seconds on CPU;
        Frechet distances at different sample sizes are not comparable).
      checkpoint_path: where to keep the best model, e.g. ``runs/x/best.keras``
        (None: keep nothing).
      log_dir: TensorBoard log folder (None: no summaries).
      real_images: optional real images ``[M, H, W, C]`` in [-1, 1] (numpy,
        or a tf.data.Dataset of images or ``(images, labels)`` batches).
      dataset: tfds dataset or image folder of the real images when ``real_images`` is None
        (cropped, resized and converted to the model's image shape).
      data_dir: its tfds data dir.
      num_real: real images used when loading them (a seeded subset if the
        split is larger).
      seed: seed of the fixed latents and the real subset.
      name: TensorBoard sub-folder.
      verbose: print one line per evaluation.
      real_split: the tfds split the real images come from.
      state: the run's `kgan.training.TrainingState`: nothing is scored or
        kept once training diverged.
      feature_extractor: a `kgan.evaluation.extractors.FeatureExtractor` (None: the shipped MNIST classifier).
    """

    def __init__(self, every_n_epochs=1, num_samples=2000, checkpoint_path=None, log_dir=None, real_images=None,
                 dataset="mnist", data_dir=None, num_real=10000, seed=0, name="evaluation", verbose=1,
                 real_split=HOLDOUT_SPLIT, state=None, feature_extractor=None):
        super().__init__()
        for arg, value, minimum in (("every_n_epochs", every_n_epochs, 1), ("num_samples", num_samples, 2),
                                    ("num_real", num_real, 2)):
            if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
                raise ValueError(f"{arg} must be an integer >= {minimum}, got {value!r}.")
        if checkpoint_path is not None and not os.fspath(checkpoint_path).endswith(".keras"):
            raise ValueError(f"checkpoint_path must end in .keras (a full Keras model), got {checkpoint_path!r}.")
        self.every_n_epochs = every_n_epochs
        self.num_samples = num_samples
        self.checkpoint_path = os.fspath(checkpoint_path) if checkpoint_path is not None else None
        self.log_dir = log_dir
        self.real_images = real_images
        self.dataset, self.data_dir, self.num_real, self.real_split = dataset, data_dir, num_real, real_split
        self.state = state if state is not None else TrainingState()
        self.feature_extractor = feature_extractor
        self.seed = seed
        self.name = name
        self.verbose = verbose
        self.best_value = float("inf")
        self.best_epoch = None
        self.history = []
        self.real_statistics = None  # (mean, covariance) of the real features
        self.real_count = None
        self._latents = None
        self._writer = None

    # ---- setup -------------------------------------------------------------------

    @property
    def extractor(self):
        """The `FeatureExtractor` the scores are computed with."""
        if self.feature_extractor is None:
            self.feature_extractor = extractors.mnist_classifier()
        return self.feature_extractor

    def _real_features(self):
        images = self.real_images
        if images is None:
            height, _, channels = self.model.image_shape
            images, _ = scoring.real_images(self.real_split, self.num_real, self.seed, self.dataset, self.data_dir,
                                            image_size=height, channels=channels)
        elif isinstance(images, tf.data.Dataset):
            batches = [batch[0] if isinstance(batch, (tuple, list)) else batch for batch in images.as_numpy_iterator()]
            images = np.concatenate(batches)
        images = np.asarray(images, np.float32)
        self.extractor.check(images.shape[1:], "The real image set")
        return self.extractor(images)[1]

    def prepare(self):
        """Computes the real feature statistics and the fixed latents (done by ``on_train_begin``)."""
        self.extractor.check(self.model.image_shape, "The model")
        if self.real_statistics is None:
            features = self._real_features()
            self.real_statistics = metrics.feature_statistics(features)
            self.real_count = len(features)
        if self._latents is None:
            contract = self.model.contract
            self._latents = [contract.latents(draw_inputs(contract, start, stop, batch_seed(self.seed, index)))
                             for index, start, stop in batches(self.num_samples)]

    def on_train_begin(self, logs=None):
        self.prepare()
        self._restore_best()
        if self.log_dir and self._writer is None:
            self._writer = tf.summary.create_file_writer(os.path.join(self.log_dir, self.name))

    def _restore_best(self):
        """A resumed run keeps the best score so far (from ``best.json``), so best.keras only improves."""
        if self.best_epoch is not None or not self.checkpoint_path:
            return
        json_path = self.checkpoint_path[:-len(".keras")] + ".json"
        if not (os.path.exists(json_path) and os.path.exists(self.checkpoint_path)):
            return
        try:
            with open(json_path) as f:
                record = json.load(f)
            best_value, best_epoch = float(record["frechet_distance"]), int(record["epoch"])
        except (OSError, ValueError, KeyError, TypeError) as error:
            # A damaged record never blocks training: it is kept aside and the next evaluation starts a new best.
            aside = set_aside(json_path)
            print(f"warning: {json_path} is unreadable ({one_line(error, 120)}); kept as {aside}; the best model "
                  "is chosen anew from the next evaluation.", file=sys.stderr)
            return
        self.best_value, self.best_epoch = best_value, best_epoch

    # ---- evaluation ------------------------------------------------------------------

    def measure(self):
        """Scores the model now: dict(frechet_distance, classifier_score or inception_score)."""
        images = np.concatenate([keras.ops.convert_to_numpy(self.model.inference_generator(latents, training=False))
                                 for latents in self._latents]).astype(np.float32)
        logits, features = self.extractor(images)
        mean, covariance = metrics.feature_statistics(features)
        score_name = "inception_score" if self.extractor.kind == "inception" else "classifier_score"
        return {"frechet_distance": metrics.frechet_distance_from_statistics(mean, covariance, *self.real_statistics),
                score_name: metrics.classifier_score(logits)}

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every_n_epochs or self.state.diverged:
            return
        self.evaluate(epoch + 1)

    def evaluate(self, step):
        """Measures, logs and (on improvement) saves the model, for epoch ``step`` (1-based)."""
        values = {key: float(value) for key, value in self.measure().items()}
        value = values["frechet_distance"]
        improved = bool(np.isfinite(value) and value < self.best_value)
        if improved:
            self.best_value, self.best_epoch = value, step
            if self.checkpoint_path:
                self._save_best(step, values)
        self.history.append({"epoch": step, **values, "improved": improved})
        if self._writer is not None:
            with self._writer.as_default():
                for key, scalar in values.items():
                    tf.summary.scalar(key, scalar, step=step)
                tf.summary.scalar("best_frechet_distance", self.best_value, step=step)
            self._writer.flush()
        if self.verbose:
            saved = f"; saved {self.checkpoint_path}" if improved and self.checkpoint_path else ""
            score_name = next(key for key in values if key != "frechet_distance")
            print(f"Epoch {step}: Frechet distance {value:.3f} (best {self.best_value:.3f} at epoch "
                  f"{self.best_epoch}{saved}), {score_name.replace('_', ' ')} {values[score_name]:.3f} "
                  f"[{self.extractor.name}; {self.num_samples} samples vs {self.real_count} real images]", flush=True)
        return values

    def _save_best(self, step, values):
        save_atomic(self.model, self.checkpoint_path)
        record = {"epoch": step, **values, "feature_extractor": self.extractor.name,
                  "num_samples": self.num_samples, "num_real": self.real_count,
                  "real": self._real_source(), "checkpoint": os.path.basename(self.checkpoint_path)}
        write_json_atomic(self.checkpoint_path[:-len(".keras")] + ".json", record)

    def _real_source(self):
        if self.real_images is not None:
            return "images given to the callback"
        return f"{self.dataset} {self.real_split}"

    def on_train_end(self, logs=None):
        if self._writer is not None:
            self._writer.close()
            self._writer = None
