"""Any-data throughput: the image-folder pipeline vs DCGAN training at 64x64x3, the first (decoding) epoch,
InceptionV3 feature images/s, and the time of a 64x64 epoch for every trainer.

  python bench/any_data.py            # full run (about 6-10 min on a 2-core CPU)
  python bench/any_data.py --quick    # smoke run

All in one process, on a folder of synthetic JPEG "photos" (160x120, three class
sub-folders) written to a temporary directory:

1. Folder pipeline, later epochs: ``kgan.data.load_image_folder(size 64)`` from its
   decoded cache, against the zoo DCGAN's training step (`zoo.dcgan`'s default
   widths, 64x64x3, the same batch size), in paired rounds: every round times
   ``4 x --batches`` pipeline batches (after draining the two the prefetch buffer
   filled meanwhile) and ``--batches`` training steps back to back;
   the ratio pipeline images/s / training images/s is reported as the mean over
   rounds with its 95% interval (target: >= 5).
2. The first epoch: one epoch of training on a cold cache (every image decoded
   by the pipeline's worker threads while training runs) against the same epoch on
   the warm cache; the difference is what decoding adds. The cold pipeline alone
   (no training) is timed too.
3. InceptionV3 features (`kgan.evaluation.extractors.inception_v3`, random weights:
   the same FLOPs as ImageNet's) images/s on 32x32x3 inputs resized to 299.
4. Per trainer (zoo defaults, batch 128, 64x64x3, float32 and mixed_bfloat16): seconds
   per step and the time of an epoch over 10000 images.
"""

import argparse
import os
import sys
import tempfile
import time

import numpy as np
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from paired_stats import mean_confidence_interval, target_verdict  # noqa: E402

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

import kgan  # noqa: E402
from kgan.data import pipeline  # noqa: E402
from kgan.evaluation import extractors  # noqa: E402


def make_photos(root, count, seed=0):
    """Smooth random colour fields with noise, saved as quality-90 JPEGs in 3 class folders."""
    rng = np.random.default_rng(seed)
    for i in range(count):
        low = rng.uniform(0, 255, (4, 5, 3))
        image = np.asarray(Image.fromarray(low.astype(np.uint8)).resize((160, 120), Image.Resampling.BICUBIC),
                           np.float32)
        image = np.clip(image + rng.normal(0, 12, image.shape), 0, 255).astype(np.uint8)
        folder = os.path.join(root, ("a", "b", "c")[i % 3])
        os.makedirs(folder, exist_ok=True)
        Image.fromarray(image).save(os.path.join(folder, f"{i:05d}.jpg"), quality=90)


def build(family, precision):
    shape = (64, 64, 3)
    if family == "dcgan":
        gan = kgan.DCGAN(image_shape=shape, generator_filters=32, discriminator_filters=32, precision=precision)
    elif family == "cgan":
        gan = kgan.ConditionalDCGAN(image_shape=shape, num_classes=3, generator_filters=32,
                                    discriminator_filters=32, precision=precision)
    elif family == "infogan":
        gan = kgan.ConvInfoGAN(image_shape=shape, num_categories=3, precision=precision)
    else:
        gan = kgan.VanillaGAN(image_shape=shape, precision=precision)
    gan.compile(d_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5),
                g_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5))
    return gan


def train_rate(gan, batch_size, steps, labels=False):
    """Images/s of ``steps`` fit steps (after a warm-up fit) on an in-memory batch."""
    images = tf.random.uniform((batch_size, 64, 64, 3), -1, 1)
    data = (images, tf.zeros((batch_size,), tf.int32) % 3) if labels else images
    dataset = tf.data.Dataset.from_tensors(data).repeat()
    gan.fit(dataset, steps_per_epoch=2, epochs=1, verbose=0)
    start = time.perf_counter()
    gan.fit(dataset, steps_per_epoch=steps, epochs=1, verbose=0)
    return batch_size * steps / (time.perf_counter() - start)


def pipeline_rate(iterator, batch_size, batches):
    """Images/s of ``batches`` batches, after draining the 2 the prefetch buffer filled in the meantime."""
    for _ in range(2):
        next(iterator)
    start = time.perf_counter()
    for _ in range(batches):
        next(iterator)
    return batch_size * batches / (time.perf_counter() - start)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--images", type=int, default=3072)
    parser.add_argument("--batch_size", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--batches", type=int, default=6)
    args = parser.parse_args()
    if args.quick:
        args.images, args.rounds, args.batches = 768, 2, 2
    bs = args.batch_size
    print(f"TF {tf.__version__}, Keras {keras.__version__}, {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory() as tmp:
        photos = os.path.join(tmp, "photos")
        t = time.perf_counter()
        make_photos(photos, args.images)
        print(f"{args.images} 160x120 JPEGs written in {time.perf_counter() - t:.1f} s")

        def folder(cache, start_batch=0):
            return pipeline.load_image_folder(photos, batch_size=bs, image_size=64, seed=0, start_batch=start_batch,
                                              cache_dir=os.path.join(tmp, cache))

        # -- the cold pipeline alone, then the paired rounds on the warm cache
        t = time.perf_counter()
        per_pass = args.images // bs
        cold = iter(folder("alone"))
        for _ in range(per_pass):
            next(cold)
        cold_s = time.perf_counter() - t
        print(f"\n1. Cold folder pipeline alone (decode + crop + resize, {os.cpu_count()} threads): "
              f"{per_pass * bs / cold_s:.0f} images/s ({cold_s:.1f} s for one pass)")
        dcgan = build("dcgan", "float32")
        warm = iter(folder("alone", start_batch=per_pass))
        ratios, pipe_rates, train_rates = [], [], []
        for _ in range(args.rounds):
            pipe = pipeline_rate(warm, bs, 4 * args.batches)
            train = train_rate(dcgan, bs, args.batches)
            ratios.append(pipe / train)
            pipe_rates.append(pipe)
            train_rates.append(train)
        mean, low, high = mean_confidence_interval(ratios)
        print(f"   Warm (cached) pipeline: median {np.median(pipe_rates):.0f} images/s; DCGAN 64x64x3 float32 "
              f"training step (batch {bs}): median {np.median(train_rates):.1f} images/s")
        print(f"   pipeline / training = {mean:.1f} (95% CI {low:.1f}-{high:.1f}, {args.rounds} paired rounds): "
              f"{target_verdict(mean, low, high, 5.0)} (target >= 5)")

        # -- the first epoch while training, cold vs warm
        steps = per_pass
        times = {}
        for name, cache in (("cold", "epoch"), ("warm", "epoch")):
            dataset = folder(cache)
            t = time.perf_counter()
            dcgan.fit(dataset, steps_per_epoch=steps, epochs=1, verbose=0)
            times[name] = time.perf_counter() - t
        print(f"\n2. One DCGAN epoch ({steps} steps of {bs}) on a cold cache (decoding while training): "
              f"{times['cold']:.1f} s; on the warm cache: {times['warm']:.1f} s; decoding adds "
              f"{times['cold'] - times['warm']:.1f} s ({(times['cold'] / times['warm'] - 1) * 100:.0f}%), against "
              f"{cold_s * steps / per_pass:.1f} s of decoding alone")

        # -- InceptionV3 features
        inception = extractors.inception_v3(None)
        images = np.random.default_rng(0).uniform(-1, 1, (50, 32, 32, 3)).astype(np.float32)
        inception(images)  # warm-up
        rates = []
        for _ in range(max(2, args.rounds // 2)):
            t = time.perf_counter()
            inception(np.concatenate([images] * 2))
            rates.append(100 / (time.perf_counter() - t))
        print(f"\n3. InceptionV3 pool features (299x299 after resizing, batch 50, float32): median "
              f"{np.median(rates):.1f} images/s (10000 samples: {10000 / np.median(rates) / 60:.1f} min)")

        # -- each trainer at 64x64
        print(f"\n4. Training at 64x64x3, zoo default widths, batch {bs} (epoch = 10000 images):")
        print("   trainer  precision        s/step  epoch_min")
        for family in ("dcgan", "cgan", "infogan", "gan"):
            for precision in ("float32", "mixed_bfloat16"):
                gan = build(family, precision)
                rate = train_rate(gan, bs, max(2, args.batches // 2), labels=family == "cgan")
                print(f"   {family:7}  {precision:15} {bs / rate:7.2f}  {10000 / rate / 60:9.1f}")


if __name__ == "__main__":
    main()
