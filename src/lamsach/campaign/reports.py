"""Reports: one per unit per campaign; values with an audit trail; submit, return, approve."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, aliased

from lamsach.campaign.aggregate import children_totals
from lamsach.campaign.campaigns import effective_lock_date, is_participant
from lamsach.campaign.errors import (
    Conflict,
    InvalidState,
    Issue,
    NotFound,
    ValidationFailed,
)
from lamsach.campaign.permissions import Action, can, check_report_action, report_actions, require
from lamsach.campaign.templates import TemplateDef, definition_of
from lamsach.campaign.text import block
from lamsach.campaign.timeutil import local_date, utcnow
from lamsach.campaign.validation import Value, coerce_values, validate_values
from lamsach.storage.models import (
    Campaign,
    Report,
    ReportEvent,
    ReportTemplate,
    ReportValue,
    Unit,
    User,
    ValueChange,
)

STATUSES = ("draft", "submitted", "returned", "approved")
# Only ever on an unsaved report (preview_report): the unit has not begun its report yet.
NOT_STARTED = "not_started"


@dataclass(frozen=True)
class TrailEntry:
    row_code: str
    field: str  # "value" or "note"
    old_value: str | None
    new_value: str | None
    user_id: int | None
    username: str
    changed_at: datetime


@dataclass(frozen=True)
class EventEntry:
    action: str
    user_id: int | None
    username: str
    at: datetime
    comment: str


def template_of(session: Session, campaign: Campaign) -> TemplateDef:
    template = session.get(ReportTemplate, campaign.template_id)
    assert template is not None
    return definition_of(template)


def get_report(session: Session, campaign: Campaign, unit: Unit) -> Report | None:
    return session.scalar(
        select(Report).where(Report.campaign_id == campaign.id, Report.unit_id == unit.id)
    )


def get_report_by_id(session: Session, report_id: int) -> Report:
    report = session.get(Report, report_id)
    if report is None:
        raise NotFound("report.not_found", id=report_id)
    return report


def initial_values(session: Session, campaign: Campaign, unit: Unit) -> dict[str, Value]:
    """What a new report starts from: its unit's name and the sum of what the units below sent."""
    definition = template_of(session, campaign)
    values: dict[str, Value] = {}
    if definition.has_row("unit_name"):
        values["unit_name"] = unit.name
    if session.scalar(select(Unit.id).where(Unit.parent_id == unit.id).limit(1)) is not None:
        for code, total in children_totals(session, campaign, unit).items():
            values[code] = total
    return values


def _require_participant(session: Session, campaign: Campaign, unit: Unit) -> None:
    if not is_participant(session, campaign, unit):
        raise InvalidState("report.not_participating", unit=unit.code)


def preview_report(session: Session, actor: User, campaign: Campaign, unit: Unit) -> Report:
    """The unit's report for reading: the stored one, or one not started yet, never stored.

    A report nobody has saved yet comes unsaved (``id`` None, status ``not_started``, revision 0)
    with the values it would start with, so looking at it does not begin it. Nothing is added
    to the session and nothing is written.
    """
    require(actor, Action.VIEW_REPORT, unit)
    report = get_report(session, campaign, unit)
    if report is not None:
        return report
    _require_participant(session, campaign, unit)
    values = [
        ReportValue(row_code=code, number=None, text=value, note="")
        if isinstance(value, str)
        else ReportValue(row_code=code, number=value, text=None, note="")
        for code, value in initial_values(session, campaign, unit).items()
    ]
    return Report(
        campaign_id=campaign.id, unit_id=unit.id, status=NOT_STARTED, revision=0, values=values
    )


def _insert_draft(session: Session, campaign: Campaign, unit: Unit, now: datetime) -> bool:
    """Insert the unit's draft unless another request just did; True when this one created it.

    ON CONFLICT rather than a savepoint: two officers opening the same new report at once must not
    both fail, and on SQLite the release of a first savepoint commits the row on its own, so the
    draft would outlive a save that is then refused and rolled back.
    """
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    stmt = (
        insert(Report)
        .values(
            campaign_id=campaign.id,
            unit_id=unit.id,
            status="draft",
            return_comment="",
            created_at=now,
            updated_at=now,
            revision=0,
        )
        .on_conflict_do_nothing(index_elements=["campaign_id", "unit_id"])
        .returning(Report.id)
    )
    return session.execute(stmt).scalar() is not None


def open_report(
    session: Session, actor: User, campaign: Campaign, unit: Unit, *, now: datetime | None = None
) -> Report:
    """The unit's report, created as a draft when someone who may edit opens it first.

    A reader who may not edit gets an unsaved empty draft (``id`` is None) instead.
    """
    require(actor, Action.VIEW_REPORT, unit)
    report = get_report(session, campaign, unit)
    if report is not None:
        return report
    _require_participant(session, campaign, unit)
    if not can(actor, Action.EDIT_REPORT, unit):
        return Report(campaign_id=campaign.id, unit_id=unit.id, status="draft", values=[])
    now = now or utcnow()
    created = _insert_draft(session, campaign, unit, now)
    report = get_report(session, campaign, unit)
    assert report is not None
    if not created:
        return report
    for code, value in initial_values(session, campaign, unit).items():
        _set(session, report, code, "value", value, actor, now)
    session.add(ReportEvent(report_id=report.id, action="created", user_id=actor.id, at=now))
    session.flush()
    return report


def values_of(report: Report) -> dict[str, Value]:
    return {v.row_code: (v.number if v.text is None else v.text) for v in report.values}


def notes_of(report: Report) -> dict[str, str]:
    return {v.row_code: v.note for v in report.values if v.note}


def _text(value: Value) -> str | None:
    return None if value is None else str(value)


def _set(
    session: Session,
    report: Report,
    code: str,
    field: str,
    value: Value,
    actor: User | None,
    now: datetime,
) -> bool:
    """Set one field, recording old and new in the trail; False when nothing changed."""
    current = next((v for v in report.values if v.row_code == code), None)
    if current is None:
        current = ReportValue(row_code=code, number=None, text=None, note="")
        report.values.append(current)
    if field == "note":
        old: Value = current.note or None
        current.note = str(value or "")
        new: Value = current.note or None
    else:
        old = current.number if current.text is None else current.text
        if isinstance(value, int):
            current.number, current.text = value, None
        else:
            current.number, current.text = None, value
        new = value
    if old == new:
        return False
    session.add(
        ValueChange(
            report_id=report.id,
            row_code=code,
            field=field,
            old_value=_text(old),
            new_value=_text(new),
            user_id=actor.id if actor else None,
            changed_at=now,
        )
    )
    return True


def _context(session: Session, report: Report) -> tuple[Campaign, Unit, date]:
    campaign = session.get(Campaign, report.campaign_id)
    unit = session.get(Unit, report.unit_id)
    assert campaign is not None and unit is not None
    return campaign, unit, effective_lock_date(session, campaign, unit)


def allowed_actions(
    session: Session, actor: User, report: Report, *, now: datetime | None = None
) -> set[Action]:
    """The report actions to offer ``actor`` now (buttons on the form)."""
    _campaign, unit, lock = _context(session, report)
    today = local_date(now or utcnow())
    if report.id is None:
        # Not begun: saving or submitting creates its draft, so offer what a draft would allow.
        begun = Report(campaign_id=report.campaign_id, unit_id=report.unit_id, status="draft")
        allowed = report_actions(actor, begun, unit, lock, today)
        return allowed & {Action.EDIT_REPORT, Action.SUBMIT_REPORT}
    return report_actions(actor, report, unit, lock, today)


def _bump(session: Session, report: Report, expected: int | None, now: datetime) -> None:
    """Advance the report's revision; refuse if another save got there first."""
    current = report.revision if expected is None else expected
    result = session.execute(
        update(Report)
        .where(Report.id == report.id, Report.revision == current)
        .values(revision=current + 1, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict("report.changed", id=report.id)
    session.refresh(report, ["revision", "updated_at"])


def save_values(
    session: Session,
    actor: User,
    report: Report,
    values: Mapping[str, object],
    notes: Mapping[str, str] | None = None,
    *,
    expected_revision: int | None = None,
    now: datetime | None = None,
) -> Report:
    """Save some rows of a draft or returned report; every error is listed and nothing is saved."""
    now = now or utcnow()
    campaign, unit, lock = _context(session, report)
    check_report_action(actor, Action.EDIT_REPORT, report, unit, lock, local_date(now))
    definition = template_of(session, campaign)
    typed, issues = coerce_values(definition, values)
    for code in notes or {}:
        if not definition.has_row(code):
            issues.append(Issue(code, "value.unknown_row"))
    merged = {**values_of(report), **typed}
    issues.extend(i for i in validate_values(definition, merged) if i not in issues)
    if issues:
        raise ValidationFailed(issues)
    _bump(session, report, expected_revision, now)
    for code, value in typed.items():
        _set(session, report, code, "value", value, actor, now)
    for code, note in (notes or {}).items():
        _set(session, report, code, "note", block(note)[:2000], actor, now)
    session.flush()
    return report


def refresh_from_children(
    session: Session, actor: User, report: Report, *, now: datetime | None = None
) -> Report:
    """Reset the summed rows of a parent's report to what its units have reported by now."""
    campaign, unit, _ = _context(session, report)
    totals = children_totals(session, campaign, unit)
    return save_values(session, actor, report, dict(totals), now=now)


def check_report(session: Session, report: Report) -> list[Issue]:
    """The problems that would stop a submission (for showing them beforehand)."""
    campaign = session.get(Campaign, report.campaign_id)
    assert campaign is not None
    return validate_values(template_of(session, campaign), values_of(report), complete=True)


def submit_report(
    session: Session, actor: User, report: Report, *, now: datetime | None = None
) -> Report:
    """Send the report up; on time is decided once, by the first submission's day in Vietnam."""
    now = now or utcnow()
    campaign, unit, lock = _context(session, report)
    check_report_action(actor, Action.SUBMIT_REPORT, report, unit, lock, local_date(now))
    issues = check_report(session, report)
    if issues:
        raise ValidationFailed(issues)
    _bump(session, report, None, now)
    report.status = "submitted"
    report.submitted_at, report.submitted_by_id = now, actor.id
    if report.first_submitted_at is None:
        report.first_submitted_at = now
        report.on_time = local_date(now) <= campaign.deadline
    session.add(ReportEvent(report_id=report.id, action="submitted", user_id=actor.id, at=now))
    session.flush()
    return report


def return_report(
    session: Session, actor: User, report: Report, comment: str, *, now: datetime | None = None
) -> Report:
    """Send the report back to its unit with the reason; it can be edited and submitted again."""
    now = now or utcnow()
    _campaign, unit, lock = _context(session, report)
    check_report_action(actor, Action.RETURN_REPORT, report, unit, lock, local_date(now))
    if not block(comment):
        raise ValidationFailed([Issue("comment", "comment.required")])
    _bump(session, report, None, now)
    report.status = "returned"
    report.returned_at, report.returned_by_id = now, actor.id
    report.return_comment = block(comment)
    report.approved_at, report.approved_by_id = None, None
    session.add(
        ReportEvent(
            report_id=report.id, action="returned", user_id=actor.id, at=now, comment=comment
        )
    )
    session.flush()
    return report


def approve_report(
    session: Session, actor: User, report: Report, *, now: datetime | None = None
) -> Report:
    """Accept a submitted report; it is then locked for its unit."""
    now = now or utcnow()
    _campaign, unit, lock = _context(session, report)
    check_report_action(actor, Action.APPROVE_REPORT, report, unit, lock, local_date(now))
    _bump(session, report, None, now)
    report.status = "approved"
    report.approved_at, report.approved_by_id = now, actor.id
    session.add(ReportEvent(report_id=report.id, action="approved", user_id=actor.id, at=now))
    session.flush()
    return report


def value_trail(session: Session, report: Report, row_code: str | None = None) -> list[TrailEntry]:
    """Every change of the report's values, oldest first, with who made it."""
    author = aliased(User)
    stmt = (
        select(ValueChange, author.username)
        .outerjoin(author, author.id == ValueChange.user_id)
        .where(ValueChange.report_id == report.id)
        .order_by(ValueChange.changed_at, ValueChange.id)
    )
    if row_code is not None:
        stmt = stmt.where(ValueChange.row_code == row_code)
    return [
        TrailEntry(
            c.row_code, c.field, c.old_value, c.new_value, c.user_id, name or "", c.changed_at
        )
        for c, name in session.execute(stmt)
    ]


def report_history(session: Session, report: Report) -> list[EventEntry]:
    author = aliased(User)
    stmt = (
        select(ReportEvent, author.username)
        .outerjoin(author, author.id == ReportEvent.user_id)
        .where(ReportEvent.report_id == report.id)
        .order_by(ReportEvent.at, ReportEvent.id)
    )
    return [
        EventEntry(e.action, e.user_id, name or "", e.at, e.comment)
        for e, name in session.execute(stmt)
    ]
