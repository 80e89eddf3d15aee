"""Key serialization, as producers do it: from user values to the key bytes that get hashed.

A partitioner hashes the *serialized* key, so the serializer decides the partition as much as
the hash does. Each ``key_format`` reproduces one serializer:

============  ===============================================================================
``string``    Kafka's ``StringSerializer``: UTF-8. Bytes pass through. A lone UTF-16
              surrogate is written the way the client's runtime writes it
              (:data:`TEXT_ENCODINGS`): ``?`` in the JDK (``"a\\ud800b"`` -> ``61 3f 62``),
              U+FFFD in Node and Go (``61 ef bf bd 62``); Python clients refuse the key.
``bytes``     ``ByteArraySerializer``: the bytes as given (a ``str`` is taken as UTF-8).
``hex``       the key is written in hex (``"0a1b"``, optional ``0x``); its bytes are hashed.
``base64``    the key is written in standard base64; its bytes are hashed.
``int16``     ``ShortSerializer``: 2 bytes, big-endian two's complement.
``int32``     ``IntegerSerializer``: 4 bytes, big-endian two's complement.
``int64``     ``LongSerializer``: 8 bytes, big-endian two's complement.
``uuid``      ``UUIDSerializer``: the 36-character lowercase ``toString()`` in UTF-8, not the
              16 raw bytes.
============  ===============================================================================

Integer formats take integers, or text written as Java's ``Integer.parseInt`` (``Short``,
``Long``) reads it, the way a Java producer's user would have parsed it: an optional ``+`` or
``-``, then decimal digits, nothing else (``+5`` and ``007`` are read; `` 5``, ``0x10``,
``1_000`` and ``1e3`` are refused, each with the same one-line error on every path). As in
Java, a digit is any Unicode decimal digit of the Basic Multilingual Plane (``１２`` is 12).

Keys with a schema (``key_schema``) are written by :mod:`partsim.schemas`:

===========================  ================================================================
``avro``                     Avro binary (``KafkaAvroSerializer``, ``AvroSerializer``): the
                             long 42 is ``54``, the string ``user-42`` is
                             ``0e 75 73 65 72 2d 34 32``.
``json``                     JSON Schema serializer: compact JSON, ``{"id":42}``.
``protobuf``                 Protobuf serializer: the message-index list, then the message.
``connect-json``             Kafka Connect ``JsonConverter`` with ``schemas.enable=true``:
                             ``{"schema":...,"payload":...}``.
``connect-json-schemaless``  ``JsonConverter`` with ``schemas.enable=false``: the payload.
===========================  ================================================================

Confluent Schema Registry framing (``schema_id``) prepends ``0x00`` and the 4-byte big-endian
schema id, plus the message-index list for Protobuf (``[0]`` is the single byte ``0x00``);
see ``confluentinc/schema-registry`` ``SchemaId.java``. With a raw format (``string``,
``int64``, ...) the frame goes before the raw bytes (``schema_type`` ``protobuf`` adds the
index byte): no Schema Registry serializer writes that, so use it only for a payload that
is already serialized (``bytes``).

``None`` is a Kafka null key under every format: serializers return null for null.
"""

from __future__ import annotations

import base64
import binascii
import sys
import uuid
from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from partsim.errors import DataError, UsageError, invalid_choice
from partsim.schemas import SCHEMA_FORMATS, Encoded, KeyFormat, frame
from partsim.schemas.values import (
    TEXT_ENCODING_SHORT,
    TEXT_ENCODINGS,
    encode_text,
    encode_text_array,
    java_utf8,
    parse_java_integer,
    surrogate_rows,
    text_values,
)

__all__ = [
    "KEY_FORMATS",
    "SCHEMA_TYPES",
    "TEXT_ENCODINGS",
    "TEXT_ENCODING_SHORT",
    "encode_keys",
    "encode_text",
    "java_utf8",
    "schema_prefix",
    "serialize_keys",
    "to_key_array",
]

#: Formats that serialize a value by itself (no schema).
RAW_FORMATS: tuple[str, ...] = (
    "string",
    "bytes",
    "hex",
    "base64",
    "int16",
    "int32",
    "int64",
    "uuid",
)
KEY_FORMATS: tuple[str, ...] = RAW_FORMATS + SCHEMA_FORMATS
SCHEMA_TYPES: tuple[str, ...] = ("avro", "json", "protobuf")

_INT_WIDTHS = {"int16": 2, "int32": 4, "int64": 8}
_JAVA_PARSE = {"int16": "Short.parseShort", "int32": "Integer.parseInt", "int64": "Long.parseLong"}
_UUID_CANONICAL = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"

KeyArray = pa.Array | pa.ChunkedArray


def check_key_format(key_format: str) -> str:
    if key_format not in KEY_FORMATS:
        raise invalid_choice("key_format", key_format, KEY_FORMATS)
    return key_format


def schema_prefix(
    schema_id: int, schema_type: str = "avro", message_indexes: Sequence[int] = (0,)
) -> bytes:
    """The Confluent wire-format prefix that precedes a framed key's payload.

    >>> schema_prefix(1).hex()
    '0000000001'
    >>> schema_prefix(7, "protobuf").hex()
    '000000000700'
    """
    if schema_type not in SCHEMA_TYPES:
        raise invalid_choice("schema_type", schema_type, SCHEMA_TYPES)
    return frame(schema_id, message_indexes if schema_type == "protobuf" else None)


def to_key_array(keys: object) -> KeyArray:
    """Turn user keys (list, tuple, numpy array, pandas Series, pyarrow array) into Arrow.

    Strings stay strings, bytes stay binary and ``None`` becomes null. Nothing is encoded
    here: that is :func:`serialize_keys`' job.
    """
    if isinstance(keys, (pa.Array, pa.ChunkedArray)):
        return keys
    if isinstance(keys, (str, bytes)):
        raise UsageError(
            "keys must be a sequence of keys (list, numpy array, pandas Series or pyarrow "
            f"array); got a single {type(keys).__name__}: wrap it in a list"
        )
    pd = sys.modules.get("pandas")  # a Series can only exist once pandas is imported
    if pd is not None and isinstance(keys, pd.Series | pd.Index):
        try:  # pyarrow maps NaN, None and pd.NA to null, and categories to a dictionary
            return pa.Array.from_pandas(keys)
        except (pa.ArrowException, TypeError, ValueError):
            return _ObjectKeys(
                None if missing else key for key, missing in zip(keys, keys.isna(), strict=True)
            )
    if isinstance(keys, np.ndarray):
        if keys.ndim != 1:
            raise UsageError(f"keys must be one-dimensional; got an array of shape {keys.shape}")
        if keys.dtype.kind in "iub":
            return pa.array(keys)
        if keys.dtype.kind in "US":
            return pa.array(keys.tolist())
        keys = keys.tolist()
    if not isinstance(keys, (list, tuple)):
        try:
            keys = list(keys)  # type: ignore[call-overload]
        except TypeError:
            raise UsageError(
                "keys must be a list, tuple, numpy array, pandas Series or pyarrow array; "
                f"got {type(keys).__name__}"
            ) from None
    try:
        return pa.array(keys)
    except (pa.ArrowException, UnicodeEncodeError, OverflowError, TypeError):
        # Mixed or unusual values (lone surrogates, uuid.UUID, huge ints): keep them as
        # Python objects; serialize_keys encodes them one by one.
        return _ObjectKeys(keys)


class _ObjectKeys(list):
    """Keys that Arrow cannot hold as they are; serialized one by one."""


def encode_keys(keys: object, key: KeyFormat) -> Encoded:
    """Keys serialized as ``key`` says, with the mask of keys a schema cannot hold (for a
    caller that counts and skips them); a raw format raises :class:`DataError` instead. Text
    with a lone surrogate is written by the client's rule (``key.text_encoding``)."""
    serializer = key.serializer()
    if serializer is not None:
        # Python values go to the schema as they are: Arrow would coerce a list of mixed
        # numbers (or dicts with missing fields) to one type.
        values = keys if isinstance(keys, (list, tuple)) else to_key_array(keys)
        return serializer.encode(values, key.text_encoding)
    return Encoded(_serialize_raw(keys, key), None, [])


def serialize_keys(
    keys: object,
    key_format: str = "string",
    *,
    schema_id: int | None = None,
    schema_type: str = "avro",
    key_schema: str | None = None,
    key_message: str | None = None,
    text_encoding: str = "jdk",
) -> KeyArray:
    """Serialize keys as the producer would; returns an Arrow binary array (nulls kept).

    With a schema format, keys are values of the schema's type (or text it converts, or
    dicts for records); a key the schema cannot hold is a :class:`DataError`.
    ``text_encoding`` is how the client's runtime writes text that holds a lone surrogate
    (:data:`TEXT_ENCODINGS`; a partitioner's is its ``text_encoding``).

    >>> serialize_keys([1, None, -1], "int16").to_pylist()
    [b'\\x00\\x01', None, b'\\xff\\xff']
    >>> serialize_keys([42], "avro", key_schema='"long"', schema_id=3).to_pylist()
    [b'\\x00\\x00\\x00\\x00\\x03T']
    >>> serialize_keys(["a\\ud800b"], text_encoding="replacement").to_pylist()
    [b'a\\xef\\xbf\\xbdb']
    """
    check_key_format(key_format)
    key = KeyFormat(key_format, key_schema, schema_id, schema_type, key_message,
                    text_encoding=text_encoding)  # fmt: skip
    return encode_keys(keys, key).checked(key_format)


def _serialize_raw(keys: object, key: KeyFormat) -> KeyArray:
    key_format, schema_id, schema_type = key.key_format, key.schema_id, key.schema_type
    text_encoding = key.text_encoding
    array = to_key_array(keys)
    if isinstance(array, _ObjectKeys):
        out: KeyArray = pa.array(
            [None if value is None else _serialize_one(value, key_format, text_encoding)
             for value in array],
            type=pa.binary(),
        )  # fmt: skip
    elif isinstance(array, pa.ChunkedArray):
        out = (
            pa.chunked_array(
                [_serialize_array(chunk, key_format, text_encoding) for chunk in array.chunks],
                type=pa.binary(),
            )
            if array.num_chunks
            else pa.chunked_array([], type=pa.binary())
        )
    else:
        out = _serialize_array(array, key_format, text_encoding)
    if schema_id is not None:
        prefix = pa.scalar(schema_prefix(schema_id, schema_type), type=pa.binary())
        out = pc.binary_join_element_wise(prefix, out, pa.scalar(b"", type=pa.binary()))
    return out


def _serialize_array(array: pa.Array, key_format: str, text_encoding: str = "jdk") -> pa.Array:
    kind = array.type
    if pa.types.is_dictionary(kind):
        array = array.dictionary_decode()
        kind = array.type
    if pa.types.is_null(kind):
        return pa.nulls(len(array), type=pa.binary())
    if key_format in ("string", "bytes"):
        if pa.types.is_string(kind) or pa.types.is_large_string(kind):
            return encode_text_array(array, text_encoding)
        if pa.types.is_binary(kind) or pa.types.is_large_binary(kind):
            return array
        if pa.types.is_fixed_size_binary(kind):
            return array.cast(pa.binary())
        if key_format == "string" and (pa.types.is_integer(kind) or pa.types.is_boolean(kind)):
            # Integer.toString / Boolean.toString, then StringSerializer.
            return array.cast(pa.string()).view(pa.binary())
        raise DataError(
            f"key_format {key_format!r} needs text or bytes keys; got Arrow type {kind}"
        )
    if key_format in _INT_WIDTHS:
        return _serialize_ints(array, key_format)
    if key_format == "uuid" and (pa.types.is_string(kind) or pa.types.is_large_string(kind)):
        lowered = pc.utf8_lower(array)
        canonical = pc.match_substring_regex(lowered, _UUID_CANONICAL)
        if pc.all(pc.or_kleene(canonical, pc.is_null(array))).as_py():
            return lowered.cast(pa.string()).view(pa.binary())
    # hex, base64, uuid in other spellings: one by one, with errors naming the bad value.
    return pa.array(
        [None if key is None else _serialize_one(key, key_format, text_encoding)
         for key in text_values(array)],
        type=pa.binary(),
    )  # fmt: skip


def _serialize_ints(array: pa.Array, key_format: str) -> pa.Array:
    width = _INT_WIDTHS[key_format]
    kind = array.type
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        array = _parse_int_text(array, key_format)
    elif pa.types.is_unsigned_integer(kind) and kind.bit_width == 64:
        too_big = pc.greater(array, pa.scalar(2**63 - 1, type=kind))
        if pc.any(too_big).as_py():
            bad = pc.filter(array, too_big)[0].as_py()
            raise _int_range_error(key_format, bad)
        array = array.cast(pa.int64())
    elif pa.types.is_integer(kind) or pa.types.is_boolean(kind):
        array = array.cast(pa.int64()) if not pa.types.is_boolean(kind) else array.cast(pa.int8())
    else:
        raise DataError(f"key_format {key_format!r} needs integer keys; got Arrow type {kind}")
    values = array.fill_null(0).to_numpy(zero_copy_only=False).astype(np.int64, copy=False)
    low, high = -(1 << (8 * width - 1)), (1 << (8 * width - 1)) - 1
    out_of_range = (values < low) | (values > high)
    if out_of_range.any():
        raise _int_range_error(key_format, int(values[np.flatnonzero(out_of_range)[0]]))
    packed = values.astype(f">i{width}").view(np.uint8)
    fixed = pa.FixedSizeBinaryArray.from_buffers(
        pa.binary(width), len(values), [None, pa.py_buffer(packed)]
    )
    if array.null_count:
        fixed = pc.if_else(array.is_valid(), fixed, pa.scalar(None, type=pa.binary(width)))
    return fixed.cast(pa.binary())


#: An integer key's text in its ASCII form, which Arrow's cast reads (after dropping a '+').
_ASCII_INT = r"^[+-]?[0-9]+$"


def _parse_int_text(array: pa.Array, key_format: str) -> pa.Array:
    """Text keys as int64, read as :func:`parse_java_integer` reads them, or a
    :class:`DataError` naming the first key that is not such an integer or is out of range."""
    ascii_form = pc.match_substring_regex(array, _ASCII_INT)
    if pc.all(pc.or_kleene(ascii_form, pc.is_null(array))).as_py():
        try:  # the common case: Arrow's cast, which takes no '+'
            return pc.replace_substring_regex(array, r"^\+", "").cast(pa.int64())
        except pa.ArrowInvalid:
            pass  # past int64: the loop below names the key
    values = [None if key is None else _java_int_or_error(key, key_format)
              for key in text_values(array)]  # fmt: skip
    too_big = next((value for value in values if value is not None and
                    not -(1 << 63) <= value < (1 << 63)), None)  # fmt: skip
    if too_big is not None:
        raise _int_range_error(key_format, too_big)
    return pa.array(values, pa.int64())


def _java_int_or_error(key: object, key_format: str) -> int:
    value = parse_java_integer(key) if isinstance(key, str) else None
    if value is None:
        raise DataError(
            f"key_format {key_format!r} needs integer keys; got {key!r} (an optional sign and "
            f"decimal digits, as Java's {_JAVA_PARSE[key_format]} reads them)"
        )
    return value


def _int_range_error(key_format: str, value: int) -> DataError:
    bits = 8 * _INT_WIDTHS[key_format]
    return DataError(
        f"key {value} is out of range for key_format {key_format!r} "
        f"({-(1 << (bits - 1))} to {(1 << (bits - 1)) - 1})"
    )


def is_utf8(text: str) -> bool:
    """Whether ``text`` encodes as UTF-8: no lone surrogates (such as the surrogate escapes
    of bytes that were not UTF-8).

    >>> is_utf8("été"), is_utf8("a\\udcff")
    (True, False)
    """
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def escaped_surrogates(array: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """A string array whose lone surrogates (if any) are written as ``\\ud800`` escapes, so
    that it is valid UTF-8: for names that are shown, not hashed."""
    if isinstance(array, pa.ChunkedArray):
        if not any(len(surrogate_rows(chunk)) for chunk in array.chunks):
            return array
        array = array.combine_chunks()
    elif not len(surrogate_rows(array)):
        return array
    return pa.array(
        [None if text is None else text.encode("utf-8", "backslashreplace").decode("utf-8")
         for text in text_values(array)],
        array.type,
    )  # fmt: skip


def display_text(value: bytes) -> str:
    """Key bytes as text to show: UTF-8, with a lone surrogate as ``\\ud800`` and other
    bytes that are not UTF-8 as ``\\xff``.

    >>> display_text(b"a\\xed\\xa0\\x80b"), display_text(b"a\\xffb")
    ('a\\\\ud800b', 'a\\\\xffb')
    """
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return value.decode("utf-8", "surrogatepass").encode("utf-8", "backslashreplace").decode()
    except UnicodeDecodeError:
        return value.decode("utf-8", "backslashreplace")


def _serialize_one(key: object, key_format: str, text_encoding: str = "jdk") -> bytes:
    """Serialize one key (the slow path for values Arrow cannot hold or formats to decode)."""
    if key_format == "string":
        if isinstance(key, (bytes, bytearray, memoryview)):
            return bytes(key)
        if isinstance(key, bool):
            return b"true" if key else b"false"
        if isinstance(key, (str, int, uuid.UUID)):
            return encode_text(str(key), text_encoding)
        raise DataError(f"key_format 'string' needs text or bytes keys; got {key!r}")
    if key_format == "bytes":
        if isinstance(key, (bytes, bytearray, memoryview)):
            return bytes(key)
        if isinstance(key, str):
            try:  # the surrogate escapes of bytes that were not UTF-8 are those bytes
                return key.encode("utf-8", "surrogateescape")
            except UnicodeEncodeError:
                return encode_text(key, text_encoding)
        raise DataError(f"key_format 'bytes' needs bytes or text keys; got {key!r}")
    if key_format == "hex":
        text = _text(key, key_format)
        digits = text.strip()
        if digits[:2].lower() == "0x":
            digits = digits[2:]
        try:
            return bytes.fromhex(digits)
        except ValueError:
            raise DataError(f"key_format 'hex' cannot decode {text!r}: not hex digits") from None
    if key_format == "base64":
        text = _text(key, key_format)
        try:
            return base64.b64decode(text.strip(), validate=True)
        except (binascii.Error, ValueError):
            raise DataError(f"key_format 'base64' cannot decode {text!r}") from None
    if key_format in _INT_WIDTHS:
        if isinstance(key, (bytes, bytearray)):
            key = key.decode("utf-8", "replace")
        if isinstance(key, str):
            key = _java_int_or_error(key, key_format)
        if isinstance(key, bool) or not isinstance(key, (int, np.integer)):
            raise DataError(f"key_format {key_format!r} needs integer keys; got {key!r}")
        width = _INT_WIDTHS[key_format]
        try:
            return int(key).to_bytes(width, "big", signed=True)
        except OverflowError:
            raise _int_range_error(key_format, int(key)) from None
    if key_format == "uuid":
        if isinstance(key, uuid.UUID):
            return str(key).encode("ascii")
        text = _text(key, key_format)
        try:
            return str(uuid.UUID(text.strip())).encode("ascii")
        except ValueError:
            raise DataError(f"key_format 'uuid' cannot parse {text!r} as a UUID") from None
    raise invalid_choice("key_format", key_format, KEY_FORMATS)  # pragma: no cover


def _text(key: object, key_format: str) -> str:
    if isinstance(key, (bytes, bytearray)):
        return bytes(key).decode("utf-8", "replace")
    if isinstance(key, str):
        return key
    raise DataError(f"key_format {key_format!r} needs text keys; got {key!r}")


def key_display(key: KeyFormat):
    """A function that shows a serialized key as the user wrote it (:func:`display_key`;
    keys with a schema are decoded by it, as JSON for records)."""
    serializer = key.serializer()
    if serializer is not None:
        return serializer.display
    prefix = len(key.prefix())
    return lambda raw: display_key(raw, key.key_format, prefix)


def display_key(raw: bytes | None, key_format: str, prefix: int = 0) -> str:
    """A serialized key shown as the user wrote it (framing removed); ``(null)`` for a null
    key that the partitioner hashes (librdkafka's consistent, murmur2 and fnv1a do)."""
    if raw is None:
        return "(null)"
    payload = raw[prefix:]
    if key_format in ("int16", "int32", "int64"):
        return str(int.from_bytes(payload, "big", signed=True))
    if key_format == "hex":
        return payload.hex()
    if key_format == "base64":
        return base64.b64encode(payload).decode("ascii")
    return display_text(payload)


def display_keys(raws: pa.Array, key_format: str, prefix: int = 0) -> list[str]:
    """:func:`display_key` of each serialized key of an Arrow binary array, at Arrow's speed
    for text keys (valid UTF-8) and whole-width integers; other keys one at a time.

    >>> display_keys(pa.array([b"a", None, b"\\xff"]), "string")
    ['a', '(null)', '\\\\xff']
    """
    if isinstance(raws, pa.ChunkedArray):
        raws = raws.combine_chunks() if raws.num_chunks else pa.array([], pa.binary())
    if prefix and len(raws):
        longest = pc.max(pc.binary_length(raws)).as_py() or prefix
        raws = pc.binary_slice(raws, prefix, max(longest, prefix))  # an explicit end (pyarrow 26)
    width = _INT_WIDTHS.get(key_format)
    if width is not None and not raws.null_count and len(raws):
        lengths = pc.binary_length(raws).to_numpy(zero_copy_only=False)
        if (lengths == width).all():
            offsets = np.frombuffer(raws.buffers()[1], dtype=np.int32 if pa.types.is_binary(
                raws.type) else np.int64)[raws.offset : raws.offset + len(raws) + 1]  # fmt: skip
            data = np.frombuffer(raws.buffers()[2], dtype=np.uint8)[offsets[0] : offsets[-1]]
            return [str(v) for v in data.view(f">i{width}").tolist()]
    if width is None and key_format not in ("hex", "base64"):
        try:
            text = pc.cast(raws, pa.large_string())
        except pa.ArrowInvalid:
            text = None
        if text is not None:
            return ["(null)" if value is None else value for value in text.to_pylist()]
    return [display_key(raw, key_format) for raw in raws.to_pylist()]
