"""The .lsidx file: a magic line, a JSON header and named Arrow IPC streams (zstd-compressed)."""

from __future__ import annotations

import json
import os
import struct
import tempfile
from pathlib import Path
from typing import Any

import pyarrow as pa

MAGIC = b"LSIDX\x00v1"
FORMAT_VERSION = 1


class IndexFileError(ValueError):
    """A file that is not a readable lamsach index."""


def write_index_file(path: str | Path, header: dict[str, Any], tables: dict[str, pa.Table]) -> None:
    """Write atomically: a crash or full disk never leaves a half-written index in place."""
    path = Path(path)
    blobs: list[tuple[str, pa.Buffer]] = []
    options = pa.ipc.IpcWriteOptions(compression="zstd")
    for name, table in tables.items():
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, table.schema, options=options) as writer:
            writer.write_table(table)
        blobs.append((name, sink.getvalue()))
    offset = 0
    entries = []
    for name, blob in blobs:
        entries.append({"name": name, "offset": offset, "length": blob.size})
        offset += blob.size
    head = json.dumps({**header, "format_version": FORMAT_VERSION, "blobs": entries}).encode()
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent or ".")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(MAGIC)
            out.write(struct.pack("<Q", len(head)))
            out.write(head)
            for _, blob in blobs:
                out.write(memoryview(blob))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_index_file(path: str | Path) -> tuple[dict[str, Any], dict[str, pa.Table]]:
    """The header and the tables of an index file."""
    path = Path(path)
    try:
        with path.open("rb") as f:
            data = f.read()
    except OSError as exc:
        raise IndexFileError(f"cannot read index {path}: {exc.strerror or exc}") from None
    if not data.startswith(MAGIC) or len(data) < len(MAGIC) + 8:
        raise IndexFileError(f"{path} is not a lamsach index (.lsidx) file")
    (head_len,) = struct.unpack_from("<Q", data, len(MAGIC))
    start = len(MAGIC) + 8
    try:
        header = json.loads(data[start : start + head_len])
    except ValueError:
        raise IndexFileError(f"{path}: damaged index header") from None
    if header.get("format_version") != FORMAT_VERSION:
        raise IndexFileError(
            f"{path}: index format {header.get('format_version')} is not supported "
            f"(this lamsach reads format {FORMAT_VERSION}); rebuild it with `lamsach ioc import`"
        )
    body = pa.py_buffer(data)
    base = start + head_len
    tables = {}
    try:
        for entry in header["blobs"]:
            if base + entry["offset"] + entry["length"] > len(data):
                raise IndexFileError(f"{path}: index file is truncated")
            blob = body.slice(base + entry["offset"], entry["length"])
            tables[entry["name"]] = pa.ipc.open_stream(blob).read_all()
    except (pa.ArrowInvalid, KeyError, TypeError) as exc:
        raise IndexFileError(f"{path}: damaged index ({exc})") from None
    return header, tables
