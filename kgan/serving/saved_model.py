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

import json
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
from kgan.training.lock import Claim, LockedError

METADATA_FILE = "kgan_metadata.json"
WARMUP_FILE = os.path.join("assets.extra", "tf_serving_warmup_requests")
MODELS_CONFIG_FILE = "models.config"


# ---- versions, metadata, TF Serving files -----------------------------------

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
MAX_VERSION = 2**63 - 1  # TF Serving holds versions as int64
_CLAIM = ".{version}.claim"


def versions(base_dir, model_name):
    """The integer versions already exported under ``base_dir/model_name``."""
    model_dir = os.path.join(base_dir, model_name)
    if not os.path.isdir(model_dir):
        return []
    return sorted(int(name) for name in os.listdir(model_dir) if name.isdigit())


def _claimed_versions(model_dir):
    """Versions being written by another exporter (their claim files)."""
    if not os.path.isdir(model_dir):
        return []
    found = []
    for name in os.listdir(model_dir):
        if name.startswith(".") and name.endswith(".claim") and name[1:-len(".claim")].isdigit():
            found.append(int(name[1:-len(".claim")]))
    return found


def _read_family(version_dir):
    try:
        with open(os.path.join(version_dir, METADATA_FILE)) as f:
            return json.load(f).get("family")
    except (OSError, ValueError, AttributeError):
        return None


def _enclosing(path, names):
    """The nearest of ``path`` and its ancestors that holds a file of one of ``names``, or None."""
    current = os.path.abspath(os.fspath(path))
    while True:
        if any(os.path.isfile(os.path.join(current, name)) for name in names):
            return current
        parent = os.path.dirname(current)
        if parent == current:
            return None
        current = parent


def enclosing_run(path):
    """The run directory (holding run.json) that ``path`` is inside of, or None."""
    return _enclosing(path, ("run.json",))


def enclosing_export(path):
    """The export tree (a folder holding models.config, or a SavedModel version) ``path`` is inside of, or None."""
    return _enclosing(path, ("saved_model.pb", METADATA_FILE, MODELS_CONFIG_FILE))


def check_export_target(base_dir, model_name, family, version=None, replace_family=False):
    """Refuses, before any work, an export the export tree cannot take.

    Args:
      base_dir: the TF Serving model base path.
      model_name: the served model's name.
      family: the exported model's family (its contract's).
      version: an explicit version, or None for the next free one.
      replace_family: allow a model name that holds another family's versions.

    Raises:
      ValueError / NotADirectoryError / FileExistsError: naming the problem and the fix; nothing is written.
    """
    if not isinstance(base_dir, (str, os.PathLike)) or not os.fspath(base_dir).strip():
        raise ValueError("The export directory is empty: pass a folder such as --export_dir=exports.")
    base_dir = os.fspath(base_dir)
    if not isinstance(model_name, str) or not _NAME.match(model_name):
        raise ValueError(f"The model name {model_name!r} must be letters, digits, '_', '.', '-' and start with a "
                         "letter or digit (a TF Serving name).")
    if model_name == MODELS_CONFIG_FILE:
        raise ValueError(f"The model name {model_name!r} is the export directory's own {MODELS_CONFIG_FILE}; pick "
                         "another name.")
    if version is not None and (isinstance(version, bool) or not isinstance(version, int)
                                or not 1 <= version <= MAX_VERSION):
        raise ValueError(f"The version must be an integer in 1..{MAX_VERSION} (TF Serving's int64), got {version!r}.")
    if os.path.exists(base_dir) and not os.path.isdir(base_dir):
        raise NotADirectoryError(f"The export base directory {base_dir} is a file; pass a directory (--export_dir).")
    run = enclosing_run(base_dir)
    if run is not None:
        raise ValueError(f"The export directory {base_dir} is inside the run directory {run}: exports and runs "
                         "must not hold each other's files; pass another --export_dir.")
    inside = enclosing_export(os.path.dirname(os.path.abspath(base_dir)))
    if inside is None and os.path.isdir(base_dir) and any(
            name.isdigit() and os.path.isfile(os.path.join(base_dir, name, "saved_model.pb"))
            for name in os.listdir(base_dir)):
        inside = base_dir  # a model directory of versions, one level too deep
    if inside is not None:
        raise ValueError(f"The export directory {base_dir} is inside the export {inside}; pass the export base "
                         "directory itself (e.g. exports) or another one.")
    model_dir = os.path.join(base_dir, model_name)
    if os.path.exists(model_dir) and not os.path.isdir(model_dir):
        raise NotADirectoryError(f"{model_dir} is a file, not a model directory of versions; pass another model "
                                 "name or export directory.")
    existing = versions(base_dir, model_name)
    if version is not None and version in existing:
        raise FileExistsError(f"{os.path.join(model_dir, str(version))} already exists; exports are never "
                              f"overwritten. Omit the version to use the next free one ({existing[-1] + 1}).")
    if existing and not replace_family:
        held = _read_family(os.path.join(model_dir, str(existing[-1])))
        if held is not None and held != family:
            raise ValueError(f"{model_dir} serves a {held} model; exporting a {family} model under the same name "
                             "would silently change its clients' inputs. Pass another name (--name/--export_name), "
                             "or --replace_family to do it anyway.")


def export_saved_model(gan, base_dir="exports", model_name=None, version=None, training_epochs=None,
                       metrics=None, tflite_variants=(), provenance=None, replace_family=False):
    """Exports ``gan`` to ``base_dir/model_name/version`` (TF Serving's layout).

    The export tree is checked first (`check_export_target`); the version is
    claimed by a hidden claim file, so concurrent exporters take different
    versions (an explicit version another process is writing is refused); the
    version is written in a hidden staging folder and renamed into place with
    the modes of a normal folder under the user's umask, so TF Serving never
    sees half an export and a server of another user can read it.

    Args:
      gan: a trained `kgan.GAN`.
      base_dir: TF Serving model base path (``exports/``).
      model_name: the served model's name (default: the family, e.g. "dcgan").
      version: integer version; default the next free one. An existing version is
        never overwritten (FileExistsError).
      training_epochs: the epochs the exported model was trained for, recorded in the metadata.
      metrics: dict of final training metrics, recorded in the metadata.
      tflite_variants: TF-Lite variants of the generator to write into
        ``<version>/tflite/`` (see `kgan.serving.tflite`), e.g. ("float32", "int8").
      provenance: dict recorded as the metadata's ``exported`` entry: which
        model of a run this is (``from``: "best" or "final", ``epoch``) and its
        quality ``scores`` (e.g. the Frechet distance it was selected by).
      replace_family: allow a model name whose versions are of another family.

    Returns:
      The version directory.
    """
    if not isinstance(gan, GAN):
        raise TypeError(f"export_saved_model needs a kgan.GAN (e.g. kgan.load('runs/dcgan').gan), got "
                        f"{type(gan).__name__}; an existing export is re-served as it is, not re-exported.")
    if isinstance(tflite_variants, str):
        tflite_variants = (tflite_variants,)
    for variant in tflite_variants or ():
        tflite.file_name(variant)  # ValueError naming the known variants, before any work
    model_name = model_name or gan.contract.family
    check_export_target(base_dir, model_name, gan.contract.family, version, replace_family)
    model_dir = os.path.join(base_dir, model_name)
    os.makedirs(model_dir, exist_ok=True)
    with _VersionClaim(model_dir, version) as claimed:
        version = claimed
        path = os.path.join(model_dir, str(version))
        staging = tempfile.mkdtemp(prefix=f".{version}-", dir=model_dir)
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
            publish_modes(staging)
            os.rename(staging, path)  # TF Serving never sees a half-written version
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    return path


class _VersionClaim:
    """Claims the next free (or the given) version of a model directory for one exporter."""

    def __init__(self, model_dir, version):
        self.model_dir, self.version, self.claim = model_dir, version, None

    def __enter__(self):
        explicit = self.version is not None
        candidate = self.version
        for _ in range(100):
            if candidate is None:
                taken = versions(os.path.dirname(self.model_dir), os.path.basename(self.model_dir))
                taken += _claimed_versions(self.model_dir)
                candidate = max(taken, default=0) + 1
            claim = Claim(os.path.join(self.model_dir, _CLAIM.format(version=candidate)), "an export",
                          what=f"Version {candidate} of {self.model_dir}")
            try:
                claim.acquire()
            except LockedError:
                if explicit:
                    raise
                candidate += 1
                continue
            if os.path.exists(os.path.join(self.model_dir, str(candidate))):  # finished meanwhile
                claim.release()
                if explicit:
                    raise FileExistsError(f"{os.path.join(self.model_dir, str(candidate))} already exists; exports "
                                          "are never overwritten.")
                candidate += 1
                continue
            self.claim = claim
            return candidate
        raise LockedError(f"Could not claim a free version of {self.model_dir}: too many exporters at once.")

    def __exit__(self, *exc):
        self.claim.release()
        return False


def publish_modes(folder):
    """Gives ``folder`` and everything in it the modes of normal files under the umask (folders 0777, files 0666,
    minus the umask): staging folders and temporary files are made private (0700, 0600)."""
    mask = os.umask(0)
    os.umask(mask)
    for root, folders, files in os.walk(folder):
        os.chmod(root, 0o777 & ~mask)
        for name in files:
            os.chmod(os.path.join(root, name), 0o666 & ~mask)


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
