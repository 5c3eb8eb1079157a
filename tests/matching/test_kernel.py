"""The kernel on hand-made batches: boundaries of names, networks, IPv6, ports, sides."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from lamsach.indicators.model import Indicator
from lamsach.indicators.model import IndicatorType as T
from lamsach.logs.schema import LOG_SCHEMA, batch_from_rows
from lamsach.matching.direction import InternalNetworks
from lamsach.matching.distinct import deduplicate
from lamsach.matching.hits import HIT_SCHEMA
from lamsach.matching.index import IndicatorIndex
from lamsach.matching.kernel import match_batch
from lamsach.matching.reference import ReferenceMatcher

LISTED = [
    Indicator(T.DOMAIN, "evil.com", {"ncsc"}, {"botnet"}),
    Indicator(T.DOMAIN, "xn--e1afmkfd.vn", {"ncsc"}),
    Indicator(T.HOSTNAME, "cdn.example.org", {"maltrail"}),
    Indicator(T.IPV4, "203.0.113.7", {"ncsc"}),
    Indicator(T.CIDR, "198.51.100.0/24", {"spamhaus"}),
    Indicator(T.CIDR, "192.0.2.5/32", {"spamhaus"}),
    Indicator(T.CIDR, "2001:db8:1::/48", {"spamhaus"}),
    Indicator(T.IPV6, "2001:db8::7", {"ncsc"}),
    Indicator(T.IP_PORT, "192.0.2.10:8080", {"feodo"}),
    Indicator(T.IP_PORT, "[2001:db8::10]:443", {"feodo"}),
    Indicator(T.URL, "http://bad.net/gate.php", {"urlhaus"}),
    Indicator(T.SHA256, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
]
ALLOW = [Indicator(T.DOMAIN, "safe.evil.com"), Indicator(T.IPV4, "198.51.100.77")]


@pytest.fixture(scope="module")
def index() -> IndicatorIndex:
    return IndicatorIndex.build(LISTED, ALLOW)


def hits(index: IndicatorIndex, rows: list[dict[str, Any]], **kw: Any) -> list[tuple[Any, ...]]:
    table = match_batch(batch_from_rows(rows), index, **kw)
    assert table.schema == HIT_SCHEMA
    return [(h["line"], h["field"], h["observed"], h["indicator"]) for h in table.to_pylist()]


def host_hits(index: IndicatorIndex, hosts: list[str]) -> dict[str, list[str]]:
    rows = [{"host": h, "line": i} for i, h in enumerate(hosts)]
    found: dict[str, list[str]] = {h: [] for h in hosts}
    for line, _, observed, indicator in hits(index, rows):
        assert observed == hosts[line]
        found[observed].append(indicator)
    return found


def test_domain_boundaries(index: IndicatorIndex) -> None:
    found = host_hits(
        index,
        [
            "evil.com",
            "a.b.evil.com",
            "EVIL.COM",
            "evil.com.",
            "Www.Evil.Com.:443",
            "notevil.com",
            "evil.com.example.org",
            "evil.co",
            "com",
            "safe.evil.com",  # allow-listed
            "x.safe.evil.com",  # under the allow-listed name
            "unsafe.evil.com",
            "cdn.example.org",
            "a.cdn.example.org",  # a host name matches only itself
            "www.пример.vn",
            "WWW.XN--E1AFMKFD.VN",
            "",
        ],
    )
    assert found == {
        "evil.com": ["evil.com"],
        "a.b.evil.com": ["evil.com"],
        "EVIL.COM": ["evil.com"],
        "evil.com.": ["evil.com"],
        "Www.Evil.Com.:443": ["evil.com"],
        "notevil.com": [],
        "evil.com.example.org": [],
        "evil.co": [],
        "com": [],
        "safe.evil.com": [],
        "x.safe.evil.com": [],
        "unsafe.evil.com": ["evil.com"],
        "cdn.example.org": ["cdn.example.org"],
        "a.cdn.example.org": [],
        "www.пример.vn": ["xn--e1afmkfd.vn"],
        "WWW.XN--E1AFMKFD.VN": ["xn--e1afmkfd.vn"],
        "": [],
    }


def test_network_boundaries_ipv6_and_ports(index: IndicatorIndex) -> None:
    rows = [
        {"dst_ip": "198.51.100.0"},
        {"dst_ip": "198.51.100.255"},
        {"dst_ip": "198.51.99.255"},
        {"dst_ip": "198.51.101.0"},
        {"dst_ip": "198.51.100.77"},  # allow-listed inside a listed network
        {"dst_ip": "192.0.2.5"},
        {"dst_ip": "192.0.2.4"},
        {"dst_ip": "::ffff:203.0.113.7"},
        {"dst_ip": "2001:0db8:0000:0000:0000:0000:0000:0007"},
        {"dst_ip": "2001:db8:1:ffff:ffff:ffff:ffff:ffff"},
        {"dst_ip": "2001:db8:2::"},
        {"dst_ip": "192.0.2.10", "dst_port": 8080},
        {"dst_ip": "192.0.2.10", "dst_port": 80},
        {"dst_ip": "192.0.2.10"},
        {"dst_ip": "2001:db8::10", "dst_port": 443},
        {"dst_ip": "2001:db8::10", "dst_port": 8443},
        {"dst_ip": "203.0.113.007"},  # not an address: leading zeros
        {"dst_ip": "not an ip"},
    ]
    for i, row in enumerate(rows):
        row["line"] = i
    assert hits(index, rows) == [
        (0, "dst_ip", "198.51.100.0", "198.51.100.0/24"),
        (1, "dst_ip", "198.51.100.255", "198.51.100.0/24"),
        (5, "dst_ip", "192.0.2.5", "192.0.2.5/32"),
        (7, "dst_ip", "::ffff:203.0.113.7", "203.0.113.7"),
        (8, "dst_ip", "2001:0db8:0000:0000:0000:0000:0000:0007", "2001:db8::7"),
        (9, "dst_ip", "2001:db8:1:ffff:ffff:ffff:ffff:ffff", "2001:db8:1::/48"),
        (11, "dst_ip", "192.0.2.10:8080", "192.0.2.10:8080"),
        (14, "dst_ip", "[2001:db8::10]:443", "[2001:db8::10]:443"),
    ]


def test_urls_answers_and_hashes(index: IndicatorIndex) -> None:
    rows = [
        {"url": "HTTP://BAD.net:80/gate.php#x", "line": 1},
        {"url": "http://bad.net/gate.php?id=1", "line": 2},
        {"url": "https://user@www.evil.com:8443/a", "line": 3},
        {"url": "bad.net/gate.php", "line": 4},
        {"host": "evil.com", "answers": ["203.0.113.7", "1.1.1.1", "cname.evil.com"], "line": 5},
        {"hashes": ["E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855"], "line": 6},
    ]
    assert hits(index, rows) == [
        (1, "url", "HTTP://BAD.net:80/gate.php#x", "http://bad.net/gate.php"),
        (3, "url", "https://user@www.evil.com:8443/a", "evil.com"),
        (4, "url", "bad.net/gate.php", "http://bad.net/gate.php"),
        (5, "host", "evil.com", "evil.com"),  # the answer cname.evil.com is the same hit
        (5, "answers", "203.0.113.7", "203.0.113.7"),
        (6, "hashes", rows[5]["hashes"][0], rows[5]["hashes"][0].lower()),
    ]


def test_suspect_is_the_internal_side(index: IndicatorIndex) -> None:
    rows = [
        {"src_ip": "10.1.2.3", "dst_ip": "203.0.113.7"},  # outbound
        {"src_ip": "203.0.113.7", "dst_ip": "192.168.5.5"},  # inbound from the listed address
        {"src_ip": "100.64.0.9", "dst_ip": "8.8.8.8", "host": "evil.com"},
        {"src_ip": "8.8.8.8", "dst_ip": "172.16.0.4", "host": "evil.com"},  # inside is dst
        {"src_ip": "10.9.9.9", "dst_ip": "10.0.0.53", "answers": ["203.0.113.7"]},
        {"dst_ip": "203.0.113.7"},
    ]
    table = match_batch(batch_from_rows(rows), index)
    assert [(h["suspect"], h["other"], h["field"]) for h in table.to_pylist()] == [
        ("10.1.2.3", "203.0.113.7", "dst_ip"),
        ("192.168.5.5", "203.0.113.7", "src_ip"),
        ("100.64.0.9", "8.8.8.8", "host"),
        ("172.16.0.4", "8.8.8.8", "host"),
        ("10.9.9.9", "10.0.0.53", "answers"),
        (None, "203.0.113.7", "dst_ip"),
    ]


def test_configured_internal_networks(index: IndicatorIndex) -> None:
    rows = [{"src_ip": "8.8.8.8", "dst_ip": "100.1.1.1", "host": "evil.com"}]
    (default,) = match_batch(batch_from_rows(rows), index).to_pylist()
    assert default["suspect"] == "8.8.8.8"
    own = InternalNetworks.from_strings("100.0.0.0/8, 2001:db8:ff::/48")
    (hit,) = match_batch(batch_from_rows(rows), index, own).to_pylist()
    assert hit["suspect"] == "100.1.1.1"


def test_hit_carries_record_context_and_metadata(index: IndicatorIndex) -> None:
    when = datetime(2026, 11, 2, 7, 0, tzinfo=UTC)
    row = {
        "time": when,
        "src_ip": "10.0.0.8",
        "host": "evil.com",
        "log_type": "dns",
        "file": "/var/log/dns.log",
        "line": 42,
    }
    (hit,) = match_batch(batch_from_rows([row]), index).to_pylist()
    assert hit == {
        "time": when,
        "suspect": "10.0.0.8",
        "other": None,
        "indicator": "evil.com",
        "indicator_type": "domain",
        "sources": ["ncsc"],
        "tags": ["botnet"],
        "observed": "evil.com",
        "field": "host",
        "log_type": "dns",
        "file": "/var/log/dns.log",
        "line": 42,
    }


def test_batch_with_only_some_columns(index: IndicatorIndex) -> None:
    only_host = pa.record_batch([pa.array(["a.evil.com", None, "x.org"])], names=["host"])
    (hit,) = match_batch(only_host, index).to_pylist()
    assert (hit["indicator"], hit["suspect"], hit["line"], hit["time"]) == ("evil.com",) + (
        None,
    ) * 3
    conn = pa.record_batch(
        [pa.array(["10.0.0.1", "10.0.0.2"]), pa.array(["192.0.2.10"] * 2), pa.array([8080, 22])],
        names=["src_ip", "dst_ip", "dst_port"],
    )
    assert [h["observed"] for h in match_batch(conn, index).to_pylist()] == ["192.0.2.10:8080"]


def test_dictionary_encoded_and_chunked_columns(index: IndicatorIndex) -> None:
    hosts = pa.array(["evil.com", "good.org", "evil.com", "x.evil.com"]).dictionary_encode()
    batch = pa.record_batch([hosts, pa.array([1, 2, 3, 4])], names=["host", "line"])
    assert [h["line"] for h in match_batch(batch, index).to_pylist()] == [1, 3, 4]
    table = pa.Table.from_batches([batch, batch])
    assert len(match_batch(table, index)) == 6


def test_empty_and_all_null_batches(index: IndicatorIndex) -> None:
    empty = pa.RecordBatch.from_pylist([], schema=LOG_SCHEMA)
    assert match_batch(empty, index).num_rows == 0
    assert match_batch(batch_from_rows([{"line": 1}, {"line": 2}]), index).num_rows == 0


def test_agrees_with_reference_on_the_cases_above(index: IndicatorIndex) -> None:
    rows: list[dict[str, Any]] = [
        {"src_ip": "10.0.0.1", "dst_ip": "198.51.100.3", "host": "a.evil.com", "line": 1},
        {"src_ip": "198.51.100.9", "dst_ip": "10.0.0.1", "dst_port": 8080, "line": 2},
        {"src_ip": "10.0.0.1", "dst_ip": "192.0.2.10", "dst_port": 8080, "line": 3},
        {"url": "http://a.evil.com/x", "answers": ["evil.com", "2001:db8::7"], "line": 4},
    ]
    batch = batch_from_rows(rows)
    kernel = match_batch(batch, index).to_pylist()
    reference = ReferenceMatcher(LISTED, ALLOW).match_rows(batch.to_pylist())
    assert kernel == reference


def test_large_batches_agree_with_reference() -> None:
    # Big enough for the paths small batches skip: the /24 block filter and the no-dedupe mode.
    rng = random.Random(20261128)
    listed = [Indicator(T.CIDR, f"10.{i}.0.0/16") for i in range(0, 200, 7)]
    listed += [Indicator(T.CIDR, f"10.{i}.{i}.0/24", {"inner"}) for i in range(0, 200, 14)]
    listed += [Indicator(T.IPV4, f"172.16.{i}.{i}") for i in range(0, 250, 3)]
    listed += [Indicator(T.CIDR, "203.0.113.0/24"), Indicator(T.IP_PORT, "198.51.100.1:443")]
    listed += [Indicator(T.DOMAIN, f"bad{i}.example") for i in range(50)]
    allow = [Indicator(T.IPV4, "10.0.0.1"), Indicator(T.DOMAIN, "ok.bad3.example")]

    def address() -> str:
        a, b = rng.choice([10, 172, 203, 198]), rng.randrange(256)
        return f"{a}.{b}.{rng.choice([b, rng.randrange(256)])}.{rng.choice([0, 1, 255, b])}"

    rows: list[dict[str, Any]] = []
    for i in range(12000):
        host = rng.choice([f"x{i}.bad{rng.randrange(60)}.example", f"h{i}.good.example"])
        rows.append(
            {
                "src_ip": f"192.168.{i % 7}.{i % 250}",
                "dst_ip": address(),
                "dst_port": rng.choice([443, 80]),
                "host": host if i % 5 else rng.choice(["ok.bad3.example", "A.BAD1.EXAMPLE."]),
                "answers": [address(), address()],
                "line": i,
            }
        )
    batch = batch_from_rows(rows)
    index = IndicatorIndex.build(listed, allow)
    kernel = match_batch(batch, index).to_pylist()
    reference = ReferenceMatcher(listed, allow).match_rows(batch.to_pylist())
    assert len(kernel) > 1000
    key = lambda h: (h["line"], h["field"], h["indicator"], h["observed"])  # noqa: E731
    assert sorted(kernel, key=key) == sorted(reference, key=key)


@pytest.mark.parametrize("kind", [pa.large_string(), pa.string_view()])
def test_other_string_types(index: IndicatorIndex, kind: pa.DataType) -> None:
    batch = pa.record_batch(
        [
            pa.array(["a.evil.com", "x.org"], kind),
            pa.array(["10.0.0.1", "10.0.0.2"], kind),
            pa.array([None, ["203.0.113.7"]], pa.list_(kind)),
            pa.array([1, 2], pa.int16()),
        ],
        names=["host", "src_ip", "answers", "line"],
    )
    found = [(h["line"], h["indicator"]) for h in match_batch(batch, index).to_pylist()]
    assert found == [(1, "evil.com"), (2, "203.0.113.7")]


def test_deduplicate_decides_by_how_much_values_repeat() -> None:
    repeated = pa.array([f"h{i % 300}" for i in range(20000)] + [None])
    codes, distinct = deduplicate(repeated)
    assert len(distinct) == 300 and codes[-1] == -1
    assert distinct.take(pa.array(codes[:5])).to_pylist() == ["h0", "h1", "h2", "h3", "h4"]
    unique = pa.array([f"h{i}" for i in range(20000)] + [None])
    codes, distinct = deduplicate(unique)
    assert len(distinct) == 20001 and codes[-1] == -1 and codes[7] == 7
    encoded = repeated.dictionary_encode()
    codes, distinct = deduplicate(encoded)
    assert len(distinct) == 300 and codes.tolist() == pc.fill_null(encoded.indices, -1).to_pylist()
