"""SQL persistence of ledger streams (SQLite or PostgreSQL through SQLAlchemy Core).

One table, `ledger_entries`, holds every stream (``evidence``, ``gateway`` …) in the order the
rows were written. Appends are serialised per stream: on PostgreSQL by a transaction-scoped
advisory lock, on SQLite by the database write lock plus the unique (stream, seq) key, with a
retry when two writers race for the same position. Rows are never updated or deleted by this
code; `verify` finds it when someone else did.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Iterator
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
    insert,
    select,
    text,
)
from sqlalchemy.exc import IntegrityError, OperationalError

from collectguard.ledger.chain import ChainReport, LedgerEntry, make_entry, verify_chain

ledger_metadata = MetaData()
"""Include in your Alembic target metadata or `create_all` (see `SqlLedger.create_table`)."""

ledger_entries = Table(
    "ledger_entries",
    ledger_metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("stream", String(64), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("kind", String(64), nullable=False),
    Column("payload_json", Text, nullable=False),
    Column("payload_sha256", String(64), nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("entry_hash", String(64), nullable=False),
    Column("recorded_at", String(40), nullable=False),
    UniqueConstraint("stream", "seq", name="uq_ledger_stream_seq"),
)


class LedgerBusyError(RuntimeError):
    """Could not append after many retries (the database stayed locked)."""


class SqlLedger:
    """One stream of the ledger in a SQL database."""

    RETRIES = 60

    def __init__(self, engine: Engine, stream: str) -> None:
        if not stream or len(stream) > 64:
            raise ValueError("stream must be 1–64 characters")
        self.engine = engine
        self.stream = stream

    def create_table(self) -> None:
        """Create `ledger_entries` if missing (for stores without Alembic)."""
        ledger_metadata.create_all(self.engine)

    # ------------------------------------------------------------------ writing
    def append(
        self,
        kind: str,
        payload: dict[str, Any],
        *,
        conn: Connection | None = None,
        recorded_at: dt.datetime | None = None,
    ) -> LedgerEntry:
        """Append one entry. With `conn`, inside the caller's transaction (it commits or rolls
        back the entry with its own rows); else in a transaction of its own."""
        if conn is not None:
            return self._append(conn, kind, payload, recorded_at)
        for attempt in range(self.RETRIES):
            try:
                with self.engine.begin() as c:
                    return self._append(c, kind, payload, recorded_at)
            except (IntegrityError, OperationalError) as exc:
                if isinstance(exc, OperationalError) and "locked" not in str(exc).lower():
                    raise
                time.sleep(min(0.0005 * 2**attempt, 0.05))
        raise LedgerBusyError(f"ledger stream {self.stream!r}: database stayed busy")

    def _append(
        self,
        c: Connection,
        kind: str,
        payload: dict[str, Any],
        recorded_at: dt.datetime | None,
    ) -> LedgerEntry:
        if c.dialect.name == "postgresql":
            c.execute(
                text("SELECT pg_advisory_xact_lock(hashtext(:key))"),
                {"key": f"collectguard.ledger:{self.stream}"},
            )
        entry = make_entry(self.stream, self._head(c), kind, payload, recorded_at)
        c.execute(
            insert(ledger_entries).values(
                stream=entry.stream,
                seq=entry.seq,
                kind=entry.kind,
                payload_json=json.dumps(payload, ensure_ascii=False, sort_keys=True),
                payload_sha256=entry.payload_sha256,
                prev_hash=entry.prev_hash,
                entry_hash=entry.entry_hash,
                recorded_at=entry.recorded_at,
            )
        )
        return entry

    # ------------------------------------------------------------------ reading
    def _head(self, c: Connection) -> LedgerEntry | None:
        t = ledger_entries
        top = select(func.max(t.c.seq)).where(t.c.stream == self.stream).scalar_subquery()
        row = c.execute(select(t).where(t.c.stream == self.stream, t.c.seq == top)).first()
        return _entry(row._mapping) if row is not None else None

    def head(self) -> LedgerEntry | None:
        with self.engine.connect() as c:
            return self._head(c)

    def entries(self, *, batch: int = 1000) -> Iterator[LedgerEntry]:
        """All entries of the stream in stored (row) order, streamed in batches."""
        t = ledger_entries
        last_id = 0
        while True:
            with self.engine.connect() as c:
                rows = c.execute(
                    select(t)
                    .where(t.c.stream == self.stream, t.c.id > last_id)
                    .order_by(t.c.id)
                    .limit(batch)
                ).all()
            if not rows:
                return
            for row in rows:
                yield _entry(row._mapping)
            last_id = rows[-1].id

    def verify(self, *, expected_head: str | None = None) -> ChainReport:
        return verify_chain(self.entries(), expected_head=expected_head)


def _entry(m: Any) -> LedgerEntry:
    try:
        payload = json.loads(m["payload_json"])
    except (TypeError, ValueError):
        payload = {"_unreadable_payload": str(m["payload_json"])[:200]}
    return LedgerEntry(
        stream=m["stream"],
        seq=m["seq"],
        kind=m["kind"],
        payload_sha256=m["payload_sha256"],
        prev_hash=m["prev_hash"],
        entry_hash=m["entry_hash"],
        recorded_at=m["recorded_at"],
        payload=payload if isinstance(payload, dict) else {"_not_an_object": payload},
    )
