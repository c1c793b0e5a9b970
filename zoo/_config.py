"""The frozen configuration of a zoo training run: read from the flags once, stored in run.json."""

import dataclasses
import os
import types

# Settings that may differ when a run resumes; every other one must match run.json.
RESUMABLE = frozenset({
    "epochs", "verbose", "export", "export_dir", "export_name", "export_from", "replace_family", "tflite", "serving_root", "data_dir",
    "output_dir", "fresh", "checkpoint_every", "eval_every", "eval_samples", "strategy", "jit_compile",
    "deterministic", "download", "inception_weights", "learning_rate", "d_learning_rate", "g_learning_rate",
    "grid_size"})


@dataclasses.dataclass(frozen=True)
class RunConfig:
    """Everything a zoo trainer was asked to do, in one frozen object.

    The common settings are fields; the trainer's own flags (``head``,
    ``num_categories``, ...) are in ``family``. `record` is what run.json
    stores and what a resumed run is compared against.
    """

    model: str
    dataset: str
    image_dir: str
    split: str
    channels: int
    download: bool
    skip_bad_images: bool
    data_dir: str
    output_dir: str
    epochs: int
    batch_size: int
    steps_per_epoch: int
    image_size: int
    latent_dim: int
    d_steps: int
    loss: str
    generator_loss: str
    label_smoothing: float
    gradient_penalty: float
    r1_gamma: float
    r1_every: int
    weight_clip: float
    spectral_norm: bool
    ema: float
    ema_start: int
    augment: str
    conditioning: str
    learning_rate: float
    d_learning_rate: float
    g_learning_rate: float
    beta_1: float
    seed: int
    grid_size: int
    verbose: str
    precision: str
    strategy: str
    jit_compile: bool
    eval_every: int
    eval_every_given: bool
    dataset_given: bool
    eval_samples: int
    inception_weights: str
    holdout: int
    init_from: str
    checkpoint_every: int
    fresh: bool
    deterministic: bool
    export: bool
    export_dir: str
    export_name: str
    export_from: str
    replace_family: bool
    tflite: tuple
    serving_root: str
    family: types.MappingProxyType

    @classmethod
    def from_flags(cls, model, flag_values, family_flags):
        """Reads the run's settings from absl flags.

        Args:
          model: the trainer's name (``dcgan``, ...).
          flag_values: absl's ``FLAGS``.
          family_flags: names of the trainer's own flags.
        """
        names = {field.name for field in dataclasses.fields(cls)} - {"model", "family", "eval_every_given", "dataset_given"}
        values = {name: flag_values[name].value for name in names}
        for name in ("data_dir", "output_dir", "export_dir", "image_dir", "inception_weights"):
            if values[name]:
                values[name] = os.path.expanduser(values[name])
        values["output_dir"] = values["output_dir"] or os.path.join("runs", model)
        values["tflite"] = tuple(values["tflite"])
        values["channels"] = int(values["channels"]) if values["channels"] else None
        if values["image_dir"]:
            values["image_dir"] = os.path.abspath(values["image_dir"])
        family = types.MappingProxyType({name: flag_values[name].value for name in sorted(family_flags)})
        return cls(model=model, eval_every_given=flag_values["eval_every"].present,
                   dataset_given=flag_values["dataset"].present, family=family, **values)

    @property
    def source(self):
        """What the run trains on: the --image_dir folder, else the --dataset name."""
        return self.image_dir or self.dataset

    def data_options(self):
        """The data-reading settings every `kgan.data` call of the run takes."""
        return {"data_dir": self.data_dir, "download": self.download, "skip_bad_images": self.skip_bad_images}

    @property
    def d_rate(self):
        """D's learning rate (--learning_rate unless set)."""
        return self.d_learning_rate or self.learning_rate

    @property
    def g_rate(self):
        """G's learning rate (--learning_rate unless set)."""
        return self.g_learning_rate or self.learning_rate

    def update_options(self):
        """The `kgan.GAN.compile` options of the adversarial update."""
        return {"loss": self.loss, "generator_loss": self.generator_loss, "d_steps": self.d_steps,
                "label_smoothing": self.label_smoothing, "gradient_penalty": self.gradient_penalty,
                "r1_gamma": self.r1_gamma, "r1_every": self.r1_every, "weight_clip": self.weight_clip,
                "ema_decay": self.ema, "ema_start": self.ema_start, "augment": self.augment}

    def record(self):
        """The settings as run.json stores them: ``{"model": ..., "flags": {name: value}}``."""
        settings = {field.name: getattr(self, field.name) for field in dataclasses.fields(self)
                    if field.name not in ("model", "family", "eval_every_given", "dataset_given")}
        settings["tflite"] = list(self.tflite)
        settings.update(self.family)
        return {"model": self.model, "flags": settings}

    def conflicts(self, record):
        """The settings that differ from a run.json ``record`` and may not change on resume."""
        saved, now = record["flags"], self.record()["flags"]
        return [f"--{name}={now[name]!r} (the run has {saved[name]!r})"
                for name in sorted(set(now) & set(saved) - RESUMABLE) if _normal(now[name]) != _normal(saved[name])]


def _normal(value):
    return list(value) if isinstance(value, (list, tuple)) else value
