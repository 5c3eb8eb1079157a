"""Which menu entries a user sees, asked of the domain's permission rules (decided there)."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from lamsach.campaign.permissions import Action, can_anywhere
from lamsach.storage.models import User


@dataclass(frozen=True)
class Capabilities:
    dashboard: bool = False
    units: bool = False
    users: bool = False
    campaigns: bool = False
    templates: bool = False
    audit: bool = False


def capabilities(request: Request, user: User | None) -> Capabilities:
    if user is None:
        return Capabilities()
    return Capabilities(
        dashboard=can_anywhere(user, Action.VIEW_DASHBOARD),
        units=can_anywhere(user, Action.VIEW_UNIT),
        users=can_anywhere(user, Action.MANAGE_USERS),
        campaigns=can_anywhere(user, Action.MANAGE_CAMPAIGNS),
        templates=can_anywhere(user, Action.MANAGE_TEMPLATES),
        audit=can_anywhere(user, Action.VIEW_AUDIT_LOG),
    )
