"""Generate the sample inputs of ``partsim analyze``: orders.csv, app.log and orders.kcat.

The same seed gives byte-identical files, so the committed samples can be checked by
running this again::

    python sample_data/make_samples.py                # writes next to this script
    python sample_data/make_samples.py --out samples  # or anywhere else

``orders.csv``
    18,000 orders: ``order_id,customer_id,region,amount,size_bytes,ts``. Customers follow a
    Zipf-like law over 2,000 ids (``C00042``), so a few are very hot; five regions have
    uneven weights (``NA`` is North America: text, not a missing value); ``size_bytes`` is
    200-2,000; ``ts`` is ISO-8601 UTC in milliseconds over 30 minutes with three bursts.
    About 0.5% of the rows have an empty ``customer_id`` (a null key).

``app.log``
    5,000 application log lines, mostly order lines that this regex reads (the other lines,
    startup and warnings, do not match and are skipped)::

        ^(?P<ts>\\S+) INFO \\S+ placed order=\\S+ customer=(?P<key>\\S+) bytes=(?P<size>\\d+)

``orders.kcat``
    3,000 records as ``kcat -C -t orders -f '%k\\t%p\\t%o\\t%T\\t%S\\n'`` prints them for a
    6-partition topic written by the Java producer: the partition is ``partsim.assign(keys,
    6)``, offsets count up per partition, timestamps are epoch milliseconds and the last
    field is the value size. A null key prints as an empty field.
"""

from __future__ import annotations

import argparse
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np

import partsim

SEED = 20261127
CUSTOMER_COUNT = 2_000
ZIPF_EXPONENT = 1.1
NULL_KEY_SHARE = 0.005
REGIONS = ("EU", "NA", "APAC", "LATAM", "MEA")  # "NA" is North America, not a null
REGION_WEIGHTS = (0.40, 0.30, 0.15, 0.10, 0.05)
START = datetime(2026, 11, 27, 10, 0, 0, tzinfo=timezone.utc)
SPAN_SECONDS = 30 * 60
PARTITION_COUNT = 6
LOG_REGEX = r"^(?P<ts>\S+) INFO \S+ placed order=\S+ customer=(?P<key>\S+) bytes=(?P<size>\d+)"


def customer_ids(rng: np.random.Generator, count: int) -> list[str]:
    """Customer ids drawn from a Zipf-like law; hot customers have scattered ids."""
    ranks = np.arange(1, CUSTOMER_COUNT + 1)
    weights = 1.0 / ranks**ZIPF_EXPONENT
    numbers = rng.permutation(np.arange(1, CUSTOMER_COUNT + 1))  # rank -> id number
    drawn = rng.choice(CUSTOMER_COUNT, size=count, p=weights / weights.sum())
    return [f"C{number:05d}" for number in numbers[drawn]]


def bursty_offsets(rng: np.random.Generator, count: int) -> np.ndarray:
    """Sorted offsets in milliseconds: a steady flow plus three bursts of about 20 s."""
    steady = count * 7 // 10
    offsets = [rng.uniform(0, SPAN_SECONDS, steady)]
    centres = rng.uniform(60, SPAN_SECONDS - 60, 3)
    shares = rng.multinomial(count - steady, [0.5, 0.3, 0.2])
    for centre, share in zip(centres, shares, strict=True):
        offsets.append(rng.normal(centre, 10.0, share))
    seconds = np.clip(np.concatenate(offsets), 0, SPAN_SECONDS - 0.001)
    return np.sort(np.round(seconds * 1000).astype(np.int64))


def iso(offset_ms: int) -> str:
    moment = START + timedelta(milliseconds=int(offset_ms))
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def orders_csv(seed: int = SEED, count: int = 18_000) -> str:
    rng = np.random.default_rng(seed)
    customers = customer_ids(rng, count)
    null = rng.random(count) < NULL_KEY_SHARE
    regions = rng.choice(len(REGIONS), size=count, p=REGION_WEIGHTS)
    amounts = np.round(rng.lognormal(mean=3.8, sigma=0.7, size=count), 2)
    sizes = rng.integers(200, 2_001, size=count)
    offsets = bursty_offsets(rng, count)
    lines = ["order_id,customer_id,region,amount,size_bytes,ts"]
    for index in range(count):
        customer = "" if null[index] else customers[index]
        lines.append(
            f"O{index + 1:05d},{customer},{REGIONS[regions[index]]},{amounts[index]:.2f},"
            f"{sizes[index]},{iso(offsets[index])}"
        )
    return "\n".join(lines) + "\n"


def app_log(seed: int = SEED, count: int = 5_000) -> str:
    rng = np.random.default_rng(seed + 1)
    customers = customer_ids(rng, count)
    sizes = rng.integers(200, 2_001, size=count)
    offsets = bursty_offsets(rng, count)
    noise = rng.random(count) < 0.02
    lines = [
        f"{iso(0)} INFO order-service starting (version 4.2.1, pid 4242)",
        f"{iso(0)} INFO order-service connected to kafka bootstrap broker-1:9092",
    ]
    for index in range(count):
        when = iso(offsets[index])
        if noise[index]:
            lines.append(f"{when} WARN order-service slow commit: 1250 ms")
            continue
        lines.append(
            f"{when} INFO order-service placed order=O{index + 1:05d} "
            f"customer={customers[index]} bytes={sizes[index]}"
        )
    lines.append(f"{iso(SPAN_SECONDS * 1000 - 1)} INFO order-service shutting down")
    return "\n".join(lines) + "\n"


def orders_kcat(seed: int = SEED, count: int = 3_000) -> str:
    rng = np.random.default_rng(seed + 2)
    customers = customer_ids(rng, count)
    keys: list[str | None] = [
        None if null else key
        for key, null in zip(customers, rng.random(count) < NULL_KEY_SHARE, strict=True)
    ]
    partitions = partsim.assign(keys, PARTITION_COUNT, seed=seed)
    sizes = rng.integers(200, 2_001, size=count)
    start_ms = int(START.timestamp() * 1000)
    offsets = bursty_offsets(rng, count) + start_ms
    next_offset = [0] * PARTITION_COUNT
    lines = []
    for index, key in enumerate(keys):
        partition = int(partitions[index])
        lines.append(
            f"{key or ''}\t{partition}\t{next_offset[partition]}\t{offsets[index]}\t{sizes[index]}"
        )
        next_offset[partition] += 1
    return "\n".join(lines) + "\n"


def write_samples(out: Path, seed: int = SEED) -> list[Path]:
    """Write the three samples into ``out``; returns their paths."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in (
        ("orders.csv", orders_csv(seed)),
        ("app.log", app_log(seed)),
        ("orders.kcat", orders_kcat(seed)),
    ):
        path = out / name
        path.write_bytes(text.encode("utf-8"))
        written.append(path)
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent)
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args()
    for path in write_samples(args.out, args.seed):
        print(f"{path.name}: {path.stat().st_size:,} bytes")


if __name__ == "__main__":
    main()
