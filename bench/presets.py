"""Builds kgan's shipped presets with the zoo's own commands: train, score, package, draw.

  python bench/presets.py --names dcgan_mnist --steps train,score,package,docs
  python bench/presets.py --steps docs       # redraw docs/presets/*.png from the shipped presets
  python bench/presets.py --steps table      # the README's model-card table
  python bench/presets.py --list

Steps, each on --root/<name>/ (a zoo run directory):

* train: ``python -m zoo.<trainer> ...`` (the command in PRESETS), timed; the command, wall time and
  machine go to ``train_record.json``. Skipped when that record exists (delete it to retrain).
* score: ``python -m zoo.evaluate RUN --num_samples 10000`` on the trained float32 model
  (-> ``evaluation_float32.json``).
* package: stages the preset in STORAGE form, scores exactly those weights through the CLIs
  (``zoo.evaluate preset:...`` -> ``evaluation.json``: classifier score, Frechet distance,
  precision/recall/density/coverage, label or code accuracy with the code->digit map; for the DCGANs
  ``zoo.svm --model preset:... --labels_per_class N`` -> ``svm_<N>.json``) and
  `kgan.evaluation.classifier_scores` at 2000 samples computed in float32 (what tests/test_shipped_presets.py
  checks a fresh install reproduces), then writes ``kgan/presets/<name>/`` with that model card. --replace rebuilds an
  existing one.
* docs: the sample grids of every shipped preset in docs/presets/ (InfoGAN: categories and the
  continuous-code traversals), drawn from the preset alone.
* table: prints the model cards as the README's markdown table.
"""

import json
import os
import platform
import shutil
import subprocess
import sys
import time

from absl import app, flags

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

# name -> (trainer, flags, description, SVM labels per class). Every run: mixed_bfloat16, the final model
# (--eval_every 0: all 60000 train images are trained on), training seed 0 unless TRAIN_SEEDS says otherwise.
PRESETS = {
    "dcgan_mnist": ("dcgan", ["--loss=hinge", "--spectral_norm", "--epochs=10"],
                    "DCGAN (sigmoid D head), MNIST 28x28, hinge loss + spectral norm", (10, 100)),
    "dcgan_softmax_mnist": ("dcgan", ["--head=softmax", "--loss=hinge", "--spectral_norm", "--epochs=8"],
                            "DCGAN (2-way softmax D head), MNIST 28x28, hinge loss + spectral norm", (10, 100)),
    "gan_mnist": ("gan", ["--epochs=50"], "Vanilla GAN (ReLU MLP G, maxout MLP D; Goodfellow et al. 2014), MNIST",
                  ()),
    "cgan_mnist": ("cgan", ["--conditioning=projection", "--epochs=10"],
                   "Conditional DCGAN, MNIST digits by label, projection discriminator", ()),
    "infogan_mnist": ("infogan", ["--epochs=8"],
                      "InfoGAN, MNIST: 10 unsupervised categories + 2 continuous codes", ()),
}
TRAIN_SEEDS = {}
SEED, PRECISION = 0, "mixed_bfloat16"  # SEED: the samples' seed of every score
STORAGE = "compact"  # float16 + int8 big kernels: the five fit the 40 MB package budget
CHECK_SAMPLES = 2000
# The check computes in float32 (same weights): it pins the weights and networks; CPUs differ in float32
# only by summation order, and bfloat16 layers are emulated (and ~13x slower) on CPUs without them.
CHECK_PRECISION = "float32"
STEPS = ("train", "score", "package", "docs", "table")

flags.DEFINE_list("names", list(PRESETS), f"Presets to build: {', '.join(PRESETS)}.")
flags.DEFINE_list("steps", ["train", "score", "package", "docs"], f"Steps, in order: {', '.join(STEPS)}.")
flags.DEFINE_string("root", "runs/presets", "Where the training runs go.")
flags.DEFINE_string("docs_dir", "docs/presets", "Where the sample grids go.")
flags.DEFINE_bool("replace", False, "package: replace an existing shipped preset of the same name.")
flags.DEFINE_bool("list", False, "Print the presets and their commands, then exit.")
FLAGS = flags.FLAGS


def train_command(name):
    """The zoo command (argv after `python`) that trains preset ``name`` into its run directory."""
    trainer, extra, _, _ = PRESETS[name]
    return ["-m", f"zoo.{trainer}", *extra, f"--precision={PRECISION}", f"--seed={TRAIN_SEEDS.get(name, 0)}",
            "--eval_every=0",
            "--noexport", f"--output_dir={os.path.join(FLAGS.root, name)}"]


def hardware():
    """This machine in a few words (CPU model and core count)."""
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            model = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), model)
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} cores, no GPU"


def _run(argv, log):
    print("$ python " + " ".join(argv), flush=True)
    with open(log, "a") as out:
        result = subprocess.run([sys.executable, *argv], cwd=REPO, stdout=out, stderr=subprocess.STDOUT)
    if result.returncode:
        raise RuntimeError(f"python {' '.join(argv)} failed ({result.returncode}); see {log}")


def run_dir(name):
    return os.path.join(REPO, FLAGS.root, name)


def train(name):
    record = os.path.join(run_dir(name), "train_record.json")
    if os.path.exists(record):
        print(f"{name}: trained already ({record})")
        return
    command = train_command(name)
    start = time.time()
    _run(command + ["--fresh"], os.path.join(REPO, FLAGS.root, f"{name}.log"))
    write_record(name, time.time() - start)


def write_record(name, wall_s):
    """Writes the run's train_record.json: its command (without --fresh), wall time and machine."""
    from kgan.checks import write_json_atomic

    write_json_atomic(os.path.join(run_dir(name), "train_record.json"), {
        "command": "python " + " ".join(train_command(name)), "seed": TRAIN_SEEDS.get(name, 0), "precision": PRECISION,
        "wall_time_s": round(wall_s, 1), "hardware": hardware()})


def score(name):
    """Scores the trained (float32) model of the run: evaluation_float32.json."""
    path = run_dir(name)
    _run(["-m", "zoo.evaluate", path, "--num_samples=10000", f"--seed={SEED}",
          f"--output={os.path.join(path, 'evaluation_float32.json')}", "--overwrite"], _log(name))


def _log(name):
    return os.path.join(REPO, FLAGS.root, f"{name}.log")


def _read(path):
    with open(path) as f:
        return json.load(f)


METRICS = ("classifier_score", "frechet_distance", "precision", "recall", "density", "coverage", "label_accuracy",
           "code_accuracy")


def _metrics(result):
    found = {key: result[key]["value"] for key in METRICS if key in result}
    if "code_accuracy" in result:
        found["code_to_digit"] = result["code_accuracy"]["mapping"]
    return found


def package(name):
    """Writes kgan/presets/<name>/ in compact storage, its card scored on exactly those weights."""
    import kgan
    from kgan import evaluation, preset

    os.makedirs(preset.SHIPPED_DIR, exist_ok=True)
    destination = os.path.join(preset.SHIPPED_DIR, name)
    if os.path.exists(destination) and not FLAGS.replace:
        raise FileExistsError(f"{destination} exists; pass --replace to rebuild it.")
    path, log = run_dir(name), _log(name)
    gan = kgan.load(path).gan
    staged = os.path.join(path, "preset")  # the same weights as the shipped copy: scored through the CLIs
    if os.path.exists(staged):
        shutil.rmtree(staged)
    gan.save_to_preset(staged, storage=STORAGE)
    _run(["-m", "zoo.evaluate", f"preset:{staged}", "--num_samples=10000", f"--seed={SEED}",
          f"--output={os.path.join(path, 'evaluation.json')}", "--overwrite"], log)
    svm = {}  # labels per class -> {features: test accuracy}
    for labels in PRESETS[name][3]:
        output = os.path.join(path, f"svm_{labels}.json")
        _run(["-m", "zoo.svm", f"--model=preset:{staged}", f"--labels_per_class={labels}", f"--seed={SEED}",
              f"--output={output}", "--overwrite"], log)
        svm[str(labels)] = {r["features"]: r["test_accuracy"] for r in _read(output)["results"]}
    report, float32 = _read(os.path.join(path, "evaluation.json")), _read(os.path.join(path, "evaluation_float32.json"))
    check = evaluation.classifier_scores(kgan.from_preset(staged, precision=CHECK_PRECISION), CHECK_SAMPLES, SEED)
    epochs = next(int(arg.split("=")[1]) for arg in PRESETS[name][1] if arg.startswith("--epochs="))
    card = {
        "description": PRESETS[name][2], "dataset": "mnist (train split, 60000 images)",
        "training": {**_read(os.path.join(path, "train_record.json")), "epochs": epochs},
        "evaluation": {"command": f"python -m zoo.evaluate preset:{name} --num_samples 10000 --seed {SEED}",
                       "num_samples": report["num_samples"], "real_data": report["real_data"],
                       "metrics": _metrics(report["results"][-1]), "reference": _metrics(report["results"][0]),
                       "float32_metrics": _metrics(float32["results"][-1]),
                       "storage_note": f"{STORAGE} weights (see kgan.preset.write_compact_weights); float32_metrics "
                                       "are the trained float32 model's on the same samples."},
        "check": {"num_samples": CHECK_SAMPLES, "seed": SEED, "precision": CHECK_PRECISION,
                  **{key: value["value"] for key, value in check.items() if isinstance(value, dict)}},
    }
    if svm:
        card["svm"] = {"command": f"python -m zoo.svm --model preset:{name} --labels_per_class N --seed {SEED}",
                       "num_test": 10000, "results": svm}
    if os.path.exists(destination):
        shutil.rmtree(destination)
    gan.save_to_preset(destination, storage=STORAGE, **card)
    shutil.rmtree(staged)
    size = sum(os.path.getsize(os.path.join(destination, f)) for f in os.listdir(destination))
    print(f"{name}: wrote {destination} ({size / 2**20:.2f} MiB)")


def draw(name):
    """Writes docs/presets/<name>.png (and InfoGAN's traversals) from the shipped preset alone."""
    import numpy as np

    import kgan
    from kgan import images

    gan = kgan.from_preset(name)
    os.makedirs(os.path.join(REPO, FLAGS.docs_dir), exist_ok=True)
    grids = {name: (10, 10, gan.grid_latents(10, 10, seed=SEED))}
    if gan.family == "infogan":  # rows: one z each; columns: category 0..9; then one traversal per code
        grids.update({f"{name}_continuous_{i}": (10, 9, gan.traversal_latents(i, 10, 9, seed=SEED))
                      for i in range(gan.num_continuous)})
    for file, (rows, cols, latents) in grids.items():
        pixels = np.asarray(gan.inference_generator(latents, training=False), np.float32)
        path = os.path.join(REPO, FLAGS.docs_dir, f"{file}.png")
        images.save_png(path, images.image_grid(pixels, rows, cols, padding=1))
        print(f"wrote {os.path.relpath(path, REPO)}")


def _fmt(value, digits):
    return "" if value is None else f"{value:.{digits}f}"


def table():
    """The README's model-card table of the shipped presets."""
    from kgan import preset

    lines = ["| preset | samples | CS | FD | P / R | label / code acc | SVM 10 / 100 per class | train |",
             "|---|---|---|---|---|---|---|---|"]
    for name in preset.list_presets():
        meta = preset.read_metadata(name)
        m = meta["evaluation"]["metrics"]
        accuracy = m.get("label_accuracy", m.get("code_accuracy"))
        svm = meta.get("svm") or {}
        svm_text = " / ".join(f"{v['trained D']:.4f}" for v in svm.get("results", {}).values())
        train_info = meta["training"]
        lines.append(
            f"| `{name}` | ![{name}](docs/presets/{name}.png) | {_fmt(m['classifier_score'], 2)} | "
            f"{_fmt(m['frechet_distance'], 2)} | {_fmt(m['precision'], 3)} / {_fmt(m['recall'], 3)} | "
            f"{_fmt(accuracy, 4)} | {svm_text} | {train_info['epochs']} ep, "
            f"{train_info['wall_time_s'] / 60:.0f} min |")
    return "\n".join(lines)


def main(argv):
    del argv
    if FLAGS.list:
        for name in PRESETS:
            print(f"{name}: {PRESETS[name][2]}\n  python {' '.join(train_command(name))}")
        return
    unknown = sorted(set(FLAGS.names) - set(PRESETS)) + sorted(set(FLAGS.steps) - set(STEPS))
    if unknown:
        raise app.UsageError(f"Unknown preset or step: {', '.join(unknown)} (presets: {', '.join(PRESETS)}; "
                             f"steps: {', '.join(STEPS)}).")
    for step in [s for s in STEPS if s in FLAGS.steps]:
        if step == "table":
            print(table())
            continue
        for name in FLAGS.names:
            {"train": train, "score": score, "package": package, "docs": draw}[step](name)


if __name__ == "__main__":
    app.run(main)
