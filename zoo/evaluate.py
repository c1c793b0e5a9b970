"""Score trained models: the shipped MNIST classifier for 28x28x1, InceptionV3 (FID, KID, IS) for any images.

  python -m zoo.evaluate runs/dcgan [exports/cgan ...] [--num_samples 10000] [--seed 0]
      [--output evaluation.json] [--overwrite] [--noreference] [--data_dir DIR]
      [--dataset NAME | --image_dir DIR] [--split test] [--feature_extractor auto|classifier|inception]
      [--inception_weights imagenet|PATH|random]

Each positional argument is a model: a zoo run directory (holding model.keras),
a .keras file, or a SavedModel export directory (exports/<name>/<version>, or
exports/<name> for its latest version). Prints one row per model, after a
reference row of real MNIST train images scored the same way (skip it with
--noreference): classifier score, Frechet distance, precision/recall (k=3),
density/coverage (k=5) against the real test images, plus CGAN label accuracy
and InfoGAN code->class accuracy, with the sample sizes (see kgan.evaluation).
Models of other image shapes (or --feature_extractor inception) are scored on
InceptionV3 features against the --dataset / --image_dir images (cropped and
resized to the model's size): Inception Score, FID, KID, precision/recall,
density/coverage. The results (every number with its sample sizes and feature
network) go to --output as JSON.
"""

import os
import time

from absl import app, flags, logging

from zoo._main import check_output_file, model_source_exists, run_main, write_json

flags.DEFINE_integer("num_samples", 10000, "Generated samples per model (and real train images of the reference "
                     "row); Frechet distances are only comparable at equal sizes.", lower_bound=6)
flags.DEFINE_integer("num_real", None, "Real test images (default: min(--num_samples, the test split)).",
                     lower_bound=6)
flags.DEFINE_integer("seed", 0, "Seed of the samples and of the real subsets.", lower_bound=0)
flags.DEFINE_string("data_dir", None, "tfds data dir (default: $TFDS_DATA_DIR or ~/tensorflow_datasets).")
flags.DEFINE_string("dataset", "mnist", "The real images: a tfds dataset (downloaded by tfds if needed).")
flags.DEFINE_string("image_dir", None, "The real images: a folder of images, instead of --dataset.")
flags.DEFINE_string("split", None, "Split of the real images (default: test; train where there is none, e.g. a "
                    "folder).")
flags.DEFINE_enum("feature_extractor", "auto", ["auto", "classifier", "inception"],
                  "auto: the shipped MNIST classifier for 28x28x1 images, InceptionV3 for any other.")
flags.DEFINE_string("inception_weights", "imagenet", "InceptionV3 weights: imagenet (downloaded once and cached by "
                    "Keras in ~/.keras/models), a local weights file, or random (tests only: meaningless numbers).")
flags.DEFINE_string("output", "evaluation.json", "JSON file for the results.")
flags.DEFINE_bool("overwrite", False, "Replace an existing --output file.")
flags.DEFINE_bool("reference", True, "Also score real train images against the real test images (printed first).")
FLAGS = flags.FLAGS


def run(paths):
    if not paths:
        raise ValueError("Pass at least one model: python -m zoo.evaluate <run_dir | .keras file | export_dir> ...")
    missing = [path for path in paths if not model_source_exists(path)]
    if missing:
        raise FileNotFoundError(f"{', '.join(missing)} do{'es' if len(missing) == 1 else ''} not exist: pass zoo "
                                "run directories (holding model.keras), .keras files or export directories.")
    check_output_file("--output", FLAGS.output, FLAGS.overwrite)
    # TensorFlow is imported only now, so argument errors come back at once.
    from kgan import data, evaluation

    start = time.time()
    # Every model is opened (and its image shape checked) before any data is read or scored, so a bad
    # path fails at once instead of after the reference row.
    if FLAGS.image_dir and FLAGS["dataset"].present:
        raise ValueError("Pass --image_dir or --dataset, not both.")
    dataset = os.path.abspath(os.path.expanduser(FLAGS.image_dir)) if FLAGS.image_dir else FLAGS.dataset
    weights = None if FLAGS.inception_weights == "random" else os.path.expanduser(FLAGS.inception_weights)
    samplers = [evaluation.open_sampler(path) for path in paths]
    for sampler in samplers:
        extractor = evaluation.extractors.default_extractor(sampler.image_shape, FLAGS.feature_extractor, weights)
        extractor.check(sampler.image_shape, f"The model {sampler.description}")
    options = {"feature_extractor": FLAGS.feature_extractor, "inception_weights": weights, "split": FLAGS.split,
               "num_real": FLAGS.num_real}
    split = FLAGS.split or data.default_test_split(dataset, FLAGS.data_dir)
    results = []
    if FLAGS.reference and split.split("[")[0] == "train":
        print(f"No reference row: the real images are {dataset}'s {split} split, so there are no other real "
              "images to score against them.")
    elif FLAGS.reference:
        results.append(evaluation.reference_metrics(FLAGS.num_samples, FLAGS.data_dir, FLAGS.seed, dataset,
                                                    image_shape=samplers[0].image_shape, **options))
    for sampler in samplers:
        results.append(evaluation.evaluate(sampler, FLAGS.num_samples, FLAGS.seed, FLAGS.data_dir, dataset,
                                           **options))
    print(evaluation.format_table(results))
    report = {"num_samples": FLAGS.num_samples, "seed": FLAGS.seed, "real_data": f"{dataset} {split}",
              "feature_extractors": sorted({result["feature_extractor"] for result in results}),
              "results": results, "wall_time_s": time.time() - start}
    write_json(FLAGS.output, report)
    print(f"Wrote {FLAGS.output} ({time.time() - start:.1f} s)")


def main(argv):
    if not FLAGS["verbosity"].present:
        logging.set_verbosity(logging.WARNING)  # tfds logs every dataset it opens at INFO
    run_main(run, argv, positional=True)


if __name__ == "__main__":
    app.run(main)
