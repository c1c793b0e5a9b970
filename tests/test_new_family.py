"""A family defined here alone, with no edit to kgan: it trains, exports, reloads, serves and explores.

`ShapeCodeGAN` conditions G on a class label ``shape`` (3 classes, which D sees too) and on a float code
``intensity`` (drawn U[-1, 1], which D does not see). Everything downstream of training reads its
`kgan.contract.Contract` alone.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

import kgan
from kgan import contract, latent, serving
from kgan.gan import refuse_dict
from kgan.serving import tflite

SHAPE = (8, 8, 1)
LATENT = 6
CLASSES = 3


def shape_code_generator():
    z, shape, intensity = keras.Input((LATENT,), name="z"), keras.Input((CLASSES,)), keras.Input((1,))
    x = keras.layers.Concatenate()([z, shape, intensity])
    x = keras.layers.Dense(32, activation="relu")(x)
    x = keras.layers.Reshape((4, 4, 2))(x)
    x = keras.layers.Conv2DTranspose(1, 3, strides=2, padding="same", activation="tanh")(x)
    return keras.Model([z, shape, intensity], x)


def shape_discriminator():
    images, shape = keras.Input(SHAPE), keras.Input((CLASSES,))
    x = keras.layers.Conv2D(4, 3, strides=2, padding="same", activation="relu")(images)
    x = keras.layers.Concatenate()([keras.layers.Flatten()(x), shape])
    return keras.Model([images, shape], keras.layers.Dense(1)(x))


@keras.saving.register_keras_serializable(package="test_new_family")
class ShapeCodeGAN(kgan.GAN):
    """G(z, shape, intensity); D(x, shape). fit takes (images, shape labels)."""

    family_name = "shapecode"

    def latent_inputs(self):
        return (*super().latent_inputs(), contract.class_label("shape", CLASSES),
                contract.continuous_code("intensity", 1))

    def unpack_batch(self, data):
        refuse_dict(data)
        images, labels = data[0], tf.cast(data[1], tf.int32)
        return images, tf.one_hot(labels, CLASSES)


def make_gan():
    keras.utils.set_random_seed(0)
    return ShapeCodeGAN(shape_code_generator(), shape_discriminator(), latent_dim=LATENT, seed=0)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """The family trained with fit, saved as .keras and exported with every signature and TF-Lite variant."""
    gan = make_gan()
    gan.compile(d_optimizer=keras.optimizers.Adam(1e-3), g_optimizer=keras.optimizers.Adam(1e-3))
    rng = np.random.default_rng(0)
    images = rng.uniform(-1, 1, (32, *SHAPE)).astype("float32")
    history = gan.fit(images, np.arange(32) % CLASSES, batch_size=8, epochs=2, verbose=0).history
    base = tmp_path_factory.mktemp("new_family")
    gan.save(base / "model.keras")
    export_dir = serving.export_saved_model(gan, str(base / "exports"), tflite_variants=tflite.VARIANTS)
    return {"gan": gan, "history": history, "dir": base, "export": export_dir}


def test_it_trains_with_fit_and_describes_itself(trained):
    gan, history = trained["gan"], trained["history"]
    assert int(gan.g_optimizer.iterations) == 8 and np.isfinite(history["d_loss"]).all()
    c = gan.contract
    assert c.family == "shapecode" and c.names == ["z", "shape", "intensity"]
    assert [spec.name for spec in c.discriminator_inputs] == ["shape"] and c.class_inputs[0].size == CLASSES
    assert gan.conditional and not c.features


def test_it_exports_every_signature_and_tflite_variant(trained):
    loaded = tf.saved_model.load(trained["export"])
    assert set(loaded.signatures) == {"serving_default", "generate", "sample", "discriminate"}
    specs = loaded.signatures["generate"].structured_input_signature[1]
    assert {k: (v.shape.as_list(), v.dtype) for k, v in specs.items()} == {
        "z": ([None, LATENT], tf.float32), "shape": ([None], tf.int32), "intensity": ([None, 1], tf.float32)}
    assert set(loaded.signatures["sample"].structured_input_signature[1]) == {"num_images", "seed", "shape"}
    assert set(loaded.signatures["discriminate"].structured_input_signature[1]) == {"images", "shape"}
    model = kgan.load(trained["export"])
    inputs = model.contract.draw_numpy(5, np.random.default_rng(1))
    reference = model.generate(**inputs)
    for variant in tflite.VARIANTS:
        runner = tflite.TFLiteGenerator(f"{trained['export']}/tflite/generator_{variant}.tflite")
        assert runner.metadata["family"] == "shapecode"
        np.testing.assert_allclose(runner.generate(**inputs), reference, atol=0.2 if "int8" in variant else 0.01)
        with pytest.raises(ValueError, match=r"shape must be in \[0, 2\]"):
            runner.generate(**dict(inputs, shape=np.array([0, 1, 2, 3, 0], np.int32)))


def test_the_one_reader_serves_it_from_keras_file_and_export_alike(trained):
    keras_model, export = kgan.load(trained["dir"] / "model.keras"), kgan.load(trained["export"])
    assert isinstance(keras_model.gan, ShapeCodeGAN) and export.gan is None
    assert export.contract == keras_model.contract == trained["gan"].contract  # read back from the metadata
    drawn = export.sample(4, seed=7, shape=[2])
    np.testing.assert_array_equal(drawn["shape"], [2, 2, 2, 2])
    assert set(drawn) == {"images", "z", "shape", "intensity"}
    again = keras_model.sample(4, seed=7, shape=[2])
    np.testing.assert_allclose(again["images"], drawn["images"], atol=1e-5)  # the same draw, by contract
    np.testing.assert_allclose(export.generate(z=drawn["z"], shape=drawn["shape"], intensity=drawn["intensity"]),
                               drawn["images"], atol=1e-5)
    brighter = export.generate(z=drawn["z"], shape=drawn["shape"], intensity=drawn["intensity"] + 1.0)
    assert not np.allclose(brighter, drawn["images"])  # the float code reaches G
    p_export = export.discriminate(drawn["images"], shape=drawn["shape"])
    np.testing.assert_allclose(p_export, keras_model.discriminate(drawn["images"], shape=drawn["shape"]), atol=1e-5)
    with pytest.raises(ValueError, match=r"shape must be in \[0, 3\)"):
        export.generate(z=drawn["z"], shape=[0, 1, 5, 0], intensity=drawn["intensity"])
    with pytest.raises(ValueError, match="no DCGAN features.*conditional"):
        export.features(drawn["images"])


def test_the_latent_tools_run_on_it(trained):
    gan, export = trained["gan"], kgan.load(trained["export"])
    grid = latent.interpolation_grid(gan, rows=2, steps=4, method="spherical")
    assert grid.shape == (8, *SHAPE) and np.abs(grid).max() <= 1
    numbered = latent.numbered_sample_grid(export, num_candidates=6, cols=3)
    assert numbered.dtype == np.uint8 and numbered.shape[1] == 3 * (SHAPE[1] + 2) + 2
    # Candidates 0 and 3 share the shape label (ids cycle 0, 1, 2), so the export can average them.
    result = latent.latent_arithmetic(export, [0], [3], [0, 3], num_candidates=6, variants=2)
    assert result["result_images"].shape == (3, *SHAPE)
    keras_result = latent.latent_arithmetic(kgan.load(trained["dir"] / "model.keras"), [0], [3], [0, 3],
                                            num_candidates=6, variants=2)
    assert keras_result["result_images"].shape == (3, *SHAPE)
    with pytest.raises(ValueError, match="Exports take integer labels/codes"):
        latent.latent_arithmetic(export, [0], [1], [2], num_candidates=6, variants=0)
