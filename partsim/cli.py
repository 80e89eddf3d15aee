"""partsim's command line: parse options, make one library call, format the result.

Data goes to stdout, messages to stderr. An error partsim raises on purpose is printed as one
``Error: ...`` line: exit 2 for a bad argument, 1 for bad data. Set ``PARTSIM_DEBUG=1`` to see
the traceback of an unexpected error.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sys
from collections.abc import Sequence
from dataclasses import replace
from typing import NoReturn

import click

from partsim import __version__
from partsim.api import assign
from partsim.errors import PartsimError, UsageError
from partsim.options import ENGINES
from partsim.partitioners import (
    KEYLESS_SHORT,
    KEYLESS_STRATEGIES,
    MAX_PARTITION_COUNT,
    PARTITIONERS,
    get_partitioner,
    keyless_mask,
    partitioner_names,
)
from partsim.schemas import KeyFormat
from partsim.serde import (
    KEY_FORMATS,
    SCHEMA_TYPES,
    TEXT_ENCODING_SHORT,
    TEXT_ENCODINGS,
    encode_keys,
    is_utf8,
)


class PartitionerType(click.ParamType):
    """A partitioner name or alias; a misspelling gets the closest name suggested."""

    name = "partitioner"

    def convert(self, value, param, ctx):
        try:
            return get_partitioner(value).name
        except UsageError as error:
            self.fail(str(error), param, ctx)

    def get_metavar(self, param, ctx=None):  # click >= 8.2 passes ctx
        return "NAME"


PARTITION_COUNT = click.IntRange(1, MAX_PARTITION_COUNT)


KEY_FORMAT_OPTION = click.option(
    "--key-format", type=click.Choice(KEY_FORMATS), default="string", show_default=True,
    help="How the producer serializes keys.",
)  # fmt: skip
SCHEMA_ID_OPTION = click.option(
    "--schema-id", type=click.IntRange(0, 2**31 - 1), default=None,
    help="Confluent Schema Registry id: frame keys as 0x00 + 4-byte id + payload.",
)  # fmt: skip
SCHEMA_TYPE_OPTION = click.option(
    "--schema-type", type=click.Choice(SCHEMA_TYPES), default="avro", show_default=True,
    help="With a schema id and a raw key format: protobuf adds the message-index byte.",
)  # fmt: skip


def _registry_properties(ctx, param, values: Sequence[str]) -> dict[str, str]:
    return _properties(ctx, param, values)


def key_schema_options(command):
    """The key's schema: a file or text, or read from a Schema Registry."""
    return _stack(command, [
        click.option("--key-schema", metavar="SCHEMA", default=None,
                     help="The key's schema, for --key-format avro, json, protobuf or "
                     "connect-json: a file (.avsc, .json, .proto) or its text, e.g. '\"long\"'."),
        click.option("--key-message", metavar="NAME", default=None,
                     help="With a .proto key schema: the key message (default: the first)."),
        click.option("--schema-registry", metavar="URL", default=None,
                     help="Read the key schema, its type and its id from this Schema "
                     "Registry (read-only)."),
        click.option("--key-subject", metavar="SUBJECT", default=None,
                     help="With --schema-registry: the key's subject, TOPIC-key "
                     "(TopicNameStrategy) or the record's full name (RecordNameStrategy)."),
        click.option("--key-version", metavar="N|latest", default="latest", show_default=True,
                     help="With --key-subject: the schema version."),
        click.option("--registry-config", metavar="KEY=VALUE", multiple=True,
                     callback=_registry_properties,
                     help="A Schema Registry client setting (repeatable): "
                     "basic.auth.user.info=USER:PASSWORD, ssl.ca.location=FILE, "
                     "ssl.certificate.location=FILE, ssl.key.location=FILE."),
    ])  # fmt: skip


def key_options(options: dict) -> dict:
    """The key serializer's options of a command, resolved (a schema read from its file or
    from the registry), as the library's keyword arguments."""
    key = resolve_key(options)
    return {"key_format": key.key_format, "key_schema": key.key_schema,
            "schema_id": key.schema_id, "schema_type": key.schema_type,
            "key_message": key.key_message}  # fmt: skip


def resolve_key(options: dict) -> KeyFormat:
    """Take the key serializer's options out of a command's options, as one KeyFormat."""
    from partsim.registry import resolve_key as resolve

    return resolve(
        options.pop("key_format", "string"), options.pop("key_schema", None),
        schema_id=options.pop("schema_id", None), schema_type=options.pop("schema_type", "avro"),
        key_message=options.pop("key_message", None),
        schema_registry=options.pop("schema_registry", None),
        key_subject=options.pop("key_subject", None),
        key_version=options.pop("key_version", "latest"),
        registry_config=options.pop("registry_config", None),
    )  # fmt: skip


def _stack(command, options):
    for option in reversed(options):
        command = option(command)
    return command


def producer_options(command=None, *, partitions_required: bool = True):
    """The options that describe the producer: partitions, partitioner and key serializer.

    ``@producer_options(partitions_required=False)`` leaves -p to the command (analyze
    --bootstrap takes the topic's partition count).
    """
    if command is None:
        return lambda command: producer_options(command, partitions_required=partitions_required)
    return _stack(command, [
        click.option("-p", "--partitions", "partition_count", type=PARTITION_COUNT,
                     required=partitions_required,
                     help="The topic's partition count."
                     + ("" if partitions_required else " With --bootstrap: the topic's.")),
        click.option("--partitioner", type=PartitionerType(), default="java", show_default=True,
                     help="The producer client's partitioner (see `partsim partitioners`)."),
        KEY_FORMAT_OPTION,
        SCHEMA_ID_OPTION,
        SCHEMA_TYPE_OPTION,
        key_schema_options,
    ])  # fmt: skip


@click.group(
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    invoke_without_command=True,
)
@click.version_option(__version__, prog_name="partsim")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """See how Kafka record keys spread over partitions, before production shows you.

    partsim reproduces, bit for bit, the partitioners of real Kafka clients (Java, librdkafka,
    sarama, kafka-go, kafkajs, franz-go, kafka-python) plus Pulsar and Kinesis.

    \b
    Examples:
      partsim analyze sample_data/orders.csv --key customer_id -p 12
      partsim sweep sample_data/orders.csv -p 6,12,24 --design c=customer_id
      partsim whatif sample_data/orders.csv --key customer_id --from-partitions 12 \\
          --to-partitions 16
      partsim partition user-42 order-7 -p 12
      partsim partition user-42 -p 12 --compare
      partsim partitioners
    """
    if ctx.invoked_subcommand is None:  # a bare `partsim` shows this help
        click.echo(ctx.get_help())


@cli.command()
@click.argument("keys", nargs=-1, required=True)
@producer_options
@click.option(
    "--compare", is_flag=True, help="Show each key's partition under every registered partitioner."
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def partition(
    keys: Sequence[str],
    partition_count: int,
    partitioner: str,
    compare: bool,
    as_json: bool,
    **options,
) -> None:
    """Print the partition of each KEY, as the named client would choose it.

    KEY is the key as the producer's serializer receives it (text by default; see
    --key-format): with a key schema, a value of its type (42 for "long") or, for a record,
    its JSON object. Give - to read keys from stdin, one per line (LF or CRLF); text must be
    UTF-8 (a BOM at the start is dropped), and --key-format bytes takes each line's raw
    bytes. A key that the client does not hash (an empty key where it counts as null)
    shows its keyless path instead.

    \b
    Examples:
      partsim partition user-42 order-7 -p 12
      partsim partition user-42 -p 12 --partitioner confluent-kafka
      partsim partition 42 -p 6 --key-format avro --key-schema '"long"' --schema-id 3
      partsim partition '{"id": 1001}' -p 6 --key-format connect-json \\
          --key-schema customers-key.json
      partsim partition 42 -p 6 --schema-registry http://localhost:8081 \\
          --key-subject orders-key
      partsim partition user-42 -p 12 --compare
      cut -d, -f1 keys.csv | partsim partition - -p 24 --json
    """
    serializer = resolve_key(options)
    key_list = _read_keys(keys, serializer.key_format)
    names = partitioner_names() if compare else [partitioner]
    rows: dict[str, list[int | None]] = {}
    for name in names:
        # Each client writes text as its runtime does (a lone surrogate differs).
        client_key = replace(serializer, text_encoding=get_partitioner(name).text_encoding)
        framed = encode_keys(key_list, client_key).checked(serializer.key_format)
        # Keys on the keyless path (or rejected) get a label, not a made-up partition.
        hashed = ~keyless_mask(get_partitioner(name), framed)
        placed = iter(
            assign(framed.filter(hashed), partition_count, partitioner=name, key_format="bytes")
        )
        rows[name] = [int(next(placed)) if keep else None for keep in hashed.tolist()]
    shown = [_display(key) for key in key_list]
    if as_json:
        texts = [_text(key) for key in key_list]
        exact = [
            key.decode("utf-8", "replace") if text is None else text
            for key, text in zip(key_list, texts, strict=True)
        ]
        payload = {
            "partition_count": partition_count,
            **serializer.summary(),
            # The keys exactly (the empty key is ""); keys_hex too when one is not UTF-8.
            "keys": exact,
            "partitions": rows if compare else rows[partitioner],
        }
        if None in texts:
            payload["keys_hex"] = [_bytes(key).hex() for key in key_list]
        if not compare:
            payload["partitioner"] = partitioner
        click.echo(json.dumps(payload, indent=2))
        return
    if compare:
        _print_compare(shown, rows, partition_count)
    else:
        label = _keyless_label(partitioner)
        width = max(len("key"), *(len(key) for key in shown))
        click.echo(f"{'key':<{width}}  partition")
        for key, value in zip(shown, rows[partitioner], strict=True):
            click.echo(f"{key:<{width}}  {label if value is None else value}")


def _print_compare(keys: list[str], rows: dict[str, list[int | None]], partition_count: int):
    header = ["partitioner", *keys]
    body = [
        [name, *(_keyless_label(name) if v is None else str(v) for v in values)]
        for name, values in rows.items()
    ]
    widths = [max(len(row[i]) for row in [header, *body]) for i in range(len(header))]
    for row in [header, *body]:
        click.echo(
            "  ".join(
                cell.ljust(w) if i == 0 else cell.rjust(w)
                for i, (cell, w) in enumerate(zip(row, widths, strict=True))
            )
        )
    for index, key in enumerate(keys):
        placements = {values[index] for values in rows.values() if values[index] is not None}
        click.echo(
            f"{key}: {len(placements)} different partitions of {partition_count} among the "
            "clients that hash it",
            err=True,
        )


def _keyless_label(name: str) -> str:
    chosen = get_partitioner(name)
    if chosen.null_key == "reject":
        return "rejected"
    return KEYLESS_SHORT[chosen.keyless]


def _read_keys(keys: Sequence[str], key_format: str) -> list[str | bytes]:
    from partsim.io import key_lines

    out: list[str | bytes] = []
    for key in keys:
        if key == "-":
            out.extend(key_lines(sys.stdin.buffer.read(), text=key_format != "bytes"))
        elif key_format == "bytes":
            out.append(os.fsencode(key))
        elif not is_utf8(key):  # bytes of argv that are not UTF-8 (surrogate escapes)
            raise UsageError(
                f"key {os.fsencode(key)!r} is not valid UTF-8; give --key-format bytes to hash "
                "its raw bytes"
            )
        else:
            out.append(key)
    if not out:
        raise UsageError("no keys given: pass keys as arguments, or - with keys on stdin")
    return out


def _display(key: str | bytes) -> str:
    """A key as tables show it, unambiguously: bare when plain, else JSON-quoted (the empty
    key is ``""``, the two-character key ``""`` is ``"\\"\\""``); bytes that are not
    UTF-8 show as a Python bytes literal (``b'\\xff'``)."""
    text = _text(key)
    if text is None:
        return repr(_bytes(key))
    plain = text and text.isprintable() and not any(c in text for c in " \"\\'")
    return text if plain else json.dumps(text, ensure_ascii=False)


def _text(key: str | bytes) -> str | None:
    """The key as text, or None for bytes that are not UTF-8."""
    if isinstance(key, str):
        return key
    try:
        return key.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _bytes(key: str | bytes) -> bytes:
    return key if isinstance(key, bytes) else key.encode("utf-8", "surrogatepass")


FORMAT_CHOICES = ("csv", "tsv", "jsonl", "parquet", "log", "kcat")


# One decorator per options object of partsim.options: the input, the measures, and the
# producer's key rules (the producer's partitioner and serializer are above).
SIZE_OPTION = click.option(
    "--size", metavar="COLUMN", default=None,
    help="Bytes per event. Default: key + value size where known, else 1.",
)  # fmt: skip


def input_options(command):
    """How the input is read (InputOptions): its format, CSV delimiter, log-line regex and
    what an unparsable row does."""
    return _stack(command, [
        click.option("--format", "format", type=click.Choice(FORMAT_CHOICES), default=None,
                     help="Input format; default: from each file's extension."),
        click.option("--delimiter", default=None,
                     help="CSV field delimiter (default , or tab for .tsv)."),
        click.option("--regex", default=None,
                     help="For log lines: a regex with a named group 'key' (and optionally "
                     "'ts', 'size')."),
        click.option("--strict", is_flag=True,
                     help="Fail on the first unparsable row instead of skipping it."),
    ])  # fmt: skip


def measure_options(command):
    """What is measured (MeasureOptions): sizes, times and windows, and the entity whose
    order matters."""
    return _stack(command, [
        SIZE_OPTION,
        click.option("--timestamp", metavar="COLUMN", default=None,
                     help="Event time (ISO 8601 or epoch s/ms/us/ns), for per-window load."),
        click.option("--window", default="1min", show_default=True,
                     help="Window length for per-window load, e.g. 10s, 1min, 1h."),
        click.option("--order-by", metavar="COLUMN", default=None,
                     help="The entity whose events must stay in order, e.g. account_id."),
    ])  # fmt: skip


def key_rule_options(command):
    """The producer's rules for a null field and its keyless picks (ProducerOptions)."""
    return _stack(command, [
        click.option("--null-field-as-empty", is_flag=True,
                     help="A null field in a key template becomes '' instead of a null key."),
        click.option("--seed", type=int, default=0, show_default=True,
                     help="Seed for keyless records' picks (and analyze's random-placement "
                     "reference)."),
    ])  # fmt: skip


EXACT_KEYS_OPTION = click.option(
    "--exact-keys", type=click.IntRange(1), default=1_000_000, show_default=True,
    help="Distinct keys counted exactly; past this, hot keys and distinct counts come from "
    "DataSketches sketches (with their error bounds) and memory stays bounded.",
)  # fmt: skip
EXACT_KEY_BYTES_OPTION = click.option(
    "--exact-key-bytes", default="64MiB", show_default=True,
    help="Bytes of distinct keys counted exactly; past this, as past --exact-keys.",
)  # fmt: skip
EXACT_ENTITIES_OPTION = click.option(
    "--exact-entities", type=click.IntRange(1), default=None,
    help="Distinct --order-by entities followed exactly; past this, ordering comes from a "
    "sample of entities, with 95% intervals (never reported kept when it was broken). "
    "Default: as many as 256 MiB holds.",
)  # fmt: skip


def engine_options(command):
    """Where the aggregates are computed (EngineOptions)."""
    return _stack(command, [
        click.option("--engine", type=click.Choice(ENGINES), default="local", show_default=True,
                     callback=lambda _ctx, _param, value: _engine(value),
                     help="Where to compute: this process, or a Dask cluster "
                     "(pip install 'partsim[dask]')."),
        click.option("--scheduler", metavar="ADDRESS", default=None,
                     help="With --engine dask: the scheduler, e.g. tcp://10.0.0.5:8786 (its "
                     "workers must reach the input files). Default: a local cluster, one "
                     "worker per core."),
        click.option("--blocksize", default="64MiB", show_default=True,
                     help="With --engine dask: bytes per piece of input (whole lines of text "
                     "files, row groups of Parquet); 0 for whole files."),
    ])  # fmt: skip


KEY_OPTION = click.option(
    "--key", "key", required=True, metavar="EXPR",
    help="A column, or a template over columns such as '{region}:{customer_id}'.",
)  # fmt: skip
KEY_OR_RECORD_OPTION = click.option(
    "--key", "key", default=None, metavar="EXPR",
    help="A column, or a template over columns such as '{region}:{customer_id}'; with a "
    "record key schema, leave it out to take each field from the column of its name.",
)  # fmt: skip
JSON_OPTION = click.option(
    "--json", "as_json", is_flag=True, help="Print the result as JSON, not as a table."
)


def _out_directory(value: str | None) -> str | None:
    """--out, checked before the run: one line naming it when it cannot be written."""
    if value is not None:
        from partsim.outputs import check_output_directory

        check_output_directory(value)
    return value


def _engine(value: str) -> str:
    """--engine: dask, when it is not installed, is the first error (one line)."""
    if value == "dask":
        from partsim.extras import require

        require("dask")
    return value


def _skipped_note(summary: dict) -> None:
    if summary.get("skipped_rows"):
        click.echo(f"note: skipped {summary['skipped_rows']:,} unparsable rows "
                   "(--strict makes them an error)", err=True)  # fmt: skip


# =============================================================================
# Live topics: the sampling options shared by `sample`, `verify` and `analyze --bootstrap`.
# The `sample` and `verify` commands are in the live-topics section near the end.
# =============================================================================


def _properties(_ctx, _param, values: Sequence[str]) -> dict[str, str]:
    """-X KEY=VALUE options as a dict (the last one wins)."""
    from partsim._live_reader import remember_secrets, shown_property

    out: dict[str, str] = {}
    for item in values:
        name, equals, value = item.partition("=")
        # A name with a ':' or a space in it may hold part of a secret value: never echo it.
        if not equals or not re.fullmatch(r"[\w.-]+", name.strip()):
            given = shown_property(item) if name.strip() else "an empty KEY"
            raise click.BadParameter(f"must be KEY=VALUE, e.g. security.protocol=SASL_SSL; got "
                                     f"{given}")  # fmt: skip
        out[name.strip()] = value
    remember_secrets(out)
    return out


SECONDS = click.FloatRange(min=0, min_open=True)


def live_options(command):
    """How a live topic is reached and sampled (read-only: assign(), never commit)."""
    return _stack(command, [
        click.option("--bootstrap", metavar="HOST:PORT", default=None,
                     help="The cluster's bootstrap servers."),
        click.option("--topic", default=None, help="The topic to sample."),
        click.option("--max-messages", type=click.IntRange(1), default=10_000, show_default=True,
                     help="Records to read at most, split evenly over the partitions."),
        click.option("--duration", type=SECONDS, default=None, metavar="S",
                     help="Stop reading after S seconds."),
        click.option("--from-time", metavar="TS", default=None,
                     help="Read from this time: ISO 8601, epoch s or ms, or back from now "
                     "(-1h, -30min)."),
        click.option("--to-time", metavar="TS", default=None, help="Read up to this time."),
        click.option("-X", "config", metavar="KEY=VALUE", multiple=True, callback=_properties,
                     help="A librdkafka client property (repeatable), e.g. "
                     "-X security.protocol=SASL_SSL."),
        click.option("--config", "config_file", type=click.Path(dir_okay=False), default=None,
                     metavar="FILE", help="A Java-style client.properties (SASL, SSL); -X wins."),
        click.option("--timeout", type=SECONDS, default=10.0, show_default=True, metavar="S",
                     help="Seconds for connecting and metadata, and the longest wait for "
                     "records."),
    ])  # fmt: skip


def _status(line: str) -> None:
    click.echo(line, err=True)


def _end_of_sample(sample) -> None:
    """Exit 130 after Ctrl-C and 1 after a lost broker: the output was still written."""
    if sample.stopped_by == "interrupt":
        click.echo(f"Interrupted: {sample.reason}; the output holds what was read.", err=True)
        click.get_current_context().exit(130)
    if sample.partial:
        click.echo(f"Error: partial sample: {sample.reason}", err=True)
        click.get_current_context().exit(1)


# =============================================================================
# End of the live-topic options
# =============================================================================


@cli.command()
@click.argument("inputs", nargs=-1, required=False)
@KEY_OR_RECORD_OPTION
@producer_options(partitions_required=False)
@measure_options
@input_options
@key_rule_options
@click.option(
    "--top",
    type=click.IntRange(0),
    default=20,
    show_default=True,
    help="How many hot keys to report.",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False),
    default=None,
    callback=lambda _ctx, _param, value: _out_directory(value),
    help="Also write summary.json, partitions.csv, hot_keys.csv, windows.csv, PNG "
    "plots and report.html here.",
)
@EXACT_KEYS_OPTION
@EXACT_KEY_BYTES_OPTION
@EXACT_ENTITIES_OPTION
@engine_options
@live_options
@JSON_OPTION
def analyze(
    inputs: Sequence[str],
    out_dir: str | None,
    as_json: bool,
    bootstrap: str | None,
    topic: str | None,
    max_messages: int,
    duration: float | None,
    from_time: str | None,
    to_time: str | None,
    config: dict[str, str],
    config_file: str | None,
    timeout: float,
    **options,
) -> None:
    """Report per-partition load, skew and hot keys for a sample of events.

    INPUTS are CSV/TSV, JSON lines, Parquet, log files (with --regex) or kcat dumps
    (kcat -C -t TOPIC -e -f '%k\\t%p\\t%o\\t%T\\t%S\\n'), optionally .gz/.zst/.bz2,
    globs, or - for stdin.

    \b
    Examples:
      partsim analyze sample_data/orders.csv --key customer_id -p 12
      partsim analyze sample_data/orders.csv --key '{region}:{customer_id}' -p 12 \\
          --size size_bytes --timestamp ts --order-by customer_id --out report/
      partsim analyze sample_data/app.log --key key -p 6 --timestamp ts --size size \\
          --regex '^(?P<ts>\\S+) .*customer=(?P<key>\\S+) bytes=(?P<size>\\d+)'
      partsim analyze sample_data/orders.kcat --key key -p 6 --timestamp timestamp --json
      partsim analyze 'exports/*.parquet' --key customer_id -p 48 --engine dask \\
          --scheduler tcp://scheduler:8786
      partsim analyze customers.csv -p 12 --key-format connect-json \\
          --key-schema customers-key.json
      partsim analyze orders.csv --key customer_id -p 12 --key-format avro \\
          --key-schema '"string"' --schema-id 7

    With --bootstrap and --topic instead of INPUTS, a live sample of the topic is analyzed
    (read-only, as `partsim sample` reads it; -p defaults to the topic's partition count),
    and the partitions the records were observed on are shown next to the predicted ones.

    \b
    Live topics:
      partsim analyze --bootstrap localhost:9092 --topic orders --key key
      partsim analyze --bootstrap localhost:9092 --topic orders --key key \\
          --partitioner confluent-kafka --timestamp timestamp --max-messages 50000
    """
    from partsim.outputs import PlotProcess, format_summary, to_json, write_outputs

    live = bootstrap is not None or topic is not None
    sample = plotter = None
    if not live:
        options.update(key_options(options))
    if live and inputs:
        raise click.UsageError("give INPUTS or --bootstrap/--topic, not both")
    if live:
        from partsim.live import analyze_sample, check_live_keys, format_observed, sample_topic

        check_live_keys(options["key_format"], options["schema_id"])
        schema_options = ("key_schema", "key_message", "schema_registry", "key_subject")
        if any(options.pop(name) for name in schema_options) or options.pop("registry_config"):
            raise UsageError("keys read from a topic are already serialized: --key-schema and "
                             "--schema-registry do not apply to a live sample (partsim verify "
                             "shows their framing)")  # fmt: skip
        options.pop("key_version")
        sample = sample_topic(
            bootstrap, topic, max_messages=max_messages, duration=duration, from_time=from_time,
            to_time=to_time, config=config, config_file=config_file, timeout=timeout,
            progress=True, status=_status,
        )  # fmt: skip
        result = analyze_sample(sample, progress=True, **options)
    else:
        if not inputs:
            raise click.UsageError("Missing argument 'INPUTS...' (or --bootstrap and --topic).")
        if options["partition_count"] is None:
            raise click.UsageError("Missing option '-p' / '--partitions'.")
        # The plots' process imports pandas and matplotlib while this one imports the
        # analysis (pandas too) and reads the events; on Dask, once the cluster's processes,
        # which hold the memory while reading, are gone.
        early = out_dir is not None and options.get("engine") != "dask"
        plotter = PlotProcess.start() if early else None
        try:
            from partsim.analysis import analyze as run_analysis

            result = run_analysis(list(inputs), progress=True, **options)
        except BaseException:
            if plotter is not None:
                plotter.close()
            raise
        if out_dir is not None and plotter is None:
            plotter = PlotProcess.start()
    if out_dir is not None:
        written = write_outputs(result, out_dir, plotter=plotter)
        click.echo(f"wrote {written}/: summary.json, partitions.csv, hot_keys.csv, "
                   f"{'windows.csv, ' if result.windows is not None else ''}PNG plots, report.html",
                   err=True)  # fmt: skip
    click.echo(to_json(result.summary) if as_json else format_summary(result), nl=False)
    if sample is not None and not as_json:
        click.echo(format_observed(result.summary["observed_vs_predicted"]), nl=False)
    _skipped_note(result.summary)
    if sample is not None:
        _end_of_sample(sample)


def _counts(text: str) -> list[int]:
    try:
        counts = [int(part) for part in text.replace(" ", "").split(",") if part]
    except ValueError:
        raise click.BadParameter(
            f"must be partition counts such as 6,12,24; got {text!r}"
        ) from None
    if not counts or any(not 1 <= n <= MAX_PARTITION_COUNT for n in counts):
        raise click.BadParameter(
            f"must be partition counts from 1 to {MAX_PARTITION_COUNT}, such as 6,12,24; "
            f"got {text!r}"
        )
    return counts


@cli.command()
@click.argument("inputs", nargs=-1, required=True)
@click.option(
    "--design",
    "designs",
    multiple=True,
    required=True,
    metavar="NAME=EXPR",
    help="A key design to compare (repeatable), e.g. by_customer=customer_id; it may carry "
    "its own --key-format, --key-schema, --schema-id and --key-message after EXPR.",
)
@click.option(
    "-p",
    "--partitions",
    "partition_counts",
    required=True,
    metavar="N,N,...",
    callback=lambda _ctx, _param, value: _counts(value),
    help="Partition counts to sweep, e.g. 6,12,24,48.",
)
@click.option(
    "--partitioner",
    "partitioners",
    type=PartitionerType(),
    multiple=True,
    help="Partitioners to compare (repeatable); default java.",
)
@KEY_FORMAT_OPTION
@SCHEMA_ID_OPTION
@SCHEMA_TYPE_OPTION
@key_schema_options
@measure_options
@input_options
@key_rule_options
@click.option(
    "--max-skew",
    type=click.FloatRange(1),
    default=1.2,
    show_default=True,
    help="The highest acceptable max/mean partition load.",
)
@click.option(
    "--partition-capacity",
    metavar="RATE",
    default=None,
    help="What one partition (its consumer) handles: 5000 (msgs/s) or 5MB/s.",
)
@click.option(
    "--rate",
    metavar="RATE",
    default=None,
    help="The topic's total rate, when there is no --timestamp: 50000 or 20MB/s.",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False),
    default=None,
    callback=lambda _ctx, _param, value: _out_directory(value),
    help="Also write sweep.json, sweep.csv, recommendations.csv and plots here.",
)
@EXACT_KEYS_OPTION
@EXACT_KEY_BYTES_OPTION
@EXACT_ENTITIES_OPTION
@engine_options
@JSON_OPTION
def sweep(inputs: Sequence[str], out_dir: str | None, as_json: bool, **options) -> None:
    """Compare key designs, partitioners and partition counts, and recommend one.

    For each design the recommendation is the smallest swept partition count that keeps
    max/mean within --max-skew and every partition within --partition-capacity; when none
    does, it says why (a key heavier than 1/N of the load cannot be fixed by more
    partitions) and what would, with the ordering it costs.

    \b
    Examples:
      partsim sweep sample_data/orders.csv -p 6,12,24,48 \\
          --design customer=customer_id --design region_customer='{region}:{customer_id}' \\
          --order-by customer_id
      partsim sweep sample_data/orders.csv -p 12,24 --design customer=customer_id \\
          --partitioner java --partitioner confluent-kafka --timestamp ts \\
          --partition-capacity 5 --out sweep/
      partsim sweep sample_data/orders.csv -p 6,12 --design text=customer_id \\
          --design "avro=customer_id --key-format avro --key-schema '\\"string\\"' --schema-id 7"
    """
    from partsim.compare import sweep as run_sweep
    from partsim.outputs import format_sweep, to_json, write_sweep_outputs

    options.update(key_options(options))
    result = run_sweep(list(inputs), progress=True, **options)
    if out_dir is not None:
        written = write_sweep_outputs(result, out_dir)
        click.echo(f"wrote {written}/: sweep.json, sweep.csv, recommendations.csv, plots",
                   err=True)  # fmt: skip
    if as_json:
        click.echo(to_json({**result.summary, "rows": result.table.to_dict("records")}), nl=False)
    else:
        click.echo(format_sweep(result), nl=False)
    _skipped_note(result.summary)


@cli.command()
@click.argument("inputs", nargs=-1, required=True)
@KEY_OR_RECORD_OPTION
@click.option(
    "-p",
    "--partitions",
    "partition_count",
    type=PARTITION_COUNT,
    default=None,
    help="The partition count, when it does not change.",
)
@click.option(
    "--from-partitions",
    type=PARTITION_COUNT,
    default=None,
    help="The partition count before the change.",
)
@click.option(
    "--to-partitions",
    type=PARTITION_COUNT,
    default=None,
    help="The partition count after the change.",
)
@click.option(
    "--partitioner",
    type=PartitionerType(),
    default="java",
    show_default=True,
    help="The partitioner, when it does not change.",
)
@click.option(
    "--from-partitioner",
    type=PartitionerType(),
    default=None,
    help="The producer client's partitioner before (e.g. librdkafka:consistent_random).",
)
@click.option(
    "--to-partitioner",
    type=PartitionerType(),
    default=None,
    help="The producer client's partitioner after (e.g. java).",
)
@KEY_FORMAT_OPTION
@click.option(
    "--schema-id",
    type=click.IntRange(0, 2**31 - 1),
    default=None,
    help="The Schema Registry id, when it does not change.",
)
@click.option(
    "--from-schema-id",
    type=click.IntRange(0, 2**31 - 1),
    default=None,
    help="The key schema id before (framing puts it in the hashed bytes).",
)
@click.option(
    "--to-schema-id",
    type=click.IntRange(0, 2**31 - 1),
    default=None,
    help="The key schema id after.",
)
@SCHEMA_TYPE_OPTION
@key_schema_options
@click.option(
    "--from-key-format",
    type=click.Choice(KEY_FORMATS),
    default=None,
    help="The key format before (default: --key-format).",
)
@click.option(
    "--to-key-format",
    type=click.Choice(KEY_FORMATS),
    default=None,
    help="The key format after, e.g. avro.",
)
@click.option(
    "--from-key-schema",
    metavar="SCHEMA",
    default=None,
    help="The key schema before (a file or its text).",
)
@click.option(
    "--to-key-schema", metavar="SCHEMA", default=None, help="The key schema after, e.g. v2.avsc."
)
@click.option(
    "--from-key-message", metavar="NAME", default=None, help="The .proto key message before."
)
@click.option(
    "--to-key-message", metavar="NAME", default=None, help="The .proto key message after."
)
@click.option(
    "--salt",
    type=click.IntRange(1),
    default=None,
    help="Salt keys over up to K sub-keys; shows load against ordering for 1..K.",
)
@click.option(
    "--salt-hot",
    type=click.IntRange(1),
    default=None,
    metavar="TOPK",
    help="With --salt: salt only the TOPK heaviest keys.",
)
@SIZE_OPTION
@click.option(
    "--order-by",
    metavar="COLUMN",
    default=None,
    help="The entity whose events must stay in order (default: the key).",
)
@input_options
@key_rule_options
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False),
    default=None,
    callback=lambda _ctx, _param, value: _out_directory(value),
    help="Also write whatif.json, partitions.csv, moves.csv, salting.csv and plots.",
)
@EXACT_KEYS_OPTION
@EXACT_KEY_BYTES_OPTION
@EXACT_ENTITIES_OPTION
@engine_options
@JSON_OPTION
def whatif(inputs: Sequence[str], out_dir: str | None, as_json: bool, **options) -> None:
    """What moves when the partition count, the client or the key schema changes, or when
    hot keys are salted.

    A key moves when it lands on another partition after the change: while producers switch
    over, its events are split across two partitions and per-key order breaks.

    \b
    Examples:
      partsim whatif sample_data/orders.csv --key customer_id \\
          --from-partitions 12 --to-partitions 16
      partsim whatif sample_data/orders.csv --key customer_id -p 12 \\
          --from-partitioner confluent-kafka --to-partitioner java
      partsim whatif sample_data/orders.csv --key customer_id -p 12 --key-format avro \\
          --key-schema '"string"' --from-schema-id 1 --to-schema-id 2 --json
      partsim whatif sample_data/orders.csv --key customer_id -p 12 \\
          --from-key-format string --to-key-format avro --to-key-schema '"string"' \\
          --to-schema-id 7
      partsim whatif sample_data/orders.csv --key customer_id -p 12 --salt 4 --salt-hot 3
    """
    from partsim.changes import whatif as run_whatif
    from partsim.outputs import format_whatif, to_json, write_whatif_outputs

    from_id, to_id = options.pop("from_schema_id"), options.pop("to_schema_id")
    options.update(key_options(options), from_schema_id=from_id, to_schema_id=to_id)
    result = run_whatif(list(inputs), progress=True, **options)
    if out_dir is not None:
        written = write_whatif_outputs(result, out_dir)
        click.echo(f"wrote {written}/: whatif.json, partitions.csv, moves.csv, plots", err=True)
    click.echo(to_json(result.summary) if as_json else format_whatif(result), nl=False)
    _skipped_note(result.summary)


def _latencies(text: str | None) -> list[float] | None:
    if text is None:
        return None
    try:
        return [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise click.BadParameter(
            f"must be milliseconds per partition such as 5,5,40; got {text!r}"
        ) from None


ASSIGNOR_CHOICES = ("range", "roundrobin", "sticky", "cooperative-sticky", "uniform")


@cli.command()
@click.argument("inputs", nargs=-1, required=True)
@KEY_OPTION
@producer_options
@click.option(
    "--consumers",
    type=click.IntRange(1),
    default=1,
    show_default=True,
    help="Consumers in the group.",
)
@click.option(
    "--assignor",
    type=click.Choice(ASSIGNOR_CHOICES),
    default="range",
    show_default=True,
    help="The group's partition assignor.",
)
@click.option(
    "--consumer-capacity",
    required=True,
    metavar="RATE",
    help="What one consumer processes per second: 600 (msgs/s) or 5MB/s.",
)
@click.option(
    "--rate",
    metavar="RATE",
    default=None,
    help="Scale the sample to this total rate: 50000 (msgs/s) or 20MB/s.",
)
@click.option(
    "--scale",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Scale the sample's rate by this factor, keeping its shape.",
)
@click.option(
    "--max-lag-seconds",
    type=click.FloatRange(min=0),
    default=None,
    help="The lag SLO; also searches the smallest consumer and partition counts.",
)
@click.option(
    "--brokers",
    type=click.IntRange(1),
    default=None,
    help="Place leaders round robin over this many brokers; report their load.",
)
@click.option(
    "--racks",
    default=None,
    metavar="R1,R2,...",
    help="With --brokers: each broker's rack, in broker order.",
)
@click.option(
    "--replication-factor",
    type=click.IntRange(1),
    default=1,
    show_default=True,
    help="With --brokers: replicas per partition.",
)
@click.option(
    "--step", default="1s", show_default=True, help="Simulation time step, e.g. 1s, 100ms, 1min."
)
@click.option(
    "--keyless-client",
    default=None,
    help="The keyless path to simulate (default: the partitioner's client), e.g. "
    "java, java-2.4, java-round-robin, librdkafka, franz-go, kafka-python, kafkajs.",
)
@click.option(
    "--linger-ms",
    type=click.FloatRange(min=0),
    default=None,
    help="Producer linger.ms for the keyless simulation.",
)
@click.option(
    "--adaptive",
    is_flag=True,
    help="Java >= 3.3 adaptive partitioning for keyless records (with --broker-latency-ms).",
)
@click.option(
    "--broker-latency-ms", default=None, metavar="MS,MS,...",
    callback=lambda _ctx, _param, value: _latencies(value),
    help="Per-partition broker latency for the keyless simulation, one value per partition.",
)  # fmt: skip
@click.option(
    "--batch-size",
    type=click.IntRange(1),
    default=None,
    help="Producer batch.size (bytes) for the keyless simulation.",
)
@SIZE_OPTION
@click.option(
    "--timestamp",
    metavar="COLUMN",
    default=None,
    help="Event time; without it, records arrive in input order at --rate.",
)
@input_options
@key_rule_options
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False),
    default=None,
    callback=lambda _ctx, _param, value: _out_directory(value),
    help="Also write simulation.json, CSVs and lag, consumer and broker plots here.",
)
@engine_options
@JSON_OPTION
def simulate(inputs: Sequence[str], out_dir: str | None, as_json: bool, racks: str | None,
             **options) -> None:  # fmt: skip
    """Simulate load over time, keyless stickiness, consumer lag and broker load.

    Rates: a bare number is messages per second; a byte unit selects bytes (5MB/s).

    \b
    Examples:
      partsim simulate sample_data/orders.csv --key customer_id -p 12 --timestamp ts \\
          --consumers 4 --consumer-capacity 3 --max-lag-seconds 60
      partsim simulate sample_data/orders.csv --key customer_id -p 12 --timestamp ts \\
          --rate 50000/s --consumers 6 --assignor roundrobin --consumer-capacity 12000 \\
          --brokers 3 --out sim/ --json
    """
    from partsim.outputs import format_simulation, to_json, write_simulation_outputs
    from partsim.simulation import simulate as run_simulation

    rack_list = [rack.strip() for rack in racks.split(",")] if racks else None
    options.update(key_options(options))
    result = run_simulation(list(inputs), racks=rack_list, progress=True, **options)
    if out_dir is not None:
        written = write_simulation_outputs(result, out_dir)
        click.echo(f"wrote {written}/: simulation.json, rates.csv, lag.csv, consumers.csv, plots",
                   err=True)  # fmt: skip
    click.echo(to_json(result.summary) if as_json else format_simulation(result), nl=False)
    _skipped_note(result.summary)


@cli.command(name="partitioners")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.option("--markdown", is_flag=True, help="Print the README's Markdown table.")
def list_partitioners(as_json: bool, markdown: bool) -> None:
    """List every partitioner: its client, algorithm, sign rule, null/empty-key rules, and
    how its client writes a text key with a lone UTF-16 surrogate.

    Names are what --partitioner accepts; aliases work too.

    \b
    Examples:
      partsim partitioners
      partsim partitioners --json | jq '.[] | select(.algorithm == "murmur2") | .name'
    """
    rows = [
        {
            "name": p.name,
            "aliases": list(p.aliases),
            "client": p.client,
            "algorithm": p.algorithm or "none (keys ignored)",
            "sign_rule": p.sign_rule,
            "null_key": p.null_key_rule,
            "empty_key": p.empty_key_rule,
            "keyless": KEYLESS_STRATEGIES[p.keyless],
            "keyless_model": p.keyless_model,
            "lone_surrogate": TEXT_ENCODINGS[p.text_encoding],
            "notes": p.notes,
            "reference": p.reference,
        }
        for p in PARTITIONERS.values()
    ]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if markdown:
        click.echo(partitioner_markdown())
        return
    table = [
        {
            "name": p.name,
            "algorithm": p.algorithm or "-",
            "sign": p.sign_rule,
            "null key": p.null_key_short,
            "empty key": p.empty_key_short,
            "lone surrogate": TEXT_ENCODING_SHORT[p.text_encoding],
            "client": p.client,
        }
        for p in PARTITIONERS.values()
    ]
    widths = {c: max(len(c), *(len(row[c]) for row in table)) for c in table[0]}
    click.echo("  ".join(c.ljust(widths[c]) for c in widths).rstrip())
    for row in table:
        click.echo("  ".join(row[c].ljust(widths[c]) for c in widths).rstrip())
    aliases = [f"{alias} = {row['name']}" for row in rows for alias in row["aliases"]]
    click.echo("\naliases: " + ", ".join(aliases))


def partitioner_markdown() -> str:
    """The README's partitioner table, from the registry (a test keeps the README equal)."""
    lines = [
        "| name (aliases) | client | algorithm | sign | null key | empty key | lone surrogate |",
        "|---|---|---|---|---|---|---|",
    ]
    for p in PARTITIONERS.values():
        aliases = ", ".join(f"`{alias}`" for alias in p.aliases)
        names = f"`{p.name}`" + (f" ({aliases})" if aliases else "")
        cells = [names, p.client, p.algorithm or "none", p.sign_rule, p.null_key_short,
                 p.empty_key_short, TEXT_ENCODING_SHORT[p.text_encoding]]  # fmt: skip
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


# =============================================================================
# Live topics: `partsim sample` and `partsim verify` (options defined above analyze)
# =============================================================================


def _sample_path(_ctx, _param, value: str) -> str:
    from partsim.live import check_sample_path

    try:
        check_sample_path(value)
    except UsageError as error:
        raise click.BadParameter(str(error)) from None
    return value


@cli.command()
@live_options
@click.option(
    "-o",
    "--out",
    "out_path",
    required=True,
    metavar="FILE",
    callback=_sample_path,
    help="The sample file: .parquet (exact bytes) or .csv (+ FILE.meta.json).",
)
def sample(out_path: str, **sampling) -> None:
    """Read a sample of a live topic into a Parquet or CSV file, read-only.

    Each partition gets an even share of --max-messages; by default its most recent records
    are read. Columns: key (raw bytes), partition, offset, timestamp, key_size, value_size,
    headers (JSON). The file says which topic, how many partitions, and whether the sample is
    partial. partsim assigns partitions itself (no group join), never commits offsets and
    never produces. Ctrl-C stops reading and still writes what was read, marked partial.

    \b
    Examples:
      partsim sample --bootstrap localhost:9092 --topic orders -o orders.parquet
      partsim sample --bootstrap localhost:9092 --topic orders --from-time -1h \\
          --max-messages 100000 -o last_hour.parquet
      partsim sample --config client.properties --topic orders -o orders.csv
      partsim sample --bootstrap broker:9093 --topic orders -X security.protocol=SASL_SSL \\
          -X sasl.mechanism=SCRAM-SHA-512 -X sasl.username=reader \\
          -X sasl.password="$KAFKA_PASSWORD" -o orders.parquet
      partsim analyze orders.parquet --key key -p 12 --timestamp timestamp
    """
    from partsim.live import sample_topic, write_sample

    drawn = sample_topic(progress=True, status=_status, **sampling)
    written = write_sample(drawn, out_path)
    click.echo(f"wrote {written}: {drawn.records:,} records of {drawn.topic} "
               f"({drawn.partition_count} partitions)"
               + (" - PARTIAL" if drawn.partial else ""), err=True)  # fmt: skip
    _end_of_sample(drawn)


@cli.command()
@click.argument("file", required=False, type=click.Path(dir_okay=False))
@live_options
@click.option(
    "-p",
    "--partitions",
    "partition_count",
    type=PARTITION_COUNT,
    default=None,
    help="The topic's partition count (default: the one the sample records).",
)
@click.option(
    "--partitioner",
    "partitioners",
    type=PartitionerType(),
    multiple=True,
    help="Score only these partitioners (repeatable); default: every one that hashes keys.",
)
@EXACT_KEYS_OPTION
@EXACT_KEY_BYTES_OPTION
@JSON_OPTION
def verify(
    file: str | None,
    partition_count: int | None,
    partitioners: Sequence[str],
    exact_keys: int,
    exact_key_bytes: str,
    as_json: bool,
    **sampling,
) -> None:
    """Find which producer clients wrote a topic, and which keys sit on several partitions.

    Samples the topic (same options as `partsim sample`), or reads FILE (a sample, or any
    input `partsim analyze` reads with key and partition columns, such as a kcat dump, with
    -p). For each registered partitioner it reports the share of keyed records whose observed
    partition it predicts; `best` lists the top ones (clients identical for keyed records
    tie); `mixed` is true when no single partitioner explains 99% of keyed records but two or
    three together do. Keys seen on more than one partition have already lost their order.
    A file streams in bounded memory: the shares and the cover are exact at any size; past
    --exact-keys (key, partition) pairs or --exact-key-bytes, the split-key count is an
    estimate from a key-hash sample, and says so.

    \b
    JSON keys: records, keyed_records, partition_count, explained_by {partitioner: share},
    best [partitioners], mixed, combination [{partitioners, share}],
    keys_on_multiple_partitions {count, examples}, topic, partial, reason.

    \b
    Examples:
      partsim verify --bootstrap localhost:9092 --topic orders
      partsim verify --bootstrap localhost:9092 --topic orders --max-messages 100000 --json
      partsim verify orders.parquet
      partsim verify orders.kcat -p 12 --json | jq .best
    """
    from partsim.live import format_verify, sample_topic
    from partsim.live import verify as run_verify
    from partsim.outputs import to_json

    live = sampling["bootstrap"] is not None or sampling["topic"] is not None
    if live and file:
        raise click.UsageError("give FILE or --bootstrap/--topic, not both")
    if not live and not file:
        raise click.UsageError("Missing argument 'FILE' (or --bootstrap and --topic).")
    source = sample_topic(progress=True, status=_status, **sampling) if live else file
    result = run_verify(source, partition_count=partition_count, partitioners=partitioners,
                        exact_keys=exact_keys, exact_key_bytes=exact_key_bytes,
                        progress=True)  # fmt: skip
    click.echo(to_json(result.to_dict()) if as_json else format_verify(result), nl=False)
    if live:
        _end_of_sample(source)


# =============================================================================
# End of the live-topic commands
# =============================================================================


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code. Errors become one ``Error:`` line on stderr."""
    try:
        # Without standalone mode, click returns ctx.exit(code)'s code instead of raising.
        code = cli.main(args=argv, prog_name="partsim", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        return 130
    except click.UsageError as error:  # one line, not click's three
        _error(error.format_message())
        return error.exit_code
    except click.ClickException as error:
        _error(error.format_message())
        return error.exit_code
    except click.exceptions.Exit as done:
        return done.exit_code
    except PartsimError as error:
        _error(str(error))
        return error.exit_code
    except BrokenPipeError:
        sys.stderr.close()  # the reader went away (e.g. `| head`): not an error
        return 0
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        return 130
    except MemoryError as error:  # Arrow's too: the machine's limit, not a bug
        if os.environ.get("PARTSIM_DEBUG"):
            raise
        from partsim.io import BATCH_BYTES

        reason = f": {str(error).splitlines()[0]}" if str(error) else ""
        click.echo(
            f"Error: out of memory ({type(error).__name__}{reason}); partsim holds batches of "
            f"{BATCH_BYTES >> 20} MiB and at most --exact-keys / --exact-key-bytes of distinct "
            "keys: lower those, or allow it more memory",
            err=True,
        )
        return 1
    except Exception as error:  # a bug: still one line, unless debugging
        if os.environ.get("PARTSIM_DEBUG"):
            raise
        _error(
            f"internal error ({type(error).__name__}: {error}); this is a bug in partsim, "
            "rerun with PARTSIM_DEBUG=1 and report the traceback"
        )
        return 1
    return code if isinstance(code, int) else 0


def _error(message: str) -> None:
    """Print ``Error: message``, without any secret value given in -X or --config."""
    reader = sys.modules.get("partsim._live_reader")  # loaded if any secret was given
    click.echo(f"Error: {reader.scrub_given(message) if reader else message}", err=True)


#: glibc's mallopt parameters (malloc.h): M_TRIM_THRESHOLD and M_MMAP_THRESHOLD.
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3


def _keep_freed_memory() -> None:
    """Have glibc's malloc keep freed memory for reuse, in this command's process only.

    By default every buffer above 128 KiB-32 MiB is mapped from the operating system and
    given back when freed, so each batch's arrays are zeroed page by page again: about a
    tenth of ``analyze``'s CPU time went to the kernel clearing pages. With up to 64 MiB
    kept on the heap, an analysis of 10M rows took 0.1 s (6%) less, and its peak memory
    grew by 20 MiB. Elsewhere than glibc, nothing changes.
    """
    import ctypes

    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # not glibc
        return
    mallopt(_M_TRIM_THRESHOLD, 256 << 20)
    mallopt(_M_MMAP_THRESHOLD, 64 << 20)


def run() -> NoReturn:
    """The ``partsim`` command: :func:`main`, then exit without the interpreter's teardown.

    After an analysis, freeing every object one by one and unloading pandas and Arrow took
    0.1-0.2 s; the operating system frees the process at once. Output is flushed first.
    """
    _keep_freed_memory()
    code = main()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # the reader went away, or closed
            stream.flush()
    os._exit(code)
