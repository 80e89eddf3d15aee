"""The engine: where the stages run. This is the one place that chooses it.

``engine="local"`` runs the pipeline in this process, in three threads that overlap: one
reads batches, one parses sizes and times and hashes keys (:func:`parse_ahead`), and the
caller's counts (:class:`partsim.pipeline.ScanRun`). Arrow, numpy and the
C kernels release the GIL, so on two cores they run side by side. ``engine="dask"`` (or a
dask DataFrame as input) runs the same stages on a Dask cluster (:mod:`partsim.dask_engine`).

Either way the result is the same mergeable aggregate; the commands (:mod:`partsim.analysis`
and the others) finish it into their results. The stages never import this module.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from queue import Full, Queue

import pyarrow as pa

from partsim.errors import UsageError
from partsim.options import EngineOptions, InputOptions
from partsim.pipeline import Scan, ScanAggregate, Staged, bind_scan, scan_batches

__all__ = ["Scanned", "parse_ahead", "prefetch", "run_scan"]


@dataclass(frozen=True)
class Scanned:
    """A whole input's pass: what an engine returns."""

    aggregate: ScanAggregate
    scan: Scan  # bound to the input's columns
    label: str  # the input, as messages name it
    skipped_examples: Sequence[str]


def run_scan(
    inputs: object,
    scan: Scan,
    *,
    input_options: InputOptions,
    engine_options: EngineOptions,
    progress: bool = False,
) -> Scanned:
    """Read ``inputs`` once and run ``scan`` over them on the engine ``engine_options`` names
    (a dask DataFrame always goes to Dask)."""
    from partsim.dask_engine import is_dask_frame, scan_on_dask

    if engine_options.engine == "dask" or is_dask_frame(inputs):
        return Scanned(*scan_on_dask(
            inputs, scan, input_options=input_options, scheduler=engine_options.scheduler,
            blocksize=engine_options.blocksize, progress=progress,
        ))  # fmt: skip
    if engine_options.scheduler is not None:
        raise UsageError("--scheduler applies to --engine dask only")
    from partsim.progress import Progress

    source = input_options.open(inputs)
    scan = bind_scan(scan, source.columns)
    source.select(scan.columns())  # a wide input's other columns are never converted
    bar = Progress(enabled=progress, total_bytes=source.bytes_total)
    with bar:
        # Three threads: reading; parsing sizes and times and hashing keys; counting.
        aggregate = scan_batches(
            prefetch(parse_ahead(prefetch(source), scan)),
            scan,
            on_batch=lambda rows: bar.update(rows, source.bytes_read),
        )
    for load in aggregate.loads:
        load.skipped_rows += source.skipped_rows
    return Scanned(aggregate, scan, source.describe(), source.skipped_examples)


def prefetch(batches: Iterable[pa.RecordBatch], depth: int = 2) -> Iterator[pa.RecordBatch]:
    """Read ahead ``depth`` batches in a thread, so reading overlaps with aggregating.

    Arrow and numpy release the GIL while they work, so on two cores the reader's parsing and
    the aggregation run side by side. The queue is bounded: memory stays bounded. An error in
    the reader is raised here, in the caller's thread.
    """
    queue: Queue = Queue(maxsize=depth)
    stop = threading.Event()
    done = object()

    def read() -> None:
        try:
            for batch in batches:
                while not stop.is_set():
                    try:
                        queue.put(batch, timeout=0.1)
                        break
                    except Full:
                        continue
                if stop.is_set():
                    return
            queue.put(done)
        except BaseException as error:  # handed to the consumer
            queue.put(error)

    thread = threading.Thread(target=read, name="partsim-reader", daemon=True)
    thread.start()
    try:
        while True:
            item = queue.get()
            if item is done:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()


def parse_ahead(
    batches: Iterable[pa.RecordBatch | pa.Table], scan: Scan
) -> Iterator[tuple[pa.RecordBatch | pa.Table, Staged]]:
    """Each batch with its :meth:`Scan.place`, for :func:`partsim.pipeline.scan_batches`; in
    a :func:`prefetch` thread, sizes and times are parsed and keys serialized, hashed and
    placed while other batches are counted."""
    for batch in batches:
        if batch.num_rows:
            yield batch, scan.place(batch)
