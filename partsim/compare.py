"""Key designs × partitioners × partition counts: load, ordering and a recommendation.

The input is read once. For each key design a :class:`KeySample` keeps what every
evaluation needs: per-key counts, the (entity, key) pairs for ordering, and per-window key
counts for capacity. A key's partition is a function of its bytes, so evaluating a
partitioner and a partition count hashes the distinct keys, never the events again.

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

from partsim.aggregates import ENTITY_SCHEMA, entity_pairs
from partsim.engine import prefetch
from partsim.errors import DataError, UsageError, invalid_choice
from partsim.events import Rows
from partsim.keycounts import sum_by
from partsim.metrics import skew_metrics
from partsim.options import InputOptions, MeasureOptions, ProducerOptions, split_options
from partsim.ordering import lookup_partitions, ordering_report
from partsim.partitioners import Partitioner, check_partition_count, get_partitioner
from partsim.pipeline import NO_SIZES, BatchPlan, bind_columns, check_analysis_partitions
from partsim.placement import keyless_fill

__all__ = [
    "KeySample",
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
_KEYS = pa.schema([("key", pa.binary()), ("count", pa.int64()), ("bytes", pa.float64())])
_WINDOWS = pa.schema(
    [("window", pa.int64()), ("key", pa.binary()), ("count", pa.int64()), ("bytes", pa.float64())]
)


def _sum_by(table: pa.Table, keys: list[str], sums: list[str], schema: pa.Schema) -> pa.Table:
    return sum_by(table, keys, sums).select(schema.names).cast(schema)


@dataclass
class KeySample:
    """Mergeable per-design key statistics: all an evaluation needs, for any partitioner."""

    keys: pa.Table = field(default_factory=_KEYS.empty_table)  # non-null keys
    null_events: int = 0
    null_bytes: float = 0.0
    events: int = 0
    skipped_rows: int = 0
    entities: pa.Table | None = None  # (entity, key, count), with order_by
    windows: pa.Table | None = None  # (window, key, count, bytes), with a timestamp

    @staticmethod
    def merge_all(parts: Sequence[KeySample]) -> KeySample:
        """The sample of all the parts' inputs."""
        if len(parts) == 1:
            return parts[0]

        def combined(name: str, keys: list[str], sums: list[str], schema: pa.Schema):
            tables = [getattr(p, name) for p in parts if getattr(p, name) is not None]
            return _sum_by(pa.concat_tables(tables), keys, sums, schema) if tables else None

        return KeySample(
            keys=combined("keys", ["key"], ["count", "bytes"], _KEYS),
            null_events=sum(p.null_events for p in parts),
            null_bytes=sum(p.null_bytes for p in parts),
            events=sum(p.events for p in parts),
            skipped_rows=sum(p.skipped_rows for p in parts),
            entities=combined("entities", ["entity", "key"], ["count"], ENTITY_SCHEMA),
            windows=combined("windows", ["window", "key"], ["count", "bytes"], _WINDOWS),
        )


def sample_batch(
    plan: BatchPlan,
    batch: pa.RecordBatch | pa.Table,
    order_by: str | None,
    rows: Rows | None = None,
) -> KeySample:
    """The key sample of one batch under one design (``rows``: the batch already parsed)."""
    events = plan.prepare(batch, rows)
    keys = events.key_bytes
    weights = pa.array(events.weights)
    ones = pa.array(np.ones(len(keys), dtype=np.int64))
    table = pa.table({"key": keys, "count": ones, "bytes": weights})
    nulls = table.filter(pc.is_null(table["key"]))
    keyed = table.filter(pc.is_valid(table["key"]))
    out = KeySample(
        keys=_sum_by(keyed, ["key"], ["count", "bytes"], _KEYS),
        null_events=nulls.num_rows,
        null_bytes=float(pc.sum(nulls["bytes"]).as_py() or 0.0),
        events=len(keys),
        skipped_rows=events.skipped,
    )
    if order_by is not None:
        out.entities = entity_pairs(events.batch.column(order_by), keys)
    if events.times is not None and len(events.times):
        windows = pa.table({"window": pa.array(events.times // plan.window_ns), "key": keys,
                            "count": ones, "bytes": weights})  # fmt: skip
        out.windows = _sum_by(windows, ["window", "key"], ["count", "bytes"], _WINDOWS)
    return out


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
    keyless_events = sample.null_events + int(counts[~hashed].sum())
    keyless_bytes = sample.null_bytes + float(byte_sums[~hashed].sum())
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


def collect(
    inputs: object,
    plans: dict[str, BatchPlan],
    *,
    order_by: str | None = None,
    input_options: InputOptions,
    progress: bool = False,
) -> tuple[dict[str, KeySample], str, list[str]]:
    """Read the input once and build a key sample per design."""
    from partsim.design import parse_design
    from partsim.progress import Progress

    source = input_options.open(inputs)
    bound = {
        name: bind_columns(plan, source.columns, f"--design {name}" if name != "key" else "--key")
        for name, plan in plans.items()
    }
    if order_by is not None:
        parse_design(order_by).check_columns(source.columns, "--order-by")
    parts: dict[str, list[KeySample]] = {name: [] for name in bound}
    with Progress(enabled=progress, total_bytes=source.bytes_total) as bar:
        for batch in prefetch(source):
            if batch.num_rows == 0:
                continue
            # Every design shares size, timestamp and strictness: parse the rows once.
            rows = next(iter(bound.values())).rows(batch)
            for name, plan in bound.items():
                parts[name].append(sample_batch(plan, batch, order_by, rows))
                if sum(p.keys.num_rows for p in parts[name]) > 4_000_000:
                    parts[name] = [KeySample.merge_all(parts[name])]
            bar.update(batch.num_rows, source.bytes_read)
    samples = {}
    for name, pieces in parts.items():
        sample = KeySample.merge_all(pieces) if pieces else KeySample()
        sample.skipped_rows += source.skipped_rows
        if sample.events == 0:
            skipped = sample.skipped_rows
            detail = f" ({skipped} unparsable rows skipped)" if skipped else ""
            raise DataError(f"no events in {source.describe()}{detail}")
        samples[name] = sample
    return samples, source.describe(), source.columns


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
    for name in ("key", "partitioner"):  # given as designs and partitioners
        if name in options:
            raise TypeError(f"sweep() got an unexpected keyword argument {name!r}")
    producer, measures, reader = split_options(
        dict(options), ProducerOptions, MeasureOptions, InputOptions,
        given=(producer_options, measure_options, input_options),
    )  # fmt: skip
    order_by, timestamp, seed = measures.order_by, measures.timestamp, producer.seed
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
    plans = {}
    for name, text in named.items():
        expression, own = design_key(text, f"--design {name}")
        if own.get("key_format", producer.key_format) != producer.key_format:
            # A design with a format of its own takes none of the shared schema options.
            own = {"key_schema": None, "schema_id": None, "key_message": None, **own}
        plans[name] = BatchPlan(
            replace(producer, key=expression, partitioner=chosen[0].name, **own), counts[0],
            replace(measures, order_by=None), strict=reader.strict,
        )  # fmt: skip
    samples, described, columns = collect(
        inputs, plans, order_by=order_by, input_options=reader, progress=progress
    )
    plans = {name: bind_columns(plan, columns) for name, plan in plans.items()}
    size_source = next(iter(plans.values())).size_source
    check_byte_rate(capacity, size_source, "--partition-capacity")
    check_byte_rate(total_rate, size_source, "--rate")
    window_seconds = next(iter(plans.values())).window_ns / 1e9
    rows, loads = [], {}
    for name, sample in samples.items():
        for partitioner in chosen:
            for count in counts:
                result = evaluate(sample, partitioner, count, seed=seed,
                                  window_seconds=window_seconds if timestamp else None)  # fmt: skip
                loads[(name, partitioner.name, count)] = result.messages
                rows.append(_row(name, named[name], partitioner, count, result, capacity,
                                 total_rate, max_skew))  # fmt: skip
    table = pd.DataFrame(rows)
    recommendations = _recommend(table, samples, plans, max_skew, capacity)
    summary = {
        "inputs": described,
        "designs": named,
        "partitioners": [p.name for p in chosen],
        "partition_counts": counts,
        "order_by": order_by,
        "max_skew": max_skew,
        "partition_capacity": None if capacity is None else
        {"value": capacity[0], "unit": f"{capacity[1]}/s"},
        "events": next(iter(samples.values())).events,
        "size_source": size_source,
        "skipped_rows": max(sample.skipped_rows for sample in samples.values()),
        "recommendations": recommendations.to_dict("records"),
    }  # fmt: skip
    return SweepResult(table, recommendations, summary, loads)


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


def _recommend(table: pd.DataFrame, samples, plans, max_skew, capacity) -> pd.DataFrame:
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
            row["advice"] = _why_not(rows, samples[design], plans[design], max_skew, capacity)
        out.append(row)
    return pd.DataFrame(out)


def _why_not(rows: pd.DataFrame, sample: KeySample, plan: BatchPlan, max_skew, capacity) -> str:
    """Why no swept partition count works, and what would (with the ordering it costs)."""
    expression = plan.encoder.label
    top_share = float(rows["top_key_share"].iloc[0])
    counts = rows["partition_count"].tolist()
    keys = sample.keys
    top_key = ""
    if keys.num_rows:
        index = int(np.argmax(keys.column("count").to_numpy()))
        top_key = plan.producer.display(keys.column("key")[index].as_py())
    smallest = counts[0]
    if smallest * top_share > max_skew:
        salt = math.ceil(smallest * top_share / max_skew)
        return (
            f"No swept count works: key {top_key!r} carries {top_share:.1%} of events, more than "
            f"{max_skew:g}/N of the load for every N >= {smallest}, and more partitions make it "
            f"worse. Salt it over {salt}+ sub-keys or use a composite key such as "
            f"'{{{expression}}}-{{another_field}}'; its {top_share:.1%} of events then lose "
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
