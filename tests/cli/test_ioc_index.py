"""``lamsach ioc stats`` and ``lamsach ioc check`` on a real index file."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lamsach.cli.app import app
from lamsach.indicators.model import Indicator
from lamsach.indicators.model import IndicatorType as T
from lamsach.matching.index import IndicatorIndex


@pytest.fixture
def index_file(tmp_path: Path) -> Path:
    listed = [
        Indicator(
            T.DOMAIN,
            "evil.com",
            {"ncsc-2024"},
            {"botnet", "mirai"},
            files={"ncsc/2024-05.csv", "maltrail/malware/mirai.txt"},
        ),
        Indicator(T.IPV4, "203.0.113.7", {"ncsc-2024", "feodo"}, {"c2"}),
        Indicator(T.CIDR, "198.51.100.0/24", {"spamhaus"}, set(), datetime(2024, 5, 1, tzinfo=UTC)),
        Indicator(T.URL, "http://bad.net/gate.php", {"urlhaus"}),
    ]
    path = tmp_path / "lists.lsidx"
    IndicatorIndex.build(listed, [Indicator(T.DOMAIN, "ok.evil.com")]).save(path)
    return path


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_stats(index_file: Path) -> None:
    code, out, _ = run("ioc", "stats", str(index_file))
    assert code == 0
    assert "Indicators  4" in out and "Allow-list  1" in out
    assert "domain" in out and "cidr" in out
    assert "ncsc-2024" in out and "spamhaus" in out
    assert f"{index_file.stat().st_size:,} B" in out


def test_stats_json(index_file: Path) -> None:
    code, out, _ = run("ioc", "stats", "--json", str(index_file))
    assert code == 0
    report = json.loads(out)
    assert report["by_type"] == {"cidr": 1, "domain": 1, "ipv4": 1, "url": 1}
    assert report["by_source"] == {"ncsc-2024": 2, "feodo": 1, "spamhaus": 1, "urlhaus": 1}
    assert report["file_size"] == index_file.stat().st_size
    assert datetime.fromisoformat(report["built_at"]).tzinfo is not None


def test_check_listed_values_exit_1_and_say_why(index_file: Path) -> None:
    code, out, _ = run("ioc", "check", str(index_file), "www.evil.com", "8.8.8.8")
    assert code == 1
    lines = out.splitlines()
    assert lines[0] == "www.evil.com: LISTED (1 indicator(s))"
    assert "domain evil.com" in lines[1] and "ncsc-2024" in lines[1]
    assert "tags: botnet, mirai" in lines[1]
    assert "files: maltrail/malware/mirai.txt, ncsc/2024-05.csv" in lines[1]
    assert lines[2] == "8.8.8.8: not listed"


def test_check_nothing_listed_exits_0(index_file: Path) -> None:
    code, out, _ = run("ioc", "check", str(index_file), "notevil.com", "ok.evil.com", "1.1.1.1")
    assert code == 0
    assert "notevil.com: not listed" in out
    assert "ok.evil.com: not listed (on the allow-list)" in out


def test_check_json(index_file: Path) -> None:
    code, out, _ = run(
        "ioc", "check", "--json", str(index_file), "198.51.100.200", "hxxp://bad[.]net/gate.php"
    )
    assert code == 1
    first, second = (json.loads(line) for line in out.splitlines())
    assert first["status"] == "listed"
    assert first["indicators"][0]["value"] == "198.51.100.0/24"
    assert first["indicators"][0]["first_seen"].startswith("2024-05-01")
    assert first["indicators"][0]["files"] == []
    assert [i["value"] for i in second["indicators"]] == ["http://bad.net/gate.php"]


def test_check_errors_exit_2(index_file: Path, tmp_path: Path) -> None:
    code, _, err = run("ioc", "check", str(tmp_path / "nope.lsidx"), "evil.com")
    assert code == 2 and "cannot read index" in err
    bogus = tmp_path / "bogus.lsidx"
    bogus.write_text("evil.com\n")
    code, _, err = run("ioc", "stats", str(bogus))
    assert code == 2 and "not a lamsach index" in err
    code, _, err = run("ioc", "check", str(index_file), "   ")
    assert code == 2 and "not an IP, host name, URL or hash" in err
    # A listed value still decides the answer when another value is unusable.
    code, _, _ = run("ioc", "check", str(index_file), "   ", "evil.com")
    assert code == 1


def test_check_json_gives_the_files(index_file: Path) -> None:
    code, out, _ = run("ioc", "check", "--json", str(index_file), "evil.com")
    assert code == 1
    (found,) = json.loads(out)["indicators"]
    assert found["files"] == ["maltrail/malware/mirai.txt", "ncsc/2024-05.csv"]
    assert found["sources"] == ["ncsc-2024"]
