"""``lamsach ioc stats`` and ``lamsach ioc check``: questions asked of a compiled index."""

from __future__ import annotations

import typer


def stats(index: str = typer.Argument(..., help="Compiled index file.")) -> None:
    """Counts of a compiled index by indicator type and source."""
    raise typer.Exit(2)


def check(
    index: str = typer.Argument(..., help="Compiled index file."),
    values: list[str] = typer.Argument(..., help="IPs, host names, URLs or hashes to look up."),
) -> None:
    """Say for each value whether and why it is listed."""
    raise typer.Exit(2)
