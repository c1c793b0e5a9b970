"""DCGAN training throughput: kgan `fit` vs. hand-written TF loops (float32 and mixed_bfloat16).

  python bench/train_throughput.py            # full run (about 3-6 min on a 2-core CPU)
  python bench/train_throughput.py --quick    # smoke run (under 1 min)

Three ways to train the SAME DCGAN (`kgan.DCGAN(image_shape=(28, 28, 1),
generator_filters=F, discriminator_filters=F)`'s networks, identical initial
weights, Adam(2e-4, beta_1=0.5) for both nets, batch B), each in float32 and in
``mixed_bfloat16``, all in this one process:

(a) kgan: ``gan.fit(dataset.repeat(), steps_per_epoch=N, epochs=1, verbose=0)``
    once per round on the `kgan.data.load_images("mnist")` pipeline, re-using
    the compiled model, as a user runs it. Counted: from calling `fit` to its
    ``on_train_end``, so fit's set-up, the new iterator's shuffle-buffer fill
    and the epoch end are in (a) (printed apart as well, with the steady state
    inside `fit`). Not counted, but printed: the time from ``on_train_end``
    until `fit` returns, i.e. the deletion of the dataset iterator, which in
    TF 2.21 can block until tf.data's autotune thread next wakes up (its
    period doubles from 10 ms to 60 s, so the stall depends on how long the
    iterator lived, i.e. on this benchmark's round length, not on kgan's step).
    kgan applies both Adam steps with TF's fused Adam kernel (`kgan.fused_adam`,
    the same update in one pass per variable); ``--nofused_adam`` makes it use
    Keras 3's elementwise Adam update, as (b) and (c) do.
(b) the same alternating algorithm written as a `tf.function` the way the
    PyTorch DCGAN example writes it: ONE G forward per step; D updates on the
    real batch and on ``stop_gradient(fake)`` (two forward passes, BatchNorm in
    training mode); then G's loss is the UPDATED D on that same ``fake``, G's
    forward pass reused from the tape. Like the PyTorch example (which calls
    ``netD(fake)`` in train mode), the G step calls ``D(fake, training=True)``:
    batch statistics, and D's BatchNorm moving averages move a third time (kgan
    instead freezes D through ``stateless_call`` and discards those updates;
    same FLOPs, a few tiny assign ops of difference).
(c) the TensorFlow DCGAN tutorial's ``train_step``: two tapes over one forward
    pass of each net, both nets updated from it. Less work per step (D is not
    re-run after its update) and not the same algorithm: shown as the floor of
    the cost of a GAN step.

Every variant is traced and warmed up first; then the timing alternates:
every round runs each variant for ``--steps_per_round`` steps (the order
rotating from round to round) and a 4096x4096 matmul per dtype, so background
load on a shared machine hits all variants alike. Reported: the median
images/s per variant over the rounds; the ratios a/b, a/c and a_bf16/a_fp32,
each as the median over the rounds of the ratio within a round (the two
variants ran back to back, so load changes between rounds cancel; PASS/FAIL
against the targets uses it) and as the ratio of the two medians; and the
achieved GFLOP/s against the matmul's GFLOP/s measured in the same rounds.

FLOPs are counted analytically from the built Keras networks (2 x MACs of
every Dense / Conv2D / Conv2DTranspose layer; BatchNorm, activations, losses
and the optimizers' elementwise updates are not counted). Forward = F per
image; the backward pass of a TRAINED net = weight gradients (F) + input
gradients of every layer but the first (F - first layer), i.e. 2F - F_first;
the backward pass of a FROZEN net that only passes gradients to its input
(D in G's update) = F. Per step of B images (k = 1 D step):

  (a), (b): G fwd + G bwd(trained) on B; D fwd + bwd(trained) on 2B (real,
            fake); D fwd + bwd(to input) on B (G's step against updated D).
  (c):      G fwd + G bwd(trained) on B; D fwd + bwd(trained) on 2B; D
            bwd(to input) on B (from the same forward: no second D forward).

The input pipeline is measured on its own first: a full epoch of
`kgan.data.load_images("mnist", batch_size=B)` (reading + decoding + filling
its in-memory cache) and a second, cached epoch; the benchmark then trains
from that same dataset object (so `fit` reads the cache). If MNIST is not
prepared (see zoo/import_data.py), a synthetic uint8 dataset with the same
cache/shuffle/batch/convert structure is used and the output says so.

PyTorch on CPU (the PyTorch DCGAN example's loop on the same layers, built
from the Keras networks, channels first, torch's own initialization; float32
and bf16 autocast; one cached real batch) is timed as a further peer only if
``import torch`` works; it is an optional extra, never needed.

``--jit_compile`` compiles every variant with XLA (measured slower on a CPU;
off by default, as `fit`'s "auto" is on a CPU-only machine).
"""

import contextlib
import os
import platform
import statistics
import time
import warnings

from absl import app, flags, logging

from paired_stats import PARITY_RESOLUTION, mean_confidence_interval, target_verdict

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

flags.DEFINE_integer("batch_size", 128, "Batch size B (images per training step).", lower_bound=1)
flags.DEFINE_integer("filters", 32, "generator_filters = discriminator_filters (the zoo default).", lower_bound=1)
flags.DEFINE_integer("latent_dim", 100, "Size of z.", lower_bound=1)
flags.DEFINE_integer("rounds", 10, "Timed rounds (every round runs every variant once).", lower_bound=1)
flags.DEFINE_integer("steps_per_round", 30, "Training steps per variant and round (one fit call each for (a)).",
                     lower_bound=1)
flags.DEFINE_integer("warmup_steps", 3, "Untimed steps per variant first (tracing included).", lower_bound=1)
flags.DEFINE_list("precisions", ["float32", "mixed_bfloat16"], "Keras dtype policies to time.")
flags.DEFINE_bool("jit_compile", False, "XLA-compile every variant (fit's jit_compile, tf.function's).")
flags.DEFINE_bool("fused_adam", True, "(a) with GAN.compile(fused_adam=...): TF's fused Adam kernel (kgan's "
                  "default) or Keras 3's elementwise Adam update, the one (b) and (c) use.")
flags.DEFINE_integer("matmul_size", 4096, "n of the n x n x n reference matmul.", lower_bound=1)
flags.DEFINE_integer("matmul_repeats", 2, "Reference matmuls per dtype and round.", lower_bound=1)
flags.DEFINE_bool("torch", True, "Also time PyTorch on CPU if `import torch` works.")
flags.DEFINE_bool("data_autotune", False, "Turn tf.data autotuning back on in the input pipeline (kgan.data "
                  "turns it off: with it, deleting fit's iterator stalls for up to seconds).")
flags.DEFINE_string("data_dir", None, "tfds data dir (default: kgan.data's default).")
flags.DEFINE_integer("seed", 0, "Seed of the networks' initial weights and of kgan's latents.")
flags.DEFINE_bool("quick", False, "Smoke run: 2 rounds of 3 steps, 1 warm-up step, 2048 matmul "
                  "(flags given explicitly win).")
FLAGS = flags.FLAGS

QUICK = {"rounds": 2, "steps_per_round": 3, "warmup_steps": 1, "matmul_size": 2048, "matmul_repeats": 1}
PRECISIONS = ("float32", "mixed_bfloat16")
# Targets from the issue (float32 on the 2-core CPU).
TARGET_A_OVER_B = 1.0
TARGET_A_OVER_C = 0.85
TARGET_BF16_SPEEDUP = 1.7
TARGET_PIPELINE_HEADROOM = 10.0  # cached pipeline images/s over the fastest variant's


@contextlib.contextmanager
def dtype_policy(name):
    import keras
    previous = keras.config.dtype_policy().name
    keras.config.set_dtype_policy(name)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


# ---------------------------------------------------------------------------
# FLOPs
# ---------------------------------------------------------------------------


def forward_flops(model):
    """(FLOPs per image of one forward pass, FLOPs of its first weighted layer): 2 x MACs."""
    import keras
    costs = []
    for layer in model.layers:
        if isinstance(layer, keras.layers.Dense):
            costs.append(2 * int(layer.input.shape[-1]) * layer.units)
        elif isinstance(layer, keras.layers.Conv2DTranspose):  # every input pixel scatters a k x k x Cout patch
            _, h, w, c_in = layer.input.shape
            kh, kw = layer.kernel_size
            costs.append(2 * h * w * kh * kw * c_in * layer.filters)
        elif isinstance(layer, keras.layers.Conv2D):
            _, h, w, _ = layer.output.shape
            kh, kw = layer.kernel_size
            costs.append(2 * h * w * kh * kw * int(layer.input.shape[-1]) * layer.filters)
    return sum(costs), costs[0]


def step_flops(g, d, batch):
    """FLOPs per training step of each algorithm (see the module docstring)."""
    g_fwd, g_first = forward_flops(g)
    d_fwd, d_first = forward_flops(d)
    g_trained = g_fwd + (2 * g_fwd - g_first)
    d_trained = d_fwd + (2 * d_fwd - d_first)
    alternating = batch * g_trained + 2 * batch * d_trained + batch * (d_fwd + d_fwd)
    tutorial = batch * g_trained + 2 * batch * d_trained + batch * d_fwd
    return {"a": alternating, "b": alternating, "c": tutorial, "torch": alternating,
            "g_fwd": g_fwd, "d_fwd": d_fwd}


# ---------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------


def make_dataset(batch_size, data_dir, seed):
    """(dataset, description): kgan's MNIST pipeline, or a synthetic one of the same structure."""
    import numpy as np
    import tensorflow as tf
    from kgan import data
    try:
        return data.load_images("mnist", batch_size=batch_size, data_dir=data_dir, seed=seed), \
            "kgan.data.load_images('mnist') (tfds MNIST train split)"
    except data.DataNotFoundError as error:
        print(f"MNIST is not prepared ({error}); using a synthetic dataset.")
    images = np.random.default_rng(seed).integers(0, 256, (60_000, 28, 28, 1), dtype=np.uint8)
    ds = tf.data.Dataset.from_tensor_slices(images).cache().shuffle(10_000, seed=seed)
    ds = ds.batch(batch_size, drop_remainder=True)
    ds = ds.map(lambda x: tf.cast(x, tf.float32) / 127.5 - 1.0, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE), "SYNTHETIC uint8 60000x28x28x1 (cache/shuffle/batch/convert)"


def measure_pipeline(ds, batch_size):
    """Iterates two full epochs of ``ds``: the first fills its cache, the second reads it."""
    results = []
    for _ in range(2):
        start = time.perf_counter()
        iterator = iter(ds)
        first = None
        batches = 0
        for _batch in iterator:
            if first is None:
                first = time.perf_counter() - start
            batches += 1
        seconds = time.perf_counter() - start
        del iterator  # after the clock: deleting a tf.data iterator can wait for tf.data's autotune thread
        results.append({"batches": batches, "seconds": seconds, "first_batch_s": first,
                        "images_per_s": batches * batch_size / seconds})
    return results


# ---------------------------------------------------------------------------
# Variants
# ---------------------------------------------------------------------------


def step_clock():
    """A fit callback noting when each batch begins and when training ends.

    It has no on_train_batch_end, so `fit` keeps its asynchronous callback dispatch.
    """
    import keras

    class StepClock(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.begins = []
            self.train_end = None

        def on_train_batch_begin(self, batch, logs=None):
            self.begins.append(time.perf_counter())

        def on_train_end(self, logs=None):
            self.train_end = time.perf_counter()

    return StepClock()


class KganFit:
    """(a): kgan's `GAN.train_step` through `fit`, one `fit` call per round."""

    algorithm = "a"

    def __init__(self, precision, dataset, init_weights, jit_compile):
        import keras
        import kgan
        self.precision = precision
        self.name = "(a) kgan fit"
        with dtype_policy(precision):
            self.gan = kgan.DCGAN(image_shape=(28, 28, 1), latent_dim=FLAGS.latent_dim,
                                  generator_filters=FLAGS.filters, discriminator_filters=FLAGS.filters,
                                  seed=FLAGS.seed)
            if init_weights is not None:
                self.gan.generator.set_weights(init_weights[0])
                self.gan.discriminator.set_weights(init_weights[1])
            self.gan.compile(d_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5),
                             g_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5), jit_compile=jit_compile,
                             fused_adam=FLAGS.fused_adam)
        self.dataset = dataset.repeat()
        self.calls = []  # the timed fit calls' breakdowns (seconds), see run()

    def run(self, steps, record=False):
        """Seconds from calling fit to its on_train_end (the teardown after it is recorded apart)."""
        clock = step_clock()
        start = time.perf_counter()
        self.gan.fit(self.dataset, steps_per_epoch=steps, epochs=1, verbose=0, callbacks=[clock])
        returned = time.perf_counter()
        seconds = clock.train_end - start
        if record and steps >= 3:
            begins = clock.begins
            steady = (begins[-1] - begins[1]) / (steps - 2)  # steps 2 .. N-1: one train_function call each
            self.calls.append({
                "steady": steady,
                "overhead": seconds - steps * steady,  # all of the call that is not N steady steps:
                "setup": begins[0] - start,  # fit's set-up before the first step
                "first_step": begins[1] - begins[0] - steady,  # first step's extra: new iterator, shuffle buffer
                "end": clock.train_end - begins[-1] - steady,  # after the last step: epoch end, metrics
                "teardown": returned - clock.train_end,  # after on_train_end until fit returned
                "with_teardown": (returned - start) / steps,
            })
        return seconds

    def median(self, key):
        return statistics.median(call[key] for call in self.calls)


class _TFLoop:
    """A hand-written `tf.function` step over fresh copies of the same networks."""

    def __init__(self, precision, iterator, init_weights, jit_compile):
        import keras
        from kgan.models.dcgan import build_dcgan_discriminator, build_dcgan_generator
        self.precision = precision
        self.iterator = iterator
        with dtype_policy(precision):
            self.g = build_dcgan_generator(FLAGS.latent_dim, (28, 28, 1), FLAGS.filters)
            self.d = build_dcgan_discriminator((28, 28, 1), FLAGS.filters)
            self.g.set_weights(init_weights[0])
            self.d.set_weights(init_weights[1])
            self.g_opt = keras.optimizers.Adam(2e-4, beta_1=0.5)
            self.d_opt = keras.optimizers.Adam(2e-4, beta_1=0.5)
            self.g_opt.build(self.g.trainable_variables)
            self.d_opt.build(self.d.trainable_variables)
            self.cross_entropy = keras.losses.BinaryCrossentropy(from_logits=True)
        import tensorflow as tf
        self.step = tf.function(self.train_step, jit_compile=jit_compile)

    def run(self, steps, record=False):
        del record
        start = time.perf_counter()
        for _ in range(steps):
            losses = self.step(next(self.iterator))
        float(losses[0])  # the last step has finished
        return time.perf_counter() - start


class PyTorchStyleLoop(_TFLoop):
    """(b): kgan's algorithm, written the way the PyTorch DCGAN example writes it."""

    algorithm = "b"
    name = "(b) tf.function, PyTorch-example style"

    def train_step(self, real):
        import tensorflow as tf
        g, d, ce = self.g, self.d, self.cross_entropy
        batch = tf.shape(real)[0]
        z = tf.random.normal([batch, FLAGS.latent_dim])
        with tf.GradientTape() as g_tape:
            fake = g(z, training=True)  # the step's only G forward
        with tf.GradientTape() as d_tape:
            real_logits = d(real, training=True)
            fake_logits = d(tf.stop_gradient(fake), training=True)  # fake.detach()
            d_loss = ce(tf.ones_like(real_logits), real_logits) + ce(tf.zeros_like(fake_logits), fake_logits)
        self.d_opt.apply_gradients(zip(d_tape.gradient(d_loss, d.trainable_variables), d.trainable_variables))
        with g_tape:  # G's recorded forward, scored by the UPDATED D (train mode, as netD(fake))
            logits = d(fake, training=True)
            g_loss = ce(tf.ones_like(logits), logits)
        self.g_opt.apply_gradients(zip(g_tape.gradient(g_loss, g.trainable_variables), g.trainable_variables))
        return d_loss, g_loss


class TutorialLoop(_TFLoop):
    """(c): the TensorFlow DCGAN tutorial's train_step (both nets updated from one pass)."""

    algorithm = "c"
    name = "(c) tf.function, TF DCGAN tutorial"

    def train_step(self, images):
        import tensorflow as tf
        g, d, ce = self.g, self.d, self.cross_entropy
        noise = tf.random.normal([tf.shape(images)[0], FLAGS.latent_dim])
        with tf.GradientTape() as gen_tape, tf.GradientTape() as disc_tape:
            generated_images = g(noise, training=True)
            real_output = d(images, training=True)
            fake_output = d(generated_images, training=True)
            gen_loss = ce(tf.ones_like(fake_output), fake_output)
            disc_loss = ce(tf.ones_like(real_output), real_output) + ce(tf.zeros_like(fake_output), fake_output)
        gradients_of_generator = gen_tape.gradient(gen_loss, g.trainable_variables)
        gradients_of_discriminator = disc_tape.gradient(disc_loss, d.trainable_variables)
        self.g_opt.apply_gradients(zip(gradients_of_generator, g.trainable_variables))
        self.d_opt.apply_gradients(zip(gradients_of_discriminator, d.trainable_variables))
        return disc_loss, gen_loss


class MatmulReference:
    """An n x n x n `tf.linalg.matmul` in a tf.function: the machine's reference GFLOP/s."""

    def __init__(self, dtype, n, repeats):
        import tensorflow as tf
        self.name = f"matmul {n}^3 {dtype}"
        self.dtype = dtype
        self.flops = 2 * n ** 3
        self.repeats = repeats
        a = tf.random.stateless_normal((n, n), (1, 2))
        b = tf.random.stateless_normal((n, n), (3, 4))
        self.a, self.b = tf.cast(a, dtype), tf.cast(b, dtype)
        self.fn = tf.function(tf.autograph.experimental.do_not_convert(  # nothing to convert; keeps the log clean
            lambda x, y: tf.reduce_sum(tf.cast(tf.linalg.matmul(x, y)[:1, :1], tf.float32))))

    def run(self, repeats=None):
        start = time.perf_counter()
        for _ in range(repeats or self.repeats):
            float(self.fn(self.a, self.b))
        return time.perf_counter() - start


def torch_peers(gan, real_batch):
    """PyTorch versions of (b) (the PyTorch DCGAN example's loop) on the same layers, or [] without torch."""
    try:
        import torch
    except Exception:  # pylint: disable=broad-except
        return [], "not installed (optional peer skipped)"
    import keras
    import numpy as np
    nn = torch.nn
    torch.set_num_threads(os.cpu_count() or 1)

    def convert(model):  # the Keras DCGAN layers, channels first
        modules = []
        for layer in model.layers:
            if isinstance(layer, keras.layers.InputLayer):
                continue
            if isinstance(layer, keras.layers.Dense):
                modules.append(nn.Linear(int(layer.input.shape[-1]), layer.units, bias=layer.use_bias))
            elif isinstance(layer, keras.layers.BatchNormalization):
                rank = len(layer.input.shape)
                channels = int(layer.input.shape[-1])
                modules.append(nn.BatchNorm1d(channels) if rank == 2 else nn.BatchNorm2d(channels))
            elif isinstance(layer, keras.layers.ReLU):
                modules.append(nn.ReLU())
            elif isinstance(layer, keras.layers.LeakyReLU):
                modules.append(nn.LeakyReLU(0.2))
            elif isinstance(layer, keras.layers.Reshape):
                h, w, c = layer.target_shape
                modules.append(nn.Unflatten(1, (c, h, w)))
            elif isinstance(layer, keras.layers.Flatten):
                modules.append(nn.Flatten())
            elif isinstance(layer, keras.layers.Conv2DTranspose):
                k, s = layer.kernel_size[0], layer.strides[0]
                modules.append(nn.ConvTranspose2d(int(layer.input.shape[-1]), layer.filters, k, stride=s,
                                                  padding=k // 2, output_padding=s - 1, bias=layer.use_bias))
            elif isinstance(layer, keras.layers.Conv2D):
                k, s = layer.kernel_size[0], layer.strides[0]
                modules.append(nn.Conv2d(int(layer.input.shape[-1]), layer.filters, k, stride=s,
                                         padding=k // 2, bias=layer.use_bias))
            elif isinstance(layer, keras.layers.Activation):
                modules.append(nn.Tanh())
            else:
                raise ValueError(f"No PyTorch counterpart for layer {layer.name}.")
        return nn.Sequential(*modules)

    real = torch.from_numpy(np.ascontiguousarray(np.transpose(real_batch, (0, 3, 1, 2))))

    class TorchLoop:
        algorithm = "torch"
        name = "PyTorch example loop (peer)"

        def __init__(self, precision):
            torch.manual_seed(FLAGS.seed)
            self.precision = precision
            self.g, self.d = convert(gan.generator), convert(gan.discriminator)
            self.g_opt = torch.optim.Adam(self.g.parameters(), lr=2e-4, betas=(0.5, 0.999))
            self.d_opt = torch.optim.Adam(self.d.parameters(), lr=2e-4, betas=(0.5, 0.999))
            self.bce = nn.BCEWithLogitsLoss()
            self.bf16 = precision == "mixed_bfloat16"

        def autocast(self):
            if self.bf16:
                return torch.autocast("cpu", dtype=torch.bfloat16)
            return contextlib.nullcontext()

        def step(self):
            batch = real.shape[0]
            ones, zeros = torch.ones(batch, 1), torch.zeros(batch, 1)
            z = torch.randn(batch, FLAGS.latent_dim)
            with self.autocast():
                fake = self.g(z)
            self.d_opt.zero_grad(set_to_none=True)
            with self.autocast():
                err_d = self.bce(self.d(real).float(), ones) + self.bce(self.d(fake.detach()).float(), zeros)
            err_d.backward()
            self.d_opt.step()
            self.g_opt.zero_grad(set_to_none=True)
            with self.autocast():
                err_g = self.bce(self.d(fake).float(), ones)
            err_g.backward()
            self.g_opt.step()
            return err_d, err_g

        def run(self, steps, record=False):
            del record
            start = time.perf_counter()
            for _ in range(steps):
                losses = self.step()
            float(losses[0])
            return time.perf_counter() - start

    try:
        peers = [TorchLoop(p) for p in FLAGS.precisions]
        for peer in peers:
            peer.run(1)
    except Exception as error:  # pylint: disable=broad-except
        return [], f"torch {torch.__version__} failed: {type(error).__name__}: {error}"
    return peers, f"torch {torch.__version__}, {torch.get_num_threads()} threads"


# ---------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            info = f.read()
    except OSError:
        return platform.processor() or "unknown CPU"
    name = next((line.split(":", 1)[1].strip() for line in info.splitlines() if line.startswith("model name")),
                "unknown CPU")
    flags_line = next((line for line in info.splitlines() if line.startswith("flags")), "")
    extras = [f for f in ("avx512f", "avx512_bf16", "amx_bf16", "amx_tile") if f" {f}" in flags_line]
    return f"{name} ({', '.join(extras) or 'no AVX-512/AMX'})"


def verdict(ok):
    return "PASS" if ok else "FAIL"


def main(argv):
    del argv
    logging.set_verbosity(logging.WARNING)  # tfds's INFO lines
    # fit's default shuffle=True does not apply to a tf.data.Dataset (kgan's pipeline shuffles).
    warnings.filterwarnings("ignore", message=".*shuffle=True.*was passed.*")
    if FLAGS.quick:
        for name, value in QUICK.items():
            if not FLAGS[name].present:
                FLAGS[name].value = value
    unknown = sorted(set(FLAGS.precisions) - set(PRECISIONS))
    if unknown or not FLAGS.precisions:
        raise app.UsageError(f"--precisions must be a non-empty subset of {PRECISIONS}, got {FLAGS.precisions}.")
    precisions = list(dict.fromkeys(FLAGS.precisions))

    import keras
    import tensorflow as tf

    total_start = time.perf_counter()
    batch = FLAGS.batch_size
    print(f"kgan DCGAN training throughput | {cpu_model()}, {os.cpu_count()} logical CPUs | "
          f"TF {tf.__version__}, Keras {keras.__version__}, Python {platform.python_version()} | "
          f"oneDNN opts {os.environ.get('TF_ENABLE_ONEDNN_OPTS', 'default (on)')}")
    print(f"B={batch}, filters={FLAGS.filters} (G and D), latent_dim={FLAGS.latent_dim}, "
          f"Adam(2e-4, beta_1=0.5), jit_compile={FLAGS.jit_compile}, (a) fused_adam={FLAGS.fused_adam}; "
          f"{FLAGS.rounds} rounds x "
          f"{FLAGS.steps_per_round} steps per variant, {FLAGS.warmup_steps} warm-up steps"
          f"{' (--quick)' if FLAGS.quick else ''}")

    # ---- input pipeline, measured alone (and its cache filled) -------------
    dataset, source = make_dataset(batch, FLAGS.data_dir, FLAGS.seed)
    if FLAGS.data_autotune:
        options = tf.data.Options()
        options.autotune.enabled = True
        dataset = dataset.with_options(options)
        source += ", tf.data autotune ON (--data_autotune)"
    pipeline = measure_pipeline(dataset, batch)
    print(f"\nInput pipeline: {source}")
    for label, p in zip(("epoch 1 (read + decode + fill cache)", "epoch 2 (from the cache)"), pipeline):
        print(f"  {label:<38} {p['batches']} batches in {p['seconds']:.2f} s = {p['images_per_s']:>9,.0f} "
              f"images/s (first batch after {p['first_batch_s'] * 1e3:.0f} ms)")

    # ---- variants ------------------------------------------------------------
    build_start = time.perf_counter()
    shared_iterator = iter(dataset.repeat())  # (b) and (c) pull from the same cached pipeline
    variants = []
    init_weights = None
    for precision in precisions:
        a = KganFit(precision, dataset, init_weights, FLAGS.jit_compile)
        if init_weights is None:  # every network of every variant starts from these weights
            init_weights = (a.gan.generator.get_weights(), a.gan.discriminator.get_weights())
        variants += [a, PyTorchStyleLoop(precision, shared_iterator, init_weights, FLAGS.jit_compile),
                     TutorialLoop(precision, shared_iterator, init_weights, FLAGS.jit_compile)]
    flops = step_flops(variants[0].gan.generator, variants[0].gan.discriminator, batch)

    torch_note = "disabled (--notorch)"
    if FLAGS.torch:
        real_batch = next(iter(dataset)).numpy()
        peers, torch_note = torch_peers(variants[0].gan, real_batch)
        variants += peers

    warm = {}
    for variant in variants:
        with dtype_policy(variant.precision):
            start = time.perf_counter()
            variant.run(FLAGS.warmup_steps)
            warm[variant] = time.perf_counter() - start
    print(f"\nBuilt and warmed up {len(variants)} variants in {time.perf_counter() - build_start:.1f} s "
          f"(first calls, tracing included: "
          + ", ".join(f"{v.name.split()[0]} {v.precision} {warm[v]:.1f} s" for v in variants) + ")")
    print(f"PyTorch peer: {torch_note}")

    references = {dtype: MatmulReference(dtype, FLAGS.matmul_size, FLAGS.matmul_repeats)
                  for dtype in ("float32", "bfloat16")}
    for reference in references.values():
        reference.run(1)

    # ---- alternating rounds ----------------------------------------------------
    entries = variants + list(references.values())
    seconds = {entry: [] for entry in entries}
    for round_index in range(FLAGS.rounds):
        shift = round_index % len(entries)
        round_start = time.perf_counter()
        for entry in entries[shift:] + entries[:shift]:
            if isinstance(entry, MatmulReference):
                seconds[entry].append(entry.run() / entry.repeats)
            else:
                with dtype_policy(entry.precision):
                    seconds[entry].append(entry.run(FLAGS.steps_per_round, record=True) / FLAGS.steps_per_round)
        print(f"  round {round_index + 1}/{FLAGS.rounds}: {time.perf_counter() - round_start:.1f} s", flush=True)

    # ---- report ------------------------------------------------------------------
    ref_gflops = {dtype: ref.flops / statistics.median(seconds[ref]) / 1e9 for dtype, ref in references.items()}
    print(f"\nReference: {FLAGS.matmul_size}x{FLAGS.matmul_size} tf.linalg.matmul "
          + ", ".join(f"{dtype} {g:,.0f} GFLOP/s ({statistics.median(seconds[references[dtype]]) * 1e3:.0f} ms)"
                      for dtype, g in ref_gflops.items()) + " (median over the rounds)")
    print(f"Model FLOPs per image (2 x MACs of dense/conv layers): G forward {flops['g_fwd'] / 1e6:.1f} M, "
          f"D forward {flops['d_fwd'] / 1e6:.1f} M; per training step of {batch}: (a)=(b) "
          f"{flops['a'] / 1e9:.2f} GFLOP, (c) {flops['c'] / 1e9:.2f} GFLOP")

    def ref_for(precision):
        return ref_gflops["bfloat16" if precision == "mixed_bfloat16" else "float32"]

    print(f"\n{'variant':<42} {'precision':<15} {'ms/step':>8} {'images/s':>9} {'(min-max)':>13} "
          f"{'GFLOP/s':>8} {'% matmul':>8}")
    rate = {}
    per_round = {}  # (algorithm, precision) -> seconds/step in each round
    for variant in variants:
        per_step = statistics.median(seconds[variant])
        rates = [batch / s for s in seconds[variant]]
        rate[variant.algorithm, variant.precision] = batch / per_step
        per_round[variant.algorithm, variant.precision] = seconds[variant]
        gflops = flops[variant.algorithm] / per_step / 1e9
        share = 100 * gflops / ref_for(variant.precision)
        print(f"{variant.name:<42} {variant.precision:<15} {per_step * 1e3:>8.1f} {batch / per_step:>9.1f} "
              f"{f'({min(rates):.0f}-{max(rates):.0f})':>13} {gflops:>8.1f} {share:>7.1f}%")
    for variant in variants:
        if not isinstance(variant, KganFit) or not variant.calls:
            continue
        steady, ms = variant.median("steady"), lambda key: f"{variant.median(key) * 1e3:.0f} ms"
        print(f"  (a) {variant.precision}: inside fit {steady * 1e3:.1f} ms/step = {batch / steady:.1f} images/s "
              f"(steps 2..N-1); each {FLAGS.steps_per_round}-step fit call adds {ms('overhead')} (set-up "
              f"{ms('setup')}, first step +{ms('first_step')}: new iterator + shuffle buffer fill, end {ms('end')})")
        teardown = [call["teardown"] for call in variant.calls]
        with_teardown = variant.median("with_teardown")
        print(f"      then fit's iterator teardown (after on_train_end, not in (a)): median "
              f"{statistics.median(teardown) * 1e3:.0f} ms, max {max(teardown) * 1e3:.0f} ms, > 100 ms in "
              f"{sum(t > 0.1 for t in teardown)}/{len(teardown)} calls; counted in: {with_teardown * 1e3:.1f} ms/step "
              f"= {batch / with_teardown:.1f} images/s")
    print("  (the teardown is tf.data's: deleting an iterator of an AUTOTUNE pipeline can wait for its autotune\n"
          "   thread's next wake-up, whose period doubles from 10 ms up to 60 s; so it is timed apart)")

    print("\nRatios of images/s, paired: each round's ratio of the two variants, which ran back to back (a change\n"
          "in background load cancels). 'mean' and its 95% confidence interval over the rounds (Student t) judge\n"
          "the targets; the median and range of the per-round ratios and the ratio of the medians above are shown\n"
          "too. PASS: the mean meets the target. PASS (parity): the mean is below it but the target lies inside a\n"
          f"95% interval no wider than +-{PARITY_RESOLUTION:.0%}, i.e. no difference the rounds can resolve. FAIL: the\n"
          "whole interval is below the target, or it is too wide to tell (run more --rounds).")
    print(f"  {'':<44} {'mean':>6} {'95% CI':>13} {'median':>7} {'(min-max)':>13} {'of medians':>10}")
    checks = []

    def ratio(label, num, den, target=None):
        if num not in rate or den not in rate:
            return
        paired = [d / n for n, d in zip(per_round[num], per_round[den])]
        mean, low, high = mean_confidence_interval(paired)
        line = (f"  {label:<44} {mean:5.3f}x {f'({low:.3f}-{high:.3f})':>13} {statistics.median(paired):6.3f}x "
                f"{f'({min(paired):.2f}-{max(paired):.2f})':>13} {rate[num] / rate[den]:9.3f}x")
        if target is not None:
            outcome = target_verdict(mean, low, high, target)
            checks.append(outcome.startswith("PASS"))
            line += f"   target >= {target:.2f}x  {outcome}"
        print(line)

    ratio("kgan fit / (b)            float32", ("a", "float32"), ("b", "float32"), TARGET_A_OVER_B)
    ratio("kgan fit / (c) tutorial   float32", ("a", "float32"), ("c", "float32"), TARGET_A_OVER_C)
    ratio("kgan fit mixed_bfloat16 / float32", ("a", "mixed_bfloat16"), ("a", "float32"), TARGET_BF16_SPEEDUP)
    for precision in precisions:
        fit = next((v for v in variants if isinstance(v, KganFit) and v.precision == precision), None)
        if fit is not None and len(fit.calls) == FLAGS.rounds:
            per_round["a_steady", precision] = [call["steady"] for call in fit.calls]
            rate["a_steady", precision] = batch / fit.median("steady")
            ratio(f"kgan inside fit / (b)     {precision}", ("a_steady", precision), ("b", precision))
    ratio("kgan fit / (b)            mixed_bfloat16", ("a", "mixed_bfloat16"), ("b", "mixed_bfloat16"))
    ratio("kgan fit / (c) tutorial   mixed_bfloat16", ("a", "mixed_bfloat16"), ("c", "mixed_bfloat16"))
    ratio("(b) mixed_bfloat16 / float32", ("b", "mixed_bfloat16"), ("b", "float32"))
    ratio("(c) mixed_bfloat16 / float32", ("c", "mixed_bfloat16"), ("c", "float32"))
    ratio("kgan fit / PyTorch        float32", ("a", "float32"), ("torch", "float32"))
    ratio("kgan fit / PyTorch        mixed_bfloat16", ("a", "mixed_bfloat16"), ("torch", "mixed_bfloat16"))

    fastest = max(batch / statistics.median(seconds[v]) for v in variants)
    headroom = pipeline[1]["images_per_s"] / fastest
    ok = headroom >= TARGET_PIPELINE_HEADROOM
    checks.append(ok)
    print(f"  {'input pipeline (cached) / fastest variant':<44} {headroom:6.0f}x {'':>13} {'':>11}   target >= "
          f"{TARGET_PIPELINE_HEADROOM:.0f}x  {verdict(ok)} (uncached first epoch: "
          f"{pipeline[0]['images_per_s'] / fastest:.0f}x)")
    print(f"\n{sum(checks)}/{len(checks)} targets met; total {time.perf_counter() - total_start:.0f} s")


if __name__ == "__main__":
    app.run(main)
