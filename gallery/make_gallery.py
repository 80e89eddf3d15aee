"""Draws the README's plot gallery from sample_data/ and records what it was drawn from.

    python gallery/make_gallery.py

writes gallery/*.png and gallery/MANIFEST.json: the SHA-256 of every file the pictures
depend on (the plotting and analysis code, the sample data, this script) and of every PNG.
tests/test_gallery.py fails when the code or data changed but the gallery was not redrawn.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import partsim
from partsim import plot

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SOURCES = (
    "partsim/plot.py",
    "partsim/style.py",
    "partsim/events.py",
    "partsim/placement.py",
    "partsim/aggregates.py",
    "partsim/pipeline.py",
    "partsim/engine.py",
    "partsim/metrics.py",
    "partsim/reference.py",
    "partsim/windows.py",
    "partsim/analysis.py",
    "partsim/compare.py",
    "partsim/changes.py",
    "partsim/simulation.py",
    "sample_data/orders.csv",
    "gallery/make_gallery.py",
)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def source_digests() -> dict[str, str]:
    return {name: digest(ROOT / name) for name in SOURCES}


def draw(out: Path) -> dict[str, Path]:
    orders = ROOT / "sample_data" / "orders.csv"
    result = partsim.analyze(orders, key="customer_id", partition_count=12,
                             size="size_bytes", timestamp="ts")  # fmt: skip
    written = plot.save_plots(result, out)
    designs = {"customer": "customer_id", "region+customer": "{region}:{customer_id}"}
    sweep = partsim.sweep(orders, designs=designs, partition_counts=[6, 12, 24, 48],
                          partitioners=["java", "confluent-kafka"],
                          order_by="customer_id")  # fmt: skip
    written |= plot.save_sweep_plots(sweep, out)
    salted = partsim.whatif(orders, key="customer_id", partition_count=12, salt=6, salt_hot=3)
    written |= plot.save_whatif_plots(salted, out)
    run = partsim.simulate(orders, key="customer_id", partition_count=12, timestamp="ts",
                           size="size_bytes", consumers=4, consumer_capacity=3,
                           max_lag_seconds=60, brokers=3)  # fmt: skip
    written |= plot.save_simulation_plots(run, out)
    return written


def main() -> None:
    written = draw(HERE)
    manifest = {
        "sources": source_digests(),
        "images": {path.name: digest(path) for path in sorted(written.values())},
    }
    (HERE / "MANIFEST.json").write_text(json.dumps(manifest, indent=2) + "\n")


if __name__ == "__main__":
    main()
