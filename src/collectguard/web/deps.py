"""What every page handler shares: the app context, rendering, the signed-in user, CSRF.

Owns: `WebContext` (settings, session factory, limiter, templates — kept on ``app.state``),
`render` (adds the language, translator, CSRF token and user to every template), the
sign-in dependencies (`require_borrower`, `require_staff`) and `require_csrf`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Depends, HTTPException, Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment
from sqlalchemy.orm import Session, sessionmaker

from collectguard.web.i18n import DEFAULT_LANG, Translator, pick_lang
from collectguard.web.models import User
from collectguard.web.security import LoginLimiter, csrf_token, csrf_valid
from collectguard.web.settings import WebSettings

__all__ = [
    "DbSession",
    "LoginRequired",
    "WebContext",
    "context",
    "current_user",
    "render",
    "require_borrower",
    "require_csrf",
    "require_staff",
]


@dataclass
class WebContext:
    settings: WebSettings
    sessions: sessionmaker[Session]
    limiter: LoginLimiter
    env: Environment


class LoginRequired(Exception):
    """Raised by a page that needs a signed-in user; answered with a redirect to /login."""

    def __init__(self, next_path: str) -> None:
        self.next_path = next_path


def context(request: Request) -> WebContext:
    ctx: WebContext = request.app.state.web
    return ctx


def db_session(request: Request) -> Iterator[Session]:
    with context(request).sessions() as session:
        yield session


DbSession = Annotated[Session, Depends(db_session)]


def lang_of(request: Request) -> str:
    lang: str = getattr(request.state, "lang", DEFAULT_LANG)
    return lang


def current_user(request: Request, db: Session) -> User | None:
    uid = request.session.get("uid")
    nonce = request.session.get("nonce")
    if not isinstance(uid, int) or not isinstance(nonce, str):
        return None
    user = db.get(User, uid)
    if user is None or user.session_nonce != nonce:
        return None
    return user


def _require(role: str) -> Any:
    def dependency(request: Request, db: DbSession) -> User:
        user = current_user(request, db)
        if user is None:
            raise LoginRequired(request.url.path)
        if user.role != role:
            raise HTTPException(status_code=403)
        return user

    return dependency


require_borrower = _require("borrower")
require_staff = _require("staff")
Borrower = Annotated[User, Depends(require_borrower)]
Staff = Annotated[User, Depends(require_staff)]


async def require_csrf(request: Request) -> None:
    """Every form POST carries the session's token in ``csrf_token``; otherwise 403."""
    form = await request.form()
    if not csrf_valid(request, form.get("csrf_token")):
        raise HTTPException(status_code=403, detail="csrf")


Csrf = Depends(require_csrf)


def render(
    request: Request,
    template: str,
    values: dict[str, Any] | None = None,
    *,
    status_code: int = 200,
    user: User | None = None,
) -> HTMLResponse:
    ctx = context(request)
    lang = lang_of(request)
    flash = request.session.pop("flash", None)
    page = ctx.env.get_template(template).render(
        {
            "request": request,
            "lang": lang,
            "t": Translator(lang),
            "csrf_token": csrf_token(request),
            "user": user,
            "flash": flash,
            "path": request.url.path,
            "lang_link": lambda target: _lang_link(request, target),
            **(values or {}),
        }
    )
    return HTMLResponse(page, status_code=status_code)


def _lang_link(request: Request, target: str) -> str:
    """The current page (path and query kept) in another language; always site-relative."""
    params = [(k, v) for k, v in request.query_params.multi_items() if k != "lang"]
    return f"{request.url.path}?{urlencode([*params, ('lang', target)])}"


def flash(request: Request, key: str) -> None:
    """A one-shot message (catalog key) shown on the next page."""
    request.session["flash"] = key


__all__ += ["Borrower", "Csrf", "Staff", "db_session", "flash", "lang_of", "pick_lang"]
