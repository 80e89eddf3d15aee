"""A read-only Schema Registry client: the key schema and its id, from a Confluent-compatible
registry's REST API.

Two read endpoints of the Confluent Schema Registry API (docs.confluent.io, "Schema Registry
API reference"), which Karapace, Apicurio's ``ccompat`` API and Redpanda serve as well:

- ``GET /subjects/{subject}/versions/{version}`` (``version``: a number or ``latest``):
  ``{"subject", "id", "version", "schemaType", "schema", "references"}``;
- ``GET /schemas/ids/{id}``: ``{"schema", "schemaType", "references"}``.

``schemaType`` is absent for Avro. Nothing is ever written to the registry.

Subjects: under ``TopicNameStrategy`` (the serializers' default) a topic's key schema is the
subject ``<topic>-key``; under ``RecordNameStrategy`` it is the record's (or message's) full
name, ``com.acme.OrderKey``; under ``TopicRecordNameStrategy``, ``<topic>-<full name>``
(:func:`subject_name`).

Settings use the names of Confluent's clients: ``basic.auth.user.info`` (``USER:PASSWORD``;
also accepted as the URL's ``user:password@``), ``ssl.ca.location``,
``ssl.certificate.location``, ``ssl.key.location`` and ``ssl.key.password``. No secret is
ever printed: errors name the URL without its credentials, and every secret setting's value
is scrubbed from their text.
"""

from __future__ import annotations

import base64
import json
import ssl
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass

from partsim._live_reader import _scrub
from partsim.errors import PartsimError, UsageError, invalid_choice
from partsim.schemas import KeyFormat, read_schema_text

__all__ = [
    "REGISTRY_SETTINGS",
    "RegisteredSchema",
    "RegistryError",
    "fetch_schema",
    "resolve_key",
    "subject_name",
]

#: The settings the client understands.
REGISTRY_SETTINGS = (
    "basic.auth.user.info",
    "basic.auth.credentials.source",
    "ssl.ca.location",
    "ssl.certificate.location",
    "ssl.key.location",
    "ssl.key.password",
)
SUBJECT_STRATEGIES = ("topic", "record", "topic-record")
_FORMATS = {"AVRO": "avro", "JSON": "json", "PROTOBUF": "protobuf"}


class RegistryError(PartsimError):
    """The Schema Registry could not be read: unreachable, refused, or no such schema."""

    exit_code = 1


@dataclass(frozen=True)
class RegisteredSchema:
    """A schema as the registry returned it."""

    schema: str
    schema_id: int
    schema_type: str  # AVRO, JSON or PROTOBUF
    subject: str | None = None
    version: int | None = None

    @property
    def key_format(self) -> str:
        """The partsim key format of this schema type."""
        return _FORMATS[self.schema_type]

    def summary(self) -> dict:
        return {"subject": self.subject, "version": self.version, "schema_id": self.schema_id,
                "schema_type": self.schema_type}  # fmt: skip


def subject_name(strategy: str, *, topic: str | None = None, record: str | None = None) -> str:
    """The key subject under a subject naming strategy.

    >>> subject_name("topic", topic="orders"), subject_name("record", record="shop.OrderKey")
    ('orders-key', 'shop.OrderKey')
    """
    if strategy not in SUBJECT_STRATEGIES:
        raise invalid_choice("subject strategy", strategy, SUBJECT_STRATEGIES)
    if strategy in ("topic", "topic-record") and not topic:
        raise UsageError(f"the {strategy} subject strategy needs the topic")
    if strategy in ("record", "topic-record") and not record:
        raise UsageError(f"the {strategy} subject strategy needs the record's full name")
    if strategy == "topic":
        return f"{topic}-key"
    if strategy == "record":
        return record  # type: ignore[return-value]
    return f"{topic}-{record}"


def _public_url(url: str) -> str:
    """The URL without ``user:password@``."""
    parts = urllib.parse.urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port:
        host += f":{parts.port}"
    return urllib.parse.urlunsplit(parts._replace(netloc=host))


def _ssl_context(config: Mapping[str, str]) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=config.get("ssl.ca.location") or None)
    certificate = config.get("ssl.certificate.location")
    if certificate:
        context.load_cert_chain(
            certificate,
            config.get("ssl.key.location") or None,
            config.get("ssl.key.password") or None,
        )
    return context


def _authorization(url: str, config: Mapping[str, str]) -> str | None:
    user_info = config.get("basic.auth.user.info")
    source = config.get("basic.auth.credentials.source", "USER_INFO" if user_info else "URL")
    if source.upper() == "URL":
        parts = urllib.parse.urlsplit(url)
        if parts.username is None:
            return None
        user_info = (
            f"{urllib.parse.unquote(parts.username)}:{urllib.parse.unquote(parts.password or '')}"
        )
    elif source.upper() != "USER_INFO":
        raise UsageError(
            "basic.auth.credentials.source must be USER_INFO or URL; got "
            f"{config['basic.auth.credentials.source']!r}"
        )
    if not user_info:
        return None
    if ":" not in user_info:
        raise UsageError("basic.auth.user.info must be USER:PASSWORD")  # the value is secret
    return "Basic " + base64.b64encode(user_info.encode("utf-8")).decode("ascii")


def _get(url: str, path: str, config: Mapping[str, str], timeout: float) -> dict:
    unknown = sorted(set(config) - set(REGISTRY_SETTINGS))
    if unknown:
        raise invalid_choice("registry setting", unknown[0], REGISTRY_SETTINGS)
    secrets = dict(config)
    try:
        parts = urllib.parse.urlsplit(url)
        parts.port  # noqa: B018 (raises ValueError for a port out of range or not a number)
        if parts.hostname is None or any(c.isspace() for c in parts.netloc):
            raise ValueError("no host name, or a space in it")
    except ValueError as error:
        raise UsageError(f"--schema-registry is not a valid URL ({error}); expected e.g. "
                         "https://registry.example.com:8081") from None  # fmt: skip
    if parts.scheme not in ("http", "https"):
        raise UsageError(f"--schema-registry must be an http:// or https:// URL; got "
                         f"{_public_url(url)!r}")  # fmt: skip
    if parts.password:
        secrets["url.password"] = urllib.parse.unquote(parts.password)
    base = _public_url(url).rstrip("/")
    request = urllib.request.Request(
        base + path, headers={"Accept": "application/vnd.schemaregistry.v1+json, application/json"}
    )
    authorization = _authorization(url, config)
    if authorization:
        request.add_header("Authorization", authorization)
    context = None
    try:
        if parts.scheme == "https":
            context = _ssl_context(config)
        with urllib.request.urlopen(request, timeout=timeout, context=context) as response:
            body = response.read()
    except urllib.error.HTTPError as error:
        detail = ""
        try:
            answer = json.loads(error.read())
            detail = f": {answer.get('message')} (error code {answer.get('error_code')})"
        except (ValueError, AttributeError, OSError):
            pass
        if error.code in (401, 403):
            detail = (" (authentication refused: check basic.auth.user.info)"
                      if error.code == 401 else " (access denied)")  # fmt: skip
        raise RegistryError(_scrub(f"Schema Registry {base}{path} answered HTTP {error.code}"
                                   f"{detail}", secrets)) from None  # fmt: skip
    except (urllib.error.URLError, OSError, ssl.SSLError, ValueError) as error:
        reason = getattr(error, "reason", error)
        raise RegistryError(
            _scrub(f"cannot reach the Schema Registry at {base}: {reason}", secrets)
        ) from None
    try:
        answer = json.loads(body)
    except ValueError:
        answer = None
    if not isinstance(answer, dict) or not isinstance(answer.get("schema"), str):
        raise RegistryError(f"Schema Registry {base}{path} did not answer with a schema")
    return answer


def fetch_schema(
    url: str,
    *,
    subject: str | None = None,
    version: str | int = "latest",
    schema_id: int | None = None,
    config: Mapping[str, str] | None = None,
    timeout: float = 10.0,
) -> RegisteredSchema:
    """The schema of ``subject`` at ``version`` (a number or ``latest``), or the schema with
    id ``schema_id``, read from the registry at ``url``."""
    config = dict(config or {})
    if subject is None and schema_id is None:
        raise UsageError("--schema-registry needs --key-subject (or --schema-id)")
    if subject is not None:
        version_text = str(version)
        if version_text != "latest" and not (version_text.isdigit() and int(version_text) > 0):
            raise UsageError(f"--key-version must be a version number or latest; got {version!r}")
        path = (f"/subjects/{urllib.parse.quote(subject, safe='')}/versions/"
                f"{version_text}")  # fmt: skip
    else:
        path = f"/schemas/ids/{int(schema_id)}"  # type: ignore[arg-type]
    answer = _get(url, path, config, timeout)
    if answer.get("references"):
        raise RegistryError(
            f"the key schema of {subject or f'id {schema_id}'} uses schema references, "
            "which partsim cannot follow; give the whole schema as --key-schema"
        )
    schema_type = answer.get("schemaType") or "AVRO"
    if schema_type not in _FORMATS:
        raise RegistryError(f"the registry's schema type {schema_type!r} is not one of "
                            f"{', '.join(_FORMATS)}")  # fmt: skip
    found_id = answer.get("id", schema_id)
    if not isinstance(found_id, int):
        raise RegistryError(f"Schema Registry {_public_url(url)}{path} gave no schema id")
    return RegisteredSchema(
        schema=answer["schema"], schema_id=found_id, schema_type=schema_type,
        subject=answer.get("subject", subject), version=answer.get("version"),
    )  # fmt: skip


def resolve_key(
    key_format: str | None = "string",
    key_schema: str | None = None,
    *,
    schema_id: int | None = None,
    schema_type: str = "avro",
    key_message: str | None = None,
    schema_registry: str | None = None,
    key_subject: str | None = None,
    key_version: str | int = "latest",
    registry_config: Mapping[str, str] | None = None,
    timeout: float = 10.0,
) -> KeyFormat:
    """The key serializer from the options as given: a schema file or text is read, and
    with ``schema_registry`` the schema, its type and its id come from the registry (the
    key format too, unless given). Everything is checked before any data is read."""
    key_format = key_format or "string"
    registry: tuple = ()
    if schema_registry is not None:
        if key_schema is not None:
            raise UsageError("give --key-schema or --schema-registry, not both")
        found = fetch_schema(
            schema_registry, subject=key_subject, version=key_version,
            schema_id=None if key_subject else schema_id, config=registry_config,
            timeout=timeout,
        )  # fmt: skip
        if key_format == "string":
            key_format = found.key_format
        elif key_format != found.key_format and not (
            key_format.startswith("connect") and found.key_format == "json"
        ):
            raise UsageError(
                f"--key-format {key_format} does not match the registry's schema type "
                f"{found.schema_type} for {key_subject or f'id {schema_id}'}"
            )
        if schema_id is not None and schema_id != found.schema_id:
            raise UsageError(
                f"--schema-id {schema_id} is not the registry's id for {key_subject} "
                f"version {key_version} ({found.schema_id}); leave --schema-id out"
            )
        schema_id, key_schema = found.schema_id, found.schema
        registry = tuple(found.summary().items())
    elif key_subject is not None:
        raise UsageError("--key-subject needs --schema-registry URL")
    if key_schema is not None:
        key_schema = read_schema_text(key_schema)
    out = KeyFormat(key_format, key_schema, schema_id, schema_type, key_message, registry)
    out.serializer()  # a bad schema is a usage error before any reading
    return out
