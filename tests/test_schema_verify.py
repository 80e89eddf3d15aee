"""``verify`` recognizes Schema Registry framing in a topic's keys, and partsim predicts where
records whose keys went through Confluent's serializers land, on a real broker.

The keys are written by confluent-kafka's own ``AvroSerializer``, ``JSONSerializer`` and
``ProtobufSerializer`` (in-memory registry), produced by confluent-kafka's producer with its
Java-compatible partitioner, and read back by ``partsim verify``.
"""

from __future__ import annotations

import json

import pyarrow as pa
import pytest

import partsim
from partsim import live
from partsim.schemas.wire import recognize_keys
from tests import broker
from tests.test_schema_keys import KEY, PROTO, compile_proto, registry

pytest.importorskip("confluent_kafka.schema_registry")
from confluent_kafka.schema_registry.avro import AvroSerializer
from confluent_kafka.schema_registry.json_schema import JSONSerializer

ORDER_KEY = json.dumps({"type": "record", "name": "OrderKey", "namespace": "shop",
                        "fields": [{"name": "region", "type": "string"},
                                   {"name": "id", "type": "long"}]})  # fmt: skip
JSON_KEY = json.dumps({"type": "object", "title": "UserKey",
                       "properties": {"id": {"type": "integer"}}, "required": ["id"]})  # fmt: skip
VALUES = [{"region": ["EU", "US", "APAC"][i % 3], "id": i % 97} for i in range(600)]


@pytest.fixture(scope="module")
def proto_module(tmp_path_factory):
    return compile_proto(tmp_path_factory)


def framed_keys(proto_module) -> dict[str, list[bytes]]:
    client = registry()  # one registry: the three schemas get ids 1, 2 and 3
    avro = AvroSerializer(client, ORDER_KEY)
    as_json = JSONSerializer(JSON_KEY, client)
    protobuf_class = proto_module.OrderKey
    from confluent_kafka.schema_registry.protobuf import ProtobufSerializer

    protobuf = ProtobufSerializer(protobuf_class, client, {"use.deprecated.format": False})
    return {
        "avro": [avro(v, KEY) for v in VALUES],
        "json": [as_json({"id": v["id"]}, KEY) for v in VALUES],
        "protobuf": [protobuf(protobuf_class(id=v["id"], region=v["region"]), KEY)
                     for v in VALUES],
    }  # fmt: skip


def test_recognize_ids_shares_and_formats(proto_module) -> None:
    keys = framed_keys(proto_module)
    mixed = keys["avro"][:300] + keys["json"][:200] + keys["protobuf"][:100]
    found = recognize_keys(pa.array(mixed, pa.binary()))
    assert found["framed_share"] == 1.0
    assert [(e["schema_id"], round(e["share"], 3), e["format"]) for e in found["schema_ids"]] == [
        (1, 0.5, "avro"), (2, 0.333, "json"), (3, 0.167, "protobuf")
    ]  # fmt: skip
    connect = partsim.serde.serialize_keys(
        [{"id": 1}, {"id": 2}], "connect-json",
        key_schema='{"type": "struct", "fields": [{"type": "int32", "optional": false, '
                   '"field": "id"}], "optional": false}',
    ).to_pylist()  # fmt: skip
    found = recognize_keys(pa.array([*connect, b"user-1", b"user-2"], pa.binary()))
    assert found["framed_share"] == 0.0 and found["schema_ids"] == []
    assert found["unframed_json"] == {"format": "connect-json", "share": 0.5}
    assert recognize_keys(pa.array([b"plain", None, b"text"]))["unframed_json"] is None


def test_verify_reports_the_framing(proto_module) -> None:
    keys = framed_keys(proto_module)["avro"]
    partitions = partsim.assign(keys, 12, key_format="bytes")
    result = live.verify(pa.table({"key": pa.array(keys, pa.binary()),
                                   "partition": partitions}), partition_count=12)  # fmt: skip
    assert result.key_framing["schema_ids"] == [{"schema_id": 1, "share": 1.0, "format": "avro"}]
    text = live.format_verify(result)
    assert "keys framed by a Schema Registry serializer: 100.0%" in text
    assert "schema id 1: 100.0% (avro)" in text
    assert result.to_dict()["key_framing"]["framed_share"] == 1.0


@pytest.mark.broker
def test_serialized_keys_land_where_partsim_predicts(kafka_bootstrap: str, proto_module) -> None:
    """The whole loop on a real broker: the record values go through Confluent's serializer
    and its producer; partsim, given the same values, the schema and the id, predicts each
    record's partition, and verify reads the framing back from the topic."""
    keys = framed_keys(proto_module)
    avro_id = int.from_bytes(keys["avro"][0][1:5], "big")
    topic = broker.unique_topic("avro-keys")
    broker.create_topic(kafka_bootstrap, topic, 12)
    observed = broker.produce(kafka_bootstrap, topic, keys["avro"],
                              {"partitioner": "murmur2_random"})  # fmt: skip
    predicted = partsim.assign(VALUES, 12, key_format="avro", key_schema=ORDER_KEY,
                               schema_id=avro_id)  # fmt: skip
    assert predicted.tolist() == observed
    proto_topic = broker.unique_topic("protobuf-keys")
    broker.create_topic(kafka_bootstrap, proto_topic, 12)
    observed = broker.produce(kafka_bootstrap, proto_topic, keys["protobuf"],
                              {"partitioner": "murmur2_random"})  # fmt: skip
    proto_id = int.from_bytes(keys["protobuf"][0][1:5], "big")
    predicted = partsim.assign(VALUES, 12, key_format="protobuf", key_schema=PROTO,
                               schema_id=proto_id)  # fmt: skip
    assert predicted.tolist() == observed
    result = live.verify(live.sample_topic(kafka_bootstrap, topic))
    assert result.key_framing["schema_ids"] == [
        {"schema_id": avro_id, "share": 1.0, "format": "avro"}
    ]
    assert "java" in result.best
    done = broker_cli("verify", "--bootstrap", kafka_bootstrap, "--topic", proto_topic)
    assert f"schema id {proto_id}: 100.0% (protobuf)" in done.stdout, done.stderr


def broker_cli(*args: str):
    from tests.cli import run_partsim

    return run_partsim(*args, timeout=120)
