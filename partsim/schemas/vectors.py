"""Vectorized key encoding: whole Arrow arrays of primitive keys at once, with no Python loop
per key.

- :func:`prefixed` writes each key as a constant prefix (the Schema Registry frame, a union
  branch), its length as a varint (Avro's zigzag or protobuf's plain varint), then its bytes:
  Avro ``string`` and ``bytes`` keys. The C kernel does the copy; numpy is the fallback.
- :func:`varints` writes each integer as a constant prefix and its varint: Avro ``int`` and
  ``long`` keys.
- :func:`integers` reads integer keys from an integer or text array, marking the values that
  are not integers of the asked width.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from partsim.hashing import KernelArray, _kernels, kernel_backend
from partsim.schemas.values import parse_java_integer, text_values

__all__ = ["integers", "prefixed", "varint_length", "varints"]

LENGTH_MODES = {None: 0, "zigzag": 1, "plain": 2}


def varint_length(values: np.ndarray) -> np.ndarray:
    """Bytes of each unsigned 64-bit value's base-128 varint (1 to 10).

    >>> varint_length(np.array([0, 127, 128, 2**63], dtype=np.uint64)).tolist()
    [1, 1, 2, 10]
    """
    values = values.astype(np.uint64, copy=False)
    count = np.ones(len(values), dtype=np.int64)
    for shift in range(7, 64, 7):
        count += values >= (np.uint64(1) << np.uint64(shift))
    return count


def _varint_bytes(values: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """A ``len(values) x 10`` matrix of each value's varint bytes (past its length: junk)."""
    values = values.astype(np.uint64, copy=False)
    out = np.empty((len(values), 10), dtype=np.uint8)
    for index in range(10):
        byte = (values >> np.uint64(7 * index)) & np.uint64(0x7F)
        more = lengths > index + 1
        out[:, index] = (byte | (more.astype(np.uint64) << np.uint64(7))).astype(np.uint8)
    return out


def _assemble(
    heads: np.ndarray, head_lengths: np.ndarray, valid: np.ndarray, tails: pa.Array | None
) -> pa.Array:
    """Binary array whose row i is ``heads[i, :head_lengths[i]]`` + tail i (null where not
    ``valid``); ``tails`` is a binary array of the valid rows' tails, in order, or None."""
    count = len(head_lengths)
    head_lengths = np.where(valid, head_lengths, 0)
    tail_lengths = np.zeros(count, dtype=np.int64)
    tail_data = np.zeros(0, dtype=np.uint8)
    if tails is not None and len(tails):
        tail_offsets = np.frombuffer(tails.buffers()[1], dtype=np.int32)
        tail_offsets = tail_offsets[tails.offset : tails.offset + len(tails) + 1]
        tail_lengths[valid] = np.diff(tail_offsets)
        tail_data = np.frombuffer(tails.buffers()[2] or b"", dtype=np.uint8)
        tail_data = tail_data[tail_offsets[0] : tail_offsets[-1]]
    sizes = head_lengths + tail_lengths
    offsets = np.zeros(count + 1, dtype=np.int64)
    np.cumsum(sizes, out=offsets[1:])
    data = np.empty(int(offsets[-1]), dtype=np.uint8)
    width = heads.shape[1]
    head_mask = np.arange(width)[None, :] < head_lengths[:, None]
    starts = offsets[:-1]
    positions = (starts[:, None] + np.arange(width)[None, :])[head_mask]
    data[positions] = heads[head_mask]
    if len(tail_data):
        is_tail = np.ones(len(data), dtype=bool)
        is_tail[positions] = False
        data[is_tail] = tail_data
    return _binary(offsets, data, valid)


def _binary(offsets: np.ndarray, data: np.ndarray, valid: np.ndarray | None) -> pa.Array:
    count = len(offsets) - 1
    if offsets[-1] < 2**31:
        kind, offsets = pa.binary(), offsets.astype(np.int32)
    else:
        kind = pa.large_binary()
    validity = None
    null_count = 0
    if valid is not None and not valid.all():
        validity = pa.array(valid).buffers()[1]
        null_count = int(count - valid.sum())
    return pa.Array.from_buffers(
        kind, count, [validity, pa.py_buffer(offsets), pa.py_buffer(data)], null_count
    )


def prefixed(array: pa.Array, prefix: bytes, length: str | None = "zigzag") -> pa.Array:
    """Each key of a binary or string array as ``prefix`` + varint(length) + its bytes; nulls
    stay null.

    >>> prefixed(pa.array(["user-42", None]), b"", "zigzag").to_pylist()
    [b'\\x0euser-42', None]
    """
    if pa.types.is_string(array.type):
        array = array.view(pa.binary())
    elif pa.types.is_large_string(array.type):
        array = array.view(pa.large_binary())
    count = len(array)
    mode = LENGTH_MODES[length]
    valid = None if not array.null_count else array.is_valid().to_numpy(zero_copy_only=False)
    if kernel_backend() == "c":
        offsets, data, wide = _kernels.prefix_keys(*KernelArray.of(array), prefix, mode)
        kind = pa.large_binary() if wide else pa.binary()
        validity = None if valid is None else pa.array(valid).buffers()[1]
        return pa.Array.from_buffers(
            kind, count, [validity, pa.py_buffer(offsets), pa.py_buffer(data)],
            array.null_count,
        )  # fmt: skip
    valid = np.ones(count, dtype=bool) if valid is None else valid
    lengths = pc.binary_length(array).fill_null(0).to_numpy(zero_copy_only=False)
    lengths = np.where(valid, lengths.astype(np.int64), 0)
    encoded = lengths << 1 if mode == 1 else lengths
    head_lengths = len(prefix) + (varint_length(encoded) if mode else np.zeros(count, np.int64))
    heads = np.empty((count, len(prefix) + 10), dtype=np.uint8)
    heads[:, : len(prefix)] = np.frombuffer(prefix, dtype=np.uint8)
    if mode:
        heads[:, len(prefix) :] = _varint_bytes(encoded, head_lengths - len(prefix))
    tails = array.filter(pa.array(valid)) if array.null_count else array
    if pa.types.is_large_binary(tails.type):
        tails = tails.cast(pa.binary())
    return _assemble(heads, head_lengths, valid, tails)


def varints(
    values: np.ndarray, valid: np.ndarray, prefix: bytes = b"", *, zigzag: bool = True
) -> pa.Array:
    """Each int64 as ``prefix`` + its varint (zigzag, as Avro writes ``int`` and ``long``, or
    plain two's complement, as protobuf writes ``int64``); null where not ``valid``.

    >>> varints(np.array([42, -1, 0]), np.array([True, True, False])).to_pylist()
    [b'T', b'\\x01', None]
    """
    values = values.astype(np.int64, copy=False)
    encoded = ((values << 1) ^ (values >> 63)) if zigzag else values
    encoded = encoded.view(np.uint64)
    lengths = varint_length(encoded)
    heads = np.empty((len(values), len(prefix) + 10), dtype=np.uint8)
    heads[:, : len(prefix)] = np.frombuffer(prefix, dtype=np.uint8)
    heads[:, len(prefix) :] = _varint_bytes(encoded, lengths)
    return _assemble(heads, len(prefix) + lengths, valid, None)


def integers(array: pa.Array, bits: int = 64) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Integer keys from an integer or text array: (values, present, bad), where ``present``
    is False for nulls and ``bad`` is True for values that are not integers of ``bits``
    signed bits. None when the array is of another type (the caller goes value by value).
    """
    kind = array.type
    if pa.types.is_dictionary(kind):
        array = array.dictionary_decode()
        kind = array.type
    present = (
        np.ones(len(array), dtype=bool)
        if not array.null_count
        else array.is_valid().to_numpy(zero_copy_only=False)
    )
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        # Text is read as Java's Long.parseLong reads it (parse_java_integer): the common
        # ASCII form by Arrow's cast (which takes no '+'), the rest one by one.
        matched = pc.match_substring_regex(array, r"^[+-]?[0-9]{1,19}$")
        matches = matched.fill_null(False).to_numpy(zero_copy_only=False)
        good = matches.copy()
        values = np.zeros(len(array), dtype=np.int64)
        if good.any():
            texts = pc.replace_substring_regex(array.filter(pa.array(good)), r"^\+", "")
            try:
                parsed = pc.cast(texts, pa.int64())
            except pa.ArrowInvalid:  # a 19-digit number past int64: take those one by one
                parsed = pa.array([_int_or_zero(text) for text in texts.to_pylist()], pa.int64())
                good[good] = np.array([_fits(text) for text in texts.to_pylist()], dtype=bool)
            values[np.flatnonzero(matches)] = parsed.to_numpy(zero_copy_only=False)
        # Integers the pattern misses: digits of other scripts, or 20+ digits (zeros first).
        other = pc.or_(pc.invert(pc.string_is_ascii(array)),
                       pc.match_substring_regex(array, r"^[+-]?[0-9]{20,}$"))  # fmt: skip
        rest = present & ~matches & other.fill_null(False).to_numpy(zero_copy_only=False)
        if rest.any():
            rows = np.flatnonzero(rest)
            texts = text_values(array.take(pa.array(rows)))
            for row, text in zip(rows.tolist(), texts, strict=True):
                number = parse_java_integer(text)
                if number is not None and -(2**63) <= number <= 2**63 - 1:
                    values[row], good[row] = number, True
        bad = present & ~good
    elif pa.types.is_integer(kind):
        if pa.types.is_unsigned_integer(kind) and kind.bit_width == 64:
            raw = array.fill_null(0).to_numpy(zero_copy_only=False)
            bad = present & (raw > np.uint64(2**63 - 1))
            values = np.where(bad, 0, raw).astype(np.int64)
        else:
            values = array.fill_null(0).to_numpy(zero_copy_only=False).astype(np.int64)
            bad = np.zeros(len(array), dtype=bool)
    elif pa.types.is_null(kind):
        return np.zeros(len(array), dtype=np.int64), present, np.zeros(len(array), dtype=bool)
    else:
        return None
    if bits < 64:
        low, high = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
        bad |= present & ((values < low) | (values > high))
    return values, present, bad


def _fits(text: str) -> bool:
    return -(2**63) <= int(text) <= 2**63 - 1


def _int_or_zero(text: str) -> int:
    return int(text) if _fits(text) else 0
