"""SQL persistence of ledger streams (SQLite or PostgreSQL through SQLAlchemy Core).

One table, `ledger_entries`, holds every stream (``evidence``, ``gateway`` …) in the order the
rows were written. Appends are serialised per stream: on PostgreSQL by a transaction-scoped
advisory lock, on SQLite by the database write lock plus the unique (stream, seq) key, with a
retry when two writers race for the same position. Rows are never updated or deleted by this
code; `verify` finds it when someone else did.

The append path (head look-up and insert) is plain SQL run on the transaction's DBAPI
connection: it reads only the head's position and hash (no payload), hashes each payload once
and stores the canonical JSON it hashed. Building and compiling SQLAlchemy expressions cost
ten times more than the statements themselves on SQLite. Driver errors are re-raised as
SQLAlchemy's (`IntegrityError`, `OperationalError` …), as `Connection.execute` would.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    Engine,
    Integer,
    MetaData,
    Select,
    String,
    Table,
    Text,
    UniqueConstraint,
    inspect,
    select,
    text,
)
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError, ProgrammingError

from collectguard.ledger.chain import (
    ChainReport,
    LedgerEntry,
    canonical_json,
    next_entry,
    recorded_stamp,
    sha256_hex,
    verify_chain,
)

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


_CREATE_LOCK = "collectguard.ledger:create_table"


class SqlLedger:
    """One stream of the ledger in a SQL database."""

    RETRIES = 60

    def __init__(
        self,
        engine: Engine,
        stream: str,
        *,
        connect: Callable[[], AbstractContextManager[Connection]] | None = None,
    ) -> None:
        """`connect`: where appends in a transaction of their own get their connection
        (default `engine.connect`; e.g. a keeper of open connections on a hot path)."""
        if not stream or len(stream) > 64:
            raise ValueError("stream must be 1–64 characters")
        self.engine = engine
        self.stream = stream
        self.connect = connect or engine.connect

    def create_table(self) -> None:
        """Create `ledger_entries` if missing (for stores without Alembic), also when several
        processes open one shared database at the same moment.

        `create_all` looks, then creates: writers that start together on an empty PostgreSQL
        database all see no table, and all but one fail (``DuplicateTable``, or a unique
        violation on ``pg_type`` while the first one's CREATE is uncommitted). On PostgreSQL
        the look and the creation therefore run under a transaction-scoped advisory lock: the
        others wait, then see the table. Should the look still miss a table created meanwhile,
        the error is ignored when the table is there afterwards."""
        try:
            with self.engine.begin() as c:
                if c.dialect.name == "postgresql":
                    c.execute(
                        text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": _CREATE_LOCK}
                    )
                ledger_metadata.create_all(c)
        except (IntegrityError, OperationalError, ProgrammingError):
            if not inspect(self.engine).has_table(ledger_entries.name):
                raise

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
        return self.append_many([(kind, payload)], conn=conn, recorded_at=recorded_at)[0]

    def append_many(
        self,
        entries: Iterable[tuple[str, dict[str, Any]]],
        *,
        conn: Connection | None = None,
        recorded_at: dt.datetime | None = None,
    ) -> list[LedgerEntry]:
        """Append a batch of ``(kind, payload)`` in order, in one transaction: one head
        look-up, one multi-row insert; all entries share one `recorded_at`. With `conn`,
        inside the caller's transaction; else in a transaction of its own, retried as a whole
        when another writer took the next position first. Returns the new entries."""
        items = [(kind, payload, canonical_json(payload)) for kind, payload in entries]
        if not items:
            return []
        if conn is not None:
            return self._append(conn, items, recorded_stamp(recorded_at))
        for attempt in range(self.RETRIES):
            try:
                with self.connect() as c:
                    if _sqlite_autocommit(c):
                        return self._append_sqlite(c, items, recorded_stamp(recorded_at))
                    with c.begin():
                        return self._append(c, items, recorded_stamp(recorded_at))
            except (IntegrityError, OperationalError) as exc:
                if isinstance(exc, OperationalError) and "locked" not in str(exc).lower():
                    raise
                time.sleep(min(0.0005 * 2**attempt, 0.05))
        raise LedgerBusyError(f"ledger stream {self.stream!r}: database stayed busy")

    def _append_sqlite(
        self, c: Connection, items: list[tuple[str, dict[str, Any], bytes]], stamp: str
    ) -> list[LedgerEntry]:
        """A transaction of its own on SQLite, begun and committed on the driver's connection:
        SQLAlchemy's transaction bookkeeping and events cost more than the append itself
        (the gateway appends one entry per decision this way when its state is in Redis)."""
        driver = c.connection.driver_connection
        cur = c.connection.cursor()
        try:
            _run(c, cur, "BEGIN IMMEDIATE", ())
            try:
                out = self._rows(c, cur, items, stamp)
                _run(c, cur, "COMMIT", ())
            except BaseException:
                if getattr(driver, "in_transaction", True):  # not after a COMMIT that went in
                    cur.execute("ROLLBACK")
                raise
        finally:
            cur.close()
        return out

    def _append(
        self, c: Connection, items: list[tuple[str, dict[str, Any], bytes]], stamp: str
    ) -> list[LedgerEntry]:
        if not c.in_transaction():
            c.begin()  # as Connection.execute would (autobegin); the caller commits
        cur = c.connection.cursor()
        try:
            return self._rows(c, cur, items, stamp)
        finally:
            cur.close()

    def _rows(
        self, c: Connection, cur: Any, items: list[tuple[str, dict[str, Any], bytes]], stamp: str
    ) -> list[LedgerEntry]:
        """Look up the head and insert the items after it, on `cur` in an open transaction."""
        sql = _sql(c)
        if sql.lock is not None:
            _run(c, cur, sql.lock, (f"collectguard.ledger:{self.stream}",))
        _run(c, cur, sql.head, (self.stream,))
        row = cur.fetchone()
        link: tuple[int, str] | None = (int(row[0]), str(row[1])) if row else None
        out: list[LedgerEntry] = []
        rows: list[tuple[Any, ...]] = []
        for kind, payload, raw in items:
            e = next_entry(self.stream, link, kind, payload, stamp, payload_sha256=sha256_hex(raw))
            link = (e.seq, e.entry_hash)
            out.append(e)
            rows.append(
                (
                    e.stream,
                    e.seq,
                    e.kind,
                    raw.decode("utf-8"),
                    e.payload_sha256,
                    e.prev_hash,
                    e.entry_hash,
                    e.recorded_at,
                )
            )
        if len(rows) == 1:
            _run(c, cur, sql.insert, rows[0])
        else:
            _run(c, cur, sql.insert, rows, many=True)
        return out

    # ------------------------------------------------------------------ reading
    def head(self) -> LedgerEntry | None:
        """The entry with the highest position (None: the stream is empty)."""
        with self.engine.connect() as c:
            sql = _sql(c)
            cur = c.connection.cursor()
            try:
                _run(c, cur, sql.head_entry, (self.stream,))
                row = cur.fetchone()
            finally:
                cur.close()
        return _entry(*row) if row is not None else None

    def entries(self, *, batch: int = 1000) -> Iterator[LedgerEntry]:
        """All entries of the stream in stored (row) order, streamed in batches."""
        for _, entry in self.rows(batch=batch):
            yield entry

    def rows(self, *, after_id: int = 0, batch: int = 1000) -> Iterator[tuple[int, LedgerEntry]]:
        """``(row id, entry)`` of the stream's entries stored after row `after_id`, in row
        order, streamed in batches: a reader that remembers the last row id it saw reads only
        what came since."""
        last_id = after_id
        while True:
            with self.engine.connect() as c:
                rows = c.execute(self.page_query(last_id, batch)).all()
            if not rows:
                return
            for row in rows:
                yield row[0], _entry(*row[1:])
            last_id = rows[-1][0]

    def last(self, n: int, *, kind: str | None = None) -> list[LedgerEntry]:
        """The stream's last `n` entries (only those of `kind`, when given), newest first in
        row order; reads about `n` rows whatever the stream's length (see `last_query`)."""
        if n <= 0:
            return []
        with self.engine.connect() as c:
            rows = c.execute(self.last_query(n, kind=kind)).all()
        return [_entry(*row[1:]) for row in rows]

    def last_query(self, n: int, *, kind: str | None = None) -> Select[Any]:
        """The stream's last `n` entries (of `kind`), newest first by row id.

        As in `page_query`, the stream is compared as ``stream || ''`` so the database walks
        the primary key backwards from the end and stops after `n` matching rows (passing over
        other streams' rows and, with `kind`, the stream's other kinds). Compared as the bare
        column, SQLite would read the whole stream through the (stream, seq) index and sort it
        by id."""
        t = ledger_entries
        query = select(t.c.id, *(t.c[name] for name in _COLUMNS)).where(
            t.c.stream.concat("") == self.stream
        )
        if kind is not None:
            query = query.where(t.c.kind == kind)
        return query.order_by(t.c.id.desc()).limit(n)

    def page_query(self, after_id: int, batch: int) -> Select[Any]:
        """The stream's next `batch` entries after row `after_id`, in row order.

        The stream is compared as ``stream || ''``, an expression no index covers, so the
        database walks the primary key from `after_id` and stops after `batch` rows. Compared
        as the bare column, SQLite chose the (stream, seq) index instead and sorted the whole
        stream by id for every page: reading a stream of n entries cost n²/batch rows
        (100,000 entries: 2.9 s of row visits and sorts instead of 0.4 s; a million: about
        a hundred times that). Entries of other streams in the same table are skipped
        in the walk."""
        t = ledger_entries
        return (
            select(t.c.id, *(t.c[name] for name in _COLUMNS))
            .where(t.c.id > after_id, t.c.stream.concat("") == self.stream)
            .order_by(t.c.id)
            .limit(batch)
        )

    def verify(self, *, expected_head: str | None = None) -> ChainReport:
        return verify_chain(self.entries(), expected_head=expected_head)


# ---------------------------------------------------------------------- plain SQL
_COLUMNS = (
    "stream",
    "seq",
    "kind",
    "payload_json",
    "payload_sha256",
    "prev_hash",
    "entry_hash",
    "recorded_at",
)


class _Statements:
    """The append path's statements in one driver's parameter style."""

    def __init__(self, paramstyle: str, postgres: bool) -> None:
        def q(sql: str) -> str:
            if paramstyle in ("format", "pyformat"):
                return sql.replace("?", "%s")
            if paramstyle == "numeric":
                parts = sql.split("?")
                return "".join(
                    p + (f":{i}" if i < len(parts) else "") for i, p in enumerate(parts, 1)
                )
            if paramstyle != "qmark":
                raise NotImplementedError(f"ledger: driver paramstyle {paramstyle!r}")
            return sql

        table = ledger_entries.name
        cols = ", ".join(_COLUMNS)
        self.lock = q("SELECT pg_advisory_xact_lock(hashtext(?))") if postgres else None
        self.head = q(
            f"SELECT seq, entry_hash FROM {table} WHERE stream = ? ORDER BY seq DESC LIMIT 1"
        )
        self.head_entry = q(
            f"SELECT {cols} FROM {table} WHERE stream = ? ORDER BY seq DESC LIMIT 1"
        )
        self.insert = q(f"INSERT INTO {table} ({cols}) VALUES ({', '.join('?' for _ in _COLUMNS)})")


_STATEMENTS: dict[tuple[str, bool], _Statements] = {}


def _sql(c: Connection) -> _Statements:
    key = (c.dialect.paramstyle, c.dialect.name == "postgresql")
    found = _STATEMENTS.get(key)
    if found is None:
        found = _STATEMENTS[key] = _Statements(*key)
    return found


def _sqlite_autocommit(c: Connection) -> bool:
    """SQLite whose driver connection leaves transactions to us (``isolation_level = None``,
    as the stores' engines set it), with no transaction open on `c`."""
    if c.dialect.name != "sqlite" or c.in_transaction():
        return False
    return getattr(c.connection.driver_connection, "isolation_level", "") is None


def _run(
    c: Connection,
    cur: Any,
    statement: str,
    params: Sequence[Any],
    *,
    many: bool = False,
) -> None:
    """Execute on the DBAPI cursor; driver errors become SQLAlchemy's exceptions."""
    base = c.dialect.loaded_dbapi.Error
    try:
        if many:
            cur.executemany(statement, params)
        else:
            cur.execute(statement, params)
    except base as exc:
        raise DBAPIError.instance(
            statement, None, exc, base, hide_parameters=True, dialect=c.dialect
        ) from exc


def _entry(
    stream: str,
    seq: int,
    kind: str,
    payload_json: str,
    payload_sha256: str,
    prev_hash: str,
    entry_hash: str,
    recorded_at: str,
) -> LedgerEntry:
    """An entry from a stored row's `_COLUMNS`, in that order."""
    try:
        payload = json.loads(payload_json)
    except (TypeError, ValueError):
        payload = {"_unreadable_payload": str(payload_json)[:200]}
    return LedgerEntry(
        stream=stream,
        seq=seq,
        kind=kind,
        payload_sha256=payload_sha256,
        prev_hash=prev_hash,
        entry_hash=entry_hash,
        recorded_at=recorded_at,
        payload=payload if isinstance(payload, dict) else {"_not_an_object": payload},
    )
