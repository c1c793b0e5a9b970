"""Explore a trained model's latent space: numbered samples, interpolations, latent arithmetic.

Usage::

  python -m zoo.latent --model runs/dcgan --mode samples --output_dir latent/
  python -m zoo.latent --model runs/dcgan --mode interpolate --output_dir latent/ \\
      [--rows 8] [--steps 10] [--method linear|spherical] [--seed 0]
  python -m zoo.latent --model runs/dcgan --mode arithmetic --output_dir latent/ \\
      --a 1,5,9 --b 2,3 --c 4 [--variants 8] [--noise_scale 0.25] [--seed 0]

Files written in ``--output_dir`` (their paths are printed, one per line):

- ``samples.png`` (samples): the ``--num_candidates`` candidates of seed
  ``--seed``, ``--cols`` per row, row-major; each tile shows its index above
  it. Pick ``--a/--b/--c`` for arithmetic from these (same ``--seed`` and
  ``--num_candidates``).
- ``interpolation_<method>.png`` (interpolate): ``--rows`` rows of ``--steps``
  images; row r goes from latent 2r to latent 2r+1 of seed ``--seed``.
- ``arithmetic_groups.png`` (arithmetic): rows a, b, c, each with the group's
  samples left to right and the image of the group's mean latent in the last
  column (black tiles fill shorter groups).
- ``arithmetic_result.png`` (arithmetic): mean(a) - mean(b) + mean(c) at the
  top left, then ``--variants`` copies with uniform noise of
  ``+-noise_scale`` on z, row-major in a near-square grid.

Existing PNGs are never overwritten unless ``--overwrite`` is passed.
"""

import math
import os

import numpy as np
from absl import app, flags

from zoo._main import model_source_exists, run_main

flags.DEFINE_string("model", None,
                    "A zoo run directory (holding model.keras, as zoo.dcgan leaves it), a .keras file, or an "
                    "export directory (exports/<name>[/<version>]).")
flags.DEFINE_enum("mode", "samples", ["samples", "interpolate", "arithmetic"],
                  "samples: numbered candidates to pick --a/--b/--c from; interpolate: rows of interpolations; "
                  "arithmetic: mean(a) - mean(b) + mean(c).")
flags.DEFINE_string("output_dir", None, "Folder for the PNG grids (created if missing).")
flags.DEFINE_integer("seed", 0, "Seed of the latents (candidates, interpolation ends) and of the noise.",
                     lower_bound=0)
flags.DEFINE_integer("num_candidates", 64, "samples/arithmetic: how many candidates are drawn; --a/--b/--c index "
                     "them. Use the same value (and --seed) in both modes.", lower_bound=1)
flags.DEFINE_integer("cols", 8, "samples: tiles per row.", lower_bound=1)
flags.DEFINE_integer("rows", 8, "interpolate: number of interpolations (grid rows).", lower_bound=1)
flags.DEFINE_integer("steps", 10, "interpolate: images per interpolation, both ends included.", lower_bound=2)
flags.DEFINE_enum("method", "linear", ["linear", "spherical"],
                  "interpolate: lerp or slerp on z (other latent components are interpolated linearly).")
flags.DEFINE_list("a", None, "arithmetic: candidate indices of group a, e.g. 1,5,9.")
flags.DEFINE_list("b", None, "arithmetic: candidate indices of group b (subtracted), e.g. 2,3.")
flags.DEFINE_list("c", None, "arithmetic: candidate indices of group c (added), e.g. 4.")
flags.DEFINE_integer("variants", 8, "arithmetic: noisy variants of the result.", lower_bound=0)
flags.DEFINE_float("noise_scale", 0.25, "arithmetic: half-width of the uniform noise added to z for the variants.",
                   lower_bound=0.0)
flags.DEFINE_bool("overwrite", False, "Replace existing PNGs in --output_dir.")
FLAGS = flags.FLAGS

MODE_FLAGS = {
    "samples": ("num_candidates", "cols"),
    "interpolate": ("rows", "steps", "method"),
    "arithmetic": ("num_candidates", "a", "b", "c", "variants", "noise_scale"),
}


def output_names(mode, method):
    if mode == "samples":
        return ["samples.png"]
    if mode == "interpolate":
        return [f"interpolation_{method}.png"]
    return ["arithmetic_groups.png", "arithmetic_result.png"]


def check_flags():
    """Rejects flags of another mode and unparsable groups; returns the groups (or None)."""
    own = set(MODE_FLAGS[FLAGS.mode])
    foreign = sorted({name for names in MODE_FLAGS.values() for name in names} - own)
    given = [f"--{name}" for name in foreign if FLAGS[name].present]
    if given:
        one = len(given) == 1
        raise ValueError(f"{', '.join(given)} {'is' if one else 'are'} not used with --mode={FLAGS.mode}; drop "
                         f"{'it' if one else 'them'}, or pick the mode that uses {'it' if one else 'them'} "
                         "(see --help).")
    if FLAGS.mode != "arithmetic":
        return None
    groups = {}
    for name in ("a", "b", "c"):
        values = FLAGS[name].value
        if not values:
            raise ValueError(f"--mode=arithmetic needs --{name}: comma-separated candidate indices, e.g. "
                             f"--a=1,5,9 --b=2,3 --c=4 (run --mode=samples to see the numbered candidates).")
        try:
            groups[name] = [int(v) for v in values]
        except ValueError:
            raise ValueError(f"--{name} must be comma-separated integer candidate indices like 1,5,9, got "
                             f"{','.join(values)!r}.") from None
        bad = sorted({v for v in groups[name] if not 0 <= v < FLAGS.num_candidates})
        if bad:
            raise ValueError(
                f"--{name} has indices {bad} outside 0..{FLAGS.num_candidates - 1} (--num_candidates="
                f"{FLAGS.num_candidates}): pick them from samples.png of --mode=samples with the same --seed "
                "and --num_candidates.")
    return groups


def check_outputs(output_dir, names, overwrite):
    """Returns the output paths; refuses existing files unless ``overwrite``."""
    if os.path.exists(output_dir) and not os.path.isdir(output_dir):
        raise FileExistsError(f"--output_dir {output_dir} is a file, not a folder; pass a folder.")
    paths = [os.path.join(output_dir, name) for name in names]
    existing = [path for path in paths if os.path.exists(path)]
    if existing and not overwrite:
        raise FileExistsError(f"{', '.join(existing)} already exist{'s' if len(existing) == 1 else ''}; nothing "
                              "was written. Pass --overwrite to replace, or another --output_dir.")
    return paths


def _near_square(count):
    cols = math.ceil(math.sqrt(count))
    return math.ceil(count / cols), cols


def _padded(images, total):
    blank = -np.ones((total - len(images),) + images.shape[1:], np.float32)
    return np.concatenate([images, blank])


def render(mode, gan, groups):
    """Returns the uint8 grids of ``mode``, in the order of `output_names`."""
    from kgan import images as image_utils
    from kgan import latent

    if mode == "samples":
        return [latent.numbered_sample_grid(gan, FLAGS.seed, FLAGS.num_candidates, FLAGS.cols)]
    if mode == "interpolate":
        images = latent.interpolation_grid(gan, FLAGS.rows, FLAGS.steps, FLAGS.seed, FLAGS.method)
        return [image_utils.image_grid(images, FLAGS.rows, FLAGS.steps)]
    result = latent.latent_arithmetic(gan, groups["a"], groups["b"], groups["c"], seed=FLAGS.seed,
                                      num_candidates=FLAGS.num_candidates, variants=FLAGS.variants,
                                      noise_scale=FLAGS.noise_scale)
    width = max(len(group) for group in groups.values())
    rows = [np.concatenate([_padded(result[f"{name}_images"], width), result["mean_images"][i:i + 1]])
            for i, name in enumerate("abc")]
    groups_grid = image_utils.image_grid(np.concatenate(rows), 3, width + 1)
    grid_rows, grid_cols = _near_square(len(result["result_images"]))
    result_grid = image_utils.image_grid(_padded(result["result_images"], grid_rows * grid_cols),
                                         grid_rows, grid_cols)
    return [groups_grid, result_grid]


def run():
    groups = check_flags()
    paths = check_outputs(FLAGS.output_dir, output_names(FLAGS.mode, FLAGS.method), FLAGS.overwrite)
    if not model_source_exists(FLAGS.model):
        raise FileNotFoundError(f"--model {FLAGS.model} does not exist: pass a zoo run directory (holding "
                                "model.keras), a .keras file or an export directory (exports/<name>[/<version>]).")
    # TensorFlow is imported only now, so flag, path and overwrite errors come back at once.
    from kgan import images as image_utils
    from kgan import latent

    gan = latent.load_gan(FLAGS.model)
    grids = render(FLAGS.mode, gan, groups)
    for path, grid in zip(paths, grids):
        image_utils.save_png(path, grid)
        print(path)


def main(argv):
    run_main(run, argv)


if __name__ == "__main__":
    flags.mark_flags_as_required(["model", "output_dir"])
    app.run(main)
