"""Fixtures of the web tests: the demo city on each database, and logged-in clients per role."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from lamsach.campaign.demo import DemoInfo, create_demo
from lamsach.campaign.users import get_user_by_username
from lamsach.settings import Settings
from lamsach.storage.db import create_engine_from_settings, make_session_factory, session_scope
from lamsach.storage.migrate import upgrade
from lamsach.web.app import create_app

CSRF_RE = re.compile(r'name="csrf-token" content="([^"]+)"')
# Logins of the demo city (campaign/demo.py): two wards to check one cannot touch the other.
ROLE_LOGINS = {
    "admin": "admin",
    "coordinator": "dieuphoi",
    "officer": "p.dienbien",
    "other_officer": "p.lamson",
    "viewer": "lanhdao",
}


@dataclass
class Portal:
    app: FastAPI
    settings: Settings
    demo: DemoInfo

    def session(self) -> AbstractContextManager[Session]:
        engine = self.app.state.portal.engine
        return session_scope(make_session_factory(engine))

    def unit_of(self, role: str) -> int:
        with self.session() as db:
            user = get_user_by_username(db, ROLE_LOGINS[role])
            assert user is not None
            return user.roles[0].unit_id

    def user_id(self, role: str) -> int:
        with self.session() as db:
            user = get_user_by_username(db, ROLE_LOGINS[role])
            assert user is not None
            return user.id


def make_settings(tmp_path: Path, database_url: str, **extra: object) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        secret_key="test-secret-key-" + "x" * 32,
        **extra,
    )


def build_portal(tmp_path: Path, database_url: str, **extra: object) -> Portal:
    settings = make_settings(tmp_path, database_url, **extra)
    upgrade(settings)
    engine = create_engine_from_settings(settings)
    try:
        with session_scope(make_session_factory(engine)) as db:
            info = create_demo(db)
    finally:
        engine.dispose()
    return Portal(create_app(settings), settings, info)


@pytest.fixture
def portal(tmp_path: Path, database_url: str) -> Iterator[Portal]:
    built = build_portal(tmp_path, database_url)
    yield built
    built.app.state.portal.engine.dispose()


def csrf_of(client: TestClient) -> str:
    """The session's CSRF token, read from a page like a browser would."""
    match = CSRF_RE.search(client.get("/login").text)
    assert match, "no CSRF token on the login page"
    return match.group(1)


def login(app: FastAPI, username: str | None, password: str = "lamsach2022") -> TestClient:
    """A client logged in as ``username`` (None: anonymous, but with a session and a token)."""
    client = TestClient(app, follow_redirects=False)
    token = csrf_of(client)
    if username is not None:
        response = client.post(
            "/login", data={"username": username, "password": password, "csrf_token": token}
        )
        assert response.status_code == 303, response.text[:500]
        token = CSRF_RE.search(client.get("/tasks").text).group(1)  # type: ignore[union-attr]
    client.headers["x-csrf-token"] = token
    return client


@pytest.fixture
def clients(portal: Portal) -> dict[str, TestClient]:
    found = {role: login(portal.app, name) for role, name in ROLE_LOGINS.items()}
    found["anonymous"] = login(portal.app, None)
    return found


def officer_without_report(portal: Portal) -> tuple[str, int]:
    """A ward or commune officer whose unit has not started its report in the demo."""
    from lamsach.campaign.campaigns import get_campaign
    from lamsach.campaign.completeness import completeness
    from lamsach.campaign.units import get_unit
    from lamsach.campaign.users import list_users

    with portal.session() as db:
        admin = get_user_by_username(db, "admin")
        campaign = get_campaign(db, portal.demo.campaign_id)
        result = completeness(db, campaign, get_unit(db, campaign.owner_unit_id))
        waiting = {
            u.unit_id
            for u in result.units
            if u.status == "not_started" and u.kind in ("ward", "commune")
        }
        for user in list_users(db, admin):
            for role in user.roles:
                if role.role == "officer" and role.unit_id in waiting:
                    return user.username, role.unit_id
    raise AssertionError("the demo has no ward without a report")
