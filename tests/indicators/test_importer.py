"""The importer: detection, forcing, bad files, encodings and duplicate merging."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from lamsach.indicators.formats import detect_format, get_format
from lamsach.indicators.importer import import_paths
from lamsach.indicators.model import IndicatorType as T


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("defanged.txt", "txt"),
        ("hosts.txt", "hosts"),
        ("urlhaus.csv", "csv"),
        ("threats.tsv", "csv"),
        ("zeek-intel.dat", "zeek"),
        ("suricata-dataset.lst", "suricata"),
        ("stix-bundle.json", "stix"),
        ("misp-event.json", "misp"),
        ("maltrail/malware/dragontail.txt", "maltrail"),
    ],
)
def test_detection(data_dir: Path, name: str, expected: str) -> None:
    path = data_dir / name
    assert detect_format(path.read_text(encoding="utf-8"), path).name == expected


def test_unknown_format_name() -> None:
    with pytest.raises(ValueError, match="unknown indicator format"):
        get_format("yaml")
    assert get_format("tsv").name == "csv"


def test_forced_format(tmp_path: Path) -> None:
    # Two IP-and-name columns look like a hosts file; forced as plain text each line is one value.
    path = tmp_path / "pairs.txt"
    path.write_text("45.155.165.63 evil-a.example.net\n45.155.165.64 evil-b.example.net\n")
    assert {i.value for i in import_paths([path]).indicators} == {
        "evil-a.example.net",
        "evil-b.example.net",
    }
    forced = import_paths([path], format="txt")
    assert forced.indicators == []
    assert forced.reject_counts == {"bad-domain": 2}


def test_malformed_files_are_named_and_the_rest_goes_on(tmp_path: Path, data_dir: Path) -> None:
    binary = tmp_path / "junk.bin"
    binary.write_bytes(bytes(range(256)) * 8)
    result = import_paths(
        [data_dir / "broken.json", binary, tmp_path / "missing.txt", data_dir / "zeek-intel.dat"]
    )
    errors = {Path(report.file).name: report.error for report in result.errors}
    assert set(errors) == {"broken.json", "junk.bin", "missing.txt"}
    assert "broken JSON" in (errors["broken.json"] or "")
    assert "binary" in (errors["junk.bin"] or "")
    assert "cannot read" in (errors["missing.txt"] or "")
    assert len(result.indicators) == 6  # the Zeek file was still read


def test_invalid_utf8_lines_are_rejected_not_the_file(tmp_path: Path) -> None:
    path = tmp_path / "latin1.txt"
    path.write_bytes(b"good.example-evil.net\nbad\xe9name.example.net\n45.155.165.63\n")
    result = import_paths([path])
    assert {i.value for i in result.indicators} == {"good.example-evil.net", "45.155.165.63"}
    assert [(r.line, r.reason) for r in result.rejects] == [(2, "bad-encoding")]


def test_compressed_list(tmp_path: Path) -> None:
    path = tmp_path / "list.txt.gz"
    path.write_bytes(gzip.compress(b"# gz\nevil-gz.example.net\n"))
    assert [i.value for i in import_paths([path]).indicators] == ["evil-gz.example.net"]


def test_empty_file_is_fine(tmp_path: Path) -> None:
    path = tmp_path / "empty.txt"
    path.write_text("")
    result = import_paths([path])
    assert result.indicators == [] and result.errors == [] and result.rejects == []


def test_duplicates_merge_sources_and_tags(tmp_path: Path) -> None:
    first = tmp_path / "a.csv"
    first.write_text("domain,family\nEvil.example-evil.net,Emotet\n")
    second = tmp_path / "b.csv"
    second.write_text(
        "domain,family\nevil.example-evil.net.,QakBot\nEVIL.example-evil.net,Emotet\n"
    )
    result = import_paths([first, second])
    assert len(result.indicators) == 1
    merged = result.indicators[0]
    assert merged.key == (T.DOMAIN, "evil.example-evil.net")
    assert merged.sources == {"a", "b"}
    assert merged.tags == {"Emotet", "QakBot"}
    assert [report.accepted for report in result.files] == [1, 2]


def test_source_option_overrides_list_names(data_dir: Path) -> None:
    result = import_paths([data_dir / "zeek-intel.dat"], source="national-cert")
    assert {s for i in result.indicators for s in i.sources} == {"national-cert"}


def test_every_line_is_accounted_for(data_dir: Path) -> None:
    result = import_paths([data_dir / "maltrail"])
    for report in result.files:
        # Entries are accepted (perhaps as duplicates) or rejected, never lost.
        assert report.accepted + report.rejected == report.entries, report.file


def test_whole_folder_of_mixed_lists(data_dir: Path) -> None:
    result = import_paths([data_dir])
    assert [Path(report.file).name for report in result.errors] == ["broken.json"]
    skipped = {Path(p).name for p in result.skipped_files}
    assert skipped == {"LICENSE", "hashes.csv"}  # the nested MISP feed is read by its manifest
    formats = {report.format for report in result.files if report.format}
    assert formats == {"txt", "hosts", "csv", "zeek", "suricata", "stix", "misp", "maltrail"}


def test_unknown_json_is_an_error_not_junk_lines(tmp_path: Path) -> None:
    path = tmp_path / "other.json"
    path.write_text('{\n  "results": [\n    {"domain": "evil.example-evil.net"}\n  ]\n}\n')
    result = import_paths([path])
    assert result.rejects == []
    assert "neither a STIX bundle nor MISP" in (result.errors[0].error or "")
    # A plain list whose first line is a bracketed IPv6 with port is still a list.
    listed = tmp_path / "list.txt"
    listed.write_text("[2a0e:97c0:3e3:4a1::7]:443\n")
    assert [i.value for i in import_paths([listed]).indicators] == ["[2a0e:97c0:3e3:4a1::7]:443"]


def test_standard_input(monkeypatch: pytest.MonkeyPatch) -> None:
    import io
    import sys

    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"evil-in.example.net\n")))
    result = import_paths(["-"])
    assert [(i.value, i.sources) for i in result.indicators] == [("evil-in.example.net", {"stdin"})]


def test_excel_unicode_text_is_utf16_tsv(tmp_path: Path) -> None:
    path = tmp_path / "from-excel.txt"
    table = "indicator\tfamily\nbình-dương-evil.vn\tDragonTail\n45.155.165.63\tDragonTail\n"
    path.write_bytes(table.encode("utf-16"))  # with the byte-order mark, as Excel writes it
    result = import_paths([path])
    assert result.files[0].format == "csv"
    assert {i.value for i in result.indicators} == {"xn--bnh-dng-evil-ffb25wog.vn", "45.155.165.63"}
    assert all(i.tags == {"DragonTail"} for i in result.indicators)


def test_adblock_style_rules(tmp_path: Path) -> None:
    path = tmp_path / "adguard.txt"
    path.write_text("! Title: unit block list\n||Evil-Ads.example.net^\n||tracker.example.org^\n")
    assert {i.key for i in import_paths([path]).indicators} == {
        (T.DOMAIN, "evil-ads.example.net"),
        (T.DOMAIN, "tracker.example.org"),
    }


def test_wrong_shapes_refuse_the_file_not_the_import(tmp_path: Path) -> None:
    odd = tmp_path / "odd-stix.json"
    odd.write_text(
        '{"type": "bundle", "objects": [{"type": "indicator", "labels": 5,'
        ' "pattern": "[domain-name:value = \'a.example-evil.net\']"}]}'
    )
    deep = tmp_path / "deep.json"
    deep.write_text('{"Event": ' + "[" * 100_000 + "]" * 100_000 + "}")
    good = tmp_path / "good.txt"
    good.write_text("fine.example-evil.net\n")
    result = import_paths([odd, deep, good])
    errors = {Path(r.file).name: r.error or "" for r in result.errors}
    assert set(errors) == {"odd-stix.json", "deep.json"}
    assert errors["odd-stix.json"].startswith("malformed stix: TypeError")
    assert [i.value for i in result.indicators] == ["fine.example-evil.net"]


def test_files_are_the_paths_as_given_and_united_on_merge(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "cert").mkdir()
    (tmp_path / "cert" / "week-47.txt").write_text("evil.example-evil.net\n45.155.165.63\n")
    (tmp_path / "extra.csv").write_text("domain\nEVIL.example-evil.net\n")
    monkeypatch.chdir(tmp_path)
    result = import_paths(["cert/week-47.txt", Path("extra.csv")], source="national-cert")
    files = {i.value: i.files for i in result.indicators}
    assert files == {
        "evil.example-evil.net": {"cert/week-47.txt", "extra.csv"},
        "45.155.165.63": {"cert/week-47.txt"},
    }
    assert {s for i in result.indicators for s in i.sources} == {"national-cert"}
    # One string per file however many indicators carry it (the import stays light).
    assert len({id(name) for i in result.indicators for name in i.files}) == 2


def test_files_found_in_a_folder_are_named_from_that_folder(data_dir: Path) -> None:
    result = import_paths([data_dir / "maltrail"], source="maltrail")
    files = {i.value: i.files for i in result.indicators}
    assert files["photosync-dt.com"] == {"maltrail/malware/dragontail.txt"}
    assert files["dragontail.top"] == {  # listed in both families
        "maltrail/malware/dragontail.txt",
        "maltrail/malware/qakbot.txt",
    }
    assert files["no-ip.example-dyn.com"] == {"maltrail/suspicious/dynamic_domain.txt"}
    assert files["5.63.151.0/24"] == {"maltrail/mass_scanner_cidr.txt"}
    everywhere = {name for names in files.values() for name in names}
    assert everywhere == {
        "maltrail/malware/dragontail.txt",
        "maltrail/malware/qakbot.txt",
        "maltrail/mass_scanner_cidr.txt",
        "maltrail/suspicious/dynamic_domain.txt",
    }


def test_a_folder_given_as_dot_is_named_by_its_real_name(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(data_dir / "maltrail" / "malware")
    result = import_paths(["."])
    assert {name for i in result.indicators for name in i.files} == {
        "malware/dragontail.txt",
        "malware/qakbot.txt",
    }
    monkeypatch.chdir(data_dir / "maltrail" / "suspicious")
    result = import_paths([".."])
    assert "maltrail/malware/qakbot.txt" in {name for i in result.indicators for name in i.files}


def test_misp_feed_events_are_named_from_the_folder(data_dir: Path) -> None:
    result = import_paths([data_dir / "misp-feed"])
    names = {name for i in result.indicators for name in i.files}
    assert names and all(name.startswith("misp-feed/") for name in names)
    assert all(name.endswith(".json") and "/" not in name[10:] for name in names)


def test_standard_input_is_named_dash(monkeypatch: pytest.MonkeyPatch) -> None:
    import io
    import sys

    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"evil-in.example.net\n")))
    (indicator,) = import_paths(["-"]).indicators
    assert indicator.files == {"-"}


def test_merge_unites_files() -> None:
    from lamsach.indicators.model import Indicator

    first = Indicator(T.DOMAIN, "evil.example-evil.net", {"a"}, files={"a.txt"})
    first.merge(Indicator(T.DOMAIN, "evil.example-evil.net", {"b"}, files={"b.txt", "a.txt"}))
    assert first.files == {"a.txt", "b.txt"} and first.sources == {"a", "b"}
