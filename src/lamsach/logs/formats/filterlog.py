"""pfSense and OPNsense ``filterlog``: the packet filter's CSV lines, over BSD or RFC 5424 syslog.

Field positions follow the pfSense "Filter Log Format" document: rule fields, then the IPv4 or
IPv6 header fields, then protocol fields (ports for TCP, UDP and SCTP).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import tzinfo
from typing import IO

import pyarrow as pa

from lamsach.logs.formats import LogFormat, ReadContext
from lamsach.logs.formats._netfields import (
    ascii_int,
    canonical_ip,
    port,
    proto_name,
    syslog_micros,
)
from lamsach.logs.formats._rows import Row, local_zone, read_rows, syslog_year

COLUMNS = (
    "time",
    "src_ip",
    "src_port",
    "dst_ip",
    "dst_port",
    "proto",
    "bytes",
    "action",
    "log_type",
    "line",
)
# "filterlog[123]:" (BSD syslog) or "filterlog 123 - [meta ...]" (RFC 5424): the CSV follows.
_FILTERLOG = re.compile(r"\bfilterlog(?:\[\d+\]:| \S+ \S+ (?:-|\[[^\]]*\])+) ?")
_PAYLOAD_START = re.compile(r"\d*,\d*,[^,]*,[^,]*,[^,]*,\w+,\w+,\w+,[46],")
_PORT_PROTOCOLS = frozenset(("tcp", "udp", "sctp"))


def sniff(head: list[str]) -> bool:
    for line in head:
        match = _FILTERLOG.search(line)
        if match is not None and _PAYLOAD_START.match(line, match.end()):
            return True
    return False


def parse_payload(csv: str) -> tuple[object, ...] | None:
    """The packet fields of one filterlog CSV payload, or None if it is not one."""
    f = csv.split(",")
    if len(f) < 9:
        return None
    action = f[6]
    version = f[8]
    if version == "4":
        if len(f) < 20:
            return None
        proto, length, src, dst, rest = f[16], f[17], f[18], f[19], 20
    elif version == "6":
        if len(f) < 17:
            return None
        proto, length, src, dst, rest = f[12], f[14], f[15], f[16], 17
    else:
        return None
    src_ip, dst_ip = canonical_ip(src), canonical_ip(dst)
    if src_ip is None or dst_ip is None:
        return None
    name = proto_name(proto)
    src_port = dst_port = None
    if name in _PORT_PROTOCOLS and len(f) > rest + 1:
        src_port, dst_port = port(f[rest]), port(f[rest + 1])
    size = ascii_int(length)
    return src_ip, src_port, dst_ip, dst_port, name, size, action or None


def read(stream: IO[str], ctx: ReadContext) -> Iterator[pa.RecordBatch]:
    year, zone = syslog_year(ctx), local_zone(ctx)
    return read_rows(stream, ctx, COLUMNS, lambda line, number: _line_row(line, number, year, zone))


def _line_row(line: str, number: int, year: int | None, zone: tzinfo) -> Row | str:
    match = _FILTERLOG.search(line)
    if match is None:
        return "ignored: not filterlog"
    fields = parse_payload(line[match.end() :])
    if fields is None:
        return "bad filterlog line"
    return (syslog_micros(line, year, zone), *fields, "conn", number)


FORMAT = LogFormat(
    name="filterlog",
    description="pfSense / OPNsense filterlog (CSV over syslog)",
    sniff=sniff,
    read=read,
    priority=20,
    splittable=True,
)
