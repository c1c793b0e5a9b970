"""Train a DCGAN: ``python -m zoo.dcgan --epochs 25 [--head softmax] [--image_size 64]``."""

from absl import app, flags

from zoo import _cli

flags.DEFINE_enum("head", "sigmoid", ["sigmoid", "softmax"],
                  "Discriminator head: dense(1) + sigmoid or dense(2) + softmax.")
flags.DEFINE_integer("generator_filters", 32,
                     "G's last hidden width (x2, x4, x8 before it). 64 is the PyTorch reference's "
                     "64x64 setting; 32 keeps an MNIST epoch at ~2 min fp32 on 2 CPU cores.",
                     lower_bound=1)
flags.DEFINE_integer("discriminator_filters", 32, "D's first conv width (x2, x4, x8 after it).",
                     lower_bound=1)


def build(config, image_shape, num_classes):
    import kgan  # after the flags are checked: see zoo._cli

    return kgan.DCGAN(image_shape=image_shape, latent_dim=config.latent_dim, head=config.family["head"],
                      generator_filters=config.family["generator_filters"],
                      discriminator_filters=config.family["discriminator_filters"], seed=config.seed,
                      precision=config.precision, spectral_norm=config.spectral_norm)


if __name__ == "__main__":
    app.run(_cli.main_for("dcgan", build))
