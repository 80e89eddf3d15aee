"""Run every benchmark and print one table: ``python -m bench.run_all``.

Each benchmark runs in its own process and measures its baselines in the same run (the
machines are shared and noisy: ratios, not absolute times, are the figures to compare):

- ``bench_hash``: partsim's hashing against the ``confluent_kafka.murmur2`` loop,
  kafka-python's ``murmur2`` and Java's ``Utils.murmur2`` (when a JDK is there);
- ``bench_analyze``: ``partsim analyze --out`` against the read-and-count floor
  (``pyarrow.csv.read_csv`` + ``value_counts``), with peak RSS;
- ``bench_scale``: 50M events from CSV and Parquet, exact and sketched keys, and the Dask
  engine against the local one, with peak RSS;
- ``bench_sample``: sampling a live topic against a bare confluent-kafka loop (it starts
  its own broker).

``--quick`` runs smaller workloads (1M rows, 2M keys) to check that everything runs.
``--markdown FILE`` also writes the table there; ``--workdir`` keeps the generated inputs
between runs (they take a few minutes to write at full size).

    python -m bench.run_all [--quick] [--workdir DIR] [--markdown FILE]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run(module: str, *args: str, work: Path) -> dict:
    """``python -m bench.MODULE ARGS --json FILE``; its figures."""
    out = work / f"{module}.json"
    command = [sys.executable, "-m", f"bench.{module}", *args, "--json", str(out)]
    print(f"$ {' '.join(command[1:])}", file=sys.stderr, flush=True)
    subprocess.run(command, check=True, cwd=ROOT, stdout=sys.stderr)
    return json.loads(out.read_text())


def table(hashing: dict, analyze: dict, scale: dict, sample: dict) -> str:
    rates = hashing["keys_per_second"]
    lines = [
        f"Machine: {hashing['machine']}, Python {hashing['python']}.",
        "",
        "| benchmark | partsim | baseline (same run) | ratio |",
        "|---|---:|---|---:|",
    ]
    one = rates["partsim 1 thread"]
    for name, rate in rates.items():
        if not name.startswith("partsim"):
            lines.append(
                f"| hash keys/s, 1 thread | {one / 1e6:.1f}M | {name}: {rate / 1e6:.2f}M | "
                f"{one / rate:.1f}x its speed |"
            )
    lines.append(
        f"| analyze {analyze['rows']:,} CSV rows --out | {analyze['partsim_seconds']:.2f} s, "
        f"{analyze['partsim_rows_per_second'] / 1e6:.1f}M rows/s, peak RSS "
        f"{analyze['partsim_peak_rss_mib']:,} MiB | read_csv + value_counts: "
        f"{analyze['floor_seconds']:.2f} s | {analyze['ratio']:.2f}x the floor's time |"
    )
    for row in scale["runs"]:
        lines.append(
            f"| {scale['rows'] / 1e6:g}M events: {row['run']} | {row['seconds']:.1f} s, "
            f"{row['rows_per_second'] / 1e6:.2f}M events/s, peak RSS {row['peak_rss_mib']:,} MiB "
            f"(all its processes: {row['peak_total_rss_mib']:,} MiB PSS) | | |"
        )
    lines.append(
        f"| {scale['rows'] / 1e6:g}M events: Dask (local cluster) against local | | local: "
        f"{scale['runs'][0]['seconds']:.1f} s | {scale['dask_over_local']:.2f}x local's time |"
    )
    best = sample["best_s"]
    bare = min(best["bare"], best["bare_tuned"])
    lines.append(
        f"| sample {sample['records']:,} records from a live topic | {best['partsim']:.2f} s | "
        f"bare confluent-kafka loop: {bare:.2f} s | {sample['ratio']:.2f}x the loop's time |"
    )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--markdown", type=Path, default=None)
    args = parser.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="partsim-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    rows, scale_rows, keys = (
        (1_000_000, 2_000_000, 2_000_000) if args.quick else (10_000_000, 50_000_000, 10_000_000)
    )
    repeat = "1" if args.quick else "3"
    hashing = run("bench_hash", "--keys", str(keys), "--repeat", repeat, work=work)
    analyze = run("bench_analyze", "--rows", str(rows), "--repeat", repeat,
                  "--workdir", str(work), work=work)  # fmt: skip
    scale = run("bench_scale", "--rows", str(scale_rows), "--workdir", str(work), work=work)
    sample = run("bench_sample", "--repeat", "2" if args.quick else "5", work=work)
    text = table(hashing, analyze, scale, sample)
    print(text, end="")
    if args.markdown:
        args.markdown.write_text(text)


if __name__ == "__main__":
    main()
