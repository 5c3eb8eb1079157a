"""Windows EVTX files as events (id, provider, time, EventData), one 64 KiB chunk at a time.

Each chunk is handed to the ``evtx`` library (a Rust parser) behind the file's own header, so
that the file is never held whole and a damaged chunk costs only itself.
"""

from __future__ import annotations

import io
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from typing import IO, Any

from evtx import PyEvtxParser

MAGIC = b"ElfFile\x00"
CHUNK_MAGIC = b"ElfChnk\x00"
HEADER_SIZE = 0x1000
CHUNK_SIZE = 0x10000

# (event id, provider name, SystemTime, EventData Name -> value)
Event = tuple[Any, str | None, str | None, dict[str, str]]


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def parse_event_xml(text: str) -> Event:
    """An event from its XML rendering; raises ET.ParseError when it is not well-formed."""
    root = ET.fromstring(text)
    event_id: Any = None
    provider = system_time = None
    data: dict[str, str] = {}
    for node in root.iter():
        tag = _local(node.tag)
        if tag == "EventID":
            event_id = node.text
        elif tag == "Provider":
            provider = node.get("Name")
        elif tag == "TimeCreated":
            system_time = node.get("SystemTime")
        elif tag == "Data":
            name = node.get("Name")
            if name:
                data[name] = node.text or ""
    return event_id, provider, system_time, data


def _read_exactly(stream: IO[bytes], size: int) -> bytes:
    # Decompressing streams may return less than asked for before the end.
    data = stream.read(size)
    while 0 < len(data) < size:
        more = stream.read(size - len(data))
        if not more:
            break
        data += more
    return data


_MAX_RECORD = 1 << 62  # a record id beyond this is damage (it must fit the int64 line column)
_RECORD_ERROR = re.compile(r"Failed to parse record number (\d{1,18})\b")


def read_events(
    stream: IO[bytes],
    skip: Callable[[str, int], None],
    wanted: frozenset[str] | None = None,
) -> Iterator[tuple[int, Event]]:
    """(record id, event) for every record; damaged chunks and records are counted in ``skip``.

    ``wanted`` limits the EventData values kept (all when None).
    """
    header = _read_exactly(stream, HEADER_SIZE)
    if not header.startswith(MAGIC):
        skip("not an EVTX file", 1)
        return
    index = 0
    while True:
        block = _read_exactly(stream, CHUNK_SIZE)
        index += 1
        if len(block) < CHUNK_SIZE:
            if block.strip(b"\x00"):
                skip("truncated EVTX chunk", index)
            return
        if not block.startswith(CHUNK_MAGIC):
            if block.strip(b"\x00"):  # never-used chunks are all zeros
                skip("bad EVTX chunk", index)
            continue
        yield from _chunk_events(header + block, index, skip, wanted)


def _chunk_events(
    data: bytes, index: int, skip: Callable[[str, int], None], wanted: frozenset[str] | None
) -> Iterator[tuple[int, Event]]:
    number = 0
    try:
        # One chunk, one thread: the scan's workers are the parallelism.
        records = PyEvtxParser(io.BytesIO(data), 1).records_json()
        for _ in range(CHUNK_SIZE):  # a chunk holds fewer records: the parser cannot loop on
            try:
                record = next(records)
            except StopIteration:
                return
            except RuntimeError as exc:  # the parser's error for a record or a chunk
                damaged = _RECORD_ERROR.match(str(exc))
                if damaged is None and "chunk" in str(exc):
                    skip("bad EVTX chunk", number or index)
                    return
                skip("bad EVTX record", int(damaged.group(1)) if damaged else number or index)
                continue
            if record is None:
                return
            number = record["event_record_id"]
            if not 0 <= number < _MAX_RECORD:
                skip("bad EVTX record number", 0)
                continue
            try:
                event = _event_of(json.loads(record["data"]), wanted)
            except (ValueError, TypeError, AttributeError, KeyError):
                skip("bad EVTX record", number)
                continue
            yield number, event
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException:  # a panic in the Rust parser is a BaseException: one chunk lost
        skip("bad EVTX chunk", number or index)


def _event_of(document: dict[str, Any], wanted: frozenset[str] | None) -> Event:
    """The event of a record rendered as JSON (``{"Event": {"System": ..., "EventData": ...}}``)."""
    event = document["Event"]
    system = event.get("System") or {}
    event_id = system.get("EventID")
    if isinstance(event_id, dict):  # {"#attributes": {"Qualifiers": ...}, "#text": 4624}
        event_id = event_id.get("#text")
    provider = _attribute(system.get("Provider"), "Name")
    system_time = _attribute(system.get("TimeCreated"), "SystemTime")
    fields = event.get("EventData")
    data: dict[str, str] = {}
    if isinstance(fields, dict):
        for name, value in fields.items():
            if not name.startswith("#") and (wanted is None or name in wanted):
                data[name] = _text(value)
    return event_id, provider, system_time, data


def _attribute(element: Any, name: str) -> str | None:
    attributes = element.get("#attributes") if isinstance(element, dict) else None
    value = attributes.get(name) if isinstance(attributes, dict) else None
    return None if value is None else str(value)


def _text(value: Any) -> str:
    # Values come typed: numbers (ports are UInt16), booleans, null for an empty substitution.
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
