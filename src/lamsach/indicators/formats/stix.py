"""STIX 2.1 bundles: indicator patterns read with stix2-patterns, and bundles written back.

Each ``=``, ``IN`` or ``ISSUBSET`` comparison on a supported object path gives one indicator;
``valid_from``/``valid_until`` give first seen and expiry, ``confidence`` and ``labels`` are kept,
and the names of malware, tools and actors an indicator ``indicates`` become tags.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from stix2patterns.exceptions import ParseException
from stix2patterns.pattern import Pattern

from lamsach.indicators.formats.base import (
    IndicatorFormat,
    MalformedFile,
    RawEntry,
    ReadContext,
    parse_timestamp,
)
from lamsach.indicators.model import Indicator, IndicatorType

_PATHS: dict[tuple[str, str], IndicatorType | None] = {
    ("domain-name", "value"): IndicatorType.DOMAIN,
    ("ipv4-addr", "value"): IndicatorType.IPV4,  # an address hint: an address or a network
    ("ipv6-addr", "value"): IndicatorType.IPV4,
    ("url", "value"): IndicatorType.URL,
    ("file", "hashes.MD5"): IndicatorType.MD5,
    ("file", "hashes.SHA-1"): IndicatorType.SHA1,
    ("file", "hashes.SHA1"): IndicatorType.SHA1,
    ("file", "hashes.SHA-256"): IndicatorType.SHA256,
    ("file", "hashes.SHA256"): IndicatorType.SHA256,
}
_NAMED_TARGETS = ("malware", "tool", "threat-actor", "intrusion-set", "campaign")
_QUOTED = re.compile(r"'((?:[^'\\]|\\.)*)'")
_NAMESPACE = uuid.UUID("8b0a5e2b-6c55-4f51-9a55-6c1b4d8c9a10")  # stable ids for exports
_STIX_HASH = {
    IndicatorType.MD5: "MD5",
    IndicatorType.SHA1: "'SHA-1'",
    IndicatorType.SHA256: "'SHA-256'",
}


def _sniff(head: str, path: Path) -> bool:
    text = head.lstrip()
    if not text.startswith(("{", "[")):
        return False
    return bool(
        re.search(r'"type"\s*:\s*"(bundle|indicator)"', head)
        or re.search(r'"spec_version"\s*:\s*"2\.', head)
    )


def _unquote(literal: str) -> list[str]:
    return [m.group(1).replace("\\'", "'").replace("\\\\", "\\") for m in _QUOTED.finditer(literal)]


def _objects(document: Any) -> list[dict[str, Any]]:
    if isinstance(document, dict) and document.get("type") == "bundle":
        objects = document.get("objects", [])
    elif isinstance(document, dict):
        objects = [document]
    elif isinstance(document, list):
        objects = document
    else:
        raise MalformedFile("not a STIX bundle or object")
    return [obj for obj in objects if isinstance(obj, dict)]


def read_stix(text: str, ctx: ReadContext) -> Iterator[RawEntry]:
    try:
        objects = _objects(json.loads(text))
    except json.JSONDecodeError as exc:
        raise MalformedFile(f"broken JSON: {exc}") from None
    by_id = {obj.get("id"): obj for obj in objects}
    indicates: dict[str, set[str]] = {}
    for obj in objects:
        if obj.get("type") == "relationship" and obj.get("relationship_type") == "indicates":
            target = by_id.get(obj.get("target_ref"), {})
            if target.get("type") in _NAMED_TARGETS and target.get("name"):
                indicates.setdefault(obj.get("source_ref", ""), set()).add(str(target["name"]))
    for obj in objects:
        if obj.get("type") == "indicator":
            yield from _read_indicator(obj, by_id, indicates, ctx)


def _read_indicator(
    obj: dict[str, Any],
    by_id: dict[Any, dict[str, Any]],
    indicates: dict[str, set[str]],
    ctx: ReadContext,
) -> Iterator[RawEntry]:
    where = str(obj.get("id", "indicator without id"))
    pattern = obj.get("pattern")
    if obj.get("revoked") is True:
        ctx.reject(None, "revoked", where, "revoked STIX indicator")
        return
    if obj.get("pattern_type", "stix") != "stix" or not isinstance(pattern, str):
        ctx.reject(None, "unsupported-pattern", where, f"pattern type {obj.get('pattern_type')}")
        return
    try:
        comparisons = _comparisons(pattern)
    except ParseException as exc:
        ctx.reject(None, "bad-pattern", f"{where}: {pattern}", str(exc))
        return
    tags = set(ctx.tags)
    tags.update(str(label) for label in obj.get("labels", []) if label)
    tags.update(
        str(kind) for kind in obj.get("indicator_types", []) if kind != "malicious-activity"
    )
    tags.update(indicates.get(obj.get("id", ""), ()))
    creator = by_id.get(obj.get("created_by_ref"), {}).get("name")
    sources = {str(name) for name in obj.get("x_lamsach_sources", [])}
    if creator and not sources:
        sources.add(str(creator))
    confidence = obj.get("confidence")
    domain_hint = (
        IndicatorType.HOSTNAME if obj.get("x_lamsach_type") == "hostname" else IndicatorType.DOMAIN
    )
    common = {
        "where": where,
        "tags": frozenset(tags),
        "first_seen": parse_timestamp(obj.get("valid_from")),
        "expires": parse_timestamp(obj.get("valid_until")),
        "confidence": confidence if isinstance(confidence, int) else None,
        "sources": frozenset(sources),
    }
    traffic = comparisons.pop("network-traffic", None)
    if traffic is not None:
        value = _ip_port(traffic)
        if value is None:
            ctx.reject(None, "unsupported-pattern", f"{where}: {pattern}", "network-traffic")
        else:
            yield RawEntry(value, type_hint=IndicatorType.IP_PORT, **common)  # type: ignore[arg-type]
    unsupported: list[str] = []
    usable = 0
    for object_type, entries in comparisons.items():
        for path_parts, operator, literal in entries:
            path = ".".join(str(part) for part in path_parts)
            if (object_type, path) not in _PATHS or operator not in ("=", "IN", "ISSUBSET"):
                unsupported.append(f"{object_type}:{path} {operator} {literal}")
                continue
            hint = _PATHS[(object_type, path)]
            if hint is IndicatorType.DOMAIN:
                hint = domain_hint
            for value in _unquote(literal):
                usable += 1
                yield RawEntry(value, type_hint=hint, **common)  # type: ignore[arg-type]
    # A comparison beside a usable one (file:name next to its hash) only narrows the indicator.
    if unsupported and not usable and traffic is None:
        message = "no comparison lamsach can match"
        ctx.reject(None, "unsupported-pattern", f"{where}: {'; '.join(unsupported)}", message)


# The one-comparison patterns most bundles consist of, in exactly the form the grammar allows;
# anything else goes through the stix2-patterns parser (about 0.2 ms a pattern).
_SIMPLE_PATTERN = re.compile(
    r"\[(?P<type>domain-name|ipv4-addr|ipv6-addr|url|file):"
    r"(?P<path>value|hashes\.(?:MD5|'SHA-1'|'SHA-256'|SHA1|SHA256)) "
    r"(?P<op>=|ISSUBSET) (?P<literal>'(?:[^'\\]|\\.)*')\]"
)


def _comparisons(pattern: str) -> dict[str, list[tuple[list[Any], str, str]]]:
    """Comparisons by object type, as ``Pattern.inspect()`` gives them."""
    simple = _SIMPLE_PATTERN.fullmatch(pattern)
    if simple is None:
        return dict(Pattern(pattern).inspect().comparisons)
    path = [part.strip("'") for part in simple.group("path").split(".")]
    return {simple.group("type"): [(path, simple.group("op"), simple.group("literal"))]}


def _ip_port(entries: list[tuple[list[Any], str, str]]) -> str | None:
    """``host:port`` from a network-traffic pattern naming dst_ref.value and dst_port."""
    hosts: list[str] = []
    ports: list[str] = []
    for path_parts, operator, literal in entries:
        path = ".".join(str(part) for part in path_parts)
        if operator != "=":
            return None
        if path == "dst_ref.value":
            hosts.extend(_unquote(literal))
        elif path == "dst_port":
            ports.append(literal.strip("'"))
        elif path != "dst_ref.type":
            return None
    if len(hosts) != 1 or len(ports) != 1:
        return None
    host = f"[{hosts[0]}]" if ":" in hosts[0] else hosts[0]
    return f"{host}:{ports[0]}"


def _pattern(indicator: Indicator) -> str:
    value = indicator.value.replace("\\", "\\\\").replace("'", "\\'")
    kind = indicator.type
    if kind in (IndicatorType.DOMAIN, IndicatorType.HOSTNAME):
        return f"[domain-name:value = '{value}']"
    if kind is IndicatorType.IPV4:
        return f"[ipv4-addr:value = '{value}']"
    if kind is IndicatorType.IPV6:
        return f"[ipv6-addr:value = '{value}']"
    if kind is IndicatorType.CIDR:
        family = "ipv6-addr" if ":" in value else "ipv4-addr"
        return f"[{family}:value ISSUBSET '{value}']"
    if kind is IndicatorType.IP_PORT:
        host, _, port = indicator.value.rpartition(":")
        host = host.strip("[]")
        family = "ipv6-addr" if ":" in host else "ipv4-addr"
        return (
            f"[network-traffic:dst_ref.type = '{family}' AND network-traffic:dst_ref.value = "
            f"'{host}' AND network-traffic:dst_port = {port}]"
        )
    if kind is IndicatorType.URL:
        return f"[url:value = '{value}']"
    return f"[file:hashes.{_STIX_HASH[kind]} = '{value}']"


def _stamp(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")[:-4] + "Z"


def write_stix(indicators: Iterable[Indicator], now: datetime | None = None) -> str:
    """A STIX 2.1 bundle with one indicator per entry; ids are stable for the same value."""
    created = _stamp(now or datetime.now(UTC))
    objects = []
    for indicator in indicators:
        obj: dict[str, Any] = {
            "type": "indicator",
            "spec_version": "2.1",
            "id": f"indicator--{uuid.uuid5(_NAMESPACE, f'{indicator.type}:{indicator.value}')}",
            "created": created,
            "modified": created,
            "name": indicator.value,
            "pattern": _pattern(indicator),
            "pattern_type": "stix",
            "valid_from": _stamp(indicator.first_seen) or created,
            "indicator_types": ["malicious-activity"],
        }
        if indicator.expires is not None:
            obj["valid_until"] = _stamp(indicator.expires)
        if indicator.tags:
            obj["labels"] = sorted(indicator.tags)
        if indicator.confidence is not None:
            obj["confidence"] = indicator.confidence
        if indicator.sources:
            obj["x_lamsach_sources"] = sorted(indicator.sources)
        if indicator.type is IndicatorType.HOSTNAME:
            obj["x_lamsach_type"] = "hostname"
        objects.append(obj)
    bundle = {"type": "bundle", "id": f"bundle--{uuid.uuid4()}", "objects": objects}
    return json.dumps(bundle, indent=1, ensure_ascii=False) + "\n"


FORMAT = IndicatorFormat("stix", "STIX 2.1 bundle or indicator", _sniff, read_stix, priority=10)
