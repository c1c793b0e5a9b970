"""Trains the MNIST classifier shipped in kgan/assets/ (used to score GAN samples).

Usage (from the repository root):
  python bench/train_mnist_classifier.py [--epochs 3] [--seed 0] \
      [--output kgan/assets/mnist_classifier.weights.h5] [--data_dir DIR]

Trains `kgan.classifier.build_mnist_classifier()` on the MNIST train split
(Adam, cosine-decayed learning rate), seeded and with TF op determinism so a
rerun with the same flags on the same machine/TF version gives the same weights,
evaluates on the test split, prints the test accuracy and writes the weights
(only if the accuracy reaches --min_accuracy; the file is replaced atomically).

MNIST must be imported first (no downloads):
  python -m zoo.import_data --dataset mnist --source_dir ../shared/datasets/mnist
"""

import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# Run as a script (`python bench/...`): make the repository's kgan importable.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402
from absl import app, flags  # noqa: E402

from kgan import classifier, data  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_integer("epochs", 3, "Training epochs.", lower_bound=1)
flags.DEFINE_integer("seed", 0, "Seed of weights, dropout and data order.", lower_bound=0)
flags.DEFINE_string("output", classifier.default_weights_path(),
                    "Where to write the weights (must end in .weights.h5).")
flags.DEFINE_string("data_dir", None, "tfds data dir (default: $TFDS_DATA_DIR or ~/tensorflow_datasets).")
flags.DEFINE_integer("batch_size", 128, "Training batch size.", lower_bound=1)
flags.DEFINE_float("learning_rate", 1e-3, "Initial Adam learning rate (cosine-decayed to 0).",
                   lower_bound=1e-12)
flags.DEFINE_float("min_accuracy", 0.99, "Do not write weights whose test accuracy is below this.",
                   lower_bound=0.0, upper_bound=1.0)
flags.DEFINE_enum("verbose", "2", ["0", "1", "2"], "Keras fit verbosity (1: progress bar).")


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {' '.join(argv[1:])}")
    output = os.path.abspath(os.path.expanduser(FLAGS.output))
    if not output.endswith(".weights.h5"):
        raise app.UsageError(f"--output must end in .weights.h5, got {FLAGS.output}")
    keras.utils.set_random_seed(FLAGS.seed)
    tf.config.experimental.enable_op_determinism()

    try:
        train = data.load_images("mnist", split="train", batch_size=FLAGS.batch_size, with_labels=True,
                                 data_dir=FLAGS.data_dir, shuffle=True, seed=FLAGS.seed,
                                 drop_remainder=True)
        test = data.load_images("mnist", split="test", batch_size=500, with_labels=True,
                                data_dir=FLAGS.data_dir, shuffle=False, drop_remainder=False)
        num_train = data.dataset_spec("mnist", FLAGS.data_dir)["num_examples"]["train"]
    except data.DataNotFoundError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    steps_per_epoch = num_train // FLAGS.batch_size

    model = classifier.build_mnist_classifier()
    schedule = keras.optimizers.schedules.CosineDecay(FLAGS.learning_rate, FLAGS.epochs * steps_per_epoch)
    model.compile(
        optimizer=keras.optimizers.Adam(schedule),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
    )
    print(f"Training {model.name} ({model.count_params():,} parameters) for {FLAGS.epochs} epochs "
          f"x {steps_per_epoch} steps, seed {FLAGS.seed}", flush=True)
    start = time.time()
    model.fit(train, epochs=FLAGS.epochs, verbose=int(FLAGS.verbose))
    train_s = time.time() - start
    _, accuracy = model.evaluate(test, verbose=0)
    print(f"Test accuracy: {accuracy:.4f} ({(1 - accuracy) * 10000:.0f} errors / 10000); "
          f"training took {train_s:.0f} s", flush=True)
    if accuracy < FLAGS.min_accuracy:
        print(f"error: test accuracy {accuracy:.4f} < --min_accuracy {FLAGS.min_accuracy}; "
              f"{output} was not written.", file=sys.stderr)
        return 1

    os.makedirs(os.path.dirname(output), exist_ok=True)
    tmp = output[: -len(".weights.h5")] + ".tmp.weights.h5"
    # A compiled model's save_weights also stores the optimizer state (2x the
    # size); ship the model variables only.
    shipped = classifier.build_mnist_classifier()
    shipped.set_weights(model.get_weights())
    shipped.save_weights(tmp)
    os.replace(tmp, output)
    print(f"Wrote {output} ({os.path.getsize(output) / 1e6:.2f} MB)")
    return 0


if __name__ == "__main__":
    app.run(main)
