"""Exported file sizes and `generate` latency: SavedModel vs. each TF-Lite variant.

  python bench/export_latency.py --model runs/dcgan [--repeats 50]

Loads a trained model (a run directory or a .keras file), exports it to a
temporary directory as a SavedModel (`kgan.serving.export_saved_model`) and as
every TF-Lite variant (`kgan.serving.tflite.export_tflite`), both with a dynamic batch
dimension (one file for every batch size) and with a fixed one (one file per
batch size, ``batch_size=N``: XNNPACK can then run the transposed convolutions),
then times ``generate`` (the SavedModel's ``serving_default`` signature;
`kgan.serving.tflite.TFLiteGenerator` for the .tflite files, request validation
included) at each batch size, all in this one process. Timing runs in rounds: every round calls each format once per
batch size, the format order rotating from round to round, so background load
hits all formats alike. Prints sizes, the median latency per batch size, and
each variant's max |difference| from the SavedModel's images on the same z.

Both runtimes get ``--num_threads`` threads (TF intra-op threads; the LiteRT
interpreter's threads). The SavedModel holds the discriminator and every
signature too (see `kgan.serving.signatures`); a .tflite file holds the generator only.
"""

import os
import shutil
import tempfile
import time

import numpy as np
from absl import app, flags, logging

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

flags.DEFINE_string("model", None, "Run directory (with model.keras) or a .keras file.", required=True)
flags.DEFINE_integer("repeats", 50, "Timed calls per format and batch size.", lower_bound=1)
flags.DEFINE_list("batch_sizes", ["1", "64"], "Batch sizes to time.")
flags.DEFINE_list("variants", ["float32", "float16", "int8_dynamic", "int8"], "TF-Lite variants.")
flags.DEFINE_integer("warmup", 3, "Untimed calls per format and batch size first.", lower_bound=0)
flags.DEFINE_integer("num_threads", os.cpu_count() or 1, "Threads for TF and for the LiteRT interpreter.",
                     lower_bound=1)
flags.DEFINE_integer("seed", 0, "Seed of the latents.")
flags.DEFINE_string("keep_dir", None, "Export here and keep the files (default: a temporary directory).")
FLAGS = flags.FLAGS


def directory_size(path, exclude=("tflite",)):
    """Bytes of the files under ``path``, without top-level ``exclude`` folders (TF-Lite files beside a SavedModel)."""
    total = 0
    for root, dirs, files in os.walk(path):
        if root == path:
            dirs[:] = [name for name in dirs if name not in exclude]
        total += sum(os.path.getsize(os.path.join(root, name)) for name in files)
    return total


def megabytes(size):
    return f"{size / 2**20:.2f} MB"


def main(argv):
    del argv
    logging.set_verbosity(logging.WARNING)  # TF's export INFO lines
    import tensorflow as tf

    # Before any TF op runs.
    tf.config.threading.set_intra_op_parallelism_threads(FLAGS.num_threads)
    tf.config.threading.set_inter_op_parallelism_threads(FLAGS.num_threads)

    from kgan import export, latent, tflite

    try:
        batch_sizes = [int(b) for b in FLAGS.batch_sizes]
    except ValueError:
        raise app.UsageError(f"--batch_sizes must be integers, got {FLAGS.batch_sizes}.") from None
    if not batch_sizes or min(batch_sizes) < 1:
        raise app.UsageError(f"--batch_sizes must be positive integers, got {FLAGS.batch_sizes}.")
    unknown = sorted(set(FLAGS.variants) - set(tflite.VARIANTS))
    if unknown or not FLAGS.variants:
        raise app.UsageError(f"--variants must be a non-empty subset of {tflite.VARIANTS}, got {FLAGS.variants}.")
    variants = list(dict.fromkeys(FLAGS.variants))

    gan = latent.load_gan(FLAGS.model)
    print(f"model {FLAGS.model}: {type(gan).__name__}, latent_dim {gan.latent_dim}, images {gan.image_shape}, "
          f"{FLAGS.num_threads} threads, {FLAGS.repeats} timed calls per format and batch size")
    workdir = FLAGS.keep_dir or tempfile.mkdtemp(prefix="kgan-export-latency-")
    try:
        start = time.time()
        saved_model_dir = export.export_saved_model(gan, os.path.join(workdir, "saved_model"), "generator")
        print(f"SavedModel export {time.time() - start:.1f} s")
        start = time.time()
        paths = tflite.export_tflite(gan, os.path.join(workdir, "tflite"), variants=variants)
        fixed_paths = {batch: tflite.export_tflite(gan, os.path.join(workdir, "tflite"), variants=variants,
                                                   batch_size=batch) for batch in batch_sizes}
        print(f"TF-Lite export ({', '.join(variants)}; dynamic batch and batch "
              f"{', '.join(map(str, batch_sizes))}) {time.time() - start:.1f} s")

        signature = tf.saved_model.load(saved_model_dir).signatures["serving_default"]

        def saved_model_generate(inputs):
            return signature(**{name: tf.constant(value) for name, value in inputs.items()})["images"].numpy()

        def tflite_generate(path):
            runner = tflite.TFLiteGenerator(path, num_threads=FLAGS.num_threads)
            return lambda inputs: runner.generate(**inputs)

        # engines[name][batch]: the function that generates a batch of that size.
        engines = {"SavedModel": {batch: saved_model_generate for batch in batch_sizes}}
        sizes = {"SavedModel": directory_size(saved_model_dir)}
        for variant, path in paths.items():
            dynamic = tflite_generate(path)
            engines[f"tflite {variant}"] = {batch: dynamic for batch in batch_sizes}
            sizes[f"tflite {variant}"] = os.path.getsize(path)
        for variant in variants:
            name = f"tflite {variant} fixed"
            engines[name] = {batch: tflite_generate(fixed_paths[batch][variant]) for batch in batch_sizes}
            sizes[name] = max(os.path.getsize(fixed_paths[batch][variant]) for batch in batch_sizes)

        rng = np.random.default_rng(FLAGS.seed)
        requests = {batch: tflite.random_inputs(gan, batch, rng) for batch in batch_sizes}
        reference = {batch: saved_model_generate(requests[batch]) for batch in batch_sizes}
        difference = {name: max(float(np.abs(generate[b](requests[b]) - reference[b]).max()) for b in batch_sizes)
                      for name, generate in engines.items()}
        for name, generate in engines.items():
            for batch in batch_sizes:
                for _ in range(FLAGS.warmup):
                    generate[batch](requests[batch])

        timings = {(name, batch): [] for name in engines for batch in batch_sizes}
        names = list(engines)
        for round_index in range(FLAGS.repeats):
            shift = round_index % len(names)
            for name in names[shift:] + names[:shift]:
                for batch in batch_sizes:
                    start = time.perf_counter()
                    engines[name][batch](requests[batch])
                    timings[name, batch].append(time.perf_counter() - start)

        header = f"{'format':<26} {'size':>10} " + " ".join(f"{f'b={b} median':>13}" for b in batch_sizes)
        header += f" {'max|d| vs SM':>13}"
        print()
        print(header)
        print("-" * len(header))
        for name in names:
            cells = " ".join(f"{np.median(timings[name, b]) * 1e3:>10.2f} ms" for b in batch_sizes)
            print(f"{name:<26} {megabytes(sizes[name]):>10} {cells} {difference[name]:>13.3g}")
        print()
        print("median of per-call wall time; b=N: batch size; 'fixed': one file per batch size exported with "
              "batch_size=N (size: the largest); max|d| vs SM: max abs difference from the SavedModel's images "
              "on the same inputs. The SavedModel also holds the discriminator and every signature.")
        if FLAGS.keep_dir:
            print(f"exports kept in {workdir}")
    finally:
        if not FLAGS.keep_dir:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    app.run(main)
