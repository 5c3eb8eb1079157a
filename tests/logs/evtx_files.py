"""EVTX files for tests and benchmarks (no sample can be shipped): a minimal writer, and the rows
python-evtx reads from a file, a second parser to compare lamsach's with.

Files are laid out as Windows writes them: binary XML with a resident template (the element
tree with substitution slots) and an array of typed substitution values, in 64 KiB chunks
behind a 4 KiB file header, with the CRC32 checksums of both headers.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

FILE_HEADER_SIZE = 0x1000
CHUNK_SIZE = 0x10000
FIRST_RECORD = 0x200
EVENT_NS = "http://schemas.microsoft.com/win/2004/08/events/event"
# Variant types of substitution values.
WSTRING, UINT16, UINT64, FILETIME = 0x01, 0x06, 0x0A, 0x11


@dataclass
class Event:
    """One event to write: System fields and the EventData name/value pairs."""

    event_id: int
    record_id: int
    created: datetime
    data: list[tuple[str, str | int]]
    provider: str = "Microsoft-Windows-Sysmon"
    computer: str = "PC-042.example.lan"
    extra: dict[str, str] = field(default_factory=dict)


def filetime(when: datetime) -> int:
    delta = when.astimezone(UTC) - datetime(1601, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 10_000_000 + delta.microseconds * 10


class _Template:
    """Binary XML of a template body; offsets of inline names are relative to the chunk."""

    def __init__(self, base: int) -> None:
        self.base = base
        self.buf = bytearray(b"\x0f\x01\x01\x00")  # start of the fragment

    def _here(self) -> int:
        return self.base + len(self.buf)

    def _name(self, name: str) -> None:
        encoded = name.encode("utf-16-le")
        self.buf += struct.pack("<IHH", 0, 0, len(name)) + encoded + b"\x00\x00"

    def _value(self, value: str | int) -> None:
        if isinstance(value, int):  # substitution slot: index, WSTRING/other type given later
            index, kind = divmod(value, 256)
            self.buf += struct.pack("<BHB", 0x0D, index, kind)
        else:
            self.buf += struct.pack("<BBH", 0x05, WSTRING, len(value)) + value.encode("utf-16-le")

    def element(
        self,
        name: str,
        attrs: dict[str, str | int] | None = None,
        content: str | int | None = None,
        children: list[tuple] | None = None,
    ) -> None:
        attrs = attrs or {}
        token = 0x41 if attrs else 0x01
        self.buf += struct.pack("<BHII", token, 0xFFFF, 0, self._here() + 11)
        self._name(name)
        if attrs:
            size_at = len(self.buf)
            self.buf += bytes(4)  # size of the attribute list, filled in below
        for key, value in attrs.items():
            self.buf += struct.pack("<BI", 0x06, self._here() + 5)
            self._name(key)
            self._value(value)
        if attrs:
            struct.pack_into("<I", self.buf, size_at, len(self.buf) - size_at - 4)
        if content is None and not children:
            self.buf += b"\x03"
            return
        self.buf += b"\x02"
        if content is not None:
            self._value(content)
        for child in children or []:
            self.element(*child)
        self.buf += b"\x04"


def _substitution(kind: int, value: object) -> bytes:
    if kind == WSTRING:
        return str(value).encode("utf-16-le") + b"\x00\x00"
    if kind == UINT16:
        return struct.pack("<H", value)
    if kind == UINT64:
        return struct.pack("<Q", value)
    return struct.pack("<Q", filetime(value))  # type: ignore[arg-type]


def _record(event: Event, offset: int, templates: dict[tuple[str, ...], int]) -> bytes:
    """One record; its template is written in it the first time its shape is seen in the chunk
    and referred to by offset after that, as Windows does."""
    subs: list[tuple[int, object]] = []

    def slot(kind: int, value: object) -> int:
        subs.append((kind, value))
        return (len(subs) - 1) * 256 + kind

    instance_at = offset + 24 + 4  # record header, then the fragment header
    body = _Template(instance_at + 10 + 24)
    # Numbers as Sysmon types its ports (UInt16), the rest as text.
    data = [
        ("Data", {"Name": name}, slot(UINT16 if isinstance(value, int) else WSTRING, value))
        for name, value in event.data
    ]
    system = [
        ("Provider", {"Name": event.provider, "Guid": "{5770385f-c22a-43e0-bf4c-06f5698ffbd9}"}),
        ("EventID", None, slot(UINT16, event.event_id)),
        ("TimeCreated", {"SystemTime": slot(FILETIME, event.created)}),
        ("EventRecordID", None, slot(UINT64, event.record_id)),
        ("Channel", None, "Microsoft-Windows-Sysmon/Operational"),
        ("Computer", None, slot(WSTRING, event.computer)),
    ]
    body.element(
        "Event",
        {"xmlns": EVENT_NS},
        None,
        [("System", None, None, system), ("EventData", None, None, data)],
    )
    body.buf += b"\x00"  # end of the fragment
    shape = (event.provider, *(name for name, _ in event.data))
    template_id = 1000 + len(templates)
    if shape in templates:
        template_id, template_at = divmod(templates[shape], 1 << 32)
        template = b""
    else:
        template_at = instance_at + 10
        templates[shape] = template_id * (1 << 32) + template_at
        template = struct.pack("<II", 0, template_id) + bytes(12)
        template += struct.pack("<I", len(body.buf)) + body.buf
    instance = struct.pack("<BBII", 0x0C, 0x01, template_id, template_at)
    values = [_substitution(kind, value) for kind, value in subs]
    array = struct.pack("<I", len(subs))
    array += b"".join(
        struct.pack("<HBB", len(v), kind, 0) for v, (kind, _) in zip(values, subs, strict=True)
    )
    array += b"".join(values)
    binxml = b"\x0f\x01\x01\x00" + instance + template + array
    size = 24 + len(binxml) + 4
    header = struct.pack("<IIQQ", 0x00002A2A, size, event.record_id, filetime(event.created))
    return header + binxml + struct.pack("<I", size)


def _chunk(events: list[Event]) -> bytes:
    records = bytearray()
    templates: dict[tuple[str, ...], int] = {}
    last = FIRST_RECORD
    for event in events:
        last = FIRST_RECORD + len(records)
        records += _record(event, last, templates)
    free = FIRST_RECORD + len(records)
    assert free <= CHUNK_SIZE, "too many events for one chunk"
    first_id, last_id = events[0].record_id, events[-1].record_id
    header = bytearray(FIRST_RECORD)
    struct.pack_into("<8sQQQQ", header, 0, b"ElfChnk\x00", first_id, last_id, first_id, last_id)
    struct.pack_into("<IIII", header, 0x28, 0x80, last, free, zlib.crc32(records))
    struct.pack_into("<I", header, 0x7C, zlib.crc32(bytes(header[:0x78] + header[0x80:])))
    return bytes(header + records + bytes(CHUNK_SIZE - free))


def evtx_bytes(chunks: list[list[Event]], spare_chunks: int = 0) -> bytes:
    """A whole EVTX file: one chunk per list of events, then unused (zeroed) chunks."""
    header = bytearray(FILE_HEADER_SIZE)
    next_id = max(e.record_id for events in chunks for e in events) + 1
    count = len(chunks) + spare_chunks
    struct.pack_into(
        "<8sQQQIHHHH",
        header,
        0,
        b"ElfFile\x00",
        0,
        len(chunks) - 1,
        next_id,
        0x80,
        1,
        3,
        FILE_HEADER_SIZE,
        count,
    )
    struct.pack_into("<I", header, 0x7C, zlib.crc32(bytes(header[:0x78])))
    body = b"".join(_chunk(events) for events in chunks)
    return bytes(header) + body + bytes(CHUNK_SIZE * spare_chunks)


def rows_by_python_evtx(path: Path, limit: int | None = None) -> list[dict[str, object]]:
    """The canonical rows of an EVTX file read through python-evtx's XML rendering."""
    from Evtx.Evtx import Evtx

    from lamsach.logs.formats._evtx import parse_event_xml
    from lamsach.logs.formats._winevent import WinEvent
    from lamsach.logs.formats.sysmon import COLUMNS, to_row

    rows: list[dict[str, object]] = []
    with Evtx(str(path)) as log:
        for record in log.records():
            event_id, provider, system_time, data = parse_event_xml(record.xml())
            row = to_row(WinEvent(event_id, provider, data, system_time), record.record_num())
            if not isinstance(row, str):
                rows.append(dict(zip(COLUMNS, row, strict=True)))
            if limit is not None and len(rows) >= limit:
                break
    return rows
