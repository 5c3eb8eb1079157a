"""Write indicators for the tools a unit runs: resolver RPZ, Suricata, Zeek, hosts, firewall, STIX.

Every writer takes indicators (from ``IndicatorIndex.indicators()`` or an import) and gives the
files' text; what a target cannot express is counted in ``skipped`` rather than dropped silently.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from lamsach.indicators.formats.hosts import write_hosts
from lamsach.indicators.formats.rpz import write_rpz
from lamsach.indicators.formats.stix import write_stix
from lamsach.indicators.formats.suricata import write_suricata
from lamsach.indicators.formats.zeek import write_zeek
from lamsach.indicators.model import Indicator, IndicatorType

EXPORT_FORMATS = ("txt", "csv", "stix", "zeek", "suricata", "rpz", "hosts")
CSV_COLUMNS = (
    "type", "value", "sources", "tags", "first_seen", "last_seen", "expires", "confidence",
    "files",
)  # fmt: skip

# What each target can express; the rest is counted as skipped.
_SUPPORTED: dict[str, frozenset[IndicatorType]] = {
    "txt": frozenset(IndicatorType),
    "csv": frozenset(IndicatorType),
    "stix": frozenset(IndicatorType),
    "zeek": frozenset(IndicatorType) - {IndicatorType.IP_PORT},
    "rpz": frozenset(
        {
            IndicatorType.DOMAIN,
            IndicatorType.HOSTNAME,
            IndicatorType.IPV4,
            IndicatorType.IPV6,
            IndicatorType.CIDR,
        }
    ),
    "hosts": frozenset({IndicatorType.DOMAIN, IndicatorType.HOSTNAME}),
}
_NAMES = (IndicatorType.DOMAIN, IndicatorType.HOSTNAME)


@dataclass(slots=True)
class Export:
    """Files to write (name -> text; one unnamed ``""`` file for single-file formats)."""

    files: dict[str, str] = field(default_factory=dict)
    written: int = 0
    skipped: Counter[str] = field(default_factory=Counter)


def export(
    indicators: Iterable[Indicator],
    format: str,
    *,
    types: frozenset[IndicatorType] | None = None,
    zone: str = "rpz.lamsach.",
    now: datetime | None = None,
) -> Export:
    """Indicators (optionally only ``types``) in ``format``, sorted by type and value."""
    if format not in EXPORT_FORMATS:
        raise ValueError(f"unknown export format {format!r} (known: {', '.join(EXPORT_FORMATS)})")
    chosen = sorted(
        (i for i in indicators if types is None or i.type in types),
        key=lambda i: (i.type.value, i.value),
    )
    result = Export()
    if format == "suricata":
        suricata = write_suricata(chosen)
        result.files = suricata.files
        result.skipped.update(suricata.skipped)
        result.written = len(chosen) - sum(suricata.skipped.values())
        return result
    supported = _SUPPORTED[format]
    # In a zone every name gets the zone name appended (and "*." for domains): a name that
    # would pass 253 characters would make the resolver refuse the whole zone.
    room = 253 - len(zone.rstrip(".")) - 3
    kept = []
    for indicator in chosen:
        if indicator.type not in supported:
            result.skipped[indicator.type.value] += 1
        elif format == "rpz" and indicator.type in _NAMES and len(indicator.value) > room:
            result.skipped["name-too-long"] += 1
        else:
            kept.append(indicator)
    result.written = len(kept)
    if format == "txt":
        text = "".join(f"{indicator.value}\n" for indicator in kept)
    elif format == "csv":
        text = _csv(kept)
    elif format == "stix":
        text = write_stix(kept, now)
    elif format == "zeek":
        text = "".join(write_zeek(kept))
    elif format == "rpz":
        text = "".join(write_rpz(kept, zone, now))
    else:
        text = "".join(write_hosts(kept))
    result.files[""] = text
    return result


def _csv(indicators: list[Indicator]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for indicator in indicators:
        writer.writerow(
            [
                indicator.type.value,
                indicator.value,
                "|".join(sorted(indicator.sources)),
                "|".join(sorted(indicator.tags)),
                _iso(indicator.first_seen),
                _iso(indicator.last_seen),
                _iso(indicator.expires),
                "" if indicator.confidence is None else indicator.confidence,
                "|".join(sorted(indicator.files)),
            ]
        )
    return out.getvalue()


def _iso(moment: datetime | None) -> str:
    return "" if moment is None else moment.isoformat()
