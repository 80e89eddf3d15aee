"""Fuzz ``partsim.io.open_events`` over every format and compression with atheris.

An input is three header bytes and a body. Byte 0 picks the format and compression
(``harness.VARIANTS``: plain CSV, TSV, JSON lines, log, kcat and Parquet; the text formats
also gzip-, zstd- and bz2-compressed by the harness, and as raw ``.gz``/``.zst`` bytes);
byte 1 picks ``strict``, ``batch_rows``, the log regex or the CSV delimiter, and whether the
body is cut into two files read together; byte 2 says where to cut. Every batch is read.
Only PartsimErrors may escape, and every batch has the source's columns.

    nice -n 19 python fuzz/fuzz_readers.py fuzz-corpus/readers -max_total_time=600 \\
        -rss_limit_mb=2048 -timeout=30 -max_len=16384 -artifact_prefix=fuzz-out/readers/

(see ``fuzz/harness.py`` for the seeds and the keep-going mode).
"""

from __future__ import annotations

from harness import LOG_REGEXES, fuzz, write_input

from partsim.io import open_events

BATCH_ROWS = (1, 2, 3, 7, 64, 1 << 18)
DELIMITERS = (None, ";", "|", "\\t")


def options(flags: int, fmt: str) -> dict:
    """The ``open_events`` keyword arguments that byte 1 picks."""
    chosen: dict = {"strict": bool(flags & 1), "batch_rows": BATCH_ROWS[(flags >> 1) % 6]}
    if fmt == "log":
        chosen["regex"] = LOG_REGEXES[(flags >> 4) % 4 % 3]
    elif fmt in ("csv", "tsv"):
        chosen["delimiter"] = DELIMITERS[(flags >> 4) % 4]
    return chosen


def test_one_input(data: bytes) -> None:
    if len(data) < 3:
        return
    variant, flags, cut = data[0], data[1], data[2]
    body = data[3:]
    if flags & 0x80:  # two files of the same format, read as one source
        at = len(body) * cut // 255
        first, fmt = write_input(variant, body[:at], "first")
        second, _ = write_input(variant, body[at:], "second")
        inputs: object = [first, second]
    else:
        inputs, fmt = write_input(variant, body)
    chosen = options(flags, fmt)
    events = open_events(inputs, **chosen)
    rows = 0
    for batch in events:
        assert batch.schema.names == events.columns, (batch.schema.names, events.columns)
        assert 0 < batch.num_rows <= chosen["batch_rows"], batch.num_rows
        rows += batch.num_rows
    assert rows == events.rows_read, (rows, events.rows_read)


if __name__ == "__main__":
    fuzz(test_one_input)
