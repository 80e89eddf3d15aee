"""Key designs: which columns of an event make its Kafka key.

A design is a column name (``customer_id``) or a template of Python format fields over
columns (``{region}:{customer_id}``). A null in any field makes a null key, as a producer that
skips the key when a field is missing would; ``null_field_as_empty`` formats it as ``""``
instead. Field values are formatted as text: a template always gives a string key, while a
bare column keeps its own type (so ``--key-format int64`` can read an integer column).

A field renders one way, with or without a conversion: as its text (booleans ``true`` and
``false``, integers in decimal, floats in shortest round-trip form, ``1.0`` as ``1``,
bytes as their UTF-8 text). ``{c!s}`` is the same as ``{c}``, and ``!r`` and ``!a`` quote
that text. A format spec formats a number or a time as the value itself (``{id:05d}``,
``{amount:.2f}``, ``{ts:%Y-%m-%d}``) and any other value as its text.
"""

from __future__ import annotations

import re
import string
from collections.abc import Sequence
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from partsim.errors import DataError, UsageError, missing_column
from partsim.serde import is_utf8, text_values

__all__ = ["KeyDesign", "parse_design"]

#: The largest width or precision in a template's format spec: Kafka's default
#: max.request.size (1 MiB) bounds a record, key included, and '{id:>999999999}' would
#: build a gigabyte per key.
MAX_KEY_WIDTH = 1 << 20


@dataclass(frozen=True)
class KeyDesign:
    """A parsed key expression: literal text and the columns between."""

    expression: str
    parts: tuple[tuple[str, str | None, str, str | None], ...]
    null_field_as_empty: bool = False
    template: bool = True

    @property
    def columns(self) -> tuple[str, ...]:
        """The columns this design reads, in order of first use."""
        seen: dict[str, None] = {}
        for _, field, _, _ in self.parts:
            if field is not None:
                seen.setdefault(field)
        return tuple(seen)

    @property
    def is_column(self) -> bool:
        """True when the design is one bare column (its values are the keys as they are)."""
        return not self.template

    def check_columns(self, available: Sequence[str], option: str = "--key") -> None:
        """Raise a :class:`UsageError` naming any missing column and listing the available."""
        for column in self.columns:
            if column not in available:
                raise missing_column(option, column, available)

    def keys(self, batch: pa.RecordBatch | pa.Table) -> pa.Array | pa.ChunkedArray:
        """The key of each event of ``batch`` (text for templates, native for a column)."""
        if self.is_column:
            values = batch.column(self.columns[0])
            if not self.null_field_as_empty:
                return values
            if pa.types.is_binary(values.type) or pa.types.is_large_binary(values.type):
                return values.fill_null(pa.scalar(b"", values.type))  # raw key bytes stay bytes
            return self._text(batch, self.columns[0]).fill_null("")
        pieces: list[pa.Array | pa.Scalar] = []
        if any(spec or conversion for _, field, spec, conversion in self.parts if field):
            return self._format_rows(batch)
        for literal, field, _, _ in self.parts:
            if literal:
                pieces.append(pa.scalar(literal, type=pa.large_string()))
            if field is not None:
                text = self._text(batch, field)
                pieces.append(text.fill_null("") if self.null_field_as_empty else text)
        if len(pieces) == 1 and isinstance(pieces[0], pa.Scalar):  # a template of literals only
            return pa.array([pieces[0].as_py()] * batch.num_rows, type=pa.string())
        return pc.binary_join_element_wise(*pieces, pa.scalar("", type=pa.large_string()))

    def _text(self, batch: pa.RecordBatch | pa.Table, field: str) -> pa.Array | pa.ChunkedArray:
        """A column as text for a template, or a :class:`DataError` naming it."""
        values = batch.column(field)
        try:
            return _as_text(values)
        except pa.ArrowInvalid:
            raise DataError(
                f"--key {self.expression!r}: column {field!r} holds bytes that are not valid "
                "UTF-8, so they cannot be formatted as text; use the column alone as the key"
            ) from None
        except pa.ArrowNotImplementedError:
            raise DataError(
                f"--key {self.expression!r}: column {field!r} is {values.type}, which cannot be "
                "formatted as text; use text, number, boolean or time columns"
            ) from None

    def _format_rows(self, batch: pa.RecordBatch | pa.Table) -> pa.Array:
        """The slow path, for fields with a format spec or conversion (``{id:05d}``).

        A field's value is its text, as without a spec (``true``, ``1``, ``1.5``, bytes as
        UTF-8); a conversion applies to that text (``{c!s}`` is ``{c}``, ``{c!r}`` quotes
        it). A spec formats a number or a time as itself (``{id:05d}``, ``{ts:%Y-%m}``) and
        any other value as its text (``{flag:>5}`` gives `` true``)."""
        texts = {name: text_values(self._text(batch, name)) for name in self.columns}
        natives: dict[str, list] = {}
        for _, field, spec, conversion in self.parts:
            if field is not None and spec and not conversion and field not in natives:
                values = batch.column(field)
                kind = (
                    values.type.value_type if pa.types.is_dictionary(values.type) else values.type
                )
                if _formats_natively(kind):
                    natives[field] = values.to_pylist()
        formatter = string.Formatter()
        out: list[str | None] = []
        for row in range(batch.num_rows):
            text = []
            for literal, field, spec, conversion in self.parts:
                text.append(literal)
                if field is None:
                    continue
                value = texts[field][row]
                if value is None:
                    if not self.null_field_as_empty:
                        text = None
                        break
                    value = ""
                elif conversion:
                    value = formatter.convert_field(value, conversion)
                elif field in natives:
                    value = natives[field][row]
                try:
                    formatted = format(value, spec or "")
                except (ValueError, TypeError, OverflowError) as error:  # '{id:c}' of -1
                    raise UsageError(
                        f"--key {self.expression!r}: cannot format {value!r} with "
                        f"'{{{field}:{spec}}}': {error}"
                    ) from None
                text.append(formatted)
            out.append(None if text is None else "".join(text))
        try:
            return pa.array(out, type=pa.string())
        except UnicodeEncodeError:  # a lone surrogate (from the text, or '{id:c}' of 55296):
            # kept as generalized UTF-8, written as each client's runtime writes it
            return pa.array(
                [None if key is None else key.encode("utf-8", "surrogatepass") for key in out],
                pa.binary(),
            ).view(pa.string())


def _formats_natively(kind: pa.DataType) -> bool:
    """Whether a template's format spec applies to a column's values as they are: numbers
    and times (``{id:05d}``, ``{ts:%Y-%m-%d}``); other values are formatted as text."""
    return (
        pa.types.is_integer(kind)
        or pa.types.is_floating(kind)
        or pa.types.is_decimal(kind)
        or pa.types.is_temporal(kind)
    )


def _as_text(values: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """A column as large_string text (one type, so template pieces always join)."""
    if pa.types.is_dictionary(values.type):
        values = values.cast(values.type.value_type)
    if pa.types.is_large_string(values.type):
        return values
    return values.cast(pa.large_string())  # numbers as decimal text; invalid UTF-8 raises


def parse_design(expression: str, *, null_field_as_empty: bool = False) -> KeyDesign:
    """Parse ``--key``: a column name, or a template such as ``'{region}:{customer_id}'``.

    >>> parse_design("{region}:{customer_id}").columns
    ('region', 'customer_id')
    >>> parse_design("customer_id").is_column
    True
    """
    if not isinstance(expression, str) or not expression.strip():
        raise UsageError(f"--key must be a column name or a template; got {expression!r}")
    if not is_utf8(expression):  # bytes of argv that are not UTF-8 (surrogate escapes)
        raise UsageError(f"--key {expression!r} is not valid UTF-8")
    if "{" not in expression and "}" not in expression:
        return KeyDesign(expression, (("", expression, "", None),), null_field_as_empty, False)
    try:
        parsed = list(string.Formatter().parse(expression))
    except ValueError as error:
        raise UsageError(f"--key {expression!r} is not a valid template: {error}") from None
    parts = []
    for literal, field, spec, conversion in parsed:
        if field is not None and (field == "" or field.isdigit()):
            raise UsageError(
                f"--key {expression!r}: every {{}} must name a column, e.g. '{{customer_id}}'"
            )
        widths = [int(digits) for digits in re.findall(r"\d+", spec or "")]
        if widths and max(widths) > MAX_KEY_WIDTH:
            raise UsageError(
                f"--key {expression!r}: a width or precision of {max(widths)} in "
                f"{{{field}:{spec}}} is more than a key can hold (at most {MAX_KEY_WIDTH:,})"
            )
        if conversion is not None and conversion not in "rsa":
            raise UsageError(
                f"--key {expression!r}: unknown conversion '!{conversion}' in {{{field}}}; "
                "use !s, !r or !a"
            )
        parts.append((literal, field, spec or "", conversion))
    if not any(field for _, field, _, _ in parts):
        raise UsageError(f"--key {expression!r} names no column; use '{{column}}' fields")
    return KeyDesign(expression, tuple(parts), null_field_as_empty)
