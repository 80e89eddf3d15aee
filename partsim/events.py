"""The events stage: a batch of raw rows becomes usable events.

Two steps, each configured once and called per batch:

* :class:`EventParser` keeps a batch's usable rows and parses their sizes and times
  (:func:`parse_numbers`, :func:`parse_timestamps`); a row whose size or time is unparsable
  is skipped and counted (an error with ``strict``). Every key design of a run shares it.
* :class:`KeyEncoder` makes each event's key bytes from a key design and the producer's
  serializer (:class:`~partsim.options.ProducerOptions`), and its bytes (weight).

Randomness and state have no place here: the same batch always gives the same events.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from partsim.design import KeyDesign
from partsim.errors import DataError, UsageError
from partsim.hashing import KernelArray, _kernels, kernel_backend
from partsim.serde import text_values

__all__ = [
    "MISSING_TIME",
    "EventParser",
    "Events",
    "KeyEncoder",
    "Rows",
    "parse_numbers",
    "parse_timestamps",
    "parse_window",
]


# ---------------------------------------------------------------------- columns
def parse_window(window: str | int | float | pd.Timedelta) -> int:
    """A window length in nanoseconds, from ``"1min"``, ``"30s"``, ``"5m"``, ``"1h"`` or seconds.

    >>> parse_window("1min") == 60 * 10**9
    True
    """
    try:
        if isinstance(window, (int, float)) and not isinstance(window, bool):
            length = pd.Timedelta(seconds=window)
        else:
            text = str(window).strip()
            text = text[:-1] + "min" if text.endswith("m") and text[:-1].isdigit() else text
            length = pd.Timedelta(text)
    except (ValueError, TypeError):
        length = None
    if length is None or length <= pd.Timedelta(0):
        raise UsageError(
            f"--window must be a positive duration such as 1min, 30s or 1h; got {window!r}"
        )
    return int(length.value)


_NUMBER = r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$"
MISSING_TIME = np.iinfo(np.int64).min
_ZONED = r"([zZ]|[+-]\d\d(:?\d\d)?)$"


def parse_numbers(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Numbers from a column (text is parsed); NaN where a value is missing or not a number."""
    if pa.types.is_dictionary(values.type):
        values = values.cast(values.type.value_type)
    if not (pa.types.is_integer(values.type) or pa.types.is_floating(values.type)):
        if not (pa.types.is_string(values.type) or pa.types.is_large_string(values.type)):
            try:
                values = values.cast(pa.large_string())
            except pa.ArrowInvalid:  # bytes that are not UTF-8 (a kcat key): not numbers
                values = pa.array([_utf8_or_none(value) for value in values.to_pylist()],
                                  pa.large_string())  # fmt: skip
        counts = _parsed_by_kernel(values, _COUNTS)
        if counts is not None:
            return counts
        try:  # Arrow takes no whitespace around a number, so where this works trimming is moot
            values = pc.cast(values, pa.float64())
        except pa.ArrowInvalid:
            values = _trimmed_numbers(values)
    # An integer past 2**53 becomes the nearest double (a safe cast would refuse it).
    return pc.cast(values, pa.float64(), safe=False).to_numpy(zero_copy_only=False)


def _trimmed_numbers(values: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """Text as float64 after trimming whitespace; values that are not numbers are missing."""
    values = pc.utf8_trim_whitespace(values)  # " 12" is 12, as a spreadsheet reads it
    try:
        return pc.cast(values, pa.float64())
    except pa.ArrowInvalid:  # some values are not numbers: those become missing
        numeric = pc.match_substring_regex(values, _NUMBER)
        return pc.cast(pc.if_else(numeric, values, pa.scalar(None, values.type)), pa.float64())


#: What the C kernel's ``parse_text`` reads: whole numbers (digits only), or ISO 8601
#: times in one strict form (see :func:`_parsed_by_kernel`).
_COUNTS, _ISO_TIMES = 0, 1


def _parsed_by_kernel(values: pa.Array | pa.ChunkedArray, kind: int) -> np.ndarray | None:
    """Text parsed by the C kernel where every value has its one strict form, else None.

    ``_COUNTS``: digits only, up to 15 (float64; NaN for a null). ``_ISO_TIMES``:
    ``YYYY-MM-DD[T ]hh:mm:ss[.fffffffff][Z]`` of a real date and time in 1678-2261 (int64
    ns, as UTC; ``INT64_MIN`` for a null). These are what sizes and event times in exports
    usually look like; the kernel reads them to the same values as Arrow's casts, times in
    under a third of the time (it parses a minute once for the times that share it), and
    numbers in about half. Anything else returns None, and the column is parsed the usual
    way."""
    if kernel_backend() != "c":
        return None
    out = np.empty(len(values), dtype=np.float64 if kind == _COUNTS else np.int64)
    start = 0
    for chunk in values.chunks if isinstance(values, pa.ChunkedArray) else [values]:
        stop = start + len(chunk)
        if not _kernels.parse_text(kind, *KernelArray.of(chunk), out[start:stop]):
            return None
        start = stop
    return out


def _utf8_or_none(value: bytes | None) -> str | None:
    try:
        return None if value is None else value.decode("utf-8")
    except UnicodeDecodeError:
        return None


def parse_timestamps(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Event times in int64 nanoseconds since the epoch (UTC); ``INT64_MIN`` where unparsable.

    Each value is read on its own, whatever the others hold. A number is epoch seconds,
    milliseconds, microseconds or nanoseconds by its own magnitude: below 1e11 seconds (up
    to the year 5138), below 1e14 milliseconds (from March 1973), below 1e17 microseconds,
    else nanoseconds; so seconds and milliseconds may mix in one column. Other text is ISO
    8601 (a time without a zone is taken as UTC), or any form pandas parses.
    """
    if pa.types.is_dictionary(values.type):
        values = values.cast(values.type.value_type)
    if pa.types.is_timestamp(values.type) or pa.types.is_date(values.type):
        return _time_ns(pc.cast(values, pa.timestamp("ns", tz=getattr(values.type, "tz", None))))
    text = pa.types.is_string(values.type) or pa.types.is_large_string(values.type)
    if text:
        times = _parsed_by_kernel(values, _ISO_TIMES)
        if times is not None:
            return times
        # A failed cast is slow (it builds an error per value), so pick the type from a
        # sample first: an ISO time with a zone (Z or +hh:mm) or without one (taken as UTC).
        sample = pc.drop_null(values.slice(0, 64))
        zoned = len(sample) and pc.all(pc.match_substring_regex(sample, _ZONED)).as_py()
        try:
            return _time_ns(pc.cast(values, pa.timestamp("ns", tz="UTC" if zoned else None)))
        except pa.ArrowInvalid:
            pass
    if pa.types.is_integer(values.type):
        return _epoch_integers(values)
    numbers = parse_numbers(values)
    numeric = np.isfinite(numbers)
    out = np.full(len(numbers), MISSING_TIME, dtype=np.int64)
    if numeric.any():
        # Each number's unit by its own magnitude, never by the other values in its batch.
        magnitude = np.abs(numbers)
        scale = _epoch_scale(magnitude)
        with np.errstate(over="ignore", invalid="ignore"):  # inf, and then unparsable
            nanoseconds = numbers * scale
        # Past int64 nanoseconds (about the years 1678-2262) a number names no time we can
        # hold: unparsable, rather than whatever the cast would wrap it to.
        numeric &= np.abs(np.where(numeric, nanoseconds, 0)) < 2.0**63 - 2.0**11
        out[numeric] = nanoseconds[numeric].astype(np.int64)
        whole = numeric & (magnitude < 2.0**53) & (numbers == np.round(numbers))
        if whole.any():  # whole numbers in integers, exactly: 1700000000123 ms is ...123000000
            out[whole] = numbers[whole].astype(np.int64) * scale[whole]
    rest = np.flatnonzero(~np.isfinite(numbers) & np.asarray(pc.is_valid(values)))
    if text and len(rest):  # the values that are not numbers: as text times, one by one
        series = pd.Series(text_values(values.take(pa.array(rest))), dtype=object)
        parsed = pd.to_datetime(series, utc=True, errors="coerce", format="mixed")
        times = parsed.to_numpy(dtype="datetime64[ns]").view(np.int64).copy()
        times[parsed.isna().to_numpy()] = MISSING_TIME
        out[rest] = times
    return out


def _epoch_scale(magnitude: np.ndarray) -> np.ndarray:
    """Nanoseconds per unit of each epoch number, by its own magnitude (see
    :func:`parse_timestamps`)."""
    return np.select(
        [magnitude < 1e11, magnitude < 1e14, magnitude < 1e17], [10**9, 10**6, 10**3], 1
    ).astype(np.int64)


def _epoch_integers(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """An integer column's epoch numbers in nanoseconds, exactly (an int64 of nanoseconds
    is past 2**53, where a double would round it); past int64 nanoseconds, unparsable."""
    valid = np.asarray(pc.is_valid(values), dtype=bool)
    if pa.types.is_uint64(values.type):
        huge = np.asarray(
            pc.greater(values, pa.scalar(2**63 - 1, pa.uint64())).fill_null(False), dtype=bool
        )
        valid &= ~huge
        values = pc.if_else(huge, pa.scalar(0, values.type), values)
    numbers = values.cast(pa.int64()).fill_null(0).to_numpy(zero_copy_only=False)
    scale = _epoch_scale(np.abs(numbers.astype(np.float64)))
    valid &= (numbers != np.iinfo(np.int64).min) & (
        np.abs(numbers) <= np.iinfo(np.int64).max // scale
    )
    out = np.full(len(numbers), MISSING_TIME, dtype=np.int64)
    out[valid] = numbers[valid] * scale[valid]
    return out


def _time_ns(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    out = pc.cast(values, pa.int64()).fill_null(MISSING_TIME)
    return out.to_numpy(zero_copy_only=False)


# ------------------------------------------------------------------------- rows
class Rows(NamedTuple):
    """A batch's usable rows and their parsed sizes and times (see :class:`EventParser`)."""

    batch: pa.RecordBatch | pa.Table
    sizes: np.ndarray | None
    times: np.ndarray | None
    skipped: int


@dataclass(frozen=True)
class EventParser:
    """Keeps a batch's usable rows, with their sizes (``size``, or ``value_size`` where the
    input has it) and times (``timestamp``) parsed."""

    size: str | None = None
    timestamp: str | None = None
    strict: bool = False
    value_sizes: bool = False  # the input has value_size (a kcat dump or a live sample)

    def __call__(self, batch: pa.RecordBatch | pa.Table) -> Rows:
        count = batch.num_rows
        keep = np.ones(count, dtype=bool)
        sizes = None
        if self.size:
            sizes = parse_numbers(batch.column(self.size))
            keep &= np.isfinite(sizes) & (sizes >= 0)
        elif self.value_sizes:
            value_sizes = parse_numbers(batch.column("value_size"))
            sizes = np.where(np.isfinite(value_sizes), value_sizes, 0.0)
        times = None
        if self.timestamp:
            times = parse_timestamps(batch.column(self.timestamp))
            keep &= times != MISSING_TIME
        skipped = int(count - keep.sum())
        if skipped and self.strict:
            what = " and ".join(c for c in (self.size, self.timestamp) if c)
            raise DataError(f"{skipped} rows have an unparsable {what} (--strict)")
        if skipped:
            batch = batch.filter(pa.array(keep))
            sizes = sizes[keep] if sizes is not None else None
            times = times[keep] if times is not None else None
        return Rows(batch, sizes, times, skipped)


# ----------------------------------------------------------------------- events
@dataclass(frozen=True)
class Events:
    """One batch's usable events, ready to place: what :class:`KeyEncoder` returns."""

    batch: pa.RecordBatch | pa.Table  # the rows kept
    key_bytes: pa.Array  # serialized keys, null for a null key
    weights: np.ndarray  # bytes per event (1 without sizes)
    times: np.ndarray | None  # ns since the epoch, with a timestamp column
    skipped: int  # rows dropped as unparsable
    #: Which of the parsed rows (:class:`Rows`) remain: None when all do; else the rows
    #: dropped because the key schema cannot hold their key are False.
    kept: np.ndarray | None = None


@dataclass(frozen=True)
class KeyEncoder:
    """Each event's key bytes under a key design and a producer's serializer, and its bytes:
    the ``size`` column's, or the key's length plus ``value_size`` where the rows' sizes are
    value sizes (``size_column`` False), or 1 without sizes. ``framing_length`` bytes of
    framing, put before each key later (:func:`partsim.placement.frame`), count in its
    length.

    Without a design, the key is a record whose fields come from ``record_columns`` ((field
    path, column) pairs, :func:`partsim.schemas.column_plan`). A key the key schema cannot
    hold makes its row unparsable: skipped and counted (the events' ``kept`` mask says
    which of the parsed rows remain), or an error when ``strict``."""

    design: KeyDesign | None
    producer: object  # a ProducerOptions: encode(keys) gives the key bytes
    size_column: bool = False
    framing_length: int = 0
    record_columns: tuple = ()
    strict: bool = False

    @property
    def label(self) -> str:
        """The key as the summary names it."""
        if self.design is not None:
            return self.design.expression
        fields = ", ".join(".".join(path) for path, _ in self.record_columns)
        return f"{{{fields}}} (a record, from the columns)"

    def values(self, batch: pa.RecordBatch | pa.Table) -> object:
        """Each event's key before serialization: the design's, or a record's fields."""
        if self.design is not None:
            return self.design.keys(batch)
        from partsim.schemas import record_values

        return record_values(batch, list(self.record_columns))

    def __call__(self, rows: Rows) -> Events:
        batch, sizes, times, skipped = rows
        try:
            encoded = self.producer.encode(self.values(batch))
        except pa.ArrowInvalid as error:
            raise DataError(f"--key {self.label!r}: {error}") from None
        key_bytes, kept = encoded.keys, None
        if encoded.bad is not None:  # keys the key schema cannot hold: unparsable rows
            if self.strict:
                raise DataError(f"{encoded.bad_count} rows have a key the key schema cannot "
                                f"hold (--strict), such as: {encoded.reasons[0]}")  # fmt: skip
            keep = pa.array(~encoded.bad)
            batch, key_bytes = batch.filter(keep), key_bytes.filter(keep)
            sizes = sizes[~encoded.bad] if sizes is not None else None
            times = times[~encoded.bad] if times is not None else None
            skipped += encoded.bad_count
            kept = ~encoded.bad
        if isinstance(key_bytes, pa.ChunkedArray):
            key_bytes = key_bytes.combine_chunks()
        if sizes is None:
            weights = np.ones(len(key_bytes))
        elif self.size_column:
            weights = sizes
        else:
            key_lengths = pc.binary_length(key_bytes)
            if self.framing_length:
                key_lengths = pc.add(key_lengths, self.framing_length)
            weights = sizes + key_lengths.fill_null(0).to_numpy(zero_copy_only=False)
        return Events(batch, key_bytes, weights, times, skipped, kept)
