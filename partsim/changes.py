"""What if the partition count, the producer client or the key schema changes, or hot keys
are salted? Which keys move (and with them per-key ordering), and how the load changes.

A change is a *before* and an *after* configuration: partition count, partitioner and
Schema Registry id. A key *moves* when both configurations hash it and to different
partitions; its events are then split across two partitions while the change rolls out,
which breaks per-key order for them. Keys on a keyless path in either configuration have
no fixed partition and are counted apart.

Salting appends ``-0 … -(K-1)`` to a key so that its events spread over up to K partitions.
The events of a salted key are taken as split evenly over its sub-keys (what random or
round-robin salting gives on average). Salted keys lose per-key order.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from partsim.aggregates import KeySample
from partsim.compare import evaluate
from partsim.errors import DataError, UsageError
from partsim.metrics import skew_metrics
from partsim.options import (
    EngineOptions,
    InputOptions,
    MeasureOptions,
    ProducerOptions,
    split_options,
)
from partsim.partitioners import check_partition_count, get_partitioner
from partsim.pipeline import Encoding, Scan, move_placements
from partsim.placement import Placement, place_many
from partsim.serde import display_keys, schema_prefix

__all__ = ["WhatIfResult", "salt_sample", "whatif"]


@dataclass(frozen=True)
class WhatIfResult:
    """``summary`` (JSON-ready: ``keys_moved``, ``events_moved``, ``distinct_keys``,
    ``events`` ...), ``partitions`` (load before and after), ``moves`` (the keys that move,
    heaviest first) and ``salting`` (one row per salt factor, or None)."""

    summary: dict
    partitions: pd.DataFrame
    moves: pd.DataFrame
    salting: pd.DataFrame | None = None


def salt_sample(
    sample: KeySample, salt: int, keys_to_salt: np.ndarray, separator: str = "-"
) -> KeySample:
    """The sample after salting the keys at ``keys_to_salt`` (indexes into ``sample.keys``)
    into ``salt`` sub-keys each, their events split evenly."""
    if salt <= 1 or not len(keys_to_salt):
        return sample
    table = sample.keys
    chosen = np.zeros(table.num_rows, dtype=bool)
    chosen[keys_to_salt] = True
    kept = table.filter(pa.array(~chosen))
    salted = table.filter(pa.array(chosen))
    variants = _salted(salted, salt, separator, ["count"], proportional=["bytes"])
    salted_keys = table.column("key").filter(pa.array(chosen)).combine_chunks()
    entities = _salt_rows(sample.entities, salted_keys, salt, separator, ())
    windows = _salt_rows(sample.windows, salted_keys, salt, separator, ("bytes",))
    return KeySample(
        keys=pa.concat_tables([kept, variants.select(kept.column_names).cast(kept.schema)]),
        null_events=sample.null_events,
        null_bytes=sample.null_bytes,
        events=sample.events,
        skipped_rows=sample.skipped_rows,
        entities=entities,
        windows=windows,
    )


def _salt_rows(table, salted_keys, salt: int, separator: str, proportional: tuple):
    """``table`` with its rows of salted keys split over the sub-keys (None stays None)."""
    if table is None:
        return None
    hit = pc.is_in(table.column("key"), value_set=salted_keys).fill_null(False)
    return pa.concat_tables(
        [table.filter(pc.invert(hit)),
         _salted(table.filter(hit), salt, separator, ["count"], proportional=proportional)]
    )  # fmt: skip


def _salted(
    table: pa.Table, salt: int, separator: str, counts: list[str], proportional: tuple = ()
) -> pa.Table:
    """Each row repeated ``salt`` times with key + separator + i, counts split evenly."""
    rows = table.num_rows
    repeat = np.repeat(np.arange(rows), salt)
    index = np.tile(np.arange(salt), rows)
    out = table.take(pa.array(repeat))
    suffixes = pa.array([f"{separator}{i}".encode() for i in range(salt)], pa.binary())
    keys = pc.binary_join_element_wise(
        out.column("key"), pc.take(suffixes, pa.array(index)), pa.scalar(b"", pa.binary())
    )
    columns = {name: out.column(name) for name in out.column_names}
    columns["key"] = keys
    for name in counts:
        total = table.column(name).to_numpy()[repeat]
        share = total // salt + (index < total % salt)
        columns[name] = pa.array(share.astype(np.int64))
        for other in proportional:
            value = table.column(other).to_numpy()[repeat]
            columns[other] = pa.array(
                np.where(total > 0, value * share / np.maximum(total, 1), 0.0)
            )
    result = pa.table(columns)
    return result.filter(pc.greater(result.column(counts[0]), 0))


def whatif(
    inputs: object,
    *,
    partition_count: int | None = None,
    from_partitions: int | None = None,
    to_partitions: int | None = None,
    from_partitioner: str | None = None,
    to_partitioner: str | None = None,
    from_schema_id: int | None = None,
    to_schema_id: int | None = None,
    salt: int | None = None,
    salt_hot: int | None = None,
    input_options: InputOptions | None = None,
    producer_options: ProducerOptions | None = None,
    measure_options: MeasureOptions | None = None,
    engine_options: EngineOptions | None = None,
    progress: bool = False,
    **options: object,
) -> WhatIfResult:
    """Which keys and events move when the partition count, client or key schema changes,
    and what salting hot keys does to load and to ordering.

    Give the change as ``from_partitions``/``to_partitions``, ``from_partitioner``/
    ``to_partitioner`` or ``from_schema_id``/``to_schema_id`` (unchanged settings come from
    ``partition_count``, ``partitioner`` and ``schema_id``), and/or ``salt=K`` with
    ``salt_hot=TOPK`` to salt only the heaviest keys. The other options are
    :func:`partsim.analyze`'s; ``order_by`` names the entity whose order matters (default:
    the key itself), and ``top`` how many moved keys ``moves`` lists (default: every one).

    >>> import pandas as pd
    >>> events = pd.DataFrame({"user": [f"u{i}" for i in range(1000)]})
    >>> moved = whatif(events, key="user", from_partitions=12, to_partitions=16)
    >>> round(moved.summary["keys_moved"], 2)
    0.76
    """
    if "top" not in options and measure_options is None:
        options["top"] = None  # every moved key
    producer, measures, reader, engine = split_options(
        dict(options), ProducerOptions, MeasureOptions, InputOptions, EngineOptions,
        given=(producer_options, measure_options, input_options, engine_options),
    )  # fmt: skip
    key, partitioner, schema_id = producer.key, producer.partitioner, producer.schema_id
    schema_type, seed, order_by, top = (
        producer.schema_type, producer.seed, measures.order_by, measures.top
    )  # fmt: skip
    count_before = from_partitions or partition_count
    count_after = to_partitions or partition_count
    if count_before is None or count_after is None:
        raise UsageError("give -p/--partitions, or both --from-partitions and --to-partitions")
    count_before, count_after = (
        check_partition_count(count_before),
        check_partition_count(count_after),
    )
    client_before = get_partitioner(from_partitioner or partitioner)
    client_after = get_partitioner(to_partitioner or partitioner)
    schema_before = from_schema_id if from_schema_id is not None else schema_id
    schema_after = to_schema_id if to_schema_id is not None else schema_id
    prefix_before = schema_prefix(schema_before, schema_type) if schema_before is not None else b""
    prefix_after = schema_prefix(schema_after, schema_type) if schema_after is not None else b""
    if salt is not None and (isinstance(salt, bool) or not isinstance(salt, int) or salt < 1):
        raise UsageError(f"--salt must be a whole number >= 1; got {salt!r}")
    if salt_hot is not None and (not isinstance(salt_hot, int) or salt_hot < 1):
        raise UsageError(f"--salt-hot must be a whole number >= 1; got {salt_hot!r}")
    before = (count_before, client_before.name, prefix_before)
    after = (count_after, client_after.name, prefix_after)
    if before == after and not salt:
        raise UsageError(
            "nothing changes: give --to-partitions, --to-partitioner, --to-schema-id or --salt"
        )
    from partsim.engine import run_scan

    scan = Scan(
        encodings=(Encoding(replace(producer, schema_id=None), key_placement=0, every_key=True),),
        placements=(Placement(0, client_before.name, count_before, prefix_before),
                    Placement(0, client_after.name, count_after, prefix_after)),
        measures=MeasureOptions(size=measures.size, order_by=order_by,
                                exact_keys=measures.exact_keys,
                                exact_entities=measures.exact_entities),
        strict=reader.strict, seed=seed, ordered=(0, 1) if order_by else (),
        key_order=order_by is None, moves=((0, 1),), key_sample=bool(salt),
    )  # fmt: skip
    done = run_scan(inputs, scan, input_options=reader, engine_options=engine, progress=progress)
    result = done.aggregate
    load_before, load_after = result.loads
    if load_before.events == 0:
        skipped = load_before.skipped_rows
        detail = f" ({skipped} unparsable rows skipped)" if skipped else ""
        raise DataError(f"no events in {done.label}{detail}")
    width = max(count_before, count_after)
    partitions = pd.DataFrame({
        "partition": np.arange(width),
        "messages_before": np.pad(load_before.messages, (0, width - count_before)),
        "messages_after": np.pad(load_after.messages, (0, width - count_after)),
        "bytes_before": np.pad(load_before.bytes, (0, width - count_before)),
        "bytes_after": np.pad(load_after.bytes, (0, width - count_after)),
    })  # fmt: skip
    moves, keys_summary = _moved_keys(done.scan, load_before, result.moves[0], producer, top)
    if order_by is not None:
        ordering = [result.order.report(0), result.order.report(1)]
    else:  # every key is its own entity
        ordering = [_key_ordering(done.scan, result, index) for index in (0, 1)]
    events = result.moves[0]
    summary = {
        "inputs": done.label,
        "key": key,
        "before": {"partition_count": count_before, "partitioner": client_before.name,
                   "schema_id": schema_before},
        "after": {"partition_count": count_after, "partitioner": client_after.name,
                  "schema_id": schema_after},
        "events": load_before.events,
        "skipped_rows": load_before.skipped_rows,
        "keyed_events": load_before.events - load_before.null_key_events,
        "null_key_events": load_before.null_key_events,
        **{name: keys_summary[name] for name in ("distinct_keys", "keys_compared",
                                                  "keys_keyless_before_or_after", "keys_moved")},
        "events_moved": events.events_moved / events.events_compared
        if events.events_compared
        else 0.0,
        "keys_moved_count": keys_summary["keys_moved_count"],
        "events_moved_count": events.events_moved,
        "max_mean_ratio_before": skew_metrics(load_before.messages)["max_mean_ratio"],
        "max_mean_ratio_after": skew_metrics(load_after.messages)["max_mean_ratio"],
        "ordering_before": _ordering_summary(ordering[0]),
        "ordering_after": _ordering_summary(ordering[1]),
        "order_by": order_by or "the key itself",
        "top_moves": moves.head(20).to_dict("records"),
    }  # fmt: skip
    if "key_counts" in keys_summary:
        summary["key_counts"] = keys_summary["key_counts"]
    if done.skipped_examples:
        summary["skipped_examples"] = list(done.skipped_examples)
    salting = None
    if salt:
        sample = result.sample
        if sample.entities is None:  # per-key order: every key is its own entity
            sample.entities = _keys_as_entities(sample)
        salting = _salting(sample, salt, salt_hot, client_after, count_after, prefix_after, seed)
        summary["salting"] = salting.to_dict("records")
    return WhatIfResult(summary, partitions, moves, salting)


def _moved_keys(scan: Scan, load, moves, producer: ProducerOptions, top: int | None):
    """The keys that move (heaviest first; every one unless ``top``) and the summary's key
    figures: exact from the key table, or past the exact limit, the sketches' estimates
    with their bounds (the moved keys listed are then the sketch's heavy keys)."""
    prefix = len(scan.placements[0].framing)
    if load.sketch is None:
        keys = load.keys.column("key").combine_chunks()
        counts = load.keys.column("count").to_numpy()
        bounds = None
    else:
        sketched = load.sketch.result()
        keys = sketched.keys.column("key").combine_chunks()
        counts = sketched.keys.column("count").to_numpy()
        bounds = (sketched.keys.column("count_lower").to_numpy(),
                  sketched.keys.column("count_upper").to_numpy())  # fmt: skip
    (part_before, keyless_before), (part_after, keyless_after) = move_placements(scan, keys, 0, 1)
    both = ~keyless_before & ~keyless_after
    moved = both & (part_before != part_after)
    # Heaviest first, ties by key (so the order does not depend on how the input was cut);
    # every moved key unless top.
    moved_index = np.flatnonzero(moved)
    order = pc.sort_indices(
        pa.table({"count": counts[moved_index], "key": keys.take(pa.array(moved_index))}),
        sort_keys=[("count", "descending"), ("key", "ascending")],
    ).to_numpy()[:top]
    moved_index = moved_index[order]
    frame = {
        "key": display_keys(keys.take(pa.array(moved_index)), producer.key_format, prefix),
        "count": counts[moved_index],
        "from_partition": part_before[moved_index].astype(np.int64),
        "to_partition": part_after[moved_index].astype(np.int64),
    }  # fmt: skip
    if bounds is not None:
        frame["count_lower"] = bounds[0][moved_index]
        frame["count_upper"] = bounds[1][moved_index]
    table = pd.DataFrame(frame)
    if bounds is None:
        return table, {
            "distinct_keys": len(counts),
            "keys_compared": int(both.sum()),
            "keys_keyless_before_or_after": int((~both).sum()),
            "keys_moved": float(moved.sum() / both.sum()) if both.sum() else 0.0,
            "keys_moved_count": int(moved.sum()),
        }
    compared, moved_keys = moves.keys_compared.estimate(), moves.keys_moved.estimate()
    compared_low, compared_high = moves.keys_compared.interval()
    moved_low, moved_high = moves.keys_moved.interval()
    distinct = round(sketched.distinct_total)
    share = min(1.0, moved_keys / compared) if compared else 0.0
    interval = [moved_low / compared_high if compared_high else 0.0,
                min(1.0, moved_high / compared_low) if compared_low else 1.0]  # fmt: skip
    return table, {
        "distinct_keys": distinct,
        "keys_compared": round(compared),
        "keys_keyless_before_or_after": max(0, distinct - round(compared)),
        "keys_moved": share,
        "keys_moved_count": round(moved_keys),
        "key_counts": {
            "method": "sketch",
            "exact_keys": scan.measures.exact_keys,
            "keys_moved_interval": interval,
            "keys_moved_count_interval": [moved_low, moved_high],
            "keys_compared_interval": [compared_low, compared_high],
            "distinct_keys_interval": [sketched.distinct_lower, sketched.distinct_upper],
            "moved_key_count_error_bound": sketched.count_error,
            "note": (
                f"more than {scan.measures.exact_keys:,} distinct keys: keys_moved and the "
                "key counts are HyperLogLog estimates (95% intervals here), and moves lists "
                "only the heavy keys the frequent-items sketch holds, each count within "
                "count_lower..count_upper; events_moved, events_moved_count and the "
                "per-partition load are exact"
            ),
        },
    }


def _key_ordering(scan: Scan, result, index: int) -> dict:
    """Per-key ordering under placement ``index``: a key with two or more events keeps its
    order unless the client puts it on the keyless path, which only the empty key (and every
    key, for a client that ignores keys) can take, a null key being no key. Exact from the
    key table. Past the exact-key limit, the keys with 2+ events are estimated from a hash
    sample of keys (with a 95% interval) and their events as all keyed events less the
    sample's one-event keys; which keys break order (the empty key) stays exact."""
    placement, client = scan.placements[index], scan.clients[index]
    load = result.loads[0]
    framing = len(scan.placements[0].framing)  # the key table's keys carry the first framing
    if load.sketch is None:
        keys = load.keys.column("key").combine_chunks()
        counts, scale, empty_events = load.keys.column("count").to_numpy(), 1, None
    else:
        keys, counts, scale = result.key_counts[0].counts()
        empty_events = result.empty_key_events[0]
    payload_empty = pc.equal(pc.binary_length(keys), framing).to_numpy(zero_copy_only=False)
    if empty_events is not None:  # the empty key is counted apart, exactly
        keys, counts = keys.filter(pa.array(~payload_empty)), counts[~payload_empty]
        payload_empty = np.zeros(len(counts), dtype=bool)
    if placement.framing != scan.placements[0].framing and len(keys):
        from partsim.placement import frame

        longest = pc.max(pc.binary_length(keys)).as_py() or framing
        keys = frame(pc.binary_slice(keys, framing, max(longest, framing)), placement.framing)
    keyless = place_many(keys, [(client, placement.partition_count)])[0][1] if len(keys) else (
        np.zeros(0, dtype=bool))  # fmt: skip
    multi = counts >= 2
    entities = int(multi.sum()) * scale
    multi_events = int(counts[multi].sum())
    if scale > 1:  # all keyed events (exact) less the sampled one-event keys, scaled up: a
        # few heavy keys in or out of the sample would swing a scaled sum of their events
        keyed = load.events - load.null_key_events - (empty_events or 0)
        multi_events = max(keyed - int((counts == 1).sum()) * scale, 2 * entities)
    broken_events = int(counts[multi & keyless].sum()) * scale
    broken = int((multi & keyless).sum()) * scale
    if empty_events is not None and empty_events >= 2:
        entities += 1
        multi_events += empty_events
        empty_keyless = client.ignores_keys or client.empty_key in ("keyless", "reject")
        if empty_keyless:
            broken, broken_events = broken + 1, broken_events + empty_events
    if client.ignores_keys:
        broken, broken_events = entities, multi_events
    out = {
        "ordering_preserved": (entities - broken) / entities if entities else 1.0,
        "events_at_risk": broken_events / multi_events if multi_events else 0.0,
        "entities_with_2_or_more_events": entities,
    }
    if scale > 1:  # the sampled keys with 2+ events: a Poisson count, scaled up
        sampled = int(multi.sum())
        exact = entities - sampled * scale
        spread = 1.96 * math.sqrt(sampled)
        out["method"] = f"sample of 1 in {scale} keys (the keys that break order: exact)"
        out["entities_with_2_or_more_events_interval"] = [
            exact + max(0.0, sampled - spread) * scale,
            exact + (sampled + spread) * scale,
        ]
    return out


def _keys_as_entities(sample: KeySample) -> pa.Table:
    """Per-key ordering: each key is the entity whose events must stay in order."""
    keys = sample.keys
    return pa.table({"entity": keys.column("key"), "key": keys.column("key"),
                     "count": keys.column("count")})  # fmt: skip


def _ordering_summary(ordering: dict | None) -> dict | None:
    if ordering is None:
        return None
    names = ("ordering_preserved", "events_at_risk", "entities_with_2_or_more_events",
             "method", "ordering_preserved_interval", "events_at_risk_interval",
             "entities_with_2_or_more_events_interval")  # fmt: skip
    return {name: ordering[name] for name in names if name in ordering}


def _salting(sample, salt, salt_hot, client, count, prefix, seed) -> pd.DataFrame:
    counts = sample.keys.column("count").to_numpy()
    hot = np.argsort(-counts, kind="stable")
    targets = hot[:salt_hot] if salt_hot else hot
    rows = []
    for factor in range(1, salt + 1):
        salted = salt_sample(sample, factor, targets)
        result = evaluate(salted, client, count, seed=seed, prefix=prefix)
        rows.append({
            "salt": factor,
            "salted_keys": len(targets) if factor > 1 else 0,
            "max_mean_ratio": result.metrics["max_mean_ratio"],
            "hottest_partition_share": result.metrics["hottest_partition_share"],
            "ordering_preserved": result.ordering["ordering_preserved"],
            "events_at_risk": result.ordering["events_at_risk"],
        })  # fmt: skip
    return pd.DataFrame(rows)
