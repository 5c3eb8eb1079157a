"""Exports for resolvers, IDS, firewalls and CTI tools, and round trips through the importer."""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
import stix2

from lamsach.indicators.export import export
from lamsach.indicators.importer import import_paths
from lamsach.indicators.model import Indicator
from lamsach.indicators.model import IndicatorType as T

NOW = datetime(2026, 11, 28, 9, 30, tzinfo=UTC)


def _sample() -> list[Indicator]:
    seen = datetime(2026, 10, 1, 6, 0, tzinfo=UTC)
    later = datetime(2099, 1, 1, tzinfo=UTC)
    empty_sha256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    # File names as users give them: folders, spaces, commas, and "-" for standard input.
    cert = {"cert-vn/2026-11/iocs.csv"}
    return [
        Indicator(T.DOMAIN, "dragontail.top", {"cert-vn"}, {"DragonTail", "c2"}, seen, seen),
        Indicator(T.HOSTNAME, "mail.dragontail-mail.com", {"cert-vn"}, {"phishing"}, files=cert),
        Indicator(T.DOMAIN, "xn--bcher-kva.de", {"misp"}, set(), expires=later, files={"-"}),
        Indicator(
            T.IPV4, "45.155.165.63", {"cert-vn", "maltrail"}, {"malware"}, confidence=90,
            files={"maltrail/malware/dragon tail.txt", "CERT VN, đợt 2.csv"},
        ),
        Indicator(T.IPV6, "2a0e:97c0:3e3:4a1::1", {"cert-vn"}),
        Indicator(T.CIDR, "185.100.87.0/24", {"cert-vn"}),
        Indicator(T.CIDR, "2a0e:97c0:3e3::/48", {"cert-vn"}),
        Indicator(T.IP_PORT, "45.155.165.64:8443", {"cert-vn"}),
        Indicator(T.IP_PORT, "[2a0e:97c0:3e3:4a1::5]:6606", {"cert-vn"}),
        Indicator(T.URL, "http://update-center.dragontail.top/gate.php?id=1", {"cert-vn"}),
        Indicator(T.URL, "https://dragontail.top/login/", {"cert-vn"}, {"phishing"}),
        Indicator(T.MD5, "d41d8cd98f00b204e9800998ecf8427e", {"cert-vn"}),
        Indicator(T.SHA1, "da39a3ee5e6b4b0d3255bfef95601890afd80709", {"cert-vn"}),
        Indicator(T.SHA256, empty_sha256, {"cert-vn"}),
    ]  # fmt: skip


def _keys(indicators: list[Indicator], types: set[T] | None = None) -> set[tuple[T, str]]:
    return {i.key for i in indicators if types is None or i.type in types}


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_csv_round_trip_keeps_everything(tmp_path: Path) -> None:
    listed = _sample()
    for indicator in listed:
        indicator.files = indicator.files or {"lists/cert-vn.txt"}
    result = export(listed, "csv")
    assert result.files[""].splitlines()[0].endswith(",confidence,files")
    back = import_paths([_write(tmp_path, "out.csv", result.files[""])])
    assert back.errors == [] and back.rejects == []
    original = {i.key: i for i in listed}
    assert {i.key for i in back.indicators} == set(original)
    for indicator in back.indicators:
        assert indicator == original[indicator.key]


def test_csv_rows_without_files_get_the_csv_itself(tmp_path: Path) -> None:
    # An index built before files were kept exports empty cells: the file read is all we know.
    path = _write(tmp_path, "old.csv", export(_sample(), "csv").files[""])
    back = {i.key: i.files for i in import_paths([path]).indicators}
    assert back[(T.DOMAIN, "dragontail.top")] == {str(path)}
    assert back[(T.DOMAIN, "xn--bcher-kva.de")] == {"-"}


def test_stix_round_trip_and_validity(tmp_path: Path) -> None:
    result = export(_sample(), "stix", now=NOW)
    bundle = stix2.parse(result.files[""], allow_custom=True)  # valid STIX 2.1 to stix2 itself
    assert len(bundle.objects) == len(_sample())
    back = import_paths([_write(tmp_path, "out.json", result.files[""])], now=NOW)
    assert back.rejects == []
    original = {i.key: i for i in _sample()}
    assert {i.key for i in back.indicators} == set(original)
    for indicator in back.indicators:
        source = original[indicator.key]
        assert (indicator.sources, indicator.tags) == (source.sources, source.tags)
        assert (indicator.expires, indicator.confidence) == (source.expires, source.confidence)
        assert indicator.first_seen == (source.first_seen or NOW.replace(microsecond=0))


def test_stix_ids_are_stable() -> None:
    first = json.loads(export(_sample(), "stix", now=NOW).files[""])
    second = json.loads(export(_sample(), "stix", now=NOW).files[""])
    assert [o["id"] for o in first["objects"]] == [o["id"] for o in second["objects"]]


def test_txt_round_trip(tmp_path: Path) -> None:
    result = export(_sample(), "txt")
    back = import_paths([_write(tmp_path, "out.txt", result.files[""])])
    # Plain text has no types: an exact host name comes back as a domain.
    expected = {(T.DOMAIN if k == T.HOSTNAME else k, v) for k, v in _keys(_sample())}
    assert _keys(back.indicators) == expected


def test_txt_for_a_firewall_only_addresses() -> None:
    result = export(_sample(), "txt", types=frozenset({T.IPV4, T.IPV6, T.CIDR}))
    assert result.files[""].splitlines() == [
        "185.100.87.0/24",
        "2a0e:97c0:3e3::/48",
        "45.155.165.63",
        "2a0e:97c0:3e3:4a1::1",
    ]


def test_zeek_round_trip(tmp_path: Path) -> None:
    result = export(_sample(), "zeek")
    assert result.skipped == {"ip_port": 2}
    lines = result.files[""].splitlines()
    assert lines[0] == "#fields\tindicator\tindicator_type\tmeta.source\tmeta.desc"
    assert "update-center.dragontail.top/gate.php?id=1\tIntel::URL" in result.files[""]
    back = import_paths([_write(tmp_path, "intel.dat", result.files[""])])
    assert back.rejects == []
    original = {i.key: i for i in _sample() if i.type is not T.IP_PORT}
    assert {i.key for i in back.indicators} == set(original)
    for indicator in back.indicators:
        assert indicator.sources == original[indicator.key].sources
        assert indicator.tags == original[indicator.key].tags


def test_rpz_zone(tmp_path: Path) -> None:
    result = export(_sample(), "rpz", zone="rpz.cert.vn", now=NOW)
    text = result.files[""]
    lines = text.splitlines()
    assert lines[:4] == [
        "$TTL 300",
        "$ORIGIN rpz.cert.vn.",
        "@ IN SOA localhost. hostmaster.localhost. (2026112809 3600 600 604800 300)",
        "@ IN NS localhost.",
    ]
    assert "dragontail.top CNAME ." in lines and "*.dragontail.top CNAME ." in lines
    assert "mail.dragontail-mail.com CNAME ." in lines
    assert "*.mail.dragontail-mail.com CNAME ." not in lines  # exact host only
    assert "24.0.87.100.185.rpz-ip CNAME ." in lines
    assert "32.63.165.155.45.rpz-ip CNAME ." in lines
    assert "128.1.zz.4a1.3e3.97c0.2a0e.rpz-ip CNAME ." in lines
    assert "48.zz.3e3.97c0.2a0e.rpz-ip CNAME ." in lines
    assert result.skipped == {"ip_port": 2, "url": 2, "md5": 1, "sha1": 1, "sha256": 1}
    back = import_paths([_write(tmp_path, "lamsach.rpz", text)])
    assert back.files[0].format == "rpz" and back.rejects == []
    wanted = {T.DOMAIN, T.HOSTNAME, T.IPV4, T.IPV6, T.CIDR}
    assert _keys(back.indicators) == _keys(_sample(), wanted)


@pytest.mark.skipif(shutil.which("named-checkzone") is None, reason="BIND utilities not installed")
def test_rpz_zone_loads_in_bind(tmp_path: Path) -> None:
    long_name = ".".join(["a" * 60] * 4) + ".top"  # 247 characters: too long with the zone
    sample = [*_sample(), Indicator(T.DOMAIN, long_name)]
    result = export(sample, "rpz", zone="rpz.cert.vn", now=NOW)
    assert result.skipped["name-too-long"] == 1
    zone = _write(tmp_path, "cert.rpz", result.files[""])
    check = subprocess.run(
        ["named-checkzone", "-i", "none", "rpz.cert.vn", str(zone)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert check.returncode == 0, check.stdout + check.stderr


def test_hosts_round_trip(tmp_path: Path) -> None:
    result = export(_sample(), "hosts")
    assert "0.0.0.0 dragontail.top\n" in result.files[""]
    back = import_paths([_write(tmp_path, "hosts", result.files[""])])
    names = {i.value for i in _sample() if i.type in (T.DOMAIN, T.HOSTNAME)}
    assert _keys(back.indicators) == {(T.HOSTNAME, name) for name in names}


def test_suricata_files_round_trip(tmp_path: Path) -> None:
    result = export(_sample(), "suricata")
    assert result.skipped == {"ip_port": 2, "url": 2}
    folder = tmp_path / "suricata"
    folder.mkdir()
    for name, text in result.files.items():
        _write(folder, name, text)
    rules = result.files["lamsach.rules"]
    assert "dataset:isset,lamsach-domains,type string,load lamsach-domains.lst;" in rules
    assert "filesha1:lamsach-sha1.txt;" in rules
    lists = ["lamsach-domains.lst", "lamsach-ipv4.lst", "lamsach-ipv6.lst", "lamsach-iprep.list"]
    lists += ["lamsach-md5.txt", "lamsach-sha1.txt", "lamsach-sha256.txt"]
    back = import_paths([folder / name for name in lists])
    assert back.errors == [] and back.rejects == []
    assert [r.format for r in back.files][:4] == ["suricata", "txt", "txt", "suricata-iprep"]
    expected = {
        (T.DOMAIN if k == T.HOSTNAME else k, v)
        for k, v in _keys(_sample())
        if k not in (T.IP_PORT, T.URL)
    }
    assert _keys(back.indicators) == expected


def test_unknown_export_format() -> None:
    with pytest.raises(ValueError, match="unknown export format"):
        export(_sample(), "pdf")
