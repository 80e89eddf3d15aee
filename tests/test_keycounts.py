"""KeyCounts (per-key events and bytes) against a plain dict and pandas, on both kernels.

The compiled kernel keeps one C hash table for the whole analysis; the fallback groups each
batch with Arrow and merges. Both must give the same counts for any keys, split into batches
anyhow, in any Arrow layout, with null keys, empty keys and keys that share a prefix.
"""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from partsim import hashing, keycounts
from partsim.analysis import analyze
from partsim.keycounts import KEY_SCHEMA, KeyCounts

ORDERS = Path(__file__).parents[1] / "sample_data" / "orders.csv"


@pytest.fixture(params=["c", "numpy"])
def kernel(request, monkeypatch):
    if request.param == "c" and hashing._kernels is None:
        pytest.fail("the C kernel is not built: pip install -e . should build it")
    monkeypatch.setenv("PARTSIM_KERNELS", request.param)
    return request.param


def _expected(keys: list[bytes | None], weights: list[float]) -> dict:
    """Events and summed weights per key, one key at a time in a dict (None is a key)."""
    out: dict = {}
    for key, weight in zip(keys, weights, strict=True):
        count, total = out.get(key, (0, 0.0))
        out[key] = (count + 1, total + weight)
    return out


def _got(table: pa.Table) -> dict:
    assert table.schema.names == KEY_SCHEMA.names
    rows = table.to_pylist()
    got = {row["key"]: (row["count"], row["bytes"]) for row in rows}
    assert len(got) == len(rows), "a key appears twice"
    return got


def _layout(keys: list[bytes | None], layout: str) -> pa.Array:
    if layout == "sliced":
        padded = pa.array([b"<pad>", None, *keys, b"tail"], type=pa.binary())
        return padded.slice(2, len(keys))
    return pa.array(keys, type=pa.large_binary() if layout == "large" else pa.binary())


KEYS = st.lists(
    st.one_of(st.none(), st.binary(max_size=20), st.sampled_from([b"", b"a", b"ab", b"a\0"])),
    max_size=300,
)


# The fixture only sets the kernel's environment variable, the same for every example.
@settings(max_examples=200, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
@given(
    keys=KEYS,
    cuts=st.lists(st.integers(0, 300), max_size=5),
    layout=st.sampled_from(["plain", "sliced", "large"]),
    data=st.data(),
)
def test_counts_match_pandas(kernel, keys, cuts, layout, data) -> None:
    weights = data.draw(st.lists(st.integers(0, 5000), min_size=len(keys), max_size=len(keys)))
    counts = KeyCounts()
    bounds = sorted({0, len(keys), *(min(cut, len(keys)) for cut in cuts)})
    for start, stop in itertools.pairwise(bounds):
        counts.add(_layout(keys[start:stop], layout),
                   np.array(weights[start:stop], dtype=float))  # fmt: skip
    assert _got(counts.table()) == _expected(keys, [float(w) for w in weights])


def test_many_keys_grow_the_table(kernel) -> None:
    """Past the table's first sizes (1,024 slots; it grows at half full) nothing is lost;
    with the kernel, keys come in order of first appearance."""
    rng = np.random.default_rng(3)
    ids = rng.zipf(1.3, 400_000) % 150_000
    keys = [b"key-%d" % i for i in ids]
    counts = KeyCounts()
    for start in range(0, len(keys), 65_536):
        chunk = keys[start : start + 65_536]
        counts.add(pa.array(chunk, pa.binary()), np.ones(len(chunk)))
    table = counts.table()
    expected = pd.Series(keys).value_counts(sort=False)
    assert table.num_rows == len(expected) == len(counts)
    assert dict(zip(table["key"].to_pylist(), table["count"].to_pylist(), strict=True)) == (
        expected.to_dict()
    )
    assert table["bytes"].to_pylist() == [float(c) for c in table["count"].to_pylist()]
    if kernel == "c":
        assert table["key"].to_pylist() == list(pd.unique(pd.Series(keys)))


def test_empty_and_mismatched_inputs(kernel) -> None:
    counts = KeyCounts()
    counts.add(pa.array([], pa.binary()), np.array([]))
    assert counts.table().equals(KEY_SCHEMA.empty_table())
    with pytest.raises(ValueError, match="differ in length"):
        counts.add(pa.array([b"a"]), np.array([1.0, 2.0]))


def test_kernel_rejects_bad_buffers() -> None:
    table = keycounts._kernels.KeyTable()
    offsets = np.array([0, 2, 99], dtype=np.int32)  # past the end of the data
    with pytest.raises(ValueError, match="outside the data"):
        table.add(4, offsets, b"abc", None, 0, np.ones(2))
    with pytest.raises(ValueError, match="do not match"):
        table.add(4, np.array([0, 1], dtype=np.int32), b"a", None, 0, np.ones(3))
    with pytest.raises(ValueError, match="width"):
        table.add(2, np.array([0, 1], dtype=np.int32), b"a", None, 0, np.ones(1))
    with pytest.raises(ValueError, match="do not fit"):
        table.export(np.empty(5, np.int64), np.empty(0, np.uint8), np.empty(0, np.int64),
                     np.empty(0))  # fmt: skip


def test_analysis_is_the_same_on_both_kernels(monkeypatch) -> None:
    """The whole analysis, key table included, does not depend on the kernel."""
    results = {}
    for backend in ("c", "numpy"):
        monkeypatch.setenv("PARTSIM_KERNELS", backend)
        results[backend] = analyze(ORDERS, key="customer_id", partition_count=12,
                                   size="size_bytes", timestamp="ts", batch_rows=700)  # fmt: skip
    assert results["c"].summary == results["numpy"].summary
    pd.testing.assert_frame_equal(results["c"].partitions, results["numpy"].partitions)
    pd.testing.assert_frame_equal(results["c"].hot_keys, results["numpy"].hot_keys)
    pd.testing.assert_frame_equal(results["c"].windows, results["numpy"].windows)


def test_keys_survive_the_last_batch_beside_its_windows(kernel) -> None:
    """Every batch counts windows beside its keys; the keys counted since the last flush must
    still reach the result (a regression once dropped them when the last batch merged)."""
    events = pa.table({"k": [f"k{i % 50}" for i in range(4000)],
                       "ts": [str(1_700_000_000 + 60 * i) for i in range(4000)]})  # fmt: skip
    result = analyze(events, key="k", partition_count=4, timestamp="ts", batch_rows=1000, top=50)
    assert result.summary["distinct_keys"] == 50
    assert result.hot_keys["count"].sum() == 4000


#: The child of :func:`test_a_table_in_use_refuses_other_threads`: one thread adds 1M keys
#: (hundreds of ms without the GIL) while the main thread calls add() and table() in a loop,
#: until both have been refused at least once (or 20 rounds pass). It prints what it saw.
_CONCURRENT_USE = """
import json, sys, threading
import numpy as np, pyarrow as pa
from partsim.keycounts import KeyCounts

counts = KeyCounts()
assert counts._table is not None, "the C table"
big = pa.array([b"big-%d" % i for i in range(1_000_000)], pa.binary())
small = pa.array([b"small-%d" % i for i in range(10)], pa.binary())
refused = {"add": 0, "table": 0}
other = []
rounds = small_adds = 0

def expect_refusal(error):
    if "in use by another thread" not in str(error):
        other.append(repr(error))

for rounds in range(1, 21):
    worker = threading.Thread(target=counts.add, args=(big, np.ones(len(big))))
    worker.start()
    while worker.is_alive():
        try:
            counts.add(small, np.ones(len(small)))
            small_adds += 1
        except RuntimeError as error:
            expect_refusal(error)
            refused["add"] += 1
        try:
            counts.table()
        except RuntimeError as error:
            expect_refusal(error)
            refused["table"] += 1
        except ValueError as error:  # an add() ended between len() and export(): no harm
            assert "do not fit" in str(error), error
    worker.join()
    if refused["add"] and refused["table"]:
        break
table = counts.table().to_pydict()
totals = dict(zip(table["key"], table["count"]))
print(json.dumps({"rounds": rounds, "refused": refused, "other": other,
                  "small_adds": small_adds, "rows": len(totals),
                  "big_counts": sorted(set(totals[b"big-%d" % i] for i in range(0, 10**6, 997))),
                  "small_counts": sorted(set(totals.get(b"small-%d" % i) or 0
                                             for i in range(10)))}))
"""


def test_a_table_in_use_refuses_other_threads() -> None:
    """add() counts without the GIL: another thread's add() or table() meanwhile is refused
    with an error, never let loose on the table (which corrupted the heap). The calls are
    made while the other add() is known to run (the adding thread is alive and has had the
    whole loop to start), and the test asserts that refusals really happened: a run where the
    threads never overlapped would prove nothing. It runs in a child process, so that a
    refusal that is missing (heap corruption, a crash) fails the test instead of pytest."""
    if hashing._kernels is None:
        pytest.skip("the C kernel is not built")
    done = subprocess.run([sys.executable, "-c", _CONCURRENT_USE], capture_output=True,
                          text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, f"exit {done.returncode}\n{done.stderr[-3000:]}"
    seen = json.loads(done.stdout)
    assert seen["refused"]["add"] >= 1 and seen["refused"]["table"] >= 1, seen
    assert seen["other"] == [], seen
    # Every big add() ran whole (one per round); refused calls counted nothing.
    assert seen["big_counts"] == [seen["rounds"]], seen
    assert seen["rows"] == 1_000_000 + (10 if seen["small_adds"] else 0), seen
    assert seen["small_counts"] == [seen["small_adds"]], seen
