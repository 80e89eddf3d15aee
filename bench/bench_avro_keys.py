"""Benchmark: ``partsim analyze --key-format avro --key-schema '"string"'`` against the same
run with ``--key-format string``, in the same run (issue 17's speed target: at least 0.7x).

Workload: the CSV of ``bench_analyze`` (``--rows`` events, default 10M, a Zipf-distributed
``customer_id``), analyzed by its key alone (``--key customer_id -p 12 --json``), so that the
key's encoding is as large a share of the work as it gets. The Avro run frames every key
(``--schema-id 7``) and writes it as Avro's string: the length as a zigzag varint, then the
UTF-8 bytes. Each run is its own process; the two sides alternate, ``--repeat`` times each,
and the figures are each side's best and median wall time, and its best CPU time (user +
system of all its threads, which a loaded machine disturbs less). The machine is often
shared: compare the two figures of one run, never figures of different runs. Before timing,
both sides' JSON must agree on the counts (events, keyed, null keys, distinct keys) and skip
no row: the same keys, only other bytes.

    python -m bench.bench_avro_keys [--rows 10000000] [--repeat 5] [--workdir DIR] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.bench_analyze import make_csv

SIDES = {
    "string": ["--key-format", "string"],
    "avro": ["--key-format", "avro", "--key-schema", '"string"', "--schema-id", "7"],
}


def command(path: Path, side: str) -> list[str]:
    return [sys.executable, "-m", "partsim", "analyze", str(path), "--key", "customer_id",
            "-p", "12", "--json", *SIDES[side]]  # fmt: skip


def timed(arguments: list[str]) -> tuple[float, float]:
    """Wall seconds and CPU seconds (user + system, all its threads) of one child process."""
    start = time.perf_counter()
    process = subprocess.Popen(arguments, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"failed: {shlex.join(arguments)}")
    return time.perf_counter() - start, usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="partsim-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / f"events-{args.rows}.csv"
    if not path.exists():
        make_csv(path, args.rows)
    # The same keys, other bytes: both sides count the same events and keys, and skip none.
    counted = ("events", "keyed_events", "null_key_events", "skipped_rows", "distinct_keys")
    summaries = [json.loads(subprocess.run(command(path, side), check=True, capture_output=True,
                                           text=True).stdout) for side in SIDES]  # fmt: skip
    string, avro = ({name: summary[name] for name in counted} for summary in summaries)
    if string != avro or avro["skipped_rows"] or avro["events"] != args.rows:
        raise SystemExit(f"the two sides disagree: string {string}, avro {avro}")
    runs: dict[str, list[tuple[float, float]]] = {side: [] for side in SIDES}
    for _ in range(args.repeat):
        for side in SIDES:
            runs[side].append(timed(command(path, side)))
    print(f"rows: {args.rows:,}; runs per side: {args.repeat} (alternating)")
    figures = {}
    for side in SIDES:
        wall, cpu = [w for w, _ in runs[side]], [c for _, c in runs[side]]
        figures[side] = (min(wall), statistics.median(wall), min(cpu))
        shown = shlex.join(["partsim", *command(path, side)[3:]])
        print(f"  {side:6}  wall best {min(wall):.2f} s, median {statistics.median(wall):.2f} s;"
              f" CPU best {min(cpu):.2f} s   {shown}")  # fmt: skip
    (best_s, median_s, cpu_s), (best_a, median_a, cpu_a) = figures["string"], figures["avro"]
    print(
        f"avro speed / string speed: wall best {best_s / best_a:.2f}x, median "
        f"{median_s / median_a:.2f}x; CPU best {cpu_s / cpu_a:.2f}x (target: at least 0.70x)"
    )
    if args.json:
        sides = {
            side: dict(zip(("best_s", "median_s", "cpu_best_s"), figures[side], strict=True))
            for side in SIDES
        }
        ratios = {
            "wall_best": best_s / best_a,
            "wall_median": median_s / median_a,
            "cpu_best": cpu_s / cpu_a,
        }
        args.json.write_text(
            json.dumps(
                {"rows": args.rows, "repeat": args.repeat, "sides": sides, "speed_ratio": ratios},
                indent=2,
            )
        )


if __name__ == "__main__":
    main()
