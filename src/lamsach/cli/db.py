"""``lamsach db``: upgrade, back up and restore the portal's database."""

from __future__ import annotations

import typer

app = typer.Typer(help="Upgrade, back up and restore the portal's database.", no_args_is_help=True)
