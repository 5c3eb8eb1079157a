"""FortiGate key=value logs: made-up edge cases and the real sample."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lamsach.logs.formats import ReadStats
from lamsach.logs.formats.fortigate import FORMAT, KeyValues
from lamsach.logs.reader import detect_format, read_log

from .conftest import check_claims_no_other_sample, check_damaged_lines_are_counted

DATA = Path(__file__).parent / "data"


def read_table(path: Path, fmt: str | None = None) -> tuple[pa.Table, ReadStats]:
    stats = ReadStats(file=str(path))
    batches = list(read_log(str(path), fmt=fmt, stats=stats, batch_size=2))
    return pa.Table.from_batches(batches), stats


def test_parse_pairs_quoted_and_bare() -> None:
    fields = KeyValues('a=1 b="two words" c="say \\"x = y\\"" d= e=last')
    assert [fields.get(key) for key in "abcdef"] == [
        "1",
        "two words",
        'say "x = y"',
        "",
        "last",
        None,
    ]
    assert set(fields.raw) == set("abcde")


def test_made_up_fortigate_lines() -> None:
    path = DATA / "b_fortigate.log"
    assert detect_format(str(path)).name == "fortigate"
    table, stats = read_table(path)
    rows = table.to_pylist()
    assert [r["line"] for r in rows] == [1, 2, 3, 4, 7, 10]
    traffic = rows[0]  # with a syslog prefix; eventtime in nanoseconds wins over date/time
    assert traffic["time"] == datetime(2024, 3, 5, 1, 17, 1, 123456, tzinfo=UTC)
    assert (traffic["src_ip"], traffic["src_port"], traffic["dst_ip"], traffic["dst_port"]) == (
        "10.20.1.15",
        49822,
        "203.0.113.66",
        443,
    )
    assert (traffic["proto"], traffic["action"], traffic["bytes"], traffic["log_type"]) == (
        "tcp",
        "close",
        22443,
        "conn",
    )
    assert traffic["host"] is None and traffic["url"] is None
    web = rows[1]  # FortiOS 6 web filter: URL is a path, the host is separate
    assert web["host"] == "malware.example.net"
    assert web["url"] == "http://Malware.Example.NET/payload.bin?id=1"
    assert (web["action"], web["log_type"], web["bytes"]) == ("blocked", "http", 512)
    assert web["time"] == datetime(2024, 3, 5, 1, 17, 2, tzinfo=UTC)
    full = rows[2]
    assert full["url"] == "https://cdn.example.org/lib.js" and full["host"] == "cdn.example.org"
    dns = rows[3]
    assert (dns["host"], dns["answers"], dns["log_type"], dns["proto"]) == (
        "c2.evil.example",
        ["192.0.2.44", "192.0.2.45"],
        "dns",
        "udp",
    )
    v6 = rows[4]  # no eventtime: date and time taken as UTC
    assert v6["time"] == datetime(2024, 3, 5, 8, 17, 6, tzinfo=UTC)
    assert (v6["src_ip"], v6["dst_ip"], v6["bytes"]) == ("fd00:20::15", "2001:db8::beef", 80)
    bare = rows[5]  # unquoted values, CRLF
    assert (bare["proto"], bare["action"], bare["bytes"]) == ("udp", "accept", 300)
    assert stats.skipped == {"ignored: not traffic": 1, "not a FortiGate log": 1, "no addresses": 1}
    assert stats.examples["ignored: not traffic"] == [5]


@pytest.mark.shared_data
def test_real_fortigate_sample(shared_data: Path) -> None:
    path = shared_data / "logs/fortigate/elastic-test-fortinet-7-4.head.log"
    assert detect_format(str(path)).name == "fortigate"
    table, stats = read_table(path)
    assert table.num_rows == 5
    assert stats.skipped == {"ignored: not traffic": 15}
    rows = table.to_pylist()
    first = rows[0]
    assert (first["src_ip"], first["dst_ip"], first["dst_port"], first["proto"]) == (
        "10.1.100.11",
        "81.2.69.142",
        80,
        "tcp",
    )
    assert first["bytes"] == 1188 + 1224 and first["action"] == "close"
    assert first["time"] == datetime(2019, 5, 10, 18, 37, 47, 369913, tzinfo=UTC)
    assert rows[2]["proto"] == "udp" and rows[2]["dst_ip"] == "230.1.1.2"
    assert rows[4]["time"] == datetime(2021, 1, 26, 23, 51, 37, 880421, tzinfo=UTC)


@pytest.mark.shared_data
def test_fortigate_claims_no_other_real_sample(shared_data: Path) -> None:
    check_claims_no_other_sample(FORMAT, shared_data, "fortigate")


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_damaged_lines_are_counted_never_raised(data: st.DataObject) -> None:
    check_damaged_lines_are_counted(FORMAT, DATA / "b_fortigate.log", data)


def test_digits_that_are_not_ascii(tmp_path: Path) -> None:
    # str.isdigit() accepts "¹", int() does not: such a value is no number, and no error.
    path = tmp_path / "fgt.log"
    path.write_text(
        'date=2024-03-05 time=08:17:06 logid="0000000013" type="traffic" srcip=10.20.1.15 '
        "srcport=¹50111 dstip=192.0.2.1 dstport=443 proto=6 sentbyte=¹80 rcvdbyte=20\n"
    )
    table, stats = read_table(path, fmt="fortigate")
    (row,) = table.to_pylist()
    assert (row["src_port"], row["dst_port"], row["bytes"]) == (None, 443, 20)
    assert stats.skipped_total == 0


def test_zone_option_only_for_times_without_their_own() -> None:
    path = DATA / "b_fortigate.log"
    batches = list(read_log(str(path), options={"tz": "+07:00"}))
    times = pa.Table.from_batches(batches).column("time").to_pylist()
    assert times[0] == datetime(2024, 3, 5, 1, 17, 1, 123456, tzinfo=UTC)  # eventtime
    assert times[4] == datetime(2024, 3, 5, 1, 17, 6, tzinfo=UTC)  # date + time, local


# Pairs spliced into the sample's lines: every rule of the reader (addresses, ports, times,
# web filter URLs, sizes, actions, types), and text the column reader must leave to the other.
PIECES = [
    " srcip=192.0.2.4", ' dstip="203.0.113.9"', " srcip=", ' dstip=""', ' type="event"',
    " type=utm", " subtype=dns", ' subtype="webfilter"', ' hostname="Evil.Example."',
    ' hostname=""', ' url="/x?a=b"', ' url="http://a.example/c"', ' url="ftp:x"', " url=/p",
    ' service="https"', " service=HTTP", " eventtime=1709601421", " eventtime=1709601421123",
    " eventtime=1709601421123456", " eventtime=17096014211234567", " eventtime=99999999999999",
    " eventtime=17096014211234567890", " eventtime=abc",
    " eventtime=", " sentbyte=12345678901234567890", " rcvdbyte=007", " sentbyte=¹",
    " proto=17", ' proto="ICMP"', " proto=999", ' action=""', ' utmaction="block"',
    " srcport=70000", " dstport=00080", ' tz="-0530"', " tz=+07", " date=2024-02-30",
    " time=25:00:00", ' msg="a srcip=198.51.100.9 b"', ' x"y', '"', "=", "\\", "\t",
    " srcip=::ffff:192.0.2.5", " srcip= 192.0.2.6", " dstip=[2001:db8::1]", " srcip=01.2.3.4",
    "é", "\x1c", " ",
]  # fmt: skip


@pytest.mark.parametrize("chunk", [3, 64])
def test_column_reader_equals_line_reader_on_spliced_pairs(tmp_path: Path, chunk: int) -> None:
    from lamsach.logs.formats import ReadContext
    from lamsach.logs.formats.fortigate import read_lines

    rng = random.Random(chunk)
    lines = (DATA / "b_fortigate.log").read_text().splitlines()

    def spliced(line: str) -> str:
        for _ in range(rng.randint(1, 3)):
            at = rng.randint(0, len(line))
            line = line[:at] + rng.choice(PIECES) + line[at:]
        return line

    def read(path: Path, fast: bool) -> tuple[list[dict[str, object]], ReadStats]:
        stats = ReadStats(file=str(path))
        with path.open(encoding="utf-8", newline="") as stream:
            ctx = ReadContext(file=str(path), stats=stats, batch_size=chunk)
            rows = [row for batch in read_lines(stream, ctx, fast) for row in batch.to_pylist()]
        return rows, stats

    path = tmp_path / "fortigate.log"
    for _ in range(60):
        body = [spliced(line) if rng.random() < 0.6 else line for line in lines * 3]
        path.write_text("\n".join(body) + "\n", encoding="utf-8")
        (by_column, column_stats), (by_line, line_stats) = read(path, True), read(path, False)
        assert by_column == by_line
        assert column_stats.skipped == line_stats.skipped
        assert column_stats.examples == line_stats.examples
