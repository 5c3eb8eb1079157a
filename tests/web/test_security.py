"""Security of the portal: CSRF, login throttling, upload limits, cookies, headers, escaping."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from openpyxl import Workbook

from lamsach.campaign.audit import entries
from lamsach.campaign.errors import NotFound
from lamsach.campaign.units import get_unit_by_code

from .conftest import CSRF_RE, Portal, build_portal, csrf_of, login


def test_form_post_without_csrf_token_is_rejected(portal: Portal) -> None:
    client = login(portal.app, "p.dienbien")
    ward = portal.unit_of("officer")
    url = f"/campaigns/{portal.demo.campaign_id}/units/{ward}/report"
    del client.headers["x-csrf-token"]
    response = client.post(url, data={"v__computers_total": "99", "action": "save"})
    assert response.status_code == 403
    # A wrong token is no better than none.
    response = client.post(url, data={"v__computers_total": "99", "csrf_token": "forged"})
    assert response.status_code == 403
    report = client.get("/api" + url).json()
    assert report["values"].get("computers_total") != 99


def test_api_call_from_the_session_needs_the_csrf_header(portal: Portal) -> None:
    client = login(portal.app, "p.dienbien")
    ward = portal.unit_of("officer")
    url = f"/api/campaigns/{portal.demo.campaign_id}/units/{ward}/report"
    token = client.headers.pop("x-csrf-token")
    refused = client.put(url, json={"values": {"computers_total": 7}})
    assert refused.status_code == 403
    assert refused.json()["error"] == "csrf"
    accepted = client.put(
        url, json={"values": {"computers_total": 7}}, headers={"x-csrf-token": token}
    )
    assert accepted.status_code in (200, 409), accepted.text


def test_login_form_needs_csrf_token(portal: Portal) -> None:
    client = TestClient(portal.app, follow_redirects=False)
    response = client.post("/login", data={"username": "admin", "password": "lamsach2022"})
    assert response.status_code == 403
    assert "lamsach_session" not in response.cookies or not client.get("/api/me").is_success


def test_bearer_token_works_without_cookie_or_csrf(portal: Portal) -> None:
    client = TestClient(portal.app)
    issued = client.post(
        "/api/auth/token", json={"username": "dieuphoi", "password": "lamsach2022"}
    )
    assert issued.status_code == 200
    token = issued.json()["access_token"]
    fresh = TestClient(portal.app)
    me = fresh.get("/api/me", headers={"authorization": f"Bearer {token}"})
    assert me.json()["username"] == "dieuphoi"
    assert fresh.get("/api/me", headers={"authorization": "Bearer forged"}).status_code == 401
    assert fresh.get("/api/me").status_code == 401


def _wrong_login(client: TestClient, username: str) -> int:
    token = csrf_of(client)
    return client.post(
        "/login", data={"username": username, "password": "wrong", "csrf_token": token}
    ).status_code


def test_login_is_throttled_after_too_many_wrong_passwords(portal: Portal) -> None:
    limit = portal.settings.login_max_failures
    client = TestClient(portal.app, follow_redirects=False)
    statuses = [_wrong_login(client, "p.dienbien") for _ in range(limit)]
    assert statuses == [401] * limit
    # Now even the right password is refused for a while, and the page says why.
    token = csrf_of(client)
    locked = client.post(
        "/login", data={"username": "p.dienbien", "password": "lamsach2022", "csrf_token": token}
    )
    assert locked.status_code == 429
    assert "thử lại" in locked.text
    api = client.post("/api/auth/token", json={"username": "p.dienbien", "password": "lamsach2022"})
    assert api.status_code == 429
    with portal.session() as db:
        failed = [e for e in entries(db, action="login", limit=50) if not e.success]
        assert len(failed) >= limit
        assert entries(db, action="login.throttled")


def test_throttle_limit_comes_from_settings(tmp_path: Path) -> None:
    built = build_portal(tmp_path, f"sqlite:///{tmp_path / 'x.db'}", login_max_failures=2)
    client = TestClient(built.app, follow_redirects=False)
    assert [_wrong_login(client, "admin") for _ in range(2)] == [401, 401]
    assert _wrong_login(client, "admin") == 429
    built.app.state.portal.engine.dispose()


def test_lockout_outlasts_the_failure_window(tmp_path: Path) -> None:
    # The failures fall out of a one-second window, but the lock-out set in Settings holds.
    built = build_portal(
        tmp_path,
        f"sqlite:///{tmp_path / 'x.db'}",
        login_max_failures=2,
        login_window_seconds=1,
        login_lockout_seconds=3600,
    )
    client = TestClient(built.app, follow_redirects=False)
    assert [_wrong_login(client, "admin") for _ in range(2)] == [401, 401]
    time.sleep(1.2)
    assert _wrong_login(client, "admin") == 429
    built.app.state.portal.engine.dispose()


def test_successful_login_and_admin_actions_are_audited(portal: Portal) -> None:
    client = login(portal.app, "admin")
    city = portal.unit_of("coordinator")
    created = client.post(
        "/api/units",
        json={"code": "AUDIT-1", "name": "Đơn vị kiểm tra", "kind": "agency", "parent_id": city},
    )
    assert created.status_code == 201
    with portal.session() as db:
        logins = [e for e in entries(db, action="login") if e.username == "admin" and e.success]
        assert logins
        mine = [e.target for e in entries(db, action="unit.create", username="admin")]
        assert mine == ["AUDIT-1"]


def test_upload_over_the_limit_is_refused_with_a_clear_error(tmp_path: Path) -> None:
    built = build_portal(tmp_path, f"sqlite:///{tmp_path / 'x.db'}", upload_max_bytes=2048)
    client = login(built.app, "admin")
    big = b"code,name,kind,parent_code\n" + b"X" * 4096
    response = client.post("/api/units/import", files={"file": ("units.csv", big, "text/csv")})
    assert response.status_code == 413
    assert "at most 2048 bytes" in response.text and "quá lớn" in response.text

    def streamed() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
        yield b"--b\r\nContent-Disposition: form-data; name=file; filename=u.csv\r\n\r\n"
        for _ in range(8):
            yield b"y" * 1000

    chunked = client.post(
        "/api/units/import",
        content=streamed(),
        headers={"content-type": "multipart/form-data; boundary=b"},
    )
    assert chunked.status_code == 413
    assert "at most 2048 bytes" in chunked.text
    with built.session() as db, pytest.raises(NotFound):
        get_unit_by_code(db, "X")
    built.app.state.portal.engine.dispose()


def test_hostile_uploads_are_refused_and_change_nothing(portal: Portal) -> None:
    client = login(portal.app, "admin")
    before = client.get("/api/units").json()
    cases = [
        ("units.exe", b"MZ\x90\x00", "upload.bad_type"),
        ("units.xlsx", b"PK\x03\x04 not really a workbook", "import.unreadable"),
        ("units.csv", b"\xff\xfe\x00garbage", "import.unreadable"),
        ("units.csv", b"name,kind\nA,ward\n", "import.missing_column"),
    ]
    for name, data, code in cases:
        response = client.post("/api/units/import", files={"file": (name, data, "text/plain")})
        assert response.status_code == 422, (name, response.text)
        assert code in [issue["code"] for issue in response.json()["issues"]], response.text
    assert client.get("/api/units").json() == before


def test_import_with_errors_lists_rows_on_the_page(portal: Portal) -> None:
    client = login(portal.app, "admin")
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["code", "name", "kind", "parent_code"])
    sheet.append(["OK-1", "Trường THCS Lê Lợi", "school", "TH"])
    sheet.append(["bad code!", "", "school", "NO-SUCH-PARENT"])
    data = io.BytesIO()
    book.save(data)
    response = client.post(
        "/units/import", files={"file": ("units.xlsx", data.getvalue(), "application/octet-stream")}
    )
    assert response.status_code == 422
    assert "Dòng 3" in response.text
    assert "OK-1" not in client.get("/api/units").text


def test_cookies_and_security_headers(portal: Portal) -> None:
    client = TestClient(portal.app, follow_redirects=False)
    token = csrf_of(client)
    response = client.post(
        "/login", data={"username": "admin", "password": "lamsach2022", "csrf_token": token}
    )
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "secure" not in cookie
    page = client.get("/tasks")
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["x-content-type-options"] == "nosniff"


def test_cookie_is_secure_over_https(portal: Portal) -> None:
    client = TestClient(portal.app, base_url="https://portal.example", follow_redirects=False)
    token = csrf_of(client)
    response = client.post(
        "/login", data={"username": "admin", "password": "lamsach2022", "csrf_token": token}
    )
    assert "secure" in response.headers["set-cookie"].lower()
    assert "strict-transport-security" in response.headers


def test_names_are_escaped_in_pages(portal: Portal) -> None:
    admin = login(portal.app, "admin")
    city = portal.unit_of("coordinator")
    hostile = "<script>alert(1)</script>"
    created = admin.post(
        "/api/units", json={"code": "XSS-1", "name": hostile, "kind": "agency", "parent_id": city}
    )
    assert created.status_code == 201
    page = admin.get("/units")
    assert hostile not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    dashboard = admin.get(f"/campaigns/{portal.demo.campaign_id}")
    assert "</script><script>" not in dashboard.text


def test_open_redirect_after_login_is_refused(portal: Portal) -> None:
    client = TestClient(portal.app, follow_redirects=False)
    token = csrf_of(client)
    response = client.post(
        "/login",
        data={
            "username": "admin",
            "password": "lamsach2022",
            "csrf_token": token,
            "next": "//evil.example/",
        },
    )
    assert response.headers["location"] == "/tasks"


def test_logout_ends_the_session(portal: Portal) -> None:
    client = login(portal.app, "admin")
    assert client.get("/api/me").status_code == 200
    assert client.post("/logout").status_code == 303
    assert client.get("/api/me").status_code == 401
    assert CSRF_RE.search(client.get("/login").text)


def test_login_is_throttled_per_address_across_accounts(portal: Portal) -> None:
    limit = portal.settings.login_max_failures
    client = TestClient(portal.app, follow_redirects=False)
    names = [f"khong-co-{i}" for i in range(limit)]
    assert [_wrong_login(client, name) for name in names] == [401] * limit
    # A fresh account name from the same address is refused too, before any password check.
    token = csrf_of(client)
    response = client.post(
        "/login", data={"username": "admin", "password": "lamsach2022", "csrf_token": token}
    )
    assert response.status_code == 429


def test_numbers_no_column_can_hold_are_refused_not_a_server_error(portal: Portal) -> None:
    # Found by fuzzing the API (schemathesis): SQLite cannot bind such an id, PostgreSQL cannot
    # store it, and both once answered 500.
    client = login(portal.app, "admin")
    huge = 10**30
    campaign, ward = portal.demo.campaign_id, portal.unit_of("officer")
    for method, url in [
        ("GET", f"/api/campaigns/{huge}/units/{ward}/report"),
        ("GET", f"/api/campaigns/{campaign}/units/{huge}/report"),
        ("POST", f"/api/campaigns/{huge}/units/{ward}/report/submit"),
        ("DELETE", f"/api/campaigns/{huge}/exceptions/{ward}"),
    ]:
        response = client.request(method, url)
        assert response.status_code == 422, (method, url, response.text)
        assert response.json()["error"] == "invalid_request"
    page = client.get(f"/campaigns/{huge}/units/{ward}/report")
    assert page.status_code == 400 and "text/html" in page.headers["content-type"]
    # And the portal goes on answering.
    assert client.get(f"/api/campaigns/{campaign}/units/{ward}/report").status_code == 200
