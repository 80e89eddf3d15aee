"""partsim: see how Kafka record keys spread over partitions, before production shows you.

The public API is :func:`assign`, :func:`hash_keys`, :func:`partitioners` and :func:`analyze`,
and for live topics :func:`sample_topic` and :func:`verify`; errors raised on purpose are
:class:`PartsimError` subclasses.
"""

from partsim.api import assign, hash_keys, partitioners
from partsim.errors import BrokerError, DataError, PartsimError, UsageError
from partsim.partitioners import Partitioner, get_partitioner
from partsim.serde import KEY_FORMATS

__version__ = "0.1.0"


def __getattr__(name: str):
    """The analysis API loads on first use, so ``import partsim`` stays light."""
    if name in ("analyze", "AnalysisResult"):
        from partsim import analysis

        return getattr(analysis, name)
    if name in ("sweep", "SweepResult"):
        from partsim import compare

        return getattr(compare, name)
    if name in ("simulate", "SimulationResult"):
        from partsim import simulation

        return getattr(simulation, name)
    if name in ("whatif", "WhatIfResult"):
        from partsim import changes

        return getattr(changes, name)
    if name in ("sample_topic", "verify", "load_sample", "write_sample", "LiveSample",
                "VerifyResult"):  # fmt: skip
        from partsim import live

        return getattr(live, name)
    raise AttributeError(f"module 'partsim' has no attribute {name!r}")


__all__ = [
    "KEY_FORMATS",
    "AnalysisResult",
    "BrokerError",
    "DataError",
    "LiveSample",
    "Partitioner",
    "PartsimError",
    "SimulationResult",
    "SweepResult",
    "UsageError",
    "VerifyResult",
    "WhatIfResult",
    "__version__",
    "analyze",
    "assign",
    "get_partitioner",
    "hash_keys",
    "load_sample",
    "partitioners",
    "sample_topic",
    "simulate",
    "sweep",
    "verify",
    "whatif",
    "write_sample",
]
