"""Benchmark of the pre-send gateway: in-process decision latency and, with --http, HTTP
latency/throughput on loopback with a paced load generator, plus a check that no cap was
exceeded under that load. Prints Markdown tables.

Usage:
    .venv/bin/python bench/bench_gateway.py [--n 3000] [--http --rate 200,500 --seconds 10]
                                            [--redis]

Targets (shared/DESIGN.md §4): in-process p99 < 5 ms; HTTP p99 < 20 ms at 500 req/s.
`--redis` also measures on a redis-server started here (needs the binary).
"""

from __future__ import annotations

import argparse
import collections
import datetime as dt
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from collectguard.gateway import (
    ContentChecker,
    DecisionLog,
    DecisionRequest,
    Gateway,
    SqlStateStore,
)
from collectguard.gateway.store import StateStore, sqlite_engine

SH = ZoneInfo("Asia/Shanghai")
TEMPLATES = [
    "【招联金融】尊敬的客户，您的借款已到期，请通过招联金融App按时还款。",
    "【招联金融】您的账单已逾期3天，请尽快通过官方App还款，如有疑问请致电95786。",
    "【马上消费】您的借款今日到期，请登录安逸花App还款。",
]


def pct(xs: list[float], p: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, round(p / 100 * (len(s) - 1)))]


def body(i: int, kind: str) -> dict[str, Any]:
    debtor = f"cust-{i % 997}"
    b: dict[str, Any] = {
        "debt_id": f"loan-{i % 997}",
        "debtor_id": debtor,
        "agent_id": f"agent-{i % 13}",
        "recipient": {"role": "debtor", "phone": f"138{i % 997:08d}", "timezone": "Asia/Shanghai"},
        "idempotency_key": f"bench-{uuid.uuid4().hex}",
        "jurisdiction": "cn",
    }
    if kind == "call":
        b["channel"] = "call"
    else:
        b["channel"] = "sms"
        b["text"] = TEMPLATES[i % len(TEMPLATES)]
        if kind == "unique":
            b["text"] += f"（编号{i}）"
    return b


def in_process(store: StateStore, log: DecisionLog | None, n: int, kind: str) -> list[float]:
    now = dt.datetime(2026, 11, 30, 10, 0, tzinfo=SH)
    gw = Gateway(store, log, content=ContentChecker(), clock=lambda: now)
    reqs = [DecisionRequest.model_validate(body(i, kind)) for i in range(n)]
    for r in reqs[:50]:  # warm up caches and connections
        gw.decide(r.model_copy(update={"idempotency_key": r.idempotency_key + "w"}))
    out = []
    for r in reqs:
        t0 = time.perf_counter()
        gw.decide(r)
        out.append((time.perf_counter() - t0) * 1000)
    return out


def row(name: str, xs: list[float]) -> str:
    return (
        f"| {name} | {len(xs)} | {statistics.median(xs):.2f} | {pct(xs, 99):.2f} | {max(xs):.2f} |"
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_redis() -> tuple[subprocess.Popen[bytes], str] | None:
    exe = shutil.which("redis-server")
    if exe is None:
        return None
    port = free_port()
    proc = subprocess.Popen(
        [exe, "--port", str(port), "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    import redis

    c = redis.Redis(port=port)
    for _ in range(200):
        try:
            c.ping()
            break
        except redis.RedisError:
            time.sleep(0.05)
    return proc, f"redis://127.0.0.1:{port}/0"


def http_bench(db: Path, rate: int, seconds: int, redis_url: str | None, workers: int) -> None:
    """Paced load (open loop: each request has a due time) from threads with keep-alive
    connections (stdlib http.client, lighter than httpx) against `uvicorn --workers N`."""
    import http.client
    import json

    port = free_port()
    env = {
        **os.environ,
        "COLLECTGUARD_GATEWAY_DB": str(db),
        "COLLECTGUARD_GATEWAY_REDIS_URL": redis_url or "",
    }
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "collectguard.gateway.http:app_from_env",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        env=env,
    )
    try:
        for _ in range(300):
            try:
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
                c.request("GET", "/healthz")
                if c.getresponse().status == 200:
                    break
            except OSError:
                time.sleep(0.1)
        time.sleep(1.0 * workers)  # let every worker load the rule packs
        total = rate * seconds
        # calls to 50 debtors (so the caps bind) mixed with SMS to many
        bodies = []
        for i in range(total):
            b = body(i % 50, "call") if i % 4 == 0 else body(i, "sms")
            bodies.append((b["channel"], b["debtor_id"], json.dumps(b).encode()))
        lat: list[float] = []
        late: list[float] = []
        allowed: dict[str, int] = collections.Counter()
        errors = [0]
        lock = threading.Lock()
        n_threads = 48
        start = time.perf_counter() + 0.3
        headers = {"content-type": "application/json"}

        def work(w: int) -> None:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            for i in range(w, total, n_threads):
                due = start + i / rate
                delay = due - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
                channel, debtor, payload = bodies[i]
                t0 = time.perf_counter()
                try:
                    conn.request("POST", "/v1/decisions", payload, headers)
                    resp = conn.getresponse()
                    data = resp.read()
                    status = resp.status
                except OSError:
                    conn.close()
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                    status, data = 0, b""
                t1 = time.perf_counter()
                with lock:
                    lat.append((t1 - t0) * 1000)
                    late.append((t1 - due) * 1000)  # includes queueing behind the schedule
                    if status != 200:
                        errors[0] += 1
                    elif channel == "call" and json.loads(data)["decision"] == "allow":
                        allowed[debtor] += 1
            conn.close()

        t_start = time.perf_counter()
        threads = [threading.Thread(target=work, args=(w,)) for w in range(n_threads)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - t_start
        worst = max(allowed.values(), default=0)
        store = "Redis" if redis_url else "SQLite"
        print(
            f"| {store}, {workers} worker(s), {rate} req/s offered | {len(lat)} | "
            f"{statistics.median(lat):.2f} | {pct(lat, 99):.2f} | {pct(late, 99):.2f} | "
            f"{len(lat) / wall:.0f} req/s | {errors[0]} | {worst} (cap 3) "
            f"{'ok' if worst <= 3 else 'EXCEEDED'} |",
            flush=True,
        )
    finally:
        server.terminate()
        server.wait(20)


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--n", type=int, default=3000)
    ap.add_argument("--http", action="store_true", help="also measure HTTP on loopback")
    ap.add_argument("--rate", default="200,500", help="offered loads (req/s), comma-separated")
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--redis", action="store_true", help="also measure on a local redis-server")
    ap.add_argument("--workers", default="1,2", help="uvicorn worker counts to try")
    a = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="cg-gw-bench-"))
    print(f"gateway benchmark, {os.cpu_count()} CPU(s), {dt.date.today()}\n")
    print("| in-process decision (SQLite state) | n | p50 ms | p99 ms | max ms |")
    print("|---|---|---|---|---|")
    cases: list[tuple[str, Callable[[], list[float]]]] = []

    def sqlite_case(kind: str, logged: bool) -> Callable[[], list[float]]:
        def run() -> list[float]:
            engine = sqlite_engine(f"sqlite:///{tmp / f'{kind}-{logged}.db'}")
            return in_process(
                SqlStateStore(engine), DecisionLog(engine) if logged else None, a.n, kind
            )

        return run

    cases.append(("SMS, template text, decision logged", sqlite_case("sms", True)))
    cases.append(("SMS, template text, no log", sqlite_case("sms", False)))
    cases.append(("call (caps checked), decision logged", sqlite_case("call", True)))
    cases.append(("SMS, unique text (analyzer each time), logged", sqlite_case("unique", True)))
    for name, fn in cases:
        print(row(name, fn()), flush=True)
    redis = start_redis() if a.redis else None
    if a.redis and redis is None:
        print("\n(redis-server not found: Redis rows skipped)")
    try:
        if redis is not None:
            from collectguard.gateway.redis_store import RedisStateStore

            engine = sqlite_engine(f"sqlite:///{tmp / 'redis-log.db'}")
            print(
                row(
                    "call on Redis state, decision logged (SQLite ledger)",
                    in_process(RedisStateStore(redis[1]), DecisionLog(engine), a.n, "call"),
                )
            )
        if a.http:
            print(
                "\n| HTTP on loopback | n | p50 ms | p99 ms | p99 from schedule ms | "
                "throughput | errors | max calls allowed per debtor/day |"
            )
            print("|---|---|---|---|---|---|---|---|")
            rates = [int(x) for x in a.rate.split(",") if x.strip()]
            for w in [int(x) for x in a.workers.split(",") if x.strip()]:
                for rate in rates:
                    http_bench(tmp / f"http-{w}-{rate}.db", rate, a.seconds, None, w)
                    if redis is not None:
                        import redis as redis_lib

                        redis_lib.Redis.from_url(redis[1]).flushall()  # fresh counters
                        http_bench(tmp / f"http-redis-{w}-{rate}.db", rate, a.seconds, redis[1], w)
    finally:
        if redis is not None:
            redis[0].kill()
            redis[0].wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
