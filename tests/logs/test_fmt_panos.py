"""Palo Alto PAN-OS syslog CSV: made-up edge cases and the real sample."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lamsach.logs.formats import ReadStats
from lamsach.logs.formats.panos import FORMAT
from lamsach.logs.reader import detect_format, read_log

from .conftest import check_claims_no_other_sample, check_damaged_lines_are_counted

DATA = Path(__file__).parent / "data"


def read_table(path: Path, fmt: str | None = None) -> tuple[pa.Table, ReadStats]:
    stats = ReadStats(file=str(path))
    batches = list(read_log(str(path), fmt=fmt, stats=stats, batch_size=4))
    return pa.Table.from_batches(batches), stats


def test_made_up_panos_lines() -> None:
    path = DATA / "b_panos.log"
    assert detect_format(str(path)).name == "panos"
    table, stats = read_table(path)
    rows = table.to_pylist()
    assert [r["line"] for r in rows] == [1, 2, 3, 4, 7, 9]
    first = rows[0]
    assert first["time"] == datetime(2024, 3, 5, 8, 18, 1, tzinfo=UTC)
    assert (first["src_ip"], first["src_port"], first["dst_ip"], first["dst_port"]) == (
        "10.20.1.15",
        49822,
        "203.0.113.66",
        443,
    )
    assert (first["proto"], first["action"], first["bytes"], first["log_type"]) == (
        "tcp",
        "allow",
        22443,
        "conn",
    )
    icmp = rows[1]
    assert icmp["action"] == "deny" and icmp["src_port"] is None and icmp["dst_port"] is None
    url = rows[2]  # THREAT/url over RFC 5424, the quoted URL holds commas
    assert url["url"] == "http://malware.example.net/dl/payload.exe?a=1,b=2"
    assert (url["host"], url["log_type"], url["action"]) == (
        "malware.example.net",
        "http",
        "block-url",
    )
    virus = rows[3]
    assert virus["log_type"] == "threat" and virus["url"] is None and virus["host"] is None
    assert (rows[4]["src_ip"], rows[4]["dst_ip"]) == ("fd00:20::15", "2001:db8::beef")
    assert rows[5]["proto"] == "udp" and rows[5]["dst_port"] == 53  # CRLF line
    assert stats.skipped == {"ignored: not traffic": 1, "bad PAN-OS line": 1, "not a PAN-OS log": 1}
    assert stats.examples == {
        "ignored: not traffic": [5],
        "bad PAN-OS line": [6],
        "not a PAN-OS log": [8],
    }


@pytest.mark.shared_data
def test_real_panos_sample(shared_data: Path) -> None:
    path = shared_data / "logs/panos/elastic-test-panos-traffic.head.log"
    assert detect_format(str(path)).name == "panos"
    table, stats = read_table(path)
    assert table.num_rows == 25 and stats.skipped_total == 0
    rows = table.to_pylist()
    first = rows[0]
    assert first["time"] == datetime(2018, 11, 30, 16, 9, 7, tzinfo=UTC)
    assert (first["src_ip"], first["src_port"], first["dst_ip"], first["dst_port"]) == (
        "192.168.15.207",
        55113,
        "175.16.199.1",
        443,
    )
    assert (first["proto"], first["action"], first["bytes"]) == ("tcp", "allow", 7734)
    assert rows[1]["proto"] == "icmp" and rows[1]["dst_port"] is None
    assert set(table.column("log_type").to_pylist()) == {"conn"}
    assert table.column("bytes").to_pylist()[-1] == 1176


@pytest.mark.shared_data
def test_panos_claims_no_other_real_sample(shared_data: Path) -> None:
    check_claims_no_other_sample(FORMAT, shared_data, "panos")


def test_empty_first_field(tmp_path: Path) -> None:
    # Some PAN-OS versions leave the FUTURE_USE field before the receive time empty.
    line = (DATA / "b_panos.log").read_text().splitlines()[1]
    assert line.startswith("1,")
    path = tmp_path / "panos.log"
    path.write_text(f"{line[1:]}\nJan  1 00:00:00 pa {line[1:]}\n")
    table, stats = read_table(path, fmt="panos")
    assert table.column("src_ip").to_pylist() == ["10.20.1.16", "10.20.1.16"]
    assert table.column("action").to_pylist() == ["deny", "deny"]
    assert stats.skipped_total == 0


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_damaged_lines_are_counted_never_raised(data: st.DataObject) -> None:
    check_damaged_lines_are_counted(FORMAT, DATA / "b_panos.log", data)


def test_zone_option() -> None:
    path = DATA / "b_panos.log"
    batches = list(read_log(str(path), options={"tz": "Asia/Ho_Chi_Minh"}))
    times = pa.Table.from_batches(batches).column("time").to_pylist()
    assert times[0] == datetime(2024, 3, 5, 1, 18, 1, tzinfo=UTC)
