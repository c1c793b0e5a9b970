"""Scores the trained G and its EMA from the same runs (the EMA is passive: G's trajectory is the same).

  python bench/ema_pairs.py runs/bench_toolkit/*ema*/  [--num_samples 10000]

For each run with an EMA generator: the metrics of the EMA generator (what the run samples with)
and of the trained G at the same step, on the same samples' seeds, a paired comparison.
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

KEYS = (("classifier_score", "CS"), ("frechet_distance", "FD"), ("precision", "P"), ("recall", "R"),
        ("label_accuracy", "label acc"), ("code_accuracy", "code acc"))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+")
    parser.add_argument("--num_samples", type=int, default=10000)
    args = parser.parse_args()
    import keras  # pylint: disable=import-outside-toplevel
    from kgan import evaluation  # pylint: disable=import-outside-toplevel

    print("| run | generator | " + " | ".join(title for _, title in KEYS) + " |")
    print("|---|---|" + "---|" * len(KEYS))
    for run in args.runs:
        gan = keras.models.load_model(os.path.join(run, "model.keras"), compile=False)
        if gan.ema_generator is None:
            continue
        rows = [("EMA", evaluation.evaluate(gan, num_samples=args.num_samples))]
        gan.ema_generator = None  # the trained G samples now
        rows.append(("trained G", evaluation.evaluate(gan, num_samples=args.num_samples)))
        for label, scores in rows:
            cells = [f"{scores[key]['value']:.4g}" if key in scores else "" for key, _ in KEYS]
            print(f"| {os.path.basename(os.path.normpath(run))} | {label} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
