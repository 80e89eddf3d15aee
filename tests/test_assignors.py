"""partsim.assignors: consumer-group assignors and broker placement against Kafka's own rules.

Oracles, from the most to the least independent:

- hand derivations from the Java sources named in ``partsim/assignors.py`` (the issue's closed
  forms, the examples in ``AdminUtils.java``'s Javadoc, and expected lists worked out step by
  step in the comments below);
- kafka-python's range, roundrobin, sticky and cooperative-sticky assignors (its sticky one is
  a port of the Java general algorithm, a different code path from the constrained one);
- a real JVM for ``String.compareTo``, ``String.hashCode`` and ``HashMap`` iteration order;
- step-by-step models of the Java fresh-assignment loops, written here from the sources, which
  the closed forms in the module must match for every partition and consumer count.
"""

from __future__ import annotations

import itertools
import random
import shutil
import subprocess
import uuid
from base64 import urlsafe_b64encode
from collections import deque
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from partsim.assignors import (
    ASSIGNORS,
    assign_partitions,
    broker_loads,
    consumer_loads,
    default_member_ids,
    java_hashmap_order,
    java_string_hash,
    java_string_order,
    place_leaders,
    rack_alternated_brokers,
    sweep_consumers,
)
from partsim.errors import UsageError
from tests.conftest import skip_or_fail
from tests.strategies import partition_counts, text_keys

consumer_counts = st.one_of(st.integers(1, 300), st.sampled_from([1, 2, 3, 5, 7, 12, 16]))
member_id_lists = st.lists(text_keys, min_size=1, max_size=30, unique=True)
broker_counts = st.integers(1, 12)


def java_key(text: str) -> bytes:
    return text.encode("utf-16-be", "surrogatepass")


# -- The issue's closed forms and hand derivations -----------------------------------------


def test_issue_closed_forms() -> None:
    assert assign_partitions(12, 5, "range") == [[0, 1, 2], [3, 4, 5], [6, 7], [8, 9], [10, 11]]
    dealt = [[0, 5, 10], [1, 6, 11], [2, 7], [3, 8], [4, 9]]
    assert assign_partitions(12, 5, "roundrobin") == dealt


@pytest.mark.parametrize("assignor", ["sticky", "cooperative-sticky"])
@pytest.mark.parametrize(
    ("partition_count", "member_ids", "expected"),
    [
        # P=12, C=5: minQuota 2, maxQuota 3, 2 members over minQuota. Nothing is owned, so all
        # five are "unfilled under minQuota", sorted c0..c4; each pass over that list gives one
        # partition per member in partition order: 0-4, then 5-9, after which each member has
        # minQuota and joins the "exactly minQuota" queue in the order it got there, c0..c4.
        # Partitions 10 and 11 are polled off that queue: c0, c1.
        (12, None, [[0, 5, 10], [1, 6, 11], [2, 7], [3, 8], [4, 9]]),
        # P=7, C=3: minQuota 2, one extra. Passes 0-2 and 3-5, then 6 to the head of the queue.
        (7, None, [[0, 3, 6], [1, 4], [2, 5]]),
        # P=6, C=3: minQuota = maxQuota = 2, two passes and no extra.
        (6, None, [[0, 3], [1, 4], [2, 5]]),
        # P=3, C=5: minQuota 0, so no member is under it; the 3 extra partitions go to the
        # "exactly minQuota" queue, which the current builder sorts: c0, c1, c2; c3 and c4 idle.
        (3, None, [[0], [1], [2], [], []]),
        # Ids out of order: sorted a, b, c; P=4 is one pass (0-2) and one extra (3 to a).
        # The result is in member_ids order: b, a, c.
        (4, ["b", "a", "c"], [[1], [0, 3], [2]]),
    ],
)
def test_sticky_fresh_assignment_by_hand(partition_count, member_ids, expected, assignor) -> None:
    consumer_count = len(expected)
    assert (
        assign_partitions(partition_count, consumer_count, assignor, member_ids=member_ids)
        == expected
    )


def test_uniform_by_hand() -> None:
    # KIP-848's uniform assignor walks the members in the order of the coordinator's
    # HashMap<String, ...> of member ids: bucket (h ^ h >>> 16) & 15 of String.hashCode h,
    # buckets ascending, insertion order within one. "c", "a", "q", "b" hash to 99, 97, 113,
    # 98: buckets 3, 1, 1, 2, so the order is a, q (both bucket 1, a put first), b, c. With
    # 10 partitions and quota 10 // 4 = 2, the first 10 % 4 = 2 members in that order get
    # quota 3 and each fills its quota from the partitions in order: a 0-2, q 3-5, b 6-7,
    # c 8-9. Listed in member_ids order (c, a, q, b):
    ids = ["c", "a", "q", "b"]
    uniform = [[8, 9], [0, 1, 2], [3, 4, 5], [6, 7]]
    assert assign_partitions(10, 4, "uniform", member_ids=ids) == uniform
    # range sorts instead (a, b, c, q): same blocks, other owners.
    ranges = [[6, 7], [0, 1, 2], [8, 9], [3, 4, 5]]
    assert assign_partitions(10, 4, "range", member_ids=ids) == ranges
    # consumer-0 .. consumer-4 hash to 0xf6176419 .. 0xf617641d: the low nibble 9..D xor 7
    # (from h >>> 16 = 0xf617) is bucket 14, 13, 12, 11, 10, so the HashMap order is reversed.
    assert assign_partitions(12, 5, "uniform") == [[10, 11], [8, 9], [6, 7], [3, 4, 5], [0, 1, 2]]


def test_default_member_ids_sort_in_index_order() -> None:
    for consumer_count in (1, 9, 10, 11, 100, 101):
        ids = default_member_ids(consumer_count)
        assert java_string_order(ids) == list(range(consumer_count))
    assert default_member_ids(12)[:2] == ["consumer-00", "consumer-01"]


def test_range_and_roundrobin_sort_member_ids_as_java_does() -> None:
    # Unpadded ids sort as strings: consumer-10 and consumer-11 come between 1 and 2.
    ids = [f"consumer-{index}" for index in range(12)]
    order = [ids[index] for index in java_string_order(ids)]
    assert order[:4] == ["consumer-0", "consumer-1", "consumer-10", "consumer-11"]
    assigned = dict(zip(ids, assign_partitions(12, 12, "range", member_ids=ids), strict=True))
    assert assigned["consumer-10"] == [2] and assigned["consumer-2"] == [4]
    # U+FFFF sorts after a surrogate pair in Java (0xFFFF > 0xD83D), unlike Python's sorted().
    assert assign_partitions(2, 2, "roundrobin", member_ids=["\uffff", "\U0001f600"]) == [[1], [0]]


# -- Step-by-step models of the Java loops --------------------------------------------------


def constrained_sticky_model(partition_count: int, member_ids: list[str]) -> list[list[int]]:
    """AbstractStickyAssignor's ConstrainedAssignmentBuilder with nothing owned and no racks:
    the members under minQuota are served round robin through a list iterator that restarts
    when it runs out; a member reaching minQuota leaves that list for the queue of members at
    exactly minQuota, which serves the partitions left once the list is empty."""
    min_quota, extra = divmod(partition_count, len(member_ids))
    max_quota = min_quota + (extra > 0)
    under = sorted((m for m in member_ids if min_quota > 0), key=java_key)
    at_min = deque(sorted((m for m in member_ids if min_quota == 0 and extra), key=java_key))
    owned: dict[str, list[int]] = {member: [] for member in member_ids}
    cursor = 0  # the iterator over `under`: the index of its next element
    for partition in range(partition_count):
        if cursor < len(under):
            member, cursor = under[cursor], cursor + 1
        elif not under:
            member = at_min.popleft()
        else:
            member, cursor = under[0], 1
        owned[member].append(partition)
        if len(owned[member]) == min_quota:
            cursor -= 1
            under.pop(cursor)
            at_min.append(member)
        else:
            assert len(owned[member]) <= max_quota
    return [owned[member] for member in member_ids]


def uniform_homogeneous_model(partition_count: int, member_ids: list[str]) -> list[list[int]]:
    """UniformHomogeneousAssignmentBuilder with nothing assigned: members in memberIds()
    order take quota P // C, one more while extras remain, then fill it from the partitions
    in order."""
    quota, extra = divmod(partition_count, len(member_ids))
    owned: dict[str, list[int]] = {}
    partitions = iter(range(partition_count))
    for index in java_hashmap_order(member_ids):
        member_quota = quota + (1 if extra > 0 else 0)
        extra -= 1
        owned[member_ids[index]] = list(itertools.islice(partitions, member_quota))
    return [owned[member] for member in member_ids]


@settings(max_examples=200, deadline=None)
@given(partition_count=st.integers(1, 400), member_ids=member_id_lists)
def test_closed_forms_match_the_java_loops(partition_count: int, member_ids: list[str]) -> None:
    consumer_count = len(member_ids)
    sticky = constrained_sticky_model(partition_count, member_ids)
    for assignor in ("sticky", "cooperative-sticky", "roundrobin"):
        assert (
            assign_partitions(partition_count, consumer_count, assignor, member_ids=member_ids)
            == sticky
        )
    assert assign_partitions(
        partition_count, consumer_count, "uniform", member_ids=member_ids
    ) == uniform_homogeneous_model(partition_count, member_ids)


# -- kafka-python's assignors ---------------------------------------------------------------


def kafka_python_assignment(assignor: str, partition_count: int, member_ids: list[str]):
    from kafka.coordinator.assignors.cooperative_sticky import CooperativeStickyAssignor
    from kafka.coordinator.assignors.range import RangePartitionAssignor
    from kafka.coordinator.assignors.roundrobin import RoundRobinPartitionAssignor
    from kafka.coordinator.assignors.sticky.sticky_assignor import StickyPartitionAssignor

    implementation = {
        "range": RangePartitionAssignor,
        "roundrobin": RoundRobinPartitionAssignor,
        "sticky": StickyPartitionAssignor(),
        "cooperative-sticky": CooperativeStickyAssignor(),
    }[assignor]
    cluster = SimpleNamespace(
        partitions_for_topic=lambda topic: set(range(partition_count)), topics=lambda: {"t"}
    )
    members = [
        SimpleNamespace(
            member_id=member, group_instance_id=None, metadata=implementation.metadata({"t"})
        )
        for member in member_ids
    ]
    result = implementation.assign(cluster, members)
    return [
        sorted(
            partition
            for _, partitions in result[member].assigned_partitions
            for partition in partitions
        )
        for member in member_ids
    ]


@pytest.mark.parametrize("assignor", ["range", "roundrobin", "sticky", "cooperative-sticky"])
def test_matches_kafka_python(assignor: str) -> None:
    rng = random.Random(assignor)
    for partition_count, consumer_count in [(12, 5), (1, 3), (3, 5), (50, 7), (64, 16), (7, 7)]:
        # kafka-python sorts by code point, Java by UTF-16 unit: ASCII ids agree on both.
        ids = [f"member-{rng.randrange(10**9):x}" for _ in range(consumer_count)]
        assert assign_partitions(partition_count, consumer_count, assignor, member_ids=ids) == (
            kafka_python_assignment(assignor, partition_count, ids)
        )


# -- A real JVM for String order, String.hashCode and HashMap order -------------------------

JAVA_ORDER = """
import java.io.*;
import java.util.*;

public class Order {
    public static void main(String[] args) throws IOException {
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, "US-ASCII"));
        List<String> ids = new ArrayList<>();
        for (String line; (line = in.readLine()) != null; ) {
            if (!line.equals("END")) {
                StringBuilder id = new StringBuilder();
                for (int i = 0; i < line.length(); i += 4)
                    id.append((char) Integer.parseInt(line.substring(i, i + 4), 16));
                ids.add(id.toString());
                continue;
            }
            Map<String, Integer> map = new HashMap<>();
            for (int i = 0; i < ids.size(); i++) map.put(ids.get(i), i);
            List<String> sorted = new ArrayList<>(ids);
            Collections.sort(sorted);
            StringBuilder out = new StringBuilder();
            for (Integer i : map.values()) out.append(i).append(' ');
            out.append('|');
            for (String id : sorted) out.append(ids.indexOf(id)).append(' ');
            out.append('|');
            for (String id : ids) out.append(id.hashCode()).append(' ');
            System.out.println(out);
            ids.clear();
        }
    }
}
"""


def jvm_cases() -> list[list[str]]:
    rng = random.Random(848)
    cases = [default_member_ids(count) for count in (*range(1, 40), 100, 1000)]
    cases += [[f"consumer-{index}" for index in range(count)] for count in (5, 13, 25, 200)]
    # KIP-848 member ids: Uuid.randomUuid().toString(), 22 url-safe base64 characters.
    cases += [
        [
            urlsafe_b64encode(uuid.UUID(int=rng.getrandbits(128)).bytes).decode()[:22]
            for _ in range(count)
        ]
        for count in (*range(1, 30), 49, 97, 500)
    ]
    # Strings of "Aa"/"BB" blocks share one hash: up to 10 in one bucket of a small table,
    # where the 9th and 10th make treeifyBin double the table instead of building a tree.
    colliding = ["".join(blocks) for blocks in itertools.product(["Aa", "BB"], repeat=4)]
    for count in range(2, 11):
        case = colliding[:count] + [f"x{index}" for index in range(rng.randrange(0, 12))]
        rng.shuffle(case)
        cases.append(case)
    alphabet = ["a", "Z", "0", "é", "\ue000", "\uffff", "\U0001f600", "\ud800"]
    for count in range(1, 30):
        ids = {"".join(rng.choices(alphabet, k=rng.randrange(0, 5))) for _ in range(count)}
        cases.append(sorted(ids, key=lambda _: rng.random()))
    return cases


def test_java_order_matches_the_jvm(tmp_path) -> None:
    if shutil.which("java") is None:
        skip_or_fail("the JVM check needs a JDK (java) on PATH")
    source = tmp_path / "Order.java"
    source.write_text(JAVA_ORDER)
    cases = jvm_cases()
    lines: list[str] = []
    for case in cases:
        lines += [java_key(member).hex() for member in case] + ["END"]
    output = subprocess.run(
        ["java", str(source)],
        input="\n".join(lines) + "\n",
        text=True,
        capture_output=True,
        check=True,
        timeout=120,
    ).stdout
    rows = output.splitlines()
    assert len(rows) == len(cases)
    for case, row in zip(cases, rows, strict=True):
        hashmap, ordered, hashes = (
            [int(value) for value in part.split()] for part in row.split("|")
        )
        assert java_hashmap_order(case) == hashmap, case
        assert java_string_order(case) == ordered, case
        assert [java_string_hash(member) for member in case] == hashes, case


# -- Properties -----------------------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(
    partition_count=partition_counts,
    consumer_count=consumer_counts,
    assignor=st.sampled_from(ASSIGNORS),
)
def test_every_partition_once_and_balanced(partition_count, consumer_count, assignor) -> None:
    assignment = assign_partitions(partition_count, consumer_count, assignor)
    assert len(assignment) == consumer_count
    flat = sorted(itertools.chain.from_iterable(assignment))
    assert flat == list(range(partition_count))
    sizes = [len(partitions) for partitions in assignment]
    quota = partition_count // consumer_count
    assert set(sizes) <= {quota, quota + 1}
    assert sizes.count(quota + 1) == partition_count % consumer_count
    assert sizes.count(0) == max(0, consumer_count - partition_count)  # idle consumers
    assert all(partitions == sorted(partitions) for partitions in assignment)


def by_member(partition_count: int, assignor: str, member_ids: list[str]) -> dict:
    assignment = assign_partitions(
        partition_count, len(member_ids), assignor, member_ids=member_ids
    )
    return dict(zip(member_ids, assignment, strict=True))


@settings(max_examples=100, deadline=None)
@given(partition_count=st.integers(1, 200), member_ids=member_id_lists, data=st.data())
def test_sorted_assignors_depend_only_on_the_ids(partition_count, member_ids, data) -> None:
    shuffled = data.draw(st.permutations(member_ids))
    for assignor in ("range", "roundrobin", "sticky", "cooperative-sticky"):
        before = by_member(partition_count, assignor, member_ids)
        assert by_member(partition_count, assignor, shuffled) == before
    # range lays consecutive runs over the Java-sorted ids; roundrobin deals them out.
    ranked = [member_ids[index] for index in java_string_order(member_ids)]
    ranges = by_member(partition_count, "range", member_ids)
    assert [p for member in ranked for p in ranges[member]] == list(range(partition_count))
    dealt = by_member(partition_count, "roundrobin", member_ids)
    for rank, member in enumerate(ranked):
        assert dealt[member] == list(range(rank, partition_count, len(member_ids)))


# -- Loads ----------------------------------------------------------------------------------


def test_consumer_loads_sum_each_consumer_partitions() -> None:
    loads = np.array([100.0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1])
    assignment = assign_partitions(12, 5)
    assert consumer_loads(assignment, loads).tolist() == [102.0, 3.0, 2.0, 2.0, 2.0]
    steps = np.vstack([loads, 2 * loads, np.zeros(12)])  # (steps, partitions)
    per_step = consumer_loads(assignment, steps)
    assert per_step.shape == (3, 5)
    np.testing.assert_allclose(per_step[1], 2 * consumer_loads(assignment, loads))
    assert consumer_loads([[1], [], [0]], [3.0, 4.0]).tolist() == [4.0, 0.0, 3.0]


@settings(max_examples=100, deadline=None)
@given(
    partition_count=st.integers(1, 300),
    consumer_count=consumer_counts,
    assignor=st.sampled_from(ASSIGNORS),
    seed=st.integers(0, 2**32 - 1),
)
def test_consumer_loads_conserve_the_total(partition_count, consumer_count, assignor, seed):
    loads = np.random.default_rng(seed).pareto(1.5, size=(4, partition_count))
    per_consumer = consumer_loads(
        assign_partitions(partition_count, consumer_count, assignor), loads
    )
    np.testing.assert_allclose(per_consumer.sum(axis=-1), loads.sum(axis=-1))


def test_sweep_consumers_hot_partition() -> None:
    loads = np.ones(12)
    loads[7] = 89.0  # a hot key: 89 of 100 on partition 7
    sweep = sweep_consumers(loads, [1, 2, 3, 6, 12, 16], "range")
    first = ["consumer_count", "assignor", "max_consumer_load", "max_consumer_share"]
    assert sweep.columns[:4].tolist() == first
    # range over 12: partition 7 is with 6 others (C=2), 3 (C=3), 1 (C=6), alone from C=12.
    assert sweep["max_consumer_load"].tolist() == [100.0, 94.0, 92.0, 90.0, 89.0, 89.0]
    assert sweep["idle_consumers"].tolist() == [0, 0, 0, 0, 0, 4]
    assert sweep["max_partitions"].tolist() == [12, 6, 4, 2, 1, 1]
    np.testing.assert_allclose(
        sweep["max_mean_ratio"], sweep["max_consumer_load"] * sweep["consumer_count"] / 100
    )
    assert (sweep["max_consumer_share"] >= sweep["lower_bound_share"] - 1e-12).all()
    assert sweep.loc[4, "lower_bound_share"] == pytest.approx(0.89)
    empty = sweep_consumers(np.zeros(3), [1, 5])
    assert empty["max_consumer_share"].tolist() == [0.0, 0.0]
    assert empty["idle_consumers"].tolist() == [0, 2]


# -- Brokers --------------------------------------------------------------------------------


def test_place_leaders_matches_the_adminutils_javadoc() -> None:
    # AdminUtils.assignReplicasToBrokers' table for 5 brokers and 10 partitions, RF 3 (start
    # index and replica shift 0): row "2nd replica" reads p4 p0 p1 p2 p3 / p8 p9 p5 p6 p7 over
    # brokers 0-4, row "3rd replica" p3 p4 p0 p1 p2 / p7 p8 p9 p5 p6.
    assert place_leaders(10, 5, replication_factor=3) == [
        [0, 1, 2], [1, 2, 3], [2, 3, 4], [3, 4, 0], [4, 0, 1],
        [0, 2, 3], [1, 3, 4], [2, 4, 0], [3, 0, 1], [4, 1, 2],
    ]  # fmt: skip
    # Its rack-aware example: brokers 0-5 on racks 1, 3, 3, 2, 2, 1 alternate as 0 3 1 5 4 2;
    # 6 partitions with RF 3 go 0->0,3,1 ... 5->2,0,3, and partition 6 shifts to 0,4,2.
    racks = ["rack1", "rack3", "rack3", "rack2", "rack2", "rack1"]
    assert rack_alternated_brokers(racks) == [0, 3, 1, 5, 4, 2]
    assert place_leaders(7, 6, racks=racks, replication_factor=3) == [
        [0, 3, 1], [3, 1, 5], [1, 5, 4], [5, 4, 2], [4, 2, 0], [2, 0, 3], [0, 4, 2],
    ]  # fmt: skip
    # getRackAlternatedBrokerList's own example: racks of 3 brokers each.
    three_by_three = ["rack1"] * 3 + ["rack2"] * 3 + ["rack3"] * 3
    assert rack_alternated_brokers(three_by_three) == [0, 3, 6, 1, 4, 7, 2, 5, 8]


@settings(max_examples=150, deadline=None)
@given(
    partition_count=st.integers(1, 200),
    broker_count=broker_counts,
    start=st.integers(0, 30),
    data=st.data(),
)
def test_place_leaders_round_robin(partition_count, broker_count, start, data) -> None:
    factor = data.draw(st.integers(1, broker_count))
    placement = place_leaders(partition_count, broker_count, start=start, replication_factor=factor)
    assert [replicas[0] for replicas in placement] == [
        (start + partition) % broker_count for partition in range(partition_count)
    ]
    for partition, replicas in enumerate(placement):
        assert len(set(replicas)) == factor
        # Followers sit 1 + (shift + j) % (B - 1) after the leader; the shift starts at
        # `start` and grows by one per full round of B partitions.
        shift = start + partition // broker_count
        assert replicas[1:] == [
            (replicas[0] + 1 + (shift + j) % (broker_count - 1)) % broker_count
            for j in range(factor - 1)
        ]


@settings(max_examples=150, deadline=None)
@given(
    partition_count=st.integers(1, 100),
    racks=st.lists(st.sampled_from(["a", "b", "c", "d"]), min_size=1, max_size=12),
    data=st.data(),
)
def test_rack_aware_placement(partition_count, racks, data) -> None:
    broker_count, rack_count = len(racks), len(set(racks))
    factor = data.draw(st.integers(1, broker_count))
    start = data.draw(st.integers(0, 20))
    placement = place_leaders(
        partition_count, broker_count, racks=racks, start=start, replication_factor=factor
    )
    alternated = rack_alternated_brokers(racks)
    assert sorted(alternated) == list(range(broker_count))
    assert [replicas[0] for replicas in placement] == [
        alternated[(start + partition) % broker_count] for partition in range(partition_count)
    ]
    for replicas in placement:
        assert len(set(replicas)) == factor
        replica_racks = [racks[broker] for broker in replicas]
        # Fewer replicas than racks: one rack each; as many or more: every rack has one.
        assert len(set(replica_racks)) == min(factor, rack_count)


def test_broker_loads_by_hand() -> None:
    replicas = [[0, 1], [1, 2], [2, 0]]
    frame = broker_loads(replicas, [30.0, 6.0, 0.0], [60.0, 6.0, 0.0], 3)
    assert frame["leader_partitions"].tolist() == [1, 1, 1]
    assert frame["produce_in"].tolist() == [30.0, 6.0, 0.0]
    assert frame["replication_in"].tolist() == [0.0, 30.0, 6.0]  # followers copy the writes
    assert frame["consumer_out"].tolist() == [60.0, 6.0, 0.0]
    assert frame["replication_out"].tolist() == [30.0, 6.0, 0.0]  # RF - 1 = 1 copy
    assert frame["bytes_in_share"].sum() == pytest.approx(1.0)
    spread = broker_loads(
        replicas, [30.0, 6.0, 0.0], [60.0, 6.0, 0.0], 3, consumer_reads_from_leader=False
    )
    assert spread["consumer_out"].tolist() == [30.0, 33.0, 3.0]
    idle = broker_loads([[0]], [5.0], [5.0], 3)  # brokers 1 and 2 hold nothing
    assert idle["bytes_in"].tolist() == [5.0, 0.0, 0.0]


@settings(max_examples=100, deadline=None)
@given(
    partition_count=st.integers(1, 100),
    broker_count=broker_counts,
    seed=st.integers(0, 2**32 - 1),
    reads_from_leader=st.booleans(),
    data=st.data(),
)
def test_broker_loads_conserve_traffic(
    partition_count, broker_count, seed, reads_from_leader, data
) -> None:
    factor = data.draw(st.integers(1, broker_count))
    replicas = place_leaders(partition_count, broker_count, replication_factor=factor)
    rng = np.random.default_rng(seed)
    writes, reads = rng.exponential(size=partition_count), rng.exponential(size=partition_count)
    frame = broker_loads(
        replicas, writes, reads, broker_count, consumer_reads_from_leader=reads_from_leader
    )
    assert frame["broker"].tolist() == list(range(broker_count))
    assert frame["produce_in"].sum() == pytest.approx(writes.sum())
    assert frame["bytes_in"].sum() == pytest.approx(writes.sum() * factor)
    assert frame["consumer_out"].sum() == pytest.approx(reads.sum())
    assert frame["bytes_out"].sum() == pytest.approx(reads.sum() + writes.sum() * (factor - 1))
    assert frame["replication_in"].sum() == pytest.approx(frame["replication_out"].sum())
    assert frame["leader_partitions"].sum() == partition_count
    assert frame["follower_partitions"].sum() == partition_count * (factor - 1)


# -- Errors ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: assign_partitions(12, 5, "round-robin"), "did you mean 'roundrobin'"),
        (lambda: assign_partitions(12, 5, "stiky"), "did you mean 'sticky'"),
        (lambda: sweep_consumers([1.0], [1], "uniformm"), "assignor must be one of range"),
        (lambda: assign_partitions(0, 5), "partition_count"),
        (lambda: assign_partitions(12, 0), "consumer_count must be a whole number >= 1; got 0"),
        (lambda: assign_partitions(12, 2, member_ids=["a"]), "member_ids must name"),
        (lambda: assign_partitions(12, 2, member_ids=["a", "a"]), "repeated: a"),
        (lambda: sweep_consumers([1.0, 2.0], [2, 0]), "consumer_counts"),
        (lambda: place_leaders(3, 0), "broker_count"),
        (lambda: place_leaders(3, 2, replication_factor=3), "replication_factor must be at most"),
        (lambda: place_leaders(3, 2, replication_factor=0), "replication_factor must be"),
        (lambda: place_leaders(3, 2, racks=["a"]), "racks must give the rack of each"),
        (lambda: place_leaders(3, 2, racks=["a", ""]), "racks must name a rack"),
        (lambda: place_leaders(3, 2, start=-1), "start must be"),
        (lambda: consumer_loads([[0, 5]], [1.0, 2.0]), "assignment must hold ids from 0 to 1"),
        (lambda: consumer_loads([[0], [0]], [1.0]), "at most one consumer"),
        (lambda: broker_loads([[0, 0]], [1.0], [1.0], 2), "two replicas"),
        (lambda: broker_loads([[0]], [1.0, 2.0], [1.0], 2), "partition_in must have one value"),
    ],
)
def test_errors_name_the_argument(call, message) -> None:
    with pytest.raises(UsageError, match=message.replace("(", r"\(")):
        call()
