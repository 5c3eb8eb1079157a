"""``create_app(settings)``: the FastAPI portal with its pages, JSON API, security and languages."""

from __future__ import annotations

from pathlib import Path

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.sessions import SessionMiddleware
from starlette.responses import Response

from lamsach import __version__
from lamsach.campaign.errors import (
    Conflict,
    DomainError,
    ImportFailed,
    InvalidState,
    NotFound,
    PermissionDenied,
    ValidationFailed,
)
from lamsach.settings import Settings
from lamsach.storage.db import create_engine_from_settings, make_session_factory
from lamsach.web import messages
from lamsach.web.capacity import ConcurrencyLimitMiddleware, request_slots
from lamsach.web.deps import (
    TOKEN_SALT,
    CsrfRejected,
    NotAuthenticated,
    Portal,
    csrf_protect,
    make_templates,
    render,
    request_locale,
)
from lamsach.web.routes import ROUTERS
from lamsach.web.security import BodySizeLimitMiddleware, SecurityHeadersMiddleware

STATIC_DIR = Path(__file__).parent / "static"
SESSION_COOKIE = "lamsach_session"


def _is_api(request: Request) -> bool:
    return request.url.path.startswith("/api")


def _status_of(error: DomainError) -> int:
    if isinstance(error, NotFound):
        return 404
    if isinstance(error, PermissionDenied):
        return 403
    if isinstance(error, InvalidState | Conflict):
        return 409
    if isinstance(error, ValidationFailed | ImportFailed):
        return 422
    return 400


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(NotAuthenticated)
    async def _not_authenticated(request: Request, _exc: NotAuthenticated) -> Response:
        if _is_api(request):
            return JSONResponse(
                {"error": "not_authenticated", "message": "Log in or send a bearer token."},
                status_code=401,
                headers={"www-authenticate": "Bearer"},
            )
        target = request.url.path
        if request.url.query:
            target += "?" + request.url.query
        return RedirectResponse(
            request.app.url_path_for("login_page") + "?next=" + messages.quote_next(target),
            status_code=303,
        )

    @app.exception_handler(CsrfRejected)
    async def _csrf(request: Request, _exc: CsrfRejected) -> Response:
        text = messages.translate(request_locale(request), "csrf.rejected", {})
        if _is_api(request) or request.headers.get("hx-request"):
            return JSONResponse({"error": "csrf", "message": text}, status_code=403)
        return render(request, "error.html", {"message": text, "status": 403}, 403)

    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError) -> Response:
        status = _status_of(exc)
        locale = request_locale(request)
        body = messages.error_body(exc, locale)
        if _is_api(request) or request.headers.get("hx-request"):
            return JSONResponse(body, status_code=status)
        return render(request, "error.html", {"message": body["message"], "status": status}, status)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        if _is_api(request) or exc.status_code != 404:
            return JSONResponse(
                {"error": "http", "message": exc.detail}, exc.status_code, headers=exc.headers
            )
        text = messages.translate(request_locale(request), "page.not_found", {})
        return render(request, "error.html", {"message": text, "status": 404}, 404)

    @app.exception_handler(OverflowError)
    @app.exception_handler(DataError)
    async def _out_of_range(request: Request, _exc: Exception) -> Response:
        # A number no column can hold (an id of thirty digits in the address or the body):
        # SQLite refuses to bind it, PostgreSQL to store it. The request's fault, not a 500.
        text = messages.translate(request_locale(request), "request.invalid", {})
        if _is_api(request):
            return JSONResponse({"error": "invalid_request", "message": text}, status_code=422)
        return render(request, "error.html", {"message": text, "status": 400}, 400)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        if _is_api(request):
            return JSONResponse(
                {"error": "invalid_request", "detail": messages.jsonable(exc.errors())},
                status_code=422,
            )
        text = messages.translate(request_locale(request), "request.invalid", {})
        return render(request, "error.html", {"message": text, "status": 400}, 400)


def create_app(settings: Settings) -> FastAPI:
    """The portal for ``settings``; the database schema must already be upgraded."""
    engine = create_engine_from_settings(settings)
    portal = Portal(
        settings=settings,
        engine=engine,
        sessions=make_session_factory(engine),
        templates=make_templates(),
        tokens=URLSafeTimedSerializer(settings.secret_key, salt=TOKEN_SALT),
    )
    app = FastAPI(
        title="lamsach campaign portal",
        version=__version__,
        description="Units, users, campaigns, report forms, completeness and approval.",
        openapi_url="/api/openapi.json",
        docs_url=None,
        redoc_url=None,
        dependencies=[Depends(csrf_protect)],
    )
    app.state.portal = portal
    _install_error_handlers(app)

    for router in ROUTERS:
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    # Outermost last: admission, size limit, headers on every answer, then the session.
    app.add_middleware(
        SessionMiddleware,
        secret_key=settings.secret_key,
        session_cookie=SESSION_COOKIE,
        max_age=settings.session_max_age_seconds,
        same_site="lax",
        https_only=False,
    )
    app.add_middleware(SecurityHeadersMiddleware)
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.upload_max_bytes)
    app.add_middleware(ConcurrencyLimitMiddleware, slots=request_slots(engine))
    return app


def create_app_from_env() -> FastAPI:
    """The factory uvicorn's worker processes call (``lamsach serve --workers N``)."""
    return create_app(Settings())
