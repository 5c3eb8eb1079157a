"""BIND (named) query logs: query lines, response-log lines and query errors, with or without
syslog headers (also as Infoblox NIOS sends them)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, tzinfo
from typing import IO, Any

import pyarrow as pa

from lamsach.logs.formats import LogFormat, ReadContext, ReadStats
from lamsach.logs.formats._columnar import (
    host_expr,
    ip_series,
    port_expr,
    python_only_spaces,
    read_chunks,
)
from lamsach.logs.formats._rows import (
    RowBuffer,
    clean_host,
    head_without_bom,
    ip_or_none,
    ips_in,
    local_zone,
    syslog_year,
    to_port,
)
from lamsach.logs.formats._syslog import MONTHS, parse_iso, strip_syslog, to_micros
from lamsach.logs.schema import batch_from_columns

COLUMNS = (
    "time",
    "src_ip",
    "src_port",
    "dst_ip",
    "proto",
    "host",
    "answers",
    "action",
    "log_type",
    "line",
)

# named's own stamp ("print-time"): "07-Apr-2022 08:08:10.043" or ISO 8601.
_BIND_TIME = re.compile(
    r"(?:(\d{1,2})-([A-Z][a-z]{2})-(\d{4}) (\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?"
    r"|(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})?)) "
)
_CLIENT = re.compile(
    r"client (?:@0x[0-9a-fA-F]+ )?([0-9A-Fa-f.:]+)#(\d+)(?: \([^)]*\))?:? (?:view [^:]+: )?"
)
_QUERY = re.compile(r"query: (\S+) (\S+) (\S+) (\S*) \(([^)]*)\)")
_RESPONSE = re.compile(r"(UDP|TCP): query: (\S+) (\S+) (\S+) response: ([A-Z]+)(?: (\S*))?(.*)")
_REWRITE = re.compile(r"rewriting query name '([^']+)'")
_FAILED = re.compile(r"query failed \(([^)]+)\) for (\S+?)/[^/\s]+/\S+")
# A line of named's own query log file, the bulk of a busy resolver's log, read by column.
_PLAIN_QUERY = (
    r"^(\d{1,2}-[A-Z][a-z]{2}-\d{4} \d{2}:\d{2}:\d{2}(?:\.\d{1,6})?) (?:[\w-]+: ){0,2}"
    r"client (?:@0x[0-9a-fA-F]+ )?([0-9A-Fa-f.:]+)#(\d+)(?: \([^)]*\))?:? (?:view [^:]+: )?"
    r"query: (\S+) \S+ \S+ (\S*) \(([^)]*)\)"
)
# An RR starts at a word start: without the look-behind, findall would retry inside long words.
_RR_ADDRESS = re.compile(r"(?<!\S)\S+ \d+ IN (?:A|AAAA) ([0-9A-Fa-f.:]+);")


def _own_time(message: str, zone: tzinfo) -> int | None:
    """named's own timestamp before "client", after any category prefix ("queries: info:");
    it is local time, in ``zone``."""
    match = _BIND_TIME.search(message, 0, max(0, message.find("client ")))
    if match is None:
        return None
    day, mon, year, hh, mm, ss, frac, iso = match.groups()
    if iso is not None:
        return to_micros(parse_iso(iso, zone))
    month = MONTHS.get(mon)
    if month is None:
        return None
    try:
        stamp = datetime(
            int(year),
            month,
            int(day),
            int(hh),
            int(mm),
            int(ss),
            int(frac.ljust(6, "0")) if frac else 0,
            tzinfo=zone,
        )
    except ValueError:
        return None
    return to_micros(stamp)


def _parse(message: str) -> tuple[Any, ...] | str | None:
    """(client, port, server, proto, name, answers, action) of a query-log message; a skip reason
    when it is a query line that cannot be read; None for any other named message."""
    client = _CLIENT.search(message)
    if client is None:
        return None
    rest = message[client.end() :]
    src, sport = ip_or_none(client.group(1)), to_port(client.group(2))
    query = _QUERY.match(rest)
    if query is not None:
        name, _qclass, _qtype, flags, server = query.groups()
        proto = "tcp" if "T" in flags else "udp"
        return src, sport, ip_or_none(server), proto, clean_host(name), None, None
    response = _RESPONSE.match(rest)
    if response is not None:
        proto, name, _qclass, _qtype, rcode, _flags, records = response.groups()
        answers = ips_in(_RR_ADDRESS.findall(records)) if records else None
        return src, sport, None, proto.lower(), clean_host(name), answers, rcode
    failed = _FAILED.match(rest)
    if failed is not None:
        rcode, name = failed.groups()
        return src, sport, None, None, clean_host(name), None, rcode
    rewrite = _REWRITE.match(rest)
    if rewrite is not None:  # a response policy zone (RPZ) answered instead of the real data
        return src, sport, None, None, clean_host(rewrite.group(1)), None, "rpz-rewrite"
    if rest.startswith(("query:", "UDP: query:", "TCP: query:", "query failed")):
        return "unreadable query line"
    return None


def _line_row(
    line: str, line_no: int, stats: ReadStats, year: int | None, zone: tzinfo
) -> tuple[Any, ...] | None:
    if not line.strip():
        return None
    stamp, _host, _program, message = strip_syslog(line, year, zone)
    parsed = _parse(message)
    if parsed is None:
        stats.skip("ignored: not a query, response or query-error line", line_no)
        return None
    if isinstance(parsed, str):
        stats.skip(parsed, line_no)
        return None
    when = _own_time(message, zone)
    if when is None:
        when = to_micros(stamp)
    src, sport, server, proto, name, answers, action = parsed
    return (when, src, sport, server, proto, name, answers, action, "dns", line_no)


def _fast_chunk(
    lines: list[str], first_line: int, ctx: ReadContext, year: int | None, zone: tzinfo
) -> pa.Table | None:
    """Plain query-log lines (named's own stamp, no syslog header) read by column with one
    polars regex; every other line of the chunk goes through the per-line parser."""
    import polars as pl  # here: detecting a format must not load polars

    text = pl.Series("text", lines, dtype=pl.String)
    if python_only_spaces(text):
        return None
    frame = text.str.extract_groups(_PLAIN_QUERY).struct.unnest().with_row_index("index")
    stamp, client, port, name, flags, server = frame.columns[1:]
    plain = frame.filter(pl.col(stamp).is_not_null())
    others = frame.filter(pl.col(stamp).is_null()).get_column("index").to_list()
    times = {text: _own_time(text + " client ", zone) for text in plain.get_column(stamp).unique()}
    plain = plain.with_columns(
        ip_series(plain.get_column(client)), ip_series(plain.get_column(server))
    )
    out = plain.select(
        pl.col(stamp).replace_strict(times, default=None, return_dtype=pl.Int64).alias("time"),
        pl.col(client).alias("src_ip"),
        port_expr(pl.col(port)).alias("src_port"),
        pl.col(server).alias("dst_ip"),
        pl.when(pl.col(flags).str.contains("T", literal=True))
        .then(pl.lit("tcp"))
        .otherwise(pl.lit("udp"))
        .alias("proto"),
        host_expr(pl.col(name)).alias("host"),
        (pl.col("index").cast(pl.Int64) + first_line).alias("line"),
    )
    columns: dict[str, Any] = {column: out.get_column(column).to_arrow() for column in out.columns}
    columns["log_type"] = pa.array(["dns"] * out.height)
    columns["file"] = pa.array([ctx.file] * out.height)
    tables = [pa.Table.from_batches([batch_from_columns(columns, out.height)])]
    rows = [
        row
        for index in others
        if (row := _line_row(lines[index], first_line + index, ctx.stats, year, zone))
    ]
    if rows:
        buffer = RowBuffer(ctx, COLUMNS)
        buffer.rows = rows
        tables.append(pa.Table.from_batches([buffer.flush()]))
    return pa.concat_tables(tables).sort_by("line")


def read_lines(stream: IO[Any], ctx: ReadContext, fast: bool = True) -> Iterator[pa.RecordBatch]:
    """Batches of a query log; ``fast`` reads plain query lines by column first."""
    year = syslog_year(ctx)
    zone = local_zone(ctx)

    def rows_of(lines: list[str], first_line: int) -> Iterator[tuple[Any, ...]]:
        for line_no, line in enumerate(lines, first_line):
            if (row := _line_row(line, line_no, ctx.stats, year, zone)) is not None:
                yield row

    by_column = (lambda lines, first: _fast_chunk(lines, first, ctx, year, zone)) if fast else None
    return read_chunks(stream, ctx, COLUMNS, rows_of, by_column)


def read(stream: IO[Any], ctx: ReadContext) -> Iterator[pa.RecordBatch]:
    return read_lines(stream, ctx)


def sniff(head: list[str]) -> bool:
    head = head_without_bom(head)
    return any(isinstance(_parse(strip_syslog(line).message), tuple) for line in head)


FORMAT = LogFormat(
    name="bind",
    description="BIND named query log (queries, responses, query-errors; plain or via syslog)",
    sniff=sniff,
    read=read,
    priority=30,
    splittable=True,
)
