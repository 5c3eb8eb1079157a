"""The audit log of logins and administrative actions, and the login throttle read from it."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from lamsach.campaign.timeutil import utcnow
from lamsach.storage.models import AuditEntry, User

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


def recent_login_failures(session: Session, username: str, client_ip: str, since: datetime) -> int:
    """Failed logins since ``since`` for this user name or from this address."""
    stmt = select(func.count()).where(
        AuditEntry.action == LOGIN,
        AuditEntry.success.is_(False),
        AuditEntry.at >= since,
        or_(AuditEntry.username == username[:64], AuditEntry.client_ip == client_ip[:64])
        if client_ip
        else AuditEntry.username == username[:64],
    )
    return session.scalar(stmt) or 0


def login_locked(
    session: Session,
    username: str,
    client_ip: str,
    *,
    max_failures: int,
    window_seconds: int,
    now: datetime | None = None,
) -> bool:
    """True while too many recent failures block logins for this name or address."""
    now = now or utcnow()
    since = now - timedelta(seconds=window_seconds)
    return recent_login_failures(session, username, client_ip, since) >= max_failures


def entries(
    session: Session,
    *,
    action: str | None = None,
    username: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[AuditEntry]:
    """The newest entries first (callers check Action.VIEW_AUDIT_LOG first)."""
    stmt = select(AuditEntry).order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
    if action:
        stmt = stmt.where(AuditEntry.action == action)
    if username:
        stmt = stmt.where(AuditEntry.username == username)
    return list(session.scalars(stmt.limit(limit).offset(offset)))
