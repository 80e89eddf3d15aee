"""Recognizing key bytes read from a topic: Schema Registry framing, its ids, and the format
of the payload when the bytes tell it.

A framed key starts with the magic byte ``00`` and a 4-byte big-endian schema id
(confluentinc/schema-registry ``SchemaId.java``). The payload's format shows when:

- it is JSON text (``{"id":42}``): the JSON Schema serializer (``json``);
- it is a message-index list then a protobuf message that reads to its last byte, with at
  least one field (``protobuf``);
- otherwise binary: ``avro``, the only other Schema Registry format (Avro binary carries
  no marks of its own, so this is the remainder, not a proof).

Unframed keys that are a ``{"schema":...,"payload":...}`` envelope are Kafka Connect's
``JsonConverter`` (``connect-json``); other JSON text is ``json`` (``connect-json-schemaless``
or a plain JSON serializer).
"""

from __future__ import annotations

import json
from collections import Counter

import pyarrow as pa
import pyarrow.compute as pc

from partsim.schemas.values import read_varint

__all__ = ["recognize_key_counts", "recognize_keys"]

#: Distinct keys read to tell formats: enough to see a format, bounded on huge samples.
MAX_DISTINCT = 20_000
#: How many schema ids the summary lists.
TOP_IDS = 10


def _varint(data: bytes, at: int) -> tuple[int, int] | None:
    try:
        return read_varint(data, at)
    except ValueError:
        return None


def _is_protobuf(payload: bytes) -> bool:
    """A message-index list, then a wire-format message with one field or more that ends
    exactly at the last byte."""
    first = _varint(payload, 0)
    if first is None:
        return False
    count, at = (first[0] >> 1) ^ -(first[0] & 1), first[1]
    if count < 0 or count > 32:  # 0 is the one-byte [0]
        return False
    for _ in range(count):
        index = _varint(payload, at)
        if index is None:
            return False
        at = index[1]
    fields = 0
    while at < len(payload):
        tag = _varint(payload, at)
        if tag is None or tag[0] >> 3 == 0:
            return False
        wire, at = tag[0] & 7, tag[1]
        if wire == 0:
            value = _varint(payload, at)
            if value is None:
                return False
            at = value[1]
        elif wire == 1:
            at += 8
        elif wire == 5:
            at += 4
        elif wire == 2:
            length = _varint(payload, at)
            if length is None:
                return False
            at = length[1] + length[0]
        else:
            return False
        if at > len(payload):
            return False
        fields += 1
    return fields > 0


def _json(payload: bytes) -> object:
    if not payload or payload[:1] not in b'{["-0123456789tfn':
        return None
    try:
        return json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None


def _payload_format(payload: bytes) -> str:
    if _json(payload) is not None or payload == b"null":
        return "json"
    if _is_protobuf(payload):
        return "protobuf"
    return "avro"


def _unframed_format(key: bytes) -> str | None:
    value = _json(key)
    if isinstance(value, dict) and set(value) == {"schema", "payload"}:
        return "connect-json"
    if value is not None:
        return "json"
    return None


def recognize_keys(keys: pa.Array | pa.ChunkedArray) -> dict:
    """What the keyed records' bytes say about their serializer: the share of keys framed by
    a Schema Registry serializer, each schema id with its share and format (None when its
    keys look like more than one), and the format of unframed JSON keys.

    >>> recognize_keys(pa.array([b"\\x00\\x00\\x00\\x00\\x07\\x54", b"user-1"]))["framed_share"]
    0.5
    """
    if isinstance(keys, pa.ChunkedArray):
        keys = keys.combine_chunks()
    keys = keys.drop_null()
    if pa.types.is_string(keys.type) or pa.types.is_large_string(keys.type):
        keys = keys.cast(pa.binary())
    if not len(keys):
        return recognize_key_counts([], [])
    counts = pc.value_counts(keys)
    return recognize_key_counts(counts.field("values").to_pylist(),
                                counts.field("counts").to_pylist())  # fmt: skip


def recognize_key_counts(values: list[bytes], weights: list[int]) -> dict:
    """:func:`recognize_keys` on distinct keys with their record counts, in order of first
    appearance (that order breaks ties between equally frequent keys and ids)."""
    out: dict = {"framed_share": 0.0, "schema_ids": [], "unframed_json": None}
    if not values:
        return out
    order = sorted(range(len(values)), key=lambda i: -weights[i])[:MAX_DISTINCT]
    by_id: Counter[int] = Counter()
    formats: dict[int, Counter[str]] = {}
    unframed: Counter[str] = Counter()
    for i in order:
        key, weight = values[i], weights[i]
        if len(key) >= 5 and key[0] == 0:
            schema_id = int.from_bytes(key[1:5], "big")
            by_id[schema_id] += weight
            formats.setdefault(schema_id, Counter())[_payload_format(key[5:])] += weight
        else:
            kind = _unframed_format(key)
            if kind is not None:
                unframed[kind] += weight
    seen = sum(weights[i] for i in order)
    framed = sum(by_id.values())
    out["framed_share"] = framed / seen
    for schema_id, weight in by_id.most_common(TOP_IDS):
        kinds = formats[schema_id]
        top, top_weight = kinds.most_common(1)[0]
        # One format for all of an id's keys, or the id's format is not told.
        fmt = top if top_weight == weight else None
        if (
            fmt == "avro"
            and len(kinds) == 1
            and all(
                len(values[i]) == 5
                for i in order
                if values[i][:1] == b"\x00" and int.from_bytes(values[i][1:5], "big") == schema_id
            )
        ):
            fmt = None  # empty payloads only: nothing to tell by
        out["schema_ids"].append({"schema_id": schema_id, "share": weight / seen, "format": fmt})
    if unframed:
        kind, weight = unframed.most_common(1)[0]
        out["unframed_json"] = {"format": kind, "share": weight / seen}
    if len(order) < len(values):
        out["distinct_keys_read"] = len(order)
    return out
