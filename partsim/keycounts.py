"""Events and bytes per distinct key, counted batch after batch.

:class:`KeyCounts` is the per-key half of an analysis: every batch's keys go into one table
that lives as long as the analysis, and :meth:`KeyCounts.table` gives it as an Arrow table
(``key``, ``count``, ``bytes``; a null key as a null).

With the compiled kernel (:mod:`partsim._kernels`) the table is one C hash table: each key
is looked up once, with the GIL released; keys come out in order of first appearance.
Without it (or with ``PARTSIM_KERNELS=numpy``), each batch is grouped with Arrow and the
partial tables are merged as they add up; the keys come out in Arrow's group order. Both
give the same counts (nothing partsim reports depends on the order).

>>> import numpy as np, pyarrow as pa
>>> counts = KeyCounts()
>>> counts.add(pa.array([b"a", b"b", b"a", None]), np.array([1.0, 2.0, 3.0, 4.0]))
>>> counts.add(pa.array([b"c", b"a"]), np.array([5.0, 6.0]))
>>> counts.table().to_pydict()
{'key': [b'a', b'b', None, b'c'], 'count': [3, 1, 1, 1], 'bytes': [10.0, 2.0, 4.0, 5.0]}
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from partsim.hashing import KernelArray, _kernels, kernel_backend

__all__ = ["KEY_SCHEMA", "KeyCounts", "sum_by"]

KEY_SCHEMA = pa.schema([("key", pa.binary()), ("count", pa.int64()), ("bytes", pa.float64())])
#: Without the kernel, partial tables are merged once they hold this many rows in all.
MERGE_ROWS = 1_000_000
_INT32_MAX = 2**31 - 1


def sum_by(table: pa.Table, keys: list[str], sums: list[str]) -> pa.Table:
    """Sum the columns ``sums`` per distinct ``keys`` (the groups in Arrow's order)."""
    grouped = table.group_by(keys, use_threads=False).aggregate([(c, "sum") for c in sums])
    names = {f"{column}_sum": column for column in sums}
    return grouped.rename_columns([names.get(name, name) for name in grouped.column_names])


class KeyCounts:
    """Events and summed weights (bytes) per distinct key (see the module's text)."""

    def __init__(self) -> None:
        self._table = _kernels.KeyTable() if kernel_backend() == "c" else None
        self._parts: list[pa.Table] = []  # without the kernel: grouped, not yet merged
        self._rows = 0  # rows in self._parts

    def __len__(self) -> int:
        """The rows held: the distinct keys so far (without the kernel, the partial tables'
        rows, which count a key once per table it is in until they are merged)."""
        return len(self._table) if self._table is not None else self._rows

    @property
    def key_bytes(self) -> int:
        """The bytes of the keys held (without the kernel, of the partial tables' keys)."""
        if self._table is not None:
            return self._table.data_size
        return sum(part.column("key").nbytes for part in self._parts)

    def exceeds(self, limit: int, byte_limit: int | None = None) -> bool:
        """Whether more than ``limit`` distinct keys, or more than ``byte_limit`` bytes of
        them, are counted (without the kernel, the partial tables are merged first when they
        pass a limit, so that both paths move their keys into a sketch at the same point)."""
        if self._table is not None:
            return len(self._table) > limit or (
                byte_limit is not None and self._table.data_size > byte_limit
            )
        over_bytes = byte_limit is not None and self.key_bytes > byte_limit
        if self._rows > limit or over_bytes:
            self._merge()
        return self._rows > limit or (byte_limit is not None and self.key_bytes > byte_limit)

    def add(self, keys: pa.Array, weights: np.ndarray) -> None:
        """Count ``keys`` (binary or large_binary; nulls are one key) with their ``weights``."""
        weights = np.ascontiguousarray(weights, dtype=np.float64)
        if len(keys) != len(weights):
            raise ValueError("keys and weights differ in length")
        if not len(keys):
            return
        if self._table is None:
            self._add_grouped(keys, weights)
            return
        self._table.add(*KernelArray.of(keys), weights)

    def table(self) -> pa.Table:
        """The counts as a table of :data:`KEY_SCHEMA` (large_binary keys past 2 GiB)."""
        if self._table is None:
            if not self._parts:
                return KEY_SCHEMA.empty_table()
            self._merge()
            return self._parts[0]
        count = len(self._table)
        offsets = np.empty(count + 1, dtype=np.int64)
        data = np.empty(self._table.data_size, dtype=np.uint8)
        counts = np.empty(count, dtype=np.int64)
        sums = np.empty(count, dtype=np.float64)
        self._table.export(offsets, data, counts, sums)
        key_type = pa.binary()
        if len(data) > _INT32_MAX:
            key_type = pa.large_binary()
        else:
            offsets = offsets.astype(np.int32)
        validity = None
        nulls = 0
        if self._table.null_index >= 0:
            mask = np.ones(count, dtype=bool)
            mask[self._table.null_index] = False
            validity, nulls = pa.array(mask).buffers()[1], 1
        keys = pa.Array.from_buffers(
            key_type, count, [validity, pa.py_buffer(offsets), pa.py_buffer(data)], nulls
        )
        schema = KEY_SCHEMA if key_type == pa.binary() else _large(KEY_SCHEMA)
        return pa.table([keys, pa.array(counts), pa.array(sums)], schema=schema)

    def _add_grouped(self, keys: pa.Array, weights: np.ndarray) -> None:
        if pa.types.is_large_binary(keys.type) and keys.nbytes < _INT32_MAX - 2**24:
            keys = keys.cast(pa.binary())  # Arrow groups 32-bit-offset keys much faster
        table = pa.table({"key": keys, "bytes": pa.array(weights)})
        grouped = table.group_by("key", use_threads=False).aggregate(
            [("bytes", "sum"), ([], "count_all")]
        )
        part = pa.table(
            [grouped["key"], grouped["count_all"], grouped["bytes_sum"]],
            names=KEY_SCHEMA.names,
        )
        self._parts.append(part)
        self._rows += part.num_rows
        if self._rows > MERGE_ROWS:
            self._merge()

    def _merge(self) -> None:
        if len(self._parts) > 1:
            merged = sum_by(pa.concat_tables(self._parts, promote_options="permissive"),
                            ["key"], ["count", "bytes"])  # fmt: skip
            self._parts = [merged.select(KEY_SCHEMA.names)]
        if self._parts:
            part = self._parts[0]
            if not pa.types.is_large_binary(part.schema.field("key").type):
                self._parts = [part.cast(KEY_SCHEMA)]
            self._rows = self._parts[0].num_rows


def _large(schema: pa.Schema) -> pa.Schema:
    return schema.set(0, pa.field("key", pa.large_binary()))
