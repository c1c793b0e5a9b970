"""Export a GAN's generator as TF-Lite (LiteRT) models and run them.

``export_tflite(gan, "exports/tflite")`` writes one ``generator_<variant>.tflite``
per variant (an existing file is never overwritten):

* ``float32``: the float graph as is.
* ``float16``: weights stored as float16 (half the size), computed in float32.
* ``int8_dynamic``: dynamic-range quantization: weights int8, activations
  quantized on the fly by the kernels that support it, float elsewhere.
* ``int8``: full-integer quantization of weights and activations, calibrated on
  latents drawn from the model's own latent distribution (and uniform random
  labels / codes); the input and output tensors stay float32 / int32, so callers
  feed the same z as to every other variant.

Each file holds one signature, ``serving_default``, with the inputs and output
of the SavedModel's ``generate`` (see `kgan.serving.signatures`): every input of
the model's contract by name (``z`` float32 [N, latent_dim], int32 ids [N],
float codes [N, L]) -> ``images`` float32 [N, H, W, C] in [-1, 1]. The graph is
`kgan.serving.signatures.serving_generator` (a float32 rebuild for mixed-precision models;
the int ids are one-hot encoded inside) and holds TF-Lite builtin ops only (no
Flex/Select TF ops, no custom ops): z is an input because TF's random ops are not
builtins. The model's serving contract (`kgan.serving.signatures.describe` plus the variant)
is embedded as the flatbuffer metadata entry ``kgan_metadata`` (JSON).

The batch dimension N is dynamic by default: one file serves any batch size.
Then the transposed convolutions' output shapes are computed at run time, so
the XNNPACK delegate cannot take them and they run on TF-Lite's slower builtin
kernels. ``batch_size=N`` exports a fixed-batch model instead
(``generator_<variant>_batch<N>.tflite``) that XNNPACK runs whole, many times
faster (see ``bench/export_latency.py``), but that only takes batches of N.

For int8 the one-hot of ids is computed as a GATHER from an identity matrix
instead of TF-Lite's ONE_HOT: the converter quantizes ONE_HOT's on/off values
without rescaling them to its output's scale, which turns a one-hot 1/0 into
about 3.9/-0.3 (see `_with_gather_one_hot`).

`TFLiteGenerator` runs a file with the LiteRT interpreter (``ai-edge-litert``),
maps inputs by name, and validates requests in Python (a TF-Lite graph cannot
raise on a bad label: it would silently one-hot it to zeros).
"""

import json
import os
import tempfile
import warnings

import keras
import numpy as np
import tensorflow as tf
from ai_edge_litert import schema_py_generated as litert_schema
from ai_edge_litert.interpreter import Interpreter
from tensorflow.lite.python import schema_py_generated as tf_schema
from tensorflow.lite.tools import flatbuffer_utils

from kgan.checks import write_bytes_atomic
from kgan.serving.signatures import OneHot, describe, serving_generator

VARIANTS = ("float32", "float16", "int8_dynamic", "int8")
SIGNATURE_KEY = "serving_default"
OUTPUT_NAME = "images"
METADATA_NAME = "kgan_metadata"
FILE_PATTERN = "generator_{variant}.tflite"
FIXED_BATCH_FILE_PATTERN = "generator_{variant}_batch{batch_size}.tflite"
CALIBRATION_SAMPLES = 1024
_CALIBRATION_BATCH = 32


def file_name(variant, batch_size=None):
    """``generator_<variant>.tflite``, or ``generator_<variant>_batch<N>.tflite`` for a fixed batch size."""
    _check_variant(variant)
    _check_batch_size(batch_size)
    if batch_size is None:
        return FILE_PATTERN.format(variant=variant)
    return FIXED_BATCH_FILE_PATTERN.format(variant=variant, batch_size=batch_size)


def _check_batch_size(batch_size):
    if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1):
        raise ValueError(f"batch_size must be None (dynamic) or a positive integer, got {batch_size!r}.")


def _check_variant(variant):
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}.")


# ---- conversion -------------------------------------------------------------

def random_inputs(gan, batch_size, rng):
    """One batch of valid serving inputs drawn as in training (numpy, by input name).

    Every input of the model's contract by its distribution: z ~ N(0, 1) or
    U[-1, 1], ids uniform over their classes, continuous codes U[-1, 1].
    """
    return gan.contract.draw_numpy(batch_size, rng)


def representative_dataset(gan, num_samples=CALIBRATION_SAMPLES, seed=0, batch_size=None):
    """A calibration generator for full-integer quantization: batches of `random_inputs`.

    Yields ``ceil(num_samples / batch_size)`` batches of ``batch_size`` (default
    min(32, num_samples)): all of one size, since the calibrator sizes the
    graph on the first.
    """
    batch_size = batch_size or min(_CALIBRATION_BATCH, num_samples)

    def batches():
        rng = np.random.default_rng(seed)
        for _ in range(-(-num_samples // batch_size)):
            yield random_inputs(gan, batch_size, rng)
    return batches


def convert(gan, variant="float32", batch_size=None, calibration_samples=CALIBRATION_SAMPLES, check_ops=True):
    """Converts ``gan``'s generator (its serving form) to a TF-Lite flatbuffer.

    Uses Keras' LiteRT export (``model.export(..., format="litert")``: an
    ExportArchive SavedModel, then `tf.lite.TFLiteConverter`) on
    `kgan.serving.signatures.serving_generator` with its output named ``images``, restricted
    to builtin ops.

    Args:
      gan: a `kgan.GAN` (any family; mixed-precision models are rebuilt in float32).
      variant: "float32", "float16", "int8_dynamic" or "int8" (see the module doc).
      batch_size: None for a dynamic batch dimension, or N for a model that
        takes batches of exactly N (fully delegated to XNNPACK: faster).
      calibration_samples: latents used to calibrate the "int8" activation ranges.
      check_ops: verify that the model holds builtin ops only (RuntimeError if not).

    Returns:
      The model as bytes.
    """
    _check_variant(variant)
    _check_batch_size(batch_size)
    if isinstance(calibration_samples, bool) or not isinstance(calibration_samples, int) or calibration_samples < 1:
        raise ValueError(f"calibration_samples must be a positive integer, got {calibration_samples!r}.")
    generator = serving_generator(gan)
    if variant == "int8":
        generator = _with_gather_one_hot(generator)
    model = keras.Model(generator.input, {OUTPUT_NAME: generator.output}, name="tflite_generator")
    # Keras' exporter allows SELECT_TF_OPS by default; these settings replace that.
    options = {"target_spec": {"supported_ops": [tf.lite.OpsSet.TFLITE_BUILTINS]}}
    if batch_size is not None:
        options["input_signature"] = [{
            name: tf.TensorSpec([batch_size, *tensor.shape[1:]], tensor.dtype, name=name)
            for name, tensor in model.input.items()}]
    if variant != "float32":
        options["optimizations"] = [tf.lite.Optimize.DEFAULT]
    if variant == "float16":
        options["target_spec"]["supported_types"] = [tf.float16]
    elif variant == "int8":
        # Weights and activations int8; float fallback only for ops without an int8 kernel.
        options["target_spec"]["supported_ops"] = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8,
                                                   tf.lite.OpsSet.TFLITE_BUILTINS]
        options["representative_dataset"] = representative_dataset(gan, calibration_samples, batch_size=batch_size)
    with tempfile.TemporaryDirectory(prefix="kgan-tflite-") as scratch:
        path = os.path.join(scratch, "generator.tflite")
        with warnings.catch_warnings():
            # The converter's calibrator still uses tf.lite.Interpreter internally.
            warnings.filterwarnings("ignore", message=r"(?s).*tf\.lite\.Interpreter is deprecated")
            model.export(path, format="litert", verbose=False, **options)
        with open(path, "rb") as f:
            flatbuffer = f.read()
    if check_ops:
        check_builtin_ops(flatbuffer)
    description = describe(gan)
    description.pop("feature_dim", None)  # the discriminator's, not part of this file
    if batch_size is not None:
        for spec in description["inputs"].values():
            spec["shape"][0] = batch_size
    return _with_metadata(flatbuffer, {**description, "variant": variant, "batch_size": batch_size,
                                       "signature": SIGNATURE_KEY,
                                       "outputs": {OUTPUT_NAME: {"dtype": "float32",
                                                                 "shape": [batch_size, *gan.image_shape]}}})


def _with_gather_one_hot(model):
    """``model`` with its `OneHot` layers computed as a gather from an identity matrix.

    Full-integer quantization mis-handles TF-Lite's ONE_HOT: its on/off values
    are quantized with their own scales but copied unchanged into an output with
    another scale (the concatenation's), so a one-hot 1/0 is read back as about
    3.9/-0.3 and conditioned images are wrong. A GATHER from a constant identity
    matrix is the same function, and its constant is quantized with the output's
    scale.
    """
    def clone(layer):
        if isinstance(layer, OneHot):
            return _GatherOneHot(layer.depth, name=layer.name)
        return layer  # shared, weights included

    return keras.models.clone_model(model, clone_function=clone)


class _GatherOneHot(keras.layers.Layer):
    """int ids ``[N]`` -> float32 one-hot ``[N, depth]`` as ``gather(eye(depth), ids)``."""

    def __init__(self, depth, **kwargs):
        super().__init__(**kwargs)
        self.depth = depth

    def call(self, ids):
        return tf.gather(tf.eye(self.depth, dtype=tf.float32), tf.cast(ids, tf.int32))

    def compute_output_shape(self, input_shape):
        return (*input_shape, self.depth)


def _with_metadata(flatbuffer, metadata):
    """``flatbuffer`` with a ``kgan_metadata`` entry (JSON), as TF adds its conversion metadata."""
    model = flatbuffer_utils.convert_bytearray_to_object(flatbuffer)
    buffer = tf_schema.BufferT()
    buffer.data = np.frombuffer(json.dumps(metadata, sort_keys=True).encode("utf-8"), np.uint8)
    model.buffers = list(model.buffers or []) + [buffer]
    entry = tf_schema.MetadataT()
    entry.name = METADATA_NAME
    entry.buffer = len(model.buffers) - 1
    model.metadata = [m for m in (model.metadata or []) if _decode(m.name) != METADATA_NAME] + [entry]
    return flatbuffer_utils.convert_object_to_bytearray(model)


def _decode(name):
    return name.decode("utf-8") if isinstance(name, bytes) else name


_FILE_HINT = "pass a .tflite file written by kgan.serving.tflite.export_tflite (exports/<name>/<version>/tflite/)"


def _what(model):
    return "The data" if isinstance(model, (bytes, bytearray, memoryview)) else os.fspath(model)


def _model_bytes(model):
    if isinstance(model, (bytes, bytearray, memoryview)):
        return bytes(model)
    path = os.fspath(model)
    if not os.path.exists(path):
        raise FileNotFoundError(f"TF-Lite model {path} does not exist: {_FILE_HINT}.")
    if os.path.isdir(path):
        raise IsADirectoryError(f"{path} is a directory, not a TF-Lite model: {_FILE_HINT}.")
    with open(path, "rb") as f:
        return f.read()


def _root(data, what):
    if len(data) < 8 or data[4:8] != b"TFL3":
        raise ValueError(f"Not a TF-Lite flatbuffer (no TFL3 identifier): {what} holds another format; "
                         f"{_FILE_HINT}.")
    return litert_schema.Model.GetRootAs(data, 0)


def _corrupt(what, error):
    detail = " ".join(str(error).split())[:200]
    return ValueError(f"{what} is a truncated or corrupt TF-Lite model ({type(error).__name__}: {detail}); "
                      "re-export it (kgan.serving.tflite.export_tflite or python -m zoo.export).")


def operators(model):
    """The op names a TF-Lite model uses (``"CUSTOM:<code>"`` for custom/Flex ops).

    Args:
      model: a .tflite path or the flatbuffer bytes.

    Returns:
      Sorted list of names such as ``["CONV_2D", "TANH", ...]``.
    """
    what = _what(model)
    root = _root(_model_bytes(model), what)
    names = {value: name for name, value in vars(litert_schema.BuiltinOperator).items() if not name.startswith("_")}
    used = set()
    try:
        for i in range(root.OperatorCodesLength()):
            code = root.OperatorCodes(i)
            # Codes < 127 may live in the deprecated int8 field only (older writers).
            builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
            if builtin == litert_schema.BuiltinOperator.CUSTOM:
                used.add(f"CUSTOM:{_decode(code.CustomCode())}")
            else:
                used.add(names.get(builtin, f"UNKNOWN_{builtin}"))
    except Exception as error:  # struct.error, IndexError, UnicodeDecodeError...
        raise _corrupt(what, error) from None
    return sorted(used)


def check_builtin_ops(model):
    """Raises RuntimeError if ``model`` uses any non-builtin op (Flex/Select TF or custom).

    Returns:
      The op names (see `operators`).
    """
    used = operators(model)
    foreign = [name for name in used if name.startswith(("CUSTOM:", "UNKNOWN_"))]
    if foreign:
        raise RuntimeError(f"The TF-Lite model uses non-builtin ops {foreign}: it would need the Flex delegate "
                           "(TF runtime) or custom kernels.")
    return used


def read_metadata(model):
    """The ``kgan_metadata`` dict embedded in a TF-Lite model (None if absent)."""
    return _read_metadata(_model_bytes(model), _what(model))


def _read_metadata(data, what):
    root = _root(data, what)
    try:
        for i in range(root.MetadataLength()):
            entry = root.Metadata(i)
            if _decode(entry.Name()) == METADATA_NAME:
                buffer = root.Buffers(entry.Buffer())
                if buffer.Offset() > 0:  # large-model layout: data after the flatbuffer
                    raw = data[buffer.Offset():buffer.Offset() + buffer.Size()]
                else:
                    raw = buffer.DataAsNumpy().tobytes()
                return json.loads(raw.decode("utf-8"))
    except Exception as error:  # struct.error, IndexError, UnicodeDecodeError, JSONDecodeError...
        raise _corrupt(what, error) from None
    return None


# ---- files ------------------------------------------------------------------

def export_tflite(gan, directory, variants=VARIANTS, batch_size=None, calibration_samples=CALIBRATION_SAMPLES):
    """Writes ``directory/generator_<variant>.tflite`` for each variant.

    Every file is written to a temporary name and then linked into place, so a
    reader never sees a partial file. Existing files are never overwritten: if
    any target exists, FileExistsError names it and nothing is written; files
    written by a call that fails are removed again.

    Args:
      gan: a `kgan.GAN`.
      directory: output directory (created if missing).
      variants: a subset of `VARIANTS`.
      batch_size: None (dynamic batch) or N: fixed-batch models, written as
        ``generator_<variant>_batch<N>.tflite``.
      calibration_samples: calibration latents for "int8".

    Returns:
      ``{variant: path}``.
    """
    if isinstance(variants, str):
        variants = (variants,)
    variants = tuple(dict.fromkeys(variants))
    if not variants:
        raise ValueError(f"variants must name at least one of {VARIANTS}.")
    for variant in variants:
        _check_variant(variant)
    _check_batch_size(batch_size)
    directory = os.fspath(directory)
    paths = {variant: os.path.join(directory, file_name(variant, batch_size)) for variant in variants}
    for path in paths.values():
        if os.path.lexists(path):
            raise FileExistsError(f"{path} already exists; TF-Lite exports are never overwritten. "
                                  "Remove it or export to another directory.")
    os.makedirs(directory, exist_ok=True)
    written = []
    try:
        for variant, path in paths.items():
            write_bytes_atomic(path, convert(gan, variant, batch_size, calibration_samples=calibration_samples),
                               overwrite=False)
            written.append(path)
    except BaseException:
        for path in written:
            os.remove(path)
        raise
    return paths


# ---- running ----------------------------------------------------------------

class TFLiteGenerator:
    """Runs a generator .tflite with the LiteRT interpreter.

    ``TFLiteGenerator(path).generate(z=z, label=labels)`` -> float32 images
    ``[N, H, W, C]``. Inputs are matched by name, the batch size may change
    from call to call (dynamic-batch models; a fixed-batch model takes its N
    only), and requests are validated first (ValueError): missing or unknown
    inputs, wrong ranks / sizes / dtypes, disagreeing batch sizes, non-finite
    values, and ids out of range (from the embedded metadata).

    Args:
      path: a .tflite file (or the flatbuffer bytes).
      num_threads: interpreter threads (None: the runtime's default).

    Attributes:
      inputs: ``{name: (numpy dtype, shape signature with -1 for the batch)}``.
      metadata: the embedded kgan metadata dict, or None.
      variant: the metadata's variant, or None.
    """

    def __init__(self, path, num_threads=None):
        data = _model_bytes(path)
        self.path = None if isinstance(path, (bytes, bytearray, memoryview)) else os.fspath(path)
        what = _what(path)
        self.metadata = _read_metadata(data, what)
        self.variant = (self.metadata or {}).get("variant")
        try:
            self._interpreter = Interpreter(model_content=data, num_threads=num_threads)
        except Exception as error:  # the runtime's flatbuffer verifier and allocation errors
            raise _corrupt(what, error) from None
        signatures = self._interpreter.get_signature_list()
        if SIGNATURE_KEY not in signatures:
            raise ValueError(f"{self.path or 'The model'} has no {SIGNATURE_KEY!r} signature "
                             f"(it has {sorted(signatures)}); is it a kgan generator export?")
        self._runner = self._interpreter.get_signature_runner(SIGNATURE_KEY)
        details = self._runner.get_input_details()
        self.inputs = {name: (np.dtype(d["dtype"]), tuple(int(s) for s in d["shape_signature"]))
                       for name, d in sorted(details.items())}
        outputs = self._runner.get_output_details()
        if OUTPUT_NAME not in outputs:
            raise ValueError(f"The model's signature has outputs {sorted(outputs)}, not {OUTPUT_NAME!r}.")
        self._ranges = {}
        for name, spec in ((self.metadata or {}).get("inputs") or {}).items():
            if "range" in spec:
                self._ranges[name] = tuple(spec["range"])

    def __call__(self, **inputs):
        return self.generate(**inputs)

    def generate(self, **inputs):
        """Runs the generator on named inputs (numpy arrays or lists); returns float32 images."""
        feed = self.validate(inputs)
        return np.asarray(self._runner(**feed)[OUTPUT_NAME], np.float32)

    def validate(self, inputs):
        """Checks a request; returns the inputs as arrays of the model's dtypes (ValueError if bad)."""
        missing = sorted(set(self.inputs) - set(inputs))
        extra = sorted(set(inputs) - set(self.inputs))
        if missing or extra:
            problems = ([f"missing {missing}"] if missing else []) + ([f"unknown {extra}"] if extra else [])
            raise ValueError(f"Bad inputs ({'; '.join(problems)}): the generator takes exactly "
                             f"{sorted(self.inputs)}.")
        feed, batch = {}, {}
        for name, (dtype, signature) in self.inputs.items():
            expected = "[" + ", ".join("N" if s < 0 else str(s) for s in signature) + "]"
            try:
                value = np.asarray(inputs[name])
            except ValueError as error:  # ragged nested lists
                raise ValueError(f"{name} must be a numeric array {expected} (rows of equal length): "
                                 f"{' '.join(str(error).split())[:200]}") from None
            if value.dtype == object or value.dtype.kind not in "biuf":
                raise ValueError(f"{name} must be a numeric array {expected}, got dtype {value.dtype}.")
            if dtype.kind == "f":
                if value.dtype.kind != "f":
                    raise ValueError(f"{name} must be floating point ({dtype.name}), got dtype {value.dtype}.")
            elif dtype.kind in "iu":
                if value.dtype.kind not in "iu":
                    raise ValueError(f"{name} must hold integer ids ({dtype.name}), got dtype {value.dtype}.")
            if value.ndim != len(signature) or any(s >= 0 and v != s for v, s in zip(value.shape, signature)):
                fixed = f" (a model exported for batches of {signature[0]})" if signature and signature[0] >= 0 else ""
                raise ValueError(f"{name} must have shape {expected}{fixed}, got {list(value.shape)}.")
            if value.shape[0] < 1:
                raise ValueError(f"{name} is empty: the batch size must be at least 1.")
            batch[name] = value.shape[0]
            if dtype.kind == "f":
                with np.errstate(over="ignore"):  # values beyond the dtype's range become Inf: reported below
                    value = value.astype(dtype, copy=False)
                if not np.all(np.isfinite(value)):
                    raise ValueError(f"{name} must be finite (no NaN/Inf) {dtype.name} values (|x| <= "
                                     f"{np.finfo(dtype).max:.3g}).")
            else:
                low, high = self._ranges.get(name, (np.iinfo(dtype).min, np.iinfo(dtype).max))
                bad = value[(value < low) | (value > high)]
                if bad.size:
                    raise ValueError(f"{name} must be in [{low}, {high}]; got {sorted(set(bad.tolist()))[:10]}.")
                value = value.astype(dtype, copy=False)
            feed[name] = value
        if len(set(batch.values())) > 1:
            raise ValueError(f"The inputs disagree on the batch size: {batch}.")
        return feed
