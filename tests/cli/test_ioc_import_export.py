"""``lamsach ioc import`` and ``lamsach ioc export`` end to end on real-shaped lists."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lamsach.cli.app import app
from lamsach.indicators.importer import import_paths
from lamsach.indicators.model import Indicator
from lamsach.indicators.model import IndicatorType as T
from lamsach.matching.index import IndicatorIndex

DATA = Path(__file__).parents[1] / "indicators" / "data"
runner = CliRunner()


def _run(*args: str | Path) -> tuple[int, str]:
    result = runner.invoke(app, [str(arg) for arg in args], catch_exceptions=False)
    return result.exit_code, result.output


def test_import_prints_counts_and_rejects() -> None:
    code, out = _run("ioc", "import", DATA / "defanged.txt", DATA / "maltrail")
    assert code == 0, out
    assert "Indicators by type" in out and "Rejected by reason" in out
    assert "url-path" in out and "public-suffix" in out and "wide-network" in out
    assert "skipped (not lists)" in out and "LICENSE" in out
    assert "defanged.txt:18" not in out  # details only with --show-rejects


def test_show_rejects_gives_file_and_line() -> None:
    code, out = _run("ioc", "import", DATA / "defanged.txt", "--show-rejects")
    assert code == 0
    assert f"{DATA / 'defanged.txt'}:18: url-path '/wp-admin/gate.php'" in out
    assert f"{DATA / 'defanged.txt'}:23: wide-network '10.0.0.0/8'" in out


def test_rejects_out_writes_all(tmp_path: Path) -> None:
    target = tmp_path / "rejects.tsv"
    code, _ = _run("ioc", "import", DATA / "maltrail", "--rejects-out", target)
    assert code == 0
    rows = target.read_text().splitlines()
    assert rows[0] == "file\tline\treason\ttext\tmessage"
    assert any("\t15\turl-path\t/wp-content/plugins/dt/gate.php\t" in row for row in rows)
    assert len(rows) == 1 + 5 + 1  # five rejects and one narrowing warning


def test_max_prefix_option() -> None:
    code, out = _run("ioc", "import", DATA / "threats.tsv", "--max-prefix-v4", "8")
    assert code == 0 and "wide-network" not in out
    code, out = _run("ioc", "import", DATA / "threats.tsv", "--max-prefix-v4", "40")
    assert code == 2


def test_bad_options_and_files_exit_2(tmp_path: Path) -> None:
    code, out = _run("ioc", "import", DATA / "defanged.txt", "--format", "yaml")
    assert code == 2 and "unknown indicator format" in out
    code, out = _run("ioc", "import", DATA / "broken.json", DATA / "zeek-intel.dat")
    assert code == 2
    assert "broken.json" in out and "broken JSON" in out
    assert "ipv4" in out  # the Zeek file was imported all the same
    bad_allow = tmp_path / "allow.txt"
    bad_allow.write_text("not valid\n")
    code, out = _run("ioc", "import", DATA / "defanged.txt", "--allow", bad_allow)
    assert code == 2 and "allow.txt:1" in out


def test_import_out_and_export_round_trip(tmp_path: Path) -> None:
    index = tmp_path / "cert.lsidx"
    sources = [DATA / "misp-event.json", DATA / "zeek-intel.dat", DATA / "hosts.txt"]
    code, out = _run("ioc", "import", *sources, "--out", index, "--allow", DATA / "allow.txt")
    assert code == 0, out
    loaded = IndicatorIndex.load(index)
    imported = import_paths(sources)
    assert {i.key for i in loaded.indicators()} == {i.key for i in imported.indicators}
    assert loaded.allow_count() == 3
    exported = tmp_path / "export.csv"
    code, out = _run("ioc", "export", index, "--format", "csv", "--out", exported)
    assert code == 0, out
    back = import_paths([exported])

    def described(indicators: list[Indicator]) -> set[tuple[object, ...]]:
        return {(i.key, frozenset(i.sources), frozenset(i.tags), frozenset(i.files))
                for i in indicators}  # fmt: skip

    assert described(back.indicators) == described(imported.indicators)
    assert {name for i in back.indicators for name in i.files} == {str(p) for p in sources}


def test_import_with_source_keeps_the_files_for_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "lists").mkdir()
    shutil.copytree(DATA / "maltrail", tmp_path / "lists" / "maltrail")
    shutil.copy(DATA / "zeek-intel.dat", tmp_path / "lists" / "zeek-intel.dat")
    monkeypatch.chdir(tmp_path)
    code, out = _run(
        "ioc", "import", "lists/maltrail", "lists/zeek-intel.dat",
        "--source", "cert-vn", "--out", "all.lsidx",
    )  # fmt: skip
    assert code == 0, out
    code, out = _run("ioc", "check", "all.lsidx", "update-center.dragontail.top")
    assert code == 1
    assert "sources: cert-vn" in out
    assert "files: maltrail/malware/dragontail.txt, maltrail/malware/qakbot.txt" in out
    exported = tmp_path / "export.csv"
    assert _run("ioc", "export", "all.lsidx", "--format", "csv", "--out", exported)[0] == 0
    back = {i.key: i for i in import_paths([exported]).indicators}
    loaded = {i.key: i for i in IndicatorIndex.load(tmp_path / "all.lsidx").indicators()}
    assert back == loaded
    assert {n for i in loaded.values() for n in i.files} >= {"lists/zeek-intel.dat"}


def test_export_formats_from_index(tmp_path: Path) -> None:
    index = tmp_path / "cert.lsidx"
    assert _run("ioc", "import", DATA / "misp-event.json", "--out", index)[0] == 0
    code, out = _run("ioc", "export", index, "--format", "rpz", "--zone", "rpz.cert.vn")
    assert code == 0
    assert "$ORIGIN rpz.cert.vn." in out and "*.dragontail.top CNAME ." in out
    code, out = _run("ioc", "export", index, "--format", "txt", "--types", "ipv4")
    assert code == 0
    assert sorted(out.split()[:2]) == ["45.155.165.63", "91.92.241.23"]
    code, out = _run("ioc", "export", index, "--format", "suricata")
    assert code == 2 and "--out FOLDER" in out
    folder = tmp_path / "suricata"
    code, out = _run("ioc", "export", index, "--format", "suricata", "--out", folder)
    assert code == 0 and (folder / "lamsach.rules").is_file()
    back = import_paths([folder / "lamsach-domains.lst"])
    assert (T.DOMAIN, "dragontail.top") in {i.key for i in back.indicators}


def test_export_errors(tmp_path: Path) -> None:
    code, out = _run("ioc", "export", tmp_path / "none.lsidx", "--format", "txt")
    assert code == 2 and "none.lsidx" in out
    junk = tmp_path / "junk.lsidx"
    junk.write_bytes(b"not an index")
    code, out = _run("ioc", "export", junk, "--format", "txt")
    assert code == 2
    code, out = _run("ioc", "export", junk, "--format", "pdf")
    assert code == 2 and "unknown format" in out
    code, out = _run("ioc", "export", junk, "--format", "txt", "--types", "ipv5")
    assert code == 2


def test_rejected_text_is_printed_literally() -> None:
    # STIX patterns look like rich markup ("[domain-name:value = ...]"); they must show as written.
    code, out = _run("ioc", "import", DATA / "stix-bundle.json", "--show-rejects")
    assert code == 0
    assert "[domain-name:value = 'unterminated]" in out


def test_folder_without_lists(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text("# nothing here\n")
    code, out = _run("ioc", "import", tmp_path)
    assert code == 2 and "no indicator list found" in out
