"""Decision log on the shared ledger: one entry per decision (not per replay), phones masked,
the entry commits with the reservation, and a broken log fails closed."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text

from collectguard.gateway import (
    ContentChecker,
    DecisionLog,
    DecisionRequest,
    Gateway,
    SqlStateStore,
)
from collectguard.gateway.models import mask_phone, mask_text
from collectguard.gateway.store import sqlite_engine

SH = ZoneInfo("Asia/Shanghai")
NOW = dt.datetime(2026, 11, 30, 10, 0, tzinfo=SH)
CONTENT = ContentChecker()


def build(tmp_path: Path) -> tuple[Gateway, DecisionLog]:
    engine = sqlite_engine(f"sqlite:///{tmp_path / 'gw.db'}")
    log = DecisionLog(engine)
    return Gateway(SqlStateStore(engine), log, content=CONTENT, clock=lambda: NOW), log


def call(key: str, **kw: Any) -> DecisionRequest:
    return DecisionRequest.model_validate(
        {
            "debt_id": "loan-1",
            "debtor_id": "cust-1",
            "agent_id": "a",
            "channel": "call",
            "recipient": {
                "role": "debtor",
                "phone": "+86 138-1234-5678",
                "timezone": "Asia/Shanghai",
            },
            "idempotency_key": key,
            "jurisdiction": "cn",
            **kw,
        }
    )


def test_every_decision_logged_once_with_masked_phone(tmp_path: Path) -> None:
    gw, log = build(tmp_path)
    a = gw.decide(call("a"))
    gw.decide(call("a"))  # replay
    b = gw.decide(call("b", recipient={"role": "debtor", "phone": "13812345678", "timezone": None}))
    assert a.attempt_id
    gw.record_outcome(a.attempt_id, "conversation")
    entries = list(log.entries())
    assert [e.kind for e in entries] == ["decision", "decision", "outcome"]
    assert entries[0].payload and entries[1].payload
    assert entries[0].payload["decision"]["decision_id"] == a.decision_id
    assert entries[1].payload["decision"]["decision_id"] == b.decision_id
    assert entries[0].payload["request"]["recipient"]["phone"] == "+861********78"
    assert "12345678" not in str([e.payload for e in entries])
    assert log.verify().ok


def test_reservation_and_log_entry_commit_together(tmp_path: Path) -> None:
    gw, log = build(tmp_path)
    assert gw.decide(call("a")).decision == "allow"
    # break the ledger table: the next decision cannot be logged
    with log.engine.begin() as c:
        c.execute(text("ALTER TABLE ledger_entries RENAME TO ledger_gone"))
    d = gw.decide(call("b"))
    assert d.decision == "deny" and d.reasons[0].code == "decision_log_unavailable"
    with log.engine.begin() as c:
        c.execute(text("ALTER TABLE ledger_gone RENAME TO ledger_entries"))
        members = c.execute(text("SELECT count(*) FROM gw_window_members")).scalar_one()
        keys = c.execute(text("SELECT count(*) FROM gw_decisions")).scalar_one()
    # the failed decision's reservation was rolled back with its log entry
    assert members == 2  # attempt "a" in the conversation and unanswered counters
    assert keys == 1
    # and the same key can be decided again (nothing half-stored)
    assert gw.decide(call("b")).decision == "allow"
    assert len(list(log.entries())) == 2 and log.verify().ok


@pytest.mark.parametrize(
    ("raw", "masked"),
    [("13812345678", "138******78"), ("+1 (617) 555-0100", "+161******00"), ("12345", "*****")],
)
def test_mask_phone(raw: str, masked: str) -> None:
    assert mask_phone(raw) == masked


def test_mask_text_keeps_short_numbers() -> None:
    out = mask_text("逾期3天，金额500元，请致电13812345678或95588")
    assert "13812345678" not in out and "138******78" in out
    assert "95588" in out and "500" in out
