"""Per-entity ordering under a partitioning: which entities keep their events in order.

Kafka orders records only within a partition. An entity (an account, an order, a device)
with two or more events is *ordered* when every one of its events has a key the client
hashes and all of them land on one partition. A null key (or an empty key that the client
treats as null) goes wherever the client's keyless path sends it, and a salted key spreads
an entity over several partitions, so neither keeps order.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["lookup_partitions", "ordering_report"]


def lookup_partitions(
    keys: pa.Array | pa.ChunkedArray, sample_keys: pa.ChunkedArray, partitions: np.ndarray
):
    """The partition of each of ``keys`` (a subset of the sample's keys); -1 for null keys."""
    index = pc.index_in(keys, value_set=sample_keys.combine_chunks() if isinstance(
        sample_keys, pa.ChunkedArray) else sample_keys)  # fmt: skip
    index = index.fill_null(-1).to_numpy(zero_copy_only=False)
    if not len(partitions):  # no sample key (every key null): nothing to look up
        return np.full(len(index), -1)
    return np.where(index >= 0, partitions[np.maximum(index, 0)], -1)


def ordering_report(
    entities: pa.Table, key_partition: np.ndarray, sample_keys: pa.ChunkedArray, worst: int = 10
) -> dict:
    """``ordering_preserved``, ``events_at_risk`` and the worst entities, from (entity, key)
    counts and each sample key's partition (-1 = keyless)."""
    partition = lookup_partitions(entities.column("key"), sample_keys, key_partition)
    frame = pd.DataFrame(
        {"entity": entities.column("entity").to_numpy(zero_copy_only=False),
         "partition": partition, "count": entities.column("count").to_numpy()}
    )  # fmt: skip
    frame["keyless"] = np.where(frame["partition"] < 0, frame["count"], 0)
    hashed = frame[frame["partition"] >= 0]
    per = frame.groupby("entity", sort=False).agg(
        events=("count", "sum"), keyless=("keyless", "sum")
    )
    per["partitions"] = hashed.groupby("entity", sort=False)["partition"].nunique()
    per["partitions"] = per["partitions"].fillna(0).astype(int)
    multi = per[per["events"] >= 2]
    ordered = (multi["keyless"] == 0) & (multi["partitions"] == 1)
    broken = multi[~ordered]
    total = int(multi["events"].sum())
    report = {
        "entities": len(per),
        "entities_with_2_or_more_events": len(multi),
        "ordered_entities": int(ordered.sum()),
        "ordering_preserved": float(ordered.mean()) if len(multi) else 1.0,
        "events_at_risk": float(broken["events"].sum() / total) if total else 0.0,
        "unordered_by_null_or_keyless_keys": int((broken["keyless"] > 0).sum()),
        "unordered_by_spread_over_partitions": int((broken["partitions"] > 1).sum()),
    }
    columns = ["entity", "events", "partitions", "keyless"]
    table = broken.reset_index()[columns].rename(columns={"keyless": "keyless_events"})
    table["entity"] = [
        value.decode("utf-8", "backslashreplace") if isinstance(value, bytes) else value
        for value in table["entity"]
    ]
    report["worst_by_events"] = table.nlargest(worst, ["events", "partitions"]).to_dict("records")
    report["worst_by_partitions"] = table.nlargest(worst, ["partitions", "events"]).to_dict(
        "records"
    )
    return report
