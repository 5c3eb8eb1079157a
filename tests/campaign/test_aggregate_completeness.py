"""Figures summed up a 3-level tree, and the completeness of a campaign on a known tree."""

from __future__ import annotations

from datetime import date

from sqlalchemy.orm import Session

from lamsach.campaign import reports as rp
from lamsach.campaign.aggregate import children_totals, subtree_totals, totals_by_child
from lamsach.campaign.completeness import completeness
from lamsach.campaign.timeutil import vn_datetime

TEXTS = {"unit_name": "x", "assessment": "Đã triển khai."}


def _figures(total: int, infected: int) -> dict[str, object]:
    return {
        **TEXTS,
        "orgs_informed": total,
        "units_deployed": total,
        "computers_total": total,
        "computers_antivirus": total,
        "computers_scanned": total,
        "computers_infected": infected,
        "computers_cleaned": infected,
        "devices_malicious": 1,
        "devices_handled": 1,
        "awareness_activities": 2,
        "people_reached": 10 * total,
    }


def _report(
    session: Session,
    tree,
    code: str,
    officer: str,
    total: int,
    infected: int,
    submit_day: tuple[int, int] | None,
):
    user = tree.users[officer]
    report = rp.open_report(
        session, user, tree.campaign, tree.units[code], now=vn_datetime(2022, 9, 10)
    )
    rp.save_values(session, user, report, _figures(total, infected), now=vn_datetime(2022, 9, 11))
    if submit_day is not None:
        rp.submit_report(session, user, report, now=vn_datetime(2022, *submit_day))
    return report


def test_sums_up_three_levels_without_double_counting(session: Session, tree) -> None:
    u = tree.units
    _report(session, tree, "W1", "off.w1", 10, 2, (9, 20))
    _report(session, tree, "W2", "off.w2", 20, 3, (9, 21))
    _report(session, tree, "W3", "off.w3", 7, 1, (9, 22))
    assert children_totals(session, tree.campaign, u["C1"])["computers_total"] == 30
    assert children_totals(session, tree.campaign, u["C1"])["computers_infected"] == 5
    assert subtree_totals(session, tree.campaign, u["P"])["computers_total"] == 37
    assert subtree_totals(session, tree.campaign, u["C2"])["people_reached"] == 70
    by_child = {unit.code: sums for unit, sums in totals_by_child(session, tree.campaign, u["P"])}
    assert by_child["C1"]["computers_total"] == 30 and by_child["C2"]["computers_total"] == 7
    assert by_child["C1"]["computers_infected"] == 5
    # The city's own report starts from its wards' sum; the city then adds its own machines.
    officer = tree.users["off.c1"]
    own = rp.open_report(session, officer, tree.campaign, u["C1"], now=vn_datetime(2022, 9, 23))
    values = rp.values_of(own)
    assert values["computers_total"] == 30 and values["computers_infected"] == 5
    assert values["unit_name"] == "Đơn vị C1"
    rp.save_values(
        session,
        officer,
        own,
        {**TEXTS, "computers_total": 34, "computers_antivirus": 33},
        now=vn_datetime(2022, 9, 23),
    )
    # Not counted upward while it is a draft ...
    assert subtree_totals(session, tree.campaign, u["P"])["computers_total"] == 37
    rp.submit_report(session, officer, own, now=vn_datetime(2022, 9, 24))
    # ... and once received, it replaces W1 + W2 (no double counting): 34 + 7.
    assert subtree_totals(session, tree.campaign, u["P"])["computers_total"] == 41
    by_child = {
        unit.code: figures for unit, figures in totals_by_child(session, tree.campaign, u["P"])
    }
    assert by_child["C1"]["computers_total"] == 34 and by_child["C2"]["computers_total"] == 7
    # A draft below is never summed.
    assert children_totals(session, tree.campaign, u["W3"])["computers_total"] == 0


def test_completeness_on_known_tree(session: Session, tree) -> None:
    u = tree.units
    _report(session, tree, "W1", "off.w1", 10, 2, (9, 28))  # on time
    _report(session, tree, "W2", "off.w2", 20, 3, (10, 3))  # 3 days late
    _report(session, tree, "W3", "off.w3", 7, 1, None)  # draft
    returned = _report(session, tree, "C2", "coord2", 5, 0, (9, 29))
    rp.return_report(session, tree.users["admin"], returned, "Sai", now=vn_datetime(2022, 9, 30))
    approved = rp.get_report(session, tree.campaign, u["W1"])
    assert approved is not None
    rp.approve_report(session, tree.users["coord"], approved, now=vn_datetime(2022, 9, 30))
    result = completeness(session, tree.campaign, u["P"], now=vn_datetime(2022, 10, 5, 9))
    overall = result.overall
    # Below P: C1, W1, W2, C2, W3 take part. C1 has not started.
    assert (overall.expected, overall.reported, overall.on_time, overall.late) == (5, 2, 1, 1)
    assert (overall.approved, overall.returned, overall.draft, overall.not_started) == (1, 1, 1, 1)
    assert overall.reporting_rate == 0.4 and overall.on_time_rate == 0.2
    assert {level: (r.expected, r.reported) for level, r in result.by_level.items()} == {
        1: (2, 0),
        2: (3, 2),
    }
    assert result.by_kind["ward"].reported == 2 and result.by_kind["city"].expected == 2
    status = {s.code: s for s in result.units}
    assert status["W1"].status == "approved" and status["W1"].days_late == 0
    assert status["W2"].status == "submitted" and status["W2"].days_late == 3
    assert status["W3"].status == "draft" and status["W3"].days_late == 5  # overdue on 5/10
    assert status["C1"].status == "not_started" and status["C1"].report_id is None
    assert status["C2"].status == "returned"
    assert result.own is not None and result.own.code == "P"
    assert result.timeline == [(date(2022, 9, 28), 1), (date(2022, 10, 3), 2)]
    assert result.totals["computers_total"] == 30
    city = completeness(session, tree.campaign, u["C1"], now=vn_datetime(2022, 10, 5, 9))
    assert city.overall.expected == 2 and city.overall.reported == 2
    assert [s.code for s in city.units] == ["W1", "W2"]
