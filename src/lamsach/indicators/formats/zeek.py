"""Zeek intel framework files (``#fields indicator indicator_type meta.source ...``)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from pathlib import Path

from lamsach.indicators.formats.base import IndicatorFormat, RawEntry, ReadContext
from lamsach.indicators.model import Indicator, IndicatorType

_HINTS = {
    "Intel::ADDR": IndicatorType.IPV4,  # an address hint: IPv4 or IPv6
    "Intel::SUBNET": IndicatorType.CIDR,
    "Intel::DOMAIN": IndicatorType.DOMAIN,
    "Intel::URL": IndicatorType.URL,
    "Intel::FILE_HASH": None,
}
_IP_TYPES = (IndicatorType.IPV4, IndicatorType.IPV6)
# meta.desc as lamsach writes it, so that an export read back keeps types and tags.
_LAMSACH_DESC = re.compile(
    r"lamsach (?P<type>[a-z0-9_]+)(?: scheme=(?P<scheme>[a-z][a-z0-9+.-]*))?(?: tags=(?P<tags>.*))?"
)
_EMPTY = ("-", "(empty)", "")


def _sniff(head: str, path: Path) -> bool:
    for line in head.splitlines()[:20]:
        if line.startswith("#fields"):
            fields = line.split()
            return "indicator" in fields and "indicator_type" in fields
    return False


def read_zeek(text: str, ctx: ReadContext) -> Iterator[RawEntry]:
    fields: list[str] = []
    separator = "\t"
    for number, line in enumerate(text.splitlines(), start=1):
        if line.startswith("#separator"):
            separator = line.split(" ", 1)[1].encode().decode("unicode_escape") or "\t"
            continue
        if line.startswith("#fields"):
            fields = line.split(separator)[1:]
            continue
        if not line.strip() or line.startswith("#"):
            continue
        if not fields:
            ctx.reject(number, "bad-zeek-line", line, "data before the #fields header")
            continue
        cells = line.split(separator)
        if len(cells) != len(fields):
            ctx.reject(
                number, "bad-zeek-line", line, f"{len(cells)} fields, header has {len(fields)}"
            )
            continue
        row = dict(zip(fields, cells, strict=True))
        kind = row.get("indicator_type", "")
        if kind not in _HINTS:
            ctx.reject(number, "unsupported-type", line, f"{kind} is not matched by lamsach")
            continue
        hint = _HINTS[kind]
        value = row.get("indicator", "")
        tags = ctx.tags
        desc = _LAMSACH_DESC.fullmatch(row.get("meta.desc", ""))
        scheme = "http"  # Zeek writes HTTP URLs without their scheme
        if desc is not None:
            scheme = desc.group("scheme") or scheme
            if desc.group("type") == IndicatorType.HOSTNAME.value:
                hint = IndicatorType.HOSTNAME
            if desc.group("tags"):
                tags = tags | frozenset(t for t in desc.group("tags").split(",") if t)
        if hint is IndicatorType.URL and "://" not in value:
            value = f"{scheme}://{value}"
        source = row.get("meta.source", "-")
        sources = frozenset() if source in _EMPTY else frozenset(filter(None, source.split(",")))
        yield RawEntry(value, number, type_hint=hint, tags=tags, sources=sources)


def write_zeek(indicators: Iterable[Indicator]) -> Iterator[str]:
    """An intel file for Zeek's ``Intel::read_files``; IP:port has no Zeek type and is left out.

    Zeek matches names exactly; domains are written as names and marked in ``meta.desc`` so that
    lamsach reads them back with their own meaning.
    """
    yield "#fields\tindicator\tindicator_type\tmeta.source\tmeta.desc\n"
    for indicator in indicators:
        kind = _zeek_type(indicator)
        if kind is None:
            continue
        value = indicator.value
        desc = f"lamsach {indicator.type.value}"
        if indicator.type is IndicatorType.URL:
            # Zeek only sees HTTP and wants no scheme; another one is kept for lamsach to read.
            scheme, value = value.split("://", 1)
            desc += f" scheme={scheme}" if scheme != "http" else ""
        source = ",".join(sorted(indicator.sources)) or "-"
        tags = ",".join(sorted(tag.replace("\t", " ").replace(",", " ") for tag in indicator.tags))
        desc += f" tags={tags}" if tags else ""
        yield f"{value}\t{kind}\t{source.replace(chr(9), ' ')}\t{desc}\n"


def _zeek_type(indicator: Indicator) -> str | None:
    kind = indicator.type
    if kind in _IP_TYPES:
        return "Intel::ADDR"
    if kind is IndicatorType.CIDR:
        return "Intel::SUBNET"
    if kind in (IndicatorType.DOMAIN, IndicatorType.HOSTNAME):
        return "Intel::DOMAIN"
    if kind is IndicatorType.URL:
        return "Intel::URL"
    if kind in (IndicatorType.MD5, IndicatorType.SHA1, IndicatorType.SHA256):
        return "Intel::FILE_HASH"
    return None


FORMAT = IndicatorFormat("zeek", "Zeek intel file", _sniff, read_zeek, priority=10)
