"""Tables of the borrower portal (its own schema, separate from the evidence and gateway stores).

Owns: users (role ``borrower`` or ``staff``), bills with payments, plan requests, contact
preferences, complaints, the collection messages the lender sent each borrower, consumer
evidence lockers (the row only: the messages live in the locker's own evidence store) and
the staff's audit runs. Money is integer cents (分); times are aware UTC.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from sqlalchemy import (
    Boolean,
    Date,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from collectguard.dbtypes import UTCDateTime

__all__ = [
    "AUDIT_STATUSES",
    "COMPLAINT_STATUSES",
    "AuditRun",
    "Base",
    "Bill",
    "Complaint",
    "ConsumerLocker",
    "ContactPreference",
    "LenderMessage",
    "Payment",
    "PlanRequestRecord",
    "Role",
    "User",
]

Role = Literal["borrower", "staff"]
COMPLAINT_STATUSES: tuple[str, ...] = ("open", "in_progress", "resolved")
AUDIT_STATUSES: tuple[str, ...] = ("queued", "running", "done", "failed")


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "web_user"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(64))
    password_hash: Mapped[str] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(16))
    session_nonce: Mapped[str] = mapped_column(String(64))
    """Rotated on sign-out, so a copied session cookie stops working."""

    bills: Mapped[list[Bill]] = relationship(back_populates="user", order_by="Bill.id")


class Bill(Base):
    __tablename__ = "web_bill"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("web_user.id"), index=True)
    product: Mapped[str] = mapped_column(String(128))
    loan_start: Mapped[dt.date] = mapped_column(Date)
    due_date: Mapped[dt.date] = mapped_column(Date)
    principal_cents: Mapped[int] = mapped_column(Integer)
    interest_cents: Mapped[int] = mapped_column(Integer)
    fees_cents: Mapped[int] = mapped_column(Integer)
    days_overdue: Mapped[int] = mapped_column(Integer, default=0)

    user: Mapped[User] = relationship(back_populates="bills")
    payments: Mapped[list[Payment]] = relationship(order_by="Payment.paid_on")

    @property
    def total_cents(self) -> int:
        return self.principal_cents + self.interest_cents + self.fees_cents

    @property
    def paid_cents(self) -> int:
        return sum(p.amount_cents for p in self.payments)

    @property
    def outstanding_cents(self) -> int:
        return max(self.total_cents - self.paid_cents, 0)

    @property
    def progress_percent(self) -> int:
        return 100 if self.total_cents == 0 else round(100 * self.paid_cents / self.total_cents)


class Payment(Base):
    __tablename__ = "web_payment"

    id: Mapped[int] = mapped_column(primary_key=True)
    bill_id: Mapped[int] = mapped_column(ForeignKey("web_bill.id"), index=True)
    paid_on: Mapped[dt.date] = mapped_column(Date)
    amount_cents: Mapped[int] = mapped_column(Integer)


class PlanRequestRecord(Base):
    """A borrower's request for one proposed plan; the figures are recomputed server-side."""

    __tablename__ = "web_plan_request"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("web_user.id"), index=True)
    bill_id: Mapped[int] = mapped_column(ForeignKey("web_bill.id"), index=True)
    term_months: Mapped[int] = mapped_column(Integer)
    monthly_amount_cents: Mapped[int] = mapped_column(Integer)
    total_paid_cents: Mapped[int] = mapped_column(Integer)
    waiver_cents: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship()
    bill: Mapped[Bill] = relationship()


class ContactPreference(Base):
    """How and when the borrower agrees to be contacted (feeds the gateway's consent state)."""

    __tablename__ = "web_contact_preference"

    user_id: Mapped[int] = mapped_column(ForeignKey("web_user.id"), primary_key=True)
    sms: Mapped[bool] = mapped_column(Boolean, default=True)
    phone: Mapped[bool] = mapped_column(Boolean, default=True)
    email: Mapped[bool] = mapped_column(Boolean, default=False)
    app_push: Mapped[bool] = mapped_column(Boolean, default=True)
    hour_start: Mapped[int] = mapped_column(Integer, default=9)
    hour_end: Mapped[int] = mapped_column(Integer, default=20)
    opt_out: Mapped[bool] = mapped_column(Boolean, default=False)
    """Stop all collection contact except what the law requires (written notices)."""
    updated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)


class Complaint(Base):
    __tablename__ = "web_complaint"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("web_user.id"), index=True)
    category: Mapped[str] = mapped_column(String(32))
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="open")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    staff_note: Mapped[str | None] = mapped_column(Text, nullable=True)

    user: Mapped[User] = relationship()


class LenderMessage(Base):
    """A collection message the lender sent to a borrower (shown with its compliance check)."""

    __tablename__ = "web_lender_message"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("web_user.id"), index=True)
    sender: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text)
    sent_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class ConsumerLocker(Base):
    """A consumer's evidence locker: no account, no name, no phone number.

    The messages live in the locker's own evidence store (``<data_dir>/lockers/<folder>/``),
    so one locker's store never holds another's items. A temporary locker (made by an upload)
    has no key and `expires_at` set; keeping it issues a random key, stored only as its
    SHA-256 (the key has 120 random bits, so a fast hash cannot be guessed back).
    """

    __tablename__ = "web_consumer_locker"

    id: Mapped[int] = mapped_column(primary_key=True)
    folder: Mapped[str] = mapped_column(String(64), unique=True)
    """Random name of the locker's folder; also what the session and cookie hold."""
    key_sha256: Mapped[str | None] = mapped_column(String(64), unique=True, nullable=True)
    key_hint: Mapped[str | None] = mapped_column(String(8), nullable=True)
    """The key's last four characters, to tell lockers apart on screen."""
    key_nonce: Mapped[str | None] = mapped_column(String(32), nullable=True)
    """Random value renewed with every key: sessions and remembered-device cookies carry it,
    so replacing the key closes the locker on every other device. None on a temporary locker
    and on lockers kept before this column existed (their cookies carry none)."""
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    """When a temporary locker is deleted; None once kept."""


class AuditRun(Base):
    """An audit of an uploaded communication log, run in the background for the staff desk."""

    __tablename__ = "web_audit_run"

    id: Mapped[int] = mapped_column(primary_key=True)
    folder: Mapped[str] = mapped_column(String(64), unique=True)
    """Random folder name under ``<data_dir>/audits/`` (the log and the audit's output)."""
    filename: Mapped[str] = mapped_column(String(200))
    """The uploaded file's name as the browser sent it (display only)."""
    size_bytes: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default="queued")
    created_by: Mapped[int | None] = mapped_column(ForeignKey("web_user.id"), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    input_rows: Mapped[int | None] = mapped_column(Integer, nullable=True)
    rejected_rows: Mapped[int | None] = mapped_column(Integer, nullable=True)
    contacts: Mapped[int | None] = mapped_column(Integer, nullable=True)
    violations: Mapped[int | None] = mapped_column(Integer, nullable=True)
    violation_rate: Mapped[float | None] = mapped_column(Float, nullable=True)

    user: Mapped[User | None] = relationship()
