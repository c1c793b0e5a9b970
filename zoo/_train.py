"""The zoo's training run, in named steps that take the frozen `RunConfig`: data -> model -> fit -> files.

A run directory is laid out as `kgan.training.RunLayout` says. Rerunning the
same command resumes from the newest readable checkpoint (see
`kgan.training.checkpoint`); the data order is a function of (seed, batch), so
with --deterministic a resumed run ends with the same weights as an
uninterrupted one.
"""

import contextlib
import dataclasses
import datetime
import json
import os
import sys
import tempfile

import keras
import tensorflow as tf

from kgan import preset
from kgan.checks import one_line, set_aside, write_json_atomic
from kgan.data import pipeline
from kgan.evaluation import extractors
from kgan.evaluation.callbacks import EvaluationCallback
from kgan.serving import saved_model
from kgan.serving.reader import load_keras_gan
from kgan.training import checkpoint
from kgan.training.callbacks import HistoryCSV, SampleGrid, read_history, write_history
from kgan.training.layout import RunLayout
from kgan.training.lock import Claim
from kgan.training.state import TrainingState
from zoo._export import export_model

DEFAULT_HOLDOUT = 5000


@dataclasses.dataclass(frozen=True)
class DataPlan:
    """What the run trains on and selects with."""

    image_shape: tuple
    num_classes: int
    train_split: str
    steps_per_epoch: int
    evaluate: bool
    selection_split: str = None
    selection_size: int = 0
    image_size: int = None


class TrainingInterrupted(Exception):
    """Training was stopped by Ctrl-C (SIGINT); the run resumes from its last checkpoint."""


def train(config, build_model, extra_callbacks=None):
    """Trains ``build_model(config, image_shape, num_classes)`` as ``config`` says; returns the run directory.

    Args:
      config: the `RunConfig`.
      build_model: ``(config, image_shape, num_classes) -> an uncompiled kgan.GAN``.
      extra_callbacks: optional ``(config, gan, run, state) -> [callbacks]`` (e.g. code traversal grids).
    """
    strategy, is_chief = make_strategy(config.strategy)
    run = RunLayout(config.output_dir)
    if not is_chief:  # only the chief writes the run; the other workers write to scratch
        run = RunLayout(tempfile.mkdtemp(prefix=f"kgan-worker-{strategy.cluster_resolver.task_id}-"))
    check_paths(config, run)  # read-only, before anything is read or written
    check_output_dir(run, config)  # and again once the run is claimed: another process may have changed it
    if config.deterministic:
        tf.config.experimental.enable_op_determinism()
    keras.utils.set_random_seed(config.seed)
    if config.conditioning != "concat" and config.model != "cgan":
        raise ValueError(f"--conditioning {config.conditioning} is for the conditional trainer (python -m zoo.cgan); "
                         f"zoo.{config.model} is unconditional.")
    plan = plan_data(config)
    gan = build_and_compile(config, build_model, plan, strategy)
    initial = initial_weights(config, gan)  # read and checked before the run directory is touched
    if config.export and is_chief:
        saved_model.check_export_target(config.export_dir, config.export_name or config.model, gan.contract.family,
                                        replace_family=config.replace_family)
    with claim_run(run, "training" if not config.fresh else "training (--fresh)", is_chief):
        existing = check_output_dir(run, config)
        checkpoint.check_free_space(run.root, 4 * checkpoint.checkpoint_bytes(gan))
        resume = prepare_output_dir(run, config, existing) and is_chief
        start_epoch, start_batch = 0, 0
        if resume or (not is_chief and not config.fresh):
            start_epoch, start_batch = restore(config, gan, RunLayout(config.output_dir), strategy, is_chief)
        if initial and (start_epoch, start_batch) == (0, 0):
            for network, weights in initial:
                network.set_weights(weights)
            print(f"Initialized the networks from {config.init_from}.")
        if (start_epoch, start_batch) >= (config.epochs, 0) and (os.path.exists(run.model) or not is_chief):
            finish_finished_run(config, gan, run, start_epoch, is_chief)
            return run.root
        if is_chief:
            _trim_history(run.history, start_epoch)
        state = TrainingState(batch_offset=start_batch)
        callbacks = make_callbacks(config, gan, run, plan, state, extra_callbacks)
        try:
            history = fit(config, gan, plan, callbacks, state, start_epoch, start_batch)
        except KeyboardInterrupt:
            raise TrainingInterrupted(
                f"interrupted at epoch {state.epoch + 1} batch {state.batches_in_epoch}; {state.last_good()}. Rerun "
                "the same command to resume.") from None
        except tf.errors.DataLossError as error:
            raise ValueError(
                f"The {config.dataset} data files are corrupt ({one_line(error, 200)}); re-import them (python -m "
                f"zoo.import_data --dataset {config.dataset} --source_dir DIR --overwrite) or re-prepare them with "
                "tfds. The run resumes from its last checkpoint once the data reads again.") from None
        if state.diverged:
            raise checkpoint.TrainingDiverged(state.diverged)
        finish(config, gan, run, history, is_chief, config.epochs)
    return run.root


@contextlib.contextmanager
def claim_run(run, purpose, is_chief):
    """Holds the run directory's lock (the chief only); a directory created here and left empty is removed."""
    if not is_chief:
        yield None
        return
    created = not os.path.exists(run.root)
    os.makedirs(run.root, exist_ok=True)
    claim = Claim(run.lock, purpose, what=f"The run directory {run.root}")
    try:
        with claim:
            if claim.taken_over:
                print(f"Took over {run.lock} from pid {claim.taken_over.get('pid')}, which is gone.", file=sys.stderr)
            yield claim
    finally:
        if created and os.path.isdir(run.root) and not os.listdir(run.root):
            os.rmdir(run.root)


def check_paths(config, run):
    """Read-only checks of the run and export paths: no file where a folder goes, no run inside an export."""
    if os.path.exists(run.root) and not os.path.isdir(run.root):
        raise NotADirectoryError(f"--output_dir {run.root} is a file, not a directory: pass another --output_dir.")
    inside = saved_model.enclosing_export(run.root)
    if inside is not None:
        raise ValueError(f"--output_dir {run.root} is inside the export {inside}: run files would be written into "
                         "served models. Pass an --output_dir outside the export tree.")


def finish_finished_run(config, gan, run, epochs, is_chief):
    """A rerun of a finished run: repairs a damaged model.keras and exports if an asked-for export is missing."""
    if not is_chief:
        return
    done = []
    try:
        checkpoint.verify(run.model)
    except checkpoint.CorruptCheckpointError as error:
        aside = set_aside(run.model)
        checkpoint.save_atomic(gan, run.model)  # gan holds the newest good checkpoint (epoch `epochs`)
        print(f"{error}: kept as {aside}; rebuilt model.keras from the last good checkpoint.", file=sys.stderr)
        done.append("rebuilt model.keras")
    if config.export and not _export_recorded(run):
        finish(config, gan, run, None, is_chief, epochs, save_model=False)
        done.append("exported it (the run had no export)")
    if done:
        print(f"{run.root} holds a finished run of {epochs} epochs: {', '.join(done)}.")
    else:
        print(f"{run.root} already holds a finished run of {epochs} epochs; nothing to do "
              "(raise --epochs to train further, or pass --fresh to start over).")


def _export_recorded(run):
    try:
        with open(run.export_record) as f:
            return os.path.isdir(json.load(f)["path"])
    except (OSError, ValueError, KeyError, TypeError):
        return False


# ---- the steps ---------------------------------------------------------------------------

def make_strategy(name):
    """The tf.distribute strategy for --strategy; returns (strategy, is_chief)."""
    if name == "default":
        return tf.distribute.get_strategy(), True
    if name == "mirrored":
        return tf.distribute.MirroredStrategy(), True
    if "TF_CONFIG" not in os.environ:
        raise ValueError("--strategy=multi_worker needs the TF_CONFIG environment variable "
                         "(cluster and task; see README, 'Training on several machines').")
    check_tf_config(os.environ["TF_CONFIG"])
    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    resolver = strategy.cluster_resolver
    jobs = resolver.cluster_spec().jobs
    is_chief = resolver.task_type == "chief" or (
        resolver.task_type == "worker" and resolver.task_id == 0 and "chief" not in jobs)
    return strategy, is_chief


def check_tf_config(text):
    """Raises ValueError naming TF_CONFIG unless it holds a cluster of workers and this task's place in it."""
    fix = ('TF_CONFIG must be JSON like {"cluster": {"worker": ["host0:12345", "host1:12345"]}, "task": '
           '{"type": "worker", "index": 0}} (see README, \'Training on several devices or machines\')')
    try:
        config = json.loads(text)
        cluster, task = config["cluster"], config["task"]
        members = cluster[task["type"]]
        index = task["index"]
        valid = isinstance(members, list) and isinstance(index, int) and 0 <= index < len(members)
    except (ValueError, KeyError, TypeError) as error:
        raise ValueError(f"TF_CONFIG is not valid ({type(error).__name__}: {one_line(error, 80)}): {fix}.") \
            from None
    if not valid:
        raise ValueError(f"TF_CONFIG's task index {index!r} is not a member of its cluster's "
                         f"{task['type']!r} list ({members!r}): {fix}.")


def plan_data(config):
    """The image shape, the training and selection splits and the epoch length of the run."""
    options = config.data_options()
    if config.image_dir and config.dataset_given:
        raise ValueError(f"Pass --image_dir or --dataset, not both (got --image_dir {config.image_dir} and "
                         f"--dataset {config.dataset}).")
    spec = pipeline.dataset_spec(config.source, image_size=config.image_size, channels=config.channels, **options)
    height, width, channels = spec["image_shape"]
    if height is None or width is None or height != width:
        if config.image_size is None:  # non-square or variable-size images: crop and resize to the default
            return plan_data(dataclasses.replace(config, image_size=pipeline.DEFAULT_FOLDER_IMAGE_SIZE))
    score_images = (height, width, channels) == (28, 28, 1)
    evaluate = config.eval_every > 0 and (config.eval_every_given or (score_images and config.source == "mnist"))
    if evaluate and not score_images:  # InceptionV3: its weights must be at hand before any work
        extractors.inception_weights_file(inception_weights(config))
    train_split, selection_split, holdout = config.split, None, 0
    name = f"the {config.source} {config.split} split"
    if evaluate:
        if "[" in config.split or "+" in config.split:
            raise ValueError(f"--eval_every holds the last --holdout images of --split out of training, which needs "
                             f"a plain split name, not {config.split!r}: pass --split train, or --eval_every=0.")
        total = pipeline.split_size(config.source, config.split, **options)
        holdout = config.holdout or min(DEFAULT_HOLDOUT, total // 10)
        if not 2 <= holdout <= total - config.batch_size:
            raise ValueError(f"--holdout={holdout} leaves {total - holdout} of the {total} images of {name} to "
                             f"train on (--batch_size={config.batch_size}) and must be >= 2: pass another "
                             "--holdout, or --eval_every=0.")
        train_split, selection_split = f"{config.split}[:-{holdout}]", f"{config.split}[-{holdout}:]"
    train_size = pipeline.split_size(config.source, train_split, **options)
    if train_size < config.batch_size:
        raise ValueError(f"--batch_size={config.batch_size} is larger than the {train_size} training images of "
                         f"{name}: pass a smaller --batch_size.")
    steps_per_epoch = config.steps_per_epoch or train_size // config.batch_size
    return DataPlan((height, width, channels), spec["num_classes"], train_split, steps_per_epoch, evaluate,
                    selection_split, holdout, config.image_size)


def inception_weights(config):
    """The --inception_weights value as `kgan.evaluation.extractors.inception_v3` takes it."""
    return None if config.inception_weights == "random" else config.inception_weights


def check_output_dir(run, config):
    """Read-only: refuses an --output_dir holding another run; returns the run files in it."""
    existing = run.existing_run_files()
    if existing and not config.fresh:
        _check_same_run(run, config, existing)
    return existing


def _check_same_run(run, config, existing):
    path = run.run_config
    if not os.path.exists(path):
        raise FileExistsError(
            f"{run.root} holds files of a run ({', '.join(existing)}) but no run.json, so it cannot be "
            "resumed safely; nothing was changed. Pass --fresh to start over (the old files are moved to "
            "previous/), or another --output_dir.")
    try:
        with open(path) as f:
            record = json.load(f)
        saved_model, conflicts = record["model"], config.conflicts(record)
    except (ValueError, KeyError, TypeError) as error:
        raise ValueError(f"{path} is corrupt ({error}); nothing was changed. Pass --fresh to start over (the old "
                         "run is moved to previous/), or another --output_dir.") from None
    if saved_model != config.model:
        raise ValueError(
            f"{run.root} holds a {saved_model} run, not a {config.model} one; nothing was changed. Use another "
            f"--output_dir (or zoo.{saved_model} to resume it).")
    if conflicts:
        raise ValueError(
            f"{run.root} holds a run with other settings: {'; '.join(conflicts)}. Rerun with the run's "
            "settings to resume it, pass --fresh to start over (the old run is moved to previous/), or use "
            "another --output_dir. Nothing was changed.")


def prepare_output_dir(run, config, existing):
    """Makes the run directory ready; ``existing`` run files are resumed, or with --fresh moved aside.

    Returns:
      True if the run resumes.
    """
    os.makedirs(run.root, exist_ok=True)
    resume = False
    if existing and config.fresh:
        archive = os.path.join(run.previous, datetime.datetime.now().strftime("%Y%m%d-%H%M%S-%f"))
        os.makedirs(archive)
        for name in existing:
            os.replace(run.path(name), os.path.join(archive, name))
        print(f"--fresh: moved the previous run ({', '.join(existing)}) to {archive}.")
    elif existing:
        resume = True
    for folder in (run.checkpoints, run.samples, run.logs):
        os.makedirs(folder, exist_ok=True)
    if not resume:
        write_json_atomic(run.run_config, config.record())
    return resume


def build_and_compile(config, build_model, plan, strategy):
    """The run's model, compiled with Adam for both networks, inside the strategy's scope."""
    with strategy.scope():
        gan = build_model(config, plan.image_shape, plan.num_classes)
        gan.compile(d_optimizer=keras.optimizers.Adam(config.d_rate, beta_1=config.beta_1),
                    g_optimizer=keras.optimizers.Adam(config.g_rate, beta_1=config.beta_1),
                    jit_compile=config.jit_compile, **config.update_options())
    return gan


def initial_weights(config, gan):
    """--init_from: [(network, weights)] from the preset for G, D and the EMA generator; None without it."""
    if not config.init_from:
        return None
    source = preset.load_preset(config.init_from)
    if source.contract.family != gan.contract.family or tuple(source.image_shape) != tuple(gan.image_shape):
        raise ValueError(f"--init_from {config.init_from} is a {source.contract.family} model of images "
                         f"{source.image_shape}; this run builds a {gan.contract.family} of {gan.image_shape}.")
    pairs = [(gan.generator, source.generator), (gan.discriminator, source.discriminator)]
    if gan.ema_generator is not None:
        pairs.append((gan.ema_generator, source.inference_generator))
    for network, origin in pairs:
        mine = [tuple(w.shape) for w in network.weights]
        theirs = [tuple(w.shape) for w in origin.weights]
        if mine != theirs:
            raise ValueError(f"--init_from {config.init_from}: its {origin.name} does not match this run's "
                             f"{network.name} ({len(theirs)} weights vs {len(mine)}, or other shapes); pass the "
                             "architecture flags the preset was trained with (its metadata.json says which).")
    return [(network, origin.get_weights()) for network, origin in pairs]


def restore(config, gan, run, strategy, is_chief):
    """Loads the run's newest readable checkpoint into ``gan``; returns (epochs done, batches of the next)."""
    # Every worker restores from the chief's checkpoints (--output_dir must be shared storage).
    partial = checkpoint.remove_partial_files(run.checkpoints) if is_chief else []
    if partial:
        print(f"Removed {len(partial)} unfinished checkpoint write(s) of a killed run: {', '.join(partial)}.")
    with strategy.scope():
        restored = checkpoint.restore_latest(gan, run.checkpoints, log=lambda m: print(m, file=sys.stderr))
    if not restored:
        if is_chief:
            print(f"Restarting {run.root} from the beginning: it holds no checkpoint yet.")
        return 0, 0
    epoch, batch, path = restored
    # The configured learning rates win over the checkpoint's (they may be lowered to resume).
    gan.d_optimizer.learning_rate = config.d_rate
    gan.g_optimizer.learning_rate = config.g_rate
    if is_chief:
        print(f"Resuming {run.root} from {path} (epoch {epoch} done + {batch} batches).")
    return epoch, batch


def make_callbacks(config, gan, run, plan, state, extra_callbacks=None):
    """The run's callbacks, all sharing ``state``; the non-finite guard first, so a NaN batch marks the state
    before anything is written."""
    rows, cols = gan.grid_shape(config.grid_size)
    callbacks = [
        checkpoint.StopOnNonFinite(plan.steps_per_epoch, state),
        checkpoint.RunCheckpoint(run.checkpoints, plan.steps_per_epoch, config.checkpoint_every, state),
        SampleGrid(run.samples, rows, cols, seed=config.seed, log_dir=run.logs, state=state),
        *(extra_callbacks(config, gan, run, state) if extra_callbacks else []),
    ]
    if plan.evaluate:
        callbacks.append(EvaluationCallback(
            config.eval_every, config.eval_samples, checkpoint_path=run.best_model, log_dir=run.logs,
            dataset=config.source, data_dir=config.data_dir, num_real=min(10000, plan.selection_size),
            seed=config.seed, real_split=plan.selection_split, state=state,
            feature_extractor=None if plan.image_shape == (28, 28, 1) else extractors.inception_v3(
                inception_weights(config))))
    callbacks += [keras.callbacks.TensorBoard(run.logs), HistoryCSV(run.history)]
    return callbacks


def fit(config, gan, plan, callbacks, state, start_epoch, start_batch):
    """Trains from (start_epoch, start_batch) to ``config.epochs``; returns the last Keras History or None."""
    verbose = config.verbose if config.verbose == "auto" else int(config.verbose)

    def fit_once(first_epoch, first_batch, epochs, steps):
        dataset = pipeline.load_images(
            config.source, plan.train_split, batch_size=config.batch_size, image_size=plan.image_size,
            with_labels=gan.conditional, seed=config.seed, channels=config.channels,
            start_batch=first_epoch * plan.steps_per_epoch + first_batch, **config.data_options())
        if config.strategy == "multi_worker":
            options = tf.data.Options()  # one TFRecord file per split: shard by element, not by file
            options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
            dataset = dataset.with_options(options)
        state.batch_offset = first_batch
        # shuffle=False: the tf.data pipeline shuffles already.
        return gan.fit(dataset, epochs=epochs, initial_epoch=first_epoch, steps_per_epoch=steps,
                       callbacks=callbacks, verbose=verbose, shuffle=False)

    history = None
    if start_batch:  # finish the interrupted epoch, then the others
        history = fit_once(start_epoch, start_batch, start_epoch + 1, plan.steps_per_epoch - start_batch)
        start_epoch = start_epoch + 1
    if start_epoch < config.epochs and not state.diverged:
        history = fit_once(start_epoch, 0, config.epochs, plan.steps_per_epoch)
    return history


def finish(config, gan, run, history, is_chief, epochs, save_model=True):
    """Saves the final model and (chief, --export) exports the best or the final one, recording where."""
    if save_model:
        checkpoint.save_atomic(gan, run.model)
        print(f"Run saved in {run.root}: model.keras, samples/, checkpoints/, logs/ "
              f"(tensorboard --logdir {run.logs}).")
    if not (config.export and is_chief):
        return
    metrics = {name: values[-1] for name, values in history.history.items() if values} if history else None
    exported, provenance = gan, {"from": "final", "epoch": epochs, "scores": None}
    best = _best_record(run) if config.export_from == "best" else None
    if best is not None:
        exported = load_keras_gan(run.best_model)
        provenance = {"from": "best", "epoch": int(best["epoch"]),
                      "scores": {key: best[key] for key in ("frechet_distance", "classifier_score", "num_samples",
                                                            "num_real", "real") if key in best}}
    path = export_model(exported, config.export_name or config.model, config.export_dir, config.tflite,
                        config.serving_root, training_epochs=provenance["epoch"], metrics=metrics,
                        provenance=provenance, replace_family=config.replace_family)
    write_json_atomic(run.export_record, {"path": os.path.abspath(path), **provenance})
    print(f"Exported the {provenance['from']} model (epoch {provenance['epoch']}) to {path} "
          f"(TF Serving config: {os.path.join(config.export_dir, 'models.config')}).")


def _best_record(run):
    """best.json's record when it and a readable best.keras exist, else None (the final model is exported)."""
    if not os.path.exists(run.best_model):
        return None
    try:
        checkpoint.verify(run.best_model)
        with open(run.best_record) as f:
            record = json.load(f)
        int(record["epoch"])
        return record
    except (checkpoint.CorruptCheckpointError, OSError, ValueError, KeyError, TypeError) as error:
        print(f"warning: the best model cannot be exported ({one_line(error, 160)}); exporting the final model.",
              file=sys.stderr)
        return None


def _trim_history(path, epochs_done):
    """Drops history.csv rows of epochs after the checkpoint a run resumes from (they are redone).

    An unreadable history is kept as ``history.csv.corrupt`` and a new one is started.
    """
    try:
        rows = read_history(path)
    except ValueError as error:
        print(f"warning: {error} Kept as {set_aside(path)}; the history restarts here.", file=sys.stderr)
        return
    kept = [row for row in rows if str(row.get("epoch", "")).isdigit() and int(row["epoch"]) < epochs_done]
    if len(kept) != len(rows):
        write_history(path, kept)
