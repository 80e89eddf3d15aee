"""Benchmark: ``partsim analyze --out`` against the read-and-count floor, in the same run.

Workload (issue 3): a CSV of ``--rows`` events (default 10M) with a Zipf-distributed
``customer_id``, a ``size_bytes`` and a ``ts`` timestamp, fully analyzed with
``--size --timestamp --out`` (48 partitions, every output file). The floor is what any
per-key analysis must at least do: ``pyarrow.csv.read_csv`` of the file plus
``pyarrow.compute.value_counts`` of the key column. Each side runs ``--repeat`` times in its
own processes, one side after the other (the floor first), and every run is measured:

- wall time; the figure is the best run, with the median and the range beside it;
- CPU time: user + system of the process and of every child it waited for (partsim forks one
  to draw the plots), from ``wait4``; "busy" is CPU time / (wall time x usable cores);
- peak RSS: the largest process's (``ru_maxrss``).

Then where partsim's time goes, each stage measured alone on the same file in a child
process (best of ``--repeat``, after one untimed pass that pays for lazy imports):

- start-up: ``python -c "import click, pandas, partsim.cli, partsim.analysis, partsim.io"``
  against a bare ``python -c pass``;
- parsing the 10M sizes and times in 256K-row batches: the C kernel (``parse_numbers``,
  ``parse_timestamps``) against Arrow's casts (the same functions with
  ``PARTSIM_KERNELS=numpy``, which fall back to them);
- counting the keys: ``KeyCounts.add`` of every batch and ``table()``, the C table against
  the Arrow fallback (``PARTSIM_KERNELS=numpy``: each batch grouped, the parts merged);
- ``finish()``: the summary, tables and references from the whole file's aggregate, and
  within it ``uniform_reference`` (simulated random placement).

The machine is often shared: compare the two sides of one run, and read the load averages
printed with it.

    python -m bench.bench_analyze [--rows 10000000] [--repeat 3] [--workdir DIR] [--json FILE]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import statistics
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
#: What ``partsim analyze`` imports before it opens its input.
STARTUP_IMPORTS = "import click, pandas, partsim.cli, partsim.analysis, partsim.io"
BATCH_ROWS = 1 << 18


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


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def timed(command: list[str], env: dict | None = None) -> dict:
    """One child process: wall and CPU seconds (with its reaped children) and peak RSS MiB."""
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, env=env)
    _, status, usage = os.wait4(process.pid, 0)
    took = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"failed: {' '.join(command)}")
    return {"wall": took, "cpu": usage.ru_utime + usage.ru_stime, "rss": usage.ru_maxrss / 1024}


def summarize(runs: list[dict]) -> dict:
    """The best run's figures, with the median and the range of the wall times."""
    best = min(runs, key=lambda run: run["wall"])
    walls = [run["wall"] for run in runs]
    return {
        "runs": len(runs),
        "seconds": round(best["wall"], 3),
        "median_seconds": round(statistics.median(walls), 3),
        "min_seconds": round(min(walls), 3),
        "max_seconds": round(max(walls), 3),
        "cpu_seconds": round(best["cpu"], 3),
        "busy": round(best["cpu"] / (best["wall"] * usable_cores()), 3),
        "peak_rss_mib": round(max(run["rss"] for run in runs)),
    }


# ------------------------------------------------------------ stages (in a child process)
def _batches(path: Path, columns: list[str]) -> list[pa.RecordBatch]:
    options = pv.ConvertOptions(include_columns=columns,
                                column_types=dict.fromkeys(columns, pa.string()))  # fmt: skip
    return pv.read_csv(path, convert_options=options).to_batches(max_chunksize=BATCH_ROWS)


def stage(name: str, path: Path, repeat: int) -> dict:
    """One stage measured in this process, with whatever kernel PARTSIM_KERNELS chose."""
    from bench.bench_hash import best_of
    from partsim.hashing import kernel_backend

    figures: dict = {"kernel": kernel_backend()}
    if name == "parse":
        from partsim.events import parse_numbers, parse_timestamps

        batches = _batches(path, ["size_bytes", "ts"])
        figures["sizes_seconds"] = best_of(
            repeat, lambda: [parse_numbers(b.column("size_bytes")) for b in batches], warm_up=True
        )
        figures["times_seconds"] = best_of(
            repeat, lambda: [parse_timestamps(b.column("ts")) for b in batches], warm_up=True
        )
    elif name == "count":
        from partsim.keycounts import KeyCounts

        keys = [b.column(0).cast(pa.binary()) for b in _batches(path, ["customer_id"])]
        weights = [np.ones(len(batch)) for batch in keys]

        def count() -> None:
            counts = KeyCounts()
            for batch, weight in zip(keys, weights, strict=True):
                counts.add(batch, weight)
            figures["distinct_keys"] = counts.table().num_rows

        figures["seconds"] = best_of(repeat, count, warm_up=True)
    elif name == "finish":
        from partsim import analysis
        from partsim.engine import run_scan
        from partsim.options import EngineOptions, InputOptions
        from partsim.pipeline import make_plan, plan_result

        plan = make_plan(48, key="customer_id", size="size_bytes", timestamp="ts")
        done = run_scan(str(path), plan.scan(), input_options=InputOptions(),
                        engine_options=EngineOptions())  # fmt: skip
        aggregate = plan_result(done.aggregate)
        plan = dataclasses.replace(plan, value_sizes=done.scan.value_sizes)
        spent = []
        simulate = analysis.uniform_reference

        def timed_reference(*args, **kwargs):
            started = time.perf_counter()
            try:
                return simulate(*args, **kwargs)
            finally:
                spent.append(time.perf_counter() - started)

        analysis.uniform_reference = timed_reference  # finish() calls it by this name
        figures["seconds"] = best_of(
            repeat,
            lambda: analysis.finish(aggregate, plan, inputs=str(path)),
            warm_up=True,
        )
        figures["uniform_reference_seconds"] = min(spent) if spent else None
    else:
        raise SystemExit(f"unknown stage {name!r}")
    return figures


def run_stage(name: str, path: Path, repeat: int, kernels: str | None = None) -> dict:
    """:func:`stage` in a child process (a fresh interpreter picks the kernel)."""
    env = {key: value for key, value in os.environ.items() if key != "PARTSIM_KERNELS"}
    if kernels:
        env["PARTSIM_KERNELS"] = kernels
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        subprocess.run(
            [sys.executable, "-m", "bench.bench_analyze", "--stage", name, "--data", str(path),
             "--repeat", str(repeat), "--json", out.name],
            check=True, env=env, cwd=Path(__file__).resolve().parents[1],
        )  # fmt: skip
        return json.loads(Path(out.name).read_text())


def stages(path: Path, repeat: int) -> dict:
    startup = [timed([sys.executable, "-c", STARTUP_IMPORTS])["wall"] for _ in range(repeat)]
    bare = [timed([sys.executable, "-c", "pass"])["wall"] for _ in range(repeat)]
    return {
        "startup_seconds": round(min(startup), 3),
        "interpreter_seconds": round(min(bare), 3),
        "parse_c": run_stage("parse", path, repeat, "c"),
        "parse_arrow": run_stage("parse", path, repeat, "numpy"),
        "count_c": run_stage("count", path, repeat, "c"),
        "count_arrow": run_stage("count", path, repeat, "numpy"),
        "finish": run_stage("finish", path, repeat),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--no-stages", action="store_true", help="skip the per-stage timings")
    parser.add_argument("--stage", help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.stage:
        figures = stage(args.stage, args.data, args.repeat)
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
        return

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
    load_before = os.getloadavg()
    floor_runs = [timed(floor) for _ in range(args.repeat)]
    partsim_runs = [timed(partsim) for _ in range(args.repeat)]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["events"] == args.rows, summary["events"]
    result = {
        "rows": args.rows,
        "file_mib": round(data.stat().st_size / 2**20, 1),
        "floor": summarize(floor_runs),
        "partsim": summarize(partsim_runs),
        "cores": usable_cores(),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "load_average": [round(value, 2) for value in (*load_before, *os.getloadavg())],
    }
    ours, floor_run = result["partsim"], result["floor"]
    result["ratio"] = round(ours["seconds"] / floor_run["seconds"], 2)
    result["cpu_ratio"] = round(ours["cpu_seconds"] / floor_run["cpu_seconds"], 2)
    if not args.no_stages:
        result["stages"] = stages(data, args.repeat)
    print(report(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")


def report(result: dict) -> str:
    """The benchmark's table and stage figures as Markdown (the README's form)."""
    rows = result["rows"]
    lines = [
        f"{rows:,} rows, {result['file_mib']} MiB CSV; best of {result['floor']['runs']} runs "
        f"each (median, range); load average {result['load_average'][0]:.1f} before, "
        f"{result['load_average'][3]:.1f} after",
        "",
        "| run | wall s (median, range) | rows/s | CPU s (busy) | peak RSS |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, label in (("floor", "floor: `read_csv` + `value_counts`"),
                        ("partsim", "`partsim analyze --out`")):  # fmt: skip
        run = result[name]
        lines.append(
            f"| {label} | {run['seconds']:.2f} ({run['median_seconds']:.2f}, "
            f"{run['min_seconds']:.2f}-{run['max_seconds']:.2f}) | "
            f"{rows / run['seconds'] / 1e6:.1f}M | {run['cpu_seconds']:.1f} "
            f"({run['busy']:.0%} of {result['cores']} cores) | {run['peak_rss_mib']:,} MiB |"
        )
    lines += ["", f"partsim / floor: {result['ratio']:.2f}x the wall time, "
              f"{result['cpu_ratio']:.2f}x the CPU time"]  # fmt: skip
    stage_figures = result.get("stages")
    if stage_figures:
        s = stage_figures
        lines += [
            "",
            f"| stage, alone, on the {rows:,} rows | C kernel | Arrow fallback |",
            "|---|---:|---:|",
            f"| parse sizes, 256K-row batches | {s['parse_c']['sizes_seconds']:.3f} s | "
            f"{s['parse_arrow']['sizes_seconds']:.3f} s |",
            f"| parse times, 256K-row batches | {s['parse_c']['times_seconds']:.3f} s | "
            f"{s['parse_arrow']['times_seconds']:.3f} s |",
            f"| count keys ({s['count_c']['distinct_keys']:,} distinct) | "
            f"{s['count_c']['seconds']:.3f} s | {s['count_arrow']['seconds']:.3f} s |",
            "",
            f"start-up (interpreter and imports): {s['startup_seconds']:.2f} s "
            f"(the interpreter alone: {s['interpreter_seconds']:.2f} s); "
            f"finish(): {s['finish']['seconds']:.3f} s, of which random placement "
            f"(uniform_reference): {s['finish']['uniform_reference_seconds']:.3f} s",
        ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
