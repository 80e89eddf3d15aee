"""Live faults: the topic deleted, the broker restarted, or the Kafka client crashed or hung
while ``partsim sample`` reads.

Each CLI test starts ``partsim sample`` in a subprocess on a topic made slow to read (the
``SLOW`` librdkafka settings and one record per batch, as in ``tests/test_live.py``), waits for
the ``sampling ...`` status line, injects the fault, and checks the outcome: one clear
``Error:`` line, a non-zero exit within ``--timeout``, no traceback, and the output either
absent or a valid Parquet sample marked partial. The client faults are injected by signalling
the reading process that ``sample_topic`` runs librdkafka in (Linux: found through ``/proc``).
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


def start_sampling(bootstrap: str, topic: str, out: Path) -> subprocess.Popen[str]:
    """``partsim sample --timeout 5`` on ``topic``, returned once the status line is out."""
    properties = [arg for name, value in SLOW.items() for arg in ("-X", f"{name}={value}")]
    process = subprocess.Popen(
        [sys.executable, "-m", "partsim", "sample", "--bootstrap", bootstrap, "--topic", topic,
         "--timeout", "5", "-o", str(out), *properties],
        stderr=subprocess.PIPE, text=True, cwd=ROOT,
    )  # fmt: skip
    first = process.stderr.readline()  # the status line: reading has started
    assert first.startswith(f"sampling {topic}"), first
    time.sleep(1.0)  # some records read, most still to come
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


def check_outcome(code: int, rest: str, out: Path, topic: str) -> dict | None:
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
    assert 0 < table.num_rows < RECORDS and facts["records"] == table.num_rows
    assert table.column("offset").to_pylist() == list(range(table.num_rows))
    assert errors[0] == f"Error: partial sample: {facts['reason']}"
    assert f"wrote {out}: {table.num_rows:,} records of {topic} (1 partitions) - PARTIAL" in rest
    return facts


@pytest.mark.broker
def test_topic_deleted_mid_sample(kafka_bootstrap: str, tmp_path: Path) -> None:
    from confluent_kafka.admin import AdminClient

    topic = broker.unique_topic("deleted")
    broker.create_topic(kafka_bootstrap, topic, 1)
    produce_single_batches(kafka_bootstrap, topic, RECORDS)
    out = tmp_path / "deleted.parquet"
    process = start_sampling(kafka_bootstrap, topic, out)
    try:
        admin = AdminClient({"bootstrap.servers": kafka_bootstrap, "log_level": 0})
        for future in admin.delete_topics([topic], operation_timeout=10).values():
            future.result(timeout=15)  # the deletion went through (None) or raises
    finally:
        code, rest, took = finish(process)
    assert code != -signal.SIGSEGV, f"partsim crashed (SIGSEGV) {took:.1f} s after the deletion"
    assert took < 5 + 5, f"{took:.1f} s after the deletion; --timeout is 5"
    facts = check_outcome(code, rest, out, topic)
    # Records were read before the deletion (the status line, then 1 s of reading), so the
    # file must be there: a valid partial sample.
    assert facts is not None, f"no sample file was written\n{rest}"
    # Two outcomes are right, and nothing else: librdkafka 2.16 crashes (on Tansu 0.6 it
    # does, every time) and partsim names the deletion and the crash; or the client stalls
    # and partsim stops after --timeout seconds without a record.
    crashed = "the Kafka client (librdkafka" in facts["reason"] and "crashed" in facts["reason"]
    if crashed:
        assert f"topic {topic!r} no longer exists at {kafka_bootstrap}" in facts["reason"]
        assert "(signal " in facts["reason"], facts["reason"]
    else:
        assert "no records for 5 s" in facts["reason"], facts["reason"]


@pytest.mark.broker
def test_broker_restart_mid_sample(tmp_path: Path) -> None:
    first = broker.start_broker(tmp_path / "tansu-first.log")
    port = first.port
    second = None
    try:
        topic = broker.unique_topic("restarted")
        broker.create_topic(first.bootstrap, topic, 1)
        produce_single_batches(first.bootstrap, topic, RECORDS)
        out = tmp_path / "restarted.parquet"
        process = start_sampling(first.bootstrap, topic, out)
        try:
            first.proc.kill()  # a crash, then a restart where clients expect it
            broker.stop_broker(first)
            # Memory storage: the new broker has no topic; partsim must still end in time.
            second = broker.start_broker(tmp_path / "tansu-second.log", port=port)
            assert second.port == port
        finally:
            code, rest, took = finish(process)
        assert second.proc.poll() is None, broker.log_tail(second.log_path)
    finally:
        broker.stop_broker(first)
        if second is not None:
            broker.stop_broker(second)
    assert took < 5 + 5, f"{took:.1f} s after the restart; --timeout is 5"
    facts = check_outcome(code, rest, out, topic)
    assert facts is not None, "a partial sample was expected: records were read before"
    assert facts["reason"].startswith("stopped after ")
    assert "no records for 5 s from partition(s) 0" in facts["reason"]


def signal_reader(signum: int) -> None:
    """Send ``signum`` to the one reading process this test process runs."""
    me = os.getpid()
    children = Path(f"/proc/{me}/task/{me}/children").read_text().split()
    program = live._READER_PROGRAM.encode()
    readers = [int(pid) for pid in children if program in Path(f"/proc/{pid}/cmdline").read_bytes()]
    assert len(readers) == 1, readers
    os.kill(readers[0], signum)


def sample_with_fault(bootstrap: str, signum: int, timeout: float) -> live.LiveSample:
    """``sample_topic`` on a slow topic, its reading process sent ``signum`` after 1 s."""
    topic = broker.unique_topic("client-fault")
    broker.create_topic(bootstrap, topic, 1)
    produce_single_batches(bootstrap, topic, RECORDS)

    def fault_soon(_line: str) -> None:
        threading.Timer(1.0, signal_reader, (signum,)).start()

    sample = live.sample_topic(bootstrap, topic, config=SLOW, timeout=timeout, status=fault_soon)
    assert sample.partial and sample.stopped_by == "stall", sample
    assert 0 < sample.records < RECORDS
    assert sample.table.column("offset").to_pylist() == list(range(sample.records))
    return sample


@pytest.mark.broker
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="finds the reader in /proc")
def test_a_crashed_client_leaves_a_partial_sample(kafka_bootstrap: str) -> None:
    sample = sample_with_fault(kafka_bootstrap, signal.SIGSEGV, timeout=5)
    assert sample.reason.startswith(f"stopped after {sample.records:,} records: ")
    assert sample.reason.endswith(") crashed (signal 11, SIGSEGV)"), sample.reason
    assert "no longer exists" not in sample.reason  # the topic is still there


@pytest.mark.broker
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="finds the reader in /proc")
def test_a_hung_client_is_killed_and_its_records_kept(
    kafka_bootstrap: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(live, "_GRACE", 1.0)  # silent for timeout + 1 s: hung
    started = time.monotonic()
    sample = sample_with_fault(kafka_bootstrap, signal.SIGSTOP, timeout=2)
    assert sample.reason.endswith("stopped answering for 3 s"), sample.reason
    assert time.monotonic() - started < 1 + 3 + 5


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
