"""Write the topics that the README's live-topic examples read, to a broker.

``python tests/kafka/readme_topics.py BOOTSTRAP`` creates (the topics must not exist):

- ``orders`` (12 partitions) and ``orders-archive`` (12 partitions, empty): what
  ``tests/readme_examples.py`` (:func:`~tests.readme_examples.create_topics`) writes for
  the tests that run the README's live examples; see
  :func:`~tests.readme_examples.produce_orders` for how the orders are produced;
- ``clicks`` (1 partition): 3,000 records, one per batch, for the deletion example.

The tests run the live examples themselves on their own topics (``tests/test_readme.py``);
this script is for running them by hand against a broker on localhost:9092.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def main(bootstrap: str) -> None:
    sys.path.insert(0, str(ROOT))
    from tests import broker
    from tests.readme_examples import create_topics
    from tests.test_live import produce_single_batches

    written = create_topics(bootstrap)
    broker.create_topics(bootstrap, {"clicks": 1})
    produce_single_batches(bootstrap, "clicks", 3000)
    print("orders: " + ", ".join(f"{count:,} through {name}" for name, count in written.items()))


if __name__ == "__main__":
    main(sys.argv[1])
