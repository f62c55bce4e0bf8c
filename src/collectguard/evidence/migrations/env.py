"""Alembic environment: online mode only, on the connection `open_store` provides."""

from __future__ import annotations

from alembic import context

from collectguard.evidence.models import Base

VERSION_TABLE = "evidence_alembic_version"

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only when someone runs the alembic CLI by hand
    raise RuntimeError("run migrations through collectguard.evidence.open_store(url)")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    version_table=VERSION_TABLE,
    render_as_batch=True,
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
