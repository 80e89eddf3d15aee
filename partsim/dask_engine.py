"""The Dask engine: the same mergeable aggregates, computed on a Dask cluster.

``partsim analyze --engine dask [--scheduler ADDRESS]`` (or ``analyze(..., engine="dask")``,
or ``analyze(dask_dataframe, ...)``; :mod:`partsim.engine` makes the choice) cuts the input
into pieces of about ``blocksize`` bytes (:meth:`partsim.io.EventSource.pieces`: whole lines
of text files, row groups of Parquet files), aggregates each piece on a worker with the same
:class:`~partsim.pipeline.BatchPlan` and readers as the local engine, merges the partial
aggregates in a tree on the cluster, and returns the merged aggregate to the client. The
workers read the files themselves, so the paths must be reachable from them.

Counts are exact and equal the local engine's: per partition, per key (up to the exact-key
limit) and per window. Keyless records (null keys) are the exception: their partitions are
drawn per piece, from streams that start far apart, so they follow the same distribution
but not the same draws as one pass.

Without a scheduler address, the client's default Dask client is used if there is one;
otherwise a local cluster of one single-threaded worker process per core is started and
closed afterwards.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Callable, Iterator
from typing import Any

from partsim.aggregates import LoadAggregate
from partsim.errors import ClusterError, UsageError, error_reason
from partsim.extras import require
from partsim.options import DEFAULT_BLOCKSIZE, InputOptions
from partsim.pipeline import BatchPlan, analyze_batches, bind_columns

__all__ = ["aggregate_on_dask", "is_dask_frame", "parse_blocksize"]
#: Piece ``i`` numbers its keyless records from ``i << KEYLESS_SPACING``.
KEYLESS_SPACING = 40
#: Partial aggregates merged per task of the merge tree.
FAN_IN = 8
#: Seconds to wait for a scheduler to answer.
CONNECT_TIMEOUT = 10

Partial = tuple[LoadAggregate, list[str]]


def _distributed():
    require("dask")
    import distributed

    return distributed


def is_dask_frame(value: object) -> bool:
    """Whether ``value`` is a dask DataFrame (without importing dask if it is not loaded)."""
    frames = sys.modules.get("dask.dataframe")
    return frames is not None and isinstance(value, frames.DataFrame)


def parse_blocksize(value: object) -> int:
    """Bytes per piece: an int or a size such as ``64MiB`` or ``1GB``; 0 for whole files.

    >>> parse_blocksize("64MiB"), parse_blocksize(0)
    (67108864, 0)
    """
    require("dask")
    from dask.utils import parse_bytes

    try:
        size = parse_bytes(value) if isinstance(value, str) else value
    except (ValueError, TypeError):
        size = None
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        raise UsageError(f"--blocksize must be a size such as 64MiB, or 0; got {value!r}")
    return size


# ------------------------------------------------------------------ on the workers
def aggregate_piece(piece: Any, plan: BatchPlan, index: int) -> Partial:
    """One piece's aggregate and skipped-row examples (runs on a worker)."""
    aggregate = analyze_batches(piece, plan, keyless_start=index << KEYLESS_SPACING)
    aggregate.skipped_rows += piece.skipped_rows
    return aggregate, piece.skipped_examples


def aggregate_frame(frame: Any, plan: BatchPlan, index: int) -> Partial:
    """One dask DataFrame partition's aggregate (runs on a worker)."""
    from partsim.io import open_events

    return aggregate_piece(open_events(frame), plan, index)


def merge_partials(*partials: Partial) -> Partial:
    """Merge partial aggregates, keeping the first examples in input order."""
    aggregate = LoadAggregate.merge_all([partial[0] for partial in partials])
    examples = [example for partial in partials for example in partial[1]]
    return aggregate, examples[:5]


# --------------------------------------------------------------------- the client
@contextlib.contextmanager
def connect(scheduler: str | None) -> Iterator[Any]:
    """A Dask client: to ``scheduler``, else the default client, else a new local cluster
    (closed on exit)."""
    distributed = _distributed()
    if scheduler is not None:
        try:
            client = distributed.Client(scheduler, timeout=CONNECT_TIMEOUT)
        except (OSError, TimeoutError, ValueError) as exc:
            raise ClusterError(
                f"cannot reach the Dask scheduler at {scheduler}: {error_reason(exc)}"
            ) from None
        with client:
            yield client
        return
    try:
        client = distributed.default_client()
    except ValueError:
        client = None
    if client is not None:
        yield client  # the caller's own: left open
        return
    try:
        cluster = distributed.LocalCluster(
            n_workers=os.cpu_count() or 1, threads_per_worker=1, processes=True,
            dashboard_address=None, silence_logs=logging.ERROR,
        )  # fmt: skip
    except (RuntimeError, OSError, TimeoutError) as exc:
        raise ClusterError(f"cannot start a local Dask cluster: {_reason(exc)}") from None
    with cluster, distributed.Client(cluster) as client:
        yield client


def _reason(exc: BaseException) -> str:
    """What went wrong first: the first line of the exception's cause, or of the exception."""
    return error_reason(exc.__cause__ or exc)


def _tree(level: list[Any], merge: Callable[..., Any]) -> Any:
    """Merge partials (futures or delayed values) in a tree of ``FAN_IN``-way ``merge``
    calls; the root."""
    while len(level) > 1:
        level = [merge(*level[i : i + FAN_IN]) for i in range(0, len(level), FAN_IN)]
    return level[0]


def aggregate_on_dask(
    inputs: object,
    plan: BatchPlan,
    *,
    input_options: InputOptions,
    scheduler: str | None = None,
    blocksize: int | str = DEFAULT_BLOCKSIZE,
    progress: bool = False,
) -> tuple[LoadAggregate, BatchPlan, str, list[str]]:
    """The aggregate of ``inputs`` under ``plan``, computed on a Dask cluster (see the module
    docstring); with the plan bound to the input's columns, the input's label and examples
    of skipped rows."""
    from partsim.progress import Progress

    size = parse_blocksize(blocksize)
    if is_dask_frame(inputs):
        return _aggregate_frame(inputs, plan, scheduler=scheduler)
    source = input_options.open(inputs)
    plan = bind_columns(plan, source.columns)
    pieces = source.select(plan.columns()).pieces(size)
    bar = Progress(enabled=progress, total_bytes=source.bytes_total, unit="pieces",
                   label=f"reading {len(pieces)} pieces on Dask")  # fmt: skip
    distributed = _distributed()
    with connect(scheduler) as client, bar:
        futures = [
            client.submit(aggregate_piece, piece, plan, index, pure=False)
            for index, piece in enumerate(pieces)
        ]
        sizes = {
            future.key: piece.bytes_total or 0
            for future, piece in zip(futures, pieces, strict=True)
        }
        root = _tree(futures, lambda *parts: client.submit(merge_partials, *parts, pure=False))
        done_bytes = 0
        try:
            for future in distributed.as_completed(futures):
                if future.status == "error":
                    future.result()  # raises the worker's error here
                done_bytes += sizes[future.key]
                bar.update(1, done_bytes)
            aggregate, examples = root.result()
        except distributed.KilledWorker as exc:
            client.cancel([*futures, root])
            raise ClusterError(f"a Dask worker died while reading: {_reason(exc)}") from None
        except BaseException:
            client.cancel([*futures, root])
            raise
    return aggregate, plan, source.describe(), examples


def _aggregate_frame(
    frame: Any, plan: BatchPlan, *, scheduler: str | None
) -> tuple[LoadAggregate, BatchPlan, str, list[str]]:
    import dask

    plan = bind_columns(plan, [str(name) for name in frame.columns])
    level = [
        dask.delayed(aggregate_frame, pure=False)(part, plan, index)
        for index, part in enumerate(frame.to_delayed())
    ]
    root = _tree(level, dask.delayed(merge_partials, pure=False))
    if scheduler is not None:
        with connect(scheduler) as client:
            aggregate, examples = client.compute(root).result()
    else:  # dask's default scheduler: the caller's client if there is one
        aggregate, examples = dask.compute(root)[0]
    return aggregate, plan, f"a dask DataFrame ({frame.npartitions} partitions)", examples
