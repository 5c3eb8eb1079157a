"""Free text kept clean: names on one line, notes with their breaks, no control characters."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from lamsach.campaign.text import block, one_line


def test_names_are_one_line_without_controls() -> None:
    assert one_line("  Phường\tĐiện\x0bBiên \x01\n") == "Phường Điện Biên"
    assert one_line("Tên\x00đơn\x7fvị\x85") == "Tên đơn vị"
    assert one_line("\x01\x02 ") == ""


def test_notes_keep_their_lines() -> None:
    assert block(" Dòng một\r\nDòng hai\rDòng\x01 ba\t! \n") == "Dòng một\nDòng hai\nDòng ba\t!"


@given(st.text())
def test_nothing_excel_refuses_is_left(text: str) -> None:
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    for cleaned in (one_line(text), block(text)):
        assert not ILLEGAL_CHARACTERS_RE.search(cleaned)
        assert cleaned == cleaned.strip()
    assert "\n" not in one_line(text)
