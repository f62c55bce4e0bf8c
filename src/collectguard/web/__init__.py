"""The web app: consumer checker, borrower portal, staff dashboard and JSON API (网页端).

Parts and what each owns:

- `settings` — `WebSettings` (database URL, session secret, limits, clock);
- `models`, `db` — the app's own tables (users, bills, payments, plan requests, contact
  preferences, complaints, lender messages, consumer lockers, audit runs) on SQLite by default;
- `security` — argon2 password hashes, CSRF tokens, login rate limits, body-size limit;
- `i18n` — the zh-CN/English message catalog;
- `verdict` — highlighting violation spans and the verdict card's data (pure);
- `consumer` — the checker pages, letters from the verdict card and ``POST /api/v1/check``;
- `backup` — phone-backup upload (into the visitor's locker, or straight to a bundle);
- `locker` — the consumer's evidence locker: cases, letter and bundle downloads, a key shown
  once, forget on this device, delete my data;
- `letters` — which letters fit a case, and one letter as a PDF/DOCX download (the texts are
  the evidence package's templates);
- `portal` — sign-in, the borrower pages and the staff desk;
- `audits` — audit-log upload, background audit runs, reports and scorecards for staff;
- `app` — `create_app(settings)`; `demo` — the demo seed; `cli` — the ``serve`` command.

The analysis core never imports this package.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# Exports load lazily, so that mounting `collectguard.web.cli` in the main CLI (its `serve`
# command, listed by `collectguard --help`) does not import FastAPI and the analyzer.
_EXPORTS = {"create_app": "app", "WebSettings": "settings"}

if TYPE_CHECKING:
    from collectguard.web.app import create_app
    from collectguard.web.settings import WebSettings


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'collectguard.web' has no attribute {name!r}")
    return getattr(importlib.import_module(f"collectguard.web.{module}"), name)


__all__ = ["WebSettings", "create_app"]
