"""Keyless placement over time: every real producer against partsim's simulator.

Each case sends null-key records from a real client (``tests/clients/``) at a fixed rate to a
12-partition topic and records when each record was sent and where it landed. partsim's
simulator (``partsim.keyless.simulate_keyless``, the model the client's registry record
names) then places the same send schedule with 20 seeds. Compared, on the real send times:

* P(same partition as the previous record);
* the distribution of run lengths (records in a row on one partition), weighted by records,
  as a Kolmogorov-Smirnov distance;
* the mean max/mean over 100 ms and 1 s windows, windows weighted by their records.

Tolerances, per metric: ``|real - mean(simulated)| <= 4 * max(sd_sim, sd_real)``, where
``sd_sim`` is the spread of the 20 simulated seeds and ``sd_real`` the run-to-run spread of
the real client, measured over 4 repeated runs of the same case on the Apache Kafka 4.4
broker (``SPREAD`` below; the machine had other jobs running, as CI's does). Four standard
deviations let a correct model fail about once in 16,000 comparisons under normality; the
run-to-run spread is there because the real clients vary more than the model between runs
(thread timing, broker round trips). The run-length KS distance must not exceed the largest
KS distance between one simulated seed and the other 19 pooled, plus the real client's
spread of that distance (0.05).

librdkafka's cold start (the records sent before the topic's partitions join their broker
thread each get a fresh pick) is a race whose length depends on the machine's load: 0-21
records on a quiet machine, hundreds under load. It is left out of the comparison: the
librdkafka producers send one warm-up record and wait for it before the timed records, and
the model starts warm (``cold_start_records=0``).
"""

from __future__ import annotations

import functools

import numpy as np
import pytest

from partsim.keyless import ProducerConfig, simulate_keyless
from partsim.partitioners import get_partitioner
from tests import broker
from tests.clients import (
    TANSU_REFUSES,
    BuildFailed,
    Run,
    ToolchainMissing,
    in_ci,
    is_tansu,
    keyless_stats,
    produce,
    run_length_distance,
)

pytestmark = pytest.mark.broker

PARTITIONS = 12
SEEDS = 20
Z = 4.0
KS_SPREAD = 0.05

#: label -> (client, partitioner setting, registry name, client config, partsim config, rate,
#: records, value bytes, the real client's run-to-run standard deviation of
#: (P(same), max/mean 100 ms, max/mean 1 s), measured over 4 runs, librdkafka's warmed up)
CASES = {
    "java-batch1k-adaptive": (
        "java", "default", "java",
        {"batch.size": 1024, "linger.ms": 5, "partitioner.adaptive.partitioning.enable": "true"},
        {"linger_ms": 5, "batch_size": 1024, "adaptive": True}, 2000, 2000, 100,
        (0.001, 0.139, 0.166),
    ),
    "java-batch1k": (
        "java", "default", "java",
        {"batch.size": 1024, "linger.ms": 5, "partitioner.adaptive.partitioning.enable": "false"},
        {"linger_ms": 5, "batch_size": 1024}, 2000, 2000, 100,
        (0.002, 0.291, 0.131),
    ),
    "java-batch2k-adaptive": (
        "java", "default", "java",
        {"batch.size": 2048, "linger.ms": 5, "partitioner.adaptive.partitioning.enable": "true"},
        {"linger_ms": 5, "batch_size": 2048, "adaptive": True}, 2000, 2000, 100,
        (0.002, 0.53, 0.39),  # over 6 runs
    ),
    "confluent-kafka-default": (
        "confluent-kafka", "consistent_random", "librdkafka:consistent_random",
        {"linger.ms": 5}, {"linger_ms": 5}, 2000, 2000, 100,
        (0.002, 0.527, 0.502),
    ),
    "confluent-kafka-linger0": (
        "confluent-kafka", "consistent_random", "librdkafka:consistent_random",
        {"linger.ms": 0}, {"linger_ms": 0}, 2000, 2000, 100,
        (0.010, 0.028, 0.039),
    ),
    "confluent-kafka-random": (
        "confluent-kafka", "random", "librdkafka:random",
        {"linger.ms": 5}, {"linger_ms": 5}, 2000, 2000, 100,
        (0.002, 0.311, 0.312),
    ),
    "confluent-kafka-murmur2_random": (
        "confluent-kafka", "murmur2_random", "librdkafka:murmur2_random",
        {"linger.ms": 5}, {"linger_ms": 5}, 2000, 2000, 100,
        (0.001, 0.460, 0.225),
    ),
    "confluent-kafka-fnv1a_random": (
        "confluent-kafka", "fnv1a_random", "librdkafka:fnv1a_random",
        {"linger.ms": 5}, {"linger_ms": 5}, 2000, 2000, 100,
        (0.003, 0.420, 0.212),
    ),
    "kafka-python-linger5": (
        "kafka-python", "", "kafka-python",
        {"linger_ms": 5}, {"linger_ms": 5}, 2000, 2000, 100,
        (0.015, 0.188, 0.148),
    ),
    "kafka-python-linger100": (
        "kafka-python", "", "kafka-python",
        {"linger_ms": 100}, {"linger_ms": 100}, 2000, 2000, 100,
        (0.006, 0.039, 0.044),
    ),
    "sarama-hash": (
        "sarama", "hash", "sarama", {}, {}, 2000, 2000, 100, (0.002, 0.032, 0.051),
    ),
    "sarama-murmur2": (
        "sarama", "murmur2", "sarama:murmur2", {}, {}, 2000, 2000, 100, (0.005, 0.037, 0.032),
    ),
    "kafka-go-crc32": (
        "kafka-go", "crc32", "kafka-go:crc32", {}, {}, 2000, 2000, 100, (0.007, 0.054, 0.031),
    ),
    "kafka-go-murmur2": (
        "kafka-go", "murmur2", "kafka-go:murmur2", {}, {}, 2000, 2000, 100,
        (0.007, 0.030, 0.023),
    ),
    "franz-go": (
        "franz-go", "default", "franz-go", {}, {}, 2000, 3000, 1000, (0.001, 0.295, 0.243),
    ),
}  # fmt: skip


@functools.cache
def topic(bootstrap: str) -> str:
    name = broker.unique_topic("partsim-keyless")
    broker.create_topic(bootstrap, name, PARTITIONS)
    return name


@functools.cache
def real_runs(bootstrap: str, client: str) -> dict:
    """One run of every case of ``client``, in one process."""
    labels = [label for label, case in CASES.items() if case[0] == client]
    runs = []
    for label in labels:
        _, setting, _, config, _, rate, count, size, _ = CASES[label]
        warm = client == "confluent-kafka"
        runs.append(
            Run(client, topic(bootstrap), setting, None, count, rate, size, config, warmup=warm)
        )
    try:
        result = produce(bootstrap, runs)
    except ToolchainMissing as exc:
        return {"skip": str(exc)}
    except BuildFailed as exc:
        return {"fail": str(exc)}
    return {"version": result.version, **dict(zip(labels, result.placements, strict=True))}


def real_run(bootstrap: str, label: str):
    client = CASES[label][0]
    if client in TANSU_REFUSES and is_tansu(bootstrap):
        pytest.xfail(TANSU_REFUSES[client])
    found = real_runs(bootstrap, client)
    if "skip" in found:
        if in_ci():
            pytest.fail(f"{found['skip']} (CI=true: the real-client oracles must run)")
        pytest.skip(found["skip"])
    if "fail" in found:
        pytest.fail(found["fail"], pytrace=False)
    return found["version"], found[label]


@pytest.mark.parametrize("label", list(CASES))
def test_keyless_placement_matches_the_model(kafka_bootstrap: str, label: str) -> None:
    client, _, name, _, settings, _, _, size, spread = CASES[label]
    version, placed = real_run(kafka_bootstrap, label)
    model = get_partitioner(name).keyless_model
    times = placed.times_s - placed.times_s[0]
    real = keyless_stats(times, placed.partitions, PARTITIONS)
    warm = {"cold_start_records": 0} if client == "confluent-kafka" else {}  # warmed up
    config = ProducerConfig(**settings, **warm)
    simulated = [
        simulate_keyless(model, times, size, PARTITIONS, config=config, seed=seed)
        for seed in range(SEEDS)
    ]
    sims = [keyless_stats(times, partitions, PARTITIONS) for partitions in simulated]
    label_text = f"{client} {version} ({label}) vs partsim's {model!r} model"
    failures = []
    for metric, real_spread in zip(("p_same", "window_100ms", "window_1s"), spread, strict=True):
        values = np.array([getattr(sim, metric) for sim in sims])
        tolerance = Z * max(float(values.std(ddof=1)), real_spread)
        got = getattr(real, metric)
        if abs(got - values.mean()) > tolerance:
            failures.append(
                f"{metric}: real {got:.3f}, simulated {values.mean():.3f} ± {tolerance:.3f}"
            )
    pooled = [sim.runs for sim in sims]
    ks_null = max(
        run_length_distance(pooled[k], np.concatenate(pooled[:k] + pooled[k + 1 :]))
        for k in range(SEEDS)
    )
    ks_real = run_length_distance(real.runs, np.concatenate(pooled))
    if ks_real > ks_null + KS_SPREAD:
        failures.append(f"run lengths: KS {ks_real:.3f} > {ks_null:.3f} + {KS_SPREAD}")
    assert not failures, f"{label_text}:\n  " + "\n  ".join(failures)


def test_kafkajs_null_keys_round_robin(kafka_bootstrap: str) -> None:
    """kafkajs 2.2.4: sequential sends go round robin from a random start, +1 each record
    (partsim's ``kafkajs`` model); exact, no tolerance."""
    run = Run("kafkajs", topic(kafka_bootstrap), "default", None, 120)
    try:
        result = produce(kafka_bootstrap, [run])
    except ToolchainMissing as exc:
        if in_ci():
            pytest.fail(f"{exc} (CI=true: the real-client oracles must run)")
        pytest.skip(str(exc))
    got = result.placements[0].partitions.astype(np.int64)
    assert get_partitioner("kafkajs").keyless_model == "kafkajs"
    expected = (got[0] + np.arange(len(got))) % PARTITIONS
    assert got.tolist() == expected.tolist(), f"kafkajs {result.version}: {got.tolist()}"
