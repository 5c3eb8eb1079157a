"""Netfilter kernel LOG lines (iptables, nftables, ufw, EdgeOS/VyOS): ``IN= OUT= SRC= DST= ...``.

The action comes from the log prefix the rule set: ``[UFW BLOCK]``, EdgeOS ``[rule-D]`` (drop,
accept, reject), or words such as DROP, DENY, REJECT, ACCEPT in a free prefix.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import IO

import pyarrow as pa

from lamsach.logs.formats import LogFormat, ReadContext
from lamsach.logs.formats._netfields import canonical_ip, port, proto_name
from lamsach.logs.formats._rows import RowBuffer
from lamsach.logs.formats._syslog import strip_syslog, to_micros

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
_FIELD = re.compile(r"([A-Z]+)=(\S*)")
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


def parse_fields(text: str) -> dict[str, str]:
    """The KEY=value fields of the packet, without those of a packet quoted inside an ICMP error."""
    inner = text.find(" [SRC=")
    if inner >= 0:
        text = text[:inner]
    fields: dict[str, str] = {}
    for key, value in _FIELD.findall(text):
        # The first LEN is the IP length; later ones (UDP LEN) must not override it.
        fields.setdefault(key, value)
    return fields


def read(stream: IO[str], ctx: ReadContext) -> Iterator[pa.RecordBatch]:
    rows = RowBuffer(ctx, COLUMNS)
    skip = ctx.stats.skip
    for number, raw in enumerate(stream, 1):
        line = raw.rstrip("\r\n")
        if not line.strip():
            continue
        match = _IN.search(line)
        if match is None:
            skip("not a netfilter line", number)
            continue
        fields = parse_fields(line[match.start() :])
        src_ip, dst_ip = canonical_ip(fields.get("SRC")), canonical_ip(fields.get("DST"))
        if src_ip is None or dst_ip is None:
            skip("bad netfilter line", number)
            continue
        header = strip_syslog(line[: match.start() + 1])
        length = fields.get("LEN", "")
        rows.rows.append(
            (
                to_micros(header.timestamp),
                src_ip,
                port(fields.get("SPT")),
                dst_ip,
                port(fields.get("DPT")),
                proto_name(fields.get("PROTO")),
                int(length) if length.isdigit() else None,
                action_of(f"{header.program or ''} {header.message}"),
                "conn",
                number,
            )
        )
        if len(rows.rows) >= rows.size:
            yield rows.flush()
    if rows.rows:
        yield rows.flush()


FORMAT = LogFormat(
    name="iptables",
    description="iptables / ufw / EdgeOS kernel LOG lines (IN= OUT= SRC= DST= ...)",
    sniff=sniff,
    read=read,
    priority=25,
)
