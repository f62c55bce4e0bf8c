"""SQLite state: exactly one winner when 50 threads race for the last slot, idempotency
under races, and fail-closed behaviour when the store breaks."""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from collectguard.gateway import (
    ContentChecker,
    Decision,
    DecisionRequest,
    Gateway,
    SqlStateStore,
    StoreUnavailable,
    UnknownAttempt,
)
from collectguard.gateway.models import ContactProfile, Outcome
from collectguard.gateway.store import sqlite_engine

SH = ZoneInfo("Asia/Shanghai")
NOW = dt.datetime(2026, 11, 30, 10, 0, tzinfo=SH)
CONTENT = ContentChecker()


def call(key: str, **kw: Any) -> DecisionRequest:
    return DecisionRequest.model_validate(
        {
            "debt_id": "loan-1",
            "debtor_id": "cust-1",
            "recipient": {"role": "debtor", "phone": "13812345678", "timezone": "Asia/Shanghai"},
            "channel": "call",
            "agent_id": kw.pop("agent_id", "agent-1"),
            "idempotency_key": key,
            "jurisdiction": "cn",
            **kw,
        }
    )


def gateway(path: Path) -> Gateway:
    store = SqlStateStore(sqlite_engine(f"sqlite:///{path}"))
    return Gateway(store, None, content=CONTENT, clock=lambda: NOW)


def race(gw: Gateway, keys: list[str]) -> list[Decision]:
    barrier = threading.Barrier(len(keys))
    out: list[Decision | None] = [None] * len(keys)
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            barrier.wait()
            out[i] = gw.decide(call(keys[i], agent_id=f"agent-{i}"))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(keys))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    assert all(d is not None for d in out)
    return [d for d in out if d is not None]


def test_fifty_threads_race_for_last_slot_exactly_one_wins(tmp_path: Path) -> None:
    gw = gateway(tmp_path / "gw.db")
    for i in range(2):  # 2 of the 3 daily conversations used
        d = gw.decide(call(f"pre-{i}"))
        assert d.attempt_id
        gw.record_outcome(d.attempt_id, "conversation")
    results = race(gw, [f"race-{i}" for i in range(50)])
    allowed = [d for d in results if d.decision == "allow"]
    assert len(allowed) == 1
    assert all(d.decision == "defer" for d in results if d.decision != "allow")
    assert {d.reasons[0].rule_id for d in results if d.decision == "defer"} == {
        "cn.freq.voice_conversations"
    }
    # and the state agrees: the next request is deferred as well
    assert gw.decide(call("after")).decision == "defer"


def test_fifty_threads_same_idempotency_key_one_decision(tmp_path: Path) -> None:
    gw = gateway(tmp_path / "gw.db")
    results = race(gw, ["same-key"] * 50)
    assert len({d.decision_id for d in results}) == 1
    assert all(d.decision == "allow" for d in results)
    # only one slot was consumed: two more conversations fit today
    for i in range(2):
        d = gw.decide(call(f"next-{i}"))
        assert d.decision == "allow" and d.attempt_id
        gw.record_outcome(d.attempt_id, "conversation")
    first = results[0].attempt_id
    assert first
    gw.record_outcome(first, "conversation")
    assert gw.decide(call("over")).decision == "defer"


def test_two_gateways_on_one_file_share_counters(tmp_path: Path) -> None:
    a, b = gateway(tmp_path / "gw.db"), gateway(tmp_path / "gw.db")
    for i, gw in enumerate([a, b, a]):
        d = gw.decide(call(f"k{i}"))
        assert d.decision == "allow" and d.attempt_id
        gw.record_outcome(d.attempt_id, "conversation")
    assert b.decide(call("k4")).decision == "defer"


def test_outcome_for_unknown_attempt(tmp_path: Path) -> None:
    gw = gateway(tmp_path / "gw.db")
    with pytest.raises(UnknownAttempt):
        gw.record_outcome("0" * 32, "delivered")


def test_store_broken_mid_run_fails_closed(tmp_path: Path) -> None:
    gw = gateway(tmp_path / "gw.db")
    assert gw.decide(call("a")).decision == "allow"
    assert isinstance(gw.store, SqlStateStore)
    with gw.store.engine.begin() as c:
        c.execute(text("DROP TABLE gw_window_members"))
    d = gw.decide(call("b"))
    assert d.decision == "deny"
    assert [r.code for r in d.reasons] == ["state_unavailable"]


def test_store_path_unreachable_fails_closed(tmp_path: Path) -> None:
    engine = sqlite_engine(f"sqlite:///{tmp_path / 'missing-dir' / 'gw.db'}")
    with pytest.raises(StoreUnavailable):
        SqlStateStore(engine)
    gw = Gateway(SqlStateStore(engine, create=False), None, content=CONTENT, clock=lambda: NOW)
    d = gw.decide(call("x"))
    assert d.decision == "deny" and d.reasons[0].code == "state_unavailable"


class BrokenStore:
    """Every operation fails, as an unreachable store does."""

    def __getattr__(self, name: str) -> Any:
        def fail(*_a: Any, **_k: Any) -> Any:
            raise StoreUnavailable("connection refused")

        return fail


@settings(max_examples=60, deadline=None)
@given(
    channel=st.sampled_from(["sms", "call", "ai_voice", "email", "app_push", "visit"]),
    role=st.sampled_from(["debtor", "guarantor", "emergency_contact", "third_party"]),
    hour=st.integers(0, 23),
    dry=st.booleans(),
)
def test_unreachable_store_never_allows(channel: str, role: str, hour: int, dry: bool) -> None:
    now = NOW.replace(hour=hour)
    gw = Gateway(BrokenStore(), None, content=CONTENT, clock=lambda: now, dry_run=dry)
    req = DecisionRequest.model_validate(
        {
            "debt_id": "d",
            "debtor_id": "p",
            "agent_id": "a",
            "idempotency_key": "k",
            "recipient": {"role": role, "phone": "13812345678", "timezone": "Asia/Shanghai"},
            "channel": channel,
            "jurisdiction": "cn",
            "text": "【招联金融】您的借款已到期，请按时还款。" if channel != "call" else None,
        }
    )
    d = gw.decide(req)
    assert d.decision == "deny"
    assert d.reasons[0].code == "state_unavailable"


def test_outcome_transitions_feed_counters(tmp_path: Path) -> None:
    gw = gateway(tmp_path / "gw.db")
    gw.set_profile("cust-1", ContactProfile())
    ids = []
    for i in range(3):
        d = gw.decide(call(f"o{i}"))
        assert d.attempt_id
        ids.append(d.attempt_id)
    # three pending calls count as possible conversations: the 4th waits
    assert gw.decide(call("o3")).decision == "defer"
    outcome: Outcome = "failed"
    gw.record_outcome(ids[0], outcome)  # not connected: frees one slot
    assert gw.decide(call("o4")).decision == "allow"


def test_concurrent_content_checks_from_threads(tmp_path: Path) -> None:
    """Unique texts (no cache hits) from 16 threads: the analyzer runs concurrently."""
    gw = Gateway(
        SqlStateStore(sqlite_engine(f"sqlite:///{tmp_path / 'gw.db'}")),
        None,
        content=ContentChecker(),
        clock=lambda: NOW,
    )
    barrier = threading.Barrier(16)
    out: list[str] = []
    lock = threading.Lock()

    def work(i: int) -> None:
        barrier.wait()
        for j in range(5):
            bad = j % 2 == 0
            text_ = (
                f"【XX金融】第{i}-{j}号，再不还款就爆你通讯录"
                if bad
                else (f"【招联金融】第{i}-{j}号账单已到期，请通过招联金融App还款。")
            )
            d = gw.decide(call(f"t{i}-{j}", channel="sms", text=text_, debtor_id=f"c{i}-{j}"))
            with lock:
                out.append(f"{bad}:{d.decision}")

    threads = [threading.Thread(target=work, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert sorted(set(out)) == ["False:allow", "True:deny"]
    assert len(out) == 80


def test_internal_error_fails_closed(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    class Exploding(ContentChecker):
        def check(self, text: str, jurisdiction: str) -> Any:
            raise RuntimeError("scanner broke")

    gw = Gateway(
        SqlStateStore(sqlite_engine(f"sqlite:///{tmp_path / 'gw.db'}")),
        None,
        content=Exploding(),
        clock=lambda: NOW,
    )
    d = gw.decide(call("boom", channel="sms", text="【招联金融】您的借款已到期。"))
    assert d.decision == "deny" and d.reasons[0].code == "internal_error"
    assert "scanner broke" in caplog.text
