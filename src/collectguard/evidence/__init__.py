"""Evidence locker: keep a borrower's collection messages as evidence that holds up.

Parts and what each owns:

- `store` — opening the database (SQLite by default, PostgreSQL by URL), Alembic migrations,
  content-addressed attachments, the ``evidence`` stream of the shared ledger;
- `models` — the tables (import runs, messages with verdicts, violations, calls, attachments);
- `sources` — readers of phone backups and message files (no database code);
- `items` — what the ledger vouches for about each item (hashed contents, dedupe keys);
- `ingest` — streaming, batch-transactional, idempotent imports that analyse each message,
  store it and append it to the hash-chained ledger;
- `verify` — checks the ledger chain and every stored item against it;
- `history` — history-aware rules (daily caps from the rule pack, night-time counts,
  escalation, third-party contacts) and cases per lender;
- `cli` — the Typer sub-app (`evidence_app`).

The pure analysis core never imports this package.
"""

from collectguard.evidence.errors import EvidenceError, ImportFormatError, StoreError
from collectguard.evidence.store import EvidenceStore, open_store

__all__ = [
    "EvidenceError",
    "EvidenceStore",
    "ImportFormatError",
    "StoreError",
    "open_store",
]
