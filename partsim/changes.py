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
from partsim.compare import _key_partitions, evaluate
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
from partsim.pipeline import (
    Encoding,
    Scan,
    check_analysis_partitions,
    move_placements,
    side_keys,
)
from partsim.placement import Placement, keyless_fill, place_many
from partsim.schemas import KeyFormat
from partsim.serde import display_keys, key_display

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
    repeat = np.repeat(np.arange(table.num_rows), salt)
    out = table.take(pa.array(repeat))
    columns = {name: out.column(name) for name in out.column_names}
    columns["key"] = _sub_keys(table.column("key"), salt, separator)
    for name in counts:
        total = table.column(name).to_numpy()[repeat]
        share = _shares(table.column(name).to_numpy(), salt).ravel()
        columns[name] = pa.array(share.astype(np.int64))
        for other in proportional:
            value = table.column(other).to_numpy()[repeat]
            columns[other] = pa.array(
                np.where(total > 0, value * share / np.maximum(total, 1), 0.0)
            )
    result = pa.table(columns)
    return result.filter(pc.greater(result.column(counts[0]), 0))


def _sub_keys(keys: pa.Array | pa.ChunkedArray, salt: int, separator: str) -> pa.Array:
    """Each key's ``salt`` sub-keys, key + separator + i, key by key."""
    count = len(keys)
    suffixes = pa.array([f"{separator}{i}".encode() for i in range(salt)], pa.binary())
    return pc.binary_join_element_wise(
        pc.take(keys, pa.array(np.repeat(np.arange(count), salt))).cast(pa.binary()),
        pc.take(suffixes, pa.array(np.tile(np.arange(salt), count))), pa.scalar(b"", pa.binary()),
    )  # fmt: skip


def _shares(counts: np.ndarray, salt: int) -> np.ndarray:
    """Each key's events split evenly over its ``salt`` sub-keys (a row per key): sub-key i
    takes ``count // salt``, plus one while i < ``count % salt``."""
    return counts[:, None] // salt + (np.arange(salt) < counts[:, None] % salt)


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
    from_key_format: str | None = None,
    to_key_format: str | None = None,
    from_key_schema: str | None = None,
    to_key_schema: str | None = None,
    from_key_message: str | None = None,
    to_key_message: str | None = None,
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
    ``to_partitioner``, ``from_schema_id``/``to_schema_id``, ``from_key_format``/
    ``to_key_format``, ``from_key_schema``/``to_key_schema`` or ``from_key_message``/
    ``to_key_message`` (unchanged settings come from ``partition_count``, ``partitioner``
    and the producer's key options), and/or ``salt=K`` with ``salt_hot=TOPK`` to salt only
    the heaviest keys. When the key's format or schema changes, each record's key is
    serialized both ways, as each side's producer would; records whose key one side's schema
    cannot hold are left out of both and counted (``events_unrepresentable``, and their
    distinct source keys, ``keys_unrepresentable``). The other options are
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
    partitioner, schema_id = producer.partitioner, producer.schema_id
    seed, order_by, top = producer.seed, measures.order_by, measures.top
    count_before = from_partitions or partition_count
    count_after = to_partitions or partition_count
    if count_before is None or count_after is None:
        raise UsageError("give -p/--partitions, or both --from-partitions and --to-partitions")
    count_before, count_after = (
        check_partition_count(count_before),
        check_analysis_partitions(count_after),
    )
    client_before = get_partitioner(from_partitioner or partitioner)
    client_after = get_partitioner(to_partitioner or partitioner)
    side_before = replace(
        producer, partitioner=client_before.name,
        schema_id=from_schema_id if from_schema_id is not None else schema_id,
        **_given(key_format=from_key_format, key_schema=from_key_schema,
                 key_message=from_key_message),
    )  # fmt: skip
    side_after = replace(
        producer, partitioner=client_after.name,
        schema_id=to_schema_id if to_schema_id is not None else schema_id,
        **_given(key_format=to_key_format, key_schema=to_key_schema, key_message=to_key_message),
    )  # fmt: skip
    key_before, key_after = side_before.key_serializer(), side_after.key_serializer()
    payload_changes = _payload(key_before) != _payload(key_after)
    if salt is not None and (isinstance(salt, bool) or not isinstance(salt, int) or salt < 1):
        raise UsageError(f"--salt must be a whole number >= 1; got {salt!r}")
    if salt_hot is not None and (not isinstance(salt_hot, int) or salt_hot < 1):
        raise UsageError(f"--salt-hot must be a whole number >= 1; got {salt_hot!r}")
    before = (count_before, client_before.name, key_before)
    after = (count_after, client_after.name, key_after)
    if before == after and not salt:
        raise UsageError(
            "nothing changes: give --to-partitions, --to-partitioner, --to-schema-id, "
            "--to-key-format, --to-key-schema or --salt"
        )
    if payload_changes and salt:
        raise UsageError("--salt compares one key serializer: change the key format or "
                         "schema, or salt, not both at once")  # fmt: skip
    from partsim.engine import run_scan

    change = _Change(count_before, count_after, client_before, client_after, key_before,
                     key_after, order_by, top, seed)  # fmt: skip
    scan = _scan(change, side_before, side_after, measures, reader, payload_changes, salt)
    done = run_scan(inputs, scan, input_options=reader, engine_options=engine, progress=progress)
    result = done.aggregate
    load_before, load_after = result.loads
    unrepresentable = result.unrepresentable
    left_out = 0 if unrepresentable is None else unrepresentable.events
    skipped = load_before.skipped_rows - left_out  # the rows that did not parse
    if load_before.events == 0 and left_out:
        raise DataError(f"no events in {done.label}: the key schemas cannot both hold any key "
                        f"({left_out:,} events left out)")  # fmt: skip
    _check_events(load_before.events, skipped, done.label)
    partitions = _partition_table(load_before, load_after, count_before, count_after)
    moves, keys_summary = _moved_keys(done.scan, load_before, result.moves[0], key_before, top)
    if order_by is not None:
        ordering = [result.order.report(0), result.order.report(1)]
    else:  # every key is its own entity
        ordering = [_key_ordering(done.scan, result, index) for index in (0, 1)]
    events = result.moves[0]
    summary = {
        "inputs": done.label,
        "key": _key_label(done.scan),
        **change.sides(),
        "key_bytes_change": payload_changes or key_before.prefix() != key_after.prefix(),
        "events": load_before.events,
        "size_source": done.scan.size_source,
        "skipped_rows": skipped,
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
    if unrepresentable is not None or payload_changes:
        keys_left_out, keys_interval = (0.0, None) if unrepresentable is None else (
            unrepresentable.keys, unrepresentable.interval())  # fmt: skip
        summary["keys_unrepresentable"] = round(keys_left_out)
        summary["events_unrepresentable"] = left_out
        if unrepresentable is not None and unrepresentable.sketch is not None:
            keys_summary.setdefault("key_counts", {"method": "sketch"})
            keys_summary["key_counts"]["keys_unrepresentable_interval"] = list(keys_interval)
    if "key_counts" in keys_summary:
        summary["key_counts"] = keys_summary["key_counts"]
    if summary["key_bytes_change"]:
        summary["key_change"] = _key_change_note(key_before, key_after, summary, count_after)
    if done.skipped_examples:
        summary["skipped_examples"] = list(done.skipped_examples)
    salting = None
    if salt and order_by is None:
        salting, method = _salting_streamed(done.scan, result, salt, salt_hot, change)
        if method:
            summary["salting_method"] = method
        summary["salting"] = salting.to_dict("records")
    elif salt:  # per-entity order: from the exact (entity, key) sample
        salting = _salting(result.sample, salt, salt_hot, client_after, count_after,
                           key_after.prefix(), seed)  # fmt: skip
        summary["salting"] = salting.to_dict("records")
    return WhatIfResult(summary, partitions, moves, salting)


@dataclass(frozen=True)
class _Change:
    """The two configurations a what-if compares, and what it reports of them."""

    count_before: int
    count_after: int
    client_before: object  # a Partitioner
    client_after: object
    key_before: KeyFormat
    key_after: KeyFormat
    order_by: str | None
    top: int | None
    seed: int

    def sides(self) -> dict:
        return {
            "before": {"partition_count": self.count_before,
                       "partitioner": self.client_before.name, **self.key_before.summary()},
            "after": {"partition_count": self.count_after,
                      "partitioner": self.client_after.name, **self.key_after.summary()},
        }  # fmt: skip


def _check_events(events: int, skipped: int, label: str) -> None:
    if events == 0:
        detail = f" ({skipped} unparsable rows skipped)" if skipped else ""
        raise DataError(f"no events in {label}{detail}")


def _partition_table(load_before, load_after, count_before: int, count_after: int):
    """Messages and bytes per partition, before and after."""
    width = max(count_before, count_after)
    return pd.DataFrame({
        "partition": np.arange(width),
        "messages_before": np.pad(load_before.messages, (0, width - count_before)),
        "messages_after": np.pad(load_after.messages, (0, width - count_after)),
        "bytes_before": np.pad(load_before.bytes, (0, width - count_before)),
        "bytes_after": np.pad(load_after.bytes, (0, width - count_after)),
    })  # fmt: skip


def _scan(change: _Change, side_before: ProducerOptions, side_after: ProducerOptions,
          measures: MeasureOptions, reader: InputOptions, payload_changes: bool,
          salt: int | None) -> Scan:  # fmt: skip
    """The one pass a what-if makes: every record placed before and after, and compared.

    When the payload is the same on both sides, the scan serializes it once, and each side's
    placement frames it as that side does (its Schema Registry id; for Protobuf, with the
    message indexes). When the key's format or schema changes, each side serializes the key
    from the columns as its own producer would, and the scan is paired: a record that either
    side cannot hold is left out of both, and a key is a distinct pair of serialized keys."""
    order_by = change.order_by
    measured = MeasureOptions(size=measures.size, order_by=order_by,
                              exact_keys=measures.exact_keys,
                              exact_key_bytes=measures.exact_key_bytes,
                              exact_entities=measures.exact_entities)  # fmt: skip
    names = (change.client_before.name, change.client_after.name)
    counts = (change.count_before, change.count_after)
    if payload_changes:
        encodings, placements = [], []
        for number, side in enumerate((side_before, side_after)):
            framing = side.framing()
            record = (side.key_serializer().serializer() or _NotRecord).is_record
            encodings.append(Encoding(
                side, option="--key", weight_framing=framing,
                key_placement=0 if number == 0 else None, every_key=True,
                record_producers=(side,) if record and side.key is None else (),
            ))  # fmt: skip
            placements.append(Placement(number, names[number], counts[number], framing))
    else:
        encodings = [Encoding(side_before, key_placement=0, every_key=True)]
        keys = (change.key_before, change.key_after)
        placements = [Placement(0, names[number], counts[number], keys[number].prefix())
                      for number in (0, 1)]  # fmt: skip
    return Scan(
        encodings=tuple(encodings), placements=tuple(placements), measures=measured,
        strict=reader.strict, seed=change.seed, ordered=(0, 1) if order_by else (),
        key_order=order_by is None, moves=((0, 1),),
        key_sample=bool(salt and order_by),
        paired=payload_changes,
    )  # fmt: skip


def _key_label(scan: Scan) -> str:
    """The key as the summary names it: a record key's fields, on either side."""
    first = scan.encoders[0]
    if not scan.paired or first.design is not None:
        return first.label
    fields = {path: column for encoder in scan.encoders for path, column in encoder.record_columns}
    return replace(first, record_columns=tuple(fields.items())).label


def _moved_keys(scan: Scan, load, moves, key: KeyFormat, top: int | None):
    """The keys that move (heaviest first; every one unless ``top``) and the summary's key
    figures: exact from the key table, or past the exact limit, the sketches' estimates
    with their bounds (the moved keys listed are then the sketch's heavy keys)."""
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
    # every moved key unless top. A paired scan's keys are pairs: ties by the pair, shown as
    # the key before.
    moved_index = np.flatnonzero(moved)
    order = pc.sort_indices(
        pa.table({"count": counts[moved_index], "key": keys.take(pa.array(moved_index))}),
        sort_keys=[("count", "descending"), ("key", "ascending")],
    ).to_numpy()[:top]
    moved_index = moved_index[order]
    frame = {
        "key": _shown(side_keys(scan, keys.take(pa.array(moved_index)), 0, 0), key),
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
        # Which keys are keyless is known key by key (the empty key; every key for a client
        # that ignores keys), not the gap between two estimates.
        "keys_keyless_before_or_after": round(moves.keys_keyless.estimate()),
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


def _key_ordering(scan: Scan, result, index: int, salted: tuple[int, int] = (0, 0)) -> dict:
    """Per-key ordering under placement ``index``: a key with two or more events keeps its
    order unless the client puts it on the keyless path, which only the empty key (and every
    key, for a client that ignores keys) can take, a null key being no key. Exact from the
    key table. Past the exact-key limit, the keys with 2+ events are estimated from a hash
    sample of keys (with a 95% interval) and their events as all keyed events less the
    sample's one-event keys; which keys break order (the empty key) stays exact. ``salted``
    adds (keys, events) that salting breaks, or mends, to the broken ones."""
    placement, client = scan.placements[index], scan.clients[index]
    load = result.loads[0]
    if load.sketch is None:
        keys = load.keys.column("key").combine_chunks()
        counts, scale, empty_events = load.keys.column("count").to_numpy(), 1, None
    else:
        keys, counts, scale = result.key_counts[0].counts()
        empty_events = result.empty_key_events[placement.encoding]
    # The key table's keys as this placement sends them (framed its way; its side of a pair).
    keys = side_keys(scan, keys, 0, index)
    if scan.paired and len(keys):  # pairs that share this side's key are one key here
        merged = pa.table({"key": keys, "count": counts}).group_by("key").aggregate(
            [("count", "sum")]
        )  # fmt: skip
        keys = merged.column("key").combine_chunks()
        counts = merged.column("count_sum").to_numpy()
    payload_empty = pc.equal(pc.binary_length(keys), len(placement.framing)).fill_null(False)
    payload_empty = payload_empty.to_numpy(zero_copy_only=False)
    if empty_events is not None:  # the empty key is counted apart, exactly
        keys, counts = keys.filter(pa.array(~payload_empty)), counts[~payload_empty]
        payload_empty = np.zeros(len(counts), dtype=bool)
    keyless = place_many(keys, [(client, placement.partition_count)])[0][1] if len(keys) else (
        np.zeros(0, dtype=bool))  # fmt: skip
    multi = counts >= 2
    entities = int(multi.sum()) * scale
    multi_events = int(counts[multi].sum())
    if scale > 1:  # all keyed events (exact) less the sampled one-event keys, scaled up: a
        # few heavy keys in or out of the sample would swing a scaled sum of their events
        keyed = load.events - load.null_key_events - (empty_events or 0)
        multi_events = max(keyed - int((counts == 1).sum()) * scale, 2 * entities)
    broken_events = int(counts[multi & keyless].sum()) * scale + salted[1]
    broken = int((multi & keyless).sum()) * scale + salted[0]
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


def _shown(keys: pa.Array, key: KeyFormat) -> list[str]:
    """Serialized keys (framed) as the user wrote them: at Arrow's speed for a raw format,
    decoded by the schema otherwise."""
    if key.serializer() is None:
        return display_keys(keys, key.key_format, len(key.prefix()))
    show = key_display(key)
    return [show(raw) for raw in keys.to_pylist()]


def _given(**options: object) -> dict:
    """The options that were given (not None)."""
    return {name: value for name, value in options.items() if value is not None}


class _NotRecord:
    is_record = False


def _key_change_note(before: KeyFormat, after: KeyFormat, summary: dict, count: int) -> str:
    """The plain statement of what a change of the key's bytes does."""
    changes = []
    if before.key_format != after.key_format:
        changes.append(f"format {before.key_format} -> {after.key_format}")
    elif (before.key_schema, before.key_message) != (after.key_schema, after.key_message):
        changes.append("a new key schema")
    if before.schema_id != after.schema_id:
        changes.append(f"schema id {before.schema_id} -> {after.schema_id}")
    return (
        f"The key's serialized bytes change ({', '.join(changes)}): the partitioner hashes "
        f"every key anew, so {summary['keys_moved']:.1%} of keys and {summary['events_moved']:.1%}"
        f" of events move to another partition (a random rehash moves {(count - 1) / count:.1%}"
        " of keys), and those keys' events lose their order while producers switch over."
    )


def _payload(key: KeyFormat) -> tuple:
    """What decides a key's bytes after the frame."""
    return (key.key_format, key.key_schema, key.key_message)


def _ordering_summary(ordering: dict | None) -> dict | None:
    if ordering is None:
        return None
    names = ("ordering_preserved", "events_at_risk", "entities_with_2_or_more_events",
             "method", "ordering_preserved_interval", "events_at_risk_interval",
             "entities_with_2_or_more_events_interval")  # fmt: skip
    return {name: ordering[name] for name in names if name in ordering}


def _salting_streamed(scan: Scan, result, salt: int, salt_hot: int | None,
                      change: _Change) -> tuple[pd.DataFrame, str | None]:  # fmt: skip
    """Salting's load and per-key ordering for each factor 1..``salt``, from the scan's
    aggregates: the exact keyed load after, less the salted keys' events, plus their events
    split evenly over their sub-keys (:func:`_split`), and the keyless records spread as the
    client spreads them. Exact from the key table; past the exact-key limit the salted keys
    are the sketch's heaviest, with its count estimates (the method says so)."""
    client, count, seed = change.client_after, change.count_after, change.seed
    load_before, load_after = result.loads
    method = None
    if load_before.sketch is None:
        keys = load_before.keys.column("key").combine_chunks()
        counts = load_before.keys.column("count").to_numpy()
    else:
        if not salt_hot:
            raise DataError(
                f"--salt without --salt-hot salts every key, which needs every key's count: "
                f"this input has more than {scan.measures.exact_keys:,} distinct keys "
                "(--exact-keys); salt the heaviest with --salt-hot TOPK, or raise --exact-keys"
            )
        sketched = load_before.sketch.result()
        keys = sketched.keys.column("key").combine_chunks()
        counts = sketched.keys.column("count").to_numpy()
        method = (f"more than {scan.measures.exact_keys:,} distinct keys: the salted keys are "
                  "the frequent-items sketch's heaviest, with its count estimates (each within "
                  f"{sketched.count_error:,} events), and per-key ordering comes from a hash "
                  "sample of keys")  # fmt: skip
    order = pc.sort_indices(pa.table({"count": counts, "key": keys}),
                            sort_keys=[("count", "descending"), ("key", "ascending")])  # fmt: skip
    hot = order.to_numpy()[:salt_hot] if salt_hot else order.to_numpy()
    hot_keys, hot_counts = side_keys(scan, keys.take(pa.array(hot)), 0, 1), counts[hot]
    home = _key_partitions(hot_keys, client, count)
    keyed = load_after.keyed_messages.astype(np.int64)
    keyless = int(load_after.keyless_events)
    rows = []
    for factor in range(1, salt + 1):
        messages, spread = keyed.copy(), keyless
        broken = (0, 0)
        if factor > 1 and len(hot):
            messages, spread, broken = _split(messages, spread, hot_keys, hot_counts, home,
                                              factor, client, count)  # fmt: skip
        messages = messages + np.bincount(
            keyless_fill(client.keyless, 0, spread, count, seed), minlength=count
        )  # the keyless records, numbered from 0 (as evaluate spreads them)
        metrics = skew_metrics(messages)
        ordering = _key_ordering(scan, result, 1, broken)
        rows.append({
            "salt": factor,
            "salted_keys": len(hot) if factor > 1 else 0,
            "max_mean_ratio": metrics["max_mean_ratio"],
            "hottest_partition_share": metrics["hottest_partition_share"],
            "ordering_preserved": ordering["ordering_preserved"],
            "events_at_risk": ordering["events_at_risk"],
        })  # fmt: skip
    return pd.DataFrame(rows), method


def _split(messages: np.ndarray, keyless: int, keys: pa.Array, counts: np.ndarray,
           home: np.ndarray, factor: int, client, count: int):  # fmt: skip
    """Keys (framed) salted ``factor`` ways: their events (``counts``, now at ``home``, -1
    for keyless) moved to their sub-keys (key + ``-i``), split evenly: sub-key i takes
    ``count // factor``, plus one while i < ``count % factor`` (:func:`_shares`). Gives the
    keyed messages per partition, the keyless events, and the (keys, events) whose order
    salting breaks less those it broke before (a key with 2+ events keeps its order only
    while all its events are on one partition and none keyless)."""
    messages = messages.copy()
    np.subtract.at(messages, home[home >= 0], counts[home >= 0])
    keyless -= int(counts[home < 0].sum())
    shares = _shares(counts, factor)
    placed = _key_partitions(_sub_keys(keys, factor, "-"), client, count)
    placed = placed.reshape(len(keys), factor)
    used = shares > 0
    hashed = used & (placed >= 0)
    np.add.at(messages, placed[hashed], shares[hashed])
    keyless += int(shares[used & (placed < 0)].sum())
    multi = counts >= 2
    # More than one partition among a key's sub-keys with events (hashed ones).
    highest = np.where(hashed, placed, -1).max(axis=1)
    lowest = np.where(hashed, placed, count).min(axis=1)
    spread = hashed.any(axis=1) & (highest != lowest)
    after = multi & ((used & (placed < 0)).any(axis=1) | spread)
    before = multi & (home < 0)
    broken = (int(after.sum()) - int(before.sum()),
              int(counts[after].sum()) - int(counts[before].sum()))  # fmt: skip
    return messages, keyless, broken


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
