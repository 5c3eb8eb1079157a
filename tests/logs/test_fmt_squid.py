"""Squid access.log: native lines (CONNECT, URLs, IPv6, odd codes) and common/combined lines."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from lamsach.logs.formats import ReadContext, ReadStats, get_format, squid
from lamsach.logs.reader import detect_format, read_log
from lamsach.logs.schema import LOG_SCHEMA

DATA = Path(__file__).parent / "data"


def read_rows(path: Path, fmt: str | None = None) -> tuple[dict[int, dict[str, Any]], ReadStats]:
    stats = ReadStats(file=str(path))
    batches = list(read_log(str(path), fmt, batch_size=3, stats=stats))
    table = pa.Table.from_batches(batches, schema=LOG_SCHEMA)
    return {row["line"]: row for row in table.to_pylist()}, stats


def test_native_access_log() -> None:
    path = DATA / "a_squid_native.log"
    assert detect_format(str(path)).name == "squid"
    rows, stats = read_rows(path)
    assert sorted(rows) == [1, 2, 3, 4, 5, 6, 9]
    tunnel = rows[1]
    assert tunnel["time"] == datetime(2023, 11, 14, 22, 13, 20, 123000, tzinfo=UTC)
    assert (tunnel["src_ip"], tunnel["dst_ip"], tunnel["dst_port"], tunnel["host"]) == (
        "10.5.0.10",
        "203.0.113.20",
        443,
        "secure.example.com",
    )
    assert (tunnel["url"], tunnel["bytes"], tunnel["action"], tunnel["log_type"]) == (
        None,
        5120,
        "TCP_TUNNEL",
        "proxy",
    )
    assert (rows[2]["host"], rows[2]["dst_port"], rows[2]["url"]) == (
        "www.example.com",
        8080,
        "http://www.example.com:8080/path/file.exe?x=1",
    )
    assert (rows[3]["src_ip"], rows[3]["dst_ip"], rows[3]["action"]) == (
        "2001:db8::11",
        None,
        "TCP_DENIED",
    )
    # Requests to bare addresses: the address is the server, not a host name.
    assert (rows[4]["host"], rows[4]["dst_ip"], rows[4]["dst_port"]) == (None, "2001:db8::20", 443)
    assert (rows[5]["host"], rows[5]["dst_ip"]) == (None, "203.0.113.30")  # parent by name
    assert (rows[6]["host"], rows[6]["url"], rows[6]["action"]) == (None, None, "NONE_NONE")
    assert (rows[9]["host"], rows[9]["dst_port"]) == ("files.example.org", 21)
    assert stats.skipped == {"not a Squid access.log line": 1}
    assert stats.examples["not a Squid access.log line"] == [7]


def test_common_and_combined_lines() -> None:
    path = DATA / "a_squid_common.log"
    assert detect_format(str(path)).name == "squid"
    rows, stats = read_rows(path)
    assert rows[1]["time"] == datetime(2013, 6, 5, 3, 20, 53, tzinfo=UTC)
    assert (rows[1]["src_ip"], rows[1]["host"], rows[1]["url"], rows[1]["action"]) == (
        "10.5.0.20",
        "www.example.com",
        "http://www.example.com/index.html",
        "TCP_MISS",
    )
    assert (rows[2]["host"], rows[2]["dst_port"], rows[2]["bytes"]) == (
        "secure.example.com",
        443,
        5000,
    )
    assert (rows[3]["bytes"], rows[3]["action"]) == (None, None)
    assert stats.examples["not a Squid access.log line"] == [4]  # 31 February


def test_web_server_log_is_not_claimed() -> None:
    sniff = get_format("squid").sniff
    apache = '10.0.0.1 - - [05/Jun/2013:10:20:53 +0700] "GET /index.html HTTP/1.1" 200 12'
    assert not sniff([apache, apache])
    assert sniff(['10.0.0.1 - - [05/Jun/2013:10:20:53 +0700] "GET http://a.b/ HTTP/1.1" 200 12'])


@pytest.mark.shared_data
def test_real_squid_access_log(shared_data: Path) -> None:
    path = shared_data / "logs" / "squid" / "elastic-test-access.log"
    assert detect_format(str(path)).name == "squid"
    rows, stats = read_rows(path)
    assert stats.records == 100 and stats.skipped_total == 0
    assert (rows[1]["host"], rows[1]["dst_port"], rows[1]["dst_ip"], rows[1]["url"]) == (
        "login.yahoo.com",
        443,
        "175.16.199.115",
        None,
    )
    assert rows[1]["time"] == datetime(2006, 9, 8, 4, 21, 52, 49000, tzinfo=UTC)
    assert (rows[2]["url"], rows[2]["host"], rows[2]["bytes"]) == (
        "http://www.goonernews.com/",
        "www.goonernews.com",
        10182,
    )
    assert (rows[22]["src_ip"], rows[22]["action"], rows[22]["dst_ip"]) == (
        "10.105.47.218",
        "TCP_DENIED",
        None,
    )
    connects = [row for row in rows.values() if row["url"] is None]
    assert all(row["dst_port"] == 443 and row["host"] for row in connects)


@pytest.mark.shared_data
def test_squid_sniff_leaves_other_samples_alone(shared_data: Path) -> None:
    sniff = get_format("squid").sniff
    for path in sorted((shared_data / "logs").rglob("*")):
        if path.is_file() and path.suffix != ".md":
            head = [line for line in path.read_text(errors="replace").splitlines() if line.strip()]
            assert sniff(head[:20]) == (path.parent.name == "squid"), path


def _both_ways(path: Path, chunk: int) -> tuple[Any, ...]:
    out: list[Any] = []
    for fast in (True, False):
        stats = ReadStats(file=str(path))
        ctx = ReadContext(file=str(path), stats=stats, batch_size=chunk)
        with path.open(encoding="utf-8") as stream:
            batches = list(squid.read_lines(stream, ctx, fast=fast))
        out += [pa.Table.from_batches(batches, schema=LOG_SCHEMA).to_pylist(), stats]
    return tuple(out)


TARGETS = [
    "GET http://www.Example.com/a?b=1",
    "GET HTTP://UPPER.example.com:8080/",
    "GET https://secure.example.org:0/zero-port",
    "GET http://203.0.113.5/by-address",
    "GET http:///no-host",
    "GET ftp://files.example.net/pub/x",
    "GET http://user:pw@auth.example.com/",
    "GET http://[2001:db8::1]:8080/v6",
    "GET http://big.example.com:99999/bad-port",
    "GET averyveryverylongscheme://x.example/",
    "CONNECT tunnel.Example.com.:443",
    "CONNECT 198.51.100.9:8443",
    "CONNECT [2001:db8::2]:443",
    "NONE error:invalid-request",
    "GET /relative/path",
]


def test_column_reader_equals_line_reader_on_generated_log(tmp_path: Path) -> None:
    path = tmp_path / "access.log"
    lines = []
    for i in range(300):
        method, target = TARGETS[i % len(TARGETS)].split(" ", 1)
        client = f"10.5.{i % 3}.{i % 200}" if i % 11 else "2001:db8::a"
        peer = ["HIER_DIRECT/203.0.113.20", "HIER_NONE/-", "FIRSTUP_PARENT/proxy.lan"][i % 3]
        size = "-" if i % 13 == 0 else str(i * 10)
        lines.append(
            f"{1700000000 + i * 0.125:.3f} {i:6d} {client} TCP_MISS/200 {size} "
            f"{method} {target} - {peer} text/html"
        )
        if i % 40 == 0:
            lines.append("garbage line")
            lines.append(
                f'10.5.0.{i % 200} - - [05/Jun/2013:10:20:53 +0700] "GET http://c{i}.example/ '
                'HTTP/1.1" 200 12 TCP_MISS:HIER_DIRECT'
            )
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    ctx = ReadContext(file=str(path), stats=ReadStats(file=str(path)))
    assert squid._fast_chunk(lines, 1, ctx) is not None
    fast, fast_stats, slow, slow_stats = _both_ways(path, 64)
    assert len(fast) == 308
    assert fast == slow
    assert fast_stats.skipped == slow_stats.skipped == {"not a Squid access.log line": 8}
    assert fast_stats.examples == slow_stats.examples


@pytest.mark.parametrize("name", ["a_squid_native.log", "a_squid_common.log"])
def test_column_reader_equals_line_reader_on_edge_cases(name: str) -> None:
    fast, fast_stats, slow, slow_stats = _both_ways(DATA / name, 4)
    assert fast == slow
    assert fast_stats.skipped == slow_stats.skipped


@pytest.mark.shared_data
def test_column_reader_equals_line_reader_on_real_log(shared_data: Path) -> None:
    fast, _, slow, _ = _both_ways(shared_data / "logs" / "squid" / "elastic-test-access.log", 33)
    assert len(fast) == 100
    assert fast == slow


def test_every_truncated_line_reads_the_same_both_ways(tmp_path: Path) -> None:
    # Logs cut short (a full disk, a rotated file being written) must never upset either reader.
    lines = (DATA / "a_squid_native.log").read_text(encoding="utf-8").splitlines()
    path = tmp_path / "truncated.log"
    cut = (line[:end] for line in lines for end in range(0, len(line) + 1, 3))
    path.write_text("\n".join(cut) + "\n", encoding="utf-8")
    fast, fast_stats, slow, slow_stats = _both_ways(path, 50)
    assert fast == slow
    assert fast_stats.skipped == slow_stats.skipped


def test_out_of_range_numbers_become_null(tmp_path: Path) -> None:
    path = tmp_path / "damaged.log"
    path.write_text(
        "99999999999999999999.000 5 10.0.0.1 TCP_MISS/200 99999999999999999999 CONNECT "
        "a.example:99999 - HIER_DIRECT/203.0.113.1 -\n",
        encoding="utf-8",
    )
    for fast in (True, False):
        ctx = ReadContext(file=str(path), stats=ReadStats(file=str(path)), batch_size=10)
        with path.open(encoding="utf-8") as stream:
            batches = list(squid.read_lines(stream, ctx, fast=fast))
        (row,) = pa.Table.from_batches(batches, schema=LOG_SCHEMA).to_pylist()
        assert (row["time"], row["bytes"], row["dst_port"], row["host"]) == (
            None,
            None,
            None,
            "a.example",
        )
