"""Benchmark: peak memory of ``partsim analyze`` on wide rows and long distinct keys.

Workloads (issue 20, items 6 and 7), written once into ``--workdir``:

- **wide rows**: ``--rows`` events (default 1,000,000) of a ``user-N`` key (50,000
  distinct) and a 4,080-byte payload, gzip: 4 GiB of CSV in 8.3 MiB. A batch of 256K
  rows of it would hold 1 GiB. The same rows without the payload are the baseline.
- **long keys**: ``--long-keys`` distinct keys of 16,000 bytes (default 300,000), plus a hot
  one, zstd: 4.6 GiB of keys in 55 MiB (Arrow's zstd stream at its default level; the
  issue's file of such keys was 1.5 MB). An exact table of them would hold them all.

Each run is one ``partsim analyze --json`` process; its wall time and peak RSS (``wait4``)
are printed. ``--compare PYTHONPATH`` runs the same commands with another checkout of
partsim first on the path (the code before the byte bounds, say), under an address-space
limit of ``--compare-limit`` GiB so that it cannot take the machine down; a run that fails
is reported with its last line.

    python bench/bench_hostile.py [--rows 1000000] [--long-keys 300000] [--workdir DIR]
        [--compare PYTHONPATH] [--json FILE]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa

PAYLOAD = "x" * 4080
LONG_KEY = 16_000


def write_wide(path: Path, rows: int, *, payload: bool) -> None:
    with gzip.open(path, "wt", compresslevel=6) as out:
        out.write("key,payload\n" if payload else "key\n")
        tail = f",{PAYLOAD}" if payload else ""
        step = 10_000
        for first in range(0, rows, step):
            last = min(rows, first + step)
            out.writelines(f"user-{i % 50_000}{tail}\n" for i in range(first, last))


def write_long(path: Path, keys: int) -> None:
    with pa.CompressedOutputStream(str(path), "zstd") as out:
        out.write(b"key\n")
        for index in range(keys):
            out.write((f"{index:016d}" * (LONG_KEY // 16) + "\n").encode())
            if index % 100 == 0:
                out.write(("hot-" * (LONG_KEY // 4) + "\n").encode())


def run(command: list[str], pythonpath: str | None, limit_gib: float | None) -> dict:
    """Wall seconds, peak RSS (MiB) and outcome of one ``partsim analyze`` process."""

    def limit() -> None:
        if limit_gib:
            size = int(limit_gib * 2**30)
            resource.setrlimit(resource.RLIMIT_AS, (size, size))

    env = dict(os.environ)
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    start = time.perf_counter()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        child = subprocess.Popen(command, stdout=out, stderr=err, env=env, preexec_fn=limit)
        _, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(), err.read().decode(errors="replace")
    seconds = time.perf_counter() - start
    figures = {"seconds": round(seconds, 2), "peak_rss_mib": round(usage.ru_maxrss / 1024)}
    if child.returncode != 0:
        lines = stderr.strip().splitlines() or [f"exit {child.returncode}"]
        return {**figures, "failed": lines[-1][:160]}
    summary = json.loads(stdout)
    return {**figures, "events": summary["events"], "distinct_keys": summary["distinct_keys"],
            "key_counts": summary["key_counts"]["method"],
            "reason": summary["key_counts"].get("reason")}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--long-keys", type=int, default=300_000)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--compare", default=None, metavar="PYTHONPATH")
    parser.add_argument("--compare-limit", type=float, default=4.0, metavar="GIB")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    work = args.workdir or Path(tempfile.mkdtemp(prefix="partsim-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    inputs = {
        "wide rows (4 KiB)": (work / f"wide-{args.rows}.csv.gz", "key"),
        "narrow rows (baseline)": (work / f"narrow-{args.rows}.csv.gz", "key"),
        "long distinct keys (16 KB)": (work / f"long-{args.long_keys}.csv.zst", "key"),
    }
    for name, (path, _) in inputs.items():
        if not path.exists():
            print(f"writing {path} ...", file=sys.stderr, flush=True)
            if name.startswith("long"):
                write_long(path, args.long_keys)
            else:
                write_wide(path, args.rows, payload=name.startswith("wide"))
    sides = [("partsim", None, None)]
    if args.compare:
        sides.insert(0, ("compared", args.compare, args.compare_limit))
    results: dict[str, dict] = {}
    for name, (path, key) in inputs.items():
        command = [sys.executable, "-m", "partsim", "analyze", str(path), "--key", key,
                   "-p", "12", "--json"]  # fmt: skip
        for side, pythonpath, limit_gib in sides:
            print(f"$ {side}: {' '.join(command[1:])}", file=sys.stderr, flush=True)
            results[f"{name} | {side}"] = {
                "file_mib": round(path.stat().st_size / 2**20, 1),
                **run(command, pythonpath, limit_gib),
            }
    print(f"{args.rows:,} wide rows; {args.long_keys:,} long keys; "
          f"{platform.machine()}, {os.cpu_count()} cores")  # fmt: skip
    print("\n".join(table(results)))
    if args.json:
        figures = {"rows": args.rows, "long_keys": args.long_keys, "runs": results}
        args.json.write_text(json.dumps(figures, indent=2) + "\n")


def table(results: dict[str, dict]) -> list[str]:
    """The runs as a Markdown table (also run_all's, from the ``--json`` file's runs)."""
    lines = ["| input | code | file MiB | wall s | peak RSS MiB | outcome |",
             "|---|---|---:|---:|---:|---|"]  # fmt: skip
    for label, figures in results.items():
        name, side = label.split(" | ")
        outcome = figures.get("failed") or (
            f"{figures['events']:,} events, {figures['distinct_keys']:,} keys "
            f"({figures['key_counts']}{', ' + figures['reason'] if figures['reason'] else ''})"
        )
        lines.append(f"| {name} | {side} | {figures['file_mib']} | {figures['seconds']:.1f} | "
                     f"{figures['peak_rss_mib']:,} | {outcome} |")  # fmt: skip
    return lines


if __name__ == "__main__":
    main()
