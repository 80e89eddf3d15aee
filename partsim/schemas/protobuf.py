"""Protobuf keys: a ``.proto`` file read by a small parser of partsim's own, and the message
written as protobuf's wire format, as Confluent's ``ProtobufSerializer`` writes it.

The serializer (confluentinc/confluent-kafka-python ``schema_registry/_sync/protobuf.py``;
Java's ``KafkaProtobufSerializer`` writes the same) puts the message-index list between the
Schema Registry frame and the message: the path of indexes to the message in its file (the
first top-level message is ``[0]``, written as the single byte ``00``; the third message
nested in the second is ``[1, 2]``, written as zigzag varints: count then indexes,
``04 02 04``). The message is ``SerializeToString()``: fields in field-number order, each a
tag (``number << 3 | wire type``) then its value:

- ``int32``, ``int64``, ``uint32``, ``uint64``, ``bool`` and enums: varint (a negative
  ``int32`` is sign-extended to ten bytes); ``sint32``/``sint64``: zigzag varint;
- ``fixed32``, ``sfixed32``, ``float``: 4 bytes little-endian; ``fixed64``, ``sfixed64``,
  ``double``: 8;
- ``string``, ``bytes`` and messages: varint length, then the bytes;
- ``repeated`` scalars are packed in proto3 (one length-delimited field) and not in proto2
  unless ``[packed = true]``.

A proto3 field without presence (not ``optional``, not a message, not in a ``oneof``) is left
out when it holds its default (0, ``""``, false, the first enum value), so ``{id: 0}`` is an
empty message. A null column value leaves any field unset.

Why a parser of its own: key messages are small (a few scalar fields), and reading them needs
only the field names, types, numbers and labels, and the messages' places in the file. The
alternatives were ``protoc`` (through ``grpcio-tools``, about 10 MB with ``grpcio``, the
tests' oracle) or a parser package plus the ``protobuf`` runtime, as an extra for a few
hundred lines. Not supported (a usage error says so): ``import`` of another file,
``map<,>`` fields, proto2 groups and extensions, and ``edition`` files.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from partsim.errors import UsageError, closest
from partsim.schemas import values as conv
from partsim.schemas.values import Unrepresentable, describe

__all__ = ["ProtoFile", "ProtobufSchema", "message_indexes_bytes"]

_TOKEN = re.compile(
    r"""\s+|//[^\n]*|/\*.*?\*/|(?P<token>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'|"""
    r"""[A-Za-z_][A-Za-z0-9_.]*|\.[A-Za-z_][A-Za-z0-9_.]*|[-+]?(?:0[xX][0-9A-Fa-f]+|[0-9]+)"""
    r"""(?:\.[0-9]*)?(?:[eE][-+]?[0-9]+)?|[{}\[\]()<>;=,:])""",
    re.S,
)

#: Scalar types: (wire type, how the value is written).
SCALARS = {
    "double": (1, "double"), "float": (5, "float"),
    "int32": (0, "int32"), "int64": (0, "int64"), "uint32": (0, "uint32"),
    "uint64": (0, "uint64"), "sint32": (0, "sint32"), "sint64": (0, "sint64"),
    "fixed32": (5, "fixed32"), "fixed64": (1, "fixed64"), "sfixed32": (5, "sfixed32"),
    "sfixed64": (1, "sfixed64"), "bool": (0, "bool"), "string": (2, "string"),
    "bytes": (2, "bytes"),
}  # fmt: skip
_INT_RANGES = {
    "int32": (32, True), "sint32": (32, True), "sfixed32": (32, True),
    "int64": (64, True), "sint64": (64, True), "sfixed64": (64, True),
    "uint32": (32, False), "fixed32": (32, False), "uint64": (64, False),
    "fixed64": (64, False),
}  # fmt: skip


@dataclass(eq=False)
class Field:
    name: str
    number: int
    type_name: str  # a scalar, or the full name of a message or enum (resolved)
    label: str  # "", "optional", "repeated", "required"
    oneof: str | None = None
    packed: bool | None = None


@dataclass(eq=False)
class Message:
    name: str  # full name, with the package
    indexes: tuple[int, ...]
    fields: list[Field] = field(default_factory=list)
    scope: str = ""


@dataclass(eq=False)
class Enum:
    name: str
    values: dict[str, int] = field(default_factory=dict)


@dataclass(eq=False)
class ProtoFile:
    """A parsed ``.proto`` file: its messages and enums by full name, in file order."""

    syntax: str
    package: str
    messages: dict[str, Message]
    enums: dict[str, Enum]

    @classmethod
    def parse(cls, text: str) -> ProtoFile:
        return _Parser(text).parse_file()

    def find(self, name: str | None) -> Message:
        """The message named ``name`` (plain, nested ``Outer.Inner``, or with its package;
        a leading dot allowed); the file's first message when None."""
        if not self.messages:
            raise UsageError("--key-schema: the .proto file has no message")
        if name is None:
            return next(iter(self.messages.values()))
        wanted = name.lstrip(".")
        for candidate in (wanted, f"{self.package}.{wanted}" if self.package else wanted):
            if candidate in self.messages:
                return self.messages[candidate]
        short = [m for full, m in self.messages.items() if full.rsplit(".", 1)[-1] == wanted]
        if len(short) == 1:
            return short[0]
        names = [full.removeprefix(f"{self.package}.") for full in self.messages]
        message = f"--key-message must name a message of the .proto file: {', '.join(names)}"
        if len(short) > 1:
            raise UsageError(message + f"; {wanted!r} is ambiguous, give its full name")
        suggestion = closest(wanted, names)
        raise UsageError(
            message + f"; got {name!r}" + (f" (did you mean {suggestion!r}?)" if suggestion else "")
        )


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens: list[str] = []
        position = 0
        while position < len(text):
            match = _TOKEN.match(text, position)
            if match is None:
                near = text[position : position + 20]
                raise UsageError(f"--key-schema: cannot read the .proto file near {near!r}")
            if match.group("token"):
                self.tokens.append(match.group("token"))
            position = match.end()
        self.at = 0
        self.syntax = "proto2"
        self.package = ""
        self.messages: dict[str, Message] = {}
        self.enums: dict[str, Enum] = {}
        self.pending: list[tuple[Message, Field]] = []

    def peek(self) -> str | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def next(self) -> str:
        token = self.peek()
        if token is None:
            raise UsageError("--key-schema: the .proto file ends too early")
        self.at += 1
        return token

    def expect(self, token: str) -> None:
        got = self.next()
        if got != token:
            raise UsageError(f"--key-schema: expected {token!r} in the .proto file; got {got!r}")

    def skip_statement(self) -> None:
        depth = 0
        while True:
            token = self.next()
            if token == "{":
                depth += 1
            elif token == "}":
                depth -= 1
                if depth == 0:
                    return
            elif token == ";" and depth == 0:
                return

    def parse_file(self) -> ProtoFile:
        top = 0
        while self.peek() is not None:
            token = self.next()
            if token == "syntax":
                self.expect("=")
                self.syntax = self.next().strip("\"'")
                self.expect(";")
            elif token == "edition":
                raise UsageError("--key-schema: .proto editions are not supported; use proto3")
            elif token == "package":
                self.package = self.next()
                self.expect(";")
            elif token == "import":
                raise UsageError(
                    "--key-schema: imports are not supported; put the key message and the "
                    "types it uses in one .proto file"
                )
            elif token == "message":
                self.message(self.package, (top,))
                top += 1
            elif token == "enum":
                self.enum(self.package)
            elif token in ("option", "service", "extend"):
                self.skip_statement()
            elif token != ";":
                raise UsageError(f"--key-schema: unexpected {token!r} in the .proto file")
        self.resolve()
        return ProtoFile(self.syntax, self.package, self.messages, self.enums)

    def message(self, scope: str, indexes: tuple[int, ...]) -> None:
        name = self.next()
        full = f"{scope}.{name}" if scope else name
        message = Message(full, indexes, scope=full)
        self.messages[full] = message
        self.expect("{")
        nested = 0
        oneof: str | None = None
        while True:
            token = self.next()
            if token == "}":
                if oneof is None:
                    return
                oneof = None
                continue
            if token == "message":
                self.message(full, (*indexes, nested))
                nested += 1
            elif token == "enum":
                self.enum(full)
            elif token == "oneof":
                oneof = self.next()
                self.expect("{")
            elif token in ("option", "reserved", "extensions", "extend"):
                self.skip_statement()
            elif token == ";":
                continue
            elif (token.startswith("map") and self.peek() == "<") or token == "map":
                raise UsageError(f"--key-schema: map fields are not supported (in {full})")
            elif token == "group" or self.peek() == "group":
                raise UsageError(f"--key-schema: proto2 groups are not supported (in {full})")
            else:
                label = ""
                if token in ("optional", "repeated", "required"):
                    label, token = token, self.next()
                    if token == "map":
                        raise UsageError(f"--key-schema: map fields are not supported (in {full})")
                field_name = self.next()
                self.expect("=")
                number = int(self.next(), 0)
                packed = None
                if self.peek() == "[":
                    packed = self.field_options()
                self.expect(";")
                entry = Field(field_name, number, token, label, oneof, packed)
                message.fields.append(entry)
                if token not in SCALARS:
                    self.pending.append((message, entry))

    def field_options(self) -> bool | None:
        self.expect("[")
        packed = None
        while True:
            name = self.next()
            if name == "]":
                return packed
            if name == ",":
                continue
            self.expect("=")
            value = self.next()
            if name == "packed":
                packed = value == "true"

    def enum(self, scope: str) -> None:
        name = self.next()
        full = f"{scope}.{name}" if scope else name
        enum = Enum(full)
        self.enums[full] = enum
        self.expect("{")
        while True:
            token = self.next()
            if token == "}":
                return
            if token in ("option", "reserved"):
                self.skip_statement()
                continue
            if token == ";":
                continue
            self.expect("=")
            enum.values.setdefault(token, int(self.next(), 0))
            if self.peek() == "[":
                self.skip_statement_options()
            self.expect(";")

    def skip_statement_options(self) -> None:
        while self.next() != "]":
            pass

    def resolve(self) -> None:
        """Full names for message and enum field types, searched from the innermost scope
        out, as protoc does."""
        for message, entry in self.pending:
            wanted = entry.type_name
            if wanted.startswith("."):
                candidates = [wanted[1:]]
            else:
                parts = message.scope.split(".") if message.scope else []
                candidates = [".".join([*parts[:i], wanted]) for i in range(len(parts), -1, -1)]
            for candidate in candidates:
                if candidate in self.messages or candidate in self.enums:
                    entry.type_name = candidate
                    break
            else:
                raise UsageError(
                    f"--key-schema: unknown type {wanted!r} of field {entry.name} in {message.name}"
                )


def message_indexes_bytes(indexes: Sequence[int]) -> bytes:
    """The message-index list as the serializers write it after the frame.

    >>> message_indexes_bytes([0]).hex(), message_indexes_bytes([1, 2]).hex()
    ('00', '040204')
    """
    if list(indexes) == [0]:
        return b"\x00"
    out = bytearray()
    for value in (len(indexes), *indexes):
        _varint((value << 1) ^ (value >> 63), out)
    return bytes(out)


def _varint(value: int, out: bytearray) -> None:
    value &= (1 << 64) - 1
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)


@dataclass(frozen=True, eq=False)
class ProtobufSchema:
    """A key message of a parsed ``.proto`` file: :meth:`payload` writes one value (a dict
    of field values) as ``SerializeToString`` does, and :attr:`indexes` is its place."""

    file: ProtoFile
    message: Message
    text: str

    schema_type = "protobuf"
    is_record = True

    @classmethod
    def parse(cls, text: str, message: str | None = None) -> ProtobufSchema:
        proto = ProtoFile.parse(text)
        return cls(proto, proto.find(message), text)

    @property
    def indexes(self) -> tuple[int, ...]:
        return self.message.indexes

    def fields(self) -> list[tuple[tuple[str, ...], bool]]:
        out: list[tuple[tuple[str, ...], bool]] = []
        self._leaves(self.message, (), out, 0)
        return out

    def _leaves(self, message: Message, path: tuple, out: list, depth: int) -> None:
        for entry in message.fields:
            nested = self.file.messages.get(entry.type_name)
            if nested is not None and entry.label != "repeated" and depth < 8:
                self._leaves(nested, (*path, entry.name), out, depth + 1)
            else:
                out.append(((*path, entry.name), entry.label == "required"))

    def payload(self, value: object) -> bytes:
        return bytes(self.write(self.message, value))

    def payloads(self, array: pa.Array, prefix: bytes) -> tuple[pa.Array, np.ndarray] | None:
        return None

    def display(self, payload: bytes) -> str:
        """A key's message (what follows the frame and index list) as JSON, with the field
        names of the .proto; in hex if it does not read."""
        import json

        try:
            value = self.read(self.message, payload)
        except (ValueError, IndexError, struct.error):
            return payload.hex()
        return json.dumps(value, ensure_ascii=False)

    def read(self, message: Message, data: bytes) -> dict:
        by_number = {entry.number: entry for entry in message.fields}
        out: dict = {}
        at = 0
        while at < len(data):
            tag, at = conv.read_varint(data, at)
            number, wire = tag >> 3, tag & 7
            if wire == 0:
                raw, at = conv.read_varint(data, at)
                body = b""
            elif wire in (1, 5):
                size = 8 if wire == 1 else 4
                body, raw, at = data[at : at + size], 0, at + size
                if len(body) != size:
                    raise ValueError("the message ends too early")
            elif wire == 2:
                size, at = conv.read_varint(data, at)
                body, raw, at = data[at : at + size], 0, at + size
                if len(body) != size:
                    raise ValueError("the message ends too early")
            else:
                raise ValueError(f"wire type {wire}")
            entry = by_number.get(number)
            if entry is None:
                continue
            value = self.field_value(entry, wire, raw, body)
            if entry.label == "repeated":
                out.setdefault(entry.name, []).extend(value if isinstance(value, list) else [value])
            else:
                out[entry.name] = value
        return out

    def field_value(self, entry: Field, wire: int, raw: int, body: bytes) -> object:
        name = entry.type_name
        if name in self.file.messages:
            return self.read(self.file.messages[name], body)
        if name in self.file.enums:
            numbers = {v: k for k, v in self.file.enums[name].values.items()}
            return numbers.get(raw, raw)
        kind = SCALARS[name][1]
        if wire == 2 and kind not in ("string", "bytes"):  # a packed repeated field
            values, at = [], 0
            while at < len(body):
                if SCALARS[name][0] == 0:
                    item, at = conv.read_varint(body, at)
                    values.append(self.field_value(entry, 0, item, b""))
                else:
                    size = 8 if SCALARS[name][0] == 1 else 4
                    values.append(
                        self.field_value(entry, SCALARS[name][0], 0, body[at : at + size])
                    )
                    at += size
            return values
        if kind == "string":
            return body.decode("utf-8", "backslashreplace")
        if kind == "bytes":
            return body.hex()
        if kind == "bool":
            return bool(raw)
        if kind in ("float", "double"):
            return struct.unpack("<f" if kind == "float" else "<d", body)[0]
        bits, signed = _INT_RANGES[kind]
        if wire != 0:
            return int.from_bytes(body, "little", signed=signed)
        if kind.startswith("sint"):
            return (raw >> 1) ^ -(raw & 1)
        raw &= (1 << bits) - 1
        return raw - (1 << bits) if signed and raw >> (bits - 1) else raw

    def write(self, message: Message, value: object) -> bytearray:
        if isinstance(value, str):
            import json

            try:
                value = json.loads(value)
            except ValueError:
                value = None
        if not isinstance(value, Mapping):
            raise Unrepresentable(f"{describe(value)} is not a {message.name} message")
        unknown = set(value) - {entry.name for entry in message.fields}
        if unknown:
            raise Unrepresentable(f"{message.name} has no field {sorted(unknown)[0]!r}")
        out = bytearray()
        oneofs: dict[str, str] = {}
        for entry in sorted(message.fields, key=lambda f: f.number):
            item = value.get(entry.name)
            if item is None:
                if entry.label == "required":
                    raise Unrepresentable(f"required field {entry.name!r} is missing")
                continue
            if entry.oneof is not None:
                if entry.oneof in oneofs:
                    raise Unrepresentable(
                        f"fields {oneofs[entry.oneof]!r} and {entry.name!r} of oneof "
                        f"{entry.oneof} are both set"
                    )
                oneofs[entry.oneof] = entry.name
            if entry.label == "repeated":
                self.repeated(entry, item, out)
            else:
                self.single(entry, item, out)
        return out

    def presence(self, entry: Field) -> bool:
        """Whether the field is written even when it holds its default."""
        return (
            self.file.syntax == "proto2"
            or entry.label in ("optional", "required")
            or entry.oneof is not None
            or entry.type_name in self.file.messages
        )

    def single(self, entry: Field, item: object, out: bytearray) -> None:
        wire, body = self.encode(entry.type_name, item)
        if not self.presence(entry) and _is_default(entry.type_name, body, wire, self.file):
            return
        _varint(entry.number << 3 | wire, out)
        if wire == 2:
            _varint(len(body), out)
        out += body

    def repeated(self, entry: Field, items: object, out: bytearray) -> None:
        if isinstance(items, str):
            import json

            try:
                items = json.loads(items)
            except ValueError:
                raise Unrepresentable(f"{describe(items)} is not a list") from None
        if not isinstance(items, (list, tuple)):
            raise Unrepresentable(f"{describe(items)} is not a list for repeated {entry.name}")
        encoded = [self.encode(entry.type_name, item) for item in items]
        packable = entry.type_name in self.file.enums or (
            entry.type_name in SCALARS and SCALARS[entry.type_name][0] != 2
        )
        packed = entry.packed if entry.packed is not None else self.file.syntax == "proto3"
        if packable and packed:
            if not encoded:
                return
            body = b"".join(body for _, body in encoded)
            _varint(entry.number << 3 | 2, out)
            _varint(len(body), out)
            out += body
            return
        for wire, body in encoded:
            _varint(entry.number << 3 | wire, out)
            if wire == 2:
                _varint(len(body), out)
            out += body

    def encode(self, type_name: str, item: object) -> tuple[int, bytes]:
        """(wire type, bytes) of one value; length-delimited bytes come without the length."""
        if item is None:
            raise Unrepresentable("null inside a repeated field")
        if type_name in self.file.messages:
            return 2, bytes(self.write(self.file.messages[type_name], item))
        if type_name in self.file.enums:
            values = self.file.enums[type_name].values
            if isinstance(item, str) and item.strip() in values:
                number = values[item.strip()]
            else:
                number = conv.to_int(item, 32, what=f"enum {type_name}")
            out = bytearray()
            _varint(number, out)
            return 0, bytes(out)
        wire, kind = SCALARS[type_name]
        out = bytearray()
        if kind in _INT_RANGES:
            bits, signed = _INT_RANGES[kind]
            number = conv.to_int(item, bits, signed=signed, what=kind)
            if kind.startswith("sint"):
                _varint((number << 1) ^ (number >> (bits - 1)), out)
            elif wire == 0:
                _varint(number, out)
            else:
                out += number.to_bytes(bits // 8, "little", signed=signed)
        elif kind == "bool":
            out.append(1 if conv.to_bool(item) else 0)
        elif kind in ("float", "double"):
            number = conv.to_float(item, what=kind)
            try:
                out += struct.pack("<f" if kind == "float" else "<d", number)
            except OverflowError:
                raise Unrepresentable(f"{describe(item)} is out of range for float") from None
        elif kind == "string":
            try:
                out += conv.to_text(item).encode("utf-8")
            except UnicodeEncodeError:
                raise Unrepresentable(f"{describe(item)} is not valid UTF-8 text") from None
        else:
            out += conv.to_bytes(item)
        return wire, bytes(out)


def _is_default(type_name: str, body: bytes, wire: int, proto: ProtoFile) -> bool:
    if type_name in proto.enums:
        first = next(iter(proto.enums[type_name].values.values()), 0)
        out = bytearray()
        _varint(first, out)
        return body == bytes(out)
    if wire == 2:
        return not body
    return not any(body)  # zero varint or all-zero fixed bytes (-0.0 has its sign bit set)
