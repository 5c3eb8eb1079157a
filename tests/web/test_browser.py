"""The portal in Debian's chromium, against a real uvicorn server on a free loopback port."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from playwright.sync_api import Page

from .conftest import Portal, build_portal, officer_without_report

pytestmark = pytest.mark.browser
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Portal, str]]:
    portal = build_portal(tmp_path, f"sqlite:///{tmp_path / 'browser.db'}")
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(portal.app, host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield portal, f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)
    portal.app.state.portal.engine.dispose()


def _login(page: Page, base: str, username: str) -> None:
    page.goto(base + "/login")
    page.fill("#username", username)
    page.fill("#password", "lamsach2022")
    page.click("form.stack button[type=submit]")
    page.wait_for_url(base + "/tasks")


def test_officer_submits_and_coordinator_approves(
    served: tuple[Portal, str], tmp_path: Path
) -> None:
    from playwright.sync_api import expect, sync_playwright

    portal, base = served
    username, unit_id = officer_without_report(portal)
    campaign = portal.demo.campaign_id
    report_url = f"{base}/campaigns/{campaign}/units/{unit_id}/report"
    with sync_playwright() as play:
        browser = play.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("dialog", lambda dialog: dialog.accept())

        # The coordinator's figures before.
        _login(page, base, "dieuphoi")
        page.goto(f"{base}/campaigns/{campaign}")
        rate_before = page.locator("#stat-reporting-rate .value").inner_text()
        total_before = page.locator('#totals tr[data-row="computers_total"] td.num').inner_text()
        page.click("header button.link")  # log out
        page.wait_for_url(base + "/login")

        # The ward officer opens the form from My tasks.
        _login(page, base, username)
        page.click(f'a[href="/campaigns/{campaign}/units/{unit_id}/report"]')
        page.wait_for_url(report_url)
        page.fill("#v-assessment", "Đã rà quét toàn bộ máy tính của phường.")
        figures = {
            "orgs_informed": "15",
            "units_deployed": "12",
            "computers_total": "1.500",
            "computers_antivirus": "1.400",
            "computers_scanned": "1.300",
            "computers_infected": "20",
            "computers_cleaned": "25",
            "devices_malicious": "4",
            "devices_handled": "4",
            "awareness_activities": "6",
            "people_reached": "3.000",
        }
        for code, value in figures.items():
            page.fill(f"#v-{code}", value)
        # Inline validation: cleaned (25) > infected (20) is shown beside the field.
        error = page.locator("#err-computers_cleaned .error")
        expect(error).to_contain_text("Phải nhỏ hơn hoặc bằng")
        page.screenshot(path=str(tmp_path / "validation.png"), full_page=True)
        page.fill("#v-computers_cleaned", "18")
        expect(error).to_have_count(0)
        page.click('button[value="submit"]')
        expect(page.locator(".flash.ok")).to_contain_text("Đã gửi báo cáo")
        expect(page.locator(".badge.submitted").first).to_be_visible()
        page.click("header button.link")
        page.wait_for_url(base + "/login")

        # The coordinator sees the rate and the totals change, and approves.
        _login(page, base, "dieuphoi")
        page.goto(f"{base}/campaigns/{campaign}")
        rate_after = page.locator("#stat-reporting-rate .value").inner_text()
        total_after = page.locator('#totals tr[data-row="computers_total"] td.num').inner_text()
        assert rate_after != rate_before
        assert _number(total_after) == _number(total_before) + 1500
        expect(page.locator("#chart-rate")).to_be_visible()
        page.screenshot(path=str(tmp_path / "dashboard.png"), full_page=True)
        page.goto(report_url)
        page.click("#approve")
        expect(page.locator(".flash.ok")).to_contain_text("Đã duyệt báo cáo")
        expect(page.locator(".badge.approved").first).to_be_visible()
        browser.close()
    assert not errors, errors


def _number(text: str) -> int:
    return int(text.replace(".", "").strip())
