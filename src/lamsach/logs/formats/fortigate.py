"""FortiGate (FortiOS) key=value logs: traffic sessions, and the web filter and DNS UTM logs.

Event logs (``type="event"``: admin logins, VPN, HA ...) carry no traffic and are skipped.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, tzinfo
from typing import IO

import pyarrow as pa

from lamsach.logs.formats import LogFormat, ReadContext
from lamsach.logs.formats._columnar import read_chunks
from lamsach.logs.formats._netfields import (
    ascii_int,
    canonical_ip,
    micros_from_epoch_number,
    port,
    proto_name,
)
from lamsach.logs.formats._rows import Row, local_zone, to_int
from lamsach.logs.formats._syslog import parse_iso, to_micros

COLUMNS = (
    "time",
    "src_ip",
    "src_port",
    "dst_ip",
    "dst_port",
    "proto",
    "host",
    "url",
    "answers",
    "bytes",
    "action",
    "log_type",
    "line",
)
_PAIR = re.compile(r'([A-Za-z_][\w-]*)=("[^"\\]*(?:\\.[^"\\]*)*"|[^\s"]*)')
_LOGID = re.compile(r'\blogid="?\d{10}"?(?:\s|$)')
_TYPE = re.compile(r'\btype="?(?:traffic|utm|event|anomaly)"?(?:\s|$)')
_ESCAPE = re.compile(r"\\(.)")
_TRAFFIC_TYPES = frozenset(("traffic", "utm"))


def sniff(head: list[str]) -> bool:
    return any(_LOGID.search(line) is not None and _TYPE.search(line) is not None for line in head)


class KeyValues:
    """The key=value fields of a line; quotes (and escapes in them) are removed when read."""

    __slots__ = ("raw",)

    def __init__(self, line: str) -> None:
        self.raw = dict(_PAIR.findall(line))

    @classmethod
    def of(cls, raw: dict[str, str]) -> KeyValues:
        """Fields split out already (values as written: quotes kept)."""
        fields = cls.__new__(cls)
        fields.raw = raw
        return fields

    def get(self, key: str, default: str | None = None) -> str | None:
        value = self.raw.get(key)
        if value is None:
            return default
        if value[:1] == '"':
            value = value[1:-1]
            if "\\" in value:
                value = _ESCAPE.sub(r"\1", value)
        return value

    def text(self, key: str) -> str:
        return self.get(key) or ""


def event_time(fields: KeyValues, zone: tzinfo = UTC) -> int | None:
    # eventtime is epoch based (UTC); date/time are the device's wall clock, offset by tz if given.
    epoch = fields.text("eventtime")
    if epoch:
        micros = micros_from_epoch_number(epoch)
        if micros is not None:
            return micros
    date, clock = fields.text("date"), fields.text("time")
    if not date or not clock:
        return None
    tz = fields.text("tz")
    if len(tz) == 5 and tz[0] in "+-":
        tz = f"{tz[:3]}:{tz[3:]}"
    return to_micros(parse_iso(f"{date}T{clock}{tz if tz[:1] in ('+', '-') else ''}", zone))


def _web(fields: KeyValues) -> tuple[str | None, str | None]:
    # Web filter logs give the host name and a URL that is, depending on the FortiOS version,
    # either complete or only the path.
    host = fields.get("hostname") or None
    url = fields.get("url") or None
    if url and url.startswith("/") and host:
        scheme = "https" if fields.text("service").upper() == "HTTPS" else "http"
        url = f"{scheme}://{host}{url}"
    elif url and "://" not in url:
        url = None
    return (host.lower().rstrip(".") if host else None), url


def _answers(fields: KeyValues) -> list[str] | None:
    text = fields.text("ipaddr")
    if not text:
        return None
    found = [ip for ip in (canonical_ip(part) for part in text.split(",")) if ip]
    return found or None


def to_row(fields: KeyValues, number: int, zone: tzinfo = UTC) -> tuple[object, ...] | None:
    """The canonical row of one traffic or UTM log, or None if it has no addresses."""
    src_ip, dst_ip = canonical_ip(fields.get("srcip")), canonical_ip(fields.get("dstip"))
    if src_ip is None and dst_ip is None:
        return None
    kind, subtype = fields.get("type"), fields.text("subtype")
    host, url = _web(fields)
    answers = None
    log_type = "conn"
    if kind == "utm" and subtype == "dns":
        host = fields.text("qname").lower().rstrip(".") or host
        answers = _answers(fields)
        log_type = "dns"
    elif host or url:
        log_type = "http"
    sent, received = fields.text("sentbyte"), fields.text("rcvdbyte")
    size = None
    sent_n, received_n = ascii_int(sent), ascii_int(received)
    if sent_n is not None or received_n is not None:
        size = to_int((sent_n or 0) + (received_n or 0))  # None past 64 bits
    return (
        event_time(fields, zone),
        src_ip,
        port(fields.get("srcport")),
        dst_ip,
        port(fields.get("dstport")),
        proto_name(fields.get("proto")),
        host,
        url,
        answers,
        size,
        fields.get("action") or fields.get("utmaction") or None,
        log_type,
        number,
    )


def read_lines(stream: IO[str], ctx: ReadContext, fast: bool = True) -> Iterator[pa.RecordBatch]:
    """Batches of a FortiGate log; ``fast`` reads the plain traffic and web lines by column."""
    zone = local_zone(ctx)

    def rows_of(lines: list[str], first_line: int) -> Iterator[Row]:
        for number, raw in enumerate(lines, first_line):
            line = raw.rstrip("\r\n")
            if not line.strip():
                continue
            row = line_row(line, number, zone)
            if isinstance(row, str):
                ctx.stats.skip(row, number)
            else:
                yield row

    def by_column(lines: list[str], first_line: int) -> pa.Table:
        from lamsach.logs.formats._fortigate_fast import fast_chunk  # it needs polars

        return fast_chunk(lines, first_line, ctx, zone)

    return read_chunks(stream, ctx, COLUMNS, rows_of, by_column if fast else None)


def read(stream: IO[str], ctx: ReadContext) -> Iterator[pa.RecordBatch]:
    return read_lines(stream, ctx)


def line_row(line: str, number: int, zone: tzinfo) -> Row | str:
    """The canonical row of one line, or the reason it is skipped."""
    fields = KeyValues(line)
    kind = fields.get("type")
    if kind is None:
        return "not a FortiGate log"
    if kind not in _TRAFFIC_TYPES:
        return "ignored: not traffic"
    return to_row(fields, number, zone) or "no addresses"


FORMAT = LogFormat(
    name="fortigate",
    description="FortiGate key=value logs (traffic, web filter and DNS UTM)",
    sniff=sniff,
    read=read,
    priority=20,
    splittable=True,
)
