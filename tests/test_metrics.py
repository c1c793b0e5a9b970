"""kgan.metrics against brute force and hand-made cases."""

import itertools

import numpy as np
import pytest

from kgan.evaluation import metrics


def brute_force(codes, classes, k, c):
    matrix = metrics.confusion_matrix(codes, classes, k, c)
    best = max(sum(matrix[code, perm[code]] for code in range(k)) for perm in itertools.permutations(range(c), k))
    return best / len(codes)


def test_best_mapping_recovers_a_permutation():
    rng = np.random.default_rng(0)
    classes = rng.integers(0, 6, 600)
    permutation = rng.permutation(6)
    codes = permutation[classes]
    accuracy, mapping = metrics.best_one_to_one_accuracy(codes, classes, 6, 6)
    assert accuracy == 1.0
    assert all(mapping[permutation[cls]] == cls for cls in range(6))


@pytest.mark.parametrize("seed", range(5))
def test_best_mapping_matches_brute_force(seed):
    rng = np.random.default_rng(seed)
    codes, classes = rng.integers(0, 5, 200), rng.integers(0, 6, 200)
    codes[:80] = classes[:80] % 5  # some structure
    accuracy, mapping = metrics.best_one_to_one_accuracy(codes, classes, 5, 6)
    assert accuracy == pytest.approx(brute_force(codes, classes, 5, 6))
    # The returned mapping achieves the accuracy and is one-to-one.
    used = [m for m in mapping if m >= 0]
    assert len(used) == len(set(used))
    assert np.mean([mapping[code] == cls for code, cls in zip(codes, classes)]) == pytest.approx(accuracy)


def test_label_accuracy_and_bad_inputs():
    assert metrics.label_accuracy([1, 2, 3, 3], [1, 2, 0, 3]) == 0.75
    with pytest.raises(ValueError, match="equal-length"):
        metrics.label_accuracy([1, 2], [1])
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        metrics.best_one_to_one_accuracy([0, 3], [0, 1], 3, 3)
    with pytest.raises(ValueError, match="integer"):
        metrics.confusion_matrix([0.5], [0], 2, 2)


# ---- classifier score ----------------------------------------------------------


def test_classifier_score_extremes():
    confident_uniform = 50.0 * np.eye(10)[np.arange(1000) % 10]
    assert metrics.classifier_score(confident_uniform) == pytest.approx(10.0, rel=1e-9)
    assert metrics.classifier_score(np.tile([[3.0, -1.0, 0.5]], (7, 1))) == pytest.approx(1.0)
    assert metrics.classifier_score(np.zeros((5, 4))) == pytest.approx(1.0)  # uniform p(y|x)
    # Huge logits neither overflow nor give NaN: two classes used equally and with certainty.
    assert metrics.classifier_score(np.array([[1e30, 0.0], [0.0, 1e30]])) == pytest.approx(2.0)


def test_classifier_score_matches_the_formula():
    logits = np.random.default_rng(0).normal(size=(50, 6)) * 3
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    marginal = p.mean(axis=0)
    expected = np.exp(np.mean([np.sum(row * np.log(row / marginal)) for row in p]))
    assert metrics.classifier_score(logits) == pytest.approx(expected, rel=1e-10)
    with pytest.raises(ValueError, match="2-D"):
        metrics.classifier_score(np.zeros(10))
    with pytest.raises(ValueError, match="NaN"):
        metrics.classifier_score(np.array([[np.nan, 0.0]]))


# ---- Frechet distance ------------------------------------------------------------


def test_frechet_distance_of_identical_sets_is_zero():
    x = np.random.default_rng(0).normal(size=(200, 16))
    assert metrics.frechet_distance(x, x) == pytest.approx(0.0, abs=1e-8)
    few = x[:5]  # fewer samples than dimensions: singular covariances
    assert metrics.frechet_distance(few, few) == pytest.approx(0.0, abs=1e-8)


def test_frechet_distance_diagonal_closed_form_on_sample_moments():
    # Features with exactly diagonal sample covariances: +-1 patterns (Hadamard rows) scaled per axis.
    signs = np.array([[1, 1, 1, 1], [1, -1, 1, -1], [1, 1, -1, -1], [1, -1, -1, 1]], float)
    rows = np.concatenate([signs, -signs])  # mean 0, covariance 8/7 * I
    s1, s2 = np.array([1.0, 2.0, 0.5, 3.0]), np.array([0.3, 2.0, 4.0, 1.0])
    mu1, mu2 = np.array([0.0, 1.0, -2.0, 5.0]), np.array([1.0, 1.0, 0.0, 4.5])
    a, b = rows * s1 + mu1, rows * s2 + mu2
    var1, var2 = np.diag(np.cov(a, rowvar=False)), np.diag(np.cov(b, rowvar=False))
    np.testing.assert_allclose(np.cov(a, rowvar=False), np.diag(var1), atol=1e-12)
    expected = np.sum((mu1 - mu2) ** 2) + np.sum(var1 + var2 - 2 * np.sqrt(var1 * var2))
    assert metrics.frechet_distance(a, b) == pytest.approx(expected, rel=1e-10)
    assert metrics.frechet_distance(b, a) == pytest.approx(expected, rel=1e-10)


def test_frechet_distance_of_large_gaussian_samples():
    rng = np.random.default_rng(1)
    s1, s2 = np.array([1.0, 4.0, 0.25]), np.array([2.0, 1.0, 0.25])
    mu1, mu2 = np.zeros(3), np.array([1.0, -1.0, 0.5])
    a = rng.normal(size=(200_000, 3)) * np.sqrt(s1) + mu1
    b = rng.normal(size=(200_000, 3)) * np.sqrt(s2) + mu2
    expected = np.sum((mu1 - mu2) ** 2) + np.sum(s1 + s2 - 2 * np.sqrt(s1 * s2))
    assert metrics.frechet_distance(a, b) == pytest.approx(expected, abs=0.03)


def test_frechet_distance_full_covariances_against_scipy_sqrtm():
    linalg = pytest.importorskip("scipy.linalg")
    rng = np.random.default_rng(2)
    a = rng.normal(size=(300, 8)) @ rng.normal(size=(8, 8))
    b = rng.normal(size=(400, 8)) @ rng.normal(size=(8, 8)) + 0.5
    c1, c2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    expected = (np.sum((a.mean(0) - b.mean(0)) ** 2) + np.trace(c1) + np.trace(c2)
                - 2 * np.trace(linalg.sqrtm(c1 @ c2).real))
    assert metrics.frechet_distance(a, b) == pytest.approx(expected, rel=1e-8)
    mean, cov = metrics.feature_statistics(a)
    np.testing.assert_allclose(cov, c1, rtol=1e-12)
    assert metrics.frechet_distance_from_statistics(mean, cov, *metrics.feature_statistics(b)) == \
        pytest.approx(expected, rel=1e-8)


def test_frechet_distance_bad_inputs():
    with pytest.raises(ValueError, match="different feature dimensions"):
        metrics.frechet_distance(np.zeros((4, 3)), np.zeros((4, 2)))
    with pytest.raises(ValueError, match="at least 2"):
        metrics.frechet_distance(np.zeros((1, 3)), np.zeros((4, 3)))
    with pytest.raises(ValueError, match="expected"):
        metrics.frechet_distance_from_statistics(np.zeros(3), np.eye(2), np.zeros(3), np.eye(3))


# ---- precision / recall / density / coverage ------------------------------------


def brute_radii(x, k):
    return np.array([np.sort([np.linalg.norm(p - q) for j, q in enumerate(x) if j != i])[k - 1]
                     for i, p in enumerate(x)])


def brute_prdc(real, fake, k_pr, k_dc):
    r_real, r_fake = brute_radii(real, k_pr), brute_radii(fake, k_pr)
    precision = np.mean([any(np.linalg.norm(f - r) <= rad for r, rad in zip(real, r_real)) for f in fake])
    recall = np.mean([any(np.linalg.norm(r - f) <= rad for f, rad in zip(fake, r_fake)) for r in real])
    r_dc = brute_radii(real, k_dc)
    density = sum(np.linalg.norm(f - r) < rad for f in fake for r, rad in zip(real, r_dc)) / (k_dc * len(fake))
    coverage = np.mean([min(np.linalg.norm(f - r) for f in fake) < rad for r, rad in zip(real, r_dc)])
    return precision, recall, density, coverage


@pytest.mark.parametrize("seed", range(4))
def test_prdc_match_brute_force(seed, monkeypatch):
    monkeypatch.setattr(metrics, "_BLOCK_ENTRIES", 97)  # force many uneven blocks
    rng = np.random.default_rng(seed)
    real = rng.normal(size=(40, 3))
    fake = rng.normal(size=(33, 3)) * rng.uniform(0.5, 1.5) + rng.uniform(-1, 1)
    precision, recall = metrics.precision_recall(real, fake, k=3)
    density, coverage = metrics.density_coverage(real, fake, k=5)
    expected = brute_prdc(real, fake, 3, 5)
    assert (precision, recall, density, coverage) == pytest.approx(expected, abs=1e-12)
    np.testing.assert_allclose(metrics.nearest_neighbour_radii(real, 3), brute_radii(real, 3), rtol=1e-9)


def test_prdc_identical_and_disjoint_sets():
    x = np.random.default_rng(3).normal(size=(60, 5))
    assert metrics.precision_recall(x, x) == (1.0, 1.0)
    density, coverage = metrics.density_coverage(x, x)
    assert coverage == 1.0 and density == pytest.approx(1.0, abs=0.02)
    far = x + 1000.0
    assert metrics.precision_recall(x, far) == (0.0, 0.0)
    assert metrics.density_coverage(x, far) == (0.0, 0.0)


def test_prdc_hand_made_points():
    # Real points 0, 1, 2, 3 on a line: 1-NN radius 1 each. Fakes: 1.5 (inside) and 10 (far away).
    real = np.array([[0.0], [1.0], [2.0], [3.0]])
    fake = np.array([[1.5], [10.0]])
    # Precision: 1.5 is within 1 of a real point, 10 is not. Recall: each fake's 1-NN radius is 8.5,
    # so the ball around 1.5 holds every real point.
    assert metrics.precision_recall(real, fake, k=1) == (0.5, 1.0)
    # Density: 1.5 lies strictly inside the balls of 1 and 2 -> 2 / (k=1 * 2 fakes); coverage: 2 of 4 balls.
    assert metrics.density_coverage(real, fake, k=1) == (1.0, 0.5)
    # On the boundary: precision counts distance == radius (<=), density/coverage do not (<).
    assert metrics.precision_recall(real, np.array([[4.0], [4.0]]), k=1)[0] == 1.0
    assert metrics.density_coverage(real, np.array([[4.0]]), k=1) == (0.0, 0.0)


def test_prdc_bad_inputs():
    x = np.zeros((4, 2))
    with pytest.raises(ValueError, match="at least 4"):
        metrics.precision_recall(x[:3], x, k=3)
    with pytest.raises(ValueError, match="positive integer"):
        metrics.density_coverage(x, x, k=0)
    with pytest.raises(ValueError, match="different feature dimensions"):
        metrics.precision_recall(np.zeros((5, 2)), np.zeros((5, 3)))
