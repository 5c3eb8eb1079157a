"""The gettext catalogs: every label of the templates and the Python code has a Vietnamese text."""

from __future__ import annotations

from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

import lamsach.web
from lamsach.web import i18n

WEB = Path(lamsach.web.__file__).parent
METHODS = [("**.py", "python"), ("**/templates/**.html", "jinja2")]
# The same keywords as babel.cfg's command: gettext(locale, message) in Python.
KEYWORDS = {"_": None, "ngettext": (1, 2), "t": (2,), "gettext": (2,)}
OPTIONS = {"**/templates/**.html": {"extensions": "jinja2.ext.i18n"}}


def _source_msgids() -> set[str]:
    found: set[str] = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        str(WEB), METHODS, keywords=KEYWORDS, options_map=OPTIONS
    ):
        found.add(message[0] if isinstance(message, tuple) else message)
    return found


def test_every_label_has_a_vietnamese_translation() -> None:
    msgids = _source_msgids()
    assert len(msgids) > 150, "the extraction found too few labels; is the keyword list right?"
    with (WEB / "locale/vi/LC_MESSAGES/messages.po").open("rb") as handle:
        catalog = read_po(handle)
    missing = []
    for msgid in sorted(msgids):
        message = catalog.get(msgid)
        text = message.string if message is not None else ""
        if isinstance(text, tuple):
            text = text[0]
        if not text or (message is not None and message.fuzzy):
            missing.append(msgid)
    assert not missing, f"labels without a Vietnamese translation: {missing}"


def _key(value: object) -> object:
    return tuple(value) if isinstance(value, list | tuple) else value


def test_compiled_catalogs_match_the_po_files() -> None:
    for locale in i18n.LOCALES:
        folder = WEB / "locale" / locale / "LC_MESSAGES"
        with (folder / "messages.po").open("rb") as handle:
            po = {_key(m.id): _key(m.string) for m in read_po(handle) if m.id}
        with (folder / "messages.mo").open("rb") as handle:
            mo = {_key(m.id): _key(m.string) for m in read_mo(handle) if m.id}
        assert po == mo, f"{locale}: run pybabel compile -d src/lamsach/web/locale"


def test_translation_uses_the_catalog_and_keeps_placeholders() -> None:
    assert i18n.gettext("vi", "Reporting rate") == "Tỷ lệ báo cáo"
    assert i18n.gettext("en", "Reporting rate") == "Reporting rate"
    assert i18n.gettext("vi", "%(days)s days late", days="3") == "quá hạn 3 ngày"


def test_vietnamese_number_and_date_formats() -> None:
    from datetime import date, datetime

    assert i18n.fmt_number(1234567, "vi") == "1.234.567"
    assert i18n.fmt_number(1234567, "en") == "1,234,567"
    assert i18n.fmt_percent(0.875, "vi") == "87,5%"
    assert i18n.fmt_date(date(2022, 9, 30), "vi") == "30/09/2022"
    # Stored timestamps are UTC; 20:00 UTC is 03:00 the next day in Vietnam.
    assert i18n.fmt_datetime(datetime(2022, 9, 30, 20, 0), "vi") == "01/10/2022 03:00"


def test_dates_are_read_day_first() -> None:
    from datetime import date

    import pytest

    for text in ("30/9/2022", "30/09/2022", "30.09.2022", "30-09-2022", "2022-09-30"):
        assert i18n.parse_date(text) == date(2022, 9, 30), text
    for bad in ("31/02/2023", "09/30/2022", "hôm nay", ""):
        with pytest.raises(ValueError):
            i18n.parse_date(bad)
