"""Users: argon2 password hashes, log-in, and roles held over units."""

from __future__ import annotations

import re
from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from lamsach.campaign import audit
from lamsach.campaign.errors import Issue, NotFound, PermissionDenied, ValidationFailed
from lamsach.campaign.permissions import (
    Action,
    Role,
    can,
    can_global,
    can_manage_user,
    unit_filter,
)
from lamsach.campaign.text import one_line
from lamsach.campaign.timeutil import utcnow
from lamsach.storage.models import RoleAssignment, Unit, User

USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
MIN_PASSWORD_LENGTH = 8

_hasher = PasswordHasher()
# Verifying against a real hash when the user does not exist keeps the timing the same.
_DUMMY_HASH = _hasher.hash("lamsach-no-such-user")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def check_password_rules(password: str) -> list[Issue]:
    if len(password) < MIN_PASSWORD_LENGTH:
        return [Issue("password", "password.too_short", {"min": MIN_PASSWORD_LENGTH})]
    return []


def get_user(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("user.not_found", id=user_id)
    return user


def get_user_by_username(session: Session, username: str) -> User | None:
    return session.scalar(select(User).where(User.username == username.strip().lower()))


def _require_manage_users(actor: User | None, unit: Unit | None) -> None:
    if actor is None:
        return
    if unit is None or not can(actor, Action.MANAGE_USERS, unit):
        raise PermissionDenied(
            "permission.denied", action=Action.MANAGE_USERS.value, unit=unit.code if unit else ""
        )


def create_user(
    session: Session,
    actor: User | None,
    username: str,
    password: str,
    *,
    full_name: str = "",
    email: str = "",
    locale: str = "vi",
    role: Role | None = None,
    unit: Unit | None = None,
    password_hash: str | None = None,
) -> User:
    """Create a user, optionally with a first role. ``password_hash`` skips hashing (bulk demo)."""
    if actor is not None:
        _require_manage_users(actor, unit)
    name = username.strip().lower()
    issues: list[Issue] = []
    if not USERNAME_RE.match(name):
        issues.append(Issue("username", "user.bad_username", {"value": username}))
    elif get_user_by_username(session, name) is not None:
        issues.append(Issue("username", "user.username_taken", {"value": name}))
    if password_hash is None:
        issues.extend(check_password_rules(password))
    if locale not in ("vi", "en"):
        issues.append(Issue("locale", "user.bad_locale", {"value": locale}))
    if (role is None) != (unit is None):
        issues.append(Issue("role", "user.role_needs_unit"))
    if issues:
        raise ValidationFailed(issues)
    user = User(
        username=name,
        full_name=one_line(full_name),
        email=email.strip(),
        locale=locale,
        password_hash=password_hash or hash_password(password),
        is_active=True,
    )
    session.add(user)
    session.flush()
    if role is not None and unit is not None:
        user.roles.append(RoleAssignment(role=role.value, unit_id=unit.id, unit=unit))
        session.flush()
    audit.record(session, "user.create", user=actor, target=name)
    return user


def assign_role(
    session: Session, actor: User | None, user: User, role: Role, unit: Unit
) -> RoleAssignment:
    _require_manage_users(actor, unit)
    for existing in user.roles:
        if existing.role == role.value and existing.unit_id == unit.id:
            return existing
    assignment = RoleAssignment(role=role.value, unit_id=unit.id, unit=unit)
    user.roles.append(assignment)
    session.flush()
    audit.record(
        session,
        "user.role_add",
        user=actor,
        target=user.username,
        detail={"role": role.value, "unit": unit.code},
    )
    return assignment


def revoke_role(session: Session, actor: User | None, user: User, assignment_id: int) -> None:
    for assignment in list(user.roles):
        if assignment.id == assignment_id:
            _require_manage_users(actor, assignment.unit)
            user.roles.remove(assignment)
            session.flush()
            audit.record(
                session,
                "user.role_remove",
                user=actor,
                target=user.username,
                detail={"role": assignment.role, "unit": assignment.unit.code},
            )
            return
    raise NotFound("role.not_found", id=assignment_id)


def _require_manage_user(actor: User | None, user: User, *, itself: bool = False) -> None:
    if actor is not None and not can_manage_user(actor, user, itself=itself):
        raise PermissionDenied("permission.denied", action=Action.MANAGE_USERS.value, unit="")


def set_password(session: Session, actor: User | None, user: User, password: str) -> None:
    """A new password, set by the user or by someone who manages the account."""
    _require_manage_user(actor, user, itself=True)
    issues = check_password_rules(password)
    if issues:
        raise ValidationFailed(issues)
    user.password_hash = hash_password(password)
    session.flush()
    audit.record(session, "user.password", user=actor, target=user.username)


def set_active(session: Session, actor: User | None, user: User, active: bool) -> None:
    _require_manage_user(actor, user)
    user.is_active = active
    session.flush()
    audit.record(
        session, "user.activate" if active else "user.deactivate", user=actor, target=user.username
    )


def authenticate(
    session: Session,
    username: str,
    password: str,
    *,
    client_ip: str = "",
    now: datetime | None = None,
) -> User | None:
    """The active user with this name and password, or None; every attempt is audited."""
    user = get_user_by_username(session, username)
    ok = verify_password(user.password_hash if user else _DUMMY_HASH, password)
    if user is None or not user.is_active or not ok:
        audit.record(
            session,
            audit.LOGIN,
            user=user,
            username=username.strip().lower(),
            success=False,
            client_ip=client_ip,
            at=now,
        )
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.last_login_at = now or utcnow()
    audit.record(session, audit.LOGIN, user=user, client_ip=client_ip, at=now)
    return user


def list_users(session: Session, actor: User) -> list[User]:
    """Users holding a role on a unit the actor manages (administrators see users with no role)."""
    visible = select(RoleAssignment.user_id).join(Unit, RoleAssignment.unit_id == Unit.id)
    visible = visible.where(unit_filter(actor, Action.MANAGE_USERS))
    stmt = select(User).where(User.id.in_(visible))
    users = list(session.scalars(stmt.order_by(User.username)))
    if can_global(actor, Action.MANAGE_USERS):
        no_role = select(User).where(~User.id.in_(select(RoleAssignment.user_id)))
        users.extend(session.scalars(no_role.order_by(User.username)))
    return users
