"""The .lsidx file: a magic line, a JSON header, named Arrow IPC streams (zstd-compressed) and
named raw blobs (derived arrays stored for speed, such as the prefilter's)."""

from __future__ import annotations

import hashlib
import json
import os
import struct
import tempfile
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import pyarrow as pa

MAGIC = b"LSIDX\x00v1"
FORMAT_VERSION = 2  # 2: raw blobs besides the Arrow streams
READABLE_VERSIONS = (1, 2)


class IndexFileError(ValueError):
    """A file that is not a readable lamsach index."""


def write_index_file(
    path: str | Path,
    header: dict[str, Any],
    tables: dict[str, pa.Table],
    raw: dict[str, bytes] | None = None,
) -> None:
    """Write atomically: a crash or full disk never leaves a half-written index in place."""
    path = Path(path)
    blobs: list[tuple[str, str, pa.Buffer]] = []
    options = pa.ipc.IpcWriteOptions(compression="zstd")
    for name, table in tables.items():
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, table.schema, options=options) as writer:
            writer.write_table(table)
        blobs.append((name, "arrow", sink.getvalue()))
    for name, data in (raw or {}).items():
        blobs.append((name, "raw", pa.py_buffer(data)))
    offset = 0
    entries = []
    for name, kind, blob in blobs:
        entry = {"name": name, "kind": kind, "offset": offset, "length": blob.size}
        entries.append(entry | {"blake2b": _checksum(memoryview(blob))})
        offset += blob.size
    head = json.dumps({**header, "format_version": FORMAT_VERSION, "blobs": entries}).encode()
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent or ".")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(MAGIC)
            out.write(struct.pack("<Q", len(head)))
            out.write(head)
            for _, _, blob in blobs:
                out.write(memoryview(blob))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_index_file(path: str | Path) -> tuple[dict[str, Any], dict[str, pa.Table]]:
    """The header and the tables (Arrow streams) of an index file."""
    header, tables, _ = read_index_blobs(path)
    return header, tables


def read_index_blobs(
    path: str | Path,
) -> tuple[dict[str, Any], dict[str, pa.Table], dict[str, bytes]]:
    """The header, the tables (Arrow streams) and the raw blobs of an index file."""
    path = Path(path)
    try:
        with path.open("rb") as f:
            data = f.read()
    except OSError as exc:
        raise IndexFileError(f"cannot read index {path}: {exc.strerror or exc}") from None
    header, base = _header(path, data)
    body = pa.py_buffer(data)
    tables = {}
    raw = {}
    try:
        for entry in header["blobs"]:
            at, length = base + entry["offset"], entry["length"]
            if at + length > len(data):
                raise IndexFileError(f"{path}: index file is truncated")
            whole = _whole(entry, memoryview(data)[at : at + length])
            if entry.get("kind", "arrow") == "arrow":
                if not whole:
                    raise IndexFileError(f"{path}: damaged index ({entry['name']}: checksum)")
                tables[entry["name"]] = pa.ipc.open_stream(body.slice(at, length)).read_all()
            elif whole:  # a damaged blob of derived arrays is left out: they are made again
                raw[entry["name"]] = data[at : at + length]
    except (pa.ArrowInvalid, KeyError, TypeError) as exc:
        raise IndexFileError(f"{path}: damaged index ({exc})") from None
    return header, tables, raw


def check_index_file(path: str | Path) -> None:
    """Raise IndexFileError unless the file is an index of a readable format, whole (every blob
    its header lists is within it); cheap: only the header is read."""
    path = Path(path)
    try:
        with path.open("rb") as f:
            head = _read_head(f)
            size = os.fstat(f.fileno()).st_size
    except OSError as exc:
        raise IndexFileError(f"cannot read index {path}: {exc.strerror or exc}") from None
    header, base = _header(path, head)
    try:
        end = max((base + int(e["offset"]) + int(e["length"]) for e in header["blobs"]), default=0)
    except (KeyError, TypeError, ValueError) as exc:
        raise IndexFileError(f"{path}: damaged index ({exc})") from None
    if end > size:
        raise IndexFileError(f"{path}: index file is truncated")


def read_raw_blob(path: str | Path, name: str) -> tuple[dict[str, Any], bytes] | None:
    """The header and one raw blob of an index file, reading only those; None if it has none."""
    path = Path(path)
    try:
        with path.open("rb") as f:
            header, base = _header(path, _read_head(f))
            entry = next((e for e in header.get("blobs", []) if e.get("name") == name), None)
            if entry is None or entry.get("kind") != "raw":
                return None
            f.seek(base + int(entry["offset"]))
            data = f.read(int(entry["length"]))
    except OSError as exc:
        raise IndexFileError(f"cannot read index {path}: {exc.strerror or exc}") from None
    except (KeyError, TypeError, ValueError) as exc:
        raise IndexFileError(f"{path}: damaged index ({exc})") from None
    if len(data) != entry["length"]:
        raise IndexFileError(f"{path}: index file is truncated")
    return (header, data) if _whole(entry, memoryview(data)) else None


def _read_head(f: BinaryIO) -> bytes:
    """The magic line, the header's length and the header (at most 64 MiB of it) of a file."""
    head = f.read(len(MAGIC) + 8)
    if len(head) == len(MAGIC) + 8 and head.startswith(MAGIC):
        (head_len,) = struct.unpack_from("<Q", head, len(MAGIC))
        head += f.read(min(head_len, 1 << 26))
    return head


def _header(path: Path, data: bytes) -> tuple[dict[str, Any], int]:
    """The header at the start of ``data`` and where the blobs begin."""
    if not data.startswith(MAGIC) or len(data) < len(MAGIC) + 8:
        raise IndexFileError(f"{path} is not a lamsach index (.lsidx) file")
    (head_len,) = struct.unpack_from("<Q", data, len(MAGIC))
    start = len(MAGIC) + 8
    try:
        header = json.loads(data[start : start + head_len])
    except ValueError:
        raise IndexFileError(f"{path}: damaged index header") from None
    if not isinstance(header, dict) or header.get("format_version") not in READABLE_VERSIONS:
        version = header.get("format_version") if isinstance(header, dict) else None
        raise IndexFileError(
            f"{path}: index format {version} is not supported (this lamsach reads formats "
            f"{', '.join(map(str, READABLE_VERSIONS))}); rebuild it with `lamsach ioc import`"
        )
    return header, start + head_len


def _checksum(data: memoryview) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def _whole(entry: dict[str, Any], data: memoryview) -> bool:
    """Whether a blob has the checksum written with it (files of format 1 have none)."""
    return "blake2b" not in entry or entry["blake2b"] == _checksum(data)


def digest(meta: dict[str, Any], data: bytes) -> str:
    """The digest a stored blob of derived arrays is checked with (its description and bytes)."""
    described = json.dumps(meta, sort_keys=True).encode()
    return hashlib.blake2b(described + data, digest_size=16).hexdigest()


def pack_arrays(meta: dict[str, Any], arrays: list[np.ndarray]) -> tuple[dict[str, Any], bytes]:
    """Arrays as one blob and their description (``meta`` with their types, sizes and digest)."""
    data = b"".join(np.ascontiguousarray(a).tobytes() for a in arrays)
    described = meta | {"arrays": [[a.dtype.str, len(a)] for a in arrays]}
    return described | {"blake2b": digest(described, data)}, data


def unpack_arrays(meta: dict[str, Any], data: bytes) -> list[np.ndarray] | None:
    """The arrays :func:`pack_arrays` packed; None when they do not match their digest."""
    try:
        described = {k: v for k, v in meta.items() if k != "blake2b"}
        if meta["blake2b"] != digest(described, data):
            return None
        arrays, at = [], 0
        for dtype, count in meta["arrays"]:
            kind = np.dtype(dtype)
            arrays.append(np.frombuffer(data, kind, int(count), at).copy())
            at += kind.itemsize * int(count)
        return arrays if at == len(data) else None
    except (KeyError, TypeError, ValueError):
        return None
