"""The command line answers for itself."""

from pathlib import Path

import typer
from typer.testing import CliRunner

from lamsach import __version__
from lamsach.cli import EARLY_WORKERS_BYTES, SCAN_VALUE_OPTIONS, big_scan
from lamsach.cli.app import app


def test_version() -> None:
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == __version__


def test_help_lists_the_parts() -> None:
    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("ioc", "scan", "serve", "demo", "db"):
        assert command in result.output


def test_a_big_scan_is_known_before_the_commands_are_loaded(tmp_path: Path) -> None:
    # main() starts the scan workers' server early for big logs; it reads the arguments itself.
    big, small = tmp_path / "big.log", tmp_path / "small.log"
    with open(big, "wb") as f:
        f.truncate(EARLY_WORKERS_BYTES)
    small.write_text("x\n")
    index = str(big)  # an option's value is no log, however big
    assert big_scan(["scan", str(big), "--ioc", "i.lsidx", "-w", "2"])
    assert big_scan(["scan", "--workers=2", str(small), str(big), "-i", "x"])
    assert not big_scan(["scan", str(small), "--ioc", index, "-w", "2"])
    assert not big_scan(["scan", str(big), "--ioc", "i.lsidx", "--workers", "1"])
    assert not big_scan(["scan", str(big), "-w1"])
    assert not big_scan(["ioc", "import", str(big)])
    assert not big_scan([])
    # Folders are walked for it too, until enough is found.
    folder = tmp_path / "logs" / "2026-11-28"
    folder.mkdir(parents=True)
    (folder / "small.log").write_text("x\n")
    assert not big_scan(["scan", str(tmp_path / "logs"), "-w", "2"])
    big.rename(folder / "big.log")
    assert big_scan(["scan", str(tmp_path / "logs"), "-w", "2"])


def test_big_scan_knows_every_option_of_scan_that_takes_a_value() -> None:
    command = typer.main.get_command(app).commands["scan"]  # type: ignore[attr-defined]
    takes_value = {
        name
        for param in command.params
        if isinstance(param, typer.core.TyperOption) and not param.is_flag
        for name in param.opts
    }
    assert takes_value == SCAN_VALUE_OPTIONS
