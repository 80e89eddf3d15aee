"""Consumer lag as a discrete-time fluid queue per partition.

Arrivals per partition and step come from the (scaled) event sample. Each consumer serves
the partitions assigned to it with a capacity per second (messages or bytes) shared across
them: when their backlog exceeds what one step can serve, the step's capacity is split in
proportion to each partition's backlog (what fetching from several partitions does on
average). Records are served first in, first out within a partition.

Lag is reported two ways: in messages (the backlog) and in seconds (how long ago the oldest
unconsumed record arrived; within a step, arrivals are taken as spread evenly).

>>> import numpy as np
>>> arrivals = np.zeros((100, 1)); arrivals[:60] = 1000  # one hot key, 1,000 msg/s for 60 s
>>> run = simulate_lag(arrivals, [[0]], capacity=600.0, step_seconds=1.0)
>>> run.max_lag_messages, run.time_to_drain_seconds
(24000.0, 40.0)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from partsim.errors import UsageError
from partsim.hashing import _kernels, kernel_backend

__all__ = ["LagRun", "simulate_lag"]


@dataclass(frozen=True)
class LagRun:
    """The lag of every partition at the end of every step, and the figures derived from it.

    ``backlog`` and ``lag_seconds`` are ``steps x partitions``; steps continue past the last
    arrival until every partition has drained (or ``max_drain_steps`` runs out).
    ``arrival_steps`` is the number of steps up to the last one with arrivals.
    """

    backlog: np.ndarray
    lag_seconds: np.ndarray
    served: np.ndarray
    step_seconds: float
    arrival_steps: int
    drained: bool

    @property
    def max_lag_messages(self) -> float:
        return float(self.backlog.max()) if self.backlog.size else 0.0

    @property
    def max_lag_seconds(self) -> float:
        return float(self.lag_seconds.max()) if self.lag_seconds.size else 0.0

    @property
    def time_to_drain_seconds(self) -> float:
        """Seconds from the end of the last arrival until every backlog is empty (inf if it
        never empties)."""
        if not self.drained:
            return float("inf")
        busy = np.flatnonzero(self.backlog.max(axis=1) > 0) if self.backlog.size else []
        if not len(busy) or busy[-1] < self.arrival_steps - 1:
            return 0.0
        return float((busy[-1] + 2 - self.arrival_steps) * self.step_seconds)

    def consumer_backlog(self, assignment: Sequence[Sequence[int]]) -> np.ndarray:
        """Backlog per consumer (steps x consumers)."""
        return np.stack(
            [self.backlog[:, list(parts)].sum(axis=1) if parts else np.zeros(len(self.backlog))
             for parts in assignment], axis=1,
        )  # fmt: skip


def simulate_lag(
    arrivals: np.ndarray,
    assignment: Sequence[Sequence[int]],
    *,
    capacity: float,
    step_seconds: float = 1.0,
    max_drain_steps: int = 1_000_000,
) -> LagRun:
    """Run the queue: ``arrivals`` is ``steps x partitions`` (messages or bytes per step),
    ``assignment`` the partitions of each consumer, ``capacity`` what one consumer serves per
    second in the same unit."""
    arrivals = np.asarray(arrivals, dtype=float)
    if arrivals.ndim != 2:
        raise UsageError("arrivals must be a steps x partitions array")
    if not np.isfinite(capacity) or capacity < 0:
        raise UsageError(f"consumer capacity must be a rate >= 0; got {capacity!r}")
    steps, partitions = arrivals.shape
    owner = np.full(partitions, -1)
    for consumer, parts in enumerate(assignment):
        owner[list(parts)] = consumer
    budget = capacity * step_seconds
    cumulative_arrived = np.zeros((steps + 1, partitions))
    np.cumsum(arrivals, axis=0, out=cumulative_arrived[1:])
    queue = _queue_c if steps and kernel_backend() == "c" else _queue
    backlog_series, served_series, drained = queue(
        arrivals, owner, max(1, len(assignment)), budget, max_drain_steps
    )
    active = np.flatnonzero(arrivals.sum(axis=1) > 0)
    arrival_end = int(active[-1]) + 1 if len(active) else 0
    lag_seconds = _time_lag(cumulative_arrived, served_series.cumsum(axis=0), backlog_series,
                            step_seconds)  # fmt: skip
    return LagRun(backlog_series, lag_seconds, served_series, step_seconds, arrival_end, drained)


def _drain_steps(backlog, owner, owned, consumers, budget, max_drain_steps) -> tuple[int, bool]:
    """Once arrivals are over: the most steps the drain can take (bounded exactly), and
    whether it can drain at all."""
    left = np.bincount(owner[owned], weights=backlog[owned], minlength=consumers)
    stuck = (budget <= 0 and left.any()) or backlog[~owned].any()
    needed = int(np.ceil(left.max() / budget)) + 1 if budget > 0 else 0
    return min(max_drain_steps, needed), not stuck


def _queue_c(arrivals, owner, consumers, budget, max_drain_steps):
    """:func:`_queue` in the C kernel, row for row the same numbers."""
    steps, partitions = arrivals.shape
    owner = np.ascontiguousarray(owner, dtype=np.int64)
    owned = owner >= 0
    backlog = np.zeros(partitions)
    rows_backlog, rows_served = np.empty((steps, partitions)), np.empty((steps, partitions))
    _kernels.lag_steps(np.ascontiguousarray(arrivals), steps, owner, consumers, budget, backlog,
                       rows_backlog, rows_served)  # fmt: skip
    drain, drained = _drain_steps(backlog, owner, owned, consumers, budget, max_drain_steps)
    if drain and backlog[owned].any():
        more_backlog, more_served = np.empty((drain, partitions)), np.empty((drain, partitions))
        rows = _kernels.lag_steps(None, drain, owner, consumers, budget, backlog, more_backlog,
                                  more_served)  # fmt: skip
        rows_backlog = np.concatenate([rows_backlog, more_backlog[:rows]])
        rows_served = np.concatenate([rows_served, more_served[:rows]])
    return rows_backlog, rows_served, drained


def _queue(arrivals, owner, consumers, budget, max_drain_steps):
    """The queue step by step: each step's backlog and served amounts (steps x partitions,
    drain steps included) and whether it drained."""
    steps, partitions = arrivals.shape
    backlog = np.zeros(partitions)
    rows_backlog, rows_served = [], []
    step = 0
    drained = True
    limit = steps
    owned = owner >= 0
    while True:
        if step < steps:
            backlog = backlog + arrivals[step]
        # Each consumer serves all its partitions' backlog if it fits in the step's budget,
        # else the budget split in proportion to backlog.
        waiting = np.bincount(owner[owned], weights=backlog[owned], minlength=consumers)
        share = np.ones(partitions)
        over = waiting > budget
        scale = np.divide(budget, waiting, out=np.ones(consumers), where=over)
        share[owned] = scale[owner[owned]]
        served = np.where(owned, backlog * share, 0.0)
        backlog = backlog - served
        backlog[np.abs(backlog) < 1e-9] = 0.0
        rows_backlog.append(backlog.copy())
        rows_served.append(served)
        step += 1
        if step == steps:  # arrivals are over: bound the drain exactly
            drain, drained = _drain_steps(backlog, owner, owned, consumers, budget,
                                          max_drain_steps)  # fmt: skip
            limit = steps + drain
        if step >= steps and (not backlog[owned].any() or step >= limit):
            break
    return np.asarray(rows_backlog), np.asarray(rows_served), drained


def _time_lag(
    cumulative_arrived: np.ndarray,
    cumulative_served: np.ndarray,
    backlog: np.ndarray,
    step_seconds: float,
) -> np.ndarray:
    """Seconds since the oldest unconsumed record arrived, at the end of each step."""
    partitions = backlog.shape[1]
    arrival_steps = cumulative_arrived.shape[0] - 1
    lag = np.zeros_like(backlog)
    for partition in range(partitions):
        arrived = cumulative_arrived[:, partition]
        served = cumulative_served[:, partition]
        waiting = backlog[:, partition] > 0
        if not waiting.any():
            continue
        # The oldest unconsumed record is number served + (a tiny bit); find when it arrived,
        # taking arrivals within a step as spread evenly over it.
        position = np.searchsorted(arrived, served[waiting], side="right")
        position = np.clip(position, 1, arrival_steps)
        before = arrived[position - 1]
        within = arrived[position] - before
        fraction = np.divide(served[waiting] - before, within, out=np.zeros(len(before)),
                             where=within > 0)  # fmt: skip
        arrival_time = (position - 1 + np.clip(fraction, 0, 1)) * step_seconds
        now = (np.flatnonzero(waiting) + 1) * step_seconds
        lag[waiting, partition] = np.maximum(0.0, now - arrival_time)
    return lag
