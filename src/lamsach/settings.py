"""Portal settings from the environment (prefix ``LAMSACH_``); built explicitly, never at import."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

SECRET_KEY_FILE = "secret_key"


class Settings(BaseSettings):
    """Everything the portal needs to run; ``Settings()`` reads ``LAMSACH_*`` variables."""

    model_config = SettingsConfigDict(env_prefix="LAMSACH_", extra="ignore")

    data_dir: Path = Field(default=Path("data"), description="Folder for the SQLite file and keys.")
    database_url: str = Field(
        default="",
        description="SQLAlchemy URL; empty means the SQLite file lamsach.db in data_dir.",
    )
    secret_key: str = Field(
        default="",
        description="Signs session cookies and CSRF tokens; generated into data_dir when empty.",
    )
    upload_max_bytes: int = Field(default=10 * 1024 * 1024, gt=0)
    login_max_failures: int = Field(default=5, gt=0, description="Failed logins before a lock-out.")
    login_window_seconds: int = Field(default=15 * 60, gt=0, description="Failure window.")
    login_lockout_seconds: int = Field(default=15 * 60, gt=0, description="Lock-out length.")
    default_locale: str = Field(default="vi")
    session_max_age_seconds: int = Field(default=8 * 3600, gt=0)
    sql_echo: bool = False

    @model_validator(mode="before")
    @classmethod
    def _blank_is_default(cls, data: Any) -> Any:
        # An empty environment variable should mean "use the default", not "empty value".
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if not (isinstance(v, str) and v == "")}
        return data

    @model_validator(mode="after")
    def _fill_derived(self) -> Settings:
        if not self.database_url:
            self.database_url = f"sqlite:///{(self.data_dir / 'lamsach.db').resolve()}"
        elif self.database_url.startswith("postgresql://"):
            # psycopg 3 is the driver we ship; the bare scheme would pick psycopg2.
            self.database_url = "postgresql+psycopg://" + self.database_url[len("postgresql://") :]
        elif self.database_url.startswith("postgres://"):
            self.database_url = "postgresql+psycopg://" + self.database_url[len("postgres://") :]
        if not self.secret_key:
            self.secret_key = _load_or_create_secret(self.data_dir)
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def _load_or_create_secret(data_dir: Path) -> str:
    """Read the key kept in ``data_dir``, or make one that only the owner can read."""
    path = data_dir / SECRET_KEY_FILE
    if path.exists():
        key = path.read_text(encoding="ascii").strip()
        if key:
            return key
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    # O_EXCL: two processes starting at once must not overwrite each other's key.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text(encoding="ascii").strip()
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(key + "\n")
    return key
