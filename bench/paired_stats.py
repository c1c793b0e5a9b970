"""Paired-ratio statistics of the benchmarks: a mean with its 95% interval, and a target verdict."""

import statistics

# A ratio whose mean misses its target by less than the noise still meets it when
# its 95% interval holds the target and is at most this wide (each side, relative).
PARITY_RESOLUTION = 0.01

# Two-sided 95% Student t quantiles by degrees of freedom (1.96 beyond 30).
_T95 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262, 10: 2.228,
        11: 2.201, 12: 2.179, 13: 2.160, 14: 2.145, 15: 2.131, 16: 2.120, 17: 2.110, 18: 2.101, 19: 2.093,
        20: 2.086, 25: 2.060, 30: 2.042}


def mean_confidence_interval(values):
    """(mean, low, high): the mean of ``values`` and its two-sided 95% Student t interval.

    One value gives an unbounded interval.
    """
    mean = statistics.fmean(values)
    if len(values) < 2:
        return mean, float("-inf"), float("inf")
    dof = len(values) - 1
    # Between table rows, the next smaller dof's (larger, conservative) quantile.
    quantile = _T95[max(d for d in _T95 if d <= dof)] if dof <= 30 else 1.96
    half = quantile * statistics.stdev(values) / len(values) ** 0.5
    return mean, mean - half, mean + half


def target_verdict(mean, low, high, target):
    """PASS / PASS (parity) / FAIL of a ratio ``>= target`` measured as ``mean`` in ``[low, high]``.

    PASS (parity): the mean is below the target but the target lies in a 95%
    interval no wider than +-PARITY_RESOLUTION, i.e. the rounds resolve no
    difference from the target.
    """
    if mean >= target:
        return "PASS"
    if high >= target and (high - low) / 2 <= PARITY_RESOLUTION * target:
        return f"PASS (parity: {target:.2f} is inside the 95% CI)"
    if high >= target:
        return "FAIL (95% CI too wide to tell: run more --rounds)"
    return "FAIL"
