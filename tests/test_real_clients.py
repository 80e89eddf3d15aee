"""partsim against real librdkafka clients producing to a real broker.

Every key is produced with confluent-kafka (each librdkafka ``partitioner`` setting)
or with the ``kcat`` CLI, and the partition from the delivery report (or read back
from the topic) must equal ``partsim.assign`` for that key, bit for bit.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

import numpy as np
import pytest

import partsim
from tests import broker

pytestmark = pytest.mark.broker

PARTITION_COUNTS = (1, 7, 12)
LIBRDKAFKA_PARTITIONERS = (
    "consistent_random",
    "consistent",
    "murmur2",
    "murmur2_random",
    "fnv1a",
    "fnv1a_random",
)
#: Partitioners that hash NULL keys as empty (no sticky/random choice): deterministic.
HASH_NULL_KEYS = frozenset({"consistent", "murmur2", "fnv1a"})
#: Partitioners that hash an empty non-NULL key (consistent_random randomizes it).
HASH_EMPTY_KEYS = HASH_NULL_KEYS | {"murmur2_random", "fnv1a_random"}

#: FNV-1a-32 of this key is 0x80000000, the one hash that librdkafka's abs() keeps.
FNV1A_TOP_BIT_KEY = b"1468509572224"


def nonempty_keys() -> list[bytes]:
    """A fixed corpus of non-empty keys: ASCII, every length 1..40, random bytes incl. >= 0x80."""
    rng = random.Random(20240611)
    keys: list[bytes] = [FNV1A_TOP_BIT_KEY]
    keys += [f"key-{i}".encode() for i in range(40)]
    keys += [str(i).encode() for i in (0, 1, 7, 12, 42, 2**31 - 1, 2**31, 2**32, -1)]
    keys += [b"user:alice", b"user:bob", b"order/2024/11/27", b"a b\tc\nd", b"\x00", b"\x7f"]
    alphabet = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.:"
    for length in range(1, 41):
        keys.append(bytes(rng.choice(alphabet) for _ in range(length)))
        keys += [rng.randbytes(length) for _ in range(3)]
        keys.append(bytes(rng.randrange(0x80, 0x100) for _ in range(length)))
    keys += [b"\xff" * n for n in (1, 2, 3, 4, 5, 8, 16)]
    keys += [bytes(range(start, start + 16)) for start in range(0x80, 0x100, 16)]
    return keys


def keys_for(partitioner: str) -> list[bytes | None]:
    """The corpus, plus empty and NULL keys where ``partitioner`` places them deterministically.

    Empty/NULL keys are spread through the list (not only at the end) so that any
    state in the producer's NULL-key handling would show.
    """
    keys: list[bytes | None] = list(nonempty_keys())
    extras: list[bytes | None] = []
    if partitioner in HASH_EMPTY_KEYS:
        extras += [b""] * 3
    if partitioner in HASH_NULL_KEYS:
        extras += [None] * 3
    for n, extra in enumerate(extras):
        keys.insert(n * 37 % len(keys), extra)
    return keys


def assert_same_partitions(
    keys: Sequence[bytes | None], got: Sequence[int], predicted: object, label: str
) -> None:
    """Fail listing the first mismatching keys if partsim's prediction differs from the client."""
    got_arr = np.asarray(got, dtype=np.int64)
    pred_arr = np.asarray(predicted, dtype=np.int64)
    assert pred_arr.shape == got_arr.shape, (
        f"{label}: partsim returned shape {pred_arr.shape} for {len(keys)} keys"
    )
    bad = np.flatnonzero(pred_arr != got_arr)
    if bad.size:
        lines = [
            f"  key={keys[i]!r}: client put it on {got_arr[i]}, partsim says {pred_arr[i]}"
            for i in bad[:10]
        ]
        pytest.fail(
            f"{label}: {bad.size} of {len(keys)} keys differ; first ones:\n" + "\n".join(lines),
            pytrace=False,
        )


@pytest.fixture(scope="module")
def topics(kafka_bootstrap: str) -> dict[int, str]:
    """One topic per partition count, shared by all confluent-kafka cases."""
    names = {n: broker.unique_topic(f"partsim-ck-{n}") for n in PARTITION_COUNTS}
    broker.create_topics(kafka_bootstrap, {name: n for n, name in names.items()})
    return names


@pytest.mark.parametrize("partition_count", PARTITION_COUNTS)
@pytest.mark.parametrize("partitioner", LIBRDKAFKA_PARTITIONERS)
def test_confluent_kafka_partitioner(
    kafka_bootstrap: str, topics: dict[int, str], partitioner: str, partition_count: int
) -> None:
    keys = keys_for(partitioner)
    got = broker.produce(
        kafka_bootstrap, topics[partition_count], keys, {"partitioner": partitioner}
    )
    predicted = partsim.assign(
        keys, partition_count, partitioner="librdkafka:" + partitioner, key_format="bytes"
    )
    assert_same_partitions(
        keys, got, predicted, f"librdkafka:{partitioner}, {partition_count} partitions"
    )


@pytest.mark.parametrize("partition_count", PARTITION_COUNTS)
def test_confluent_kafka_default_partitioner(
    kafka_bootstrap: str, topics: dict[int, str], partition_count: int
) -> None:
    keys: list[bytes | None] = list(nonempty_keys())
    got = broker.produce(kafka_bootstrap, topics[partition_count], keys, {})
    for name in ("librdkafka:consistent_random", "confluent-kafka"):
        predicted = partsim.assign(keys, partition_count, partitioner=name, key_format="bytes")
        assert_same_partitions(
            keys, got, predicted, f"confluent-kafka default vs {name}, {partition_count} partitions"
        )


@pytest.mark.parametrize("partition_count", PARTITION_COUNTS)
def test_kcat_default_partitioner(kafka_bootstrap: str, partition_count: int) -> None:
    if broker.kcat_binary() is None:
        if broker.in_ci():
            pytest.fail("kcat is not installed (Debian package 'kcat')", pytrace=False)
        pytest.skip("kcat is not installed (Debian package 'kcat')")
    topic = broker.unique_topic(f"partsim-kcat-{partition_count}")
    broker.create_topic(kafka_bootstrap, topic, partition_count)
    # kcat -K cannot send NULL keys, and consistent_random randomizes empty ones.
    keys = nonempty_keys()
    got = broker.produce_kcat(kafka_bootstrap, topic, keys)
    predicted = partsim.assign(
        keys, partition_count, partitioner="librdkafka:consistent_random", key_format="bytes"
    )
    kcat = broker.kcat_environment(kafka_bootstrap)[1]
    assert_same_partitions(keys, got, predicted, f"{kcat} default, {partition_count} partitions")
