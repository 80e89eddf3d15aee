"""The consumer-lag queue in C is the numpy queue, bit for bit: every step's backlog and
served amounts, the drain's length and whether it drains, for any arrivals, assignment
(partitions nobody consumes included) and capacity."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from partsim.hashing import kernel_backend
from partsim.lag import _queue, _queue_c, simulate_lag

pytestmark = pytest.mark.skipif(
    kernel_backend() != "c", reason="the C kernel is not built (a C compiler builds it)"
)


@settings(max_examples=150, deadline=None)
@given(
    steps=st.integers(1, 40),
    partitions=st.integers(1, 9),
    consumers=st.integers(1, 5),
    budget=st.sampled_from([0.0, 0.3, 1.0, 7.5, 100.0, 1e6]),
    seed=st.integers(0, 2**32 - 1),
    idle=st.booleans(),
    drain=st.sampled_from([0, 3, 1_000_000]),
)
def test_the_c_queue_is_the_numpy_queue(steps, partitions, consumers, budget, seed, idle,
                                        drain) -> None:  # fmt: skip
    rng = np.random.default_rng(seed)
    arrivals = rng.exponential(5.0, (steps, partitions)) * (rng.random((steps, partitions)) < 0.6)
    owner = rng.integers(-1 if idle else 0, consumers, partitions)
    c_backlog, c_served, c_drained = _queue_c(arrivals, owner, consumers, budget, drain)
    backlog, served, drained = _queue(arrivals, owner, consumers, budget, drain)
    assert c_backlog.shape == backlog.shape
    assert c_backlog.tobytes() == backlog.tobytes()
    assert c_served.tobytes() == served.tobytes()
    assert c_drained == drained


def test_the_module_example_through_the_kernel() -> None:
    """One hot partition at 1,000/s for 60 s against 600/s: 24,000 behind, 40 s to drain."""
    arrivals = np.zeros((100, 1))
    arrivals[:60] = 1000
    run = simulate_lag(arrivals, [[0]], capacity=600.0)
    assert (run.max_lag_messages, run.time_to_drain_seconds) == (24000.0, 40.0)
    assert run.backlog[59, 0] == 24000.0 and run.backlog[99, 0] == 0.0
