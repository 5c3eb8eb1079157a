"""Pydantic schemas shared by the pages and the JSON API, and the one filter of unit lists."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from lamsach.campaign.completeness import Completeness, Rates, UnitStatus
from lamsach.campaign.tasks import Task
from lamsach.storage.models import Campaign, ReportTemplate, Unit, User

ReportStatus = Literal["not_started", "draft", "submitted", "returned", "approved"]


class RoleOut(BaseModel):
    id: int
    role: str
    unit_id: int
    unit_code: str
    unit_name: str


class UserOut(BaseModel):
    id: int
    username: str
    full_name: str
    email: str
    locale: str
    is_active: bool
    roles: list[RoleOut]


def user_out(user: User) -> UserOut:
    return UserOut(
        id=user.id,
        username=user.username,
        full_name=user.full_name,
        email=user.email,
        locale=user.locale,
        is_active=user.is_active,
        roles=[
            RoleOut(
                id=a.id,
                role=a.role,
                unit_id=a.unit_id,
                unit_code=a.unit.code,
                unit_name=a.unit.name,
            )
            for a in user.roles
        ],
    )


class UserIn(BaseModel):
    username: str = Field(max_length=64)
    password: str = Field(max_length=1000)
    full_name: str = Field(default="", max_length=255)
    email: str = Field(default="", max_length=255)
    locale: str = "vi"
    role: str | None = None
    unit_id: int | None = None


class UserPatch(BaseModel):
    password: str | None = Field(default=None, max_length=1000)
    is_active: bool | None = None


class RoleIn(BaseModel):
    role: str
    unit_id: int


class UnitOut(BaseModel):
    id: int
    code: str
    name: str
    kind: str
    parent_id: int | None
    depth: int
    contact_person: str
    contact_email: str
    contact_phone: str
    networks: list[str]


def unit_out(unit: Unit) -> UnitOut:
    return UnitOut(
        id=unit.id,
        code=unit.code,
        name=unit.name,
        kind=unit.kind,
        parent_id=unit.parent_id,
        depth=unit.depth,
        contact_person=unit.contact_person,
        contact_email=unit.contact_email,
        contact_phone=unit.contact_phone,
        networks=list(unit.networks or []),
    )


class UnitIn(BaseModel):
    code: str = Field(max_length=64)
    name: str = Field(max_length=255)
    kind: str = Field(max_length=32)
    parent_id: int | None = None
    contact_person: str = Field(default="", max_length=255)
    contact_email: str = Field(default="", max_length=255)
    contact_phone: str = Field(default="", max_length=64)
    networks: list[str] = Field(default_factory=list)


class ImportOut(BaseModel):
    created: int
    updated: int


class CampaignOut(BaseModel):
    id: int
    name: str
    description: str
    directive_refs: list[str]
    owner_unit_id: int
    template_id: int
    start_date: date
    deadline: date
    lock_date: date


def campaign_out(campaign: Campaign) -> CampaignOut:
    return CampaignOut(
        id=campaign.id,
        name=campaign.name,
        description=campaign.description,
        directive_refs=list(campaign.directive_refs or []),
        owner_unit_id=campaign.owner_unit_id,
        template_id=campaign.template_id,
        start_date=campaign.start_date,
        deadline=campaign.deadline,
        lock_date=campaign.lock_date,
    )


class CampaignIn(BaseModel):
    name: str = Field(max_length=255)
    description: str = Field(default="", max_length=5000)
    directive_refs: list[str] = Field(default_factory=list)
    owner_unit_id: int
    template_id: int
    start_date: date
    deadline: date
    lock_date: date
    participant_ids: list[int] | None = None


class ParticipantsIn(BaseModel):
    unit_ids: list[int]


class ExceptionIn(BaseModel):
    unit_id: int
    lock_date: date
    reason: str = Field(default="", max_length=2000)


class ExceptionOut(BaseModel):
    unit_id: int
    lock_date: date
    reason: str


class TaskOut(BaseModel):
    kind: str
    campaign_id: int
    campaign_name: str
    unit_id: int
    unit_code: str
    unit_name: str
    report_id: int | None
    status: str
    deadline: date
    lock_date: date
    days_left: int
    comment: str


def task_out(task: Task) -> TaskOut:
    return TaskOut(**asdict(task))


class ValuesIn(BaseModel):
    """Values by row code (numbers may be typed as "1.234"), notes by row code."""

    values: dict[str, int | str | None] = Field(default_factory=dict)
    notes: dict[str, str] = Field(default_factory=dict)
    revision: int | None = None


class CommentIn(BaseModel):
    comment: str = Field(max_length=5000)


class TrailOut(BaseModel):
    row_code: str
    field: str
    old_value: str | None
    new_value: str | None
    username: str
    changed_at: datetime


class EventOut(BaseModel):
    action: str
    username: str
    at: datetime
    comment: str


class IssueOut(BaseModel):
    field: str
    code: str
    message: str


class ReportOut(BaseModel):
    id: int | None
    campaign_id: int
    unit_id: int
    status: str
    revision: int
    on_time: bool | None
    first_submitted_at: datetime | None
    submitted_at: datetime | None
    return_comment: str
    values: dict[str, int | str | None]
    notes: dict[str, str]
    allowed_actions: list[str]
    lock_date: date
    trail: list[TrailOut]
    history: list[EventOut]


class RatesOut(BaseModel):
    expected: int
    reported: int
    on_time: int
    late: int
    approved: int
    returned: int
    draft: int
    not_started: int
    reporting_rate: float
    on_time_rate: float


def rates_out(rates: Rates) -> RatesOut:
    return RatesOut(
        **{
            k: getattr(rates, k)
            for k in RatesOut.model_fields
            if k not in ("reporting_rate", "on_time_rate")
        },
        reporting_rate=rates.reporting_rate,
        on_time_rate=rates.on_time_rate,
    )


class UnitStatusOut(BaseModel):
    unit_id: int
    code: str
    name: str
    kind: str
    depth: int
    parent_id: int | None
    status: str
    report_id: int | None
    first_submitted_at: datetime | None
    submitted_at: datetime | None
    on_time: bool | None
    days_late: int
    lock_date: date


class UnitStatusFilter(BaseModel):
    """The filter of the dashboard's unit table, the same for the page and the API."""

    status: ReportStatus | Literal["reported", "missing", ""] = ""
    kind: str = ""
    depth: int | None = Field(default=None, ge=1)
    late: bool = False
    q: str = Field(default="", max_length=100)

    def keep(self, item: UnitStatus) -> bool:
        if self.status == "reported" and item.status not in ("submitted", "approved"):
            return False
        if self.status == "missing" and item.status in ("submitted", "approved"):
            return False
        if self.status not in ("", "reported", "missing") and item.status != self.status:
            return False
        if self.kind and item.kind != self.kind:
            return False
        if self.depth is not None and item.depth != self.depth:
            return False
        if self.late and item.days_late <= 0:
            return False
        needle = self.q.strip().casefold()
        return not needle or needle in item.name.casefold() or needle in item.code.casefold()

    def apply(self, items: list[UnitStatus]) -> list[UnitStatus]:
        return [item for item in items if self.keep(item)]


class CompletenessOut(BaseModel):
    campaign_id: int
    root_id: int
    today: date
    deadline: date
    overall: RatesOut
    by_level: dict[int, RatesOut]
    by_kind: dict[str, RatesOut]
    units: list[UnitStatusOut]
    own: UnitStatusOut | None
    totals: dict[str, int]
    timeline: list[tuple[date, int]]


def completeness_out(result: Completeness, units: list[UnitStatus]) -> CompletenessOut:
    return CompletenessOut(
        campaign_id=result.campaign_id,
        root_id=result.root_id,
        today=result.today,
        deadline=result.deadline,
        overall=rates_out(result.overall),
        by_level={k: rates_out(v) for k, v in result.by_level.items()},
        by_kind={k: rates_out(v) for k, v in result.by_kind.items()},
        units=[UnitStatusOut(**asdict(u)) for u in units],
        own=UnitStatusOut(**asdict(result.own)) if result.own else None,
        totals=result.totals,
        timeline=result.timeline,
    )


class TemplateOut(BaseModel):
    id: int
    code: str
    version: int
    name_vi: str
    name_en: str
    builtin: bool
    definition: dict[str, Any]


def template_out(template: ReportTemplate) -> TemplateOut:
    return TemplateOut(
        id=template.id,
        code=template.code,
        version=template.version,
        name_vi=template.name_vi,
        name_en=template.name_en,
        builtin=template.builtin,
        definition=template.definition,
    )


class TemplateIn(BaseModel):
    definition: dict[str, Any]
    name_vi: str | None = None
    name_en: str | None = None


class TemplateCopyIn(BaseModel):
    code: str | None = None


class AuditOut(BaseModel):
    at: datetime
    username: str
    action: str
    target: str
    success: bool
    client_ip: str
    detail: dict[str, Any]
