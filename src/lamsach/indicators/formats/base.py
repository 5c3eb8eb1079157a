"""What every indicator reader gets and gives: the read context, raw entries and rejects."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from lamsach.indicators.model import IndicatorType


class MalformedFile(Exception):
    """A file that cannot be read as the format at all (broken JSON, binary junk)."""


@dataclass(slots=True)
class RawEntry:
    """One value as a list gives it, before normalisation and guarding.

    ``type_hint`` is set when the format says what the value is (a MISP ``hostname``, a STIX
    ``domain-name``); ``line`` is the 1-based line, or None for JSON formats where ``where`` says
    which object it came from.
    """

    value: str
    line: int | None = None
    where: str = ""
    type_hint: IndicatorType | None = None
    tags: frozenset[str] = frozenset()
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    expires: datetime | None = None
    confidence: int | None = None
    # The lists the file itself names (a STIX identity, Zeek meta.source); else the context's.
    sources: frozenset[str] = frozenset()
    # The files a lamsach export says it was first read from; else the file being read.
    files: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Reject:
    """A line or object that gave no indicator, and why."""

    file: str
    line: int | None
    reason: str
    text: str
    message: str = ""

    @property
    def location(self) -> str:
        return f"{self.file}:{self.line}" if self.line is not None else self.file


@dataclass(slots=True)
class ReadContext:
    """Where a reader is and what the user asked; readers report rejects through it."""

    path: Path
    display: str  # the file as shown to the user
    source: str
    tags: frozenset[str] = frozenset()
    column: str | None = None
    rejects: list[Reject] = field(default_factory=list)

    def reject(self, line: int | None, reason: str, text: str, message: str = "") -> None:
        self.rejects.append(Reject(self.display, line, reason, text[:300], message))


@dataclass(frozen=True, slots=True)
class IndicatorFormat:
    """One format: ``sniff`` says from the head of a file whether it is this format."""

    name: str
    description: str
    sniff: Callable[[str, Path], bool]
    read: Callable[[str, ReadContext], Iterator[RawEntry]]
    priority: int = 50  # lower is tried first: specific formats before generic ones
    # Binary formats (spreadsheets) read the file's bytes instead of its text.
    read_binary: Callable[[bytes, ReadContext], Iterator[RawEntry]] | None = None


def parse_timestamp(value: object) -> datetime | None:
    """An ISO 8601 string or Unix seconds as an aware UTC datetime, None when absent or unusable."""
    if value is None or value == "":
        return None
    try:
        if isinstance(value, int | float) or (isinstance(value, str) and value.isdigit()):
            return datetime.fromtimestamp(float(value), tz=UTC)
        if not isinstance(value, str):
            return None
        text = value.strip().replace("Z", "+00:00").replace(" UTC", "+00:00")
        parsed = datetime.fromisoformat(text)
    except (ValueError, OverflowError, OSError):
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def split_comment(line: str) -> str:
    """The value part of a list line: ``#`` comments (whole-line or after white space) removed."""
    stripped = line.strip()
    if not stripped or stripped[0] in "#;" or stripped.startswith("//"):
        return ""
    cut = stripped.find("#")
    if cut > 0 and stripped[cut - 1] in " \t":
        stripped = stripped[:cut].rstrip()
    return stripped
