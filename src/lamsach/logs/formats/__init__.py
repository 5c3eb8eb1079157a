"""The registry of log formats: each module here defines ``FORMAT``, found automatically.

A format sniffs the first lines of a file to claim it and reads a text stream into canonical
batches (see ``lamsach.logs.schema``), counting the lines it cannot parse in ``ReadStats``.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import IO, Any

import pyarrow as pa

MAX_EXAMPLES = 5
# Reasons starting with this prefix are lines understood but carrying no network record (a
# stats event, a DHCP line in a firewall log): reported apart from lines that could not be read.
IGNORED = "ignored: "


@dataclass
class ReadStats:
    """What was read from one file: records, and lines skipped by reason with examples."""

    file: str
    format: str = ""
    records: int = 0
    bytes_read: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    examples: dict[str, list[int]] = field(default_factory=dict)  # reason -> first line numbers

    def skip(self, reason: str, line: int) -> None:
        self.skipped[reason] += 1
        lines = self.examples.setdefault(reason, [])
        if len(lines) < MAX_EXAMPLES:
            lines.append(line)

    @property
    def skipped_total(self) -> int:
        return sum(self.skipped.values())

    @property
    def ignored_total(self) -> int:
        return sum(n for reason, n in self.skipped.items() if reason.startswith(IGNORED))

    @property
    def unreadable_total(self) -> int:
        return self.skipped_total - self.ignored_total


@dataclass(frozen=True)
class ReadContext:
    """What a format needs besides the stream: the file's name, batch size and user options.

    ``options`` carries format settings given on the command line, such as the column mapping
    of the generic CSV format (``--map time=ts,src_ip=client``).
    """

    file: str
    stats: ReadStats
    batch_size: int = 65_536
    options: Mapping[str, str] = field(default_factory=dict)


# A text format is given a text stream (UTF-8, undecodable bytes replaced); a binary format
# (``binary=True``, such as EVTX) is given the decompressed byte stream.
Reader = Callable[[IO[Any], ReadContext], Iterator[pa.RecordBatch]]


@dataclass(frozen=True)
class LogFormat:
    """A log format: its name (for ``--format``), how to recognise it and how to read it.

    ``sniff`` gets up to the first 20 non-empty lines of the file. Formats are tried by
    ascending ``priority`` so that specific formats are asked before generic ones. A binary
    format is recognised by ``magic``, the bytes its files start with, instead.

    ``splittable`` says that each line of the format reads alone: no header, no record over
    several lines, nothing learnt from one line used for another (as dnsmasq learns which client
    asked). A big plain file of such a format is cut into byte ranges at line ends, read side by
    side by the scan's workers, with the same result.

    ``plan``, when given, reads off a whole plain file the options its lines need, before the
    scan reads it (Windows DNS: which of day and month comes first), so that they then read alone.
    """

    name: str
    description: str
    sniff: Callable[[list[str]], bool]
    read: Reader
    priority: int = 50
    binary: bool = False
    magic: bytes = b""
    splittable: bool = False
    plan: Callable[[str], dict[str, str]] | None = None


@cache
def all_formats() -> tuple[LogFormat, ...]:
    """Every registered format, in sniffing order."""
    found: list[LogFormat] = []
    for module_info in pkgutil.iter_modules(__path__):
        if module_info.name.startswith("_"):
            continue  # helpers of the formats, imported by them when they need them
        module = importlib.import_module(f"{__name__}.{module_info.name}")
        fmt = getattr(module, "FORMAT", None)
        if isinstance(fmt, LogFormat):
            found.append(fmt)
        found.extend(f for f in getattr(module, "FORMATS", ()) if isinstance(f, LogFormat))
    return tuple(sorted(found, key=lambda f: (f.priority, f.name)))


def get_format(name: str) -> LogFormat:
    for fmt in all_formats():
        if fmt.name == name:
            return fmt
    known = ", ".join(f.name for f in all_formats())
    raise KeyError(f"unknown log format {name!r}; known formats: {known}")


def sniff_binary(head: bytes) -> LogFormat | None:
    for fmt in all_formats():
        if fmt.binary and fmt.magic and head.startswith(fmt.magic):
            return fmt
    return None


def sniff_format(head: list[str]) -> LogFormat | None:
    for fmt in all_formats():
        if not fmt.binary and fmt.sniff(head):
            return fmt
    return None
