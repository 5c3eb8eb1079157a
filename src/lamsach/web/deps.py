"""Per-request plumbing: the portal state, database session, current user, CSRF and rendering."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.templating import Jinja2Templates
from itsdangerous import BadSignature, URLSafeTimedSerializer
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker
from starlette.responses import Response

from lamsach.settings import Settings
from lamsach.storage.models import User
from lamsach.web import i18n
from lamsach.web.nav import capabilities
from lamsach.web.security import (
    CSRF_FORM_FIELD,
    CSRF_HEADER,
    SAFE_METHODS,
    csrf_token,
    csrf_valid,
)

TEMPLATE_DIR = Path(__file__).parent / "templates"
SESSION_USER = "uid"
SESSION_LOCALE = "locale"
LOCALE_COOKIE = "lamsach_lang"
TOKEN_SALT = "lamsach-api-token"
# Asking for a bearer token uses no cookie and changes no state a forger could exploit.
CSRF_EXEMPT = frozenset({"/api/auth/token"})


class NotAuthenticated(Exception):
    """No valid session or bearer token: pages redirect to the login, the API answers 401."""


class CsrfRejected(Exception):
    """A state-changing request from a session came without the session's CSRF token."""


@dataclass
class Portal:
    """What the application holds for its whole life (built once by ``create_app``)."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    templates: Jinja2Templates
    tokens: URLSafeTimedSerializer


def make_templates() -> Jinja2Templates:
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATE_DIR)),
        autoescape=select_autoescape(default=True, default_for_string=True),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return Jinja2Templates(env=env)


def get_portal(request: Request) -> Portal:
    portal: Portal = request.app.state.portal
    return portal


async def get_db(request: Request) -> AsyncIterator[Session]:
    """A session per request; routes commit their own changes before answering.

    Async on purpose: a sync generator's clean-up waits for a worker thread, and when every
    worker waits for a pooled connection that only such a clean-up returns, the portal hangs.
    """
    session = get_portal(request).sessions()
    try:
        yield session
    finally:
        # close() rolls back what was not committed but, unlike rollback(), leaves loaded objects
        # readable: the error page still shows who is logged in.
        session.close()


Db = Annotated[Session, Depends(get_db)]


def client_ip(request: Request) -> str:
    return request.client.host if request.client else ""


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


def issue_token(portal: Portal, user: User) -> str:
    # The password hash's tail is signed in: changing the password revokes older tokens.
    return portal.tokens.dumps({"uid": user.id, "pw": user.password_hash[-16:]})


def _user_from_token(portal: Portal, db: Session, token: str) -> User | None:
    try:
        data = portal.tokens.loads(token, max_age=portal.settings.session_max_age_seconds)
    except BadSignature:
        return None
    if not isinstance(data, dict):
        return None
    user = db.get(User, data.get("uid"))
    if user is None or not user.is_active or user.password_hash[-16:] != data.get("pw"):
        return None
    return user


def optional_user(request: Request, db: Db) -> User | None:
    """The user behind the bearer token or the session cookie, if any."""
    if hasattr(request.state, "user"):
        cached: User | None = request.state.user
        return cached
    user: User | None = None
    token = bearer_token(request)
    if token is not None:
        user = _user_from_token(get_portal(request), db, token)
    else:
        uid = request.session.get(SESSION_USER)
        if isinstance(uid, int):
            user = db.get(User, uid)
            if user is not None and not user.is_active:
                user = None
    request.state.user = user
    return user


def require_user(user: Annotated[User | None, Depends(optional_user)]) -> User:
    if user is None:
        raise NotAuthenticated
    return user


CurrentUser = Annotated[User, Depends(require_user)]
MaybeUser = Annotated[User | None, Depends(optional_user)]


async def csrf_protect(request: Request) -> None:
    """Every state-changing request made with the session cookie must carry its CSRF token.

    Bearer-token clients send no cookie, so a forged cross-site request cannot ride on them.
    """
    if request.method in SAFE_METHODS or bearer_token(request) is not None:
        return
    if request.url.path in CSRF_EXEMPT:
        return
    supplied = request.headers.get(CSRF_HEADER)
    if supplied is None:
        content_type = request.headers.get("content-type", "")
        if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            form = await request.form()
            value = form.get(CSRF_FORM_FIELD)
            supplied = value if isinstance(value, str) else None
    if not csrf_valid(request.session, supplied):
        raise CsrfRejected


def request_locale(request: Request) -> str:
    return i18n.pick_locale(
        request.cookies.get(LOCALE_COOKIE),
        request.session.get(SESSION_LOCALE),
        get_portal(request).settings.default_locale,
    )


def flash(request: Request, kind: str, text: str) -> None:
    """A message shown once on the next page (kind: ok, bad, info)."""
    request.session.setdefault("flash", []).append([kind, text])


def t(request: Request, message: str, **variables: Any) -> str:
    """Translate a message for this request's language."""
    return i18n.gettext(request_locale(request), message, **variables)


def render(
    request: Request,
    name: str,
    context: dict[str, Any] | None = None,
    status_code: int = 200,
    user: User | None = None,
) -> Response:
    """A page in the request's language, with the helpers every template uses."""
    locale = request_locale(request)
    gettext, ngettext = i18n.jinja_gettext(locale)
    if user is None:
        cached = getattr(request.state, "user", None)
        user = cached if isinstance(cached, User) else None
    ctx: dict[str, Any] = {
        "locale": locale,
        "languages": i18n.LANGUAGE_NAMES,
        "csrf_token": csrf_token(request.session),
        "user": user,
        "can": capabilities(request, user),
        "flashes": request.session.pop("flash", []),
        "gettext": gettext,
        "ngettext": ngettext,
        "_": gettext,
        "num": lambda value: i18n.fmt_number(value, locale),
        "pct": lambda value: i18n.fmt_percent(value, locale),
        "date": lambda value: i18n.fmt_date(value, locale),
        "datetime": lambda value: i18n.fmt_datetime(value, locale),
        "nav": "",
        # Paths, not absolute URLs: links must not depend on the Host header a client sends.
        "url_for": lambda name, **params: str(request.app.url_path_for(name, **params)),
    }
    ctx.update(context or {})
    return get_portal(request).templates.TemplateResponse(request, name, ctx, status_code)
