"""The real producers' builds: a missing toolchain says how to get it (and fails under CI),
the build outputs stay out of git, and the Node lockfile pins kafkajs."""

from __future__ import annotations

import json
import subprocess

import pytest

import tests.clients as clients
from tests.test_real_clients_keyed import results_or_skip


@pytest.mark.parametrize("program", ["java", "go", "node"])
def test_missing_toolchain_says_how_to_get_it(
    program: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(clients.shutil, "which", lambda _tool: None)
    clients.command.cache_clear()
    try:
        with pytest.raises(clients.ToolchainMissing) as caught:
            clients.command(program)
    finally:
        clients.command.cache_clear()
    message = str(caught.value)
    assert "on PATH" in message and clients.HOW_TO[program] in message


def test_missing_toolchain_skips_outside_ci_and_fails_in_ci(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def missing(*_args, **_kwargs):
        raise clients.ToolchainMissing("the go producer needs go on PATH: install Go")

    monkeypatch.setattr("tests.test_real_clients_keyed.client_results", missing)
    monkeypatch.setattr("tests.test_real_clients_keyed.is_tansu", lambda _bootstrap: False)
    monkeypatch.setenv("CI", "false")
    with pytest.raises(pytest.skip.Exception, match="install Go"):
        results_or_skip("127.0.0.1:1", "sarama")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true"):
        results_or_skip("127.0.0.1:1", "sarama")


def test_build_outputs_are_ignored_and_kafkajs_is_pinned() -> None:
    root = clients.HERE
    for output in ("java/target/x", "go/build/producers", "node/node_modules/kafkajs"):
        done = subprocess.run(
            ["git", "check-ignore", "-q", str(root / output)], cwd=root, check=False
        )
        assert done.returncode == 0, f"tests/clients/{output} is not git-ignored"
    lock = json.loads((root / "node" / "package-lock.json").read_text())
    assert lock["packages"]["node_modules/kafkajs"]["version"] == "2.2.4"
    assert "integrity" in lock["packages"]["node_modules/kafkajs"]
