"""Netfilter kernel LOG lines (iptables, nftables, ufw, EdgeOS/VyOS): ``IN= OUT= SRC= DST= ...``.

The action comes from the log prefix the rule set: ``[UFW BLOCK]``, EdgeOS ``[rule-D]`` (drop,
accept, reject), or words such as DROP, DENY, REJECT, ACCEPT in a free prefix.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import tzinfo
from typing import IO

import pyarrow as pa

from lamsach.logs.formats import LogFormat, ReadContext
from lamsach.logs.formats._netfields import canonical_ip, port, proto_name, stamp_end, syslog_micros
from lamsach.logs.formats._rows import Row, local_zone, read_rows, syslog_year, to_int

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
# IN= opens the packet fields; it follows the prefix directly ("[rule-D]IN=") or after a space.
_IN = re.compile(r"(?:^|[\s\]:])IN=\S* OUT=")
# The kernel writes the fields in a fixed order; the first PROTO= is the outer packet's, and
# the first LEN= its IP length (a UDP header has a LEN of its own further on).
_PACKET = re.compile(
    r" SRC=(\S+) DST=(\S+) LEN=(\d+)\b[^\[]*? PROTO=(\w+)(?: SPT=(\d+) DPT=(\d+))?"
)
_UFW = re.compile(r"\[UFW ([A-Z]+)\]")
_EDGEOS = re.compile(r"\[[^\]\s]+-([ADR])\]")
_WORD = re.compile(r"(DROP|DENY|REJECT|BLOCK|ACCEPT|ALLOW|PERMIT)", re.IGNORECASE)
_EDGEOS_ACTIONS = {"A": "accept", "D": "drop", "R": "reject"}


def sniff(head: list[str]) -> bool:
    hits = 0
    for line in head:
        match = _IN.search(line)
        if match is not None and " SRC=" in line and " DST=" in line and " PROTO=" in line:
            hits += 1
    return hits > 0 and hits * 2 >= len(head)


def action_of(prefix: str) -> str | None:
    """The verdict a rule's log prefix names, lower-case, or None if it names none."""
    match = _UFW.search(prefix)
    if match is not None:
        return match.group(1).lower()
    match = _EDGEOS.search(prefix)
    if match is not None:
        return _EDGEOS_ACTIONS[match.group(1)]
    match = _WORD.search(prefix)
    return match.group(1).lower() if match is not None else None


def _log_prefix(head: str) -> str:
    # The rule's log prefix follows "kernel:" (and the uptime); without it, the time stamp.
    rest = head[stamp_end(head) :]
    kernel = rest.find("kernel:")
    return rest[kernel + 7 :] if kernel >= 0 else rest


def parse_fields(text: str) -> tuple[str | None, ...] | None:
    """SRC, DST, LEN, PROTO, SPT, DPT of the packet (not of a packet quoted in an ICMP error)."""
    match = _PACKET.search(text)
    return match.groups() if match is not None else None


def read(stream: IO[str], ctx: ReadContext) -> Iterator[pa.RecordBatch]:
    year, zone = syslog_year(ctx), local_zone(ctx)
    return read_rows(stream, ctx, COLUMNS, lambda line, number: _line_row(line, number, year, zone))


def _line_row(line: str, number: int, year: int | None, zone: tzinfo) -> Row | str:
    match = _IN.search(line)
    if match is None:
        return "not a netfilter line"
    fields = parse_fields(line[match.start() :])
    if fields is None:
        return "bad netfilter line"
    src, dst, length, proto, spt, dpt = fields
    src_ip, dst_ip = canonical_ip(src), canonical_ip(dst)
    if src_ip is None or dst_ip is None:
        return "bad netfilter line"
    head = line[: match.start() + 1]
    return (
        syslog_micros(head, year, zone),
        src_ip,
        port(spt),
        dst_ip,
        port(dpt),
        proto_name(proto),
        to_int(length),
        action_of(_log_prefix(head)),
        "conn",
        number,
    )


FORMAT = LogFormat(
    name="iptables",
    description="iptables / ufw / EdgeOS kernel LOG lines (IN= OUT= SRC= DST= ...)",
    sniff=sniff,
    read=read,
    priority=25,
    splittable=True,
)
