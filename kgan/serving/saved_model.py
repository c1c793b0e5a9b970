"""Export trained GANs as SavedModels in TF Serving's layout, with the model's serving contract.

``export_saved_model(gan, "exports", "dcgan")`` writes ``exports/dcgan/<version>/``
(next free integer version; an existing version is never touched) holding the
signatures of `kgan.serving.signatures` (method tensorflow/serving/predict),
plain TF graphs that load without kgan.

Next to the model: ``kgan_metadata.json`` (the contract, value range, the
exported model's epochs and quality scores, final training metrics) and
``assets.extra/tf_serving_warmup_requests`` (one PredictionLog per signature).
``write_models_config`` lists every exported model in ``<base>/models.config``
for ``tensorflow_model_server --model_config_file``. Read an export back with
`kgan.serving.reader`.
"""

import os
import re
import shutil
import tempfile

import tensorflow as tf
from google.protobuf import text_format
from tensorflow_serving.apis import model_pb2, predict_pb2, prediction_log_pb2
from tensorflow_serving.config import model_server_config_pb2

from kgan.checks import write_json_atomic, write_text_atomic
from kgan.gan import GAN
from kgan.serving import tflite
from kgan.serving.signatures import build_archive, describe, warmup_inputs

METADATA_FILE = "kgan_metadata.json"
WARMUP_FILE = os.path.join("assets.extra", "tf_serving_warmup_requests")
MODELS_CONFIG_FILE = "models.config"


# ---- versions, metadata, TF Serving files -----------------------------------

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def versions(base_dir, model_name):
    """The integer versions already exported under ``base_dir/model_name``."""
    model_dir = os.path.join(base_dir, model_name)
    if not os.path.isdir(model_dir):
        return []
    return sorted(int(name) for name in os.listdir(model_dir) if name.isdigit())


def export_saved_model(gan, base_dir="exports", model_name=None, version=None, training_epochs=None,
                       metrics=None, tflite_variants=(), provenance=None):
    """Exports ``gan`` to ``base_dir/model_name/version`` (TF Serving's layout).

    Args:
      gan: a trained `kgan.GAN`.
      base_dir: TF Serving model base path (``exports/``).
      model_name: the served model's name (default: the family, e.g. "dcgan").
      version: integer version; default the next free one. An existing version is
        never overwritten (FileExistsError).
      training_epochs: the epochs the exported model was trained for, recorded in the metadata.
      metrics: dict of final training metrics, recorded in the metadata.
      provenance: dict recorded as the metadata's ``exported`` entry: which
        model of a run this is (``from``: "best" or "final", ``epoch``) and its
        quality ``scores`` (e.g. the Frechet distance it was selected by).
      tflite_variants: TF-Lite variants of the generator to write into
        ``<version>/tflite/`` (see `kgan.tflite`), e.g. ("float32", "int8").

    Returns:
      The version directory.
    """
    if not isinstance(gan, GAN):
        raise TypeError(f"export_saved_model needs a kgan.GAN (e.g. kgan.load('runs/dcgan').gan), got "
                        f"{type(gan).__name__}; an existing export is re-served as it is, not re-exported.")
    if isinstance(tflite_variants, str):
        tflite_variants = (tflite_variants,)
    if tflite_variants:
        for variant in tflite_variants:
            tflite.file_name(variant)  # ValueError naming the known variants, before any work
    model_name = model_name or gan.contract.family
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
        build_archive(gan).write_out(staging, verbose=False)
        metadata = {**describe(gan), "model_name": model_name, "version": version,
                    "signatures": sorted(tf.saved_model.load(staging).signatures.keys()),
                    "training_epochs": training_epochs,
                    "metrics": {k: float(v) for k, v in (metrics or {}).items()},
                    "exported": dict(provenance) if provenance else None}
        write_warmup_requests(staging, gan, model_name)
        if tflite_variants:
            files = tflite.export_tflite(gan, os.path.join(staging, "tflite"), tflite_variants)
            metadata["tflite"] = {variant: os.path.relpath(file, staging) for variant, file in files.items()}
        write_json_atomic(os.path.join(staging, METADATA_FILE), metadata)
        os.rename(staging, path)  # TF Serving never sees a half-written version
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return path


def write_warmup_requests(export_dir, gan, model_name):
    """Writes ``assets.extra/tf_serving_warmup_requests`` (PredictionLog TFRecords)."""
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
    config = model_server_config_pb2.ModelServerConfig()
    for name in sorted(os.listdir(base_dir)):
        if versions(base_dir, name):
            entry = config.model_config_list.config.add()
            entry.name = name
            entry.base_path = f"{serving_root.rstrip('/')}/{name}"
            entry.model_platform = "tensorflow"
    return write_text_atomic(os.path.join(base_dir, MODELS_CONFIG_FILE), text_format.MessageToString(config))
