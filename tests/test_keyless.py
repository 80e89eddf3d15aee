"""Keyless placement over time: closed-form run lengths, and per-record transcriptions of the
clients' source as independent references (shared/reference/partitioners.md §1.3-1.6, §3,
§6-8, §11).

The simulator steps over runs of records with binary searches; the references below step
over single records exactly as the cited Java, franz-go and librdkafka code does, taking the
new partition of each pick from the simulator (random draws cannot be shared), so the two
must agree on where every switch happens.
"""

from __future__ import annotations

import numpy as np
import pytest

from partsim.errors import DataError, UsageError
from partsim.keyless import (
    BATCH_HEADER_BYTES,
    FRANZ_STICKY_BYTES,
    KEYLESS_CLIENTS,
    ProducerConfig,
    _simulate,
    imbalance,
    simulate_keyless,
    v2_record_bytes,
    window_loads,
)

HEADER = BATCH_HEADER_BYTES
BATCH = 16384


def steady(count: int, rate: float) -> np.ndarray:
    """Send times of ``count`` records at ``rate`` records per second."""
    return np.arange(count) / rate


def run_lengths(starts: np.ndarray, count: int) -> np.ndarray:
    return np.diff(np.append(starts, count))


def bursty(count: int, seed: int, *, oversized: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Bursts (~20 us apart) broken by pauses (~20 ms), and sizes from 20 B to 3 KB."""
    rng = np.random.default_rng(seed)
    pause = rng.random(count) < 0.02
    gaps = np.where(pause, rng.exponential(0.02, count), rng.exponential(0.00002, count))
    sizes = rng.integers(20, 3000, count)
    if oversized:
        big = rng.random(count) < 0.01
        sizes[big] = rng.integers(BATCH - 100, 3 * BATCH, big.sum())
    return np.cumsum(gaps), sizes


# ------------------------------------------------ the accumulator, record by record
def varint(value: int) -> int:
    """``ByteUtils.sizeOfVarlong``: bytes of the zig-zag varint of ``value``."""
    zigzag = (value << 1) ^ (value >> 63)
    length = 1
    while zigzag >= 0x80:
        zigzag >>= 7
        length += 1
    return length


def record_bytes(value: int, offset_delta: int, timestamp_delta: int) -> int:
    """``DefaultRecord.sizeInBytes`` with a null key and no headers."""
    body = 1 + varint(timestamp_delta) + varint(offset_delta) + 1 + varint(value) + value + 1
    return body + varint(body)


class Reference:
    """``RecordAccumulator`` and ``Sender`` (Java 4.x, kafka-python 3.0.12 where noted), one
    record at a time, written from the source independently of ``partsim.keyless``."""

    def __init__(self, times, sizes, partition_count, config, *, drains=None, python=False):
        self.now = (np.rint(np.asarray(times) * 1e6).astype(np.int64) // 1000).tolist()
        self.values = np.broadcast_to(np.asarray(sizes), (len(self.now),)).tolist()
        self.config = config
        self.queues: list[list[dict]] = [[] for _ in range(partition_count)]
        self.leader = list(config.leaders or range(partition_count))
        self.latency = list(config.broker_latency_ms or [0.0] * partition_count)
        self.drains = None if drains is None else set(drains)
        self.python = python

    def full(self, batch: dict) -> bool:  # MemoryRecordsBuilder.isFull
        return batch["closed"] or batch["size"] >= batch["limit"]

    def ready_at(self, partition: int) -> float:
        """When the partition's first batch is sendable (``partitionReady``)."""
        queue = self.queues[partition]
        first = queue[0]
        ready = first["created"] + self.config.linger_ms
        if self.full(first):
            ready = min(ready, first["full_at"])
        if len(queue) > 1:
            ready = min(ready, queue[1]["created"])
        return ready + self.latency[partition]

    def run(self, when: float) -> None:
        """The sender at ``when``: drain every broker with a ready partition, while any."""
        while True:
            ready = {
                self.leader[partition]
                for partition, queue in enumerate(self.queues)
                if queue and self.ready_at(partition) <= when
            }
            if not ready:
                return
            for partition, queue in enumerate(self.queues):
                if queue and self.leader[partition] in ready:
                    queue.pop(0)  # drainBatchesForOneNode: the first batch of each partition

    def before(self, index: int) -> None:
        """What the sender did before record ``index`` arrived."""
        if self.drains is not None:
            if index in self.drains:
                for queue in self.queues:
                    if queue:
                        queue.pop(0)
            return
        while True:
            times = [self.ready_at(p) for p, queue in enumerate(self.queues) if queue]
            if not times or min(times) > self.now[index]:
                return
            self.run(min(times))

    def wake(self, partition: int, index: int) -> None:
        """``sender.wakeup()`` when the append made a new batch or a full one."""
        queue = self.queues[partition]
        if self.drains is None and (len(queue) > 1 or self.full(queue[-1]) or queue[-1]["n"] == 1):
            self.run(self.now[index])

    def try_append(self, partition: int, index: int) -> int:
        """``tryAppend``: the bytes added to the last batch, or 0 (closing it, in Java)."""
        queue = self.queues[partition]
        if not queue:
            return 0
        last, now = queue[-1], self.now[index]
        if self.full(last):
            return 0
        added = record_bytes(self.values[index], last["n"], now - last["created"])
        if last["size"] + added > last["limit"]:
            if not self.python:
                last.update(closed=True, full_at=now)  # closeForRecordAppends
            return 0
        last["size"] += added
        last["n"] += 1
        if self.full(last):
            last["full_at"] = now
        return added

    def new_batch(self, partition: int, index: int) -> int:
        value, now = self.values[index], self.now[index]
        size = HEADER + record_bytes(value, 0, 0)
        # estimateSizeInBytesUpperBound: header + MAX_RECORD_OVERHEAD (21) + key, value, headers
        upper = HEADER + 21 + 1 + varint(value) + value + 1
        limit = self.config.batch_size if self.python else max(self.config.batch_size, upper)
        batch = {"created": now, "n": 1, "size": size, "limit": limit, "closed": False}
        batch["full_at"] = now
        self.queues[partition].append(batch)
        return size


def reference_uniform_sticky(times, sizes, partitions, config, *, drains=None):
    """``RecordAccumulator.append`` + ``BuiltInPartitioner.updatePartitionInfo``, per record.
    New picks take the simulator's partition. Returns the placements, the run starts and
    ``producedBytes`` at each switch.
    """
    state = Reference(times, sizes, 6, config, drains=drains)
    switch_at = max(1, config.batch_size)
    out, starts, produced_at_switch = [], [0], []
    sticky, produced = int(partitions[0]), 0
    count = len(state.now)

    def switch(at: int) -> None:
        nonlocal sticky, produced
        produced_at_switch.append(produced)
        sticky, produced = int(partitions[at]), 0
        starts.append(at)

    for i in range(count):
        state.before(i)
        while True:
            queue = state.queues[sticky]
            if produced >= switch_at and (not queue or state.full(queue[-1])):
                switch(i)  # partitionChanged
                continue
            appended = state.try_append(sticky, i)
            if appended:
                break
            if produced >= switch_at:  # partitionChanged after the failed tryAppend closed it
                switch(i)
                continue
            appended = state.new_batch(sticky, i)
            break
        produced += appended
        out.append(sticky)
        queue = state.queues[sticky]
        enable_switch = state.full(queue[-1])
        appended_to = sticky
        if (produced >= switch_at and enable_switch) or produced >= 2 * switch_at:
            if i + 1 < count:
                switch(i + 1)
            else:
                produced_at_switch.append(produced)
        state.wake(appended_to, i)
    return np.array(out), np.array(starts), produced_at_switch


# ---------------------------------------------------------------- Java >= 3.3 (§1.3)
def test_v2_record_bytes_follow_the_varint_widths() -> None:
    for value in (0, 1, 57, 58, 100, 8100, 2 * BATCH):
        for offset_delta in (0, 63, 64, 8191, 8192):
            for timestamp_delta in (0, 63, 64, 8191, 8192, 10**7):
                got = v2_record_bytes(value, offset_delta, timestamp_delta)
                assert got == record_bytes(value, offset_delta, timestamp_delta)
    assert v2_record_bytes(100) == 109


def test_java_high_rate_runs_are_two_full_batches() -> None:
    # A 100-byte record takes 109 bytes at offset deltas 0-63, 110 after: a batch holds 148
    # (61 + 64 x 109 + 84 x 110 = 16277 bytes), less than batch.size, so the switch waits for
    # the second batch to fill. The 297th record does not fit, closes it and (producedBytes
    # 32554 >= 16384) moves.
    count = 20_000
    config = ProducerConfig(linger_ms=1000)
    runs = _simulate("java", steady(count, 1e6), 100, 12, config=config, seed=3)
    batch_bytes = HEADER + 64 * 109 + 84 * 110
    assert batch_bytes == 16277 and batch_bytes + 110 > BATCH
    lengths = run_lengths(runs.starts, count)
    assert (lengths[:-1] == 2 * 148).all()


def test_java_batch_of_4k_holds_37_records() -> None:
    # 4096 bytes: (4096 - 61) // 109 = 37 records (4094 bytes); a constant 10-byte overhead
    # (110 per record) would fit 36. Two batches make a run: 74 records.
    config = ProducerConfig(linger_ms=1000, batch_size=4096)
    runs = _simulate("java", steady(5000, 1e6), 100, 12, config=config, seed=3)
    assert (HEADER + 37 * 109 <= 4096 < HEADER + 38 * 109) and HEADER + 37 * 110 > 4096
    assert (run_lengths(runs.starts, 5000)[:-1] == 74).all()


def test_java_switches_after_one_batch_when_it_fills_exactly() -> None:
    batch_size = HEADER + 64 * 109 + 84 * 110  # 16277: the 148th record makes it full
    config = ProducerConfig(linger_ms=1000, batch_size=batch_size)
    runs = _simulate("java", steady(5000, 1e6), 100, 12, config=config, seed=3)
    assert (run_lengths(runs.starts, 5000)[:-1] == 148).all()


def test_java_low_rate_switches_at_batch_size_once_linger_sent_the_batch() -> None:
    # One record per ms, linger 5 ms: batches of 5 records (606 bytes) sent by linger. The
    # switch is deferred while a batch is open and completes at the first record after
    # producedBytes >= batch.size finds the deque empty: ceil(16384 / 606) = 28 batches.
    # (The 2x cap never binds with keyless records alone: a deferred switch completes when
    # that batch is sent or full, and one batch adds at most batch.size.)
    count = 5000
    runs = _simulate("java", steady(count, 1000), 100, 12, config=ProducerConfig(linger_ms=5))
    batch_bytes = HEADER + 5 * 109
    batches = -(-BATCH // batch_bytes)
    assert batches == 28
    assert (run_lengths(runs.starts, count)[:-1] == 5 * batches).all()


def test_java_linger_zero_switches_once_batch_size_is_produced() -> None:
    # Every record opens (and the sender drains) its own 170-byte batch: 97 records make
    # 16490 >= 16384 bytes, and the 98th finds the deque empty and moves.
    count = 3000
    runs = _simulate("java", steady(count, 100), 100, 12, config=ProducerConfig(linger_ms=0))
    assert (run_lengths(runs.starts, count)[:-1] == -(-BATCH // (HEADER + 109))).all()


def test_java_record_of_twice_batch_size_switches_after_itself() -> None:
    runs = _simulate("java", steady(50, 1000), 2 * BATCH, 6, config=ProducerConfig())
    assert runs.starts.tolist() == list(range(50))


def test_java_one_broker_sends_the_young_batch_with_the_full_one() -> None:
    # linger 1000 ms, 4 KiB batches, one broker: when the second batch of a run fills and the
    # partition switches, the sender drains that full batch and, on the same broker, the new
    # partition's one-record batch (the first batch of its deque), so the new run is 1 + 37
    # records. A pick of the same partition leaves its new batch second in the deque, so
    # that run keeps it: 74, as every run does with a broker per partition.
    config = ProducerConfig(linger_ms=1000, batch_size=4096, leaders=[0] * 12)
    runs = _simulate("java", steady(5000, 1e6), 100, 12, config=config, seed=1)
    lengths = run_lengths(runs.starts, 5000)[:-1]
    repeated = runs.partitions[runs.starts[1:-1]] == runs.partitions[runs.starts[1:-1] - 1]
    assert lengths[0] == 74 and repeated.any() and not repeated.all()
    assert (lengths[1:] == np.where(repeated, 74, 38)).all()


@pytest.mark.parametrize("linger_ms", [0, 5, 100])
@pytest.mark.parametrize("oversized", [False, True])
@pytest.mark.parametrize("leaders", [None, [0, 0, 0, 1, 1, 2]])
def test_java_matches_per_record_transcription(linger_ms: float, oversized: bool, leaders) -> None:
    times, sizes = bursty(20_000, seed=linger_ms, oversized=oversized)
    config = ProducerConfig(linger_ms=linger_ms, leaders=leaders)
    runs = _simulate("java", times, sizes, 6, config=config, seed=11)
    expected, starts, produced = reference_uniform_sticky(times, sizes, runs.partitions, config)
    assert runs.starts.tolist() == starts.tolist()
    assert np.array_equal(runs.partitions, expected)
    produced = np.array(produced)
    assert (produced >= BATCH).all()
    if not oversized:
        assert (produced < 2 * BATCH).all()


def test_java_with_measured_drains_matches_per_record_transcription() -> None:
    times, sizes = bursty(20_000, seed=3)
    drains = np.unique(np.random.default_rng(5).integers(1, 20_000, 400))
    config = ProducerConfig(linger_ms=5, batch_size=4096)
    runs = _simulate("java", times, sizes, 6, config=config, seed=2, sender_drains=drains)
    expected, starts, _ = reference_uniform_sticky(
        times, sizes, runs.partitions, config, drains=drains.tolist()
    )
    assert runs.starts.tolist() == starts.tolist()
    assert np.array_equal(runs.partitions, expected)


def test_java_replay_takes_the_given_picks() -> None:
    times = steady(3000, 2000)
    config = ProducerConfig(linger_ms=5, batch_size=4096)
    runs = _simulate("java", times, 100, 12, config=config, seed=1)
    replayed = _simulate("java", times, 100, 12, config=config, replay_picks=runs.partitions)
    assert np.array_equal(replayed.partitions, runs.partitions)


def test_java_new_pick_may_repeat_the_old_partition() -> None:
    runs = _simulate("java", steady(50_000, 1e6), 100, 2, config=ProducerConfig(linger_ms=1000))
    before = runs.partitions[runs.starts[1:] - 1]
    after = runs.partitions[runs.starts[1:]]
    assert (before == after).any() and (before != after).any()


# ------------------------------------------------------------- Java 2.4 - 3.2 (§1.4)
def reference_sticky_cache(times, sizes, partitions, config):
    """``DefaultPartitioner``/``StickyPartitionCache`` with ``abortOnNewBatch``, per record."""
    state = Reference(times, sizes, 3, config)
    out, starts, sticky = [], [], None
    for i in range(len(state.now)):
        state.before(i)
        if sticky is None or not state.try_append(sticky, i):
            previous, sticky = sticky, int(partitions[i])  # onNewBatch, partition() again
            assert sticky != previous
            starts.append(i)
            state.try_append(sticky, i) or state.new_batch(sticky, i)
        out.append(sticky)
        state.wake(sticky, i)
    return np.array(out), np.array(starts)


def test_java_2_4_runs_are_one_batch_at_high_rate() -> None:
    count = 20_000
    runs = _simulate("java-2.4", steady(count, 1e6), 100, 12, config=ProducerConfig(linger_ms=1e3))
    assert (run_lengths(runs.starts, count)[:-1] == 148).all()


def test_java_2_4_runs_are_one_linger_at_low_rate() -> None:
    runs = _simulate("java-2.4", steady(1000, 1000), 100, 12, config=ProducerConfig(linger_ms=5))
    assert (run_lengths(runs.starts, 1000) == 5).all()


@pytest.mark.parametrize("linger_ms", [0, 5, 100])
def test_java_2_4_matches_per_record_transcription(linger_ms: float) -> None:
    times, sizes = bursty(20_000, seed=7 + linger_ms, oversized=True)
    config = ProducerConfig(linger_ms=linger_ms)
    runs = _simulate("java-2.4", times, sizes, 3, config=config, seed=5)
    expected, starts = reference_sticky_cache(times, sizes, runs.partitions, config)
    assert runs.starts.tolist() == starts.tolist()
    assert np.array_equal(runs.partitions, expected)
    # Never the previous partition (N >= 2): every run start changes partition.
    assert (runs.partitions[runs.starts[1:]] != runs.partitions[runs.starts[1:] - 1]).all()


def test_java_2_4_slow_partition_gets_more_records() -> None:
    # KAFKA-10888: a partition whose batches wait longer collects bigger batches.
    config = ProducerConfig(linger_ms=5, broker_latency_ms=[0, 0, 0, 50])
    got = simulate_keyless("java-2.4", steady(50_000, 1e4), 100, 4, config=config, seed=1)
    counts = np.bincount(got, minlength=4)
    assert counts[3] > 2 * counts[:3].mean()


# ------------------------------------------------- Java adaptive partitioning (§1.3)
def test_java_adaptive_avoids_the_slow_partition() -> None:
    times = steady(100_000, 1e5)
    slow = ProducerConfig(broker_latency_ms=[0, 0, 0, 200])
    plain = np.bincount(simulate_keyless("java", times, 100, 4, config=slow, seed=2), None, 4)
    adaptive = ProducerConfig(broker_latency_ms=[0, 0, 0, 200], adaptive=True)
    weighted = np.bincount(
        simulate_keyless("java", times, 100, 4, config=adaptive, seed=2), None, 4
    )
    assert weighted[3] < 0.5 * weighted.mean()
    assert weighted[3] < 0.5 * plain[3]


def test_java_adaptive_waits_for_every_partition_to_have_a_deque() -> None:
    # An unavailable partition never gets a batch, so load stats are never built.
    times = steady(50_000, 1e5)
    available = [0, 1, 2]
    slow = ProducerConfig(broker_latency_ms=[0, 0, 200, 0])
    adaptive = ProducerConfig(broker_latency_ms=[0, 0, 200, 0], adaptive=True)
    assert np.array_equal(
        simulate_keyless("java", times, 100, 4, config=slow, seed=4, available=available),
        simulate_keyless("java", times, 100, 4, config=adaptive, seed=4, available=available),
    )


# ---------------------------------------------- Java RoundRobinPartitioner (§1.6)
def test_round_robin_linger_zero_uses_every_other_partition() -> None:
    # KAFKA-9965: each record opens a batch, so partition() runs twice: c+1, c+3, ...
    count = 1200
    got = simulate_keyless(
        "java-round-robin", steady(count, 100), 100, 12, config=ProducerConfig(linger_ms=0)
    )
    assert got.tolist() == [(2 * i + 1) % 12 for i in range(count)]
    assert np.count_nonzero(np.bincount(got, minlength=12)) == 6


def test_round_robin_odd_partition_count_reaches_all_at_low_rate() -> None:
    got = simulate_keyless(
        "java-round-robin", steady(700, 100), 100, 7, config=ProducerConfig(linger_ms=0)
    )
    assert got.tolist() == [(2 * i + 1) % 7 for i in range(700)]


def test_round_robin_open_batches_do_not_rescue_an_even_count() -> None:
    # The first call of every record reads an even counter, so with an even count it always
    # lands on an even partition that has no batch, and the record moves to the odd one after.
    # Even partitions never get a batch, at any rate.
    config = ProducerConfig(linger_ms=1000)
    got = simulate_keyless("java-round-robin", steady(12_000, 1e6), 100, 12, config=config)
    assert set(got.tolist()) == {1, 3, 5, 7, 9, 11}
    # Odd count, batches open with room: calls 0->1, 2->3, 4->5, 6->0 open batches on 1, 3,
    # 5, 0; then 8%7=1 hits, 9%7=2 skips to 3, 11%7=4 to 5, 13%7=6 to 0, 15%7=1 hits ... until
    # the batches fill (148 records each) and a closed batch sends a record on to 2, 4 or 6.
    got = simulate_keyless("java-round-robin", steady(7000, 1e6), 100, 7, config=config)
    assert got[:400].tolist() == [1, 3, 5, 0] * 100
    assert set(got.tolist()) == set(range(7))


def test_round_robin_first_call_that_finds_an_open_batch_takes_one_counter_value() -> None:
    config = ProducerConfig(linger_ms=1000)
    got = simulate_keyless("java-round-robin", steady(3, 1e6), 100, 3, config=config)
    assert got.tolist() == [1, 0, 1]  # 0->1 (new), 2->0 (new), 4%3=1 hits


# ----------------------------------------------------------- Java < 2.4, kafkajs
def test_java_legacy_and_kafkajs_are_exact_round_robin() -> None:
    for client in ("java-legacy", "kafkajs"):
        got = simulate_keyless(client, steady(10_000, 1e4), 100, 12, seed=9)
        assert ((np.diff(got) % 12) == 1).all(), client
        assert np.ptp(np.bincount(got, minlength=12)) <= 1


def test_kafkajs_round_robin_over_available_partitions() -> None:
    got = simulate_keyless("kafkajs", steady(9, 1), 100, 8, available=[2, 5, 7], seed=1)
    assert got.tolist() == (got[:3].tolist() * 3)
    assert sorted(got[:3].tolist()) == [2, 5, 7]


# ------------------------------------------------------------------ librdkafka (§3)
def test_librdkafka_runs_last_sticky_linger() -> None:
    # §11: one record every 0.5 ms, default linger 5 ms -> sticky 10 ms -> runs of 21 records.
    count = 2000
    times = steady(count, 2000)
    config = ProducerConfig(cold_start_ms=0)
    runs = _simulate("librdkafka", times, 100, 12, config=config, seed=1)
    assert runs.starts.tolist() == list(range(0, count, 21))
    ends = np.append(runs.starts[1:], count) - 1
    assert np.allclose(times[ends[:-1]] - times[runs.starts[:-1]], 0.010)
    # sticky.partitioning.linger.ms=100 -> ~200 records (201: both ends of 100 ms).
    long = ProducerConfig(cold_start_ms=0, sticky_linger_ms=100)
    runs = _simulate("librdkafka", times, 100, 12, config=long, seed=1)
    assert (run_lengths(runs.starts, count)[:-1] == 201).all()


def test_librdkafka_sticky_linger_zero_draws_per_record() -> None:
    config = ProducerConfig(sticky_linger_ms=0)
    runs = _simulate("librdkafka", steady(1000, 2000), 100, 12, config=config)
    assert runs.starts.tolist() == list(range(1000))


def test_librdkafka_cold_start_spray() -> None:
    # Records sent within cold_start_ms of the first each draw; the last of them (2.0 ms,
    # record 4, for the default 2.5 ms) fires the interval and sticks until the first record
    # more than 10 ms later (12.5 ms, record 25). At 20,000/s the same 2.5 ms sprays 50.
    count = 200
    runs = _simulate("librdkafka", steady(count, 2000), 100, 100, seed=0)
    assert runs.starts.tolist() == [*range(5), *range(25, count, 21)]
    assert len(set(runs.partitions[:5].tolist())) >= 4
    fast = _simulate("librdkafka", steady(count, 20_000), 100, 100, seed=0)
    assert fast.starts.tolist() == list(range(50))  # then 150 records in 7.5 ms: one run
    slow = _simulate("librdkafka", steady(count, 2000), 100, 100, seed=0,
                     config=ProducerConfig(cold_start_ms=30))  # fmt: skip
    assert slow.starts.tolist()[:61] == [*range(60), 80]
    with pytest.raises(UsageError, match="cold_start_ms"):
        ProducerConfig(cold_start_ms=-1)


def reference_librdkafka(times, partitions, config, available):
    """``rd_kafka_msg_sticky_partition`` per record: starts of new picks."""
    now = np.rint(np.asarray(times) * 1e6).astype(np.int64).tolist()
    interval = config.effective_sticky_linger_ms * 1000
    joined = now[0] + round(config.cold_start_ms * 1000)
    starts, last, sticky = [], 0, None
    for i, t in enumerate(now):
        # Unavailable sticky partition -> rd_interval_expedite: the interval fires at once.
        expedite = sticky is None or t < joined or not available[sticky]
        if expedite or t - (last + interval) > 0:
            last, sticky = t, int(partitions[i])
            starts.append(i)
    return starts


def test_librdkafka_matches_per_record_transcription() -> None:
    times, sizes = bursty(20_000, seed=2)
    available = np.ones(8, dtype=bool)
    available[[1, 2, 6]] = False
    runs = _simulate("librdkafka", times, sizes, 8, seed=3, available=available)
    config = ProducerConfig()
    assert runs.starts.tolist() == reference_librdkafka(times, runs.partitions, config, available)
    # Draws cover all partitions (re-drawn once); an unavailable pick lasts one record.
    unavailable = ~available[runs.partitions]
    assert unavailable.any()
    lengths = run_lengths(runs.starts, len(times))
    assert (lengths[unavailable[runs.starts]] == 1).all()


# ------------------------------------------------------------------- kafka-python (§8)
def reference_kafka_python(times, sizes, picks, config, *, drains=None):
    """``KafkaProducer.send`` per record with ``abort_on_new_batch``: the first pick keeps the
    record if its last batch has room; else the second pick takes it (its last batch, or a
    new one). A batch a record did not fit stays open. ``picks`` yields the uniform draws.
    """
    state = Reference(times, sizes, 12, config, drains=drains, python=True)
    out = []
    for i in range(len(state.now)):
        state.before(i)
        partition = next(picks)
        if not state.try_append(partition, i):
            partition = next(picks)
            state.try_append(partition, i) or state.new_batch(partition, i)
        out.append(partition)
        state.wake(partition, i)
    return out


@pytest.mark.parametrize("leaders", [None, [0] * 12])
def test_kafka_python_matches_per_record_transcription(leaders) -> None:
    times, sizes = bursty(5000, seed=9)
    config = ProducerConfig(linger_ms=5, leaders=leaders)
    got = simulate_keyless("kafka-python", times, sizes, 12, config=config, seed=4)
    # The simulator's uniform draws, replayed: toPositive(nextInt()) % 12 in blocks of 1024.
    draws = np.random.default_rng(4).integers(0, 2**31, size=20_000) % 12
    assert got.tolist() == reference_kafka_python(times, sizes, iter(draws.tolist()), config)
    drains = list(range(0, 5000, 7))
    got = simulate_keyless(
        "kafka-python", times, sizes, 12, config=config, seed=4, sender_drains=drains
    )
    expected = reference_kafka_python(times, sizes, iter(draws.tolist()), config, drains=drains)
    assert got.tolist() == expected


def test_kafka_python_second_pick_leans_to_open_batches() -> None:
    # 2,000 records/s, 12 partitions, linger 5 ms, one broker (every partition's batch sent
    # together when the oldest is 5 ms old): P(same) well above 1/12.
    times = steady(20_000, 2000)
    config = ProducerConfig(linger_ms=5, leaders=[0] * 12)
    got = simulate_keyless("kafka-python", times, 100, 12, config=config, seed=3)
    same = float(np.mean(got[1:] == got[:-1]))
    assert 0.11 < same < 0.16
    plain = simulate_keyless("random", times, 100, 12, seed=3)
    assert abs(float(np.mean(plain[1:] == plain[:-1])) - 1 / 12) < 0.01


def test_random_is_uniform() -> None:
    count, partitions = 100_000, 12
    got = simulate_keyless("random", steady(count, 1e4), 100, partitions, seed=2024)
    observed = np.bincount(got, minlength=partitions)
    expected = count / partitions
    chi_square = ((observed - expected) ** 2 / expected).sum()
    assert chi_square < 45  # 11 degrees of freedom: p < 1e-5 beyond this


# ----------------------------------------------------------------------- franz-go (§7)
def franz_estimate(size: int) -> int:
    zigzag = 2 * size
    varint = 1 + sum(zigzag >= 1 << bits for bits in (7, 14, 21, 28))
    return 3 + 1 + varint + size + 1


def test_franz_go_switches_on_the_crossing_record() -> None:
    # 100-byte values are estimated at 107 bytes; after 612 records the count is 65484, the
    # 613th (index 612) reaches 65591 >= 65536 and is the first record of the new partition.
    assert franz_estimate(100) == 107
    count = 5000
    runs = _simulate("franz-go", steady(count, 1e4), 100, 12, seed=8)
    assert runs.starts.tolist() == list(range(0, count, 612))
    assert 612 * 107 < FRANZ_STICKY_BYTES <= 613 * 107


def test_franz_go_matches_per_record_transcription() -> None:
    times, sizes = bursty(20_000, seed=4, oversized=True)
    runs = _simulate("franz-go", times, sizes, 5, seed=2)
    starts, counted = [], 0
    for i, size in enumerate(sizes.tolist()):
        counted += franz_estimate(size)
        if counted >= FRANZ_STICKY_BYTES:
            counted = franz_estimate(size)
            starts.append(i)
        elif i == 0:
            starts.append(0)
    assert runs.starts.tolist() == starts


# ----------------------------------------------------------- every client, every input
@pytest.mark.parametrize("client", sorted(KEYLESS_CLIENTS))
def test_in_range_deterministic_and_fast_enough(client: str) -> None:
    times, sizes = bursty(100_000, seed=1)
    for count in (1, 7, 12):
        got = simulate_keyless(client, times, sizes, count, seed=5)
        assert got.dtype == np.int32 and got.shape == times.shape
        assert ((got >= 0) & (got < count)).all()
        assert np.array_equal(got, simulate_keyless(client, times, sizes, count, seed=5))
    assert simulate_keyless(client, [], [], 3).shape == (0,)


@pytest.mark.parametrize("client", sorted(set(KEYLESS_CLIENTS) - {"librdkafka"}))
def test_available_restricts_picks(client: str) -> None:
    times, sizes = bursty(20_000, seed=6)
    mask = np.zeros(8, dtype=bool)
    mask[[1, 4, 6]] = True
    got = simulate_keyless(client, times, sizes, 8, available=mask, seed=1)
    assert set(got.tolist()) <= {1, 4, 6}
    assert np.array_equal(
        got, simulate_keyless(client, times, sizes, 8, available=[6, 1, 4], seed=1)
    )
    # None available: every client falls back to all partitions.
    none = simulate_keyless(client, times, sizes, 8, available=np.zeros(8, bool), seed=1)
    assert ((none >= 0) & (none < 8)).all()


def test_seed_changes_random_clients() -> None:
    times = steady(5000, 1e4)
    for client in ("java", "librdkafka", "kafka-python", "franz-go", "kafkajs", "random"):
        first = simulate_keyless(client, times, 1000, 12, seed=1)
        assert not np.array_equal(first, simulate_keyless(client, times, 1000, 12, seed=2))


# ------------------------------------------------------------------ errors and config
def test_bad_inputs_raise_partsim_errors() -> None:
    with pytest.raises(UsageError, match="did you mean 'librdkafka'"):
        simulate_keyless("librdkafk", [0.0], [1], 3)
    with pytest.raises(DataError, match="non-decreasing"):
        simulate_keyless("java", [0.0, 1.0, 0.5], [1, 1, 1], 3)
    with pytest.raises(UsageError, match="one entry per partition"):
        simulate_keyless("java", [0.0], [1], 3, config=ProducerConfig(broker_latency_ms=[1]))
    with pytest.raises(UsageError, match="linger_ms"):
        ProducerConfig(linger_ms=-1)
    with pytest.raises(UsageError, match="partition ids"):
        simulate_keyless("java", [0.0], [1], 3, available=[3])


def test_sticky_linger_defaults_to_twice_linger_capped() -> None:
    assert ProducerConfig(linger_ms=5).effective_sticky_linger_ms == 10
    assert ProducerConfig(linger_ms=0).effective_sticky_linger_ms == 0
    assert ProducerConfig(linger_ms=600_000).effective_sticky_linger_ms == 900_000
    assert ProducerConfig(linger_ms=5, sticky_linger_ms=100).effective_sticky_linger_ms == 100


# ------------------------------------------------------------- windows and imbalance
def test_window_loads_and_chunks_add_up() -> None:
    times, sizes = bursty(10_000, seed=3)
    got = simulate_keyless("java", times, sizes, 6, seed=1)
    messages, nbytes = window_loads(times, got, sizes, 6, 0.05)
    assert messages.sum() == len(times) and nbytes.sum() == sizes.sum()
    assert np.array_equal(messages.sum(axis=0), np.bincount(got, minlength=6))
    half = len(times) // 2
    first, _ = window_loads(times[:half], got[:half], sizes[:half], 6, 0.05, start_s=times[0])
    second, _ = window_loads(times[half:], got[half:], sizes[half:], 6, 0.05, start_s=times[0])
    first = np.vstack([first, np.zeros((len(second) - len(first), 6), np.int64)])
    assert np.array_equal(first + second, messages)


def test_imbalance_of_sticky_windows() -> None:
    report = imbalance(np.array([[6, 0, 0], [0, 3, 3], [0, 0, 0]]))
    assert report["windows"] == 3 and report["loaded_windows"] == 2
    assert report["mean_max_over_mean"] == pytest.approx((3.0 + 1.5) / 2)
    assert report["worst_window"] == 0 and report["worst_max_over_mean"] == 3.0
    assert report["overall_max_over_mean"] == pytest.approx(6 / 4)
    assert report["mean_idle_partitions"] == 1.5 and report["idle_partitions"] == 0
    assert imbalance(np.zeros((2, 3)))["mean_max_over_mean"] is None
    # Java sticky at 10 ms windows: 1000 records/s of 100 B fill one run per ~135 ms.
    times = steady(20_000, 1000)
    got = simulate_keyless("java", times, 100, 12, seed=1)
    messages, _ = window_loads(times, got, 100, 12, 0.01)
    assert imbalance(messages)["mean_max_over_mean"] > 10


def test_imbalance_weights_windows_by_their_records() -> None:
    # A perfect round robin (kafkajs) over 12 partitions, 1,202 records in 1 s windows: the
    # last window holds 2 records (max/mean 6.0). Unweighted, it made the mean 3.5.
    times = np.arange(1202) / 1200.0
    placed = simulate_keyless("kafkajs", times, 100, 12, seed=1)
    loads, _ = window_loads(times, placed, 100, 12, 1.0)
    assert loads.sum(axis=1).tolist() == [1200, 2]
    assert imbalance(loads)["mean_max_over_mean"] == pytest.approx((1200 * 1.0 + 2 * 6.0) / 1202)
