"""The Dask engine: the same mergeable aggregates, computed on a Dask cluster.

``partsim analyze --engine dask [--scheduler ADDRESS]`` (or ``analyze(..., engine="dask")``,
or ``analyze(dask_dataframe, ...)``; :mod:`partsim.engine` makes the choice) cuts the input
into pieces of about ``blocksize`` bytes (:meth:`partsim.io.EventSource.pieces`: whole lines
of text files, row groups of Parquet files), aggregates each piece on a worker with the same
:class:`~partsim.pipeline.Scan` and readers as the local engine, merges the partial
aggregates in a tree on the cluster, and returns the merged aggregate to the client. The
workers read the files themselves, so the paths must be reachable from them.

Every command's scan runs there (analyze, sweep, whatif, simulate). Counts are exact and
equal the local engine's: per partition, per key (up to the exact-key limit), per window,
per entity (up to its limit) and the events that move. Keyless records (null keys) are the
exception: their partitions are drawn per piece, from streams that start far apart, so they
follow the same distribution but not the same draws as one pass.

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

from partsim.errors import ClusterError, UsageError, error_reason
from partsim.extras import require
from partsim.options import DEFAULT_BLOCKSIZE, InputOptions
from partsim.pipeline import Scan, ScanAggregate, bind_scan, scan_batches

__all__ = ["is_dask_frame", "parse_blocksize", "scan_on_dask"]
#: Piece ``i`` numbers its keyless records from ``i << KEYLESS_SPACING``.
KEYLESS_SPACING = 40
#: Partial aggregates merged per task of the merge tree.
FAN_IN = 4
#: Seconds to wait for a scheduler to answer.
CONNECT_TIMEOUT = 10

Partial = tuple[ScanAggregate, list[str]]


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
def scan_piece(piece: Any, scan: Scan, index: int) -> Partial:
    """One piece's aggregate and skipped-row examples (runs on a worker)."""
    aggregate = scan_batches(piece, scan, keyless_start=index << KEYLESS_SPACING, piece=True)
    for load in aggregate.loads:
        load.skipped_rows += piece.skipped_rows
    return aggregate, piece.skipped_examples


def scan_frame(frame: Any, scan: Scan, index: int) -> Partial:
    """One dask DataFrame partition's aggregate (runs on a worker)."""
    from partsim.io import open_events

    return scan_piece(open_events(frame), scan, index)


def merge_partials(*partials: Partial) -> Partial:
    """Merge partial aggregates, keeping the first examples in input order."""
    aggregate = ScanAggregate.merge_all([partial[0] for partial in partials])
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


def scan_on_dask(
    inputs: object,
    scan: Scan,
    *,
    input_options: InputOptions,
    scheduler: str | None = None,
    blocksize: int | str = DEFAULT_BLOCKSIZE,
    progress: bool = False,
) -> tuple[ScanAggregate, Scan, str, list[str]]:
    """The aggregate of ``inputs`` under ``scan``, computed on a Dask cluster (see the module
    docstring); with the scan bound to the input's columns, the input's label and examples
    of skipped rows."""
    from partsim.progress import Progress

    size = parse_blocksize(blocksize)
    if is_dask_frame(inputs):
        return _scan_frame(inputs, scan, scheduler=scheduler)
    source = input_options.open(inputs)
    if scan.rate is not None and scan.measures.timestamp is None:
        raise UsageError("on Dask, records need their times: give --timestamp")
    scan = bind_scan(scan, source.columns)
    pieces = source.select(scan.columns()).pieces(size)
    bar = Progress(enabled=progress, total_bytes=source.bytes_total, unit="pieces",
                   label=f"reading {len(pieces)} pieces on Dask")  # fmt: skip
    distributed = _distributed()
    with connect(scheduler) as client, bar:
        futures = [
            client.submit(scan_piece, piece, scan, index, pure=False)
            for index, piece in enumerate(pieces)
        ]
        sizes = {
            future.key: piece.bytes_total or 0
            for future, piece in zip(futures, pieces, strict=True)
        }
        root = _tree(futures, lambda *parts: client.submit(merge_partials, *parts, pure=False))
        # A piece's partial stays in a worker's memory while this client holds its future:
        # each is let go once done (its merge holds it until it has run), so that the
        # workers hold the partials not yet merged, not all of them.
        waiting = {future.key: future for future in futures}
        done = distributed.as_completed(futures)
        del futures
        done_bytes = 0
        try:
            for future in done:
                if future.status == "error":
                    future.result()  # raises the worker's error here
                done_bytes += sizes[future.key]
                bar.update(1, done_bytes)
                del waiting[future.key]
                del future
            aggregate, examples = root.result()
        except distributed.KilledWorker as exc:
            client.cancel([*waiting.values(), root])
            raise ClusterError(f"a Dask worker died while reading: {_reason(exc)}") from None
        except BaseException:
            client.cancel([*waiting.values(), root])
            raise
    return aggregate, scan, source.describe(), examples


def _scan_frame(
    frame: Any, scan: Scan, *, scheduler: str | None
) -> tuple[ScanAggregate, Scan, str, list[str]]:
    import dask

    scan = bind_scan(scan, [str(name) for name in frame.columns])
    level = [
        dask.delayed(scan_frame, pure=False)(part, scan, index)
        for index, part in enumerate(frame.to_delayed())
    ]
    root = _tree(level, dask.delayed(merge_partials, pure=False))
    if scheduler is not None:
        with connect(scheduler) as client:
            aggregate, examples = client.compute(root).result()
    else:  # dask's default scheduler: the caller's client if there is one
        aggregate, examples = dask.compute(root)[0]
    return aggregate, scan, f"a dask DataFrame ({frame.npartitions} partitions)", examples
