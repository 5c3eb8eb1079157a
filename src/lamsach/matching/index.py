"""The compiled indicator index: built from indicators, saved to one .lsidx file, loaded fast.

Rows are the indicators (listed ones, then the allow-list), grouped by kind and sorted by key, so
a section is a slice. Metadata (sources, tags, dates, confidence, files) is shared: each distinct
set is stored once and rows point to it, as whole lists usually carry the same metadata.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from lamsach import __version__
from lamsach.indicators.model import Indicator, IndicatorType
from lamsach.logs.schema import TIME
from lamsach.matching import sections as section_rules
from lamsach.matching.index_file import (
    IndexFileError,
    pack_arrays,
    read_index_blobs,
    unpack_arrays,
    write_index_file,
)
from lamsach.matching.matcher import Matcher
from lamsach.matching.observed import classify_query
from lamsach.matching.sections import (
    KINDS,
    STRING_KINDS,
    V4_KINDS,
    BadValue,
    Section,
    compute_keys,
    sort_order,
)
from lamsach.matching.strkeys import NAME_KEYS

ROLES = ("listed", "allow")

KIND_TYPE = {
    "ipv4": IndicatorType.IPV4,
    "cidr4": IndicatorType.CIDR,
    "ipport4": IndicatorType.IP_PORT,
    "ipv6": IndicatorType.IPV6,
    "cidr6": IndicatorType.CIDR,
    "ipport6": IndicatorType.IP_PORT,
    "domain": IndicatorType.DOMAIN,
    "hostname": IndicatorType.HOSTNAME,
    "url": IndicatorType.URL,
    "md5": IndicatorType.MD5,
    "sha1": IndicatorType.SHA1,
    "sha256": IndicatorType.SHA256,
}

META_SCHEMA = pa.schema(
    [
        pa.field("sources", pa.list_(pa.string())),
        pa.field("tags", pa.list_(pa.string())),
        pa.field("first_seen", TIME),
        pa.field("last_seen", TIME),
        pa.field("expires", TIME),
        pa.field("confidence", pa.int16()),
        pa.field("files", pa.list_(pa.string())),
    ]
)
ROW_SCHEMA = pa.schema([pa.field("value", pa.string()), pa.field("meta", pa.int32())])

MetaKey = tuple[
    frozenset[str],
    frozenset[str],
    datetime | None,
    datetime | None,
    datetime | None,
    int | None,
    frozenset[str],
]


def kind_of(indicator: Indicator) -> str:
    """Which section an indicator goes to (networks and IP:port split by IP version)."""
    t = indicator.type
    if t is IndicatorType.CIDR:
        return "cidr6" if ":" in indicator.value else "cidr4"
    if t is IndicatorType.IP_PORT:
        return "ipport6" if indicator.value.startswith("[") else "ipport4"
    return t.value


def _ascending(keys: np.ndarray) -> bool:
    return len(keys) < 2 or bool(np.all(keys[1:] >= keys[:-1]))


def _stored_keys(meta: Any, data: bytes | None) -> dict[tuple[str, str], np.ndarray]:
    """The name keys stored in an index file, if made the way this version makes them."""
    if not isinstance(meta, dict) or data is None:
        return {}
    if meta.get("scheme") != NAME_KEYS or meta.get("seed") != section_rules.HASH_SEED:
        return {}
    arrays = unpack_arrays(meta, data)
    if arrays is None or len(arrays) != len(meta.get("sections", ())):
        return {}
    return {
        (str(role), str(kind)): keys
        for (role, kind), keys in zip(meta["sections"], arrays, strict=True)
        if kind in STRING_KINDS and keys.dtype == np.uint32
    }


def _as_utc(value: datetime | None) -> datetime | None:
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)  # naive dates in lists are taken as UTC


class IndicatorIndex:
    """Answers, for batches of values, which listed indicator matches and why."""

    def __init__(
        self,
        parts: list[tuple[str, str, pa.StringArray, np.ndarray]],
        meta: pa.Table,
        built_at: datetime,
        known_keys: dict[tuple[str, str], np.ndarray] | None = None,
    ) -> None:
        """From (role, kind, values, metadata ids) per section, in ROLES then KINDS order.

        ``known_keys``: the sorted keys of some sections, as stored with them (not recomputed).
        """
        self.built_at = built_at
        self.meta = meta
        self._meta_rows: list[dict[str, Any]] = meta.to_pylist()
        self.sections: list[Section] = []
        self.layout: list[tuple[str, str, int]] = []
        by_role: dict[str, dict[str, Section]] = {role: {} for role in ROLES}
        meta_parts: list[np.ndarray] = []
        start = 0
        for role, kind, values, metas in parts:
            keys = (known_keys or {}).get((role, kind))
            if keys is not None and len(keys) == len(values) and _ascending(keys):
                order = None
            else:
                keys = compute_keys(kind, values)
                order = sort_order(kind, keys)
            if order is not None:
                keys, metas = keys[order], metas[order]
                if kind not in V4_KINDS:
                    values = values.take(pa.array(order))
            section = Section.make(kind, start, keys, values)
            self.sections.append(section)
            self.layout.append((role, kind, len(keys)))
            by_role[role][kind] = section
            meta_parts.append(np.asarray(metas, dtype=np.int32))
            start += len(keys)
        self._size = start
        # One metadata set for every row (a single list) needs no per-row array.
        self._meta_ids: np.ndarray | None = None
        if len(meta) > 1 and meta_parts:
            self._meta_ids = np.concatenate(meta_parts)
        self._starts = np.asarray([sec.start for sec in self.sections], dtype=np.int64)
        self._type_names = pa.array([KIND_TYPE[sec.kind].value for sec in self.sections])
        self.listed = Matcher(by_role["listed"])
        self.allow = Matcher(by_role["allow"])
        self._listed_count = sum(n for role, _, n in self.layout if role == "listed")
        # Loading leaves large temporary buffers; hand them back rather than keep them.
        pa.default_memory_pool().release_unused()

    # --- building, saving, loading ------------------------------------------------------------

    @classmethod
    def build(
        cls, indicators: Iterable[Indicator], allow: Iterable[Indicator] = ()
    ) -> IndicatorIndex:
        """Compile indicators (duplicates merged) and an allow-list into an index."""
        metas: dict[MetaKey, int] = {}
        parts: list[tuple[str, str, pa.StringArray, np.ndarray]] = []
        for role, items in (("listed", indicators), ("allow", allow)):
            by_kind: dict[str, dict[str, Indicator]] = {kind: {} for kind in KINDS}
            copied: set[tuple[str, str]] = set()
            for ind in items:
                kind = _PLAIN_KIND.get(ind.type) or kind_of(ind)
                group = by_kind[kind]
                seen = group.get(ind.value)
                if seen is None:
                    group[ind.value] = ind
                    continue
                if (kind, ind.value) not in copied:  # never change the caller's objects
                    seen = _copy(seen)
                    group[ind.value] = seen
                    copied.add((kind, ind.value))
                seen.merge(ind)
            for kind in KINDS:
                group = by_kind[kind]
                if group:
                    ids = [_meta_id(metas, ind) for ind in group.values()]
                    values = pa.array(list(group), pa.string())
                    parts.append((role, kind, values, np.asarray(ids, dtype=np.int32)))
        meta = _meta_table(list(metas)) if metas else _meta_table([_EMPTY_META])
        return cls(parts, meta, datetime.now(UTC).replace(microsecond=0))

    def save(self, path: str | Path) -> None:
        """Write the index to one file (conventionally ``.lsidx``), replacing it atomically."""
        batches = []
        for section in self.sections:
            values = section.strings(np.arange(len(section)))
            metas = self._row_meta(section.start, section.start + len(section))
            batches.append(pa.record_batch([values, pa.array(metas)], schema=ROW_SCHEMA))
        header = {
            "built_at": self.built_at.isoformat(),
            "lamsach": __version__,
            "layout": [list(entry) for entry in self.layout],
            "counts": self.counts(),
        }
        rows = pa.Table.from_batches(batches, schema=ROW_SCHEMA)
        # The prefilter goes along, so that a scan can start screening without loading this.
        from lamsach.matching.prefilter import BLOB, Prefilter

        header["prefilter"], blob = Prefilter.of(self).to_blob()
        # And the keys of the names, which take the load most of its time to compute.
        named = [(r, k, sec) for (r, k, _), sec in zip(self.layout, self.sections, strict=True)
                 if k in STRING_KINDS]  # fmt: skip
        described = {
            "scheme": NAME_KEYS,
            "seed": section_rules.HASH_SEED,
            "sections": [[role, kind] for role, kind, _ in named],
        }
        header["keys"], keys = pack_arrays(described, [sec.keys for _, _, sec in named])
        tables = {"rows": rows, "meta": self.meta}
        write_index_file(path, header, tables, {BLOB: blob, "keys": keys})

    @classmethod
    def load(cls, path: str | Path) -> IndicatorIndex:
        """Read an index written by :meth:`save`.

        The keys of names stored with it are used when they were made with today's hash and
        match their digest; otherwise (and for every other kind) they are recomputed.
        """
        index = cls._read(path)
        # Arrow's allocator keeps the pages the file was decompressed into (about a third of the
        # index again) once the sections have their own copies; an index is held for long, so
        # they go back to the system now that the reading's temporaries are gone.
        pa.default_memory_pool().release_unused()
        return index

    @classmethod
    def _read(cls, path: str | Path) -> IndicatorIndex:
        header, tables, raw = read_index_blobs(path)
        rows = tables.pop("rows")
        parts = []
        seen: set[tuple[str, str]] = set()
        start = 0
        try:
            for role, kind, count in header["layout"]:
                if role not in ROLES or kind not in KINDS or (role, kind) in seen:
                    raise ValueError(f"unexpected section {role}/{kind}")
                seen.add((role, kind))
                piece = rows.slice(start, int(count))
                values = _single_chunk(piece.column("value"))
                metas = _single_chunk(piece.column("meta")).to_numpy()
                parts.append((str(role), str(kind), values, metas))
                start += int(count)
            if start != rows.num_rows:
                raise ValueError("layout does not cover the rows")
        except (ValueError, TypeError, KeyError) as exc:
            raise IndexFileError(f"{path}: damaged index ({exc})") from None
        del rows
        try:
            meta = _with_files(tables["meta"])
            known = _stored_keys(header.get("keys"), raw.get("keys"))
            return cls(parts, meta, datetime.fromisoformat(header["built_at"]), known)
        except (BadValue, KeyError, ValueError, pa.ArrowException) as exc:
            raise IndexFileError(f"{path}: damaged index ({exc})") from None

    # --- what it holds -------------------------------------------------------------------------

    def __len__(self) -> int:
        return self._listed_count

    def counts(self) -> dict[str, int]:
        """Listed indicators by type."""
        counts: dict[str, int] = {}
        for role, kind, n in self.layout:
            if role == "listed":
                name = KIND_TYPE[kind].value
                counts[name] = counts.get(name, 0) + n
        return counts

    def allow_count(self) -> int:
        return sum(n for role, _, n in self.layout if role == "allow")

    def sources(self) -> dict[str, int]:
        """Listed indicators by source list name."""
        per_meta = np.bincount(self._row_meta(0, self._listed_count), minlength=len(self.meta))
        counts: dict[str, int] = {}
        for meta_row, n in zip(self._meta_rows, per_meta.tolist(), strict=True):
            if not n:
                continue
            for source in meta_row["sources"] or ():
                counts[source] = counts.get(source, 0) + n
        return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))

    def indicators(self) -> Iterator[Indicator]:
        """Every listed indicator with its metadata."""
        yield from self._rows(0, self._listed_count)

    def allowed(self) -> Iterator[Indicator]:
        """The allow-list entries."""
        yield from self._rows(self._listed_count, self._size)

    def _row_meta(self, start: int, stop: int) -> np.ndarray:
        if self._meta_ids is None:
            return np.zeros(stop - start, dtype=np.int32)
        return self._meta_ids[start:stop]

    def _rows(self, start: int, stop: int) -> Iterator[Indicator]:
        chunk = 65536
        for section in self.sections:
            if not start <= section.start < stop:
                continue
            kind_type = KIND_TYPE[section.kind]
            for lo in range(0, len(section), chunk):
                hi = min(len(section), lo + chunk)
                values = section.strings(np.arange(lo, hi)).to_pylist()
                metas = self._row_meta(section.start + lo, section.start + hi).tolist()
                for value, meta_id in zip(values, metas, strict=True):
                    yield self._make(kind_type, value, meta_id)

    def _make(self, t: IndicatorType, value: str, meta_id: int) -> Indicator:
        m = self._meta_rows[meta_id]
        return Indicator(
            type=t,
            value=value,
            sources=set(m["sources"] or ()),
            tags=set(m["tags"] or ()),
            first_seen=m["first_seen"],
            last_seen=m["last_seen"],
            expires=m["expires"],
            confidence=m["confidence"],
            files=set(m["files"] or ()),
        )

    def _section_of(self, ids: np.ndarray) -> np.ndarray:
        return np.searchsorted(self._starts, ids, side="right") - 1

    def indicator(self, gid: int) -> Indicator:
        """The indicator with a given id (as in the pairs the vectorised lookups return)."""
        section = self.sections[int(self._section_of(np.array([gid]))[0])]
        value = section.strings(np.array([gid - section.start]))[0].as_py()
        meta_id = int(self._row_meta(gid, gid + 1)[0])
        return self._make(KIND_TYPE[section.kind], value, meta_id)

    def value_strings(self, ids: np.ndarray) -> pa.Array:
        """The indicator value of each id (vectorised, for hit tables)."""
        if not len(ids):
            return pa.array([], pa.string())
        where = self._section_of(ids)
        order = np.argsort(where, kind="stable")
        bounds = np.flatnonzero(np.diff(where[order])) + 1
        pieces = []
        for group in np.split(order, bounds):
            section = self.sections[int(where[group[0]])]
            pieces.append(section.strings(ids[group] - section.start))
        inverse = np.empty_like(order)
        inverse[order] = np.arange(len(order))
        return pa.concat_arrays(pieces).take(pa.array(inverse))

    def type_names(self, ids: np.ndarray) -> pa.Array:
        """The indicator type of each id, as strings (vectorised, for hit tables)."""
        return self._type_names.take(pa.array(self._section_of(ids)))

    def meta_ids(self, ids: np.ndarray) -> np.ndarray:
        if self._meta_ids is None:
            return np.zeros(len(ids), dtype=np.int32)
        return self._meta_ids[ids]

    @property
    def id_count(self) -> int:
        """How many ids there are (listed and allow-list rows)."""
        return self._size

    def nbytes(self) -> int:
        """Memory held by the arrays of the index (not counting the interpreter)."""
        total = self.meta.nbytes + sum(section.nbytes() for section in self.sections)
        total += self.listed.extra_nbytes() + self.allow.extra_nbytes()
        return total + (self._meta_ids.nbytes if self._meta_ids is not None else 0)

    # --- one value ------------------------------------------------------------------------------

    def lookup_ids(self, value: str) -> list[int]:
        query = classify_query(value)
        if query is None or self.allow.query(query):
            return []
        return sorted(set(self.listed.query(query)))

    def lookup(self, value: str) -> list[Indicator]:
        """All listed indicators matching one value; [] when it is allow-listed or not listed."""
        return [self.indicator(gid) for gid in self.lookup_ids(value)]


_EMPTY_SET: frozenset[str] = frozenset()
_PLAIN_KIND: dict[IndicatorType, str] = {
    t: t.value for t in IndicatorType if t not in (IndicatorType.CIDR, IndicatorType.IP_PORT)
}
_EMPTY_META: MetaKey = (frozenset(), frozenset(), None, None, None, None, frozenset())


def _meta_table(keys: list[MetaKey]) -> pa.Table:
    columns: list[Any] = list(zip(*keys, strict=True))
    for i in (2, 3, 4):
        columns[i] = [_as_utc(d) for d in columns[i]]
    return pa.table(
        [
            pa.array([sorted(s) for s in columns[0]], META_SCHEMA.field("sources").type),
            pa.array([sorted(s) for s in columns[1]], META_SCHEMA.field("tags").type),
            pa.array(columns[2], TIME),
            pa.array(columns[3], TIME),
            pa.array(columns[4], TIME),
            pa.array(columns[5], pa.int16()),
            pa.array([sorted(s) for s in columns[6]], META_SCHEMA.field("files").type),
        ],
        schema=META_SCHEMA,
    )


def _meta_id(metas: dict[MetaKey, int], ind: Indicator) -> int:
    # Dates are made UTC only in the (small) metadata table; equal sets share one row.
    key: MetaKey = (
        frozenset(ind.sources),
        frozenset(ind.tags) if ind.tags else _EMPTY_SET,
        ind.first_seen,
        ind.last_seen,
        ind.expires,
        ind.confidence,
        frozenset(ind.files) if ind.files else _EMPTY_SET,
    )
    found = metas.get(key)
    if found is None:
        found = metas[key] = len(metas)
    return found


def _with_files(meta: pa.Table) -> pa.Table:
    """The metadata table with a ``files`` column: indexes written before it had none."""
    if "files" in meta.column_names:
        return meta
    empty = pa.array([[]] * meta.num_rows, META_SCHEMA.field("files").type)
    return meta.append_column(META_SCHEMA.field("files"), empty)


def _single_chunk(column: pa.ChunkedArray) -> pa.Array:
    if column.num_chunks == 1:
        return column.chunk(0)
    return column.combine_chunks() if column.num_chunks else pa.array([], column.type)


def _copy(ind: Indicator) -> Indicator:
    return Indicator(
        ind.type,
        ind.value,
        set(ind.sources),
        set(ind.tags),
        ind.first_seen,
        ind.last_seen,
        ind.expires,
        ind.confidence,
        set(ind.files),
    )
