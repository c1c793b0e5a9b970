"""Conditional GAN (Mirza & Osindero 2014): G sees the one-hot label; D sees it (concat, projection) or
predicts it (AC-GAN, Odena et al. 2017)."""

import keras
import tensorflow as tf

from kgan.checks import after_checks, check_ids, check_positive_int, fresh_seed
from kgan.contract import class_label
from kgan.gan import GAN, refuse_dict
from kgan.models.base import ArchitectureGAN, check_image_shape, check_precision
from kgan.models.dcgan import CONDITIONINGS, build_dcgan_discriminator, build_dcgan_generator


@keras.saving.register_keras_serializable(package="kgan")
class CGAN(GAN):
    """A conditional GAN from any label-conditioned generator and discriminator.

    D's objective is ``E[log D(x|y)] + E[log(1 - D(G(z|y)))]``; the update is
    `kgan.GAN`'s. `fit` takes ``(images, labels)`` batches with integer labels;
    the fakes' labels are drawn uniformly over the classes.

    With ``conditioning="acgan"`` D takes images only and returns ``[logits, class_logits]``;
    ``class_weight`` times the class cross-entropy on real and generated images is added to
    D's loss, and on generated images to G's.

    Args:
      generator: a Keras model ``[z [N, latent_dim], one-hot label [N, num_classes]] -> images``.
      discriminator: a Keras model ``[images, one-hot label] -> logits`` ("concat", "projection":
        how D uses the label is its own business) or ``images -> [logits, class_logits]`` ("acgan").
      latent_dim: size of z.
      num_classes: number of classes.
      latent_distribution: "normal" or "uniform".
      seed: seed of the latent noise and sampled labels.
      conditioning: "concat", "projection" or "acgan".
      class_weight: weight of AC-GAN's class loss.
      **kwargs: passed to `keras.Model`.
    """

    family_name = "cgan"

    def __init__(self, generator, discriminator, latent_dim, num_classes, latent_distribution="normal",
                 seed=None, conditioning="concat", class_weight=1.0, **kwargs):
        check_positive_int("num_classes", num_classes)
        if conditioning not in CONDITIONINGS:
            raise ValueError(f"conditioning must be one of {CONDITIONINGS}, got {conditioning!r}.")
        if isinstance(class_weight, bool) or not float(class_weight) >= 0.0:
            raise ValueError(f"class_weight must be >= 0, got {class_weight!r}.")
        self.num_classes = num_classes
        self.conditioning = conditioning
        self.class_weight = float(class_weight)
        super().__init__(generator, discriminator, latent_dim, latent_distribution=latent_distribution,
                         seed=seed, **kwargs)
        self.class_real_tracker = keras.metrics.Mean(name="class_real")
        self.class_fake_tracker = keras.metrics.Mean(name="class_fake")

    def latent_inputs(self):
        return (*super().latent_inputs(),
                class_label("label", self.num_classes, conditions_discriminator=self.conditioning != "acgan"))

    def contract_metadata(self):
        return {"num_classes": self.num_classes, "conditioning": self.conditioning}

    @property
    def metrics(self):
        extra = [self.class_real_tracker, self.class_fake_tracker] if self.conditioning == "acgan" else []
        return super().metrics + extra

    def discriminator_inputs(self, images, conditions=None):
        # An AC-GAN's D predicts the label instead of taking it.
        return super().discriminator_inputs(images, None if self.conditioning == "acgan" else conditions)

    def split_discriminator_outputs(self, outputs):
        if self.conditioning != "acgan":
            return outputs, None
        if not isinstance(outputs, (list, tuple)) or len(outputs) != 2:
            raise ValueError("An AC-GAN discriminator must return [logits, class_logits [N, num_classes]].")
        return outputs[0], outputs[1]

    def real_auxiliary_loss(self, real_aux, real_conditions):
        if self.conditioning != "acgan":
            return None
        loss = _class_loss(real_conditions, real_aux)
        self.class_real_tracker.update_state(loss)
        return self.class_weight * loss

    def auxiliary_loss(self, fake_aux, latents, discriminator_step):
        if self.conditioning != "acgan":
            return None
        loss = _class_loss(latents[1], fake_aux)
        if discriminator_step:
            self.class_fake_tracker.update_state(loss)
        return self.class_weight * loss

    def sample_latents(self, batch_size, seed=None, labels=None):
        """Draws ``[z, one_hot(labels)]``; labels uniform over the classes unless given.

        Args:
          batch_size: number of latents.
          seed: None (the model's noise stream) or an int for a reproducible draw.
          labels: optional int class ids ``[batch_size]``.

        Returns:
          ``[z, one-hot labels]``.
        """
        return super().sample_latents(batch_size, seed, label=labels)

    def unpack_batch(self, data):
        refuse_dict(data)
        if not isinstance(data, (tuple, list)) or len(data) < 2:
            raise ValueError(
                "CGAN.fit needs (images, labels) batches with integer labels, e.g. "
                "kgan.data.load_images(..., with_labels=True) or fit(x, y).")
        images, labels = data[0], tf.convert_to_tensor(data[1])
        if not labels.dtype.is_integer:
            raise TypeError(f"CGAN labels must be integer class ids, got dtype {labels.dtype.name}.")
        if labels.shape.rank == 2 and labels.shape[-1] == 1:
            labels = labels[:, 0]
        if labels.shape.rank != 1:
            raise ValueError(f"CGAN labels must have shape [N] (class ids), got {labels.shape}.")
        message = f"CGAN labels must be in [0, {self.num_classes})."
        labels = after_checks(
            labels, tf.debugging.assert_greater_equal(labels, tf.cast(0, labels.dtype), message=message),
            tf.debugging.assert_less(labels, tf.cast(self.num_classes, labels.dtype), message=message))
        return images, tf.one_hot(labels, self.num_classes)

    def grid_shape(self, grid_size):
        return self.num_classes, grid_size

    def grid_latents(self, rows, cols, seed=0):
        """Row r shows class ``r % num_classes``; column c keeps the same z in every row."""
        z = self._sample_z(cols, keras.random.SeedGenerator(seed))
        z = tf.tile(z, [rows, 1])
        labels = tf.repeat(tf.range(rows) % self.num_classes, cols)
        return [z, tf.one_hot(labels, self.num_classes)]

    def generate(self, num_images=None, labels=None, seed=None):
        """Generates images of chosen classes: ``gan.generate(labels=[7, 7, 3])``.

        Args:
          num_images: how many, with uniformly drawn labels (if ``labels`` is None).
          labels: int class ids, one image each.
          seed: int for a reproducible draw (None: random).

        Returns:
          float32 numpy array ``[N, H, W, C]`` in [-1, 1].
        """
        seed = fresh_seed() if seed is None else seed
        if labels is None:
            if num_images is None:
                raise ValueError("Pass labels=[...] (or num_images for random labels).")
            check_positive_int("num_images", num_images)
            latents = self.sample_latents(num_images, seed=seed)
        else:
            labels = check_ids(labels, self.num_classes)
            if num_images is not None and num_images != len(labels):
                raise ValueError(f"num_images={num_images} but {len(labels)} labels were given.")
            latents = self.sample_latents(len(labels), seed=seed, labels=labels)
        return self.generate_from(latents)

    def get_config(self):
        config = super().get_config()
        config.update({"num_classes": self.num_classes, "conditioning": self.conditioning,
                       "class_weight": self.class_weight})
        return config


def _class_loss(one_hot_labels, class_logits):
    return tf.reduce_mean(keras.losses.categorical_crossentropy(
        tf.cast(one_hot_labels, tf.float32), tf.cast(class_logits, tf.float32), from_logits=True))


@keras.saving.register_keras_serializable(package="kgan")
class ConditionalDCGAN(ArchitectureGAN, CGAN):
    """CGAN with DCGAN networks: the one-hot label is concatenated to z; D takes it as constant
    image channels concatenated to its input ("concat"), as a class projection of its features
    ("projection"), or predicts it with a second head ("acgan").

    Args:
      image_shape: (S, S, C) square images.
      num_classes: number of classes (10 for MNIST).
      latent_dim: size of z.
      head: D head, "sigmoid" or "softmax".
      generator_filters: G's last hidden width.
      discriminator_filters: D's first conv width.
      kernel_size: conv kernel size.
      latent_distribution: "normal" or "uniform".
      seed: seed of the latent noise and sampled labels.
      precision: the networks' dtype policy (None: Keras' global policy); outputs stay float32.
      conditioning: how D uses the label: "concat", "projection" or "acgan".
      class_weight: weight of AC-GAN's class loss.
      spectral_norm: spectrally normalize D's conv and dense layers.
      **kwargs: passed to `keras.Model`.
    """

    def __init__(self, image_shape=(28, 28, 1), num_classes=10, latent_dim=100, head="sigmoid",
                 generator_filters=64, discriminator_filters=64, kernel_size=5, latent_distribution="normal",
                 seed=None, precision=None, conditioning="concat", class_weight=1.0, spectral_norm=False, **kwargs):
        image_shape = check_image_shape(image_shape)
        check_positive_int("num_classes", num_classes)
        precision = check_precision(precision)
        arch = {"image_shape": image_shape, "num_classes": num_classes, "head": head,
                "generator_filters": generator_filters, "discriminator_filters": discriminator_filters,
                "kernel_size": kernel_size, "precision": precision, "conditioning": conditioning,
                "class_weight": class_weight, "spectral_norm": bool(spectral_norm)}
        super().__init__(
            generator=build_dcgan_generator(latent_dim, image_shape, generator_filters, kernel_size, num_classes,
                                            dtype=precision),
            discriminator=build_dcgan_discriminator(image_shape, discriminator_filters, kernel_size, head,
                                                    num_classes, dtype=precision, conditioning=conditioning,
                                                    spectral_norm=spectral_norm),
            latent_dim=latent_dim, num_classes=num_classes, latent_distribution=latent_distribution, seed=seed,
            conditioning=conditioning, class_weight=class_weight, **kwargs)
        self._arch = arch
