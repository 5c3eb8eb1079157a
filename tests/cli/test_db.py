"""``lamsach db upgrade | backup | restore`` on the configured database."""

from __future__ import annotations

import json
import zipfile

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from lamsach.cli.app import app
from lamsach.storage.db import engine_for_url
from lamsach.storage.migrate import head_revision
from lamsach.storage.models import Unit


def _units(url: str) -> int:
    engine = engine_for_url(url)
    try:
        with Session(engine) as session:
            return session.scalar(select(func.count()).select_from(Unit)) or 0
    finally:
        engine.dispose()


def _add_unit(url: str, code: str) -> None:
    engine = engine_for_url(url)
    try:
        with Session(engine) as session, session.begin():
            session.add(Unit(code=code, name=code, kind="city", path="/", networks=[]))
    finally:
        engine.dispose()


def test_db_upgrade_backup_restore(database_url: str, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("LAMSACH_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("LAMSACH_DATABASE_URL", database_url)
    runner = CliRunner()
    result = runner.invoke(app, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert f"revision {head_revision()}" in result.output
    _add_unit(database_url, "A")
    file = tmp_path / "backup.zip"
    result = runner.invoke(app, ["db", "backup", str(file)])
    assert result.exit_code == 0, result.output
    assert ": 1 rows in 12 tables" in result.output
    _add_unit(database_url, "B")
    assert _units(database_url) == 2
    # Without --yes it asks; answering no changes nothing.
    result = runner.invoke(app, ["db", "restore", str(file)], input="n\n")
    assert result.exit_code != 0 and _units(database_url) == 2
    result = runner.invoke(app, ["db", "restore", "--yes", str(file)])
    assert result.exit_code == 0, result.output
    assert _units(database_url) == 1


def test_db_restore_refuses_newer_backup(database_url: str, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("LAMSACH_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("LAMSACH_DATABASE_URL", database_url)
    runner = CliRunner()
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    _add_unit(database_url, "A")
    file = tmp_path / "newer.zip"
    with zipfile.ZipFile(file, "w") as archive:
        archive.writestr(
            "meta.json",
            json.dumps({"format": "lamsach-backup", "format_version": 1, "revision": "zzzz"}),
        )
    result = runner.invoke(app, ["db", "restore", "--yes", str(file)])
    assert result.exit_code == 1
    assert "newer lamsach" in result.output
    assert _units(database_url) == 1
