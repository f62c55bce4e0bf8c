"""Opening the portal database: engine, session factory, schema creation.

SQLite by default (zero setup); any SQLAlchemy URL works. The portal's tables are created
with ``create_all`` on start: they have no migration history. A nullable column added to a
model later is added to an existing table on start (`add_new_columns`), so old rows keep
working (they read None there); anything else needs a real migration.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy import text as sql_text
from sqlalchemy.orm import Session, sessionmaker

from collectguard.web.models import Base

__all__ = ["add_new_columns", "open_database"]


def open_database(url: str) -> tuple[Engine, sessionmaker[Session]]:
    """An engine and session factory for `url`, with the schema created."""
    connect_args: dict[str, object] = {}
    if url.startswith("sqlite"):
        connect_args["check_same_thread"] = False
        path = url.removeprefix("sqlite:///")
        if path and path != url and not path.startswith(":memory:"):
            Path(path).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args=connect_args)
    if url.startswith("sqlite"):

        @event.listens_for(engine, "connect")
        def _fk_on(dbapi_conn: object, _record: object) -> None:
            cur = dbapi_conn.cursor()  # type: ignore[attr-defined]
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

    Base.metadata.create_all(engine)
    add_new_columns(engine)
    return engine, sessionmaker(engine, expire_on_commit=False)


def add_new_columns(engine: Engine) -> list[str]:
    """Add the models' plain nullable columns that an existing table lacks (``create_all`` makes
    missing tables, never missing columns); returns ``table.column`` of each one added."""
    inspector = inspect(engine)
    quote = engine.dialect.identifier_preparer.quote
    added: list[str] = []
    with engine.begin() as conn:
        for table in Base.metadata.sorted_tables:
            if not inspector.has_table(table.name):
                continue
            present = {c["name"] for c in inspector.get_columns(table.name)}
            for column in table.columns:
                if column.name in present:
                    continue
                if not column.nullable or column.unique or column.index:
                    raise RuntimeError(
                        f"{table.name}.{column.name} is missing and is not a plain nullable "
                        "column: it needs a migration"
                    )
                kind = column.type.compile(dialect=engine.dialect)
                conn.execute(
                    sql_text(
                        f"ALTER TABLE {quote(table.name)} ADD COLUMN {quote(column.name)} {kind}"
                    )
                )
                added.append(f"{table.name}.{column.name}")
    return added
