"""A partition count that divides another is folded from it, not counted (issue 15's sweep).

Under the sign rules mask, abs and unsigned a keyed record's partition is ``g(hash) mod n``,
so its partition under ``n`` is its partition under a multiple ``m`` of ``n``, mod ``n``. The
real clients obey this (checked here with kafka-python's murmur2, zlib's CRC32 and
confluent-kafka's C functions). A scan that folds must give, field by field and to the last
bit, what each placement gives counted alone: keyless records, sticky windows, fractional
bytes and sparse grids included.
"""

from __future__ import annotations

import zlib

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from partsim.options import MeasureOptions, ProducerOptions
from partsim.pipeline import Encoding, Scan, scan_batches
from partsim.placement import Placement, fold_counts, fold_sources

kafka = pytest.importorskip("kafka.partitioner.default", reason="pip install kafka-python")
confluent_kafka = pytest.importorskip("confluent_kafka", reason="pip install confluent-kafka")

KEYS = st.one_of(st.none(), st.just(""), st.text(max_size=6), st.sampled_from(["a", "user-1"]))


def test_the_real_clients_partition_under_a_divisor_as_under_its_multiple_mod_it() -> None:
    """The principle, with the clients' own code: p(n) == p(m) mod n whenever n divides m."""
    rng = np.random.default_rng(7)
    keys = [rng.bytes(int(rng.integers(0, 20))) for _ in range(3_000)] + [b"", b"\xff" * 9]

    def java(key, n):  # kafka-python's murmur2, Java's toPositive
        return (kafka.murmur2(key) & 0x7FFFFFFF) % n

    def crc32(key, n):  # librdkafka consistent: unsigned CRC32
        return zlib.crc32(key) % n

    clients = [java, crc32, confluent_kafka.murmur2, confluent_kafka.fnv1a,
               confluent_kafka.consistent]  # fmt: skip
    for client in clients:
        for small, large in [(12, 48), (24, 48), (7, 21), (1, 5), (16, 1024)]:
            for key in keys:
                assert client(key, small) == client(key, large) % small, (client, key)


def test_which_placements_fold_from_which() -> None:
    placements = [
        Placement(0, "java", 12), Placement(0, "java", 48), Placement(0, "java", 24),
        Placement(0, "kafka-python", 6),  # the same hash, sign and keyless rule as java
        Placement(0, "librdkafka:consistent", 24),  # CRC32: no other CRC32 count
        Placement(0, "librdkafka:consistent_random", 12),  # CRC32, but empty keys keyless
        Placement(0, "librdkafka:consistent_random", 36),
        Placement(1, "java", 6),  # another design
        Placement(0, "kinesis", 2), Placement(0, "kinesis", 4),  # ranges: never
        Placement(0, "kafka-go", 3), Placement(0, "kafka-go", 9),  # keys ignored: never
        Placement(0, "java", 7),  # divides nothing
        Placement(0, "java", 96, b"\0\0\0\0\1"),  # framed keys: other bytes
    ]  # fmt: skip
    none = (None,) * 7
    assert fold_sources(placements) == (1, None, 1, 1, None, 6, None, *none)
    # Without 48, 12 folds from 24, and so does 6 (the largest multiple).
    assert fold_sources(placements, exclude=(1,)) == (2, None, None, 2, None, 6, None, *none)
    assert fold_counts(np.arange(12).reshape(2, 6), 3).tolist() == [[3, 5, 7], [15, 17, 19]]


CLIENTS = ["java", "kafka-python", "librdkafka:consistent_random", "librdkafka:consistent",
           "sarama", "librdkafka:random"]  # fmt: skip


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    keys=st.lists(KEYS, min_size=1, max_size=150),
    clients=st.lists(st.sampled_from(CLIENTS), min_size=1, max_size=3, unique=True),
    counts=st.lists(st.sampled_from([1, 2, 3, 4, 6, 8, 12, 24, 48, 5]), min_size=2,
                    max_size=5, unique=True),
    fractional=st.booleans(),
    keyed_windows=st.booleans(),
    spread=st.sampled_from([60, 10**7]),
    batch=st.integers(7, 60),
    data=st.data(),
)  # fmt: skip
def test_a_folding_scan_equals_each_placement_counted_alone(
    keys, clients, counts, fractional, keyed_windows, spread, batch, data
) -> None:
    """Every field of every placement's aggregate equals its own one-placement scan's: counts,
    keyed counts, bytes (exactly), windows (a spread of 10**7 s makes the grids sparse),
    first and last times; with bytes that are not whole numbers nothing folds."""
    rng = np.random.default_rng(len(keys))
    sizes = rng.integers(0, 5_000, len(keys)).astype(float)
    if fractional and len(keys) > 1:
        sizes[data.draw(st.integers(0, len(keys) - 1))] += 0.1
    table = pa.table({
        "k": pa.array(keys, pa.string()),
        "size": sizes,
        "ts": 1_700_000_000 + np.sort(rng.integers(0, spread, len(keys))),
    })  # fmt: skip
    measures = MeasureOptions(size="size", timestamp="ts", window="1s")
    encoding = Encoding(ProducerOptions(key="k"))
    placements = tuple(Placement(0, c, n) for c in clients for n in counts)
    scan = Scan((encoding,), placements, measures, keyed_windows=keyed_windows)
    folds = [source for source in scan.folds if source is not None]
    together = scan_batches(table.to_batches(batch), scan)
    for number, placement in enumerate(placements):
        alone = scan_batches(
            table.to_batches(batch),
            Scan((encoding,), (placement,), measures, keyed_windows=keyed_windows),
        ).loads[0]
        load = together.loads[number]
        for name in ("messages", "bytes", "keyed_messages", "keyed_bytes"):
            assert getattr(load, name).tolist() == getattr(alone, name).tolist(), name
        for name in ("events", "null_key_events", "keyless_events", "skipped_rows",
                     "first_ns", "last_ns", "window_factor"):  # fmt: skip
            assert getattr(load, name) == getattr(alone, name), name
        order = [("window", "ascending"), ("partition", "ascending")]
        assert load.windows.sort_by(order).to_pylist() == alone.windows.sort_by(order).to_pylist()
    hashing = set(clients) - {"librdkafka:random"}
    if hashing and any(n != m and m % n == 0 for n in counts for m in counts):
        assert folds  # the case folds at all (else this test would test nothing)


def test_fractional_bytes_are_counted_not_folded() -> None:
    table = pa.table({"k": ["a", "b", "c"], "size": [1.5, 2.0, 3.0]})
    scan = Scan((Encoding(ProducerOptions(key="k")),),
                (Placement(0, "java", 4), Placement(0, "java", 8)),
                MeasureOptions(size="size"))  # fmt: skip
    staged = scan.place(table)
    assert scan.folds == (1, None)
    assert staged.folded == [False, False] and staged.placed[0][0] is not None
    whole = scan.place(table.set_column(1, "size", pa.array([1.0, 2.0, 3.0])))
    assert whole.folded == [True, False] and whole.placed[0][0] is None
