"""The report life cycle: values, validation, submit on time or late, return, approve, locks."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lamsach.campaign import reports as rp
from lamsach.campaign.campaigns import grant_exception
from lamsach.campaign.errors import (
    Conflict,
    InvalidState,
    Issue,
    PermissionDenied,
    ValidationFailed,
)
from lamsach.campaign.messages import issue_message
from lamsach.campaign.permissions import Action
from lamsach.campaign.timeutil import vn_datetime
from lamsach.storage.models import Report, ReportEvent, ReportValue, ValueChange

GOOD = {
    "unit_name": "UBND phường W1",
    "assessment": "Đã triển khai đầy đủ.",
    "orgs_informed": 40,
    "units_deployed": 35,
    "computers_total": 30,
    "computers_antivirus": 28,
    "computers_scanned": 27,
    "computers_infected": 4,
    "computers_cleaned": 3,
    "devices_malicious": 2,
    "devices_handled": 2,
    "awareness_activities": 5,
    "people_reached": 900,
}


def _filled(session: Session, tree, code: str = "W1", officer: str = "off.w1", day: int = 20):
    user = tree.users[officer]
    report = rp.open_report(
        session, user, tree.campaign, tree.units[code], now=vn_datetime(2022, 9, day)
    )
    rp.save_values(session, user, report, GOOD, now=vn_datetime(2022, 9, day, 10))
    return report


def test_submit_on_time_and_late(session: Session, tree) -> None:
    on_time = _filled(session, tree)
    # 23:30 in Vietnam on the deadline day is 16:30 UTC: still on time.
    rp.submit_report(session, tree.users["off.w1"], on_time, now=vn_datetime(2022, 9, 30, 23, 30))
    assert on_time.status == "submitted" and on_time.on_time is True
    assert on_time.submitted_by_id == tree.users["off.w1"].id
    late = _filled(session, tree, "W2", "off.w2")
    rp.submit_report(session, tree.users["off.w2"], late, now=vn_datetime(2022, 10, 1, 0, 10))
    assert late.on_time is False
    assert [e.action for e in rp.report_history(session, late)] == ["created", "submitted"]


def test_return_with_comment_then_resubmit_keeps_first_timeliness(session: Session, tree) -> None:
    report = _filled(session, tree)
    officer, coord = tree.users["off.w1"], tree.users["coord"]
    rp.submit_report(session, officer, report, now=vn_datetime(2022, 9, 25))
    with pytest.raises(ValidationFailed) as err:
        rp.return_report(session, coord, report, "   ", now=vn_datetime(2022, 9, 26))
    assert err.value.issues == [Issue("comment", "comment.required")]
    with pytest.raises(PermissionDenied):
        rp.return_report(session, officer, report, "tự trả", now=vn_datetime(2022, 9, 26))
    rp.return_report(session, coord, report, "Kiểm tra lại số máy", now=vn_datetime(2022, 9, 26))
    assert report.status == "returned" and report.return_comment == "Kiểm tra lại số máy"
    rp.save_values(session, officer, report, {"computers_cleaned": 4}, now=vn_datetime(2022, 10, 2))
    rp.submit_report(session, officer, report, now=vn_datetime(2022, 10, 3))
    assert report.status == "submitted" and report.on_time is True
    assert report.first_submitted_at == vn_datetime(2022, 9, 25)
    assert report.submitted_at == vn_datetime(2022, 10, 3)
    history = rp.report_history(session, report)
    assert [e.action for e in history] == ["created", "submitted", "returned", "submitted"]
    assert history[2].comment == "Kiểm tra lại số máy" and history[2].username == "coord"


def test_approve_only_submitted_and_only_by_parent(session: Session, tree) -> None:
    report = _filled(session, tree)
    coord, officer = tree.users["coord"], tree.users["off.w1"]
    with pytest.raises(InvalidState) as err:
        rp.approve_report(session, coord, report, now=vn_datetime(2022, 9, 21))
    assert err.value.code == "report.bad_state"
    rp.submit_report(session, officer, report, now=vn_datetime(2022, 9, 21))
    with pytest.raises(PermissionDenied):
        rp.approve_report(session, officer, report, now=vn_datetime(2022, 9, 22))
    with pytest.raises(PermissionDenied):  # another branch's coordinator
        rp.approve_report(session, tree.users["coord2"], report, now=vn_datetime(2022, 9, 22))
    rp.approve_report(session, coord, report, now=vn_datetime(2022, 9, 22))
    assert report.status == "approved" and report.approved_by_id == coord.id
    # Approval locks the report for its unit.
    with pytest.raises(InvalidState):
        rp.save_values(
            session, officer, report, {"people_reached": 1}, now=vn_datetime(2022, 9, 23)
        )
    assert rp.allowed_actions(session, officer, report, now=vn_datetime(2022, 9, 23)) == {
        Action.VIEW_REPORT
    }
    # A coordinator never approves its own unit's report: that is the level above's job.
    own = _filled(session, tree, "C1", "off.c1")
    rp.submit_report(session, tree.users["off.c1"], own, now=vn_datetime(2022, 9, 24))
    with pytest.raises(PermissionDenied):
        rp.approve_report(session, coord, own, now=vn_datetime(2022, 9, 25))
    rp.approve_report(session, tree.users["admin"], own, now=vn_datetime(2022, 9, 25))


def test_lock_date_and_exception(session: Session, tree) -> None:
    officer, coord = tree.users["off.w1"], tree.users["coord"]
    report = _filled(session, tree)
    after_lock = vn_datetime(2022, 10, 16, 8)
    with pytest.raises(InvalidState) as err:
        rp.save_values(session, officer, report, {"people_reached": 950}, now=after_lock)
    assert err.value.code == "report.locked"
    with pytest.raises(InvalidState):
        rp.submit_report(session, officer, report, now=after_lock)
    # The last day of the lock date still counts (Vietnam time).
    rp.save_values(
        session, officer, report, {"people_reached": 940}, now=vn_datetime(2022, 10, 15, 23, 50)
    )
    # The coordinator may still correct it.
    rp.save_values(session, coord, report, {"people_reached": 960}, now=after_lock)
    with pytest.raises(ValidationFailed):
        grant_exception(session, coord, tree.campaign, tree.units["W1"], date(2022, 10, 10))
    with pytest.raises(PermissionDenied):
        grant_exception(session, officer, tree.campaign, tree.units["W1"], date(2022, 11, 1))
    grant_exception(session, coord, tree.campaign, tree.units["W1"], date(2022, 10, 31), "mới")
    rp.save_values(session, officer, report, {"people_reached": 970}, now=after_lock)
    rp.submit_report(session, officer, report, now=after_lock)
    assert report.on_time is False
    # The exception is for W1 only.
    other = _filled(session, tree, "W2", "off.w2")
    with pytest.raises(InvalidState):
        rp.submit_report(session, tree.users["off.w2"], other, now=after_lock)


def test_cleaned_above_infected_is_rejected_and_nothing_saved(session: Session, tree) -> None:
    report = _filled(session, tree)
    officer = tree.users["off.w1"]
    before = session.scalar(select(func.count()).select_from(ValueChange))
    with pytest.raises(ValidationFailed) as err:
        rp.save_values(
            session,
            officer,
            report,
            {"computers_cleaned": "9", "people_reached": "1.234", "awareness_activities": "abc"},
            now=vn_datetime(2022, 9, 21),
        )
    issues = {i.field: i for i in err.value.issues}
    assert set(issues) == {"computers_cleaned", "awareness_activities"}
    assert issues["computers_cleaned"].code == "rule.le"
    assert issues["computers_cleaned"].params["other"] == "computers_infected"
    assert issues["computers_cleaned"].params["other_value"] == 4
    assert issues["awareness_activities"].code == "value.not_integer"
    assert "Số máy tính phát hiện nhiễm mã độc" in issue_message(issues["computers_cleaned"], "vi")
    assert "Computers found infected" in issue_message(issues["computers_cleaned"], "en")
    assert rp.values_of(report)["computers_cleaned"] == 3
    assert rp.values_of(report)["people_reached"] == 900
    assert session.scalar(select(func.count()).select_from(ValueChange)) == before
    rp.save_values(
        session, officer, report, {"people_reached": "1.234"}, now=vn_datetime(2022, 9, 21)
    )
    assert rp.values_of(report)["people_reached"] == 1234
    with pytest.raises(ValidationFailed) as neg:
        rp.save_values(
            session, officer, report, {"devices_malicious": -1}, now=vn_datetime(2022, 9, 21)
        )
    assert [i.code for i in neg.value.issues] == ["value.negative"]


def test_submission_needs_required_rows(session: Session, tree) -> None:
    officer = tree.users["off.w1"]
    report = rp.open_report(
        session, officer, tree.campaign, tree.units["W1"], now=vn_datetime(2022, 9, 20)
    )
    rp.save_values(session, officer, report, {"computers_total": 3}, now=vn_datetime(2022, 9, 20))
    with pytest.raises(ValidationFailed) as err:
        rp.submit_report(session, officer, report, now=vn_datetime(2022, 9, 21))
    missing = {i.field for i in err.value.issues if i.code == "value.required"}
    assert "assessment" in missing and "computers_cleaned" in missing
    assert "proposals" not in missing and "unit_name" not in missing  # optional; prefilled
    assert report.status == "draft"


def test_audit_trail_of_values(session: Session, tree) -> None:
    officer, coord = tree.users["off.w1"], tree.users["coord"]
    report = _filled(session, tree)
    rp.save_values(
        session,
        officer,
        report,
        {"computers_total": 31},
        {"computers_total": "thêm 1 máy"},
        now=vn_datetime(2022, 9, 22, 9),
    )
    rp.save_values(
        session,
        coord,
        report,
        {"computers_total": 32, "people_reached": 900},
        now=vn_datetime(2022, 9, 23, 9),
    )
    trail = rp.value_trail(session, report, "computers_total")
    assert [(t.field, t.old_value, t.new_value, t.username) for t in trail] == [
        ("value", None, "30", "off.w1"),
        ("value", "30", "31", "off.w1"),
        ("note", None, "thêm 1 máy", "off.w1"),
        ("value", "31", "32", "coord"),
    ]
    assert trail[-1].changed_at == vn_datetime(2022, 9, 23, 9)
    # An unchanged value (people_reached 900) leaves no entry.
    assert len(rp.value_trail(session, report, "people_reached")) == 1
    assert rp.notes_of(report) == {"computers_total": "thêm 1 máy"}


def test_stale_revision_is_a_conflict(session: Session, tree) -> None:
    officer = tree.users["off.w1"]
    report = _filled(session, tree)
    seen = report.revision
    rp.save_values(
        session,
        officer,
        report,
        {"computers_total": 31},
        expected_revision=seen,
        now=vn_datetime(2022, 9, 21),
    )
    with pytest.raises(Conflict):
        rp.save_values(
            session,
            officer,
            report,
            {"computers_total": 29},
            expected_revision=seen,
            now=vn_datetime(2022, 9, 21),
        )
    assert rp.values_of(report)["computers_total"] == 31


def test_reader_gets_unsaved_draft_and_non_participant_refused(session: Session, tree) -> None:
    from lamsach.campaign.campaigns import set_participants

    draft = rp.open_report(session, tree.users["viewer"], tree.campaign, tree.units["W1"])
    assert draft.id is None and draft.status == "draft"
    assert rp.get_report(session, tree.campaign, tree.units["W1"]) is None
    set_participants(session, None, tree.campaign, [tree.units["W1"]])
    with pytest.raises(InvalidState) as err:
        rp.open_report(session, tree.users["off.w2"], tree.campaign, tree.units["W2"])
    assert err.value.code == "report.not_participating"


def _stored_rows(session: Session) -> tuple[int, ...]:
    # Counting autoflushes: anything the preview had slipped into the session would be counted.
    return tuple(
        session.scalar(select(func.count()).select_from(model)) or 0
        for model in (Report, ReportValue, ValueChange, ReportEvent)
    )


def test_preview_of_a_parent_not_started_adds_nothing(session: Session, tree) -> None:
    for code, officer in (("W1", "off.w1"), ("W2", "off.w2")):
        report = _filled(session, tree, code, officer)
        rp.submit_report(session, tree.users[officer], report, now=vn_datetime(2022, 9, 21))
    session.commit()
    before = _stored_rows(session)
    coord, city = tree.users["coord"], tree.units["C1"]

    preview = rp.preview_report(session, coord, tree.campaign, city)

    assert preview.id is None and preview.status == rp.NOT_STARTED and preview.revision == 0
    assert preview not in session and not session.new and not session.dirty
    assert _stored_rows(session) == before
    assert rp.get_report(session, tree.campaign, city) is None
    assert rp.value_trail(session, preview) == [] and rp.report_history(session, preview) == []
    values = rp.values_of(preview)
    assert values["unit_name"] == "Đơn vị C1"
    assert values["computers_total"] == 2 * GOOD["computers_total"]
    assert values["people_reached"] == 2 * GOOD["people_reached"]
    # Whoever may edit may begin it (save or submit); nothing else is offered on it.
    today = vn_datetime(2022, 9, 25)
    assert rp.allowed_actions(session, coord, preview, now=today) == {
        Action.EDIT_REPORT,
        Action.SUBMIT_REPORT,
    }
    assert rp.allowed_actions(session, tree.users["viewer"], preview, now=today) == set()
    assert (
        rp.allowed_actions(session, tree.users["off.c1"], preview, now=vn_datetime(2022, 10, 20))
        == set()
    )

    # The pre-fill is exactly what opening it stores.
    opened = rp.open_report(session, tree.users["off.c1"], tree.campaign, city)
    assert opened.id is not None and opened.status == "draft"
    assert rp.values_of(opened) == values
    assert rp.preview_report(session, coord, tree.campaign, city) is opened


def test_preview_of_a_ward_and_who_may_see_it(session: Session, tree) -> None:
    before = _stored_rows(session)
    ward = rp.preview_report(session, tree.users["viewer"], tree.campaign, tree.units["W1"])
    assert ward.status == rp.NOT_STARTED and rp.values_of(ward) == {"unit_name": "Đơn vị W1"}
    assert _stored_rows(session) == before
    with pytest.raises(PermissionDenied):
        rp.preview_report(session, tree.users["off.w2"], tree.campaign, tree.units["W1"])
    from lamsach.campaign.campaigns import set_participants

    set_participants(session, None, tree.campaign, [tree.units["W1"]])
    with pytest.raises(InvalidState) as err:
        rp.preview_report(session, tree.users["off.w2"], tree.campaign, tree.units["W2"])
    assert err.value.code == "report.not_participating"


def test_a_draft_rolled_back_with_its_refused_first_save_is_gone(session: Session, tree) -> None:
    session.commit()
    officer, ward, day = tree.users["off.w1"], tree.units["W1"], vn_datetime(2022, 9, 20)
    report = rp.open_report(session, officer, tree.campaign, ward, now=day)
    assert report.id is not None and rp.values_of(report) == {"unit_name": "Đơn vị W1"}
    with pytest.raises(ValidationFailed):
        rp.save_values(session, officer, report, {**GOOD, "computers_cleaned": 5}, now=day)
    session.rollback()
    # On SQLite a savepoint around the insert would have committed the bare row by itself.
    assert rp.get_report(session, tree.campaign, ward) is None
    assert _stored_rows(session) == (0, 0, 0, 0)
    again = rp.open_report(session, officer, tree.campaign, ward)
    assert rp._insert_draft(session, tree.campaign, ward, vn_datetime(2022, 9, 20)) is False
    assert rp.get_report(session, tree.campaign, ward) is again
