"""Avro keys: the binary encoding of the Avro specification, as Confluent's serializers write
the payload after the Schema Registry frame.

Reproduces the Avro specification's binary encoding (apache/avro ``doc/content/en/docs/
++version++/Specification``, "Binary Encoding"), which Java's ``KafkaAvroSerializer``
(confluentinc/schema-registry ``avro-serializer``, through Apache Avro's ``BinaryEncoder``) and
Python's ``AvroSerializer`` (confluentinc/confluent-kafka-python, through fastavro's
``schemaless_writer``) write:

- ``int`` and ``long``: zigzag varint (42 is ``54``, -1 is ``01``);
- ``string`` and ``bytes``: the length as a zigzag varint, then the bytes (``user-42`` is
  ``0e 75 73 65 72 2d 34 32``); but a key whose whole schema is ``"bytes"`` is written as
  the bytes alone, with no length, by both serializers;
- ``boolean``: one byte; ``float`` and ``double``: IEEE 754 little-endian;
- a record: its fields in order; an enum: the symbol's index; a union: the branch's index,
  then the value; an array or map: blocks of items ending with a zero count; ``fixed``: the
  bytes;
- logical types: ``uuid`` is its string; ``date`` days since 1970-01-01 as an int;
  ``time-millis``/``time-micros`` and ``timestamp-*``/``local-timestamp-*`` counts as int or
  long; ``decimal`` the unscaled value in big-endian two's complement, in the fewest bytes
  (as Java's ``BigInteger.toByteArray``, which Avro's ``Conversions.DecimalConversion``
  writes; fastavro writes one more byte for a negative value of exactly -2**(8k-1)), or
  sign-extended to the ``fixed`` size.

A union picks its branch as fastavro does for a Python value: the first branch the value
is an instance of (a record with the most matching fields, ``double`` over ``float``).
Text that fits no branch as it is takes the first branch that converts it (``"42"`` in
``["null", "long"]`` is the long 42).

Null: a ``None`` key is a Kafka null key (the serializers return null for null); a null
*field* needs a union with ``null``.
"""

from __future__ import annotations

import decimal
import json
import struct
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from partsim.errors import UsageError
from partsim.schemas import values as conv
from partsim.schemas.values import Unrepresentable, describe
from partsim.schemas.vectors import integers, prefixed, varints

__all__ = ["AvroSchema", "parse_avro"]

PRIMITIVES = ("null", "boolean", "int", "long", "float", "double", "bytes", "string")
NAMED = ("record", "error", "enum", "fixed")
_NO_DEFAULT = object()


@dataclass(eq=False)
class Node:
    """One Avro type of a parsed schema."""

    kind: str
    logical: str | None = None
    name: str | None = None  # full name of a named type
    fields: list[tuple[str, Node, object]] = field(default_factory=list)  # name, type, default
    symbols: tuple[str, ...] = ()
    items: Node | None = None  # array items, map values
    branches: list[Node] = field(default_factory=list)
    size: int = 0
    precision: int | None = None
    scale: int = 0


# ----------------------------------------------------------------------------- parsing
def parse_avro(schema: str | object) -> Node:
    """Parse Avro schema JSON (text or the decoded object); raise a :class:`UsageError`
    naming what is wrong.

    >>> parse_avro('"long"').kind
    'long'
    """
    if isinstance(schema, str):
        try:
            schema = json.loads(schema)
        except json.JSONDecodeError as error:
            raise UsageError(f"--key-schema is not valid Avro schema JSON: {error}") from None
    return _Parser().parse(schema, "")


class _Parser:
    def __init__(self) -> None:
        self.named: dict[str, Node] = {}

    def fullname(self, name: str, namespace: str | None, enclosing: str) -> str:
        if "." in name:
            return name
        space = namespace if namespace is not None else enclosing
        return f"{space}.{name}" if space else name

    def parse(self, schema: object, namespace: str) -> Node:
        if isinstance(schema, str):
            if schema in PRIMITIVES:
                return Node(schema)
            for candidate in (self.fullname(schema, None, namespace), schema):
                if candidate in self.named:
                    return self.named[candidate]
            raise UsageError(f"--key-schema: unknown Avro type {schema!r}")
        if isinstance(schema, list):
            return Node("union", branches=[self.parse(branch, namespace) for branch in schema])
        if not isinstance(schema, dict) or "type" not in schema:
            raise UsageError(f"--key-schema: not an Avro schema: {describe(schema)}")
        kind = schema["type"]
        if not isinstance(kind, str):  # {"type": {"type": "string"}} or a union
            return self.parse(kind, namespace)
        logical = schema.get("logicalType")
        if kind in PRIMITIVES:
            node = Node(kind, logical=logical)
            if logical == "decimal" and kind == "bytes":
                self.decimal(node, schema)
            return node
        if kind in NAMED:
            if not isinstance(schema.get("name"), str):
                raise UsageError(f"--key-schema: an Avro {kind} needs a name")
            fullname = self.fullname(schema["name"], schema.get("namespace"), namespace)
            space = fullname.rpartition(".")[0]
            node = Node("record" if kind == "error" else kind, logical=logical, name=fullname)
            self.named[fullname] = node
            if kind in ("record", "error"):
                fields = schema.get("fields")
                if not isinstance(fields, list):
                    raise UsageError(f"--key-schema: record {fullname} needs a list of fields")
                for entry in fields:
                    if not isinstance(entry, dict) or "name" not in entry or "type" not in entry:
                        raise UsageError(f"--key-schema: a field of {fullname} needs a name "
                                         "and a type")  # fmt: skip
                    default = entry.get("default", _NO_DEFAULT)
                    node.fields.append((entry["name"], self.parse(entry["type"], space), default))
            elif kind == "enum":
                node.symbols = tuple(schema.get("symbols", ()))
            else:
                node.size = int(schema.get("size", -1))
                if node.size < 0:
                    raise UsageError(f"--key-schema: fixed {fullname} needs a size")
                if logical == "decimal":
                    self.decimal(node, schema)
            return node
        if kind == "array":
            return Node("array", items=self.parse(schema.get("items"), namespace))
        if kind == "map":
            return Node("map", items=self.parse(schema.get("values"), namespace))
        return self.parse(kind, namespace)  # a named type referenced as {"type": "Name"}

    @staticmethod
    def decimal(node: Node, schema: dict) -> None:
        node.precision = schema.get("precision")
        node.scale = schema.get("scale", 0)
        if not isinstance(node.precision, int) or node.precision < 1:
            raise UsageError("--key-schema: an Avro decimal needs a precision of 1 or more")


# ---------------------------------------------------------------------------- encoding
def _zigzag(value: int, out: bytearray) -> None:
    value = (value << 1) ^ (value >> 63)
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)


def _prepared(node: Node, value: object) -> object:
    """A value of a logical type as its underlying type holds it (fastavro's prepare step)."""
    logical = node.logical
    if logical is None or value is None:
        return value
    if logical == "uuid" and node.kind == "string" and isinstance(value, uuid.UUID):
        return str(value)
    if logical == "date" and node.kind == "int":
        return conv.to_date_days(value)
    if logical in ("timestamp-millis", "local-timestamp-millis") and node.kind == "long":
        return conv.to_timestamp(value, 1000, local=logical.startswith("local"))
    if logical in ("timestamp-micros", "local-timestamp-micros") and node.kind == "long":
        return conv.to_timestamp(value, 10**6, local=logical.startswith("local"))
    if logical in ("timestamp-nanos", "local-timestamp-nanos") and node.kind == "long":
        return conv.to_timestamp(value, 10**9, local=logical.startswith("local"))
    if logical == "time-millis" and node.kind == "int":
        return conv.to_time(value, 1000)
    if logical == "time-micros" and node.kind == "long":
        return conv.to_time(value, 10**6)
    return value


def _is_instance(node: Node, value: object) -> bool:
    """Whether a Python value is of the node's type as it is (fastavro's validation)."""
    kind = node.kind
    if node.logical is not None and node.logical != "decimal":
        try:
            value = _prepared(node, value)
        except Unrepresentable:
            return False
    if kind == "null":
        return value is None
    if kind == "boolean":
        return isinstance(value, bool)
    if kind in ("int", "long"):
        bits = 32 if kind == "int" else 64
        return (
            isinstance(value, (int, np.integer))
            and not isinstance(value, (bool, np.bool_))
            and -(1 << (bits - 1)) <= value < 1 << (bits - 1)
        )
    if kind in ("float", "double"):
        return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(
            value, (bool, np.bool_)
        )
    if kind == "string":
        return isinstance(value, str)
    if kind == "bytes":
        if node.logical == "decimal":
            return isinstance(value, (bytes, bytearray, decimal.Decimal))
        return isinstance(value, (bytes, bytearray))
    if kind == "fixed":
        return isinstance(value, bytes) and len(value) == node.size
    if kind == "enum":
        return isinstance(value, str) and value in node.symbols
    if kind == "array":
        return (
            isinstance(value, Sequence)
            and not isinstance(value, (str, bytes))
            and all(_is_instance(node.items, item) for item in value)
        )
    if kind == "map":
        return isinstance(value, Mapping) and all(
            isinstance(k, str) and _is_instance(node.items, v) for k, v in value.items()
        )
    if kind == "record":
        return isinstance(value, Mapping) and all(
            _is_instance(child, value.get(name, None if default is _NO_DEFAULT else default))
            for name, child, default in node.fields
        )
    if kind == "union":
        return any(_is_instance(branch, value) for branch in node.branches)
    return False


def _branch(node: Node, value: object) -> int:
    """The union branch fastavro writes a Python value under; text that is no branch's
    instance takes the first branch that converts it."""
    best, most_fields = -1, -1
    for index, branch in enumerate(node.branches):
        if best >= 0 and node.branches[best].kind == "float":
            if branch.kind == "double":
                return index
            continue
        if not _is_instance(branch, value):
            continue
        if branch.kind == "record":
            matching = len({name for name, _, _ in branch.fields} & set(value))
            if matching > most_fields:
                best, most_fields = index, matching
        elif branch.kind == "float":
            best = index
        else:
            return index
    if best >= 0:
        return best
    for index, branch in enumerate(node.branches):
        if branch.kind == "null":
            continue
        try:
            _write(branch, value, bytearray())
        except Unrepresentable:
            continue
        return index
    raise Unrepresentable(f"{describe(value)} fits no branch of the union")


def _write(node: Node, value: object, out: bytearray) -> None:
    kind = node.kind
    if node.logical is not None and kind not in ("bytes", "fixed", "string"):
        value = _prepared(node, value)
    if kind == "union":
        index = _branch(node, value)
        _zigzag(index, out)
        _write(node.branches[index], value, out)
        return
    if value is None and kind != "null":
        raise Unrepresentable(f"null is not a {node.name or kind} (it needs a union with null)")
    if kind == "null":
        if value is not None:
            raise Unrepresentable(f"{describe(value)} is not null")
    elif kind == "boolean":
        out.append(1 if conv.to_bool(value) else 0)
    elif kind in ("int", "long"):
        _zigzag(conv.to_int(value, 32 if kind == "int" else 64, what=kind), out)
    elif kind == "float":
        number = conv.to_float(value, what="float")
        try:
            out += struct.pack("<f", number)
        except OverflowError:
            raise Unrepresentable(f"{describe(value)} is out of range for float") from None
    elif kind == "double":
        out += struct.pack("<d", conv.to_float(value, what="double"))
    elif kind == "string":
        _write_bytes(conv.utf8(conv.to_text(value)), out)
    elif kind == "bytes":
        if node.logical == "decimal" and not isinstance(value, (bytes, bytearray)):
            _write_bytes(_decimal_bytes(node, value), out)
        else:
            _write_bytes(conv.to_bytes(value), out)
    elif kind == "fixed":
        if node.logical == "decimal" and not isinstance(value, (bytes, bytearray)):
            unscaled = conv.to_decimal_unscaled(value, node.scale, node.precision)
            try:
                out += unscaled.to_bytes(node.size, "big", signed=True)
            except OverflowError:
                raise Unrepresentable(
                    f"{describe(value)} does not fit fixed {node.name} of {node.size} bytes"
                ) from None
            return
        data = conv.to_bytes(value)
        if len(data) != node.size:
            raise Unrepresentable(f"{describe(value)} is not {node.size} bytes (fixed {node.name})")
        out += data
    elif kind == "enum":
        text = conv.to_text(value)
        if text not in node.symbols:
            raise Unrepresentable(f"{describe(value)} is not a symbol of enum {node.name}")
        _zigzag(node.symbols.index(text), out)
    elif kind == "array":
        value = _container(value, Sequence, "an array")
        if value:
            _zigzag(len(value), out)
            for item in value:
                _write(node.items, item, out)
        out.append(0)
    elif kind == "map":
        value = _container(value, Mapping, "a map")
        if value:
            _zigzag(len(value), out)
            for key, item in value.items():
                _write_bytes(conv.utf8(conv.to_text(key)), out)
                _write(node.items, item, out)
        out.append(0)
    elif kind == "record":
        value = _container(value, Mapping, f"a record {node.name}")
        for name, child, default in node.fields:
            item = value.get(name, _NO_DEFAULT)
            if item is _NO_DEFAULT:  # fastavro writes a missing field without default as null
                item = None if default is _NO_DEFAULT else default
            _write(child, item, out)


def _write_bytes(data: bytes, out: bytearray) -> None:
    _zigzag(len(data), out)
    out += data


def _decimal_bytes(node: Node, value: object) -> bytes:
    return conv.twos_complement(conv.to_decimal_unscaled(value, node.scale, node.precision))


def _container(value: object, kind: type, what: str) -> object:
    """An array, map or record value: as it is, or decoded from JSON text."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            raise Unrepresentable(
                f"{describe(value)} is not {what} (nor JSON text of one)"
            ) from None
    if not isinstance(value, kind) or isinstance(value, (str, bytes, bytearray)):
        raise Unrepresentable(f"{describe(value)} is not {what}")
    return value


# ----------------------------------------------------------------------------- schema
@dataclass(frozen=True, eq=False)
class AvroSchema:
    """A parsed Avro key schema: encodes one value (:meth:`payload`) or a whole Arrow array
    of primitive keys at once (:meth:`payloads`)."""

    root: Node
    text: str

    schema_type = "avro"

    @classmethod
    def parse(cls, text: str) -> AvroSchema:
        return cls(parse_avro(text), text)

    @property
    def is_record(self) -> bool:
        return _unwrap(self.root).kind == "record"

    def fields(self) -> list[tuple[tuple[str, ...], bool]]:
        """The leaf fields of a record key, as (path, required) pairs; [] for a primitive."""
        out: list[tuple[tuple[str, ...], bool]] = []
        _leaves(_unwrap(self.root), (), True, out, set())
        return out

    @property
    def raw_bytes(self) -> bool:
        """A top-level ``bytes`` schema: both serializers write the bytes as they are, with
        no length (Java's ``AbstractKafkaAvroSerializer`` writes a ``byte[]`` straight out,
        and Python's ``AvroSerializer`` does the same for a ``bytes`` schema)."""
        return self.root.kind == "bytes" and self.root.logical is None

    def payload(self, value: object) -> bytes:
        if self.raw_bytes:
            return conv.to_bytes(value)
        out = bytearray()
        _write(self.root, value, out)
        return bytes(out)

    def display(self, payload: bytes) -> str:
        return display(self, payload)

    def payloads(self, array: pa.Array, prefix: bytes) -> tuple[pa.Array, np.ndarray] | None:
        """``prefix`` + the encoding of every key of ``array``, and the mask of keys the
        schema cannot hold, for primitive ``string``, ``bytes``, ``int`` and ``long`` schemas
        (also as the non-null branch of a union with null); None for other schemas."""
        node, branch = self.root, b""
        if node.kind == "union" and len(node.branches) == 2:
            kinds = [b.kind for b in node.branches]
            if "null" in kinds:
                index = 1 - kinds.index("null")
                node, branch = node.branches[index], bytes([index << 1])
        if node.logical not in (None, "uuid"):
            return None
        kind = array.type
        if node.kind in ("string", "bytes") and (
            pa.types.is_string(kind)
            or pa.types.is_large_string(kind)
            or (
                node.kind == "bytes"
                and (pa.types.is_binary(kind) or pa.types.is_large_binary(kind))
            )
        ):
            length = None if self.raw_bytes else "zigzag"
            return prefixed(array, prefix + branch, length), np.zeros(len(array), dtype=bool)
        if node.kind in ("int", "long"):
            parsed = integers(array, 32 if node.kind == "int" else 64)
            if parsed is None:
                return None
            values, present, bad = parsed
            return varints(values, present & ~bad, prefix + branch), bad
        return None


def _unwrap(node: Node) -> Node:
    """A record under a union with null (``["null", {"type": "record", ...}]``)."""
    if node.kind == "union":
        others = [branch for branch in node.branches if branch.kind != "null"]
        if len(others) == 1:
            return others[0]
    return node


def _leaves(node: Node, path: tuple[str, ...], required: bool, out: list, seen: set[int]) -> None:
    if node.kind != "record" or id(node) in seen:
        out.append((path, required))
        return
    seen = seen | {id(node)}
    for name, child, default in node.fields:
        nullable = child.kind == "union" and any(b.kind == "null" for b in child.branches)
        inner = _unwrap(child)
        _leaves(inner, (*path, name), required and not nullable and default is _NO_DEFAULT,
                out, seen)  # fmt: skip


# ---------------------------------------------------------------------------- decoding
class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data, self.at = data, 0

    def take(self, count: int) -> bytes:
        if count < 0 or self.at + count > len(self.data):
            raise ValueError("the key ends too early")
        out = self.data[self.at : self.at + count]
        self.at += count
        return out

    def long(self) -> int:
        value, self.at = conv.read_varint(self.data, self.at)
        return (value >> 1) ^ -(value & 1)


def _read(node: Node, reader: _Reader) -> object:
    kind = node.kind
    if kind == "null":
        return None
    if kind == "boolean":
        return reader.take(1) != b"\x00"
    if kind in ("int", "long"):
        return reader.long()
    if kind == "float":
        return struct.unpack("<f", reader.take(4))[0]
    if kind == "double":
        return struct.unpack("<d", reader.take(8))[0]
    if kind in ("bytes", "string"):
        data = reader.take(reader.long())
        return data.decode("utf-8", "backslashreplace") if kind == "string" else data.hex()
    if kind == "fixed":
        return reader.take(node.size).hex()
    if kind == "enum":
        return node.symbols[reader.long()]
    if kind == "union":
        return _read(node.branches[reader.long()], reader)
    if kind in ("array", "map"):
        items: list = []
        mapping: dict = {}
        while True:
            count = reader.long()
            if count == 0:
                return items if kind == "array" else mapping
            if count < 0:
                count = -count
                reader.long()  # the block's size in bytes
            for _ in range(count):
                if kind == "array":
                    items.append(_read(node.items, reader))  # type: ignore[arg-type]
                else:
                    name = reader.take(reader.long()).decode("utf-8", "backslashreplace")
                    mapping[name] = _read(node.items, reader)  # type: ignore[arg-type]
    return {name: _read(child, reader) for name, child, _ in node.fields}


def display(schema: AvroSchema, payload: bytes) -> str:
    """A key's Avro payload as readable text: a string as itself, anything else as JSON
    (bytes and fixed in hex); the payload in hex if it does not read."""
    if schema.raw_bytes:
        return payload.decode("utf-8", "backslashreplace")
    try:
        reader = _Reader(payload)
        value = _read(schema.root, reader)
        if reader.at != len(payload):
            raise ValueError("bytes left over")
    except (ValueError, IndexError, struct.error):
        return payload.hex()
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
