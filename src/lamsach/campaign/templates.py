"""Report templates as versioned data: sections, rows, rules between rows; built-in Appendix 01."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lamsach.campaign import audit
from lamsach.campaign.errors import Conflict, Issue, NotFound, ValidationFailed
from lamsach.campaign.permissions import Action, require_anywhere
from lamsach.campaign.text import one_line
from lamsach.storage.models import Campaign, ReportTemplate, User

ROW_TYPES = ("count", "text")
AGGREGATES = ("sum", "none")
OPERATORS = ("<=", "<", ">=", ">", "==")


@dataclass(frozen=True)
class RowDef:
    code: str
    label_vi: str
    label_en: str
    type: str = "count"
    number: str = ""  # the STT shown in the table ("1", "2", "2.1" ...)
    aggregate: str = "sum"
    required: bool = True
    multiline: bool = False


@dataclass(frozen=True)
class SectionDef:
    code: str
    label_vi: str
    label_en: str
    rows: tuple[RowDef, ...]


@dataclass(frozen=True)
class RuleDef:
    """``left op right`` between two count rows, checked when both have a value."""

    left: str
    op: str
    right: str


@dataclass(frozen=True)
class TemplateDef:
    sections: tuple[SectionDef, ...]
    rules: tuple[RuleDef, ...] = ()
    _index: dict[str, RowDef] = field(default_factory=dict, compare=False, repr=False)

    @property
    def rows(self) -> list[RowDef]:
        return [row for section in self.sections for row in section.rows]

    def row(self, code: str) -> RowDef:
        if not self._index:
            self._index.update({r.code: r for r in self.rows})
        return self._index[code]

    def has_row(self, code: str) -> bool:
        return any(r.code == code for r in self.rows)

    @property
    def count_rows(self) -> list[RowDef]:
        return [r for r in self.rows if r.type == "count"]

    @property
    def summed_rows(self) -> list[RowDef]:
        return [r for r in self.rows if r.type == "count" and r.aggregate == "sum"]


def parse_definition(data: dict[str, Any]) -> TemplateDef:
    """Check a template's JSON definition and build it; lists every problem found."""
    issues: list[Issue] = []
    sections: list[SectionDef] = []
    seen: dict[str, str] = {}
    raw_sections = data.get("sections")
    if not isinstance(raw_sections, list) or not raw_sections:
        raise ValidationFailed([Issue("sections", "template.no_sections")])
    for s_index, raw in enumerate(raw_sections):
        where = f"sections[{s_index}]"
        if not isinstance(raw, dict):
            issues.append(Issue(where, "template.bad_section"))
            continue
        rows: list[RowDef] = []
        for r_index, raw_row in enumerate(raw.get("rows") or []):
            row_where = f"{where}.rows[{r_index}]"
            try:
                row = RowDef(
                    code=str(raw_row["code"]).strip(),
                    label_vi=one_line(str(raw_row["label_vi"])),
                    label_en=one_line(str(raw_row.get("label_en") or raw_row["label_vi"])),
                    type=str(raw_row.get("type", "count")),
                    number=str(raw_row.get("number", "")),
                    aggregate=str(
                        raw_row.get(
                            "aggregate",
                            "sum" if raw_row.get("type", "count") == "count" else "none",
                        )
                    ),
                    required=bool(raw_row.get("required", True)),
                    multiline=bool(raw_row.get("multiline", False)),
                )
            except (KeyError, TypeError):
                issues.append(Issue(row_where, "template.bad_row"))
                continue
            if not row.code or not row.code.replace("_", "").isalnum():
                issues.append(Issue(row_where, "template.bad_row_code", {"value": row.code}))
            if row.code in seen:
                issues.append(Issue(row_where, "template.duplicate_row", {"value": row.code}))
            if row.type not in ROW_TYPES:
                issues.append(Issue(row_where, "template.bad_type", {"value": row.type}))
            if row.aggregate not in AGGREGATES or (row.type == "text" and row.aggregate == "sum"):
                issues.append(Issue(row_where, "template.bad_aggregate", {"value": row.aggregate}))
            if not row.label_vi:
                issues.append(Issue(row_where, "template.no_label"))
            seen[row.code] = row.type
            rows.append(row)
        sections.append(
            SectionDef(
                code=str(raw.get("code", f"s{s_index + 1}")),
                label_vi=str(raw.get("label_vi", "")),
                label_en=str(raw.get("label_en", raw.get("label_vi", ""))),
                rows=tuple(rows),
            )
        )
    rules: list[RuleDef] = []
    for index, raw_rule in enumerate(data.get("rules") or []):
        where = f"rules[{index}]"
        try:
            rule = RuleDef(str(raw_rule["left"]), str(raw_rule["op"]), str(raw_rule["right"]))
        except (KeyError, TypeError):
            issues.append(Issue(where, "template.bad_rule"))
            continue
        if rule.op not in OPERATORS:
            issues.append(Issue(where, "template.bad_operator", {"value": rule.op}))
        for side in (rule.left, rule.right):
            if seen.get(side) != "count":
                issues.append(Issue(where, "template.rule_row", {"value": side}))
        rules.append(rule)
    if not seen:
        issues.append(Issue("sections", "template.no_rows"))
    if issues:
        raise ValidationFailed(issues)
    return TemplateDef(tuple(sections), tuple(rules))


def definition_of(template: ReportTemplate) -> TemplateDef:
    return parse_definition(template.definition)


def _row(code: str, number: str, vi: str, en: str, **extra: Any) -> dict[str, Any]:
    return {"code": code, "number": number, "label_vi": vi, "label_en": en, **extra}


APPENDIX_01_CODE = "phu-luc-01"

# Phụ lục 01 of the 2022 campaign letter: general information, then the figures table
# (STT / Nội dung / Số lượng / Ghi chú). Rows 1-2 are the seed's; the rest are the campaign's.
APPENDIX_01: dict[str, Any] = {
    "sections": [
        {
            "code": "general",
            "label_vi": "Thông tin chung",
            "label_en": "General information",
            "rows": [
                _row("unit_name", "1", "Tên đơn vị", "Name of the unit", type="text"),
                _row(
                    "assessment",
                    "2",
                    "Đánh giá kết quả thực hiện chiến dịch trên địa bàn, phạm vi quản lý",
                    "Assessment of the campaign's results in the unit's area or scope",
                    type="text",
                    multiline=True,
                ),
                _row(
                    "proposals",
                    "3",
                    "Đề xuất, kiến nghị (nếu có)",
                    "Proposals and recommendations (if any)",
                    type="text",
                    multiline=True,
                    required=False,
                ),
            ],
        },
        {
            "code": "figures",
            "label_vi": "Số liệu thống kê",
            "label_en": "Figures",
            "rows": [
                _row(
                    "orgs_informed",
                    "1",
                    "Tổng số cơ quan, tổ chức, doanh nghiệp nhận được thông tin về chiến dịch",
                    "Agencies, organisations and businesses that received information "
                    "about the campaign",
                ),
                _row(
                    "units_deployed",
                    "2",
                    "Tổng số cơ quan, đơn vị triển khai chiến dịch",
                    "Agencies and units that deployed the campaign",
                ),
                _row(
                    "computers_total", "3", "Tổng số máy tính của đơn vị", "Computers in the unit"
                ),
                _row(
                    "computers_antivirus",
                    "4",
                    "Số máy tính đã cài đặt phần mềm diệt virus, phòng chống mã độc",
                    "Computers with antivirus / anti-malware software installed",
                ),
                _row(
                    "computers_scanned",
                    "5",
                    "Số máy tính đã được rà quét mã độc",
                    "Computers scanned for malware",
                ),
                _row(
                    "computers_infected",
                    "6",
                    "Số máy tính phát hiện nhiễm mã độc",
                    "Computers found infected",
                ),
                _row(
                    "computers_cleaned",
                    "7",
                    "Số máy tính đã được bóc gỡ, làm sạch mã độc",
                    "Computers cleaned",
                ),
                _row(
                    "devices_malicious",
                    "8",
                    "Số thiết bị phát hiện kết nối đến địa chỉ IP, tên miền độc hại",
                    "Devices found connecting to malicious IP addresses or domains",
                ),
                _row(
                    "devices_handled",
                    "8.1",
                    "Trong đó: số thiết bị đã được xử lý",
                    "Of which: devices handled",
                ),
                _row(
                    "awareness_activities",
                    "9",
                    "Số hoạt động tuyên truyền đã tổ chức (loa truyền thanh, trang thông tin "
                    "điện tử, fanpage...)",
                    "Awareness activities held (loudspeakers, web portal, fan page...)",
                ),
                _row(
                    "people_reached",
                    "10",
                    "Số lượt cán bộ, công chức, viên chức, người dân được tuyên truyền, phổ biến",
                    "Officials, staff and citizens reached by the awareness activities",
                ),
            ],
        },
    ],
    "rules": [
        {"left": "units_deployed", "op": "<=", "right": "orgs_informed"},
        {"left": "computers_antivirus", "op": "<=", "right": "computers_total"},
        {"left": "computers_scanned", "op": "<=", "right": "computers_total"},
        {"left": "computers_infected", "op": "<=", "right": "computers_scanned"},
        {"left": "computers_cleaned", "op": "<=", "right": "computers_infected"},
        {"left": "devices_handled", "op": "<=", "right": "devices_malicious"},
    ],
}


def ensure_builtin_template(session: Session) -> ReportTemplate:
    """The built-in Appendix 01 template (version 1), created on first use."""
    found = session.scalar(
        select(ReportTemplate).where(
            ReportTemplate.code == APPENDIX_01_CODE, ReportTemplate.version == 1
        )
    )
    if found is not None:
        return found
    parse_definition(APPENDIX_01)
    template = ReportTemplate(
        code=APPENDIX_01_CODE,
        version=1,
        name_vi="Phụ lục 01: Mẫu thống kê, báo cáo kết quả triển khai Chiến dịch làm sạch mã độc",
        name_en="Appendix 01: statistics and report form of the malware-cleanup campaign",
        definition=copy.deepcopy(APPENDIX_01),
        builtin=True,
    )
    session.add(template)
    session.flush()
    return template


def get_template(session: Session, template_id: int) -> ReportTemplate:
    template = session.get(ReportTemplate, template_id)
    if template is None:
        raise NotFound("template.not_found", id=template_id)
    return template


def list_templates(session: Session) -> list[ReportTemplate]:
    return list(
        session.scalars(
            select(ReportTemplate).order_by(ReportTemplate.code, ReportTemplate.version)
        )
    )


def template_in_use(session: Session, template: ReportTemplate) -> bool:
    used = session.scalar(select(func.count()).where(Campaign.template_id == template.id))
    return bool(used)


def copy_template(
    session: Session, actor: User | None, template: ReportTemplate, *, code: str | None = None
) -> ReportTemplate:
    """A new, editable version: the next version of ``code`` (default: the same template)."""
    if actor is not None:
        require_anywhere(actor, Action.MANAGE_TEMPLATES)
    new_code = (code or template.code).strip()
    latest = session.scalar(
        select(func.max(ReportTemplate.version)).where(ReportTemplate.code == new_code)
    )
    created = ReportTemplate(
        code=new_code,
        version=(latest or 0) + 1,
        name_vi=template.name_vi,
        name_en=template.name_en,
        definition=copy.deepcopy(template.definition),
        builtin=False,
        created_by_id=actor.id if actor else None,
    )
    session.add(created)
    session.flush()
    audit.record(session, "template.copy", user=actor, target=f"{created.code} v{created.version}")
    return created


def update_template(
    session: Session,
    actor: User | None,
    template: ReportTemplate,
    definition: dict[str, Any],
    *,
    name_vi: str | None = None,
    name_en: str | None = None,
) -> ReportTemplate:
    """Edit a version no campaign uses yet; versions in use are frozen (copy them instead)."""
    if actor is not None:
        require_anywhere(actor, Action.MANAGE_TEMPLATES)
    if template.builtin or template_in_use(session, template):
        raise Conflict("template.frozen", code=template.code, version=template.version)
    parse_definition(definition)
    template.definition = copy.deepcopy(definition)
    if name_vi is not None:
        template.name_vi = one_line(name_vi) or template.name_vi
    if name_en is not None:
        template.name_en = one_line(name_en) or template.name_en
    session.flush()
    audit.record(
        session, "template.update", user=actor, target=f"{template.code} v{template.version}"
    )
    return template
