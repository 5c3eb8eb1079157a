"""Plain one-per-line lists (comments, defanged values) and maltrail trail files."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from lamsach.indicators.formats.base import IndicatorFormat, RawEntry, ReadContext, split_comment

_MALTRAIL_MARK = "Maltrail developers"
_SCHEME_ONLY_HOST = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]*://([^/?#\s]+)/?")


def read_plain(text: str, ctx: ReadContext) -> Iterator[RawEntry]:
    """Every non-comment line is one value; the importer classifies and normalises it.

    Adblock-style DNS rules (``||evil.com^``, as AdGuard Home and Pi-hole lists have) are
    taken as the domain they block.
    """
    tags = ctx.tags
    for number, line in enumerate(text.splitlines(), start=1):
        value = split_comment(line)
        if not value or value.startswith("!"):  # "!" starts an adblock-style comment
            continue
        if value.startswith("||") and value.endswith("^"):
            value = value[2:-1]  # adblock-style DNS rule "||evil.com^": the domain
        yield RawEntry(value, number, tags=tags)


def read_maltrail(text: str, ctx: ReadContext) -> Iterator[RawEntry]:
    """A maltrail trail file: as plain text, but ``http://host`` alone means the host itself.

    maltrail strips the scheme of its trails, so a bare ``http://1.2.3.4`` lists the address and
    ``evil.com/gate.php`` a URL; the file name (family) and folder (category) come in as tags.
    """
    tags = ctx.tags
    for number, line in enumerate(text.splitlines(), start=1):
        value = split_comment(line)
        if not value:
            continue
        if "://" in value:
            origin = _SCHEME_ONLY_HOST.fullmatch(value)
            if origin is not None:
                value = origin.group(1)
        yield RawEntry(value, number, tags=tags)


def _sniff_maltrail(head: str, path: Path) -> bool:
    return _MALTRAIL_MARK in head[:1000]


def _sniff_plain(head: str, path: Path) -> bool:
    return True


MALTRAIL = IndicatorFormat(
    "maltrail",
    "maltrail trail file (file name = family, folder = category)",
    _sniff_maltrail,
    read_maltrail,
    priority=20,
)
PLAIN = IndicatorFormat(
    "txt", "plain text, one value per line", _sniff_plain, read_plain, priority=100
)
FORMATS = (MALTRAIL, PLAIN)
