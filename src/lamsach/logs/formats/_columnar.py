"""Reading logs a chunk of lines at a time by column (Arrow's parsers, polars expressions).

A format's column reader takes a chunk it can read exactly and gives the same rows as its
per-line reader; any other chunk (or line) goes to the per-line reader, so that bad lines are
counted with their numbers as usual. Here: the chunking, Arrow's JSON reading, and the column
forms of the per-line value clean-ups in ``_rows``.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable, Iterator
from typing import IO, TYPE_CHECKING, Any, ParamSpec, TypeVar

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj

from lamsach.logs.formats import ReadContext
from lamsach.logs.formats._rows import MAX_MICROS, MIN_MICROS, RowBuffer, ip_or_none

if TYPE_CHECKING:
    import polars as pl

MAX_CHUNK_CHARS = 32 * 1024 * 1024
_MAX_NESTING = 1000
_NEST_SAFE_CHARS = 4 * _MAX_NESTING  # a shorter line cannot nest that deep
# Approximate: used to drop names (CNAME targets) from answer lists written by the engines
# themselves, whose addresses are well-formed.
IP_PATTERN = r"^(?:\d{1,3}\.){3}\d{1,3}$|^[0-9A-Fa-f.]*:[0-9A-Fa-f:.]*$"


# Python's str.strip() and split(), and \s in its regexes, take these for white space (the
# Unicode White_Space characters and \x1c-\x1f, which Unicode calls separators); polars' Rust
# regexes and strip_chars() do not count \x1c-\x1f. Column readers strip with this set, and
# leave chunks holding one of those four to the per-line reader.
PYTHON_WHITESPACE = "".join(c for c in map(chr, range(0x3001)) if c.isspace())
_RUST_NON_SPACE = r"[\x1c-\x1f]"

T = TypeVar("T")
P = ParamSpec("P")


def python_only_spaces(text: pl.Series) -> bool:
    """Whether a chunk's lines hold white space that only Python's regexes take for it."""
    return bool(text.str.contains(_RUST_NON_SPACE).any())


def attempt(reader: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T | None:
    """The column reader's result, or None when it fails in any way: the chunk is then read
    per line, which copes with whatever the data holds (and counts what it cannot read).
    Column readers record skips only once they cannot fail any more, so none is counted twice.
    """
    try:
        return reader(*args, **kwargs)
    except Exception:
        return None


# A column reader reads a chunk of lines (with its first line number) exactly, or gives None;
# a row reader gives the canonical row tuples of a chunk line by line, counting what it skips.
ColumnReader = Callable[[list[str], int], "pa.Table | pa.RecordBatch | None"]
RowReader = Callable[[list[str], int], Iterable[tuple[Any, ...]]]


def read_chunks(
    stream: IO[Any],
    ctx: ReadContext,
    columns: tuple[str, ...],
    rows_of: RowReader,
    by_column: ColumnReader | None = None,
) -> Iterator[pa.RecordBatch]:
    """The read loop of a format with both readers: each chunk of lines is read by column when
    ``by_column`` can read it exactly, and line by line otherwise."""
    buffer = RowBuffer(ctx, columns)
    for first_line, lines in chunks(stream, buffer.size):
        read = attempt(by_column, lines, first_line) if by_column is not None else None
        if read is not None:
            batches = read.to_batches() if isinstance(read, pa.Table) else [read]
            yield from (batch for batch in batches if batch.num_rows)
            continue
        buffer.rows = list(rows_of(lines, first_line))
        if buffer.rows:
            yield buffer.flush()


def chunks(
    stream: IO[Any], size: int, max_chars: int = MAX_CHUNK_CHARS
) -> Iterator[tuple[int, list[str]]]:
    """Lists of up to ``size`` lines (and about ``max_chars`` characters: alerts with payloads
    make long lines), with the 1-based number of each list's first line."""
    first = 1
    lines: list[str] = []
    chars = 0
    for line in stream:
        if first == 1 and not lines:
            line = line.removeprefix("\ufeff")  # a byte-order mark, as Windows tools write
        lines.append(line)
        chars += len(line)
        if len(lines) >= size or chars >= max_chars:
            yield first, lines
            first += len(lines)
            lines, chars = [], 0
    if lines:
        yield first, lines


def arrow_table(lines: list[str]) -> pa.Table | None:
    """The chunk as an Arrow table with one row per line, or None if Arrow cannot be sure of
    that (any line not a lone JSON object, a parse error, a type conflict)."""
    for line in lines:
        if line[:1] != "{" or line.rstrip()[-1:] != "}":
            return None
        # Arrow's reader crashes the process on objects nested some 20,000 deep (pyarrow 26);
        # such a hostile line goes to json.loads, which refuses it cleanly.
        if len(line) > _NEST_SAFE_CHARS and line.count("{") + line.count("[") > _MAX_NESTING:
            return None
    try:
        table = pj.read_json(io.BytesIO("".join(lines).encode("utf-8", "replace")))
    except pa.ArrowException:
        return None
    return table if table.num_rows == len(lines) else None


def micros_of(column: pa.ChunkedArray) -> pa.Array | None:
    """Epoch seconds (numbers) or ISO 8601 text as microseconds (null outside years 1-9999,
    as ``micros_in_range``); None if neither."""
    array = column.combine_chunks()
    try:
        if pa.types.is_floating(array.type) or pa.types.is_integer(array.type):
            micros = pc.round(pc.multiply(array.cast(pa.float64()), 1e6)).cast(pa.int64())
        elif pa.types.is_string(array.type) or pa.types.is_timestamp(array.type):
            micros = array.cast(pa.timestamp("us", tz="UTC")).cast(pa.int64())
        else:
            return None
    except pa.ArrowException:
        return None
    inside = pc.and_(pc.greater_equal(micros, MIN_MICROS), pc.less_equal(micros, MAX_MICROS))
    return pc.if_else(inside, micros, pa.scalar(None, pa.int64()))


def _field_type(schema: pa.Schema, path: tuple[str, ...]) -> pa.DataType | None:
    """The type of a nested field (through structs and lists of structs), None if absent."""
    if path[0] not in schema.names:
        return None
    kind = schema.field(path[0]).type
    for name in path[1:]:
        if pa.types.is_list(kind) or pa.types.is_large_list(kind):
            kind = kind.value_type
        if not pa.types.is_struct(kind) or kind.get_field_index(name) < 0:
            return None
        kind = kind.field(name).type
    return kind


def has_boolean(schema: pa.Schema, *paths: tuple[str, ...]) -> bool:
    """Whether a field read as a number is true/false in this chunk: the per-line reader takes
    a boolean for no number, a cast would take it for 0 or 1."""
    return any(
        (kind := _field_type(schema, path)) is not None and pa.types.is_boolean(kind)
        for path in paths
    )


def has_non_text(schema: pa.Schema, *paths: tuple[str, ...]) -> bool:
    """Whether a field read as text holds something else in this chunk (a number, a list):
    the per-line reader takes it for no value, a cast would turn it into text."""
    return any(
        (kind := _field_type(schema, path)) is not None
        and not (pa.types.is_string(kind) or pa.types.is_null(kind))
        for path in paths
    )


def port_expr(expr: pl.Expr) -> pl.Expr:
    """``to_port`` as a column expression: an integer from 0 to 65535, else null."""
    import polars as pl  # here: detecting a format must not load polars

    number = expr.cast(pl.Int64, strict=False)
    return pl.when((number >= 0) & (number <= 65535)).then(number).cast(pl.Int32)


def host_expr(expr: pl.Expr) -> pl.Expr:
    """The per-line ``clean_host`` as a column expression: trimmed, no trailing dot, lower."""
    import polars as pl  # here: detecting a format must not load polars

    cleaned = expr.str.strip_chars(PYTHON_WHITESPACE).str.strip_chars_end(".").str.to_lowercase()
    return pl.when(cleaned != "").then(cleaned)


def ips_expr(expr: pl.Expr) -> pl.Expr:
    """Only the addresses of a list of answer values; null when none is left."""
    import polars as pl  # here: detecting a format must not load polars

    kept = expr.list.eval(pl.element().filter(pl.element().str.contains(IP_PATTERN)))
    return pl.when(kept.list.len() > 0).then(kept)


_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
IPV4_FULL = rf"^{_OCTET}(?:\.{_OCTET}){{3}}$"


def answers_as_read(answers: pl.Series) -> bool:
    """Whether every value in a column of answer lists is an address as ``ip_or_none`` writes it
    (IPv4, IPv6 compressed): the per-line reader keeps just those."""
    values = answers.explode().drop_nulls().unique()
    return bool(ip_series(values).eq_missing(values).all())


def ip_series(values: pl.Series) -> pl.Series:
    """``ip_or_none`` over a column: dotted quads checked by regex, only the (few distinct)
    other values in Python."""
    import polars as pl  # here: detecting a format must not load polars

    others = values.filter(~values.str.contains(r"^[0-9.]+$")).unique().drop_nulls()
    mapping = {text: ip_or_none(text) for text in others}
    return (
        pl.select(
            pl.when(values.str.contains(r"^[0-9.]+$"))
            .then(pl.when(values.str.contains(IPV4_FULL)).then(values))
            .otherwise(values.replace_strict(mapping, default=None, return_dtype=pl.String))
        )
        .to_series()
        .alias(values.name)
    )
