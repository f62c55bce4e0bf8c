"""Benchmark of the pre-send gateway: in-process decision latency, the ledger append and, with
--http, HTTP latency/throughput on loopback under an open-loop constant-rate load, plus a
check from the state store and the decision log afterwards that no cap was exceeded.
Prints Markdown tables.

Usage:
    .venv/bin/python bench/bench_gateway.py [--n 3000] [--http --rate 500 --seconds 10]
                                            [--workers 1,2] [--repeat 3] [--redis]

Targets (shared/DESIGN.md §4): in-process p99 < 5 ms; HTTP p99 < 20 ms at 500 req/s.
`--redis` also measures on a redis-server started here (needs the binary).

Load generator: `wrk`/`wrk2` are not installed on the reference machine, so the HTTP runs use
the open-loop generator below, in a process of its own (asyncio on uvloop when installed, raw
HTTP/1.1 on keep-alive connections, no client library). Request i is *due* at
start + i / rate whatever happened to earlier ones; when every connection is busy a new one is
opened (up to 256), then requests wait for one. Latency is measured from the due time, so a
stalled server shows up in the figures instead of slowing the generator down (no coordinated
omission). The generator's own lateness (send time − due time) is reported too.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import datetime as dt
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

SH = ZoneInfo("Asia/Shanghai")
TEMPLATES = [
    "【招联金融】尊敬的客户，您的借款已到期，请通过招联金融App按时还款。",
    "【招联金融】您的账单已逾期3天，请尽快通过官方App还款，如有疑问请致电95786。",
    "【马上消费】您的借款今日到期，请登录安逸花App还款。",
]
HOT_DEBTORS = 50  # the HTTP load's calls go to these few debtors, so the caps bind


def pct(xs: list[float], p: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, round(p / 100 * (len(s) - 1)))]


def body(i: int, kind: str, planned_at: str | None = None, prefix: str = "") -> dict[str, Any]:
    debtor = f"{prefix}cust-{i % 997}"
    b: dict[str, Any] = {
        "debt_id": f"{prefix}loan-{i % 997}",
        "debtor_id": debtor,
        "agent_id": f"agent-{i % 13}",
        "recipient": {"role": "debtor", "phone": f"138{i % 997:08d}", "timezone": "Asia/Shanghai"},
        "idempotency_key": f"bench-{uuid.uuid4().hex}",
        "jurisdiction": "cn",
    }
    if planned_at is not None:
        b["planned_at"] = planned_at
    if kind == "call":
        b["channel"] = "call"
    else:
        b["channel"] = "sms"
        b["text"] = TEMPLATES[i % len(TEMPLATES)]
        if kind == "unique":
            b["text"] += f"（编号{i}）"
    return b


def planned_time() -> str:
    """Tomorrow 10:00 in Shanghai: inside the legal hours whenever the bench runs, and one
    local day for every request (so the daily caps bind)."""
    day = dt.datetime.now(SH).date() + dt.timedelta(days=1)
    return dt.datetime(day.year, day.month, day.day, 10, 0, tzinfo=SH).isoformat()


def load_bodies(total: int, planned_at: str, prefix: str = "") -> list[dict[str, Any]]:
    """A quarter calls to HOT_DEBTORS debtors (caps bind), the rest template SMS to many."""
    out = []
    for i in range(total):
        if i % 4 == 0:
            out.append(body(i % HOT_DEBTORS, "call", planned_at, prefix))
        else:
            out.append(body(i, "sms", planned_at, prefix))
    return out


# ---------------------------------------------------------------------------- in-process
def in_process(store: Any, log: Any, n: int, kind: str) -> list[float]:
    from collectguard.gateway import ContentChecker, DecisionRequest, Gateway

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


def ledger_case(tmp: Path, n: int, mode: str) -> list[float]:
    """`SqlLedger` on the gateway's SQLite engine: ms per entry."""
    from collectguard.gateway.store import sqlite_engine
    from collectguard.ledger import SqlLedger

    engine = sqlite_engine(f"sqlite:///{tmp / f'ledger-{mode}.db'}")
    led = SqlLedger(engine, "bench")
    led.create_table()
    payload = {"request": body(1, "sms"), "decision": {"decision": "allow", "reasons": []}}
    for _ in range(50):
        led.append("decision", payload)
    out = []
    if mode == "own":
        for _ in range(n):
            t0 = time.perf_counter()
            led.append("decision", payload)
            out.append((time.perf_counter() - t0) * 1000)
    elif mode == "in-txn":
        with engine.begin() as c:
            for _ in range(n):
                t0 = time.perf_counter()
                led.append("decision", payload, conn=c)
                out.append((time.perf_counter() - t0) * 1000)
    else:  # batches of 100
        for _ in range(max(1, n // 100)):
            t0 = time.perf_counter()
            led.append_many([("decision", payload)] * 100)
            out += [(time.perf_counter() - t0) * 10] * 100
    assert led.verify().ok
    return out


def row(name: str, xs: list[float]) -> str:
    return (
        f"| {name} | {len(xs)} | {statistics.median(xs):.3f} | {pct(xs, 99):.3f} | {max(xs):.2f} |"
    )


# ---------------------------------------------------------------------------- servers
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
        [exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
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


def start_gateway(
    db: Path, redis_url: str | None, workers: int
) -> tuple[subprocess.Popen[bytes], int]:
    import http.client

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
            # a sender's pool keeps its connections; uvicorn's default (5 s) would close idle
            # ones under the generator, and a request sent as one closes is lost
            "--timeout-keep-alive",
            "120",
        ],
        env=env,
    )
    ready = 0
    for _ in range(600):
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            c.request("GET", "/healthz")
            if c.getresponse().status == 200:
                ready += 1
                if ready >= 3 * workers:
                    break
        except OSError:
            time.sleep(0.1)
    return server, port


def tree_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process and its children (uvicorn's workers), from
    /proc (Linux); 0.0 elsewhere."""
    tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(stat.parent.name) == pid or int(fields[1]) == pid:  # fields[1]: parent pid
            total += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
    return total


# ---------------------------------------------------------------------------- load generator
class _Conn(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection; one request at a time."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.waiter: asyncio.Future[tuple[int, bytes]] | None = None
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is no subclass

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result((0, b""))

    def data_received(self, data: bytes) -> None:
        self.buf += data
        end = self.buf.find(b"\r\n\r\n")
        if end < 0 or self.waiter is None:
            return
        head = bytes(self.buf[:end]).lower()
        i = head.find(b"content-length:")
        length = (
            int(head[i + 15 : head.find(b"\r\n", i) if b"\r\n" in head[i:] else None])
            if i >= 0
            else 0
        )
        if len(self.buf) < end + 4 + length:
            return
        status = int(head[9:12])
        payload = bytes(self.buf[end + 4 : end + 4 + length])
        del self.buf[: end + 4 + length]
        w, self.waiter = self.waiter, None
        if not w.done():
            w.set_result((status, payload))

    def send(self, request: bytes) -> asyncio.Future[tuple[int, bytes]]:
        assert self.transport is not None
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(request)
        return self.waiter


async def _generate(
    port: int, rate: float, requests: list[bytes], max_conns: int = 256
) -> list[tuple[float, float, int, bytes]]:
    """Open loop: request i is due at start + i/rate. Returns per request (lateness of the
    generator itself ms, latency from the due time ms, status, body)."""
    loop = asyncio.get_running_loop()
    idle: list[_Conn] = []
    waiting: collections.deque[asyncio.Future[_Conn]] = collections.deque()
    opened = [0]
    results: list[tuple[float, float, int, bytes]] = [(0.0, 0.0, 0, b"")] * len(requests)

    async def acquire() -> _Conn:
        while idle:
            c = idle.pop()
            if not c.closed:
                return c
        if opened[0] < max_conns:
            opened[0] += 1
            _, proto = await loop.create_connection(_Conn, "127.0.0.1", port)
            return proto
        f: asyncio.Future[_Conn] = loop.create_future()
        waiting.append(f)
        return await f

    def release(c: _Conn) -> None:
        if c.closed:
            opened[0] -= 1
            return
        while waiting:
            f = waiting.popleft()
            if not f.done():
                f.set_result(c)
                return
        idle.append(c)

    async def one(i: int, due: float) -> None:
        began = time.perf_counter()  # generator lag: how late the generator itself is
        c = await acquire()
        status, data = await c.send(requests[i])
        done = time.perf_counter()
        results[i] = ((began - due) * 1000, (done - due) * 1000, status, data)
        release(c)

    for _ in range(min(32, max_conns)):  # connect ahead, as a sender's pool would
        opened[0] += 1
        _, proto = await loop.create_connection(_Conn, "127.0.0.1", port)
        idle.append(proto)
    tasks = []
    start = time.perf_counter() + 0.05
    for i in range(len(requests)):
        due = start + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(loop.create_task(one(i, due)))
    await asyncio.gather(*tasks)
    for c in idle:
        if c.transport is not None:
            c.transport.close()
    return results


def loadgen_main(args: list[str]) -> int:
    """Child process: `--loadgen PORT RATE IN_JSON OUT_JSON`."""
    port, rate, src, dst = int(args[0]), float(args[1]), Path(args[2]), Path(args[3])
    bodies = json.loads(src.read_text(encoding="utf-8"))
    requests = []
    for b in bodies:
        data = json.dumps(b, ensure_ascii=False).encode()
        requests.append(
            b"POST /v1/decisions HTTP/1.1\r\nhost: 127.0.0.1\r\n"
            b"content-type: application/json\r\ncontent-length: "
            + str(len(data)).encode()
            + b"\r\n\r\n"
            + data
        )
    try:
        import uvloop

        runner: Callable[[Any], Any] = uvloop.run
    except ImportError:
        runner = asyncio.run
    t0 = time.perf_counter()
    results = runner(_generate(port, rate, requests))
    wall = time.perf_counter() - t0
    out = {
        "wall_s": wall,
        "late_ms": [r[0] for r in results],
        "latency_ms": [r[1] for r in results],
        "status": [r[2] for r in results],
        "decision": [
            json.loads(r[3])["decision"] if r[2] == 200 and b["channel"] == "call" else None
            for r, b in zip(results, bodies, strict=True)
        ],
        # fail-closed denials (state or log unavailable, internal error): must stay 0
        "system": [_system_code(r[3]) if r[2] == 200 else None for r in results],
    }
    dst.write_text(json.dumps(out), encoding="utf-8")
    return 0


def _system_code(data: bytes) -> str | None:
    reasons = json.loads(data).get("reasons") or []
    return next((r["code"] for r in reasons if r.get("binding") == "system"), None)


def run_load(port: int, rate: float, bodies: list[dict[str, Any]], tmp: Path) -> dict[str, Any]:
    src, dst = tmp / f"load-{uuid.uuid4().hex}.json", tmp / f"res-{uuid.uuid4().hex}.json"
    src.write_text(json.dumps(bodies, ensure_ascii=False), encoding="utf-8")
    subprocess.run(
        [sys.executable, __file__, "--loadgen", str(port), str(rate), str(src), str(dst)],
        check=True,
    )
    res: dict[str, Any] = json.loads(dst.read_text(encoding="utf-8"))
    return res


# ---------------------------------------------------------------------------- cap audit
def cap_audit(db: Path, redis_url: str | None) -> tuple[int, int, int, bool]:
    """Check afterwards, from the stored state and from the decision log, that no cap was
    exceeded: (window keys checked, worst excess over a limit from the state, worst calls
    allowed per debtor and day from the log, log chain intact)."""
    from collectguard.gateway.log import DecisionLog
    from collectguard.gateway.policy import load_policy
    from collectguard.gateway.store import sqlite_engine

    caps = {c.id: c for jp in load_policy(None).jurisdictions.values() for c in jp.caps}
    members: dict[str, list[float]] = collections.defaultdict(list)
    if redis_url:
        import redis

        r = redis.Redis.from_url(redis_url, decode_responses=True)
        for k in r.scan_iter("cg:gw:w:*", count=1000):
            members[k.removeprefix("cg:gw:w:")] = [
                s for _, s in r.zrange(k, 0, -1, withscores=True)
            ]
    engine = sqlite_engine(f"sqlite:///{db}", checkpoint_every_s=None)
    if not redis_url:
        with engine.connect() as c:
            for key, score in c.exec_driver_sql("SELECT key, score FROM gw_window_members"):
                members[key].append(score)
    worst_excess = -(10**9)
    for key, scores in members.items():
        cap = caps[key.split("|", 1)[0]]
        assert cap.limit is not None
        days = sorted(dt.datetime.fromtimestamp(s, SH).date() for s in scores)
        for d in set(days):  # every window ending on a day with attempts
            lo = d - dt.timedelta(days=cap.window_days - 1)
            n = sum(1 for x in days if lo <= x <= d)
            worst_excess = max(worst_excess, n - cap.limit)
    log = DecisionLog(engine)
    per_day: dict[tuple[str, str], int] = collections.Counter()
    for e in log.entries():
        p = e.payload or {}
        req, dec = p.get("request", {}), p.get("decision", {})
        if e.kind == "decision" and req.get("channel") == "call" and dec.get("decision") == "allow":
            day = dt.datetime.fromisoformat(req["planned_at"]).astimezone(SH).date().isoformat()
            per_day[(req["debtor_id"], day)] += 1
    ok = log.verify().ok
    engine.dispose()
    return len(members), worst_excess, max(per_day.values(), default=0), ok


# ---------------------------------------------------------------------------- HTTP runs
def http_bench(
    tmp: Path, rate: int, seconds: int, redis_url: str | None, workers: int, run: int
) -> dict[str, Any]:
    db = tmp / f"http-{'redis' if redis_url else 'sqlite'}-{workers}-{rate}-{run}.db"
    if redis_url:
        import redis

        redis.Redis.from_url(redis_url).flushall()  # fresh counters
    server, port = start_gateway(db, redis_url, workers)
    try:
        planned = planned_time()
        # warm-up: 2 s at the same rate (other debtors), so every worker has loaded the
        # packs, opened its connections and filled the content cache
        run_load(port, rate, load_bodies(rate * 2, planned, prefix="warm-"), tmp)
        bodies = load_bodies(rate * seconds, planned)
        cpu0 = tree_cpu_s(server.pid)
        res = run_load(port, rate, bodies, tmp)
        server_cpu = tree_cpu_s(server.pid) - cpu0
    finally:
        server.terminate()
        server.wait(30)
    lat = res["latency_ms"]
    allowed: dict[str, int] = collections.Counter(
        b["debtor_id"] for b, d in zip(bodies, res["decision"], strict=True) if d == "allow"
    )
    keys, excess, log_worst, chain_ok = cap_audit(db, redis_url)
    return {
        "store": "Redis" if redis_url else "SQLite",
        "workers": workers,
        "rate": rate,
        "n": len(lat),
        "p50": statistics.median(lat),
        "p99": pct(lat, 99),
        "max": max(lat),
        "late_p99": pct(res["late_ms"], 99),
        "throughput": len(lat) / res["wall_s"],
        "cpu_ms": server_cpu * 1000 / len(lat),
        "errors": sum(1 for s in res["status"] if s != 200),
        "error_kinds": dict(collections.Counter(s for s in res["status"] if s != 200)),
        "system_denials": dict(collections.Counter(c for c in res["system"] if c)),
        "client_worst": max(allowed.values(), default=0),
        "keys": keys,
        "excess": excess,
        "log_worst": log_worst,
        "chain_ok": chain_ok,
    }


def _errors(runs: list[dict[str, Any]]) -> str:
    """HTTP errors (status 0: connection lost) and fail-closed denials, over all runs."""
    kinds: dict[str, int] = collections.Counter()
    for r in runs:
        kinds.update({f"HTTP {k}": v for k, v in r["error_kinds"].items()})
        kinds.update(r["system_denials"])
    return ", ".join(f"{v} {k}" for k, v in sorted(kinds.items())) or "0"


def http_row(runs: list[dict[str, Any]]) -> str:
    r0 = runs[0]
    med = {k: statistics.median(r[k] for r in runs) for k in ("p50", "p99", "throughput", "cpu_ms")}
    p99s = ", ".join(f"{r['p99']:.1f}" for r in runs)
    caps_ok = all(
        r["excess"] <= 0 and r["log_worst"] <= 3 and r["client_worst"] <= 3 and r["chain_ok"]
        for r in runs
    )
    return (
        f"| {r0['store']}, {r0['workers']} worker(s), {r0['rate']} req/s offered | "
        f"{len(runs)}×{r0['n']} | {med['p50']:.2f} | {med['p99']:.2f} ({p99s}) | "
        f"{max(r['max'] for r in runs):.1f} | {max(r['late_p99'] for r in runs):.2f} | "
        f"{med['throughput']:.0f} req/s | {med['cpu_ms']:.2f} | {_errors(runs)} | "
        f"{max(r['log_worst'] for r in runs)} of 3; "
        f"{max(r['excess'] for r in runs):+d} over limit in {r0['keys']} windows; chain "
        f"{'ok' if all(r['chain_ok'] for r in runs) else 'BROKEN'} | "
        f"{'ok' if caps_ok else 'EXCEEDED'} |"
    )


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--n", type=int, default=3000)
    ap.add_argument("--http", action="store_true", help="also measure HTTP on loopback")
    ap.add_argument("--rate", default="500", help="offered loads (req/s), comma-separated")
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--redis", action="store_true", help="also measure on a local redis-server")
    ap.add_argument("--workers", default="1", help="uvicorn worker counts to try")
    ap.add_argument("--repeat", type=int, default=3, help="HTTP runs per case (medians)")
    ap.add_argument("--no-in-process", action="store_true", help="HTTP runs only")
    a = ap.parse_args()
    from collectguard.gateway import DecisionLog, SqlStateStore
    from collectguard.gateway.store import sqlite_engine

    tmp = Path(tempfile.mkdtemp(prefix="cg-gw-bench-"))
    loads = os.getloadavg()
    print(
        f"gateway benchmark, {os.cpu_count()} CPU(s), {dt.date.today()}, "
        f"load average {loads[0]:.2f} {loads[1]:.2f} {loads[2]:.2f}\n"
    )
    redis = start_redis() if a.redis else None
    if a.redis and redis is None:
        print("(redis-server not found: Redis rows skipped)\n")
    try:
        if not a.no_in_process:
            print("| in-process | n | p50 ms | p99 ms | max ms |")
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
            cases.append(
                ("SMS, unique text (analyzer each time), logged", sqlite_case("unique", True))
            )
            if redis is not None:
                from collectguard.gateway.redis_store import RedisStateStore

                def redis_case() -> list[float]:
                    assert redis is not None
                    engine = sqlite_engine(f"sqlite:///{tmp / 'redis-log.db'}")
                    return in_process(RedisStateStore(redis[1]), DecisionLog(engine), a.n, "call")

                cases.append(("call on Redis state, logged (SQLite ledger)", redis_case))
            cases.append(("ledger append, own transaction", lambda: ledger_case(tmp, a.n, "own")))
            cases.append(
                (
                    "ledger append in the caller's transaction",
                    lambda: ledger_case(tmp, a.n, "in-txn"),
                )
            )
            cases.append(
                (
                    "ledger append_many, batches of 100 (per entry)",
                    lambda: ledger_case(tmp, a.n, "many"),
                )
            )
            for name, fn in cases:
                print(row(name, fn()), flush=True)
        if a.http:
            print(
                "\n| HTTP on loopback, open loop | runs×n | p50 ms | p99 ms (each run) | max ms | "
                "generator late p99 ms | throughput | server CPU ms/req | errors | "
                "caps afterwards (log; state) | caps |"
            )
            print("|---|---|---|---|---|---|---|---|---|---|---|")
            rates = [int(x) for x in a.rate.split(",") if x.strip()]
            stores: list[str | None] = [None] + ([redis[1]] if redis is not None else [])
            for w in [int(x) for x in a.workers.split(",") if x.strip()]:
                for rate in rates:
                    for url in stores:
                        runs = [
                            http_bench(tmp, rate, a.seconds, url, w, k) for k in range(a.repeat)
                        ]
                        print(http_row(runs), flush=True)
    finally:
        if redis is not None:
            redis[0].kill()
            redis[0].wait()
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--loadgen":
        sys.exit(loadgen_main(sys.argv[2:]))
    sys.exit(main())
