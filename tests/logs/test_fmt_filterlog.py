"""pfSense / OPNsense filterlog: made-up edge cases and the real samples."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lamsach.logs.formats import ReadStats, sniff_format
from lamsach.logs.formats._syslog import bsd_year
from lamsach.logs.formats.filterlog import FORMAT
from lamsach.logs.reader import detect_format, read_log

from .conftest import check_claims_no_other_sample, check_damaged_lines_are_counted

DATA = Path(__file__).parent / "data"


def read_table(path: Path, fmt: str | None = None) -> tuple[pa.Table, ReadStats]:
    stats = ReadStats(file=str(path))
    batches = list(read_log(str(path), fmt=fmt, stats=stats, batch_size=3))
    return pa.Table.from_batches(batches), stats


def test_made_up_filterlog_lines() -> None:
    path = DATA / "b_filterlog.log"
    assert detect_format(str(path)).name == "filterlog"
    table, stats = read_table(path)
    rows = table.to_pylist()
    assert [r["line"] for r in rows] == [1, 2, 3, 4, 9]
    year = bsd_year(3, 5)
    first = rows[0]
    assert first["time"] == datetime(year, 3, 5, 8, 15, 2, tzinfo=UTC)
    assert (first["src_ip"], first["src_port"], first["dst_ip"], first["dst_port"]) == (
        "203.0.113.9",
        44321,
        "10.20.1.15",
        22,
    )
    assert (first["proto"], first["action"], first["bytes"], first["log_type"]) == (
        "tcp",
        "block",
        60,
        "conn",
    )
    assert first["file"] == str(path)
    assert rows[1]["proto"] == "udp" and rows[1]["dst_port"] == 53 and rows[1]["action"] == "pass"
    # OPNsense over RFC 5424 with a hash rule id, IPv6 written in a long form.
    v6 = rows[2]
    assert v6["time"] == datetime(2024, 3, 5, 1, 15, 4, tzinfo=UTC)
    assert (v6["src_ip"], v6["dst_ip"], v6["dst_port"], v6["proto"], v6["bytes"]) == (
        "fd00:20::15",
        "2001:db8::beef",
        8443,
        "tcp",
        40,
    )
    icmp = rows[3]
    assert icmp["proto"] == "icmp" and icmp["src_port"] is None and icmp["dst_port"] is None
    assert rows[4]["dst_ip"] == "192.0.2.80" and rows[4]["dst_port"] == 443  # CRLF line
    assert stats.skipped == {"bad filterlog line": 2, "ignored: not filterlog": 1}
    assert stats.examples == {"bad filterlog line": [5, 7], "ignored: not filterlog": [6]}
    assert stats.records == 5


def test_sniff_needs_a_filterlog_payload() -> None:
    fmt = sniff_format(["<134>Mar  5 08:15:02 filterlog[1]: 5,,,1,em0,match,block,in,4,0x0"])
    assert fmt is not None and fmt.name == "filterlog"
    not_csv = sniff_format(["<134>Mar  5 08:15:02 filterlog[1]: something else entirely"])
    assert not_csv is None or not_csv.name != "filterlog"


@pytest.mark.shared_data
def test_real_pfsense_sample(shared_data: Path) -> None:
    path = shared_data / "logs/pfsense/elastic-test-pfsense-filterlog.log"
    assert detect_format(str(path)).name == "filterlog"
    table, stats = read_table(path)
    assert table.num_rows == 19 and stats.skipped_total == 0
    rows = table.to_pylist()
    assert rows[0]["src_ip"] == "10.170.12.50" and rows[0]["dst_ip"] == "1.1.1.1"
    assert rows[0]["dst_port"] == 853 and rows[0]["action"] == "block"
    assert rows[6]["src_ip"] == "fe80::208:9bff:fef3:652b" and rows[6]["dst_port"] == 547
    assert rows[16]["proto"] == "igmp"
    assert rows[17]["proto"] == "icmp" and rows[17]["dst_ip"] == "142.250.114.105"
    assert table.column("action").to_pylist().count("pass") == 5


@pytest.mark.shared_data
def test_real_opnsense_sample(shared_data: Path) -> None:
    path = shared_data / "logs/opnsense/elastic-test-opnsense.log"
    assert detect_format(str(path)).name == "filterlog"
    table, stats = read_table(path)
    assert table.column("line").to_pylist() == [1, 2, 5]
    assert stats.skipped == {"ignored: not filterlog": 2}
    last = table.to_pylist()[2]
    assert last["time"] == datetime(2022, 6, 9, 20, 44, 11, tzinfo=UTC)
    assert (last["src_ip"], last["dst_ip"], last["dst_port"], last["action"]) == (
        "192.168.1.1",
        "10.10.10.10",
        80,
        "pass",
    )


@pytest.mark.shared_data
def test_filterlog_claims_no_other_real_sample(shared_data: Path) -> None:
    check_claims_no_other_sample(FORMAT, shared_data, "pfsense", "opnsense")


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_damaged_lines_are_counted_never_raised(data: st.DataObject) -> None:
    check_damaged_lines_are_counted(FORMAT, DATA / "b_filterlog.log", data)


def test_year_and_zone_options() -> None:
    path = DATA / "b_filterlog.log"
    stats = ReadStats(file=str(path))
    options = {"year": "2021", "tz": "Asia/Ho_Chi_Minh"}
    batches = list(read_log(str(path), stats=stats, options=options))
    times = pa.Table.from_batches(batches).column("time").to_pylist()
    assert times[0] == datetime(2021, 3, 5, 1, 15, 2, tzinfo=UTC)  # BSD stamp, local time
    assert times[2] == datetime(2024, 3, 5, 1, 15, 4, tzinfo=UTC)  # RFC 5424 keeps its offset
