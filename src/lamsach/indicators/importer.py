"""Import indicator lists: find files, detect formats, normalise, guard and merge duplicates.

An import never stops half-way: a file that cannot be read is reported by name and the others go
on; every line or object that gives no indicator is counted by reason with where it was.
"""

from __future__ import annotations

import codecs
import gc
import os
import sys
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

from lamsach.indicators.formats import detect_format, get_format, xlsx
from lamsach.indicators.formats.base import MalformedFile, RawEntry, ReadContext, Reject
from lamsach.indicators.formats.misp import FEED_MANIFEST, feed_events
from lamsach.indicators.guards import GuardSettings, check
from lamsach.indicators.model import Indicator, IndicatorType
from lamsach.indicators.normalize import (
    InvalidIndicator,
    normalize_hash,
    normalize_ip_port,
    normalize_url,
    parse_value,
    refang,
)
from lamsach.logs.reader import STDIN, open_binary

_HEAD_CHARS = 65536
_ADDRESS_TYPES = (IndicatorType.IPV4, IndicatorType.IPV6, IndicatorType.CIDR)
_NAME_TYPES = (IndicatorType.DOMAIN, IndicatorType.HOSTNAME)
_HASH_TYPES = (IndicatorType.MD5, IndicatorType.SHA1, IndicatorType.SHA256)
# Files that sit beside lists in folders (maltrail ships its LICENSE) and are not lists.
_NOT_LISTS = ("license", "licence", "readme", "copying", "notice", "authors", "changelog")
_NOT_LIST_SUFFIXES = (".md", ".rst", ".rules", ".yaml", ".yml", ".py", ".sh")


@dataclass(slots=True)
class FileReport:
    """What one file gave: its format, entries read, indicators accepted, rejects, or an error."""

    file: str
    format: str | None = None
    entries: int = 0
    accepted: int = 0
    rejected: int = 0
    error: str | None = None


@dataclass(slots=True)
class ImportResult:
    indicators: list[Indicator] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)
    files: list[FileReport] = field(default_factory=list)
    skipped_files: list[str] = field(default_factory=list)
    # Entries kept in a narrower form than listed (a domain kept as one exact host name).
    warnings: list[Reject] = field(default_factory=list)

    @property
    def counts(self) -> Counter[str]:
        """Unique indicators by type value."""
        return Counter(indicator.type.value for indicator in self.indicators)

    @property
    def reject_counts(self) -> Counter[str]:
        return Counter(reject.reason for reject in self.rejects)

    @property
    def warning_counts(self) -> Counter[str]:
        return Counter(warning.reason for warning in self.warnings)

    @property
    def errors(self) -> list[FileReport]:
        return [report for report in self.files if report.error is not None]


@dataclass(slots=True)
class _Job:
    path: Path
    display: str
    source: str
    tags_root: Path | None  # the folder a maltrail-style tree was given as
    label: str  # what the indicators' ``files`` say: the path as given, or from its folder on


def import_paths(
    paths: Iterable[str | Path],
    *,
    format: str | None = None,
    source: str | None = None,
    column: str | None = None,
    guard: GuardSettings = GuardSettings(),
    now: datetime | None = None,
) -> ImportResult:
    """Read every file named (folders walked, MISP feeds through their manifest) into indicators."""
    # Hundreds of thousands of small objects that all live to the end: the cyclic collector
    # would walk them again and again for nothing (a third of the time on maltrail).
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _import(paths, format, source, column, guard, now)
    finally:
        if collecting:
            gc.enable()


def _import(
    paths: Iterable[str | Path],
    format: str | None,
    source: str | None,
    column: str | None,
    guard: GuardSettings,
    now: datetime | None,
) -> ImportResult:
    forced = get_format(format) if format else None
    result = ImportResult()
    merged: dict[tuple[IndicatorType, str], Indicator] = {}
    moment = now or datetime.now(UTC)
    for job in _jobs(paths, source, result):
        report = FileReport(job.display)
        result.files.append(report)
        ctx = ReadContext(job.path, job.display, job.source, column=column)
        # One string object per file, shared by every indicator read from it.
        files = frozenset({sys.intern(job.label)})
        try:
            data = _read_bytes(job.path)
            if forced is not None and forced.read_binary is not None:
                report.format = forced.name
                entries = list(forced.read_binary(data, ctx))
            elif forced is None and xlsx.is_workbook(data):
                report.format = xlsx.FORMAT.name
                entries = list(xlsx.read_xlsx(data, ctx))
            else:
                text = _decode(data)
                fmt = forced or detect_format(text[:_HEAD_CHARS], job.path)
                report.format = fmt.name
                if fmt.name == "maltrail" and job.tags_root is not None:
                    ctx.tags = _maltrail_tags(job.path, job.tags_root)
                elif fmt.name == "maltrail":
                    ctx.tags = frozenset({job.path.stem.lower()})
                entries = list(fmt.read(text, ctx))
        except MalformedFile as exc:
            report.error = str(exc)
            continue
        except OSError as exc:
            report.error = f"cannot read: {exc.strerror or exc}"
            continue
        except (ValueError, TypeError, KeyError, AttributeError, RecursionError) as exc:
            # A document of the right format but the wrong shapes (a number where a list
            # belongs, nesting too deep): the file is refused whole, the import goes on.
            report.error = f"malformed {report.format or 'file'}: {type(exc).__name__}: {exc}"
            continue
        report.entries = len(entries)
        warnings: list[Reject] = []
        accepted = _add_entries(
            entries, ctx, files, guard, moment, merged, warnings, forced_source=source
        )
        result.warnings.extend(warnings)
        report.accepted = accepted
        report.rejected = len(ctx.rejects)
        result.rejects.extend(sorted(ctx.rejects, key=lambda reject: reject.line or 0))
    result.indicators = list(merged.values())
    return result


def _jobs(paths: Iterable[str | Path], source: str | None, result: ImportResult) -> list[_Job]:
    jobs: list[_Job] = []
    for raw in paths:
        path = Path(raw)
        if str(raw) == STDIN:
            jobs.append(_Job(path, "<stdin>", source or "stdin", None, STDIN))
            continue
        name = source or (path.name if path.is_dir() else path.stem) or str(path)
        if path.is_dir():
            _walk(path, path, name, jobs, result)
        else:
            jobs.append(_Job(path, str(path), name, None, os.fspath(raw)))
    return jobs


def _walk(folder: Path, root: Path, name: str, jobs: list[_Job], result: ImportResult) -> None:
    """Files under ``folder`` in name order; a folder with a manifest.json is a MISP feed.

    Each file is labelled from the imported folder on (``maltrail/malware/emotet.txt``), so the
    label does not depend on where the folder was when it was imported.
    """
    if (folder / FEED_MANIFEST).is_file():
        try:
            events = feed_events(folder)
        except MalformedFile as exc:
            result.files.append(FileReport(str(folder / FEED_MANIFEST), error=str(exc)))
            return
        listed = set(events) | {folder / FEED_MANIFEST}
        jobs.extend(_Job(event, str(event), name, None, _label(event, root)) for event in events)
        result.skipped_files.extend(
            str(p) for p in sorted(folder.iterdir()) if p.is_file() and p not in listed
        )
        return
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith("."):
            continue
        if entry.is_dir():
            _walk(entry, root, name, jobs, result)
        elif _not_a_list(entry):
            result.skipped_files.append(str(entry))
        elif entry.is_file():
            jobs.append(_Job(entry, str(entry), name, root, _label(entry, root)))


def _label(file: Path, root: Path) -> str:
    """A file found in a folder, named from that folder (``.`` and ``..`` by their real names)."""
    top = root.name if root.name not in ("", ".", "..") else root.resolve().name
    try:
        return str(PurePosixPath(top, *file.relative_to(root).parts))
    except ValueError:  # a MISP manifest naming an event outside its folder
        return str(file)


def _not_a_list(file: Path) -> bool:
    lower = file.name.lower()
    return lower.startswith(_NOT_LISTS) or lower.endswith(_NOT_LIST_SUFFIXES)


def _maltrail_tags(file: Path, root: Path) -> frozenset[str]:
    """File name is the family; the folder under the imported root is the category."""
    tags = {file.stem.lower()}
    if file.parent != root:
        tags.add(file.parent.name.lower())
    return frozenset(tags)


def _read_bytes(path: Path) -> bytes:
    with open_binary(str(path)) as stream:
        return stream.read()


def _decode(data: bytes) -> str:
    if data.startswith(xlsx.OLE_MAGIC):
        raise MalformedFile("an old binary Excel (.xls) or Word file: save it as .xlsx or CSV")
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        # Excel's "Unicode Text" and Notepad's "Unicode" save as UTF-16 with a byte-order mark.
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            raise MalformedFile("broken UTF-16 text") from None
    if b"\x00" in data[:8192]:
        raise MalformedFile("binary data, not an indicator list")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        # Undecodable bytes become U+FFFD; the values holding them are rejected as bad-encoding.
        return data.decode("utf-8", errors="replace")


def _add_entries(
    entries: list[RawEntry],
    ctx: ReadContext,
    files: frozenset[str],
    guard: GuardSettings,
    now: datetime,
    merged: dict[tuple[IndicatorType, str], Indicator],
    warnings: list[Reject],
    *,
    forced_source: str | None,
) -> int:
    accepted = 0
    default_sources = frozenset({ctx.source})
    for raw in entries:
        try:
            kind, value = normalize_entry(raw)
        except InvalidIndicator as exc:
            ctx.reject(raw.line, exc.reason, raw.where or raw.value, str(exc))
            continue
        if raw.expires is not None and raw.expires <= now:
            ctx.reject(
                raw.line, "expired", raw.where or raw.value, f"expired {raw.expires:%Y-%m-%d}"
            )
            continue
        sources = default_sources if forced_source or not raw.sources else raw.sources
        indicator = _indicator(kind, value, raw, sources, raw.files or files)
        refusal = check(indicator, guard)
        if refusal is not None and refusal.narrow_to is None:
            ctx.reject(raw.line, refusal.reason, raw.where or raw.value, refusal.message)
            continue
        if refusal is not None and refusal.narrow_to is not None:
            indicator.type = refusal.narrow_to
            text = raw.where or raw.value
            warnings.append(Reject(ctx.display, raw.line, refusal.reason, text, refusal.message))
        existing = merged.get(indicator.key)
        if existing is not None:
            existing.merge(indicator)
        else:
            merged[indicator.key] = indicator
        accepted += 1
    return accepted


def _indicator(
    kind: IndicatorType, value: str, raw: RawEntry, sources: frozenset[str], files: frozenset[str]
) -> Indicator:
    return Indicator(
        kind,
        value,
        sources=set(sources),
        tags=set(raw.tags),
        first_seen=raw.first_seen,
        last_seen=raw.last_seen,
        expires=raw.expires,
        confidence=raw.confidence,
        files=set(files),
    )


def normalize_entry(raw: RawEntry) -> tuple[IndicatorType, str]:
    """Type and canonical value of a raw entry, honouring what its format says it is."""
    value = raw.value
    if "\ufffd" in value:
        raise InvalidIndicator("bad-encoding", f"undecodable bytes in {value!r}")
    hint = raw.type_hint
    if hint is None:
        return parse_value(value)
    if hint in _NAME_TYPES:
        return parse_value(value, bare_name=hint)
    if hint is IndicatorType.URL:
        return IndicatorType.URL, normalize_url(refang(value))
    if hint is IndicatorType.IP_PORT:
        return IndicatorType.IP_PORT, normalize_ip_port(refang(value))
    if hint in _HASH_TYPES:
        kind, digest = normalize_hash(value)
        if kind is not hint:
            raise InvalidIndicator("bad-hash", f"{value!r} is not a {hint.value}")
        return kind, digest
    kind, canonical = parse_value(value)
    if kind not in _ADDRESS_TYPES:
        raise InvalidIndicator("bad-ip", f"not an IP address or network: {value!r}")
    return kind, canonical
