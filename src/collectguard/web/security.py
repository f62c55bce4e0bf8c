"""Sign-in and request safety: password hashes, CSRF tokens, login rate limits, body limits.

Owns: argon2 hashing (`PasswordHasher` from argon2-cffi), the per-session CSRF token and its
check, the in-memory sliding-window login limiter, and the ASGI middleware that refuses
bodies over the configured size before reading them.
"""

from __future__ import annotations

import datetime as dt
import hmac
import secrets
from collections import deque
from collections.abc import Callable
from threading import Lock

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from fastapi import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = [
    "BodySizeLimit",
    "LoginLimiter",
    "csrf_token",
    "csrf_valid",
    "hash_password",
    "verify_password",
]

_HASHER = PasswordHasher()
# Verifying against this keeps the time of "no such user" close to "wrong password".
_DUMMY_HASH = _HASHER.hash(secrets.token_urlsafe(16))


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    """True when `password` matches; a missing user still costs one argon2 verification."""
    try:
        return _HASHER.verify(stored_hash or _DUMMY_HASH, password) and stored_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def csrf_token(request: Request) -> str:
    """The session's CSRF token, created on first use."""
    token = request.session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return token


def csrf_valid(request: Request, submitted: object) -> bool:
    expected = request.session.get("csrf")
    return (
        isinstance(expected, str)
        and isinstance(submitted, str)
        and hmac.compare_digest(expected.encode(), submitted.encode())
    )


class LoginLimiter:
    """Counts failed sign-ins in a sliding window per (client, user name) and per client."""

    MAX_KEYS = 10_000

    def __init__(
        self,
        *,
        max_failures: int,
        max_failures_per_client: int,
        window_s: int,
        clock: Callable[[], dt.datetime],
    ) -> None:
        self.max_failures = max_failures
        self.max_per_client = max_failures_per_client
        self.window = dt.timedelta(seconds=window_s)
        self.clock = clock
        self._fails: dict[tuple[str, str], deque[dt.datetime]] = {}
        self._lock = Lock()

    def _recent(self, key: tuple[str, str], now: dt.datetime) -> deque[dt.datetime]:
        q = self._fails.setdefault(key, deque())
        while q and now - q[0] > self.window:
            q.popleft()
        return q

    def blocked(self, client: str, username: str) -> bool:
        now = self.clock()
        with self._lock:
            per_user = self._recent((client, username.lower()), now)
            per_client = self._recent((client, ""), now)
            return len(per_user) >= self.max_failures or len(per_client) >= self.max_per_client

    def failed(self, client: str, username: str) -> None:
        now = self.clock()
        with self._lock:
            if len(self._fails) > self.MAX_KEYS:
                self._prune(now)
            self._recent((client, username.lower()), now).append(now)
            self._recent((client, ""), now).append(now)

    def _prune(self, now: dt.datetime) -> None:
        """Forget keys with no failure inside the window, so guessing names cannot grow memory."""
        for key in [k for k, q in self._fails.items() if not q or now - q[-1] > self.window]:
            del self._fails[key]

    def succeeded(self, client: str, username: str) -> None:
        with self._lock:
            self._fails.pop((client, username.lower()), None)


class BodySizeLimit:
    """Refuses bodies over `max_bytes` (or the path's own limit) with 413, by header or stream.

    A body without a length (chunked) is counted while the app reads it; past the limit the
    middleware answers the same 413 itself, tells the app the client went away (so it stops
    reading and stores nothing) and drops whatever the app answers after that."""

    def __init__(
        self, app: ASGIApp, max_bytes: int, per_path: dict[str, int] | None = None
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.per_path = per_path or {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.per_path.get(scope.get("path", ""), self.max_bytes)
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    too_big = int(value) > limit
                except ValueError:
                    too_big = True
                if too_big:
                    await _send_413(send)
                    return
        seen = 0
        refused = False  # the 413 went out: nothing more from the app reaches the client
        started = False

        async def limited_receive() -> Message:
            nonlocal seen, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    if started:  # the app answered before reading it all: it cannot be undone
                        raise HTTPException(status_code=413, detail="request body too large")
                    refused = True
                    await _send_413(send)
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if refused:
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except Exception:
            if not refused:
                raise
            # the app failing on the "disconnect" is expected; the 413 is already sent


async def _send_413(send: Send) -> None:
    body = "请求内容过大 / Request body too large".encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
