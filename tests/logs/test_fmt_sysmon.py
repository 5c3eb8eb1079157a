"""Sysmon events 3 and 22: Event XML, JSON exports and EVTX files, made up and real.

No EVTX sample can be shipped: the tests write small valid EVTX files (``evtx_files``).
"""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lamsach.logs.formats import ReadContext, ReadStats
from lamsach.logs.formats.sysmon import COLUMNS, FORMATS, dns_answers
from lamsach.logs.reader import detect_format, read_log
from lamsach.logs.schema import LOG_SCHEMA

from .conftest import check_claims_no_other_sample
from .evtx_files import Event, evtx_bytes, rows_by_python_evtx

DATA = Path(__file__).parent / "data"
TEXT_FORMAT, EVTX_FORMAT = FORMATS

# ---- tests ----


def read_table(path: Path, fmt: str | None = None) -> tuple[pa.Table, ReadStats]:
    stats = ReadStats(file=str(path))
    batches = list(read_log(str(path), fmt=fmt, stats=stats, batch_size=2))
    table = (
        pa.Table.from_batches(batches) if batches else pa.table({"line": pa.array([], pa.int64())})
    )
    return table, stats


CONN = [
    ("RuleName", "-"),
    ("UtcTime", "2024-03-05 08:20:01.120"),
    ("Protocol", "tcp"),
    ("SourceIp", "10.20.1.15"),
    ("SourcePort", "49822"),
    ("DestinationIp", "203.0.113.66"),
    ("DestinationHostname", "evil.example.com"),
    ("DestinationPort", "443"),
]
DNS = [
    ("UtcTime", "2024-03-05 08:20:02.000"),
    ("QueryName", "C2.Evil.Example"),
    ("QueryStatus", "0"),
    ("QueryResults", "type:  5 cdn.example;::ffff:192.0.2.44;2001:db8::44;"),
]


def _events() -> list[Event]:
    stamp = datetime(2024, 3, 5, 8, 20, 1, tzinfo=UTC)
    return [
        Event(3, 11, stamp, CONN),
        Event(22, 12, stamp, DNS),
        Event(1, 13, stamp, [("Image", "C:\\Windows\\System32\\cmd.exe")]),
        Event(3, 14, stamp, CONN, provider="Microsoft-Windows-Security-Auditing"),
        # no UtcTime: the record's TimeCreated (a FILETIME) gives the time
        Event(3, 15, datetime(2024, 3, 5, 8, 20, 9, 250000, tzinfo=UTC), CONN[2:]),
    ]


def test_evtx_file(tmp_path: Path) -> None:
    path = tmp_path / "Sysmon.evtx"
    path.write_bytes(
        evtx_bytes([_events(), [Event(22, 16, datetime(2024, 3, 6, tzinfo=UTC), DNS)]], 2)
    )
    assert detect_format(str(path)).name == "sysmon-evtx"
    table, stats = read_table(path)
    rows = table.to_pylist()
    assert [r["line"] for r in rows] == [11, 12, 15, 16]  # EVTX record ids
    conn = rows[0]
    assert conn["time"] == datetime(2024, 3, 5, 8, 20, 1, 120000, tzinfo=UTC)
    assert (conn["src_ip"], conn["src_port"], conn["dst_ip"], conn["dst_port"], conn["proto"]) == (
        "10.20.1.15",
        49822,
        "203.0.113.66",
        443,
        "tcp",
    )
    assert conn["host"] is None  # never the reverse-DNS DestinationHostname
    dns = rows[1]
    assert (dns["host"], dns["answers"], dns["src_ip"], dns["log_type"]) == (
        "c2.evil.example",
        ["192.0.2.44", "2001:db8::44"],
        None,
        "dns",
    )
    assert (
        abs(rows[2]["time"] - datetime(2024, 3, 5, 8, 20, 9, 250000, tzinfo=UTC)).total_seconds()
        < 1e-3
    )
    assert stats.skipped == {"ignored: not a network event": 1, "ignored: not Sysmon": 1}
    assert stats.examples == {"ignored: not a network event": [13], "ignored: not Sysmon": [14]}


def test_damaged_evtx_files(tmp_path: Path) -> None:
    good = evtx_bytes([_events()])
    truncated = tmp_path / "truncated.evtx"
    truncated.write_bytes(good[: 0x1000 + 0x8000])
    table, stats = read_table(truncated, fmt="sysmon-evtx")
    assert table.num_rows == 0 and stats.skipped == {"truncated EVTX chunk": 1}
    # A chunk whose magic is gone is skipped whole; the next chunk is still read.
    second = evtx_bytes([_events(), [Event(22, 20, datetime(2024, 3, 6, tzinfo=UTC), DNS)]])
    broken = bytearray(second)
    broken[0x1000 : 0x1000 + 8] = b"XXXXXXXX"
    path = tmp_path / "broken.evtx"
    path.write_bytes(bytes(broken))
    table, stats = read_table(path)
    assert table.column("line").to_pylist() == [20]
    assert stats.skipped == {"bad EVTX chunk": 1}
    not_evtx = tmp_path / "other.bin"
    not_evtx.write_bytes(b"\x00" * 5000)
    table, stats = read_table(not_evtx, fmt="sysmon-evtx")
    assert table.num_rows == 0 and stats.skipped == {"not an EVTX file": 1}


def test_event_xml_one_per_line() -> None:
    path = DATA / "b_sysmon_lines.xml"
    assert detect_format(str(path)).name == "sysmon"
    table, stats = read_table(path)
    rows = table.to_pylist()
    assert [r["line"] for r in rows] == [1, 2, 7]
    conn = rows[0]
    assert conn["time"] == datetime(2024, 3, 5, 8, 21, 1, 250000, tzinfo=UTC)
    assert (conn["src_ip"], conn["dst_ip"], conn["dst_port"], conn["host"]) == (
        "10.20.1.15",
        "203.0.113.66",
        443,
        None,
    )
    dns = rows[1]
    assert dns["host"] == "c2.evil.example"
    assert dns["answers"] == ["192.0.2.44", "192.0.2.45", "2001:db8::44"]
    assert rows[2]["proto"] == "udp" and rows[2]["dst_port"] == 53  # CRLF line
    assert stats.skipped == {
        "ignored: not a network event": 1,
        "bad event XML": 1,
        "bad network event": 1,
        "ignored: not Sysmon": 1,
    }
    assert stats.examples["bad event XML"] == [4]


def test_event_viewer_pretty_xml() -> None:
    path = DATA / "b_sysmon_pretty.xml"
    assert detect_format(str(path)).name == "sysmon"
    table, stats = read_table(path)
    rows = table.to_pylist()
    assert [r["line"] for r in rows] == [3, 24]
    assert (rows[0]["src_ip"], rows[0]["dst_ip"], rows[0]["host"]) == (
        "fd00:20::15",
        "2001:db8::beef",
        None,
    )
    assert rows[1]["host"] == "nx.evil.example" and rows[1]["answers"] is None
    assert stats.skipped_total == 0


def test_events_run_together_on_one_line(tmp_path: Path) -> None:
    # wevtutil qe /f:xml writes the events back to back without line breaks.
    events = [line for line in (DATA / "b_sysmon_lines.xml").read_text().splitlines() if line]
    path = tmp_path / "wevtutil.xml"
    path.write_text("".join(events[:2]) + "\n")
    table, _ = read_table(path, fmt="sysmon")
    assert table.column("line").to_pylist() == [1, 1]
    assert table.column("log_type").to_pylist() == ["conn", "dns"]


def test_get_winevent_json() -> None:
    path = DATA / "b_sysmon_getwinevent.json"
    assert detect_format(str(path)).name == "sysmon"
    table, stats = read_table(path)
    rows = table.to_pylist()
    assert len(rows) == 2
    conn, dns = rows
    assert (conn["src_ip"], conn["dst_ip"], conn["dst_port"], conn["host"]) == (
        "10.20.1.17",
        "198.51.100.80",
        80,
        None,
    )
    assert conn["time"] == datetime(2024, 3, 5, 8, 23, 1, tzinfo=UTC)
    assert (dns["host"], dns["answers"]) == ("update.evil.example", ["198.51.100.80"])
    assert conn["line"] == 2 and dns["line"] > conn["line"]
    assert stats.skipped == {"ignored: not a network event": 1}


def test_winlogbeat_ndjson() -> None:
    path = DATA / "b_sysmon_winlogbeat.ndjson"
    assert detect_format(str(path)).name == "sysmon"
    table, stats = read_table(path)
    rows = table.to_pylist()
    assert [r["line"] for r in rows] == [1, 2, 5]
    # The client of a DNS query is the machine itself: winlogbeat's host.ip (IPv4 preferred).
    assert (rows[0]["src_ip"], rows[0]["host"], rows[0]["answers"]) == (
        "10.20.1.30",
        "beacon.evil.example",
        ["192.0.2.77"],
    )
    assert rows[1]["dst_ip"] == "192.0.2.77" and rows[1]["host"] is None
    assert rows[2]["src_ip"] is None  # no host.ip in the export
    assert stats.skipped == {"bad JSON line": 1, "ignored: not a network event": 1}


@pytest.mark.parametrize(
    ("results", "answers"),
    [
        ("type:  5 a.example;::ffff:1.2.3.4;", ["1.2.3.4"]),
        ("-", None),
        ("", None),
        ("1.2.3.4;1.2.3.4;fe80::1;junk;", ["1.2.3.4", "fe80::1"]),
    ],
)
def test_dns_answers(results: str, answers: list[str] | None) -> None:
    assert dns_answers(results) == answers


@pytest.mark.shared_data
def test_real_sysmon_event22_sample(shared_data: Path) -> None:
    path = shared_data / "logs/sysmon/elastic-test-sysmon-event22-raw.xml"
    assert detect_format(str(path)).name == "sysmon"
    table, stats = read_table(path)
    assert table.num_rows == 7
    assert stats.skipped == {"ignored: not a network event": 2}
    rows = table.to_pylist()
    assert rows[0]["host"] == "go.microsoft.com" and rows[0]["answers"] == ["89.160.20.156"]
    assert rows[0]["time"] == datetime(2019, 7, 18, 3, 34, 1, 239000, tzinfo=UTC)
    onevideo = rows[5]
    assert onevideo["host"] == "onevideosync.uplynk.com"
    assert onevideo["answers"] == [
        "89.160.20.156",
        "192.168.6.30",
        "2a02:cf40:a83e::2:30",
        "192.168.14.30",
    ]
    assert set(table.column("log_type").to_pylist()) == {"dns"}
    assert table.column("src_ip").null_count == 7


@pytest.mark.shared_data
def test_real_sysmon_event3_sample(shared_data: Path) -> None:
    path = shared_data / "logs/sysmon/ossem-sysmon-event3-example.xml"
    assert detect_format(str(path)).name == "sysmon"
    table, stats = read_table(path)
    assert stats.skipped_total == 0
    (row,) = table.to_pylist()
    assert (row["src_ip"], row["src_port"], row["dst_ip"], row["dst_port"], row["proto"]) == (
        "192.168.64.137",
        49767,
        "192.168.64.178",
        88,
        "tcp",
    )
    assert row["host"] is None  # DestinationHostname DC-WD-001 is not a queried name
    assert row["time"] == datetime(2019, 4, 27, 0, 10, 31, 843000, tzinfo=UTC)
    assert row["line"] == 1


@pytest.mark.shared_data
def test_sysmon_claims_no_other_real_sample(shared_data: Path) -> None:
    check_claims_no_other_sample(TEXT_FORMAT, shared_data, "sysmon")


def test_json_export_of_message_only(tmp_path: Path) -> None:
    # Get-WinEvent ... | Select-Object TimeCreated, Id, Message | ConvertTo-Json -Compress
    events = [
        {
            "TimeCreated": "/Date(1709626981000)/",
            "Id": 22,
            "Message": "Dns query:\r\nRuleName: -\r\nUtcTime: 2024-03-05 08:23:01.000\r\n"
            "QueryName: x.evil.example\r\nQueryStatus: 0\r\nQueryResults: ::ffff:192.0.2.9;",
        },
        {"TimeCreated": "/Date(1709626982000)/", "Id": 11, "Message": "File created:\r\nx: y"},
    ]
    path = tmp_path / "dns.json"
    path.write_text(json.dumps(events) + "\n")
    assert detect_format(str(path)).name == "sysmon"
    table, stats = read_table(path)
    assert table.column("host").to_pylist() == ["x.evil.example"]
    assert table.column("answers").to_pylist() == [["192.0.2.9"]]
    assert stats.skipped == {"ignored: not a network event": 1}


def test_compressed_evtx(tmp_path: Path) -> None:
    import zstandard

    path = tmp_path / "Sysmon.evtx.zst"
    path.write_bytes(zstandard.ZstdCompressor().compress(evtx_bytes([_events()])))
    assert detect_format(str(path)).name == "sysmon-evtx"
    table, _ = read_table(path)
    assert table.column("line").to_pylist() == [11, 12, 15]


def test_reverse_dns_name_never_matches_a_domain(tmp_path: Path) -> None:
    from lamsach.indicators.model import Indicator, IndicatorType
    from lamsach.matching.index import IndicatorIndex
    from lamsach.matching.kernel import match_batch

    path = tmp_path / "Sysmon.evtx"
    path.write_bytes(evtx_bytes([_events()]))
    index = IndicatorIndex.build(
        [
            Indicator(IndicatorType.DOMAIN, "evil.example.com"),  # only a DestinationHostname
            Indicator(IndicatorType.DOMAIN, "evil.example"),  # the parent of a QueryName
            Indicator(IndicatorType.IPV4, "192.0.2.44"),  # an answer
        ]
    )
    hits = pa.concat_tables(match_batch(batch, index) for batch in read_log(str(path))).to_pylist()
    found = sorted((hit["indicator"], hit["observed"], hit["field"], hit["line"]) for hit in hits)
    assert found == [
        ("192.0.2.44", "192.0.2.44", "answers", 12),
        ("evil.example", "c2.evil.example", "host", 12),
    ]


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_damaged_evtx_never_raises(data: st.DataObject) -> None:
    raw = bytearray(evtx_bytes([_events()]))
    for _ in range(data.draw(st.integers(1, 8))):
        at = data.draw(st.integers(0x1000, 0x1000 + 0x200 + 3000))
        raw[at] = data.draw(st.integers(0, 255))
    stats = ReadStats(file="fuzz.evtx")
    ctx = ReadContext(file="fuzz.evtx", stats=stats, batch_size=2)
    batches = list(EVTX_FORMAT.read(io.BytesIO(bytes(raw)), ctx))
    assert all(batch.schema == LOG_SCHEMA for batch in batches)
    assert sum(batch.num_rows for batch in batches) <= 3


@settings(max_examples=100, deadline=None)
@given(data=st.data())
def test_damaged_text_exports_never_raise(data: st.DataObject) -> None:
    name = data.draw(st.sampled_from(sorted(p.name for p in DATA.glob("b_sysmon_*"))))
    text = (DATA / name).read_text()
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, len(text)))
        cut = data.draw(st.integers(0, 40))
        junk = data.draw(st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=8))
        text = text[:at] + junk + text[at + cut :]
    stats = ReadStats(file=name)
    ctx = ReadContext(file=name, stats=stats, batch_size=2)
    batches = list(TEXT_FORMAT.read(io.StringIO(text), ctx))
    assert all(batch.schema == LOG_SCHEMA for batch in batches)


def test_damaged_object_in_pretty_json_costs_only_itself(tmp_path: Path) -> None:
    lines = (DATA / "b_sysmon_getwinevent.json").read_text().splitlines()
    second = next(i for i, line in enumerate(lines) if '"Id": 22' in line)
    lines[second] = '        "Id": 22 BROKEN'
    path = tmp_path / "events.json"
    path.write_text("\n".join(lines) + "\n")
    table, stats = read_table(path)
    assert table.column("log_type").to_pylist() == ["conn"]
    assert stats.skipped == {"bad JSON": 1, "ignored: not a network event": 1}
    # and one object opened on the array's own line
    path.write_text(
        '[{\n  "Id": 22, "ProviderName": "Microsoft-Windows-Sysmon",\n'
        '  "Message": "Dns query:\\nQueryName: a.example"\n}]\n'
    )
    table, stats = read_table(path, fmt="sysmon")
    assert table.column("host").to_pylist() == ["a.example"] and stats.skipped_total == 0


def test_evtx_reader_agrees_with_python_evtx(tmp_path: Path) -> None:
    stamp = datetime(2024, 3, 5, 8, 20, 1, 654321, tzinfo=UTC)
    events = []
    for n in range(24):  # shared templates: one per shape and chunk, as Windows writes them
        if n % 3 == 0:  # ports typed UInt16, as Sysmon writes them
            data = [(k, int(v) if k.endswith("Port") else v.replace("10.20.1.15", f"10.20.1.{n}"))
                    for k, v in CONN]  # fmt: skip
        elif n % 3 == 1:
            data = [*DNS[:1], ("QueryName", f"h{n}.evil.example"), *DNS[2:]]
        else:  # no UtcTime: the time comes from the record's TimeCreated
            data = [("Protocol", "udp"), ("SourceIp", "fe80::1"), ("DestinationIp", "ff02::fb")]
        events.append(Event(3 if n % 3 != 1 else 22, 100 + n, stamp, data, computer=f"PC-{n}-ü"))
    path = tmp_path / "shared.evtx"
    path.write_bytes(evtx_bytes([events[:12], events[12:]]))
    table, stats = read_table(path)
    theirs = rows_by_python_evtx(path)
    assert table.num_rows == len(theirs) == 24 and stats.skipped == {}
    fields = [c for c in COLUMNS if c != "time"]
    assert table.select(fields).to_pylist() == [{k: r[k] for k in fields} for r in theirs]
    # python-evtx converts FILETIME through a float: its times may be a microsecond off.
    times = table.column("time").cast(pa.int64()).to_pylist()
    assert all(abs(a - b["time"]) <= 5 for a, b in zip(times, theirs, strict=True))
    assert table.column("time").to_pylist()[2] == stamp


def test_elastic_documents_with_ecs_fields(tmp_path: Path) -> None:
    # Documents exported from Elasticsearch: the Sysmon pipeline moved EventData to ECS fields.
    base = {"winlog": {"provider_name": "Microsoft-Windows-Sysmon", "event_data": {}}}
    conn = json.loads(json.dumps(base))
    conn["winlog"]["event_id"] = 3
    conn |= {
        "@timestamp": "2024-03-05T08:24:02.000Z",
        "source": {"ip": "10.20.1.30", "port": 50000},
        "destination": {"ip": "192.0.2.77", "port": 8080, "domain": "reverse.evil.example"},
        "network": {"transport": "tcp"},
    }
    dns = json.loads(json.dumps(base))
    dns["winlog"]["event_id"] = "22"
    dns |= {
        "@timestamp": "2024-03-05T08:24:01.000Z",
        "dns": {"question": {"name": "beacon.evil.example"}, "resolved_ip": ["192.0.2.77"]},
        "host": {"ip": ["10.20.1.30"]},
    }
    path = tmp_path / "elastic.ndjson"
    path.write_text(json.dumps(conn) + "\n" + json.dumps(dns) + "\n")
    assert detect_format(str(path)).name == "sysmon"
    table, stats = read_table(path)
    first, second = table.to_pylist()
    assert (first["src_ip"], first["src_port"], first["dst_ip"], first["dst_port"]) == (
        "10.20.1.30",
        50000,
        "192.0.2.77",
        8080,
    )
    assert first["proto"] == "tcp" and first["host"] is None  # not destination.domain
    assert first["time"] == datetime(2024, 3, 5, 8, 24, 2, tzinfo=UTC)
    assert (second["host"], second["answers"], second["src_ip"]) == (
        "beacon.evil.example",
        ["192.0.2.77"],
        "10.20.1.30",
    )
    assert stats.skipped_total == 0
