"""JSON formats: STIX 2.1 bundles, MISP events and MISP feed folders."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from stix2patterns.pattern import Pattern

from lamsach.indicators.formats.stix import _comparisons
from lamsach.indicators.importer import import_paths
from lamsach.indicators.model import IndicatorType as T

NOW = datetime(2026, 11, 28, tzinfo=UTC)


def test_stix_bundle(data_dir: Path) -> None:
    result = import_paths([data_dir / "stix-bundle.json"], now=NOW)
    assert result.files[0].format == "stix"
    values = {indicator.value: indicator for indicator in result.indicators}
    assert {i.key for i in result.indicators} == {
        (T.DOMAIN, "c2.dragontail.top"),
        (T.DOMAIN, "xn--bnh-dng-gov-ccb17u8f.vn"),
        (T.IPV4, "45.155.165.63"),
        (T.CIDR, "185.100.87.0/24"),
        (T.IPV6, "2a0e:97c0:3e3:4a1::1"),
        (T.URL, "http://update-center.dragontail.top/gate.php?id=1"),
        (T.SHA256, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        (T.MD5, "d41d8cd98f00b204e9800998ecf8427e"),
    }
    c2 = values["c2.dragontail.top"]
    assert c2.tags == {"DragonTail", "apt", "c2"}  # labels and the malware it indicates
    assert c2.sources == {"VNCERT/CC"}  # created_by_ref identity
    assert c2.confidence == 85
    assert c2.first_seen == datetime(2026, 9, 30, tzinfo=UTC)
    assert c2.expires == datetime(2099, 1, 1, tzinfo=UTC)
    assert values["d41d8cd98f00b204e9800998ecf8427e"].sources == {"stix-bundle"}
    assert sorted(r.reason for r in result.rejects) == [
        "bad-pattern",
        "expired",
        "unsupported-pattern",
        "unsupported-pattern",
    ]
    assert all(r.line is None and r.text.startswith("indicator--") for r in result.rejects)


def test_stix_expired_indicator_kept_before_its_expiry(data_dir: Path) -> None:
    result = import_paths([data_dir / "stix-bundle.json"], now=datetime(2025, 3, 1, tzinfo=UTC))
    assert "old-campaign.example-evil.net" in {i.value for i in result.indicators}


def test_misp_event(data_dir: Path) -> None:
    result = import_paths([data_dir / "misp-event.json"])
    assert result.files[0].format == "misp"
    values = {indicator.value: indicator for indicator in result.indicators}
    assert {i.key for i in result.indicators} == {
        (T.IPV4, "45.155.165.63"),
        (T.DOMAIN, "dragontail.top"),
        (T.HOSTNAME, "mail.dragontail-mail.com"),
        (T.DOMAIN, "cdn.dragontail.top"),
        (T.IPV4, "91.92.241.23"),
        (T.IP_PORT, "45.155.165.64:8443"),
        (T.URL, "https://dragontail.top/login/"),
        (T.MD5, "d41d8cd98f00b204e9800998ecf8427e"),
        (T.SHA1, "da39a3ee5e6b4b0d3255bfef95601890afd80709"),
        (T.SHA256, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
    }
    # Galaxy cluster value and plain tags kept, TLP left out; attribute tags added.
    assert values["45.155.165.63"].tags == {"DragonTail", "phishing"}
    assert values["dragontail.top"].tags == {"DragonTail", "phishing", "kill-chain:c2"}
    assert values["45.155.165.63"].sources == {"VNCERT/CC"}
    url = values["https://dragontail.top/login/"]
    assert url.first_seen == datetime(2026, 10, 1, 6, tzinfo=UTC)
    assert url.last_seen == datetime(2026, 10, 4, 18, tzinfo=UTC)
    assert values["45.155.165.63"].first_seen == datetime(2026, 10, 5, tzinfo=UTC)
    assert result.reject_counts == {
        "not-to-ids": 3,
        "unsupported-type": 1,
        "deleted": 1,
        "bad-hash": 1,
    }
    shown = [r.text for r in result.rejects if r.reason == "deleted"]
    assert shown == [
        "event 5f3c2a1e-9b8d-4c7e-a6f5-0e1d2c3b4a59 attribute "
        "a1000000-0000-4000-8000-000000000012: domain removed.example-evil.net"
    ]


def test_misp_feed_folder(data_dir: Path) -> None:
    result = import_paths([data_dir / "misp-feed"])
    assert len(result.files) == 2 and {r.format for r in result.files} == {"misp"}
    # hashes.csv holds hashes of attribute values, not indicators: it must not be read.
    assert result.skipped_files == [str(data_dir / "misp-feed" / "hashes.csv")]
    values = {indicator.value: indicator for indicator in result.indicators}
    assert set(values) == {
        "http://qak-dist.example-evil.net/tmp/update.zip",
        "45.155.165.63",
        "[2a0e:97c0:3e3:4a1::5]:6606",
        "asyncrat-c2.duckdns.org",
    }
    assert values["45.155.165.63"].tags == {"QakBot"}
    assert values["asyncrat-c2.duckdns.org"].type is T.HOSTNAME
    assert values["[2a0e:97c0:3e3:4a1::5]:6606"].sources == {"CIRCL"}
    assert result.reject_counts == {"not-to-ids": 1}


def test_misp_feed_missing_event_is_an_error_others_go_on(tmp_path: Path, data_dir: Path) -> None:
    feed = tmp_path / "feed"
    feed.mkdir()
    manifest = (data_dir / "misp-feed" / "manifest.json").read_text()
    (feed / "manifest.json").write_text(manifest)
    kept = "7b2c3d4e-5f6a-4b7c-9d8e-0f1a2b3c4d5e.json"
    (feed / kept).write_text((data_dir / "misp-feed" / kept).read_text())
    result = import_paths([feed])
    assert len(result.errors) == 1
    assert "6a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d.json" in result.errors[0].file
    assert "asyncrat-c2.duckdns.org" in {i.value for i in result.indicators}


def test_merging_across_formats(data_dir: Path) -> None:
    result = import_paths(
        [data_dir / "misp-event.json", data_dir / "zeek-intel.dat", data_dir / "maltrail"],
        now=NOW,
    )
    merged = [i for i in result.indicators if i.value == "45.155.165.63"]
    assert len(merged) == 1
    assert merged[0].sources == {"VNCERT/CC", "cert-vn", "maltrail"}
    assert merged[0].tags == {"DragonTail", "phishing", "dragontail", "malware"}


def test_misp_hostile_structure_is_counted(tmp_path: Path) -> None:
    path = tmp_path / "odd.json"
    path.write_text(
        '{"Event": {"uuid": "e1", "Attribute": [42, {"type": "domain", "to_ids": true, '
        '"value": "odd.example-evil.net"}], "Object": {"not": "a list"}}}'
    )
    result = import_paths([path])
    assert [i.value for i in result.indicators] == ["odd.example-evil.net"]
    assert result.reject_counts == {"bad-misp": 2}


@pytest.mark.parametrize(
    "pattern",
    [
        "[domain-name:value = 'a.example-evil.net']",
        "[ipv4-addr:value ISSUBSET '185.100.87.0/24']",
        "[ipv6-addr:value = '2a0e::1']",
        "[url:value = 'http://x.example-evil.net/it\\'s']",
        "[file:hashes.'SHA-256' = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855']",  # noqa: E501
        "[file:hashes.MD5 = 'd41d8cd98f00b204e9800998ecf8427e']",
        "[domain-name:value='no-spaces.example.net']",  # not the fast form: parsed
    ],
)
def test_simple_stix_patterns_read_as_the_parser_reads_them(pattern: str) -> None:
    assert _comparisons(pattern) == dict(Pattern(pattern).inspect().comparisons)
