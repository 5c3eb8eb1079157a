"""Backups are consistent while a writer runs; restores are all or nothing, refuse newer files."""

from __future__ import annotations

import json
import threading
import time
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lamsach.campaign.demo import create_demo
from lamsach.storage.backup import RestoreError, backup_url, read_meta, restore_url
from lamsach.storage.db import engine_for_url, make_session_factory
from lamsach.storage.migrate import head_revision, upgrade_url
from lamsach.storage.models import AuditEntry, Unit


def _data(file: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(file) as archive:
        return {n: archive.read(n) for n in archive.namelist() if n.startswith("data/")}


def _counts(url: str) -> tuple[int, int, list[str]]:
    engine = engine_for_url(url)
    try:
        with Session(engine) as session:
            units = session.scalar(select(func.count()).select_from(Unit)) or 0
            entries = session.scalar(select(func.count()).select_from(AuditEntry)) or 0
            names = list(session.scalars(select(Unit.name).order_by(Unit.id)))
            return units, entries, names
    finally:
        engine.dispose()


def _writer(url: str, stop: threading.Event, written: list[int]) -> None:
    """Adds a unit and its audit entry in one transaction, again and again."""
    engine = engine_for_url(url)
    factory = make_session_factory(engine)
    try:
        number = 0
        while not stop.is_set():
            number += 1
            with factory.begin() as session:
                unit = Unit(
                    code=f"W{number:05d}", name=f"Đơn vị {number}", kind="ward", networks=[]
                )
                session.add(unit)
                session.flush()
                unit.path = f"/{unit.id}/"
                session.add(AuditEntry(action="unit.create", target=unit.code, detail={}))
            written.append(number)
    finally:
        engine.dispose()


def test_backup_while_writing_then_restore_gives_identical_data(
    database_url: str, tmp_path
) -> None:
    upgrade_url(database_url)
    stop, written = threading.Event(), []
    thread = threading.Thread(target=_writer, args=(database_url, stop, written))
    thread.start()
    try:
        while len(written) < 30:
            time.sleep(0.01)
        first = tmp_path / "during.zip"
        info = backup_url(database_url, first)
        while len(written) < info.tables["units"] + 20:
            time.sleep(0.01)
    finally:
        stop.set()
        thread.join()
    saved = info.tables["units"]
    assert 30 <= saved < len(written)
    # Consistent: every unit in the backup came with its audit entry, and nothing half-written.
    assert info.tables["audit_log"] == saved
    restore_url(database_url, first)
    units, entries, names = _counts(database_url)
    assert units == entries == saved
    assert names == [f"Đơn vị {n}" for n in range(1, saved + 1)]
    second = tmp_path / "after.zip"
    backup_url(database_url, second)
    assert _data(first) == _data(second)
    # The database keeps working after a restore (ids continue past the restored ones).
    engine = engine_for_url(database_url)
    with make_session_factory(engine).begin() as session:
        unit = Unit(code="AFTER", name="Sau khôi phục", kind="ward", path="/", networks=[])
        session.add(unit)
        session.flush()
        assert unit.id == saved + 1
    engine.dispose()


def test_demo_moves_between_engines(database_url: str, tmp_path) -> None:
    source = f"sqlite:///{tmp_path / 'source.db'}"
    upgrade_url(source)
    engine = engine_for_url(source)
    with make_session_factory(engine).begin() as session:
        create_demo(session)
    engine.dispose()
    file = tmp_path / "demo.zip"
    info = backup_url(source, file)
    assert info.revision == head_revision() and info.tables["reports"] > 30
    restore_url(database_url, file)
    again = tmp_path / "again.zip"
    backup_url(database_url, again)
    assert _data(file) == _data(again)


def _rewrite(file: Path, target: Path, change) -> None:
    with zipfile.ZipFile(file) as src, zipfile.ZipFile(target, "w") as dst:
        for name in src.namelist():
            dst.writestr(name, change(name, src.read(name)))


def test_restore_refuses_newer_revision_and_keeps_data(database_url: str, tmp_path) -> None:
    upgrade_url(database_url)
    engine = engine_for_url(database_url)
    with make_session_factory(engine).begin() as session:
        session.add(Unit(code="KEEP", name="Giữ nguyên", kind="city", path="/1/", networks=[]))
    engine.dispose()
    file = tmp_path / "b.zip"
    backup_url(database_url, file)
    newer = tmp_path / "newer.zip"

    def bump(name: str, data: bytes) -> bytes:
        if name != "meta.json":
            return data
        meta = json.loads(data)
        meta["revision"] = "9999_from_the_future"
        return json.dumps(meta).encode()

    _rewrite(file, newer, bump)
    with pytest.raises(RestoreError, match="newer lamsach"):
        restore_url(database_url, newer)
    assert _counts(database_url)[2] == ["Giữ nguyên"]
    with pytest.raises(RestoreError, match="not a lamsach backup"):
        restore_url(database_url, tmp_path / "missing.zip")
    (tmp_path / "junk.zip").write_bytes(b"not a zip")
    with pytest.raises(RestoreError):
        restore_url(database_url, tmp_path / "junk.zip")
    assert read_meta(file)["revision"] == head_revision()


def test_failed_restore_leaves_database_untouched(database_url: str, tmp_path) -> None:
    upgrade_url(database_url)
    engine = engine_for_url(database_url)
    with make_session_factory(engine).begin() as session:
        for n in range(3):
            session.add(AuditEntry(action="login", username=f"u{n}", detail={}))
        session.add(Unit(code="OLD", name="Cũ", kind="city", path="/1/", networks=[]))
    engine.dispose()
    file = tmp_path / "b.zip"
    backup_url(database_url, file)
    # The same backup, but a later table holds a row that breaks a foreign key mid-restore.
    engine = engine_for_url(database_url)
    with make_session_factory(engine).begin() as session:
        session.add(Unit(code="NEW", name="Mới", kind="city", path="/2/", networks=[]))
    engine.dispose()
    broken = tmp_path / "broken.zip"

    def corrupt(name: str, data: bytes) -> bytes:
        if name == "data/units.jsonl":
            row = json.loads(data.splitlines()[0])
            row[4] = 999  # parent_id: no such unit
            return json.dumps(row).encode() + b"\n"
        return data

    _rewrite(file, broken, corrupt)
    with pytest.raises(RestoreError, match="unchanged"):
        restore_url(database_url, broken)
    units, entries, names = _counts(database_url)
    assert (units, entries, names) == (2, 3, ["Cũ", "Mới"])


def test_backup_of_a_database_without_schema_is_refused(database_url: str, tmp_path) -> None:
    from lamsach.storage.backup import BackupError

    with pytest.raises(BackupError, match="no lamsach schema"):
        backup_url(database_url, tmp_path / "none.zip")
    assert not (tmp_path / "none.zip").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".none")] == []


@pytest.mark.postgres
def test_postgres_restore_keeps_other_tables(tmp_path) -> None:
    """A PostgreSQL database may be shared: a restore drops only lamsach's own tables."""
    import uuid

    import psycopg

    admin = "postgresql://postgres@127.0.0.1:5432/postgres"
    name = f"lamsach_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    try:
        upgrade_url(url)
        file = tmp_path / "b.zip"
        backup_url(url, file)
        engine = engine_for_url(url)
        with engine.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE other_app (x int)")
            conn.exec_driver_sql("INSERT INTO other_app VALUES (42)")
        restore_url(url, file)
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT x FROM other_app").scalar() == 42
        engine.dispose()
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
