"""Log in and out, the language switch, and bearer tokens for API clients."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import JSONResponse, RedirectResponse
from pydantic import BaseModel
from starlette.responses import Response

from lamsach.campaign import audit, users
from lamsach.storage.models import User
from lamsach.web import i18n, messages
from lamsach.web.deps import (
    LOCALE_COOKIE,
    SESSION_LOCALE,
    SESSION_USER,
    CurrentUser,
    Db,
    MaybeUser,
    client_ip,
    csrf_token,
    get_portal,
    issue_token,
    render,
    request_locale,
)
from lamsach.web.schemas import UserOut, user_out

router = APIRouter()
YEAR = 365 * 24 * 3600


def safe_next(target: str | None) -> str:
    """Only a path on this site: never an absolute URL or a scheme-relative //host."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/tasks"
    return target


def _check_login(request: Request, db: Db, username: str, password: str) -> User | str:
    """The user, or the message id of why not (throttled, wrong password)."""
    settings = get_portal(request).settings
    ip = client_ip(request)
    if audit.login_locked(
        db,
        username.strip().lower(),
        ip,
        max_failures=settings.login_max_failures,
        window_seconds=settings.login_window_seconds,
        lockout_seconds=settings.login_lockout_seconds,
    ):
        audit.record(
            db, "login.throttled", username=username.strip().lower(), client_ip=ip, success=False
        )
        db.commit()
        return "login.throttled"
    user = users.authenticate(db, username, password, client_ip=ip)
    db.commit()
    return user if user is not None else "login.failed"


@router.get("/", name="home", include_in_schema=False)
def home(user: MaybeUser) -> Response:
    return RedirectResponse("/tasks" if user else "/login", status_code=303)


@router.get("/login", name="login_page", include_in_schema=False)
def login_page(request: Request, user: MaybeUser, next: str = "/tasks") -> Response:
    if user is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return render(request, "login.html", {"next": safe_next(next), "username": "", "error": ""})


@router.post("/login", name="login", include_in_schema=False)
def login(
    request: Request,
    db: Db,
    username: Annotated[str, Form(max_length=200)],
    password: Annotated[str, Form(max_length=1000)],
    next: Annotated[str, Form()] = "/tasks",
) -> Response:
    outcome = _check_login(request, db, username, password)
    if isinstance(outcome, str):
        status = 429 if outcome == "login.throttled" else 401
        text = messages.translate(request_locale(request), outcome, {})
        context = {"next": safe_next(next), "username": username, "error": text}
        return render(request, "login.html", context, status)
    # A fresh session on login: nothing from before (a planted CSRF token) carries over.
    locale = request.session.get(SESSION_LOCALE)
    request.session.clear()
    request.session[SESSION_USER] = outcome.id
    if locale:
        request.session[SESSION_LOCALE] = locale
    csrf_token(request.session)
    return RedirectResponse(safe_next(next), status_code=303)


@router.post("/logout", name="logout", include_in_schema=False)
def logout(request: Request, db: Db, user: MaybeUser) -> Response:
    if user is not None:
        audit.record(db, audit.LOGOUT, user=user, client_ip=client_ip(request))
        db.commit()
    locale = request.session.get(SESSION_LOCALE)
    request.session.clear()
    if locale:
        request.session[SESSION_LOCALE] = locale
    return RedirectResponse("/login", status_code=303)


@router.post("/language", name="set_language", include_in_schema=False)
def set_language(
    request: Request,
    locale: Annotated[str, Form()],
    next: Annotated[str, Form()] = "/tasks",
) -> Response:
    chosen = locale if locale in i18n.LOCALES else i18n.LOCALES[0]
    request.session[SESSION_LOCALE] = chosen
    response = RedirectResponse(safe_next(next), status_code=303)
    response.set_cookie(LOCALE_COOKIE, chosen, max_age=YEAR, httponly=True, samesite="lax")
    return response


class TokenRequest(BaseModel):
    username: str
    password: str


class TokenOut(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int


class LanguageIn(BaseModel):
    locale: str


@router.post("/api/auth/token", response_model=TokenOut, tags=["auth"])
def api_token(request: Request, db: Db, body: TokenRequest) -> Response:
    """A bearer token for scripts (valid for the session lifetime; a new password revokes it)."""
    outcome = _check_login(request, db, body.username, body.password)
    if isinstance(outcome, str):
        status = 429 if outcome == "login.throttled" else 401
        text = messages.translate(request_locale(request), outcome, {})
        return JSONResponse({"error": outcome, "message": text}, status_code=status)
    portal = get_portal(request)
    token = TokenOut(
        access_token=issue_token(portal, outcome),
        expires_in=portal.settings.session_max_age_seconds,
    )
    return JSONResponse(token.model_dump())


@router.get("/api/me", response_model=UserOut, tags=["auth"])
def api_me(user: CurrentUser) -> UserOut:
    return user_out(user)


@router.post("/api/language", tags=["auth"])
def api_language(request: Request, body: LanguageIn) -> dict[str, str]:
    """Choose the language of messages (vi or en) for this session."""
    chosen = body.locale if body.locale in i18n.LOCALES else i18n.LOCALES[0]
    request.session[SESSION_LOCALE] = chosen
    return {"locale": chosen}
