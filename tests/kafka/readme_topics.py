"""Write the topics that the README's live-topic examples read, to a broker.

``python tests/kafka/readme_topics.py BOOTSTRAP`` creates (the topics must not exist):

- ``orders`` (12 partitions): every row of ``sample_data/orders.csv``, keyed by
  ``customer_id``, in file order and in 10 rounds; in each round a seeded 74% of the rows
  go through a Java-compatible producer (librdkafka ``murmur2_random``) and the rest
  through confluent-kafka's default (``consistent_random``), as two services would;
- ``orders-archive`` (12 partitions, empty), a name for the "similar topics" example;
- ``clicks`` (1 partition): 3,000 records, one per batch, for the deletion example.

The README's outputs were made by starting Apache Kafka on localhost:9092 with
``tests.broker.start_kafka`` and running this script, then the commands it shows.
"""

from __future__ import annotations

import csv
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
JAVA_SHARE = 0.74
ROUNDS = 10


def main(bootstrap: str) -> None:
    sys.path.insert(0, str(ROOT))
    from tests import broker
    from tests.test_live import produce_single_batches

    with open(ROOT / "sample_data" / "orders.csv", newline="") as rows:
        keys = [row["customer_id"].encode() for row in csv.DictReader(rows)]
    broker.create_topics(bootstrap, {"orders": 12, "orders-archive": 12, "clicks": 1})
    rng = random.Random(20261127)
    java = [rng.random() < JAVA_SHARE for _ in keys]
    size = -(-len(keys) // ROUNDS)
    for start in range(0, len(keys), size):
        part = range(start, min(start + size, len(keys)))
        for is_java, partitioner in ((True, "murmur2_random"), (False, "consistent_random")):
            chosen = [keys[i] for i in part if java[i] == is_java]
            broker.produce(bootstrap, "orders", chosen, {"partitioner": partitioner})
    produce_single_batches(bootstrap, "clicks", 3000)
    print(f"orders: {len(keys):,} records, {sum(java):,} through murmur2_random")


if __name__ == "__main__":
    main(sys.argv[1])
