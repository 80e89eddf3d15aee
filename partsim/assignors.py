"""Consumer-group assignors and broker placement, as Kafka computes them for one topic.

A consumer group splits a topic's partitions over its members; the load a member serves is
the sum of its partitions' loads, so one hot partition makes one busy consumer whatever the
assignor. This module reproduces, for a *fresh* assignment (no member owns a partition yet)
of a single topic with no racks, the partitions each member gets from the assignors of the
Java client and of the KIP-848 group coordinator, and places partition replicas on brokers the
way Kafka's default placement does.

Every assignor below gives each member ``P // C`` or ``P // C + 1`` of ``P`` partitions; they
differ in which partitions and in which member gets the extra ones. Two layouts cover them all:

``blocks``  consecutive runs of partitions, the longer runs first, over the members in order;
``cyclic``  partition ``p`` to the ``p % C``-th member in order (a deal of cards).

=====================  ===========================  ======  =====================================
assignor               member order                 layout  source (apache/kafka)
=====================  ===========================  ======  =====================================
``range``              member ids, Java-sorted      blocks  ``RangeAssignor.java``
``roundrobin``         member ids, Java-sorted      cyclic  ``RoundRobinAssignor.java``
``sticky``             member ids, Java-sorted      cyclic  ``AbstractStickyAssignor.java``
``cooperative-sticky`` member ids, Java-sorted      cyclic  ``AbstractStickyAssignor.java``
``uniform``            ``java.util.HashMap`` order  blocks  ``UniformHomogeneousAssignmentBuilder``
=====================  ===========================  ======  =====================================

Member order. "Java-sorted" is ``String.compareTo``: UTF-16 code units compared one by one,
a prefix first (:func:`java_string_order`). Range and roundrobin sort
``AbstractPartitionAssignor.MemberInfo``, which puts static members (``group.instance.id``)
first, sorted by instance id, then the others by member id: for a group of static members pass
their instance ids as ``member_ids``. The sticky assignors sort plain member ids. The server-side
``uniform`` assignor walks ``GroupSpec.memberIds()``, the key set of the ``HashMap`` that
``TargetAssignmentBuilder.build`` fills, so its order is the bucket order of the member ids'
hashes (:func:`java_hashmap_order`); real KIP-848 member ids are random UUIDs chosen by the
client, so which member gets which block is arbitrary, but the blocks themselves are range's.

The default member ids are ``consumer-0``, ``consumer-1``, ... zero-padded to one width
(``consumer-00`` ... ``consumer-11`` for 12), so that Java's sorted order is the index order
and ``range`` gives the first consumer the first partitions.

Broker placement follows ``AdminUtils.assignReplicasToBrokers``; see :func:`place_leaders`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from itertools import chain

import numpy as np
import pandas as pd

from partsim.errors import UsageError, invalid_choice
from partsim.partitioners import check_partition_count

__all__ = [
    "ASSIGNORS",
    "assign_partitions",
    "broker_loads",
    "consumer_loads",
    "default_member_ids",
    "java_hashmap_order",
    "java_string_hash",
    "java_string_order",
    "place_leaders",
    "rack_alternated_brokers",
    "sweep_consumers",
]

#: The assignors partsim reproduces, by the name a client configures them with
#: (``partition.assignment.strategy`` / ``group.consumer.assignors``).
ASSIGNORS = ("range", "roundrobin", "sticky", "cooperative-sticky", "uniform")

#: Member order and layout of each assignor's fresh single-topic assignment (module docstring).
_RULES: dict[str, tuple[str, str]] = {
    "range": ("sorted", "blocks"),
    "roundrobin": ("sorted", "cyclic"),
    "sticky": ("sorted", "cyclic"),
    "cooperative-sticky": ("sorted", "cyclic"),
    "uniform": ("hashmap", "blocks"),
}

# java.util.HashMap constants (OpenJDK 8 to 21 alike).
_HASHMAP_CAPACITY = 16
_HASHMAP_LOAD_FACTOR = 0.75
_TREEIFY_THRESHOLD = 8
_MIN_TREEIFY_CAPACITY = 64


def _check_count(argument: str, value: object) -> int:
    """A whole number >= 1, or a :class:`UsageError` naming ``argument``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise UsageError(f"{argument} must be a whole number >= 1; got {value!r}")
    return int(value)


# -- Java's string order and hash ---------------------------------------------------------


def _utf16(text: str) -> bytes:
    """The UTF-16 code units of a Java string, big-endian (lone surrogates kept)."""
    return text.encode("utf-16-be", "surrogatepass")


def java_string_order(member_ids: Sequence[str]) -> list[int]:
    """Indices of ``member_ids`` in the order Java's ``Collections.sort`` puts them.

    ``String.compareTo`` compares UTF-16 code units, not code points: a character above
    U+FFFF (a surrogate pair, 0xD800-0xDFFF) sorts before U+E000-U+FFFF, unlike Python's ``<``.

    >>> java_string_order(["consumer-2", "consumer-10", "consumer-1"])
    [2, 1, 0]
    >>> java_string_order(["\\uffff", "\\U0001F600"])  # Python's sorted() puts U+FFFF first
    [1, 0]
    """
    keys = [_utf16(member_id) for member_id in member_ids]
    return sorted(range(len(keys)), key=keys.__getitem__)


def java_string_hash(text: str) -> int:
    """``String.hashCode()``: ``s[0]*31^(n-1) + ... + s[n-1]`` over UTF-16 code units, as a
    signed 32-bit int.

    >>> java_string_hash("hello"), java_string_hash("Aa") == java_string_hash("BB")
    (99162322, True)
    """
    value = 0
    data = _utf16(text)
    for index in range(0, len(data), 2):
        value = (31 * value + (data[index] << 8 | data[index + 1])) & 0xFFFFFFFF
    return value - (1 << 32) if value >= 1 << 31 else value


def java_hashmap_order(keys: Sequence[str]) -> list[int]:
    """Indices of ``keys`` in the iteration order of a ``new HashMap<>()`` that had them
    ``put`` in the given order (OpenJDK's ``java.util.HashMap``, Java 8 and later).

    A key goes to bucket ``(h ^ (h >>> 16)) & (capacity - 1)`` with ``h`` its
    :func:`java_string_hash`; iteration walks the buckets in index order, and keys sharing a
    bucket in insertion order. The table starts at 16 buckets and doubles when a put makes the
    size exceed 3/4 of the capacity, or when a bucket reaches 9 keys while the table has fewer
    than 64 buckets (``treeifyBin``); a resize keeps the relative order within each bucket.
    Not modelled: a bucket of 9 or more keys in a table of 64 or more buckets becomes a tree
    whose links put its root first, a case only huge groups or chosen ids can reach.

    >>> java_hashmap_order(["c", "b", "a"])  # hashes 99, 98, 97: buckets 3, 2, 1
    [2, 1, 0]
    >>> java_hashmap_order(["q", "a"])  # 113 and 97 share bucket 1: insertion order
    [0, 1]
    """
    spread = []
    for key in keys:
        hash_code = java_string_hash(key) & 0xFFFFFFFF
        spread.append(hash_code ^ (hash_code >> 16))
    capacity = _HASHMAP_CAPACITY
    buckets: list[list[int]] = [[] for _ in range(capacity)]

    def resized(old: list[list[int]], new_capacity: int) -> list[list[int]]:
        table: list[list[int]] = [[] for _ in range(new_capacity)]
        for bucket in old:  # old bucket j splits into j and j + old capacity, order kept
            for index in bucket:
                table[spread[index] & (new_capacity - 1)].append(index)
        return table

    for index in range(len(keys)):
        bucket = buckets[spread[index] & (capacity - 1)]
        bucket.append(index)
        if len(bucket) > _TREEIFY_THRESHOLD and capacity < _MIN_TREEIFY_CAPACITY:
            capacity *= 2
            buckets = resized(buckets, capacity)
        if index + 1 > capacity * _HASHMAP_LOAD_FACTOR:  # the size after this put
            capacity *= 2
            buckets = resized(buckets, capacity)
    return list(chain.from_iterable(buckets))


# -- Assignors ----------------------------------------------------------------------------


def default_member_ids(consumer_count: int) -> list[str]:
    """``consumer-0`` ... zero-padded to one width, so Java's sorted order is index order.

    >>> default_member_ids(3), default_member_ids(11)[:2]
    (['consumer-0', 'consumer-1', 'consumer-2'], ['consumer-00', 'consumer-01'])
    """
    consumer_count = _check_count("consumer_count", consumer_count)
    width = len(str(consumer_count - 1))
    return [f"consumer-{index:0{width}d}" for index in range(consumer_count)]


def _member_ids(member_ids: Sequence[str] | None, consumer_count: int) -> list[str]:
    if member_ids is None:
        return default_member_ids(consumer_count)
    if isinstance(member_ids, str):
        raise UsageError(f"member_ids must be a sequence of strings; got {member_ids!r}")
    ids = list(member_ids)
    if len(ids) != consumer_count:
        raise UsageError(
            f"member_ids must name consumer_count={consumer_count} members; got {len(ids)}"
        )
    if not all(isinstance(member_id, str) for member_id in ids):
        raise UsageError(f"member_ids must be strings; got {ids!r}")
    repeated = sorted(member_id for member_id, count in Counter(ids).items() if count > 1)
    if repeated:
        raise UsageError(f"member_ids must be distinct; repeated: {', '.join(repeated)}")
    return ids


def _slots(partition_count: int, consumer_count: int, layout: str) -> np.ndarray:
    """For each partition, the position (in assignor order) of the member that gets it."""
    partitions = np.arange(partition_count, dtype=np.int64)
    if layout == "cyclic":
        return partitions % consumer_count
    quota, extra = divmod(partition_count, consumer_count)
    long_runs = extra * (quota + 1)  # the first `extra` members take quota + 1 each
    return np.where(
        partitions < long_runs,
        partitions // (quota + 1),
        extra + (partitions - long_runs) // max(quota, 1),
    )


def assign_partitions(
    partition_count: int,
    consumer_count: int,
    assignor: str = "range",
    *,
    member_ids: Sequence[str] | None = None,
) -> list[list[int]]:
    """The partitions of each consumer, in member order: ``result[i]`` belongs to
    ``member_ids[i]`` (default :func:`default_member_ids`), sorted ascending.

    A fresh assignment of one topic that every member subscribes to, with no racks. The
    assignor decides the members' order by their ids (module docstring), then lays the
    partitions over that order:

    ``range`` (``RangeAssignor.java``, apache/kafka commits 2a1f1a6 and 8429db9, and the
        rack-aware KIP-881 version): members sorted; member ``i`` takes the ``i``-th run of
        ``P // C`` partitions, one more for the first ``P % C`` members.
    ``roundrobin`` (``RoundRobinAssignor.java``, commit b87b627): members sorted
        (``MemberInfo``), partition ``p`` to member ``p % C`` (``CircularIterator``).
    ``sticky``, ``cooperative-sticky`` (``StickyAssignor.java`` 578062a,
        ``CooperativeStickyAssignor.java`` 368eaaa, ``internals/AbstractStickyAssignor.java``
        005d64c and the KIP-881 ``ConstrainedAssignmentBuilder``): with equal subscriptions
        and nothing owned, every member is below ``minQuota = P // C``, the unfilled list is
        sorted by member id and filled one partition per member per pass, in partition order,
        until each has ``minQuota``; members then queue, in that same order, for the
        ``P % C`` extra partitions. So partition ``p`` goes to member ``p % C``, exactly
        roundrobin. With ``P < C`` the current builder sorts that queue too (the earlier
        ``constrainedAssign`` of 005d64c polled it in ``HashMap`` order). The cooperative
        variant only removes partitions that change owner, and a fresh assignment has none.
    ``uniform`` (KIP-848, group-coordinator ``UniformAssignor.java``, which hands groups
        with one subscription to ``UniformHomogeneousAssignmentBuilder.java``, commit
        fc28b22; the member map from ``modern/TargetAssignmentBuilder.java`` e3e579e): members
        in ``memberIds()`` order (:func:`java_hashmap_order` of the ids, ids sharing a bucket
        in ``member_ids`` order, standing in for the coordinator's insertion order); the
        first ``P % C`` get quota ``P // C + 1``, the rest ``P // C``, and each fills its
        quota from the partitions in order: range's blocks over a hash order. (The earlier
        ``OptimizedUniformAssignmentBuilder``, commit 5977d1f, dealt the partitions round
        robin over the same order instead.)

    More consumers than partitions leave the extra ones idle (empty lists).

    >>> assign_partitions(12, 5)
    [[0, 1, 2], [3, 4, 5], [6, 7], [8, 9], [10, 11]]
    >>> assign_partitions(12, 5, "roundrobin")
    [[0, 5, 10], [1, 6, 11], [2, 7], [3, 8], [4, 9]]
    >>> assign_partitions(2, 3, "range", member_ids=["b", "c", "a"])
    [[1], [], [0]]
    """
    partition_count = check_partition_count(partition_count)
    consumer_count = _check_count("consumer_count", consumer_count)
    if not isinstance(assignor, str) or assignor not in _RULES:
        raise invalid_choice("assignor", assignor, ASSIGNORS)
    ids = _member_ids(member_ids, consumer_count)
    order_rule, layout = _RULES[assignor]
    order = java_hashmap_order(ids) if order_rule == "hashmap" else java_string_order(ids)
    owners = np.asarray(order, dtype=np.int64)[_slots(partition_count, consumer_count, layout)]
    by_owner = np.argsort(owners, kind="stable")  # partitions grouped by member, ascending
    sizes = np.bincount(owners, minlength=consumer_count)
    return [part.tolist() for part in np.split(by_owner, np.cumsum(sizes)[:-1])]


def _flatten(groups: Sequence[Sequence[int]], argument: str, bound: int) -> tuple:
    """(group index, item) arrays of a list of lists of ids, each id checked in [0, bound)."""
    sizes = np.fromiter((len(group) for group in groups), dtype=np.int64, count=len(groups))
    items = np.fromiter(chain.from_iterable(groups), dtype=np.int64, count=int(sizes.sum()))
    if items.size and (items.min() < 0 or items.max() >= bound):
        raise UsageError(
            f"{argument} must hold ids from 0 to {bound - 1}; got {int(items.min())} to "
            f"{int(items.max())}"
        )
    return np.repeat(np.arange(len(groups)), sizes), items


def consumer_loads(
    assignment: Sequence[Sequence[int]], partition_loads: np.ndarray | Sequence[float]
) -> np.ndarray:
    """Each consumer's load: the sum of its partitions' loads.

    ``partition_loads`` has the partitions on its last axis: one value per partition, or a
    (steps, partitions) array of per-step loads, which gives (steps, consumers). A partition
    that no consumer owns counts for nobody; one owned twice is an error, as in Kafka.

    >>> consumer_loads([[0, 2], [1], []], [5.0, 1.0, 2.0]).tolist()
    [7.0, 1.0, 0.0]
    """
    loads = np.asarray(partition_loads, dtype=float)
    if loads.ndim == 0:
        raise UsageError("partition_loads must have one value per partition; got a scalar")
    consumer_of, partitions = _flatten(assignment, "assignment", loads.shape[-1])
    if np.unique(partitions).size != partitions.size:
        raise UsageError("assignment must give each partition to at most one consumer")
    if loads.ndim == 1:
        return np.bincount(consumer_of, weights=loads[partitions], minlength=len(assignment))
    per_consumer = np.zeros((len(assignment), *loads.shape[:-1]))
    np.add.at(per_consumer, consumer_of, np.moveaxis(loads[..., partitions], -1, 0))
    return np.moveaxis(per_consumer, 0, -1)


def sweep_consumers(
    partition_loads: np.ndarray | Sequence[float],
    consumer_counts: Iterable[int],
    assignor: str = "range",
) -> pd.DataFrame:
    """How the busiest consumer's load falls as the group grows, one row per consumer count.

    ``partition_loads`` is one value per partition (messages, bytes or a rate). Columns:

    - ``consumer_count``, ``assignor``;
    - ``max_consumer_load``: the busiest consumer's load, in the unit of ``partition_loads``;
    - ``max_consumer_share``: that load over the total;
    - ``max_mean_ratio``: that load over the mean per consumer (idle ones included), 1.0 when
      the load is spread perfectly;
    - ``idle_consumers``: consumers with no partition (more consumers than partitions);
    - ``max_partitions``: the most partitions one consumer has;
    - ``lower_bound_share``: ``max(1 / C, hottest partition's share)``, below which no
      assignment of whole partitions can bring the busiest consumer.

    With no load at all, the shares and ratios are 0.

    >>> sweep_consumers([6.0, 1.0, 1.0], [1, 2, 4])[["consumer_count", "max_consumer_share",
    ...                                              "idle_consumers"]].to_numpy().tolist()
    [[1.0, 1.0, 0.0], [2.0, 0.875, 0.0], [4.0, 0.75, 1.0]]
    """
    loads = np.asarray(partition_loads, dtype=float)
    if loads.ndim != 1 or loads.size == 0:
        raise UsageError(
            f"partition_loads must be one value per partition; got shape {loads.shape}"
        )
    if not isinstance(assignor, str) or assignor not in _RULES:
        raise invalid_choice("assignor", assignor, ASSIGNORS)
    total = float(loads.sum())
    hottest_share = float(loads.max()) / total if total > 0 else 0.0
    rows = []
    for consumer_count in consumer_counts:
        consumer_count = _check_count("consumer_counts", consumer_count)
        assignment = assign_partitions(loads.size, consumer_count, assignor)
        per_consumer = consumer_loads(assignment, loads)
        busiest = float(per_consumer.max())
        rows.append({
            "consumer_count": consumer_count,
            "assignor": assignor,
            "max_consumer_load": busiest,
            "max_consumer_share": busiest / total if total > 0 else 0.0,
            "max_mean_ratio": busiest * consumer_count / total if total > 0 else 0.0,
            "idle_consumers": sum(1 for partitions in assignment if not partitions),
            "max_partitions": max(len(partitions) for partitions in assignment),
            "lower_bound_share": max(1 / consumer_count, hottest_share) if total > 0 else 0.0,
        })  # fmt: skip
    return pd.DataFrame(rows, columns=[
        "consumer_count", "assignor", "max_consumer_load", "max_consumer_share",
        "max_mean_ratio", "idle_consumers", "max_partitions", "lower_bound_share",
    ])  # fmt: skip


# -- Brokers ------------------------------------------------------------------------------


def rack_alternated_brokers(racks: Sequence[str]) -> list[int]:
    """Broker ids (``racks[i]`` is broker ``i``'s rack) taken one rack at a time: racks in
    sorted order, each rack's brokers by id, skipping racks that have run out
    (``AdminUtils.getRackAlternatedBrokerList``).

    The example of ``AdminUtils.java``: racks 1, 3, 3, 2, 2, 1 for brokers 0-5.

    >>> rack_alternated_brokers(["rack1", "rack3", "rack3", "rack2", "rack2", "rack1"])
    [0, 3, 1, 5, 4, 2]
    """
    by_rack: dict[str, list[int]] = {}
    for broker, rack in enumerate(racks):
        by_rack.setdefault(rack, []).append(broker)
    columns = [by_rack[rack] for rack in sorted(by_rack, key=_utf16)]
    depth = max(len(brokers) for brokers in columns)
    return [brokers[row] for row in range(depth) for brokers in columns if row < len(brokers)]


def _replica_index(first: int, shift: int, replica: int, broker_count: int) -> int:
    """Position of a follower: one to ``B - 1`` places after the leader, by shift."""
    return (first + 1 + (shift + replica) % (broker_count - 1)) % broker_count


def place_leaders(
    partition_count: int,
    broker_count: int,
    *,
    racks: Sequence[str] | None = None,
    start: int = 0,
    replication_factor: int = 1,
) -> list[list[int]]:
    """Replica lists per partition, leader first, for brokers ``0 .. broker_count - 1``.

    This is ``AdminUtils.assignReplicasToBrokers`` (apache/kafka
    ``server-common/src/main/java/org/apache/kafka/admin/AdminUtils.java``, commit 6d8f061;
    ``core/.../admin/AdminUtils.scala`` before it), the placement of ZooKeeper-era topic
    creation that ``kafka-reassign-partitions --generate`` still uses, with
    ``fixedStartIndex = start``:

    - without racks, partition ``p`` is led by broker ``(start + p) % B``; its ``j``-th
      follower sits ``1 + (shift + j) % (B - 1)`` places after the leader, where ``shift``
      starts at ``start`` and grows by one each time ``p`` reaches a multiple of ``B``, so
      the followers of the second round are not those of the first;
    - with ``racks`` (``racks[i]`` is broker ``i``'s rack; all brokers need one), the same
      round robin runs over :func:`rack_alternated_brokers`, with the shift multiplied by the
      number of racks; a follower candidate is skipped while its rack already holds a replica
      and some rack holds none, or its broker already holds one and some broker holds none.

    Kafka draws the start index (and separately the shift) at random; a fixed start sets both.
    KRaft clusters place new topics with ``StripedReplicaPlacer`` (``metadata/.../placement/
    StripedReplicaPlacer.java``, commit 24c435f) instead: its first ``B`` partitions also have
    round-robin leaders from a random broker, with the next brokers in id order as followers,
    and each later run of ``B`` partitions uses a random shuffle of the brokers, so every
    broker leads the same number of partitions as here, but not the same ones.

    >>> place_leaders(6, 3, replication_factor=2)
    [[0, 1], [1, 2], [2, 0], [0, 2], [1, 0], [2, 1]]
    >>> place_leaders(7, 6, replication_factor=3,
    ...               racks=["rack1", "rack3", "rack3", "rack2", "rack2", "rack1"])[::6]
    [[0, 3, 1], [0, 4, 2]]
    """
    partition_count = check_partition_count(partition_count)
    broker_count = _check_count("broker_count", broker_count)
    replication_factor = _check_count("replication_factor", replication_factor)
    if replication_factor > broker_count:
        raise UsageError(
            f"replication_factor must be at most broker_count={broker_count}; "
            f"got {replication_factor}"
        )
    if isinstance(start, bool) or not isinstance(start, (int, np.integer)) or start < 0:
        raise UsageError(f"start must be a whole number >= 0; got {start!r}")
    if racks is None:
        brokers, rack_of, rack_count = list(range(broker_count)), None, 1
    else:
        if isinstance(racks, str) or len(racks) != broker_count:
            raise UsageError(
                f"racks must give the rack of each of the {broker_count} brokers; got {racks!r}"
            )
        if not all(isinstance(rack, str) and rack for rack in racks):
            raise UsageError(f"racks must name a rack for every broker; got {list(racks)!r}")
        brokers, rack_of = rack_alternated_brokers(racks), list(racks)
        rack_count = len(set(racks))
    placement = []
    shift = int(start)
    for partition in range(partition_count):
        if partition > 0 and partition % broker_count == 0:
            shift += 1
        first = (partition + int(start)) % broker_count
        replicas = [brokers[first]]
        if rack_of is None:
            replicas += [
                brokers[_replica_index(first, shift, replica, broker_count)]
                for replica in range(replication_factor - 1)
            ]
        else:
            used_racks, candidate = {rack_of[replicas[0]]}, 0
            while len(replicas) < replication_factor:
                broker = brokers[_replica_index(first, shift * rack_count, candidate,
                                                broker_count)]  # fmt: skip
                candidate += 1
                rack = rack_of[broker]
                if (rack not in used_racks or len(used_racks) == rack_count) and (
                    broker not in replicas or len(replicas) == broker_count
                ):
                    replicas.append(broker)
                    used_racks.add(rack)
        placement.append(replicas)
    return placement


def broker_loads(
    replicas: Sequence[Sequence[int]],
    partition_in: np.ndarray | Sequence[float],
    partition_out: np.ndarray | Sequence[float],
    broker_count: int,
    *,
    consumer_reads_from_leader: bool = True,
) -> pd.DataFrame:
    """Per-broker traffic from each partition's produce rate and consumer fetch rate.

    ``replicas`` is :func:`place_leaders`' output (leader first). ``partition_in`` is what
    producers write to each partition and ``partition_out`` what consumers read from it (all
    groups together), in any one unit (bytes/s, msgs/s). Columns, one row per broker:

    - ``leader_partitions``, ``follower_partitions``: replicas the broker holds;
    - ``produce_in``: writes to the partitions it leads;
    - ``replication_in``: what it fetches as a follower (a copy of each partition's writes);
    - ``bytes_in``: ``produce_in + replication_in``;
    - ``consumer_out``: consumer fetches it serves; from the leader by default, or with
      ``consumer_reads_from_leader=False`` split evenly over the replicas (KIP-392 fetching
      from the closest replica, with consumers spread evenly over the racks);
    - ``replication_out``: what its followers fetch from it as leader, ``(RF - 1)`` copies;
    - ``bytes_out``: ``consumer_out + replication_out``;
    - ``bytes_in_share``, ``bytes_out_share``: the broker's share of all brokers' in and out.

    Totals are conserved: ``sum(bytes_in) = sum(partition_in * RF)`` and ``sum(bytes_out) =
    sum(partition_out) + sum(partition_in * (RF - 1))``.

    >>> frame = broker_loads([[0, 1], [1, 0]], [10.0, 2.0], [10.0, 2.0], 2)
    >>> frame[["broker", "produce_in", "bytes_in", "bytes_out"]].to_numpy().tolist()
    [[0.0, 10.0, 12.0, 20.0], [1.0, 2.0, 12.0, 4.0]]
    """
    broker_count = _check_count("broker_count", broker_count)
    partition_of, brokers = _flatten(replicas, "replicas", broker_count)
    writes = np.asarray(partition_in, dtype=float)
    reads = np.asarray(partition_out, dtype=float)
    for argument, values in (("partition_in", writes), ("partition_out", reads)):
        if values.shape != (len(replicas),):
            raise UsageError(
                f"{argument} must have one value per partition ({len(replicas)}); "
                f"got shape {values.shape}"
            )
    factors = np.bincount(partition_of, minlength=len(replicas))
    if (factors == 0).any():
        empty = int(np.flatnonzero(factors == 0)[0])
        raise UsageError(
            f"replicas must list a leader for every partition; partition {empty} has none"
        )
    if np.unique(partition_of * broker_count + brokers).size != brokers.size:
        raise UsageError("replicas must not place two replicas of a partition on one broker")
    leader_rows = np.cumsum(factors) - factors  # where each partition's list starts
    leaders = brokers[leader_rows]
    followers = np.ones(brokers.size, dtype=bool)
    followers[leader_rows] = False

    def per_broker(owner: np.ndarray, weights: np.ndarray) -> np.ndarray:
        return np.bincount(owner, weights=weights, minlength=broker_count)

    produce_in = per_broker(leaders, writes)
    replication_in = per_broker(brokers[followers], writes[partition_of[followers]])
    replication_out = per_broker(leaders, writes * (factors - 1))
    if consumer_reads_from_leader:
        consumer_out = per_broker(leaders, reads)
    else:
        consumer_out = per_broker(brokers, (reads / factors)[partition_of])
    frame = pd.DataFrame({
        "broker": np.arange(broker_count),
        "leader_partitions": np.bincount(leaders, minlength=broker_count),
        "follower_partitions": np.bincount(brokers[followers], minlength=broker_count),
        "produce_in": produce_in,
        "replication_in": replication_in,
        "bytes_in": produce_in + replication_in,
        "consumer_out": consumer_out,
        "replication_out": replication_out,
        "bytes_out": consumer_out + replication_out,
    })  # fmt: skip
    for column in ("bytes_in", "bytes_out"):
        total = frame[column].sum()
        frame[f"{column}_share"] = frame[column] / total if total > 0 else 0.0
    return frame
