"""Fixtures of the campaign tests: an upgraded database of each kind and a small known tree."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

import pytest
from sqlalchemy.orm import Session

from lamsach.campaign.campaigns import CampaignFields, create_campaign
from lamsach.campaign.permissions import Role
from lamsach.campaign.templates import ensure_builtin_template
from lamsach.campaign.units import UnitFields, create_unit
from lamsach.campaign.users import create_user, hash_password
from lamsach.storage.db import engine_for_url, make_session_factory
from lamsach.storage.migrate import upgrade_url
from lamsach.storage.models import Campaign, Unit, User

PASSWORD = "mat-khau-thu"


@pytest.fixture(scope="session")
def shared_hash() -> str:
    return hash_password(PASSWORD)


@pytest.fixture
def session(database_url: str) -> Iterator[Session]:
    upgrade_url(database_url)
    engine = engine_for_url(database_url)
    factory = make_session_factory(engine)
    with factory() as db:
        yield db
        db.rollback()
    engine.dispose()


@dataclass
class Tree:
    """P (province) > C1 (city) > W1, W2 (wards); P > C2 (city) > W3 (ward)."""

    units: dict[str, Unit]
    users: dict[str, User]
    campaign: Campaign


def make_tree(session: Session, password_hash: str) -> Tree:
    units: dict[str, Unit] = {}
    for code, kind, parent in (
        ("P", "province", None),
        ("C1", "city", "P"),
        ("W1", "ward", "C1"),
        ("W2", "ward", "C1"),
        ("C2", "city", "P"),
        ("W3", "ward", "C2"),
    ):
        units[code] = create_unit(
            session,
            None,
            UnitFields(code, f"Đơn vị {code}", kind, networks=(f"10.{len(units)}.0.0/16",)),
            units[parent] if parent else None,
        )
    users: dict[str, User] = {}
    for name, role, unit in (
        ("admin", Role.ADMINISTRATOR, "P"),
        ("coord", Role.COORDINATOR, "C1"),
        ("viewer", Role.VIEWER, "C1"),
        ("off.c1", Role.OFFICER, "C1"),
        ("off.w1", Role.OFFICER, "W1"),
        ("off.w2", Role.OFFICER, "W2"),
        ("off.w3", Role.OFFICER, "W3"),
        ("coord2", Role.COORDINATOR, "C2"),
    ):
        users[name] = create_user(
            session, None, name, PASSWORD, role=role, unit=units[unit], password_hash=password_hash
        )
    campaign = create_campaign(
        session,
        None,
        CampaignFields(
            name="Chiến dịch thử",
            start_date=date(2022, 9, 1),
            deadline=date(2022, 9, 30),
            lock_date=date(2022, 10, 15),
            directive_refs=("1298/CATTT-NCSC ngày 23/8/2022",),
        ),
        owner_unit=units["P"],
        template=ensure_builtin_template(session),
    )
    session.flush()
    return Tree(units, users, campaign)


@pytest.fixture
def tree(session: Session, shared_hash: str) -> Tree:
    return make_tree(session, shared_hash)
