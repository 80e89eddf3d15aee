"""JSON Schema keys: the compact JSON that Confluent's JSON Schema serializer writes.

Reproduces ``JSONSerializer`` of confluentinc/confluent-kafka-python
(``schema_registry/_sync/json_schema.py`` with ``common/json_schema.py``'s ``_json_dumps``):
``json.dumps(value, separators=(",", ":"), ensure_ascii=False)`` encoded as UTF-8, so no
spaces, non-ASCII characters as raw UTF-8, and ``"``, ``\\`` and control characters escaped
(``\\n``, ``\\u001f``). ``{"id": 42}`` is ``7b 22 69 64 22 3a 34 32 7d``. (With its
``json-fast`` extra the serializer writes through orjson instead, which spells some floats
differently, such as ``1e16`` for ``1e+16``.)

An object's fields are written in the order of the schema's ``properties``, then any other
fields a value carries, in its own order. Values are typed by the schema: text ``"42"`` for
an ``integer`` is the number 42; for a ``number`` it stays an integer when written as one.
A null column value of a property whose type allows ``null`` is written as ``null``; one
whose type does not is left out when the property is not ``required``.

The serializer refuses a value that does not validate against the schema. partsim checks
``type``, ``properties``, ``required``, ``additionalProperties: false``, ``items``, ``enum``,
``const``, ``anyOf``/``oneOf`` (first branch that holds the value), local ``$ref``,
``minimum``/``maximum`` (and the exclusive ones), ``minLength``/``maxLength`` and
``pattern``; other keywords (``format``, ``multipleOf``, ...) are not checked.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from partsim.errors import UsageError
from partsim.schemas import values as conv
from partsim.schemas.values import Unrepresentable, describe

__all__ = ["JsonSchema"]

_TYPES = ("null", "boolean", "integer", "number", "string", "object", "array")


def dumps(value: object) -> bytes:
    """The serializer's compact JSON, as UTF-8.

    >>> dumps({"id": 42, "name": "é"})
    b'{"id":42,"name":"\\xc3\\xa9"}'
    """
    try:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode(
            "utf-8"
        )
    except (ValueError, UnicodeEncodeError) as error:
        raise Unrepresentable(f"{describe(value)} cannot be written as JSON: {error}") from None


@dataclass(frozen=True, eq=False)
class JsonSchema:
    """A parsed JSON Schema for keys: :meth:`payload` writes one value as the serializer."""

    root: Mapping
    text: str

    schema_type = "json"

    @classmethod
    def parse(cls, text: str) -> JsonSchema:
        try:
            root = json.loads(text)
        except json.JSONDecodeError as error:
            raise UsageError(f"--key-schema is not valid JSON Schema: {error}") from None
        if isinstance(root, bool):
            root = {} if root else {"not": {}}
        if not isinstance(root, Mapping):
            raise UsageError("--key-schema: a JSON Schema is an object (or true)")
        return cls(root, text)

    def resolve(self, node: Mapping) -> Mapping:
        seen = 0
        while isinstance(node, Mapping) and "$ref" in node:
            ref = node["$ref"]
            if not isinstance(ref, str) or not ref.startswith("#"):
                raise UsageError(f"--key-schema: only local $ref are supported; got {ref!r}")
            target: object = self.root
            for part in filter(None, ref[1:].split("/")):
                part = part.replace("~1", "/").replace("~0", "~")
                if not isinstance(target, Mapping) or part not in target:
                    raise UsageError(f"--key-schema: $ref {ref!r} points nowhere")
                target = target[part]
            node = target  # type: ignore[assignment]
            seen += 1
            if seen > 64:
                raise UsageError(f"--key-schema: $ref {ref!r} loops")
        if isinstance(node, bool):
            return {} if node else {"not": {}}
        return node

    @property
    def is_record(self) -> bool:
        return "object" in _types(self.resolve(self.root))

    def fields(self) -> list[tuple[tuple[str, ...], bool]]:
        out: list[tuple[tuple[str, ...], bool]] = []
        self._leaves(self.resolve(self.root), (), True, out, 0)
        return out

    def _leaves(self, node: Mapping, path: tuple, required: bool, out: list, depth: int) -> None:
        types = _types(node)
        if "object" not in types or not isinstance(node.get("properties"), Mapping) or depth > 8:
            out.append((path, required))
            return
        wanted = set(node.get("required", ()))
        for name, child in node["properties"].items():
            child = self.resolve(child)
            self._leaves(child, (*path, name), required and name in wanted
                         and "null" not in _types(child), out, depth + 1)  # fmt: skip

    def payload(self, value: object) -> bytes:
        return dumps(self.value(self.root, value))

    def payloads(self, array: pa.Array, prefix: bytes) -> tuple[pa.Array, np.ndarray] | None:
        return None

    # ------------------------------------------------------------------ typing a value
    def value(self, node: object, value: object) -> object:
        """``value`` as the JSON value the schema types it as, checked against the schema."""
        node = self.resolve(node)  # type: ignore[arg-type]
        if "not" in node and node["not"] == {}:
            raise Unrepresentable(f"{describe(value)}: the schema allows no value")
        for keyword in ("anyOf", "oneOf"):
            if keyword in node:
                return self.first_branch(node[keyword], value)
        if "const" in node:
            return self.member(value, [node["const"]], node)
        if "enum" in node:
            return self.member(value, list(node["enum"]), node)
        types = _types(node)
        typed = _typed(types, value)
        kind = _json_kind(typed)
        if kind == "object":
            typed = self.object(node, typed)
        elif kind == "array":
            items = node.get("items", {})
            if isinstance(items, list):  # draft 4-7 tuple form
                typed = [self.value(items[i] if i < len(items) else {}, v)
                         for i, v in enumerate(typed)]  # fmt: skip
            else:
                typed = [self.value(items, item) for item in typed]
        _check_bounds(node, typed)
        return typed

    def first_branch(self, branches: Sequence, value: object) -> object:
        for as_is in (True, False):
            for branch in branches:
                resolved = self.resolve(branch)
                if as_is and _json_kind(value) not in _types(resolved):
                    continue
                try:
                    return self.value(resolved, value)
                except Unrepresentable:
                    continue
        raise Unrepresentable(f"{describe(value)} fits no branch of anyOf/oneOf")

    def member(self, value: object, allowed: list, node: Mapping) -> object:
        if value in allowed and _json_kind(value) in {_json_kind(a) for a in allowed}:
            return value
        for candidate in allowed:  # text that converts to an allowed value ("42" -> 42)
            try:
                if _typed([_json_kind(candidate)], value) == candidate:
                    return candidate
            except Unrepresentable:
                continue
        raise Unrepresentable(f"{describe(value)} is not one of {describe(allowed)}")

    def object(self, node: Mapping, value: Mapping) -> dict:
        properties = node.get("properties", {})
        required = set(node.get("required", ()))
        out: dict = {}
        for name, child in properties.items():
            if name not in value:
                if name in required:
                    raise Unrepresentable(f"required property {name!r} is missing")
                continue
            item = value[name]
            resolved = self.resolve(child)
            if item is None and "null" not in _types(resolved) and name not in required:
                continue  # a null column for an optional property: left out
            out[name] = self.value(resolved, item)
        extra = node.get("additionalProperties", True)
        for name, item in value.items():
            if name in properties:
                continue
            if extra is False:
                raise Unrepresentable(f"property {name!r} is not allowed by the schema")
            out[name] = self.value(extra if isinstance(extra, Mapping) else {}, item)
        return out


def _types(node: Mapping) -> list[str]:
    kind = node.get("type")
    if kind is None:
        if "properties" in node:
            return ["object"]
        return list(_TYPES)
    kinds = [kind] if isinstance(kind, str) else list(kind)
    for name in kinds:
        if name not in _TYPES:
            raise UsageError(f"--key-schema: unknown JSON Schema type {name!r}")
    return kinds


def _json_kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, Mapping):
        return "object"
    if isinstance(value, (list, tuple)):
        return "array"
    return "other"


def _typed(types: list[str], value: object) -> object:
    """The value as one of ``types``: as it is when it already is one (the first in the
    schema's order), else the first type that converts it."""
    if isinstance(value, (np.generic,)):
        value = value.item()
    kind = _json_kind(value)
    if kind in types or (kind == "integer" and "number" in types):
        if kind == "number" and not math.isfinite(value):  # type: ignore[arg-type]
            raise Unrepresentable(f"{describe(value)} is not a JSON number")
        return list(value) if kind == "array" else value
    for name in types:
        try:
            return _convert(name, value)
        except Unrepresentable:
            continue
    raise Unrepresentable(f"{describe(value)} is not of type {' or '.join(types)}")


def _convert(kind: str, value: object) -> object:
    if kind == "null":
        if value is None:
            return None
        raise Unrepresentable(f"{describe(value)} is not null")
    if value is None:
        raise Unrepresentable(f"null is not {kind}")
    if kind == "boolean":
        return conv.to_bool(value)
    if kind == "integer":
        return conv.to_int(value, None)
    if kind == "number":
        try:
            return conv.to_int(value, None)
        except Unrepresentable:
            number = conv.to_float(value)
            if not math.isfinite(number):
                raise Unrepresentable(f"{describe(value)} is not a JSON number") from None
            return number
    if kind == "string":
        return conv.to_text(value)
    if isinstance(value, (str, bytes)):
        text = conv.to_text(value)
        try:
            parsed = json.loads(text)
        except json.JSONDecodeError:
            parsed = None
        if _json_kind(parsed) == kind:
            return parsed
    raise Unrepresentable(f"{describe(value)} is not a JSON {kind}")


def _check_bounds(node: Mapping, value: object) -> None:
    kind = _json_kind(value)
    if kind in ("integer", "number"):
        for keyword, fails in (
            ("minimum", lambda bound: value < bound),
            ("maximum", lambda bound: value > bound),
            ("exclusiveMinimum", lambda bound: value <= bound),
            ("exclusiveMaximum", lambda bound: value >= bound),
        ):
            bound = node.get(keyword)
            if isinstance(bound, (int, float)) and not isinstance(bound, bool) and fails(bound):
                raise Unrepresentable(f"{describe(value)} breaks {keyword} {bound}")
    elif kind == "string":
        length = len(value)  # type: ignore[arg-type]
        if "minLength" in node and length < node["minLength"]:
            raise Unrepresentable(f"{describe(value)} is shorter than {node['minLength']}")
        if "maxLength" in node and length > node["maxLength"]:
            raise Unrepresentable(f"{describe(value)} is longer than {node['maxLength']}")
        pattern = node.get("pattern")
        if isinstance(pattern, str) and not re.search(pattern, value):  # type: ignore[arg-type]
            raise Unrepresentable(f"{describe(value)} does not match pattern {pattern!r}")
