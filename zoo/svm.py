"""Discriminator features -> linear SVM (Radford et al. 2015, sec. 5.1), with two baselines.

  python -m zoo.svm --model runs/dcgan --labels_per_class 10 [--dataset mnist | --image_dir DIR] [--num_validation 1000]
      [--num_test 10000] [--seed 0] [--output svm.json]

Fits scikit-learn's L2-SVM (LinearSVC, squared hinge, C picked on a validation
split) on the features of --labels_per_class labelled train images per class
and prints the test accuracy for: the model's trained discriminator, a randomly
initialised discriminator of the same architecture, and raw pixels (see
kgan.svm). --model is a run directory, a .keras file or a SavedModel export
directory (its `features` signature). Needs scikit-learn.
"""

import math
import os

from absl import app, flags, logging

from zoo._main import check_output_file, model_source_exists, run_main, write_json

flags.DEFINE_string("model", None, "Run directory (with model.keras), .keras file, or export directory "
                    "(exports/<name>/<version>, or exports/<name> for the latest version).")
flags.DEFINE_integer("labels_per_class", None, "Labelled training images per class.", lower_bound=1)
flags.DEFINE_string("dataset", "mnist", "A labelled tfds image dataset (mnist, cifar10, svhn_cropped, ...; downloaded "
                    "by tfds if needed); images are cropped, resized and converted to the model's shape.")
flags.DEFINE_string("image_dir", None, "A folder with one sub-folder of images per class, instead of --dataset.")
flags.DEFINE_string("train_split", None, "Split of the labelled and validation images (default: train; train[:80%] "
                    "of an --image_dir).")
flags.DEFINE_string("test_split", None, "Split of the test images (default: test; train[80%:] of an --image_dir).")
flags.DEFINE_string("data_dir", None, "tfds data dir (default: $TFDS_DATA_DIR or ~/tensorflow_datasets).")
flags.DEFINE_integer("num_validation", 1000, "Validation images (from the train split, disjoint from the labelled "
                     "ones) used to pick C.", lower_bound=1)
flags.DEFINE_integer("num_test", 10000, "Test images (a seeded subset of the test split if it is larger).",
                     lower_bound=1)
flags.DEFINE_integer("seed", 0, "Seed of the subsets, the random discriminator and the solver.", lower_bound=0)
flags.DEFINE_list("c_grid", ["0.001", "0.01", "0.1", "1", "10", "100", "1000"],
                  "SVM C values tried (on features standardized and scaled by 1/sqrt(dim)).")
flags.DEFINE_string("output", None, "Also write the results as JSON to this file.")
flags.DEFINE_bool("overwrite", False, "Replace an existing --output file.")
FLAGS = flags.FLAGS


def run():
    try:
        c_grid = [float(c) for c in FLAGS.c_grid]
    except ValueError:
        raise ValueError(f"--c_grid must be comma-separated numbers, got {','.join(FLAGS.c_grid)!r}.") from None
    if not c_grid or not all(math.isfinite(c) and c > 0 for c in c_grid):
        raise ValueError(f"--c_grid must hold positive, finite numbers (e.g. 0.01,0.1,1), got "
                         f"{','.join(FLAGS.c_grid)!r}.")
    if FLAGS.output:
        check_output_file("--output", FLAGS.output, FLAGS.overwrite)
    if not model_source_exists(FLAGS.model):
        raise FileNotFoundError(f"--model {FLAGS.model} does not exist: pass a run directory (holding model.keras), "
                                "a .keras file or an export directory.")
    try:
        import sklearn  # noqa: F401
    except ImportError:
        raise ValueError("zoo.svm needs scikit-learn: pip install scikit-learn") from None
    from kgan import data, svm  # TensorFlow is imported only now: flag errors come back at once

    if FLAGS.image_dir and FLAGS["dataset"].present:
        raise ValueError("Pass --image_dir or --dataset, not both.")
    dataset = os.path.abspath(os.path.expanduser(FLAGS.image_dir)) if FLAGS.image_dir else FLAGS.dataset
    data.dataset_spec(dataset, FLAGS.data_dir)  # an unknown name or folder fails before the model is read
    result = svm.run_protocol(FLAGS.model, FLAGS.labels_per_class, dataset=dataset, data_dir=FLAGS.data_dir,
                              num_validation=FLAGS.num_validation, num_test=FLAGS.num_test, seed=FLAGS.seed,
                              c_grid=c_grid, train_split=FLAGS.train_split, test_split=FLAGS.test_split)
    print(svm.format_results(result))
    if FLAGS.output:
        write_json(FLAGS.output, result)
        print(f"Wrote {FLAGS.output}")


def main(argv):
    if not FLAGS["verbosity"].present:
        logging.set_verbosity(logging.WARNING)  # tfds logs every dataset it opens at INFO
    run_main(run, argv)


if __name__ == "__main__":
    flags.mark_flags_as_required(["model", "labels_per_class"])
    app.run(main)
