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
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

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
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import ConnectionPoolEntry

from collectguard.gateway.core import CapCheck, outcome_effects
from collectguard.gateway.models import ContactProfile, Outcome

Journal = Callable[[dict[str, Any], Any], None]
"""Called with (decision, connection or None) when a store writes a new decision; a SQL store
passes its open transaction so that the decision-log entry commits with the state."""


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


@dataclass(frozen=True)
class ReserveResult:
    status: Literal["reserved", "replay", "cap"]
    decision: dict[str, Any] | None = None
    failed: CapCheck | None = None
    scores: tuple[float, ...] = field(default_factory=tuple)


class StateStore(Protocol):
    def get_decision(self, idem_key: str) -> dict[str, Any] | None: ...

    def load(
        self, idem_key: str, debtor_id: str | None
    ) -> tuple[dict[str, Any] | None, ContactProfile | None]:
        """The stored decision for the key (if any) and, if none, the debtor's profile."""
        ...

    def remember(
        self, idem_key: str, decision: dict[str, Any], journal: Journal | None = None
    ) -> dict[str, Any]:
        """Store `decision` under the key unless one is there; return the stored one."""
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
    ) -> ReserveResult:
        """Atomically: replay if the key is known; else if every check passes (or `force`),
        add the attempt to the keys of checks with `add`, store the attempt and decision."""
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
        # reads (execution option cg_read) take no write lock; every write is IMMEDIATE
        read = conn.get_execution_options().get("cg_read", False)
        conn.exec_driver_sql("BEGIN" if read else "BEGIN IMMEDIATE")

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


class SqlStateStore:
    """SQLite (default) state; one file shared by every worker of one gateway host.

    Statements are plain SQL through the driver (the hot path is a handful of indexed
    look-ups; building SQLAlchemy expressions would cost more than running them).
    """

    def __init__(self, engine: Engine, *, create: bool = True) -> None:
        self.engine = engine
        if create:
            try:
                metadata.create_all(engine)
            except SQLAlchemyError as exc:
                raise StoreUnavailable(f"state store: {exc}") from exc

    @classmethod
    def from_path(cls, path: str) -> SqlStateStore:
        return cls(sqlite_engine(f"sqlite:///{path}"))

    def _read(self) -> Connection:
        return self.engine.connect().execution_options(cg_read=True)

    # -- idempotency
    def get_decision(self, idem_key: str) -> dict[str, Any] | None:
        return self.load(idem_key, None)[0]

    def load(
        self, idem_key: str, debtor_id: str | None
    ) -> tuple[dict[str, Any] | None, ContactProfile | None]:
        """The stored decision for the key and the debtor's profile, in one read."""
        try:
            with self._read() as c:
                raw = c.exec_driver_sql(_GET_DECISION, (idem_key,)).scalar()
                prof = (
                    c.exec_driver_sql(_GET_PROFILE, (debtor_id,)).scalar()
                    if debtor_id is not None and raw is None
                    else None
                )
        except SQLAlchemyError as exc:
            raise StoreUnavailable(f"state store: {exc}") from exc
        return (
            json.loads(raw) if raw is not None else None,
            ContactProfile.model_validate_json(prof) if prof is not None else None,
        )

    def remember(
        self, idem_key: str, decision: dict[str, Any], journal: Journal | None = None
    ) -> dict[str, Any]:
        try:
            with self.engine.begin() as c:
                raw = c.exec_driver_sql(_GET_DECISION, (idem_key,)).scalar()
                if raw is not None:
                    stored: dict[str, Any] = json.loads(raw)
                    return stored
                c.exec_driver_sql(_PUT_DECISION, (idem_key, json.dumps(decision), time.time()))
                if journal is not None:
                    journal(decision, c)
                return decision
        except SQLAlchemyError as exc:
            raise StoreUnavailable(f"state store: {exc}") from exc

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
    ) -> ReserveResult:
        try:
            with self.engine.begin() as c:  # BEGIN IMMEDIATE: we hold the write lock
                raw = c.exec_driver_sql(_GET_DECISION, (idem_key,)).scalar()
                if raw is not None:
                    return ReserveResult("replay", json.loads(raw))
                if not force:
                    for chk in checks:
                        window = (chk.key, chk.min_score, chk.max_score)
                        n = c.exec_driver_sql(_COUNT, window).scalar_one()
                        if n >= chk.limit:
                            scores = c.exec_driver_sql(_SCORES, window).scalars()
                            return ReserveResult("cap", failed=chk, scores=tuple(scores))
                for chk in checks:
                    if chk.add:
                        c.exec_driver_sql(_ADD, (chk.key, attempt.attempt_id, attempt.score))
                c.exec_driver_sql(_PUT_ATTEMPT, (attempt.attempt_id, attempt.to_json()))
                c.exec_driver_sql(_PUT_DECISION, (idem_key, json.dumps(decision), time.time()))
                if journal is not None:
                    journal(decision, c)  # the log entry commits (or not) with the reservation
                return ReserveResult("reserved", decision)
        except SQLAlchemyError as exc:
            raise StoreUnavailable(f"state store: {exc}") from exc

    def record_outcome(self, attempt_id: str, outcome: Outcome) -> Attempt:
        try:
            with self.engine.begin() as c:
                raw = c.exec_driver_sql(_GET_ATTEMPT, (attempt_id,)).scalar()
                if raw is None:
                    raise UnknownAttempt(attempt_id)
                att = Attempt.from_json(raw)
                for effect, key in outcome_effects(att.keys, outcome):
                    if effect == "remove":
                        c.exec_driver_sql(_REMOVE, (key, attempt_id))
                    elif effect == "add":
                        c.exec_driver_sql(_ADD, (key, attempt_id, att.score))
                new = Attempt(att.attempt_id, att.score, att.keys, outcome)
                c.exec_driver_sql(_SET_ATTEMPT, (new.to_json(), attempt_id))
                return new
        except SQLAlchemyError as exc:
            raise StoreUnavailable(f"state store: {exc}") from exc

    # -- profiles
    def get_profile(self, debtor_id: str) -> ContactProfile | None:
        try:
            with self._read() as c:
                raw = c.exec_driver_sql(_GET_PROFILE, (debtor_id,)).scalar()
        except SQLAlchemyError as exc:
            raise StoreUnavailable(f"state store: {exc}") from exc
        return ContactProfile.model_validate_json(raw) if raw is not None else None

    def put_profile(self, debtor_id: str, profile: ContactProfile) -> None:
        try:
            with self.engine.begin() as c:
                c.exec_driver_sql(_PUT_PROFILE, (debtor_id, profile.model_dump_json()))
        except SQLAlchemyError as exc:
            raise StoreUnavailable(f"state store: {exc}") from exc

    def ping(self) -> None:
        try:
            with self._read() as c:
                c.exec_driver_sql("SELECT 1")
        except SQLAlchemyError as exc:
            raise StoreUnavailable(f"state store: {exc}") from exc

    def close(self) -> None:
        self.engine.dispose()


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
