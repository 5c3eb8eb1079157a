"""The scan engine: tasks, byte ranges, worker processes, errors; same hits however it is cut."""

from __future__ import annotations

import gzip
import random
from pathlib import Path

import pyarrow as pa
import pytest

from lamsach.indicators.model import Indicator, IndicatorType
from lamsach.logs.formats import zeek_tsv
from lamsach.matching import engine_local
from lamsach.matching.direction import DEFAULT_INTERNAL
from lamsach.matching.engine import plan_tasks, scan_task
from lamsach.matching.engine_local import ScanReport, run_scan
from lamsach.matching.index import IndicatorIndex
from lamsach.matching.index_file import IndexFileError
from lamsach.matching.kernel import match_batch

HEADER = (
    "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tdns\n"
    "#open\t2024-01-01-00-00-00\n"
    "#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tquery\tanswers\n"
    "#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tstring\tvector[string]\n"
)
HEADER_LINES = HEADER.count("\n")


@pytest.fixture(scope="module")
def index() -> IndicatorIndex:
    return IndicatorIndex.build(
        [
            Indicator(IndicatorType.DOMAIN, "evil.example", {"cert"}, {"family:emotet"}),
            Indicator(IndicatorType.IPV4, "203.0.113.66", {"cert"}, set()),
            Indicator(IndicatorType.CIDR, "198.51.100.0/28", {"cert"}, set()),
        ]
    )


def make_dns_log(path: Path, n: int, seed: int = 7) -> dict[int, str]:
    """A dns.log with hits, lookalikes and corrupt lines; returns hit line -> kind."""
    rng = random.Random(seed)
    lines = []
    hits: dict[int, str] = {}
    for i in range(n):
        line_no = HEADER_LINES + i + 1
        query, answers, kind = f"host{i}.benign.example", "192.0.2.1", ""
        pick = rng.random()
        if pick < 0.01:
            query, kind = f"a{i}.evil.example", "host"
        elif pick < 0.02:
            answers, kind = "192.0.2.9,203.0.113.66", "answer"
        elif pick < 0.03:
            answers, kind = "198.51.100.15", "cidr"
        elif pick < 0.04:
            query = "notevil.example"
        elif pick < 0.05:
            query = "evil.example.attacker.test"
        elif pick < 0.06:
            answers = "198.51.100.16"  # just outside the /28
        elif pick < 0.07:
            lines.append("corrupt\tline\n")
            continue
        if kind:
            hits[line_no] = kind
        lines.append(
            f"{1700000000 + i}.5\tC{i}\t10.0.{i % 200}.{i % 250 + 1}\t{40000 + i % 20000}\t"
            f"10.0.0.53\t53\tudp\t{query}\t{answers}\n"
        )
    path.write_text(HEADER + "".join(lines) + "#close\t2024-01-01-01-00-00\n")
    return hits


def scan(
    paths: list[str], index: IndicatorIndex, parts: int, workers: int, min_split: int = 4096
) -> tuple[pa.Table, ScanReport]:
    tasks, errors = plan_tasks(paths, parts=parts, min_split=min_split)
    found: list[pa.Table] = []
    report = run_scan(
        tasks,
        index,
        DEFAULT_INTERNAL,
        workers=workers,
        on_hits=found.append,
        report=ScanReport(errors=errors),
    )
    table = pa.concat_tables(found) if found else None
    assert table is not None
    return table, report


def test_byte_ranges_give_exactly_the_hits_of_one_pass(
    tmp_path: Path, index: IndicatorIndex
) -> None:
    path = tmp_path / "dns.log"
    planted = make_dns_log(path, 3000)
    tasks, _ = plan_tasks([str(path)], parts=5, min_split=4096)
    assert len(tasks) == 5 and all(t.is_range for t in tasks)
    whole, whole_report = scan([str(path)], index, parts=1, workers=1)
    cut, cut_report = scan([str(path)], index, parts=5, workers=1)
    assert cut.equals(whole)
    assert {line: kind for line, kind in planted.items()}.keys() == set(
        whole.column("line").to_pylist()
    )
    for report in (whole_report, cut_report):
        stats = report.files[str(path)]
        assert stats.records == 3000 - stats.skipped["wrong-field-count"]
        assert stats.skipped["wrong-field-count"] > 0
    assert whole_report.files[str(path)].skipped == cut_report.files[str(path)].skipped
    assert whole_report.files[str(path)].examples == cut_report.files[str(path)].examples


def test_hits_name_the_client_and_the_indicator(tmp_path: Path, index: IndicatorIndex) -> None:
    path = tmp_path / "dns.log"
    planted = make_dns_log(path, 500)
    (task,) = plan_tasks([str(path)])[0]
    result = scan_task(task, index, DEFAULT_INTERNAL, match_batch)
    assert set(result.hits.column("line").to_pylist()) == set(planted)
    by_line = {row["line"]: row for row in result.hits.to_pylist()}
    for line, kind in planted.items():
        hit = by_line[line]
        assert hit["suspect"].startswith("10.0.")
        assert hit["file"] == str(path) and hit["log_type"] == "dns"
        expected = {"host": "evil.example", "answer": "203.0.113.66", "cidr": "198.51.100.0/28"}
        assert hit["indicator"] == expected[kind]
    assert result.stats.bytes_read == path.stat().st_size


@pytest.mark.slow
def test_worker_processes_match_one_process(
    tmp_path: Path, index: IndicatorIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(engine_local, "INLINE_BYTES", 0)  # worker processes even for this
    big = tmp_path / "big.log"
    make_dns_log(big, 4000, seed=1)
    small = tmp_path / "small.log.gz"
    plain = tmp_path / "small.log"
    make_dns_log(plain, 300, seed=2)
    small.write_bytes(gzip.compress(plain.read_bytes()))
    plain.unlink()
    paths = [str(big), str(small)]
    one, one_report = scan(paths, index, parts=1, workers=1)
    many, many_report = scan(paths, index, parts=3, workers=2)
    assert many.equals(one)
    assert one_report.records == many_report.records
    assert one_report.hits == many_report.hits == one.num_rows
    assert list(many_report.files) == paths


def test_a_damaged_file_is_an_error_but_keeps_its_hits(
    tmp_path: Path, index: IndicatorIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(zeek_tsv, "BLOCK_SIZE", 64 << 10)  # several blocks before the damage
    good = tmp_path / "a.log"
    make_dns_log(good, 300)
    cut = tmp_path / "b.log.gz"
    source = tmp_path / "b.src"
    planted = make_dns_log(source, 20000, seed=3)
    data = gzip.compress(source.read_bytes())
    cut.write_bytes(data[: len(data) * 2 // 3])
    hits, report = scan([str(good), str(cut)], index, parts=1, workers=1)
    (error,) = report.errors
    assert error.path == str(cut) and "stopped reading after" in error.message
    from_cut = [h for h in hits.to_pylist() if h["file"] == str(cut)]
    assert from_cut and {h["line"] for h in from_cut} <= set(planted)
    assert report.files[str(good)].records > 0


def test_plan_reports_unreadable_files_and_honours_format(tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("hello\n")
    log = tmp_path / "dns.log"
    make_dns_log(log, 10)
    tasks, errors = plan_tasks([str(notes), str(log)])
    assert [t.path for t in tasks] == [str(log)] and tasks[0].format == "zeek-tsv"
    assert errors[0].path == str(notes) and "unrecognised" in errors[0].message
    tasks, errors = plan_tasks([str(log)], fmt="no-such-format")
    assert not tasks and "unknown log format" in errors[0].message


def test_summary_folds_batches_of_hits() -> None:
    from datetime import UTC, datetime

    from lamsach.matching.hits import HIT_SCHEMA
    from lamsach.matching.summary import NO_SUSPECT, HitSummary, family_of, listed

    def hit(suspect: str | None, minute: int, indicator: str, kind: str, tags: list[str]) -> dict:
        return {
            **{name: None for name in HIT_SCHEMA.names},
            "time": datetime(2025, 1, 1, 8, minute, tzinfo=UTC),
            "suspect": suspect,
            "indicator": indicator,
            "indicator_type": kind,
            "sources": ["cert"],
            "tags": tags,
        }

    summary = HitSummary()
    summary.add(
        pa.Table.from_pylist(
            [
                hit("10.0.0.1", 30, "evil.example", "domain", ["family:emotet"]),
                hit("10.0.0.2", 5, "203.0.113.66", "ipv4", []),
            ],
            schema=HIT_SCHEMA,
        )
    )
    summary.add(
        pa.Table.from_pylist(
            [
                hit("10.0.0.1", 10, "bad.example", "domain", ["malware:Qakbot", "botnet"]),
                hit("10.0.0.1", 50, "evil.example", "domain", ["family:emotet"]),
                hit(None, 1, "203.0.113.66", "ipv4", []),
            ],
            schema=HIT_SCHEMA,
        )
    )
    assert summary.total == 5
    assert summary.by_type == {"domain": 3, "ipv4": 2}
    first = summary.ranked()[0]
    assert first.host == "10.0.0.1" and first.hits == 3
    assert (first.first_seen.minute, first.last_seen.minute) == (10, 50)
    assert listed(first.indicators) == "bad.example, evil.example"
    assert set(first.families) == {"emotet", "Qakbot", "botnet"}
    assert NO_SUSPECT in summary.suspects
    assert family_of("Family:Emotet") == "Emotet" and family_of("trojan") == "trojan"
    assert listed(first.indicators, limit=1) == "bad.example +1 more"


def test_json_lines_logs_are_cut_too(tmp_path: Path, index: IndicatorIndex) -> None:
    import json

    path = tmp_path / "dns.json"
    lines = []
    planted = set()
    for i in range(3000):
        query = f"a{i}.evil.example" if i % 50 == 7 else f"h{i}.benign.example"
        record = {
            "ts": 1700000000 + i,
            "uid": f"C{i}",
            "id.orig_h": f"10.0.{i % 200}.{i % 250 + 1}",
            "id.orig_p": 40000 + i % 2000,
            "id.resp_h": "10.0.0.53",
            "id.resp_p": 53,
            "proto": "udp",
            "query": query,
        }
        lines.append("{not json at all" if i % 97 == 3 else json.dumps(record))
        if i % 50 == 7 and i % 97 != 3:
            planted.add(i + 1)
    path.write_text("\n".join(lines) + "\n")
    tasks, _ = plan_tasks([str(path)], parts=4, min_split=4096)
    assert tasks[0].format == "zeek-json" and len(tasks) == 4 and tasks[0].header is None
    whole, whole_report = scan([str(path)], index, parts=1, workers=1)
    cut, cut_report = scan([str(path)], index, parts=4, workers=1)
    assert cut.equals(whole)
    assert set(whole.column("line").to_pylist()) == planted
    stats_whole, stats_cut = whole_report.files[str(path)], cut_report.files[str(path)]
    assert stats_cut.records == stats_whole.records == 3000 - stats_whole.skipped_total
    assert stats_cut.skipped == stats_whole.skipped and stats_whole.skipped_total == 31
    assert stats_cut.examples == stats_whole.examples


def test_the_parent_loads_the_index_while_its_workers_start(
    tmp_path: Path, index: IndicatorIndex
) -> None:
    from lamsach.matching.index_file import read_index_blobs, write_index_file

    path = tmp_path / "good.lsidx"
    index.save(path)
    wanted = engine_local._IndexOnDemand(None, path)
    wanted.load_meanwhile(None)
    wanted.settle()
    assert wanted.index is not None  # loaded by the thread, before anyone asked
    assert wanted.get() is wanted.index
    # A damaged index fails in the thread quietly, and loudly when the scan asks for it.
    header, tables, raw = read_index_blobs(path)
    damaged = {name: table.slice(0, 1) for name, table in tables.items()}
    bad = tmp_path / "bad.lsidx"
    write_index_file(bad, header, damaged, raw)
    failing = engine_local._IndexOnDemand(None, bad)
    failing.load_meanwhile(None)
    failing.settle()
    assert failing.index is None
    with pytest.raises(IndexFileError):
        failing.get()


SHIPPED = Path(__file__).resolve().parents[1] / "logs" / "data"
# A shipped sample of each format whose lines read alone (Zeek TSV has its own tests above).
LINE_SAMPLES = {
    "bind": "a_bind_queries.log",
    "squid": "a_squid_native.log",
    "filterlog": "b_filterlog.log",
    "iptables": "b_iptables.log",
    "fortigate": "b_fortigate.log",
    "panos": "b_panos.log",
    "cisco-asa": "b_cisco_asa.log",
    "zeek-json": "a_zeek_mixed.json.log",
    "suricata-eve": "a_suricata_eve.json",
    "windows-dns": "a_windns_vi.log",  # its date order read off the whole file first
}


def test_every_splittable_format_has_a_sample_here() -> None:
    from lamsach.logs.formats import all_formats

    assert {fmt.name for fmt in all_formats() if fmt.splittable} == set(LINE_SAMPLES)


@pytest.mark.parametrize("name", sorted(LINE_SAMPLES))
def test_line_formats_cut_into_ranges_read_as_one_pass(tmp_path: Path, name: str) -> None:
    from lamsach.logs.reader import read_log

    sample = (SHIPPED / LINE_SAMPLES[name]).read_text(encoding="utf-8")
    body = sample.removeprefix("\ufeff").rstrip("\n").split("\n")
    # The sample many times over, with unreadable and blank lines between copies, so that the
    # cuts fall inside records of every kind and the skipped lines' examples span ranges.
    copies = [*body, "garbage that no format reads", ""]
    path = tmp_path / f"big-{name}.log"
    path.write_text("\n".join(copies * 60) + "\n", encoding="utf-8")
    assert path.stat().st_size > 8 * 4096
    rows = pa.Table.from_batches(list(read_log(str(path), fmt=name)))
    # Every name and address read is listed: every record with one is a hit, and the hits
    # compare the records themselves (client, time, line) between the two readings.
    hosts = {h for h in rows.column("host").to_pylist() if h}
    answers = [a for answer in rows.column("answers").to_pylist() for a in answer or ()]
    addresses = {*rows.column("src_ip").to_pylist(), *rows.column("dst_ip").to_pylist(), *answers}
    listed = [Indicator(IndicatorType.DOMAIN, h, {"t"}) for h in sorted(hosts)]
    listed += [Indicator(IndicatorType.IPV4, a, {"t"}) for a in addresses if a and "." in a]
    assert listed, f"the {name} sample gives nothing to list"
    index = IndicatorIndex.build(listed)
    whole, whole_report = scan([str(path)], index, parts=1, workers=1)
    assert whole.num_rows > 0
    stats_whole = whole_report.files[str(path)]
    assert stats_whole.records == rows.num_rows and stats_whole.skipped_total >= 60
    for parts in (3, 8, 13):  # cuts at many places in the sample
        tasks, _ = plan_tasks([str(path)], parts=parts, min_split=1024)
        assert [t.format for t in tasks] == [name] * parts and all(t.is_range for t in tasks)
        cut, cut_report = scan([str(path)], index, parts=parts, workers=1, min_split=1024)
        assert cut.equals(whole), f"{parts} ranges"
        stats_cut = cut_report.files[str(path)]
        assert stats_cut.records == stats_whole.records
        assert stats_cut.skipped == stats_whole.skipped
        assert stats_cut.examples == stats_whole.examples


@pytest.mark.parametrize(("name", "sample"), [("dnsmasq", "a_dnsmasq_pihole.log")])
def test_formats_whose_lines_depend_on_each_other_are_read_whole(
    tmp_path: Path, name: str, sample: str
) -> None:
    path = tmp_path / f"big-{name}.log"
    text = (SHIPPED / sample).read_text(encoding="utf-8")
    path.write_text(text * (8 * 4096 // len(text) + 1), encoding="utf-8")
    tasks, _ = plan_tasks([str(path)], parts=4, min_split=4096)
    assert len(tasks) == 1 and not tasks[0].is_range and tasks[0].format == name


def test_a_folder_of_many_small_logs_is_shared_among_workers(tmp_path: Path) -> None:
    # Each file has a fixed cost (about 10 ms) that bytes alone do not show.
    few, many = [], []
    for i in range(100):
        path = tmp_path / f"dns-{i:03d}.log"
        make_dns_log(path, 5, seed=i)
        (few if i < 3 else many).append(str(path))
    small = sum(Path(p).stat().st_size for p in few + many)
    assert small < engine_local.INLINE_BYTES // 100
    assert engine_local._work_bytes(plan_tasks(few)[0]) < engine_local.INLINE_BYTES
    assert engine_local._work_bytes(plan_tasks(few + many)[0]) >= engine_local.INLINE_BYTES


def test_windows_dns_dates_follow_the_whole_file_however_it_is_cut(
    tmp_path: Path, index: IndicatorIndex
) -> None:
    # A month-first server with a 24-hour clock: nothing tells the order until 13 January.
    packet = (
        "{d} 10:00:{s:02d} 0E70 PACKET  00000000033397A0 UDP Rcv 10.0.0.{h}    5b47   Q "
        "[0001   D   NOERROR] A      (1)a(4)evil(7)example(0)\n"
    )
    days = [f"1/{1 + n // 400}/2024" for n in range(6000)]  # 1/13/2024 from line 4801
    lines = [packet.format(d=day, s=n % 60, h=n % 250 + 1) for n, day in enumerate(days)]
    path = tmp_path / "dns.log"
    path.write_text("".join(lines))
    tasks, _ = plan_tasks([str(path)], parts=4, min_split=4096)
    assert len(tasks) == 4 and all(t.options == {"date_order": "mdy"} for t in tasks)
    whole, _ = scan([str(path)], index, parts=1, workers=1)
    cut, _ = scan([str(path)], index, parts=4, workers=1)
    assert cut.equals(whole) and whole.num_rows == 6000
    # Lines long before 13 January are read month first too: 1/6/2024 is 6 January, not 1 June.
    times = whole.sort_by("line").column("time").to_pylist()
    assert (times[0].month, times[0].day) == (1, 1)
    assert (times[5 * 400].month, times[5 * 400].day) == (1, 6)
