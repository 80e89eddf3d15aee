"""partsim's command line: parse options, make one library call, format the result.

Data goes to stdout, messages to stderr. An error partsim raises on purpose is printed as one
``Error: ...`` line: exit 2 for a bad argument, 1 for bad data. Set ``PARTSIM_DEBUG=1`` to see
the traceback of an unexpected error.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence

import click

from partsim import __version__
from partsim.api import assign
from partsim.errors import PartsimError, UsageError
from partsim.partitioners import (
    KEYLESS_SHORT,
    KEYLESS_STRATEGIES,
    MAX_PARTITION_COUNT,
    PARTITIONERS,
    get_partitioner,
    keyless_mask,
    partitioner_names,
)
from partsim.serde import KEY_FORMATS, SCHEMA_TYPES, serialize_keys


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
SCHEMA_TYPE_OPTION = click.option(
    "--schema-type", type=click.Choice(SCHEMA_TYPES), default="avro", show_default=True,
    help="With a schema id: protobuf adds the message-index byte.",
)  # fmt: skip


def _stack(command, options):
    for option in reversed(options):
        command = option(command)
    return command


def producer_options(command):
    """The options that describe the producer: partitions, partitioner and key serializer."""
    return _stack(command, [
        click.option("-p", "--partitions", "partition_count", type=PARTITION_COUNT,
                     required=True, help="The topic's partition count."),
        click.option("--partitioner", type=PartitionerType(), default="java", show_default=True,
                     help="The producer client's partitioner (see `partsim partitioners`)."),
        KEY_FORMAT_OPTION,
        click.option("--schema-id", type=click.IntRange(0, 2**31 - 1), default=None,
                     help="Confluent Schema Registry id: frame keys as 0x00 + 4-byte id + "
                     "payload."),
        SCHEMA_TYPE_OPTION,
    ])  # fmt: skip


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="partsim")
def cli() -> None:
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
    key_format: str,
    schema_id: int | None,
    schema_type: str,
    compare: bool,
    as_json: bool,
) -> None:
    """Print the partition of each KEY, as the named client would choose it.

    KEY is the key as the producer's serializer receives it (text by default; see
    --key-format). Give - to read keys from stdin, one per line. A key that the client does
    not hash (an empty key where it counts as null) shows its keyless path instead.

    \b
    Examples:
      partsim partition user-42 order-7 -p 12
      partsim partition user-42 -p 12 --partitioner confluent-kafka
      partsim partition 42 -p 6 --key-format int64 --schema-id 3
      partsim partition user-42 -p 12 --compare
      cut -d, -f1 keys.csv | partsim partition - -p 24 --json
    """
    key_list = _read_keys(keys, key_format)
    names = partitioner_names() if compare else [partitioner]
    framed = serialize_keys(key_list, key_format, schema_id=schema_id, schema_type=schema_type)
    rows: dict[str, list[int | None]] = {}
    for name in names:
        # Keys on the keyless path (or rejected) get a label, not a made-up partition.
        hashed = ~keyless_mask(get_partitioner(name), framed)
        placed = iter(
            assign(framed.filter(hashed), partition_count, partitioner=name, key_format="bytes")
        )
        rows[name] = [int(next(placed)) if keep else None for keep in hashed.tolist()]
    shown = [_display(key) for key in key_list]
    if as_json:
        payload = {
            "partition_count": partition_count,
            "key_format": key_format,
            "schema_id": schema_id,
            "keys": shown,
            "partitions": rows if compare else rows[partitioner],
        }
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
    out: list[str | bytes] = []
    for key in keys:
        if key != "-":
            out.append(os.fsencode(key) if key_format == "bytes" else key)
            continue
        if key_format == "bytes":
            out.extend(line.rstrip(b"\r\n") for line in sys.stdin.buffer)
        else:
            out.extend(line.rstrip("\r\n") for line in sys.stdin)
    if not out:
        raise UsageError("no keys given: pass keys as arguments, or - with keys on stdin")
    return out


def _display(key: str | bytes) -> str:
    if isinstance(key, bytes):
        key = key.decode("utf-8", "backslashreplace")
    return key if key else '""'


FORMAT_CHOICES = ("csv", "tsv", "jsonl", "parquet", "log", "kcat")


def event_options(command):
    """How events are read: input format, sizes, times, unparsable rows, the seed."""
    return _stack(command, [
        click.option("--size", metavar="COLUMN", default=None,
                     help="Bytes per event. Default: key + value size where known, else 1."),
        click.option("--timestamp", metavar="COLUMN", default=None,
                     help="Event time (ISO 8601 or epoch s/ms/us/ns), for per-window load."),
        click.option("--window", default="1min", show_default=True,
                     help="Window length for per-window load, e.g. 10s, 1min, 1h."),
        click.option("--order-by", metavar="COLUMN", default=None,
                     help="The entity whose events must stay in order, e.g. account_id."),
        click.option("--format", "format", type=click.Choice(FORMAT_CHOICES), default=None,
                     help="Input format; default: from each file's extension."),
        click.option("--delimiter", default=None,
                     help="CSV field delimiter (default , or tab for .tsv)."),
        click.option("--regex", default=None,
                     help="For log lines: a regex with a named group 'key' (and optionally "
                     "'ts', 'size')."),
        click.option("--null-field-as-empty", is_flag=True,
                     help="A null field in a key template becomes '' instead of a null key."),
        click.option("--strict", is_flag=True,
                     help="Fail on the first unparsable row instead of skipping it."),
        click.option("--seed", type=int, default=0, show_default=True,
                     help="Seed for keyless records' picks and the random-placement reference."),
    ])  # fmt: skip


KEY_OPTION = click.option(
    "--key", "key", required=True, metavar="EXPR",
    help="A column, or a template over columns such as '{region}:{customer_id}'.",
)  # fmt: skip
JSON_OPTION = click.option(
    "--json", "as_json", is_flag=True, help="Print the result as JSON, not as a table."
)


def _skipped_note(summary: dict) -> None:
    if summary.get("skipped_rows"):
        click.echo(f"note: skipped {summary['skipped_rows']:,} unparsable rows "
                   "(--strict makes them an error)", err=True)  # fmt: skip


@cli.command()
@click.argument("inputs", nargs=-1, required=True)
@KEY_OPTION
@producer_options
@event_options
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
    help="Also write summary.json, partitions.csv, hot_keys.csv, windows.csv, PNG "
    "plots and report.html here.",
)
@JSON_OPTION
def analyze(inputs: Sequence[str], out_dir: str | None, as_json: bool, **options) -> None:
    """Report per-partition load, skew and hot keys for a sample of events.

    INPUTS are CSV/TSV, JSON lines, Parquet, log files (with --regex) or kcat dumps
    (kcat -C -t TOPIC -f '%k\\t%p\\t%o\\t%T\\t%S\\n'), optionally .gz/.zst/.bz2, globs,
    or - for stdin.

    \b
    Examples:
      partsim analyze sample_data/orders.csv --key customer_id -p 12
      partsim analyze sample_data/orders.csv --key '{region}:{customer_id}' -p 12 \\
          --size size_bytes --timestamp ts --order-by customer_id --out report/
      partsim analyze sample_data/app.log --key key -p 6 --timestamp ts --size size \\
          --regex '^(?P<ts>\\S+) .*customer=(?P<key>\\S+) bytes=(?P<size>\\d+)'
      partsim analyze sample_data/orders.kcat --key key -p 6 --timestamp timestamp --json
    """
    from partsim.analysis import analyze as run_analysis
    from partsim.outputs import format_summary, to_json, write_outputs

    result = run_analysis(list(inputs), progress=True, **options)
    if out_dir is not None:
        written = write_outputs(result, out_dir)
        click.echo(f"wrote {written}/: summary.json, partitions.csv, hot_keys.csv, "
                   f"{'windows.csv, ' if result.windows is not None else ''}PNG plots, report.html",
                   err=True)  # fmt: skip
    click.echo(to_json(result.summary) if as_json else format_summary(result), nl=False)
    _skipped_note(result.summary)


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
    help="A key design to compare (repeatable), e.g. by_customer=customer_id.",
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
@click.option(
    "--schema-id",
    type=click.IntRange(0, 2**31 - 1),
    default=None,
    help="Confluent Schema Registry id: frame keys as 0x00 + 4-byte id + payload.",
)
@SCHEMA_TYPE_OPTION
@event_options
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
    help="Also write sweep.json, sweep.csv, recommendations.csv and plots here.",
)
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
    """
    from partsim.compare import sweep as run_sweep
    from partsim.outputs import format_sweep, to_json, write_sweep_outputs

    result = run_sweep(list(inputs), progress=True, **options)
    if out_dir is not None:
        written = write_sweep_outputs(result, out_dir)
        click.echo(f"wrote {written}/: sweep.json, sweep.csv, recommendations.csv, plots",
                   err=True)  # fmt: skip
    if as_json:
        click.echo(to_json({**result.summary, "rows": result.table.to_dict("records")}), nl=False)
    else:
        click.echo(format_sweep(result), nl=False)


@cli.command()
@click.argument("inputs", nargs=-1, required=True)
@KEY_OPTION
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
@click.option(
    "--size",
    metavar="COLUMN",
    default=None,
    help="Bytes per event. Default: key + value size where known, else 1.",
)
@click.option(
    "--order-by",
    metavar="COLUMN",
    default=None,
    help="The entity whose events must stay in order (default: the key).",
)
@click.option(
    "--format",
    "format",
    type=click.Choice(FORMAT_CHOICES),
    default=None,
    help="Input format; default: from each file's extension.",
)
@click.option("--delimiter", default=None, help="CSV field delimiter.")
@click.option("--regex", default=None, help="For log lines: a regex with a named group 'key'.")
@click.option(
    "--null-field-as-empty",
    is_flag=True,
    help="A null field in a key template becomes '' instead of a null key.",
)
@click.option("--strict", is_flag=True, help="Fail on the first unparsable row.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed for keyless picks.")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Also write whatif.json, partitions.csv, moves.csv, salting.csv and plots.",
)
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
      partsim whatif sample_data/orders.csv --key customer_id -p 12 \\
          --from-schema-id 1 --to-schema-id 2 --json
      partsim whatif sample_data/orders.csv --key customer_id -p 12 --salt 4 --salt-hot 3
    """
    from partsim.changes import whatif as run_whatif
    from partsim.outputs import format_whatif, to_json, write_whatif_outputs

    result = run_whatif(list(inputs), progress=True, **options)
    if out_dir is not None:
        written = write_whatif_outputs(result, out_dir)
        click.echo(f"wrote {written}/: whatif.json, partitions.csv, moves.csv, plots", err=True)
    click.echo(to_json(result.summary) if as_json else format_whatif(result), nl=False)


@cli.command(name="partitioners")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def list_partitioners(as_json: bool) -> None:
    """List every partitioner: its client, algorithm, sign rule and null/empty-key rules.

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
            "notes": p.notes,
            "reference": p.reference,
        }
        for p in PARTITIONERS.values()
    ]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    table = [
        {
            "name": p.name,
            "algorithm": p.algorithm or "-",
            "sign": p.sign_rule,
            "null key": p.null_key_short,
            "empty key": p.empty_key_short,
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


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code. Errors become one ``Error:`` line on stderr."""
    try:
        cli.main(args=argv, prog_name="partsim", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        return 130
    except click.UsageError as error:  # one line, not click's three
        click.echo(f"Error: {error.format_message()}", err=True)
        return error.exit_code
    except click.ClickException as error:
        error.show()
        return error.exit_code
    except click.exceptions.Exit as done:
        return done.exit_code
    except PartsimError as error:
        click.echo(f"Error: {error}", err=True)
        return error.exit_code
    except BrokenPipeError:
        sys.stderr.close()  # the reader went away (e.g. `| head`): not an error
        return 0
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        return 130
    except Exception as error:  # a bug: still one line, unless debugging
        if os.environ.get("PARTSIM_DEBUG"):
            raise
        click.echo(
            f"Error: internal error ({type(error).__name__}: {error}); this is a bug in partsim, "
            "rerun with PARTSIM_DEBUG=1 and report the traceback",
            err=True,
        )
        return 1
    return 0
