"""Presets in KerasHub's spirit: a directory holding a model's config, weights and model card.

A preset directory holds

* ``config.json``: the model's Keras config (its registered class, so the family is rebuilt),
* ``model.weights.h5``: every weight of G, D and the EMA generator (no optimizer state), or, when saved
  with ``storage="float16"`` / ``"compact"``, ``weights.compact.h5`` (see `write_compact_weights`),
* ``metadata.json``: ``kgan_preset`` (the format version), the kgan / Keras / TensorFlow versions
  it was written with, the family and class, the parameter count and the caller's model card
  (training command, metrics, ...).

`save_preset` writes one (atomically: a staging folder renamed into place, never over an existing
preset); `load_preset` reads a local directory, a shipped name (``kgan/presets/<name>/``), or
``hf://user/repo`` / ``kaggle://owner/model/...`` through their own libraries when installed.
"""

import datetime
import importlib
import importlib.util
import json
import os
import shutil
import tempfile

import h5py
import keras
import numpy as np
import tensorflow as tf

from kgan.checks import PRECISIONS, one_line, write_json_atomic
from kgan.version import VERSION

FORMAT_VERSION = 1
CONFIG_FILE, WEIGHTS_FILE, METADATA_FILE = "config.json", "model.weights.h5", "metadata.json"
COMPACT_WEIGHTS_FILE = "weights.compact.h5"
STORAGES = ("float32", "float16", "compact")
# compact: float kernels of at least this many entries are stored as int8 (the big dense layers).
INT8_MIN_SIZE = 2**18
SHIPPED_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "presets")
_REMOTE = {"hf://": ("huggingface_hub", "pip install huggingface_hub"),
           "kaggle://": ("kagglehub", "pip install kagglehub")}


class PresetError(ValueError):
    """A preset that cannot be found, read or used; the message says which and what to do."""


def list_presets():
    """The shipped presets.

    Returns:
      dict ``{name: one-line description}``, sorted by name (empty when none are shipped).
    """
    found = {}
    if os.path.isdir(SHIPPED_DIR):
        for name in sorted(os.listdir(SHIPPED_DIR)):
            path = os.path.join(SHIPPED_DIR, name, METADATA_FILE)
            if os.path.isfile(path):
                try:
                    with open(path) as f:
                        found[name] = str(json.load(f).get("description", ""))
                except (OSError, ValueError):
                    found[name] = "(unreadable metadata.json)"
    return found


def _quantize(values):
    """Symmetric int8 with one float32 scale per slice of the last axis: ``values ~= q * scale``."""
    peak = np.abs(values).reshape(-1, values.shape[-1]).max(axis=0)
    scale = np.where(peak > 0, peak / 127.0, 1.0).astype(np.float32)
    return np.clip(np.rint(values / scale), -127, 127).astype(np.int8), scale


def write_compact_weights(path, variables, storage):
    """Writes variables to an h5 file in a lossy compact form.

    Entry ``i`` (a dataset named by its index, the variable's path as attribute) holds variable ``i``:
    float32 values as float16 (``storage="float16"``), or, with ``"compact"``, float kernels of at least
    `INT8_MIN_SIZE` entries as int8 with a per-last-axis float32 scale (``<i>.scale``) and other floats as
    float16; integer variables (RNG states) exactly.

    Args:
      path: the file to write.
      variables: the model's variables, in `model.weights` order.
      storage: "float16" or "compact".
    """
    with h5py.File(path, "w") as f:
        f.attrs["count"] = len(variables)
        for index, variable in enumerate(variables):
            values, key = np.asarray(keras.ops.convert_to_numpy(variable)), f"{index:05d}"
            if not np.issubdtype(values.dtype, np.floating):
                entry = f.create_dataset(key, data=values)
            elif storage == "compact" and values.ndim >= 2 and values.size >= INT8_MIN_SIZE:
                quantized, scale = _quantize(values.astype(np.float32))
                entry = f.create_dataset(key, data=quantized)
                f.create_dataset(f"{key}.scale", data=scale)
            else:
                entry = f.create_dataset(key, data=values.astype(np.float16))
            entry.attrs["path"] = variable.path


def read_compact_weights(path, variables):
    """Assigns the values of `write_compact_weights`' file to ``variables`` (the same model's, same order)."""
    with h5py.File(path, "r") as f:
        if int(f.attrs.get("count", -1)) != len(variables):
            raise ValueError(f"it holds {f.attrs.get('count')} variables, the model has {len(variables)}")
        for index, variable in enumerate(variables):
            key = f"{index:05d}"
            values = f[key][()]
            if f[key].attrs["path"] != variable.path or values.shape != tuple(variable.shape):
                raise ValueError(f"entry {index} is {f[key].attrs['path']} {values.shape}, the model's is "
                                 f"{variable.path} {tuple(variable.shape)}")
            if f"{key}.scale" in f:
                values = values.astype(np.float32) * f[f"{key}.scale"][()]
            variable.assign(values.astype(variable.dtype))


def save_preset(gan, directory, storage="float32", **card):
    """Writes ``gan`` as a preset directory.

    Args:
      gan: a `kgan.GAN` (compiled or not).
      directory: the preset directory to create; it must not exist yet.
      storage: "float32" (Keras' ``model.weights.h5``, bit-exact), "float16" (half the size) or "compact"
        (float16 plus int8 for the big kernels; about a quarter): see `write_compact_weights`. Measure what
        the lossy ones change before shipping them.
      **card: model-card entries stored in metadata.json (e.g. ``description``,
        ``training_command``, ``metrics``); JSON-serializable values.

    Returns:
      The directory.
    """
    if storage not in STORAGES:
        raise ValueError(f"storage must be one of {', '.join(STORAGES)}, got {storage!r}.")
    directory = os.fspath(directory)
    if os.path.exists(directory):
        raise FileExistsError(f"{directory} already exists: a preset is never written over; pick another directory "
                              "or remove it first.")
    parent = os.path.dirname(os.path.abspath(directory))
    if not os.path.isdir(parent):
        raise FileNotFoundError(f"The folder {parent} of the preset does not exist.")
    config = keras.saving.serialize_keras_object(gan)
    config.pop("compile_config", None)  # an inference preset: no optimizers
    # Keras' deserialization pops keys out of nested network configs: give it a copy of what is written.
    copy = keras.saving.deserialize_keras_object(json.loads(json.dumps(config)))
    copy.set_weights(gan.get_weights())
    metadata = {
        "kgan_preset": FORMAT_VERSION, "kgan_version": VERSION, "keras_version": keras.__version__,
        "tensorflow_version": tf.__version__, "family": gan.contract.family, "class": type(gan).__name__,
        "parameter_count": int(sum(int(v.numpy().size) for v in copy.weights)),
        "generator": "ema" if gan.ema_generator is not None else "trained", "weights_storage": storage,
        "saved": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"), **card,
    }
    staging = tempfile.mkdtemp(prefix=".preset-", dir=parent)
    try:
        os.chmod(staging, 0o755)  # mkdtemp's 0700 would keep a shared preset from its readers
        with open(os.path.join(staging, CONFIG_FILE), "w") as f:
            json.dump(config, f, indent=1)
        if storage == "float32":
            copy.save_weights(os.path.join(staging, WEIGHTS_FILE))
        else:
            write_compact_weights(os.path.join(staging, COMPACT_WEIGHTS_FILE), copy.weights, storage)
        write_json_atomic(os.path.join(staging, METADATA_FILE), metadata)
        os.rename(staging, directory)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return directory


URI_PREFIXES = ("preset:", "hf://", "kaggle://")


def is_preset_uri(source):
    """Whether ``source`` names a preset by URI (preset:NAME_OR_DIR, hf://..., kaggle://...) rather than a path."""
    return isinstance(source, str) and source.startswith(URI_PREFIXES)


def is_preset_dir(path):
    """Whether ``path`` is a directory holding a preset's metadata.json and config.json."""
    return os.path.isfile(os.path.join(path, METADATA_FILE)) and os.path.isfile(os.path.join(path, CONFIG_FILE))


def resolve(source):
    """The local directory of a preset: a directory, a shipped name, or an hf:// / kaggle:// URI."""
    source = os.fspath(source)
    if source.startswith("preset:"):
        source = source[len("preset:"):]
    for scheme, (module, install) in _REMOTE.items():
        if source.startswith(scheme):
            handle = source[len(scheme):]
            if importlib.util.find_spec(module) is None:
                raise PresetError(f"{source} needs the {module} package, which is not installed: {install}.")
            return _download(module, handle, source)
    expanded = os.path.expanduser(source)
    if os.path.isdir(expanded):
        return expanded
    shipped = os.path.join(SHIPPED_DIR, source)
    if os.sep not in source and os.path.isdir(shipped):
        return shipped
    known = ", ".join(list_presets()) or "none are shipped in this kgan version"
    raise PresetError(f"Unknown preset {source!r}: not a shipped preset ({known}), nor a preset directory, nor an "
                      "hf://user/repo or kaggle://owner/model URI.")


def _download(module, handle, source):
    try:
        library = importlib.import_module(module)
        if module == "huggingface_hub":
            return library.snapshot_download(repo_id=handle)
        return library.model_download(handle)
    except Exception as error:  # network, auth and not-found errors of either library
        raise PresetError(f"Could not download {source} ({type(error).__name__}: {one_line(error)}).") from None


def load_preset(source, expected_class=None, precision=None):
    """Builds the model a preset holds.

    Args:
      source: a preset directory, a shipped name, or an hf:// / kaggle:// URI.
      expected_class: if given, the preset must hold an instance of this class (e.g. `kgan.DCGAN`).
      precision: the networks' dtype policy to compute in, one of `kgan.checks.PRECISIONS`; None keeps the
        one the preset was trained in (its card's evaluation used it; its 2000-sample check is float32).
        The weights stay float32 either way.

    Returns:
      The uncompiled model with the preset's weights (ready to generate; compile it to train further).
    """
    if precision is not None and precision not in PRECISIONS:  # checked before any download
        raise ValueError(f"precision= for a preset must be one of {', '.join(PRECISIONS)} (policies that keep "
                         f"the weights float32) or None (the preset's own), got {precision!r}.")
    directory = resolve(source)
    metadata = _read_json(directory, METADATA_FILE, source)
    config = _read_json(directory, CONFIG_FILE, source)
    version = metadata.get("kgan_preset")
    if version != FORMAT_VERSION:
        raise PresetError(f"{source} is a kgan preset of format {version!r}; this kgan ({VERSION}) reads "
                          f"format {FORMAT_VERSION}: load it with the kgan version that wrote it "
                          f"({metadata.get('kgan_version', 'unknown')}).")
    written = str(metadata.get("kgan_version", ""))
    if written.split(".")[:1] != VERSION.split(".")[:1]:
        raise PresetError(f"{source} was written by kgan {written or 'of an unknown version'}, whose major version "
                          f"differs from this kgan ({VERSION}): install kgan {written} to load it.")
    storage = metadata.get("weights_storage", "float32")
    if storage not in STORAGES:
        raise PresetError(f"{source} stores its weights as {storage!r}, which this kgan ({VERSION}) does not read "
                          f"({', '.join(STORAGES)}): load it with the kgan version that wrote it.")
    weights = os.path.join(directory, WEIGHTS_FILE if storage == "float32" else COMPACT_WEIGHTS_FILE)
    if not os.path.isfile(weights):
        raise PresetError(f"{source} has no {os.path.basename(weights)}: the preset is incomplete; download or save "
                          "it again.")
    if precision is not None:
        config = _with_precision(config, precision, source)
    try:
        model = keras.saving.deserialize_keras_object(config)
    except Exception as error:  # unknown classes, bad arguments
        raise PresetError(f"{source}/{CONFIG_FILE} does not build a kgan model ({type(error).__name__}: "
                          f"{one_line(error)}).") from None
    if expected_class is not None and not isinstance(model, expected_class):
        raise PresetError(f"{source} holds a {type(model).__name__} ({metadata.get('family')}), not a "
                          f"{expected_class.__name__}: load it with kgan.from_preset({str(source)!r}).")
    try:
        if storage == "float32":
            model.load_weights(weights)
        else:
            read_compact_weights(weights, model.weights)
    except Exception as error:  # truncated or foreign h5 files, mismatched shapes
        raise PresetError(f"{weights} cannot be read as this model's weights ({type(error).__name__}: "
                          f"{one_line(error)}): the file is corrupt or belongs to another model; download or save "
                          "the preset again.") from None
    return model


def _with_precision(config, precision, source):
    """``config`` with its networks' dtype policy replaced (kgan's families store it as ``precision``)."""
    inner = config.get("config")
    if not isinstance(inner, dict) or "precision" not in inner:
        raise PresetError(f"{source} holds its networks layer by layer (a kgan.GAN of your own networks), whose "
                          "dtype policies precision= cannot change: load it without precision=.")
    return {**config, "config": {**inner, "precision": precision}}


def from_preset(name_or_path, precision=None):
    """The model a preset holds: a shipped name (`list_presets`), a preset directory, or an
    ``hf://user/repo`` / ``kaggle://owner/model`` URI (through huggingface_hub / kagglehub).

    Args:
      name_or_path: the preset.
      precision: compute in this dtype policy instead of the preset's own (e.g. "float32" on a CPU
        without native bfloat16, where a mixed_bfloat16 preset generates several times slower).

    Returns:
      The uncompiled `kgan.GAN` of the preset's family, with its weights.
    """
    return load_preset(name_or_path, precision=precision)


def read_metadata(source):
    """A preset's metadata.json (its model card) as a dict, without building the model."""
    return _read_json(resolve(source), METADATA_FILE, source)


def _read_json(directory, name, source):
    path = os.path.join(directory, name)
    try:
        with open(path) as f:
            value = json.load(f)
    except FileNotFoundError:
        raise PresetError(f"{source} has no {name}: not a kgan preset directory.") from None
    except (OSError, ValueError) as error:
        raise PresetError(f"{path} is unreadable ({one_line(error)}): the preset is corrupt.") from None
    if not isinstance(value, dict):
        raise PresetError(f"{path} does not hold a JSON object: the preset is corrupt.")
    return value
