"""Sysmon network events: 3 (NetworkConnect) and 22 (DnsQuery), from EVTX, Event XML or JSON.

Sysmon's ``DestinationHostname`` is a reverse-DNS guess, not the name a program asked for, so it
is never put in ``host``: domain indicators must not match it. A DNS query event names no client
address (the client is the machine itself), so ``src_ip`` stays empty unless the export adds the
machine's address (winlogbeat's ``host.ip``).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from typing import IO

import pyarrow as pa

from lamsach.logs.formats import LogFormat, ReadContext
from lamsach.logs.formats._evtx import MAGIC as EVTX_MAGIC
from lamsach.logs.formats._evtx import read_events
from lamsach.logs.formats._netfields import canonical_ip, port, proto_name
from lamsach.logs.formats._rows import RowBuffer
from lamsach.logs.formats._syslog import parse_iso, to_micros
from lamsach.logs.formats._winevent import (
    WinEvent,
    chain,
    event_from_json,
    event_from_xml,
    json_values,
    text_of,
    xml_events,
)

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
NETWORK_EVENTS = frozenset((3, 22))
# The EventData values read from events 3 and 22.
EVENT_DATA = frozenset(
    {"UtcTime", "Protocol", "SourceIp", "SourcePort", "DestinationIp", "DestinationPort"}
    | {"QueryName", "QueryResults"}
)

_TITLES = ('"Network connection detected:', '"Dns query:')
_FRACTION = re.compile(r"(\.\d{6})\d+")
_MS_DATE = re.compile(r"/Date\((-?\d+)")


def event_time(event: WinEvent) -> int | None:
    """UtcTime (when Sysmon saw the event, UTC) or else the time the event was logged."""
    utc = text_of(event.data.get("UtcTime"))
    if utc:
        stamp = to_micros(parse_iso(_FRACTION.sub(r"\1", utc.replace(" ", "T", 1))))
        if stamp is not None:
            return stamp
    created = text_of(event.system_time)
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


def to_row(event: WinEvent, number: int) -> tuple[object, ...] | str:
    """The canonical row of a network event, or the reason it is skipped."""
    if event.provider and "sysmon" not in event.provider.lower():
        return "ignored: not Sysmon"
    if event.event_id not in NETWORK_EVENTS:
        return "ignored: not a network event"
    data = event.data
    if event.event_id == 3:
        src_ip, dst_ip = (
            canonical_ip(text_of(data.get("SourceIp"))),
            canonical_ip(text_of(data.get("DestinationIp"))),
        )
        if src_ip is None or dst_ip is None:
            return "bad network event"
        return (
            event_time(event),
            src_ip,
            port(text_of(data.get("SourcePort"))),
            dst_ip,
            port(text_of(data.get("DestinationPort"))),
            proto_name(text_of(data.get("Protocol"))),
            None,  # never DestinationHostname: it is reverse DNS
            None,
            "conn",
            number,
        )
    name = text_of(data.get("QueryName")).rstrip(".").lower()
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
        dns_answers(text_of(data.get("QueryResults"))),
        "dns",
        number,
    )


# ---- reading ----


def _emit(rows: RowBuffer, event: WinEvent, number: int, ctx: ReadContext) -> pa.RecordBatch | None:
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
        for number, text in xml_events(chain(first, lines)):
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
        for number, value in json_values(first, lines, ctx):
            for obj in value if isinstance(value, list) else [value]:
                if not isinstance(obj, dict):
                    ctx.stats.skip("not an event", number)
                    continue
                batch = _emit(rows, event_from_json(obj), number, ctx)
                if batch is not None:
                    yield batch
    if rows.rows:
        yield rows.flush()


def read_evtx(stream: IO[bytes], ctx: ReadContext) -> Iterator[pa.RecordBatch]:
    """Records of an EVTX file; ``line`` is the record id."""
    rows = RowBuffer(ctx, COLUMNS)
    events = read_events(stream, ctx.stats.skip, EVENT_DATA)
    for number, (event_id, provider, system_time, data) in events:
        batch = _emit(rows, WinEvent(event_id, provider, data, system_time), number, ctx)
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
