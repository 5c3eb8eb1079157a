"""Open log files (plain, gzip, bzip2, zstd, folders, standard input) and read them as batches.

Memory stays bounded whatever the file size: everything is streamed, and a big plain file can be
cut into byte ranges on line boundaries so that several processes share it.
"""

from __future__ import annotations

import bz2
import codecs
import gzip
import io
import itertools
import os
import sys
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import BinaryIO

import pyarrow as pa
import zstandard

from lamsach.logs.formats import (
    LogFormat,
    ReadContext,
    ReadStats,
    get_format,
    sniff_binary,
    sniff_format,
)
from lamsach.logs.formats._rows import check_options as check_options  # the readers' own check

STDIN = "-"
SNIFF_LINES = 20
SNIFF_BYTES = 256 << 10
MAGIC_GZIP = b"\x1f\x8b"
MAGIC_BZIP2 = b"BZh"
MAGIC_ZSTD = b"\x28\xb5\x2f\xfd"
READ_BUFFER = 1 << 20


class LogReadError(Exception):
    """A log file that cannot be read at all (missing, unreadable, unknown format)."""


def expand_paths(paths: Iterable[str | Path]) -> list[str]:
    """Files named, and every file under folders named (sorted), with ``-`` for standard input.

    Hidden files and folders (``.something``) found inside a folder are left out.
    """
    out: list[str] = []
    for raw in paths:
        if str(raw) == STDIN:
            out.append(STDIN)
            continue
        path = Path(raw)
        if path.is_dir():
            for found in sorted(path.rglob("*")):
                hidden = any(part.startswith(".") for part in found.relative_to(path).parts)
                if found.is_file() and not hidden:
                    out.append(str(found))
        elif path.is_file():
            out.append(str(path))
        else:
            raise LogReadError(f"{path}: no such file or folder")
    return out


class CountingReader(io.RawIOBase):
    """A raw stream that counts the bytes taken from it (the compressed bytes, for progress)."""

    def __init__(self, raw: BinaryIO) -> None:
        self.raw = raw
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self.raw.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        self.count += n
        return n

    def close(self) -> None:
        self.raw.close()
        super().close()


class GuardedReader(io.RawIOBase):
    """A decompressed stream whose damage reads as its end, the error kept in ``error``.

    Parsers read ahead; without this a truncated archive would lose every record decoded
    before the damage. The caller raises ``error`` once the records before it are used.
    """

    def __init__(self, raw: BinaryIO) -> None:
        self.raw = raw
        self.error: Exception | None = None

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        if self.error is not None:
            return 0
        try:
            data = self.raw.read(len(buffer))
        except (EOFError, OSError, zstandard.ZstdError) as exc:
            self.error = exc
            return 0
        n = len(data)
        buffer[:n] = data
        return n

    def close(self) -> None:
        self.raw.close()
        super().close()


def check_damage(stream: object) -> None:
    """Raise the error a ``GuardedReader`` under this stream kept, if any."""
    raw = getattr(stream, "raw", None)
    while raw is not None:
        if isinstance(raw, GuardedReader) and raw.error is not None:
            raise raw.error
        raw = getattr(raw, "raw", None)


class RangeReader(io.RawIOBase):
    """The bytes ``[start, end)`` of a file, as a raw stream; ``lines`` counts its lines.

    With ``count_lines=False`` the lines are not counted, for a caller that counts them itself.
    """

    def __init__(self, path: str, start: int, end: int, count_lines: bool = True) -> None:
        self.file = open(path, "rb", buffering=0)  # noqa: SIM115 - closed by close()
        self.file.seek(start)
        self.remaining = end - start
        self.count = 0
        self.newlines = 0
        self.last = b"\n"
        self.count_lines = count_lines

    @property
    def lines(self) -> int:
        """Lines read so far (a last line without newline counts)."""
        return self.newlines + (0 if self.last == b"\n" else 1)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        if self.remaining <= 0:
            return 0
        view = memoryview(buffer)[: min(len(buffer), self.remaining)]
        n = self.file.readinto(view) or 0
        self._took(view[:n])
        return n

    def read(self, size: int = -1) -> bytes:
        # One copy, straight from the file (RawIOBase.read would copy through a bytearray).
        if self.remaining <= 0:
            return b""
        data = self.file.read(self.remaining if size < 0 else min(size, self.remaining)) or b""
        self._took(data)
        return data

    def _took(self, data: bytes | memoryview) -> None:
        n = len(data)
        self.remaining -= n
        self.count += n
        if n and self.count_lines:
            raw = bytes(data) if isinstance(data, memoryview) else data
            self.newlines += raw.count(b"\n")
            self.last = raw[-1:]

    def close(self) -> None:
        self.file.close()
        super().close()


def compression_of(head: bytes) -> str:
    """``gzip``, ``bzip2``, ``zstd`` or ``""`` from a file's first bytes."""
    if head.startswith(MAGIC_GZIP):
        return "gzip"
    if head.startswith(MAGIC_BZIP2):
        return "bzip2"
    if head.startswith(MAGIC_ZSTD):
        return "zstd"
    return ""


def is_compressed(path: str) -> bool:
    if path == STDIN:
        return True  # not seekable either: read as one stream
    with open(path, "rb") as f:
        return bool(compression_of(f.read(4)))


def _decompress(raw: BinaryIO, kind: str) -> BinaryIO:
    if kind == "gzip":
        return gzip.GzipFile(fileobj=raw)  # type: ignore[return-value]
    if kind == "bzip2":
        return bz2.BZ2File(raw)  # type: ignore[return-value]
    if kind == "zstd":
        reader = zstandard.ZstdDecompressor().stream_reader(raw, read_size=READ_BUFFER)
        return reader
    return raw


def open_binary(path: str, counter: list[CountingReader] | None = None) -> io.BufferedReader:
    """Open a log for reading bytes, decompressing by magic number rather than by name.

    When ``counter`` is given, the ``CountingReader`` over the file itself is appended to it,
    so the caller can follow how many (compressed) bytes were consumed.
    """
    if path == STDIN:
        source: BinaryIO = sys.stdin.buffer
        if not hasattr(source, "peek"):
            source = io.BufferedReader(source)  # type: ignore[type-var]
        head = source.peek(4)[:4]
    else:
        source = open(path, "rb", buffering=0)  # noqa: SIM115 - the caller closes the result
        head = source.read(4)
        source.seek(0)
    counting = CountingReader(source)
    if counter is not None:
        counter.append(counting)
    kind = compression_of(head)
    raw: BinaryIO = counting  # type: ignore[assignment]
    if kind:
        raw = _decompress(io.BufferedReader(counting, READ_BUFFER), kind)
        guarded = GuardedReader(raw)
        return io.BufferedReader(guarded, READ_BUFFER)
    return io.BufferedReader(raw, READ_BUFFER)  # type: ignore[arg-type]


def text_encoding(head: bytes) -> str:
    """The encoding to read a log with, from its first bytes.

    Logs are UTF-8 in practice, but Windows tools write byte-order marks, and PowerShell 5.1's
    ``> file`` writes UTF-16: the mark says which, and is not handed to the formats.
    """
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"
    if head.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    return "utf-8"


def open_text(path: str, counter: list[CountingReader] | None = None) -> io.TextIOWrapper:
    binary = open_binary(path, counter)
    # Never fail a scan on a stray byte: undecodable bytes become U+FFFD.
    encoding = text_encoding(binary.peek(4)[:4])
    return io.TextIOWrapper(binary, encoding=encoding, errors="replace")


def read_head(stream: io.TextIOWrapper, limit: int = SNIFF_LINES) -> list[str]:
    head: list[str] = []
    while len(head) < limit:
        line = stream.readline()
        if not line:
            break
        if line.strip():
            head.append(line.rstrip("\r\n"))
    return head


def _head_bytes(path: str, limit: int = SNIFF_BYTES) -> bytes:
    """The first decompressed bytes of a file; a damaged tail does not stop sniffing."""
    chunks: list[bytes] = []
    size = 0
    with open_binary(path) as raw:
        try:
            while size < limit:
                chunk = raw.read1(8192)
                if not chunk:
                    break
                chunks.append(chunk)
                size += len(chunk)
        except (EOFError, OSError, zstandard.ZstdError):
            if not chunks:
                raise
    return b"".join(chunks)


def detect_format(path: str) -> LogFormat:
    """The format of a file, from its first non-empty lines."""
    if path == STDIN:
        raise LogReadError("standard input needs --format")
    try:
        data = _head_bytes(path)
    except (OSError, EOFError, zstandard.ZstdError) as exc:
        raise LogReadError(f"{path}: cannot read ({exc})") from exc
    fmt = sniff_binary(data[:64])
    if fmt is not None:
        return fmt
    encoding = text_encoding(data[:4])
    text = io.TextIOWrapper(io.BytesIO(data), encoding=encoding, errors="replace")
    head = read_head(text)
    if len(data) >= SNIFF_BYTES and len(head) < SNIFF_LINES and head:
        head.pop()  # the last line may be cut at the byte limit
    fmt = sniff_format(head)
    if fmt is None:
        raise LogReadError(f"{path}: unrecognised log format (use --format)")
    return fmt


def line_ranges(
    path: str, start: int, parts: int, min_size: int = 32 << 20
) -> list[tuple[int, int]]:
    """Cut ``[start, size)`` of a plain file into up to ``parts`` ranges ending on newlines.

    Each range holds whole lines, none is smaller than ``min_size`` (except a lone one), and
    together they cover every byte once. A file too small for ``parts`` ranges gets the largest
    count that divides ``parts``: asked for a multiple of the number of workers, each worker then
    has an equal share (7 ranges on 2 workers would keep one busy for 4 while the other did 3).
    """
    size = os.path.getsize(path)
    length = size - start
    fits = max(1, min(parts, length // max(min_size, 1)))
    parts = max(count for count in range(1, fits + 1) if parts % count == 0)
    bounds = [start]
    with open(path, "rb") as f:
        for i in range(1, parts):
            nominal = start + length * i // parts
            if nominal <= bounds[-1]:
                continue
            cut = _line_start_after(f, nominal - 1)
            # Readers drop a byte-order mark at the start of what they are given: a line that
            # begins with one (files joined by cat) must not start a range, or it would be read
            # differently from a pass over the whole file.
            while 0 <= cut < size and _starts_with_bom(f, cut):
                cut = _line_start_after(f, cut)
            if cut < 0 or cut >= size:
                break
            if cut > bounds[-1]:
                bounds.append(cut)
    bounds.append(size)
    return [(a, b) for a, b in itertools.pairwise(bounds) if b > a]


def _line_start_after(f: BinaryIO, pos: int) -> int:
    """Where the first line that starts after ``pos`` begins; -1 if none does."""
    f.seek(pos)
    while True:
        chunk = f.read(65_536)
        if not chunk:
            return -1
        found = chunk.find(b"\n")
        if found >= 0:
            return pos + found + 1
        pos += len(chunk)


def _starts_with_bom(f: BinaryIO, pos: int) -> bool:
    f.seek(pos)
    return f.read(3) == codecs.BOM_UTF8


def read_log(
    path: str,
    fmt: str | None = None,
    batch_size: int = 65_536,
    stats: ReadStats | None = None,
    options: Mapping[str, str] | None = None,
) -> Iterator[pa.RecordBatch]:
    """Canonical batches of one log file; skipped lines are counted in ``stats``.

    ``stats.bytes_read`` follows the bytes taken from the file (compressed bytes for a
    compressed file), batch by batch, for a progress bar.
    """
    log_format = get_format(fmt) if fmt else detect_format(path)
    stats = stats if stats is not None else ReadStats(file=path)
    stats.format = log_format.name
    ctx = ReadContext(file=path, stats=stats, batch_size=batch_size, options=options or {})
    counter: list[CountingReader] = []
    stream = open_binary(path, counter) if log_format.binary else open_text(path, counter)
    with stream:
        for batch in log_format.read(stream, ctx):
            stats.records += batch.num_rows
            stats.bytes_read = counter[0].count
            yield batch
        stats.bytes_read = counter[0].count
        check_damage(getattr(stream, "buffer", stream))
