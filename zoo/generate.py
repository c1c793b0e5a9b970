"""Generate an image grid from any model: ``python -m zoo.generate --preset dcgan_mnist --output grid.png``.

  python -m zoo.generate --model runs/cgan --labels 7,7,3 --output sevens.png
  python -m zoo.generate --model exports/infogan --categories 4,4 --continuous 1.5,0,-1.5,0 --output x.png

--model takes anything `kgan.load` reads (a run, a .keras file, an export, a preset directory,
preset:<name>, hf://user/repo); --preset NAME is short for --model preset:NAME.
"""

import math
import os

import numpy as np
from absl import app, flags

from zoo import _choices
from zoo._main import run_main

_SHIPPED = ", ".join(_choices.shipped_preset_names()) or "none shipped yet"
flags.DEFINE_string("preset", None, f"A shipped preset ({_SHIPPED}), a preset directory or an hf:// / kaggle:// URI.")
flags.DEFINE_string("model", None, "Any model kgan.load reads (run, .keras, export, preset directory, preset:NAME).")
flags.DEFINE_integer("num_images", 64, "Images to generate (ignored where --labels/--categories give the count).",
                     lower_bound=1)
flags.DEFINE_list("labels", None, "Class labels, one image each (conditional models).")
flags.DEFINE_list("categories", None, "Categorical codes, one image each (InfoGAN).")
flags.DEFINE_list("continuous", None, "Continuous codes, row-major: num_images x num_continuous numbers (InfoGAN).")
flags.DEFINE_integer("seed", 0, "Seed of the latents.", lower_bound=0)
flags.DEFINE_integer("cols", None, "Grid columns (default: about the square root of the count).", lower_bound=1)
flags.DEFINE_string("output", "samples.png", "The PNG grid to write.")
flags.DEFINE_bool("overwrite", False, "Replace an existing --output file.")
flags.DEFINE_enum("precision", None, list(_choices.PRECISIONS),
                  "Presets only: compute in this dtype policy instead of the preset's own (e.g. float32 on a CPU "
                  "without native bfloat16, where mixed_bfloat16 runs several times slower).")
FLAGS = flags.FLAGS


def _ints(name, values):
    try:
        return [int(v) for v in values]
    except ValueError:
        raise ValueError(f"--{name} must be comma-separated integers, got {','.join(values)!r}.") from None


def _chosen_inputs(model, count, given):
    """Serving inputs drawn from --seed with the chosen ids and --continuous codes in place."""
    contract = model.contract
    inputs = {name: np.asarray(value) for name, value in contract.sample(count, FLAGS.seed, given).items()}
    if FLAGS.continuous:
        codes = [s for s in contract.inputs if s.name == "continuous_code"]
        if not codes:
            raise ValueError(f"--continuous is for InfoGAN models; this {model.family} model has no continuous codes.")
        try:
            values = np.asarray([float(v) for v in FLAGS.continuous], np.float32)
        except ValueError:
            raise ValueError("--continuous must be comma-separated numbers.") from None
        if values.size != count * codes[0].size or not np.isfinite(values).all():
            raise ValueError(f"--continuous needs {count} x {codes[0].size} finite numbers (row-major), got "
                             f"{values.size}.")
        inputs["continuous_code"] = values.reshape(count, codes[0].size)
    return inputs


def run():
    import kgan  # TensorFlow's start-up only after the flags are checked
    from kgan import images as images_lib

    if bool(FLAGS.preset) == bool(FLAGS.model):
        raise ValueError("Pass exactly one of --preset NAME and --model SOURCE.")
    output = os.path.expanduser(FLAGS.output)
    if os.path.exists(output) and not FLAGS.overwrite:
        raise FileExistsError(f"--output {output} already exists; pass --overwrite to replace it.")
    if not os.path.isdir(os.path.dirname(os.path.abspath(output))):
        raise FileNotFoundError(f"The folder of --output {output} does not exist.")
    model = kgan.load(f"preset:{FLAGS.preset}" if FLAGS.preset else os.path.expanduser(FLAGS.model),
                      precision=FLAGS.precision)
    contract = model.contract
    given, count = {}, FLAGS.num_images
    for flag, specs in (("labels", contract.class_inputs), ("categories", contract.code_inputs)):
        values = getattr(FLAGS, flag)
        if values:
            if not specs:
                raise ValueError(f"--{flag} is for models with {'class labels' if flag == 'labels' else 'codes'}; "
                                 f"this {model.family} model has none.")
            given[specs[0].name] = np.asarray(_ints(flag, values), np.int32)
            count = len(values)
    if FLAGS.continuous is None and set(given) <= {spec.name for spec in contract.class_inputs}:
        images = model.sample(count, seed=FLAGS.seed, **given)["images"]  # the sample signature's draw
    else:
        images = model.generate(**_chosen_inputs(model, count, given))
    cols = FLAGS.cols or math.ceil(math.sqrt(count))
    rows = math.ceil(count / cols)
    padded = np.concatenate([images, np.full((rows * cols - count, *images.shape[1:]), -1.0, np.float32)])
    images_lib.save_png(output, images_lib.image_grid(padded, rows, cols))
    print(f"Wrote {count} images of {model.description} ({model.family}) to {output}.")


def main(argv):
    run_main(run, argv)


if __name__ == "__main__":
    app.run(main)
