"""Load over time, keyless records, consumer groups, lag and brokers, from a key sample.

The sample's events are placed as the producer would place them. Keyed records are hashed;
keyless records go through a simulation of the client's keyless path over time and sizes
(:mod:`partsim.keyless`). They are then counted per step and partition, and scaled to a
target rate (``rate``) or by a factor (``scale``), which keeps the sample's shape over time.
Consumers of a group (:mod:`partsim.assignors`) serve their partitions with a capacity per
second, and :mod:`partsim.lag` runs the queue: lag in messages and seconds, time to drain,
the SLO check, and the smallest consumer and partition counts that meet it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
import pyarrow as pa

from partsim.aggregates import coarsened, window_counts
from partsim.compare import check_byte_rate, parse_rate
from partsim.errors import DataError, UsageError
from partsim.events import parse_window
from partsim.lag import simulate_lag
from partsim.options import (
    EngineOptions,
    InputOptions,
    MeasureOptions,
    ProducerOptions,
    split_options,
)
from partsim.pipeline import NO_SIZES, BatchPlan, Encoding, Scan
from partsim.placement import Placement

__all__ = ["SimulationResult", "simulate"]

#: Steps x partitions of the time series at most (per-step arrivals, rates and lag, 16 MiB an
#: array): a longer span widens the step, doubling it, as many times as it needs.
MAX_STEP_CELLS = 1_000_000

_DEFAULT_CANDIDATES = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256)


@dataclass(frozen=True)
class SimulationResult:
    """``summary`` (JSON-ready), ``rates`` (per step and partition), ``lag`` (per step and
    partition), ``consumers`` (per consumer), ``consumer_sweep`` (per consumer count),
    ``brokers`` (per broker, or None) and ``consumer_lag`` (per step and consumer)."""

    summary: dict
    rates: pd.DataFrame
    lag: pd.DataFrame
    consumers: pd.DataFrame
    consumer_sweep: pd.DataFrame
    consumer_lag: pd.DataFrame | None = None
    brokers: pd.DataFrame | None = None


@dataclass(frozen=True)
class _Series:
    """Arrivals per step: messages and bytes, steps x partitions, unscaled."""

    messages: np.ndarray
    bytes: np.ndarray
    first_step: int
    keyless_events: int
    skipped_rows: int = 0
    size_source: str = NO_SIZES  # where each event's bytes come from
    step_factor: int = 1  # the step asked for, widened this many times (MAX_STEP_CELLS)


def simulate(
    inputs: object,
    *,
    partition_count: int,
    consumer_capacity: str | float,
    consumers: int = 1,
    assignor: str = "range",
    rate: str | float | None = None,
    scale: float | None = None,
    step: str | float = "1s",
    max_lag_seconds: float | None = None,
    brokers: int | None = None,
    racks: Sequence[str] | None = None,
    replication_factor: int = 1,
    keyless_client: str | None = None,
    linger_ms: float | None = None,
    batch_size: int | None = None,
    adaptive: bool = False,
    broker_latency_ms: Sequence[float] | None = None,
    partition_candidates: Sequence[int] | None = None,
    record_size: int = 100,
    input_options: InputOptions | None = None,
    producer_options: ProducerOptions | None = None,
    measure_options: MeasureOptions | None = None,
    engine_options: EngineOptions | None = None,
    progress: bool = False,
    **options: object,
) -> SimulationResult:
    """Simulate a topic fed by this sample: per-partition rates, consumer load, lag, brokers.

    ``consumer_capacity`` is what one consumer handles per second: ``600`` (msgs/s) or
    ``"5MB/s"``. Event times come from ``timestamp``; without one, records arrive in input
    order at ``rate``. ``rate`` (total msgs/s or bytes/s) or ``scale`` (a factor) scales the
    sample while keeping its shape. ``max_lag_seconds`` is the SLO. ``record_size`` is the
    bytes per record that drive the producer's batching on the keyless path when the input
    gives no sizes. The other options are :func:`partsim.analyze`'s (``key``,
    ``partitioner``, ``size``, ``timestamp``, the reader's ...); the window is ``step``.

    >>> import pandas as pd
    >>> events = pd.DataFrame({"k": ["hot"] * 60_000,
    ...                        "ts": pd.Series(range(60_000)) / 1000})  # 1,000 msg/s for 60 s
    >>> run = simulate(events, key="k", timestamp="ts", partition_count=1,
    ...                consumer_capacity=600)
    >>> run.summary["max_lag_messages"], run.summary["time_to_drain_seconds"]
    (24000.0, 40.0)
    """
    from partsim.assignors import assign_partitions, default_member_ids, sweep_consumers
    from partsim.keyless import KEYLESS_CLIENTS, ProducerConfig

    producer, measures, reader, engine = split_options(
        dict(options), ProducerOptions, MeasureOptions, InputOptions, EngineOptions,
        given=(producer_options, measure_options, input_options, engine_options),
    )  # fmt: skip
    key, seed, timestamp = producer.key, producer.seed, measures.timestamp
    capacity, unit = parse_rate(consumer_capacity, "--consumer-capacity")
    if isinstance(consumers, bool) or not isinstance(consumers, int) or consumers < 1:
        raise UsageError(f"--consumers must be a whole number >= 1; got {consumers!r}")
    if rate is not None and scale is not None:
        raise UsageError("give --rate or --scale, not both")
    if scale is not None and (not isinstance(scale, (int, float)) or scale <= 0):
        raise UsageError(f"--scale must be a positive factor; got {scale!r}")
    target = parse_rate(rate, "--rate") if rate is not None else None
    if timestamp is None and target is None:
        raise UsageError("simulate needs event times: give --timestamp COLUMN, or --rate")
    step_ns = parse_window(step)
    step_seconds = step_ns / 1e9
    plan = BatchPlan(
        producer, partition_count,
        MeasureOptions(size=measures.size, timestamp=timestamp, window=step),
        strict=reader.strict,
    )  # fmt: skip
    client = keyless_client or plan.partitioner.keyless_model
    if client not in KEYLESS_CLIENTS:
        from partsim.errors import invalid_choice

        raise invalid_choice("--keyless-client", client, KEYLESS_CLIENTS)
    settings = {"linger_ms": linger_ms, "batch_size": batch_size, "adaptive": adaptive or None,
                "broker_latency_ms": broker_latency_ms}  # fmt: skip
    if broker_latency_ms is not None and len(broker_latency_ms) != partition_count:
        raise UsageError(
            f"--broker-latency-ms needs one latency per partition ({partition_count}); "
            f"got {len(broker_latency_ms)}"
        )
    config = ProducerConfig(
        **{name: value for name, value in settings.items() if value is not None}
    )
    search = max_lag_seconds is not None
    if isinstance(record_size, bool) or not isinstance(record_size, int) or record_size < 1:
        raise UsageError(f"--record-size must be a whole number of bytes >= 1; got {record_size!r}")
    series, by_count, keyless, described = _read(
        inputs, plan, target, search, partition_candidates or _DEFAULT_CANDIDATES, record_size,
        reader, engine, progress,
    )  # fmt: skip
    check_byte_rate((capacity, unit), series.size_source, "--consumer-capacity")
    check_byte_rate(target, series.size_source, "--rate")
    asked_seconds = step_seconds
    step_ns *= series.step_factor
    step_seconds = step_ns / 1e9
    keyless_path = (client, config, seed, step_ns)
    # The factor compares totals, which do not depend on where keyless records go.
    factor = _scale_factor(series, keyless, target, scale, step_seconds)
    messages, nbytes, placement = _add_keyless(series.messages, series.bytes, keyless,
                                               series.first_step, partition_count, factor,
                                               keyless_path)  # fmt: skip
    messages, nbytes = messages * factor, nbytes * factor
    arrivals = messages if unit == "messages" else nbytes
    assignment = assign_partitions(partition_count, consumers, assignor)
    run = simulate_lag(arrivals, assignment, capacity=capacity, step_seconds=step_seconds)
    sent = messages.sum(axis=0)
    per_message = np.divide(nbytes.sum(axis=0), sent, out=np.ones(partition_count), where=sent > 0)
    lag_messages = run.backlog if unit == "messages" else run.backlog / per_message
    total = messages.sum()
    names = default_member_ids(consumers)
    consumer_rows = [
        {"consumer": names[index], "partitions": list(parts),
         "load_share": float(messages[:, list(parts)].sum() / total) if total else 0.0,
         "max_lag_messages": float(lag_messages[:, list(parts)].max()) if parts else 0.0,
         "max_lag_seconds": float(run.lag_seconds[:, list(parts)].max()) if parts else 0.0}
        for index, parts in enumerate(assignment)
    ]  # fmt: skip
    slo_met = None if max_lag_seconds is None else bool(run.max_lag_seconds <= max_lag_seconds)
    rate_per_partition = messages / step_seconds
    mean_rate = rate_per_partition.mean(axis=0)
    peak_to_mean = np.divide(rate_per_partition.max(axis=0), mean_rate,
                             out=np.zeros(partition_count), where=mean_rate > 0)  # fmt: skip
    summary: dict = {
        "inputs": described,
        "key": key,
        "partitioner": plan.partitioner.name,
        "partition_count": partition_count,
        "keyless_client": client,
        "keyless_events": series.keyless_events,
        "skipped_rows": series.skipped_rows,
        "size_source": series.size_source,
        "keyless_placement": placement,
        "keyless_imbalance": _keyless_imbalance(keyless, partition_count, keyless_path),
        "step_seconds": step_seconds,
        "steps": int(messages.shape[0]),
        **_widened(asked_seconds, step_seconds, partition_count),
        "scale_factor": factor,
        "total_rate_messages_per_second": float(total / (messages.shape[0] * step_seconds)),
        "consumer_capacity": {"value": capacity, "unit": f"{unit}/s"},
        "assignor": assignor,
        "consumers": consumer_rows,
        "max_lag_messages": float(lag_messages.max()) if lag_messages.size else 0.0,
        "max_lag_seconds": run.max_lag_seconds,
        "time_to_drain_seconds": run.time_to_drain_seconds,
        "drained": run.drained,
        "max_lag_seconds_slo": max_lag_seconds,
        "slo_met": slo_met,
        "peak_to_mean": {str(p): float(v) for p, v in enumerate(peak_to_mean)},
        "hottest_partition_peak_rate": float(rate_per_partition.max()) if messages.size else 0.0,
    }
    # Every consumer count up to 64, and the partition count (one consumer each).
    counts = sorted({*range(1, min(partition_count, 64) + 1), partition_count})
    sweep = sweep_consumers(messages.sum(axis=0), counts, assignor)
    if search:
        summary["smallest_consumer_count"] = _smallest_consumers(
            arrivals, partition_count, assignor, capacity, step_seconds, max_lag_seconds
        )
        summary["smallest_partition_count"] = _smallest_partitions(
            by_count, keyless, series, factor, unit, capacity, step_seconds, max_lag_seconds,
            keyless_path,
        )  # fmt: skip
    broker_frame = None
    if brokers:
        from partsim.assignors import broker_loads, place_leaders

        replicas = place_leaders(partition_count, brokers, racks=racks,
                                 replication_factor=replication_factor)  # fmt: skip
        bytes_per_second = nbytes.sum(axis=0) / (nbytes.shape[0] * step_seconds)
        broker_frame = broker_loads(replicas, bytes_per_second, bytes_per_second, brokers)
        summary["brokers"] = broker_frame.to_dict("records")
    steps = np.arange(messages.shape[0])
    start = pd.Timestamp(series.first_step * step_ns, tz="UTC")
    rates = pd.DataFrame({
        "time": np.repeat(start + pd.to_timedelta(steps * step_seconds, unit="s"), partition_count),
        "partition": np.tile(np.arange(partition_count), len(steps)),
        "messages_per_second": (messages / step_seconds).ravel(),
        "bytes_per_second": (nbytes / step_seconds).ravel(),
    })  # fmt: skip
    lag_steps = np.arange(len(run.backlog))
    lag = pd.DataFrame({
        "time": np.repeat(start + pd.to_timedelta((lag_steps + 1) * step_seconds, unit="s"),
                          partition_count),
        "partition": np.tile(np.arange(partition_count), len(lag_steps)),
        "lag_messages": lag_messages.ravel(),
        "lag_seconds": run.lag_seconds.ravel(),
    })  # fmt: skip
    backlog = run.consumer_backlog(assignment)
    if unit == "bytes":  # lag in messages: bytes over each consumer's mean record size
        sizes = [per_message[list(parts)].mean() if parts else 1.0 for parts in assignment]
        backlog = backlog / np.asarray(sizes)
    empty = np.zeros(len(run.backlog))
    seconds = np.stack([run.lag_seconds[:, list(parts)].max(axis=1) if parts else empty
                        for parts in assignment], axis=1)  # fmt: skip
    consumer_lag = pd.DataFrame({
        "time": np.repeat(start + pd.to_timedelta((lag_steps + 1) * step_seconds, unit="s"),
                          len(assignment)),
        "consumer": np.tile(names, len(lag_steps)),
        "lag_messages": backlog.ravel(),
        "lag_seconds": seconds.ravel(),
    })  # fmt: skip
    return SimulationResult(summary, rates, lag, pd.DataFrame(consumer_rows), sweep,
                            consumer_lag=consumer_lag, brokers=broker_frame)  # fmt: skip


def _read(inputs, plan, target, search, candidates, record_size, reader: InputOptions,
          engine: EngineOptions, progress):  # fmt: skip
    """Arrivals per step and partition of the keyed records, the keyless records' times and
    sizes (in time order, for the client's simulated keyless path), and with ``search`` the
    keyed arrivals under every candidate partition count: one pass that places each record
    under all of them (one hash, one reduction per count)."""
    from partsim.engine import run_scan

    framing = plan.producer.framing()
    counts = [plan.partition_count, *(sorted(set(candidates)) if search else ())]
    scan = Scan(
        encodings=(Encoding(plan.producer, weight_framing=framing),),
        placements=tuple(Placement(0, plan.partitioner.name, count, framing) for count in counts),
        measures=plan.measures, strict=plan.strict, seed=plan.producer.seed,
        keyed_windows=True, keyless_records=True,
        rate=target if plan.measures.timestamp is None else None,
        window_cells=MAX_STEP_CELLS,
    )  # fmt: skip
    done = run_scan(inputs, scan, input_options=reader, engine_options=engine, progress=progress)
    result = done.aggregate
    main = result.loads[0]
    skipped = main.skipped_rows
    if main.events == 0:
        detail = f" ({skipped} unparsable rows skipped)" if skipped else ""
        raise DataError(f"no events in {done.label}{detail}")
    # The candidates' grids (--max-lag-seconds) at the step the first one widened to.
    step_factor = result.loads[0].window_factor
    loads = [replace(load, windows=coarsened(load.windows, load.window_factor, step_factor),
                     window_factor=step_factor) for load in result.loads]  # fmt: skip
    main = loads[0]
    step_ns = scan.window_ns * step_factor
    keyless = None
    pieces = [piece for piece in result.keyless if len(piece[0])]
    if pieces:
        times = np.concatenate([piece[0] for piece in pieces])
        # Their bytes as counted (1 per event without sizes, as everywhere); the batching
        # runs on bytes: without sizes, a record is record_size bytes.
        weights = np.concatenate([piece[1] for piece in pieces])
        sized = plan.measures.size is not None or done.scan.value_sizes
        sizes = weights if sized else np.full(len(times), float(record_size))
        order = np.argsort(times, kind="stable")
        keyless = (times[order], sizes[order], weights[order])
    # The step range covers keyed and keyless records; where keyless records go is decided
    # once the scale factor is known (see _add_keyless).
    windows = [main.windows.column("window").to_numpy()]
    if keyless is not None:
        windows.append(keyless[0] // step_ns)
    every = np.concatenate(windows)
    first, last = int(every.min()), int(every.max())
    messages, nbytes = _grid(main.windows, first, last, plan.partition_count)
    keyless_count = 0 if keyless is None else len(keyless[0])
    series = _Series(messages, nbytes, first, keyless_count, skipped, done.scan.size_source,
                     step_factor)  # fmt: skip
    by_count = dict(zip(counts[1:], loads[1:], strict=True)) if search else None
    return series, by_count, keyless, done.label


def _widened(asked: float, step: float, partition_count: int) -> dict:
    """The summary's note when the step was widened to keep the time series bounded."""
    if step == asked:
        return {}
    return {"step_widened": {
        "asked_seconds": asked, "step_seconds": step,
        "reason": f"the input spans more than {MAX_STEP_CELLS:,} steps x partitions at "
                  f"{asked:g} s over {partition_count} partitions; the step doubled until "
                  "the time series fits (give a wider --step to choose it)",
    }}  # fmt: skip


def _grid(windows: pa.Table, first: int, last: int, count: int) -> tuple[np.ndarray, np.ndarray]:
    """Messages and bytes per step (``first`` to ``last``) and partition, from window counts."""
    messages = np.zeros((last - first + 1, count))
    nbytes = np.zeros((last - first + 1, count))
    rows = windows.column("window").to_numpy() - first
    columns = windows.column("partition").to_numpy()
    messages[rows, columns] = windows.column("messages").to_numpy()
    nbytes[rows, columns] = windows.column("bytes").to_numpy()
    return messages, nbytes


def _keyless_counts(keyless, partition_count, client, config, seed, step_ns) -> pa.Table:
    """Keyless records placed by the client's simulated keyless path, per step and partition.

    Counts are per record; the weights are the records' bytes (the sizes that drive the
    batching are ``record_size`` each when the input has none)."""
    from partsim.keyless import simulate_keyless

    times, sizes, weights = keyless
    placed = simulate_keyless(client, (times - times[0]) / 1e9, sizes, partition_count,
                              config=config, seed=seed)  # fmt: skip
    return window_counts(times // step_ns, placed, weights, partition_count)


def _keyless_imbalance(keyless, count, keyless_path) -> dict | None:
    """How unevenly the client's keyless path spreads the sample's keyless records over
    partitions in short windows (at the sample's own timing): 1 s windows, or longer ones
    for long samples (at most about 100,000 windows)."""
    if keyless is None:
        return None
    from partsim.keyless import imbalance, simulate_keyless, window_loads

    client, config, seed, _ = keyless_path
    times, sizes, _ = keyless
    seconds = (times - times[0]) / 1e9
    window_s = max(1.0, float(seconds[-1]) / 100_000)
    placed = simulate_keyless(client, seconds, sizes, count, config=config, seed=seed)
    loads, _ = window_loads(seconds, placed, sizes, count, window_s)
    return {"client": client, "window_seconds": window_s, **imbalance(loads)}


def _add_keyless(messages, nbytes, keyless, first, count, factor, keyless_path):
    """Add the keyless records to per-step arrivals; returns (messages, bytes, placement).

    At the sample's own rate they are placed by the client's simulated keyless path. Scaled
    up, sticky runs (batch.size bytes or a few milliseconds) are far shorter than a step, so
    each step's keyless records are spread evenly over the partitions instead: simulating
    the sample's timing and multiplying would pile a whole step's keyless records onto one
    partition.
    """
    if keyless is None:
        return messages, nbytes, "none"
    client, config, seed, step_ns = keyless_path
    messages, nbytes = messages.copy(), nbytes.copy()
    if factor == 1:
        cells = _keyless_counts(keyless, count, client, config, seed, step_ns)
        rows = cells.column("window").to_numpy() - first
        columns = cells.column("partition").to_numpy()
        np.add.at(messages, (rows, columns), cells.column("messages").to_numpy())
        np.add.at(nbytes, (rows, columns), cells.column("bytes").to_numpy())
        return messages, nbytes, f"simulated ({client})"
    rows = keyless[0] // step_ns - first
    steps = messages.shape[0]
    messages += (np.bincount(rows, minlength=steps) / count)[:, None]
    nbytes += (np.bincount(rows, weights=keyless[2], minlength=steps) / count)[:, None]
    return messages, nbytes, "spread evenly within each step (scaled: sticky runs are far shorter)"


def _scale_factor(series: _Series, keyless, target, scale, step_seconds: float) -> float:
    if scale is not None:
        return float(scale)
    if target is None:
        return 1.0
    value, unit = target
    observed = (series.messages if unit == "messages" else series.bytes).sum()
    if keyless is not None:
        observed += len(keyless[0]) if unit == "messages" else keyless[2].sum()
    duration = series.messages.shape[0] * step_seconds
    return value * duration / observed if observed else 1.0


def _smallest_consumers(arrivals, partition_count, assignor, capacity, step_seconds, slo):
    from partsim.assignors import assign_partitions

    for count in range(1, partition_count + 1):
        run = simulate_lag(arrivals, assign_partitions(partition_count, count, assignor),
                           capacity=capacity, step_seconds=step_seconds)  # fmt: skip
        if run.max_lag_seconds <= slo:
            return {"consumers": count, "max_lag_seconds": run.max_lag_seconds}
    return {"consumers": None, "reason": (
        f"even one consumer per partition ({partition_count}) leaves lag above {slo:g} s: the "
        "hottest partition alone needs more than one consumer's capacity; more partitions, a "
        "finer key or faster consumers are needed")}  # fmt: skip


def _smallest_partitions(by_count, keyless, series, factor, unit, capacity, step_seconds, slo,
                         keyless_path):  # fmt: skip
    """The smallest candidate partition count that meets the SLO with one consumer each.

    Keyed records were placed under every candidate count in the same pass; keyless records
    go through the client's keyless path again, as :func:`simulate` places them."""
    first = series.first_step
    last = first + series.messages.shape[0] - 1
    hottest = 0.0
    candidates = sorted(by_count)
    for count in candidates:
        messages, nbytes = _grid(by_count[count].windows, first, last, count)
        arrivals = (messages if unit == "messages" else nbytes) * factor
        if keyless is not None:
            zeros = np.zeros((series.messages.shape[0], count))
            loose, loose_bytes, _ = _add_keyless(zeros, zeros, keyless, first, count, factor,
                                                 keyless_path)  # fmt: skip
            arrivals += (loose if unit == "messages" else loose_bytes) * factor
        run = simulate_lag(arrivals, [[p] for p in range(count)], capacity=capacity,
                           step_seconds=step_seconds)  # fmt: skip
        hottest = float(arrivals.max() / step_seconds)
        if run.max_lag_seconds <= slo:
            return {"partitions": count, "consumers": count, "max_lag_seconds": run.max_lag_seconds}
    return {"partitions": None, "reason": (
        f"no candidate up to {max(candidates)} partitions meets {slo:g} s with one consumer "
        f"per partition: the busiest partition still peaks at {hottest:,.0f} {unit}/s against "
        f"a capacity of {capacity:,.0f}; one key may carry more than a consumer can serve "
        "(salt it, with the ordering that costs) or consumers must get faster")}  # fmt: skip
