"""Live faults: the topic deleted, the broker stopped and restarted, paused or killed, or the
Kafka client crashed or hung while ``partsim sample`` reads.

Each CLI test starts ``partsim sample`` in a subprocess on a topic made slow to read (the
``SLOW`` librdkafka settings and one record per batch, as in ``tests/test_live.py``), waits for
the ``sampling ...`` status line, injects the fault, and checks the outcome: either a whole
sample (the fault was survived), or one clear ``Error:`` line, exit 1 within ``--timeout``, no
traceback, and the output either absent or a valid Parquet sample marked partial. The broker
faults act on the session's Apache Kafka through ``kafka_restartable`` (which brings it back
after the test); the client faults signal the reading process that ``sample_topic`` runs
librdkafka in (Linux: found through ``/proc``). One test runs on Tansu, for the crash it makes.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from partsim import live
from tests import broker
from tests.test_live import ROOT, SLOW, produce_single_batches

#: Far more than can be read before the fault at SLOW speed (one fetch per 200 ms), even if the
#: broker packs several records per batch under load: the fault must land mid-sample.
RECORDS = 3000


def start_sampling(
    bootstrap: str, topic: str, out: Path, timeout: float = 5, settle: float = 1.0
) -> subprocess.Popen[str]:
    """``partsim sample --timeout T`` on ``topic``, returned ``settle`` seconds after its
    status line (reading has started) is out."""
    properties = [arg for name, value in SLOW.items() for arg in ("-X", f"{name}={value}")]
    process = subprocess.Popen(
        [sys.executable, "-m", "partsim", "sample", "--bootstrap", bootstrap, "--topic", topic,
         "--timeout", f"{timeout:g}", "-o", str(out), *properties],
        stderr=subprocess.PIPE, text=True, cwd=ROOT,
    )  # fmt: skip
    first = process.stderr.readline()  # the status line: reading has started
    assert first.startswith(f"sampling {topic}"), first
    time.sleep(settle)  # some records read, most still to come
    return process


def finish(process: subprocess.Popen[str], limit: float = 20) -> tuple[int, str, float]:
    """Wait for partsim: its exit code, the rest of its stderr and the seconds it took."""
    started = time.monotonic()
    try:
        rest = process.stderr.read()
        code = process.wait(timeout=limit)
    finally:
        process.kill()
    return code, rest, time.monotonic() - started


def check_outcome(
    code: int, rest: str, out: Path, topic: str, records: int = RECORDS
) -> dict | None:
    """One ``Error:`` line, exit 1, no traceback; the file absent or a valid partial sample.
    Returns the sample's facts, or None when no file was written."""
    assert code == 1, f"exit {code} (a negative code is a signal: -11 is SIGSEGV)\n{rest}"
    assert "Traceback" not in rest, rest
    errors = [line for line in rest.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, rest
    if not out.exists():
        return None
    table = pq.read_table(out)
    facts = json.loads(table.schema.metadata[live.METADATA_KEY])
    assert facts["topic"] == topic
    assert facts["partial"] is True and facts["stopped_by"] == "stall", facts
    assert facts["reason"] and facts["reason"] in errors[0], (facts, errors)
    assert 0 < table.num_rows < records and facts["records"] == table.num_rows
    assert table.column("offset").to_pylist() == list(range(table.num_rows))
    assert errors[0] == f"Error: partial sample: {facts['reason']}"
    assert f"wrote {out}: {table.num_rows:,} records of {topic} (1 partitions) - PARTIAL" in rest
    return facts


def check_whole(code: int, rest: str, out: Path, topic: str, records: int) -> None:
    """Exit 0 and every record of the one-partition topic exactly once, in offset order."""
    assert code == 0, rest
    assert "Traceback" not in rest and "Error" not in rest, rest
    table = pq.read_table(out)
    facts = json.loads(table.schema.metadata[live.METADATA_KEY])
    assert facts["topic"] == topic and facts["partial"] is False, facts
    assert table.column("offset").to_pylist() == list(range(records))


def delete_topic(bootstrap: str, topic: str) -> None:
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({"bootstrap.servers": bootstrap, "log_level": 0})
    for future in admin.delete_topics([topic], operation_timeout=10).values():
        future.result(timeout=15)  # the deletion went through (None) or raises


@pytest.mark.broker
def test_topic_deleted_mid_sample(kafka_bootstrap: str, tmp_path: Path) -> None:
    """Apache Kafka 4.4 with librdkafka 2.16: after the deletion no record, error or
    end-of-partition event comes, so the read stalls for ``--timeout``; the reason then
    names the deletion, learnt from the cluster's metadata."""
    topic = broker.unique_topic("deleted")
    broker.create_topic(kafka_bootstrap, topic, 1)
    produce_single_batches(kafka_bootstrap, topic, RECORDS)
    out = tmp_path / "deleted.parquet"
    process = start_sampling(kafka_bootstrap, topic, out)
    asked = time.monotonic()
    try:
        delete_topic(kafka_bootstrap, topic)
    finally:
        code, rest, _ = finish(process)
    took = time.monotonic() - asked
    assert code != -signal.SIGSEGV, f"partsim crashed (SIGSEGV) {took:.1f} s after the deletion"
    # The stall ends --timeout (5 s) after the last record came. That record came at most one
    # fetch back-off (200 ms, SLOW) and its round trip before the deletion was asked for
    # (timed from the request: the deletion takes effect before the admin call returns; CI saw
    # 4.9 s from its return).
    assert 5 - 0.5 <= took < 5 + 5, f"{took:.1f} s after the deletion; --timeout is 5"
    facts = check_outcome(code, rest, out, topic)
    assert facts is not None, "a partial sample was expected: records were read before"
    assert facts["reason"] == (
        f"stopped after {facts['records']:,} records: topic {topic!r} no longer exists at "
        f"{kafka_bootstrap} (deleted while it was read); no records for 5 s from partition(s) 0"
    )


@pytest.mark.broker
def test_topic_deleted_on_tansu_crashes_librdkafka_and_the_sample_is_kept(
    tansu_bootstrap: str, tmp_path: Path
) -> None:
    """Why Tansu is still here: a Fetch for a topic deleted on Tansu 0.6 crashes librdkafka
    2.16 (SIGSEGV in ``rd_kafka_metadata_cache_find``), a real crash of the C client that
    the reading process exists for. It crashed in 3 of 4 manual runs (the 4th stalled), so
    up to 4 deletions are tried: each must end in a partial sample that names the deletion,
    and one must be the crash."""
    records = 1000  # at SLOW speed the fault still lands mid-sample; produced faster
    outcomes = []
    for attempt in range(4):
        topic = broker.unique_topic("deleted-tansu")
        broker.create_topic(tansu_bootstrap, topic, 1)
        produce_single_batches(tansu_bootstrap, topic, records)
        out = tmp_path / f"deleted-{attempt}.parquet"
        process = start_sampling(tansu_bootstrap, topic, out)
        try:
            delete_topic(tansu_bootstrap, topic)
        finally:
            code, rest, took = finish(process)
        assert took < 5 + 5, f"{took:.1f} s after the deletion; --timeout is 5"
        facts = check_outcome(code, rest, out, topic, records)
        assert facts is not None, rest
        assert facts["reason"].startswith(
            f"stopped after {facts['records']:,} records: topic {topic!r} no longer exists at "
            f"{tansu_bootstrap} (deleted while it was read); "
        ), facts["reason"]
        outcomes.append(facts["reason"].rsplit("; ", 1)[1])
        if outcomes[-1].endswith(") crashed (signal 11, SIGSEGV)"):
            break
    assert outcomes[-1].startswith("the Kafka client (librdkafka "), outcomes
    assert outcomes[-1].endswith(") crashed (signal 11, SIGSEGV)"), outcomes


@pytest.mark.broker
def test_broker_killed_mid_sample_and_restarted(
    kafka_restartable: broker.KafkaBroker, tmp_path: Path
) -> None:
    """The broker is killed (SIGKILL) while two samples read, then started again on the same
    ports with its data (one restart serves both). The sample with ``timeout=2`` ends partial,
    the broker not back in time; ``partsim sample --timeout 90`` reconnects and is whole.
    The short one reads a long topic and starts first; the kill comes as soon as the CLI
    has started reading its 40 records (at SLOW speed, several seconds of reading)."""
    bootstrap, records = kafka_restartable.bootstrap, 40
    long_topic, topic = broker.unique_topic("killed"), broker.unique_topic("restarted")
    broker.create_topics(bootstrap, {long_topic: 1, topic: 1})
    produce_single_batches(bootstrap, long_topic, RECORDS)
    produce_single_batches(bootstrap, topic, records)
    out = tmp_path / "restarted.parquet"
    reading, short = threading.Event(), {}

    def sample_briefly() -> None:
        short["sample"] = live.sample_topic(bootstrap, long_topic, config=SLOW, timeout=2,
                                            status=lambda _line: reading.set())  # fmt: skip

    thread = threading.Thread(target=sample_briefly)
    thread.start()
    process = None
    try:
        assert reading.wait(60), "the short sample did not start reading"
        process = start_sampling(bootstrap, topic, out, timeout=90, settle=0.2)
        kafka_restartable.kill()  # a crash, not a clean stop
        assert process.poll() is None, "the long sample ended before the broker was killed"
        thread.join(timeout=30)
        kafka_restartable.start()
        assert kafka_restartable.bootstrap == bootstrap
    finally:
        thread.join(timeout=30)
        if process is not None:
            code, rest, _took = finish(process, limit=120)
    check_whole(code, rest, out, topic, records)

    sample = short["sample"]
    assert sample.partial and sample.stopped_by == "stall"
    assert 0 < sample.records < RECORDS
    assert sample.reason.startswith(
        f"stopped after {sample.records:,} records: no records for 2 s from partition(s) 0"
    ), sample.reason
    assert "no longer exists" not in sample.reason  # the broker is down: nothing is known
    assert sample.table.column("offset").to_pylist() == list(range(sample.records))
    written = live.load_sample(live.write_sample(sample, tmp_path / "partial.csv"))
    assert written.partial and written.reason == sample.reason
    assert written.table.equals(sample.table)


@pytest.mark.broker
def test_a_paused_broker_only_slows_the_sample(
    kafka_restartable: broker.KafkaBroker, tmp_path: Path
) -> None:
    """A slow broker: paused (SIGSTOP, its connections open, as in a long GC pause) for 4 s,
    under partsim's --timeout of 10 s. The sample waits for it and is whole."""
    bootstrap, records = kafka_restartable.bootstrap, 30
    topic = broker.unique_topic("paused")
    broker.create_topic(bootstrap, topic, 1)
    produce_single_batches(bootstrap, topic, records)
    out = tmp_path / "paused.parquet"
    process = start_sampling(bootstrap, topic, out, timeout=10, settle=0.2)
    try:
        kafka_restartable.freeze()
        time.sleep(4)
        assert process.poll() is None, "the sample ended while the broker was paused"
        kafka_restartable.thaw()
    finally:
        code, rest, _took = finish(process, limit=60)
    check_whole(code, rest, out, topic, records)


@pytest.mark.broker
def test_a_broker_paused_past_the_timeout_leaves_a_partial_sample(
    kafka_restartable: broker.KafkaBroker, tmp_path: Path
) -> None:
    """A broker that stops answering and does not come back within --timeout 3: the sample
    stops 3 s after the last record, and (its metadata unanswered) says only that."""
    bootstrap = kafka_restartable.bootstrap
    topic = broker.unique_topic("frozen")
    broker.create_topic(bootstrap, topic, 1)
    produce_single_batches(bootstrap, topic, RECORDS)
    out = tmp_path / "frozen.parquet"
    process = start_sampling(bootstrap, topic, out, timeout=3)
    try:
        kafka_restartable.freeze()
        code, rest, took = finish(process)
    finally:
        kafka_restartable.thaw()
    assert took < 3 + 2 + 3, f"{took:.1f} s after the pause; --timeout is 3"
    facts = check_outcome(code, rest, out, topic)
    assert facts is not None, "a partial sample was expected: records were read before"
    assert facts["reason"].startswith(
        f"stopped after {facts['records']:,} records: no records for 3 s from partition(s) 0"
    ), facts["reason"]


def signal_reader(signum: int) -> None:
    """Send ``signum`` to the one reading process this test process runs."""
    me = os.getpid()
    children = Path(f"/proc/{me}/task/{me}/children").read_text().split()
    program = live._READER_PROGRAM.encode()
    readers = [int(pid) for pid in children if program in Path(f"/proc/{pid}/cmdline").read_bytes()]
    assert len(readers) == 1, readers
    os.kill(readers[0], signum)


def sample_with_fault(bootstrap: str, signum: int, timeout: float) -> tuple[live.LiveSample, float]:
    """``sample_topic`` on a slow topic, its reading process sent ``signum`` 1 s after reading
    started. Returns the sample and the seconds from the start of reading to its return."""
    topic = broker.unique_topic("client-fault")
    broker.create_topic(bootstrap, topic, 1)
    produce_single_batches(bootstrap, topic, RECORDS)
    reading: list[float] = []

    def fault_soon(_line: str) -> None:
        reading.append(time.monotonic())
        threading.Timer(1.0, signal_reader, (signum,)).start()

    sample = live.sample_topic(bootstrap, topic, config=SLOW, timeout=timeout, status=fault_soon)
    took = time.monotonic() - reading[0]
    assert sample.partial and sample.stopped_by == "stall", sample
    assert 0 < sample.records < RECORDS
    assert sample.table.column("offset").to_pylist() == list(range(sample.records))
    return sample, took


@pytest.mark.broker
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="finds the reader in /proc")
def test_a_crashed_client_leaves_a_partial_sample(kafka_bootstrap: str) -> None:
    sample, _took = sample_with_fault(kafka_bootstrap, signal.SIGSEGV, timeout=5)
    assert sample.reason.startswith(f"stopped after {sample.records:,} records: ")
    assert sample.reason.endswith(") crashed (signal 11, SIGSEGV)"), sample.reason
    assert "no longer exists" not in sample.reason  # the topic is still there


@pytest.mark.broker
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="finds the reader in /proc")
def test_a_hung_client_is_killed_and_its_records_kept(
    kafka_bootstrap: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(live, "_GRACE", 1.0)  # silent for timeout + 1 s: hung
    sample, took = sample_with_fault(kafka_bootstrap, signal.SIGSTOP, timeout=2)
    assert sample.reason.endswith("stopped answering for 3 s"), sample.reason
    assert took < 1 + 3 + 5  # from the start of reading: the fault at 1 s, hung for 3 s


def test_a_frame_cut_short_ends_the_stream() -> None:
    chunk = ([0], [7], [1_700_000_000_000], [b"key"], [5], [None])
    payload = pickle.dumps(chunk)
    frame = live._FRAME.pack(b"C", len(payload)) + payload
    inbox: queue.SimpleQueue = queue.SimpleQueue()
    live._pump(io.BytesIO(frame + frame[:-1]), inbox)  # the process died writing the second
    assert inbox.get().equals(live._sample_batch(chunk))
    assert inbox.get() is None and inbox.empty()


def test_the_reading_process_imports_no_numpy_nor_pyarrow() -> None:
    """It starts for every sample: partsim/__init__.py's imports would cost 0.1-0.3 s."""
    program = live._READER_PROGRAM.replace("main(job)", "print(json.dumps(sorted(sys.modules)))")
    job = {"path": sys.path, "package": str(ROOT / "partsim")}
    done = subprocess.run([sys.executable, "-c", program], input=json.dumps(job),
                          capture_output=True, text=True, check=True)  # fmt: skip
    modules = set(json.loads(done.stdout))
    assert "partsim._live_reader" in modules and "partsim.errors" in modules
    assert not modules & {"numpy", "pyarrow", "pandas", "partsim.api", "confluent_kafka"}
