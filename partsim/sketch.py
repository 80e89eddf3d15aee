"""Hot keys and distinct keys beyond the exact limit: Apache DataSketches.

Up to a distinct-key limit (``exact_keys``, one million by default) ``partsim analyze``
counts every key exactly. Past it, the exact key table would grow with the input, so the
aggregate switches to sketches of bounded size:

* a **frequent-items sketch** (Misra–Gries with weights; DataSketches'
  ``frequent_strings_sketch``) per weight, events and bytes: every key heavier than the
  sketch's error bound is found, and each reported count comes with a lower and an upper
  bound. The bound is about ``3.5 / 2**lg_max_map_size`` of the total weight
  (``lg_max_map_size`` 16: 0.0053% of the events);
* one **HLL sketch** per partition for the distinct keys (lg_k 12: a relative standard
  error of 1.6%). A key is hashed to one partition, so the partitions' key sets are
  disjoint and their union is the total.

Per-partition message and byte counts never come from a sketch: they stay exact.

A :class:`KeySketch` merges with another (so partial aggregates still merge, on one
machine or on a Dask cluster) and pickles through the sketches' own serialized form.
Keys are bytes; the frequent-items sketches take them as Latin-1 strings (a one-to-one
mapping), the HLL sketches as a 64-bit hash of them.

Updating a DataSketches sketch is a Python call per key. To keep that affordable, an update
of many keys leaves out of the frequent-items sketches the keys it saw once (most of them,
when keys are many); each such update can lower a key's count by at most one event, so the
reported bounds widen by the number of those updates. A key is still never missed when it
is heavier than the reported error bound.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from partsim.errors import UsageError

__all__ = [
    "DEFAULT_EXACT_KEYS",
    "HyperLogLog",
    "KeySketch",
    "SketchedKeys",
    "check_exact_keys",
    "hash64",
]

#: Distinct keys counted exactly before the key table is replaced by sketches.
DEFAULT_EXACT_KEYS = 1_000_000
#: log2 of the frequent-items sketch's largest map: the count error bound is about
#: 3.5 / 2**16 of the total weight, in about 4 MiB per sketch.
LG_MAX_MAP_SIZE = 16
#: Keys turned into Python strings at a time while updating the sketches.
UPDATE_CHUNK = 1 << 16
#: log2 of the HLL sketches' register count: a relative standard error of 1.04 / 2**6.
LG_K = 12


def check_exact_keys(value: object, option: str = "--exact-keys") -> int:
    """``exact_keys`` (or another limit, named ``option``) as an int, or a one-line
    :class:`UsageError`."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise UsageError(f"{option} must be a whole number >= 1; got {value!r}")
    return int(value)


def hash64(keys: pa.Array) -> np.ndarray:
    """A 64-bit hash of each key (binary; a null as the empty key): Kafka's murmur2 and FNV-1a
    side by side, from the C kernels."""
    from partsim.hashing import hash_array

    return (hash_array(keys, "murmur2").view(np.uint32).astype(np.uint64) << 32) | (
        hash_array(keys, "fnv1a").astype(np.uint64)
    )


class HyperLogLog:
    """A HyperLogLog sketch of distinct 64-bit hashes (Flajolet et al. 2007), in numpy: one
    register per bucket of the hash's top ``lg_k`` bits holds the largest rank seen. It merges
    by registerwise maximum. With ``lg_k`` 14 (16 KiB), the relative standard error is
    1.04 / 2**7, about 0.8%; :meth:`interval` gives the estimate ± 2.5 standard errors (about
    2%), which also covers the estimators' bias near their switch (linear counting up to 3.5
    distinct hashes per register, the raw HLL estimate above).

    >>> sketch = HyperLogLog()
    >>> sketch.update(hash64(pa.array([f"user-{i}".encode() for i in range(100_000)])))
    >>> low, high = sketch.interval()
    >>> low < 100_000 < high
    True
    """

    def __init__(self, lg_k: int = 14) -> None:
        self.lg_k = lg_k
        self.registers = np.zeros(1 << lg_k, dtype=np.uint8)

    def update(self, hashes: np.ndarray) -> None:
        """Add 64-bit hashes (uint64)."""
        if not len(hashes):
            return
        hashes = np.asarray(hashes, dtype=np.uint64)
        index = (hashes >> np.uint64(64 - self.lg_k)).astype(np.intp)
        # The rank of the rest: its leading zeros + 1, at most 64 - lg_k + 1 (a guard bit).
        rest = (hashes << np.uint64(self.lg_k)) | np.uint64(1 << (self.lg_k - 1))
        _, exponent = np.frexp(rest.astype(np.float64))
        rank = (65 - exponent).astype(np.uint8)
        np.maximum.at(self.registers, index, rank)

    def merge(self, other: HyperLogLog) -> None:
        """Add ``other``'s hashes to this sketch."""
        np.maximum(self.registers, other.registers, out=self.registers)

    def estimate(self) -> float:
        """The estimated count of distinct hashes (with linear counting for small counts)."""
        m = len(self.registers)
        alpha = 0.7213 / (1 + 1.079 / m)
        raw = alpha * m * m / np.ldexp(1.0, -self.registers.astype(np.int64)).sum()
        zeros = int((self.registers == 0).sum())
        if zeros:  # linear counting, while it is the more accurate (up to 3.5 per register)
            linear = m * np.log(m / zeros)
            if linear <= 3.5 * m:
                return float(linear)
        return float(raw)

    @property
    def relative_error(self) -> float:
        """The relative standard error, 1.04 / sqrt(registers)."""
        return 1.04 / len(self.registers) ** 0.5

    def interval(self) -> tuple[float, float]:
        """The estimate ± 2.5 relative standard errors (at least 95%)."""
        value, error = self.estimate(), 2.5 * self.relative_error
        return value * (1 - error), value * (1 + error)


def _datasketches():
    try:
        import datasketches
    except ImportError:  # pragma: no cover - the CI installs it
        raise UsageError(
            "more distinct keys than --exact-keys: sketching them needs the datasketches "
            "package (pip install 'partsim[sketch]'), or raise --exact-keys"
        ) from None
    return datasketches


@dataclass(frozen=True)
class SketchedKeys:
    """What the sketches say at the end: candidate hot keys and the distinct-key estimates.

    ``keys`` has ``key, count, count_lower, count_upper, bytes``: every key that may be
    heavier than ``count_error`` events (no false negatives), with DataSketches' estimate
    and its bounds. ``distinct`` is each partition's estimated distinct keys.
    """

    keys: pa.Table
    count_error: int
    bytes_error: int  # bytes the frequent-items updates left out, at most, per key
    distinct: np.ndarray
    distinct_total: float
    distinct_lower: float
    distinct_upper: float


class KeySketch:
    """Mergeable sketches of per-key events and bytes, and of distinct keys per partition."""

    def __init__(self, partition_count: int) -> None:
        ds = _datasketches()
        self.partition_count = partition_count
        self.events = ds.frequent_strings_sketch(LG_MAX_MAP_SIZE)
        self.bytes = ds.frequent_strings_sketch(LG_MAX_MAP_SIZE)
        self.distinct = [ds.hll_sketch(LG_K) for _ in range(partition_count)]
        self.skipped_rounds = 0  # updates that left keys seen once out (see update)
        self.skipped_bytes = 0  # the most bytes such a key had, summed over those updates

    def update(
        self, keys: pa.Array, counts: np.ndarray, byte_sums: np.ndarray, partitions: np.ndarray
    ) -> None:
        """Add distinct ``keys`` (binary) with their events, bytes and partitions.

        Every key goes into its partition's HLL sketch, as a 64-bit hash (Kafka's murmur2
        and FNV-1a side by side, from the C kernels). In an update of many keys, those seen
        once are left out of the frequent-items sketches: that is most keys when there are
        many, the Python-level updates are what costs, and it moves each key's count by at
        most 1 per such update, which the bounds add (``skipped_rounds``).
        """
        hashes = hash64(keys)
        order = np.argsort(partitions, kind="stable")
        edges = np.searchsorted(partitions[order], np.arange(self.partition_count + 1))
        by_partition = hashes[order].view(np.int64)
        for partition, sketch in enumerate(self.distinct):
            update = sketch.update
            for value in by_partition[edges[partition] : edges[partition + 1]].tolist():
                update(value)
        whole_bytes = np.rint(byte_sums).astype(np.int64)
        if len(keys) >= UPDATE_CHUNK:
            once = counts == 1
            if once.any():
                self.skipped_rounds += 1
                self.skipped_bytes += int(whole_bytes[once].max())
                kept = np.flatnonzero(~once)
                keys = keys.take(pa.array(kept))
                counts, whole_bytes = counts[kept], whole_bytes[kept]
        events, weights = self.events.update, self.bytes.update
        for first in range(0, len(keys), UPDATE_CHUNK):  # bounds the Python objects alive
            last = first + UPDATE_CHUNK
            names = [key.decode("latin-1") for key in keys.slice(first, UPDATE_CHUNK).to_pylist()]
            for name, count, size in zip(
                names, counts[first:last].tolist(), whole_bytes[first:last].tolist(), strict=True
            ):
                events(name, count)
                if size > 0:
                    weights(name, size)

    def merge(self, other: KeySketch) -> None:
        """Add ``other``'s inputs to this sketch (``other`` is unchanged)."""
        ds = _datasketches()
        if other.partition_count != self.partition_count:
            raise ValueError("cannot merge sketches of different partition counts")
        self.events.merge(other.events)
        self.bytes.merge(other.bytes)
        self.skipped_rounds += other.skipped_rounds
        self.skipped_bytes += other.skipped_bytes
        for index, (mine, theirs) in enumerate(zip(self.distinct, other.distinct, strict=True)):
            union = ds.hll_union(LG_K)
            union.update(mine)
            union.update(theirs)
            self.distinct[index] = union.get_result(ds.tgt_hll_type.HLL_8)

    def result(self) -> SketchedKeys:
        """The candidate hot keys and the distinct-key estimates."""
        ds = _datasketches()
        items = self.events.get_frequent_items(ds.frequent_items_error_type.NO_FALSE_NEGATIVES)
        names = [item[0] for item in items]
        keys = pa.table(
            {
                "key": pa.array([name.encode("latin-1") for name in names], pa.binary()),
                "count": pa.array([item[1] for item in items], pa.int64()),
                "count_lower": pa.array([item[2] for item in items], pa.int64()),
                "count_upper": pa.array(
                    [item[3] + self.skipped_rounds for item in items], pa.int64()
                ),
                "bytes": pa.array(
                    [float(self.bytes.get_estimate(name)) for name in names], pa.float64()
                ),
            }
        )
        union = ds.hll_union(LG_K)
        for sketch in self.distinct:
            union.update(sketch)
        total = union.get_result()
        error = max((item[3] - item[2] for item in items), default=0)
        return SketchedKeys(
            keys=keys,
            count_error=int(error) + self.skipped_rounds,
            bytes_error=self.skipped_bytes
            + max(
                (self.bytes.get_upper_bound(n) - self.bytes.get_lower_bound(n) for n in names),
                default=0,
            ),
            distinct=np.array([round(s.get_estimate()) for s in self.distinct], dtype=np.int64),
            distinct_total=float(total.get_estimate()),
            distinct_lower=float(total.get_lower_bound(2)),
            distinct_upper=float(total.get_upper_bound(2)),
        )

    # Pickling (for Dask and processes) goes through the sketches' serialized bytes.
    def __getstate__(self) -> dict:
        return {
            "partition_count": self.partition_count,
            "skipped": (self.skipped_rounds, self.skipped_bytes),
            "events": self.events.serialize(),
            "bytes": self.bytes.serialize(),
            "distinct": [sketch.serialize_compact() for sketch in self.distinct],
        }

    def __setstate__(self, state: dict) -> None:
        ds = _datasketches()
        self.partition_count = state["partition_count"]
        self.skipped_rounds, self.skipped_bytes = state["skipped"]
        self.events = ds.frequent_strings_sketch.deserialize(state["events"])
        self.bytes = ds.frequent_strings_sketch.deserialize(state["bytes"])
        self.distinct = [ds.hll_sketch.deserialize(blob) for blob in state["distinct"]]
