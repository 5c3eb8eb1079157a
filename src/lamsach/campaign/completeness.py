"""Who has reported: reporting and on-time rates for a subtree, per level and kind, days late."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from lamsach.campaign.aggregate import subtree_totals
from lamsach.campaign.timeutil import local_date, utcnow
from lamsach.storage.models import Campaign, CampaignUnit, LockException, Report, Unit

REPORTED = ("submitted", "approved")
NOT_STARTED = "not_started"


@dataclass(frozen=True, slots=True)
class UnitStatus:
    unit_id: int
    code: str
    name: str
    kind: str
    depth: int  # below the root: 1 for its children
    parent_id: int | None
    status: str  # not_started, draft, submitted, returned, approved
    report_id: int | None
    first_submitted_at: datetime | None
    submitted_at: datetime | None
    on_time: bool | None
    days_late: int  # late submission, or overdue so far when not reported; 0 otherwise
    lock_date: date


@dataclass
class Rates:
    expected: int = 0
    reported: int = 0  # submitted or approved
    on_time: int = 0
    late: int = 0
    approved: int = 0
    returned: int = 0
    draft: int = 0
    not_started: int = 0

    @property
    def reporting_rate(self) -> float:
        return self.reported / self.expected if self.expected else 0.0

    @property
    def on_time_rate(self) -> float:
        return self.on_time / self.expected if self.expected else 0.0

    def add(self, status: UnitStatus) -> None:
        self.expected += 1
        if status.status in REPORTED:
            self.reported += 1
            if status.on_time:
                self.on_time += 1
            else:
                self.late += 1
        if status.status == "approved":
            self.approved += 1
        elif status.status == "returned":
            self.returned += 1
        elif status.status == "draft":
            self.draft += 1
        elif status.status == NOT_STARTED:
            self.not_started += 1


@dataclass
class Completeness:
    campaign_id: int
    root_id: int
    today: date
    deadline: date
    overall: Rates
    by_level: dict[int, Rates]
    by_kind: dict[str, Rates]
    units: list[UnitStatus]  # the units below the root that take part, in path order
    own: UnitStatus | None  # the root's own report, when the root takes part
    totals: dict[str, int]  # summed figures of the received reports below the root
    timeline: list[tuple[date, int]] = field(default_factory=list)  # day, reports received so far


def completeness(
    session: Session,
    campaign: Campaign,
    root: Unit,
    *,
    now: datetime | None = None,
    with_totals: bool = True,
) -> Completeness:
    """The campaign's completeness below ``root`` in two queries and one pass (10,000 units ok)."""
    today = local_date(now or utcnow())
    stmt = (
        select(
            Unit.id,
            Unit.code,
            Unit.name,
            Unit.kind,
            Unit.depth,
            Unit.parent_id,
            Unit.path,
            Report.id,
            Report.status,
            Report.first_submitted_at,
            Report.submitted_at,
            Report.on_time,
            LockException.lock_date,
        )
        .join(CampaignUnit, CampaignUnit.unit_id == Unit.id)
        .outerjoin(Report, and_(Report.unit_id == Unit.id, Report.campaign_id == campaign.id))
        .outerjoin(
            LockException,
            and_(LockException.unit_id == Unit.id, LockException.campaign_id == campaign.id),
        )
        .where(CampaignUnit.campaign_id == campaign.id, Unit.path.like(root.path + "%"))
    )
    overall = Rates()
    by_level: dict[int, Rates] = {}
    by_kind: dict[str, Rates] = {}
    units: list[tuple[str, UnitStatus]] = []
    own: UnitStatus | None = None
    received: dict[date, int] = {}
    counted: list[tuple[int, str]] = []
    # Core rows, not ORM ones: 10,000 of them come back several times faster.
    for row in session.connection().execute(stmt):
        (uid, code, name, kind, depth, parent_id, path, rid, status, first, last, on_time, ext) = (
            row
        )
        status = status or NOT_STARTED
        if status in REPORTED and first is not None:
            late = (local_date(first) - campaign.deadline).days
        elif status in REPORTED:
            late = 0
        else:
            late = (today - campaign.deadline).days
        item = UnitStatus(
            unit_id=uid,
            code=code,
            name=name,
            kind=kind,
            depth=depth - root.depth,
            parent_id=parent_id,
            status=status,
            report_id=rid,
            first_submitted_at=first,
            submitted_at=last,
            on_time=bool(on_time) if status in REPORTED else None,
            days_late=max(0, late),
            lock_date=max(campaign.lock_date, ext) if ext else campaign.lock_date,
        )
        if uid == root.id:
            own = item
            continue
        units.append((path, item))
        if status in REPORTED:
            counted.append((rid, path))
        overall.add(item)
        by_level.setdefault(item.depth, Rates()).add(item)
        by_kind.setdefault(kind, Rates()).add(item)
        if status in REPORTED and first is not None:
            day = local_date(first)
            received[day] = received.get(day, 0) + 1
    units.sort(key=lambda pair: pair[0])
    timeline: list[tuple[date, int]] = []
    running = 0
    for day in sorted(received):
        running += received[day]
        timeline.append((day, running))
    return Completeness(
        campaign_id=campaign.id,
        root_id=root.id,
        today=today,
        deadline=campaign.deadline,
        overall=overall,
        by_level=dict(sorted(by_level.items())),
        by_kind=dict(sorted(by_kind.items())),
        units=[item for _, item in units],
        own=own,
        totals=subtree_totals(session, campaign, root, reports=counted) if with_totals else {},
        timeline=timeline,
    )
