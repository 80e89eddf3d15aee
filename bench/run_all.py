"""Run every benchmark and print the README's benchmark section: ``python -m bench.run_all``.

Each benchmark runs in its own process and measures its baselines in the same run (the
machines are shared and noisy: ratios, not absolute times, are the figures to compare):

- ``bench_hash``: partsim's hashing (1 thread, every core, the numpy kernels) against the
  ``confluent_kafka.murmur2`` loop, kafka-python's ``murmur2`` and Java's ``Utils.murmur2``
  (when a JDK is there), best of the same number of passes each;
- ``bench_analyze``: ``partsim analyze --out`` against the read-and-count floor
  (``pyarrow.csv.read_csv`` + ``value_counts``) with CPU time, busy share and peak RSS, and
  the time of each stage alone (start-up, parsing and key counting in C against Arrow,
  ``finish()``);
- ``bench_scale``: every command (analyze, analyze --order-by, whatif, a 2 x 2 x 3 sweep,
  simulate) at 50M and 10M events, ``analyze --out`` from CSV and Parquet, exact and
  sketched keys, and the Dask engine against the local one, with peak memory summed over
  processes and issue 15's targets checked;
- ``bench_sample``: sampling a live topic against a bare confluent-kafka loop (it starts
  its own broker), and the reading process's start-up;
- ``bench_hostile``: peak memory of ``partsim analyze`` on rows of 4 KiB and on long
  distinct keys (16 KB each), against the same rows without the payload.
- ``bench_avro_keys``: ``analyze`` with an Avro ``"string"`` key against the same run with
  ``--key-format string`` (issue 17's target: at least 0.7x its speed), on
  ``bench_analyze``'s CSV.

It prints the Markdown that goes between the README's ``<!-- run_all: begin -->`` and
``<!-- run_all: end -->`` lines: every benchmark figure the README quotes, with the date,
the machine, the load and the commit. ``--readme README.md`` puts it there itself;
``--markdown FILE`` also writes it to FILE. ``--quick`` runs small workloads to check that
everything runs (its figures are marked and are not for the README). ``--workdir`` keeps the
generated inputs between runs (a few minutes to write at full size).

    python -m bench.run_all [--quick] [--workdir DIR] [--readme README.md] [--markdown FILE]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BEGIN = "<!-- run_all: begin -->"
END = "<!-- run_all: end -->"


def run(module: str, *args: str, work: Path) -> dict:
    """``python -m bench.MODULE ARGS --json FILE``; its figures."""
    out = work / f"{module}.json"
    command = [sys.executable, "-m", f"bench.{module}", *args, "--json", str(out)]
    print(f"$ {' '.join(command[1:])}", file=sys.stderr, flush=True)
    subprocess.run(command, check=True, cwd=ROOT, stdout=sys.stderr)
    return json.loads(out.read_text())


def _millions(rate: float) -> str:
    return f"{rate / 1e6:.1f}M" if rate >= 1e6 else f"{rate / 1e6:.2f}M"


def hashing_section(hashing: dict) -> list[str]:
    rates = hashing["keys_per_second"]
    one = rates["partsim 1 thread"]
    lines = [
        f"`bench_hash`: {hashing['workload']}; best of {hashing.get('repeat', '?')} passes each "
        f"(kafka-python on the first {hashing.get('kafka_python_keys', 0):,} keys). Every answer "
        "is checked against confluent-kafka.",
        "",
        "| what | keys/s | ratio |",
        "|---|---:|---|",
    ]
    for name, rate in rates.items():
        if name == "partsim 1 thread":
            relation = ""
        elif name.startswith("partsim") and "numpy" not in name:
            relation = f"{rate / one:.2f}x the 1-thread rate"
        elif name.startswith("partsim"):
            relation = f"the C kernel, 1 thread, is {one / rate:.1f}x as fast"
        else:
            relation = f"partsim, 1 thread, is {one / rate:.1f}x as fast"
        lines.append(f"| {name} | {_millions(rate)} | {relation} |")
    return lines


def analyze_section(analyze: dict) -> list[str]:
    from bench.bench_analyze import report

    return [
        "`bench_analyze`: `partsim analyze --size --timestamp --out` (48 partitions, every "
        "output file) against the floor, each a whole process:",
        "",
        report(analyze),
    ]


def scale_section(scale: dict) -> list[str]:
    """bench_scale's own report: every case's median time, range and memory, and issue
    15's targets, each with whether it holds."""
    from bench.bench_scale import report

    return [
        "`bench_scale`: every command (`analyze`, `analyze --order-by`, `whatif`, `sweep`, "
        "`simulate`), each case a whole `python -m partsim` process run "
        f"{scale.get('repeat', '?')} times, at {scale.get('rows', 0):,} and "
        f"{scale.get('small_rows', 0):,} events:",
        "",
        report(scale),
    ]


def sample_section(sample: dict) -> list[str]:
    best, records = sample["best_s"], sample["records"]
    labels = {"bare": "bare loop, librdkafka defaults",
              "bare_tuned": "bare loop, with partsim's fetch settings",
              "partsim": "`partsim.live.sample_topic`"}  # fmt: skip
    lines = [
        f"`bench_sample`: {records:,} records over {sample['partitions']} partitions of a local "
        f"broker, read whole; best of {sample.get('repeat', '?')} passes each, taken in turn:",
        "",
        "| reader | records/s | seconds |",
        "|---|---:|---:|",
    ]
    for name, label in labels.items():
        lines.append(f"| {label} | {records / best[name]:,.0f} | {best[name]:.3f} |")
    lines += ["", f"sampling / the faster bare loop: {sample['ratio']:.2f}x the time"]
    if "reader_start_s" in sample:
        lines.append(
            f"starting the reading process alone (interpreter and its imports): "
            f"{sample['reader_start_s']:.3f} s"
        )
    return lines


def hostile_section(hostile: dict) -> list[str]:
    from bench.bench_hostile import table

    return [
        f"`bench_hostile`: `partsim analyze --json` on {hostile['rows']:,} rows of 4 KiB "
        f"(gzip) and {hostile['long_keys']:,} distinct keys of 16 KB (zstd), each one process; "
        "peak RSS by `wait4`:",
        "",
        *table(hostile["runs"]),
    ]


def avro_section(avro: dict) -> list[str]:
    sides, ratio = avro["sides"], avro["speed_ratio"]
    lines = [
        f"`bench_avro_keys`: `partsim analyze --key customer_id -p 12 --json` on {avro['rows']:,} "
        f"rows, each side {avro['repeat']} times, alternating:",
        "",
        "| key | wall best s | wall median s | CPU best s |",
        "|---|---:|---:|---:|",
    ]
    for side, label in (
        ("string", "`--key-format string`"),
        ("avro", "`--key-format avro --key-schema '\"string\"' --schema-id 7`"),
    ):
        row = sides[side]
        lines.append(
            f"| {label} | {row['best_s']:.2f} | {row['median_s']:.2f} | {row['cpu_best_s']:.2f} |"
        )
    lines += [
        "",
        f"Avro speed / string speed: wall best {ratio['wall_best']:.2f}x, median "
        f"{ratio['wall_median']:.2f}x, CPU best {ratio['cpu_best']:.2f}x (target: 0.70x)",
    ]
    return lines


def summary_table(hashing: dict, analyze: dict, scale: dict, sample: dict) -> list[str]:
    rates = hashing["keys_per_second"]
    one = rates["partsim 1 thread"]
    lines = ["| benchmark | partsim | baseline (same run) | ratio |", "|---|---:|---|---:|"]
    for name, rate in rates.items():
        if not name.startswith("partsim"):
            lines.append(f"| hash keys/s, 1 thread | {_millions(one)} | {name}: "
                         f"{_millions(rate)} | {one / rate:.1f}x its speed |")  # fmt: skip
    ours, floor = analyze["partsim"], analyze["floor"]
    lines.append(
        f"| analyze {analyze['rows']:,} CSV rows `--out` | {ours['seconds']:.2f} s, CPU "
        f"{ours['cpu_seconds']:.1f} s, peak RSS {ours['peak_rss_mib']:,} MiB | `read_csv` + "
        f"`value_counts`: {floor['seconds']:.2f} s, CPU {floor['cpu_seconds']:.1f} s, peak RSS "
        f"{floor['peak_rss_mib']:,} MiB | {analyze['ratio']:.2f}x the floor's time |"
    )
    for check in scale.get("checks", []):  # issue 15's ratios: a command against analyze
        if "ratio" in check:
            case, baseline = scale["cases"][check["case"]], scale["cases"][check["baseline"]]
            lines.append(
                f"| {scale['rows'] / 1e6:g}M events, `{check['case']}` | {case['seconds']:.1f} s"
                f" | `{check['baseline']}`: {baseline['seconds']:.1f} s | {check['ratio']:.2f}x"
                f" its time (target <= {check['most']}x) |"
            )
    if "dask_over_local" in scale:
        lines.append(
            f"| {scale['rows'] / 1e6:g}M events, `--engine dask` (local cluster) | | "
            f"local engine, same run | {scale['dask_over_local']:.2f}x local's time |"
        )
    bare = min(sample["best_s"]["bare"], sample["best_s"]["bare_tuned"])
    lines.append(
        f"| sample {sample['records']:,} records from a live topic | "
        f"{sample['best_s']['partsim']:.2f} s | bare confluent-kafka loop: {bare:.2f} s | "
        f"{sample['ratio']:.2f}x the loop's time |"
    )
    return lines


def _commit() -> str:
    try:
        done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                              capture_output=True, text=True, check=True)  # fmt: skip
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=ROOT, capture_output=True, text=True).stdout.strip()  # fmt: skip
        return done.stdout.strip() + (" with local changes" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown commit"


def section(figures: dict, *, quick: bool, loads: tuple, started: float) -> str:
    hashing, analyze, scale, sample, hostile = (
        figures[name] for name in ("hash", "analyze", "scale", "sample", "hostile")
    )
    today = datetime.datetime.now(datetime.timezone.utc).date().isoformat()
    head = (
        f"Measured by `python -m bench.run_all{' --quick' if quick else ''}` on {today}: "
        f"{hashing['machine']}, Python {hashing['python']}, partsim {_commit()}; load average "
        f"{loads[0]:.1f} at the start and {loads[1]:.1f} at the end "
        f"({(time.monotonic() - started) / 60:.0f} min in all)."
    )
    if quick:
        head += " **QUICK run: small workloads, to check that the benchmarks run; not figures.**"
    parts = [
        [head],
        summary_table(hashing, analyze, scale, sample),
        hashing_section(hashing),
        analyze_section(analyze),
        scale_section(scale),
        sample_section(sample),
        hostile_section(hostile),
    ]
    if "avro" in figures:
        parts.append(avro_section(figures["avro"]))
    return "\n\n".join("\n".join(part) for part in parts) + "\n"


def paste(readme: Path, text: str) -> None:
    """Put ``text`` between the README's run_all markers."""
    content = readme.read_text()
    pattern = re.compile(re.escape(BEGIN) + r"\n.*?" + re.escape(END), re.S)
    if not pattern.search(content):
        raise SystemExit(f"{readme} has no {BEGIN} ... {END} lines")
    readme.write_text(pattern.sub(lambda _: f"{BEGIN}\n{text}{END}", content))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--markdown", type=Path, default=None)
    parser.add_argument("--readme", type=Path, default=None)
    args = parser.parse_args()
    started = time.monotonic()
    load_start = os.getloadavg()[0]
    work = args.workdir or Path(tempfile.mkdtemp(prefix="partsim-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    rows, scale_rows, scale_small, keys = (
        (1_000_000, 1_000_000, 200_000, 2_000_000)
        if args.quick
        else (10_000_000, 50_000_000, 10_000_000, 10_000_000)
    )
    wide_rows, long_keys = (100_000, 20_000) if args.quick else (1_000_000, 300_000)
    repeat = "2" if args.quick else "5"
    scale_args = ("--rows", str(scale_rows), "--small", str(scale_small), "--repeat",
                  "2" if args.quick else "3", "--workdir", str(work))  # fmt: skip
    sized = ("--rows", str(rows), "--repeat", repeat, "--workdir", str(work))
    figures = {
        "hash": run("bench_hash", "--keys", str(keys), "--repeat", repeat, work=work),
        "analyze": run("bench_analyze", *sized, work=work),
        "scale": run("bench_scale", *scale_args, work=work),
        "sample": run("bench_sample", "--repeat", repeat, work=work),
        "hostile": run(
            "bench_hostile",
            "--rows",
            str(wide_rows),
            "--long-keys",
            str(long_keys),
            "--workdir",
            str(work),
            work=work,
        ),
        "avro": run("bench_avro_keys", *sized, work=work),
    }
    text = section(figures, quick=args.quick, loads=(load_start, os.getloadavg()[0]),
                   started=started)  # fmt: skip
    print(text, end="")
    if args.markdown:
        args.markdown.write_text(text)
    if args.readme:
        if args.quick:
            raise SystemExit("a --quick run's figures do not go into the README")
        paste(args.readme, text)
        print(f"pasted into {args.readme}", file=sys.stderr)


if __name__ == "__main__":
    main()
