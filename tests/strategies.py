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


# ----------------------------------------------------------------------- keys with a schema
#: Text as the serializers take it: any code points but lone surrogates (which Python's
#: UTF-8 encoder, and so every Python serializer, refuses).
schema_text = st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=20)

_AVRO_LEAVES = ["boolean", "int", "long", "float", "double", "bytes", "string", "uuid", "date",
                "time-millis", "time-micros", "timestamp-millis", "timestamp-micros",
                "local-timestamp-millis", "decimal", "fixed-decimal", "enum", "fixed",
                "union-null", "union-two"]  # fmt: skip
_AVRO_UNION_PAIRS = [("long", "string"), ("string", "bytes"), ("int", "long"),
                     ("float", "double"), ("boolean", "double"), ("double", "string"),
                     ("string", "long")]  # fmt: skip


@st.composite
def avro_schemas(draw, depth: int = 0, names: list | None = None) -> object:
    """An Avro schema of any supported type: primitives, logical types, records, enums,
    fixed, arrays, maps and unions, nested up to three levels (names unique)."""
    names = [] if names is None else names

    def name() -> str:
        names.append(f"T{len(names)}")
        return names[-1]

    kinds = list(_AVRO_LEAVES)
    if depth < 3:
        kinds += ["record", "record", "array", "map", "union-record"]
    kind = draw(st.sampled_from(kinds))
    if kind in ("boolean", "int", "long", "float", "double", "bytes", "string"):
        return kind
    if kind == "uuid":
        return {"type": "string", "logicalType": "uuid"}
    if kind == "date":
        return {"type": "int", "logicalType": "date"}
    if kind in ("time-millis", "time-micros"):
        return {"type": "int" if kind == "time-millis" else "long", "logicalType": kind}
    if "timestamp" in kind:
        return {"type": "long", "logicalType": kind}
    if kind in ("decimal", "fixed-decimal"):
        precision = draw(st.integers(1, 30))
        schema = {"type": "bytes", "logicalType": "decimal", "precision": precision,
                  "scale": draw(st.integers(0, precision))}  # fmt: skip
        if kind == "fixed-decimal":  # room for any value of the precision, sign included
            size = (int("9" * precision).bit_length() + 8) // 8
            schema.update(type="fixed", name=name(), size=draw(st.integers(size, 16)))
        return schema
    if kind == "enum":
        symbols = draw(st.lists(st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,5}", fullmatch=True),
                                min_size=1, max_size=5, unique=True))  # fmt: skip
        return {"type": "enum", "name": name(), "symbols": symbols}
    if kind == "fixed":
        return {"type": "fixed", "name": name(), "size": draw(st.integers(0, 8))}
    if kind == "union-null":
        inner = draw(avro_schemas(3, names))
        if isinstance(inner, list):
            return inner
        return ["null", inner] if draw(st.booleans()) else [inner, "null"]
    if kind == "union-two":
        return list(draw(st.sampled_from(_AVRO_UNION_PAIRS)))
    if kind == "array":
        return {"type": "array", "items": draw(avro_schemas(depth + 1, names))}
    if kind == "map":
        return {"type": "map", "values": draw(avro_schemas(depth + 1, names))}
    fields = draw(st.lists(st.from_regex(r"[a-z][a-z0-9_]{0,6}", fullmatch=True),
                           min_size=1, max_size=4, unique=True))  # fmt: skip
    record = {"type": "record", "name": name(),
              "fields": [{"name": f, "type": draw(avro_schemas(depth + 1, names))}
                         for f in fields]}  # fmt: skip
    return ["null", record] if kind == "union-record" else record


def avro_values(schema: object, named: dict | None = None) -> st.SearchStrategy:
    """Values of an Avro schema from :func:`avro_schemas`, as Python callers pass them to
    confluent-kafka's ``AvroSerializer`` (datetimes, dates, UUIDs, Decimals, dicts)."""
    import datetime
    import decimal

    named = {} if named is None else named
    if isinstance(schema, list):
        return st.one_of([avro_values(branch, named) for branch in schema])
    if isinstance(schema, str):
        if schema in named:
            return avro_values(named[schema], named)
        return {
            "null": st.none(), "boolean": st.booleans(), "bytes": st.binary(max_size=20),
            "string": schema_text, "int": st.integers(-(2**31), 2**31 - 1),
            "long": st.integers(-(2**63), 2**63 - 1), "float": st.floats(width=32),
            "double": st.floats(),
        }[schema]  # fmt: skip
    kind, logical = schema["type"], schema.get("logicalType")
    if "name" in schema:
        named[schema["name"]] = schema
    if logical == "uuid":
        return st.uuids()
    if logical == "date":
        return st.dates()
    if logical in ("time-millis", "time-micros"):
        return st.times()
    if logical in ("timestamp-millis", "timestamp-micros"):
        return st.datetimes(timezones=st.just(datetime.timezone.utc))
    if logical == "local-timestamp-millis":
        return st.datetimes()
    if logical == "decimal":
        precision, scale = schema["precision"], schema["scale"]

        def as_decimal(unscaled: int) -> decimal.Decimal:
            return decimal.Decimal(unscaled).scaleb(-scale, decimal.Context(prec=100))

        unscaled = st.integers(-(10**precision) + 1, 10**precision - 1)
        if kind == "bytes":  # fastavro writes one byte more than Java's BigInteger for
            # -2**(8k-1); tests/test_schema_keys.py checks those values apart
            unscaled = unscaled.filter(lambda u: not _minus_power_of_256(u))
        return unscaled.map(as_decimal)
    if kind == "enum":
        return st.sampled_from(schema["symbols"])
    if kind == "fixed":
        return st.binary(min_size=schema["size"], max_size=schema["size"])
    if kind == "array":
        return st.lists(avro_values(schema["items"], named), max_size=3)
    if kind == "map":
        return st.dictionaries(schema_text, avro_values(schema["values"], named), max_size=3)
    return st.fixed_dictionaries(
        {entry["name"]: avro_values(entry["type"], named) for entry in schema["fields"]}
    )


def _minus_power_of_256(unscaled: int) -> bool:
    """-2**(8k-1): the values whose two's complement fastavro writes one byte longer."""
    magnitude = -unscaled
    return unscaled < 0 and magnitude & (magnitude - 1) == 0 and magnitude.bit_length() % 8 == 0
