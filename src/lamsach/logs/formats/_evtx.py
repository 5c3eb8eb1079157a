"""Windows EVTX files as events (id, provider, time, EventData), one 64 KiB chunk at a time.

Rendering every record to XML with python-evtx re-reads its template each time, which is slow.
A chunk's records share a few templates, so the shape of each template (which substitution
holds the event id, the time and each named Data value) is worked out once, and a record is
then read from its substitution values alone; records whose template does not fit this are
rendered to XML as before.
"""

from __future__ import annotations

import struct
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import IO, Any

from Evtx import Nodes
from Evtx.Evtx import ChunkHeader

MAGIC = b"ElfFile\x00"
HEADER_SIZE = 0x1000
CHUNK_SIZE = 0x10000

# (event id, provider name, SystemTime, EventData Name -> value)
Event = tuple[Any, str | None, str | None, dict[str, str]]
# A value in a template: ("lit", text) or ("sub", substitution index).
Ref = tuple[str, Any]
_SUBSTITUTIONS = (Nodes.NormalSubstitutionNode, Nodes.ConditionalSubstitutionNode)
_FILETIME_EPOCH = datetime(1601, 1, 1, tzinfo=UTC)
# Substitution value types decoded here; any other type goes through python-evtx.
_INTEGERS = {0x03: "<b", 0x04: "<B", 0x05: "<h", 0x06: "<H", 0x07: "<i", 0x08: "<I", 0x09: "<q"}
_INTEGERS[0x0A] = "<Q"


class _Unreadable(Exception):
    """A template or record the fast path does not handle: render it to XML instead."""


@dataclass
class _Shape:
    event_id: Ref | None = None
    provider: Ref | None = None
    time: Ref | None = None
    data: list[tuple[Ref, Ref]] = field(default_factory=list)


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


def _ref(node: Any) -> Ref:
    if isinstance(node, Nodes.ValueNode):
        return ("lit", node.children()[0].string())
    if isinstance(node, _SUBSTITUTIONS):
        return ("sub", node.index())
    raise _Unreadable


def _content(element: Any) -> Ref | None:
    parts = [c for c in element.children() if isinstance(c, (Nodes.ValueNode, *_SUBSTITUTIONS))]
    if len(parts) > 1:
        raise _Unreadable
    return _ref(parts[0]) if parts else None


def _shape_of(template: Any) -> _Shape:
    shape = _Shape()

    def walk(node: Any) -> None:
        for child in node.children():
            if not isinstance(child, Nodes.OpenStartElementNode):
                continue
            name = child.tag_name()
            attrs = {
                a.attribute_name().string(): _ref(a.attribute_value())
                for a in child.children()
                if isinstance(a, Nodes.AttributeNode)
            }
            if name == "EventID":
                shape.event_id = _content(child)
            elif name == "Provider":
                shape.provider = attrs.get("Name")
            elif name == "TimeCreated":
                shape.time = attrs.get("SystemTime")
            elif name == "Data" and "Name" in attrs:
                shape.data.append((attrs["Name"], _content(child) or ("lit", "")))
            walk(child)

    walk(template)
    if shape.event_id is None:
        raise _Unreadable
    return shape


class _Substitutions:
    """A record's substitution values, decoded from the bytes only when asked for."""

    __slots__ = ("buf", "parsed", "root", "slots")

    def __init__(self, buf: bytes, root: Any) -> None:
        self.buf, self.root = buf, root
        self.parsed: list[Any] | None = None
        pos = root.offset()
        if buf[pos] & 0x0F == 0x0F:  # start of the fragment
            pos += 4
        if buf[pos] & 0x0F != 0x0C:
            raise _Unreadable
        (template_offset,) = struct.unpack_from("<I", buf, pos + 6)
        end = pos + 10
        if template_offset > pos:  # the template is written in this record
            (length,) = struct.unpack_from("<I", buf, template_offset + 20)
            end += 24 + length
        (count,) = struct.unpack_from("<I", buf, end)
        decls = struct.unpack_from(f"<{count * 2}H", buf, end + 4)
        at = end + 4 + count * 4
        self.slots: list[tuple[int, int, int]] = []  # (type, start, size)
        for i in range(count):
            size, kind = decls[2 * i], decls[2 * i + 1] & 0xFF
            self.slots.append((kind, at, size))
            at += size

    def text(self, index: int) -> str:
        if index >= len(self.slots):
            raise _Unreadable
        kind, at, size = self.slots[index]
        raw = self.buf[at : at + size]
        if kind == 0x00:
            return ""
        if kind == 0x01:
            return raw.decode("utf-16-le", "replace").rstrip("\x00")
        if kind in _INTEGERS and size == struct.calcsize(_INTEGERS[kind]):
            return str(struct.unpack(_INTEGERS[kind], raw)[0])
        if kind == 0x11 and size == 8:
            ticks = struct.unpack("<Q", raw)[0]
            stamp = _FILETIME_EPOCH + timedelta(microseconds=ticks // 10)
            return stamp.isoformat()
        if self.parsed is None:
            self.parsed = self.root.substitutions()
        value = self.parsed[index]
        if isinstance(value, Nodes.BXmlTypeNode):
            raise _Unreadable
        return str(value.string())


def _value(ref: Ref | None, subs: _Substitutions) -> str | None:
    if ref is None:
        return None
    kind, value = ref
    if kind == "lit":
        return str(value)
    return subs.text(value)


def _fast_event(
    record: Any, shapes: dict[int, _Shape | None], wanted: frozenset[str] | None
) -> Event:
    root = record.root()
    offset = root.template_instance().template_offset()
    if offset not in shapes:
        try:
            shapes[offset] = _shape_of(root.template())
        except _Unreadable:
            shapes[offset] = None
    shape = shapes[offset]
    if shape is None:
        raise _Unreadable
    subs = _Substitutions(record._buf, root)
    data = {}
    for name_ref, value_ref in shape.data:
        name = _value(name_ref, subs)
        if name and (wanted is None or name in wanted):
            data[name] = _value(value_ref, subs) or ""
    return (
        _value(shape.event_id, subs),
        _value(shape.provider, subs),
        _value(shape.time, subs),
        data,
    )


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


def read_events(
    stream: IO[bytes],
    skip: Callable[[str, int], None],
    wanted: frozenset[str] | None = None,
) -> Iterator[tuple[int, Event]]:
    """(record id, event) for every record; damaged chunks and records are counted in ``skip``.

    ``wanted`` limits the EventData values read (all when None), which saves decoding.
    """
    if not _read_exactly(stream, HEADER_SIZE).startswith(MAGIC):
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
        chunk = ChunkHeader(block, 0)
        if not chunk.check_magic():
            if block.strip(b"\x00"):  # never-used chunks are all zeros
                skip("bad EVTX chunk", index)
            continue
        yield from _chunk_events(chunk, index, skip, wanted)


def _chunk_events(
    chunk: Any, index: int, skip: Callable[[str, int], None], wanted: frozenset[str] | None
) -> Iterator[tuple[int, Event]]:
    shapes: dict[int, _Shape | None] = {}
    number = 0
    try:
        for record in chunk.records():
            number = record.record_num()
            if not 0 <= number < _MAX_RECORD:
                skip("bad EVTX record number", 0)
                continue
            try:
                try:
                    event = _fast_event(record, shapes, wanted)
                except _Unreadable:
                    event = parse_event_xml(record.xml())
            except Exception:  # python-evtx raises many kinds on damaged records
                skip("bad EVTX record", number)
                continue
            yield number, event
    except Exception:  # a damaged record list: keep what was read, go on with the next chunk
        skip("bad EVTX chunk", number or index)
