"""Hostile inputs bounded in bytes (issue 20, items 6-10): the real CLI under a memory limit.

Each case runs ``partsim analyze`` in a child process with ``RLIMIT_AS`` set (the address
space, as ``ulimit -v`` sets it) and a time limit, and asserts a clean outcome: a result,
or exactly one ``Error:`` line naming the limit. Where there is a result, the child's peak
resident memory (``ru_maxrss`` from ``wait4``) must stay under 1 GiB, which the inputs here
would pass without the byte bounds (the wide-row file makes 256K-row batches of 1 GiB, the
long keys hold 200 MB, the bomb decodes to 1 GiB).

The address-space limit is 3 GiB, not 1 GiB: a partsim process reserves about 1.8 GiB of
address space it never touches (mimalloc's arena and glibc's per-thread heaps), so a
tighter ``ulimit -v`` fails in allocations that use no memory; the resident peak is the
figure that matters, and it is asserted on its own.
"""

from __future__ import annotations

import gzip
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

ADDRESS_SPACE = 3 << 30
RESIDENT_BOUND_MIB = 1024
TIME_LIMIT = 600  # seconds, on a loaded 2-core machine


class Outcome(NamedTuple):
    code: int
    stdout: str
    stderr: str
    peak_mib: float
    seconds: float


def run_limited(*args: str, cwd: Path) -> Outcome:
    """``python -m partsim ARGS`` under ADDRESS_SPACE and TIME_LIMIT, with its peak RSS."""

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))

    start = time.monotonic()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        child = subprocess.Popen([sys.executable, "-m", "partsim", *args], cwd=cwd,
                                 stdout=out, stderr=err, preexec_fn=limit)  # fmt: skip
        while True:  # wait4: this child's own peak resident memory, not all children's
            pid, status, usage = os.wait4(child.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() - start > TIME_LIMIT:
                child.kill()
                os.wait4(child.pid, 0)
                child.returncode = -9
                pytest.fail(f"partsim {' '.join(args)} took more than {TIME_LIMIT} s")
            time.sleep(0.05)
        child.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(), err.read().decode()
    peak = usage.ru_maxrss / 1024  # KiB on Linux
    return Outcome(child.returncode, stdout, stderr, peak, time.monotonic() - start)


def assert_result(outcome: Outcome) -> dict:
    """A clean result within the resident bound: the summary."""
    assert outcome.code == 0, outcome.stderr
    assert "Error" not in outcome.stderr and "Traceback" not in outcome.stderr
    assert outcome.peak_mib < RESIDENT_BOUND_MIB, outcome.peak_mib
    return json.loads(outcome.stdout)


def assert_one_error(outcome: Outcome, *phrases: str) -> str:
    """A clean refusal: exit 1 or 2 and one ``Error:`` line naming the problem."""
    assert outcome.code in (1, 2), (outcome.code, outcome.stderr)
    assert outcome.stdout == ""
    line = outcome.stderr.strip()
    assert line.startswith("Error: ") and "\n" not in line, outcome.stderr
    assert "internal error" not in line
    for phrase in phrases:
        assert phrase in line, line
    return line


ANALYZE = ("-p", "12", "--json")


# ----------------------------------------------------------------------------- inputs
@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("hostile")


def test_wide_rows_are_batched_in_bytes(folder: Path) -> None:
    """Item 6: 150,000 rows of 4 KiB (gzip, 1.3 MB). By rows alone a batch would hold
    1 GiB; by bytes each holds at most 16 MiB, and the unused column is never converted."""
    path = folder / "wide.csv.gz"
    pad = "x" * 4080
    with gzip.open(path, "wt", compresslevel=1) as out:
        out.write("key,payload\n")
        out.writelines(f"user-{i % 5000},{pad}\n" for i in range(150_000))
    summary = assert_result(run_limited("analyze", path.name, "--key", "key", *ANALYZE,
                                        cwd=folder))  # fmt: skip
    assert summary["events"] == 150_000 and summary["distinct_keys"] == 5000
    wide_key = run_limited("analyze", path.name, "--key", "{key}{payload}", *ANALYZE, cwd=folder)
    summary = assert_result(wide_key)
    assert summary["events"] == 150_000 and summary["distinct_keys"] == 5000


def test_long_distinct_keys_are_bounded_in_bytes(folder: Path) -> None:
    """Item 7: 12,000 distinct 16 KB keys (190 MB of keys, 0.2 MB of zstd). Past 64 MiB of
    keys the exact table gives way to the sketches, which hold long keys by digest; the
    summary says so, and a hot long key is still found, on its right partition."""
    path = folder / "long.csv.zst"
    hot = "hot-" * 4000
    rows = [f"{i:08d}" * 2000 for i in range(12_000)] + [hot] * 3000
    rows = [rows[i] for i in np.random.default_rng(7).permutation(len(rows))]
    with pa.CompressedOutputStream(str(path), "zstd") as out:
        out.write(("key\n" + "\n".join(rows) + "\n").encode())
    summary = assert_result(run_limited("analyze", path.name, "--key", "key", *ANALYZE,
                                        cwd=folder))  # fmt: skip
    counts = summary["key_counts"]
    assert counts["method"] == "sketch"
    assert counts["reason"] == "more than 64 MiB of distinct keys"
    assert "counted by a 128-bit digest" in counts["note"]
    top = summary["top_keys"][0]
    assert top["key"] == hot[:64] + "…" and top["count"] == 3000
    from kafka.partitioner.default import murmur2

    assert top["partition"] == (murmur2(hot.encode()) & 0x7FFFFFFF) % 12
    raised = run_limited("analyze", path.name, "--key", "key", *ANALYZE, "--exact-key-bytes",
                         "512MiB", cwd=folder)  # fmt: skip
    assert assert_result(raised)["key_counts"]["method"] == "exact"


def test_a_wide_csv_header_is_read_in_linear_time(folder: Path) -> None:
    """Item 8: 50,000 columns (the unique-name check counted every name against every
    other: 87 s)."""
    path = folder / "header.csv"
    columns = 50_000
    with open(path, "w") as out:
        out.write(",".join(f"c{i}" for i in range(columns)) + "\n")
        out.writelines(",".join([str(row)] * columns) + "\n" for row in range(20))
    outcome = run_limited("analyze", path.name, "--key", "c7", *ANALYZE, cwd=folder)
    assert assert_result(outcome)["events"] == 20
    assert outcome.seconds < 120
    duplicate = folder / "dup.csv"
    duplicate.write_text(",".join(f"c{i % 49_999}" for i in range(columns)) + "\n1\n")
    assert_one_error(run_limited("analyze", duplicate.name, "--key", "c7", *ANALYZE,
                                 cwd=folder), "duplicate column names: c0")  # fmt: skip


def test_a_wide_json_line_is_skipped_with_its_reason(folder: Path) -> None:
    """Item 9: one line of 2,000,000 fields (37 MB; SIGABRT under 4 GB before), then a
    good line: the wide line is skipped, naming the limit."""
    path = folder / "wide.jsonl"
    with open(path, "w") as out:
        out.write("{" + ",".join(f'"f{i}": {i}' for i in range(2_000_000)) + ', "key": "a"}\n')
        out.write('{"key": "b"}\n')
    summary = assert_result(run_limited("analyze", path.name, "--key", "key", *ANALYZE,
                                        cwd=folder))  # fmt: skip
    assert summary["events"] == 1 and summary["skipped_rows"] == 1
    assert summary["skipped_examples"] == [
        "wide.jsonl:1: more than 10,000 fields (':') on one line"
    ]
    strict = run_limited("analyze", path.name, "--key", "key", *ANALYZE, "--strict", cwd=folder)
    assert_one_error(strict, "wide.jsonl:1: more than 10,000 fields")


def test_json_lines_with_fields_of_their_own_stay_bounded(folder: Path) -> None:
    """100,000 lines, each with a field no other line has (3 MB): Arrow's reader would give
    every row every field (10 billion cells); partsim keeps the wanted fields only."""
    path = folder / "fields.jsonl"
    path.write_text("".join(f'{{"key": "k{i % 100}", "f{i}": 1}}\n' for i in range(100_000)))
    summary = assert_result(run_limited("analyze", path.name, "--key", "key", *ANALYZE,
                                        cwd=folder))  # fmt: skip
    assert summary["events"] == 100_000 and summary["distinct_keys"] == 100


def _dictionary_file(path: Path, rows: int, width: int) -> None:
    """A Parquet file whose key column is one ``width``-byte value ``rows`` times
    (dictionary-encoded and compressed: a few KB on disk)."""
    values = pa.DictionaryArray.from_arrays(
        pa.array(np.zeros(rows, dtype=np.int32)), pa.array(["a" * width])
    )
    table = pa.table({"key": values, "other": pa.array([f"o{i}" for i in range(rows)])})
    pq.write_table(table, path, compression="zstd", store_schema=False)


def test_a_parquet_dictionary_bomb_is_read_in_bounded_batches(folder: Path) -> None:
    """Item 10: 1,024 rows of one 1 MiB value (1 GiB decoded, from a file of a few KB). The
    batch size comes from the dictionary's longest value, so it is read 16 rows at a time;
    a value over 64 MiB is refused, naming the limit."""
    bomb = folder / "bomb.parquet"
    _dictionary_file(bomb, 1024, 1 << 20)
    assert bomb.stat().st_size < 100_000
    summary = assert_result(run_limited("analyze", bomb.name, "--key", "key", *ANALYZE,
                                        cwd=folder))  # fmt: skip
    assert summary["events"] == 1024 and summary["distinct_keys"] == 1
    other = run_limited("analyze", bomb.name, "--key", "other", *ANALYZE, cwd=folder)
    assert assert_result(other)["distinct_keys"] == 1024
    huge = folder / "huge.parquet"
    _dictionary_file(huge, 4, 65 << 20)
    assert_one_error(run_limited("analyze", huge.name, "--key", "key", *ANALYZE, cwd=folder),
                     "column 'key' holds a value of 65 MiB, over the 64 MiB")  # fmt: skip


def test_out_of_memory_is_one_line(monkeypatch, capsys) -> None:
    """Memory that runs out is the machine's limit, not a bug: one line naming partsim's own
    limits, and exit 1."""
    import partsim.io
    from partsim.cli import main

    def exhausted(*args, **kwargs):
        raise pa.ArrowMemoryError("malloc of size 1073741824 failed")

    monkeypatch.setattr(partsim.io, "open_events", exhausted)
    assert main(["analyze", "any.csv", "--key", "k", "-p", "3"]) == 1
    line = capsys.readouterr().err.strip()
    assert line == (
        "Error: out of memory (ArrowMemoryError: malloc of size 1073741824 failed); partsim "
        "holds batches of 16 MiB and at most --exact-keys / --exact-key-bytes of distinct "
        "keys: lower those, or allow it more memory"
    )
