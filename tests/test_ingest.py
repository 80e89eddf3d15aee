"""Ingestion fidelity (issue 14): partsim hashes exactly the bytes a producer sends.

Each property writes values with the format's usual writer (the ``csv`` module,
``json.dumps``, pyarrow with each Arrow type partsim takes), reads them back through
``partsim.analyze``, and checks every partition's keyed events and distinct keys against
kafka-python's ``murmur2`` of the bytes the producer sends for each value (the Java
partitioner, ``(murmur2 & 0x7fffffff) % N``). A key hashed from other bytes lands elsewhere
(at N = 997, on the same partition with odds of 1 in 997). Mixes of files run on both
kernels, and on a real Dask cluster against the local engine.
"""

from __future__ import annotations

import csv
import decimal
import json
import math
import os
import shutil
import subprocess
import tempfile
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from kafka.partitioner.default import murmur2 as kafka_python_murmur2

import partsim
from partsim.events import MISSING_TIME, parse_timestamps
from partsim.partitioners import PARTITIONERS
from tests.cli import run_partsim
from tests.conftest import skip_or_fail
from tests.test_dask import scheduler  # noqa: F401 - the module's real Dask cluster
from tests.test_keycounts import kernel  # noqa: F401 - both kernels, by PARTSIM_KERNELS

N = 997
PROPERTY = settings(max_examples=40, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])  # fmt: skip


# ----------------------------------------------------------------------------- oracle
def java_partition(key: bytes, partition_count: int = N) -> int:
    """The Java client's partition of serialized key bytes, by kafka-python's murmur2."""
    return (kafka_python_murmur2(key) & 0x7FFFFFFF) % partition_count


def expected_counts(keys: list[bytes | None]) -> tuple[np.ndarray, np.ndarray, int]:
    """Keyed events and distinct keys per partition, and the null-key events."""
    events = np.zeros(N, dtype=np.int64)
    distinct = np.zeros(N, dtype=np.int64)
    for key, count in Counter(key for key in keys if key is not None).items():
        partition = java_partition(key)
        events[partition] += count
        distinct[partition] += 1
    return events, distinct, sum(key is None for key in keys)


def assert_hashed(result: partsim.AnalysisResult, keys: list[bytes | None]) -> None:
    """The analysis hashed exactly ``keys`` (the producer's bytes, in any order)."""
    events, distinct, nulls = expected_counts(keys)
    assert result.summary["null_key_events"] == nulls
    assert result.partitions["keyed_messages"].tolist() == events.tolist()
    assert result.partitions["distinct_keys"].tolist() == distinct.tolist()


def analyze(inputs, **options) -> partsim.AnalysisResult:
    return partsim.analyze(inputs, key="k", partition_count=N, **{"top": 0, **options})


# ------------------------------------------------------------------------ strategies
#: Text a CSV, JSON or Parquet file can hold: any Unicode but lone surrogates.
texts = st.text(alphabet=st.characters(codec="utf-8"), max_size=12)
#: JSON integers of any size and sign: small ones, those a double prints with an exponent
#: (from 1e15, and 123456789012345), and those past 2**53 and int64, often.
integers = st.one_of(
    st.integers(-(2**70), 2**70), st.integers(-3, 3), st.integers(10**14, 2**63 - 1),
    st.sampled_from([123456789012345, -(10**15), 2**53 + 1, 2**63, -(2**63) - 1]),
)  # fmt: skip


class NegativeZero:
    """The JSON integer ``-0`` (Python has no negative integer zero to dump)."""


def json_line(value: object, **more: object) -> str:
    """A JSON line ``{"k": value}`` as json.dumps writes it (``-0`` for NegativeZero)."""
    if isinstance(value, NegativeZero):
        return json.dumps({"k": 0, **more}).replace('"k": 0', '"k": -0', 1)
    return json.dumps({"k": value, **more})


def csv_file(folder: Path, name: str, values: list[str]) -> Path:
    """A CSV written by the csv module (its default dialect: CRLF, minimal quoting)."""
    path = folder / name
    with open(path, "w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["k", "n"])
        writer.writerows([value, index] for index, value in enumerate(values))
    return path


def tsv_file(folder: Path, name: str, values: list[str]) -> Path:
    """A TSV as IANA's text/tab-separated-values writes it: fields joined by tabs."""
    path = folder / name
    path.write_text("k\tn\n" + "".join(f"{value}\t{index}\n" for index, value in
                                        enumerate(values)), encoding="utf-8")  # fmt: skip
    return path


def csv_bytes(value: str) -> bytes | None:
    """A CSV field as the producer's key: its UTF-8; an empty field is a null key."""
    return value.encode() if value else None


def json_text(value: object) -> bytes | None:
    """A JSON value's key text, as the io docs state it, computed here independently."""
    if value is None:
        return None
    if isinstance(value, NegativeZero):
        return b"0"  # an integer: its value, as json.loads, JSON.parse and Jackson read it
    if isinstance(value, bool):
        return b"true" if value else b"false"
    if isinstance(value, int):
        return str(value).encode()  # integers exactly, -0 is 0
    if isinstance(value, float):
        return float_text(value)
    if isinstance(value, str):
        return value.encode()
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


#: Each Arrow type partsim takes as a key column, with values and the producer's bytes
#: under key_format string (Integer/Long.toString, Boolean.toString, UTF-8, raw bytes).
ARROW_KEYS: dict[str, tuple[pa.DataType, st.SearchStrategy, Callable[[object], bytes]]] = {
    "string": (pa.string(), texts, str.encode),
    "large_string": (pa.large_string(), texts, str.encode),
    "dictionary": (pa.dictionary(pa.int32(), pa.string()), texts, str.encode),
    "binary": (pa.binary(), st.binary(max_size=12), bytes),
    "large_binary": (pa.large_binary(), st.binary(max_size=12), bytes),
    "int8": (pa.int8(), st.integers(-(2**7), 2**7 - 1), lambda v: str(v).encode()),
    "int16": (pa.int16(), st.integers(-(2**15), 2**15 - 1), lambda v: str(v).encode()),
    "int32": (pa.int32(), st.integers(-(2**31), 2**31 - 1), lambda v: str(v).encode()),
    "int64": (pa.int64(), st.integers(-(2**63), 2**63 - 1), lambda v: str(v).encode()),
    "uint8": (pa.uint8(), st.integers(0, 2**8 - 1), lambda v: str(v).encode()),
    "uint16": (pa.uint16(), st.integers(0, 2**16 - 1), lambda v: str(v).encode()),
    "uint32": (pa.uint32(), st.integers(0, 2**32 - 1), lambda v: str(v).encode()),
    "uint64": (pa.uint64(), st.integers(0, 2**64 - 1), lambda v: str(v).encode()),
    "bool": (pa.bool_(), st.booleans(), lambda v: b"true" if v else b"false"),
    "fixed_size_binary": (pa.binary(4), st.binary(min_size=4, max_size=4), bytes),
    "null": (pa.null(), st.none(), bytes),  # a column of nulls only: every key is null
}


def parquet_file(folder: Path, name: str, kind: str, values: list) -> Path:
    arrow_type = ARROW_KEYS[kind][0]
    if pa.types.is_dictionary(arrow_type):
        column = pa.array(values, pa.string()).dictionary_encode()
    else:
        column = pa.array(values, arrow_type)
    path = folder / name
    pq.write_table(pa.table({"k": column, "n": pa.array(range(len(values)))}), path)
    return path


# ---------------------------------------------------------------------- per format
@pytest.mark.usefixtures("kernel")
@PROPERTY
@given(values=st.lists(texts, min_size=1, max_size=30), tsv=st.booleans())
def test_csv_and_tsv_values_hash_as_written(values: list[str], tsv: bool) -> None:
    """Any text the csv module writes (quotes, commas, newlines, CR, spaces, BOMs inside)
    is hashed as its UTF-8; TSV has no quoting, so its values hold no tab or line end."""
    if tsv:
        values = [value for value in values if not set(value) & set("\t\n\r")] or ["x"]
    with tempfile.TemporaryDirectory() as folder:
        write = tsv_file if tsv else csv_file
        path = write(Path(folder), "a.tsv" if tsv else "a.csv", values)
        assert_hashed(analyze(str(path)), [csv_bytes(value) for value in values])


def float_text(number: float) -> bytes:
    """A JSON float's key text as the io docs state it: the shortest digits that read back
    as the same double (Python's repr finds them), in decimal form from 1e-6 up to 1e10 and
    in exponent form (``1e+10``, ``1.5e-7``) outside it; a whole number has no fraction
    (``2.0`` is ``2``) and ``-0.0`` is ``-0``."""
    sign, digits, exponent = decimal.Decimal(repr(number)).as_tuple()
    text = "".join(map(str, digits)).rstrip("0") or "0"
    exponent += len(digits) - len(text)  # the value is int(text) * 10**exponent
    point = len(text) + exponent  # digits before the decimal point
    if text == "0":
        body = "0"
    elif -6 <= point - 1 < 10:
        if exponent >= 0:
            body = text + "0" * exponent
        elif point > 0:
            body = text[:point] + "." + text[point:]
        else:
            body = "0." + "0" * -point + text
    else:
        mantissa = text[0] + ("." + text[1:] if len(text) > 1 else "")
        body = f"{mantissa}e{'+' if point > 0 else '-'}{abs(point - 1)}"
    return (("-" if sign else "") + body).encode()


@pytest.mark.parametrize(("number", "text"), [
    (1.0, "1"), (-0.0, "-0"), (0.0, "0"), (1e-07, "1e-7"), (1e-06, "0.000001"),
    (1.25e-06, "0.00000125"), (1e9, "1000000000"), (1e10, "1e+10"), (2.5, "2.5"),
    (123456789012345.6, "1.234567890123456e+14"), (-1.5e300, "-1.5e+300"), (5e-324, "5e-324"),
])  # fmt: skip
def test_the_float_oracle_states_the_documented_forms(number: float, text: str) -> None:
    assert float_text(number) == text.encode()


@pytest.mark.usefixtures("kernel")
@PROPERTY
@given(
    values=st.lists(
        st.one_of(texts, integers, st.booleans(), st.none(),
                  st.lists(st.integers(-9, 9), max_size=3), st.builds(NegativeZero),
                  st.floats(allow_nan=False, allow_infinity=False),
                  st.sampled_from([2.0, -0.0, 1e15, 1e16, 1e-7, 123456789012345.6])),
        min_size=1, max_size=30,
    ),
)  # fmt: skip
@example(values=[123456789012345, 7, NegativeZero(), 2.5])  # the lines
@example(values=["1.5", 1.5, "007", 7, "-0", NegativeZero(), -0.0, "1e5", 1e5, 2.0, 2])
def test_json_values_hash_as_written_whatever_the_other_lines(values) -> None:
    """Integers keep their exact digits however big and whatever the other lines hold
    (floats among them too); strings (``"1.5"``, ``"007"``) are their own text; booleans
    and arrays are their JSON text; a float is its shortest round-trip text in the
    documented form (``2.0`` is ``2``, ``1e16`` is ``1e+16``)."""
    lines = [json_line(value) if not isinstance(value, float) else json_line(value, other=1)
             for value in values]  # fmt: skip
    order = np.random.default_rng(len(lines)).permutation(len(lines))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "a.jsonl"
        path.write_text("\n".join(lines[i] for i in order) + "\n")
        result = analyze(str(path), top=1000)
    expected = [json_text(value) for value in values]
    shown = dict(zip(result.hot_keys["key"], result.hot_keys["count"], strict=True))
    assert shown == {key.decode(): count for key, count in
                     Counter(key for key in expected if key is not None).items()}  # fmt: skip
    assert_hashed(result, expected)


@pytest.mark.usefixtures("kernel")
@PROPERTY
@given(data=st.data(), kind=st.sampled_from(sorted(ARROW_KEYS)))
def test_parquet_values_of_every_type_hash_as_the_producer_serializes(data, kind):
    _, values_of, to_bytes = ARROW_KEYS[kind]
    values = data.draw(st.lists(st.one_of(values_of, st.none()), min_size=1, max_size=30))
    with tempfile.TemporaryDirectory() as folder:
        path = parquet_file(Path(folder), "a.parquet", kind, values)
        result = analyze(str(path))
    assert_hashed(result, [None if value is None else to_bytes(value) for value in values])


@pytest.mark.usefixtures("kernel")
@pytest.mark.parametrize("key_format", ["int16", "int32", "int64"])
@settings(max_examples=20, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
@given(values=st.lists(st.integers(-(2**15), 2**15 - 1), min_size=1, max_size=20))
def test_integers_from_every_format_serialize_big_endian(key_format, values) -> None:
    """CSV text, JSON numbers and Parquet int64 give the same 2, 4 or 8 bytes."""
    width = {"int16": 2, "int32": 4, "int64": 8}[key_format]
    keys = [value.to_bytes(width, "big", signed=True) for value in values]
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        paths = [
            csv_file(folder, "a.csv", [str(value) for value in values]),
            folder / "b.jsonl",
            parquet_file(folder, "c.parquet", "int64", values),
        ]
        paths[1].write_text("".join(json.dumps({"k": value}) + "\n" for value in values))
        for path in paths:
            assert_hashed(analyze(str(path), key_format=key_format), keys)


# ------------------------------------------------------------------- mixes of inputs
#: One input file: a format and its values (CSV and JSON text, Parquet of some types).
input_files = st.one_of(
    st.tuples(st.just("csv"), st.lists(st.sampled_from(["007", "0x10", "-0", "7", "1", "TRUE",
                                                        "false", "0", "a"]) | texts,
                                       min_size=1, max_size=8)),
    st.tuples(st.just("jsonl"), st.lists(integers | texts | st.booleans() |
                                         st.builds(NegativeZero), min_size=1, max_size=8)),
    st.tuples(st.just("int64"), st.lists(st.integers(-9, 9), min_size=1, max_size=8)),
    st.tuples(st.just("bool"), st.lists(st.booleans(), min_size=1, max_size=8)),
    st.tuples(st.just("string"), st.lists(texts, min_size=1, max_size=8)),
)  # fmt: skip


def write_inputs(folder: Path, files: list[tuple[str, list]]) -> tuple[list[str], list]:
    """The files, and the producer's bytes of every value in them (each file's own)."""
    paths, keys = [], []
    for index, (kind, values) in enumerate(files):
        if kind == "csv":
            paths.append(csv_file(folder, f"{index}.csv", values))
            keys += [csv_bytes(value) for value in values]
        elif kind == "jsonl":
            path = folder / f"{index}.jsonl"
            path.write_text("".join(json_line(value, n=1) + "\n" for value in values))
            paths.append(path)
            keys += [json_text(value) for value in values]
        else:
            paths.append(parquet_file(folder, f"{index}.parquet", kind, values))
            keys += [ARROW_KEYS[kind][2](value) for value in values]
    return [str(path) for path in paths], keys


@pytest.mark.usefixtures("kernel")
@PROPERTY
@given(files=st.lists(input_files, min_size=1, max_size=4))
def test_any_mix_of_inputs_hashes_each_file_from_its_own_values(files) -> None:
    """An int64 Parquet file before a CSV of 007 leaves 007 as 007; a boolean one leaves
    TRUE as TRUE: each input's keys come from its own values, in any order of files."""
    with tempfile.TemporaryDirectory() as folder:
        paths, keys = write_inputs(Path(folder), files)
        assert_hashed(analyze(paths, batch_rows=5), keys)
        assert_hashed(analyze(paths[::-1], batch_rows=3), keys)


@settings(max_examples=6, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
@given(files=st.lists(input_files, min_size=2, max_size=4))
@example(files=[("csv", ["007"]), ("csv", [""])])  # a null key in the second piece
@example(files=[("int64", [7]), ("csv", ["007", "0x10", "-0"]), ("bool", [True])])
def test_dask_and_local_engines_agree_on_mixed_inputs(scheduler, files) -> None:  # noqa: F811
    """The same mixed inputs on a real Dask cluster (each piece read alone) and locally."""
    with tempfile.TemporaryDirectory() as folder:
        paths, keys = write_inputs(Path(folder), files)
        local = analyze(paths)
        # Whole files as pieces: a CSV value may hold a newline (pieces cut at line ends).
        remote = analyze(paths, engine="dask", scheduler=scheduler, blocksize=0)
        assert_hashed(local, keys)
        assert_hashed(remote, keys)
        assert_engines_agree(remote, local, keyless=None in keys)


def assert_engines_agree(remote, local, *, keyless: bool) -> None:
    """Every partition equal; but with null keys, only what the README promises: keyless
    records are random draws per piece on Dask, so only their total and the keyed columns
    must match (a CSV of 007, then one of an empty field: Dask put that null key on
    126, the local engine on 821)."""
    if not keyless:
        assert remote.partitions.equals(local.partitions)
        return
    keyed = ["partition", "distinct_keys", "top_key", "keyed_messages"]
    assert remote.partitions[keyed].equals(local.partitions[keyed])
    assert remote.partitions["messages"].sum() == local.partitions["messages"].sum()
    assert remote.summary["null_key_events"] == local.summary["null_key_events"]


def test_dask_workers_on_the_numpy_kernel_agree(scheduler, tmp_path: Path) -> None:  # noqa: F811
    from distributed import Client

    files = [("int64", [1, 2, 3]), ("csv", ["007", "0x10", "-0"]), ("bool", [True, False]),
             ("csv", ["1", "FALSE", "0"]), ("jsonl", [123456789012345, 7, -0, "x"])]  # fmt: skip
    paths, keys = write_inputs(tmp_path, files)
    with Client(scheduler) as client:
        client.run(os.environ.__setitem__, "PARTSIM_KERNELS", "numpy")
        try:
            remote = analyze(paths, engine="dask", scheduler=scheduler, blocksize=16)
        finally:
            client.run(os.environ.pop, "PARTSIM_KERNELS", None)
    assert_hashed(remote, keys)


def test_a_float_key_column_is_refused_whatever_the_order(tmp_path: Path) -> None:
    paths, _ = write_inputs(tmp_path, [("csv", ["a"])])
    floats = tmp_path / "f.parquet"
    pq.write_table(pa.table({"k": [1.5], "n": [0]}), floats)
    for order in ([str(floats), *paths], [*paths, str(floats)]):
        with pytest.raises(partsim.DataError, match="needs text or bytes keys; got Arrow type"):
            analyze(order)


# --------------------------------------------------------------- JSON lines, one rule
@pytest.mark.usefixtures("kernel")
@PROPERTY
@given(lines=st.lists(st.sampled_from(["good", "two", "bad", "blank", "crlf"]), min_size=1,
                      max_size=12), cr_only=st.booleans())  # fmt: skip
def test_a_json_line_is_read_the_same_whatever_else_is_in_the_block(lines, cr_only):
    """One object per line: a line of two objects, or objects separated by CR alone, is one
    skipped line whether or not the block holds a bad line too; CRLF is a line end."""
    text = {"good": '{"k": "g%d"}\n', "two": '{"k": "t%d"}{"k": "u%d"}\n', "bad": "{bad %d\n",
            "blank": "  \n", "crlf": '{"k": "c%d"}\r\n'}  # fmt: skip
    body = "".join(text[kind].replace("%d", str(i)) for i, kind in enumerate(lines))
    if cr_only:
        body += '{"k": "r1"}\r{"k": "r2"}\r\n'
    keys = [f"{kind[0]}{i}".encode() for i, kind in enumerate(lines) if kind in ("good", "crlf")]
    skipped = sum(kind in ("two", "bad") for kind in lines) + cr_only
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "a.jsonl"
        path.write_bytes(b'{"k": "first"}\n' + body.encode())
        result = analyze(str(path))
    assert_hashed(result, [b"first", *keys])
    assert result.summary["skipped_rows"] == skipped


# ------------------------------------------------------------------ integer key text
JAVA_PARSE = """
import java.io.*;
public class Parse {
    public static void main(String[] args) throws IOException {
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, "UTF-8"));
        String line;
        while ((line = in.readLine()) != null) {
            byte[] raw = new byte[line.length() / 2];
            for (int i = 0; i < raw.length; i++)
                raw[i] = (byte) Integer.parseInt(line.substring(2 * i, 2 * i + 2), 16);
            String text = new String(raw, "UTF-16BE");
            StringBuilder out = new StringBuilder();
            try { out.append(Short.parseShort(text)); }
            catch (NumberFormatException e) { out.append("-"); }
            out.append(' ');
            try { out.append(Integer.parseInt(text)); }
            catch (NumberFormatException e) { out.append("-"); }
            out.append(' ');
            try { out.append(Long.parseLong(text)); }
            catch (NumberFormatException e) { out.append("-"); }
            System.out.println(out);
        }
    }
}
"""


def integer_texts(count: int) -> list[str]:
    """Text near the integer syntax: signs, ASCII and other Unicode digits, spaces, '_',
    '0x', exponents, and the int16/int32/int64 range edges."""
    rng = np.random.default_rng(14)
    pieces = [
        "+",
        "-",
        "0",
        "1",
        "7",
        "9",
        "00",
        " ",
        "\t",
        "_",
        "x",
        "0x",
        "e",
        ".",
        "\uff11",
        "\u0663",
        "\u0967",
        "\U0001d7d9",
        "\u00b2",
        "\u2167",
        "a",
        "",
    ]
    edges = [str(edge + delta) for edge in (2**15, 2**31, 2**63) for delta in (-1, 0)]
    edges += ["-" + text for text in edges] + ["+" + text for text in edges]
    texts = [*edges, "", "+", "-", "+-1", "--1", "1 ", " 1", "１２", "٣", "𝟙", "1_000"]
    while len(texts) < count:
        size = int(rng.integers(1, 6))
        texts.append("".join(pieces[int(i)] for i in rng.integers(0, len(pieces), size)))
    return texts


def test_integer_key_text_is_read_as_javas_parse_reads_it(tmp_path: Path) -> None:
    """Against the JVM: Short.parseShort, Integer.parseInt and Long.parseLong accept what
    int16, int32 and int64 accept, with the same values; the rest is one error."""
    if shutil.which("java") is None:
        skip_or_fail("the JVM check needs a JDK (java) on PATH")
    source = tmp_path / "Parse.java"
    source.write_text(JAVA_PARSE)
    texts = integer_texts(1500)
    output = subprocess.run(
        ["java", str(source)],
        input="".join(text.encode("utf-16-be").hex() + "\n" for text in texts),
        text=True, capture_output=True, check=True, timeout=300,
    ).stdout.splitlines()  # fmt: skip
    assert len(output) == len(texts)
    for text, line in zip(texts, output, strict=True):
        for key_format, answer in zip(("int16", "int32", "int64"), line.split(" "), strict=True):
            width = {"int16": 2, "int32": 4, "int64": 8}[key_format]
            if answer == "-":
                with pytest.raises(partsim.DataError, match=f"for key_format '{key_format}'|"
                                   f"key_format '{key_format}' needs integer keys"):  # fmt: skip
                    partsim.serde.serialize_keys([text], key_format)
            else:
                got = partsim.serde.serialize_keys([text], key_format).to_pylist()
                assert got == [int(answer).to_bytes(width, "big", signed=True)], text


@pytest.mark.parametrize("text", ["+5", "1_000", "１２", "0x10", " 5", "1e3", "--1"])
def test_integer_text_gets_one_answer_on_every_path(tmp_path: Path, text: str) -> None:
    """partition, analyze and assign give the same partition, or the same one-line error."""
    path = tmp_path / "k.csv"
    path.write_text(f"k\n{text}\n", encoding="utf-8")
    cli = run_partsim("partition", "-p", "12", "--key-format", "int32", "--json", "--", text)
    table = run_partsim("analyze", str(path), "--key", "k", "-p", "12", "--key-format", "int32",
                        "--json")  # fmt: skip
    try:
        api = partsim.assign([text], 12, key_format="int32").tolist()
    except partsim.DataError as error:
        message = f"Error: {error}"
        for done in (cli, table):
            assert done.returncode == 1 and done.stderr.strip() == message, done.stderr
        assert "internal error" not in message and "\n" not in message
        return
    assert cli.returncode == 0 and json.loads(cli.stdout)["partitions"] == api
    assert table.returncode == 0 and json.loads(table.stdout)["top_keys"][0]["partition"] == api[0]


# -------------------------------------------------------------------- epoch units
@settings(max_examples=60, deadline=None)
@given(
    seconds=st.lists(st.integers(100_000_000, 4_000_000_000), min_size=1, max_size=40),
    units=st.lists(st.sampled_from([1, 1_000, 1_000_000, 1_000_000_000]), min_size=40,
                   max_size=40),
    text=st.booleans(),
)  # fmt: skip
def test_each_epoch_number_takes_its_own_unit(seconds, units, text) -> None:
    """Seconds among milliseconds (and every other mix) each read as the same instant,
    whatever the other values of the batch (1973-03 to 2096, where the units do not
    overlap)."""
    values = [second * unit for second, unit in zip(seconds, units, strict=False)]
    column = pa.array([str(value) for value in values] if text else values)
    got = parse_timestamps(column)
    assert got.tolist() == [second * 1_000_000_000 for second in seconds]
    alone = [int(parse_timestamps(column.slice(i, 1))[0]) for i in range(len(values))]
    assert alone == got.tolist()


def test_iso_times_and_numbers_in_one_column_each_parse() -> None:
    column = pa.array(["1700000000", "2026-01-01T00:00:00Z", "1700000000123", None, "junk"])
    got = parse_timestamps(column)
    assert got[:3].tolist() == [1_700_000_000 * 10**9, 1_767_225_600 * 10**9,
                                1_700_000_000_123 * 10**6]  # fmt: skip
    assert got[3] == got[4] == MISSING_TIME


# ------------------------------------------------------------ stdin and templates
def test_stdin_keys_drop_a_bom_and_refuse_bytes_that_are_not_utf8() -> None:
    done = run_partsim("partition", "-", "-p", "12", "--json",
                       stdin=b"\xef\xbb\xbfuser-1\r\nuser-2\n", text=False)  # fmt: skip
    expected = [java_partition(b"user-1", 12), java_partition(b"user-2", 12)]
    assert json.loads(done.stdout)["partitions"] == expected
    bad = run_partsim("partition", "-", "-p", "12", stdin=b"ok\nus\xffer\n", text=False)
    assert bad.returncode == 1
    assert bad.stderr.decode().strip() == (
        "Error: stdin:2: byte 3 is not valid UTF-8 (b'us\\xffer'); give --key-format bytes "
        "to hash each line's raw bytes"
    )
    raw = run_partsim("partition", "-", "-p", "12", "--key-format", "bytes", "--json",
                      stdin=b"us\xffer\n", text=False)  # fmt: skip
    assert json.loads(raw.stdout)["partitions"] == [java_partition(b"us\xffer", 12)]


def test_a_template_renders_a_value_one_way_with_or_without_a_conversion(tmp_path) -> None:
    path = tmp_path / "t.parquet"
    pq.write_table(pa.table({"c": [True, False], "i": [1, 2], "f": [1.0, 2.5],
                             "b": pa.array([b"ab", b"cd"])}), path)  # fmt: skip
    for column, shown in (("c", ["true", "false"]), ("i", ["1", "2"]), ("f", ["1", "2.5"]),
                          ("b", ["ab", "cd"])):  # fmt: skip
        # A spec formats a number as Python does ({f:.1f}); other values as their text.
        spec = [] if column == "f" else [f"<{{{column}:>1}}>"]
        for template in (f"<{{{column}}}>", f"<{{{column}!s}}>", *spec):
            result = partsim.analyze(str(path), key=template, partition_count=N, top=10)
            assert sorted(result.hot_keys["key"]) == sorted(f"<{text}>" for text in shown)
            assert_hashed(result, [f"<{text}>".encode() for text in shown])


# ----------------------------------------------------------------- lone surrogates
def test_a_lone_surrogate_is_encoded_as_each_clients_runtime_does(tmp_path: Path) -> None:
    """'a\\ud800b' in JSON: the JDK writes '?', kafkajs and Go U+FFFD (section 14 of the
    reference: the real kafkajs put it on 9 of 12, the JDK rule on 4), Pulsar's
    JavaStringHash hashes the UTF-16 unit, and Python clients refuse the key."""
    path = tmp_path / "s.jsonl"
    path.write_text('{"k": "a\\ud800b"}\n{"k": "plain"}\n')
    jdk, node = b"a?b", "a\ufffdb".encode()

    def partition_of(partitioner: str) -> int:
        result = partsim.analyze(str(path), key="k", partition_count=12, top=5,
                                 partitioner=partitioner)  # fmt: skip
        rows = result.hot_keys[result.hot_keys["key"] != "plain"]
        return int(rows["partition"].iloc[0])

    assert partition_of("java") == java_partition(jdk, 12) == 4
    assert partition_of("kafkajs") == java_partition(node, 12) == 9
    assert partition_of("sarama") == partsim.assign([node], 12, partitioner="sarama",
                                                    key_format="bytes")[0]  # fmt: skip
    units = [0x61, 0xD800, 0x62]
    java_hash = 0
    for unit in units:  # String.hashCode, then Pulsar's mask and signSafeMod
        java_hash = (31 * java_hash + unit) & 0xFFFFFFFF
    assert partition_of("pulsar") == (java_hash & 0x7FFFFFFF) % 12
    for python_client in ("kafka-python", "aiokafka"):
        with pytest.raises(partsim.DataError, match=r"lone UTF-16 surrogate \(U\+D800\)"):
            partition_of(python_client)


def test_the_partitioner_table_records_each_clients_rule() -> None:
    rules = {p.name: p.text_encoding for p in PARTITIONERS.values()}
    assert rules["java"] == "jdk" and rules["kafkajs"] == rules["sarama"] == "replacement"
    assert rules["kafka-python"] == "refuse" and rules["pulsar"] == "utf-16"
    listed = json.loads(run_partsim("partitioners", "--json").stdout)
    assert all("lone_surrogate" in row for row in listed)


# ------------------------------------------------------------------- huge counts
def test_a_huge_partition_count_is_one_line_naming_the_limit() -> None:
    orders = Path(__file__).parents[1] / "sample_data" / "orders.csv"
    for count in ("10000000", "2147483647"):
        done = run_partsim("analyze", str(orders), "--key", "customer_id", "-p", count)
        assert done.returncode == 2
        assert done.stderr.strip().startswith(
            "Error: partition_count must be at most 1,048,576 for an analysis"
        )
        assert done.stderr.count("\n") == 1
    assert run_partsim("partition", "k", "-p", "2147483647").returncode == 0


def test_the_reference_stays_bounded_at_the_largest_count() -> None:
    from partsim.reference import uniform_reference

    reference = uniform_reference(np.ones(1000), 10, 1 << 20, seed=1)
    assert reference["method"] == "simulated" and reference["trials"] >= 20
    assert math.isfinite(reference["mean"]) and reference["mean"] > 1000
