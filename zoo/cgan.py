"""Train a conditional DCGAN: ``python -m zoo.cgan --epochs 10 [--conditioning projection|acgan]``.

The per-epoch grid has one row per class (0..9), the same z in every column.
"""

from absl import app, flags

from zoo import _cli

flags.DEFINE_enum("head", "sigmoid", ["sigmoid", "softmax"],
                  "Discriminator head: dense(1) + sigmoid or dense(2) + softmax.")
flags.DEFINE_integer("generator_filters", 32, "G's last hidden width (x2, x4, x8 before it).", lower_bound=1)
flags.DEFINE_integer("discriminator_filters", 32, "D's first conv width (x2, x4, x8 after it).", lower_bound=1)
flags.DEFINE_float("class_weight", 1.0, "--conditioning acgan: weight of the class loss added to D's and G's.",
                   lower_bound=0.0)


def build(config, image_shape, num_classes):
    import kgan  # after the flags are checked: see zoo._cli

    if not num_classes or num_classes < 2:
        what = f"--image_dir {config.image_dir}" if config.image_dir else f"--dataset {config.dataset}"
        raise ValueError(f"{what} has {num_classes or 'no'} class label{'s' if num_classes != 1 else ''}; a CGAN "
                         "needs at least 2 (a labelled dataset, or a folder with one sub-folder per class).")
    return kgan.ConditionalDCGAN(image_shape=image_shape, num_classes=num_classes, latent_dim=config.latent_dim,
                                 head=config.family["head"], generator_filters=config.family["generator_filters"],
                                 discriminator_filters=config.family["discriminator_filters"], seed=config.seed,
                                 precision=config.precision, conditioning=config.conditioning,
                                 class_weight=config.family["class_weight"], spectral_norm=config.spectral_norm)


if __name__ == "__main__":
    app.run(_cli.main_for("cgan", build))
