"""MISP event JSON (single events, API responses, feed event files) and MISP feed folders.

Only attributes marked ``to_ids`` are indicators; the others, deleted ones and types lamsach cannot
match are counted as rejects with the attribute's uuid. Event and attribute tags and galaxy
clusters become tags; the creating organisation is the source.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from lamsach.indicators.formats.base import (
    IndicatorFormat,
    MalformedFile,
    RawEntry,
    ReadContext,
    parse_timestamp,
)
from lamsach.indicators.model import IndicatorType

_SIMPLE: dict[str, IndicatorType | None] = {
    "ip-src": IndicatorType.IPV4,  # an address hint: IPv4, IPv6 or a network
    "ip-dst": IndicatorType.IPV4,
    "domain": IndicatorType.DOMAIN,
    "hostname": IndicatorType.HOSTNAME,
    "url": IndicatorType.URL,
    "md5": IndicatorType.MD5,
    "sha1": IndicatorType.SHA1,
    "sha256": IndicatorType.SHA256,
}
_HASH_PAIRS = {
    "filename|md5": IndicatorType.MD5,
    "filename|sha1": IndicatorType.SHA1,
    "filename|sha256": IndicatorType.SHA256,
    "malware-sample": IndicatorType.MD5,
}
_SKIPPED_TAG_PREFIXES = ("tlp:", "pap:", "workflow:")
_GALAXY_TAG = re.compile(r'misp-galaxy:[^=]+="(?P<value>[^"]+)"')
FEED_MANIFEST = "manifest.json"


def _sniff(head: str, path: Path) -> bool:
    text = head.lstrip()
    return text.startswith(("{", "[")) and bool(re.search(r'"(Event|Attribute)"\s*:', head))


def _events(document: Any) -> list[dict[str, Any]]:
    if isinstance(document, dict) and isinstance(document.get("response"), list):
        document = document["response"]
    items = document if isinstance(document, list) else [document]
    events = []
    for item in items:
        if isinstance(item, dict) and isinstance(item.get("Event"), dict):
            events.append(item["Event"])
        elif isinstance(item, dict) and "Attribute" in item:
            events.append(item)
    if not events:
        raise MalformedFile("no MISP event in the document")
    return events


def _tag_names(holder: dict[str, Any]) -> set[str]:
    names: set[str] = set()
    for tag in holder.get("Tag") or []:
        name = str(tag.get("name", "")) if isinstance(tag, dict) else ""
        if not name or name.lower().startswith(_SKIPPED_TAG_PREFIXES):
            continue
        galaxy = _GALAXY_TAG.fullmatch(name)
        names.add(galaxy.group("value") if galaxy else name)
    for galaxy in holder.get("Galaxy") or []:
        clusters = galaxy.get("GalaxyCluster") if isinstance(galaxy, dict) else None
        for cluster in clusters or []:
            if isinstance(cluster, dict) and cluster.get("value"):
                names.add(str(cluster["value"]))
    return names


def read_misp(text: str, ctx: ReadContext) -> Iterator[RawEntry]:
    try:
        events = _events(json.loads(text))
    except json.JSONDecodeError as exc:
        raise MalformedFile(f"broken JSON: {exc}") from None
    for event in events:
        yield from _read_event(event, ctx)


def _read_event(event: dict[str, Any], ctx: ReadContext) -> Iterator[RawEntry]:
    event_tags = frozenset(_tag_names(event)) | ctx.tags
    org = event.get("Orgc") or event.get("Org") or {}
    sources = frozenset({str(org["name"])}) if isinstance(org, dict) and org.get("name") else None
    event_date = parse_timestamp(event.get("date"))
    event_id = event.get("uuid") or event.get("id") or "?"
    attributes = _list(event.get("Attribute"), f"event {event_id} Attribute", ctx)
    for obj in _list(event.get("Object"), f"event {event_id} Object", ctx):
        attributes.extend(_list(obj.get("Attribute"), f"event {event_id} object Attribute", ctx))
    for attribute in attributes:
        yield from _read_attribute(attribute, event_id, event_tags, sources, event_date, ctx)


def _list(value: object, where: str, ctx: ReadContext) -> list[dict[str, Any]]:
    """The objects of a JSON list, each thing that is not an object counted as a reject."""
    if value is None:
        return []
    if not isinstance(value, list):
        ctx.reject(None, "bad-misp", where, "expected a list of objects")
        return []
    items = []
    for item in value:
        if isinstance(item, dict):
            items.append(item)
        else:
            ctx.reject(None, "bad-misp", f"{where}: {item!r}", "expected an object")
    return items


def _read_attribute(
    attribute: dict[str, Any],
    event_id: object,
    event_tags: frozenset[str],
    sources: frozenset[str] | None,
    event_date: Any,
    ctx: ReadContext,
) -> Iterator[RawEntry]:
    kind = str(attribute.get("type", ""))
    value = str(attribute.get("value", ""))
    where = f"event {event_id} attribute {attribute.get('uuid') or attribute.get('id') or '?'}"
    shown = f"{where}: {kind} {value}"
    if attribute.get("deleted") in (True, "1", 1):
        ctx.reject(None, "deleted", shown, "deleted attribute")
        return
    if attribute.get("to_ids") not in (True, "1", 1):
        ctx.reject(None, "not-to-ids", shown, "attribute not marked for detection (to_ids)")
        return
    common: dict[str, Any] = {
        "where": where,
        "tags": event_tags | _tag_names(attribute),
        "first_seen": parse_timestamp(attribute.get("first_seen")) or event_date,
        "last_seen": parse_timestamp(attribute.get("last_seen"))
        or parse_timestamp(attribute.get("timestamp")),
    }
    if sources:
        common["sources"] = sources
    if kind in _SIMPLE:
        yield RawEntry(value, type_hint=_SIMPLE[kind], **common)
    elif kind in _HASH_PAIRS:
        yield RawEntry(value.rpartition("|")[2], type_hint=_HASH_PAIRS[kind], **common)
    elif kind in ("ip-src|port", "ip-dst|port"):
        host, _, port = value.rpartition("|")
        host = f"[{host}]" if ":" in host else host
        yield RawEntry(f"{host}:{port}", type_hint=IndicatorType.IP_PORT, **common)
    elif kind == "domain|ip":
        name, _, address = value.partition("|")
        yield RawEntry(name, type_hint=IndicatorType.DOMAIN, **common)
        yield RawEntry(address, type_hint=IndicatorType.IPV4, **common)
    elif kind == "hostname|port":
        # lamsach has no name:port type; the host name alone is the closest exact indicator.
        yield RawEntry(value.partition("|")[0], type_hint=IndicatorType.HOSTNAME, **common)
    else:
        ctx.reject(None, "unsupported-type", shown, f"MISP type {kind} is not matched by lamsach")


def feed_events(folder: Path) -> list[Path]:
    """The event files a MISP feed's manifest names, in manifest order (missing ones included)."""
    manifest_path = folder / FEED_MANIFEST
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MalformedFile(f"{manifest_path}: unreadable MISP feed manifest: {exc}") from None
    if not isinstance(manifest, dict):
        raise MalformedFile(f"{manifest_path}: MISP feed manifest is not an object")
    return [folder / f"{event_uuid}.json" for event_uuid in manifest]


FORMAT = IndicatorFormat("misp", "MISP event JSON", _sniff, read_misp, priority=11)
