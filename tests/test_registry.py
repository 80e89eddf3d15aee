"""The read-only Schema Registry client, against a small registry served by the tests.

No Confluent-compatible registry installs from the registries these machines reach:
Confluent's Schema Registry is not on Maven Central, Karapace is not on PyPI, and Apicurio's
``apicurio-registry-app`` on Maven Central is a Quarkus module that needs its build step and
its SQL storage artifact (not served). So this module serves the two read endpoints partsim
uses, as the Schema Registry API reference documents them (``GET /subjects/{subject}/
versions/{version}`` and ``GET /schemas/ids/{id}``, with their error bodies
``{"error_code": 40401, "message": ...}``), over HTTP with basic auth and over TLS with
client certificates made by ``openssl``.
"""

from __future__ import annotations

import base64
import json
import shutil
import ssl
import subprocess
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest
from kafka.partitioner.default import murmur2

import partsim
from partsim.registry import RegistryError, fetch_schema, resolve_key, subject_name
from tests.cli import run_partsim
from tests.conftest import skip_or_fail

PASSWORD = "s3cr3t-Pa55"
ORDER_KEY = json.dumps({"type": "record", "name": "OrderKey", "namespace": "shop",
                        "fields": [{"name": "id", "type": "long"}]})  # fmt: skip
SUBJECTS = {
    "orders-key": [
        {"version": 1, "id": 3, "schema": '"string"'},
        {"version": 2, "id": 7, "schema": '"long"'},
    ],
    "shop.OrderKey": [{"version": 1, "id": 11, "schema": ORDER_KEY}],
    "users-key": [{"version": 1, "id": 12, "schemaType": "JSON",
                   "schema": '{"type": "object", "properties": {"id": {"type": "integer"}}}'}],
    "protos-key": [{"version": 1, "id": 13, "schemaType": "PROTOBUF",
                    "schema": 'syntax = "proto3"; message A {} message K { int64 id = 1; }'}],
    "refs-key": [{"version": 1, "id": 14, "schema": '"string"',
                  "references": [{"name": "x", "subject": "x", "version": 1}]}],
}  # fmt: skip


class Registry(BaseHTTPRequestHandler):
    """GET /subjects/{subject}/versions/{version} and GET /schemas/ids/{id}."""

    users: ClassVar[dict[str, str]] = {}
    seen: ClassVar[list[dict]] = []

    def log_message(self, *args) -> None:  # keep the test output clean
        pass

    def answer(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/vnd.schemaregistry.v1+json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        type(self).seen.append({"path": self.path, "headers": dict(self.headers)})
        if self.users:
            header = self.headers.get("Authorization", "")
            given = base64.b64decode(header.removeprefix("Basic ")).decode() if header else ""
            user, _, password = given.partition(":")
            if self.users.get(user) != password or not password:
                self.answer(401, {"error_code": 40101, "message": "Unauthorized"})
                return
        parts = [urllib.parse.unquote(p) for p in self.path.strip("/").split("/")]
        if len(parts) == 4 and parts[0] == "subjects" and parts[2] == "versions":
            versions = SUBJECTS.get(parts[1])
            if versions is None:
                self.answer(
                    404, {"error_code": 40401, "message": f"Subject '{parts[1]}' not found."}
                )
                return
            wanted = (
                versions[-1]
                if parts[3] == "latest"
                else next((v for v in versions if str(v["version"]) == parts[3]), None)
            )
            if wanted is None:
                self.answer(404, {"error_code": 40402, "message": f"Version {parts[3]} not found."})
                return
            self.answer(200, {"subject": parts[1], **wanted})
            return
        if len(parts) == 3 and parts[:2] == ["schemas", "ids"]:
            for versions in SUBJECTS.values():
                for version in versions:
                    if str(version["id"]) == parts[2]:
                        self.answer(
                            200,
                            {
                                k: v
                                for k, v in version.items()
                                if k in ("schema", "schemaType", "references")
                            },
                        )
                        return
            self.answer(404, {"error_code": 40403, "message": "Schema not found"})
            return
        self.answer(404, {"error_code": 404, "message": "HTTP 404 Not Found"})


def serve(handler: type, context: ssl.SSLContext | None = None):
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    if context is not None:
        server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server


@pytest.fixture
def registry():
    handler = type("OpenRegistry", (Registry,), {"users": {}, "seen": []})
    server = serve(handler)
    yield f"http://127.0.0.1:{server.server_address[1]}", handler
    server.shutdown()
    server.server_close()


@pytest.fixture
def secured():
    handler = type("SecuredRegistry", (Registry,), {"users": {"alice": PASSWORD}, "seen": []})
    server = serve(handler)
    yield f"http://127.0.0.1:{server.server_address[1]}", handler
    server.shutdown()
    server.server_close()


def test_fetch_by_subject_version_and_id(registry) -> None:
    url, handler = registry
    latest = fetch_schema(url, subject="orders-key")
    assert (latest.schema, latest.schema_id, latest.version, latest.key_format) == (
        '"long"',
        7,
        2,
        "avro",
    )
    first = fetch_schema(url, subject="orders-key", version=1)
    assert (first.schema, first.schema_id) == ('"string"', 3)
    by_id = fetch_schema(url, schema_id=12)
    assert (by_id.schema_type, by_id.key_format, by_id.schema_id) == ("JSON", "json", 12)
    assert handler.seen[-1]["path"] == "/schemas/ids/12"
    record = fetch_schema(url, subject=subject_name("record", record="shop.OrderKey"))
    assert record.schema_id == 11
    assert subject_name("topic", topic="orders") == "orders-key"
    assert subject_name("topic-record", topic="orders", record="shop.OrderKey") == (
        "orders-shop.OrderKey"
    )


def test_registry_key_format_frames_with_the_registry_id(registry) -> None:
    url, _ = registry
    key = resolve_key(schema_registry=url, key_subject="orders-key")
    assert (key.key_format, key.schema_id) == ("avro", 7)
    placed = partsim.assign([42], 12, key_format=key.key_format, key_schema=key.key_schema,
                            schema_id=key.schema_id)  # fmt: skip
    assert placed.tolist() == [(murmur2(b"\x00\x00\x00\x00\x07\x54") & 0x7FFFFFFF) % 12]
    proto = resolve_key(schema_registry=url, key_subject="protos-key", key_message="K")
    assert proto.serializer().prefix.hex() == "000000000d0202"  # the second message: [1]
    with pytest.raises(partsim.UsageError, match="does not match the registry's schema type"):
        resolve_key("protobuf", schema_registry=url, key_subject="orders-key")
    with pytest.raises(partsim.UsageError, match="is not the registry's id"):
        resolve_key(schema_id=5, schema_registry=url, key_subject="orders-key")


@pytest.mark.parametrize(
    ("subject", "version", "message"),
    [("nope-key", "latest", "Subject 'nope-key' not found. (error code 40401)"),
     ("orders-key", 9, "Version 9 not found. (error code 40402)"),
     ("refs-key", "latest", "schema references")],
)  # fmt: skip
def test_registry_errors_name_the_problem(registry, subject, version, message) -> None:
    url, _ = registry
    with pytest.raises(RegistryError, match=message.replace("(", r"\(").replace(")", r"\)")):
        fetch_schema(url, subject=subject, version=version)


def test_basic_auth_and_no_secret_in_any_message(secured) -> None:
    url, handler = secured
    found = fetch_schema(url, subject="orders-key",
                         config={"basic.auth.user.info": f"alice:{PASSWORD}"})  # fmt: skip
    assert found.schema_id == 7
    expected = "Basic " + base64.b64encode(f"alice:{PASSWORD}".encode()).decode()
    assert handler.seen[-1]["headers"]["Authorization"] == expected
    # Credentials in the URL, as Confluent's clients also take them.
    host = url.removeprefix("http://")
    assert fetch_schema(f"http://alice:{PASSWORD}@{host}", subject="orders-key").schema_id == 7
    for config, target in [({"basic.auth.user.info": "alice:wrong-" + PASSWORD}, url),
                           ({}, f"http://alice:x{PASSWORD}@{host}"), ({}, url)]:  # fmt: skip
        with pytest.raises(RegistryError, match="HTTP 401") as caught:
            fetch_schema(target, subject="orders-key", config=config)
        assert PASSWORD not in str(caught.value)
    result = run_partsim("partition", "42", "-p", "6", "--schema-registry", url, "--key-subject",
                         "orders-key", "--registry-config",
                         f"basic.auth.user.info=alice:b{PASSWORD}")  # fmt: skip
    assert result.returncode == 1
    assert "HTTP 401" in result.stderr and PASSWORD not in result.stderr + result.stdout


def test_unreachable_registry_is_one_line(registry) -> None:
    url, _ = registry
    port = int(url.rsplit(":", 1)[1])
    with pytest.raises(RegistryError, match="cannot reach the Schema Registry"):
        fetch_schema(f"http://user:{PASSWORD}@127.0.0.1:1", subject="orders-key", timeout=2)
    try:
        fetch_schema(f"http://user:{PASSWORD}@127.0.0.1:1", subject="orders-key", timeout=2)
    except RegistryError as error:
        assert PASSWORD not in str(error) and "user" not in str(error)
    assert port > 1


@pytest.mark.parametrize(
    "host", ["local host:8081", "localhost:99999", "localhost:port", ""], ids=repr
)
def test_a_malformed_registry_url_is_one_line_without_its_password(host: str) -> None:
    """Hosts and ports that ``urllib`` refuses (a space, a port out of range or not a number,
    no host) are the user's input, not a bug in partsim; the password is never echoed."""
    url = f"http://user:{PASSWORD}@{host}"
    result = run_partsim(
        "partition", "42", "-p", "12", "--schema-registry", url, "--key-subject", "orders-key"
    )
    assert result.returncode == 2, result.stderr  # a usage error, as for any bad option
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: --schema-registry "), lines
    assert "internal error" not in lines[0] and PASSWORD not in lines[0]


def test_cli_reads_the_key_schema_from_the_registry(registry) -> None:
    url, _ = registry
    result = run_partsim("partition", "42", "-p", "12", "--schema-registry", url,
                      "--key-subject", "orders-key", "--json")  # fmt: skip
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["partitions"] == [(murmur2(b"\x00\x00\x00\x00\x07\x54") & 0x7FFFFFFF) % 12]
    assert payload["registry"] == {"subject": "orders-key", "version": 2, "schema_id": 7,
                                   "schema_type": "AVRO"}  # fmt: skip
    result = run_partsim("partition", "42", "-p", "12", "--schema-registry", url, "--key-subject",
                      "orders-key", "--key-version", "1", "--json")  # fmt: skip
    expected = (murmur2(b"\x00\x00\x00\x00\x03\x0442") & 0x7FFFFFFF) % 12  # "42" as a string
    assert json.loads(result.stdout)["partitions"] == [expected]


# ------------------------------------------------------------------------------ TLS
@pytest.fixture(scope="module")
def certificates(tmp_path_factory):
    """A CA, a server certificate for 127.0.0.1 and a client certificate, by openssl."""
    if shutil.which("openssl") is None:
        skip_or_fail("openssl is not installed (apt-get install openssl)")
    folder = tmp_path_factory.mktemp("tls")

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=folder, check=True, capture_output=True)

    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=test-ca",
            "-keyout", "ca.key", "-out", "ca.pem")  # fmt: skip
    for name, extension in [("server", "subjectAltName=IP:127.0.0.1"),
                            ("client", "extendedKeyUsage=clientAuth")]:  # fmt: skip
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={name}",
                "-keyout", f"{name}.key", "-out", f"{name}.csr")  # fmt: skip
        (folder / f"{name}.ext").write_text(extension + "\n")
        openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                "-CAcreateserial", "-days", "2", "-extfile", f"{name}.ext",
                "-out", f"{name}.pem")  # fmt: skip
    return folder


@pytest.fixture
def tls_registry(certificates):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certificates / "server.pem", certificates / "server.key")
    context.load_verify_locations(certificates / "ca.pem")
    context.verify_mode = ssl.CERT_REQUIRED  # mutual TLS: the client shows its certificate
    handler = type("TlsRegistry", (Registry,), {"users": {"alice": PASSWORD}, "seen": []})
    server = serve(handler, context)
    yield f"https://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_tls_with_client_certificate(tls_registry, certificates) -> None:
    config = {"ssl.ca.location": str(certificates / "ca.pem"),
              "ssl.certificate.location": str(certificates / "client.pem"),
              "ssl.key.location": str(certificates / "client.key"),
              "basic.auth.user.info": f"alice:{PASSWORD}"}  # fmt: skip
    assert fetch_schema(tls_registry, subject="orders-key", config=config).schema_id == 7
    without_ca = {k: v for k, v in config.items() if k != "ssl.ca.location"}
    with pytest.raises(RegistryError, match="cannot reach") as caught:
        fetch_schema(tls_registry, subject="orders-key", config=without_ca, timeout=5)
    assert "CERTIFICATE_VERIFY_FAILED" in str(caught.value) and PASSWORD not in str(caught.value)
    without_cert = {k: v for k, v in config.items()
                    if k not in ("ssl.certificate.location", "ssl.key.location")}  # fmt: skip
    with pytest.raises(RegistryError, match="cannot reach"):
        fetch_schema(tls_registry, subject="orders-key", config=without_cert, timeout=5)
    result = run_partsim("partition", "42", "-p", "12", "--schema-registry", tls_registry,
                      "--key-subject", "orders-key", "--json",
                      *[f"--registry-config={k}={v}" for k, v in config.items()])  # fmt: skip
    assert result.returncode == 0, result.stderr
