"""Export a trained run or .keras model for TF Serving and TF-Lite.

  python -m zoo.export --model runs/dcgan [--name dcgan] [--version N] [--export_dir exports]

Writes exports/<name>/<version>/ (SavedModel + kgan_metadata.json + warmup
requests + tflite/generator_<variant>.tflite) and refreshes exports/models.config.
"""

import sys

from absl import app, flags

from kgan import latent
from zoo._export import export_model

flags.DEFINE_string("model", None, "Run directory (with model.keras) or a .keras file.", required=True)
flags.DEFINE_string("name", None, "Served model name (default: the model family, e.g. dcgan).")
flags.DEFINE_integer("version", None, "Export version (default: the next free one; never overwrites).",
                     lower_bound=1)
FLAGS = flags.FLAGS


def main(argv):
    if len(argv) > 1:
        raise SystemExit(f"Unexpected arguments: {' '.join(argv[1:])} (flags are --name=value).")
    try:
        gan = latent.load_gan(FLAGS.model)
        path = export_model(gan, FLAGS.name, version=FLAGS.version)
    except (FileNotFoundError, FileExistsError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        raise SystemExit(2) from None
    print(f"Exported to {path}")


if __name__ == "__main__":
    app.run(main)
