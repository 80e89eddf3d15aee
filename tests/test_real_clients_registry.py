"""One truth per client: the README's partitioner table, ``partsim partitioners`` (text and
``--json``), ``partition --compare`` and the keyless model ``simulate`` picks all come from
the same :class:`partsim.partitioners.Partitioner` record, and agree."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

import partsim
from partsim.partitioners import KEYLESS_MODELS, KEYLESS_SHORT, PARTITIONERS
from tests.cli import run_partsim

README = Path(__file__).resolve().parent.parent / "README.md"


def readme_table() -> str:
    text = README.read_text()
    start = text.index("| name (aliases) | client | algorithm | sign | null key | empty key")
    end = text.index("\n\n", start)
    return text[start:end]


def test_readme_table_is_the_registry() -> None:
    done = run_partsim("partitioners", "--markdown")
    assert done.returncode == 0, done.stderr
    assert readme_table() == done.stdout.rstrip("\n"), (
        "README's partitioner table differs from `partsim partitioners --markdown`: "
        "paste the command's output into the README"
    )


def test_listing_json_and_compare_agree_with_the_record() -> None:
    listing = run_partsim("partitioners").stdout
    rows = {row["name"]: row for row in json.loads(run_partsim("partitioners", "--json").stdout)}
    compare = run_partsim("partition", "", "-p", "12", "--compare").stdout.splitlines()
    labels = {line.split()[0]: line.split(None, 1)[1].strip() for line in compare[1:]}
    for name, record in PARTITIONERS.items():
        row = rows[name]
        assert row["keyless_model"] == record.keyless_model == KEYLESS_MODELS[record.null_strategy]
        line = next(line for line in listing.splitlines() if line.startswith(name + " "))
        assert record.null_key_short in line and record.empty_key_short in line
        assert row["null_key"] == record.null_key_rule
        # The empty key: compare prints the partition where it is hashed, else the label.
        if record.empty_key == "hash" and not record.ignores_keys:
            assert labels[name].isdigit(), (name, labels[name])
        elif record.null_key == "reject":
            assert labels[name] == "rejected"
        else:
            assert labels[name] == KEYLESS_SHORT[record.keyless], (name, labels[name])


def test_librdkafka_random_says_sticky_null_keys_everywhere() -> None:
    # Issue 16: the README, `partitioners` and --json contradicted each other here.
    record = PARTITIONERS["librdkafka:random"]
    row = next(
        row
        for row in json.loads(run_partsim("partitioners", "--json").stdout)
        if row["name"] == "librdkafka:random"
    )
    assert "sticky" in row["null_key"] and "sticky" in record.null_key_short
    assert row["keyless_model"] == "librdkafka"
    assert "random" in row["empty_key"] and "random per message" in row["notes"]
    assert "| sticky (linger time) | keys ignored: random |" in readme_table()


@pytest.mark.parametrize("name", sorted(PARTITIONERS))
def test_simulate_picks_the_records_keyless_model(name: str) -> None:
    record = PARTITIONERS[name]
    if record.null_key != "keyless" and not record.null_keyless:
        return  # null keys are hashed or rejected: no keyless path to simulate
    events = pd.DataFrame({"k": [None] * 200, "ts": [i / 1000 for i in range(200)]})
    run = partsim.simulate(
        events, key="k", timestamp="ts", partition_count=6, partitioner=name,
        consumer_capacity=1000,
    )  # fmt: skip
    assert run.summary["keyless_client"] == record.keyless_model


def test_empty_key_is_unambiguous_in_every_output() -> None:
    # The empty key and the two-character key "" used to print the same.
    table = run_partsim("partition", "", '""', "a b", "-p", "12").stdout.splitlines()
    assert [line.split("  ")[0].strip() for line in table[1:]] == ['""', '"\\"\\""', '"a b"']
    payload = json.loads(run_partsim("partition", "", '""', "-p", "12", "--json").stdout)
    assert payload["keys"] == ["", '""'] and "keys_hex" not in payload
    header = run_partsim("partition", "", '""', "-p", "12", "--compare").stdout.splitlines()[0]
    assert header.split()[1:] == ['""', '"\\"\\""']
    raw = run_partsim("partition", "-", "-p", "5", "--key-format", "bytes", "--json",
                      stdin=b"a\xff\n\n", text=False)  # fmt: skip
    payload = json.loads(raw.stdout)
    assert payload["keys_hex"] == ["61ff", ""] and payload["keys"][1] == ""
