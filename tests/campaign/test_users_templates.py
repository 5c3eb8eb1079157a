"""Users (argon2, log-in, audit, throttle) and report templates as versioned data."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy.orm import Session

from lamsach.campaign import audit
from lamsach.campaign.campaigns import CampaignFields, create_campaign
from lamsach.campaign.errors import Conflict, PermissionDenied, ValidationFailed
from lamsach.campaign.messages import MESSAGES, message
from lamsach.campaign.permissions import Role
from lamsach.campaign.templates import (
    APPENDIX_01,
    copy_template,
    definition_of,
    ensure_builtin_template,
    parse_definition,
    update_template,
)
from lamsach.campaign.users import (
    authenticate,
    create_user,
    list_users,
    set_active,
    set_password,
)


def test_argon2_login_and_audit(session: Session, tree) -> None:
    user = create_user(session, None, "Nguyen.Van.A", "mat-khau-dai", full_name=" Nguyễn  Văn A ")
    assert user.username == "nguyen.van.a" and user.full_name == "Nguyễn Văn A"
    assert user.password_hash.startswith("$argon2id$")
    assert "mat-khau-dai" not in user.password_hash
    now = datetime(2022, 9, 20, 2)
    assert authenticate(session, "nguyen.van.a", "sai", client_ip="10.0.0.9", now=now) is None
    assert authenticate(session, "khong.co", "x", client_ip="10.0.0.9", now=now) is None
    assert authenticate(session, "NGUYEN.VAN.A", "mat-khau-dai", client_ip="10.0.0.9", now=now)
    assert user.last_login_at == now
    logins = audit.entries(session, action=audit.LOGIN)
    assert [(e.username, e.success) for e in reversed(logins)] == [
        ("nguyen.van.a", False),
        ("khong.co", False),
        ("nguyen.van.a", True),
    ]
    set_active(session, None, user, False)
    assert authenticate(session, "nguyen.van.a", "mat-khau-dai", now=now) is None


def test_login_throttle_counts_recent_failures(session: Session) -> None:
    start = datetime(2022, 9, 20, 2)
    for minute in range(5):
        authenticate(
            session, "ai.do", "sai", client_ip="10.1.1.1", now=start + timedelta(minutes=minute)
        )
    locked = {"max_failures": 5, "window_seconds": 900}
    assert audit.login_locked(session, "ai.do", "", now=start + timedelta(minutes=5), **locked)
    # From the same address under another name: still locked; elsewhere and later: not.
    assert audit.login_locked(
        session, "khac", "10.1.1.1", now=start + timedelta(minutes=5), **locked
    )
    assert not audit.login_locked(
        session, "khac", "10.2.2.2", now=start + timedelta(minutes=5), **locked
    )
    assert not audit.login_locked(session, "ai.do", "", now=start + timedelta(minutes=30), **locked)
    # With a lock-out period, the block lasts that long after the burst of failures.
    held = {**locked, "lockout_seconds": 3600}
    assert audit.login_locked(session, "ai.do", "", now=start + timedelta(minutes=30), **held)
    assert not audit.login_locked(session, "ai.do", "", now=start + timedelta(minutes=65), **held)
    # Failures spread wider than the window never make a burst.
    for hour in range(5):
        authenticate(session, "cham", "sai", now=start + timedelta(hours=hour))
    assert not audit.login_locked(session, "cham", "", now=start + timedelta(hours=4), **held)


def test_user_rules_and_admin_scope(session: Session, tree) -> None:
    with pytest.raises(ValidationFailed) as err:
        create_user(session, None, "có dấu", "ngan", role=Role.OFFICER)
    assert {i.code for i in err.value.issues} == {
        "user.bad_username",
        "password.too_short",
        "user.role_needs_unit",
    }
    with pytest.raises(ValidationFailed):
        create_user(session, None, "admin", "mat-khau-dai")
    coord = tree.users["coord"]
    with pytest.raises(PermissionDenied):
        create_user(session, coord, "moi", "mat-khau-dai", role=Role.OFFICER, unit=tree.units["W1"])
    local_admin = create_user(
        session, None, "qt.c1", "mat-khau-dai", role=Role.ADMINISTRATOR, unit=tree.units["C1"]
    )
    create_user(
        session, local_admin, "moi", "mat-khau-dai", role=Role.OFFICER, unit=tree.units["W1"]
    )
    with pytest.raises(PermissionDenied):
        set_password(session, local_admin, tree.users["off.w3"], "mat-khau-moi")
    names = {u.username for u in list_users(session, local_admin)}
    assert "moi" in names and "off.w1" in names and "off.w3" not in names
    entry = audit.entries(session, action="user.create", username="qt.c1")[0]
    assert entry.target == "moi"


def test_builtin_template_is_appendix_01(session: Session) -> None:
    template = ensure_builtin_template(session)
    assert ensure_builtin_template(session).id == template.id
    definition = definition_of(template)
    figures = definition.sections[1]
    assert [r.label_vi for r in figures.rows[:2]] == [
        "Tổng số cơ quan, tổ chức, doanh nghiệp nhận được thông tin về chiến dịch",
        "Tổng số cơ quan, đơn vị triển khai chiến dịch",
    ]
    codes = [r.code for r in figures.rows]
    assert codes[2:7] == [
        "computers_total",
        "computers_antivirus",
        "computers_scanned",
        "computers_infected",
        "computers_cleaned",
    ]
    assert [r.code for r in definition.sections[0].rows] == ["unit_name", "assessment", "proposals"]
    assert all(r.label_en and r.type == "count" and r.aggregate == "sum" for r in figures.rows)
    rules = {(r.left, r.op, r.right) for r in definition.rules}
    assert ("computers_cleaned", "<=", "computers_infected") in rules
    assert ("computers_infected", "<=", "computers_scanned") in rules


def test_copy_edit_and_freeze_templates(session: Session, tree) -> None:
    builtin = ensure_builtin_template(session)
    with pytest.raises(Conflict):
        update_template(session, None, builtin, APPENDIX_01)
    with pytest.raises(PermissionDenied):
        copy_template(session, tree.users["off.w1"], builtin)
    copy = copy_template(session, tree.users["coord"], builtin)
    assert (copy.code, copy.version, copy.builtin) == (builtin.code, 2, False)
    edited = {**copy.definition}
    edited["sections"] = [*edited["sections"]]
    figures = {**edited["sections"][1]}
    figures["rows"] = [
        *figures["rows"],
        {"code": "servers_total", "label_vi": "Số máy chủ", "label_en": "Servers"},
    ]
    edited["sections"][1] = figures
    update_template(session, tree.users["coord"], copy, edited, name_en="Appendix 01 (2023)")
    assert definition_of(copy).row("servers_total").type == "count"
    assert definition_of(builtin).has_row("servers_total") is False
    create_campaign(
        session,
        None,
        CampaignFields(
            "2023", tree.campaign.start_date, tree.campaign.deadline, tree.campaign.lock_date
        ),
        owner_unit=tree.units["P"],
        template=copy,
    )
    with pytest.raises(Conflict) as err:
        update_template(session, tree.users["coord"], copy, APPENDIX_01)
    assert err.value.code == "template.frozen"
    # A campaign's template is fixed once a report exists.
    from lamsach.campaign import reports as rp
    from lamsach.campaign.campaigns import update_campaign

    fields = CampaignFields(
        "Chiến dịch thử", tree.campaign.start_date, tree.campaign.deadline, tree.campaign.lock_date
    )
    update_campaign(session, tree.users["admin"], tree.campaign, fields, template=copy)
    update_campaign(session, tree.users["admin"], tree.campaign, fields, template=builtin)
    rp.open_report(session, tree.users["off.w1"], tree.campaign, tree.units["W1"])
    with pytest.raises(Conflict) as fixed:
        update_campaign(session, tree.users["admin"], tree.campaign, fields, template=copy)
    assert fixed.value.code == "campaign.has_reports"
    with pytest.raises(PermissionDenied):
        update_campaign(session, tree.users["coord"], tree.campaign, fields)


def test_bad_template_definitions_are_listed() -> None:
    with pytest.raises(ValidationFailed) as err:
        parse_definition(
            {
                "sections": [
                    {
                        "code": "s",
                        "rows": [
                            {"code": "a", "label_vi": "A"},
                            {"code": "a", "label_vi": "A lặp"},
                            {"code": "t", "label_vi": "Chữ", "type": "text"},
                            {"code": "b c", "label_vi": "B", "type": "money"},
                        ],
                    }
                ],
                "rules": [
                    {"left": "a", "op": "<=", "right": "t"},
                    {"left": "a", "op": "~", "right": "a"},
                ],
            }
        )
    codes = [i.code for i in err.value.issues]
    assert codes == [
        "template.duplicate_row",
        "template.bad_row_code",
        "template.bad_type",
        "template.rule_row",
        "template.bad_operator",
    ]


def test_every_message_has_both_languages() -> None:
    for code, (vi, en) in MESSAGES.items():
        assert vi and en and vi != en, code
    assert message("rule.le", {"other_label_vi": "X", "other_value": 3}, "vi").endswith("(3).")
    assert message("no.such.id") == "no.such.id"


def test_audit_log_and_accounts_seen_within_scope(session: Session, tree) -> None:
    now = datetime(2022, 9, 20, 2)
    authenticate(session, "off.w1", "sai", now=now)
    authenticate(session, "off.w3", "sai", now=now)
    local_admin = create_user(
        session, None, "qt.c1", "mat-khau-dai", role=Role.ADMINISTRATOR, unit=tree.units["C1"]
    )
    seen = {(e.username, e.action) for e in audit.entries(session, viewer=local_admin)}
    assert ("off.w1", audit.LOGIN) in seen and ("off.w3", audit.LOGIN) not in seen
    everything = {
        (e.username, e.action) for e in audit.entries(session, viewer=tree.users["admin"])
    }
    assert ("off.w3", audit.LOGIN) in everything
    assert audit.entries(session, viewer=tree.users["coord"]) == []
    # Everyone may change their own password, nobody else's without managing the account.
    set_password(session, tree.users["off.w1"], tree.users["off.w1"], "mat-khau-moi-1")
    with pytest.raises(PermissionDenied):
        set_password(session, tree.users["off.w1"], tree.users["off.w2"], "mat-khau-moi-2")
    with pytest.raises(PermissionDenied):
        set_active(session, tree.users["off.w1"], tree.users["off.w1"], False)
    set_password(session, local_admin, tree.users["off.w2"], "mat-khau-moi-2")
    assert authenticate(session, "off.w2", "mat-khau-moi-2") is not None
