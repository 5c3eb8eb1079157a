"""``lamsach ioc``: import, inspect, check and export indicator lists."""

from __future__ import annotations

import typer

from lamsach.cli import ioc_index

app = typer.Typer(help="Import, inspect, check and export indicator lists.", no_args_is_help=True)
app.command("stats")(ioc_index.stats)
app.command("check")(ioc_index.check)
