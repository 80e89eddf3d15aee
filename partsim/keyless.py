"""Keyless (null-key) records over time: where each client's sticky, random or round-robin
path puts them, record by record.

The static analysis treats a keyless record as a uniform draw, which is right in the long
run. Over short windows it is not: a sticky partitioner pours every keyless record into one
partition until it switches. :func:`simulate_keyless` reproduces each client's keyless path
over a stream of records (time, size), so :func:`window_loads` and :func:`imbalance` can
show the skew a consumer or a broker feels. ``shared/reference/partitioners.md`` is the
specification; each client's simulator cites the source it follows (§ = section there).

=====================  ===============================================================
client                 keyless path
=====================  ===============================================================
``java``               Kafka >= 3.3 (KIP-794, §1.3): sticky until ``batch.size`` bytes,
                       the switch deferred until the partition's batch is full, capped
                       at 2 x ``batch.size``; optional adaptive (queue-size) weights
``java-2.4``           Kafka 2.4 - 3.2 (KIP-480, §1.4): sticky, switches when a record
                       needs a new batch; never re-picks the previous partition
``java-legacy``        Kafka < 2.4 (§1.5): round robin from a random start
``java-round-robin``   ``RoundRobinPartitioner`` (§1.6) with the KAFKA-9965 double call
``librdkafka``         §3: sticky for ``sticky.partitioning.linger.ms`` of time, plus the
                       cold-start spray (§11)
``kafka-python``       §8: ``random.choice`` per record, picked again when the first pick
                       has no open batch (``abort_on_new_batch``)
``franz-go``           §7: ``UniformBytesPartitioner``: sticky for 64 KiB, the crossing
                       record goes to the new partition
``kafkajs``            §6: round robin from a random ``uint32`` start
``random``             a random available partition per record (sarama, kafka-go's
                       random balancers, librdkafka ``random`` for keyed records)
``round-robin``        a counter over the partitions from 0 (kafka-go ``RoundRobin``)
=====================  ===============================================================

The Java accumulator model (``java``, ``java-2.4``, ``java-round-robin``, ``kafka-python``)
---------------------------------------------------------------------------------------
One producer thread, one topic, every record keyless, times in Java's integer milliseconds
(``floor``). Each partition has a deque of batches (``RecordAccumulator``); only its last
batch can take records. A record of ``size`` bytes grows a batch's ``estimatedSizeInBytes``
by ``size + record_overhead``; a new batch starts at the 61-byte v2 batch header
(``DefaultRecordBatch.RECORD_BATCH_OVERHEAD``) plus its first record. A record fits if the
batch stays within its write limit, ``max(batch.size, header + record)``
(``MemoryRecordsBuilder.hasRoomFor``); a batch is *full* when it reaches the limit
(``isFull``) or a record did not fit (``closeForRecordAppends``). A batch is *ready* when
full or ``linger.ms`` after it was created; it leaves the deque (is drained by the sender)
``broker_latency_ms[partition]`` after it is ready (default 0), and an open batch keeps
taking records until then. A record at time ``t`` sees every batch drained whose drain time
is ``<= t``. With ``linger.ms = 0`` every record therefore opens its own batch.

Approximations, all deliberate:

* ``record_overhead`` is one constant; the real v2 record overhead varies by 1-3 bytes with
  the record's offset and timestamp deltas and its value length. No compression.
* The sender drains a ready batch at once (plus the latency): no in-flight limit, no
  ``buffer.memory`` back-pressure, no retries. At ``linger.ms = 0`` a real sender is slower
  than "at once", so at high rates a few records may share a batch there.
* A record larger than a batch fills its batch by itself (Java's upper-bound estimate can
  leave room for a tiny next record).
* Adaptive load statistics are fresh at every pick (Java refreshes them on each sender poll).
* ``available`` is fixed for the whole stream and listed in partition order (real clients
  use metadata order).
* Random numbers come from ``seed``, not from the clients' generators: the same
  distributions (including Java's ``toPositive(nextInt()) % n``), not the same sequences.
* franz-go's default partitioner is adaptive (weights ``1/(buffered records + 1)``); a record
  counts as buffered for franz-go's default linger (10 ms) after it is sent, whatever the
  broker's speed.
* librdkafka's cold start is a fixed number of records (``cold_start_records``) that each
  draw afresh; the real number is a race between threads (see ``ProducerConfig``).
* kafka-python's accumulator is Java's (same v2 batches, ``batch_size``, ``linger_ms``); its
  Python sender thread is not modelled beyond that.

What the rules imply (the tests check each):

* ``java`` at a high rate: a batch holds ``(batch.size - 61) // record`` records and, unless
  that fills it exactly, stays below ``batch.size``, so the switch waits for the *second*
  batch to fill: runs are two full batches (296 records of 100 bytes, 32682 bytes). At a
  low rate linger sends each batch, and the first record after ``producedBytes >=
  batch.size`` finds the deque empty and moves. The 2 x cap never binds with keyless
  records alone (a deferred switch completes as soon as the one open batch is full or sent,
  and a batch adds at most ``batch.size``); it is there for keyed records that reopen a batch.
* ``kafka-python``: a first pick that finds an open batch keeps the record; otherwise a second
  uniform pick decides. Records therefore lean towards partitions with an open batch: at
  2,000 records/s, 12 partitions and ``linger_ms = 5``, P(same partition as the previous
  record) is about 0.12 where a single uniform pick gives 1/12.
* ``java-round-robin``: the first ``partition()`` call of a record only lands on a partition
  that already has an open batch; otherwise the record takes the next counter value. With an
  even partition count every first call is even and no even partition ever gets a batch:
  half the partitions stay idle at *every* rate, not only at low rates. With an odd count
  and ``linger.ms = 0`` records visit ``1, 3, 5, ..., 0, 2, ...`` and reach all partitions.

Which clients use ``available``: all but librdkafka pick only available partitions (Java
``availablePartitionsForTopic``, kafkajs ``leader >= 0``, kafka-python ``available``,
franz-go writable partitions), falling back to all partitions when none is available.
librdkafka draws over all partitions, re-draws once if the pick is unavailable, and keeps
re-drawing on later records while its sticky partition is unavailable (§3, §12.8).
"""

from __future__ import annotations

import bisect
import math
import numbers
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from partsim.errors import DataError, UsageError, invalid_choice
from partsim.partitioners import check_partition_count

__all__ = [
    "BATCH_HEADER_BYTES",
    "FRANZ_STICKY_BYTES",
    "KEYLESS_CLIENTS",
    "ProducerConfig",
    "imbalance",
    "simulate_keyless",
    "window_loads",
]

#: Name -> one-line description of each client's keyless path.
KEYLESS_CLIENTS: dict[str, str] = {
    "java": "Java >= 3.3: uniform sticky, switches after batch.size bytes once the batch is full",
    "java-2.4": "Java 2.4-3.2: sticky, switches to another partition when a new batch is needed",
    "java-legacy": "Java < 2.4: round robin from a random start",
    "java-round-robin": "Java RoundRobinPartitioner: round robin with the KAFKA-9965 double call",
    "librdkafka": "librdkafka: sticky for sticky.partitioning.linger.ms, random at cold start",
    "kafka-python": "kafka-python: a random partition, picked again if it has no open batch",
    "franz-go": "franz-go: sticky for 64 KiB of records; the crossing record moves",
    "kafkajs": "kafkajs: round robin from a random uint32 start",
    "random": "a random available partition per record (sarama, kafka-go balancers)",
    "round-robin": "round robin from partition 0 (kafka-go RoundRobin)",
}

#: Bytes of a v2 record batch header (Java ``DefaultRecordBatch.RECORD_BATCH_OVERHEAD``).
BATCH_HEADER_BYTES = 61
#: franz-go's default ``UniformBytesPartitioner`` threshold (``64 << 10``, §7).
FRANZ_STICKY_BYTES = 64 << 10
#: franz-go's default ``ProducerLinger`` (``pkg/kgo/config.go``: 10 ms).
FRANZ_LINGER_MS = 10
#: librdkafka caps the derived ``sticky.partitioning.linger.ms`` at 900000 (§3).
LIBRDKAFKA_MAX_STICKY_MS = 900_000

_MASK31 = 0x7FFFFFFF
_MAX_WINDOW_CELLS = 100_000_000


def _is_number(value: object) -> bool:
    """A finite real number (not a bool)."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


@dataclass(frozen=True)
class ProducerConfig:
    """The producer settings that drive keyless placement.

    * ``linger_ms``: ``linger.ms``. Real defaults: Java < 4.0 is 0, Java 4.0 is 5
      (KIP-1030), librdkafka 5 (since v1.5.0). Only the Java batching clients and
      librdkafka (through ``sticky_linger_ms``) use it.
    * ``batch_size``: Java ``batch.size`` in bytes (default 16384); the sticky threshold is
      ``max(1, batch_size)`` (KAFKA-14303). franz-go switches after its own 64 KiB
      (:data:`FRANZ_STICKY_BYTES`) whatever this says.
    * ``sticky_linger_ms``: librdkafka ``sticky.partitioning.linger.ms``; ``None`` derives
      ``min(900000, 2 * linger_ms)`` as librdkafka does; 0 draws a partition per record.
    * ``adaptive``: Java >= 3.3 ``partitioner.adaptive.partitioning.enable``. Java's default
      is true; the simulator's is false, as issue 6 asks.
    * ``broker_latency_ms``: per partition, how long a ready batch waits before the sender
      drains it. It applies to every Java client (a slow partition's open batch keeps
      filling: KAFKA-10888 for ``java-2.4``); its queues drive the adaptive picks.
    * ``record_overhead``: bytes a record adds to a Java batch beyond its ``size``. A v2
      record with a null key and no headers carries attributes (1), timestamp delta (1-2),
      offset delta (1-2), key length (1), value length (1-3), header count (1) and its own
      length (1-2): 10 is typical for 100-byte values in a 16 KiB batch.
    * ``cold_start_records``: how many of a new librdkafka producer's first records each draw
      a partition afresh. Until the topic's partitions have joined their leader's broker
      thread (``rd_kafka_toppar_broker`` is NULL: ``src/rdkafka_broker.c``
      ``RD_KAFKA_OP_PARTITION_JOIN``), ``rd_kafka_topic_partition_available`` is false, so
      ``rd_kafka_msg_sticky_partition`` expedites its interval and every record gets a new
      random pick; the records queued before metadata arrived are partitioned in one burst
      (``rd_kafka_topic_assign_uas``). The spray is a count more than a time: 24 fresh
      producers of confluent-kafka 2.16.1 sprayed 0-21 records (mean 4.9) at 2,000/s and at
      20,000/s alike, so the default is 5.

    >>> ProducerConfig(linger_ms=5).effective_sticky_linger_ms
    10
    """

    linger_ms: float = 5.0
    batch_size: int = 16384
    sticky_linger_ms: float | None = None
    adaptive: bool = False
    broker_latency_ms: Sequence[float] | None = None
    record_overhead: int = 10
    cold_start_records: int = 5

    def __post_init__(self) -> None:
        for name in ("linger_ms",):
            value = getattr(self, name)
            if not (_is_number(value) and value >= 0):
                raise UsageError(f"{name} must be a number >= 0; got {value!r}")
        for name in ("batch_size", "record_overhead", "cold_start_records"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
                unit = "records" if name == "cold_start_records" else "bytes"
                raise UsageError(f"{name} must be a whole number of {unit} >= 0; got {value!r}")
        sticky = self.sticky_linger_ms
        if sticky is not None and not (_is_number(sticky) and sticky >= 0):
            raise UsageError(f"sticky_linger_ms must be a number >= 0 or None; got {sticky!r}")
        if self.broker_latency_ms is not None:
            latency = tuple(float(value) for value in self.broker_latency_ms)
            if not all(math.isfinite(value) and value >= 0 for value in latency):
                raise UsageError(
                    f"broker_latency_ms must be numbers >= 0, one per partition; got {latency!r}"
                )
            object.__setattr__(self, "broker_latency_ms", latency)

    @property
    def effective_sticky_linger_ms(self) -> int:
        """librdkafka's ``sticky.partitioning.linger.ms``: as set, else 2 x linger (<= 900000)."""
        if self.sticky_linger_ms is not None:
            return int(self.sticky_linger_ms)
        return int(min(LIBRDKAFKA_MAX_STICKY_MS, 2 * self.linger_ms))


_DEFAULTS = ProducerConfig()


# ------------------------------------------------------------------------------ public API
def simulate_keyless(
    client: str,
    times_s: np.ndarray,
    sizes: np.ndarray,
    partition_count: int,
    *,
    config: ProducerConfig = _DEFAULTS,
    seed: int = 0,
    available: np.ndarray | None = None,
) -> np.ndarray:
    """The partition each keyless record goes to (int32), records in time order.

    ``client`` is a name from :data:`KEYLESS_CLIENTS`; ``times_s`` are the send times in
    seconds, non-decreasing; ``sizes`` the records' serialized value bytes (the key is null;
    a scalar applies to every record). ``available`` is a boolean mask over the partitions or
    a list of partition ids; see the module notes for which clients use it. The same inputs
    and ``seed`` give the same result. The module docstring lists the model's approximations.

    With ``linger.ms = 0`` every record opens a batch, so Java's ``RoundRobinPartitioner``
    calls ``partition()`` twice per record and over 4 partitions fills only 1 and 3
    (KAFKA-9965):

    >>> times = np.arange(8) * 0.001
    >>> simulate_keyless("java-round-robin", times, 100, 4,
    ...                  config=ProducerConfig(linger_ms=0)).tolist()
    [1, 3, 1, 3, 1, 3, 1, 3]
    """
    return _simulate(
        client, times_s, sizes, partition_count, config=config, seed=seed, available=available
    ).partitions


def window_loads(
    times_s: np.ndarray,
    partitions: np.ndarray,
    sizes: np.ndarray,
    partition_count: int,
    window_s: float,
    *,
    start_s: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Messages and bytes per window and partition, two ``[windows x partitions]`` int64 arrays.

    Window ``w`` covers ``[start_s + w * window_s, start_s + (w + 1) * window_s)``;
    ``start_s`` defaults to the earliest record's time (records need not be in time order).
    Give two chunks of one stream the same ``start_s`` and their arrays add up (pad the
    shorter one with zero rows). Bytes are the records' ``sizes``.

    >>> messages, nbytes = window_loads([0.0, 0.5, 1.2], [0, 1, 1], [10, 20, 30], 2, 1.0)
    >>> messages.tolist(), nbytes.tolist()
    ([[1, 1], [0, 1]], [[10, 20], [0, 30]])
    """
    partition_count = check_partition_count(partition_count)
    if not (_is_number(window_s) and window_s > 0):
        raise UsageError(f"window_s must be a number of seconds > 0; got {window_s!r}")
    times = _as_times(times_s, ordered=False)
    count = len(times)
    partitions = np.asarray(partitions)
    if partitions.shape != (count,):
        raise UsageError(
            f"partitions must have one entry per record ({count}); got shape {partitions.shape}"
        )
    if count and (partitions.min() < 0 or partitions.max() >= partition_count):
        raise DataError(f"partitions must be in [0, {partition_count}); got values outside")
    record_bytes = _as_sizes(sizes, count)
    if count == 0:
        empty = np.zeros((0, partition_count), dtype=np.int64)
        return empty, empty.copy()
    origin = times.min() if start_s is None else float(start_s)
    window = np.floor((times - origin) / window_s).astype(np.int64)
    if window.min() < 0:
        raise UsageError(f"start_s must not be after the first record; got {start_s!r}")
    windows = int(window.max()) + 1
    if windows * partition_count > _MAX_WINDOW_CELLS:
        raise UsageError(
            f"window_s={window_s!r} gives {windows} windows x {partition_count} partitions, "
            f"more than {_MAX_WINDOW_CELLS} cells; use a longer window_s"
        )
    cell = window * partition_count + partitions.astype(np.int64)
    cells = windows * partition_count
    messages = np.bincount(cell, minlength=cells).astype(np.int64)
    nbytes = np.rint(np.bincount(cell, weights=record_bytes, minlength=cells)).astype(np.int64)
    return (
        messages.reshape(windows, partition_count),
        nbytes.reshape(windows, partition_count),
    )


def imbalance(messages: np.ndarray) -> dict[str, float | int | None]:
    """How unevenly a ``[windows x partitions]`` load array spreads over partitions.

    ``mean_max_over_mean``: the hottest partition's load over the mean load of one window,
    averaged over windows weighted by their load (so a last window of two records among
    twelve partitions, at 6.0, barely moves a round robin's 1.0); ``worst_window`` and
    ``worst_max_over_mean``: the window where that ratio peaks; ``overall_max_over_mean``:
    the same ratio for the whole stream; ``mean_idle_partitions``: partitions without load,
    averaged over loaded windows; ``idle_partitions``: partitions without load over the whole
    stream. Ratios are ``None`` when nothing was loaded. Works on bytes as well as messages.

    >>> round(imbalance([[4, 0], [1, 1]])["mean_max_over_mean"], 4)  # (4 x 2.0 + 2 x 1.0) / 6
    1.6667
    """
    loads = np.asarray(messages, dtype=np.float64)
    if loads.ndim != 2 or loads.shape[1] == 0:
        raise UsageError(
            f"messages must be a [windows x partitions] array; got shape {loads.shape}"
        )
    windows, partition_count = loads.shape
    per_window = loads.sum(axis=1)
    loaded = per_window > 0
    totals = loads.sum(axis=0)
    result: dict[str, float | int | None] = {
        "windows": int(windows),
        "loaded_windows": int(loaded.sum()),
        "mean_max_over_mean": None,
        "worst_window": None,
        "worst_max_over_mean": None,
        "overall_max_over_mean": None,
        "mean_idle_partitions": None,
        "idle_partitions": int((totals == 0).sum()),
    }
    if not loaded.any():
        return result
    ratio = loads[loaded].max(axis=1) / (per_window[loaded] / partition_count)
    worst = int(np.argmax(ratio))
    result.update(
        mean_max_over_mean=float(np.average(ratio, weights=per_window[loaded])),
        worst_window=int(np.flatnonzero(loaded)[worst]),
        worst_max_over_mean=float(ratio[worst]),
        overall_max_over_mean=float(totals.max() / totals.mean()),
        mean_idle_partitions=float((loads[loaded] == 0).sum(axis=1).mean()),
    )
    return result


# ------------------------------------------------------------------------------- dispatch
@dataclass(frozen=True)
class _Runs:
    """A simulation's partitions plus the records where the partitioner made a new pick."""

    partitions: np.ndarray
    starts: np.ndarray


@dataclass(frozen=True)
class _Stream:
    """Validated inputs shared by the client simulators."""

    times_us: np.ndarray
    sizes: np.ndarray
    partition_count: int
    ids: np.ndarray | None  # available partition ids; None = every partition
    mask: np.ndarray | None  # availability mask (librdkafka); None = all available
    config: ProducerConfig
    rng: np.random.Generator

    def choose(self, indexes: np.ndarray) -> np.ndarray:
        """Partitions for indexes into the available list."""
        if self.ids is None:
            return indexes.astype(np.int32)
        return self.ids[indexes].astype(np.int32)

    @property
    def choices(self) -> int:
        return self.partition_count if self.ids is None else len(self.ids)


def _simulate(
    client: str,
    times_s: np.ndarray,
    sizes: np.ndarray,
    partition_count: int,
    *,
    config: ProducerConfig = _DEFAULTS,
    seed: int = 0,
    available: np.ndarray | None = None,
) -> _Runs:
    """:func:`simulate_keyless`, plus the record indices where each new pick starts."""
    simulator = _SIMULATORS.get(client)
    if simulator is None:
        raise invalid_choice("client", client, KEYLESS_CLIENTS)
    if not isinstance(config, ProducerConfig):
        raise UsageError(f"config must be a ProducerConfig; got {type(config).__name__}")
    partition_count = check_partition_count(partition_count)
    times = _as_times(times_s)
    count = len(times)
    record_sizes = np.rint(_as_sizes(sizes, count)).astype(np.int64)
    if config.broker_latency_ms is not None and len(config.broker_latency_ms) != partition_count:
        raise UsageError(
            f"broker_latency_ms must have one entry per partition ({partition_count}); "
            f"got {len(config.broker_latency_ms)}"
        )
    ids, mask = _availability(available, partition_count)
    if count == 0:
        empty = np.zeros(0, dtype=np.int32)
        return _Runs(empty, empty.astype(np.int64))
    stream = _Stream(
        times_us=np.rint(times * 1e6).astype(np.int64),
        sizes=record_sizes,
        partition_count=partition_count,
        ids=ids,
        mask=mask,
        config=config,
        rng=np.random.default_rng(seed),
    )
    return simulator(stream)


def _as_times(times_s: object, *, ordered: bool = True) -> np.ndarray:
    times = np.asarray(times_s, dtype=np.float64)
    if times.ndim != 1:
        raise UsageError(f"times_s must be a 1-D array of seconds; got shape {times.shape}")
    if not np.isfinite(times).all():
        raise DataError("times_s must be finite; got NaN or infinity")
    if not ordered:
        return times
    backwards = np.flatnonzero(np.diff(times) < 0)
    if len(backwards):
        first = int(backwards[0]) + 1
        raise DataError(
            "times_s must be non-decreasing (records in time order); record "
            f"{first} at {times[first]!r} s comes after {times[first - 1]!r} s"
        )
    return times


def _as_sizes(sizes: object, count: int) -> np.ndarray:
    values = np.asarray(sizes)
    if values.ndim == 0:
        values = np.full(count, values)
    if values.shape != (count,):
        raise UsageError(
            f"sizes must be one number of bytes per record ({count}) or a scalar; "
            f"got shape {values.shape}"
        )
    if count and not (np.isfinite(values).all() and values.min() >= 0):
        raise DataError("sizes must be finite numbers of bytes >= 0")
    return values


def _availability(
    available: object, partition_count: int
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Available partition ids (ascending) and the mask; ``(None, None)`` when all are."""
    if available is None:
        return None, None
    values = np.asarray(available)
    if values.dtype == bool:
        if values.shape != (partition_count,):
            raise UsageError(
                f"available as a mask must have one flag per partition ({partition_count}); "
                f"got shape {values.shape}"
            )
        mask = values.copy()
    else:
        if values.ndim != 1 or (values.size and not np.issubdtype(values.dtype, np.integer)):
            raise UsageError("available must be a boolean mask or a list of partition ids")
        if values.size and (values.min() < 0 or values.max() >= partition_count):
            raise UsageError(f"available partition ids must be in [0, {partition_count})")
        mask = np.zeros(partition_count, dtype=bool)
        mask[values] = True
    ids = np.flatnonzero(mask)
    # No partition available: every client falls back to all partitions except librdkafka,
    # whose draws keep landing on unavailable partitions (handled by the mask).
    return (ids if len(ids) else None), mask


# ------------------------------------------------------------------- counters and draws
def _counter_partitions(stream: _Stream, first: int, count: int) -> np.ndarray:
    """``available[toPositive(first + k) % available.size()]`` for ``k = 0 .. count-1``.

    ``toPositive`` keeps the low 31 bits, so a 32-bit counter that wraps stays exact.
    """
    values = (np.uint64(first) + np.arange(count, dtype=np.uint64)) & np.uint64(_MASK31)
    return stream.choose(values % np.uint64(stream.choices))


def _java_legacy(stream: _Stream) -> _Runs:
    """Java 0.10.2 - 2.3 ``DefaultPartitioner`` (``clients/.../producer/internals/
    DefaultPartitioner.java`` @2.3.1, §1.5): a per-topic ``AtomicInteger`` starting at
    ``ThreadLocalRandom.nextInt()``; record ``k`` goes to
    ``available[toPositive(start + k) % available.size()]``.
    """
    count = len(stream.times_us)
    start = int(stream.rng.integers(0, 2**32))
    return _Runs(_counter_partitions(stream, start, count), np.arange(count))


def _kafkajs(stream: _Stream) -> _Runs:
    """kafkajs ``DefaultPartitioner`` (``src/producer/partitioners/default/partitioner.js``
    @55b0b41, §6): the counter starts at a random ``uint32`` and is pre-incremented;
    record ``k`` goes to ``available[toPositive(start + k + 1) % available.length]``.
    """
    count = len(stream.times_us)
    start = int(stream.rng.integers(0, 2**32))
    return _Runs(_counter_partitions(stream, start + 1, count), np.arange(count))


def _random(stream: _Stream) -> _Runs:
    """A uniform pick over the available partitions for every record: sarama's
    ``randomPartitioner`` (``partitioner.go`` @bd98b3a, §4), kafka-go's ``randomBalancer``
    (``balancer.go`` @3ce2979, §5).
    """
    count = len(stream.times_us)
    picks = stream.rng.integers(0, stream.choices, size=count)
    return _Runs(stream.choose(picks), np.arange(count))


def _round_robin(stream: _Stream) -> _Runs:
    """kafka-go ``RoundRobin`` (``balancer.go`` @3ce2979, §5): a counter from 0;
    record ``k`` goes to ``partitions[k % len]``.
    """
    count = len(stream.times_us)
    return _Runs(_counter_partitions(stream, 0, count), np.arange(count))


def _follow_runs(
    next_start: np.ndarray, pick: Callable[[int], tuple[int, bool]], count: int
) -> _Runs:
    """Walk run starts: ``pick(k)`` gives run ``k``'s partition and whether it may stick;
    a run that sticks ends at ``next_start[start]``, one that may not after one record.
    """
    following = next_start.tolist()
    starts: list[int] = []
    chosen: list[int] = []
    start = 0
    while start < count:
        partition, sticks = pick(len(starts))
        starts.append(start)
        chosen.append(partition)
        start = following[start] if sticks else start + 1
    bounds = np.array([*starts, count], dtype=np.int64)
    partitions = np.repeat(np.array(chosen, dtype=np.int32), np.diff(bounds))
    return _Runs(partitions, bounds[:-1])


def _franz_go(stream: _Stream) -> _Runs:
    """franz-go ``UniformBytesPartitioner(64 KiB, adaptive)`` (``pkg/kgo/partitioner.go``
    ``PartitionByBackup``, v1.22.3, §7).

    Each keyless record adds franz-go's size estimate, ``1 + 1 + 1`` (attributes, timestamp
    and offset deltas) ``+ varint(0)`` (key length) ``+ varint(len) + len`` (value)
    ``+ varint(0)`` (header count), varints zig-zag; when the running total reaches 64 KiB it
    restarts at this record's estimate and this record gets a new pick. The pick is adaptive:
    partition ``i`` has weight ``1 / (buffered_i + 1)``. A record stays buffered for the
    producer's linger (:data:`FRANZ_LINGER_MS`, franz-go's default) after it was sent, so the
    partition just left, still holding its last records, is rarely picked again. franz-go
    1.22.3 at 2,000 records/s of 1 KB over 12 partitions made runs of 64-67 records on average
    (8 runs), where a uniform pick, repeating 1 time in 12, makes about 70. The records
    other partitions buffer are older than the linger whenever a run lasts longer than it.
    """
    sizes = stream.sizes
    estimate = sizes + 5 + _zigzag_varint_len(sizes)
    before = np.concatenate([[0], np.cumsum(estimate)])  # bytes of the records before k
    count = len(sizes)
    # A run starting at s has counted before[j + 1] - before[s] after record j; the first j
    # reaching the threshold (at least s + 1) starts the next run.
    crossing = np.searchsorted(before, before[:-1] + FRANZ_STICKY_BYTES, side="left") - 1
    next_start = np.maximum(crossing, np.arange(1, count + 1)).tolist()
    times = stream.times_us
    buffered_since = np.searchsorted(times, times - FRANZ_LINGER_MS * 1000, side="left").tolist()
    ids = list(range(stream.partition_count)) if stream.ids is None else stream.ids.tolist()
    uniform = stream.rng.random(count).tolist()
    starts: list[int] = []
    chosen: list[int] = []
    start = 0
    while start < count:
        # Records still buffered per partition: those of recent runs sent within the linger.
        weights = dict.fromkeys(ids, 1.0)
        oldest = buffered_since[start]
        buffered: dict[int, int] = {}
        for run in range(len(starts) - 1, -1, -1):
            run_end = starts[run + 1] if run + 1 < len(starts) else start
            if run_end <= oldest:
                break
            partition = chosen[run]
            buffered[partition] = buffered.get(partition, 0) + run_end - max(starts[run], oldest)
        for partition, records in buffered.items():
            if partition in weights:
                weights[partition] = 1.0 / (records + 1)
        total = sum(weights.values())
        pick = uniform[len(starts)] * total
        partition = ids[-1]
        for candidate in ids:
            pick -= weights[candidate]
            if pick <= 0:
                partition = candidate
                break
        starts.append(start)
        chosen.append(partition)
        start = next_start[start]
    bounds = np.array([*starts, count], dtype=np.int64)
    partitions = np.repeat(np.array(chosen, dtype=np.int32), np.diff(bounds))
    return _Runs(partitions, bounds[:-1])


def _zigzag_varint_len(values: np.ndarray) -> np.ndarray:
    """Bytes of the zig-zag varint of each non-negative int32 (``kbin.VarintLen``)."""
    zigzag = values.astype(np.int64) * 2
    length = np.ones(len(values), dtype=np.int64)
    for bits in (7, 14, 21, 28):
        length += zigzag >= (1 << bits)
    return length


def _librdkafka(stream: _Stream) -> _Runs:
    """librdkafka's sticky path for NULL keys (``src/rdkafka_msg.c``
    ``rd_kafka_msg_sticky_partition``, ``src/rdkafka_conf.c`` @4c3b017, §3 and §11).

    A new pick (``rd_kafka_msg_partitioner_random``: ``rd_jitter(0, cnt-1)`` over *all*
    partitions, re-drawn once if unavailable; it may repeat the old one) happens at the first
    record more than ``sticky.partitioning.linger.ms`` (microseconds, ``rd_interval``) after
    the previous pick, and on every record while the sticky partition is unavailable, which
    is the case for every partition for the first ``cold_start_records`` records (see
    :class:`ProducerConfig`). Purely time-based otherwise: sizes and batches do not matter.
    ``sticky.partitioning.linger.ms = 0`` draws per record.
    """
    times = stream.times_us
    count = len(times)
    rng = stream.rng
    first = rng.integers(0, stream.partition_count, size=count)
    second = rng.integers(0, stream.partition_count, size=count)
    mask = stream.mask
    drawn = first if mask is None else np.where(mask[first], first, second)
    interval_us = stream.config.effective_sticky_linger_ms * 1000
    if interval_us == 0:
        return _Runs(drawn.astype(np.int32), np.arange(count))
    # rd_interval fires when now - last > interval (strictly).
    next_start = np.searchsorted(times, times + interval_us, side="right")
    cold = min(stream.config.cold_start_records, count)
    next_start[:cold] = np.arange(1, cold + 1)
    picks = drawn.tolist()
    usable = [True] * stream.partition_count if mask is None else mask.tolist()
    return _follow_runs(next_start, lambda run: (picks[run], usable[picks[run]]), count)


# ------------------------------------------------------------------- the Java accumulator
class _Draws:
    """``Utils.toPositive(ThreadLocalRandom.nextInt())``: uniform 31-bit ints, drawn in blocks."""

    __slots__ = ("_index", "_rng", "_values")

    def __init__(self, rng: np.random.Generator) -> None:
        self._rng = rng
        self._values: list[int] = []
        self._index = 0

    def __call__(self) -> int:
        if self._index == len(self._values):
            self._values = self._rng.integers(0, 2**31, size=1024).tolist()
            self._index = 0
        value = self._values[self._index]
        self._index += 1
        return value


class _Deque:
    """One partition's batch deque: its last batch (open or not) and, for adaptive, the drain
    times of the closed batches still waiting for the sender.
    """

    __slots__ = ("created", "drains", "expire", "latency", "limit", "open", "size")

    def __init__(self, latency: float) -> None:
        self.latency = latency
        self.open = False
        self.size = 0
        self.limit = 0
        self.created = 0
        self.expire = 0.0
        self.drains: deque[float] | None = None

    def start(self, now: int, nbytes: int, batch_size: int, linger: float) -> None:
        """A new batch holding one record of ``nbytes`` (header included)."""
        self.open = True
        self.size = nbytes
        self.limit = max(batch_size, nbytes)
        self.created = now
        self.expire = now + linger + self.latency

    def close(self, now: int, linger: float) -> None:
        """The last batch is full or closed for appends; it is ready from now (or earlier)."""
        self.open = False
        if self.drains is not None:
            self.drains.append(min(now, self.created + linger) + self.latency)

    def queue_size(self, now: int) -> int:
        """Batches created and not yet drained at ``now`` (Java ``deque.size()``)."""
        drains = self.drains
        while drains and drains[0] <= now:
            drains.popleft()
        if self.open and now >= self.expire:
            self.open = False
        return len(drains) + self.open


class _Accumulator:
    """Per-partition deques plus the random partition choices of the Java clients."""

    def __init__(self, stream: _Stream) -> None:
        config = stream.config
        self.partition_count = stream.partition_count
        self.ids = None if stream.ids is None else stream.ids.tolist()
        self.choices = stream.choices
        self.batch_size = config.batch_size
        self.linger = config.linger_ms
        self.latency = config.broker_latency_ms
        self.adaptive = config.adaptive
        self.deques: dict[int, _Deque] = {}
        self.draw = _Draws(stream.rng)
        # With no partition available Java draws over all of them, without exclusion.
        self.none_available = stream.mask is not None and stream.ids is None

    def deque(self, partition: int, now: int) -> _Deque:
        """The partition's deque as a record at ``now`` sees it (computeIfAbsent)."""
        queue = self.deques.get(partition)
        if queue is None:
            queue = _Deque(0.0 if self.latency is None else self.latency[partition])
            if self.adaptive:
                queue.drains = deque()
            self.deques[partition] = queue
        elif queue.open and now >= queue.expire:
            queue.open = False  # the sender drained it
        return queue

    def available(self, index: int) -> int:
        return index if self.ids is None else self.ids[index]

    def uniform(self) -> int:
        """``available[random % available.size()]``."""
        return self.available(self.draw() % self.choices)

    def built_in(self, now: int) -> int:
        """``BuiltInPartitioner.nextPartition`` (§1.3): adaptive weights or uniform."""
        random = self.draw()
        if self.adaptive and len(self.deques) >= self.partition_count:
            # RecordAccumulator.partitionReady builds queue sizes only once every partition
            # has an entry in the batches map, and only for partitions with a leader; with
            # an unavailable partition that never happens, so this stays uniform.
            sizes = [self.deques[p].queue_size(now) for p in range(self.partition_count)]
            index = _adaptive_index(sizes, random)
            if index is not None:
                return index
        return self.available(random % self.choices)

    def sticky_cache(self, previous: int) -> int:
        """``StickyPartitionCache.nextPartition`` (§1.4): never the previous partition when
        at least two are available.
        """
        if self.choices == 1:
            return self.available(0)
        while True:
            partition = self.uniform()
            if partition != previous or self.none_available:
                return partition


def _adaptive_index(queue_sizes: list[int], random: int) -> int | None:
    """The pick of ``BuiltInPartitioner.nextPartition`` from queue sizes, or ``None`` (uniform).

    Weights ``(max + 1) - size``, cumulative table, ``random % total``, first entry greater
    (``updatePartitionLoadStats``; §1.3). ``None`` when fewer than 2 partitions or all sizes
    equal. For sizes 0, 3, 1 the table is 4, 5, 8: randoms 0-3 pick 0, 4 picks 1, 5-7 pick 2.

    >>> [_adaptive_index([0, 3, 1], random) for random in range(9)]
    [0, 0, 0, 0, 1, 2, 2, 2, 0]
    """
    if len(queue_sizes) < 2 or min(queue_sizes) == max(queue_sizes):
        return None
    top = max(queue_sizes) + 1
    table = []
    running = 0
    for size in queue_sizes:
        running += top - size
        table.append(running)
    return bisect.bisect_right(table, random % running)


def _java_inputs(stream: _Stream) -> tuple[list[int], list[int], list[int], int]:
    """Record times in ms, record bytes in a batch, their prefix sums, and the record count."""
    now = (stream.times_us // 1000).tolist()
    record = stream.sizes + stream.config.record_overhead
    before = np.concatenate([[0], np.cumsum(record)]).tolist()
    return now, record.tolist(), before, len(now)


def _java_uniform_sticky(stream: _Stream) -> _Runs:
    """Java >= 3.3 keyless path: ``BuiltInPartitioner`` + ``RecordAccumulator.append``
    (``clients/.../producer/internals/BuiltInPartitioner.java``, ``RecordAccumulator.java``
    @1eb7644, KIP-794, §1.3).

    The sticky partition is chosen lazily. Each append adds the growth of the batch's
    estimated size to ``producedBytes`` (a new batch adds its header too). After an append
    the partitioner switches when ``producedBytes >= batch.size`` and the partition's last
    batch is full, or ``producedBytes >= 2 * batch.size``; the next record goes to the new
    partition. Before appending, ``partitionChanged`` completes a deferred switch when the
    last batch is full or gone (drained, or closed because this record did not fit), and
    then this record goes to the new partition. The new partition is uniform over the
    available ones (it may be the same) or adaptive. The loop steps over runs of records
    that share one batch, not over records.
    """
    now, record, before, count = _java_inputs(stream)
    state = _Accumulator(stream)
    linger = state.linger
    batch_size = state.batch_size
    switch_at = max(1, batch_size)
    cap = 2 * switch_at
    partitions = np.empty(count, dtype=np.int32)
    starts: list[int] = [0]
    partition = state.built_in(now[0])
    produced = 0
    i = 0
    while i < count:
        t = now[i]
        queue = state.deque(partition, t)
        if not queue.open and produced >= switch_at:  # partitionChanged
            partition, produced = state.built_in(t), 0
            _restart(starts, i)
            continue
        if queue.open:
            room = queue.limit - queue.size
            end = bisect.bisect_right(before, before[i] + room, i, count + 1) - 1
            if end > i:
                end = min(
                    end,
                    bisect.bisect_left(now, queue.expire, i, count),
                    bisect.bisect_left(before, before[i] + cap - produced, i + 1, count + 1),
                )
                added = before[end] - before[i]
                queue.size += added
                produced += added
                partitions[i:end] = partition
                full = queue.size >= queue.limit
                if full:
                    queue.close(now[end - 1], linger)
                if produced >= cap or (full and produced >= switch_at):
                    partition, produced = state.built_in(now[end - 1]), 0
                    _restart(starts, end)
                i = end
                continue
            queue.close(t, linger)  # tryAppend failed: closeForRecordAppends
            if produced >= switch_at:  # partitionChanged before appendNewBatch
                partition, produced = state.built_in(t), 0
                _restart(starts, i)
                continue
        nbytes = BATCH_HEADER_BYTES + record[i]
        queue.start(t, nbytes, batch_size, linger)
        produced += nbytes
        partitions[i] = partition
        full = nbytes >= queue.limit
        if full:
            queue.close(t, linger)
        if produced >= cap or (full and produced >= switch_at):
            partition, produced = state.built_in(t), 0
            _restart(starts, i + 1)
        i += 1
    return _Runs(partitions, _starts(starts, count))


def _java_sticky_cache(stream: _Stream) -> _Runs:
    """Java 2.4 - 3.2 keyless path: ``DefaultPartitioner`` + ``StickyPartitionCache`` with
    ``KafkaProducer.doSend``'s ``abortOnNewBatch`` (``clients/.../producer/internals/
    DefaultPartitioner.java``, ``StickyPartitionCache.java`` @2.4.0, KIP-480, §1.4).

    A record goes to the cached sticky partition if that partition's last batch is open and
    has room. Otherwise the append aborts, ``onNewBatch`` draws a new sticky partition (never
    the previous one when two or more are available), and the record is appended there
    (to its open batch if it fits, else to a new batch). The first record aborts too: its
    partition is the second draw.
    """
    now, record, before, count = _java_inputs(stream)
    state = _Accumulator(stream)
    linger = state.linger
    batch_size = state.batch_size
    partitions = np.empty(count, dtype=np.int32)
    starts: list[int] = []
    sticky = state.uniform()
    i = 0
    while i < count:
        t = now[i]
        queue = state.deque(sticky, t)
        if queue.open:
            room = queue.limit - queue.size
            end = bisect.bisect_right(before, before[i] + room, i, count + 1) - 1
            if end > i:
                end = min(end, bisect.bisect_left(now, queue.expire, i, count))
                queue.size += before[end] - before[i]
                partitions[i:end] = sticky
                if queue.size >= queue.limit:
                    queue.close(now[end - 1], linger)
                i = end
                continue
            queue.close(t, linger)
        sticky = state.sticky_cache(sticky)  # onNewBatch, then partition() again
        starts.append(i)
        _append_one(state.deque(sticky, t), t, record[i], batch_size, linger)
        partitions[i] = sticky
        i += 1
    return _Runs(partitions, np.array(starts, dtype=np.int64))


def _java_round_robin(stream: _Stream) -> _Runs:
    """Java ``RoundRobinPartitioner`` (``clients/.../producer/RoundRobinPartitioner.java``
    @1eb7644, §1.6) with ``KafkaProducer.doSend``'s double call (KAFKA-9965, KAFKA-16283).

    A per-topic counter from 0 picks ``available[toPositive(counter++) % size]``. When that
    partition has no open batch with room, the append aborts and ``partition()`` runs again,
    so the record goes to the next counter value. Partitions that only a first call reaches
    never get a batch: with an even count every first call is even, and only the odd half
    ever receives records, at any rate.
    """
    counter = 0

    def pick(state: _Accumulator) -> int:
        nonlocal counter
        partition = state.available((counter & _MASK31) % state.choices)
        counter += 1
        return partition

    return _double_pick(stream, pick)


def _kafka_python(stream: _Stream) -> _Runs:
    """kafka-python ``DefaultPartitioner`` with ``KafkaProducer.send``'s second pick
    (``kafka/partitioner/default.py``, ``kafka/producer/kafka.py``,
    ``kafka/producer/record_accumulator.py``, 3.0.12, §8).

    ``random.choice(available)`` picks a partition; a null-key record is appended with
    ``abort_on_new_batch=True``, so when that partition has no open batch with room the
    producer calls the partitioner again (``DefaultPartitioner`` has no ``on_new_batch``)
    and appends to the second pick, opening a batch there if needed.
    """
    return _double_pick(stream, _Accumulator.uniform)


def _double_pick(stream: _Stream, pick: Callable[[_Accumulator], int]) -> _Runs:
    """A first ``pick`` that keeps the record only if its partition has an open batch with
    room; otherwise a second ``pick`` takes it (appending to its open batch or a new one).
    """
    now, record, _, count = _java_inputs(stream)
    state = _Accumulator(stream)
    linger = state.linger
    batch_size = state.batch_size
    chosen = [0] * count
    for i in range(count):
        t = now[i]
        nbytes = record[i]
        partition = pick(state)
        queue = state.deque(partition, t)
        if queue.open:
            if queue.size + nbytes <= queue.limit:
                queue.size += nbytes
                if queue.size >= queue.limit:
                    queue.close(t, linger)
                chosen[i] = partition
                continue
            queue.close(t, linger)
        partition = pick(state)
        _append_one(state.deque(partition, t), t, nbytes, batch_size, linger)
        chosen[i] = partition
    return _Runs(np.array(chosen, dtype=np.int32), np.arange(count))


def _append_one(queue: _Deque, now: int, nbytes: int, batch_size: int, linger: float) -> None:
    """``RecordAccumulator.append`` with ``abortOnNewBatch = false``: the open batch if the
    record fits, else (closing it) a new batch.
    """
    if queue.open:
        if queue.size + nbytes <= queue.limit:
            queue.size += nbytes
            if queue.size >= queue.limit:
                queue.close(now, linger)
            return
        queue.close(now, linger)
    queue.start(now, BATCH_HEADER_BYTES + nbytes, batch_size, linger)
    if queue.size >= queue.limit:
        queue.close(now, linger)


def _restart(starts: list[int], index: int) -> None:
    """Record that a new pick applies from record ``index`` (a later pick for the same record
    replaces an earlier one).
    """
    if starts and starts[-1] == index:
        return
    starts.append(index)


def _starts(starts: list[int], count: int) -> np.ndarray:
    return np.array([start for start in starts if start < count], dtype=np.int64)


_SIMULATORS: dict[str, Callable[[_Stream], _Runs]] = {
    "java": _java_uniform_sticky,
    "java-2.4": _java_sticky_cache,
    "java-legacy": _java_legacy,
    "java-round-robin": _java_round_robin,
    "librdkafka": _librdkafka,
    "kafka-python": _kafka_python,
    "franz-go": _franz_go,
    "kafkajs": _kafkajs,
    "random": _random,
    "round-robin": _round_robin,
}
