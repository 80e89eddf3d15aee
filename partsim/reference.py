"""What placement alone gives: the random-placement reference that tells key skew from hash
noise (:func:`uniform_reference`)."""

from __future__ import annotations

import math
import statistics

import numpy as np

__all__ = ["SIMULATE_MAX_KEYS", "uniform_reference"]

#: Distinct keys up to which uniform random placement is simulated rather than computed.
SIMULATE_MAX_KEYS = 2_000_000
#: Key-placements per simulation budget (trials x distinct keys).
SIMULATION_BUDGET = 40_000_000
#: Partition loads kept from the trials for their quantiles, at most.
QUANTILE_CELLS = 4_000_000


def uniform_reference(
    weights: np.ndarray,
    keyless: int,
    partition_count: int,
    seed: int = 0,
    tail: tuple[int, float] = (0, 0.0),
) -> dict[str, object]:
    """max/mean under uniform random placement of these key weights, as a mean with a spread.

    ``weights`` are the per-key loads; ``keyless`` records are placed one by one at random
    (the long-run effect of every client's keyless path). ``tail`` is ``(keys, weight)``:
    that many more keys of that weight each (the sketched keys below the hot ones). Simulated
    when the key count allows it, else computed with a normal approximation of each
    partition's load.
    """
    weights = np.asarray(weights, dtype=float)
    tail_keys, tail_weight = tail
    if tail_keys and len(weights) + tail_keys <= SIMULATE_MAX_KEYS:
        weights = np.concatenate([np.full(tail_keys, tail_weight), weights])
        tail_keys = 0
    total = weights.sum() + tail_keys * tail_weight + keyless
    if partition_count == 1 or total <= 0:
        return {"method": "exact", "trials": 0, "mean": 1.0, "std": 0.0, "p05": 1.0, "p95": 1.0,
                "partition_load_p05": total, "partition_load_p95": total}  # fmt: skip
    mean_load = total / partition_count
    if len(weights) + tail_keys <= SIMULATE_MAX_KEYS:
        # Each trial costs a draw per key and a pass over the partitions.
        trials = int(min(500, max(20, SIMULATION_BUDGET // max(1, len(weights) + partition_count))))
        rng = np.random.default_rng(seed)
        even = np.full(partition_count, 1 / partition_count)
        # Keys of one weight are exchangeable: how many of the m keys of a weight land on each
        # partition is Multinomial(m, even), one draw for all m. A weight that fewer keys
        # than partitions share is cheaper to place key by key.
        group_weight, group, group_keys = np.unique(
            weights, return_inverse=True, return_counts=True
        )
        drawn = group_keys >= partition_count
        group_weight, group_keys = group_weight[drawn], group_keys[drawn]
        placed = weights[~drawn[group]]
        # Every trial's max; the partition loads of as many trials as fit in QUANTILE_CELLS,
        # for their quantiles (memory stays bounded at any partition count).
        loads = np.empty((max(1, min(trials, QUANTILE_CELLS // partition_count)), partition_count))
        maxima = np.empty(trials)
        for trial in range(trials):
            placement = rng.integers(0, partition_count, size=len(placed))
            load = np.bincount(placement, weights=placed, minlength=partition_count)
            load = load.astype(float, copy=False)  # int64 when no key is placed one by one
            load += group_weight @ rng.multinomial(group_keys, even)
            load += rng.multinomial(keyless, even)
            maxima[trial] = load.max()
            if trial < len(loads):
                loads[trial] = load
        ratios = maxima / mean_load
        return {
            "method": "simulated",
            "trials": trials,
            "mean": float(ratios.mean()),
            "std": float(ratios.std(ddof=1)),
            "p05": float(np.quantile(ratios, 0.05)),
            "p95": float(np.quantile(ratios, 0.95)),
            "partition_load_p05": float(np.quantile(loads, 0.05)),
            "partition_load_p95": float(np.quantile(loads, 0.95)),
        }
    # Each partition's load: a sum of w_k * Bernoulli(1/N); normal with this mean and sigma.
    square_sum = (weights**2).sum() + tail_keys * tail_weight**2 + keyless
    sigma = math.sqrt(square_sum * (1 / partition_count) * (1 - 1 / partition_count))
    normal = statistics.NormalDist()

    def max_quantile(q: float) -> float:  # P(max <= x) = Phi(z)^N
        return (mean_load + sigma * normal.inv_cdf(q ** (1 / partition_count))) / mean_load

    blom = normal.inv_cdf((partition_count - 0.375) / (partition_count + 0.25))
    return {
        "method": "computed",
        "trials": 0,
        "mean": (mean_load + sigma * blom) / mean_load,
        "std": (max_quantile(0.8413) - max_quantile(0.1587)) / 2,
        "p05": max_quantile(0.05),
        "p95": max_quantile(0.95),
        "partition_load_p05": mean_load - 1.6449 * sigma,
        "partition_load_p95": mean_load + 1.6449 * sigma,
    }
