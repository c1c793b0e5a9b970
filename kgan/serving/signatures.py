"""The serving contract in TensorFlow: float32 serving networks and the SavedModel signature functions.

Everything here is built from a model's `kgan.contract.Contract` (``gan.contract``)
and its hooks (``discriminator_inputs``, ``split_discriminator_outputs``); no
family is named. The signatures (method tensorflow/serving/predict):

* ``serving_default`` = ``generate``: every contract input by name (``z`` float32
  ``[None, latent_dim]``; int32 ids ``[None]``; float codes ``[None, L]``) ->
  ``images`` float32 ``[None, H, W, C]`` in [-1, 1].
* ``sample``: ``num_images`` int32 scalar, ``seed`` int32 scalar, plus every
  class-label input (int32 ``[1 or num_images]``) -> ``images`` and every input
  used; the rest is drawn in the graph (`Contract.sample`), so a seed always
  gives the same images.
* ``discriminate``: ``images`` plus the inputs D is conditioned on ->
  ``probability`` float32 ``[None]`` that each image is real.
* ``features`` (contracts with ``features``): ``images`` -> ``features``
  float32 ``[None, F]`` (see `kgan.models.features`).

Bad requests fail with an InvalidArgumentError naming the input and what it
must be: wrong shapes (checked at run time: neither TF Serving nor a Python
caller's fallback to the flat signature enforces the declared shapes), inputs
disagreeing on the batch size or holding no row, non-finite floats, ids out of
range, images outside [-1, 1], num_images or seed that are not one integer,
num_images outside [1, MAX_SAMPLE_IMAGES]. Wrong dtypes are rejected by TF
before the graph runs (its message names the expected TensorSpec).
"""

import keras
import numpy as np
import tensorflow as tf

from kgan import losses
from kgan.checks import after_checks
from kgan.models import features as features_lib

MAX_SAMPLE_IMAGES = 1024
_RANGE_TOLERANCE = 1e-3


def describe(gan):
    """The model's serving contract as export metadata (a JSON-able dict).

    Args:
      gan: a `kgan.GAN`.

    Returns:
      `Contract.metadata` plus ``class`` (the model's class name), ``generator``
      ("ema": the exported generator is the EMA of G's weights; "trained": G itself),
      ``training_options`` (objective, penalties, EMA, augmentation) and, for contracts
      with features, ``feature_dim``.
    """
    description = {**gan.contract.metadata(), "class": type(gan).__name__,
                   "generator": "ema" if gan.ema_generator is not None else "trained",
                   "training_options": gan.training_options}
    if gan.contract.features:
        description["feature_dim"] = int(features_lib.discriminator_features(gan).output.shape[-1])
    return description


# ---- float32 networks with serving inputs -----------------------------------

def float32_model(model):
    """Returns ``model`` if it computes in float32, else a float32 rebuild with its weights.

    A network trained under a mixed precision policy (e.g. mixed_bfloat16) is
    rebuilt from its config with every layer in float32, then the weights are
    copied (they are float32 variables under mixed precision anyway).
    """
    layers = model._flatten_layers()  # pylint: disable=protected-access
    if all(layer.dtype_policy.name == "float32" for layer in layers):
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


def serving_inputs(contract):
    """Named Keras inputs of the serving contract (ids as int32 ``[N]``)."""
    return {spec.name: keras.Input(tuple(spec.shape[1:]), dtype=spec.dtype, name=spec.name)
            for spec in contract.inputs}


def serving_generator(gan):
    """A float32 Keras model from the serving inputs (ids, not one-hots) to images.

    Inputs are named as in the SavedModel contract; int ids are one-hot encoded
    inside the model (`OneHot`). TF-Lite exports convert this model (z is an
    input: TF's random ops are not builtins).

    Returns:
      A functional `keras.Model` sharing the float32 generator's weights.
    """
    contract = gan.contract
    generator = float32_model(gan.inference_generator)
    inputs = serving_inputs(contract)
    latents = [OneHot(spec.size, name=f"{spec.name}_one_hot")(inputs[spec.name]) if spec.encoding == "one_hot"
               else inputs[spec.name] for spec in contract.inputs]
    return keras.Model(inputs, generator(contract.pack(latents), training=False), name="serving_generator")


def tensor_specs(contract, names=None):
    """``{name: tf.TensorSpec}`` of the contract's inputs (default: all of them)."""
    chosen = contract.inputs if names is None else [contract.input(name) for name in names]
    return {spec.name: tf.TensorSpec(spec.shape, spec.dtype, name=spec.name) for spec in chosen}


def warmup_inputs(gan, batch_size=1):
    """One valid request per signature: ``{signature: {input: numpy array}}``."""
    contract = gan.contract

    def zeros(spec):
        shape = (batch_size,) + tuple(spec.shape[1:])
        return np.zeros(shape, np.int32 if spec.dtype == "int32" else np.float32)

    image = np.zeros((batch_size, *contract.image_shape), np.float32)
    requests = {
        "serving_default": {spec.name: zeros(spec) for spec in contract.inputs},
        "sample": {"num_images": np.int32(batch_size), "seed": np.int32(0),
                   **{spec.name: zeros(spec) for spec in contract.class_inputs}},
        "discriminate": {"images": image, **{spec.name: zeros(spec) for spec in contract.discriminator_inputs}},
    }
    if contract.features:
        requests["features"] = {"images": image}
    return requests


# ---- run-time checks ---------------------------------------------------------

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


def _check_values(tensor, spec):
    """``tensor`` after the run-time check of its values: ids in range, floats finite."""
    if spec.encoding == "one_hot":
        message = f"{spec.name} must be in [0, {spec.size - 1}]"
        return after_checks(tensor, tf.debugging.assert_greater_equal(tensor, 0, message=message),
                            tf.debugging.assert_less(tensor, spec.size, message=message))
    return tf.debugging.assert_all_finite(tensor, f"{spec.name} must be finite (no NaN/Inf)")


def _check_range(images):
    check = tf.debugging.assert_less_equal(
        tf.reduce_max(tf.abs(images)), 1.0 + _RANGE_TOLERANCE,
        message="images must be float32 in [-1, 1] (pixels / 127.5 - 1)")
    return after_checks(images, check)


def _checked(contract, inputs, names, images_shape=None):
    """The named contract inputs (and ``images``) after their shape, batch-size and value checks."""
    shapes = {"images": (None, *images_shape)} if images_shape is not None else {}
    shapes.update({name: tuple(contract.input(name).shape) for name in names})
    checked = _check_batch({name: _check_shape(inputs[name], shape, name) for name, shape in shapes.items()})
    for name in names:
        checked[name] = _check_values(checked[name], contract.input(name))
    if images_shape is not None:
        checked["images"] = _check_range(checked["images"])
    return checked


# ---- the signature functions ------------------------------------------------------

class Endpoints:
    """The signature functions of one model (float32 networks, inference mode).

    Args:
      gan: a `kgan.GAN`.
    """

    def __init__(self, gan):
        self.gan = gan
        self.contract = gan.contract
        self.generator = serving_generator(gan)
        self.discriminator = float32_model(gan.discriminator)
        self.features = features_lib.discriminator_features(self.discriminator) if self.contract.features else None
        self.image_spec = tf.TensorSpec([None, *self.contract.image_shape], tf.float32, name="images")

    def generator_specs(self):
        return tensor_specs(self.contract)

    def generate(self, inputs):
        return {"images": self.generator(_checked(self.contract, inputs, self.contract.names), training=False)}

    def sample_specs(self):
        return {"num_images": tf.TensorSpec([], tf.int32, name="num_images"),
                "seed": tf.TensorSpec([], tf.int32, name="seed"),
                **{name: tf.TensorSpec([None], tf.int32, name=name)
                   for name in (spec.name for spec in self.contract.class_inputs)}}

    def sample(self, inputs):
        n, seed = _check_scalar(inputs["num_images"], "num_images"), _check_scalar(inputs["seed"], "seed")
        count_ok = tf.debugging.assert_equal(
            tf.logical_and(n >= 1, n <= MAX_SAMPLE_IMAGES), True,
            message=f"num_images must be in [1, {MAX_SAMPLE_IMAGES}]")
        n = after_checks(n, count_ok)
        given = {}
        for spec in self.contract.class_inputs:
            ids = _check_shape(inputs[spec.name], (None,), spec.name)
            size_ok = tf.debugging.assert_equal(
                tf.logical_or(tf.size(ids) == 1, tf.size(ids) == n), True,
                message=f"{spec.name} must hold 1 or num_images class ids")
            with tf.control_dependencies([size_ok]):
                given[spec.name] = tf.broadcast_to(ids, [n])
        latents = self.contract.sample(n, seed, given)
        return {**latents, **self.generate(latents)}

    def discriminate_specs(self):
        return {"images": self.image_spec,
                **tensor_specs(self.contract, [spec.name for spec in self.contract.discriminator_inputs])}

    def discriminate(self, inputs):
        names = [spec.name for spec in self.contract.discriminator_inputs]
        checked = _checked(self.contract, inputs, names, self.contract.image_shape)
        conditions = self.contract.discriminator_conditions(checked) if names else None
        outputs = self.discriminator(self.gan.discriminator_inputs(checked["images"], conditions), training=False)
        logits, _ = self.gan.split_discriminator_outputs(outputs)
        return {"probability": losses.probability_real(logits)}

    def features_fn(self, inputs):
        images = _checked(self.contract, inputs, [], self.contract.image_shape)["images"]
        return {"features": self.features(images, training=False)}


def build_archive(gan):
    """A `keras.export.ExportArchive` holding every signature of ``gan`` (``generate`` first)."""
    endpoints = Endpoints(gan)
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
