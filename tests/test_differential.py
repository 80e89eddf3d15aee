"""partsim against independent implementations, on random keys (hypothesis).

Oracles: kafka-python's pure-Python ``murmur2``, and confluent-kafka's C functions
``murmur2``, ``consistent`` and ``fnv1a`` (librdkafka's own partitioners, taking
``(key_bytes, partition_count)``). Every test runs on both kernels: the compiled one and the
numpy fallback.
"""

from __future__ import annotations

import zlib

import confluent_kafka
import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from kafka.partitioner.default import murmur2 as kafka_python_murmur2

import partsim
from partsim import hashing
from tests.strategies import key_batches, partition_counts

EXAMPLES = settings(max_examples=150, deadline=None)


@pytest.fixture(params=["c", "numpy"], autouse=True)
def kernel(request, monkeypatch):
    if request.param == "c" and hashing._kernels is None:
        pytest.fail("the C kernel is not built: pip install -e . should build it")
    monkeypatch.setenv("PARTSIM_KERNELS", request.param)
    return request.param


def _as_arrow(keys: list[bytes], layout: str) -> pa.Array | pa.ChunkedArray:
    """The same keys as a plain, sliced, chunked or large-binary Arrow array."""
    if layout == "plain":
        return pa.array(keys, type=pa.binary())
    if layout == "sliced":
        padded = pa.array([b"<pad>", *keys, b"tail"], type=pa.binary())
        return padded.slice(1, len(keys))
    if layout == "chunked":
        middle = len(keys) // 2
        return pa.chunked_array(
            [pa.array(keys[:middle], type=pa.binary()), pa.array(keys[middle:], type=pa.binary())],
            type=pa.binary(),
        )
    return pa.array(keys, type=pa.large_binary())


LAYOUTS = st.sampled_from(["plain", "sliced", "chunked", "large"])


@EXAMPLES
@given(keys=key_batches, layout=LAYOUTS)
def test_murmur2_matches_kafka_python(keys: list[bytes], layout: str) -> None:
    got = partsim.hash_keys(_as_arrow(keys, layout), algorithm="murmur2", key_format="bytes")
    expected = [kafka_python_murmur2(key) & 0xFFFFFFFF for key in keys]
    assert got.view(np.uint32).tolist() == expected


@EXAMPLES
@given(keys=key_batches, count=partition_counts, layout=LAYOUTS)
def test_java_matches_confluent_murmur2(keys: list[bytes], count: int, layout: str) -> None:
    got = partsim.assign(_as_arrow(keys, layout), count, key_format="bytes")
    assert got.tolist() == [confluent_kafka.murmur2(key, count) for key in keys]
    assert got.dtype == np.int32


@EXAMPLES
@given(keys=key_batches, count=partition_counts, layout=LAYOUTS)
def test_consistent_matches_confluent(keys: list[bytes], count: int, layout: str) -> None:
    got = partsim.assign(
        _as_arrow(keys, layout), count, partitioner="librdkafka:consistent", key_format="bytes"
    )
    assert got.tolist() == [confluent_kafka.consistent(key, count) for key in keys]
    assert got.tolist() == [zlib.crc32(key) % count for key in keys]


@EXAMPLES
@given(keys=key_batches, count=partition_counts, layout=LAYOUTS)
def test_fnv1a_matches_confluent(keys: list[bytes], count: int, layout: str) -> None:
    for name in ("librdkafka:fnv1a", "sarama", "kafka-go:hash"):
        got = partsim.assign(_as_arrow(keys, layout), count, partitioner=name, key_format="bytes")
        assert got.tolist() == [confluent_kafka.fnv1a(key, count) for key in keys], name


@EXAMPLES
@given(keys=key_batches, layout=LAYOUTS)
def test_vector_kernels_match_scalar(keys: list[bytes], layout: str) -> None:
    """Every vectorized kernel equals its scalar twin, key by key."""
    array = _as_arrow(keys, layout)
    for algorithm, scalar in hashing.ALGORITHMS.items():
        got = partsim.hash_keys(array, algorithm=algorithm, key_format="bytes").tolist()
        assert got == [scalar(key) for key in keys], algorithm


@settings(max_examples=30, deadline=None)
@given(count=st.integers(min_value=1, max_value=4000), seed=st.integers(0, 2**32 - 1))
def test_long_keys_take_the_scalar_path_correctly(count: int, seed: int) -> None:
    """Keys longer than the vector buckets (and a mix of lengths around each bucket edge)."""
    rng = np.random.default_rng(seed)
    lengths = [*range(0, 40), 2047, 2048, 2049, 5000, count]
    keys = [rng.integers(0, 256, size=length, dtype=np.uint8).tobytes() for length in lengths]
    got = partsim.assign(keys, 12, key_format="bytes")
    assert got.tolist() == [confluent_kafka.murmur2(key, 12) for key in keys]
    crc = partsim.hash_keys(keys, algorithm="crc32", key_format="bytes")
    assert crc.tolist() == [zlib.crc32(key) for key in keys]


def test_many_keys_split_across_threads() -> None:
    """Arrays large enough to be split across threads give the same answer as one pass."""
    keys = [f"user-{i}".encode() for i in range(hashing.PARALLEL_MIN_KEYS + 1234)]
    array = pa.array(keys, type=pa.binary())
    one = hashing.hash_array(array, "murmur2", threads=1)
    many = hashing.hash_array(array, "murmur2", threads=3)
    assert np.array_equal(one, many)
    sample = slice(None, None, 997)
    assert one[sample].tolist() == [hashing.murmur2(key) for key in keys[sample]]
