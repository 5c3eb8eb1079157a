"""Fixtures shared by the whole suite: the real-data folder and the two databases."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

PG_ADMIN_URL = os.environ.get("LAMSACH_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Tests over ../shared/data are only collected where LAMSACH_SHARED_DATA says where it is.
    if os.environ.get("LAMSACH_SHARED_DATA"):
        return
    kept = [item for item in items if item.get_closest_marker("shared_data") is None]
    deselected = [item for item in items if item.get_closest_marker("shared_data") is not None]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = kept


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real indicator lists and log samples (only for tests marked ``shared_data``)."""
    path = Path(os.environ["LAMSACH_SHARED_DATA"])
    assert path.is_dir(), f"LAMSACH_SHARED_DATA={path} is not a folder"
    return path


def _create_pg_database() -> tuple[str, str]:
    import psycopg

    name = f"lamsach_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    return name, f"{base}/{name}"


def _drop_pg_database(name: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database of each kind, made for this test and dropped after it."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'lamsach.db'}"
        return
    name, url = _create_pg_database()
    try:
        yield url
    finally:
        _drop_pg_database(name)
