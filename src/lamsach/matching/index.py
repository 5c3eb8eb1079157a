"""The compiled indicator index: built from indicators, saved to one .lsidx file, loaded fast.

Rows are the indicators (listed ones, then the allow-list), grouped by kind and sorted by key, so
a section is a slice. Metadata (sources, tags, dates, confidence) is shared: each distinct set is
stored once and rows point to it, as whole lists usually carry the same metadata.
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
from lamsach.matching.index_file import read_index_file, write_index_file
from lamsach.matching.matcher import Matcher
from lamsach.matching.observed import classify_query
from lamsach.matching.sections import (
    KINDS,
    Section,
    as_series,
    compute_keys,
    sort_order,
)

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
]


def kind_of(indicator: Indicator) -> str:
    """Which section an indicator goes to (networks and IP:port split by IP version)."""
    t = indicator.type
    if t is IndicatorType.CIDR:
        return "cidr6" if ":" in indicator.value else "cidr4"
    if t is IndicatorType.IP_PORT:
        return "ipport6" if indicator.value.startswith("[") else "ipport4"
    return t.value


def _as_utc(value: datetime | None) -> datetime | None:
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)  # naive dates in lists are taken as UTC


class IndicatorIndex:
    """Answers, for batches of values, which listed indicator matches and why."""

    def __init__(
        self,
        values: pa.StringArray,
        meta_ids: np.ndarray,
        meta: pa.Table,
        layout: list[tuple[str, str, int]],
        built_at: datetime,
    ) -> None:
        self.built_at = built_at
        self.meta = meta
        self._meta_rows: list[dict[str, Any]] = meta.to_pylist()
        pieces_v: list[pa.Array] = []
        pieces_m: list[np.ndarray] = []
        arranged: list[tuple[str, str, np.ndarray]] = []
        start = 0
        reordered = False
        for role, kind, count in layout:
            vals = values.slice(start, count)
            metas = meta_ids[start : start + count]
            keys = compute_keys(kind, as_series(vals))
            order = sort_order(kind, keys)
            if order is not None:
                reordered = True
                keys, vals, metas = keys[order], vals.take(pa.array(order)), metas[order]
            pieces_v.append(vals)
            pieces_m.append(metas)
            arranged.append((role, kind, keys))
            start += count
        if start != len(values):
            raise ValueError("index layout does not cover its rows")
        if reordered:
            values = pa.concat_arrays(pieces_v) if pieces_v else pa.array([], pa.string())
            meta_ids = np.concatenate(pieces_m) if pieces_m else np.zeros(0, np.int32)
        self.values: pa.StringArray = values
        # One metadata set for every row (a single list) needs no per-row array.
        self._meta_ids: np.ndarray | None = meta_ids if len(meta) > 1 else None
        self.layout = [(role, kind, len(keys)) for role, kind, keys in arranged]
        self._starts: list[int] = []
        self._kinds: list[str] = []
        sections: dict[str, dict[str, Section]] = {role: {} for role in ROLES}
        start = 0
        for role, kind, keys in arranged:
            part = self.values.slice(start, len(keys))
            sections[role][kind] = Section.make(kind, start, keys, part)
            self._starts.append(start)
            self._kinds.append(kind)
            start += len(keys)
        self.listed = Matcher(sections["listed"])
        self.allow = Matcher(sections["allow"])
        self._listed_count = sum(n for role, _, n in self.layout if role == "listed")

    # --- building, saving, loading ------------------------------------------------------------

    @classmethod
    def build(
        cls, indicators: Iterable[Indicator], allow: Iterable[Indicator] = ()
    ) -> IndicatorIndex:
        """Compile indicators (duplicates merged) and an allow-list into an index."""
        metas: dict[MetaKey, int] = {}
        values: list[str] = []
        meta_ids: list[int] = []
        layout: list[tuple[str, str, int]] = []
        for role, items in (("listed", indicators), ("allow", allow)):
            by_kind: dict[str, dict[str, Indicator]] = {kind: {} for kind in KINDS}
            copied: set[tuple[str, str]] = set()
            for ind in items:
                kind = kind_of(ind)
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
                if not group:
                    continue
                layout.append((role, kind, len(group)))
                for value, ind in group.items():
                    key: MetaKey = (
                        frozenset(ind.sources),
                        frozenset(ind.tags),
                        _as_utc(ind.first_seen),
                        _as_utc(ind.last_seen),
                        _as_utc(ind.expires),
                        ind.confidence,
                    )
                    meta_id = metas.get(key)
                    if meta_id is None:
                        meta_id = metas[key] = len(metas)
                    values.append(value)
                    meta_ids.append(meta_id)
        meta = _meta_table(list(metas)) if metas else _meta_table([_EMPTY_META])
        return cls(
            pa.array(values, pa.string()),
            np.asarray(meta_ids, dtype=np.int32),
            meta,
            layout,
            datetime.now(UTC).replace(microsecond=0),
        )

    def save(self, path: str | Path) -> None:
        """Write the index to one file (conventionally ``.lsidx``), replacing it atomically."""
        meta_ids = self._meta_ids if self._meta_ids is not None else np.zeros(len(self.values))
        rows = pa.table([self.values, pa.array(meta_ids.astype(np.int32))], schema=ROW_SCHEMA)
        header = {
            "built_at": self.built_at.isoformat(),
            "lamsach": __version__,
            "layout": [list(entry) for entry in self.layout],
            "counts": self.counts(),
        }
        write_index_file(path, header, {"rows": rows, "meta": self.meta})

    @classmethod
    def load(cls, path: str | Path) -> IndicatorIndex:
        """Read an index written by :meth:`save` (keys are recomputed, never trusted)."""
        header, tables = read_index_file(path)
        rows = tables["rows"].combine_chunks()
        values = rows.column("value").chunk(0) if rows.num_rows else pa.array([], pa.string())
        meta_ids = (
            rows.column("meta").chunk(0).to_numpy() if rows.num_rows else np.zeros(0, np.int32)
        )
        layout = [(str(r), str(k), int(n)) for r, k, n in header["layout"]]
        built_at = datetime.fromisoformat(header["built_at"])
        return cls(values, meta_ids, tables["meta"], layout, built_at)

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
        yield from self._rows(self._listed_count, len(self.values))

    def _row_meta(self, start: int, stop: int) -> np.ndarray:
        if self._meta_ids is None:
            return np.zeros(stop - start, dtype=np.int32)
        return self._meta_ids[start:stop]

    def _rows(self, start: int, stop: int) -> Iterator[Indicator]:
        chunk = 65536
        for lo in range(start, stop, chunk):
            hi = min(stop, lo + chunk)
            values = self.values.slice(lo, hi - lo).to_pylist()
            metas = self._row_meta(lo, hi).tolist()
            types = self.types_of(np.arange(lo, hi))
            for value, meta_id, t in zip(values, metas, types, strict=True):
                yield self._make(t, value, meta_id)

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
        )

    def indicator(self, gid: int) -> Indicator:
        """The indicator with a given id (as in the pairs the vectorised lookups return)."""
        return self._make(
            self.types_of(np.array([gid]))[0],
            self.values[gid].as_py(),
            int(self._row_meta(gid, gid + 1)[0]),
        )

    def kinds_of(self, ids: np.ndarray) -> list[str]:
        where = np.searchsorted(np.asarray(self._starts), ids, side="right") - 1
        return [self._kinds[i] for i in where.tolist()]

    def types_of(self, ids: np.ndarray) -> list[IndicatorType]:
        return [KIND_TYPE[k] for k in self.kinds_of(ids)]

    def meta_ids(self, ids: np.ndarray) -> np.ndarray:
        if self._meta_ids is None:
            return np.zeros(len(ids), dtype=np.int32)
        return self._meta_ids[ids]

    def nbytes(self) -> int:
        """Memory held by the arrays of the index (not counting the interpreter)."""
        total = self.values.nbytes + self.meta.nbytes
        if self._meta_ids is not None:
            total += self._meta_ids.nbytes
        for matcher in (self.listed, self.allow):
            for section in matcher.sections.values():
                if section.keys.dtype != object:
                    total += section.keys.nbytes
                else:
                    total += 100 * len(section.keys)
        return total

    # --- one value ------------------------------------------------------------------------------

    def lookup_ids(self, value: str) -> list[int]:
        query = classify_query(value)
        if query is None or self.allow.query(query):
            return []
        return sorted(set(self.listed.query(query)))

    def lookup(self, value: str) -> list[Indicator]:
        """All listed indicators matching one value; [] when it is allow-listed or not listed."""
        return [self.indicator(gid) for gid in self.lookup_ids(value)]


_EMPTY_META: MetaKey = (frozenset(), frozenset(), None, None, None, None)


def _meta_table(keys: list[MetaKey]) -> pa.Table:
    columns = list(zip(*keys, strict=True))
    return pa.table(
        [
            pa.array([sorted(s) for s in columns[0]], META_SCHEMA.field("sources").type),
            pa.array([sorted(s) for s in columns[1]], META_SCHEMA.field("tags").type),
            pa.array(columns[2], TIME),
            pa.array(columns[3], TIME),
            pa.array(columns[4], TIME),
            pa.array(columns[5], pa.int16()),
        ],
        schema=META_SCHEMA,
    )


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
    )
