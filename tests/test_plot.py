"""Plots: what was drawn (bars, lines, bands, labels, titles), never pixels."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from partsim.analysis import finish
from partsim.errors import UsageError
from partsim.pipeline import analyze_batches, make_plan
from partsim.plot import (
    KEY_WIDTH,
    figure,
    plot_heatmap,
    plot_hot_keys,
    plot_load,
    plot_lorenz,
    png_bytes,
    save_plots,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
ROOT = Path(__file__).resolve().parents[1]


def analyzed(events: pd.DataFrame | pa.Table, **options):
    """The AnalysisResult of ``events`` (``options`` as for ``make_plan``)."""
    table = events if isinstance(events, pa.Table) else pa.Table.from_pandas(events)
    plan = make_plan(**options)
    return finish(analyze_batches(table.to_batches(max_chunksize=4_000), plan), plan)


def zipf_events(count: int = 20_000) -> pd.DataFrame:
    """Customer ids with a Zipf skew, a size and a timestamp every 50 ms."""
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "customer_id": [f"C{x:05d}" for x in rng.zipf(1.3, count) % 3000],
            "size": rng.integers(100, 2000, count).astype(str),
            "ts": pd.date_range("2026-11-27", periods=count, freq="50ms").strftime(
                "%Y-%m-%dT%H:%M:%S.%fZ"
            ),
        }
    )


@pytest.fixture(scope="module")
def result():
    return analyzed(
        zipf_events(), key="customer_id", partition_count=12, size="size", timestamp="ts"
    )


def _y_extent(patch) -> tuple[float, float]:
    """A patch's lowest and highest y in data units (Rectangle or Polygon alike)."""
    ys = patch.get_patch_transform().transform(patch.get_path().vertices)[:, 1]
    return float(ys.min()), float(ys.max())


def _band(ax):
    return next(p for p in ax.patches if "random placement" in str(p.get_label()))


def _mean_line(ax):
    return next(line for line in ax.lines if str(line.get_label()).startswith("mean"))


# ---------------------------------------------------------------------------- load
def test_load_draws_one_bar_per_partition_with_its_messages(result) -> None:
    ax = plot_load(result)
    bars = ax.containers[0]
    assert len(bars) == result.summary["partition_count"] == 12
    np.testing.assert_array_equal(
        [bar.get_height() for bar in bars], result.partitions["messages"].to_numpy()
    )
    hottest = result.summary["hottest_partition"]
    colors = {tuple(bar.get_facecolor()) for i, bar in enumerate(bars) if i != hottest}
    assert len(colors) == 1 and tuple(bars[hottest].get_facecolor()) not in colors
    assert ax.get_xlabel() == "partition"
    assert "messages" in ax.get_ylabel()
    assert f"Partition {hottest} carries {result.summary['max_mean_ratio']:.2f}×" in ax.get_title()
    noise = result.summary["uniform_placement"]
    assert f"{noise['p05']:.2f}–{noise['p95']:.2f}×" in ax.get_title()
    assert ax.get_legend() is not None


def test_load_mean_line_and_uniform_band(result) -> None:
    ax = plot_load(result)
    mean = result.partitions["messages"].mean()
    np.testing.assert_allclose(_mean_line(ax).get_ydata(), [mean, mean])
    noise = result.summary["uniform_placement"]
    np.testing.assert_allclose(
        _y_extent(_band(ax)), (noise["partition_load_p05"], noise["partition_load_p95"])
    )
    hot_note = [t.get_text() for t in ax.texts if "top key" in t.get_text()]
    assert hot_note and "C00001" in hot_note[0]


def test_load_in_bytes_scales_bars_band_and_names_the_unit(result) -> None:
    ax = plot_load(result, metric="bytes")
    frame = result.partitions
    assert "MB" in ax.get_ylabel() and "bytes" in ax.get_ylabel()
    np.testing.assert_allclose([bar.get_height() for bar in ax.containers[0]], frame["bytes"] / 1e6)
    per_message = frame["bytes"].sum() / frame["messages"].sum() / 1e6
    noise = result.summary["uniform_placement"]
    np.testing.assert_allclose(
        _y_extent(_band(ax)),
        (noise["partition_load_p05"] * per_message, noise["partition_load_p95"] * per_message),
    )
    np.testing.assert_allclose(_mean_line(ax).get_ydata()[0], frame["bytes"].mean() / 1e6)
    assert f"{result.summary['max_mean_ratio_bytes']:.2f}× the mean bytes" in ax.get_title()


def test_load_rejects_an_unknown_metric(result) -> None:
    with pytest.raises(UsageError, match="metric must be one of messages, bytes; got 'rows'"):
        plot_load(result, metric="rows")


@pytest.mark.parametrize("partition_count", [1, 1000])
def test_load_with_one_or_a_thousand_partitions(partition_count: int) -> None:
    events = zipf_events(3_000)
    small = analyzed(events, key="customer_id", partition_count=partition_count)
    ax = plot_load(small)
    assert len(ax.containers[0]) == partition_count
    assert sum(bar.get_height() for bar in ax.containers[0]) == 3_000
    labels = [t for t in ax.get_xticks() if -0.5 <= t <= partition_count - 0.5]
    assert 1 <= len(labels) <= 12  # no per-bar tick labels for many partitions
    if partition_count == 1:
        assert "One partition" in ax.get_title()
    assert png_bytes(ax.figure).startswith(PNG_SIGNATURE)


def test_plots_draw_on_the_axes_they_are_given(result) -> None:
    fig = figure(plot_load, result)
    ax = fig.axes[0]
    assert plot_lorenz(result, ax=ax) is ax


# --------------------------------------------------------------------------- lorenz
def test_lorenz_curve_runs_from_nothing_to_everything(result) -> None:
    ax = plot_lorenz(result)
    curve = next(line for line in ax.lines if "partitions" in str(line.get_label()))
    x, y = curve.get_xdata(), curve.get_ydata()
    assert len(x) == 13 and (x[0], y[0]) == (0, 0)
    np.testing.assert_allclose((x[-1], y[-1]), (1, 1))
    loads = np.sort(result.partitions["messages"].to_numpy())
    np.testing.assert_allclose(y[1:], np.cumsum(loads) / loads.sum())
    assert np.all(y <= x + 1e-12)  # below the line of equal load
    diagonal = next(line for line in ax.lines if line.get_label() == "equal load")
    np.testing.assert_allclose(diagonal.get_xydata(), [[0, 0], [1, 1]])
    assert f"Gini {result.summary['gini']:.2f}" in ax.get_title()
    assert "%" in ax.get_xlabel() and "%" in ax.get_ylabel()


# ------------------------------------------------------------------------- hot keys
def test_hot_keys_bars_are_shares_labelled_with_partitions(result) -> None:
    ax = plot_hot_keys(result, top=10)
    hot = result.hot_keys.head(10)
    bars = ax.containers[0]
    np.testing.assert_allclose([bar.get_width() for bar in bars], hot["share"])
    labels = [label.get_text() for label in ax.get_yticklabels()]
    assert labels == list(hot["key"])
    notes = [t.get_text() for t in ax.texts if t.get_text().startswith("p")]
    assert [note.split()[0] for note in notes] == [f"p{p}" for p in hot["partition"]]
    fair = next(line for line in ax.lines if line.get_linestyle() == "--")
    np.testing.assert_allclose(fair.get_xdata(), [1 / 12, 1 / 12])
    assert "%" in ax.get_xlabel()
    top = result.summary["top_keys"][0]["share"]
    assert f"{top:.1%}" in ax.get_title()


def test_keys_are_drawn_as_text_never_as_math() -> None:
    keys = ["$x$", "a_b^c", r"\$\alpha$", "<script>alert(1)</script>", "k" * 100]
    events = pd.DataFrame({"key": [k for i, k in enumerate(keys) for _ in range(10 - i)]})
    ax = plot_hot_keys(analyzed(events, key="key", partition_count=3))
    fig = ax.figure
    fig.canvas.draw()
    labels = ax.get_yticklabels()
    assert len(labels) == len(keys)
    for key, label in zip(keys, labels, strict=True):
        shown = key if len(key) <= KEY_WIDTH else key[: KEY_WIDTH - 1] + "…"
        assert not label.get_usetex()
        # Drawn exactly as the literal text would be, not as mathtext.
        literal = ax.text(0, 0, shown, parse_math=False, fontproperties=label.get_fontproperties())
        fig.canvas.draw()
        width = label.get_window_extent().width
        assert width == pytest.approx(literal.get_window_extent().width)
        if key == "$x$":
            math = ax.text(0, 0, key, fontproperties=label.get_fontproperties())
            fig.canvas.draw()
            assert width != pytest.approx(math.get_window_extent().width)


# -------------------------------------------------------------------------- heatmap
def test_heatmap_is_partitions_by_windows_in_messages_per_second(result) -> None:
    ax = plot_heatmap(result)
    windows = result.summary["windows"]["windows"]
    image = ax.images[0]
    assert image.get_array().shape == (12, windows)
    wide = result.windows.pivot(
        index="partition", columns="window_start", values="messages_per_second"
    )
    np.testing.assert_allclose(image.get_array(), wide.to_numpy())
    colorbar = image.colorbar
    assert colorbar is not None and colorbar.ax.get_ylabel() == "messages/s"
    assert ax.get_ylabel() == "partition" and "UTC" in ax.get_xlabel()
    assert f"partition {result.summary['windows']['peak_partition']}" in ax.get_title()


def test_heatmap_needs_a_timestamp() -> None:
    plain = analyzed(zipf_events(500), key="customer_id", partition_count=4)
    with pytest.raises(UsageError, match="needs a timestamp"):
        plot_heatmap(plain)


# ---------------------------------------------------------------------------- files
def test_figure_renders_png_bytes(result) -> None:
    fig = figure(plot_hot_keys, result, size=(6, 3), top=5)
    assert len(fig.axes[0].containers[0]) == 5
    assert png_bytes(fig).startswith(PNG_SIGNATURE)


def test_save_plots_skips_the_heatmap_without_timestamps(tmp_path) -> None:
    plain = analyzed(zipf_events(500), key="customer_id", partition_count=4)
    written = save_plots(plain, tmp_path)
    assert sorted(written) == ["hot_keys", "load", "lorenz"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hot_keys.png", "load.png", "lorenz.png"]


def test_save_plots_writes_pngs_without_pyplot(tmp_path) -> None:
    code = textwrap.dedent(
        f"""
        import sys
        from tests.test_plot import analyzed, zipf_events
        from partsim.plot import save_plots
        result = analyzed(zipf_events(2_000), key="customer_id", partition_count=6,
                          timestamp="ts")
        written = save_plots(result, {str(tmp_path)!r})
        for name, path in sorted(written.items()):
            print(name, path.name, open(path, "rb").read(8) == {PNG_SIGNATURE!r})
        print("pyplot", "matplotlib.pyplot" in sys.modules)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert done.stdout.split("\n") == [
        "heatmap heatmap.png True",
        "hot_keys hot_keys.png True",
        "load load.png True",
        "lorenz lorenz.png True",
        "pyplot False",
        "",
    ]
