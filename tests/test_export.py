"""SavedModel export: the serving contract of every family, versioning, bad requests, TF Serving files."""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf
from google.protobuf import text_format
from tensorflow_serving.apis import prediction_log_pb2
from tensorflow_serving.config import model_server_config_pb2

import kgan
from conftest import tiny_families
from kgan import losses, serving
from kgan.models import features

FAMILIES = tiny_families()
EXPECTED_INPUTS = {
    "dcgan": {"generate": {"z": ([None, 100], tf.float32)}},
    "gan": {"generate": {"z": ([None, 100], tf.float32)}},
    "cgan": {"generate": {"z": ([None, 100], tf.float32), "label": ([None], tf.int32)},
             "sample": {"num_images": ([], tf.int32), "seed": ([], tf.int32), "label": ([None], tf.int32)},
             "discriminate": {"images": ([None, 28, 28, 1], tf.float32), "label": ([None], tf.int32)}},
    "infogan": {"generate": {"z": ([None, 62], tf.float32), "categorical_code": ([None], tf.int32),
                             "continuous_code": ([None, 2], tf.float32)}},
}


def spread_discriminator(gan, seed=0):
    """He-scaled D kernels: an untrained DCGAN-init D says 0.5 +- 1e-9 to everything, which tests nothing."""
    rng = np.random.default_rng(seed)
    for layer in gan.discriminator.layers:
        if isinstance(layer, (keras.layers.Dense, keras.layers.Conv2D)) or type(layer).__name__ == "Maxout":
            shape = tuple(layer.kernel.shape)
            fan_in = np.prod(shape[:-1])
            layer.kernel.assign(rng.normal(0.0, np.sqrt(2.0 / fan_in), shape).astype("float32"))


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """Each family, built with fixed seeds, exported once: {family: (gan, path, loaded)}."""
    base = tmp_path_factory.mktemp("exports")
    result = {}
    for name, make in FAMILIES.items():
        keras.utils.set_random_seed(0)
        gan = make()
        spread_discriminator(gan)
        path = serving.export_saved_model(gan, str(base), name, training_epochs=3, metrics={"d_loss": 1.25})
        result[name] = (gan, path, tf.saved_model.load(path))
    return result


def call(loaded, signature, **inputs):
    return {k: v.numpy() for k, v in loaded.signatures[signature](**{k: tf.constant(v) for k, v in inputs.items()}).items()}


@pytest.mark.parametrize("name", FAMILIES)
def test_signatures_follow_the_contract(exported, name):
    gan, path, loaded = exported[name]
    expected = {"serving_default", "generate", "sample", "discriminate"} | ({"features"} if name == "dcgan" else set())
    assert set(loaded.signatures.keys()) == expected
    for signature, inputs in EXPECTED_INPUTS[name].items():
        spec = loaded.signatures[signature].structured_input_signature[1]
        assert {k: (v.shape.as_list(), v.dtype) for k, v in spec.items()} == inputs, signature
    serving, generate = (loaded.signatures[s].structured_input_signature[1] for s in ("serving_default", "generate"))
    assert serving == generate
    assert set(loaded.signatures["serving_default"].structured_outputs) == {"images"}
    with open(os.path.join(path, "saved_model.pb"), "rb") as f:
        assert b"tensorflow/serving/predict" in f.read()


@pytest.mark.parametrize("name", FAMILIES)
def test_generate_sample_discriminate_match_the_keras_model(exported, name):
    gan, _, loaded = exported[name]
    requests = serving.warmup_inputs(gan, batch_size=3)
    rng = np.random.default_rng(1)
    generate = dict(requests["serving_default"], z=rng.normal(size=(3, gan.latent_dim)).astype("float32"))
    latents = generate["z"]
    if name == "cgan":
        generate["label"] = np.array([0, 4, 9], np.int32)
        latents = [tf.constant(latents), tf.one_hot(generate["label"], 10)]
    if name == "infogan":
        generate["categorical_code"] = np.array([1, 2, 3], np.int32)
        generate["continuous_code"] = rng.uniform(-1, 1, (3, 2)).astype("float32")
        latents = [tf.constant(latents), tf.one_hot(generate["categorical_code"], 10),
                   tf.constant(generate["continuous_code"])]
    images = call(loaded, "serving_default", **generate)["images"]
    np.testing.assert_allclose(images, gan.generator(latents, training=False).numpy(), atol=1e-5)
    assert images.dtype == np.float32 and np.abs(images).max() <= 1

    sample_request = dict(requests["sample"], num_images=np.int32(3), seed=np.int32(42))
    if name == "cgan":
        sample_request["label"] = np.array([7], np.int32)  # one label for all
    first, again = call(loaded, "sample", **sample_request), call(loaded, "sample", **sample_request)
    np.testing.assert_array_equal(first["images"], again["images"])  # deterministic per seed
    other = call(loaded, "sample", **dict(sample_request, seed=np.int32(43)))
    assert not np.allclose(first["images"], other["images"])
    replay = {k: first[k] for k in generate}  # the returned latents reproduce the images
    np.testing.assert_allclose(call(loaded, "generate", **replay)["images"], first["images"], atol=1e-6)
    if name == "cgan":
        np.testing.assert_array_equal(first["label"], [7, 7, 7])

    # D judges varied images in [-1, 1] (an untrained G's samples are all nearly 0).
    judged = np.random.default_rng(2).uniform(-1, 1, images.shape).astype("float32")
    discriminate = dict(requests["discriminate"], images=judged)
    if name == "cgan":
        discriminate["label"] = generate["label"]
    probability = call(loaded, "discriminate", **discriminate)["probability"]
    conditions = tf.one_hot(generate["label"], 10) if name == "cgan" else None
    logits, _ = gan.split_discriminator_outputs(gan.discriminate(judged, conditions))
    np.testing.assert_allclose(probability, losses.probability_real(logits).numpy(), atol=1e-5)
    assert probability.shape == (3,)
    assert np.ptp(probability) > 0.01  # D tells the images apart: the comparison above is not 0.5 == 0.5


def test_features_signature_is_the_papers_pooled_conv_features(exported):
    gan, _, loaded = exported["dcgan"]
    x = np.random.default_rng(0).uniform(-1, 1, (2, 28, 28, 1)).astype("float32")
    got = call(loaded, "features", images=x)["features"]
    # filters f=4: 16*f + 16*2f + 16*4f + 4*8f = 144 f
    assert got.shape == (2, 144 * 4) and serving.describe(gan)["feature_dim"] == 576
    np.testing.assert_allclose(got, features.discriminator_features(gan)(x).numpy(), atol=1e-5)


@pytest.mark.parametrize("name,signature,inputs,message", [
    ("dcgan", "generate", {"z": np.full((1, 100), np.nan, np.float32)}, "z must be finite"),
    ("cgan", "generate", {"z": np.zeros((2, 100), np.float32), "label": np.array([3, 10], np.int32)},
     r"label must be in \[0, 9\]"),
    ("cgan", "generate", {"z": np.zeros((1, 100), np.float32), "label": np.array([-1], np.int32)},
     r"label must be in \[0, 9\]"),
    ("infogan", "generate", {"z": np.zeros((1, 62), np.float32), "categorical_code": np.array([12], np.int32),
                             "continuous_code": np.zeros((1, 2), np.float32)}, "categorical_code must be in"),
    ("infogan", "generate", {"z": np.zeros((1, 62), np.float32), "categorical_code": np.array([1], np.int32),
                             "continuous_code": np.full((1, 2), np.inf, np.float32)}, "continuous_code must be finite"),
    ("dcgan", "sample", {"num_images": np.int32(0), "seed": np.int32(0)}, r"num_images must be in \[1, 1024\]"),
    ("dcgan", "sample", {"num_images": np.int32(10 ** 6), "seed": np.int32(0)}, r"num_images must be in"),
    ("cgan", "sample", {"num_images": np.int32(3), "seed": np.int32(0), "label": np.array([1, 2], np.int32)},
     "label must hold 1 or num_images"),
    ("dcgan", "discriminate", {"images": np.full((1, 28, 28, 1), 255.0, np.float32)}, r"\[-1, 1\]"),
    ("dcgan", "features", {"images": np.full((1, 28, 28, 1), -3.0, np.float32)}, r"\[-1, 1\]"),
])
def test_bad_requests_fail_with_a_clear_message(exported, name, signature, inputs, message):
    with pytest.raises(tf.errors.InvalidArgumentError, match=message):
        call(exported[name][2], signature, **inputs)


@pytest.mark.parametrize("inputs", [
    {"z": np.zeros((1, 7), np.float32)},       # wrong size
    {"z": np.zeros((1, 1, 100), np.float32)},  # wrong rank
    {"z": np.zeros((1, 100), np.int32)},       # wrong dtype
    {"x": np.zeros((1, 100), np.float32)},     # wrong name
])
def test_wrong_shapes_dtypes_and_names_are_rejected(exported, inputs):
    with pytest.raises((TypeError, ValueError, tf.errors.InvalidArgumentError)) as error:
        call(exported["dcgan"][2], "generate", **inputs)
    # The signature names what it expects (TF's binding error, chained under any graph error).
    text = f"{error.value} {error.value.__context__}"
    assert "shape=(None, 100), dtype=tf.float32, name='z'" in text or "unexpected keyword argument 'x'" in text


def test_versions_are_never_overwritten(tmp_path):
    gan = FAMILIES["gan"]()
    first = serving.export_saved_model(gan, str(tmp_path), "m")
    second = serving.export_saved_model(gan, str(tmp_path), "m")
    assert [os.path.basename(first), os.path.basename(second)] == ["1", "2"]
    stamp = os.path.getmtime(os.path.join(first, "saved_model.pb"))
    with pytest.raises(FileExistsError, match="never overwritten.*next free one \\(3\\)"):
        serving.export_saved_model(gan, str(tmp_path), "m", version=1)
    assert os.path.getmtime(os.path.join(first, "saved_model.pb")) == stamp
    assert serving.export_saved_model(gan, str(tmp_path), "m", version=7).endswith("7")
    assert serving.versions(str(tmp_path), "m") == [1, 2, 7]
    assert sorted(os.listdir(tmp_path / "m")) == ["1", "2", "7"]  # no staging leftovers
    for bad in (0, -1, "2", True):
        with pytest.raises(ValueError, match="version"):
            serving.export_saved_model(gan, str(tmp_path), "m", version=bad)
    with pytest.raises(ValueError, match="model name '../evil' must be letters"):
        serving.export_saved_model(gan, str(tmp_path), "../evil")


def test_metadata_warmup_and_models_config(exported, tmp_path):
    gan, path, loaded = exported["cgan"]
    with open(os.path.join(path, serving.METADATA_FILE)) as f:
        metadata = json.load(f)
    assert metadata["family"] == "cgan" and metadata["num_classes"] == 10 and metadata["latent_dim"] == 100
    assert metadata["image_shape"] == [28, 28, 1] and metadata["value_range"] == [-1.0, 1.0]
    assert metadata["training_epochs"] == 3 and metadata["metrics"] == {"d_loss": 1.25}
    assert metadata["signatures"] == ["discriminate", "generate", "sample", "serving_default"]
    # Warmup records parse with the real protos and replay against the model.
    seen = []
    for record in tf.data.TFRecordDataset(os.path.join(path, serving.WARMUP_FILE)):
        log = prediction_log_pb2.PredictionLog.FromString(record.numpy())
        request = log.predict_log.request
        assert request.model_spec.name == "cgan"
        inputs = {k: tf.make_ndarray(v) for k, v in request.inputs.items()}
        assert loaded.signatures[request.model_spec.signature_name](**{k: tf.constant(v) for k, v in inputs.items()})
        seen.append(request.model_spec.signature_name)
    assert sorted(seen) == ["discriminate", "sample", "serving_default"]
    base = os.path.dirname(os.path.dirname(path))
    config_path = serving.write_models_config(base, serving_root="/models")
    config = text_format.Parse(open(config_path).read(), model_server_config_pb2.ModelServerConfig())
    entries = {c.name: (c.base_path, c.model_platform) for c in config.model_config_list.config}
    assert entries == {n: (f"/models/{n}", "tensorflow") for n in FAMILIES}


def test_loads_with_plain_tensorflow_and_saved_model_cli(exported):
    _, path, _ = exported["dcgan"]
    code = ("import sys; sys.modules['kgan'] = None; sys.modules['keras'] = None\n"
            "import tensorflow as tf\n"
            f"m = tf.saved_model.load({path!r})\n"
            "print(m.signatures['serving_default'](z=tf.zeros((2, 100)))['images'].shape)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "(2, 28, 28, 1)" in result.stdout
    cli = os.path.join(os.path.dirname(sys.executable), "saved_model_cli")
    show = subprocess.run([cli, "show", "--dir", path, "--all"], capture_output=True, text=True, timeout=120)
    assert show.returncode == 0, show.stderr[-2000:]
    for text in ("signature_def['serving_default']", "signature_def['features']", "tensorflow/serving/predict"):
        assert text in show.stdout
    run = subprocess.run([cli, "run", "--dir", path, "--tag_set", "serve", "--signature_def", "sample",
                          "--input_exprs", "num_images=2;seed=5"],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "Result for output key images" in run.stdout and "Result for output key z" in run.stdout


def test_mixed_bfloat16_generator_exports_in_float32(tmp_path):
    keras.config.set_dtype_policy("mixed_bfloat16")
    try:
        gan = kgan.DCGAN(generator_filters=4, discriminator_filters=4, seed=0)
        gan.compile(d_optimizer="adam", g_optimizer="adam")
        gan.fit(np.zeros((4, 28, 28, 1), "float32"), batch_size=4, verbose=0)
    finally:
        keras.config.set_dtype_policy("float32")
    assert gan.generator.get_layer("deconv_1").compute_dtype == "bfloat16"
    rebuilt = serving.float32_model(gan.generator)
    assert all(layer.compute_dtype == "float32" for layer in rebuilt.layers[1:])
    path = serving.export_saved_model(gan, str(tmp_path), "bf16")
    z = np.random.default_rng(0).normal(size=(2, 100)).astype("float32")
    images = tf.saved_model.load(path).signatures["serving_default"](z=tf.constant(z))["images"]
    assert images.dtype == tf.float32
    np.testing.assert_allclose(images.numpy(), rebuilt(z, training=False).numpy(), atol=1e-5)
    # bfloat16 compute vs the float32 rebuild: same weights, close outputs.
    np.testing.assert_allclose(images.numpy(), gan.generator(z, training=False).numpy().astype("float32"), atol=0.1)
