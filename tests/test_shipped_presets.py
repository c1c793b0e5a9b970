"""The presets shipped in kgan/presets/: they load, generate, export, reproduce their cards and are packaged."""

import configparser
import fnmatch
import os

import numpy as np
import pytest
from conftest import REPO, run_module
from PIL import Image

import kgan
from kgan import evaluation, preset
from kgan.serving import saved_model, tflite

SHIPPED = {"cgan_mnist": "cgan", "dcgan_mnist": "dcgan", "dcgan_softmax_mnist": "dcgan", "gan_mnist": "gan",
           "infogan_mnist": "infogan"}
# A fresh install on another CPU may round differently (oneDNN kernels): the card's 2000-sample float32
# scores must hold within these.
CLASSIFIER_SCORE_TOLERANCE = 0.02
ACCURACY_TOLERANCE = 0.0025
WHEEL_BUDGET = 40 * 2**20


def test_the_five_presets_are_listed_with_a_description():
    listed = kgan.list_presets()
    assert sorted(listed) == sorted(SHIPPED)
    assert all(len(description) > 20 for description in listed.values())


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_preset_loads_generates_and_reproduces_its_card(name):
    card = preset.read_metadata(name)
    gan = kgan.from_preset(name)
    assert gan.family == SHIPPED[name] == card["family"]
    assert card["training"]["command"].startswith(f"python -m zoo.{SHIPPED[name]} ")
    assert card["evaluation"]["num_samples"] == 10000
    images = gan.generate(8, seed=1)  # in the preset's own (mixed_bfloat16) policy, as shipped
    assert images.shape == (8, 28, 28, 1) and images.dtype == np.float32
    assert images.min() >= -1.0 and images.max() <= 1.0 and images.std() > 0.1  # not blank
    # The check computes in float32 (the same weights): bfloat16 is emulated, ~13x slower, on CPUs without it.
    check = card["check"]
    assert card["training"]["precision"] == "mixed_bfloat16" and check["precision"] == "float32"
    checked = kgan.from_preset(name, precision=check["precision"])
    assert {layer.compute_dtype for layer in gan.generator.layers} == {"float32", "bfloat16"}
    assert {layer.compute_dtype for layer in checked.generator.layers} == {"float32"}
    assert np.abs(checked.generate(8, seed=1) - images).mean() < 0.01  # the model that ships, up to rounding
    scores = evaluation.classifier_scores(checked, check["num_samples"], check["seed"])
    assert abs(scores["classifier_score"]["value"] - check["classifier_score"]) <= CLASSIFIER_SCORE_TOLERANCE
    for key in ("label_accuracy", "code_accuracy"):
        assert (key in scores) == (key in check)
        if key in check:
            assert abs(scores[key]["value"] - check[key]) <= ACCURACY_TOLERANCE
    # The 2000-sample check and the card's 10000-sample score describe the same model.
    assert abs(check["classifier_score"] - card["evaluation"]["metrics"]["classifier_score"]) < 0.3


def test_dcgan_presets_carry_their_svm_accuracies():
    for name in ("dcgan_mnist", "dcgan_softmax_mnist"):
        results = preset.read_metadata(name)["svm"]["results"]
        assert sorted(results, key=int) == ["10", "100"]
        for accuracies in results.values():
            assert set(accuracies) == {"trained D", "random D", "pixels"}
            assert 0.5 < accuracies["trained D"] <= 1.0


def test_infogan_card_gives_the_code_to_digit_mapping():
    metrics = preset.read_metadata("infogan_mnist")["evaluation"]["metrics"]
    mapping = metrics["code_to_digit"]
    assert len(mapping) == 10 and set(mapping) <= set(range(-1, 10))


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_preset_exports_a_saved_model_and_tflite(name, tmp_path):
    gan = kgan.from_preset(name)
    path = saved_model.export_saved_model(gan, str(tmp_path), name, tflite_variants=("float32",))
    served = kgan.load(path)
    inputs = {k: v for k, v in served.sample(2, seed=3).items() if k != "images"}
    exported = served.generate(**inputs)
    keras_images = kgan.load(f"preset:{name}").generate(**inputs)  # bfloat16 compute: exports are float32
    assert np.abs(exported - keras_images).max() < 0.1 and np.abs(exported - keras_images).mean() < 0.01
    runner = tflite.TFLiteGenerator(os.path.join(path, "tflite", tflite.file_name("float32")))
    np.testing.assert_allclose(runner.generate(**inputs), exported, atol=2e-3)


def test_zoo_generate_and_export_take_a_shipped_preset(tmp_path):
    out = tmp_path / "sevens.png"
    result = run_module("zoo.generate", "--preset=cgan_mnist", "--labels=7,7,3", f"--output={out}")
    assert result.returncode == 0, result.stderr[-2000:]
    assert np.asarray(Image.open(out)).shape[:2] == (2 * 30 + 2, 2 * 30 + 2)
    out = tmp_path / "codes.png"
    result = run_module("zoo.generate", "--preset=infogan_mnist", "--categories=4,4", "--continuous=-1.5,0,1.5,0",
                        f"--output={out}")
    assert result.returncode == 0, result.stderr[-2000:]
    assert np.asarray(Image.open(out)).shape[:2] == (30 + 2, 2 * 30 + 2)
    result = run_module("zoo.export", "--model=preset:dcgan_mnist", f"--export_dir={tmp_path / 'exports'}",
                        "--tflite=")
    assert result.returncode == 0, result.stderr[-2000:]
    assert saved_model.versions(str(tmp_path / "exports"), "dcgan") == [1]


def test_presets_are_package_data_within_the_wheel_budget():
    config = configparser.ConfigParser()
    config.read(os.path.join(REPO, "setup.cfg"))
    patterns = [p.strip() for p in config["options.package_data"]["kgan"].replace(",", "\n").split() if p.strip()]
    total = 0
    for root, _, files in os.walk(preset.SHIPPED_DIR):
        for file in files:
            relative = os.path.relpath(os.path.join(root, file), os.path.join(REPO, "kgan"))
            assert any(fnmatch.fnmatch(relative, p) for p in patterns), f"{relative} is not package data"
            total += os.path.getsize(os.path.join(root, file))
    assert 0 < total <= WHEEL_BUDGET


def test_readme_shows_every_preset_with_its_sample_grid():
    with open(os.path.join(REPO, "README.md")) as f:
        readme = f.read()
    for name in SHIPPED:
        picture = f"docs/presets/{name}.png"
        assert f"]({picture})" in readme and os.path.getsize(os.path.join(REPO, picture)) > 1000
        card = preset.read_metadata(name)
        assert f"{card['evaluation']['metrics']['classifier_score']:.2f}" in readme
    assert "](docs/presets/infogan_mnist_continuous_0.png)" in readme
