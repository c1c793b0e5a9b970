"""Train the vanilla MLP GAN of Goodfellow et al. 2014: ``python -m zoo.gan --epochs 25``."""

from absl import app, flags

from zoo import _cli

flags.DEFINE_enum("latent_distribution", "uniform", ["uniform", "normal"],
                  "z ~ U[-1, 1] (as in the paper) or N(0, 1).")


def build(config, image_shape, num_classes):
    import kgan  # after the flags are checked: see zoo._cli

    return kgan.VanillaGAN(image_shape=image_shape, latent_dim=config.latent_dim,
                           latent_distribution=config.family["latent_distribution"], seed=config.seed,
                           precision=config.precision, spectral_norm=config.spectral_norm)


if __name__ == "__main__":
    app.run(_cli.main_for("gan", build))
