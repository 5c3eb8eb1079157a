"""The permission matrix: every role x every action x own unit, child, parent and another branch."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from lamsach.campaign import reports as rp
from lamsach.campaign.errors import PermissionDenied
from lamsach.campaign.permissions import Action, Role, can, scope_units, unit_filter
from lamsach.campaign.users import create_user
from lamsach.storage.models import Unit

A = Action
VIEW = {A.VIEW_UNIT, A.VIEW_REPORT, A.VIEW_DASHBOARD}
COORD_OWN = VIEW | {
    A.EDIT_REPORT,
    A.SUBMIT_REPORT,
    A.EDIT_AFTER_LOCK,
    A.MANAGE_CAMPAIGNS,
    A.MANAGE_TEMPLATES,
}
COORD_CHILD = COORD_OWN | {A.RETURN_REPORT, A.APPROVE_REPORT, A.GRANT_EXCEPTION}
ADMIN_OWN = COORD_OWN | {A.MANAGE_UNITS, A.MANAGE_USERS, A.VIEW_AUDIT_LOG}
ADMIN_CHILD = set(Action)

# Role held on C1. Written out by hand: what each role may do on C1 (own), W1 (child),
# P (parent) and C2 / W3 (another branch).
EXPECTED: dict[Role, dict[str, set[Action]]] = {
    Role.ADMINISTRATOR: {"own": ADMIN_OWN, "child": ADMIN_CHILD, "parent": set(), "other": set()},
    Role.COORDINATOR: {"own": COORD_OWN, "child": COORD_CHILD, "parent": set(), "other": set()},
    Role.OFFICER: {
        "own": VIEW | {A.EDIT_REPORT, A.SUBMIT_REPORT},
        "child": set(),
        "parent": set(),
        "other": set(),
    },
    Role.VIEWER: {"own": VIEW, "child": VIEW, "parent": set(), "other": set()},
}
TARGETS = {"own": ["C1"], "child": ["W1", "W2"], "parent": ["P"], "other": ["C2", "W3"]}


def test_permission_matrix(session: Session, tree, shared_hash: str) -> None:
    checked = 0
    for role, expected in EXPECTED.items():
        user = create_user(
            session,
            None,
            f"m.{role.value}",
            "x" * 8,
            role=role,
            unit=tree.units["C1"],
            password_hash=shared_hash,
        )
        for place, codes in TARGETS.items():
            for code in codes:
                unit = tree.units[code]
                for action in Action:
                    want = action in expected[place]
                    assert can(user, action, unit) is want, (role, action, place, code)
                    # The SQL filter used for listings must agree with can() exactly.
                    listed = session.scalar(
                        select(Unit.id).where(unit_filter(user, action), Unit.id == unit.id)
                    )
                    assert (listed is not None) is want, (role, action, place, code, "filter")
                    checked += 1
    assert checked == 4 * 6 * len(Action)


def test_inactive_or_missing_user_can_nothing(session: Session, tree) -> None:
    admin = tree.users["admin"]
    assert can(admin, Action.MANAGE_UNITS, tree.units["W3"])
    admin.is_active = False
    for action in Action:
        assert not can(admin, action, tree.units["W3"])
        assert not can(None, action, tree.units["W3"])
    assert session.scalars(select(Unit).where(unit_filter(admin, Action.VIEW_UNIT))).all() == []


def test_officer_of_one_ward_never_sees_or_changes_another(session: Session, tree) -> None:
    w1, w2 = tree.users["off.w1"], tree.units["W2"]
    now = datetime(2022, 9, 20, 3)
    other = rp.open_report(session, tree.users["off.w2"], tree.campaign, w2, now=now)
    rp.save_values(session, tree.users["off.w2"], other, {"computers_total": 5}, now=now)
    with pytest.raises(PermissionDenied):
        rp.open_report(session, w1, tree.campaign, w2, now=now)
    with pytest.raises(PermissionDenied):
        rp.save_values(session, w1, other, {"computers_total": 1}, now=now)
    with pytest.raises(PermissionDenied):
        rp.submit_report(session, w1, other, now=now)
    visible = session.scalars(select(Unit.code).where(unit_filter(w1, Action.VIEW_REPORT))).all()
    assert visible == ["W1"]
    assert rp.values_of(other)["computers_total"] == 5
    assert [u.code for u in scope_units(w1, Action.EDIT_REPORT)] == ["W1"]


def test_scope_units_drops_nested_scopes(session: Session, tree) -> None:
    from lamsach.campaign.users import assign_role

    coord = tree.users["coord"]
    assign_role(session, None, coord, Role.COORDINATOR, tree.units["W1"])
    assign_role(session, None, coord, Role.COORDINATOR, tree.units["C2"])
    assert sorted(u.code for u in scope_units(coord, Action.VIEW_DASHBOARD)) == ["C1", "C2"]
