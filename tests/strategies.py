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

#: Bytes that look like a text input: separators, quotes, braces, newlines and bad UTF-8.
textish_bytes = st.lists(
    st.one_of(
        st.sampled_from([b",", b"\t", b"\n", b"\r\n", b'"', b"{", b"}", b"[", b"]", b":",
                         b"key", b"customer=", b"\x00", b"\xff", b"\xef\xbb\xbf", b"PAR1"]),
        st.binary(max_size=8),
    ),
    max_size=60,
).map(b"".join)  # fmt: skip
#: Input bytes for the reader fuzzers: any bytes, or text-like ones.
input_bytes = st.one_of(st.binary(max_size=400), textish_bytes)
#: Key templates: column-like text with braces, conversions and format specs mixed in.
templates = st.lists(
    st.one_of(st.sampled_from(["{", "}", "a", "b", "!r", "!z", ":", ">5", "05d", "{a}", "{b}",
                               "{}", "{0}", "."]), st.text(max_size=4)),
    max_size=8,
).map("".join)  # fmt: skip
#: Small event tables as rows of (key, size): keys from a few values so keys repeat.
event_rows = st.lists(
    st.tuples(st.sampled_from(["a", "b", "c", "user-1", "user-2", "", "ü"]),
              st.integers(min_value=0, max_value=1000)),
    min_size=1, max_size=80,
)  # fmt: skip
#: Text a number column may hold: numbers in many spellings or any short text, with or
#: without whitespace (ASCII and Unicode) around them.
number_texts = st.tuples(
    st.text(alphabet=" \t\n\r\x0b\x0c\x85\xa0\u1680\u2003\u2028\u3000", max_size=2),
    st.one_of(
        st.sampled_from(["12", "-0", "+1", "1.", ".5", "1e5", "1E-3", "nan", "inf", "-Infinity",
                         "0x10", "1_0", "", "1e", "１"]),
        st.integers().map(str),
        st.floats().map(repr),
        st.text(max_size=5),
    ),
    st.text(alphabet=" \t\n\r\xa0\u2003", max_size=2),
).map("".join)  # fmt: skip
