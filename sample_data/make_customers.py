"""Generate the Debezium example's inputs: customers.csv and customers-key.json.

``customers.csv``
    A CSV export of a ``customers`` table (``id,first_name,last_name,email,region``), 5,000
    rows, primary key ``id`` from 1001. A Debezium connector for this table keys every
    change event by the primary key, a struct ``{id}``, written by Kafka Connect's
    ``JsonConverter`` (``schemas.enable=true``, Debezium's default).

``customers-key.json``
    That key's Connect schema, as the converter writes it in every key's ``"schema"``.

``customers-key-v2.json``
    The same key with ``region`` added (the primary key widened to ``(id, region)``): the
    what-if of a key-schema change.

The same seed gives byte-identical files::

    python sample_data/make_customers.py
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

SEED = 20261202
FIRST = ["Sally", "George", "Edward", "Anne", "Mia", "Noah", "Lena", "Omar", "Ivy", "Raj"]
LAST = ["Thomas", "Bailey", "Walker", "Kretchmar", "Rossi", "Kim", "Novak", "Silva", "Berg"]
REGIONS = ["EU", "NA", "APAC", "LATAM"]
KEY_SCHEMA = {
    "type": "struct",
    "fields": [{"type": "int32", "optional": False, "field": "id"}],
    "optional": False,
    "name": "dbserver1.inventory.customers.Key",
}


def customers_csv(seed: int = SEED, count: int = 5_000) -> str:
    rng = np.random.default_rng(seed)
    lines = ["id,first_name,last_name,email,region"]
    regions = rng.choice(REGIONS, size=count, p=[0.45, 0.3, 0.2, 0.05])
    for index in range(count):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        key = 1001 + index
        lines.append(f"{key},{first},{last},{first.lower()}.{last.lower()}{key}@example.com,"
                     f"{regions[index]}")  # fmt: skip
    return "\n".join(lines) + "\n"


def main() -> None:
    folder = Path(__file__).resolve().parent
    (folder / "customers.csv").write_text(customers_csv())
    (folder / "customers-key.json").write_text(json.dumps(KEY_SCHEMA, indent=2) + "\n")
    region = {"type": "string", "optional": False, "field": "region"}
    widened = {**KEY_SCHEMA, "fields": [*KEY_SCHEMA["fields"], region]}
    (folder / "customers-key-v2.json").write_text(json.dumps(widened, indent=2) + "\n")


if __name__ == "__main__":
    main()
