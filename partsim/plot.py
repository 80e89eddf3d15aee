"""Plots of an :class:`~partsim.analysis.AnalysisResult`, in the manner of seaborn's axes-level
functions: each takes the result first, then keyword-only options and ``ax=None``, draws on
that Axes (or on a new figure) and returns the Axes.

Everything here uses :class:`matplotlib.figure.Figure` with the Agg canvas and never touches
``matplotlib.pyplot`` or ``rcParams``, so plotting from a library, a server or a test leaves no
global state behind. Record keys are user data: they are always drawn as plain text, never
as mathtext or TeX.

>>> import pandas as pd
>>> from partsim.analysis import analyze_batches, finish, make_plan
>>> import pyarrow as pa
>>> events = pa.table({"customer": ["a", "b", "a", "c"]})
>>> plan = make_plan(key="customer", partition_count=3)
>>> result = finish(analyze_batches([events], plan), plan)
>>> ax = plot_load(result)
>>> len(ax.containers[0]), ax.get_xlabel()
(3, 'partition')
"""

from __future__ import annotations

import io
import math
import warnings
from collections.abc import Callable
from pathlib import Path

import matplotlib.dates as mdates
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, MaxNLocator, PercentFormatter

from partsim.errors import UsageError

__all__ = [
    "PALETTE",
    "byte_unit",
    "figure",
    "plot_heatmap",
    "plot_hot_keys",
    "plot_load",
    "plot_lorenz",
    "png_bytes",
    "save_plots",
]

#: Okabe & Ito's colour-blind-safe palette (https://jfly.uni-koeln.de/color/), by role.
PALETTE = {
    "load": "#0072B2",  # blue: ordinary partitions and keys
    "hot": "#D55E00",  # vermillion: the hottest partition, keys above a fair share
    "reference": "#000000",  # black: the mean, the fair share, the equality line
    "band": "#E69F00",  # orange: what uniform random placement gives
    "fill": "#56B4E9",  # sky blue: the area between Lorenz curve and diagonal
}
#: The colour map of the heatmap: perceptually uniform and readable with colour blindness.
HEATMAP_CMAP = "cividis"
DPI = 110
#: Partitions up to which every partition gets its own tick label.
LABEL_EVERY_PARTITION = 32
#: Display width of a key in a plot; longer keys are cut with an ellipsis.
KEY_WIDTH = 28


# --------------------------------------------------------------------------- helpers
def byte_unit(value: float) -> tuple[float, str]:
    """The divisor and name of the decimal byte unit that shows ``value`` best.

    >>> byte_unit(52_442_027)
    (1000000.0, 'MB')
    """
    for divisor, name in ((1e12, "TB"), (1e9, "GB"), (1e6, "MB"), (1e3, "kB")):
        if abs(value) >= divisor:
            return divisor, name
    return 1.0, "bytes"


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
    for position, share, partition in zip(positions, shares, frame["partition"], strict=True):
        text = ax.annotate(
            f"p{int(partition)}  {share:.1%}",
            xy=(share, position),
            xytext=(3, 0),
            textcoords="offset points",
            va="center",
            fontsize=7.5,
        )
        _plain_text(text)
    ax.axvline(fair, color=PALETTE["reference"], linestyle="--", linewidth=1.2, zorder=3)
    widest = max(float(shares.max()) if rows else 0.0, fair)
    ax.set_xlim(0, widest * 1.22)
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
    if stats and stats.get("mean_rate", 0) > 0:
        peak_at = pd.Timestamp(stats["peak_partition_window_start"]).tz_convert("UTC")
        fair_rate = stats["mean_rate"] / partition_count
        title = (
            f"Peak: partition {stats['peak_partition']} at {stats['peak_partition_rate']:,.1f} "
            f"messages/s ({peak_at:%H:%M} UTC), {stats['peak_partition_rate'] / fair_rate:.1f}× "
            "the mean partition rate"
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
    """``fig`` as PNG bytes. Figures use the constrained layout, so one draw is enough
    (``bbox_inches="tight"`` would draw every figure twice)."""
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        # A key in a script the font lacks is drawn as boxes; that is no reason to warn.
        warnings.filterwarnings("ignore", message=r"Glyph \d+ .*missing from font")
        fig.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()


def save_plots(result, out_dir: str | Path) -> dict[str, Path]:
    """Write ``load.png``, ``lorenz.png``, ``hot_keys.png`` and, with per-window data,
    ``heatmap.png`` into ``out_dir``; return each plot's name (``"load"``, ...) and path."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rows = min(20, len(result.hot_keys))
    plots: dict[str, tuple[Callable[..., Axes], tuple[float, float]]] = {
        "load": (plot_load, (8, 4.5)),
        "lorenz": (plot_lorenz, (5.5, 5)),
        "hot_keys": (plot_hot_keys, (8, max(2.5, 1.3 + 0.24 * rows))),
    }
    if result.windows is not None:
        plots["heatmap"] = (plot_heatmap, (8, 4.5))
    written: dict[str, Path] = {}
    for name, (plot_fn, size) in plots.items():
        fig = figure(plot_fn, result, size=size)
        path = out / f"{name}.png"
        path.write_bytes(png_bytes(fig))
        fig.clear()  # no pyplot registry holds it; clearing frees its artists now
        written[name] = path
    return written
