"""Export a trained run or .keras model for TF Serving and TF-Lite.

  python -m zoo.export --model runs/dcgan [--name dcgan] [--version N] [--export_dir exports]

Writes exports/<name>/<version>/ (SavedModel + kgan_metadata.json + warmup
requests + tflite/generator_<variant>.tflite) and refreshes exports/models.config.
An existing version is never touched.
"""


from absl import app, flags

import kgan
from zoo._export import export_model
from zoo._main import run_main

flags.DEFINE_string("model", None, "Run directory (with model.keras) or a .keras file.", required=True)
flags.DEFINE_string("name", None, "Served model name (default: the model family, e.g. dcgan).")
flags.DEFINE_integer("version", None, "Export version (default: the next free one; never overwrites).",
                     lower_bound=1)
FLAGS = flags.FLAGS


def run():
    loaded = kgan.load(FLAGS.model)
    if loaded.gan is None:
        raise ValueError(f"--model {FLAGS.model} is already an export (a SavedModel): serve it as it is, or pass the "
                         "run directory or .keras file it was exported from.")
    return export_model(loaded.gan, FLAGS.name, FLAGS.export_dir, FLAGS.tflite, FLAGS.serving_root,
                        version=FLAGS.version)


def main(argv):
    path = run_main(run, argv)
    print(f"Exported to {path}")


if __name__ == "__main__":
    app.run(main)
