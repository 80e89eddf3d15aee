"""Skew metrics of per-partition loads: max/mean, coefficient of variation, Gini, Jain's
fairness index and normalized entropy."""

from __future__ import annotations

import math

import numpy as np

__all__ = ["gini", "skew_metrics"]


def gini(loads: np.ndarray) -> float:
    """Gini coefficient of per-partition loads: 0 is perfectly even, (N-1)/N all on one.

    >>> round(gini(np.array([1.0, 1.0, 1.0, 1.0])), 6)
    0.0
    """
    values = np.sort(np.asarray(loads, dtype=float))
    total = values.sum()
    if total <= 0:
        return 0.0
    ranks = np.arange(1, len(values) + 1)
    return float(
        (2 * (ranks * values).sum()) / (len(values) * total) - (len(values) + 1) / len(values)
    )


def skew_metrics(loads: np.ndarray) -> dict[str, float | int]:
    """max/mean, coefficient of variation, Gini, Jain's index and normalized entropy."""
    values = np.asarray(loads, dtype=float)
    total = values.sum()
    mean = values.mean() if len(values) else 0.0
    if total <= 0:
        return {"max_mean_ratio": 0.0, "cv": 0.0, "gini": 0.0, "jain": 0.0, "entropy": 0.0,
                "hottest_partition": 0, "hottest_partition_share": 0.0}  # fmt: skip
    shares = values / total
    nonzero = shares[shares > 0]
    entropy = (
        float(-(nonzero * np.log(nonzero)).sum() / math.log(len(values)))
        if len(values) > 1
        else 1.0
    )
    return {
        "max_mean_ratio": float(values.max() / mean),
        "cv": float(values.std() / mean),
        "gini": gini(values),
        "jain": float(total**2 / (len(values) * (values**2).sum())),
        "entropy": entropy,
        "hottest_partition": int(values.argmax()),
        "hottest_partition_share": float(values.max() / total),
    }
