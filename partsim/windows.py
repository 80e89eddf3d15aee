"""Per-window load: the table of every window x partition and its peaks.

The windows are counted batch by batch as a mergeable table (``window, partition,
messages, bytes``: :func:`partsim.aggregates.window_counts`); :func:`window_table` turns the
merged table into the result, idle cells included, with its summary.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from partsim.errors import DataError

__all__ = ["MAX_WINDOW_CELLS", "window_table"]

#: Window x partition cells of the per-window table (idle cells included) at most: about
#: 1.5 GB at the peak. One stray timestamp years away would otherwise ask for terabytes.
MAX_WINDOW_CELLS = 20_000_000


def too_many_windows(
    windows: int,
    partition_count: int,
    window_ns: int,
    first_ns: int,
    last_ns: int,
    max_cells: int = MAX_WINDOW_CELLS,
) -> DataError:
    """The error for timestamps that span more window x partition cells than ``max_cells``."""
    span = [pd.Timestamp(first_ns, tz="UTC"), pd.Timestamp(last_ns, tz="UTC")]
    return DataError(
        f"the timestamps span {windows:,} windows of {window_ns / 1e9:g} s "
        f"({span[0].isoformat()} to {span[1].isoformat()}), which with {partition_count:,} "
        f"partitions is more than {max_cells:,} window x partition cells; give a longer "
        "--window or leave out the events far from the rest"
    )


def window_table(
    windows: pa.Table, partition_count: int, window_ns: int, first_ns: int, last_ns: int
) -> tuple[pd.DataFrame, dict]:
    """Every window x partition (``window_start, partition, messages, bytes,
    messages_per_second``) from the merged window counts, and the summary of their peaks;
    ``first_ns`` and ``last_ns`` are the first and last event times."""
    count = partition_count
    table = windows.sort_by([("window", "ascending"), ("partition", "ascending")])
    frame = table.to_pandas()
    seconds = window_ns / 1e9
    first, last = int(frame["window"].min()), int(frame["window"].max())
    if (last - first + 1) * count > MAX_WINDOW_CELLS:
        raise too_many_windows(last - first + 1, count, window_ns, first_ns, last_ns)
    # Every window x partition, zeros included, so a spreadsheet sees the idle partitions.
    full = pd.MultiIndex.from_product(
        [np.arange(first, last + 1), np.arange(count)], names=["window", "partition"]
    )
    frame = frame.set_index(["window", "partition"]).reindex(full, fill_value=0).reset_index()
    frame.insert(0, "window_start", pd.to_datetime(frame.pop("window") * window_ns, utc=True))
    frame["messages_per_second"] = frame["messages"] / seconds
    wide = frame.pivot(index="window_start", columns="partition", values="messages")
    per_window_mean = wide.mean(axis=1)
    ratios = (wide.max(axis=1) / per_window_mean.where(per_window_mean > 0)).fillna(0)
    peak_window = ratios.idxmax()
    peak_rate = frame.loc[frame["messages"].idxmax()]
    topic_rate = float(frame["messages"].sum() / (len(wide) * seconds))
    summary = {
        "window_seconds": seconds,
        "windows": len(wide),
        "peak_window_max_mean_ratio": float(ratios.max()),
        "peak_window_start": peak_window.isoformat(),
        "mean_window_max_mean_ratio": float(ratios[per_window_mean > 0].mean()),
        "peak_partition_rate": float(peak_rate["messages_per_second"]),
        "peak_partition": int(peak_rate["partition"]),
        "peak_partition_window_start": peak_rate["window_start"].isoformat(),
        # These three rates are named in partsim.style.RATE_NAMES.
        "mean_partition_rate": topic_rate / count,
        "topic_rate": topic_rate,
        "peak_to_mean_partition_rate": (
            float(peak_rate["messages_per_second"]) * count / topic_rate if topic_rate else 0.0
        ),
        "first_event": pd.Timestamp(first_ns, tz="UTC").isoformat(),
        "last_event": pd.Timestamp(last_ns, tz="UTC").isoformat(),
    }
    return frame, summary
