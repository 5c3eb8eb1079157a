"""Zeek TSV logs: header, field mapping per log type, nulls, vectors, bad lines, line numbers."""

from __future__ import annotations

import gzip
import io
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pytest

from lamsach.logs.formats import ReadStats, sniff_format, zeek_tsv
from lamsach.logs.reader import detect_format, read_log
from lamsach.logs.schema import LOG_SCHEMA

DATA = Path(__file__).parent / "data" / "zeek_tsv"


def header(path: str, fields: list[str], types: list[str], sep: str = "\t") -> str:
    lines = [
        "#separator \\x09" if sep == "\t" else f"#separator \\x{ord(sep):02x}",
        f"#set_separator{sep},",
        f"#empty_field{sep}(empty)",
        f"#unset_field{sep}-",
        f"#path{sep}{path}",
        f"#open{sep}2024-01-02-03-04-05",
        f"#fields{sep}" + sep.join(fields),
        f"#types{sep}" + sep.join(types),
    ]
    return "\n".join(lines) + "\n"


DNS_FIELDS = [
    "ts",
    "uid",
    "id.orig_h",
    "id.orig_p",
    "id.resp_h",
    "id.resp_p",
    "proto",
    "query",
    "answers",
    "TTLs",
]
DNS_TYPES = [
    "time",
    "string",
    "addr",
    "port",
    "addr",
    "port",
    "enum",
    "string",
    "vector[string]",
    "vector[interval]",
]


def dns_log(rows: list[str], sep: str = "\t") -> str:
    return header("dns", DNS_FIELDS, DNS_TYPES, sep) + "".join(r + "\n" for r in rows)


def read(tmp_path: Path, text: str, name: str = "x.log") -> tuple[pa.Table, ReadStats]:
    path = tmp_path / name
    path.write_text(text)
    stats = ReadStats(file=str(path))
    batches = list(read_log(str(path), stats=stats))
    table = pa.Table.from_batches(batches, schema=LOG_SCHEMA)
    return table, stats


def row(*values: str) -> str:
    return "\t".join(values)


def test_header_is_parsed_from_the_top_lines() -> None:
    text = header("conn", ["ts", "id.orig_h"], ["time", "addr"]).encode()
    stream = io.BufferedReader(io.BytesIO(text + b"1.0\t10.0.0.1\n"))  # type: ignore[arg-type]
    parsed = zeek_tsv.read_header(stream)
    assert parsed.fields == ("ts", "id.orig_h")
    assert parsed.types == ("time", "addr")
    assert parsed.separator == "\t"
    assert parsed.set_separator == ","
    assert parsed.path == "conn"
    assert parsed.lines == 8
    assert parsed.size == len(text)
    assert stream.read() == b"1.0\t10.0.0.1\n"  # left at the first record


def test_dns_fields_nulls_and_answers(tmp_path: Path) -> None:
    text = dns_log(
        [
            row(
                "1700000000.250000",
                "C1",
                "10.0.0.5",
                "5353",
                "10.0.0.53",
                "53",
                "udp",
                "Evil.Example.COM",
                "93.184.216.34,cdn.example.net,2001:db8::1",
                "60,60,60",
            ),
            row(
                "1700000001.000000",
                "C2",
                "10.0.0.6",
                "5354",
                "10.0.0.53",
                "53",
                "udp",
                "-",
                "(empty)",
                "-",
            ),
        ]
    )
    table, stats = read(tmp_path, text)
    assert stats.format == "zeek-tsv"
    assert stats.records == 2 and stats.skipped_total == 0
    first, second = table.to_pylist()
    assert first["time"] == datetime(2023, 11, 14, 22, 13, 20, 250000, tzinfo=UTC)
    assert first["src_ip"] == "10.0.0.5" and first["src_port"] == 5353
    assert first["dst_ip"] == "10.0.0.53" and first["dst_port"] == 53
    assert first["proto"] == "udp"
    assert first["host"] == "Evil.Example.COM"  # normalisation is the kernel's job
    assert first["answers"] == ["93.184.216.34", "cdn.example.net", "2001:db8::1"]
    assert first["log_type"] == "dns"
    assert first["line"] == 9 and second["line"] == 10
    assert first["file"] == str(tmp_path / "x.log")
    assert second["host"] is None and second["answers"] is None


def test_http_host_port_is_dropped_and_url_built(tmp_path: Path) -> None:
    fields = [
        "ts",
        "id.orig_h",
        "id.orig_p",
        "id.resp_h",
        "id.resp_p",
        "method",
        "host",
        "uri",
        "request_body_len",
        "response_body_len",
    ]
    types = ["time", "addr", "port", "addr", "port", "string", "string", "string", "count", "count"]
    text = header("http", fields, types) + "".join(
        r + "\n"
        for r in [
            row(
                "1.5",
                "10.1.1.1",
                "40000",
                "203.0.113.9",
                "8080",
                "GET",
                "bad.example:8080",
                "/a/b?c=d",
                "10",
                "200",
            ),
            row(
                "2.5",
                "10.1.1.1",
                "40001",
                "203.0.113.9",
                "3128",
                "GET",
                "proxy.example",
                "http://other.example/x",
                "-",
                "5",
            ),
            row(
                "3.5",
                "10.1.1.1",
                "40002",
                "203.0.113.9",
                "443",
                "CONNECT",
                "tunnel.example",
                "tunnel.example:443",
                "-",
                "-",
            ),
        ]
    )
    table, _ = read(tmp_path, text)
    rows = table.to_pylist()
    assert rows[0]["host"] == "bad.example"
    assert rows[0]["url"] == "http://bad.example/a/b?c=d"
    assert rows[0]["bytes"] == 210
    assert rows[1]["url"] == "http://other.example/x"
    assert rows[1]["bytes"] == 5
    assert rows[2]["url"] is None and rows[2]["host"] == "tunnel.example"
    assert rows[0]["log_type"] == "http"


def test_files_log_hashes_and_old_host_sets(tmp_path: Path) -> None:
    fields = ["ts", "fuid", "tx_hosts", "rx_hosts", "md5", "sha1", "sha256"]
    types = ["time", "string", "set[addr]", "set[addr]", "string", "string", "string"]
    md5 = "d41d8cd98f00b204e9800998ecf8427e"
    sha1 = "da39a3ee5e6b4b0d3255bfef95601890afd80709"
    text = (
        header("files", fields, types)
        + row("1.0", "F1", "198.51.100.7,198.51.100.8", "10.2.2.2", md5, sha1, "-")
        + "\n"
    )
    table, _ = read(tmp_path, text)
    (record,) = table.to_pylist()
    assert record["hashes"] == [md5, sha1]
    assert record["dst_ip"] == "198.51.100.7"
    assert record["src_ip"] == "10.2.2.2"
    assert record["log_type"] == "files"


def test_ssl_server_name_and_address_typed_host(tmp_path: Path) -> None:
    ssl = (
        header(
            "ssl",
            ["ts", "id.orig_h", "id.resp_h", "server_name"],
            ["time", "addr", "addr", "string"],
        )
        + row("1.0", "10.0.0.1", "192.0.2.1", "sni.example")
        + "\n"
    )
    table, _ = read(tmp_path, ssl, "ssl.log")
    assert table.column("host").to_pylist() == ["sni.example"]
    known = header("known_hosts", ["ts", "host"], ["time", "addr"]) + row("1.0", "10.9.9.9") + "\n"
    table, _ = read(tmp_path, known, "known.log")
    assert table.column("src_ip").to_pylist() == ["10.9.9.9"]
    assert table.column("host").to_pylist() == [None]  # an address is not a host name


def test_bad_lines_are_counted_and_line_numbers_stay_exact(tmp_path: Path) -> None:
    good = row("1.0", "C", "10.0.0.5", "1", "10.0.0.53", "53", "udp", "a.example", "-", "-")
    text = dns_log(
        [
            good,  # line 9
            "truncated\tline",  # 10: wrong field count
            "#close\t2024-01-02-03-04-05",  # 11: comment, not an error
            "",  # 12: blank
            good.replace("a.example", "b.example"),  # 13
            good + "\textra",  # 14: too many fields
            good.replace("a.example", "c.example"),  # 15
        ]
    )
    table, stats = read(tmp_path, text)
    assert table.column("host").to_pylist() == ["a.example", "b.example", "c.example"]
    assert table.column("line").to_pylist() == [9, 13, 15]
    assert stats.records == 3
    assert stats.skipped == {"wrong-field-count": 2}
    assert stats.examples["wrong-field-count"] == [10, 14]


def test_line_numbers_exact_across_many_small_blocks(tmp_path: Path) -> None:
    rows = []
    expected = []
    for i in range(400):
        line = 9 + i
        if i % 37 == 5:
            rows.append("broken")
            continue
        rows.append(
            row(f"{i}.0", "C", "10.0.0.5", "1", "10.0.0.53", "53", "udp", f"h{i}.example", "-", "-")
        )
        expected.append((f"h{i}.example", line))
    path = tmp_path / "dns.log"
    path.write_text(dns_log(rows))
    stats = ReadStats(file=str(path))
    with open(path, "rb") as raw:
        head = zeek_tsv.read_header(raw)  # type: ignore[arg-type]
        batches = list(zeek_tsv.read_records(raw, head, str(path), stats, block_size=512))
    assert len(batches) > 10
    table = pa.Table.from_batches(batches)
    got = list(zip(table.column("host").to_pylist(), table.column("line").to_pylist(), strict=True))
    assert got == expected
    assert stats.skipped["wrong-field-count"] == 400 - len(expected)


def test_masked_btest_timestamps_keep_the_record(tmp_path: Path) -> None:
    text = dns_log(
        [
            row(
                "XXXXXXXXXX.XXXXXX",
                "C",
                "10.0.0.5",
                "1",
                "10.0.0.53",
                "53",
                "udp",
                "masked.example",
                "-",
                "-",
            )
        ]
    )
    table, stats = read(tmp_path, text)
    assert table.column("time").to_pylist() == [None]
    assert table.column("host").to_pylist() == ["masked.example"]
    assert stats.skipped_total == 0


def test_damaged_numbers_become_null_and_keep_the_record(tmp_path: Path) -> None:
    # A fractional or oversized port once stopped the whole file; now only the value is lost.
    text = dns_log(
        [
            row(
                "1700000000.5",
                "C1",
                "10.0.0.5",
                "1.5",
                "10.0.0.53",
                "53",
                "udp",
                "a.example",
                "-",
                "-",
            ),
            row(
                "1700000001.5",
                "C2",
                "10.0.0.5",
                "99999999999",
                "10.0.0.53",
                "x",
                "udp",
                "b.example",
                "-",
                "-",
            ),
            row(
                "1700000002.5",
                "C3",
                "10.0.0.5",
                "5353",
                "10.0.0.53",
                "53",
                "udp",
                "c.example",
                "-",
                "-",
            ),
        ]
    )
    table, stats = read(tmp_path, text)
    assert table.column("host").to_pylist() == ["a.example", "b.example", "c.example"]
    assert table.column("src_port").to_pylist() == [None, None, 5353]
    assert table.column("dst_port").to_pylist() == [53, None, 53]
    assert stats.skipped_total == 0


def test_times_out_of_range_become_null_and_keep_the_record(tmp_path: Path) -> None:
    stamps = ["1700000000.5", "1e40", "99999999999999999999999", "-1e20", "nan", "inf"]
    rows = [row(ts, f"C{i}", "10.0.0.5", "5353", "10.0.0.53", "53", "udp", "a.example", "-", "-")
            for i, ts in enumerate(stamps)]  # fmt: skip
    table, stats = read(tmp_path, dns_log(rows))
    assert table.num_rows == len(stamps) and stats.skipped_total == 0
    assert table.column("time").to_pylist()[0] == datetime(2023, 11, 14, 22, 13, 20, 500000, UTC)
    assert table.column("time").to_pylist()[1:] == [None] * (len(stamps) - 1)


@pytest.mark.parametrize("separator", ["\\x0", "\\x", "\\u12", "\\N{nothing}"])
def test_a_damaged_separator_escape_is_a_header_error(tmp_path: Path, separator: str) -> None:
    path = tmp_path / "dns.log"
    path.write_text(f"#separator {separator}\n#fields\tts\tquery\n1.0\ta.example\n")
    stats = ReadStats(file=str(path))
    assert list(read_log(str(path), fmt="zeek-tsv", stats=stats)) == []
    assert stats.skipped == {"no-zeek-header": 1}
    with path.open("rb") as raw, pytest.raises(zeek_tsv.ZeekHeaderError, match="separator"):
        zeek_tsv.read_header(raw)


def test_other_separator_is_honoured(tmp_path: Path) -> None:
    text = dns_log(
        [
            "|".join(
                [
                    "5.0",
                    "C",
                    "10.0.0.5",
                    "1",
                    "10.0.0.53",
                    "53",
                    "udp",
                    "pipe.example",
                    "192.0.2.1,192.0.2.2",
                    "-",
                ]
            )
        ],
        sep="|",
    )
    table, _ = read(tmp_path, text)
    assert table.column("host").to_pylist() == ["pipe.example"]
    assert table.column("answers").to_pylist() == [["192.0.2.1", "192.0.2.2"]]


def test_compressed_log_reads_the_same(tmp_path: Path) -> None:
    text = dns_log(
        [row("1.0", "C", "10.0.0.5", "1", "10.0.0.53", "53", "udp", "gz.example", "-", "-")]
    )
    (tmp_path / "dns.log.gz").write_bytes(gzip.compress(text.encode()))
    stats = ReadStats(file="gz")
    table = pa.Table.from_batches(list(read_log(str(tmp_path / "dns.log.gz"), stats=stats)))
    assert table.column("host").to_pylist() == ["gz.example"]
    assert table.column("line").to_pylist() == [9]
    assert stats.bytes_read == (tmp_path / "dns.log.gz").stat().st_size


def test_sniff_claims_zeek_tsv_only() -> None:
    zeek = header("conn", ["ts"], ["time"]).splitlines()
    assert zeek_tsv.FORMAT.sniff(zeek)
    assert sniff_format(zeek) is zeek_tsv.FORMAT
    assert not zeek_tsv.FORMAT.sniff(['{"ts": 1.0, "uid": "C1", "id.orig_h": "10.0.0.1"}'])
    assert not zeek_tsv.FORMAT.sniff(["ts,src,dst", "1,10.0.0.1,8.8.8.8"])
    assert not zeek_tsv.FORMAT.sniff(["# a comment", "#fields are mentioned here"])


def test_a_file_without_fields_header_is_counted_not_fatal(tmp_path: Path) -> None:
    path = tmp_path / "odd.log"
    path.write_text("#separator \\x09\n#path\tdns\n1.0\tx\n")
    stats = ReadStats(file=str(path))
    assert list(read_log(str(path), fmt="zeek-tsv", stats=stats)) == []
    assert stats.skipped == {"no-zeek-header": 1}


def test_shipped_btest_dns_sample() -> None:
    path = DATA / "zeek-btest-dns-flip.tsv.log"
    assert detect_format(str(path)).name == "zeek-tsv"
    stats = ReadStats(file=str(path))
    (record,) = pa.Table.from_batches(list(read_log(str(path), stats=stats))).to_pylist()
    assert record["host"] == "us.v27.distributed.net"
    assert record["src_ip"] == "10.20.1.31" and record["dst_ip"] == "207.158.192.40"
    assert len(record["answers"]) == 8 and record["answers"][0] == "206.109.64.186"
    assert record["time"] is None  # masked by btest
    assert record["line"] == 10  # after the BTest comment and 8 header lines
    assert stats.skipped_total == 0


def test_shipped_http_sample() -> None:
    path = DATA / "zeek-btest-http-pipelining.tsv.log"
    table = pa.Table.from_batches(list(read_log(str(path))))
    assert table.num_rows == 5
    assert set(table.column("host").to_pylist()) == {"www.mozilla.org"}
    assert table.column("url").to_pylist()[0] == "http://www.mozilla.org/style/enhanced.css"
    assert table.column("line").to_pylist() == [9, 10, 11, 12, 13]


@pytest.mark.shared_data
@pytest.mark.parametrize(
    ("name", "records", "log_type"),
    [
        ("brimdata-zed-conn.tsv.log", 92, "conn"),
        ("zeek-repo-root-conn.tsv.log", 1, "conn"),
        ("zeek-btest-dns-flip.tsv.log", 1, "dns"),
        ("zeek-btest-http-pipelining.tsv.log", 5, "http"),
        ("zeek-btest-ssl-basic-old.tsv.log", 1, "ssl"),
    ],
)
def test_real_zeek_tsv_samples(shared_data: Path, name: str, records: int, log_type: str) -> None:
    path = shared_data / "logs" / "zeek" / name
    assert detect_format(str(path)).name == "zeek-tsv"
    stats = ReadStats(file=str(path))
    table = pa.Table.from_batches(list(read_log(str(path), stats=stats)), schema=LOG_SCHEMA)
    assert stats.records == records == table.num_rows
    assert stats.skipped_total == 0
    assert set(table.column("log_type").to_pylist()) == {log_type}
    assert table.column("src_ip").null_count == 0
    if log_type == "ssl":
        assert table.column("host").to_pylist() == ["ssl.gstatic.com"]
    if log_type == "conn":
        assert table.column("dst_port").null_count == 0
        assert table.column("time").null_count == 0


def test_a_log_with_only_its_header_has_no_records_and_no_error(tmp_path: Path) -> None:
    table, stats = read(tmp_path, dns_log([]) + "#close\t2024-01-02-03-04-05\n")
    assert table.num_rows == 0
    assert stats.records == 0 and stats.skipped_total == 0
    table, stats = read(tmp_path, dns_log([]), "bare.log")
    assert table.num_rows == 0 and stats.skipped_total == 0


def test_a_second_header_with_other_fields_is_reported(tmp_path: Path) -> None:
    good = row("1.0", "C", "10.0.0.5", "1", "10.0.0.53", "53", "udp", "a.example", "-", "-")
    same = dns_log([good])  # the same header again (rotated logs joined): nothing to say
    other = header("conn", ["ts", "id.orig_h", "id.resp_h"], ["time", "addr", "addr"])
    text = dns_log([good]) + same + other + row("2.0", "10.0.0.1", "192.0.2.1") + "\n"
    table, stats = read(tmp_path, text)
    assert table.column("host").to_pylist() == ["a.example", "a.example"]
    assert stats.skipped == {"zeek-fields-changed": 1, "wrong-field-count": 1}
    assert stats.examples["zeek-fields-changed"] == [25]
    assert stats.examples["wrong-field-count"] == [27]
