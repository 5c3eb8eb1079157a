"""Plain Zeek TSV scanned through the prefilter: only the lines it passes on are parsed.

The bytes are cut into blocks of whole lines; the compiled pass counts the ordinary lines that
cannot match, and the rest go, as a small text of their own, through the Zeek reader and then the
kernel like any batch. Line numbers and skip counts come out as the reader alone would give them.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from lamsach.logs.formats import MAX_EXAMPLES, ReadStats, zeek_tsv
from lamsach.logs.schema import LOG_SCHEMA
from lamsach.matching.prefilter import (
    ADDRESS,
    ADDRESSES,
    NAME,
    NAMES,
    URI,
    URL_HOST,
    LineLayout,
    Prefilter,
    Workspace,
    gather_lines,
    screen,
)

if TYPE_CHECKING:
    from lamsach.matching.engine import Screening
    from lamsach.matching.index import IndicatorIndex

BLOCK = 8 << 20  # bytes per pass: large enough to amortise, small enough to stay in cache
PENDING_LINES = 50_000  # passed lines gathered before they are read and matched
EMPTY = pa.RecordBatch.from_pylist([], schema=LOG_SCHEMA)
_SETS = ("set", "vector", "table")


@dataclass(frozen=True)
class Screen:
    """An index's prefilter and the Zeek logs it can screen.

    ``hand_back``: bytes of passed lines a task may hand back in its result for the caller to
    read and match, instead of loading the index to match them itself (0: match them here).
    """

    prefilter: Prefilter
    hand_back: int = 0

    @classmethod
    def of(cls, index: IndicatorIndex) -> Screen:
        return cls(Prefilter.of(index))

    def layout(self, header: zeek_tsv.ZeekHeader) -> LineLayout | None:
        return zeek_layout(header, self.prefilter)

    def batches(
        self,
        blocks: Iterator[tuple[np.ndarray, int, int, bool]],
        header: zeek_tsv.ZeekHeader,
        file: str,
        stats: ReadStats,
        layout: LineLayout,
        line_offset: int,
        state: Screening,
    ) -> Iterator[pa.RecordBatch]:
        state.used = True
        if self.hand_back and state.handed is None:
            state.handed = PassedLines(header, file)
        return screened_batches(
            blocks, header, file, stats, layout, self.prefilter, line_offset, state, self.hand_back
        )


def zeek_layout(header: zeek_tsv.ZeekHeader, prefilter: Prefilter) -> LineLayout | None:
    """What the prefilter must look at in a Zeek log, or None when it cannot screen this log."""
    separator = header.separator.encode("utf-8", "replace")
    set_separator = header.set_separator.encode("utf-8", "replace")
    if len(separator) != 1 or len(set_separator) != 1 or separator in b"\r\n#":
        return None
    plan = zeek_tsv.plan_columns(header)
    if not prefilter.can_screen(plan.uri is not None, bool(plan.hash_fields)):
        return None
    kinds = np.zeros(len(header.fields), dtype=np.int8)
    for canonical, name in plan.sources.items():
        many = header.type_of(name).startswith(_SETS)
        position = header.fields.index(name)
        if canonical in ("src_ip", "dst_ip"):
            kinds[position] = ADDRESSES if many else ADDRESS
        elif canonical == "host":
            kinds[position] = NAMES if many else URL_HOST if plan.uri else NAME
        elif canonical == "answers":
            kinds[position] = NAMES
    if plan.uri:
        kinds[header.fields.index(plan.uri)] = URI
    read = np.zeros(len(header.fields), dtype=np.bool_)
    read[[header.fields.index(name) for name in plan.include]] = True
    nulls = (header.unset_field.encode(), header.empty_field.encode())
    return LineLayout(len(header.fields), separator[0], set_separator[0], kinds, read, nulls)


def screened_batches(
    blocks: Iterator[tuple[np.ndarray, int, int, bool]],
    header: zeek_tsv.ZeekHeader,
    file: str,
    stats: ReadStats,
    layout: LineLayout,
    prefilter: Prefilter,
    line_offset: int,
    state: Screening,
    hand_back: int = 0,
) -> Iterator[pa.RecordBatch]:
    """Canonical batches of the lines the prefilter passes on; the others only counted.

    ``blocks`` are (whole lines, whether they hold a carriage return), from after the header;
    ``line_offset`` lines come before the first. Passed lines are gathered over several blocks,
    as the kernel's cost per batch is high; up to ``hand_back`` bytes of them go to
    ``state.handed`` instead of being read here.
    """
    pending = PassedLines(header, file)
    workspace = Workspace()

    def flush() -> Iterator[pa.RecordBatch]:
        handed = state.handed
        if handed is not None and handed.nbytes + pending.nbytes <= hand_back:
            handed.extend(pending.take())
        else:
            yield from pending.take().read(stats)

    for base, begin, end, has_cr in blocks:
        first = line_offset + state.lines  # lines before this block
        if has_cr:
            # The reader takes a lone carriage return for a line end too: let it read the block.
            yield from flush()
            tracker = zeek_tsv.LineTracker(stats, first)
            whole = io.BytesIO(base[begin:end].tobytes())
            yield from zeek_tsv.read_records(
                whole, header, file, stats, first, tracker=tracker, dictionary=True
            )
            state.lines += tracker.physical_rows
            continue
        found = screen(base, begin, end, layout, prefilter, workspace)
        stats.records += found.records
        state.lines += found.lines
        if len(found.candidates):
            text = gather_lines(base, found.starts, found.ends)
            pending.add(text, found.candidates + (first + 1))
        if pending.lines >= PENDING_LINES:
            yield from flush()
        else:
            yield EMPTY  # lets the caller report progress
    yield from flush()


def stream_blocks(stream: IO[bytes] | Any) -> Iterator[tuple[np.ndarray, int, int, bool]]:
    """Blocks of whole lines read from a stream (decompressed, or standard input)."""
    rest = b""
    while True:
        data = stream.read(BLOCK)
        if not data:
            break
        data = rest + data if rest else data
        cut = data.rfind(b"\n") + 1
        if cut == 0:
            rest = data
            continue
        rest = data[cut:]
        yield np.frombuffer(data, dtype=np.uint8), 0, cut, data.find(b"\r", 0, cut) >= 0
    if rest:
        yield np.frombuffer(rest, dtype=np.uint8), 0, len(rest), b"\r" in rest


class FileRange:
    """Blocks of whole lines of a plain file's byte range, read into one reused buffer.

    Read, not memory-mapped: a log truncated while it is scanned (logrotate's copytruncate) must
    end the range, not kill the process. ``count`` is the bytes read so far, for progress.
    """

    def __init__(self, path: str, start: int, end: int) -> None:
        self.path, self.start, self.end = path, start, end
        self.count = 0

    def blocks(self) -> Iterator[tuple[np.ndarray, int, int, bool]]:
        buffer = bytearray(BLOCK)
        view = np.frombuffer(buffer, dtype=np.uint8)
        held = 0  # bytes of an unfinished line kept at the buffer's start
        with open(self.path, "rb", buffering=0) as file:
            file.seek(self.start)
            left = self.end - self.start
            while left > 0:
                if held == len(buffer):  # a line longer than the buffer: a bigger one
                    bigger = bytearray(2 * len(buffer))
                    bigger[:held] = buffer
                    buffer, view = bigger, np.frombuffer(bigger, dtype=np.uint8)
                with memoryview(buffer) as free:
                    got = file.readinto(free[held : held + min(left, len(buffer) - held)])
                if not got:
                    break  # the file is shorter than planned: it was truncated meanwhile
                left -= got
                self.count += got
                filled = held + got
                cut = buffer.rfind(b"\n", 0, filled) + 1 if left > 0 else filled
                if cut:
                    yield view, 0, cut, buffer.find(b"\r", 0, cut) >= 0
                buffer[: filled - cut] = buffer[cut:filled]
                held = filled - cut
        if held:
            yield view, 0, held, buffer.find(b"\r", 0, held) >= 0


@dataclass
class PassedLines:
    """Lines the prefilter passed on, not yet read: their text and their line numbers."""

    header: zeek_tsv.ZeekHeader
    file: str
    texts: list[bytes] = field(default_factory=list)
    numbers: list[np.ndarray] = field(default_factory=list)
    lines: int = 0
    nbytes: int = 0

    def add(self, text: bytes, numbers: np.ndarray) -> None:
        self.texts.append(text)
        self.numbers.append(numbers)
        self.lines += len(numbers)
        self.nbytes += len(text)

    def extend(self, other: PassedLines) -> None:
        for text, numbers in zip(other.texts, other.numbers, strict=True):
            self.add(text, numbers)

    def take(self) -> PassedLines:
        """These lines, moved to a new object; this one is left empty."""
        taken = PassedLines(self.header, self.file, self.texts, self.numbers)
        taken.lines, taken.nbytes = self.lines, self.nbytes
        self.texts, self.numbers, self.lines, self.nbytes = [], [], 0, 0
        return taken

    def read(self, stats: ReadStats) -> Iterator[pa.RecordBatch]:
        """Their canonical batches, numbered as in the file; their skips added to ``stats``."""
        if not self.lines:
            return
        text = b"".join(self.texts)
        numbers = np.concatenate(self.numbers)
        own = ReadStats(file=self.file, format=stats.format)
        for batch in zeek_tsv.read_records(
            io.BytesIO(text), self.header, self.file, own, 0, dictionary=True
        ):
            position = batch.schema.get_field_index("line")
            lines = numbers[batch.column(position).to_numpy() - 1]
            yield batch.set_column(position, "line", pa.array(lines))
        for reason, skipped in own.skipped.items():
            stats.skipped[reason] += skipped
            # Sorted: lines handed back are read after later lines of their task were.
            examples = [int(numbers[n - 1]) for n in own.examples.get(reason, [])]
            stats.examples[reason] = sorted(stats.examples.get(reason, []) + examples)[
                :MAX_EXAMPLES
            ]
