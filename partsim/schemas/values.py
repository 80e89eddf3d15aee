"""Values as a schema's type holds them: Python values of the type, or text the type converts.

Every schema format (Avro, JSON Schema, Protobuf, Kafka Connect) takes its field values from
the input's columns, which are mostly text (CSV and JSON lines are read as text), and from
Python callers, who pass values of the type. Each function here takes either and returns
the value the encoder writes, or raises :class:`Unrepresentable` naming the value, which the
caller counts and skips (or, with ``strict``, reports).

A Python value of the type is taken as the serializers take it. Text is converted as the
type reads it: ``"42"`` is the integer 42, ``"true"`` is a boolean, ``"2024-05-01"`` a date,
``"2024-05-01T12:00:00Z"`` a timestamp (a time without an offset is UTC).
"""

from __future__ import annotations

import datetime
import decimal
import math
import re
import uuid

import numpy as np

__all__ = [
    "Unrepresentable",
    "java_utf8",
    "read_varint",
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
]

_INTEGER = re.compile(r"[+-]?[0-9]+")
_FLOAT = re.compile(
    r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|[+-]?(?:nan|inf|infinity)", re.I
)
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
    integer text.

    >>> to_int(" 42 "), to_int(7.0)
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
        if text is None or not _INTEGER.fullmatch(text.strip()):
            raise Unrepresentable(f"{describe(value)} is not {_a(what or 'integer')}")
        number = int(text.strip(), 10)
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


def java_utf8(text: str) -> bytes:
    """UTF-8 as Java's ``String.getBytes(UTF_8)`` writes it: a lone surrogate becomes ``?``.

    >>> java_utf8("a\\ud800b")
    b'a?b'
    """
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        joined = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "surrogatepass")
        return joined.encode("utf-8", "replace")


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
        if _INTEGER.fullmatch(stripped):
            return to_int(stripped, 32, what="date")
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
        if text is not None and _INTEGER.fullmatch(text.strip()):
            return int(text.strip())
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
        if text is not None and _INTEGER.fullmatch(text.strip()):
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
