"""Open log files (plain, gzip, bzip2, zstd, folders, standard input) and read them as batches."""

from __future__ import annotations

import bz2
import gzip
import io
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

STDIN = "-"
SNIFF_LINES = 20


class LogReadError(Exception):
    """A log file that cannot be read at all (missing, unreadable, unknown format)."""


def expand_paths(paths: Iterable[str | Path]) -> list[str]:
    """Files named, and every file under folders named (sorted), with ``-`` for standard input."""
    out: list[str] = []
    for raw in paths:
        if str(raw) == STDIN:
            out.append(STDIN)
            continue
        path = Path(raw)
        if path.is_dir():
            out.extend(str(p) for p in sorted(path.rglob("*")) if p.is_file())
        elif path.is_file():
            out.append(str(path))
        else:
            raise LogReadError(f"{path}: no such file or folder")
    return out


def open_binary(path: str) -> BinaryIO:
    """Open a log for reading bytes, decompressing by magic number rather than by name."""
    if path == STDIN:
        raw: BinaryIO = sys.stdin.buffer
        peek = raw.peek(4)[:4] if hasattr(raw, "peek") else b""
    else:
        raw = open(path, "rb")  # noqa: SIM115 - the caller closes the returned stream
        peek = raw.read(4)
        raw.seek(0)
    if peek[:2] == b"\x1f\x8b":
        return gzip.GzipFile(fileobj=raw)  # type: ignore[return-value]
    if peek[:3] == b"BZh":
        return bz2.BZ2File(raw)  # type: ignore[return-value]
    if peek[:4] == b"\x28\xb5\x2f\xfd":
        return zstandard.ZstdDecompressor().stream_reader(raw)
    return raw


def open_text(path: str) -> io.TextIOWrapper:
    # Logs are UTF-8 in practice but not always: never fail a scan on a stray byte.
    binary = io.BufferedReader(open_binary(path))  # type: ignore[type-var]
    return io.TextIOWrapper(binary, encoding="utf-8", errors="replace")


def read_head(stream: io.TextIOWrapper, limit: int = SNIFF_LINES) -> list[str]:
    head: list[str] = []
    while len(head) < limit:
        line = stream.readline()
        if not line:
            break
        if line.strip():
            head.append(line.rstrip("\r\n"))
    return head


def detect_format(path: str) -> LogFormat:
    """The format of a file, from its first non-empty lines."""
    if path == STDIN:
        raise LogReadError("standard input needs --format")
    with open_binary(path) as raw:
        fmt = sniff_binary(raw.read(64))
    if fmt is not None:
        return fmt
    with open_text(path) as stream:
        head = read_head(stream)
    fmt = sniff_format(head)
    if fmt is None:
        raise LogReadError(f"{path}: unrecognised log format (use --format)")
    return fmt


def read_log(
    path: str,
    fmt: str | None = None,
    batch_size: int = 65_536,
    stats: ReadStats | None = None,
    options: Mapping[str, str] | None = None,
) -> Iterator[pa.RecordBatch]:
    """Canonical batches of one log file; skipped lines are counted in ``stats``."""
    log_format = get_format(fmt) if fmt else detect_format(path)
    stats = stats if stats is not None else ReadStats(file=path)
    stats.format = log_format.name
    ctx = ReadContext(file=path, stats=stats, batch_size=batch_size, options=options or {})
    stream = open_binary(path) if log_format.binary else open_text(path)
    with stream:
        for batch in log_format.read(stream, ctx):
            stats.records += batch.num_rows
            yield batch
