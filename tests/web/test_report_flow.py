"""The report's life through the pages and the API: save, validate, trail, submit, review."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from .conftest import Portal, login, officer_without_report

GOOD = {
    "unit_name": "UBND phường thử",
    "assessment": "Đã triển khai đầy đủ.",
    "orgs_informed": "12",
    "units_deployed": "10",
    "computers_total": "1.234",
    "computers_antivirus": "1.200",
    "computers_scanned": "1.100",
    "computers_infected": "9",
    "computers_cleaned": "9",
    "devices_malicious": "3",
    "devices_handled": "3",
    "awareness_activities": "4",
    "people_reached": "2.500",
}


def _form(values: dict[str, str], **extra: str) -> dict[str, str]:
    return {**{f"v__{k}": v for k, v in values.items()}, **extra}


def _revision(page: str) -> str:
    match = re.search(r'name="revision" value="(\d+)"', page)
    assert match
    return match.group(1)


def _totals(client: TestClient, campaign: int) -> dict[str, int]:
    result: dict[str, int] = client.get(f"/api/campaigns/{campaign}/completeness").json()["totals"]
    return result


def test_officer_fills_submits_and_coordinator_approves(portal: Portal) -> None:
    username, unit_id = officer_without_report(portal)
    campaign = portal.demo.campaign_id
    officer = login(portal.app, username)
    coordinator = login(portal.app, "dieuphoi")
    url = f"/campaigns/{campaign}/units/{unit_id}/report"
    tasks = officer.get("/tasks").text
    assert url in tasks
    before = coordinator.get(f"/api/campaigns/{campaign}/completeness").json()
    page = officer.get(url)
    assert page.status_code == 200
    assert "STT" in page.text and "Số lượng" in page.text and "Ghi chú" in page.text

    # Cleaned > infected: refused beside the field, nothing saved.
    bad = _form({**GOOD, "computers_cleaned": "10"}, revision=_revision(page.text), action="save")
    refused = officer.post(url, data=bad)
    assert refused.status_code == 422
    assert 'id="err-computers_cleaned"' in refused.text
    assert "Phải nhỏ hơn hoặc bằng" in refused.text
    assert officer.get("/api" + url).json()["values"].get("computers_cleaned") is None

    # The inline check (htmx) says the same without saving.
    check = officer.post(url + "/check", data=bad, headers={"hx-request": "true"})
    assert check.status_code == 200
    assert 'id="err-computers_cleaned" class="field-errors" hx-swap-oob="true"><div' in check.text
    assert 'id="err-computers_infected" class="field-errors" hx-swap-oob="true"></div>' in (
        check.text
    )

    # Saved and submitted; typed "1.234" is one thousand two hundred and thirty-four.
    page = officer.get(url)
    done = officer.post(url, data=_form(GOOD, revision=_revision(page.text), action="submit"))
    assert done.status_code == 303, done.text[:3000]
    report = officer.get("/api" + url).json()
    assert report["status"] == "submitted"
    assert report["values"]["computers_total"] == 1234
    assert report["on_time"] is False  # the demo campaign's deadline (30/9/2022) is long past
    assert {t["row_code"] for t in report["trail"]} >= {"computers_total", "people_reached"}
    assert all(
        t["username"] == username for t in report["trail"] if t["row_code"] == "computers_total"
    )

    # The page shows the figures with Vietnamese separators and the trail beside the field.
    shown = officer.get(url).text
    assert 'value="1.234"' in shown
    assert f"Sửa bởi {username}" in shown

    after = coordinator.get(f"/api/campaigns/{campaign}/completeness").json()
    assert after["overall"]["reported"] == before["overall"]["reported"] + 1
    assert after["totals"]["computers_total"] == before["totals"]["computers_total"] + 1234
    dashboard = coordinator.get(f"/campaigns/{campaign}").text
    rate = f"{after['overall']['reporting_rate'] * 100:.1f}".replace(".", ",") + "%"
    assert rate in dashboard

    # The officer may not approve; the coordinator does, and the report is then locked.
    assert officer.post(url + "/approve").status_code == 403
    approved = coordinator.post(url + "/approve", follow_redirects=True)
    assert approved.status_code == 200 and "Đã duyệt" in approved.text
    locked = officer.put("/api" + url, json={"values": {"computers_total": 1}})
    assert locked.status_code == 409
    assert officer.get("/api" + url).json()["status"] == "approved"


def test_return_with_comment_reaches_the_officers_tasks(portal: Portal) -> None:
    username, unit_id = officer_without_report(portal)
    campaign = portal.demo.campaign_id
    officer = login(portal.app, username)
    coordinator = login(portal.app, "dieuphoi")
    api = f"/api/campaigns/{campaign}/units/{unit_id}/report"
    saved = officer.put(api, json={"values": {k: v for k, v in GOOD.items()}})
    assert saved.status_code == 200, saved.text
    assert officer.post(api + "/submit").json()["status"] == "submitted"
    empty = coordinator.post(api + "/return", json={"comment": "  "})
    assert empty.status_code == 422
    returned = coordinator.post(api + "/return", json={"comment": "Bổ sung số máy đã quét"})
    assert returned.json()["status"] == "returned"
    tasks = officer.get("/api/tasks").json()
    mine = [t for t in tasks if t["unit_id"] == unit_id]
    assert mine and mine[0]["kind"] == "returned"
    assert mine[0]["comment"] == "Bổ sung số máy đã quét"
    assert "Bổ sung số máy đã quét" in officer.get("/tasks").text


def test_stale_revision_is_a_conflict(portal: Portal) -> None:
    username, unit_id = officer_without_report(portal)
    officer = login(portal.app, username)
    api = f"/api/campaigns/{portal.demo.campaign_id}/units/{unit_id}/report"
    revision = officer.get(api).json()["revision"]
    first = officer.put(api, json={"values": {"computers_total": 5}, "revision": revision})
    assert first.status_code == 200
    second = officer.put(api, json={"values": {"computers_total": 6}, "revision": revision})
    assert second.status_code == 409
    assert second.json()["error"] == "report.changed"
    assert officer.get(api).json()["values"]["computers_total"] == 5


def test_api_validation_lists_every_problem(portal: Portal) -> None:
    username, unit_id = officer_without_report(portal)
    officer = login(portal.app, username)
    api = f"/api/campaigns/{portal.demo.campaign_id}/units/{unit_id}/report"
    response = officer.put(
        api,
        json={
            "values": {"computers_infected": 3, "computers_cleaned": 4, "people_reached": "nhiều"}
        },
    )
    assert response.status_code == 422
    fields = {issue["field"] for issue in response.json()["issues"]}
    assert fields == {"computers_cleaned", "people_reached"}
    check = officer.post(
        api + "/check", json={"values": {"computers_infected": 3, "computers_cleaned": 4}}
    )
    assert [i["field"] for i in check.json()] == ["computers_cleaned"]


def test_english_interface_is_selectable(portal: Portal) -> None:
    client = login(portal.app, "dieuphoi")
    page = client.get(f"/campaigns/{portal.demo.campaign_id}")
    assert "Tỷ lệ báo cáo" in page.text
    switched = client.post("/language", data={"locale": "en", "next": "/tasks"})
    assert switched.status_code == 303 and switched.headers["location"] == "/tasks"
    english = client.get(f"/campaigns/{portal.demo.campaign_id}").text
    assert "Reporting rate" in english and "Tỷ lệ báo cáo" not in english
    assert re.search(r"\d{2}/\d{2}/\d{4}", english)  # dates stay dd/mm/yyyy
    error = client.put(
        f"/api/campaigns/{portal.demo.campaign_id}/units/999999/report", json={"values": {}}
    )
    assert error.json()["message"] == "Unit not found."


def test_dashboard_filter_is_the_same_for_page_and_api(portal: Portal) -> None:
    client = login(portal.app, "dieuphoi")
    campaign = portal.demo.campaign_id
    for query in ("status=approved", "status=missing", "late=true", "kind=ward", "q=phường"):
        api = client.get(f"/api/campaigns/{campaign}/completeness?{query}").json()["units"]
        page = client.get(f"/campaigns/{campaign}?{query}").text
        rows = re.findall(r'<tr data-unit="([^"]+)"', page)
        assert rows == [u["code"] for u in api], query
    everything = client.get(f"/api/campaigns/{campaign}/completeness").json()
    approved = client.get(f"/api/campaigns/{campaign}/completeness?status=approved").json()
    assert len(approved["units"]) == everything["overall"]["approved"]
    bad = client.get(f"/api/campaigns/{campaign}/completeness?status=lost")
    assert bad.status_code == 422


def test_viewer_reads_the_form_but_gets_no_buttons(portal: Portal) -> None:
    viewer = login(portal.app, "lanhdao")
    ward = portal.unit_of("officer")
    page = viewer.get(f"/campaigns/{portal.demo.campaign_id}/units/{ward}/report").text
    assert 'name="v__computers_total"' in page
    assert re.search(r'name="v__computers_total"[^>]*disabled', page)
    assert 'value="submit"' not in page and 'id="approve"' not in page
    assert re.search(r"Hạn báo cáo</div>30/09/2022", page)


def _unit_status(client: TestClient, campaign: int, unit_id: int) -> tuple[str, dict[str, int]]:
    result = client.get(f"/api/campaigns/{campaign}/completeness").json()
    status = next(u["status"] for u in result["units"] if u["unit_id"] == unit_id)
    return status, result["overall"]


def test_looking_at_a_report_not_started_does_not_start_it(portal: Portal) -> None:
    _username, unit_id = officer_without_report(portal)
    campaign = portal.demo.campaign_id
    coordinator = login(portal.app, "dieuphoi")
    url = f"/campaigns/{campaign}/units/{unit_id}/report"
    status, before = _unit_status(coordinator, campaign, unit_id)
    assert status == "not_started"

    page = coordinator.get(url)
    assert page.status_code == 200
    assert '<span class="badge not_started">Chưa bắt đầu</span>' in page.text
    # Begun from the unit's name; the coordinator may fill it in, so the form is editable.
    assert re.search(r'name="v__unit_name" type="text" value="UBND[^"]*"\s+class=""\s+>', page.text)
    assert 'value="save"' in page.text and 'name="revision" value="0"' in page.text
    assert "báo cáo được tạo khi số liệu được lưu lần đầu" in page.text
    report = coordinator.get("/api" + url).json()
    assert report["id"] is None and report["status"] == "not_started"
    assert report["values"]["unit_name"].startswith("UBND")
    assert report["trail"] == [] and report["history"] == []
    assert set(report["allowed_actions"]) == {"edit_report", "submit_report"}
    # The inline check works on it and creates nothing either.
    bad = _form({**GOOD, "computers_cleaned": "10"})
    check = coordinator.post(url + "/check", data=bad, headers={"hx-request": "true"})
    assert check.status_code == 200 and "Phải nhỏ hơn hoặc bằng" in check.text
    assert coordinator.post("/api" + url + "/check", json={"values": {}}).status_code == 200
    # Approving or returning what was never sent is refused, and starts nothing.
    assert coordinator.post("/api" + url + "/approve").status_code == 409
    assert coordinator.post(url + "/return", data={"comment": "?"}).status_code == 409

    # A reader sees the same start, read-only.
    viewer = login(portal.app, "lanhdao")
    shown = viewer.get(url).text
    assert '<span class="badge not_started">' in shown
    assert re.search(r'name="v__unit_name"[^>]*disabled', shown) and 'value="save"' not in shown
    assert "Đơn vị chưa bắt đầu báo cáo này." in shown
    assert viewer.get("/api" + url).json()["allowed_actions"] == []

    status, after = _unit_status(coordinator, campaign, unit_id)
    assert status == "not_started"
    assert (after["not_started"], after["draft"]) == (before["not_started"], before["draft"])


def test_first_save_creates_the_draft_with_the_values(portal: Portal) -> None:
    username, unit_id = officer_without_report(portal)
    campaign = portal.demo.campaign_id
    officer = login(portal.app, username)
    coordinator = login(portal.app, "dieuphoi")
    url = f"/campaigns/{campaign}/units/{unit_id}/report"
    page = officer.get(url).text
    assert re.search(r'name="v__computers_total"[^>]*aria-describedby', page)
    assert "disabled" not in page.split('name="v__computers_total"')[1].split(">")[0]

    # A refused first save keeps it not started.
    bad = _form({**GOOD, "computers_cleaned": "10"}, revision=_revision(page), action="save")
    refused = officer.post(url, data=bad)
    assert refused.status_code == 422 and 'value="10"' in refused.text
    assert _unit_status(coordinator, campaign, unit_id)[0] == "not_started"

    saved = officer.post(url, data=_form(GOOD, revision=_revision(page), action="save"))
    assert saved.status_code == 303, saved.text[:2000]
    report = officer.get("/api" + url).json()
    assert report["id"] is not None and report["status"] == "draft"
    assert report["values"]["computers_total"] == 1234
    assert report["values"]["unit_name"] == GOOD["unit_name"]
    assert [e["action"] for e in report["history"]] == ["created"]
    assert all(e["username"] == username for e in report["trail"])
    assert _unit_status(coordinator, campaign, unit_id)[0] == "draft"
    assert 'id="not-started"' not in officer.get(url).text
    # The form now carries the draft's revision: a second save with the old one is stale.
    again = officer.post(url, data=_form(GOOD, revision="0", action="save"))
    assert again.status_code == 409


def test_first_api_save_creates_the_draft(portal: Portal) -> None:
    username, unit_id = officer_without_report(portal)
    officer = login(portal.app, username)
    api = f"/api/campaigns/{portal.demo.campaign_id}/units/{unit_id}/report"
    assert officer.get(api).json()["status"] == "not_started"
    saved = officer.put(api, json={"values": {"computers_total": 7}, "revision": 0})
    assert saved.status_code == 200, saved.text
    assert saved.json()["status"] == "draft" and saved.json()["values"]["computers_total"] == 7
    assert saved.json()["revision"] == 1
