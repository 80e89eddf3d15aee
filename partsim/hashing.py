"""Hash kernels, vectorized over Arrow binary arrays, each with a scalar twin for one key.

The bulk path reads an Arrow array's offsets and data buffers directly. Keys are processed
in chunks of a few thousand: each chunk's bytes are gathered in one step into a
``keys x width`` matrix (width = the longest key, rounded up), then the hash runs column by
column over all keys of the chunk at once, with a mask where a key is shorter than the
column. Keys are bucketed by length first, so one long key never widens the matrix of the
short ones, and keys longer than :data:`LONG_KEY` bytes take the scalar path.

Each algorithm returns the value its reference implementation returns (see
``shared/reference/partitioners.md``): signed int32 for ``murmur2`` and
``murmur2_kafkajs_legacy``, uint32 for ``crc32``, ``fnv1a`` and ``murmur3``, and a Python
``int`` (the unsigned big-endian 128-bit value) for ``md5``. ``java_string_hash`` is signed, as
Java's ``String.hashCode`` returns it.
"""

from __future__ import annotations

import hashlib
import os
import zlib
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from itertools import pairwise
from typing import NamedTuple

import mmh3
import numpy as np
import pyarrow as pa

try:  # the optional C kernel (see setup.py); the numpy kernels below are the fallback
    from partsim import _kernels
except ImportError:  # pragma: no cover - depends on the build
    _kernels = None

__all__ = [
    "ALGORITHMS",
    "crc32",
    "fnv1a",
    "hash_array",
    "java_string_hash",
    "md5",
    "murmur2",
    "murmur2_kafkajs_legacy",
    "murmur3",
]

#: Keys longer than this take the scalar path (a long key is hashed block after block).
LONG_KEY = 2048
#: Bytes of gathered key matrix per step; keeps each step inside the CPU caches.
CHUNK_BYTES = 1 << 19
_LENGTH_BUCKETS = (16, 32, 64, 128, 256, 512, 1024, LONG_KEY)

#: Arrays at least this long are split across threads (the C kernel releases the GIL).
PARALLEL_MIN_KEYS = 1 << 18
_C_ALGORITHMS = {"murmur2": 0, "crc32": 1, "fnv1a": 2, "murmur2_kafkajs_legacy": 3}

_M = np.uint32(0x5BD1E995)
_SEED = 0x9747B28C
_TAIL_MASKS = np.array([0, 0xFF, 0xFFFF, 0xFFFFFF], dtype=np.uint32)


# --------------------------------------------------------------------------- scalar twins
def murmur2(key: bytes) -> int:
    """Kafka's ``Utils.murmur2`` of one key, as the signed int32 Java returns.

    Reproduces ``apache/kafka`` ``clients/.../common/utils/Utils.java`` (``murmur2``), which
    librdkafka (``src/rdmurmur2.c``), kafka-python, kafkajs v2, sarama and franz-go copy.
    There is no null rule here: a partitioner decides what a null key means. An empty key
    hashes to ``0x106e08d9``.

    >>> murmur2(b"21")
    -973932308
    """
    length = len(key)
    h = (_SEED ^ length) & 0xFFFFFFFF
    full = length & ~3
    m = 0x5BD1E995
    for i in range(0, full, 4):
        k = int.from_bytes(key[i : i + 4], "little")
        k = (k * m) & 0xFFFFFFFF
        k ^= k >> 24
        k = (k * m) & 0xFFFFFFFF
        h = ((h * m) & 0xFFFFFFFF) ^ k
    tail = length & 3
    if tail:
        h ^= int.from_bytes(key[full:], "little")
        h = (h * m) & 0xFFFFFFFF
    h ^= h >> 13
    h = (h * m) & 0xFFFFFFFF
    h ^= h >> 15
    return h - (1 << 32) if h & 0x80000000 else h


def _js_int32(value: int) -> int:
    value &= 0xFFFFFFFF
    return value - (1 << 32) if value & 0x80000000 else value


def _js_mul(value: int, m: int = 0x5BD1E995) -> int:
    """``value * m`` as JavaScript computes it: the exact product rounded to a double."""
    return int(float(value * m))


def murmur2_kafkajs_legacy(key: bytes) -> int:
    """The murmur2 of kafkajs's ``LegacyPartitioner`` (the kafkajs v1.x default), signed int32.

    Reproduces ``tulios/kafkajs`` ``src/producer/partitioners/legacy/murmur2.js``. It is not
    Java's murmur2: products are IEEE-754 doubles (rounded above 2**53 before the next
    bitwise operator truncates them), the block loop runs ``ceil(len / 4)`` times so the last
    partial block is mixed with zeros for the missing bytes, and the tail bytes are then mixed
    again. No null rule here. Signed: the result of JavaScript's ``^`` is an int32.

    >>> murmur2_kafkajs_legacy(b"0")
    272173970
    """
    length = len(key)
    h = _js_int32(_SEED ^ length)
    for i in range(0, length, 4):
        block = key[i : i + 4]
        k = int.from_bytes(block[:3], "little") + _js_int32(
            block[3] << 24 if len(block) == 4 else 0
        )
        k = _js_mul(k)
        k = _js_int32(k) ^ ((k & 0xFFFFFFFF) >> 24)
        k = _js_mul(k)
        h = _js_int32(_js_mul(h)) ^ _js_int32(k)
    tail = length & 3
    if tail:
        h ^= int.from_bytes(key[length & ~3 :], "little")
        h = _js_mul(h)
    h = _js_int32(h) ^ ((h & 0xFFFFFFFF) >> 13)
    h = _js_mul(h)
    return _js_int32(_js_int32(h) ^ ((h & 0xFFFFFFFF) >> 15))


def crc32(key: bytes) -> int:
    """CRC-32 as zlib computes it (librdkafka ``rd_crc32``, Go ``crc32.IEEE``), uint32.

    No null rule here; an empty key hashes to 0.

    >>> crc32(b"23456")
    2981384663
    """
    return zlib.crc32(key)


def fnv1a(key: bytes) -> int:
    """FNV-1a-32 (offset ``0x811c9dc5``, prime ``0x01000193``), uint32.

    Go's ``hash/fnv.New32a`` used by sarama and kafka-go, and librdkafka ``src/rdfnv1a.c``
    before its sign rule. An empty key hashes to ``0x811c9dc5``.

    >>> hex(fnv1a(b"1468509572224"))
    '0x80000000'
    """
    h = 0x811C9DC5
    for byte in key:
        h = ((h ^ byte) * 0x01000193) & 0xFFFFFFFF
    return h


def murmur3(key: bytes) -> int:
    """MurmurHash3 x86_32 with seed 0 (Pulsar's ``Murmur3_32Hash`` before its mask), uint32.

    Computed by ``mmh3``.

    >>> murmur3(b"")
    0
    """
    return mmh3.hash(key, 0, signed=False)


def java_string_hash(key: bytes) -> int:
    """Java's ``String.hashCode`` of the UTF-8 key decoded, over UTF-16 code units, signed int32.

    Pulsar's Java ``JavaStringHash`` masks this with ``0x7fffffff``. Bytes that are not valid
    UTF-8 decode to U+FFFD, as ``new String(bytes, UTF_8)`` does, except a lone surrogate's
    generalized UTF-8, which is its code unit (how a text key keeps one).

    >>> java_string_hash(b"keykeykeykeykey1") & 0x7FFFFFFF
    434058482
    """
    units = np.frombuffer(_java_units(key), dtype="<u2")
    h = 0
    for unit in units.tolist():
        h = (31 * h + unit) & 0xFFFFFFFF
    return h - (1 << 32) if h & 0x80000000 else h


def _java_units(key: bytes) -> bytes:
    """The UTF-16 code units (little-endian) of the Java string a key's bytes stand for. A
    lone surrogate that a text key kept as its generalized UTF-8 (``ED A0 80``, see
    ``partsim.serde.encode_text``) is that code unit; other bytes that are not UTF-8 decode
    to U+FFFD."""
    try:
        text = key.decode("utf-8", "surrogatepass")
    except UnicodeDecodeError:
        text = key.decode("utf-8", "replace")
    return text.encode("utf-16-le", "surrogatepass")


def md5(key: bytes) -> int:
    """MD5 of the key read as an unsigned big-endian 128-bit integer (Kinesis hash keys).

    >>> md5(b"") == 0xD41D8CD98F00B204E9800998ECF8427E
    True
    """
    return int.from_bytes(hashlib.md5(key).digest(), "big")


# ------------------------------------------------------------------------- vector kernels
def _murmur2_block(words: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Kafka murmur2 over a chunk: ``words`` is blocks x keys uint32, little-endian."""
    nblocks = lengths >> 2
    h = np.uint32(_SEED) ^ lengths.astype(np.uint32)
    always = int(nblocks.min())
    for j in range(words.shape[0] - 1):
        k = words[j] * _M
        k ^= k >> np.uint32(24)
        k *= _M
        step = h * _M
        step ^= k
        h = step if j < always else np.where(nblocks > j, step, h)
    tail = (lengths & 3).astype(np.intp)
    tail_word = words[nblocks, np.arange(words.shape[1])] & _TAIL_MASKS[tail]
    h = np.where(tail > 0, (h ^ tail_word) * _M, h)
    h ^= h >> np.uint32(13)
    h *= _M
    h ^= h >> np.uint32(15)
    return h


def _js_mul_vec(values: np.ndarray) -> np.ndarray:
    """JavaScript's ``value * 0x5bd1e995`` for int64 values in int32 range: round to double."""
    return (values * np.int64(0x5BD1E995)).astype(np.float64).astype(np.int64)


def _js_i32(values: np.ndarray) -> np.ndarray:
    return values.astype(np.uint32).view(np.int32).astype(np.int64)


def _js_shift(values: np.ndarray, bits: int) -> np.ndarray:
    return (values & np.int64(0xFFFFFFFF)) >> np.int64(bits)


def _murmur2_legacy_block(words: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """kafkajs legacy murmur2 over a chunk, in int64 with JavaScript's double rounding."""
    keys = words.shape[1]
    nblocks = (lengths + 3) >> 2  # ceil(len / 4): the partial block is mixed too
    h = _js_i32(np.int64(_SEED) ^ lengths.astype(np.int64))
    full = lengths >> 2
    for j in range(words.shape[0]):  # width has room for ceil(len / 4) blocks
        word = words[j]
        # Missing bytes of a partial block read as 0 (undefined & 0xff in JavaScript).
        partial = full == j
        word = np.where(partial, word & _TAIL_MASKS[(lengths & 3).astype(np.intp)], word)
        k = (word & np.uint32(0xFFFFFF)).astype(np.int64) + _js_i32(
            (word & np.uint32(0xFF000000)).astype(np.int64)
        )
        k = _js_mul_vec(k)
        k = _js_i32(k) ^ _js_shift(k, 24)
        k = _js_mul_vec(k)
        step = _js_i32(_js_mul_vec(h)) ^ _js_i32(k)
        h = np.where(nblocks > j, step, h)
    tail = (lengths & 3).astype(np.intp)
    tail_word = (words[full, np.arange(keys)] & _TAIL_MASKS[tail]).astype(np.int64)
    h = np.where(tail > 0, _js_mul_vec(h ^ tail_word), h)
    h = _js_i32(h) ^ _js_shift(h, 13)
    h = _js_mul_vec(h)
    h = _js_i32(h) ^ _js_shift(h, 15)
    return _js_i32(h).astype(np.int32).view(np.uint32)


def _crc32_table() -> np.ndarray:
    table = np.zeros((4, 256), dtype=np.uint32)
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0xEDB88320 if crc & 1 else 0)
        table[0, byte] = crc
    for byte in range(256):
        crc = int(table[0, byte])
        for level in range(1, 4):
            crc = (crc >> 8) ^ int(table[0, crc & 0xFF])
            table[level, byte] = crc
    return table


_CRC = _crc32_table()


def _crc32_block(words: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """zlib CRC-32 over a chunk: four bytes a step (slicing-by-4), then the tail bytes."""
    nblocks = lengths >> 2
    crc = np.full(words.shape[1], 0xFFFFFFFF, dtype=np.uint32)
    always = int(nblocks.min())
    t0, t1, t2, t3 = _CRC
    for j in range(int(nblocks.max()) if len(nblocks) else 0):
        x = crc ^ words[j]
        step = (
            t3[x & 0xFF]
            ^ t2[(x >> np.uint32(8)) & 0xFF]
            ^ t1[(x >> np.uint32(16)) & 0xFF]
            ^ t0[x >> np.uint32(24)]
        )
        crc = step if j < always else np.where(nblocks > j, step, crc)
    tail = lengths & 3
    tail_word = words[nblocks, np.arange(words.shape[1])]
    for i in range(3):
        byte = (tail_word >> np.uint32(8 * i)) & 0xFF
        step = t0[(crc ^ byte) & 0xFF] ^ (crc >> np.uint32(8))
        crc = np.where(tail > i, step, crc)
    return crc ^ np.uint32(0xFFFFFFFF)


def _fnv1a_block(words: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """FNV-1a-32 over a chunk, byte by byte."""
    h = np.full(words.shape[1], 0x811C9DC5, dtype=np.uint32)
    prime = np.uint32(0x01000193)
    longest = int(lengths.max()) if len(lengths) else 0
    shortest = int(lengths.min()) if len(lengths) else 0
    for position in range(longest):
        byte = (words[position >> 2] >> np.uint32(8 * (position & 3))) & np.uint32(0xFF)
        step = (h ^ byte) * prime
        h = step if position < shortest else np.where(lengths > position, step, h)
    return h


# ------------------------------------------------------------------------------ driver
class KernelArray(NamedTuple):
    """A binary or string Arrow array's buffers as the C kernel reads them."""

    width: int  # bytes per offset: 4, or 8 for large_binary and large_string
    offsets: np.ndarray  # sliced to the array: len(array) + 1 entries
    data: pa.Buffer | bytes
    validity: pa.Buffer | None  # None when no value is null
    bit_offset: int  # the array's first bit in ``validity``

    @classmethod
    def of(cls, array: pa.Array) -> KernelArray:
        large = pa.types.is_large_binary(array.type) or pa.types.is_large_string(array.type)
        validity, offsets, data = array.buffers()[:3]
        offsets = np.frombuffer(offsets, dtype=np.int64 if large else np.int32)
        offsets = offsets[array.offset : array.offset + len(array) + 1]
        return cls(8 if large else 4, offsets, data if data is not None else b"",
                   validity if array.null_count else None, array.offset)  # fmt: skip


def _buffers(array: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Offsets (int64, sliced to the array) and the data buffer (uint8) of a binary array."""
    kernel = KernelArray.of(array)
    return kernel.offsets.astype(np.int64), np.frombuffer(kernel.data, dtype=np.uint8)


def _binary_chunks(keys: pa.Array | pa.ChunkedArray) -> Iterator[pa.Array]:
    chunks = keys.chunks if isinstance(keys, pa.ChunkedArray) else [keys]
    for chunk in chunks:
        if pa.types.is_string(chunk.type):
            chunk = chunk.view(pa.binary())
        elif pa.types.is_large_string(chunk.type):
            chunk = chunk.view(pa.large_binary())
        elif not (pa.types.is_binary(chunk.type) or pa.types.is_large_binary(chunk.type)):
            chunk = chunk.cast(pa.binary())
        yield chunk


BlockKernel = Callable[[np.ndarray, np.ndarray], np.ndarray]


def kernel_backend() -> str:
    """``"c"`` when the compiled kernel is in use, else ``"numpy"``.

    Setting the environment variable ``PARTSIM_KERNELS=numpy`` forces the numpy kernels.
    """
    if _kernels is None or os.environ.get("PARTSIM_KERNELS", "").lower() == "numpy":
        return "numpy"
    return "c"


def default_threads() -> int:
    """Threads for hashing: ``PARTSIM_THREADS`` if set, else the usable cores."""
    configured = os.environ.get("PARTSIM_THREADS")
    if configured:
        return max(1, int(configured))
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not on Linux
        return max(1, os.cpu_count() or 1)


def _hash_with(
    keys: pa.Array | pa.ChunkedArray,
    algorithm: str,
    kernel: BlockKernel,
    scalar: Callable[[bytes], int],
    threads: int | None = None,
) -> np.ndarray:
    """Hash every key with the C kernel or a numpy block kernel; uint32, nulls as empty."""
    parts = []
    use_c = kernel_backend() == "c"
    for chunk in _binary_chunks(keys):
        if use_c:
            parts.append(_hash_c(chunk, _C_ALGORITHMS[algorithm], threads))
        else:
            offsets, data = _buffers(chunk)
            parts.append(_hash_buffers(offsets, data, kernel, scalar))
    if not parts:
        return np.zeros(0, dtype=np.uint32)
    return np.concatenate(parts) if len(parts) > 1 else parts[0]


def _hash_c(chunk: pa.Array, algorithm_id: int, threads: int | None) -> np.ndarray:
    """The C kernel over one Arrow array's own buffers, split across threads when large."""
    width, offsets, data = KernelArray.of(chunk)[:3]
    out = np.empty(len(chunk), dtype=np.uint32)
    threads = default_threads() if threads is None else max(1, threads)
    if threads == 1 or len(chunk) < PARALLEL_MIN_KEYS:
        _kernels.hash_binary(algorithm_id, width, offsets, data, out)
        return out
    bounds = np.linspace(0, len(chunk), threads + 1).astype(int).tolist()
    with ThreadPoolExecutor(threads) as pool:
        jobs = [
            pool.submit(
                _kernels.hash_binary, algorithm_id, width, offsets[a : b + 1], data, out[a:b]
            )
            for a, b in pairwise(bounds)
        ]
        for job in jobs:
            job.result()
    return out


def _hash_buffers(
    offsets: np.ndarray, data: np.ndarray, kernel: BlockKernel, scalar: Callable[[bytes], int]
) -> np.ndarray:
    count = len(offsets) - 1
    out = np.empty(count, dtype=np.uint32)
    if count == 0:
        return out
    starts = offsets[:-1]
    lengths = offsets[1:] - starts
    longest = int(lengths.max())
    if longest <= _LENGTH_BUCKETS[0]:
        _run_bucket(np.arange(count), starts, lengths, longest, data, kernel, out)
        return out
    bucket_of = np.searchsorted(np.asarray(_LENGTH_BUCKETS), lengths)
    for bucket, bound in enumerate(_LENGTH_BUCKETS):
        members = np.flatnonzero(bucket_of == bucket)
        if len(members):
            width = min(bound, int(lengths[members].max()))
            _run_bucket(members, starts[members], lengths[members], width, data, kernel, out)
    for index in np.flatnonzero(bucket_of == len(_LENGTH_BUCKETS)).tolist():
        start = int(starts[index])
        out[index] = scalar(data[start : start + int(lengths[index])].tobytes()) & 0xFFFFFFFF
    return out


def _run_bucket(
    members: np.ndarray,
    starts: np.ndarray,
    lengths: np.ndarray,
    longest: int,
    data: np.ndarray,
    kernel: BlockKernel,
    out: np.ndarray,
) -> None:
    """Hash keys no longer than ``longest`` in steps of a bounded matrix size."""
    width = 4 * (longest // 4 + 1)  # whole words, and always room for the tail word
    step = max(256, CHUNK_BYTES // width)
    columns = np.arange(width, dtype=np.int64)
    for first in range(0, len(members), step):
        part_starts = starts[first : first + step]
        part_lengths = lengths[first : first + step]
        low = int(part_starts.min())
        index = (part_starts - low)[:, None] + columns
        window = data[low : int(part_starts.max()) + width]
        if len(window) == 0:
            matrix = np.zeros(index.shape, dtype=np.uint8)
        else:
            if int(part_starts.max()) + width > len(data):
                # The keys at the buffer's end: bytes past a key's length are masked by the
                # kernels, so clamping the index to the buffer is enough.
                np.minimum(index, len(window) - 1, out=index)
            matrix = window[index]
        words = np.ascontiguousarray(matrix.view("<u4").T)
        out[members[first : first + step]] = kernel(words, part_lengths)


def _key_list(keys: pa.Array | pa.ChunkedArray) -> list[bytes]:
    """The keys as Python bytes, nulls as empty keys (for the per-key algorithms)."""
    return [
        b"" if key is None else key for chunk in _binary_chunks(keys) for key in chunk.to_pylist()
    ]


def _hash_each(
    keys: pa.Array | pa.ChunkedArray, scalar: Callable[[bytes], int], dtype
) -> np.ndarray:
    """Hash every key with a scalar C function (mmh3, hashlib) mapped over its bytes."""
    values = _key_list(keys)
    return np.fromiter(map(scalar, values), dtype=dtype, count=len(values))


def _java_string_hash_vector(keys: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """``String.hashCode`` over each key's UTF-16 code units, vectorized over all keys."""
    encoded = [_java_units(key) for key in _key_list(keys)]
    lengths = np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded)) // 2
    units = np.frombuffer(b"".join(encoded), dtype="<u2").astype(np.uint32)
    h = np.zeros(len(encoded), dtype=np.uint32)
    if not len(units):
        return h
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    for position in range(int(lengths.max())):
        active = lengths > position
        h[active] = h[active] * np.uint32(31) + units[starts[active] + position]
    return h


def _md5_vector(keys: pa.Array | pa.ChunkedArray) -> np.ndarray:
    return _hash_each(keys, md5, object)


ALGORITHMS: dict[str, Callable[[bytes], int]] = {
    "murmur2": murmur2,
    "murmur2_kafkajs_legacy": murmur2_kafkajs_legacy,
    "crc32": crc32,
    "fnv1a": fnv1a,
    "murmur3": murmur3,
    "java_string_hash": java_string_hash,
    "md5": md5,
}

_SIGNED = {"murmur2", "murmur2_kafkajs_legacy", "java_string_hash"}


_BLOCK_KERNELS: dict[str, BlockKernel] = {
    "murmur2": _murmur2_block,
    "murmur2_kafkajs_legacy": _murmur2_legacy_block,
    "crc32": _crc32_block,
    "fnv1a": _fnv1a_block,
}


def hash_array(
    keys: pa.Array | pa.ChunkedArray, algorithm: str, *, threads: int | None = None
) -> np.ndarray:
    """Hash every key of an Arrow binary array; nulls hash as empty keys.

    Returns int32 for the signed algorithms, uint32 for the others and an object array of
    Python ints for ``md5``. ``threads`` caps the hashing threads (default: the usable cores).
    """
    if algorithm in _BLOCK_KERNELS:
        hashes = _hash_with(
            keys, algorithm, _BLOCK_KERNELS[algorithm], ALGORITHMS[algorithm], threads
        )
    elif algorithm == "murmur3":
        hashes = _hash_each(keys, murmur3, np.uint32)
    elif algorithm == "java_string_hash":
        hashes = _java_string_hash_vector(keys)
    elif algorithm == "md5":
        return _md5_vector(keys)
    else:  # pragma: no cover - callers validate the name
        raise KeyError(algorithm)
    return hashes.view(np.int32) if algorithm in _SIGNED else hashes
