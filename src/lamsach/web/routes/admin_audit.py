"""The audit log of logins and administrative actions (administrators only)."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from lamsach.campaign import audit
from lamsach.campaign.permissions import Action, require_anywhere
from lamsach.web.deps import CurrentUser, Db, render
from lamsach.web.schemas import AuditOut

router = APIRouter()


@router.get("/audit", name="audit_page", include_in_schema=False)
def audit_page(
    request: Request,
    db: Db,
    user: CurrentUser,
    action: str = "",
    username: str = "",
    offset: int = Query(0, ge=0),
) -> Response:
    require_anywhere(user, Action.VIEW_AUDIT_LOG)
    entries = audit.entries(
        db,
        viewer=user,
        action=action or None,
        username=username or None,
        limit=200,
        offset=offset,
    )
    return render(
        request,
        "audit.html",
        {
            "entries": entries,
            "action": action,
            "username": username,
            "offset": offset,
            "nav": "audit",
        },
    )


@router.get("/api/audit", response_model=list[AuditOut], tags=["audit"])
def api_audit(
    db: Db,
    user: CurrentUser,
    action: str | None = None,
    username: str | None = None,
    limit: int = Query(100, ge=1, le=1000),
    offset: int = Query(0, ge=0),
) -> list[AuditOut]:
    """Newest first: logins (successful or not) and every administrative action."""
    require_anywhere(user, Action.VIEW_AUDIT_LOG)
    return [
        AuditOut(
            at=e.at,
            username=e.username,
            action=e.action,
            target=e.target,
            success=e.success,
            client_ip=e.client_ip,
            detail=e.detail or {},
        )
        for e in audit.entries(
            db, viewer=user, action=action, username=username, limit=limit, offset=offset
        )
    ]
