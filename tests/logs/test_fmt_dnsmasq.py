"""dnsmasq / Pi-hole query logs: queries, answers paired with their client, blocked names."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from lamsach.logs.formats import ReadStats, get_format
from lamsach.logs.reader import detect_format, read_log
from lamsach.logs.schema import LOG_SCHEMA

DATA = Path(__file__).parent / "data"


def read_rows(
    path: Path, fmt: str | None = None, **options: str
) -> tuple[dict[int, dict[str, Any]], ReadStats]:
    stats = ReadStats(file=str(path))
    batches = list(read_log(str(path), fmt, batch_size=4, stats=stats, options=options))
    table = pa.Table.from_batches(batches, schema=LOG_SCHEMA)
    return {row["line"]: row for row in table.to_pylist()}, stats


def test_pihole_log_with_syslog_stamps() -> None:
    path = DATA / "a_dnsmasq_pihole.log"
    assert detect_format(str(path)).name == "dnsmasq"
    rows, stats = read_rows(path, year="2024")
    assert sorted(rows) == [1, 3, 5, 6, 7, 10, 11, 12, 13, 15, 16, 20, 21, 23]
    query = rows[1]
    assert query["time"] == datetime(2024, 6, 12, 10, 0, tzinfo=UTC)
    assert (query["src_ip"], query["host"], query["answers"], query["log_type"]) == (
        "192.168.1.20",
        "ads.example.com",
        None,
        "dns",
    )
    # Two reply lines make one answer record, attributed to the client that asked.
    assert (rows[3]["src_ip"], rows[3]["answers"]) == (
        "192.168.1.20",
        ["203.0.113.10", "203.0.113.11"],
    )
    assert (rows[6]["src_ip"], rows[6]["action"], rows[6]["answers"]) == (
        "192.168.1.21",
        "block",
        None,
    )
    # The CNAME target's address goes to the client of the alias asked for.
    assert (rows[10]["src_ip"], rows[10]["host"], rows[10]["answers"]) == (
        "2001:db8::21",
        "edge.example.net",
        ["2001:db8::99"],
    )
    assert rows[12]["answers"] == ["192.168.1.5"]
    assert (rows[15]["src_ip"], rows[15]["src_port"]) == (
        "192.168.1.24",
        40123,
    )  # log-queries=extra
    assert (rows[16]["src_ip"], rows[16]["src_port"], rows[16]["answers"]) == (
        "192.168.1.24",
        40123,
        ["198.51.100.24"],
    )
    # Without syslog: no time, still the client and the answer.
    assert (rows[20]["time"], rows[20]["src_ip"], rows[20]["host"]) == (
        None,
        "10.0.0.9",
        "plain.example.com",
    )
    assert (rows[21]["src_ip"], rows[21]["answers"]) == ("10.0.0.9", ["10.0.0.1"])
    assert (rows[23]["src_ip"], rows[23]["answers"]) == (None, ["198.51.100.50"])  # nobody asked
    assert stats.skipped == {
        "ignored: not a query or answer line": 3,
        "ignored: answer without an address (NODATA, NXDOMAIN, CNAME)": 2,
        "not a dnsmasq line": 1,
        "unreadable query line": 1,
    }
    assert stats.examples["unreadable query line"] == [19]


def test_dnsmasq_sniff_wants_mostly_dnsmasq_lines() -> None:
    sniff = get_format("dnsmasq").sniff
    assert sniff(["dnsmasq: started, version 2.90 cachesize 150"])
    assert sniff(["Jun 12 10:00:00 dnsmasq[1]: query[A] a.b from 10.0.0.1"])
    mixed = ["Jun 12 10:00:00 gw kernel: IN=eth0 OUT= SRC=1.2.3.4"] * 5
    assert not sniff([*mixed, "Jun 12 10:00:00 dnsmasq[1]: query[A] a.b from 10.0.0.1"])
    assert not sniff(["client 10.0.0.1#5353 (a.b): query: a.b IN A + (10.0.0.2)"])


@pytest.mark.shared_data
def test_real_dnsmasq_stderr_log(shared_data: Path) -> None:
    path = shared_data / "logs" / "dnsmasq" / "evil-twin-dnsmasq-stderr.log"
    assert detect_format(str(path)).name == "dnsmasq"
    rows, stats = read_rows(path)
    assert len(rows) == stats.records == 56
    assert stats.skipped == {
        "ignored: not a query or answer line": 113,
        "ignored: answer without an address (NODATA, NXDOMAIN, CNAME)": 41,
    }
    assert all(row["src_ip"] == "192.168.50.29" and row["time"] is None for row in rows.values())
    assert (rows[60]["host"], rows[60]["answers"]) == ("gsp85-ssl.ls.apple.com", None)
    assert (rows[63]["host"], rows[63]["answers"]) == ("gsp85-ssl.ls.apple.com", ["192.168.50.1"])
    assert rows[203]["host"] == "19-courier.push.apple.com"
    queries = [row for row in rows.values() if row["answers"] is None]
    assert len(queries) == 37


@pytest.mark.shared_data
def test_dnsmasq_sniff_leaves_other_samples_alone(shared_data: Path) -> None:
    sniff = get_format("dnsmasq").sniff
    for path in sorted((shared_data / "logs").rglob("*")):
        if path.is_file() and path.suffix != ".md":
            head = [line for line in path.read_text(errors="replace").splitlines() if line.strip()]
            assert sniff(head[:20]) == (path.parent.name == "dnsmasq"), path


def test_openwrt_logread_lines(tmp_path: Path) -> None:
    path = tmp_path / "logread.txt"
    path.write_text(
        "Sat Jun 12 10:00:00 2021 daemon.info dnsmasq[1234]: "
        "query[A] Router.Example.com from 192.168.1.30\n"
        "Sat Jun 12 10:00:00 2021 daemon.info dnsmasq[1234]: "
        "reply router.example.com is 203.0.113.77\n"
        "Sat Jun 12 10:00:01 2021 kern.warn kernel: [12.3] DROP IN=br-lan OUT= SRC=192.168.1.30\n",
        encoding="utf-8",
    )
    assert detect_format(str(path)).name == "dnsmasq"
    rows, stats = read_rows(path)
    assert rows[1]["time"] == datetime(2021, 6, 12, 10, 0, tzinfo=UTC)  # the year is on the line
    assert (rows[1]["src_ip"], rows[1]["host"]) == ("192.168.1.30", "router.example.com")
    assert (rows[2]["src_ip"], rows[2]["answers"]) == ("192.168.1.30", ["203.0.113.77"])
    assert stats.skipped == {"not a dnsmasq line": 1}


def test_tz_option_for_syslog_stamps() -> None:
    rows, _ = read_rows(DATA / "a_dnsmasq_pihole.log", year="2024", tz="+07:00")
    assert rows[1]["time"] == datetime(2024, 6, 12, 3, 0, tzinfo=UTC)
