"""Sorted numeric arrays that answer, for whole arrays of values, which indicators match.

One section holds the indicators of one kind (IPv4 addresses, IPv4 networks, domains, ...) as a
sorted key array. Strings are keyed by a 32-bit hash recomputed at load (never stored, so a change
of hash function cannot corrupt an index) and every hash hit is confirmed against the string itself,
so collisions cost time, never a false hit. IPv6 is rare in lists and logs and kept in dicts.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from lamsach.matching.observed import IPV4_PATTERN
from lamsach.matching.strkeys import string_keys

HASH_SEED = 0x6C616D73616368  # fixed: hashes of a run must agree between index and queries
EMPTY = np.empty(0, dtype=np.int64)

STRING_KINDS = ("domain", "hostname", "url", "md5", "sha1", "sha256")
V4_KINDS = ("ipv4", "cidr4", "ipport4")
V6_KINDS = ("ipv6", "cidr6", "ipport6")
KINDS = V4_KINDS + V6_KINDS + STRING_KINDS

Pairs = tuple[np.ndarray, np.ndarray]  # (query index, global indicator id), both int64


def empty_pairs() -> Pairs:
    return EMPTY, EMPTY


def as_series(values: pa.Array | pa.ChunkedArray | pl.Series | list[str]) -> pl.Series:
    if isinstance(values, pl.Series):
        return values
    if isinstance(values, list):
        return pl.Series(values, dtype=pl.String)
    series = pl.from_arrow(values)
    assert isinstance(series, pl.Series)
    return series.cast(pl.String)


def hash_strings(values: pl.Series) -> np.ndarray:
    """32-bit keys of strings (strkeys), the same for the same string on every machine.

    32 bits halve the key memory; the few collisions among millions of listed names only cost
    an extra string comparison, since every hash hit is confirmed against the string.
    """
    return hash_arrow_strings(values.to_arrow())


def dotted(numbers: np.ndarray) -> pl.Series:
    """IPv4 addresses (integers) as dotted-quad strings."""
    n = pl.col("n")
    octets = [((n // (1 << shift)) % 256).cast(pl.String) for shift in (24, 16, 8, 0)]
    frame = pl.DataFrame({"n": numbers.astype(np.int64)})
    return frame.select(pl.concat_str(octets, separator=".")).to_series()


def parse_ipv4(values: pl.Series) -> tuple[np.ndarray, np.ndarray]:
    """(is an IPv4 address, its value as uint32) for each string; nulls are not addresses."""
    ok = values.str.contains(IPV4_PATTERN).fill_null(False).to_numpy()
    number = np.zeros(len(values), dtype=np.uint32)
    if ok.any():
        # Only strict dotted quads are left, so Arrow's integer cast cannot fail.
        chosen = (values if ok.all() else values.filter(pl.Series(ok))).to_arrow()
        octets = pc.cast(pc.list_flatten(pc.split_pattern(chosen, ".")), pa.uint32())
        parts = octets.to_numpy().reshape(-1, 4)
        number[ok] = (parts[:, 0] << 24) | (parts[:, 1] << 16) | (parts[:, 2] << 8) | parts[:, 3]
    return ok, number


def search(keys: np.ndarray, queries: np.ndarray, presorted: bool = False) -> Pairs:
    """Positions of queries found in a sorted key array: (query index, key position).

    Queries are sorted first: searching in order is several times faster than at random.
    """
    if len(keys) == 0 or len(queries) == 0:
        return empty_pairs()
    if presorted:
        order, ordered = None, queries
    else:
        order = np.argsort(queries, kind="stable")
        ordered = queries[order]
    pos = np.searchsorted(keys, ordered)
    np.minimum(pos, len(keys) - 1, out=pos)
    found = keys[pos] == ordered
    where = np.flatnonzero(found) if order is None else order[found]
    return where.astype(np.int64), pos[found].astype(np.int64)


def prefix_mask(prefix: int) -> np.uint32:
    return np.uint32((0xFFFFFFFF << (32 - prefix)) & 0xFFFFFFFF) if prefix else np.uint32(0)


@dataclass
class Intervals:
    """IPv4 networks cut into disjoint ranges, each with the networks covering it.

    One search per address finds every listed network containing it, however the networks
    nest; ``bounds`` are the range starts, ``offsets`` index ``positions`` (CSR).
    """

    bounds: np.ndarray
    offsets: np.ndarray
    positions: np.ndarray

    @classmethod
    def of_networks(cls, keys: np.ndarray) -> Intervals:
        prefix = (keys >> np.uint64(32)).astype(np.int64)
        starts = (keys & np.uint64(0xFFFFFFFF)).astype(np.int64)
        ends = starts + (np.int64(1) << (32 - prefix))  # exclusive; 2**32 for the last ones
        bounds = np.unique(np.concatenate((starts, ends[ends < (1 << 32)])))
        first = np.searchsorted(bounds, starts)
        last = np.searchsorted(bounds, ends)
        count = last - first
        where = np.repeat(first, count) + (
            np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count)
        )
        position = np.repeat(np.arange(len(keys)), count)
        order = np.argsort(where, kind="stable")
        offsets = np.searchsorted(where[order], np.arange(len(bounds) + 1))
        return cls(bounds.astype(np.uint32), offsets.astype(np.int64), position[order])

    def find(self, ips: np.ndarray, presorted: bool = False) -> Pairs:
        """(address index, position of a covering network) for every cover of every address."""
        if presorted:
            order, ordered = None, ips
        else:
            order = np.argsort(ips, kind="stable")
            ordered = ips[order]
        slot = np.searchsorted(self.bounds, ordered, side="right") - 1
        inside = np.flatnonzero(slot >= 0)
        slot = slot[inside]
        count = self.offsets[slot + 1] - self.offsets[slot]
        hit = count > 0
        inside, slot, count = inside[hit], slot[hit], count[hit]
        rows = np.repeat(inside, count)
        step = np.arange(len(rows)) - np.repeat(np.cumsum(count) - count, count)
        positions = self.positions[np.repeat(self.offsets[slot], count) + step]
        where = rows if order is None else order[rows]
        return where.astype(np.int64), positions.astype(np.int64)


class BadValue(ValueError):
    """An indicator value that is not canonical for its kind."""


def _first_bad(values: pl.Series, ok: np.ndarray, kind: str) -> BadValue:
    bad = values.filter(pl.Series(~ok)).head(1).to_list()
    return BadValue(f"not a valid {kind} value: {bad[0]!r}")


def hash_arrow_strings(values: pa.Array) -> np.ndarray:
    """hash_strings over an Arrow array."""
    return string_keys(values, HASH_SEED)


def label_counts(values: pa.Array) -> tuple[int, ...]:
    """The distinct numbers of labels of the names in an array."""
    dots = pc.count_substring(values, pattern=".")
    return tuple(sorted(int(c) + 1 for c in pc.unique(dots).to_pylist() if c is not None))


def compute_keys(kind: str, values: pa.Array) -> np.ndarray:
    """The sort key of each value of one kind (objects for the IPv6 kinds)."""
    if kind in STRING_KINDS:
        return hash_arrow_strings(values)
    return _address_keys(kind, as_series(values))


def _address_keys(kind: str, values: pl.Series) -> np.ndarray:
    if kind == "ipv4":
        ok, number = parse_ipv4(values)
        if not ok.all():
            raise _first_bad(values, ok, kind)
        return number
    if kind == "cidr4":
        parts = values.str.split_exact("/", 1).struct.unnest()
        ok, number = parse_ipv4(parts[parts.columns[0]])
        prefix = parts[parts.columns[1]].cast(pl.Int64, strict=False).fill_null(-1).to_numpy()
        ok &= (prefix >= 0) & (prefix <= 32)
        if not ok.all():
            raise _first_bad(values, ok, kind)
        masks = np.array([prefix_mask(p) for p in range(33)], dtype=np.uint32)[prefix]
        return (prefix.astype(np.uint64) << np.uint64(32)) | (number & masks).astype(np.uint64)
    if kind == "ipport4":
        parts = values.str.split_exact(":", 1).struct.unnest()
        ok, number = parse_ipv4(parts[parts.columns[0]])
        port = parts[parts.columns[1]].cast(pl.Int64, strict=False).fill_null(-1).to_numpy()
        ok &= (port >= 0) & (port < 65536)
        if not ok.all():
            raise _first_bad(values, ok, kind)
        return (number.astype(np.uint64) << np.uint64(16)) | port.astype(np.uint64)
    keys = np.empty(len(values), dtype=object)
    for i, text in enumerate(values.to_list()):
        keys[i] = v6_key(kind, text)
    return keys


def v6_key(kind: str, text: str) -> tuple[int, int]:
    """(address or network as int, prefix or port) of an IPv6 indicator value."""
    try:
        if kind == "ipv6":
            return int(ipaddress.IPv6Address(text)), 128
        if kind == "cidr6":
            net = ipaddress.IPv6Network(text, strict=False)
            return int(net.network_address), net.prefixlen
        host, sep, port = text[1:].partition("]:")
        if not text.startswith("[") or not sep or not port.isdigit():
            raise ValueError(text)
        return int(ipaddress.IPv6Address(host)), int(port)
    except ValueError:
        raise BadValue(f"not a valid {kind} value: {text!r}") from None


def sort_order(kind: str, keys: np.ndarray) -> np.ndarray | None:
    """The permutation that sorts a section, None when it is sorted already."""
    if kind in V6_KINDS:
        order = np.array(sorted(range(len(keys)), key=keys.__getitem__), dtype=np.int64)
    elif len(keys) > 1 and bool(np.all(keys[1:] >= keys[:-1])):
        return None
    else:
        order = np.argsort(keys, kind="stable")
    if np.array_equal(order, np.arange(len(keys))):
        return None
    return order


@dataclass
class Section:
    """The indicators of one kind: ids ``start .. start+len(keys)``, keys sorted.

    String kinds keep their strings (to confirm hash hits); IPv4 kinds keep only the numbers and
    format them back when asked, which saves most of their memory.
    """

    kind: str
    start: int
    keys: np.ndarray
    values: pa.StringArray | None
    collisions: bool = False  # two listed strings with one hash: confirm further positions
    label_counts: tuple[int, ...] = ()  # domains: how many labels listed names have
    prefixes: tuple[int, ...] = ()  # networks: the prefix lengths present
    v6: dict[tuple[int, int], int] = field(default_factory=dict)  # IPv6 key -> id
    ranges: Intervals | None = None  # IPv4 networks as disjoint ranges, made when first used

    @classmethod
    def make(cls, kind: str, start: int, keys: np.ndarray, values: pa.StringArray) -> Section:
        section = cls(kind, start, keys, None if kind in V4_KINDS else values)
        if kind in STRING_KINDS and len(keys) > 1:
            section.collisions = bool(np.any(keys[1:] == keys[:-1]))
        if kind == "domain" and len(keys):
            section.label_counts = label_counts(values)
        if kind == "cidr4" and len(keys):
            section.prefixes = tuple(int(p) for p in np.unique(keys >> np.uint64(32)))
        if kind == "cidr6":
            section.prefixes = tuple(sorted({int(p) for _, p in keys}))
        if kind in V6_KINDS:
            section.v6 = {key: start + i for i, key in enumerate(keys)}
        return section

    def strings(self, positions: np.ndarray) -> pa.Array:
        """The indicator values at some positions of the section."""
        if self.values is not None:
            return self.values.take(pa.array(positions, pa.int64()))
        keys = self.keys[positions]
        if self.kind == "ipv4":
            text = dotted(keys)
        elif self.kind == "cidr4":
            prefix = pl.Series(keys >> np.uint64(32)).cast(pl.String)
            text = dotted(keys & np.uint64(0xFFFFFFFF)) + "/" + prefix
        else:
            port = pl.Series(keys & np.uint64(0xFFFF)).cast(pl.String)
            text = dotted(keys >> np.uint64(16)) + ":" + port
        return text.cast(pl.String).to_arrow().cast(pa.string())

    def nbytes(self) -> int:
        size = self.values.nbytes if self.values is not None else 0
        return size + (self.keys.nbytes if self.keys.dtype != object else 120 * len(self.keys))

    def __len__(self) -> int:
        return len(self.keys)

    def find_strings(self, queries: pl.Series, hashes: np.ndarray | None = None) -> Pairs:
        """Exact string matches: (query index, id)."""
        if not len(self.keys) or not len(queries):
            return empty_pairs()
        if hashes is None:
            hashes = hash_strings(queries)
        qidx, pos = search(self.keys, hashes)
        if not len(qidx):
            return empty_pairs()
        found_q: list[np.ndarray] = []
        found_p: list[np.ndarray] = []
        assert self.values is not None
        while len(qidx):
            listed = pc.take(self.values, pa.array(pos))
            asked = queries.gather(qidx).to_arrow()
            same = pc.equal(listed, asked).to_numpy(zero_copy_only=False)
            found_q.append(qidx[same])
            found_p.append(pos[same])
            if not self.collisions:
                break
            # Another listed string with the same hash sits at the next position, if any.
            qidx, pos = qidx[~same], pos[~same] + 1
            more = pos < len(self.keys)
            qidx, pos = qidx[more], pos[more]
            more = self.keys[pos] == hashes[qidx]
            qidx, pos = qidx[more], pos[more]
        q = np.concatenate(found_q)
        return q, np.concatenate(found_p) + self.start

    def find_ipv4(self, ips: np.ndarray, presorted: bool = False) -> Pairs:
        """IPv4 addresses (uint32) against listed addresses or networks."""
        if not len(self.keys) or not len(ips):
            return empty_pairs()
        if self.kind == "ipv4":
            q, pos = search(self.keys, ips, presorted)
            return q, pos + self.start
        if self.ranges is None:
            self.ranges = Intervals.of_networks(self.keys)
        q, pos = self.ranges.find(ips, presorted)
        return q, pos + self.start

    def find_ipv4_port(self, ips: np.ndarray, ports: np.ndarray) -> Pairs:
        """(address, port) against listed IP:port values; ports outside 0-65535 never match."""
        if not len(self.keys) or not len(ips):
            return empty_pairs()
        valid = (ports >= 0) & (ports < 65536)
        key = (ips.astype(np.uint64) << np.uint64(16)) | np.where(valid, ports, 0).astype(np.uint64)
        q, pos = search(self.keys, key)
        keep = valid[q]
        return q[keep], pos[keep] + self.start

    def ipv4_port_ids(self, ip: int) -> list[int]:
        """Every listed IP:port with this IPv4 address, whatever the port."""
        lo = np.searchsorted(self.keys, np.uint64(ip) << np.uint64(16))
        hi = np.searchsorted(self.keys, np.uint64(ip + 1) << np.uint64(16))
        return list(range(self.start + int(lo), self.start + int(hi)))

    def find_ipv6(self, address: int, port: int | None = None) -> list[int]:
        """IPv6 ids matching an address (and port, for the IP:port kind)."""
        if not self.v6:
            return []
        if self.kind == "ipv6":
            found = self.v6.get((address, 128))
            return [] if found is None else [found]
        if self.kind == "ipport6":
            if port is None:
                return [i for (a, _), i in self.v6.items() if a == address]
            found = self.v6.get((address, port))
            return [] if found is None else [found]
        ids = []
        for prefix in self.prefixes:
            net = address & (((1 << 128) - 1) ^ ((1 << (128 - prefix)) - 1))
            found = self.v6.get((net, prefix))
            if found is not None:
                ids.append(found)
        return ids
