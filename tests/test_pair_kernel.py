"""The byte kernels of a what-if that changes the key's format: each record's two serialized
keys joined into one key-table key (``pair_keys``) and taken apart again (``split_pairs``),
and Schema Registry framing (``frame``), with the C kernel and without it
(``PARTSIM_KERNELS=numpy``), against plain Python bytes."""

from __future__ import annotations

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from partsim import hashing
from partsim.placement import frame, pair_keys, split_pairs

KERNELS = ["numpy"] + (["c"] if hashing._kernels is not None else [])

keys = st.lists(st.one_of(st.none(), st.binary(max_size=12)), max_size=40)


def _array(values: list, large: bool, skip: int) -> pa.Array:
    """``values`` as Arrow binary (or large_binary), sliced so that offsets do not start at 0."""
    kind = pa.large_binary() if large else pa.binary()
    return pa.array([b"x"] * skip + values, kind).slice(skip)


@pytest.mark.parametrize("kernel", KERNELS)
@settings(max_examples=150, deadline=None)
@given(data=st.data(), large=st.booleans(), skip=st.integers(0, 3))
def test_pairs_round_trip_and_frames_prefix(kernel, data, large, skip) -> None:
    first = data.draw(keys)
    second = data.draw(st.lists(st.one_of(st.none(), st.binary(max_size=12)),
                                min_size=len(first), max_size=len(first)))  # fmt: skip
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PARTSIM_KERNELS", kernel)
        pairs = pair_keys(_array(first, large, skip), _array(second, False, 0))
        # A pair is null only where both keys are; distinct pairs are distinct values.
        assert [v is None for v in pairs.to_pylist()] == [
            a is None and b is None for a, b in zip(first, second, strict=True)
        ]
        values = pairs.to_pylist()
        for i in range(len(first)):
            for j in range(len(first)):
                same = (first[i], second[i]) == (first[j], second[j])
                assert (values[i] == values[j]) == same
        cut = skip % (len(first) + 1)
        back = split_pairs(pairs.slice(cut))
        assert [side.to_pylist() for side in back] == [first[cut:], second[cut:]]
        framed = frame(_array(first, large, skip), b"\x00\x00\x00\x00\x07")
        assert framed.to_pylist() == [None if v is None else b"\x00\x00\x00\x00\x07" + v
                                      for v in first]  # fmt: skip
        assert framed.type == (pa.large_binary() if large else pa.binary())


def test_split_refuses_what_is_not_a_pair() -> None:
    if hashing._kernels is None:
        pytest.skip("the C kernel is not built: pip install -e . builds it")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PARTSIM_KERNELS", "c")
        with pytest.raises(ValueError, match="not a pair of keys"):
            split_pairs(pa.array([b"\x00\x00\x00\x00\x09abc"]))
