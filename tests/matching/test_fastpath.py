"""The prefilter changes nothing but speed: the same hits and the same counts as without it.

Zeek logs full of the cases the prefilter must hand on (names needing normalisation, IP
literals, IPv6, damaged and odd lines) are scanned with and without it, whole and cut into
ranges, and everything the scan reports must be equal.
"""

from __future__ import annotations

import gzip
import random
from pathlib import Path
from unittest import mock

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lamsach.indicators.model import Indicator
from lamsach.indicators.model import IndicatorType as T
from lamsach.logs.formats import zeek_tsv
from lamsach.matching import engine_local, fastpath
from lamsach.matching.direction import DEFAULT_INTERNAL
from lamsach.matching.engine import plan_tasks
from lamsach.matching.engine_local import ScanReport, run_scan
from lamsach.matching.fastpath import Screen, zeek_layout
from lamsach.matching.index import IndicatorIndex
from lamsach.matching.prefilter import Prefilter, screen

DNS_FIELDS = ["ts", "uid", "id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p", "proto", "query"]
DNS_FIELDS += ["answers"]
DNS_TYPES = ["time", "string", "addr", "port", "addr", "port", "enum", "string", "vector[string]"]
HTTP_FIELDS = ["ts", "uid", "id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p", "host", "uri"]
HTTP_TYPES = ["time", "string", "addr", "port", "addr", "port", "string", "string"]


def header(path: str, fields: list[str], types: list[str]) -> str:
    return (
        "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n"
        f"#path\t{path}\n#open\t2024-01-01-00-00-00\n#fields\t" + "\t".join(fields) + "\n"
        "#types\t" + "\t".join(types) + "\n"
    )


def listed(with_v6: bool) -> list[Indicator]:
    items = [
        Indicator(T.DOMAIN, "evil.example"),
        Indicator(T.DOMAIN, "xn--bcher-kva.example"),
        Indicator(T.DOMAIN, "c2.badcorp.vn"),
        Indicator(T.HOSTNAME, "exact.host.example"),
        Indicator(T.IPV4, "203.0.113.66"),
        Indicator(T.IPV4, "192.0.2.7"),
        Indicator(T.CIDR, "198.51.100.0/28"),
        Indicator(T.IP_PORT, "198.18.0.9:4444"),
    ]
    if with_v6:
        items += [Indicator(T.IPV6, "2001:db8::66"), Indicator(T.CIDR, "2001:db8:1::/48")]
    return items


ALLOW = [Indicator(T.DOMAIN, "safe.evil.example")]

NAMES = [
    "www.google.com", "evil.example", "a.b.evil.example", "EVIL.Example.", "notevil.example",
    "evil.example.attacker.test", "safe.evil.example", "x.safe.evil.example", "evil.example:80",
    "evil.example:http", "[evil.example]", "bücher.example", "www.BÜCHER.example",
    "xn--bcher-kva.example", "exact.host.example", "sub.exact.host.example", "c2.badcorp.vn.",
    "203.0.113.66", "203.0.113.066", "203.0.113.66.", "192.0.2.7:53", "::ffff:203.0.113.66",
    "::FFFF:cb00:7142", "2001:db8::66", "[2001:db8::66]:443", "2001:db8:1::5", "2001:db8:2::5",
    "-", "(empty)", "", ".", "..evil.example", "evil..example", "ev\\x69l.example",
    "TXT 12 v=spf1 include:evil.example", "evil.example\\x09", "a" * 70 + ".evil.example",
]  # fmt: skip
ADDRESSES = [
    "10.0.0.5", "192.168.1.20", "203.0.113.66", "203.0.113.67", "198.51.100.15", "198.51.100.16",
    "198.18.0.9", "192.0.2.7", "::ffff:192.0.2.7", "2001:db8::66", "2001:db8:1::9", "fe80::1",
    "fe80::1%eth0", "-", "01.2.3.4", "999.1.1.1", "(empty)",
]  # fmt: skip
PORTS = ["53", "4444", "80", "-", "x"]
ODD_LINES = [
    "", "#close\t2024-01-01-01-00-00", "#fields\tts\tother", "only\ttwo", "\t\t\t",
    "1700000000.0\tC1\t-\t-\t-\t-\t-\t-\t-", "1700000000.0\tCx\t10.0.0.1\t1\t203.0.113.66\t2\tudp",
]  # fmt: skip


def dns_line(rng: random.Random, i: int) -> str:
    answers = ",".join(rng.choice(NAMES + ADDRESSES) for _ in range(rng.randint(0, 3)))
    return "\t".join(
        [
            f"{1_700_000_000 + i}.{rng.randint(0, 999999):06d}",
            f"C{i}",
            rng.choice(ADDRESSES),
            rng.choice(PORTS),
            rng.choice(ADDRESSES),
            rng.choice(PORTS),
            rng.choice(["udp", "tcp", "-"]),
            rng.choice(NAMES),
            answers or rng.choice(["-", "(empty)"]),
        ]
    )


def http_line(rng: random.Random, i: int) -> str:
    uri = rng.choice(["/", "/x?a=1", "http://evil.example/x", "-", "/evil.example"])
    return "\t".join(
        [
            f"{1_700_000_000 + i}.5",
            f"C{i}",
            rng.choice(ADDRESSES),
            rng.choice(PORTS),
            rng.choice(ADDRESSES),
            rng.choice(PORTS),
            rng.choice(NAMES),
            uri,
        ]
    )


def make_log(
    path: Path, kind: str, n: int, seed: int, odd: float = 0.05, ending: str = "\n"
) -> Path:
    rng = random.Random(seed)
    make = dns_line if kind == "dns" else http_line
    fields, types = (DNS_FIELDS, DNS_TYPES) if kind == "dns" else (HTTP_FIELDS, HTTP_TYPES)
    lines = []
    for i in range(n):
        if rng.random() < odd:
            lines.append(rng.choice(ODD_LINES))
        elif rng.random() < 0.7:
            lines.append(make(rng, i).replace("evil", "fine").replace("203.0", "100.0"))
        else:
            lines.append(make(rng, i))
    text = header(kind, fields, types) + ending.join(lines)
    if rng.random() < 0.5:
        text += ending  # with or without a newline after the last line
    path.write_bytes(text.encode("utf-8"))
    return path


def scan(path: Path, index: IndicatorIndex, prefilter: bool, parts: int = 1) -> tuple[list, dict]:
    tasks, errors = plan_tasks([str(path)], parts=parts, min_split=64)
    assert not errors
    found: list[pa.Table] = []
    original = fastpath.Screen.batches
    with (
        mock.patch.object(engine_local, "SCREEN_MIN_BYTES", 0),
        mock.patch.object(fastpath.Screen, "batches", autospec=True, side_effect=original) as used,
    ):
        report = run_scan(
            tasks, index, DEFAULT_INTERNAL, workers=1, on_hits=found.append, prefilter=prefilter
        )
    assert used.called == prefilter  # the comparison is only worth something if it screened
    hits = pa.concat_tables(found).to_pylist() if found else []
    return sorted(hits, key=repr), _stats(report)


def _stats(report: ScanReport) -> dict:
    return {name: (s.records, dict(s.skipped), s.examples) for name, s in report.files.items()} | {
        "records": report.records,
        "hits": report.hits,
    }


@pytest.fixture(params=[False, True], ids=["v4-lists", "v6-lists"])
def index(request: pytest.FixtureRequest) -> IndicatorIndex:
    return IndicatorIndex.build(listed(request.param), ALLOW)


@pytest.fixture
def small_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    # Many blocks and many flushes, so block and batch edges fall everywhere.
    monkeypatch.setattr(fastpath, "BLOCK", 997)
    monkeypatch.setattr(fastpath, "PENDING_LINES", 7)


@pytest.mark.parametrize("kind", ["dns", "http"])
@pytest.mark.parametrize("seed", range(4))
def test_same_hits_and_counts_with_and_without_prefilter(
    tmp_path: Path, index: IndicatorIndex, small_blocks: None, kind: str, seed: int
) -> None:
    path = make_log(tmp_path / f"{kind}.log", kind, 600, seed)
    expected = scan(path, index, prefilter=False)
    assert expected[0], "the log must hold hits for the comparison to mean something"
    assert scan(path, index, prefilter=True) == expected
    ranged = scan(path, index, prefilter=True, parts=5)
    assert ranged == scan(path, index, prefilter=False, parts=5)


def test_a_line_longer_than_a_block_is_read_whole(
    tmp_path: Path, index: IndicatorIndex, small_blocks: None
) -> None:
    path = make_log(tmp_path / "dns.log", "dns", 200, 9)
    lines = path.read_text().splitlines()
    long_name = "x" * 3000 + ".evil.example"
    lines[30] = "\t".join(["1700000001.5", "CL", "10.0.0.9", "53", "10.0.0.53", "53", "udp",
                           long_name, "-"])  # fmt: skip
    path.write_text("\n".join(lines) + "\n")
    expected = scan(path, index, prefilter=False)
    assert long_name in {hit["observed"] for hit in expected[0]}
    assert scan(path, index, prefilter=True) == expected


def test_a_log_truncated_after_planning_ends_the_scan_cleanly(
    tmp_path: Path, index: IndicatorIndex, small_blocks: None
) -> None:
    # logrotate's copytruncate empties a log while it may be scanned: what was read counts.
    path = make_log(tmp_path / "dns.log", "dns", 600, 3, odd=0)
    tasks, _ = plan_tasks([str(path)], parts=4, min_split=64)
    size = path.stat().st_size
    with open(path, "r+b") as log:
        log.truncate(size // 2)
    with mock.patch.object(engine_local, "SCREEN_MIN_BYTES", 0):
        report = run_scan(tasks, index, DEFAULT_INTERNAL, workers=1, prefilter=True)
    assert not report.errors
    assert 0 < report.records < 600


def test_compressed_logs_are_screened_as_a_stream(
    tmp_path: Path, index: IndicatorIndex, small_blocks: None
) -> None:
    plain = make_log(tmp_path / "dns.log", "dns", 400, 5)
    packed = tmp_path / "dns.log.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    expected = scan(plain, index, prefilter=False)
    got = scan(packed, index, prefilter=True)

    def without_file(hits: list[dict]) -> list[dict]:
        return sorted(({k: v for k, v in h.items() if k != "file"} for h in hits), key=repr)

    assert expected[0]
    assert without_file(got[0]) == without_file(expected[0])
    assert got[1][str(packed)] == expected[1][str(plain)]


def test_an_address_repeated_from_the_line_before_is_judged_again(
    tmp_path: Path, index: IndicatorIndex, small_blocks: None
) -> None:
    # The pass takes a field's verdict again when it repeats the line before's bytes: runs of a
    # listed address after an unlisted one of the same length, and of values that are no address.
    rng = random.Random(5)
    runs = ["100.0.113.66", "203.0.113.66", "203.0.113.67", "100.0.113.67", "01.2.3.4",
            "::ffff:203.0.113.66", "-", "10.0.0.5", "198.51.100.15", "198.51.100.16"]  # fmt: skip
    lines = []
    for i in range(400):
        resolver = runs[(i // 7) % len(runs)]
        client = runs[(i // 3) % len(runs)] if i % 2 else "10.0.0.5"
        query = rng.choice(["www.fine.test", "evil.example"])
        values = [f"{1_700_000_000 + i}.5", f"C{i}", client, "53", resolver, "5", "udp", query, "-"]
        lines.append("\t".join(values))
    path = tmp_path / "dns.log"
    path.write_text(header("dns", DNS_FIELDS, DNS_TYPES) + "\n".join(lines) + "\n")
    expected = scan(path, index, prefilter=False)
    assert {"203.0.113.66", "198.51.100.15"} <= {hit["observed"] for hit in expected[0]}
    assert scan(path, index, prefilter=True) == expected


@pytest.mark.parametrize("ending", ["\r\n", "\r"])
def test_carriage_returns_are_read_as_without_prefilter(
    tmp_path: Path, index: IndicatorIndex, small_blocks: None, ending: str
) -> None:
    path = make_log(tmp_path / "dns.log", "dns", 300, 11, ending=ending)
    assert scan(path, index, prefilter=True) == scan(path, index, prefilter=False)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    lines=st.lists(
        st.lists(st.sampled_from(NAMES + ADDRESSES + PORTS + ["1.5"]), min_size=1, max_size=10),
        min_size=1,
        max_size=12,
    )
)
def test_any_line_of_values_is_judged_as_without_prefilter(lines: list[list[str]]) -> None:
    # Values of every kind in every position, fields too few and too many.
    index = IndicatorIndex.build(listed(True), ALLOW)
    text = header("dns", DNS_FIELDS, DNS_TYPES) + "\n".join("\t".join(v) for v in lines) + "\n"
    folder = Path(__import__("tempfile").mkdtemp())
    path = folder / "dns.log"
    path.write_text(text, encoding="utf-8")
    assert scan(path, index, prefilter=True) == scan(path, index, prefilter=False)


def test_the_prefilter_passes_on_few_ordinary_lines(tmp_path: Path) -> None:
    # It must also be worth having: lines holding no listed value are counted, not parsed.
    index = IndicatorIndex.build(listed(False), ALLOW)
    rng = random.Random(3)
    rows = [
        f"1700000000.{i}\tC{i}\t10.0.0.{i % 250}\t5353\t8.8.8.8\t53\tudp\t"
        f"host{rng.randint(0, 10**9)}.example.org\t93.184.216.{i % 250},cdn{i}.example.net"
        for i in range(5000)
    ]
    rows[1234] = rows[1234].replace("example.org", "evil.example")
    data = ("\n".join(rows) + "\n").encode()
    head = zeek_tsv.parse_header(
        [line.encode() for line in header("dns", DNS_FIELDS, DNS_TYPES).splitlines()], 0
    )
    layout = zeek_layout(head, Prefilter.of(index))
    assert layout is not None
    found = screen(np.frombuffer(data, np.uint8), 0, len(data), layout, Prefilter.of(index))
    assert found.lines == 5000
    assert 1234 in found.candidates.tolist()
    assert len(found.candidates) < 50
    assert found.records == 5000 - len(found.candidates)


def test_logs_it_cannot_screen_are_read_in_full() -> None:
    # URL or hash indicators with a log that has URIs or hashes: no prefilter for that log.
    index = IndicatorIndex.build([Indicator(T.URL, "http://evil.example/x")])
    head = zeek_tsv.parse_header(
        [line.encode() for line in header("http", HTTP_FIELDS, HTTP_TYPES).splitlines()], 0
    )
    assert Screen.of(index).layout(head) is None
    dns = zeek_tsv.parse_header(
        [line.encode() for line in header("dns", DNS_FIELDS, DNS_TYPES).splitlines()], 0
    )
    assert Screen.of(index).layout(dns) is not None


HAND_BACK = engine_local.HAND_BACK_BYTES


@pytest.mark.parametrize("hand_back", [0, HAND_BACK])
def test_workers_hand_passed_lines_back_with_the_same_results(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, index: IndicatorIndex, hand_back: int
) -> None:
    # Worker processes screen; the lines they pass on are matched by this process (up to
    # hand_back bytes a task) or by the worker itself (past it): either way, the same report.
    path = make_log(tmp_path / "dns.log", "dns", 3000, 21)
    expected = scan(path, index, prefilter=False, parts=4)
    index_file = tmp_path / "index.lsidx"
    index.save(index_file)
    handed: list[int] = []
    original = engine_local.match_handed

    def spy(result, *args):  # type: ignore[no-untyped-def]
        handed.append(result.handed.lines if result.handed is not None else 0)
        original(result, *args)

    monkeypatch.setattr(engine_local, "INLINE_BYTES", 0)
    monkeypatch.setattr(engine_local, "HAND_BACK_BYTES", hand_back)
    monkeypatch.setattr(engine_local, "match_handed", spy)
    tasks, errors = plan_tasks([str(path)], parts=4, min_split=64)
    assert not errors and len(tasks) == 4
    found: list[pa.Table] = []
    report = run_scan(
        tasks, None, DEFAULT_INTERNAL, workers=2, index_path=index_file, on_hits=found.append
    )
    hits = sorted(pa.concat_tables(found).to_pylist(), key=repr)
    assert (hits, _stats(report)) == expected
    if hand_back == 0:
        assert handed == []  # the workers matched every passed line themselves
    else:
        assert len(handed) == 4 and all(handed)  # every task left them to this process


def test_workers_hand_back_the_lines_of_compressed_logs_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, index: IndicatorIndex
) -> None:
    # A compressed log is one task read as a stream: its passed lines come back the same way.
    plain = make_log(tmp_path / "dns.log", "dns", 1500, 31)
    packed = tmp_path / "dns2.log.gz"
    packed.write_bytes(gzip.compress(make_log(tmp_path / "dns2.log", "dns", 1500, 32).read_bytes()))
    index_file = tmp_path / "index.lsidx"
    index.save(index_file)

    def run(prefilter: bool, workers: int) -> tuple[list, dict]:
        tasks, errors = plan_tasks([str(plain), str(packed)], parts=2, min_split=64)
        assert not errors
        found: list[pa.Table] = []
        report = run_scan(tasks, None, DEFAULT_INTERNAL, workers=workers, index_path=index_file,
                          on_hits=found.append, prefilter=prefilter)  # fmt: skip
        return sorted(pa.concat_tables(found).to_pylist(), key=repr), _stats(report)

    expected = run(prefilter=False, workers=1)
    handed: list[str] = []
    original = engine_local.match_handed

    def spy(result, *args):  # type: ignore[no-untyped-def]
        handed.append(result.task.path)
        original(result, *args)

    monkeypatch.setattr(engine_local, "INLINE_BYTES", 0)
    monkeypatch.setattr(engine_local, "match_handed", spy)
    assert run(prefilter=True, workers=2) == expected
    assert str(packed) in handed and str(plain) in handed
