"""Benchmark: partsim.assign against what a user would otherwise run, in the same run.

Workload (issue 2): 10M ``user-<int>`` keys (10-16 bytes) held as a pyarrow string column,
``partsim.assign(keys, 12, partitioner="java")``. Baselines measured here, now:

- ``[confluent_kafka.murmur2(k, 12) for k in keys]`` over pre-encoded bytes (librdkafka's C
  murmur2 in a Python loop);
- kafka-python's ``murmur2`` on a subset (pure Python), scaled to keys/s;
- Kafka's ``Utils.murmur2`` in a warm JVM, if ``javac`` is on the PATH.

Every figure, partsim's and each baseline's, is the best of ``--repeat`` timed passes over
the same keys (the machines are shared and noisy): one statistic and one pass count for all.
partsim is measured on one thread (``PARTSIM_THREADS=1``), on every usable core, and with its
numpy kernels (``PARTSIM_KERNELS=numpy``, the fallback where no compiler is available: in a
child process, which picks its kernels at import); its answers are checked against
confluent-kafka's on every key.

    python bench/bench_hash.py [--keys 10000000] [--repeat 5] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

import partsim
from partsim.hashing import default_threads, kernel_backend


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def best_of(repeat: int, action, *, warm_up: bool = False) -> float:
    """The fastest of ``repeat`` timed calls (after one untimed call with ``warm_up``, which
    pays for lazy imports once)."""
    if warm_up:
        action()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return min(times)


def make_keys(count: int, seed: int = 1) -> pa.Array:
    ids = np.random.default_rng(seed).integers(10**4, 10**11, size=count)  # 10-16 bytes
    return pa.array([f"user-{i}" for i in ids.tolist()], type=pa.string())


def java_rate(keys: list[str], passes: int) -> float | None:
    javac, java = shutil.which("javac"), shutil.which("java")
    if not (javac and java):
        return None
    source = Path(__file__).parent / "java" / "Murmur2Bench.java"
    with tempfile.TemporaryDirectory() as work:
        subprocess.run([javac, "-d", work, str(source)], check=True)
        key_file = Path(work) / "keys.txt"
        key_file.write_text("\n".join(keys) + "\n", encoding="utf-8")
        done = subprocess.run(
            [java, "-Xmx4g", "-cp", work, "Murmur2Bench", str(key_file), str(passes)],
            check=True, capture_output=True, text=True,
        )  # fmt: skip
    return float(done.stdout.split()[0])


def numpy_kernels_rate(count: int, repeat: int) -> float | None:
    """partsim's keys/s on one thread with its numpy kernels, measured in a child process."""
    env = {**os.environ, "PARTSIM_KERNELS": "numpy", "PARTSIM_THREADS": "1"}
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        subprocess.run(
            [sys.executable, "-m", "bench.bench_hash", "--partsim-only", "--keys", str(count),
             "--repeat", str(repeat), "--json", out.name],
            check=True, env=env, cwd=Path(__file__).resolve().parents[1],
        )  # fmt: skip
        figures = json.loads(Path(out.name).read_text())
    return figures["rate"] if figures["kernel"] == "numpy" else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--kafka-python-keys", type=int, default=200_000)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--no-java", action="store_true")
    parser.add_argument("--partsim-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.partsim_only:  # the child that measures the numpy kernels
        keys = make_keys(args.keys)
        partsim.assign(keys[:1000], 12)  # warm-up
        rate = args.keys / best_of(args.repeat, lambda: partsim.assign(keys, 12))
        args.json.write_text(json.dumps({"kernel": kernel_backend(), "rate": rate}))
        return

    import confluent_kafka
    from kafka.partitioner.default import murmur2 as kafka_python_murmur2

    keys = make_keys(args.keys)
    lengths = np.asarray(pc.binary_length(keys))
    encoded = [key.encode() for key in keys.to_pylist()]
    rates: dict[str, float] = {}

    threads = int(os.environ.get("PARTSIM_THREADS") or default_threads())
    os.environ["PARTSIM_THREADS"] = "1"
    partsim.assign(keys[:1000], 12)  # warm-up
    rates["partsim 1 thread"] = args.keys / best_of(args.repeat, lambda: partsim.assign(keys, 12))
    os.environ["PARTSIM_THREADS"] = str(threads)
    rates[f"partsim {threads} threads"] = args.keys / best_of(
        args.repeat, lambda: partsim.assign(keys, 12)
    )
    got = partsim.assign(keys, 12)
    numpy_rate = numpy_kernels_rate(args.keys, args.repeat)
    if numpy_rate is not None:
        rates["partsim numpy kernels, 1 thread"] = numpy_rate

    loop_time = best_of(args.repeat, lambda: [confluent_kafka.murmur2(k, 12) for k in encoded])
    rates["confluent_kafka.murmur2 loop"] = args.keys / loop_time
    expected = np.fromiter((confluent_kafka.murmur2(k, 12) for k in encoded), np.int32)
    assert np.array_equal(got, expected), "partsim disagrees with confluent_kafka.murmur2"

    subset = encoded[: args.kafka_python_keys]
    rates["kafka-python murmur2"] = len(subset) / best_of(
        args.repeat, lambda: [(kafka_python_murmur2(k) & 0x7FFFFFFF) % 12 for k in subset]
    )
    if not args.no_java:
        java = java_rate(keys.to_pylist(), args.repeat)
        if java is not None:
            rates["Java Utils.murmur2 (warm JIT, 1 thread)"] = java

    one = rates["partsim 1 thread"]
    result = {
        "repeat": args.repeat,
        "kafka_python_keys": len(subset),
        "threads": threads,
        "workload": f"{args.keys:,} user-<int> keys, {lengths.min()}-{lengths.max()} bytes "
        f"(mean {lengths.mean():.1f}), pyarrow string column, assign(keys, 12, 'java')",
        "kernel": kernel_backend(),
        "machine": f"{cpu_model()} ({platform.machine()}), {os.cpu_count()} cores",
        "python": platform.python_version(),
        "keys_per_second": {name: round(rate) for name, rate in rates.items()},
        "ratios": {
            "partsim 1 thread / confluent_kafka.murmur2 loop": one
            / rates["confluent_kafka.murmur2 loop"],
            "partsim 1 thread / kafka-python murmur2": one / rates["kafka-python murmur2"],
        },
    }
    if "Java Utils.murmur2 (warm JIT, 1 thread)" in rates:
        java = rates["Java Utils.murmur2 (warm JIT, 1 thread)"]
        result["ratios"]["partsim 1 thread / Java"] = one / java
        result["ratios"][f"partsim {threads} threads / Java"] = (
            rates[f"partsim {threads} threads"] / java
        )
    print(f"workload: {result['workload']}\nkernel: {result['kernel']}; {result['machine']}")
    print(f"\n| {'baseline':<42} | {'keys/s':>14} |\n|{'-' * 44}|{'-' * 16}|")
    for name, rate in rates.items():
        print(f"| {name:<42} | {rate / 1e6:>12.1f}M |")
    print()
    for name, ratio in result["ratios"].items():
        print(f"{name}: {ratio:.1f}x")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
