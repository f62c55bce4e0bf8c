"""The ``--demo`` seed: a fictional lender's two borrowers with bills and messages, one staff user.

`seed_demo` is idempotent: run again, it leaves the data alone and only resets the three
demo users' passwords, so the passwords it returns always work.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Mapping

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from collectguard.web.models import (
    Bill,
    Complaint,
    ContactPreference,
    LenderMessage,
    Payment,
    User,
)
from collectguard.web.security import hash_password
from collectguard.web.settings import LENDER_ZONE

__all__ = ["DEMO_LENDER", "DEMO_USERS", "seed_demo"]

DEMO_LENDER = "安信消费金融（演示）"
"""A fictional lender: no real company, hotline or domain is implied."""

DEMO_USERS: tuple[tuple[str, str, str], ...] = (
    ("zhangwei", "张伟", "borrower"),
    ("lina", "李娜", "borrower"),
    ("wangfang", "王芳（合规专员）", "staff"),
)


def seed_demo(
    sessions: sessionmaker[Session],
    *,
    now: dt.datetime,
    passwords: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Create the demo data (once) and return ``{username: password}`` for the demo users."""
    chosen = {
        name: (passwords or {}).get(name) or secrets.token_urlsafe(9) for name, *_ in DEMO_USERS
    }
    with sessions() as db:
        users: dict[str, User] = {}
        for username, display, role in DEMO_USERS:
            user = db.scalar(select(User).where(User.username == username))
            if user is None:
                user = User(
                    username=username,
                    display_name=display,
                    role=role,
                    password_hash="",
                    session_nonce=secrets.token_urlsafe(24),
                )
                db.add(user)
            user.password_hash = hash_password(chosen[username])
            users[username] = user
        db.flush()
        if db.scalar(select(Bill.id).limit(1)) is None:
            _seed_data(db, users, now)
        db.commit()
    return chosen


def _seed_data(db: Session, users: dict[str, User], now: dt.datetime) -> None:
    today = now.astimezone(LENDER_ZONE).date()
    zhang, li = users["zhangwei"], users["lina"]

    def days(n: int) -> dt.date:
        return today + dt.timedelta(days=n)

    def at(day_offset: int, hour: int, minute: int = 0) -> dt.datetime:
        local = dt.datetime.combine(days(day_offset), dt.time(hour, minute), LENDER_ZONE)
        return local.astimezone(dt.UTC)

    bill_z1 = Bill(
        user_id=zhang.id, product=f"{DEMO_LENDER} · 安心借 12 期", loan_start=days(-300),
        due_date=days(-15), principal_cents=1_200_000, interest_cents=86_400,
        fees_cents=24_000, days_overdue=15,
    )  # fmt: skip
    bill_z2 = Bill(
        user_id=zhang.id, product=f"{DEMO_LENDER} · 随心花分期", loan_start=days(-120),
        due_date=days(12), principal_cents=300_000, interest_cents=9_000, fees_cents=0,
    )  # fmt: skip
    bill_l1 = Bill(
        user_id=li.id, product=f"{DEMO_LENDER} · 安心借 24 期", loan_start=days(-400),
        due_date=days(-42), principal_cents=2_600_000, interest_cents=312_000,
        fees_cents=58_000, days_overdue=42,
    )  # fmt: skip
    db.add_all([bill_z1, bill_z2, bill_l1])
    db.flush()
    db.add_all(
        [
            Payment(bill_id=bill_z1.id, paid_on=days(-240), amount_cents=110_000),
            Payment(bill_id=bill_z1.id, paid_on=days(-210), amount_cents=110_000),
            Payment(bill_id=bill_z1.id, paid_on=days(-180), amount_cents=110_000),
            Payment(bill_id=bill_z2.id, paid_on=days(-90), amount_cents=103_000),
            Payment(bill_id=bill_l1.id, paid_on=days(-360), amount_cents=120_000),
            Payment(bill_id=bill_l1.id, paid_on=days(-330), amount_cents=60_000),
        ]
    )
    db.add_all(
        [
            LenderMessage(
                user_id=zhang.id,
                sender="10690000",
                text=f"【{DEMO_LENDER}】张先生您好，您的安心借账单已逾期15天，应还1,182.00元。"
                "如有困难，可登录App申请还款方案。退订回T",
                sent_at=at(-2, 10, 30),
            ),
            LenderMessage(
                user_id=zhang.id,
                sender="10690000",
                text=f"【{DEMO_LENDER}】您的随心花分期将于12天后到期，请按时还款。",
                sent_at=at(-1, 9, 15),
            ),
            LenderMessage(
                user_id=li.id,
                sender="10690000",
                text=f"【{DEMO_LENDER}】李娜，你已逾期42天，今天再不还款，我们将通知你的家人和单位，"
                "后果自负！",
                sent_at=at(-3, 22, 40),
            ),
        ]
    )
    db.add_all(
        [
            ContactPreference(
                user_id=zhang.id,
                sms=True,
                phone=False,
                email=False,
                app_push=True,
                hour_start=9,
                hour_end=20,
                opt_out=False,
                updated_at=now,
            ),
            ContactPreference(
                user_id=li.id,
                sms=True,
                phone=True,
                email=False,
                app_push=True,
                hour_start=10,
                hour_end=18,
                opt_out=False,
                updated_at=now,
            ),
        ]
    )
    db.add(
        Complaint(
            user_id=li.id,
            category="collection_conduct",
            subject="晚上十点多还发短信说要通知我家人",
            body="前天晚上22:40收到贵司短信，说再不还款就通知我的家人和单位。我没有同意你们联系他们，"
            "请停止这种做法，并告诉我可以怎么分期还款。",
            status="open",
            created_at=now - dt.timedelta(days=1),
        )
    )
