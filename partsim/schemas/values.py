"""Values as a schema's type holds them: Python values of the type, or text the type converts.

Every schema format (Avro, JSON Schema, Protobuf, Kafka Connect) takes its field values from
the input's columns, which are mostly text (CSV and JSON lines are read as text), and from
Python callers, who pass values of the type. Each function here takes either and returns
the value the encoder writes, or raises :class:`Unrepresentable` naming the value, which the
caller counts and skips (or, with ``strict``, reports).

A Python value of the type is taken as the serializers take it. Text is converted as the
type reads it: ``"42"`` is the integer 42 (integer text is read as Java's ``Long.parseLong``
reads it, :func:`parse_java_integer`, as the raw integer formats read it), ``"true"`` is a
boolean, ``"2024-05-01"`` a date, ``"2024-05-01T12:00:00Z"`` a timestamp (a time without an
offset is UTC). Text holding a lone UTF-16 surrogate is written by the producing client's
rule (:data:`TEXT_ENCODINGS`, :func:`utf8`).
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime
import decimal
import math
import re
import uuid

import numpy as np
import pyarrow as pa

from partsim.errors import DataError

__all__ = [
    "TEXT_ENCODINGS",
    "Unrepresentable",
    "encode_text",
    "encode_text_array",
    "java_utf8",
    "parse_java_integer",
    "read_varint",
    "surrogate_rows",
    "text_rule",
    "text_values",
    "to_bool",
    "to_bytes",
    "to_date_days",
    "to_decimal_unscaled",
    "to_float",
    "to_int",
    "to_text",
    "to_time",
    "to_timestamp",
    "twos_complement",
    "utf8",
]

_FLOAT = re.compile(
    r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|[+-]?(?:nan|inf|infinity)", re.I
)
_TEXT_RULE: contextvars.ContextVar[str] = contextvars.ContextVar("text_rule", default="jdk")
_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
_EPOCH_DAY = datetime.date(1970, 1, 1).toordinal()


class Unrepresentable(ValueError):
    """A value the schema cannot hold (wrong type, out of range, unparsable text)."""


def describe(value: object) -> str:
    """A short ``repr`` of a value for an error message."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _a(what: str) -> str:
    return f"an {what}" if what[:1] in "aeiou" else f"a {what}"


def _text_of(value: object) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, (bytes, bytearray)):
        try:
            return bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            return None
    return None


def to_int(value: object, bits: int | None = 64, *, signed: bool = True, what: str = "") -> int:
    """An integer of ``bits`` bits (any size for None): an int, an integral float, or
    integer text as Java's ``Long.parseLong`` reads it (:func:`parse_java_integer`: no
    spaces, ``_``, ``0x`` or exponent).

    >>> to_int("+42"), to_int(7.0)
    (42, 7)
    """
    if isinstance(value, (bool, np.bool_)):
        raise Unrepresentable(f"{describe(value)} is a boolean, not {_a(what or 'integer')}")
    integral_float = (
        isinstance(value, (float, np.floating)) and math.isfinite(value) and value == int(value)
    )
    if isinstance(value, (int, np.integer)) or integral_float:
        number = int(value)
    else:
        text = _text_of(value)
        parsed = None if text is None else parse_java_integer(text)
        if parsed is None:
            raise Unrepresentable(f"{describe(value)} is not {_a(what or 'integer')}")
        number = parsed
    if bits is None:
        return number
    low, high = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
    if not low <= number <= high:
        raise Unrepresentable(f"{number} is out of range for {what or f'{bits}-bit integers'}")
    return number


def to_float(value: object, *, what: str = "number") -> float:
    """A float: a float or int, or decimal text (``nan`` and ``inf`` included)."""
    if isinstance(value, (bool, np.bool_)):
        raise Unrepresentable(f"{describe(value)} is a boolean, not {_a(what)}")
    if isinstance(value, (int, float, np.integer, np.floating)):
        return float(value)
    if isinstance(value, decimal.Decimal):
        return float(value)
    text = _text_of(value)
    if text is None or not _FLOAT.fullmatch(text.strip()):
        raise Unrepresentable(f"{describe(value)} is not {_a(what)}")
    return float(text.strip())


def to_bool(value: object) -> bool:
    """A boolean: a bool, or the text ``true`` or ``false`` (any case)."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    text = _text_of(value)
    if text is not None and text.strip().lower() in ("true", "false"):
        return text.strip().lower() == "true"
    raise Unrepresentable(f"{describe(value)} is not a boolean (true or false)")


#: How a client's runtime writes a text key that holds a lone UTF-16 surrogate (text that
#: is valid Unicode is UTF-8 for every client). Each partitioner records its client's rule
#: (``Partitioner.text_encoding``); ``shared/reference/partitioners.md`` §1.7 and §14.
TEXT_ENCODINGS: dict[str, str] = {
    "jdk": "'?' (U+003F), as the JDK's String.getBytes(UTF_8) writes it",
    "replacement": "U+FFFD (EF BF BD), as Node's Buffer.from and Go's UTF-8 encoding write it",
    "refuse": "refused: Python's str.encode() raises, so the producer never sends the key",
    "utf-16": "hashed as the string's UTF-16 code units, the surrogate kept (String.hashCode)",
}
#: The same, in a word or two, for tables.
TEXT_ENCODING_SHORT: dict[str, str] = {
    "jdk": "'?'",
    "replacement": "U+FFFD",
    "refuse": "refused",
    "utf-16": "UTF-16 unit",
}
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def encode_text(text: str, text_encoding: str = "jdk") -> bytes:
    """``text`` in UTF-8 as a client whose runtime follows ``text_encoding`` writes it.

    Valid text is plain UTF-8 for every rule. Two surrogates that form a pair are one
    character to Java, JavaScript and Go (their strings are UTF-16, or decoded from it); a
    lone one is written as :data:`TEXT_ENCODINGS` says. ``"utf-16"`` keeps it as its
    generalized UTF-8 (``ED A0 80`` for U+D800), which the Java ``String.hashCode`` kernel
    reads back as that code unit.

    >>> [encode_text("a\\ud800b", rule) for rule in ("jdk", "replacement", "utf-16")]
    [b'a?b', b'a\\xef\\xbf\\xbdb', b'a\\xed\\xa0\\x80b']
    """
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        pass
    if text_encoding == "refuse":
        lone = _LONE_SURROGATE.search(text)
        code = f"U+{ord(lone[0]):04X}" if lone else "a surrogate"
        raise DataError(
            f"key {text!r} holds a lone UTF-16 surrogate ({code}), which this client refuses "
            "to encode (Python's str.encode() raises), so its producer never sends that key"
        )
    joined = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "surrogatepass")
    if text_encoding == "jdk":
        return joined.encode("utf-8", "replace")
    if text_encoding == "replacement":
        return _LONE_SURROGATE.sub("\ufffd", joined).encode("utf-8")
    return joined.encode("utf-8", "surrogatepass")


def encode_text_array(array: pa.Array, text_encoding: str = "jdk") -> pa.Array:
    """A string array's values as key bytes: its UTF-8 as it is, except values that hold a
    lone surrogate (kept by partsim's readers as generalized UTF-8), written by
    :func:`encode_text`."""
    binary = array.view(pa.large_binary() if pa.types.is_large_string(array.type) else pa.binary())
    rows = surrogate_rows(array)
    if not len(rows):
        return binary
    values = binary.to_pylist()
    for row in rows.tolist():
        values[row] = encode_text(_decoded(values[row]), text_encoding)
    return pa.array(values, binary.type)


def text_values(array: pa.Array) -> list[str | None]:
    """A string array's values as Python text, lone surrogates included (where
    ``to_pylist`` would raise on their generalized UTF-8)."""
    try:
        return array.to_pylist()
    except UnicodeDecodeError:
        binary = array.view(
            pa.large_binary() if pa.types.is_large_string(array.type) else pa.binary()
        )
        return [None if value is None else _decoded(value) for value in binary.to_pylist()]


def _decoded(value: bytes) -> str:
    try:
        return value.decode("utf-8", "surrogatepass")
    except UnicodeDecodeError:  # other bytes that are not UTF-8: as Java decodes them
        return value.decode("utf-8", "replace")


def surrogate_rows(array: pa.Array) -> np.ndarray:
    """The rows of a string array that hold a surrogate's generalized UTF-8 (``ED`` then
    ``A0``-``BF``, which valid UTF-8 never has), found over the data buffer at once."""
    if len(array) == array.null_count:
        return np.empty(0, dtype=np.int64)
    offsets_type = np.int64 if pa.types.is_large_string(array.type) else np.int32
    buffers = array.buffers()
    offsets = np.frombuffer(buffers[1], dtype=offsets_type)[
        array.offset : array.offset + len(array) + 1
    ]
    first, last = int(offsets[0]), int(offsets[-1])
    if buffers[2] is None or last <= first:
        return np.empty(0, dtype=np.int64)
    data = np.frombuffer(buffers[2], dtype=np.uint8)[first:last]
    leads = np.flatnonzero(data[:-1] == 0xED)
    if not len(leads):
        return np.empty(0, dtype=np.int64)
    leads = leads[data[leads + 1] >= 0xA0]
    rows = np.searchsorted(offsets, leads + first, side="right") - 1
    return np.unique(rows)


def parse_java_integer(text: str) -> int | None:
    """The integer ``text`` writes as Java's ``Integer.parseInt`` and ``Long.parseLong`` read
    it, or None: an optional ``+`` or ``-``, then decimal digits and nothing else (no
    spaces, ``_``, ``0x`` or exponent). Like Java's ``Character.digit``, a digit is any
    Unicode decimal digit in the Basic Multilingual Plane (``"\uff11\uff12"`` is 12); the
    range is for the caller to check.

    >>> [parse_java_integer(text) for text in ("+5", "-0", "007", " 5", "0x10", "1_000")]
    [5, 0, 7, None, None, None]
    """
    digits = text[1:] if text[:1] in ("+", "-") else text
    if not digits or not all(char.isdecimal() and char <= "\uffff" for char in digits):
        return None
    value = int(digits)  # int() reads every Unicode decimal digit
    return -value if text[0] == "-" else value


def java_utf8(text: str) -> bytes:
    """UTF-8 as Java's ``String.getBytes(UTF_8)`` writes it: a lone surrogate becomes ``?``.

    >>> java_utf8("a\\ud800b")
    b'a?b'
    """
    return encode_text(text, "jdk")


def utf8(text: str) -> bytes:
    """Text as the bytes a schema serializer writes for it, in the producing client's
    runtime: plain UTF-8, except a lone surrogate, written by the rule :func:`text_rule`
    holds (:func:`encode_text`; the JDK's ``?`` outside ``KeySchema.encode``). A client
    that refuses such text makes the key :class:`Unrepresentable`.

    >>> with text_rule("replacement"):
    ...     utf8("a\\ud800b")
    b'a\\xef\\xbf\\xbdb'
    """
    try:
        return encode_text(text, _TEXT_RULE.get())
    except DataError as error:
        raise Unrepresentable(str(error)) from None


@contextlib.contextmanager
def text_rule(text_encoding: str):
    """Within the block, :func:`utf8` writes lone surrogates as ``text_encoding`` says (the
    client's rule, :data:`TEXT_ENCODINGS`)."""
    token = _TEXT_RULE.set(text_encoding)
    try:
        yield
    finally:
        _TEXT_RULE.reset(token)


def to_text(value: object) -> str:
    """Text: a str, an int or bool as Java's ``toString`` writes it, a UUID, or UTF-8 bytes."""
    if isinstance(value, str):
        return value
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, uuid.UUID):
        return str(value)
    text = _text_of(value)
    if text is None:
        raise Unrepresentable(f"{describe(value)} is not text")
    return text


def to_bytes(value: object) -> bytes:
    """Bytes: bytes as they are, or text as UTF-8 (surrogate escapes as the bytes they
    stand for)."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, str):
        try:
            return value.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError:
            raise Unrepresentable(f"{describe(value)} is not UTF-8 text") from None
    raise Unrepresentable(f"{describe(value)} is not bytes")


def to_decimal_unscaled(value: object, scale: int, precision: int | None) -> int:
    """The unscaled integer of a decimal at ``scale``, as Java's Avro and Connect take it:
    a value with more decimal places than ``scale`` is refused unless the extra digits are
    zeros (``BigDecimal.setScale(scale, UNNECESSARY)``), and so is one with more than
    ``precision`` digits at that scale.

    >>> to_decimal_unscaled("12.30", 2, 4), to_decimal_unscaled(5, 2, None)
    (1230, 500)
    """
    if isinstance(value, (bool, np.bool_)):
        raise Unrepresentable(f"{describe(value)} is a boolean, not a decimal")
    if isinstance(value, decimal.Decimal):
        number = value
    elif isinstance(value, (int, np.integer)):
        number = decimal.Decimal(int(value))
    elif isinstance(value, (float, np.floating)):
        number = decimal.Decimal(repr(float(value)))
    else:
        text = _text_of(value)
        try:
            number = decimal.Decimal((text or "").strip())
        except decimal.InvalidOperation:
            raise Unrepresentable(f"{describe(value)} is not a decimal") from None
    if not number.is_finite():
        raise Unrepresentable(f"{describe(value)} is not a finite decimal")
    sign, digits, exponent = number.as_tuple()
    unscaled = int("".join(map(str, digits)) or "0")
    shift = exponent + scale
    if shift >= 0:
        unscaled *= 10**shift
    else:
        unscaled, rest = divmod(unscaled, 10**-shift)
        if rest:
            raise Unrepresentable(f"{describe(value)} has more than {scale} decimal places")
    if precision is not None and len(str(unscaled)) > precision and unscaled:
        raise Unrepresentable(f"{describe(value)} has more than {precision} digits")
    return -unscaled if sign else unscaled


def twos_complement(number: int) -> bytes:
    """Big-endian two's complement in the fewest bytes, as Java's ``BigInteger.toByteArray``
    writes a decimal's unscaled value.

    >>> twos_complement(-128).hex(), twos_complement(128).hex(), twos_complement(0).hex()
    ('80', '0080', '00')
    """
    magnitude = number if number >= 0 else -number - 1
    return number.to_bytes(magnitude.bit_length() // 8 + 1, "big", signed=True)


def read_varint(data: bytes, at: int) -> tuple[int, int]:
    """The base-128 varint at ``data[at]`` (unsigned), and where it ends; a
    :class:`ValueError` when the data ends first.

    >>> read_varint(bytes([0x96, 0x01]), 0)
    (150, 2)
    """
    value = shift = 0
    while True:
        if at >= len(data) or shift > 63:
            raise ValueError("a varint runs past the data")
        byte = data[at]
        value |= (byte & 0x7F) << shift
        at += 1
        if not byte & 0x80:
            return value, at
        shift += 7


def to_date_days(value: object) -> int:
    """Days since 1970-01-01: a date (a datetime's date), an int, or ``YYYY-MM-DD`` text."""
    if isinstance(value, datetime.datetime):
        return value.date().toordinal() - _EPOCH_DAY
    if isinstance(value, datetime.date):
        return value.toordinal() - _EPOCH_DAY
    if isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)):
        return to_int(value, 32, what="date")
    text = _text_of(value)
    if text is not None:
        stripped = text.strip()
        if parse_java_integer(text) is not None:
            return to_int(text, 32, what="date")
        try:
            return datetime.date.fromisoformat(stripped).toordinal() - _EPOCH_DAY
        except ValueError:
            pass
    raise Unrepresentable(f"{describe(value)} is not a date (YYYY-MM-DD)")


def to_time(value: object, per_second: int) -> int:
    """Time of day in units of ``1/per_second`` s: a ``time``, an int, or ``hh:mm:ss[.f]``."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)):
        return int(value)
    if isinstance(value, datetime.time):
        moment = value
    else:
        text = _text_of(value)
        if text is not None and parse_java_integer(text) is not None:
            return to_int(text, None)
        try:
            moment = datetime.time.fromisoformat((text or "").strip())
        except ValueError:
            raise Unrepresentable(f"{describe(value)} is not a time of day (hh:mm:ss)") from None
    micros = ((moment.hour * 60 + moment.minute) * 60 + moment.second) * 10**6
    micros += moment.microsecond
    return micros * per_second // 10**6


def to_timestamp(value: object, per_second: int, *, local: bool = False) -> int:
    """Units of ``1/per_second`` s since the epoch, rounded down: a datetime (naive ones, and
    ``local`` ones, taken as UTC), an int, integer text, or ISO 8601 text.

    >>> to_timestamp("2024-05-01T00:00:00.0019Z", 1000)
    1714521600001
    """
    if isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)):
        return to_int(value, 64, what="timestamp")
    if isinstance(value, np.datetime64):
        value = value.astype("datetime64[us]").item()
    if not isinstance(value, datetime.datetime):
        text = _text_of(value)
        if text is not None and parse_java_integer(text) is not None:
            return to_int(text, 64, what="timestamp")
        try:
            value = datetime.datetime.fromisoformat((text or "").strip())
        except ValueError:
            raise Unrepresentable(f"{describe(value)} is not a timestamp (ISO 8601)") from None
    if value.tzinfo is None or local:
        value = value.replace(tzinfo=datetime.timezone.utc)
    delta = value - _EPOCH
    micros = (delta.days * 86_400 + delta.seconds) * 10**6 + delta.microseconds
    return to_int(micros * per_second // 10**6, 64, what="timestamp")
