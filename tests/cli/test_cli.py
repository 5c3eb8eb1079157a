"""The command line answers for itself."""

from typer.testing import CliRunner

from lamsach import __version__
from lamsach.cli import app


def test_version() -> None:
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == __version__


def test_help_lists_the_parts() -> None:
    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("ioc", "scan", "serve", "demo", "db"):
        assert command in result.output
