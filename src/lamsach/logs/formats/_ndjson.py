"""Reading JSON-lines logs a chunk at a time with Arrow's C++ parser, for the JSON formats.

Arrow parses a clean chunk several times faster than ``json.loads`` per line; a chunk it cannot
take exactly (a blank or broken line, a field changing type) goes to the format's per-line
reader instead, so that bad lines are counted with their numbers as usual.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from itertools import islice
from typing import IO, Any

import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj

# Approximate: used to drop names (CNAME targets) from answer lists written by the engines
# themselves, whose addresses are well-formed.
IP_PATTERN = r"^(?:\d{1,3}\.){3}\d{1,3}$|^[0-9A-Fa-f.]*:[0-9A-Fa-f:.]*$"


def chunks(stream: IO[Any], size: int) -> Iterator[tuple[int, list[str]]]:
    """Lists of up to ``size`` lines, with the 1-based number of each list's first line."""
    first = 1
    while True:
        lines = list(islice(stream, size))
        if not lines:
            return
        if first == 1:
            lines[0] = lines[0].removeprefix("\ufeff")  # a byte-order mark, as Windows tools write
        yield first, lines
        first += len(lines)


def arrow_table(lines: list[str]) -> pa.Table | None:
    """The chunk as an Arrow table with one row per line, or None if Arrow cannot be sure of
    that (any line not a lone JSON object, a parse error, a type conflict)."""
    for line in lines:
        if line[:1] != "{" or line.rstrip()[-1:] != "}":
            return None
    try:
        table = pj.read_json(io.BytesIO("".join(lines).encode("utf-8", "replace")))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    return table if table.num_rows == len(lines) else None


def micros_of(column: pa.ChunkedArray) -> pa.Array | None:
    """Epoch seconds (numbers) or ISO 8601 text as microseconds; None if neither."""
    array = column.combine_chunks()
    try:
        if pa.types.is_floating(array.type) or pa.types.is_integer(array.type):
            return pc.round(pc.multiply(array.cast(pa.float64()), 1e6)).cast(pa.int64())
        if pa.types.is_string(array.type) or pa.types.is_timestamp(array.type):
            return array.cast(pa.timestamp("us", tz="UTC")).cast(pa.int64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    return None


def host_expr(expr: pl.Expr) -> pl.Expr:
    """The per-line ``clean_host`` as a column expression: trimmed, no trailing dot, lower."""
    cleaned = expr.str.strip_chars().str.strip_chars_end(".").str.to_lowercase()
    return pl.when(cleaned != "").then(cleaned)


def ips_expr(expr: pl.Expr) -> pl.Expr:
    """Only the addresses of a list of answer values; null when none is left."""
    kept = expr.list.eval(pl.element().filter(pl.element().str.contains(IP_PATTERN)))
    return pl.when(kept.list.len() > 0).then(kept)
