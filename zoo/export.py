"""Export a trained run or .keras model for TF Serving and TF-Lite.

  python -m zoo.export --model runs/dcgan [--name dcgan] [--version N] [--export_dir exports]

Writes exports/<name>/<version>/ (SavedModel + kgan_metadata.json + warmup
requests + tflite/generator_<variant>.tflite) and refreshes exports/models.config.
An existing version is never touched.
"""

import os

from absl import app, flags

from zoo._export import export_model
from zoo._main import run_main

flags.DEFINE_string("model", None, "Run directory (with model.keras), a .keras file, or a preset (preset:NAME, a "
                    "preset directory, hf://user/repo).", required=True)
flags.DEFINE_string("name", None, "Served model name (default: the model family, e.g. dcgan).")
flags.DEFINE_integer("version", None, "Export version (default: the next free one; never overwrites).",
                     lower_bound=1)
FLAGS = flags.FLAGS


def run():
    from kgan.training.layout import RunLayout  # TensorFlow's start-up only after the flags are checked
    from kgan.training.lock import Claim

    source, export_dir = os.path.expanduser(FLAGS.model), os.path.expanduser(FLAGS.export_dir)
    run_dir = RunLayout(source)
    if run_dir.is_run():  # nobody trains, exports or starts it over meanwhile
        with Claim(run_dir.lock, "an export (zoo.export)", what=f"The run directory {source}"):
            return export(source, export_dir, _run_epochs(run_dir))
    return export(source, export_dir, None)


def export(source, export_dir, epochs):
    import kgan
    from kgan.serving import saved_model

    loaded = kgan.load(source)
    if loaded.gan is None:
        raise ValueError(f"--model {source} is already an export (a SavedModel): serve it as it is, or pass the "
                         "run directory or .keras file it was exported from.")
    name = FLAGS.name or loaded.family
    saved_model.check_export_target(export_dir, name, loaded.family, FLAGS.version, FLAGS.replace_family)
    provenance = {"from": "final", "epoch": epochs, "scores": None} if epochs is not None else None
    return export_model(loaded.gan, name, export_dir, FLAGS.tflite, FLAGS.serving_root, version=FLAGS.version,
                        training_epochs=epochs, provenance=provenance, replace_family=FLAGS.replace_family)


def _run_epochs(run_dir):
    """The epochs of a run's model.keras: its newest epoch checkpoint's."""
    from kgan.training import checkpoint

    epochs = [epoch for epoch, batch, _ in checkpoint.list_checkpoints(run_dir.checkpoints) if batch == 0]
    return max(epochs) if epochs else None


def main(argv):
    path = run_main(run, argv)
    print(f"Exported to {path}")


if __name__ == "__main__":
    app.run(main)
