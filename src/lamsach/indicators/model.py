"""The indicator record every importer produces and every consumer reads."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class IndicatorType(StrEnum):
    """What an indicator's value is, which decides how it matches."""

    IPV4 = "ipv4"
    IPV6 = "ipv6"
    CIDR = "cidr"  # an IPv4 or IPv6 network, canonical "net/prefix"
    IP_PORT = "ip_port"  # "1.2.3.4:8080" or "[2001:db8::1]:443"
    DOMAIN = "domain"  # the domain and every subdomain of it
    HOSTNAME = "hostname"  # exactly this host name, no subdomains
    URL = "url"
    MD5 = "md5"
    SHA1 = "sha1"
    SHA256 = "sha256"


@dataclass(slots=True)
class Indicator:
    """One normalised indicator with where it came from.

    ``value`` is canonical for its type (lower-case, punycode, compressed IPv6, canonical URL),
    so two indicators are the same exactly when ``(type, value)`` are equal.
    """

    type: IndicatorType
    value: str
    sources: set[str] = field(default_factory=set)
    tags: set[str] = field(default_factory=set)
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    expires: datetime | None = None
    confidence: int | None = None  # 0-100 where the format gives one
    # The files it was read from, as the user named them ("-" for standard input).
    files: set[str] = field(default_factory=set)

    @property
    def key(self) -> tuple[IndicatorType, str]:
        return (self.type, self.value)

    def merge(self, other: Indicator) -> None:
        """Fold a duplicate of this indicator into it: sources, tags, files united, widest dates."""
        self.sources |= other.sources
        self.tags |= other.tags
        self.files |= other.files
        self.first_seen = _min(self.first_seen, other.first_seen)
        self.last_seen = _max(self.last_seen, other.last_seen)
        # An entry still listed somewhere without expiry does not expire.
        if self.expires is None or other.expires is None:
            self.expires = None
        else:
            self.expires = max(self.expires, other.expires)
        if other.confidence is not None:
            self.confidence = max(self.confidence or 0, other.confidence)


def _min(a: datetime | None, b: datetime | None) -> datetime | None:
    return b if a is None else a if b is None else min(a, b)


def _max(a: datetime | None, b: datetime | None) -> datetime | None:
    return b if a is None else a if b is None else max(a, b)
