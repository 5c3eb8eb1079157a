"""A tiny pure-Python matcher with the kernel's exact semantics: the oracle the tests trust.

It is written for clarity, value by value, and shares only the scalar normalisation of observed
values (observed.py) with the fast index and kernel.

Semantics of a record (one hit per record and indicator; the first field in FIELDS wins):
- dst_ip / src_ip: the address (IPv4-mapped IPv6 as IPv4) matches listed IPs, listed networks
  containing it, and listed IP:port values with the record's dst_port / src_port;
- host and each answer: the normalised name matches listed domains it equals or is under, and
  listed host names it equals; an IP literal there matches like an address without port;
- url: the canonical URL matches listed URLs, and its host matches like the host column;
- hashes: each lower-cased digest matches listed MD5/SHA-1/SHA-256.
A value that matches the allow-list in the same way never matches. The suspect is the internal
side: for IP fields the side opposite the listed address, for other fields the source, unless that
side is external and the other internal; for DNS answers always the client (src_ip).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from lamsach.indicators.model import Indicator, IndicatorType
from lamsach.matching.direction import DEFAULT_INTERNAL, InternalNetworks
from lamsach.matching.observed import (
    IPAddress,
    Query,
    canonical_url,
    classify_query,
    host_ip,
    normalize_host,
    parent_names,
    parse_ip,
    url_host,
)

FIELDS = ("dst_ip", "src_ip", "host", "url", "answers", "hashes")
_PORT_OF = {"dst_ip": "dst_port", "src_ip": "src_port"}


def _ip_port_key(value: str) -> tuple[IPAddress, int]:
    if value.startswith("["):
        host, _, port = value[1:].partition("]:")
    else:
        host, _, port = value.rpartition(":")
    return ipaddress.ip_address(host), int(port)


class ReferenceSet:
    """One set of indicators in plain dicts."""

    def __init__(self, indicators: Iterable[Indicator]) -> None:
        merged: dict[tuple[IndicatorType, str], Indicator] = {}
        for ind in indicators:
            seen = merged.get(ind.key)
            if seen is None:
                merged[ind.key] = Indicator(
                    ind.type, ind.value, set(ind.sources), set(ind.tags), ind.first_seen,
                    ind.last_seen, ind.expires, ind.confidence,
                )  # fmt: skip
            else:
                seen.merge(ind)
        self.all = list(merged.values())
        self.addresses: dict[IPAddress, Indicator] = {}
        self.networks: list[tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, Indicator]] = []
        self.ip_ports: dict[tuple[IPAddress, int], Indicator] = {}
        self.names: dict[IndicatorType, dict[str, Indicator]] = {
            t: {} for t in (IndicatorType.DOMAIN, IndicatorType.HOSTNAME, IndicatorType.URL)
        }
        self.hashes: dict[str, Indicator] = {}
        for ind in self.all:
            if ind.type in (IndicatorType.IPV4, IndicatorType.IPV6):
                self.addresses[ipaddress.ip_address(ind.value)] = ind
            elif ind.type is IndicatorType.CIDR:
                self.networks.append((ipaddress.ip_network(ind.value, strict=False), ind))
            elif ind.type is IndicatorType.IP_PORT:
                self.ip_ports[_ip_port_key(ind.value)] = ind
            elif ind.type in self.names:
                self.names[ind.type][ind.value] = ind
            else:
                self.hashes[ind.value] = ind

    def address(self, address: IPAddress, port: int | None = None, any_port: bool = False) -> list:
        found = [self.addresses[address]] if address in self.addresses else []
        found += [ind for net, ind in self.networks if net.version == address.version
                  and address in net]  # fmt: skip
        if any_port:
            found += [ind for (a, _), ind in self.ip_ports.items() if a == address]
        elif port is not None and (address, port) in self.ip_ports:
            found.append(self.ip_ports[(address, port)])
        return found

    def host(self, host: str) -> list[Indicator]:
        """A normalised host: an IP literal, or a name under listed domains / a listed host."""
        address = host_ip(host)
        if address is not None:
            return self.address(address)
        domains = self.names[IndicatorType.DOMAIN]
        found = [domains[name] for name in parent_names(host) if name in domains]
        hostnames = self.names[IndicatorType.HOSTNAME]
        if host in hostnames:
            found.append(hostnames[host])
        return found

    def url(self, url: str) -> list[Indicator]:
        found = []
        canonical = canonical_url(url)
        urls = self.names[IndicatorType.URL]
        if canonical is not None and canonical in urls:
            found.append(urls[canonical])
        host = url_host(url)
        if host is not None:
            found += self.host(host)
        return found

    def digest(self, value: str) -> list[Indicator]:
        return [self.hashes[value]] if value in self.hashes else []

    def query(self, query: Query) -> list[Indicator]:
        if query.kind == "ip":
            assert query.address is not None
            return self.address(query.address, query.port, any_port=query.port is None)
        if query.kind == "host":
            return self.host(query.text)
        if query.kind == "url":
            return self.url(query.text)
        return self.digest(query.text)


class ReferenceMatcher:
    """The listed indicators and the allow-list, matched value by value."""

    def __init__(self, indicators: Iterable[Indicator], allow: Iterable[Indicator] = ()) -> None:
        self.listed = ReferenceSet(indicators)
        self.allow = ReferenceSet(allow)

    def lookup(self, value: str) -> list[Indicator]:
        """Like IndicatorIndex.lookup."""
        query = classify_query(value)
        if query is None or self.allow.query(query):
            return []
        return self.listed.query(query)

    def match_rows(
        self, rows: Sequence[Mapping[str, Any]], internal: InternalNetworks = DEFAULT_INTERNAL
    ) -> list[dict[str, Any]]:
        """Hits of records given as dicts of canonical log columns (missing = null)."""
        hits = []
        for row in rows:
            seen: set[tuple[IndicatorType, str]] = set()
            for field, observed, ind in self._row_matches(row):
                if ind.key in seen:
                    continue
                seen.add(ind.key)
                suspect, other = _sides(row, field, internal)
                hits.append(
                    {
                        "time": row.get("time"),
                        "suspect": suspect,
                        "other": other,
                        "indicator": ind.value,
                        "indicator_type": ind.type.value,
                        "sources": sorted(ind.sources),
                        "tags": sorted(ind.tags),
                        "observed": observed,
                        "field": field,
                        "log_type": row.get("log_type"),
                        "file": row.get("file"),
                        "line": row.get("line"),
                    }
                )
        return hits

    def _row_matches(self, row: Mapping[str, Any]) -> Iterable[tuple[str, str, Indicator]]:
        for field in FIELDS:
            value = row.get(field)
            if value is None:
                continue
            if field in _PORT_OF:
                yield from self._ip_matches(field, value, row.get(_PORT_OF[field]))
            elif field == "url":
                if not self.allow.url(value):
                    yield from ((field, value, ind) for ind in self.listed.url(value))
            elif field == "hashes":
                for item in value:
                    if item is not None and not self.allow.digest(item.lower()):
                        yield from ((field, item, ind) for ind in self.listed.digest(item.lower()))
            else:
                for item in value if field == "answers" else [value]:
                    host = None if item is None else normalize_host(item)
                    if host is not None and not self.allow.host(host):
                        yield from ((field, item, ind) for ind in self.listed.host(host))

    def _ip_matches(
        self, field: str, value: str, port: int | None
    ) -> Iterable[tuple[str, str, Indicator]]:
        address = parse_ip(value)
        if address is None or self.allow.address(address, port):
            return
        for ind in self.listed.address(address):
            yield field, value, ind
        if port is not None and (address, port) in self.listed.ip_ports:
            shown = f"[{value}]:{port}" if ":" in value else f"{value}:{port}"
            yield field, shown, self.listed.ip_ports[(address, port)]


def _sides(row: Mapping[str, Any], field: str, internal: InternalNetworks) -> tuple[Any, Any]:
    src, dst = row.get("src_ip"), row.get("dst_ip")
    if field == "answers":
        return src, dst
    first, second = (dst, src) if field == "src_ip" else (src, dst)
    if not internal.contains(first) and internal.contains(second):
        return second, first
    return first, second
