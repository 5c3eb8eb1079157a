"""Distinct values of a log column, parsed once: addresses as numbers, hosts as normal names.

The kernel works on these rather than on every record, so a name seen a thousand times in a batch
is normalised and looked up once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from lamsach.matching.matcher import Matcher, concat_pairs
from lamsach.matching.observed import (
    BRACKET_PATTERN,
    PORT_PATTERN,
    normalize_unicode_host,
    parse_ip,
)
from lamsach.matching.sections import Pairs, as_series, empty_pairs, parse_ipv4

SAMPLE = 2048  # values sampled to decide whether deduplicating a column pays


def deduplicate(values: pa.Array) -> tuple[np.ndarray, pa.Array]:
    """(code of each value, -1 for null; the distinct values).

    Deduplicating pays when values repeat (DNS names, client addresses) and costs more than it
    saves when nearly all differ, so a sample decides; dictionary-encoded columns come free.
    """
    if not pa.types.is_dictionary(values.type):
        if len(values) > 4 * SAMPLE and _mostly_distinct(values):
            codes = np.arange(len(values), dtype=np.int64)
            if values.null_count:
                codes[values.is_null().to_numpy(zero_copy_only=False)] = -1
            return codes, as_string(values)
        values = pc.dictionary_encode(values)
    codes = pc.fill_null(values.indices, -1).to_numpy().astype(np.int64, copy=False)
    return codes, as_string(values.dictionary)


def _mostly_distinct(values: pa.Array) -> bool:
    """Whether about half the values or more differ, estimated from a spread sample.

    With D distinct values, a sample of s repeats about s*s / (2*D) of its values (the birthday
    count), so the repeats seen give D.
    """
    step = len(values) // SAMPLE
    sample = values.take(pa.array(np.arange(0, step * SAMPLE, step)))
    repeats = SAMPLE - pc.count_distinct(sample, mode="all").as_py()
    return bool(repeats == 0 or SAMPLE * SAMPLE / (2 * repeats) > len(values) / 2)


def as_string(values: pa.Array) -> pa.Array:
    return values if pa.types.is_string(values.type) else values.cast(pa.string())


def expand(codes: np.ndarray, pairs: Pairs, n_distinct: int) -> Pairs:
    """From (distinct value, id) pairs to (position, id) for every position holding the value."""
    which, ids = pairs
    if not len(which):
        return empty_pairs()
    order = np.argsort(which, kind="stable")
    which, ids = which[order], ids[order]
    counts = np.bincount(which, minlength=n_distinct + 1)  # slot n_distinct: nulls, never hit
    firsts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    codes = np.where(codes < 0, n_distinct, codes)
    positions = np.flatnonzero(counts[codes])
    per = counts[codes[positions]]
    rows = np.repeat(positions, per)
    step = np.arange(len(rows)) - np.repeat(np.cumsum(per) - per, per)
    return rows, ids[np.repeat(firsts[codes[positions]], per) + step]


@dataclass
class Addresses:
    """Distinct strings parsed as addresses: IPv4 (incl. mapped) as uint32, IPv6 as ints."""

    is_v4: np.ndarray
    v4: np.ndarray
    v6: dict[int, int]  # distinct index -> address

    @classmethod
    def parse(cls, texts: pl.Series, maybe_v6: np.ndarray | None = None) -> Addresses:
        is_v4, v4 = parse_ipv4(texts)
        if maybe_v6 is None:
            maybe_v6 = texts.str.contains(":", literal=True).fill_null(False).to_numpy()
        v6: dict[int, int] = {}
        candidates = np.flatnonzero(maybe_v6 & ~is_v4)
        for i, text in zip(candidates.tolist(), texts.gather(candidates).to_list(), strict=True):
            address = parse_ip(text) if text is not None else None
            if address is None:
                continue
            if address.version == 4:
                is_v4[i] = True
                v4[i] = int(address)
            else:
                v6[i] = int(address)
        return cls(is_v4, v4, v6)

    def match(self, matcher: Matcher, only: np.ndarray | None = None) -> Pairs:
        """(distinct index, id) for addresses matching plain IPs and networks (no port)."""
        chosen = np.flatnonzero(self.is_v4 if only is None else self.is_v4 & only)
        q, ids = matcher.ipv4(self.v4[chosen])
        parts = [(chosen[q], ids)]
        for i, address in self.v6.items():
            if only is None or only[i]:
                found = matcher.ipv6(address)
                parts.append((np.full(len(found), i, dtype=np.int64), np.asarray(found, np.int64)))
        return concat_pairs(parts)


def normalize_hosts(raw: pa.Array) -> pl.Series:
    """Hosts as observed.normalize_host makes them; "" where there is no host.

    The regular expressions run only on the few values with a colon (ports, IPv6 literals).
    """
    hosts = as_series(pc.ascii_lower(raw)).fill_null("")
    colon = np.flatnonzero(hosts.str.contains(":", literal=True).to_numpy())
    if len(colon):
        stripped = (
            hosts.gather(colon).str.replace(BRACKET_PATTERN, "$1").str.replace(PORT_PATTERN, "$1")
        )
        hosts = hosts.scatter(colon, stripped)
    dotted = np.flatnonzero(hosts.str.ends_with(".").to_numpy())
    if len(dotted):
        hosts = hosts.scatter(dotted, hosts.gather(dotted).str.strip_suffix("."))
    ascii = pc.fill_null(pc.string_is_ascii(raw), True).to_numpy(zero_copy_only=False)
    unicode = np.flatnonzero(~ascii)
    if len(unicode):
        texts = pc.take(raw, pa.array(unicode)).to_pylist()
        hosts = hosts.scatter(unicode, [normalize_unicode_host(t) or "" for t in texts])
    return hosts


@dataclass
class Hosts:
    """Distinct hosts: IP literals parsed, the rest normalised names (``names[i]`` is ``at[i]``)."""

    size: int
    addresses: Addresses
    names: pl.Series
    at: np.ndarray

    @classmethod
    def parse(cls, raw: pa.Array) -> Hosts:
        # A strict dotted quad (most DNS answers) is already normal: only the rest is normalised.
        quad, number = parse_ipv4(as_series(raw))
        rest = np.flatnonzero(~quad)
        hosts = normalize_hosts(raw.take(pa.array(rest)))
        present = (hosts != "").to_numpy()
        maybe_v6 = hosts.str.contains(":", literal=True).to_numpy()
        found = Addresses.parse(hosts, maybe_v6 & present)
        found.is_v4 &= present
        quad[rest] = found.is_v4
        number[rest[found.is_v4]] = found.v4[found.is_v4]
        name = present & ~found.is_v4
        name[list(found.v6)] = False
        v6 = {int(rest[i]): address for i, address in found.v6.items()}
        addresses = Addresses(quad, number, v6)
        return cls(len(raw), addresses, hosts.filter(pl.Series(name)), rest[name])

    def match(self, matcher: Matcher, only: np.ndarray | None = None) -> Pairs:
        parts = [self.addresses.match(matcher, only)]
        chosen = np.arange(len(self.at)) if only is None else np.flatnonzero(only[self.at])
        if len(chosen) and matcher.has("domain", "hostname"):
            q, ids = matcher.names(self.names.gather(chosen))
            parts.append((self.at[chosen[q]], ids))
        return concat_pairs(parts)

    def allowed(self, matcher: Matcher, candidates: np.ndarray) -> np.ndarray:
        allowed = np.zeros(self.size, dtype=bool)
        if len(candidates) and has_any(matcher):
            only = np.zeros(self.size, dtype=bool)
            only[candidates] = True
            allowed[self.match(matcher, only)[0]] = True
        return allowed


def has_any(matcher: Matcher) -> bool:
    return any(len(s) for s in matcher.sections.values())
