"""The public API: names, shapes, aliases, keyless paths and errors."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings

import partsim
from partsim.partitioners import PARTITIONERS
from tests.strategies import key_batches, partition_counts

REQUIRED_NAMES = {
    "java", "kafka-python", "aiokafka", "franz-go", "kafkajs", "kafkajs:legacy",
    "librdkafka:consistent_random", "librdkafka:consistent", "librdkafka:murmur2",
    "librdkafka:murmur2_random", "librdkafka:fnv1a", "librdkafka:fnv1a_random",
    "librdkafka:random", "sarama", "sarama:reference_hash", "sarama:crc32", "sarama:murmur2",
    "kafka-go", "kafka-go:hash", "kafka-go:reference_hash", "kafka-go:crc32",
    "kafka-go:murmur2", "pulsar", "pulsar:murmur3", "kinesis",
}  # fmt: skip


def test_public_names() -> None:
    assert set(partsim.partitioners()) == REQUIRED_NAMES
    assert {"assign", "hash_keys", "partitioners"} <= set(partsim.__all__)
    for alias, name in [
        ("kafka-streams", "java"),
        ("confluent-kafka", "librdkafka:consistent_random"),
        ("sarama:hash", "sarama"),
    ]:
        assert partsim.get_partitioner(alias).name == name


@settings(max_examples=60, deadline=None)
@given(keys=key_batches, count=partition_counts)
def test_every_partitioner_stays_in_range(keys: list[bytes], count: int) -> None:
    keys = [*keys, None] if keys[0] else keys  # kinesis rejects null/empty keys
    for name in partsim.partitioners():
        usable = [key for key in keys if key] if name == "kinesis" else keys
        got = partsim.assign(usable, count, partitioner=name, key_format="bytes", seed=1)
        assert got.dtype == np.int32
        assert ((got >= 0) & (got < count)).all(), name


def test_aliases_give_identical_partitions() -> None:
    keys = [f"k{i}" for i in range(500)]
    assert np.array_equal(
        partsim.assign(keys, 7, partitioner="confluent-kafka"),
        partsim.assign(keys, 7, partitioner="librdkafka:consistent_random"),
    )


def test_null_and_empty_key_rules() -> None:
    count = 12
    # Non-random librdkafka partitioners hash NULL as the empty key: one fixed partition.
    for name, expected in [
        ("librdkafka:consistent", 0),
        ("librdkafka:murmur2", 0x106E08D9 % count),
        ("librdkafka:fnv1a", 0x7EE3623B % count),
    ]:
        assert set(partsim.assign([None] * 50 + [b""] * 50, count, partitioner=name).tolist()) == {
            expected
        }
    # Java hashes the empty key; null keys go keyless (spread by the seeded draw).
    assert set(partsim.assign([""] * 20, count).tolist()) == {9}
    spread = partsim.assign([None] * 2000, count, seed=3)
    assert len(set(spread.tolist())) == count
    # librdkafka's default treats the empty key as null; murmur2_random hashes it.
    assert len(set(partsim.assign([""] * 2000, count, partitioner="confluent-kafka").tolist())) > 1
    assert set(
        partsim.assign([""] * 20, count, partitioner="librdkafka:murmur2_random").tolist()
    ) == {9}
    # kafka-go's default ignores keys: round robin from 0.
    assert partsim.assign(["a", "a", "a", "a"], 3, partitioner="kafka-go").tolist() == [0, 1, 2, 0]
    # The seed makes keyless picks repeatable.
    assert np.array_equal(
        partsim.assign([None] * 100, 12, seed=5), partsim.assign([None] * 100, 12, seed=5)
    )


def test_kinesis_even_split_and_rejections() -> None:
    import hashlib

    keys = [f"pk-{i}" for i in range(3000)]
    got = partsim.assign(keys, 3, partitioner="kinesis")
    for key, shard in zip(keys, got.tolist(), strict=True):
        value = int.from_bytes(hashlib.md5(key.encode()).digest(), "big")
        starts = [i * 2**128 // 3 for i in range(3)]
        assert shard == max(i for i, start in enumerate(starts) if start <= value)
    with pytest.raises(partsim.DataError, match="rejects null and empty keys"):
        partsim.assign(["a", None], 3, partitioner="kinesis")


def test_pulsar_java_string_hash_is_over_utf16_units() -> None:
    def java_hash(text: str) -> int:
        h = 0
        units = text.encode("utf-16-be")
        for i in range(0, len(units), 2):
            h = (31 * h + int.from_bytes(units[i : i + 2], "big")) & 0xFFFFFFFF
        return h

    keys = ["héllo", "😀x", "ascii", ""]
    got = partsim.hash_keys(keys, algorithm="java_string_hash").view(np.uint32).tolist()
    assert got == [java_hash(key) for key in keys]


@pytest.mark.parametrize("bad", [0, -3, 10**11, 2.5, "12", True, None])
def test_bad_partition_count(bad) -> None:
    with pytest.raises(partsim.UsageError, match="partition_count must be"):
        partsim.assign(["a"], bad)


def test_unknown_partitioner_suggests_the_closest() -> None:
    with pytest.raises(partsim.UsageError) as error:
        partsim.assign(["a"], 3, partitioner="murmur3x")
    message = str(error.value)
    assert message.startswith("partitioner must be one of java, ")
    assert "got 'murmur3x' (did you mean 'pulsar:murmur3'?)" in message
    with pytest.raises(partsim.UsageError, match="did you mean 'sarama'"):
        partsim.assign(["a"], 3, partitioner="sarma")


def test_unknown_key_format_and_algorithm() -> None:
    with pytest.raises(partsim.UsageError, match="key_format must be one of string, bytes"):
        partsim.assign(["a"], 3, key_format="utf8")
    with pytest.raises(partsim.UsageError, match="algorithm must be one of murmur2"):
        partsim.hash_keys(["a"], algorithm="murmur")


def test_errors_are_value_errors_and_partsim_errors() -> None:
    assert issubclass(partsim.UsageError, ValueError)
    assert issubclass(partsim.DataError, partsim.PartsimError)


def test_empty_input() -> None:
    assert partsim.assign([], 3).tolist() == []
    assert partsim.hash_keys([]).tolist() == []


def test_registry_facts_are_complete() -> None:
    for partitioner in PARTITIONERS.values():
        assert partitioner.client and partitioner.reference, partitioner.name
        assert partitioner.null_key_rule and partitioner.empty_key_rule
        assert partitioner.sign_rule in {"mask", "abs", "unsigned", "range", "none"}
