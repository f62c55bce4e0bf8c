"""The app factory: pages, JSON API, sessions, language, security headers and error pages.

`create_app(settings)` wires the routers of `consumer`, `backup`, `locker`, `portal` and
`audits`, the repayment API, the signed session cookie, the body-size limits, the static
files and the background audit worker, and answers every error with a page (or JSON under
``/api``) that never shows a stack trace.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.base import RequestResponseEndpoint
from starlette.middleware.sessions import SessionMiddleware

from collectguard._version import __version__
from collectguard.normalize import show_bidi_controls
from collectguard.web.audits import AuditRunner
from collectguard.web.audits import router as audits_router
from collectguard.web.backup import router as backup_router
from collectguard.web.consumer import api_router, page_router
from collectguard.web.db import open_database
from collectguard.web.deps import LoginRequired, WebContext, render
from collectguard.web.i18n import LANG_COOKIE, pick_lang
from collectguard.web.locker import purge_expired
from collectguard.web.locker import router as locker_router
from collectguard.web.portal import router as portal_router
from collectguard.web.security import BodySizeLimit, LoginLimiter
from collectguard.web.settings import WebSettings
from collectguard.web.verdict import local_time, yuan

__all__ = ["create_app"]

_HERE = Path(__file__).parent
_log = logging.getLogger(__name__)

_CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(_HERE / "templates"),
        autoescape=True,  # every template is HTML: pasted text must render inert
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["yuan"] = yuan
    env.filters["local_time"] = local_time
    env.filters["show_bidi"] = show_bidi_controls
    return env


def create_app(settings: WebSettings | None = None) -> FastAPI:
    """The web app: consumer checker, borrower portal, staff dashboard and JSON API."""
    settings = settings or WebSettings.from_env()
    _engine, sessions = open_database(settings.database_url())
    runner = AuditRunner(settings, sessions)

    def purge_now() -> None:
        with sessions() as db:
            purge_expired(db, settings)

    async def purge_on_a_timer(every_s: float) -> None:
        """Temporary lockers are deleted when their time runs out, not only when someone
        creates or visits one (the page promises deletion after two hours)."""
        while True:
            await asyncio.sleep(every_s)
            try:
                await asyncio.to_thread(purge_now)
            except Exception:  # a failed pass is retried on the next tick
                _log.exception("purging expired temporary lockers failed")

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        timer = None
        if settings.locker_purge_interval_s > 0:
            timer = asyncio.create_task(purge_on_a_timer(settings.locker_purge_interval_s))
        try:
            yield
        finally:
            if timer is not None:
                timer.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await timer
            runner.shutdown()

    app = FastAPI(
        title="collectguard",
        description=(
            "催收短信体检与借款人服务门户的 JSON API。\n\n"
            "JSON API of the collection-message checker and the borrower portal."
        ),
        version=__version__,
        docs_url=None,  # Swagger UI loads from a CDN; the app makes no outside requests
        redoc_url=None,
        openapi_url="/api/openapi.json",
        lifespan=lifespan,
    )
    app.state.web = WebContext(
        settings=settings,
        sessions=sessions,
        limiter=LoginLimiter(
            max_failures=settings.login_max_failures,
            max_failures_per_client=settings.login_max_failures_per_client,
            window_s=settings.login_window_s,
            clock=settings.clock,
        ),
        env=_environment(),
    )
    app.state.audit_runner = runner
    purge_now()  # temporary lockers whose time ran out while the app was stopped
    runner.resume()

    app.include_router(page_router)
    app.include_router(portal_router)
    app.include_router(backup_router)
    app.include_router(locker_router)
    app.include_router(audits_router)
    app.include_router(api_router)
    from collectguard.repayment.http import router as repayment_router

    app.include_router(repayment_router, prefix="/api")
    # check_dir=False: a wheel built without the css/js package-data still starts.
    static = StaticFiles(directory=_HERE / "static", check_dir=False)
    app.mount("/static", static, name="static")

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.middleware("http")
    async def language_and_headers(
        request: Request, call_next: RequestResponseEndpoint
    ) -> Response:
        chosen = request.query_params.get("lang")
        request.state.lang = pick_lang(chosen, request.cookies.get(LANG_COOKIE))
        response = await call_next(request)
        if chosen is not None and chosen == request.state.lang:
            response.set_cookie(
                LANG_COOKIE, chosen, max_age=365 * 86400, samesite="lax", httponly=True
            )
        response.headers.setdefault("Content-Security-Policy", _CSP)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "same-origin"
        response.headers["X-Frame-Options"] = "DENY"
        if request.url.path.startswith(("/portal", "/staff", "/login", "/locker", "/backup")):
            response.headers["Cache-Control"] = "no-store"
        return response

    _install_error_pages(app)
    # Order: the body limit sits outside the session so a huge body is refused unread.
    app.add_middleware(
        SessionMiddleware,
        secret_key=settings.session_secret(),
        session_cookie="cg_session",
        max_age=settings.session_max_age_s,
        same_site="lax",
        https_only=settings.secure_cookies,
    )
    upload_limit = settings.max_upload_bytes
    app.add_middleware(
        BodySizeLimit,
        max_bytes=settings.max_body_bytes,
        per_path={
            "/backup": upload_limit,
            "/backup/bundle": upload_limit,
            "/staff/audits": upload_limit,
        },
    )
    return app


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def _install_error_pages(app: FastAPI) -> None:
    @app.exception_handler(LoginRequired)
    async def login_required(request: Request, exc: LoginRequired) -> Response:
        return RedirectResponse(f"/login?next={quote(exc.next_path)}", status_code=303)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if _wants_json(request):
            return JSONResponse({"detail": exc.detail}, status_code=exc.status_code)
        return render(
            request, "error.html.j2", {"status": exc.status_code}, status_code=exc.status_code
        )

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        if _wants_json(request):
            errors = [
                {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type")}
                for e in exc.errors()
            ]
            return JSONResponse({"detail": errors}, status_code=422)
        return render(request, "error.html.j2", {"status": 400}, status_code=400)

    @app.exception_handler(Exception)
    async def crashed(request: Request, exc: Exception) -> Response:
        # Logged for operators; the user sees a plain page without any internals.
        _log.error("unhandled error on %s", request.url.path, exc_info=exc)
        if _wants_json(request):
            return JSONResponse({"detail": "internal error"}, status_code=500)
        try:
            return render(request, "error.html.j2", {"status": 500}, status_code=500)
        except Exception:
            return Response("服务器内部错误 / Internal error", status_code=500)
