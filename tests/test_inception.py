"""Inception metrics: KID / IS against independent computations, the InceptionV3 extractor, the feature cache."""

import os

import keras
import numpy as np
import pytest
from test_folder import make_class_folder

import kgan
from kgan.evaluation import extractors, metrics, scoring


def kid_by_loops(a, b):
    """Unbiased MMD^2, cubic polynomial kernel, written out pair by pair."""
    d = a.shape[1]
    k = lambda x, y: (x @ y / d + 1.0) ** 3  # noqa: E731
    m, n = len(a), len(b)
    xx = sum(k(a[i], a[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    yy = sum(k(b[i], b[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    xy = sum(k(a[i], b[j]) for i in range(m) for j in range(n)) / (m * n)
    return xx + yy - 2 * xy


def test_kid_matches_the_pairwise_formula():
    rng = np.random.default_rng(0)
    real, fake = rng.normal(size=(12, 5)), rng.normal(0.5, 1.2, size=(12, 5))
    mean, std = metrics.kernel_inception_distance(real, fake, num_subsets=3, subset_size=100)
    # The subsets hold every row (12 < 100), so each equals the full-set value.
    assert mean == pytest.approx(kid_by_loops(real, fake), rel=1e-9) and std == pytest.approx(0, abs=1e-12)
    same = metrics.kernel_inception_distance(rng.normal(size=(400, 5)), rng.normal(size=(400, 5)), 10, 100)[0]
    shifted = metrics.kernel_inception_distance(rng.normal(size=(400, 5)), rng.normal(1, 1, (400, 5)), 10, 100)[0]
    assert abs(same) < 0.05 < shifted  # unbiased: ~0 for one distribution


def test_inception_score_over_splits():
    rng = np.random.default_rng(1)
    logits = rng.normal(size=(20, 4)) * 3
    mean, std = metrics.inception_score(logits, num_splits=2)
    by_hand = []
    for part in (logits[:10], logits[10:]):
        p = np.exp(part) / np.exp(part).sum(1, keepdims=True)
        marginal = p.mean(0)
        by_hand.append(np.exp(np.mean(np.sum(p * (np.log(p) - np.log(marginal)), 1))))
    assert mean == pytest.approx(np.mean(by_hand)) and std == pytest.approx(np.std(by_hand))
    with pytest.raises(ValueError, match="at least num_splits=10"):
        metrics.inception_score(logits[:5])


def test_inception_extractor_shapes_weights_file_and_precision(tmp_path):
    keras.utils.set_random_seed(0)
    body = keras.applications.InceptionV3(include_top=True, weights=None, classifier_activation=None)
    path = str(tmp_path / "inception.weights.h5")
    body.save_weights(path)
    extractor = extractors.inception_v3(path)
    assert extractor.kind == "inception" and "inception.weights.h5" in extractor.name
    rng = np.random.default_rng(0)
    colour = rng.uniform(-1, 1, (3, 32, 32, 3)).astype(np.float32)
    logits, features = extractor(colour)
    assert logits.shape == (3, 1000) and features.shape == (3, 2048)
    resized = keras.ops.convert_to_numpy(keras.ops.image.resize(colour, (299, 299), interpolation="bilinear"))
    pool = keras.Model(body.inputs, body.get_layer("avg_pool").output)
    np.testing.assert_allclose(features, pool.predict_on_batch(resized), rtol=1e-4, atol=1e-5)
    gray = rng.uniform(-1, 1, (2, 28, 28, 1)).astype(np.float32)
    assert extractor(gray)[1].shape == (2, 2048)
    np.testing.assert_allclose(extractor(gray)[1], extractor(np.repeat(gray, 3, axis=-1))[1], rtol=1e-5, atol=1e-6)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        extractors.inception_v3(str(tmp_path / "missing.h5"))
    (tmp_path / "bad.weights.h5").write_bytes(b"not hdf5")
    with pytest.raises(ValueError, match="not a weights file of Keras' InceptionV3"):
        extractors.inception_v3(str(tmp_path / "bad.weights.h5"))


def test_offline_imagenet_weights_fail_with_the_way_out(monkeypatch, tmp_path):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))  # nothing cached there
    with pytest.raises(ValueError, match="not cached .*cannot be downloaded .*--inception_weights PATH"):
        extractors.inception_weights_file("imagenet")


def test_real_features_are_cached_in_memory_and_on_disk(tmp_path, monkeypatch):
    folder = make_class_folder(str(tmp_path / "animals"), per_class=4, size=(20, 20))
    data_dir = str(tmp_path / "tfds")
    gan = kgan.DCGAN(image_shape=(16, 16, 3), generator_filters=2, discriminator_filters=2, seed=0)
    calls = []
    real_images = scoring.real_images
    monkeypatch.setattr(scoring, "real_images", lambda *a, **k: calls.append(a) or real_images(*a, **k))
    first = scoring.evaluate(gan, num_samples=8, data_dir=data_dir, dataset=folder, inception_weights=None)
    assert first["feature_extractor"].startswith("InceptionV3") and first["real_data"].endswith(" train")
    assert first["num_real"] == 8 and len(calls) == 1
    cache = os.path.join(data_dir, "kgan_reference_features")
    assert len(os.listdir(cache)) == 1
    scoring._REAL_CACHE.clear()  # a new process: read from disk
    second = scoring.evaluate(gan, num_samples=8, data_dir=data_dir, dataset=folder, inception_weights=None)
    assert len(calls) == 1 and second["fid"]["value"] == first["fid"]["value"]
    # Another sample size is another reference set.
    scoring.evaluate(gan, num_samples=7, data_dir=data_dir, dataset=folder, inception_weights=None)
    assert len(calls) == 2 and len(os.listdir(cache)) == 2
