"""Initial evidence schema: import runs, messages, violations, calls, attachments, ledger.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

from collectguard.dbtypes import UTCDateTime
from collectguard.ledger import ledger_metadata

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The ledger table belongs to collectguard.ledger and may already exist when the
    # gateway shares this database.
    ledger_metadata.create_all(op.get_bind(), checkfirst=True)

    op.create_table(
        "evidence_import_runs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("source_name", sa.String(1000), nullable=False),
        sa.Column("source_sha256", sa.String(64), nullable=False),
        sa.Column("format", sa.String(32), nullable=False),
        sa.Column("recipient", sa.String(200), nullable=False),
        sa.Column("started_at", UTCDateTime, nullable=False),
        sa.Column("finished_at", UTCDateTime, nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("new_count", sa.Integer, nullable=False),
        sa.Column("duplicate_count", sa.Integer, nullable=False),
        sa.Column("rejected_count", sa.Integer, nullable=False),
        sa.Column("skipped_count", sa.Integer, nullable=False),
        sa.Column("resume_position", sa.String(200), nullable=True),
        sa.Column("error", sa.Text, nullable=True),
    )
    op.create_index(
        "ix_evidence_import_runs_source_sha256", "evidence_import_runs", ["source_sha256"]
    )

    op.create_table(
        "evidence_messages",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("dedupe_key", sa.String(64), nullable=False, unique=True),
        sa.Column("item_sha256", sa.String(64), nullable=False),
        sa.Column("sender", sa.String(200), nullable=True),
        sa.Column("recipient", sa.String(200), nullable=False),
        sa.Column("direction", sa.String(8), nullable=False),
        sa.Column("received_at", UTCDateTime, nullable=True),
        sa.Column("received_at_text", sa.String(64), nullable=True),
        sa.Column("timezone", sa.String(64), nullable=True),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("source_ref", sa.String(200), nullable=False),
        sa.Column("lender_id", sa.String(200), nullable=True),
        sa.Column("lender_name", sa.String(200), nullable=True),
        sa.Column("is_collection", sa.Boolean, nullable=False),
        sa.Column("authenticity", sa.String(16), nullable=False),
        sa.Column("verdict", sa.JSON().with_variant(JSONB(), "postgresql"), nullable=False),
        sa.Column(
            "import_run_id",
            sa.Integer,
            sa.ForeignKey("evidence_import_runs.id"),
            nullable=False,
        ),
        sa.Column("imported_at", UTCDateTime, nullable=False),
        sa.Column("ledger_seq", sa.Integer, nullable=True),
    )
    op.create_index("ix_evidence_messages_sender", "evidence_messages", ["sender"])
    op.create_index("ix_evidence_messages_lender_id", "evidence_messages", ["lender_id"])

    op.create_table(
        "evidence_violations",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "message_id",
            sa.Integer,
            sa.ForeignKey("evidence_messages.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("rule_id", sa.String(200), nullable=False),
        sa.Column("code", sa.String(64), nullable=False),
        sa.Column("severity", sa.String(32), nullable=False),
        sa.Column("title", sa.String(400), nullable=False),
    )
    op.create_index("ix_evidence_violations_rule", "evidence_violations", ["rule_id"])
    op.create_index("ix_evidence_violations_message_id", "evidence_violations", ["message_id"])

    op.create_table(
        "evidence_calls",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("dedupe_key", sa.String(64), nullable=False, unique=True),
        sa.Column("item_sha256", sa.String(64), nullable=False),
        sa.Column("number", sa.String(200), nullable=True),
        sa.Column("recipient", sa.String(200), nullable=False),
        sa.Column("call_type", sa.String(16), nullable=False),
        sa.Column("started_at", UTCDateTime, nullable=True),
        sa.Column("duration_s", sa.Integer, nullable=False),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("source_ref", sa.String(200), nullable=False),
        sa.Column(
            "import_run_id",
            sa.Integer,
            sa.ForeignKey("evidence_import_runs.id"),
            nullable=False,
        ),
        sa.Column("imported_at", UTCDateTime, nullable=False),
        sa.Column("ledger_seq", sa.Integer, nullable=True),
    )
    op.create_index("ix_evidence_calls_number", "evidence_calls", ["number"])

    op.create_table(
        "evidence_attachments",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("dedupe_key", sa.String(64), nullable=False, unique=True),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("message_id", sa.Integer, sa.ForeignKey("evidence_messages.id"), nullable=True),
        sa.Column("filename", sa.String(400), nullable=True),
        sa.Column("media_type", sa.String(100), nullable=True),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column(
            "import_run_id",
            sa.Integer,
            sa.ForeignKey("evidence_import_runs.id"),
            nullable=False,
        ),
        sa.Column("imported_at", UTCDateTime, nullable=False),
        sa.Column("ledger_seq", sa.Integer, nullable=True),
    )
    op.create_index("ix_evidence_attachments_sha256", "evidence_attachments", ["sha256"])
    op.create_index("ix_evidence_attachments_message_id", "evidence_attachments", ["message_id"])


def downgrade() -> None:
    for table in (
        "evidence_attachments",
        "evidence_calls",
        "evidence_violations",
        "evidence_messages",
        "evidence_import_runs",
    ):
        op.drop_table(table)
