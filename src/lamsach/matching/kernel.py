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

from lamsach.logs.schema import LOG_SCHEMA
from lamsach.matching.direction import DEFAULT_INTERNAL, InternalNetworks
from lamsach.matching.distinct import Addresses, Hosts, as_string, deduplicate, expand
from lamsach.matching.hits import HIT_SCHEMA
from lamsach.matching.index import IndicatorIndex
from lamsach.matching.matcher import Matcher, concat_pairs
from lamsach.matching.observed import URL_HOST_PATTERN
from lamsach.matching.reference import FIELDS
from lamsach.matching.sections import Pairs, as_series, empty_pairs

_PORT_OF = {"dst_ip": "dst_port", "src_ip": "src_port"}
SAMPLE = 2048
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
    columns = {name: _array(name, batch.column(name)) for name in batch.schema.names}
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


def _array(name: str, column: pa.Array | pa.ChunkedArray) -> pa.Array:
    """One column as a single array of its canonical type (dictionary encoding is kept)."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
    if name in LOG_SCHEMA.names and not pa.types.is_dictionary(column.type):
        canonical = LOG_SCHEMA.field(name).type
        if column.type != canonical:
            column = column.cast(canonical)
    return column


def _drop_allowed(pairs: Pairs, allowed: np.ndarray) -> Pairs:
    keep = ~allowed[pairs[0]]
    return pairs[0][keep], pairs[1][keep]


# --- addresses -----------------------------------------------------------------------------------


def _match_ips(
    values: pa.Array, ports: pa.Array | None, index: IndicatorIndex, rank: int
) -> list[_Found]:
    codes, distinct = deduplicate(values)
    addresses = Addresses.parse(as_series(distinct))
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
    rows, ids = expand(codes, _drop_allowed(pairs, allowed), len(distinct))
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
    allow: Matcher, addresses: Addresses, codes: np.ndarray, ports: pa.Array, rows: np.ndarray
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
    addresses: Addresses,
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


def _match_names(
    values: pa.Array, parents: np.ndarray | None, index: IndicatorIndex, rank: int
) -> list[_Found]:
    codes, distinct = deduplicate(values)
    hosts = Hosts.parse(distinct)
    pairs = hosts.match(index.listed)
    pairs = _drop_allowed(pairs, hosts.allowed(index.allow, pairs[0]))
    positions, ids = expand(codes, pairs, len(distinct))
    rows = positions if parents is None else parents[positions]
    return [_Found(rank, rows, ids, values.take(pa.array(positions)).cast(pa.string()), positions)]


def _match_urls(values: pa.Array, index: IndicatorIndex, rank: int) -> list[_Found]:
    codes, distinct = deduplicate(values)
    urls = as_series(distinct)
    raw_hosts = urls.str.extract(URL_HOST_PATTERN, 1).to_arrow()
    hosts = Hosts.parse(as_string(raw_hosts))
    pairs = hosts.match(index.listed)
    pairs = concat_pairs([pairs, _listed_urls(index.listed, urls)])
    if len(pairs[0]):
        allowed = hosts.allowed(index.allow, pairs[0])
        allowed[_listed_urls(index.allow, urls, pairs[0])[0]] = True
        pairs = _drop_allowed(pairs, allowed)
    rows, ids = expand(codes, pairs, len(distinct))
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
    codes, distinct = deduplicate(values)
    digests = as_series(distinct).str.to_lowercase()
    pairs = index.listed.hashes(digests)
    if len(pairs[0]) and index.allow.has("md5", "sha1", "sha256"):
        allowed = np.zeros(len(distinct), dtype=bool)
        allowed[index.allow.hashes(digests)[0]] = True
        pairs = _drop_allowed(pairs, allowed)
    positions, ids = expand(codes, pairs, len(distinct))
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
