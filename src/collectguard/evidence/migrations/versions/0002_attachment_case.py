"""Attachments added by hand (screenshots, recordings): the case they belong to and a note.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("evidence_attachments") as batch:
        batch.add_column(sa.Column("case_key", sa.String(200), nullable=True))
        batch.add_column(sa.Column("note", sa.Text, nullable=True))
        batch.create_index("ix_evidence_attachments_case_key", ["case_key"])


def downgrade() -> None:
    with op.batch_alter_table("evidence_attachments") as batch:
        batch.drop_index("ix_evidence_attachments_case_key")
        batch.drop_column("note")
        batch.drop_column("case_key")
