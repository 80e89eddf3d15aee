"""``partsim analyze`` as a user runs it: outputs, one-line errors, nothing half-written."""

from __future__ import annotations

import csv
import gzip
import json
import re
from pathlib import Path

import pandas as pd
import pytest
from kafka.partitioner.default import murmur2 as kafka_python_murmur2

from tests.cli import run_partsim

ROOT = Path(__file__).resolve().parents[1]
ORDERS = ROOT / "sample_data" / "orders.csv"
APP_LOG = ROOT / "sample_data" / "app.log"
KCAT = ROOT / "sample_data" / "orders.kcat"
LOG_REGEX = r"^(?P<ts>\S+) .*customer=(?P<key>\S+) bytes=(?P<size>\d+)"


def run(*args: str, stdin: bytes | None = None, cwd: Path | None = None):
    return run_partsim(*args, stdin=stdin, cwd=cwd, text=False)


def test_summary_on_stdout() -> None:
    done = run("analyze", str(ORDERS), "--key", "customer_id", "-p", "12")
    assert done.returncode == 0, done.stderr
    text = done.stdout.decode()
    assert "orders.csv (CSV): key customer_id, java, 12 partitions" in text
    assert "hot keys:" in text and "max/mean" in text


def test_out_directory_has_every_file_with_the_fixed_names(tmp_path: Path) -> None:
    out = tmp_path / "report"
    done = run(
        "analyze", str(ORDERS), "--key", "{region}:{customer_id}", "-p", "12",
        "--size", "size_bytes", "--timestamp", "ts", "--out", str(out),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    names = {path.name for path in out.iterdir()}
    assert names == {
        "summary.json", "partitions.csv", "hot_keys.csv", "windows.csv", "load.png",
        "lorenz.png", "hot_keys.png", "heatmap.png", "report.html",
        ".partsim-manifest.json",  # what this run wrote, so a later run removes only those
    }  # fmt: skip
    summary = json.loads((out / "summary.json").read_text())
    for key in ("events", "null_key_events", "distinct_keys", "partition_count", "partitioner",
                "max_mean_ratio", "cv", "gini", "jain", "hottest_partition",
                "hottest_partition_share", "top_keys"):  # fmt: skip
        assert key in summary, key
    assert set(summary["top_keys"][0]) == {"key", "count", "share", "partition"}
    with (out / "partitions.csv").open() as handle:
        header = next(csv.reader(handle))
    assert header[:8] == ["partition", "messages", "bytes", "share", "ratio_to_mean",
                          "distinct_keys", "top_key", "top_key_share"]  # fmt: skip
    # The figures match an independent computation (kafka-python murmur2 + pandas).
    frame = pd.read_csv(ORDERS, dtype=str, keep_default_na=False)
    keyed = frame[(frame["customer_id"] != "") & (frame["region"] != "")]
    keys = keyed["region"] + ":" + keyed["customer_id"]
    expected = (
        keys.map(lambda k: (kafka_python_murmur2(k.encode()) & 0x7FFFFFFF) % 12)
        .value_counts()
        .reindex(range(12), fill_value=0)
    )
    partitions = pd.read_csv(out / "partitions.csv")
    assert partitions["keyed_messages"].tolist() == expected.tolist()
    assert summary["events"] == len(frame)
    html = (out / "report.html").read_text()
    assert html.count("data:image/png;base64,") == 4


def test_json_and_other_inputs(tmp_path: Path) -> None:
    log = run("analyze", str(APP_LOG), "--key", "key", "-p", "6", "--timestamp", "ts", "--size",
              "size", "--regex", LOG_REGEX, "--json")  # fmt: skip
    assert log.returncode == 0, log.stderr
    summary = json.loads(log.stdout)
    # Provenance: Python's re over the file's lines (4,889 match; 114 do not, and are skipped).
    lines = APP_LOG.read_text(encoding="utf-8").splitlines()
    matched = sum(1 for line in lines if re.match(LOG_REGEX, line))
    assert (matched, len(lines) - matched) == (4889, 114)
    assert summary["events"] == matched and summary["skipped_rows"] == len(lines) - matched
    assert f"skipped {len(lines) - matched} unparsable rows" in log.stderr.decode()
    kcat = run("analyze", str(KCAT), "--key", "key", "-p", "6", "--json")
    assert kcat.returncode == 0, kcat.stderr
    assert json.loads(kcat.stdout)["size_source"] == "key + value_size"
    compressed = tmp_path / "orders.csv.gz"
    compressed.write_bytes(gzip.compress(ORDERS.read_bytes()))
    from_gzip = json.loads(run("analyze", str(compressed), "--key", "customer_id", "-p", "12",
                               "--json").stdout)  # fmt: skip
    from_stdin = json.loads(run("analyze", "-", "--key", "customer_id", "-p", "12", "--json",
                                stdin=ORDERS.read_bytes()).stdout)  # fmt: skip
    plain = json.loads(run("analyze", str(ORDERS), "--key", "customer_id", "-p", "12",
                           "--json").stdout)  # fmt: skip
    for other in (from_gzip, from_stdin):
        assert other["top_keys"] == plain["top_keys"]
        assert other["max_mean_ratio"] == plain["max_mean_ratio"]


@pytest.mark.parametrize(
    ("args", "code", "needle"),
    [
        (["--key", "custmer_id", "-p", "12"], 2,
         "--key: column 'custmer_id' not found; available columns: order_id, customer_id"),
        (["--key", "customer_id", "-p", "0"], 2, "is not in the range"),
        (["--key", "customer_id", "-p", "12", "--partitioner", "javaa"], 2, "did you mean 'java'"),
        (["--key", "customer_id", "-p", "12", "--window", "soon"], 2, "--window must be"),
        (["--key", "{}", "-p", "12"], 2, "must name a column"),
    ],
)  # fmt: skip
def test_bad_arguments_get_one_line(args: list[str], code: int, needle: str) -> None:
    done = run("analyze", str(ORDERS), *args)
    assert done.returncode == code, done.stderr
    lines = done.stderr.decode().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and needle in lines[0], lines


def test_bad_inputs_get_one_line_and_leave_no_output(tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_text("customer_id,region\n")
    truncated = tmp_path / "cut.csv.gz"
    truncated.write_bytes(gzip.compress(ORDERS.read_bytes())[:2000])
    cases = [
        ([str(tmp_path / "missing.csv")], "does not exist"),
        ([str(tmp_path)], "is a directory"),
        ([str(empty)], "no events"),
        ([str(truncated)], "truncated or corrupt"),
        ([str(APP_LOG), "--regex", r"(?P<k>\S+)"], "named group 'key'"),
    ]
    for inputs, needle in cases:
        out = tmp_path / "out"
        done = run("analyze", *inputs, "--key", "customer_id", "-p", "3", "--out", str(out))
        lines = done.stderr.decode().splitlines()
        assert done.returncode in (1, 2), (inputs, done.stderr)
        assert len(lines) == 1 and lines[0].startswith("Error: ") and needle in lines[0], lines
        assert "Traceback" not in done.stderr.decode()
        assert not out.exists(), inputs
        assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out.partsim-")]


def _report(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir())}


def test_the_plot_process_writes_the_same_report(tmp_path: Path) -> None:
    """``analyze --out`` draws its PNGs in a forked process: same bytes as drawn here, and
    the process is gone afterwards; one that dies is replaced by drawing here."""
    import os

    import partsim
    from partsim import outputs

    result = partsim.analyze(
        ORDERS, key="customer_id", partition_count=6, size="size_bytes", timestamp="ts"
    )
    outputs.write_outputs(result, tmp_path / "here")
    expected = _report(tmp_path / "here")
    assert {"heatmap.png", "load.png", "lorenz.png", "hot_keys.png"} <= set(expected)

    plotter = outputs.PlotProcess.start()
    if plotter is None:
        pytest.skip("plots are drawn in a forked process on Linux only")
    pid = plotter.pid
    outputs.write_outputs(result, tmp_path / "forked", plotter=plotter)
    assert _report(tmp_path / "forked") == expected
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)

    dead = outputs.PlotProcess.start()
    assert dead is not None
    os.kill(dead.pid, 9)
    outputs.write_outputs(result, tmp_path / "dead", plotter=dead)
    assert _report(tmp_path / "dead") == expected

    unused = outputs.PlotProcess.start()
    assert unused is not None
    pid = unused.pid
    unused.close()  # as after a failed analysis: the process ends, reaped
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def test_a_failure_while_the_plot_process_draws_leaves_nothing(tmp_path: Path, monkeypatch) -> None:
    import os

    import partsim
    from partsim import outputs

    result = partsim.analyze(ORDERS, key="customer_id", partition_count=4, timestamp="ts")
    plotter = outputs.PlotProcess.start()
    if plotter is None:
        pytest.skip("plots are drawn in a forked process on Linux only")
    pid = plotter.pid

    def broken(*_args, **_kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(outputs, "_write_tables", broken)
    with pytest.raises(RuntimeError):
        outputs.write_outputs(result, tmp_path / "report", plotter=plotter)
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def test_a_failure_while_writing_leaves_no_half_written_report(tmp_path: Path, monkeypatch) -> None:
    import partsim
    from partsim import outputs, plot

    result = partsim.analyze(ORDERS, key="customer_id", partition_count=4)

    def broken(*_args, **_kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(plot, "save_plots", broken)
    with pytest.raises(RuntimeError):
        outputs.write_outputs(result, tmp_path / "report")
    assert list(tmp_path.iterdir()) == []
    # An existing report stays whole: the earlier files, nothing from the failed run.
    monkeypatch.undo()
    outputs.write_outputs(result, tmp_path / "report")
    before = {p.name: p.read_bytes() for p in (tmp_path / "report").iterdir()}
    monkeypatch.setattr(plot, "save_plots", broken)
    with pytest.raises(RuntimeError):
        outputs.write_outputs(result, tmp_path / "report")
    assert {p.name: p.read_bytes() for p in (tmp_path / "report").iterdir()} == before
