"""How well a trained CGAN obeys its label, or an InfoGAN's categorical code separates digits.

Scores generated MNIST digits with kgan's shipped MNIST classifier:

  python bench/conditional_quality.py --model runs/cgan [--samples_per_class 1000]
  python bench/conditional_quality.py --model runs/infogan

CGAN: the fraction of samples generated for label y that the classifier calls y
(overall and per class). InfoGAN: the accuracy of the categorical code as a class
prediction under the best one-to-one code->class mapping (the paper reports 5%
error on MNIST).
"""

import time

import numpy as np
from absl import app, flags

import kgan
from kgan.evaluation import classifier, metrics

flags.DEFINE_string("model", None, "Run directory (with model.keras), a .keras file or an export.", required=True)
flags.DEFINE_integer("samples_per_class", 1000, "Samples per label / category.", lower_bound=1)
flags.DEFINE_integer("seed", 123, "Seed of the generated samples.")
FLAGS = flags.FLAGS


def main(argv):
    del argv
    start = time.time()
    model = kgan.load(FLAGS.model)
    ids = model.contract.class_inputs + model.contract.code_inputs
    if not ids:
        raise app.UsageError(f"{FLAGS.model} is a {model.family} model without class labels or categorical codes.")
    n = FLAGS.samples_per_class
    for spec in ids:
        values = np.repeat(np.arange(spec.size), n).astype(np.int32)
        inputs = model.contract.draw_numpy(len(values), np.random.default_rng(FLAGS.seed))
        predicted = classifier.predict_labels(model.generate(**dict(inputs, **{spec.name: values})))
        if spec.role == "class":
            per_class = [metrics.label_accuracy(predicted[values == y], values[values == y]) for y in range(spec.size)]
            print(f"{spec.name} label accuracy: {metrics.label_accuracy(predicted, values):.4f} over {len(values)} "
                  "samples")
            print("per class: " + " ".join(f"{y}:{a:.3f}" for y, a in enumerate(per_class)))
        else:
            accuracy, mapping = metrics.best_one_to_one_accuracy(values, predicted, spec.size, 10)
            print(f"{spec.name} -> class accuracy (best one-to-one map): {accuracy:.4f} over {len(values)} samples")
            print(f"mapping code->class: {mapping}")
            print("confusion (rows: code, cols: class):")
            print(metrics.confusion_matrix(values, predicted, spec.size, 10))
    print(f"wall time {time.time() - start:.1f} s")


if __name__ == "__main__":
    app.run(main)
