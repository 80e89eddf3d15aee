"""Mergeable aggregates: what a batch of placed events adds up to.

:class:`LoadAggregate` is the partial result of one configuration (a key design placed by
one partitioner over one partition count): messages and bytes per partition (all, and
keyed only), per-key counts (exact up to a limit, then sketches: :mod:`partsim.sketch`),
per-window loads and per-entity key counts. ``a.merge(b)`` equals one pass over both inputs,
so streaming, threads and Dask are only different ways of calling the same code.

:func:`count_events` is the batch step: one batch's placed events as an aggregate.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from partsim.errors import DataError
from partsim.hashing import _kernels, kernel_backend
from partsim.keycounts import KEY_SCHEMA, KeyCounts, sum_by
from partsim.ordering import EntityOrder
from partsim.partitioners import get_partitioner
from partsim.placement import Placed, fold_counts
from partsim.serde import escaped_surrogates
from partsim.sketch import HyperLogLog, KeySketch

__all__ = [
    "ENTITY_SCHEMA",
    "WINDOW_SCHEMA",
    "KeySample",
    "LoadAggregate",
    "MoveCounts",
    "Unrepresentable",
    "WindowGrid",
    "coarsened",
    "count_events",
    "entity_pairs",
    "key_sample",
    "merge_windows",
    "tally",
    "window_counts",
]

ENTITY_SCHEMA = pa.schema(
    [("entity", pa.large_string()), ("key", pa.binary()), ("count", pa.int64())]
)
WINDOW_SCHEMA = pa.schema(
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
    windows: pa.Table = field(default_factory=lambda: WINDOW_SCHEMA.empty_table())
    first_ns: int | None = None
    last_ns: int | None = None
    order: EntityOrder | None = None  # per-entity ordering (its placement 0), with order_by
    # ``windows`` counts windows of ``window_factor`` windows each (a coarsening grid's; the
    # window column is then ``window // window_factor``). 1: one window per row.
    window_factor: int = 1
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
        orders = [p.order for p in parts if p.order is not None]
        factor = max(p.window_factor for p in parts)
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
            _sum_tables([coarsened(p.windows, p.window_factor, factor) for p in parts],
                        ["window", "partition"], ["messages", "bytes"], WINDOW_SCHEMA),
            min(starts) if starts else None,
            max(ends) if ends else None,
            EntityOrder.merge_all(orders) if orders else None,
            factor,
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
        for name in ("keys", "windows"):
            if state[name] is not None:
                sink = pa.BufferOutputStream()
                with pa.ipc.new_stream(sink, state[name].schema) as writer:
                    writer.write_table(state[name])
                state[name] = sink.getvalue()
        return state

    def __setstate__(self, state: dict) -> None:
        for name in ("keys", "windows"):
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


def coarsened(windows: pa.Table, factor: int, to_factor: int) -> pa.Table:
    """A window table of ``factor`` windows per row re-binned to ``to_factor`` (a multiple of
    it), cells summed.

    >>> table = pa.table({"window": [4, 5, 6], "partition": pa.array([0, 0, 1], pa.int32()),
    ...                   "messages": [1, 2, 3], "bytes": [1.0, 2.0, 3.0]})
    >>> coarsened(table, 1, 2).sort_by("window").to_pydict()["messages"]
    [3, 3]
    """
    if to_factor == factor or not windows.num_rows:
        return windows
    rows = windows.column("window").to_numpy() // (to_factor // factor)
    table = windows.set_column(0, "window", pa.array(rows))
    return sum_by(table, ["window", "partition"], ["messages", "bytes"]).cast(WINDOW_SCHEMA)


def _sum_tables(
    tables: list[pa.Table], keys: list[str], sums: list[str], schema: pa.Schema
) -> pa.Table:
    """:func:`sum_by` over the tables together; one table with rows is already summed."""
    full = [table for table in tables if table.num_rows]
    if len(full) == 1:
        return full[0].cast(schema)
    return sum_by(pa.concat_tables(tables), keys, sums).cast(schema)


def merge_windows(tables: Sequence[pa.Table]) -> pa.Table:
    """Window tables of the same placement (:data:`WINDOW_SCHEMA`) as one, cells summed."""
    return _sum_tables(list(tables), ["window", "partition"], ["messages", "bytes"],
                       WINDOW_SCHEMA)  # fmt: skip


def count_events(
    placed: Placed, partition_count: int, keys: KeyCounts, window_ns: int
) -> LoadAggregate:
    """One batch's placed events (keyless records placed too) as an aggregate: per-partition
    messages and bytes, and per-window loads; the hashed keys' events and bytes go into
    ``keys``."""
    events, partitions, keyless = placed.events, placed.partitions, placed.keyless
    key_bytes, weights, times = events.key_bytes, events.weights, events.times
    count = partition_count
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
    out.skipped_rows = events.skipped
    if out.keyless_events:
        keys.add(key_bytes.filter(pa.array(hashed)), weights[hashed])
    else:
        keys.add(key_bytes, weights)
    if times is not None and len(times):
        out.windows = window_counts(times // window_ns, partitions, weights, count)
        out.first_ns, out.last_ns = int(times.min()), int(times.max())
    return out


def tally(
    partitions: np.ndarray,
    weights: np.ndarray,
    messages: np.ndarray,
    sums: np.ndarray,
    skip: np.ndarray | None = None,
    windows: np.ndarray | None = None,
    first: int = 0,
) -> None:
    """Add each row to ``messages`` (int64) and ``sums`` (float64) at its partition, in row
    order (rows where ``skip`` is true left out): numpy's bincount, added in place, in C
    where the kernel is built. With ``windows``, the tables are (window - ``first``) x
    partition grids."""
    width = messages.shape[-1]
    messages, sums = messages.reshape(-1), sums.reshape(-1)  # views of the tables
    if kernel_backend() == "c":
        _kernels.tally(None if windows is None else np.ascontiguousarray(windows, np.int64),
                       first, width, np.ascontiguousarray(partitions, dtype=np.int32),
                       np.ascontiguousarray(weights, dtype=np.float64),
                       None if skip is None else skip.view(np.uint8), messages, sums)  # fmt: skip
        return
    cells = partitions if windows is None else (windows - first) * width + partitions
    if skip is not None:
        cells, weights = cells[~skip], weights[~skip]
    messages += np.bincount(cells, minlength=len(messages))
    sums += np.bincount(cells, weights=weights, minlength=len(sums))


class WindowGrid:
    """Messages and bytes per (window, partition), added batch by batch (each batch summed on
    its own first, as :func:`window_counts` sums it, then added): one placement's per-window
    load while a run reads. Dense over the windows seen while that takes at most
    ``max_cells`` cells; past it (times spread thin over a long span), the cells that hold
    events, as tables merged once they add up to ``MERGE_ROWS`` rows. :meth:`table` gives the
    cells that hold events (:data:`WINDOW_SCHEMA`)."""

    #: Rows of pending sparse tables that trigger a merge.
    MERGE_ROWS = 4_000_000

    def __init__(
        self, partition_count: int, window_ns: int, max_cells: int, coarsen: bool = False
    ) -> None:
        self.partition_count = partition_count
        self.window_ns = window_ns
        self.max_cells = max_cells
        # With ``coarsen``, a grid that would pass ``max_cells`` doubles its rows' width
        # (``factor`` windows per row, aligned at window 0) instead of going sparse.
        self.coarsen = coarsen
        self.factor = 1
        self.first = 0  # the window of row 0
        self.messages = np.zeros((0, partition_count), dtype=np.int64)
        self.bytes = np.zeros((0, partition_count))
        self.low: int | None = None  # the lowest and highest windows with events
        self.high: int | None = None
        self.sparse: list[pa.Table] | None = None  # the tables, once the grid is too big

    def add(
        self,
        windows: np.ndarray,
        partitions: np.ndarray,
        weights: np.ndarray,
        skip: np.ndarray | None = None,
        span: tuple[int, int] | None = None,
    ) -> None:
        """Add events: their windows, partitions and bytes (rows where ``skip`` is true are
        left out). ``span``: the lowest and highest of ``windows``, when known."""
        if skip is not None and skip.any():
            keep = ~skip
            windows, partitions, weights = windows[keep], partitions[keep], weights[keep]
            span = None
        if not len(windows):
            return
        low, high = span if span is not None else (int(windows.min()), int(windows.max()))
        self.low = low if self.low is None else min(low, self.low)
        self.high = high if self.high is None else max(high, self.high)
        if self.coarsen:
            self._widen()
            if self.factor > 1:
                windows = windows // self.factor
        if self.sparse is None and not self._cover():
            self.sparse = [self._dense_table()] if len(self.messages) else []
            self.messages = self.bytes = None
        if self.sparse is not None:
            self.sparse.append(window_counts(windows, partitions, weights, self.partition_count))
            if sum(table.num_rows for table in self.sparse) > self.MERGE_ROWS:
                self.sparse = [self._merged()]
            return
        tally(partitions, weights, self.messages, self.bytes, windows=windows, first=self.first)

    def _widen(self) -> None:
        """Double the rows' width until rows ``low`` to ``high`` take at most ``max_cells``
        cells, summing the rows already counted into the wider ones."""
        factor = self.factor
        while (self.high // factor - self.low // factor + 1) * self.partition_count > max(
            self.max_cells, self.partition_count
        ):
            factor *= 2
        if factor == self.factor:
            return
        ratio, self.factor = factor // self.factor, factor
        if not len(self.messages):
            return
        first = self.first // ratio
        lead = self.first - first * ratio  # rows before the grid's first in its new row
        rows = -(-(lead + len(self.messages)) // ratio)
        for name in ("messages", "bytes"):
            old = getattr(self, name)
            padded = np.zeros((rows * ratio, self.partition_count), dtype=old.dtype)
            padded[lead : lead + len(old)] = old
            setattr(self, name, padded.reshape(rows, ratio, self.partition_count).sum(axis=1))
        self.first = first

    def _cover(self) -> bool:
        """Grow the grid to hold windows ``low`` to ``high`` (with room to grow on); False
        when that would take more than ``max_cells`` cells."""
        low, high = self.low // self.factor, self.high // self.factor
        top = self.first + len(self.messages)
        if len(self.messages) and low >= self.first and high < top:
            return True
        if (high - low + 1) * self.partition_count > self.max_cells:
            return False
        if not len(self.messages):
            start = low
        elif low < self.first:  # growing down: the spare rows go below
            start = None
        else:
            start = self.first
        upper = max(high, top - 1)  # the grid's rows so far stay
        needed = upper - (low if start is None else start) + 1
        room = max(needed, min(2 * len(self.messages), self.max_cells // self.partition_count))
        if start is None:
            start = upper - room + 1
        messages = np.zeros((room, self.partition_count), dtype=np.int64)
        byte_sums = np.zeros((room, self.partition_count))
        if len(self.messages):
            at = self.first - start
            messages[at : at + len(self.messages)] = self.messages
            byte_sums[at : at + len(self.bytes)] = self.bytes
        self.first, self.messages, self.bytes = start, messages, byte_sums
        return True

    def _dense_table(self, messages=None, byte_sums=None) -> pa.Table:
        messages = self.messages if messages is None else messages
        byte_sums = self.bytes if byte_sums is None else byte_sums
        rows, columns = np.nonzero(messages)
        return pa.table(
            [pa.array(rows.astype(np.int64) + self.first), pa.array(columns.astype(np.int32)),
             pa.array(messages[rows, columns]), pa.array(byte_sums[rows, columns])],
            schema=WINDOW_SCHEMA,
        )  # fmt: skip

    def folded_table(self, partition_count: int) -> pa.Table:
        """:meth:`table` with partition ``p`` counted on ``p mod partition_count`` (a divisor
        of this grid's count: see :func:`partsim.placement.fold_counts`)."""
        if self.sparse is None:
            return self._dense_table(fold_counts(self.messages, partition_count),
                                     fold_counts(self.bytes, partition_count))  # fmt: skip
        table = self.table()
        partitions = table.column("partition").to_numpy() % partition_count
        table = table.set_column(1, "partition", pa.array(partitions.astype(np.int32)))
        return sum_by(table, ["window", "partition"], ["messages", "bytes"]).cast(WINDOW_SCHEMA)

    def _merged(self) -> pa.Table:
        return merge_windows(self.sparse)

    def table(self) -> pa.Table:
        """The cells with events (by window and partition, while dense)."""
        if self.sparse is not None:
            return self._merged() if self.sparse else WINDOW_SCHEMA.empty_table()
        return self._dense_table()


@dataclass
class MoveCounts:
    """What moves between two placements of the same records (a before and an after): events
    compared (hashed under both) and moved (to another partition), exactly; distinct keys
    compared and moved, and those on a keyless path on either side, as HyperLogLog sketches
    of the keys a run passed through :meth:`add_keys` (exact counts come from the key table
    while it is exact)."""

    events_compared: int = 0
    events_moved: int = 0
    keys_compared: HyperLogLog = field(default_factory=HyperLogLog)
    keys_moved: HyperLogLog = field(default_factory=HyperLogLog)
    keys_keyless: HyperLogLog = field(default_factory=HyperLogLog)

    def add_events(self, before: tuple[np.ndarray, np.ndarray],
                   after: tuple[np.ndarray, np.ndarray],
                   keyed: np.ndarray | None = None) -> None:  # fmt: skip
        """One batch: each record's (partitions, keyless) before and after; ``keyed`` marks the
        records with a key (a null key is no key, even where a client hashes it)."""
        both = ~before[1] & ~after[1]
        if keyed is not None:
            both &= keyed
        self.events_compared += int(both.sum())
        self.events_moved += int((both & (before[0] != after[0])).sum())

    def add_keys(self, hashes: np.ndarray, before: tuple[np.ndarray, np.ndarray],
                 after: tuple[np.ndarray, np.ndarray]) -> None:  # fmt: skip
        """Distinct keys (their 64-bit hashes) with their placements before and after."""
        both = ~before[1] & ~after[1]
        self.keys_compared.update(hashes[both])
        self.keys_moved.update(hashes[both & (before[0] != after[0])])
        self.keys_keyless.update(hashes[~both])

    @staticmethod
    def merge_all(parts: Sequence[MoveCounts]) -> MoveCounts:
        out = MoveCounts(sum(p.events_compared for p in parts),
                         sum(p.events_moved for p in parts))  # fmt: skip
        for part in parts:
            out.keys_compared.merge(part.keys_compared)
            out.keys_moved.merge(part.keys_moved)
            out.keys_keyless.merge(part.keys_keyless)
        return out


@dataclass
class Unrepresentable:
    """Records left out because a key schema cannot hold their key (a what-if's two sides
    count only the records both can serialize): their events, exactly, and their distinct
    source keys (64-bit hashes of the values before serialization), exactly up to ``limit``
    and then a HyperLogLog estimate."""

    limit: int
    events: int = 0
    hashes: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.uint64))
    sketch: HyperLogLog | None = None

    def add(self, events: int, hashes: np.ndarray) -> None:
        """One batch's left-out events and the hashes of their source keys."""
        self.events += events
        if self.sketch is not None:
            self.sketch.update(hashes)
            return
        self.hashes = np.union1d(self.hashes, np.asarray(hashes, dtype=np.uint64))
        if len(self.hashes) > self.limit:
            self.sketch = HyperLogLog()
            self.sketch.update(self.hashes)
            self.hashes = np.zeros(0, dtype=np.uint64)

    @property
    def keys(self) -> float:
        """Distinct source keys left out: exact, or past ``limit`` an estimate."""
        return float(len(self.hashes)) if self.sketch is None else self.sketch.estimate()

    def interval(self) -> tuple[float, float]:
        """:attr:`keys` with its 95% interval (a point when exact)."""
        return (self.keys, self.keys) if self.sketch is None else self.sketch.interval()

    @staticmethod
    def merge_all(parts: Sequence[Unrepresentable]) -> Unrepresentable:
        out = Unrepresentable(min(part.limit for part in parts))
        for part in parts:
            if part.sketch is not None:
                out.sketch = out.sketch or HyperLogLog()
                out.sketch.merge(part.sketch)
        for part in parts:
            out.add(part.events, part.hashes)
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


def window_counts(
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
        schema=WINDOW_SCHEMA,
    )


# ------------------------------------------------------------- per-key sample
_KEYS = pa.schema([("key", pa.binary()), ("count", pa.int64()), ("bytes", pa.float64())])
_WINDOWS = pa.schema(
    [("window", pa.int64()), ("key", pa.binary()), ("count", pa.int64()), ("bytes", pa.float64())]
)


def _sum_by(table: pa.Table, keys: list[str], sums: list[str], schema: pa.Schema) -> pa.Table:
    return sum_by(table, keys, sums).select(schema.names).cast(schema)


@dataclass
class KeySample:
    """Mergeable per-design key statistics, exact and unbounded: per key, per (entity, key)
    and per (window, key) counts, all that evaluating any partitioner needs (salting hot keys
    in ``partsim whatif`` reads it)."""

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


def key_sample(
    keys: pa.Array,
    weights: np.ndarray,
    skipped: int = 0,
    entity: pa.Array | None = None,
    windows: np.ndarray | None = None,
) -> KeySample:
    """The key sample of one batch: its key bytes and bytes per event, the rows it skipped,
    and optionally each event's entity and window."""
    weights = pa.array(weights)
    ones = pa.array(np.ones(len(keys), dtype=np.int64))
    table = pa.table({"key": keys, "count": ones, "bytes": weights})
    nulls = table.filter(pc.is_null(table["key"]))
    keyed = table.filter(pc.is_valid(table["key"]))
    out = KeySample(
        keys=_sum_by(keyed, ["key"], ["count", "bytes"], _KEYS),
        null_events=nulls.num_rows,
        null_bytes=float(pc.sum(nulls["bytes"]).as_py() or 0.0),
        events=len(keys),
        skipped_rows=skipped,
    )
    if entity is not None:
        out.entities = entity_pairs(entity, keys)
    if windows is not None and len(windows):
        table = pa.table({"window": pa.array(windows), "key": keys, "count": ones,
                          "bytes": weights})  # fmt: skip
        out.windows = _sum_by(table, ["window", "key"], ["count", "bytes"], _WINDOWS)
    return out
