"""The vectorised questions one set of indicators (the listed ones, or the allow-list) answers."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

import numpy as np
import polars as pl

from lamsach.matching.observed import Query, canonical_url, host_ip, url_host
from lamsach.matching.sections import (
    Pairs,
    Section,
    as_series,
    empty_pairs,
)

_BLOCK_FILTER_FROM = 4096  # below this many addresses, sorting them all is cheap enough


def concat_pairs(parts: list[Pairs]) -> Pairs:
    parts = [p for p in parts if len(p[0])]
    if not parts:
        return empty_pairs()
    if len(parts) == 1:
        return parts[0]
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


class Matcher:
    """Sections of one role. Every method takes arrays and returns (query index, id) pairs."""

    def __init__(self, sections: dict[str, Section]) -> None:
        self.sections = sections
        self._url_hosts: list[str] | None = None
        self._blocks: np.ndarray | None = None

    def has(self, *kinds: str) -> bool:
        return any(kind in self.sections and len(self.sections[kind]) for kind in kinds)

    def extra_nbytes(self) -> int:
        """Memory of the look-up aids made on first use (block filter, network ranges)."""
        total = self._blocks.nbytes if self._blocks is not None else 0
        for section in self.sections.values():
            ranges = section.ranges
            if ranges is not None:
                total += ranges.bounds.nbytes + ranges.offsets.nbytes + ranges.positions.nbytes
        return total

    def _get(self, kind: str) -> Section | None:
        section = self.sections.get(kind)
        return section if section is not None and len(section) else None

    # --- addresses --------------------------------------------------------------------------

    def ipv4(self, ips: np.ndarray) -> Pairs:
        """IPv4 addresses (uint32) against listed addresses and networks."""
        sections = [s for s in (self._get("ipv4"), self._get("cidr4")) if s is not None]
        if not sections or not len(ips):
            return empty_pairs()
        candidates = None
        if len(ips) >= _BLOCK_FILTER_FROM:
            # Most addresses in a log are in no /24 that holds a listed address or network.
            blocks = self.v4_blocks()
            block = ips >> np.uint32(8)
            candidates = np.flatnonzero((blocks[block >> np.uint32(3)] >> (block & 7)) & 1)
            ips = ips[candidates]
        order = np.argsort(ips, kind="stable")
        ordered = ips[order]
        parts = []
        for section in sections:
            q, ids = section.find_ipv4(ordered, presorted=True)
            parts.append((order[q] if candidates is None else candidates[order[q]], ids))
        return concat_pairs(parts)

    def v4_blocks(self) -> np.ndarray:
        """One bit per /24 (2 MiB): does it hold a listed address (with a port or not) or meet a
        listed network. Made on first use."""
        if self._blocks is None:
            marks = np.zeros(1 << 24, dtype=bool)
            for kind in ("ipv4", "ipport4", "cidr4"):
                section = self._get(kind)
                if section is None:
                    continue
                if kind == "ipv4":
                    marks[section.keys >> np.uint32(8)] = True
                    continue
                if kind == "ipport4":
                    marks[(section.keys >> np.uint64(24)).astype(np.int64)] = True
                    continue
                prefix = (section.keys >> np.uint64(32)).astype(np.int64)
                first = (section.keys & np.uint64(0xFFFFFFFF)).astype(np.int64) >> 8
                last = first + np.maximum((np.int64(1) << (32 - prefix)) >> 8, 1)
                narrow = last - first == 1
                marks[first[narrow]] = True
                for lo, hi in zip(first[~narrow].tolist(), last[~narrow].tolist(), strict=True):
                    marks[lo:hi] = True
            self._blocks = np.packbits(marks, bitorder="little")
        return self._blocks

    def ipv4_port(self, ips: np.ndarray, ports: np.ndarray) -> Pairs:
        """(IPv4, port) against listed IP:port values."""
        section = self._get("ipport4")
        return empty_pairs() if section is None else section.find_ipv4_port(ips, ports)

    def ipv6(self, address: int, port: int | None = None, any_port: bool = False) -> list[int]:
        """One IPv6 address: listed address, networks, and IP:port with this port (or any)."""
        ids: list[int] = []
        for kind in ("ipv6", "cidr6"):
            section = self._get(kind)
            if section is not None:
                ids += section.find_ipv6(address)
        section = self._get("ipport6")
        if section is not None and (port is not None or any_port):
            ids += section.find_ipv6(address, port)
        return ids

    def ipv6_port(self, address: int, port: int) -> list[int]:
        """One (IPv6, port) against listed IP:port values."""
        section = self._get("ipport6")
        return [] if section is None else section.find_ipv6(address, port)

    def address(
        self, address: ipaddress.IPv4Address | ipaddress.IPv6Address, port: int | None = None
    ) -> list[int]:
        """One address, as asked by a user: a bare address also finds its IP:port entries."""
        if address.version == 6:
            return self.ipv6(int(address), port, any_port=port is None)
        ip = np.array([int(address)], dtype=np.uint32)
        ids = self.ipv4(ip)[1].tolist()
        section = self._get("ipport4")
        if section is not None:
            if port is None:
                ids += section.ipv4_port_ids(int(address))
            else:
                ids += section.find_ipv4_port(ip, np.array([port]))[1].tolist()
        return ids

    # --- names ------------------------------------------------------------------------------

    def names(self, hosts: pl.Series) -> Pairs:
        """Normalised host names against listed host names (exactly) and domains (and parents).

        Parents are looked up only at the label counts some listed domain has: for each such
        count, hosts that have ``cut`` labels more lose them in one split.
        """
        parts = []
        hostname = self._get("hostname")
        if hostname is not None:
            parts.append(hostname.find_strings(hosts))
        domain = self._get("domain")
        if domain is None or not len(hosts):
            return concat_pairs(parts)
        labels = hosts.str.count_matches(".", literal=True).to_numpy().astype(np.int64) + 1
        for count in domain.label_counts:
            extra = labels - count
            for cut in np.unique(extra[extra >= 0]).tolist():
                chosen = np.flatnonzero(extra == cut)
                names = hosts.gather(chosen)
                if cut:
                    names = names.str.splitn(".", cut + 1).struct.field(f"field_{cut}")
                q, ids = domain.find_strings(names)
                parts.append((chosen[q], ids))
        return concat_pairs(parts)

    def urls(self, urls: list[str]) -> Pairs:
        """URLs as written in a log against listed URLs, after canonicalisation."""
        section = self._get("url")
        if section is None or not urls:
            return empty_pairs()
        positions = []
        canonical = []
        for i, url in enumerate(urls):
            value = canonical_url(url)
            if value is not None:
                positions.append(i)
                canonical.append(value)
        q, ids = section.find_strings(as_series(canonical))
        return np.asarray(positions, dtype=np.int64)[q], ids

    def url_candidates(self, urls: pl.Series) -> np.ndarray:
        """Which URLs can be a listed URL once canonical (may say yes wrongly, never no).

        A canonical URL's ASCII host is lower-case text of the URL as written, so an ASCII URL that
        contains no listed URL's host cannot match; international and bracketed ones may.
        """
        section = self._get("url")
        if section is None or not len(urls):
            return np.zeros(len(urls), dtype=bool)
        if self._url_hosts is None:
            listed = section.strings(np.arange(len(section))).to_pylist()
            hosts = {urlsplit(v).hostname for v in listed if v}
            self._url_hosts = sorted(h for h in hosts if h)
        if not self._url_hosts:
            return np.ones(len(urls), dtype=bool)
        found = urls.str.contains_any(self._url_hosts, ascii_case_insensitive=True)
        # urlsplit drops tabs and newlines anywhere; brackets hold IPv6 in any spelling.
        unusual = (urls.str.len_bytes() != urls.str.len_chars()) | urls.str.contains(r"[\t\r\n\[]")
        return (found | unusual).fill_null(False).to_numpy()

    def hashes(self, values: pl.Series) -> Pairs:
        """Lower-case hex digests against listed MD5, SHA-1 and SHA-256."""
        parts = []
        for kind in ("md5", "sha1", "sha256"):
            section = self._get(kind)
            if section is not None:
                parts.append(section.find_strings(values))
        return concat_pairs(parts)

    # --- one value --------------------------------------------------------------------------

    def query(self, query: Query) -> list[int]:
        """Every id matching one classified value (``ioc check``)."""
        if query.kind == "ip":
            assert query.address is not None
            return self.address(query.address, query.port)
        if query.kind == "host":
            return self.names(as_series([query.text]))[1].tolist()
        if query.kind == "hash":
            return self.hashes(as_series([query.text]))[1].tolist()
        ids = self.urls([query.text])[1].tolist()
        host = url_host(query.text)
        if host is not None:
            ids += self.query_host(host)
        return ids

    def query_host(self, host: str) -> list[int]:
        """A normalised host, which may be an IP literal (then no port is implied)."""
        address = host_ip(host)
        if address is None:
            return self.names(as_series([host]))[1].tolist()
        if address.version == 6:
            return self.ipv6(int(address))
        return self.ipv4(np.array([int(address)], dtype=np.uint32))[1].tolist()
