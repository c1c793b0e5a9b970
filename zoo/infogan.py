"""Train an InfoGAN (paper's MNIST networks): ``python -m zoo.infogan --epochs 10``.

Every epoch writes ``samples/`` (categorical code across columns, one z per row)
and ``continuous_<i>/`` (continuous code i from -2 to 2 across columns, one z and
category per row), as in the paper's figures.
"""

import os

from absl import app, flags

import kgan
from zoo import _cli

flags.DEFINE_integer("num_categories", 10, "Categories of the categorical code.", lower_bound=2)
flags.DEFINE_integer("num_continuous", 2, "Continuous codes, each ~ U[-1, 1].", lower_bound=1)
flags.DEFINE_float("categorical_weight", 1.0, "lambda of the categorical MI term.", lower_bound=0.0)
flags.DEFINE_float("continuous_weight", 0.1, "lambda of the continuous MI term.", lower_bound=0.0)
flags.DEFINE_enum("head", "sigmoid", ["sigmoid", "softmax"], "Discriminator head.")
FLAGS = flags.FLAGS
FLAGS.set_default("latent_dim", 62)  # the paper's MNIST setting
FLAGS.set_default("g_learning_rate", 1e-3)  # the paper: 2e-4 for D, 1e-3 for G


def build(image_shape, num_classes):
    return kgan.ConvInfoGAN(image_shape=image_shape, latent_dim=FLAGS.latent_dim,
                            num_categories=FLAGS.num_categories, num_continuous=FLAGS.num_continuous,
                            categorical_weight=FLAGS.categorical_weight,
                            continuous_weight=FLAGS.continuous_weight, head=FLAGS.head, seed=FLAGS.seed)


def traversal_grids(gan, output_dir, log_dir):
    rows = FLAGS.grid_size
    return [
        kgan.callbacks.SampleGrid(
            os.path.join(output_dir, f"continuous_{i}"), rows, 9, seed=FLAGS.seed, log_dir=log_dir,
            name=f"continuous_{i}",
            latents_fn=lambda model, r, c, seed, i=i: model.traversal_latents(i, r, c, seed=seed))
        for i in range(gan.num_continuous)
    ]


if __name__ == "__main__":
    app.run(_cli.main_for("infogan", build, traversal_grids))
