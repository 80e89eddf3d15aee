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
Keys are bytes; the frequent-items sketches take each as a Latin-1 string (a one-to-one
mapping) of its partition and the key, the HLL sketches as a 64-bit hash of the key. A key
longer than ``LONG_KEY`` (256) bytes enters the frequent-items sketches as its first 64
bytes and a 128-bit BLAKE2b digest of the whole key: the sketches stay bounded in bytes
whatever the keys' length, hot long keys are still found and counted apart, and they are
shown by their prefix (``summary["key_counts"]`` says so).

The exact table is bounded in bytes too: past ``exact_key_bytes`` (64 MiB) of distinct
keys it empties into the sketches, as past ``exact_keys``.

Updating a DataSketches sketch is a Python call per key. To keep that affordable, an update
of many keys leaves out of the frequent-items sketches the keys it saw once (most of them,
when keys are many); each such update can lower a key's count by at most one event, so the
reported bounds widen by the number of those updates. A key is still never missed when it
is heavier than the reported error bound.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from partsim.errors import UsageError
from partsim.extras import installed, missing_extra

__all__ = [
    "DEFAULT_EXACT_KEYS",
    "DEFAULT_EXACT_KEY_BYTES",
    "LONG_KEY",
    "HyperLogLog",
    "KeySketch",
    "SketchedKeys",
    "check_exact_key_bytes",
    "check_exact_keys",
    "hash64",
]

#: Distinct keys counted exactly before the key table is replaced by sketches.
DEFAULT_EXACT_KEYS = 1_000_000
#: Bytes of distinct keys counted exactly before the key table is replaced by sketches (300,000
#: distinct 16 KB keys grew an exact table past 10 GB).
DEFAULT_EXACT_KEY_BYTES = 64 << 20
#: A key longer than this enters the frequent-items sketches as its first ``SHOWN_PREFIX``
#: bytes and a 128-bit BLAKE2b digest, so that each sketch holds at most about 49,152 items
#: of at most ~300 bytes, whatever the keys' length.
LONG_KEY = 256
SHOWN_PREFIX = 64
_ELLIPSIS = "…".encode()
#: log2 of the frequent-items sketch's largest map: the count error bound is about
#: 3.5 / 2**16 of the total weight, in about 4 MiB per sketch.
LG_MAX_MAP_SIZE = 16
#: Keys turned into Python strings at a time while updating the sketches (at most so many,
#: and at most so many bytes of them).
UPDATE_CHUNK = 1 << 16
UPDATE_BYTES = 8 << 20
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


_SIZE = re.compile(r"^\s*(\d+(?:\.\d*)?)\s*([kmgt]?)(i?)b?\s*$", re.IGNORECASE)


def check_exact_key_bytes(value: object) -> int:
    """``exact_key_bytes`` as an int: bytes, or a size such as ``128MiB`` or ``1GB``.

    >>> check_exact_key_bytes("128MiB"), check_exact_key_bytes("1.5kB"), check_exact_key_bytes(9)
    (134217728, 1500, 9)
    """
    size = None
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        size = int(value)
    elif isinstance(value, str) and (found := _SIZE.match(value)):
        number, prefix, binary = found.groups()
        power = "kmgt".find(prefix.lower()) + 1 if prefix else 0
        size = int(float(number) * (1024 if binary else 1000) ** power)
    if size is None or size < 1:
        raise UsageError(
            f"--exact-key-bytes must be a size such as 128MiB or 1GB (>= 1 byte); got {value!r}"
        )
    return size


def sketch_items(keys: list[bytes], partitions: list[int]) -> list[str]:
    """The frequent-items sketches' item for each key: its partition (4 bytes) and either the
    key itself or, past ``LONG_KEY`` bytes, its first ``SHOWN_PREFIX`` bytes and a digest
    of it, as Latin-1 text (one character per byte).

    >>> sketch_items([b"a"], [3])
    ['\\x00\\x00\\x00\\x03ka']
    """
    items = []
    for key, partition in zip(keys, partitions, strict=True):
        head = partition.to_bytes(4, "big", signed=True)
        if len(key) <= LONG_KEY:
            items.append((head + b"k" + key).decode("latin-1"))
        else:
            digest = hashlib.blake2b(key, digest_size=16).digest()
            tail = len(key).to_bytes(8, "big") + digest + key[:SHOWN_PREFIX]
            items.append((head + b"d" + tail).decode("latin-1"))
    return items


def _item_key(item: str) -> tuple[bytes, int, bool]:
    """An item's (key shown, partition, whether the key is a long key's prefix)."""
    raw = item.encode("latin-1")
    partition = int.from_bytes(raw[:4], "big", signed=True)
    if raw[4:5] == b"k":
        return raw[5:], partition, False
    return raw[5 + 8 + 16 :] + _ELLIPSIS, partition, True


def _datasketches():
    if not installed("datasketches"):
        error = missing_extra("sketch")
        raise UsageError(f"{error} (or raise --exact-keys)")
    import datasketches

    return datasketches


@dataclass(frozen=True)
class SketchedKeys:
    """What the sketches say at the end: candidate hot keys and the distinct-key estimates.

    ``keys`` has ``key, count, count_lower, count_upper, bytes, partition, digested``: every
    key that may be heavier than ``count_error`` events (no false negatives), with
    DataSketches' estimate and its bounds, and its partition. A key longer than
    ``LONG_KEY`` bytes was counted by digest: ``key`` is its first ``SHOWN_PREFIX`` bytes
    and "…", and ``digested`` is true. ``distinct`` is each partition's estimated distinct
    keys.
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
                partitions = partitions[kept]
        events, weights = self.events.update, self.bytes.update
        # Chunks of UPDATE_CHUNK keys or UPDATE_BYTES of them bound the Python objects alive.
        lengths = pc.binary_length(keys).fill_null(0).to_numpy(zero_copy_only=False)
        ends = np.cumsum(lengths, dtype=np.int64)
        first = 0
        while first < len(keys):
            last = min(first + UPDATE_CHUNK, len(keys))
            start = int(ends[first - 1]) if first else 0
            last = max(first + 1, min(last, int(np.searchsorted(ends, start + UPDATE_BYTES))))
            names = sketch_items(
                keys.slice(first, last - first).to_pylist(), partitions[first:last].tolist()
            )
            for name, count, size in zip(
                names, counts[first:last].tolist(), whole_bytes[first:last].tolist(), strict=True
            ):
                events(name, count)
                if size > 0:
                    weights(name, size)
            first = last

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
        shown = [_item_key(name) for name in names]
        keys = pa.table(
            {
                "key": pa.array([key for key, _, _ in shown], pa.binary()),
                "count": pa.array([item[1] for item in items], pa.int64()),
                "count_lower": pa.array([item[2] for item in items], pa.int64()),
                "count_upper": pa.array(
                    [item[3] + self.skipped_rounds for item in items], pa.int64()
                ),
                "bytes": pa.array(
                    [float(self.bytes.get_estimate(name)) for name in names], pa.float64()
                ),
                # The partition, as hashed from the whole key when it was counted (a long
                # key's shown prefix would hash elsewhere).
                "partition": pa.array([partition for _, partition, _ in shown], pa.int32()),
                "digested": pa.array([long for _, _, long in shown], pa.bool_()),
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
