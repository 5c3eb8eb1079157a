"""The audit log of logins and administrative actions, and the login throttle read from it."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.orm import Session

from lamsach.campaign.permissions import Action, can_global, unit_filter
from lamsach.campaign.timeutil import utcnow
from lamsach.storage.models import AuditEntry, RoleAssignment, Unit, User

LOGIN = "login"
LOGOUT = "logout"


def record(
    session: Session,
    action: str,
    *,
    user: User | None = None,
    username: str = "",
    target: str = "",
    success: bool = True,
    client_ip: str = "",
    detail: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> AuditEntry:
    """Add one entry (committed with the caller's transaction). ``user=None``: the system."""
    entry = AuditEntry(
        at=at or utcnow(),
        user_id=user.id if user is not None else None,
        username=(user.username if user is not None else username)[:64],
        action=action[:64],
        target=target[:255],
        success=success,
        client_ip=client_ip[:64],
        detail=detail or {},
    )
    session.add(entry)
    return entry


def _failures(username: str, client_ip: str) -> ColumnElement[bool]:
    who = AuditEntry.username == username[:64]
    if client_ip:
        who = or_(who, AuditEntry.client_ip == client_ip[:64])
    return and_(AuditEntry.action == LOGIN, AuditEntry.success.is_(False), who)


def recent_login_failures(session: Session, username: str, client_ip: str, since: datetime) -> int:
    """Failed logins since ``since`` for this user name or from this address."""
    stmt = select(func.count()).where(_failures(username, client_ip), AuditEntry.at >= since)
    return session.scalar(stmt) or 0


def login_locked(
    session: Session,
    username: str,
    client_ip: str,
    *,
    max_failures: int,
    window_seconds: int,
    lockout_seconds: int | None = None,
    now: datetime | None = None,
) -> bool:
    """True while too many recent failures block logins for this name or address.

    Blocked when ``max_failures`` failures fall within ``window_seconds`` of now, and, with
    ``lockout_seconds``, for that long after any such burst of failures.
    """
    now = now or utcnow()
    window = timedelta(seconds=window_seconds)
    if recent_login_failures(session, username, client_ip, now - window) >= max_failures:
        return True
    if not lockout_seconds:
        return False
    hold = timedelta(seconds=lockout_seconds)
    times = list(
        session.scalars(
            select(AuditEntry.at)
            .where(_failures(username, client_ip), AuditEntry.at >= now - window - hold)
            .order_by(AuditEntry.at)
            .limit(10_000)
        )
    )
    start = 0
    for end, moment in enumerate(times):
        while moment - times[start] > window:
            start += 1
        if end - start + 1 >= max_failures and now < moment + hold:
            return True
    return False


def entries(
    session: Session,
    *,
    viewer: User | None = None,
    action: str | None = None,
    username: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[AuditEntry]:
    """The newest entries first. With ``viewer``, only what that user may see: everything for an
    administrator of a root unit, else the entries of the users holding roles in their subtree."""
    stmt = select(AuditEntry).order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
    if viewer is not None and not can_global(viewer, Action.VIEW_AUDIT_LOG):
        in_scope = (
            select(RoleAssignment.user_id)
            .join(Unit, Unit.id == RoleAssignment.unit_id)
            .where(unit_filter(viewer, Action.VIEW_AUDIT_LOG))
        )
        stmt = stmt.where(AuditEntry.user_id.in_(in_scope))
    if action:
        stmt = stmt.where(AuditEntry.action == action)
    if username:
        stmt = stmt.where(AuditEntry.username == username)
    return list(session.scalars(stmt.limit(limit).offset(offset)))
