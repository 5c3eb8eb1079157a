"""BIND query logs (and the shared syslog header splitter they arrive through)."""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pyarrow as pa
import pytest

from lamsach.logs.formats import ReadContext, ReadStats, bind, get_format
from lamsach.logs.formats._rows import ip_or_none
from lamsach.logs.formats._syslog import strip_syslog
from lamsach.logs.reader import detect_format, read_log
from lamsach.logs.schema import LOG_SCHEMA

DATA = Path(__file__).parent / "data"


def read_rows(
    path: Path, fmt: str | None = None, **options: str
) -> tuple[dict[int, dict[str, Any]], ReadStats]:
    stats = ReadStats(file=str(path))
    batches = list(read_log(str(path), fmt, batch_size=3, stats=stats, options=options))
    table = pa.Table.from_batches(batches, schema=LOG_SCHEMA)
    return {row["line"]: row for row in table.to_pylist()}, stats


def test_strip_syslog_rfc3164_with_relay_host_and_without_host() -> None:
    line = "<30>Oct 4 10:18:07 a1.foo.com 89.160.20.112 named[10750]: client 1.2.3.4#5: query: x"
    stamp, host, program, message = strip_syslog(line, 2022)
    assert stamp == datetime(2022, 10, 4, 10, 18, 7, tzinfo=UTC)
    assert (host, program, message) == ("a1.foo.com", "named", "client 1.2.3.4#5: query: x")
    stamp, host, program, message = strip_syslog(
        "Jun 12 09:00:01 dnsmasq[99]: query[A] a from b", 2020
    )
    assert (stamp, host, program) == (datetime(2020, 6, 12, 9, 0, 1, tzinfo=UTC), None, "dnsmasq")
    assert message == "query[A] a from b"


def test_strip_syslog_rfc5424_iso_and_plain() -> None:
    line = (
        '<134>1 2021-07-03T19:07:00.123+02:00 fw.example filterlog 76404 - [meta sequenceId="1"]'
        " 5,,,x"
    )
    stamp, host, program, message = strip_syslog(line)
    assert stamp == datetime(2021, 7, 3, 17, 7, 0, 123000, tzinfo=UTC)
    assert (host, program, message) == ("fw.example", "filterlog", "5,,,x")
    stamp, host, program, message = strip_syslog("2024-01-02T03:04:05Z gw kernel: IN=eth0 OUT=\r\n")
    assert (stamp, host, program, message) == (
        datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC),
        "gw",
        "kernel",
        "IN=eth0 OUT=",
    )
    assert strip_syslog("dnsmasq: started") == (None, None, None, "dnsmasq: started")


def test_bsd_stamp_never_lies_in_the_future() -> None:
    stamp = strip_syslog("Dec 31 23:59:59 host prog: x").timestamp
    assert stamp is not None and stamp <= datetime.now(UTC).replace(year=stamp.year + 1)
    assert stamp.year in (datetime.now(UTC).year, datetime.now(UTC).year - 1)


def test_bind_query_log_lines() -> None:
    path = DATA / "a_bind_queries.log"
    assert detect_format(str(path)).name == "bind"
    rows, stats = read_rows(path, year="2013")
    assert sorted(rows) == [1, 2, 3, 4, 5, 6, 7, 8, 9, 13]
    first = rows[1]
    assert first["time"] == datetime(2013, 6, 5, 10, 20, 53, 123000, tzinfo=UTC)
    assert (first["src_ip"], first["src_port"], first["dst_ip"], first["proto"]) == (
        "10.3.0.5",
        53211,
        "10.3.0.1",
        "udp",
    )
    assert (first["host"], first["log_type"], first["action"]) == ("www.example.com", "dns", None)
    assert rows[2]["host"] == "mail.example.com"  # no @0x part
    assert (rows[3]["src_ip"], rows[3]["dst_ip"], rows[3]["proto"]) == (
        "2001:db8::5",
        "2001:db8::1",
        "tcp",  # T flag: over TCP
    )
    assert rows[4]["host"] == "viewed.example.com"
    assert rows[5]["time"] == datetime(
        2013, 6, 5, 10, 20, 57, tzinfo=UTC
    )  # syslog stamp, year option
    assert rows[6]["time"] == datetime(2013, 6, 5, 3, 20, 58, tzinfo=UTC)  # RFC 5424, +07:00
    assert (rows[7]["host"], rows[7]["action"]) == ("fail.example.com", "SERVFAIL")
    assert rows[8]["answers"] == ["192.0.2.50", "2001:db8::50"]
    assert (rows[8]["host"], rows[8]["action"], rows[8]["proto"]) == (
        "resp.example.com",
        "NOERROR",
        "udp",
    )
    assert (rows[9]["host"], rows[9]["action"]) == ("blocked.example.com", "rpz-rewrite")
    assert rows[13]["host"] == "xn--fiqs8s.example"
    assert stats.skipped == {
        "ignored: not a query, response or query-error line": 1,
        "unreadable query line": 1,
    }
    assert stats.examples["unreadable query line"] == [11]


def test_bind_sniff() -> None:
    sniff = get_format("bind").sniff
    assert sniff(["client 10.0.0.1#5353 (a.b): query: a.b IN A + (10.0.0.2)"])
    assert not sniff(["dnsmasq: query[A] a.b from 10.0.0.1"])
    assert not sniff(["Jun  1 00:00:00 ns1 named[1]: zone a.b/IN: loaded serial 7"])


@pytest.mark.shared_data
def test_real_infoblox_named_log(shared_data: Path) -> None:
    path = shared_data / "logs" / "bind" / "elastic-test-infoblox-nios-named.log"
    assert detect_format(str(path)).name == "bind"
    rows, stats = read_rows(path, year="2022")
    assert sorted(rows) == [1, 2, 3, 4, 5, 6, 7, 9, 22, 23, 24, 25, 26, 27, 28]
    assert stats.skipped == {"ignored: not a query, response or query-error line": 13}
    assert rows[1]["time"] == datetime(2022, 4, 7, 8, 8, 10, 43000, tzinfo=UTC)  # named's stamp
    assert rows[1]["answers"] == ["0.0.0.0"]  # "IN A foo.com" is not an address
    assert rows[5]["answers"] == ["192.168.0.2", "192.168.0.3"]
    assert (rows[4]["host"], rows[4]["action"]) == ("non-exist.foo.com", "NXDOMAIN")
    assert (rows[7]["src_ip"], rows[7]["src_port"], rows[7]["dst_ip"]) == (
        "192.168.0.1",
        59735,
        "192.168.0.1",
    )
    assert rows[7]["host"] == "config.nos-avg.cz"
    assert rows[7]["time"] == datetime(2022, 3, 9, 23, 59, 59, tzinfo=UTC)  # syslog stamp
    assert (rows[23]["host"], rows[23]["dst_ip"]) == ("ocsp.digicert.com", "192.168.1.10")
    assert rows[25]["host"] == "89.160.20.128.a1.foo.com"
    assert rows[26]["time"] == datetime(
        2023, 5, 9, 11, 54, 36, 185000, tzinfo=UTC
    )  # after "view 12:"
    assert (rows[28]["host"], rows[28]["proto"], rows[28]["src_ip"]) == (
        "version.bind",
        "tcp",
        "10.4.71.204",
    )


@pytest.mark.shared_data
def test_bind_sniff_leaves_other_samples_alone(shared_data: Path) -> None:
    sniff = get_format("bind").sniff
    for path in sorted((shared_data / "logs").rglob("*")):
        if path.is_file() and path.suffix != ".md":
            head = [line for line in path.read_text(errors="replace").splitlines() if line.strip()]
            assert sniff(head[:20]) == (path.parent.name == "bind"), path


@pytest.mark.parametrize(
    "text",
    ["1.2.3.4", "255.255.255.255", "0.0.0.0", "256.1.1.1", "01.2.3.4", "1.2.3", "1.2.3.4.5",
     "1.2.3.", "::1", "2001:0db8:0000:0000:0000:0000:0000:0001", "fe80::1%eth0", "[2001:db8::1]",
     "2001:db8::g", "example.com", "", "10.0.0.010"],
)  # fmt: skip
def test_ip_or_none_agrees_with_ipaddress(text: str) -> None:
    bare = text.strip("[]").split("%", 1)[0]
    try:
        expected: str | None = ipaddress.ip_address(bare).compressed
    except ValueError:
        expected = None
    assert ip_or_none(text) == expected
    assert ip_or_none(text) == expected  # and again, from the cache


def _both_ways(path: Path, chunk: int, **options: str) -> tuple[Any, ...]:
    out: list[Any] = []
    for fast in (True, False):
        stats = ReadStats(file=str(path))
        ctx = ReadContext(file=str(path), stats=stats, batch_size=chunk, options=options)
        with path.open(encoding="utf-8") as stream:
            batches = list(bind.read_lines(stream, ctx, fast=fast))
        out += [pa.Table.from_batches(batches, schema=LOG_SCHEMA).to_pylist(), stats]
    return tuple(out)


def test_plain_query_lines_are_read_by_column(tmp_path: Path) -> None:
    path = tmp_path / "query.log"
    lines = []
    for i in range(400):
        client = f"10.1.{i % 4}.{i % 250}" if i % 7 else "2001:db8::7"
        category = ["", "queries: ", "queries: info: "][i % 3]
        flags = "+E(0)K" if i % 2 else "-T"
        view = "view internal: " if i % 5 == 0 else ""
        lines.append(
            f"{1 + i % 28:02d}-Jun-2013 10:{i % 60:02d}:53.{i % 1000:03d} {category}"
            f"client @0x7f00000{i:05x} {client}#{40000 + i} (Q{i}.Example.com): {view}"
            f"query: Q{i}.Example.com. IN A {flags} (10.1.0.1)"
        )
        if i % 50 == 0:
            lines.append("05-Jun-2013 10:21:01.000 general: info: zone example.com/IN: loaded")
            lines.append(
                f"Jun  5 10:20:57 ns1 named[1]: client 10.9.9.9#1 (s{i}.x): "
                f"query: s{i}.x IN A + (10.1.0.1)"
            )
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    ctx = ReadContext(file=str(path), stats=ReadStats(file=str(path)))
    table = bind._fast_chunk(lines[:60], 1, ctx, 2013, UTC)
    assert table is not None and table.num_rows == 58  # 56 by column, 2 syslog lines per line
    fast, fast_stats, slow, slow_stats = _both_ways(path, 100, year="2013", tz="+07:00")
    assert len(fast) == 408
    assert fast == slow
    assert (
        fast_stats.skipped
        == slow_stats.skipped
        == {"ignored: not a query, response or query-error line": 8}
    )
    assert fast_stats.examples == slow_stats.examples


@pytest.mark.parametrize("chunk", [3, 1000])
def test_column_reader_equals_line_reader_on_edge_cases(chunk: int) -> None:
    fast, fast_stats, slow, slow_stats = _both_ways(DATA / "a_bind_queries.log", chunk, year="2013")
    assert fast == slow
    assert fast_stats.skipped == slow_stats.skipped
    assert fast_stats.examples == slow_stats.examples


@pytest.mark.shared_data
def test_column_reader_equals_line_reader_on_infoblox(shared_data: Path) -> None:
    path = shared_data / "logs" / "bind" / "elastic-test-infoblox-nios-named.log"
    fast, fast_stats, slow, slow_stats = _both_ways(path, 4, year="2022")
    assert fast == slow
    assert fast_stats.skipped == slow_stats.skipped


def test_every_truncated_line_reads_the_same_both_ways(tmp_path: Path) -> None:
    # Logs cut short (a full disk, a rotated file being written) must never upset either reader.
    lines = (DATA / "a_bind_queries.log").read_text(encoding="utf-8").splitlines()
    path = tmp_path / "truncated.log"
    cut = (line[:end] for line in lines for end in range(0, len(line) + 1, 3))
    path.write_text("\n".join(cut) + "\n", encoding="utf-8")
    fast, fast_stats, slow, slow_stats = _both_ways(path, 50)
    assert fast == slow
    assert fast_stats.skipped == slow_stats.skipped


def test_long_hostile_response_line_is_read(tmp_path: Path) -> None:
    # One long word once made the answer regex retry at every position (quadratic time).
    line = "client 10.0.0.1#1: UDP: query: a.example IN A response: NOERROR + " + "http://" * 20_000
    path = tmp_path / "hostile.log"
    path.write_text(line + "\n", encoding="utf-8")
    rows, _ = read_rows(path, "bind")
    assert (rows[1]["host"], rows[1]["answers"]) == ("a.example", None)


def test_strip_syslog_local_zone() -> None:
    hanoi = ZoneInfo("Asia/Ho_Chi_Minh")
    stamp = strip_syslog("Jun  5 10:20:57 ns1 named[1]: x", 2013, hanoi).timestamp
    assert stamp == datetime(2013, 6, 5, 3, 20, 57, tzinfo=UTC)
    stamp = strip_syslog("<30>1 2013-06-05T10:20:58+02:00 ns1 named 1 - - x", None, hanoi).timestamp
    assert stamp == datetime(2013, 6, 5, 8, 20, 58, tzinfo=UTC)  # a stamp's own zone wins


def test_bind_tz_option_applies_to_syslog_and_named_stamps() -> None:
    rows, _ = read_rows(DATA / "a_bind_queries.log", year="2013", tz="Asia/Ho_Chi_Minh")
    assert rows[1]["time"] == datetime(2013, 6, 5, 3, 20, 53, 123000, tzinfo=UTC)
    assert rows[5]["time"] == datetime(2013, 6, 5, 3, 20, 57, tzinfo=UTC)
    assert rows[6]["time"] == datetime(2013, 6, 5, 3, 20, 58, tzinfo=UTC)  # RFC 5424, +07:00


def test_out_of_range_port_becomes_null(tmp_path: Path) -> None:
    path = tmp_path / "damaged.log"
    path.write_text(
        "05-Jun-2013 10:20:53.123 client 10.0.0.1#99999999999999999999 (a.example): "
        "query: a.example IN A + (10.0.0.2)\n",
        encoding="utf-8",
    )
    for fast in (True, False):
        ctx = ReadContext(file=str(path), stats=ReadStats(file=str(path)), batch_size=10)
        with path.open(encoding="utf-8") as stream:
            batches = list(bind.read_lines(stream, ctx, fast=fast))
        (row,) = pa.Table.from_batches(batches, schema=LOG_SCHEMA).to_pylist()
        assert (row["src_ip"], row["src_port"], row["host"]) == ("10.0.0.1", None, "a.example")
