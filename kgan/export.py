"""Export trained GANs as SavedModels in TF Serving's layout, with a fixed contract.

``export_saved_model(gan, "exports", "dcgan")`` writes ``exports/dcgan/<version>/``
(next free integer version; an existing version is never touched) with these
signatures (method tensorflow/serving/predict), plain TF graphs that load
without kgan:

* ``serving_default`` = ``generate``: ``z`` float32 [None, latent_dim] (+ ``label``
  int32 [None] for CGAN; + ``categorical_code`` int32 [None] and
  ``continuous_code`` float32 [None, L] for InfoGAN) -> ``images`` float32
  [None, H, W, C] in [-1, 1].
* ``sample``: ``num_images`` int32 scalar, ``seed`` int32 scalar (+ ``label``
  int32 [num_images or 1] for CGAN) -> ``images`` and the latents used; latents
  are drawn in the graph with stateless ops, so a seed always gives the same images.
* ``discriminate``: ``images`` (+ ``label``) -> ``probability`` float32 [None]
  that each image is real.
* ``features`` (unconditional conv discriminators, i.e. DCGAN): ``images`` ->
  ``features`` float32 [None, F] (see `kgan.features`).

Bad requests fail with an InvalidArgumentError naming the input and what it
must be: wrong shapes (checked at run time: neither TF Serving nor a Python
caller's fallback to the flat signature enforces the declared shapes), inputs
disagreeing on the batch size or holding no row, non-finite z or codes, labels
or codes out of range, images outside [-1, 1], num_images or seed that are not
one integer, num_images outside [1, MAX_SAMPLE_IMAGES]. Wrong dtypes are
rejected by TF before the graph runs (its message names the expected
TensorSpec).

Next to the model: ``kgan_metadata.json`` (latent/label/code sizes, image shape,
value range, training epochs, metrics) and ``assets.extra/tf_serving_warmup_requests``
(one PredictionLog per signature). ``write_models_config`` lists every exported
model in ``<base>/models.config`` for ``tensorflow_model_server --model_config_file``.
"""

import json
import os
import re
import shutil
import tempfile

import keras
import numpy as np
import tensorflow as tf

from kgan import features as features_lib
from kgan import losses
from kgan.gan import GAN, after_checks, one_line
from kgan.models.cgan import CGAN
from kgan.models.infogan import InfoGAN

MAX_SAMPLE_IMAGES = 1024
METADATA_FILE = "kgan_metadata.json"
WARMUP_FILE = os.path.join("assets.extra", "tf_serving_warmup_requests")
_RANGE_TOLERANCE = 1e-3


# ---- the per-model description ----------------------------------------------

def family(gan):
    """'infogan', 'cgan', 'dcgan' or 'gan': how a model's signatures look."""
    if isinstance(gan, InfoGAN):
        return "infogan"
    if isinstance(gan, CGAN):
        return "cgan"
    if any(isinstance(layer, keras.layers.Conv2D) for layer in gan.discriminator.layers):
        return "dcgan"
    return "gan"


def describe(gan):
    """The model's serving contract as a JSON-able dict.

    Args:
      gan: a `kgan.GAN`.

    Returns:
      dict with family, class, latent_dim, latent_distribution, image_shape,
      value_range and (by family) num_classes / num_categories, num_continuous,
      feature_dim.
    """
    description = {
        "family": family(gan),
        "class": type(gan).__name__,
        "latent_dim": gan.latent_dim,
        "latent_distribution": gan.latent_distribution,
        "image_shape": list(gan.image_shape),
        "value_range": [-1.0, 1.0],
        "inputs": {"z": {"dtype": "float32", "shape": [None, gan.latent_dim]}},
    }
    if isinstance(gan, CGAN):
        description["num_classes"] = gan.num_classes
        description["inputs"]["label"] = {"dtype": "int32", "shape": [None], "range": [0, gan.num_classes - 1]}
    if isinstance(gan, InfoGAN):
        description.update(num_categories=gan.num_categories, num_continuous=gan.num_continuous)
        description["inputs"]["categorical_code"] = {"dtype": "int32", "shape": [None],
                                                     "range": [0, gan.num_categories - 1]}
        description["inputs"]["continuous_code"] = {"dtype": "float32", "shape": [None, gan.num_continuous]}
    if description["family"] == "dcgan":
        description["feature_dim"] = int(features_lib.discriminator_features(gan).output.shape[-1])
    return description


# ---- float32 networks with serving inputs -----------------------------------

def float32_model(model):
    """Returns ``model`` if it computes in float32, else a float32 rebuild with its weights.

    A network trained under a mixed precision policy (e.g. mixed_bfloat16) is
    rebuilt from its config with every layer in float32, then the weights are
    copied (they are float32 variables under mixed precision anyway).
    """
    if all(layer.dtype_policy.name == "float32" for layer in model._flatten_layers()):
        return model
    def to_float32(node):
        if isinstance(node, dict):
            if "DTypePolicy" in str(node.get("class_name", "")):
                return "float32"
            return {key: to_float32(value) for key, value in node.items()}
        if isinstance(node, list):
            return [to_float32(value) for value in node]
        return "float32" if isinstance(node, str) and node.startswith("mixed_") else node

    rebuilt = model.__class__.from_config(to_float32(model.get_config()))
    rebuilt.set_weights(model.get_weights())
    return rebuilt


@keras.saving.register_keras_serializable(package="kgan")
class OneHot(keras.layers.Layer):
    """int class ids ``[N]`` -> float32 one-hot ``[N, depth]`` (ids out of range give zeros)."""

    def __init__(self, depth, **kwargs):
        super().__init__(**kwargs)
        self.depth = depth

    def call(self, ids):
        return tf.one_hot(tf.cast(ids, tf.int32), self.depth, dtype=tf.float32)

    def compute_output_shape(self, input_shape):
        return (*input_shape, self.depth)

    def get_config(self):
        return {**super().get_config(), "depth": self.depth}


def serving_inputs(gan):
    """Named Keras inputs of the serving contract for ``gan``'s generator."""
    inputs = {"z": keras.Input((gan.latent_dim,), name="z")}
    if isinstance(gan, CGAN):
        inputs["label"] = keras.Input((), dtype="int32", name="label")
    if isinstance(gan, InfoGAN):
        inputs["categorical_code"] = keras.Input((), dtype="int32", name="categorical_code")
        inputs["continuous_code"] = keras.Input((gan.num_continuous,), name="continuous_code")
    return inputs


def serving_generator(gan):
    """A float32 Keras model from the serving inputs (ints, not one-hots) to images.

    Inputs are named as in the SavedModel contract; CGAN's ``label`` and InfoGAN's
    ``categorical_code`` are int32 ids, one-hot encoded inside the model. TF-Lite
    exports convert this model (z is an input: TF's random ops are not builtins).

    Returns:
      A functional `keras.Model` sharing the float32 generator's weights.
    """
    generator = float32_model(gan.generator)
    inputs = serving_inputs(gan)
    if isinstance(gan, InfoGAN):
        latents = [inputs["z"], OneHot(gan.num_categories, name="categorical_one_hot")(inputs["categorical_code"]),
                   inputs["continuous_code"]]
    elif isinstance(gan, CGAN):
        latents = [inputs["z"], OneHot(gan.num_classes, name="label_one_hot")(inputs["label"])]
    else:
        latents = inputs["z"]
    return keras.Model(inputs, generator(latents, training=False), name="serving_generator")


# ---- signatures -------------------------------------------------------------

def _shape_text(shape):
    return "[" + ", ".join("N" if d is None else str(d) for d in shape) + "]"


def _check_shape(tensor, shape, name):
    """``tensor`` after a run-time check that its shape is ``shape`` (None: any size).

    A signature's TensorSpec is not enforced when it runs: TF Serving feeds
    whatever a request holds, and so does a Python caller whose arguments fail
    the binding (TF then calls the flat signature), while the graph was
    optimized for the declared shape. So the actual shape is compared, as text
    (the declared dims cannot be constant-folded away), before anything runs.
    """
    actual = tf.strings.reduce_join(tf.strings.as_string(tf.shape(tensor)), separator=", ")
    ok = tf.strings.regex_full_match(actual, ", ".join(r"\d+" if d is None else str(d) for d in shape))
    message = tf.strings.join([f"{name} must have shape {_shape_text(shape)}, got [", actual, "]"])
    return after_checks(tensor, tf.debugging.Assert(ok, [message]))


def _check_batch(tensors):
    """``tensors`` (by name) after a run-time check that they share one batch size N >= 1."""
    names = list(tensors)
    sizes = [tf.shape(tensors[name])[0] for name in names]
    ok = tf.reduce_all(tf.stack([size >= 1 for size in sizes] + [tf.equal(size, sizes[0]) for size in sizes[1:]]))
    if len(names) == 1:
        parts = [f"{names[0]} must hold at least one row (batch size N >= 1), got N = ", tf.strings.as_string(sizes[0])]
    else:
        parts = [f"{', '.join(names)} must have the same batch size N >= 1 (one row per image), got"]
        for index, (name, size) in enumerate(zip(names, sizes)):
            parts += [f"{',' if index else ''} {name}: ", tf.strings.as_string(size)]
    check = tf.debugging.Assert(ok, [tf.strings.join(parts)])
    return {name: after_checks(tensor, check) for name, tensor in tensors.items()}


def _check_scalar(value, name):
    """``value`` as a scalar, after a run-time check that it holds exactly one integer.

    A one-element vector (what TF Serving's row-format REST requests make of a
    scalar) is accepted as that scalar.
    """
    flat = tf.reshape(value, [-1])
    values = tf.strings.reduce_join(tf.strings.as_string(flat), separator=", ")
    ok = tf.strings.regex_full_match(values, r"-?\d+")
    message = tf.strings.join([f"{name} must be one int32 scalar, got [", tf.strings.substr(values, 0, 80), "]"])
    return after_checks(flat, tf.debugging.Assert(ok, [message]))[0]  # slice only a checked vector


def _check_ids(ids, count, name):
    message = f"{name} must be in [0, {count - 1}]"
    return after_checks(ids, tf.debugging.assert_greater_equal(ids, 0, message=message),
                  tf.debugging.assert_less(ids, count, message=message))


def _check_finite(values, name):
    return tf.debugging.assert_all_finite(values, f"{name} must be finite (no NaN/Inf)")


def _check_range(images):
    check = tf.debugging.assert_less_equal(
        tf.reduce_max(tf.abs(images)), 1.0 + _RANGE_TOLERANCE,
        message="images must be float32 in [-1, 1] (pixels / 127.5 - 1)")
    return after_checks(images, check)


def _checked_shapes(inputs, shapes):
    """The inputs named in ``shapes`` after their shape and shared batch-size checks."""
    return _check_batch({name: _check_shape(inputs[name], shape, name) for name, shape in shapes.items()})


def _checked_inputs(gan, inputs):
    """Validates a request's generator inputs inside the graph."""
    shapes = {"z": (None, gan.latent_dim)}
    if isinstance(gan, CGAN):
        shapes["label"] = (None,)
    if isinstance(gan, InfoGAN):
        shapes.update(categorical_code=(None,), continuous_code=(None, gan.num_continuous))
    checked = _checked_shapes(inputs, shapes)
    checked["z"] = _check_finite(checked["z"], "z")
    if isinstance(gan, CGAN):
        checked["label"] = _check_ids(checked["label"], gan.num_classes, "label")
    if isinstance(gan, InfoGAN):
        checked["categorical_code"] = _check_ids(checked["categorical_code"], gan.num_categories, "categorical_code")
        checked["continuous_code"] = _check_finite(checked["continuous_code"], "continuous_code")
    return checked


class _Endpoints:
    """Builds the signature functions of one model (float32 networks, inference mode)."""

    def __init__(self, gan):
        self.gan = gan
        self.generator = serving_generator(gan)
        self.discriminator = float32_model(gan.discriminator)
        self.features = None
        if family(gan) == "dcgan":
            self.features = features_lib.discriminator_features(self.discriminator)
        self.image_spec = tf.TensorSpec([None, *gan.image_shape], tf.float32, name="images")

    def generator_specs(self):
        specs = {"z": tf.TensorSpec([None, self.gan.latent_dim], tf.float32, name="z")}
        if isinstance(self.gan, CGAN):
            specs["label"] = tf.TensorSpec([None], tf.int32, name="label")
        if isinstance(self.gan, InfoGAN):
            specs["categorical_code"] = tf.TensorSpec([None], tf.int32, name="categorical_code")
            specs["continuous_code"] = tf.TensorSpec([None, self.gan.num_continuous], tf.float32,
                                                     name="continuous_code")
        return specs

    def generate(self, inputs):
        return {"images": self.generator(_checked_inputs(self.gan, inputs), training=False)}

    def sample_specs(self):
        specs = {"num_images": tf.TensorSpec([], tf.int32, name="num_images"),
                 "seed": tf.TensorSpec([], tf.int32, name="seed")}
        if isinstance(self.gan, CGAN):
            specs["label"] = tf.TensorSpec([None], tf.int32, name="label")
        return specs

    def sample(self, inputs):
        gan = self.gan
        n, seed = _check_scalar(inputs["num_images"], "num_images"), _check_scalar(inputs["seed"], "seed")
        count_ok = tf.debugging.assert_equal(
            tf.logical_and(n >= 1, n <= MAX_SAMPLE_IMAGES), True,
            message=f"num_images must be in [1, {MAX_SAMPLE_IMAGES}]")
        n = after_checks(n, count_ok)

        def stream(index):
            return tf.stack([seed, tf.constant(index, tf.int32)])

        if gan.latent_distribution == "uniform":
            z = tf.random.stateless_uniform([n, gan.latent_dim], stream(0), -1.0, 1.0)
        else:
            z = tf.random.stateless_normal([n, gan.latent_dim], stream(0))
        latents = {"z": z}
        if isinstance(gan, CGAN):
            label = _check_shape(inputs["label"], (None,), "label")
            size_ok = tf.debugging.assert_equal(
                tf.logical_or(tf.size(label) == 1, tf.size(label) == n), True,
                message="label must hold 1 or num_images class ids")
            with tf.control_dependencies([size_ok]):
                latents["label"] = tf.broadcast_to(label, [n])
        if isinstance(gan, InfoGAN):
            latents["categorical_code"] = tf.random.stateless_uniform(
                [n], stream(1), 0, gan.num_categories, dtype=tf.int32)
            latents["continuous_code"] = tf.random.stateless_uniform([n, gan.num_continuous], stream(2), -1.0, 1.0)
        return {**latents, **self.generate(latents)}

    def discriminate_specs(self):
        specs = {"images": self.image_spec}
        if isinstance(self.gan, CGAN):
            specs["label"] = tf.TensorSpec([None], tf.int32, name="label")
        return specs

    def discriminate(self, inputs):
        shapes = {"images": (None, *self.gan.image_shape)}
        if isinstance(self.gan, CGAN):
            shapes["label"] = (None,)
        checked = _checked_shapes(inputs, shapes)
        images = _check_range(checked["images"])
        d_inputs = images
        if isinstance(self.gan, CGAN):
            label = _check_ids(checked["label"], self.gan.num_classes, "label")
            d_inputs = [images, tf.one_hot(label, self.gan.num_classes)]
        outputs = self.discriminator(d_inputs, training=False)
        logits = outputs[0] if isinstance(self.gan, InfoGAN) else outputs
        return {"probability": losses.probability_real(logits)}

    def features_fn(self, inputs):
        images = _checked_shapes(inputs, {"images": (None, *self.gan.image_shape)})["images"]
        return {"features": self.features(_check_range(images), training=False)}


def _archive(gan):
    endpoints = _Endpoints(gan)
    archive = keras.export.ExportArchive()
    archive.track(endpoints.generator)
    archive.track(endpoints.discriminator)
    # The first endpoint is also exported as serving_default.
    archive.add_endpoint("generate", endpoints.generate, input_signature=[endpoints.generator_specs()])
    archive.add_endpoint("sample", endpoints.sample, input_signature=[endpoints.sample_specs()])
    archive.add_endpoint("discriminate", endpoints.discriminate, input_signature=[endpoints.discriminate_specs()])
    if endpoints.features is not None:
        archive.track(endpoints.features)
        archive.add_endpoint("features", endpoints.features_fn, input_signature=[{"images": endpoints.image_spec}])
    return archive


# ---- versions, metadata, TF Serving files -----------------------------------

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def versions(base_dir, model_name):
    """The integer versions already exported under ``base_dir/model_name``."""
    model_dir = os.path.join(base_dir, model_name)
    if not os.path.isdir(model_dir):
        return []
    return sorted(int(name) for name in os.listdir(model_dir) if name.isdigit())


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


# Metadata keys a reader of an export needs, by family (`describe` writes them all).
_REQUIRED_METADATA = {"gan": ("latent_dim", "image_shape"), "dcgan": ("latent_dim", "image_shape"),
                      "cgan": ("latent_dim", "image_shape", "num_classes"),
                      "infogan": ("latent_dim", "image_shape", "num_categories", "num_continuous")}
_REEXPORT = "re-export the run with python -m zoo.export."


def open_export(export_dir, signatures=("sample",)):
    """Reads a kgan export: its checked ``kgan_metadata.json`` and the loaded SavedModel.

    Args:
      export_dir: a version directory (``exports/<name>/<version>``).
      signatures: signature names the caller needs.

    Returns:
      (metadata dict, the `tf.saved_model.load` result).

    Raises:
      ValueError: naming the problem (no or corrupt metadata, unknown family,
        missing keys, a corrupt or partial SavedModel, a missing signature).
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
    family_name = metadata.get("family")
    if family_name not in _REQUIRED_METADATA:
        raise ValueError(f"{path} names no known model family ({family_name!r}, expected one of "
                         f"{sorted(_REQUIRED_METADATA)}): the export is corrupt; {_REEXPORT}")
    missing = [key for key in _REQUIRED_METADATA[family_name] if key not in metadata]
    if missing:
        raise ValueError(f"{path} lacks {missing}: the export is corrupt or from another tool; {_REEXPORT}")
    try:
        loaded = tf.saved_model.load(export_dir)
    except Exception as error:  # corrupt or partial SavedModels raise many types
        raise ValueError(f"Could not load the SavedModel in {export_dir} ({type(error).__name__}: "
                         f"{one_line(error)}); the export is corrupt or incomplete: {_REEXPORT}") from None
    missing = [name for name in signatures if name not in loaded.signatures]
    if missing:
        raise ValueError(f"The export {export_dir} has no {missing} signature(s): not a kgan export "
                         "(export with python -m zoo.export).")
    return metadata, loaded


def export_saved_model(gan, base_dir="exports", model_name=None, version=None, training_epochs=None,
                       metrics=None, tflite_variants=()):
    """Exports ``gan`` to ``base_dir/model_name/version`` (TF Serving's layout).

    Args:
      gan: a trained `kgan.GAN`.
      base_dir: TF Serving model base path (``exports/``).
      model_name: the served model's name (default: the family, e.g. "dcgan").
      version: integer version; default the next free one. An existing version is
        never overwritten (FileExistsError).
      training_epochs: recorded in the metadata.
      metrics: dict of final training metrics, recorded in the metadata.
      tflite_variants: TF-Lite variants of the generator to write into
        ``<version>/tflite/`` (see `kgan.tflite`), e.g. ("float32", "int8").

    Returns:
      The version directory.
    """
    if not isinstance(gan, GAN):
        raise TypeError(f"export_saved_model needs a kgan.GAN (e.g. kgan.latent.load_gan('runs/dcgan')), got "
                        f"{type(gan).__name__}; an existing export is re-served as it is, not re-exported.")
    if isinstance(tflite_variants, str):
        tflite_variants = (tflite_variants,)
    if tflite_variants:
        from kgan import tflite  # imports this module

        for variant in tflite_variants:
            tflite.file_name(variant)  # ValueError naming the known variants, before any work
    model_name = model_name or family(gan)
    if not isinstance(model_name, str) or not _NAME.match(model_name):
        raise ValueError(f"model_name {model_name!r} must be letters, digits, '_', '.', '-' (a TF Serving name).")
    existing = versions(base_dir, model_name)
    if version is None:
        version = (existing[-1] + 1) if existing else 1
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ValueError(f"version must be a positive integer, got {version!r}.")
    path = os.path.join(base_dir, model_name, str(version))
    if os.path.exists(path):
        raise FileExistsError(
            f"{path} already exists; exports are never overwritten. Omit the version to use the next free "
            f"one ({(existing[-1] + 1) if existing else 1}).")
    if os.path.exists(base_dir) and not os.path.isdir(base_dir):
        raise NotADirectoryError(f"The export base directory {base_dir} is a file; pass a directory (--export_dir).")
    if os.path.exists(os.path.dirname(path)) and not os.path.isdir(os.path.dirname(path)):
        raise NotADirectoryError(f"{os.path.dirname(path)} is a file, not a model directory of versions; pass "
                                 "another model name or export directory.")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    staging = tempfile.mkdtemp(prefix=f".{version}-", dir=os.path.dirname(path))
    try:
        _archive(gan).write_out(staging, verbose=False)
        metadata = {**describe(gan), "model_name": model_name, "version": version,
                    "signatures": sorted(tf.saved_model.load(staging).signatures.keys()),
                    "training_epochs": training_epochs,
                    "metrics": {k: float(v) for k, v in (metrics or {}).items()}}
        write_warmup_requests(staging, gan, model_name)
        if tflite_variants:
            files = tflite.export_tflite(gan, os.path.join(staging, "tflite"), tflite_variants)
            metadata["tflite"] = {variant: os.path.relpath(file, staging) for variant, file in files.items()}
        with open(os.path.join(staging, METADATA_FILE), "w") as f:
            json.dump(metadata, f, indent=2)
        os.rename(staging, path)  # TF Serving never sees a half-written version
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return path


def warmup_inputs(gan, batch_size=1):
    """One valid request per signature: ``{signature: {input: numpy array}}``."""
    description = describe(gan)
    image = np.zeros((batch_size, *gan.image_shape), np.float32)
    generate = {"z": np.zeros((batch_size, gan.latent_dim), np.float32)}
    discriminate = {"images": image}
    sample = {"num_images": np.int32(batch_size), "seed": np.int32(0)}
    if "num_classes" in description:
        for request in (generate, discriminate, sample):
            request["label"] = np.zeros(batch_size, np.int32)
    if "num_categories" in description:
        generate["categorical_code"] = np.zeros(batch_size, np.int32)
        generate["continuous_code"] = np.zeros((batch_size, gan.num_continuous), np.float32)
    requests = {"serving_default": generate, "sample": sample, "discriminate": discriminate}
    if description["family"] == "dcgan":
        requests["features"] = {"images": image}
    return requests


def write_warmup_requests(export_dir, gan, model_name):
    """Writes ``assets.extra/tf_serving_warmup_requests`` (PredictionLog TFRecords)."""
    from tensorflow_serving.apis import model_pb2, predict_pb2, prediction_log_pb2

    path = os.path.join(export_dir, WARMUP_FILE)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with tf.io.TFRecordWriter(path) as writer:
        for signature, inputs in warmup_inputs(gan).items():
            request = predict_pb2.PredictRequest(
                model_spec=model_pb2.ModelSpec(name=model_name, signature_name=signature))
            for key, value in inputs.items():
                request.inputs[key].CopyFrom(tf.make_tensor_proto(value))
            log = prediction_log_pb2.PredictionLog(predict_log=prediction_log_pb2.PredictLog(request=request))
            writer.write(log.SerializeToString())
    return path


def write_models_config(base_dir="exports", serving_root="/models"):
    """Writes ``base_dir/models.config`` listing every exported model.

    Args:
      base_dir: the exports directory.
      serving_root: where ``base_dir`` is seen by the model server: ``/models`` for
        the docker image (``-v $PWD/exports:/models``), or an absolute host path.

    Returns:
      The config file path.
    """
    from google.protobuf import text_format
    from tensorflow_serving.config import model_server_config_pb2

    config = model_server_config_pb2.ModelServerConfig()
    for name in sorted(os.listdir(base_dir)):
        if versions(base_dir, name):
            entry = config.model_config_list.config.add()
            entry.name = name
            entry.base_path = f"{serving_root.rstrip('/')}/{name}"
            entry.model_platform = "tensorflow"
    path = os.path.join(base_dir, "models.config")
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        f.write(text_format.MessageToString(config))
    os.replace(tmp, path)
    return path
