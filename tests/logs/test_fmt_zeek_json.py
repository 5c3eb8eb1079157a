"""Zeek JSON logs: made-up edge cases and the real Elastic samples."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from lamsach.logs.formats import ReadContext, ReadStats, get_format, zeek_json
from lamsach.logs.formats._zeek_json_fast import fast_batch
from lamsach.logs.reader import detect_format, read_log
from lamsach.logs.schema import LOG_SCHEMA

DATA = Path(__file__).parent / "data"


def read_rows(
    path: Path, fmt: str | None = None, **options: str
) -> tuple[list[dict[str, Any]], ReadStats]:
    stats = ReadStats(file=str(path))
    batches = list(read_log(str(path), fmt, batch_size=4, stats=stats, options=options))
    for batch in batches:
        assert batch.schema == LOG_SCHEMA
    table = pa.Table.from_batches(batches, schema=LOG_SCHEMA)
    return table.to_pylist(), stats


def by_line(rows: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    return {row["line"]: row for row in rows}


def test_mixed_zeek_json_file_parses_every_log_kind() -> None:
    rows, stats = read_rows(DATA / "a_zeek_mixed.json.log")
    assert detect_format(str(DATA / "a_zeek_mixed.json.log")).name == "zeek-json"
    lines = by_line(rows)
    assert sorted(lines) == [1, 2, 3, 4, 8, 9, 10, 11]
    conn = lines[1]
    assert conn["time"] == datetime(2023, 11, 14, 22, 13, 20, 500000, tzinfo=UTC)
    assert (conn["src_ip"], conn["src_port"], conn["dst_ip"], conn["dst_port"]) == (
        "10.1.2.3",
        51000,
        "203.0.113.9",
        443,
    )
    assert (conn["proto"], conn["bytes"], conn["log_type"]) == ("tcp", 2100, "conn")
    assert conn["file"] == str(DATA / "a_zeek_mixed.json.log")

    dns = lines[2]
    assert dns["time"] == datetime(2023, 11, 14, 22, 13, 21, 250000, tzinfo=UTC)
    assert dns["src_ip"] == "2001:db8::10"  # written in full, read compressed
    assert dns["host"] == "xn--bcher-kva.example"  # case and trailing dot gone
    assert dns["answers"] == ["2001:db8::99", "198.51.100.7"]  # the CNAME is not an address
    assert dns["log_type"] == "dns"

    http = lines[3]
    assert http["host"] == "shop.example.com"
    assert http["url"] == "http://Shop.Example.com:8080/cart?id=1"
    assert (http["bytes"], http["proto"], http["log_type"]) == (510, "tcp", "http")
    assert lines[4]["url"] == "http://proxied.example.com/x"

    ssl = lines[8]
    assert (ssl["src_ip"], ssl["dst_port"]) == ("10.1.2.7", 443)  # nested "id" object
    assert ssl["host"] == "login.example.org"
    assert ssl["hashes"] == ["aabbccddeeff00112233445566778899aabbccdd"]
    assert ssl["log_type"] == "ssl"

    old_files = lines[9]
    assert (old_files["src_ip"], old_files["dst_ip"]) == ("10.1.2.8", "198.51.100.83")
    assert old_files["hashes"] == [
        "0123456789abcdef0123456789abcdef",
        "0123456789abcdef0123456789abcdef01234567",
    ]
    assert (old_files["bytes"], old_files["log_type"]) == (4096, "files")
    assert lines[10]["hashes"] == ["ab" * 32]
    assert lines[10]["bytes"] == 10

    wrapped = lines[11]
    assert (wrapped["host"], wrapped["answers"], wrapped["log_type"]) == (
        "wrapped.example.com",
        ["192.0.2.1"],
        "dns",
    )

    assert stats.records == 8
    assert stats.skipped == {
        "not valid JSON": 1,
        "not a JSON object": 1,
        "not a Zeek record (no ts)": 1,
        "Splunk export row without a Zeek record": 1,
        "ignored: Zeek record without addresses, host or hashes": 1,
    }
    assert stats.examples["not valid JSON"] == [5]


def test_zeek_json_sniff_is_strict() -> None:
    sniff = get_format("zeek-json").sniff
    assert sniff(['{"ts":1.0,"id.orig_h":"10.0.0.1","id.resp_h":"10.0.0.2"}'])
    assert not sniff(['{"timestamp":"2020-01-01T00:00:00Z","event_type":"dns","src_ip":"1.2.3.4"}'])
    assert not sniff(["1700000000.0\tC1\t10.0.0.1"])
    assert not sniff(['{"ts": 1.0, "message": "hello"}'])


ZEEK_JSON_SAMPLES = {
    "elastic-test-conn.json.log": 18,
    "elastic-test-dns.json.log": 8,
    "elastic-test-http.json.log": 8,
    "elastic-test-ssl.json.log": 12,
}


@pytest.mark.shared_data
@pytest.mark.parametrize("name", sorted(ZEEK_JSON_SAMPLES))
def test_real_zeek_json_samples(shared_data: Path, name: str) -> None:
    path = shared_data / "logs" / "zeek" / name
    assert detect_format(str(path)).name == "zeek-json"
    rows, stats = read_rows(path)
    assert stats.records == len(rows) == ZEEK_JSON_SAMPLES[name]
    assert stats.skipped_total == 0
    assert all(row["src_ip"] and row["time"] for row in rows)


@pytest.mark.shared_data
def test_real_zeek_json_values(shared_data: Path) -> None:
    zeek = shared_data / "logs" / "zeek"
    conn = by_line(read_rows(zeek / "elastic-test-conn.json.log")[0])
    assert conn[17]["time"] == datetime(2021, 6, 9, 20, 55, 13, 160328, tzinfo=UTC)  # ISO ts
    assert conn[1]["bytes"] == 75 + 178
    dns = by_line(read_rows(zeek / "elastic-test-dns.json.log")[0])
    assert dns[1]["host"] == "dd625ffb4fc54735b281862aa1cd6cd4.us-west1.gcp.cloud.es.io"
    assert dns[1]["answers"] == ["89.160.20.156"]
    assert dns[2]["src_ip"] == "fe80::4ef:15cf:769f:ff21"
    assert dns[8]["host"] == "_googlecast._tcp.local"  # the Splunk wrapper line
    http = by_line(read_rows(zeek / "elastic-test-http.json.log")[0])
    assert http[2]["url"] == "http://httpbin.org/ip"
    assert http[8]["host"] == "httpbin.org"
    ssl = by_line(read_rows(zeek / "elastic-test-ssl.json.log")[0])
    assert ssl[12]["hashes"] == ["5dad8b55621b6b9c30679d9d61248dd132a83c94"]
    assert ssl[6]["host"] == "splunk-api.swiftcrypto.com"


@pytest.mark.shared_data
def test_zeek_json_sniff_leaves_other_samples_alone(shared_data: Path) -> None:
    sniff = get_format("zeek-json").sniff
    for path in sorted((shared_data / "logs").rglob("*")):
        if path.is_file() and path.suffix != ".md":
            head = [line for line in path.read_text(errors="replace").splitlines() if line.strip()]
            assert sniff(head[:20]) == path.name.endswith(".json.log"), path


def _both_ways(path: Path, chunk: int) -> tuple[pa.Table, pa.Table, ReadStats, ReadStats]:
    out = []
    for fast in (True, False):
        stats = ReadStats(file=str(path))
        ctx = ReadContext(file=str(path), stats=stats, batch_size=chunk)
        with path.open(encoding="utf-8") as stream:
            batches = list(zeek_json.read_lines(stream, ctx, fast=fast))
        out.append((pa.Table.from_batches(batches, schema=LOG_SCHEMA), stats))
    return out[0][0], out[1][0], out[0][1], out[1][1]


def _generated_zeek(path: Path, iso: bool = False) -> None:
    records = []
    for i in range(300):
        ts: float | str = 1.7e9 + i / 7
        if iso:
            ts = datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")
        base = {"ts": ts, "uid": f"C{i}", "id.orig_h": f"10.0.{i % 7}.{i % 250 + 1}"}
        base |= {"id.orig_p": 40000 + i, "id.resp_h": "2001:db8::1", "id.resp_p": 53}
        kind = i % 5
        if kind == 0:
            base |= {
                "proto": "udp",
                "query": f"Q{i}.Example.com.",
                "answers": ["cname.x", "192.0.2.1"],
            }
        elif kind == 1:
            base |= {"proto": "tcp", "conn_state": "SF", "orig_bytes": i, "history": "ShAD"}
        elif kind == 2:
            base |= {"method": "GET", "host": f"h{i}.example.org:8080", "uri": f"/p{i}"}
            base |= {"request_body_len": 1}
        elif kind == 3:
            base |= {"server_name": f"S{i}.example.net", "resp_certificate_sha1": "AB" * 20}
        else:
            base |= {"_path": "weird", "name": "bad_TCP_checksum"}
        records.append(json.dumps(base))
    path.write_text("\n".join(records) + "\n", encoding="utf-8")


@pytest.mark.parametrize("iso", [False, True])
def test_column_reader_equals_line_reader_on_generated_logs(tmp_path: Path, iso: bool) -> None:
    path = tmp_path / "zeek.json.log"
    _generated_zeek(path, iso)
    with path.open(encoding="utf-8") as stream:
        lines = stream.readlines()
    assert fast_batch(lines[:100], 1, str(path)) is not None  # the column reader takes it
    fast, slow, fast_stats, slow_stats = _both_ways(path, 100)
    assert fast.num_rows == 300
    assert fast.equals(slow)
    assert fast_stats.skipped == slow_stats.skipped == {}


def test_column_reader_leaves_bad_chunks_to_the_line_reader() -> None:
    fast, slow, fast_stats, slow_stats = _both_ways(DATA / "a_zeek_mixed.json.log", 3)
    assert fast.equals(slow)
    assert fast_stats.skipped == slow_stats.skipped
    assert fast_stats.examples == slow_stats.examples


@pytest.mark.shared_data
@pytest.mark.parametrize("name", sorted(ZEEK_JSON_SAMPLES))
def test_column_reader_equals_line_reader_on_real_samples(shared_data: Path, name: str) -> None:
    fast, slow, _, _ = _both_ways(shared_data / "logs" / "zeek" / name, 3)
    assert fast.num_rows == ZEEK_JSON_SAMPLES[name]
    assert fast.equals(slow)


def test_every_truncated_line_reads_the_same_both_ways(tmp_path: Path) -> None:
    # Logs cut short (a full disk, a rotated file being written) must never upset either reader.
    lines = (DATA / "a_zeek_mixed.json.log").read_text(encoding="utf-8").splitlines()
    path = tmp_path / "truncated.log"
    cut = (line[:end] for line in lines for end in range(0, len(line) + 1, 3))
    path.write_text("\n".join(cut) + "\n", encoding="utf-8")
    fast, slow, fast_stats, slow_stats = _both_ways(path, 50)
    assert fast == slow
    assert fast_stats.skipped == slow_stats.skipped


def test_hostile_nesting_is_counted_not_fatal(tmp_path: Path) -> None:
    # pyarrow's JSON reader crashes the process on such a line; json.loads refuses it.
    good = '{"ts":1.0,"id.orig_h":"10.0.0.1","id.resp_h":"10.0.0.2"}\n'
    deep = '{"a":' * 100_000 + "1" + "}" * 100_000 + "\n"
    path = tmp_path / "hostile.json.log"
    path.write_text(good + deep + good, encoding="utf-8")
    rows, stats = read_rows(path, "zeek-json")
    assert [row["line"] for row in rows] == [1, 3]
    assert stats.skipped == {"not valid JSON": 1}


def test_out_of_range_numbers_become_null(tmp_path: Path) -> None:
    path = tmp_path / "damaged.json.log"
    lines = [
        '{"ts":1e300,"id.orig_h":"10.0.0.1","id.orig_p":99999999999,"id.resp_h":"10.0.0.2"}',
        '{"ts":"inf","id.orig_h":"10.0.0.1","id.orig_p":-1,"id.resp_h":"10.0.0.2","id.resp_p":80}',
        '{"ts":1.5,"id.orig_h":"10.0.0.1","id.orig_p":53,"id.resp_h":"10.0.0.2","orig_bytes":1e30}',
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    for fast in (True, False):
        stats = ReadStats(file=str(path))
        ctx = ReadContext(file=str(path), stats=stats, batch_size=10)
        with path.open(encoding="utf-8") as stream:
            batches = list(zeek_json.read_lines(stream, ctx, fast=fast))
        rows = pa.Table.from_batches(batches, schema=LOG_SCHEMA).to_pylist()
        assert [(row["time"], row["src_port"], row["dst_port"]) for row in rows] == [
            (None, None, None),
            (None, None, 80),
            (datetime(1970, 1, 1, 0, 0, 1, 500000, tzinfo=UTC), 53, None),
        ]


def test_fields_of_the_wrong_type_do_not_break_reading(tmp_path: Path) -> None:
    path = tmp_path / "odd.json.log"
    lines = [
        '{"ts":1.0,"id.orig_h":"10.0.0.1","id.resp_h":"10.0.0.2","query":5,"answers":[1,"192.0.2.1"]}',
        '{"ts":2.0,"id.orig_h":"10.0.0.1","id.resp_h":"10.0.0.2","server_name":["x"],"proto":7}',
        '{"ts":3.0,"id.orig_h":["10.0.0.1"],"id.resp_h":"10.0.0.2","method":"GET","host":1}',
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    fast, slow, _, _ = _both_ways(path, 10)
    assert fast.equals(slow)
    rows = slow.to_pylist()
    assert [(row["host"], row["answers"], row["src_ip"]) for row in rows] == [
        (None, ["192.0.2.1"], "10.0.0.1"),
        (None, None, "10.0.0.1"),
        (None, None, None),
    ]
    assert [row["log_type"] for row in rows] == ["dns", "ssl", "http"]


_ODD_VALUES = [None, 5, -1, 1e300, "x", "", [], ["a", 1], {"a": 1}, True, "2001:0db8::1"]


def _mutated_lines(path: Path) -> list[str]:
    """Each record once per top-level field and odd value, among unchanged copies."""
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if not isinstance(record, dict):
            continue
        for key in record:
            for value in _ODD_VALUES:
                out += [line, json.dumps({**record, key: value})]
    return out


@pytest.mark.slow
def test_column_reader_equals_line_reader_on_damaged_fields(tmp_path: Path) -> None:
    path = tmp_path / "damaged.json.log"
    lines = _mutated_lines(DATA / "a_zeek_mixed.json.log")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    for chunk in (7, 500):
        fast, slow, fast_stats, slow_stats = _both_ways(path, chunk)
        assert fast.to_pylist() == slow.to_pylist()
        assert fast_stats.skipped == slow_stats.skipped
