"""No secret is ever shown: every message path reachable without a broker, through the real
CLI, including malformed -X and --config lines, librdkafka's own errors and its debug log.

The broker paths (a refused login) are in tests/test_live.py. Each run here gives secrets in
several places and asserts that none of them appears anywhere in stdout or stderr.
"""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from partsim import cli
from partsim._live_reader import REDACTED, remember_secrets, scrub_given, shown_property
from partsim.errors import BrokerError
from tests.child import one_error, run

SECRET = "S3cr3t-h0rse-battery"
SECRETS = (SECRET, "0th3r-s3cret-v4lue", "jaas-pa55word")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _assert_hidden(done) -> None:
    for secret in SECRETS:
        assert secret not in done.stdout and secret not in done.stderr, done.stderr


COMMANDS = {
    "sample": ["sample", "--topic", "orders", "-o", "out.parquet"],
    "verify": ["verify", "--topic", "orders"],
    "analyze": ["analyze", "--topic", "orders", "--key", "key"],
}


@pytest.mark.parametrize("command", sorted(COMMANDS))
@pytest.mark.parametrize(
    ("item", "shown"),
    [
        (f"sasl.password:{SECRET}", f"'sasl.password:{REDACTED}'"),
        (f"sasl.password {SECRET}", f"'sasl.password {REDACTED}'"),
        (f"ssl.key.password\t{SECRET}", f"'ssl.key.password\\t{REDACTED}'"),
        (f'sasl.jaas.config: x required password="{SECRET}";', f"'sasl.jaas.config: {REDACTED}'"),
        (SECRET, "a value without KEY= (not shown: it may be a secret)"),
        (f"={SECRET}", "an empty KEY"),
        (f"sasl.password:{SECRET[:5]}={SECRET[5:]}", f"'sasl.password:{REDACTED}'"),
        (f"  {SECRET}  ", "a value without KEY= (not shown: it may be a secret)"),
        (f"{SECRET} sasl.password", "a value without KEY= (not shown: it may be a secret)"),
        ("security.protocol:SSL", "'security.protocol:SSL'"),  # nothing secret: shown
    ],
    ids=[
        "colon",
        "space",
        "tab",
        "jaas",
        "bare-value",
        "empty-key",
        "equals-in-value",
        "spaces",
        "value-first",
        "not-secret",
    ],
)
def test_a_malformed_x_shows_no_secret(command: str, item: str, shown: str, tmp_path) -> None:
    args = [*COMMANDS[command], "--bootstrap", "127.0.0.1:9", "-X", item]
    done = run(*args, "-X", f"sasl.username={SECRETS[1]}", cwd=tmp_path)
    one_error(done, 2, "-X", "must be KEY=VALUE", shown)
    _assert_hidden(done)


def test_shown_property_never_returns_a_secret_value() -> None:
    for separator in (":", " ", "\t", " : "):
        for name in ("sasl.password", "ssl.keystore.password", "sasl.oauthbearer.client.secret",
                     "sasl.jaas.config", "ssl.key.pem"):  # fmt: skip
            assert SECRET not in shown_property(f"{name}{separator}{SECRET}")
    assert SECRET not in shown_property(SECRET)
    assert SECRET not in shown_property(f"  {SECRET}  ")


def _config(tmp_path: Path, text: str) -> str:
    path = tmp_path / "client.properties"
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize(
    ("jaas", "needle"),
    [
        (f'com.example.CustomLoginModule required password="{SECRET}";', "uses CustomLoginModule"),
        (f"{SECRET}", "does not start with a login module class"),
        (f'{SECRET}LoginModule required password="{SECRETS[2]}";', "does not start with"),
        ("org.apache.kafka.common.security.plain.PlainLoginModule required "
         f'password="{SECRET}";', "PlainLoginModule needs username and password"),
    ],
    ids=["unknown-module", "garbage", "secret-shaped-module", "plain-without-username"],
)  # fmt: skip
def test_a_bad_jaas_line_shows_no_secret(jaas: str, needle: str, tmp_path: Path) -> None:
    config = _config(tmp_path, f"bootstrap.servers=127.0.0.1:9\nsasl.jaas.config={jaas}\n")
    done = run("verify", "--topic", "orders", "--config", config, cwd=tmp_path)
    one_error(done, 2, "sasl.jaas.config", needle)
    _assert_hidden(done)


def test_a_read_only_property_with_secrets_beside_it(tmp_path: Path) -> None:
    done = run("verify", "--bootstrap", "127.0.0.1:9", "--topic", "orders",
               "-X", f"sasl.password={SECRET}", "-X", "group.id=mine")  # fmt: skip
    one_error(done, 2, "-X group.id cannot be set")
    _assert_hidden(done)


def test_properties_librdkafka_rejects_show_no_secret(tmp_path: Path) -> None:
    config = _config(
        tmp_path,
        "security.protocol=SASL_PLAINTEXT\nsasl.mechanism=SCRAM-SHA-512\n"
        "sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required "
        f'username="reader" password="{SECRETS[2]}";\n',
    )
    done = run("verify", "--bootstrap", "127.0.0.1:9", "--topic", "orders", "--config", config,
               "-X", "sasl.mechanism=NO-SUCH-MECHANISM", "-X", f"sasl.password={SECRET}",
               "-X", f"ssl.key.password={SECRETS[1]}", "-X", "no.such.property=1")  # fmt: skip
    one_error(done, 2, "client properties rejected by librdkafka")
    _assert_hidden(done)


def test_an_unreachable_broker_and_its_debug_log_show_no_secret(tmp_path: Path) -> None:
    """The error and librdkafka's debug log (which partsim forwards to the ``partsim.live``
    logger, here printed at DEBUG) hold no secret from -X or from a JAAS line in --config."""
    config = _config(
        tmp_path,
        "sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required "
        f'username="reader" password="{SECRETS[2]}";\n',
    )
    args = ["verify", "--bootstrap", f"127.0.0.1:{_free_port()}", "--topic", "orders",
            "--timeout", "2", "--config", config, "-X", "security.protocol=SASL_PLAINTEXT",
            "-X", "sasl.mechanism=PLAIN", "-X", "debug=all", "-X", f"ssl.key.password={SECRET}",
            "-X", f"sasl.oauthbearer.config={SECRETS[1]}"]  # fmt: skip
    done = run(*args, cwd=tmp_path)
    one_error(done, 1, "cannot reach the broker")
    _assert_hidden(done)
    debug = (
        "import logging, sys\n"
        "logging.basicConfig(level=logging.DEBUG, stream=sys.stderr)\n"
        "from partsim.cli import main\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    logged = run(*args, code=debug, cwd=tmp_path)
    assert logged.returncode == 1
    assert logged.stderr.count("partsim.live") > 20, logged.stderr  # the debug log is there
    assert REDACTED in logged.stderr  # librdkafka logs the configuration, redacted
    _assert_hidden(logged)


@pytest.mark.parametrize("raised", [RuntimeError, BrokerError], ids=["internal", "partsim"])
def test_the_cli_scrubs_every_error_line(raised, monkeypatch, capsys) -> None:
    """The last line of defence: an error whose text holds a secret the command was given
    (through a path that forgot to scrub it) is printed without it."""
    import partsim._live_reader
    import partsim.live

    monkeypatch.setattr(partsim._live_reader, "_GIVEN", set())  # not other tests' secrets

    def leak(*_args, **_kwargs):
        raise raised(f"oops: the password was {SECRET} and the token {SECRETS[1]}")

    monkeypatch.setattr(partsim.live, "sample_topic", leak)
    given = ["-X", f"sasl.password={SECRET}", "-X", f"sasl.oauthbearer.token={SECRETS[1]}"]
    code = cli.main(["verify", "--bootstrap", "127.0.0.1:9", "--topic", "orders", *given])
    captured = capsys.readouterr()
    assert code == 1
    assert f"the password was {REDACTED} and the token {REDACTED}" in captured.err
    assert SECRET not in captured.err + captured.out and SECRETS[1] not in captured.err


def test_scrub_given_replaces_the_longest_secret_first(monkeypatch) -> None:
    import partsim._live_reader

    monkeypatch.setattr(partsim._live_reader, "_GIVEN", set())  # not other tests' secrets
    remember_secrets({"sasl.password": "abcdef-long", "ssl.key.password": "abcdef",
                      "bootstrap.servers": "not-a-secret"})  # fmt: skip
    assert scrub_given("x abcdef-long y abcdef z not-a-secret") == (
        f"x {REDACTED} y {REDACTED} z not-a-secret"
    )
