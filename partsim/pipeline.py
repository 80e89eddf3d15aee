"""The pipeline: every record read once, placed under every configuration asked for.

A :class:`Scan` is configured once: the key designs (:class:`Encoding`), the configurations
to place every record under (:class:`~partsim.placement.Placement`: a design, a partitioner,
a partition count and the Schema Registry framing), and what to measure. Each batch then
goes through the stages once:

    rows, sizes and times (:class:`~partsim.events.EventParser`) → key bytes per design
    (:class:`~partsim.events.KeyEncoder`) → one hash per design and algorithm, one reduction
    per partition count (:func:`~partsim.placement.place_many`) → mergeable aggregates.

:meth:`Scan.place` is the part of a batch that does not depend on the batches before (it
may run ahead, in another thread); :class:`ScanRun` counts the placed batches in order
(keyless picks are numbered) and gives a :class:`ScanAggregate`: per placement, a
:class:`~partsim.aggregates.LoadAggregate` (messages, bytes, keyed counts and per-window
loads, exact; the keys of each design counted exactly up to ``exact_keys`` and then
sketched, once per design, not per placement); per-entity ordering under every placement
(:class:`~partsim.ordering.EntityOrder`, bounded); and what moves between two placements
(:class:`~partsim.aggregates.MoveCounts`). Aggregates of pieces merge into the aggregate of
the whole, so threads and Dask (:mod:`partsim.engine`) only call this code differently.
Memory stays bounded however many placements: per placement it holds arrays of partitions
and windows, never a key table.

:class:`BatchPlan` is the plan of one placement, as ``partsim analyze`` runs it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from partsim.aggregates import (
    KeySample,
    LoadAggregate,
    MoveCounts,
    Unrepresentable,
    WindowGrid,
    key_sample,
    merge_windows,
    tally,
)
from partsim.design import KeyDesign, parse_design
from partsim.errors import UsageError
from partsim.events import EventParser, Events, KeyEncoder, Rows
from partsim.keycounts import KeyCounts
from partsim.options import InputOptions, MeasureOptions, ProducerOptions, split_options
from partsim.ordering import EntityOrder, KeyCountSample, entity_limit
from partsim.partitioners import MAX_PARTITION_COUNT, Partitioner, check_partition_count
from partsim.placement import (
    Placement,
    fold_counts,
    fold_sources,
    frame,
    keyless_fill,
    pair_keys,
    place_many,
    split_pairs,
)
from partsim.sketch import hash64
from partsim.windows import MAX_WINDOW_CELLS

__all__ = [
    "MAX_ANALYSIS_PARTITIONS",
    "NO_SIZES",
    "BatchPlan",
    "Encoding",
    "Scan",
    "ScanAggregate",
    "ScanRun",
    "analyze_batches",
    "bind_columns",
    "check_analysis_partitions",
    "make_plan",
    "scan_batches",
]

Batch = pa.RecordBatch | pa.Table
#: Dense window x partition cells that the grids of several placements share (128 MiB).
GRID_CELLS = 8_000_000


#: ``size_source`` without sizes: every command then counts one byte per event.
NO_SIZES = "none (1 per event)"


def size_source(measures: MeasureOptions, value_sizes: bool) -> str:
    """Where each event's bytes come from, as every command's summary states it: the --size
    column, else key + value size where the input has them (kcat dumps, live samples), else
    :data:`NO_SIZES`."""
    if measures.size:
        return f"column {measures.size}"
    return "key + value_size" if value_sizes else NO_SIZES


@dataclass(frozen=True)
class Encoding:
    """A key design as the producer serializes it, before any Schema Registry framing (each
    placement adds its own).

    ``producer`` gives the design (``key``), ``key_format`` and ``null_field_as_empty``;
    ``option`` names it in errors (``--key``, ``--design NAME``). ``weight_framing`` bytes
    count in a key's length where ``value_size`` gives the event's bytes. ``key_placement``
    is the placement whose partitioner and partition count the design's key table is
    counted and sketched with (None: no key table); the table holds the keys that placement
    hashes, or every non-null key with ``every_key``.

    A record key without a design (``producer.key`` None, with a record key schema) takes
    its fields from ``record_columns`` ((field path, column) pairs), set by
    :func:`bind_scan` from :func:`partsim.schemas.column_plan`: the fields of the
    ``record_producers``' schemas where given, else of the producer's own.
    """

    producer: ProducerOptions
    option: str = "--key"
    weight_framing: bytes = b""
    key_placement: int | None = None
    every_key: bool = False
    record_columns: tuple = ()
    record_producers: tuple = ()

    def design(self) -> KeyDesign | None:
        """The parsed key design, or None for a record key from its columns."""
        if self.producer.key is None and self.record_producers:
            return None
        return self.producer.design()


@dataclass(frozen=True)
class Staged:
    """One batch through the stages that need no batch before it (:meth:`Scan.place`).

    Rows, skipped counts and times are per encoding: a key schema drops the rows whose key
    it cannot hold (:class:`~partsim.events.KeyEncoder`), and each design drops its own.
    Each placement's arrays cover its encoding's rows."""

    rows: list[Batch]  # per encoding, the usable rows
    skipped: list[int]  # per encoding
    times: list[np.ndarray | None]  # per encoding
    key_bytes: list[pa.Array]  # per encoding, unframed
    weights: list[np.ndarray]  # per encoding
    framed: dict[tuple[int, bytes], pa.Array]  # per encoding and framing
    # Per placement: partitions (None where folded and not otherwise needed), keyless mask.
    placed: list[tuple[np.ndarray | None, np.ndarray]]
    entity: pa.Array | None  # the entity column, on the rows every followed design kept
    ordered: list[tuple[np.ndarray, np.ndarray]]  # per followed placement, on those rows
    folded: list[bool]  # per placement: its keyed counts folded from its source's
    # A paired scan's rows left out (one encoding could not hold their key): their count
    # and the distinct hashes of their source keys.
    dropped: tuple[int, np.ndarray] | None = None


@dataclass(frozen=True)
class Scan:
    """What one pass over the input computes (see the module docstring).

    ``ordered`` lists the placements followed per entity (the ``measures.order_by``
    column). ``key_order`` keeps what per-key ordering needs past the exact-key limit: a
    hash sample of each design's keys with their counts, and its empty keys' events. ``moves``
    lists (before, after) pairs of placements compared record by record. ``keyed_windows``
    leaves out of the windows the records that take the client's sticky keyless path (the
    simulator places them itself; records a key-ignoring client places at random one by one
    stay in), and ``keyless_records`` keeps those records' times and bytes (first placement).
    ``rate`` (value per second, unit) gives records without a timestamp times in input order.
    ``window_cells`` bounds the first placement's window grid (window x partition cells): a
    grid that would pass it widens its windows, doubling them, instead of keeping every cell
    (its load's ``window_factor`` says by how much).
    ``key_sample`` also keeps the first design's exact, unbounded
    :class:`~partsim.aggregates.KeySample` (salting with ``--order-by`` reads it).

    Rows a design's key schema cannot hold are that design's skipped rows: each design's
    loads, key tables and windows count only the rows it could serialize, so a design's
    placements give what ``analyze`` gives for it alone. The per-entity ordering, which
    compares placements entity by entity, counts the rows that every followed design kept;
    placements compared record by record (``moves``) must be of one design (the same rows).

    A ``paired`` scan serializes one key two ways (a what-if that changes the key's format
    or schema): its encodings drop rows together, so a row that any of them cannot hold is
    left out of all (counted with its source key, :class:`~partsim.aggregates.Unrepresentable`)
    and moves may compare placements of different encodings. The first encoding's key table
    then counts each record's pair of keys, framed as the first move's placements frame them
    (:func:`~partsim.placement.pair_keys`; :func:`side_keys` takes them apart), so a key is
    a distinct pair of serialized keys; its sketch's per-partition figures hash the pair.
    """

    encodings: tuple[Encoding, ...]
    placements: tuple[Placement, ...]
    measures: MeasureOptions = field(default_factory=MeasureOptions)
    strict: bool = False
    value_sizes: bool = False
    seed: int = 0
    ordered: tuple[int, ...] = ()
    key_order: bool = False
    moves: tuple[tuple[int, int], ...] = ()
    keyed_windows: bool = False
    keyless_records: bool = False
    rate: tuple[float, str] | None = None
    key_sample: bool = False
    window_cells: int | None = None
    paired: bool = False
    designs: tuple[KeyDesign | None, ...] = field(init=False, repr=False, compare=False)
    clients: tuple[Partitioner, ...] = field(init=False, repr=False, compare=False)
    encoders: tuple[KeyEncoder, ...] = field(init=False, repr=False, compare=False)
    window_ns: int = field(init=False, repr=False, compare=False)
    #: Per placement, the placement its keyed counts fold from (:func:`fold_sources`).
    folds: tuple[int | None, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        designs = tuple(encoding.design() for encoding in self.encodings)
        object.__setattr__(self, "designs", designs)
        object.__setattr__(self, "clients", tuple(p.client for p in self.placements))
        for placement in self.placements:
            check_analysis_partitions(placement.partition_count)
        object.__setattr__(self, "window_ns", self.measures.window_ns)
        # The payload only: each placement adds its framing (for Protobuf, with the
        # message indexes: ProducerOptions.framing()).
        encoders = tuple(
            KeyEncoder(design, replace(encoding.producer, schema_id=None),
                       size_column=bool(self.measures.size),
                       framing_length=len(encoding.weight_framing),
                       record_columns=encoding.record_columns, strict=self.strict)
            for design, encoding in zip(designs, self.encodings, strict=True)
        )  # fmt: skip
        object.__setattr__(self, "encoders", encoders)
        if self.rate is not None and len(self.encodings) > 1:
            raise ValueError("a scan with a rate has one encoding (its times follow its rows)")
        for before, after in self.moves:
            same = self.placements[before].encoding == self.placements[after].encoding
            if not (same or self.paired):
                raise ValueError("moves compare placements of one encoding (the same rows)")
        if self.paired and (not self.moves or self.encodings[0].key_placement not in
                            (None, self.moves[0][0])):  # fmt: skip
            raise ValueError("a paired scan's key table counts its first move's pairs")
        # The first placement's grid may widen its windows (window_cells): it counts its own.
        exclude = (0,) if self.window_cells is not None else ()
        object.__setattr__(self, "folds", fold_sources(self.placements, exclude))

    @property
    def windows(self) -> bool:
        """Whether per-window loads are counted."""
        return self.measures.timestamp is not None or self.rate is not None

    @property
    def parser(self) -> EventParser:
        measures = self.measures
        return EventParser(measures.size, measures.timestamp, self.strict, self.value_sizes)

    @property
    def size_source(self) -> str:
        """Where each event's bytes come from (:func:`size_source`; after :func:`bind_scan`)."""
        return size_source(self.measures, self.value_sizes)

    def entity_limit(self) -> int:
        return entity_limit(len(self.ordered), self.measures.exact_entities)

    def columns(self) -> list[str]:
        """The input columns the scan reads, in a stable order (a source need read only
        these: :meth:`partsim.io.EventSource.select`); :func:`bind_scan` sets a record key's."""
        wanted: list[str] = []
        for design, encoding in zip(self.designs, self.encodings, strict=True):
            if design is not None:
                wanted.extend(design.columns)
            else:  # a record key: the columns of its fields
                wanted.extend(column for _, column in encoding.record_columns)
        wanted.extend(self.measures.columns().values())
        if self.value_sizes:
            wanted.append("value_size")
        return list(dict.fromkeys(column for column in wanted if column))

    def place(self, batch: Batch) -> Staged:
        """A batch's usable rows, key bytes, bytes per event and times, and each record's
        partition under every placement (keyless records marked, not yet placed)."""
        rows = self.parser(batch)
        encoded = [encoder(rows) for encoder in self.encoders]
        dropped = None
        if self.paired:
            encoded, dropped = self._paired(rows, encoded)
        key_bytes = [events.key_bytes for events in encoded]
        weights = [events.weights for events in encoded]
        framed: dict[tuple[int, bytes], pa.Array] = {}
        groups: dict[tuple[int, bytes], list[int]] = {}
        for number, placement in enumerate(self.placements):
            group = (placement.encoding, placement.framing)
            if group not in framed:
                framed[group] = frame(key_bytes[placement.encoding], placement.framing)
            groups.setdefault(group, []).append(number)
        # A placement folded from a larger count needs no partitions of its own, unless it
        # is followed per entity or compared record by record; nor does it when its keyed
        # counts cannot be folded exactly (bytes that are not whole numbers: float sums in
        # another order could differ in the last bit).
        whole: dict[int, bool] = {}  # by weights array: designs share their sizes
        folded = []
        for placement, source in zip(self.placements, self.folds, strict=True):
            array = weights[placement.encoding]
            if source is not None and id(array) not in whole:
                whole[id(array)] = _whole(array)
            folded.append(source is not None and whole[id(array)])
        kept = set(self.ordered).union(*self.moves)
        placed: list = [None] * len(self.placements)
        for group, numbers in groups.items():
            clients = [(self.clients[n], self.placements[n].partition_count) for n in numbers]
            need = [not folded[n] or n in kept for n in numbers]
            results = place_many(framed[group], clients, need)
            for number, result in zip(numbers, results, strict=True):
                placed[number] = result
        entity, ordered = None, []
        if self.ordered:
            entity, ordered = self._followed(rows.batch, encoded, placed)
        return Staged([events.batch for events in encoded], [events.skipped for events in encoded],
                      [events.times for events in encoded], key_bytes, weights, framed, placed,
                      entity, ordered, folded, dropped)  # fmt: skip

    def _paired(self, rows: Rows, encoded: list[Events]) -> tuple[list[Events], tuple | None]:
        """Every encoding's events on the rows all of them could serialize, and the rows
        left out: their count and the distinct 64-bit hashes of their source keys."""
        masks = [events.kept for events in encoded if events.kept is not None]
        if not masks:
            return encoded, None
        common = np.logical_and.reduce(masks)
        out = []
        for events in encoded:
            choose = common if events.kept is None else common[events.kept]
            if choose.all():
                out.append(events)
                continue
            keep = pa.array(choose)
            out.append(Events(
                events.batch.filter(keep), events.key_bytes.filter(keep), events.weights[choose],
                None if events.times is None else events.times[choose],
                events.skipped + int(np.count_nonzero(~choose)), common,
            ))  # fmt: skip
        lost = rows.batch.filter(pa.array(~common))
        if self.designs[0] is not None:
            values = self.encoders[0].values(lost).to_pylist()
        else:  # a record key: the columns its fields come from, on either side
            columns = {column: None for encoder in self.encoders
                       for _, column in encoder.record_columns}  # fmt: skip
            values = [tuple(row.values()) for row in lost.select(list(columns)).to_pylist()]
        sources = pa.array([repr(value).encode("utf-8", "surrogatepass") for value in values],
                           pa.binary())  # fmt: skip
        return out, (len(lost), np.unique(hash64(sources)))

    def _followed(self, batch: Batch, encoded: list[Events], placed: list) -> tuple:
        """The entity column and the followed placements on the rows every followed design
        kept (all the parsed rows, unless a key schema dropped some)."""
        masks = [encoded[self.placements[n].encoding].kept for n in self.ordered]
        common = None
        for kept in masks:
            if kept is not None:
                common = kept if common is None else common & kept
        entity = batch.column(self.measures.order_by)
        if common is None:
            return entity, [placed[n] for n in self.ordered]
        ordered = []
        for number, kept in zip(self.ordered, masks, strict=True):
            choose = common if kept is None else common[kept]
            partitions, keyless = placed[number]
            ordered.append((partitions[choose], keyless[choose]))
        return entity.filter(pa.array(common)), ordered


def _whole(weights: np.ndarray) -> bool:
    """Whether every event's bytes are a whole number: sums of them are exact in any order
    (below 2**53, 8 PiB), so counts folded from another partition count equal counted ones."""
    return bool(np.array_equal(weights, np.floor(weights)))


@dataclass
class ScanAggregate:
    """A mergeable pass over events: per placement a :class:`LoadAggregate`; the per-entity
    ordering of the placements followed (:class:`EntityOrder`); per pair of placements
    compared, a :class:`MoveCounts`; with ``keyless_records``, the first placement's keyless
    records' times and bytes (in input order within a piece)."""

    loads: list[LoadAggregate]
    order: EntityOrder | None = None
    moves: list[MoveCounts] = field(default_factory=list)
    keyless: list[tuple[np.ndarray, np.ndarray]] | None = None
    sample: KeySample | None = None
    key_counts: list[KeyCountSample | None] | None = None  # per design, with key_order
    empty_key_events: list[int] | None = None  # per design, with key_order
    unrepresentable: Unrepresentable | None = None  # a paired scan's rows left out

    @staticmethod
    def merge_all(parts: Sequence[ScanAggregate]) -> ScanAggregate:
        """The aggregate of all the parts' inputs."""
        if len(parts) == 1:
            return parts[0]
        loads = [LoadAggregate.merge_all([part.loads[i] for part in parts])
                 for i in range(len(parts[0].loads))]  # fmt: skip
        orders = [part.order for part in parts if part.order is not None]
        moves = [MoveCounts.merge_all([part.moves[i] for part in parts])
                 for i in range(len(parts[0].moves))]  # fmt: skip
        keyless = None
        if parts[0].keyless is not None:
            keyless = [piece for part in parts for piece in part.keyless]
        samples = [part.sample for part in parts if part.sample is not None]
        order = EntityOrder.merge_all(orders) if orders else None
        sample = KeySample.merge_all(samples) if samples else None
        key_counts = empty = None
        if parts[0].key_counts is not None:
            key_counts = [
                None if parts[0].key_counts[i] is None
                else KeyCountSample.merge_all([part.key_counts[i] for part in parts])
                for i in range(len(parts[0].key_counts))
            ]  # fmt: skip
            empty = [sum(part.empty_key_events[i] for part in parts)
                     for i in range(len(parts[0].empty_key_events))]  # fmt: skip
        unrepresentable = None
        if parts[0].unrepresentable is not None:
            unrepresentable = Unrepresentable.merge_all([part.unrepresentable for part in parts])
        return ScanAggregate(loads, order, moves, keyless, sample, key_counts, empty,
                             unrepresentable)  # fmt: skip


class ScanRun:
    """Counts placed batches in order: the part of a pass that depends on the batches before
    it (keyless records are numbered; the keys of each design go into one table)."""

    def __init__(self, scan: Scan, keyless_start: int = 0, piece: bool = False) -> None:
        self.scan = scan
        self.piece = piece  # a piece of the input, merged with others later
        count = len(scan.placements)
        self.keyless_seen = [keyless_start] * count
        self.totals = [LoadAggregate.empty(p.partition_count) for p in scan.placements]
        # One placement's grid may take MAX_WINDOW_CELLS cells (as analyze's window table
        # may); several share GRID_CELLS. Past that a grid keeps only the cells with events.
        # Placements folded from a larger count (Scan.folds): per source, the folded ones.
        self.folded_from: dict[int, list[int]] = {}
        for number, source in enumerate(scan.folds):
            if source is not None:
                self.folded_from.setdefault(source, []).append(number)
        grids = count + len(self.folded_from)
        cells = MAX_WINDOW_CELLS if grids == 1 else max(1, GRID_CELLS // grids)
        coarse = scan.window_cells is not None
        self.grids = [
            WindowGrid(p.partition_count, scan.window_ns, scan.window_cells, True)
            if coarse and number == 0 else WindowGrid(p.partition_count, scan.window_ns, cells)
            for number, p in enumerate(scan.placements)
        ] if scan.windows else None  # fmt: skip
        # A source's keyed records of the batches it folds for, in a grid of their own; its
        # own grid keeps the rest. Every folded placement's windows come from the first.
        self.fold_grids = {
            source: WindowGrid(scan.placements[source].partition_count, scan.window_ns, cells)
            for source in self.folded_from
        } if scan.windows else {}  # fmt: skip
        self.keys: list[KeyCounts | None] = []
        self.flushed: list[LoadAggregate | None] = []  # each design's keys, past the limit
        for encoding in scan.encodings:
            has_table = encoding.key_placement is not None
            self.keys.append(KeyCounts() if has_table else None)
            self.flushed.append(None)
            if has_table:
                total = self.totals[encoding.key_placement]
                total.key_limit = scan.measures.exact_keys
                total.key_bytes_limit = scan.measures.exact_key_bytes
                total.partitioner = scan.clients[encoding.key_placement].name
        self.order = None
        if scan.ordered:
            counts = [scan.placements[i].partition_count for i in scan.ordered]
            self.order = EntityOrder(counts, scan.entity_limit())
        self.moves = [MoveCounts() for _ in scan.moves]
        self.unrepresentable = Unrepresentable(scan.measures.exact_keys) if scan.paired else None
        self.keyless: list[tuple[np.ndarray, np.ndarray]] | None = (
            [] if scan.keyless_records else None
        )
        self.position = 0  # records seen, for times synthesized at ``rate``
        self.byte_position = 0.0
        self.samples: list[KeySample] | None = [] if scan.key_sample else None
        self.key_counts: list[KeyCountSample | None] | None = None
        self.empty_key_events = [0] * len(scan.encodings)
        if scan.key_order:
            limit = scan.measures.exact_keys
            self.key_counts = [KeyCountSample(limit) if keys is not None else None
                               for keys in self.keys]  # fmt: skip

    def count(self, staged: Staged) -> None:
        """Add one placed batch (batches must come in input order)."""
        scan = self.scan
        times = list(staged.times)
        if times[0] is None and scan.rate is not None:  # one encoding (Scan checks)
            times[0] = self._arrival_times(staged.weights[0])
        # Per encoding (its rows): first and last time, each record's window, the span.
        clock: list[tuple | None] = []
        for index, encoding_times in enumerate(times):
            same = next((j for j in range(index) if times[j] is encoding_times), None)
            if same is not None:  # the same rows as an encoding before (none dropped)
                clock.append(clock[same])
                continue
            if encoding_times is None or not len(encoding_times):
                clock.append(None)
                continue
            first_ns, last_ns = int(encoding_times.min()), int(encoding_times.max())
            span = (first_ns // scan.window_ns, last_ns // scan.window_ns)
            clock.append((first_ns, last_ns, encoding_times // scan.window_ns, span))
        stickies = []  # per placement, the records its client's sticky keyless path takes
        for number, placement in enumerate(scan.placements):
            partitions, keyless = staged.placed[number]
            weights = staged.weights[placement.encoding]
            keyless_count = int(np.count_nonzero(keyless))
            folded = staged.folded[number]
            # The smaller counts this batch's keyed counts fold onto (this is their source).
            targets = [other for other in self.folded_from.get(number, ()) if staged.folded[other]]
            fill = None
            if keyless_count:
                fill = keyless_fill(
                    scan.clients[number].keyless, self.keyless_seen[number], keyless_count,
                    placement.partition_count, scan.seed,
                )  # fmt: skip
                self.keyless_seen[number] += keyless_count
                if partitions is not None:
                    partitions = partitions.copy()
                    partitions[keyless] = fill
            keyed = self._tally(number, partitions, keyless, weights, fill, staged, folded,
                                bool(targets))  # fmt: skip
            for other in targets:
                self._add_folded(other, *keyed)
            sticky = keyless
            if keyless_count and scan.clients[number].null_keyless:
                # keys ignored, but only null keys take the sticky path (librdkafka random):
                # the others keep their per-record pick, placed here like keyed records
                keys = staged.key_bytes[placement.encoding]
                sticky = keyless & keys.is_null().to_numpy(zero_copy_only=False)
            stickies.append(sticky)
            timed = clock[placement.encoding]
            if timed is None:
                continue
            first_ns, last_ns, windows, span = timed
            if self.grids is not None:
                skip = sticky if scan.keyed_windows else None
                grid = self.grids[number]
                if folded:  # keyed records from the source's fold grid; keyless ones here
                    self._add_keyless(grid, windows, fill, weights, keyless, skip)
                elif targets:
                    keyed_skip = keyless if keyless_count else None
                    self.fold_grids[number].add(windows, partitions, weights, keyed_skip,
                                                None if keyless_count else span)  # fmt: skip
                    self._add_keyless(grid, windows, fill, weights, keyless, skip)
                else:
                    grid.add(windows, partitions, weights, skip, span)
            if not scan.keyed_windows:
                total = self.totals[number]
                total.first_ns = (
                    first_ns if total.first_ns is None else min(total.first_ns, first_ns)
                )
                total.last_ns = last_ns if total.last_ns is None else max(total.last_ns, last_ns)
        for index, encoding in enumerate(scan.encodings):
            if self.keys[index] is not None:
                self._count_keys(index, encoding, staged)
            if scan.key_order:
                lengths = pc.binary_length(staged.key_bytes[index])
                self.empty_key_events[index] += int(pc.sum(pc.equal(lengths, 0)).as_py() or 0)
        if self.order is not None:
            self.order.update(staged.entity, staged.ordered)
        for move, (before, after) in zip(self.moves, scan.moves, strict=True):
            valid = None  # a null key is no key, on either side
            for encoding in {scan.placements[before].encoding, scan.placements[after].encoding}:
                keys = staged.key_bytes[encoding]
                if keys.null_count:
                    mask = keys.is_valid().to_numpy(zero_copy_only=False)
                    valid = mask if valid is None else valid & mask
            move.add_events(staged.placed[before], staged.placed[after], valid)
        if staged.dropped is not None:
            self.unrepresentable.add(*staged.dropped)
        if self.samples is not None:
            order_by = scan.measures.order_by
            entity = staged.rows[0].column(order_by) if order_by else None
            self.samples.append(key_sample(staged.key_bytes[0], staged.weights[0],
                                           staged.skipped[0], entity))  # fmt: skip
            if sum(part.keys.num_rows for part in self.samples) > 4_000_000:
                self.samples = [KeySample.merge_all(self.samples)]
        if self.keyless is not None:
            keyless, encoding = stickies[0], scan.placements[0].encoding
            if keyless.any():
                self.keyless.append((times[encoding][keyless], staged.weights[encoding][keyless]))

    def _tally(self, number, partitions, keyless, weights, fill, staged, folded, source):
        """Per-partition messages and bytes of one batch, added to the totals; the batch's
        keyed messages and bytes (None when not counted on their own, which a ``source``
        folding onto smaller counts always does). A placement folded from a larger count
        counts only its keyless records here (:meth:`_add_folded`)."""
        total = self.totals[number]
        keyed = None, None
        if folded:
            if fill is not None:
                tally(fill, weights[keyless], total.messages, total.bytes)
        elif fill is not None:
            tally(partitions, weights, total.messages, total.bytes)
            if source:
                keyed = np.zeros_like(total.messages), np.zeros_like(total.bytes)
                tally(partitions, weights, *keyed, skip=keyless)
                total.keyed_messages += keyed[0]
                total.keyed_bytes += keyed[1]
            else:
                tally(partitions, weights, total.keyed_messages, total.keyed_bytes, skip=keyless)
        else:  # every record hashed: the keyed counts are the same
            messages, byte_sums = np.zeros_like(total.messages), np.zeros_like(total.bytes)
            tally(partitions, weights, messages, byte_sums)
            total.messages += messages
            total.bytes += byte_sums
            total.keyed_messages += messages
            total.keyed_bytes += byte_sums
            keyed = messages, byte_sums
        keyless_count = 0 if fill is None else len(fill)
        total.events += len(keyless)
        encoding = self.scan.placements[number].encoding
        total.null_key_events += staged.key_bytes[encoding].null_count
        total.keyless_events += keyless_count
        total.skipped_rows += staged.skipped[encoding]
        return keyed

    def _add_folded(self, number: int, messages: np.ndarray, byte_sums: np.ndarray) -> None:
        """A batch's keyed counts under the source's count, folded onto this placement's."""
        total = self.totals[number]
        count = total.partition_count
        messages, byte_sums = fold_counts(messages, count), fold_counts(byte_sums, count)
        total.messages += messages
        total.bytes += byte_sums
        total.keyed_messages += messages
        total.keyed_bytes += byte_sums

    @staticmethod
    def _add_keyless(grid, windows, fill, weights, keyless, skip) -> None:
        """The keyless records' windows (their picks ``fill``; those ``skip`` marks left out)."""
        if fill is None:
            return
        grid.add(windows[keyless], fill, weights[keyless], None if skip is None else skip[keyless])

    def _arrival_times(self, weights: np.ndarray) -> np.ndarray:
        """Records without a timestamp arrive in input order at the scan's rate."""
        value, unit = self.scan.rate
        if unit == "messages":
            offsets = self.position + np.arange(len(weights))
        else:
            offsets = self.byte_position + np.cumsum(weights) - weights
        self.position += len(weights)
        self.byte_position += float(weights.sum())
        return (offsets / value * 1e9).astype(np.int64)

    def _count_keys(self, index: int, encoding: Encoding, staged: Staged) -> None:
        placement = self.scan.placements[encoding.key_placement]
        keys = staged.framed[(placement.encoding, placement.framing)]
        if self.scan.paired and index == 0:  # each record's two keys, as one
            other = self.scan.placements[self.scan.moves[0][1]]
            keys = pair_keys(keys, staged.framed[(other.encoding, other.framing)])
        weights = staged.weights[index]
        if encoding.every_key:
            keep = keys.is_valid().to_numpy(zero_copy_only=False) if keys.null_count else None
        else:
            keyless = staged.placed[encoding.key_placement][1]
            keep = ~keyless if keyless.any() else None
        if keep is None:
            self.keys[index].add(keys, weights)
        else:
            self.keys[index].add(keys.filter(pa.array(keep)), weights[keep])
        measures = self.scan.measures
        if self.keys[index].exceeds(measures.exact_keys, measures.exact_key_bytes):
            self._flush(index)

    def _flush(self, index: int) -> None:
        """Past the exact-key limit: the design's keys join its sketch (merging is what moves
        them there), and the moves their HyperLogLogs."""
        part = self._counted(index)
        self._keys_to_moves(index, part)
        if self.key_counts is not None:
            self.key_counts[index].add(part.keys)
        # Merged at once (with an empty part the first time), so that the table goes into the
        # sketch now rather than staying alongside the next one.
        flushed = self.flushed[index] or LoadAggregate.empty(part.partition_count)
        self.flushed[index] = LoadAggregate.merge_all([flushed, part])
        self.keys[index] = KeyCounts()

    def _counted(self, index: int) -> LoadAggregate:
        """An aggregate holding only the design's key table."""
        placement = self.scan.encodings[index].key_placement
        part = LoadAggregate.empty(self.scan.placements[placement].partition_count)
        part.keys = self.keys[index].table()
        part.key_limit = self.scan.measures.exact_keys
        part.key_bytes_limit = self.scan.measures.exact_key_bytes
        part.partitioner = self.scan.clients[placement].name
        return part

    def _keys_to_moves(self, index: int, part: LoadAggregate) -> None:
        """Give the moves that compare this design's keys its distinct keys."""
        scan = self.scan
        for move, (before, after) in zip(self.moves, scan.moves, strict=True):
            if scan.encodings[index].key_placement != before or not part.keys.num_rows:
                continue
            keys = part.keys.column("key").combine_chunks()
            placed = move_placements(scan, keys, before, after)
            move.add_keys(hash64(keys), *placed)

    def result(self) -> ScanAggregate:
        """The aggregate of every batch counted."""
        scan = self.scan
        loads = list(self.totals)
        for number, grid in enumerate(self.grids or ()):
            tables, lows = [grid.table()], [grid.low]
            source = scan.folds[number]
            if number in self.fold_grids:
                tables.append(self.fold_grids[number].table())
                lows.append(self.fold_grids[number].low)
            elif source is not None:
                fold_grid = self.fold_grids[source]
                tables.append(fold_grid.folded_table(grid.partition_count))
                lows.append(fold_grid.low)
            loads[number].windows = merge_windows(tables)
            loads[number].window_factor = grid.factor
            lows = [low for low in lows if low is not None]
            if scan.keyed_windows and lows:
                loads[number].first_ns = min(lows) * scan.window_ns
        for index, encoding in enumerate(scan.encodings):
            if self.keys[index] is None:
                continue
            part = self._counted(index)
            # The moves' sketches and the key-count sample see every key once the exact table
            # is gone: after a flush, or when pieces merged later may pass the limit.
            if self.flushed[index] is not None or self.piece:
                self._keys_to_moves(index, part)
                if self.key_counts is not None:
                    self.key_counts[index].add(part.keys)
            parts = [loads[encoding.key_placement], part]
            if self.flushed[index] is not None:
                parts.insert(1, self.flushed[index])
            loads[encoding.key_placement] = LoadAggregate.merge_all(parts)
        sample = None
        if self.samples is not None:
            sample = KeySample.merge_all(self.samples) if self.samples else KeySample()
        return ScanAggregate(loads, self.order, self.moves, self.keyless, sample,
                             self.key_counts, self.empty_key_events,
                             self.unrepresentable)  # fmt: skip


def move_placements(
    scan: Scan, keys: pa.Array, before: int, after: int
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Distinct keys of the ``before`` placement's key table placed before and after:
    (partitions, keyless) each."""
    placed = []
    for number, sent in zip((before, after), _sides(scan, keys, before, (before, after)),
                            strict=True):  # fmt: skip
        client = (scan.clients[number], scan.placements[number].partition_count)
        placed.append(place_many(sent, [client])[0])
    return placed[0], placed[1]


def side_keys(scan: Scan, keys: pa.Array, table: int, number: int) -> pa.Array:
    """The keys of the key table counted with placement ``table`` (framed as it frames
    them) as placement ``number`` sends them: framed its way, or in a paired scan, its
    key of each pair."""
    return _sides(scan, keys, table, (number,))[0]


def _sides(scan: Scan, keys: pa.Array, table: int, numbers: Sequence[int]) -> list[pa.Array]:
    """:func:`side_keys` for each of ``numbers`` (a paired table split once)."""
    if scan.paired and table == scan.moves[0][0]:
        sides = dict(zip(scan.moves[0], split_pairs(keys), strict=True))
        if not set(numbers) <= set(sides):
            raise ValueError("a paired key table holds the keys of its first move's placements")
        return [sides[number] for number in numbers]
    source = scan.placements[table]
    out = []
    for number in numbers:
        target = scan.placements[number]
        if target.framing == source.framing:
            out.append(keys)
            continue
        payload = keys
        if source.framing and len(keys):
            # An explicit end: pyarrow 26's binary_slice overflows without one.
            longest = pc.max(pc.binary_length(keys)).as_py() or 0
            payload = pc.binary_slice(keys, len(source.framing),
                                      max(longest, len(source.framing)))  # fmt: skip
        out.append(frame(payload, target.framing))
    return out


def scan_batches(
    batches: Iterable[Batch | tuple[Batch, Staged]],
    scan: Scan,
    *,
    on_batch: Callable[[int], None] | None = None,
    keyless_start: int = 0,
    piece: bool = False,
) -> ScanAggregate:
    """One pass of ``scan`` over a stream of batches (bounded memory). A batch may come
    already placed (see :func:`partsim.engine.parse_ahead`). ``keyless_start`` numbers the
    first keyless record: pieces read in parallel (``piece``) start far apart, so their
    keyless picks are independent draws."""
    run = ScanRun(scan, keyless_start, piece)
    for item in batches:
        batch, staged = item if isinstance(item, tuple) else (item, None)
        if batch.num_rows == 0:
            continue
        run.count(staged if staged is not None else scan.place(batch))
        if on_batch is not None:
            on_batch(batch.num_rows)
    return run.result()


def bind_scan(scan: Scan, available: Sequence[str]) -> Scan:
    """Check the scan against the input's columns; fail naming the columns there are. A
    record key without a design takes each field from the column of its name."""
    encodings = []
    for design, encoding in zip(scan.designs, scan.encodings, strict=True):
        if design is None:
            encoding = replace(
                encoding,
                record_columns=record_columns(
                    *(encoding.record_producers or (encoding.producer,)), available=available
                ),
            )
        else:
            design.check_columns(available, encoding.option)
        encodings.append(encoding)
    for option, column in scan.measures.columns().items():
        parse_design(column).check_columns(available, option)
    value_sizes = scan.measures.size is None and "value_size" in available
    return replace(scan, encodings=tuple(encodings), value_sizes=value_sizes)


def record_columns(*producers: ProducerOptions, available: Sequence[str]) -> tuple:
    """A record key's (field path, column) pairs: each field of the producers' record
    schemas from the column of its name (:func:`partsim.schemas.column_plan`)."""
    from partsim.schemas import column_plan

    columns: dict = {}
    for producer in producers:
        columns.update(column_plan(producer.key_serializer().serializer(), available))
    return tuple(columns.items())


# ----------------------------------------------------------------- one placement
@dataclass(frozen=True)
class BatchPlan:
    """One key design placed by one partitioner over one partition count, with its measures:
    the :class:`Scan` that ``partsim analyze`` runs (:meth:`scan`), and what its result is
    read with.

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

    @property
    def size_source(self) -> str:
        """Where each event's bytes come from (:func:`size_source`)."""
        return size_source(self.measures, self.value_sizes)

    def scan(self) -> Scan:
        """The scan of this one placement: its key table counted, its entities followed."""
        framing = self.producer.framing()
        encoding = Encoding(self.producer, weight_framing=framing, key_placement=0,
                            record_columns=self.record_columns)  # fmt: skip
        return Scan(
            encodings=(encoding,),
            placements=(Placement(0, self.partitioner.name, self.partition_count, framing),),
            measures=self.measures, strict=self.strict, value_sizes=self.value_sizes,
            seed=self.producer.seed, ordered=(0,) if self.measures.order_by else (),
        )  # fmt: skip

    @property
    def encoder(self) -> KeyEncoder:
        """Key bytes (framed) and bytes per event; its ``label`` names the key."""
        return KeyEncoder(self.design, self.producer, size_column=bool(self.measures.size),
                          record_columns=self.record_columns, strict=self.strict)  # fmt: skip

    def rows(self, batch: Batch) -> Rows:
        """The batch's usable rows, with sizes and times parsed."""
        return self.scan().parser(batch)

    def prepare(self, batch: Batch, rows: Rows | None = None) -> Events:
        """A batch's usable events: key bytes (framed), bytes per event, times, and the rest
        skipped. ``rows`` is the batch's :meth:`rows`, when already parsed."""
        return self.encoder(rows if rows is not None else self.rows(batch))

    def aggregate(self, batch: Batch, keyless_seen: int = 0) -> LoadAggregate:
        """The aggregate of one batch, its keyless records numbered from ``keyless_seen``."""
        return analyze_batches([batch], self, keyless_start=keyless_seen)


def analyze_batches(
    batches: Iterable[Batch | tuple[Batch, Staged]],
    plan: BatchPlan,
    *,
    on_batch: Callable[[int], None] | None = None,
    keyless_start: int = 0,
) -> LoadAggregate:
    """Aggregate a stream of batches with ``plan`` (its one placement's
    :class:`LoadAggregate`, with its per-entity ordering)."""
    return plan_result(scan_batches(batches, plan.scan(), on_batch=on_batch,
                                    keyless_start=keyless_start))  # fmt: skip


def plan_result(aggregate: ScanAggregate) -> LoadAggregate:
    """The one placement's aggregate of a :class:`BatchPlan`'s scan, with its ordering."""
    load = aggregate.loads[0]
    load.order = aggregate.order
    return load


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
        producers = plan.record_producers or (plan.producer,)
        plan = replace(plan, record_columns=record_columns(*producers, available=available))
    else:
        plan.design.check_columns(available, key_option)
    for option, column in plan.measures.columns().items():
        parse_design(column).check_columns(available, option)
    return replace(plan, value_sizes=plan.measures.size is None and "value_size" in available)
