"""Decision log on the shared ledger: one entry per decision (not per replay), phones masked,
the entry commits with the reservation, and a broken log fails closed."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import create_engine, text

from collectguard.gateway import (
    ContentChecker,
    DecisionLog,
    DecisionRequest,
    Gateway,
    SqlStateStore,
)
from collectguard.gateway.models import mask_phone, mask_text
from collectguard.gateway.store import sqlite_engine
from collectguard.ledger.chain import GENESIS
from test_gateway_redis import RedisServer, _free_port

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


# ---------------------------------------------------------------------- replicas on PostgreSQL
REPLICA = r"""
import datetime as dt, json, sys, time
from pathlib import Path
from zoneinfo import ZoneInfo
from sqlalchemy import create_engine
from collectguard.gateway import ContentChecker, DecisionLog, DecisionRequest, Gateway
from collectguard.gateway.redis_store import RedisStateStore

pg_url, redis_url, name, work, own, shared = sys.argv[1:]
work = Path(work)
now = dt.datetime(2026, 11, 30, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
content = ContentChecker()
store = RedisStateStore(redis_url, timeout_s=5)
engine = create_engine(pg_url, pool_size=2)
with engine.connect():  # connected before the start: the replicas then open the log at once
    pass
(work / f"ready-{name}").touch()
while not (work / "go").exists():
    time.sleep(0.001)
log = DecisionLog(engine)
gw = Gateway(store, log, content=content, clock=lambda: now)


def request(key, n):
    return DecisionRequest.model_validate({
        "debt_id": f"loan-{n}", "debtor_id": f"cust-{n}", "agent_id": "a", "channel": "call",
        "recipient": {"role": "debtor", "phone": f"138{n:08d}", "timezone": "Asia/Shanghai"},
        "idempotency_key": key, "jurisdiction": "cn",
    })


out = []
for i in range(int(own)):
    n = int(name) * 1000 + i
    d = gw.decide(request(f"r{name}-{i}", n))
    out.append({"key": f"r{name}-{i}", "id": d.decision_id, "decision": d.decision,
                "replayed": d.replayed})
    if i % 5 == 4 and d.attempt_id:
        gw.record_outcome(d.attempt_id, "conversation")
        out.append({"outcome": d.attempt_id})
    if i % 4 == 0 and i // 4 < int(shared):  # a key every replica is asked (retries, races)
        k = i // 4
        d = gw.decide(request(f"shared-{k}", 900_000 + k))
        out.append({"key": f"shared-{k}", "id": d.decision_id, "decision": d.decision,
                    "replayed": d.replayed})
(work / f"out-{name}.json").write_text(json.dumps(out))
"""


@pytest.fixture
def redis_url() -> Iterator[str]:
    """A redis-server of its own (the replicas' shared state)."""
    server = RedisServer(_free_port())
    server.start()
    try:
        yield server.url
    finally:
        server.kill()


@pytest.fixture
def fresh_pg_db(pg_server: str) -> Iterator[str]:
    """An empty database of its own on the session's PostgreSQL server."""
    name = f"gw_{uuid.uuid4().hex[:12]}"
    admin = create_engine(f"{pg_server}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f"CREATE DATABASE {name}"))
    try:
        yield f"{pg_server}/{name}"
    finally:
        with admin.connect() as c:
            c.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()


def test_replicas_opening_an_empty_postgresql_log_together(fresh_pg_db: str) -> None:
    """Eight engines (as eight replicas) open the log on an empty database at one instant:
    every one of them comes up (creating the table is not a race they can lose)."""
    engines = [create_engine(fresh_pg_db, pool_size=1) for _ in range(8)]
    for e in engines:
        with e.connect():  # connected beforehand, so that they really start together
            pass
    barrier = threading.Barrier(len(engines))
    errors: list[BaseException] = []
    logs: list[DecisionLog] = []

    def open_log(engine: Any) -> None:
        barrier.wait()
        try:
            log = DecisionLog(engine)
            logs.append(log)
            log.decision(call(f"k-{id(engine)}"), {"decision": "allow"})
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=open_log, args=(e,)) for e in engines]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    try:
        assert errors == []
        report = DecisionLog(engines[0]).verify()
        assert report.ok and report.checked == len(engines)
    finally:
        for e in engines:
            e.dispose()


def test_replicas_append_to_one_postgresql_log(
    fresh_pg_db: str, redis_url: str, tmp_path: Path
) -> None:
    """Four gateway processes (replicas sharing Redis state) start together on an empty
    PostgreSQL database and append decisions and outcomes concurrently to one decision log:
    one chain, no fork, no gap, every decision exactly once (a key asked of every replica
    too), and `verify` passes."""
    replicas, own, shared = 4, 60, 15
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                REPLICA,
                fresh_pg_db,
                redis_url,
                str(r),
                str(tmp_path),
                str(own),
                str(shared),
            ],
            stderr=subprocess.PIPE,
            text=True,
        )
        for r in range(replicas)
    ]
    deadline = time.monotonic() + 60
    while len(list(tmp_path.glob("ready-*"))) < replicas:
        assert all(p.poll() is None for p in procs), [p.communicate()[1] for p in procs]
        assert time.monotonic() < deadline, "replicas did not start"
        time.sleep(0.01)
    (tmp_path / "go").touch()
    errors = [p.communicate(timeout=120)[1] for p in procs]
    assert [p.returncode for p in procs] == [0] * replicas, errors

    results = [
        item
        for r in range(replicas)
        for item in json.loads((tmp_path / f"out-{r}.json").read_text(encoding="utf-8"))
    ]
    decided = [x for x in results if "key" in x]
    assert all(x["decision"] == "allow" for x in decided)
    first = {x["key"]: x["id"] for x in decided if not x["replayed"]}
    assert len(first) == replicas * own + shared  # each key decided once …
    assert all(first[x["key"]] == x["id"] for x in decided)  # … and replayed as such
    outcomes = {x["outcome"] for x in results if "outcome" in x}
    assert len(outcomes) == replicas * own // 5

    engine = create_engine(fresh_pg_db)
    try:
        log = DecisionLog(engine)
        entries = list(log.entries())
        report = log.verify(expected_head=entries[-1].entry_hash)
    finally:
        engine.dispose()
    assert len(entries) == len(first) + len(outcomes)
    assert [e.seq for e in entries] == list(range(1, len(entries) + 1))  # no gap
    assert entries[0].prev_hash == GENESIS
    for prev, e in itertools.pairwise(entries):
        assert e.prev_hash == prev.entry_hash  # no fork: each entry follows the one before
    logged = [e.payload or {} for e in entries if e.kind == "decision"]
    by_key = Counter(p["request"]["idempotency_key"] for p in logged)
    assert by_key == Counter(first.keys())  # every decision exactly once
    assert {p["request"]["idempotency_key"]: p["decision"]["decision_id"] for p in logged} == first
    assert {(e.payload or {})["attempt_id"] for e in entries if e.kind == "outcome"} == outcomes
    assert report.ok and report.checked == len(entries), report.describe()
    # and the replicas really wrote at the same time: their entries interleave
    owner = [str(p["request"]["idempotency_key"]).split("-")[0] for p in logged]
    assert sum(a != b for a, b in itertools.pairwise(owner)) > 2 * replicas
