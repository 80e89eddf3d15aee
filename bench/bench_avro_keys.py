"""Benchmark: ``partsim analyze --key-format avro --key-schema '"string"'`` against the same
run with ``--key-format string``, in the same run (issue 17's speed target: at least 0.7x).

Workload: the CSV of ``bench_analyze`` (``--rows`` events, default 10M, a Zipf-distributed
``customer_id``), analyzed by its key alone (``--key customer_id -p 12 --json``), so that the
key's encoding is as large a share of the work as it gets. The Avro run frames every key
(``--schema-id 7``) and writes it as Avro's string: the length as a zigzag varint, then the
UTF-8 bytes. Each run is its own process; the two sides alternate, ``--repeat`` times each,
and the figures are each side's best and median. The machine is often shared: compare the
two figures of one run, never figures of different runs.

    python -m bench.bench_avro_keys [--rows 10000000] [--repeat 5] [--workdir DIR]
"""

from __future__ import annotations

import argparse
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


def timed(arguments: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(arguments, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="partsim-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / f"events-{args.rows}.csv"
    if not path.exists():
        make_csv(path, args.rows)
    # Same keys, same partitions: the two sides must agree on everything but the bytes.
    outputs = {side: subprocess.run(command(path, side), check=True, capture_output=True,
                                    text=True).stdout for side in SIDES}  # fmt: skip
    assert outputs["string"].count('"events"') == outputs["avro"].count('"events"')
    times: dict[str, list[float]] = {side: [] for side in SIDES}
    for _ in range(args.repeat):
        for side in SIDES:
            times[side].append(timed(command(path, side)))
    best = {side: min(values) for side, values in times.items()}
    median = {side: statistics.median(values) for side, values in times.items()}
    print(f"rows: {args.rows:,}; runs per side: {args.repeat} (alternating)")
    for side in SIDES:
        print(f"  {side:6}  best {best[side]:.2f} s  median {median[side]:.2f} s   "
              f"{shlex.join(['partsim', *command(path, side)[3:]])}")  # fmt: skip
    print(
        f"avro speed / string speed: best {best['string'] / best['avro']:.2f}x, "
        f"median {median['string'] / median['avro']:.2f}x (target: at least 0.70x)"
    )


if __name__ == "__main__":
    main()
