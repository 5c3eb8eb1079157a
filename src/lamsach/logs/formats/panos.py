"""Palo Alto Networks PAN-OS syslog CSV: TRAFFIC logs, and THREAT logs (URL filtering gives URLs).

Field positions are those of the PAN-OS syslog field descriptions, which are stable across
versions for the fields read here; other log types (SYSTEM, CONFIG, ...) are skipped.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from datetime import UTC, tzinfo
from functools import lru_cache
from typing import IO

import pyarrow as pa

from lamsach.logs.formats import LogFormat, ReadContext
from lamsach.logs.formats._netfields import ascii_int, canonical_ip, micros_utc, port, proto_name
from lamsach.logs.formats._rows import Row, local_zone, read_rows

COLUMNS = (
    "time",
    "src_ip",
    "src_port",
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
# FUTURE_USE, receive time, serial number, type: the start of every PAN-OS CSV log.
_START = re.compile(r"(?:^|[\s>])\d*,(\d{4}/\d\d/\d\d \d\d:\d\d:\d\d),[^,]*,([A-Z]+),")
_TYPES = frozenset(
    {"TRAFFIC", "THREAT", "SYSTEM", "CONFIG", "HIPMATCH", "GLOBALPROTECT", "USERID", "IPTAG"}
    | {"CORRELATION", "AUTHENTICATION", "DECRYPTION", "TUNNEL", "GTP", "SCTP", "AUDIT"}
)
_PORT_PROTOCOLS = frozenset(("tcp", "udp", "sctp"))
# Field numbers (0-based) in TRAFFIC and THREAT logs.
SUBTYPE, SRC, DST, SPORT, DPORT, PROTO, ACTION, BYTES, MISC = 4, 7, 8, 24, 25, 29, 30, 31, 31


def sniff(head: list[str]) -> bool:
    for line in head:
        match = _START.search(line)
        if match is not None and match.group(2) in _TYPES:
            return True
    return False


@lru_cache(maxsize=4096)
def _receive_time(text: str, zone: tzinfo) -> int | None:
    # "2018/11/30 16:09:07": the firewall's clock, in the zone of the tz option (default UTC)
    try:
        return micros_utc(
            int(text[:4]),
            int(text[5:7]),
            int(text[8:10]),
            int(text[11:13]),
            int(text[14:16]),
            int(text[17:19]),
            zone=zone,
        )
    except ValueError:
        return None


def _split(payload: str) -> list[str]:
    if '"' not in payload:
        return payload.split(",")
    return next(csv.reader([payload]))


def _url(misc: str) -> tuple[str | None, str | None]:
    # URL filtering logs the requested URL without its scheme ("www.example.com/path").
    misc = misc.strip()
    if not misc or misc == "-":
        return None, None
    url = misc if "://" in misc else f"http://{misc}"
    host = url.split("://", 1)[1].split("/", 1)[0].split("?", 1)[0]
    if host.startswith("["):
        host = host[1 : host.find("]")] if "]" in host else host
    elif host.count(":") == 1:
        host = host.split(":", 1)[0]
    return (host.lower().rstrip(".") or None), url


def to_row(
    match: re.Match[str], fields: list[str], number: int, zone: tzinfo = UTC
) -> tuple[object, ...] | None:
    """The canonical row of a TRAFFIC or THREAT log, or None if it is malformed."""
    if len(fields) <= BYTES:
        return None
    src_ip, dst_ip = canonical_ip(fields[SRC]), canonical_ip(fields[DST])
    if src_ip is None or dst_ip is None:
        return None
    stamp = _receive_time(match.group(1), zone)
    host = url = None
    size = None
    if fields[3] == "TRAFFIC":
        log_type = "conn"
        size = ascii_int(fields[BYTES])
    elif fields[SUBTYPE] == "url":
        log_type = "http"
        host, url = _url(fields[MISC])
    else:
        log_type = "threat"
    proto = proto_name(fields[PROTO])
    with_ports = proto in _PORT_PROTOCOLS
    return (
        stamp,
        src_ip,
        port(fields[SPORT]) if with_ports else None,
        dst_ip,
        port(fields[DPORT]) if with_ports else None,
        proto,
        host,
        url,
        size,
        fields[ACTION] or None,
        log_type,
        number,
    )


def read(stream: IO[str], ctx: ReadContext) -> Iterator[pa.RecordBatch]:
    zone = local_zone(ctx)
    return read_rows(stream, ctx, COLUMNS, lambda line, number: _line_row(line, number, zone))


def _line_row(line: str, number: int, zone: tzinfo) -> Row | str:
    match = _START.search(line)
    if match is None:
        return "not a PAN-OS log"
    if match.group(2) not in ("TRAFFIC", "THREAT"):
        return "ignored: not traffic"
    first = line[match.start()]
    start = match.start() + (0 if first in "0123456789," else 1)
    return to_row(match, _split(line[start:]), number, zone) or "bad PAN-OS line"


FORMAT = LogFormat(
    name="panos",
    description="Palo Alto PAN-OS syslog CSV (TRAFFIC, THREAT with URLs)",
    sniff=sniff,
    read=read,
    priority=20,
    splittable=True,
)
