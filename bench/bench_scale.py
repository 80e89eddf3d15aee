"""Benchmark (issues 8, 15 and 19): every command at scale, in bounded memory, and Dask.

Workload: the issue-3 events (a Zipf ``customer_id`` over up to 1M customers, ``size_bytes``,
a ``ts`` every 9 ms) at ``--rows`` events (default 50M), as CSV and as Parquet (1M-row row
groups), and the same events at ``--small`` rows (default 10M) for linearity. Each case is
one ``partsim`` command in its own process, run ``--repeat`` times (default 3); each figure
is the median of its runs, with their range. Memory is the peak of each run: the largest
process's RSS, and all its processes' summed proportional set sizes (a page that processes
share counts once), the figure the 1 GiB target is about.

Cases (``--out`` cases write every report file; the others print ``--json``):

- ``analyze``: ``customer_id`` (at most 1M distinct keys: exact), from CSV and Parquet with
  ``--out``; ``{customer_id}/{ts}`` (a key per event: sketched); ``--engine dask`` against
  the local engine, their ``partitions.csv`` checked equal;
- the commands, from the CSV, each against ``analyze --key customer_id`` with the same
  ``--size`` (and ``--timestamp``) in the same run: ``analyze --order-by customer_id``;
  ``whatif`` 48 → 64 partitions; ``whatif`` to Avro keys (``--to-key-format avro``: each
  record's key serialized both ways); ``whatif --salt 4 --salt-hot 10``; ``sweep`` of 2
  designs (``customer_id`` and ``{customer_id}-x``) x 2 clients (java, confluent-kafka) x
  3 counts (12, 24, 48) against ``analyze`` of its costlier design; ``simulate`` with 8
  consumers;
- each command at ``--small`` rows too: the time at ``--rows`` over the time at ``--small``
  is its growth, against a linear ``--rows / --small``.

The targets (issue 15) are printed with each figure: every command at most 1 GiB over its
processes; whatif at most 1.3x analyze; analyze --order-by at most 1.5x; the sweep at most
1.5x one analyze of its costlier design; 50M at most 5.5x 10M for each command.

Each case runs ``--repeat`` times, the cases taken in turn so that a change in the machine's
load falls on all of them.

    python -m bench.bench_scale [--rows 50000000] [--small 10000000] [--repeat 3]
                                [--workdir DIR] [--json out.json] [--quick]

``--quick`` runs 5M and 1M rows, twice each: a check that everything runs, not the figures.
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

GIB = 1024  # MiB
#: (case, baseline case, the most the ratio of their median times may be), from issue 15.
RATIO_TARGETS = (
    ("whatif", "analyze", 1.3),
    ("analyze --order-by", "analyze", 1.5),
    ("sweep 2x2x3", "analyze {customer_id}-x", 1.5),
)
#: The most the time at --rows may be over the time at --small, per 5x more rows.
GROWTH_TARGET = 5.5


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


def timed_tree(command: list[str], stdout=subprocess.DEVNULL) -> tuple[float, float, float]:
    """Wall seconds; the peak RSS of the largest process (the kernel's ``ru_maxrss`` of the
    command and the descendants it waited for); and the peak of the command's and its
    descendants' summed PSS, sampled every 50 ms with psutil (a dependency of
    dask.distributed). In MiB."""
    import psutil

    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=stdout)
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


def cases(csv: Path, parquet: Path, work: Path, main: bool) -> list[tuple[str, list[str]]]:
    """(name, partsim arguments) of every case; ``main``: the full-size run, which also has
    the report-writing, sketched and Dask cases."""
    measured = ["--size", "size_bytes", "--timestamp", "ts"]
    commands = [
        ("analyze", ["analyze", str(csv), "--key", "customer_id", "-p", "48", *measured,
                     "--json"]),
        ("analyze --order-by", ["analyze", str(csv), "--key", "customer_id", "-p", "48",
                                *measured, "--order-by", "customer_id", "--json"]),
        ("whatif", ["whatif", str(csv), "--key", "customer_id", "--from-partitions", "48",
                    "--to-partitions", "64", "--size", "size_bytes", "--json"]),
        ("whatif --to-key-format avro", ["whatif", str(csv), "--key", "customer_id", "-p",
                                         "48", "--to-key-format", "avro", "--to-key-schema",
                                         '"string"', "--to-schema-id", "7", "--size",
                                         "size_bytes", "--json"]),
        ("whatif --salt 4 --salt-hot 10", ["whatif", str(csv), "--key", "customer_id", "-p",
                                           "48", "--salt", "4", "--salt-hot", "10", "--size",
                                           "size_bytes", "--json"]),
        ("analyze {customer_id}-x", ["analyze", str(csv), "--key", "{customer_id}-x", "-p",
                                     "48", *measured, "--json"]),
        ("sweep 2x2x3", ["sweep", str(csv), "--design", "c=customer_id",
                         "--design", "cx={customer_id}-x", "--partitioner", "java",
                         "--partitioner", "confluent-kafka", "-p", "12,24,48", *measured,
                         "--json"]),
        ("simulate", ["simulate", str(csv), "--key", "customer_id", "-p", "48", *measured,
                      "--consumers", "8", "--consumer-capacity", "30000", "--json"]),
    ]  # fmt: skip
    if not main:
        return commands
    reports = [
        ("analyze --out, CSV, exact", ["analyze", str(csv), "--key", "customer_id", "-p", "48",
                                       *measured, "--out", str(work / "out-csv")]),
        ("analyze --out, Parquet, exact", ["analyze", str(parquet), "--key", "customer_id",
                                           "-p", "48", *measured, "--out",
                                           str(work / "out-parquet")]),
        ("analyze --out, CSV, {customer_id}/{ts} (sketched)",
         ["analyze", str(csv), "--key", "{customer_id}/{ts}", "-p", "48", *measured, "--out",
          str(work / "out-sketched")]),
        ("analyze --out, CSV, --engine dask (local cluster)",
         ["analyze", str(csv), "--key", "customer_id", "-p", "48", *measured, "--engine",
          "dask", "--out", str(work / "out-dask")]),
    ]  # fmt: skip
    return reports + commands


def measure(arguments: list[str], output: Path) -> tuple[float, float, float]:
    """Run one case once: its wall seconds and peaks (:func:`timed_tree`)."""
    with output.open("wb") as stdout:
        return timed_tree([sys.executable, "-m", "partsim", *arguments], stdout)


def figures(runs: list[tuple[float, float, float]]) -> dict:
    """The median and range of a case's wall times, and its peaks."""
    seconds, rss, total = (sorted(values) for values in zip(*runs, strict=True))
    return {
        "seconds": round(statistics.median(seconds), 2),
        "seconds_range": [round(seconds[0], 2), round(seconds[-1], 2)],
        "peak_rss_mib": round(statistics.median(rss)),
        "peak_total_mib": round(statistics.median(total)),
        "peak_total_mib_max": round(total[-1]),
        "runs": len(runs),
    }


def inputs(work: Path, rows: int) -> tuple[Path, Path]:
    csv_path = work / f"events-{rows}.csv"
    parquet_path = work / f"events-{rows}.parquet"
    if not (csv_path.exists() and parquet_path.exists()):
        # In a child process: Linux keeps a process's peak RSS across exec, so every run
        # started from this process after it had written the inputs (2.5 GiB at its peak)
        # would report that peak as its own.
        subprocess.run([sys.executable, "-m", "bench.bench_scale", "--rows", str(rows),
                        "--workdir", str(work), "--write-inputs"], check=True)  # fmt: skip
    return csv_path, parquet_path


def run(rows: int, small: int, repeat: int, work: Path) -> dict:
    """Every case at ``rows`` (and the commands at ``small``), with the targets checked."""
    result: dict = {"rows": rows, "small_rows": small, "repeat": repeat, "cases": {},
                    "small": {}}  # fmt: skip
    for size, main in ((rows, True), (small, False)):
        csv_path, parquet_path = inputs(work, size)
        if main:
            result["csv_mib"] = round(csv_path.stat().st_size / 2**20)
            result["parquet_mib"] = round(parquet_path.stat().st_size / 2**20)
        target = result["cases"] if main else result["small"]
        # The cases in turn, ``repeat`` times: a change in the machine's load falls on all.
        runs: dict[str, list] = {}
        for turn in range(repeat):
            for name, arguments in cases(csv_path, parquet_path, work, main):
                print(f"running: {name}, {size:,} events ({turn + 1} of {repeat}) ...",
                      file=sys.stderr)  # fmt: skip
                output = work / f"stdout-{size}.json"
                runs.setdefault(name, []).append(measure(arguments, output))
                if "--json" in arguments:
                    summary = json.loads(output.read_text())
                    events = summary.get("events")
                    if events is not None:
                        assert events == size, (name, events)
        for name, measured in runs.items():
            target[name] = figures(measured)
    out_csv = work / "out-csv" / "partitions.csv"
    out_dask = work / "out-dask" / "partitions.csv"
    assert out_dask.read_text() == out_csv.read_text(), "dask and local partition counts differ"
    result["checks"] = checks(result)
    result["machine"] = f"{platform.machine()}, {os.cpu_count()} cores"
    # The form bench.run_all has read so far: one row per full-size case, and Dask / local.
    result["runs"] = [
        {"run": name, "seconds": f["seconds"], "rows_per_second": round(rows / f["seconds"]),
         "peak_rss_mib": f["peak_rss_mib"], "peak_total_rss_mib": f["peak_total_mib"]}
        for name, f in result["cases"].items()
    ]  # fmt: skip
    local = result["cases"]["analyze --out, CSV, exact"]["seconds"]
    dask = result["cases"]["analyze --out, CSV, --engine dask (local cluster)"]["seconds"]
    result["dask_over_local"] = round(dask / local, 2)
    return result


def checks(result: dict) -> list[dict]:
    """Every target of issue 15 against the medians measured."""
    cases, small = result["cases"], result["small"]
    out = []
    for name, figures in [*cases.items(), *((f"{n} ({result['small_rows']:,})", f)
                                            for n, f in small.items())]:  # fmt: skip
        out.append({"target": f"{name}: all processes <= 1 GiB",
                    "value": f"{figures['peak_total_mib_max']:,} MiB",
                    "holds": figures["peak_total_mib_max"] <= GIB})  # fmt: skip
    for name, baseline, most in RATIO_TARGETS:
        ratio = cases[name]["seconds"] / cases[baseline]["seconds"]
        out.append({"target": f"{name} <= {most}x {baseline}", "value": f"{ratio:.2f}x",
                    "holds": ratio <= most, "case": name, "baseline": baseline,
                    "ratio": round(ratio, 3), "most": most})  # fmt: skip
    growth_most = GROWTH_TARGET * result["rows"] / result["small_rows"] / 5
    for name, figures in small.items():
        growth = cases[name]["seconds"] / figures["seconds"]
        out.append({"target": f"{name}: {result['rows']:,} <= {growth_most:.1f}x "
                              f"{result['small_rows']:,}",
                    "value": f"{growth:.2f}x", "holds": growth <= growth_most})  # fmt: skip
    return out


def report(result: dict) -> str:
    """The figures as the README quotes them: one table of the cases, one of the targets."""
    lines = [
        f"{result['rows']:,} events (CSV {result.get('csv_mib', 0):,} MiB, Parquet "
        f"{result.get('parquet_mib', 0):,} MiB) and {result['small_rows']:,}; "
        f"{result['machine']}; median of {result['repeat']} runs (range)",
        "",
        "| case | events | wall s | peak RSS MiB (largest process) | all processes MiB (PSS) |",
        "|---|---:|---:|---:|---:|",
    ]
    for rows, group in ((result["rows"], result["cases"]), (result["small_rows"],
                                                             result["small"])):  # fmt: skip
        for name, f in group.items():
            low, high = f["seconds_range"]
            lines.append(f"| {name} | {rows:,} | {f['seconds']:.1f} ({low:.1f}-{high:.1f}) | "
                         f"{f['peak_rss_mib']:,} | {f['peak_total_mib']:,} "
                         f"(max {f['peak_total_mib_max']:,}) |")  # fmt: skip
    lines += ["", "| target (issue 15) | measured | holds |", "|---|---:|---|"]
    lines += [f"| {c['target']} | {c['value']} | {'yes' if c['holds'] else 'NO'} |"
              for c in result["checks"]]  # fmt: skip
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=50_000_000)
    parser.add_argument("--small", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--quick",
        action="store_true",
        help="5M and 1M rows, twice each: a check that every case runs",
    )
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--write-inputs", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.quick:
        args.rows, args.small, args.repeat = 5_000_000, 1_000_000, 2
    if args.small >= args.rows:
        args.small = max(1, args.rows // 5)

    work = args.workdir or Path(tempfile.mkdtemp(prefix="partsim-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    if args.write_inputs:
        csv_path = work / f"events-{args.rows}.csv"
        parquet_path = work / f"events-{args.rows}.parquet"
        if not csv_path.exists():
            print(f"writing {csv_path} ...", file=sys.stderr)
            make_csv(csv_path, args.rows)
        if not parquet_path.exists():
            print(f"writing {parquet_path} ...", file=sys.stderr)
            make_parquet(csv_path, parquet_path)
        return
    result = run(args.rows, args.small, args.repeat, work)
    print(report(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
