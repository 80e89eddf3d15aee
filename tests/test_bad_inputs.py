"""The bad-input corpus of issue 9, run through the real CLI in subprocesses.

Each bad input gets exactly one stderr line, ``Error: ...``, naming the problem; exit 2 for a
usage error and 1 for bad data; never a traceback; never a partial ``--out`` (the directory
does not exist afterwards and no staging directory is left beside it). Where partsim can
honestly go on (ragged rows without --strict, undecodable lines), it exits 0 and says on
stderr what it skipped. The corpus is written into a temporary directory by the tests.
"""

from __future__ import annotations

import gzip
import json
import subprocess
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.cli import run_partsim

BIG = 20 * 1024 * 1024  # the "20 MB single line"
RANGE = "is not in the range 1<=x<=2147483647"
COUNTS = "must be partition counts from 1 to 2147483647"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("corpus")

    def put(name: str, data: bytes) -> None:
        (folder / name).write_bytes(data)

    put("empty.csv", b"")
    put("empty.jsonl", b"")
    put("empty.parquet", b"")
    put("empty.csv.gz", gzip.compress(b""))
    put("header.csv", b"customer_id,region\n")
    put("ok.csv", b"customer_id,region\nabc,EU\ndef,US\n")
    put("ragged.csv", b"customer_id,region\na,EU\nb\nc,US,extra\nd,EU\n")
    put("utf8.csv", b"customer_id,region\na,EU\n\xff\xfe,US\nb,EU\n")
    put("nul.csv", b"customer_id,region\na\x00b,EU\nc,US\n")
    put("app.log", b"2026 customer=a bytes=3\nnoise\n2026 customer=b bytes=4\n")
    put("utf8.log", b"2026 customer=a\n2026 customer=\xff\xfe\n2026 customer=b\x00c\n")
    put("binary.kcat", b"k\xff\xfe\t0\t1\t2\t3\nb\t1\t2\t3\t4\n")
    put("data.xyz", b"customer_id\na\n")
    deep = b'{"a": ' * 50_000 + b"1" + b"}" * 50_000 + b"\n"  # crashed Arrow's parser
    put("deep.jsonl", deep)
    put("deep_mixed.jsonl", b'{"customer_id": "a"}\n' + deep + b'{"customer_id": "b"}\n')
    # Found by fuzz/ (atheris), minimized: each one crashed, leaked a traceback or misread.
    put("null.jsonl", b"null}\n")  # Arrow's JSON reader segfaulted on a first line 'null'
    put("null_mixed.jsonl", b'null\n{"customer_id": "a"}\nnull\n{"customer_id": "b"}\n')
    put("name_utf8.jsonl", b'{"customer_id": "a", "\xff": 1}\n{"customer_id": "b"}\n')
    put("ragged_utf8.csv", b"customer_id,region\na,EU\n\xff\nc,US\n")
    put("far.csv", b"customer_id,ts\na,2026-11-27T10:00:00Z\nb,2016-11-27T10:00:00Z\n")
    rows = b"customer_id,region\n" + b"".join(b"C%05d,EU\n" % i for i in range(20_000))
    put("cut.csv.gz", gzip.compress(rows)[:3000])
    pq.write_table(pa.table({"customer_id": [f"C{i}" for i in range(20_000)]}),
                   folder / "full.parquet")  # fmt: skip
    whole = (folder / "full.parquet").read_bytes()
    put("cut.parquet", whole[: len(whole) // 2])
    pq.write_table(
        pa.table({"listed": [[1, 2], [3]], "f": [1.5, 2.5], "i": [70_000, 1], "ts": ["x", "y"],
                  "raw": pa.array([b"\xff", b"a"], pa.binary()), "big": [2**40, 1],
                  "surrogate": [0xD800, 1]}),
        folder / "types.parquet",
    )  # fmt: skip
    pq.write_table(pa.table({"customer_id": ["a"]}), folder / "name.parquet", store_schema=False)
    name = (folder / "name.parquet").read_bytes()
    put("name_utf8.parquet", name.replace(b"customer_id", b"custome\xdf_id"))
    (folder / "adir").mkdir()
    return folder


def run(*args: str, cwd: Path, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    return run_partsim(*args, stdin=stdin, cwd=cwd, text=False)


def assert_one_error(done: subprocess.CompletedProcess, code: int, needle: str) -> None:
    stderr = done.stderr.decode("utf-8", "replace")
    assert "Traceback" not in stderr, stderr
    assert done.returncode == code, stderr
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("Error: ") and needle in lines[0], lines[0]


def assert_no_out(folder: Path) -> None:
    assert not (folder / "out").exists()
    assert not [path for path in folder.iterdir() if ".partsim-" in path.name]


ANALYZE = ["--key", "customer_id", "-p", "3"]
SIMULATE = ["--consumer-capacity", "10", "--rate", "10"]
LOG_KEY = ["--key", "key", "-p", "3", "--regex", r"customer=(?P<key>\S+)"]

CASES = [
    # -- analyze: empty and header-only files
    ("empty-csv", ["analyze", "empty.csv", *ANALYZE], 1, "empty.csv is empty; a CSV input needs"),
    ("empty-csv-gz", ["analyze", "empty.csv.gz", *ANALYZE], 1, "empty.csv.gz is empty"),
    ("empty-jsonl", ["analyze", "empty.jsonl", *ANALYZE], 1, "empty.jsonl is empty"),
    ("empty-parquet", ["analyze", "empty.parquet", *ANALYZE], 1,
     "empty.parquet is truncated or corrupt (Parquet)"),
    ("header-only", ["analyze", "header.csv", *ANALYZE], 1, "no events in header.csv (CSV)"),
    # -- ragged rows and bad bytes under --strict
    ("ragged-strict", ["analyze", "ragged.csv", *ANALYZE, "--strict"], 1,
     "ragged.csv:3: expected 2 fields, found 1"),
    ("utf8-strict", ["analyze", "utf8.csv", *ANALYZE, "--strict"], 1,
     "utf8.csv:3: column 'customer_id' is not valid UTF-8"),
    ("log-utf8-strict", ["analyze", "utf8.log", *LOG_KEY, "--strict"], 1,
     "utf8.log:2: the captured text is not valid UTF-8"),
    # -- wrong types in key columns
    ("int32-over-text", ["analyze", "ok.csv", *ANALYZE, "--key-format", "int32"], 1,
     "key_format 'int32' needs integer keys; got 'abc'"),
    ("uuid-over-text", ["analyze", "ok.csv", *ANALYZE, "--key-format", "uuid"], 1,
     "key_format 'uuid' cannot parse 'abc' as a UUID"),
    ("hex-over-text", ["analyze", "ok.csv", *ANALYZE, "--key-format", "hex"], 1,
     "key_format 'hex' cannot decode 'abc'"),
    ("int32-over-float", ["analyze", "types.parquet", "--key", "f", "-p", "3", "--key-format",
                          "int32"], 1, "needs integer keys; got Arrow type double"),
    ("int16-overflow", ["analyze", "types.parquet", "--key", "i", "-p", "3", "--key-format",
                        "int16"], 1, "key 70000 is out of range for key_format 'int16'"),
    ("list-key", ["analyze", "types.parquet", "--key", "listed", "-p", "3"], 1,
     "needs text or bytes keys; got Arrow type list"),
    ("timestamps-far-apart", ["analyze", "far.csv", *ANALYZE, "--timestamp", "ts", "--window",
                              "1s"], 1, "the timestamps span 315,532,801 windows of 1 s (2016-"),
    ("timestamps-unparsable", ["analyze", "types.parquet", "--key", "i", "-p", "3", "--timestamp",
                               "ts"], 1, "no events in types.parquet (Parquet) (2 unparsable"),
    # -- deeply nested JSON, truncated gzip and Parquet
    ("deep-json", ["analyze", "deep.jsonl", *ANALYZE], 1, "nested deeper than 64 levels"),
    ("truncated-gzip", ["analyze", "cut.csv.gz", *ANALYZE], 1,
     "cut.csv.gz is truncated or corrupt (gzip)"),
    ("truncated-parquet", ["analyze", "cut.parquet", *ANALYZE], 1,
     "cut.parquet is truncated or corrupt (Parquet)"),
    # -- found by fuzzing (fuzz/): a bare null line, names and rows that are not UTF-8
    ("json-null-line", ["analyze", "null.jsonl", *ANALYZE], 1,
     "null.jsonl has no JSON object with fields in its first MiB (skipped null.jsonl:1: "),
    ("parquet-name-utf8", ["analyze", "name_utf8.parquet", *ANALYZE], 1,
     "name_utf8.parquet is truncated or corrupt (Parquet): 'utf-8' codec can't decode"),
    ("ragged-utf8-strict", ["analyze", "ragged_utf8.csv", *ANALYZE, "--strict"], 1,
     "ragged_utf8.csv:3: expected 2 fields, found 1"),
    ("template-list", ["analyze", "types.parquet", "--key", "{listed}", "-p", "3"], 1,
     "--key '{listed}': column 'listed' is list<element: int64>, which cannot be formatted"),
    ("template-binary-utf8", ["analyze", "types.parquet", "--key", "{raw}:{i}", "-p", "3"], 1,
     "--key '{raw}:{i}': column 'raw' holds bytes that are not valid UTF-8"),
    ("template-not-utf8", ["analyze", "ok.csv", "--key", "\udce9{customer_id}", "-p", "3"], 2,
     "--key '\\udce9{customer_id}' is not valid UTF-8"),
    ("template-char-overflow", ["analyze", "types.parquet", "--key", "{big:c}", "-p", "3"], 2,
     "cannot format 1099511627776 with '{big:c}': %c arg not in range(0x110000)"),
    ("template-huge-width", ["analyze", "ok.csv", "--key", "{customer_id:2222222222222222224}",
                             "-p", "3"], 2, "a width or precision of 2222222222222222224 in"),
    # '{surrogate:c}' of 55296 is a lone surrogate: Python clients refuse such a key
    ("template-char-surrogate", ["analyze", "types.parquet", "--key", "{surrogate:c}", "-p",
                                 "3", "--partitioner", "kafka-python"], 1,
     "key '\\ud800' holds a lone UTF-16 surrogate (U+D800), which this client refuses"),
    # -- regexes
    ("regex-never-matches", ["analyze", "app.log", "--key", "key", "-p", "3", "--regex",
                             r"nomatch=(?P<key>\S+)"], 1,
     "no events in app.log (log) (3 unparsable rows skipped)"),
    ("regex-no-key-group", ["analyze", "app.log", "--key", "key", "-p", "3", "--regex",
                            r"customer=(\S+)"], 2, "--regex must have a named group 'key'"),
    ("regex-invalid", ["analyze", "app.log", "--key", "key", "-p", "3", "--regex", "(?P<key>"], 2,
     "--regex is not a valid Python regex"),
    # -- partition counts
    ("partitions-0", ["analyze", "ok.csv", "--key", "customer_id", "-p", "0"], 2, RANGE),
    ("partitions-minus-3", ["analyze", "ok.csv", "--key", "customer_id", "-p", "-3"], 2, RANGE),
    ("partitions-1e11", ["analyze", "ok.csv", "--key", "customer_id", "-p", str(10**11)], 2,
     RANGE),
    # -- unknown partitioner or format; template fields
    ("unknown-partitioner", ["analyze", "ok.csv", *ANALYZE, "--partitioner", "murmur3x"], 2,
     "partitioner must be one of java, "),
    ("unknown-format", ["analyze", "ok.csv", *ANALYZE, "--format", "xml"], 2,
     "'--format': 'xml' is not one of 'csv'"),
    ("unknown-extension", ["analyze", "data.xyz", *ANALYZE], 2,
     "cannot tell the format of 'data.xyz' from its extension; give --format"),
    ("template-missing-field", ["analyze", "ok.csv", "--key", "{customer}:{region}", "-p", "3"],
     2, "--key: column 'customer' not found; available columns: customer_id, region"),
    ("template-unclosed", ["analyze", "ok.csv", "--key", "{customer_id", "-p", "3"], 2,
     "is not a valid template"),
    ("template-bad-conversion", ["analyze", "ok.csv", "--key", "{customer_id!z}", "-p", "3"], 2,
     "unknown conversion '!z'"),
    ("template-bad-spec", ["analyze", "types.parquet", "--key", "{i:05q}", "-p", "3"], 2,
     "cannot format 70000 with '{i:05q}'"),
    # -- a directory, a missing file, an empty glob
    ("directory", ["analyze", "adir", *ANALYZE], 1, "adir is a directory"),
    ("missing-file", ["analyze", "missing.csv", *ANALYZE], 1, "missing.csv does not exist"),
    ("empty-glob", ["analyze", "nothing*.csv", *ANALYZE], 1, "no files match 'nothing*.csv'"),
    # -- sweep
    ("sweep-empty", ["sweep", "empty.csv", "-p", "3", "--design", "c=customer_id"], 1,
     "empty.csv is empty"),
    ("sweep-header-only", ["sweep", "header.csv", "-p", "3", "--design", "c=customer_id"], 1,
     "no events in header.csv"),
    ("sweep-ragged-strict", ["sweep", "ragged.csv", "-p", "3", "--design", "c=customer_id",
                             "--strict"], 1, "ragged.csv:3: expected 2 fields"),
    ("sweep-truncated-parquet", ["sweep", "cut.parquet", "-p", "3", "--design", "c=customer_id"],
     1, "truncated or corrupt (Parquet)"),
    ("sweep-int32-over-text", ["sweep", "ok.csv", "-p", "3", "--design", "c=customer_id",
                               "--key-format", "int32"], 1, "needs integer keys"),
    ("sweep-partitions-0", ["sweep", "ok.csv", "-p", "0", "--design", "c=customer_id"], 2, COUNTS),
    ("sweep-partitions-minus-3", ["sweep", "ok.csv", "-p", "6,-3", "--design", "c=customer_id"],
     2, COUNTS),
    ("sweep-partitions-1e11", ["sweep", "ok.csv", "-p", str(10**11), "--design",
                               "c=customer_id"], 2, COUNTS),
    ("sweep-unknown-partitioner", ["sweep", "ok.csv", "-p", "3", "--design", "c=customer_id",
                                   "--partitioner", "javaa"], 2, "did you mean 'java'"),
    ("sweep-missing-field", ["sweep", "ok.csv", "-p", "3", "--design", "c={nope}"], 2,
     "column 'nope' not found"),
    ("sweep-directory", ["sweep", "adir", "-p", "3", "--design", "c=customer_id"], 1,
     "is a directory"),
    # -- whatif
    ("whatif-header-only", ["whatif", "header.csv", "--key", "customer_id", "--from-partitions",
                            "3", "--to-partitions", "4"], 1, "no events in header.csv"),
    ("whatif-truncated-gzip", ["whatif", "cut.csv.gz", "--key", "customer_id",
                               "--from-partitions", "3", "--to-partitions", "4"], 1,
     "truncated or corrupt (gzip)"),
    ("whatif-partitions-0", ["whatif", "ok.csv", "--key", "customer_id", "--from-partitions", "0",
                             "--to-partitions", "4"], 2, RANGE),
    ("whatif-partitions-1e11", ["whatif", "ok.csv", "--key", "customer_id", "--from-partitions",
                                "3", "--to-partitions", str(10**11)], 2, RANGE),
    ("whatif-unknown-partitioner", ["whatif", "ok.csv", "--key", "customer_id", "-p", "3",
                                    "--from-partitioner", "nope", "--to-partitioner", "java"], 2,
     "partitioner must be one of"),
    ("whatif-missing-file", ["whatif", "missing.csv", "--key", "customer_id", "--from-partitions",
                             "3", "--to-partitions", "4"], 1, "does not exist"),
    # -- simulate
    ("simulate-empty", ["simulate", "empty.csv", *ANALYZE, *SIMULATE], 1, "empty.csv is empty"),
    ("simulate-ragged-strict", ["simulate", "ragged.csv", *ANALYZE, *SIMULATE, "--strict"], 1,
     "ragged.csv:3: expected 2 fields"),
    ("simulate-deep-json", ["simulate", "deep.jsonl", *ANALYZE, *SIMULATE], 1,
     "nested deeper than 64 levels"),
    ("simulate-partitions-minus-3", ["simulate", "ok.csv", "--key", "customer_id", "-p", "-3",
                                     *SIMULATE], 2, RANGE),
    ("simulate-bad-latencies", ["simulate", "ok.csv", *ANALYZE, *SIMULATE, "--broker-latency-ms",
                                "x,y,z"], 2, "'--broker-latency-ms': must be milliseconds"),
    ("simulate-directory", ["simulate", "adir", *ANALYZE, *SIMULATE], 1, "is a directory"),
]  # fmt: skip


@pytest.mark.parametrize(("args", "code", "needle"), [case[1:] for case in CASES],
                         ids=[case[0] for case in CASES])  # fmt: skip
def test_bad_input_gets_one_error_line_and_no_out(
    corpus: Path, args: list[str], code: int, needle: str
) -> None:
    done = run(*args, "--out", "out", cwd=corpus)
    assert_one_error(done, code, needle)
    assert_no_out(corpus)


@pytest.mark.parametrize(
    ("args", "code", "needle"),
    [
        (["abc", "-p", "3", "--key-format", "int32"], 1, "needs integer keys; got 'abc'"),
        (["abc", "-p", "3", "--key-format", "uuid"], 1, "cannot parse 'abc' as a UUID"),
        (["a", "-p", "3", "--partitioner", "nope"], 2, "partitioner must be one of java"),
        (["-", "-p", "3"], 2, "no keys given"),
    ],
    ids=["int32-over-text", "uuid-over-text", "unknown-partitioner", "empty-stdin"],
)
def test_partition_bad_keys(corpus: Path, args: list[str], code: int, needle: str) -> None:
    assert_one_error(run("partition", *args, cwd=corpus, stdin=b""), code, needle)


SKIPS = [
    ("analyze", ["analyze", "ragged.csv", *ANALYZE], 2),
    ("analyze-utf8", ["analyze", "utf8.csv", *ANALYZE], 1),
    ("analyze-log-utf8", ["analyze", "utf8.log", *LOG_KEY], 1),
    ("analyze-deep-json", ["analyze", "deep_mixed.jsonl", *ANALYZE], 1),
    ("analyze-json-null", ["analyze", "null_mixed.jsonl", *ANALYZE], 2),
    ("analyze-json-name-utf8", ["analyze", "name_utf8.jsonl", *ANALYZE], 1),
    ("analyze-ragged-utf8", ["analyze", "ragged_utf8.csv", *ANALYZE], 1),
    ("sweep", ["sweep", "ragged.csv", "-p", "3", "--design", "c=customer_id"], 2),
    ("whatif", ["whatif", "ragged.csv", "--key", "customer_id", "--from-partitions", "3",
                "--to-partitions", "4"], 2),
    ("simulate", ["simulate", "ragged.csv", *ANALYZE, *SIMULATE], 2),
]  # fmt: skip


@pytest.mark.parametrize(("args", "skipped"), [case[1:] for case in SKIPS],
                         ids=[case[0] for case in SKIPS])  # fmt: skip
def test_going_on_says_what_was_skipped(corpus: Path, args: list[str], skipped: int) -> None:
    done = run(*args, "--json", cwd=corpus)
    stderr = done.stderr.decode("utf-8", "replace")
    assert done.returncode == 0, stderr
    assert "Traceback" not in stderr
    assert f"note: skipped {skipped} unparsable rows (--strict makes them an error)" in stderr
    assert json.loads(done.stdout)["skipped_rows"] == skipped


def test_nul_bytes_and_undecodable_kcat_keys_are_kept_as_key_bytes(corpus: Path) -> None:
    done = run("analyze", "nul.csv", *ANALYZE, "--json", cwd=corpus)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert (summary["events"], summary["distinct_keys"], summary["skipped_rows"]) == (2, 2, 0)
    assert "a\x00b" in [row["key"] for row in summary["top_keys"]]
    done = run("analyze", "binary.kcat", "--key", "key", "-p", "3", "--json", cwd=corpus)
    assert done.returncode == 0 and done.stderr == b"", done.stderr
    summary = json.loads(done.stdout)
    assert summary["skipped_rows"] == 0
    assert "k\\xff\\xfe" in [row["key"] for row in summary["top_keys"]]
    # --null-field-as-empty keeps the raw key bytes (it cast them to text, which failed)
    done = run("analyze", "binary.kcat", "--key", "key", "-p", "3", "--null-field-as-empty",
               "--json", cwd=corpus)  # fmt: skip
    assert done.returncode == 0 and done.stderr == b"", done.stderr
    summary = json.loads(done.stdout)
    assert (summary["events"], summary["null_key_events"], summary["skipped_rows"]) == (2, 0, 0)
    assert "k\\xff\\xfe" in [row["key"] for row in summary["top_keys"]]


def test_a_20_mb_line_as_a_csv_field_and_as_a_log_line(tmp_path: Path) -> None:
    big = b"A" * BIG
    (tmp_path / "big.csv").write_bytes(b"customer_id,region\n" + big + b",EU\nb,US\n")
    (tmp_path / "big.log").write_bytes(b"customer=" + big + b"\ncustomer=b\n")
    for args in (["big.csv", *ANALYZE], ["big.log", *LOG_KEY]):
        done = run("analyze", *args, "--json", cwd=tmp_path)
        assert done.returncode == 0, done.stderr[-2000:]
        summary = json.loads(done.stdout)
        assert (summary["events"], summary["distinct_keys"], summary["skipped_rows"]) == (2, 2, 0)


def test_a_null_key_that_the_partitioner_hashes_is_shown_not_a_crash(tmp_path: Path) -> None:
    (tmp_path / "null.csv").write_bytes(b"customer_id,region\n,EU\na,US\n")
    done = run("analyze", "null.csv", *ANALYZE, "--partitioner", "librdkafka:consistent",
               cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "(null)" in done.stdout.decode()


def test_sizes_with_spaces_and_order_by_with_only_null_keys(tmp_path: Path) -> None:
    # Found by fuzz/fuzz_analyze.py: each was an internal error (ArrowInvalid, IndexError).
    (tmp_path / "sizes.csv").write_bytes(b"customer_id,size\na, 12\nb,3 \n")
    done = run("analyze", "sizes.csv", *ANALYZE, "--size", "size", "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["bytes"] == 15
    (tmp_path / "nulls.jsonl").write_bytes(b'{"user": null, "n": "1"}\n{"user": null, "n": "1"}\n')
    done = run("analyze", "nulls.jsonl", "--key", "{user}:{n}", "-p", "3", "--order-by", "n",
               "--json", cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["null_key_events"] == 2
    # --size and --timestamp over kcat's raw key bytes, not UTF-8: unparsable, not a crash
    (tmp_path / "keys.kcat").write_bytes(b"12\t0\t1\t2\t3\n\xd6\t0\t2\t3\t4\n")
    done = run("analyze", "keys.kcat", "--key", "key", "-p", "3", "--size", "key",
               "--timestamp", "key", "--json", cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["skipped_rows"] == 1
    done = run("analyze", "keys.kcat", "--key", "key", "-p", "3", "--order-by", "key",
               cwd=tmp_path)  # fmt: skip
    assert_one_error(done, 1, "--order-by: the entity column holds bytes that are not valid")


def test_a_header_that_is_not_utf8_is_a_data_error(tmp_path: Path) -> None:
    (tmp_path / "h.csv").write_bytes(b"\x80\na\n")
    assert_one_error(run("analyze", "h.csv", *ANALYZE, cwd=tmp_path), 1,
                     "h.csv: the header row is not valid UTF-8")  # fmt: skip
