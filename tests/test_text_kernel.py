"""The C kernel's text parsing against Arrow's casts (the numpy backend's only path).

``parse_numbers`` and ``parse_timestamps`` hand whole numbers and ISO 8601 times in one
strict form to the kernel, and everything else to Arrow and pandas. Whatever the text, the
results must be the same with the kernel and without it (``PARTSIM_KERNELS=numpy``).
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from partsim import events, hashing
from partsim.events import _COUNTS, _ISO_TIMES, parse_numbers, parse_timestamps

pytestmark = pytest.mark.skipif(hashing._kernels is None, reason="unreachable: CI builds it")


def _both(parse, values: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, ...]:
    """``parse(values)`` with the kernel, and without it."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PARTSIM_KERNELS", "numpy")
        slow = parse(values)
        patch.setenv("PARTSIM_KERNELS", "c")
        return parse(values), slow


def _two(width: int, low: int, high: int):
    return st.integers(low, high).map(lambda n: str(n).zfill(width))


ISO = st.builds(
    lambda y, mo, d, sep, h, mi, s, frac, zone: f"{y}-{mo}-{d}{sep}{h}:{mi}:{s}{frac}{zone}",
    _two(4, 1600, 2300),
    _two(2, 0, 13),
    _two(2, 0, 32),
    st.sampled_from(["T", " ", "t", "_"]),
    _two(2, 0, 24),
    _two(2, 0, 60),
    _two(2, 0, 60),
    st.one_of(st.just(""), st.text("0123456789", min_size=0, max_size=11).map(lambda f: "." + f)),
    st.sampled_from(["", "", "Z", "z", "+00:00", "+0100", " "]),
)
TIME_TEXT = st.one_of(ISO, ISO.map(lambda t: t[:16]), st.text(max_size=30), st.none())


#: Times the kernel reads: real dates and times in its years, with or without a fraction
#: (1 to 9 digits) and a Z.
def _kernel_iso(moment: datetime, sep: str, digits: int, zone: str) -> str:
    fraction = f".{moment.microsecond:06d}{moment.microsecond % 1000:03d}"[: digits + 1]
    return moment.strftime(f"%Y-%m-%d{sep}%H:%M:%S") + (fraction if digits else "") + zone


KERNEL_ISO = st.builds(
    _kernel_iso,
    st.datetimes(min_value=datetime(1678, 1, 1), max_value=datetime(2261, 12, 31, 23, 59, 59)),
    st.sampled_from(["T", " "]),
    st.integers(0, 9),
    st.sampled_from(["", "Z"]),
)


@settings(max_examples=300, deadline=None)
@given(values=st.lists(st.one_of(KERNEL_ISO, st.none()), max_size=40),
       large=st.booleans())  # fmt: skip
def test_times_match_arrow(values, large) -> None:
    array = pa.array(values, pa.large_string() if large else pa.string())
    assert events._parsed_by_kernel(array, _ISO_TIMES) is not None
    fast, slow = _both(parse_timestamps, array)
    assert fast.tolist() == slow.tolist()


@settings(max_examples=200, deadline=None)
@given(values=st.lists(TIME_TEXT, max_size=20))
def test_any_time_text_matches(values) -> None:
    """Mixed with text of any kind, the kernel gives way and nothing changes."""
    array = pa.array(values, pa.string())
    fast, slow = _both(parse_timestamps, array)
    assert fast.tolist() == slow.tolist()


NUMBER_TEXT = st.one_of(
    st.text("0123456789", min_size=1, max_size=20),
    st.text("0123456789+-. eE", max_size=8),
    st.integers(-(10**17), 10**17).map(str),
    st.none(),
)


@settings(max_examples=200, deadline=None)
@given(values=st.lists(st.one_of(st.text("0123456789", min_size=1, max_size=15), st.none()),
                       max_size=40),
       large=st.booleans())  # fmt: skip
def test_counts_match_arrow(values, large) -> None:
    array = pa.array(values, pa.large_string() if large else pa.string())
    assert events._parsed_by_kernel(array, _COUNTS) is not None
    fast, slow = _both(parse_numbers, array)
    np.testing.assert_array_equal(fast, slow)


@settings(max_examples=300, deadline=None)
@given(values=st.lists(NUMBER_TEXT, max_size=40), large=st.booleans())
def test_numbers_match_arrow(values, large) -> None:
    array = pa.array(values, pa.large_string() if large else pa.string())
    fast, slow = _both(parse_numbers, array)
    np.testing.assert_array_equal(fast, slow)


def test_the_kernel_reads_the_common_forms(monkeypatch) -> None:
    """The forms exports use go to the kernel (else it would speed nothing up): sliced and
    chunked, with nulls; and one value in another form sends the whole column to Arrow."""
    monkeypatch.setenv("PARTSIM_KERNELS", "c")
    times = pa.array(["x", "2024-02-29 23:59:59.5", None, "1970-01-01T00:00:00Z", "y"]).slice(1, 3)
    got = events._parsed_by_kernel(pa.chunked_array([times, times]), _ISO_TIMES)
    second = 1_709_251_199_500_000_000
    assert got.tolist() == [second, np.iinfo(np.int64).min, 0] * 2
    counts = pa.array(["7", None, "000123", "999999999999999"])
    assert events._parsed_by_kernel(counts, _COUNTS).tolist()[2:] == [123.0, 999999999999999.0]
    assert events._parsed_by_kernel(pa.array(["7", "7.5"]), _COUNTS) is None
    assert events._parsed_by_kernel(pa.array(["2023-02-29 00:00:00"]), _ISO_TIMES) is None
    monkeypatch.setenv("PARTSIM_KERNELS", "numpy")
    assert events._parsed_by_kernel(counts, _COUNTS) is None


@pytest.mark.parametrize(
    "text",
    [
        "1900-02-29 00:00:00", "2000-02-29 00:00:00", "2100-02-29T12:00:00Z",
        "2024-02-29 00:00:00", "2023-04-31 00:00:00", "2023-12-31 23:59:59.999999999",
        "1678-01-01 00:00:00", "2261-12-31T23:59:59.123Z", "1677-12-31 23:59:59",
        "2262-01-01 00:00:00", "2024-01-01 24:00:00", "2024-01-01 23:60:00",
        "2024-01-01 23:59:60", "2024-00-10 00:00:00", "2024-13-10 00:00:00",
        "2024-01-00 00:00:00", "2024-01-01 00:00:00.", "2024-01-01 00:00:00.1234567890",
    ],
)  # fmt: skip
def test_calendar_edges_match_arrow(text) -> None:
    """Leap years (1900 and 2100 are not, 2000 is), month lengths, the kernel's year range
    and out-of-range fields: alone in a column, the kernel reads each as Arrow does."""
    fast, slow = _both(parse_timestamps, pa.array([text]))
    assert fast.tolist() == slow.tolist()
