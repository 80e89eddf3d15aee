"""Fuzz the key-template parser (``partsim.design.parse_design``) and applying the design.

An input is one flags byte and the ``--key`` text (decoded as the command line decodes
``argv``: UTF-8 with surrogate escapes). Bit 0 of the flags is ``null_field_as_empty``;
bit 1 applies the design to a two-chunk table instead of a record batch. The design is
checked against a small table of many Arrow types (text, integers, floats with NaN and
infinity, binary that is not UTF-8, booleans, timestamps, lists, dictionaries) and applied
to it. Only PartsimErrors may escape, and there is one key per row.

    nice -n 19 python fuzz/fuzz_design.py fuzz-corpus/design -max_total_time=300 \\
        -rss_limit_mb=2048 -timeout=30 -artifact_prefix=fuzz-out/design/

(see ``fuzz/harness.py`` for the seeds and the keep-going mode).
"""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
from harness import fuzz

from partsim.design import parse_design

EVENTS = pa.record_batch(
    {
        "customer_id": ["C00042", None, "ü-7", ""],
        "region": pa.array(["EU", "NA", None, "EU"]).dictionary_encode(),
        "id": pa.array([7, -1, None, 2**62], pa.int64()),
        "small": pa.array([1, 2, 3, None], pa.int8()),
        "amount": [1.5, float("nan"), float("inf"), None],
        "raw": pa.array([b"\xff\xfe", b"a\x00b", None, b""], pa.binary()),
        "flag": [True, False, None, True],
        "ts": pa.array(
            [
                dt.datetime(2026, 11, 27, 10),
                None,
                dt.datetime(1970, 1, 1),
                dt.datetime(9999, 12, 31),
            ],
            pa.timestamp("ms"),
        ),
        "listed": [[1, 2], [], None, [3]],
        "user.id": ["u1", "u2", "u3", None],
    }
)
TABLE = pa.Table.from_batches([EVENTS.slice(0, 1), EVENTS.slice(1)])


def test_one_input(data: bytes) -> None:
    if not data:
        return
    flags = data[0]
    expression = data[1:].decode("utf-8", "surrogateescape")  # as POSIX decodes argv
    design = parse_design(expression, null_field_as_empty=bool(flags & 1))
    events = TABLE if flags & 2 else EVENTS
    design.check_columns(events.column_names)
    keys = design.keys(events)
    assert len(keys) == events.num_rows, (len(keys), events.num_rows)


if __name__ == "__main__":
    fuzz(test_one_input)
