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
                       cold-start spray until the partitions join their broker (§11)
``kafka-python``       §8: ``random.choice`` per record, picked again when the first pick
                       has no batch with room (``abort_on_new_batch``)
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
batch can take records. A record grows its batch by its exact v2 size at its offset and
timestamp deltas in the batch (:func:`v2_record_bytes`: 109 bytes for a 100-byte value while
both deltas are below 64, 110 or 111 after); a new batch starts at the 61-byte v2 batch
header (``DefaultRecordBatch.RECORD_BATCH_OVERHEAD``) plus its first record. A record fits if
the batch stays within its write limit, ``max(batch.size, 61 + 21 + key, value and header
bytes)`` (``MemoryRecordsBuilder.hasRoomFor``, ``AbstractRecords.
estimateSizeInBytesUpperBound``; kafka-python: ``batch_size``); a batch is *full* when it
reaches the limit (``isFull``) or, in Java, a record did not fit (``closeForRecordAppends``).

The sender: a partition's first batch is *ready* ``linger.ms`` after it was created, when it
is full, or when another batch is behind it, plus the partition's ``broker_latency_ms``.
When one partition is ready, the sender sends the first batch of every partition with the
same leader (``drainBatchesForOneNode``; ``leaders``, default one broker per partition), and
it runs again while one is ready. It also runs when an append made a new batch or a full
one (``sender.wakeup()``). The adaptive load statistics are the queue sizes as the sender
last saw them (``partitionReady``), after its last drain: a drain's answer wakes it again.
A record sees what the sender did up to its own time. With ``linger.ms = 0`` every record
therefore opens its own batch. Given ``sender_drains`` (measured from a real producer), the
sender runs only there instead.

Approximations, all deliberate:

* The modelled sender runs the moment a batch is ready, as a sender thread with a core to
  itself would: no in-flight limit, no ``buffer.memory`` back-pressure, no retries. A loaded
  machine's sender runs late and its batches fill further; :func:`simulate_keyless` takes
  measured drains for that (``sender_drains``).
* No compression: Java then counts bytes through a learned compression ratio (times 1.05).
* ``available`` is fixed for the whole stream and listed in partition order (real clients
  use metadata order).
* Random numbers come from ``seed``, not from the clients' generators: the same
  distributions (including Java's ``toPositive(nextInt()) % n``), not the same sequences.
* franz-go's default partitioner is adaptive (weights ``1/(buffered records + 1)``); a record
  counts as buffered for franz-go's default linger (10 ms) after it is sent, whatever the
  broker's speed.
* librdkafka's cold start is given as the time each partition joins its broker thread
  (``cold_start_ms``); the real time is a race between threads (see ``ProducerConfig``).
* kafka-python's accumulator is Java's, with kafka-python's write limit and without the
  close on a failed append; its sender's idempotent mode (a partition waits for its batch
  in flight) is not modelled, nor is its clock (``time.monotonic`` seconds, not ms).

What the rules imply (the tests check each):

* ``java`` at a high rate: a batch holds as many records as fit (148 of 100 bytes in 16 KiB,
  16277 bytes; 37 in 4 KiB) and, unless that fills it exactly, stays below ``batch.size``,
  so the switch waits for the *second* batch to fill: runs are two full batches (296
  records). On one broker the sender, draining that full batch, also sends the new
  partition's one-record batch, so runs there are 1 + 148. At a low rate linger sends each
  batch, and the first record after ``producedBytes >= batch.size`` finds the deque empty and
  moves. The 2 x cap never binds with keyless records alone (a deferred switch completes as
  soon as the one open batch is full or sent, and a batch adds at most ``batch.size``); it is
  there for keyed records that reopen a batch.
* ``kafka-python``: a first pick that finds a batch with room keeps the record; otherwise a
  second uniform pick decides. Records therefore lean towards partitions with an open batch:
  at 2,000 records/s, 12 partitions, ``linger_ms = 5`` and one broker, P(same partition as
  the previous record) is about 0.13 where a single uniform pick gives 1/12.
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
import heapq
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
    "v2_record_bytes",
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
    * ``broker_latency_ms``: per partition, how much later than linger (or than filling up)
      its first batch counts as ready. It applies to every Java client (a slow partition's
      open batch keeps filling: KAFKA-10888 for ``java-2.4``); its queues drive the adaptive
      picks.
    * ``leaders``: the leader broker of each partition, in partition order (any hashable
      ids). The sender sends every partition of a broker together, once one of them has a
      ready batch (``RecordAccumulator.drainBatchesForOneNode``), so a young batch on a
      partition that shares its leader with a ready one leaves early. ``None``: every
      partition has a leader of its own. A one-broker cluster is ``[0] * partition_count``.
    * ``cold_start_ms``: a new librdkafka producer gives every record a fresh random pick until
      the topic's partitions have joined their leader's broker thread, this long after its first
      record (one number, or one per partition: a record draws again while the partition it
      stuck to has not joined). ``rd_kafka_msg_sticky_partition`` expedites its interval while
      the sticky partition is not available (``rd_kafka_topic_partition_available``: its
      ``rd_kafka_toppar_broker`` is still NULL), and ``rktp_broker`` is set only when the
      leader's broker thread serves the ``RD_KAFKA_OP_PARTITION_JOIN`` op that the topic's first
      metadata enqueued (``src/rdkafka_broker.c``, ``src/rdkafka_partition.c``
      ``rd_kafka_toppar_broker_delegate``); records produced before that metadata wait
      unpartitioned and are partitioned in one burst when it arrives
      (``rd_kafka_topic_assign_uas``), each with a fresh pick too. So the spray lasts the
      metadata round trip plus the broker thread's wake-up, a matter of the machine: the
      default, 2.5 ms, is 5 records at 2,000/s (24 fresh confluent-kafka 2.16.1 producers
      sprayed a mean 4.9 records at 2,000/s on a quiet machine); on the 2-core test machine
      under a load of about 10, the joins came 14-130 ms after the first record.

    >>> ProducerConfig(linger_ms=5).effective_sticky_linger_ms
    10
    """

    linger_ms: float = 5.0
    batch_size: int = 16384
    sticky_linger_ms: float | None = None
    adaptive: bool = False
    broker_latency_ms: Sequence[float] | None = None
    leaders: Sequence[object] | None = None
    cold_start_ms: float | Sequence[float] = 2.5

    def __post_init__(self) -> None:
        if not (_is_number(self.linger_ms) and self.linger_ms >= 0):
            raise UsageError(f"linger_ms must be a number >= 0; got {self.linger_ms!r}")
        cold = self.cold_start_ms
        if isinstance(cold, (list, tuple, np.ndarray)):
            cold = tuple(float(value) for value in cold)
            object.__setattr__(self, "cold_start_ms", cold)
        if not all(_is_number(value) and value >= 0 for value in np.atleast_1d(cold)):
            raise UsageError(
                f"cold_start_ms must be a number >= 0, or one per partition; got {cold!r}"
            )
        value = self.batch_size
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
            raise UsageError(f"batch_size must be a whole number of bytes >= 0; got {value!r}")
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
        if self.leaders is not None:
            object.__setattr__(self, "leaders", tuple(self.leaders))

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
    sender_drains: Sequence[int] | None = None,
) -> np.ndarray:
    """The partition each keyless record goes to (int32), records in time order.

    ``client`` is a name from :data:`KEYLESS_CLIENTS`; ``times_s`` are the send times in
    seconds, non-decreasing; ``sizes`` the records' serialized value bytes (the key is null;
    a scalar applies to every record). ``available`` is a boolean mask over the partitions or
    a list of partition ids; see the module notes for which clients use it. The same inputs
    and ``seed`` give the same result. The module docstring lists the model's approximations.

    ``sender_drains`` (the clients with a Java accumulator: ``java``, ``java-2.4``,
    ``java-round-robin``, ``kafka-python``) replaces the modelled sender with a measured
    one: record indices, in order, just before which the sender sent the first batch of every
    partition, as it does on a one-broker cluster. Where batches leave depends on the
    producer's sender thread and the broker's answers, that is on the machine; a real
    producer's batches show where it drained (a batch that ended before it was full).

    With ``linger.ms = 0`` every record opens a batch, so Java's ``RoundRobinPartitioner``
    calls ``partition()`` twice per record and over 4 partitions fills only 1 and 3
    (KAFKA-9965):

    >>> times = np.arange(8) * 0.001
    >>> simulate_keyless("java-round-robin", times, 100, 4,
    ...                  config=ProducerConfig(linger_ms=0)).tolist()
    [1, 3, 1, 3, 1, 3, 1, 3]
    """
    return _simulate(
        client, times_s, sizes, partition_count, config=config, seed=seed, available=available,
        sender_drains=sender_drains,
    ).partitions  # fmt: skip


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
    drains: np.ndarray | None = None  # measured sender drains (record indices)
    replay: list[int] | None = None  # ``java``: the partition each new pick returns, by record

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
    sender_drains: Sequence[int] | None = None,
    replay_picks: np.ndarray | None = None,
) -> _Runs:
    """:func:`simulate_keyless`, plus the record indices where each new pick starts.

    ``replay_picks`` (``java`` only, for tests against a real producer): instead of a random
    draw, a new pick that applies from record ``k`` returns ``replay_picks[k]``.
    """
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
    if config.leaders is not None and len(config.leaders) != partition_count:
        raise UsageError(
            f"leaders must name one broker per partition ({partition_count}); "
            f"got {len(config.leaders)}"
        )
    cold = config.cold_start_ms
    if isinstance(cold, tuple) and len(cold) != partition_count:
        raise UsageError(
            f"cold_start_ms must be one number, or one per partition ({partition_count}); "
            f"got {len(cold)}"
        )
    drains = _sender_drains(sender_drains, client)
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
        drains=drains,
        replay=None if replay_picks is None else np.asarray(replay_picks).tolist(),
    )
    return simulator(stream)


#: The clients whose keyless path runs through a Java-style accumulator and sender.
ACCUMULATOR_CLIENTS = ("java", "java-2.4", "java-round-robin", "kafka-python")


def _sender_drains(drains: object, client: str) -> np.ndarray | None:
    if drains is None:
        return None
    if client not in ACCUMULATOR_CLIENTS:
        raise UsageError(
            f"sender_drains applies to {', '.join(ACCUMULATOR_CLIENTS)}; got client {client!r}"
        )
    values = np.asarray(drains)
    if values.ndim != 1 or (values.size and not np.issubdtype(values.dtype, np.integer)):
        raise UsageError("sender_drains must be a list of record indices")
    if values.size and (values.min() < 0 or (np.diff(values) < 0).any()):
        raise UsageError("sender_drains must be record indices >= 0 in ascending order")
    return values.astype(np.int64)


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
    next_start: np.ndarray, pick: Callable[[int, int], tuple[int, bool]], count: int
) -> _Runs:
    """Walk run starts: ``pick(k, start)`` gives run ``k``'s partition and whether it may
    stick; a run that sticks ends at ``next_start[start]``, one that may not after one record.
    """
    following = next_start.tolist()
    starts: list[int] = []
    chosen: list[int] = []
    start = 0
    while start < count:
        partition, sticks = pick(len(starts), start)
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
    is the case for every partition until ``cold_start_ms`` after the first record (see
    :class:`ProducerConfig`). The last record of that spray fires the interval
    (``rd_interval_expedite`` then ``rd_interval``), so the records after it keep its pick
    until the interval passes. Purely time-based otherwise: sizes and batches do not matter.
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
    cold = np.broadcast_to(np.asarray(stream.config.cold_start_ms), (stream.partition_count,))
    joined = (times[0] + np.rint(cold * 1000)).tolist()  # when each partition is available
    after = [*times[1:].tolist(), math.inf]  # the time of the record after each one
    picks = drawn.tolist()
    usable = [True] * stream.partition_count if mask is None else mask.tolist()

    def pick(run: int, start: int) -> tuple[int, bool]:
        # The next record draws again if the pick is unavailable then (or for good).
        partition = picks[run]
        return partition, usable[partition] and after[start] >= joined[partition]

    return _follow_runs(next_start, pick, count)


# ------------------------------------------------------------------- the Java accumulator
class _Draws:
    """``Utils.toPositive(ThreadLocalRandom.nextInt())``: uniform 31-bit ints, drawn in blocks;
    ``pick()`` maps the next one to ``available[random % available.size()]``.
    """

    __slots__ = ("_ids", "_index", "_modulus", "_picks", "_rng", "_values")

    def __init__(self, rng: np.random.Generator, choices: int, ids: list[int] | None) -> None:
        self._rng = rng
        self._modulus = choices
        self._ids = None if ids is None else np.asarray(ids)
        self._values: list[int] = []
        self._picks: list[int] = []
        self._index = 0

    def _refill(self) -> None:
        block = self._rng.integers(0, 2**31, size=1024)
        picks = block % self._modulus
        self._values = block.tolist()
        self._picks = (picks if self._ids is None else self._ids[picks]).tolist()
        self._index = 0

    def __call__(self) -> int:
        if self._index == len(self._values):
            self._refill()
        self._index += 1
        return self._values[self._index - 1]

    def pick(self) -> int:
        if self._index == len(self._values):
            self._refill()
        self._index += 1
        return self._picks[self._index - 1]


def _varint_bytes(value: int) -> int:
    """Bytes of Kafka's zig-zag varint (or varlong) of ``value`` (``ByteUtils.sizeOfVarint``).

    >>> [_varint_bytes(value) for value in (0, 63, 64, 8191, 8192, -1, -65)]
    [1, 1, 2, 2, 3, 1, 2]
    """
    if 0 <= value < 64:
        return 1
    zigzag = value * 2 if value >= 0 else -value * 2 - 1
    length = 1
    while zigzag >= 0x80:
        zigzag >>= 7
        length += 1
    return length


def v2_record_bytes(value_bytes: int, offset_delta: int = 0, timestamp_delta_ms: int = 0) -> int:
    """Bytes of one v2 record with a null key, ``value_bytes`` of value and no headers, at
    ``offset_delta`` and ``timestamp_delta_ms`` from its batch's first record: Java's
    ``DefaultRecord.sizeInBytes`` (``clients/.../common/record/DefaultRecord.java``
    @1eb7644). The body is attributes (1), the timestamp delta (varlong), the offset delta
    (varint), the key length (-1: 1 byte), the value length (varint) and the value, and the
    header count (1); the record is the body plus the varint of its length.

    A 100-byte value takes 109 bytes while both deltas are below 64, 110 when one is not:

    >>> v2_record_bytes(100), v2_record_bytes(100, 64), v2_record_bytes(100, 64, 64)
    (109, 110, 111)
    """
    body = (
        3 + _varint_bytes(offset_delta) + _varint_bytes(timestamp_delta_ms)
        + _varint_bytes(value_bytes) + value_bytes
    )  # fmt: skip
    return body + _varint_bytes(body)


class _Batch:
    """One producer batch: its creation time (ms), records, estimated bytes and write limit.

    ``full`` is Java's ``isFull`` (the write limit reached, or closed for appends after a
    record did not fit); ``behind`` is when the next batch of its deque was created (the
    sender treats a batch with another behind it as ready: ``deque.size() > 1``).
    """

    __slots__ = ("behind", "created", "full", "full_at", "limit", "records", "serial", "size")

    def __init__(self, serial: int, created: int, size: int, limit: int) -> None:
        self.serial = serial
        self.created = created
        self.records = 1
        self.size = size
        self.limit = limit
        self.full = size >= limit
        self.full_at = float(created) if self.full else math.inf
        self.behind = math.inf


class _Accumulator:
    """Per-partition batch deques, the sender that drains them, and the partition picks of
    the Java clients (``RecordAccumulator``, ``Sender``; kafka-python's copies of them).

    Bytes: a record adds :func:`v2_record_bytes` at its offset and timestamp deltas in its
    batch; a new batch adds the 61-byte header too. A record fits while the batch stays
    within its write limit (``MemoryRecordsBuilder.hasRoomFor``), ``max(batch.size, 61 + 21
    + key, value and header bytes)`` (``AbstractRecords.estimateSizeInBytesUpperBound``;
    kafka-python: ``batch_size``); the first record of a batch always fits.

    The sender: a partition's first batch is ready once ``linger.ms`` old, full, or with
    another batch behind it, plus the partition's ``broker_latency_ms``. When any partition
    led by a broker has a ready batch, the sender sends the first batch of *every* partition
    that broker leads (``RecordAccumulator.drainBatchesForOneNode``), and loops while one is
    ready. It runs at each ready time and whenever an append made a new batch or a full one
    (``sender.wakeup()``). Given ``drains`` (record indices), it drains only just before
    those records instead, sending the first batch of every partition. Adaptive load
    statistics are the deque sizes the sender saw last (``partitionReady``): after its last
    drain (whose answer wakes it again) or wake-up.
    """

    def __init__(self, stream: _Stream, *, close_on_fail: bool = True, python: bool = False):
        config = stream.config
        self.partition_count = stream.partition_count
        self.ids = None if stream.ids is None else stream.ids.tolist()
        self.choices = stream.choices
        self.batch_size = config.batch_size
        self.linger = float(config.linger_ms)
        self.latency = (
            [0.0] * self.partition_count
            if config.broker_latency_ms is None
            else list(config.broker_latency_ms)
        )
        leaders = config.leaders
        self.node = list(range(self.partition_count)) if leaders is None else list(leaders)
        self.active: dict[int, set[int]] = {node: set() for node in set(self.node)}
        self.adaptive = config.adaptive
        self.close_on_fail = close_on_fail
        self.python = python
        self.deques: list[deque[_Batch]] = [deque() for _ in range(self.partition_count)]
        self.touched: set[int] = set()
        self.stats: list[int] | None = None
        self.draw = _Draws(stream.rng, self.choices, self.ids)
        self.uniform = self.draw.pick  # ``available[random % available.size()]``
        # With no partition available Java draws over all of them, without exclusion.
        self.none_available = stream.mask is not None and stream.ids is None
        self.now = (stream.times_us // 1000).tolist()
        sizes = stream.sizes
        # A record's body less its two deltas: attributes, null key and header count (3),
        # the value and its length varint. Both deltas below 64 take a byte each.
        value_part = 3 + _zigzag_varint_len(sizes) + sizes
        self.value_part = value_part.tolist()
        small = value_part + 2
        small_bytes = small + _zigzag_varint_len(small)
        self.small = small_bytes.tolist()
        # Prefix sums of record bytes when the two deltas take 2, 3 and 4 bytes together.
        self.prefix = {}
        for delta_bytes in (2, 3, 4):
            body = value_part + delta_bytes
            running = np.cumsum(body + _zigzag_varint_len(body))
            self.prefix[delta_bytes] = np.concatenate([[0], running]).tolist()
        self.first = (BATCH_HEADER_BYTES + small + _zigzag_varint_len(small)).tolist()
        # Java's write limit: max(batch.size, header + MAX_RECORD_OVERHEAD (21) + key, value
        # and header bytes); kafka-python's is batch_size.
        upper = BATCH_HEADER_BYTES + 20 + value_part
        limits = (
            np.full(len(sizes), self.batch_size) if python else np.maximum(self.batch_size, upper)
        )
        self.limits = limits.tolist()
        self.events: list[tuple[float, int, int]] = []  # (ready time, partition, serial)
        self.serial = 0
        self.now_ms = 0
        self.drains = None if stream.drains is None else stream.drains.tolist()
        self.next_drain = 0

    # ----------------------------------------------------------------- batch bytes
    def record_bytes(self, batch: _Batch, index: int) -> int:
        """Bytes record ``index`` adds to ``batch`` (v2, after its current records)."""
        delta = self.now[index] - batch.created
        if batch.records < 64 and 0 <= delta < 64:
            return self.small[index]
        body = self.value_part[index] + _varint_bytes(batch.records) + _varint_bytes(delta)
        return body + _varint_bytes(body)

    def try_append(self, partition: int, index: int) -> int:
        """``tryAppend``: add record ``index`` to the partition's last batch if it has room;
        the bytes added, or 0 (Java closes a batch a record did not fit; kafka-python does
        not). Touches the partition (``computeIfAbsent``).
        """
        if self.adaptive:
            self.touched.add(partition)
        queue = self.deques[partition]
        if not queue:
            return 0
        batch = queue[-1]
        if batch.full:
            return 0
        nbytes = self.record_bytes(batch, index)
        if batch.size + nbytes > batch.limit:
            if self.close_on_fail:
                self._fill(partition, batch)
            return 0
        batch.size += nbytes
        batch.records += 1
        if batch.size >= batch.limit:
            self._fill(partition, batch)
        return nbytes

    def append_many(self, partition: int, start: int, stop: int, budget: int) -> tuple[int, int]:
        """Append records ``start`` ... ``stop - 1`` to the partition's open last batch in one
        step, while they fit and their deltas keep their varint widths (up to 2 bytes each);
        stop after the record whose bytes reach ``budget``. Returns the end index and the
        bytes added.
        """
        batch = self.deques[partition][-1]
        records = batch.records
        now = self.now
        age = now[start] - batch.created
        if batch.full or records >= 8192 or not 0 <= age < 8192:
            return start, 0
        offset_edge, offset_bytes = (64, 1) if records < 64 else (8192, 2)
        time_edge, time_bytes = (64, 1) if age < 64 else (8192, 2)
        prefix = self.prefix[offset_bytes + time_bytes]
        end = min(stop, start + offset_edge - records)
        end = bisect.bisect_left(now, batch.created + time_edge, start, end)
        base = prefix[start]
        end = min(
            end, bisect.bisect_right(prefix, base + batch.limit - batch.size, start, end + 1) - 1
        )
        end = min(end, bisect.bisect_left(prefix, base + budget, start + 1, end + 1))
        if end <= start:
            return start, 0
        added = prefix[end] - base
        batch.size += added
        batch.records += end - start
        if batch.size >= batch.limit:
            self.now_ms = now[end - 1]
            self._fill(partition, batch)
        return end, added

    def quiet_until(self, index: int) -> int:
        """The first record after ``index`` before which the sender may act (a ready time
        or a measured drain), or the record count."""
        if self.drains is None:
            if not self.events:
                return len(self.now)
            return bisect.bisect_left(self.now, self.events[0][0], index + 1)
        if self.next_drain < len(self.drains):
            return self.drains[self.next_drain]
        return len(self.now)

    def new_batch(self, partition: int, index: int) -> int:
        """``appendNewBatch``: a new batch holding record ``index``; the bytes it adds."""
        if self.adaptive:
            self.touched.add(partition)
        nbytes = self.first[index]
        self.serial += 1
        batch = _Batch(self.serial, self.now[index], nbytes, self.limits[index])
        queue = self.deques[partition]
        if queue:
            queue[-1].behind = float(batch.created)
            if len(queue) == 1:
                self._schedule(partition)
        else:
            self.active[self.node[partition]].add(partition)
        queue.append(batch)
        if len(queue) == 1:
            self._schedule(partition)
        return nbytes

    def all_full(self, partition: int) -> bool:
        """``allBatchesFull``: the partition's last batch is full, or it has none."""
        queue = self.deques[partition]
        return not queue or queue[-1].full

    def _fill(self, partition: int, batch: _Batch) -> None:
        batch.full = True
        batch.full_at = float(self.now_ms)
        if self.deques[partition][0] is batch:
            self._schedule(partition)

    # -------------------------------------------------------------------- the sender
    def _schedule(self, partition: int) -> None:
        """Queue the time the partition's first batch becomes ready (continuous sender)."""
        if self.drains is not None:
            return
        batch = self.deques[partition][0]
        ready = min(batch.created + self.linger, batch.full_at, batch.behind)
        heapq.heappush(self.events, (ready + self.latency[partition], partition, batch.serial))

    def advance(self, index: int) -> None:
        """Run the sender for everything that happens before record ``index`` arrives."""
        self.now_ms = now = self.now[index]
        if self.drains is None:
            events = self.events
            while events and events[0][0] <= now:
                self.run(events[0][0])
            return
        drains = self.drains
        while self.next_drain < len(drains) and drains[self.next_drain] <= index:
            self.next_drain += 1
            for node in self.active:
                self._drain(node)
            if self.adaptive:
                self._snapshot()

    def wake(self) -> None:
        """``sender.wakeup()`` after an append that made a new or a full batch."""
        if self.drains is None:
            self.run(float(self.now_ms))
        elif self.adaptive:
            self._snapshot()

    def run(self, when: float) -> None:
        """One sender run at ``when`` (ms): drain every broker that has a ready first batch,
        as long as one has, then load statistics (the run the broker's answer wakes)."""
        events = self.events
        while events and events[0][0] <= when:
            _, partition, serial = heapq.heappop(events)
            queue = self.deques[partition]
            if queue and queue[0].serial == serial:
                self._drain(self.node[partition])
        if self.adaptive:
            self._snapshot()

    def _drain(self, node: int) -> None:
        """Send the first batch of every partition the broker ``node`` leads."""
        active = self.active[node]
        for partition in list(active):
            queue = self.deques[partition]
            queue.popleft()
            if queue:
                self._schedule(partition)
            else:
                active.discard(partition)

    def _snapshot(self) -> None:
        """``partitionReady``'s queue sizes, once every partition has a deque."""
        if len(self.touched) >= self.partition_count:
            self.stats = [len(queue) for queue in self.deques]

    # ------------------------------------------------------------------------ picks
    def available(self, index: int) -> int:
        return index if self.ids is None else self.ids[index]

    def built_in(self) -> int:
        """``BuiltInPartitioner.nextPartition`` (§1.3): adaptive weights or uniform."""
        random = self.draw()
        if self.stats is not None:
            # The stats exist only once every partition has a deque, and cover partitions
            # with a leader; with an unavailable partition that never happens.
            index = _adaptive_index(self.stats, random)
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


def _java_uniform_sticky(stream: _Stream) -> _Runs:
    """Java >= 3.3 keyless path: ``BuiltInPartitioner`` + ``RecordAccumulator.append``
    (``clients/.../producer/internals/BuiltInPartitioner.java``, ``RecordAccumulator.java``
    @1eb7644, KIP-794, §1.3).

    The sticky partition is chosen lazily. Each append adds the growth of the batch's
    estimated size to ``producedBytes`` (a new batch adds its header too). After an append
    the partitioner switches when ``producedBytes >= batch.size`` and the partition's last
    batch is full, or ``producedBytes >= 2 * batch.size``; the next record goes to the new
    partition. ``partitionChanged``, before ``tryAppend`` and again before a new batch,
    completes a deferred switch when the last batch is full or gone (sent, or closed because
    this record did not fit); then this record goes to the new partition. The new partition
    is uniform over the available ones (it may be the same) or adaptive.
    """
    state = _Accumulator(stream)
    count = len(state.now)
    switch_at = max(1, state.batch_size)
    cap = 2 * switch_at
    partitions = np.empty(count, dtype=np.int32)
    starts: list[int] = [0]
    replay = stream.replay

    def pick(record: int) -> int:
        return state.built_in() if replay is None else replay[record]

    partition = -1
    produced = 0
    i = 0
    while i < count:
        state.advance(i)
        if partition < 0:
            partition = pick(i)  # peekCurrentPartitionInfo at the first append
        queue = state.deques[partition]
        end = i
        if queue and not (state.adaptive and len(queue) > 1):
            # Records that only fill the open batch, with no sender action between them.
            end, appended = state.append_many(partition, i, state.quiet_until(i), cap - produced)
        if end > i:
            partitions[i:end] = partition
            i = end - 1
        else:
            while True:
                if produced >= switch_at and state.all_full(partition):  # partitionChanged
                    partition, produced = pick(i), 0
                    _restart(starts, i)
                    continue
                appended = state.try_append(partition, i)
                if appended:
                    break
                if produced >= switch_at:  # partitionChanged again: the last batch is full
                    partition, produced = pick(i), 0
                    _restart(starts, i)
                    continue
                appended = state.new_batch(partition, i)
                break
            partitions[i] = partition
            queue = state.deques[partition]
        produced += appended
        woken = len(queue) > 1 or queue[-1].full or queue[-1].records == 1
        if produced >= cap or (produced >= switch_at and queue[-1].full):
            partition, produced = pick(min(i + 1, count - 1)), 0
            _restart(starts, i + 1)
        if woken:
            state.wake()
        i += 1
    return _Runs(partitions, _starts(starts, count))


def _java_sticky_cache(stream: _Stream) -> _Runs:
    """Java 2.4 - 3.2 keyless path: ``DefaultPartitioner`` + ``StickyPartitionCache`` with
    ``KafkaProducer.doSend``'s ``abortOnNewBatch`` (``clients/.../producer/internals/
    DefaultPartitioner.java``, ``StickyPartitionCache.java`` @2.4.0, KIP-480, §1.4).

    A record goes to the cached sticky partition if that partition's last batch has room.
    Otherwise the append aborts, ``onNewBatch`` draws a new sticky partition (never the
    previous one when two or more are available), and the record is appended there (to its
    last batch if it fits, else to a new batch). The first record aborts too: its partition
    is the second draw.
    """
    state = _Accumulator(stream)
    count = len(state.now)
    partitions = [0] * count
    starts: list[int] = []
    sticky = state.uniform()
    for i in range(count):
        state.advance(i)
        if not state.try_append(sticky, i):
            sticky = state.sticky_cache(sticky)  # onNewBatch, then partition() again
            starts.append(i)
            state.try_append(sticky, i) or state.new_batch(sticky, i)
        partitions[i] = sticky
        _wake_after(state, sticky)
    return _Runs(np.array(partitions, dtype=np.int32), np.array(starts, dtype=np.int64))


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

    return _double_pick(_Accumulator(stream), pick)


def _kafka_python(stream: _Stream) -> _Runs:
    """kafka-python ``DefaultPartitioner`` with ``KafkaProducer.send``'s second pick
    (``kafka/partitioner/default.py``, ``kafka/producer/kafka.py``,
    ``kafka/producer/record_accumulator.py``, 3.0.12, §8).

    ``random.choice(available)`` picks a partition; a null-key record is appended with
    ``abort_on_new_batch=True``, so when that partition has no batch with room the producer
    calls the partitioner again (``DefaultPartitioner`` has no ``on_new_batch``) and appends
    to the second pick, opening a batch there if needed. kafka-python's accumulator is
    Java's, except that a batch a record did not fit stays open (``ProducerBatch.try_append``
    does not close it) and the write limit is ``batch_size``.
    """
    state = _Accumulator(stream, close_on_fail=False, python=True)
    return _double_pick(state, lambda state: state.uniform())


def _double_pick(state: _Accumulator, pick: Callable[[_Accumulator], int]) -> _Runs:
    """A first ``pick`` that keeps the record only if its partition's last batch has room;
    otherwise a second ``pick`` takes it (appending to its last batch or a new one).
    """
    count = len(state.now)
    chosen = [0] * count
    for i in range(count):
        state.advance(i)
        partition = pick(state)
        if not state.try_append(partition, i):
            partition = pick(state)
            state.try_append(partition, i) or state.new_batch(partition, i)
        chosen[i] = partition
        _wake_after(state, partition)
    return _Runs(np.array(chosen, dtype=np.int32), np.arange(count))


def _wake_after(state: _Accumulator, partition: int) -> None:
    """``if (result.batchIsFull || result.newBatchCreated) sender.wakeup()``."""
    queue = state.deques[partition]
    if len(queue) > 1 or queue[-1].full or queue[-1].records == 1:
        state.wake()


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
