"""A user's to-do list: forms due, overdue or returned, and reports waiting for their review."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from lamsach.campaign.permissions import Action, scope_units, unit_filter
from lamsach.campaign.timeutil import local_date, utcnow
from lamsach.storage.models import Campaign, CampaignUnit, LockException, Report, Unit, User

REVIEW_LIMIT = 500


@dataclass(frozen=True)
class Task:
    kind: str  # due, overdue, returned, review
    campaign_id: int
    campaign_name: str
    unit_id: int
    unit_code: str
    unit_name: str
    report_id: int | None
    status: str  # not_started, draft, returned, submitted
    deadline: date
    lock_date: date
    days_left: int  # negative when overdue
    comment: str = ""


def tasks_for(session: Session, user: User, *, now: datetime | None = None) -> list[Task]:
    """Forms the user's own units still owe (campaigns started, not locked), then reviews."""
    today = local_date(now or utcnow())
    own_ids = [u.id for u in scope_units(user, Action.EDIT_REPORT)]
    tasks: list[Task] = []
    if own_ids:
        stmt = (
            select(Campaign, Unit, Report, LockException.lock_date)
            .join(CampaignUnit, CampaignUnit.campaign_id == Campaign.id)
            .join(Unit, Unit.id == CampaignUnit.unit_id)
            .outerjoin(Report, and_(Report.unit_id == Unit.id, Report.campaign_id == Campaign.id))
            .outerjoin(
                LockException,
                and_(LockException.unit_id == Unit.id, LockException.campaign_id == Campaign.id),
            )
            .where(Unit.id.in_(own_ids), Campaign.start_date <= today)
        )
        for campaign, unit, report, extended in session.execute(stmt):
            status = report.status if report is not None else "not_started"
            if status not in ("not_started", "draft", "returned"):
                continue
            lock = max(campaign.lock_date, extended) if extended else campaign.lock_date
            if today > lock:
                continue
            days_left = (campaign.deadline - today).days
            kind = "returned" if status == "returned" else ("overdue" if days_left < 0 else "due")
            tasks.append(
                Task(
                    kind=kind,
                    campaign_id=campaign.id,
                    campaign_name=campaign.name,
                    unit_id=unit.id,
                    unit_code=unit.code,
                    unit_name=unit.name,
                    report_id=report.id if report is not None else None,
                    status=status,
                    deadline=campaign.deadline,
                    lock_date=lock,
                    days_left=days_left,
                    comment=report.return_comment if report is not None else "",
                )
            )
    review = (
        select(Campaign, Unit, Report)
        .join(Report, Report.campaign_id == Campaign.id)
        .join(Unit, Unit.id == Report.unit_id)
        .where(Report.status == "submitted", unit_filter(user, Action.APPROVE_REPORT))
        .order_by(Report.submitted_at)
        .limit(REVIEW_LIMIT)
    )
    for campaign, unit, report in session.execute(review):
        tasks.append(
            Task(
                kind="review",
                campaign_id=campaign.id,
                campaign_name=campaign.name,
                unit_id=unit.id,
                unit_code=unit.code,
                unit_name=unit.name,
                report_id=report.id,
                status=report.status,
                deadline=campaign.deadline,
                lock_date=campaign.lock_date,
                days_left=(campaign.deadline - today).days,
            )
        )
    order = {"returned": 0, "overdue": 1, "due": 2, "review": 3}
    tasks.sort(key=lambda t: (order[t.kind], t.deadline, t.unit_name))
    return tasks
