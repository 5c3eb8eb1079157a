"""Figures summed up the tree: each branch counts its top-most received report, never twice."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lamsach.campaign.templates import definition_of
from lamsach.storage.models import Campaign, Report, ReportTemplate, ReportValue, Unit

# Reports whose figures count in sums: received by the level above.
COUNTED = ("submitted", "approved")
_CHUNK = 5000


def _summed_codes(session: Session, campaign: Campaign) -> list[str]:
    template = session.get(ReportTemplate, campaign.template_id)
    assert template is not None
    return [row.code for row in definition_of(template).summed_rows]


def _counted_reports(
    session: Session, campaign: Campaign, root: Unit, include_root: bool, statuses: Sequence[str]
) -> list[tuple[int, str]]:
    stmt = (
        select(Report.id, Unit.path)
        .join(Unit, Unit.id == Report.unit_id)
        .where(Report.campaign_id == campaign.id, Report.status.in_(statuses))
        .where(Unit.path.like(root.path + "%"))
    )
    if not include_root:
        stmt = stmt.where(Unit.id != root.id)
    rows = [(int(r[0]), str(r[1])) for r in session.execute(stmt)]
    # Sorted in Python: database collations may ignore the slashes.
    rows.sort(key=lambda r: r[1])
    return rows


def top_most(reports: Iterable[tuple[int, str]]) -> list[tuple[int, str]]:
    """Keep reports with no counted report above them (a parent's report already holds the sum).

    ``reports`` must be sorted by path: a prefix sorts right before everything under it.
    """
    kept: list[tuple[int, str]] = []
    current = None
    for report_id, path in reports:
        if current is not None and path.startswith(current):
            continue
        kept.append((report_id, path))
        current = path
    return kept


def subtree_totals(
    session: Session,
    campaign: Campaign,
    root: Unit,
    *,
    include_root: bool = False,
    statuses: Sequence[str] = COUNTED,
    reports: list[tuple[int, str]] | None = None,
) -> dict[str, int]:
    """Sum of every summed row over the subtree's received reports (root excluded by default).

    ``reports``: the (report id, unit path) pairs of those reports when the caller has them.
    """
    codes = _summed_codes(session, campaign)
    totals = dict.fromkeys(codes, 0)
    if reports is None:
        reports = _counted_reports(session, campaign, root, include_root, statuses)
    else:
        reports = sorted(reports, key=lambda r: r[1])
    kept = top_most(reports)
    base = select(ReportValue.row_code, func.sum(ReportValue.number)).where(
        ReportValue.row_code.in_(codes)
    )
    if len(kept) == len(reports):
        # No nesting: one aggregate query over the subtree, no id list.
        stmt = (
            base.join(Report, Report.id == ReportValue.report_id)
            .join(Unit, Unit.id == Report.unit_id)
            .where(Report.campaign_id == campaign.id, Report.status.in_(statuses))
            .where(Unit.path.like(root.path + "%"))
        )
        if not include_root:
            stmt = stmt.where(Unit.id != root.id)
        for code, total in session.execute(stmt.group_by(ReportValue.row_code)):
            totals[code] += int(total or 0)
        return totals
    ids = [report_id for report_id, _ in kept]
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        stmt = base.where(ReportValue.report_id.in_(chunk)).group_by(ReportValue.row_code)
        for code, total in session.execute(stmt):
            totals[code] += int(total or 0)
    return totals


def children_totals(session: Session, campaign: Campaign, unit: Unit) -> dict[str, int]:
    """What the units below ``unit`` reported, summed: the start of ``unit``'s own report."""
    return subtree_totals(session, campaign, unit, include_root=False)


def totals_by_child(
    session: Session,
    campaign: Campaign,
    root: Unit,
    *,
    statuses: Sequence[str] = COUNTED,
) -> list[tuple[Unit, dict[str, int]]]:
    """For each direct child of ``root``: the figures of its branch (for charts by unit).

    Summed in SQL, grouped by the id that follows the root's path in each unit's path.
    """
    codes = _summed_codes(session, campaign)
    kids = list(session.scalars(select(Unit).where(Unit.parent_id == root.id).order_by(Unit.name)))
    sums: dict[int, dict[str, int]] = {kid.id: dict.fromkeys(codes, 0) for kid in kids}
    reports = _counted_reports(session, campaign, root, False, statuses)
    kept = top_most(reports)
    rest = func.substr(Unit.path, len(root.path) + 1)
    if session.get_bind().dialect.name == "postgresql":
        slash = func.strpos(rest, "/")
    else:
        slash = func.instr(rest, "/")
    branch = func.substr(rest, 1, slash - 1)
    base = (
        select(branch, ReportValue.row_code, func.sum(ReportValue.number))
        .join(Report, Report.id == ReportValue.report_id)
        .join(Unit, Unit.id == Report.unit_id)
        .where(ReportValue.row_code.in_(codes))
        .group_by(branch, ReportValue.row_code)
    )
    if len(kept) == len(reports):
        statements = [
            base.where(Report.campaign_id == campaign.id, Report.status.in_(statuses))
            .where(Unit.path.like(root.path + "%"))
            .where(Unit.id != root.id)
        ]
    else:
        ids = [report_id for report_id, _ in kept]
        statements = [
            base.where(Report.id.in_(ids[start : start + _CHUNK]))
            for start in range(0, len(ids), _CHUNK)
        ]
    for stmt in statements:
        for kid_id, code, total in session.execute(stmt):
            if kid_id and int(kid_id) in sums:
                sums[int(kid_id)][code] += int(total or 0)
    return [(kid, sums[kid.id]) for kid in kids]
