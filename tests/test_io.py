"""The input layer: every format, compression, stdin, globs, and bad input made clean."""

from __future__ import annotations

import bz2
import contextlib
import gc
import gzip
import importlib.util
import io
import sys
from pathlib import Path
from types import ModuleType, SimpleNamespace

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

import partsim
from partsim.errors import DataError, UsageError
from partsim.io import FORMATS, KCAT_COLUMNS, EventSource, open_events
from partsim.serde import text_values

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "sample_data"
LOG_REGEX = r"^(?P<ts>\S+) INFO \S+ placed order=\S+ customer=(?P<key>\S+) bytes=(?P<size>\d+)"


def rows(events: EventSource) -> list[dict]:
    return [row for batch in events for row in batch.to_pylist()]


@pytest.fixture(autouse=True)
def in_tmp_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run in a temporary directory, so that files have short relative names."""
    monkeypatch.chdir(tmp_path)


def write(name: str, data: bytes) -> Path:
    path = Path(name)
    path.write_bytes(data)
    return path


def zstd(data: bytes) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.CompressedOutputStream(sink, "zstd") as out:
        out.write(data)
    return sink.getvalue().to_pybytes()


COMPRESSORS = {".gz": gzip.compress, ".bz2": bz2.compress, ".zst": zstd}

ORDERS = b"order_id,customer_id,region\nO1,007,EU\nO2,,NA\nO3,C42,\n"


# --- CSV and TSV -------------------------------------------------------------------------


def test_csv_columns_are_text_and_empty_fields_null() -> None:
    events = open_events(write("orders.csv", ORDERS))
    assert events.columns == ["order_id", "customer_id", "region"]
    assert events.describe() == "orders.csv (CSV)"
    assert rows(events) == [
        {"order_id": "O1", "customer_id": "007", "region": "EU"},
        {"order_id": "O2", "customer_id": None, "region": "NA"},  # "NA" is text
        {"order_id": "O3", "customer_id": "C42", "region": None},
    ]
    assert (events.rows_read, events.skipped_rows, events.skipped_examples) == (3, 0, [])
    assert events.bytes_read == events.bytes_total == len(ORDERS)


def test_every_batch_has_the_same_text_schema() -> None:
    data = b"key,size\n" + b"".join(b"k%d,%d\n" % (i, i) for i in range(1000))
    batches = list(open_events(write("big.csv", data), batch_rows=300))
    assert [batch.num_rows for batch in batches] == [300, 300, 300, 100]
    assert {batch.schema for batch in batches} == {
        pa.schema([("key", pa.string()), ("size", pa.string())])
    }


def test_quoted_values_may_span_lines_and_keep_delimiters() -> None:
    data = b'key,note\n"a,b","line 1\nline 2"\n"",x\n'
    assert rows(open_events(write("q.csv", data))) == [
        {"key": "a,b", "note": "line 1\nline 2"},
        {"key": None, "note": "x"},  # a quoted empty field is null too
    ]


def test_header_only_csv_has_columns_and_no_rows() -> None:
    events = open_events(write("h.csv", b"key,size"))  # no final newline
    assert events.columns == ["key", "size"]
    assert list(events) == []
    assert events.rows_read == 0


def test_empty_csv_is_a_data_error() -> None:
    with pytest.raises(DataError, match=r"^empty\.csv is empty"):
        open_events(write("empty.csv", b""))
    with pytest.raises(DataError, match="is empty"):
        open_events(write("blank.csv", b"\n\n"))


def test_duplicate_header_names_are_a_data_error() -> None:
    with pytest.raises(DataError, match="duplicate column names: key"):
        open_events(write("dup.csv", b"key,key\n1,2\n"))


def test_ragged_rows_are_skipped_and_counted() -> None:
    path = write("r.csv", b"key,size\na,1\nb\nc,3,extra\nd,4\n")
    events = open_events(path)
    assert [row["key"] for row in rows(events)] == ["a", "d"]
    assert events.skipped_rows == 2
    assert events.skipped_examples == [
        "r.csv:3: expected 2 fields, found 1",
        "r.csv:4: expected 2 fields, found 3",
    ]


def test_strict_makes_a_ragged_row_an_error_naming_the_line() -> None:
    events = open_events(write("r.csv", b"key,size\na,1\nb\n"), strict=True)
    with pytest.raises(DataError, match=r"^r\.csv:3: expected 2 fields, found 1$"):
        list(events)


def test_a_csv_read_again_for_a_ragged_row_leaves_no_stream_alive() -> None:
    # The first, threaded read stops at a ragged row and the file is read again; the error
    # that stopped it once kept that read's frame, streams and buffers alive for good.
    path = write("r.csv", b"key,size\na,1\nb\n")

    def alive() -> int:
        gc.collect()
        return sum(isinstance(thing, partsim.io._ByteStream) for thing in gc.get_objects())

    before = alive()
    for strict in (False, True, False, True):
        with contextlib.suppress(DataError):
            list(open_events(path, strict=strict))
    assert alive() == before


def test_ragged_rows_that_are_not_utf8_are_skipped_too() -> None:
    # pyarrow decodes a ragged row as UTF-8 before calling the handler: it printed a
    # traceback and gave up on the file. Escaped bytes come back byte for byte.
    path = write("r.csv", b"key,size\na\x01\x01b,1\n\xff\n\xff,x,y\n\xc3\xa9\x01,2\n")
    events = open_events(path)
    assert rows(events) == [{"key": "a\x01\x01b", "size": "1"}, {"key": "é\x01", "size": "2"}]
    assert events.skipped_examples == [
        "r.csv:3: expected 2 fields, found 1",
        "r.csv:4: expected 2 fields, found 3",
    ]
    path = write("r.csv", b"key\x01size\na\x02\x01\xff\nb\x02\x01ok\n\xfe\n")
    events = open_events(path, delimiter="\x01")  # then \x02 is the escape
    assert rows(events) == [{"key": "b\x02", "size": "ok"}]
    assert sorted(events.skipped_examples) == [
        "r.csv:2: column 'size' is not valid UTF-8",
        "r.csv:4: expected 2 fields, found 1",
    ]


def test_invalid_utf8_rows_are_skipped_not_mangled() -> None:
    # Arrow text must be UTF-8; replacing the bytes would hash a different key, so the
    # row is skipped and counted (strict: an error) rather than silently changed.
    path = write("u.csv", b"key,size\nok,1\n\xff\xfe,2\n\xc3\xa9t\xc3\xa9,3\n")
    events = open_events(path)
    assert rows(events) == [{"key": "ok", "size": "1"}, {"key": "été", "size": "3"}]
    assert events.skipped_examples == ["u.csv:3: column 'key' is not valid UTF-8"]
    with pytest.raises(DataError, match=r"u\.csv:3: column 'key' is not valid UTF-8"):
        list(open_events(path, strict=True))


def test_invalid_utf8_row_numbers_count_skipped_rows() -> None:
    path = write("u.csv", b"k,v\na,1\nragged\nb,2\n\xff,3\n")
    events = open_events(path)
    assert [row["k"] for row in rows(events)] == ["a", "b"]
    assert events.skipped_examples == [
        "u.csv:3: expected 2 fields, found 1",
        "u.csv:5: column 'k' is not valid UTF-8",
    ]


@pytest.mark.parametrize("from_stdin", [False, True], ids=["file-threads", "stdin"])
def test_utf8_is_checked_after_a_long_ascii_prefix(
    from_stdin: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Batches are taken as text unchecked while every byte read so far was ASCII. Arrow
    # reads about 35 MiB ahead of the batch it yields, so after a 48 MiB prefix the first
    # batches go unchecked and the later ones, read with the bytes below, must be checked.
    filler = b"x" * 1000
    prefix = b"".join(b"k%d,%s\n" % (i, filler) for i in range(50_000))
    late = b"caf\xc3\xa9,1\n\xff\xfe,2\na\x01\x01b,3\n\xc3,4\nz,5\n"
    data = b"key,size\n" + prefix + late
    checked: list[int] = []
    utf8_batch = partsim.io._utf8_batch

    def counting(batch: pa.RecordBatch, *args: object) -> pa.RecordBatch:
        checked.append(batch.num_rows)
        return utf8_batch(batch, *args)

    monkeypatch.setattr(partsim.io, "_utf8_batch", counting)
    if from_stdin:
        fake_stdin(monkeypatch, data)
        name, events = "stdin", open_events("-")
    else:
        name, events = "late.csv", open_events(write("late.csv", data))
    table = pa.Table.from_batches(list(events))
    assert table.schema.types == [pa.string(), pa.string()]
    assert table.num_rows == 50_003
    assert table.slice(0, 1).to_pylist() == [{"key": "k0", "size": filler.decode()}]
    assert table.slice(50_000).to_pylist() == [
        {"key": "café", "size": "1"},
        {"key": "a\x01\x01b", "size": "3"},
        {"key": "z", "size": "5"},
    ]
    assert events.skipped_examples == [
        f"{name}:50003: column 'key' is not valid UTF-8",
        f"{name}:50005: column 'key' is not valid UTF-8",
    ]
    assert 0 < sum(checked) < 50_000  # the prefix's first batches went unchecked
    if not from_stdin:
        with pytest.raises(DataError, match=r"late\.csv:50003: column 'key' is not valid"):
            list(open_events("late.csv", strict=True))


def test_an_ascii_csv_is_text_without_a_utf8_check(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(partsim.io, "_utf8_batch", None)  # never called
    path = write("a.csv", b"key,size\n" + b"".join(b"k%d,\n" % i for i in range(300_000)))
    batches = list(open_events(path))
    assert all(batch.schema.types == [pa.string(), pa.string()] for batch in batches)
    assert sum(batch.num_rows for batch in batches) == 300_000
    assert batches[-1].column("key")[-1].as_py() == "k299999"
    assert batches[-1].column("size").null_count == batches[-1].num_rows


def test_nul_bytes_and_a_utf8_bom_are_read() -> None:
    path = write("nul.csv", b"\xef\xbb\xbfkey,size\na\x00b,1\n")
    events = open_events(path)
    assert events.columns == ["key", "size"]
    assert rows(events) == [{"key": "a\x00b", "size": "1"}]


def test_a_20_mb_field() -> None:
    huge = b"x" * (20 << 20)
    path = write("huge.csv", b"key,size\n" + huge + b",1\nb,2\n")
    values = [row["key"] for row in rows(open_events(path))]
    assert len(values) == 2 and len(values[0]) == len(huge) and values[1] == "b"


def test_a_long_row_after_many_rows_is_read_once() -> None:
    # The first pass (1 MiB blocks) yields rows, then meets the long row; the file is read
    # again with a bigger block, without yielding or counting anything twice.
    rows_before = b"".join(b"k%d,%d\n" % (i, i) for i in range(150_000))
    data = b"key,size\n" + rows_before + b"ragged\n" + b"x" * (3 << 20) + b",1\nz,2\n"
    events = open_events(write("long.csv", data), batch_rows=100_000)
    keys = [row["key"] for row in rows(events)]
    assert len(keys) == 150_002 and keys[:2] == ["k0", "k1"] and keys[-1] == "z"
    assert len(keys[-2]) == 3 << 20
    assert events.skipped_examples == ["long.csv:150002: expected 2 fields, found 1"]
    assert events.rows_read == 150_002


def test_a_long_csv_row_on_stdin_is_a_clean_error(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_stdin(monkeypatch, b"key,size\n" + b"x" * (2 << 20) + b",1\n")
    with pytest.raises(DataError, match=r"^stdin: a row is longer than 1 MiB"):
        list(open_events("-"))


def test_tsv_has_no_quoting() -> None:
    path = write("k.tsv", b'key\tsize\n"quoted\t1\na,b\t2\n')
    events = open_events(path)
    assert events.describe() == "k.tsv (TSV)"
    assert rows(events) == [{"key": '"quoted', "size": "1"}, {"key": "a,b", "size": "2"}]


@pytest.mark.parametrize("delimiter", [";", "|"])
def test_delimiter_override(delimiter: str) -> None:
    data = f"key{delimiter}size\na,b{delimiter}1\n".encode()
    events = open_events(write("s.csv", data), delimiter=delimiter)
    assert rows(events) == [{"key": "a,b", "size": "1"}]


def test_tab_delimiter_may_be_written_as_backslash_t() -> None:
    events = open_events(write("s.csv", b"key\tsize\na\t1\n"), delimiter="\\t")
    assert events.columns == ["key", "size"]


def test_bad_delimiter_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="delimiter must be one character"):
        open_events(write("s.csv", ORDERS), delimiter=";;")


# --- compression -------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", sorted(COMPRESSORS))
def test_compressed_csv(suffix: str) -> None:
    compressed = COMPRESSORS[suffix](ORDERS)
    events = open_events(write(f"orders.csv{suffix}", compressed))
    assert events.columns == ["order_id", "customer_id", "region"]
    assert [row["customer_id"] for row in rows(events)] == ["007", None, "C42"]
    assert events.bytes_total == events.bytes_read == len(compressed)


@pytest.mark.parametrize("suffix", sorted(COMPRESSORS))
def test_compressed_jsonl(suffix: str) -> None:
    data = b'{"key": "a"}\n{"key": "b"}\n'
    path = write(f"e.jsonl{suffix}", COMPRESSORS[suffix](data))
    assert rows(open_events(path)) == [{"key": "a"}, {"key": "b"}]


@pytest.mark.parametrize(("suffix", "codec"), [(".gz", "gzip"), (".zst", "zstd"), (".bz2", "bz2")])
def test_truncated_compressed_file(suffix: str, codec: str) -> None:
    data = b"key,size\n" + b"".join(b"key-%d,%d\n" % (i, i) for i in range(20000))
    compressed = COMPRESSORS[suffix](data)
    path = write(f"t.csv{suffix}", compressed[: len(compressed) // 2])
    pattern = rf"^t\.csv{suffix} is truncated or corrupt \({codec}\): "
    with pytest.raises(DataError, match=pattern):
        list(open_events(path))


def test_not_gzip_at_all() -> None:
    with pytest.raises(DataError, match=r"x\.csv\.gz is truncated or corrupt \(gzip\)"):
        open_events(write("x.csv.gz", b"key,size\nplain text\n"))


def test_concatenated_gzip_members() -> None:
    data = gzip.compress(b"key\na\n") + gzip.compress(b"b\n")
    assert rows(open_events(write("m.csv.gz", data))) == [{"key": "a"}, {"key": "b"}]


# --- JSON lines --------------------------------------------------------------------------


def test_jsonl_nested_fields_become_dotted_text_columns() -> None:
    data = (
        b'{"user": {"id": 7, "name": "ann"}, "ts": "2026-11-27", "ok": true}\n'
        b'{"user": {"id": "007"}, "ts": "2026-11-28T10:00:00", "ok": false}\n'
        b'{"user": null}\n'
    )
    events = open_events(write("e.jsonl", data))
    assert events.columns == ["user.id", "user.name", "ts", "ok"]
    assert rows(events) == [
        {"user.id": "7", "user.name": "ann", "ts": "2026-11-27", "ok": "true"},
        {"user.id": "007", "user.name": None, "ts": "2026-11-28T10:00:00", "ok": "false"},
        {"user.id": None, "user.name": None, "ts": None, "ok": None},
    ]


def test_jsonl_numbers_keep_their_value() -> None:
    data = b'{"id": 12345678901234567890, "n": -5, "f": 1.0, "g": 2.5, "h": 1e-7, "a": [1, "x"]}\n'
    assert rows(open_events(write("n.ndjson", data))) == [
        {"id": "12345678901234567890", "n": "-5", "f": "1", "g": "2.5", "h": "1e-7", "a": '[1,"x"]'}
    ]


def test_jsonl_values_do_not_depend_on_a_bad_line_nearby() -> None:
    # A bad line sends its block to the line-by-line parser: same text either way.
    good = b'{"k": "a", "n": 3, "f": 0.5, "b": true, "t": "2026-11-27", "u": {"v": 1}}\n'
    clean = rows(open_events(write("clean.jsonl", good * 3)))
    events = open_events(write("bad.jsonl", good + b"{oops\n" + good * 2))
    assert rows(events) == clean
    assert events.skipped_rows == 1
    assert events.skipped_examples[0].startswith("bad.jsonl:2: invalid JSON")


def test_jsonl_lines_that_are_not_objects() -> None:
    data = b'{"key": "a"}\n[1, 2]\n"text"\n\n\xff\n{"key": "b"}\n'
    events = open_events(write("e.json", data))
    assert rows(events) == [{"key": "a"}, {"key": "b"}]
    assert events.skipped_examples == [
        "e.json:2: a JSON list where an object was expected",
        "e.json:3: a JSON str where an object was expected",
        "e.json:5: not valid UTF-8",
    ]
    with pytest.raises(DataError, match=r"^e\.json:2: a JSON list"):
        list(open_events("e.json", strict=True))


def test_a_json_array_is_not_json_lines() -> None:
    path = write("orders.json", b'[\n  {"key": "a"},\n  {"key": "b"}\n]\n')
    with pytest.raises(DataError, match=r"orders\.json holds a JSON array.*jq -c '\.\[\]' orders"):
        open_events(path)


def test_a_byte_order_mark_is_skipped_in_text_formats() -> None:
    assert open_events(write("b.jsonl", b'\xef\xbb\xbf{"key": "a"}\n')).columns == ["key"]
    events = open_events(write("b.log", b"\xef\xbb\xbfkey=a\n"), regex=r"^key=(?P<key>\S+)")
    assert rows(events) == [{"key": "a"}]


def test_jsonl_lone_surrogate_is_kept_for_each_client_to_encode() -> None:
    """The reader keeps an escaped lone surrogate (as generalized UTF-8); each client writes
    it as its runtime does: '?' in the JDK, U+FFFD in Node (kafkajs lands it on 9 of 12,
    section 14 of the reference), and Python clients refuse it."""
    path = write("s.jsonl", b'{"key": "a\\ud800b"}\n{"key": "\\ud83d\\ude00"}\n')
    (batch,) = list(open_events(path))
    assert text_values(batch.column("key")) == ["a\ud800b", "\U0001f600"]
    assert partsim.assign(batch.column("key"), 12).tolist()[0] == 4
    assert partsim.assign(batch.column("key"), 12, partitioner="kafkajs").tolist()[0] == 9
    with pytest.raises(DataError, match=r"lone UTF-16 surrogate \(U\+D800\)"):
        partsim.assign(batch.column("key"), 12, partitioner="kafka-python")


def test_deeply_nested_json_is_skipped_cleanly() -> None:
    deep = b'{"a": ' * 1000 + b"1" + b"}" * 1000
    events = open_events(write("deep.jsonl", deep + b'\n{"a": 2}\n'))
    assert rows(events) == [{"a": "2"}]
    assert events.skipped_examples == ["deep.jsonl:1: nested deeper than 64 levels"]


def test_jsonl_missing_fields_are_null_and_late_fields_ignored() -> None:
    path = write("e.jsonl", b'{"key": "a", "size": 1}\n')
    later = write("f.jsonl", b'{"key": "b", "other": 2}\n')
    events = open_events([path, later])
    assert events.columns == ["key", "size"]
    assert rows(events) == [{"key": "a", "size": "1"}, {"key": "b", "size": None}]


# --- Parquet -----------------------------------------------------------------------------


def test_parquet_keeps_types_and_flattens_structs() -> None:
    table = pa.table(
        {
            "key": pa.array([1, 2, 3], pa.int64()),
            "user": [{"id": "a", "geo": {"cc": "FR"}}, {"id": "b", "geo": None}, None],
            "ts": pa.array([0, 1000, 2000], pa.timestamp("ms", tz="UTC")),
        }
    )
    pq.write_table(table, "e.parquet", row_group_size=2)
    events = open_events("e.parquet", batch_rows=2)
    assert events.columns == ["key", "user.id", "user.geo.cc", "ts"]
    batches = list(events)
    assert [batch.num_rows for batch in batches] == [2, 1]
    assert batches[0].schema.field("key").type == pa.int64()
    assert pa.types.is_timestamp(batches[0].schema.field("ts").type)
    assert [row["user.geo.cc"] for row in rows_of(batches)] == ["FR", None, None]
    assert events.bytes_read == events.bytes_total


def rows_of(batches: list[pa.RecordBatch]) -> list[dict]:
    return [row for batch in batches for row in batch.to_pylist()]


def test_truncated_parquet() -> None:
    pq.write_table(pa.table({"key": ["a"] * 100}), "full.parquet")
    data = Path("full.parquet").read_bytes()
    path = write("t.pq", data[: len(data) // 2])
    with pytest.raises(DataError, match=r"^t\.pq is truncated or corrupt \(Parquet\): "):
        open_events(path)


def test_parquet_cannot_come_from_stdin_or_through_gzip() -> None:
    with pytest.raises(UsageError, match="Parquet cannot be read from stdin"):
        open_events("-", format="parquet")
    with pytest.raises(UsageError, match="decompress it first"):
        open_events(write("e.parquet.gz", b""))


# --- log ---------------------------------------------------------------------------------


LOG = (
    b"2026-11-27T10:00:00.000Z INFO order-service starting\n"
    b"2026-11-27T10:00:01.123Z INFO order-service placed order=O1 customer=C00042 bytes=512\n"
    b"\n"
    b"2026-11-27T10:00:02.000Z INFO order-service placed order=O2 customer=C\xff bytes=9\n"
    b"2026-11-27T10:00:03.000Z INFO order-service placed order=\xff customer=C7 bytes=10\r\n"
)


def test_log_lines_by_regex() -> None:
    events = open_events(write("app.log", LOG), regex=LOG_REGEX)
    assert events.columns == ["ts", "key", "size"]
    assert events.describe() == "app.log (log)"
    assert rows(events) == [
        {"ts": "2026-11-27T10:00:01.123Z", "key": "C00042", "size": "512"},
        # invalid bytes outside the captured groups are harmless
        {"ts": "2026-11-27T10:00:03.000Z", "key": "C7", "size": "10"},
    ]
    assert events.skipped_rows == 2
    assert events.skipped_examples == [
        "app.log:1: does not match the regex",
        "app.log:4: the captured text is not valid UTF-8",
    ]


def test_log_strict_names_the_line() -> None:
    events = open_events(write("app.log", LOG), regex=LOG_REGEX, strict=True)
    with pytest.raises(DataError, match=r"^app\.log:1: does not match the regex$"):
        list(events)


def test_log_optional_group_is_null_when_absent() -> None:
    path = write("a.txt", b"key=a size=1\nkey=b\n")
    events = open_events(path, regex=r"key=(?P<key>\w+)(?: size=(?P<size>\d+))?")
    assert rows(events) == [{"key": "a", "size": "1"}, {"key": "b", "size": None}]


def test_log_regex_matching_nothing_yields_nothing() -> None:
    events = open_events(write("app.log", LOG), regex=r"user=(?P<key>\S+)")
    assert list(events) == []
    assert events.skipped_rows == 4  # every non-blank line


def test_log_with_nul_bytes_and_a_20_mb_line() -> None:
    huge = b"k" * (20 << 20)
    path = write("big.log", b"key=a\x00b\nkey=" + huge + b"\nkey=c\n")
    values = [row["key"] for row in rows(open_events(path, regex=r"key=(?P<key>\S+)"))]
    assert values[0] == "a\x00b" and len(values[1]) == len(huge) and values[2] == "c"


def test_log_needs_a_regex_with_a_key_group() -> None:
    path = write("app.log", LOG)
    with pytest.raises(UsageError, match="log input needs --regex"):
        open_events(path)
    with pytest.raises(UsageError, match=r"named group 'key'.*; it has: customer, size$"):
        open_events(path, regex=r"customer=(?P<customer>\S+) bytes=(?P<size>\d+)")
    with pytest.raises(UsageError, match=r"it has: none$"):
        open_events(path, regex=r"customer=\S+")
    with pytest.raises(UsageError, match=r"^--regex is not a valid Python regex: missing \)"):
        open_events(path, regex=r"(?P<key>\S+")


def test_regex_for_other_formats_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match=r"--regex applies to log input only; o\.csv is CSV"):
        open_events(write("o.csv", ORDERS), regex=r"(?P<key>.)")


# --- kcat --------------------------------------------------------------------------------


def test_kcat_lines() -> None:
    data = (
        b"user-1\t3\t0\t1795773600000\t120\n"
        b"\t0\t0\t1795773600001\t-1\n"  # a null key prints as nothing
        b"a\tb\t1\t7\t1795773600002\t5\n"  # a key with a tab
        b"garbage\n"
    )
    events = open_events(write("t.kcat", data))
    assert events.columns == list(KCAT_COLUMNS)
    assert [(row["key"], row["partition"], row["value_size"]) for row in rows(events)] == [
        (b"user-1", "3", "120"),
        (None, "0", "-1"),
        (b"a\tb", "1", "5"),
    ]
    assert events.skipped_examples == ["t.kcat:4: expected 5 tab-separated fields, found 1"]


def test_kcat_binary_keys_are_kept_byte_for_byte() -> None:
    """kcat prints raw key bytes (Avro, 4-byte ints): they reach the hash unchanged."""
    data = b"\xff\x00\t0\t0\t1\t2\n\x00\x00\x00\x2a\t1\t0\t1\t2\nok\t1\t0\t\xff\t2\n"
    events = open_events(write("b.kcat", data))
    assert [row["key"] for row in rows(events)] == [b"\xff\x00", b"\x00\x00\x00\x2a"]
    assert events.skipped_examples == ["b.kcat:3: a field after the key is not valid UTF-8"]


# --- stdin, globs, several files, tables ---------------------------------------------------


def fake_stdin(monkeypatch: pytest.MonkeyPatch, data: bytes) -> None:
    monkeypatch.setattr(sys, "stdin", SimpleNamespace(buffer=io.BytesIO(data)))


def test_stdin_defaults_to_csv(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_stdin(monkeypatch, ORDERS)
    events = open_events("-")
    assert events.columns == ["order_id", "customer_id", "region"]
    assert events.describe() == "stdin (CSV)"
    assert events.bytes_total is None
    assert [row["customer_id"] for row in rows(events)] == ["007", None, "C42"]
    assert events.bytes_read == len(ORDERS)


@pytest.mark.parametrize(
    ("format", "data", "regex"),
    [
        ("jsonl", b'{"key": "007"}\n{"key": null}\n{"key": "C42"}\n', None),
        ("log", b"key=007\nkey=\nkey=C42\n", r"key=(?P<key>\S*)"),
        ("kcat", b"007\t0\t0\t1\t2\n\t0\t1\t1\t2\nC42\t1\t0\t1\t2\n", None),
    ],
)
def test_stdin_in_other_formats(
    monkeypatch: pytest.MonkeyPatch, format: str, data: bytes, regex: str | None
) -> None:
    fake_stdin(monkeypatch, data)
    events = open_events("-", format=format, regex=regex)
    assert events.columns[0] == "key"
    expected_null = "" if format == "log" else None  # an empty regex match is ""
    expected = ["007", expected_null, "C42"]
    if format == "kcat":  # kcat keys are raw bytes
        expected = [b"007", None, b"C42"]
    assert [row["key"] for row in rows(events)] == expected


def test_stdin_twice_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="stdin"):
        open_events(["-", "-"])


def test_glob_and_several_files() -> None:
    write("b.csv", b"key,size\nb,2\n")
    write("a.csv", b"size,key\n1,a\n")  # same columns, other order
    write("c.csv.gz", gzip.compress(b"key,size\nc,3\n"))
    events = open_events("*.csv*")
    assert events.describe() == "3 files (CSV)"
    assert events.columns == ["size", "key"]
    assert [row["key"] for row in rows(events)] == ["a", "b", "c"]
    assert events.bytes_read == events.bytes_total


def test_batches_span_files() -> None:
    for name in ("a", "b", "c"):
        write(f"{name}.csv", b"key\n" + b"".join(b"%s%d\n" % (name.encode(), i) for i in range(5)))
    batches = list(open_events("*.csv", batch_rows=4))
    assert [batch.num_rows for batch in batches] == [4, 4, 4, 3]
    assert rows_of(batches)[5] == {"key": "b0"}


def test_a_file_listed_twice_is_read_once() -> None:
    path = write("a.csv", b"key\na\n")
    assert rows(open_events([path, "*.csv"])) == [{"key": "a"}]


def test_mixed_formats_with_the_same_columns() -> None:
    csv_path = write("a.csv", b"key,size\na,1\n")
    json_path = write("b.jsonl", b'{"key": "b", "size": 2}\n')
    events = open_events([csv_path, json_path])
    assert events.describe() == "2 files (CSV, JSON lines)"
    assert rows(events) == [{"key": "a", "size": "1"}, {"key": "b", "size": "2"}]


def test_files_with_other_columns() -> None:
    first = write("a.csv", b"key,size\na,1\n")
    other = write("b.csv", b"key,bytes\nb,2\n")
    with pytest.raises(DataError, match=r"b\.csv has other columns than .*a\.csv: lacks size; "):
        open_events([first, other])


def test_each_file_keeps_its_own_column_types() -> None:
    """Inputs are never cast to one another: each batch holds one input's own values (here
    an int64 ``size``, then text), even when the batch size would join them; inputs of the
    same types share batches."""
    pq.write_table(pa.table({"key": ["a"], "size": [1]}), "a.parquet")
    pq.write_table(pa.table({"key": ["b"], "size": ["big"]}), "b.parquet")
    write("c.csv", b"key,size\n007,-0\n")
    batches = list(open_events(["a.parquet", "b.parquet", "c.csv"]))
    assert [batch.schema.field("size").type for batch in batches] == [pa.int64(), pa.string()]
    assert [batch.to_pylist() for batch in batches] == [
        [{"key": "a", "size": 1}],
        [{"key": "b", "size": "big"}, {"key": "007", "size": "-0"}],
    ]


def test_missing_files_directories_and_empty_globs() -> None:
    with pytest.raises(DataError, match=r"^nope\.csv does not exist$"):
        open_events("nope.csv")
    Path("logs").mkdir()
    with pytest.raises(
        DataError, match=r"^logs is a directory; give the files in it \(e\.g\. logs/\*\.csv\)$"
    ):
        open_events("logs")
    with pytest.raises(DataError, match=r"^no files match '\*\.csv'$"):
        open_events("*.csv")
    write("logs/a.jsonl.gz", b"")
    write("logs/b.jsonl.gz", b"")
    write("logs/notes.md", b"")
    with pytest.raises(DataError, match=r"\(e\.g\. logs/\*\.jsonl\.gz\)$"):
        open_events("logs/")


def test_extension_detection() -> None:
    upper = write("ORDERS.CSV.GZ", gzip.compress(ORDERS))
    assert open_events(upper).describe() == "ORDERS.CSV.GZ (CSV, gzip)"
    tab = write("o.tab", ORDERS.replace(b",", b"\t"))
    assert open_events(tab).columns == ["order_id", "customer_id", "region"]
    dat = write("orders.dat", ORDERS)
    with pytest.raises(UsageError, match=r"format of '.*orders\.dat'.*give --format \(one of csv"):
        open_events(dat)
    assert open_events(dat, format="csv").describe().endswith("orders.dat (CSV)")


def test_unknown_format_suggests_the_closest() -> None:
    with pytest.raises(UsageError, match=r"format must be one of .*got 'jsnol'"):
        open_events(write("a.csv", ORDERS), format="jsnol")
    with pytest.raises(UsageError, match=r"\(did you mean 'csv'\?\)"):
        open_events("a.csv", format="cvs")
    assert set(FORMATS) == {"csv", "tsv", "jsonl", "parquet", "log", "kcat"}


def test_bad_inputs_type_and_batch_rows() -> None:
    with pytest.raises(UsageError, match="inputs must be a path"):
        open_events(42)
    with pytest.raises(UsageError, match="inputs is empty"):
        open_events([])
    with pytest.raises(UsageError, match="batch_rows must be a positive integer"):
        open_events(write("a.csv", ORDERS), batch_rows=0)


def test_dataframe_and_table_inputs() -> None:
    frame = pd.DataFrame({"key": ["a", None, "c"], "size": [1, 2, 3]}, index=[7, 8, 9])
    events = open_events(frame, batch_rows=2)
    assert events.columns == ["key", "size"]  # no index column
    batches = list(events)
    assert [batch.num_rows for batch in batches] == [2, 1]
    assert batches[0].schema.field("size").type == pa.int64()
    assert rows_of(batches)[1] == {"key": None, "size": 2}
    assert events.describe() == "a DataFrame (3 rows)"
    assert events.bytes_read == events.bytes_total

    table = pa.table({"user": [{"id": 1}, {"id": 2}]})
    events = open_events(table)
    assert events.columns == ["user.id"]
    assert rows(events) == [{"user.id": 1}, {"user.id": 2}]


def test_a_dataframe_arrow_cannot_hold() -> None:
    with pytest.raises(DataError, match=r"^the DataFrame cannot be converted to Arrow: .*column a"):
        open_events(pd.DataFrame({"a": [object()]}))


def test_a_source_is_read_once() -> None:
    events = open_events(write("a.csv", ORDERS))
    list(events)
    with pytest.raises(UsageError, match="read once"):
        iter(events)


# --- the sample data -----------------------------------------------------------------------


def load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_samples", SAMPLES / "make_samples.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_samples_are_regenerated_byte_for_byte(tmp_path: Path) -> None:
    written = load_generator().write_samples(tmp_path / "out")
    assert [path.name for path in written] == ["orders.csv", "app.log", "orders.kcat"]
    for path in written:
        committed = SAMPLES / path.name
        assert path.read_bytes() == committed.read_bytes(), path.name
        assert committed.stat().st_size < 1_000_000


def test_sample_orders_csv() -> None:
    events = open_events(SAMPLES / "orders.csv")
    assert events.columns == ["order_id", "customer_id", "region", "amount", "size_bytes", "ts"]
    table = pa.Table.from_batches(list(events))
    assert table.num_rows == 18_000 and events.skipped_rows == 0
    customers = table.column("customer_id")
    assert 0.002 < customers.null_count / table.num_rows < 0.01
    counts = pd.Series(customers.to_pylist()).value_counts()
    assert counts.iloc[0] > 20 * counts.median()  # a few very hot customers
    assert set(table.column("region").to_pylist()) == {"EU", "NA", "APAC", "LATAM", "MEA"}


def test_sample_app_log_with_the_documented_regex() -> None:
    assert load_generator().LOG_REGEX == LOG_REGEX
    events = open_events(SAMPLES / "app.log", regex=LOG_REGEX)
    read = rows(events)
    assert 4_800 < len(read) < 5_000 and events.skipped_rows > 50
    assert all(row["key"].startswith("C") and row["size"].isdigit() for row in read)


def test_sample_kcat_partitions_are_the_java_producers() -> None:
    table = pa.Table.from_batches(list(open_events(SAMPLES / "orders.kcat")))
    assert table.num_rows == 3_000
    keyed = table.filter(table.column("key").is_valid())
    expected = partsim.assign(keyed.column("key"), 6)
    assert keyed.column("partition").to_pylist() == [str(p) for p in expected]
    for partition in range(6):  # offsets count up from 0 in every partition
        mask = pc.equal(table.column("partition"), str(partition))
        offsets = [int(o) for o in table.filter(mask).column("offset").to_pylist()]
        assert offsets == list(range(len(offsets)))
