"""Opening the evidence store: database engine, migrations, attachment folder, ledger stream.

`open_store(url=None)` gives an `EvidenceStore` on SQLite in the user's data folder
(platformdirs) or on the database a URL names (``postgresql://…``), after running the Alembic
migrations shipped in `collectguard.evidence.migrations`. Attachments are kept on disk under
their SHA-256 (``ab/cd/abcd…``), written atomically, never overwritten. Owns no import logic.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import tempfile
import threading
from pathlib import Path
from typing import Any

import platformdirs
import pydantic_core
from sqlalchemy import (
    Column,
    Engine,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    create_engine,
    event,
    text,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from collectguard.evidence.errors import StoreError
from collectguard.ledger import SqlLedger

LEDGER_STREAM = "evidence"
DB_ENV = "COLLECTGUARD_DB"
"""Environment variable naming the database URL when none is passed."""


def default_data_dir() -> Path:
    return platformdirs.user_data_path("collectguard", appauthor=False)


def default_url() -> str:
    env = os.environ.get(DB_ENV)
    if env:
        return env
    return f"sqlite:///{default_data_dir() / 'evidence.sqlite3'}"


def _normalise_url(url: str) -> str:
    if "://" not in url:  # a plain path means a SQLite file
        return f"sqlite:///{Path(url).expanduser().resolve()}"
    for plain in ("postgresql://", "postgres://"):
        if url.startswith(plain):
            return "postgresql+psycopg://" + url[len(plain) :]
    return url


WAL_CHECKPOINT_PAGES = 10_000
"""SQLite pages of write-ahead log (4 KiB each) between automatic checkpoints."""


def _sqlite_pragmas(engine: Engine, on_disk: bool) -> None:
    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn: Any, _record: Any) -> None:
        # Take over BEGIN from the sqlite3 module so writers can ask for BEGIN IMMEDIATE.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        if on_disk:
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            # Checkpoint (copy the WAL into the database, with two fsyncs) every ~40 MB of
            # WAL instead of SQLite's 4 MB: a large import spent seconds waiting on fsyncs.
            cur.execute(f"PRAGMA wal_autocheckpoint={WAL_CHECKPOINT_PAGES}")
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        immediate = conn.get_execution_options().get("sqlite_immediate", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


class EvidenceStore:
    """An open evidence store. Use `writer()` for transactions that write (serialised on
    SQLite), `session()` for reading."""

    def __init__(self, engine: Engine, attachments_dir: Path) -> None:
        self.engine = engine
        self.attachments_dir = attachments_dir
        self.ledger = SqlLedger(engine, LEDGER_STREAM)
        self._read = sessionmaker(engine, expire_on_commit=False)
        write_engine = (
            engine.execution_options(sqlite_immediate=True)
            if engine.dialect.name == "sqlite"
            else engine
        )
        self._write = sessionmaker(write_engine, expire_on_commit=False)

    @property
    def url(self) -> str:
        return self.engine.url.render_as_string(hide_password=True)

    def session(self) -> Session:
        return self._read()

    def writer(self) -> Session:
        return self._write()

    # ------------------------------------------------------------------ attachments
    def attachment_path(self, sha256: str) -> Path:
        return self.attachments_dir / sha256[:2] / sha256[2:4] / sha256

    def put_attachment(self, data: bytes) -> str:
        """Store bytes under their SHA-256 (idempotent, atomic); returns the hash."""
        digest = hashlib.sha256(data).hexdigest()
        target = self.attachment_path(digest)
        if target.exists():
            return digest
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return digest

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> EvidenceStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class RawJSON(str):
    """A JSON document already serialised (e.g. by `BaseModel.model_dump_json`): a JSON
    column stores it as it is instead of encoding it again."""

    __slots__ = ()


def _json_dumps(value: object) -> str:
    """JSON columns (stored verdicts) serialised by pydantic-core: the same JSON value as
    `json.dumps` gives, several times faster on a verdict's nested dicts."""
    if isinstance(value, RawJSON):
        return str(value)
    return pydantic_core.to_json(value).decode("utf-8")


MIGRATION_VERSION_TABLE = "evidence_alembic_version"
"""Alembic's version table, as `migrations/env.py` names it (read here before the lock is
taken; should the two names ever differ, every open would just take the locked path)."""
SCHEMA_HEAD = "0003"
"""The newest revision in ``migrations/versions`` (a test checks it against Alembic's own
heads). A store whose version table holds just this is opened without importing Alembic."""
_MIGRATE_LOCK = "collectguard.evidence:migrate"
"""Key of the PostgreSQL advisory lock that serialises migrations (``hashtext`` of it)."""


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision (Alembic, no ini file), also when several
    processes open one new or outdated store at the same moment.

    Alembic looks at the version table, then runs what is missing: processes that start
    together on an empty or outdated database all see the same pending revisions, and all
    but one fail (PostgreSQL: ``DuplicateTable``, a unique violation on ``pg_type``,
    ``DuplicateColumn``; SQLite: ``database is locked`` when a read snapshot turns stale).
    The upgrade therefore runs under a lock held for its whole transaction: on PostgreSQL a
    transaction-scoped advisory lock taken first on Alembic's connection, on SQLite the
    database write lock (``BEGIN IMMEDIATE``; the ``begin`` hook of `_sqlite_pragmas` emits
    the BEGIN, and Alembic runs inside that transaction without beginning or committing its
    own). The others wait, then find the schema at head and change nothing.

    A store already at head is recognised first, without the lock, by comparing its version
    rows with the script heads in a plain read: opening it takes no write lock (an import's
    long write transaction does not hold up the open) and does not run the Alembic
    environment. A revision the scripts do not know (a store written by a newer version of
    collectguard) is a `StoreError` that says so, before anything is changed.

    The common case, a store at `SCHEMA_HEAD`, is told by one plain query before Alembic is
    even imported (importing it and reading its scripts cost ≈ 0.24 s per command)."""
    if _at_head(engine):
        return
    if engine.dialect.name == "sqlite" and _create_new_sqlite(engine):
        return
    # Alembic keeps the running migration in module globals (its op and context proxies):
    # two threads migrating two new stores at once ran one's DDL on the other's connection
    # (a web server opening two new lockers at the same moment: wrong errors, a segfault).
    with _ALEMBIC_LOCK:
        _migrate_with_alembic(engine)


_ALEMBIC_LOCK = threading.Lock()
"""One Alembic run at a time in a process (across processes: the database locks below)."""


def _migrate_with_alembic(engine: Engine) -> None:
    from alembic import command  # imported here: ~0.7 s that only a migration needs
    from alembic.config import Config
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    scripts = ScriptDirectory.from_config(cfg)
    heads = set(scripts.get_heads())
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"version_table": MIGRATION_VERSION_TABLE})
        current = set(context.get_current_heads())
    if current == heads:
        return
    unknown = current - {r.revision for r in scripts.walk_revisions()}
    if unknown:
        revs = ", ".join(sorted(unknown))
        raise StoreError(
            f"证据库由更新版本的 collectguard 写入（结构版本 {revs}），请升级后再打开 / this "
            f"evidence store was written by a newer collectguard (schema revision {revs}): "
            "upgrade collectguard to open it; nothing was changed"
        )
    sqlite = engine.dialect.name == "sqlite"
    locked = engine.execution_options(sqlite_immediate=True) if sqlite else engine
    with locked.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": _MIGRATE_LOCK})
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


def _create_new_sqlite(engine: Engine) -> bool:
    """Create the schema at `SCHEMA_HEAD` in a SQLite database that has no table yet, from the
    models, without Alembic (importing it and replaying every revision cost ≈ 0.3 s of a new
    user's first import). A test checks the result against Alembic's, column for column and
    index for index. False, changing nothing, when the database has tables: Alembic decides.
    Runs under the write lock (``BEGIN IMMEDIATE``), so processes creating one store at the
    same moment do it once: the others find tables and take Alembic's path, which finds the
    schema at head."""
    from collectguard.evidence.models import Base
    from collectguard.ledger.store import ledger_entries

    with engine.execution_options(sqlite_immediate=True).begin() as conn:
        if conn.exec_driver_sql("SELECT 1 FROM sqlite_master WHERE type = 'table'").first():
            return False
        ledger_entries.create(conn)
        Base.metadata.create_all(conn)
        _VERSION_TABLE.create(conn)
        conn.execute(_VERSION_TABLE.insert().values(version_num=SCHEMA_HEAD))
    return True


_VERSION_TABLE = Table(
    MIGRATION_VERSION_TABLE,
    MetaData(),
    Column("version_num", String(32), nullable=False),
    PrimaryKeyConstraint("version_num", name=f"{MIGRATION_VERSION_TABLE}_pkc"),
)
"""Alembic's version table as Alembic creates it (for `_create_new_sqlite`)."""


def _at_head(engine: Engine) -> bool:
    """Whether the store's version table holds exactly `SCHEMA_HEAD` (False when there is no
    table yet or it cannot be read: Alembic's path then decides, and reports)."""
    try:
        with engine.connect() as c:
            rows = c.execute(text(f"SELECT version_num FROM {MIGRATION_VERSION_TABLE}")).all()
    except SQLAlchemyError:
        return False
    return [r[0] for r in rows] == [SCHEMA_HEAD]


def _refuse_foreign_sqlite(path: Path, *, must_exist: bool) -> None:
    """Never turn another program's SQLite file into a store: an iPhone ``sms.db`` given as
    ``--db`` by mistake must stay as it was. A file with tables but no evidence tables is
    refused; an empty one only becomes a store for commands that may create one (import)."""
    if not path.is_file():
        return
    if path.stat().st_size == 0:
        tables: set[str] = set()
    else:
        try:
            con = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
            try:
                tables = {
                    r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")
                }
            finally:
                con.close()
        except sqlite3.DatabaseError as exc:
            raise StoreError(
                f"{path} 不是证据库（无法作为 SQLite 读取：{exc}）/ {path} is not an evidence "
                f"store (not readable as SQLite: {exc})"
            ) from None
    if "evidence_alembic_version" in tables:
        return
    if tables:
        shown = ", ".join(sorted(tables)[:5])
        raise StoreError(
            f"{path} 是其他程序的数据库（含表 {shown}），不是证据库，未作改动；请换一个 --db "
            f"路径 / {path} belongs to something else (tables {shown}), not an evidence "
            "store; left untouched: give another --db path"
        )
    if must_exist:
        raise StoreError(
            f"{path} 是空文件，不是证据库 / {path} is empty, not an evidence store: check --db, "
            "or import messages first"
        )


def _db_error(exc: SQLAlchemyError) -> str:
    """The driver's own words, without SQLAlchemy's statement echo and help link."""
    orig = getattr(exc, "orig", None)
    return str(orig) if orig is not None else str(exc).split("\n")[0]


def open_store(
    url: str | None = None, *, attachments_dir: Path | None = None, must_exist: bool = False
) -> EvidenceStore:
    """Open (creating and migrating as needed) the evidence store at `url`.

    None: ``$COLLECTGUARD_DB`` or SQLite ``evidence.sqlite3`` in the user data folder. A plain
    path is a SQLite file; ``postgresql://`` uses psycopg 3. Attachments go to
    `attachments_dir`, by default ``attachments/`` next to a SQLite file or in the user data
    folder. `must_exist`: a SQLite file that is not there is an error, not a new empty store
    (for commands that only read: a mistyped path must not look like an intact, empty store).
    """
    raw = _normalise_url(url or default_url())
    try:
        parsed = make_url(raw)
    except ArgumentError as exc:
        raise StoreError(f"数据库地址无效 / invalid database URL {raw!r}: {exc}") from None
    on_disk = False
    if parsed.get_backend_name() == "sqlite":
        db = parsed.database
        on_disk = bool(db) and db != ":memory:"
        if on_disk:
            assert db is not None
            path = Path(db).expanduser()
            if must_exist and not path.is_file():
                raise StoreError(
                    f"没有证据库 {db}：请检查 --db，或先用 import 导入短信 / no evidence store at "
                    f"{db}: check --db, or import messages first"
                )
            _refuse_foreign_sqlite(path, must_exist=must_exist)
            path.parent.mkdir(parents=True, exist_ok=True)
        if attachments_dir is None:
            base = Path(db).expanduser().parent if on_disk and db else default_data_dir()
            attachments_dir = base / "attachments"
    elif attachments_dir is None:
        attachments_dir = default_data_dir() / "attachments"
    try:
        engine = create_engine(parsed, json_serializer=_json_dumps)
    except (ArgumentError, ImportError) as exc:
        raise StoreError(f"无法连接数据库 / cannot use database {raw!r}: {exc}") from None
    if parsed.get_backend_name() == "sqlite":
        _sqlite_pragmas(engine, on_disk)
    try:
        migrate(engine)
    except StoreError:
        engine.dispose()
        raise
    except SQLAlchemyError as exc:
        engine.dispose()
        raise StoreError(
            f"无法打开或升级证据库 / cannot open or migrate the evidence store: {_db_error(exc)}"
        ) from None
    return EvidenceStore(engine, attachments_dir)
