"""Per-entity ordering under a partitioning: which entities keep their events in order.

Kafka orders records only within a partition. An entity (an account, an order, a device)
with two or more events is *ordered* when every one of its events has a key the client
hashes and all of them land on one partition. A null key (or an empty key that the client
treats as null) goes wherever the client's keyless path sends it, and a salted key spreads
an entity over several partitions, so neither keeps order.

:class:`EntityOrder` follows every entity under several placements at once, batch by batch,
and merges with another (threads, pieces, Dask). Per entity it keeps its events and, per
placement, the first partition its hashed events took, a bit mask of the partitions
(``partition % 64``), whether they spread, and its keyless events.

* **Exact** up to ``limit`` distinct entities: every figure of :meth:`EntityOrder.report`.
* **Past it, a sample of entities** by hash: the entities whose 64-bit hash starts with
  ``level`` zero bits, one in ``2**level``; ``level`` rises each time the sample outgrows
  the limit, so memory stays bounded. A sampled entity's status is exact (sampling is by
  entity, never by event: all its events are seen), and the population's figures are the
  sample's, with 95% intervals in the report (Wilson's for the share of entities, the
  ratio estimator's for the share of events).
* **Never order kept when it was broken.** A sample cannot see every entity, so past the
  limit order is never reported as wholly kept: when the sample saw no broken entity,
  ``ordering_preserved`` is the lower end of its interval (below 1) and ``events_at_risk``
  the upper end of its own (above 0), so a break the sample missed is within the figures.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from partsim.errors import DataError
from partsim.hashing import KernelArray, _kernels, kernel_backend
from partsim.serde import escaped_surrogates
from partsim.sketch import hash64

__all__ = [
    "ENTITY_BUDGET",
    "EntityOrder",
    "KeyCountSample",
    "entity_limit",
    "lookup_partitions",
    "ordering_report",
]

#: Bytes the exact per-entity state may take; the exact limit shrinks as placements grow.
ENTITY_BUDGET = 256 << 20
#: Bytes per entity: the table (slot, entry, key bytes) and the events, then per placement.
_ENTITY_BYTES, _PLACEMENT_BYTES = 72, 21


def entity_limit(placements: int, exact_entities: int | None = None) -> int:
    """Distinct entities followed exactly: ``exact_entities``, or by default as many as
    :data:`ENTITY_BUDGET` holds with the state of ``placements`` placements each."""
    if exact_entities is not None:
        return exact_entities
    return ENTITY_BUDGET // (_ENTITY_BYTES + _PLACEMENT_BYTES * max(1, placements))


def entity_bytes(entity: pa.Array | pa.ChunkedArray) -> pa.Array:
    """An entity column as binary (text as UTF-8); bytes that are not UTF-8 are refused, as
    entities are shown as text."""
    if isinstance(entity, pa.ChunkedArray):
        entity = entity.combine_chunks() if entity.num_chunks else pa.array([], pa.string())
    if pa.types.is_binary(entity.type) or pa.types.is_large_binary(entity.type):
        try:
            entity.cast(pa.large_string())
        except pa.ArrowInvalid:  # e.g. kcat's raw key bytes
            raise DataError(
                "--order-by: the entity column holds bytes that are not valid UTF-8; "
                "order by a text column"
            ) from None
        return entity
    if not (pa.types.is_string(entity.type) or pa.types.is_large_string(entity.type)):
        entity = entity.cast(pa.large_string())
    entity = escaped_surrogates(entity)  # an entity is a name: shown, never hashed
    return entity.view(pa.large_binary() if pa.types.is_large_string(entity.type) else pa.binary())


class _Ids:
    """Entity bytes to numbers 0, 1, ... in order of first appearance (a C hash table, or a
    dict without the kernel)."""

    def __init__(self) -> None:
        self._table = _kernels.KeyTable() if kernel_backend() == "c" else None
        self._numbers: dict[bytes, int] = {}

    def __len__(self) -> int:
        return len(self._table) if self._table is not None else len(self._numbers)

    def add(self, keys: pa.Array) -> np.ndarray:
        """Each key's number (no nulls)."""
        if self._table is not None:
            ids = np.empty(len(keys), dtype=np.int64)
            self._table.add(*KernelArray.of(keys), np.ones(len(keys)), ids)
            return ids
        numbers = self._numbers
        return np.array([numbers.setdefault(key, len(numbers)) for key in keys.to_pylist()],
                        dtype=np.int64)  # fmt: skip

    def keys(self) -> pa.Array:
        """Every key, in number order."""
        if self._table is None:
            return pa.array(list(self._numbers), pa.binary())
        count = len(self._table)
        offsets = np.empty(count + 1, dtype=np.int64)
        data = np.empty(self._table.data_size, dtype=np.uint8)
        self._table.export(offsets, data, np.empty(count, np.int64), np.empty(count))
        return pa.Array.from_buffers(
            pa.large_binary(), count, [None, pa.py_buffer(offsets), pa.py_buffer(data)]
        )


class _State:
    """Per-entity (or per-bucket) state under each placement, in arrays that grow."""

    def __init__(self, placements: int, size: int = 0) -> None:
        self.events = np.zeros(size, dtype=np.int64)
        self.first = [np.full(size, -1, dtype=np.int32) for _ in range(placements)]
        self.mask = [np.zeros(size, dtype=np.uint64) for _ in range(placements)]
        self.spread = [np.zeros(size, dtype=np.uint8) for _ in range(placements)]
        self.keyless = [np.zeros(size, dtype=np.int64) for _ in range(placements)]

    def __len__(self) -> int:
        return len(self.events)

    def grow(self, size: int) -> None:
        """Room for ``size`` entities at least (doubling, so growing is cheap on average)."""
        if size <= len(self.events):
            return
        new = max(size, 2 * len(self.events), 1024)

        def widened(array: np.ndarray, fill: int) -> np.ndarray:
            out = np.full(new, fill, dtype=array.dtype)
            out[: len(array)] = array
            return out

        self.events = widened(self.events, 0)
        self.first = [widened(a, -1) for a in self.first]
        self.mask = [widened(a, 0) for a in self.mask]
        self.spread = [widened(a, 0) for a in self.spread]
        self.keyless = [widened(a, 0) for a in self.keyless]

    def update(self, index: int, ids: np.ndarray, partitions: np.ndarray,
               keyless: np.ndarray) -> None:  # fmt: skip
        """Rows (entity numbers ``ids``; -1: none) placed under placement ``index``."""
        arrays = (self.first[index], self.mask[index], self.spread[index], self.keyless[index])
        if kernel_backend() == "c":
            _kernels.order_update(ids, np.ascontiguousarray(partitions, dtype=np.int32),
                                  keyless.view(np.uint8), *arrays)  # fmt: skip
            return
        first, mask, spread, keyless_events = arrays
        rows = ids >= 0
        np.add.at(keyless_events, ids[rows & keyless], 1)
        hashed = rows & ~keyless
        at, where = ids[hashed], partitions[hashed].astype(np.int32)
        unset = first[at] < 0
        first[at[unset]] = where[unset]  # some row's partition: the others are compared to it
        spread[at[first[at] != where]] = 1
        np.bitwise_or.at(mask, at, np.left_shift(np.uint64(1), (where & 63).astype(np.uint64)))

    def absorb(self, ids: np.ndarray, other: _State, count: int) -> None:
        """Add ``other``'s first ``count`` entities, which are entities ``ids`` here (each
        once)."""
        self.events[ids] += other.events[:count]
        for index in range(len(self.first)):
            mine, theirs = self.first[index][ids], other.first[index][:count]
            clash = (mine >= 0) & (theirs >= 0) & (mine != theirs)
            self.first[index][ids] = np.where(mine >= 0, mine, theirs)
            self.spread[index][ids] |= other.spread[index][:count] | clash
            self.mask[index][ids] |= other.mask[index][:count]
            self.keyless[index][ids] += other.keyless[index][:count]

    def take(self, kept: np.ndarray) -> _State:
        out = _State(0)
        out.events = self.events[kept]
        out.first = [a[kept] for a in self.first]
        out.mask = [a[kept] for a in self.mask]
        out.spread = [a[kept] for a in self.spread]
        out.keyless = [a[kept] for a in self.keyless]
        return out


def _popcount(values: np.ndarray) -> np.ndarray:
    if hasattr(np, "bitwise_count"):
        return np.bitwise_count(values).astype(np.int64)
    bits = np.unpackbits(values.view(np.uint8).reshape(-1, 8), axis=1)  # pragma: no cover
    return bits.sum(axis=1).astype(np.int64)  # pragma: no cover


class EntityOrder:
    """Mergeable per-entity ordering under several placements (see the module docstring)."""

    def __init__(self, partition_counts: Sequence[int], limit: int):
        self.partition_counts = tuple(int(count) for count in partition_counts)
        self.limit = int(limit)
        self.level = 0
        self._ids = _Ids()
        self._state = _State(len(self.partition_counts))

    @property
    def entities(self) -> int:
        """The entities followed (all of them at level 0, else the sample)."""
        return len(self._ids)

    def update(
        self, entity: pa.Array | pa.ChunkedArray, placed: Sequence[tuple[np.ndarray, np.ndarray]]
    ) -> None:
        """One batch: its entity column and, per placement, each row's partition and whether
        it took the keyless path. Rows whose entity is null are left out."""
        entity = entity_bytes(entity)
        valid = np.ones(len(entity), dtype=bool)
        if entity.null_count:
            valid = entity.is_valid().to_numpy(zero_copy_only=False)
        sampled = valid & self._in_sample(hash64(entity)) if self.level else valid
        ids = np.full(len(entity), -1, dtype=np.int64)
        if sampled.any():
            chosen = entity if sampled.all() else entity.filter(pa.array(sampled))
            ids[sampled] = self._ids.add(chosen)
        self._state.grow(len(self._ids))
        self._state.events += np.bincount(ids[sampled], minlength=len(self._state))
        for index, (partitions, keyless) in enumerate(placed):
            keyless = np.ascontiguousarray(keyless, dtype=bool)
            self._state.update(index, ids, partitions, keyless)
        while len(self._ids) > self.limit:
            self._subsample()

    def _in_sample(self, hashes: np.ndarray) -> np.ndarray | bool:
        if self.level == 0:
            return True
        return (hashes >> np.uint64(64 - self.level)) == 0

    def _subsample(self) -> None:
        """Halve the sample: keep the entities whose hash has one more leading zero bit."""
        self.level += 1
        keys = self._ids.keys()
        kept = np.flatnonzero(self._in_sample(hash64(keys)))
        self._ids = _Ids()
        if len(kept):
            self._ids.add(keys.take(pa.array(kept)))
        self._state = self._state.take(kept)

    @staticmethod
    def merge_all(parts: Sequence[EntityOrder]) -> EntityOrder:
        """The ordering state of all the parts' inputs."""
        if len(parts) == 1:
            return parts[0]
        first = parts[0]
        out = EntityOrder(first.partition_counts, min(p.limit for p in parts))
        out.level = max(part.level for part in parts)
        for part in parts:
            keys = part._ids.keys()
            kept = np.flatnonzero(out._in_sample(hash64(keys)) & np.ones(len(keys), bool))
            state = part._state.take(kept)
            if len(kept):
                ids = out._ids.add(keys.take(pa.array(kept)))
                out._state.grow(len(out._ids))
                out._state.absorb(ids, state, len(kept))
        while len(out._ids) > out.limit:
            out._subsample()
        return out

    def merge(self, other: EntityOrder) -> EntityOrder:
        return EntityOrder.merge_all([self, other])

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_ids"] = self._ids.keys()
        state["_state"] = self._state.take(np.arange(len(self._ids)))
        return state

    def __setstate__(self, state: dict) -> None:
        keys = state.pop("_ids")
        self.__dict__.update(state)
        self._ids = _Ids()
        if len(keys):
            self._ids.add(keys)

    # ------------------------------------------------------------------ the report
    def report(self, index: int, worst: int = 10) -> dict:
        """``ordering_preserved``, ``events_at_risk`` and the worst entities under placement
        ``index``; past the exact limit, estimates from the sample with their 95% intervals
        (``method``, ``ordering_preserved_interval``, ``events_at_risk_interval``)."""
        size = len(self._ids)
        state = self._state
        events = state.events[:size]
        mask = state.mask[index][:size]
        spread = state.spread[index][:size].astype(bool)
        keyless = state.keyless[index][:size]
        partitions = _popcount(mask)
        if self.partition_counts[index] > 64:  # bits are partitions modulo 64: a lower bound
            partitions = np.where(spread, np.maximum(partitions, 2), partitions)
        multi = events >= 2
        ordered = multi & (keyless == 0) & (partitions == 1) & ~spread
        broken = multi & ~ordered
        scale = 2**self.level
        multi_events = int(events[multi].sum())
        broken_events = int(events[broken].sum())
        report: dict = {
            "entities": size * scale,
            "entities_with_2_or_more_events": int(multi.sum()) * scale,
            "ordered_entities": int(ordered.sum()) * scale,
            "ordering_preserved": float(ordered.sum() / multi.sum()) if multi.any() else 1.0,
            "events_at_risk": broken_events / multi_events if multi_events else 0.0,
            "unordered_by_null_or_keyless_keys": int((broken & (keyless > 0)).sum()) * scale,
            "unordered_by_spread_over_partitions": int((broken & (partitions > 1)).sum()) * scale,
        }
        if self.level:
            report.update(self._estimates(index, ordered, broken, multi, events, report))
        table = pd.DataFrame({
            "entity": [value.decode("utf-8", "backslashreplace") for value in
                       self._ids.keys().filter(pa.array(broken)).to_pylist()],
            "events": events[broken], "partitions": partitions[broken],
            "keyless_events": keyless[broken],
        })  # fmt: skip
        report["worst_by_events"] = table.nlargest(worst, ["events", "partitions"]).to_dict(
            "records"
        )
        report["worst_by_partitions"] = table.nlargest(worst, ["partitions", "events"]).to_dict(
            "records"
        )
        return report

    def _estimates(self, index, ordered, broken, multi, events, report) -> dict:
        """Past the limit: the method and the intervals; a sample that saw no break is
        reported at the ends of its intervals, never as order wholly kept."""
        sampled = int(multi.sum())
        preserved_low, preserved_high = _wilson(int(ordered.sum()), sampled)
        multi_events = events[multi]
        risk_low, risk_high = _ratio_interval(np.where(broken, events, 0)[multi], multi_events)
        out = {
            "method": f"sample: 1 in {2**self.level:,} entities by hash, past "
            f"{self.limit:,} distinct entities; each sampled entity's order is exact",
            "entities_sampled": len(self._ids),
            "ordering_preserved_interval": [preserved_low, preserved_high],
        }
        if not broken.any():  # a break the sample missed stays within the figures
            risk_high = _wilson(0, int(multi_events.sum()))[1]
            out["ordering_preserved"] = preserved_low
            out["events_at_risk"] = risk_high
        out["events_at_risk_interval"] = [risk_low, risk_high]
        return out


class KeyCountSample:
    """The exact events of a hash sample of distinct keys: every key while they number at
    most ``limit``, then those whose 64-bit hash starts with ``level`` zero bits (one in
    ``2**level``). It takes a key table's keys and counts at a time (a run's flushes of its
    exact key table), so it costs nothing per record; it merges with another.

    Per-key ordering (each key its own entity) past the exact-key limit reads it: how many
    keys have two or more events, and their events, estimated from the sample."""

    def __init__(self, limit: int) -> None:
        self.limit = int(limit)
        self.level = 0
        self.table = pa.table({"key": pa.array([], pa.binary()),
                               "count": pa.array([], pa.int64())})  # fmt: skip

    def add(self, keys: pa.Table) -> None:
        """Add a key table's ``key`` and ``count`` columns."""
        table = keys.select(["key", "count"]).cast(self.table.schema)
        self.table = self._sampled(pa.concat_tables([self.table, table]))
        if self.table.num_rows > self.limit:
            from partsim.keycounts import sum_by

            self.table = sum_by(self.table, ["key"], ["count"]).cast(self.table.schema)
        while self.table.num_rows > self.limit:
            self.level += 1
            self.table = self._sampled(self.table)

    def _sampled(self, table: pa.Table) -> pa.Table:
        if self.level == 0 or not table.num_rows:
            return table
        hashes = hash64(table.column("key").combine_chunks())
        return table.filter(pa.array((hashes >> np.uint64(64 - self.level)) == 0))

    def counts(self) -> tuple[pa.Array, np.ndarray, int]:
        """The sampled keys, their events, and the scale (``2**level``)."""
        from partsim.keycounts import sum_by

        table = sum_by(self.table, ["key"], ["count"]) if self.table.num_rows else self.table
        return (table.column("key").combine_chunks(), table.column("count").to_numpy(),
                2**self.level)  # fmt: skip

    @staticmethod
    def merge_all(parts: Sequence[KeyCountSample]) -> KeyCountSample:
        out = KeyCountSample(min(part.limit for part in parts))
        out.level = max(part.level for part in parts)
        for part in parts:
            out.add(part.table)
        return out


def _wilson(successes: int, trials: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score interval of a proportion (95%)."""
    if trials == 0:
        return 0.0, 1.0
    p = successes / trials
    centre = (p + z * z / (2 * trials)) / (1 + z * z / trials)
    spread = math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials))
    half = z * spread / (1 + z * z / trials)
    return max(0.0, centre - half), min(1.0, centre + half)


def _ratio_interval(numerators: np.ndarray, denominators: np.ndarray, z: float = 1.96):
    """A 95% interval of sum(numerators) / sum(denominators) over sampled units (the ratio
    estimator's normal approximation)."""
    count = len(denominators)
    total = float(denominators.sum())
    if count < 2 or total <= 0:
        return 0.0, 1.0
    ratio = float(numerators.sum()) / total
    residuals = numerators - ratio * denominators
    error = math.sqrt(count * float((residuals**2).sum()) / (count - 1)) / total
    return max(0.0, ratio - z * error), min(1.0, ratio + z * error)


# ------------------------------------------ from (entity, key) counts (salting)
def lookup_partitions(
    keys: pa.Array | pa.ChunkedArray, sample_keys: pa.ChunkedArray, partitions: np.ndarray
):
    """The partition of each of ``keys`` (a subset of the sample's keys); -1 for null keys."""
    index = pc.index_in(keys, value_set=sample_keys.combine_chunks() if isinstance(
        sample_keys, pa.ChunkedArray) else sample_keys)  # fmt: skip
    index = index.fill_null(-1).to_numpy(zero_copy_only=False)
    if not len(partitions):  # no sample key (every key null): nothing to look up
        return np.full(len(index), -1)
    return np.where(index >= 0, partitions[np.maximum(index, 0)], -1)


def ordering_report(
    entities: pa.Table, key_partition: np.ndarray, sample_keys: pa.ChunkedArray, worst: int = 10
) -> dict:
    """``ordering_preserved``, ``events_at_risk`` and the worst entities, from (entity, key)
    counts and each sample key's partition (-1 = keyless)."""
    partition = lookup_partitions(entities.column("key"), sample_keys, key_partition)
    frame = pd.DataFrame(
        {"entity": entities.column("entity").to_numpy(zero_copy_only=False),
         "partition": partition, "count": entities.column("count").to_numpy()}
    )  # fmt: skip
    frame["keyless"] = np.where(frame["partition"] < 0, frame["count"], 0)
    hashed = frame[frame["partition"] >= 0]
    per = frame.groupby("entity", sort=False).agg(
        events=("count", "sum"), keyless=("keyless", "sum")
    )
    per["partitions"] = hashed.groupby("entity", sort=False)["partition"].nunique()
    per["partitions"] = per["partitions"].fillna(0).astype(int)
    multi = per[per["events"] >= 2]
    ordered = (multi["keyless"] == 0) & (multi["partitions"] == 1)
    broken = multi[~ordered]
    total = int(multi["events"].sum())
    report = {
        "entities": len(per),
        "entities_with_2_or_more_events": len(multi),
        "ordered_entities": int(ordered.sum()),
        "ordering_preserved": float(ordered.mean()) if len(multi) else 1.0,
        "events_at_risk": float(broken["events"].sum() / total) if total else 0.0,
        "unordered_by_null_or_keyless_keys": int((broken["keyless"] > 0).sum()),
        "unordered_by_spread_over_partitions": int((broken["partitions"] > 1).sum()),
    }
    columns = ["entity", "events", "partitions", "keyless"]
    table = broken.reset_index()[columns].rename(columns={"keyless": "keyless_events"})
    table["entity"] = [
        value.decode("utf-8", "backslashreplace") if isinstance(value, bytes) else value
        for value in table["entity"]
    ]
    report["worst_by_events"] = table.nlargest(worst, ["events", "partitions"]).to_dict("records")
    report["worst_by_partitions"] = table.nlargest(worst, ["partitions", "events"]).to_dict(
        "records"
    )
    return report
