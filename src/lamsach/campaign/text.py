"""Free text as the portal keeps it: names on one line, notes with their line breaks, and no
control characters in either (they are never meant, and Excel and Word files refuse them)."""

from __future__ import annotations

import re

# C0 and C1 controls and DEL, but tab and line feed (which notes keep).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def one_line(text: str) -> str:
    """A name or title: runs of white space (line breaks too) become one space."""
    return " ".join(_CONTROL.sub(" ", text).split())


def block(text: str) -> str:
    """A note or comment: trimmed, its lines kept (Windows and old Mac breaks made \\n)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return _CONTROL.sub("", text).strip()
