"""Generation speed of the shipped presets in their own precision against float32, on this machine.

  python bench/preset_precision.py                    # every preset, 1024 images, 5 paired rounds
  python bench/preset_precision.py --names dcgan_mnist --num_images 256 --rounds 3

Each preset is loaded twice, ``kgan.from_preset(name)`` (the precision it was trained and scored in,
mixed_bfloat16 for the shipped ones) and ``kgan.from_preset(name, precision="float32")``; both generate
the same ``--num_images`` from the same seed once to trace, then in alternating rounds. Printed per
preset: the median images/s of each, the mean of the per-round ratios (own / float32) with its 95%
interval, and the largest pixel difference between the two precisions' images. Whether bfloat16 is
fast depends on the CPU (native bfloat16 instructions: AMX or AVX512_BF16, listed first).
"""

import os
import statistics
import sys
import time

from absl import app, flags

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

flags.DEFINE_list("names", None, "Presets to time (default: every shipped one).")
flags.DEFINE_integer("num_images", 1024, "Images generated per timed call.", lower_bound=1)
flags.DEFINE_integer("rounds", 5, "Paired rounds (own precision, then float32).", lower_bound=1)
FLAGS = flags.FLAGS


def bfloat16_flags():
    """The CPU's native bfloat16 instruction flags (empty where it has none, or off Linux)."""
    try:
        with open("/proc/cpuinfo") as f:
            words = next((line.split(":", 1)[1].split() for line in f if line.startswith("flags")), [])
    except OSError:
        return []
    return sorted(w for w in words if w in ("amx_bf16", "avx512_bf16"))


def timed_generate(gan, num_images):
    start = time.perf_counter()
    images = gan.generate(num_images, seed=0)
    return time.perf_counter() - start, images


def main(argv):
    del argv
    import numpy as np

    import kgan
    from paired_stats import mean_confidence_interval

    print(f"CPU bfloat16 instructions: {', '.join(bfloat16_flags()) or 'none'}; {os.cpu_count()} cores")
    for name in FLAGS.names or list(kgan.list_presets()):
        own = kgan.from_preset(name)
        fp32 = kgan.from_preset(name, precision="float32")
        policy = own.get_config()["precision"]
        _, own_images = timed_generate(own, FLAGS.num_images)
        _, fp32_images = timed_generate(fp32, FLAGS.num_images)
        own_s, fp32_s, ratios = [], [], []
        for _ in range(FLAGS.rounds):
            own_s.append(timed_generate(own, FLAGS.num_images)[0])
            fp32_s.append(timed_generate(fp32, FLAGS.num_images)[0])
            ratios.append(own_s[-1] / fp32_s[-1])
        mean, low, high = mean_confidence_interval(ratios)
        print(f"{name}: {policy} {FLAGS.num_images / statistics.median(own_s):.0f} img/s, float32 "
              f"{FLAGS.num_images / statistics.median(fp32_s):.0f} img/s; time {policy} / float32 = {mean:.2f}x "
              f"(95% CI {low:.2f}-{high:.2f}, {FLAGS.rounds} rounds); max |pixel difference| "
              f"{float(np.abs(own_images - fp32_images).max()):.3f}", flush=True)


if __name__ == "__main__":
    app.run(main)
