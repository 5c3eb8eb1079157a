"""``lamsach demo`` and ``lamsach serve``: the data set, the printed logins, a running portal."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from lamsach.cli.app import app


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for(url: str, process: subprocess.Popen[bytes], seconds: float = 60) -> httpx.Response:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stdout.read().decode() if process.stdout else ""
        try:
            return httpx.get(url, timeout=2)
        except httpx.TransportError:
            time.sleep(0.2)
    raise AssertionError(f"{url} did not answer")


def _stop(process: subprocess.Popen[bytes]) -> str:
    process.terminate()
    try:
        out, _ = process.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        out, _ = process.communicate()
    return out.decode()


def test_demo_creates_the_city_once_and_prints_logins(tmp_path: Path) -> None:
    runner = CliRunner()
    data = tmp_path / "demo"
    first = runner.invoke(app, ["demo", "--data-dir", str(data), "--no-serve"])
    assert first.exit_code == 0, first.output
    assert "lamsach2022" in first.output
    assert "dieuphoi" in first.output and "coordinator" in first.output
    assert (data / "lamsach.db").is_file()
    again = runner.invoke(app, ["demo", "--data-dir", str(data), "--no-serve"])
    assert again.exit_code == 0
    assert "existing" in again.output


@pytest.mark.slow
def test_demo_serves_the_portal_on_the_given_port(tmp_path: Path) -> None:
    port = _free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "lamsach",
            "demo",
            "--data-dir",
            str(tmp_path / "d"),
            "--port",
            str(port),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        page = _wait_for(f"http://127.0.0.1:{port}/login", process)
        assert page.status_code == 200
        assert "Đăng nhập" in page.text
        token = httpx.post(
            f"http://127.0.0.1:{port}/api/auth/token",
            json={"username": "dieuphoi", "password": "lamsach2022"},
        )
        assert token.status_code == 200
    finally:
        output = _stop(process)
    assert f"http://127.0.0.1:{port}/" in output


@pytest.mark.slow
@pytest.mark.parametrize("workers", [1, 2])
def test_serve_upgrades_the_configured_database_and_runs(tmp_path: Path, workers: int) -> None:
    port = _free_port()
    env = {**os.environ, "LAMSACH_DATA_DIR": str(tmp_path / "serve")}
    env.pop("LAMSACH_DATABASE_URL", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "lamsach", "serve", "--port", str(port), "--workers", str(workers)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
    )
    try:
        page = _wait_for(f"http://127.0.0.1:{port}/login", process)
        assert page.status_code == 200
        assert page.headers["x-frame-options"] == "DENY"
        assert (tmp_path / "serve" / "lamsach.db").is_file()
        anonymous = httpx.get(f"http://127.0.0.1:{port}/api/me")
        assert anonymous.status_code == 401
    finally:
        _stop(process)
