"""The matching kernel: which records of a log batch match the index, as a table of hits.

A pure function of (batch, index). Every column is deduplicated first (logs repeat values a lot),
the distinct values are normalised and looked up with vectorised array operations, and only the
rare values that need it (IPv6, international names, URLs that may be listed) go through Python.
Semantics are those of reference.py, which the tests hold it to.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from lamsach.matching.direction import DEFAULT_INTERNAL, InternalNetworks
from lamsach.matching.hits import HIT_SCHEMA
from lamsach.matching.index import IndicatorIndex
from lamsach.matching.matcher import Matcher, concat_pairs
from lamsach.matching.observed import (
    BRACKET_PATTERN,
    PORT_PATTERN,
    URL_HOST_PATTERN,
    normalize_unicode_host,
    parse_ip,
)
from lamsach.matching.reference import FIELDS
from lamsach.matching.sections import Pairs, as_series, empty_pairs, parse_ipv4

_PORT_OF = {"dst_ip": "dst_port", "src_ip": "src_port"}
_SAMPLE = 2048
_RANK = {name: i for i, name in enumerate(FIELDS)}


@dataclass
class _Found:
    """Hits of one field: batch rows, indicator ids, observed strings, element order."""

    rank: int
    rows: np.ndarray
    ids: np.ndarray
    observed: pa.Array
    sub: np.ndarray


def match_batch(
    batch: pa.RecordBatch | pa.Table,
    index: IndicatorIndex,
    internal: InternalNetworks = DEFAULT_INTERNAL,
) -> pa.Table:
    """Every (record, indicator) match of a batch of canonical log records, as HIT_SCHEMA rows.

    The batch may hold only some canonical columns (e.g. only ``host``, or only ``src_ip, dst_ip,
    dst_port``); the missing ones count as null. Dictionary-encoded string columns are welcome.
    """
    columns = {name: _array(batch.column(name)) for name in batch.schema.names}
    found: list[_Found] = []
    for field in FIELDS:
        values = columns.get(field)
        if values is None or values.null_count == len(values):
            continue
        rank = _RANK[field]
        if field in _PORT_OF:
            found += _match_ips(values, columns.get(_PORT_OF[field]), index, rank)
        elif field == "host":
            found += _match_names(values, None, index, rank)
        elif field == "url":
            found += _match_urls(values, index, rank)
        else:
            parents = pc.list_parent_indices(values).to_numpy()
            flat = pc.list_flatten(values)
            if field == "answers":
                found += _match_names(flat, parents, index, rank)
            else:
                found += _match_hashes(flat, parents, index, rank)
    return _hits(columns, batch.num_rows, found, index, internal)


def _array(column: pa.Array | pa.ChunkedArray) -> pa.Array:
    if isinstance(column, pa.ChunkedArray):
        return column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
    return column


# --- distinct values -----------------------------------------------------------------------------


def _distinct(values: pa.Array) -> tuple[np.ndarray, pa.Array]:
    """(code of each value, -1 for null; the distinct values).

    Deduplicating pays when values repeat (DNS names, client addresses) and costs more than it
    saves when nearly all differ, so a sample decides; dictionary-encoded columns come free.
    """
    if not pa.types.is_dictionary(values.type):
        sample = values.slice(0, _SAMPLE)
        if len(values) > 2 * _SAMPLE and pc.count_distinct(sample).as_py() > 0.6 * len(sample):
            codes = np.arange(len(values), dtype=np.int64)
            if values.null_count:
                codes[values.is_null().to_numpy(zero_copy_only=False)] = -1
            return codes, _as_string(values)
        values = pc.dictionary_encode(values)
    codes = pc.fill_null(values.indices, -1).to_numpy().astype(np.int64, copy=False)
    return codes, _as_string(values.dictionary)


def _as_string(values: pa.Array) -> pa.Array:
    return values if pa.types.is_string(values.type) else values.cast(pa.string())


def _expand(codes: np.ndarray, pairs: Pairs, n_distinct: int) -> Pairs:
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


def _drop_allowed(pairs: Pairs, allowed: np.ndarray) -> Pairs:
    keep = ~allowed[pairs[0]]
    return pairs[0][keep], pairs[1][keep]


# --- addresses -----------------------------------------------------------------------------------


@dataclass
class _Addresses:
    """Distinct strings parsed as addresses: IPv4 (incl. mapped) as uint32, IPv6 as ints."""

    is_v4: np.ndarray
    v4: np.ndarray
    v6: dict[int, int]  # distinct index -> address

    @classmethod
    def parse(cls, texts: pl.Series, maybe_v6: np.ndarray | None = None) -> _Addresses:
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


def _match_ips(
    values: pa.Array, ports: pa.Array | None, index: IndicatorIndex, rank: int
) -> list[_Found]:
    codes, distinct = _distinct(values)
    addresses = _Addresses.parse(as_series(distinct))
    pairs = addresses.match(index.listed)
    with_ports = ports is not None and index.listed.has("ipport4", "ipport6")
    allowed = np.zeros(len(distinct), dtype=bool)
    if (len(pairs[0]) or with_ports) and index.allow.has("ipv4", "cidr4", "ipv6", "cidr6"):
        # Only values that can hit need the allow-list: plain hits, or any when ports may.
        hit = np.ones(len(distinct), dtype=bool)
        if not with_ports:
            hit[:] = False
            hit[pairs[0]] = True
        allowed[addresses.match(index.allow, only=hit)[0]] = True
    rows, ids = _expand(codes, _drop_allowed(pairs, allowed), len(distinct))
    if index.allow.has("ipport4", "ipport6") and ports is not None and len(rows):
        keep = ~_port_allowed(index.allow, addresses, codes, ports, rows)
        rows, ids = rows[keep], ids[keep]
    found = [_Found(rank, rows, ids, values.take(pa.array(rows)).cast(pa.string()), rows)]
    if with_ports:
        assert ports is not None
        found.append(_match_ip_ports(values, ports, codes, addresses, allowed, index, rank))
    return found


def _port_values(ports: pa.Array, rows: np.ndarray) -> np.ndarray:
    return pc.fill_null(ports.take(pa.array(rows)), -1).to_numpy().astype(np.int64)


def _port_allowed(
    allow: Matcher, addresses: _Addresses, codes: np.ndarray, ports: pa.Array, rows: np.ndarray
) -> np.ndarray:
    """Rows whose (address, port) is on the allow-list as an IP:port."""
    port = _port_values(ports, rows)
    code = codes[rows]
    result = np.zeros(len(rows), dtype=bool)
    v4 = addresses.is_v4[code] & (port >= 0)
    sel = np.flatnonzero(v4)
    result[sel[allow.ipv4_port(addresses.v4[code[sel]], port[sel])[0]]] = True
    for i in np.flatnonzero(~addresses.is_v4[code] & (port >= 0)).tolist():
        address = addresses.v6.get(int(code[i]))
        if address is not None and allow.ipv6_port(address, int(port[i])):
            result[i] = True
    return result


def _match_ip_ports(
    values: pa.Array,
    ports: pa.Array,
    codes: np.ndarray,
    addresses: _Addresses,
    allowed: np.ndarray,
    index: IndicatorIndex,
    rank: int,
) -> _Found:
    """Listed IP:port values, row by row (the port varies where the address repeats)."""
    usable = codes >= 0
    usable[usable] = ~allowed[codes[usable]]
    rows = np.flatnonzero(usable & pc.is_valid(ports).to_numpy(zero_copy_only=False))
    port = _port_values(ports, rows)
    code = codes[rows]
    sel = np.flatnonzero(addresses.is_v4[code])
    q, ids = index.listed.ipv4_port(addresses.v4[code[sel]], port[sel])
    parts = [(sel[q], ids)]
    if addresses.v6 and index.listed.has("ipport6"):
        for i in np.flatnonzero(~addresses.is_v4[code]).tolist():
            address = addresses.v6.get(int(code[i]))
            if address is not None:
                found = index.listed.ipv6_port(address, int(port[i]))
                parts += [(np.full(len(found), i, np.int64), np.asarray(found, np.int64))]
    which, ids = concat_pairs(parts)
    hit_rows = rows[which]
    if len(hit_rows) and index.allow.has("ipport4", "ipport6"):
        keep = ~_port_allowed(index.allow, addresses, codes, ports, hit_rows)
        hit_rows, ids, which = hit_rows[keep], ids[keep], which[keep]
    texts = values.take(pa.array(hit_rows)).cast(pa.string()).to_pylist()
    shown = [
        f"[{t}]:{p}" if ":" in t else f"{t}:{p}"
        for t, p in zip(texts, port[which].tolist(), strict=True)
    ]
    return _Found(rank, hit_rows, ids, pa.array(shown, pa.string()), hit_rows)


# --- names ---------------------------------------------------------------------------------------


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
class _Hosts:
    """Distinct hosts: IP literals parsed, the rest normalised names (``names[i]`` is ``at[i]``)."""

    size: int
    addresses: _Addresses
    names: pl.Series
    at: np.ndarray

    @classmethod
    def parse(cls, raw: pa.Array) -> _Hosts:
        # A strict dotted quad (most DNS answers) is already normal: only the rest is normalised.
        quad, number = parse_ipv4(as_series(raw))
        rest = np.flatnonzero(~quad)
        hosts = normalize_hosts(raw.take(pa.array(rest)))
        present = (hosts != "").to_numpy()
        maybe_v6 = hosts.str.contains(":", literal=True).to_numpy()
        found = _Addresses.parse(hosts, maybe_v6 & present)
        found.is_v4 &= present
        quad[rest] = found.is_v4
        number[rest[found.is_v4]] = found.v4[found.is_v4]
        name = present & ~found.is_v4
        name[list(found.v6)] = False
        v6 = {int(rest[i]): address for i, address in found.v6.items()}
        addresses = _Addresses(quad, number, v6)
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
        if len(candidates) and _has_any(matcher):
            only = np.zeros(self.size, dtype=bool)
            only[candidates] = True
            allowed[self.match(matcher, only)[0]] = True
        return allowed


def _has_any(matcher: Matcher) -> bool:
    return any(len(s) for s in matcher.sections.values())


def _match_names(
    values: pa.Array, parents: np.ndarray | None, index: IndicatorIndex, rank: int
) -> list[_Found]:
    codes, distinct = _distinct(values)
    hosts = _Hosts.parse(distinct)
    pairs = hosts.match(index.listed)
    pairs = _drop_allowed(pairs, hosts.allowed(index.allow, pairs[0]))
    positions, ids = _expand(codes, pairs, len(distinct))
    rows = positions if parents is None else parents[positions]
    return [_Found(rank, rows, ids, values.take(pa.array(positions)).cast(pa.string()), positions)]


def _match_urls(values: pa.Array, index: IndicatorIndex, rank: int) -> list[_Found]:
    codes, distinct = _distinct(values)
    urls = as_series(distinct)
    raw_hosts = urls.str.extract(URL_HOST_PATTERN, 1).to_arrow()
    hosts = _Hosts.parse(_as_string(raw_hosts))
    pairs = hosts.match(index.listed)
    pairs = concat_pairs([pairs, _listed_urls(index.listed, urls)])
    if len(pairs[0]):
        allowed = hosts.allowed(index.allow, pairs[0])
        allowed[_listed_urls(index.allow, urls, pairs[0])[0]] = True
        pairs = _drop_allowed(pairs, allowed)
    rows, ids = _expand(codes, pairs, len(distinct))
    return [_Found(rank, rows, ids, values.take(pa.array(rows)).cast(pa.string()), rows)]


def _listed_urls(matcher: Matcher, urls: pl.Series, only: np.ndarray | None = None) -> Pairs:
    if not matcher.has("url"):
        return empty_pairs()
    subset = np.arange(len(urls)) if only is None else np.unique(only)
    candidates = subset[matcher.url_candidates(urls.gather(subset))]
    q, ids = matcher.urls(urls.gather(candidates).to_list())
    return candidates[q], ids


# --- hashes --------------------------------------------------------------------------------------


def _match_hashes(
    values: pa.Array, parents: np.ndarray, index: IndicatorIndex, rank: int
) -> list[_Found]:
    if not index.listed.has("md5", "sha1", "sha256"):
        return []
    codes, distinct = _distinct(values)
    digests = as_series(distinct).str.to_lowercase()
    pairs = index.listed.hashes(digests)
    if len(pairs[0]) and index.allow.has("md5", "sha1", "sha256"):
        allowed = np.zeros(len(distinct), dtype=bool)
        allowed[index.allow.hashes(digests)[0]] = True
        pairs = _drop_allowed(pairs, allowed)
    positions, ids = _expand(codes, pairs, len(distinct))
    observed = values.take(pa.array(positions)).cast(pa.string())
    return [_Found(rank, parents[positions], ids, observed, positions)]


# --- the hits table ------------------------------------------------------------------------------


def _hits(
    columns: dict[str, pa.Array],
    num_rows: int,
    found: list[_Found],
    index: IndicatorIndex,
    internal: InternalNetworks,
) -> pa.Table:
    found = [f for f in found if len(f.rows)]
    if not found:
        return HIT_SCHEMA.empty_table()
    rows = np.concatenate([f.rows for f in found]).astype(np.int64)
    ids = np.concatenate([f.ids for f in found]).astype(np.int64)
    ranks = np.concatenate([np.full(len(f.rows), f.rank, dtype=np.int64) for f in found])
    subs = np.concatenate([f.sub for f in found]).astype(np.int64)
    observed = pa.concat_arrays([f.observed for f in found])
    # One hit per record and indicator: the first field in FIELDS order, then first element.
    order = np.lexsort((subs, ranks, rows))
    _, first = np.unique(rows[order] * (index.id_count + 1) + ids[order], return_index=True)
    keep = order[np.sort(first)]
    rows, ids, ranks = rows[keep], ids[keep], ranks[keep]
    observed = observed.take(pa.array(keep))
    take = pa.array(rows)

    def column(name: str, kind: pa.DataType) -> pa.Array:
        values = columns.get(name)
        if values is None:
            return pa.nulls(len(rows), kind)
        return values.take(take).cast(kind)

    src, dst = column("src_ip", pa.string()), column("dst_ip", pa.string())
    suspect, other = _sides(src, dst, ranks, internal)
    meta = index.meta.take(pa.array(index.meta_ids(ids)))
    field_names = np.array(FIELDS, dtype=object)[ranks]
    arrays = [
        column("time", HIT_SCHEMA.field("time").type),
        suspect,
        other,
        index.value_strings(ids),
        index.type_names(ids),
        meta.column("sources").combine_chunks(),
        meta.column("tags").combine_chunks(),
        observed,
        pa.array(field_names.tolist(), pa.string()),
        column("log_type", pa.string()),
        column("file", pa.string()),
        column("line", pa.int64()),
    ]
    return pa.Table.from_arrays(arrays, schema=HIT_SCHEMA)


def _sides(
    src: pa.Array, dst: pa.Array, ranks: np.ndarray, internal: InternalNetworks
) -> tuple[pa.Array, pa.Array]:
    """(suspect, other) per hit: the internal side, the client for DNS answers."""
    src_in, dst_in = internal.mask(src), internal.mask(dst)
    from_src = ranks == _RANK["src_ip"]
    first_in = np.where(from_src, dst_in, src_in)
    second_in = np.where(from_src, src_in, dst_in)
    swap = ~first_in & second_in & (ranks != _RANK["answers"])
    suspect_is_dst = from_src ^ swap
    mask = pa.array(suspect_is_dst)
    return pc.if_else(mask, dst, src), pc.if_else(mask, src, dst)
