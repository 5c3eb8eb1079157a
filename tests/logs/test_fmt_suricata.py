"""Suricata EVE JSON: made-up events of every EVE dns version and the real Elastic samples."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from lamsach.logs.formats import ReadContext, ReadStats, get_format, suricata
from lamsach.logs.formats._columnar import chunks
from lamsach.logs.formats._suricata_fast import fast_batch
from lamsach.logs.reader import detect_format, read_log
from lamsach.logs.schema import LOG_SCHEMA

DATA = Path(__file__).parent / "data"


def read_rows(path: Path, fmt: str | None = None) -> tuple[dict[int, dict[str, Any]], ReadStats]:
    stats = ReadStats(file=str(path))
    batches = list(read_log(str(path), fmt, batch_size=5, stats=stats))
    table = pa.Table.from_batches(batches, schema=LOG_SCHEMA)
    return {row["line"]: row for row in table.to_pylist()}, stats


def test_eve_events_map_to_canonical_columns() -> None:
    path = DATA / "a_suricata_eve.json"
    assert detect_format(str(path)).name == "suricata-eve"
    rows, stats = read_rows(path)
    assert sorted(rows) == [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 16]

    query = rows[1]
    assert query["time"] == datetime(2024, 3, 1, 3, 0, tzinfo=UTC)  # +0700 taken into account
    assert (query["src_ip"], query["src_port"], query["dst_ip"], query["dst_port"]) == (
        "10.2.0.5",
        40001,
        "10.2.0.1",
        53,
    )
    assert (query["proto"], query["host"], query["answers"]) == ("udp", "query.example.com", None)

    # A version 1 answer runs server -> client; the client must end up as src_ip.
    answer = rows[2]
    assert (answer["src_ip"], answer["src_port"], answer["dst_ip"], answer["dst_port"]) == (
        "10.2.0.5",
        40001,
        "10.2.0.1",
        53,
    )
    assert answer["answers"] == ["192.0.2.10"]
    assert rows[3]["answers"] == ["192.0.2.20", "2001:db8::20"]  # detailed v2, CNAME dropped
    assert rows[4]["answers"] == ["192.0.2.30", "192.0.2.31"]  # grouped v2
    assert (rows[5]["host"], rows[5]["answers"]) == ("v3.example.com", ["192.0.2.40"])

    http = rows[6]
    assert (http["host"], http["url"], http["bytes"], http["log_type"]) == (
        "web.example.com",
        "http://web.example.com:8080/download/file.exe",
        1234,
        "http",
    )
    assert rows[7]["url"] == "http://proxied.example.com/a?b=c"

    tls = rows[8]
    assert (tls["host"], tls["hashes"]) == (
        "secure.example.com",
        ["aabbccddeeff00112233445566778899aabbccdd"],
    )
    fileinfo = rows[9]
    assert fileinfo["hashes"] == ["0123456789abcdef0123456789abcdef", "ab" * 32]
    assert (fileinfo["host"], fileinfo["bytes"]) == ("files.example.com", 2048)

    alert = rows[10]
    assert (alert["host"], alert["action"], alert["bytes"], alert["log_type"]) == (
        "alerted.example.com",
        "blocked",
        70,
        "alert",
    )
    flow = rows[11]
    assert (flow["src_ip"], flow["dst_ip"], flow["bytes"]) == ("2001:db8::1", "2001:db8::2", 1000)
    assert rows[16]["log_type"] == "ssh"

    assert stats.skipped == {
        "ignored: stats event (not a network event)": 1,
        "ignored: engine event (not a network event)": 1,
        "not an EVE event (no event_type)": 1,
        "not valid JSON": 1,
    }
    assert stats.examples["not valid JSON"] == [15]


def test_eve_sniff() -> None:
    sniff = get_format("suricata-eve").sniff
    assert sniff(['{"timestamp":"2024-01-01T00:00:00Z","event_type":"stats","stats":{}}'])
    assert not sniff(['{"ts":1.0,"id.orig_h":"10.0.0.1"}'])
    assert not sniff(["Jan  1 00:00:00 host suricata: event_type timestamp"])


@pytest.mark.shared_data
def test_real_eve_small(shared_data: Path) -> None:
    path = shared_data / "logs" / "suricata" / "elastic-test-eve-small.json"
    assert detect_format(str(path)).name == "suricata-eve"
    rows, stats = read_rows(path)
    assert stats.records == 11
    assert stats.skipped == {"ignored: stats event (not a network event)": 1}
    assert (rows[2]["host"], rows[2]["action"], rows[2]["log_type"]) == (
        "l2.io",
        "allowed",
        "alert",
    )
    assert rows[3]["url"] == "http://192.168.86.28/dd.xml"  # \/-escaped in the file
    assert rows[4]["hashes"] == [
        "427b7337ff37eeb24d74f47d8e04cf21",
        "313573490192c685e9e53abef25453ed0d5e2aee",
        "f610428ebddf6f8cf9e39322e672583c45fcdcf885efad0ab48fd53a3dfc2c4b",
    ]
    dns = rows[5]
    assert (dns["src_ip"], dns["dst_ip"], dns["host"], dns["answers"]) == (
        "192.168.86.85",
        "192.168.86.1",
        "clients.l.google.com",
        ["175.16.199.1"],
    )
    assert dns["time"] == datetime(2018, 7, 5, 19, 51, 20, 213418, tzinfo=UTC)
    assert rows[7]["host"] == "p33-btmmdns.icloud.com"
    assert rows[8]["src_ip"] == "fe80::fada:cff:fedc:87f1"
    assert rows[9]["url"].startswith("http://ctldl.windowsupdate.com/msdownload/")
    assert rows[11]["url"] == "http://192.168.50.1:8081/uuid"
    assert rows[12]["host"] == "www.example.com"


@pytest.mark.shared_data
def test_real_eve_6(shared_data: Path) -> None:
    path = shared_data / "logs" / "suricata" / "elastic-test-eve-6-0.json"
    assert detect_format(str(path)).name == "suricata-eve"
    rows, stats = read_rows(path)
    assert stats.records == 3 and stats.skipped_total == 0
    assert (rows[1]["host"], rows[1]["url"]) == (
        "testmynids.org",
        "http://testmynids.org/uid/index.html",
    )
    assert rows[1]["time"] == datetime(2021, 1, 27, 0, 28, 11, 488362, tzinfo=UTC)
    assert (rows[3]["dst_ip"], rows[3]["bytes"], rows[3]["log_type"]) == (
        "81.2.69.192",
        4269 + 1091,
        "flow",
    )


@pytest.mark.shared_data
def test_eve_sniff_leaves_other_samples_alone(shared_data: Path) -> None:
    sniff = get_format("suricata-eve").sniff
    for path in sorted((shared_data / "logs").rglob("*")):
        if path.is_file() and path.suffix != ".md":
            head = [line for line in path.read_text(errors="replace").splitlines() if line.strip()]
            assert sniff(head[:20]) == (path.parent.name == "suricata"), path


def _both_ways(
    path: Path, chunk: int
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], ReadStats, ReadStats]:
    out = []
    for fast in (True, False):
        stats = ReadStats(file=str(path))
        ctx = ReadContext(file=str(path), stats=stats, batch_size=chunk)
        with path.open(encoding="utf-8") as stream:
            batches = list(suricata.read_lines(stream, ctx, fast=fast))
        out.append((pa.Table.from_batches(batches, schema=LOG_SCHEMA).to_pylist(), stats))
    return out[0][0], out[1][0], out[0][1], out[1][1]


def _generated_eve(path: Path) -> None:
    events = []
    for i in range(200):
        event: dict[str, Any] = {
            "timestamp": f"2024-03-01T03:00:{i % 60:02d}.{i:06d}+0700",
            "src_ip": f"10.9.{i % 5}.{i % 250 + 1}",
            "src_port": 40000 + i,
            "dest_ip": "2001:0db8:0000:0000:0000:0000:0000:0053" if i % 4 == 0 else "10.9.0.1",
            "dest_port": 53,
            "proto": "UDP",
        }
        kind = i % 6
        if kind == 0:
            answers = [{"rrname": "a", "rrtype": "CNAME", "rdata": "b.example"}]
            answers.append({"rrname": "b.example", "rrtype": "A", "rdata": f"192.0.2.{i % 250}"})
            event |= {
                "event_type": "dns",
                "dns": {"type": "answer", "rrname": f"Q{i}.Example.", "answers": answers},
            }
        elif kind == 1:
            event |= {"event_type": "dns", "src_port": 53, "dest_port": 41000}
            event["dns"] = {
                "type": "answer",
                "rrname": f"v1-{i}.example",
                "rrtype": "A",
                "rdata": "192.0.2.9",
            }
        elif kind == 2:
            http = {
                "hostname": f"H{i}.example.org",
                "url": f"/p/{i}",
                "http_port": 8080,
                "length": i,
            }
            event |= {"event_type": "http", "proto": "TCP", "http": http}
        elif kind == 3:
            event |= {
                "event_type": "tls",
                "tls": {"sni": f"s{i}.example.net.", "fingerprint": "AA:BB"},
            }
        elif kind == 4:
            flow = {"bytes_toserver": i, "bytes_toclient": 2 * i}
            event |= {"event_type": "alert", "alert": {"action": "blocked"}, "flow": flow}
        else:
            event = {"timestamp": event["timestamp"], "event_type": "stats", "stats": {"uptime": i}}
        events.append(json.dumps(event))
    path.write_text("\n".join(events) + "\n", encoding="utf-8")


def test_column_reader_equals_line_reader_on_generated_eve(tmp_path: Path) -> None:
    path = tmp_path / "eve.json"
    _generated_eve(path)
    with path.open(encoding="utf-8") as stream:
        lines = stream.readlines()
    assert fast_batch(lines[:50], 1, str(path), ReadStats(file=str(path))) is not None
    fast, slow, fast_stats, slow_stats = _both_ways(path, 50)
    assert len(fast) == 200 - 33
    assert fast == slow
    assert (
        fast_stats.skipped
        == slow_stats.skipped
        == {"ignored: stats event (not a network event)": 33}
    )
    assert fast_stats.examples == slow_stats.examples


@pytest.mark.parametrize("chunk", [3, 1000])
def test_column_reader_equals_line_reader_on_edge_cases(chunk: int) -> None:
    fast, slow, fast_stats, slow_stats = _both_ways(DATA / "a_suricata_eve.json", chunk)
    assert fast == slow
    assert fast_stats.skipped == slow_stats.skipped


@pytest.mark.shared_data
@pytest.mark.parametrize("chunk", [3, 1000])
@pytest.mark.parametrize("name", ["elastic-test-eve-small.json", "elastic-test-eve-6-0.json"])
def test_column_reader_equals_line_reader_on_real_eve(
    shared_data: Path, name: str, chunk: int
) -> None:
    fast, slow, fast_stats, slow_stats = _both_ways(shared_data / "logs" / "suricata" / name, chunk)
    assert fast == slow
    assert fast_stats.skipped == slow_stats.skipped


def test_chunks_are_bounded_by_lines_and_by_size() -> None:
    text = "\ufeff" + "".join(f'{{"n":{i}}}\n' for i in range(10))
    by_lines = list(chunks(io.StringIO(text), 4))
    assert [(first, len(lines)) for first, lines in by_lines] == [(1, 4), (5, 4), (9, 2)]
    assert by_lines[0][1][0] == '{"n":0}\n'  # the byte-order mark is gone
    by_size = list(chunks(io.StringIO(text), 100, max_chars=16))
    assert [(first, len(lines)) for first, lines in by_size] == [
        (1, 2),
        (3, 2),
        (5, 2),
        (7, 2),
        (9, 2),
    ]


def test_every_truncated_line_reads_the_same_both_ways(tmp_path: Path) -> None:
    # Logs cut short (a full disk, a rotated file being written) must never upset either reader.
    lines = (DATA / "a_suricata_eve.json").read_text(encoding="utf-8").splitlines()
    path = tmp_path / "truncated.log"
    cut = (line[:end] for line in lines for end in range(0, len(line) + 1, 3))
    path.write_text("\n".join(cut) + "\n", encoding="utf-8")
    fast, slow, fast_stats, slow_stats = _both_ways(path, 50)
    assert fast == slow
    assert fast_stats.skipped == slow_stats.skipped


_ODD_VALUES = [None, 5, -1, 1e300, "x", "", [], ["a", 1], {"a": 1}, True, "2001:0db8::1"]


def _mutations(record: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(record, dict):
        return [path] + [
            p for key, value in record.items() for p in _mutations(value, (*path, key))
        ]
    if isinstance(record, list):
        return [path] + [p for i, value in enumerate(record) for p in _mutations(value, (*path, i))]
    return [path]


def mutated_lines(path: Path) -> list[str]:
    """Each record once per field and odd value (a number for a name, a list for a port ...),
    among unchanged copies, so that chunks mix damaged and clean lines."""
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        for where in _mutations(record)[1:]:
            for value in _ODD_VALUES:
                copy = json.loads(line)
                target = copy
                for key in where[:-1]:
                    target = target[key]
                target[where[-1]] = value
                out += [line, json.dumps(copy)]
    return out


@pytest.mark.slow
def test_column_reader_equals_line_reader_on_damaged_fields(tmp_path: Path) -> None:
    path = tmp_path / "damaged.json"
    path.write_text("\n".join(mutated_lines(DATA / "a_suricata_eve.json")) + "\n", encoding="utf-8")
    for chunk in (7, 500):
        fast, slow, fast_stats, slow_stats = _both_ways(path, chunk)
        assert fast == slow
        assert fast_stats.skipped == slow_stats.skipped
