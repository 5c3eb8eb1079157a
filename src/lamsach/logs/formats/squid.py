"""Squid access.log: the native format, and the common/combined formats Squid can also write."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from typing import IO, Any
from urllib.parse import urlsplit

import pyarrow as pa

from lamsach.logs.formats import LogFormat, ReadContext
from lamsach.logs.formats._rows import (
    RowBuffer,
    clean_host,
    head_without_bom,
    ip_or_none,
    without_bom,
)
from lamsach.logs.formats._syslog import to_micros

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
_DEFAULT_PORTS = {"http": 80, "https": 443, "ftp": 21}


def _target(method: str, target: str) -> tuple[str | None, int | None, str | None]:
    """Host, port and URL of a request target (``CONNECT host:443`` or an absolute URL)."""
    if "://" not in target[:12]:
        if method != "CONNECT":
            return None, None, None  # "/path" (intercepted) or "error:invalid-request"
        host, _, port = target.rpartition(":") if target.count(":") == 1 else (target, "", "")
        if target.startswith("["):  # [2001:db8::1]:443
            host, _, port = target[1:].partition("]:")
        return clean_host(host), int(port) if port.isdigit() else None, None
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
        round(float(stamp) * 1_000_000),
        ip_or_none(client),
        server,
        port,
        "tcp",
        host,
        url,
        int(size) if size != "-" else None,
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
        int(size) if size != "-" else None,
        code,
        "proxy",
        line_no,
    )


def read(stream: IO[Any], ctx: ReadContext) -> Iterator[pa.RecordBatch]:
    buffer = RowBuffer(ctx, COLUMNS)
    rows = buffer.rows
    stats = ctx.stats
    for line_no, line in enumerate(without_bom(stream), 1):
        if not line.strip():
            continue
        native = _NATIVE.match(line)
        row = _native(native, line_no) if native is not None else None
        if row is None:
            common = _COMMON.match(line)
            row = _common(common, line_no) if common is not None else None
        if row is None:
            stats.skip("not a Squid access.log line", line_no)
            continue
        rows.append(row)
        if len(rows) >= buffer.size:
            yield buffer.flush()
            rows = buffer.rows
    if rows:
        yield buffer.flush()


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
)
