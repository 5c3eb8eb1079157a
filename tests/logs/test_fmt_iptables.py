"""Netfilter / ufw / EdgeOS kernel LOG lines: made-up edge cases and the real sample."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lamsach.logs.formats import ReadStats
from lamsach.logs.formats._syslog import bsd_year
from lamsach.logs.formats.iptables import FORMAT, action_of
from lamsach.logs.reader import detect_format, read_log

from .conftest import check_claims_no_other_sample, check_damaged_lines_are_counted

DATA = Path(__file__).parent / "data"


def read_table(path: Path, fmt: str | None = None) -> tuple[pa.Table, ReadStats]:
    stats = ReadStats(file=str(path))
    batches = list(read_log(str(path), fmt=fmt, stats=stats, batch_size=4))
    return pa.Table.from_batches(batches), stats


def test_made_up_netfilter_lines() -> None:
    path = DATA / "b_iptables.log"
    assert detect_format(str(path)).name == "iptables"
    table, stats = read_table(path)
    rows = table.to_pylist()
    assert [r["line"] for r in rows] == [1, 2, 3, 4, 5, 9]
    year = bsd_year(3, 5)
    ufw = rows[0]
    assert ufw["time"] == datetime(year, 3, 5, 8, 16, 1, tzinfo=UTC)
    assert (ufw["src_ip"], ufw["src_port"], ufw["dst_ip"], ufw["dst_port"]) == (
        "198.51.100.23",
        51515,
        "10.20.1.15",
        3389,
    )
    assert (ufw["proto"], ufw["action"], ufw["bytes"], ufw["log_type"]) == (
        "tcp",
        "block",
        60,
        "conn",
    )
    # The UDP header's own LEN must not replace the IP packet length.
    assert rows[1]["action"] == "allow" and rows[1]["bytes"] == 73 and rows[1]["dst_port"] == 53
    edge = rows[2]
    assert edge["time"] == datetime(2024, 3, 5, 1, 16, 3, 250000, tzinfo=UTC)
    assert edge["action"] == "drop" and edge["dst_port"] == 445
    # ICMP error: the packet quoted inside [...] must not override the outer addresses.
    icmp = rows[3]
    assert (icmp["src_ip"], icmp["dst_ip"], icmp["proto"]) == ("10.20.1.16", "10.20.1.1", "icmp")
    assert icmp["src_port"] is None and icmp["dst_port"] is None and icmp["action"] == "reject"
    v6 = rows[4]
    assert (v6["src_ip"], v6["dst_ip"], v6["action"]) == ("fd00:20::15", "2001:db8::beef", "audit")
    assert rows[5]["dst_port"] == 23  # CRLF line
    assert stats.skipped == {"bad netfilter line": 1, "not a netfilter line": 1}
    assert stats.examples == {"bad netfilter line": [6], "not a netfilter line": [7]}


@pytest.mark.parametrize(
    ("prefix", "action"),
    [
        ("kernel: [UFW BLOCK] ", "block"),
        ("kernel: [LAN_LOCAL-default-A]", "accept"),
        ("kernel: [WAN_IN-10-R]", "reject"),
        ("kernel: iptables DROP_INPUT: ", "drop"),
        ("DENY: ", "deny"),
        ("kernel: [16571.459614] ", None),
    ],
)
def test_action_from_log_prefix(prefix: str, action: str | None) -> None:
    assert action_of(prefix) == action


@pytest.mark.shared_data
def test_real_iptables_sample(shared_data: Path) -> None:
    path = shared_data / "logs/iptables/elastic-test-iptables-raw.log"
    assert detect_format(str(path)).name == "iptables"
    table, stats = read_table(path)
    assert table.num_rows == 24 and stats.skipped_total == 0
    rows = table.to_pylist()
    assert rows[0]["src_ip"] == "67.43.156.15" and rows[0]["action"] == "drop"
    assert rows[1]["time"] == datetime(2021, 3, 12, 14, 10, 18, tzinfo=UTC)
    icmp = rows[3]  # embedded [SRC=192.168.2.83 DST=192.168.173.191 ...]
    assert (icmp["src_ip"], icmp["dst_ip"], icmp["action"]) == (
        "192.168.2.71",
        "192.168.2.83",
        "deny",
    )
    assert rows[15]["src_ip"] == "fe80::84:88ff:feae:790a" and rows[15]["dst_ip"] == "ff02::16"
    assert rows[15]["proto"] == "icmpv6"
    assert rows[21]["proto"] == "esp" and rows[21]["src_port"] is None
    assert rows[22]["action"] == "accept" and rows[22]["dst_port"] == 9000
    assert table.column("action").to_pylist().count("drop") == 14


@pytest.mark.shared_data
def test_iptables_claims_no_other_real_sample(shared_data: Path) -> None:
    check_claims_no_other_sample(FORMAT, shared_data, "iptables")


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_damaged_lines_are_counted_never_raised(data: st.DataObject) -> None:
    check_damaged_lines_are_counted(FORMAT, DATA / "b_iptables.log", data)


def test_zone_option() -> None:
    path = DATA / "b_iptables.log"
    batches = list(read_log(str(path), options={"tz": "+07:00", "year": "2023"}))
    times = pa.Table.from_batches(batches).column("time").to_pylist()
    assert times[0] == datetime(2023, 3, 5, 1, 16, 1, tzinfo=UTC)
    assert times[2] == datetime(2024, 3, 5, 1, 16, 3, 250000, tzinfo=UTC)  # own offset kept
