"""partsim: see how Kafka record keys spread over partitions, before production shows you.

The public API: :func:`assign`, :func:`hash_keys` and :func:`partitioners` for single keys;
:func:`analyze`, :func:`sweep`, :func:`whatif` and :func:`simulate` for samples of events;
:func:`sample_topic` and :func:`verify` for live topics; and the plots in :mod:`partsim.plot`.
Errors raised on purpose are :class:`PartsimError` subclasses.
"""

from partsim.api import assign, hash_keys, partitioners
from partsim.errors import BrokerError, DataError, PartsimError, UsageError
from partsim.partitioners import Partitioner, get_partitioner
from partsim.serde import KEY_FORMATS

__version__ = "0.1.0"


#: Public names that load their module on first use, so ``import partsim`` stays light.
_LAZY = {
    "analyze": "analysis",
    "AnalysisResult": "analysis",
    "sweep": "compare",
    "SweepResult": "compare",
    "whatif": "changes",
    "WhatIfResult": "changes",
    "simulate": "simulation",
    "SimulationResult": "simulation",
    "sample_topic": "live",
    "verify": "live",
    "load_sample": "live",
    "write_sample": "live",
    "LiveSample": "live",
    "VerifyResult": "live",
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"partsim.{_LAZY[name]}"), name)
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
