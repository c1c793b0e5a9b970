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
from kgan import classifier, latent, metrics

flags.DEFINE_string("model", None, "Run directory (with model.keras) or a .keras file.", required=True)
flags.DEFINE_integer("samples_per_class", 1000, "Samples per label / category.", lower_bound=1)
flags.DEFINE_integer("seed", 123, "Seed of the generated samples.")
FLAGS = flags.FLAGS


def main(argv):
    del argv
    start = time.time()
    gan = latent.load_gan(FLAGS.model)
    n = FLAGS.samples_per_class
    if isinstance(gan, kgan.CGAN):
        labels = np.repeat(np.arange(gan.num_classes), n)
        predicted = classifier.predict_labels(gan.generate(labels=labels, seed=FLAGS.seed))
        per_class = [metrics.label_accuracy(predicted[labels == y], labels[labels == y]) for y in range(gan.num_classes)]
        print(f"CGAN label accuracy: {metrics.label_accuracy(predicted, labels):.4f} over {len(labels)} samples")
        print("per class: " + " ".join(f"{y}:{a:.3f}" for y, a in enumerate(per_class)))
    elif isinstance(gan, kgan.InfoGAN):
        codes = np.repeat(np.arange(gan.num_categories), n)
        predicted = classifier.predict_labels(gan.generate(categories=codes, seed=FLAGS.seed))
        accuracy, mapping = metrics.best_one_to_one_accuracy(codes, predicted, gan.num_categories, 10)
        print(f"InfoGAN categorical code -> class accuracy (best one-to-one map): {accuracy:.4f} "
              f"over {len(codes)} samples")
        print(f"mapping code->class: {mapping}")
        print("confusion (rows: code, cols: class):")
        print(metrics.confusion_matrix(codes, predicted, gan.num_categories, 10))
    else:
        raise app.UsageError(f"{FLAGS.model} holds a {type(gan).__name__}: need a CGAN or an InfoGAN.")
    print(f"wall time {time.time() - start:.1f} s")


if __name__ == "__main__":
    app.run(main)
