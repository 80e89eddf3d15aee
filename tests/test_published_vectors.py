"""partsim against every vector published in the clients' own test suites.

The vectors live in ``tests/vectors/published_vectors.json``; each names its repo, path and
commit. A case id reads ``repo:kind:key``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import partsim
from partsim.partitioners import reduce_hashes

VECTORS = json.loads((Path(__file__).parent / "vectors" / "published_vectors.json").read_text())[
    "vectors"
]


def _key(vector: dict) -> bytes | None:
    return None if vector["key_hex"] is None else bytes.fromhex(vector["key_hex"])


def _cases(*kinds: str) -> list:
    return [
        pytest.param(v, id=f"{v['repo']}:{v['kind']}:{v.get('partitioner', '')}:{v['key']!r}")
        for v in VECTORS
        if v["kind"] in kinds
    ]


def test_every_vector_kind_is_checked() -> None:
    checked = {
        "murmur2_raw_int32",
        "murmur2_raw_uint32",
        "java_default_partition",
        "librdkafka_fnv1a_abs",
        "librdkafka_partitioner_expected",
        "sarama_consistent_crc_partition",
        "sarama_hash_range_only",
        "kafkago_hash_partition",
        "kafkago_referencehash_partition",
        "kafkago_crc32_partition",
        "kafkago_murmur2_partition",
        "kafkajs_legacy_murmur2_raw",
        "franz_saramahasher_synthetic",
        "pulsar_go_javastringhash_u32",
        "pulsar_murmur3_32_masked",
        "pulsar_javastringhash_masked",
        "kinesis_partition_key_shard",
        "kinesis_hash_key_shard",
        "kinesis_shard_hash_key_range",
    }
    assert {v["kind"] for v in VECTORS} == checked
    assert len(VECTORS) == 205


@pytest.mark.parametrize("vector", _cases("murmur2_raw_int32"))
def test_murmur2_raw(vector: dict) -> None:
    hashed = partsim.hash_keys([_key(vector)], algorithm="murmur2", key_format="bytes")
    assert hashed.dtype == np.int32
    assert int(hashed[0]) == vector["murmur2"]
    assert partsim.hashing.murmur2(_key(vector) or b"") == vector["murmur2"]  # NULL as empty


@pytest.mark.parametrize("vector", _cases("murmur2_raw_uint32"))
def test_murmur2_raw_unsigned(vector: dict) -> None:
    hashed = partsim.hash_keys([_key(vector)], algorithm="murmur2", key_format="bytes")
    assert int(hashed.view(np.uint32)[0]) == vector["murmur2_u32"]


@pytest.mark.parametrize("vector", _cases("java_default_partition"))
def test_java_default_partition(vector: dict) -> None:
    for name in ("java", "kafka-python", "kafkajs", "franz-go", "librdkafka:murmur2_random"):
        got = partsim.assign(
            [_key(vector)], vector["num_partitions"], partitioner=name, key_format="bytes"
        )
        assert int(got[0]) == vector["partition"], name
    # The same key given as text, through StringSerializer.
    if vector.get("serializer") == "StringSerializer":
        assert partsim.assign([vector["key"]], vector["num_partitions"])[0] == vector["partition"]


@pytest.mark.parametrize("vector", _cases("librdkafka_fnv1a_abs"))
def test_librdkafka_fnv1a_abs(vector: dict) -> None:
    key = _key(vector)
    raw = partsim.hash_keys([b"" if key is None else key], algorithm="fnv1a", key_format="bytes")
    assert abs(int(raw.view(np.int32)[0])) == vector["rd_fnv1a"]
    # librdkafka's fnv1a partitioner hashes a NULL key as empty: both give rd_fnv1a % N.
    for count in (1, 7, 17, 1000):
        got = partsim.assign([key], count, partitioner="librdkafka:fnv1a", key_format="bytes")
        assert int(got[0]) == vector["rd_fnv1a"] % count


@pytest.mark.parametrize("vector", _cases("librdkafka_partitioner_expected"))
def test_librdkafka_partitioner_expected(vector: dict) -> None:
    name = "librdkafka:" + vector["partitioner"]
    for count in (7, 17):  # tests/0048-partitioner.c uses 7 (quick) or 17 partitions
        got = partsim.assign(
            [_key(vector)] * 50, count, partitioner=name, key_format="bytes", seed=1
        )
        assert ((got >= 0) & (got < count)).all()
        if vector["expected_hash_u32"] is None:  # -1 in the test: a random partition
            assert partsim.get_partitioner(name).null_key_rule.startswith(("keyless", "keys"))
        else:
            assert set(got.tolist()) == {vector["expected_hash_u32"] % count}


@pytest.mark.parametrize("vector", _cases("sarama_consistent_crc_partition"))
def test_sarama_consistent_crc(vector: dict) -> None:
    got = partsim.assign(
        [_key(vector)], vector["num_partitions"], partitioner="sarama:crc32", key_format="bytes"
    )
    assert int(got[0]) == vector["partition"]


@pytest.mark.parametrize("vector", _cases("sarama_hash_range_only"))
def test_sarama_hash_min_int32(vector: dict) -> None:
    """sarama's own test asserts only the range; that is all this vector publishes."""
    key = _key(vector)
    assert partsim.hashing.fnv1a(key) == 0x80000000  # the sign edge case this vector is about
    got = partsim.assign([key], vector["num_partitions"], partitioner="sarama", key_format="bytes")
    assert 0 <= int(got[0]) < vector["num_partitions"]


def _go_int32_remainder(hash_u32: int, count: int) -> int:
    """Go's ``int32(h) % n``: truncated division, the remainder takes the dividend's sign."""
    signed = hash_u32 - (1 << 32) if hash_u32 >= 1 << 31 else hash_u32
    return -(abs(signed) % count) if signed < 0 else signed % count


@pytest.mark.parametrize("count", [7, 12, 50, 100])
def test_sarama_hash_min_int32_exact_value(count: int) -> None:
    """NOT a published vector: the exact partition is our transcription of sarama's
    ``hashPartitioner.Partition`` (IBM/sarama ``partitioner.go``: ``partition =
    int32(p.hasher.Sum32()) % numPartitions; if partition < 0 { partition = -partition }``),
    computed here from the FNV-1a hash with Go's remainder rule; it gives 2**31 % N. The real
    sarama producer places this key in tests/test_real_clients_keyed.py, which is its
    oracle."""
    key = b"1468509572224"
    assert partsim.hashing.fnv1a(key) == 0x80000000
    expected = _go_int32_remainder(0x80000000, count)
    if expected < 0:
        expected = -expected
    assert expected == 2**31 % count
    got = partsim.assign([key], count, partitioner="sarama", key_format="bytes")
    assert int(got[0]) == expected


@pytest.mark.parametrize("vector", _cases("kinesis_partition_key_shard"))
def test_kinesis_partition_key(vector: dict) -> None:
    got = partsim.assign([_key(vector)], vector["num_partitions"], partitioner="kinesis",
                         key_format="bytes")  # fmt: skip
    assert int(got[0]) == vector["partition"]


@pytest.mark.parametrize("vector", _cases("kinesis_hash_key_shard"))
def test_kinesis_hash_key(vector: dict) -> None:
    """An ExplicitHashKey goes through the same range rule as an MD5 hash."""
    hashed = np.array([int(vector["hash_key"])], dtype=object)
    assert int(reduce_hashes(hashed, "range", vector["num_partitions"])[0]) == vector["partition"]


@pytest.mark.parametrize("vector", _cases("kinesis_shard_hash_key_range"))
def test_kinesis_shard_ranges(vector: dict) -> None:
    """Both ends of each shard's HashKeyRange (inclusive) fall in that shard, and the
    neighbours just outside fall in the next and previous shards."""
    count, shard = vector["num_partitions"], vector["partition"]
    start, end = int(vector["starting_hash_key"]), int(vector["ending_hash_key"])
    edges = [value for value in (start - 1, start, end, end + 1) if 0 <= value < 2**128]
    got = reduce_hashes(np.array(edges, dtype=object), "range", count).tolist()
    expected = [shard - (v < start) + (v > end) for v in edges]
    assert got == expected


@pytest.mark.parametrize(
    "vector", _cases("kafkago_hash_partition", "kafkago_referencehash_partition")
)
def test_kafka_go_hash(vector: dict) -> None:
    name = (
        "kafka-go:hash"
        if vector["kind"] == "kafkago_hash_partition"
        else ("kafka-go:reference_hash")
    )
    key = _key(vector)
    if vector["hasher"] == "fnv1a":
        got = partsim.assign([key], vector["num_partitions"], partitioner=name, key_format="bytes")
    else:  # Hash{Hasher: crc32.NewIEEE()}: the same sign rule over a CRC-32
        rule = partsim.get_partitioner(name).sign_rule
        hashed = partsim.hash_keys([key], algorithm="crc32", key_format="bytes")
        got = reduce_hashes(hashed, rule, vector["num_partitions"])
    assert int(got[0]) == vector["partition"]


def _kafka_go_squares(vector: dict, name: str) -> None:
    """kafka-go's tests pass partitions [i*i]; the balancer picks an index into them."""
    key = _key(vector)
    count = vector["num_partitions"]
    if isinstance(vector["partition"], str):  # 'random (mock ...)': the keyless path
        assert partsim.get_partitioner(name).null_key_rule.startswith("keyless")
        return
    index = partsim.assign([key], count, partitioner=name, key_format="bytes")[0]
    assert int(index) == vector["partition_index"]
    assert int(index) ** 2 == vector["partition"]


@pytest.mark.parametrize("vector", _cases("kafkago_crc32_partition"))
def test_kafka_go_crc32(vector: dict) -> None:
    if vector.get("crc32_u32") is not None:
        assert (
            int(partsim.hash_keys([_key(vector)], algorithm="crc32", key_format="bytes")[0])
            == (vector["crc32_u32"])
        )
    _kafka_go_squares(vector, "kafka-go:crc32")


@pytest.mark.parametrize("vector", _cases("kafkago_murmur2_partition"))
def test_kafka_go_murmur2(vector: dict) -> None:
    if vector.get("murmur2_u32") is not None:
        # These librdkafka-derived values are toPositive(murmur2), as the formula says.
        hashed = partsim.hash_keys([_key(vector)], key_format="bytes").view(np.uint32)
        assert int(hashed[0]) & 0x7FFFFFFF == vector["murmur2_u32"]
    _kafka_go_squares(vector, "kafka-go:murmur2")


@pytest.mark.parametrize("vector", _cases("kafkajs_legacy_murmur2_raw"))
def test_kafkajs_legacy(vector: dict) -> None:
    key = _key(vector)
    hashed = partsim.hash_keys([key], algorithm="murmur2_kafkajs_legacy", key_format="bytes")
    assert int(hashed[0]) == vector["legacy_murmur2"]
    assert partsim.hashing.murmur2_kafkajs_legacy(key) == vector["legacy_murmur2"]
    got = partsim.assign([key], 12, partitioner="kafkajs:legacy", key_format="bytes")
    assert int(got[0]) == (vector["legacy_murmur2"] & 0x7FFFFFFF) % 12


@pytest.mark.parametrize("vector", _cases("franz_saramahasher_synthetic"))
def test_franz_sarama_hasher_sign_rules(vector: dict) -> None:
    """franz-go's SaramaHasher on a stubbed hash: unsigned on 64-bit, |int32| on 32-bit."""
    hashed = np.array([vector["synthetic_hash_u32"]], dtype=np.uint32)
    count = vector["num_partitions"]
    expected_64 = vector.get("partition_64bit", vector.get("partition"))
    assert int(reduce_hashes(hashed, "unsigned", count)[0]) == expected_64
    if "partition_32bit" in vector:
        assert int(reduce_hashes(hashed, "abs", count)[0]) == vector["partition_32bit"]


@pytest.mark.parametrize("vector", _cases("pulsar_go_javastringhash_u32"))
def test_pulsar_go_java_string_hash(vector: dict) -> None:
    # Go's loop runs over UTF-8 bytes; for these ASCII keys that equals Java's UTF-16 units.
    hashed = partsim.hash_keys([_key(vector)], algorithm="java_string_hash", key_format="bytes")
    assert int(hashed.view(np.uint32)[0]) == vector["hash_u32"]


@pytest.mark.parametrize(
    "vector", _cases("pulsar_murmur3_32_masked", "pulsar_javastringhash_masked")
)
def test_pulsar_masked(vector: dict) -> None:
    algorithm = "murmur3" if "murmur3" in vector["kind"] else "java_string_hash"
    name = "pulsar:murmur3" if algorithm == "murmur3" else "pulsar"
    hashed = partsim.hash_keys([_key(vector)], algorithm=algorithm, key_format="bytes")
    assert int(hashed.view(np.uint32)[0]) & 0x7FFFFFFF == vector["hash"]
    got = partsim.assign([_key(vector)], 7, partitioner=name, key_format="bytes")
    assert int(got[0]) == vector["hash"] % 7
