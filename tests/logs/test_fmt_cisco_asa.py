"""Cisco ASA / FTD syslog: made-up edge cases and the real sample."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lamsach.logs.formats import ReadStats
from lamsach.logs.formats._syslog import bsd_year
from lamsach.logs.formats.cisco_asa import FORMAT
from lamsach.logs.reader import detect_format, read_log

from .conftest import check_claims_no_other_sample, check_damaged_lines_are_counted

DATA = Path(__file__).parent / "data"


def read_table(path: Path, fmt: str | None = None) -> tuple[pa.Table, ReadStats]:
    stats = ReadStats(file=str(path))
    batches = list(read_log(str(path), fmt=fmt, stats=stats, batch_size=3))
    return pa.Table.from_batches(batches), stats


def endpoints(row: dict[str, object]) -> tuple[object, ...]:
    return (row["src_ip"], row["src_port"], row["dst_ip"], row["dst_port"], row["proto"])


def test_made_up_asa_lines() -> None:
    path = DATA / "b_cisco_asa.log"
    assert detect_format(str(path)).name == "cisco-asa"
    table, stats = read_table(path)
    rows = table.to_pylist()
    assert [r["line"] for r in rows] == [1, 2, 3, 4, 5, 9, 11, 12, 13]
    built = rows[0]  # outbound: the inside host opened it
    assert built["time"] == datetime(bsd_year(3, 5), 3, 5, 8, 25, 1, tzinfo=UTC)
    assert endpoints(built) == ("10.20.1.15", 49822, "203.0.113.66", 443, "tcp")
    assert built["action"] == "built" and built["log_type"] == "conn"
    assert rows[1]["bytes"] == 22443 and rows[1]["action"] == "teardown"
    assert endpoints(rows[2]) == ("10.20.1.16", 53000, "192.0.2.53", 53, "udp")
    assert rows[2]["time"] == datetime(2024, 3, 5, 8, 25, 3, tzinfo=UTC)
    assert endpoints(rows[3]) == ("fd00:20::15", 50111, "2001:db8::beef", 8443, "tcp")
    assert rows[3]["action"] == "permitted"
    dynamic = rows[4]
    assert (dynamic["host"], dynamic["action"], dynamic["dst_ip"]) == (
        "c2.evil.example",
        "dropped",
        "192.0.2.66",
    )
    url = rows[5]
    assert (url["src_ip"], url["dst_ip"], url["host"], url["url"], url["log_type"]) == (
        "10.20.1.18",
        "198.51.100.80",
        "malware.example.net",
        "http://malware.example.net/dl/x.exe",
        "http",
    )
    # inbound: the outside host opened it (CRLF line)
    assert endpoints(rows[6]) == ("192.0.2.10", 53, "10.20.1.19", 41000, "udp")
    # Firepower connection events: Key: value pairs, values may hold commas
    dns, web = rows[7], rows[8]
    assert dns["time"] == datetime(2024, 3, 5, 8, 26, 1, tzinfo=UTC)  # the syslog stamp
    assert endpoints(dns) == ("10.20.1.21", 56901, "192.0.2.53", 53, "udp")
    assert (dns["host"], dns["log_type"], dns["bytes"], dns["action"]) == (
        "beacon.evil.example",
        "dns",
        240,
        "Allow",
    )
    assert web["time"] == datetime(2024, 3, 5, 8, 26, 2, tzinfo=UTC)  # no header: FirstPacketSecond
    assert (web["host"], web["url"], web["log_type"], web["action"]) == (
        "malware.example.net",
        "http://malware.example.net/a,b.php?x=1",
        "http",
        "Block",
    )
    assert stats.skipped == {
        "ignored: not a connection message": 1,
        "bad ASA message": 2,
        "not an ASA message": 1,
    }
    assert stats.examples == {
        "ignored: not a connection message": [6],
        "bad ASA message": [7, 14],
        "not an ASA message": [8],
    }


@pytest.mark.shared_data
def test_real_asa_sample(shared_data: Path) -> None:
    path = shared_data / "logs/cisco_asa/elastic-test-asa-sample.log"
    assert detect_format(str(path)).name == "cisco-asa"
    table, stats = read_table(path)
    assert table.num_rows == 75
    # 305011/305012 translations, 106016 spoofs, 313001/313004 ICMP, 602304 IPsec
    assert stats.skipped == {"ignored: not a connection message": 17}
    rows = {row["line"]: row for row in table.to_pylist()}
    assert endpoints(rows[1]) == ("10.1.2.30", 63016, "192.168.0.8", 53, "tcp")
    assert endpoints(rows[7]) == ("10.123.3.42", 4952, "192.168.2.43", 443, "tcp")
    assert rows[13]["bytes"] == 9999999
    assert rows[66]["host"] == "bad.example.com" and rows[66]["action"] == "permitted"
    assert rows[67]["host"] is None  # listed as an address/mask, not a domain
    assert rows[71]["url"] == "http://www.example.net/images/favicon.ico"
    assert rows[71]["action"] == "deny"
    assert rows[81]["src_ip"] == "2a02:cf40:add:4002:91f2:a9b2:e09a:6fc6"
    assert rows[43]["src_ip"] is None and rows[43]["dst_ip"] == "192.168.2.222"  # a name
    assert rows[88]["bytes"] == 27451  # user name with spaces after the port


@pytest.mark.shared_data
def test_asa_claims_no_other_real_sample(shared_data: Path) -> None:
    check_claims_no_other_sample(FORMAT, shared_data, "cisco_asa")


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_damaged_lines_are_counted_never_raised(data: st.DataObject) -> None:
    check_damaged_lines_are_counted(FORMAT, DATA / "b_cisco_asa.log", data)


def test_zone_option() -> None:
    path = DATA / "b_cisco_asa.log"
    batches = list(read_log(str(path), options={"tz": "+07:00"}))
    rows = {row["line"]: row for row in pa.Table.from_batches(batches).to_pylist()}
    assert rows[3]["time"] == datetime(2024, 3, 5, 1, 25, 3, tzinfo=UTC)
    assert rows[12]["time"] == datetime(2024, 3, 5, 8, 26, 1, tzinfo=UTC)  # ISO Z stamp
