"""TF-Lite (LiteRT) export of the generators: every family x every variant.

Parity is against the Keras generator itself (``gan.generator(latents,
training=False)`` with one-hots built here), run with the LiteRT interpreter
(ai-edge-litert). Freshly initialized DCGAN-style generators output ~1e-9
(N(0, 0.02) weights shrink every layer), which would make any parity check
trivial, so the models get He-scaled weights and BatchNorm statistics measured
on a batch of latents, like a trained network: their images spread over
[-1, 1] (std ~0.3-0.5).

Tolerances (max abs difference over a batch of 32 images; the test prints the
measured values, see ``pytest -s``):

* float32: 1e-5. The same float32 math, reordered (BatchNorm folded into the
  weights, other kernels); measured ~1e-6 to 2e-6.
* float16: 1e-2. Weights rounded to float16 (relative error <= 2^-11 ~ 5e-4
  per weight), compute in float32; measured ~1e-3 to 3e-3.
* int8_dynamic: 0.12 (mean abs 0.015). Weights int8,
  activations quantized on the fly; measured max 0.03-0.06.
* int8: 0.15 (mean abs 0.025). Every activation int8 with calibrated ranges;
  the output alone is quantized in steps of 1/128 ~ 0.008, and errors
  accumulate over 3-5 layers; measured max 0.05-0.08 (with 256 instead of 1024
  calibration latents, ranges clipped rarer activations: up to 0.21).

For the quantized variants the correlation with the Keras images must also be
high (> 0.999 / > 0.995): a wrong conditioning input (as with the converter's
int8 ONE_HOT, see `kgan.tflite`) drops it to ~0.9.
"""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf

import kgan
from conftest import tiny_families
from kgan import serving
from kgan.serving import tflite

FAMILIES = tiny_families()
# variant: (max abs, mean abs, min correlation)
TOLERANCES = {
    "float32": (1e-5, 1e-6, 0.999999),
    "float16": (1e-2, 1e-3, 0.9999),
    "int8_dynamic": (0.12, 0.015, 0.999),
    "int8": (0.15, 0.025, 0.995),
}
BATCH = 32


def spread_weights(gan, seed=0):
    """He-scaled kernels, random BN affine params, BN moving statistics from a batch of latents."""
    rng = np.random.default_rng(seed)
    generator = gan.generator
    for layer in generator.layers:
        if isinstance(layer, (keras.layers.Dense, keras.layers.Conv2DTranspose)):
            shape = tuple(layer.kernel.shape)
            outputs = shape[-2] if isinstance(layer, keras.layers.Conv2DTranspose) else shape[-1]
            fan_in = np.prod(shape) / outputs
            layer.kernel.assign(rng.normal(0.0, np.sqrt(2.0 / fan_in), shape).astype("float32"))
            if layer.bias is not None:
                layer.bias.assign(rng.normal(0.0, 0.1, tuple(layer.bias.shape)).astype("float32"))
        elif isinstance(layer, keras.layers.BatchNormalization):
            layer.gamma.assign(rng.uniform(0.8, 1.2, tuple(layer.gamma.shape)).astype("float32"))
            layer.beta.assign(rng.normal(0.0, 0.2, tuple(layer.beta.shape)).astype("float32"))
    norms = [layer for layer in generator.layers if isinstance(layer, keras.layers.BatchNormalization)]
    momenta = [layer.momentum for layer in norms]
    try:
        for layer in norms:
            layer.momentum = 0.0  # one training-mode pass sets the moving statistics to the batch's
        generator(gan.sample_latents(256, seed=seed), training=True)
    finally:
        for layer, momentum in zip(norms, momenta):
            layer.momentum = momentum


def keras_latents(gan, inputs):
    """The generator's own latents for serving inputs (one-hots built here, not by the export)."""
    z = tf.constant(inputs["z"])
    if "label" in inputs:
        return [z, tf.one_hot(inputs["label"], gan.num_classes)]
    if "categorical_code" in inputs:
        return [z, tf.one_hot(inputs["categorical_code"], gan.num_categories),
                tf.constant(inputs["continuous_code"])]
    return z


def keras_images(gan, inputs, generator=None):
    generator = generator or gan.generator
    return keras.ops.convert_to_numpy(generator(keras_latents(gan, inputs), training=False)).astype("float32")


class Zoo:
    """Tiny models of every family and their TF-Lite conversions, each made once per module."""

    def __init__(self):
        self._gans, self._models = {}, {}

    def gan(self, family):
        if family not in self._gans:
            gan = FAMILIES[family]()
            spread_weights(gan)
            self._gans[family] = gan
        return self._gans[family]

    def model(self, family, variant):
        if (family, variant) not in self._models:
            self._models[family, variant] = tflite.convert(self.gan(family), variant)
        return self._models[family, variant]


@pytest.fixture(scope="module")
def zoo():
    return Zoo()


@pytest.mark.parametrize("variant", tflite.VARIANTS)
@pytest.mark.parametrize("family", list(FAMILIES))
def test_parity_with_keras_generator(zoo, family, variant):
    gan = zoo.gan(family)
    inputs = tflite.random_inputs(gan, BATCH, np.random.default_rng(123))  # not the calibration draws
    expected = keras_images(gan, inputs)
    runner = tflite.TFLiteGenerator(zoo.model(family, variant))
    images = runner.generate(**inputs)
    assert images.shape == (BATCH, *gan.image_shape) and images.dtype == np.float32
    assert np.all(np.isfinite(images)) and np.abs(images).max() <= 1.0
    assert expected.std() > 0.2  # the reference is not trivially ~0
    error = np.abs(images - expected)
    correlation = np.corrcoef(images.ravel(), expected.ravel())[0, 1]
    print(f"\nTFLITE_PARITY family={family} variant={variant} max_abs={error.max():.3g} "
          f"mean_abs={error.mean():.3g} corr={correlation:.6f} bytes={len(zoo.model(family, variant))}")
    max_abs, mean_abs, min_correlation = TOLERANCES[variant]
    assert error.max() <= max_abs
    assert error.mean() <= mean_abs
    assert correlation >= min_correlation


@pytest.mark.parametrize("variant", tflite.VARIANTS)
@pytest.mark.parametrize("family", list(FAMILIES))
def test_builtin_ops_only(zoo, family, variant):
    model = zoo.model(family, variant)
    ops = tflite.check_builtin_ops(model)
    assert not [op for op in ops if op.startswith("CUSTOM") or "FLEX" in op.upper()]
    assert "TANH" in ops
    if variant == "float16":
        assert "DEQUANTIZE" in ops  # float16 weights, dequantized to float32
    if variant == "int8":
        assert "QUANTIZE" in ops and "DEQUANTIZE" in ops  # float32 in and out, int8 inside
    if family in ("cgan", "infogan"):
        assert ("GATHER" if variant == "int8" else "ONE_HOT") in ops


def test_quantized_variants_store_int8_weights(zoo):
    sizes = {variant: len(zoo.model("infogan", variant)) for variant in tflite.VARIANTS}
    assert sizes["float16"] < 0.55 * sizes["float32"]
    assert sizes["int8_dynamic"] < 0.3 * sizes["float32"]
    assert sizes["int8"] < 0.3 * sizes["float32"]
    from ai_edge_litert.interpreter import Interpreter
    dtypes = {d["dtype"] for d in Interpreter(model_content=zoo.model("infogan", "int8")).get_tensor_details()}
    assert np.int8 in dtypes


def test_operator_check_detects_flex_ops():
    # z is an input because TF's random ops are not builtins: converted with Select TF ops they become Flex ops.
    @tf.function(input_signature=[tf.TensorSpec([2], tf.int32)])
    def noise(seed):
        return tf.random.stateless_normal([4], seed)

    converter = tf.lite.TFLiteConverter.from_concrete_functions([noise.get_concrete_function()], noise)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS, tf.lite.OpsSet.SELECT_TF_OPS]
    model = converter.convert()
    assert any(op.startswith("CUSTOM:Flex") for op in tflite.operators(model))
    with pytest.raises(RuntimeError, match="non-builtin ops"):
        tflite.check_builtin_ops(model)


@pytest.mark.parametrize("family", ["cgan", "infogan"])
def test_int8_keeps_the_conditioning(zoo, family):
    # One z per row, every class across the batch: what the label changes must survive quantization.
    gan = zoo.gan(family)
    depth = gan.num_classes if family == "cgan" else gan.num_categories
    inputs = tflite.random_inputs(gan, depth, np.random.default_rng(7))
    inputs["z"] = np.repeat(inputs["z"][:1], depth, axis=0)
    ids = np.arange(depth, dtype=np.int32)
    inputs["label" if family == "cgan" else "categorical_code"] = ids
    if family == "infogan":
        inputs["continuous_code"] = np.zeros_like(inputs["continuous_code"])
    expected = keras_images(gan, inputs)
    images = tflite.TFLiteGenerator(zoo.model(family, "int8")).generate(**inputs)
    effect, expected_effect = images - images.mean(0), expected - expected.mean(0)
    assert np.corrcoef(effect.ravel(), expected_effect.ravel())[0, 1] > 0.98


def test_signature_and_metadata_follow_the_serving_contract(zoo):
    for family in FAMILIES:
        gan = zoo.gan(family)
        description = serving.describe(gan)
        runner = tflite.TFLiteGenerator(zoo.model(family, "int8"))
        assert set(runner.inputs) == set(description["inputs"])
        for name, spec in description["inputs"].items():
            dtype, shape = runner.inputs[name]
            assert dtype == np.dtype(spec["dtype"])
            assert shape == tuple(-1 if s is None else s for s in spec["shape"])
        metadata = tflite.read_metadata(zoo.model(family, "int8"))
        assert metadata["variant"] == "int8" and runner.variant == "int8"
        assert metadata["family"] == description["family"] and metadata["latent_dim"] == gan.latent_dim
        assert metadata["inputs"] == description["inputs"]
        assert metadata["image_shape"] == list(gan.image_shape)


def test_batch_size_changes_between_calls(zoo):
    gan = zoo.gan("cgan")
    runner = tflite.TFLiteGenerator(zoo.model("cgan", "float32"))
    rng = np.random.default_rng(3)
    for batch in (1, 7, 1, 64):
        inputs = tflite.random_inputs(gan, batch, rng)
        images = runner(**inputs)
        assert images.shape == (batch, 28, 28, 1)
        np.testing.assert_allclose(images, keras_images(gan, inputs), atol=1e-5)
    # Python lists and float64 z are accepted (cast to the model's dtypes).
    images = runner.generate(z=inputs["z"][:2].astype(np.float64).tolist(), label=[3, 4])
    assert images.shape == (2, 28, 28, 1)


@pytest.mark.parametrize("request_update, message", [
    ({"label": None}, r"missing \['label'\]"),
    ({"labels": np.zeros(2, np.int32)}, r"unknown \['labels'\]"),
    ({"z": np.zeros((2, 99), np.float32)}, r"z must have shape \[N, 100\], got \[2, 99\]"),
    ({"z": np.zeros(100, np.float32)}, r"z must have shape \[N, 100\]"),
    ({"z": np.zeros((2, 100), np.int32)}, r"z must be floating point"),
    ({"label": np.array([0.0, 1.0])}, r"label must hold integer ids"),
    ({"label": np.array([0, 10])}, r"label must be in \[0, 9\]; got \[10\]"),
    ({"label": np.array([-1, 3])}, r"label must be in \[0, 9\]; got \[-1\]"),
    ({"label": np.zeros((2, 1), np.int32)}, r"label must have shape \[N\]"),
    ({"label": np.zeros(3, np.int32)}, r"disagree on the batch size"),
    ({"z": np.full((2, 100), np.nan, np.float32)}, r"z must be finite"),
    ({"z": np.zeros((0, 100), np.float32), "label": np.zeros(0, np.int32)}, r"batch size must be at least 1"),
    ({"z": np.array([["a"] * 100] * 2)}, r"z must be a numeric array"),
])
def test_bad_requests_are_rejected(zoo, request_update, message):
    runner = tflite.TFLiteGenerator(zoo.model("cgan", "float32"))
    request = {"z": np.zeros((2, 100), np.float32), "label": np.array([1, 2], np.int32)}
    request.update(request_update)
    request = {key: value for key, value in request.items() if value is not None}
    with pytest.raises(ValueError, match=message):
        runner.generate(**request)


def test_infogan_code_ranges_are_checked(zoo):
    runner = tflite.TFLiteGenerator(zoo.model("infogan", "float16"))
    request = {"z": np.zeros((1, 62), np.float32), "categorical_code": np.array([10]),
               "continuous_code": np.zeros((1, 2), np.float32)}
    with pytest.raises(ValueError, match=r"categorical_code must be in \[0, 9\]"):
        runner.generate(**request)
    request.update(categorical_code=np.array([9]), continuous_code=np.array([[np.inf, 0.0]], np.float32))
    with pytest.raises(ValueError, match="continuous_code must be finite"):
        runner.generate(**request)


def test_mixed_bfloat16_generator_exports_like_its_float32_rebuild():
    keras.config.set_dtype_policy("mixed_bfloat16")
    try:
        gan = kgan.ConditionalDCGAN(generator_filters=4, discriminator_filters=4, seed=0)
        spread_weights(gan)
        gan.compile(d_optimizer=keras.optimizers.Adam(1e-4), g_optimizer=keras.optimizers.Adam(1e-4))
        gan.fit(np.zeros((4, 28, 28, 1), "float32"), np.arange(4, dtype="int32"), batch_size=4, verbose=0)
        assert gan.generator.get_layer("deconv_1").compute_dtype == "bfloat16"
        converted_under_mixed_policy = tflite.convert(gan, "float32")  # the policy still set, as after training
    finally:
        keras.config.set_dtype_policy("float32")
    rebuilt = serving.float32_model(gan.generator)
    inputs = tflite.random_inputs(gan, 16, np.random.default_rng(5))
    expected = keras_images(gan, inputs, rebuilt)
    bfloat16 = keras_images(gan, inputs)
    from ai_edge_litert.interpreter import Interpreter
    for model in (converted_under_mixed_policy, tflite.convert(gan, "float32"), tflite.convert(gan, "int8")):
        # No bfloat16 (or float16) tensors anywhere: the graph is the float32 rebuild's.
        dtypes = {d["dtype"] for d in Interpreter(model_content=model).get_tensor_details()}
        assert dtypes <= {np.float32, np.int32, np.int8}, dtypes
    for model, atol in ((converted_under_mixed_policy, 1e-5), (tflite.convert(gan, "float16"), 1e-2)):
        images = tflite.TFLiteGenerator(model).generate(**inputs)
        np.testing.assert_allclose(images, expected, atol=atol)
        np.testing.assert_allclose(images, bfloat16, atol=0.1)  # bfloat16 compute: same weights, close outputs
    assert np.abs(expected - bfloat16).max() > 1e-3  # the rebuild really computes in float32


def test_export_writes_every_variant_and_never_overwrites(tmp_path, zoo):
    gan = zoo.gan("gan")
    directory = tmp_path / "tflite"
    paths = tflite.export_tflite(gan, directory)
    assert list(paths) == list(tflite.VARIANTS)
    assert sorted(os.listdir(directory)) == sorted(f"generator_{v}.tflite" for v in tflite.VARIANTS)  # no temp files
    inputs = tflite.random_inputs(gan, 4, np.random.default_rng(0))
    expected = keras_images(gan, inputs)
    for variant, path in paths.items():
        assert path == str(directory / f"generator_{variant}.tflite")
        runner = tflite.TFLiteGenerator(path)
        assert runner.variant == variant
        np.testing.assert_allclose(runner.generate(**inputs), expected, atol=TOLERANCES[variant][0])
    before = {path: open(path, "rb").read() for path in paths.values()}
    with pytest.raises(FileExistsError, match="generator_float32.tflite"):
        tflite.export_tflite(gan, directory)
    assert {path: open(path, "rb").read() for path in paths.values()} == before

    # One existing target is enough to refuse, before anything is written.
    other = tmp_path / "other"
    other.mkdir()
    (other / "generator_int8.tflite").write_bytes(b"keep me")
    with pytest.raises(FileExistsError, match="generator_int8.tflite"):
        tflite.export_tflite(gan, other, variants=("float32", "int8"))
    assert sorted(os.listdir(other)) == ["generator_int8.tflite"]
    assert (other / "generator_int8.tflite").read_bytes() == b"keep me"
    assert tflite.export_tflite(gan, other, variants="float16") == {"float16": str(other / "generator_float16.tflite")}
    fixed = tflite.export_tflite(gan, other, variants="float16", batch_size=2)
    assert fixed == {"float16": str(other / "generator_float16_batch2.tflite")}
    assert tflite.TFLiteGenerator(fixed["float16"]).inputs["z"][1] == (2, 100)


@pytest.mark.parametrize("variant", ["float32", "int8"])
def test_fixed_batch_models(zoo, variant):
    gan = zoo.gan("cgan")
    model = tflite.convert(gan, variant, batch_size=4)
    ops = tflite.check_builtin_ops(model)
    assert "SHAPE" not in ops and "SHAPE" in tflite.operators(zoo.model("cgan", variant))  # static output shapes
    runner = tflite.TFLiteGenerator(model)
    assert runner.inputs == {"label": (np.dtype(np.int32), (4,)), "z": (np.dtype(np.float32), (4, 100))}
    assert tflite.read_metadata(model)["batch_size"] == 4
    inputs = tflite.random_inputs(gan, 4, np.random.default_rng(9))
    np.testing.assert_allclose(runner.generate(**inputs), keras_images(gan, inputs), atol=TOLERANCES[variant][0])
    with pytest.raises(ValueError, match=r"z must have shape \[4, 100\] \(a model exported for batches of 4\)"):
        runner.generate(z=inputs["z"][:3], label=inputs["label"])


def test_unknown_variants_are_rejected(tmp_path, zoo):
    with pytest.raises(ValueError, match="variant must be one of"):
        tflite.convert(zoo.gan("gan"), "int4")
    with pytest.raises(ValueError, match="variant must be one of"):
        tflite.export_tflite(zoo.gan("gan"), tmp_path, variants=("float32", "bfloat16"))
    with pytest.raises(ValueError, match="batch_size must be None"):
        tflite.export_tflite(zoo.gan("gan"), tmp_path, batch_size=0)
    assert os.listdir(tmp_path) == []
    with pytest.raises(ValueError, match="Not a TF-Lite flatbuffer"):
        tflite.TFLiteGenerator(b"not a model at all")
