"""Benchmark (issue 8): peak memory at scale, sketches, and the Dask engine against local.

Workload: the issue-3 events (a Zipf ``customer_id`` over up to 1M customers, ``size_bytes``,
a ``ts`` every 9 ms) at ``--rows`` events (default 50M), as CSV and as Parquet (1M-row row
groups). Each run is ``partsim analyze --out`` in its own process, timed, with its peak RSS:
that of the largest process (for Dask, the client or one worker, whichever is bigger) and
that of all its processes together (summed proportional set sizes: a page that processes
share counts once):

- ``customer_id`` (at most 1M distinct keys: exact counts), from CSV and from Parquet;
- ``{customer_id}/{ts}`` (a distinct key per event: past ``--exact-keys``, sketches);
- ``customer_id`` from CSV with ``--engine dask`` (a local cluster of one single-threaded
  worker process per core) against the local engine, in the same run. Their per-partition
  counts are checked equal.

Each case runs ``--repeat`` times (default 3), the cases taken in turn so that a change in
the machine's load falls on all of them; a run's figures are the median wall time with its
range, and the largest peak memory of its repeats.

    python -m bench.bench_scale [--rows 50000000] [--repeat 3] [--workdir DIR] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pv
import pyarrow.parquet as pq

from bench.bench_analyze import make_csv


def make_parquet(csv_path: Path, path: Path) -> None:
    """The CSV's rows as Parquet, in 1M-row row groups (streamed: bounded memory)."""
    reader = pv.open_csv(
        csv_path,
        read_options=pv.ReadOptions(block_size=64 << 20),
        convert_options=pv.ConvertOptions(column_types={"ts": pa.string()}),
    )
    with pq.ParquetWriter(path, reader.schema) as writer:
        pending: list[pa.RecordBatch] = []
        rows = 0
        for batch in reader:
            pending.append(batch)
            rows += batch.num_rows
            if rows >= 1_000_000:
                writer.write_table(pa.Table.from_batches(pending), row_group_size=1_000_000)
                pending, rows = [], 0
        if pending:
            writer.write_table(pa.Table.from_batches(pending), row_group_size=1_000_000)


def _proportional(process) -> int:
    """A process's proportional set size: its private pages plus its share of pages it shares
    (a forked child shares its parent's), so a sum over processes counts each page once."""
    try:
        return process.memory_full_info().pss
    except AttributeError:  # no PSS outside Linux: RSS, which counts shared pages twice
        return process.memory_info().rss


def timed_tree(command: list[str]) -> tuple[float, float, float]:
    """Wall seconds; the peak RSS of the largest process (the kernel's ``ru_maxrss`` of the
    command and the descendants it waited for); and the peak of the command's and its
    descendants' summed PSS, sampled every 50 ms with psutil (a dependency of
    dask.distributed). In MiB."""
    import psutil

    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    root, total = psutil.Process(process.pid), 0
    while True:
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            break
        try:
            tree = [root, *root.children(recursive=True)]
            total = max(total, sum(_proportional(member) for member in tree))
        except psutil.Error:
            pass  # a process ended while being read
        time.sleep(0.05)
    took = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise SystemExit(f"failed: {' '.join(command)}")
    return took, usage.ru_maxrss / 1024, total / 2**20


def analyze(data: Path, out: Path, key: str, *extra: str) -> tuple[float, float, float, dict]:
    command = [
        sys.executable, "-m", "partsim", "analyze", str(data), "--key", key, "-p", "48",
        "--size", "size_bytes", "--timestamp", "ts", "--out", str(out), *extra,
    ]  # fmt: skip
    seconds, rss, total = timed_tree(command)
    summary = json.loads((out / "summary.json").read_text())
    partitions = (out / "partitions.csv").read_text()
    return seconds, rss, total, {"summary": summary, "partitions": partitions}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=50_000_000)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--write-inputs", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()

    work = args.workdir or Path(tempfile.mkdtemp(prefix="partsim-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    csv_path = work / f"events-{args.rows}.csv"
    parquet_path = work / f"events-{args.rows}.parquet"
    if args.write_inputs:
        if not csv_path.exists():
            print(f"writing {csv_path} ...", file=sys.stderr)
            make_csv(csv_path, args.rows)
        if not parquet_path.exists():
            print(f"writing {parquet_path} ...", file=sys.stderr)
            make_parquet(csv_path, parquet_path)
        return
    if not (csv_path.exists() and parquet_path.exists()):
        # In a child process: Linux keeps a process's peak RSS across exec, so every run
        # started from this process after it had written the inputs (2.5 GiB at its peak)
        # would report that peak as its own.
        subprocess.run([sys.executable, "-m", "bench.bench_scale", "--rows", str(args.rows),
                        "--workdir", str(work), "--write-inputs"], check=True)  # fmt: skip

    runs = [
        ("CSV, customer_id (exact)", csv_path, "customer_id", ()),
        ("Parquet, customer_id (exact)", parquet_path, "customer_id", ()),
        ("CSV, {customer_id}/{ts} (sketched)", csv_path, "{customer_id}/{ts}", ()),
        ("CSV, customer_id, --engine dask (local cluster)", csv_path, "customer_id",
         ("--engine", "dask")),
    ]  # fmt: skip
    timings: dict[str, list[tuple[float, float, float]]] = {name: [] for name, *_ in runs}
    outputs = {}
    for turn in range(args.repeat):
        for index, (name, data, key, extra) in enumerate(runs):
            print(f"running: {name} ({turn + 1} of {args.repeat}) ...", file=sys.stderr)
            seconds, rss, total, output = analyze(data, work / f"out-{index}", key, *extra)
            assert output["summary"]["events"] == args.rows, (name, output["summary"]["events"])
            outputs[name] = output
            timings[name].append((seconds, rss, total))
    rows = []
    for name, *_ in runs:
        walls = [seconds for seconds, _, _ in timings[name]]
        median = statistics.median(walls)
        summary = outputs[name]["summary"]
        rows.append({
            "run": name, "median_seconds": round(median, 2), "min_seconds": round(min(walls), 2),
            "max_seconds": round(max(walls), 2), "runs": len(walls),
            "rows_per_second": round(args.rows / median),
            "peak_rss_mib": round(max(rss for _, rss, _ in timings[name])),
            "peak_total_rss_mib": round(max(total for _, _, total in timings[name])),
            "distinct_keys": summary["distinct_keys"],
            "key_counts": summary["key_counts"]["method"],
        })  # fmt: skip
    local, dask = outputs[runs[0][0]], outputs[runs[3][0]]
    assert dask["partitions"] == local["partitions"], "dask and local partition counts differ"
    result = {
        "rows": args.rows,
        "csv_mib": round(csv_path.stat().st_size / 2**20),
        "parquet_mib": round(parquet_path.stat().st_size / 2**20),
        "runs": rows,
        "dask_over_local": round(rows[3]["median_seconds"] / rows[0]["median_seconds"], 2),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
    }
    print(
        f"{args.rows:,} events: CSV {result['csv_mib']:,} MiB, Parquet {result['parquet_mib']:,}"
        f" MiB; {result['machine']}\n"
        "| run | median s (range) | events/s | peak RSS MiB (largest process) | all processes"
        " (PSS) | distinct keys | key counts |\n|---|---:|---:|---:|---:|---:|---|"
    )
    for row in rows:
        print(
            f"| {row['run']} | {row['median_seconds']:.1f} ({row['min_seconds']:.1f}-"
            f"{row['max_seconds']:.1f}) | {row['rows_per_second']:,} | "
            f"{row['peak_rss_mib']:,} | {row['peak_total_rss_mib']:,} | "
            f"{row['distinct_keys']:,} | {row['key_counts']} |"
        )
    print(f"dask / local: {result['dask_over_local']:.2f}x of the medians (same partitions.csv)")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
