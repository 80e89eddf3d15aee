"""The public functions: :func:`assign`, :func:`hash_keys` and :func:`partitioners`."""

from __future__ import annotations

import numpy as np

from partsim.errors import invalid_choice
from partsim.hashing import ALGORITHMS, hash_array
from partsim.partitioners import get_partitioner, partitioner_names
from partsim.serde import serialize_keys

__all__ = ["assign", "hash_keys", "partitioners"]


def assign(
    keys: object,
    partition_count: int,
    *,
    partitioner: str = "java",
    key_format: str = "string",
    schema_id: int | None = None,
    schema_type: str = "avro",
    key_schema: str | None = None,
    key_message: str | None = None,
    seed: int | None = None,
) -> np.ndarray:
    """The partition that a real producer would pick for each key, as an int32 array.

    ``keys`` is a list, tuple, numpy array, pandas Series or pyarrow Array of ``str``,
    ``bytes`` or ``None``; ``None`` is a Kafka null key under every ``key_format``. Keys are
    serialized as the client's serializer would (``key_format``, plus Confluent Schema
    Registry framing when ``schema_id`` is given), then hashed by the named client's
    partitioner; aliases are resolved.

    With a schema format (``avro``, ``json``, ``protobuf``, ``connect-json``,
    ``connect-json-schemaless``), ``key_schema`` is the schema's text or a path to it, and
    keys are values of its type, text the type converts (``"42"`` for a ``long``), or dicts
    for records; ``key_message`` picks the message of a ``.proto`` file. A key the schema
    cannot hold is a :class:`~partsim.errors.DataError`.

    Records that take the client's keyless path (null keys, and empty keys where the client
    treats them as null) get a partition drawn from a generator seeded with ``seed``. Text
    with a lone surrogate is encoded the way the client's runtime does (the partitioner's
    ``text_encoding``), in every format.

    >>> assign(["user-1", "user-2", ""], 12).tolist()
    [8, 8, 9]
    >>> assign(["user-1", "user-2"], 12, partitioner="librdkafka:consistent").tolist()
    [8, 10]
    >>> assign([42, "42"], 6, key_format="avro", key_schema='"long"', schema_id=3).tolist()
    [1, 1]
    """
    chosen = get_partitioner(partitioner)
    key_bytes = serialize_keys(keys, key_format, schema_id=schema_id, schema_type=schema_type,
                               key_schema=key_schema, key_message=key_message,
                               text_encoding=chosen.text_encoding)  # fmt: skip
    return chosen.assign(key_bytes, partition_count, np.random.default_rng(seed))


def hash_keys(
    keys: object,
    *,
    algorithm: str = "murmur2",
    key_format: str = "string",
    schema_id: int | None = None,
    schema_type: str = "avro",
    key_schema: str | None = None,
    key_message: str | None = None,
) -> np.ndarray:
    """The raw hash of each serialized key, as the reference implementation returns it.

    int32 (signed) for ``murmur2``, ``murmur2_kafkajs_legacy`` and ``java_string_hash``;
    uint32 for ``crc32``, ``fnv1a`` and ``murmur3``; Python ints (unsigned 128-bit) for
    ``md5``. A ``None`` key hashes as the empty key. Keys are serialized as :func:`assign`
    serializes them.

    >>> hash_keys(["21", "foobar"]).tolist()
    [-973932308, -790332482]
    """
    if algorithm not in ALGORITHMS:
        raise invalid_choice("algorithm", algorithm, ALGORITHMS)
    key_bytes = serialize_keys(keys, key_format, schema_id=schema_id, schema_type=schema_type,
                               key_schema=key_schema, key_message=key_message)  # fmt: skip
    return hash_array(key_bytes, algorithm)


def partitioners() -> list[str]:
    """The names of the registered partitioners (``assign`` also accepts their aliases)."""
    return partitioner_names()
