"""The real producers as test oracles: build them, run them, read where each record went.

Each client has a small program in its own language beside this file (``java/``, ``go/``,
``node/``, ``python/``). They share one protocol, described in ``python/produce.py``: a JSON
job on stdin (the bootstrap address and a list of runs), JSON lines on stdout (the client's
real version, then per record its index, send time and delivered partition).

Builds happen once per session and are cached: Maven's artifacts in ``~/.m2``, Go's module
and build caches, ``node_modules`` from ``npm ci`` with the committed ``package-lock.json``.
The build outputs (``java/target``, ``go/build``, ``node/node_modules``) are git-ignored.
``python -m tests.clients`` builds every program (``.ci/run`` does it before the tests).

A machine without a toolchain skips these tests with a reason saying how to get it; under
``CI=true`` they fail instead.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent

#: Which program runs each client.
PROGRAMS = {
    "java": "java",
    "sarama": "go",
    "kafka-go": "go",
    "franz-go": "go",
    "kafkajs": "node",
    "confluent-kafka": "python",
    "kafka-python": "python",
}

#: How to get each toolchain, for the skip reasons.
HOW_TO = {
    "java": "a JDK 17+ and Maven (Debian: apt-get install openjdk-17-jdk-headless maven); "
    "Maven fetches kafka-clients from Maven Central into ~/.m2",
    "go": "Go 1.24+ (https://go.dev/dl/); the build fetches sarama, kafka-go and franz-go "
    "from the Go module proxy",
    "node": "Node.js 18+ with npm (Debian: apt-get install nodejs npm); the build runs "
    "`npm ci` for kafkajs",
    "python": "pip install -e '.[test]' (confluent-kafka and kafka-python)",
}


class ToolchainMissing(RuntimeError):
    """A client's toolchain is not installed; the message says how to get it."""


class BuildFailed(RuntimeError):
    """A producer program did not build; the message holds the build's output."""


def in_ci() -> bool:
    """True under CI (CI=true/1/yes), where these tests must run, never skip."""
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def _need(*tools: str, program: str) -> dict[str, str]:
    found = {tool: shutil.which(tool) for tool in tools}
    missing = [tool for tool, path in found.items() if path is None]
    if missing:
        raise ToolchainMissing(
            f"the {program} producer needs {', '.join(missing)} on PATH: {HOW_TO[program]}"
        )
    return {tool: str(path) for tool, path in found.items()}


def _run_build(command: Sequence[str], cwd: Path, what: str, timeout: float = 900) -> None:
    done = subprocess.run(
        list(command), cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
    )
    if done.returncode != 0:
        output = (done.stdout + done.stderr).strip().splitlines()
        raise BuildFailed(f"{what} failed (exit {done.returncode}):\n" + "\n".join(output[-30:]))


def _newest(paths: Sequence[Path]) -> float:
    return max(path.stat().st_mtime for path in paths)


@functools.cache
def command(program: str) -> tuple[str, ...]:
    """The command line that runs ``program`` (``java``, ``go``, ``node``, ``python``),
    building it first if needed. Raises :class:`ToolchainMissing` or :class:`BuildFailed`.
    """
    return _BUILDERS[program]()


def _java() -> tuple[str, ...]:
    tools = _need("java", "mvn", program="java")
    root = HERE / "java"
    classes = root / "target" / "classes" / "partsim" / "Produce.class"
    classpath_file = root / "target" / "classpath.txt"
    sources = [root / "pom.xml", *sorted((root / "src").rglob("*.java"))]
    fresh = (
        classes.exists()
        and classpath_file.exists()
        and classes.stat().st_mtime >= _newest(sources)
        and all(Path(jar).exists() for jar in classpath_file.read_text().split(os.pathsep))
    )
    if not fresh:
        _run_build(
            [tools["mvn"], "-B", "-q", "compile", "dependency:build-classpath",
             f"-Dmdep.outputFile={classpath_file}"],
            root, "mvn compile (tests/clients/java)",
        )  # fmt: skip
    classpath = os.pathsep.join([str(root / "target" / "classes"), classpath_file.read_text()])
    return (tools["java"], "-cp", classpath, "partsim.Produce")


def _go() -> tuple[str, ...]:
    tools = _need("go", program="go")
    root = HERE / "go"
    binary = root / "build" / "producers"
    # Go's build cache makes a rebuild of unchanged sources take about a second.
    _run_build([tools["go"], "build", "-o", str(binary), "."], root, "go build (tests/clients/go)")
    return (str(binary),)


def _node() -> tuple[str, ...]:
    tools = _need("node", "npm", program="node")
    root = HERE / "node"
    installed = root / "node_modules" / ".package-lock.json"
    if not installed.exists() or installed.stat().st_mtime < _newest([root / "package-lock.json"]):
        _run_build(
            [tools["npm"], "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            root, "npm ci (tests/clients/node)",
        )  # fmt: skip
    return (tools["node"], str(root / "produce.js"))


def _python() -> tuple[str, ...]:
    try:
        import confluent_kafka  # noqa: F401
        import kafka  # noqa: F401
    except ImportError as exc:
        reason = f"the Python producers need {exc.name}: {HOW_TO['python']}"
        raise ToolchainMissing(reason) from None
    return (sys.executable, str(HERE / "python" / "produce.py"))


_BUILDERS = {"java": _java, "go": _go, "node": _node, "python": _python}


# ------------------------------------------------------------------------------- runs
@dataclass(frozen=True)
class Run:
    """One producer run: a new producer sends ``keys`` (or ``count`` null keys) to ``topic``."""

    client: str
    topic: str
    partitioner: str = ""
    keys: tuple[bytes | None, ...] | None = None
    count: int = 0
    rate: float = 0.0
    value_size: int = 100
    config: dict = field(default_factory=dict)
    warmup: bool = False  # confluent-kafka: start after the cold start (see produce.py)
    trace: bool = False  # confluent-kafka: report when partitions joined (see produce.py)

    def to_json(self) -> dict:
        return {
            "client": self.client,
            "topic": self.topic,
            "partitioner": self.partitioner,
            "keys": None
            if self.keys is None
            else [None if key is None else key.hex() for key in self.keys],
            "count": self.count,
            "rate": self.rate,
            "value_size": self.value_size,
            "config": {name: str(value) for name, value in self.config.items()},
            "warmup": self.warmup,
            "trace": self.trace,
        }


@dataclass(frozen=True)
class Placement:
    """What a real producer did in one run: per record, send time (s) and partition; where
    the client tells (Java, kafka-python), the batch each record travelled in (numbered in
    the order of their first record) and its timestamp in the client's millisecond clock.
    """

    run: Run
    times_s: np.ndarray
    partitions: np.ndarray
    batches: np.ndarray | None = None
    stamps_ms: np.ndarray | None = None
    #: traced librdkafka runs: per partition, the first record produced after it joined
    joined_before: dict[int, int] | None = None
    #: where the program tells (confluent-kafka): when each record's produce() call returned
    #: (s, the clock of ``times_s``); the client read its own clock in between
    returned_s: np.ndarray | None = None


@dataclass(frozen=True)
class JobResult:
    client: str
    version: str
    placements: list[Placement]
    seconds: float


@functools.cache
def is_tansu(bootstrap: str) -> bool:
    """True when ``bootstrap`` is the Tansu test broker (it names its cluster
    ``tansu_cluster``), not Apache Kafka."""
    from confluent_kafka.admin import AdminClient

    metadata = AdminClient({"bootstrap.servers": bootstrap}).list_topics(timeout=30)
    return metadata.cluster_id == "tansu_cluster"


#: Why a client cannot run against Tansu (the oracles are meant for Apache Kafka).
TANSU_REFUSES = {
    "java": "Tansu does not answer kafka-clients 4.x's produce requests (records expire); "
    "the Java oracle runs against the Apache Kafka fixture",
}


def produce(
    bootstrap: str, runs: Sequence[Run], *, timeout: float = 600, env: dict | None = None
) -> JobResult:
    """Run one client's program over ``runs`` (all the same client) against ``bootstrap``."""
    clients = {run.client for run in runs}
    if len(clients) != 1:
        raise ValueError(f"one client per job; got {sorted(clients)}")
    (client,) = clients
    argv = command(PROGRAMS[client])
    if client == "franz-go" and is_tansu(bootstrap):
        # Tansu closes the connection on franz-go's ApiVersions v4 request.
        env = {"PARTSIM_KAFKA_VERSION": "2.8.0", **(env or {})}
    job = {"bootstrap": bootstrap, "runs": [run.to_json() for run in runs]}
    started = time.perf_counter()
    done = subprocess.run(
        argv,
        input=json.dumps(job),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env={**os.environ, **(env or {})},
    )
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(
            f"the {client} producer failed (exit {done.returncode}):\n{done.stderr[-3000:]}"
        )
    lines = done.stdout.splitlines()
    header = json.loads(lines[0])
    records, joined = [], {}
    for row in map(json.loads, lines[1:]):
        if "joined_before" in row:
            joined[row["run"]] = {int(key): value for key, value in row["joined_before"].items()}
            continue
        records.append(
            (row["run"], row["i"], row["t_us"], row["p"], row.get("b", -1), row.get("ms", -1),
             row.get("r_us", -1))
        )  # fmt: skip
    rows = np.array(records, dtype=np.int64).reshape(-1, 7)
    placements = []
    for index, run in enumerate(runs):
        mine = rows[rows[:, 0] == index]
        mine = mine[np.argsort(mine[:, 1])]
        expected = run.count if run.keys is None else len(run.keys)
        if len(mine) != expected or not np.array_equal(mine[:, 1], np.arange(expected)):
            raise RuntimeError(f"{client} run {index}: {len(mine)} records of {expected} reported")
        batches = mine[:, 4] if (mine[:, 4] >= 0).all() else None
        stamps = mine[:, 5] if (mine[:, 5] >= 0).all() else None
        returned = mine[:, 6] / 1e6 if (mine[:, 6] >= 0).all() else None
        placements.append(
            Placement(
                run, mine[:, 2] / 1e6, mine[:, 3].astype(np.int32), batches, stamps,
                joined.get(index), returned,
            )
        )  # fmt: skip
    return JobResult(client, header["version"], placements, seconds)


# ---------------------------------------------------------------------- keyless statistics
@dataclass(frozen=True)
class KeylessStats:
    """How a stream of keyless records spread over partitions over time.

    ``p_same``: the share of records on the same partition as the record before; ``runs``:
    the lengths of the runs of consecutive records on one partition; ``window_100ms`` and
    ``window_1s``: the hottest partition's records over the mean, per window from the first
    record, averaged over windows weighted by their records.
    """

    p_same: float
    runs: np.ndarray
    window_100ms: float
    window_1s: float

    @property
    def mean_run(self) -> float:
        return float(self.runs.mean())


def keyless_stats(times_s: np.ndarray, partitions: np.ndarray, partition_count: int):
    """:class:`KeylessStats` of records in send order (computed here, not by partsim)."""
    partitions = np.asarray(partitions, dtype=np.int64)
    changes = np.flatnonzero(np.diff(partitions) != 0)
    bounds = np.concatenate([[0], changes + 1, [len(partitions)]])
    return KeylessStats(
        p_same=float(np.mean(partitions[1:] == partitions[:-1])),
        runs=np.diff(bounds),
        window_100ms=_weighted_window_ratio(times_s, partitions, partition_count, 0.1),
        window_1s=_weighted_window_ratio(times_s, partitions, partition_count, 1.0),
    )


def _weighted_window_ratio(times_s, partitions, partition_count: int, window_s: float) -> float:
    times = np.asarray(times_s, dtype=np.float64)
    window = np.floor((times - times.min()) / window_s).astype(np.int64)
    counts = np.zeros((int(window.max()) + 1, partition_count))
    np.add.at(counts, (window, partitions), 1)
    totals = counts.sum(axis=1)
    loaded = totals > 0
    ratio = counts[loaded].max(axis=1) / (totals[loaded] / partition_count)
    return float((ratio * totals[loaded]).sum() / totals[loaded].sum())


def run_length_distance(first: np.ndarray, second: np.ndarray) -> float:
    """Kolmogorov-Smirnov distance between two run-length distributions, each weighted by
    records (the share of records that sit in runs of at most L, for every L)."""
    top = int(max(first.max(), second.max()))

    def cdf(runs: np.ndarray) -> np.ndarray:
        weights = np.bincount(runs, weights=runs, minlength=top + 1)
        return np.cumsum(weights) / weights.sum()

    return float(np.abs(cdf(first) - cdf(second)).max())


def observed_drains(batches: np.ndarray) -> np.ndarray:
    """Where a one-broker producer's sender sent its batches, from the batch each record
    travelled in (records in send order): record indices ``g`` such that the sender drained
    just before record ``g`` (the form ``partsim.keyless.simulate_keyless`` takes).

    A drain sends the first batch of every partition at once, so no batch has records on
    both sides of it: it lies in a *clean* gap, one that no batch spans. Every batch left at
    some drain after its last record; each is put at the first clean gap after that record.
    (A batch closed because it was full left later, or at once: a drain there changes
    nothing the next record sees.) Computed from the real client's batches only.
    """
    batches = np.asarray(batches, dtype=np.int64)
    count = len(batches)
    number = int(batches.max()) + 1
    first = np.full(number, count)
    last = np.full(number, -1)
    np.minimum.at(first, batches, np.arange(count))
    np.maximum.at(last, batches, np.arange(count))
    # gap g (just before record g) is spanned when a batch has records before and after it
    spans = np.zeros(count + 2, dtype=np.int64)
    np.add.at(spans, first + 1, 1)
    np.add.at(spans, last + 1, -1)
    spanned = np.cumsum(spans)[:count] > 0
    clean = np.flatnonzero(~spanned[1:]) + 1
    after = np.searchsorted(clean, last + 1)
    return np.unique(clean[after[after < len(clean)]])


def clock_times(stamps_ms: np.ndarray) -> np.ndarray:
    """Send times in seconds on the client's own millisecond clock (each record's timestamp,
    the ``nowMs`` its batch accounting used), records within one millisecond kept in order
    a microsecond apart. (A wall clock stepped back is held at its latest value.)"""
    stamps = np.maximum.accumulate(np.asarray(stamps_ms, dtype=np.int64))
    _, first, counts = np.unique(stamps, return_index=True, return_counts=True)
    within = np.arange(len(stamps)) - np.repeat(first, counts)
    return (stamps - stamps[0] + np.minimum(within, 999) / 1000) / 1000


def open_batch_lean(partitions: np.ndarray, drains: np.ndarray, partition_count: int) -> float:
    """How many more records landed on a partition that already had one since the last
    sender drain (so an open batch) than a uniform pick would put there: the sum over
    records of ``[partition already written since the drain] - written / partition_count``.
    0 on average for any stream of uniform picks, whatever the drains; positive when picks
    lean towards open batches (kafka-python's second pick)."""
    drained = np.zeros(len(partitions) + 1, dtype=bool)
    drained[np.asarray(drains, dtype=np.int64)] = True
    written: set[int] = set()
    lean = 0.0
    for index, partition in enumerate(np.asarray(partitions).tolist()):
        if drained[index]:
            written.clear()
        lean += (partition in written) - len(written) / partition_count
        written.add(partition)
    return lean


def main() -> None:
    """Build every producer program (``python -m tests.clients``); exit 1 if one fails."""
    failed = False
    for program in _BUILDERS:
        started = time.perf_counter()
        try:
            command(program)
        except (ToolchainMissing, BuildFailed) as exc:
            print(f"{program}: {exc}", file=sys.stderr)
            failed = True
        else:
            print(f"{program}: built in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    sys.exit(1 if failed else 0)
