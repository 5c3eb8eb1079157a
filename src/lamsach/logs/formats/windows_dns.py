"""Windows DNS Server debug log (dns.log): the PACKET lines of queries and responses.

Dates follow the server's locale (``6/5/2013 10:20:53 AM``, ``05.06.2013 10:20:53``,
``2013-06-05 10:20:53``); slash dates are read day-first or month-first by the ``date_order``
option (``dmy``/``mdy``), else by any day above 12 in the file, else by the AM/PM designator.
Times are the server's local time: the ``tz`` option says which zone (UTC if not given).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, tzinfo
from typing import IO, Any

import pyarrow as pa

from lamsach.logs.formats import LogFormat, ReadContext
from lamsach.logs.formats._rows import (
    RowBuffer,
    clean_host,
    head_without_bom,
    ip_or_none,
    local_zone,
    without_bom,
)
from lamsach.logs.formats._syslog import to_micros

COLUMNS = ("time", "src_ip", "dst_ip", "proto", "host", "action", "log_type", "line")

_PACKET = re.compile(
    r"(\d{1,4})([/.-])(\d{1,2})[/.-](\d{1,4}),? (\d{1,2}):(\d{2}):(\d{2})(?: ?([^\s\d]{1,4}))? +"
    r"[0-9A-Fa-f]+ PACKET +[0-9A-Fa-f]+ +(UDP|TCP) +(Snd|Rcv) +([0-9A-Fa-f.:]+) +"
    r"[0-9A-Fa-f]+ +(R)? *([QNU?]) \[[0-9A-Fa-f]+ +[A-Z ]*?(\w+)\] +(\S+) +(\S+)"
)
_LABEL_LENGTH = re.compile(r"\(\d+\)")
# Afternoon designators: English, and Vietnamese ("CH", chiều) since the servers here run it.
_PM = frozenset(("PM", "pm", "CH", "ch", "p.m.", "nachm."))
_HEADER_MARKS = ("Message logging key", "DNS Server log file creation", "Log file wrap")


def decode_name(raw: str) -> str | None:
    """``(3)www(6)google(3)com(0)`` or ``.www.google.com.`` as ``www.google.com``."""
    if raw.startswith("("):
        raw = _LABEL_LENGTH.sub(".", raw)
    return clean_host(raw.strip("."))


class _DateReader:
    """Turns the locale's date parts into times once the day/month order is known."""

    def __init__(self, option: str | None, zone: tzinfo = UTC) -> None:
        self.zone = zone
        self.forced = option if option in ("dmy", "mdy") else None
        self.seen: str | None = None  # order shown by a date whose day is above 12
        self.designator_order: str | None = None

    def note(self, first: int, sep: str, second: int, designator: str | None) -> None:
        if sep != "/" or first > 999:
            return  # dotted, dashed and year-first dates are never month-first
        if self.seen is None:
            if first > 12 >= second:
                self.seen = "dmy"
            elif second > 12 >= first:
                self.seen = "mdy"
        if designator and self.designator_order is None:
            # "AM/PM" is the US locale (month first); other designators (SA/CH) are day-first.
            self.designator_order = "mdy" if designator.upper() in ("AM", "PM") else "dmy"

    def order(self) -> str:
        return self.forced or self.seen or self.designator_order or "dmy"

    def micros(self, parts: tuple[Any, ...], order: str) -> int | None:
        first, sep, second, third, hh, mm, ss, designator = parts
        if first > 999:  # 2013-06-05: ISO order whatever the locale
            year, month, day = first, second, third
        elif sep in ".-" or order == "dmy":
            day, month, year = first, second, third
        else:
            month, day, year = first, second, third
        if designator is not None:
            hh %= 12
            if designator in _PM:
                hh += 12
        if year < 100:
            year += 2000
        try:
            return to_micros(datetime(year, month, day, hh, mm, ss, tzinfo=self.zone))
        except ValueError:
            return None


def read(stream: IO[Any], ctx: ReadContext) -> Iterator[pa.RecordBatch]:
    buffer = RowBuffer(ctx, COLUMNS)
    stats = ctx.stats
    dates = _DateReader(ctx.options.get("date_order"), local_zone(ctx))
    pending: list[tuple[Any, ...]] = []  # rows whose time is still date parts

    def flush() -> pa.RecordBatch:
        order = dates.order()
        buffer.rows = [(dates.micros(row[0], order), *row[1:]) for row in pending]
        pending.clear()
        return buffer.flush()

    for line_no, line in enumerate(without_bom(stream), 1):
        if not line.strip() or line[0] in " \t":
            continue  # blank, the header's key table or a packet's detail lines
        match = _PACKET.match(line)
        if match is None:
            if "PACKET" in line:
                stats.skip("unreadable PACKET line", line_no)
            elif not line.startswith(_HEADER_MARKS):
                stats.skip("ignored: not a PACKET line", line_no)
            continue
        (first, sep, second, third, hh, mm, ss, designator) = match.groups()[:8]
        proto, direction, remote, response, opcode, rcode, _qtype, name = match.groups()[8:]
        if opcode != "Q":
            stats.skip("ignored: not a standard query (update, notify)", line_no)
            continue
        # Rcv query / Snd response talk with a client; the other two are the server's own
        # recursion to another server, kept (the name still counts) with that server as dst.
        address = ip_or_none(remote)
        src, dst = (address, None) if (direction == "Rcv") != bool(response) else (None, address)
        first_n, second_n = int(first), int(second)
        dates.note(first_n, sep, second_n, designator)
        parts = (first_n, sep, second_n, int(third), int(hh), int(mm), int(ss), designator)
        action = rcode if response else None
        pending.append((parts, src, dst, proto.lower(), decode_name(name), action, "dns", line_no))
        if len(pending) >= buffer.size:
            yield flush()
    if pending:
        yield flush()


def sniff(head: list[str]) -> bool:
    head = head_without_bom(head)
    return any(line.startswith(_HEADER_MARKS) or _PACKET.match(line) for line in head)


FORMAT = LogFormat(
    name="windows-dns",
    description="Windows DNS Server debug log (PACKET lines, locale-dependent dates)",
    sniff=sniff,
    read=read,
    priority=30,
)
