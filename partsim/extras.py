"""partsim's optional dependencies (pip extras), and the one line a missing one gives.

Reading a live topic needs confluent-kafka (``partsim[kafka]``), ``--engine dask`` needs
Dask (``partsim[dask]``), and more distinct keys than ``--exact-keys`` need DataSketches
(``partsim[sketch]``); ``partsim[all]`` installs the three. The core (analyze, sweep, whatif,
simulate, partition, verify of a file) needs none of them. Where one is needed and missing,
partsim says which extra to install, before it starts the work that needs it.

Only the standard library and :mod:`partsim.errors` are imported here: the live-topic
reading process may import this module.
"""

from __future__ import annotations

import importlib.util

from partsim.errors import UsageError

__all__ = ["EXTRAS", "installed", "missing_extra", "require"]

#: extra: (the modules it provides, the package to name, what needs it)
EXTRAS: dict[str, tuple[tuple[str, ...], str, str]] = {
    "kafka": (("confluent_kafka",), "confluent-kafka", "reading a live topic"),
    "dask": (("dask", "distributed"), "Dask", "--engine dask"),
    "sketch": (("datasketches",), "datasketches", "sketching more distinct keys than --exact-keys"),
}


def installed(module: str) -> bool:
    """Whether ``module`` can be imported, found without importing it."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a parent package missing, or a broken entry
        return False


def missing_extra(extra: str, detail: str = "") -> UsageError:
    """The one-line error for a missing ``extra``: what needs it and how to install it.

    >>> print(missing_extra("kafka"))
    reading a live topic needs confluent-kafka, which is not installed: pip install 'partsim[kafka]'
    """
    _, package, purpose = EXTRAS[extra]
    reason = f"could not be imported ({detail})" if detail else "is not installed"
    return UsageError(f"{purpose} needs {package}, which {reason}: pip install 'partsim[{extra}]'")


def require(extra: str) -> None:
    """Raise :func:`missing_extra` unless every module of ``extra`` can be found."""
    if not all(installed(module) for module in EXTRAS[extra][0]):
        raise missing_extra(extra)
