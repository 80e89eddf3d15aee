"""The part of the live-topic code that runs the Kafka client, in the reading process.

:func:`partsim.live.sample_topic` runs librdkafka in a child process (see
:class:`partsim.live._Reader`), so that a crash of the C client ends in a partial sample
instead of taking the caller along. That process runs :func:`main`: it connects, finds the
partitions and their start offsets, reads, and sends frames to the parent on its stdout.

The reading process imports this module, the standard library, :mod:`partsim.errors` and
confluent-kafka, and nothing else: a bare ``partsim`` package object stands in for
``partsim/__init__.py``, whose imports (numpy, pyarrow) would add 0.1-0.3 s to every sample.
So records travel as pickled columns (a :data:`Chunk`), and the parent makes the Arrow batch.
Keep it that way: no numpy, pyarrow or partsim module other than ``errors`` here (a test
checks). The parent imports the helpers it shares (secrets, budgets) from here as well.
"""

from __future__ import annotations

import contextlib
import difflib
import itertools
import json
import logging
import operator
import os
import pickle
import re
import signal
import struct
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from partsim.errors import BrokerError, PartsimError, UsageError

#: The same logger as :data:`partsim.live.LOG`: librdkafka's log lines go here.
LOG = logging.getLogger("partsim.live")

# --------------------------------------------------------------------------- secrets

REDACTED = "[redacted]"
#: A property whose name contains one of these holds a secret (or may embed one).
_SECRET_NAME_PARTS = (
    "password",
    "secret",
    "jaas",
    "token",
    "credential",
    "user.info",
    "sasl.oauthbearer.config",
    "key.pem",
    "keystore.key",
    "private",
)


def is_secret(name: str) -> bool:
    """True for a client property whose value must never be shown (passwords, JAAS, tokens)."""
    lowered = name.lower()
    return any(part in lowered for part in _SECRET_NAME_PARTS)


def _scrub(text: str, *configs: Mapping[str, object]) -> str:
    """``text`` with every secret value of ``configs`` replaced (librdkafka quotes values)."""
    for config in configs:
        for name, value in config.items():
            if is_secret(name) and isinstance(value, str) and len(value) >= 3:
                text = text.replace(value, REDACTED)
    return text


#: The secret values this process was given (see :func:`remember_secrets`).
_GIVEN: set[str] = set()


def remember_secrets(config: Mapping[str, object]) -> None:
    """Note the secret values of ``config``, so that :func:`scrub_given` keeps them out of
    any message, whichever way it came (the CLI's last line of defence)."""
    _GIVEN.update(
        value for name, value in config.items() if is_secret(str(name)) and isinstance(value, str)
    )


def scrub_given(text: str) -> str:
    """``text`` without any secret value given to this process so far (values of 3 or more
    characters, longest first, as :func:`_scrub` replaces them)."""
    for value in sorted(_GIVEN, key=len, reverse=True):
        if len(value) >= 3:
            text = text.replace(value, REDACTED)
    return text


#: What a client property's name looks like (librdkafka's and Java's are dotted lowercase).
PROPERTY_NAME = re.compile(r"[a-z][a-z0-9_-]*(?:\.[a-z0-9_-]+)+")


def shown_property(item: str) -> str:
    """A malformed ``-X`` item as an error message may quote it: a part that looks like a
    property name is shown, the value of a secret property is redacted, and an item that
    does not start with a property name is not shown at all (it may be the secret itself).

    >>> shown_property("sasl.password:S3cr3t"), shown_property("security.protocol SSL")
    ("'sasl.password:[redacted]'", "'security.protocol SSL'")
    >>> shown_property("S3cr3t")
    'a value without KEY= (not shown: it may be a secret)'
    """
    match = re.fullmatch(r"\s*([^\s:=]+)(\s*[:=\s]\s*)(.*?)\s*", item, re.DOTALL)
    if match and PROPERTY_NAME.fullmatch(match.group(1)):
        name, separator, value = match.groups()
        return repr(f"{name}{separator}{REDACTED if is_secret(name) and value else value}")
    return "a value without KEY= (not shown: it may be a secret)"


# --------------------------------------------------------------------------- the reading process


#: A frame from the reading process: its kind (``C``: a pickled :data:`Chunk` of records,
#: ``E``: a JSON event) and its payload's size in bytes; the payload follows.
_FRAME = struct.Struct("!cI")


def main(job: dict[str, Any]) -> None:
    """The reading process (see :class:`partsim.live._Reader`): read as ``job`` says,
    sending frames to stdout. Ctrl-C stops reading; what was read is still sent, then how
    reading ended."""
    import traceback

    channel = _Channel(os.fdopen(os.dup(1), "wb"))
    os.dup2(2, 1)  # a stray print goes to stderr, never among the frames
    interrupted = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: interrupted.set())
    LOG.setLevel(job["log_level"])
    LOG.addHandler(_Forward(channel))
    try:
        _reader(job, channel, interrupted.is_set)
    except PartsimError as error:
        channel.event(error=type(error).__name__, message=str(error))
    except ImportError as error:  # confluent-kafka, installed but broken
        channel.event(error="ImportError", message=f"{type(error).__name__}: {error}")
    except Exception:
        channel.event(error="internal", message=traceback.format_exc())
    channel.stream.close()
    sys.stderr.flush()
    os._exit(0)  # the consumer is closed: skip tearing down the interpreter (0.1 s)


def _reader(job: dict[str, Any], channel: _Channel, stopping: Callable[[], bool]) -> None:
    """Connect, find the partitions and where to start, tell the parent, then read. A probe
    (``job["probe"]``) stops once it knows the partition count."""
    from confluent_kafka import TopicPartition, libversion

    settings, topic, timeout = job["settings"], job["topic"], job["timeout"]
    errors: list[Any] = []
    consumer = _consumer(settings, job["group_id"], errors)
    try:
        address = settings["bootstrap.servers"]
        link = _Link(consumer, address, settings, errors, timeout, time.monotonic() + timeout)
        partition_count = _partition_count(link, topic)
        budgets = _budgets(job["max_messages"], partition_count)
        from_ms, to_ms = job["from_ms"], job["to_ms"]
        starts = {} if job.get("probe") else _start_offsets(link, topic, budgets, from_ms, to_ms)
        if starts:
            consumer.assign([TopicPartition(topic, p, offset) for p, offset in starts.items()])
        channel.event(
            partition_count=partition_count,
            budgets=[[p, budgets[p]] for p in starts],
            client=f"librdkafka {libversion()[0]}",
        )
        if starts:
            budget = {p: budgets[p] for p in starts}
            read = _read(link, topic, budget, from_ms, to_ms, job["duration"], channel.chunk,
                         stopping)  # fmt: skip
            channel.event(stopped_by=read[0], reason=read[1])
    finally:
        try:
            consumer.close()  # no commit: auto commit and offset store are off
        except Exception as error:  # a consumer whose broker died may fail to close
            LOG.debug("closing the consumer failed: %s", error)


class _Channel:
    """The reading process's end of the pipe: :data:`_FRAME` frames on ``stream``."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream

    def send(self, kind: bytes, payload: bytes) -> None:
        self.stream.write(_FRAME.pack(kind, len(payload)))
        self.stream.write(payload)
        self.stream.flush()

    def event(self, **facts: object) -> None:
        self.send(b"E", json.dumps(facts).encode("utf-8"))

    def chunk(self, chunk: Chunk) -> None:
        self.send(b"C", pickle.dumps(chunk, protocol=pickle.HIGHEST_PROTOCOL))


class _Forward(logging.Handler):
    """Sends the reading process's log records (librdkafka's) to the parent's :data:`LOG`."""

    def __init__(self, channel: _Channel) -> None:
        super().__init__()
        self.channel = channel

    def emit(self, record: logging.LogRecord) -> None:
        with contextlib.suppress(OSError):  # the parent stopped listening after the last event
            self.channel.event(log=[record.levelno, record.getMessage()])


# --------------------------------------------------------------------------- the consumer


def _consumer(settings: Mapping[str, str], group_id: str, errors: list[Any]):
    """A consumer that can only read: assign() only, no commits, no topic creation."""
    from confluent_kafka import Consumer, KafkaException

    properties: dict[str, Any] = {
        "fetch.wait.max.ms": 100,  # an idle partition answers (end of partition) quickly
        # After the local queue passes queued.min.messages, librdkafka pauses a partition's
        # fetches for this long (default 1 s): far longer than this loop takes to drain it.
        "fetch.queue.backoff.ms": 10,
        **settings,
        "group.id": group_id,
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "enable.partition.eof": True,
        "allow.auto.create.topics": False,
        "auto.offset.reset": settings.get("auto.offset.reset", "earliest"),
        "error_cb": errors.append,
        "logger": LOG,
    }
    try:
        return Consumer(properties)
    except KafkaException as error:
        raise UsageError(
            f"client properties rejected by librdkafka: {_scrub(error.args[0].str(), settings)}"
        ) from None
    except (TypeError, ValueError) as error:
        raise UsageError(f"client properties: {_scrub(str(error), settings)}") from None


@dataclass(frozen=True)
class _Link:
    """A consumer and what its errors are reported with: the address, the (secret) settings,
    the errors librdkafka reported, the timeout and the deadline for connecting."""

    consumer: Any
    address: str
    settings: Mapping[str, str]
    errors: list[Any]
    timeout: float
    deadline: float

    def problem(self) -> str | None:
        """The last client error, scrubbed of secrets, or None."""
        for error in reversed(self.errors):
            text = _short_error(error.str() if hasattr(error, "str") else str(error))
            if text:
                return _scrub(text, self.settings)
        return None

    def check(self) -> None:
        """Raise at once for failures that waiting cannot fix: authentication, TLS, every
        broker refusing the connection."""
        from confluent_kafka import KafkaError

        self.consumer.poll(0)  # serves error_cb; nothing is assigned yet, nothing is consumed
        auth = {KafkaError._AUTHENTICATION, KafkaError.SASL_AUTHENTICATION_FAILED}
        for error in reversed(self.errors):
            if error.code() in auth:
                raise BrokerError(
                    f"authentication failed at {self.address}: "
                    f"{_scrub(_short_error(error.str()), self.settings)} (check sasl.mechanism, "
                    "sasl.username and sasl.password in -X or --config)"
                )
        codes = {error.code() for error in self.errors}
        if KafkaError._SSL in codes:
            raise BrokerError(
                f"TLS handshake with {self.address} failed: {self.problem()} (check "
                "security.protocol and ssl.ca.location, or ssl.truststore.location in --config)"
            )
        if KafkaError._ALL_BROKERS_DOWN in codes:
            raise BrokerError(f"cannot reach the broker at {self.address}: {self.problem()}")

    def remaining(self) -> float:
        """Seconds left before the deadline; raises the 'cannot reach' error when none are."""
        left = self.deadline - time.monotonic()
        if left <= 0:
            problem = self.problem()
            raise BrokerError(
                f"cannot reach the broker at {self.address} within {self.timeout:g} s"
                + (f" ({problem})" if problem else "")
            )
        return left


def _short_error(text: str) -> str:
    """librdkafka's message without its ``proto://host:port/id:`` prefix and timing suffix."""
    text = re.sub(r"^\S+://\S+?/\S+?: ", "", text.strip())
    text = re.sub(r"^\S+:\d+/\S+?: ", "", text)
    return re.sub(r"\s*\(after \d+ms in state \w+\)\s*$", "", text)


def _partition_count(link: _Link, topic: str) -> int:
    """The topic's partition count, from metadata for all topics (never naming the topic)."""
    from confluent_kafka import KafkaError, KafkaException

    metadata = None
    while metadata is None:
        try:
            metadata = link.consumer.list_topics(timeout=min(0.5, link.remaining()))
        except KafkaException as error:
            if error.args[0].code() not in (KafkaError._TRANSPORT, KafkaError._TIMED_OUT):
                raise BrokerError(
                    f"metadata request to {link.address} failed: "
                    f"{_scrub(error.args[0].str(), link.settings)}"
                ) from None
        link.check()
    info = metadata.topics.get(topic)
    if info is None:
        raise UsageError(_missing_topic(topic, list(metadata.topics), link.address))
    if info.error is not None:
        if info.error.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED:
            raise BrokerError(f"not authorized to describe topic {topic!r} at {link.address}")
        if info.error.code() == KafkaError.UNKNOWN_TOPIC_OR_PART:
            raise UsageError(_missing_topic(topic, list(metadata.topics), link.address))
        raise BrokerError(f"topic {topic!r} at {link.address}: {info.error.str()}")
    if not info.partitions:
        raise BrokerError(f"topic {topic!r} at {link.address} lists no partitions")
    return len(info.partitions)


def _missing_topic(topic: str, names: Iterable[str], address: str) -> str:
    visible = sorted(name for name in names if not name.startswith("__"))
    similar = difflib.get_close_matches(topic, visible, n=5, cutoff=0.6)
    similar += [n for n in visible if topic.lower() in n.lower() and n not in similar][:5]
    message = f"topic {topic!r} not found at {address}"
    if similar:
        return message + f"; similar topics: {', '.join(similar[:5])}"
    if not visible:
        return message + "; the cluster lists no topics"
    return message + f" ({len(visible)} topics there, none with a similar name)"


def _budgets(max_messages: int, partition_count: int) -> list[int]:
    """Records per partition: an even split of ``max_messages``, remainder to the lowest ids.

    >>> _budgets(10, 4)
    [3, 3, 2, 2]
    """
    base, extra = divmod(max_messages, partition_count)
    return [base + (1 if partition < extra else 0) for partition in range(partition_count)]


#: librdkafka's logical offset "``n`` records before the end": ``RD_KAFKA_OFFSET_TAIL(n)``.
def _tail(count: int) -> int:
    return -2000 - count


def _start_offsets(
    link: _Link, topic: str, budgets: list[int], from_ms: int | None, to_ms: int | None
) -> dict[int, int]:
    """Where each partition's reading starts (partitions with nothing to read are left out)."""
    from confluent_kafka import KafkaException, TopicPartition

    wanted = [p for p, budget in enumerate(budgets) if budget > 0]
    if from_ms is None and to_ms is None:
        return {p: _tail(budgets[p]) for p in wanted}
    # offsets_for_times gives the first offset whose timestamp is >= the time (-1: none).
    lookup = from_ms if from_ms is not None else to_ms + 1
    try:
        found = link.consumer.offsets_for_times(
            [TopicPartition(topic, p, lookup) for p in wanted], timeout=link.remaining()
        )
    except KafkaException as error:
        link.check()
        raise BrokerError(
            f"looking up offsets by time at {link.address} failed within {link.timeout:g} s: "
            f"{_scrub(error.args[0].str(), link.settings)}"
        ) from None
    starts: dict[int, int] = {}
    for item in found:
        if from_ms is not None:
            if item.offset >= 0:
                starts[item.partition] = item.offset
        elif item.offset >= 0:
            starts[item.partition] = max(item.offset - budgets[item.partition], 0)
        else:  # every record is before to_time: its most recent ones
            starts[item.partition] = _tail(budgets[item.partition])
    return starts


#: One ``consume()`` call's records, column by column: partitions, offsets, timestamps (ms),
#: keys, value sizes and headers.
Chunk = tuple[list[int], list[int], list[int], list["bytes | None"], list[int], list[Any]]


def _read(
    link: _Link,
    topic: str,
    budgets: dict[int, int],
    from_ms: int | None,
    to_ms: int | None,
    duration: float | None,
    deliver: Callable[[Chunk], None],
    stopping: Callable[[], bool],
) -> tuple[str, str | None]:
    """The consume loop: each ``consume()`` call's kept records go to ``deliver`` as one
    :data:`Chunk`. Returns ``(stopped_by, reason)``; ``stopping()`` true (Ctrl-C) ends it.

    A batch with no error event, no time window and no partition past its budget (nearly
    every batch) is taken whole and its columns are extracted by ``map`` over the message
    methods, in C; any other batch goes message by message.
    """
    from confluent_kafka import KafkaError, KafkaException, Message, TopicPartition

    consumer, timeout = link.consumer, link.timeout
    remaining = dict(budgets)
    active = set(remaining)
    eof = KafkaError._PARTITION_EOF
    fatal_codes = {
        KafkaError.TOPIC_AUTHORIZATION_FAILED,
        KafkaError.UNKNOWN_TOPIC_OR_PART,
        KafkaError._UNKNOWN_PARTITION,
        KafkaError._AUTHENTICATION,
        KafkaError.SASL_AUTHENTICATION_FAILED,
    }
    windowed = from_ms is not None or to_ms is not None
    low = from_ms if from_ms is not None else -(2**62)
    high = to_ms if to_ms is not None else 2**62
    started = last_progress = time.monotonic()
    stopped_by, reason = "end", None
    kept_so_far = 0

    def finish(partition: int) -> None:
        active.discard(partition)
        consumer.pause([TopicPartition(topic, partition)])

    def whole(batch: list) -> bool:
        """Take the batch as it is, when nothing in it needs a look of its own."""
        if windowed or any(map(operator.is_not, map(Message.error, batch), _NONE)):
            return False  # (KafkaError == None raises, so no list.count(None) here)
        counts = Counter(map(Message.partition, batch))
        if any(p not in active or n > remaining[p] for p, n in counts.items()):
            return False
        for partition, count in counts.items():
            remaining[partition] -= count
            if not remaining[partition]:
                finish(partition)
        return True

    def one_by_one(batch: list) -> list:
        kept = []
        for message in batch:
            error = message.error()
            if error is not None:
                if error.code() == eof:
                    if message.partition() in active:
                        finish(message.partition())
                elif error.fatal() or error.code() in fatal_codes:
                    raise _Stop(error.str())
                else:
                    link.errors.append(error)
                continue
            partition = message.partition()
            if partition not in active:
                continue  # fetched before the partition was finished
            if windowed:
                stamp = message.timestamp()[1]
                if stamp > high:
                    finish(partition)
                    continue
                if stamp < low:
                    continue
            kept.append(message)
            remaining[partition] -= 1
            if not remaining[partition]:
                finish(partition)
        return kept

    try:
        while active:
            batch = consumer.consume(num_messages=1000, timeout=0.1)
            now = time.monotonic()
            if batch:
                last_progress = now
                kept = batch if whole(batch) else one_by_one(batch)
                if kept:
                    deliver(_columns(kept, Message))
                    kept_so_far += len(kept)
            if not active:
                break
            if stopping():
                stopped_by = "interrupt"
                reason = f"interrupted (Ctrl-C) after {kept_so_far:,} records"
                break
            if duration is not None and now - started >= duration:
                stopped_by = "duration"
                break
            if now - last_progress >= timeout:
                problem = link.problem()
                unfinished = ", ".join(str(p) for p in sorted(active)[:10])
                stalled = f"no records for {timeout:g} s from partition(s) {unfinished}" + (
                    f" ({problem})" if problem else ""
                )
                if _topic_deleted(link, topic):
                    stalled = f"{deleted(topic, link.address)}; {stalled}"
                raise _Stop(stalled)
    except _Stop as stop:
        stopped_by, reason = "stall", f"stopped after {kept_so_far:,} records: {stop.args[0]}"
    except KafkaException as error:
        stopped_by = "stall"
        reason = f"stopped after {kept_so_far:,} records: {error.args[0].str()}"
    return stopped_by, reason


def deleted(topic: str, address: str) -> str:
    """How a sample's reason says that its topic went away while it was read."""
    return f"topic {topic!r} no longer exists at {address} (deleted while it was read)"


def _topic_deleted(link: _Link, topic: str) -> bool:
    """True when the broker answers metadata and no longer lists ``topic``.

    Apache Kafka 4.x with librdkafka 2.16: after a topic is deleted under an assigned
    consumer, no record, error or end-of-partition event comes for it (none within 13 s
    in a test), so a stalled read asks. The request is for all topics, never naming this
    one (which would create it on a broker that auto-creates topics). It waits at most 2 s:
    a broker that is down leaves the reason as it was.
    """
    from confluent_kafka import KafkaException

    try:
        metadata = link.consumer.list_topics(timeout=min(link.timeout, 2.0))
    except KafkaException:
        return False
    return bool(metadata.brokers) and topic not in metadata.topics


_MILLIS = operator.itemgetter(1)  # Message.timestamp() is (type, ms)
_NONE = itertools.repeat(None)


def _columns(messages: list, message_type: Any) -> Chunk:
    """The sample columns of error-free messages (``map`` calls each method in C)."""
    return (
        list(map(message_type.partition, messages)),
        list(map(message_type.offset, messages)),
        list(map(_MILLIS, map(message_type.timestamp, messages))),
        list(map(message_type.key, messages)),
        list(map(len, messages)),  # len(message) is the value's size (0 for a null value)
        list(map(message_type.headers, messages)),
    )


class _Stop(Exception):
    """Reading cannot go on (a lost broker, a deleted topic); what was read is kept."""
