"""Key serialization: each key_format writes the bytes the real serializer writes."""

from __future__ import annotations

import base64
import struct
import uuid

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import partsim
from partsim.serde import java_utf8, schema_prefix, serialize_keys
from tests.strategies import text_keys


def _bytes(keys, key_format, **options) -> list:
    return serialize_keys(keys, key_format, **options).to_pylist()


def test_string_is_utf8_and_none_stays_null() -> None:
    assert _bytes(["añb", "", None], "string") == ["añb".encode(), b"", None]


def test_lone_surrogate_becomes_question_mark_like_the_jdk() -> None:
    # JDK 17: "a\uD800b".getBytes(UTF_8) == 61 3f 62 (shared/reference/partitioners.md §1.7)
    assert _bytes(["a\ud800b"], "string") == [b"a?b"]
    # A surrogate pair held as two code points is one character to Java.
    assert _bytes(["\ud83d\ude00"], "string") == ["😀".encode()]


@settings(max_examples=200, deadline=None)
@given(text=text_keys)
def test_string_serializer_matches_java_utf8(text: str) -> None:
    assert _bytes([text], "string") == [java_utf8(text)]
    assert (
        partsim.assign([text], 12).tolist()
        == partsim.assign([java_utf8(text)], 12, key_format="bytes").tolist()
    )


@pytest.mark.parametrize(
    ("key_format", "width", "pack"), [("int16", 2, ">h"), ("int32", 4, ">i"), ("int64", 8, ">q")]
)
def test_ints_are_big_endian_twos_complement(key_format: str, width: int, pack: str) -> None:
    low, high = -(1 << (8 * width - 1)), (1 << (8 * width - 1)) - 1
    values = [0, 1, -1, 42, low, high]
    expected = [struct.pack(pack, value) for value in values]
    assert _bytes(values, key_format) == expected  # Python ints
    assert _bytes([str(v) for v in values], key_format) == expected  # text, as read from CSV
    assert _bytes(np.array(values, dtype=np.int64), key_format) == expected  # numpy
    assert _bytes(pd.Series(values), key_format) == expected  # pandas
    assert _bytes([None, 7], key_format) == [None, struct.pack(pack, 7)]
    with pytest.raises(partsim.DataError, match=f"out of range for key_format '{key_format}'"):
        serialize_keys([high + 1], key_format)
    with pytest.raises(partsim.DataError, match="out of range"):
        serialize_keys([str(low - 1)], key_format)


@pytest.mark.parametrize("key_format", ["int16", "int32", "int64"])
def test_int_format_rejects_text(key_format: str) -> None:
    with pytest.raises(
        partsim.DataError, match=f"key_format '{key_format}' needs integer keys; got 'abc'"
    ):
        serialize_keys(["12", "abc"], key_format)


def test_int64_beyond_python_range_is_a_clear_error() -> None:
    with pytest.raises(partsim.DataError, match="out of range for key_format 'int64'"):
        serialize_keys([2**70], "int64")


def test_uuid_is_the_36_character_string() -> None:
    value = uuid.UUID("9b2f6c1e-3f4a-4c1d-8e55-2a7d0f4b6c19")
    expected = [str(value).encode()]
    assert _bytes([str(value)], "uuid") == expected
    assert _bytes([str(value).upper()], "uuid") == expected
    assert _bytes(["{" + value.hex + "}"], "uuid") == expected
    assert _bytes([value], "uuid") == expected
    with pytest.raises(partsim.DataError, match="cannot parse 'nope' as a UUID"):
        serialize_keys(["nope"], "uuid")


def test_hex_and_base64_decode() -> None:
    assert _bytes(["00ff", "0x0A0b", None], "hex") == [b"\x00\xff", b"\x0a\x0b", None]
    assert _bytes([base64.b64encode(b"\x00\x01\xfe").decode()], "base64") == [b"\x00\x01\xfe"]
    with pytest.raises(partsim.DataError, match="key_format 'hex' cannot decode 'xyz'"):
        serialize_keys(["xyz"], "hex")
    with pytest.raises(partsim.DataError, match="key_format 'base64' cannot decode"):
        serialize_keys(["***"], "base64")


def test_bytes_pass_through_and_text_is_utf8() -> None:
    assert _bytes([b"\x00\xff", "é"], "bytes") == [b"\x00\xff", "é".encode()]


def test_schema_registry_framing() -> None:
    assert schema_prefix(1) == b"\x00\x00\x00\x00\x01"
    assert schema_prefix(258, "protobuf") == b"\x00\x00\x00\x01\x02\x00"
    assert schema_prefix(5, "protobuf", [1]) == b"\x00\x00\x00\x00\x05\x02\x02"
    assert _bytes(["k", None, ""], "string", schema_id=7) == [
        b"\x00\x00\x00\x00\x07k",
        None,
        b"\x00\x00\x00\x00\x07",
    ]
    assert _bytes([1], "int32", schema_id=2, schema_type="protobuf") == [
        b"\x00\x00\x00\x00\x02\x00\x00\x00\x00\x01"
    ]
    for bad in (-1, 2**31, "3", 1.5):
        with pytest.raises(partsim.UsageError, match="schema_id must be an integer"):
            schema_prefix(bad)


def test_a_new_schema_id_moves_keys() -> None:
    keys = [f"customer-{i}" for i in range(2000)]
    one = partsim.assign(keys, 12, schema_id=1)
    two = partsim.assign(keys, 12, schema_id=2)
    framed = [b"\x00\x00\x00\x00\x01" + key.encode() for key in keys]
    assert one.tolist() == partsim.assign(framed, 12, key_format="bytes").tolist()
    assert 0.85 < (one != two).mean() < 0.97  # about 1 - 1/12 move


@pytest.mark.parametrize(
    "keys",
    [
        ["a", "b", None],
        ("a", "b", None),
        np.array(["a", "b", None], dtype=object),
        pd.Series(["a", "b", None]),
        pd.Series(["a", "b", None], dtype="string"),
        pd.Series(["a", "b", None], dtype="category"),
        pa.array(["a", "b", None]),
        pa.array(["a", "b", None], type=pa.large_string()),
        pa.chunked_array([["a"], ["b", None]]),
        pa.array(["a", "b", None]).dictionary_encode(),
    ],
    ids=lambda keys: type(keys).__name__,
)
def test_every_container_gives_the_same_partitions(keys) -> None:
    got = partsim.assign(keys, 12, partitioner="librdkafka:murmur2")
    assert got.tolist() == partsim.assign([b"a", b"b", b""], 12, key_format="bytes").tolist()


def test_mixed_str_and_bytes_keys() -> None:
    assert _bytes(["a", b"\xff", None], "string") == [b"a", b"\xff", None]


def test_single_string_is_not_a_key_list() -> None:
    with pytest.raises(partsim.UsageError, match="wrap it in a list"):
        partsim.assign("user-1", 12)


@settings(max_examples=50, deadline=None)
@given(values=st.lists(st.integers(-(2**63), 2**63 - 1), min_size=1, max_size=20))
def test_int64_vectorized_equals_one_by_one(values: list[int]) -> None:
    assert _bytes(values, "int64") == [struct.pack(">q", value) for value in values]
