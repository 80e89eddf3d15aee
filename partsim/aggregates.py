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
from partsim.keycounts import KEY_SCHEMA, KeyCounts, sum_by
from partsim.partitioners import get_partitioner
from partsim.placement import Placed
from partsim.serde import escaped_surrogates
from partsim.sketch import KeySketch

__all__ = [
    "ENTITY_SCHEMA",
    "WINDOW_SCHEMA",
    "LoadAggregate",
    "count_events",
    "entity_pairs",
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
                        ["messages", "bytes"], WINDOW_SCHEMA),
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
