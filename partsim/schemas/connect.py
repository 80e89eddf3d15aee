"""Kafka Connect keys: the bytes ``JsonConverter`` writes, with and without schemas.

Reproduces apache/kafka ``connect/json/src/main/java/org/apache/kafka/connect/json/
JsonConverter.java`` (``fromConnectData``), serialized by Jackson:

- ``schemas.enable=true`` (``connect-json``, Debezium's default): the envelope
  ``{"schema":SCHEMA,"payload":VALUE}``. SCHEMA is ``asJsonSchema``: ``type``, then
  ``fields`` (each field's schema followed by ``"field":NAME``), ``items`` or
  ``keys``/``values``, then ``optional``, ``name``, ``version``, ``doc``, ``parameters`` and
  ``default`` where set. Without a key schema the envelope is ``{"schema":null,...}``, as
  the converter writes schemaless data.
- ``schemas.enable=false`` (``connect-json-schemaless``): VALUE alone.

VALUE is compact JSON: a struct's fields in schema order; a ``bytes`` value and a
``Decimal`` (its unscaled value, two's complement in the fewest bytes) in standard base64;
``Date`` as days, ``Time`` as milliseconds of the day and ``Timestamp`` as milliseconds
since the epoch; a map with string keys as an object, any other map as ``[[key, value],
...]``; floats as Java's ``Double.toString``/``Float.toString`` spell them (``1.0E10``,
``0.001``). Strings escape ``"``, ``\\`` and control characters (``\\n``, ``\\u001F``, in
upper-case hex as Jackson writes them), and characters past U+FFFF as their escaped UTF-16
surrogate pair (``😀`` is ``\\uD83D\\uDE00``: Jackson's default, without
``COMBINE_UNICODE_SURROGATES_IN_UTF8``); other characters are raw UTF-8.

A Debezium key is a struct of the table's primary-key columns, named
``<prefix>.<schema>.<table>.Key``: ``{"schema":{"type":"struct","fields":[{"type":"int32",
"optional":false,"field":"id"}],"optional":false,"name":"dbserver1.inventory.customers.Key"},
"payload":{"id":1001}}``. Give that ``schema`` object (or a whole key message) as
``--key-schema``: its fields come from the columns of the same names.

Debezium's named integer types take text as their unit reads it: ``io.debezium.time.Date``
a date, ``Timestamp``/``MicroTimestamp``/``NanoTimestamp`` an ISO time.
"""

from __future__ import annotations

import base64
import contextlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from partsim.errors import UsageError
from partsim.schemas import values as conv
from partsim.schemas.values import Unrepresentable, describe

__all__ = ["ConnectSchema", "jackson_string", "java_double"]

#: The type names of JsonConverter's schema JSON (Connect's FLOAT32 and FLOAT64 are
#: ``float`` and ``double`` there).
PRIMITIVES = ("int8", "int16", "int32", "int64", "float", "double", "boolean", "string", "bytes")
_BITS = {"int8": 8, "int16": 16, "int32": 32, "int64": 64}
DECIMAL = "org.apache.kafka.connect.data.Decimal"
DATE = "org.apache.kafka.connect.data.Date"
TIME = "org.apache.kafka.connect.data.Time"
TIMESTAMP = "org.apache.kafka.connect.data.Timestamp"
#: Named integer types whose text is a date or time, and their unit per second.
_TIME_NAMES = {
    DATE: "date", "io.debezium.time.Date": "date",
    TIME: 1000, "io.debezium.time.Time": 1000, "io.debezium.time.MicroTime": 10**6,
    TIMESTAMP: 1000, "io.debezium.time.Timestamp": 1000,
    "io.debezium.time.MicroTimestamp": 10**6, "io.debezium.time.NanoTimestamp": 10**9,
}  # fmt: skip


@dataclass(eq=False)
class Node:
    """One Connect schema."""

    type: str
    optional: bool = False
    name: str | None = None
    version: int | None = None
    doc: str | None = None
    parameters: dict[str, str] | None = None
    default: object = None  # a JSON value as the schema's "default" holds it, or None
    fields: list[tuple[str, Node]] = field(default_factory=list)
    items: Node | None = None  # array values; map values
    keys: Node | None = None  # map keys


def parse_connect(schema: object) -> Node:
    """A Connect schema from its JSON form (``JsonConverter.asConnectSchema``)."""
    if not isinstance(schema, Mapping) or not isinstance(schema.get("type"), str):
        raise UsageError(f"--key-schema: a Connect schema needs a 'type'; got {describe(schema)}")
    kind = schema["type"]
    node = Node(kind)
    if kind == "struct":
        fields = schema.get("fields")
        if not isinstance(fields, list):
            raise UsageError("--key-schema: a Connect struct needs a list of 'fields'")
        for entry in fields:
            if not isinstance(entry, Mapping) or not isinstance(entry.get("field"), str):
                raise UsageError("--key-schema: each field of a Connect struct needs 'field'")
            node.fields.append((entry["field"], parse_connect(entry)))
    elif kind == "array":
        node.items = parse_connect(schema.get("items"))
    elif kind == "map":
        node.keys = parse_connect(schema.get("keys"))
        node.items = parse_connect(schema.get("values"))
    elif kind not in PRIMITIVES:
        raise UsageError(
            f"--key-schema: unknown Connect type {kind!r}; expected one of "
            f"{', '.join([*PRIMITIVES, 'array', 'map', 'struct'])}"
        )
    node.optional = schema.get("optional") is True
    if isinstance(schema.get("name"), str):
        node.name = schema["name"]
    if isinstance(schema.get("version"), int) and not isinstance(schema["version"], bool):
        node.version = schema["version"]
    if isinstance(schema.get("doc"), str):
        node.doc = schema["doc"]
    if isinstance(schema.get("parameters"), Mapping):
        node.parameters = {}
        for key, value in schema["parameters"].items():
            if not isinstance(value, str):
                raise UsageError("--key-schema: Connect schema parameters must be strings")
            node.parameters[key] = value
    if "default" in schema and schema["default"] is not None:
        node.default = schema["default"]
    if node.name == DECIMAL and kind == "bytes":
        try:
            int((node.parameters or {})["scale"])
        except (KeyError, ValueError):
            raise UsageError("--key-schema: a Connect Decimal needs a 'scale' parameter") from None
    return node


# ------------------------------------------------------------------------- writing JSON
_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f",
            "\r": "\\r"}  # fmt: skip


def jackson_string(text: str) -> str:
    """A JSON string as Jackson writes it.

    >>> jackson_string('a"\\x1f')
    '"a\\\\"\\\\u001F"'
    """
    out = ['"']
    for char in text:
        if char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif char < " ":
            out.append(f"\\u{ord(char):04X}")
        elif "\ud800" <= char <= "\udfff":
            raise Unrepresentable(f"{describe(text)} holds a lone surrogate (not UTF-8 text)")
        elif char > "\uffff":  # Jackson's UTF8JsonGenerator escapes the surrogate pair
            code = ord(char) - 0x10000
            out.append(f"\\u{0xD800 + (code >> 10):04X}\\u{0xDC00 + (code & 0x3FF):04X}")
        else:
            out.append(char)
    out.append('"')
    return "".join(out)


def java_double(value: float, single: bool = False) -> str:
    """A float as Java's ``Double.toString`` (``Float.toString`` when ``single``) spells it:
    the shortest digits that read back, plain from 10**-3 to 10**7, else ``d.dddE±n``.

    >>> java_double(1e10), java_double(0.001), java_double(100.0), java_double(1.5e-5)
    ('1.0E10', '0.001', '100.0', '1.5E-5')
    """
    if math.isnan(value) or math.isinf(value):
        raise Unrepresentable(f"{value} is not a finite number")
    if value == 0:
        return "-0.0" if math.copysign(1, value) < 0 else "0.0"
    if single:
        text = np.format_float_scientific(np.float32(value), unique=True, trim="-")
    else:
        text = np.format_float_scientific(value, unique=True, trim="-")
    mantissa, _, exponent_text = text.partition("e")
    sign = "-" if mantissa.startswith("-") else ""
    digits = mantissa.lstrip("-").replace(".", "")
    exponent = int(exponent_text)
    if -3 <= exponent < 7:
        if exponent >= 0:
            whole = digits[: exponent + 1].ljust(exponent + 1, "0")
            fraction = digits[exponent + 1 :] or "0"
        else:
            whole, fraction = "0", "0" * (-exponent - 1) + digits
        return f"{sign}{whole}.{fraction}"
    return f"{sign}{digits[0]}.{digits[1:] or '0'}E{exponent}"


def _schema_json(node: Node) -> str:
    parts = [f'"type":{jackson_string(node.type)}']
    if node.type == "struct":
        fields = []
        for name, child in node.fields:
            inner = _schema_json(child)
            fields.append(inner[:-1] + f',"field":{jackson_string(name)}}}')
        parts.append(f'"fields":[{",".join(fields)}]')
    elif node.type == "array":
        parts.append(f'"items":{_schema_json(node.items)}')  # type: ignore[arg-type]
    elif node.type == "map":
        parts.append(f'"keys":{_schema_json(node.keys)}')  # type: ignore[arg-type]
        parts.append(f'"values":{_schema_json(node.items)}')  # type: ignore[arg-type]
    parts.append(f'"optional":{"true" if node.optional else "false"}')
    if node.name is not None:
        parts.append(f'"name":{jackson_string(node.name)}')
    if node.version is not None:
        parts.append(f'"version":{node.version}')
    if node.doc is not None:
        parts.append(f'"doc":{jackson_string(node.doc)}')
    if node.parameters is not None:
        pairs = ",".join(f"{jackson_string(k)}:{jackson_string(v)}"
                         for k, v in node.parameters.items())  # fmt: skip
        parts.append(f'"parameters":{{{pairs}}}')
    if node.default is not None:
        parts.append(f'"default":{_value_json(node, node.default, from_json=True)}')
    return "{" + ",".join(parts) + "}"


def _value_json(node: Node | None, value: object, *, from_json: bool = False) -> str:
    """A value as ``convertToJson`` writes it (``from_json``: a schema default, which is in
    the JSON form already, so bytes are base64 text)."""
    if isinstance(value, np.generic):
        value = value.item()
    if node is None:
        return _schemaless_json(value)
    if value is None:
        if node.default is not None:
            return _value_json(node, node.default, from_json=True)
        if node.optional:
            return "null"
        raise Unrepresentable(f"null for a required {node.name or node.type} without a default")
    kind = node.type
    if kind in _BITS:
        unit = _TIME_NAMES.get(node.name or "")
        if unit is not None and not isinstance(value, (int, np.integer)):
            try:
                number = conv.to_int(value, _BITS[kind], what=kind)
            except Unrepresentable:
                if unit == "date":
                    number = conv.to_date_days(value)
                elif kind == "int32":
                    number = conv.to_time(value, unit)
                else:
                    number = conv.to_timestamp(value, unit)
            return str(conv.to_int(number, _BITS[kind], what=kind))
        return str(conv.to_int(value, _BITS[kind], what=kind))
    if kind in ("float", "double"):
        return java_double(conv.to_float(value, what=kind), single=kind == "float")
    if kind == "boolean":
        return "true" if conv.to_bool(value) else "false"
    if kind == "string":
        return jackson_string(conv.to_text(value))
    if kind == "bytes":
        if node.name == DECIMAL and not (from_json and isinstance(value, str)):
            scale = int((node.parameters or {})["scale"])
            unscaled = conv.to_decimal_unscaled(value, scale, None)
            data = conv.twos_complement(unscaled)
        elif from_json and isinstance(value, str):
            return jackson_string(value)
        else:
            data = conv.to_bytes(value)
        return '"' + base64.b64encode(data).decode("ascii") + '"'
    if kind == "array":
        items = _json_container(value, list)
        return "[" + ",".join(_value_json(node.items, item, from_json=from_json)
                              for item in items) + "]"  # fmt: skip
    if kind == "map":
        entries = _json_container(value, dict)
        if node.keys is not None and node.keys.type == "string":
            return (
                "{"
                + ",".join(
                    jackson_string(conv.to_text(k))
                    + ":"
                    + _value_json(node.items, v, from_json=from_json)
                    for k, v in entries.items()
                )
                + "}"
            )
        return (
            "["
            + ",".join(
                f"[{_value_json(node.keys, k, from_json=from_json)},"
                f"{_value_json(node.items, v, from_json=from_json)}]"
                for k, v in entries.items()
            )
            + "]"
        )
    # struct
    record = _json_container(value, dict)
    unknown = set(record) - {name for name, _ in node.fields}
    if unknown:
        raise Unrepresentable(f"struct {node.name or ''} has no field {sorted(unknown)[0]!r}")
    return (
        "{"
        + ",".join(
            f"{jackson_string(name)}:{_value_json(child, record.get(name), from_json=from_json)}"
            for name, child in node.fields
        )
        + "}"
    )


def _json_container(value: object, kind: type) -> object:
    if isinstance(value, str):
        with contextlib.suppress(json.JSONDecodeError):
            value = json.loads(value)
    if kind is list and isinstance(value, tuple):
        value = list(value)
    if not isinstance(value, kind):
        raise Unrepresentable(f"{describe(value)} is not a JSON {kind.__name__}")
    return value


def _schemaless_json(value: object) -> str:
    """A value without a schema, typed by its Python type (``ConnectSchema.schemaType``)."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(conv.to_int(value, 64))
    if isinstance(value, float):
        return java_double(value)
    if isinstance(value, str):
        return jackson_string(value)
    if isinstance(value, (bytes, bytearray)):
        return '"' + base64.b64encode(bytes(value)).decode("ascii") + '"'
    if isinstance(value, Mapping):
        if all(isinstance(k, str) for k in value):
            return "{" + ",".join(f"{jackson_string(k)}:{_schemaless_json(v)}"
                                  for k, v in value.items()) + "}"  # fmt: skip
        return "[" + ",".join(f"[{_schemaless_json(k)},{_schemaless_json(v)}]"
                              for k, v in value.items()) + "]"  # fmt: skip
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_schemaless_json(item) for item in value) + "]"
    raise Unrepresentable(f"{describe(value)} has no Connect type")


@dataclass(frozen=True, eq=False)
class ConnectSchema:
    """A Connect key schema (or none), with or without the envelope."""

    root: Node | None
    text: str | None
    envelope: bool = True

    schema_type = None  # Connect converters write no Schema Registry frame

    @classmethod
    def parse(cls, text: str | None, *, envelope: bool = True) -> ConnectSchema:
        if text is None:
            return cls(None, None, envelope)
        try:
            schema = json.loads(text)
        except json.JSONDecodeError as error:
            raise UsageError(f"--key-schema is not valid Connect schema JSON: {error}") from None
        if isinstance(schema, Mapping) and set(schema) == {"schema", "payload"}:
            schema = schema["schema"]  # a whole key message, as read from the topic
        return cls(parse_connect(schema) if schema is not None else None, text, envelope)

    @property
    def is_record(self) -> bool:
        return self.root is not None and self.root.type == "struct"

    def fields(self) -> list[tuple[tuple[str, ...], bool]]:
        out: list[tuple[tuple[str, ...], bool]] = []
        if self.root is not None:
            _leaves(self.root, (), True, out)
        return out

    def payload(self, value: object) -> bytes:
        body = _value_json(self.root, value)
        if self.envelope:
            schema = "null" if self.root is None else self._schema_text
            body = f'{{"schema":{schema},"payload":{body}}}'
        return body.encode("utf-8")

    @property
    def _schema_text(self) -> str:
        cached = self.__dict__.get("_schema_cache")
        if cached is None:
            cached = _schema_json(self.root)  # type: ignore[arg-type]
            object.__setattr__(self, "_schema_cache", cached)
        return cached

    def payloads(self, array: pa.Array, prefix: bytes) -> tuple[pa.Array, np.ndarray] | None:
        return None

    def display(self, payload: bytes) -> str:
        """The key's JSON value (without the envelope's schema)."""
        text = payload.decode("utf-8", "backslashreplace")
        if self.envelope:
            try:
                return json.dumps(json.loads(text)["payload"], ensure_ascii=False,
                                  separators=(",", ":"))  # fmt: skip
            except (ValueError, KeyError, TypeError):
                return text
        return text


def _leaves(node: Node, path: tuple, required: bool, out: list) -> None:
    if node.type != "struct" or not node.fields:
        out.append((path, required))
        return
    for name, child in node.fields:
        _leaves(child, (*path, name), required and not child.optional and child.default is None,
                out)  # fmt: skip
