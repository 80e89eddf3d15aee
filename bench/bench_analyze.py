"""Benchmark: ``partsim analyze --out`` against the read-and-count floor, in the same run.

Workload (issue 3): a CSV of ``--rows`` events (default 10M) with a Zipf-distributed
``customer_id``, a ``size_bytes`` and a ``ts`` timestamp, fully analyzed with
``--size --timestamp --out``. The floor is what any per-key analysis must at least do:
``pyarrow.csv.read_csv`` of the file plus ``pyarrow.compute.value_counts`` of the key
column. Each side runs in its own process, so its peak RSS is measured too (for partsim, the
largest of its processes: it forks one to draw the plots); each figure is the best of
``--repeat`` runs. The machine is often shared: compare the two figures of one run.

    python bench/bench_analyze.py [--rows 10000000] [--repeat 3] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pv

FLOOR = """
import sys, pyarrow.csv as pv, pyarrow.compute as pc
table = pv.read_csv(sys.argv[1])
counts = pc.value_counts(table["customer_id"])
print(len(counts))
"""


def make_csv(path: Path, rows: int, seed: int = 7) -> None:
    """Write the workload CSV in slices (bounded memory while generating)."""
    rng = np.random.default_rng(seed)
    start = np.datetime64("2026-11-27T00:00:00", "ms").astype(np.int64)
    step = 200_000
    with pv.CSVWriter(
        str(path),
        pa.schema([("customer_id", pa.string()), ("size_bytes", pa.int64()),
                   ("ts", pa.string())]),
    ) as writer:  # fmt: skip
        for first in range(0, rows, step):
            count = min(step, rows - first)
            ids = pa.array(rng.zipf(1.2, count) % 1_000_000)
            customers = pc.binary_join_element_wise("customer-", pc.cast(ids, pa.string()), "")
            sizes = pa.array(rng.integers(100, 4000, count))
            millis = start + (first + np.arange(count)) * 9  # ~25 hours of events
            stamps = pc.cast(pa.array(millis, pa.timestamp("ms")), pa.string())
            writer.write_table(pa.table([customers, sizes, stamps],
                                        names=["customer_id", "size_bytes", "ts"]))  # fmt: skip


def timed(command: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of one child process."""
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    took = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"failed: {' '.join(command)}")
    return took, usage.ru_maxrss / 1024


def best(command: list[str], repeat: int) -> tuple[float, float]:
    runs = [timed(command) for _ in range(repeat)]
    return min(t for t, _ in runs), max(r for _, r in runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    work = args.workdir or Path(tempfile.mkdtemp(prefix="partsim-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    data = work / f"events-{args.rows}.csv"
    if not data.exists():
        print(f"writing {data} ...", file=sys.stderr)
        make_csv(data, args.rows)
    out = work / "report"
    floor = [sys.executable, "-c", FLOOR, str(data)]
    partsim = [
        sys.executable, "-m", "partsim", "analyze", str(data), "--key", "customer_id", "-p", "48",
        "--size", "size_bytes", "--timestamp", "ts", "--out", str(out),
    ]  # fmt: skip
    floor_time, floor_rss = best(floor, args.repeat)
    partsim_time, partsim_rss = best(partsim, args.repeat)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["events"] == args.rows, summary["events"]
    result = {
        "rows": args.rows,
        "file_mib": round(data.stat().st_size / 2**20, 1),
        "floor_seconds": round(floor_time, 3),
        "floor_peak_rss_mib": round(floor_rss),
        "partsim_seconds": round(partsim_time, 3),
        "partsim_peak_rss_mib": round(partsim_rss),
        "ratio": round(partsim_time / floor_time, 2),
        "partsim_rows_per_second": round(args.rows / partsim_time),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
    }
    print(
        f"{args.rows:,} rows, {result['file_mib']} MiB CSV\n"
        f"| run | wall s | rows/s | peak RSS MiB |\n|---|---:|---:|---:|\n"
        f"| read_csv + value_counts (floor) | {floor_time:.2f} | {args.rows / floor_time:,.0f} | "
        f"{floor_rss:,.0f} |\n"
        f"| partsim analyze --out (48 partitions) | {partsim_time:.2f} | "
        f"{args.rows / partsim_time:,.0f} | {partsim_rss:,.0f} |\n"
        f"partsim / floor: {partsim_time / floor_time:.2f}x (bar: <= 2x)"
    )
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
