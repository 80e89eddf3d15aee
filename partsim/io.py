"""Reading events: files, globs, stdin and in-memory tables as a stream of Arrow batches.

:func:`open_events` is the input layer of ``partsim analyze``. It reads the header or schema
of every input eagerly, so the columns are known at once, then streams
:class:`pyarrow.RecordBatch` es of ``batch_rows`` rows and at most ``BATCH_BYTES`` (16 MiB;
a wider row is a batch of its own), whatever the format.

Memory stays bounded in bytes: a file is never read whole (a few MiB of text at a time, or
Parquet batches sized from the row group's metadata and its dictionaries' longest value, so
that a 25 KB file of one 1 MiB value repeated 10,240 times is read 16 rows at a time;
Arrow's CSV reader reads up to 32 blocks ahead on its threads, so its block is 1 MiB and
grows, by reading the file again and on one thread, only for a file with a longer row).
:meth:`EventSource.select` reads only the columns an analysis uses: the others of a wide
CSV row are split but never converted, and a Parquet file's are never read.

Inputs of other types are never converted to one another: each batch holds one input's
own values (an int64 column stays int64, the next CSV's ``007`` stays ``007``), and batches
never join across a change of types, so each input's keys are serialized from its own
values, the same whether the inputs are read in one stream or in pieces (Dask).

================  ========================================================================
``csv``, ``tsv``  A header row is required. Every column is text, so ``007`` stays ``007``.
                  An empty field (quoted or not) is null; ``NA`` or ``null`` are text. TSV
                  has no quoting (IANA ``text/tab-separated-values``); CSV quotes with ``"``
                  and values may span lines. A row with the wrong number of fields is
                  skipped; so is a row that is not valid UTF-8 (no column can hold its bytes).
``jsonl``         One JSON object per line. A line ends at LF (``\\n``; a CR before it is
                  whitespace, so CRLF files read the same); a line that holds anything but
                  one object (two objects, a bare value, or several objects separated by
                  CR-only line ends) is skipped, whatever the other lines hold. Nested
                  objects become dotted columns (``{"user": {"id": 7}}`` gives ``user.id``).
                  Every value is text, decided by how that value is written, never by the
                  other lines: strings as they are, integers (no fraction or exponent) as
                  their exact decimal value however big (``-0`` is ``0``), other numbers as
                  the shortest digits that read back as the same double, in decimal form
                  from 1e-6 up to 1e10 and in exponent form outside it (``1.0`` -> ``"1"``,
                  ``1e-07`` -> ``"1e-7"``, ``1e10`` -> ``"1e+10"``, ``-0.0`` -> ``"-0"``),
                  ``true``/``false``, arrays as compact JSON; JSON
                  ``null`` and a missing field are null. A string with an escaped lone
                  surrogate (``"\\ud800"``) keeps it, and each client encodes it as its
                  runtime does when the key is hashed (see :mod:`partsim.serde`). A line of
                  more than 10,000 fields (``:``) is skipped, as is one nested deeper than
                  64 levels; a block whose first 64 KiB show more than 1,000 fields is read
                  in Python, keeping only the wanted fields. The
                  columns are the fields found in the first MiB of the first input;
                  fields first seen later are ignored, and later JSON files are not
                  compared (records are schemaless). Lines that are not JSON objects are
                  skipped, as are objects nested deeper than 64 levels.
``parquet``       Native types are kept (integers stay integers, timestamps stay
                  timestamps); struct columns become dotted columns.
``log``           Each line is searched with ``regex`` (Python syntax); it must have a named
                  group ``key`` and may have ``ts`` and ``size``. Every named group is a text
                  column; a group that took no part in the match is null, an empty match is
                  ``""``. Lines that do not match are skipped, as are lines whose captured
                  text is not valid UTF-8 (elsewhere in the line invalid bytes are fine).
``kcat``          Lines printed by ``kcat -C -f '%k\\t%p\\t%o\\t%T\\t%S\\n'``: columns ``key,
                  partition, offset, timestamp, value_size``; the key as raw bytes (binary),
                  the rest as text. kcat prints a null key
                  as an empty string, so an empty key cannot be told from a null one: both
                  are null here. A key may contain tabs (the line is split on its last four).
================  ========================================================================

The format comes from the file extension (case-insensitive) unless ``format`` is given:
``.csv``; ``.tsv``/``.tab``; ``.jsonl``/``.ndjson``/``.json``; ``.parquet``/``.pq``;
``.log``/``.txt``; ``.kcat``. A ``.gz``, ``.zst``/``.zstd`` or ``.bz2`` suffix after it is
decompressed on the fly. ``"-"`` is stdin, read as CSV unless ``format`` says otherwise.
Blank lines and a UTF-8 byte order mark are ignored in every text format. Skipped rows are
counted in ``skipped_rows`` with up to five examples (``file:line: reason``; for CSV the
number counts rows, header included, which is the line number unless values span lines);
with ``strict=True`` the first one is a :class:`~partsim.errors.DataError` instead.
"""

from __future__ import annotations

import bisect
import codecs
import csv
import glob
import io
import itertools
import json
import os
import re
import sys
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from partsim.errors import DataError, UsageError, error_reason, invalid_choice
from partsim.serde import is_utf8

if TYPE_CHECKING:
    import pyarrow.parquet as pq

__all__ = ["FORMATS", "KCAT_COLUMNS", "EventSource", "key_lines", "open_events"]

FORMATS: tuple[str, ...] = ("csv", "tsv", "jsonl", "parquet", "log", "kcat")
KCAT_COLUMNS: tuple[str, ...] = ("key", "partition", "offset", "timestamp", "value_size")

_FORMAT_LABELS = {
    "csv": "CSV",
    "tsv": "TSV",
    "jsonl": "JSON lines",
    "parquet": "Parquet",
    "log": "log",
    "kcat": "kcat",
}
_EXTENSIONS = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".log": "log",
    ".txt": "log",
    ".kcat": "kcat",
}
_COMPRESSIONS = {".gz": "gzip", ".zst": "zstd", ".zstd": "zstd", ".bz2": "bz2"}

_CSV_BLOCKS = (1 << 20, 8 << 20, 64 << 20)  # a CSV row must fit in one block
_LINE_BLOCK = 4 << 20  # text formats are parsed this many bytes at a time
_MAX_LINE = 64 << 20
_JSON_PROBE = 1 << 20
#: Bytes per batch at most (a batch of one row may hold more): with wide rows, fewer rows
#: than ``batch_rows``, so that the batches in flight stay well under 1 GiB in bytes too.
BATCH_BYTES = 16 << 20
#: Rows per batch by default: big enough to amortize per-batch work, small enough that the
#: batches in flight (read ahead, being keyed, being grouped) stay well under 1 GiB.
BATCH_ROWS = 1 << 18
_JSON_MAX_DEPTH = 64
#: A JSON line with more ':' than this (fields, at any depth) is skipped: parsing one line
#: of two million fields took 9.8 GB (Arrow) or gigabytes of Python objects.
_JSON_MAX_FIELDS = 10_000
# Arrow's JSON reader gives every row of a block a value for every field seen in it: a
# block whose first 64 KiB show more fields than this, or rows x fields over the cell
# count, is parsed in Python (which keeps the wanted fields only).
_JSON_SAMPLE = 64 << 10
_ARROW_MAX_FIELDS = 1_000
_ARROW_MAX_CELLS = 20_000_000
# Arrow's JSON parser recurses per nesting level and overflows the stack (a segfault) near
# 15,000 levels on an 8 MiB stack, sooner on a thread's smaller one: a line with more '{'
# and '[' than this is parsed in Python, which skips it as too deep.
_ARROW_MAX_OPENS = 512
# A line that is not an object, such as `null`: Arrow's JSON reader (pyarrow 26.0.1)
# segfaults when the first line of a block is a bare `null` (or `nullx`, `null }`), and reads a
# later `null` line as a row of nulls. A block with a line that does not start with '{' is
# parsed in Python, which skips such lines.
_NOT_AN_OBJECT = re.compile(rb"^[ \t\r]*[^ \t\r\n{]", re.MULTILINE)
_EXACT_FLOAT = 2**53  # integral doubles at least this big may have been rounded by Arrow
_MAX_EXAMPLES = 5
_BOM = b"\xef\xbb\xbf"  # a UTF-8 byte order mark, skipped at the start of text input


@dataclass(frozen=True)
class _Input:
    """One file (or stdin) to read: its name as the user gave it, format and compression."""

    name: str
    path: Path | None  # None: stdin
    format: str
    compression: str | None
    size: int | None
    # A piece of a file for parallel reading (see EventSource.pieces): the lines that
    # start in bytes [start, end), read after ``header`` (a CSV's header rows), or these
    # Parquet row groups.
    start: int = 0
    end: int | None = None
    header: bytes = b""
    row_groups: tuple[int, ...] | None = None


@dataclass(frozen=True)
class _Options:
    delimiter: str | None
    regex: re.Pattern[str] | None
    batch_rows: int
    wanted: tuple[str, ...] | None = None  # the columns to read (EventSource.select)


class _Tally:
    """Rows skipped as unparsable, with a few examples; under ``strict`` the first one raises."""

    def __init__(self, strict: bool) -> None:
        self.strict = strict
        self.count = 0
        self.examples: list[str] = []

    def snapshot(self) -> tuple[int, int]:
        return self.count, len(self.examples)

    def restore(self, snapshot: tuple[int, int]) -> None:
        self.count = snapshot[0]
        del self.examples[snapshot[1] :]

    def skip(self, name: str, numbers: Sequence[int | None], reasons: Sequence[str]) -> None:
        """Skip the rows at these line (or row) numbers, each for its reason."""
        for number, reason in zip(numbers, reasons, strict=True):
            where = name if number is None else f"{name}:{number}"
            if self.strict:
                raise DataError(f"{where}: {reason}")
            if len(self.examples) >= _MAX_EXAMPLES:
                break
            self.examples.append(f"{where}: {reason}")
        self.count += len(numbers)


# --------------------------------------------------------------------------------------
# Byte streams: decompression, look-ahead and progress
# --------------------------------------------------------------------------------------


class _Counted(io.RawIOBase):
    """A raw file that counts the bytes read from it (compressed bytes, for progress)."""

    def __init__(self, raw: Any) -> None:
        super().__init__()
        self._raw = raw
        self.count = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        data = self._raw.read(size)
        self.count += len(data)
        return data


class _Span(io.RawIOBase):
    """The lines of a file that start in bytes ``[start, end)``: one piece of a file that is
    read in parallel. A line that starts before ``start`` belongs to the piece before; one
    that starts before ``end`` is read to its end."""

    def __init__(self, raw: Any, start: int, end: int) -> None:
        super().__init__()
        self._raw = raw
        self._end = end
        self._last = b"\n"
        self._done = False
        position = start
        if start > 0:
            raw.seek(start - 1)
            while True:  # skip the rest of the line that began before ``start``
                chunk = raw.read(1 << 16)
                cut = chunk.find(b"\n")
                if not chunk or cut >= 0:
                    position = raw.tell() - len(chunk) + cut + 1 if cut >= 0 else raw.tell()
                    break
        raw.seek(position)
        self._position = position

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if self._done:
            return b""
        size = 1 << 20 if size is None or size < 0 else size
        if self._position < self._end:
            data = self._raw.read(min(size, self._end - self._position))
        elif self._last == b"\n":  # the piece ends on a line's end
            data = b""
        else:  # finish the line that started inside the piece
            data = self._raw.read(min(size, 1 << 16))
            cut = data.find(b"\n")
            if cut >= 0:
                data, self._done = data[: cut + 1], True
        if not data:
            self._done = True
            return b""
        self._position += len(data)
        self._last = data[-1:]
        return data


class _ByteStream(io.RawIOBase):
    """The decompressed bytes of one input, with look-ahead for headers and probes.

    ``read(size)`` returns ``size`` bytes unless the input ends. A decompression failure
    becomes a :class:`DataError` naming the file.
    """

    def __init__(self, source: _Input, *, final_newline: bool = False) -> None:
        super().__init__()
        self.source = source
        if source.path is None:
            raw: Any = sys.stdin.buffer
        else:
            try:
                raw = open(source.path, "rb")  # noqa: SIM115 - closed in close()
            except OSError as exc:
                raise DataError(f"cannot read {source.name}: {exc.strerror}") from None
        self._raw = raw
        if source.end is not None:
            raw = _Span(raw, source.start, source.end)
        self._counted = _Counted(raw)
        self._data: Any = self._counted
        if source.compression is not None:
            self._data = pa.CompressedInputStream(self._counted, source.compression)
        self._pending = source.header
        self._final_newline = final_newline
        self._last = b"\n"
        self._eof = False

    @property
    def raw_count(self) -> int:
        return self._counted.count

    def readable(self) -> bool:
        return True

    def _fill(self, size: int) -> bytes:
        if self._eof:
            return b""
        parts: list[bytes] = []
        wanted = size
        while wanted > 0:
            try:
                data = self._data.read(min(wanted, 1 << 24))
            except (OSError, pa.ArrowException) as exc:
                raise self._failure(exc) from None
            if not data:
                self._eof = True
                if self._final_newline and self._last != b"\n":
                    parts.append(b"\n")
                break
            parts.append(data)
            self._last = data[-1:]
            wanted -= len(data)
        return b"".join(parts)

    def _failure(self, exc: BaseException) -> DataError:
        reason = error_reason(exc)
        if self.source.compression is not None:
            return DataError(
                f"{self.source.name} is truncated or corrupt ({self.source.compression}): {reason}"
            )
        return DataError(f"cannot read {self.source.name}: {reason}")

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            size = sys.maxsize
        if self._pending:
            head, self._pending = self._pending[:size], self._pending[size:]
            if len(head) == size:
                return head
            return head + self._fill(size - len(head))
        return self._fill(size)

    def peek(self, size: int, *, whole_lines: bool = False) -> bytes:
        """The next ``size`` bytes (fewer at the end) without consuming them.

        With ``whole_lines`` the look-ahead extends to the end of the line it stops in.
        """
        while len(self._pending) < size and not self._eof:
            self._pending += self._fill(max(size - len(self._pending), 1 << 16))
        if whole_lines:
            while b"\n" not in self._pending[size:] and not self._eof:
                if len(self._pending) > size + _MAX_LINE:
                    raise DataError(f"{self.source.name}: a line is longer than 64 MiB")
                self._pending += self._fill(1 << 20)
        return self._pending

    def close(self) -> None:
        if self.source.path is not None and not self._raw.closed:
            self._raw.close()
        super().close()


class _Escaped(io.RawIOBase):
    """A CSV stream as Arrow's parser reads it: every row UTF-8, even one that is not.

    pyarrow decodes a row with the wrong number of fields as UTF-8 before it calls the
    invalid-row handler; for a row that is not UTF-8 it cannot, prints a traceback and gives
    up on the whole file. Here each byte that is not part of valid UTF-8 becomes ``escape``
    followed by that byte as a Latin-1 character (two UTF-8 bytes, neither ASCII, so never a
    delimiter, quote or newline), and ``escape`` itself is doubled; :meth:`unescape` gives a
    value's bytes back. ASCII input, the common case, passes through as it is.
    """

    def __init__(self, stream: _ByteStream, escape: str) -> None:
        super().__init__()
        self._stream = stream
        self.escape = escape
        self._escape_byte = escape.encode()
        self._decoder = codecs.getincrementaldecoder("utf-8")("surrogateescape")
        self._out = b""
        self._eof = False
        self.escaped = False  # whether any escape was written (values may need unescape)
        # Whether every chunk read so far passed through as it is (pure ASCII, no escape). It
        # only ever goes from True to False, and before the chunk that turns it is returned:
        # so a batch Arrow yields while it is still True was parsed from ASCII bytes only,
        # even when Arrow reads ahead on another thread.
        self.ascii_so_far = True
        self._escapes = re.compile(
            re.escape(self._escape_byte) + rb"(?:" + re.escape(self._escape_byte)
            + rb"|[\xc2\xc3][\x80-\xbf])"
        )  # fmt: skip

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            size = sys.maxsize
        while not self._out and not self._eof:
            self._out = self._convert(self._stream.read(min(size, 1 << 24)))
        data, self._out = self._out[:size], self._out[size:]
        return data

    def _convert(self, chunk: bytes) -> bytes:
        if not chunk:
            self._eof = True
            return self._encode(self._decoder.decode(b"", final=True))
        if chunk.isascii() and self._escape_byte not in chunk and not self._decoder.getstate()[0]:
            return chunk
        self.ascii_so_far = False
        return self._encode(self._decoder.decode(chunk))

    def _encode(self, text: str) -> bytes:
        if self.escape in text:
            text = text.replace(self.escape, self.escape * 2)
            self.escaped = True
        try:
            return text.encode("utf-8")
        except UnicodeEncodeError:  # lone surrogates: the bytes that were not UTF-8
            self.escaped = True
            escaped = _SURROGATE.sub(lambda bad: self.escape + chr(ord(bad[0]) - 0xDC00), text)
            return escaped.encode()

    def unescape(self, values: pa.Array) -> pa.Array:
        """A binary column's values as they were in the input."""

        def original(found: re.Match[bytes]) -> bytes:
            escaped = found[0][1:]
            return escaped if escaped == self._escape_byte else escaped.decode().encode("latin-1")

        return pa.array(
            [None if value is None else self._escapes.sub(original, value)
             for value in values.to_pylist()],
            pa.binary(),
        )  # fmt: skip


_SURROGATE = re.compile("[\udc80-\udcff]")


def _line_blocks(stream: _ByteStream, name: str) -> Iterator[tuple[int, bytes]]:
    """Blocks of whole lines, each with the number of its first line (from 1)."""
    line = 1
    tail = b""
    first = True
    while True:
        chunk = stream.read(_LINE_BLOCK)
        if first:
            chunk, first = chunk.removeprefix(_BOM), False
        if not chunk:
            if tail:
                yield line, tail
            return
        data = tail + chunk if tail else chunk
        cut = data.rfind(b"\n")
        if cut < 0:
            if len(data) > _MAX_LINE:
                raise DataError(f"{name}:{line}: a line is longer than 64 MiB")
            tail = data
            continue
        block, tail = data[: cut + 1], data[cut + 1 :]
        yield line, block
        line += block.count(b"\n")


def _text_lines(block: bytes) -> tuple[list[str], bool]:
    """The lines of a block as text, and whether some bytes were not valid UTF-8.

    Invalid bytes are kept as lone surrogates (``surrogateescape``) so that callers can
    tell which values they affect.
    """
    try:
        text = block.decode("utf-8")
        dirty = False
    except UnicodeDecodeError:
        text = block.decode("utf-8", "surrogateescape")
        dirty = True
    if "\r" in text:
        text = text.replace("\r\n", "\n")
    lines = text.split("\n")
    if lines and not lines[-1]:
        lines.pop()
    return lines, dirty


# --------------------------------------------------------------------------------------
# Resolving inputs
# --------------------------------------------------------------------------------------


def _detect(name: str, format: str | None) -> tuple[str | None, str | None]:
    """The (format, compression) a file name implies; format is None if unknown."""
    lowered = name.lower()
    compression = None
    for suffix, codec in _COMPRESSIONS.items():
        if lowered.endswith(suffix):
            compression = codec
            lowered = lowered[: -len(suffix)]
            break
    if format is not None:
        return format, compression
    return _EXTENSIONS.get(os.path.splitext(lowered)[1]), compression


def _unknown_extension(name: str) -> UsageError:
    return UsageError(
        f"cannot tell the format of {name!r} from its extension; give --format "
        f"(one of {', '.join(FORMATS)})"
    )


def _expand(paths: Sequence[str | os.PathLike[str]]) -> list[str]:
    """Paths as given, with globs expanded (sorted) and repeats dropped."""
    names: list[str] = []
    for given in paths:
        text = os.fspath(given)
        if text == "-":
            names.append(text)
            continue
        text = os.path.expanduser(text)
        if any(char in text for char in "*?[") and not os.path.exists(text):
            matches = sorted(glob.glob(text, recursive=True))
            if not matches:
                raise DataError(f"no files match {text!r}")
            names.extend(matches)
        else:
            names.append(text)
    if names.count("-") > 1:
        raise UsageError("stdin ('-') can be read only once; it is given twice")
    return list(dict.fromkeys(names))


def _resolve(name: str, format: str | None) -> _Input:
    if name == "-":
        chosen = format or "csv"
        if chosen == "parquet":
            raise UsageError(
                "Parquet cannot be read from stdin (it needs random access); give its path"
            )
        return _Input("stdin", None, chosen, None, None)
    path = Path(name)
    if path.is_dir():
        example = f"{name.rstrip('/')}/*{_common_suffix(path)}"
        raise DataError(f"{name} is a directory; give the files in it (e.g. {example})")
    if not path.exists():
        raise DataError(f"{name} does not exist")
    detected, compression = _detect(path.name, format)
    if detected is None:
        raise _unknown_extension(name)
    if detected == "parquet" and compression is not None:
        raise UsageError(
            f"{name}: a Parquet file cannot be read through {compression}; decompress it"
            " first (Parquet compresses its pages itself)"
        )
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise DataError(f"cannot read {name}: {exc.strerror}") from None
    return _Input(name, path, detected, compression, size)


def _common_suffix(directory: Path) -> str:
    """The most common readable suffix (``.csv``, ``.jsonl.gz``) among a directory's files."""
    counts: dict[str, int] = {}
    try:
        for entry in itertools.islice(os.scandir(directory), 1000):
            detected, compression = _detect(entry.name, None)
            if detected is not None and entry.is_file():
                suffix = "".join(Path(entry.name).suffixes[-2 if compression else -1 :])
                counts[suffix] = counts.get(suffix, 0) + 1
    except OSError:
        pass
    return max(sorted(counts), key=counts.__getitem__, default=".csv")


def _check_delimiter(delimiter: str | None) -> str | None:
    if delimiter is None:
        return None
    if delimiter in ("\\t", "tab"):
        return "\t"
    if len(delimiter) != 1 or delimiter in '\r\n"':
        raise UsageError(
            f"delimiter must be one character other than a quote or newline; got {delimiter!r}"
        )
    return delimiter


def _compile_regex(regex: str) -> re.Pattern[str]:
    try:
        pattern = re.compile(regex)
    except re.error as exc:
        raise UsageError(f"--regex is not a valid Python regex: {exc}") from None
    if "key" not in pattern.groupindex:
        groups = ", ".join(pattern.groupindex) or "none"
        raise UsageError(
            f"--regex must have a named group 'key', written (?P<key>...); it has: {groups}"
        )
    return pattern


# --------------------------------------------------------------------------------------
# Columns: what each input holds, learned before any row is read
# --------------------------------------------------------------------------------------


def _csv_delimiter(source: _Input, options: _Options) -> str:
    if options.delimiter is not None:
        return options.delimiter
    return "\t" if source.format == "tsv" else ","


def _csv_header(stream: _ByteStream, source: _Input, options: _Options) -> list[str]:
    """The column names in the first non-blank row, parsed with the reader's own rules."""
    return _csv_header_lines(stream, source, options)[0]


def _csv_header_lines(
    stream: _ByteStream, source: _Input, options: _Options
) -> tuple[list[str], bytes]:
    """The column names and the raw lines they were read from (blank lines before them too)."""
    size = 1 << 16
    while True:
        head = stream.peek(size, whole_lines=True)
        text = head.decode("utf-8-sig", "replace").replace("\r\n", "\n")
        quoting = csv.QUOTE_NONE if source.format == "tsv" else csv.QUOTE_MINIMAL
        reader = csv.reader(
            io.StringIO(text), delimiter=_csv_delimiter(source, options), quoting=quoting
        )
        try:
            names = next((row for row in reader if row), None)
        except csv.Error:
            names = None
        if names is not None and (reader.line_num < text.count("\n") or len(head) < size):
            break
        if len(head) < size:  # the whole input is in view: no header
            break
        size *= 4
        if size > _MAX_LINE:
            raise DataError(f"{source.name}: the header row is longer than 64 MiB")
    if not names:
        raise DataError(f"{source.name} is empty; a CSV input needs a header row")
    lines = b"\n".join(head.split(b"\n")[: reader.line_num])
    if not _valid_utf8(lines):
        raise DataError(f"{source.name}: the header row is not valid UTF-8")
    _check_unique(names, source.name)
    return names, lines + b"\n"


def _check_unique(names: Sequence[str], what: str) -> None:
    duplicates = sorted(name for name, count in Counter(names).items() if count > 1)
    if duplicates:
        raise DataError(f"{what} has duplicate column names: {', '.join(duplicates)}")


def _flat_names(schema: pa.Schema) -> list[str]:
    names: list[str] = []
    stack = [(field.name, field.type) for field in reversed(schema)]
    while stack:
        name, kind = stack.pop()
        if pa.types.is_struct(kind):
            stack.extend((f"{name}.{child.name}", child.type) for child in reversed(kind))
        else:
            names.append(name)
    return names


#: What pyarrow raises for a corrupt Parquet file: Arrow's errors, and a UnicodeDecodeError
#: (a ValueError) for a column name that is not UTF-8.
_PARQUET_ERRORS = (OSError, ValueError, MemoryError, pa.ArrowException)


def _parquet_file(source: _Input) -> pq.ParquetFile:
    import pyarrow.parquet as pq  # only Parquet input needs it

    try:
        # Buffered column reads: the default reads whole column chunks ahead (547 MiB of
        # Arrow memory to stream a file of 38 MiB row groups, against 45 MiB this way).
        return pq.ParquetFile(source.path, pre_buffer=False, buffer_size=1 << 20)
    except _PARQUET_ERRORS as exc:
        raise _parquet_failure(source, exc) from None


def _parquet_failure(source: _Input, exc: BaseException) -> DataError:
    if isinstance(exc, (MemoryError, pa.ArrowMemoryError, pa.ArrowCapacityError)):
        return DataError(
            f"{source.name}: its values decode to more than memory holds ({error_reason(exc)});"
            f" partsim reads Parquet in batches of {BATCH_BYTES >> 20} MiB by the sizes the "
            "file's metadata and dictionaries state, and this file expands beyond them"
        )
    return DataError(f"{source.name} is truncated or corrupt (Parquet): {error_reason(exc)}")


def _columns_of(source: _Input, options: _Options, stdin: _ByteStream | None) -> list[str] | None:
    """The columns of one input, or None when they are only known once it is read."""
    if source.format in ("csv", "tsv"):
        stream = stdin or _ByteStream(source)
        try:
            return _csv_header(stream, source, options)
        finally:
            if stdin is None:
                stream.close()
    if source.format == "parquet":
        parquet = _parquet_file(source)
        try:
            return _flat_names(parquet.schema_arrow)
        except _PARQUET_ERRORS as exc:
            raise _parquet_failure(source, exc) from None
    if source.format == "log":
        assert options.regex is not None
        groups = options.regex.groupindex
        return sorted(groups, key=groups.__getitem__)
    if source.format == "kcat":
        return list(KCAT_COLUMNS)
    return None  # JSON lines: known from the first input's first MiB


def _json_columns(stream: _ByteStream, source: _Input) -> list[str]:
    size = _JSON_PROBE
    while True:  # the first MiB, or more while it holds only skipped lines (up to 64 MiB)
        head = stream.peek(size, whole_lines=True)
        end = head.find(b"\n", min(len(head), size) - 1)
        probe = (head if end < 0 else head[: end + 1]).removeprefix(_BOM)
        _check_json_lines(probe, source)
        tally = _Tally(strict=False)
        names = _JsonParser(source.name, tally).names(probe)
        if names or end < 0 or len(probe) >= _MAX_LINE or len(head) <= end + 1:
            break
        size = len(probe) + _JSON_PROBE
    if not names:  # otherwise every --key would be "not found" in "(none)", a usage error
        if not probe.strip():
            raise DataError(f"{source.name} is empty; JSON lines input needs one object a line")
        first = f" (skipped {tally.examples[0]})" if tally.examples else ""
        raise DataError(f"{source.name} has no JSON object with fields in its first MiB{first}")
    return names


def _check_json_lines(block: bytes, source: _Input) -> None:
    """A JSON array is a common mistake for JSON lines: say how to convert it."""
    if block.lstrip()[:1] == b"[":
        raise DataError(
            f"{source.name} holds a JSON array, not one JSON object per line; "
            f"convert it with: jq -c '.[]' {source.name}"
        )


# --------------------------------------------------------------------------------------
# Readers: one generator of record batches per format
# --------------------------------------------------------------------------------------


class _RowTooLong(Exception):
    """A CSV row does not fit in Arrow's block: read the file again with a bigger one."""


class _NeedRowNumbers(Exception):
    """A bad row turned up while parsing with threads, which loses row numbers: read the
    file again on one thread so that skipped rows are numbered exactly."""


def _read_csv(
    open_stream: Callable[[], _ByteStream], source: _Input, options: _Options, tally: _Tally
) -> Iterator[pa.RecordBatch]:
    """CSV rows. The file is read again, skipping the rows already given, when a row does not
    fit in the block (with a bigger block) or when a bad row needs its line number (on one
    thread: Arrow's threaded parser does not number rows)."""
    yielded = 0
    threads = source.path is not None  # stdin cannot be read again: one thread from the start
    sizes = iter(_CSV_BLOCKS)
    block_size = next(sizes)
    while True:
        before = tally.snapshot()
        stream = open_stream()
        drop = yielded  # rows already yielded by an earlier attempt
        try:
            for batch in _csv_batches(stream, source, options, tally, block_size, threads):
                if drop:
                    cut = min(drop, batch.num_rows)
                    batch, drop = batch.slice(cut), drop - cut
                yielded += batch.num_rows
                yield batch
            return
        except _NeedRowNumbers:
            tally.restore(before)
            threads = False
        except _RowTooLong:
            if source.path is None:
                raise DataError(
                    f"{source.name}: a row is longer than 1 MiB, or a quote is never closed "
                    "(save the input to a file to read rows up to 64 MiB)"
                ) from None
            tally.restore(before)
            block_size = next(sizes, None)
            threads = False  # Arrow reads blocks ahead per thread: bigger ones, one at a time
            if block_size is None:
                raise DataError(
                    f"{source.name}: a row is longer than 64 MiB, or a quote is never closed"
                ) from None
        finally:
            stream.close()


def _csv_batches(
    stream: _ByteStream,
    source: _Input,
    options: _Options,
    tally: _Tally,
    block_size: int,
    threads: bool = False,
) -> Iterator[pa.RecordBatch]:
    header = _csv_header(stream, source, options)
    delimiter = _csv_delimiter(source, options)
    escaped = _Escaped(stream, "\x02" if delimiter == "\x01" else "\x01")
    # Only the wanted columns are converted (a wide row's other fields are only split).
    names = list(options.wanted) if options.wanted is not None else header
    arrow_names = [name.replace(escaped.escape, escaped.escape * 2) for name in names]
    ragged: list[int] = []  # row numbers of skipped rows, for numbering the others
    failure: list[Exception] = []

    def invalid_row(row: Any) -> str:
        number = row.number
        if threads:
            failure.append(_NeedRowNumbers())
            return "error"
        reason = f"expected {row.expected_columns} fields, found {row.actual_columns}"
        try:
            tally.skip(source.name, [number], [reason])
        except DataError as exc:
            failure.append(exc)
            return "error"
        if number is not None:
            ragged.append(number)
        return "skip"

    tsv = source.format == "tsv"
    parse = pa_csv.ParseOptions(
        delimiter=delimiter,
        quote_char=False if tsv else '"',
        newlines_in_values=not tsv,
        invalid_row_handler=invalid_row,
    )
    convert = pa_csv.ConvertOptions(
        column_types={name: pa.binary() for name in arrow_names},
        include_columns=arrow_names,
        null_values=[""],
        strings_can_be_null=True,
        quoted_strings_can_be_null=True,
    )
    # Threads parse blocks in parallel (about 1.7x faster on two cores); the reader keeps a
    # bounded number of blocks in flight, so memory stays bounded.
    read = pa_csv.ReadOptions(block_size=block_size, use_threads=threads)
    next_row = 2  # row 1 is the header
    try:
        reader = pa_csv.open_csv(
            escaped, read_options=read, parse_options=parse, convert_options=convert
        )
        if reader.schema.names != arrow_names:
            raise DataError(f"cannot read the header of {source.name}")
        for batch in reader:
            numbers = _row_numbers(next_row, batch.num_rows, ragged)
            next_row = numbers.stop
            if escaped.ascii_so_far:  # after Arrow read the batch: all of it is ASCII, so UTF-8
                yield pa.RecordBatch.from_arrays(
                    [column.view(pa.string()) for column in batch.columns], names=names
                )
                continue
            if escaped.escaped:
                batch = pa.RecordBatch.from_arrays(
                    [escaped.unescape(column) for column in batch.columns], names=names
                )
            yield _utf8_batch(batch, source, tally, numbers, ragged)
    except pa.ArrowInvalid as exc:
        if failure:
            # Not left in the list: Arrow's parse options hold invalid_row, out of the garbage
            # collector's sight, so an error in it (whose traceback holds this frame) would
            # keep the frame, its streams and buffers alive for good.
            error = failure[0]
            failure.clear()
            raise error from None
        message = str(exc)
        if "straddling" in message:
            raise _RowTooLong from None
        raise DataError(f"{source.name}: {message.splitlines()[0]}") from None


@dataclass(frozen=True)
class _RowSpan:
    """Rows ``start`` to ``stop - 1`` minus the skipped ones: the numbers of a batch's rows."""

    start: int
    stop: int

    def numbers(self, ragged: Sequence[int]) -> list[int]:
        skipped = set(ragged[bisect.bisect_left(ragged, self.start) :])
        return [row for row in range(self.start, self.stop) if row not in skipped]


def _row_numbers(start: int, count: int, ragged: Sequence[int]) -> _RowSpan:
    stop = start + count
    while True:  # widen the span by the skipped rows inside it
        inside = bisect.bisect_left(ragged, stop) - bisect.bisect_left(ragged, start)
        if start + count + inside == stop:
            return _RowSpan(start, stop)
        stop = start + count + inside


def _utf8_batch(
    batch: pa.RecordBatch,
    source: _Input,
    tally: _Tally,
    span: _RowSpan,
    ragged: Sequence[int],
) -> pa.RecordBatch:
    """Binary CSV columns as text; rows with bytes that are not UTF-8 are skipped."""
    columns = []
    bad: list[tuple[int, str]] = []
    for name, column in zip(batch.schema.names, batch.columns, strict=True):
        try:
            columns.append(column.cast(pa.string()))
        except pa.ArrowInvalid:
            for index, value in enumerate(column.to_pylist()):
                if value is not None and not _valid_utf8(value):
                    bad.append((index, name))
            columns.append(None)
    if not bad:
        return pa.RecordBatch.from_arrays(columns, names=batch.schema.names)
    numbers = span.numbers(ragged)
    first_bad: dict[int, str] = {}
    for index, name in sorted(bad):
        first_bad.setdefault(index, name)
    tally.skip(
        source.name,
        [numbers[index] for index in first_bad],
        [f"column {name!r} is not valid UTF-8" for name in first_bad.values()],
    )
    keep = pa.array([index not in first_bad for index in range(batch.num_rows)])
    kept = batch.filter(keep)
    return pa.RecordBatch.from_arrays(
        [column.cast(pa.string()) for column in kept.columns], names=kept.schema.names
    )


def _valid_utf8(value: bytes) -> bool:
    try:
        value.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _read_log(
    stream: _ByteStream, source: _Input, options: _Options, tally: _Tally
) -> Iterator[pa.RecordBatch]:
    assert options.regex is not None
    groups = sorted(options.regex.groupindex, key=options.regex.groupindex.__getitem__)
    search = options.regex.search
    for first_line, block in _line_blocks(stream, source.name):
        lines, dirty = _text_lines(block)
        matches = [search(line) if line else None for line in lines]
        misses = [i for i, match in enumerate(matches) if match is None and lines[i]]
        if misses:
            tally.skip(
                source.name,
                [first_line + i for i in misses],
                ["does not match the regex"] * len(misses),
            )
        found = [(i, match) for i, match in enumerate(matches) if match is not None]
        if dirty:
            invalid = [
                (i, match)
                for i, match in found
                if not all(is_utf8(text) for text in match.groups(default=""))
            ]
            if invalid:
                tally.skip(
                    source.name,
                    [first_line + i for i, _ in invalid],
                    ["the captured text is not valid UTF-8"] * len(invalid),
                )
                rejected = {i for i, _ in invalid}
                found = [(i, match) for i, match in found if i not in rejected]
        if found:
            yield pa.RecordBatch.from_arrays(
                [pa.array([m.group(g) for _, m in found], pa.string()) for g in groups],
                names=groups,
            )


def _read_kcat(
    stream: _ByteStream, source: _Input, options: _Options, tally: _Tally
) -> Iterator[pa.RecordBatch]:
    for first_line, block in _line_blocks(stream, source.name):
        lines, dirty = _text_lines(block)
        fields = [line.rsplit("\t", 4) for line in lines]
        bad = [i for i, parts in enumerate(fields) if len(parts) != 5 and lines[i]]
        if dirty:  # the key may hold any bytes; the other fields must be text
            bad.extend(
                i
                for i, parts in enumerate(fields)
                if len(parts) == 5 and not is_utf8("\t".join(parts[1:]))
            )
            bad.sort()
        if bad:
            tally.skip(
                source.name,
                [first_line + i for i in bad],
                [
                    f"expected 5 tab-separated fields, found {len(fields[i])}"
                    if len(fields[i]) != 5
                    else "a field after the key is not valid UTF-8"
                    for i in bad
                ],
            )
            rejected = set(bad)
            fields = [parts for i, parts in enumerate(fields) if i not in rejected]
        fields = [parts for parts in fields if len(parts) == 5]
        if fields:
            # kcat prints the raw key bytes: the key column keeps them exactly (binary), so
            # Avro, integer or other binary keys hash as the producer hashed them.
            keys = [
                parts[0].encode("utf-8", "surrogateescape") if parts[0] else None
                for parts in fields
            ]
            yield pa.RecordBatch.from_arrays(
                [pa.array(keys, pa.binary())]
                + [
                    pa.array([parts[index] or None for parts in fields], pa.string())
                    for index in range(1, 5)
                ],
                names=list(KCAT_COLUMNS),
            )


class _JsonParser:
    """JSON lines to all-text columns: Arrow's reader when exact, Python's otherwise.

    Arrow's JSON reader is ten times faster than :mod:`json` but infers types: it reads
    ``"2026-11-27"`` as a timestamp and integers beyond 2**53 as rounded doubles, and it
    refuses a whole block for one bad line. Timestamp-looking fields are declared as text
    once seen; a block Arrow refuses or may have rounded is parsed line by line in Python,
    which gives the same text for every value.
    """

    def __init__(self, name: str, tally: _Tally) -> None:
        self.name = name
        self.tally = tally
        self.text_fields: dict[tuple[str, ...], None] = {}
        self.decoder = json.JSONDecoder()

    def names(self, block: bytes) -> list[str]:
        """The columns of a block, in the order their fields first appear."""
        return self._parse(block, 1, ())[2]

    def batch(self, block: bytes, first_line: int, columns: Sequence[str]) -> pa.RecordBatch:
        """A block's records with exactly ``columns`` (a missing field is null)."""
        values, rows, _ = self._parse(block, first_line, columns)
        arrays = [values.get(name, pa.nulls(rows, pa.string())) for name in columns]
        return pa.RecordBatch.from_arrays(arrays, names=list(columns))

    def _parse(
        self, block: bytes, first_line: int, columns: Sequence[str]
    ) -> tuple[dict[str, pa.Array], int, list[str]]:
        """The block's values of ``columns`` (at least), its row count and all its fields."""
        block = self._without_wide_lines(block, first_line)
        safe = (
            not _too_deep_for_arrow(block)
            and not _has_non_object_line(block)
            and not self._too_wide_for_arrow(block)
        )
        fast = self._arrow(block) if safe else None
        if fast is not None:
            return fast[0], fast[1], list(fast[0])
        return self._python(block, first_line, columns)

    def _without_wide_lines(self, block: bytes, first_line: int) -> bytes:
        """``block`` with each line of more than ``_JSON_MAX_FIELDS`` ':' (fields) skipped
        and blanked: a line of millions of fields would take gigabytes to parse."""
        if block.count(b":") <= _JSON_MAX_FIELDS:
            return block
        data = np.frombuffer(block, dtype=np.uint8)
        ends = np.flatnonzero(data == ord("\n"))
        starts = np.concatenate([[0], ends + 1])
        stops = np.concatenate([ends, [len(block)]])
        long_lines = np.flatnonzero(stops - starts > _JSON_MAX_FIELDS)  # a ':' per field
        wide = [int(i) for i in long_lines
                if block.count(b":", int(starts[i]), int(stops[i])) > _JSON_MAX_FIELDS]  # fmt: skip
        if not wide:
            return block
        self.tally.skip(
            self.name, [first_line + i for i in wide],
            [f"nested deeper than {_JSON_MAX_DEPTH} levels"
             if _nesting(data[int(starts[i]) : int(stops[i])]) > _JSON_MAX_DEPTH
             else f"more than {_JSON_MAX_FIELDS:,} fields (':') on one line" for i in wide],
        )  # fmt: skip
        parts, last = [], 0
        for i in wide:
            parts.append(block[last : int(starts[i])])
            last = int(stops[i])
        parts.append(block[last:])
        return b"".join(parts)

    def _too_wide_for_arrow(self, block: bytes) -> bool:
        """Whether Arrow's reader would hold too many cells: it gives every row a value (a
        null) for every field of the block, so lines with fields of their own cost rows x
        fields. Judged from the block's first ``_JSON_SAMPLE`` bytes; such blocks are read
        in Python, which keeps only the wanted fields."""
        if len(block) <= _JSON_SAMPLE:
            return False  # at most ~10M cells, even with a new field on every line
        cut = block.find(b"\n", _JSON_SAMPLE)
        sample = block if cut < 0 else block[: cut + 1]
        table = self._arrow_table(sample)
        if table is None:
            return False  # the block's own read decides
        fields = _leaf_count(table.schema)
        rows = table.num_rows * len(block) / max(len(sample), 1)
        return fields > _ARROW_MAX_FIELDS or fields * rows > _ARROW_MAX_CELLS

    def _arrow_table(self, block: bytes) -> pa.Table | None:
        """The block as Arrow's reader reads it (timestamp-looking fields as text), or None
        where it refuses the block."""
        import pyarrow.json as pa_json  # only JSON lines input needs it

        try:
            return pa_json.read_json(
                io.BytesIO(block),
                read_options=pa_json.ReadOptions(use_threads=False, block_size=len(block) + 1),
                parse_options=pa_json.ParseOptions(explicit_schema=self._text_schema()),
            )
        except (pa.ArrowException, ValueError):
            return None

    def _arrow(self, block: bytes) -> tuple[dict[str, pa.Array], int] | None:
        """Columns by Arrow's reader, or None if it cannot give the exact text."""
        for _ in range(2):  # a second pass once timestamp-looking fields are declared text
            table = self._arrow_table(block)
            if table is None:
                return None
            if table.num_rows != _object_lines(block):
                return None  # two objects on a line (or CR-only line ends): one bad line each
            try:
                leaves = _leaves(table)
            except UnicodeDecodeError:  # Arrow checks values, not field names, for UTF-8
                return None
            if leaves is None:
                return None
            timestamps = [path for path, column in leaves if pa.types.is_temporal(column.type)]
            if not timestamps:
                values = _arrow_text(leaves)
                return None if values is None else (values, table.num_rows)
            self.text_fields.update(dict.fromkeys(timestamps))
        return None

    def _text_schema(self) -> pa.Schema | None:
        if not self.text_fields:
            return None
        tree: dict[str, Any] = {}
        for path in self.text_fields:
            node = tree
            for part in path[:-1]:
                node = node.setdefault(part, {})
            node[path[-1]] = None

        def kind(node: dict[str, Any] | None) -> pa.DataType:
            if node is None:
                return pa.string()
            return pa.struct([(name, kind(child)) for name, child in node.items()])

        return pa.schema([(name, kind(child)) for name, child in tree.items()])

    def _python(
        self, block: bytes, first_line: int, columns: Sequence[str] | None = None
    ) -> tuple[dict[str, pa.Array], int, list[str]]:
        rows: list[dict[str, Any]] = []
        numbers: list[int] = []
        reasons: list[str] = []
        for offset, raw in enumerate(block.split(b"\n")):
            line = raw.strip()
            if not line:
                continue
            row, reason = self._parse_line(line)
            if reason is not None:
                numbers.append(first_line + offset)
                reasons.append(reason)
            else:
                rows.append(row)
        if numbers:
            self.tally.skip(self.name, numbers, reasons)
        names: dict[str, None] = {}
        for row in rows:
            names.update(dict.fromkeys(row))
        # Only the wanted fields become columns: rows x wanted, not rows x all fields.
        wanted = list(names) if columns is None else [name for name in columns if name in names]
        values = {name: [row.get(name) for row in rows] for name in wanted}
        parents = {name[:cut] for name in names for cut in range(len(name)) if name[cut] == "."}
        columns_of = {
            name: _python_text(column)
            for name, column in values.items()
            # {"user": null} next to {"user": {"id": 1}}: user.id only, as Arrow reads it
            if not (name in parents and all(value is None for value in column))
        }
        if columns:  # the fields are only wanted for the columns of the first MiB (names)
            return columns_of, len(rows), []
        null_parents = {name for name in parents & names.keys()
                        if all(row.get(name) is None for row in rows)}  # fmt: skip
        return columns_of, len(rows), [name for name in names if name not in null_parents]

    def _parse_line(self, line: bytes) -> tuple[dict[str, Any], str | None]:
        try:
            value = self.decoder.decode(line.decode("utf-8"))
        except UnicodeDecodeError:
            return {}, "not valid UTF-8"
        except RecursionError:
            return {}, f"nested deeper than {_JSON_MAX_DEPTH} levels"
        except ValueError as exc:
            reason = str(exc).split(":")[0]
            if reason == "Extra data":
                ends = "; lines end at \\n, not at a CR alone" if b"\r" in line else ""
                return {}, f"more than one JSON value on one line{ends}"
            return {}, f"invalid JSON: {reason}"
        if not isinstance(value, dict):
            return {}, f"a JSON {type(value).__name__} where an object was expected"
        flat: dict[str, Any] = {}
        stack: list[tuple[Iterator[tuple[str, Any]], str]] = [(iter(value.items()), "")]
        while stack:  # depth first, in field order, without recursion
            items, prefix = stack[-1]
            for name, item in items:
                if not isinstance(item, dict):
                    flat[prefix + name] = item
                    continue
                if len(stack) >= _JSON_MAX_DEPTH:
                    return {}, f"nested deeper than {_JSON_MAX_DEPTH} levels"
                stack.append((iter(item.items()), f"{prefix}{name}."))
                break
            else:
                stack.pop()
        return flat, None


def _nesting(line: np.ndarray) -> int:
    """How deep a line's '{' and '[' nest (brackets inside strings count too)."""
    opens = (line == ord("{")) | (line == ord("["))
    brackets = np.flatnonzero(opens | (line == ord("}")) | (line == ord("]")))
    steps = np.where(opens[brackets], 1, -1).astype(np.int32)
    return int(np.cumsum(steps).max(initial=0))


def _leaf_count(schema: pa.Schema) -> int:
    """The non-struct fields of a schema, at every depth."""
    count, stack = 0, [field.type for field in schema]
    while stack:
        kind = stack.pop()
        if pa.types.is_struct(kind):
            stack.extend(kind.field(i).type for i in range(kind.num_fields))
        else:
            count += 1
    return count


def _too_deep_for_arrow(block: bytes) -> bool:
    """True when a line holds more than ``_ARROW_MAX_OPENS`` '{' and '[' (it may nest deep
    enough to crash Arrow's recursive parser)."""
    if block.count(b"{") + block.count(b"[") <= _ARROW_MAX_OPENS:
        return False
    data = np.frombuffer(block, dtype=np.uint8)
    opens = np.flatnonzero((data == ord("{")) | (data == ord("[")))
    lines = np.searchsorted(np.flatnonzero(data == ord("\n")), opens)
    return bool(np.bincount(lines).max() > _ARROW_MAX_OPENS)


_OBJECT_LINE = re.compile(rb"^[ \t\r]*\{", re.MULTILINE)


def _object_lines(block: bytes) -> int:
    """The lines of ``block`` that start with '{' (after blanks): one row each, at most."""
    starts = block.count(b"\n{") + block.startswith(b"{")
    if starts == block.count(b"\n") + (not block.endswith(b"\n")):
        return starts  # every line starts with '{': the common case, counted fast
    return sum(1 for _ in _OBJECT_LINE.finditer(block))


def _has_non_object_line(block: bytes) -> bool:
    """True when a line of ``block`` does not start with '{' (after blanks): no object, or
    a bare value that Arrow may crash on (see ``_NOT_AN_OBJECT``)."""
    starts = block.count(b"\n{") + block.startswith(b"{")
    if starts == block.count(b"\n") + (not block.endswith(b"\n")):
        return False  # every line starts with '{': the common case, counted fast
    return _NOT_AN_OBJECT.search(block) is not None


def _leaves(table: pa.Table) -> list[tuple[tuple[str, ...], pa.ChunkedArray]] | None:
    """The non-struct columns of a table with their field paths; None if too deep."""
    leaves = []
    stack = [((name,), table.column(name), 1) for name in reversed(table.column_names)]
    while stack:
        path, column, depth = stack.pop()
        if pa.types.is_struct(column.type):
            if depth >= _JSON_MAX_DEPTH:
                return None
            # StructArray.flatten gives the children with the parent's nulls applied.
            parts = [chunk.flatten() for chunk in column.chunks]
            for i in reversed(range(column.type.num_fields)):
                field = column.type.field(i)
                child = pa.chunked_array([chunk[i] for chunk in parts], field.type)
                stack.append(((*path, field.name), child, depth + 1))
        else:
            leaves.append((path, column))
    return leaves


def _arrow_text(
    leaves: list[tuple[tuple[str, ...], pa.ChunkedArray]],
) -> dict[str, pa.Array] | None:
    out: dict[str, pa.Array] = {}
    for path, column in leaves:
        kind = column.type
        array = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
        if pa.types.is_floating(kind) and not _floats_as_written(array):
            return None  # maybe an integer in a column of floats: let Python read it exactly
        if not (
            pa.types.is_floating(kind)
            or pa.types.is_string(kind)
            or pa.types.is_large_string(kind)
            or pa.types.is_integer(kind)
            or pa.types.is_boolean(kind)
            or pa.types.is_null(kind)
        ):
            return None  # arrays and other values: their JSON text comes from Python
        name = ".".join(path)
        if name in out:
            return None  # a literal dotted field and a nested path collide
        out[name] = array.cast(pa.string())
    return out


def _floats_as_written(array: pa.Array) -> bool:
    """Whether Arrow's float column gives every integer in it as written: False when a whole
    value might be an integer written without a fraction that its float text would change
    (``123456789012345`` next to ``2.5`` is ``1.23456789012345e+14``, ``-0`` is ``-0``,
    and past 2**53 the value itself may be rounded)."""
    values = array.drop_null().to_numpy(zero_copy_only=False)
    whole = np.flatnonzero(values == np.round(values))
    if not len(whole):
        return True
    whole_values = values[whole]
    if (np.abs(whole_values) >= _EXACT_FLOAT).any() or np.signbit(
        whole_values[whole_values == 0]
    ).any():
        return False  # rounded, or perhaps an integer zero written -0
    texts = pc.cast(pa.array(values[whole]), pa.string())
    return not pc.any(pc.match_substring(texts, "e")).as_py()


def _python_text(values: list[Any]) -> pa.Array:
    """JSON values as text, matching what :func:`_arrow_text` gives for the same input."""
    texts: list[str | None] = []
    floats: list[int] = []
    for value in values:
        if value is None or isinstance(value, str):
            texts.append(value)
        elif isinstance(value, bool):
            texts.append("true" if value else "false")
        elif isinstance(value, int):
            texts.append(str(value))  # exact, however big
        elif isinstance(value, float):
            floats.append(len(texts))
            texts.append(None)
        else:
            texts.append(json.dumps(value, ensure_ascii=False, separators=(",", ":")))
    if floats:
        formatted = pa.array([values[i] for i in floats], pa.float64()).cast(pa.string())
        for i, text in zip(floats, formatted.to_pylist(), strict=True):
            texts[i] = text
    try:
        return pa.array(texts, pa.string())
    except (UnicodeEncodeError, pa.ArrowException):
        # A lone surrogate (an escaped "\ud800") is kept as its generalized UTF-8: each
        # client writes it as its own runtime does when the key is serialized.
        return pa.array(
            [None if text is None else text.encode("utf-8", "surrogatepass") for text in texts],
            pa.binary(),
        ).view(pa.string())


def _read_jsonl(
    stream: _ByteStream, source: _Input, columns: Sequence[str], tally: _Tally
) -> Iterator[pa.RecordBatch]:
    parser = _JsonParser(source.name, tally)
    for first_line, block in _line_blocks(stream, source.name):
        if first_line == 1:
            _check_json_lines(block, source)
        batch = parser.batch(block, first_line, columns)
        if batch.num_rows:
            yield batch


def _read_parquet(
    parquet: pq.ParquetFile, source: _Input, options: _Options
) -> Iterator[pa.RecordBatch]:
    metadata = parquet.metadata
    groups = list(source.row_groups) if source.row_groups is not None else None
    top = parquet.schema_arrow.names
    columns = top
    if options.wanted is not None:  # a dotted column is read as its top-level struct
        columns = list(dict.fromkeys(
            name if name in top else name.split(".")[0] for name in options.wanted
        ))  # fmt: skip
    try:
        for group in range(metadata.num_row_groups) if groups is None else groups:
            rows = _parquet_batch_rows(metadata, source, group, columns, options.batch_rows)
            for batch in parquet.iter_batches(batch_size=rows, row_groups=[group], columns=columns):
                yield _flatten(batch)
    except _PARQUET_ERRORS as exc:
        raise _parquet_failure(source, exc) from None


def _parquet_batch_rows(
    metadata: pq.FileMetaData, source: _Input, group: int, columns: Sequence[str], limit: int
) -> int:
    """Rows per batch for one row group, so that a batch holds about ``BATCH_BYTES`` once
    decoded: by the metadata's uncompressed sizes, and for dictionary-encoded text by the
    longest value in the dictionary (a 49 KB file whose one 1 MiB value repeats 10,240 times
    decodes to 10 GiB; its metadata states 1 MiB). A value over 64 MiB is a DataError."""
    import pyarrow.parquet as pq

    chunks = metadata.row_group(group)
    if not chunks.num_rows:
        return limit
    wanted = set(columns)
    width = 0.0
    dictionaries = []
    for index in range(chunks.num_columns):
        chunk = chunks.column(index)
        path = chunk.path_in_schema
        if path.split(".")[0] not in wanted:
            continue
        width += chunk.total_uncompressed_size / chunks.num_rows
        if chunk.has_dictionary_page and chunk.physical_type == "BYTE_ARRAY" and "." not in path:
            dictionaries.append(path)
    if dictionaries:
        probe = pq.ParquetFile(source.path, read_dictionary=dictionaries, buffer_size=1 << 20)
        first = next(probe.iter_batches(batch_size=1, row_groups=[group], columns=dictionaries))
        for name, column in zip(first.schema.names, first.columns, strict=True):
            if not pa.types.is_dictionary(column.type) or not len(column.dictionary):
                continue
            longest = pc.max(pc.binary_length(column.dictionary)).as_py() or 0
            if longest > _MAX_LINE:
                raise DataError(
                    f"{source.name}: column {name!r} holds a value of {longest / 2**20:,.0f} "
                    "MiB, over the 64 MiB partsim reads in one row"
                )
            width += longest
    return int(min(limit, max(1, BATCH_BYTES // max(width, 1.0))))


def _coalesce(
    batches: Iterator[pa.RecordBatch], size: int, max_bytes: int = BATCH_BYTES
) -> Iterator[pa.RecordBatch]:
    """The same rows in batches of ``size`` rows, fewer where ``size`` rows would hold more
    than ``max_bytes`` (a row wider than that is a batch of its own), or where the schema
    changes (the next input has other column types): batches are never cast to one
    another."""
    pending: list[pa.RecordBatch] = []
    count = 0
    held = 0
    for batch in batches:
        if not batch.num_rows:
            continue
        if pending and not batch.schema.equals(pending[0].schema):
            yield from _bounded(_combined(pending), max_bytes)
            pending, count, held = [], 0, 0
        if not pending and batch.num_rows == size and batch.nbytes <= max_bytes:
            yield batch
            continue
        pending.append(batch)
        count += batch.num_rows
        held += batch.nbytes
        if count < size and held < max_bytes:
            continue
        table = pa.Table.from_batches(pending)
        full = count - count % size if held < max_bytes else count
        for start in range(0, full, size):
            yield from _bounded(_combined([table.slice(start, size)]), max_bytes)
        pending = table.slice(full).to_batches()
        count -= full
        held = sum(part.nbytes for part in pending)
    if count:
        yield from _bounded(_combined(pending), max_bytes)


def _combined(parts: Sequence[pa.RecordBatch | pa.Table]) -> pa.RecordBatch:
    """The rows of ``parts`` (one schema) as one batch with contiguous columns."""
    table = pa.Table.from_batches(
        [batch for part in parts for batch in
         (part.to_batches() if isinstance(part, pa.Table) else [part])]
    )  # fmt: skip
    return table.combine_chunks().to_batches()[0] if table.num_rows else _empty(table.schema)


def _bounded(batch: pa.RecordBatch, max_bytes: int) -> Iterator[pa.RecordBatch]:
    """``batch`` cut into slices of at most ``max_bytes`` (halving where rows are uneven);
    a slice of one row may hold more."""
    if batch.nbytes <= max_bytes or batch.num_rows <= 1:
        yield batch
        return
    rows = max(1, batch.num_rows * max_bytes // batch.nbytes)
    for start in range(0, batch.num_rows, rows):
        part = batch.slice(start, rows)
        if part.nbytes > max_bytes and part.num_rows > 1:
            half = part.num_rows // 2
            yield from _bounded(part.slice(0, half), max_bytes)
            yield from _bounded(part.slice(half), max_bytes)
        else:
            yield part


def _flatten(batch: pa.RecordBatch) -> pa.RecordBatch:
    """Struct columns as dotted columns, at every depth."""
    if not any(pa.types.is_struct(field.type) for field in batch.schema):
        return batch
    table = pa.Table.from_batches([batch])
    while any(pa.types.is_struct(field.type) for field in table.schema):
        table = table.flatten()
    return table.combine_chunks().to_batches()[0] if table.num_rows else _empty(table.schema)


def _empty(schema: pa.Schema) -> pa.RecordBatch:
    return pa.RecordBatch.from_pylist([], schema=schema)


# --------------------------------------------------------------------------------------
# The source
# --------------------------------------------------------------------------------------


class EventSource:
    """Events from files, stdin or a table, as Arrow record batches with the same columns
    (each input's batches in that input's own types).

    Read it once: a second iteration raises :class:`UsageError` (stdin cannot be read
    twice; call :func:`open_events` again for another pass). The counters grow as it is
    read: ``rows_read`` (rows yielded), ``skipped_rows`` and up to five
    ``skipped_examples`` (``"file:line: reason"``), and ``bytes_read`` out of
    ``bytes_total`` (bytes on disk, compressed where the file is; ``None`` for stdin).
    """

    def __init__(
        self,
        *,
        columns: list[str],
        inputs: Sequence[_Input],
        table: pa.Table | None,
        label: str,
        options: _Options,
        tally: _Tally,
        stdin: _ByteStream | None,
    ) -> None:
        self.columns = columns
        self.rows_read = 0
        self._inputs = list(inputs)
        self._table = table
        self._label = label
        self._options = options
        self._tally = tally
        self._stdin = stdin
        self._done_bytes = 0
        self._position: Callable[[], int] = lambda: 0
        self._started = False
        if table is not None:
            self.bytes_total: int | None = table.nbytes
        elif any(source.size is None for source in self._inputs):
            self.bytes_total = None
        else:
            self.bytes_total = sum(source.size or 0 for source in self._inputs)

    @property
    def skipped_rows(self) -> int:
        return self._tally.count

    @property
    def skipped_examples(self) -> list[str]:
        return list(self._tally.examples)

    @property
    def bytes_read(self) -> int:
        return self._done_bytes + self._position()

    def describe(self) -> str:
        """What is being read, for messages: ``orders.csv (CSV)``, ``3 files (CSV)``."""
        return self._label

    def pieces(self, blocksize: int) -> list[EventSource]:
        """This input as independent sources of about ``blocksize`` bytes each, in order, to
        be read in parallel (by processes or a Dask cluster that can reach the files).

        An uncompressed text file splits at line ends (so a CSV field must not hold a
        newline; use a ``blocksize`` of 0 for whole files), a Parquet file at row groups, a
        table into row slices; a compressed file is one piece. Each piece has its own skip
        count; its messages name the byte range or row groups it covers.
        """
        if self._started:
            raise UsageError("an EventSource that was read cannot be split")
        if self._stdin is not None:
            raise UsageError(
                "stdin ('-') cannot be read in parallel pieces; save it to a file first"
            )
        if self._table is not None:
            total = self._table.num_rows
            nbytes = max(self._table.nbytes, 1)
            rows = total if blocksize <= 0 else max(1, blocksize * total // nbytes)
            return [
                self._piece([], self._table.slice(first, rows), self._label)
                for first in range(0, max(total, 1), max(rows, 1))
            ]
        pieces: list[EventSource] = []
        for source in self._inputs:
            for part in _split(source, self._options, blocksize):
                pieces.append(self._piece([part], None, part.name))
        return pieces

    def _piece(self, inputs: list[_Input], table: pa.Table | None, label: str) -> EventSource:
        return EventSource(columns=self.columns, inputs=inputs, table=table, label=label,
                           options=self._options, tally=_Tally(self._tally.strict),
                           stdin=None)  # fmt: skip

    def __getstate__(self) -> dict:  # a piece travels to a worker before it is read
        if self._started or self._stdin is not None:
            raise TypeError("only an unread EventSource of files or a table can be pickled")
        state = dict(self.__dict__)
        del state["_position"]
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._position = lambda: 0

    def __repr__(self) -> str:
        return f"<EventSource {self._label}: {', '.join(self.columns)}>"

    def __iter__(self) -> Iterator[pa.RecordBatch]:
        if self._started:
            raise UsageError("an EventSource can be read once; call open_events again")
        self._started = True
        return self._batches()

    def _batches(self) -> Iterator[pa.RecordBatch]:
        size = self._options.batch_rows
        if self._table is not None:
            total = max(self._table.num_rows, 1)
            self._position = lambda: (self.bytes_total or 0) * self.rows_read // total
            table = self._table.select(self._wanted())
            for batch in _coalesce(iter(table.to_batches(max_chunksize=size)), size):
                self.rows_read += batch.num_rows
                yield batch
            return
        for batch in _coalesce(self._conformed(), size):
            self.rows_read += batch.num_rows
            yield batch

    def _conformed(self) -> Iterator[pa.RecordBatch]:
        for source in self._inputs:
            for batch in self._read(source):
                yield self._conform(batch)
            self._done_bytes += source.size if source.size is not None else self._position()
            self._position = lambda: 0

    def _read(self, source: _Input) -> Iterator[pa.RecordBatch]:
        if source.format == "parquet":
            parquet = _parquet_file(source)
            total = source.size or 0
            parquet_rows = max(parquet.metadata.num_rows, 1)
            start = self.rows_read
            self._position = lambda: total * (self.rows_read - start) // parquet_rows
            yield from _read_parquet(parquet, source, self._options)
            return
        text_csv = source.format in ("csv", "tsv")

        def open_stream() -> _ByteStream:
            stdin, self._stdin = self._stdin, None
            if source.path is None and stdin is None:
                raise DataError("stdin can be read only once")  # pragma: no cover
            stream = stdin or _ByteStream(source, final_newline=text_csv)
            self._position = lambda: stream.raw_count
            return stream

        if text_csv:
            yield from _read_csv(open_stream, source, self._options, self._tally)
            return
        stream = open_stream()
        try:
            if source.format == "log":
                yield from _read_log(stream, source, self._options, self._tally)
            elif source.format == "kcat":
                yield from _read_kcat(stream, source, self._options, self._tally)
            else:
                yield from _read_jsonl(stream, source, self._wanted(), self._tally)
        finally:
            stream.close()

    def _wanted(self) -> list[str]:
        """The columns batches hold: :meth:`select`'s, else all."""
        wanted = self._options.wanted
        return self.columns if wanted is None else list(wanted)

    def _conform(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        """The batch with the wanted columns in order, in its own input's types (never
        cast)."""
        wanted = self._wanted()
        if batch.schema.names != wanted:
            batch = batch.select(wanted)
        return batch

    def select(self, columns: Sequence[str]) -> EventSource:
        """Read only ``columns`` (in this order; each of :attr:`columns`), before the source
        is read: batches hold just those, and a wide input's other fields are never
        converted (CSV) or read (Parquet). Pieces split off later keep the selection.
        Returns the source itself."""
        if self._started:
            raise UsageError("select columns before an EventSource is read")
        unknown = [name for name in columns if name not in self.columns]
        if unknown:
            raise UsageError(f"no column {unknown[0]!r} in {self._label}")
        self._options = replace(self._options, wanted=tuple(dict.fromkeys(columns)))
        return self


def _split(source: _Input, options: _Options, blocksize: int) -> list[_Input]:
    """One input as pieces of about ``blocksize`` bytes (see :meth:`EventSource.pieces`)."""
    size = source.size or 0
    if source.format == "parquet":
        metadata = _parquet_file(source).metadata
        groups, pieces, weight = [], [], 0
        for index in range(metadata.num_row_groups):
            groups.append(index)
            weight += metadata.row_group(index).total_byte_size
            if blocksize > 0 and weight >= blocksize:
                pieces.append(tuple(groups))
                groups, weight = [], 0
        if groups or not pieces:
            pieces.append(tuple(groups))
        if len(pieces) == 1:
            return [source]
        return [
            replace(source, name=f"{source.name}[row groups {group[0]}-{group[-1]}]",
                    row_groups=group, size=size * len(group) // metadata.num_row_groups)
            for group in pieces
        ]  # fmt: skip
    if source.compression is not None or blocksize <= 0 or size <= blocksize:
        return [source]
    header = b""
    if source.format in ("csv", "tsv"):
        stream = _ByteStream(source)
        try:
            header = _csv_header_lines(stream, source, options)[1]
        finally:
            stream.close()
    return [
        replace(source, name=f"{source.name}[bytes {start}-{min(start + blocksize, size)}]",
                start=start, end=min(start + blocksize, size),
                size=min(start + blocksize, size) - start,
                header=header if start > 0 else b"")
        for start in range(0, size, blocksize)
    ]  # fmt: skip


def open_events(
    inputs: Any,
    *,
    format: str | None = None,
    delimiter: str | None = None,
    regex: str | None = None,
    strict: bool = False,
    batch_rows: int = BATCH_ROWS,
) -> EventSource:
    """Open events for reading: a path, a glob, ``"-"`` (stdin), a list of those, a pandas
    DataFrame or a pyarrow Table.

    The columns are read at once (a CSV header, a Parquet schema, the regex's groups, the
    first MiB of JSON lines); several files must have the same columns (in any order).
    ``format`` overrides the extension for every input; ``delimiter`` overrides the CSV
    (``,``) or TSV (``\\t``) delimiter; ``regex`` reads ``log`` input. Unparsable rows are
    skipped and counted unless ``strict``. Batches have ``batch_rows`` rows, fewer where
    that would pass ``BATCH_BYTES``, at a change of input types, and at the end. See the
    module docstring for each format's rules.

    >>> import pyarrow as pa
    >>> events = open_events(pa.table({"key": ["a", "b", None]}), batch_rows=2)
    >>> events.columns, [batch.num_rows for batch in events], events.rows_read
    (['key'], [2, 1], 3)
    """
    if format is not None and format not in FORMATS:
        raise invalid_choice("format", format, FORMATS)
    if isinstance(batch_rows, bool) or not isinstance(batch_rows, int) or batch_rows < 1:
        raise UsageError(f"batch_rows must be a positive integer; got {batch_rows!r}")
    options = _Options(
        delimiter=_check_delimiter(delimiter),
        regex=_compile_regex(regex) if regex is not None else None,
        batch_rows=batch_rows,
    )
    tally = _Tally(strict)

    table = _as_table(inputs)
    if table is not None:
        kind = "pyarrow Table" if isinstance(inputs, (pa.Table, pa.RecordBatch)) else "DataFrame"
        label = f"a {kind} ({table.num_rows} rows)"
        table = _flatten_table(table)
        _check_unique(table.column_names, f"the {kind}")
        return EventSource(
            columns=table.column_names,
            inputs=[],
            table=table,
            label=label,
            options=options,
            tally=tally,
            stdin=None,
        )

    if isinstance(inputs, (str, os.PathLike)):
        given: Sequence[str | os.PathLike[str]] = [inputs]
    elif isinstance(inputs, Sequence) and all(isinstance(i, (str, os.PathLike)) for i in inputs):
        given = inputs
    else:
        raise UsageError(
            "inputs must be a path, '-', a list of paths, a pandas DataFrame or a pyarrow "
            f"Table; got {type(inputs).__name__}"
        )
    if not given:
        raise UsageError("inputs is empty; give at least one file, a glob or '-'")
    sources = [_resolve(name, format) for name in _expand(given)]
    _check_options(sources, options)

    stdin = None
    if any(source.path is None for source in sources):
        stdin_source = next(source for source in sources if source.path is None)
        stdin = _ByteStream(stdin_source, final_newline=stdin_source.format in ("csv", "tsv"))
    columns = _common_columns(sources, options, stdin)
    formats = list(dict.fromkeys(_FORMAT_LABELS[source.format] for source in sources))
    if len(sources) == 1:
        only = sources[0]
        extra = f", {only.compression}" if only.compression else ""
        label = f"{only.name} ({formats[0]}{extra})"
    else:
        label = f"{len(sources)} files ({', '.join(formats)})"
    return EventSource(
        columns=columns,
        inputs=sources,
        table=None,
        label=label,
        options=options,
        tally=tally,
        stdin=stdin,
    )


def key_lines(data: bytes, *, text: bool = True, name: str = "stdin") -> list[str | bytes]:
    r"""Keys one per line, as ``partsim partition -`` reads them from stdin.

    A line ends at LF, and a CR just before it is dropped (CRLF). As ``text``, a UTF-8 byte
    order mark at the start is dropped and every line must be UTF-8: a line that is not is a
    :class:`DataError` naming it (nothing becomes ``?`` or U+FFFD). Otherwise each line is
    its raw bytes, a BOM included.

    >>> key_lines(b"\xef\xbb\xbfa\r\nb\n")
    ['a', 'b']
    >>> key_lines(b"\xef\xbb\xbfa\r\nb", text=False)
    [b'\xef\xbb\xbfa', b'b']
    """
    lines = data.split(b"\n")
    if lines[-1] == b"":
        lines.pop()  # the last line's end
    lines = [line[:-1] if line.endswith(b"\r") else line for line in lines]
    if not text:
        return list(lines)
    if lines:
        lines[0] = lines[0].removeprefix(_BOM)
    keys: list[str | bytes] = []
    for number, line in enumerate(lines, 1):
        try:
            keys.append(line.decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise DataError(
                f"{name}:{number}: byte {exc.start + 1} is not valid UTF-8 ({line[:40]!r}); "
                "give --key-format bytes to hash each line's raw bytes"
            ) from None
    return keys


def _as_table(inputs: Any) -> pa.Table | None:
    if isinstance(inputs, pa.Table):
        return inputs
    if isinstance(inputs, pa.RecordBatch):
        return pa.Table.from_batches([inputs])
    pd = sys.modules.get("pandas")  # a DataFrame can only exist once pandas is imported
    if pd is not None and isinstance(inputs, pd.DataFrame):
        try:
            return pa.Table.from_pandas(inputs, preserve_index=False)
        except (pa.ArrowException, TypeError, ValueError) as exc:
            reason = str(exc.args[-1] if exc.args else exc).splitlines()[0]
            raise DataError(f"the DataFrame cannot be converted to Arrow: {reason}") from None
    return None


def _flatten_table(table: pa.Table) -> pa.Table:
    while any(pa.types.is_struct(field.type) for field in table.schema):
        table = table.flatten()
    return table


def _check_options(sources: Sequence[_Input], options: _Options) -> None:
    formats = {source.format for source in sources}
    if "log" in formats and options.regex is None:
        raise UsageError(
            "log input needs --regex: a Python regex with a named group 'key', e.g. "
            r"'customer=(?P<key>\S+)'"
        )
    if options.regex is not None and "log" not in formats:
        other = sources[0]
        raise UsageError(
            f"--regex applies to log input only; {other.name} is {_FORMAT_LABELS[other.format]}"
        )
    if options.delimiter is not None and not formats & {"csv", "tsv"}:
        other = sources[0]
        raise UsageError(
            f"--delimiter applies to CSV and TSV input only; {other.name} is "
            f"{_FORMAT_LABELS[other.format]}"
        )


def _common_columns(
    sources: Sequence[_Input], options: _Options, stdin: _ByteStream | None
) -> list[str]:
    columns: list[str] | None = None
    first = ""
    for source in sources:
        found = _columns_of(source, options, stdin if source.path is None else None)
        if found is None:
            if columns is not None:
                continue  # JSON lines after other inputs: conformed to their columns
            stream = stdin if source.path is None else _ByteStream(source)
            assert stream is not None
            try:
                found = _json_columns(stream, source)
            finally:
                if source.path is not None:
                    stream.close()
        if columns is None:
            columns, first = found, source.name
        elif set(found) != set(columns):
            missing = [name for name in columns if name not in found]
            extra = [name for name in found if name not in columns]
            parts = []
            if missing:
                parts.append(f"lacks {', '.join(missing)}")
            if extra:
                parts.append(f"has {', '.join(extra)} too")
            raise DataError(f"{source.name} has other columns than {first}: {'; '.join(parts)}")
    return columns or []
