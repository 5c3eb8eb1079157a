"""CSV and TSV lists with a header (URLhaus, ThreatFox, home-made spreadsheets).

The value column is named by ``--column`` (header name or 1-based number) or guessed from the
header, else from which column's values parse; tag, date and confidence columns are picked up by
their usual names. A header written as a comment (``# id,dateadded,url,...``) is recognised.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from lamsach.indicators.formats.base import (
    IndicatorFormat,
    MalformedFile,
    RawEntry,
    ReadContext,
    parse_timestamp,
)
from lamsach.indicators.model import IndicatorType
from lamsach.indicators.normalize import InvalidIndicator, parse_value

_DELIMITERS = (",", "\t", ";", "|")
_VALUE_COLUMNS = (
    "ioc_value", "ioc", "indicator", "value", "observable", "url", "domain", "hostname", "host",
    "fqdn", "ip", "ip_address", "ipaddress", "address", "dst_ip", "sha256", "sha256_hash", "sha1",
    "sha1_hash", "md5", "md5_hash", "hash", "giá_trị", "gia_tri", "chỉ_dấu", "chi_dau",
)  # fmt: skip
# Vietnamese names as CERT spreadsheets use them: loại (type), mã độc (malware), ngày (date).
_TYPE_COLUMNS = ("ioc_type", "indicator_type", "type", "loại", "loai")
_TAG_COLUMNS = (
    "tags", "tag", "malware", "malware_family", "family", "malware_printable", "threat",
    "threat_type", "category", "mã_độc", "ma_doc", "chiến_dịch", "chien_dich",
)  # fmt: skip
_FIRST_SEEN = (
    "first_seen", "first_seen_utc", "firstseen", "dateadded", "date_added", "created", "ngày",
    "ngay", "ngày_phát_hiện", "ngay_phat_hien",
)  # fmt: skip
_LAST_SEEN = ("last_seen", "last_seen_utc", "lastseen", "last_online")
_EXPIRES = ("expires", "expiry", "valid_until", "expiration")
_CONFIDENCE = ("confidence", "confidence_level")
_SOURCES = ("sources", "source", "feed", "list")
_FILES = "files"  # written by our own CSV export: paths joined by "|" (paths may hold commas)
_EMPTY = frozenset({"", "none", "null", "n/a", "-"})


@dataclass(frozen=True, slots=True)
class _Layout:
    delimiter: str
    header_line: int  # 0-based index of the header line in the text
    header: list[str]


def _clean(name: str) -> str:
    return name.strip().strip('"').strip().lower().replace(" ", "_")


def _cells(line: str, delimiter: str) -> list[str]:
    text = line.lstrip().removeprefix("#")
    reader = csv.reader([text], delimiter=delimiter, skipinitialspace=True)
    try:
        return next(reader)
    except csv.Error:  # a field past the csv module's limit: no header, nor a row of one
        return [line]


def clean_header(cells: list[str]) -> list[str]:
    return [_clean(cell) for cell in cells]


def header_like(cells: list[str]) -> bool:
    names = [_clean(cell) for cell in cells]
    return len(names) >= 2 and all(
        name and name.replace("_", "").replace("-", "").replace(".", "").isalnum() for name in names
    )


def _layout(lines: list[str]) -> _Layout | None:
    """Delimiter and header when the lines are a consistent table with a named header."""
    for delimiter in _DELIMITERS:
        commented: int | None = None
        header_at: int | None = None
        rows: list[list[str]] = []
        for i, line in enumerate(lines):
            stripped = line.strip()
            if not stripped:
                continue
            if stripped.startswith("#"):
                # The last comment before the data may be the header (abuse.ch does this).
                if header_at is None and delimiter in stripped:
                    commented = i
                continue
            if header_at is None:
                if header_like(_cells(line, delimiter)):
                    header_at = i
                    continue
                if commented is None:
                    break
                header_at = commented
            rows.append(_cells(line, delimiter))
            if len(rows) >= 10:
                break
        if header_at is None or not rows:
            continue
        header_cells = _cells(lines[header_at], delimiter)
        # Real dumps carry the odd broken row; most rows must still fit the header.
        fitting = sum(len(row) == len(header_cells) for row in rows)
        if not header_like(header_cells) or fitting < max(1, len(rows) * 4 // 5):
            continue
        return _Layout(delimiter, header_at, [_clean(cell) for cell in header_cells])
    return None


def _sniff(head: str, path: Path) -> bool:
    return _layout(head.splitlines()[:60]) is not None


def _find(header: list[str], names: tuple[str, ...]) -> int | None:
    for name in names:
        if name in header:
            return header.index(name)
    return None


def _value_column(header: list[str], rows: list[list[str]], column: str | None) -> int:
    if column is not None:
        if column.isdigit() and 1 <= int(column) <= len(header):
            return int(column) - 1
        if _clean(column) in header:
            return header.index(_clean(column))
        raise MalformedFile(f"no column {column!r} (header: {', '.join(header)})")
    named = _find(header, _VALUE_COLUMNS)
    if named is not None:
        return named
    # No telling name: the column whose values most often parse as indicators.
    scores = [0] * len(header)
    for row in rows[:50]:
        for index, cell in enumerate(row[: len(header)]):
            try:
                kind, value = parse_value(cell)
            except InvalidIndicator:
                continue
            # A lone word ("domain", "IP") parses as a name but is a label, not an indicator.
            if kind is not IndicatorType.DOMAIN or "." in value:
                scores[index] += 1
    best = max(range(len(header)), key=lambda index: scores[index])
    if scores[best] == 0:
        raise MalformedFile(f"no column holds indicators (header: {', '.join(header)})")
    return best


def _type_hint(text: str) -> IndicatorType | None:
    kind = text.strip().lower()
    if kind in ("domain", "domain-name", "domain_name", "tên miền", "ten mien"):
        return IndicatorType.DOMAIN
    if kind in ("hostname", "host", "fqdn", "tên máy", "ten may"):
        return IndicatorType.HOSTNAME
    return None


def _tags(row: list[str], columns: list[tuple[str, int]]) -> frozenset[str]:
    tags: set[str] = set()
    for name, index in columns:
        cell = row[index].strip()
        if cell.lower() in _EMPTY:
            continue
        if name in ("tags", "tag", "sources", "source"):
            parts = cell.replace(";", ",").replace("|", ",").split(",")
        else:
            parts = [cell]
        tags.update(part.strip() for part in parts if part.strip().lower() not in _EMPTY)
    return frozenset(tags)


def _confidence(text: str) -> int | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return max(0, min(100, round(value)))


def read_csv(text: str, ctx: ReadContext) -> Iterator[RawEntry]:
    lines = text.splitlines()
    layout = _layout(lines[:60])
    if layout is None:
        raise MalformedFile("no header line with column names found")
    body = lines[layout.header_line + 1 :]
    first_line = layout.header_line + 2
    reader = csv.reader(body, delimiter=layout.delimiter, skipinitialspace=True)
    rows = []
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:  # a field past the csv module's limit (128 KiB): the row goes
            number = first_line + reader.line_num - 1
            ctx.reject(number, "bad-csv-row", body[reader.line_num - 1][:300], str(exc))
            continue
        rows.append((first_line + reader.line_num - 1, row))
    yield from table_entries(layout.header, rows, ctx, layout.delimiter)


def table_entries(
    header: list[str], rows: list[tuple[int, list[str]]], ctx: ReadContext, joiner: str = ","
) -> Iterator[RawEntry]:
    """Entries of a table (CSV or spreadsheet) with a cleaned header and numbered rows."""
    data = [row for _, row in rows if row and not row[0].lstrip().startswith("#")]
    value_at = _value_column(header, data, ctx.column)
    type_at = _find(header, _TYPE_COLUMNS)
    tag_columns = [(name, header.index(name)) for name in _TAG_COLUMNS if name in header]
    first_at, last_at = _find(header, _FIRST_SEEN), _find(header, _LAST_SEEN)
    expires_at, confidence_at = _find(header, _EXPIRES), _find(header, _CONFIDENCE)
    source_at = _find(header, _SOURCES)
    source_columns = [(header[source_at], source_at)] if source_at is not None else []
    files_at = header.index(_FILES) if _FILES in header else None
    for number, row in rows:
        if not any(cell.strip() for cell in row) or row[0].lstrip().startswith("#"):
            continue
        if len(row) != len(header):
            shown = joiner.join(row)
            ctx.reject(number, "bad-csv-row", shown, f"{len(row)} fields, header has {len(header)}")
            continue
        yield RawEntry(
            row[value_at],
            number,
            type_hint=_type_hint(row[type_at]) if type_at is not None else None,
            tags=ctx.tags | _tags(row, tag_columns),
            first_seen=parse_timestamp(row[first_at]) if first_at is not None else None,
            last_seen=parse_timestamp(row[last_at]) if last_at is not None else None,
            expires=parse_timestamp(row[expires_at]) if expires_at is not None else None,
            confidence=_confidence(row[confidence_at]) if confidence_at is not None else None,
            sources=_tags(row, source_columns),
            files=_files(row[files_at]) if files_at is not None else frozenset(),
        )


def _files(cell: str) -> frozenset[str]:
    return frozenset(part for part in cell.strip().split("|") if part.strip())


FORMAT = IndicatorFormat("csv", "CSV or TSV with a header row", _sniff, read_csv, priority=60)
