"""Languages of the portal: gettext catalogs (Babel), locale choice, dd/mm/yyyy and 1.234.567."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

from babel.dates import format_date, format_datetime
from babel.numbers import format_decimal
from babel.support import NullTranslations, Translations
from jinja2 import pass_context
from jinja2.runtime import Context
from markupsafe import Markup

from lamsach.campaign.timeutil import local_datetime

LOCALE_DIR = Path(__file__).parent / "locale"
LOCALES: tuple[str, ...] = ("vi", "en")
LANGUAGE_NAMES = {"vi": "Tiếng Việt", "en": "English"}
DOMAIN = "messages"


def _(message: str) -> str:
    """Mark a string for extraction; it is translated later, where the locale is known."""
    return message


@lru_cache(maxsize=8)
def translations(locale: str) -> NullTranslations:
    """The compiled catalog of ``locale`` (the msgid itself when there is none)."""
    if locale not in LOCALES:
        locale = LOCALES[0]
    return Translations.load(str(LOCALE_DIR), [locale], domain=DOMAIN)


def gettext(locale: str, message: str, **variables: Any) -> str:
    text = translations(locale).gettext(message)
    return text % variables if variables else text


def pick_locale(cookie: str | None, session: str | None, default: str) -> str:
    for candidate in (session, cookie, default):
        if candidate in LOCALES:
            return candidate
    return LOCALES[0]


def jinja_gettext(locale: str) -> tuple[Callable[..., str], Callable[..., str]]:
    """Per-request ``gettext``/``ngettext`` for templates, escaping their %(name)s values."""
    catalog = translations(locale)

    @pass_context
    def _gettext(context: Context, message: str, **variables: Any) -> str:
        text = catalog.gettext(message)
        if context.eval_ctx.autoescape:
            text = Markup(text)
        return text % variables if variables else text

    @pass_context
    def _ngettext(context: Context, singular: str, plural: str, num: int, **variables: Any) -> str:
        variables.setdefault("num", num)
        text = catalog.ngettext(singular, plural, num)
        if context.eval_ctx.autoescape:
            text = Markup(text)
        return text % variables

    return _gettext, _ngettext


def fmt_number(value: float | int | None, locale: str) -> str:
    """Vietnamese separators in Vietnamese (1.234.567), English ones in English."""
    if value is None:
        return ""
    return format_decimal(value, locale=locale)


def fmt_percent(value: float | None, locale: str) -> str:
    """A rate between 0 and 1 as a percentage with one decimal (87,5%)."""
    if value is None:
        return "—"
    return format_decimal(round(value * 100, 1), format="#,##0.0", locale=locale) + "%"


def fmt_date(value: dt.date | dt.datetime | None, locale: str) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        value = value.date()
    return format_date(value, "dd/MM/yyyy", locale=locale)


_DAY_FIRST = re.compile(r"^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})$")


def parse_date(text: str) -> dt.date:
    """A date as people here type it: dd/mm/yyyy (also with . or -), or ISO yyyy-mm-dd."""
    cleaned = text.strip()
    match = _DAY_FIRST.match(cleaned)
    if match:
        day, month, year = (int(part) for part in match.groups())
        return dt.date(year, month, day)
    return dt.date.fromisoformat(cleaned)


def fmt_datetime(value: dt.datetime | None, locale: str) -> str:
    """A stored (naive UTC) timestamp in Vietnam time."""
    if value is None:
        return ""
    return format_datetime(local_datetime(value), "dd/MM/yyyy HH:mm", locale=locale)
