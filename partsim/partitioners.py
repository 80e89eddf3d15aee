"""The partitioners of real clients, named by client.

Each :class:`Partitioner` is a small frozen description (hash algorithm, sign rule, what it
does with null and empty keys) plus one vectorized :meth:`Partitioner.assign`. The facts come
from ``shared/reference/partitioners.md``, which cites the source file of every client.

Sign rules, for a 32-bit hash ``h`` and ``N`` partitions:

``mask``      ``(h & 0x7fffffff) % N``: Java's ``Utils.toPositive`` (not ``abs``).
``abs``       ``|int32(h)| % N`` with ``|-2**31| = 2**31``: sarama ``NewHashPartitioner`` takes
              ``abs`` after Go's truncated ``%``, librdkafka ``fnv1a`` before its unsigned
              ``%``; both give the same partition, including ``h = 0x80000000``.
``unsigned``  ``uint32(h) % N``: librdkafka ``consistent``, sarama and kafka-go CRC32.
``range``     Kinesis: the shard whose hash-key range holds the 128-bit MD5 (even split).
``none``      the key is not hashed.

Null and empty keys: a rule of ``hash`` hashes the (empty) bytes, ``keyless`` takes the
client's keyless path (sticky, random or round robin), ``reject`` means the service refuses
the record.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from partsim.errors import DataError, UsageError, invalid_choice
from partsim.hashing import hash_array

__all__ = [
    "KEYLESS_MODELS",
    "KEYLESS_SHORT",
    "KEYLESS_STRATEGIES",
    "PARTITIONERS",
    "Partitioner",
    "check_partition_count",
    "get_partitioner",
    "keyless_mask",
    "partitioner_names",
    "reduce_hashes",
]

#: Largest partition count accepted: a Kafka partition id is an int32.
MAX_PARTITION_COUNT = 2**31 - 1

#: How a client places records that take its keyless path. ``assign`` draws these from a
#: seeded generator; batch- and time-accurate stickiness is the simulator's job.
KEYLESS_STRATEGIES: dict[str, str] = {
    "uniform-sticky": "Java >= 3.3 (KIP-794): sticky until batch.size bytes, then a random pick",
    "librdkafka-sticky": "librdkafka: sticky for sticky.partitioning.linger.ms, then a random pick",
    "franz-sticky": "franz-go: sticky for 64 KiB of records, then a pick weighted away from "
    "partitions with buffered records",
    "random": "a random partition per record",
    "random-repick": "a random partition per record, picked again when it has no open batch "
    "(kafka-python's abort_on_new_batch)",
    "round-robin": "a counter over the partitions, from 0",
    "round-robin-random-start": "a counter over the partitions, from a random start",
    "pulsar-round-robin": "Pulsar: the partition advances with time while batching",
}
#: The same, in a few words, for tables.
KEYLESS_SHORT: dict[str, str] = {
    "uniform-sticky": "sticky (batch.size)",
    "librdkafka-sticky": "sticky (linger time)",
    "franz-sticky": "sticky (64 KiB)",
    "random": "random",
    "random-repick": "random, re-picked",
    "round-robin": "round-robin",
    "round-robin-random-start": "round-robin",
    "pulsar-round-robin": "round-robin (time)",
}
#: The simulator (``partsim.keyless.KEYLESS_CLIENTS``) that reproduces each strategy over
#: time; ``partsim simulate`` uses it for the partitioner's null keys.
KEYLESS_MODELS: dict[str, str] = {
    "uniform-sticky": "java",
    "librdkafka-sticky": "librdkafka",
    "franz-sticky": "franz-go",
    "random": "random",
    "random-repick": "kafka-python",
    "round-robin": "round-robin",
    "round-robin-random-start": "kafkajs",
    "pulsar-round-robin": "kafkajs",  # an approximation: Pulsar's switches follow time
}


@dataclass(frozen=True)
class Partitioner:
    """One client's partitioner: how it hashes a key and what it does without one."""

    name: str
    client: str
    algorithm: str | None
    sign_rule: str
    null_key: str
    empty_key: str
    keyless: str
    #: The strategy for null keys where it differs from ``keyless`` (librdkafka ``random``
    #: ignores keys, random per record, but its null keys are sticky); "" = ``keyless``.
    null_keyless: str = ""
    aliases: tuple[str, ...] = ()
    hashes_null_as_empty: bool = False
    notes: str = ""
    reference: str = ""
    ignores_keys: bool = field(default=False)
    #: How the client's runtime writes a text key holding a lone UTF-16 surrogate: a key of
    #: ``partsim.serde.TEXT_ENCODINGS`` (the JDK's '?', U+FFFD, refused, or UTF-16 units).
    text_encoding: str = "jdk"

    @property
    def null_strategy(self) -> str:
        """The keyless strategy null keys take (a :data:`KEYLESS_STRATEGIES` name)."""
        return self.null_keyless or self.keyless

    @property
    def keyless_model(self) -> str:
        """The simulator of the null-key path (a ``partsim.keyless`` client name)."""
        return KEYLESS_MODELS[self.null_strategy]

    @property
    def null_key_rule(self) -> str:
        """One line on null keys, as ``partsim partitioners`` prints it."""
        if self.null_keyless:
            return f"keyless path: {KEYLESS_STRATEGIES[self.null_keyless]}"
        if self.ignores_keys:
            return f"keys ignored: {KEYLESS_STRATEGIES[self.keyless]}"
        if self.hashes_null_as_empty:
            return "hashed as the empty key (a fixed partition)"
        if self.null_key == "reject":
            return "rejected by the service"
        return f"keyless path: {KEYLESS_STRATEGIES[self.keyless]}"

    @property
    def null_key_short(self) -> str:
        """The null-key rule in a few words."""
        if self.null_keyless:
            return KEYLESS_SHORT[self.null_keyless]
        if self.ignores_keys:
            return "keys ignored: " + KEYLESS_SHORT[self.keyless]
        if self.hashes_null_as_empty:
            return "hashed as empty"
        if self.null_key == "reject":
            return "rejected"
        return KEYLESS_SHORT[self.keyless]

    @property
    def empty_key_short(self) -> str:
        """The empty-key rule in a few words."""
        if self.empty_key == "keyless" and not self.ignores_keys:
            return "as null: " + KEYLESS_SHORT[self.keyless]
        if self.ignores_keys:
            return "keys ignored: " + KEYLESS_SHORT[self.keyless]
        return {"hash": "hashed", "reject": "rejected"}[self.empty_key]

    @property
    def empty_key_rule(self) -> str:
        """One line on empty (zero-length, non-null) keys."""
        if self.ignores_keys:
            return f"keys ignored: {KEYLESS_STRATEGIES[self.keyless]}"
        return {
            "hash": "hashed",
            "keyless": "treated as null: keyless path",
            "reject": "rejected by the service",
        }[self.empty_key]

    def assign(
        self,
        key_bytes: pa.Array | pa.ChunkedArray,
        partition_count: int,
        rng: np.random.Generator,
    ) -> np.ndarray:
        """The partition of each serialized key (nulls are Kafka null keys), as int32.

        Keys on the keyless path get a pick from ``rng`` (see :data:`KEYLESS_STRATEGIES`).
        """
        partitions, keyless = self.hashed_partitions(key_bytes, partition_count)
        if keyless.any():
            partitions[keyless] = _keyless(self.keyless, int(keyless.sum()), partition_count, rng)
        return partitions

    def hashed_partitions(
        self, key_bytes: pa.Array | pa.ChunkedArray, partition_count: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """The hashed partition of each key, and the mask of keys on the keyless path.

        Partitions under the mask are meaningless until the caller fills them. Raises
        :class:`DataError` for a key the service rejects (Kinesis: null or empty).
        """
        partition_count = check_partition_count(partition_count)
        count = len(key_bytes)
        if self.ignores_keys:
            return np.zeros(count, dtype=np.int32), np.ones(count, dtype=bool)
        keyless = self.keyless_of(*null_and_empty(key_bytes))
        hashes = hash_array(key_bytes, self.algorithm)  # nulls hash as empty keys
        return reduce_hashes(hashes, self.sign_rule, partition_count), keyless

    def keyless_of(self, nulls: np.ndarray, empties: np.ndarray) -> np.ndarray:
        """The keyless path's mask, given which keys are null and which empty
        (:func:`null_and_empty`); :class:`DataError` for a key the service rejects."""
        if self.null_key == "reject" and (nulls.any() or empties.any()):
            raise DataError(
                f"partitioner {self.name!r}: {self.client} rejects null and empty keys "
                f"({int(nulls.sum())} null, {int(empties.sum())} empty)"
            )
        return self._keyless(nulls, empties)

    def _keyless(self, nulls: np.ndarray, empties: np.ndarray) -> np.ndarray:
        if self.ignores_keys:
            return np.ones(len(nulls), dtype=bool)
        keyless = np.zeros(len(nulls), dtype=bool)
        if self.null_key in ("keyless", "reject"):
            keyless |= nulls
        if self.empty_key in ("keyless", "reject"):
            keyless |= empties & ~nulls if self.hashes_null_as_empty else empties
        return keyless


def keyless_mask(partitioner: Partitioner, key_bytes: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Which serialized keys ``partitioner`` does not hash: its keyless path, or rejected."""
    return partitioner._keyless(*null_and_empty(key_bytes))


def null_and_empty(key_bytes: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    """Which serialized keys are null, and which are empty (``b""``)."""
    return bool_mask(key_bytes.is_null()), bool_mask(pc.equal(pc.binary_length(key_bytes), 0))


def bool_mask(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """An Arrow boolean array (or chunked array) as a numpy bool array."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks() if values.num_chunks else pa.array([], pa.bool_())
    return values.to_numpy(zero_copy_only=False).astype(bool, copy=False)


def reduce_hashes(hashes: np.ndarray, sign_rule: str, partition_count: int) -> np.ndarray:
    """Partitions from raw hashes under a sign rule (see the module docstring), as int32.

    >>> reduce_hashes(np.array([0x80000001], dtype=np.uint32), "abs", 10).tolist()
    [7]
    """
    if sign_rule == "mask":
        positive = hashes.view(np.uint32) & np.uint32(0x7FFFFFFF)
        return (positive % np.uint32(partition_count)).astype(np.int32)
    if sign_rule == "abs":
        magnitude = np.abs(hashes.view(np.int32).astype(np.int64))
        return (magnitude % partition_count).astype(np.int32)
    if sign_rule == "unsigned":
        return (hashes.view(np.uint32) % np.uint32(partition_count)).astype(np.int32)
    if sign_rule == "range":
        # Shard i of an even split starts at floor(i * 2**128 / N); the shard of hash h is the
        # largest such i, i.e. ceil((h + 1) * N / 2**128) - 1.
        shards = [-((-(h + 1) * partition_count) >> 128) - 1 for h in hashes.tolist()]
        return np.asarray(shards, dtype=np.int32)
    raise AssertionError(sign_rule)  # pragma: no cover - the registry is fixed


def _keyless(strategy: str, count: int, partition_count: int, rng: np.random.Generator):
    if strategy in ("round-robin",):
        return (np.arange(count, dtype=np.int64) % partition_count).astype(np.int32)
    if strategy in ("round-robin-random-start", "pulsar-round-robin"):
        start = int(rng.integers(0, 2**32))
        return ((start + 1 + np.arange(count, dtype=np.int64)) % partition_count).astype(np.int32)
    return rng.integers(0, partition_count, size=count, dtype=np.int64).astype(np.int32)


def check_partition_count(partition_count: object) -> int:
    """Validate a partition count: a whole number from 1 to 2**31 - 1."""
    if isinstance(partition_count, bool) or not isinstance(partition_count, (int, np.integer)):
        raise UsageError(
            f"partition_count must be a whole number from 1 to {MAX_PARTITION_COUNT}; "
            f"got {partition_count!r}"
        )
    if not 1 <= int(partition_count) <= MAX_PARTITION_COUNT:
        raise UsageError(
            f"partition_count must be from 1 to {MAX_PARTITION_COUNT}; got {partition_count}"
        )
    return int(partition_count)


def _java_family(
    name: str,
    client: str,
    aliases: tuple[str, ...],
    keyless: str,
    notes: str,
    reference: str,
    text_encoding: str = "jdk",
) -> Partitioner:
    return Partitioner(
        text_encoding=text_encoding,
        name=name,
        client=client,
        algorithm="murmur2",
        sign_rule="mask",
        null_key="keyless",
        empty_key="hash",
        keyless=keyless,
        aliases=aliases,
        notes=notes,
        reference=reference,
    )


def _librdkafka(
    variant: str,
    algorithm: str | None,
    sign_rule: str,
    *,
    empty_key: str,
    null_hashed: bool,
    aliases: tuple[str, ...] = (),
    notes: str = "",
) -> Partitioner:
    return Partitioner(
        name=f"librdkafka:{variant}",
        client=f"librdkafka partitioner={variant}",
        algorithm=algorithm,
        sign_rule=sign_rule,
        null_key="hash" if null_hashed else "keyless",
        empty_key=empty_key,
        keyless="random" if variant == "random" else "librdkafka-sticky",
        # rd_kafka_msg_partitioner: NULL keys take the sticky path unless the partitioner is
        # one of consistent/murmur2/fnv1a; for random, keyed and empty keys are random each.
        null_keyless="librdkafka-sticky" if variant == "random" else "",
        aliases=aliases,
        hashes_null_as_empty=null_hashed,
        notes=notes,
        reference="confluentinc/librdkafka src/rdkafka_msg.c",
        ignores_keys=variant == "random",
        # Key bytes come from the binding: Go, .NET and node-rdkafka write U+FFFD for a lone
        # surrogate; confluent-kafka (Python) refuses such a key, so never sends it.
        text_encoding="replacement",
    )


_REGISTRY: tuple[Partitioner, ...] = (
    _java_family(
        "java",
        "Apache Kafka Java client >= 3.3 (built-in partitioner), Kafka Streams",
        ("kafka-streams", "java:builtin"),
        "uniform-sticky",
        "keyed records hash over all partitions; KIP-794 sticky path for null keys",
        "apache/kafka clients/.../producer/internals/BuiltInPartitioner.java",
    ),
    _java_family(
        "kafka-python",
        "kafka-python DefaultPartitioner",
        (),
        "random-repick",
        "null key: random.choice over available partitions, again when it has no open batch",
        "dpkp/kafka-python kafka/partitioner/default.py",
        text_encoding="refuse",
    ),
    _java_family(
        "aiokafka",
        "aiokafka DefaultPartitioner",
        (),
        "random",
        "same algorithm as kafka-python (not verified here)",
        "aio-libs/aiokafka aiokafka/partitioner.py",
        text_encoding="refuse",
    ),
    _java_family(
        "franz-go",
        "franz-go default (UniformBytesPartitioner, KafkaHasher murmur2)",
        (),
        "franz-sticky",
        "nil key: sticky for 64 KiB; empty non-nil key is hashed",
        "twmb/franz-go pkg/kgo/partitioner.go",
        text_encoding="replacement",
    ),
    _java_family(
        "kafkajs",
        "kafkajs v2 DefaultPartitioner (v1 JavaCompatiblePartitioner)",
        ("kafkajs:default", "kafkajs:java_compatible"),
        "round-robin-random-start",
        "null key: per-topic counter from a random uint32",
        "tulios/kafkajs src/producer/partitioners/default/partitioner.js",
        text_encoding="replacement",
    ),
    Partitioner(
        name="kafkajs:legacy",
        client="kafkajs v1.x default (LegacyPartitioner)",
        algorithm="murmur2_kafkajs_legacy",
        sign_rule="mask",
        null_key="keyless",
        empty_key="hash",
        keyless="round-robin-random-start",
        aliases=("kafkajs:v1",),
        notes="not Java's murmur2: double arithmetic and a re-mixed tail; v1 -> v2 moves keys",
        reference="tulios/kafkajs src/producer/partitioners/legacy/murmur2.js",
        text_encoding="replacement",
    ),
    _librdkafka(
        "consistent_random",
        "crc32",
        "unsigned",
        empty_key="keyless",
        null_hashed=False,
        aliases=("confluent-kafka", "librdkafka", "node-rdkafka", "rust-rdkafka", "kcat"),
        notes="the default of confluent-kafka-python/-go/-dotnet; empty keys go keyless",
    ),
    _librdkafka(
        "consistent",
        "crc32",
        "unsigned",
        empty_key="hash",
        null_hashed=True,
        notes="null and empty keys: crc32('') = 0, partition 0",
    ),
    _librdkafka(
        "murmur2",
        "murmur2",
        "mask",
        empty_key="hash",
        null_hashed=True,
        notes="Java-compatible; null keys hashed as empty (one fixed partition)",
    ),
    _librdkafka(
        "murmur2_random",
        "murmur2",
        "mask",
        empty_key="hash",
        null_hashed=False,
        notes="Java-compatible for keyed records",
    ),
    _librdkafka(
        "fnv1a",
        "fnv1a",
        "abs",
        empty_key="hash",
        null_hashed=True,
        notes="sarama-compatible; null keys hashed as empty (one fixed partition)",
    ),
    _librdkafka(
        "fnv1a_random",
        "fnv1a",
        "abs",
        empty_key="hash",
        null_hashed=False,
        notes="sarama-compatible for keyed records",
    ),
    _librdkafka(
        "random",
        None,
        "none",
        empty_key="keyless",
        null_hashed=False,
        notes="keys ignored: keyed and empty keys random per message; null keys sticky",
    ),
    Partitioner(
        name="sarama",
        client="IBM/sarama NewHashPartitioner (default)",
        algorithm="fnv1a",
        sign_rule="abs",
        null_key="keyless",
        empty_key="hash",
        keyless="random",
        aliases=("sarama:hash",),
        notes="= librdkafka fnv1a for every key",
        reference="IBM/sarama partitioner.go",
        text_encoding="replacement",
    ),
    Partitioner(
        name="sarama:reference_hash",
        client="IBM/sarama NewReferenceHashPartitioner",
        algorithm="fnv1a",
        sign_rule="mask",
        null_key="keyless",
        empty_key="hash",
        keyless="random",
        notes="FNV-1a with Java's mask, not murmur2",
        reference="IBM/sarama partitioner.go",
        text_encoding="replacement",
    ),
    Partitioner(
        name="sarama:crc32",
        client="IBM/sarama NewConsistentCRCHashPartitioner (>= 1.41)",
        algorithm="crc32",
        sign_rule="unsigned",
        null_key="keyless",
        empty_key="hash",
        keyless="random",
        aliases=("sarama:consistent_crc",),
        notes="empty key -> partition 0; sarama < 1.41 CRC used the signed rule",
        reference="IBM/sarama partitioner.go",
        text_encoding="replacement",
    ),
    Partitioner(
        name="sarama:murmur2",
        client="IBM/sarama NewMurmur2Partitioner (>= 1.50)",
        algorithm="murmur2",
        sign_rule="mask",
        null_key="keyless",
        empty_key="hash",
        keyless="random",
        notes="Java-compatible",
        reference="IBM/sarama partitioner.go",
        text_encoding="replacement",
    ),
    Partitioner(
        name="kafka-go",
        client="segmentio/kafka-go Writer default (RoundRobin)",
        algorithm=None,
        sign_rule="none",
        null_key="keyless",
        empty_key="keyless",
        keyless="round-robin",
        aliases=("kafka-go:round_robin",),
        ignores_keys=True,
        notes="the default Writer balancer ignores keys",
        reference="segmentio/kafka-go balancer.go",
        text_encoding="replacement",
    ),
    Partitioner(
        name="kafka-go:hash",
        client="segmentio/kafka-go Hash (>= 0.3.1)",
        algorithm="fnv1a",
        sign_rule="abs",
        null_key="keyless",
        empty_key="hash",
        keyless="round-robin",
        notes="sarama-compatible; nil key: its own round robin",
        reference="segmentio/kafka-go balancer.go",
        text_encoding="replacement",
    ),
    Partitioner(
        name="kafka-go:reference_hash",
        client="segmentio/kafka-go ReferenceHash",
        algorithm="fnv1a",
        sign_rule="mask",
        null_key="keyless",
        empty_key="hash",
        keyless="random",
        reference="segmentio/kafka-go balancer.go",
        text_encoding="replacement",
    ),
    Partitioner(
        name="kafka-go:crc32",
        client="segmentio/kafka-go CRC32Balancer",
        algorithm="crc32",
        sign_rule="unsigned",
        null_key="keyless",
        empty_key="keyless",
        keyless="random",
        notes="empty keys random, like librdkafka consistent_random",
        reference="segmentio/kafka-go balancer.go",
        text_encoding="replacement",
    ),
    Partitioner(
        name="kafka-go:murmur2",
        client="segmentio/kafka-go Murmur2Balancer",
        algorithm="murmur2",
        sign_rule="mask",
        null_key="keyless",
        empty_key="hash",
        keyless="random",
        notes="Java-compatible",
        reference="segmentio/kafka-go balancer.go",
        text_encoding="replacement",
    ),
    Partitioner(
        name="pulsar",
        client="Apache Pulsar Java client (JavaStringHash)",
        algorithm="java_string_hash",
        sign_rule="mask",
        null_key="keyless",
        empty_key="hash",
        keyless="pulsar-round-robin",
        aliases=("pulsar:java_string_hash",),
        notes="String.hashCode & 0x7fffffff; empty-key rule not verified",
        reference="apache/pulsar pulsar-client/.../impl/JavaStringHash.java",
        text_encoding="utf-16",
    ),
    Partitioner(
        name="pulsar:murmur3",
        client="Apache Pulsar Java client (Murmur3_32Hash)",
        algorithm="murmur3",
        sign_rule="mask",
        null_key="keyless",
        empty_key="hash",
        keyless="pulsar-round-robin",
        notes="murmur3_x86_32(UTF-8, seed 0) & 0x7fffffff",
        reference="apache/pulsar pulsar-common/.../util/Murmur3_32Hash.java",
    ),
    Partitioner(
        name="kinesis",
        client="AWS Kinesis Data Streams (evenly split shards)",
        algorithm="md5",
        sign_rule="range",
        null_key="reject",
        empty_key="reject",
        keyless="random",
        notes="MD5 of the UTF-8 partition key as a big-endian 128-bit integer",
        reference="AWS API reference, PutRecordsRequestEntry",
        text_encoding="refuse",
    ),
)

PARTITIONERS: dict[str, Partitioner] = {partitioner.name: partitioner for partitioner in _REGISTRY}
_ALIASES: dict[str, str] = {
    alias: partitioner.name for partitioner in _REGISTRY for alias in partitioner.aliases
}


def partitioner_names(*, aliases: bool = False) -> list[str]:
    """The registered partitioner names (and their aliases, if asked)."""
    names = list(PARTITIONERS)
    return names + list(_ALIASES) if aliases else names


def get_partitioner(name: str | Partitioner) -> Partitioner:
    """Look a partitioner up by name or alias; suggests the closest name when unknown."""
    if isinstance(name, Partitioner):
        return name
    if isinstance(name, str):
        if name in PARTITIONERS:
            return PARTITIONERS[name]
        if name in _ALIASES:
            return PARTITIONERS[_ALIASES[name]]
    raise invalid_choice("partitioner", name, partitioner_names(), aliases=_ALIASES)
