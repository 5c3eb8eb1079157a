"""Campaigns: directive references, dates (deadline and a separate lock date), units, exceptions."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from sqlalchemy import delete, exists, insert, literal, or_, select
from sqlalchemy.orm import Session

from lamsach.campaign import audit
from lamsach.campaign.errors import Conflict, Issue, NotFound, PermissionDenied, ValidationFailed
from lamsach.campaign.permissions import Action, can, require, unit_filter
from lamsach.campaign.text import block, one_line
from lamsach.storage.models import (
    Campaign,
    CampaignUnit,
    LockException,
    Report,
    ReportTemplate,
    Unit,
    User,
)


@dataclass(frozen=True)
class CampaignFields:
    name: str
    start_date: date
    deadline: date
    lock_date: date
    directive_refs: tuple[str, ...] = ()
    description: str = ""


def _check(fields: CampaignFields) -> list[Issue]:
    issues: list[Issue] = []
    if not fields.name.strip():
        issues.append(Issue("name", "field.required"))
    if not fields.start_date <= fields.deadline <= fields.lock_date:
        issues.append(Issue("deadline", "campaign.bad_dates"))
    return issues


def create_campaign(
    session: Session,
    actor: User | None,
    fields: CampaignFields,
    *,
    owner_unit: Unit,
    template: ReportTemplate,
    participants: Iterable[Unit] | None = None,
) -> Campaign:
    """A campaign run by ``owner_unit``; by default every unit of its subtree takes part."""
    if actor is not None:
        require(actor, Action.MANAGE_CAMPAIGNS, owner_unit)
    issues = _check(fields)
    if issues:
        raise ValidationFailed(issues)
    campaign = Campaign(
        name=one_line(fields.name),
        description=block(fields.description),
        directive_refs=[ref for ref in map(one_line, fields.directive_refs) if ref],
        owner_unit_id=owner_unit.id,
        template_id=template.id,
        start_date=fields.start_date,
        deadline=fields.deadline,
        lock_date=fields.lock_date,
    )
    session.add(campaign)
    session.flush()
    if participants is None:
        session.execute(
            insert(CampaignUnit).from_select(
                ["campaign_id", "unit_id"],
                select(literal(campaign.id), Unit.id).where(Unit.path.like(owner_unit.path + "%")),
            )
        )
    else:
        set_participants(session, None, campaign, participants)
    audit.record(session, "campaign.create", user=actor, target=campaign.name)
    return campaign


def update_campaign(
    session: Session,
    actor: User | None,
    campaign: Campaign,
    fields: CampaignFields,
    *,
    template: ReportTemplate | None = None,
) -> Campaign:
    if actor is not None:
        require(actor, Action.MANAGE_CAMPAIGNS, campaign.owner_unit)
    issues = _check(fields)
    if issues:
        raise ValidationFailed(issues)
    campaign.name = one_line(fields.name)
    campaign.description = block(fields.description)
    campaign.directive_refs = [ref for ref in map(one_line, fields.directive_refs) if ref]
    campaign.start_date, campaign.deadline = fields.start_date, fields.deadline
    campaign.lock_date = fields.lock_date
    if template is not None and template.id != campaign.template_id:
        # Reports hold values by the rows of their template: it is fixed once one exists.
        if session.scalar(select(Report.id).where(Report.campaign_id == campaign.id).limit(1)):
            raise Conflict("campaign.has_reports", campaign=campaign.name)
        campaign.template_id = template.id
    session.flush()
    audit.record(session, "campaign.update", user=actor, target=campaign.name)
    return campaign


def set_participants(
    session: Session, actor: User | None, campaign: Campaign, units: Iterable[Unit]
) -> None:
    """Replace the units taking part; each must lie in the owner's subtree."""
    owner = session.get(Unit, campaign.owner_unit_id)
    assert owner is not None
    if actor is not None:
        require(actor, Action.MANAGE_CAMPAIGNS, owner)
    chosen = {u.id: u for u in units}
    outside = [u.code for u in chosen.values() if not u.path.startswith(owner.path)]
    if outside:
        raise ValidationFailed(
            [Issue("units", "campaign.unit_outside", {"value": c}) for c in outside]
        )
    session.execute(delete(CampaignUnit).where(CampaignUnit.campaign_id == campaign.id))
    if chosen:
        session.execute(
            insert(CampaignUnit), [{"campaign_id": campaign.id, "unit_id": i} for i in chosen]
        )
    session.flush()
    if actor is not None:
        audit.record(
            session,
            "campaign.units",
            user=actor,
            target=campaign.name,
            detail={"count": len(chosen)},
        )


def get_campaign(session: Session, campaign_id: int) -> Campaign:
    campaign = session.get(Campaign, campaign_id)
    if campaign is None:
        raise NotFound("campaign.not_found", id=campaign_id)
    return campaign


def list_campaigns(session: Session, user: User) -> list[Campaign]:
    """Campaigns in which the user can see at least one participating unit."""
    visible = (
        select(CampaignUnit.campaign_id)
        .join(Unit, Unit.id == CampaignUnit.unit_id)
        .where(unit_filter(user, Action.VIEW_REPORT))
    )
    owned = select(Campaign.id).join(Unit, Unit.id == Campaign.owner_unit_id)
    owned = owned.where(unit_filter(user, Action.VIEW_DASHBOARD))
    stmt = select(Campaign).where(or_(Campaign.id.in_(visible), Campaign.id.in_(owned)))
    return list(session.scalars(stmt.order_by(Campaign.start_date.desc(), Campaign.id.desc())))


def is_participant(session: Session, campaign: Campaign, unit: Unit) -> bool:
    return bool(
        session.scalar(
            select(
                exists().where(
                    CampaignUnit.campaign_id == campaign.id, CampaignUnit.unit_id == unit.id
                )
            )
        )
    )


def participant_units(session: Session, campaign: Campaign, root: Unit | None = None) -> list[Unit]:
    stmt = select(Unit).join(CampaignUnit, CampaignUnit.unit_id == Unit.id)
    stmt = stmt.where(CampaignUnit.campaign_id == campaign.id)
    if root is not None:
        stmt = stmt.where(Unit.path.like(root.path + "%"))
    return list(session.scalars(stmt.order_by(Unit.path)))


def effective_lock_date(session: Session, campaign: Campaign, unit: Unit) -> date:
    """The campaign's lock date, or the unit's extension when it has one."""
    extended = session.scalar(
        select(LockException.lock_date).where(
            LockException.campaign_id == campaign.id, LockException.unit_id == unit.id
        )
    )
    return max(campaign.lock_date, extended) if extended else campaign.lock_date


def lock_exceptions(session: Session, campaign: Campaign) -> list[LockException]:
    return list(
        session.scalars(
            select(LockException)
            .where(LockException.campaign_id == campaign.id)
            .order_by(LockException.lock_date)
        )
    )


def grant_exception(
    session: Session,
    actor: User | None,
    campaign: Campaign,
    unit: Unit,
    lock_date: date,
    reason: str = "",
) -> LockException:
    """Let ``unit`` edit until ``lock_date`` (a later date than the campaign's lock date)."""
    if actor is not None and not can(actor, Action.GRANT_EXCEPTION, unit):
        raise PermissionDenied(
            "permission.denied", action=Action.GRANT_EXCEPTION.value, unit=unit.code
        )
    if lock_date <= campaign.lock_date:
        raise ValidationFailed(
            [
                Issue(
                    "lock_date",
                    "exception.before_lock",
                    {"lock_date": campaign.lock_date.isoformat()},
                )
            ]
        )
    found = session.scalar(
        select(LockException).where(
            LockException.campaign_id == campaign.id, LockException.unit_id == unit.id
        )
    )
    if found is None:
        found = LockException(campaign_id=campaign.id, unit_id=unit.id, lock_date=lock_date)
        session.add(found)
    found.lock_date, found.reason = lock_date, block(reason)
    found.granted_by_id = actor.id if actor else None
    session.flush()
    audit.record(
        session,
        "campaign.exception",
        user=actor,
        target=unit.code,
        detail={"campaign": campaign.id, "lock_date": lock_date.isoformat()},
    )
    return found


def revoke_exception(session: Session, actor: User | None, campaign: Campaign, unit: Unit) -> None:
    if actor is not None and not can(actor, Action.GRANT_EXCEPTION, unit):
        raise PermissionDenied(
            "permission.denied", action=Action.GRANT_EXCEPTION.value, unit=unit.code
        )
    session.execute(
        delete(LockException).where(
            LockException.campaign_id == campaign.id, LockException.unit_id == unit.id
        )
    )
    session.flush()
    audit.record(
        session,
        "campaign.exception_revoke",
        user=actor,
        target=unit.code,
        detail={"campaign": campaign.id},
    )
