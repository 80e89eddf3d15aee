"""The stages of one configuration, batch by batch, and a stream of batches through them.

A :class:`BatchPlan` is configured once (a key design placed by one partitioner over one
partition count, with its measures) and then called per batch:

    rows (:class:`~partsim.events.EventParser`) → key bytes and weights
    (:class:`~partsim.events.KeyEncoder`) → partitions (:func:`~partsim.placement.place`,
    :func:`~partsim.placement.keyless_fill`) → a mergeable aggregate
    (:func:`~partsim.aggregates.count_events`).

:func:`analyze_batches` runs a stream of batches through a plan and merges as it goes, so
memory stays bounded. Where the stream comes from (this process's threads, or a Dask worker's
piece) is the engine's business (:mod:`partsim.engine`); nothing here imports it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace

import pyarrow as pa

from partsim.aggregates import LoadAggregate, count_events, entity_pairs
from partsim.design import KeyDesign, parse_design
from partsim.errors import UsageError
from partsim.events import EventParser, Events, KeyEncoder, Rows
from partsim.keycounts import KeyCounts
from partsim.options import InputOptions, MeasureOptions, ProducerOptions, split_options
from partsim.partitioners import MAX_PARTITION_COUNT, Partitioner, check_partition_count
from partsim.placement import Placed, keyless_fill, place

__all__ = [
    "MAX_ANALYSIS_PARTITIONS",
    "MERGE_ROWS",
    "NO_SIZES",
    "BatchPlan",
    "analyze_batches",
    "bind_columns",
    "check_analysis_partitions",
    "make_plan",
]

#: Rows of pending partial window and entity tables that trigger a merge (bounds memory).
MERGE_ROWS = 4_000_000

Batch = pa.RecordBatch | pa.Table


#: ``size_source`` without sizes: every command then counts one byte per event.
NO_SIZES = "none (1 per event)"


@dataclass(frozen=True)
class BatchPlan:
    """How each batch of events becomes an aggregate: configured once, then called per batch.

    ``value_sizes``: the input has ``value_size`` (a kcat dump or a live sample), which
    gives each event's bytes without ``size`` (set by :func:`bind_columns`).
    """

    producer: ProducerOptions
    partition_count: int
    measures: MeasureOptions = field(default_factory=MeasureOptions)
    strict: bool = False
    value_sizes: bool = False
    #: A record key's (field path, column) pairs, set by bind_columns when there is no design.
    record_columns: tuple = ()
    #: The producers whose record fields those are (default: this plan's producer).
    record_producers: tuple = ()
    design: KeyDesign | None = field(init=False, repr=False, compare=False)
    partitioner: Partitioner = field(init=False, repr=False, compare=False)
    window_ns: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        record_key = self.producer.key is None and self.record_producers
        object.__setattr__(self, "design", None if record_key else self.producer.design())
        object.__setattr__(self, "partitioner", self.producer.client())
        object.__setattr__(self, "partition_count", check_analysis_partitions(self.partition_count))
        object.__setattr__(self, "window_ns", self.measures.window_ns)

    def columns(self) -> list[str]:
        """The input columns the plan reads (a source need read only these:
        :meth:`partsim.io.EventSource.select`)."""
        if self.design is not None:
            wanted = list(self.design.columns)
        else:  # a record key: the columns of its fields (bind_columns set them)
            wanted = list(dict.fromkeys(column for _, column in self.record_columns))
        value_size = "value_size" if self.value_sizes else None
        for extra in (*self.measures.columns().values(), value_size):
            if extra and extra not in wanted:
                wanted.append(extra)
        return wanted

    @property
    def size_source(self) -> str:
        """Where each event's bytes come from, as every command's summary states it: the
        --size column, else key + value size where the input has them (kcat dumps, live
        samples), else :data:`NO_SIZES`."""
        if self.measures.size:
            return f"column {self.measures.size}"
        return "key + value_size" if self.value_sizes else NO_SIZES

    @property
    def parser(self) -> EventParser:
        """The events stage's first step: usable rows, sizes and times."""
        measures = self.measures
        return EventParser(measures.size, measures.timestamp, self.strict, self.value_sizes)

    @property
    def encoder(self) -> KeyEncoder:
        """The events stage's second step: key bytes and bytes per event."""
        return KeyEncoder(self.design, self.producer, size_column=bool(self.measures.size),
                          record_columns=self.record_columns, strict=self.strict)  # fmt: skip

    def rows(self, batch: Batch) -> Rows:
        """The batch's usable rows, with sizes and times parsed: the part of :meth:`prepare`
        that does not depend on the key design (plans that share size, timestamp and
        strictness can share it)."""
        return self.parser(batch)

    def prepare(self, batch: Batch, rows: Rows | None = None) -> Events:
        """A batch's usable events: key bytes, bytes per event, times, and the rest skipped.

        ``rows`` is the batch's :meth:`rows`, when already parsed for another design."""
        return self.encoder(rows if rows is not None else self.rows(batch))

    def place(self, batch: Batch, rows: Rows | None = None) -> Placed:
        """A batch's events and the partitions of their keys: the part of :meth:`aggregate`
        that does not depend on the batches before (so it may run ahead, in another
        thread)."""
        return place(self.prepare(batch, rows), self.partitioner, self.partition_count)

    def aggregate(
        self,
        batch: Batch,
        keyless_seen: int,
        rows: Rows | Placed | None = None,
        keys: KeyCounts | None = None,
    ) -> LoadAggregate:
        """The aggregate of one batch; ``keyless_seen`` numbers its keyless records
        (``rows``: the batch's :meth:`rows` or :meth:`place`, when already done). With
        ``keys``, the per-key counts go there, and the aggregate's key table stays empty."""
        placed = rows if isinstance(rows, Placed) else self.place(batch, rows)
        keyless_count = int(placed.keyless.sum())
        if keyless_count:
            placed.partitions[placed.keyless] = keyless_fill(
                self.partitioner.keyless, keyless_seen, keyless_count, self.partition_count,
                self.producer.seed,
            )  # fmt: skip
        counts = KeyCounts() if keys is None else keys
        out = count_events(placed, self.partition_count, counts, self.window_ns)
        out.key_limit, out.partitioner = self.measures.exact_keys, self.partitioner.name
        out.key_bytes_limit = self.measures.exact_key_bytes
        if keys is None:
            out.keys = counts.table()
        if self.measures.order_by is not None:
            out.entities = entity_pairs(
                placed.events.batch.column(self.measures.order_by), placed.events.key_bytes
            )
        return out


def analyze_batches(
    batches: Iterable[Batch | tuple[Batch, Rows | Placed]],
    plan: BatchPlan,
    *,
    on_batch: Callable[[int], None] | None = None,
    keyless_start: int = 0,
) -> LoadAggregate:
    """Aggregate a stream of batches with ``plan``, merging as it goes (bounded memory).

    A batch may come with its rows already parsed, or its keys placed (see
    :func:`partsim.engine.parse_ahead`).
    ``keyless_start`` numbers the first keyless record: pieces read in parallel start far
    apart, so their keyless picks are independent draws."""
    total = LoadAggregate.empty(plan.partition_count)
    pending: list[LoadAggregate] = []
    keys = KeyCounts()  # every batch's keys, in one table
    keyless_seen = keyless_start
    limit = plan.measures.exact_keys
    for item in batches:
        batch, rows = item if isinstance(item, tuple) else (item, None)
        if batch.num_rows == 0:
            continue
        part = plan.aggregate(batch, keyless_seen, rows, keys)
        keyless_seen += part.keyless_events
        pending.append(part)
        if limit is not None and keys.exceeds(limit, plan.measures.exact_key_bytes):
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
        keys.table(), plan.measures.exact_keys, plan.partitioner.name
    )  # fmt: skip
    part.key_bytes_limit = plan.measures.exact_key_bytes
    return part


def _pending_rows(part: LoadAggregate) -> int:
    """The rows of a part's window and entity tables (merging sums them up)."""
    return part.windows.num_rows + (part.entities.num_rows if part.entities is not None else 0)


def make_plan(
    partition_count: int,
    *,
    producer_options: ProducerOptions | None = None,
    measure_options: MeasureOptions | None = None,
    input_options: InputOptions | None = None,
    **options: object,
) -> BatchPlan:
    """A :class:`BatchPlan`, its options checked before any data is read. ``options`` are
    the fields of the options objects by name (``key``, ``partitioner``, ``size``, ``strict``
    ...), which override the objects given."""
    producer, measures, reader = split_options(
        dict(options), ProducerOptions, MeasureOptions, InputOptions,
        given=(producer_options, measure_options, input_options),
    )  # fmt: skip
    return BatchPlan(producer, partition_count, measures, strict=reader.strict)


#: The most partitions an analysis (analyze, sweep, whatif, simulate) takes: it holds
#: tables, sketches and plots per partition, so memory grows with the count. ``partsim
#: partition`` and :func:`partsim.assign` take any Kafka count, up to 2**31 - 1.
MAX_ANALYSIS_PARTITIONS = 1 << 20


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
    ``key_option``, the option that gave the key design). A record key without a design
    takes each field from the column of its name."""
    if plan.design is None:
        from partsim.schemas import column_plan

        columns: dict = {}
        for producer in plan.record_producers or (plan.producer,):
            columns.update(column_plan(producer.key_serializer().serializer(), available))
        plan = replace(plan, record_columns=tuple(columns.items()))
    else:
        plan.design.check_columns(available, key_option)
    for option, column in plan.measures.columns().items():
        parse_design(column).check_columns(available, option)
    return replace(plan, value_sizes=plan.measures.size is None and "value_size" in available)
