"""Migrations build the schema on an empty database and match the models exactly."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text

from lamsach.settings import Settings
from lamsach.storage.db import engine_for_url
from lamsach.storage.migrate import alembic_config, current_revision, head_revision, upgrade
from lamsach.storage.models import Base


def test_upgrade_empty_database_matches_models(database_url: str, tmp_path) -> None:
    settings = Settings(data_dir=tmp_path, database_url=database_url)
    engine = engine_for_url(database_url)
    try:
        assert current_revision(engine) is None
        upgrade(settings)
        upgrade(settings)  # a second run is a no-op
        assert current_revision(engine) == head_revision()
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(context, Base.metadata) == []
        tables = set(inspect(engine).get_table_names())
        assert set(Base.metadata.tables) <= tables
    finally:
        engine.dispose()


def test_downgrade_to_base_and_back(database_url: str) -> None:
    engine = engine_for_url(database_url)
    try:
        with engine.begin() as conn:
            command.upgrade(alembic_config(connection=conn), "head")
        with engine.begin() as conn:
            command.downgrade(alembic_config(connection=conn), "base")
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
        with engine.begin() as conn:
            command.upgrade(alembic_config(connection=conn), "head")
        assert current_revision(engine) == head_revision()
    finally:
        engine.dispose()


def test_sqlite_runs_in_wal_mode_with_foreign_keys(tmp_path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    assert settings.database_url.endswith("/data/lamsach.db")
    upgrade(settings)
    engine = engine_for_url(settings.database_url)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
    finally:
        engine.dispose()


def test_settings_from_environment(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("LAMSACH_DATA_DIR", str(tmp_path / "d"))
    monkeypatch.setenv("LAMSACH_DATABASE_URL", "postgresql://lamsach@db.example/lamsach")
    monkeypatch.setenv("LAMSACH_UPLOAD_MAX_BYTES", "2048")
    settings = Settings()
    assert settings.database_url == "postgresql+psycopg://lamsach@db.example/lamsach"
    assert settings.upload_max_bytes == 2048 and settings.default_locale == "vi"
    key_file = tmp_path / "d" / "secret_key"
    assert key_file.read_text().strip() == settings.secret_key and len(settings.secret_key) >= 40
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"
    assert Settings().secret_key == settings.secret_key  # kept, not regenerated
    monkeypatch.setenv("LAMSACH_SECRET_KEY", "given")
    monkeypatch.setenv("LAMSACH_DATABASE_URL", "")
    again = Settings()
    assert again.secret_key == "given" and again.database_url.startswith("sqlite:///")
