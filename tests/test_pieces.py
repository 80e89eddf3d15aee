"""Reading an input in pieces (issue 8, for the Dask engine): the pieces hold every row
exactly once, in order, whatever the piece size."""

from __future__ import annotations

import gzip
import io
import json
import sys
import tempfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from partsim.errors import DataError, UsageError
from partsim.io import open_events

PIECES = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
values = st.text(st.characters(codec="utf-8", exclude_characters="\r\n,\"'\\"), max_size=12)


def rows_of(source) -> list[dict]:
    return [row for batch in source for row in batch.to_pylist()]


def read_in_pieces(path: Path, blocksize: int, **options) -> list[dict]:
    rows = []
    for piece in open_events(path, **options).pieces(blocksize):
        rows += rows_of(piece)
    return rows


@PIECES
@given(
    rows=st.lists(st.tuples(values, values), min_size=0, max_size=40),
    blocksize=st.integers(1, 400),
    crlf=st.booleans(),
    final_newline=st.booleans(),
)
def test_csv_pieces_hold_every_row_once(
    rows: list[tuple[str, str]], blocksize: int, crlf: bool, final_newline: bool
) -> None:
    end = "\r\n" if crlf else "\n"
    text = end.join(["key,value", *(f"{a},{b}" for a, b in rows)])
    text += end if final_newline else ""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "events.csv"
        path.write_bytes(text.encode())
        whole = rows_of(open_events(path))
        assert read_in_pieces(path, blocksize) == whole


@PIECES
@given(lines=st.lists(values, min_size=1, max_size=40), blocksize=st.integers(1, 300))
def test_log_and_jsonl_pieces_hold_every_row_once(lines: list[str], blocksize: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        log = Path(folder) / "app.log"
        log.write_text("".join(f"k={line}|\n" for line in lines))
        regex = r"k=(?P<key>[^|]*)\|"
        assert read_in_pieces(log, blocksize, regex=regex) == rows_of(open_events(log, regex=regex))
        jsonl = Path(folder) / "events.jsonl"
        jsonl.write_text("".join(json.dumps({"key": line}) + "\n" for line in lines))
        assert read_in_pieces(jsonl, blocksize) == rows_of(open_events(jsonl))


def test_parquet_splits_at_row_groups(tmp_path: Path) -> None:
    path = tmp_path / "events.parquet"
    table = pa.table({"key": [f"k{i}" for i in range(10_000)]})
    pq.write_table(table, path, row_group_size=1_000)
    pieces = open_events(path).pieces(1)
    assert len(pieces) == 10
    assert "events.parquet[row groups 3-3]" in pieces[3].describe()
    assert [row for piece in pieces for row in rows_of(piece)] == table.to_pylist()
    assert len(open_events(path).pieces(0)) == 1


def test_compressed_files_and_tables(tmp_path: Path) -> None:
    path = tmp_path / "events.csv.gz"
    path.write_bytes(gzip.compress(b"key\n" + b"".join(b"k%d\n" % i for i in range(5000))))
    assert len(open_events(path).pieces(100)) == 1  # a stream cannot be cut
    table = pa.table({"key": [f"k{i}" for i in range(1000)]})
    pieces = open_events(table).pieces(table.nbytes // 4)
    assert len(pieces) >= 4
    assert [row for piece in pieces for row in rows_of(piece)] == table.to_pylist()


def test_stdin_cannot_be_split(monkeypatch: pytest.MonkeyPatch) -> None:
    class Stdin:
        buffer = io.BytesIO(b"key\na\n")

    monkeypatch.setattr(sys, "stdin", Stdin)
    with pytest.raises(UsageError, match=r"stdin \('-'\) cannot be read in parallel pieces"):
        open_events("-").pieces(100)


def test_a_bad_row_names_its_piece(tmp_path: Path) -> None:
    path = tmp_path / "events.csv"
    path.write_text("key,size\n" + "".join(f"k{i},{i}\n" for i in range(200)) + "a,b,c\n")
    last = open_events(path, strict=True).pieces(256)[-1]
    with pytest.raises(DataError, match=r"events\.csv\[bytes \d+-\d+\]:\d+: "):
        rows_of(last)
