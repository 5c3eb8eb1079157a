"""Property tests: the index and the kernel agree with the pure-Python reference matcher.

Values are drawn from small pools built around the hard boundaries (parent names, look-alike
names, first/last addresses of networks, IPv6 spellings, v4-mapped addresses, ports, URL forms),
mixed with arbitrary text, so hypothesis finds the corners rather than unrelated random strings.
"""

from __future__ import annotations

from contextlib import nullcontext
from typing import Any
from unittest import mock

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from lamsach.indicators.model import Indicator
from lamsach.indicators.model import IndicatorType as T
from lamsach.logs.schema import batch_from_rows
from lamsach.matching import sections
from lamsach.matching.direction import InternalNetworks
from lamsach.matching.index import IndicatorIndex
from lamsach.matching.kernel import match_batch
from lamsach.matching.reference import ReferenceMatcher

LABELS = ["evil", "a", "b", "com", "vn", "xn--e1afmkfd", "notevil", "example"]
ODD_LABELS = ["пример", "ÉVIL", "Evil", "EVIL", "", "a_b", "ß"]
V4 = ["1.2.3.0", "1.2.3.255", "1.2.4.0", "1.2.2.255", "1.2.3.4", "0.0.0.0", "255.255.255.255"]
V4 += ["10.0.0.1", "192.168.1.1", "8.8.8.8", "8.8.8.3", "8.8.8.4", "100.64.0.1"]
V6 = ["2001:db8::1", "2001:db8:1::1", "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", "2001:db9::"]
V6 += ["fd00::1", "::1", "2001:db8::5"]
NETWORKS = ["1.2.3.0/24", "1.2.0.0/16", "1.2.3.4/32", "0.0.0.0/0", "10.0.0.0/8", "8.8.8.0/30"]
NETWORKS += ["2001:db8::/32", "2001:db8:1::/48", "::/0", "2001:db8::5/128"]
IP_PORTS = ["1.2.3.4:443", "8.8.8.8:53", "[2001:db8::1]:443", "10.0.0.1:8080"]
URLS = [
    "http://evil.com/x",
    "https://a.evil.com/p?q=1",
    "http://1.2.3.4/gate",
    "http://[2001:db8::1]/",
]
HASHES = ["d41d8cd98f00b204e9800998ecf8427e", "da39a3ee5e6b4b0d3255bfef95601890afd80709"]
ODD_TEXT = st.text(alphabet="ab.:[]/@1 é\nE-", max_size=10)

DOMAINS = ["evil.com", "a.evil.com", "b.a.evil.com", "com", "notevil.com", "xn--e1afmkfd.vn"]
DOMAINS += ["evil.com.example.vn", "example.vn", "a_b.evil.com", "xn--zca.evil.com"]
UNICODE = {"xn--e1afmkfd": "пример", "xn--zca": "ß"}
domains = st.one_of(
    st.sampled_from(DOMAINS),
    st.lists(st.sampled_from(LABELS), min_size=1, max_size=3).map(".".join),
)


@st.composite
def indicator(draw: st.DrawFn) -> Indicator:
    kind = draw(st.sampled_from(["domain", "hostname", "ip", "net", "port", "url", "hash"]))
    if kind in ("domain", "hostname"):
        t, value = (T.DOMAIN if kind == "domain" else T.HOSTNAME), draw(domains)
    elif kind == "ip":
        value = draw(st.sampled_from(V4 + V6))
        t = T.IPV6 if ":" in value else T.IPV4
    elif kind == "net":
        t, value = T.CIDR, draw(st.sampled_from(NETWORKS))
    elif kind == "port":
        t, value = T.IP_PORT, draw(st.sampled_from(IP_PORTS))
    elif kind == "url":
        t, value = T.URL, draw(st.sampled_from(URLS))
    else:
        value = draw(st.sampled_from(HASHES))
        t = T.MD5 if len(value) == 32 else T.SHA1
    sources = draw(st.sets(st.sampled_from(["ncsc", "maltrail", "feodo"]), max_size=2))
    tags = draw(st.sets(st.sampled_from(["botnet", "c2"]), max_size=1))
    return Indicator(t, value, sources, tags)


@st.composite
def host(draw: st.DrawFn) -> str:
    choice = draw(st.integers(0, 9))
    if choice == 0:
        return draw(ODD_TEXT)
    if choice == 1:
        return draw(st.sampled_from(V4 + V6 + ["[2001:db8::1]", "[::ffff:1.2.3.4]:80"]))
    labels = draw(st.lists(st.sampled_from(LABELS + ODD_LABELS), max_size=2))
    labels.append(draw(st.sampled_from(DOMAINS)))
    name = ".".join(labels)
    if draw(st.booleans()):
        for ascii_label, unicode_label in UNICODE.items():
            name = name.replace(ascii_label, unicode_label)
    if draw(st.booleans()):
        name = name.upper() if draw(st.booleans()) else name.title()
    if draw(st.integers(0, 3)) == 0:
        name += "."
    if draw(st.integers(0, 4)) == 0:
        name += ":" + draw(st.sampled_from(["443", "80", "x"]))
    return name


@st.composite
def address(draw: st.DrawFn) -> str:
    choice = draw(st.integers(0, 9))
    if choice == 0:
        return draw(ODD_TEXT)
    if choice == 1:
        v4 = draw(st.sampled_from(V4))
        return draw(st.sampled_from([f"::ffff:{v4}", f"::FFFF:{v4}", "01.2.3.4", v4 + " "]))
    if choice == 2:
        v6 = draw(st.sampled_from(V6))
        return draw(st.sampled_from([v6.upper(), v6.replace("::", ":0:0:"), f"[{v6}]", v6]))
    if choice < 6:
        return draw(st.sampled_from(["1.2.3.4", "8.8.8.8", "10.0.0.1", "2001:db8::1", "1.2.3.0"]))
    return draw(st.sampled_from(V4 + V6))


@st.composite
def url(draw: st.DrawFn) -> str:
    base = draw(st.sampled_from([*URLS, "http://notevil.com/x", "http://пример.vn/"]))
    variant = draw(st.integers(0, 7))
    if variant == 0:
        return base.upper()
    if variant == 1:
        return base.replace("://", "://user@") + "#frag"
    if variant == 2:
        return base.split("://", 1)[1]
    if variant == 3:
        return base.replace("evil.com", "evil.com:80").replace("1.2.3.4", "1.2.3.4:443")
    if variant == 4:
        return "\t" + base if draw(st.booleans()) else base.replace("evil", "ev\til")
    if variant == 5:
        return draw(ODD_TEXT)
    return base


rows = st.lists(
    st.fixed_dictionaries(
        {},
        optional={
            "src_ip": address(),
            "dst_ip": address(),
            "src_port": st.sampled_from([53, 443, 8080, 80, 0, 70000]),
            "dst_port": st.sampled_from([53, 443, 8080, 80, 0, 70000]),
            "host": host(),
            "url": url(),
            "answers": st.lists(st.one_of(address(), host(), st.none()), max_size=3),
            "flow": st.tuples(
                st.sampled_from(["src", "dst"]),
                st.sampled_from([*IP_PORTS, "1.2.3.4:444", "[2001:db8::1]:80", "1.2.3.5:443"]),
            ),
            "hashes": st.lists(
                st.sampled_from(HASHES + [h.upper() for h in HASHES] + ["zz"]), max_size=2
            ),
        },
    ),
    max_size=12,
)


def weak_hash(values: Any) -> np.ndarray:
    """Collides all the time, to exercise the exact confirmation of hash hits."""
    return (pc.binary_length(values).to_numpy(zero_copy_only=False) % 4).astype(np.uint32)


def key(hit: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(str(hit[name]) for name in sorted(hit))


ALL_COLUMNS = list(batch_from_rows([]).schema.names)
INTERNAL = InternalNetworks(["10.0.0.0/8", "192.168.0.0/16", "fd00::/8", "1.2.3.0/24"])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    listed=st.lists(indicator(), min_size=1, max_size=10),
    allow=st.lists(indicator(), max_size=3),
    records=rows,
    columns=st.one_of(st.just(set(ALL_COLUMNS)), st.sets(st.sampled_from(ALL_COLUMNS), min_size=1)),
    weak=st.booleans(),
)
def test_kernel_agrees_with_reference(
    listed: list[Indicator],
    allow: list[Indicator],
    records: list[dict[str, Any]],
    columns: set[str],
    weak: bool,
) -> None:
    for i, record in enumerate(records):
        record["line"] = i
        if "flow" in record:  # an address and port drawn together, so IP:port entries match
            side, value = record.pop("flow")
            ip, _, port = value.rpartition(":")
            record[f"{side}_ip"], record[f"{side}_port"] = ip.strip("[]"), int(port)
    full = batch_from_rows(records)
    names = [n for n in full.schema.names if n in columns or n == "line"]
    batch = pa.record_batch([full.column(n) for n in names], names=names)
    patch = mock.patch.object(sections, "hash_arrow_strings", weak_hash) if weak else nullcontext()
    with patch:
        index = IndicatorIndex.build(listed, allow)
        got = match_batch(batch, index, INTERNAL).to_pylist()
    expected = ReferenceMatcher(listed, allow).match_rows(batch.to_pylist(), INTERNAL)
    for hit in expected:
        event(f"hit {hit['field']} {hit['indicator_type']}")
    assert sorted(map(key, got)) == sorted(map(key, expected))
    assert [h["line"] for h in got] == sorted(h["line"] for h in got)


@settings(max_examples=300, deadline=None)
@given(
    listed=st.lists(indicator(), max_size=12),
    allow=st.lists(indicator(), max_size=3),
    values=st.lists(st.one_of(host(), address(), url(), st.sampled_from(HASHES)), max_size=8),
)
def test_index_lookup_agrees_with_reference(
    listed: list[Indicator], allow: list[Indicator], values: list[str]
) -> None:
    index = IndicatorIndex.build(listed, allow)
    reference = ReferenceMatcher(listed, allow)
    for value in values:
        got = sorted((i.type, i.value, sorted(i.sources)) for i in index.lookup(value))
        want = sorted(
            {(i.type, i.value, tuple(sorted(i.sources))) for i in reference.lookup(value)}
        )
        assert got == [(t, v, list(s)) for t, v, s in want], value


@settings(max_examples=200, deadline=None)
@given(
    networks=st.lists(
        st.tuples(st.integers(0, 2**32 - 1), st.integers(0, 32)), min_size=1, max_size=30
    ),
    probes=st.lists(st.integers(0, 2**32 - 1), max_size=30),
)
def test_network_ranges_find_every_covering_network(
    networks: list[tuple[int, int]], probes: list[int]
) -> None:
    import ipaddress

    nets = sorted({ipaddress.IPv4Network((a, p), strict=False) for a, p in networks})
    # Probe the first and last address of every network and their neighbours too.
    edges = [int(n.network_address) for n in nets] + [int(n.broadcast_address) for n in nets]
    probes += [e + d for e in edges for d in (-1, 0, 1) if 0 <= e + d < 2**32]
    index = IndicatorIndex.build([Indicator(T.CIDR, str(n)) for n in nets])
    for ip in probes:
        address = ipaddress.IPv4Address(ip)
        want = sorted(str(n) for n in nets if address in n)
        assert sorted(i.value for i in index.lookup(str(address))) == want
