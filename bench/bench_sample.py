"""Benchmark: ``partsim.live.sample_topic`` against a bare confluent-kafka consume loop.

Workload (issue 5): an Apache Kafka broker started here as the tests start it (``--broker
tansu`` for Tansu with memory storage, ``--bootstrap`` for another broker), one topic of
``--records`` records over ``--partitions`` partitions (keys ``user-<n>``, 100-byte values),
produced with confluent-kafka.
Each pass reads the whole topic, in the same run:

- the bare loop: ``Consumer.assign()`` of every partition from the beginning, then
  ``consume(1000)`` until every partition has reported its end; each message's ``error()`` is
  checked and nothing is kept (the least work a reader can do). It runs twice: with
  librdkafka's default fetch settings, and the way partsim reads: its fetch settings
  (``fetch.wait.max.ms=100``, ``fetch.queue.backoff.ms=10``) and a metadata request before
  ``assign()``, so that fetching starts on a connected client;
- partsim: ``sample_topic(max_messages=10 x the topic)``, which keeps every record's key,
  partition, offset, timestamp, sizes and headers and returns them as an Arrow table.

Each figure is the best of ``--repeat`` passes, taken in turn (the machines are shared and
noisy). The issue's bar: partsim within 2x of the faster bare loop. Also measured, best of
``--repeat``: what starting ``sample_topic``'s reading process costs on its own (a Python
interpreter importing ``partsim._live_reader`` and confluent-kafka, without numpy and
pyarrow, as ``partsim.live`` starts it).

    python bench/bench_sample.py [--records 200000] [--partitions 12] [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # `tests` when run as a script

from partsim import live
from tests import broker

#: partsim's fetch settings (see partsim.live._consumer).
PARTSIM_FETCH = {"fetch.wait.max.ms": 100, "fetch.queue.backoff.ms": 10}


def bare_loop(bootstrap: str, topic: str, partitions: int, settings: dict) -> int:
    """Read every record of ``topic`` with nothing but a consume loop; returns the count."""
    from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, TopicPartition

    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"bench-bare-{uuid.uuid4()}",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
            **settings,
        }
    )
    if settings:  # as partsim does: connect and learn the leaders before assigning
        consumer.list_topics(timeout=10)
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(partitions)])
    finished: set[int] = set()
    count = 0
    eof = KafkaError._PARTITION_EOF
    try:
        while len(finished) < partitions:
            for message in consumer.consume(num_messages=1000, timeout=0.1):
                error = message.error()
                if error is None:
                    count += 1
                elif error.code() == eof:
                    finished.add(message.partition())
                else:
                    raise RuntimeError(error.str())
    finally:
        consumer.close()
    return count


def partsim_sample(bootstrap: str, topic: str, records: int) -> int:
    sample = live.sample_topic(bootstrap, topic, max_messages=10 * records)
    assert not sample.partial, sample.reason
    return sample.records


def reader_start_seconds(repeat: int) -> float:
    """Best wall time of a bare start of the reading process: the interpreter and the
    imports ``partsim.live``'s reader program makes (under a bare ``partsim`` package)."""
    import subprocess

    import partsim

    program = (
        "import json, signal, sys, types; "
        "package = sys.modules['partsim'] = types.ModuleType('partsim'); "
        f"package.__path__ = [{str(Path(partsim.__file__).parent)!r}]; "
        "import partsim._live_reader, confluent_kafka"
    )
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", program], check=True)
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--partitions", type=int, default=12)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--bootstrap", default=None, help="use this broker instead of one here")
    parser.add_argument("--broker", choices=("kafka", "tansu"), default="kafka",
                        help="the broker to start: Apache Kafka (default) or Tansu")  # fmt: skip
    parser.add_argument("--json", default=None, help="also write the figures to this file")
    args = parser.parse_args()

    process = None
    if args.bootstrap is None and args.broker == "kafka":
        process = broker.start_kafka(Path(tempfile.mkdtemp(prefix="partsim-bench-kafka-")))
        bootstrap, stop = process.bootstrap, process.stop
    elif args.bootstrap is None:
        log = Path(tempfile.mkstemp(prefix="partsim-bench-tansu-", suffix=".log")[1])
        process = broker.start_tansu(log)
        bootstrap, stop = process.bootstrap, lambda: broker.stop_broker(process)
    else:
        bootstrap = args.bootstrap
    try:
        topic = broker.unique_topic("bench-sample")
        broker.create_topic(bootstrap, topic, args.partitions)
        started = time.perf_counter()
        keys = [f"user-{i % 50_000}".encode() for i in range(args.records)]
        broker.produce(bootstrap, topic, keys, {"linger.ms": 20, "batch.num.messages": 10_000})
        print(f"produced {args.records:,} records to {args.partitions} partitions in "
              f"{time.perf_counter() - started:.1f} s")  # fmt: skip

        timings: dict[str, list[float]] = {"bare": [], "bare_tuned": [], "partsim": []}
        for _ in range(args.repeat):
            for name, read in (
                ("bare", lambda: bare_loop(bootstrap, topic, args.partitions, {})),
                ("bare_tuned", lambda: bare_loop(bootstrap, topic, args.partitions, PARTSIM_FETCH)),
                ("partsim", lambda: partsim_sample(bootstrap, topic, args.records)),
            ):
                started = time.perf_counter()
                count = read()
                timings[name].append(time.perf_counter() - started)
                assert count == args.records, f"{name} read {count:,} of {args.records:,}"
    finally:
        if process is not None:
            stop()

    best = {name: min(values) for name, values in timings.items()}
    reader_start = reader_start_seconds(args.repeat)
    bare, ours = min(best["bare"], best["bare_tuned"]), best["partsim"]
    ratio = ours / bare
    labels = {"bare": "bare loop, librdkafka defaults", "bare_tuned": "bare loop, partsim's fetch "
              "settings", "partsim": "partsim.live.sample_topic"}  # fmt: skip
    for name, label in labels.items():
        print(f"{label:<40} {args.records / best[name]:>10,.0f} records/s ({best[name]:.3f} s)")
    print(f"partsim takes {ratio:.2f}x the faster bare loop's time (issue bar: <= 2x); best of "
          f"{args.repeat} passes each")  # fmt: skip
    print(f"starting the reading process alone: {reader_start:.3f} s (best of {args.repeat})")
    if args.json:
        figures = {"records": args.records, "partitions": args.partitions, "best_s": best,
                   "ratio": ratio, "timings": timings, "repeat": args.repeat,
                   "reader_start_s": reader_start}  # fmt: skip
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
