"""The README shows real output, and its prose says what that output says.

- Every console example is run and its output compared with what the README shows, line by
  line or as a marked excerpt (``tests/readme_examples.py`` defines the rules, runs the
  commands, and rewrites the README's outputs with ``python -m tests.readme_examples
  --update``). Live examples run against the session's broker.
- Every ``partsim`` command of a ``bash`` block whose input ships in ``sample_data/`` runs.
- The numbers of the partition examples (``user-42`` -> 4, the ``--compare`` table, the key
  formats) are recomputed with independent code: kafka-python's murmur2, zlib's CRC-32,
  FNV-1a and Java's ``String.hashCode`` written here, mmh3 and hashlib's MD5.
- The sentences around the examples that quote their numbers are checked against the README
  outputs (which the tests above tie to the real commands) or the real commands' JSON.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
import shlex
import subprocess
import sys
import zlib
from collections.abc import Iterator
from pathlib import Path

import mmh3
import pytest
from kafka.partitioner.default import murmur2 as kafka_python_murmur2

from tests import readme_examples
from tests.cli import run_partsim
from tests.readme_examples import README, ROOT, Example, LiveTopics, mismatch, run_example

TEXT = README.read_text()
EXAMPLES = readme_examples.examples(TEXT)
REFRESH = "if the change is meant, refresh the README: python -m tests.readme_examples --update"


def _ids(examples: list[Example]) -> list:
    return [pytest.param(example, id=example.name) for example in examples]


def _check(example: Example, outputs: list[list[str]]) -> None:
    problems = []
    for command, actual in zip(example.commands, outputs, strict=True):
        problem = mismatch(command.expected, actual)
        if problem:
            problems.append(f"`{command.line}`:\n{problem}")
    assert not problems, "\n\n".join(problems) + f"\n\n{REFRESH}"


def test_every_console_example_runs_or_says_why() -> None:
    assert len(EXAMPLES) >= 13
    for example in EXAMPLES:
        lines = [command.line for command in example.commands]
        if example.mode == "skip":
            assert "tests/" in example.reason, f"{example.name}: say which test checks it"
            continue
        for command in example.commands:
            assert command.expected, f"{example.name}: `{command.line}` shows no output"
        if example.mode == "run":  # offline: inputs ship in sample_data/, or none at all
            for line in lines:
                assert "--bootstrap" not in line, f"{example.name} needs <!-- example: live -->"
                # A quoted argument (a sweep design) may name files too: check its words.
                for word in " ".join(shlex.split(line.split("|")[-1])[2:]).split():
                    if re.search(r"\.(csv|log|kcat|parquet|json|tsv)$", word):
                        assert word.startswith("sample_data/"), (example.name, word)
    assert {example.mode for example in EXAMPLES} == {"run", "live", "skip"}


@pytest.mark.parametrize("example", _ids([e for e in EXAMPLES if e.mode == "run"]))
def test_console_example(example: Example, tmp_path: Path) -> None:
    _check(example, run_example(example, tmp_path))


@pytest.fixture(scope="module")
def readme_topics(kafka_bootstrap: str) -> Iterator[LiveTopics]:
    topics = LiveTopics(kafka_bootstrap).create()
    try:
        yield topics
    finally:
        topics.delete()


@pytest.mark.broker
@pytest.mark.parametrize("example", _ids([e for e in EXAMPLES if e.mode == "live"]))
def test_live_console_example(example: Example, readme_topics: LiveTopics, tmp_path: Path) -> None:
    _check(example, run_example(example, tmp_path, live=readme_topics))


def _bash_commands() -> list[str]:
    """``partsim`` commands (with their continuation lines) of the README's bash blocks."""
    commands = []
    for block in re.findall(r"^```bash\n(.*?)^```$", TEXT, re.S | re.M):
        for command in re.findall(r"^partsim .*?(?<!\\)$", block, re.S | re.M):
            commands.append(re.sub(r"\\\n\s*", "", command))
    return commands


@pytest.mark.parametrize(
    "command", [c for c in _bash_commands() if "sample_data/" in c], ids=lambda c: c[:60]
)
def test_bash_example_with_shipped_input_runs(command: str, tmp_path: Path) -> None:
    (tmp_path / "sample_data").symlink_to(ROOT / "sample_data", target_is_directory=True)
    args = shlex.split(command)[1:]
    done = run_partsim(*args, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip()


# --------------------------------------------------------------- independent oracles
def java_rule(key: bytes, count: int) -> int:
    """The Java producer: toPositive(murmur2) % N, with kafka-python's murmur2."""
    return (kafka_python_murmur2(key) & 0x7FFFFFFF) % count


def fnv1a(key: bytes) -> int:
    """FNV-1a, 32 bits (offset basis 2166136261, prime 16777619)."""
    value = 2166136261
    for byte in key:
        value = ((value ^ byte) * 16777619) & 0xFFFFFFFF
    return value


def java_string_hash(text: str) -> int:
    """Java's ``String.hashCode`` over UTF-16 code units, as uint32."""
    value = 0
    units = text.encode("utf-16-be")
    for index in range(0, len(units), 2):
        value = (31 * value + int.from_bytes(units[index : index + 2], "big")) & 0xFFFFFFFF
    return value


def signed(value: int) -> int:
    return value - (1 << 32) if value >= 1 << 31 else value


def expected_partition(name: str, key: str, count: int) -> str | None:
    """The partition ``name`` gives ``key``, computed here; None where it is not computed."""
    data = key.encode()
    crc, fnv = zlib.crc32(data), fnv1a(data)
    murmur_clients = ("java", "kafka-python", "aiokafka", "franz-go", "kafkajs",
                      "librdkafka:murmur2", "librdkafka:murmur2_random", "sarama:murmur2",
                      "kafka-go:murmur2")  # fmt: skip
    if name in murmur_clients:
        return str(java_rule(data, count))
    if name in ("librdkafka:consistent_random", "kafka-go:crc32") and not data:
        return None  # the keyless path: sticky or random
    if name in ("librdkafka:consistent", "librdkafka:consistent_random", "sarama:crc32",
                "kafka-go:crc32"):  # fmt: skip
        return str(crc % count)
    if name in ("librdkafka:fnv1a", "librdkafka:fnv1a_random", "sarama", "kafka-go:hash"):
        return str(abs(signed(fnv)) % count)  # abs of int32, |-2**31| = 2**31
    if name in ("sarama:reference_hash", "kafka-go:reference_hash"):
        return str((fnv & 0x7FFFFFFF) % count)
    if name == "pulsar":
        return str((java_string_hash(key) & 0x7FFFFFFF) % count)
    if name == "pulsar:murmur3":
        return str((mmh3.hash(data, 0, signed=False) & 0x7FFFFFFF) % count)
    if name == "kinesis":
        if not data:
            return "rejected"
        value = int.from_bytes(hashlib.md5(data).digest(), "big")
        return str(max(i for i in range(count) if i * 2**128 // count <= value))
    return None  # kafkajs:legacy (JS doubles), and the clients that ignore keys


def _example(prefix: str) -> Example:
    (found,) = [e for e in EXAMPLES if e.commands[0].line.startswith(prefix)]
    return found


def test_partition_examples_against_independent_oracles() -> None:
    first = _example("partsim partition user-42 order-1001")
    assert first.commands[0].expected[1:] == [
        f"user-42     {java_rule(b'user-42', 12)}",
        f"order-1001  {java_rule(b'order-1001', 12)}",
    ]
    compare = _example('partsim partition user-42 "" 1468509572224')
    keys = ["user-42", "", "1468509572224"]
    checked = 0
    for line in compare.commands[0].expected[1:]:
        name, *cells = re.split(r"\s{2,}", line.strip())
        if line.split()[0].endswith(":"):  # the summary lines under the table
            continue
        assert len(cells) == 3, line
        for key, cell in zip(keys, cells, strict=True):
            expected = expected_partition(name, key, 12)
            if expected is not None:
                assert cell == expected, (name, key, cell, expected)
                checked += 1
    assert checked >= 60
    # The key the README singles out: FNV-1a 0x80000000, where abs and mask disagree.
    assert fnv1a(b"1468509572224") == 0x80000000
    assert "`1468509572224` is the key whose FNV-1a hash is `0x80000000`" in TEXT
    formats = _example("partsim partition 42 -p 6 --key-format int64")
    (plain,) = (command.expected[1].split() for command in formats.commands)
    payload = (42).to_bytes(8, "big", signed=True)  # Kafka's LongSerializer
    assert plain == ["42", str(java_rule(payload, 6))]
    # The key-schema examples, from the bytes the README's table spells out by hand: the
    # frame (00, id 3 in 4 bytes), then Avro's zigzag varint (42 -> 54) or zigzag length
    # (7 -> 0e) + UTF-8, and the JSON text Connect's JsonConverter writes.
    frame = b"\x00" + (3).to_bytes(4, "big")
    connect = (
        '{"schema":{"type":"struct","fields":[{"type":"int32","optional":false,"field":"id"}],'
        '"optional":false,"name":"dbserver1.inventory.customers.Key"},"payload":{"id":1001}}'
    )
    assert f"`{connect}`" in TEXT
    assert "`00 00 00 00 03 54`" in TEXT and "`00 00 00 00 03 0e 75 73 65 72 2d 34 32`" in TEXT
    schema = _example("partsim partition 42 -p 6 --key-format avro")
    along, astring, struct = (command.expected[1].rsplit(None, 1)[1] for command in schema.commands)
    assert along == str(java_rule(frame + b"\x54", 6))
    assert astring == str(java_rule(frame + b"\x0e" + b"user-42", 6))
    assert struct == str(java_rule(connect.encode(), 6))
    stdin = json.loads("\n".join(_example("printf").commands[0].expected))
    assert stdin["partitions"] == [java_rule(b"a", 5), java_rule(b"b", 5)]


# ------------------------------------------------------------------ prose vs output
def _json(*args: str) -> dict:
    done = run_partsim(*args, "--json", cwd=ROOT)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _orders() -> list[dict[str, str]]:
    with (ROOT / "sample_data" / "orders.csv").open(newline="") as handle:
        return list(csv.DictReader(handle))


def test_tour_prose_matches_the_analysis() -> None:
    summary = _json("analyze", "sample_data/orders.csv", "--key", "customer_id", "-p", "12")
    customers = [row["customer_id"] for row in _orders()]
    counted = max(customers.count(c) for c in set(customers) if c) / len(customers)
    assert summary["top_keys"][0]["share"] == pytest.approx(counted)
    stated = re.search(r"Here one customer carries (\d+)% of the orders", TEXT)
    assert stated and int(stated.group(1)) == round(100 * counted)  # 2,953 of 18,000


def test_sweep_prose_matches_the_sweep() -> None:
    paragraph = TEXT[TEXT.index("Keying by region and customer") :].split("\n\n")[0]
    table = _example("partsim sweep").commands[0].expected
    rows = {}
    for line in table:
        cells = line.split()
        if len(cells) == 9 and cells[0] in ("customer", "region_customer"):
            rows[cells[0], int(cells[2])] = {
                "ratio": cells[3], "kept": float(cells[6].rstrip("%")),
                "risk": float(cells[7].rstrip("%")),
            }  # fmt: skip
    pairs = re.findall(r"(\d\.\d\d) → (\d\.\d\d)(?: at)? (\d+)", paragraph.replace("\n", " "))
    assert len(pairs) == 3
    for before, after, count in pairs:
        assert rows["customer", int(count)]["ratio"] == before
        assert rows["region_customer", int(count)]["ratio"] == after
    composite = [row for (design, _), row in rows.items() if design == "region_customer"]
    kept = re.search(r"only ([\d.]+)-([\d.]+)% of the customers", paragraph.replace("\n", " "))
    risk = re.search(r"([\d.]+)-([\d.]+)% of their orders", paragraph.replace("\n", " "))
    assert kept and risk
    assert (float(kept.group(1)), float(kept.group(2))) == (
        min(r["kept"] for r in composite),
        max(r["kept"] for r in composite),
    )
    assert (float(risk.group(1)), float(risk.group(2))) == (
        min(r["risk"] for r in composite),
        max(r["risk"] for r in composite),
    )
    assert "no count reaches 1.2" in paragraph.replace("\n", " ")
    assert all(float(row["ratio"]) > 1.2 for row in rows.values())


def test_simulate_prose_matches_the_simulation() -> None:
    summary = _json("simulate", "sample_data/orders.csv", "--key", "customer_id", "-p", "12",
                    "--timestamp", "ts", "--consumers", "4", "--consumer-capacity", "3",
                    "--max-lag-seconds", "60", "--brokers", "3")  # fmt: skip
    assert "so no partition or consumer count meets the SLO" in TEXT
    assert summary["slo_met"] is False
    assert summary["smallest_consumer_count"]["consumers"] is None
    assert summary["smallest_partition_count"]["partitions"] is None


def test_verify_prose_matches_the_verify_example() -> None:
    """The numbers in the sentence after the verify example, against that example's output
    (which test_live_console_example ties to a real run) and against orders.csv."""
    (output,) = [e for e in EXAMPLES if e.commands[0].line.endswith("--topic orders")]
    lines = output.commands[0].expected
    sampled = re.search(r"topic orders: ([\d,]+) records", "\n".join(lines))
    split = re.search(r"ordering already broken\): ([\d,]+)", "\n".join(lines))
    keyed = sum(1 for row in _orders() if row["customer_id"])
    prose = TEXT[TEXT.index("Here the 1") :].split("\n\n")[0].replace("\n", " ")
    assert f"Here the {keyed:,} keyed orders of `sample_data/orders.csv`" in prose
    assert f"({sampled.group(1)} of the {keyed:,})" in prose
    assert f"and {split.group(1)} customers already have records on two partitions" in prose
    assert "three in four by confluent-kafka with `partitioner=murmur2_random`" in prose
    assert "(index % 4 == 3)" in Path(readme_examples.__file__).read_text()  # every fourth


def test_python_api_block() -> None:
    """The values the Python example quotes in its comments."""
    code = """
import json, partsim
result = partsim.analyze("sample_data/orders.csv", key="customer_id", partition_count=12,
                         size="size_bytes", timestamp="ts")
print(json.dumps([round(result.summary["max_mean_ratio"], 2),
                  partsim.assign(["user-42", "order-1001", None], 12, seed=1).tolist()[:2],
                  partsim.hash_keys(["21"], algorithm="murmur2").tolist()]))
"""
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, check=True)  # fmt: skip
    ratio, assigned, hashed = json.loads(done.stdout)
    assert f'result.summary["max_mean_ratio"]   # {ratio}' in TEXT
    assert assigned == [java_rule(b"user-42", 12), java_rule(b"order-1001", 12)]
    assert f"# array([{assigned[0]}, {assigned[1]}, r], dtype=int32)" in TEXT
    assert hashed == [signed(kafka_python_murmur2(b"21"))]
    assert f"# array([{hashed[0]}], dtype=int32)" in TEXT


def test_benchmark_figures_are_pasted_from_run_all() -> None:
    """Between the markers is what ``python -m bench.run_all --readme README.md`` wrote (a
    full run, not --quick), or the note that no full run was pasted yet: never figures
    edited by hand."""
    from bench.run_all import BEGIN, END

    assert TEXT.count(BEGIN) == TEXT.count(END) == 1
    region = TEXT.split(BEGIN)[1].split(END)[0].strip()
    placeholder = (
        "No full run on an idle machine yet for this version of the benchmarks:\n"
        "`python -m bench.run_all --readme README.md` fills this in."
    )
    if region != placeholder:
        assert region.startswith("Measured by `python -m bench.run_all` on "), region[:200]
        assert "QUICK run" not in region
