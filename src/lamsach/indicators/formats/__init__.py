"""Readers of indicator list formats; each module reads (and writes) one format family."""

from __future__ import annotations

import re
from pathlib import Path

from lamsach.indicators.formats import (
    csvfile,
    hosts,
    misp,
    rpz,
    stix,
    suricata,
    text,
    xlsx,
    zeek,
)
from lamsach.indicators.formats.base import IndicatorFormat, MalformedFile

FORMATS: tuple[IndicatorFormat, ...] = tuple(
    sorted(
        (
            *text.FORMATS,
            *suricata.FORMATS,
            csvfile.FORMAT,
            hosts.FORMAT,
            misp.FORMAT,
            rpz.FORMAT,
            stix.FORMAT,
            zeek.FORMAT,
            xlsx.FORMAT,
        ),
        key=lambda fmt: fmt.priority,
    )
)
FORMAT_NAMES = tuple(fmt.name for fmt in FORMATS)
# ``--format tsv`` is the CSV reader (it finds the delimiter itself).
_ALIASES = {"tsv": "csv", "text": "txt", "plain": "txt", "stix2": "stix"}


def get_format(name: str) -> IndicatorFormat:
    wanted = _ALIASES.get(name.lower(), name.lower())
    for fmt in FORMATS:
        if fmt.name == wanted:
            return fmt
    raise ValueError(f"unknown indicator format {name!r} (known: {', '.join(FORMAT_NAMES)})")


_JSON_START = re.compile(r"\s*(?:\{|\[\s*(?:[{\]]|$))")


def detect_format(head: str, path: Path) -> IndicatorFormat:
    """The first format, most specific first, whose sniff claims the head of the file."""
    for fmt in FORMATS:
        if fmt.sniff(head, path):
            if fmt.priority >= 50 and _JSON_START.match(head):
                # Read line by line, a JSON document would give one junk reject per line.
                raise MalformedFile("a JSON document that is neither a STIX bundle nor MISP")
            return fmt
    raise MalformedFile("no indicator format recognised")


__all__ = ["FORMATS", "FORMAT_NAMES", "IndicatorFormat", "MalformedFile", "detect_format"]
