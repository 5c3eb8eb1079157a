"""The unit tree services (create, move, delete, subtree, addresses) and users' task lists."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy.orm import Session

from lamsach.campaign import reports as rp
from lamsach.campaign.campaigns import list_campaigns, participant_units
from lamsach.campaign.errors import Conflict, PermissionDenied, ValidationFailed
from lamsach.campaign.tasks import tasks_for
from lamsach.campaign.timeutil import vn_datetime
from lamsach.campaign.units import (
    UnitFields,
    ancestors,
    create_unit,
    delete_unit,
    move_unit,
    subtree,
    unit_for_address,
    update_unit,
)


def test_create_validate_and_permissions(session: Session, tree) -> None:
    with pytest.raises(ValidationFailed) as err:
        create_unit(
            session,
            None,
            UnitFields("W1", "  ", "Phường!", contact_email="x@", networks=("10.0.0.0/33",)),
            tree.units["C1"],
        )
    assert {(i.field, i.code) for i in err.value.issues} == {
        ("name", "field.required"),
        ("kind", "unit.bad_kind"),
        ("contact_email", "field.bad_email"),
        ("networks", "unit.bad_network"),
    }
    with pytest.raises(ValidationFailed) as taken:
        create_unit(session, None, UnitFields("W1", "Trùng", "ward"), tree.units["C1"])
    assert taken.value.issues[0].code == "unit.code_taken"
    with pytest.raises(PermissionDenied):
        create_unit(session, tree.users["coord"], UnitFields("W9", "Mới", "ward"), tree.units["C1"])
    with pytest.raises(PermissionDenied):  # only an administrator of a root makes roots
        create_unit(session, tree.users["coord"], UnitFields("R2", "Gốc", "province"), None)
    school = create_unit(
        session,
        tree.users["admin"],
        UnitFields(
            "S1", "  Trường   THCS  Một ", "school", networks=("10.1.2.3/16", "10.1.0.0/16")
        ),
        tree.units["W1"],
    )
    assert school.name == "Trường THCS Một" and school.networks == ["10.1.0.0/16"]
    assert school.depth == 3 and [u.code for u in ancestors(session, school)] == ["P", "C1", "W1"]
    update_unit(session, tree.users["admin"], school, UnitFields("S1", "Trường Một", "school"))
    assert school.networks == []


def test_move_subtree_and_delete(session: Session, tree) -> None:
    u = tree.units
    leaf = create_unit(session, None, UnitFields("S1", "Trường", "school"), u["W1"])
    with pytest.raises(ValidationFailed):
        move_unit(session, None, u["C1"], u["W1"])  # under its own child
    moved = move_unit(session, tree.users["admin"], u["W1"], u["C2"])
    assert moved.parent_id == u["C2"].id and moved.depth == 2
    leaf = session.get(type(leaf), leaf.id)
    assert leaf is not None and leaf.path == f"{u['C2'].path}{moved.id}/{leaf.id}/"
    # Tree order: parent first, siblings by name.
    assert [x.code for x in subtree(session, u["C2"])] == ["C2", "W1", "S1", "W3"]
    assert [x.code for x in subtree(session, u["C1"])] == ["C1", "W2"]
    # The coordinator of C1 no longer reaches W1.
    from lamsach.campaign.permissions import Action, can

    assert not can(tree.users["coord"], Action.VIEW_REPORT, moved)
    with pytest.raises(Conflict):
        delete_unit(session, None, moved)  # has a child
    with pytest.raises(Conflict):
        delete_unit(session, None, u["W2"])  # takes part in the campaign, has an officer
    delete_unit(session, tree.users["admin"], leaf)
    assert [x.code for x in subtree(session, moved)] == ["W1"]


def test_unit_for_address_prefers_most_specific(session: Session, tree) -> None:
    u = tree.units
    update_unit(
        session, None, u["W2"], UnitFields("W2", "Đơn vị W2", "ward", networks=("10.1.5.0/24",))
    )
    assert unit_for_address(session, "10.1.5.9") == u["W2"]  # W2's /24 inside C1's 10.1.0.0/16
    assert unit_for_address(session, "10.1.6.9") == u["C1"]
    assert unit_for_address(session, "192.0.2.1") is None


def test_tasks_and_campaign_lists(session: Session, tree) -> None:
    officer, coord = tree.users["off.w1"], tree.users["coord"]
    now = vn_datetime(2022, 9, 20)
    tasks = tasks_for(session, officer, now=now)
    assert [(t.kind, t.unit_code, t.status, t.days_left) for t in tasks] == [
        ("due", "W1", "not_started", 10)
    ]
    report = rp.open_report(session, officer, tree.campaign, tree.units["W1"], now=now)
    rp.save_values(
        session,
        officer,
        report,
        {
            "assessment": "Tốt",
            **dict.fromkeys(
                [
                    "orgs_informed",
                    "units_deployed",
                    "computers_total",
                    "computers_antivirus",
                    "computers_scanned",
                    "computers_infected",
                    "computers_cleaned",
                    "devices_malicious",
                    "devices_handled",
                    "awareness_activities",
                    "people_reached",
                ],
                1,
            ),
        },
        now=now,
    )
    assert tasks_for(session, officer, now=vn_datetime(2022, 10, 2))[0].kind == "overdue"
    assert tasks_for(session, officer, now=vn_datetime(2022, 10, 20)) == []  # locked
    rp.submit_report(session, officer, report, now=now)
    assert tasks_for(session, officer, now=now) == []
    review = [t for t in tasks_for(session, coord, now=now) if t.kind == "review"]
    assert [t.unit_code for t in review] == ["W1"]
    assert not [t for t in tasks_for(session, tree.users["coord2"], now=now) if t.kind == "review"]
    rp.return_report(session, coord, report, "Bổ sung", now=now)
    returned = tasks_for(session, officer, now=now)
    assert [(t.kind, t.comment) for t in returned] == [("returned", "Bổ sung")]
    assert [c.id for c in list_campaigns(session, officer)] == [tree.campaign.id]
    assert [u.code for u in participant_units(session, tree.campaign, tree.units["C2"])] == [
        "C2",
        "W3",
    ]
    assert tree.campaign.deadline == date(2022, 9, 30)
