"""kgan.metrics against brute force and hand-made cases."""

import itertools

import numpy as np
import pytest

from kgan import metrics


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
