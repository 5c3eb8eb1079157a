"""BIND (named) query logs: query lines, response-log lines and query errors, with or without
syslog headers (also as Infoblox NIOS sends them)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, tzinfo
from typing import IO, Any

import pyarrow as pa

from lamsach.logs.formats import LogFormat, ReadContext
from lamsach.logs.formats._rows import (
    RowBuffer,
    clean_host,
    head_without_bom,
    ip_or_none,
    ips_in,
    local_zone,
    syslog_year,
    without_bom,
)
from lamsach.logs.formats._syslog import MONTHS, parse_iso, strip_syslog, to_micros

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
_RR_ADDRESS = re.compile(r"\S+ \d+ IN (?:A|AAAA) ([0-9A-Fa-f.:]+);")


def _own_time(message: str, zone: tzinfo) -> int | None:
    """named's own timestamp before "client", after any category prefix ("queries: info:");
    it is local time, in ``zone``."""
    match = _BIND_TIME.search(message, 0, max(0, message.find("client ")))
    if match is None:
        return None
    day, mon, year, hh, mm, ss, frac, iso = match.groups()
    if iso is not None:
        return to_micros(parse_iso(iso))
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
    src, sport = ip_or_none(client.group(1)), int(client.group(2))
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


def read(stream: IO[Any], ctx: ReadContext) -> Iterator[pa.RecordBatch]:
    buffer = RowBuffer(ctx, COLUMNS)
    rows = buffer.rows
    stats = ctx.stats
    year = syslog_year(ctx)
    zone = local_zone(ctx)
    for line_no, line in enumerate(without_bom(stream), 1):
        if not line.strip():
            continue
        stamp, _host, _program, message = strip_syslog(line, year)
        parsed = _parse(message)
        if parsed is None:
            stats.skip("ignored: not a query, response or query-error line", line_no)
            continue
        if isinstance(parsed, str):
            stats.skip(parsed, line_no)
            continue
        when = _own_time(message, zone)
        if when is None:
            when = to_micros(stamp)
        src, sport, server, proto, name, answers, action = parsed
        rows.append((when, src, sport, server, proto, name, answers, action, "dns", line_no))
        if len(rows) >= buffer.size:
            yield buffer.flush()
            rows = buffer.rows
    if rows:
        yield buffer.flush()


def sniff(head: list[str]) -> bool:
    head = head_without_bom(head)
    return any(isinstance(_parse(strip_syslog(line).message), tuple) for line in head)


FORMAT = LogFormat(
    name="bind",
    description="BIND named query log (queries, responses, query-errors; plain or via syslog)",
    sniff=sniff,
    read=read,
    priority=30,
)
