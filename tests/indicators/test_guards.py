"""The false-positive guard and the allow-list."""

from __future__ import annotations

from pathlib import Path

import pytest

from lamsach.indicators.guards import (
    AllowListError,
    GuardSettings,
    check,
    is_public_suffix,
    read_allow_list,
)
from lamsach.indicators.model import Indicator
from lamsach.indicators.model import IndicatorType as T


def _reason(kind: T, value: str, settings: GuardSettings = GuardSettings()) -> str | None:
    refusal = check(Indicator(kind, value), settings)
    return None if refusal is None else refusal.reason


@pytest.mark.parametrize("name", ["com", "com.vn", "gov.vn", "blogspot.com", "duckdns.org"])
def test_public_suffixes_are_refused(name: str) -> None:
    assert is_public_suffix(name)
    assert _reason(T.DOMAIN, name) == "public-suffix"
    assert _reason(T.HOSTNAME, name) == "public-suffix"


def test_registrable_names_pass() -> None:
    for name in ("dragontail.top", "evil.com.vn", "x.blogspot.com", "c2.duckdns.org"):
        assert _reason(T.DOMAIN, name) is None, name


def test_name_under_wildcard_rule_is_narrowed_to_exact_host() -> None:
    # The list has "*.localto.net": every x.localto.net is some customer's own name.
    refusal = check(Indicator(T.DOMAIN, "abc123.localto.net"))
    assert refusal is not None
    assert refusal.reason == "public-suffix-host"
    assert refusal.narrow_to is T.HOSTNAME


@pytest.mark.parametrize(
    ("kind", "value", "reason"),
    [
        (T.IPV4, "10.1.2.3", "private-address"),
        (T.IPV4, "172.16.0.1", "private-address"),
        (T.IPV4, "100.64.1.1", "private-address"),  # RFC 6598 shared space
        (T.IPV4, "127.0.0.1", "loopback-address"),
        (T.IPV4, "169.254.1.1", "link-local-address"),
        (T.IPV4, "224.0.0.251", "multicast-address"),
        (T.IPV4, "0.0.0.0", "unspecified-address"),
        (T.IPV4, "203.0.113.5", "documentation-address"),
        (T.IPV6, "::1", "loopback-address"),
        (T.IPV6, "fe80::1", "link-local-address"),
        (T.IPV6, "fd00::1", "private-address"),
        (T.IPV6, "ff02::1", "multicast-address"),
        (T.IPV6, "::ffff:192.168.1.1", "private-address"),
        (T.IP_PORT, "192.168.1.1:443", "private-address"),
        (T.IP_PORT, "[fe80::1]:443", "link-local-address"),
        (T.CIDR, "192.168.0.0/24", "private-address"),
        (T.CIDR, "8.0.0.0/8", "wide-network"),
        (T.CIDR, "2a00::/16", "wide-network"),
    ],
)
def test_special_addresses_and_wide_networks(kind: T, value: str, reason: str) -> None:
    assert _reason(kind, value) == reason


def test_public_addresses_pass() -> None:
    assert _reason(T.IPV4, "45.155.165.63") is None
    assert _reason(T.IPV6, "2a0e:97c0:3e3:4a1::1") is None
    assert _reason(T.IP_PORT, "45.155.165.63:8443") is None
    assert _reason(T.CIDR, "185.100.87.0/24") is None
    assert _reason(T.CIDR, "45.0.0.0/16") is None  # exactly the limit
    assert _reason(T.URL, "http://192.168.1.1/admin") is None  # a URL is specific enough


def test_prefix_limit_is_configurable() -> None:
    assert _reason(T.CIDR, "45.0.0.0/16", GuardSettings(max_prefix_v4=20)) == "wide-network"
    assert _reason(T.CIDR, "8.0.0.0/8", GuardSettings(max_prefix_v4=8)) is None
    assert _reason(T.CIDR, "2a00::/16", GuardSettings(max_prefix_v6=16)) is None


def test_read_allow_list(data_dir: Path) -> None:
    allowed = {(i.type, i.value) for i in read_allow_list(data_dir / "allow.txt")}
    assert allowed == {
        (T.DOMAIN, "update-center.dragontail.top"),
        (T.IPV4, "45.155.165.65"),
        (T.CIDR, "185.100.87.128/25"),
    }


def test_allow_list_bad_line_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "allow.txt"
    path.write_text("# ok\ngood.example.org\nnot valid here\n")
    with pytest.raises(AllowListError, match=r"allow.txt:3"):
        read_allow_list(path)
    with pytest.raises(AllowListError, match="cannot read"):
        read_allow_list(tmp_path / "missing.txt")


def test_single_labels() -> None:
    assert _reason(T.DOMAIN, "localhost") == "single-label"
    assert _reason(T.HOSTNAME, "fileserver") == "single-label"
    assert _reason(T.DOMAIN, "vn") == "public-suffix"  # a real top-level domain
