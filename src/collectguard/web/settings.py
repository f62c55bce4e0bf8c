"""Settings of the web app: one declarative object with defaults and help text.

Owns: where the database and the session secret live, cookie flags, body and text limits,
login rate limits, and the injected clock. Reads the environment only in
:meth:`WebSettings.from_env`; everything else receives a settings object.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from collectguard.gateway import ContactProfile, DecisionLog

__all__ = ["LENDER_ZONE", "WebSettings", "default_data_dir", "utc_now"]

LENDER_ZONE = ZoneInfo("Asia/Shanghai")
"""The zone bills, due dates and plan start dates are read in (the demo lender is in China)."""


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def default_data_dir() -> Path:
    """``$COLLECTGUARD_DATA_DIR`` or ``~/.local/share/collectguard`` (platformdirs when present)."""
    env = os.environ.get("COLLECTGUARD_DATA_DIR")
    if env:
        return Path(env)
    try:
        from platformdirs import user_data_dir
    except ImportError:  # pragma: no cover - platformdirs ships with the store extra
        return Path.home() / ".local" / "share" / "collectguard"
    return Path(user_data_dir("collectguard"))


@dataclass(frozen=True)
class WebSettings:
    """Everything `create_app` needs; build one with :meth:`from_env` or directly in tests."""

    data_dir: Path = field(default_factory=default_data_dir)
    """Holds the SQLite database (unless `db_url` says otherwise) and the session secret."""
    db_url: str | None = None
    """SQLAlchemy URL; ``sqlite:///<data_dir>/web.sqlite3`` when unset."""
    secret_key: str | None = None
    """Signs session cookies; read from ``<data_dir>/web-secret`` (created if absent) when unset."""
    secure_cookies: bool = False
    """Mark the session cookie ``Secure`` (set behind HTTPS; plain-HTTP localhost needs False)."""
    session_max_age_s: int = 8 * 3600
    max_body_bytes: int = 256 * 1024
    """Largest request body accepted; bigger ones get 413 before they are read."""
    max_upload_bytes: int = 20 * 1024 * 1024
    """Largest phone backup accepted on the upload page (the only route with a larger limit)."""
    max_locker_messages: int = 50_000
    """Most messages and call records one locker holds from web uploads (and the most one
    ``/backup/bundle`` reads): an upload stops there and says so. 50,000 took 36 s to import
    and 255 MB of store on 2 vCPUs; the CLI (``collectguard evidence import``) has no limit."""
    locker_purge_interval_s: float = 600.0
    """How often the app deletes temporary lockers whose time ran out (besides at start-up,
    when a locker is created and when an expired one is visited): the page promises they
    are deleted after two hours, whether or not anyone comes back. 0 turns the timer off."""
    max_message_chars: int = 20_000
    """Longest message the checker takes from a page or the JSON API."""
    login_max_failures: int = 5
    """Failed sign-ins allowed per (client, user name) within `login_window_s`."""
    login_max_failures_per_client: int = 20
    login_window_s: int = 15 * 60
    clock: Callable[[], dt.datetime] = utc_now
    """Aware-UTC clock; injected so tests are exact."""
    on_contact_preferences: Callable[[str, ContactProfile], None] | None = None
    """Called with (user name, gateway profile) when a borrower saves contact preferences,
    e.g. ``Gateway.set_preferences`` (``set_profile`` would drop what the lender holds on file:
    consents, attorney); the user name is the lender's debtor id."""
    decision_log: DecisionLog | None = None
    """The gateway's decision log; when set, the staff desk lists recent decisions and
    whether the log's hash chain is intact."""

    @classmethod
    def from_env(cls, **overrides: object) -> WebSettings:
        """Settings from ``COLLECTGUARD_*`` variables, then explicit overrides."""
        values: dict[str, object] = {}
        if url := os.environ.get("COLLECTGUARD_DB_URL"):
            values["db_url"] = url
        if key := os.environ.get("COLLECTGUARD_WEB_SECRET"):
            values["secret_key"] = key
        if os.environ.get("COLLECTGUARD_SECURE_COOKIES", "").lower() in {"1", "true", "yes"}:
            values["secure_cookies"] = True
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)  # type: ignore[arg-type]

    def database_url(self) -> str:
        if self.db_url:
            return self.db_url
        return f"sqlite:///{self.data_dir / 'web.sqlite3'}"

    def session_secret(self) -> str:
        """The configured secret, or the one kept in the data dir (generated on first use)."""
        if self.secret_key:
            return self.secret_key
        path = self.data_dir / "web-secret"
        if path.exists():
            return path.read_text(encoding="utf-8").strip()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(48)
        # Created owner-only: the key signs every session.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(key)
        return key
