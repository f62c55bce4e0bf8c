"""The staff desk's view of the gateway decision log: recent rows from the newest entries,
counts and chain state kept incrementally (a view reads what is new), and the button that
verifies the whole log (the only check that sees an edit to an older entry)."""

from __future__ import annotations

import datetime as dt
import re
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, delete, text

with warnings.catch_warnings():
    warnings.simplefilter("ignore", UserWarning)  # starlette prefers httpx2 when present
    from fastapi.testclient import TestClient

from fastapi import FastAPI

from collectguard.gateway import DecisionLog
from collectguard.gateway.store import sqlite_engine
from collectguard.ledger import LedgerEntry, SqlLedger, ledger_entries
from collectguard.ledger.chain import next_entry
from collectguard.web import WebSettings, create_app
from collectguard.web.decision_log import forget_decision_logs, gateway_summary
from collectguard.web.demo import seed_demo
from webclient import PASSWORDS, csrf, login

NOW = dt.datetime(2026, 11, 29, 2, 0, tzinfo=dt.UTC)
VERDICTS = ("allow", "allow", "deny", "defer")  # entry i gets VERDICTS[i % 4]


def decision(i: int, verdict: str | None = None) -> tuple[str, dict[str, Any]]:
    verdict = verdict or VERDICTS[i % 4]
    reasons = [] if verdict == "allow" else [{"rule_id": f"rule-{i}", "message_zh": f"原因{i}"}]
    return (
        "decision",
        {
            "request": {"channel": "sms", "debtor_id": f"debtor-{i:04d}"},
            "decision": {"decision": verdict, "reasons": reasons},
        },
    )


class Reads:
    """Counts what the staff view reads from the ledger: entries yielded by `rows` (and the
    row id each pass starts after), the `n` of each `last`, and whole-stream reads."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.rows = 0
        self.passes: list[int] = []
        self.last: list[int] = []
        self.entries = 0
        real_rows, real_last, real_entries = SqlLedger.rows, SqlLedger.last, SqlLedger.entries

        def rows(led: SqlLedger, **kw: Any) -> Iterator[tuple[int, LedgerEntry]]:
            self.passes.append(kw.get("after_id", 0))
            for row in real_rows(led, **kw):
                self.rows += 1
                yield row

        def last(led: SqlLedger, n: int, **kw: Any) -> list[LedgerEntry]:
            self.last.append(n)
            return real_last(led, n, **kw)

        def entries(led: SqlLedger, **kw: Any) -> Iterator[LedgerEntry]:
            self.entries += 1
            return real_entries(led, **kw)

        monkeypatch.setattr(SqlLedger, "rows", rows)
        monkeypatch.setattr(SqlLedger, "last", last)
        monkeypatch.setattr(SqlLedger, "entries", entries)

    def reset(self) -> None:
        self.rows, self.passes, self.last, self.entries = 0, [], [], 0


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    eng = sqlite_engine(f"sqlite:///{tmp_path / 'gw.db'}", checkpoint_every_s=None)
    yield eng
    eng.dispose()


@pytest.fixture
def log(engine: Engine) -> DecisionLog:
    return DecisionLog(engine)


@pytest.fixture
def clock() -> list[dt.datetime]:
    """The app's clock: set `clock[0]` to move it."""
    return [NOW]


@pytest.fixture
def app(tmp_path: Path, log: DecisionLog, clock: list[dt.datetime]) -> FastAPI:
    forget_decision_logs()  # each test starts as a fresh process
    settings = WebSettings(
        data_dir=tmp_path, secret_key="t", clock=lambda: clock[0], decision_log=log
    )
    app = create_app(settings)
    seed_demo(app.state.web.sessions, now=NOW, passwords=PASSWORDS)
    return app


@pytest.fixture
def staff(app: FastAPI) -> TestClient:
    return login(app, "wangfang")


def counts(page: str) -> dict[str, int]:
    labels = {"放行": "allow", "拦截": "deny", "推迟": "defer"}
    found = re.findall(r'<span class="tag">(放行|拦截|推迟) (\d+)</span>', page)
    return {labels[label]: int(n) for label, n in found}


def chain_state(page: str) -> tuple[bool, int, int]:
    """(intact, verified up to entry, entries this view read) from the page."""
    m = re.search(r'data-chain-ok="(true|false)" data-verified-to="(\d+)" data-read="(\d+)"', page)
    assert m, "no chain state on the page"
    return m.group(1) == "true", int(m.group(2)), int(m.group(3))


def verify_all(client: TestClient) -> str:
    r = client.post("/staff/gateway/verify", data={"csrf_token": csrf(client, "/staff")})
    assert r.status_code == 200 and r.url.path == "/staff", r.status_code
    assert (
        "已从第一条起完整核对决策日志" in r.text or "The whole decision log was verified" in r.text
    )
    return r.text


def set_payload(engine: Engine, seq: int, payload: str) -> None:
    with engine.begin() as c:
        n = c.execute(
            text(
                "UPDATE ledger_entries SET payload_json = :p WHERE stream = 'gateway' AND seq = :s"
            ),
            {"p": payload, "s": seq},
        ).rowcount
    assert n == 1


# ---------------------------------------------------------------- page views


def test_recent_rows_are_the_newest_decisions_newest_first(
    log: DecisionLog, staff: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    log.ledger.append_many([decision(i) for i in range(120)])
    outcomes = [("outcome", {"attempt_id": f"a{i}", "outcome": "delivered"}) for i in range(30)]
    log.ledger.append_many(outcomes)  # newer than every decision: not shown as decisions
    reads = Reads(monkeypatch)
    page = staff.get("/staff").text
    shown = re.findall(r"<td>(debtor-\d{4})</td>", page)
    assert shown == [f"debtor-{i:04d}" for i in range(119, 69, -1)]  # 50 newest, newest first
    assert "原因119" in page  # entry 119 is a deferral with its reason
    assert reads.last == [50]
    assert reads.entries == 0  # nothing reads the whole stream through entries()


def test_counts_stay_right_as_decisions_are_appended_between_views(
    log: DecisionLog, staff: TestClient
) -> None:
    log.ledger.append_many([decision(i) for i in range(10)])
    assert counts(staff.get("/staff").text) == {"allow": 6, "deny": 2, "defer": 2}
    log.ledger.append_many([decision(i, "deny") for i in range(10, 17)])
    log.ledger.append("outcome", {"attempt_id": "a1", "outcome": "answered"})  # not counted
    page = staff.get("/staff").text
    assert counts(page) == {"allow": 6, "deny": 9, "defer": 2}
    assert chain_state(page)[:2] == (True, 18)
    log.ledger.append_many([decision(i, "allow") for i in range(17, 20)])
    page = staff.get("/staff").text
    assert counts(page) == {"allow": 9, "deny": 9, "defer": 2}
    assert chain_state(page)[:2] == (True, 21)
    assert "链已核对至第 21 条（2026-11-29 10:00）" in page  # the lender's zone


def test_a_later_view_reads_only_what_is_new(
    log: DecisionLog, staff: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    log.ledger.append_many([decision(i) for i in range(300)])
    reads = Reads(monkeypatch)
    assert chain_state(staff.get("/staff").text) == (True, 300, 300)  # a fresh process: all
    assert reads.rows == 300 and reads.passes == [0]
    reads.reset()
    log.ledger.append_many([decision(i) for i in range(300, 307)])
    page = staff.get("/staff").text
    # the 7 new entries, plus the last verified one read again to see it is unchanged
    assert reads.rows == 8 and reads.passes == [299] and reads.entries == 0
    assert chain_state(page) == (True, 307, 8)
    reads.reset()
    assert chain_state(staff.get("/staff").text) == (True, 307, 1)
    assert reads.rows == 1


def test_an_edit_to_an_old_entry_is_found_by_the_button_not_by_a_view(
    engine: Engine, log: DecisionLog, staff: TestClient, clock: list[dt.datetime]
) -> None:
    log.ledger.append_many([decision(i) for i in range(20)])
    assert chain_state(staff.get("/staff").text)[0]
    entry_5 = next(e for e in log.ledger.entries() if e.seq == 5)
    set_payload(engine, 5, '{"decision":{"decision":"allow"},"request":{}}')
    log.ledger.append_many([decision(i) for i in range(20, 23)])
    clock[0] = NOW + dt.timedelta(hours=1)
    page = staff.get("/staff").text
    assert chain_state(page) == (True, 23, 4)  # the incremental check cannot see entry 5
    assert "链已核对至第 23 条（2026-11-29 11:00）" in page
    assert "只有“完整核对”才能发现。上次完整核对：2026-11-29 10:00，共 20 条。" in page
    assert 'action="/staff/gateway/verify"' in page
    clock[0] = NOW + dt.timedelta(hours=2)
    page = verify_all(staff)
    assert chain_state(page)[:2] == (False, 23)
    assert "#5: 被修改 / edited" in page and "校验失败：1 处问题" in page
    assert "上次完整核对：2026-11-29 12:00，共 23 条。" in page
    assert not chain_state(staff.get("/staff").text)[0]  # it stays on the page
    # put entry 5 back: a full pass clears the problem, an incremental one does not
    set_payload(engine, 5, _payload_json(entry_5))
    assert not chain_state(staff.get("/staff").text)[0]
    assert chain_state(verify_all(staff))[:2] == (True, 23)


def _payload_json(entry: LedgerEntry) -> str:
    from collectguard.ledger import canonical_json

    return canonical_json(entry.payload).decode()


def insert_row(engine: Engine, e: LedgerEntry) -> None:
    with engine.begin() as c:
        c.execute(
            ledger_entries.insert().values(
                stream=e.stream,
                seq=e.seq,
                kind=e.kind,
                payload_json=_payload_json(e),
                payload_sha256=e.payload_sha256,
                prev_hash=e.prev_hash,
                entry_hash=e.entry_hash,
                recorded_at=e.recorded_at,
            )
        )


@pytest.mark.parametrize(
    ("tamper", "expected"),
    [
        ("edit_new", ["#12: 被修改 / edited"]),
        ("forged_next", ["#15: 被插入 / inserted"]),
        ("replaced_new", ["#12: 顺序被调换 / reordered", "#13: 被插入 / inserted"]),
    ],
)
def test_tampering_among_new_entries_is_found_by_the_next_view(
    engine: Engine, log: DecisionLog, staff: TestClient, tamper: str, expected: list[str]
) -> None:
    log.ledger.append_many([decision(i) for i in range(10)])
    assert chain_state(staff.get("/staff").text) == (True, 10, 10)
    new = log.ledger.append_many([decision(i) for i in range(10, 14)])  # entries 11…14
    stamp = new[0].recorded_at
    if tamper == "edit_new":
        set_payload(engine, 12, '{"decision":{"decision":"deny"},"request":{}}')
    elif tamper == "forged_next":  # hashes recomputed, but it links to no entry
        insert_row(engine, next_entry("gateway", (14, "ab" * 32), *decision(99), stamp))
    else:  # entry 12 rewritten with recomputed hashes: it now comes last, 13 links to nothing
        with engine.begin() as c:
            c.execute(delete(ledger_entries).where(ledger_entries.c.seq == 12))
        link = (new[0].seq, new[0].entry_hash)
        insert_row(engine, next_entry("gateway", link, *decision(99, "allow"), stamp))
    page = staff.get("/staff").text
    ok, verified_to, _ = chain_state(page)
    problems = re.findall(r"<li>(#\d+: [^ ]+ / \w+)", page)
    assert not ok and problems == expected
    assert verified_to in (14, 15)
    assert not chain_state(staff.get("/staff").text)[0]  # still shown on the next view


def test_removing_the_last_verified_entry_is_found(
    engine: Engine, log: DecisionLog, staff: TestClient
) -> None:
    log.ledger.append_many([decision(i) for i in range(10)])
    assert chain_state(staff.get("/staff").text)[0]
    with engine.begin() as c:
        c.execute(text("DELETE FROM ledger_entries WHERE stream = 'gateway' AND seq = 10"))
    page = staff.get("/staff").text
    assert not chain_state(page)[0]
    assert "#10: 被删除 / deleted" in page and page.count("#10: 被删除") == 1
    page = staff.get("/staff").text  # found again on each view, listed once
    assert page.count("#10: 被删除") == 1
    page = verify_all(staff)  # the whole log, without its exported head, is a shorter chain
    assert chain_state(page)[:2] == (True, 9) and "共 9 条" in page


def test_the_first_views_of_a_fresh_process_read_the_whole_log_once(
    log: DecisionLog, app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    log.ledger.append_many([decision(i) for i in range(200)])
    reads = Reads(monkeypatch)
    real_rows = SqlLedger.rows

    def slow_rows(led: SqlLedger, **kw: Any) -> Iterator[tuple[int, LedgerEntry]]:
        for row in real_rows(led, **kw):
            time.sleep(0.0005)  # a long pass, so the views overlap
            yield row

    monkeypatch.setattr(SqlLedger, "rows", slow_rows)
    settings = app.state.web.settings
    start = threading.Barrier(4)
    results: list[Any] = []

    def view() -> None:
        start.wait()
        results.append(gateway_summary(settings))

    threads = [threading.Thread(target=view) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert reads.passes.count(0) == 1  # one full pass; the others waited and read 1 row each
    assert all(s.counts == {"allow": 100, "deny": 50, "defer": 50} for s in results)
    assert sorted(s.chain.read_now for s in results) == [1, 1, 1, 200]


def test_the_english_page_says_what_was_checked_and_what_only_the_button_checks(
    engine: Engine, log: DecisionLog, staff: TestClient
) -> None:
    log.ledger.append_many([decision(i) for i in range(4)])
    page = staff.get("/staff?lang=en").text
    assert "intact: chain verified up to entry 4 (2026-11-29 10:00)." in page
    assert "an edit to an older entry is found only by “verify the whole log”" in page
    assert "Last full check: 2026-11-29 10:00, 4 entries." in page
    assert ">Verify the whole log now</button>" in page
    set_payload(engine, 2, "{}")
    page = verify_all(staff)  # the page after the button is still in English (cookie)
    assert "does not verify: 1 problem(s) (chain verified up to entry 4, 2026-11-29 10:00)" in page
    assert "#2: 被修改 / edited — " in page


# ---------------------------------------------------------------- the button


def test_the_button_needs_a_signed_in_staff_user_and_the_csrf_token(
    app: FastAPI, log: DecisionLog, staff: TestClient
) -> None:
    log.ledger.append_many([decision(i) for i in range(3)])
    token = csrf(staff, "/staff")
    for data in ({}, {"csrf_token": "forged"}):
        r = staff.post("/staff/gateway/verify", data=data, follow_redirects=False)
        assert r.status_code == 403
    borrower = login(app, "zhangwei")
    r = borrower.post(
        "/staff/gateway/verify",
        data={"csrf_token": csrf(borrower, "/portal")},
        follow_redirects=False,
    )
    assert r.status_code == 403
    anonymous = TestClient(app)
    r = anonymous.post(
        "/staff/gateway/verify",
        data={"csrf_token": csrf(anonymous, "/login")},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    r = staff.post("/staff/gateway/verify", data={"csrf_token": token}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/staff#gw-head"


def test_the_button_without_a_decision_log_is_not_found(tmp_path: Path) -> None:
    app = create_app(WebSettings(data_dir=tmp_path, secret_key="t", clock=lambda: NOW))
    seed_demo(app.state.web.sessions, now=NOW, passwords=PASSWORDS)
    staff = login(app, "wangfang")
    assert 'action="/staff/gateway/verify"' not in staff.get("/staff").text
    r = staff.post("/staff/gateway/verify", data={"csrf_token": csrf(staff, "/staff")})
    assert r.status_code == 404
