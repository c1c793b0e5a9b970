"""The one reader: `load` opens a run directory, a ``.keras`` file or an export with one API.

``kgan.load(path)`` returns a `LoadedGAN` whatever the path holds:

* a zoo run directory (its ``model.keras``, see `kgan.training.layout`) or a
  ``.keras`` file: a `KerasGAN`, wrapping the `kgan.GAN` (``.gan``);
* an export (``exports/<name>/<version>``, or ``exports/<name>`` for its
  newest version): an `ExportedGAN`, calling the SavedModel's signatures with
  plain TensorFlow (no Keras model is rebuilt).

Both take the same serving inputs, by the names of the model's contract
(``kgan.contract``), and give the same answers: ``generate(z=..., label=...)``,
``sample(num_images, seed)`` (drawn exactly as the export's ``sample``
signature draws), ``discriminate(images, ...)`` and ``features(images)``.
The latent tools use ``sample_latents`` / ``generator``, which speak the
generator's latents (one-hots where serving takes ids).
"""

import json
import os
import zipfile

import keras
import numpy as np
import tensorflow as tf

from kgan import losses, preset
from kgan.checks import check_count, failed_check_message, one_line
from kgan.contract import Contract
from kgan.gan import GAN
from kgan.models import features as features_lib
from kgan.serving.saved_model import METADATA_FILE
from kgan.serving.signatures import MAX_SAMPLE_IMAGES
from kgan.training.layout import RunLayout

GENERATE_BATCH = 256  # rows per generator call: memory stays bounded for any number of images
SOURCE_HINT = ("pass a zoo run directory (holding model.keras), a .keras file saved with gan.save(...) or an "
               "export directory (exports/<name>[/<version>]), or a preset (preset:<name>, a preset directory, hf://...)")
_REEXPORT = "re-export the run with python -m zoo.export."


# ---- exports on disk ------------------------------------------------------------

def find_export_dir(path):
    """The SavedModel version directory ``path`` names, or None if it is not an export.

    ``path`` may be a version directory (holding ``saved_model.pb``) or a
    model directory ``exports/<name>`` of integer versions (the highest one
    is used, as TF Serving does).
    """
    path = os.fspath(path)
    if not os.path.isdir(path):
        return None
    if os.path.isfile(os.path.join(path, "saved_model.pb")):
        return path
    versions = sorted(int(name) for name in os.listdir(path)
                      if name.isdigit() and os.path.isfile(os.path.join(path, name, "saved_model.pb")))
    return os.path.join(path, str(versions[-1])) if versions else None


def read_export_metadata(export_dir):
    """An export's checked ``kgan_metadata.json`` and the contract it describes.

    Raises:
      ValueError: no, corrupt or incomplete metadata, naming the fix.
    """
    path = os.path.join(export_dir, METADATA_FILE)
    if not os.path.isfile(path):
        raise ValueError(f"{export_dir} is a SavedModel without {METADATA_FILE}: not a kgan export (export a "
                         "run with python -m zoo.export).")
    try:
        with open(path) as f:
            metadata = json.load(f)
    except (ValueError, UnicodeDecodeError) as error:
        raise ValueError(f"{path} is not valid JSON ({one_line(error)}): the export is corrupt; {_REEXPORT}") \
            from None
    if not isinstance(metadata, dict):
        raise ValueError(f"{path} holds a {type(metadata).__name__}, not a JSON object: the export is corrupt; "
                         f"{_REEXPORT}")
    try:
        contract = Contract.from_metadata(metadata)
    except (ValueError, TypeError) as error:
        raise ValueError(f"{path} {error}: the export is corrupt or from another tool; {_REEXPORT}") from None
    return metadata, contract


def open_export(export_dir, signatures=("sample",)):
    """Reads a kgan export: its checked metadata, its contract and the loaded SavedModel.

    Args:
      export_dir: a version directory (``exports/<name>/<version>``).
      signatures: signature names the caller needs.

    Returns:
      (metadata dict, `Contract`, the `tf.saved_model.load` result).

    Raises:
      ValueError: naming the problem (no or corrupt metadata, an incomplete
        contract, a corrupt or partial SavedModel, a missing signature).
    """
    metadata, contract = read_export_metadata(export_dir)
    try:
        loaded = tf.saved_model.load(export_dir)
    except Exception as error:  # corrupt or partial SavedModels raise many types
        raise ValueError(f"Could not load the SavedModel in {export_dir} ({type(error).__name__}: "
                         f"{one_line(error)}); the export is corrupt or incomplete: {_REEXPORT}") from None
    missing = [name for name in signatures if name not in loaded.signatures]
    if missing:
        raise ValueError(f"The export {export_dir} has no {missing} signature(s): not a kgan export "
                         "(export with python -m zoo.export).")
    return metadata, contract, loaded


def load_keras_gan(path):
    """A `kgan.GAN` from a ``.keras`` file (uncompiled: the optimizers are not needed to generate).

    Raises:
      ValueError: not a complete ``.keras`` file of a kgan GAN.
    """
    path = os.fspath(path)
    if not path.endswith(".keras"):
        raise ValueError(f"{path} is not a .keras file: {SOURCE_HINT}.")
    if not zipfile.is_zipfile(path):
        raise ValueError(f"{path} is not a valid .keras file (not a zip archive: corrupt, truncated or another "
                         f"format): {SOURCE_HINT}.")
    try:
        model = keras.models.load_model(path, compile=False)
    except Exception as error:  # zipfile, h5, config and deserialization errors alike
        raise ValueError(f"Could not load {path} as a Keras model ({type(error).__name__}: "
                         f"{one_line(error)}); is the file complete? {SOURCE_HINT[0].upper() + SOURCE_HINT[1:]}.") \
            from None
    if not isinstance(model, GAN):
        raise ValueError(f"{path} holds a {type(model).__name__}, not a kgan GAN: {SOURCE_HINT}.")
    return model


def load(source, precision=None):
    """Opens a model for generation, whatever holds it.

    Args:
      source: a `kgan.GAN`, a `LoadedGAN`, or a path: a zoo run directory
        (``model.keras`` inside), a ``.keras`` file, an export version
        directory or an export model directory (its newest version).
      precision: presets only: compute in this dtype policy instead of the preset's own
        (see `kgan.from_preset`).

    Returns:
      A `LoadedGAN` (`KerasGAN` or `ExportedGAN`).

    Raises:
      FileNotFoundError: the path does not exist.
      ValueError: the path is none of the above, or cannot be loaded; ``precision`` for a source that is
        not a preset, or not one of `kgan.checks.PRECISIONS`.
      TypeError: ``source`` is neither a model nor a path.
    """
    path = os.fspath(source) if isinstance(source, (str, os.PathLike)) else None
    if path is not None and (preset.is_preset_uri(path) or (os.path.isdir(path) and preset.is_preset_dir(path))):
        return KerasGAN(preset.load_preset(path, precision=precision), description=path)
    if path is None and not isinstance(source, (LoadedGAN, GAN)):
        raise TypeError(f"Expected a kgan.GAN or a path, got {type(source).__name__}: {SOURCE_HINT}.")
    if path is not None and not os.path.exists(path):
        raise FileNotFoundError(f"Model path {path} does not exist: {SOURCE_HINT}.")
    if precision is not None:
        raise ValueError(f"precision= applies to presets only, and {path or type(source).__name__} is not one: load "
                         "it without precision=, or publish it as a preset with gan.save_to_preset.")
    if isinstance(source, LoadedGAN):
        return source
    if isinstance(source, GAN):
        return KerasGAN(source)
    if os.path.isdir(path):
        run = RunLayout(path)
        if run.is_run():
            return KerasGAN(load_keras_gan(run.model), description=path)
        export_dir = find_export_dir(path)
        if export_dir:
            return ExportedGAN(export_dir)
        raise ValueError(f"{path} is a directory without model.keras (an unfinished run?) and without a "
                         f"SavedModel: {SOURCE_HINT}.")
    return KerasGAN(load_keras_gan(path), description=path)


# ---- the common API ------------------------------------------------------------------

class LoadedGAN:
    """A generator (and discriminator) behind one API, read from anywhere (see `load`).

    Attributes:
      contract: the model's `kgan.contract.Contract`.
      description: where it came from (a path, or the class name).
      gan: the `kgan.GAN` for Keras sources, None for exports.
    """

    gan = None
    contract = None
    description = ""

    @property
    def family(self):
        return self.contract.family

    @property
    def image_shape(self):
        return self.contract.image_shape

    @property
    def latent_dim(self):
        return self.contract.latent_dim

    def generate(self, **inputs):
        """Images for serving inputs given by name (``z``, ``label``, ...), in batches of `GENERATE_BATCH`.

        Returns:
          float32 numpy ``[N, H, W, C]`` in [-1, 1].

        Raises:
          ValueError / TypeError: inputs that break the contract (names, shapes,
            dtypes, ranges, non-finite values).
        """
        checked = self.contract.check(inputs)
        count = len(checked[self.contract.names[0]])
        parts = [self._generate({name: value[start:start + GENERATE_BATCH] for name, value in checked.items()})
                 for start in range(0, count, GENERATE_BATCH)]
        return np.concatenate(parts).astype(np.float32)

    def sample(self, num_images, seed=0, **given):
        """Draws images as the export's ``sample`` signature does (stream ``[seed, i]`` for input i).

        Args:
          num_images: how many.
          seed: int seed; the same seed gives the same images.
          **given: class-label inputs by name (1 or ``num_images`` ids; default
            ``0, 1, 2, ...`` modulo the class count).

        Returns:
          dict of numpy arrays: ``images`` and every serving input used.
        """
        num_images = check_count("num_images", num_images)
        labels = {}
        for spec in self.contract.class_inputs:
            ids = given.pop(spec.name, np.arange(num_images) % spec.size)
            labels[spec.name] = np.broadcast_to(self.contract.check({spec.name: ids}, [spec.name])[spec.name],
                                                (num_images,)).astype(np.int32)
        if given:
            raise ValueError(f"sample() takes the class inputs {[s.name for s in self.contract.class_inputs]}, "
                             f"not {sorted(given)}.")
        return self._sample(num_images, int(seed), labels)

    def discriminate(self, images, **conditions):
        """D's probability that each image is real (``conditions``: the inputs D is conditioned on)."""
        names = [spec.name for spec in self.contract.discriminator_inputs]
        checked = self.contract.check(conditions, names) if names else {}
        return self._discriminate(self._check_images(images), checked)

    def features(self, images):
        """The DCGAN paper's pooled discriminator features ``[N, F]`` (contracts with ``features``)."""
        if not self.contract.features:
            raise ValueError(f"{self.description} has no DCGAN features: {self.features_problem()}")
        return self._features(self._check_images(images))

    def features_problem(self):
        """Why this model has no DCGAN features (None if it has them)."""
        if self.contract.features:
            return None
        conditions = [spec.name for spec in self.contract.discriminator_inputs]
        if conditions:
            return (f"it is conditional: its discriminator also takes {conditions}, so it has no condition-free "
                    "features to classify with; use an unconditional convolutional model (DCGAN).")
        return ("they are the pooled conv activations of a discriminator that takes images alone and returns one "
                "output (not an MLP's without Conv2D layers, not InfoGAN's "
                "with its Q head); use a convolutional model (DCGAN).")

    def _check_images(self, images):
        images = np.asarray(images, np.float32)
        if images.ndim != 4 or tuple(images.shape[1:]) != self.image_shape:
            raise ValueError(f"images must have shape [N, {', '.join(map(str, self.image_shape))}], got "
                             f"{list(images.shape)}.")
        if not np.isfinite(images).all() or np.abs(images).max(initial=0.0) > 1.0 + 1e-3:
            raise ValueError("images must be finite and in [-1, 1] (pixels / 127.5 - 1).")
        return images

    def _generate(self, inputs):
        raise NotImplementedError

    def _sample(self, num_images, seed, labels):
        raise NotImplementedError

    def _discriminate(self, images, conditions):
        raise NotImplementedError

    def _features(self, images):
        raise NotImplementedError

    def sample_latents(self, batch_size, seed=0):
        """The generator's latents for ``batch_size`` images (for the latent tools)."""
        raise NotImplementedError

    def generator(self, latents, training=False):
        """Images for the generator's latents (for the latent tools)."""
        raise NotImplementedError


class KerasGAN(LoadedGAN):
    """A `kgan.GAN` behind the `LoadedGAN` API.

    Args:
      gan: the model.
      description: where it came from (default: its class name).
    """

    def __init__(self, gan, description=None):
        if not isinstance(gan, GAN):
            raise TypeError(f"Expected a kgan.GAN, got {type(gan).__name__}.")
        self.gan = gan
        self.contract = gan.contract
        self.description = description or type(gan).__name__
        self._feature_model = None

    def _generate(self, inputs):
        latents = self.contract.latents(inputs)
        return keras.ops.convert_to_numpy(self.gan.inference_generator(latents, training=False))

    def _sample(self, num_images, seed, labels):
        inputs = {name: np.asarray(value) for name, value in self.contract.sample(num_images, seed, labels).items()}
        return {**inputs, "images": self.generate(**inputs)}

    def _discriminate(self, images, conditions):
        d_conditions = self.contract.discriminator_conditions(conditions) if conditions else None
        logits, _ = self.gan.split_discriminator_outputs(self.gan.discriminate(images, d_conditions))
        return losses.probability_real(logits).numpy()

    def _features(self, images):
        if self._feature_model is None:
            self._feature_model = features_lib.discriminator_features(self.gan)
        return np.concatenate([keras.ops.convert_to_numpy(self._feature_model(images[i:i + GENERATE_BATCH],
                                                                             training=False))
                               for i in range(0, len(images), GENERATE_BATCH)]).astype(np.float32)

    def sample_latents(self, batch_size, seed=0):
        return self.gan.sample_latents(batch_size, seed=seed)

    def generator(self, latents, training=False):
        return self.gan.inference_generator(latents, training=training)


class ExportedGAN(LoadedGAN):
    """A kgan SavedModel export behind the `LoadedGAN` API: plain TF, no Keras model.

    Latents for the latent tools come from the ``sample`` signature (class
    labels cycle 0, 1, 2, ...), images from ``generate``; latents keep the
    Keras models' structure, so mixing one-hots (interpolating or averaging
    across classes) is refused: exports take integer ids.

    Args:
      export_dir: a version directory holding saved_model.pb and kgan_metadata.json.
    """

    def __init__(self, export_dir):
        self.metadata, self.contract, self.loaded = open_export(export_dir, ("sample", "serving_default"))
        self.signatures = self.loaded.signatures
        self.export_dir = export_dir
        self.description = export_dir

    def call(self, signature, **inputs):
        """Runs a signature; a failed in-graph check becomes a ValueError with its message."""
        try:
            return self.signatures[signature](**inputs)
        except tf.errors.InvalidArgumentError as error:
            raise ValueError(f"The export {self.export_dir} rejected the {signature!r} request: "
                             f"{failed_check_message(error) or one_line(error)}") from None

    def _tensors(self, inputs):
        return {name: tf.constant(value, self.contract.input(name).dtype) for name, value in inputs.items()}

    def _generate(self, inputs):
        return self.call("serving_default", **self._tensors(inputs))["images"].numpy()

    def _sample(self, num_images, seed, labels):
        if num_images > MAX_SAMPLE_IMAGES:
            raise ValueError(f"An export draws at most {MAX_SAMPLE_IMAGES} images at a time (its sample "
                             f"signature's limit), {num_images} were asked for: draw several times with other "
                             "seeds, or use generate().")
        outputs = self.call("sample", num_images=tf.constant(num_images, tf.int32),
                            seed=tf.constant(seed, tf.int32), **self._tensors(labels))
        return {name: value.numpy() for name, value in outputs.items()}

    def _discriminate(self, images, conditions):
        return self.call("discriminate", images=tf.constant(images), **self._tensors(conditions))["probability"].numpy()

    def _features(self, images):
        function = self.signatures["features"]
        return np.concatenate([function(images=tf.constant(images[i:i + GENERATE_BATCH]))["features"].numpy()
                               for i in range(0, len(images), GENERATE_BATCH)]).astype(np.float32)

    def sample_latents(self, batch_size, seed=0):
        if batch_size > MAX_SAMPLE_IMAGES:
            raise ValueError(f"An export draws at most {MAX_SAMPLE_IMAGES} latents at a time (its sample "
                             f"signature's limit), {batch_size} were asked for: lower --num_candidates / --rows "
                             "(two latents per row), or use the run's model.keras.")
        drawn = self.sample(batch_size, seed or 0)
        return self.contract.latents(drawn)

    def generator(self, latents, training=False):
        inputs = self.contract.serving_inputs(latents)
        return tf.constant(self.generate(**inputs))
