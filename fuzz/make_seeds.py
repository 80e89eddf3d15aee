"""Write the seed corpora of the atheris harnesses: ``OUT/readers``, ``OUT/design``,
``OUT/analyze``.

The seeds are the first lines of ``sample_data/`` (as CSV, TSV, JSON lines, Parquet, log and
kcat), small hand-made files with the bad inputs of ``tests/test_bad_inputs.py`` in small
(ragged rows, bad UTF-8, NUL bytes, quoted newlines, nested and deep JSON, binary kcat keys),
and key templates. Each seed carries the header bytes its harness reads first.

    python fuzz/make_seeds.py fuzz-corpus
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from harness import TEXT_FORMATS, VARIANTS, pack, seed_header

SAMPLES = Path(__file__).resolve().parents[1] / "sample_data"
HEAD = 12  # lines of each sample file


def _head(name: str) -> bytes:
    with open(SAMPLES / name, "rb") as file:
        return b"".join(file.readline() for _ in range(HEAD))


def _orders() -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(_head("orders.csv").decode())))


def text_bodies() -> dict[str, list[bytes]]:
    orders = _orders()
    tsv = "".join("\t".join(row) + "\n" for row in [list(orders[0]), *map(dict.values, orders)])
    jsonl = "".join(json.dumps(row) + "\n" for row in orders)
    deep = b'{"a": ' * 600 + b"1" + b"}" * 600 + b"\n"  # past _ARROW_MAX_OPENS, read in Python
    return {
        "csv": [
            _head("orders.csv"),
            b"customer_id,region\na,EU\nb\nc,US,extra\nd,EU\n",
            b"customer_id,region\na,EU\n\xff\xfe,US\nb,EU\n",
            b"customer_id,region\na\x00b,EU\nc,US\n",
            b'\xef\xbb\xbfcustomer_id,note\r\nC1,"two\r\nlines"\r\n,"a ""quote"""\r\n',
            b"customer_id,customer_id\na,b\n",
            b"customer_id;region\na;EU\nb;NA\n",
            b"\n\ncustomer_id\n\n007\nNA\nnull\n",
        ],
        "tsv": [tsv.encode(), b'key\tv\n"a\tb\n\xff\t1\n'],
        "jsonl": [
            jsonl.encode(),
            b'{"user": {"id": 7, "name": "x"}, "n": 1}\n{"user": null}\n{"user": {"id": 8}}\n',
            b'{"key": 1152921504606846977, "f": 1e-07, "t": "2026-11-27", "ok": true}\n',
            b'{"key": [1, {"b": 2}], "a.b": 1, "a": {"b": 2}}\n',
            b'{"key": "\\ud800x"}\nnot json\n[1, 2]\n"text"\n{"key": "\xff"}\n',
            b'[{"key": "a"}, {"key": "b"}]\n',
            b'{"key": "a"}\n' + deep + b'{"key": "b"}\n',
        ],
        "log": [
            _head("app.log"),
            b"2026 customer=a bytes=3\nnoise\n2026 customer=b bytes=4\n",
            b"customer=\xff\xfe ts=1\ncustomer=b\x00c\ncustomer= ts=2026-11-27T10:00:00Z\n",
        ],
        "kcat": [
            _head("orders.kcat"),
            b"k\xff\xfe\t0\t1\t2\t3\nb\t1\t2\t3\t4\n\t0\t5\t6\t7\na\tb\t1\t2\t3\t4\nshort\t1\n",
        ],
    }


def parquet_bodies() -> list[bytes]:
    orders = _orders()
    tables = [
        pa.Table.from_pylist(orders),
        pa.table(
            {
                "user": [{"id": 7, "tags": {"x": "a"}}, None, {"id": None, "tags": None}],
                "listed": [[1, 2], [], None],
                "ts": pa.array([0, 1, None], pa.timestamp("ms")),
                "region": pa.array(["EU", "NA", "EU"]).dictionary_encode(),
                "raw": pa.array([b"\xff", b"", None], pa.binary()),
                "amount": [1.5, float("nan"), None],
            }
        ),
        pa.table({"customer_id": pa.array([], pa.string())}),
    ]
    bodies = []
    for table, options in zip(tables, [{"row_group_size": 4}, {"compression": "zstd"}, {}],
                              strict=True):  # fmt: skip
        sink = io.BytesIO()
        pq.write_table(table, sink, **options)
        bodies.append(sink.getvalue())
    return bodies


def reader_seeds() -> list[bytes]:
    seeds = []
    texts = text_bodies()
    for fmt in TEXT_FORMATS:
        for number, body in enumerate(texts[fmt]):
            flags = number * 37 % 128  # a spread of strict, batch_rows and regex/delimiter
            seeds.append(bytes([seed_header(fmt), flags, 128]) + body)
            seeds.append(bytes([seed_header(fmt), flags | 0x80, 128]) + body)  # two files
        for codec, how in (("gzip", "packed"), ("zstd", "packed"), ("bz2", "packed")):
            seeds.append(bytes([seed_header(fmt, codec, how), 0, 0]) + texts[fmt][0])
        for codec in ("gzip", "zstd"):
            body = texts[fmt][0]
            seeds.append(bytes([seed_header(fmt, codec, "raw"), 0, 0]) + pack(body, codec))
            cut = pack(body, codec)
            seeds.append(bytes([seed_header(fmt, codec, "raw"), 0, 0]) + cut[: len(cut) // 2])
    for number, body in enumerate(parquet_bodies()):
        seeds.append(bytes([seed_header("parquet"), number * 2, 0]) + body)
    seeds.append(bytes([seed_header("parquet"), 0x80, 128]) + parquet_bodies()[0])
    return seeds


TEMPLATES = [
    "customer_id",
    "{region}:{customer_id}",
    "{id:05d}",
    "{amount:.2f}",
    "{customer_id!r}",
    "{ts}-{flag}",
    "{raw}",
    "{listed}",
    "{user.id}",
    "{small:>4}|{id!a:^10}",
    "{{literal}}{id}",
    "{customer_id[0]}",
    "{nope}",
    "{customer_id",
    "{customer_id!z}",
    "{}",
    "plain text",
]


def design_seeds() -> list[bytes]:
    return [bytes([number % 4]) + text.encode() for number, text in enumerate(TEMPLATES)]


def analyze_seeds() -> list[bytes]:
    seeds = []
    texts = text_bodies()
    # (choice, key columns, size/timestamp columns, count and partitioner, misc, order-by)
    headers = [
        bytes([0, 0x01, 0x54, 0, 0, 0x11]),  # orders: customer_id; size_bytes, ts
        bytes([0x04, 0x21, 0xFF, 0x0B, 0x02, 0xFF]),  # region:customer_id, 12 partitions
        bytes([0x08, 0x00, 0xFF, 0x13, 0x81, 0x01]),  # !r spec, exact_keys 1, strict
        bytes([0x4C, 0x10, 0x3F, 0x25, 0x18, 0x00]),  # k-{...}, null field as empty
    ]
    for fmt in TEXT_FORMATS:
        for number, body in enumerate(texts[fmt][:3]):
            header = headers[number % len(headers)]
            seeds.append(bytes([seed_header(fmt)]) + header + body)
        seeds.append(bytes([seed_header(fmt, "gzip", "packed")]) + headers[0] + texts[fmt][0])
    for number, body in enumerate(parquet_bodies()):
        seeds.append(bytes([seed_header("parquet")]) + headers[number] + body)
    return seeds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="folder for the corpora")
    out = parser.parse_args().out
    for name, seeds in (("readers", reader_seeds()), ("design", design_seeds()),
                        ("analyze", analyze_seeds())):  # fmt: skip
        folder = out / name
        folder.mkdir(parents=True, exist_ok=True)
        for seed in seeds:
            (folder / hashlib.sha1(seed).hexdigest()).write_bytes(seed)
        print(f"{folder}: {len(seeds)} seeds")
    assert len(VARIANTS) < 256


if __name__ == "__main__":
    main()
