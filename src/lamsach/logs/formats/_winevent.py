"""Windows event exports as events: Event XML (one per line, pretty-printed or run together) and
JSON (Get-WinEvent | ConvertTo-Json, winlogbeat / Elastic documents, flat NXLog-style objects).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

from lamsach.logs.formats import ReadContext
from lamsach.logs.formats._evtx import parse_event_xml
from lamsach.logs.formats._netfields import canonical_ip

MAX_JSON_CHARS = 64 << 20  # one pretty-printed JSON value is read whole, up to this size
_EVENT_START = re.compile(r"<Event[\s>]")


class WinEvent:
    """One event, whatever the export: its id, provider, EventData fields and times."""

    __slots__ = ("data", "event_id", "host_ip", "provider", "system_time")

    def __init__(
        self,
        event_id: Any,
        provider: str | None,
        data: Mapping[str, Any],
        system_time: str | None = None,
        host_ip: str | None = None,
    ) -> None:
        self.event_id = _event_id(event_id)
        self.provider = provider
        self.data = data
        self.system_time = system_time
        self.host_ip = host_ip


def _event_id(value: Any) -> int | None:
    if isinstance(value, dict):  # Get-WinEvent sometimes nests {"value": 3}
        value = value.get("value", value.get("Value"))
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def text_of(value: Any) -> str:
    """A field value as trimmed text ("" when absent)."""
    return "" if value is None else str(value).strip()


# ---- Event XML (wevtutil, Event Viewer, EVTX records) ----


def event_from_xml(text: str) -> WinEvent:
    """An event from its XML rendering; raises ET.ParseError when it is not well-formed."""
    event_id, provider, system_time, data = parse_event_xml(text)
    return WinEvent(event_id, provider, data, system_time)


def xml_events(lines: Iterator[tuple[int, str]]) -> Iterator[tuple[int, str]]:
    # Events may be one per line, pretty-printed over many lines, or run together on one line
    # (wevtutil); each is cut from its "<Event" to its "</Event>".
    buffer = ""
    start_line = 0
    for number, line in lines:
        if not buffer:
            match = _EVENT_START.search(line)
            if match is None:
                continue
            line = line[match.start() :]
            start_line = number
        buffer += line + "\n"
        while True:
            end = buffer.find("</Event>")
            if end < 0:
                break
            end += len("</Event>")
            yield start_line, buffer[:end]
            rest = buffer[end:]
            match = _EVENT_START.search(rest)
            buffer = rest[match.start() :] if match is not None else ""
        if len(buffer) > MAX_JSON_CHARS:
            yield start_line, buffer
            buffer = ""
    if buffer.strip():
        yield start_line, buffer


# ---- JSON (Get-WinEvent | ConvertTo-Json, winlogbeat / ECS, flat NXLog-style) ----


def _message_fields(message: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    for line in message.splitlines():
        key, sep, value = line.partition(":")
        if sep and key and " " not in key.strip():
            fields[key.strip()] = value.strip()
    return fields


def _first_host_ip(host: Any) -> str | None:
    addresses = host.get("ip") if isinstance(host, dict) else None
    if isinstance(addresses, str):
        addresses = [addresses]
    if not isinstance(addresses, list):
        return None
    valid = [ip for ip in (canonical_ip(text_of(a)) for a in addresses) if ip is not None]
    usable = [ip for ip in valid if not ip.startswith(("127.", "169.254.", "fe80:", "::1"))]
    ipv4 = [ip for ip in usable if ":" not in ip]
    chosen = ipv4 or usable
    return chosen[0] if chosen else None


# Elastic's Sysmon pipeline moves EventData values to ECS fields; read them back from there.
# (Never destination.domain: Elastic fills it from the reverse-DNS DestinationHostname.)
_ECS_FIELDS = (
    ("SourceIp", ("source", "ip")),
    ("SourcePort", ("source", "port")),
    ("DestinationIp", ("destination", "ip")),
    ("DestinationPort", ("destination", "port")),
    ("Protocol", ("network", "transport")),
    ("QueryName", ("dns", "question", "name")),
)


def _dig(obj: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj


def _with_ecs(obj: Mapping[str, Any], data: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(data)
    for name, path in _ECS_FIELDS:
        if not merged.get(name):
            value = _dig(obj, path)
            if isinstance(value, str | int) and not isinstance(value, bool):
                merged[name] = str(value)
    resolved = _dig(obj, ("dns", "resolved_ip"))
    if not merged.get("QueryResults") and isinstance(resolved, list):
        merged["QueryResults"] = ";".join(str(ip) for ip in resolved)
    return merged


def event_from_json(obj: Mapping[str, Any]) -> WinEvent:
    winlog = obj.get("winlog")
    if isinstance(winlog, dict):
        data = winlog.get("event_data")
        return WinEvent(
            winlog.get("event_id", _dig(obj, ("event", "code"))),
            winlog.get("provider_name"),
            _with_ecs(obj, data if isinstance(data, dict) else {}),
            obj.get("@timestamp"),
            _first_host_ip(obj.get("host")),
        )
    if isinstance(obj.get("Message"), str) and ("Id" in obj or "ProviderName" in obj):
        return WinEvent(
            obj.get("Id"),
            obj.get("ProviderName"),
            _message_fields(obj["Message"]),
            text_of(obj.get("TimeCreated")),
        )
    event_data = obj.get("EventData")
    provider = obj.get("ProviderName") or obj.get("SourceName") or obj.get("Provider")
    return WinEvent(
        obj.get("EventID", obj.get("event_id", obj.get("Id"))),
        provider if isinstance(provider, str) else None,
        event_data if isinstance(event_data, dict) else obj,
        text_of(obj.get("TimeCreated") or obj.get("EventTime") or obj.get("@timestamp")),
    )


def json_values(
    first: tuple[int, str], lines: Iterator[tuple[int, str]], ctx: ReadContext
) -> Iterator[tuple[int, Any]]:
    number, line = first
    try:
        value = json.loads(line)
        one_per_line = True
    except ValueError:
        one_per_line = False
    if one_per_line:
        yield number, value
        for number, line in lines:
            if not line.strip():
                continue
            try:
                yield number, json.loads(line)
            except ValueError:
                ctx.stats.skip("bad JSON line", number)
        return
    # Pretty-printed (ConvertTo-Json, jq, json.dump): an object runs from a line opening "{" to
    # the line closing it at the same indent, so a damaged object costs only itself.
    yield from _pretty_objects(chain(first, lines), ctx)


def _pretty_objects(
    lines: Iterator[tuple[int, str]], ctx: ReadContext
) -> Iterator[tuple[int, Any]]:
    parts: list[str] = []
    size = first_line = 0
    closing: tuple[str, ...] = ()
    for number, line in lines:
        if not parts:
            opening = line.strip().lstrip("\ufeff").lstrip("[")
            if opening in ("", "]", ","):
                continue
            if not opening.startswith("{"):
                ctx.stats.skip("bad JSON line", number)
                continue
            try:  # a whole object on this line
                yield number, json.loads(opening.rstrip("],").rstrip())
                continue
            except ValueError:
                pass
            indent = line[: len(line) - len(line.lstrip())]
            closing = (indent + "}", indent + "},", indent + "}]")
            parts, size, first_line = [opening], len(opening), number
            continue
        parts.append(line)
        size += len(line)
        if line.rstrip() in closing or size > MAX_JSON_CHARS:
            try:
                yield first_line, json.loads("\n".join(parts).rstrip().rstrip(",]"))
            except ValueError:
                ctx.stats.skip("bad JSON", first_line)
            parts = []
    if parts:
        ctx.stats.skip("bad JSON", first_line)


def chain(first: tuple[int, str], rest: Iterator[tuple[int, str]]) -> Iterator[tuple[int, str]]:
    yield first
    yield from rest
