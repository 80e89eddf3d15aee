"""Fuzz ``partsim.analyze`` end to end, and the CLI's summary of its result, with atheris.

An input is seven header bytes and a body, written as a file as in ``fuzz_readers.py`` (byte 0
picks the format and compression). The other bytes pick the options among the input's own
columns (read first with ``open_events``), as a user would: the key (a column or a template
of one or two columns, with or without a format spec), ``--size``, ``--timestamp``,
``--order-by``, the partitioner, ``--key-format``, the partition count, ``--window``,
``--top``, ``--exact-keys`` (1 exercises the sketches), ``--strict`` and
``--null-field-as-empty``. The result is formatted as ``partsim analyze`` prints it (text and
``--json``). Only PartsimErrors may escape, and every event lands on a partition.

    nice -n 19 python fuzz/fuzz_analyze.py fuzz-corpus/analyze -max_total_time=600 \\
        -rss_limit_mb=2048 -timeout=30 -max_len=16384 -artifact_prefix=fuzz-out/analyze/

(see ``fuzz/harness.py`` for the seeds and the keep-going mode).
"""

from __future__ import annotations

from harness import LOG_REGEXES, fuzz, write_input

from partsim.analysis import analyze
from partsim.io import open_events
from partsim.outputs import format_summary, to_json
from partsim.partitioners import partitioner_names
from partsim.serde import KEY_FORMATS

PARTITIONERS = partitioner_names()
PARTITION_COUNTS = (1, 2, 3, 6, 7, 12, 64, 1000)
WINDOWS = ("1min", "1s", "10ms", 0.5)
TOPS = (0, 1, 3, 20)
KEY_SHAPES = ("{}", "{{{}}}:{{{}}}", "{{{}!r:>8}}", "k-{{{}}}")


def column(columns: list[str], pick: int) -> str | None:
    """The column ``pick`` names, or None for a pick past the columns (half of them)."""
    if not columns or pick >= 2 * len(columns):
        return None
    return columns[pick] if pick < len(columns) else None


def test_one_input(data: bytes) -> None:
    if len(data) < 7:
        return
    # Byte 1: regex (bits 0-1), key shape (2-3), --top (4-5), --null-field-as-empty (6).
    # Byte 2: the key's first and second columns. Byte 3: --size and --timestamp columns.
    # Byte 4: partition count (bits 0-2) and partitioner. Byte 5: --strict (bit 0),
    # --window (1-2), --key-format (3-6), --exact-keys 1 (7). Byte 6: --order-by's column.
    variant, choice, key_pick, other_pick, plan_pick, misc, order_pick = data[:7]
    path, fmt = write_input(variant, data[7:])
    regex = LOG_REGEXES[choice % 4 % 3] if fmt == "log" else None
    strict = bool(misc & 1)
    columns = open_events(path, regex=regex, strict=strict).columns
    if not columns:
        return
    first = columns[key_pick % 16 % len(columns)]
    second = columns[(key_pick >> 4) % len(columns)]
    shape = KEY_SHAPES[(choice >> 2) % 4]
    key_format = (misc >> 3) % 16
    result = analyze(
        path,
        key=shape.format(first, second),
        partition_count=PARTITION_COUNTS[plan_pick % 8],
        partitioner=PARTITIONERS[(plan_pick >> 3) % len(PARTITIONERS)],
        key_format=KEY_FORMATS[key_format] if key_format < len(KEY_FORMATS) else "string",
        size=column(columns, other_pick % 16),
        timestamp=column(columns, other_pick >> 4),
        order_by=column(columns, order_pick % 16),
        window=WINDOWS[(misc >> 1) % 4],
        top=TOPS[(choice >> 4) % 4],
        exact_keys=1 if misc & 0x80 else 1_000_000,
        null_field_as_empty=bool(choice & 0x40),
        regex=regex,
        strict=strict,
    )
    format_summary(result)
    to_json(result.summary)
    summary = result.summary
    assert result.partitions["messages"].sum() == summary["events"], summary
    assert len(result.partitions) == summary["partition_count"], summary


if __name__ == "__main__":
    fuzz(test_one_input)
