"""Squid access.log: the native format, and the common/combined formats Squid can also write."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from typing import IO, Any
from urllib.parse import urlsplit

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
    MAX_MICROS,
    MIN_MICROS,
    RowBuffer,
    clean_host,
    head_without_bom,
    ip_or_none,
    micros_in_range,
    to_int,
    to_port,
)
from lamsach.logs.formats._syslog import to_micros
from lamsach.logs.schema import batch_from_columns

COLUMNS = (
    "time",
    "src_ip",
    "dst_ip",
    "dst_port",
    "proto",
    "host",
    "url",
    "bytes",
    "action",
    "log_type",
    "line",
)

# time elapsed client code/status bytes method URL user hierarchy/peer type
_NATIVE = re.compile(
    r"\s*(\d+(?:\.\d+)?)\s+-?\d+\s+(\S+)\s+([A-Z_]+)/(\d{3})\s+(\d+|-)\s+(\S+)\s+(\S+)"
    r"(?:\s+\S+\s+[A-Z_]+/(\S+))?"
)
# client ident user [05/Jun/2013:10:20:53 +0700] "METHOD URL HTTP/x" status bytes ... CODE:HIER
_COMMON = re.compile(
    r"(\S+) \S+ \S+ \[(\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4})\] "
    r'"([A-Z]+) (\S+)(?: [^"]*)?" (\d{3}|-) (\d+|-)(?:.*? ([A-Z_]+):([A-Z_]+))?'
)
# The targets the column reader takes; anything fancier (user info, IPv6, odd ports) is read
# per line by urlsplit.
_PLAIN_URL = r"^([A-Za-z][A-Za-z0-9+.-]{0,8})://([A-Za-z0-9._-]*)(?::([0-9]{1,5}))?(?:[/?#]|$)"
_PLAIN_CONNECT = r"^([A-Za-z0-9._-]+):([0-9]{1,5})$"
_DEFAULT_PORTS = {"http": 80, "https": 443, "ftp": 21}


def _target(method: str, target: str) -> tuple[str | None, int | None, str | None]:
    """Host, port and URL of a request target (``CONNECT host:443`` or an absolute URL)."""
    if "://" not in target[:12]:
        if method != "CONNECT":
            return None, None, None  # "/path" (intercepted) or "error:invalid-request"
        host, _, port = target.rpartition(":") if target.count(":") == 1 else (target, "", "")
        if target.startswith("["):  # [2001:db8::1]:443
            host, _, port = target[1:].partition("]:")
        return clean_host(host), to_port(port), None
    try:
        parts = urlsplit(target)
        url_port = parts.port
    except ValueError:
        return None, None, target
    return clean_host(parts.hostname), url_port or _DEFAULT_PORTS.get(parts.scheme), target


def _split_address(host: str | None, server: str | None) -> tuple[str | None, str | None]:
    """A request to an address rather than a name: the address is the server, not a host."""
    address = ip_or_none(host)
    if address is None:
        return host, server
    return None, server or address


def _native(match: re.Match[str], line_no: int) -> tuple[Any, ...]:
    stamp, client, code, _status, size, method, target, peer = match.groups()
    host, port, url = _target(method, target)
    host, server = _split_address(host, ip_or_none(peer))
    return (
        micros_in_range(round(float(stamp) * 1_000_000)),
        ip_or_none(client),
        server,
        port,
        "tcp",
        host,
        url,
        to_int(size),
        code,
        "proxy",
        line_no,
    )


def _common(match: re.Match[str], line_no: int) -> tuple[Any, ...] | None:
    client, stamp, method, target, _status, size, code, _hierarchy = match.groups()
    try:
        when = to_micros(datetime.strptime(stamp, "%d/%b/%Y:%H:%M:%S %z"))
    except ValueError:
        return None
    host, port, url = _target(method, target)
    host, server = _split_address(host, None)
    return (
        when,
        ip_or_none(client),
        server,
        port,
        "tcp",
        host,
        url,
        to_int(size),
        code,
        "proxy",
        line_no,
    )


def _line_row(line: str, line_no: int, stats: ReadStats) -> tuple[Any, ...] | None:
    if not line.strip():
        return None
    native = _NATIVE.match(line)
    row = _native(native, line_no) if native is not None else None
    if row is None:
        common = _COMMON.match(line)
        row = _common(common, line_no) if common is not None else None
    if row is None:
        stats.skip("not a Squid access.log line", line_no)
    return row


def _fast_chunk(lines: list[str], first_line: int, ctx: ReadContext) -> pa.Table | None:
    """Native lines whose target is a plain URL or ``CONNECT host:port`` read by column with
    polars regexes; every other line of the chunk goes through the per-line parser."""
    import polars as pl  # here: detecting a format must not load polars

    text = pl.Series("text", lines, dtype=pl.String)
    if python_only_spaces(text):
        return None
    frame = text.str.extract_groups("^" + _NATIVE.pattern).struct.unnest().with_row_index("index")
    stamp, client, code, _status, size, method, target, peer = frame.columns[1:]
    url = frame.get_column(target).str.extract_groups(_PLAIN_URL).struct.unnest()
    connect = frame.get_column(target).str.extract_groups(_PLAIN_CONNECT).struct.unnest()
    frame = frame.with_columns(
        url.get_column(url.columns[0]).str.to_lowercase().alias("scheme"),
        url.get_column(url.columns[1]).alias("url_host"),
        url.get_column(url.columns[2]).cast(pl.Int64).alias("url_port"),
        connect.get_column(connect.columns[0]).alias("connect_host"),
        connect.get_column(connect.columns[1]).cast(pl.Int64).alias("connect_port"),
    )
    is_connect = pl.col(method) == "CONNECT"
    absolute = pl.col(target).str.slice(0, 12).str.contains("://", literal=True)
    simple = pl.col(stamp).is_not_null() & (
        pl.when(absolute)
        .then(pl.col("scheme").is_not_null() & ~(pl.col("url_port") > 65535).fill_null(False))
        .when(is_connect)
        .then(pl.col("connect_host").is_not_null())
        .otherwise(pl.lit(True))
    )
    fast = frame.filter(simple)
    others = frame.filter(~simple).get_column("index").to_list()
    default_port = pl.col("scheme").replace_strict(
        _DEFAULT_PORTS, default=None, return_dtype=pl.Int64
    )
    host = host_expr(
        pl.when(absolute).then(pl.col("url_host")).when(is_connect).then(pl.col("connect_host"))
    )
    fast = fast.with_columns(
        host.alias("host"),
        pl.when(absolute)
        .then(pl.when(pl.col("url_port") > 0).then(pl.col("url_port")).otherwise(default_port))
        .when(is_connect)
        .then(pl.col("connect_port"))
        .alias("port"),
    )
    fast = fast.with_columns(
        ip_series(fast.get_column("host")).alias("host_ip"),
        ip_series(fast.get_column(client)),
        ip_series(fast.get_column(peer)),
    )
    micros = (pl.col(stamp).cast(pl.Float64) * 1e6).round(0).cast(pl.Int64)
    out = fast.select(
        pl.when(micros.is_between(MIN_MICROS, MAX_MICROS)).then(micros).alias("time"),
        pl.col(client).alias("src_ip"),
        pl.coalesce(pl.col(peer), pl.col("host_ip")).alias("dst_ip"),
        port_expr(pl.col("port")).alias("dst_port"),
        pl.lit("tcp").alias("proto"),
        pl.when(pl.col("host_ip").is_null()).then(pl.col("host")).alias("host"),
        pl.when(absolute).then(pl.col(target)).alias("url"),
        pl.when(pl.col(size) != "-").then(pl.col(size).cast(pl.Int64)).alias("bytes"),
        pl.col(code).alias("action"),
        (pl.col("index").cast(pl.Int64) + first_line).alias("line"),
    )
    columns: dict[str, Any] = {column: out.get_column(column).to_arrow() for column in out.columns}
    columns["log_type"] = pa.array(["proxy"] * out.height)
    columns["file"] = pa.array([ctx.file] * out.height)
    tables = [pa.Table.from_batches([batch_from_columns(columns, out.height)])]
    rows = [row for i in others if (row := _line_row(lines[i], first_line + i, ctx.stats))]
    if rows:
        buffer = RowBuffer(ctx, COLUMNS)
        buffer.rows = rows
        tables.append(pa.Table.from_batches([buffer.flush()]))
    return pa.concat_tables(tables).sort_by("line")


def read_lines(stream: IO[Any], ctx: ReadContext, fast: bool = True) -> Iterator[pa.RecordBatch]:
    """Batches of an access.log; ``fast`` reads plain native lines by column first."""

    def rows_of(lines: list[str], first_line: int) -> Iterator[tuple[Any, ...]]:
        for line_no, line in enumerate(lines, first_line):
            if (row := _line_row(line, line_no, ctx.stats)) is not None:
                yield row

    by_column = (lambda lines, first: _fast_chunk(lines, first, ctx)) if fast else None
    return read_chunks(stream, ctx, COLUMNS, rows_of, by_column)


def read(stream: IO[Any], ctx: ReadContext) -> Iterator[pa.RecordBatch]:
    return read_lines(stream, ctx)


def _proxy_line(line: str) -> bool:
    native = _NATIVE.match(line)
    if native is not None:
        return True
    common = _COMMON.match(line)
    # A web server's access log has the same shape; a proxy's asks for absolute URLs.
    return common is not None and (
        common.group(3) == "CONNECT" or "://" in common.group(4)[:12] or common.group(7) is not None
    )


def sniff(head: list[str]) -> bool:
    head = head_without_bom(head)
    lines = [line for line in head if not line.startswith("#")]
    return bool(lines) and all(_proxy_line(line) for line in lines[:5])


FORMAT = LogFormat(
    name="squid",
    description="Squid access.log (native format; common/combined with absolute URLs)",
    sniff=sniff,
    read=read,
    priority=40,
    splittable=True,
)
