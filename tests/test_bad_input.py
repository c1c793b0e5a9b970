"""Bad input everywhere outside training checkpoints: a clear error naming the problem and the fix, nothing lost.

Complements the per-module tests (test_export, test_tflite, test_latent, test_data, test_gan,
test_cgan_infogan, test_evaluation, test_svm, test_zoo_train), which already cover many cases; the
cases here are the gaps: serving requests of the wrong shape (a SavedModel does not enforce its
TensorSpecs at run time), disagreeing batches, broken model / export / TF-Lite files, exports
that must stay untouched, and CLI flags.
"""

import concurrent.futures
import gzip
import json
import os
import re
import shutil
import subprocess
import sys
import warnings
import zipfile

import keras
import numpy as np
import pytest
import tensorflow as tf

import kgan
from conftest import REPO, run_module, tiny_families, write_idx_gz
from kgan import evaluation, latent, serving
from kgan.evaluation import svm
from kgan.serving import tflite
from zoo import _choices, _main

FAMILIES = tiny_families()
TF_NOISE = ("WARNING", "I0000", "E0000", "W0000", "To enable the following", "INFO:")


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """dcgan, cgan (with its float32 .tflite) and infogan, exported once: {family: (gan, path, signatures)}."""
    base = tmp_path_factory.mktemp("exports")
    result = {}
    for name in ("dcgan", "cgan", "infogan"):
        keras.utils.set_random_seed(0)
        gan = FAMILIES[name]()
        path = serving.export_saved_model(gan, str(base), name, tflite_variants=("float32",) if name == "cgan" else ())
        result[name] = (gan, path, tf.saved_model.load(path).signatures)
    return result


def call(exported, name, signature, **inputs):
    return exported[name][2][signature](**{key: tf.constant(value) for key, value in inputs.items()})


def snapshot(root):
    """{relative path: (bytes, mtime_ns)} of every file under ``root``."""
    files = {}
    for folder, _, names in os.walk(root):
        for name in names:
            path = os.path.join(folder, name)
            with open(path, "rb") as f:
                files[os.path.relpath(path, root)] = (f.read(), os.stat(path).st_mtime_ns)
    return files


def error_lines(stderr):
    """The lines of a CLI's stderr that are its own messages (TF's start-up logging dropped)."""
    return [line for line in stderr.splitlines() if line.strip() and not line.startswith(TF_NOISE)]


def assert_one_line_error(result, code, pattern):
    """Exit ``code``, no traceback, and exactly one stderr line naming the problem (matching ``pattern``)."""
    lines = error_lines(result.stderr)
    assert result.returncode == code, (result.returncode, result.stderr[-2000:])
    assert "Traceback" not in result.stderr, result.stderr[-2000:]
    problems = [line for line in lines if line.startswith(("error: ", "FATAL Flags parsing error: ",
                                                           "Unexpected arguments: "))]
    assert len(problems) == 1 and re.search(pattern, problems[0]), lines


def run_parallel(*invocations):
    """Runs several ``(module, *args)`` CLI invocations at once (they spend most time importing)."""
    with concurrent.futures.ThreadPoolExecutor(len(invocations)) as pool:
        return list(pool.map(lambda invocation: run_module(*invocation), invocations))


# ---- 1. serving requests on a SavedModel export ------------------------------------------------------


@pytest.mark.parametrize("name,signature,inputs,message", [
    # A conv discriminator ran on 32x32 images and answered (probability shape [1]) before the check.
    ("dcgan", "discriminate", {"images": np.zeros((1, 32, 32, 1), np.float32)},
     r"images must have shape \[N, 28, 28, 1\], got \[1, 32, 32, 1\]"),
    ("dcgan", "discriminate", {"images": np.zeros((28, 28, 1), np.float32)},
     r"images must have shape \[N, 28, 28, 1\], got \[28, 28, 1\]"),
    ("dcgan", "features", {"images": np.zeros((1, 28, 28, 3), np.float32)},
     r"images must have shape \[N, 28, 28, 1\], got \[1, 28, 28, 3\]"),
    ("cgan", "generate", {"z": np.zeros((2, 100), np.float32), "label": np.zeros((2, 1), np.int32)},
     r"label must have shape \[N\], got \[2, 1\]"),
    ("cgan", "generate", {"z": np.zeros((1, 100), np.float32), "label": np.int32(3)},
     r"label must have shape \[N\], got \[\]"),
    ("cgan", "sample", {"num_images": np.int32(2), "seed": np.int32(0), "label": np.zeros((1, 1), np.int32)},
     r"label must have shape \[N\], got \[1, 1\]"),
    ("infogan", "generate", {"z": np.zeros((2, 62), np.float32), "categorical_code": np.zeros(2, np.int32),
                             "continuous_code": np.zeros((2, 3), np.float32)},
     r"continuous_code must have shape \[N, 2\], got \[2, 3\]"),
])
def test_wrong_shapes_are_rejected_at_run_time(exported, name, signature, inputs, message):
    with pytest.raises(tf.errors.InvalidArgumentError, match=message):
        call(exported, name, signature, **inputs)


@pytest.mark.parametrize("name,signature,inputs,message", [
    ("cgan", "generate", {"z": np.zeros((2, 100), np.float32), "label": np.zeros(3, np.int32)},
     r"z, label must have the same batch size N >= 1 \(one row per image\), got z: 2, label: 3"),
    ("infogan", "generate", {"z": np.zeros((2, 62), np.float32), "categorical_code": np.zeros(2, np.int32),
                             "continuous_code": np.zeros((3, 2), np.float32)},
     r"got z: 2, categorical_code: 2, continuous_code: 3"),
    ("cgan", "discriminate", {"images": np.zeros((2, 28, 28, 1), np.float32), "label": np.zeros(3, np.int32)},
     r"images, label must have the same batch size .* got images: 2, label: 3"),
    ("dcgan", "generate", {"z": np.zeros((0, 100), np.float32)}, r"z must hold at least one row .* got N = 0"),
    ("dcgan", "discriminate", {"images": np.zeros((0, 28, 28, 1), np.float32)},
     r"images must hold at least one row"),
])
def test_disagreeing_or_empty_batches_are_rejected(exported, name, signature, inputs, message):
    with pytest.raises(tf.errors.InvalidArgumentError, match=message):
        call(exported, name, signature, **inputs)


@pytest.mark.parametrize("name,signature,inputs,message", [
    ("dcgan", "sample", {"num_images": np.array([2, 3], np.int32), "seed": np.int32(0)},
     r"num_images must be one int32 scalar, got \[2, 3\]"),
    ("dcgan", "sample", {"num_images": np.int32(2), "seed": np.zeros(0, np.int32)},
     r"seed must be one int32 scalar, got \[\]"),
    ("dcgan", "sample", {"num_images": np.int32(-1), "seed": np.int32(0)}, r"num_images must be in \[1, 1024\]"),
    ("cgan", "sample", {"num_images": np.int32(3), "seed": np.int32(0), "label": np.array([11], np.int32)},
     r"label must be in \[0, 9\]"),
    ("cgan", "discriminate", {"images": np.zeros((2, 28, 28, 1), np.float32), "label": np.array([1, 10], np.int32)},
     r"label must be in \[0, 9\]"),
    ("infogan", "generate", {"z": np.zeros((1, 62), np.float32), "categorical_code": np.array([-1], np.int32),
                             "continuous_code": np.zeros((1, 2), np.float32)}, r"categorical_code must be in \[0, 9\]"),
    ("infogan", "generate", {"z": np.zeros((1, 62), np.float32), "categorical_code": np.array([1], np.int32),
                             "continuous_code": np.array([[np.nan, 0.0]], np.float32)},
     "continuous_code must be finite"),
    ("infogan", "discriminate", {"images": np.full((1, 28, 28, 1), np.nan, np.float32)}, r"\[-1, 1\]"),
])
def test_bad_values_are_rejected(exported, name, signature, inputs, message):
    with pytest.raises(tf.errors.InvalidArgumentError, match=message):
        call(exported, name, signature, **inputs)


def test_a_one_element_num_images_is_that_scalar(exported):
    """TF Serving's row-format REST requests turn scalars into [1] vectors: accepted as the scalar."""
    as_vector = call(exported, "dcgan", "sample", num_images=np.array([3], np.int32), seed=np.array([5], np.int32))
    as_scalar = call(exported, "dcgan", "sample", num_images=np.int32(3), seed=np.int32(5))
    np.testing.assert_array_equal(as_vector["images"].numpy(), as_scalar["images"].numpy())


@pytest.mark.parametrize("name,signature,inputs,spec", [
    ("cgan", "generate", {"z": np.zeros((1, 100), np.float32), "label": np.zeros(1, np.int64)},
     "TensorSpec(shape=(None,), dtype=tf.int32, name='label')"),
    ("cgan", "generate", {"z": np.zeros((1, 100), np.float32), "label": np.zeros(1, np.float32)},
     "TensorSpec(shape=(None,), dtype=tf.int32, name='label')"),
    ("dcgan", "discriminate", {"images": np.zeros((1, 28, 28, 1), np.uint8)},
     "TensorSpec(shape=(None, 28, 28, 1), dtype=tf.float32, name='images')"),
    ("dcgan", "sample", {"num_images": np.float32(3), "seed": np.int32(0)},
     "TensorSpec(shape=(), dtype=tf.int32, name='num_images')"),
])
def test_wrong_dtypes_fail_before_the_graph_runs_naming_the_spec(exported, name, signature, inputs, spec):
    """TF rejects them itself (no graph check can run); its chained binding error names the expected spec."""
    with pytest.raises((TypeError, tf.errors.InvalidArgumentError)) as error:
        call(exported, name, signature, **inputs)
    assert spec in f"{error.value} {error.value.__context__}"


def test_failed_checks_become_one_cli_line(exported):
    with pytest.raises(tf.errors.InvalidArgumentError) as error:
        call(exported, "dcgan", "discriminate", images=np.zeros((1, 32, 32, 1), np.float32))
    assert _main.failed_check_message(error.value) == "images must have shape [N, 28, 28, 1], got [1, 32, 32, 1]"
    with pytest.raises(tf.errors.InvalidArgumentError) as error:
        call(exported, "dcgan", "sample", num_images=np.int32(0), seed=np.int32(0))
    assert _main.failed_check_message(error.value) == "num_images must be in [1, 1024]"
    assert _main.failed_check_message(ValueError("x")) is None
    assert _main.failed_check_message(tf.errors.InvalidArgumentError(None, None, "Matrix size-incompatible")) is None


# ---- 1b. the TF-Lite generator --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cgan_tflite(exported):
    return os.path.join(exported["cgan"][1], "tflite", "generator_float32.tflite")


@pytest.mark.parametrize("update,message", [
    ({"z": [[0.0] * 100, [0.0] * 99]}, r"z must be a numeric array \[N, 100\] \(rows of equal length\)"),
    ({"z": np.full((2, 100), 1e300)}, r"z must be finite .* float32 values \(\|x\| <= 3.4e\+38\)"),
    ({"label": np.array([True, False])}, "label must hold integer ids"),
    ({"label": np.array([1, 2 ** 63], np.uint64)}, r"label must be in \[0, 9\]; got \[9223372036854775808\]"),
    ({"label": ["1", "2"]}, r"label must be a numeric array \[N\]"),
])
def test_tflite_rejects_bad_requests(cgan_tflite, update, message):
    runner = tflite.TFLiteGenerator(cgan_tflite)
    request = {"z": np.zeros((2, 100), np.float32), "label": np.array([1, 2], np.int32), **update}
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # no numpy overflow warning on the way
        with pytest.raises(ValueError, match=message):
            runner.generate(**request)


def test_tflite_rejects_missing_foreign_and_truncated_files(cgan_tflite, exported, tmp_path):
    data = open(cgan_tflite, "rb").read()
    cases = {
        "missing.tflite": (None, FileNotFoundError, "does not exist: pass a .tflite file"),
        "folder": ("dir", IsADirectoryError, "is a directory, not a TF-Lite model"),
        "notes.tflite": (b"hello world", ValueError, "Not a TF-Lite flatbuffer.*holds another format"),
        "half.tflite": (data[:len(data) // 2], ValueError, "truncated or corrupt TF-Lite model.*re-export"),
        "short.tflite": (data[:-10], ValueError, "truncated or corrupt TF-Lite model.*re-export"),
        "header.tflite": (data[:100], ValueError, "truncated or corrupt TF-Lite model"),
    }
    for name, (content, error, message) in cases.items():
        path = tmp_path / name
        if content == "dir":
            path.mkdir()
        elif content is not None:
            path.write_bytes(content)
        with pytest.raises(error, match=message) as info:
            tflite.TFLiteGenerator(path)
        assert str(path) in str(info.value)
    exported["cgan"][0].save(tmp_path / "model.keras")
    with pytest.raises(ValueError, match="Not a TF-Lite flatbuffer"):
        tflite.TFLiteGenerator(tmp_path / "model.keras")


# ---- 2. exporting onto an existing version ----------------------------------------------------------------


def test_an_existing_export_is_never_touched(exported, tmp_path):
    gan, path, _ = exported["dcgan"]
    base = os.path.dirname(os.path.dirname(path))
    before = snapshot(base)
    with pytest.raises(FileExistsError, match=r"1 already exists; exports are never overwritten.*next free one \(2\)"):
        serving.export_saved_model(gan, base, "dcgan", version=1)
    with pytest.raises(ValueError, match="variant must be one of"):  # checked before any work
        serving.export_saved_model(gan, base, "dcgan", tflite_variants=("int4",))
    with pytest.raises(TypeError, match="needs a kgan.GAN.*got ExportedGAN"):
        serving.export_saved_model(latent.load_gan(path), base, "dcgan")
    (tmp_path / "file").write_text("not a folder")
    with pytest.raises(NotADirectoryError, match="is a file; pass a directory"):
        serving.export_saved_model(gan, str(tmp_path / "file"), "dcgan")
    assert snapshot(base) == before  # same files, bytes and mtimes; no staging leftovers

    gan.save(tmp_path / "m.keras")
    again, of_export = run_parallel(
        ("zoo.export", f"--model={tmp_path / 'm.keras'}", f"--export_dir={base}", "--name=dcgan", "--version=1",
         "--tflite="),
        ("zoo.export", f"--model={path}", f"--export_dir={base}", "--tflite="))
    assert_one_line_error(again, 2, r"^error: .*1 already exists; exports are never overwritten")
    assert_one_line_error(of_export, 2, r"^error: --model .* is already an export .*run directory or \.keras file")
    assert snapshot(base) == before


# ---- 3. model files and exports of the wrong kind --------------------------------------------------------


def test_broken_keras_files_are_refused(exported, tmp_path):
    gan = exported["dcgan"][0]
    gan.save(tmp_path / "good.keras")
    data = (tmp_path / "good.keras").read_bytes()
    (tmp_path / "half.keras").write_bytes(data[:len(data) // 2])
    with pytest.raises(ValueError, match="not a valid .keras file .*truncated"):
        latent.load_gan(tmp_path / "half.keras")
    with zipfile.ZipFile(tmp_path / "junk.keras", "w") as archive:
        archive.writestr("notes.txt", "hello")
    with pytest.raises(ValueError, match="Could not load .*junk.keras as a Keras model .*config.json"):
        latent.load_gan(tmp_path / "junk.keras")
    with zipfile.ZipFile(tmp_path / "good.keras") as source, zipfile.ZipFile(tmp_path / "bad.keras", "w") as target:
        for item in source.infolist():
            content = source.read(item.filename)
            target.writestr(item, content[:len(content) // 3] if item.filename.endswith(".h5") else content)
    with pytest.raises(ValueError, match="Could not load .*bad.keras as a Keras model .*is the file complete"):
        latent.load_gan(tmp_path / "bad.keras")


def test_broken_exports_are_refused(exported, tmp_path):
    source = exported["cgan"][1]

    def copy(name, edit):
        target = tmp_path / name
        shutil.copytree(source, target)
        edit(target)
        return target

    plain = tf.Module()
    plain.f = tf.function(lambda x: x + 1.0, input_signature=[tf.TensorSpec([None], tf.float32)])
    tf.saved_model.save(plain, str(tmp_path / "plain"))
    cases = {
        tmp_path / "plain": "SavedModel without kgan_metadata.json: not a kgan export",
        copy("json", lambda d: (d / serving.METADATA_FILE).write_text("{not json")): "is not valid JSON.*re-export",
        copy("list", lambda d: (d / serving.METADATA_FILE).write_text("[]")): "not a JSON object",
        copy("pb", lambda d: (d / "saved_model.pb").write_bytes(b"garbage")):
            "Could not load the SavedModel .*corrupt or incomplete: re-export",
        copy("variables", lambda d: shutil.rmtree(d / "variables")): "Could not load the SavedModel",
    }
    for path, message in cases.items():
        for open_model in (latent.load_gan, evaluation.open_sampler):
            with pytest.raises(ValueError, match=message):
                open_model(str(path))
    with open(os.path.join(source, serving.METADATA_FILE)) as f:
        metadata = json.load(f)
    del metadata["inputs"]["label"]["size"]
    no_size = copy("keys", lambda d: (d / serving.METADATA_FILE).write_text(json.dumps(metadata)))
    for open_model in (latent.load_gan, evaluation.open_sampler):
        with pytest.raises(ValueError, match=r"describes input 'label' incompletely \(no 'size'\)"):
            open_model(str(no_size))
    with pytest.raises(ValueError, match=r"lacks \['family', 'image_shape', 'inputs'\].*re-export"):
        latent.load_gan(copy("family", lambda d: (d / serving.METADATA_FILE).write_text("{}")))


def test_exports_refuse_what_their_contract_cannot_do(exported):
    infogan = latent.load_gan(exported["infogan"][1])
    dcgan = latent.load_gan(exported["dcgan"][1])
    with pytest.raises(ValueError, match="at most 1024 latents at a time .*2000 were asked for"):
        latent.candidate_images(dcgan, num_candidates=2000)
    with pytest.raises(ValueError, match="at most 1024 latents .*1200 were asked for.*two latents per row"):
        latent.interpolation_grid(dcgan, rows=600, steps=2)
    # Latent arithmetic over three different categories makes a one-hot with a -1 entry, which an
    # export (integer codes) cannot take: it used to be sent as the argmax, silently.
    categories = np.argmax(infogan.sample_latents(64, seed=0)[1].numpy(), axis=1)
    a, b, c = (int(np.flatnonzero(categories == category)[0]) for category in np.unique(categories)[:3])
    with pytest.raises(ValueError, match="Exports take integer labels/codes"):
        latent.latent_arithmetic(infogan, [a], [b], [c], seed=0, variants=0)
    # A contract without DCGAN features (InfoGAN's D has its Q head): no features signature.
    with pytest.raises(ValueError, match="no DCGAN features.*not InfoGAN's"):
        svm.feature_extractors(exported["infogan"][1])


def test_unlabelled_data_is_refused_by_the_svm(tmp_path, mnist_data_dir):
    from PIL import Image

    for i in range(4):
        Image.fromarray(np.full((8, 8, 3), 40 * i, np.uint8)).save(tmp_path / f"{i}.png")
    color = kgan.DCGAN(image_shape=(32, 32, 3), generator_filters=2, discriminator_filters=2, seed=0)
    with pytest.raises(ValueError, match="has no class labels .*one sub-folder per class"):
        svm.run_protocol(color, 1, dataset=str(tmp_path), data_dir=mnist_data_dir, num_validation=1, num_test=1)


# ---- 4. data ------------------------------------------------------------------------------------------------


def compiled(name):
    gan = FAMILIES[name]()
    gan.compile(d_optimizer="adam", g_optimizer="adam")
    return gan


def test_fit_rejects_non_finite_images_and_bad_labels_before_any_update():
    gan = compiled("dcgan")
    images = np.zeros((8, 28, 28, 1), np.float32)
    images[3, 1, 1, 0] = np.nan
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"scaled to \[-1, 1\]"):
        gan.fit(images, batch_size=8, verbose=0)
    with pytest.raises(TypeError, match="floating point in \\[-1, 1\\], got dtype bool"):
        gan.fit(np.zeros((8, 28, 28, 1), bool), batch_size=8, verbose=0)
    assert int(gan.d_optimizer.iterations) == 0 and int(gan.g_optimizer.iterations) == 0
    cgan = compiled("cgan")
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"labels must be in \[0, 10\)"):
        cgan.fit(np.zeros((8, 28, 28, 1), np.float32), np.full(8, -1), batch_size=8, verbose=0)
    with pytest.raises(TypeError, match="integer class ids, got dtype bool"):
        cgan.fit(np.zeros((8, 28, 28, 1), np.float32), np.zeros(8, bool), batch_size=8, verbose=0)
    with pytest.raises(ValueError, match="(?s)Data cardinality is ambiguous.*'x' sizes: 8.*'y' sizes: 6"):
        cgan.fit(np.zeros((8, 28, 28, 1), np.float32), np.zeros(6, np.int32), batch_size=8, verbose=0)
    assert int(cgan.d_optimizer.iterations) == 0


def test_fit_names_the_problem_of_a_dict_dataset():
    dataset = tf.data.Dataset.from_tensor_slices({"image": np.zeros((8, 28, 28, 1), np.float32)}).batch(4)
    with pytest.raises((TypeError, ValueError), match="image"):
        compiled("dcgan").fit(dataset, verbose=0)


@pytest.mark.filterwarnings("ignore:Your input ran out of data")
def test_fit_on_no_data_is_an_error():
    with pytest.raises(ValueError):
        compiled("dcgan").fit(np.zeros((0, 28, 28, 1), np.float32), batch_size=4, verbose=0)


def test_infogan_generate_rejects_non_finite_codes():
    with pytest.raises(ValueError, match="finite"):
        FAMILIES["infogan"]().generate(categories=[1], continuous=[[np.nan, 0.0]])


def test_data_clis_fail_in_one_line_without_losing_anything(tmp_path, mnist_data_dir):
    keras_file = tmp_path / "m.keras"
    FAMILIES["dcgan"]().save(keras_file)
    source = tmp_path / "idx"
    source.mkdir()
    for prefix, n in (("train", 4), ("t10k", 2)):
        write_idx_gz(source / f"{prefix}-images-idx3-ubyte.gz", np.zeros((n, 28, 28)))
        write_idx_gz(source / f"{prefix}-labels-idx1-ubyte.gz", np.zeros(n))
    (source / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(b"\x08\x01\x00\x00" + b"\0" * 6))
    existing = tmp_path / "tfds"
    shutil.copytree(mnist_data_dir, existing)
    before = snapshot(existing)
    (tmp_path / "file").write_text("x")
    empty = tmp_path / "empty"
    notes = tmp_path / "notes.txt"
    notes.write_text("hello")
    wrong_magic, into_file, svm_no_data, evaluate_no_data, bad_model_first = run_parallel(
        ("zoo.import_data", f"--source_dir={source}", f"--data_dir={existing}", "--overwrite",
         "--noverify_checksums"),
        ("zoo.import_data", f"--source_dir={source}", f"--data_dir={tmp_path / 'file'}"),
        ("zoo.svm", f"--model={keras_file}", "--labels_per_class=1", f"--data_dir={empty}"),
        ("zoo.evaluate", keras_file, f"--data_dir={empty}", f"--output={tmp_path / 'e.json'}"),
        ("zoo.evaluate", keras_file, notes, f"--data_dir={empty}", f"--output={tmp_path / 'f.json'}"))
    assert_one_line_error(wrong_magic, 2, r"^error: .*t10k-labels-idx1-ubyte.gz is not an IDX file \(bad magic "
                                          r"number 0x08010000.*re-copy it")
    assert snapshot(existing) == before  # the failed --overwrite kept the prepared dataset as it was
    assert_one_line_error(into_file, 2, r"^error: --data_dir .*file is a file; pass a directory")
    for result in (svm_no_data, evaluate_no_data):
        assert_one_line_error(result, 2, r"^error: Dataset 'mnist' is not prepared .*python -m zoo.import_data")
    # Every model is opened before any data is read: the bad model is reported, not the missing data.
    assert_one_line_error(bad_model_first, 2, r"^error: .*notes.txt is not a .keras file")
    assert not (tmp_path / "e.json").exists() and not (tmp_path / "f.json").exists()


# ---- 5. CLI flags -----------------------------------------------------------------------------------------------


def test_cli_flags_are_rejected_in_one_line(tmp_path):
    existing = tmp_path / "results.json"
    existing.write_text("precious")
    folder = tmp_path / "folder"
    folder.mkdir()
    (tmp_path / "file").write_text("x")
    missing_folder = tmp_path / "nowhere" / "out.json"
    model = tmp_path / "model.keras"  # exists but is never read: every invocation fails on its flags first
    model.write_bytes(b"not read")
    cases = [
        # (module, args, exit code, message)
        ("zoo.latent", ["--model=m", f"--output_dir={folder}", "--mode=warp"], 1,
         r"--mode=warp: value should be one of"),
        ("zoo.latent", ["--model=m", f"--output_dir={folder}", "--mode=interpolate", "--rows=0"], 1,
         r"--rows=0: 0 is not a positive integer"),
        ("zoo.latent", ["--model=m", f"--output_dir={folder}", "--cols=-3"], 1, r"--cols=-3"),
        ("zoo.latent", ["--model=m", f"--output_dir={folder}", "--mode=arithmetic", "--a=1,x", "--b=2", "--c=3"], 2,
         r"--a must be comma-separated integer candidate indices like 1,5,9, got '1,x'"),
        ("zoo.latent", ["--model=m", f"--output_dir={tmp_path / 'file'}"], 2, r"is a file, not a folder"),
        ("zoo.latent", ["--model=m", f"--output_dir={folder}", "stray"], 1, r"Unexpected arguments: stray"),
        ("zoo.evaluate", [model, "--num_samples=0"], 1, r"--num_samples=0: 0 is not integer >= 6"),
        ("zoo.evaluate", [model, "--num_real=-1"], 1, r"--num_real=-1"),
        ("zoo.evaluate", [f"--output={existing}"], 2, r"Pass at least one model"),
        ("zoo.evaluate", [model, f"--output={existing}"], 2, r"already exists; pass --overwrite"),
        ("zoo.evaluate", [model, f"--output={folder}", "--overwrite"], 2, r"is a directory; pass a file name"),
        ("zoo.evaluate", [model, f"--output={missing_folder}"], 2, r"The folder of --output .* does not exist"),
        ("zoo.svm", [f"--model={model}", "--labels_per_class=0"], 1, r"--labels_per_class=0: 0 is not a positive"),
        ("zoo.svm", [f"--model={model}", "--labels_per_class=2", "--dataset=svhn"], 2,
         r"Unknown dataset 'svhn'.*Did you mean svhn_cropped"),
        ("zoo.svm", [f"--model={model}", "--labels_per_class=2", "--c_grid=1,nan"], 2,
         r"--c_grid must hold positive, finite numbers .*got '1,nan'"),
        ("zoo.svm", [f"--model={model}", "--labels_per_class=2", "--c_grid=inf"], 2, r"positive, finite"),
        ("zoo.svm", [f"--model={model}", "--labels_per_class=2", "--c_grid=0"], 2, r"positive, finite"),
        ("zoo.svm", [f"--model={model}", "--labels_per_class=2", f"--output={existing}"], 2,
         r"already exists; pass --overwrite"),
        ("zoo.svm", [f"--model={model}", "--labels_per_class=2", f"--output={missing_folder}"], 2,
         r"The folder of --output .* does not exist"),
        ("zoo.svm", [f"--model={model}", "--labels_per_class=2", "stray"], 1, r"Unexpected arguments: stray"),
    ]
    results = run_parallel(*[(module, *args) for module, args, _, _ in cases])
    for (module, args, code, message), result in zip(cases, results):
        assert_one_line_error(result, code, message)
    assert existing.read_text() == "precious" and not missing_folder.parent.exists()
    assert os.listdir(folder) == []


def test_trainer_export_and_import_flags_are_rejected_in_one_line(tmp_path):
    cases = [
        ("zoo.export", ["--model=m.keras", "--version=0"], 1, r"--version=0: 0 is not a positive integer"),
        ("zoo.export", ["--model=m.keras", "stray"], 1, r"Unexpected arguments: stray"),
        ("zoo.import_data", [f"--source_dir={tmp_path}", "--dataset=cifar10"], 1,
         r"--dataset=cifar10: value should be one of <mnist\|fashion_mnist>"),
        ("zoo.import_data", [f"--source_dir={tmp_path}", f"--data_dir={tmp_path / 'tfds'}", "stray"], 1,
         r"Unexpected arguments: stray"),
        # The training toolkit's flags, refused before any data is read or run directory made.
        ("zoo.dcgan", [f"--output_dir={tmp_path / 'run'}", "--loss=hinj"], 1, r"--loss=hinj: value should be one of"),
        ("zoo.dcgan", [f"--output_dir={tmp_path / 'run'}", "--loss=wasserstein"], 1,
         r"--loss wasserstein needs a Lipschitz critic: add --gradient_penalty 10"),
        ("zoo.gan", [f"--output_dir={tmp_path / 'run'}", "--r1_gamma=-1"], 1, r"--r1_gamma=-1"),
        ("zoo.infogan", [f"--output_dir={tmp_path / 'run'}", "--ema=1.0"], 1, r"--ema=1.0"),
        ("zoo.cgan", [f"--output_dir={tmp_path / 'run'}", "--augment=translation,flip"], 1,
         r"--augment takes any of translation,cutout,color"),
        ("zoo.dcgan", [f"--output_dir={tmp_path / 'run'}", "--conditioning=acgan", f"--data_dir={tmp_path / 'tfds'}"],
         2, r"--conditioning acgan is for the conditional trainer \(python -m zoo.cgan\); zoo.dcgan is unconditional"),
        ("zoo.dcgan", [f"--output_dir={tmp_path / 'run'}", "--loss=hinge", "--label_smoothing=0.1"], 1,
         r"--label_smoothing are options of --loss classic only"),
    ]
    results = run_parallel(*[(module, *args) for module, args, _, _ in cases])
    for (module, args, code, message), result in zip(cases, results):
        assert_one_line_error(result, code, message)
        assert "USAGE" not in result.stderr  # no help dump for a stray argument
    assert not (tmp_path / "tfds").exists() and not (tmp_path / "run").exists()


def test_the_clis_check_their_flags_before_importing_tensorflow():
    # Importing a CLI module defines (and absl then checks) its flags: none may start TensorFlow.
    modules = ("zoo.dcgan", "zoo.cgan", "zoo.gan", "zoo.infogan", "zoo.export", "zoo.import_data", "zoo.latent",
               "zoo.evaluate", "zoo.svm", "zoo.generate")
    probe = "import importlib, sys; importlib.import_module(sys.argv[1]); print(sorted({'tensorflow', 'kgan', " \
            "'keras'} & set(sys.modules)))"
    for module in modules:
        result = subprocess.run([sys.executable, "-c", probe, module], cwd=REPO, capture_output=True, text=True,
                                timeout=120)
        assert result.returncode == 0, result.stderr[-2000:]
        assert result.stdout.strip() == "[]", (module, result.stdout)
    # A bad flag is answered without TensorFlow's start-up (seconds on a slow CPU), a valid --augment included.
    for args, message in ((["--loss=hinj", "--tflite=int4"], "--loss=hinj"),
                          (["--augment=translation,flip"], "--augment takes any of"),
                          (["--augment=cutout, color", "--batch_size=1", "--d_steps=2"], "--batch_size must be >=")):
        result = run_module("zoo.dcgan", *args)
        assert result.returncode == 1 and message in result.stderr, result.stderr[-2000:]
        assert "cuda" not in result.stderr.lower() and "I0000" not in result.stderr  # TF's start-up logging
    # The trainers' --augment check follows kgan.augment.parse_policy.
    probe = ("from kgan.augment import parse_policy\nfrom zoo._cli import augment_policy_ok\n"
             "def parses(value):\n    try:\n        parse_policy(value)\n        return True\n"
             "    except ValueError:\n        return False\n"
             "values = ['', 'color', ' cutout , translation', 'color,color', 'flip', 'color,,cutout', 'Color']\n"
             "print([(augment_policy_ok(v), parses(v)) for v in values])")
    result = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == str([(ok, ok) for ok in (True, True, True, False, False, True, False)])


def test_the_zoo_flag_choices_are_kgans():
    assert _choices.DATASET_EXAMPLES == kgan.data.pipeline.SUPPORTED_DATASETS
    assert _choices.IDX_DATASETS == kgan.data.pipeline.IDX_DATASETS
    assert _choices.OBJECTIVES == kgan.losses.OBJECTIVES
    assert _choices.GENERATOR_LOSSES == tuple(sorted(kgan.losses.GENERATOR_LOSSES))
    assert _choices.TFLITE_VARIANTS == tflite.VARIANTS
    assert _choices.PRECISIONS == kgan.checks.PRECISIONS
    assert _choices.PRESET_URI_PREFIXES == kgan.preset.URI_PREFIXES
    assert _choices.AUGMENT_TRANSFORMS == kgan.augment.TRANSFORMS
    assert _choices.shipped_preset_names() == list(kgan.list_presets()) and len(kgan.list_presets()) == 5
