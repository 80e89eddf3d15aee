"""``partsim analyze``: per-partition load, skew and hot keys from a sample of events.

The command is a view of the pipeline's results. The engine (:mod:`partsim.engine`) reads the
events and aggregates them with a :class:`~partsim.pipeline.BatchPlan` into a mergeable
:class:`~partsim.aggregates.LoadAggregate`; :func:`finish` turns that into an
:class:`AnalysisResult`: the tables, the skew metrics (:mod:`partsim.metrics`), the
best-possible and random-placement references (:mod:`partsim.reference`), per-window load
(:mod:`partsim.windows`), ordering (:mod:`partsim.ordering`) and a one-line verdict.

Keyless records (null keys, and empty keys where the client treats them as null) take the
client's keyless path. Their partition is drawn from a counter-based generator keyed by
``seed`` and the record's position among keyless records, so the result does not depend on
how the input was split into batches.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from partsim.aggregates import LoadAggregate
from partsim.errors import DataError, UsageError
from partsim.metrics import skew_metrics
from partsim.options import (
    EngineOptions,
    InputOptions,
    MeasureOptions,
    ProducerOptions,
    split_options,
)
from partsim.pipeline import BatchPlan, plan_result
from partsim.reference import uniform_reference
from partsim.serde import key_display
from partsim.sketch import LG_K, LG_MAX_MAP_SIZE, LONG_KEY, SHOWN_PREFIX, SketchedKeys
from partsim.windows import window_table

__all__ = ["AnalysisResult", "analyze", "finish"]


@dataclass(frozen=True)
class AnalysisResult:
    """What ``partsim analyze`` found: a JSON-ready summary and tables as DataFrames.

    ``partitions`` has one row per partition (``partition, messages, bytes, share,
    ratio_to_mean, distinct_keys, top_key, top_key_share, keyed_messages``, the last being
    the messages whose partition came from their key rather than the keyless path);
    ``hot_keys`` the top keys (``key, count, bytes, share, partition``); ``windows`` the
    per-window load (``window_start, partition, messages, bytes, messages_per_second``), or
    None without a timestamp.
    """

    summary: dict
    partitions: pd.DataFrame
    hot_keys: pd.DataFrame
    windows: pd.DataFrame | None = None

    def __repr__(self) -> str:
        s = self.summary
        return (
            f"<AnalysisResult {s['events']:,} events, {s['distinct_keys']:,} keys, "
            f"{s['partition_count']} partitions ({s['partitioner']}): max/mean "
            f"{s['max_mean_ratio']:.2f}, hottest partition {s['hottest_partition']} "
            f"({s['hottest_partition_share']:.1%})>"
        )


def finish(
    aggregate: LoadAggregate,
    plan: BatchPlan,
    *,
    inputs: str = "",
) -> AnalysisResult:
    """Turn an aggregate into the result: tables, skew metrics and the two references (the
    plan's measures give how many hot keys, its producer the seed of the reference)."""
    producer, measures = plan.producer, plan.measures
    top = measures.top if measures.top is not None else 20
    count = aggregate.partition_count
    if aggregate.events == 0:
        raise DataError(
            "no events to analyze"
            + (
                f": {aggregate.skipped_rows} rows were skipped as unparsable"
                if aggregate.skipped_rows
                else ""
            )
        )
    show = key_display(producer.key_serializer())
    sketched = aggregate.sketch.result() if aggregate.sketch is not None else None
    keys = aggregate.keys if sketched is None else sketched.keys
    all_counts = keys.column("count").to_numpy()
    if sketched is None:  # a hashed key's partition is a function of its bytes: hash once
        all_partitions = plan.partitioner.hashed_partitions(keys.column("key"), count)[0]
    else:  # as hashed when counted (a long key is only shown by its prefix)
        all_partitions = keys.column("partition").to_numpy()
        keys = keys.drop_columns(["partition"])
    hot = min(top, keys.num_rows)
    if sketched is None:
        distinct = np.bincount(all_partitions, minlength=count)
        distinct_keys = len(all_counts)
        # Only the hot keys and each partition's top key need ordering: sort those
        # candidates (ties by key), not the whole distinct-key table.
        best = np.zeros(count, dtype=np.int64)
        np.maximum.at(best, all_partitions, all_counts)
        kth = np.partition(all_counts, keys.num_rows - hot)[keys.num_rows - hot] if hot else np.inf
        candidates = (all_counts >= kth) | (all_counts == best[all_partitions])
        keys = keys.filter(pa.array(candidates))
        key_partitions = all_partitions[candidates]
    else:  # every key heavier than the sketch's error bound is a candidate already
        distinct, distinct_keys = sketched.distinct, round(sketched.distinct_total)
        key_partitions = all_partitions
    keys = keys.append_column("partition", pa.array(key_partitions))
    keys = keys.sort_by([("count", "descending"), ("key", "ascending")])
    key_counts = keys.column("count").to_numpy()
    key_bytes_sum = keys.column("bytes").to_numpy()
    key_partitions = keys.column("partition").to_numpy()
    raw_keys = keys.column("key")
    total = aggregate.events
    total_bytes = float(aggregate.bytes.sum())

    hot_keys = pd.DataFrame(
        {
            "key": [show(k) for k in raw_keys.slice(0, hot).to_pylist()],
            "count": key_counts[:hot],
            "bytes": key_bytes_sum[:hot],
            "share": key_counts[:hot] / total,
            "partition": key_partitions[:hot],
        }
    )
    if sketched is not None:
        hot_keys.insert(2, "count_lower", keys.column("count_lower").to_numpy()[:hot])
        hot_keys.insert(3, "count_upper", keys.column("count_upper").to_numpy()[:hot])

    # Top key of each partition: candidates are sorted by count, so the first seen wins.
    first_index = np.full(count, -1)
    if keys.num_rows:
        order = np.arange(keys.num_rows)
        seen = np.full(count, keys.num_rows)
        np.minimum.at(seen, key_partitions, order)
        first_index = np.where(seen < keys.num_rows, seen, -1)
    top_raw = [raw_keys[int(i)].as_py() if i >= 0 else None for i in first_index]
    top_counts = np.array([key_counts[i] if i >= 0 else 0 for i in first_index], dtype=float)
    messages = aggregate.messages
    mean = total / count
    partitions = pd.DataFrame(
        {
            "partition": np.arange(count),
            "messages": messages,
            "bytes": aggregate.bytes,
            "share": messages / total,
            "ratio_to_mean": messages / mean,
            "distinct_keys": distinct,
            "top_key": [None if k is None else show(k) for k in top_raw],
            "top_key_share": np.divide(
                top_counts, messages, out=np.zeros(count), where=messages > 0
            ),
            "keyed_messages": aggregate.keyed_messages,
        }
    )

    metrics = skew_metrics(messages)
    keyed = skew_metrics(aggregate.keyed_messages)
    top_share = float(key_counts[0] / total) if keys.num_rows else 0.0
    summary: dict[str, object] = {
        "inputs": inputs,
        "key": plan.encoder.label,
        **producer.key_serializer().summary(),
        "partitioner": plan.partitioner.name,
        "partition_count": count,
        "events": total,
        "keyed_events": total - aggregate.null_key_events,
        "null_key_events": aggregate.null_key_events,
        "keyless_events": aggregate.keyless_events,
        "skipped_rows": aggregate.skipped_rows,
        "distinct_keys": distinct_keys,
        "key_counts": _key_counts_note(aggregate, sketched),
        "bytes": total_bytes,
        "size_source": plan.size_source,
        **metrics,
        "max_mean_ratio_bytes": skew_metrics(aggregate.bytes)["max_mean_ratio"],
        "best_possible_max_mean_ratio": max(1.0, count * top_share),
        # Sorted, so the simulation does not depend on the key table's order (batching).
        "uniform_placement": uniform_reference(
            np.sort(all_counts if sketched is None else sketched.keys["count_lower"].to_numpy()),
            aggregate.keyless_events,
            count,
            seed=producer.seed,
            tail=_tail(aggregate, sketched),
        ),
        "keyed_only": {
            "events": int(aggregate.keyed_messages.sum()),
            **{
                k: keyed[k]
                for k in (
                    "max_mean_ratio",
                    "cv",
                    "gini",
                    "jain",
                    "entropy",
                    "hottest_partition",
                    "hottest_partition_share",
                )
            },
        },
        "top_keys": [
            {
                "key": row.key,
                "count": int(row.count),
                "share": float(row.share),
                "partition": int(row.partition),
            }
            for row in hot_keys.itertuples()
        ],
    }
    if aggregate.order is not None:
        summary["order_by"] = measures.order_by
        summary["ordering"] = aggregate.order.report(0)
    summary["verdict"] = _verdict(summary)
    windows = None
    if measures.timestamp and aggregate.windows.num_rows:
        windows, window_summary = window_table(
            aggregate.windows, count, plan.window_ns, aggregate.first_ns, aggregate.last_ns
        )
        summary["windows"] = window_summary
    return AnalysisResult(
        summary=summary, partitions=partitions, hot_keys=hot_keys, windows=windows
    )


def _tail(aggregate: LoadAggregate, sketched: SketchedKeys | None) -> tuple[int, float]:
    """The sketched events its counters do not hold, as (keys, even weight each).

    The candidates enter the reference with their lower bounds (the sketch's counters); the
    rest of the keyed events is known exactly (keyed events less the counters), their spread
    over keys is not, and an even spread gives the least hash noise they can add."""
    if sketched is None:
        return 0, 0.0
    keys = sketched.keys.num_rows
    rest_keys = max(0, round(sketched.distinct_total) - keys)
    kept = int(pc.sum(sketched.keys["count_lower"]).as_py() or 0)  # the sketch's counters
    rest = int(aggregate.keyed_messages.sum()) - kept
    if rest_keys == 0 or rest <= 0:
        return 0, 0.0
    return rest_keys, rest / rest_keys


def _key_counts_note(aggregate: LoadAggregate, sketched: SketchedKeys | None) -> dict:
    """How hot keys and distinct keys were counted: exactly, or by sketches with bounds."""
    limits = {"exact_keys": aggregate.key_limit, "exact_key_bytes": aggregate.key_bytes_limit}
    if sketched is None:
        return {"method": "exact", **limits}
    reason = aggregate.sketch_reason or f"more than {aggregate.key_limit:,} distinct keys"
    digested = int(pc.sum(sketched.keys["digested"]).as_py() or 0)
    long_keys = (
        f"; {digested:,} candidate hot keys are longer than {LONG_KEY} bytes: counted by a "
        f"128-bit digest of the whole key, shown by their first {SHOWN_PREFIX} bytes and '…'"
        if digested else ""
    )  # fmt: skip
    return {
        "method": "sketch",
        **limits,
        "reason": reason,
        "digested_keys": digested,
        "sketches": f"Apache DataSketches frequent items (lg_max_map_size {LG_MAX_MAP_SIZE}) "
        f"and HLL (lg_k {LG_K}, per partition)",
        "count_error_bound": sketched.count_error,
        "bytes_error_bound": sketched.bytes_error,
        "distinct_keys_lower": sketched.distinct_lower,
        "distinct_keys_upper": sketched.distinct_upper,
        "note": (
            f"{reason}: hot-key counts are estimates "
            f"within ±{sketched.count_error:,} events, distinct keys within "
            f"{sketched.distinct_lower:,.0f}–{sketched.distinct_upper:,.0f} (95%); "
            f"per-partition messages and bytes are exact{long_keys}"
        ),
    }


def _verdict(summary: dict) -> str:
    """One sentence that tells key skew from hash noise."""
    ratio = summary["max_mean_ratio"]
    best = summary["best_possible_max_mean_ratio"]
    noise = summary["uniform_placement"]
    hottest = summary["hottest_partition"]
    if summary["partition_count"] == 1:
        return "One partition: there is nothing to balance."
    if best > 1.05 and ratio >= 0.9 * best:
        return (
            f"Partition {hottest} carries {ratio:.2f}× the mean, and no placement can do better "
            f"than {best:.2f}×: its top key alone outweighs a partition's fair share. Salt or "
            "split that key, or choose a finer key."
        )
    if ratio <= noise["p95"]:
        return (
            f"Partition {hottest} carries {ratio:.2f}× the mean, within what random placement of "
            f"these keys gives ({noise['p05']:.2f}–{noise['p95']:.2f}×): hash noise, not key skew."
        )
    return (
        f"Partition {hottest} carries {ratio:.2f}× the mean, above the {noise['p95']:.2f}× that "
        f"random placement of these keys reaches 95% of the time: heavy keys happen to share it "
        "(key skew). More partitions or a different key spread it."
    )


def analyze(
    inputs: object,
    *,
    partition_count: int | None = None,
    input_options: InputOptions | None = None,
    producer_options: ProducerOptions | None = None,
    measure_options: MeasureOptions | None = None,
    engine_options: EngineOptions | None = None,
    progress: bool = False,
    **options: object,
) -> AnalysisResult:
    """Analyze how the keys of a sample of events spread over ``partition_count`` partitions.

    ``inputs`` is a path, a glob, several of them, ``"-"`` for stdin, a pandas DataFrame or a
    pyarrow Table. The options come as objects (:mod:`partsim.options`) or as their fields
    by name, which override the objects:

    * how to read (:class:`~partsim.options.InputOptions`): ``format``, ``delimiter``,
      ``regex``, ``strict``, ``batch_rows``;
    * the producer (:class:`~partsim.options.ProducerOptions`): ``key`` (a column or a
      template such as ``"{region}:{customer_id}"``), ``partitioner``, ``key_format``,
      ``schema_id``, ``schema_type``, ``key_schema`` and ``key_message`` (keys with a
      schema; with a record schema ``key`` may be left out, each field then coming from
      the column of its name; a key the schema cannot hold makes its row unparsable),
      ``null_field_as_empty``, ``seed``;
    * the measures (:class:`~partsim.options.MeasureOptions`): ``size`` (bytes per event;
      default key plus value size where the input has ``value_size``, else 1),
      ``timestamp`` (for per-window load) and ``window``, ``order_by`` (the entity whose
      events must stay in order: ``summary["ordering"]``), ``top`` hot keys, and
      ``exact_keys`` (past it, hot keys and distinct counts come from sketches:
      ``summary["key_counts"]`` gives their bounds; :mod:`partsim.sketch`);
    * the engine (:class:`~partsim.options.EngineOptions`): ``engine="dask"`` (or a dask
      DataFrame as ``inputs``) computes the same aggregates on a Dask cluster at
      ``scheduler`` (default: a local cluster), in pieces of ``blocksize`` bytes.

    Returns an :class:`AnalysisResult`, which does not depend on ``batch_rows``.

    >>> import pandas as pd
    >>> events = pd.DataFrame({"customer": ["a", "b", "a", None]})
    >>> result = analyze(events, key="customer", partition_count=3)
    >>> result.summary["events"], result.summary["null_key_events"], result.summary["distinct_keys"]
    (4, 1, 2)
    """
    from partsim.engine import run_scan

    producer, measures, reader, engine = split_options(
        dict(options), ProducerOptions, MeasureOptions, InputOptions, EngineOptions,
        given=(producer_options, measure_options, input_options, engine_options),
    )  # fmt: skip
    if measures.top is None:
        raise UsageError(f"--top must be a whole number >= 0; got {measures.top!r}")
    plan = BatchPlan(producer, partition_count, measures, strict=reader.strict)
    done = run_scan(
        inputs, plan.scan(), input_options=reader, engine_options=engine, progress=progress
    )
    plan = replace(plan, value_sizes=done.scan.value_sizes,
                   record_columns=done.scan.encodings[0].record_columns)  # fmt: skip
    return finish_run(plan_result(done.aggregate), plan, done.label, done.skipped_examples)


def finish_run(
    aggregate: LoadAggregate,
    plan: BatchPlan,
    label: str,
    skipped_examples: Sequence[str],
) -> AnalysisResult:
    """:func:`finish` for a whole input called ``label``, which must hold events."""
    if aggregate.events == 0:
        skipped = aggregate.skipped_rows  # rows the reader and the plan both skipped
        detail = f" ({skipped} unparsable rows skipped)" if skipped else ""
        raise DataError(f"no events in {label}{detail}")
    result = finish(aggregate, plan, inputs=label)
    if skipped_examples:
        result.summary["skipped_examples"] = list(skipped_examples)
    return result
