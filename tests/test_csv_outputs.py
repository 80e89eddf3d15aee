"""Every CSV partsim writes splits into the same cells for any reader, and its report CSVs
cannot run as spreadsheet formulas.

The oracles are independent readers: Python's ``csv`` module and pyarrow's CSV reader must
both read back exactly the cells the API returned (report CSVs: each text cell with the
documented ``'`` escape), and a sample CSV must give back every key byte for byte.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
import pytest

import partsim
from partsim.live import SAMPLE_SCHEMA, LiveSample, load_sample, write_sample
from partsim.outputs import FORMULA_STARTS, escape_formula, write_csv
from tests.child import run

#: Keys a spreadsheet would run, or that split a row for a careless writer.
HOSTILE = [
    '=HYPERLINK("http://example.com/x","click")',
    "=1+2",
    "+1+2",
    "-2+3",
    "@SUM(A1:A2)",
    "\t=1+2",
    "\r=1+2",
    "\n=1+2",
    "＝1+2",  # full-width equals sign
    "＋1",
    "－1",
    "＠SUM(A1)",
    "'quoted",
    "a\rb",
    "c\nd",
    "e\r\nf",
    'q"uote',
    "comma,key",
    "semi;colon",
    "tab\tin",
    "x\x00nul",
    "plain",
    "",
]


def _unescape(cell: str) -> str:
    """The documented inverse of the report escape: drop the ' of a cell that begins with one."""
    return cell[1:] if cell.startswith("'") else cell


def _read_both(path: Path) -> tuple[list[dict], pa.Table]:
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    table = pa_csv.read_csv(
        path, convert_options=pa_csv.ConvertOptions(strings_can_be_null=True),
        parse_options=pa_csv.ParseOptions(newlines_in_values=True),
    )  # fmt: skip
    assert table.num_rows == len(rows), path  # no reader sees an extra row
    return rows, table


def _hostile_events(tmp_path: Path) -> Path:
    keys = [key for key in HOSTILE for _ in range(1 + len(key) % 3)]  # a few counts
    frame = pd.DataFrame({
        "key": keys,
        "size": [10 + i for i in range(len(keys))],
        "ts": [f"2026-01-01T00:00:{i % 60:02d}Z" for i in range(len(keys))],
    })  # fmt: skip
    path = tmp_path / "hostile.parquet"  # Parquet keeps every key exactly (CR, NUL, "")
    frame.to_parquet(path)
    return path


def test_escape_formula_follows_owasp() -> None:
    for start in ("=", "+", "-", "@", "\t", "\r"):  # OWASP's CSV injection list
        assert start in FORMULA_STARTS
    for key in HOSTILE:
        escaped = escape_formula(key)
        assert _unescape(escaped) == key
        assert escaped[:1] not in {"=", "+", "-", "@", "\t", "\r", "\n", "\x00"} | set("＝＋－＠")
    assert escape_formula("plain") == "plain" and escape_formula("") == ""


def test_analyze_report_csvs_round_trip_escaped(tmp_path: Path) -> None:
    events = _hostile_events(tmp_path)
    out = tmp_path / "report"
    done = run("analyze", str(events), "--key", "key", "-p", "5", "--size", "size",
               "--timestamp", "ts", "--top", "100", "--out", str(out))  # fmt: skip
    assert done.returncode == 0, done.stderr
    expected = partsim.analyze(events, key="key", partition_count=5, size="size",
                               timestamp="ts", top=100)  # fmt: skip
    rows, table = _read_both(out / "hot_keys.csv")
    want = list(expected.hot_keys["key"])
    assert len(rows) == len(want) == len(set(HOSTILE))
    # Python's csv: every key exactly, once the escape is undone; and no cell begins like a
    # formula (the ' in front tells a spreadsheet that it is text)
    assert [row["key"] for row in rows] == [escape_formula(key) for key in want]
    assert [_unescape(row["key"]) for row in rows] == want
    assert [int(row["count"]) for row in rows] == list(expected.hot_keys["count"])
    # pyarrow reads the same cells (it reads an empty cell as null)
    cells = [cell or "" for cell in table.column("key").to_pylist()]
    assert cells == [escape_formula(key) for key in want]
    assert table.column("count").to_pylist() == list(expected.hot_keys["count"])
    rows, table = _read_both(out / "partitions.csv")
    top_keys = [None if pd.isna(k) else k for k in expected.partitions["top_key"]]
    assert [_unescape(row["top_key"]) for row in rows] == [k or "" for k in top_keys]
    assert table.column("messages").to_pylist() == list(expected.partitions["messages"])
    rows, _ = _read_both(out / "windows.csv")
    assert len(rows) == len(expected.windows)


def test_whatif_sweep_and_simulate_csvs_read_back(tmp_path: Path) -> None:
    events = _hostile_events(tmp_path)
    out = tmp_path / "whatif"
    done = run("whatif", str(events), "--key", "key", "--from-partitions", "5",
               "--to-partitions", "7", "--out", str(out))  # fmt: skip
    assert done.returncode == 0, done.stderr
    expected = partsim.whatif(events, key="key", from_partitions=5, to_partitions=7)
    rows, table = _read_both(out / "moves.csv")
    assert [_unescape(row["key"]) for row in rows] == list(expected.moves["key"])
    assert table.column("to_partition").to_pylist() == list(expected.moves["to_partition"])

    out = tmp_path / "sweep"
    design = "@evil"  # a design name is text in sweep.csv too
    done = run("sweep", str(events), "-p", "3,5", "--design", f"{design}=key", "--design",
               "k=key", "--out", str(out))  # fmt: skip
    assert done.returncode == 0, done.stderr
    rows, table = _read_both(out / "sweep.csv")
    assert {row["design"] for row in rows} == {"'@evil", "k"}
    rows, _ = _read_both(out / "recommendations.csv")
    assert {_unescape(row["design"]) for row in rows} == {design, "k"}

    out = tmp_path / "simulate"
    done = run("simulate", str(events), "--key", "key", "-p", "3", "--timestamp", "ts",
               "--consumers", "2", "--consumer-capacity", "5", "--brokers", "2",
               "--out", str(out))  # fmt: skip
    assert done.returncode == 0, done.stderr
    for name in ("rates", "lag", "consumer_lag", "consumers", "consumer_sweep", "brokers"):
        rows, table = _read_both(out / f"{name}.csv")
        assert rows and table.num_columns == len(rows[0]), name


def _sample(keys: list[bytes | None]) -> LiveSample:
    count = len(keys)
    table = pa.table({
        "key": pa.array(keys, pa.binary()),
        "partition": pa.array([i % 4 for i in range(count)], pa.int32()),
        "offset": pa.array(range(count), pa.int64()),
        "timestamp": pa.array([dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)] * count,
                              pa.timestamp("ms", tz="UTC")),
        "key_size": pa.array([-1 if k is None else len(k) for k in keys], pa.int32()),
        "value_size": pa.array([7] * count, pa.int32()),
        "headers": pa.array(['[{"h": "a,\\"b\\"\\r\\n"}]'] * count),
    }).cast(SAMPLE_SCHEMA)  # fmt: skip
    return LiveSample(table=table, topic="orders", partition_count=4, partial=False,
                      reason=None, stopped_by="end", sampled_at="2026-01-01T00:00:00Z",
                      group_id=None, settings={}, request={})  # fmt: skip


def test_sample_csv_keeps_every_key_exactly(tmp_path: Path) -> None:
    """A sample CSV is raw data (no escape): it must give back every key, byte for byte,
    to load_sample, to `partsim analyze`, and to any CSV reader."""
    keys = [key.encode() for key in HOSTILE if key] * 2 + [None]
    sample = _sample(keys)
    path = tmp_path / "s.csv"
    write_sample(sample, path)
    assert load_sample(path).table.column("key").to_pylist() == keys
    rows, table = _read_both(path)
    assert [row["key"].encode() for row in rows[:-1]] == keys[:-1]
    assert table.column("key").to_pylist()[:-1] == [k.decode() for k in keys[:-1]]
    assert {row["headers"] for row in rows} == {'[{"h": "a,\\"b\\"\\r\\n"}]'}
    # partsim analyze reads the CSV as it reads the Parquet sample: the same keys and counts
    parquet = tmp_path / "s.parquet"
    write_sample(sample, parquet)
    results = []
    for source in (path, parquet):
        done = run("analyze", str(source), "--key", "key", "-p", "4", "--top", "100", "--json")
        assert done.returncode == 0, done.stderr
        summary = json.loads(done.stdout)
        results.append((summary["events"], summary["distinct_keys"],
                        sorted((k["key"], k["count"]) for k in summary["top_keys"])))  # fmt: skip
    assert results[0] == results[1]
    assert results[0][1] == len(set(keys) - {None})


def test_write_csv_quotes_what_needs_it_and_nothing_is_lost(tmp_path: Path) -> None:
    frame = pd.DataFrame({
        "text": ["a\rb", None, "=x", "plain", "", "x;y"],
        "number": [1.5, float("nan"), -2.0, 3.0, 0.0, 1e-9],
        "count": [1, 2, -3, 4, 5, 6],
        "raw": [b"\xff\x00k", b"k", None, b"=", b"", b"x"],
    })  # fmt: skip
    path = tmp_path / "frame.csv"
    write_csv(frame, path)
    rows, table = _read_both(path)
    assert [row["text"] for row in rows] == ["a\rb", "", "'=x", "plain", "", "x;y"]
    assert [row["raw"] for row in rows] == ["\\xff\x00k", "k", "", "'=", "", "x"]
    assert table.column("number").to_pylist()[2] == -2.0  # numbers are never escaped
    assert table.column("count").to_pylist() == [1, 2, -3, 4, 5, 6]
    write_csv(frame, path, escape_formulas=False)
    rows, _ = _read_both(path)
    assert rows[2]["text"] == "=x"
    # a frame with nothing to quote or escape is written as pandas writes it
    plain = pd.DataFrame({"key": ["a", "b"], "count": [1, 2]})
    write_csv(plain, path)
    assert path.read_text() == plain.to_csv(index=False, lineterminator="\n")
    # a single column of missing values does not become blank lines
    write_csv(pd.DataFrame({"only": [None, "x"]}), path)
    rows, _ = _read_both(path)
    assert [row["only"] for row in rows] == ["", "x"]


@pytest.mark.parametrize("name", ["hot_keys.csv", "partitions.csv"])
def test_the_readme_says_how_report_csvs_are_escaped(name: str) -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    assert "CSV injection" in readme and name in readme
