"""Simulation: closed-form lag cases, scaling, consumer load, SLO search and the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from kafka.partitioner.default import murmur2 as kafka_python_murmur2

import partsim
from partsim.lag import simulate_lag

ROOT = Path(__file__).resolve().parents[1]
ORDERS = ROOT / "sample_data" / "orders.csv"


def hot_key_minute() -> pd.DataFrame:
    """One hot key at 1,000 msg/s for 60 s."""
    return pd.DataFrame({"k": ["hot"] * 60_000, "ts": np.arange(60_000) / 1000})


def test_single_hot_key_closed_form() -> None:
    # Backlog grows at 1,000 - 600 = 400 msg/s for 60 s, then drains at 600 msg/s.
    run = partsim.simulate(hot_key_minute(), key="k", timestamp="ts", partition_count=1,
                           consumer_capacity=600)  # fmt: skip
    s = run.summary
    assert s["max_lag_messages"] == pytest.approx(24_000)
    assert s["time_to_drain_seconds"] == pytest.approx(40)
    # The oldest unconsumed record at t=60 s arrived at 36 s; just before the drain ends at
    # 100 s the oldest waiting record arrived at ~60 s.
    lag = run.lag.set_index("time")["lag_seconds"]
    assert lag.iloc[59] == pytest.approx(24.0)
    assert s["max_lag_seconds"] == pytest.approx(39.6)
    assert s["consumers"] == [
        {"consumer": "consumer-0", "partitions": [0], "load_share": 1.0,
         "max_lag_messages": 24_000.0, "max_lag_seconds": pytest.approx(39.6)}
    ]  # fmt: skip


def test_lag_queue_directly() -> None:
    arrivals = np.zeros((100, 2))
    arrivals[:60, 0] = 1000
    arrivals[:60, 1] = 200
    # One consumer owns both: it shares 600/s in proportion to backlog.
    run = simulate_lag(arrivals, [[0, 1]], capacity=600.0)
    total = run.backlog.sum(axis=1)
    assert total.max() == pytest.approx(60 * 600)  # (1,200 - 600) x 60
    assert run.time_to_drain_seconds == pytest.approx(60)
    assert run.served.sum() == pytest.approx(arrivals.sum())
    # Enough capacity: no lag at all.
    assert simulate_lag(arrivals, [[0], [1]], capacity=1000.0).max_lag_messages == 0
    # Nobody consumes partition 1: it never drains.
    assert simulate_lag(arrivals, [[0]], capacity=2000.0).time_to_drain_seconds == float("inf")


def test_scaling_keeps_the_shape() -> None:
    frame = hot_key_minute()
    base = partsim.simulate(frame, key="k", timestamp="ts", partition_count=1,
                            consumer_capacity=10_000)  # fmt: skip
    doubled = partsim.simulate(frame, key="k", timestamp="ts", partition_count=1,
                               consumer_capacity=10_000, scale=2)  # fmt: skip
    to_rate = partsim.simulate(frame, key="k", timestamp="ts", partition_count=1,
                               consumer_capacity=10_000, rate="3000/s")  # fmt: skip
    assert doubled.summary["total_rate_messages_per_second"] == pytest.approx(2000)
    assert to_rate.summary["total_rate_messages_per_second"] == pytest.approx(3000)
    np.testing.assert_allclose(doubled.rates["messages_per_second"],
                               2 * base.rates["messages_per_second"])  # fmt: skip


def test_consumer_loads_follow_the_assignment() -> None:
    keys = [f"user-{i}" for i in range(600)]
    frame = pd.DataFrame({"k": keys * 10, "ts": np.arange(6000) / 100})
    run = partsim.simulate(frame, key="k", timestamp="ts", partition_count=12, consumers=5,
                           consumer_capacity=1000)  # fmt: skip
    per_partition = (
        np.bincount(
            [(kafka_python_murmur2(k.encode()) & 0x7FFFFFFF) % 12 for k in keys], minlength=12
        )
        * 10
    )
    expected_parts = [[0, 1, 2], [3, 4, 5], [6, 7], [8, 9], [10, 11]]  # range, 12 over 5
    consumers = run.summary["consumers"]
    assert [row["partitions"] for row in consumers] == expected_parts
    for row, parts in zip(consumers, expected_parts, strict=True):
        assert row["load_share"] == pytest.approx(per_partition[parts].sum() / 6000)


def test_slo_search() -> None:
    frame = pd.DataFrame(
        {"k": [f"k{i % 97}" for i in range(30_000)], "ts": np.arange(30_000) / 1000}
    )  # 1,000 msg/s for 30 s
    run = partsim.simulate(frame, key="k", timestamp="ts", partition_count=8, consumers=1,
                           consumer_capacity=400, max_lag_seconds=5)  # fmt: skip
    s = run.summary
    assert s["slo_met"] is False
    smallest = s["smallest_consumer_count"]["consumers"]
    assert smallest is not None and 3 <= smallest <= 8
    check = partsim.simulate(frame, key="k", timestamp="ts", partition_count=8,
                             consumers=smallest, consumer_capacity=400)  # fmt: skip
    assert check.summary["max_lag_seconds"] <= 5
    fewer = partsim.simulate(frame, key="k", timestamp="ts", partition_count=8,
                             consumers=smallest - 1, consumer_capacity=400)  # fmt: skip
    assert fewer.summary["max_lag_seconds"] > 5
    assert s["smallest_partition_count"]["partitions"] is not None


def test_without_timestamp_records_arrive_at_the_rate() -> None:
    frame = pd.DataFrame({"k": [f"k{i}" for i in range(5000)]})
    run = partsim.simulate(frame, key="k", partition_count=4, consumer_capacity=10_000,
                           rate=1000)  # fmt: skip
    assert run.summary["steps"] == 5
    assert run.summary["total_rate_messages_per_second"] == pytest.approx(1000)
    with pytest.raises(partsim.UsageError, match="needs event times"):
        partsim.simulate(frame, key="k", partition_count=4, consumer_capacity=10)


def test_keyless_records_use_the_clients_sticky_path() -> None:
    """librdkafka sticks to one partition for ``sticky.partitioning.linger.ms``, 10 ms by
    default (2 x ``linger.ms`` 5 ms: librdkafka CONFIGURATION.md; the real confluent-kafka
    2.16 gave runs of ~21 records / 10 ms at 2,000/s, shared/reference §14), whatever the
    sizes and batches. At 2,000 records/s in 1 ms steps, a 10 ms window then holds at most
    one switch: at most 2 partitions, and 2 in most windows (a re-pick differs 5 times in
    6). A per-record pick (random, round robin) puts ~6 partitions in a window, and stickier
    clients (Java's batch.size, franz-go's 64 KiB, a longer linger) ~1."""
    times = pd.to_datetime(np.arange(20_000) * 500, unit="us", utc=True)  # exact 0.5 ms
    frame = pd.DataFrame({"k": [None] * 20_000, "ts": times})
    run = partsim.simulate(frame, key="k", timestamp="ts", partition_count=6, step="1ms",
                           consumer_capacity=10_000, partitioner="confluent-kafka")  # fmt: skip
    assert run.summary["keyless_client"] == "librdkafka"
    assert run.summary["keyless_events"] == 20_000
    per_step = run.rates.pivot(index="time", columns="partition", values="messages_per_second")
    counts = np.rint(per_step.to_numpy() / 1000).astype(int)  # records per 1 ms step
    assert counts.shape == (10_000, 6) and (counts.sum(axis=1) == 2).all()
    windows = counts[10:].reshape(-1, 10, 6).sum(axis=1)  # 10 ms windows after the first
    used = (windows > 0).sum(axis=1)
    assert used.max() <= 2, np.bincount(used)
    assert 1.5 < used.mean() < 2.0, np.bincount(used)
    assert (windows.sum(axis=0) > 0).all()  # every partition gets some


def test_cli_simulate(tmp_path: Path) -> None:
    out = tmp_path / "sim"
    done = subprocess.run(
        [sys.executable, "-m", "partsim", "simulate", str(ORDERS), "--key", "customer_id",
         "-p", "12", "--timestamp", "ts", "--consumers", "4", "--consumer-capacity", "3",
         "--max-lag-seconds", "60", "--brokers", "3", "--out", str(out), "--json"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    for key in ("consumers", "max_lag_messages", "max_lag_seconds", "time_to_drain_seconds",
                "slo_met"):  # fmt: skip
        assert key in summary
    # Kafka's RangeAssignor: 12 partitions over 4 consumers, 3 each in order.
    consumers = summary["consumers"]
    assert [row["consumer"] for row in consumers] == [f"consumer-{i}" for i in range(4)]
    assert [row["partitions"] for row in consumers] == [[0, 1, 2], [3, 4, 5], [6, 7, 8],
                                                        [9, 10, 11]]  # fmt: skip
    # Each consumer's load share: its partitions' keyed orders (kafka-python's murmur2, the
    # Java rule) over all orders, plus at most the 87 null-key orders.
    frame = pd.read_csv(ORDERS, dtype=str, keep_default_na=False)
    keyed = frame.loc[frame["customer_id"] != "", "customer_id"]
    placed = [(kafka_python_murmur2(key.encode()) & 0x7FFFFFFF) % 12 for key in keyed]
    per_partition = np.bincount(placed, minlength=12) / len(frame)
    keyless = (len(frame) - len(keyed)) / len(frame)
    for row in consumers:
        share = per_partition[row["partitions"]].sum()
        assert share - 1e-12 <= row["load_share"] <= share + keyless + 1e-12, row
    assert sum(row["load_share"] for row in consumers) == pytest.approx(1.0)
    expected = {"simulation.json", "rates.csv", "lag.csv", "consumers.csv", "brokers.csv",
                "lag.png", "consumers.png", "brokers.png"}  # fmt: skip
    assert expected <= {p.name for p in out.iterdir()}
    bad = subprocess.run(
        [sys.executable, "-m", "partsim", "simulate", str(ORDERS), "--key", "customer_id",
         "-p", "12", "--timestamp", "ts", "--consumer-capacity", "fast"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1
    assert "--consumer-capacity must be a rate" in bad.stderr


def test_consumer_lag_is_the_sum_of_its_partitions() -> None:
    frame = pd.DataFrame({"k": [f"k{i % 50}" for i in range(20_000)],
                          "ts": np.arange(20_000) / 1000})  # fmt: skip
    run = partsim.simulate(frame, key="k", timestamp="ts", partition_count=6, consumers=2,
                           consumer_capacity=300)  # fmt: skip
    per_partition = run.lag.pivot(index="time", columns="partition", values="lag_messages")
    per_consumer = run.consumer_lag.pivot(index="time", columns="consumer", values="lag_messages")
    for row in run.summary["consumers"]:
        np.testing.assert_allclose(per_consumer[row["consumer"]],
                                   per_partition[row["partitions"]].sum(axis=1))  # fmt: skip


def test_broker_latency_needs_one_value_per_partition() -> None:
    with pytest.raises(partsim.UsageError, match="one latency per partition"):
        partsim.simulate(hot_key_minute(), key="k", timestamp="ts", partition_count=3,
                         consumer_capacity=600, adaptive=True,
                         broker_latency_ms=[0, 50])  # fmt: skip


def test_librdkafka_random_sends_only_null_keys_down_the_sticky_path() -> None:
    """librdkafka's ``random`` partitioner ignores keys, but rd_kafka_msg_partitioner gives
    only NULL keys the sticky path; keyed records are random one by one (shared/reference
    §3). So of 6,000 keyed and 2,000 null-key records only the 2,000 are keyless, and each
    10 ms step (20 records at 2,000/s) spreads over most partitions."""
    count = 8_000
    keys = [None if i % 4 == 0 else f"k{i}" for i in range(count)]
    times = pd.to_datetime(np.arange(count) * 500, unit="us", utc=True)
    run = partsim.simulate(pd.DataFrame({"k": keys, "ts": times}), key="k", timestamp="ts",
                           partition_count=6, step="10ms", consumer_capacity=10_000,
                           partitioner="librdkafka:random")  # fmt: skip
    assert run.summary["keyless_events"] == count // 4
    assert run.summary["keyless_client"] == "librdkafka"
    per_step = run.rates.pivot(index="time", columns="partition", values="messages_per_second")
    used = (per_step.to_numpy() > 0).sum(axis=1)
    # 20 records per 10 ms: 15 keyed ones at random cover ~5.5 of 6 partitions; the sticky
    # path alone would put the step's records on 1 or 2.
    assert used.mean() > 4.5


def _long_span() -> pd.DataFrame:
    """40,000 events over 10 days (21.6 s apart) on 200 keys, placed by kafka-python's
    murmur2 below: at 1 s steps over 48 partitions, 864,000 x 48 cells."""
    rng = np.random.default_rng(3)
    keys = [f"k{n}" for n in rng.zipf(1.3, 40_000) % 200]
    return pd.DataFrame({"k": keys, "ts": 1.7e9 + np.arange(40_000) * 21.6})


def test_a_long_span_widens_the_step_to_keep_the_series_bounded() -> None:
    """Past MAX_STEP_CELLS steps x partitions the step doubles until the series fits: the
    result is the simulation at the widened step, as if it had been asked for, and every
    event is still counted on its own key's partition (kafka-python's murmur2)."""
    from partsim.outputs import format_simulation
    from partsim.simulation import MAX_STEP_CELLS

    frame = _long_span()
    options = dict(key="k", timestamp="ts", partition_count=48, consumers=4,
                   consumer_capacity=0.05)  # fmt: skip
    run = partsim.simulate(frame, **options)
    s = run.summary
    widened = s["step_widened"]
    assert widened["asked_seconds"] == 1.0
    # 864,000 s x 48 partitions: 32 s steps take 1,296,000 cells, 64 s the first that fit
    # in 1M (13,500 x 48).
    assert s["step_seconds"] == widened["step_seconds"] == 64.0
    assert s["steps"] * 48 <= MAX_STEP_CELLS
    expected = np.bincount(
        [(kafka_python_murmur2(k.encode()) & 0x7FFFFFFF) % 48 for k in frame["k"]],
        minlength=48,
    )
    sent = run.rates.groupby("partition")["messages_per_second"].sum() * 64.0
    assert np.allclose(sent.reindex(range(48), fill_value=0).to_numpy(), expected)
    assert "step 64 s, not 1 s: the input spans" in format_simulation(run)
    asked = partsim.simulate(frame, step="64s", **options).summary
    assert "step_widened" not in asked
    for name in ("steps", "max_lag_messages", "max_lag_seconds", "time_to_drain_seconds",
                 "consumers", "peak_to_mean"):  # fmt: skip
        assert s[name] == asked[name], name


def test_a_short_span_keeps_the_step_asked_for() -> None:
    run = partsim.simulate(hot_key_minute(), key="k", timestamp="ts", partition_count=1,
                           consumer_capacity=600)  # fmt: skip
    assert run.summary["step_seconds"] == 1.0 and "step_widened" not in run.summary


def test_a_widened_step_holds_for_the_partition_count_search() -> None:
    """The candidate counts of --max-lag-seconds are simulated at the widened step too: the
    search gives what it gives when that step is asked for."""
    frame = _long_span()
    options = dict(key="k", timestamp="ts", partition_count=48, consumers=2,
                   consumer_capacity=0.02, max_lag_seconds=600,
                   partition_candidates=[8, 48, 96])  # fmt: skip
    widened = partsim.simulate(frame, **options).summary
    asked = partsim.simulate(frame, step="64s", **options).summary
    assert widened["step_seconds"] == 64.0
    assert widened["smallest_partition_count"] == asked["smallest_partition_count"]
    assert widened["smallest_consumer_count"] == asked["smallest_consumer_count"]
