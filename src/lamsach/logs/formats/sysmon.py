"""Sysmon network events: 3 (NetworkConnect) and 22 (DnsQuery), from EVTX, Event XML or JSON.

Sysmon's ``DestinationHostname`` is a reverse-DNS guess, not the name a program asked for, so it
is never put in ``host``: domain indicators must not match it. A DNS query event names no client
address (the client is the machine itself), so ``src_ip`` stays empty unless the export adds the
machine's address (winlogbeat's ``host.ip``).
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Mapping
from typing import IO, Any

import pyarrow as pa

from lamsach.logs.formats import LogFormat, ReadContext
from lamsach.logs.formats._evtx import MAGIC as EVTX_MAGIC
from lamsach.logs.formats._evtx import parse_event_xml, read_events
from lamsach.logs.formats._netfields import canonical_ip, port, proto_name
from lamsach.logs.formats._rows import RowBuffer
from lamsach.logs.formats._syslog import parse_iso, to_micros

COLUMNS = (
    "time",
    "src_ip",
    "src_port",
    "dst_ip",
    "dst_port",
    "proto",
    "host",
    "answers",
    "log_type",
    "line",
)
MAX_JSON_CHARS = 64 << 20  # one pretty-printed JSON value is read whole, up to this size
NETWORK_EVENTS = frozenset((3, 22))
# The EventData values read from events 3 and 22.
EVENT_DATA = frozenset(
    {"UtcTime", "Protocol", "SourceIp", "SourcePort", "DestinationIp", "DestinationPort"}
    | {"QueryName", "QueryResults"}
)

_TITLES = ('"Network connection detected:', '"Dns query:')
_EVENT_START = re.compile(r"<Event[\s>]")
_FRACTION = re.compile(r"(\.\d{6})\d+")
_MS_DATE = re.compile(r"/Date\((-?\d+)")


class SysmonEvent:
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


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def event_time(event: SysmonEvent) -> int | None:
    """UtcTime (when Sysmon saw the event, UTC) or else the time the event was logged."""
    utc = _text(event.data.get("UtcTime"))
    if utc:
        stamp = to_micros(parse_iso(_FRACTION.sub(r"\1", utc.replace(" ", "T", 1))))
        if stamp is not None:
            return stamp
    created = _text(event.system_time)
    ms_date = _MS_DATE.search(created)
    if ms_date is not None:
        return int(ms_date.group(1)) * 1000
    if created:
        created = _FRACTION.sub(r"\1", created.replace("Z", "+00:00"))
        return to_micros(parse_iso(created))
    return None


def dns_answers(results: str) -> list[str] | None:
    """The IP addresses in Sysmon's QueryResults (``type:  5 cname;::ffff:1.2.3.4;``)."""
    found: list[str] = []
    for part in results.split(";"):
        part = part.strip()
        if part and not part.startswith("type:"):
            address = canonical_ip(part)
            if address is not None and address not in found:
                found.append(address)
    return found or None


def to_row(event: SysmonEvent, number: int) -> tuple[object, ...] | str:
    """The canonical row of a network event, or the reason it is skipped."""
    if event.provider and "sysmon" not in event.provider.lower():
        return "not Sysmon"
    if event.event_id not in NETWORK_EVENTS:
        return "not network event"
    data = event.data
    if event.event_id == 3:
        src_ip, dst_ip = (
            canonical_ip(_text(data.get("SourceIp"))),
            canonical_ip(_text(data.get("DestinationIp"))),
        )
        if src_ip is None or dst_ip is None:
            return "bad network event"
        return (
            event_time(event),
            src_ip,
            port(_text(data.get("SourcePort"))),
            dst_ip,
            port(_text(data.get("DestinationPort"))),
            proto_name(_text(data.get("Protocol"))),
            None,  # never DestinationHostname: it is reverse DNS
            None,
            "conn",
            number,
        )
    name = _text(data.get("QueryName")).rstrip(".").lower()
    if not name:
        return "bad DNS event"
    return (
        event_time(event),
        event.host_ip,
        None,
        None,
        None,
        None,
        name,
        dns_answers(_text(data.get("QueryResults"))),
        "dns",
        number,
    )


# ---- Event XML (wevtutil, Event Viewer, EVTX records) ----


def event_from_xml(text: str) -> SysmonEvent:
    """An event from its XML rendering; raises ET.ParseError when it is not well-formed."""
    event_id, provider, system_time, data = parse_event_xml(text)
    return SysmonEvent(event_id, provider, data, system_time)


def _xml_events(lines: Iterator[tuple[int, str]]) -> Iterator[tuple[int, str]]:
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
    valid = [ip for ip in (canonical_ip(_text(a)) for a in addresses) if ip is not None]
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


def event_from_json(obj: Mapping[str, Any]) -> SysmonEvent:
    winlog = obj.get("winlog")
    if isinstance(winlog, dict):
        data = winlog.get("event_data")
        return SysmonEvent(
            winlog.get("event_id", _dig(obj, ("event", "code"))),
            winlog.get("provider_name"),
            _with_ecs(obj, data if isinstance(data, dict) else {}),
            obj.get("@timestamp"),
            _first_host_ip(obj.get("host")),
        )
    if isinstance(obj.get("Message"), str) and ("Id" in obj or "ProviderName" in obj):
        return SysmonEvent(
            obj.get("Id"),
            obj.get("ProviderName"),
            _message_fields(obj["Message"]),
            _text(obj.get("TimeCreated")),
        )
    event_data = obj.get("EventData")
    provider = obj.get("ProviderName") or obj.get("SourceName") or obj.get("Provider")
    return SysmonEvent(
        obj.get("EventID", obj.get("event_id", obj.get("Id"))),
        provider if isinstance(provider, str) else None,
        event_data if isinstance(event_data, dict) else obj,
        _text(obj.get("TimeCreated") or obj.get("EventTime") or obj.get("@timestamp")),
    )


def _json_values(
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
    yield from _pretty_objects(_chain(first, lines), ctx)


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


# ---- reading ----


def _emit(
    rows: RowBuffer, event: SysmonEvent, number: int, ctx: ReadContext
) -> pa.RecordBatch | None:
    row = to_row(event, number)
    if isinstance(row, str):
        ctx.stats.skip(row, number)
        return None
    rows.rows.append(row)
    return rows.flush() if len(rows.rows) >= rows.size else None


def read_text(stream: IO[str], ctx: ReadContext) -> Iterator[pa.RecordBatch]:
    rows = RowBuffer(ctx, COLUMNS)
    lines = ((number, raw.rstrip("\r\n")) for number, raw in enumerate(stream, 1))
    first = next(((n, text) for n, text in lines if text.strip()), None)
    if first is None:
        return
    if first[1].lstrip("\ufeff \t").startswith("<"):
        for number, text in _xml_events(_chain(first, lines)):
            try:
                event = event_from_xml(text)
            except ET.ParseError:
                ctx.stats.skip("bad event XML", number)
                continue
            batch = _emit(rows, event, number, ctx)
            if batch is not None:
                yield batch
    else:
        first = (first[0], first[1].lstrip("\ufeff"))
        for number, value in _json_values(first, lines, ctx):
            for obj in value if isinstance(value, list) else [value]:
                if not isinstance(obj, dict):
                    ctx.stats.skip("not an event", number)
                    continue
                batch = _emit(rows, event_from_json(obj), number, ctx)
                if batch is not None:
                    yield batch
    if rows.rows:
        yield rows.flush()


def _chain(first: tuple[int, str], rest: Iterator[tuple[int, str]]) -> Iterator[tuple[int, str]]:
    yield first
    yield from rest


def read_evtx(stream: IO[bytes], ctx: ReadContext) -> Iterator[pa.RecordBatch]:
    """Records of an EVTX file; ``line`` is the record id."""
    rows = RowBuffer(ctx, COLUMNS)
    events = read_events(stream, ctx.stats.skip, EVENT_DATA)
    for number, (event_id, provider, system_time, data) in events:
        batch = _emit(rows, SysmonEvent(event_id, provider, data, system_time), number, ctx)
        if batch is not None:
            yield batch
    if rows.rows:
        yield rows.flush()


def sniff(head: list[str]) -> bool:
    text = "\n".join(head)
    # The provider names Sysmon; an export of only TimeCreated, Id and Message still shows
    # Sysmon's own event titles.
    if "Microsoft-Windows-Sysmon" not in text and not any(t in text for t in _TITLES):
        return False
    first = head[0].lstrip("\ufeff \t")
    return first.startswith(("<Event", "<?xml", "<Events", "{", "["))


FORMATS = (
    LogFormat(
        name="sysmon",
        description="Sysmon events 3 and 22 as Event XML or JSON (Get-WinEvent, winlogbeat)",
        sniff=sniff,
        read=read_text,
        priority=15,
    ),
    LogFormat(
        name="sysmon-evtx",
        description="Sysmon events 3 and 22 in a Windows EVTX file",
        sniff=lambda head: False,
        read=read_evtx,
        priority=15,
        binary=True,
        magic=EVTX_MAGIC,
    ),
)
