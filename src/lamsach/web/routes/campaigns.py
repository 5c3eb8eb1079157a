"""Campaign set-up: dates (deadline and a separate lock date), participants, lock exceptions."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session
from starlette.responses import Response

from lamsach.campaign import campaigns as svc
from lamsach.campaign.errors import Issue, PermissionDenied, ValidationFailed
from lamsach.campaign.permissions import Action, require, require_anywhere, scope_units
from lamsach.campaign.templates import get_template, list_templates
from lamsach.campaign.units import get_unit, subtree
from lamsach.storage.models import Campaign, User
from lamsach.web.deps import CurrentUser, Db, flash, render, request_locale, t
from lamsach.web.i18n import parse_date
from lamsach.web.messages import field_errors
from lamsach.web.schemas import (
    CampaignIn,
    CampaignOut,
    ExceptionIn,
    ExceptionOut,
    ParticipantsIn,
    campaign_out,
)

router = APIRouter()
DATE_FORMAT = "%d/%m/%Y"


def _fields(body: CampaignIn) -> svc.CampaignFields:
    return svc.CampaignFields(
        name=body.name,
        start_date=body.start_date,
        deadline=body.deadline,
        lock_date=body.lock_date,
        directive_refs=tuple(body.directive_refs),
        description=body.description,
    )


def create(db: Session, user: User, body: CampaignIn) -> Campaign:
    owner = get_unit(db, body.owner_unit_id)
    participants = None
    if body.participant_ids is not None:
        participants = [get_unit(db, i) for i in body.participant_ids]
    campaign = svc.create_campaign(
        db,
        user,
        _fields(body),
        owner_unit=owner,
        template=get_template(db, body.template_id),
        participants=participants,
    )
    db.commit()
    return campaign


def update(db: Session, user: User, campaign: Campaign, body: CampaignIn) -> Campaign:
    svc.update_campaign(
        db, user, campaign, _fields(body), template=get_template(db, body.template_id)
    )
    if body.participant_ids is not None:
        svc.set_participants(db, user, campaign, [get_unit(db, i) for i in body.participant_ids])
    db.commit()
    return campaign


def _parse_date(raw: str, field: str, issues: list[Issue]) -> date:
    try:
        return parse_date(raw)
    except ValueError:
        issues.append(Issue(field, "date.invalid", {"value": raw[:40]}))
        return date.min


Line = Annotated[str, Field(max_length=5000)]


class CampaignForm(BaseModel):
    """The campaign form of the edit page, as posted."""

    name: Line
    template_id: int
    start_date: Line
    deadline: Line
    lock_date: Line
    refs: Line = ""
    description: Line = ""

    def values(self, owner_unit_id: int) -> dict[str, object]:
        """The values to show again in the form after a refusal."""
        return self.model_dump() | {"owner_unit_id": owner_unit_id}

    def body(self, owner_unit_id: int) -> CampaignIn:
        issues: list[Issue] = []
        body = CampaignIn(
            name=self.name,
            description=self.description,
            directive_refs=[line.strip() for line in self.refs.splitlines() if line.strip()],
            owner_unit_id=owner_unit_id,
            template_id=self.template_id,
            start_date=_parse_date(self.start_date, "start_date", issues),
            deadline=_parse_date(self.deadline, "deadline", issues),
            lock_date=_parse_date(self.lock_date, "lock_date", issues),
        )
        if issues:
            raise ValidationFailed(issues)
        return body


class NewCampaignForm(CampaignForm):
    """The form of the new-campaign page, which also chooses the owning unit."""

    owner_unit_id: int


def _form_page(
    request: Request,
    db: Session,
    user: User,
    campaign: Campaign | None,
    values: dict[str, object],
    errors: dict[str, list[str]],
    status_code: int = 200,
) -> Response:
    owners = scope_units(user, Action.MANAGE_CAMPAIGNS)
    context: dict[str, object] = {
        "campaign": campaign,
        "v": values,
        "errors": errors,
        "owners": owners,
        "templates": list_templates(db),
        "nav": "campaigns",
    }
    if campaign is not None:
        owner = get_unit(db, campaign.owner_unit_id)
        context["units"] = subtree(db, owner)
        context["participants"] = {u.id for u in svc.participant_units(db, campaign)}
        context["exceptions"] = svc.lock_exceptions(db, campaign)
        context["unit_names"] = {u.id: u.name for u in context["units"]}  # type: ignore[attr-defined]
    return render(request, "campaign_form.html", context, status_code)


def _values_of(campaign: Campaign) -> dict[str, object]:
    return {
        "name": campaign.name,
        "description": campaign.description,
        "refs": "\n".join(campaign.directive_refs or []),
        "owner_unit_id": campaign.owner_unit_id,
        "template_id": campaign.template_id,
        "start_date": campaign.start_date.strftime(DATE_FORMAT),
        "deadline": campaign.deadline.strftime(DATE_FORMAT),
        "lock_date": campaign.lock_date.strftime(DATE_FORMAT),
    }


Text = Annotated[str, Form(max_length=5000)]


@router.get("/campaigns/new", name="campaign_new_page", include_in_schema=False)
def campaign_new_page(request: Request, db: Db, user: CurrentUser) -> Response:
    require_anywhere(user, Action.MANAGE_CAMPAIGNS)
    return _form_page(request, db, user, None, {}, {})


@router.post("/campaigns/new", name="campaign_create", include_in_schema=False)
def campaign_create(
    request: Request, db: Db, user: CurrentUser, form: Annotated[NewCampaignForm, Form()]
) -> Response:
    try:
        campaign = create(db, user, form.body(form.owner_unit_id))
    except ValidationFailed as error:
        db.rollback()
        values = form.values(form.owner_unit_id)
        return _form_page(
            request, db, user, None, values, field_errors(error, request_locale(request)), 422
        )
    flash(request, "ok", t(request, "The campaign has been created."))
    return RedirectResponse(f"/campaigns/{campaign.id}/edit", status_code=303)


@router.get("/campaigns/{campaign_id}/edit", name="campaign_edit_page", include_in_schema=False)
def campaign_edit_page(request: Request, db: Db, user: CurrentUser, campaign_id: int) -> Response:
    campaign = svc.get_campaign(db, campaign_id)
    require(user, Action.MANAGE_CAMPAIGNS, campaign.owner_unit)
    return _form_page(request, db, user, campaign, _values_of(campaign), {})


@router.post("/campaigns/{campaign_id}/edit", name="campaign_update", include_in_schema=False)
def campaign_update(
    request: Request,
    db: Db,
    user: CurrentUser,
    campaign_id: int,
    form: Annotated[CampaignForm, Form()],
) -> Response:
    campaign = svc.get_campaign(db, campaign_id)
    owner = campaign.owner_unit_id
    try:
        update(db, user, campaign, form.body(owner))
    except ValidationFailed as error:
        db.rollback()
        campaign = svc.get_campaign(db, campaign_id)
        return _form_page(
            request, db, user, campaign, form.values(owner),
            field_errors(error, request_locale(request)), 422,
        )  # fmt: skip
    flash(request, "ok", t(request, "Saved."))
    return RedirectResponse(f"/campaigns/{campaign_id}/edit", status_code=303)


@router.post(
    "/campaigns/{campaign_id}/participants", name="campaign_participants", include_in_schema=False
)
async def campaign_participants(
    request: Request, db: Db, user: CurrentUser, campaign_id: int
) -> Response:
    campaign = svc.get_campaign(db, campaign_id)
    form = await request.form()
    ids = [int(v) for v in form.getlist("unit_id") if isinstance(v, str) and v.isdigit()]
    svc.set_participants(db, user, campaign, [get_unit(db, i) for i in ids])
    db.commit()
    flash(request, "ok", t(request, "Saved."))
    return RedirectResponse(f"/campaigns/{campaign_id}/edit", status_code=303)


@router.post(
    "/campaigns/{campaign_id}/exceptions", name="campaign_exception", include_in_schema=False
)
def campaign_exception(
    request: Request,
    db: Db,
    user: CurrentUser,
    campaign_id: int,
    unit_id: Annotated[int, Form()],
    lock_date: Text,
    reason: Text = "",
) -> Response:
    campaign = svc.get_campaign(db, campaign_id)
    issues: list[Issue] = []
    day = _parse_date(lock_date, "lock_date", issues)
    try:
        if issues:
            raise ValidationFailed(issues)
        svc.grant_exception(db, user, campaign, get_unit(db, unit_id), day, reason)
    except ValidationFailed as error:
        db.rollback()
        flash(
            request,
            "bad",
            "; ".join(
                m for ms in field_errors(error, request_locale(request)).values() for m in ms
            ),
        )
        return RedirectResponse(f"/campaigns/{campaign_id}/edit", status_code=303)
    db.commit()
    flash(request, "ok", t(request, "Saved."))
    return RedirectResponse(f"/campaigns/{campaign_id}/edit", status_code=303)


@router.post(
    "/campaigns/{campaign_id}/exceptions/{unit_id}/delete",
    name="campaign_exception_delete",
    include_in_schema=False,
)
def campaign_exception_delete(
    request: Request, db: Db, user: CurrentUser, campaign_id: int, unit_id: int
) -> Response:
    campaign = svc.get_campaign(db, campaign_id)
    svc.revoke_exception(db, user, campaign, get_unit(db, unit_id))
    db.commit()
    flash(request, "ok", t(request, "Saved."))
    return RedirectResponse(f"/campaigns/{campaign_id}/edit", status_code=303)


# --- JSON API ----------------------------------------------------------------------------------


@router.post("/api/campaigns", response_model=CampaignOut, status_code=201, tags=["campaigns"])
def api_campaign_create(db: Db, user: CurrentUser, body: CampaignIn) -> CampaignOut:
    """Create a campaign; without ``participant_ids`` the owner's whole subtree takes part."""
    return campaign_out(create(db, user, body))


@router.get("/api/campaigns/{campaign_id}", response_model=CampaignOut, tags=["campaigns"])
def api_campaign(db: Db, user: CurrentUser, campaign_id: int) -> CampaignOut:
    campaign = svc.get_campaign(db, campaign_id)
    if all(c.id != campaign.id for c in svc.list_campaigns(db, user)):
        raise PermissionDenied("permission.denied", action=Action.VIEW_REPORT.value, unit="")
    return campaign_out(campaign)


@router.put("/api/campaigns/{campaign_id}", response_model=CampaignOut, tags=["campaigns"])
def api_campaign_update(
    db: Db, user: CurrentUser, campaign_id: int, body: CampaignIn
) -> CampaignOut:
    return campaign_out(update(db, user, svc.get_campaign(db, campaign_id), body))


@router.put("/api/campaigns/{campaign_id}/participants", tags=["campaigns"])
def api_campaign_participants(
    db: Db, user: CurrentUser, campaign_id: int, body: ParticipantsIn
) -> dict[str, int]:
    campaign = svc.get_campaign(db, campaign_id)
    svc.set_participants(db, user, campaign, [get_unit(db, i) for i in body.unit_ids])
    db.commit()
    return {"participants": len(body.unit_ids)}


@router.get(
    "/api/campaigns/{campaign_id}/exceptions", response_model=list[ExceptionOut], tags=["campaigns"]
)
def api_exceptions(db: Db, user: CurrentUser, campaign_id: int) -> list[ExceptionOut]:
    campaign = svc.get_campaign(db, campaign_id)
    require(user, Action.MANAGE_CAMPAIGNS, campaign.owner_unit)
    return [
        ExceptionOut(unit_id=e.unit_id, lock_date=e.lock_date, reason=e.reason)
        for e in svc.lock_exceptions(db, campaign)
    ]


@router.post(
    "/api/campaigns/{campaign_id}/exceptions", response_model=ExceptionOut, tags=["campaigns"]
)
def api_exception_grant(
    db: Db, user: CurrentUser, campaign_id: int, body: ExceptionIn
) -> ExceptionOut:
    """Give one unit a later lock date than the campaign's."""
    campaign = svc.get_campaign(db, campaign_id)
    found = svc.grant_exception(
        db, user, campaign, get_unit(db, body.unit_id), body.lock_date, body.reason
    )
    db.commit()
    return ExceptionOut(unit_id=found.unit_id, lock_date=found.lock_date, reason=found.reason)


@router.delete(
    "/api/campaigns/{campaign_id}/exceptions/{unit_id}", status_code=204, tags=["campaigns"]
)
def api_exception_revoke(db: Db, user: CurrentUser, campaign_id: int, unit_id: int) -> Response:
    campaign = svc.get_campaign(db, campaign_id)
    svc.revoke_exception(db, user, campaign, get_unit(db, unit_id))
    db.commit()
    return Response(status_code=204)
