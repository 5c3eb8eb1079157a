"""Small field clean-ups shared by the firewall and endpoint formats: IPs, protocols, times."""

from __future__ import annotations

import ipaddress
import re
import socket
from datetime import UTC, datetime, tzinfo
from functools import lru_cache

from lamsach.logs.formats._rows import micros_in_range, to_int
from lamsach.logs.formats._syslog import strip_syslog, to_micros

# IANA protocol numbers as firewalls print them, to the lower-case names the schema uses.
PROTOCOLS = {
    1: "icmp",
    2: "igmp",
    6: "tcp",
    17: "udp",
    41: "ipv6",
    47: "gre",
    50: "esp",
    51: "ah",
    58: "icmpv6",
    89: "ospf",
    103: "pim",
    112: "vrrp",
    132: "sctp",
}
_PROTO_ALIASES = {"ipv6-icmp": "icmpv6", "icmp6": "icmpv6", "ipv6icmp": "icmpv6"}


# The time stamp that opens a syslog line: RFC 5424 / ISO, or BSD with or without a year.
_STAMP = re.compile(
    r"(?:<\d{1,3}>)?(?:1 )?(\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d\S*"
    r"|[A-Z][a-z]{2} +\d{1,2} (?:\d{4} )?\d\d:\d\d:\d\d(?:\.\d+)?)"
)


def ascii_int(text: str | None) -> int | None:
    """A non-negative integer written in ASCII digits (str.isdigit also takes "¹") that fits the
    schema's 64 bits, or None: a longer run of digits is damage, not a count."""
    if text and text.isascii() and text.isdigit():
        return to_int(int(text))
    return None


def canonical_ip(text: str | None) -> str | None:
    """An IP address in canonical text (IPv6 compressed, IPv4-mapped as IPv4), or None."""
    if not text:
        return None
    try:  # dotted IPv4 is already canonical: let the C parser check it
        socket.inet_pton(socket.AF_INET, text)
        return text
    except (OSError, ValueError):  # not dotted IPv4 (ValueError: a NUL in the text)
        return _canonical_other(text)


@lru_cache(maxsize=65_536)
def _canonical_other(text: str) -> str | None:
    try:
        address = ipaddress.ip_address(text.strip().strip("[]"))
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(address)


@lru_cache(maxsize=1024)
def proto_name(text: str | None) -> str | None:
    """A protocol as a lower-case name, from a name in any case or an IANA number."""
    if not text:
        return None
    text = text.strip().lower()
    if text.isascii() and text.isdigit():
        return PROTOCOLS.get(int(text), text)
    return _PROTO_ALIASES.get(text, text) or None


def port(text: str | None) -> int | None:
    """A port number, or None when absent or not a number in 0..65535."""
    value = ascii_int(text)
    return value if value is not None and value <= 65_535 else None


def micros_from_epoch_number(text: str) -> int | None:
    """Epoch seconds, milliseconds, microseconds or nanoseconds (told apart by size) as micros;
    None outside the years 1-9999."""
    value = ascii_int(text)
    if value is None:
        return None
    if value < 10**11:  # seconds until the year 5138
        return value * 1_000_000
    if value < 10**14:
        return value * 1_000
    if value < 10**17:
        return value
    return micros_in_range(value // 1_000)


def micros_utc(
    year: int, month: int, day: int, hh: int, mm: int, ss: int, us: int = 0, zone: tzinfo = UTC
) -> int:
    """A wall-clock time in ``zone`` as microseconds since the epoch (ValueError if invalid)."""
    stamp = datetime(year, month, day, hh, mm, ss, us, tzinfo=zone)
    return int(stamp.timestamp()) * 1_000_000 + us


def syslog_micros(line: str, year: int | None = None, zone: tzinfo = UTC) -> int | None:
    """The time at the start of a syslog line as epoch microseconds (None if it has none).

    ``year`` and ``zone`` are those of ``strip_syslog`` (the ``year`` and ``tz`` options). Many
    lines share a stamp, so stamps are parsed once and remembered.
    """
    match = _STAMP.match(line)
    return _stamp_micros(match.group(1), year, zone) if match is not None else None


def stamp_end(line: str) -> int:
    """Where the time stamp that opens a syslog line ends (0 if there is none)."""
    match = _STAMP.match(line)
    return match.end() if match is not None else 0


@lru_cache(maxsize=4096)
def _stamp_micros(stamp: str, year: int | None, zone: tzinfo) -> int | None:
    return to_micros(strip_syslog(f"{stamp} -", year, zone).timestamp)


def arrow_zone(zone: tzinfo) -> str | None:
    """A zone as Arrow names it (``Asia/Ho_Chi_Minh``, ``+07:00``), or None for UTC."""
    key = getattr(zone, "key", None)
    if isinstance(key, str):
        return key
    offset = zone.utcoffset(None)
    if offset is None or not offset:
        return None
    minutes = int(offset.total_seconds()) // 60
    sign = "+" if minutes >= 0 else "-"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
