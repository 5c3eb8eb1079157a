"""Generic CSV/TSV: guessed and given column mappings, and a sniff that claims nothing else."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from lamsach.logs.formats import ReadContext, ReadStats, all_formats, generic_csv, get_format
from lamsach.logs.formats.generic_csv import guess_mapping
from lamsach.logs.reader import detect_format, read_log
from lamsach.logs.schema import LOG_SCHEMA

DATA = Path(__file__).parent / "data"
PROXY_MAP = (
    "time=when,src_ip=user_ip,dst_ip=dest,dst_port=dest_port,url=request,bytes=size,"
    "action=verdict,hashes=sha"
)


def read_rows(
    path: Path, fmt: str | None = None, **options: str
) -> tuple[dict[int, dict[str, Any]], ReadStats]:
    stats = ReadStats(file=str(path))
    batches = list(read_log(str(path), fmt, batch_size=2, stats=stats, options=options))
    table = pa.Table.from_batches(batches, schema=LOG_SCHEMA)
    return {row["line"]: row for row in table.to_pylist()}, stats


def test_guess_mapping_from_header_names() -> None:
    assert guess_mapping(["Timestamp", "Client IP", "Query", "id.resp_h", "Unknown"]) == {
        "time": 0,
        "src_ip": 1,
        "host": 2,
        "dst_ip": 3,
    }


def test_dns_export_with_guessed_mapping() -> None:
    path = DATA / "a_generic_dns.csv"
    assert detect_format(str(path)).name == "csv"
    rows, stats = read_rows(path)
    assert sorted(rows) == [2, 3, 4, 7]
    assert rows[2]["time"] == datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
    assert (rows[2]["src_ip"], rows[2]["host"], rows[2]["answers"], rows[2]["action"]) == (
        "10.6.0.5",
        "evil.example.com",
        ["203.0.113.1", "203.0.113.2"],
        "allowed",
    )
    assert rows[2]["log_type"] == "csv"
    assert rows[3]["time"] == datetime(2024, 5, 1, 10, 0, 1, tzinfo=UTC)  # epoch milliseconds
    assert rows[3]["host"] == "xn--bcher-kva.example"
    assert (rows[4]["src_ip"], rows[4]["answers"], rows[4]["action"]) == (
        "2001:db8::6",
        ["2001:db8::99"],
        None,
    )
    assert rows[7]["time"] == datetime(2024, 5, 1, 10, 0, 4, tzinfo=UTC)
    assert rows[7]["answers"] == ["203.0.113.3", "203.0.113.4"]  # quoted, comma inside
    assert stats.skipped == {
        "fewer fields than the header": 1,
        "no address, host, URL or hash in the mapped columns": 1,
    }
    assert stats.examples["fewer fields than the header"] == [5]


def test_tsv_with_given_mapping_and_time_format() -> None:
    path = DATA / "a_generic_proxy.tsv"
    options = {"map": PROXY_MAP, "time_format": "%d/%m/%Y %H:%M:%S", "log_type": "proxy"}
    rows, stats = read_rows(path, "csv", **options)
    assert sorted(rows) == [2, 3, 4] and stats.skipped_total == 0
    first = rows[2]
    assert first["time"] == datetime(2024, 6, 5, 10, 0, tzinfo=UTC)
    assert (first["src_ip"], first["dst_ip"], first["dst_port"], first["bytes"]) == (
        "10.6.1.5",
        "203.0.113.50",
        443,
        1000,
    )
    assert (first["url"], first["action"], first["log_type"]) == (
        "https://dl.example.com/a.exe",
        "ALLOW",
        "proxy",
    )
    assert first["hashes"] == ["ab" * 32]
    assert (rows[3]["url"], rows[3]["bytes"], rows[3]["hashes"]) == (None, None, None)
    assert (rows[4]["time"], rows[4]["dst_port"]) == (None, None)  # unreadable values are null


def test_mapping_by_direct_option_keys() -> None:
    rows, _ = read_rows(
        DATA / "a_generic_proxy.tsv", "csv", src_ip="user_ip", url="request", delimiter="tab"
    )
    assert (rows[2]["src_ip"], rows[2]["url"], rows[2]["dst_ip"]) == (
        "10.6.1.5",
        "https://dl.example.com/a.exe",
        None,
    )


def test_mapping_to_missing_column_skips_the_file_with_a_reason() -> None:
    rows, stats = read_rows(DATA / "a_generic_proxy.tsv", "csv", map="src_ip=no_such_column")
    assert rows == {}
    assert list(stats.skipped) == [
        "column mapping names columns not in the header: ['src_ip=no_such_column']"
    ]


def test_csv_sniff_needs_a_header_naming_network_columns() -> None:
    sniff = get_format("csv").sniff
    assert get_format("csv").priority > max(f.priority for f in all_formats() if f.name != "csv")
    assert sniff(["time,src_ip,dst_ip", "1,10.0.0.1,10.0.0.2"])
    assert not sniff(["a,b,c", "1,2,3"])  # nothing known
    assert not sniff(["time,bytes", "1,2"])  # nothing to match
    assert not sniff(["10.0.0.1,10.0.0.2,53", "10.0.0.1,10.0.0.3,53"])  # no header
    assert not sniff(["time,src_ip,dst_ip", "1,10.0.0.1"])  # rows narrower than the header


@pytest.mark.shared_data
def test_csv_sniff_claims_no_real_sample(shared_data: Path) -> None:
    sniff = get_format("csv").sniff
    for path in sorted((shared_data / "logs").rglob("*")):
        if path.is_file() and path.suffix != ".md":
            head = [line for line in path.read_text(errors="replace").splitlines() if line.strip()]
            assert not sniff(head[:20]), path


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("a_generic_dns.csv", "csv"),
        ("a_zeek_mixed.json.log", "zeek-json"),
        ("a_suricata_eve.json", "suricata-eve"),
        ("a_bind_queries.log", "bind"),
        ("a_dnsmasq_pihole.log", "dnsmasq"),
        ("a_windns_us.log", "windows-dns"),
        ("a_squid_native.log", "squid"),
    ],
)
def test_byte_order_mark_changes_nothing(tmp_path: Path, name: str, fmt: str) -> None:
    # Files saved by Windows tools (Excel's "CSV UTF-8", Notepad) start with a BOM.
    original = DATA / name
    marked = tmp_path / name
    marked.write_bytes(b"\xef\xbb\xbf" + original.read_bytes())
    assert detect_format(str(marked)).name == fmt
    plain_rows, plain_stats = read_rows(original, fmt, year="2024")
    marked_rows, marked_stats = read_rows(marked, fmt, year="2024")
    strip_file = [
        {key: value for key, value in row.items() if key != "file"} for row in plain_rows.values()
    ]
    assert strip_file == [
        {key: value for key, value in row.items() if key != "file"} for row in marked_rows.values()
    ]
    assert plain_stats.skipped == marked_stats.skipped


def test_oversized_field_is_counted_and_reading_goes_on(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    huge = "x" * 200_000  # over the csv module's field size limit
    path.write_text(
        f'time,src_ip,host\n1,10.0.0.1,a.example\n2,10.0.0.2,"{huge}"\n3,10.0.0.3,c.example\n',
        encoding="utf-8",
    )
    rows, stats = read_rows(path, "csv")
    assert [(row["line"], row["host"]) for row in rows.values()] == [
        (2, "a.example"),
        (4, "c.example"),
    ]
    assert stats.skipped == {"unreadable CSV line": 1}
    assert stats.examples["unreadable CSV line"] == [3]


def _both_ways(path: Path, chunk: int, **options: str) -> tuple[Any, ...]:
    out: list[Any] = []
    for fast in (True, False):
        stats = ReadStats(file=str(path))
        ctx = ReadContext(file=str(path), stats=stats, batch_size=chunk, options=options)
        with path.open(encoding="utf-8", newline="") as stream:
            batches = list(generic_csv.read_lines(stream, ctx, fast=fast))
        out += [pa.Table.from_batches(batches, schema=LOG_SCHEMA).to_pylist(), stats]
    return tuple(out)


def _generated_csv(path: Path, quoted_tail: bool) -> None:
    times = ["1714557600", "1714557600123", "2024-05-01T10:00:00Z", "2024-05-01 10:00:01", "", "x"]
    ports = ["53", " 8080 ", "+5", "1_000", "-", "", "99999999999"]
    lines = ["ts,src,dst,dport,query,answer,md5,bytes,action"]
    for i in range(300):
        src = [f"10.7.{i % 4}.{i % 250}", "2001:0db8::1", "not-an-ip", ""][i % 4]
        host = [f"Q{i}.Example.com.", "", " spaced.example ", "."][i % 4]
        answer = ["192.0.2.1;192.0.2.2", "", "cname.example 2001:db8::2", "x"][i % 4]
        md5 = ["ab" * 16, "", "nothex"][i % 3]
        row = [times[i % 6], src, "203.0.113.9" if i % 5 else "", ports[i % 7], host, answer, md5]
        row += [str(i) if i % 2 else "-", "allow" if i % 3 else ""]
        if i % 41 == 0:
            row = row[:4]  # fewer fields than the header
        if i % 53 == 0:
            row = [*row, "extra"]
        lines.append(",".join(row))
        if i % 67 == 0:
            lines.append("")
    if quoted_tail:
        lines.append('1714557601,10.7.9.9,,,"multi\nline.example",,,,')
        lines.append("1714557602,10.7.9.10,,,after.example,,,,")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.mark.parametrize("quoted_tail", [False, True])
@pytest.mark.parametrize("chunk", [7, 64, 10_000])
def test_column_reader_equals_line_reader(tmp_path: Path, chunk: int, quoted_tail: bool) -> None:
    path = tmp_path / "export.csv"
    _generated_csv(path, quoted_tail)
    fast, fast_stats, slow, slow_stats = _both_ways(path, chunk)
    assert len(fast) > 200
    assert fast == slow
    assert fast_stats.skipped == slow_stats.skipped
    assert fast_stats.examples == slow_stats.examples


def test_quote_free_chunks_are_read_by_column(tmp_path: Path) -> None:
    path = tmp_path / "plain.csv"
    path.write_text("time,client,query\n1,10.0.0.1,a.example\n2,10.0.0.2,b.example\n")
    layout = generic_csv._layout(
        "time,client,query\n", 1, ReadContext(file="x", stats=ReadStats(file="x"))
    )
    assert layout is not None
    lines = ["1,10.0.0.1,a.example\n", "2,10.0.0.2,b.example\n"]
    batch = generic_csv._fast_chunk(
        lines, 2, layout, ReadContext(file="x", stats=ReadStats(file="x"))
    )
    assert batch is not None and batch.column("host").to_pylist() == ["a.example", "b.example"]
    quoted = ['1,10.0.0.1,"a.example"\n']
    assert (
        generic_csv._fast_chunk(quoted, 2, layout, ReadContext(file="x", stats=ReadStats(file="x")))
        is None
    )
