"""Line formats: plain/defanged text, hosts, CSV/TSV, Zeek intel, Suricata datasets, maltrail."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from lamsach.indicators.importer import ImportResult, import_paths
from lamsach.indicators.model import Indicator
from lamsach.indicators.model import IndicatorType as T


def _keys(result: ImportResult) -> set[tuple[T, str]]:
    return {indicator.key for indicator in result.indicators}


def _by_value(result: ImportResult) -> dict[str, Indicator]:
    return {indicator.value: indicator for indicator in result.indicators}


def _rejects(result: ImportResult) -> set[tuple[int | None, str]]:
    return {(reject.line, reject.reason) for reject in result.rejects}


def test_defanged_text(data_dir: Path) -> None:
    result = import_paths([data_dir / "defanged.txt"])
    assert result.files[0].format == "txt"
    assert _keys(result) == {
        (T.URL, "http://update-center.dragontail.top/gate.php"),
        (T.URL, "https://cdn.dragontail.top/payload.bin"),
        (T.DOMAIN, "dragontail.top"),
        (T.DOMAIN, "login.dragontail-mail.com"),
        (T.IPV4, "45.155.165.63"),
        (T.IP_PORT, "45.155.165.64:8443"),
        (T.IPV6, "2a0e:97c0:3e3:4a1::99"),
        (T.IP_PORT, "[2a0e:97c0:3e3:4a1::7]:443"),
        (T.DOMAIN, "xn--bnh-dng-gov-ccb17u8f.vn"),
        (T.SHA256, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        (T.MD5, "d41d8cd98f00b204e9800998ecf8427e"),
        (T.CIDR, "185.100.87.0/24"),
    }
    assert _rejects(result) == {
        (11, "documentation-address"),
        (17, "email"),
        (18, "url-path"),
        (19, "bad-domain"),
        (20, "bad-ip"),
        (21, "public-suffix"),
        (22, "private-address"),
        (23, "wide-network"),
    }
    # Every line is accounted for: 21 values, 13 accepted (one duplicate), 8 rejected.
    assert (result.files[0].entries, result.files[0].accepted, result.files[0].rejected) == (
        21,
        13,
        8,
    )
    assert _by_value(result)["dragontail.top"].sources == {"defanged"}


def test_hosts_file(data_dir: Path) -> None:
    result = import_paths([data_dir / "hosts.txt"])
    assert result.files[0].format == "hosts"
    assert _keys(result) == {
        (T.HOSTNAME, "ads.dragontail.top"),
        (T.HOSTNAME, "track.dragontail.top"),
        (T.HOSTNAME, "tracker.dragontail.top"),
        (T.HOSTNAME, "bad_host.example-evil.net"),
        (T.HOSTNAME, "bare.example-evil.net"),
    }
    assert result.reject_counts == {"hosts-builtin": 6, "bad-domain": 1, "bad-hosts-line": 1}
    assert {(11, "bad-domain"), (13, "bad-hosts-line")} <= _rejects(result)


def test_urlhaus_csv_with_commented_header(data_dir: Path) -> None:
    result = import_paths([data_dir / "urlhaus.csv"])
    assert result.files[0].format == "csv"
    assert _keys(result) == {
        (T.URL, "http://125.44.12.9:43055/i"),
        (T.URL, "https://files.dragontail.top/dl/setup.exe"),
    }
    mozi = _by_value(result)["http://125.44.12.9:43055/i"]
    assert mozi.tags == {"32-bit", "elf", "mips", "Mozi", "malware_download"}
    # Listed twice: the earliest dateadded is first seen, the latest last_online last seen.
    assert mozi.first_seen == datetime(2026, 11, 20, 9, 59, 5, tzinfo=UTC)
    assert mozi.last_seen == datetime(2026, 11, 20, 10, 5, 7, tzinfo=UTC)
    assert _rejects(result) == {(11, "bad-domain"), (12, "bad-csv-row")}


def test_tsv_with_family_dates_and_confidence(data_dir: Path) -> None:
    result = import_paths([data_dir / "threats.tsv"], source="cert-vn")
    assert result.files[0].format == "csv"
    values = _by_value(result)
    assert set(values) == {"evil-one.example.net", "91.92.241.10", "91.92.241.11:8080"}
    assert values["evil-one.example.net"].confidence == 80
    assert values["evil-one.example.net"].tags == {"QakBot"}
    assert values["91.92.241.10"].first_seen == datetime(2026, 10, 2, tzinfo=UTC)
    assert values["91.92.241.11:8080"].tags == {"AsyncRAT"}
    assert values["91.92.241.11:8080"].sources == {"cert-vn"}
    assert _rejects(result) == {(5, "wide-network")}


def test_csv_column_option_and_guess(tmp_path: Path) -> None:
    path = tmp_path / "mixed.csv"
    path.write_text(
        "reported,where,note\n2026-01-01,evil-a.example.net,x\n2026-01-02,45.155.165.63,y\n"
    )
    guessed = import_paths([path])
    assert _keys(guessed) == {(T.DOMAIN, "evil-a.example.net"), (T.IPV4, "45.155.165.63")}
    named = import_paths([path], column="where")
    assert _keys(named) == _keys(guessed)
    numbered = import_paths([path], column="2")
    assert _keys(numbered) == _keys(guessed)
    missing = import_paths([path], column="nope")
    assert missing.errors and "no column 'nope'" in (missing.errors[0].error or "")


def test_a_csv_field_past_the_csv_modules_limit_rejects_its_row_only(tmp_path: Path) -> None:
    # The csv module refuses fields over 128 KiB; that once ended the whole import.
    path = tmp_path / "feed.csv"
    huge = "x" * 200_000
    good = [f"evil-{n}.example.net,ok" for n in range(10)]
    path.write_text("\n".join(["indicator,note", *good[:5], f"bad.example.net,{huge}", *good[5:],
                               f"{huge},d"]) + "\n")  # fmt: skip
    result = import_paths([path])
    assert not result.errors
    assert _keys(result) == {(T.DOMAIN, f"evil-{n}.example.net") for n in range(10)}
    assert _rejects(result) == {(7, "bad-csv-row"), (13, "bad-csv-row")}
    # A file whose first line is such a field has no header at all.
    first = tmp_path / "huge-first.csv"
    first.write_text(f"{huge},x\nindicator,note\nevil-a.example.net,a\n")
    assert import_paths([first], format="csv").errors or not import_paths([first]).indicators


def test_zeek_intel(data_dir: Path) -> None:
    result = import_paths([data_dir / "zeek-intel.dat"])
    assert result.files[0].format == "zeek"
    assert _keys(result) == {
        (T.IPV4, "45.155.165.63"),
        (T.IPV6, "2a0e:97c0:3e3:4a1::1"),
        (T.CIDR, "185.100.87.0/24"),
        (T.DOMAIN, "c2.dragontail.top"),
        (T.URL, "http://update-center.dragontail.top/gate.php"),
        (T.SHA256, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
    }
    assert all(indicator.sources == {"cert-vn"} for indicator in result.indicators)
    assert _rejects(result) == {(8, "unsupported-type"), (9, "bad-zeek-line")}


def test_suricata_string_dataset(data_dir: Path) -> None:
    result = import_paths([data_dir / "suricata-dataset.lst"])
    assert result.files[0].format == "suricata"
    assert _keys(result) == {
        (T.DOMAIN, "c2.dragontail.top"),
        (T.DOMAIN, "login.dragontail-mail.com"),
        (T.DOMAIN, "xn--bcher-kva.de"),
        (T.IPV4, "91.92.241.23"),
    }
    assert _rejects(result) == {(3, "bad-base64")}


def test_maltrail_folder(data_dir: Path) -> None:
    result = import_paths([data_dir / "maltrail"])
    assert {report.format for report in result.files} == {"maltrail"}
    assert result.skipped_files == [str(data_dir / "maltrail" / "LICENSE")]
    values = _by_value(result)
    # File name is the family, folder the category; a trail in two files has both families.
    assert values["dragontail.top"].tags == {"dragontail", "qakbot", "malware"}
    assert values["dragontail.top"].sources == {"maltrail"}
    assert values["5.63.151.0/24"].tags == {"mass_scanner_cidr"}
    assert values["no-ip.example-dyn.com"].tags == {"dynamic_domain", "suspicious"}
    # maltrail semantics: "http://host" alone is the host, "host/path" a URL.
    assert values["45.155.165.63"].type is T.IPV4
    assert values["45.155.165.64:8443"].type is T.IP_PORT
    assert values["http://dragontail-mail.com/wp-admin/gate.php"].type is T.URL
    assert values["track_dt.certuser.info"].type is T.DOMAIN
    assert values["abc123xyz.localto.net"].type is T.HOSTNAME
    assert values["update-center.dragontail.top"].type is T.DOMAIN
    dragontail = str(data_dir / "maltrail" / "malware" / "dragontail.txt")
    rejects = {(r.file, r.line, r.reason) for r in result.rejects}
    assert rejects == {
        (dragontail, 13, "bad-port"),
        (dragontail, 15, "url-path"),
        (dragontail, 16, "regex"),
        (str(data_dir / "maltrail" / "suspicious" / "dynamic_domain.txt"), 4, "public-suffix"),
        (str(data_dir / "maltrail" / "suspicious" / "dynamic_domain.txt"), 5, "public-suffix"),
    }
    assert [(w.line, w.reason) for w in result.warnings] == [(19, "public-suffix-host")]


def test_rpz_zone_from_another_tool(tmp_path: Path) -> None:
    zone = tmp_path / "blocklist.rpz"
    zone.write_text(
        """$TTL 2h
@ IN SOA ns.cert.example. admin.cert.example. (
        2026112801 ; serial
        1h 15m 30d 2h )
  IN NS  ns.cert.example.
; blocked names
dragontail.top        CNAME .
*.dragontail.top      CNAME .
ads.example-evil.net  300 IN CNAME rpz-drop.
walled.example-evil.net CNAME walled-garden.cert.example.
local.example-evil.net A 10.10.10.10
good.dragontail.top   CNAME rpz-passthru.
32.63.165.155.45.rpz-ip CNAME .
24.0.87.100.185.rpz-ip CNAME .
ns1.evil-dns.example.rpz-nsdname CNAME .
garbage line here
"""
    )
    result = import_paths([zone])
    assert result.files[0].format == "rpz"
    assert {i.key for i in result.indicators} == {
        (T.DOMAIN, "dragontail.top"),
        (T.HOSTNAME, "ads.example-evil.net"),
        (T.HOSTNAME, "walled.example-evil.net"),
        (T.HOSTNAME, "local.example-evil.net"),
        (T.IPV4, "45.155.165.63"),
        (T.CIDR, "185.100.87.0/24"),
    }
    assert _rejects(result) == {
        (12, "rpz-passthru"),
        (15, "unsupported-trigger"),
        (16, "bad-rpz-line"),
    }
