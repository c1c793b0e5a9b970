"""Imports raw MNIST / Fashion-MNIST IDX files into a tfds data dir, offline.

Usage:
  python -m zoo.import_data --dataset mnist --source_dir ../shared/datasets/mnist \
      [--data_dir DIR] [--overwrite] [--noverify_checksums]

Afterwards `tfds.load("mnist", data_dir=DIR)` (and `kgan.data.load_images`)
read the dataset without any network access.
"""

import os

from absl import app, flags, logging

from zoo._choices import IDX_DATASETS
from zoo._main import run_main

FLAGS = flags.FLAGS
flags.DEFINE_enum("dataset", "mnist", list(IDX_DATASETS), "Dataset to import.")
flags.DEFINE_string(
    "source_dir", None,
    "Directory with train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, "
    "t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz.")
flags.DEFINE_string(
    "data_dir", None,
    "tfds data dir to import into (default: $TFDS_DATA_DIR or ~/tensorflow_datasets).")
flags.DEFINE_bool("overwrite", False, "Replace the dataset if it is already prepared.")
flags.DEFINE_bool(
    "verify_checksums", True,
    "Check md5 of the uncompressed files against the official MNIST values.")
flags.mark_flag_as_required("source_dir")


def run():
    import tensorflow_datasets as tfds  # TensorFlow's start-up only after the flags are checked

    from kgan import data

    if not FLAGS["verbosity"].present:  # tfds logs a lot at INFO; -v 0 shows it
        logging.set_verbosity(logging.WARNING)
        tfds.disable_progress_bar()
    data_dir = os.path.abspath(os.path.expanduser(FLAGS.data_dir or data.default_data_dir()))
    if os.path.exists(data_dir) and not os.path.isdir(data_dir):
        raise NotADirectoryError(f"--data_dir {data_dir} is a file; pass a directory (the tfds data dir).")
    existed = data.is_prepared(FLAGS.dataset, data_dir)
    path = data.import_idx_dataset(
        FLAGS.dataset,
        source_dir=FLAGS.source_dir,
        data_dir=data_dir,
        verify_checksums=FLAGS.verify_checksums,
        overwrite=FLAGS.overwrite,
    )
    if existed and not FLAGS.overwrite:
        print(f"{FLAGS.dataset} is already prepared at {path} (nothing done; "
              "pass --overwrite to re-import).")
    else:
        print(f"Imported {FLAGS.dataset} into {path}")
    print(f'Use it with: tfds.load("{FLAGS.dataset}", data_dir="{data_dir}") '
          f'or kgan.data.load_images("{FLAGS.dataset}", data_dir="{data_dir}")')


def main(argv):
    # Expected, user-fixable errors (missing/corrupt files, bad checksums): one "error:" line, exit 2.
    run_main(run, argv)


if __name__ == "__main__":
    app.run(main)
