"""Presets: save_to_preset -> from_preset round trips, bad presets, the reader and zoo.generate."""

import json
import os
import pathlib

import keras
import numpy as np
import pytest
from conftest import run_module
from PIL import Image

import kgan
from kgan import preset


def tiny_models():
    keras.utils.set_random_seed(0)
    return {
        "dcgan": kgan.DCGAN(image_shape=(16, 16, 1), latent_dim=8, generator_filters=4, discriminator_filters=4,
                            seed=1),
        "gan": kgan.VanillaGAN(image_shape=(8, 8, 1), latent_dim=8, generator_units=(16,), discriminator_units=(4,)),
        "cgan": kgan.ConditionalDCGAN(image_shape=(16, 16, 1), num_classes=3, latent_dim=8, generator_filters=4,
                                      discriminator_filters=4, conditioning="acgan", spectral_norm=True),
        "infogan": kgan.ConvInfoGAN(image_shape=(8, 8, 1), latent_dim=4, num_categories=3, num_continuous=1),
    }


def weights_of(gan):
    return [np.array(keras.ops.convert_to_numpy(v)) for v in gan.weights]


def test_every_family_round_trips_bit_exactly(tmp_path):
    for family, gan in tiny_models().items():
        gan.compile(d_optimizer="adam", g_optimizer="adam", ema_decay=0.9)
        gan.ema_generator.variables[0].assign(gan.ema_generator.variables[0] + 0.5)  # EMA != G
        path = gan.save_to_preset(tmp_path / family, description=f"tiny {family}", metrics={"fd": 1.0})
        loaded = kgan.from_preset(str(path))
        assert type(loaded) is type(gan) and loaded.ema_generator is not None
        for a, b in zip(weights_of(gan), weights_of(loaded), strict=True):
            np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(loaded.generate(4, seed=3), gan.generate(4, seed=3))
        assert type(gan).from_preset(str(path)).family == family
        card = preset.read_metadata(str(path))
        assert card["family"] == family and card["kgan_version"] == kgan.__version__
        assert card["description"] == f"tiny {family}" and card["generator"] == "ema"
        assert card["parameter_count"] == sum(w.size for w in weights_of(gan))
        assert sorted(os.listdir(path)) == ["config.json", "metadata.json", "model.weights.h5"]
        # The one reader takes it as a directory or as preset:<dir>.
        assert kgan.load(str(path)).family == family == kgan.load(f"preset:{path}").family
    # A plain kgan.GAN of the user's own networks: its preset carries their whole layer-by-layer config.
    dcgan = tiny_models()["dcgan"]
    own = kgan.GAN(generator=dcgan.generator, discriminator=dcgan.discriminator, latent_dim=8)
    loaded = kgan.from_preset(str(own.save_to_preset(tmp_path / "own")))
    assert type(loaded) is kgan.GAN and loaded.generator is not own.generator
    for a, b in zip(weights_of(own), weights_of(loaded), strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(loaded.generate(4, seed=3), own.generate(4, seed=3))


def test_bad_presets_are_one_clear_error_each(tmp_path):
    gan = tiny_models()["dcgan"]
    good = gan.save_to_preset(tmp_path / "good")
    with pytest.raises(FileExistsError, match="never written over"):
        gan.save_to_preset(good)
    with pytest.raises(preset.PresetError, match=r"Unknown preset 'dcgan_nope'.*none are shipped|Unknown preset"):
        kgan.from_preset("dcgan_nope")
    with pytest.raises(preset.PresetError, match="holds a DCGAN .*not a ConvInfoGAN"):
        kgan.ConvInfoGAN.from_preset(str(good))
    with pytest.raises(preset.PresetError, match="needs the huggingface_hub package.*pip install huggingface_hub"):
        kgan.from_preset("hf://someone/dcgan")
    with pytest.raises(preset.PresetError, match="needs the kagglehub package"):
        kgan.load("kaggle://someone/dcgan/keras/mnist")

    def broken(name, edit):
        path = tmp_path / name
        gan.save_to_preset(path)
        edit(path)
        return str(path)

    missing = broken("missing", lambda p: os.remove(p / "model.weights.h5"))
    with pytest.raises(preset.PresetError, match="has no model.weights.h5"):
        kgan.from_preset(missing)
    truncated = broken("truncated", lambda p: (p / "model.weights.h5").write_bytes(
        (p / "model.weights.h5").read_bytes()[:500]))
    with pytest.raises(preset.PresetError, match="cannot be read as this model's weights.*corrupt"):
        kgan.from_preset(truncated)
    other = tmp_path / "other"
    tiny_models()["gan"].save_to_preset(other)
    foreign = broken("foreign", lambda p: (p / "model.weights.h5").write_bytes((other / "model.weights.h5").read_bytes()))
    with pytest.raises(preset.PresetError, match="corrupt or belongs to another model"):
        kgan.from_preset(foreign)

    def set_version(path, **values):
        card = json.loads((path / "metadata.json").read_text())
        card.update(values)
        (path / "metadata.json").write_text(json.dumps(card))

    future = broken("future", lambda p: set_version(p, kgan_version="7.0.0"))
    with pytest.raises(preset.PresetError, match="written by kgan 7.0.0.*install kgan 7.0.0"):
        kgan.from_preset(future)
    format2 = broken("format2", lambda p: set_version(p, kgan_preset=2))
    with pytest.raises(preset.PresetError, match="of format 2"):
        kgan.from_preset(format2)
    garbled = broken("garbled", lambda p: (p / "config.json").write_text("{not json"))
    with pytest.raises(preset.PresetError, match="config.json is unreadable"):
        kgan.from_preset(garbled)
    unknown_class = broken("unknown_class", lambda p: (p / "config.json").write_text(
        json.dumps({"class_name": "NoSuchGAN", "module": "kgan", "config": {}})))
    with pytest.raises(preset.PresetError, match="does not build a kgan model"):
        kgan.from_preset(unknown_class)
    assert not any(name.startswith(".preset-") for name in os.listdir(tmp_path))  # no staging left behind


def test_zoo_generate_writes_a_grid_from_a_preset(tmp_path):
    gan = tiny_models()["cgan"]
    path = gan.save_to_preset(tmp_path / "cgan")
    out = tmp_path / "grid.png"
    result = run_module("zoo.generate", f"--preset={path}", "--labels=2,2,0", "--cols=3", f"--output={out}")
    assert result.returncode == 0, result.stderr[-2000:]
    grid = np.asarray(Image.open(out))
    assert grid.shape[:2] == (16 + 4, 3 * 18 + 2)
    again = run_module("zoo.generate", f"--model=preset:{path}", "--labels=2,2,0", f"--output={out}")
    problems = [line for line in again.stderr.splitlines() if line.startswith("error: ")]
    assert again.returncode == 2 and "Traceback" not in again.stderr
    assert len(problems) == 1 and "already exists; pass --overwrite" in problems[0]


def test_precision_changes_the_compute_dtype_not_the_weights(tmp_path):
    keras.utils.set_random_seed(0)
    gan = kgan.DCGAN(image_shape=(16, 16, 1), latent_dim=8, generator_filters=4, discriminator_filters=4,
                     precision="mixed_bfloat16", seed=1)
    path = gan.save_to_preset(tmp_path / "bf16")
    as_trained = kgan.from_preset(str(path))
    in_float32 = kgan.DCGAN.from_preset(str(path), precision="float32")
    hidden = {layer.name: layer.compute_dtype for layer in in_float32.generator.layers}
    assert hidden["deconv_1"] == "float32" and as_trained.generator.get_layer("deconv_1").compute_dtype == "bfloat16"
    assert in_float32.get_config()["precision"] == "float32"
    for a, b in zip(weights_of(gan), weights_of(in_float32), strict=True):
        np.testing.assert_array_equal(a, b)
    bf16, fp32 = as_trained.generate(8, seed=3), in_float32.generate(8, seed=3)
    np.testing.assert_array_equal(bf16, gan.generate(8, seed=3))
    assert 0 < np.abs(bf16 - fp32).max() < 0.1  # the same model, rounded differently
    # The reader and zoo.generate pass it on.
    assert kgan.load(f"preset:{path}", precision="float32").gan.generator.get_layer("deconv_1").compute_dtype == \
        "float32"
    out = tmp_path / "grid.png"
    result = run_module("zoo.generate", f"--preset={path}", "--precision=float32", "--num_images=4", f"--output={out}")
    assert result.returncode == 0, result.stderr[-2000:]
    expected = {}
    for precision in ("float32", None):
        images = kgan.load(f"preset:{path}", precision=precision).sample(4, seed=0)["images"]
        kgan.images.save_png(tmp_path / f"{precision}.png", kgan.images.image_grid(images, 2, 2))
        expected[precision] = np.asarray(Image.open(tmp_path / f"{precision}.png"))
    written = np.asarray(Image.open(out))
    np.testing.assert_array_equal(written, expected["float32"])
    assert not np.array_equal(written, expected[None])


def test_precision_is_refused_where_it_cannot_apply(tmp_path, monkeypatch):
    gan = tiny_models()["dcgan"]
    path = gan.save_to_preset(tmp_path / "dcgan")
    # Policies that would round the weights (bfloat16) or cannot hold them (int32) are refused.
    for precision in ("float12", "bfloat16", "int32"):
        with pytest.raises(ValueError, match="precision= for a preset must be one of float32, mixed_bfloat16"):
            kgan.from_preset(str(path), precision=precision)
    with pytest.raises(ValueError, match="floating-point Keras dtype policy"):
        kgan.DCGAN(image_shape=(16, 16, 1), precision="int32")
    monkeypatch.setattr(preset, "resolve", lambda source: pytest.fail("downloaded before checking precision"))
    with pytest.raises(ValueError, match="precision= for a preset must be one of"):
        kgan.from_preset("hf://someone/some_gan", precision="float12")
    monkeypatch.undo()
    own = kgan.GAN(generator=gan.generator, discriminator=gan.discriminator, latent_dim=8)
    own_path = own.save_to_preset(tmp_path / "own")
    with pytest.raises(preset.PresetError, match="layer by layer.*load it without precision="):
        kgan.from_preset(str(own_path), precision="float32")
    gan.save(tmp_path / "gan.keras")
    for source in (str(tmp_path / "gan.keras"), gan):
        with pytest.raises(ValueError, match="precision= applies to presets only"):
            kgan.load(source, precision="float32")
    # A typo or a bare shipped name is a missing path (the hint names preset:<name>), whatever precision says.
    for source in (str(tmp_path / "dcgn"), "dcgan_mnist"):
        with pytest.raises(FileNotFoundError, match="does not exist.*preset:<name>"):
            kgan.load(source, precision="float32")
    with pytest.raises(TypeError, match="Expected a kgan.GAN or a path, got int"):
        kgan.load(3, precision="float32")


def test_a_trainer_starts_from_a_preset(tmp_path, mnist_data_dir):
    keras.utils.set_random_seed(7)
    source = kgan.DCGAN(image_shape=(28, 28, 1), latent_dim=100, generator_filters=4, discriminator_filters=4)
    path = source.save_to_preset(tmp_path / "start")
    common = [f"--data_dir={mnist_data_dir}", "--epochs=1", "--steps_per_epoch=1", "--batch_size=8",
              "--eval_every=0", "--noexport", "--verbose=0", "--grid_size=1", f"--init_from={path}",
              "--learning_rate=1e-12", "--discriminator_filters=4"]
    tuned = run_module("zoo.dcgan", f"--output_dir={tmp_path / 'run'}", "--generator_filters=4", *common)
    assert tuned.returncode == 0, tuned.stderr[-2000:]
    assert f"Initialized the networks from {path}" in tuned.stdout
    model = keras.models.load_model(tmp_path / "run" / "model.keras")
    trained = [np.array(v) for v in model.generator.trainable_weights]
    for a, b in zip(source.generator.trainable_weights, trained):  # one 1e-12 step from the preset
        np.testing.assert_allclose(np.array(a), b, atol=1e-6)
    wrong = run_module("zoo.dcgan", f"--output_dir={tmp_path / 'wrong'}", "--generator_filters=8", *common)
    assert wrong.returncode == 2 and "pass the architecture flags the preset was trained with" in wrong.stderr
    assert not (tmp_path / "wrong").exists()


@pytest.mark.parametrize("storage", ["float16", "compact"])
def test_compact_storage_is_small_and_within_its_rounding(tmp_path, monkeypatch, storage):
    monkeypatch.setattr(preset, "INT8_MIN_SIZE", 64)  # the tiny models' kernels take the int8 path too
    for family, gan in tiny_models().items():
        gan.compile(d_optimizer="adam", g_optimizer="adam", ema_decay=0.9)
        exact = pathlib.Path(gan.save_to_preset(tmp_path / f"{family}_exact"))
        path = pathlib.Path(gan.save_to_preset(tmp_path / f"{family}_{storage}", storage=storage))
        assert sorted(os.listdir(path)) == ["config.json", "metadata.json", "weights.compact.h5"]
        assert preset.read_metadata(str(path))["weights_storage"] == storage
        size = os.path.getsize(path / "weights.compact.h5")
        assert size < 0.6 * os.path.getsize(exact / "model.weights.h5")
        loaded = kgan.from_preset(str(path))
        int8_kernels = 0
        for variable, a, b in zip(gan.weights, weights_of(gan), weights_of(loaded)):
            if not np.issubdtype(a.dtype, np.floating):
                np.testing.assert_array_equal(a, b)  # RNG states exactly
            elif storage == "compact" and a.ndim >= 2 and a.size >= 64:
                int8_kernels += 1
                step = np.abs(a).reshape(-1, a.shape[-1]).max(axis=0) / 127.0
                assert np.all(np.abs(a - b) <= step / 2 + 1e-7), variable.path
                assert np.abs(a - b).max() > 0  # really quantized
            else:
                np.testing.assert_allclose(b, a, rtol=2**-11, atol=1e-7, err_msg=variable.path)
        assert int8_kernels >= 2 if storage == "compact" else int8_kernels == 0
        images, again = gan.generate(4, seed=3), loaded.generate(4, seed=3)
        assert np.abs(images - again).max() < 0.05 and np.array_equal(again, loaded.generate(4, seed=3))


def test_compact_weights_of_another_model_or_storage_are_refused(tmp_path):
    models = tiny_models()
    with pytest.raises(ValueError, match="storage must be one of"):
        models["dcgan"].save_to_preset(tmp_path / "x", storage="int4")
    assert not (tmp_path / "x").exists()
    dcgan = pathlib.Path(models["dcgan"].save_to_preset(tmp_path / "dcgan", storage="compact"))
    other = pathlib.Path(models["gan"].save_to_preset(tmp_path / "gan", storage="compact"))
    os.replace(other / "weights.compact.h5", dcgan / "weights.compact.h5")
    with pytest.raises(preset.PresetError, match="cannot be read as this model's weights.*variables"):
        kgan.from_preset(str(dcgan))
    meta = json.loads((other / "metadata.json").read_text())
    (other / "metadata.json").write_text(json.dumps({**meta, "weights_storage": "int2"}))
    with pytest.raises(preset.PresetError, match="stores its weights as 'int2'"):
        kgan.from_preset(str(other))
    (other / "metadata.json").write_text(json.dumps(meta))
    with pytest.raises(preset.PresetError, match="has no weights.compact.h5"):
        kgan.from_preset(str(other))
