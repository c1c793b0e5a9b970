"""Flags shared by the zoo trainers and their absl main; the run itself is `zoo._train`.

Nothing here imports TensorFlow at import time: absl parses and checks the flags first, then the run
function of `main_for` imports the training code.
"""

import os
import sys

from absl import flags

from zoo import _choices
from zoo import _export  # noqa: F401  (defines the export flags every trainer takes)
from zoo._config import RunConfig
from zoo._main import run_main

FLAGS = flags.FLAGS

flags.DEFINE_string("dataset", "mnist", "tfds dataset to train on: any registered image dataset (e.g. "
                    f"{', '.join(_choices.DATASET_EXAMPLES)}), also as name/config:version.")
flags.DEFINE_string("image_dir", None, "Train on the images below this folder instead of --dataset (jpg, jpeg, png, "
                    "bmp, gif, webp); its class sub-folders are the labels. Decoded once, cached in --data_dir.")
flags.DEFINE_string("split", "train", "The split to train on, sliced as in tfds (train[:90%]); a folder has 'train'.")
flags.DEFINE_enum("channels", None, ["1", "3"], "Convert images to 1 (grayscale) or 3 (RGB) channels (default: the "
                  "dataset's own; RGB for --image_dir).")
flags.DEFINE_bool("download", True, "Let tfds download and prepare --dataset when it is not in --data_dir "
                  "(--nodownload: fail instead).")
flags.DEFINE_bool("skip_bad_images", True, "--image_dir: leave out (and list) unreadable, empty or truncated files; "
                  "--noskip_bad_images: they are an error.")
flags.DEFINE_string("data_dir", None, "tfds data dir (default: $TFDS_DATA_DIR or ~/tensorflow_datasets).")
flags.DEFINE_string("output_dir", None, "Run directory (default: runs/<model>).")
flags.DEFINE_integer("epochs", 25, "Training epochs.", lower_bound=1)
flags.DEFINE_integer("batch_size", 128, "Real images per fit batch (split over the d_steps D updates).",
                     lower_bound=1)
flags.DEFINE_integer("steps_per_epoch", None, "Batches per epoch (default: one pass over the data).",
                     lower_bound=1)
flags.DEFINE_integer("image_size", None, "Center-crop and resize images to this square size (default: the "
                     "dataset's; 64 for --image_dir and for datasets of non-square images).", lower_bound=4)
flags.DEFINE_integer("latent_dim", 100, "Size of z.", lower_bound=1)
flags.DEFINE_integer("d_steps", 1, "k: discriminator updates per generator update.", lower_bound=1)
flags.DEFINE_enum("loss", "classic", list(_choices.OBJECTIVES),
                  "The objective: classic (Goodfellow et al. 2014), hinge (SNGAN), least_squares (LSGAN, 0-1-1) or "
                  "wasserstein (needs --gradient_penalty or --weight_clip).")
flags.DEFINE_enum("generator_loss", "non_saturating", list(_choices.GENERATOR_LOSSES),
                  "The classic loss's G loss: non_saturating: -log D(G(z)); minimax: log(1 - D(G(z))).")
flags.DEFINE_float("gradient_penalty", 0.0, "lambda of the WGAN-GP gradient penalty on real/fake interpolates "
                   "(10 in the paper; 0: off).", lower_bound=0.0)
flags.DEFINE_float("r1_gamma", 0.0, "gamma of the R1 penalty gamma/2 E||grad D(x)||^2 on real images (0: off).",
                   lower_bound=0.0)
flags.DEFINE_integer("r1_every", 1, "Lazy R1: apply it every N D steps only, N times as strong (StyleGAN2: 16).",
                     lower_bound=1)
flags.DEFINE_float("weight_clip", None, "Clip D's weights to [-c, c] after every D step (the original WGAN: 0.01).",
                   lower_bound=1e-12)
flags.DEFINE_bool("spectral_norm", False, "Spectrally normalize D's conv and dense layers (Miyato et al. 2018).")
flags.DEFINE_float("ema", None, "Keep an exponential moving average of G's weights with this decay (e.g. 0.999); "
                   "sample grids, evaluation, the best model and exports then use the averaged G.",
                   lower_bound=0.0, upper_bound=0.999999)
flags.DEFINE_integer("ema_start", 0, "With --ema: G steps during which the average just copies G (a warm-up).",
                     lower_bound=0)
flags.DEFINE_string("augment", None, "DiffAugment (Zhao et al. 2020) of every image D sees: any of "
                    "translation,cutout,color, comma-separated (off by default).")
flags.DEFINE_enum("conditioning", "concat", ["concat", "projection", "acgan"],
                  "zoo.cgan only: how D uses the label: concat (label planes on its input), projection (Miyato & "
                  "Koyama 2018) or acgan (D predicts the label; Odena et al. 2017).")
flags.DEFINE_float("label_smoothing", 0.0, "One-sided label smoothing (Salimans et al. 2016): D's real target is "
                   "1 - label_smoothing (0.1 -> 0.9); the fake target stays 0.", lower_bound=0.0, upper_bound=0.999)
flags.DEFINE_float("learning_rate", 2e-4, "Adam learning rate of both networks unless --d_learning_rate / "
                   "--g_learning_rate set theirs.", lower_bound=1e-12)
flags.DEFINE_float("d_learning_rate", None, "Adam learning rate of D (default: --learning_rate; TTUR, Heusel et al. "
                   "2017).", lower_bound=1e-12)
flags.DEFINE_float("g_learning_rate", None, "Adam learning rate of G (default: --learning_rate).",
                   lower_bound=1e-12)
flags.DEFINE_float("beta_1", 0.5, "Adam beta_1 of both networks.", lower_bound=0.0, upper_bound=0.999)
flags.DEFINE_integer("seed", 0, "Seed of weights, data order, noise and the sample grid.", lower_bound=0)
flags.DEFINE_integer("grid_size", 8, "The sample grid is grid_size x grid_size.", lower_bound=1)
flags.DEFINE_enum("verbose", "auto", ["auto", "0", "1", "2"], "Keras fit verbosity (1: progress bar).")
flags.DEFINE_bool("export", True, "Export the trained model to --export_dir at the end.")
flags.DEFINE_enum("precision", "float32", list(_choices.PRECISIONS),
                  "The networks' dtype policy: mixed_bfloat16 is the CPU (AMX) win, mixed_float16 is for GPUs "
                  "(with loss scaling). Output layers stay float32; exports are float32.")
flags.DEFINE_enum("strategy", "default", ["default", "mirrored", "multi_worker"],
                  "tf.distribute strategy: mirrored = all local GPUs; multi_worker reads TF_CONFIG. "
                  "--batch_size is the global batch.")
flags.DEFINE_bool("jit_compile", False, "XLA-compile the train step (slower on CPU here; try it on GPUs).")
flags.DEFINE_integer("eval_every", 1,
                     "Every N epochs score samples with the shipped MNIST classifier (Frechet distance, classifier "
                     "score; on by default for MNIST) or, for other images when given explicitly, with InceptionV3 "
                     "(FID, Inception Score; slow on CPU) against the --holdout images, log them to TensorBoard logs/evaluation/ "
                     "and keep the best model by Frechet distance as best.keras (0: off).", lower_bound=0)
flags.DEFINE_string("inception_weights", "imagenet",
                    "With --eval_every on images other than 28x28x1: the InceptionV3 weights the FID is computed "
                    "with: imagenet (downloaded once, cached by Keras), a local weights file, or random (tests only).")
flags.DEFINE_integer("eval_samples", 2000, "Generated images per --eval_every evaluation.", lower_bound=6)
flags.DEFINE_integer("holdout", None,
                     "With --eval_every: the last N images of the train split are held out of training and the best "
                     "model is selected against them (the test split stays unseen). Default: 5000 (MNIST's "
                     "classic 55000/5000 split), or a tenth of a smaller train split.", lower_bound=1)

flags.DEFINE_string("init_from", None, "Start the new run from a preset's weights (preset:NAME, a preset directory, "
                    "hf://...) instead of a fresh init: fine-tuning. Its networks must match the run's flags.")
flags.DEFINE_integer("checkpoint_every", 0,
                     "Also checkpoint every N batches within an epoch (0: at epoch ends only).", lower_bound=0)
flags.DEFINE_bool("fresh", False,
                  "Start over even if --output_dir holds a run: the old run is moved to "
                  "<output_dir>/previous/<time>/ (nothing is deleted). Without it, a run resumes.")
flags.DEFINE_bool("deterministic", False,
                  "tf.config.experimental.enable_op_determinism(): with the same --seed, runs (and resumed "
                  "runs) give bit-identical weights. Slower.")

flags.DEFINE_enum("export_from", "best", ["best", "final"],
                  "Which model the end-of-training export takes: best = best.keras (the best Frechet distance "
                  "against the --holdout images; the final model when no best was kept), final = model.keras.")

flags.register_validator("augment", lambda value: augment_policy_ok(value),
                         message="--augment takes any of translation,cutout,color, comma-separated, each once.")
flags.register_multi_flags_validator(
    ["loss", "gradient_penalty", "weight_clip"],
    lambda f: f["loss"] != "wasserstein" or f["gradient_penalty"] > 0 or f["weight_clip"] is not None,
    message="--loss wasserstein needs a Lipschitz critic: add --gradient_penalty 10 (WGAN-GP) or --weight_clip 0.01.")
flags.register_multi_flags_validator(
    ["loss", "generator_loss", "label_smoothing"],
    lambda f: f["loss"] == "classic" or (f["generator_loss"] == "non_saturating" and not f["label_smoothing"]),
    message="--generator_loss minimax and --label_smoothing are options of --loss classic only.")
flags.register_multi_flags_validator(
    ["batch_size", "d_steps"], lambda f: f["batch_size"] >= f["d_steps"],
    message="--batch_size must be >= --d_steps: each of the d_steps D updates takes batch_size // "
            "d_steps real images.")

DIVERGED_EXIT_CODE = 3  # training stopped on a NaN/Inf (bad arguments exit 2)
INTERRUPTED_EXIT_CODE = 130  # Ctrl-C, as shells report SIGINT


def augment_policy_ok(value):
    """The rule of `kgan.augment.parse_policy`, without importing TensorFlow."""
    names = [name.strip() for name in (value or "").split(",") if name.strip()]
    return set(names) <= set(_choices.AUGMENT_TRANSFORMS) and len(set(names)) == len(names)


def family_flag_names():
    """The flags the running trainer module defines itself (``--head``, ...), not the shared or a wrapper's."""
    zoo_dir = os.path.dirname(os.path.abspath(__file__))
    names = set()
    for module, module_flags in FLAGS.flags_by_module_dict().items():
        # A trainer run with python -m registers its flags under its file's path.
        in_zoo = module.startswith("zoo.") or (module.endswith(".py") and
                                               os.path.dirname(os.path.abspath(module)) == zoo_dir)
        shared = module in ("zoo._cli", "zoo._export") or os.path.basename(module) in ("_cli.py", "_export.py")
        if in_zoo and not shared:
            names.update(flag.name for flag in module_flags)
    return names


def main_for(model_name, build_model, extra_callbacks=None):
    """Returns an absl main that trains and turns expected errors into one-line messages.

    Args:
      model_name: the trainer's name (default run dir ``runs/<model_name>``).
      build_model: ``(config, image_shape, num_classes) -> an uncompiled kgan.GAN``.
      extra_callbacks: optional ``(config, gan, run, state) -> [callbacks]``.
    """

    def run():
        config = RunConfig.from_flags(model_name, FLAGS, family_flag_names())
        from kgan.training.checkpoint import TrainingDiverged
        from zoo._train import TrainingInterrupted, train

        try:
            return train(config, build_model, extra_callbacks)
        except TrainingDiverged as error:
            print(f"error: {error}", file=sys.stderr)
            raise SystemExit(DIVERGED_EXIT_CODE) from None
        except TrainingInterrupted as error:
            print(f"error: {error}", file=sys.stderr)
            raise SystemExit(INTERRUPTED_EXIT_CODE) from None

    def main(argv):
        run_main(run, argv)

    return main
