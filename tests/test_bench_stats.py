"""The benchmarks' paired-ratio statistics (bench/paired_stats.py), which decide PASS/FAIL."""

import math

import pytest

from conftest import bench_module

stats = bench_module("paired_stats")


def test_t_quantiles_match_scipy():
    scipy_stats = pytest.importorskip("scipy.stats")
    for dof, quantile in stats._T95.items():  # pylint: disable=protected-access
        assert quantile == pytest.approx(scipy_stats.t.ppf(0.975, dof), abs=1e-3), dof


def test_mean_confidence_interval_by_hand():
    # mean 3, sample stdev sqrt(2.5), t(0.975, 4) = 2.776: half width 2.776 * 1.5811 / sqrt(5) = 1.9629.
    mean, low, high = stats.mean_confidence_interval([1.0, 2.0, 3.0, 4.0, 5.0])
    assert mean == 3.0
    assert (low, high) == (pytest.approx(3.0 - 1.9629, abs=1e-4), pytest.approx(3.0 + 1.9629, abs=1e-4))
    # dof 22 is between table rows: the smaller dof's larger quantile (conservative).
    values = [1.0, 1.1] * 11 + [1.05]
    mean, low, high = stats.mean_confidence_interval(values)
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / 22)
    assert high - mean == pytest.approx(2.086 * sd / math.sqrt(23))
    assert stats.mean_confidence_interval([1.2]) == (1.2, -math.inf, math.inf)


@pytest.mark.parametrize("mean, low, high, target, expected", [
    (1.001, 0.990, 1.012, 1.0, "PASS"),  # mean meets the target
    (0.998, 0.991, 1.005, 1.0, "PASS (parity"),  # target inside a +-0.7% interval
    (0.995, 0.975, 1.015, 1.0, "FAIL (95% CI too wide"),  # +-2%: cannot tell
    (0.985, 0.980, 0.990, 1.0, "FAIL"),  # the whole interval below the target
    (0.912, 0.900, 0.924, 0.85, "PASS"),
    (1.69, 1.675, 1.705, 1.7, "PASS (parity"),  # +-0.015 is within 1% of 1.7
    (1.69, 1.66, 1.72, 1.7, "FAIL (95% CI too wide"),
])
def test_target_verdict(mean, low, high, target, expected):
    verdict = stats.target_verdict(mean, low, high, target)
    assert verdict.startswith(expected)
    if expected == "FAIL":
        assert verdict == "FAIL"
