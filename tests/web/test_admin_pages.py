"""Administration through the pages: units, import and export, users, campaigns, templates."""

from __future__ import annotations

import io
import re

from fastapi.testclient import TestClient
from openpyxl import load_workbook

from .conftest import Portal, login


def _unit_id(client: TestClient, code: str) -> int:
    return next(u["id"] for u in client.get("/api/units").json() if u["code"] == code)


def test_unit_create_edit_move_delete(portal: Portal) -> None:
    admin = login(portal.app, "admin")
    city = portal.unit_of("coordinator")
    ward = portal.unit_of("officer")
    form = {
        "code": "THCS-LL",
        "name": "Trường THCS Lê Lợi",
        "kind": "school",
        "parent_id": str(city),
        "contact_email": "not-an-email",
    }
    refused = admin.post("/units/new", data=form)
    assert refused.status_code == 422
    assert "Địa chỉ email không hợp lệ" in refused.text
    assert "THCS-LL" not in admin.get("/api/units").text
    created = admin.post(
        "/units/new",
        data={**form, "contact_email": "thcs@example.vn", "networks": "10.8.0.0/24 10.9.0.1"},
    )
    assert created.status_code == 303
    unit_id = _unit_id(admin, "THCS-LL")
    assert created.headers["location"] == f"/units/{unit_id}"
    unit = admin.get(f"/api/units/{unit_id}").json()
    assert unit["networks"] == ["10.8.0.0/24", "10.9.0.1/32"]
    moved = admin.post(
        f"/units/{unit_id}", data={**form, "contact_email": "", "parent_id": str(ward)}
    )
    assert moved.status_code == 303
    assert admin.get(f"/api/units/{unit_id}").json()["parent_id"] == ward
    assert "Trường THCS Lê Lợi" in admin.get("/units").text
    assert admin.post(f"/units/{unit_id}/delete").status_code == 303
    assert admin.get(f"/api/units/{unit_id}").status_code == 404


def test_unit_tree_export_and_import_round_trip(portal: Portal) -> None:
    admin = login(portal.app, "admin")
    exported = admin.get("/units/export?format=csv")
    assert exported.status_code == 200
    assert exported.headers["content-disposition"].startswith("attachment;")
    text = exported.content.decode("utf-8-sig")
    assert text.splitlines()[0].startswith("code,name,kind,parent_code")
    count = len(text.strip().splitlines()) - 1
    assert count == len(admin.get("/api/units").json())
    edited = text.replace("Phòng Tư pháp", "Phòng Tư pháp thành phố", 1).encode("utf-8-sig")
    imported = admin.post("/units/import", files={"file": ("units.csv", edited, "text/csv")})
    assert imported.status_code == 303
    notice = admin.get("/units").text
    assert "Đã nhập: 0 đơn vị mới" in notice
    assert "Phòng Tư pháp thành phố" in notice
    workbook = load_workbook(io.BytesIO(admin.get("/api/units/export?format=xlsx").content))
    sheet = workbook.worksheets[0]
    assert [c.value for c in sheet[1]][:4] == ["code", "name", "kind", "parent_code"]
    assert sheet.max_row == count + 1


def test_officer_sees_only_their_unit(portal: Portal) -> None:
    officer = login(portal.app, "p.dienbien")
    units = officer.get("/api/units").json()
    assert [u["id"] for u in units] == [portal.unit_of("officer")]
    export = officer.get("/api/units/export?format=csv").content.decode("utf-8-sig")
    assert len(export.strip().splitlines()) == 2


def test_user_management(portal: Portal) -> None:
    admin = login(portal.app, "admin")
    ward = portal.unit_of("officer")
    form = {
        "username": "canbo.moi",
        "password": "ngan",
        "full_name": "Nguyễn Văn A",
        "role": "officer",
        "unit_id": str(ward),
    }
    refused = admin.post("/users", data=form)
    assert refused.status_code == 422
    assert "Mật khẩu cần ít nhất" in refused.text
    created = admin.post("/users", data={**form, "password": "mat-khau-moi-1"})
    assert created.status_code == 303
    user_id = int(created.headers["location"].rsplit("/", 1)[1])
    assert login(portal.app, "canbo.moi", "mat-khau-moi-1").get("/api/me").status_code == 200
    added = admin.post(f"/users/{user_id}/roles", data={"role": "viewer", "unit_id": str(ward)})
    assert added.status_code == 303
    roles = admin.get(f"/api/users/{user_id}").json()["roles"]
    assert sorted(r["role"] for r in roles) == ["officer", "viewer"]
    viewer_role = next(r["id"] for r in roles if r["role"] == "viewer")
    assert admin.post(f"/users/{user_id}/roles/{viewer_role}/delete").status_code == 303
    assert [r["role"] for r in admin.get(f"/api/users/{user_id}").json()["roles"]] == ["officer"]
    assert admin.post(f"/users/{user_id}", data={"is_active": "false"}).status_code == 303
    client = TestClient(portal.app, follow_redirects=False)
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)
    assert token
    refused_login = client.post(
        "/login",
        data={"username": "canbo.moi", "password": "mat-khau-moi-1", "csrf_token": token.group(1)},
    )
    assert refused_login.status_code == 401
    assert "canbo.moi" in admin.get("/users").text


def test_campaign_set_up(portal: Portal) -> None:
    coordinator = login(portal.app, "dieuphoi")
    city = portal.unit_of("coordinator")
    ward = portal.unit_of("officer")
    template = coordinator.get("/api/templates").json()[0]["id"]
    form = {
        "name": "Chiến dịch 2023",
        "owner_unit_id": str(city),
        "template_id": str(template),
        "refs": "1298/CATTT-NCSC\n2345/UBND-VHTT",
        "start_date": "01/09/2023",  # typed dd/mm/yyyy; ISO dates are read too
        "deadline": "15/10/2023",
        "lock_date": "2023-10-01",
    }
    not_a_day = coordinator.post("/campaigns/new", data={**form, "deadline": "31/02/2023"})
    assert not_a_day.status_code == 422
    assert "Nhập ngày theo dạng dd/mm/yyyy." in not_a_day.text
    refused = coordinator.post("/campaigns/new", data=form)
    assert refused.status_code == 422
    assert "hạn báo cáo ≤ ngày khóa số liệu" in refused.text
    created = coordinator.post("/campaigns/new", data={**form, "lock_date": "2023-10-31"})
    assert created.status_code == 303
    campaign_id = int(created.headers["location"].split("/")[2])
    campaign = coordinator.get(f"/api/campaigns/{campaign_id}").json()
    assert campaign["directive_refs"] == ["1298/CATTT-NCSC", "2345/UBND-VHTT"]
    assert campaign["deadline"] == "2023-10-15" and campaign["lock_date"] == "2023-10-31"
    granted = coordinator.post(
        f"/campaigns/{campaign_id}/exceptions",
        data={"unit_id": str(ward), "lock_date": "30/11/2023", "reason": "Sáp nhập"},
    )
    assert granted.status_code == 303
    exceptions = coordinator.get(f"/api/campaigns/{campaign_id}/exceptions").json()
    assert exceptions == [{"unit_id": ward, "lock_date": "2023-11-30", "reason": "Sáp nhập"}]
    assert "30/11/2023" in coordinator.get(f"/campaigns/{campaign_id}/edit").text
    kept = coordinator.post(f"/campaigns/{campaign_id}/participants", data={"unit_id": [str(ward)]})
    assert kept.status_code == 303
    status = coordinator.get(f"/api/campaigns/{campaign_id}/completeness").json()
    assert status["overall"]["expected"] == 1
    # The officer of another ward no longer owes anything for it.
    other = login(portal.app, "p.lamson")
    assert all(t["campaign_id"] != campaign_id for t in other.get("/api/tasks").json())


def test_template_copy_and_edit_rows(portal: Portal) -> None:
    coordinator = login(portal.app, "dieuphoi")
    builtin = coordinator.get("/api/templates").json()[0]
    frozen = coordinator.post(f"/templates/{builtin['id']}", data={"rules": ""})
    assert frozen.status_code == 409
    copied = coordinator.post(f"/templates/{builtin['id']}/copy")
    assert copied.status_code == 303
    copy_id = int(copied.headers["location"].rsplit("/", 1)[1])
    page = coordinator.get(f"/templates/{copy_id}").text
    assert "Tổng số máy tính của đơn vị" in page
    definition = coordinator.get(f"/api/templates/{copy_id}").json()["definition"]
    rows = {
        "row_section": [],
        "row_code": [],
        "row_number": [],
        "row_label_vi": [],
        "row_label_en": [],
        "row_type": [],
        "row_required": [],
    }
    for section in definition["sections"]:
        for row in [*section["rows"], None]:
            new = row is None and section["code"] == "figures"
            if row is None and not new:
                continue
            rows["row_section"].append(section["code"])
            rows["row_code"].append("servers_scanned" if new else row["code"])
            rows["row_number"].append("11" if new else row["number"])
            rows["row_label_vi"].append("Số máy chủ đã rà quét" if new else row["label_vi"])
            rows["row_label_en"].append("Servers scanned" if new else row["label_en"])
            rows["row_type"].append("count" if new else row.get("type", "count"))
            rows["row_required"].append("no" if new or not row.get("required", True) else "yes")
    rules = "\n".join(f"{r['left']} {r['op']} {r['right']}" for r in definition["rules"])
    saved = coordinator.post(
        f"/templates/{copy_id}",
        data={
            **rows,
            "rules": rules + "\nservers_scanned <= computers_scanned",
            "name_vi": "Phụ lục 01 (có máy chủ)",
            "name_en": "Appendix 01 (servers)",
        },
    )
    assert saved.status_code == 303, saved.text[:2000]
    after = coordinator.get(f"/api/templates/{copy_id}").json()
    codes = [r["code"] for s in after["definition"]["sections"] for r in s["rows"]]
    assert codes[-1] == "servers_scanned"
    assert {"left": "servers_scanned", "op": "<=", "right": "computers_scanned"} in (
        after["definition"]["rules"]
    )
    bad = coordinator.post(f"/templates/{copy_id}", data={**rows, "rules": "a => b"})
    assert bad.status_code == 422
    assert after["name_vi"] == "Phụ lục 01 (có máy chủ)"


def test_audit_log_page_lists_logins(portal: Portal) -> None:
    admin = login(portal.app, "admin")
    page = admin.get("/audit?action=login")
    assert page.status_code == 200
    assert "admin" in page.text and "testclient" in page.text  # the client address


def test_unknown_pages_and_api_paths(portal: Portal) -> None:
    admin = login(portal.app, "admin")
    page = admin.get("/no-such-page")
    assert page.status_code == 404 and "Trang này không tồn tại." in page.text
    api = admin.get("/api/no-such-thing")
    assert api.status_code == 404 and api.json()["error"] == "http"
    missing = admin.get("/api/units/999999")
    assert missing.status_code == 404 and missing.json()["error"] == "unit.not_found"
