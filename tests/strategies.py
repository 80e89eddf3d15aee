"""Hypothesis strategies shared by the property tests."""

from __future__ import annotations

from hypothesis import strategies as st

#: Keys of every length from 0 to 300 bytes, any byte values (>= 0x80 included).
key_bytes = st.binary(min_size=0, max_size=300)
#: Batches of keys, so the vectorized path sees mixed lengths in one array.
key_batches = st.lists(key_bytes, min_size=1, max_size=60)
#: Partition counts from 1 to 10,000, with the small and power-of-two counts drawn often.
partition_counts = st.one_of(
    st.integers(min_value=1, max_value=10_000),
    st.sampled_from([1, 2, 3, 6, 7, 12, 16, 31, 64, 100, 256]),
)
#: Text keys, lone surrogates included (the JDK encodes them as '?').
text_keys = st.text(alphabet=st.characters(codec=None), max_size=40)
