"""``lamsach scan`` end to end: exit codes, outputs, summary, inputs of every kind."""

from __future__ import annotations

import bz2
import gzip
import json
import struct
from pathlib import Path

import pyarrow as pa
import pytest
import zstandard
from typer.testing import CliRunner

from lamsach.cli.app import app
from lamsach.indicators.model import Indicator, IndicatorType
from lamsach.matching import engine, engine_local
from lamsach.matching.index import IndicatorIndex
from lamsach.matching.index_file import MAGIC
from lamsach.matching.output import read_hits

HEADER = (
    "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tdns\n"
    "#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tquery\tanswers\n"
    "#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tstring\tvector[string]\n"
)  # 7 lines
CLEAN = "1700000000.0\tC1\t10.1.1.1\t5000\t10.0.0.53\t53\tudp\twww.benign.example\t192.0.2.1\n"
HIT = "1700000100.0\tC2\t10.1.1.7\t5001\t10.0.0.53\t53\tudp\tcdn.evil.example\t192.0.2.2\n"
ANSWER = "1700000200.0\tC3\t10.1.1.8\t5002\t10.0.0.53\t53\tudp\tx.benign.example\t203.0.113.66\n"
LOOKALIKE = "1700000300.0\tC4\t10.1.1.9\t5003\t10.0.0.53\t53\tudp\tnotevil.example\t-\n"

runner = CliRunner(env={"COLUMNS": "250"})


@pytest.fixture()
def index_file(tmp_path: Path) -> Path:
    index = IndicatorIndex.build(
        [
            Indicator(IndicatorType.DOMAIN, "evil.example", {"cert-vn"}, {"family:emotet"}),
            Indicator(IndicatorType.IPV4, "203.0.113.66", {"cert-vn"}, {"qakbot"}),
        ]
    )
    path = tmp_path / "iocs.lsidx"
    index.save(path)
    return path


def write_log(path: Path, *lines: str) -> Path:
    path.write_text(HEADER + "".join(lines))
    return path


def invoke(*args: str | Path, input: str | None = None):  # type: ignore[no-untyped-def]
    return runner.invoke(app, ["scan", *map(str, args)], input=input)


def test_clean_log_exits_0(tmp_path: Path, index_file: Path) -> None:
    log = write_log(tmp_path / "dns.log", CLEAN, LOOKALIKE)
    result = invoke(log, "--ioc", index_file)
    assert result.exit_code == 0, result.output
    assert "Files read" in result.stdout
    assert "2 records in 1 files" in result.stdout
    assert "0 hits" in result.stdout


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".parquet"])
def test_hits_exit_1_and_are_written(tmp_path: Path, index_file: Path, suffix: str) -> None:
    log = write_log(tmp_path / "dns.log", CLEAN, HIT, LOOKALIKE, ANSWER)
    out = tmp_path / f"hits{suffix}"
    result = invoke(log, "--ioc", index_file, "--out", out)
    assert result.exit_code == 1, result.output
    hits = read_hits(out)
    assert hits.num_rows == 2
    rows = sorted(hits.to_pylist(), key=lambda r: r["line"])
    assert [r["line"] for r in rows] == [9, 11]
    first, second = rows
    assert first["suspect"] == "10.1.1.7" and first["indicator"] == "evil.example"
    assert first["observed"] == "cdn.evil.example" and first["indicator_type"] == "domain"
    assert first["sources"] == ["cert-vn"] and first["tags"] == ["family:emotet"]
    assert first["time"] is not None and first["time"].year == 2023
    assert first["file"] == str(log) and first["log_type"] == "dns"
    assert second["indicator"] == "203.0.113.66" and second["suspect"] == "10.1.1.8"
    assert f"written to {out}" in result.stdout


def test_summary_names_suspects_types_and_families(tmp_path: Path, index_file: Path) -> None:
    log = write_log(tmp_path / "dns.log", HIT, HIT, ANSWER)
    result = invoke(log, "--ioc", index_file)
    assert result.exit_code == 1
    text = result.stdout
    assert "Hits by indicator type" in text and "domain" in text and "ipv4" in text
    assert "Suspect hosts" in text
    assert "10.1.1.7" in text and "10.1.1.8" in text
    assert "emotet" in text and "qakbot" in text
    assert "2023-11-14 22:15:00" in text  # first seen of 10.1.1.7
    assert "3 hits on 2 suspect hosts" in text
    assert "cdn.evil.example" in text  # hits shown when there is no --out


def test_corrupt_line_is_counted_and_reported(tmp_path: Path, index_file: Path) -> None:
    log = write_log(tmp_path / "dns.log", CLEAN, "garbage without fields\n", HIT)
    result = invoke(log, "--ioc", index_file)
    assert result.exit_code == 1
    assert "wrong-field-count: 1 (lines 9)" in result.stdout
    assert "Skipped 1 lines that lamsach could not read" in result.stdout
    assert "Passed over" not in result.stdout


def test_lines_without_records_are_reported_apart_from_damage(
    tmp_path: Path, index_file: Path
) -> None:
    # A router's dnsmasq log: a query, a forwarded line (no record), a line that is not dnsmasq.
    log = tmp_path / "dnsmasq.log"
    log.write_text(
        "Jun  5 10:20:57 dnsmasq[1]: query[A] www.example.org from 10.1.1.9\n"
        "Jun  5 10:20:57 dnsmasq[1]: forwarded www.example.org to 8.8.8.8\n"
        "Jun  5 10:20:58 dnsmasq[1]: query[A] ok.example.net from 10.1.1.9\n"
        "Jun  5 10:20:59 dnsmasq[1]: query[A] ok2.example.net from 10.1.1.9\n"
    )
    result = invoke(log, "--ioc", index_file)
    assert result.exit_code == 0, result.output
    assert "Passed over 1 lines that hold no network record." in result.stdout
    assert "could not read" not in result.stdout


@pytest.mark.parametrize(
    "compress",
    [gzip.compress, bz2.compress, lambda b: zstandard.ZstdCompressor().compress(b)],
    ids=["gz", "bz2", "zst"],
)
def test_compressed_inputs(tmp_path: Path, index_file: Path, compress) -> None:  # type: ignore[no-untyped-def]
    plain = write_log(tmp_path / "dns.log", CLEAN, HIT, ANSWER)
    packed = tmp_path / "dns.log.packed"
    packed.write_bytes(compress(plain.read_bytes()))
    out_plain, out_packed = tmp_path / "a.parquet", tmp_path / "b.parquet"
    assert invoke(plain, "--ioc", index_file, "--out", out_plain).exit_code == 1
    assert invoke(packed, "--ioc", index_file, "--out", out_packed).exit_code == 1
    a, b = read_hits(out_plain), read_hits(out_packed)
    assert a.drop_columns(["file"]).equals(b.drop_columns(["file"]))


def test_folder_input(tmp_path: Path, index_file: Path) -> None:
    folder = tmp_path / "logs"
    (folder / "day2").mkdir(parents=True)
    write_log(folder / "a.log", CLEAN)
    write_log(folder / "day2" / "b.log", HIT)
    (folder / "README.md").write_text("# Logs of the city network\n")
    out = tmp_path / "hits.jsonl"
    result = invoke(folder, "--ioc", index_file, "--out", out, "--workers", "1")
    # A file in the folder that is no log is passed over with a note, not an error.
    assert result.exit_code == 1, result.output
    assert read_hits(out).column("file").to_pylist() == [str(folder / "day2" / "b.log")]
    assert "2 records in 2 files" in result.stdout
    assert "Passed over 1 files" in result.stderr and "README.md" in result.stderr
    named = invoke(folder / "README.md", "--ioc", index_file)
    assert named.exit_code == 2 and "unrecognised log format" in named.stderr


def test_standard_input_with_format(tmp_path: Path, index_file: Path) -> None:
    result = invoke("-", "--ioc", index_file, "--format", "zeek-tsv", input=HEADER + HIT)
    assert result.exit_code == 1, result.output
    assert "10.1.1.7" in result.stdout
    result = invoke("-", "--ioc", index_file, input=HEADER + HIT)
    assert result.exit_code == 2
    assert "standard input needs --format" in result.stderr


def test_errors_exit_2(tmp_path: Path, index_file: Path) -> None:
    log = write_log(tmp_path / "dns.log", HIT)
    missing = invoke(tmp_path / "nope.log", "--ioc", index_file)
    assert missing.exit_code == 2 and "no such file" in missing.stderr
    no_ioc = invoke(log, "--ioc", tmp_path / "nope.lsidx")
    assert no_ioc.exit_code == 2 and "no such file" in no_ioc.stderr
    bad_out = invoke(log, "--ioc", index_file, "--out", tmp_path / "hits.xml")
    assert bad_out.exit_code == 2 and "unknown hits format" in bad_out.stderr
    for suffix in (".csv", ".jsonl", ".parquet"):  # an output that cannot be opened: no traceback
        unwritable = invoke(log, "--ioc", index_file, "--out", tmp_path / "gone" / f"h{suffix}")
        assert unwritable.exit_code == 2 and "No such file or directory" in unwritable.stderr
        assert "Traceback" not in unwritable.output and unwritable.exception is not None
        assert isinstance(unwritable.exception, SystemExit)
    unknown = tmp_path / "notes.txt"
    unknown.write_text("nothing to see\n")
    out = tmp_path / "hits.csv"
    mixed = invoke(log, unknown, "--ioc", index_file, "--out", out)
    # grep's rule: an unreadable file makes it 2 even though the other file had hits.
    assert mixed.exit_code == 2
    assert "unrecognised log format" in mixed.stderr
    assert read_hits(out).num_rows == 1


def test_a_damaged_index_is_one_clear_error(
    tmp_path: Path, index_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = write_log(tmp_path / "dns.log", *[CLEAN] * 500, HIT)
    monkeypatch.setattr(engine_local, "INLINE_BYTES", 0)  # worker processes even for this
    monkeypatch.setattr(engine, "SPLIT_MIN_BYTES", 1000)  # and several ranges
    data = index_file.read_bytes()
    cut = tmp_path / "cut.lsidx"
    cut.write_bytes(data[: len(data) - 10])  # a copy that stopped short
    result = invoke(log, "--ioc", cut, "--workers", "2")
    assert result.exit_code == 2
    assert result.stderr.count("truncated") == 1, result.stderr  # said once, not per range
    spoiled = tmp_path / "spoiled.lsidx"
    (size,) = struct.unpack_from("<Q", data, len(MAGIC))
    base = len(MAGIC) + 8 + size
    rows = next(e for e in json.loads(data[len(MAGIC) + 8 : base])["blobs"] if e["name"] == "rows")
    middle = base + rows["offset"] + rows["length"] // 2  # inside the indicators themselves
    spoiled.write_bytes(data[:middle] + bytes([data[middle] ^ 1]) + data[middle + 1 :])
    result = invoke(log, "--ioc", spoiled, "--workers", "2")
    assert result.exit_code == 2
    assert "damaged index" in result.stderr


def test_raw_list_allow_list_and_internal_networks(tmp_path: Path) -> None:
    log = write_log(tmp_path / "dns.log", HIT, ANSWER.replace("203.0.113.66", "45.33.32.156"))
    listed = tmp_path / "list.txt"
    # The documentation address is refused by the import guard, and said so.
    listed.write_text("# CERT list\nevil[.]example\n45.33.32.156\n203.0.113.66\n")
    out = tmp_path / "hits.csv"
    result = invoke(log, "--ioc", listed, "--out", out)
    assert result.exit_code == 1, result.output
    assert "1 list entries rejected" in result.stderr
    assert sorted(read_hits(out).column("indicator").to_pylist()) == [
        "45.33.32.156",
        "evil.example",
    ]
    allow = tmp_path / "allow.txt"
    allow.write_text("cdn.evil.example\n")
    result = invoke(log, "--ioc", listed, "--allow", allow, "--out", out)
    assert result.exit_code == 1
    assert read_hits(out).column("indicator").to_pylist() == ["45.33.32.156"]
    result = invoke(log, "--ioc", listed, "--internal", "10.0.0.0/24", "--out", out)
    assert result.exit_code == 1
    # With only 10.0.0.0/24 internal, the resolver is the internal side of the query hit; for
    # an answer the suspect is always the client that asked.
    suspects = {h["field"]: h["suspect"] for h in read_hits(out).to_pylist()}
    assert suspects == {"host": "10.0.0.53", "answers": "10.1.1.8"}


@pytest.mark.slow
def test_byte_range_split_gives_the_same_hits_as_one_worker(
    tmp_path: Path, index_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = []
    for i in range(6000):
        line = (HIT, ANSWER, CLEAN, LOOKALIKE)[i % 4] if i % 97 else "bad line\n"
        lines.append(line.replace("C", f"C{i}", 1))
    log = write_log(tmp_path / "dns.log", *lines)
    monkeypatch.setattr(engine, "SPLIT_MIN_BYTES", 20_000)
    monkeypatch.setattr(engine_local, "INLINE_BYTES", 0)  # worker processes even for this
    one, two = tmp_path / "one.parquet", tmp_path / "two.parquet"
    r1 = invoke(log, "--ioc", index_file, "--out", one, "--workers", "1", "--quiet")
    r2 = invoke(log, "--ioc", index_file, "--out", two, "--workers", "2", "--quiet")
    assert r1.exit_code == r2.exit_code == 1
    assert r1.stdout == r2.stdout == ""  # --quiet
    a, b = read_hits(one), read_hits(two)
    assert a.num_rows > 2000
    assert a.equals(b)
    assert isinstance(a, pa.Table)


def test_help_documents_exit_status() -> None:
    result = runner.invoke(app, ["scan", "--help"])
    assert result.exit_code == 0
    assert "Exit status" in result.stdout
    assert "1 when hits were found" in result.stdout


@pytest.mark.shared_data
def test_scan_of_the_real_zeek_tsv_samples(shared_data: Path, tmp_path: Path) -> None:
    zeek = shared_data / "logs" / "zeek"
    logs = sorted(zeek.glob("*.tsv.log"))
    listed = tmp_path / "list.txt"
    listed.write_text("mozilla.org\ngstatic.com\n206.109.64.186\n")
    out = tmp_path / "hits.parquet"
    result = invoke(*logs, "--ioc", listed, "--out", out)
    assert result.exit_code == 1, result.output
    hits = read_hits(out).to_pylist()
    where = {(Path(h["file"]).name, h["line"], h["indicator"]) for h in hits}
    http = "zeek-btest-http-pipelining.tsv.log"
    assert {(http, line, "mozilla.org") for line in range(9, 14)} <= where
    assert ("zeek-btest-ssl-basic-old.tsv.log", 8, "gstatic.com") in where
    assert ("zeek-btest-dns-flip.tsv.log", 10, "206.109.64.186") in where
    suspects = {h["suspect"] for h in hits}
    assert suspects == {"192.168.1.104", "192.168.1.105", "10.20.1.31"}
    assert "92" in result.stdout  # brimdata conn.log records, read without skips
    assert "Skipped" not in result.stdout and "Could not read" not in result.stdout


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".parquet"])
def test_hit_files_round_trip_lists_nulls_and_times(tmp_path: Path, suffix: str) -> None:
    from datetime import UTC, datetime

    from lamsach.matching.hits import HIT_SCHEMA
    from lamsach.matching.output import HitWriter

    rows = [
        {
            "time": datetime(2025, 3, 1, 8, 30, 15, 123456, tzinfo=UTC),
            "suspect": "10.0.0.5",
            "other": "203.0.113.9",
            "indicator": "evil.example",
            "indicator_type": "domain",
            "sources": ["cert-vn", "misp"],
            "tags": [],
            "observed": "a.evil.example",
            "field": "host",
            "log_type": "dns",
            "file": 'dns, "odd" name.log',
            "line": 12,
        },
        {**{k: None for k in HIT_SCHEMA.names}, "sources": ["x"], "tags": ["family:qakbot"]},
    ]
    path = tmp_path / f"hits{suffix}"
    with HitWriter(path) as writer:
        writer.write(pa.Table.from_pylist(rows[:1], schema=HIT_SCHEMA))
        writer.write(pa.Table.from_pylist(rows[1:], schema=HIT_SCHEMA))
    back = read_hits(path).to_pylist()
    assert back[0] == rows[0]
    assert back[1]["tags"] == ["family:qakbot"] and back[1]["time"] is None


@pytest.mark.parametrize("option", ["tz=Mars/Olympus", "tz=+7h", "year=20x5", "date_order=dym"])
def test_a_mistyped_format_option_is_an_error(
    tmp_path: Path, index_file: Path, option: str
) -> None:
    # Silently falling back to UTC or this year would shift every time stamp of the scan.
    for n in range(3):
        log = tmp_path / f"dnsmasq-{n}.log"
        log.write_text("Jun  5 10:20:57 dnsmasq[1]: query[A] www.example.org from 10.1.1.9\n")
    result = invoke(tmp_path, "--ioc", index_file, "--option", option)
    assert result.exit_code == 2, result.output
    assert f"option {option.split('=')[0]}=" in result.output
    # Said once, before any file is read, not once a file.
    assert result.output.count("error:") == 1, result.output
    assert "records" not in result.output


def test_format_options_are_applied(tmp_path: Path, index_file: Path) -> None:
    log = tmp_path / "dnsmasq.log"
    log.write_text("Jun  5 10:20:57 dnsmasq[1]: query[A] cdn.evil.example from 10.1.1.9\n")
    out = tmp_path / "hits.jsonl"
    result = invoke(
        log,
        "--ioc",
        index_file,
        "--option",
        "tz=Asia/Ho_Chi_Minh",
        "--option",
        "year=2022",
        "--out",
        out,
    )
    assert result.exit_code == 1, result.output
    assert read_hits(out).column("time").to_pylist()[0].isoformat() == "2022-06-05T03:20:57+00:00"
