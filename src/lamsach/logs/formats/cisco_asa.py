"""Cisco ASA / FTD syslog: built and torn-down connections, ACL denies, Botnet Traffic Filter, URLs.

Read: 302013-302016 and 302020/302021 (connections), 106001/106006/106007/106015/106023/106100
(denies and ACL hits), 338xxx (dynamic filter, with the listed domain), 304001/304002 (URLs), and
Firepower's 430001-430005 events (``Key: value`` pairs, with DNS queries and URLs).
Other message ids carry no connection and are skipped.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
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
from lamsach.logs.formats._rows import Row, local_zone, read_rows, syslog_year, to_int
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
    "bytes",
    "action",
    "log_type",
    "line",
)
_MESSAGE = re.compile(r"%(?:ASA|FTD|PIX|FWSM|NGIPS)-(?:[a-z]+-)?\d-(\d{6}):? ?")
# "outside:192.0.2.1/443", "OUTSIDE:2001:db8::1/443", "dmz:host-name/25"
_END = r"(\S+?):(\S+?)/(\d+)"
_CONN = re.compile(
    rf"Built (inbound|outbound) (\w+) connection \d+ for {_END}.*? to {_END}"
    rf"|Teardown (\w+) connection \d+ for {_END}.*? to {_END}(?:.*? bytes (\d+))?"
)
_ICMP = re.compile(
    r"(Built (inbound|outbound)|Teardown) ICMP connection (?:\d+ )?for faddr (\S+?)/\d+"
    r".*? laddr (\S+?)/\d+"
)
_DENY_106023 = re.compile(rf"Deny (\w+) src {_END} dst {_END}")
_ACL_106100 = re.compile(
    r"access-list \S+ ([\w-]+) (\w+) [^/\s]+/(\S+?)\((\d+)\)[^>]*-> [^/\s]+/(\S+?)\((\d+)\)"
)
_DENY_FROM = re.compile(
    r"Deny (?:inbound )?(\w+) (?:\(no connection\) )?from (\S+?)/(\d+) to (\S+?)/(\d+)"
)
_DYNAMIC = re.compile(
    rf"Dynamic Filter (\w+) .*?(\w+) traffic from {_END}.*? to {_END}.*?"
    r"resolved from \w+ list: ([^,\s]+)"
)
_URL_ACCESSED = re.compile(r"^(\S+?)(?:\(\S*\))? Accessed URL (\S+?):(\S+)")
_URL_DENIED = re.compile(r"Access denied URL (\S+) SRC (\S+) DEST (\S+)")
# FTD "Key: value, Key: value": a value may hold commas, a key starts upper-case.
_FTD_SPLIT = re.compile(r", (?=[A-Z][A-Za-z0-9]*(?: [A-Za-z][A-Za-z0-9]*)*: )")
_HOST_NAME = re.compile(r"^(?=.*[a-z])[a-z0-9.-]+\.[a-z0-9-]+$", re.IGNORECASE)


def sniff(head: list[str]) -> bool:
    return any(_MESSAGE.search(line) is not None for line in head)


def _conn(text: str) -> Row | None:
    m = _CONN.search(text)
    if m is None:
        return None
    g = m.groups()
    if g[0] is not None:  # built: an outbound connection was opened by the "to" side
        first = (g[3], g[4])
        second = (g[6], g[7])
        src, dst = (second, first) if g[0] == "outbound" else (first, second)
        return (*src, *dst, g[1].lower(), None, None, None, "built", "conn")
    return (g[10], g[11], g[13], g[14], g[8].lower(), None, None, g[15], "teardown", "conn")


def _icmp(text: str) -> Row | None:
    m = _ICMP.search(text)
    if m is None:
        return None
    event, direction, faddr, laddr = m.groups()
    src, dst = (laddr, faddr) if direction == "outbound" else (faddr, laddr)
    action = "built" if event.startswith("Built") else "teardown"
    return (src, None, dst, None, "icmp", None, None, None, action, "conn")


def _deny_106023(text: str) -> Row | None:
    m = _DENY_106023.search(text)
    if m is None:
        return None
    proto, _, src, sport, _, dst, dport = m.groups()
    return (src, sport, dst, dport, proto.lower(), None, None, None, "deny", "conn")


def _acl_106100(text: str) -> Row | None:
    m = _ACL_106100.search(text)
    if m is None:
        return None
    verdict, proto, src, sport, dst, dport = m.groups()
    return (src, sport, dst, dport, proto.lower(), None, None, None, verdict, "conn")


def _deny_from(text: str) -> Row | None:
    m = _DENY_FROM.search(text)
    if m is None:
        return None
    proto, src, sport, dst, dport = m.groups()
    return (src, sport, dst, dport, proto.lower(), None, None, None, "deny", "conn")


def _dynamic(text: str) -> Row | None:
    m = _DYNAMIC.search(text)
    if m is None:
        return None
    verdict, proto, _, src, sport, _, dst, dport, listed = m.groups()
    # The list entry is the domain the address was resolved from, or an address/mask.
    host = listed.lower().rstrip(".") if _HOST_NAME.match(listed) else None
    return (src, sport, dst, dport, proto.lower(), host, None, None, verdict, "conn")


def _url(text: str) -> Row | None:
    m = _URL_DENIED.search(text)
    if m is not None:
        url, src, dst = m.groups()
        return (src, None, dst, None, None, *_url_host(url, dst), None, "deny", "http")
    m = _URL_ACCESSED.search(text)
    if m is None:
        return None
    src, dst, url = m.groups()
    src = src.rsplit("@", 1)[-1]  # "USER001@192.168.0.1"
    return (src, None, dst, None, None, *_url_host(url, dst), None, "accessed", "http")


def _url_host(url: str, server: str) -> tuple[str | None, str]:
    if "://" not in url:  # only a path was logged: the server is known by its address
        return None, f"http://{server}{url if url.startswith('/') else '/' + url}"
    host = url.split("://", 1)[1].split("/", 1)[0].split(":", 1)[0].lower()
    return (host if _HOST_NAME.match(host) else None), url


def _ftd(text: str) -> Row | None:
    fields = dict(part.partition(": ")[::2] for part in _FTD_SPLIT.split(text.strip()))
    src, dst = fields.get("SrcIP"), fields.get("DstIP")
    if src is None and dst is None:
        return None
    host = fields.get("DNSQuery") or fields.get("ReferencedHost") or None
    url = fields.get("URL") or None
    if url is not None and "://" not in url:
        url = None
    log_type = "dns" if fields.get("DNSQuery") else ("http" if host or url else "conn")
    sizes = [fields.get("InitiatorBytes", ""), fields.get("ResponderBytes", "")]
    counts = [n for n in (ascii_int(text) for text in sizes) if n is not None]
    size = to_int(sum(counts)) if counts else None  # None past 64 bits
    return (
        src,
        fields.get("SrcPort"),
        dst,
        fields.get("DstPort"),
        fields.get("Protocol"),
        host.lower().rstrip(".") if host else None,
        url,
        size,
        fields.get("AccessControlRuleAction") or None,
        log_type,
        fields.get("FirstPacketSecond"),
    )


_PARSERS: dict[str, Callable[[str], Row | None]] = {
    **dict.fromkeys(("302013", "302014", "302015", "302016"), _conn),
    **dict.fromkeys(("302020", "302021"), _icmp),
    "106023": _deny_106023,
    "106100": _acl_106100,
    **dict.fromkeys(("106001", "106006", "106007", "106015"), _deny_from),
    **dict.fromkeys(("338001", "338002", "338003", "338004", "338005", "338006"), _dynamic),
    **dict.fromkeys(("338007", "338008"), _dynamic),
    **dict.fromkeys(("304001", "304002"), _url),
    **dict.fromkeys(("430001", "430002", "430003", "430004", "430005"), _ftd),
}


def to_row(fields: Row, stamp: int | None, number: int) -> Row | None:
    src, sport, dst, dport, proto, host, url, size, action, log_type = fields[:10]
    if stamp is None and len(fields) > 10 and isinstance(fields[10], str):
        stamp = to_micros(parse_iso(fields[10].replace("Z", "+00:00")))
    src_ip, dst_ip = canonical_ip(str(src)), canonical_ip(str(dst))
    if src_ip is None and dst_ip is None:
        return None
    return (
        stamp,
        src_ip,
        port(sport) if isinstance(sport, str) else None,
        dst_ip,
        port(dport) if isinstance(dport, str) else None,
        proto_name(proto) if isinstance(proto, str) else None,
        host,
        url,
        to_int(size) if isinstance(size, str | int) else None,
        action,
        log_type,
        number,
    )


def read(stream: IO[str], ctx: ReadContext) -> Iterator[pa.RecordBatch]:
    year, zone = syslog_year(ctx), local_zone(ctx)
    return read_rows(stream, ctx, COLUMNS, lambda line, number: _line_row(line, number, year, zone))


def _line_row(line: str, number: int, year: int | None, zone: tzinfo) -> Row | str:
    match = _MESSAGE.search(line)
    if match is None:
        return "not an ASA message"
    parser = _PARSERS.get(match.group(1))
    if parser is None:
        return "ignored: not a connection message"
    fields = parser(line[match.end() :])
    row = None if fields is None else to_row(fields, syslog_micros(line, year, zone), number)
    return row or "bad ASA message"


FORMAT = LogFormat(
    name="cisco-asa",
    description="Cisco ASA / FTD syslog (connections, denies, dynamic filter, URLs)",
    sniff=sniff,
    read=read,
    priority=20,
    splittable=True,
)
