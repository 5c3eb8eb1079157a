"""``lamsach serve`` and ``lamsach demo``: run the campaign portal."""

from __future__ import annotations

import typer


def serve(
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(8000, help="Port to listen on."),
) -> None:
    """Run the portal on the configured database."""
    raise typer.Exit(2)


def demo(
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(8000, help="Port to listen on."),
) -> None:
    """Create a demo city and run the portal on it (SQLite)."""
    raise typer.Exit(2)
