"""Refanging and canonical forms of indicator values."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lamsach.indicators.model import IndicatorType as T
from lamsach.indicators.normalize import (
    InvalidIndicator,
    normalize_cidr,
    normalize_hash,
    normalize_hostname,
    normalize_ip,
    normalize_url,
    parse_value,
    refang,
)


@pytest.mark.parametrize(
    ("defanged", "plain"),
    [
        ("hxxp://evil[.]com/a", "http://evil.com/a"),
        ("hXXps[:]//evil(.)com", "https://evil.com"),
        ("evil{.}com", "evil.com"),
        ("evil[dot]com", "evil.com"),
        ("evil [.] com", "evil.com"),
        ("1.2.3[.]4", "1.2.3.4"),
        ("user[at]evil.com", "user@evil.com"),
        ("fxp://files[.]evil.com", "ftp://files.evil.com"),
        ("hxxp[://]evil.com", "http://evil.com"),
        ("plain.example.org", "plain.example.org"),
    ],
)
def test_refang(defanged: str, plain: str) -> None:
    assert refang(defanged) == plain


@pytest.mark.parametrize(
    ("name", "canonical"),
    [
        ("Evil.COM.", "evil.com"),
        ("Bücher.de", "xn--bcher-kva.de"),
        ("ＥＸＡＭＰＬＥ。com", "example.com"),  # UTS-46 maps full-width letters and dots
        ("faß.de", "xn--fa-hia.de"),  # IDNA 2008, not transitional: ß is kept
        ("bình-dương.gov.vn", "xn--bnh-dng-zya74nje.gov.vn"),  # checked with the punycode codec
        ("track_x.certuser.info", "track_x.certuser.info"),
        ("xn--bcher-kva.de", "xn--bcher-kva.de"),
    ],
)
def test_normalize_hostname(name: str, canonical: str) -> None:
    assert normalize_hostname(name) == canonical


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("", "empty"),
        ("-evil.com", "bad-domain"),
        ("evil..com", "bad-domain"),
        ("a" * 64 + ".com", "bad-domain"),
        ("evil.ru-f", "bad-domain"),
        ("1.2.3.999", "bad-ip"),
        ("sec[a-z]{3}.top", "regex"),
        ("evil com", "bad-domain"),
    ],
)
def test_normalize_hostname_rejects(name: str, reason: str) -> None:
    with pytest.raises(InvalidIndicator) as info:
        normalize_hostname(name)
    assert info.value.reason == reason


def test_ip_and_cidr() -> None:
    assert normalize_ip("2001:DB8:0:0::1") == "2001:db8::1"
    assert normalize_ip("[fe80::1]") == "fe80::1"
    assert normalize_cidr("10.1.2.3/8") == "10.0.0.0/8"
    assert normalize_cidr("2001:db8::5/32") == "2001:db8::/32"
    for bad in ("1.2.3.256", "010.1.1.1", "1.2.3"):
        with pytest.raises(InvalidIndicator) as info:
            normalize_ip(bad)
        assert info.value.reason == "bad-ip"
    with pytest.raises(InvalidIndicator):
        normalize_cidr("10.0.0.0/33")


@pytest.mark.parametrize(
    ("url", "canonical"),
    [
        ("HTTP://Evil.COM:80/Gate.php?a=B#frag", "http://evil.com/Gate.php?a=B"),
        ("https://evil.com:443", "https://evil.com/"),
        ("https://evil.com:8443/x", "https://evil.com:8443/x"),
        ("http://user:pw@evil.com/x", "http://evil.com/x"),
        ("evil.com/wp-admin/", "http://evil.com/wp-admin/"),
        ("http://[2001:DB8::1]:8080/", "http://[2001:db8::1]:8080/"),
        ("http://Bücher.de/ä", "http://xn--bcher-kva.de/ä"),
        ("http://evil.com./a", "http://evil.com/a"),
    ],
)
def test_normalize_url(url: str, canonical: str) -> None:
    assert normalize_url(url) == canonical


def test_normalize_url_rejects() -> None:
    for bad, reason in (
        ("/wp-admin/gate.php", "url-path"),
        ("http:///nohost", "bad-url"),
        ("http://evil.com:99999/", "bad-url"),
        ("http://ev il.com/", "bad-url"),
    ):
        with pytest.raises(InvalidIndicator) as info:
            normalize_url(bad)
        assert info.value.reason == reason, bad


def test_normalize_hash() -> None:
    assert normalize_hash("D41D8CD98F00B204E9800998ECF8427E") == (
        T.MD5,
        "d41d8cd98f00b204e9800998ecf8427e",
    )
    assert normalize_hash("da39a3ee5e6b4b0d3255bfef95601890afd80709")[0] == T.SHA1
    assert normalize_hash("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")[
        0
    ] == (T.SHA256)
    for bad in ("d41d8cd98f00b204e9800998ecf8427", "g41d8cd98f00b204e9800998ecf8427e", "abc"):
        with pytest.raises(InvalidIndicator) as info:
            normalize_hash(bad)
        assert info.value.reason == "bad-hash"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1.2.3.4", (T.IPV4, "1.2.3.4")),
        ("2001:db8::0:1", (T.IPV6, "2001:db8::1")),
        ("1.2.3.4:8080", (T.IP_PORT, "1.2.3.4:8080")),
        ("[2001:db8::1]:443", (T.IP_PORT, "[2001:db8::1]:443")),
        ("10.0.0.0/8", (T.CIDR, "10.0.0.0/8")),
        ("1.2.3.4/32", (T.IPV4, "1.2.3.4")),
        ("evil[.]com", (T.DOMAIN, "evil.com")),
        ("*.evil.com", (T.DOMAIN, "evil.com")),
        ("dead.beef.cafe", (T.DOMAIN, "dead.beef.cafe")),
        ("hxxp://evil[.]com/x", (T.URL, "http://evil.com/x")),
        ("evil.com/gate.php", (T.URL, "http://evil.com/gate.php")),
        ("D41D8CD98F00B204E9800998ECF8427E", (T.MD5, "d41d8cd98f00b204e9800998ecf8427e")),
    ],
)
def test_parse_value(text: str, expected: tuple[T, str]) -> None:
    assert parse_value(text) == expected


def test_parse_value_bare_name_type() -> None:
    assert parse_value("www.evil.com", bare_name=T.HOSTNAME) == (T.HOSTNAME, "www.evil.com")


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("   ", "empty"),
        ("1.2.3.4:0", "bad-port"),
        ("1.2.3.4:70000", "bad-port"),
        ("/admin/gate.php", "url-path"),
        ("user@evil.com", "email"),
        ("evil.com:8080", "host-port"),
        ("(gomon|perevod)[0-9]{2}\\.ru", "regex"),
        ("1.2.3.4/40", "bad-cidr"),
        ("x" * 3000, "too-long"),
    ],
)
def test_parse_value_rejects(text: str, reason: str) -> None:
    with pytest.raises(InvalidIndicator) as info:
        parse_value(text)
    assert info.value.reason == reason


_ALPHABET = "abcXYZ019.-_:/[](){}@#?*%ßü日 \t\\"


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=_ALPHABET, max_size=40) | st.text(max_size=20))
def test_parse_value_fails_only_with_invalid_indicator(text: str) -> None:
    try:
        kind, value = parse_value(text)
    except InvalidIndicator as exc:
        assert exc.reason and str(exc)
        return
    # A canonical value is a fixed point: normalising it again changes nothing.
    bare = kind if kind in (T.DOMAIN, T.HOSTNAME) else T.DOMAIN
    assert parse_value(value, bare_name=bare) == (kind, value)


@pytest.mark.parametrize(
    "value",
    [
        "http://evil.com/a",
        "https://[2001:db8::1]:8443/x?y=1",
        "ftp://files.example.org/",
        "http://xn--bcher-kva.de/ä",
        "45.155.165.63:8443",
        "[2a0e::1]:443",
        "185.100.87.0/24",
        "2a0e:97c0::/32",
        "xn--bnh-dng-zya74nje.gov.vn",
        "track_x.certuser.info",
    ],
)
def test_canonical_values_are_fixed_points(value: str) -> None:
    kind, canonical = parse_value(value)
    assert canonical == value
    assert parse_value(canonical) == (kind, canonical)
