"""Messages lose their sender index: no query looks messages up by sender (cases are grouped
in Python from what they read), and every import paid for it, a random insert into one more
B-tree per message (≈ 0.5 s per 100,000 messages, docs/benchmarks.md).

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_evidence_messages_sender", table_name="evidence_messages")


def downgrade() -> None:
    op.create_index("ix_evidence_messages_sender", "evidence_messages", ["sender"])
