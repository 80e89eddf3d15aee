"""Keys with a schema through ``analyze``, ``sweep`` and ``whatif``: the per-partition counts
are those of the bytes Confluent's serializers write for each row (kafka-python's murmur2
places them), keys the schema cannot hold are skipped and counted (or fatal with --strict),
and a record key takes its fields from the columns of the same names."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from kafka.partitioner.default import murmur2

import partsim
from partsim.errors import DataError, UsageError
from tests.cli import run_partsim
from tests.test_schema_keys import KEY, PROTO, compile_proto, protobuf_serializer, registry

pytest.importorskip("confluent_kafka.schema_registry")
from confluent_kafka.schema_registry.avro import AvroSerializer

PARTITIONS = 6
ORDER_KEY = json.dumps({"type": "record", "name": "OrderKey", "namespace": "shop", "fields": [
    {"name": "region", "type": "string"},
    {"name": "id", "type": "long"},
    {"name": "address", "type": ["null", {"type": "record", "name": "Address", "fields": [
        {"name": "city", "type": "string"}]}], "default": None},
]})  # fmt: skip


def counts_of(keys: list[bytes | None]) -> list[int]:
    partitions = [(murmur2(k) & 0x7FFFFFFF) % PARTITIONS for k in keys if k is not None]
    return np.bincount(partitions, minlength=PARTITIONS).tolist()


@pytest.fixture
def orders(tmp_path):
    rng = np.random.default_rng(3)
    frame = pd.DataFrame({
        "order": [f"o{i}" for i in range(400)],
        "region": rng.choice(["EU", "US", "APAC"], 400),
        "id": rng.integers(-50_000, 50_000, 400).astype(str),
        "address.city": rng.choice(["Lyon", "Oslo", ""], 400),
    })  # fmt: skip
    frame.loc[5, "id"] = "not-a-number"
    frame.loc[9, "id"] = "12.5"
    path = tmp_path / "orders.csv"
    frame.to_csv(path, index=False)
    return path, frame


def test_analyze_primitive_avro_keys_count_like_the_serializer(orders) -> None:
    path, frame = orders
    serializer = AvroSerializer(registry(), '"long"')
    good = frame[~frame["id"].isin(["not-a-number", "12.5"])]
    expected = counts_of([serializer(int(v), KEY) for v in good["id"]])
    result = partsim.analyze(str(path), key="id", partition_count=PARTITIONS, key_format="avro",
                             key_schema='"long"', schema_id=1)  # fmt: skip
    assert result.partitions["messages"].tolist() == expected
    assert result.summary["skipped_rows"] == 2
    assert result.summary["key_format"] == "avro" and result.summary["schema_id"] == 1
    hot = result.hot_keys["key"].tolist()
    assert all(str(int(k)) == k for k in hot)  # shown decoded, as the numbers they are
    with pytest.raises(DataError, match=r"cannot hold.*--strict.*'not-a-number' is not a long"):
        partsim.analyze(str(path), key="id", partition_count=PARTITIONS, key_format="avro",
                        key_schema='"long"', schema_id=1, strict=True)  # fmt: skip


def test_analyze_a_record_key_from_its_columns(orders) -> None:
    path, frame = orders
    serializer = AvroSerializer(registry(), ORDER_KEY)
    good = frame[~frame["id"].isin(["not-a-number", "12.5"])]
    # An empty CSV field is null: an address whose every column is null is a null address.
    values = [{"region": r, "id": int(i), "address": {"city": c} if c else None}
              for r, i, c in zip(good["region"], good["id"], good["address.city"].fillna(""),
                                 strict=True)]  # fmt: skip
    expected = counts_of([serializer(v, KEY) for v in values])
    result = partsim.analyze(str(path), partition_count=PARTITIONS, key_format="avro",
                             key_schema=ORDER_KEY, schema_id=1)  # fmt: skip
    assert result.partitions["messages"].tolist() == expected
    assert result.summary["skipped_rows"] == 2
    assert result.summary["key"] == "{region, id, address.city} (a record, from the columns)"
    assert json.loads(result.hot_keys["key"][0]).keys() == {"region", "id", "address"}
    # The same through the CLI, with the schema in a file and --key left out.
    schema_file = path.parent / "order-key.avsc"
    schema_file.write_text(ORDER_KEY)
    done = run_partsim("analyze", str(path), "-p", str(PARTITIONS), "--key-format", "avro",
                       "--key-schema", str(schema_file), "--schema-id", "1", "--json")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["events"] == len(good)
    assert "skipped 2 unparsable rows" in done.stderr


def test_record_key_errors_name_the_columns(orders) -> None:
    path, _ = orders
    schema = json.dumps({"type": "record", "name": "K", "fields": [
        {"name": "customer", "type": "string"}]})  # fmt: skip
    with pytest.raises(UsageError, match=r"field 'customer' needs a column.*available columns"):
        partsim.analyze(str(path), partition_count=6, key_format="avro", key_schema=schema)
    with pytest.raises(UsageError, match="give a key design: --key COLUMN"):
        partsim.analyze(str(path), partition_count=6, key_format="avro", key_schema='"long"')
    done = run_partsim("analyze", str(path), "-p", "6", "--key", "id", "--key-format", "avro")
    assert done.returncode == 2 and "needs a key schema" in done.stderr


def test_json_lines_nested_objects_feed_a_record(tmp_path) -> None:
    rows = [{"key": {"tenant": "t1", "n": 1}}, {"key": {"tenant": "t2", "n": 2}},
            {"key": {"tenant": "t1", "n": 1}}]  # fmt: skip
    path = tmp_path / "events.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    schema = json.dumps({"type": "object", "properties": {"key": {
        "type": "object", "properties": {"tenant": {"type": "string"}, "n": {"type": "integer"}},
    }}})  # fmt: skip
    result = partsim.analyze(str(path), partition_count=PARTITIONS, key_format="json",
                             key_schema=schema, schema_id=5)  # fmt: skip
    frame = b"\x00\x00\x00\x00\x05"
    expected = counts_of([frame + json.dumps(r, separators=(",", ":")).encode() for r in rows])
    assert result.partitions["messages"].tolist() == expected
    assert result.summary["distinct_keys"] == 2


def test_sweep_designs_carry_their_own_key_format(orders) -> None:
    path, frame = orders
    schema_file = path.parent / "region.avsc"
    schema_file.write_text('"string"')
    result = partsim.sweep(str(path), partition_counts=[PARTITIONS], designs=[
        "text=region", f"avro=region --key-format avro --key-schema {schema_file} --schema-id 3",
        "record= --key-format avro --key-schema " + json.dumps(json.dumps(json.loads(ORDER_KEY))),
    ])  # fmt: skip
    table = result.table.set_index("design")
    serializer = AvroSerializer(registry(), '"string"')  # id 1 in its registry: reframe to 3
    avro_keys = [b"\x00\x00\x00\x00\x03" + serializer(r, KEY)[5:] for r in frame["region"]]
    load = counts_of(avro_keys)
    assert table.loc["avro", "max_mean_ratio"] == pytest.approx(max(load) / (sum(load) / 6))
    text = counts_of([r.encode() for r in frame["region"]])
    assert table.loc["text", "max_mean_ratio"] == pytest.approx(max(text) / (sum(text) / 6))
    assert table.loc["record", "events"] == len(frame) - 2  # two ids the long cannot hold
    done = run_partsim("sweep", str(path), "-p", "6", "--design", "text=region", "--design",
                       f"avro=region --key-format avro --key-schema {schema_file}")  # fmt: skip
    assert done.returncode == 0, done.stderr
    bad = run_partsim("sweep", str(path), "-p", "6", "--design", "x=region --key-fromat avro")
    assert bad.returncode == 2 and "did you mean '--key-format'" in bad.stderr


DEBEZIUM_V1 = {"type": "struct", "name": "dbserver1.inventory.customers.Key", "optional": False,
               "fields": [{"type": "int32", "optional": False, "field": "id"}]}  # fmt: skip
REGION = {"type": "string", "optional": False, "field": "region"}
DEBEZIUM_V2 = {**DEBEZIUM_V1, "fields": [*DEBEZIUM_V1["fields"], REGION]}


def test_whatif_on_the_key_schema(orders) -> None:
    path, frame = orders
    good = frame[~frame["id"].isin(["not-a-number", "12.5"])]
    # string keys -> Avro strings with schema id 7: each key's partition from both serializers
    moved = partsim.whatif(str(path), key="order", partition_count=PARTITIONS,
                           from_key_format="string", to_key_format="avro",
                           to_key_schema='"string"', to_schema_id=7)  # fmt: skip
    avro = AvroSerializer(registry(), '"string"')
    orders = sorted(set(frame["order"]))
    before = {r: (murmur2(r.encode()) & 0x7FFFFFFF) % PARTITIONS for r in orders}
    after = {r: (murmur2(b"\x00\x00\x00\x00\x07" + avro(r, KEY)[5:]) & 0x7FFFFFFF) % PARTITIONS
             for r in orders}  # fmt: skip
    expected = sum(before[r] != after[r] for r in orders)
    assert moved.summary["keys_moved_count"] == expected
    assert moved.summary["distinct_keys"] == len(orders) == 400
    assert moved.summary["after"]["key_format"] == "avro"
    assert "serialized bytes change (format string -> avro" in moved.summary["key_change"]
    # A Debezium key struct gains a field: nearly every key moves, and the report says so.
    changed = partsim.whatif(str(path), partition_count=PARTITIONS, key_format="connect-json",
                             from_key_schema=json.dumps(DEBEZIUM_V1),
                             to_key_schema=json.dumps(DEBEZIUM_V2))  # fmt: skip
    summary = changed.summary
    assert summary["skipped_rows"] == 0  # the sample holds the source values as they are
    assert summary["keys_unrepresentable"] == 2  # the two ids that are not int32
    assert summary["distinct_keys"] == len(set(zip(good["id"], good["region"], strict=True)))
    assert summary["keys_moved"] > 0.7 and "a new key schema" in summary["key_change"]
    done = run_partsim("whatif", str(path), "-p", "6", "--key-format", "connect-json",
                       "--from-key-schema", json.dumps(DEBEZIUM_V1),
                       "--to-key-schema", json.dumps(DEBEZIUM_V2))  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "The key's serialized bytes change (a new key schema)" in done.stdout


def test_a_record_key_on_the_dask_engine_matches_local(orders) -> None:
    """The plan (key schema text, record columns) travels to Dask's worker processes."""
    pytest.importorskip("dask.distributed")
    path, _ = orders
    options = dict(partition_count=PARTITIONS, key_format="avro", key_schema=ORDER_KEY,
                   schema_id=1)  # fmt: skip
    local = partsim.analyze(str(path), **options)
    on_dask = partsim.analyze(str(path), engine="dask", **options)
    assert on_dask.partitions["messages"].tolist() == local.partitions["messages"].tolist()
    assert on_dask.summary["skipped_rows"] == local.summary["skipped_rows"] == 2
    assert on_dask.hot_keys["key"].tolist() == local.hot_keys["key"].tolist()


def test_analyze_a_protobuf_key_from_its_columns(tmp_path, tmp_path_factory) -> None:
    """A Protobuf record key through the pipeline, field by field from the columns (the nested
    message from dotted ones), counted as ProtobufSerializer's bytes place them; a field
    without a column stays unset, and a row the message cannot hold is skipped."""
    module = compile_proto(tmp_path_factory)
    rng = np.random.default_rng(5)
    frame = pd.DataFrame({
        "id": rng.integers(-3, 3, 300).astype(str),  # 0 too: proto3 leaves it out
        "region": rng.choice(["EU", "US", "", "é"], 300),
        "shard": rng.integers(-(2**31), 2**31, 300).astype(str),
        "address.city": rng.choice(["Lyon", "Oslo", ""], 300),
    })  # fmt: skip
    frame.loc[7, "shard"] = str(2**31)  # past sint32
    path = tmp_path / "keys.csv"
    frame.to_csv(path, index=False)
    serializer = protobuf_serializer(module.OrderKey)
    keys = []
    for row in frame.drop(index=7).itertuples(index=False):
        message = module.OrderKey(id=int(row.id), region=row.region if row.region else "",
                                  shard=int(row.shard))  # fmt: skip
        if isinstance(row[3], str) and row[3]:
            message.address.city = row[3]
        keys.append(serializer(message, KEY))
    result = partsim.analyze(
        str(path), partition_count=PARTITIONS, key_format="protobuf", key_schema=PROTO,
        key_message="shop.v1.OrderKey", schema_id=1,
    )  # fmt: skip
    assert result.partitions["messages"].tolist() == counts_of(keys)
    assert result.summary["skipped_rows"] == 1


REGION_ENUM = json.dumps({"type": "enum", "name": "Region", "symbols": ["EU", "US"]})


def test_sweep_designs_that_drop_other_rows_each_count_as_analyze_does(orders) -> None:
    """One pass, three designs: plain text, an Avro enum that cannot hold APAC (those rows
    are its skipped rows) and a record whose long cannot hold two ids. Each design counts
    the rows its serializer can write, as ``analyze`` of that design alone does, and as
    AvroSerializer's bytes place them; with --order-by the ordering follows the same rows."""
    path, frame = orders
    enum = f"region --key-format avro --key-schema {json.dumps(REGION_ENUM)} --schema-id 4"
    record = "--key-format avro --key-schema " + json.dumps(json.dumps(json.loads(ORDER_KEY)))
    designs = {"text": "region", "enum": enum, "record": record}
    named = [f"{name}={text}" for name, text in designs.items()]
    result = partsim.sweep(str(path), partition_counts=[PARTITIONS], order_by="region",
                           designs=named)  # fmt: skip
    table = result.table.set_index("design")
    kept = frame[frame["region"] != "APAC"]
    serializer = AvroSerializer(registry(), REGION_ENUM)  # id 1 in its registry: reframe to 4
    oracle = counts_of([b"\x00\x00\x00\x00\x04" + serializer(r, KEY)[5:] for r in kept["region"]])
    assert result.loads[("enum", "java", PARTITIONS)].tolist() == oracle
    assert table.loc["enum", "events"] == len(kept)
    assert table.loc["record", "events"] == len(frame) - 2
    assert table.loc["text", "events"] == len(frame)
    assert result.summary["skipped_rows_by_design"] == {
        "text": 0, "enum": len(frame) - len(kept), "record": 2
    }  # fmt: skip
    for name, text in designs.items():
        key, own = partsim.compare.design_key(text)
        alone = partsim.analyze(str(path), key=key, partition_count=PARTITIONS, **own)
        assert result.loads[(name, "java", PARTITIONS)].tolist() == (
            alone.partitions["messages"].tolist()
        )
        assert alone.summary["skipped_rows"] == len(frame) - table.loc[name, "events"]
    # A design swept alone follows its entities over its own rows, as analyze does.
    enum_only = partsim.sweep(str(path), partition_counts=[PARTITIONS], order_by="order",
                              designs=[f"enum={enum}"])  # fmt: skip
    key, own = partsim.compare.design_key(enum)
    alone = partsim.analyze(str(path), key=key, partition_count=PARTITIONS, order_by="order",
                            **own)  # fmt: skip
    row = enum_only.table.iloc[0]
    assert row["ordering_preserved"] == alone.summary["ordering"]["ordering_preserved"]


def test_whatif_on_a_protobuf_schema_id_streams_with_the_message_indexes(
    tmp_path, tmp_path_factory
) -> None:
    """A new schema id for a Protobuf key whose message is the file's second (message
    indexes [1]): the payload stays, so the streaming engine frames it both ways. Every
    key's partition before and after comes from ProtobufSerializer's bytes (reframed for
    the new id); the moved keys are shown decoded."""
    module = compile_proto(tmp_path_factory)
    rng = np.random.default_rng(11)
    frame = pd.DataFrame({"city": [f"c{i}" for i in rng.integers(0, 200, 2_000)]})
    path = tmp_path / "cities.csv"
    frame.to_csv(path, index=False)
    moved = partsim.whatif(str(path), partition_count=PARTITIONS, key_format="protobuf",
                           key_schema=PROTO, key_message="shop.v1.Address", from_schema_id=1,
                           to_schema_id=2)  # fmt: skip
    serializer = protobuf_serializer(module.Address)
    before = {}
    for city in set(frame["city"]):
        framed = serializer(module.Address(city=city), KEY)
        assert framed[:7] == b"\x00\x00\x00\x00\x01\x02\x02"  # id 1, message indexes [1]
        before[city] = framed
    after = {city: b"\x00\x00\x00\x00\x02" + key[5:] for city, key in before.items()}

    def partition(key: bytes) -> int:
        return (murmur2(key) & 0x7FFFFFFF) % PARTITIONS

    moving = {city for city in before if partition(before[city]) != partition(after[city])}
    summary = moved.summary
    assert summary["before"]["message_indexes"] == [1]
    assert summary["keys_moved_count"] == len(moving)
    assert summary["events_moved_count"] == int(frame["city"].isin(moving).sum())
    assert summary["distinct_keys"] == len(before)
    assert {json.loads(key)["city"] for key in moved.moves["key"]} == moving
    loads = np.bincount([partition(before[c]) for c in frame["city"]], minlength=PARTITIONS)
    assert moved.partitions["messages_before"].tolist() == loads.tolist()


def test_ordering_across_designs_follows_the_rows_every_design_kept(tmp_path) -> None:
    """Entities followed under two designs, one of which (an Avro enum without APAC) drops
    rows: each design's ordering counts the rows both kept, so the designs compare entity
    by entity on the same events. The oracle places each row's region with murmur2."""
    rng = np.random.default_rng(8)
    frame = pd.DataFrame({"customer": [f"c{i}" for i in rng.integers(0, 200, 600)],
                          "region": rng.choice(["EU", "US", "APAC"], 600)})  # fmt: skip
    path = tmp_path / "events.csv"
    frame.to_csv(path, index=False)
    enum = f"region --key-format avro --key-schema {json.dumps(REGION_ENUM)}"
    result = partsim.sweep(str(path), partition_counts=[PARTITIONS], order_by="customer",
                           designs=["text=region", f"enum={enum}"])  # fmt: skip

    def preserved(rows: pd.DataFrame) -> float:
        partition = rows["region"].map(lambda r: (murmur2(r.encode()) & 0x7FFFFFFF) % PARTITIONS)
        per = rows.assign(partition=partition).groupby("customer")["partition"]
        return float((per.nunique()[per.size() >= 2] == 1).mean())

    expected = preserved(frame[frame["region"] != "APAC"])
    assert expected != preserved(frame)  # the rows followed make a difference here
    text = result.table.set_index("design").loc["text"]
    assert text["events"] == len(frame)  # its loads count every row it serializes
    assert text["ordering_preserved"] == pytest.approx(expected)
    alone = partsim.analyze(str(path), key="region", partition_count=PARTITIONS,
                            order_by="customer")  # fmt: skip
    assert alone.summary["ordering"]["entities"] == frame["customer"].nunique()
