"""Trains the training-toolkit recipes on MNIST at one fixed budget and scores them the same way.

  python bench/toolkit.py --recipes dcgan,dcgan_ema --seeds 0,1 --epochs 5 --precision mixed_bfloat16
  python bench/toolkit.py --list

Each (recipe, seed) is one `python -m zoo.<trainer>` run (--eval_every 0: the final model, trained on
all 60000 train images) in --root/<recipe>-s<seed>/, timed, then scored with `kgan.evaluation.evaluate`
on --num_samples samples against the MNIST test set (the shipped classifier's metrics: classifier score,
Frechet distance, precision/recall, label accuracy for CGANs, code accuracy for InfoGANs). Results are
appended to --root/results.json as each run ends (a rerun skips the (recipe, seed, epochs, precision)
already there) and printed as a markdown table with the real-train-vs-test reference first.
"""

import json
import os
import subprocess
import sys
import time

from absl import app, flags

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

# recipe -> (trainer, its flags). The classic recipes are the trainers' defaults.
RECIPES = {
    "dcgan": ("dcgan", []),
    "dcgan_ema": ("dcgan", ["--ema=0.999", "--ema_start=500"]),
    "dcgan_hinge_sn_ema": ("dcgan", ["--loss=hinge", "--spectral_norm", "--ema=0.999", "--ema_start=500"]),
    "dcgan_ls_ema": ("dcgan", ["--loss=least_squares", "--ema=0.999", "--ema_start=500"]),
    "dcgan_r1_ema": ("dcgan", ["--r1_gamma=0.1", "--r1_every=4", "--ema=0.999", "--ema_start=500"]),
    "dcgan_augment_ema": ("dcgan", ["--augment=translation,cutout", "--ema=0.999", "--ema_start=500"]),
    "dcgan_wgan_gp": ("dcgan", ["--loss=wasserstein", "--gradient_penalty=10", "--d_steps=5"]),
    "dcgan_ttur_ema": ("dcgan", ["--d_learning_rate=4e-4", "--g_learning_rate=1e-4", "--ema=0.999", "--ema_start=500"]),
    "cgan": ("cgan", []),
    "cgan_ema": ("cgan", ["--ema=0.999", "--ema_start=500"]),
    "cgan_acgan_ema": ("cgan", ["--conditioning=acgan", "--ema=0.999", "--ema_start=500"]),
    "cgan_projection_ema": ("cgan", ["--conditioning=projection", "--ema=0.999", "--ema_start=500"]),
    "cgan_projection_hinge_sn_ema": ("cgan", ["--conditioning=projection", "--loss=hinge", "--spectral_norm",
                                              "--ema=0.999", "--ema_start=500"]),
    "infogan": ("infogan", []),
    "infogan_ema": ("infogan", ["--ema=0.999", "--ema_start=500"]),
    "infogan_sn": ("infogan", ["--spectral_norm"]),
    "gan": ("gan", []),
    "gan_ema": ("gan", ["--ema=0.999", "--ema_start=500"]),
    "gan_ls_ema": ("gan", ["--loss=least_squares", "--ema=0.999", "--ema_start=500"]),
    "gan_hinge_sn_ema": ("gan", ["--loss=hinge", "--spectral_norm", "--ema=0.999", "--ema_start=500"]),
}
COLUMNS = (("classifier_score", "CS", "{:.2f}"), ("frechet_distance", "FD", "{:.2f}"), ("precision", "P", "{:.3f}"),
           ("recall", "R", "{:.3f}"), ("label_accuracy", "label acc", "{:.4f}"), ("code_accuracy", "code acc", "{:.4f}"))

flags.DEFINE_list("recipes", ["dcgan", "dcgan_ema"], f"Recipes to train: {', '.join(RECIPES)}.")
flags.DEFINE_list("seeds", ["0"], "Seeds (each recipe is trained once per seed).")
flags.DEFINE_integer("epochs", 5, "Epochs per run (the same for every recipe).", lower_bound=1)
flags.DEFINE_integer("steps_per_epoch", None, "Batches per epoch (default: a full pass; smoke tests only).")
flags.DEFINE_enum("precision", "mixed_bfloat16", ["float32", "mixed_bfloat16"], "The trainers' --precision.")
flags.DEFINE_integer("num_samples", 10000, "Samples scored per model.", lower_bound=6)
flags.DEFINE_string("root", "runs/bench_toolkit", "Where the runs and results.json go.")
flags.DEFINE_string("data_dir", None, "tfds data dir (default: $TFDS_DATA_DIR).")
flags.DEFINE_bool("list", False, "Print the recipes and exit.")
FLAGS = flags.FLAGS


def run_recipe(name, seed):
    """Trains one recipe; returns (run dir, wall seconds)."""
    trainer, extra = RECIPES[name]
    run_dir = os.path.join(FLAGS.root, f"{name}-s{seed}-e{FLAGS.epochs}-{FLAGS.precision}")
    command = [sys.executable, "-m", f"zoo.{trainer}", f"--output_dir={run_dir}", f"--epochs={FLAGS.epochs}",
               f"--seed={seed}", f"--precision={FLAGS.precision}", "--eval_every=0", "--noexport", "--fresh",
               "--verbose=2", *extra]
    if FLAGS.steps_per_epoch:
        command.append(f"--steps_per_epoch={FLAGS.steps_per_epoch}")
    if FLAGS.data_dir:
        command.append(f"--data_dir={FLAGS.data_dir}")
    print("$ " + " ".join(command[1:]), flush=True)
    start = time.time()
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
    wall = time.time() - start
    if result.returncode:
        raise RuntimeError(f"{name} seed {seed} failed ({result.returncode}): {result.stderr[-2000:]}")
    return run_dir, wall, " ".join(["python", *command[1:]])


def table(results, reference):
    head = "| recipe | seed | " + " | ".join(title for _, title, _ in COLUMNS) + " | train min |"
    lines = [head, "|" + "---|" * (len(COLUMNS) + 3)]
    rows = [("real train vs test", "-", reference, None)] + [
        (r["recipe"], r["seed"], r["scores"], r["train_seconds"]) for r in results]
    for recipe, seed, scores, seconds in rows:
        cells = [fmt.format(scores[key]["value"]) if key in scores else "" for key, _, fmt in COLUMNS]
        lines.append(f"| {recipe} | {seed} | " + " | ".join(cells) +
                     f" | {'' if seconds is None else f'{seconds / 60:.1f}'} |")
    return "\n".join(lines)


def main(argv):
    del argv
    if FLAGS.list:
        for name, (trainer, extra) in RECIPES.items():
            print(f"{name}: zoo.{trainer} {' '.join(extra)}")
        return
    unknown = [name for name in FLAGS.recipes if name not in RECIPES]
    if unknown:
        raise app.UsageError(f"Unknown recipes {unknown}; --list shows them.")
    from kgan import evaluation  # after the flags: the import takes TF's start-up time

    os.makedirs(FLAGS.root, exist_ok=True)
    path = os.path.join(FLAGS.root, "results.json")
    results = json.load(open(path)) if os.path.exists(path) else []
    reference = evaluation.reference_metrics(num_samples=FLAGS.num_samples, data_dir=FLAGS.data_dir)
    for name in FLAGS.recipes:
        for seed in map(int, FLAGS.seeds):
            key = (name, seed, FLAGS.epochs, FLAGS.precision, FLAGS.steps_per_epoch)
            if any((r["recipe"], r["seed"], r["epochs"], r["precision"], r.get("steps_per_epoch")) == key
                   for r in results):
                continue
            run_dir, seconds, command = run_recipe(name, seed)
            scores = evaluation.evaluate(run_dir, num_samples=FLAGS.num_samples, data_dir=FLAGS.data_dir)
            scores.pop("model", None)
            results.append({"recipe": name, "seed": seed, "epochs": FLAGS.epochs, "precision": FLAGS.precision,
                            "steps_per_epoch": FLAGS.steps_per_epoch, "train_seconds": seconds, "command": command,
                            "scores": scores})
            with open(path + ".tmp", "w") as f:
                json.dump(results, f, indent=1, default=str)
            os.replace(path + ".tmp", path)
            print(table([results[-1]], reference), flush=True)
    print(f"\nMNIST, {FLAGS.num_samples} samples each, {FLAGS.epochs} epochs, {FLAGS.precision}:")
    print(table([r for r in results if r["epochs"] == FLAGS.epochs and r["precision"] == FLAGS.precision],
                reference))


if __name__ == "__main__":
    app.run(main)
