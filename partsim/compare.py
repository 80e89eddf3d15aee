"""Key designs × partitioners × partition counts: load, ordering and a recommendation.

A view of the pipeline (:mod:`partsim.pipeline`): the input is read once, and every record
is placed under every design × partitioner × partition count (one hash per design and
algorithm, one reduction per count), so each row holds exactly what ``partsim analyze`` of
that design, client and count gives: per-partition load, skew, peak window rates and
ordering. Each design's keys are counted once (exactly, then sketched past ``exact_keys``).
:func:`evaluate` places a :class:`~partsim.aggregates.KeySample` (exact per-key counts) under
one configuration; ``partsim whatif`` salts hot keys with it.

Ordering: an entity (``order_by``) with two or more events is *ordered* when all its events
have a key the client hashes and all land on one partition. Kafka orders records only within
a partition, so an entity spread over partitions, or with keyless events (null keys, and
empty keys where the client treats them as null), can be consumed out of order.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from partsim.aggregates import KeySample, LoadAggregate
from partsim.errors import DataError, UsageError, invalid_choice
from partsim.metrics import skew_metrics
from partsim.options import (
    EngineOptions,
    InputOptions,
    MeasureOptions,
    ProducerOptions,
    split_options,
)
from partsim.ordering import lookup_partitions, ordering_report
from partsim.partitioners import Partitioner, check_partition_count, get_partitioner
from partsim.pipeline import NO_SIZES, Encoding, Scan, check_analysis_partitions
from partsim.placement import Placement, keyless_fill, place_many

__all__ = [
    "SweepResult",
    "check_byte_rate",
    "evaluate",
    "parse_designs",
    "parse_rate",
    "sweep",
]

_RATE = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][-+]?\d+)?)\s*([kKMGT]i?B|B)?\s*(?:/\s*s)?\s*$")
_BYTE_UNITS = {"B": 1, "KB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12,
               "KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "TiB": 2**40}  # fmt: skip


def parse_rate(text: str | float | int, option: str = "--rate") -> tuple[float, str]:
    """A rate as ``(value per second, "messages" | "bytes")``: ``5000``, ``5000/s``, ``5MB/s``.

    A bare number is messages per second; a byte unit selects bytes (KB = 1000 B, KiB = 1024).

    >>> parse_rate("50000/s"), parse_rate("5MB/s")
    ((50000.0, 'messages'), (5000000.0, 'bytes'))
    """
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        value, unit = float(text), None
    else:
        match = _RATE.match(str(text))
        if not match:
            raise UsageError(f"{option} must be a rate such as 5000, 5000/s or 5MB/s; got {text!r}")
        value, unit = float(match.group(1)), match.group(2)
    if not math.isfinite(value) or value <= 0:
        raise UsageError(f"{option} must be a positive rate; got {text!r}")
    if unit is None:
        return value, "messages"
    unit = unit[0].upper() + unit[1:] if unit != "B" else unit
    return value * _BYTE_UNITS[unit], "bytes"


def check_byte_rate(rate: tuple[float, str] | None, size_source: str, option: str) -> None:
    """A rate in bytes needs event sizes: without them every event counts one byte."""
    if rate is not None and rate[1] == "bytes" and size_source == NO_SIZES:
        raise UsageError(
            f"{option} is in bytes, but the events have no sizes (without --size, or key and "
            "value sizes in the input, an event counts as 1 byte): give --size COLUMN, or "
            f"{option} in messages/s"
        )


#: The key options a design may carry after its expression (``NAME=EXPR --key-format ...``).
DESIGN_KEY_OPTIONS = {"--key-format": "key_format", "--key-schema": "key_schema",
                      "--schema-id": "schema_id", "--key-message": "key_message"}  # fmt: skip


def design_key(text: str, option: str = "--design") -> tuple[str | None, dict[str, object]]:
    """A design's expression and the key options it carries: ``"customer_id"`` is just
    the expression; ``"customer_id --key-format avro --key-schema k.avsc --schema-id 7"``
    gives its own key serializer; an empty expression (``"--key-format connect-json
    --key-schema k.json"``) is a record key whose fields come from their columns.

    >>> design_key("id --key-format avro --key-schema k.avsc --schema-id 7")
    ('id', {'key_format': 'avro', 'key_schema': 'k.avsc', 'schema_id': 7})
    """
    import shlex

    if " --" not in f" {text}":
        return text, {}
    try:
        words = shlex.split(text)
    except ValueError as error:
        raise UsageError(f"{option} {text!r}: {error}") from None
    first = next((i for i, word in enumerate(words) if word.startswith("--")), len(words))
    expression = " ".join(words[:first]) or None
    options: dict[str, object] = {}
    rest = words[first:]
    if len(rest) % 2:
        raise UsageError(f"{option} {text!r}: {rest[-1]} needs a value")
    for name, value in zip(rest[::2], rest[1::2], strict=True):
        if name not in DESIGN_KEY_OPTIONS:
            raise invalid_choice(f"{option} option", name, DESIGN_KEY_OPTIONS)
        if name == "--schema-id":
            try:
                options["schema_id"] = int(value)
            except ValueError:
                raise UsageError(f"{option} {text!r}: --schema-id must be a number") from None
        else:
            options[DESIGN_KEY_OPTIONS[name]] = value
    return expression, options


def design_producer(producer: ProducerOptions, text: str, name: str) -> ProducerOptions:
    """The producer of one design: the shared one with the design's key, and the key
    options the design carries (:func:`design_key`). A design with a key format of its own
    takes none of the shared schema options."""
    expression, own = design_key(text, f"--design {name}")
    if own.get("key_format", producer.key_format) != producer.key_format:
        own = {"key_schema": None, "schema_id": None, "key_message": None, **own}
    return replace(producer, key=expression, **own)


def parse_designs(designs: Sequence[str] | dict[str, str]) -> dict[str, str]:
    """``NAME=EXPR`` strings (or a dict) as ``{name: expression}``; a bare EXPR names itself.
    An expression may carry its own key options (:func:`design_key`)."""
    if isinstance(designs, dict):
        out = dict(designs)
    else:
        out = {}
        for text in designs:
            name, sep, expression = str(text).partition("=")
            if not sep:
                name, expression = text, text
            name, expression = name.strip(), expression.strip()
            if not name or not (expression or " --" in f" {text}"):
                raise UsageError(
                    f"--design must be NAME=EXPR, e.g. by_customer=customer_id; got {text!r}"
                )
            if name in out:
                raise UsageError(f"--design {name!r} is given twice")
            out[name] = expression
    if not out:
        raise UsageError("give at least one --design NAME=EXPR")
    return out


# ----------------------------------------------------------------------- key sample
# ------------------------------------------------------------------------ evaluation
def _key_partitions(
    keys: pa.Array | pa.ChunkedArray,
    partitioner: Partitioner,
    partition_count: int,
    prefix: bytes = b"",
) -> np.ndarray:
    """Each key's partition (after ``prefix``, e.g. Schema Registry framing), or -1 where the
    client takes its keyless path."""
    if len(keys) == 0:
        return np.zeros(0, dtype=np.int64)
    if prefix:
        keys = pc.binary_join_element_wise(
            pa.scalar(prefix, pa.binary()), keys, pa.scalar(b"", pa.binary())
        )
    partitions, keyless = partitioner.hashed_partitions(keys, partition_count)
    out = partitions.astype(np.int64)
    out[keyless] = -1
    return out


@dataclass(frozen=True)
class Evaluation:
    """One design under one partitioner and partition count."""

    messages: np.ndarray
    bytes: np.ndarray
    metrics: dict
    ordering: dict | None
    peak_rates: dict | None


def evaluate(
    sample: KeySample,
    partitioner: Partitioner | str,
    partition_count: int,
    *,
    seed: int = 0,
    window_seconds: float | None = None,
    prefix: bytes = b"",
) -> Evaluation:
    """Per-partition load, skew, ordering and peak per-partition rates of one configuration.

    Keyless records (null keys, and keys the client treats as null) are spread with the
    client's keyless strategy, drawn from ``seed``. ``prefix`` is prepended to every key
    before hashing (Schema Registry framing, :func:`partsim.serde.schema_prefix`).
    """
    partitioner = get_partitioner(partitioner)
    partition_count = check_partition_count(partition_count)
    keys = sample.keys
    counts = keys.column("count").to_numpy()
    byte_sums = keys.column("bytes").to_numpy()
    partition = _key_partitions(keys.column("key"), partitioner, partition_count, prefix)
    hashed = partition >= 0
    messages = np.bincount(partition[hashed], weights=counts[hashed], minlength=partition_count)
    nbytes = np.bincount(partition[hashed], weights=byte_sums[hashed], minlength=partition_count)
    keyless_events = int(counts[~hashed].sum())
    keyless_bytes = float(byte_sums[~hashed].sum())
    # A null key takes the keyless path, unless the client hashes it (librdkafka's
    # consistent and murmur2 put every null key on one partition).
    null_home = -1
    if sample.null_events:
        null_home = _key_partitions(pa.array([None], pa.binary()), partitioner, partition_count)[0]
    if null_home >= 0:
        messages[null_home] += sample.null_events
        nbytes[null_home] += sample.null_bytes
    else:
        keyless_events += sample.null_events
        keyless_bytes += sample.null_bytes
    if keyless_events:
        spread = np.bincount(
            keyless_fill(partitioner.keyless, 0, keyless_events, partition_count, seed),
            minlength=partition_count,
        )
        messages = messages + spread
        nbytes = nbytes + spread * (keyless_bytes / keyless_events)
    metrics = skew_metrics(messages)
    top = float(counts.max() / sample.events) if len(counts) and sample.events else 0.0
    metrics.update(
        {
            "max_mean_ratio_bytes": skew_metrics(nbytes)["max_mean_ratio"],
            "hottest_partition_share_bytes": float(nbytes.max() / nbytes.sum())
            if nbytes.sum()
            else 0.0,
            "distinct_keys": len(counts),
            "events": sample.events,
            "keyless_events": keyless_events,
            "top_key_share": top,
            "best_possible_max_mean_ratio": max(1.0, partition_count * top),
        }
    )
    ordering = None
    if sample.entities is not None:
        ordering = ordering_report(sample.entities, partition, keys.column("key"))
    peaks = None
    if sample.windows is not None and sample.windows.num_rows and window_seconds:
        peaks = _peak_rates(sample.windows, partition, keys.column("key"), partition_count,
                            window_seconds)  # fmt: skip
    return Evaluation(messages.astype(np.int64), nbytes, metrics, ordering, peaks)


def _peak_rates(windows: pa.Table, key_partition: np.ndarray, sample_keys, partition_count: int,
                window_seconds: float) -> dict:  # fmt: skip
    """The highest per-partition message and byte rates of any window."""
    window = windows.column("window").to_numpy()
    partition = lookup_partitions(windows.column("key"), sample_keys, key_partition)
    count = windows.column("count").to_numpy().astype(float)
    size = windows.column("bytes").to_numpy()
    first = int(window.min())
    span = int(window.max()) - first + 1
    hashed = partition >= 0
    cells, inverse = np.unique((window[hashed] - first) * partition_count + partition[hashed],
                               return_inverse=True)  # fmt: skip
    msg = np.bincount(inverse, weights=count[hashed]) if len(cells) else np.zeros(0)
    byt = np.bincount(inverse, weights=size[hashed]) if len(cells) else np.zeros(0)
    # Keyless records spread evenly over the partitions within their window.
    keyless_msg = np.bincount(window[~hashed] - first, weights=count[~hashed], minlength=span)
    keyless_byt = np.bincount(window[~hashed] - first, weights=size[~hashed], minlength=span)
    per_msg = np.zeros(span * partition_count)
    per_byt = np.zeros(span * partition_count)
    if len(cells):
        per_msg[cells] += msg
        per_byt[cells] += byt
    per_msg = per_msg.reshape(span, partition_count) + keyless_msg[:, None] / partition_count
    per_byt = per_byt.reshape(span, partition_count) + keyless_byt[:, None] / partition_count
    return {
        "peak_partition_messages_per_second": float(per_msg.max() / window_seconds),
        "peak_partition_bytes_per_second": float(per_byt.max() / window_seconds),
        "peak_total_messages_per_second": float(per_msg.sum(axis=1).max() / window_seconds),
    }


# -------------------------------------------------------------------------- sweep
@dataclass(frozen=True)
class SweepResult:
    """``table``: one row per design × partitioner × partition count; ``recommendations``: one
    per design × partitioner; ``summary``: the JSON-ready whole."""

    table: pd.DataFrame
    recommendations: pd.DataFrame
    summary: dict
    loads: dict = field(default_factory=dict, repr=False)  # (design, partitioner, N) -> loads


def sweep(
    inputs: object,
    *,
    designs: Sequence[str] | dict[str, str],
    partition_counts: Iterable[int],
    partitioners: Sequence[str] = ("java",),
    max_skew: float = 1.2,
    partition_capacity: str | float | None = None,
    rate: str | float | None = None,
    input_options: InputOptions | None = None,
    producer_options: ProducerOptions | None = None,
    measure_options: MeasureOptions | None = None,
    engine_options: EngineOptions | None = None,
    progress: bool = False,
    **options: object,
) -> SweepResult:
    """Compare key designs, partitioners and partition counts on one sample of events.

    ``designs`` are ``"NAME=EXPR"`` strings (or ``{name: expr}``), each expression a column or
    a template as in :func:`partsim.analyze`, and ``partitioners`` the clients to compare.
    Keys are serialized as the producer options say (``key_format``, ``key_schema``,
    ``schema_id``), unless a design carries its own after its expression: ``"v2=customer_id
    --key-format avro --key-schema v2.avsc --schema-id 8"`` (:func:`design_key`).
    The other options are :func:`partsim.analyze`'s (the producer's key and partitioner
    come from ``designs`` and ``partitioners``); ``order_by`` names the entity whose events
    must stay in order, and ``timestamp`` gives the peak windows. Returns a
    :class:`SweepResult` whose ``table`` has one row per design × partitioner × partition
    count and whose ``recommendations`` give, per design and partitioner, the smallest
    swept count that keeps max/mean within ``max_skew`` and every partition within
    ``partition_capacity`` (a rate such as ``5000`` msgs/s or ``"5MB/s"``, checked against
    the timestamp's peak window or ``rate``).

    >>> import pandas as pd
    >>> events = pd.DataFrame({"user": [f"u{i % 50}" for i in range(1000)]})
    >>> result = sweep(events, designs=["user"], partition_counts=[3, 6])
    >>> result.table[["design", "partition_count", "distinct_keys"]].values.tolist()
    [['user', 3, 50], ['user', 6, 50]]
    """
    from partsim.engine import run_scan

    for name in ("key", "partitioner"):  # given as designs and partitioners
        if name in options:
            raise TypeError(f"sweep() got an unexpected keyword argument {name!r}")
    producer, measures, reader, engine = split_options(
        dict(options), ProducerOptions, MeasureOptions, InputOptions, EngineOptions,
        given=(producer_options, measure_options, input_options, engine_options),
    )  # fmt: skip
    order_by, timestamp = measures.order_by, measures.timestamp
    named = parse_designs(designs)
    counts = sorted({check_analysis_partitions(int(n)) for n in partition_counts})
    if not counts:
        raise UsageError("give at least one partition count, e.g. -p 6,12,24")
    chosen = [get_partitioner(name) for name in (partitioners or ["java"])]
    if isinstance(max_skew, bool) or not isinstance(max_skew, (int, float)) or max_skew < 1:
        raise UsageError(f"--max-skew must be a number >= 1 (max/mean); got {max_skew!r}")
    capacity = (
        parse_rate(partition_capacity, "--partition-capacity") if partition_capacity else None
    )
    total_rate = parse_rate(rate, "--rate") if rate is not None else None
    if capacity and not (timestamp or total_rate):
        raise UsageError("--partition-capacity needs --timestamp (peak window) or --rate")
    scan, index = sweep_scan(named, chosen, counts, producer, measures, reader.strict)
    done = run_scan(inputs, scan, input_options=reader, engine_options=engine,
                    progress=progress)  # fmt: skip
    result = done.aggregate
    size_source = done.scan.size_source
    check_byte_rate(capacity, size_source, "--partition-capacity")
    check_byte_rate(total_rate, size_source, "--rate")
    # Each design counts the rows its key serializer could write (a key schema drops the
    # others, as that design's skipped rows): the summary states the first design's.
    key_loads = [result.loads[encoding.key_placement] for encoding in scan.encodings]
    events = key_loads[0].events
    if max(load.events for load in key_loads) == 0:
        skipped = key_loads[0].skipped_rows
        detail = f" ({skipped} unparsable rows skipped)" if skipped else ""
        raise DataError(f"no events in {done.label}{detail}")
    window_seconds = scan.window_ns / 1e9 if timestamp else None
    rows, loads, top_keys, key_counts = [], {}, {}, {}
    for design, name in enumerate(named):
        keys = DesignKeys.of(key_loads[design], scan.encodings[design].producer)
        if keys.sketched is not None:
            key_counts[name] = keys.note()
        for partitioner in chosen:
            stats = keys.under(partitioner)
            top_keys[(name, partitioner.name)] = stats.top_key
            for count in counts:
                number = index[(name, partitioner.name, count)]
                ordering = result.order.report(scan.ordered.index(number)) if scan.ordered else None
                evaluation = evaluation_of(result.loads[number], stats, ordering, window_seconds)
                loads[(name, partitioner.name, count)] = evaluation.messages
                rows.append(_row(name, named[name], partitioner, count, evaluation, capacity,
                                 total_rate, max_skew))  # fmt: skip
    table = pd.DataFrame(rows)
    labels = {name: done.scan.encoders[design].label for design, name in enumerate(named)}
    recommendations = _recommend(table, top_keys, labels, max_skew, capacity)
    summary = {
        "inputs": done.label,
        "designs": named,
        "partitioners": [p.name for p in chosen],
        "partition_counts": counts,
        "order_by": order_by,
        "max_skew": max_skew,
        "partition_capacity": None if capacity is None else
        {"value": capacity[0], "unit": f"{capacity[1]}/s"},
        "events": events,
        "size_source": size_source,
        "skipped_rows": key_loads[0].skipped_rows,
        "recommendations": recommendations.to_dict("records"),
    }  # fmt: skip
    by_design = dict(zip(named, key_loads, strict=True))
    if len({load.skipped_rows for load in key_loads}) > 1:  # schemas that drop other rows
        summary["skipped_rows_by_design"] = {n: load.skipped_rows for n, load in by_design.items()}
        summary["events_by_design"] = {n: load.events for n, load in by_design.items()}
    if key_counts:
        summary["key_counts"] = key_counts
    if done.skipped_examples:
        summary["skipped_examples"] = list(done.skipped_examples)
    return SweepResult(table, recommendations, summary, loads)


def sweep_scan(
    named: dict[str, str],
    clients: Sequence[Partitioner],
    counts: Sequence[int],
    producer: ProducerOptions,
    measures: MeasureOptions,
    strict: bool = False,
) -> tuple[Scan, dict[tuple[str, str, int], int]]:
    """The scan of a sweep: every design placed by every client over every partition count
    (each design's keys counted once, with its first client and count), and the placement
    number of each (design, partitioner, count). A design may carry its own key serializer
    (:func:`design_key`): its own payload and framing."""
    encodings, placements, index = [], [], {}
    for design, (name, text) in enumerate(named.items()):
        own = design_producer(producer, text, name)
        framing = own.framing()
        for client in clients:
            for count in counts:
                index[(name, client.name, count)] = len(placements)
                placements.append(Placement(design, client.name, count, framing))
        encodings.append(Encoding(
            own,
            option=f"--design {name}" if name != "key" else "--key",
            weight_framing=framing,
            key_placement=index[(name, clients[0].name, counts[0])],
            every_key=True,
        ))  # fmt: skip
    ordered = tuple(range(len(placements))) if measures.order_by else ()
    scan = Scan(tuple(encodings), tuple(placements), measures, strict=strict,
                seed=producer.seed, ordered=ordered)  # fmt: skip
    return scan, index


@dataclass(frozen=True)
class KeyStats:
    """A design's keys under one client: the distinct keys it hashes and the heaviest."""

    distinct: int
    top_count: int
    top_key: str


@dataclass(frozen=True)
class DesignKeys:
    """A design's key table (every non-null key), or its sketch past the exact limit."""

    keys: pa.Table  # key, count (exact; or the sketch's candidates with their estimates)
    sketched: object | None  # SketchedKeys
    producer: ProducerOptions

    @classmethod
    def of(cls, load: LoadAggregate, producer: ProducerOptions) -> DesignKeys:
        if load.sketch is None:
            return cls(load.keys, None, producer)
        sketched = load.sketch.result()
        return cls(sketched.keys, sketched, producer)

    def under(self, client: Partitioner) -> KeyStats:
        """The keys ``client`` hashes (not those on its keyless path)."""
        keys = self.keys.column("key").combine_chunks()
        counts = self.keys.column("count").to_numpy()
        hashed = ~place_many(keys, [(client, 1)])[0][1] if len(keys) else np.zeros(0, bool)
        if self.sketched is None:
            distinct = int(hashed.sum())
        else:
            distinct = 0 if client.ignores_keys else round(self.sketched.distinct_total)
        if not hashed.any():
            return KeyStats(distinct, 0, "")
        heaviest = np.flatnonzero(hashed)[int(np.argmax(counts[hashed]))]
        shown = self.producer.display(keys[int(heaviest)].as_py())
        return KeyStats(distinct, int(counts[heaviest]), shown)

    def note(self) -> dict:
        """How the keys were counted, past the exact limit."""
        sketched = self.sketched
        return {
            "method": "sketch",
            "count_error_bound": sketched.count_error,
            "distinct_keys_lower": sketched.distinct_lower,
            "distinct_keys_upper": sketched.distinct_upper,
        }


def evaluation_of(
    load: LoadAggregate, keys: KeyStats, ordering: dict | None, window_seconds: float | None
) -> Evaluation:
    """One placement's row: load, skew, ordering and peak per-partition rates."""
    messages, nbytes = load.messages, load.bytes
    count = load.partition_count
    metrics = skew_metrics(messages)
    top = keys.top_count / load.events if load.events else 0.0
    metrics.update(
        {
            "max_mean_ratio_bytes": skew_metrics(nbytes)["max_mean_ratio"],
            "hottest_partition_share_bytes": float(nbytes.max() / nbytes.sum())
            if nbytes.sum()
            else 0.0,
            "distinct_keys": keys.distinct,
            "events": load.events,
            "keyless_events": load.keyless_events,
            "top_key_share": top,
            "best_possible_max_mean_ratio": max(1.0, count * top),
        }
    )
    peaks = None
    if window_seconds and load.windows.num_rows:
        peaks = _window_peaks(load.windows, count, window_seconds)
    return Evaluation(messages.astype(np.int64), nbytes, metrics, ordering, peaks)


def _window_peaks(windows: pa.Table, partition_count: int, window_seconds: float) -> dict:
    """The highest per-partition message and byte rates, and total rate, of any window."""
    window = windows.column("window").to_numpy()
    messages = windows.column("messages").to_numpy()
    totals = np.bincount(window - window.min(), weights=messages)
    return {
        "peak_partition_messages_per_second": float(messages.max() / window_seconds),
        "peak_partition_bytes_per_second": float(
            windows.column("bytes").to_numpy().max() / window_seconds
        ),
        "peak_total_messages_per_second": float(totals.max() / window_seconds),
    }


def _row(name, expression, partitioner, count, result: Evaluation, capacity, total_rate, max_skew):
    metrics = result.metrics
    row = {
        "design": name,
        "key": expression,
        "partitioner": partitioner.name,
        "partition_count": count,
        "max_mean_ratio": metrics["max_mean_ratio"],
        "cv": metrics["cv"],
        "gini": metrics["gini"],
        "hottest_partition": metrics["hottest_partition"],
        "hottest_partition_share": metrics["hottest_partition_share"],
        "max_mean_ratio_bytes": metrics["max_mean_ratio_bytes"],
        "best_possible_max_mean_ratio": metrics["best_possible_max_mean_ratio"],
        "top_key_share": metrics["top_key_share"],
        "ordering_preserved": None
        if result.ordering is None
        else result.ordering["ordering_preserved"],
        "events_at_risk": None if result.ordering is None else result.ordering["events_at_risk"],
        "distinct_keys": metrics["distinct_keys"],
        "events": metrics["events"],
        "keyless_events": metrics["keyless_events"],
    }
    peak = None
    if capacity is not None:
        unit = capacity[1]
        if result.peak_rates is not None:
            peak = result.peak_rates[f"peak_partition_{unit}_per_second"]
        else:
            share = metrics[
                "hottest_partition_share" if unit == "messages" else "hottest_partition_share_bytes"
            ]
            peak = total_rate[0] * share if total_rate[1] == unit else None
        row["peak_partition_rate"] = peak
        row["capacity_ok"] = None if peak is None else bool(peak <= capacity[0])
    row["skew_ok"] = bool(metrics["max_mean_ratio"] <= max_skew)
    return row


def _recommend(table: pd.DataFrame, top_keys, labels, max_skew, capacity) -> pd.DataFrame:
    out = []
    for (design, partitioner), rows in table.groupby(["design", "partitioner"], sort=False):
        rows = rows.sort_values("partition_count")
        ok = rows["skew_ok"]
        if "capacity_ok" in rows:
            ok = ok & rows["capacity_ok"].fillna(False).astype(bool)
        good = rows[ok]
        row = {"design": design, "partitioner": partitioner}
        if len(good):
            best = good.iloc[0]
            within = ", and every partition within capacity" if capacity else ""
            row["partition_count"] = int(best["partition_count"])
            row["max_mean_ratio"] = float(best["max_mean_ratio"])
            row["advice"] = (
                f"{int(best['partition_count'])} partitions: max/mean "
                f"{best['max_mean_ratio']:.2f} <= {max_skew:g}{within}"
            )
        else:
            row["partition_count"] = None
            row["max_mean_ratio"] = float(rows["max_mean_ratio"].min())
            row["advice"] = _why_not(rows, top_keys[(design, partitioner)], labels[design],
                                     max_skew, capacity)  # fmt: skip
        out.append(row)
    return pd.DataFrame(out)


def _why_not(rows: pd.DataFrame, top_key: str, expression: str, max_skew, capacity) -> str:
    """Why no swept partition count works, and what would (with the ordering it costs);
    ``expression`` is the design's key as the summary names it."""
    top_share = float(rows["top_key_share"].iloc[0])
    counts = rows["partition_count"].tolist()
    smallest = counts[0]
    if smallest * top_share > max_skew:
        salt = math.ceil(smallest * top_share / max_skew)
        # A column is written {column} in a template; a template stays as it is.
        template = expression if "{" in expression else f"{{{expression}}}"
        composite = f"{template}-{{another_field}}"
        return (
            f"No swept count works: key {top_key!r} carries {top_share:.1%} of events, more than "
            f"{max_skew:g}/N of the load for every N >= {smallest}, and more partitions make it "
            f"worse. Salt it over {salt}+ sub-keys or use a composite key such as "
            f"'{composite}'; its {top_share:.1%} of events then lose "
            "per-key order (they spread over several partitions)."
        )
    if (
        capacity is not None
        and "capacity_ok" in rows
        and not rows["capacity_ok"].fillna(False).any()
    ):
        peak = rows["peak_partition_rate"].min()
        unit = capacity[1]
        return (
            f"No swept count keeps every partition within {capacity[0]:,.0f} {unit}/s: the "
            f"busiest partition still peaks at {peak:,.0f} {unit}/s. If one key carries that "
            "peak, only salting or a finer key spreads it (and its events lose per-key order); "
            "otherwise try larger partition counts."
        )
    best = rows.loc[rows["max_mean_ratio"].idxmin()]
    message = (
        f"No swept count reaches max/mean <= {max_skew:g} (best {best['max_mean_ratio']:.2f} at "
        f"{int(best['partition_count'])} partitions)."
    )
    if top_share > 0:
        ceiling = math.floor(max_skew / top_share)
        message += (
            f" Key {top_key!r} carries {top_share:.1%} of events, so no count above {ceiling} "
            f"can meet {max_skew:g}; at or below it, the result depends on where the heavy keys "
            "happen to land. Salting the heaviest keys or a finer key lifts that bound (salted "
            "keys lose per-key order)."
        )
    return message
