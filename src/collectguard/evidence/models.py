"""SQLAlchemy 2 models of the evidence locker: what is stored about each item.

Owns the tables ``evidence_import_runs``, ``evidence_messages``, ``evidence_violations``,
``evidence_calls`` and ``evidence_attachments``. The hash chain over them lives in the shared
``ledger_entries`` table (`collectguard.ledger`); attachment bytes live on disk, addressed by
their SHA-256 (`collectguard.evidence.store`). Times are stored as naive UTC and always read
back timezone-aware (`UTCDateTime`). Imports nothing from the CLI or the importers.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from collectguard.dbtypes import UTCDateTime

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


JSONDoc = JSON().with_variant(JSONB(), "postgresql")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class ImportRun(Base):
    """One run of an importer over one source (file or pasted text)."""

    __tablename__ = "evidence_import_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_name: Mapped[str] = mapped_column(String(1000))
    source_sha256: Mapped[str] = mapped_column(String(64), index=True)
    format: Mapped[str] = mapped_column(String(32))
    recipient: Mapped[str] = mapped_column(String(200))
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    status: Mapped[str] = mapped_column(String(16))  # running | complete | failed
    new_count: Mapped[int] = mapped_column(Integer, default=0)
    duplicate_count: Mapped[int] = mapped_column(Integer, default=0)
    rejected_count: Mapped[int] = mapped_column(Integer, default=0)
    skipped_count: Mapped[int] = mapped_column(Integer, default=0)
    resume_position: Mapped[str | None] = mapped_column(String(200), nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)


class Message(Base):
    """One text message (SMS, iMessage, MMS text, pasted text) with the analyzer's verdict."""

    __tablename__ = "evidence_messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dedupe_key: Mapped[str] = mapped_column(String(64), unique=True)
    item_sha256: Mapped[str] = mapped_column(String(64))
    sender: Mapped[str | None] = mapped_column(String(200), nullable=True)
    recipient: Mapped[str] = mapped_column(String(200))
    direction: Mapped[str] = mapped_column(String(8))  # in | out
    received_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    received_at_text: Mapped[str | None] = mapped_column(String(64), nullable=True)
    timezone: Mapped[str | None] = mapped_column(String(64), nullable=True)
    text: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(32))
    source_ref: Mapped[str] = mapped_column(String(200))
    lender_id: Mapped[str | None] = mapped_column(String(200), nullable=True, index=True)
    lender_name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    is_collection: Mapped[bool] = mapped_column(Boolean)
    authenticity: Mapped[str] = mapped_column(String(16))
    verdict: Mapped[dict[str, Any]] = mapped_column(JSONDoc)
    import_run_id: Mapped[int] = mapped_column(ForeignKey("evidence_import_runs.id"))
    imported_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    ledger_seq: Mapped[int | None] = mapped_column(Integer, nullable=True)

    violations: Mapped[list[Violation]] = relationship(
        back_populates="message", cascade="all, delete-orphan"
    )


class Violation(Base):
    """One violation of one message, copied from the verdict for counting in SQL."""

    __tablename__ = "evidence_violations"
    __table_args__ = (Index("ix_evidence_violations_rule", "rule_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    message_id: Mapped[int] = mapped_column(
        ForeignKey("evidence_messages.id", ondelete="CASCADE"), index=True
    )
    rule_id: Mapped[str] = mapped_column(String(200))
    code: Mapped[str] = mapped_column(String(64))
    severity: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(String(400))

    message: Mapped[Message] = relationship(back_populates="violations")


class CallRecord(Base):
    """One call-log entry (Android call backups)."""

    __tablename__ = "evidence_calls"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dedupe_key: Mapped[str] = mapped_column(String(64), unique=True)
    item_sha256: Mapped[str] = mapped_column(String(64))
    number: Mapped[str | None] = mapped_column(String(200), nullable=True, index=True)
    recipient: Mapped[str] = mapped_column(String(200))
    call_type: Mapped[str] = mapped_column(String(16))
    started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    duration_s: Mapped[int] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(32))
    source_ref: Mapped[str] = mapped_column(String(200))
    import_run_id: Mapped[int] = mapped_column(ForeignKey("evidence_import_runs.id"))
    imported_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    ledger_seq: Mapped[int | None] = mapped_column(Integer, nullable=True)


class Attachment(Base):
    """A file (MMS image, screenshot, audio) kept on disk under its SHA-256."""

    __tablename__ = "evidence_attachments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dedupe_key: Mapped[str] = mapped_column(String(64), unique=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    message_id: Mapped[int | None] = mapped_column(
        ForeignKey("evidence_messages.id"), nullable=True, index=True
    )
    filename: Mapped[str | None] = mapped_column(String(400), nullable=True)
    media_type: Mapped[str | None] = mapped_column(String(100), nullable=True)
    size: Mapped[int] = mapped_column(Integer)
    import_run_id: Mapped[int] = mapped_column(ForeignKey("evidence_import_runs.id"))
    imported_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    ledger_seq: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # added by revision 0002, hence last (a new store is created from these models)
    case_key: Mapped[str | None] = mapped_column(String(200), nullable=True, index=True)
    """For a file added by hand (screenshot, recording): the case it belongs to."""
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
