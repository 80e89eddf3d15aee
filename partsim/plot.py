"""Plots of an :class:`~partsim.analysis.AnalysisResult`, a :class:`~partsim.compare.SweepResult`
and a :class:`~partsim.changes.WhatIfResult`, in the manner of seaborn's axes-level
functions: each takes the result first, then keyword-only options and ``ax=None``, draws on
that Axes (or on a new figure) and returns the Axes.

Everything here uses :class:`matplotlib.figure.Figure` with the Agg canvas and never touches
``matplotlib.pyplot`` or ``rcParams``, so plotting from a library, a server or a test leaves no
global state behind. Record keys are user data: they are always drawn as plain text, never
as mathtext or TeX.

>>> import pyarrow as pa
>>> from partsim.analysis import analyze
>>> events = pa.table({"customer": ["a", "b", "a", "c"]})
>>> result = analyze(events, key="customer", partition_count=3)
>>> ax = plot_load(result)
>>> len(ax.containers[0]), ax.get_xlabel()
(3, 'partition')
"""

from __future__ import annotations

import io
import math
import textwrap
import warnings
from collections.abc import Callable, Collection
from pathlib import Path

import matplotlib.dates as mdates
import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import FuncNorm, Normalize
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle
from matplotlib.ticker import FuncFormatter, MaxNLocator, NullLocator, PercentFormatter
from matplotlib.transforms import offset_copy
from PIL import Image

from partsim.errors import UsageError, invalid_choice
from partsim.style import PALETTE, RATE_NAMES, byte_unit, rate_text, ratio_text

__all__ = [
    "PALETTE",
    "byte_unit",
    "figure",
    "plot_broker_load",
    "plot_consumer_load",
    "plot_heatmap",
    "plot_hot_keys",
    "plot_lag",
    "plot_load",
    "plot_lorenz",
    "plot_names",
    "plot_salting",
    "plot_sweep_heatmap",
    "plot_sweep_lines",
    "plot_whatif_partitions",
    "png_bytes",
    "save_plots",
    "save_simulation_plots",
    "save_sweep_plots",
    "save_whatif_plots",
]

#: The colour map of the heatmap: perceptually uniform and readable with colour blindness.
HEATMAP_CMAP = "cividis"
DPI = 110
#: Partitions up to which every partition gets its own tick label.
LABEL_EVERY_PARTITION = 32
#: Display width of a key in a plot; longer keys are cut with an ellipsis.
KEY_WIDTH = 28


# --------------------------------------------------------------------------- helpers
def _literal(text: str) -> str:
    """``text`` escaped so that matplotlib draws it as is (no mathtext between ``$`` signs)."""
    return text.replace("$", r"\$")


def _key_label(key: object, width: int = KEY_WIDTH) -> str:
    """A record key as a short, printable, one-line label (escaped for matplotlib)."""
    text = "" if key is None else str(key)
    if text == "":
        return '""'
    if not text.isprintable():
        text = text.encode("unicode_escape").decode("ascii")
    if len(text) > width:
        text = text[: width - 1] + "…"
    return _literal(text)


def _plain_text(*texts) -> None:
    """Never render these Text artists with TeX, whatever the user's rcParams say."""
    for text in texts:
        text.set_usetex(False)


def _new_axes(size: tuple[float, float] = (8, 4.5)) -> Axes:
    fig = Figure(figsize=size, dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig.add_subplot()


def _partition_ticks(ax: Axes, partition_count: int) -> None:
    ax.set_xlim(-0.5, partition_count - 0.5)
    if partition_count <= LABEL_EVERY_PARTITION:
        ax.set_xticks(np.arange(partition_count))
    else:
        ax.xaxis.set_major_locator(MaxNLocator(nbins=10, integer=True))
    ax.tick_params(axis="x", length=0 if partition_count > LABEL_EVERY_PARTITION else 3.5)


def _thousands(value: float, _position: object = None) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 or value == int(value) else f"{value:,.2g}"


# ------------------------------------------------------------------------------ plots
def plot_load(result, *, metric: str = "messages", ax: Axes | None = None) -> Axes:
    """One bar per partition: its messages (or bytes), the mean, and what random placement
    of the same keys gives (the 5th-95th percentile of a partition's load, shaded).

    The hottest partition is highlighted and labelled with its ratio to the mean and its
    top key; the title states the finding.
    """
    if metric not in ("messages", "bytes"):
        raise UsageError(f"metric must be one of messages, bytes; got {metric!r}")
    ax = _new_axes() if ax is None else ax
    summary = result.summary
    frame = result.partitions
    partition_count = len(frame)
    noise = summary["uniform_placement"]
    messages = frame["messages"].to_numpy(dtype=float)
    if metric == "messages":
        divisor, unit = 1.0, "messages"
        loads = messages
        # Band limits are in messages.
        band_scale = 1.0
        ylabel = "messages per partition"
    else:
        raw = frame["bytes"].to_numpy(dtype=float)
        divisor, unit = byte_unit(raw.max() if len(raw) else 0.0)
        loads = raw / divisor
        band_scale = (raw.sum() / messages.sum() if messages.sum() else 0.0) / divisor
        ylabel = f"bytes per partition ({unit})"
    hottest = int(np.argmax(loads)) if partition_count else 0
    mean = float(loads.mean()) if partition_count else 0.0
    ratio = loads[hottest] / mean if mean > 0 else 0.0

    many = partition_count > LABEL_EVERY_PARTITION
    colors = [PALETTE["load"]] * partition_count
    if partition_count > 1:
        colors[hottest] = PALETTE["hot"]
    ax.bar(
        np.arange(partition_count),
        loads,
        width=1.0 if many else 0.8,
        color=colors,
        # Many partitions make bars narrower than a pixel: an edge keeps each one visible.
        edgecolor=colors if many else "none",
        linewidth=0.8 if many else 0,
        zorder=2,
        label=f"{unit} per partition",
    )
    low, high = noise["partition_load_p05"] * band_scale, noise["partition_load_p95"] * band_scale
    band = ax.axhspan(
        low, high, color=PALETTE["band"], alpha=0.2, linewidth=0, zorder=1,
        label="random placement, p05–p95 per partition",
    )  # fmt: skip
    mean_label = f"mean {_thousands(mean)}" + ("" if unit == "messages" else f" {unit}")
    mean_line = ax.axhline(
        mean, color=PALETTE["reference"], linestyle="--", linewidth=1.2, zorder=3,
        label=mean_label,
    )  # fmt: skip

    # The hottest bar: its ratio to the mean and its top key.
    if partition_count > 1:
        note = f"partition {hottest}: {ratio:.2f}× mean"
        top_key = frame["top_key"].iloc[hottest] if "top_key" in frame else None
        if isinstance(top_key, str):  # None or NaN when the partition has no keyed events
            share = frame["top_key_share"].iloc[hottest]
            note += f"\ntop key {_key_label(top_key, 20)} = {share:.0%} of it"
        right_half = hottest > (partition_count - 1) / 2
        annotation = ax.annotate(
            note,
            xy=(hottest, loads[hottest]),
            xytext=(-4 if right_half else 4, 4),
            textcoords="offset points",
            ha="right" if right_half else "left",
            va="bottom",
            fontsize=8,
            color=PALETTE["hot"],
            zorder=4,
        )
        _plain_text(annotation)
    top = max(float(loads.max()) if partition_count else 0.0, high)
    ax.set_ylim(0, top * 1.18 if top > 0 else 1)

    _partition_ticks(ax, partition_count)
    ax.set_xlabel("partition")
    ax.set_ylabel(ylabel)
    ax.yaxis.set_major_formatter(FuncFormatter(_thousands))
    ax.grid(axis="y", color="#dddddd", linewidth=0.6, zorder=0)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)

    what = "" if metric == "messages" else " bytes"
    if partition_count == 1:
        title = f"One partition carries all {summary['events']:,} events: nothing to balance"
    else:
        title = (
            f"Partition {hottest} carries {ratio:.2f}× the mean{what} "
            f"(random placement: {noise['p05']:.2f}–{noise['p95']:.2f}×)"
        )
        best = summary.get("best_possible_max_mean_ratio", 1.0)
        if best > 1.05:
            title += f"\nno placement of these keys does better than {best:.2f}×"
    ax.set_title(title, fontsize=10.5)
    handles = [Patch(color=PALETTE["load"], label=f"{unit} per partition")]
    if partition_count > 1:
        handles.append(Patch(color=PALETTE["hot"], label=f"hottest: partition {hottest}"))
    handles += [mean_line, band]
    ax.legend(
        handles=handles, fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.13),
        ncols=len(handles), frameon=False,
    )  # fmt: skip
    return ax


def plot_lorenz(result, *, ax: Axes | None = None) -> Axes:
    """The Lorenz curve of per-partition message load against the line of equal load."""
    ax = _new_axes((5.5, 5)) if ax is None else ax
    loads = np.sort(result.partitions["messages"].to_numpy(dtype=float))
    partition_count = len(loads)
    total = loads.sum()
    x = np.linspace(0, 1, partition_count + 1)
    y = np.concatenate([[0.0], np.cumsum(loads) / total]) if total > 0 else x.copy()
    ax.fill_between(x, y, x, color=PALETTE["fill"], alpha=0.25, linewidth=0, label="inequality")
    ax.plot([0, 1], [0, 1], color=PALETTE["reference"], linestyle="--", linewidth=1,
            label="equal load")  # fmt: skip
    marker = "o" if partition_count <= LABEL_EVERY_PARTITION else None
    ax.plot(x, y, color=PALETTE["load"], linewidth=2, marker=marker, markersize=3.5,
            label="partitions, least loaded first")  # fmt: skip
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_aspect("equal")
    ax.xaxis.set_major_formatter(PercentFormatter(1.0))
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_xlabel("cumulative share of partitions (%)")
    ax.set_ylabel("cumulative share of events (%)")
    ax.grid(color="#dddddd", linewidth=0.6)
    ax.set_axisbelow(True)
    gini = result.summary.get("gini", 0.0)
    if partition_count == 1:
        title = f"Gini {gini:.2f}: one partition carries every event"
    else:
        busiest = max(1, math.ceil(partition_count / 4))
        share = loads[-busiest:].sum() / total if total > 0 else 0.0
        title = (
            f"Gini {gini:.2f}: the busiest {busiest} of {partition_count} partitions "
            f"carry {share:.0%} of events"
        )
    ax.set_title(title, fontsize=10.5)
    ax.legend(fontsize=8, loc="upper left")
    return ax


def plot_hot_keys(result, *, top: int = 20, ax: Axes | None = None) -> Axes:
    """The top keys' shares of all events, each labelled with the partition it lands on.

    Keys that alone exceed a partition's fair share (1/N) are highlighted: no partitioner
    can spread such a key, only a different key design can.
    """
    frame = result.hot_keys.head(top)
    rows = len(frame)
    ax = _new_axes((8, max(2.5, 1.3 + 0.24 * rows))) if ax is None else ax
    partition_count = result.summary["partition_count"]
    fair = 1 / partition_count
    shares = frame["share"].to_numpy(dtype=float)
    positions = np.arange(rows)
    colors = [PALETTE["hot"] if share > fair else PALETTE["load"] for share in shares]
    ax.barh(positions, shares, height=0.7, color=colors, linewidth=0, zorder=2)
    ax.set_yticks(positions, [_key_label(key) for key in frame["key"]], fontsize=8)
    _plain_text(*ax.get_yticklabels())
    ax.set_ylim(max(rows, 1) - 0.5, -0.5)  # the hottest key on top
    labels = [f"p{int(partition)}  {share:.1%}" for share, partition in
              zip(shares, frame["partition"], strict=True)]  # fmt: skip
    starts, right = _label_starts(ax, shares, labels, fair)
    for position, start, label in zip(positions, starts, labels, strict=True):
        text = ax.annotate(
            label,
            xy=(start, position),
            xytext=(3, 0),
            textcoords="offset points",
            va="center",
            fontsize=HOT_KEY_LABEL_SIZE,
        )
        _plain_text(text)
    ax.axvline(fair, color=PALETTE["reference"], linestyle="--", linewidth=1.2, zorder=3)
    ax.set_xlim(0, right)
    ax.text(
        fair, 1.0, f" fair share 1/{partition_count} = {fair:.1%}",
        transform=ax.get_xaxis_transform(), va="bottom", ha="left", fontsize=8,
    )  # fmt: skip
    ax.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=None))
    ax.set_xlabel("share of all events (%)")
    ax.set_ylabel("record key")
    ax.grid(axis="x", color="#dddddd", linewidth=0.6, zorder=0)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    if len(result.hot_keys) == 0:
        ax.text(0.5, 0.5, "no keyed events", transform=ax.transAxes, ha="center", va="center")
        title = "No keyed events: every record took the keyless path"
    elif rows == 0:
        title = "Hot keys (none asked for)"
    elif shares[0] > fair and partition_count > 1:
        title = (
            f"The top key alone is {shares[0]:.1%} of events, "
            f"{shares[0] / fair:.2f}× a partition's fair share"
        )
    else:
        title = f"The top key is {shares[0]:.1%} of events, within a partition's fair share"
    ax.set_title(title, fontsize=10.5, pad=16)
    return ax


#: The font size of the bar labels of :func:`plot_hot_keys`.
HOT_KEY_LABEL_SIZE = 7.5


def _label_starts(
    ax: Axes, shares: np.ndarray, labels: list[str], fair: float
) -> tuple[list[float], float]:
    """Where each hot-key bar's label starts (in shares), and the x axis' right end.

    A label starts at the end of its bar, unless it would then cross the fair-share line:
    then it starts just right of the line. Widths are estimated from the font size (a
    DejaVu Sans digit or letter is at most about 0.62 em wide) and the axes' width now,
    less a sixth for what the layout may still take.
    """
    width_points = ax.get_position().width * ax.figure.get_figwidth() * 72 * 5 / 6
    needed = [3 + 0.62 * HOT_KEY_LABEL_SIZE * len(label) + 2 for label in labels]  # points
    right = max(float(shares.max()) if len(shares) else 0.0, fair) * 1.22
    starts = list(map(float, shares))
    for _ in range(3):  # the x range depends on where the labels end, and back
        per_point = right / width_points
        starts = [
            fair + 2 * per_point
            if share < fair and share + points * per_point > fair - 2 * per_point
            else float(share)
            for share, points in zip(shares, needed, strict=True)
        ]
        ends = [start + points * per_point for start, points in zip(starts, needed, strict=True)]
        right = max(right, *ends) if ends else right
    return starts, right


def plot_heatmap(result, *, ax: Axes | None = None) -> Axes:
    """Messages per second of each partition (rows) in each time window (columns)."""
    if result.windows is None:
        raise UsageError(
            "the heatmap needs a timestamp: analyze with timestamp= (--timestamp COLUMN)"
        )
    ax = _new_axes() if ax is None else ax
    wide = result.windows.pivot(
        index="partition", columns="window_start", values="messages_per_second"
    ).sort_index()
    partition_count = result.summary["partition_count"]
    wide = wide.reindex(range(partition_count), fill_value=0.0)
    starts = wide.columns
    window = result.summary.get("windows", {}).get("window_seconds")
    if window is None:
        window = (starts[1] - starts[0]).total_seconds() if len(starts) > 1 else 60.0
    first = mdates.date2num(starts[0].tz_convert(None))
    last = mdates.date2num((starts[-1] + pd.Timedelta(seconds=window)).tz_convert(None))
    image = ax.imshow(
        wide.to_numpy(dtype=float),
        aspect="auto",
        origin="lower",
        # Downsampled (more partitions or windows than pixels) the cells are averaged.
        interpolation="antialiased",
        cmap=HEATMAP_CMAP,
        extent=(first, last, -0.5, partition_count - 0.5),
    )
    colorbar = ax.figure.colorbar(image, ax=ax, pad=0.02)
    colorbar.set_label("messages/s")
    locator = mdates.AutoDateLocator()
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    if partition_count <= LABEL_EVERY_PARTITION:
        ax.set_yticks(np.arange(partition_count))
        ax.tick_params(axis="y", labelsize=8 if partition_count > 16 else 10)
    else:
        ax.yaxis.set_major_locator(MaxNLocator(nbins=10, integer=True))
    ax.set_xlabel(f"window start (UTC, {window:g} s windows)")
    ax.set_ylabel("partition")
    stats = result.summary.get("windows")
    title = "Messages per second by partition and time window"
    if stats and stats.get("topic_rate", 0) > 0:
        peak_at = pd.Timestamp(stats["peak_partition_window_start"]).tz_convert("UTC")
        title = (
            f"{RATE_NAMES['peak_partition_rate'].capitalize()} "
            f"{rate_text(stats['peak_partition_rate'])} (partition {stats['peak_partition']}, "
            f"{peak_at:%H:%M} UTC),\n{ratio_text(stats['peak_to_mean_partition_rate'])} the "
            f"{RATE_NAMES['mean_partition_rate']} {rate_text(stats['mean_partition_rate'])}"
        )
    ax.set_title(title, fontsize=10.5)
    return ax


# ---------------------------------------------------------------------- figures, files
def figure(
    plot_fn: Callable[..., Axes], result, *, size: tuple[float, float] = (8, 4.5), **options
) -> Figure:
    """A new Agg-backed :class:`~matplotlib.figure.Figure` with ``plot_fn(result, **options)``."""
    fig = Figure(figsize=size, dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    plot_fn(result, ax=fig.add_subplot(), **options)
    return fig


def png_bytes(fig: Figure) -> bytes:
    """``fig`` (an Agg figure, see :func:`figure`) as PNG bytes.

    One draw, whose constrained layout runs inside it: ``savefig`` would first draw once
    more to lay the figure out, which took a sixth of the time, for the same pixels.
    zlib's fastest level: the heatmap's PNG is a quarter bigger, and encoded in a third
    less time."""
    canvas = fig.canvas
    if not isinstance(canvas, FigureCanvasAgg):
        canvas = FigureCanvasAgg(fig)
    dpi, fig.dpi = fig.dpi, DPI  # as savefig(dpi=DPI) would, for a figure made elsewhere
    try:
        with warnings.catch_warnings():
            # A key in a script the font lacks is drawn as boxes; that is no reason to warn.
            warnings.filterwarnings("ignore", message=r"Glyph \d+ .*missing from font")
            canvas.draw()
        image = Image.frombuffer("RGBA", canvas.get_width_height(), canvas.buffer_rgba(),
                                 "raw", "RGBA", 0, 1)  # fmt: skip
    finally:
        fig.dpi = dpi
    buffer = io.BytesIO()
    image.save(buffer, format="png", compress_level=1, dpi=(DPI, DPI))
    return buffer.getvalue()


def _write_plots(
    result, out_dir: str | Path, plots: dict[str, tuple[Callable[..., Axes], tuple[float, float]]]
) -> dict[str, Path]:
    """Write each ``name: (plot_fn, size)`` as ``out_dir/name.png``; free each figure after."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    for name, (plot_fn, size) in plots.items():
        fig = figure(plot_fn, result, size=size)
        path = out / f"{name}.png"
        path.write_bytes(png_bytes(fig))
        fig.clear()  # no pyplot registry holds it; clearing frees its artists now
        written[name] = path
    return written


def save_plots(
    result, out_dir: str | Path, *, only: Collection[str] | None = None
) -> dict[str, Path]:
    """Write ``load.png``, ``lorenz.png``, ``hot_keys.png`` and, with per-window data,
    ``heatmap.png`` into ``out_dir``; return each plot's name (``"load"``, ...) and path.

    ``only`` names the plots to draw (default: all of them), so that several processes can
    share the work."""
    plots = _analysis_plots(result)
    if only is not None:
        plots = {name: plot for name, plot in plots.items() if name in only}
    return _write_plots(result, out_dir, plots)


def _analysis_plots(result) -> dict[str, tuple[Callable[..., Axes], tuple[float, float]]]:
    rows = min(20, len(result.hot_keys))
    plots: dict[str, tuple[Callable[..., Axes], tuple[float, float]]] = {
        "load": (plot_load, (8, 4.5)),
        "lorenz": (plot_lorenz, (5.5, 5)),
        "hot_keys": (plot_hot_keys, (8, max(2.5, 1.3 + 0.24 * rows))),
    }
    if result.windows is not None:
        plots["heatmap"] = (plot_heatmap, (8, 4.5))
    return plots


def plot_names(result) -> list[str]:
    """The plots :func:`save_plots` draws for ``result``, the slowest to draw first."""
    slowest = ("heatmap", "hot_keys", "load", "lorenz")
    return sorted(_analysis_plots(result), key=slowest.index)


# ------------------------------------------------------------------- sweep and what-if
#: Colours of the key designs in sweep plots: Okabe & Ito's palette, black left out.
DESIGN_COLORS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442")
#: Line style and marker of each partitioner in sweep plots (dashes are the best-possible bound).
PARTITIONER_STYLES = (("-", "o"), (":", "s"), ("-.", "^"), ((0, (6, 1.5, 1, 1.5, 1, 1.5)), "D"))
#: The colour map of threshold metrics: blue within the target, red beyond it (colour-blind safe).
THRESHOLD_CMAP = "RdBu_r"
#: Sweep metrics that are max/mean ratios, coloured around ``--max-skew``.
RATIO_METRICS = ("max_mean_ratio", "max_mean_ratio_bytes", "best_possible_max_mean_ratio")
#: Sweep metrics that are fractions, annotated as percentages.
SHARE_METRICS = ("hottest_partition_share", "top_key_share", "ordering_preserved", "events_at_risk")
SWEEP_METRICS = {
    "max_mean_ratio": "max/mean messages per partition (×)",
    "max_mean_ratio_bytes": "max/mean bytes per partition (×)",
    "best_possible_max_mean_ratio": "best possible max/mean (×)",
    "cv": "coefficient of variation of partition load",
    "gini": "Gini coefficient of partition load",
    "hottest_partition_share": "hottest partition's share of events (%)",
    "top_key_share": "top key's share of events (%)",
    "ordering_preserved": "entities whose order is kept (%)",
    "events_at_risk": "events at risk of reordering (%)",
    "peak_partition_rate": "peak partition rate",
}


def _percent(share: float) -> str:
    """A share as a whole percentage, with one decimal where rounding would show 0% or 100%
    for a share that is neither.

    >>> _percent(0.084), _percent(0.9956), _percent(1.0)
    ('8%', '99.6%', '100%')
    """
    if 0 < share < 0.005 or 0.995 <= share < 1:
        return f"{share:.1%}"
    return f"{share:.0%}"


def _row_label(design: object, partitioner: object) -> str:
    return _literal(f"{design} · {partitioner}")


def _count_range(counts: list[int]) -> str:
    return (
        f"at {counts[0]} partitions"
        if len(counts) == 1
        else f"within {counts[0]}–{counts[-1]} partitions"
    )


def _rate_text(value: float, unit: str) -> str:
    """A rate as text: ``5,000 messages/s`` or ``5 MB/s``."""
    if unit.startswith("bytes"):
        divisor, name = byte_unit(value)
        return f"{value / divisor:,.3g} {name}/s"
    return f"{value:,.0f} {unit}"


def _sweep_target(summary: dict) -> str:
    """What a recommendation meets: ``max/mean ≤ 1.30`` (and the capacity, if given)."""
    target = f"max/mean ≤ {summary['max_skew']:.2f}"
    capacity = summary.get("partition_capacity")
    if capacity:
        target += f" and peak ≤ {_rate_text(capacity['value'], capacity['unit'])} per partition"
    return target


def _sweep_finding(result, width: int) -> tuple[str, int, int]:
    """The sweep's headline (broken before its partition count where it is wider than
    ``width`` characters), and how many of how many design · partitioner rows meet the
    target."""
    summary = result.summary
    recommended = result.recommendations[pd.notna(result.recommendations["partition_count"])]
    target = _sweep_target(summary)
    rows = len(result.recommendations)
    if not len(recommended):
        what, where = f"No design meets {target}", _count_range(summary["partition_counts"])
    else:
        best = recommended.sort_values(["partition_count", "max_mean_ratio"], kind="stable")
        best = best.iloc[0]
        what = f"{_row_label(best['design'], best['partitioner'])} first meets {target}"
        where = f"at {int(best['partition_count'])} partitions"
    headline = f"{what} {where}" if len(what) + len(where) < width else f"{what}\n{where}"
    return headline, len(recommended), rows


def _sweep_rows(table: pd.DataFrame) -> list[tuple[str, str]]:
    """The (design, partitioner) pairs in the order the sweep made them."""
    pairs = table[["design", "partitioner"]].drop_duplicates()
    return list(pairs.itertuples(index=False, name=None))


def _threshold_norm(values: np.ndarray, threshold: float, floor: float | None = None):
    """A norm that puts ``threshold`` at the middle of a diverging colour map: linear below
    it (down to ``floor`` or the least value), logarithmic above it (up to the greatest)."""
    finite = values[np.isfinite(values)]
    low = float(finite.min()) if len(finite) else threshold
    high = float(finite.max()) if len(finite) else threshold
    low = min(low, threshold * 0.95, floor if floor is not None else low)
    high = max(high, threshold * 1.25)
    below, above = threshold - low, math.log(high / threshold)

    def forward(value):
        value = np.asarray(value, dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            up = np.log(np.maximum(value, 1e-300) / threshold) / above
        return np.where(value <= threshold, (value - threshold) / below, up)

    def inverse(value):
        value = np.asarray(value, dtype=float)
        return np.where(value <= 0, threshold + value * below, threshold * np.exp(value * above))

    return FuncNorm((forward, inverse), vmin=low, vmax=high)


def _threshold_ticks(norm, threshold: float) -> list[float]:
    """Colour bar ticks for a threshold norm: its ends, the threshold and round values above."""
    low, high = norm.vmin, norm.vmax
    ticks = [low, threshold]
    # Round values on the log side, at most about seven, none closer than 25% to the last.
    spacing = max(1.25, (high / threshold) ** (1 / 7))
    decade = 10.0 ** math.floor(math.log10(threshold))
    while decade <= high:
        for step in (1, 1.5, 2, 3, 5):
            if ticks[-1] * spacing <= step * decade <= high:
                ticks.append(step * decade)
        decade *= 10
    if high >= ticks[-1] * spacing:
        ticks.append(high)  # the greatest value
    return ticks


def _below(ax: Axes, points: float):
    """Axes coordinates shifted down by ``points``: a legend anchored there clears the x tick
    labels and the x label whatever the height of the axes."""
    return offset_copy(ax.transAxes, fig=ax.figure, y=-points, units="points")


def _sweep_sizes(table: pd.DataFrame) -> tuple[tuple[float, float], tuple[float, float]]:
    """Figure sizes (inches) of the sweep heatmap and lines that fit their rows and legend."""
    rows = _sweep_rows(table)
    longest = max((len(f"{design} · {partitioner}") for design, partitioner in rows), default=10)
    heatmap = (
        min(18.0, max(8.0, 2.6 + 0.075 * longest + 0.8 * table["partition_count"].nunique())),
        min(24.0, max(3.2, 1.9 + 0.42 * len(rows))),
    )
    legend_rows = 1 + max(table["design"].nunique(), table["partitioner"].nunique(), 3)
    return heatmap, (10.0, max(5.0, 4.2 + 0.17 * legend_rows))


def _whatif_size(partitions: int) -> tuple[float, float]:
    """The figure size (inches) of the what-if bars: wider for more partitions."""
    return max(8.0, min(16.0, 0.45 * partitions)), 4.5


def _text_color(rgba) -> str:
    """Black or white, whichever reads better on ``rgba``."""
    red, green, blue = rgba[:3]
    return "black" if 0.2126 * red + 0.7152 * green + 0.0722 * blue > 0.45 else "white"


def plot_sweep_heatmap(result, *, metric: str = "max_mean_ratio", ax: Axes | None = None) -> Axes:
    """A :class:`~partsim.compare.SweepResult` as a grid: one row per design · partitioner, one
    column per partition count, each cell coloured by ``metric`` and annotated with its value.

    Max/mean ratios are coloured blue within ``--max-skew`` and red beyond it (the colour
    bar marks the target); the recommended cell of each row (the fewest partitions that meet
    the target) is outlined.
    """
    table = result.table
    available = [
        name for name in SWEEP_METRICS if name in table and table[name].notna().any()
    ]  # fmt: skip
    if metric not in available:
        raise invalid_choice("metric", metric, available)
    ax = _new_axes(_sweep_sizes(table)[0]) if ax is None else ax
    summary = result.summary
    rows = _sweep_rows(table)
    counts = sorted(int(count) for count in table["partition_count"].unique())
    wide = (
        table.set_index(["design", "partitioner", "partition_count"])[metric]
        .astype(float)
        .unstack("partition_count")
        .reindex(index=pd.MultiIndex.from_tuples(rows), columns=counts)
    )
    values = wide.to_numpy(dtype=float)
    capacity = summary.get("partition_capacity")
    if metric in RATIO_METRICS:
        threshold = float(summary["max_skew"])
        norm = _threshold_norm(values, threshold, floor=1.0)
        cmap = THRESHOLD_CMAP
    elif metric == "peak_partition_rate" and capacity:
        threshold = float(capacity["value"])
        norm = _threshold_norm(values, threshold, floor=0.0)
        cmap = THRESHOLD_CMAP
    else:
        threshold = None
        finite = values[np.isfinite(values)]
        norm = Normalize(*(finite.min(), finite.max()) if len(finite) else (0, 1))
        cmap = HEATMAP_CMAP
    cmap = colormaps[cmap].with_extremes(bad="#eeeeee")  # grey where a value is missing
    image = ax.imshow(values, aspect="auto", cmap=cmap, norm=norm, interpolation="nearest")

    # Values as text; percentages for shares, a rate unit for rates.
    divisor, unit = 1.0, ""
    if metric == "peak_partition_rate":
        unit = capacity["unit"] if capacity else "messages/s"
        if unit.startswith("bytes"):
            divisor, name = byte_unit(float(np.nanmax(values)))
            unit = f"{name}/s"

    def cell_text(value: float) -> str:
        if not np.isfinite(value):
            return "–"
        if metric in SHARE_METRICS:
            return f"{value:.1%}"
        if metric == "peak_partition_rate":
            return _thousands(value / divisor)
        return f"{value:.2f}"

    cells = values.size
    fontsize = 9 if cells <= 60 else 7.5 if cells <= 160 else 6
    recommended = {
        (row.design, row.partitioner): int(row.partition_count)
        for row in result.recommendations.itertuples(index=False)
        if pd.notna(row.partition_count)
    }
    for row_index, (design, partitioner) in enumerate(rows):
        chosen = recommended.get((design, partitioner))
        for column, count in enumerate(counts):
            value = values[row_index, column]
            color = image.cmap(norm(value)) if np.isfinite(value) else (1, 1, 1, 1)
            ax.text(
                column, row_index, cell_text(value), ha="center", va="center", fontsize=fontsize,
                color=_text_color(color), fontweight="bold" if count == chosen else "normal",
            )  # fmt: skip
        if chosen is not None:
            column = counts.index(chosen)
            # Inset a little, so that outlines in adjacent rows stay apart.
            ax.add_patch(Rectangle(
                (column - 0.46, row_index - 0.46), 0.92, 0.92, fill=False, edgecolor="black",
                linewidth=2.5, zorder=3, gid="recommended",
            ))  # fmt: skip
    # White rules between designs.
    for row_index in range(1, len(rows)):
        if rows[row_index][0] != rows[row_index - 1][0]:
            ax.axhline(row_index - 0.5, color="white", linewidth=3)

    ax.set_xticks(np.arange(len(counts)), [str(count) for count in counts])
    ax.set_yticks(np.arange(len(rows)), [_row_label(*row) for row in rows])
    _plain_text(*ax.get_yticklabels())
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    ax.set_xlabel("partition count")
    ax.set_ylabel("design · partitioner")

    colorbar = ax.figure.colorbar(image, ax=ax, pad=0.02, fraction=0.06)
    label = SWEEP_METRICS[metric] + (f" ({unit})" if unit else "")
    colorbar.set_label(label)
    if threshold is not None:
        ticks = _threshold_ticks(norm, threshold)
        if metric == "peak_partition_rate":
            labels = [_thousands(tick / divisor) for tick in ticks]
        else:
            labels = [f"{tick:.3g}" for tick in ticks]
        colorbar.set_ticks(ticks, labels=labels)
        colorbar.ax.minorticks_off()
        colorbar.ax.axhline(threshold, color="black", linewidth=2)
        name = "max-skew" if metric in RATIO_METRICS else "capacity"
        colorbar.ax.text(
            -0.15, threshold, f"{name} ", transform=colorbar.ax.get_yaxis_transform(),
            ha="right", va="center", fontsize=8,
        )  # fmt: skip
    elif metric in SHARE_METRICS:
        colorbar.ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=None))

    headline, meeting, total = _sweep_finding(result, 80)
    if metric == "max_mean_ratio":
        if meeting:
            detail = f"{meeting} of {total} design · partitioner rows meet it"
        else:
            best = table.loc[table["max_mean_ratio"].astype(float).idxmin()]
            detail = (
                f"closest: {_row_label(best['design'], best['partitioner'])} at "
                f"{int(best['partition_count'])} partitions ({best['max_mean_ratio']:.2f})"
            )
    else:
        low = table.loc[table[metric].astype(float).idxmin()]
        high = table.loc[table[metric].astype(float).idxmax()]
        detail = (
            f"{SWEEP_METRICS[metric].split(' (')[0]}: from {cell_text(float(low[metric]))} "
            f"({_row_label(low['design'], low['partitioner'])}, {int(low['partition_count'])}) "
            f"to {cell_text(float(high[metric]))} "
            f"({_row_label(high['design'], high['partitioner'])}, {int(high['partition_count'])})"
        )
    title = ax.set_title(f"{headline}\n{textwrap.fill(detail, 80)}", fontsize=10.5)
    _plain_text(title)
    if recommended:
        ax.legend(
            handles=[Patch(fill=False, edgecolor="black", linewidth=2,
                           label=f"recommended: fewest partitions with {_sweep_target(summary)}")],
            loc="upper center", bbox_to_anchor=(0.5, 0), bbox_transform=_below(ax, 34),
            frameon=False, fontsize=8,
        )  # fmt: skip
    return ax


def plot_sweep_lines(result, *, ax: Axes | None = None) -> Axes:
    """Max/mean against partition count (log2 axis), one line per design · partitioner, with
    ``--max-skew`` and each design's best possible max/mean (its hottest key alone)."""
    table = result.table
    ax = _new_axes(_sweep_sizes(table)[1]) if ax is None else ax
    summary = result.summary
    max_skew = float(summary["max_skew"])
    counts = sorted(int(count) for count in table["partition_count"].unique())
    designs = list(dict.fromkeys(table["design"]))
    partitioners = list(dict.fromkeys(table["partitioner"]))
    color = {design: DESIGN_COLORS[i % len(DESIGN_COLORS)] for i, design in enumerate(designs)}
    style = {name: PARTITIONER_STYLES[i % len(PARTITIONER_STYLES)]
             for i, name in enumerate(partitioners)}  # fmt: skip
    ordering = "ordering_preserved" in table and table["ordering_preserved"].notna().any()

    ax.axhspan(1.0, max_skew, color=PALETTE["fill"], alpha=0.15, linewidth=0, zorder=0)
    skew_line = ax.axhline(
        max_skew, color=PALETTE["reference"], linestyle=(0, (4, 2)), linewidth=1.2, zorder=2,
        label=f"max-skew {max_skew:.2f}",
    )  # fmt: skip
    for design, partitioner in _sweep_rows(table):
        rows = table[(table["design"] == design) & (table["partitioner"] == partitioner)]
        rows = rows.sort_values("partition_count")
        linestyle, marker = style[partitioner]
        line = ax.plot(
            rows["partition_count"], rows["max_mean_ratio"].astype(float),
            color=color[design], linestyle=linestyle, marker=marker, markersize=5,
            linewidth=1.8, zorder=3, label=f"{design} · {partitioner}",
        )[0]  # fmt: skip
        line.set_gid("sweep")
    design_handles = []
    for design in designs:
        rows = table[table["design"] == design].drop_duplicates("partition_count")
        rows = rows.sort_values("partition_count")
        bound = ax.plot(
            rows["partition_count"], rows["best_possible_max_mean_ratio"].astype(float),
            color=color[design], linestyle="--", linewidth=1, alpha=0.45, zorder=1,
            label=f"{design} best possible",
        )[0]  # fmt: skip
        bound.set_gid("bound")
        label = design
        if ordering:
            at_most = table[(table["design"] == design) & (table["partition_count"] == counts[-1])]
            kept = sorted({_percent(value) for value in at_most["ordering_preserved"].dropna()})
            if kept:
                label += f" (order kept {'–'.join(dict.fromkeys([kept[0], kept[-1]]))})"
        design_handles.append(Line2D([], [], color=color[design], linewidth=2.5, label=label))

    ax.set_xscale("log", base=2)
    ax.set_xticks(counts, [str(count) for count in counts])
    ax.xaxis.set_minor_locator(NullLocator())  # the swept counts only
    ax.set_xlim(counts[0] / 2**0.25, counts[-1] * 2**0.25)
    ratios = table[["max_mean_ratio", "best_possible_max_mean_ratio"]].astype(float)
    highest = max(float(ratios.max().max()), max_skew)
    if highest > 4:  # a wide range: a log axis keeps the low lines apart
        ax.set_yscale("log", base=2)
        ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
        ax.yaxis.set_minor_formatter(FuncFormatter(lambda *_: ""))
    ax.set_ylim(0.95 if highest <= 4 else 0.9, highest * (1.08 if highest <= 4 else 1.15))
    ax.set_xlabel("partition count (log₂ scale)")
    ax.set_ylabel("max/mean messages per partition (×)")
    ax.grid(color="#dddddd", linewidth=0.6, zorder=0)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)

    partitioner_handles = [
        Line2D([], [], color="#555555", linestyle=style[name][0], marker=style[name][1],
               markersize=5, label=_literal(name))
        for name in partitioners
    ]  # fmt: skip
    reference_handles = [
        skew_line,
        Line2D([], [], color="#777777", linestyle="--", linewidth=1, alpha=0.6,
               label="best possible (top key alone)"),
        Patch(color=PALETTE["fill"], alpha=0.3, label=f"within max/mean ≤ {max_skew:.2f}"),
    ]  # fmt: skip
    # One legend below the plot, a column per group, each headed by its name.
    header = "design"
    if ordering:
        header += f" ({summary.get('order_by')} order kept at {counts[-1]} partitions)"
    groups = [
        (header, design_handles),
        ("partitioner", partitioner_handles),
        ("reference", reference_handles),
    ]
    depth = 1 + max(len(handles) for _, handles in groups)
    handles, headers = [], []
    for name, group in groups:
        headers.append(len(handles))
        handles.append(Line2D([], [], linestyle="none", label=_literal(name)))
        handles += group
        handles += [Line2D([], [], linestyle="none", label=" ")] * (depth - 1 - len(group))
    legend = ax.legend(
        handles=handles, fontsize=8, loc="upper center", bbox_to_anchor=(0.5, 0),
        bbox_transform=_below(ax, 34), ncols=len(groups), frameon=False, handlelength=3,
    )  # fmt: skip
    texts = legend.get_texts()
    _plain_text(*texts)
    for index in headers:
        texts[index].set_fontweight("bold")

    headline, _, _ = _sweep_finding(result, 100)
    # The hottest key caps every partitioner: N × its share is the best max/mean at N.
    top_share = table.groupby("design", sort=False)["top_key_share"].first().astype(float)
    limits = {design: math.floor(max_skew / share) if share > 0 else math.inf
              for design, share in top_share.items()}  # fmt: skip
    binding = [design for design, limit in limits.items() if limit < counts[-1]]
    detail = ""
    if binding:
        design = max(binding, key=lambda name: top_share[name])
        limit = limits[design]
        reach = f"above {limit} partitions" if limit >= 1 else "at any partition count"
        detail = (
            f"\n{_literal(str(design))}'s top key is {top_share[design]:.1%} of events: "
            f"{reach} no partitioner keeps max/mean ≤ {max_skew:.2f}"
        )
    title_text = ax.set_title(headline + detail, fontsize=10.5)
    _plain_text(title_text)
    return ax


def _config_label(config: dict) -> str:
    """A what-if configuration as text: ``java, 12 partitions`` (and the schema id)."""
    text = f"{config['partitioner']}, {config['partition_count']} partitions"
    if config.get("schema_id") is not None:
        text += f", schema id {config['schema_id']}"
    return _literal(text)


def plot_whatif_partitions(result, *, ax: Axes | None = None) -> Axes:
    """A :class:`~partsim.changes.WhatIfResult`'s messages per partition before and after the
    change, side by side, with each configuration's mean; the title says how much moves."""
    summary = result.summary
    frame = result.partitions
    before, after = summary["before"], summary["after"]
    count_before, count_after = int(before["partition_count"]), int(after["partition_count"])
    width = len(frame)
    ax = _new_axes(_whatif_size(width)) if ax is None else ax
    many = width > LABEL_EVERY_PARTITION
    bar_width = 0.5 if many else 0.4
    colors = {"before": PALETTE["fill"], "after": PALETTE["load"]}
    configs = {"before": (before, count_before, -bar_width / 2),
               "after": (after, count_after, bar_width / 2)}  # fmt: skip
    handles = []
    for name, (config, count, offset) in configs.items():
        loads = frame[f"messages_{name}"].to_numpy(dtype=float)[:count]
        bars = ax.bar(
            np.arange(count) + offset, loads, width=bar_width, color=colors[name],
            edgecolor=colors[name] if many else "none", linewidth=0.5 if many else 0,
            zorder=2, label=f"{name}: {_config_label(config)}",
        )  # fmt: skip
        mean = float(loads.mean()) if count else 0.0
        mean_line = ax.hlines(
            mean, -0.5, count - 0.5, color=colors[name], linestyle="--", linewidth=1.3,
            zorder=3, label=f"mean {name} {_thousands(mean)}",
        )  # fmt: skip
        handles += [bars, mean_line]
    if count_before != count_after:
        low, high = sorted((count_before, count_after))
        ax.axvspan(low - 0.5, high - 0.5, color="#eeeeee", zorder=0, linewidth=0)
        which = "after" if count_after > count_before else "before"
        span = f"partition {low}" if high - low == 1 else f"partitions {low}–{high - 1}"
        ax.text(
            (low + high - 1) / 2, 1.0, f"{span}: {which} only", transform=ax.get_xaxis_transform(),
            ha="center", va="bottom", fontsize=8, color="#555555",
        )  # fmt: skip
    _partition_ticks(ax, width)
    top = float(frame[["messages_before", "messages_after"]].to_numpy().max()) if width else 0
    ax.set_ylim(0, top * 1.12 if top > 0 else 1)
    ax.set_xlabel("partition")
    ax.set_ylabel("messages per partition")
    ax.yaxis.set_major_formatter(FuncFormatter(_thousands))
    ax.grid(axis="y", color="#dddddd", linewidth=0.6, zorder=0)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    legend = ax.legend(
        handles=handles, fontsize=8, loc="upper center",
        bbox_to_anchor=(0.5, -0.13), ncols=2, frameon=False,
    )  # fmt: skip
    _plain_text(*legend.get_texts())

    changes = []
    if count_before != count_after:
        changes.append(f"{count_before} → {count_after} partitions")
    if before["partitioner"] != after["partitioner"]:
        changes.append(f"{before['partitioner']} → {after['partitioner']}")
    if before.get("schema_id") != after.get("schema_id"):
        changes.append(f"schema id {before.get('schema_id')} → {after.get('schema_id')}")
    change = ", ".join(changes) if changes else "no change of partitions, client or schema"
    title = (
        f"{summary['keys_moved']:.1%} of keys ({summary['events_moved']:.1%} of events) move\n"
        f"{_literal(change)}: max/mean {summary['max_mean_ratio_before']:.2f} → "
        f"{summary['max_mean_ratio_after']:.2f}"
    )
    _plain_text(ax.set_title(title, fontsize=10.5, pad=14 if count_before != count_after else 6))
    return ax


def plot_salting(result, *, ax: Axes | None = None) -> Axes:
    """Max/mean (left axis) and events at risk of reordering (right axis) against the salt
    factor K of a :class:`~partsim.changes.WhatIfResult` made with ``salt=``."""
    salting = result.salting
    if salting is None:
        raise UsageError("the salting plot needs a salted what-if: whatif(..., salt=K) (--salt K)")
    ax = _new_axes() if ax is None else ax
    summary = result.summary
    factors = salting["salt"].to_numpy(dtype=int)
    ratios = salting["max_mean_ratio"].to_numpy(dtype=float)
    at_risk = salting["events_at_risk"].to_numpy(dtype=float)
    ratio_line = ax.plot(
        factors, ratios, color=PALETTE["load"], marker="o", linewidth=2, zorder=3,
        label="max/mean (left axis)",
    )[0]  # fmt: skip
    ax.set_xticks(factors)
    ax.set_xlim(factors.min() - 0.3, factors.max() + 0.3)
    ax.set_ylim(min(1.0, float(ratios.min())) * 0.95, float(ratios.max()) * 1.12)
    ax.set_xlabel("salt factor K (sub-keys per salted key)")
    ax.set_ylabel("max/mean messages per partition (×)", color=PALETTE["load"])
    ax.tick_params(axis="y", colors=PALETTE["load"])
    ax.grid(color="#dddddd", linewidth=0.6, zorder=0)
    ax.set_axisbelow(True)
    ax.spines["top"].set_visible(False)

    risk_ax = ax.twinx()
    risk_line = risk_ax.plot(
        factors, at_risk, color=PALETTE["hot"], marker="s", linestyle="--", linewidth=1.6,
        zorder=3, label="events at risk of reordering (right axis)",
    )[0]  # fmt: skip
    risk_ax.set_ylim(0, max(float(at_risk.max()) * 1.25, 0.05))
    risk_ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=None))
    risk_ax.set_ylabel("events at risk of reordering (%)", color=PALETTE["hot"])
    risk_ax.tick_params(axis="y", colors=PALETTE["hot"])
    risk_ax.spines["top"].set_visible(False)

    best = int(np.argmin(ratios))  # the first K with the lowest max/mean
    ax.annotate(
        f"K = {factors[best]}: {ratios[best]:.2f}×", xy=(factors[best], ratios[best]),
        xytext=(0, -14), textcoords="offset points", ha="center", va="top", fontsize=8,
        color=PALETTE["load"],
    )  # fmt: skip
    ax.legend(
        handles=[ratio_line, risk_line], fontsize=8, loc="upper center",
        bbox_to_anchor=(0.5, -0.13), ncols=2, frameon=False,
    )  # fmt: skip

    salted = int(salting["salted_keys"].max())
    distinct = summary.get("distinct_keys")
    keys = (
        f"every key ({salted:,})"
        if distinct is not None and salted >= distinct
        else f"the {salted:,} hottest key{'s' if salted != 1 else ''}"
    )
    order_by = summary.get("order_by") or "the key itself"
    order = "per-key order" if order_by == "the key itself" else f"per-{order_by} order"
    if best == 0:
        title = (
            f"Salting {keys} up to {factors.max()} ways does not lower max/mean "
            f"below {ratios[0]:.2f}"
        )
    else:
        title = (
            f"Salting {keys} {factors[best]} ways: max/mean {ratios[0]:.2f} → "
            f"{ratios[best]:.2f}, {at_risk[best]:.0%} of events lose {_literal(order)}"
        )
    ax.set_title(title, fontsize=10.5)
    return ax


def save_sweep_plots(result, out_dir: str | Path) -> dict[str, Path]:
    """Write ``sweep_heatmap.png`` and ``sweep_lines.png`` of a
    :class:`~partsim.compare.SweepResult` into ``out_dir``; return each name and path."""
    heatmap, lines = _sweep_sizes(result.table)
    return _write_plots(result, out_dir, {
        "sweep_heatmap": (plot_sweep_heatmap, heatmap),
        "sweep_lines": (plot_sweep_lines, lines),
    })  # fmt: skip


def save_whatif_plots(result, out_dir: str | Path) -> dict[str, Path]:
    """Write ``whatif_partitions.png`` and, when salted, ``salting.png`` of a
    :class:`~partsim.changes.WhatIfResult` into ``out_dir``; return each name and path."""
    plots: dict[str, tuple[Callable[..., Axes], tuple[float, float]]] = {
        "whatif_partitions": (plot_whatif_partitions, _whatif_size(len(result.partitions))),
    }
    if result.salting is not None:
        plots["salting"] = (plot_salting, (8, 4.5))
    return _write_plots(result, out_dir, plots)


# ----------------------------------------------------------------------- simulation
def plot_lag(result, *, top: int = 6, ax: Axes | None = None) -> Axes:
    """Lag in seconds over time for the ``top`` partitions that lag most, with the SLO line.

    ``result`` is a :class:`~partsim.simulation.SimulationResult`.
    """
    ax = _new_axes() if ax is None else ax
    summary = result.summary
    lag = result.lag
    worst = lag.groupby("partition")["lag_seconds"].max().nlargest(top)
    colours = [PALETTE["hot"], PALETTE["load"], PALETTE["band"], PALETTE["fill"], "#009E73",
               "#CC79A7", "#F0E442", "#000000"]  # fmt: skip
    start = lag["time"].min()
    for index, partition in enumerate(worst.index):
        rows = lag[lag["partition"] == partition]
        seconds = (rows["time"] - start).dt.total_seconds()
        ax.plot(seconds, rows["lag_seconds"], color=colours[index % len(colours)],
                linewidth=1.6 if index == 0 else 1.0, label=f"partition {partition}")  # fmt: skip
    slo = summary.get("max_lag_seconds_slo")
    if slo is not None:
        ax.axhline(slo, color=PALETTE["reference"], linestyle="--", linewidth=1,
                   label=f"SLO {slo:g} s")  # fmt: skip
    ax.set_xlabel("time since the first event (s)")
    ax.set_ylabel("consumer lag (seconds behind)")
    verdict = ""
    if summary.get("slo_met") is not None:
        verdict = ": SLO met" if summary["slo_met"] else ": SLO not met"
    ax.set_title(
        f"Max lag {summary['max_lag_seconds']:,.1f} s ({summary['max_lag_messages']:,.0f} "
        f"messages){verdict}; drains in {summary['time_to_drain_seconds']:,.1f} s"
    )
    ax.legend(loc="upper left", fontsize="small", frameon=False)
    ax.set_ylim(bottom=0)
    return ax


def plot_consumer_load(result, *, ax: Axes | None = None) -> Axes:
    """Each consumer's share of the messages, against the fair share ``1/C``."""
    ax = _new_axes() if ax is None else ax
    consumers = result.summary["consumers"]
    shares = np.array([row["load_share"] for row in consumers]) * 100
    hottest = int(shares.argmax()) if len(shares) else 0
    colours = [PALETTE["hot"] if i == hottest else PALETTE["load"] for i in range(len(shares))]
    ax.bar(np.arange(len(shares)), shares, color=colours)
    fair = 100 / max(1, len(shares))
    ax.axhline(fair, color=PALETTE["reference"], linestyle="--", linewidth=1,
               label=f"fair share 1/{len(shares)} = {fair:.1f}%")  # fmt: skip
    ax.set_xticks(np.arange(len(shares)))
    ax.set_xticklabels([str(i) for i in range(len(shares))])
    ax.set_xlabel(f"consumer ({result.summary['assignor']} assignor)")
    ax.set_ylabel("share of messages (%)")
    idle = sum(1 for row in consumers if not row["partitions"])
    ax.set_title(
        f"Consumer {hottest} carries {shares[hottest] / fair:.2f}× its fair share"
        + (f"; {idle} consumer{'s' if idle > 1 else ''} idle" if idle else "")
    )
    ax.legend(loc="upper right", fontsize="small", frameon=False)
    return ax


def plot_broker_load(result, *, ax: Axes | None = None) -> Axes:
    """Bytes in and out per broker (leaders placed round robin)."""
    ax = _new_axes() if ax is None else ax
    brokers = result.brokers
    if brokers is None:
        raise UsageError("the broker plot needs --brokers")
    scale, unit = byte_unit(float(max(brokers["bytes_in"].max(), brokers["bytes_out"].max(), 1)))
    x = np.arange(len(brokers))
    ax.bar(x - 0.2, brokers["bytes_in"] / scale, width=0.4, color=PALETTE["load"],
           label="in (produce + replication)")  # fmt: skip
    ax.bar(x + 0.2, brokers["bytes_out"] / scale, width=0.4, color=PALETTE["band"],
           label="out (consumers + replication)")  # fmt: skip
    ax.set_xticks(x)
    ax.set_xticklabels([str(b) for b in brokers["broker"]])
    ax.set_xlabel("broker")
    sizes = result.summary.get("size_source", "")
    no_sizes = not sizes.startswith(("column", "key"))
    ax.set_ylabel(f"{unit}/s" + (" (no sizes: 1 byte per event)" if no_sizes else ""))
    busiest = int(brokers["bytes_in"].idxmax())
    mean = brokers["bytes_in"].mean()
    ratio = brokers["bytes_in"].iloc[busiest] / mean if mean else 0.0
    ax.set_title(f"Broker {brokers['broker'].iloc[busiest]} takes {ratio:.2f}× the mean bytes in")
    ax.legend(loc="upper right", fontsize="small", frameon=False)
    return ax


def save_simulation_plots(result, out_dir: str | Path) -> dict[str, Path]:
    """Write ``lag.png``, ``consumers.png`` and (with brokers) ``brokers.png``."""
    plots: dict[str, tuple[Callable[..., Axes], tuple[float, float]]] = {
        "lag": (plot_lag, (8, 4.5)),
        "consumers": (plot_consumer_load, (8, 4.5)),
    }
    if result.brokers is not None:
        plots["brokers"] = (plot_broker_load, (8, 4.5))
    return _write_plots(result, out_dir, plots)
