"""Train an InfoGAN (paper's MNIST networks): ``python -m zoo.infogan --epochs 10``.

Every epoch writes ``samples/`` (categorical code across columns, one z per row)
and ``continuous_<i>/`` (continuous code i from -2 to 2 across columns, one z and
category per row), as in the paper's figures.
"""

from absl import app, flags

from zoo import _cli

flags.DEFINE_integer("num_categories", 10, "Categories of the categorical code.", lower_bound=2)
flags.DEFINE_integer("num_continuous", 2, "Continuous codes, each ~ U[-1, 1].", lower_bound=1)
flags.DEFINE_float("categorical_weight", 1.0, "lambda of the categorical MI term.", lower_bound=0.0)
flags.DEFINE_float("continuous_weight", 0.1, "lambda of the continuous MI term.", lower_bound=0.0)
flags.DEFINE_enum("head", "sigmoid", ["sigmoid", "softmax"], "Discriminator head.")
FLAGS = flags.FLAGS
FLAGS.set_default("latent_dim", 62)  # the paper's MNIST setting
FLAGS.set_default("g_learning_rate", 1e-3)  # the paper: 2e-4 for D, 1e-3 for G


def build(config, image_shape, num_classes):
    import kgan  # after the flags are checked: see zoo._cli

    family = config.family
    return kgan.ConvInfoGAN(image_shape=image_shape, latent_dim=config.latent_dim,
                            num_categories=family["num_categories"], num_continuous=family["num_continuous"],
                            categorical_weight=family["categorical_weight"],
                            continuous_weight=family["continuous_weight"], head=family["head"], seed=config.seed,
                            precision=config.precision, spectral_norm=config.spectral_norm)


def traversal_grids(config, gan, run, state):
    import kgan

    return [
        kgan.training.SampleGrid(
            run.sample_grids(f"continuous_{i}"), config.grid_size, 9, seed=config.seed, log_dir=run.logs,
            name=f"continuous_{i}", state=state,
            latents_fn=lambda model, r, c, seed, i=i: model.traversal_latents(i, r, c, seed=seed))
        for i in range(gan.num_continuous)
    ]


if __name__ == "__main__":
    app.run(_cli.main_for("infogan", build, traversal_grids))
