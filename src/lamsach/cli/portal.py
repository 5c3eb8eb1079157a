"""``lamsach serve`` and ``lamsach demo``: run the campaign portal."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from lamsach.settings import Settings


def _run(settings: Settings, host: str, port: int, workers: int = 1) -> None:
    import uvicorn

    from lamsach.storage.migrate import upgrade
    from lamsach.web.app import create_app

    upgrade(settings)
    scheme_note = "" if host in ("127.0.0.1", "localhost", "::1") else " (put https in front)"
    typer.echo(f"lamsach portal: http://{host}:{port}/{scheme_note}")
    # proxy_headers: behind a TLS proxy on this machine the cookies get the Secure flag.
    options: dict[str, Any] = dict(
        host=host, port=port, proxy_headers=True, forwarded_allow_ips="127.0.0.1", log_level="info"
    )
    if workers <= 1:
        uvicorn.run(create_app(settings), **options)
        return
    # Worker processes build their own app from the environment: hand them these settings.
    os.environ["LAMSACH_DATA_DIR"] = str(settings.data_dir)
    os.environ["LAMSACH_DATABASE_URL"] = settings.database_url
    os.environ["LAMSACH_SECRET_KEY"] = settings.secret_key
    uvicorn.run("lamsach.web.app:create_app_from_env", factory=True, workers=workers, **options)


def serve(
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(8000, help="Port to listen on."),
    workers: int = typer.Option(1, min=1, help="Worker processes (PostgreSQL: one per core)."),
) -> None:
    """Run the portal on the configured database (LAMSACH_DATABASE_URL), upgrading it first."""
    from lamsach.settings import Settings

    _run(Settings(), host, port, workers)


def demo(
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(8000, help="Port to listen on."),
    data_dir: Path = typer.Option(
        Path("demo-data"), "--data-dir", help="Folder for the demo's SQLite database."
    ),
    no_serve: bool = typer.Option(False, "--no-serve", help="Create the data set and stop."),
) -> None:
    """Create a demo city (SQLite in DATA_DIR) and run the portal on it."""
    from lamsach.campaign.demo import create_demo
    from lamsach.storage.db import create_engine_from_settings, make_session_factory, session_scope
    from lamsach.storage.migrate import upgrade

    # The demo always runs on its own SQLite file, whatever LAMSACH_DATABASE_URL says.
    database = (data_dir / "lamsach.db").resolve()
    from lamsach.settings import Settings

    settings = Settings(data_dir=data_dir, database_url=f"sqlite:///{database}")
    fresh = not database.exists()
    upgrade(settings)
    if fresh:
        engine = create_engine_from_settings(settings)
        try:
            with session_scope(make_session_factory(engine)) as db:
                info = create_demo(db)
        finally:
            engine.dispose()
        typer.echo(f"Demo city created in {database}")
        typer.echo(f"Log in at http://{host}:{port}/ with password {info.password!r} as:")
        # The city's people, then one officer of a department, a ward and a commune.
        shown = info.logins[:4]
        for prefix in ("vanphong", "p.", "x."):
            shown += [login for login in info.logins if login[0].startswith(prefix)][:1]
        for username, role, unit in shown:
            typer.echo(f"  {username:<14} {role:<14} {unit}")
        typer.echo(f"  ... one officer per unit ({len(info.logins)} logins in all).")
    else:
        typer.echo(f"Using the existing demo database {database} (delete it to start afresh).")
    if not no_serve:
        _run(settings, host, port)
