"""Produce records with a real Python Kafka client and report where each one landed.

The protocol shared by every program under ``tests/clients/`` (Java, Go, Node, Python):

* stdin: one JSON job, ``{"bootstrap": "host:port", "runs": [run, ...]}``. A run is
  ``{"topic", "client", "partitioner", "config": {name: value}, "keys": [hex or null] or
  null, "count", "value_size", "rate"}``: ``keys`` null means ``count`` null-key records;
  ``rate`` is records per second (0: as fast as the client takes them); ``warmup`` true
  (confluent-kafka only) first sends one untimed, unreported record and waits for its
  delivery, so the timed records start after librdkafka's cold start; ``trace`` true
  (confluent-kafka only) turns on librdkafka's ``topic`` debug log and reports when the
  topic's partitions joined their leader's broker thread. Each run uses a new producer.
* stdout: JSON lines. First ``{"client", "version"}`` (the library's real version), then
  one ``{"run", "i", "t_us", "p"}`` per record: its index, when ``send`` was called
  (microseconds after the producer was created) and the partition from its delivery report.
  Where a client tells, a record also carries ``b``, the batch it travelled in (batches
  numbered in the order of their first record), and ``ms``, its timestamp in the client's own
  millisecond clock (Java and kafka-python). A traced run ends with one
  ``{"run", "joined_before": {partition: record}}`` line: per partition, the first record
  produced after librdkafka's own ``TOPBRK ... joining broker`` log line for it.

Clients here: ``confluent-kafka`` (``partitioner`` is librdkafka's setting; ``config`` goes
to librdkafka as is) and ``kafka-python`` (its default partitioner; ``config`` is
``KafkaProducer`` keyword arguments).
"""

from __future__ import annotations

import json
import os
import re
import sys
import tempfile
import time


def schedule(rate: float):
    """Wait until record ``i``'s send time (``i / rate`` after the first record), spinning
    for the last millisecond so that sub-millisecond gaps are kept."""
    start = time.perf_counter_ns()
    gap_ns = 1e9 / rate if rate else 0.0

    def wait(i: int) -> None:
        if not gap_ns:
            return
        due = start + int(i * gap_ns)
        while True:
            left = due - time.perf_counter_ns()
            if left <= 0:
                return
            if left > 2_000_000:
                time.sleep((left - 1_000_000) / 1e9)

    return wait


def records(run: dict) -> list[bytes | None]:
    if run.get("keys") is None:
        return [None] * int(run["count"])
    return [None if key is None else bytes.fromhex(key) for key in run["keys"]]


def value(run: dict) -> bytes:
    return b"v" * int(run.get("value_size", 100))


def run_confluent(bootstrap: str, index: int, run: dict) -> None:
    from confluent_kafka import Producer

    conf = {"bootstrap.servers": bootstrap, "message.timeout.ms": 60000}
    if run.get("partitioner"):
        conf["partitioner"] = run["partitioner"]
    conf.update({name: str(setting) for name, setting in run.get("config", {}).items()})
    keys = records(run)
    payload = value(run)
    partitions: list[int] = [-1] * len(keys)
    errors: list[str] = []

    def report(i: int):
        def on_delivery(err, msg) -> None:
            if err is not None:
                errors.append(f"record {i}: {err}")
            else:
                partitions[i] = msg.partition()

        return on_delivery

    trace = None
    if run.get("trace"):
        conf["debug"] = "topic"
        trace = _StderrCapture()
    created = time.perf_counter_ns()
    producer = Producer(conf)
    if run.get("warmup"):
        producer.produce(run["topic"], value=payload)
        if producer.flush(60) != 0:
            errors.append("the warm-up record was not delivered")
    wait = schedule(float(run.get("rate", 0)))
    sent: list[int] = []
    returned: list[int] = []  # when produce() returned: librdkafka read its clock in between
    for i, key in enumerate(keys):
        wait(i)
        sent.append(time.perf_counter_ns())
        if trace is not None:
            trace.mark(i)
        while True:
            try:
                producer.produce(run["topic"], value=payload, key=key, on_delivery=report(i))
                break
            except BufferError:
                producer.poll(0.01)
        returned.append(time.perf_counter_ns())
        producer.poll(0)
    if producer.flush(60) != 0:
        errors.append("flush timed out")
    del producer  # librdkafka's threads stop (and stop logging) before the capture ends
    emit(index, created, sent, partitions, errors, returned=returned)
    if trace is not None:
        joined = trace.joined(run["topic"])
        print(json.dumps({"run": index, "joined_before": joined}), flush=True)


class _StderrCapture:
    """librdkafka's log lines (written to file descriptor 2 by its own threads), captured
    into a temporary file, with a mark line written just before each record is produced:
    the order of the lines in the file says which records came after a partition joined its
    broker thread (the log's own timestamps have only millisecond resolution)."""

    def __init__(self) -> None:
        sys.stderr.flush()
        self._saved = os.dup(2)
        self._file = tempfile.TemporaryFile()  # noqa: SIM115 (closed by joined())
        os.dup2(self._file.fileno(), 2)

    def mark(self, index: int) -> None:
        os.write(2, b"partsim-record %d\n" % index)

    def joined(self, topic: str) -> dict[int, int]:
        """Per partition, the first record produced after its ``joining broker`` log line:
        records before it were partitioned while it had not joined."""
        os.dup2(self._saved, 2)
        os.close(self._saved)
        self._file.seek(0)
        text = self._file.read().decode("utf-8", "replace")
        self._file.close()
        joining = re.compile(
            r"\|TOPBRK\|.*Topic " + re.escape(topic) + r" \[(\d+)\]: joining broker"
        )
        first: dict[int, int] = {}
        produced = -1
        for line in text.splitlines():
            if line.startswith("partsim-record "):
                produced = int(line.split()[1])
            elif (found := joining.search(line)) is not None:
                first.setdefault(int(found.group(1)), produced + 1)
        return first


def run_kafka_python(bootstrap: str, index: int, run: dict) -> None:
    from kafka import KafkaProducer

    keys = records(run)
    payload = value(run)
    created = time.perf_counter_ns()
    config = {name: _setting(given) for name, given in run.get("config", {}).items()}
    producer = KafkaProducer(bootstrap_servers=bootstrap, **config)
    # The first send blocks until the topic's metadata is known; fetch it first so that
    # send times measure the schedule, not the metadata round trip.
    producer.partitions_for(run["topic"])
    wait = schedule(float(run.get("rate", 0)))
    sent: list[int] = []
    futures = []
    for i, key in enumerate(keys):
        wait(i)
        sent.append(time.perf_counter_ns())
        futures.append(producer.send(run["topic"], key=key, value=payload))
    producer.flush(60)
    errors: list[str] = []
    partitions = []
    stamps = []
    for i, future in enumerate(futures):
        try:
            metadata = future.get(timeout=60)
        except Exception as exc:
            errors.append(f"record {i}: {exc}")
            partitions.append(-1)
            stamps.append(-1)
        else:
            partitions.append(metadata.partition)
            stamps.append(metadata.timestamp)
    producer.close(5)
    emit(index, created, sent, partitions, errors, batches=batch_numbers(futures), stamps=stamps)


def batch_numbers(futures) -> list[int]:
    """kafka-python: the records of one batch share the future of its produce request
    (``FutureRecordMetadata._produce_future``); batches numbered in send order, -1 when this
    version does not tell."""
    seen: dict[int, int] = {}
    numbers = []
    for future in futures:
        batch = getattr(future, "_produce_future", None)
        if batch is None:
            return [-1] * len(futures)
        numbers.append(seen.setdefault(id(batch), len(seen)))
    return numbers


def _setting(given: object) -> object:
    """A ``KafkaProducer`` keyword argument from the job: whole numbers as ints, ``true`` and
    ``false`` (any case) as booleans."""
    if isinstance(given, str) and given.lstrip("-").isdigit():
        return int(given)
    if isinstance(given, str) and given.lower() in {"true", "false"}:
        return given.lower() == "true"
    return given


def emit(
    index: int,
    created: int,
    sent: list[int],
    partitions: list[int],
    errors,
    *,
    batches: list[int] | None = None,
    stamps: list[int] | None = None,
    returned: list[int] | None = None,
) -> None:
    if errors:
        raise SystemExit(f"run {index}: {len(errors)} records failed: {errors[:3]}")
    out = sys.stdout
    for i, (when, partition) in enumerate(zip(sent, partitions, strict=True)):
        line = {"run": index, "i": i, "t_us": (when - created) // 1000, "p": partition}
        if batches is not None:
            line["b"] = batches[i]
        if stamps is not None:
            line["ms"] = stamps[i]
        if returned is not None:
            line["r_us"] = (returned[i] - created) // 1000
        out.write(json.dumps(line))
        out.write("\n")
    out.flush()


def main() -> None:
    job = json.load(sys.stdin)
    clients = {run["client"] for run in job["runs"]}
    if len(clients) != 1:
        raise SystemExit(f"one client per job; got {sorted(clients)}")
    (client,) = clients
    if client == "confluent-kafka":
        import confluent_kafka

        version = f"{confluent_kafka.version()[0]} (librdkafka {confluent_kafka.libversion()[0]})"
        runner = run_confluent
    elif client == "kafka-python":
        import kafka

        version, runner = kafka.__version__, run_kafka_python
    else:
        raise SystemExit(f"unknown client {client!r}")
    print(json.dumps({"client": client, "version": version}), flush=True)
    for index, run in enumerate(job["runs"]):
        runner(job["bootstrap"], index, run)


if __name__ == "__main__":
    main()
