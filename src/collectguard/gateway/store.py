"""State of the gateway: idempotency records, attempts, sliding-window counters, contact
profiles. Owns the `StateStore` interface and its SQLite implementation (SQLAlchemy Core,
WAL, every write in `BEGIN IMMEDIATE`, so a check-and-reserve is one serialised transaction).
The Redis implementation lives in `redis_store`.

Any failure to reach or use the store surfaces as `StoreUnavailable`; the service turns it
into a `deny` with reason `state_unavailable` (fail closed).
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, NamedTuple, Protocol

from sqlalchemy import (
    Column,
    Connection,
    Engine,
    Float,
    Index,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    event,
)
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.pool import ConnectionPoolEntry

from collectguard.gateway.core import CapCheck, outcome_effects
from collectguard.gateway.models import ContactProfile, Outcome

Journal = Callable[[dict[str, Any], Any], None]
"""Called with (decision, connection or None) when a store writes a new decision; a SQL store
passes its open transaction so that the decision-log entry commits with the state."""

OnCap = Callable[["CapCheck", tuple[float, ...]], dict[str, Any]]
"""Called by `reserve` with the first cap that failed and the scores in its window; returns
the decision to store under the key instead (the deferral)."""


class StoreUnavailable(RuntimeError):
    """The state store could not be reached or used."""


class UnknownAttempt(KeyError):
    """No attempt with this id."""


@dataclass(frozen=True)
class Attempt:
    attempt_id: str
    score: float
    keys: tuple[tuple[str, str], ...]
    outcome: str | None = None

    def to_json(self) -> str:
        return json.dumps(
            {
                "attempt_id": self.attempt_id,
                "score": self.score,
                "keys": [list(k) for k in self.keys],
                "outcome": self.outcome,
            }
        )

    @classmethod
    def from_json(cls, raw: str | bytes) -> Attempt:
        d = json.loads(raw)
        return cls(
            d["attempt_id"],
            float(d["score"]),
            tuple((a, b) for a, b in d["keys"]),
            d.get("outcome"),
        )


class ProfileChanged(Exception):
    """The debtor's profile changed after `load` (another replica saved a new one): the
    store holds the new copy now; plan the decision again."""


class Loaded(NamedTuple):
    """What `load` returns: the decision stored under the key (a replay), the debtor's
    profile, and an opaque version of that profile (None: the store does not track one).
    Passing the version back to `remember`/`reserve` as ``profile=(debtor_id, version)``
    makes them refuse with `ProfileChanged` when the profile is no longer that one."""

    decision: dict[str, Any] | None
    profile: ContactProfile | None
    version: str | None = None


ProfileSeen = tuple[str, str | None] | None
"""(debtor id, profile version from `load`), or None: no profile check."""


@dataclass(frozen=True)
class ReserveResult:
    status: Literal["reserved", "replay", "cap"]
    decision: dict[str, Any] | None = None
    failed: CapCheck | None = None
    scores: tuple[float, ...] = field(default_factory=tuple)


class StateStore(Protocol):
    def get_decision(self, idem_key: str) -> dict[str, Any] | None: ...

    def load(self, idem_key: str, debtor_id: str | None) -> Loaded:
        """The stored decision for the key (if any) and, if none, the debtor's profile. A
        store that caches profiles may skip the decision look-up (`remember`/`reserve` find
        a replay anyway)."""
        ...

    def remember(
        self,
        idem_key: str,
        decision: dict[str, Any],
        journal: Journal | None = None,
        *,
        profile: ProfileSeen = None,
    ) -> dict[str, Any]:
        """Store `decision` under the key unless one is there; return the stored one.
        `ProfileChanged` if `profile` is given and no longer current."""
        ...

    def reserve(
        self,
        idem_key: str,
        decision: dict[str, Any],
        checks: Sequence[CapCheck],
        attempt: Attempt,
        *,
        force: bool = False,
        journal: Journal | None = None,
        on_cap: OnCap | None = None,
        profile: ProfileSeen = None,
    ) -> ReserveResult:
        """Atomically: replay if the key is known; `ProfileChanged` if `profile` is given and
        no longer current; else if every check passes (or `force`),
        add the attempt to the keys of checks with `add`, store the attempt and decision.
        When a cap fails and `on_cap` is given, store (as `remember` does) and return in
        `decision` what it answers, so the deferral needs no second round."""
        ...

    def record_outcome(self, attempt_id: str, outcome: Outcome) -> Attempt: ...

    def get_profile(self, debtor_id: str) -> ContactProfile | None: ...

    def put_profile(self, debtor_id: str, profile: ContactProfile) -> None: ...

    def ping(self) -> None: ...

    def close(self) -> None: ...


# ---------------------------------------------------------------------------- SQLite
metadata = MetaData()
decisions = Table(
    "gw_decisions",
    metadata,
    Column("idem_key", String(200), primary_key=True),
    Column("decision_json", Text, nullable=False),
    Column("created", Float, nullable=False),
)
attempts = Table(
    "gw_attempts",
    metadata,
    Column("attempt_id", String(64), primary_key=True),
    Column("attempt_json", Text, nullable=False),
)
members = Table(
    "gw_window_members",
    metadata,
    Column("key", String(300), primary_key=True),
    Column("member", String(64), primary_key=True),
    Column("score", Float, nullable=False),
    Index("ix_gw_window_key_score", "key", "score"),
)
profiles = Table(
    "gw_profiles",
    metadata,
    Column("debtor_id", String(128), primary_key=True),
    Column("profile_json", Text, nullable=False),
)


def sqlite_engine(
    url: str, *, pool_size: int = 8, checkpoint_every_s: float | None = 1.0
) -> Engine:
    """An engine whose write transactions start with BEGIN IMMEDIATE (one writer at a time),
    in WAL mode with a busy timeout, so concurrent check-and-reserves serialise instead of
    racing.

    WAL checkpoints (which fsync) are taken off the request path: automatic checkpoints are
    off on request connections and a background thread runs a PASSIVE checkpoint every
    `checkpoint_every_s` seconds (None: SQLite's automatic checkpoints instead).
    """
    engine = create_engine(
        url,
        pool_size=pool_size,
        max_overflow=64,
        pool_timeout=30,
        connect_args={"check_same_thread": False, "timeout": 30},
    )
    database = engine.url.database
    background = bool(checkpoint_every_s) and database not in (None, "", ":memory:")

    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn: Any, _record: ConnectionPoolEntry) -> None:
        dbapi_conn.isolation_level = None  # SQLAlchemy's "begin" event emits BEGIN itself
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA busy_timeout=30000")
        if background:
            cur.execute("PRAGMA wal_autocheckpoint=0")
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        # reads (execution option cg_read) take no write lock; every write is IMMEDIATE.
        # On the driver's connection: `exec_driver_sql` would cost more than the BEGIN.
        sql = "BEGIN" if conn.get_execution_options().get("cg_read", False) else "BEGIN IMMEDIATE"
        try:
            conn.connection.driver_connection.execute(sql)
        except sqlite3.Error as exc:
            raise DBAPIError.instance(sql, None, exc, sqlite3.Error, dialect=conn.dialect) from exc

    if background and database is not None and checkpoint_every_s:
        _Checkpointer(database, checkpoint_every_s).start()
    return engine


class _Checkpointer(threading.Thread):
    """Runs `PRAGMA wal_checkpoint(PASSIVE)` periodically; a daemon, so it ends with the
    process. A PASSIVE checkpoint never blocks readers or writers."""

    def __init__(self, database: str, every_s: float) -> None:
        super().__init__(name=f"cg-wal-checkpoint:{Path(database).name}", daemon=True)
        self.database = database
        self.every_s = every_s

    def run(self) -> None:
        while True:
            time.sleep(self.every_s)
            if not Path(self.database).exists():
                return  # the database went away (e.g. a test's temporary directory)
            try:
                conn = sqlite3.connect(self.database, timeout=1)
                try:
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
                finally:
                    conn.close()
            except sqlite3.Error:
                continue


class KeptConnections:
    """Connections of `engine` kept open between uses, for a hot path whose statements cost
    less than a pool checkout and check-in (a decision: a few indexed look-ups).

    `connection()` hands out an idle one (or opens one) and keeps it afterwards, unless the
    body raised (then it goes back to the engine's pool, which resets or discards it) or
    `IDLE` are already kept. `engine.dispose()` closes the kept ones and retires those in
    use, so that no connection opened before it is reused. Thread-safe (list pop/append).
    """

    IDLE = 16

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._idle: list[tuple[int, Connection]] = []
        self._generation = 0
        event.listen(engine, "engine_disposed", self._forget)

    def _forget(self, _engine: Engine) -> None:
        self._generation += 1
        while self._idle:
            try:
                c = self._idle.pop()[1]
            except IndexError:  # another thread took the last one
                break
            # `dispose` has already closed the pool these came from: checked in there, they
            # would stay open until garbage collection; close the driver connection itself
            c.invalidate()
            c.close()

    @contextmanager
    def connection(self) -> Iterator[Connection]:
        try:
            gen, c = self._idle.pop()
        except IndexError:
            gen, c = self._generation, self.engine.connect()
        try:
            yield c
        except BaseException:
            c.close()
            raise
        if gen == self._generation and not c.in_transaction() and len(self._idle) < self.IDLE:
            self._idle.append((gen, c))
        else:
            c.close()


class SqlStateStore:
    """SQLite (default) state; one file shared by every worker of one gateway host.

    Statements are plain SQL on the DBAPI connection of a SQLAlchemy connection: the hot path
    is a handful of indexed look-ups, and even `exec_driver_sql` costs several times what
    SQLite takes to run them. Writes run in the engine's `BEGIN IMMEDIATE` transaction (so the
    decision log can append in the same one); reads run outside a transaction (each statement
    sees committed data; the check-and-reserve re-reads what it relies on under the lock).
    """

    def __init__(self, engine: Engine, *, create: bool = True) -> None:
        self.engine = engine
        self._kept = KeptConnections(engine)
        if create:
            try:
                metadata.create_all(engine)
            except SQLAlchemyError as exc:
                raise StoreUnavailable(f"state store: {exc}") from exc

    @classmethod
    def from_path(cls, path: str) -> SqlStateStore:
        return cls(sqlite_engine(f"sqlite:///{path}"))

    @contextmanager
    def _read(self) -> Iterator[Any]:
        """A DBAPI cursor for autocommit reads."""
        try:
            with self._kept.connection() as c:
                cur = c.connection.cursor()
                try:
                    yield cur
                finally:
                    cur.close()
        except _DB_ERRORS as exc:
            raise StoreUnavailable(f"state store: {exc}") from exc

    @contextmanager
    def _write(self) -> Iterator[tuple[Connection, Any]]:
        """The connection (for the journal) and a DBAPI cursor, in one write transaction
        (committed on success, rolled back on any exception)."""
        try:
            with self._kept.connection() as c, c.begin():  # BEGIN IMMEDIATE: the write lock
                cur = c.connection.cursor()
                try:
                    yield c, cur
                finally:
                    cur.close()
        except _DB_ERRORS as exc:
            raise StoreUnavailable(f"state store: {exc}") from exc

    # -- idempotency
    def get_decision(self, idem_key: str) -> dict[str, Any] | None:
        return self.load(idem_key, None)[0]

    def load(self, idem_key: str, debtor_id: str | None) -> Loaded:
        """The stored decision for the key and, if there is none, the debtor's profile (read
        fresh each time: no version to check)."""
        with self._read() as cur:
            raw = _scalar(cur, _GET_DECISION, (idem_key,))
            prof = (
                _scalar(cur, _GET_PROFILE, (debtor_id,))
                if debtor_id is not None and raw is None
                else None
            )
        return Loaded(
            json.loads(raw) if raw is not None else None,
            ContactProfile.model_validate_json(prof) if prof is not None else None,
        )

    def remember(
        self,
        idem_key: str,
        decision: dict[str, Any],
        journal: Journal | None = None,
        *,
        profile: ProfileSeen = None,
    ) -> dict[str, Any]:
        with self._write() as (c, cur):
            raw = _scalar(cur, _GET_DECISION, (idem_key,))
            if raw is not None:
                stored: dict[str, Any] = json.loads(raw)
                return stored
            cur.execute(_PUT_DECISION, (idem_key, json.dumps(decision), time.time()))
            if journal is not None:
                journal(decision, c)
            return decision

    # -- check and reserve
    def reserve(
        self,
        idem_key: str,
        decision: dict[str, Any],
        checks: Sequence[CapCheck],
        attempt: Attempt,
        *,
        force: bool = False,
        journal: Journal | None = None,
        on_cap: OnCap | None = None,
        profile: ProfileSeen = None,
    ) -> ReserveResult:
        with self._write() as (c, cur):
            raw = _scalar(cur, _GET_DECISION, (idem_key,))
            if raw is not None:
                return ReserveResult("replay", json.loads(raw))
            if not force:
                for chk in checks:
                    window = (chk.key, chk.min_score, chk.max_score)
                    if _scalar(cur, _COUNT, window) >= chk.limit:
                        scores = tuple(r[0] for r in cur.execute(_SCORES, window).fetchall())
                        if on_cap is None:
                            return ReserveResult("cap", failed=chk, scores=scores)
                        defer = on_cap(chk, scores)  # still under the lock: one transaction
                        cur.execute(_PUT_DECISION, (idem_key, json.dumps(defer), time.time()))
                        if journal is not None:
                            journal(defer, c)
                        return ReserveResult("cap", defer, failed=chk, scores=scores)
            added = [(chk.key, attempt.attempt_id, attempt.score) for chk in checks if chk.add]
            if added:
                cur.executemany(_ADD, added)
            cur.execute(_PUT_ATTEMPT, (attempt.attempt_id, attempt.to_json()))
            cur.execute(_PUT_DECISION, (idem_key, json.dumps(decision), time.time()))
            if journal is not None:
                journal(decision, c)  # the log entry commits (or not) with the reservation
            return ReserveResult("reserved", decision)

    def record_outcome(self, attempt_id: str, outcome: Outcome) -> Attempt:
        with self._write() as (_c, cur):
            raw = _scalar(cur, _GET_ATTEMPT, (attempt_id,))
            if raw is None:
                raise UnknownAttempt(attempt_id)
            att = Attempt.from_json(raw)
            for effect, key in outcome_effects(att.keys, outcome):
                if effect == "remove":
                    cur.execute(_REMOVE, (key, attempt_id))
                elif effect == "add":
                    cur.execute(_ADD, (key, attempt_id, att.score))
            new = Attempt(att.attempt_id, att.score, att.keys, outcome)
            cur.execute(_SET_ATTEMPT, (new.to_json(), attempt_id))
            return new

    # -- profiles
    def get_profile(self, debtor_id: str) -> ContactProfile | None:
        with self._read() as cur:
            raw = _scalar(cur, _GET_PROFILE, (debtor_id,))
        return ContactProfile.model_validate_json(raw) if raw is not None else None

    def put_profile(self, debtor_id: str, profile: ContactProfile) -> None:
        with self._write() as (_c, cur):
            cur.execute(_PUT_PROFILE, (debtor_id, profile.model_dump_json()))

    def ping(self) -> None:
        with self._read() as cur:
            _scalar(cur, "SELECT 1", ())

    def close(self) -> None:
        self.engine.dispose()  # closes the kept connections too


_DB_ERRORS = (SQLAlchemyError, sqlite3.Error)


def _scalar(cur: Any, sql: str, params: Sequence[Any]) -> Any:
    """The first column of the only row (None: no row). Fetches every row so that no
    statement stays open (an open read would pin an old WAL snapshot)."""
    rows = cur.execute(sql, params).fetchall()
    return rows[0][0] if rows else None


_GET_DECISION = "SELECT decision_json FROM gw_decisions WHERE idem_key = ?"
_PUT_DECISION = "INSERT INTO gw_decisions (idem_key, decision_json, created) VALUES (?, ?, ?)"
_GET_PROFILE = "SELECT profile_json FROM gw_profiles WHERE debtor_id = ?"
_PUT_PROFILE = "INSERT OR REPLACE INTO gw_profiles (debtor_id, profile_json) VALUES (?, ?)"
_GET_ATTEMPT = "SELECT attempt_json FROM gw_attempts WHERE attempt_id = ?"
_PUT_ATTEMPT = "INSERT INTO gw_attempts (attempt_id, attempt_json) VALUES (?, ?)"
_SET_ATTEMPT = "UPDATE gw_attempts SET attempt_json = ? WHERE attempt_id = ?"
_COUNT = "SELECT count(*) FROM gw_window_members WHERE key = ? AND score >= ? AND score < ?"
_SCORES = "SELECT score FROM gw_window_members WHERE key = ? AND score >= ? AND score < ?"
_ADD = "INSERT OR IGNORE INTO gw_window_members (key, member, score) VALUES (?, ?, ?)"
_REMOVE = "DELETE FROM gw_window_members WHERE key = ? AND member = ?"
