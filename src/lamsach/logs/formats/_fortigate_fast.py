"""FortiGate key=value lines read by column: the pairs of a chunk split out by one polars regex,
and the per-line rules of ``fortigate`` as column expressions.

Only lines on which Python's and polars' regexes cannot differ are taken (printable ASCII, no
backslash), and of those the traffic and web filter logs; the rest of the chunk (DNS logs,
escapes, text in other scripts) goes through the per-line reader.
"""

from __future__ import annotations

from datetime import tzinfo
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from lamsach.logs.formats import ReadContext
from lamsach.logs.formats._columnar import IPV4_FULL, PYTHON_WHITESPACE
from lamsach.logs.formats._netfields import canonical_ip, proto_name
from lamsach.logs.formats._rows import RowBuffer
from lamsach.logs.formats.fortigate import COLUMNS, KeyValues, event_time, line_row
from lamsach.logs.schema import batch_from_columns

if TYPE_CHECKING:
    import polars as pl

# fortigate's pair pattern as it reads the lines taken here (ASCII, no backslash): the same
# matches, found faster.
_PAIR = r'[A-Za-z_][A-Za-z0-9_-]*=(?:"[^"]*"|[^ \t"]*)'
_KEYS = (
    "type", "subtype", "srcip", "dstip", "srcport", "dstport", "proto", "hostname", "url",
    "service", "sentbyte", "rcvdbyte", "action", "utmaction", "eventtime", "date", "time", "tz",
)  # fmt: skip
_WANTED = f"^(?:{'|'.join(_KEYS)})="
_DIGITS = r"^[0-9]+$"
# Byte counts of more digits than this are summed per line: the sum of two may not fit 64 bits.
_COUNTS = ("sentbyte", "rcvdbyte")
_MAX_DIGITS = 18


def fast_chunk(lines: list[str], first_line: int, ctx: ReadContext, zone: tzinfo) -> pa.Table:
    """The chunk's rows, those of its simple traffic and web filter lines read by column."""
    import polars as pl  # here: detecting a format must not load polars

    text = pl.Series("text", lines, dtype=pl.String).str.strip_chars_end("\r\n")
    frame = pl.DataFrame({"text": text}).with_row_index("index")
    blank = text.str.strip_chars(PYTHON_WHITESPACE) == ""
    simple = ~text.str.contains(r"[^\t\x20-\x5b\x5d-\x7e]")  # printable ASCII but \\
    fields = _fields(frame.filter(simple & ~blank))
    kind = _unquoted("type")
    traffic = kind.is_in(["traffic", "utm"]) & ~((kind == "utm") & (_unquoted("subtype") == "dns"))
    counts = [_unquoted(k).str.len_bytes().fill_null(0) <= _MAX_DIGITS for k in _COUNTS]
    taken = fields.filter(traffic & pl.all_horizontal(counts))
    skips: list[tuple[int, str]] = []
    skips += [(i, "not a FortiGate log") for i in fields.filter(kind.is_null())["index"]]
    ignored = fields.filter(kind.is_not_null() & ~kind.is_in(["traffic", "utm"]))
    skips += [(i, "ignored: not traffic") for i in ignored["index"]]
    done = set(taken["index"].to_list()) | {i for i, _ in skips}
    done |= set(frame.filter(blank)["index"].to_list())

    out = _rows(taken, zone)
    without = out.filter(pl.col("src_ip").is_null() & pl.col("dst_ip").is_null())
    skips += [(i, "no addresses") for i in without["index"]]
    out = out.filter(pl.col("src_ip").is_not_null() | pl.col("dst_ip").is_not_null())
    columns: dict[str, Any] = {
        name: out.get_column(name).to_arrow() for name in COLUMNS if name != "line"
    }
    columns["line"] = (out.get_column("index").cast(pl.Int64) + first_line).to_arrow()
    columns["file"] = pa.array([ctx.file] * out.height, pa.string())
    tables = [pa.Table.from_batches([batch_from_columns(columns, out.height)])]

    rows = []
    for index in range(len(lines)):
        if index not in done:
            row = line_row(lines[index].rstrip("\r\n"), first_line + index, zone)
            if isinstance(row, str):
                skips.append((index, row))
            else:
                rows.append(row)
    if rows:
        buffer = RowBuffer(ctx, COLUMNS)
        buffer.rows = rows
        tables.append(pa.Table.from_batches([buffer.flush()]))
    for index, reason in sorted(skips):  # counted last: nothing can fail any more
        ctx.stats.skip(reason, first_line + index)
    return pa.concat_tables(tables).sort_by("line")


def _fields(frame: pl.DataFrame) -> pl.DataFrame:
    """One row per line, one column per key read, holding its raw value (quotes kept): the last
    of the line's pairs with that key, as a dict built from them keeps."""
    import polars as pl

    pairs = frame.select("index", pl.col("text").str.extract_all(_PAIR).alias("pair"))
    pairs = pairs.explode("pair").filter(pl.col("pair").str.contains(_WANTED))
    equals = pl.col("pair").str.find("=", literal=True)
    pairs = pairs.select(
        "index",
        pl.col("pair").str.slice(0, equals).alias("key"),
        pl.col("pair").str.slice(equals + 1).alias("value"),
    )
    wide = pairs.group_by("index", maintain_order=True).agg(
        pl.col("value").filter(pl.col("key") == key).last().alias(key) for key in _KEYS
    )
    # Lines with no pair read at all are not FortiGate logs: they stay, with every key null.
    return frame.select("index").join(wide, on="index", how="left", maintain_order="left")


def _unquoted(key: str) -> pl.Expr:
    """``KeyValues.get``: a quoted value without its quotes (these lines hold no escapes)."""
    import polars as pl

    raw = pl.col(key)
    return (
        pl.when(raw.str.starts_with('"'))
        .then(raw.str.slice(1, raw.str.len_chars() - 2))
        .otherwise(raw)
    )


def _rows(taken: pl.DataFrame, zone: tzinfo) -> pl.DataFrame:
    """``to_row`` of the taken lines, as columns (with ``index``)."""
    import polars as pl

    value = _unquoted

    def text(key: str) -> pl.Expr:
        return value(key).fill_null("")

    def number(key: str) -> pl.Expr:
        # ascii_int: ASCII digits only, else None (past 64 bits too: no port, nor plain epoch).
        return pl.when(text(key).str.contains(_DIGITS)).then(text(key).cast(pl.Int64, strict=False))

    def port(key: str) -> pl.Expr:
        n = number(key)
        return pl.when(n <= 65_535).then(n).cast(pl.Int32)

    host_raw = value("hostname")
    has_host = host_raw.is_not_null() & (host_raw != "")
    url = value("url")
    has_url = url.is_not_null() & (url != "")
    https = text("service").str.to_uppercase() == "HTTPS"
    scheme = pl.when(https).then(pl.lit("https")).otherwise(pl.lit("http"))
    url_out = (
        pl.when(has_url & url.str.starts_with("/") & has_host)
        .then(pl.concat_str(scheme, pl.lit("://"), host_raw, url))
        .when(has_url & ~url.str.contains("://", literal=True))
        .then(pl.lit(None, pl.String))
        .when(has_url)
        .then(url)
    )
    host = pl.when(has_host).then(host_raw.str.to_lowercase().str.strip_chars_end("."))
    sent, received = number("sentbyte"), number("rcvdbyte")
    size = pl.when(sent.is_not_null() | received.is_not_null()).then(
        sent.fill_null(0) + received.fill_null(0)
    )
    action = value("action")
    utm_action = value("utmaction")
    epoch = number("eventtime")
    micros = (
        pl.when(epoch < 10**11)
        .then(epoch * 1_000_000)
        .when(epoch < 10**14)
        .then(epoch * 1_000)
        .when(epoch < 10**17)
        .then(epoch)
        .otherwise(epoch // 1_000)
    )
    out = taken.select(
        "index",
        micros.alias("epoch"),
        pl.concat_str(
            [pl.col(k).fill_null("\x00") for k in ("eventtime", "date", "time", "tz")],
            separator="\x01",
        ).alias("stamp"),
        value("srcip").alias("src_text"),
        port("srcport").alias("src_port"),
        value("dstip").alias("dst_text"),
        port("dstport").alias("dst_port"),
        value("proto").alias("proto_text"),
        host.alias("host"),
        url_out.alias("url"),
        pl.lit(None, pl.List(pl.String)).alias("answers"),
        size.alias("bytes"),
        pl.when(action.is_not_null() & (action != ""))
        .then(action)
        .when(utm_action.is_not_null() & (utm_action != ""))
        .then(utm_action)
        .alias("action"),
        pl.when((host.is_not_null() & (host != "")) | url_out.is_not_null())
        .then(pl.lit("http"))
        .otherwise(pl.lit("conn"))
        .alias("log_type"),
    )
    # Times without a plain epoch number, addresses but dotted quads, and protocols: few
    # distinct values, read as the per-line reader reads them.
    stamps = out.filter(pl.col("epoch").is_null()).get_column("stamp").unique().to_list()
    times = {stamp: event_time(_time_fields(stamp), zone) for stamp in stamps}
    names = out.get_column("proto_text").drop_nulls().unique().to_list()
    return out.with_columns(
        pl.coalesce(
            pl.col("epoch"),
            pl.col("stamp").replace_strict(times, default=None, return_dtype=pl.Int64),
        ).alias("time"),
        _canonical(out.get_column("src_text")).alias("src_ip"),
        _canonical(out.get_column("dst_text")).alias("dst_ip"),
        pl.col("proto_text")
        .replace_strict({t: proto_name(t) for t in names}, default=None, return_dtype=pl.String)
        .alias("proto"),
    )


def _canonical(values: pl.Series) -> pl.Series:
    """``canonical_ip`` over a column: dotted quads checked by regex, the rest in Python."""
    import polars as pl

    dotted = values.str.contains(IPV4_FULL)
    others = values.filter(~dotted).drop_nulls().unique().to_list()
    mapping = {text: canonical_ip(text) for text in others}
    canonical = values.replace_strict(mapping, default=None, return_dtype=pl.String)
    return pl.select(pl.when(dotted).then(values).otherwise(canonical)).to_series()


def _time_fields(stamp: str) -> KeyValues:
    """The raw time fields packed into ``stamp``, as the per-line reader holds them."""
    keys = ("eventtime", "date", "time", "tz")
    values = stamp.split("\x01")
    return KeyValues.of({k: v for k, v in zip(keys, values, strict=True) if v != "\x00"})
