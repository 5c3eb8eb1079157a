"""Split a syslog line (RFC 3164 / BSD, ISO-stamped rsyslog, RFC 5424) into header and message.

Shared by the formats whose lines usually arrive through syslog (BIND, dnsmasq, firewalls).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, tzinfo
from typing import NamedTuple

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)

MONTHS = {
    name: number
    for number, name in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1
    )
}

_PRI = re.compile(r"<(\d{1,3})>")
# RFC 5424: VERSION TIMESTAMP HOSTNAME APP-NAME PROCID MSGID STRUCTURED-DATA [MSG]
_RFC5424 = re.compile(
    r"1 (\S+) (\S+) (\S+) (\S+) (\S+) "
    r'(-|(?:\[(?:[^\]"\\]|\\.|"(?:[^"\\]|\\.)*")*\])+)(?: (?:\ufeff)?(.*))?$',
    re.DOTALL,
)
# BSD: "Mar  9 23:59:59", "Mar 9 23:59:59.123", "Apr 29 2013 12:59:50", and OpenWrt's logread
# "Sat Jun 12 10:00:00 2021" (weekday first, year after the time).
_BSD_TIME = re.compile(
    r"(?:[A-Z][a-z]{2} )?([A-Z][a-z]{2}) +(\d{1,2}) (?:(\d{4}) )?"
    r"(\d{1,2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?(?: (\d{4}))? +"
)
_ISO_TIME = re.compile(
    r"(\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})?) +"
)
_PROGRAM = re.compile(r"([^\s:\[\]]+)(?:\[(\d+)\])?:$")


class SyslogLine(NamedTuple):
    """A syslog line split up; ``timestamp`` is in UTC."""

    timestamp: datetime | None
    host: str | None
    program: str | None
    message: str


def parse_iso(text: str, zone: tzinfo = UTC) -> datetime | None:
    """An ISO 8601 time as an aware UTC datetime (no zone means ``zone``), or None."""
    try:
        stamp = datetime.fromisoformat(text)
    except ValueError:
        return None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=zone)
    return stamp.astimezone(UTC)


def to_micros(stamp: datetime | None) -> int | None:
    """Microseconds since the epoch, the form the canonical ``time`` column is built from."""
    if stamp is None:
        return None
    return (stamp - EPOCH) // MICROSECOND


def bsd_year(month: int, day: int, now: datetime | None = None) -> int:
    """The year of a BSD stamp (which has none): this year, unless that lies in the future."""
    now = now or datetime.now(UTC)
    if (month, day) > (now.month, now.day + 1):
        return now.year - 1
    return now.year


def _split_program(rest: str) -> tuple[str | None, str | None, str]:
    # The program ("named[123]:" or "kernel:") is the first, second or third token: relays add a
    # host (or two: name and address) before it, and some senders give no host at all.
    tokens = rest.split(" ", 3)
    for position in range(min(3, len(tokens))):
        match = _PROGRAM.match(tokens[position])
        if match is not None:
            host = tokens[0] if position else None
            return host, match.group(1), " ".join(tokens[position + 1 :]).lstrip(" ")
    host, _, message = rest.partition(" ")
    return host or None, None, message


def strip_syslog(line: str, year: int | None = None, zone: tzinfo = UTC) -> SyslogLine:
    """Split off a syslog header if the line has one; otherwise the whole line is the message.

    ``year`` fills in BSD stamps, which carry none; by default it is this year, or the last
    one when the date would otherwise lie in the future. Stamps without a zone (BSD ones
    always) are local time in ``zone``; the result is in UTC.
    """
    line = line.rstrip("\r\n")
    pos = 0
    pri = _PRI.match(line)
    if pri is not None:
        pos = pri.end()
        rfc5424 = _RFC5424.match(line, pos)
        if rfc5424 is not None:
            stamp_text, host, app, _procid, _msgid, _sd, message = rfc5424.groups()
            return SyslogLine(
                None if stamp_text == "-" else parse_iso(stamp_text, zone),
                None if host == "-" else host,
                None if app == "-" else app,
                message or "",
            )
    bsd = _BSD_TIME.match(line, pos)
    if bsd is not None:
        mon_name, day_text, year_text, hh, mm, ss, frac, late_year = bsd.groups()
        year_text = year_text or late_year
        month = MONTHS.get(mon_name)
        if month is not None:
            day = int(day_text)
            when_year = int(year_text) if year_text else (year or bsd_year(month, day))
            micro = int(frac.ljust(6, "0")) if frac else 0
            try:
                stamp: datetime | None = datetime(
                    when_year, month, day, int(hh), int(mm), int(ss), micro, tzinfo=zone
                ).astimezone(UTC)
            except ValueError:
                stamp = None
            host, program, message = _split_program(line[bsd.end() :])
            return SyslogLine(stamp, host, program, message)
    iso = _ISO_TIME.match(line, pos)
    if iso is not None:
        host, program, message = _split_program(line[iso.end() :])
        return SyslogLine(parse_iso(iso.group(1), zone), host, program, message)
    if pri is not None:
        host, program, message = _split_program(line[pos:])
        return SyslogLine(None, host, program, message)
    return SyslogLine(None, None, None, line)
