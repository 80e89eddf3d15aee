"""Keyed placement: every real producer against ``partsim.assign``, record for record.

Each client's own program (``tests/clients/``: Java kafka-clients, sarama, kafka-go,
franz-go, kafkajs, confluent-kafka, kafka-python) sends the same keys to topics of 1, 7 and
12 partitions on the test broker, and the partition in each record's delivery report must
equal ``partsim.assign`` for that key under the matching registry name. The keys include the
empty key, null keys, ``1468509572224`` (FNV-1a ``0x80000000``: sarama's ``abs`` and the
``ReferenceHash`` mask disagree there), non-ASCII UTF-8 keys and random bytes.

Tolerance: none. A record on the keyless path (a null key, or an empty key where the client
treats it as null) is compared exactly where the path is deterministic (kafka-go's round
robin counter from 0, librdkafka hashing null as empty) and otherwise checked against the
keyless rule it must follow (a kafkajs counter moves by +1; a random pick is in range).
"""

from __future__ import annotations

import functools
import random

import numpy as np
import pytest

import partsim
from partsim.partitioners import get_partitioner, keyless_mask
from partsim.serde import serialize_keys
from tests import broker
from tests.clients import (
    TANSU_REFUSES,
    BuildFailed,
    JobResult,
    Run,
    ToolchainMissing,
    in_ci,
    is_tansu,
    produce,
)
from tests.test_real_clients import FNV1A_TOP_BIT_KEY, assert_same_partitions, nonempty_keys

pytestmark = pytest.mark.broker

PARTITION_COUNTS = (1, 7, 12)

#: (client, the program's partitioner setting, partsim's registry name)
CASES = (
    ("java", "default", "java"),
    ("sarama", "hash", "sarama"),
    ("sarama", "reference_hash", "sarama:reference_hash"),
    ("sarama", "crc32", "sarama:crc32"),
    ("sarama", "murmur2", "sarama:murmur2"),
    ("kafka-go", "round_robin", "kafka-go"),
    ("kafka-go", "hash", "kafka-go:hash"),
    ("kafka-go", "reference_hash", "kafka-go:reference_hash"),
    ("kafka-go", "crc32", "kafka-go:crc32"),
    ("kafka-go", "murmur2", "kafka-go:murmur2"),
    ("franz-go", "default", "franz-go"),
    ("kafkajs", "default", "kafkajs"),
    ("kafkajs", "legacy", "kafkajs:legacy"),
    *(
        ("confluent-kafka", variant, f"librdkafka:{variant}")
        for variant in (
            "consistent_random",
            "consistent",
            "murmur2",
            "murmur2_random",
            "fnv1a",
            "fnv1a_random",
            "random",
        )
    ),
    ("kafka-python", "", "kafka-python"),
)

#: Non-ASCII keys, as UTF-8 (what every client's string serializer writes).
NON_ASCII = ("é", "ключ-42", "日本語キー", "emoji-🙂", "Ünïcödé/ß", "\u00a0", "a\u0301")


def corpus() -> list[bytes | None]:
    """The keys every client sends: the shared corpus plus non-ASCII keys, with empty and
    null keys spread through it (so state in a client's keyless path would show)."""
    keys: list[bytes | None] = [*nonempty_keys(), *(key.encode() for key in NON_ASCII)]
    assert FNV1A_TOP_BIT_KEY in keys
    extras: list[bytes | None] = [b"", b"", None, None, None, b"", None]
    rng = random.Random(16)
    for extra in extras:
        keys.insert(rng.randrange(len(keys) + 1), extra)
    return keys


KEYS = corpus()


@functools.cache
def topics(bootstrap: str) -> dict[int, str]:
    names = {count: broker.unique_topic(f"partsim-keyed-{count}") for count in PARTITION_COUNTS}
    broker.create_topics(bootstrap, {name: count for count, name in names.items()})
    return names


@functools.cache
def client_results(bootstrap: str, client: str) -> JobResult:
    """All of one client's keyed runs, in one process: every partitioner x partition count."""
    runs = [
        Run(client, topics(bootstrap)[count], partitioner=setting, keys=tuple(KEYS), value_size=8)
        for name, setting, _ in CASES
        if name == client
        for count in PARTITION_COUNTS
    ]
    return produce(bootstrap, runs)


def results_or_skip(bootstrap: str, client: str) -> JobResult:
    if client in TANSU_REFUSES and is_tansu(bootstrap):
        pytest.xfail(TANSU_REFUSES[client])
    try:
        return client_results(bootstrap, client)
    except ToolchainMissing as exc:
        if in_ci():
            pytest.fail(f"{exc} (CI=true: the real-client oracles must run)", pytrace=False)
        pytest.skip(str(exc))
    except BuildFailed as exc:
        pytest.fail(str(exc), pytrace=False)


def placement(result: JobResult, setting: str, topic: str):
    (found,) = [
        found
        for found in result.placements
        if found.run.partitioner == setting and found.run.topic == topic
    ]
    return found


@pytest.mark.parametrize("partition_count", PARTITION_COUNTS)
@pytest.mark.parametrize(
    ("client", "setting", "name"), CASES, ids=[f"{case[0]}-{case[2]}" for case in CASES]
)
def test_keyed_placement_equals_assign(
    kafka_bootstrap: str, client: str, setting: str, name: str, partition_count: int
) -> None:
    result = results_or_skip(kafka_bootstrap, client)
    got = placement(result, setting, topics(kafka_bootstrap)[partition_count]).partitions
    label = f"{client} {result.version} {setting or 'default'} vs {name}, N={partition_count}"
    assert ((got >= 0) & (got < partition_count)).all(), f"{label}: partition out of range"
    partitioner = get_partitioner(name)
    framed = serialize_keys(KEYS, "bytes")
    keyless = keyless_mask(partitioner, framed)
    predicted = partsim.assign(KEYS, partition_count, partitioner=name, key_format="bytes")
    strategy = partitioner.keyless
    # Deterministic keyless paths are compared too: kafka-go's round robin counts from 0
    # over the records that take it (assign counts the same way).
    exact = ~keyless | (strategy == "round-robin")
    compared = np.flatnonzero(exact)
    assert_same_partitions(
        [KEYS[i] for i in compared], got[compared], np.asarray(predicted)[compared], label
    )
    if strategy == "round-robin-random-start" and keyless.sum() > 1 and partition_count > 1:
        # kafkajs: a per-topic counter, so consecutive keyless records move by +1.
        steps = np.diff(got[keyless].astype(np.int64)) % partition_count
        assert (steps == 1).all(), f"{label}: keyless records did not round-robin: {got[keyless]}"
    assert int(exact.sum()) >= len(KEYS) - 7 or partitioner.ignores_keys, label
