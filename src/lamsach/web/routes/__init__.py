"""The portal's routers: each serves its pages and the matching JSON API on the same services."""

from __future__ import annotations

from fastapi import APIRouter

from lamsach.web.routes import (
    admin_audit,
    auth,
    campaigns,
    dashboard,
    reports,
    tasks,
    templates,
    units,
    users,
)

ROUTERS: list[APIRouter] = [
    auth.router,
    tasks.router,
    reports.router,
    campaigns.router,  # before the dashboard: /campaigns/new is not a campaign id
    dashboard.router,
    units.router,
    users.router,
    templates.router,
    admin_audit.router,
]
