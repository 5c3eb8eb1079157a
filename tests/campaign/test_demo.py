"""The demo city is built, realistic, and the same every time; the load tree is consistent."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lamsach.campaign import reports as rp
from lamsach.campaign.aggregate import totals_by_child
from lamsach.campaign.campaigns import get_campaign
from lamsach.campaign.completeness import completeness
from lamsach.campaign.demo import create_demo, create_load_tree
from lamsach.campaign.templates import definition_of
from lamsach.campaign.tree_io import export_units_csv, import_units
from lamsach.campaign.units import get_unit, get_unit_by_code, subtree
from lamsach.campaign.users import authenticate
from lamsach.campaign.validation import validate_values
from lamsach.storage.db import engine_for_url, make_session_factory
from lamsach.storage.migrate import upgrade_url
from lamsach.storage.models import Report, ReportValue, Unit, User

NOW = datetime(2026, 11, 28, 3)


def _snapshot(session: Session) -> tuple[object, ...]:
    units = session.execute(
        select(Unit.code, Unit.name, Unit.kind, Unit.path, Unit.networks).order_by(Unit.id)
    ).all()
    users = session.execute(select(User.username, User.full_name).order_by(User.id)).all()
    reports = session.execute(
        select(
            Report.unit_id,
            Report.status,
            Report.submitted_at,
            Report.on_time,
            Report.return_comment,
        ).order_by(Report.id)
    ).all()
    values = session.execute(
        select(
            ReportValue.report_id, ReportValue.row_code, ReportValue.number, ReportValue.text
        ).order_by(ReportValue.report_id, ReportValue.row_code)
    ).all()
    return tuple(map(tuple, units)), tuple(users), tuple(reports), tuple(values)


def test_demo_is_realistic(session: Session) -> None:
    info = create_demo(session, now=NOW)
    city = get_unit_by_code(session, "TH-TPTH")
    assert city.name == "UBND thành phố Thanh Hóa"
    assert get_unit(session, city.parent_id or 0).name == "Tỉnh Thanh Hóa"
    names = {u.name for u in session.scalars(select(Unit).where(Unit.parent_id == city.id))}
    assert len(names) == 14 + 28
    assert "Phòng Văn hóa và Thông tin" in names and "UBND phường Điện Biên" in names
    assert "UBND xã Hoằng Quang" in names
    campaign = get_campaign(session, info.campaign_id)
    assert campaign.deadline.isoformat() == "2022-09-30"
    assert any("1298/CATTT-NCSC" in r and "23/8/2022" in r for r in campaign.directive_refs)
    assert any("1858/STTTT-CNTT" in r and "07/9/2022" in r for r in campaign.directive_refs)
    logins = {name: role for name, role, _ in info.logins}
    assert logins["admin"] == "administrator" and logins["dieuphoi"] == "coordinator"
    assert logins["lanhdao"] == "viewer" and list(logins.values()).count("officer") == 43
    assert authenticate(session, "p.dienbien", info.password) is not None
    result = completeness(session, campaign, city, now=NOW)
    overall = result.overall
    assert overall.expected == 42
    assert overall.on_time > 0 and overall.late > 0 and overall.approved > 0
    assert overall.returned > 0 and overall.draft > 0 and overall.not_started > 0
    definition = definition_of(campaign.template)
    for report in session.scalars(
        select(Report).where(Report.status.in_(("submitted", "approved")))
    ):
        assert validate_values(definition, rp.values_of(report), complete=True) == []
    # The city's own report starts from what its units sent.
    own = rp.get_report(session, campaign, city)
    assert own is not None and own.status == "draft"
    assert rp.values_of(own)["computers_total"] == result.totals["computers_total"] > 0


def test_demo_is_deterministic(session: Session, tmp_path) -> None:
    create_demo(session, now=NOW)
    first = _snapshot(session)
    url = f"sqlite:///{tmp_path / 'again.db'}"
    upgrade_url(url)
    engine = engine_for_url(url)
    with make_session_factory(engine)() as other:
        create_demo(other, now=NOW)
        assert _snapshot(other) == first
    engine.dispose()


def test_load_tree(session: Session) -> None:
    info = create_load_tree(session, units=600, officers=20, reported_share=0.5)
    assert info.units == 600 and len(info.officers) == 20
    root = get_unit(session, info.root_id)
    campaign = get_campaign(session, info.campaign_id)
    result = completeness(session, campaign, root, now=NOW)
    assert result.overall.expected == 599
    assert 0 < result.overall.reported < 599
    officer_unit = get_unit(session, info.officers[0][1])
    assert rp.get_report(session, campaign, officer_unit) is None
    # Ids inserted in bulk must not break later inserts (PostgreSQL sequences).
    user = authenticate(session, info.officers[0][0], info.password)
    assert user is not None
    report = rp.open_report(session, user, campaign, officer_unit)
    assert report.id is not None


@pytest.mark.slow
def test_ten_thousand_units(session: Session) -> None:
    """The services that read whole subtrees stay correct at 10,000 units."""
    info = create_load_tree(session, units=10_000, officers=5, reported_share=0.3)
    root = get_unit(session, info.root_id)
    campaign = get_campaign(session, info.campaign_id)
    result = completeness(session, campaign, root, now=NOW)
    assert result.overall.expected == 9_999 and len(result.units) == 9_999
    assert sum(r.expected for r in result.by_level.values()) == 9_999
    reported = session.scalar(
        select(func.count()).select_from(Report).where(Report.campaign_id == campaign.id)
    )
    assert result.overall.reported == reported
    by_child = totals_by_child(session, campaign, root)
    assert sum(f["computers_total"] for _, f in by_child) == result.totals["computers_total"] > 0
    assert len(subtree(session, root)) == 10_000
    data = export_units_csv(session, root)
    assert import_units(session, None, data, "tree.csv").unchanged == 10_000
