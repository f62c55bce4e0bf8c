"""Redis state against a real redis-server started here: the 50-thread race for the last slot,
idempotency, and fail-closed when Redis is killed mid-run, then recovery when it returns."""

from __future__ import annotations

import datetime as dt
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import redis

from collectguard.gateway import ContentChecker, Decision, DecisionRequest, Gateway
from collectguard.gateway.redis_store import RedisStateStore

NY = ZoneInfo("America/New_York")
SH = ZoneInfo("Asia/Shanghai")
CONTENT = ContentChecker()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class RedisServer:
    port: int
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        exe = shutil.which("redis-server")
        if exe is None:
            pytest.fail(
                "redis-server not found: the gateway's Redis tests need a real server; "
                ".ci/run installs redis-server (apt-get install -y redis-server)"
            )
        self.proc = subprocess.Popen(
            [
                exe,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port, socket_connect_timeout=0.2)
        deadline = time.monotonic() + 10
        while True:
            try:
                if client.ping():
                    break
            except redis.RedisError:
                if time.monotonic() > deadline:
                    pytest.fail(f"redis-server did not start on port {self.port}")
                time.sleep(0.05)
        client.close()

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(10)
            self.proc = None


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer(_free_port())
    server.start()
    try:
        yield server
    finally:
        server.kill()


def gateway(url: str, now: dt.datetime) -> Gateway:
    return Gateway(RedisStateStore(url), None, content=CONTENT, clock=lambda: now)


def us_call(key: str, **kw: Any) -> DecisionRequest:
    return DecisionRequest.model_validate(
        {
            "debt_id": "loan-1",
            "debtor_id": "cust-1",
            "agent_id": "a",
            "recipient": {
                "role": "debtor",
                "phone": "+16175550100",
                "timezone": "America/New_York",
            },
            "channel": "call",
            "idempotency_key": key,
            "jurisdiction": "us",
            **kw,
        }
    )


def test_fifty_threads_race_for_last_slot_on_redis(redis_server: RedisServer) -> None:
    now = dt.datetime(2026, 12, 1, 10, 0, tzinfo=NY)
    gw = gateway(redis_server.url, now)
    for i in range(6):  # 6 of Reg F's 7 calls in 7 days used
        d = gw.decide(us_call(f"pre-{i}"))
        assert d.decision == "allow" and d.attempt_id
        gw.record_outcome(d.attempt_id, "delivered")
    barrier = threading.Barrier(50)
    results: list[Decision] = []
    lock = threading.Lock()

    def work(i: int) -> None:
        # each thread its own client (own connection pool), like separate replicas
        replica = gateway(redis_server.url, now)
        barrier.wait()
        d = replica.decide(us_call(f"race-{i}"))
        with lock:
            results.append(d)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(results) == 50
    assert sum(d.decision == "allow" for d in results) == 1
    deferred = [d for d in results if d.decision == "defer"]
    assert len(deferred) == 49
    assert {d.reasons[0].rule_id for d in deferred} == {"us.regf.7in7"}
    assert all(d.not_before == dt.datetime(2026, 12, 8, 8, 0, tzinfo=NY) for d in deferred)


def test_redis_idempotency_and_conversation_block(redis_server: RedisServer) -> None:
    now = dt.datetime(2026, 12, 1, 10, 0, tzinfo=NY)
    gw = gateway(redis_server.url, now)
    first = gw.decide(us_call("k1"))
    again = gw.decide(us_call("k1"))
    assert again.replayed and again.decision_id == first.decision_id
    assert first.attempt_id
    gw.record_outcome(first.attempt_id, "conversation")
    d = gw.decide(us_call("k2"))
    assert d.decision == "defer" and d.reasons[0].rule_id == "us.regf.after_conversation"
    with pytest.raises(KeyError):
        gw.record_outcome("f" * 32, "delivered")


def test_redis_killed_mid_run_fails_closed_then_recovers(redis_server: RedisServer) -> None:
    now = dt.datetime(2026, 11, 30, 10, 0, tzinfo=SH)
    gw = Gateway(
        RedisStateStore(redis_server.url, timeout_s=0.3), None, content=CONTENT, clock=lambda: now
    )
    req = {
        "debt_id": "loan-1",
        "debtor_id": "cust-1",
        "agent_id": "a",
        "channel": "call",
        "recipient": {"role": "debtor", "phone": "13812345678", "timezone": "Asia/Shanghai"},
        "jurisdiction": "cn",
    }
    assert gw.decide(DecisionRequest.model_validate({**req, "idempotency_key": "a"})).decision == (
        "allow"
    )
    redis_server.kill()
    t0 = time.monotonic()
    d = gw.decide(DecisionRequest.model_validate({**req, "idempotency_key": "b"}))
    assert d.decision == "deny"
    assert [r.code for r in d.reasons] == ["state_unavailable"]
    assert time.monotonic() - t0 < 5  # fails fast, does not hang
    redis_server.start()  # same port, empty (no persistence)
    d = gw.decide(DecisionRequest.model_validate({**req, "idempotency_key": "c"}))
    assert d.decision == "allow"


def test_redis_reservation_taken_back_when_log_fails(
    redis_server: RedisServer, tmp_path: Any
) -> None:
    from sqlalchemy import text

    from collectguard.gateway import DecisionLog
    from collectguard.gateway.store import sqlite_engine

    now = dt.datetime(2026, 12, 1, 10, 0, tzinfo=NY)
    engine = sqlite_engine(f"sqlite:///{tmp_path / 'log.db'}")
    log = DecisionLog(engine)
    gw = Gateway(RedisStateStore(redis_server.url), log, content=CONTENT, clock=lambda: now)
    for i in range(6):
        assert gw.decide(us_call(f"p{i}")).decision == "allow"
    with engine.begin() as c:
        c.execute(text("ALTER TABLE ledger_entries RENAME TO gone"))
    d = gw.decide(us_call("x"))
    assert d.decision == "deny" and d.reasons[0].code == "decision_log_unavailable"
    with engine.begin() as c:
        c.execute(text("ALTER TABLE gone RENAME TO ledger_entries"))
    # the 7th slot was given back and the key was not remembered: the retry is allowed
    again = gw.decide(us_call("x"))
    assert again.decision == "allow" and not again.replayed
    assert gw.decide(us_call("y")).decision == "defer"
    assert log.verify().ok and len(list(log.entries())) == 8  # 6 + x + y


def test_a_profile_saved_by_another_replica_holds_on_the_next_decision(
    redis_server: RedisServer,
) -> None:
    """Replicas cache profiles (one round trip per decision); the script that stores a
    decision checks the profile is still the one planned with. So a cease-communication or
    opt-out saved on replica B stops replica A's very next decision, and lifting it lets A
    allow again — on both paths (an allow reserves, a deny is remembered)."""
    from collectguard.gateway import ContactProfile

    now = dt.datetime(2026, 12, 1, 10, 0, tzinfo=NY)
    a, b = gateway(redis_server.url, now), gateway(redis_server.url, now)
    assert a.decide(us_call("p1")).decision == "allow"  # A now holds "no profile"
    b.set_profile("cust-1", ContactProfile(cease_communication=True))
    d = a.decide(us_call("p2"))
    assert d.decision == "deny" and any(r.code == "cease_communication" for r in d.reasons)
    b.set_profile("cust-1", ContactProfile(opted_out_channels=["sms"]))  # calls allowed again
    assert a.decide(us_call("p3")).decision == "allow"  # A planned a deny: stale, re-planned
    b.set_profile("cust-1", ContactProfile(opted_out_channels=["call"]))
    d = a.decide(us_call("p4"))
    assert d.decision == "deny" and any(r.code == "opted_out" for r in d.reasons)
    assert a.decide(us_call("p4")).replayed  # a replay is still found without a look-up
    # the profile a replica saved itself holds at once, and its own cache is not stale
    a.set_profile("cust-1", ContactProfile())
    assert a.decide(us_call("p5")).decision == "allow"
    # a profile that keeps changing: the decision fails closed instead of looping
    store = a.store
    assert isinstance(store, RedisStateStore)
    store._profiles["cust-1"] = ("0" * 40, None)  # a version Redis never had
    original = store._cache

    def churn(debtor_id: str, raw: str | None) -> tuple[str, ContactProfile | None]:
        out = original(debtor_id, raw)
        store._profiles[debtor_id] = ("0" * 40, out[1])  # as if it changed again at once
        return out

    store._cache = churn  # type: ignore[method-assign]
    d = a.decide(us_call("p6"))
    assert d.decision == "deny" and d.reasons[0].code == "state_unavailable"
