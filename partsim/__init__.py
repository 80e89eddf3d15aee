"""partsim: see how Kafka record keys spread over partitions, before production shows you.

The public API is :func:`assign`, :func:`hash_keys`, :func:`partitioners` and :func:`analyze`;
errors raised on purpose are :class:`PartsimError` subclasses.
"""

from partsim.api import assign, hash_keys, partitioners
from partsim.errors import DataError, PartsimError, UsageError
from partsim.partitioners import Partitioner, get_partitioner
from partsim.serde import KEY_FORMATS

__version__ = "0.1.0"


def __getattr__(name: str):
    """``analyze`` and ``AnalysisResult`` load on first use: ``import partsim`` stays light."""
    if name in ("analyze", "AnalysisResult"):
        from partsim import analysis

        return getattr(analysis, name)
    raise AttributeError(f"module 'partsim' has no attribute {name!r}")


__all__ = [
    "KEY_FORMATS",
    "AnalysisResult",
    "DataError",
    "Partitioner",
    "PartsimError",
    "UsageError",
    "__version__",
    "analyze",
    "assign",
    "get_partitioner",
    "hash_keys",
    "partitioners",
]
