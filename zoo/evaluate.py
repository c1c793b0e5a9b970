"""Score trained models with the shipped MNIST classifier: a metric table + JSON.

  python -m zoo.evaluate runs/dcgan [exports/cgan ...] [--num_samples 10000] [--seed 0]
      [--output evaluation.json] [--overwrite] [--noreference] [--data_dir DIR]

Each positional argument is a model: a zoo run directory (holding model.keras),
a .keras file, or a SavedModel export directory (exports/<name>/<version>, or
exports/<name> for its latest version). Prints one row per model, after a
reference row of real MNIST train images scored the same way (skip it with
--noreference): classifier score, Frechet distance, precision/recall (k=3),
density/coverage (k=5) against the real test images, plus CGAN label accuracy
and InfoGAN code->class accuracy, with the sample sizes (see kgan.evaluation).
The results (every number with its sample sizes) go to --output as JSON.
"""

import os
import time

from absl import app, flags, logging

from zoo._main import check_output_file, run_main, write_json

flags.DEFINE_integer("num_samples", 10000, "Generated samples per model (and real train images of the reference "
                     "row); Frechet distances are only comparable at equal sizes.", lower_bound=6)
flags.DEFINE_integer("num_real", None, "Real test images (default: min(--num_samples, the test split)).",
                     lower_bound=6)
flags.DEFINE_integer("seed", 0, "Seed of the samples and of the real subsets.", lower_bound=0)
flags.DEFINE_string("data_dir", None, "tfds data dir holding MNIST (default: $TFDS_DATA_DIR or "
                    "~/tensorflow_datasets).")
flags.DEFINE_string("output", "evaluation.json", "JSON file for the results.")
flags.DEFINE_bool("overwrite", False, "Replace an existing --output file.")
flags.DEFINE_bool("reference", True, "Also score real train images against the real test images (printed first).")
FLAGS = flags.FLAGS


def run(paths):
    if not paths:
        raise ValueError("Pass at least one model: python -m zoo.evaluate <run_dir | .keras file | export_dir> ...")
    missing = [path for path in paths if not os.path.exists(path)]
    if missing:
        raise FileNotFoundError(f"{', '.join(missing)} do{'es' if len(missing) == 1 else ''} not exist: pass zoo "
                                "run directories (holding model.keras), .keras files or export directories.")
    check_output_file("--output", FLAGS.output, FLAGS.overwrite)
    # TensorFlow is imported only now, so argument errors come back at once.
    from kgan import evaluation

    start = time.time()
    # Every model is opened (and its image shape checked) before any data is read or scored, so a bad
    # path fails at once instead of after the reference row.
    samplers = [evaluation.open_sampler(path) for path in paths]
    for sampler in samplers:
        evaluation.check_image_shape(sampler.image_shape, f"The model {sampler.description}")
    results = []
    if FLAGS.reference:
        results.append(evaluation.reference_metrics(FLAGS.num_samples, FLAGS.data_dir, FLAGS.seed,
                                                    num_real=FLAGS.num_real))
    for sampler in samplers:
        results.append(evaluation.evaluate(sampler, FLAGS.num_samples, FLAGS.seed, FLAGS.data_dir,
                                           num_real=FLAGS.num_real))
    print(evaluation.format_table(results))
    report = {"num_samples": FLAGS.num_samples, "seed": FLAGS.seed, "real_data": "mnist test split",
              "classifier": "kgan.classifier (shipped MNIST classifier)", "results": results,
              "wall_time_s": time.time() - start}
    write_json(FLAGS.output, report)
    print(f"Wrote {FLAGS.output} ({time.time() - start:.1f} s)")


def main(argv):
    if not FLAGS["verbosity"].present:
        logging.set_verbosity(logging.WARNING)  # tfds logs every dataset it opens at INFO
    run_main(run, argv, positional=True)


if __name__ == "__main__":
    app.run(main)
