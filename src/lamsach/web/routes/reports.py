"""The report form of one unit for one campaign: values, notes, audit trail, and its life cycle."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse
from sqlalchemy.orm import Session
from starlette.datastructures import FormData
from starlette.responses import Response

from lamsach.campaign import reports as svc
from lamsach.campaign.campaigns import effective_lock_date, get_campaign
from lamsach.campaign.errors import Issue, ValidationFailed
from lamsach.campaign.messages import issue_message
from lamsach.campaign.permissions import Action
from lamsach.campaign.templates import TemplateDef
from lamsach.campaign.units import children, get_unit
from lamsach.campaign.validation import coerce_values, validate_values
from lamsach.storage.models import Campaign, Report, Unit, User
from lamsach.web.deps import CurrentUser, Db, flash, render, request_locale, t
from lamsach.web.i18n import _
from lamsach.web.messages import field_errors
from lamsach.web.schemas import CommentIn, EventOut, IssueOut, ReportOut, TrailOut, ValuesIn

router = APIRouter()
VALUE_PREFIX = "v__"
NOTE_PREFIX = "n__"


@dataclass
class Loaded:
    campaign: Campaign
    unit: Unit
    report: Report
    definition: TemplateDef


def _load(db: Session, user: User, campaign_id: int, unit_id: int) -> Loaded:
    """For changing the report: opening creates its draft when it has not been started.

    Not committed here: the draft is kept only with the change the request makes to it.
    """
    campaign = get_campaign(db, campaign_id)
    unit = get_unit(db, unit_id)
    report = svc.open_report(db, user, campaign, unit)
    return Loaded(campaign, unit, report, svc.template_of(db, campaign))


def _view(db: Session, user: User, campaign_id: int, unit_id: int) -> Loaded:
    """For reading: a report not started yet is shown as it would begin, and stays not started."""
    campaign = get_campaign(db, campaign_id)
    unit = get_unit(db, unit_id)
    report = svc.preview_report(db, user, campaign, unit)
    return Loaded(campaign, unit, report, svc.template_of(db, campaign))


def _form_values(form: FormData, definition: TemplateDef) -> tuple[dict[str, Any], dict[str, str]]:
    values: dict[str, Any] = {}
    notes: dict[str, str] = {}
    for row in definition.rows:
        value = form.get(VALUE_PREFIX + row.code)
        if isinstance(value, str):
            values[row.code] = value
        note = form.get(NOTE_PREFIX + row.code)
        if isinstance(note, str):
            notes[row.code] = note
    return values, notes


def _revision(form: FormData) -> int | None:
    raw = form.get("revision")
    return int(raw) if isinstance(raw, str) and raw.isdigit() else None


def report_out(db: Session, user: User, loaded: Loaded) -> ReportOut:
    report = loaded.report
    saved = report.id is not None
    actions = svc.allowed_actions(db, user, report)
    return ReportOut(
        id=report.id,
        campaign_id=loaded.campaign.id,
        unit_id=loaded.unit.id,
        status=report.status,
        revision=report.revision or 0,
        on_time=report.on_time,
        first_submitted_at=report.first_submitted_at,
        submitted_at=report.submitted_at,
        return_comment=report.return_comment or "",
        values=svc.values_of(report),
        notes=svc.notes_of(report),
        allowed_actions=sorted(a.value for a in actions),
        lock_date=effective_lock_date(db, loaded.campaign, loaded.unit),
        trail=[
            TrailOut(**{k: getattr(e, k) for k in TrailOut.model_fields})
            for e in (svc.value_trail(db, report) if saved else [])
        ],
        history=[
            EventOut(**{k: getattr(e, k) for k in EventOut.model_fields})
            for e in (svc.report_history(db, report) if saved else [])
        ],
    )


def _page(
    request: Request,
    db: Session,
    user: User,
    loaded: Loaded,
    *,
    errors: dict[str, list[str]] | None = None,
    entered: tuple[dict[str, Any], dict[str, str]] | None = None,
    status_code: int = 200,
) -> Response:
    out = report_out(db, user, loaded)
    trail: dict[str, list[TrailOut]] = {}
    for entry in out.trail:
        trail.setdefault(entry.row_code, []).append(entry)
    values: dict[str, Any] = dict(out.values)
    notes: dict[str, str] = dict(out.notes)
    if entered is not None:
        values.update(entered[0])
        notes.update(entered[1])
    has_children = bool(children(db, loaded.unit))
    context = {
        "campaign": loaded.campaign,
        "unit": loaded.unit,
        "report": out,
        "definition": loaded.definition,
        "values": values,
        "notes": notes,
        "trail": trail,
        "errors": errors or {},
        "actions": set(out.allowed_actions),
        "A": Action,
        "has_children": has_children,
        "nav": "tasks",
    }
    return render(request, "report.html", context, status_code)


def _url(campaign_id: int, unit_id: int) -> str:
    return f"/campaigns/{campaign_id}/units/{unit_id}/report"


@router.get(
    "/campaigns/{campaign_id}/units/{unit_id}/report", name="report_page", include_in_schema=False
)
def report_page(
    request: Request, db: Db, user: CurrentUser, campaign_id: int, unit_id: int
) -> Response:
    return _page(request, db, user, _view(db, user, campaign_id, unit_id))


@router.post(
    "/campaigns/{campaign_id}/units/{unit_id}/report", name="report_save", include_in_schema=False
)
async def report_save(
    request: Request, db: Db, user: CurrentUser, campaign_id: int, unit_id: int
) -> Response:
    """Save the form; with ``action=submit`` also send it up when it is complete."""
    loaded = _load(db, user, campaign_id, unit_id)
    form = await request.form()
    entered = _form_values(form, loaded.definition)
    locale = request_locale(request)
    try:
        svc.save_values(
            db, user, loaded.report, entered[0], entered[1], expected_revision=_revision(form)
        )
        if form.get("action") == "submit":
            svc.submit_report(db, user, loaded.report)
    except ValidationFailed as error:
        db.rollback()
        loaded = _view(db, user, campaign_id, unit_id)
        return _page(
            request,
            db,
            user,
            loaded,
            errors=field_errors(error, locale),
            entered=entered,
            status_code=422,
        )
    db.commit()
    submitted = form.get("action") == "submit"
    flash(
        request,
        "ok",
        t(request, "The report has been submitted.") if submitted else t(request, "Saved."),
    )
    return RedirectResponse(_url(campaign_id, unit_id), status_code=303)


def _check_issues(db: Session, loaded: Loaded, values: dict[str, Any]) -> list[Issue]:
    typed, issues = coerce_values(loaded.definition, values)
    merged = {**svc.values_of(loaded.report), **typed}
    issues.extend(i for i in validate_values(loaded.definition, merged) if i not in issues)
    return issues


@router.post(
    "/campaigns/{campaign_id}/units/{unit_id}/report/check",
    name="report_check",
    include_in_schema=False,
)
async def report_check(
    request: Request, db: Db, user: CurrentUser, campaign_id: int, unit_id: int
) -> Response:
    """Inline validation (htmx): every field's errors, swapped in beside the fields."""
    loaded = _view(db, user, campaign_id, unit_id)
    form = await request.form()
    values, _notes = _form_values(form, loaded.definition)
    locale = request_locale(request)
    grouped: dict[str, list[str]] = {}
    for issue in _check_issues(db, loaded, values):
        grouped.setdefault(issue.field, []).append(issue_message(issue, locale))
    context = {"definition": loaded.definition, "errors": grouped}
    return render(request, "_report_errors.html", context)


def _transition(request: Request, campaign_id: int, unit_id: int, message: str) -> Response:
    flash(request, "ok", t(request, message))
    return RedirectResponse(_url(campaign_id, unit_id), status_code=303)


def _try_transition(
    request: Request,
    db: Session,
    user: User,
    campaign_id: int,
    unit_id: int,
    act: Callable[[], object],
    message: str,
) -> Response:
    """Run a life-cycle step; a refusal shows the form again with its errors, nothing saved."""
    try:
        act()
    except ValidationFailed as error:
        db.rollback()
        loaded = _view(db, user, campaign_id, unit_id)
        return _page(
            request,
            db,
            user,
            loaded,
            errors=field_errors(error, request_locale(request)),
            status_code=422,
        )
    db.commit()
    return _transition(request, campaign_id, unit_id, message)


@router.post(
    "/campaigns/{campaign_id}/units/{unit_id}/report/submit",
    name="report_submit",
    include_in_schema=False,
)
def report_submit(
    request: Request, db: Db, user: CurrentUser, campaign_id: int, unit_id: int
) -> Response:
    loaded = _load(db, user, campaign_id, unit_id)
    return _try_transition(
        request,
        db,
        user,
        campaign_id,
        unit_id,
        lambda: svc.submit_report(db, user, loaded.report),
        _("The report has been submitted."),
    )


@router.post(
    "/campaigns/{campaign_id}/units/{unit_id}/report/return",
    name="report_return",
    include_in_schema=False,
)
def report_return(
    request: Request,
    db: Db,
    user: CurrentUser,
    campaign_id: int,
    unit_id: int,
    comment: Annotated[str, Form(max_length=5000)] = "",
) -> Response:
    loaded = _view(db, user, campaign_id, unit_id)
    return _try_transition(
        request,
        db,
        user,
        campaign_id,
        unit_id,
        lambda: svc.return_report(db, user, loaded.report, comment),
        _("The report has been returned to the unit."),
    )


@router.post(
    "/campaigns/{campaign_id}/units/{unit_id}/report/approve",
    name="report_approve",
    include_in_schema=False,
)
def report_approve(
    request: Request, db: Db, user: CurrentUser, campaign_id: int, unit_id: int
) -> Response:
    loaded = _view(db, user, campaign_id, unit_id)
    svc.approve_report(db, user, loaded.report)
    db.commit()
    return _transition(request, campaign_id, unit_id, _("The report has been approved."))


@router.post(
    "/campaigns/{campaign_id}/units/{unit_id}/report/refresh",
    name="report_refresh",
    include_in_schema=False,
)
def report_refresh(
    request: Request, db: Db, user: CurrentUser, campaign_id: int, unit_id: int
) -> Response:
    loaded = _load(db, user, campaign_id, unit_id)
    svc.refresh_from_children(db, user, loaded.report)
    db.commit()
    return _transition(
        request, campaign_id, unit_id, _("The figures were summed again from the units below.")
    )


# --- JSON API: the same services ---------------------------------------------------------------

API = "/api/campaigns/{campaign_id}/units/{unit_id}/report"


@router.get(API, response_model=ReportOut, tags=["reports"])
def api_report(db: Db, user: CurrentUser, campaign_id: int, unit_id: int) -> ReportOut:
    """The unit's report; one not started yet comes unsaved (``id`` null, ``not_started``).

    Reading never creates it: its draft is created by the first save (PUT) or submission.
    """
    loaded = _view(db, user, campaign_id, unit_id)
    return report_out(db, user, loaded)


@router.put(API, response_model=ReportOut, tags=["reports"])
def api_report_save(
    db: Db, user: CurrentUser, campaign_id: int, unit_id: int, body: ValuesIn
) -> ReportOut:
    """Save values and notes; 422 lists every problem by row, 409 when ``revision`` is stale."""
    loaded = _load(db, user, campaign_id, unit_id)
    svc.save_values(
        db, user, loaded.report, body.values, body.notes, expected_revision=body.revision
    )
    db.commit()
    return report_out(db, user, loaded)


@router.post(API + "/check", response_model=list[IssueOut], tags=["reports"])
def api_report_check(
    request: Request, db: Db, user: CurrentUser, campaign_id: int, unit_id: int, body: ValuesIn
) -> list[IssueOut]:
    """The problems these values would have, without saving anything."""
    loaded = _view(db, user, campaign_id, unit_id)
    locale = request_locale(request)
    return [
        IssueOut(field=i.field, code=i.code, message=issue_message(i, locale))
        for i in _check_issues(db, loaded, dict(body.values))
    ]


@router.post(API + "/submit", response_model=ReportOut, tags=["reports"])
def api_report_submit(db: Db, user: CurrentUser, campaign_id: int, unit_id: int) -> ReportOut:
    loaded = _load(db, user, campaign_id, unit_id)
    svc.submit_report(db, user, loaded.report)
    db.commit()
    return report_out(db, user, loaded)


@router.post(API + "/return", response_model=ReportOut, tags=["reports"])
def api_report_return(
    db: Db, user: CurrentUser, campaign_id: int, unit_id: int, body: CommentIn
) -> ReportOut:
    loaded = _view(db, user, campaign_id, unit_id)
    svc.return_report(db, user, loaded.report, body.comment)
    db.commit()
    return report_out(db, user, loaded)


@router.post(API + "/approve", response_model=ReportOut, tags=["reports"])
def api_report_approve(db: Db, user: CurrentUser, campaign_id: int, unit_id: int) -> ReportOut:
    loaded = _view(db, user, campaign_id, unit_id)
    svc.approve_report(db, user, loaded.report)
    db.commit()
    return report_out(db, user, loaded)


@router.post(API + "/refresh", response_model=ReportOut, tags=["reports"])
def api_report_refresh(db: Db, user: CurrentUser, campaign_id: int, unit_id: int) -> ReportOut:
    """Sum the units below into this report again."""
    loaded = _load(db, user, campaign_id, unit_id)
    svc.refresh_from_children(db, user, loaded.report)
    db.commit()
    return report_out(db, user, loaded)
