"""connect-json keys against Kafka Connect's own JsonConverter, run on the JDK.

``tests/connect/ConnectJsonOracle.java`` turns plain JSON values into Connect data by the
schema (independently of partsim) and prints the bytes ``JsonConverter`` writes, with and
without ``schemas.enable``. Its classpath (``org.apache.kafka:connect-json`` and its
dependencies) is resolved by Maven from ``tests/connect/pom.xml`` and cached in ``~/.m2``.
Without a JDK and Maven the tests skip (``apt-get install default-jdk-headless maven``);
under ``CI=true`` they fail instead.
"""

from __future__ import annotations

import base64
import datetime
import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kafka.partitioner.default import murmur2

import partsim
from partsim.schemas import key_schema
from partsim.schemas.connect import java_double
from tests import strategies
from tests.conftest import skip_or_fail

ORACLE = Path(__file__).parent / "connect"


@pytest.fixture(scope="session")
def connect_oracle(tmp_path_factory):
    """A function: a list of jobs -> the JsonConverter's output line per job."""
    for tool in ("java", "javac", "mvn"):
        if shutil.which(tool) is None:
            skip_or_fail(f"{tool} is not installed: the connect-json oracle needs a JDK 17+ "
                         "and Maven (apt-get install default-jdk-headless maven)")  # fmt: skip
    folder = tmp_path_factory.mktemp("connect-oracle")
    classpath_file = folder / "classpath.txt"
    resolved = subprocess.run(
        ["mvn", "-q", "-B", "-f", str(ORACLE / "pom.xml"), "dependency:build-classpath",
         f"-Dmdep.outputFile={classpath_file}"],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    if resolved.returncode != 0:
        skip_or_fail(f"Maven could not resolve connect-json: {resolved.stdout[-500:]}")
    classpath = classpath_file.read_text().strip()
    subprocess.run(["javac", "-nowarn", "-d", str(folder), "-cp", classpath,
                    str(ORACLE / "ConnectJsonOracle.java")], check=True, capture_output=True,
                   timeout=300)  # fmt: skip

    def run(jobs: list[dict]) -> list[str]:
        text = "".join(json.dumps(job) + "\n" for job in jobs)
        done = subprocess.run(
            ["java", "-cp", f"{folder}:{classpath}", "ConnectJsonOracle"],
            input=text, capture_output=True, text=True, timeout=300, check=True,
        )  # fmt: skip
        lines = done.stdout.splitlines()
        assert len(lines) == len(jobs), done.stderr[-2000:]
        return lines

    return run


# ---------------------------------------------------------------- generated schemas
_INTS = {"int8": 8, "int16": 16, "int32": 32, "int64": 64}
_DECIMAL = "org.apache.kafka.connect.data.Decimal"


@st.composite
def connect_cases(draw, depth: int = 0, floats: bool = False):
    """(Connect schema, strategy of (value for partsim, value in plain JSON for Java))."""
    kinds = [*_INTS, "boolean", "string", "bytes", "decimal", "date", "time", "timestamp"]
    if floats:
        kinds += ["float", "double"]
    if depth < 2:
        kinds += ["struct", "struct", "array", "map-string", "map-int"]
    kind = draw(st.sampled_from(kinds))
    optional = draw(st.booleans())
    schema: dict = {"type": kind, "optional": optional}
    if kind in _INTS:
        bits = _INTS[kind]
        values = st.integers(-(2 ** (bits - 1)), 2 ** (bits - 1) - 1).map(lambda v: (v, v))
    elif kind in ("float", "double"):
        width = 32 if kind == "float" else 64
        values = st.floats(width=width, allow_nan=False, allow_infinity=False).map(lambda v: (v, v))
    elif kind == "boolean":
        values = st.booleans().map(lambda v: (v, v))
    elif kind == "string":
        values = strategies.schema_text.map(lambda v: (v, v))
    elif kind == "bytes":
        values = st.binary(max_size=12).map(lambda v: (v, base64.b64encode(v).decode()))
    elif kind == "decimal":
        scale = draw(st.integers(0, 6))
        schema.update(type="bytes", name=_DECIMAL, version=1,
                      parameters={"scale": str(scale)})  # fmt: skip
        values = st.integers(-(10**20), 10**20).map(
            lambda u, s=scale: (str(_decimal(u, s)), str(_decimal(u, s)))
        )
    elif kind == "date":
        schema.update(type="int32", name="org.apache.kafka.connect.data.Date", version=1)
        values = st.dates(min_value=datetime.date(1000, 1, 1)).map(
            lambda d: (d.isoformat(), d.isoformat())
        )
    elif kind == "time":
        schema.update(type="int32", name="org.apache.kafka.connect.data.Time", version=1)
        values = st.times().map(lambda t: t.replace(microsecond=t.microsecond // 1000 * 1000))
        values = values.map(lambda t: (t.isoformat(timespec="milliseconds"),) * 2)
    elif kind == "timestamp":
        schema.update(type="int64", name="org.apache.kafka.connect.data.Timestamp", version=1)
        values = st.datetimes(min_value=datetime.datetime(1000, 1, 1)).map(
            lambda t: t.isoformat(timespec="milliseconds") + "Z"
        )
        values = values.map(lambda text: (text, text))
    elif kind == "array":
        inner, items = draw(connect_cases(depth + 1, floats))
        schema["items"] = inner
        values = st.lists(items, max_size=3).map(
            lambda pairs: ([a for a, _ in pairs], [b for _, b in pairs])
        )
    elif kind in ("map-string", "map-int"):
        inner, items = draw(connect_cases(depth + 1, floats))
        schema["type"] = "map"
        if kind == "map-string":
            schema["keys"] = {"type": "string", "optional": False}
            values = st.dictionaries(strategies.schema_text, items, max_size=3).map(
                lambda d: ({k: a for k, (a, _) in d.items()}, {k: b for k, (_, b) in d.items()})
            )
        else:
            schema["keys"] = {"type": "int32", "optional": False}
            values = st.dictionaries(st.integers(-(2**31), 2**31 - 1), items, max_size=3).map(
                lambda d: ({k: a for k, (a, _) in d.items()}, [[k, b] for k, (_, b) in d.items()])
            )
        schema["values"] = inner
    else:
        names = draw(st.lists(st.from_regex(r"[a-z_][a-z0-9_]{0,6}", fullmatch=True),
                              min_size=1, max_size=4, unique=True))  # fmt: skip
        fields, value_strategies = [], {}
        for name in names:
            inner, items = draw(connect_cases(depth + 1, floats))
            fields.append({**inner, "field": name})
            value_strategies[name] = items
        schema["fields"] = fields
        if draw(st.booleans()):
            schema["name"] = draw(st.sampled_from(["dbserver1.inventory.customers.Key",
                                                   "shop.orders.Key", "Ké\u001fy"]))  # fmt: skip
        values = st.fixed_dictionaries(value_strategies).map(
            lambda d: ({k: a for k, (a, _) in d.items()}, {k: b for k, (_, b) in d.items()})
        )
        # Keep the schema's field order in the type's dict (JSON object order).
        schema = {"type": "struct", "fields": fields, "optional": optional,
                  **({"name": schema["name"]} if "name" in schema else {})}  # fmt: skip
    if optional:
        values = st.one_of(values, st.just((None, None)))
    return schema, values


def _decimal(unscaled: int, scale: int):
    import decimal

    return decimal.Decimal(unscaled).scaleb(-scale, decimal.Context(prec=100))


def check_against_oracle(oracle, cases: list[tuple[dict | None, object, object, bool]]) -> None:
    jobs = [{"schemas": envelope, "schema": schema, "value": plain}
            for schema, _, plain, envelope in cases]  # fmt: skip
    answers = oracle(jobs)
    for (schema, value, _, envelope), answer in zip(cases, answers, strict=True):
        key_format = "connect-json" if envelope else "connect-json-schemaless"
        text = json.dumps(schema) if schema is not None else None
        if value is None:
            # A None key is a Kafka null key in partsim (the key column had no value). The
            # converter returns null only without a schema; under an optional schema it
            # writes the JSON null (b"null", or an envelope with "payload":null).
            assert (
                answer in ("NULL", b"null".hex())
                or answer.startswith("ERROR")
                or (envelope and bytes.fromhex(answer).endswith(b'"payload":null}'))
            )
            assert partsim.serde.serialize_keys(
                [None], key_format, key_schema=text
            ).to_pylist() == [None]
            continue
        assert not answer.startswith("ERROR"), (schema, value, answer)
        expected = bytes.fromhex(answer)
        ours = key_schema(key_format, text).encode_one(value)
        assert ours == expected, (schema, value)
        placed = partsim.assign([value], 12, key_format=key_format, key_schema=text)
        assert placed.tolist() == [(murmur2(expected) & 0x7FFFFFFF) % 12]


SLOW = [HealthCheck.too_slow, HealthCheck.data_too_large]
SETTINGS = settings(max_examples=6, deadline=None, suppress_health_check=SLOW)


@SETTINGS
@given(st.data())
def test_connect_json_matches_json_converter(connect_oracle, data) -> None:
    cases = []
    for _ in range(40):
        schema, values = data.draw(connect_cases())
        value, plain = data.draw(values)
        cases.append((schema, value, plain, data.draw(st.booleans())))
    check_against_oracle(connect_oracle, cases)


@SETTINGS
@given(values=st.lists(st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-(2**63), 2**63 - 1), strategies.schema_text),
    lambda inner: st.one_of(st.lists(inner, max_size=3),
                            st.dictionaries(strategies.schema_text, inner, max_size=3)),
    max_leaves=8), min_size=20, max_size=20))  # fmt: skip
def test_schemaless_values_match_json_converter(connect_oracle, values) -> None:
    """No key schema: values typed by their own JSON types, with and without the envelope
    (which then says "schema":null)."""
    cases = [(None, value, value, envelope) for value in values for envelope in (True, False)]
    check_against_oracle(connect_oracle, cases)


def test_debezium_key(connect_oracle) -> None:
    schema = {"type": "struct", "fields": [{"type": "int32", "optional": False, "field": "id"}],
              "optional": False, "name": "dbserver1.inventory.customers.Key"}  # fmt: skip
    (answer,) = connect_oracle([{"schemas": True, "schema": schema, "value": {"id": 1001}}])
    expected = (b'{"schema":{"type":"struct","fields":[{"type":"int32","optional":false,'
                b'"field":"id"}],"optional":false,"name":"dbserver1.inventory.customers.Key"},'
                b'"payload":{"id":1001}}')  # fmt: skip
    assert bytes.fromhex(answer) == expected
    # From CSV text, and with the schema given as a whole key message read from a topic.
    message = json.dumps({"schema": schema, "payload": {"id": 1}})
    assert key_schema("connect-json", message).encode_one({"id": "1001"}) == expected


def test_decimal_is_javas_bigdecimal_encoding(connect_oracle) -> None:
    """-1.28 at scale 2 is the single byte 0x80 in Java (BigInteger.toByteArray); Avro's
    decimal in partsim uses the same encoding (see test_schema_keys.py)."""
    schema = {"type": "bytes", "optional": False, "name": _DECIMAL, "version": 1,
              "parameters": {"scale": "2"}}  # fmt: skip
    values = ["-1.28", "-327.68", "1.28", "0.00", "-0.01"]
    cases = [(schema, v, v, False) for v in values]
    check_against_oracle(connect_oracle, cases)
    assert key_schema("connect-json-schemaless", json.dumps(schema)).encode_one("-1.28") == (
        b'"gA=="'
    )


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(doubles=st.lists(st.floats(allow_nan=False, allow_infinity=False), min_size=60,
                        max_size=60),
       singles=st.lists(st.floats(width=32, allow_nan=False, allow_infinity=False),
                        min_size=60, max_size=60))  # fmt: skip
def test_floats_are_the_shortest_java_spelling(connect_oracle, doubles, singles) -> None:
    """partsim spells floats as Java 19+ does (the shortest digits that read back,
    ``Double.toString`` and ``Float.toString``); JDK 17 sometimes writes more digits
    (``2.82879384806159E17`` is ``2.82879384806159008E17`` there). So: the same text
    whenever Java's has as few digits, and the same number always."""
    cases = [("double", d) for d in doubles] + [("float", f) for f in singles]
    jobs = [{"schemas": False, "schema": {"type": kind, "optional": False}, "value": v}
            for kind, v in cases]  # fmt: skip
    for (kind, value), answer in zip(cases, connect_oracle(jobs), strict=True):
        java = bytes.fromhex(answer).decode()
        ours = java_double(value, single=kind == "float")
        if ours != java:
            read = np.float32 if kind == "float" else float
            assert read(ours) == read(java) == read(value), (value, java)
            assert _digits(ours) < _digits(java), (value, java)


def _digits(text: str) -> int:
    mantissa = text.lstrip("-").split("E")[0].replace(".", "").strip("0")
    return len(mantissa)


def test_known_java_double_spellings() -> None:
    # Double.toString's documented forms: plain in [1e-3, 1e7), else computerized notation.
    assert [java_double(v) for v in (1.0, 0.001, 1e7, 9999999.0, 1e-4, -0.0, 123.456)] == [
        "1.0", "0.001", "1.0E7", "9999999.0", "1.0E-4", "-0.0", "123.456"
    ]  # fmt: skip
