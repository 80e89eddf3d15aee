"""What the outputs say agrees with itself: the rates have one name each in the printed
summary, summary.json, report.html and the heatmap; bytes follow one rule in every command,
stated as ``size_source``; ratios are written with ×; and the small things of the first hour
(a bare ``partsim``, ``verify`` without -p, the kcat format, the hot-key labels)."""

from __future__ import annotations

import json
import re
import types
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import partsim
from partsim.plot import figure, plot_heatmap, plot_hot_keys
from partsim.style import RATE_NAMES, rate_text, ratio_text
from tests.child import one_error, run

ROOT = Path(__file__).resolve().parents[1]
ORDERS = ROOT / "sample_data" / "orders.csv"
KCAT = ROOT / "sample_data" / "orders.kcat"


def test_the_rates_have_one_name_everywhere(tmp_path: Path) -> None:
    out = tmp_path / "report"
    done = run("analyze", str(ORDERS), "--key", "customer_id", "-p", "12", "--timestamp", "ts",
               "--out", str(out))  # fmt: skip
    assert done.returncode == 0, done.stderr
    stats = json.loads((out / "summary.json").read_text())["windows"]
    assert set(RATE_NAMES) <= set(stats) and "mean_rate" not in stats
    # the independent arithmetic: 18,000 events over the windows' span
    span = stats["windows"] * stats["window_seconds"]
    assert stats["topic_rate"] == pytest.approx(18_000 / span)
    assert stats["mean_partition_rate"] == pytest.approx(stats["topic_rate"] / 12)
    assert stats["peak_to_mean_partition_rate"] == pytest.approx(
        stats["peak_partition_rate"] / stats["mean_partition_rate"]
    )
    windows = pd.read_csv(out / "windows.csv")
    assert stats["peak_partition_rate"] == pytest.approx(windows["messages_per_second"].max())
    result = partsim.analyze(ORDERS, key="customer_id", partition_count=12, timestamp="ts")
    title = figure(plot_heatmap, result).axes[0].get_title()
    page = (out / "report.html").read_text()
    texts = {"printed summary": done.stdout, "report.html": page, "heatmap title": title}
    peak, mean = RATE_NAMES["peak_partition_rate"], RATE_NAMES["mean_partition_rate"]
    ratio = ratio_text(stats["peak_to_mean_partition_rate"])
    for where, text in texts.items():
        text = " ".join(re.sub(r"<[^>]+>", " ", text).split())  # tags and line breaks out
        assert f"{peak} {rate_text(stats['peak_partition_rate'])}".lower() in text.lower(), where
        assert f"{ratio} the {mean}" in text, where
        assert rate_text(stats["mean_partition_rate"]) in text, where
        assert "mean rate" not in text.replace(f"{mean}", ""), where
    for where, text in (("printed summary", done.stdout), ("report.html", page)):
        topic = f"{RATE_NAMES['topic_rate']}"
        assert topic in text and rate_text(stats["topic_rate"]) in text, where


RATIO_WITH_X = re.compile(r"\d(?:\.\d+)?x\b")


def test_ratios_are_written_with_the_multiplication_sign() -> None:
    runs = [
        ["analyze", str(ORDERS), "--key", "customer_id", "-p", "12", "--timestamp", "ts"],
        ["sweep", str(ORDERS), "-p", "6,12", "--design", "c=customer_id"],
        ["whatif", str(ORDERS), "--key", "customer_id", "-p", "12", "--salt", "3"],
        ["simulate", str(ORDERS), "--key", "customer_id", "-p", "12", "--timestamp", "ts",
         "--consumer-capacity", "5", "--scale", "1.5"],
    ]  # fmt: skip
    for args in runs:
        done = run(*args)
        assert done.returncode == 0, done.stderr
        assert not RATIO_WITH_X.search(done.stdout), (args[0], RATIO_WITH_X.search(done.stdout))
    assert "1.5× the sample" in done.stdout


def _summaries(*extra: str, source: Path = ORDERS, key: str = "customer_id") -> dict:
    runs = {
        "analyze": ["analyze", "--key", key, "-p", "6"],
        "sweep": ["sweep", "-p", "6", "--design", f"k={key}"],
        "whatif": ["whatif", "--key", key, "--from-partitions", "6", "--to-partitions", "7"],
        "simulate": ["simulate", "--key", key, "-p", "6", "--timestamp",
                     "ts" if source == ORDERS else "timestamp", "--consumer-capacity", "5"],
    }  # fmt: skip
    out = {}
    for command, args in runs.items():
        done = run(args[0], str(source), *args[1:], *extra)
        assert done.returncode == 0, (command, done.stderr)
        printed = run(args[0], str(source), *args[1:], *extra[:-1] if extra else ())
        out[command] = (json.loads(done.stdout), printed.stdout)
    return out


@pytest.mark.parametrize(
    ("extra", "source", "size_source"),
    [
        ((), ORDERS, "none (1 per event)"),
        (("--size", "size_bytes"), ORDERS, "column size_bytes"),
        ((), KCAT, "key + value_size"),
    ],
    ids=["no-size", "size-column", "kcat"],
)
def test_one_rule_for_bytes_in_every_command(extra, source, size_source) -> None:
    key = "customer_id" if source == ORDERS else "key"
    summaries = _summaries(*extra, "--json", source=source, key=key)
    for command, (summary, printed) in summaries.items():
        assert summary["size_source"] == size_source, command
        assert f"bytes: {size_source}" in printed, command
    analyzed = summaries["analyze"][0]
    if size_source.startswith("none"):
        assert analyzed["bytes"] == analyzed["events"]  # one byte per event
    simulated = summaries["simulate"][0]
    # The simulation's bytes follow the same rule as analyze's, keyless records included.
    run_api = partsim.simulate(source, key=key, partition_count=6, consumer_capacity=5,
                               timestamp="ts" if source == ORDERS else "timestamp",
                               size=extra[1] if extra else None)  # fmt: skip
    total_bytes = float((run_api.rates["bytes_per_second"] * simulated["step_seconds"]).sum())
    assert total_bytes == pytest.approx(analyzed["bytes"])
    # Scaled, keyless records take another path (spread evenly over each step's partitions):
    # the same rule holds there, times the factor.
    scaled = partsim.simulate(source, key=key, partition_count=6, consumer_capacity=5, scale=3,
                              timestamp="ts" if source == ORDERS else "timestamp",
                              size=extra[1] if extra else None)  # fmt: skip
    step = scaled.summary["step_seconds"]
    assert float((scaled.rates["bytes_per_second"] * step).sum()) == pytest.approx(
        3 * analyzed["bytes"]
    )
    assert float((scaled.rates["messages_per_second"] * step).sum()) == pytest.approx(
        3 * analyzed["events"]
    )


def test_a_byte_rate_without_sizes_is_an_error() -> None:
    done = run("simulate", str(ORDERS), "--key", "customer_id", "-p", "6", "--timestamp", "ts",
               "--consumer-capacity", "5MB/s")  # fmt: skip
    one_error(done, 2, "--consumer-capacity is in bytes, but the events have no sizes",
              "--size")  # fmt: skip
    done = run("sweep", str(ORDERS), "-p", "6", "--design", "c=customer_id", "--timestamp", "ts",
               "--partition-capacity", "1MB/s")  # fmt: skip
    one_error(done, 2, "--partition-capacity is in bytes, but the events have no sizes")
    done = run("simulate", str(ORDERS), "--key", "customer_id", "-p", "6", "--timestamp", "ts",
               "--consumer-capacity", "5MB/s", "--size", "size_bytes")  # fmt: skip
    assert done.returncode == 0, done.stderr


def test_a_bare_partsim_shows_the_help() -> None:
    done = run()
    assert done.returncode == 0 and done.stderr == ""
    assert done.stdout.startswith("Usage: partsim") and "Commands:" in done.stdout
    assert run("--help").stdout == done.stdout


def test_verify_without_partitions_names_the_option_not_a_parameter(tmp_path: Path) -> None:
    dump = tmp_path / "dump.csv"
    dump.write_text("key,partition\na,0\nb,1\n")
    line = one_error(run("verify", str(dump)), 2, "give it with -p/--partitions")
    assert "partition_count" not in line and "=)" not in line


def test_the_kcat_format_is_the_same_in_the_help_and_the_readme() -> None:
    readme = (ROOT / "README.md").read_text()
    command = re.search(r"kcat -C -t TOPIC (-e )?-f '([^']+)'", readme)
    assert command and command.group(1), "the README's kcat line has -e"
    shown = " ".join(run("analyze", "--help").stdout.split())
    assert f"kcat -C -t TOPIC -e -f '{command.group(2)}'" in shown


def test_the_readme_says_how_to_get_kcat_next_to_the_test_command() -> None:
    """Without kcat the README's test command skips the kcat tests: the paragraph just above
    that command says how to install it, and .ci/run installs it where it is missing."""
    readme = (ROOT / "README.md").read_text()
    before, command, _ = readme.partition("pip install -e '.[test]' && python -m pytest")
    assert command, "the README's test command"
    paragraph = before.rsplit("```bash", 1)[0].rstrip().rsplit("\n\n", 1)[-1]
    assert "kcat" in paragraph and "apt-get install kcat" in paragraph, paragraph
    assert "brew install kcat" in paragraph, paragraph
    assert re.search(r"missing\+=\(kcat\)", (ROOT / ".ci" / "run").read_text())


def _hot(shares: list[float], partition_count: int):
    frame = pd.DataFrame({
        "key": [f"key-{i}" for i in range(len(shares))],
        "count": np.round(np.array(shares) * 1e6).astype(int),
        "share": shares,
        "partition": [i % partition_count for i in range(len(shares))],
    })  # fmt: skip
    return types.SimpleNamespace(hot_keys=frame, summary={"partition_count": partition_count})


@pytest.mark.parametrize("partition_count", [2, 3, 5, 12, 24, 48])
@pytest.mark.parametrize("below", [0.0001, 0.002, 0.01, 0.05])
def test_hot_key_labels_never_cross_the_fair_share_line(partition_count, below) -> None:
    """What was drawn: every bar label's box against the fair-share line's x position."""
    fair = 1 / partition_count
    shares = sorted([fair * 1.6, max(fair - below, fair / 10), fair * 0.9, fair - below / 3,
                     fair * 0.5, fair * 0.1], reverse=True)  # fmt: skip
    result = _hot([min(s, 1.0) for s in shares], partition_count)
    fig = figure(plot_hot_keys, result, size=(8, 3.5))
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    ax = fig.axes[0]
    line = next(line for line in ax.get_lines() if line.get_linestyle() == "--")
    line_x = ax.transData.transform((line.get_xdata()[0], 0))[0]
    assert line.get_xdata()[0] == pytest.approx(fair)
    labels = [text for text in ax.texts if text.get_text().startswith("p")]
    assert len(labels) == len(shares)
    right = ax.get_window_extent(renderer).x1
    for text in labels:
        box = text.get_window_extent(renderer)
        assert not box.x0 - 1 < line_x < box.x1 + 1, (text.get_text(), box, line_x)
        assert box.x1 <= right + 1, (text.get_text(), box.x1, right)  # inside the axes
