"""The placement stage: events and their partition ids, under one configuration or many.

A keyed record's partition is a function of its key bytes (the partitioner's hash, then its
sign rule and modulus: :meth:`partsim.partitioners.Partitioner.hashed_partitions`).
:class:`Placement` names one configuration (a key design, a partitioner and a partition
count, with the Schema Registry framing). :func:`place_many` places one batch's key bytes
under many configurations at once: partitioners that share an algorithm share one hash of
each key, and those that also share a sign rule and a partition count share one reduction,
so an extra partition count costs one reduction and a second client of the same algorithm
costs nothing but its keyless rule. A record
on the client's keyless path (a null key, or an empty key where the client treats it as
null) gets its partition from :func:`keyless_fill`: a counter-based draw keyed by the seed
and the record's position among keyless records, so a record's pick does not depend on how
the input was cut into batches.

A partition count that divides another costs no counting of its own (:func:`fold_sources`):
under the sign rules ``mask``, ``abs`` and ``unsigned`` a keyed record's partition is
``g(hash) mod n`` with ``g`` the same for every ``n``, so when ``n`` divides ``m`` its
partition under ``n`` is its partition under ``m``, mod ``n`` (:func:`fold_counts`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from partsim.events import Events
from partsim.hashing import KernelArray, _buffers, _kernels, hash_array, kernel_backend
from partsim.partitioners import Partitioner, get_partitioner, null_and_empty, reduce_hashes

__all__ = [
    "FOLDING_RULES",
    "Placed",
    "Placement",
    "fold_counts",
    "fold_sources",
    "frame",
    "keyless_fill",
    "pair_keys",
    "place",
    "place_many",
    "split_pairs",
]

#: The C kernel's code of each sign rule (``range`` stays in Python).
_RULES = {"mask": 0, "abs": 1, "unsigned": 2}
#: The sign rules that give ``g(hash) mod n`` (``range`` splits the hash space instead).
FOLDING_RULES = frozenset(_RULES)


@dataclass(frozen=True)
class Placement:
    """One configuration a run places every record under: the key design ``encoding`` (an
    index into the run's designs), Schema Registry ``framing`` (the bytes before each key's
    payload, ``b""`` without), the ``partitioner``'s name and the ``partition_count``."""

    encoding: int
    partitioner: str
    partition_count: int
    framing: bytes = b""

    @property
    def client(self) -> Partitioner:
        return get_partitioner(self.partitioner)


def frame(key_bytes: pa.Array, framing: bytes) -> pa.Array:
    """Keys with the framing put before each (a null key stays null)."""
    if not framing:
        return key_bytes
    if kernel_backend() == "c":  # in C: Arrow's join takes 3x as long
        from partsim.schemas.vectors import prefixed

        if isinstance(key_bytes, pa.ChunkedArray):
            key_bytes = key_bytes.combine_chunks()
        out = prefixed(key_bytes, framing, None)
        return out.cast(pa.large_binary()) if pa.types.is_large_binary(key_bytes.type) else out
    kind = key_bytes.type if pa.types.is_large_binary(key_bytes.type) else pa.binary()
    joined = pc.binary_join_element_wise(pa.scalar(framing, kind), key_bytes, pa.scalar(b"", kind))
    return joined.combine_chunks() if isinstance(joined, pa.ChunkedArray) else joined


#: A pair's header: a flags byte (1: the first key is null, 2: the second is) and the first
#: key's length, 4 bytes big-endian.
_PAIR_HEADER = 5


def pair_keys(first: pa.Array, second: pa.Array) -> pa.Array:
    """Each record's two keys (its bytes under two serializers) as one binary value that
    :func:`split_pairs` takes apart: a header, the first key and the second. The pair is
    null only where both keys are null.

    >>> pairs = pair_keys(pa.array([b"ab", None]), pa.array([b"xyz", b""]))
    >>> [side.to_pylist() for side in split_pairs(pairs)]
    [[b'ab', None], [b'xyz', b'']]
    """
    large = pa.types.is_large_binary(first.type) or pa.types.is_large_binary(second.type)
    kind = pa.large_binary() if large else pa.binary()
    first, second = first.cast(kind), second.cast(kind)
    first_null = first.is_null().to_numpy(zero_copy_only=False)
    second_null = second.is_null().to_numpy(zero_copy_only=False)
    both_null = first_null & second_null
    if kernel_backend() == "c":
        first, second = (side.combine_chunks() if isinstance(side, pa.ChunkedArray) else side
                         for side in (first, second))  # fmt: skip
        offsets, data, wide = _kernels.pair_keys(*KernelArray.of(first), *KernelArray.of(second))
        validity = pa.array(~both_null).buffers()[1] if both_null.any() else None
        pairs = pa.Array.from_buffers(
            pa.large_binary() if wide else pa.binary(), len(first),
            [validity, pa.py_buffer(offsets), pa.py_buffer(data)], int(both_null.sum()),
        )  # fmt: skip
        return pairs.cast(kind) if large and not wide else pairs
    header = np.zeros((len(first), _PAIR_HEADER), dtype=np.uint8)
    header[:, 0] = first_null + 2 * second_null
    lengths = pc.binary_length(first).fill_null(0).to_numpy(zero_copy_only=False)
    header[:, 1:] = lengths.astype(">u4").view(np.uint8).reshape(-1, 4)
    heads = pa.FixedSizeBinaryArray.from_buffers(
        pa.binary(_PAIR_HEADER), len(first), [None, pa.py_buffer(header.tobytes())]
    ).cast(kind)
    empty = pa.scalar(b"", kind)
    joined = pc.binary_join_element_wise(heads, first.fill_null(empty), second.fill_null(empty),
                                         empty)  # fmt: skip
    if not both_null.any():
        return joined
    return pc.if_else(pa.array(both_null), pa.scalar(None, kind), joined)


def split_pairs(pairs: pa.Array | pa.ChunkedArray) -> tuple[pa.Array, pa.Array]:
    """The two keys of each pair made by :func:`pair_keys` (a null pair: both null)."""
    if isinstance(pairs, pa.ChunkedArray):
        pairs = pairs.combine_chunks()
    count, large = len(pairs), pa.types.is_large_binary(pairs.type)
    if kernel_backend() == "c":
        first_offsets, first, second_offsets, second, flags = _kernels.split_pairs(
            *KernelArray.of(pairs)
        )
        flags = np.frombuffer(flags, dtype=np.uint8)
        return tuple(_from_buffers(offsets, data, (flags & bit) > 0, large)
                     for offsets, data, bit in ((first_offsets, first, 1),
                                                (second_offsets, second, 2)))  # fmt: skip
    offsets, data = _buffers(pairs)
    starts, ends = offsets[:-1], offsets[1:]
    whole = ends - starts >= _PAIR_HEADER  # a null pair has no bytes
    at = np.where(whole, starts, 0)[:, None] + np.arange(_PAIR_HEADER)
    header = data[at] if len(data) else np.zeros((count, _PAIR_HEADER), dtype=np.uint8)
    flags = np.where(whole, header[:, 0], 3)
    first_length = np.where(whole, header[:, 1:].copy().view(">u4")[:, 0], 0).astype(np.int64)
    first_start = starts + _PAIR_HEADER
    second_start = first_start + first_length
    second_length = np.where(whole, ends - second_start, 0)
    return (_gather(data, first_start, first_length, (flags & 1) > 0, large),
            _gather(data, second_start, second_length, (flags & 2) > 0, large))  # fmt: skip


def _from_buffers(offsets: bytes, data: bytes, null: np.ndarray, large: bool) -> pa.Array:
    """A binary array from int64 offsets and data (``large``: large_binary, as it is when
    the data passes 2 GiB)."""
    validity = pa.array(~null).buffers()[1] if null.any() else None
    out = pa.Array.from_buffers(pa.large_binary(), len(null),
                                [validity, pa.py_buffer(offsets), pa.py_buffer(data)],
                                int(null.sum()))  # fmt: skip
    return out.cast(pa.binary()) if not large and len(data) < 2**31 else out


def _gather(data: np.ndarray, starts: np.ndarray, lengths: np.ndarray, null: np.ndarray,
            large: bool) -> pa.Array:  # fmt: skip
    """A binary array of the byte ranges ``starts``/``lengths`` of ``data`` (in order, not
    overlapping), taken with a byte mask rather than a per-byte index."""
    lengths = np.where(null, 0, lengths)
    offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    edges = np.zeros(len(data) + 1, dtype=np.int8)
    np.add.at(edges, starts[lengths > 0], 1)
    np.add.at(edges, (starts + lengths)[lengths > 0], -1)
    picked = data[np.cumsum(edges[:-1], dtype=np.int8).view(bool)]
    return _from_buffers(offsets.tobytes(), picked.tobytes(), null, large)


def reduced(hashes: np.ndarray, sign_rule: str, partition_count: int) -> np.ndarray:
    """:func:`partsim.partitioners.reduce_hashes`, in C where the kernel is built."""
    if sign_rule in _RULES and kernel_backend() == "c" and hashes.dtype.itemsize == 4:
        out = np.empty(len(hashes), dtype=np.int32)
        _kernels.reduce_hashes(
            np.ascontiguousarray(hashes).view(np.uint32), _RULES[sign_rule], partition_count, out
        )
        return out
    return reduce_hashes(hashes, sign_rule, partition_count)


def place_many(
    key_bytes: pa.Array,
    clients: Sequence[tuple[Partitioner, int]],
    need: Sequence[bool] | None = None,
) -> list[tuple[np.ndarray | None, np.ndarray]]:
    """The hashed partition of each key and the keyless mask, as
    :meth:`~partsim.partitioners.Partitioner.hashed_partitions` gives them, under each
    ``(partitioner, partition_count)``; one hash per algorithm, one reduction per algorithm,
    sign rule and count. The partition arrays and keyless masks may be shared between results:
    copy one before changing it. Where ``need`` is false the partitions are not computed
    (None): the caller takes them from another count (:func:`fold_sources`)."""
    count = len(key_bytes)
    nulls = empties = None
    hashes: dict[str, np.ndarray] = {}
    reductions: dict[tuple[str, str, int], np.ndarray] = {}
    masks: dict[tuple, np.ndarray] = {}
    out = []
    for partitioner, partition_count in clients:
        if partitioner.ignores_keys:
            out.append((np.zeros(count, dtype=np.int32), np.ones(count, dtype=bool)))
            continue
        if nulls is None:
            nulls, empties = null_and_empty(key_bytes)
        rule = (partitioner.null_key, partitioner.empty_key, partitioner.hashes_null_as_empty)
        if rule not in masks:  # clients with the same rule share one mask
            masks[rule] = partitioner.keyless_of(nulls, empties)
        keyless = masks[rule]
        algorithm = partitioner.algorithm
        if algorithm not in hashes:
            hashes[algorithm] = hash_array(key_bytes, algorithm)  # nulls hash as empty keys
        if need is not None and not need[len(out)]:
            out.append((None, keyless))
            continue
        reduction = (algorithm, partitioner.sign_rule, partition_count)
        if reduction not in reductions:
            reductions[reduction] = reduced(
                hashes[algorithm], partitioner.sign_rule, partition_count
            )
        out.append((reductions[reduction], keyless))
    return out


def fold_sources(
    placements: Sequence[Placement], exclude: Sequence[int] = ()
) -> tuple[int | None, ...]:
    """Per placement, the placement whose keyed counts it can be folded from (None: it counts
    its own). Placement ``d`` folds from ``s`` when both place the same key bytes (encoding and
    framing) with the same hash, a sign rule of :data:`FOLDING_RULES` and the same keyless
    rule (the same records hashed), and ``s``'s count is a multiple of ``d``'s: the largest
    such ``s``, which folds from nothing. Placements in ``exclude`` neither fold nor are
    folded from."""

    def group(placement: Placement):
        client = placement.client
        if client.ignores_keys or client.algorithm is None:
            return None
        if client.sign_rule not in FOLDING_RULES:
            return None
        return (placement.encoding, placement.framing, client.algorithm, client.sign_rule,
                client.null_key, client.empty_key, client.hashes_null_as_empty)  # fmt: skip

    groups = [None if number in exclude else group(p) for number, p in enumerate(placements)]
    sources: list[int | None] = []
    for number, placement in enumerate(placements):
        count, best = placement.partition_count, None
        for other, candidate in enumerate(placements):
            larger = candidate.partition_count
            if (groups[number] is None or groups[other] != groups[number]
                    or larger <= count or larger % count):  # fmt: skip
                continue
            if best is None or larger > placements[best].partition_count:
                best = other
        sources.append(best)
    return tuple(sources)


def fold_counts(values: np.ndarray, partition_count: int) -> np.ndarray:
    """Per-partition counts (the last axis, a multiple of ``partition_count`` long) summed
    onto ``partition_count`` partitions: partition ``p`` goes to ``p mod partition_count``.

    >>> fold_counts(np.array([1, 2, 3, 4, 5, 6]), 2).tolist()
    [9, 12]
    """
    width = values.shape[-1]
    shape = (*values.shape[:-1], width // partition_count, partition_count)
    return values.reshape(shape).sum(axis=-2)


@dataclass(frozen=True)
class Placed:
    """One batch's events with the partitions their keys hash to (:func:`place`). The keyless
    records' partitions are picked later, in order (:func:`keyless_fill`)."""

    events: Events
    partitions: np.ndarray  # int32, one per event; for a keyless record, a placeholder
    keyless: np.ndarray  # bool, one per event: the record takes the keyless path


def place(events: Events, partitioner: Partitioner, partition_count: int) -> Placed:
    """The events with their keys' partitions (keyless records marked, not yet placed)."""
    partitions, keyless = place_many(events.key_bytes, [(partitioner, partition_count)])[0]
    return Placed(events, partitions, keyless)


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
