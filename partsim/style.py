"""The colours and units that the plots and the HTML report share.

Kept apart from :mod:`partsim.plot` so that the report can use them without importing
matplotlib (``analyze --out`` draws its plots in other processes).
"""

from __future__ import annotations

__all__ = ["PALETTE", "byte_unit"]

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
