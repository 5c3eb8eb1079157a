"""A storm of concurrent requests (opening reports creates them) is answered in full."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from pathlib import Path

import httpx
import pytest
import uvicorn

from lamsach.web.capacity import request_slots

from .conftest import build_portal

REQUESTS = 300


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.slow
def test_more_requests_than_connections_are_all_answered(tmp_path: Path, database_url: str) -> None:
    portal = build_portal(tmp_path, database_url)
    engine = portal.app.state.portal.engine
    assert request_slots(engine) < 40  # fewer connections than worker threads: the risky case
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(portal.app, host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    base = f"http://127.0.0.1:{port}"
    campaign = portal.demo.campaign_id

    async def storm() -> list[int | str]:
        async with httpx.AsyncClient(base_url=base, timeout=60) as client:
            issued = await client.post(
                "/api/auth/token", json={"username": "dieuphoi", "password": "lamsach2022"}
            )
            headers = {"authorization": f"Bearer {issued.json()['access_token']}"}
            status = await client.get(f"/api/campaigns/{campaign}/completeness", headers=headers)
            units = [u["unit_id"] for u in status.json()["units"]]
        # A client of its own, so that every request of the storm comes on a new connection: none
        # rides one the server may be closing for idleness, and a failure is the server's alone.
        unlimited = httpx.Limits(max_connections=None, max_keepalive_connections=0)
        async with httpx.AsyncClient(base_url=base, timeout=60, limits=unlimited) as client:
            # Opening a report that does not exist yet creates it: reads and writes at once.
            calls = [
                client.get(
                    f"/api/campaigns/{campaign}/units/{units[i % len(units)]}/report",
                    headers=headers,
                )
                for i in range(REQUESTS)
            ]
            answers = await asyncio.gather(*calls, return_exceptions=True)
        return [a.status_code if isinstance(a, httpx.Response) else repr(a) for a in answers]

    try:
        statuses = asyncio.run(storm())
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        engine.dispose()
    failed = [s for s in statuses if s != 200]
    assert not failed, f"{len(failed)} of {REQUESTS} requests not answered with 200: {failed[:5]}"
