"""Flags and the run loop shared by the zoo trainers: data -> model -> fit -> files.

A run directory holds::

  run.json                  the model and the flags that define the run (checked on resume)
  samples/epoch_NNN.png     sample grid from fixed latents, every epoch
  logs/                     TensorBoard: train/ (losses, D(x), D(G(z))), samples/
  checkpoints/epoch_NNN.keras   full model + both optimizers + RNG states, every epoch
  checkpoints/epoch_NNN_batch_BBBBB.keras   the same every --checkpoint_every batches
  best.keras, best.json     the model with the best Frechet distance so far (MNIST-like runs)
  history.csv               per-epoch metrics
  model.keras               the final model
  previous/<time>/          earlier runs moved aside by --fresh

Rerunning the same command resumes from the newest readable checkpoint (see
`kgan.checkpoint`); the data order is a function of (seed, batch), so with
--deterministic a resumed run ends with the same weights as an uninterrupted one.
"""

import csv
import datetime
import json
import os
import sys
import tempfile

import keras
import tensorflow as tf
from absl import flags

from kgan import callbacks as kgan_callbacks
from kgan import checkpoint as kgan_checkpoint
from kgan import data as kgan_data
from kgan import losses
from zoo._export import export_model
from zoo._main import run_main, write_json

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

flags.DEFINE_integer("checkpoint_every", 0,
                     "Also checkpoint every N batches within an epoch (0: at epoch ends only).", lower_bound=0)
flags.DEFINE_bool("fresh", False,
                  "Start over even if --output_dir holds a run: the old run is moved to "
                  "<output_dir>/previous/<time>/ (nothing is deleted). Without it, a run resumes.")
flags.DEFINE_bool("deterministic", False,
                  "tf.config.experimental.enable_op_determinism(): with the same --seed, runs (and resumed "
                  "runs) give bit-identical weights. Slower.")

flags.register_multi_flags_validator(
    ["batch_size", "d_steps"], lambda f: f["batch_size"] >= f["d_steps"],
    message="--batch_size must be >= --d_steps: each of the d_steps D updates takes batch_size // "
            "d_steps real images.")

DIVERGED_EXIT_CODE = 3  # training stopped on a NaN/Inf (bad arguments exit 2)
RUN_FILES = ("run.json", "model.keras", "checkpoints", "samples", "logs", "history.csv", "best.keras",
             "best.json")
# Flags that may differ when a run resumes; every other trainer flag must match run.json.
RESUMABLE_FLAGS = frozenset({
    "epochs", "verbose", "export", "export_dir", "export_name", "tflite", "serving_root", "data_dir",
    "output_dir", "fresh", "checkpoint_every", "eval_every", "eval_samples", "strategy", "jit_compile",
    "deterministic", "learning_rate", "g_learning_rate", "grid_size"})


def run_flags():
    """The trainer's flags (zoo modules and the running script) as a dict."""
    values = {}
    for module, module_flags in FLAGS.flags_by_module_dict().items():
        if module.startswith("zoo") or module == "__main__" or module.endswith(".py"):
            values.update({flag.name: flag.value for flag in module_flags})
    return values


def prepare_output_dir(output_dir, model_name, fresh, existing):
    """Makes ``output_dir`` ready for a run; says whether to resume.

    ``existing`` are the run files `check_output_dir` found (and accepted): they
    are resumed, or with ``fresh`` moved to ``previous/<time>/``.

    Returns:
      True if the run resumes.
    """
    os.makedirs(output_dir, exist_ok=True)
    resume = False
    if existing and fresh:
        archive = os.path.join(output_dir, "previous", datetime.datetime.now().strftime("%Y%m%d-%H%M%S-%f"))
        os.makedirs(archive)
        for name in existing:
            os.replace(os.path.join(output_dir, name), os.path.join(archive, name))
        print(f"--fresh: moved the previous run ({', '.join(existing)}) to {archive}.")
    elif existing:
        resume = True
    for sub in ("checkpoints", "samples", "logs"):
        os.makedirs(os.path.join(output_dir, sub), exist_ok=True)
    if not resume:
        write_json(os.path.join(output_dir, "run.json"), {"model": model_name, "flags": run_flags()})
    return resume


def check_output_dir(output_dir, model_name, fresh):
    """Read-only: refuses an --output_dir this run cannot use; returns the run files in it."""
    if os.path.exists(output_dir) and not os.path.isdir(output_dir):
        raise NotADirectoryError(f"--output_dir {output_dir} is a file, not a directory: pass another --output_dir.")
    existing = [name for name in RUN_FILES if os.path.exists(os.path.join(output_dir, name))]
    if existing and not fresh:
        _check_same_run(output_dir, model_name, existing)
    return existing


def _check_same_run(output_dir, model_name, existing):
    path = os.path.join(output_dir, "run.json")
    if not os.path.exists(path):
        raise FileExistsError(
            f"{output_dir} holds files of a run ({', '.join(existing)}) but no run.json, so it cannot be "
            "resumed safely; nothing was changed. Pass --fresh to start over (the old files are moved to "
            "previous/), or another --output_dir.")
    try:
        with open(path) as f:
            record = json.load(f)
        saved_model, saved_flags = record["model"], record["flags"]
    except (ValueError, KeyError, TypeError) as error:
        raise ValueError(f"{path} is corrupt ({error}); nothing was changed. Pass --fresh to start over (the old "
                         "run is moved to previous/), or another --output_dir.") from None
    if saved_model != model_name:
        raise ValueError(
            f"{output_dir} holds a {saved_model} run, not a {model_name} one; nothing was changed. Use another "
            f"--output_dir (or zoo.{saved_model} to resume it).")
    now = run_flags()
    conflicts = [f"--{name}={now[name]!r} (the run has {saved_flags[name]!r})"
                 for name in sorted(set(now) & set(saved_flags) - RESUMABLE_FLAGS)
                 if _normal(now[name]) != _normal(saved_flags[name])]
    if conflicts:
        raise ValueError(
            f"{output_dir} holds a run with other settings: {'; '.join(conflicts)}. Rerun with the run's "
            "settings to resume it, pass --fresh to start over (the old run is moved to previous/), or use "
            "another --output_dir. Nothing was changed.")


def _normal(value):
    return list(value) if isinstance(value, (list, tuple)) else value


def _trim_history(path, epochs_done):
    """Drops history.csv rows of epochs after the checkpoint a run resumes from (they are redone)."""
    if not os.path.exists(path):
        return
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    if not rows:
        return
    kept = [rows[0]] + [row for row in rows[1:] if row and row[0].isdigit() and int(row[0]) < epochs_done]
    if len(kept) != len(rows):
        with open(path + ".tmp", "w", newline="") as f:
            csv.writer(f).writerows(kept)
        os.replace(path + ".tmp", path)


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

    Resumes the run in --output_dir if there is one (see `prepare_output_dir`).

    Args:
      model_name: names the default run dir ``runs/<model_name>``.
      build_model: callable (image_shape, num_classes) -> an uncompiled `kgan.GAN`.
      extra_callbacks: optional callable (gan, output_dir, log_dir) -> list of
        further callbacks (e.g. latent traversal grids).
    """
    strategy, is_chief = make_strategy(FLAGS.strategy)
    run_dir = FLAGS.output_dir or os.path.join("runs", model_name)
    output_dir = run_dir
    if not is_chief:  # only the chief writes the run; the other workers write to scratch
        output_dir = tempfile.mkdtemp(prefix=f"kgan-worker-{strategy.cluster_resolver.task_id}-")
    existing = check_output_dir(output_dir, model_name, FLAGS.fresh)  # before anything is read or written
    if FLAGS.deterministic:
        tf.config.experimental.enable_op_determinism()
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
    steps_per_epoch = FLAGS.steps_per_epoch or kgan_data.batches_per_pass(
        FLAGS.dataset, "train", FLAGS.batch_size, FLAGS.data_dir)
    if steps_per_epoch < 1:
        raise ValueError(f"--batch_size={FLAGS.batch_size} is larger than the {FLAGS.dataset} train split: "
                         "pass a smaller --batch_size.")
    resume = prepare_output_dir(output_dir, model_name, FLAGS.fresh, existing) and is_chief
    with strategy.scope():
        gan = build_model((height, width, channels), spec["num_classes"])
        gan.compile(d_optimizer=adam(FLAGS.learning_rate),
                    g_optimizer=adam(FLAGS.g_learning_rate or FLAGS.learning_rate),
                    generator_loss=FLAGS.generator_loss, d_steps=FLAGS.d_steps,
                    label_smoothing=FLAGS.label_smoothing, jit_compile=FLAGS.jit_compile)
    checkpoint_dir = os.path.join(output_dir, "checkpoints")
    kgan_checkpoint.check_free_space(checkpoint_dir, 4 * kgan_checkpoint.checkpoint_bytes(gan))
    start_epoch, start_batch = 0, 0
    if resume or (not is_chief and not FLAGS.fresh):
        # Every worker restores from the chief's checkpoints (--output_dir must be shared storage).
        source = os.path.join(run_dir, "checkpoints")
        partial = kgan_checkpoint.remove_partial_files(source) if is_chief else []
        if partial:
            print(f"Removed {len(partial)} unfinished checkpoint write(s) of a killed run: {', '.join(partial)}.")
        with strategy.scope():
            restored = kgan_checkpoint.restore_latest(gan, source, log=lambda m: print(m, file=sys.stderr))
        if restored:
            start_epoch, start_batch, path = restored
            # The flags' learning rates win over the checkpoint's (they may be lowered to resume).
            gan.d_optimizer.learning_rate = FLAGS.learning_rate
            gan.g_optimizer.learning_rate = FLAGS.g_learning_rate or FLAGS.learning_rate
            if is_chief:
                print(f"Resuming {output_dir} from {path} (epoch {start_epoch} done + {start_batch} batches).")
        elif is_chief:
            print(f"Restarting {output_dir} from the beginning: it holds no checkpoint yet.")
    if (start_epoch, start_batch) >= (FLAGS.epochs, 0) and os.path.exists(os.path.join(output_dir, "model.keras")):
        print(f"{output_dir} already holds a finished run of {start_epoch} epochs; nothing to do "
              "(raise --epochs to train further, or pass --fresh to start over).")
        return output_dir
    log_dir = os.path.join(output_dir, "logs")
    history_path = os.path.join(output_dir, "history.csv")
    if is_chief:
        _trim_history(history_path, start_epoch)
    rows, cols = gan.grid_shape(FLAGS.grid_size)
    run_checkpoint = kgan_checkpoint.RunCheckpoint(checkpoint_dir, steps_per_epoch, FLAGS.checkpoint_every)
    guard = kgan_checkpoint.StopOnNonFinite(steps_per_epoch, run_checkpoint)
    callbacks = [
        guard,  # first: a non-finite batch marks the model before anything is written
        run_checkpoint,
        kgan_callbacks.SampleGrid(os.path.join(output_dir, "samples"), rows, cols, seed=FLAGS.seed,
                                  log_dir=log_dir),
        *(extra_callbacks(gan, output_dir, log_dir) if extra_callbacks else []),
        *([kgan_callbacks.EvaluationCallback(
            FLAGS.eval_every, FLAGS.eval_samples, checkpoint_path=os.path.join(output_dir, "best.keras"),
            log_dir=log_dir, dataset=FLAGS.dataset, data_dir=FLAGS.data_dir, seed=FLAGS.seed)] if evaluate else []),
        keras.callbacks.TensorBoard(log_dir),
        keras.callbacks.CSVLogger(history_path, append=True),
    ]
    verbose = FLAGS.verbose if FLAGS.verbose == "auto" else int(FLAGS.verbose)

    def fit(first_epoch, first_batch, epochs, steps):
        dataset = kgan_data.load_images(
            FLAGS.dataset, "train", batch_size=FLAGS.batch_size, image_size=FLAGS.image_size,
            with_labels=gan.conditional, data_dir=FLAGS.data_dir, seed=FLAGS.seed,
            start_batch=first_epoch * steps_per_epoch + first_batch)
        if FLAGS.strategy == "multi_worker":
            options = tf.data.Options()  # one TFRecord file per split: shard by element, not by file
            options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
            dataset = dataset.with_options(options)
        run_checkpoint.batch_offset = first_batch
        # shuffle=False: the tf.data pipeline shuffles already.
        return gan.fit(dataset, epochs=epochs, initial_epoch=first_epoch, steps_per_epoch=steps,
                       callbacks=callbacks, verbose=verbose, shuffle=False)

    history = None
    if start_batch:  # finish the interrupted epoch, then the others
        history = fit(start_epoch, start_batch, start_epoch + 1, steps_per_epoch - start_batch)
        start_epoch, start_batch = start_epoch + 1, 0
    if start_epoch < FLAGS.epochs and not kgan_checkpoint.diverged(gan):
        history = fit(start_epoch, 0, FLAGS.epochs, steps_per_epoch)
    message = kgan_checkpoint.diverged(gan)
    if message:
        raise kgan_checkpoint.TrainingDiverged(message)
    gan.save(os.path.join(output_dir, "model.keras"))
    print(f"Run saved in {output_dir}: model.keras, samples/, checkpoints/, logs/ "
          f"(tensorboard --logdir {log_dir}).")
    if FLAGS.export and is_chief:
        metrics = {name: values[-1] for name, values in history.history.items() if values} if history else None
        path = export_model(gan, FLAGS.export_name or model_name, training_epochs=FLAGS.epochs, metrics=metrics)
        print(f"Exported to {path} (TF Serving config: {os.path.join(FLAGS.export_dir, 'models.config')}).")
    return output_dir


def main_for(model_name, build_model, extra_callbacks=None):
    """Returns an absl main that trains and turns expected errors into one-line messages."""

    def main(argv):
        try:
            run_main(lambda: train(model_name, build_model, extra_callbacks), argv)
        except kgan_checkpoint.TrainingDiverged as error:
            print(f"error: {error}", file=sys.stderr)
            raise SystemExit(DIVERGED_EXIT_CODE) from None

    return main
