"""partsim: see how Kafka record keys spread over partitions, before production shows you.

The public API is :func:`assign`, :func:`hash_keys` and :func:`partitioners`; errors raised on
purpose are :class:`PartsimError` subclasses.
"""

from partsim.api import assign, hash_keys, partitioners
from partsim.errors import DataError, PartsimError, UsageError
from partsim.partitioners import Partitioner, get_partitioner
from partsim.serde import KEY_FORMATS

__version__ = "0.1.0"

__all__ = [
    "KEY_FORMATS",
    "DataError",
    "Partitioner",
    "PartsimError",
    "UsageError",
    "__version__",
    "assign",
    "get_partitioner",
    "hash_keys",
    "partitioners",
]
