"""The placement stage: events and their partition ids.

A keyed record's partition is a function of its key bytes (the partitioner's hash, then its
sign rule and modulus: :meth:`partsim.partitioners.Partitioner.hashed_partitions`). A record
on the client's keyless path (a null key, or an empty key where the client treats it as
null) gets its partition from :func:`keyless_fill`: a counter-based draw keyed by the seed
and the record's position among keyless records, so a record's pick does not depend on how
the input was cut into batches.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from partsim.events import Events
from partsim.partitioners import Partitioner

__all__ = ["Placed", "keyless_fill", "place"]


@dataclass(frozen=True)
class Placed:
    """One batch's events with the partitions their keys hash to (:func:`place`). The keyless
    records' partitions are picked later, in order (:func:`keyless_fill`)."""

    events: Events
    partitions: np.ndarray  # int32, one per event; for a keyless record, a placeholder
    keyless: np.ndarray  # bool, one per event: the record takes the keyless path


def place(events: Events, partitioner: Partitioner, partition_count: int) -> Placed:
    """The events with their keys' partitions (keyless records marked, not yet placed)."""
    partitions, keyless = partitioner.hashed_partitions(events.key_bytes, partition_count)
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
