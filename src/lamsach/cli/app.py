"""The ``lamsach`` commands (Typer), each a thin layer over a part of the package."""

from __future__ import annotations

import typer

from lamsach import __version__
from lamsach.cli import db, ioc, portal, scan

app = typer.Typer(
    name="lamsach",
    help="lamsach (làm sạch): run a malware-cleanup campaign across public units.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(ioc.app, name="ioc")
app.command("scan")(scan.scan)
app.add_typer(db.app, name="db")
app.command("serve")(portal.serve)
app.command("demo")(portal.demo)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(__version__)
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_print_version, is_eager=True, help="Print the version."
    ),
) -> None:
    """lamsach (làm sạch): run a malware-cleanup campaign across public units."""
