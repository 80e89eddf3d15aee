"""One options object per concern, configured once and passed down whole.

As pyarrow's CSV reader takes a ``ReadOptions``, a ``ParseOptions`` and a ``ConvertOptions``,
every command of partsim takes:

* :class:`InputOptions`: how the events are read (format, delimiter, regex, strictness);
* :class:`ProducerOptions`: how the producer makes and places a key (the key design, its
  serializer and Schema Registry framing, the client's partitioner, the null-field rule, and
  the seed of the keyless picks);
* :class:`MeasureOptions`: what is measured (bytes per event, event time and window, the
  entity whose order matters, how many hot keys, how many keys exactly);
* :class:`EngineOptions`: where it is computed (this process, or a Dask cluster).

Each object checks its values when it is made, so a bad option fails before any data is
read. The public functions still take the fields as plain keyword arguments:
:func:`split_options` builds the objects from them.

>>> producer = ProducerOptions(key="customer_id", partitioner="confluent-kafka")
>>> producer.client().name, producer.framing()
('librdkafka:consistent_random', b'')
>>> split_options({"key": "k", "size": "bytes", "strict": True}, ProducerOptions,
...               MeasureOptions, InputOptions)[2].strict
True
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

from partsim.errors import UsageError, invalid_choice
from partsim.extras import require
from partsim.io import BATCH_ROWS
from partsim.sketch import DEFAULT_EXACT_KEY_BYTES, DEFAULT_EXACT_KEYS

__all__ = [
    "DEFAULT_BLOCKSIZE",
    "ENGINES",
    "EngineOptions",
    "InputOptions",
    "MeasureOptions",
    "ProducerOptions",
    "split_options",
]

#: Where the aggregates are computed: this process, or a Dask cluster.
ENGINES = ("local", "dask")
#: Bytes per piece of input on Dask, as dask.dataframe.read_csv cuts files.
DEFAULT_BLOCKSIZE = 64 << 20


@dataclass(frozen=True)
class InputOptions:
    """How the events are read (see :func:`partsim.io.open_events`).

    ``format`` overrides each file's extension; ``delimiter`` the CSV delimiter; ``regex``
    reads log lines; ``strict`` makes an unparsable row (or an unparsable size or time) an
    error instead of a skipped row; ``batch_rows`` is the rows per batch (results do not
    depend on it).
    """

    format: str | None = None
    delimiter: str | None = None
    regex: str | None = None
    strict: bool = False
    batch_rows: int = BATCH_ROWS

    def open(self, inputs: object):
        """The :class:`~partsim.io.EventSource` of ``inputs`` (paths, globs, ``-``, a
        DataFrame or a Table), read with these options."""
        from partsim.io import open_events

        return open_events(inputs, format=self.format, delimiter=self.delimiter,
                           regex=self.regex, strict=self.strict,
                           batch_rows=self.batch_rows)  # fmt: skip


@dataclass(frozen=True)
class ProducerOptions:
    """How the producer makes a record's key bytes and picks its partition.

    ``key`` is the key design: a column, or a template such as ``"{region}:{customer_id}"``
    (:mod:`partsim.design`); a null field makes a null key unless ``null_field_as_empty``.
    ``key_format`` is the serializer (:data:`partsim.serde.KEY_FORMATS`); with a schema
    format (``avro``, ``json``, ``protobuf``, ``connect-json``, ``connect-json-schemaless``)
    ``key_schema`` is its schema (text, or a file read when the options are made) and
    ``key_message`` the ``.proto`` message; with a record schema ``key`` may be None, and
    each field then comes from the column of its name. ``schema_id`` adds Confluent Schema
    Registry framing (``schema_type`` says how, for a raw format). ``partitioner`` names the
    client's partitioner (aliases accepted). ``seed`` seeds the picks of keyless records
    and the random-placement reference.
    """

    key: str | None = None
    partitioner: str = "java"
    key_format: str = "string"
    schema_id: int | None = None
    schema_type: str = "avro"
    key_schema: str | None = None
    key_message: str | None = None
    null_field_as_empty: bool = False
    seed: int = 0

    def __post_init__(self) -> None:
        from partsim.schemas import read_schema_text
        from partsim.serde import check_key_format

        check_key_format(self.key_format)
        if self.key_schema is not None:
            object.__setattr__(self, "key_schema", read_schema_text(self.key_schema))
        self.framing()  # checks schema_id and schema_type, and parses the key schema
        self.client()  # checks the partitioner's name

    def client(self):
        """The :class:`~partsim.partitioners.Partitioner` named by ``partitioner``."""
        from partsim.partitioners import get_partitioner

        return get_partitioner(self.partitioner)

    def design(self):
        """The parsed key design (:class:`~partsim.design.KeyDesign`), or None for a record
        key whose fields come from their columns."""
        from partsim.design import parse_design

        if self.key is None:
            serializer = self.key_serializer().serializer()
            if serializer is not None and serializer.is_record:
                return None
            raise UsageError(
                "give a key design: --key COLUMN or a template such as '{a}:{b}' (it may be "
                "left out only with a record key schema, whose fields come from the columns "
                "of the same names)"
            )
        return parse_design(self.key, null_field_as_empty=self.null_field_as_empty)

    def key_serializer(self):
        """The key's serializer as one :class:`~partsim.schemas.KeyFormat`, with the client's
        rule for text that holds a lone surrogate (its partitioner's ``text_encoding``)."""
        from partsim.schemas import KeyFormat

        return KeyFormat(self.key_format, self.key_schema, self.schema_id, self.schema_type,
                         self.key_message, text_encoding=self.client().text_encoding)  # fmt: skip

    def framing(self) -> bytes:
        """The Schema Registry prefix of every key (``b""`` without a schema id): for
        Protobuf the message-index list too."""
        return self.key_serializer().prefix()

    def encode(self, keys: object):
        """Keys (a column, a template's text, or records) as the bytes this producer sends,
        with the keys a key schema cannot hold (:class:`~partsim.schemas.Encoded`)."""
        from partsim.serde import encode_keys

        return encode_keys(keys, self.key_serializer())

    def serialize(self, keys: object):
        """Keys as the bytes this producer sends; a key the schema cannot hold is a
        :class:`~partsim.errors.DataError`."""
        return self.encode(keys).checked(self.key_format)

    def display(self, key: bytes | None) -> str:
        """A serialized key shown as the user wrote it (decoded by its schema)."""
        from partsim.serde import key_display

        return key_display(self.key_serializer())(key)


@dataclass(frozen=True)
class MeasureOptions:
    """What is measured about the events.

    ``size`` names a bytes-per-event column (default: key plus value size where the input
    has ``value_size``, else 1); ``timestamp`` names the event time, counted per ``window``
    (``"1min"``, ``"30s"``, or seconds); ``order_by`` names the entity whose events must stay
    in order; ``top`` is how many hot keys to report (None: every one, where that applies);
    past ``exact_keys`` distinct keys, or ``exact_key_bytes`` of them (a size such as
    ``"64MiB"``), hot keys and distinct counts come from sketches, and past
    ``exact_entities`` distinct entities (default: as many as 256 MiB holds for the
    configurations followed), ordering comes from a sample of entities
    (:mod:`partsim.ordering`).
    """

    size: str | None = None
    timestamp: str | None = None
    window: str | int | float = "1min"
    order_by: str | None = None
    top: int | None = 20
    exact_keys: int = DEFAULT_EXACT_KEYS
    exact_key_bytes: int | str = DEFAULT_EXACT_KEY_BYTES
    exact_entities: int | None = None

    def __post_init__(self) -> None:
        from partsim.sketch import check_exact_key_bytes, check_exact_keys

        if self.top is not None and (
            isinstance(self.top, bool) or not isinstance(self.top, int) or self.top < 0
        ):
            raise UsageError(f"--top must be a whole number >= 0; got {self.top!r}")
        check_exact_keys(self.exact_keys)
        object.__setattr__(self, "exact_key_bytes", check_exact_key_bytes(self.exact_key_bytes))
        if self.exact_entities is not None:
            check_exact_keys(self.exact_entities, "--exact-entities")
        self.window_ns  # noqa: B018 - checks the window

    @property
    def window_ns(self) -> int:
        """The window length in nanoseconds."""
        from partsim.events import parse_window

        return parse_window(self.window)

    def columns(self) -> dict[str, str]:
        """The columns these measures read, by the option that names them."""
        named = (("--size", self.size), ("--timestamp", self.timestamp),
                 ("--order-by", self.order_by))  # fmt: skip
        return {option: column for option, column in named if column}


@dataclass(frozen=True)
class EngineOptions:
    """Where the aggregates are computed: ``engine`` ``"local"`` (this process's threads) or
    ``"dask"`` (a cluster at ``scheduler``, default a local one, reading pieces of about
    ``blocksize`` bytes; :mod:`partsim.dask_engine`)."""

    engine: str = "local"
    scheduler: str | None = None
    blocksize: int | str = DEFAULT_BLOCKSIZE

    def __post_init__(self) -> None:
        if self.engine not in ENGINES:
            raise invalid_choice("--engine", self.engine, ENGINES)
        if self.engine == "dask":  # before anything else: is Dask installed?
            require("dask")


def split_options(options: dict[str, Any], *kinds: type, given: tuple = ()) -> tuple:
    """One object of each of ``kinds``, from the keyword arguments named after its fields.

    ``options`` is emptied of the names it gives; ``given`` holds objects (or None) to start
    from, in the order of ``kinds``, which the keyword arguments then override. A name no
    kind has is a :class:`TypeError`, as for any function."""
    objects = []
    for index, kind in enumerate(kinds):
        names = {item.name for item in fields(kind)}
        mine = {name: options.pop(name) for name in list(options) if name in names}
        start = given[index] if index < len(given) else None
        objects.append(kind(**mine) if start is None else replace(start, **mine))
    if options:
        raise TypeError(f"unexpected keyword argument {next(iter(options))!r}")
    return tuple(objects)
