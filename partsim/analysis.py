"""Per-partition load, skew and hot keys from a sample of events.

The work is split so it can stream and fan out: :class:`LoadAggregate` is a *mergeable*
partial result (per partition, per key, per window) built batch by batch;
``a.merge(b)`` equals one pass over both inputs. :func:`finish` turns an aggregate into an
:class:`AnalysisResult`, the figures and tables that reports, plots and notebooks read.

Keyless records (null keys, and empty keys where the client treats them as null) take the
client's keyless path. Their partition is drawn from a counter-based generator keyed by
``seed`` and the record's position among keyless records, so the result does not depend on
how the input was split into batches.
"""

from __future__ import annotations

import base64
import math
import statistics
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from queue import Full, Queue
from typing import NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from partsim.design import KeyDesign, parse_design
from partsim.errors import DataError, UsageError, invalid_choice
from partsim.hashing import KernelArray, _kernels, kernel_backend
from partsim.io import BATCH_ROWS
from partsim.keycounts import KEY_SCHEMA, KeyCounts, sum_by
from partsim.ordering import ordering_report
from partsim.partitioners import (
    MAX_PARTITION_COUNT,
    Partitioner,
    check_partition_count,
    get_partitioner,
)
from partsim.serde import (
    check_key_format,
    display_text,
    escaped_surrogates,
    schema_prefix,
    serialize_keys,
    text_values,
)
from partsim.sketch import (
    DEFAULT_EXACT_KEY_BYTES,
    DEFAULT_EXACT_KEYS,
    LG_K,
    LG_MAX_MAP_SIZE,
    LONG_KEY,
    SHOWN_PREFIX,
    KeySketch,
    SketchedKeys,
    check_exact_key_bytes,
    check_exact_keys,
)

__all__ = [
    "AnalysisResult",
    "LoadAggregate",
    "analyze",
    "analyze_batches",
    "finish",
    "parse_window",
]

#: Distinct keys up to which uniform random placement is simulated rather than computed.
SIMULATE_MAX_KEYS = 2_000_000
#: Key-placements per simulation budget (trials x distinct keys).
SIMULATION_BUDGET = 40_000_000
#: Partition loads kept from the reference's trials for their quantiles, at most.
QUANTILE_CELLS = 4_000_000
#: The most partitions an analysis (analyze, sweep, whatif, simulate) takes: it holds
#: tables, sketches and plots per partition, so memory grows with the count. ``partsim
#: partition`` and :func:`partsim.assign` take any Kafka count, up to 2**31 - 1.
MAX_ANALYSIS_PARTITIONS = 1 << 20
#: Rows of pending partial window and entity tables that trigger a merge (bounds memory).
MERGE_ROWS = 4_000_000
#: Where ``analyze`` computes: this process, or a Dask cluster.
ENGINES = ("local", "dask")
#: Window x partition cells of the per-window table (idle cells included) at most: about
#: 1.5 GB at the peak. One stray timestamp years away would otherwise ask for terabytes.
MAX_WINDOW_CELLS = 20_000_000


# --------------------------------------------------------------------------- parsing
def parse_window(window: str | int | float | pd.Timedelta) -> int:
    """A window length in nanoseconds, from ``"1min"``, ``"30s"``, ``"5m"``, ``"1h"`` or seconds.

    >>> parse_window("1min") == 60 * 10**9
    True
    """
    try:
        if isinstance(window, (int, float)) and not isinstance(window, bool):
            length = pd.Timedelta(seconds=window)
        else:
            text = str(window).strip()
            text = text[:-1] + "min" if text.endswith("m") and text[:-1].isdigit() else text
            length = pd.Timedelta(text)
    except (ValueError, TypeError):
        length = None
    if length is None or length <= pd.Timedelta(0):
        raise UsageError(
            f"--window must be a positive duration such as 1min, 30s or 1h; got {window!r}"
        )
    return int(length.value)


_NUMBER = r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$"
_MISSING_TIME = np.iinfo(np.int64).min
_ZONED = r"([zZ]|[+-]\d\d(:?\d\d)?)$"


def parse_numbers(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Numbers from a column (text is parsed); NaN where a value is missing or not a number."""
    if pa.types.is_dictionary(values.type):
        values = values.cast(values.type.value_type)
    if not (pa.types.is_integer(values.type) or pa.types.is_floating(values.type)):
        if not (pa.types.is_string(values.type) or pa.types.is_large_string(values.type)):
            try:
                values = values.cast(pa.large_string())
            except pa.ArrowInvalid:  # bytes that are not UTF-8 (a kcat key): not numbers
                values = pa.array([_utf8_or_none(value) for value in values.to_pylist()],
                                  pa.large_string())  # fmt: skip
        counts = _parsed_by_kernel(values, _COUNTS)
        if counts is not None:
            return counts
        try:  # Arrow takes no whitespace around a number, so where this works trimming is moot
            values = pc.cast(values, pa.float64())
        except pa.ArrowInvalid:
            values = _trimmed_numbers(values)
    return pc.cast(values, pa.float64()).to_numpy(zero_copy_only=False)


def _trimmed_numbers(values: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """Text as float64 after trimming whitespace; values that are not numbers are missing."""
    values = pc.utf8_trim_whitespace(values)  # " 12" is 12, as a spreadsheet reads it
    try:
        return pc.cast(values, pa.float64())
    except pa.ArrowInvalid:  # some values are not numbers: those become missing
        numeric = pc.match_substring_regex(values, _NUMBER)
        return pc.cast(pc.if_else(numeric, values, pa.scalar(None, values.type)), pa.float64())


#: What the C kernel's ``parse_text`` reads: whole numbers (digits only), or ISO 8601
#: times in one strict form (see :func:`_parsed_by_kernel`).
_COUNTS, _ISO_TIMES = 0, 1


def _parsed_by_kernel(values: pa.Array | pa.ChunkedArray, kind: int) -> np.ndarray | None:
    """Text parsed by the C kernel where every value has its one strict form, else None.

    ``_COUNTS``: digits only, up to 15 (float64; NaN for a null). ``_ISO_TIMES``:
    ``YYYY-MM-DD[T ]hh:mm:ss[.fffffffff][Z]`` of a real date and time in 1678-2261 (int64
    ns, as UTC; ``INT64_MIN`` for a null). These are what sizes and event times in exports
    usually look like; the kernel reads them to the same values as Arrow's casts, times in
    under a third of the time (it parses a minute once for the times that share it), and
    numbers in about half. Anything else returns None, and the column is parsed the usual
    way."""
    if kernel_backend() != "c":
        return None
    out = np.empty(len(values), dtype=np.float64 if kind == _COUNTS else np.int64)
    start = 0
    for chunk in values.chunks if isinstance(values, pa.ChunkedArray) else [values]:
        stop = start + len(chunk)
        if not _kernels.parse_text(kind, *KernelArray.of(chunk), out[start:stop]):
            return None
        start = stop
    return out


def _utf8_or_none(value: bytes | None) -> str | None:
    try:
        return None if value is None else value.decode("utf-8")
    except UnicodeDecodeError:
        return None


def parse_timestamps(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Event times in int64 nanoseconds since the epoch (UTC); ``INT64_MIN`` where unparsable.

    Each value is read on its own, whatever the others hold. A number is epoch seconds,
    milliseconds, microseconds or nanoseconds by its own magnitude: below 1e11 seconds (up
    to the year 5138), below 1e14 milliseconds (from March 1973), below 1e17 microseconds,
    else nanoseconds; so seconds and milliseconds may mix in one column. Other text is ISO
    8601 (a time without a zone is taken as UTC), or any form pandas parses.
    """
    if pa.types.is_dictionary(values.type):
        values = values.cast(values.type.value_type)
    if pa.types.is_timestamp(values.type) or pa.types.is_date(values.type):
        return _time_ns(pc.cast(values, pa.timestamp("ns", tz=getattr(values.type, "tz", None))))
    text = pa.types.is_string(values.type) or pa.types.is_large_string(values.type)
    if text:
        times = _parsed_by_kernel(values, _ISO_TIMES)
        if times is not None:
            return times
        # A failed cast is slow (it builds an error per value), so pick the type from a
        # sample first: an ISO time with a zone (Z or +hh:mm) or without one (taken as UTC).
        sample = pc.drop_null(values.slice(0, 64))
        zoned = len(sample) and pc.all(pc.match_substring_regex(sample, _ZONED)).as_py()
        try:
            return _time_ns(pc.cast(values, pa.timestamp("ns", tz="UTC" if zoned else None)))
        except pa.ArrowInvalid:
            pass
    numbers = parse_numbers(values)
    numeric = np.isfinite(numbers)
    out = np.full(len(numbers), _MISSING_TIME, dtype=np.int64)
    if numeric.any():
        # Each number's unit by its own magnitude, never by the other values in its batch.
        magnitude = np.abs(numbers)
        scale = np.select(
            [magnitude < 1e11, magnitude < 1e14, magnitude < 1e17], [1e9, 1e6, 1e3], 1.0
        )
        with np.errstate(over="ignore", invalid="ignore"):  # inf, and then unparsable
            nanoseconds = numbers * scale
        # Past int64 nanoseconds (about the years 1678-2262) a number names no time we can
        # hold: unparsable, rather than whatever the cast would wrap it to.
        numeric &= np.abs(np.where(numeric, nanoseconds, 0)) < 2.0**63 - 2.0**11
        out[numeric] = nanoseconds[numeric].astype(np.int64)
        whole = numeric & (magnitude < 2.0**53) & (numbers == np.round(numbers))
        if whole.any():  # whole numbers in integers, exactly: 1700000000123 ms is ...123000000
            out[whole] = numbers[whole].astype(np.int64) * scale[whole].astype(np.int64)
    rest = np.flatnonzero(~np.isfinite(numbers) & np.asarray(pc.is_valid(values)))
    if text and len(rest):  # the values that are not numbers: as text times, one by one
        series = pd.Series(text_values(values.take(pa.array(rest))), dtype=object)
        parsed = pd.to_datetime(series, utc=True, errors="coerce", format="mixed")
        times = parsed.to_numpy(dtype="datetime64[ns]").view(np.int64).copy()
        times[parsed.isna().to_numpy()] = _MISSING_TIME
        out[rest] = times
    return out


def _time_ns(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    out = pc.cast(values, pa.int64()).fill_null(_MISSING_TIME)
    return out.to_numpy(zero_copy_only=False)


def keyless_fill(
    strategy: str, first: int, count: int, partition_count: int, seed: int
) -> np.ndarray:
    """Partitions for ``count`` keyless records numbered ``first, first + 1, ...``.

    Round-robin strategies count; the others draw from SplitMix64 of (seed, record number),
    so a record's pick does not depend on batch boundaries.
    """
    index = np.arange(first, first + count, dtype=np.uint64)
    modulus = np.uint64(partition_count)
    if strategy == "round-robin":
        return (index % modulus).astype(np.int32)
    stream = np.uint64((seed * 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF)
    if strategy in ("round-robin-random-start", "pulsar-round-robin"):
        start = _splitmix64(np.array([stream], dtype=np.uint64))[0] % modulus
        return ((index + start) % modulus).astype(np.int32)
    with np.errstate(over="ignore"):
        return (_splitmix64(index + stream) % modulus).astype(np.int32)


def _splitmix64(values: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        z = values + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


# -------------------------------------------------------------------------- aggregate
ENTITY_SCHEMA = pa.schema(
    [("entity", pa.large_string()), ("key", pa.binary()), ("count", pa.int64())]
)
_WINDOW_SCHEMA = pa.schema(
    [("window", pa.int64()), ("partition", pa.int32()), ("messages", pa.int64()),
     ("bytes", pa.float64())]
)  # fmt: skip


@dataclass
class LoadAggregate:
    """Mergeable per-partition, per-key and per-window counts of a stream of events."""

    partition_count: int
    messages: np.ndarray
    bytes: np.ndarray
    keyed_messages: np.ndarray
    keyed_bytes: np.ndarray
    events: int = 0
    null_key_events: int = 0
    keyless_events: int = 0
    skipped_rows: int = 0
    keys: pa.Table = field(default_factory=lambda: KEY_SCHEMA.empty_table())
    windows: pa.Table = field(default_factory=lambda: _WINDOW_SCHEMA.empty_table())
    first_ns: int | None = None
    last_ns: int | None = None
    entities: pa.Table | None = None  # (entity, key, count), with order_by
    # Past ``key_limit`` distinct keys, or ``key_bytes_limit`` bytes of them, ``keys``
    # empties into ``sketch`` (hashed with ``partitioner``, a registry name), and
    # ``sketch_reason`` says which limit it passed; None: the key table stays exact.
    key_limit: int | None = None
    partitioner: str | None = None
    sketch: KeySketch | None = None
    key_bytes_limit: int | None = None
    sketch_reason: str | None = None

    @classmethod
    def empty(cls, partition_count: int) -> LoadAggregate:
        zeros = np.zeros(partition_count, dtype=np.int64)
        return cls(partition_count, zeros.copy(), zeros.astype(float), zeros.copy(),
                   zeros.astype(float))  # fmt: skip

    def merge(self, other: LoadAggregate) -> LoadAggregate:
        """The aggregate of both inputs (neither is changed)."""
        return LoadAggregate.merge_all([self, other])

    @staticmethod
    def merge_all(parts: Sequence[LoadAggregate]) -> LoadAggregate:
        """The aggregate of all the parts' inputs, in one pass over their key tables."""
        if len({part.partition_count for part in parts}) != 1:
            raise ValueError("cannot merge aggregates of different partition counts")
        if len(parts) == 1:
            return parts[0]
        starts = [p.first_ns for p in parts if p.first_ns is not None]
        ends = [p.last_ns for p in parts if p.last_ns is not None]
        entities = [p.entities for p in parts if p.entities is not None]
        merged = LoadAggregate(
            parts[0].partition_count,
            sum(p.messages for p in parts),
            sum(p.bytes for p in parts),
            sum(p.keyed_messages for p in parts),
            sum(p.keyed_bytes for p in parts),
            sum(p.events for p in parts),
            sum(p.null_key_events for p in parts),
            sum(p.keyless_events for p in parts),
            sum(p.skipped_rows for p in parts),
            _sum_tables([p.keys for p in parts], ["key"], ["count", "bytes"], KEY_SCHEMA),
            _sum_tables([p.windows for p in parts], ["window", "partition"],
                        ["messages", "bytes"], _WINDOW_SCHEMA),
            min(starts) if starts else None,
            max(ends) if ends else None,
            _sum_tables(entities, ["entity", "key"], ["count"], ENTITY_SCHEMA)
            if entities else None,
        )  # fmt: skip
        limits = [p.key_limit for p in parts if p.key_limit is not None]
        merged.key_limit = min(limits) if limits else None
        merged.partitioner = next((p.partitioner for p in parts if p.partitioner), None)
        byte_limits = [p.key_bytes_limit for p in parts if p.key_bytes_limit is not None]
        merged.key_bytes_limit = min(byte_limits) if byte_limits else None
        sketches = [p.sketch for p in parts if p.sketch is not None]
        merged.sketch_reason = next((p.sketch_reason for p in parts if p.sketch_reason), None)
        too_many = merged.key_limit is not None and merged.keys.num_rows > merged.key_limit
        too_big = (
            merged.key_bytes_limit is not None
            and merged.keys.column("key").nbytes > merged.key_bytes_limit
        )
        if merged.sketch_reason is None and (too_many or too_big):
            merged.sketch_reason = (
                f"more than {merged.key_limit:,} distinct keys" if too_many else
                f"more than {merged.key_bytes_limit / 2**20:,.0f} MiB of distinct keys"
            )  # fmt: skip
        if sketches or too_many or too_big:
            merged.sketch = KeySketch(merged.partition_count)
            for sketch in sketches:
                merged.sketch.merge(sketch)
            merged._sketch_keys()
        return merged

    # Pickled (to a Dask worker or back) with its tables in Arrow's IPC format, which writes
    # only the rows a sliced or chunked table holds, not the whole buffers behind them.
    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        for name in ("keys", "windows", "entities"):
            if state[name] is not None:
                sink = pa.BufferOutputStream()
                with pa.ipc.new_stream(sink, state[name].schema) as writer:
                    writer.write_table(state[name])
                state[name] = sink.getvalue()
        return state

    def __setstate__(self, state: dict) -> None:
        for name in ("keys", "windows", "entities"):
            if state[name] is not None:
                state[name] = pa.ipc.open_stream(state[name]).read_all()
        self.__dict__.update(state)

    def _sketch_keys(self) -> None:
        """Move the exact key table into the sketch (which must exist)."""
        assert self.sketch is not None
        if self.keys.num_rows:
            if self.partitioner is None:
                raise ValueError("an aggregate without its partitioner cannot sketch its keys")
            keys = self.keys.column("key").combine_chunks()
            partitions = get_partitioner(self.partitioner).hashed_partitions(
                keys, self.partition_count
            )[0]
            self.sketch.update(
                keys, self.keys.column("count").to_numpy(), self.keys.column("bytes").to_numpy(),
                partitions,
            )  # fmt: skip
        self.keys = KEY_SCHEMA.empty_table()


def _sum_tables(
    tables: list[pa.Table], keys: list[str], sums: list[str], schema: pa.Schema
) -> pa.Table:
    """:func:`sum_by` over the tables together; one table with rows is already summed."""
    full = [table for table in tables if table.num_rows]
    if len(full) == 1:
        return full[0].cast(schema)
    return sum_by(pa.concat_tables(tables), keys, sums).cast(schema)


class Rows(NamedTuple):
    """A batch's usable rows and their parsed sizes and times (see :meth:`BatchPlan.rows`)."""

    batch: pa.RecordBatch | pa.Table
    sizes: np.ndarray | None
    times: np.ndarray | None
    skipped: int


@dataclass(frozen=True)
class Events:
    """One batch's usable events, ready to place: what :meth:`BatchPlan.prepare` returns."""

    batch: pa.RecordBatch | pa.Table  # the rows kept
    key_bytes: pa.Array  # serialized keys, null for a null key
    weights: np.ndarray  # bytes per event (1 without sizes)
    times: np.ndarray | None  # ns since the epoch, with a timestamp column
    skipped: int  # rows dropped as unparsable


@dataclass(frozen=True)
class Placed:
    """One batch's events with the partitions their keys hash to: what :meth:`BatchPlan.place`
    returns. The keyless records' partitions are picked later, in order (see
    :meth:`BatchPlan.aggregate`)."""

    events: Events
    partitions: np.ndarray  # int32, one per event; for a keyless record, a placeholder
    keyless: np.ndarray  # bool, one per event: the record takes the keyless path


@dataclass(frozen=True)
class BatchPlan:
    """How each batch of events becomes partitions: configured once, then called per batch."""

    design: KeyDesign
    partitioner: Partitioner
    partition_count: int
    key_format: str = "string"
    schema_id: int | None = None
    schema_type: str = "avro"
    size: str | None = None
    timestamp: str | None = None
    window_ns: int = 60 * 10**9
    seed: int = 0
    strict: bool = False
    value_sizes: bool = False  # the input has value_size (a kcat dump or a live sample)
    order_by: str | None = None  # the entity whose events must stay in order
    exact_keys: int | None = DEFAULT_EXACT_KEYS  # distinct keys counted exactly, then sketched
    exact_key_bytes: int | None = DEFAULT_EXACT_KEY_BYTES  # their bytes, likewise

    @property
    def size_source(self) -> str:
        """Where each event's bytes come from, as the summary states it."""
        if self.size:
            return f"column {self.size}"
        return "key + value_size" if self.value_sizes else "none (1 per event)"

    def columns(self) -> list[str]:
        """The input columns the plan reads (a source reads only these: ``select``)."""
        wanted = list(self.design.columns)
        value_size = "value_size" if self.value_sizes else None
        for extra in (self.size, self.timestamp, self.order_by, value_size):
            if extra and extra not in wanted:
                wanted.append(extra)
        return wanted

    def rows(self, batch: pa.RecordBatch | pa.Table) -> Rows:
        """The batch's usable rows, with sizes and times parsed: the part of :meth:`prepare`
        that does not depend on the key design (plans that share size, timestamp and
        strictness can share it)."""
        count = batch.num_rows
        keep = np.ones(count, dtype=bool)
        sizes = None
        if self.size:
            sizes = parse_numbers(batch.column(self.size))
            keep &= np.isfinite(sizes) & (sizes >= 0)
        elif self.value_sizes:
            value_sizes = parse_numbers(batch.column("value_size"))
            sizes = np.where(np.isfinite(value_sizes), value_sizes, 0.0)
        times = None
        if self.timestamp:
            times = parse_timestamps(batch.column(self.timestamp))
            keep &= times != _MISSING_TIME
        skipped = int(count - keep.sum())
        if skipped and self.strict:
            what = " and ".join(c for c in (self.size, self.timestamp) if c)
            raise DataError(f"{skipped} rows have an unparsable {what} (--strict)")
        if skipped:
            batch = batch.filter(pa.array(keep))
            sizes = sizes[keep] if sizes is not None else None
            times = times[keep] if times is not None else None
        return Rows(batch, sizes, times, skipped)

    def prepare(self, batch: pa.RecordBatch | pa.Table, rows: Rows | None = None) -> Events:
        """A batch's usable events: key bytes, bytes per event, times, and the rest skipped.

        ``rows`` is the batch's :meth:`rows`, when already parsed for another design."""
        batch, sizes, times, skipped = rows if rows is not None else self.rows(batch)
        try:
            keys = self.design.keys(batch)
            key_bytes = serialize_keys(
                keys, self.key_format, schema_id=self.schema_id, schema_type=self.schema_type,
                text_encoding=self.partitioner.text_encoding,
            )  # fmt: skip
        except pa.ArrowInvalid as error:
            raise DataError(f"--key {self.design.expression!r}: {error}") from None
        if isinstance(key_bytes, pa.ChunkedArray):
            key_bytes = key_bytes.combine_chunks()
        if sizes is None:
            weights = np.ones(len(key_bytes))
        elif self.size:
            weights = sizes
        else:
            key_lengths = pc.binary_length(key_bytes).fill_null(0).to_numpy(zero_copy_only=False)
            weights = sizes + key_lengths
        return Events(batch, key_bytes, weights, times, skipped)

    def place(self, batch: pa.RecordBatch | pa.Table, rows: Rows | None = None) -> Placed:
        """A batch's events and the partitions of their keys: the part of :meth:`aggregate`
        that does not depend on the batches before (so it may run ahead, in another
        thread)."""
        events = self.prepare(batch, rows)
        partitions, keyless = self.partitioner.hashed_partitions(
            events.key_bytes, self.partition_count
        )
        return Placed(events, partitions, keyless)

    def aggregate(
        self,
        batch: pa.RecordBatch | pa.Table,
        keyless_seen: int,
        rows: Rows | Placed | None = None,
        keys: KeyCounts | None = None,
    ) -> LoadAggregate:
        """The aggregate of one batch; ``keyless_seen`` numbers its keyless records
        (``rows``: the batch's :meth:`rows` or :meth:`place`, when already done). With
        ``keys``, the per-key counts go there, and the aggregate's key table stays empty."""
        placed = rows if isinstance(rows, Placed) else self.place(batch, rows)
        events, partitions, keyless = placed.events, placed.partitions, placed.keyless
        key_bytes = events.key_bytes
        keyless_count = int(keyless.sum())
        if keyless_count:
            partitions[keyless] = keyless_fill(
                self.partitioner.keyless, keyless_seen, keyless_count, self.partition_count,
                self.seed,
            )  # fmt: skip
        counts = KeyCounts() if keys is None else keys
        out = self._counts(
            key_bytes, partitions, keyless, events.weights, events.times, events.skipped, counts
        )
        if keys is None:
            out.keys = counts.table()
        if self.order_by is not None:
            out.entities = entity_pairs(events.batch.column(self.order_by), key_bytes)
        return out

    def _counts(
        self, key_bytes, partitions, keyless, weights, times, skipped, keys: KeyCounts
    ) -> LoadAggregate:
        count = self.partition_count
        out = LoadAggregate.empty(count)
        out.messages = np.bincount(partitions, minlength=count).astype(np.int64)
        out.bytes = np.bincount(partitions, weights=weights, minlength=count)
        hashed = ~keyless
        out.keyless_events = int(keyless.sum())
        if out.keyless_events:
            keyed = partitions[hashed]
            out.keyed_messages = np.bincount(keyed, minlength=count).astype(np.int64)
            out.keyed_bytes = np.bincount(keyed, weights=weights[hashed], minlength=count)
        else:  # every event hashed: the same counts, without copying the batch
            out.keyed_messages, out.keyed_bytes = out.messages.copy(), out.bytes.copy()
        out.events = len(partitions)
        out.null_key_events = int(key_bytes.null_count)
        out.skipped_rows = skipped
        out.key_limit, out.partitioner = self.exact_keys, self.partitioner.name
        out.key_bytes_limit = self.exact_key_bytes
        if out.keyless_events:
            keys.add(key_bytes.filter(pa.array(hashed)), weights[hashed])
        else:
            keys.add(key_bytes, weights)
        if times is not None and len(times):
            out.windows = _window_counts(times // self.window_ns, partitions, weights, count)
            out.first_ns, out.last_ns = int(times.min()), int(times.max())
        return out


def entity_pairs(entity: pa.Array | pa.ChunkedArray, key_bytes: pa.Array) -> pa.Table:
    """Events per (entity, key) of one batch; events whose entity is null are left out."""
    if not pa.types.is_large_string(entity.type):
        try:
            entity = entity.cast(pa.large_string())
        except pa.ArrowInvalid:  # e.g. kcat's raw key bytes
            raise DataError(
                "--order-by: the entity column holds bytes that are not valid UTF-8; "
                "order by a text column"
            ) from None
    entity = escaped_surrogates(entity)  # an entity is a name: shown, never hashed
    ones = pa.array(np.ones(len(key_bytes), dtype=np.int64))
    pairs = pa.table({"entity": entity, "key": key_bytes, "count": ones})
    pairs = pairs.filter(pc.is_valid(pairs["entity"]))
    return sum_by(pairs, ["entity", "key"], ["count"]).cast(ENTITY_SCHEMA)


def _window_counts(
    windows: np.ndarray, partitions: np.ndarray, weights: np.ndarray, partition_count: int
) -> pa.Table:
    """Messages and bytes per (window, partition) present in one batch."""
    first = int(windows.min())
    span = int(windows.max()) - first + 1
    code = (windows - first) * partition_count + partitions
    if span * partition_count <= 4 * len(code) + 1024:  # dense: count every cell directly
        messages = np.bincount(code, minlength=span * partition_count)
        byte_sums = np.bincount(code, weights=weights, minlength=span * partition_count)
        cells = np.flatnonzero(messages)
        messages, byte_sums = messages[cells], byte_sums[cells]
    else:  # sparse (outlying timestamps): count only the cells that occur
        cells, inverse = np.unique(code, return_inverse=True)
        messages = np.bincount(inverse)
        byte_sums = np.bincount(inverse, weights=weights)
    return pa.table(
        [
            pa.array(cells // partition_count + first),
            pa.array((cells % partition_count).astype(np.int32)),
            pa.array(messages.astype(np.int64)),
            pa.array(byte_sums.astype(np.float64)),
        ],
        schema=_WINDOW_SCHEMA,
    )


# --------------------------------------------------------------------------- metrics
def gini(loads: np.ndarray) -> float:
    """Gini coefficient of per-partition loads: 0 is perfectly even, (N-1)/N all on one.

    >>> round(gini(np.array([1.0, 1.0, 1.0, 1.0])), 6)
    0.0
    """
    values = np.sort(np.asarray(loads, dtype=float))
    total = values.sum()
    if total <= 0:
        return 0.0
    ranks = np.arange(1, len(values) + 1)
    return float(
        (2 * (ranks * values).sum()) / (len(values) * total) - (len(values) + 1) / len(values)
    )


def skew_metrics(loads: np.ndarray) -> dict[str, float | int]:
    """max/mean, coefficient of variation, Gini, Jain's index and normalized entropy."""
    values = np.asarray(loads, dtype=float)
    total = values.sum()
    mean = values.mean() if len(values) else 0.0
    if total <= 0:
        return {"max_mean_ratio": 0.0, "cv": 0.0, "gini": 0.0, "jain": 0.0, "entropy": 0.0,
                "hottest_partition": 0, "hottest_partition_share": 0.0}  # fmt: skip
    shares = values / total
    nonzero = shares[shares > 0]
    entropy = (
        float(-(nonzero * np.log(nonzero)).sum() / math.log(len(values)))
        if len(values) > 1
        else 1.0
    )
    return {
        "max_mean_ratio": float(values.max() / mean),
        "cv": float(values.std() / mean),
        "gini": gini(values),
        "jain": float(total**2 / (len(values) * (values**2).sum())),
        "entropy": entropy,
        "hottest_partition": int(values.argmax()),
        "hottest_partition_share": float(values.max() / total),
    }


def uniform_reference(
    weights: np.ndarray,
    keyless: int,
    partition_count: int,
    seed: int = 0,
    tail: tuple[int, float] = (0, 0.0),
) -> dict[str, object]:
    """max/mean under uniform random placement of these key weights, as a mean with a spread.

    ``weights`` are the per-key loads; ``keyless`` records are placed one by one at random
    (the long-run effect of every client's keyless path). ``tail`` is ``(keys, weight)``:
    that many more keys of that weight each (the sketched keys below the hot ones). Simulated
    when the key count allows it, else computed with a normal approximation of each
    partition's load.
    """
    weights = np.asarray(weights, dtype=float)
    tail_keys, tail_weight = tail
    if tail_keys and len(weights) + tail_keys <= SIMULATE_MAX_KEYS:
        weights = np.concatenate([np.full(tail_keys, tail_weight), weights])
        tail_keys = 0
    total = weights.sum() + tail_keys * tail_weight + keyless
    if partition_count == 1 or total <= 0:
        return {"method": "exact", "trials": 0, "mean": 1.0, "std": 0.0, "p05": 1.0, "p95": 1.0,
                "partition_load_p05": total, "partition_load_p95": total}  # fmt: skip
    mean_load = total / partition_count
    if len(weights) + tail_keys <= SIMULATE_MAX_KEYS:
        # Each trial costs a draw per key and a pass over the partitions.
        trials = int(min(500, max(20, SIMULATION_BUDGET // max(1, len(weights) + partition_count))))
        rng = np.random.default_rng(seed)
        even = np.full(partition_count, 1 / partition_count)
        # Keys of one weight are exchangeable: how many of the m keys of a weight land on each
        # partition is Multinomial(m, even), one draw for all m. A weight that fewer keys
        # than partitions share is cheaper to place key by key.
        group_weight, group, group_keys = np.unique(
            weights, return_inverse=True, return_counts=True
        )
        drawn = group_keys >= partition_count
        group_weight, group_keys = group_weight[drawn], group_keys[drawn]
        placed = weights[~drawn[group]]
        # Every trial's max; the partition loads of as many trials as fit in QUANTILE_CELLS,
        # for their quantiles (memory stays bounded at any partition count).
        loads = np.empty((max(1, min(trials, QUANTILE_CELLS // partition_count)), partition_count))
        maxima = np.empty(trials)
        for trial in range(trials):
            placement = rng.integers(0, partition_count, size=len(placed))
            load = np.bincount(placement, weights=placed, minlength=partition_count)
            load = load.astype(float, copy=False)  # int64 when no key is placed one by one
            load += group_weight @ rng.multinomial(group_keys, even)
            load += rng.multinomial(keyless, even)
            maxima[trial] = load.max()
            if trial < len(loads):
                loads[trial] = load
        ratios = maxima / mean_load
        return {
            "method": "simulated",
            "trials": trials,
            "mean": float(ratios.mean()),
            "std": float(ratios.std(ddof=1)),
            "p05": float(np.quantile(ratios, 0.05)),
            "p95": float(np.quantile(ratios, 0.95)),
            "partition_load_p05": float(np.quantile(loads, 0.05)),
            "partition_load_p95": float(np.quantile(loads, 0.95)),
        }
    # Each partition's load: a sum of w_k * Bernoulli(1/N); normal with this mean and sigma.
    square_sum = (weights**2).sum() + tail_keys * tail_weight**2 + keyless
    sigma = math.sqrt(square_sum * (1 / partition_count) * (1 - 1 / partition_count))
    normal = statistics.NormalDist()

    def max_quantile(q: float) -> float:  # P(max <= x) = Phi(z)^N
        return (mean_load + sigma * normal.inv_cdf(q ** (1 / partition_count))) / mean_load

    blom = normal.inv_cdf((partition_count - 0.375) / (partition_count + 0.25))
    return {
        "method": "computed",
        "trials": 0,
        "mean": (mean_load + sigma * blom) / mean_load,
        "std": (max_quantile(0.8413) - max_quantile(0.1587)) / 2,
        "p05": max_quantile(0.05),
        "p95": max_quantile(0.95),
        "partition_load_p05": mean_load - 1.6449 * sigma,
        "partition_load_p95": mean_load + 1.6449 * sigma,
    }


# ---------------------------------------------------------------------------- result
@dataclass(frozen=True)
class AnalysisResult:
    """What ``partsim analyze`` found: a JSON-ready summary and tables as DataFrames.

    ``partitions`` has one row per partition (``partition, messages, bytes, share,
    ratio_to_mean, distinct_keys, top_key, top_key_share, keyed_messages``, the last being
    the messages whose partition came from their key rather than the keyless path);
    ``hot_keys`` the top keys (``key, count, bytes, share, partition``); ``windows`` the
    per-window load (``window_start, partition, messages, bytes, messages_per_second``), or
    None without a timestamp.
    """

    summary: dict
    partitions: pd.DataFrame
    hot_keys: pd.DataFrame
    windows: pd.DataFrame | None = None

    def __repr__(self) -> str:
        s = self.summary
        return (
            f"<AnalysisResult {s['events']:,} events, {s['distinct_keys']:,} keys, "
            f"{s['partition_count']} partitions ({s['partitioner']}): max/mean "
            f"{s['max_mean_ratio']:.2f}, hottest partition {s['hottest_partition']} "
            f"({s['hottest_partition_share']:.1%})>"
        )


def display_key(raw: bytes | None, key_format: str, prefix: int = 0) -> str:
    """A serialized key shown as the user wrote it (framing removed); ``(null)`` for a null
    key that the partitioner hashes (librdkafka's consistent, murmur2 and fnv1a do)."""
    if raw is None:
        return "(null)"
    payload = raw[prefix:]
    if key_format in ("int16", "int32", "int64"):
        return str(int.from_bytes(payload, "big", signed=True))
    if key_format == "hex":
        return payload.hex()
    if key_format == "base64":
        return base64.b64encode(payload).decode("ascii")
    return display_text(payload)


def finish(
    aggregate: LoadAggregate,
    plan: BatchPlan,
    *,
    top: int = 20,
    inputs: str = "",
    seed: int = 0,
) -> AnalysisResult:
    """Turn an aggregate into the result: tables, skew metrics and the two references."""
    count = aggregate.partition_count
    if aggregate.events == 0:
        raise DataError(
            "no events to analyze"
            + (
                f": {aggregate.skipped_rows} rows were skipped as unparsable"
                if aggregate.skipped_rows
                else ""
            )
        )
    prefix = (
        len(schema_prefix(plan.schema_id, plan.schema_type)) if plan.schema_id is not None else 0
    )
    sketched = aggregate.sketch.result() if aggregate.sketch is not None else None
    keys = aggregate.keys if sketched is None else sketched.keys
    all_counts = keys.column("count").to_numpy()
    if sketched is None:  # a hashed key's partition is a function of its bytes: hash once
        all_partitions = plan.partitioner.hashed_partitions(keys.column("key"), count)[0]
    else:  # as hashed when counted (a long key is only shown by its prefix)
        all_partitions = keys.column("partition").to_numpy()
        keys = keys.drop_columns(["partition"])
    hot = min(top, keys.num_rows)
    if sketched is None:
        distinct = np.bincount(all_partitions, minlength=count)
        distinct_keys = len(all_counts)
        # Only the hot keys and each partition's top key need ordering: sort those
        # candidates (ties by key), not the whole distinct-key table.
        best = np.zeros(count, dtype=np.int64)
        np.maximum.at(best, all_partitions, all_counts)
        kth = np.partition(all_counts, keys.num_rows - hot)[keys.num_rows - hot] if hot else np.inf
        candidates = (all_counts >= kth) | (all_counts == best[all_partitions])
        keys = keys.filter(pa.array(candidates))
        key_partitions = all_partitions[candidates]
    else:  # every key heavier than the sketch's error bound is a candidate already
        distinct, distinct_keys = sketched.distinct, round(sketched.distinct_total)
        key_partitions = all_partitions
    keys = keys.append_column("partition", pa.array(key_partitions))
    keys = keys.sort_by([("count", "descending"), ("key", "ascending")])
    key_counts = keys.column("count").to_numpy()
    key_bytes_sum = keys.column("bytes").to_numpy()
    key_partitions = keys.column("partition").to_numpy()
    raw_keys = keys.column("key")
    total = aggregate.events
    total_bytes = float(aggregate.bytes.sum())

    hot_keys = pd.DataFrame(
        {
            "key": [
                display_key(k, plan.key_format, prefix) for k in raw_keys.slice(0, hot).to_pylist()
            ],
            "count": key_counts[:hot],
            "bytes": key_bytes_sum[:hot],
            "share": key_counts[:hot] / total,
            "partition": key_partitions[:hot],
        }
    )
    if sketched is not None:
        hot_keys.insert(2, "count_lower", keys.column("count_lower").to_numpy()[:hot])
        hot_keys.insert(3, "count_upper", keys.column("count_upper").to_numpy()[:hot])

    # Top key of each partition: candidates are sorted by count, so the first seen wins.
    first_index = np.full(count, -1)
    if keys.num_rows:
        order = np.arange(keys.num_rows)
        seen = np.full(count, keys.num_rows)
        np.minimum.at(seen, key_partitions, order)
        first_index = np.where(seen < keys.num_rows, seen, -1)
    top_raw = [raw_keys[int(i)].as_py() if i >= 0 else None for i in first_index]
    top_counts = np.array([key_counts[i] if i >= 0 else 0 for i in first_index], dtype=float)
    messages = aggregate.messages
    mean = total / count
    partitions = pd.DataFrame(
        {
            "partition": np.arange(count),
            "messages": messages,
            "bytes": aggregate.bytes,
            "share": messages / total,
            "ratio_to_mean": messages / mean,
            "distinct_keys": distinct,
            "top_key": [
                None if k is None else display_key(k, plan.key_format, prefix) for k in top_raw
            ],
            "top_key_share": np.divide(
                top_counts, messages, out=np.zeros(count), where=messages > 0
            ),
            "keyed_messages": aggregate.keyed_messages,
        }
    )

    metrics = skew_metrics(messages)
    keyed = skew_metrics(aggregate.keyed_messages)
    top_share = float(key_counts[0] / total) if keys.num_rows else 0.0
    summary: dict[str, object] = {
        "inputs": inputs,
        "key": plan.design.expression,
        "key_format": plan.key_format,
        "schema_id": plan.schema_id,
        "partitioner": plan.partitioner.name,
        "partition_count": count,
        "events": total,
        "keyed_events": total - aggregate.null_key_events,
        "null_key_events": aggregate.null_key_events,
        "keyless_events": aggregate.keyless_events,
        "skipped_rows": aggregate.skipped_rows,
        "distinct_keys": distinct_keys,
        "key_counts": _key_counts_note(aggregate, sketched),
        "bytes": total_bytes,
        "size_source": plan.size_source,
        **metrics,
        "max_mean_ratio_bytes": skew_metrics(aggregate.bytes)["max_mean_ratio"],
        "best_possible_max_mean_ratio": max(1.0, count * top_share),
        # Sorted, so the simulation does not depend on the key table's order (batching).
        "uniform_placement": uniform_reference(
            np.sort(all_counts if sketched is None else sketched.keys["count_lower"].to_numpy()),
            aggregate.keyless_events,
            count,
            seed=seed,
            tail=_tail(aggregate, sketched),
        ),
        "keyed_only": {
            "events": int(aggregate.keyed_messages.sum()),
            **{
                k: keyed[k]
                for k in (
                    "max_mean_ratio",
                    "cv",
                    "gini",
                    "jain",
                    "entropy",
                    "hottest_partition",
                    "hottest_partition_share",
                )
            },
        },
        "top_keys": [
            {
                "key": row.key,
                "count": int(row.count),
                "share": float(row.share),
                "partition": int(row.partition),
            }
            for row in hot_keys.itertuples()
        ],
    }
    if aggregate.entities is not None:
        summary["order_by"] = plan.order_by
        if sketched is None:
            sample_keys, key_partition = aggregate.keys.column("key"), all_partitions
        else:  # the key table is gone: hash the entities' keys themselves
            sample_keys = pc.unique(aggregate.entities.column("key"))
            key_partition, keyless = plan.partitioner.hashed_partitions(sample_keys, count)
            key_partition[keyless] = -1
        summary["ordering"] = ordering_report(aggregate.entities, key_partition, sample_keys)
    summary["verdict"] = _verdict(summary)
    windows = None
    if plan.timestamp and aggregate.windows.num_rows:
        windows, window_summary = _windows(aggregate, plan.window_ns)
        summary["windows"] = window_summary
    return AnalysisResult(
        summary=summary, partitions=partitions, hot_keys=hot_keys, windows=windows
    )


def _tail(aggregate: LoadAggregate, sketched: SketchedKeys | None) -> tuple[int, float]:
    """The sketched events its counters do not hold, as (keys, even weight each).

    The candidates enter the reference with their lower bounds (the sketch's counters); the
    rest of the keyed events is known exactly (keyed events less the counters), their spread
    over keys is not, and an even spread gives the least hash noise they can add."""
    if sketched is None:
        return 0, 0.0
    keys = sketched.keys.num_rows
    rest_keys = max(0, round(sketched.distinct_total) - keys)
    kept = int(pc.sum(sketched.keys["count_lower"]).as_py() or 0)  # the sketch's counters
    rest = int(aggregate.keyed_messages.sum()) - kept
    if rest_keys == 0 or rest <= 0:
        return 0, 0.0
    return rest_keys, rest / rest_keys


def _key_counts_note(aggregate: LoadAggregate, sketched: SketchedKeys | None) -> dict:
    """How hot keys and distinct keys were counted: exactly, or by sketches with bounds."""
    limits = {"exact_keys": aggregate.key_limit, "exact_key_bytes": aggregate.key_bytes_limit}
    if sketched is None:
        return {"method": "exact", **limits}
    reason = aggregate.sketch_reason or f"more than {aggregate.key_limit:,} distinct keys"
    digested = int(pc.sum(sketched.keys["digested"]).as_py() or 0)
    long_keys = (
        f"; {digested:,} candidate hot keys are longer than {LONG_KEY} bytes: counted by a "
        f"128-bit digest of the whole key, shown by their first {SHOWN_PREFIX} bytes and '…'"
        if digested else ""
    )  # fmt: skip
    return {
        "method": "sketch",
        **limits,
        "reason": reason,
        "digested_keys": digested,
        "sketches": f"Apache DataSketches frequent items (lg_max_map_size {LG_MAX_MAP_SIZE}) "
        f"and HLL (lg_k {LG_K}, per partition)",
        "count_error_bound": sketched.count_error,
        "bytes_error_bound": sketched.bytes_error,
        "distinct_keys_lower": sketched.distinct_lower,
        "distinct_keys_upper": sketched.distinct_upper,
        "note": (
            f"{reason}: hot-key counts are estimates "
            f"within ±{sketched.count_error:,} events, distinct keys within "
            f"{sketched.distinct_lower:,.0f}–{sketched.distinct_upper:,.0f} (95%); "
            f"per-partition messages and bytes are exact{long_keys}"
        ),
    }


def _windows(aggregate: LoadAggregate, window_ns: int) -> tuple[pd.DataFrame, dict]:
    count = aggregate.partition_count
    table = aggregate.windows.sort_by([("window", "ascending"), ("partition", "ascending")])
    frame = table.to_pandas()
    seconds = window_ns / 1e9
    first, last = int(frame["window"].min()), int(frame["window"].max())
    if (last - first + 1) * count > MAX_WINDOW_CELLS:
        span = [
            pd.Timestamp(aggregate.first_ns, tz="UTC"),
            pd.Timestamp(aggregate.last_ns, tz="UTC"),
        ]
        raise DataError(
            f"the timestamps span {last - first + 1:,} windows of {seconds:g} s "
            f"({span[0].isoformat()} to {span[1].isoformat()}), which with {count:,} partitions "
            f"is more than {MAX_WINDOW_CELLS:,} window x partition cells; give a longer --window "
            "or leave out the events far from the rest"
        )
    # Every window x partition, zeros included, so a spreadsheet sees the idle partitions.
    full = pd.MultiIndex.from_product(
        [np.arange(first, last + 1), np.arange(count)], names=["window", "partition"]
    )
    frame = frame.set_index(["window", "partition"]).reindex(full, fill_value=0).reset_index()
    frame.insert(0, "window_start", pd.to_datetime(frame.pop("window") * window_ns, utc=True))
    frame["messages_per_second"] = frame["messages"] / seconds
    wide = frame.pivot(index="window_start", columns="partition", values="messages")
    per_window_mean = wide.mean(axis=1)
    ratios = (wide.max(axis=1) / per_window_mean.where(per_window_mean > 0)).fillna(0)
    peak_window = ratios.idxmax()
    peak_rate = frame.loc[frame["messages"].idxmax()]
    summary = {
        "window_seconds": seconds,
        "windows": len(wide),
        "peak_window_max_mean_ratio": float(ratios.max()),
        "peak_window_start": peak_window.isoformat(),
        "mean_window_max_mean_ratio": float(ratios[per_window_mean > 0].mean()),
        "peak_partition_rate": float(peak_rate["messages_per_second"]),
        "peak_partition": int(peak_rate["partition"]),
        "peak_partition_window_start": peak_rate["window_start"].isoformat(),
        "mean_rate": float(frame["messages"].sum() / (len(wide) * seconds)),
        "first_event": pd.Timestamp(aggregate.first_ns, tz="UTC").isoformat(),
        "last_event": pd.Timestamp(aggregate.last_ns, tz="UTC").isoformat(),
    }
    return frame, summary


def _verdict(summary: dict) -> str:
    """One sentence that tells key skew from hash noise."""
    ratio = summary["max_mean_ratio"]
    best = summary["best_possible_max_mean_ratio"]
    noise = summary["uniform_placement"]
    hottest = summary["hottest_partition"]
    if summary["partition_count"] == 1:
        return "One partition: there is nothing to balance."
    if best > 1.05 and ratio >= 0.9 * best:
        return (
            f"Partition {hottest} carries {ratio:.2f}× the mean, and no placement can do better "
            f"than {best:.2f}×: its top key alone outweighs a partition's fair share. Salt or "
            "split that key, or choose a finer key."
        )
    if ratio <= noise["p95"]:
        return (
            f"Partition {hottest} carries {ratio:.2f}× the mean, within what random placement of "
            f"these keys gives ({noise['p05']:.2f}–{noise['p95']:.2f}×): hash noise, not key skew."
        )
    return (
        f"Partition {hottest} carries {ratio:.2f}× the mean, above the {noise['p95']:.2f}× that "
        f"random placement of these keys reaches 95% of the time: heavy keys happen to share it "
        "(key skew). More partitions or a different key spread it."
    )


# ---------------------------------------------------------------------------- driver
def prefetch(batches: Iterable[pa.RecordBatch], depth: int = 2) -> Iterator[pa.RecordBatch]:
    """Read ahead ``depth`` batches in a thread, so reading overlaps with aggregating.

    Arrow and numpy release the GIL while they work, so on two cores the reader's parsing and
    the aggregation run side by side. The queue is bounded: memory stays bounded. An error in
    the reader is raised here, in the caller's thread.
    """
    queue: Queue = Queue(maxsize=depth)
    stop = threading.Event()
    done = object()

    def read() -> None:
        try:
            for batch in batches:
                while not stop.is_set():
                    try:
                        queue.put(batch, timeout=0.1)
                        break
                    except Full:
                        continue
                if stop.is_set():
                    return
            queue.put(done)
        except BaseException as error:  # handed to the consumer
            queue.put(error)

    thread = threading.Thread(target=read, name="partsim-reader", daemon=True)
    thread.start()
    try:
        while True:
            item = queue.get()
            if item is done:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()


def parse_ahead(
    batches: Iterable[pa.RecordBatch | pa.Table], plan: BatchPlan
) -> Iterator[tuple[pa.RecordBatch | pa.Table, Placed]]:
    """Each batch with its :meth:`BatchPlan.place`, for :func:`analyze_batches`; in a
    :func:`prefetch` thread, sizes and times are parsed and keys serialized and hashed while
    other batches are counted."""
    for batch in batches:
        yield batch, plan.place(batch)


def analyze_batches(
    batches: Iterable[pa.RecordBatch | pa.Table | tuple[pa.RecordBatch | pa.Table, Rows | Placed]],
    plan: BatchPlan,
    *,
    on_batch: Callable[[int], None] | None = None,
    keyless_start: int = 0,
) -> LoadAggregate:
    """Aggregate a stream of batches with ``plan``, merging as it goes (bounded memory).

    A batch may come with its rows already parsed, or its keys placed (see
    :func:`parse_ahead`).
    ``keyless_start`` numbers the first keyless record: pieces read in parallel start far
    apart, so their keyless picks are independent draws."""
    total = LoadAggregate.empty(plan.partition_count)
    pending: list[LoadAggregate] = []
    keys = KeyCounts()  # every batch's keys, in one table
    keyless_seen = keyless_start
    limit = plan.exact_keys
    for item in batches:
        batch, rows = item if isinstance(item, tuple) else (item, None)
        if batch.num_rows == 0:
            continue
        part = plan.aggregate(batch, keyless_seen, rows, keys)
        keyless_seen += part.keyless_events
        pending.append(part)
        if limit is not None and keys.exceeds(limit, plan.exact_key_bytes):
            # Past the exact-key limit, merging is what moves the keys into the sketch.
            total = LoadAggregate.merge_all([total, *pending, _counted(keys, plan)])
            pending, keys = [], KeyCounts()
        elif sum(_pending_rows(p) for p in pending) > MERGE_ROWS:
            total, pending = LoadAggregate.merge_all([total, *pending]), []
        if on_batch is not None:
            on_batch(batch.num_rows)
    return LoadAggregate.merge_all([total, *pending, _counted(keys, plan)])


def _counted(keys: KeyCounts, plan: BatchPlan) -> LoadAggregate:
    """An aggregate holding only ``keys``' table: the keys counted since the last flush join
    a merge as one more part."""
    part = LoadAggregate.empty(plan.partition_count)
    part.keys, part.key_limit, part.partitioner = (
        keys.table(), plan.exact_keys, plan.partitioner.name
    )  # fmt: skip
    part.key_bytes_limit = plan.exact_key_bytes
    return part


def _pending_rows(part: LoadAggregate) -> int:
    """The rows of a part's window and entity tables (merging sums them up)."""
    return part.windows.num_rows + (part.entities.num_rows if part.entities is not None else 0)


def make_plan(
    *,
    key: str,
    partition_count: int,
    partitioner: str = "java",
    key_format: str = "string",
    schema_id: int | None = None,
    schema_type: str = "avro",
    size: str | None = None,
    timestamp: str | None = None,
    window: str | int | float = "1min",
    seed: int = 0,
    null_field_as_empty: bool = False,
    strict: bool = False,
    order_by: str | None = None,
    exact_keys: int = DEFAULT_EXACT_KEYS,
    exact_key_bytes: int | str = DEFAULT_EXACT_KEY_BYTES,
) -> BatchPlan:
    """Validate the analysis options once, before any data is read."""
    if schema_id is not None:
        schema_prefix(schema_id, schema_type)  # validates both
    return BatchPlan(
        design=parse_design(key, null_field_as_empty=null_field_as_empty),
        partitioner=get_partitioner(partitioner),
        partition_count=check_analysis_partitions(partition_count),
        key_format=check_key_format(key_format),
        schema_id=schema_id,
        schema_type=schema_type,
        size=size,
        timestamp=timestamp,
        window_ns=parse_window(window),
        seed=seed,
        strict=strict,
        order_by=order_by,
        exact_keys=check_exact_keys(exact_keys),
        exact_key_bytes=check_exact_key_bytes(exact_key_bytes),
    )


def check_analysis_partitions(partition_count: object) -> int:
    """A partition count for an analysis: from 1 to :data:`MAX_ANALYSIS_PARTITIONS`, or a
    one-line :class:`UsageError` that names the limit."""
    count = check_partition_count(partition_count)
    if count > MAX_ANALYSIS_PARTITIONS:
        raise UsageError(
            f"partition_count must be at most {MAX_ANALYSIS_PARTITIONS:,} for an analysis, "
            f"which keeps tables per partition; got {count:,} (partsim partition takes any "
            f"count up to {MAX_PARTITION_COUNT:,})"
        )
    return count


def bind_columns(plan: BatchPlan, available: Sequence[str], key_option: str = "--key") -> BatchPlan:
    """Check the plan against the input's columns; fail naming the columns there are (and
    ``key_option``, the option that gave the key design)."""
    plan.design.check_columns(available, key_option)
    options = (
        ("--size", plan.size),
        ("--timestamp", plan.timestamp),
        ("--order-by", plan.order_by),
    )
    for option, column in options:
        if column:
            parse_design(column).check_columns(available, option)
    return replace(plan, value_sizes=plan.size is None and "value_size" in available)


def analyze(
    inputs: object,
    *,
    key: str,
    partition_count: int,
    partitioner: str = "java",
    key_format: str = "string",
    schema_id: int | None = None,
    schema_type: str = "avro",
    size: str | None = None,
    timestamp: str | None = None,
    window: str | int | float = "1min",
    top: int = 20,
    seed: int = 0,
    null_field_as_empty: bool = False,
    format: str | None = None,
    delimiter: str | None = None,
    regex: str | None = None,
    strict: bool = False,
    batch_rows: int = BATCH_ROWS,
    progress: bool = False,
    order_by: str | None = None,
    exact_keys: int = DEFAULT_EXACT_KEYS,
    exact_key_bytes: int | str = DEFAULT_EXACT_KEY_BYTES,
    engine: str = "local",
    scheduler: str | None = None,
    blocksize: int | str = 64 << 20,
) -> AnalysisResult:
    """Analyze how the keys of a sample of events spread over ``partition_count`` partitions.

    ``inputs`` is a path, a glob, several of them, ``"-"`` for stdin, a pandas DataFrame or a
    pyarrow Table. ``key`` is a column or a template such as ``"{region}:{customer_id}"``.
    ``size`` names a bytes-per-event column (default: key plus value size where the input
    has ``value_size``, else 1); ``timestamp`` names the event time, for per-window load;
    ``order_by`` names the entity whose events must stay in order (``summary["ordering"]``).
    Past ``exact_keys`` distinct keys (or ``exact_key_bytes`` of them, a size such as
    ``"64MiB"``), hot keys and distinct counts come from sketches
    (``summary["key_counts"]`` gives their bounds; :mod:`partsim.sketch`).
    ``engine="dask"`` (or a dask DataFrame as ``inputs``) computes the same aggregates on a
    Dask cluster at ``scheduler`` (default: a local cluster), in pieces of ``blocksize``
    bytes (:mod:`partsim.dask_engine`). Returns an :class:`AnalysisResult`, which does not
    depend on ``batch_rows``.

    >>> import pandas as pd
    >>> events = pd.DataFrame({"customer": ["a", "b", "a", None]})
    >>> result = analyze(events, key="customer", partition_count=3)
    >>> result.summary["events"], result.summary["null_key_events"], result.summary["distinct_keys"]
    (4, 1, 2)
    """
    from partsim.io import open_events
    from partsim.progress import Progress

    if not isinstance(top, int) or top < 0:
        raise UsageError(f"--top must be a whole number >= 0; got {top!r}")
    plan = make_plan(
        key=key, partition_count=partition_count, partitioner=partitioner, key_format=key_format,
        schema_id=schema_id, schema_type=schema_type, size=size, timestamp=timestamp,
        window=window, seed=seed, null_field_as_empty=null_field_as_empty, strict=strict,
        order_by=order_by, exact_keys=exact_keys, exact_key_bytes=exact_key_bytes,
    )  # fmt: skip
    reader = dict(format=format, delimiter=delimiter, regex=regex, strict=strict,
                  batch_rows=batch_rows)  # fmt: skip
    if engine not in ENGINES:
        raise invalid_choice("--engine", engine, ENGINES)
    from partsim.dask_engine import is_dask_frame

    if engine == "dask" or is_dask_frame(inputs):
        from partsim.dask_engine import analyze_on_dask

        return analyze_on_dask(inputs, plan, reader=reader, scheduler=scheduler,
                               blocksize=blocksize, top=top, seed=seed,
                               progress=progress)  # fmt: skip
    if scheduler is not None:
        raise UsageError("--scheduler applies to --engine dask only")
    source = open_events(inputs, **reader)
    plan = bind_columns(plan, source.columns)
    source.select(plan.columns())  # a wide input's other columns are never converted
    bar = Progress(enabled=progress, total_bytes=source.bytes_total)
    with bar:
        # Three threads: reading; parsing sizes and times and hashing keys; counting.
        aggregate = analyze_batches(
            prefetch(parse_ahead(prefetch(source), plan)),
            plan,
            on_batch=lambda rows: bar.update(rows, source.bytes_read),
        )
    aggregate.skipped_rows += source.skipped_rows
    return finish_run(
        aggregate, plan, source.describe(), source.skipped_examples, top=top, seed=seed
    )


def finish_run(
    aggregate: LoadAggregate,
    plan: BatchPlan,
    label: str,
    skipped_examples: Sequence[str],
    *,
    top: int = 20,
    seed: int = 0,
) -> AnalysisResult:
    """:func:`finish` for a whole input called ``label``, which must hold events."""
    if aggregate.events == 0:
        skipped = aggregate.skipped_rows  # rows the reader and the plan both skipped
        detail = f" ({skipped} unparsable rows skipped)" if skipped else ""
        raise DataError(f"no events in {label}{detail}")
    result = finish(aggregate, plan, top=top, inputs=label, seed=seed)
    if skipped_examples:
        result.summary["skipped_examples"] = list(skipped_examples)
    return result
