"""Keys with a schema: the bytes Schema Registry serializers and Kafka Connect converters
write, one module per format.

============================  ==========================================================
``avro``                      :mod:`~partsim.schemas.avro`: Avro binary
``json``                      :mod:`~partsim.schemas.json_schema`: compact JSON
``protobuf``                  :mod:`~partsim.schemas.protobuf`: message indexes + message
``connect-json``              :mod:`~partsim.schemas.connect`: ``JsonConverter`` envelope
``connect-json-schemaless``   :mod:`~partsim.schemas.connect`: the bare JSON value
============================  ==========================================================

With a ``schema_id``, the Schema Registry formats get Confluent's frame: ``00``, the id in 4
bytes big-endian, then (Protobuf only) the message-index list; without one the payload is
hashed as it is (the plain Avro or JSON serializers). Connect's converters write no frame.

:class:`KeySchema` is the configured serializer: built once (:func:`key_schema`), then
called on whole arrays of keys (:meth:`KeySchema.encode`), which returns the key bytes and
the keys the schema cannot hold, so that a caller counts and skips them or fails.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pyarrow as pa

from partsim.errors import DataError, UsageError, invalid_choice, missing_column
from partsim.schemas.values import (
    TEXT_ENCODINGS,
    Unrepresentable,
    describe,
    surrogate_rows,
    text_rule,
    text_values,
)

__all__ = [
    "SCHEMA_FORMATS",
    "Encoded",
    "KeyFormat",
    "KeySchema",
    "frame",
    "key_schema",
    "read_schema_text",
]

SCHEMA_FORMATS: tuple[str, ...] = (
    "avro",
    "json",
    "protobuf",
    "connect-json",
    "connect-json-schemaless",
)
#: The formats whose serializer writes the Schema Registry frame when given an id.
FRAMED = ("avro", "json", "protobuf")
#: Formats that cannot work without a schema.
NEEDS_SCHEMA = ("avro", "json", "protobuf")


def frame(schema_id: int, message_indexes: Sequence[int] | None = None) -> bytes:
    """Confluent's wire-format prefix: ``00``, the 4-byte big-endian id, and for Protobuf
    the message-index list (see confluentinc/schema-registry ``SchemaId.java``).

    >>> frame(7).hex(), frame(7, [0]).hex(), frame(7, [1, 2]).hex()
    ('0000000007', '000000000700', '0000000007040204')
    """
    if isinstance(schema_id, bool) or not isinstance(schema_id, (int, np.integer)):
        raise UsageError(f"schema_id must be an integer from 0 to 2147483647; got {schema_id!r}")
    if not 0 <= int(schema_id) <= 0x7FFFFFFF:
        raise UsageError(f"schema_id must be an integer from 0 to 2147483647; got {schema_id!r}")
    prefix = b"\x00" + int(schema_id).to_bytes(4, "big")
    if message_indexes is not None:
        from partsim.schemas.protobuf import message_indexes_bytes

        prefix += message_indexes_bytes(message_indexes)
    return prefix


class Encoded(NamedTuple):
    """Key bytes (an Arrow binary array; null where the key is null or unrepresentable), the
    mask of keys the schema cannot hold (None when all can), and the first few reasons."""

    keys: pa.Array
    bad: np.ndarray | None
    reasons: list[str]

    @property
    def bad_count(self) -> int:
        return 0 if self.bad is None else int(self.bad.sum())

    def checked(self, key_format: str) -> pa.Array:
        """The key bytes, or a :class:`DataError` naming the first key the schema cannot
        hold."""
        if self.bad is not None:
            raise DataError(
                f"key_format {key_format!r}: {self.bad_count} key(s) the key schema cannot "
                f"hold, such as: {self.reasons[0]}"
            )
        return self.keys


def read_schema_text(value: str, option: str = "--key-schema") -> str:
    """A schema given as a file path or as inline text (JSON, or ``.proto`` text)."""
    stripped = value.strip()
    if stripped[:1] in ("{", "[", '"') or "message " in stripped or "syntax" in stripped:
        return value
    if os.path.isfile(value):
        try:
            with open(value, encoding="utf-8") as handle:
                return handle.read()
        except (OSError, UnicodeDecodeError) as error:
            raise UsageError(f"{option}: cannot read {value!r}: {error}") from None
    if stripped in ("string", "bytes", "int", "long", "float", "double", "boolean", "null"):
        raise UsageError(
            f"{option}: {value!r} is neither a file nor schema text; an Avro primitive schema "
            f"is JSON text with its quotes: '\"{stripped}\"'"
        )
    raise UsageError(f"{option}: no such file, and not schema text: {value!r}")


@dataclass(frozen=True, eq=False)
class KeySchema:
    """A key serializer with a schema, configured once.

    ``codec`` is the parsed schema (:class:`~partsim.schemas.avro.AvroSchema`, ...);
    ``prefix`` is what precedes every payload (the frame, or nothing).
    """

    key_format: str
    codec: object
    schema_id: int | None
    prefix: bytes

    @property
    def is_record(self) -> bool:
        """True when the key is a record, struct, object or message (its fields come from
        the input's columns of the same names)."""
        return bool(self.codec.is_record)  # type: ignore[attr-defined]

    @property
    def message_indexes(self) -> tuple[int, ...] | None:
        return getattr(self.codec, "indexes", None)

    def fields(self) -> list[tuple[tuple[str, ...], bool]]:
        """The record's leaf fields as (path, required) pairs."""
        return self.codec.fields()  # type: ignore[attr-defined]

    def display(self, key: bytes | None) -> str:
        """A key's bytes as readable text: the payload after the frame, decoded by the
        schema (JSON text as it is; Avro and Protobuf decoded, shown as JSON)."""
        if key is None:
            return "(null)"
        payload = key[len(self.prefix) :] if key.startswith(self.prefix) else key
        decode = getattr(self.codec, "display", None)
        if decode is not None:
            return decode(payload)
        return payload.decode("utf-8", "backslashreplace")

    def encode_one(self, value: object) -> bytes | None:
        """One key's bytes (None for a null key); raises :class:`Unrepresentable`."""
        if value is None:
            return None
        return self.prefix + self.codec.payload(value)  # type: ignore[attr-defined]

    def encode(self, keys: object, text_encoding: str = "jdk") -> Encoded:
        """Every key's bytes; a ``None`` key stays a Kafka null key. Text that holds a lone
        UTF-16 surrogate is written by the client's rule ``text_encoding``
        (:data:`~partsim.schemas.values.TEXT_ENCODINGS`)."""
        with text_rule(text_encoding):
            return self._encode(keys)

    def _encode(self, keys: object) -> Encoded:
        if isinstance(keys, pa.ChunkedArray):
            keys = keys.combine_chunks()
        if isinstance(keys, pa.Array) and pa.types.is_dictionary(keys.type):
            keys = keys.dictionary_decode()
        if isinstance(keys, pa.Array) and _has_surrogates(keys):
            keys = text_values(keys)  # one by one: the vectorized writers copy text's bytes
        if isinstance(keys, pa.Array):
            fast = self.codec.payloads(keys, self.prefix)  # type: ignore[attr-defined]
            if fast is not None:
                out, bad = fast
                reasons: list[str] = []
                if bad.any():
                    reasons = self._reasons(keys.filter(pa.array(bad)).to_pylist()[:5])
                return Encoded(out, bad if bad.any() else None, reasons)
            values = keys.to_pylist()
        else:
            values = list(keys)  # type: ignore[call-overload]
        out_values: list[bytes | None] = []
        bad_rows: list[int] = []
        reasons = []
        for row, value in enumerate(values):
            try:
                out_values.append(self.encode_one(value))
            except Unrepresentable as error:
                out_values.append(None)
                bad_rows.append(row)
                if len(reasons) < 5:
                    reasons.append(str(error))
            except RecursionError:
                out_values.append(None)
                bad_rows.append(row)
                if len(reasons) < 5:
                    reasons.append(f"{describe(value)} nests too deep")
        mask = None
        if bad_rows:
            mask = np.zeros(len(values), dtype=bool)
            mask[bad_rows] = True
        return Encoded(pa.array(out_values, type=pa.binary()), mask, reasons)

    def _reasons(self, values: list[object]) -> list[str]:
        out = []
        for value in values:
            try:
                self.encode_one(value)
            except Unrepresentable as error:
                out.append(str(error))
            else:  # the vectorized check is stricter than one value's (never expected)
                out.append(f"{describe(value)} cannot be held by the key schema")
        return out

    def summary(self) -> dict:
        """The facts a report states about this serializer."""
        out: dict = {"key_format": self.key_format, "schema_id": self.schema_id}
        indexes = self.message_indexes
        if indexes is not None:
            out["message_indexes"] = list(indexes)
            out["key_message"] = self.codec.message.name  # type: ignore[attr-defined]
        return out


def key_schema(
    key_format: str,
    key_schema: str | None = None,
    *,
    schema_id: int | None = None,
    key_message: str | None = None,
) -> KeySchema:
    """The serializer for ``key_format`` with its schema (text, or a path to a file).

    >>> key_schema("avro", '"long"', schema_id=3).encode_one(42).hex()
    '000000000354'
    """
    if key_format not in SCHEMA_FORMATS:
        raise invalid_choice("key_format", key_format, SCHEMA_FORMATS)
    text = read_schema_text(key_schema) if key_schema is not None else None
    return _build(key_format, text, schema_id, key_message)


@functools.lru_cache(maxsize=64)
def _build(
    key_format: str, text: str | None, schema_id: int | None, key_message: str | None
) -> KeySchema:
    if text is None and key_format in NEEDS_SCHEMA:
        raise UsageError(
            f"key_format {key_format!r} needs a key schema (--key-schema FILE or text, or "
            "--schema-registry with --key-subject)"
        )
    if key_message is not None and key_format != "protobuf":
        raise UsageError("--key-message names a message of a .proto key schema; "
                         f"key_format is {key_format!r}")  # fmt: skip
    if schema_id is not None and key_format not in FRAMED:
        raise UsageError(
            f"--schema-id: Kafka Connect's converters write no Schema Registry frame; "
            f"key_format {key_format!r} takes no schema id"
        )
    codec: object
    if key_format == "avro":
        from partsim.schemas.avro import AvroSchema

        codec = AvroSchema.parse(text)  # type: ignore[arg-type]
    elif key_format == "json":
        from partsim.schemas.json_schema import JsonSchema

        codec = JsonSchema.parse(text)  # type: ignore[arg-type]
    elif key_format == "protobuf":
        from partsim.schemas.protobuf import ProtobufSchema

        codec = ProtobufSchema.parse(text, key_message)  # type: ignore[arg-type]
    else:
        from partsim.schemas.connect import ConnectSchema

        codec = ConnectSchema.parse(text, envelope=key_format == "connect-json")
    prefix = b""
    if schema_id is not None:
        prefix = frame(schema_id, getattr(codec, "indexes", None))
    return KeySchema(key_format, codec, schema_id, prefix)


def _has_surrogates(keys: pa.Array) -> bool:
    """True for a string array with a value that holds a lone surrogate (kept by partsim's
    readers as its generalized UTF-8)."""
    if not (pa.types.is_string(keys.type) or pa.types.is_large_string(keys.type)):
        return False
    return bool(len(surrogate_rows(keys)))


# ------------------------------------------------------------------ records from columns
def column_plan(schema: KeySchema, available: Sequence[str]) -> list[tuple[tuple[str, ...], str]]:
    """Which input column feeds each field of a record key: the column of the field's name
    (dotted for a nested field, ``address.city``), or a column of the top-level name that
    holds the whole nested value (a struct, or JSON text). Optional fields may have no
    column; a required field without one is a :class:`UsageError`."""
    names = set(available)
    plan: list[tuple[tuple[str, ...], str]] = []
    whole: set[str] = set()
    for path, required in schema.fields():
        dotted = ".".join(path)
        if dotted in names:
            plan.append((path, dotted))
        elif len(path) > 1 and path[0] in names:
            if path[0] not in whole:
                whole.add(path[0])
                plan.append((path[:1], path[0]))
        elif required:
            what = f"the key's field {dotted!r} needs a column of that name"
            raise missing_column("--key-schema", dotted, available, what)
    if not plan:
        raise UsageError(
            "--key-schema: no column of the input has the name of a field of the key "
            f"({', '.join('.'.join(p) for p, _ in schema.fields())}); "
            f"available columns: {', '.join(available) or '(none)'}"
        )
    return plan


def record_values(
    table: pa.RecordBatch | pa.Table, plan: list[tuple[tuple[str, ...], str]]
) -> list[dict]:
    """One dict per row, nested by the plan's field paths; a nested record whose columns
    are all null is null."""
    columns = {column: table.column(column).to_pylist() for _, column in plan}
    rows: list[dict] = []
    nested = any(len(path) > 1 for path, _ in plan)
    for row in range(table.num_rows):
        record: dict = {}
        for path, column in plan:
            target = record
            for part in path[:-1]:
                target = target.setdefault(part, {})
            target[path[-1]] = columns[column][row]
        rows.append(_prune(record) if nested else record)
    return rows


def _prune(record: dict) -> dict:
    for name, value in record.items():
        if isinstance(value, dict):
            value = _prune(value)
            record[name] = None if all(item is None for item in value.values()) else value
    return record


# ------------------------------------------------------------------- the producer's option
@dataclass(frozen=True)
class KeyFormat:
    """How the producer serializes its keys: the format, its schema (text), the Schema
    Registry id, and where the schema came from. Small and picklable: it travels with a plan
    to worker processes, and builds its :class:`KeySchema` where it is used.

    ``schema_type`` frames a raw format's bytes (``string`` and the like) when ``schema_id``
    is given; schema formats frame their own payload. ``text_encoding`` is the producing
    client's rule for text that holds a lone surrogate, in every format.
    """

    key_format: str = "string"
    key_schema: str | None = None
    schema_id: int | None = None
    schema_type: str = "avro"
    key_message: str | None = None
    registry: tuple[tuple[str, object], ...] = ()  # subject, version, schema_id, schema_type
    #: How the client's runtime writes text with a lone surrogate (its partitioner's rule).
    text_encoding: str = "jdk"

    def __post_init__(self) -> None:
        if self.text_encoding not in TEXT_ENCODINGS:
            raise invalid_choice("text_encoding", self.text_encoding, tuple(TEXT_ENCODINGS))

    @property
    def is_schema(self) -> bool:
        return self.key_format in SCHEMA_FORMATS

    def serializer(self) -> KeySchema | None:
        """The configured schema serializer (None for a raw format)."""
        if self.key_format in SCHEMA_FORMATS:
            return key_schema(self.key_format, self.key_schema, schema_id=self.schema_id,
                              key_message=self.key_message)  # fmt: skip
        if self.key_schema is not None or self.key_message is not None:
            raise UsageError(
                f"--key-schema needs a schema key format ({', '.join(SCHEMA_FORMATS)}); "
                f"key_format is {self.key_format!r}"
            )
        return None

    def prefix(self) -> bytes:
        """What precedes every key's payload: the Schema Registry frame (with the message
        indexes for Protobuf), or nothing without a schema id."""
        serializer = self.serializer()
        if serializer is not None:
            return serializer.prefix
        if self.schema_id is None:
            return b""
        return frame(self.schema_id, [0] if self.schema_type == "protobuf" else None)

    def summary(self) -> dict:
        """The facts a report states about the key serializer."""
        out: dict = {"key_format": self.key_format, "schema_id": self.schema_id}
        serializer = self.serializer()
        if serializer is not None:
            out.update(serializer.summary())
        if self.registry:
            out["registry"] = dict(self.registry)
        return out
