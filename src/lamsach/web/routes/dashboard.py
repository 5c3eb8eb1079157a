"""The coordinator's campaign dashboard: reporting and on-time rates, units, totals, charts."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from sqlalchemy.orm import Session
from starlette.responses import Response

from lamsach.campaign.aggregate import totals_by_child
from lamsach.campaign.campaigns import get_campaign, list_campaigns
from lamsach.campaign.completeness import Completeness, completeness
from lamsach.campaign.permissions import Action, can, require, scope_units
from lamsach.campaign.reports import template_of
from lamsach.campaign.units import KNOWN_KINDS, ancestors, get_unit, is_within
from lamsach.storage.models import Campaign, Unit, User
from lamsach.web.deps import CurrentUser, Db, render, request_locale, t
from lamsach.web.i18n import gettext
from lamsach.web.schemas import (
    CampaignOut,
    CompletenessOut,
    UnitStatusFilter,
    campaign_out,
    completeness_out,
)

router = APIRouter()
PAGE_ROWS = 500
CHART_UNITS = 15
CHART_ROWS = ("computers_scanned", "computers_infected", "computers_cleaned")


def dashboard_root(db: Session, user: User, campaign: Campaign, unit_id: int | None) -> Unit:
    """The unit the dashboard looks from: asked for, else the campaign's unit, else the user's."""
    if unit_id is not None:
        root = get_unit(db, unit_id)
    else:
        owner = get_unit(db, campaign.owner_unit_id)
        if can(user, Action.VIEW_DASHBOARD, owner):
            root = owner
        else:
            inside = [u for u in scope_units(user, Action.VIEW_DASHBOARD) if is_within(u, owner)]
            root = inside[0] if inside else owner
    require(user, Action.VIEW_DASHBOARD, root)
    return root


def _chart_data(
    db: Session, campaign: Campaign, root: Unit, result: Completeness, locale: str
) -> dict[str, Any]:
    expected = result.overall.expected or 1
    labels: list[str] = []
    reported: list[float] = []
    on_time: list[float] = []
    on_time_count = 0
    for day, cumulative in result.timeline:
        if day <= campaign.deadline:
            on_time_count = cumulative
        labels.append(day.strftime("%d/%m"))
        reported.append(round(100 * cumulative / expected, 1))
        on_time.append(round(100 * on_time_count / expected, 1))
    definition = template_of(db, campaign)
    codes = [c for c in CHART_ROWS if definition.has_row(c)] or [
        r.code for r in definition.summed_rows[:3]
    ]
    # The branches with the most machines scanned, infected, cleaned: a readable chart.
    by_child = sorted(
        totals_by_child(db, campaign, root),
        key=lambda pair: sum(pair[1].get(code, 0) for code in codes),
        reverse=True,
    )[:CHART_UNITS]
    en = locale == "en"
    return {
        "rate": {
            "labels": labels,
            "reported": reported,
            "on_time": on_time,
            "reported_label": gettext(locale, "Reporting rate (%)"),
            "on_time_label": gettext(locale, "On-time rate (%)"),
        },
        "units": {
            "labels": [kid.name for kid, _ in by_child],
            "series": [
                {
                    "label": definition.row(code).label_en if en else definition.row(code).label_vi,
                    "values": [sums.get(code, 0) for _, sums in by_child],
                }
                for code in codes
            ],
        },
    }


@router.get("/campaigns", name="campaigns_page", include_in_schema=False)
def campaigns_page(request: Request, db: Db, user: CurrentUser) -> Response:
    campaigns = list_campaigns(db, user)
    manageable = {c.id for c in campaigns if can(user, Action.MANAGE_CAMPAIGNS, c.owner_unit)}
    return render(
        request,
        "campaigns.html",
        {"campaigns": campaigns, "manageable": manageable, "nav": "campaigns"},
    )


@router.get("/campaigns/{campaign_id}", name="dashboard_page", include_in_schema=False)
def dashboard_page(
    request: Request,
    db: Db,
    user: CurrentUser,
    campaign_id: int,
    filters: Annotated[UnitStatusFilter, Query()],
    unit: int | None = None,
) -> Response:
    campaign = get_campaign(db, campaign_id)
    root = dashboard_root(db, user, campaign, unit)
    result = completeness(db, campaign, root)
    shown = filters.apply(result.units)
    locale = request_locale(request)
    definition = template_of(db, campaign)
    trail = [a for a in ancestors(db, root) if can(user, Action.VIEW_DASHBOARD, a)]
    context = {
        "campaign": campaign,
        "root": root,
        "trail": trail,
        "result": result,
        "units": shown[:PAGE_ROWS],
        "shown_count": len(shown),
        "page_rows": PAGE_ROWS,
        "filters": filters,
        "kinds": sorted({u.kind for u in result.units}),
        "kind_names": {k: (v[1] if locale == "en" else v[0]) for k, v in KNOWN_KINDS.items()},
        "definition": definition,
        "chart": _chart_data(db, campaign, root, result, locale),
        "chart_units": CHART_UNITS,
        "can_manage": can(user, Action.MANAGE_CAMPAIGNS, campaign.owner_unit),
        "nav": "campaigns",
        "level_name": lambda depth: t(request, "Level %(n)s below", n=depth),
    }
    return render(request, "dashboard.html", context)


@router.get("/api/campaigns", response_model=list[CampaignOut], tags=["campaigns"])
def api_campaigns(db: Db, user: CurrentUser) -> list[CampaignOut]:
    """Campaigns in which the user sees at least one unit."""
    return [campaign_out(c) for c in list_campaigns(db, user)]


@router.get(
    "/api/campaigns/{campaign_id}/completeness", response_model=CompletenessOut, tags=["campaigns"]
)
def api_completeness(
    db: Db,
    user: CurrentUser,
    campaign_id: int,
    filters: Annotated[UnitStatusFilter, Query()],
    unit: int | None = None,
) -> CompletenessOut:
    """Reporting and on-time rates below ``unit`` (overall, per level, per kind), the units'
    status (filtered like the dashboard's table) and the summed figures."""
    campaign = get_campaign(db, campaign_id)
    root = dashboard_root(db, user, campaign, unit)
    result = completeness(db, campaign, root)
    return completeness_out(result, filters.apply(result.units))


@router.get("/api/campaigns/{campaign_id}/totals-by-unit", tags=["campaigns"])
def api_totals_by_unit(
    db: Db, user: CurrentUser, campaign_id: int, unit: int | None = None
) -> list[dict[str, Any]]:
    """The figures of each branch directly below ``unit`` (the chart of figures by unit)."""
    campaign = get_campaign(db, campaign_id)
    root = dashboard_root(db, user, campaign, unit)
    return [
        {"unit_id": kid.id, "code": kid.code, "name": kid.name, "totals": sums}
        for kid, sums in totals_by_child(db, campaign, root)
    ]
