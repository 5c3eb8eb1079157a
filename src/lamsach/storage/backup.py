"""Backup and restore: one portable zip (schema revision + JSON lines per table) for both engines.

A backup is a consistent snapshot taken while the portal runs (SQLite: the sqlite3 backup API;
PostgreSQL: one REPEATABLE READ transaction). The format is the same for both engines, so a
backup of the embedded SQLite database restores into PostgreSQL and back. A restore builds the
data at the file's schema revision, upgrades it, and swaps it in all at once (PostgreSQL: one
transaction; SQLite: a scratch file copied in by the backup API), so it never leaves half a
database; a file from a newer schema revision is refused before anything changes.
"""

from __future__ import annotations

import base64
import json
import os
import sqlite3
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

from sqlalchemy import Connection, Date, DateTime, LargeBinary, MetaData, Table, Time, func, select
from sqlalchemy import text as sql_text

from lamsach import __version__
from lamsach.settings import Settings
from lamsach.storage.db import engine_for_url, sqlite_path
from lamsach.storage.migrate import head_revision, known_revisions, upgrade_connection
from lamsach.storage.models import Base

FORMAT = "lamsach-backup"
FORMAT_VERSION = 1
META = "meta.json"
SKIP_TABLES = {"alembic_version"}  # the revision goes into meta.json instead
BATCH = 1000


class BackupError(Exception):
    """A backup could not be written (the database was only read)."""


class RestoreError(BackupError):
    """The file cannot be restored; the database was not touched."""


@dataclass
class BackupInfo:
    revision: str
    dialect: str
    created_at: str
    tables: dict[str, int] = field(default_factory=dict)

    @property
    def rows(self) -> int:
        return sum(self.tables.values())


def _encode(value: Any) -> Any:
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else str(value)
    if isinstance(value, bytes | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    raise TypeError(f"cannot store {type(value).__name__} in a backup")


def _decoder(column_type: Any) -> Any:
    if isinstance(column_type, DateTime):
        return datetime.fromisoformat
    if isinstance(column_type, Date):
        return date.fromisoformat
    if isinstance(column_type, Time):
        return time.fromisoformat
    if isinstance(column_type, LargeBinary):
        return base64.b64decode
    return None


def _reflect(conn: Connection) -> list[Table]:
    """lamsach's tables as they are in this database (others sharing it are left alone)."""
    metadata = MetaData()
    metadata.reflect(conn, only=lambda name, _: name in Base.metadata.tables)
    return list(metadata.sorted_tables)


def _revision(conn: Connection) -> str:
    try:
        found = conn.execute(sql_text("SELECT version_num FROM alembic_version")).scalar()
    except Exception as exc:
        raise BackupError("the database has no lamsach schema (run `lamsach db upgrade`)") from exc
    if not found:
        raise BackupError("the database has no lamsach schema revision")
    return str(found)


def _dump(conn: Connection, archive: zipfile.ZipFile, dialect: str) -> BackupInfo:
    info = BackupInfo(
        revision=_revision(conn),
        dialect=dialect,
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    columns: dict[str, list[str]] = {}
    for table in _reflect(conn):
        names = [c.name for c in table.columns]
        columns[table.name] = names
        order = list(table.primary_key.columns) or list(table.columns)
        count = 0
        with archive.open(f"data/{table.name}.jsonl", "w") as raw:
            result = conn.execution_options(yield_per=BATCH).execute(select(table).order_by(*order))
            for row in result:
                line = json.dumps(list(row), default=_encode, ensure_ascii=False)
                raw.write(line.encode("utf-8") + b"\n")
                count += 1
        info.tables[table.name] = count
    meta = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "revision": info.revision,
        "dialect": info.dialect,
        "created_at": info.created_at,
        "lamsach_version": __version__,
        "tables": {name: {"columns": columns[name], "rows": n} for name, n in info.tables.items()},
    }
    archive.writestr(META, json.dumps(meta, ensure_ascii=False, indent=1))
    return info


def _temp_beside(path: Path, suffix: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    os.close(fd)
    return Path(name)


def backup_url(url: str, file: str | Path) -> BackupInfo:
    """Write a consistent backup of the database at ``url`` to ``file`` (replaced atomically)."""
    target = Path(file)
    partial = _temp_beside(target, ".partial")
    snapshot: Path | None = None
    try:
        source = sqlite_path(url)
        if source is not None:
            # The backup API copies a consistent image even while the portal writes.
            snapshot = _temp_beside(target, ".sqlite")
            with sqlite3.connect(source, timeout=60) as live, sqlite3.connect(snapshot) as copy:
                live.backup(copy)
            live.close()
            copy.close()
            engine = engine_for_url(f"sqlite:///{snapshot}")
        else:
            engine = engine_for_url(url)
        try:
            with engine.connect() as conn:
                if engine.dialect.name == "postgresql":
                    conn = conn.execution_options(isolation_level="REPEATABLE READ")
                    conn.execute(sql_text("SET TRANSACTION READ ONLY"))
                with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as archive:
                    info = _dump(conn, archive, engine.dialect.name)
                conn.rollback()
        finally:
            engine.dispose()
        os.replace(partial, target)
        return info
    finally:
        partial.unlink(missing_ok=True)
        if snapshot is not None:
            for extra in ("", "-wal", "-shm"):
                Path(f"{snapshot}{extra}").unlink(missing_ok=True)


def backup(settings: Settings, file: str | Path) -> BackupInfo:
    return backup_url(settings.database_url, file)


def read_meta(file: str | Path) -> dict[str, Any]:
    """The backup's description; RestoreError when it is not a lamsach backup."""
    try:
        with zipfile.ZipFile(file) as archive:
            meta = json.loads(archive.read(META))
    except (OSError, KeyError, ValueError, zipfile.BadZipFile) as exc:
        raise RestoreError(f"{file}: not a lamsach backup ({exc})") from exc
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise RestoreError(f"{file}: not a lamsach backup")
    if int(meta.get("format_version", 0)) > FORMAT_VERSION:
        raise RestoreError(
            f"{file}: backup format {meta.get('format_version')} is newer than this lamsach "
            f"({FORMAT_VERSION}); upgrade lamsach first"
        )
    return meta


def check_restorable(meta: dict[str, Any]) -> str:
    revision = str(meta.get("revision", ""))
    if revision not in known_revisions():
        raise RestoreError(
            f"the backup is from schema revision {revision!r}, which this lamsach does not know "
            f"(its newest is {head_revision()!r}): it was made by a newer lamsach; "
            "upgrade lamsach before restoring it"
        )
    return revision


def _rows(archive: zipfile.ZipFile, name: str) -> Iterator[list[Any]]:
    with archive.open(f"data/{name}.jsonl") as raw:
        stream: IO[bytes] = raw
        for line in stream:
            if line.strip():
                yield json.loads(line)


def _parents_first(table: Table, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Order rows of a self-referencing table (units) so every parent precedes its children."""
    self_refs = [
        (fk.parent.name, fk.column.name)
        for fk in table.foreign_keys
        if fk.column.table.name == table.name
    ]
    if not self_refs:
        return rows
    child_col, parent_col = self_refs[0]
    by_key = {row[parent_col]: row for row in rows}
    done: set[Any] = set()
    ordered: list[dict[str, Any]] = []
    for row in rows:
        chain = []
        current: dict[str, Any] | None = row
        while current is not None and current[parent_col] not in done:
            chain.append(current)
            done.add(current[parent_col])
            parent = current.get(child_col)
            current = by_key.get(parent) if parent is not None else None
        ordered.extend(reversed(chain))
    return ordered


def _load(conn: Connection, archive: zipfile.ZipFile, meta: dict[str, Any]) -> dict[str, int]:
    counts: dict[str, int] = {}
    described = meta.get("tables", {})
    for table in _reflect(conn):
        if table.name not in described:
            raise RestoreError(f"the backup has no data for table {table.name}")
        names = described[table.name]["columns"]
        unknown = [n for n in names if n not in table.columns]
        if unknown:
            raise RestoreError(f"table {table.name}: columns {unknown} are not in the schema")
        decoders = {n: _decoder(table.columns[n].type) for n in names}
        rows = []
        for values in _rows(archive, table.name):
            row = dict(zip(names, values, strict=True))
            for name, decode in decoders.items():
                if decode is not None and row[name] is not None:
                    row[name] = decode(row[name])
            rows.append(row)
        if len(rows) != int(described[table.name]["rows"]):
            raise RestoreError(f"table {table.name}: the backup is truncated")
        rows = _parents_first(table, rows)
        for start in range(0, len(rows), BATCH):
            conn.execute(table.insert(), rows[start : start + BATCH])
        counts[table.name] = len(rows)
        if conn.dialect.name == "postgresql" and "id" in table.columns and rows:
            top = conn.execute(select(func.max(table.columns["id"]))).scalar()
            conn.execute(
                sql_text("SELECT setval(pg_get_serial_sequence(:t, 'id'), :v)"),
                {"t": table.name, "v": top},
            )
    return counts


def _drop_lamsach_tables(conn: Connection, meta: dict[str, Any]) -> None:
    """Drop lamsach's tables (today's and the backup's); anything else in the database stays."""
    names = set(Base.metadata.tables) | set(meta.get("tables", {})) | SKIP_TABLES
    metadata = MetaData()
    metadata.reflect(conn, only=lambda name, _: name in names)
    metadata.drop_all(conn)


def _rebuild(conn: Connection, archive: zipfile.ZipFile, meta: dict[str, Any]) -> dict[str, int]:
    """On an empty database: schema at the file's revision, the data, then upgrade to head."""
    upgrade_connection(conn, str(meta["revision"]))
    counts = _load(conn, archive, meta)
    upgrade_connection(conn, "head")
    return counts


def restore_url(url: str, file: str | Path) -> BackupInfo:
    """Replace the database at ``url`` with the backup ``file``, all or nothing."""
    meta = read_meta(file)
    check_restorable(meta)
    info = BackupInfo(
        revision=str(meta["revision"]),
        dialect=str(meta.get("dialect", "")),
        created_at=str(meta.get("created_at", "")),
    )
    target = sqlite_path(url)
    with zipfile.ZipFile(file) as archive:
        if target is None:
            engine = engine_for_url(url)
            try:
                # PostgreSQL DDL is transactional: any failure rolls everything back.
                with engine.begin() as conn:
                    _drop_lamsach_tables(conn, meta)
                    info.tables = _rebuild(conn, archive, meta)
            except RestoreError:
                raise
            except Exception as exc:
                raise RestoreError(f"restore failed, database unchanged: {exc}") from exc
            finally:
                engine.dispose()
            return info
        scratch = _temp_beside(target, ".restore")
        scratch.unlink()
        try:
            engine = engine_for_url(f"sqlite:///{scratch}")
            try:
                with engine.begin() as conn:
                    info.tables = _rebuild(conn, archive, meta)
            except RestoreError:
                raise
            except Exception as exc:
                raise RestoreError(f"restore failed, database unchanged: {exc}") from exc
            finally:
                engine.dispose()
            # One backup step copies every page inside one write transaction on the target.
            with sqlite3.connect(scratch) as built, sqlite3.connect(target, timeout=60) as live:
                built.backup(live)
            built.close()
            live.close()
        finally:
            for extra in ("", "-wal", "-shm", "-journal"):
                Path(f"{scratch}{extra}").unlink(missing_ok=True)
    return info


def restore(settings: Settings, file: str | Path) -> BackupInfo:
    return restore_url(settings.database_url, file)
