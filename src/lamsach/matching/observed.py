"""How a value seen in a log is normalised before matching: the one scalar definition.

The reference matcher uses these functions value by value; the kernel does the same with
vectorised string operations and falls back to them for the rare values it cannot vectorise, so the
regular expressions here are shared with the kernel and must keep the same meaning in Rust's regex.
"""

from __future__ import annotations

import contextlib
import ipaddress
import re
from dataclasses import dataclass
from functools import lru_cache

import idna

from lamsach.indicators.normalize import (
    InvalidIndicator,
    normalize_hostname,
    normalize_url,
    refang,
)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Strict dotted decimal, exactly what ipaddress.IPv4Address accepts (no leading zeros).
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
IPV4_PATTERN = rf"^{_OCTET}\.{_OCTET}\.{_OCTET}\.{_OCTET}$"
# "[2001:db8::1]:443" or "[2001:db8::1]" -> the address inside the brackets.
BRACKET_PATTERN = r"^\[([^\]]*)\](?::[0-9]+)?$"
# "evil.com:8080" (exactly one colon, numeric port) -> "evil.com".
PORT_PATTERN = r"^([^:]*):[0-9]+$"
# The authority of a URL, with or without scheme, user info (up to the last @) removed.
URL_HOST_PATTERN = r"^(?:[A-Za-z][A-Za-z0-9+.\-]*://)?(?:[^/?#]*@)?([^/?#]*)"


def _python_regex(pattern: str) -> re.Pattern[str]:
    # Rust's "$" is the end of the text; Python's also matches before a final newline.
    return re.compile(pattern.replace("$", r"\Z"))


_IPV4_RE = _python_regex(IPV4_PATTERN)
_BRACKET_RE = _python_regex(BRACKET_PATTERN)
_PORT_RE = _python_regex(PORT_PATTERN)
_URL_HOST_RE = _python_regex(URL_HOST_PATTERN)


@lru_cache(maxsize=1 << 16)  # IPv6 answers and peers recur from batch to batch
def parse_ip(text: str) -> IPAddress | None:
    """The address in an IP column, IPv4-mapped IPv6 taken as IPv4; None when it is not one."""
    if _IPV4_RE.match(text):
        return ipaddress.IPv4Address(text)
    if ":" not in text:
        return None
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    try:
        address = ipaddress.IPv6Address(text)
    except ValueError:
        return None
    if address.scope_id is not None:  # "fe80::1%eth0" is fe80::1 for matching
        address = ipaddress.IPv6Address(int(address))
    return address.ipv4_mapped or address


def strip_host_port(text: str) -> str:
    """Remove the brackets of an IPv6 literal, then a trailing ``:port`` (in this order)."""
    text = _BRACKET_RE.sub(r"\1", text, count=1)
    return _PORT_RE.sub(r"\1", text, count=1)


def normalize_ascii_host(text: str) -> str:
    """The vectorisable part: port and brackets removed, lower-case, one trailing dot dropped."""
    host = strip_host_port(text).lower()
    return host[:-1] if host.endswith(".") else host


def normalize_host(text: str) -> str | None:
    """Canonical form of a host name seen in a log (punycode for international names)."""
    if text.isascii():
        host = normalize_ascii_host(text)
        return host or None
    return normalize_unicode_host(text)


def normalize_unicode_host(text: str) -> str | None:
    """A non-ASCII host: IDNA when valid, otherwise label by label so parents still match."""
    host = strip_host_port(text)
    try:
        return normalize_hostname(host)
    except InvalidIndicator:
        pass
    labels = host.lower().split(".")
    if labels and labels[-1] == "":
        labels.pop()
    result = []
    for label in labels:
        if not label.isascii():
            with contextlib.suppress(idna.IDNAError, UnicodeError, ValueError):
                label = idna.alabel(idna.uts46_remap(label, std3_rules=False)).decode("ascii")
        result.append(label)
    return ".".join(result) or None


def host_ip(host: str) -> IPAddress | None:
    """The address when a normalised host is an IP literal."""
    if _IPV4_RE.match(host):
        return ipaddress.IPv4Address(host)
    if ":" in host:
        return parse_ip(host)
    return None


def url_host(url: str) -> str | None:
    """The normalised host of a URL (with or without scheme), None when it has none."""
    match = _URL_HOST_RE.match(url)
    if match is None or not match.group(1):
        return None
    return normalize_host(match.group(1))


def canonical_url(url: str) -> str | None:
    """The canonical URL as indicator lists hold them, None when it is not a usable URL."""
    try:
        return normalize_url(url)
    except (InvalidIndicator, ValueError):
        return None


def parent_names(host: str) -> list[str]:
    """The host and every parent: a.b.evil.com, b.evil.com, evil.com, com."""
    labels = host.split(".")
    return [".".join(labels[i:]) for i in range(len(labels))]


_HASH_LENGTHS = frozenset((32, 40, 64))
_HEX = frozenset("0123456789abcdef")
_IP_PORT_RE = re.compile(r"^(?:\[([^\]]+)\]|([0-9.]+)):([0-9]{1,5})$")


@dataclass(frozen=True)
class Query:
    """One value asked about (``ioc check``), classified the way the kernel sees log values."""

    kind: str  # "ip", "host", "url" or "hash"
    text: str  # the normalised host, the URL as given, or the lower-case hash
    address: IPAddress | None = None
    port: int | None = None


def classify_query(value: str) -> Query | None:
    """What a value typed by a user is: an IP (with or without port), a URL, a hash or a host."""
    text = refang(value).strip()
    if not text:
        return None
    if "://" in text:
        return Query("url", text)
    lower = text.lower()
    if len(lower) in _HASH_LENGTHS and _HEX.issuperset(lower):
        return Query("hash", lower)
    address = parse_ip(text)
    if address is not None:
        return Query("ip", text, address)
    match = _IP_PORT_RE.match(text)
    if match:
        address = parse_ip(match.group(1) or match.group(2))
        port = int(match.group(3))
        if address is not None and port < 65536:
            return Query("ip", text, address, port)
    host = normalize_host(text)
    if host is None:
        return None
    address = host_ip(host)
    if address is not None:
        return Query("ip", host, address)
    return Query("host", host)
