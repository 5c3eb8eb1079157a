"""Excel workbooks (.xlsx), as advisories are often sent: every sheet read like a CSV table.

On each sheet the first row that looks like column names is the header; columns are picked as
for CSV (``--column``, known names, else the column whose values parse). Rows are numbered as
Excel numbers them.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path

from lamsach.indicators.formats.base import IndicatorFormat, MalformedFile, RawEntry, ReadContext
from lamsach.indicators.formats.csvfile import clean_header, header_like, table_entries

ZIP_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # the old binary .xls (and .doc) container
_HEADER_SEARCH_ROWS = 30


def is_workbook(data: bytes) -> bool:
    if not data.startswith(ZIP_MAGIC):
        return False
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return "xl/workbook.xml" in archive.namelist()
    except zipfile.BadZipFile:
        return False


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def read_xlsx(data: bytes, ctx: ReadContext) -> Iterator[RawEntry]:
    import openpyxl

    if data.startswith(OLE_MAGIC):
        raise MalformedFile("an old binary Excel (.xls) file: save it as .xlsx or CSV")
    try:
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds on a damaged or hostile file
        raise MalformedFile(f"not a readable .xlsx workbook ({type(exc).__name__})") from None
    found = False
    try:
        for sheet in workbook.worksheets:
            rows = [
                (number, [_cell_text(value) for value in row])
                for number, row in enumerate(sheet.iter_rows(values_only=True), start=1)
            ]
            header_at = _header_row(rows)
            if header_at is None:
                if any(any(cells) for _, cells in rows):
                    ctx.reject(None, "no-header", f"sheet {sheet.title}", "no row of column names")
                continue
            found = True
            header = _trim(rows[header_at][1])
            # Excel leaves trailing empty cells out or pads to the sheet's width: fit to header.
            body = [(number, _fit(cells, len(header))) for number, cells in rows[header_at + 1 :]]
            yield from table_entries(clean_header(header), body, ctx, joiner=" | ")
    finally:
        workbook.close()
    if not found:
        raise MalformedFile("no sheet with a row of column names")


def _trim(cells: list[str]) -> list[str]:
    end = len(cells)
    while end and not cells[end - 1]:
        end -= 1
    return cells[:end]


def _fit(cells: list[str], width: int) -> list[str]:
    cells = _trim(cells)
    return cells + [""] * (width - len(cells))


def _header_row(rows: list[tuple[int, list[str]]]) -> int | None:
    for index, (_, cells) in enumerate(rows[:_HEADER_SEARCH_ROWS]):
        if header_like(_trim(cells)):
            return index
    return None


def _sniff(head: str, path: Path) -> bool:
    return False  # recognised by its bytes (ZIP holding xl/workbook.xml), never by text


def _read_text(text: str, ctx: ReadContext) -> Iterator[RawEntry]:
    raise MalformedFile("not an .xlsx workbook")


FORMAT = IndicatorFormat(
    "xlsx",
    "Excel workbook (.xlsx), each sheet a table with a header row",
    _sniff,
    _read_text,
    priority=5,
    read_binary=read_xlsx,
)
