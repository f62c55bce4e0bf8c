"""The web app: consumer checker, borrower portal, staff dashboard and JSON API (网页端).

Parts and what each owns:

- `settings` — `WebSettings` (database URL, session secret, limits, clock);
- `models`, `db` — the portal's own tables (users, bills, payments, plan requests, contact
  preferences, complaints, lender messages) on SQLite by default;
- `security` — argon2 password hashes, CSRF tokens, login rate limits, body-size limit;
- `i18n` — the zh-CN/English message catalog;
- `verdict` — highlighting violation spans and the verdict card's data (pure);
- `consumer` — the checker pages and ``POST /api/v1/check``;
- `portal` — sign-in, the borrower pages and the staff inbox;
- `app` — `create_app(settings)`; `demo` — the demo seed; `cli` — the ``serve`` command.

The analysis core never imports this package.
"""

from collectguard.web.app import create_app
from collectguard.web.settings import WebSettings

__all__ = ["WebSettings", "create_app"]
