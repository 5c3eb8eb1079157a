"""Sum up a scan as it goes: hits by indicator type and the suspect hosts to clean."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

import pyarrow as pa
import pyarrow.compute as pc

FAMILY_PREFIXES = ("family:", "malware:", "malware_family:", "malware-family:")
NO_SUSPECT = "(no internal side)"  # both sides outside the internal networks
MAX_LISTED = 5  # indicators or families shown per suspect before "+N more"


@dataclass
class Suspect:
    """One internal host seen talking to listed indicators."""

    host: str
    hits: int = 0
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    indicators: Counter[str] = field(default_factory=Counter)
    families: Counter[str] = field(default_factory=Counter)


def family_of(tag: str) -> str:
    """The malware family a tag names (``family:emotet`` and plain ``emotet`` alike)."""
    lowered = tag.lower()
    for prefix in FAMILY_PREFIXES:
        if lowered.startswith(prefix):
            return tag[len(prefix) :]
    return tag


@dataclass
class HitSummary:
    """Counts kept while hits stream past, independent of how many there are."""

    total: int = 0
    by_type: Counter[str] = field(default_factory=Counter)
    by_log_type: Counter[str] = field(default_factory=Counter)
    suspects: dict[str, Suspect] = field(default_factory=dict)

    def add(self, hits: pa.Table) -> None:
        if hits.num_rows == 0:
            return
        self.total += hits.num_rows
        for column, counter in (("indicator_type", self.by_type), ("log_type", self.by_log_type)):
            counts = pc.value_counts(hits.column(column).combine_chunks())
            for item in counts.to_pylist():
                counter[item["values"] or "?"] += item["counts"]
        suspect = pc.fill_null(hits.column("suspect"), NO_SUSPECT)
        grouped = (
            pa.table({"suspect": suspect, "time": hits.column("time")})
            .group_by("suspect")
            .aggregate([("time", "min"), ("time", "max"), ([], "count_all")])
        )
        for row in grouped.to_pylist():
            entry = self.suspects.setdefault(row["suspect"], Suspect(row["suspect"]))
            entry.hits += row["count_all"]
            entry.first_seen = _earliest(entry.first_seen, row["time_min"])
            entry.last_seen = _latest(entry.last_seen, row["time_max"])
        pairs = pa.table({"suspect": suspect, "indicator": hits.column("indicator")})
        for row in pairs.group_by(["suspect", "indicator"]).aggregate([]).to_pylist():
            self.suspects[row["suspect"]].indicators[row["indicator"]] += 1
        tags = hits.column("tags").combine_chunks()
        if len(pc.list_flatten(tags)):
            parents = pc.list_parent_indices(tags)
            owners = pc.take(suspect.combine_chunks(), parents)
            flat = pa.table({"suspect": owners, "tag": pc.list_flatten(tags)})
            for row in flat.group_by(["suspect", "tag"]).aggregate([]).to_pylist():
                if row["tag"]:
                    self.suspects[row["suspect"]].families[family_of(row["tag"])] += 1

    def ranked(self) -> list[Suspect]:
        """Suspects by number of hits, most first."""
        return sorted(self.suspects.values(), key=lambda s: (-s.hits, s.host))


def listed(values: Counter[str], limit: int = MAX_LISTED) -> str:
    names = sorted(values)
    shown = ", ".join(names[:limit])
    return shown + (f" +{len(names) - limit} more" if len(names) > limit else "")


def _earliest(a: datetime | None, b: datetime | None) -> datetime | None:
    return b if a is None else a if b is None else min(a, b)


def _latest(a: datetime | None, b: datetime | None) -> datetime | None:
    return b if a is None else a if b is None else max(a, b)
