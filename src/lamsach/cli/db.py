"""``lamsach db``: upgrade, back up and restore the portal's database."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from lamsach.settings import Settings

app = typer.Typer(help="Upgrade, back up and restore the portal's database.", no_args_is_help=True)


def _where(settings: Settings) -> str:
    from sqlalchemy.engine import make_url

    return make_url(settings.database_url).render_as_string(hide_password=True)


@app.command("upgrade")
def upgrade_command() -> None:
    """Create or upgrade the database schema to this version of lamsach."""
    from lamsach.settings import Settings
    from lamsach.storage.migrate import head_revision, upgrade

    settings = Settings()
    upgrade(settings)
    typer.echo(f"{_where(settings)}: schema at revision {head_revision()}")


@app.command("backup")
def backup_command(
    file: Path = typer.Argument(..., help="Backup file to write (a zip; replaced if it exists)."),
) -> None:
    """Write a consistent backup of the database, even while the portal runs."""
    from lamsach.settings import Settings
    from lamsach.storage.backup import BackupError, backup

    settings = Settings()
    try:
        info = backup(settings, file)
    except BackupError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(
        f"{file}: {info.rows} rows in {len(info.tables)} tables, schema revision {info.revision}"
    )


@app.command("restore")
def restore_command(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="Backup file to restore."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
) -> None:
    """Replace the whole database with a backup (refuses a backup from a newer lamsach)."""
    from lamsach.settings import Settings
    from lamsach.storage.backup import RestoreError, check_restorable, read_meta, restore

    settings = Settings()
    try:
        meta = read_meta(file)
        check_restorable(meta)
    except RestoreError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    if not yes:
        typer.confirm(
            f"Replace every record in {_where(settings)} with the backup of {meta['created_at']}?",
            abort=True,
        )
    try:
        info = restore(settings, file)
    except RestoreError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(
        f"restored {info.rows} rows into {_where(settings)} (backup revision {info.revision})"
    )
