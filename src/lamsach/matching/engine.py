"""Scan work as tasks: cut the logs into independent pieces, and scan one piece with the kernel.

A task is a whole file, or a byte range cut on line boundaries of a big plain file whose lines
read alone (``LogFormat.splittable``), or of a Zeek TSV one (its header read once and handed to
every range). ``scan_task`` reads a task and calls the pure kernel on each batch; the local
engine (``engine_local``) runs tasks on a process pool, and a cluster engine can map the same
function over the same tasks.
"""

from __future__ import annotations

import io
import os
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc
import zstandard

from lamsach.logs.formats import ReadContext, ReadStats, get_format, zeek_tsv
from lamsach.logs.reader import (
    READ_BUFFER,
    STDIN,
    LogReadError,
    RangeReader,
    check_damage,
    detect_format,
    is_compressed,
    line_ranges,
    open_binary,
    open_text,
    text_encoding,
)
from lamsach.matching.hits import HIT_SCHEMA

if TYPE_CHECKING:
    from lamsach.matching.fastpath import PassedLines, Screen

# Kernel signature: (batch, index, internal) -> hits table with HIT_SCHEMA.
Matcher = Callable[[pa.RecordBatch, Any, Any], pa.Table]
# Progress callback: (bytes consumed, records read, hits found) since the previous call.
Progress = Callable[[int, int, int], None]

SPLIT_MIN_BYTES = 32 << 20  # ranges smaller than this are not worth a process of their own
PROGRESS_EVERY = 0.2  # seconds between progress reports from one task


@dataclass(frozen=True)
class ScanTask:
    """One independent piece of scanning work."""

    order: int  # position in the scan, for ordered output
    path: str
    format: str
    start: int = 0
    end: int = -1  # -1: the whole file as one stream
    header: zeek_tsv.ZeekHeader | None = None
    options: Mapping[str, str] = field(default_factory=dict)

    @property
    def is_range(self) -> bool:
        return self.end >= 0


@dataclass
class TaskResult:
    """What one task found: its hits, what it read, and an error if it had to stop."""

    task: ScanTask
    hits: pa.Table
    stats: ReadStats
    lines: int = 0  # physical lines in a range (to number the lines of the ranges after it)
    error: str = ""
    seconds: float = 0.0
    handed: PassedLines | None = None  # lines the prefilter passed on, left to the caller


@dataclass
class Screening:
    """A task's pass through the prefilter: physical lines screened so far (to number the lines
    of the ranges that follow), and the passed lines it hands back unread, if it may."""

    lines: int = 0
    used: bool = False
    handed: PassedLines | None = None


@dataclass
class PlanError:
    """A file that cannot be scanned at all (missing, unknown format)."""

    path: str
    message: str
    unrecognised: bool = False  # no known format claimed it (rather than unreadable)


def plan_tasks(
    paths: list[str],
    fmt: str | None = None,
    parts: int = 1,
    options: Mapping[str, str] | None = None,
    min_split: int | None = None,
) -> tuple[list[ScanTask], list[PlanError]]:
    """Tasks for the files to scan: big plain files of line formats in ``parts`` byte ranges."""
    tasks: list[ScanTask] = []
    errors: list[PlanError] = []
    opts = dict(options or {})
    min_split = SPLIT_MIN_BYTES if min_split is None else min_split
    for path in paths:
        try:
            name = get_format(fmt).name if fmt else detect_format(path).name
        except (LogReadError, KeyError) as exc:
            message = str(exc).strip("'\"").removeprefix(f"{path}: ")
            errors.append(PlanError(path, message, "unrecognised" in message))
            continue
        try:
            file_options = _planned(path, name, opts)
        except OSError as exc:
            errors.append(PlanError(path, f"cannot read: {exc.strerror or exc}"))
            continue
        if _splittable(path, name, parts, min_split):
            header = None
            if name == zeek_tsv.NAME:
                try:
                    with open_binary(path) as raw:
                        header = zeek_tsv.read_header(raw)
                except zeek_tsv.ZeekHeaderError as exc:
                    errors.append(PlanError(path, str(exc)))
                    continue
            first = header.size if header is not None else 0
            for start, end in line_ranges(path, first, parts, min_split):
                tasks.append(ScanTask(len(tasks), path, name, start, end, header, file_options))
            continue
        tasks.append(ScanTask(len(tasks), path, name, options=file_options))
    return tasks, errors


def _planned(path: str, name: str, options: dict[str, str]) -> dict[str, str]:
    """The options of one file: those given, over what its format reads off the whole file first
    (a plain file only: a stream would have to be read twice)."""
    plan = get_format(name).plan
    if plan is None or path == STDIN or is_compressed(path):
        return options
    return {**plan(path), **options}


def _splittable(path: str, name: str, parts: int, min_split: int) -> bool:
    # Zeek TSV, besides the formats whose lines read alone: its header is read once and handed
    # to every range.
    if name != zeek_tsv.NAME and not get_format(name).splittable:
        return False
    if parts < 2 or path == STDIN or is_compressed(path):
        return False
    if os.path.getsize(path) < 2 * min_split:
        return False
    # Byte ranges are cut at b"\n", which is not a line end in UTF-16.
    with open(path, "rb") as raw:
        return text_encoding(raw.read(4)) != "utf-16"


def _batches(
    task: ScanTask,
    stats: ReadStats,
    counter: list[Any],
    tracker: zeek_tsv.LineTracker,
    screen: Screen | None,
    state: Screening,
) -> Iterator[pa.RecordBatch]:
    if task.format == zeek_tsv.NAME and screen is not None:
        screened = _screened(task, stats, counter, screen, state)
        if screened is not None:
            yield from screened
            return
    if task.is_range and task.header is not None:
        with RangeReader(task.path, task.start, task.end, count_lines=False) as reader:
            counter.append(reader)
            yield from zeek_tsv.read_records(
                reader, task.header, task.path, stats, 0, tracker=tracker, dictionary=True
            )
        return
    if task.format == zeek_tsv.NAME:
        # The fast path: bytes straight to pyarrow, repeated values dictionary-encoded.
        yield from _zeek_stream(task, stats, counter, None, state)
        return
    log_format = get_format(task.format)
    ctx = ReadContext(file=task.path, stats=stats, options=task.options)
    if task.is_range:
        # Line numbers come out counted from the range start; the engine shifts them.
        reader = RangeReader(task.path, task.start, task.end)
        counter.append(reader)
        buffered = io.BufferedReader(reader, READ_BUFFER)
        # utf-8-sig: the first range of a file written with a byte-order mark starts with it.
        with io.TextIOWrapper(buffered, encoding="utf-8-sig", errors="replace") as text:
            yield from log_format.read(text, ctx)
        return
    stream = open_binary(task.path, counter) if log_format.binary else open_text(task.path, counter)
    with stream:
        yield from log_format.read(stream, ctx)
        check_damage(getattr(stream, "buffer", stream))


def _screened(
    task: ScanTask, stats: ReadStats, counter: list[Any], screen: Screen, state: Screening
) -> Iterator[pa.RecordBatch] | None:
    """The batches of a Zeek task read through the prefilter; None leaves it to the reader."""
    from lamsach.matching.fastpath import FileRange

    if task.path == STDIN or is_compressed(task.path):
        return _zeek_stream(task, stats, counter, screen, state)
    header = task.header
    if header is None:
        with open_binary(task.path) as raw:
            try:
                header = zeek_tsv.read_header(raw)
            except zeek_tsv.ZeekHeaderError:
                return None  # the reader says why
    layout = screen.layout(header)
    if layout is None:
        return None
    if task.is_range:
        piece, offset = FileRange(task.path, task.start, task.end), 0
    else:
        piece = FileRange(task.path, header.size, os.path.getsize(task.path))
        offset = header.lines
    counter.append(piece)
    return screen.batches(piece.blocks(), header, task.path, stats, layout, offset, state)


def _zeek_stream(
    task: ScanTask,
    stats: ReadStats,
    counter: list[Any],
    screen: Screen | None,
    state: Screening,
) -> Iterator[pa.RecordBatch]:
    """A whole Zeek file as one stream, header included (through the prefilter with a screen)."""
    with open_binary(task.path, counter) as raw:
        try:
            header = zeek_tsv.read_header(raw)
        except zeek_tsv.ZeekHeaderError:
            stats.skip("no-zeek-header", 1)
            return
        layout = screen.layout(header) if screen is not None else None
        if screen is None or layout is None:
            yield from zeek_tsv.read_records(raw, header, task.path, stats, dictionary=True)
        else:
            from lamsach.matching.fastpath import stream_blocks

            blocks = stream_blocks(raw)
            lines = header.lines
            yield from screen.batches(blocks, header, task.path, stats, layout, lines, state)
        check_damage(raw)


def scan_task(
    task: ScanTask,
    index: Any,
    internal: Any,
    matcher: Matcher,
    progress: Progress | None = None,
    screen: Screen | None = None,
) -> TaskResult:
    """Read one task and match every batch; a failure keeps the hits found before it.

    With a ``screen``, Zeek TSV logs go through the prefilter first (the same hits, sooner).
    """
    started = time.perf_counter()
    stats = ReadStats(file=task.path, format=task.format)
    counter: list[Any] = []  # the reader of the file's own bytes: CountingReader or RangeReader
    found: list[pa.Table] = []
    reported = (0, 0, 0)
    last = started
    error = ""
    hits_total = 0
    tracker = zeek_tsv.LineTracker(stats, 0)
    state = Screening()
    try:
        for batch in _batches(task, stats, counter, tracker, screen, state):
            stats.records += batch.num_rows
            hits = matcher(batch, index, internal) if batch.num_rows else HIT_SCHEMA.empty_table()
            if hits.num_rows:
                found.append(hits)
                hits_total += hits.num_rows
            now = time.perf_counter()
            if progress is not None and now - last >= PROGRESS_EVERY:
                done = (counter[0].count if counter else 0, stats.records, hits_total)
                progress(*(a - b for a, b in zip(done, reported, strict=True)))
                reported, last = done, now
    except (OSError, EOFError, ValueError, zstandard.ZstdError, pa.ArrowException) as exc:
        error = f"stopped reading after {stats.records} records: {exc}"
    except Exception as exc:  # a fault in one format's reader must not end the whole scan
        error = f"stopped reading after {stats.records} records: {type(exc).__name__}: {exc}"
    if counter:
        stats.bytes_read = counter[0].count
    if progress is not None:
        done = (stats.bytes_read, stats.records, hits_total)
        progress(*(a - b for a, b in zip(done, reported, strict=True)))
    lines = 0
    if task.is_range:
        ranged = counter[0]
        lines = tracker.physical_rows if task.header is not None else ranged.lines
        if state.used:
            lines = state.lines
    table = pa.concat_tables(found) if found else HIT_SCHEMA.empty_table()
    if table.num_rows > 1:
        table = table.sort_by([("line", "ascending")])
    handed = state.handed if state.handed is not None and state.handed.lines else None
    return TaskResult(task, table, stats, lines, error, time.perf_counter() - started, handed)


def match_handed(result: TaskResult, index: Any, internal: Any, matcher: Matcher) -> None:
    """Read and match the lines a task handed back unread, adding what they give to its result."""
    handed, result.handed = result.handed, None
    if handed is None:
        return
    found = [result.hits]
    for batch in handed.read(result.stats):
        result.stats.records += batch.num_rows
        if batch.num_rows:
            found.append(matcher(batch, index, internal))
    table = pa.concat_tables(found)
    result.hits = table.sort_by([("line", "ascending")]) if table.num_rows > 1 else table


def shift_lines(result: TaskResult, offset: int) -> None:
    """Make a range's line numbers (counted from the range start) line numbers in the file."""
    if offset == 0:
        return
    if result.hits.num_rows:
        index = result.hits.schema.get_field_index("line")
        shifted = pc.add(result.hits.column("line"), offset)
        result.hits = result.hits.set_column(index, "line", shifted)
    stats = result.stats
    stats.examples = {k: [n + offset for n in v] for k, v in stats.examples.items()}


def merge_stats(into: ReadStats, other: ReadStats) -> None:
    """Fold the stats of one range of a file into the file's stats."""
    into.records += other.records
    into.bytes_read += other.bytes_read
    into.format = into.format or other.format
    for reason, count in other.skipped.items():
        into.skipped[reason] += count
        lines = into.examples.setdefault(reason, [])
        room = max(0, 5 - len(lines))
        lines.extend(other.examples.get(reason, [])[:room])
