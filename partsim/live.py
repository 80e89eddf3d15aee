"""Live topics: sample a running topic read-only, and find out which producers wrote it.

The partition a record sits on was chosen by the producer that wrote it, so a topic records
which partitioner each producer really used. :func:`sample_topic` reads a sample spread evenly
over the partitions; :func:`verify` finds the registered partitioners that predict each keyed
record's observed partition; :func:`analyze_sample` runs ``partsim analyze`` on a sample and
sets the observed partitions beside the predicted ones.

Read-only by construction. Partitions are assigned directly (``assign()``), never subscribed,
so no consumer group is joined and no rebalance touches an application's group. librdkafka's
consumer needs a ``group.id``: it is a fresh ``partsim-sample-<uuid4>`` with
``enable.auto.commit=false`` and ``enable.auto.offset.store=false``, and partsim never calls
``commit()``. Nothing is produced. Topic metadata is requested for *all* topics, because a
metadata request that names a missing topic creates it on brokers with
``auto.create.topics.enable``.

Broker quirks handled on purpose: a partition is finished by its end-of-partition event or its
budget, never by its high watermark (some brokers, Tansu among them, report a wrong one), and
records are filtered by timestamp on the client as well, since ``offsets_for_times`` is only a
starting hint.

The consumer runs in a child process, the reading process, whose code is in
:mod:`partsim._live_reader`: a crash of librdkafka (a C library) ends that process, and the
sample read so far is kept (see :class:`_Reader`). These two are the only modules that import
a Kafka client, and they do so inside functions, so ``import partsim`` stays light.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import json
import logging
import math
import os
import pickle
import queue
import re
import signal
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from partsim._live_reader import (
    _FRAME,
    REDACTED,
    Chunk,
    _budgets,
    _scrub,
    deleted,
    is_secret,
    remember_secrets,
)
from partsim.errors import BrokerError, DataError, PartsimError, UsageError
from partsim.extras import missing_extra, require
from partsim.files import atomic_write, check_writable
from partsim.options import InputOptions
from partsim.partitioners import (
    bool_mask,
    check_partition_count,
    get_partitioner,
    partitioner_names,
)
from partsim.schemas.wire import recognize_key_counts
from partsim.sketch import DEFAULT_EXACT_KEY_BYTES, DEFAULT_EXACT_KEYS

__all__ = [
    "LiveSample",
    "VerifyResult",
    "analyze_sample",
    "client_config",
    "load_sample",
    "observed_vs_predicted",
    "read_properties",
    "redact",
    "sample_topic",
    "verify",
    "write_sample",
]

#: librdkafka's log lines go here, never to stderr: a user sees one ``Error:`` line instead.
LOG = logging.getLogger("partsim.live")
LOG.addHandler(logging.NullHandler())

#: Columns of a sample, in order. ``key`` is the raw key bytes (null for a null key).
SAMPLE_SCHEMA = pa.schema(
    [
        ("key", pa.binary()),
        ("partition", pa.int32()),
        ("offset", pa.int64()),
        ("timestamp", pa.timestamp("ms", tz="UTC")),
        ("key_size", pa.int32()),
        ("value_size", pa.int32()),
        ("headers", pa.string()),
    ]
)
#: The Parquet schema-metadata key (and the CSV sidecar's content) holding a sample's facts.
METADATA_KEY = b"partsim.sample"
#: Share of keyed records one partitioner must explain for the topic to count as unmixed.
EXPLAINED_ENOUGH = 0.99
#: How many keys ``keys_on_multiple_partitions`` lists.
EXAMPLES = 10

#: Properties partsim sets itself to stay read-only; ``-X`` may not change them.
_READ_ONLY_PROPERTIES = (
    "group.id",
    "group.instance.id",
    "group.protocol",
    "enable.auto.commit",
    "enable.auto.offset.store",
    "enable.partition.eof",
    "allow.auto.create.topics",
)


# --------------------------------------------------------------------------- secrets


def redact(config: Mapping[str, object]) -> dict[str, object]:
    """A copy of ``config`` that is safe to print, log or write: secret values are replaced.

    Every place partsim shows client properties (errors, sample metadata, reports) goes
    through this function.

    >>> redact({"bootstrap.servers": "b:9092", "sasl.password": "hunter2"})
    {'bootstrap.servers': 'b:9092', 'sasl.password': '[redacted]'}
    """
    return {
        name: REDACTED if is_secret(name) and value not in (None, "") else value
        for name, value in config.items()
    }


# --------------------------------------------------------------------------- configuration


def read_properties(path: str | os.PathLike[str]) -> dict[str, str]:
    r"""Parse a Java ``.properties`` file: ``key=value``, ``key: value`` or ``key value``.

    Follows ``java.util.Properties.load``: ``#`` and ``!`` start comments, a line ending in
    an odd number of backslashes continues on the next, and ``\t``, ``\n``, ``\uXXXX`` and
    ``\<char>`` are unescaped.
    """
    try:
        raw = Path(path).read_bytes()
    except OSError as error:
        raise UsageError(f"--config {str(path)!r}: cannot read it ({error.strerror})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")  # Java's historical encoding for .properties
    properties: dict[str, str] = {}
    pending = ""
    for line in text.splitlines():
        stripped = line.lstrip() if not pending else line.lstrip(" \t\f")
        if not pending and (not stripped or stripped[0] in "#!"):
            continue
        trailing = len(stripped) - len(stripped.rstrip("\\"))
        if trailing % 2:
            pending += stripped[:-1]
            continue
        logical, pending = pending + stripped, ""
        name, value = _split_property(logical)
        properties[name] = value
    if pending:
        name, value = _split_property(pending)
        properties[name] = value
    return properties


def _split_property(line: str) -> tuple[str, str]:
    index = 0
    while index < len(line):
        char = line[index]
        if char == "\\":
            index += 2
            continue
        if char in "=: \t\f":
            break
        index += 1
    name, rest = line[:index], line[index:].lstrip(" \t\f")
    if rest[:1] in ("=", ":"):
        rest = rest[1:].lstrip(" \t\f")
    return _unescape(name), _unescape(rest)


def _unescape(text: str) -> str:
    simple = {"t": "\t", "n": "\n", "r": "\r", "f": "\f"}

    def one(match: re.Match[str]) -> str:
        escaped = match.group(1)
        if escaped.startswith("u") and len(escaped) == 5:
            return chr(int(escaped[1:], 16))
        return simple.get(escaped, escaped)

    return re.sub(r"\\(u[0-9a-fA-F]{4}|.)", one, text)


#: Java client properties that have no librdkafka equivalent and change nothing for a reader.
_JAVA_ONLY = frozenset(
    {
        "key.deserializer",
        "value.deserializer",
        "key.serializer",
        "value.serializer",
        "client.dns.lookup",
        "sasl.login.callback.handler.class",
        "sasl.client.callback.handler.class",
        "ssl.truststore.type",
        "ssl.keystore.type",
        "ssl.truststore.password",
        "ssl.protocol",
        "ssl.enabled.protocols",
        "ssl.keymanager.algorithm",
        "ssl.trustmanager.algorithm",
        "ssl.secure.random.implementation",
        "ssl.engine.factory.class",
        "interceptor.classes",
        "metric.reporters",
    }
)
_JAVA_ONLY_PREFIXES = ("schema.registry.", "basic.auth.", "bearer.auth.", "confluent.")


def java_properties_to_librdkafka(
    properties: Mapping[str, str], source: str = "--config"
) -> dict[str, str]:
    """Translate a Java client's properties into librdkafka's.

    ``sasl.jaas.config`` becomes ``sasl.username``/``sasl.password`` (PLAIN, SCRAM), the
    OIDC client settings (OAUTHBEARER) or the Kerberos keytab and principal (GSSAPI); PEM
    trust and key stores become ``ssl.ca.location``, ``ssl.certificate.location`` and
    ``ssl.key.location`` (a PKCS#12 keystore stays ``ssl.keystore.location``). A JKS store is
    a :class:`UsageError`: librdkafka reads PEM files. Java-only properties (serializers,
    Schema Registry settings) are dropped; the rest pass through unchanged.
    """
    out: dict[str, str] = {}
    for name, value in properties.items():
        if name in _JAVA_ONLY or name.startswith(_JAVA_ONLY_PREFIXES):
            continue
        if name == "sasl.jaas.config":
            out.update(_jaas(value, source))
        elif name == "ssl.truststore.location":
            kind = _store_type(properties, "truststore", value)
            if kind != "PEM":
                raise UsageError(
                    f"{source}: ssl.truststore.location {value!r} is a {kind} store, and "
                    "librdkafka reads PEM files: export the CA certificate with `keytool "
                    f"-exportcert -rfc -keystore {value} -alias <alias> -file ca.pem` and "
                    "set ssl.truststore.location=ca.pem (or -X ssl.ca.location=ca.pem)"
                )
            out["ssl.ca.location"] = value
        elif name == "ssl.keystore.location":
            kind = _store_type(properties, "keystore", value)
            if kind == "PEM":  # one file holding the key and the certificate chain
                out["ssl.certificate.location"] = value
                out["ssl.key.location"] = value
            elif kind == "PKCS12":
                out["ssl.keystore.location"] = value
                if "ssl.keystore.password" in properties:
                    out["ssl.keystore.password"] = properties["ssl.keystore.password"]
            else:
                raise UsageError(
                    f"{source}: ssl.keystore.location {value!r} is a {kind} store, and "
                    "librdkafka reads PEM (or PKCS#12) files: convert it with `keytool "
                    f"-importkeystore -srckeystore {value} -destkeystore client.p12 "
                    "-deststoretype PKCS12` and set ssl.keystore.type=PKCS12"
                )
        elif name == "ssl.keystore.password":
            continue  # used with a PKCS#12 keystore above; PEM keys use ssl.key.password
        elif name == "ssl.truststore.certificates":
            out["ssl.ca.pem"] = value
        elif name == "ssl.keystore.certificate.chain":
            out["ssl.certificate.pem"] = value
        elif name == "ssl.keystore.key":
            out["ssl.key.pem"] = value
        elif name == "ssl.endpoint.identification.algorithm":
            out[name] = value or "none"
        else:
            out[name] = value
    return out


def _store_type(properties: Mapping[str, str], store: str, location: str) -> str:
    given = properties.get(f"ssl.{store}.type", "").strip().upper()
    if given:
        return "PKCS12" if given in ("PKCS12", "P12") else given
    suffix = Path(location).suffix.lower()
    if suffix in (".pem", ".crt", ".cer", ".key"):
        return "PEM"
    if suffix in (".p12", ".pfx"):
        return "PKCS12"
    return "JKS"  # Java's default store type


def _jaas(value: str, source: str) -> dict[str, str]:
    """librdkafka SASL properties from a ``sasl.jaas.config`` login-module line."""
    module = value.strip().split(None, 1)[0] if value.strip() else ""
    options = {
        match.group(1): (
            re.sub(r"\\(.)", r"\1", match.group(2))
            if match.group(2) is not None
            else match.group(3)
        )
        for match in re.finditer(r'([\w.]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s;]+))', value)
    }
    remember_secrets(options)  # its password, clientSecret, ...
    short = module.rsplit(".", 1)[-1]
    if short in ("PlainLoginModule", "ScramLoginModule"):
        if "username" not in options or "password" not in options:
            raise UsageError(f"{source}: sasl.jaas.config {short} needs username and password")
        return {"sasl.username": options["username"], "sasl.password": options["password"]}
    if short == "OAuthBearerLoginModule":
        out = {"sasl.oauthbearer.method": "oidc"}
        names = {"clientId": "client.id", "clientSecret": "client.secret", "scope": "scope"}
        for java, librdkafka in names.items():
            if java in options:
                out[f"sasl.oauthbearer.{librdkafka}"] = options[java]
        return out
    if short == "Krb5LoginModule":
        out = {}
        if "keyTab" in options:
            out["sasl.kerberos.keytab"] = options["keyTab"]
        if "principal" in options:
            out["sasl.kerberos.principal"] = options["principal"]
        return out
    # A JAAS line holds secrets: only a login module's class name is shown from it.
    named = re.fullmatch(r"[A-Za-z_$][\w$]*(\.[A-Za-z_$][\w$]*)*LoginModule", module)
    raise UsageError(
        f"{source}: sasl.jaas.config "
        + (f"uses {short}" if named else "does not start with a login module class (the "
           "line is not shown: it holds secrets)")
        + "; partsim maps PlainLoginModule, ScramLoginModule, OAuthBearerLoginModule and "
        "Krb5LoginModule (or give librdkafka properties with -X)"
    )  # fmt: skip


def client_config(
    bootstrap: str | None,
    *,
    config: Mapping[str, object] | None = None,
    config_file: str | os.PathLike[str] | None = None,
) -> dict[str, str]:
    """The librdkafka properties to connect with: ``config_file`` (Java-style), then
    ``config`` (librdkafka names, as ``-X`` gives them), then ``bootstrap``, later winning.

    Raises :class:`UsageError` without a bootstrap address, or when ``config`` tries to set a
    property partsim keeps read-only (``group.id``, ``enable.auto.commit``, ...).
    """
    settings: dict[str, str] = {}
    remember_secrets(config or {})
    if config_file is not None:
        source = f"--config {os.fspath(config_file)}"
        properties = read_properties(config_file)
        remember_secrets(properties)
        settings.update(java_properties_to_librdkafka(properties, source))
        remember_secrets(settings)  # the username and password from a JAAS line, too
    for name, value in (config or {}).items():
        if name in _READ_ONLY_PROPERTIES:
            raise UsageError(
                f"-X {name} cannot be set: partsim sets it itself to stay read-only "
                "(a fresh group id that is never joined or committed)"
            )
        settings[str(name)] = str(value)
    for name in _READ_ONLY_PROPERTIES:
        settings.pop(name, None)  # a config file's group.id must not be used either
    if bootstrap:
        settings["bootstrap.servers"] = bootstrap
    if not settings.get("bootstrap.servers"):
        raise UsageError("--bootstrap is required (HOST:PORT), or bootstrap.servers in --config")
    return settings


# --------------------------------------------------------------------------- times


_RELATIVE = re.compile(r"^-\s*(\d+(?:\.\d+)?)\s*(ms|s|sec|m|min|h|d|w)$")
_UNIT_MS = {"ms": 1, "s": 1000, "sec": 1000, "m": 60_000, "min": 60_000, "h": 3_600_000,
            "d": 86_400_000, "w": 604_800_000}  # fmt: skip


def parse_time(value: object, option: str, *, now_ms: int | None = None) -> int | None:
    """Milliseconds since the epoch from a datetime, ISO 8601 text (UTC unless it has a zone),
    epoch seconds or milliseconds (told apart by magnitude), or a time back from now such as
    ``-1h``, ``-30min`` or ``-2d``.

    >>> parse_time("2024-01-01T00:00:00Z", "--from-time")
    1704067200000
    >>> parse_time("-1h", "--from-time", now_ms=7_200_000)
    3600000
    """
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
        return int(moment.timestamp() * 1000)
    text = str(value).strip()
    relative = _RELATIVE.match(text.lower())
    if relative:
        now = int(time.time() * 1000) if now_ms is None else now_ms
        return now - int(float(relative.group(1)) * _UNIT_MS[relative.group(2)])
    if re.fullmatch(r"\d+(\.\d+)?", text):
        number = float(text)
        return int(number * 1000) if number < 1e11 else int(number)
    try:
        moment = dt.datetime.fromisoformat(text[:-1] + "+00:00" if text[-1:] in "zZ" else text)
    except ValueError:
        raise UsageError(
            f"{option} must be an ISO 8601 time (2024-05-01T12:00:00Z), epoch seconds or "
            f"milliseconds, or a time back from now such as -1h; got {text!r}"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    return int(moment.timestamp() * 1000)


def _iso(ms: int | None) -> str | None:
    if ms is None:
        return None
    moment = dt.datetime.fromtimestamp(ms / 1000, tz=dt.timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


# --------------------------------------------------------------------------- sampling


@dataclass(frozen=True)
class LiveSample:
    """Records read from a topic: the :data:`SAMPLE_SCHEMA` table and what was asked for.

    ``partial`` is true when reading stopped before every partition gave its budget or
    reached its end (Ctrl-C, a lost broker, no progress for ``timeout`` seconds, a deleted
    topic, a crashed Kafka client); ``reason`` says why, and ``stopped_by`` is one of
    ``"end"`` (every partition finished), ``"duration"`` (the time bound was reached),
    ``"interrupt"`` or ``"stall"`` (anything else that ended reading early).
    ``settings`` are the client properties used, already redacted.
    """

    table: pa.Table
    topic: str
    partition_count: int
    partial: bool = False
    reason: str | None = None
    stopped_by: str = "end"
    sampled_at: str = ""
    group_id: str | None = None
    settings: Mapping[str, object] = field(default_factory=dict)
    request: Mapping[str, object] = field(default_factory=dict)

    @property
    def records(self) -> int:
        return self.table.num_rows

    def metadata(self) -> dict[str, object]:
        """The JSON-ready facts a written sample carries (no secrets: settings are redacted)."""
        return {
            "topic": self.topic,
            "partition_count": self.partition_count,
            "records": self.records,
            "partial": self.partial,
            "reason": self.reason,
            "stopped_by": self.stopped_by,
            "sampled_at": self.sampled_at,
            "group_id": self.group_id,
            "settings": redact(self.settings),
            "request": dict(self.request),
        }

    def __repr__(self) -> str:
        state = f"partial: {self.reason}" if self.partial else "complete"
        return (
            f"<LiveSample {self.records:,} records of {self.topic!r} "
            f"({self.partition_count} partitions), {state}>"
        )


def sample_topic(
    bootstrap: str | None,
    topic: str,
    *,
    max_messages: int = 10_000,
    duration: float | None = None,
    from_time: object = None,
    to_time: object = None,
    config: Mapping[str, object] | None = None,
    config_file: str | os.PathLike[str] | None = None,
    timeout: float = 10.0,
    progress: bool = False,
    status: Callable[[str], None] | None = None,
) -> LiveSample:
    """Read a sample of ``topic``, spread evenly over its partitions, without disturbing it.

    Each partition gets a budget of ``max_messages / partitions`` records (the remainder to
    the lowest partitions). Without times, a partition's most recent ``budget`` records are
    read. With ``from_time`` reading starts at the first record at or after it; with
    ``to_time`` alone it starts ``budget`` records before the first record after it. Records
    outside ``[from_time, to_time]`` are skipped on the client, and a partition is finished
    by its budget, its end, or a record after ``to_time``. A partition that holds fewer
    records than its budget does not pass the rest on.

    ``timeout`` bounds connecting and the metadata calls (:class:`BrokerError`:
    unreachable, authentication refused); while reading, ``timeout`` seconds without a
    record or an end-of-partition event stop the sample as partial (a broker that died).
    ``duration`` bounds the reading itself. Ctrl-C also stops it: what was read is returned,
    marked partial. A missing topic is a :class:`UsageError` naming similar topics; a topic
    with no records (in the time range) a :class:`DataError`.

    The Kafka client runs in a child process (see :class:`_Reader`) and sends the records
    here in batches, so that a crash of librdkafka (it segfaults when a topic is deleted
    under it on some brokers) cannot take the caller down: what was received is returned,
    marked partial, with the signal and, when the topic is gone, that it was deleted.

    ``status``, when given, receives one line of text once reading starts.
    """
    require("kafka")  # before anything else: the reading process needs confluent-kafka
    if isinstance(max_messages, bool) or not isinstance(max_messages, int) or max_messages < 1:
        raise UsageError(f"max_messages must be a whole number >= 1; got {max_messages!r}")
    timeout = _positive(timeout, "timeout")
    if duration is not None:
        duration = _positive(duration, "duration")
    if not topic or not isinstance(topic, str):
        raise UsageError("--topic is required: the name of the topic to sample")
    from_ms = parse_time(from_time, "--from-time")
    to_ms = parse_time(to_time, "--to-time")
    if from_ms is not None and to_ms is not None and from_ms > to_ms:
        raise UsageError(f"--from-time ({_iso(from_ms)}) is after --to-time ({_iso(to_ms)})")
    settings = client_config(bootstrap, config=config, config_file=config_file)
    group_id = f"partsim-sample-{uuid.uuid4()}"
    started = dt.datetime.now(dt.timezone.utc)
    request = {
        "max_messages": max_messages,
        "duration": duration,
        "from_time": _iso(from_ms),
        "to_time": _iso(to_ms),
        "timeout": timeout,
    }
    job = {"settings": settings, "group_id": group_id, "topic": topic, "from_ms": from_ms,
           "to_ms": to_ms, **request}  # fmt: skip
    partition_count, batches, stopped_by, reason = _sample_in_reader(job, status, progress)
    table = pa.Table.from_batches(batches, SAMPLE_SCHEMA).combine_chunks()
    if table.num_rows == 0 and stopped_by == "end":
        raise DataError(_no_records(topic, from_ms, to_ms))
    if table.num_rows == 0 and stopped_by == "duration":
        raise DataError(f"no records of topic {topic!r} arrived within --duration {duration:g} s")
    if table.num_rows == 0 and stopped_by == "stall":
        raise BrokerError(_scrub(reason or "no records", settings))
    return LiveSample(
        table=table,
        topic=topic,
        partition_count=partition_count,
        partial=stopped_by in ("interrupt", "stall"),
        reason=_scrub(reason, settings) if reason else None,
        stopped_by=stopped_by,
        sampled_at=started.isoformat(timespec="seconds").replace("+00:00", "Z"),
        group_id=group_id,
        settings=redact(settings),
        request=request,
    )


def _positive(value: object, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise UsageError(f"{name} must be a positive number of seconds; got {value!r}")
    if not math.isfinite(value):
        raise UsageError(f"{name} must be a finite number of seconds; got {value!r}")
    return float(value)


def _no_records(topic: str, from_ms: int | None, to_ms: int | None) -> str:
    if from_ms is None and to_ms is None:
        return f"topic {topic!r} is empty: no records to sample"
    window = f"between {_iso(from_ms) or 'the start'} and {_iso(to_ms) or 'now'}"
    return f"topic {topic!r} has no records {window}"


def _sample_batch(chunk: Chunk) -> pa.RecordBatch:
    """The :data:`SAMPLE_SCHEMA` batch of one consumed chunk."""
    partitions, offsets, millis, keys, value_sizes, headers = chunk
    count = len(partitions)
    key_array = pa.array(keys, pa.binary())
    stamps = np.fromiter(millis, dtype=np.int64, count=count)
    timestamps = pa.array(stamps, mask=stamps < 0).cast(pa.timestamp("ms", tz="UTC"))
    if headers.count(None) == count:
        header_text = pa.nulls(count, pa.string())
    else:
        header_text = pa.array(
            [None if h is None else _headers_json(h) for h in headers], pa.string()
        )
    return pa.record_batch(
        [
            key_array,
            pa.array(partitions, pa.int32()),
            pa.array(offsets, pa.int64()),
            timestamps,
            pc.binary_length(key_array).cast(pa.int32()),
            pa.array(value_sizes, pa.int32()),
            header_text,
        ],
        schema=SAMPLE_SCHEMA,
    )


def _headers_json(headers: Sequence[tuple[str, bytes | None]]) -> str:
    """A record's headers as JSON: ``[[name, base64 value or null], ...]`` in record order."""
    return json.dumps(
        [[name, None if value is None else base64.b64encode(value).decode("ascii")]
         for name, value in headers],
        separators=(",", ":"),
    )  # fmt: skip


# --------------------------------------------------------------------------- the reading process


#: The reading process's program for ``python -c``; its job comes as JSON on stdin (so no
#: secret is on a command line). It ignores Ctrl-C until the reader installs its own handler
#: (the parent decides what Ctrl-C means while connecting), and imports
#: :mod:`partsim._live_reader` under a bare ``partsim`` package, without numpy and pyarrow.
_READER_PROGRAM = (
    "import json, signal, sys, types; signal.signal(signal.SIGINT, signal.SIG_IGN); "
    "job = json.load(sys.stdin); sys.path[:] = job['path']; "
    "package = sys.modules['partsim'] = types.ModuleType('partsim'); "
    "package.__path__ = [job['package']]; "
    "from partsim._live_reader import main; main(job)"
)
#: Seconds the reading process may stay silent beyond ``timeout`` (its start and its imports,
#: on a loaded machine) before it counts as hung and is killed.
_GRACE = 10.0
#: The errors a reading process reports, by name.
_ERRORS = {error.__name__: error for error in (PartsimError, UsageError, DataError, BrokerError)}


def _sample_in_reader(
    job: dict[str, Any], status: Callable[[str], None] | None, progress: bool
) -> tuple[int, list[pa.RecordBatch], str, str | None]:
    """Read as ``job`` says in a :class:`_Reader`. Returns the topic's partition count, the
    record batches received, ``stopped_by`` and ``reason``.

    When the reading process dies without saying how reading ended, what it sent is kept and
    the reason names the signal (a crash) and, when the topic is gone, its deletion.
    """
    from partsim.progress import Progress

    topic, address = job["topic"], job["settings"]["bootstrap.servers"]
    with _Reader(job) as reader:
        opened = reader.receive()
        if opened is None:
            raise BrokerError(f"{reader.ending()} while connecting to {address}")
        budgets = dict(opened["budgets"])
        if not budgets:
            raise DataError(_no_records(topic, job["from_ms"], job["to_ms"]))
        partition_count = opened["partition_count"]
        if status is not None:
            status(
                f"sampling {topic}: up to {sum(budgets.values()):,} records from "
                f"{len(budgets)} of {partition_count} partitions (Ctrl-C stops and keeps what "
                "was read)"
            )
        batches: list[pa.RecordBatch] = []
        received = 0
        bar = Progress(
            enabled=progress, total_bytes=sum(budgets.values()), label=f"sampling {topic}"
        )
        with bar, _ctrl_c(reader.interrupt):
            while (item := reader.receive()) is not None:
                if not isinstance(item, pa.RecordBatch):
                    return partition_count, batches, item["stopped_by"], item["reason"]
                batches.append(item)
                received += item.num_rows
                bar.update(item.num_rows, received)
        if reader.interrupts:  # a second Ctrl-C killed it
            reason = f"interrupted (Ctrl-C) after {received:,} records"
            return partition_count, batches, "interrupt", reason
        problem = reader.ending()
    if reader.crashed and _topic_gone(job):
        problem = f"{deleted(topic, address)}; {problem}"
    return partition_count, batches, "stall", f"stopped after {received:,} records: {problem}"


def _topic_gone(job: dict[str, Any]) -> bool:
    """True when ``job``'s topic is no longer in the cluster's metadata (asked by a fresh
    reading process, which reads nothing)."""
    try:
        with _Reader({**job, "probe": True}) as probe:
            probe.receive()
    except UsageError:  # the topic is not found
        return True
    except (PartsimError, RuntimeError) as error:
        LOG.debug("could not tell whether topic %r still exists: %s", job["topic"], error)
    return False


class _Reader:
    """The child process that runs the Kafka client for :func:`sample_topic`.

    librdkafka is C, and when it crashes it takes its process along: version 2.16 segfaults
    (in ``rd_kafka_metadata_cache_find``) when a topic is deleted under it on Tansu. So the
    consumer runs in a fresh Python process (``python -c`` :data:`_READER_PROGRAM`, the same
    interpreter and ``sys.path``; its code is :mod:`partsim._live_reader`), which writes
    :data:`_FRAME` frames to its stdout: each ``consume()`` call's records as a pickled
    :data:`Chunk` of columns, and JSON events (the partitions it reads, log lines, how reading
    ended, a :class:`PartsimError`). A thread here turns the frames into items of a queue,
    the chunks into Arrow record batches (in parallel with the reading). The process's exit
    code says how it ended when it could not say so itself.

    Ctrl-C, once :func:`_ctrl_c` passes it to :meth:`interrupt`, is passed on to the process
    (SIGINT), which stops reading and reports what it read; a second one (or the first, where
    there is no SIGINT to send) kills it. A process silent for
    ``timeout`` + :data:`_GRACE` seconds is killed as hung.
    """

    def __init__(self, job: dict[str, Any]) -> None:
        self.settings = job["settings"]
        self.idle = job["timeout"] + _GRACE
        self.client = "librdkafka"
        self.interrupts = self.forwarded = 0
        self.hung = self.killed = False
        # The same imports as here: this sys.path, and this partsim package.
        path = [str(entry) for entry in sys.path if isinstance(entry, (str, os.PathLike))]
        package = str(Path(__file__).resolve().parent)
        facts = {**job, "path": path, "package": package, "log_level": LOG.getEffectiveLevel()}
        payload = json.dumps(facts).encode("utf-8")
        self.stderr = tempfile.TemporaryFile()  # noqa: SIM115 (closed by __exit__)
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-c", _READER_PROGRAM],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=self.stderr,
            )
        except OSError as error:
            self.stderr.close()
            raise PartsimError(
                f"cannot start a Python process to read the topic: {error}"
            ) from None
        self.last = time.monotonic()
        self.inbox: queue.SimpleQueue = queue.SimpleQueue()
        self.pump = threading.Thread(
            target=_pump, args=(self.process.stdout, self.inbox), daemon=True
        )
        self.pump.start()
        with contextlib.suppress(OSError):  # if it died at once, ending() tells how
            self.process.stdin.write(payload)
        with contextlib.suppress(OSError):
            self.process.stdin.close()

    def __enter__(self) -> _Reader:
        return self

    def __exit__(self, kind: object, *_: object) -> None:
        if kind is not None or self.process.poll() is None:
            # After its last event the process only closes its consumer: a second is plenty.
            self._wait(0 if kind is not None else 1.0)
        self.pump.join()
        self.process.stdout.close()
        self.stderr.close()

    def interrupt(self) -> None:
        """Ctrl-C: counted here, acted on in :meth:`receive` (not inside a signal handler)."""
        self.interrupts += 1

    def receive(self) -> pa.RecordBatch | dict[str, Any] | None:
        """The next record batch or event; None once the process has gone without a last
        word. Log lines are logged here, and a reported error is raised."""
        while True:
            self._watch()
            try:
                item = self.inbox.get(timeout=0.1)
            except queue.Empty:
                continue
            if item is None:
                return None
            if isinstance(item, Exception):
                raise item
            self.last = time.monotonic()
            if isinstance(item, pa.RecordBatch):
                return item
            if "log" in item:
                level, message = item["log"]
                LOG.log(level, "%s", _scrub(message, self.settings))
                continue
            if "error" in item:
                message = _scrub(item["message"], self.settings)
                if item["error"] in _ERRORS:
                    raise _ERRORS[item["error"]](message)
                if item["error"] == "ImportError":  # confluent-kafka, installed but broken
                    raise missing_extra("kafka", message)
                LOG.error("the reading process failed:\n%s", message)
                raise RuntimeError(
                    f"the reading process failed: {message.strip().splitlines()[-1]}"
                )
            self.client = item.get("client", self.client)
            return item

    def _watch(self) -> None:
        """Pass a new Ctrl-C on (the second one kills); kill a process that went silent."""
        if self.interrupts > self.forwarded:
            self.forwarded = self.interrupts
            if self.interrupts == 1 and os.name == "posix" and self.process.poll() is None:
                self.process.send_signal(signal.SIGINT)
            else:
                self._wait(0)
        if time.monotonic() - self.last > self.idle and self.process.poll() is None:
            self.hung = True
            self._wait(0)

    def _wait(self, seconds: float) -> int:
        """Wait up to ``seconds`` for the process to end, then kill it; its exit code."""
        try:
            return self.process.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            self.killed = True
            self.process.kill()
            return self.process.wait()

    @property
    def crashed(self) -> bool:
        """True when the process died by a signal that partsim did not send."""
        code = self.process.poll()
        return code is not None and code < 0 and not self.killed

    def ending(self) -> str:
        """How the process ended without a last word: a crash (which signal), a hang, or an
        exit (with its last line on stderr)."""
        code = self._wait(5.0)
        if self.hung:
            return f"the Kafka client ({self.client}) stopped answering for {self.idle:g} s"
        if code < 0 and not self.killed:
            name = signal.Signals(-code).name if -code in signal.valid_signals() else "unknown"
            return f"the Kafka client ({self.client}) crashed (signal {-code}, {name})"
        if self.killed:
            return "the reading process stopped sending and did not exit: it was killed"
        self.stderr.seek(0)
        lines = self.stderr.read().decode("utf-8", "replace").strip().splitlines()
        last = _scrub(lines[-1], self.settings) if lines else ""
        return f"the reading process exited with code {code}" + (f": {last}" if last else "")


def _pump(stream: Any, inbox: queue.SimpleQueue) -> None:
    """Frames from a reading process into ``inbox`` (record batches and event dicts), then
    None at the end of the stream or at a frame cut short (the process died writing it). An
    unexpected exception (a bug) goes into ``inbox`` too, for :meth:`_Reader.receive` to raise."""
    try:
        while len(head := stream.read(_FRAME.size)) == _FRAME.size:
            kind, size = _FRAME.unpack(head)
            payload = stream.read(size)
            if len(payload) < size:
                break
            if kind == b"C":  # from our own reading process: trusted
                inbox.put(_sample_batch(pickle.loads(payload)))
            else:
                inbox.put(json.loads(payload))
    except OSError as error:
        LOG.debug("reading from the reading process failed: %s", error)
    except Exception as error:  # whole frames from partsim's own process: a bug
        inbox.put(error)
    finally:
        inbox.put(None)


@contextlib.contextmanager
def _ctrl_c(handler: Callable[[], None]) -> Iterator[None]:
    """Within the block, Ctrl-C calls ``handler`` instead of raising KeyboardInterrupt (in the
    main thread, where Python delivers signals, unless SIGINT is ignored)."""
    previous = signal.getsignal(signal.SIGINT)
    in_main = threading.current_thread() is threading.main_thread()
    if not in_main or previous in (signal.SIG_IGN, None):
        yield
        return
    signal.signal(signal.SIGINT, lambda *_: handler())
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


# --------------------------------------------------------------------------- files


def write_sample(sample: LiveSample, path: str | os.PathLike[str]) -> Path:
    """Write ``sample`` as Parquet (``.parquet``/``.pq``) or CSV (``.csv``), atomically.

    Parquet keeps every column as read, with the sample's facts (topic, partition count,
    partial, reason, time, redacted settings) in the schema metadata. CSV has the key as
    text when every key is valid UTF-8, else a ``key_hex`` column; times are ISO 8601; the
    facts go to ``<path>.meta.json``. Either file is what ``partsim analyze`` reads: ``--key
    key`` (or ``--key key_hex --key-format hex``). In CSV an empty key reads back as null,
    except through :func:`load_sample`, which restores it from ``key_size``.
    """
    import pyarrow.csv as pa_csv
    import pyarrow.parquet as pq

    target = Path(path)
    kind = _file_kind(target)
    facts = json.dumps(sample.metadata(), ensure_ascii=False).encode("utf-8")
    if kind == "parquet":
        table = sample.table.replace_schema_metadata({METADATA_KEY: facts})
        atomic_write(target, lambda tmp: pq.write_table(table, tmp), option="-o")
        return target
    table = _csv_table(sample.table)
    sidecar = target.with_name(target.name + ".meta.json")
    atomic_write(sidecar, lambda tmp: Path(tmp).write_bytes(facts + b"\n"), option="-o")
    atomic_write(target, lambda tmp: pa_csv.write_csv(table, tmp), option="-o")
    return target


def _file_kind(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq"):
        return "parquet"
    if suffix == ".csv":
        return "csv"
    raise UsageError(f"the sample file must end in .parquet or .csv; got {str(path)!r}")


def _csv_table(table: pa.Table) -> pa.Table:
    keys = table.column("key").combine_chunks() if table.num_rows else table.column("key")
    try:
        key_column = ("key", pc.cast(keys, pa.string()))
    except pa.ArrowInvalid:  # some key is not UTF-8: write every key as hex
        key_column = ("key_hex", pc.hex(keys) if hasattr(pc, "hex") else _hex(keys))
    stamps = pc.strftime(table.column("timestamp"), format="%Y-%m-%dT%H:%M:%SZ")
    columns = {key_column[0]: key_column[1]}
    for name in table.column_names[1:]:
        columns[name] = stamps if name == "timestamp" else table.column(name)
    return pa.table(columns)


def _hex(keys: pa.Array | pa.ChunkedArray) -> pa.Array:
    return pa.array([None if k is None else k.hex() for k in keys.to_pylist()], pa.string())


def load_sample(path: str | os.PathLike[str]) -> LiveSample:
    """Read back a sample written by :func:`write_sample`, with its facts."""
    import pyarrow.csv as pa_csv
    import pyarrow.parquet as pq

    source = Path(path)
    kind = _file_kind(source)
    if not source.is_file():
        raise UsageError(f"sample file {str(source)!r} not found")
    if kind == "parquet":
        try:
            table = pq.read_table(source)
        except (pa.ArrowException, OSError) as error:
            raise DataError(f"{source}: not a readable Parquet file ({error})") from None
        raw = (table.schema.metadata or {}).get(METADATA_KEY)
        facts = json.loads(raw) if raw else None
        table = table.replace_schema_metadata(None)
    else:
        sidecar = source.with_name(source.name + ".meta.json")
        facts = json.loads(sidecar.read_text(encoding="utf-8")) if sidecar.is_file() else None
        text_types = {"key": pa.string(), "key_hex": pa.string(), "headers": pa.string(),
                      "timestamp": pa.string()}  # fmt: skip
        try:
            table = pa_csv.read_csv(
                source,
                convert_options=pa_csv.ConvertOptions(
                    column_types=text_types, strings_can_be_null=True
                ),
            )
        except (pa.ArrowException, OSError) as error:
            raise DataError(f"{source}: not a readable CSV file ({error})") from None
        table = _from_csv(table)
    if facts is None:
        raise DataError(
            f"{source} is not a partsim sample (no sample metadata); `partsim verify` reads it "
            "with -p/--partitions"
        )
    missing = [name for name in SAMPLE_SCHEMA.names if name not in table.column_names]
    if missing:
        raise DataError(f"{source}: a sample needs the columns {', '.join(missing)}")
    return LiveSample(
        table=table.select(SAMPLE_SCHEMA.names).cast(SAMPLE_SCHEMA),
        topic=facts.get("topic", ""),
        partition_count=int(facts["partition_count"]),
        partial=bool(facts.get("partial")),
        reason=facts.get("reason"),
        stopped_by=facts.get("stopped_by", "end"),
        sampled_at=facts.get("sampled_at", ""),
        group_id=facts.get("group_id"),
        settings=facts.get("settings", {}),
        request=facts.get("request", {}),
    )


def _from_csv(table: pa.Table) -> pa.Table:
    """A CSV sample's columns back in :data:`SAMPLE_SCHEMA` types (empty keys restored)."""
    sizes = table.column("key_size").cast(pa.int32())
    if "key_hex" in table.column_names:
        keys = pa.array(
            [None if k is None else bytes.fromhex(k) for k in table.column("key_hex").to_pylist()],
            pa.binary(),
        )
    else:
        keys = table.column("key").cast(pa.binary())
    keys = pc.if_else(pc.equal(sizes, 0), pa.scalar(b"", pa.binary()), keys)
    stamps = table.column("timestamp").cast(pa.timestamp("ms", tz="UTC"))  # ISO 8601, Z
    return pa.table(
        {
            "key": keys,
            "partition": table.column("partition"),
            "offset": table.column("offset"),
            "timestamp": stamps,
            "key_size": sizes,
            "value_size": table.column("value_size"),
            "headers": table.column("headers"),
        }
    )


# --------------------------------------------------------------------------- verify


@dataclass(frozen=True)
class VerifyResult:
    """Which producer clients the observed placements fit.

    ``explained_by`` maps each partitioner that hashes keys to the share of the keyed
    records it hashes whose observed partition it predicts (None when it hashes none of
    them). ``best`` lists the partitioners tied at the top share; ``mixed`` is true when none
    explains :data:`EXPLAINED_ENOUGH` of the keyed records but two or three together do,
    and ``combination`` is that greedy cover, one step per entry (tied partitioners
    together). ``keys_on_multiple_partitions`` is ``{"count", "examples"}``.
    ``key_framing`` says what the key bytes show of their serializer: Schema Registry
    framing, its ids and formats (:func:`partsim.schemas.wire.recognize_keys`). Past the
    exact limit (see :func:`verify`) both come from a key-hash sample and say so:
    ``keys_on_multiple_partitions`` gains ``method``, ``sampled_keys_share``,
    ``split_keys_seen``, ``count_lower``, ``count_upper`` and ``note``, and ``key_framing``
    gains ``sampled_keys_share``.
    """

    records: int
    keyed_records: int
    partition_count: int
    explained_by: dict[str, float | None]
    best: list[str]
    mixed: bool
    combination: list[dict[str, object]]
    keys_on_multiple_partitions: dict[str, object]
    topic: str | None = None
    partial: bool = False
    reason: str | None = None
    key_framing: dict | None = None

    def to_dict(self) -> dict[str, object]:
        """The JSON ``partsim verify --json`` prints."""
        return {
            "records": self.records,
            "keyed_records": self.keyed_records,
            "partition_count": self.partition_count,
            "explained_by": self.explained_by,
            "best": self.best,
            "mixed": self.mixed,
            "combination": self.combination,
            "keys_on_multiple_partitions": self.keys_on_multiple_partitions,
            "topic": self.topic,
            "partial": self.partial,
            "reason": self.reason,
            "key_framing": self.key_framing,
        }


def verify(
    source: LiveSample | pa.Table | str | os.PathLike[str],
    *,
    partition_count: int | None = None,
    partitioners: Sequence[str] | None = None,
    exact_keys: int = DEFAULT_EXACT_KEYS,
    exact_key_bytes: int | str = DEFAULT_EXACT_KEY_BYTES,
    input_options: InputOptions | None = None,
    progress: bool = False,
) -> VerifyResult:
    """Find which registered partitioners put each keyed record where it was observed.

    ``source`` is a :class:`LiveSample`, a path to a sample file (or to any file ``partsim
    analyze`` reads that has ``key`` and ``partition`` columns, such as a kcat dump, with
    ``input_options`` saying how to read it), or a pyarrow Table with those columns.
    ``partition_count`` defaults to the sample's; a plain table or file needs it.

    Null keys take every client's keyless path and are not counted as keyed. A keyed record
    that a partitioner sends down its keyless path too (an empty key under librdkafka's
    ``consistent_random`` or kafka-go's ``crc32``; Kinesis rejects it) is no evidence for or
    against that partitioner: it is left out of that partitioner's share, numerator and
    denominator. Partitioners that ignore keys (``librdkafka:random``, ``kafka-go``) cannot
    be recognized from placements and are not scored.

    A file is read batch by batch (as ``partsim analyze`` reads it; ``progress`` draws a bar
    on stderr), in bounded memory, into aggregates that merge: each partitioner's hashed and
    explained records, and the records per set of partitioners that explain them (the greedy
    cover runs on those), all exact at any size. Keys on several partitions, and the key
    framing, come from a table of distinct (key, partition) pairs, exact up to
    ``exact_keys`` pairs and ``exact_key_bytes`` of them; past either, the table keeps a
    sample of keys chosen by a hash of the key (every record of a kept key, so a kept key's
    partitions and records stay exact), halving it as often as needed, and
    ``keys_on_multiple_partitions`` says so: its count is then an estimate, with its method,
    the share of keys kept and a 95% interval whose lower end is never below the split keys
    actually seen.
    """
    from partsim.sketch import check_exact_key_bytes, check_exact_keys

    names = _scored_partitioners(partitioners)
    check_exact_keys(exact_keys)
    byte_limit = check_exact_key_bytes(exact_key_bytes)
    batches, count, facts, bar = _verify_input(source, partition_count, input_options, progress)
    counts = _VerifyCounts(names, count, exact_keys, byte_limit)
    with bar:
        for batch in batches:
            counts.add(*_verify_columns(batch, count, counts.records, facts["streamed"]))
            bar.update(batch.num_rows, facts["bytes_read"]())
    return counts.result(facts["topic"], facts["partial"], facts["reason"])


class _VerifyCounts:
    """What :func:`verify` keeps of its input, batch after batch: sums, the records per
    pattern of explaining partitioners, and the (key, partition) pairs (bounded; see
    :func:`verify`)."""

    def __init__(self, names: list[str], count: int, exact_keys: int, byte_limit: int) -> None:
        from partsim.keycounts import KeyCounts

        self.names, self.count = names, count
        self.exact_keys, self.byte_limit = exact_keys, byte_limit
        self.records = self.keyed = 0
        self.hashed = np.zeros(len(names), dtype=np.int64)
        self.explained = np.zeros(len(names), dtype=np.int64)
        self.patterns: dict[bytes, int] = {}  # packed bits (one per name) -> records
        self.pairs = KeyCounts()  # partition (4 bytes, big-endian) + key -> records
        self.level = 0  # keys kept: those whose 64-bit hash is below 2**(64 - level)

    def add(self, keys: pa.Array, observed: np.ndarray) -> None:
        """Count one batch: binary keys (nulls are keyless) and their observed partitions."""
        self.records += len(observed)
        keyed_mask = bool_mask(keys.is_valid())
        keys, observed = keys.filter(pa.array(keyed_mask)), observed[keyed_mask]
        if not len(observed):
            return
        self.keyed += len(observed)
        encoded = pc.dictionary_encode(keys)
        indices = encoded.indices.to_numpy(zero_copy_only=False)
        explained = np.zeros((len(self.names), len(observed)), dtype=bool)
        for row, name in enumerate(self.names):
            predicted, keyless = _placements(name, encoded.dictionary, self.count)
            hashed = ~keyless[indices]
            explained[row] = hashed & (predicted[indices] == observed)
            self.hashed[row] += int(hashed.sum())
            self.explained[row] += int(explained[row].sum())
        if self.names:
            packed = np.ascontiguousarray(np.packbits(explained, axis=0).T)
            rows = packed.view(f"V{packed.shape[1]}").ravel()
            patterns, records = np.unique(rows, return_counts=True)
            for pattern, records_of in zip(patterns.tolist(), records.tolist(), strict=True):
                self.patterns[pattern] = self.patterns.get(pattern, 0) + records_of
        else:
            self.patterns[b""] = self.patterns.get(b"", 0) + len(observed)
        self._add_pairs(keys, observed)

    def _add_pairs(self, keys: pa.Array, observed: np.ndarray) -> None:
        if self.level:
            kept = _hash_kept(keys, self.level)
            keys, observed = keys.filter(pa.array(kept)), observed[kept]
        if len(observed):
            prefix = pa.Array.from_buffers(
                pa.binary(4), len(observed), [None, pa.py_buffer(observed.astype(">u4"))]
            ).cast(pa.binary())
            pairs = pc.binary_join_element_wise(prefix, keys, pa.scalar(b"", pa.binary()))
            self.pairs.add(pairs, np.ones(len(observed)))  # the sums: records (see _thin)
        while self.pairs.exceeds(self.exact_keys, self.byte_limit):
            self._thin()

    def _thin(self) -> None:
        """Halve the share of keys kept: drop the pairs of keys the next level leaves out."""
        from partsim.keycounts import KeyCounts

        table = self.pairs.table()
        self.level += 1
        kept = _hash_kept(_unpair(_flat(table.column("key")))[0], self.level)
        table = table.filter(pa.array(kept))
        self.pairs = KeyCounts()
        # Re-added in their order with their records as weights: counts and order stay.
        self.pairs.add(_flat(table.column("key")), table.column("bytes").to_numpy())

    def _by_key(self) -> pa.Table:
        """``key``, ``partitions`` (distinct), ``records``: one row per key, in order of the
        key's first record."""
        table = self.pairs.table()
        keys, partition = _unpair(_flat(table.column("key")))
        return (
            pa.table(
                {
                    "key": keys,
                    "partition": partition,
                    "records": table.column("bytes").cast(pa.int64()),
                }
            )
            .group_by("key", use_threads=False)
            .aggregate([("partition", "distinct"), ("records", "sum")])
        )

    def result(self, topic: str | None, partial: bool, reason: str | None) -> VerifyResult:
        names, keyed = self.names, self.keyed
        shares: dict[str, float | None] = {
            name: (float(self.explained[i] / self.hashed[i]) if self.hashed[i] else None)
            for i, name in enumerate(names)
        }
        scored = [share for share in shares.values() if share is not None]
        top = max(scored) if scored else None
        best = [name for name in names if top is not None and shares[name] == top and top > 0]
        combination: list[dict[str, object]] = []
        mixed = False
        if keyed and top is not None and top < EXPLAINED_ENOUGH:
            combination = _greedy_cover(names, self.patterns, keyed)
            covered = sum(float(step["share"]) for step in combination)
            mixed = len(combination) >= 2 and covered >= EXPLAINED_ENOUGH
            if not mixed:
                combination = []
        by_key = self._by_key()
        framing = recognize_key_counts(by_key.column("key").to_pylist(),
                                       by_key.column("records_sum").to_pylist())  # fmt: skip
        split = _split_keys(by_key)
        if self.level:
            share = 2.0**-self.level
            framing["sampled_keys_share"] = share
            split = _estimated_split(split, share, self.exact_keys, self.byte_limit)
        return VerifyResult(
            records=self.records,
            keyed_records=keyed,
            partition_count=self.count,
            explained_by=shares,
            best=best,
            mixed=mixed,
            combination=combination,
            keys_on_multiple_partitions=split,
            topic=topic,
            partial=partial,
            reason=reason,
            key_framing=framing,
        )


def _unpair(pairs: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """The keys and partitions of (partition, key) pairs (4 bytes, big-endian, then the
    key), as :meth:`_VerifyCounts._add_pairs` makes them."""
    large = pa.types.is_large_binary(pairs.type)
    offsets = np.frombuffer(pairs.buffers()[1], dtype=np.int64 if large else np.int32)
    offsets = offsets[pairs.offset : pairs.offset + len(pairs) + 1].astype(np.int64)
    data = np.frombuffer(pairs.buffers()[2] or b"", dtype=np.uint8)
    starts = offsets[:-1]
    partition = np.zeros(len(pairs), dtype=np.int64)
    keep = np.ones(len(data), dtype=bool)
    for byte in range(4):
        partition = (partition << 8) | data[starts + byte]
        keep[starts + byte] = False
    keep[: offsets[0]] = keep[offsets[-1] :] = False
    key_offsets = offsets - offsets[0] - 4 * np.arange(len(pairs) + 1)
    kind, offset_type = (pa.large_binary(), np.int64) if large else (pa.binary(), np.int32)
    keys = pa.Array.from_buffers(kind, len(pairs), [
        None, pa.py_buffer(key_offsets.astype(offset_type)), pa.py_buffer(data[keep])
    ])  # fmt: skip
    return keys, partition


def _hash_kept(keys: pa.Array, level: int) -> np.ndarray:
    """Which keys a key-hash sample at ``level`` keeps (a share of 2**-level of the keys)."""
    from partsim.sketch import hash64

    return (hash64(_flat(keys)) >> np.uint64(64 - level)) == 0


def _estimated_split(split: dict[str, object], share: float, exact_keys: int, byte_limit: int):
    """``keys_on_multiple_partitions`` from a key-hash sample keeping ``share`` of the keys:
    the split keys seen, scaled up, with a 95% interval (binomial) that never goes below
    them."""
    seen = int(split["count"])
    spread = 1.96 * math.sqrt(seen * (1 - share)) / share
    estimate = seen / share
    return {
        **split,
        "count": round(estimate),
        "count_lower": max(seen, math.floor(estimate - spread)),
        "count_upper": math.ceil(estimate + spread),
        "split_keys_seen": seen,
        "method": "key-hash sample",
        "sampled_keys_share": share,
        "note": (
            f"more than {exact_keys:,} distinct (key, partition) pairs or {byte_limit:,} "
            f"bytes of them: keys were kept by a hash of the key ({share:.3g} of them, every "
            "record of each); the count is an estimate within its 95% interval, at least the "
            f"{seen:,} split keys seen; the examples are split keys among those kept, with "
            "their exact partitions and records"
        ),
    }


def _verify_input(source, partition_count, input_options, progress):
    """(batches, partition count, facts, progress bar): the facts are the sample's topic,
    partial and reason, and a callable giving the bytes read so far."""
    from partsim.progress import Progress

    facts: dict[str, Any] = {"topic": None, "partial": False, "reason": None,
                             "bytes_read": lambda: None, "streamed": False}  # fmt: skip
    known, events = None, None
    if isinstance(source, LiveSample):
        table, known = source.table, source.partition_count
        facts.update(topic=source.topic, partial=source.partial, reason=source.reason)
    elif isinstance(source, pa.Table):
        table = source
    elif isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if path.suffix.lower() in (".parquet", ".pq", ".csv") and _is_sample(path):
            sample = load_sample(path)
            table, known = sample.table, sample.partition_count
            facts.update(topic=sample.topic, partial=sample.partial, reason=sample.reason)
        else:
            events = (input_options or InputOptions()).open(str(path))
            table = None
    else:
        raise UsageError(
            "verify needs a LiveSample, a sample file or a pyarrow Table; "
            f"got {type(source).__name__}"
        )
    columns = events.columns if events is not None else table.column_names
    for column in ("key", "partition"):
        if column not in columns:
            raise DataError(
                f"verify needs the columns key and partition; the input has "
                f"{', '.join(columns) or 'none'}"
            )
    count = partition_count if partition_count is not None else known
    if count is None:
        raise UsageError(
            "the input does not record the topic's partition count: give it with -p/--partitions"
        )
    count = check_partition_count(count)
    if events is None:
        return [table], count, facts, Progress(enabled=False)
    from partsim.engine import prefetch

    events.select(["key", "partition"])  # the other columns are never converted
    facts.update(bytes_read=lambda: events.bytes_read, streamed=True)
    return prefetch(events), count, facts, Progress(enabled=progress,
                                                    total_bytes=events.bytes_total)  # fmt: skip


def _verify_columns(
    batch: pa.Table | pa.RecordBatch, count: int, before: int, streamed: bool
) -> tuple[pa.Array, np.ndarray]:
    """One batch's keys (binary) and partitions (int64), checked: integers, none missing,
    all below ``count``. ``before`` records were read before it; a ``streamed`` file's errors
    say how far it was read."""
    keys = _flat(batch.column("key"))
    if not (pa.types.is_binary(keys.type) or pa.types.is_large_binary(keys.type)):
        keys = keys.cast(pa.string()).cast(pa.binary())  # text keys as their UTF-8 bytes
    partitions = _flat(batch.column("partition"))
    if not pa.types.is_integer(partitions.type):
        try:
            partitions = partitions.cast(pa.int64())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            raise DataError("the partition column holds values that are not integers") from None
    read = before + len(partitions)
    so_far = f" (in the first {read:,} records read)" if streamed else ""
    if partitions.null_count:
        raise DataError(f"{partitions.null_count} records have no partition{so_far}")
    observed = partitions.to_numpy(zero_copy_only=False).astype(np.int64)
    if np.any((observed < 0) | (observed >= count)):
        raise DataError(
            f"the sample has partitions up to {int(observed.max())}{so_far}, beyond "
            f"partition_count {count}: pass the topic's partition count"
        )
    return keys, observed


def _is_sample(path: Path) -> bool:
    """True for a file :func:`write_sample` wrote (it carries sample metadata)."""
    if not path.is_file():
        raise UsageError(f"file {str(path)!r} not found")
    if path.suffix.lower() == ".csv":
        return path.with_name(path.name + ".meta.json").is_file()
    import pyarrow.parquet as pq

    try:
        return METADATA_KEY in (pq.read_schema(path).metadata or {})
    except (pa.ArrowException, OSError) as error:
        raise DataError(f"{path}: not a readable Parquet file ({error})") from None


def _flat(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """One contiguous array (so that dictionary encoding gives one dictionary)."""
    if isinstance(values, pa.ChunkedArray):
        return values.combine_chunks() if values.num_chunks else pa.array([], values.type)
    return values


def _scored_partitioners(partitioners: Sequence[str] | None) -> list[str]:
    names = (
        [get_partitioner(name).name for name in partitioners]
        if partitioners
        else partitioner_names()
    )
    return list(dict.fromkeys(name for name in names if not get_partitioner(name).ignores_keys))


def _placements(name: str, distinct: pa.Array, count: int) -> tuple[np.ndarray, np.ndarray]:
    """Each distinct key's partition under ``name``, and which keys it does not hash."""
    chosen = get_partitioner(name)
    if chosen.null_key == "reject":  # Kinesis refuses empty keys: score the others only
        empty = pc.equal(pc.binary_length(distinct), 0).to_numpy(zero_copy_only=False)
        predicted = np.full(len(distinct), -1, dtype=np.int64)
        if (~empty).any():
            kept = distinct.filter(pa.array(~empty))
            predicted[~empty] = chosen.hashed_partitions(kept, count)[0]
        return predicted, empty
    predicted, keyless = chosen.hashed_partitions(distinct, count)
    return predicted.astype(np.int64), keyless


def _greedy_cover(
    names: Sequence[str], patterns: Mapping[bytes, int], keyed: int
) -> list[dict[str, object]]:
    """Up to three steps, each taking the partitioners that explain the most records not yet
    explained (the first of them named covers its records); stops once
    :data:`EXPLAINED_ENOUGH` of the keyed records are. ``patterns`` maps each set of
    partitioners that explain a record (``names``' bits, packed) to its records: a record is
    left or covered by its pattern alone, so this is the cover record by record."""
    packed = np.frombuffer(b"".join(patterns), dtype=np.uint8).reshape(len(patterns), -1)
    explains = np.unpackbits(packed, axis=1, count=len(names)).astype(bool)
    records = np.fromiter(patterns.values(), dtype=np.int64, count=len(patterns))
    left = np.ones(len(patterns), dtype=bool)
    steps: list[dict[str, object]] = []
    while len(steps) < 3:
        gains = {name: int(records[explains[:, i] & left].sum()) for i, name in enumerate(names)}
        most = max(gains.values(), default=0)
        if most == 0:
            break
        tied = [name for name in names if gains[name] == most]
        steps.append({"partitioners": tied, "share": most / keyed})
        left &= ~explains[:, list(names).index(tied[0])]
        if 1 - int(records[left].sum()) / keyed >= EXPLAINED_ENOUGH:
            break
    return steps


def _split_keys(by_key: pa.Table) -> dict[str, object]:
    """Distinct keys seen on more than one partition, with up to :data:`EXAMPLES` examples
    (the most frequent first), from :meth:`_VerifyCounts._by_key`'s table."""
    spread = pc.list_value_length(by_key.column("partition_distinct"))
    split = by_key.filter(pc.greater(spread, 1))
    split = split.sort_by([("records_sum", "descending"), ("key", "ascending")])
    examples = []
    for row in split.slice(0, EXAMPLES).to_pylist():
        example = _show_key(row["key"])
        example["partitions"] = sorted(row["partition_distinct"])
        example["records"] = row["records_sum"]
        examples.append(example)
    return {"count": split.num_rows, "examples": examples}


def _show_key(raw: bytes) -> dict[str, object]:
    """``{"key": text}`` for a UTF-8 key, else ``{"key_hex": hex}``."""
    try:
        return {"key": raw.decode("utf-8")}
    except UnicodeDecodeError:
        return {"key_hex": raw.hex()}


# --------------------------------------------------------------------------- analyze


def observed_vs_predicted(
    sample: LiveSample,
    predicted_messages: Sequence[int] | np.ndarray,
    *,
    partitioner: str,
    partition_count: int,
) -> dict[str, object]:
    """Where the sample's records are against where ``partitioner`` puts them.

    ``matching_share`` is the share of keyed records that ``partitioner`` hashes whose
    observed partition equals its prediction for the record key, over ``partition_count``
    partitions. ``partitions`` lists, per partition, the records observed there and the
    records the analysis predicts there (``predicted_messages``) for the same records.
    ``budget_capped_partitions`` lists the partitions that filled their share of
    ``max_messages``: their counts show the budget, not the topic's load.
    """
    chosen = get_partitioner(partitioner)
    keys = sample.table.column("key")
    observed = sample.table.column("partition").to_numpy(zero_copy_only=False).astype(np.int64)
    keyed = ~bool_mask(keys.is_null())
    compared = 0
    matching = 0
    if keyed.any() and not chosen.ignores_keys:
        encoded = pc.dictionary_encode(_flat(keys.filter(pa.array(keyed))))
        predicted, keyless = _placements(chosen.name, encoded.dictionary, partition_count)
        indices = encoded.indices.to_numpy(zero_copy_only=False)
        hashed = ~keyless[indices]
        compared = int(hashed.sum())
        matching = int((hashed & (predicted[indices] == observed[keyed])).sum())
    width = max(partition_count, sample.partition_count)
    seen = np.bincount(observed, minlength=width)
    asked = sample.request.get("max_messages")
    budgets = _budgets(int(asked), sample.partition_count) if asked else []
    capped = [p for p, budget in enumerate(budgets) if budget and seen[p] >= budget]
    expected = np.zeros(width, dtype=np.int64)
    expected[: len(predicted_messages)] = np.asarray(predicted_messages, dtype=np.int64)
    return {
        "topic": sample.topic,
        "topic_partition_count": sample.partition_count,
        "partitioner": chosen.name,
        "partition_count": partition_count,
        "records": sample.records,
        "partial": sample.partial,
        "reason": sample.reason,
        "keyed_records_compared": compared,
        "matching_share": matching / compared if compared else None,
        "budget_capped_partitions": capped,
        "partitions": [
            {"partition": p, "observed": int(seen[p]), "predicted": int(expected[p])}
            for p in range(width)
        ],
    }


def check_live_keys(key_format: str, schema_id: int | None) -> None:
    """Keys read from a topic are the serialized (and framed) bytes: nothing to serialize.

    Called before sampling, so that a long sample does not end in a usage error.
    """
    if key_format not in ("string", "bytes") or schema_id is not None:
        raise UsageError(
            "keys read from a topic are already serialized (and framed): --key-format and "
            "--schema-id do not apply to a live sample"
        )


def analyze_sample(
    sample: LiveSample,
    *,
    key: str = "key",
    partition_count: int | None = None,
    partitioner: str = "java",
    key_format: str = "string",
    schema_id: int | None = None,
    progress: bool = False,
    **options: Any,
):
    """Analyze a :class:`LiveSample` as ``partsim analyze`` does a file.

    ``partition_count`` defaults to the topic's; ``options`` are
    :func:`partsim.analysis.analyze`'s. Returns its
    :class:`~partsim.analysis.AnalysisResult`, whose summary gains ``observed_vs_predicted``
    (see :func:`observed_vs_predicted`) and ``sample`` (:meth:`LiveSample.metadata`).
    """
    from partsim.analysis import analyze

    check_live_keys(key_format, schema_id)
    count = partition_count or sample.partition_count
    result = analyze(
        sample.table, key=key, partition_count=count, partitioner=partitioner,
        key_format=key_format, progress=progress, **options,
    )  # fmt: skip
    section = observed_vs_predicted(
        sample,
        result.partitions["messages"].to_numpy(),
        partitioner=partitioner,
        partition_count=count,
    )
    summary = {
        **result.summary,
        "inputs": f"topic {sample.topic} ({sample.records:,} records sampled"
        + (", partial" if sample.partial else "")
        + ")",
        "sample": sample.metadata(),
        "observed_vs_predicted": section,
    }
    return replace(result, summary=summary)


# --------------------------------------------------------------------------- text


def check_sample_path(path: str | os.PathLike[str]) -> Path:
    """Fail before sampling, not after, when the output file has an unknown extension, is a
    directory, or is in a directory this user cannot write to."""
    target = Path(path)
    _file_kind(target)
    if target.is_dir():
        raise UsageError(f"-o {str(target)!r} is a directory; give a file name in it")
    check_writable(target.parent, option="-o", target=target)
    return target


def format_verify(result: VerifyResult) -> str:
    """The readable report ``partsim verify`` prints without ``--json``: partitioners with the
    same share (clients identical for these keys) share a line."""
    source = f"topic {result.topic}" if result.topic else "the sample"
    lines = [
        f"{source}: {result.records:,} records ({result.keyed_records:,} keyed), "
        f"{result.partition_count} partitions"
        + (f"; PARTIAL sample: {result.reason}" if result.partial else "")
    ]
    shares = {name: share for name, share in result.explained_by.items() if share is not None}
    if not result.keyed_records or not shares:
        lines.append("no keyed records: placements cannot show which partitioner wrote them")
    else:
        top = shares[result.best[0]] if result.best else 0.0
        if result.mixed:
            lines.append(f"MIXED: {len(result.combination)} producer clients wrote this topic")
            for step in result.combination:
                lines += _share_line(float(step["share"]), list(step["partitioners"]))
        else:
            lines.append("best (the producer client):")
            lines += _share_line(top, result.best)
            if top < EXPLAINED_ENOUGH:
                lines.append(
                    f"no registered partitioner explains {EXPLAINED_ENOUGH:.0%} of the keyed "
                    "records, nor do two or three together: a custom partitioner, explicit "
                    "partitions, or records written before the partition count changed"
                )
        lines += ["", "share of keyed records each partitioner explains:"]
        for share in sorted(set(shares.values()), reverse=True):
            lines += _share_line(share, [name for name in shares if shares[name] == share])
    lines += _framing_lines(result.key_framing)
    split = result.keys_on_multiple_partitions
    lines += ["", f"keys on more than one partition (ordering already broken): {split['count']:,}"
              + (f" (estimate, 95% {split['count_lower']:,}-{split['count_upper']:,}: a key-hash "
                 f"sample of {split['sampled_keys_share']:.3g} of the keys)"
                 if "method" in split else "")]  # fmt: skip
    for example in split["examples"]:
        shown = example.get("key", None)
        shown = repr(shown) if shown is not None else f"0x{example['key_hex']}"
        partitions = ", ".join(str(p) for p in example["partitions"])
        lines.append(f"  {shown}: partitions {partitions} ({example['records']:,} records)")
    return "\n".join(lines) + "\n"


def _framing_lines(framing: Mapping[str, Any] | None) -> list[str]:
    """What the key bytes show of their serializer, for :func:`format_verify`."""
    if not framing or (not framing["schema_ids"] and not framing["unframed_json"]):
        return []
    lines = [""]
    if framing["schema_ids"]:
        lines.append(f"keys framed by a Schema Registry serializer: {framing['framed_share']:.1%}")
        for entry in framing["schema_ids"]:
            kind = entry["format"] or "format not told by the bytes"
            lines.append(f"  schema id {entry['schema_id']}: {entry['share']:.1%} ({kind})")
    unframed = framing["unframed_json"]
    if unframed:
        lines.append(f"keys that are unframed JSON ({unframed['format']}): {unframed['share']:.1%}")
    return lines


def _share_line(share: float, names: Sequence[str]) -> list[str]:
    return textwrap.wrap(
        ", ".join(names), width=100, initial_indent=f"  {share:6.1%}  ", subsequent_indent=" " * 10
    )


def format_observed(section: Mapping[str, Any], *, partitions_shown: int = 64) -> str:
    """The observed-vs-predicted lines ``partsim analyze --bootstrap`` adds to its summary."""
    share = section["matching_share"]
    lines = [
        "",
        f"observed vs predicted ({section['partitioner']}, {section['partition_count']} "
        f"partitions; the topic has {section['topic_partition_count']}):",
        (
            f"{share:.1%} of {section['keyed_records_compared']:,} keyed records sit where "
            f"{section['partitioner']} puts their key"
            if share is not None
            else f"{section['partitioner']} hashes none of the sampled keys"
        ),
    ]
    if section["partial"]:
        lines.append(f"PARTIAL sample: {section['reason']}")
    if section["budget_capped_partitions"]:
        note = (
            f"note: {len(section['budget_capped_partitions'])} partitions filled their share of "
            "--max-messages, so the sample's load is flattened; for load, sample a time window "
            "(--from-time) with a --max-messages larger than it holds"
        )
        lines += textwrap.wrap(note, width=100, subsequent_indent="  ")
    rows = section["partitions"]
    if len(rows) > partitions_shown:
        rows = sorted(rows, key=lambda row: -row["observed"])[:partitions_shown]
    lines.append(f"{'partition':>9}  {'observed':>9}  {'predicted':>9}")
    lines += [f"{r['partition']:>9}  {r['observed']:>9,}  {r['predicted']:>9,}" for r in rows]
    return "\n".join(lines) + "\n"
