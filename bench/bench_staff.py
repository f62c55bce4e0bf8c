"""Benchmark of the staff page (`GET /staff`) over a large gateway decision log (SQLite).

Builds a decision log of N entries in a temporary SQLite file: real decision payloads (a
few decisions taken by the gateway, allow / deny / defer, copied with fresh ids), appended
with `SqlLedger.append_many` in batches of 5,000. Then, signed in as the demo staff user,
times page views of `/staff` in-process (Starlette's test client):

- the first view (a new process: one full pass over the log);
- views with nothing new (median of `--views`);
- views after `--new` decisions were appended before each (median of `--views`);
- the "verify the whole log" button (`POST /staff/gateway/verify`), when the page has it.

    .venv/bin/python bench/bench_staff.py [--n 400000] [--views 5] [--new 100] [--tmp DIR]

Prints a Markdown table (paste into docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
import shutil
import statistics
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

with warnings.catch_warnings():
    warnings.simplefilter("ignore", UserWarning)  # starlette prefers httpx2 when present
    from fastapi.testclient import TestClient

NOW = dt.datetime(2026, 11, 30, 2, 0, tzinfo=dt.UTC)
PASSWORDS = {"zhangwei": "zw-bench-1", "lina": "ln-bench-2", "wangfang": "wf-bench-3"}


def sample_payloads(tmp: Path) -> list[dict[str, Any]]:
    """Payloads of real gateway decisions: an allowed SMS, a denied one, a deferred call."""
    from collectguard.gateway import DecisionLog, DecisionRequest, Gateway, SqlStateStore
    from collectguard.gateway.store import sqlite_engine

    engine = sqlite_engine(f"sqlite:///{tmp / 'sample.db'}", checkpoint_every_s=None)
    log = DecisionLog(engine)
    gw = Gateway(SqlStateStore(engine), log, clock=lambda: NOW)
    base = {
        "debt_id": "loan-1",
        "debtor_id": "cust-1",
        "recipient": {"role": "debtor", "phone": "13812345678", "timezone": "Asia/Shanghai"},
        "agent_id": "agent-1",
        "jurisdiction": "cn",
    }
    bill = "【安信消费金融】您的账单已到期，请还款。"
    gw.decide(DecisionRequest(**base, channel="sms", idempotency_key="a", text=bill))
    gw.decide(
        DecisionRequest(
            **base,
            channel="sms",
            idempotency_key="d",
            text="【安信消费金融】再不还款就上门，通知你的家人和单位！",
        )
    )
    night = dt.datetime(2026, 11, 30, 23, 30, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    gw.decide(DecisionRequest(**base, channel="call", idempotency_key="n", planned_at=night))
    payloads = [e.payload for e in log.entries() if e.kind == "decision" and e.payload]
    engine.dispose()
    return payloads


def build(db: Path, n: int, payloads: list[dict[str, Any]]) -> float:
    from collectguard.gateway.store import sqlite_engine
    from collectguard.ledger import SqlLedger

    engine = sqlite_engine(f"sqlite:///{db}", checkpoint_every_s=None)
    led = SqlLedger(engine, "gateway")
    led.create_table()
    t0 = time.perf_counter()
    weights = [payloads[0]] * 7 + [payloads[1]] * 2 + [payloads[-1]]  # mostly allowed
    for start in range(0, n, 5000):
        batch = range(start, min(start + 5000, n))
        led.append_many([("decision", _copy(weights[i % 10], i)) for i in batch])
    took = time.perf_counter() - t0
    engine.dispose()
    return took


def _copy(payload: dict[str, Any], i: int) -> dict[str, Any]:
    req = dict(payload["request"], idempotency_key=f"k{i}", debtor_id=f"cust-{i % 997}")
    dec = dict(payload["decision"], decision_id=f"d{i:08d}")
    return {"request": req, "decision": dec}


def main() -> int:
    from collectguard.gateway import DecisionLog
    from collectguard.gateway.store import sqlite_engine
    from collectguard.web import WebSettings, create_app
    from collectguard.web.demo import seed_demo

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=400_000, help="decisions in the log")
    ap.add_argument("--views", type=int, default=5, help="views per measurement")
    ap.add_argument("--new", type=int, default=100, help="decisions appended before a view")
    ap.add_argument("--tmp", type=Path, default=None)
    a = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="cg-bench-staff-", dir=a.tmp))
    try:
        payloads = sample_payloads(tmp)
        db = tmp / "gateway.db"
        built = build(db, a.n, payloads)
        engine = sqlite_engine(f"sqlite:///{db}", checkpoint_every_s=None)
        log = DecisionLog(engine)
        settings = WebSettings(
            data_dir=tmp / "web", secret_key="bench", clock=lambda: NOW, decision_log=log
        )
        settings.data_dir.mkdir()
        app = create_app(settings)
        seed_demo(app.state.web.sessions, now=NOW, passwords=PASSWORDS)
        client = TestClient(app)
        page = client.get("/login").text
        token = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert token
        signed_in = client.post(
            "/login",
            data={"csrf_token": token.group(1), "username": "wangfang",
                  "password": PASSWORDS["wangfang"]},
            follow_redirects=False,  # the redirect leads to /staff: the first view is timed below
        )  # fmt: skip
        assert signed_in.status_code == 303

        def view() -> tuple[float, str]:
            t0 = time.perf_counter()
            r = client.get("/staff")
            took = time.perf_counter() - t0
            assert r.status_code == 200 and 'data-chain-ok="true"' in r.text, r.text[-2000:]
            return took, r.text

        first, page = view()
        idle = [view()[0] for _ in range(a.views)]
        grown = []
        for k in range(a.views):
            first_new = a.n + k * a.new
            sample = payloads[k % len(payloads)]
            log.ledger.append_many(
                [("decision", _copy(sample, first_new + i)) for i in range(a.new)]
            )
            grown.append(view()[0])
        button = None
        match = re.search(r'action="(/staff/gateway/verify)"', page)
        if match:
            token = re.search(r'name="csrf_token" value="([^"]+)"', page)
            assert token
            t0 = time.perf_counter()
            r = client.post(match.group(1), data={"csrf_token": token.group(1)})
            button = time.perf_counter() - t0
            assert r.status_code == 200 and 'data-chain-ok="true"' in r.text
        engine.dispose()
        size = db.stat().st_size / 2**20
        print(f"decision log: {a.n:,} decisions, built in {built:.1f} s ({size:.0f} MiB)")
        print()
        print("| `GET /staff` | seconds |")
        print("|---|---|")
        print(f"| first view (new process) | {first:.2f} |")
        print(f"| median of {a.views} views, nothing new | {statistics.median(idle):.3f} |")
        grown_s = statistics.median(grown)
        print(f"| median of {a.views} views, {a.new} new decisions before each | {grown_s:.3f} |")
        if button is not None:
            print(f"| verify the whole log (button) | {button:.2f} |")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
