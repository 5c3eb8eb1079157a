"""Excel workbooks as CERT advisories send them."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import openpyxl

from lamsach.indicators.importer import import_paths
from lamsach.indicators.model import IndicatorType as T


def _advisory(path: Path) -> None:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = "IOC"
    sheet.append(["DANH SÁCH IOC - CHIẾN DỊCH DRAGONTAIL (TLP:AMBER)"])
    sheet.append([])
    sheet.append(["STT", "Loại", "Giá trị", "Mã độc", "Ngày phát hiện", "Ghi chú"])
    sheet.append([1, "Tên miền", "dragontail[.]top", "DragonTail", datetime(2026, 10, 1), None])
    sheet.append([2, "Tên máy", "mail.dragontail-mail.com", "DragonTail", None, "máy chủ thư"])
    sheet.append([3, "IP", "45.155.165.63", "DragonTail", datetime(2026, 10, 2), None])
    sheet.append([4, "URL", "hxxp://update-center.dragontail.top/gate.php", "DragonTail"])
    sheet.append([5, "IP", "10.0.0.5", "DragonTail", None, "máy nội bộ bị nhiễm"])
    sheet.append([6, "Mã băm", "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855"])
    notes = workbook.create_sheet("Ghi chú")
    notes.append(["Tài liệu này chỉ dùng nội bộ."])
    workbook.save(path)


def test_xlsx_advisory(tmp_path: Path) -> None:
    path = tmp_path / "canh-bao-dragontail.xlsx"
    _advisory(path)
    result = import_paths([path])
    assert [report.format for report in result.files] == ["xlsx"]
    values = {indicator.value: indicator for indicator in result.indicators}
    assert {i.key for i in result.indicators} == {
        (T.DOMAIN, "dragontail.top"),
        (T.HOSTNAME, "mail.dragontail-mail.com"),
        (T.IPV4, "45.155.165.63"),
        (T.URL, "http://update-center.dragontail.top/gate.php"),
        (T.SHA256, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
    }
    assert values["dragontail.top"].tags == {"DragonTail"}
    assert values["45.155.165.63"].first_seen == datetime(2026, 10, 2, tzinfo=UTC)
    assert {(r.line, r.reason) for r in result.rejects} == {
        (8, "private-address"),  # Excel's own row number
        (None, "no-header"),  # the notes sheet has no table
    }


def test_xlsx_value_column_option(tmp_path: Path) -> None:
    path = tmp_path / "list.xlsx"
    _advisory(path)
    result = import_paths([path], column="Ghi chú")
    assert result.indicators == []
    assert result.reject_counts["empty"] >= 1


def test_broken_and_old_excel_files(tmp_path: Path) -> None:
    path = tmp_path / "good.xlsx"
    _advisory(path)
    truncated = tmp_path / "truncated.xlsx"
    truncated.write_bytes(path.read_bytes()[:2000])
    old = tmp_path / "old.xls"
    old.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(600))
    result = import_paths([truncated, old, path])
    errors = {Path(report.file).name: report.error or "" for report in result.errors}
    assert set(errors) == {"truncated.xlsx", "old.xls"}
    assert "save it as .xlsx or CSV" in errors["old.xls"]
    assert len(result.indicators) == 5  # the good workbook after them was still read
    forced = import_paths([tmp_path / "good.xlsx"], format="xlsx")
    assert len(forced.indicators) == 5
