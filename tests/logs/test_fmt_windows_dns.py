"""Windows DNS Server debug logs: label encoding, locale dates, directions, header skipping."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from lamsach.logs.formats import ReadContext, ReadStats, get_format, windows_dns
from lamsach.logs.formats.windows_dns import decode_name
from lamsach.logs.reader import detect_format, read_log
from lamsach.logs.schema import LOG_SCHEMA

DATA = Path(__file__).parent / "data"


def read_rows(
    path: Path, fmt: str | None = None, **options: str
) -> tuple[dict[int, dict[str, Any]], ReadStats]:
    stats = ReadStats(file=str(path))
    batches = list(read_log(str(path), fmt, batch_size=2, stats=stats, options=options))
    table = pa.Table.from_batches(batches, schema=LOG_SCHEMA)
    return {row["line"]: row for row in table.to_pylist()}, stats


def test_decode_name() -> None:
    assert decode_name("(3)www(6)Google(3)com(0)") == "www.google.com"
    assert decode_name(".ns1.offeringsmislead.com.") == "ns1.offeringsmislead.com"
    assert decode_name("(0)") is None


def test_day_first_log_with_vietnamese_designators() -> None:
    path = DATA / "a_windns_vi.log"
    assert detect_format(str(path)).name == "windows-dns"
    rows, stats = read_rows(path)
    assert sorted(rows) == [10, 11, 15, 16, 20]
    # 05/06/2013 is read day-first: a 24-hour slash date with no AM/PM is not US order.
    query = rows[10]
    assert query["time"] == datetime(2013, 6, 5, 10, 20, 53, tzinfo=UTC)
    assert (query["src_ip"], query["dst_ip"], query["proto"], query["host"], query["action"]) == (
        "10.4.0.5",
        None,
        "udp",
        "www.example.com",
        None,
    )
    assert (rows[11]["src_ip"], rows[11]["host"], rows[11]["action"]) == (
        "10.4.0.5",
        "gone.example.com",
        "NXDOMAIN",
    )
    assert rows[15]["time"] == datetime(2013, 6, 21, 14, 5, 7, tzinfo=UTC)  # 2:05:07 CH
    assert (rows[15]["src_ip"], rows[15]["proto"]) == ("2001:db8::5", "tcp")
    # The server's own query upstream: the other server is the destination, no client known.
    assert (rows[16]["src_ip"], rows[16]["dst_ip"], rows[16]["host"]) == (
        None,
        "8.8.8.8",
        "upstream.example.net",
    )
    assert rows[16]["time"] == datetime(2013, 6, 21, 2, 5, 8, tzinfo=UTC)  # SA = morning
    assert rows[20]["host"] == "xn--bcher-kva.example"
    assert stats.skipped == {
        "ignored: not a PACKET line": 2,
        "ignored: not a standard query (update, notify)": 1,
        "unreadable PACKET line": 1,
    }
    assert stats.examples["unreadable PACKET line"] == [18]


def test_month_first_dates_by_designator_and_by_option() -> None:
    path = DATA / "a_windns_us.log"
    rows, _ = read_rows(path, "windows-dns")
    assert rows[1]["time"] == datetime(2013, 6, 5, 10, 0, 32, tzinfo=UTC)  # AM/PM: US order
    assert rows[2]["time"] == datetime(2013, 6, 5, 13, 0, 33, tzinfo=UTC)
    assert rows[3]["time"] == datetime(2013, 6, 5, 13, 0, 34, tzinfo=UTC)  # ISO date
    assert rows[4]["time"] == datetime(2013, 6, 5, 13, 0, 35, tzinfo=UTC)  # dotted: day first
    forced, _ = read_rows(path, "windows-dns", date_order="dmy")
    assert forced[1]["time"] == datetime(2013, 5, 6, 10, 0, 32, tzinfo=UTC)
    assert forced[3]["time"] == datetime(2013, 6, 5, 13, 0, 34, tzinfo=UTC)


def test_local_time_zone_option() -> None:
    rows, _ = read_rows(DATA / "a_windns_us.log", "windows-dns", tz="Asia/Ho_Chi_Minh")
    assert rows[1]["time"] == datetime(2013, 6, 5, 3, 0, 32, tzinfo=UTC)
    rows, _ = read_rows(DATA / "a_windns_us.log", "windows-dns", tz="+07:00")
    assert rows[1]["time"] == datetime(2013, 6, 5, 3, 0, 32, tzinfo=UTC)


def test_windows_dns_sniff() -> None:
    sniff = get_format("windows-dns").sniff
    assert sniff(["DNS Server log file creation at 6/5/2013 10:20:50 AM"])
    assert not sniff(["dnsmasq: query[A] a.b from 10.0.0.1"])


@pytest.mark.shared_data
def test_real_usiem_fragment(shared_data: Path) -> None:
    path = shared_data / "logs" / "windows_dns" / "usiem-windns-readme-debuglog-fragment.log"
    assert detect_format(str(path)).name == "windows-dns"
    rows, stats = read_rows(path)
    assert sorted(rows) == [27, 28, 29, 30]
    assert stats.skipped_total == 0  # the header block is no error
    assert (rows[27]["time"], rows[27]["src_ip"], rows[27]["host"], rows[27]["action"]) == (
        datetime(2017, 4, 21, 7, 52, 3, tzinfo=UTC),
        "10.2.0.1",
        "example.com",
        "NOERROR",
    )
    assert (rows[28]["src_ip"], rows[28]["host"]) == ("10.161.60.71", "somecomputer.domain.com")
    assert rows[28]["time"] == datetime(2013, 6, 5, 10, 0, 32, tzinfo=UTC)
    assert (rows[29]["dst_ip"], rows[29]["host"], rows[29]["time"]) == (
        "69.160.33.71",
        "ns1.offeringsmislead.com",
        datetime(2014, 4, 15, 15, 16, tzinfo=UTC),
    )
    assert (rows[30]["dst_ip"], rows[30]["host"]) == ("8.8.8.8", "cdn-controltag.krxd.net")


@pytest.mark.shared_data
def test_windows_dns_sniff_leaves_other_samples_alone(shared_data: Path) -> None:
    sniff = get_format("windows-dns").sniff
    for path in sorted((shared_data / "logs").rglob("*")):
        if path.is_file() and path.suffix != ".md":
            head = [line for line in path.read_text(errors="replace").splitlines() if line.strip()]
            assert sniff(head[:20]) == (path.parent.name == "windows_dns"), path


def _both_ways(path: Path, chunk: int, **options: str) -> tuple[list[dict[str, Any]], ...]:
    out: list[Any] = []
    for fast in (True, False):
        stats = ReadStats(file=str(path))
        ctx = ReadContext(file=str(path), stats=stats, batch_size=chunk, options=options)
        with path.open(encoding="utf-8") as stream:
            batches = list(windows_dns.read_lines(stream, ctx, fast=fast))
        out += [pa.Table.from_batches(batches, schema=LOG_SCHEMA).to_pylist(), stats]
    return tuple(out)


@pytest.mark.parametrize("chunk", [2, 5, 1000])
@pytest.mark.parametrize("name", ["a_windns_vi.log", "a_windns_us.log"])
def test_column_reader_equals_line_reader(name: str, chunk: int) -> None:
    with (DATA / name).open(encoding="utf-8") as stream:
        lines = stream.readlines()
    dates = windows_dns._DateReader(None)
    ctx = ReadContext(file=name, stats=ReadStats(file=name))
    assert windows_dns.fast_chunk(lines, 1, dates, ctx) is not None
    fast, fast_stats, slow, slow_stats = _both_ways(DATA / name, chunk)
    assert fast == slow
    assert fast_stats.skipped == slow_stats.skipped
    assert fast_stats.examples == slow_stats.examples


def test_column_reader_equals_line_reader_on_generated_log(tmp_path: Path) -> None:
    path = tmp_path / "dns.log"
    lines = []
    for i in range(500):
        day, hour = 1 + i % 28, i % 24
        half = "AM" if hour < 12 else "PM"
        stamp = f"{1 + i % 12}/{day}/2024 {hour % 12 or 12}:{i % 60:02d}:07 {half}"
        name = f"(3)www(7)Example{i % 9}(3)com(0)" if i % 3 else f".dotted{i}.example.net."
        kind = ["Rcv", "Snd R", "Snd", "Rcv R"][i % 4]
        direction, response = [*kind.split(), ""][:2]
        remote = f"10.0.{i % 3}.{i % 200}" if i % 5 else "2001:0db8:0000:0000:0000:0000:0000:0005"
        opcode = "U" if i % 50 == 0 else "Q"
        lines.append(
            f"{stamp} 0E70 PACKET  00000000033397A0 UDP {direction} {remote}    5b47 "
            f"{response:1} {opcode} [8081   DR  NOERROR] A      {name}"
        )
        if i % 40 == 0:
            lines.append("UDP question info at 00000000033397A0")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    for options in ({}, {"date_order": "dmy", "tz": "+07:00"}):
        fast, fast_stats, slow, slow_stats = _both_ways(path, 128, **options)
        assert len(fast) == 490
        assert fast == slow
        assert fast_stats.skipped == slow_stats.skipped


def test_every_truncated_line_reads_the_same_both_ways(tmp_path: Path) -> None:
    # Logs cut short (a full disk, a rotated file being written) must never upset either reader.
    lines = (DATA / "a_windns_vi.log").read_text(encoding="utf-8").splitlines()
    path = tmp_path / "truncated.log"
    cut = (line[:end] for line in lines for end in range(0, len(line) + 1, 3))
    path.write_text("\n".join(cut) + "\n", encoding="utf-8")
    fast, fast_stats, slow, slow_stats = _both_ways(path, 50)
    assert fast == slow
    assert fast_stats.skipped == slow_stats.skipped


def test_long_hostile_packet_line_is_counted(tmp_path: Path) -> None:
    # A flags bracket that never closes once made the PACKET regex take quadratic time.
    head = "6/5/2013 10:00:32 AM 0E70 PACKET  00000000033397A0 UDP Rcv 10.1.1.1    5b47   Q [0001 "
    path = tmp_path / "hostile.log"
    path.write_text(head + "A" * 50_000 + "\n" + head + "  ] A (1)a(0)\n", encoding="utf-8")
    rows, stats = read_rows(path, "windows-dns")
    assert rows == {}
    assert stats.skipped == {"unreadable PACKET line": 2}  # the second has no response code


_PACKET_LINE = (
    "{date} {clock} 0E70 PACKET  00000000033397A0 UDP Rcv 10.0.0.5    5b47 {op} "
    "[0001   D   NOERROR] A      (3)abc(6)domain(3)com(0)\n"
)


@pytest.mark.parametrize(
    ("dates", "clock", "expected"),
    [
        (["1/5/2024", "1/13/2024"], "10:00:00", {"date_order": "mdy"}),  # 13 is the day
        (["5/1/2024", "13/1/2024"], "10:00:00", {"date_order": "dmy"}),  # 13 is the day
        (["1/5/2024", "2/5/2024"], "10:00:00 AM", {"date_order": "mdy"}),  # by the designator
        (["1/5/2024", "2/5/2024"], "10:00:00 SA", {"date_order": "dmy"}),  # Vietnamese SA/CH
        (["1/5/2024", "2/5/2024"], "10:00:00", {}),  # nothing tells: day first, as ever
        (["2024-01-05", "05.01.2024"], "10:00:00", {}),  # never month first anyway
    ],
)
@pytest.mark.parametrize("block", [16 << 20, 100])  # small blocks: lines cut between reads
def test_the_date_order_is_read_off_the_whole_file(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    dates: list[str],
    clock: str,
    expected: dict[str, str],
    block: int,
) -> None:
    monkeypatch.setattr(windows_dns, "_PLAN_BLOCK", block)
    path = tmp_path / "dns.log"
    body = [_PACKET_LINE.format(date=dates[0], clock=clock, op="  Q") for _ in range(3)]
    body.append(_PACKET_LINE.format(date="14/14/2024", clock=clock, op="  Q"))  # no such date
    body.append(_PACKET_LINE.format(date="13/1/2024", clock=clock, op="R U"))  # an update
    body.append(_PACKET_LINE.format(date=dates[1], clock=clock, op="  Q"))
    path.write_text("DNS Server log file creation at 1/5/2024 10:00:00\n" + "".join(body))
    assert windows_dns.plan(str(path)) == expected
    # Written by Windows tools: a byte-order mark, and the telling query on the first line.
    path.write_text("\ufeff" + "".join(body[5:] + body[:5]).replace("\n", "\r\n"))
    assert windows_dns.plan(str(path)) == expected
