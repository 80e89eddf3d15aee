"""``partsim verify`` on files streams: batch by batch, in bounded memory, with the same result.

The oracle is independent of partsim: kcat-like files whose partitions were placed by
kafka-python's ``murmur2`` (Java's rule), ``zlib.crc32`` (librdkafka's ``consistent``) and
confluent-kafka's C ``fnv1a``, with some records from a second client, some misplaced, some
keyless and some empty keys. The expected report (shares, best, the per-record greedy cover,
the keys on several partitions) is computed here record by record, in plain Python, and the
streamed result must equal it field by field with batches of a few dozen rows. On every
registered partitioner, the streamed file must equal the whole in-memory table. Past the
exact limit, the split-key count must be flagged as an estimate whose interval holds the
true count, and a file far larger than the bound must be verified under 1 GiB resident.
"""

from __future__ import annotations

import json
import zlib
from collections import Counter, defaultdict
from pathlib import Path

import confluent_kafka
import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
import pytest
from kafka.partitioner.default import murmur2 as kafka_python_murmur2

from partsim import live
from partsim.options import InputOptions
from partsim.schemas.wire import recognize_keys
from tests.test_hostile_inputs import RESIDENT_BOUND_MIB, assert_one_error, run_limited

ROOT = Path(__file__).resolve().parents[1]
ORACLES = {
    "java": lambda key, n: (kafka_python_murmur2(key) & 0x7FFFFFFF) % n,
    "librdkafka:consistent": lambda key, n: zlib.crc32(key) % n,
    "librdkafka:fnv1a": lambda key, n: confluent_kafka.fnv1a(key, n),
}
SMALL = InputOptions(batch_rows=37)


def kcat_like(seed: int, rows: int = 2500) -> tuple[list[bytes | None], list[int], int]:
    """Keys and observed partitions: mostly java, a share from a second client, a little
    noise, 4% keyless, 1% empty keys, a few Schema Registry framed keys."""
    rng = np.random.default_rng(seed)
    count = int(rng.integers(2, 40))
    distinct = int(rng.integers(5, 1500))
    second = ["librdkafka:consistent", "librdkafka:fnv1a"][seed % 2]
    second_share = [0.0, 0.003, 0.3, 0.6][seed % 4]
    keys: list[bytes | None] = []
    partitions: list[int] = []
    for _ in range(rows):
        draw = rng.random()
        if draw < 0.04:
            keys.append(None)
            partitions.append(int(rng.integers(count)))
            continue
        if draw < 0.05:
            key = b""
        elif draw < 0.07:
            key = b"\x00\x00\x00\x00\x07" + f"framed-{rng.integers(50)}".encode()
        else:
            key = f"user-{rng.integers(distinct)}".encode()
        client = second if rng.random() < second_share else "java"
        partition = ORACLES[client](key, count)
        if rng.random() < 0.005:
            partition = int(rng.integers(count))
        keys.append(key)
        partitions.append(partition)
    return keys, partitions, count


def expected(keys: list[bytes | None], partitions: list[int], count: int) -> dict:
    """The report, record by record from the oracles (the greedy cover as verify's
    docstring states it: at each step the partitioners explaining most records not yet
    explained, ties together, the first named covering)."""
    names = list(ORACLES)
    keyed = [(k, p) for k, p in zip(keys, partitions, strict=True) if k is not None]
    explained = {name: [ORACLES[name](k, count) == p for k, p in keyed] for name in names}
    shares = {name: sum(explained[name]) / len(keyed) for name in names}
    top = max(shares.values())
    best = [name for name in names if shares[name] == top and top > 0]
    cover: list[dict] = []
    if top < live.EXPLAINED_ENOUGH:
        left = [True] * len(keyed)
        while len(cover) < 3:
            gains = {
                n: sum(e and x for e, x in zip(explained[n], left, strict=True)) for n in names
            }
            most = max(gains.values())
            if most == 0:
                break
            tied = [name for name in names if gains[name] == most]
            cover.append({"partitioners": tied, "share": most / len(keyed)})
            left = [x and not e for e, x in zip(explained[tied[0]], left, strict=True)]
            if 1 - sum(left) / len(keyed) >= live.EXPLAINED_ENOUGH:
                break
        covered = sum(step["share"] for step in cover)
        if len(cover) < 2 or covered < live.EXPLAINED_ENOUGH:
            cover = []
    spread: dict[bytes, set[int]] = defaultdict(set)
    records: Counter[bytes] = Counter()
    for key, partition in keyed:
        spread[key].add(partition)
        records[key] += 1
    split = {key for key, seen in spread.items() if len(seen) > 1}
    return {
        "records": len(keys),
        "keyed_records": len(keyed),
        "explained_by": shares,
        "best": best,
        "mixed": bool(cover),
        "combination": cover,
        "split_count": len(split),
        "split": {key: (sorted(spread[key]), records[key]) for key in split},
        "key_framing": recognize_keys(pa.array([k for k, _ in keyed], pa.binary())),
    }


def write(folder: Path, keys: list, partitions: list[int], kind: str) -> Path:
    table = pa.table({"key": pa.array(keys, pa.binary()), "partition": partitions,
                      "offset": range(len(keys))})  # fmt: skip
    path = folder / f"dump.{kind}"
    if kind == "parquet":
        pq.write_table(table, path, row_group_size=100)
    else:  # text keys; an empty key reads back as null in CSV, so keep none there
        text = table.set_column(0, "key", table.column("key").cast(pa.string()))
        pa_csv.write_csv(text, path)
    return path


def shown(example: dict) -> bytes:
    return example["key"].encode() if "key" in example else bytes.fromhex(example["key_hex"])


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("kind", ["parquet", "csv"])
def test_streamed_verify_equals_the_record_by_record_oracle(
    tmp_path: Path, seed: int, kind: str
) -> None:
    keys, partitions, count = kcat_like(seed)
    if kind == "csv":
        keys = [None if key == b"" else key for key in keys]
    path = write(tmp_path, keys, partitions, kind)
    result = live.verify(path, partition_count=count, partitioners=list(ORACLES),
                         input_options=SMALL).to_dict()  # fmt: skip
    want = expected(keys, partitions, count)
    assert result["records"] == want["records"]
    assert result["keyed_records"] == want["keyed_records"]
    assert result["explained_by"] == want["explained_by"]
    assert result["best"] == want["best"]
    assert (result["mixed"], result["combination"]) == (want["mixed"], want["combination"])
    split = result["keys_on_multiple_partitions"]
    assert split["count"] == want["split_count"] and "method" not in split
    for example in split["examples"]:
        assert want["split"][shown(example)] == (example["partitions"], example["records"])
    heaviest = sorted((-records for _, records in want["split"].values()))[: live.EXAMPLES]
    assert [-example["records"] for example in split["examples"]] == heaviest
    assert result["key_framing"] == want["key_framing"]


def test_the_cover_is_found_on_a_mixed_topic(tmp_path: Path) -> None:
    """At least one generated input is a mixed topic, so the cover is really compared."""
    keys, partitions, count = kcat_like(2)
    assert expected(keys, partitions, count)["mixed"]
    result = live.verify(write(tmp_path, keys, partitions, "parquet"), partition_count=count,
                         input_options=SMALL)  # fmt: skip
    assert result.mixed and result.combination[0]["partitioners"][0] == "java"


def test_a_tie_in_the_cover_is_broken_as_record_by_record(tmp_path: Path) -> None:
    """java and consistent explain 50 records each, different ones; fnv1a explains 30, 20 of
    them java's. The first named of a tie (java) covers its records, so consistent comes
    next, and fnv1a last; covering consistent's first would give java, then fnv1a."""
    count, keys, partitions = 10, [], []
    wanted = {("java",): 30, ("java", "librdkafka:fnv1a"): 20, ("librdkafka:consistent",): 50,
              ("librdkafka:fnv1a",): 10}  # fmt: skip
    found: Counter[tuple[str, ...]] = Counter()
    for i in range(100_000):
        key = f"t{i}".encode()
        placed = {name: oracle(key, count) for name, oracle in ORACLES.items()}
        for pattern, records in wanted.items():
            partition = placed[pattern[0]]
            explains = tuple(name for name in ORACLES if placed[name] == partition)
            if explains == pattern and found[pattern] < records:
                found[pattern] += 1
                keys.append(key)
                partitions.append(partition)
                break
        if found == wanted:
            break
    assert found == wanted
    want = expected(keys, partitions, count)
    assert [step["partitioners"] for step in want["combination"]] == [
        ["java", "librdkafka:consistent"],
        ["librdkafka:consistent"],
        ["librdkafka:fnv1a"],
    ]
    result = live.verify(write(tmp_path, keys, partitions, "parquet"), partition_count=count,
                         partitioners=list(ORACLES), input_options=SMALL)  # fmt: skip
    assert result.combination == want["combination"] and result.mixed


@pytest.mark.parametrize("seed", [1, 2, 5])
def test_streamed_file_equals_the_whole_table_on_every_partitioner(
    tmp_path: Path, seed: int
) -> None:
    keys, partitions, count = kcat_like(seed, rows=1500)
    table = pa.table({"key": pa.array(keys, pa.binary()), "partition": partitions})
    whole = live.verify(table, partition_count=count).to_dict()
    path = write(tmp_path, keys, partitions, "parquet")
    for batch_rows in (1, 53, 1 << 18):
        streamed = live.verify(path, partition_count=count,
                               input_options=InputOptions(batch_rows=batch_rows))  # fmt: skip
        assert streamed.to_dict() == whole


def test_past_the_limit_the_split_count_is_an_estimate_that_says_so(tmp_path: Path) -> None:
    rng = np.random.default_rng(11)
    count, rows = 8, 40_000
    keys = [f"k{rng.integers(6000)}".encode() for _ in range(rows)]
    partitions = [ORACLES["java"](key, count) for key in keys]
    for row in rng.choice(rows, 1500, replace=False):  # a second producer's records
        partitions[row] = ORACLES["librdkafka:consistent"](keys[row], count)
    want = expected(keys, partitions, count)
    path = write(tmp_path, keys, partitions, "parquet")
    result = live.verify(path, partition_count=count, partitioners=list(ORACLES),
                         input_options=InputOptions(batch_rows=500), exact_keys=2000)  # fmt: skip
    assert result.explained_by == want["explained_by"]  # the sums stay exact
    assert (result.mixed, result.combination) == (want["mixed"], want["combination"])
    split = result.keys_on_multiple_partitions
    assert split["method"] == "key-hash sample" and 0 < split["sampled_keys_share"] < 1
    assert split["split_keys_seen"] <= split["count_lower"] <= want["split_count"]
    assert want["split_count"] <= split["count_upper"]
    assert split["count_lower"] <= split["count"] <= split["count_upper"]
    for example in split["examples"]:  # kept keys: every record of each
        assert want["split"][shown(example)] == (example["partitions"], example["records"])
    assert result.key_framing["sampled_keys_share"] == split["sampled_keys_share"]
    assert "estimate" in live.format_verify(result)
    below = live.verify(path, partition_count=count, partitioners=list(ORACLES),
                        input_options=InputOptions(batch_rows=500))  # fmt: skip
    assert below.keys_on_multiple_partitions["count"] == want["split_count"]


def test_a_file_far_larger_than_the_bound_verifies_under_a_gib(tmp_path: Path) -> None:
    """600 MB of distinct 2 KB keys (a whole-table read holds them at least twice); the
    Parquet file is small, its keys compress."""
    path = tmp_path / "big.parquet"
    rows, per_group = 300_000, 20_000
    pad = b"x" * 2000
    with pq.ParquetWriter(path, pa.schema([("key", pa.binary()), ("partition", pa.int32())]),
                          compression="zstd") as writer:  # fmt: skip
        for start in range(0, rows, per_group):
            keys = [b"%08d" % i + pad for i in range(start, start + per_group)]
            partitions = [(i * 7) % 12 for i in range(start, start + per_group)]
            table = {
                "key": pa.array(keys, pa.binary()),
                "partition": pa.array(partitions, pa.int32()),
            }
            writer.write_table(pa.table(table))
    outcome = run_limited("verify", str(path), "-p", "12", "--partitioner", "java", "--json",
                          cwd=ROOT)  # fmt: skip
    assert outcome.code == 0, outcome.stderr
    assert outcome.peak_mib < RESIDENT_BOUND_MIB, outcome.peak_mib
    report = json.loads(outcome.stdout)
    assert report["records"] == report["keyed_records"] == rows
    assert report["keys_on_multiple_partitions"]["method"] == "key-hash sample"
    assert report["keys_on_multiple_partitions"]["count"] == 0  # each key once


@pytest.mark.parametrize(
    ("rows", "phrases"),
    [
        ("key,partition\na,1\nb,x\n", ["not integers"]),
        ("key,partition\n" + "a,1\n" * 100 + "b,\n", ["1 records have no partition"]),
        ("key,partition\n" + "a,1\n" * 100 + "b,9\n",
         ["partitions up to 9", "beyond partition_count 4", "first 101 records read"]),
        ("k,p\na,1\n", ["verify needs the columns key and partition"]),
    ],
)  # fmt: skip
def test_bad_files_fail_with_one_line(tmp_path: Path, rows: str, phrases: list[str]) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(rows)
    outcome = run_limited("verify", str(path), "-p", "4", cwd=ROOT)
    assert_one_error(outcome, *phrases)
