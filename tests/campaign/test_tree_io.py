"""Unit tree import and export: CSV and XLSX round trips, every error listed, nothing changed."""

from __future__ import annotations

import io

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lamsach.campaign.errors import ImportFailed
from lamsach.campaign.tree_io import export_units_csv, export_units_xlsx, import_units
from lamsach.campaign.units import get_unit_by_code
from lamsach.storage.models import Unit

HEADER = "code,name,kind,parent_code,contact_person,contact_email,contact_phone,networks\n"


def _count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Unit)) or 0


def test_csv_import_builds_tree_in_any_row_order(session: Session) -> None:
    data = (
        HEADER + "W9,Phường Chín,ward,C9,Chị Lan,lan@example.vn,0237 111 222,10.9.1.0/24 10.9.2.7\n"
        "P9,Tỉnh Chín,province,,,,,\n"
        "C9,Thành phố Chín,city,P9,,,,10.9.0.0/16\n"
    ).encode()
    summary = import_units(session, None, data, "tree.csv")
    assert (summary.created, summary.updated, summary.moved) == (3, 0, 0)
    ward = get_unit_by_code(session, "W9")
    city = get_unit_by_code(session, "C9")
    assert ward.parent_id == city.id and ward.depth == 2 and ward.path.startswith(city.path)
    assert ward.networks == ["10.9.1.0/24", "10.9.2.7/32"]
    assert ward.contact_email == "lan@example.vn"


def test_import_with_errors_lists_every_one_and_changes_nothing(session: Session, tree) -> None:
    before = _count(session)
    data = (
        HEADER + "W1,Tên mới,ward,C1,,,,\n"  # a valid update: must not be applied either
        "N1,,ward,C1,,,,\n"  # row 3: no name
        "N2,Phường Hai,Ward Kind,C1,,,,\n"  # row 4: bad kind
        "N3,Phường Ba,ward,NOPE,,,,\n"  # row 5: unknown parent
        "N4,Phường Bốn,ward,C1,,not-an-email,,10.0.0.300/24\n"  # row 6: email and network
        "N2,Phường Hai lặp,ward,C1,,,,\n"  # row 7: duplicate code
        "N5,Xã Năm,commune,N6,,,,\n"  # rows 8-9: a cycle
        "N6,Xã Sáu,commune,N5,,,,\n"
    ).encode()
    with pytest.raises(ImportFailed) as err:
        import_units(session, None, data, "tree.csv")
    found = [(i.row, i.column, i.code) for i in err.value.issues]
    assert found == [
        (3, "name", "field.required"),
        (4, "kind", "unit.bad_kind"),
        (5, "parent_code", "unit.bad_parent"),
        (6, "contact_email", "field.bad_email"),
        (6, "networks", "unit.bad_network"),
        (7, "code", "unit.duplicate_code"),
        (8, "parent_code", "unit.cycle"),
        (9, "parent_code", "unit.cycle"),
    ]
    assert _count(session) == before
    assert get_unit_by_code(session, "W1").name == "Đơn vị W1"


def test_missing_columns_and_unreadable_files(session: Session) -> None:
    with pytest.raises(ImportFailed) as err:
        import_units(session, None, b"code,name\nA,B\n", "x.csv")
    assert [(i.row, i.column) for i in err.value.issues] == [(1, "kind"), (1, "parent_code")]
    with pytest.raises(ImportFailed) as bad:
        import_units(session, None, b"PK\x03\x04 not really a workbook", "x.xlsx")
    assert bad.value.issues[0].code == "import.unreadable"
    with pytest.raises(ImportFailed):
        import_units(session, None, b"\xff\xfe\x00garbage", "x.csv")


def test_export_then_import_round_trip_csv_and_xlsx(session: Session, tree) -> None:
    csv_data = export_units_csv(session)
    assert csv_data.startswith(b"\xef\xbb\xbf")
    xlsx_data = export_units_xlsx(session, tree.units["C1"])
    sheet = load_workbook(io.BytesIO(xlsx_data)).active
    assert sheet is not None
    rows = [[c or "" for c in row] for row in sheet.iter_rows(values_only=True)]
    assert rows[0][:4] == ["code", "name", "kind", "parent_code"]
    assert [r[0] for r in rows[1:]] == ["C1", "W1", "W2"]
    assert rows[1][3] == "P"
    # Re-importing the export changes nothing.
    summary = import_units(session, None, csv_data, "units.csv")
    assert (summary.created, summary.updated, summary.moved, summary.unchanged) == (0, 0, 0, 6)
    summary = import_units(session, None, xlsx_data, "units.xlsx")
    assert summary.unchanged == 3


def test_xlsx_import_updates_and_moves_with_row_errors(session: Session, tree) -> None:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["code", "name", "kind", "parent_code", "contact_phone", "networks"])
    sheet.append(["W1", "Phường Một", "ward", "C2", 2373852000, "10.50.0.0/24"])
    sheet.append(["W4", "Phường Bốn", "ward", "C2", None, None])
    out = io.BytesIO()
    book.save(out)
    summary = import_units(session, None, out.getvalue(), "moves.xlsx")
    assert (summary.created, summary.moved) == (1, 1)
    moved = get_unit_by_code(session, "W1")
    c2 = get_unit_by_code(session, "C2")
    assert moved.parent_id == c2.id and moved.path == f"{c2.path}{moved.id}/"
    assert moved.contact_phone == "2373852000" and moved.name == "Phường Một"
    sheet.append(["W5", "Phường Năm", "ward", "C9", None, "x.y"])
    out = io.BytesIO()
    book.save(out)
    with pytest.raises(ImportFailed) as err:
        import_units(session, None, out.getvalue(), "moves.xlsx")
    assert [(i.row, i.column) for i in err.value.issues] == [(4, "parent_code"), (4, "networks")]


def test_import_respects_the_actor_scope(session: Session, tree) -> None:
    before = _count(session)
    data = (HEADER + "N7,Phường Bảy,ward,C2,,,,\nN8,Phường Tám,ward,C1,,,,\n").encode()
    # An administrator of C1 (not of C2) may add under C1 only.
    from lamsach.campaign.permissions import Role
    from lamsach.campaign.users import create_user

    local = create_user(
        session, None, "admin.c1", "x" * 8, role=Role.ADMINISTRATOR, unit=tree.units["C1"]
    )
    with pytest.raises(ImportFailed) as err:
        import_units(session, local, data, "t.csv")
    assert [(i.row, i.code) for i in err.value.issues] == [(2, "permission.denied")]
    with pytest.raises(ImportFailed):
        import_units(session, tree.users["coord"], data, "t.csv")
    assert _count(session) == before
    summary = import_units(session, tree.users["admin"], data, "t.csv")
    assert summary.created == 2


def test_control_characters_never_reach_an_export(session: Session, tree) -> None:
    from lamsach.campaign.units import UnitFields, create_unit

    parent = tree.units["C1"]
    made = create_unit(session, None, UnitFields("W77", "Phường\x01 Bảy\x0b Bảy", "ward"), parent)
    assert made.name == "Phường Bảy Bảy"
    # A name stored before they were kept out: the Excel export leaves them out of the cell.
    made.contact_person = "Anh\x02 Bảy"
    session.flush()
    sheet = load_workbook(io.BytesIO(export_units_xlsx(session, parent))).active
    assert sheet is not None
    rows = {row[0]: row for row in sheet.iter_rows(values_only=True)}
    assert rows["W77"][1] == "Phường Bảy Bảy" and rows["W77"][4] == "Anh Bảy"
