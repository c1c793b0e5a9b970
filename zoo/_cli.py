"""Flags and the run loop shared by the zoo trainers: data -> model -> fit -> files.

A run directory holds::

  samples/epoch_NNN.png     sample grid from fixed latents, every epoch
  logs/                     TensorBoard: train/ (losses, D(x), D(G(z))), samples/
  checkpoints/epoch_NNN.keras   full model + both optimizers, every epoch
  best.keras, best.json     the model with the best Frechet distance so far (MNIST-like runs)
  history.csv               per-epoch metrics
  model.keras               the final model
"""

import os
import tempfile

import keras
import tensorflow as tf
from absl import flags

from kgan import callbacks as kgan_callbacks
from kgan import data as kgan_data
from kgan import losses
from zoo._export import export_model
from zoo._main import run_main

FLAGS = flags.FLAGS

flags.DEFINE_enum("dataset", "mnist", kgan_data.SUPPORTED_DATASETS, "tfds dataset to train on.")
flags.DEFINE_string("data_dir", None, "tfds data dir (default: $TFDS_DATA_DIR or ~/tensorflow_datasets).")
flags.DEFINE_string("output_dir", None, "Run directory (default: runs/<model>).")
flags.DEFINE_integer("epochs", 25, "Training epochs.", lower_bound=1)
flags.DEFINE_integer("batch_size", 128, "Real images per fit batch (split over the d_steps D updates).",
                     lower_bound=1)
flags.DEFINE_integer("steps_per_epoch", None, "Batches per epoch (default: one pass over the data).",
                     lower_bound=1)
flags.DEFINE_integer("image_size", None, "Resize images to this square size (default: the dataset's).",
                     lower_bound=4)
flags.DEFINE_integer("latent_dim", 100, "Size of z.", lower_bound=1)
flags.DEFINE_integer("d_steps", 1, "k: discriminator updates per generator update.", lower_bound=1)
flags.DEFINE_enum("generator_loss", "non_saturating", sorted(losses.GENERATOR_LOSSES),
                  "non_saturating: -log D(G(z)); minimax: log(1 - D(G(z))).")
flags.DEFINE_float("label_smoothing", 0.0, "One-sided smoothing of D's real targets.",
                   lower_bound=0.0, upper_bound=0.999)
flags.DEFINE_float("learning_rate", 2e-4, "Adam learning rate of D (and of G unless --g_learning_rate).",
                   lower_bound=1e-12)
flags.DEFINE_float("g_learning_rate", None, "Adam learning rate of G (default: --learning_rate).",
                   lower_bound=1e-12)
flags.DEFINE_float("beta_1", 0.5, "Adam beta_1 of both networks.", lower_bound=0.0, upper_bound=0.999)
flags.DEFINE_integer("seed", 0, "Seed of weights, data order, noise and the sample grid.", lower_bound=0)
flags.DEFINE_integer("grid_size", 8, "The sample grid is grid_size x grid_size.", lower_bound=1)
flags.DEFINE_enum("verbose", "auto", ["auto", "0", "1", "2"], "Keras fit verbosity (1: progress bar).")
flags.DEFINE_bool("export", True, "Export the trained model to --export_dir at the end.")
flags.DEFINE_enum("precision", "float32", ["float32", "mixed_bfloat16", "mixed_float16"],
                  "Keras dtype policy: mixed_bfloat16 is the CPU (AMX) win, mixed_float16 is for GPUs "
                  "(with loss scaling). Output layers stay float32; exports are float32.")
flags.DEFINE_enum("strategy", "default", ["default", "mirrored", "multi_worker"],
                  "tf.distribute strategy: mirrored = all local GPUs; multi_worker reads TF_CONFIG. "
                  "--batch_size is the global batch.")
flags.DEFINE_bool("jit_compile", False, "XLA-compile the train step (slower on CPU here; try it on GPUs).")
flags.DEFINE_integer("eval_every", 1,
                     "Every N epochs score samples with the shipped MNIST classifier (Frechet distance, classifier "
                     "score; 28x28x1 only), log them to TensorBoard logs/evaluation/ and keep the best model by "
                     "Frechet distance as best.keras (0: off).", lower_bound=0)
flags.DEFINE_integer("eval_samples", 2000, "Generated images per --eval_every evaluation.", lower_bound=6)

flags.register_multi_flags_validator(
    ["batch_size", "d_steps"], lambda f: f["batch_size"] >= f["d_steps"],
    message="--batch_size must be >= --d_steps: each of the d_steps D updates takes batch_size // "
            "d_steps real images.")

RUN_FILES = ("model.keras", "checkpoints", "samples", "logs", "history.csv", "best.keras", "best.json")


def check_output_dir(output_dir):
    """Refuses a directory that already holds a run, so nothing saved is overwritten."""
    existing = [name for name in RUN_FILES if os.path.exists(os.path.join(output_dir, name))]
    if existing:
        raise FileExistsError(
            f"{output_dir} already holds a run ({', '.join(existing)}); nothing was changed. "
            "Pass a new --output_dir, or move the old run away.")
    for sub in ("", "checkpoints", "samples", "logs"):
        os.makedirs(os.path.join(output_dir, sub), exist_ok=True)
    if not os.access(output_dir, os.W_OK):
        raise PermissionError(f"Cannot write to --output_dir {output_dir}.")


def make_strategy(name):
    """The tf.distribute strategy for --strategy; returns (strategy, is_chief)."""
    if name == "default":
        return tf.distribute.get_strategy(), True
    if name == "mirrored":
        return tf.distribute.MirroredStrategy(), True
    if "TF_CONFIG" not in os.environ:
        raise ValueError("--strategy=multi_worker needs the TF_CONFIG environment variable "
                         "(cluster and task; see README, 'Training on several machines').")
    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    resolver = strategy.cluster_resolver
    jobs = resolver.cluster_spec().jobs
    is_chief = resolver.task_type == "chief" or (
        resolver.task_type == "worker" and resolver.task_id == 0 and "chief" not in jobs)
    return strategy, is_chief


def adam(learning_rate):
    return keras.optimizers.Adam(learning_rate, beta_1=FLAGS.beta_1)


def train(model_name, build_model, extra_callbacks=None):
    """Trains ``build_model(image_shape, num_classes)`` with the flags' settings; returns the run dir.

    Args:
      model_name: names the default run dir ``runs/<model_name>``.
      build_model: callable (image_shape, num_classes) -> an uncompiled `kgan.GAN`.
      extra_callbacks: optional callable (gan, output_dir, log_dir) -> list of
        further callbacks (e.g. latent traversal grids).
    """
    strategy, is_chief = make_strategy(FLAGS.strategy)
    output_dir = FLAGS.output_dir or os.path.join("runs", model_name)
    if not is_chief:  # only the chief writes the run; the other workers write to scratch
        output_dir = tempfile.mkdtemp(prefix=f"kgan-worker-{strategy.cluster_resolver.task_id}-")
    check_output_dir(output_dir)
    keras.utils.set_random_seed(FLAGS.seed)
    keras.config.set_dtype_policy(FLAGS.precision)
    spec = kgan_data.dataset_spec(FLAGS.dataset, FLAGS.data_dir)
    height, width, channels = spec["image_shape"]
    if FLAGS.image_size:
        height = width = FLAGS.image_size
    score_images = (height, width, channels) == (28, 28, 1)
    if FLAGS["eval_every"].present and FLAGS.eval_every and not score_images:
        raise ValueError(
            f"--eval_every scores 28x28x1 images with the shipped MNIST classifier; this run makes "
            f"{height}x{width}x{channels} images. Pass --eval_every=0.")
    evaluate = FLAGS.eval_every > 0 and score_images and (FLAGS.dataset == "mnist" or FLAGS["eval_every"].present)
    with strategy.scope():
        gan = build_model((height, width, channels), spec["num_classes"])
        gan.compile(d_optimizer=adam(FLAGS.learning_rate),
                    g_optimizer=adam(FLAGS.g_learning_rate or FLAGS.learning_rate),
                    generator_loss=FLAGS.generator_loss, d_steps=FLAGS.d_steps,
                    label_smoothing=FLAGS.label_smoothing, jit_compile=FLAGS.jit_compile)
    dataset = kgan_data.load_images(
        FLAGS.dataset, "train", batch_size=FLAGS.batch_size, image_size=FLAGS.image_size,
        with_labels=gan.conditional, data_dir=FLAGS.data_dir, seed=FLAGS.seed)
    if FLAGS.strategy == "multi_worker":
        options = tf.data.Options()  # one TFRecord file per split: shard by element, not by file
        options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
        dataset = dataset.with_options(options)
    log_dir = os.path.join(output_dir, "logs")
    rows, cols = gan.grid_shape(FLAGS.grid_size)
    callbacks = [
        kgan_callbacks.SampleGrid(os.path.join(output_dir, "samples"), rows, cols, seed=FLAGS.seed,
                                  log_dir=log_dir),
        *(extra_callbacks(gan, output_dir, log_dir) if extra_callbacks else []),
        *([kgan_callbacks.EvaluationCallback(
            FLAGS.eval_every, FLAGS.eval_samples, checkpoint_path=os.path.join(output_dir, "best.keras"),
            log_dir=log_dir, dataset=FLAGS.dataset, data_dir=FLAGS.data_dir, seed=FLAGS.seed)] if evaluate else []),
        keras.callbacks.TensorBoard(log_dir),
        keras.callbacks.ModelCheckpoint(os.path.join(output_dir, "checkpoints", "epoch_{epoch:03d}.keras")),
        keras.callbacks.CSVLogger(os.path.join(output_dir, "history.csv")),
        keras.callbacks.TerminateOnNaN(),
    ]
    verbose = FLAGS.verbose if FLAGS.verbose == "auto" else int(FLAGS.verbose)
    # shuffle=False: the tf.data pipeline shuffles already.
    history = gan.fit(dataset, epochs=FLAGS.epochs, steps_per_epoch=FLAGS.steps_per_epoch, callbacks=callbacks,
                      verbose=verbose, shuffle=False)
    gan.save(os.path.join(output_dir, "model.keras"))
    print(f"Run saved in {output_dir}: model.keras, samples/, checkpoints/, logs/ "
          f"(tensorboard --logdir {log_dir}).")
    if FLAGS.export and is_chief:
        metrics = {name: values[-1] for name, values in history.history.items() if values}
        path = export_model(gan, FLAGS.export_name or model_name, training_epochs=FLAGS.epochs, metrics=metrics)
        print(f"Exported to {path} (TF Serving config: {os.path.join(FLAGS.export_dir, 'models.config')}).")
    return output_dir


def main_for(model_name, build_model, extra_callbacks=None):
    """Returns an absl main that trains and turns expected errors into one-line messages."""

    def main(argv):
        run_main(lambda: train(model_name, build_model, extra_callbacks), argv)

    return main
