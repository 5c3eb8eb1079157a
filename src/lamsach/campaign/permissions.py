"""Every permission of the portal, decided here: roles scoped to subtrees, actions, states."""

from __future__ import annotations

from datetime import date
from enum import StrEnum

from sqlalchemy import ColumnElement, false, or_

from lamsach.campaign.errors import InvalidState, PermissionDenied
from lamsach.storage.models import Report, Unit, User


class Role(StrEnum):
    ADMINISTRATOR = "administrator"
    COORDINATOR = "coordinator"
    OFFICER = "officer"
    VIEWER = "viewer"


class Action(StrEnum):
    VIEW_UNIT = "view_unit"
    MANAGE_UNITS = "manage_units"
    MANAGE_USERS = "manage_users"
    VIEW_REPORT = "view_report"
    EDIT_REPORT = "edit_report"
    SUBMIT_REPORT = "submit_report"
    RETURN_REPORT = "return_report"
    APPROVE_REPORT = "approve_report"
    EDIT_AFTER_LOCK = "edit_after_lock"
    GRANT_EXCEPTION = "grant_exception"
    VIEW_DASHBOARD = "view_dashboard"
    MANAGE_CAMPAIGNS = "manage_campaigns"
    MANAGE_TEMPLATES = "manage_templates"
    VIEW_AUDIT_LOG = "view_audit_log"


class Reach(StrEnum):
    """How far from the role's unit an action reaches."""

    SELF = "self"  # the unit itself only
    SUBTREE = "subtree"  # the unit and everything below it
    BELOW = "below"  # strictly below: a parent approves its children, never itself


_S, _B, _O = Reach.SUBTREE, Reach.BELOW, Reach.SELF
_COORDINATION = {
    Action.VIEW_UNIT: _S,
    Action.VIEW_REPORT: _S,
    Action.VIEW_DASHBOARD: _S,
    Action.EDIT_REPORT: _S,
    Action.SUBMIT_REPORT: _S,
    Action.EDIT_AFTER_LOCK: _S,
    Action.RETURN_REPORT: _B,
    Action.APPROVE_REPORT: _B,
    Action.GRANT_EXCEPTION: _B,
    Action.MANAGE_CAMPAIGNS: _S,
    Action.MANAGE_TEMPLATES: _S,
}

GRANTS: dict[Role, dict[Action, Reach]] = {
    Role.ADMINISTRATOR: {
        **_COORDINATION,
        Action.MANAGE_UNITS: _S,
        Action.MANAGE_USERS: _S,
        Action.VIEW_AUDIT_LOG: _S,
    },
    Role.COORDINATOR: dict(_COORDINATION),
    Role.OFFICER: {
        Action.VIEW_UNIT: _O,
        Action.VIEW_REPORT: _O,
        Action.VIEW_DASHBOARD: _O,
        Action.EDIT_REPORT: _O,
        Action.SUBMIT_REPORT: _O,
    },
    Role.VIEWER: {
        Action.VIEW_UNIT: _S,
        Action.VIEW_REPORT: _S,
        Action.VIEW_DASHBOARD: _S,
    },
}

# Report states in which each report action makes sense.
STATES: dict[Action, frozenset[str]] = {
    Action.EDIT_REPORT: frozenset({"draft", "returned"}),
    Action.SUBMIT_REPORT: frozenset({"draft", "returned"}),
    Action.RETURN_REPORT: frozenset({"submitted", "approved"}),
    Action.APPROVE_REPORT: frozenset({"submitted"}),
    Action.VIEW_REPORT: frozenset({"draft", "submitted", "returned", "approved"}),
}


def _reaches(reach: Reach, scope: Unit, unit: Unit) -> bool:
    if reach is Reach.SELF:
        return unit.id == scope.id
    inside = unit.path.startswith(scope.path)
    if reach is Reach.BELOW:
        return inside and unit.id != scope.id
    return inside


def can(user: User | None, action: Action, unit: Unit) -> bool:
    """Whether ``user`` may do ``action`` on ``unit`` (ignoring report state and lock dates)."""
    if user is None or not user.is_active:
        return False
    for assignment in user.roles:
        reach = GRANTS.get(Role(assignment.role), {}).get(action)
        if reach is not None and _reaches(reach, assignment.unit, unit):
            return True
    return False


def can_global(user: User | None, action: Action) -> bool:
    """``action`` at the very top (e.g. creating a root unit): a role held on a root unit."""
    if user is None or not user.is_active:
        return False
    return any(
        action in GRANTS.get(Role(a.role), {}) and a.unit.parent_id is None for a in user.roles
    )


def can_anywhere(user: User | None, action: Action) -> bool:
    """Whether some role gives ``action`` somewhere (menus; templates, which belong to no unit)."""
    if user is None or not user.is_active:
        return False
    return any(action in GRANTS.get(Role(a.role), {}) for a in user.roles)


def can_manage_user(actor: User | None, user: User, *, itself: bool = False) -> bool:
    """Manage an account: MANAGE_USERS over every unit where it holds a role.

    An account with no role needs an administrator of a root unit; ``itself`` allows the
    action on one's own account (changing one's password).
    """
    if actor is None or not actor.is_active:
        return False
    if itself and actor.id == user.id:
        return True
    if not user.roles:
        return can_global(actor, Action.MANAGE_USERS)
    return all(can(actor, Action.MANAGE_USERS, a.unit) for a in user.roles)


def require(user: User | None, action: Action, unit: Unit) -> None:
    if not can(user, action, unit):
        raise PermissionDenied("permission.denied", action=action.value, unit=unit.code)


def require_anywhere(user: User | None, action: Action) -> None:
    if not can_anywhere(user, action):
        raise PermissionDenied("permission.denied", action=action.value, unit="")


def unit_filter(user: User | None, action: Action) -> ColumnElement[bool]:
    """A WHERE clause on ``Unit`` keeping exactly the units ``can(user, action, unit)`` allows.

    Paths hold only digits and slashes, so LIKE needs no escaping (and keeps the index usable).
    """
    if user is None or not user.is_active:
        return false()
    clauses: list[ColumnElement[bool]] = []
    for assignment in user.roles:
        reach = GRANTS.get(Role(assignment.role), {}).get(action)
        scope = assignment.unit
        if reach is Reach.SELF:
            clauses.append(Unit.id == scope.id)
        elif reach is Reach.SUBTREE:
            clauses.append(Unit.path.like(scope.path + "%"))
        elif reach is Reach.BELOW:
            clauses.append(Unit.path.like(scope.path + "%") & (Unit.id != scope.id))
    return or_(false(), *clauses)


def scope_units(user: User | None, action: Action) -> list[Unit]:
    """The units at the top of the user's reach for ``action`` (for the unit picker and menus)."""
    if user is None or not user.is_active:
        return []
    found = [a.unit for a in user.roles if action in GRANTS.get(Role(a.role), {})]
    # Drop scopes nested in another scope of the same user.
    return [u for u in found if not any(o.id != u.id and u.path.startswith(o.path) for o in found)]


def report_actions(
    user: User | None, report: Report, unit: Unit, lock_date: date, today: date
) -> set[Action]:
    """What ``user`` may do now to ``report`` of ``unit``, given its effective lock date."""
    allowed: set[Action] = set()
    for action, states in STATES.items():
        if report.status in states and can(user, action, unit):
            allowed.add(action)
    if today > lock_date and not can(user, Action.EDIT_AFTER_LOCK, unit):
        allowed -= {Action.EDIT_REPORT, Action.SUBMIT_REPORT}
    return allowed


def check_report_action(
    user: User | None, action: Action, report: Report, unit: Unit, lock_date: date, today: date
) -> None:
    """Raise PermissionDenied (no right), or InvalidState (wrong state or locked)."""
    if not can(user, action, unit):
        raise PermissionDenied("permission.denied", action=action.value, unit=unit.code)
    if report.status not in STATES.get(action, frozenset()):
        raise InvalidState("report.bad_state", action=action.value, status=report.status)
    if (
        action in (Action.EDIT_REPORT, Action.SUBMIT_REPORT)
        and today > lock_date
        and not can(user, Action.EDIT_AFTER_LOCK, unit)
    ):
        raise InvalidState("report.locked", lock_date=lock_date.isoformat())
