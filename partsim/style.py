"""The colours and units that the plots and the HTML report share.

Kept apart from :mod:`partsim.plot` so that the report can use them without importing
matplotlib (``analyze --out`` draws its plots in other processes).
"""

from __future__ import annotations

__all__ = ["PALETTE", "RATE_NAMES", "byte_unit", "rate_text", "ratio_text"]

#: Okabe & Ito's colour-blind-safe palette (https://jfly.uni-koeln.de/color/), by role.
PALETTE = {
    "load": "#0072B2",  # blue: ordinary partitions and keys
    "hot": "#D55E00",  # vermillion: the hottest partition, keys above a fair share
    "reference": "#000000",  # black: the mean, the fair share, the equality line
    "band": "#E69F00",  # orange: what uniform random placement gives
    "fill": "#56B4E9",  # sky blue: the area between Lorenz curve and diagonal
}


def byte_unit(value: float) -> tuple[float, str]:
    """The divisor and name of the decimal byte unit that shows ``value`` best.

    >>> byte_unit(52_442_027)
    (1000000.0, 'MB')
    """
    for divisor, name in ((1e12, "TB"), (1e9, "GB"), (1e6, "MB"), (1e3, "kB")):
        if abs(value) >= divisor:
            return divisor, name
    return 1.0, "bytes"


#: The rates ``analyze --timestamp`` reports, by their ``summary.json`` key (in ``windows``),
#: named the same way in the printed summary, ``report.html`` and the heatmap's title.
RATE_NAMES = {
    "peak_partition_rate": "peak partition rate",  # one partition in its busiest window
    "mean_partition_rate": "mean partition rate",  # the topic rate over the partition count
    "topic_rate": "topic rate",  # every partition together, over the whole time span
}


def rate_text(value: float) -> str:
    """A rate in messages per second, as every output shows it.

    >>> rate_text(10.93), rate_text(0.8333), rate_text(12345.6)
    ('10.9 messages/s', '0.83 messages/s', '12,345.6 messages/s')
    """
    return f"{value:,.1f} messages/s" if abs(value) >= 10 else f"{value:.2f} messages/s"


def ratio_text(value: float, digits: int = 2) -> str:
    """A ratio as every output shows it: ``13.10×`` (the multiplication sign, never ``x``)."""
    return f"{value:.{digits}f}×"
