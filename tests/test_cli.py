"""The CLI, run as a user runs it: one line per error, exit codes, stdin, JSON."""

from __future__ import annotations

import json
import subprocess

import pytest
from kafka.partitioner.default import murmur2 as kafka_python_murmur2

import partsim
from tests.cli import run_partsim


def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return run_partsim(*args, stdin=stdin)


def test_partition_prints_each_key() -> None:
    done = run("partition", "user-42", "order-1001", "-p", "12")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split() == ["key", "partition"]
    # An oracle other than partsim: kafka-python's murmur2 with Java's toPositive.
    keys = (b"user-42", b"order-1001")
    expected = [(kafka_python_murmur2(key) & 0x7FFFFFFF) % 12 for key in keys]
    assert [line.split() for line in lines[1:]] == [
        ["user-42", str(expected[0])],
        ["order-1001", str(expected[1])],
    ]


def test_stdin_and_json() -> None:
    keys = [f"key-{i}" for i in range(50)]
    done = run(
        "partition",
        "-",
        "-p",
        "7",
        "--partitioner",
        "sarama",
        "--json",
        stdin="\n".join(keys) + "\n",
    )
    assert done.returncode == 0, done.stderr
    payload = json.loads(done.stdout)
    assert payload["keys"] == keys
    assert payload["partitioner"] == "sarama"
    assert payload["partitions"] == partsim.assign(keys, 7, partitioner="sarama").tolist()


def test_compare_covers_every_partitioner() -> None:
    done = run("partition", "user-42", "", "-p", "12", "--compare", "--json")
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)["partitions"]
    assert set(rows) == set(partsim.partitioners())
    assert rows["java"] == [partsim.assign(["user-42"], 12)[0], 9]
    assert rows["librdkafka:consistent_random"][1] is None  # empty key: keyless, not hashed
    assert rows["kinesis"][1] is None  # rejected
    table = run("partition", "user-42", "", "-p", "12", "--compare")
    assert "sticky (linger time)" in table.stdout and "rejected" in table.stdout


def test_a_key_the_client_rejects_is_labelled() -> None:
    done = run("partition", "", "pk-1", "-p", "3", "--partitioner", "kinesis")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[1].split() == ['""', "rejected"]


def test_schema_id_and_key_format() -> None:
    done = run("partition", "42", "-p", "6", "--key-format", "int64", "--schema-id", "3", "--json")
    # Confluent framing (magic 0, 4-byte id) around Kafka's LongSerializer, placed by Java.
    framed = b"\x00" + (3).to_bytes(4, "big") + (42).to_bytes(8, "big", signed=True)
    expected = [(kafka_python_murmur2(framed) & 0x7FFFFFFF) % 6]
    assert json.loads(done.stdout)["partitions"] == expected


@pytest.mark.parametrize(
    ("args", "code", "needle"),
    [
        (["partition", "a", "-p", "0"], 2, "'-p' / '--partitions': 0 is not in the range"),
        (["partition", "a", "-p", "-3"], 2, "is not in the range"),
        (["partition", "a", "-p", str(10**11)], 2, "is not in the range"),
        (
            ["partition", "a", "-p", "3", "--partitioner", "murmur3x"],
            2,
            "did you mean 'pulsar:murmur3'?",
        ),
        (["partition", "a", "-p", "3", "--key-format", "utf9"], 2, "'--key-format'"),
        (["partition", "zz", "-p", "3", "--key-format", "hex"], 1, "cannot decode 'zz'"),
        (["partition", "70000", "-p", "3", "--key-format", "int16"], 1, "out of range"),
        (["partition", "-p", "3"], 2, "Missing argument"),
        (["nonsense"], 2, "No such command"),
    ],
)
def test_bad_arguments_get_one_line(args: list[str], code: int, needle: str) -> None:
    done = run(*args)
    assert done.returncode == code
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("Error: ") and needle in lines[0]
    assert "Traceback" not in done.stderr


def test_partitioners_lists_every_name() -> None:
    done = run("partitioners")
    assert done.returncode == 0
    for name in partsim.partitioners():
        assert name in done.stdout
    rows = json.loads(run("partitioners", "--json").stdout)
    by_name = {row["name"]: row for row in rows}
    assert by_name["librdkafka:consistent"]["null_key"].startswith("hashed as the empty key")
    assert by_name["java"]["sign_rule"] == "mask"
    assert by_name["librdkafka:consistent_random"]["empty_key"].startswith("treated as null")


@pytest.mark.parametrize("command", [[], ["partition"], ["partitioners"]])
def test_help_ends_with_examples(command: list[str]) -> None:
    done = run(*command, "--help")
    assert done.returncode == 0
    assert "Examples:" in done.stdout
    assert "partsim " in done.stdout.split("Examples:")[1]
