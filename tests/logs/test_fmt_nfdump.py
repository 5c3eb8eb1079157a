"""nfdump CSV (``nfdump -o csv``): a made-up export with nfdump's documented header."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lamsach.logs.formats import ReadStats
from lamsach.logs.formats.nfdump import DEFAULT_HEADER, FORMAT
from lamsach.logs.reader import detect_format, read_log

from .conftest import check_claims_no_other_sample, check_damaged_lines_are_counted

DATA = Path(__file__).parent / "data"


def read_table(
    path: Path, fmt: str | None = None, batch_size: int = 2
) -> tuple[pa.Table, ReadStats]:
    stats = ReadStats(file=str(path))
    batches = list(read_log(str(path), fmt=fmt, stats=stats, batch_size=batch_size))
    assert all(batch.num_rows <= batch_size for batch in batches)
    return pa.Table.from_batches(batches), stats


def test_made_up_nfdump_export() -> None:
    path = DATA / "b_nfdump.csv"
    assert detect_format(str(path)).name == "nfdump"
    table, stats = read_table(path)
    rows = table.to_pylist()
    assert [r["line"] for r in rows] == [2, 3, 4, 6, 9]
    first = rows[0]
    assert first["time"] == datetime(2024, 3, 5, 8, 15, 2, 312000, tzinfo=UTC)
    assert (first["src_ip"], first["src_port"], first["dst_ip"], first["dst_port"]) == (
        "10.20.1.15",
        49822,
        "203.0.113.66",
        443,
    )
    # ibyt + obyt: both directions of a bidirectional flow
    assert (first["proto"], first["bytes"], first["log_type"]) == ("tcp", 4213 + 18230, "flow")
    assert first["file"] == str(path)
    assert rows[1]["proto"] == "udp" and rows[1]["bytes"] == 73
    assert rows[2]["proto"] == "icmp"
    assert rows[3]["time"] == datetime(2024, 3, 5, 8, 15, 7, tzinfo=UTC)  # no fraction
    assert (rows[3]["src_ip"], rows[3]["dst_ip"]) == ("fd00:20::15", "2001:db8::beef")
    assert rows[4]["proto"] == "gre"  # protocol given as a number
    # The truncated row and the row with a non-address; the blank line and Summary are not errors.
    assert stats.skipped == {"bad flow line": 2}
    assert sorted(stats.examples["bad flow line"]) == [7, 8]


def test_headerless_export_with_forced_format(tmp_path: Path) -> None:
    # nfdump -q drops the header and the summary; the default column order applies.
    body = (DATA / "b_nfdump.csv").read_text().splitlines()[1:4]
    path = tmp_path / "flows.csv"
    path.write_text("\r\n".join(body) + "\r\n")
    table, stats = read_table(path, fmt="nfdump", batch_size=100)
    assert table.column("line").to_pylist() == [1, 2, 3]
    assert table.column("dst_port").to_pylist() == [443, 53, 771]
    assert stats.skipped_total == 0


def test_many_blocks_keep_line_numbers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import lamsach.logs.formats.nfdump as nfdump

    monkeypatch.setattr(nfdump, "BLOCK_CHARS", 300)  # force many small blocks
    row = (DATA / "b_nfdump.csv").read_text().splitlines()[1]
    lines = [DEFAULT_HEADER]
    for n in range(50):
        lines.append(row.replace("10.20.1.15", f"10.20.2.{n}"))
        if n % 7 == 0:
            lines.append("broken,row")
    path = tmp_path / "many.csv"
    path.write_text("\n".join(lines) + "\n")
    table, stats = read_table(path, batch_size=1000)
    assert table.column("src_ip").to_pylist() == [f"10.20.2.{n}" for n in range(50)]
    expected = [i + 1 for i, text in enumerate(lines) if text.startswith("2024")]
    assert table.column("line").to_pylist() == expected
    assert stats.skipped["bad flow line"] == 8


@pytest.mark.shared_data
def test_nfdump_claims_no_real_sample(shared_data: Path) -> None:
    check_claims_no_other_sample(FORMAT, shared_data)


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_damaged_lines_are_counted_never_raised(data: st.DataObject) -> None:
    check_damaged_lines_are_counted(FORMAT, DATA / "b_nfdump.csv", data, every_line_accounted=False)


def test_stray_quotes_do_not_join_lines(tmp_path: Path) -> None:
    lines = (DATA / "b_nfdump.csv").read_text().splitlines()
    path = tmp_path / "quotes.csv"
    path.write_text("\n".join([lines[0], '"' + lines[1], lines[2], '"', lines[3]]) + "\n")
    table, stats = read_table(path)
    assert table.column("line").to_pylist() == [2, 3, 5]
    assert table.column("time").to_pylist()[0] is None  # '"2024-...' is no time; the flow stays
    assert table.column("src_ip").to_pylist() == ["10.20.1.15", "10.20.1.15", "10.20.1.16"]
    assert stats.skipped == {"bad flow line": 1}  # the lone quote


def test_newer_nfdump_column_names(tmp_path: Path) -> None:
    # Current nfdump releases name the CSV columns in words (and %tsr writes epoch seconds).
    path = tmp_path / "flows.csv"
    path.write_text(
        "firstSeen,lastSeen,duration,proto,srcAddr,dstAddr,srcPort,dstPort,inPackets,"
        "inBytes,outBytes,flows\n"
        "2024-03-05 08:15:02.312,2024-03-05 08:15:04.118,1.806,TCP,10.20.1.15,203.0.113.66,"
        "49822,443,12,4213,18230,1\n"
        "1709626981.123,1709626981.500,0.377,UDP,10.20.1.16,192.0.2.53,53544,53,1,73,0,1\n"
    )
    assert detect_format(str(path)).name == "nfdump"
    table, stats = read_table(path, batch_size=10)
    rows = table.to_pylist()
    assert [(r["src_ip"], r["dst_port"], r["proto"], r["bytes"]) for r in rows] == [
        ("10.20.1.15", 443, "tcp", 4213 + 18230),
        ("10.20.1.16", 53, "udp", 73),
    ]
    assert rows[0]["time"] == datetime(2024, 3, 5, 8, 15, 2, 312000, tzinfo=UTC)
    assert rows[1]["time"] == datetime(2024, 3, 5, 8, 23, 1, 123000, tzinfo=UTC)
    assert stats.skipped_total == 0


def test_zone_option() -> None:
    path = DATA / "b_nfdump.csv"
    stats = ReadStats(file=str(path))
    batches = list(read_log(str(path), stats=stats, options={"tz": "Asia/Ho_Chi_Minh"}))
    times = pa.Table.from_batches(batches).column("time").to_pylist()
    assert times[0] == datetime(2024, 3, 5, 1, 15, 2, 312000, tzinfo=UTC)
