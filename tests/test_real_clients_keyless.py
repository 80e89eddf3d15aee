"""Keyless placement over time: every real producer against partsim's simulator.

Each case sends null-key records from a real client (``tests/clients/``) at a fixed rate to a
12-partition topic on the one-broker test cluster and records when each record was sent and
where it landed. partsim's simulator (``partsim.keyless.simulate_keyless``, the model the
client's registry record names, with ``leaders`` one broker) then places the same send
schedule with 20 seeds. Compared, on the real send times:

* P(same partition as the previous record);
* the distribution of run lengths (records in a row on one partition), weighted by records,
  as a Kolmogorov-Smirnov distance;
* the mean max/mean over 100 ms and 1 s windows, windows weighted by their records.

What the simulator takes from the real run, besides the send times (the machine runs other
jobs, load average about 10, and the clients' threads feel it):

* Java and kafka-python (``DRAINS``): where the producer's sender thread sent its batches.
  On a loaded machine it runs late, so batches fill well past ``linger.ms`` (a 4 KiB batch
  at ``linger.ms=5`` holds 37 records, 18 ms of sending) and where batches leave decides
  where the sticky partition switches. The programs report the batch each record travelled
  in; ``observed_drains`` turns that into sender drains, which ``simulate_keyless`` takes as
  ``sender_drains`` (a drain sends the first batch of every partition, as on one broker).
  The times are the client's own millisecond clock (each record's timestamp), the clock its
  batch accounting uses. With those, the model's byte accounting and switching decide the
  rest: ``test_java_replays_the_real_placement`` holds it to the record.
* librdkafka's cold start (``TRACED``): when each of the topic's partitions joined its
  broker thread, as ``cold_start_ms`` per partition: the first record produced after
  librdkafka's own debug log line for the join (``produce.py`` marks each record in the
  same log). Until then a record gets a fresh pick; under load that is tens of records.
  The other librdkafka cases send one warm-up record and wait for it first, and the model
  starts warm.

Tolerances, per metric: ``|real - mean(simulated)| <= 4 * max(sd_sim, sd_real)``. ``sd_sim``
is the spread of the 20 simulated seeds. Where the simulator takes the sender's drains from
the run (``DRAINS``), the real run is one more draw of the same conditioned model (for Java,
the replay test shows that given the picks nothing else is left to chance), so ``sd_real`` is
0; elsewhere, the cold-start case included, ``sd_real`` is the real client's run-to-run
spread, measured over 4 repeated runs of the case on the Apache Kafka 4.4 broker
(``Case.spread``) with the machine loaded as CI's is, because those clients vary more than the model
between runs (thread timing, broker round trips). Four standard deviations let a correct model
fail about once in 16,000 comparisons under normality. The run-length KS distance must not
exceed the largest KS distance between one simulated seed and the other 19 pooled, plus the
real client's spread of that distance (0.05).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import pytest

from partsim.keyless import ProducerConfig, _simulate, simulate_keyless
from partsim.partitioners import get_partitioner
from tests import broker
from tests.clients import (
    TANSU_REFUSES,
    BuildFailed,
    Placement,
    Run,
    ToolchainMissing,
    clock_times,
    in_ci,
    is_tansu,
    keyless_stats,
    observed_drains,
    open_batch_lean,
    produce,
    run_length_distance,
)

pytestmark = pytest.mark.broker

PARTITIONS = 12
SEEDS = 20
Z = 4.0
KS_SPREAD = 0.05
METRICS = ("p_same", "window_100ms", "window_1s")

#: How the simulator is conditioned on the real run (see the module docstring).
DRAINS, WARM, TRACED = "drains", "warm", "traced"


@dataclass(frozen=True)
class Case:
    """One keyless comparison: the real client's settings and partsim's."""

    client: str
    setting: str  # the program's partitioner setting
    name: str  # partsim's registry name
    client_config: dict
    model_config: dict
    records: int = 2000
    rate: float = 2000
    value_bytes: int = 100
    #: the real client's run-to-run sd of P(same), max/mean 100 ms, max/mean 1 s (4 runs);
    #: zeros where the simulator is conditioned on the run
    spread: tuple[float, float, float] = (0.0, 0.0, 0.0)
    condition: str | None = None
    #: a model gap measured and not yet fixed (issue 16 stays open on it): a failure of this
    #: case is reported as an expected failure with its figures, and a pass as a pass
    known_gap: str | None = None


def java(batch_size: int, linger_ms: int = 5, *, adaptive: bool, gap: str | None = None) -> Case:
    config = {
        "batch.size": batch_size,
        "linger.ms": linger_ms,
        "partitioner.adaptive.partitioning.enable": str(adaptive).lower(),
    }
    model = {"linger_ms": linger_ms, "batch_size": batch_size, "adaptive": adaptive}
    return Case("java", "default", "java", config, model, condition=DRAINS, known_gap=gap)


def librdkafka(
    setting: str, linger_ms: int, spread: tuple[float, float, float], *, condition: str = WARM
) -> Case:
    """confluent-kafka with ``partitioner=setting``, against partsim's ``librdkafka:setting``."""
    return Case(
        "confluent-kafka", setting, f"librdkafka:{setting}", {"linger.ms": linger_ms},
        {"linger_ms": linger_ms}, spread=spread, condition=condition,
    )  # fmt: skip


#: Measured on an idle 2-core machine (2026-12-02; the loaded machine hides it): the record
#: replay holds, but with its own random picks the model makes runs of 16-18 records where
#: kafka-clients makes runs of 25 (real 10-12 runs of 16 and 12-13 of 25 per 2,000 records,
#: the model 26-27 and under 1), so run lengths fail their KS bound in 2 runs of 3 there.
JAVA_1K_GAP = (
    "partsim's non-adaptive Java model with 1 KiB batches on an idle machine: runs of 25 "
    "records in kafka-clients where the model makes 16-18 (open in issue 16)"
)


CASES = {
    "java-batch1k-adaptive": java(1024, adaptive=True),
    "java-batch1k": java(1024, adaptive=False, gap=JAVA_1K_GAP),
    "java-batch2k-adaptive": java(2048, adaptive=True),
    "java-batch4k-adaptive": java(4096, adaptive=True),
    "java-batch4k": java(4096, adaptive=False),
    "java-batch16k-adaptive": java(16384, adaptive=True),
    "java-batch16k": java(16384, adaptive=False),
    "java-batch4k-linger0": java(4096, 0, adaptive=False),
    "confluent-kafka-default": librdkafka("consistent_random", 5, (0.002, 0.527, 0.502)),
    # The join times condition only the spray; past it the run varies as the warm one does.
    "confluent-kafka-cold-start": librdkafka(
        "consistent_random", 5, (0.002, 0.527, 0.502), condition=TRACED
    ),
    "confluent-kafka-linger0": librdkafka("consistent_random", 0, (0.010, 0.028, 0.039)),
    "confluent-kafka-random": librdkafka("random", 5, (0.002, 0.311, 0.312)),
    "confluent-kafka-murmur2_random": librdkafka("murmur2_random", 5, (0.001, 0.460, 0.225)),
    "confluent-kafka-fnv1a_random": librdkafka("fnv1a_random", 5, (0.003, 0.420, 0.212)),
    "kafka-python-linger5": Case(
        "kafka-python", "", "kafka-python", {"linger_ms": 5}, {"linger_ms": 5},
        spread=(0.015, 0.188, 0.148),
    ),
    "kafka-python-linger100": Case(
        "kafka-python", "", "kafka-python", {"linger_ms": 100}, {"linger_ms": 100},
        spread=(0.006, 0.039, 0.044),
    ),
    # Without idempotence kafka-python's sender sends every partition's batch at once, as
    # the model's drains do (with it, a partition waits for its batch in flight).
    "kafka-python-drains": Case(
        "kafka-python", "", "kafka-python",
        {"linger_ms": 5, "enable_idempotence": "false", "acks": 1}, {"linger_ms": 5},
        records=4000, condition=DRAINS,
    ),
    "sarama-hash": Case("sarama", "hash", "sarama", {}, {}, spread=(0.002, 0.032, 0.051)),
    "sarama-murmur2": Case(
        "sarama", "murmur2", "sarama:murmur2", {}, {}, spread=(0.005, 0.037, 0.032)
    ),
    "kafka-go-crc32": Case(
        "kafka-go", "crc32", "kafka-go:crc32", {}, {}, spread=(0.007, 0.054, 0.031)
    ),
    "kafka-go-murmur2": Case(
        "kafka-go", "murmur2", "kafka-go:murmur2", {}, {}, spread=(0.007, 0.030, 0.023)
    ),
    "franz-go": Case(
        "franz-go", "default", "franz-go", {}, {}, records=3000, value_bytes=1000,
        spread=(0.001, 0.295, 0.243),
    ),
}  # fmt: skip


@functools.cache
def topic(bootstrap: str) -> str:
    name = broker.unique_topic("partsim-keyless")
    broker.create_topic(bootstrap, name, PARTITIONS)
    return name


@functools.cache
def one_broker(bootstrap: str) -> bool:
    """True when one broker leads every partition of the test topic (the fixture's cluster),
    which is what the drains and ``leaders`` below describe."""
    from confluent_kafka.admin import AdminClient

    metadata = AdminClient({"bootstrap.servers": bootstrap}).list_topics(topic(bootstrap), 30)
    leaders = {part.leader for part in metadata.topics[topic(bootstrap)].partitions.values()}
    return len(leaders) == 1


@functools.cache
def real_runs(bootstrap: str, client: str) -> dict:
    """One run of every case of ``client``, in one process."""
    labels = [label for label, case in CASES.items() if case.client == client]
    runs = []
    for label in labels:
        case = CASES[label]
        runs.append(
            Run(
                client, topic(bootstrap), case.setting, None, case.records, case.rate,
                case.value_bytes, case.client_config, warmup=case.condition == WARM,
                trace=case.condition == TRACED,
            )
        )  # fmt: skip
    try:
        result = produce(bootstrap, runs)
    except ToolchainMissing as exc:
        return {"skip": str(exc)}
    except BuildFailed as exc:
        return {"fail": str(exc)}
    return {"version": result.version, **dict(zip(labels, result.placements, strict=True))}


def real_run(bootstrap: str, label: str) -> tuple[str, Placement]:
    client = CASES[label].client
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


@dataclass(frozen=True)
class Comparison:
    """A real run and what the simulator takes from it."""

    times: np.ndarray
    config: ProducerConfig
    drains: np.ndarray | None
    #: when each record's produce() returned, where the program tells (see ``simulated``)
    returned: np.ndarray | None = None


def conditioned(bootstrap: str, case: Case, placed: Placement) -> Comparison:
    """The send schedule, the model's config and the sender drains for ``case``."""
    settings = dict(case.model_config)
    drains = None
    times = placed.times_s - placed.times_s[0]
    if get_partitioner(case.name).keyless_model in ("java", "kafka-python"):
        settings["leaders"] = [0] * PARTITIONS
    if case.condition == DRAINS:
        if not one_broker(bootstrap):
            pytest.skip("the measured drains describe a one-broker cluster's sender")
        if placed.batches is None or placed.stamps_ms is None:
            pytest.fail(f"the {case.client} program did not report batches and timestamps")
        times = clock_times(placed.stamps_ms)
        drains = observed_drains(placed.batches)
    elif case.condition == WARM:
        settings["cold_start_ms"] = 0
    elif case.condition == TRACED:
        if not placed.joined_before:
            pytest.fail("librdkafka's debug log showed no partition joining its broker")
        # A partition is available from the first record produced after it joined.
        after = np.append(times, times[-1] + 1e-3)
        first = [placed.joined_before.get(part, len(times)) for part in range(PARTITIONS)]
        settings["cold_start_ms"] = [float(after[record]) * 1000 for record in first]
    returned = None
    if placed.returned_s is not None and drains is None:
        returned = placed.returned_s - placed.times_s[0]
    return Comparison(times, ProducerConfig(**settings), drains, returned)


def simulated(model: str, case: Case, comparison: Comparison) -> list[np.ndarray]:
    """The simulator's placements for 20 seeds.

    librdkafka reads its own clock inside ``produce()``, and its sticky interval fires at the
    first record more than 10 ms after the last pick *by that clock* (integer microseconds).
    The program knows only that this read lies between its timestamp before the call and the
    call's return. With a steady send schedule (every 500 us on a quiet machine) the record
    20 gaps later is due exactly 10 ms later, so a microsecond decides between runs of 20 and
    21 records: given the program's own timestamps, spaced by its spin-wait far more evenly
    than the client's clock reads, the simulator would run 21 records almost every time where
    the real client runs 20 about a third of the time. So each seed draws each record's clock
    read uniformly within its measured bracket.
    """
    runs = []
    for seed in range(SEEDS):
        times = comparison.times
        if comparison.returned is not None:
            share = np.random.default_rng([seed, 1]).random(len(times))
            times = times + share * (comparison.returned - times)
        runs.append(
            simulate_keyless(
                model, times, case.value_bytes, PARTITIONS, config=comparison.config,
                seed=seed, sender_drains=comparison.drains,
            )
        )  # fmt: skip
    return runs


@pytest.mark.parametrize("label", list(CASES))
def test_keyless_placement_matches_the_model(kafka_bootstrap: str, label: str) -> None:
    case = CASES[label]
    version, placed = real_run(kafka_bootstrap, label)
    model = get_partitioner(case.name).keyless_model
    comparison = conditioned(kafka_bootstrap, case, placed)
    times = comparison.times
    real = keyless_stats(times, placed.partitions, PARTITIONS)
    sims = [keyless_stats(times, got, PARTITIONS) for got in simulated(model, case, comparison)]
    label_text = f"{case.client} {version} ({label}) vs partsim's {model!r} model"
    failures = []
    for metric, real_spread in zip(METRICS, case.spread, strict=True):
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
    if failures and case.known_gap:
        pytest.xfail(f"{case.known_gap}: " + "; ".join(failures))
    assert not failures, f"{label_text}:\n  " + "\n  ".join(failures)


JAVA_CASES = [label for label, case in CASES.items() if case.client == "java"]


@pytest.mark.parametrize("label", JAVA_CASES)
def test_java_replays_the_real_placement(kafka_bootstrap: str, label: str) -> None:
    """Given where the real sender drained and where each of the real partitioner's picks
    went, partsim's Java model puts every record where kafka-clients did: the byte
    accounting (v2 record sizes, 61-byte batch headers, ``hasRoomFor``), ``producedBytes``
    and the deferred switch decide every switch. No tolerance. A pick that returns the same
    partition is invisible in the real run, and the replay takes it as the same partition.
    """
    case = CASES[label]
    version, placed = real_run(kafka_bootstrap, label)
    comparison = conditioned(kafka_bootstrap, case, placed)
    replayed = _simulate(
        "java", comparison.times, case.value_bytes, PARTITIONS, config=comparison.config,
        sender_drains=comparison.drains, replay_picks=placed.partitions,
    ).partitions  # fmt: skip
    wrong = np.flatnonzero(replayed != placed.partitions)
    assert not len(wrong), (
        f"kafka-clients {version} ({label}): {len(wrong)} of {len(replayed)} records placed "
        f"elsewhere, from record {wrong[0]}: real {placed.partitions[wrong[0] :][:8].tolist()}, "
        f"replayed {replayed[wrong[0] :][:8].tolist()}"
    )


def test_kafka_python_leans_towards_open_batches(kafka_bootstrap: str) -> None:
    """kafka-python's second pick puts records on partitions that already have an open batch
    more often than a uniform pick would (``open_batch_lean``: 0 on average for any uniform
    picks, whatever the drains). Real and simulated lean, on the same sender drains, must
    agree within 4 sd of the simulated seeds, the real run being one more draw of the
    conditioned model. The lean is 200-360 per 4,000 records where a uniform pick gives 0 ±
    20, so a single-pick model fails by more than 10 sd.
    """
    label = "kafka-python-drains"
    case = CASES[label]
    version, placed = real_run(kafka_bootstrap, label)
    comparison = conditioned(kafka_bootstrap, case, placed)
    real = open_batch_lean(placed.partitions, comparison.drains, PARTITIONS)
    leans = np.array(
        [
            open_batch_lean(got, comparison.drains, PARTITIONS)
            for got in simulated("kafka-python", case, comparison)
        ]
    )
    tolerance = Z * float(leans.std(ddof=1))
    assert abs(real - leans.mean()) <= tolerance, (
        f"kafka-python {version}: lean towards open batches {real:.1f}, "
        f"simulated {leans.mean():.1f} ± {tolerance:.1f} ({len(comparison.drains)} drains)"
    )


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
