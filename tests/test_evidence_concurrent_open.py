"""Several processes opening one evidence store at the same moment, on SQLite and on a real
PostgreSQL: a brand-new store (all see an empty database) and a store one revision behind
(all see a pending upgrade). Every process must open the store and write to it; the schema
ends at the head revision, created once.

The processes are separate interpreters (`sys.executable`), released together by a file:
each imports everything first, says it is ready, then waits for the "go" file. The
PostgreSQL server is the throwaway one of `conftest.pg_server` (missing binaries are a
FAILURE, never a skip).
"""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, inspect, text

import collectguard.evidence.store as store_module
from collectguard.evidence import StoreError, open_store
from collectguard.evidence.models import Base
from collectguard.ledger import ledger_entries

PROCESSES = 5
VERSION_TABLE = "evidence_alembic_version"
_db_numbers = itertools.count(1)

# One opener: import everything (alembic too, which `migrate` imports lazily) so that the
# processes do not drift apart while importing, report ready, wait for the go file, then open
# the store, append one ledger entry and read the messages back.
CHILD = textwrap.dedent(
    """
    import os, sys, time
    from pathlib import Path

    import alembic.command  # noqa: F401
    from sqlalchemy import func, select

    from collectguard.evidence import open_store
    from collectguard.evidence.models import Message

    url, ready, go, attachments = sys.argv[1:5]
    Path(ready).touch()
    deadline = time.monotonic() + 60
    while not os.path.exists(go):
        if time.monotonic() > deadline:
            sys.exit("never released")
        time.sleep(0.0005)
    with open_store(url, attachments_dir=Path(attachments)) as store:
        store.ledger.append("test", {"pid": os.getpid()})
        with store.session() as s:
            s.execute(select(func.count()).select_from(Message)).scalar_one()
    print("opened")
    """
)


def _alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(Path(store_module.__file__).parent / "migrations"))
    return cfg


def _head() -> str:
    head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
    assert head is not None
    return head


def _upgrade_to(url: str, revision: str) -> None:
    """Bring a store to `revision` by hand (the state an older collectguard left it in)."""
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            cfg = _alembic_config()
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)
    finally:
        engine.dispose()


def _open_together(url: str, tmp_path: Path) -> None:
    """Start `PROCESSES` openers, release them at once, require every one to succeed."""
    sync = tmp_path / "sync"
    sync.mkdir()
    go = sync / "go"
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                CHILD,
                url,
                str(sync / f"ready-{i}"),
                str(go),
                str(tmp_path / "attachments"),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(PROCESSES)
    ]
    try:
        deadline = time.monotonic() + 60
        while sum(1 for p in sync.glob("ready-*")) < PROCESSES:
            assert time.monotonic() < deadline, "openers never got ready"
            assert all(p.poll() is None for p in procs), "an opener exited before the start"
            time.sleep(0.01)
        go.touch()
        results = [p.communicate(timeout=60) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    failed = [
        f"opener {i}: exit {p.returncode}\n{err.strip()[-1500:]}"
        for i, (p, (_out, err)) in enumerate(zip(procs, results, strict=True))
        if p.returncode != 0
    ]
    assert not failed, f"{len(failed)} of {PROCESSES} openers failed:\n" + "\n".join(failed)
    assert all(out.strip() == "opened" for out, _err in results)


def _check_schema(engine: Engine) -> None:
    with engine.connect() as conn:
        versions = conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars().all()
        assert versions == [_head()]
        names = inspect(conn).get_table_names()
        expected = {*Base.metadata.tables, ledger_entries.name, VERSION_TABLE}
        assert expected <= set(names) and len(names) == len(set(names))
        columns = [c["name"] for c in inspect(conn).get_columns("evidence_attachments")]
        assert columns.count("case_key") == 1 and columns.count("note") == 1
        if conn.dialect.name == "postgresql":  # one row type per table, none left half-made
            types = conn.execute(
                text(
                    "SELECT typname, count(*) FROM pg_type WHERE typname = ANY(:names) "
                    "GROUP BY typname"
                ),
                {"names": sorted(expected)},
            ).all()
            assert sorted(types) == sorted((name, 1) for name in expected)


@pytest.fixture(params=["sqlite", "postgresql"])
def fresh_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of a brand-new, empty store: a SQLite file not yet there, or a new database on
    the throwaway PostgreSQL server."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'evidence.sqlite3'}"
        return
    base: str = request.getfixturevalue("pg_server")
    name = f"cg_open_{os.getpid()}_{next(_db_numbers)}"
    admin = create_engine(f"{base}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield f"{base}/{name}"
    finally:
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.mark.parametrize("start", ["empty", "0001"])
def test_concurrent_first_open_and_upgrade(fresh_url: str, start: str, tmp_path: Path) -> None:
    if start != "empty":
        _upgrade_to(fresh_url, start)
    _open_together(fresh_url, tmp_path)
    with open_store(fresh_url, attachments_dir=tmp_path / "attachments") as store:
        _check_schema(store.engine)
        report = store.ledger.verify()
        assert report.ok and report.checked == PROCESSES


def test_version_table_name_matches_migration_env() -> None:
    """`migrate` checks the revision itself before taking the lock: its version table name
    must be the one the migration environment writes."""
    env = (Path(store_module.__file__).parent / "migrations" / "env.py").read_text("utf-8")
    assert f'VERSION_TABLE = "{store_module.MIGRATION_VERSION_TABLE}"' in env
    assert store_module.MIGRATION_VERSION_TABLE == VERSION_TABLE


def test_schema_head_constant_is_the_newest_migration() -> None:
    """`open_store` trusts `SCHEMA_HEAD` to skip Alembic: a new revision must move it."""
    cfg = Config()
    cfg.set_main_option("script_location", str(Path(store_module.__file__).parent / "migrations"))
    assert ScriptDirectory.from_config(cfg).get_heads() == [store_module.SCHEMA_HEAD]


def _opens_without_alembic(db: Path) -> bool:
    """Open (or create) the store at `db` in a new interpreter: was Alembic left unimported?"""
    code = (
        "import sys\n"
        "from collectguard.evidence.store import open_store\n"
        f"open_store({str(db)!r}).close()\n"
        "print('alembic' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    return out.strip() == "False"


def test_opening_a_store_at_head_does_not_import_alembic(tmp_path: Path) -> None:
    db = tmp_path / "evidence.sqlite3"
    open_store(str(db)).close()  # creates it
    assert _opens_without_alembic(db)


def _sqlite_structure(db: Path) -> dict[str, object]:
    """Every table's columns (in order, with type, NOT NULL, default, key), indexes (with
    their columns and uniqueness) and foreign keys, as SQLite itself reports them."""
    import sqlite3

    con = sqlite3.connect(db)
    try:
        out: dict[str, object] = {}
        names = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for t in sorted(names):
            indexes = {
                (name, unique, origin, partial): [
                    r[2] for r in con.execute(f'PRAGMA index_info("{name}")')
                ]
                for _seq, name, unique, origin, partial in con.execute(f'PRAGMA index_list("{t}")')
            }
            out[t] = {
                "columns": con.execute(f'PRAGMA table_info("{t}")').fetchall(),
                "indexes": sorted(indexes.items()),
                "foreign_keys": sorted(con.execute(f'PRAGMA foreign_key_list("{t}")')),
            }
        out["versions"] = con.execute(f"SELECT * FROM {VERSION_TABLE}").fetchall()
        return out
    finally:
        con.close()


def test_a_new_sqlite_store_is_created_as_alembic_creates_it(tmp_path: Path) -> None:
    """A new SQLite store is created from the models, without Alembic (≈ 0.3 s less on a new
    user's first import): table for table, column for column (order included), index and
    foreign key, it must be the store Alembic's revisions build."""
    fast, slow = tmp_path / "fast.sqlite3", tmp_path / "alembic.sqlite3"
    assert _opens_without_alembic(fast)  # creates it
    engine = create_engine(f"sqlite:///{slow}")
    store_module._migrate_with_alembic(engine)
    engine.dispose()
    built, migrated = _sqlite_structure(fast), _sqlite_structure(slow)
    assert set(built) >= {"evidence_messages", "ledger_entries", VERSION_TABLE}
    assert built == migrated
    # a database that has tables is not touched by the fast path (Alembic decides)
    engine = create_engine(f"sqlite:///{slow}")
    assert store_module._create_new_sqlite(engine) is False
    engine.dispose()


def test_a_store_from_a_newer_version_is_refused_clearly_and_left_alone(tmp_path: Path) -> None:
    db = tmp_path / "evidence.sqlite3"
    open_store(str(db)).close()
    engine = create_engine(f"sqlite:///{db}")
    table = store_module.MIGRATION_VERSION_TABLE
    with engine.begin() as c:
        c.execute(text(f"UPDATE {table} SET version_num = 'f00dfacade42'"))
    with pytest.raises(StoreError, match=r"newer collectguard.*f00dfacade42") as caught:
        open_store(str(db))
    assert "更新版本" in str(caught.value)
    with engine.connect() as c:  # nothing was changed
        assert c.execute(text(f"SELECT version_num FROM {table}")).scalar_one() == "f00dfacade42"
    engine.dispose()


def test_threads_opening_new_stores_at_once_each_get_theirs(tmp_path: Path) -> None:
    """One process, several threads, each opening its own new store (a web server creating
    two lockers at the same moment). Alembic keeps the running migration in module globals:
    without the process-wide lock one thread's tables were created on another's connection
    (`table … already exists`, `KeyError: 'config'`, once a segfault)."""
    import threading

    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def open_new(i: int) -> None:
        try:
            barrier.wait()
            s = open_store(f"sqlite:///{tmp_path / f's{i}.sqlite3'}", attachments_dir=tmp_path)
            s.ledger.append("test", {"store": i})
            s.close()
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    for round_ in range(3):
        threads = [threading.Thread(target=open_new, args=(round_ * 4 + i,)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert errors == []
    for i in range(12):
        eng = create_engine(f"sqlite:///{tmp_path / f's{i}.sqlite3'}")
        with eng.connect() as c:
            version = c.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar()
        eng.dispose()
        assert version == store_module.SCHEMA_HEAD
