"""Audit reports on the staff desk: upload a log, the audit runs in the background with a
status page, then the summary, agent scorecards and the full HTML report; uploads are
size-limited and type-checked; every route needs the staff role; CSRF on the form."""

from __future__ import annotations

import datetime as dt
import json
import re
import time
import warnings
from pathlib import Path

import pytest

with warnings.catch_warnings():
    # starlette ≥ 1.x prefers the `httpx2` package and warns when it falls back to httpx
    warnings.simplefilter("ignore", UserWarning)  # StarletteDeprecationWarning
    from fastapi.testclient import TestClient

from fastapi import FastAPI
from fastapi.routing import APIRoute
from sqlalchemy import select

from collectguard.web import WebSettings, create_app
from collectguard.web.audits import router as audits_router
from collectguard.web.demo import seed_demo
from collectguard.web.models import AuditRun
from webclient import PASSWORDS, csrf, login

NOW = dt.datetime(2026, 11, 29, 2, 0, tzinfo=dt.UTC)
HEADER = (
    "event_id,occurred_at,debtor_id,debt_id,recipient_role,recipient_phone,recipient_timezone,"
    "channel,direction,outcome,agent_id,team,agency,jurisdiction,text,state\n"
)
ROWS = (
    "E1,2026-01-05T10:00:00+08:00,D1,L1,debtor,13800000001,Asia/Shanghai,sms,outbound,"
    "delivered,AG1,华东-1组,华东信和,cn,【XX消费金融】您的账单已逾期，请尽快通过官方App还款。,\n"
    "E2,2026-01-05T23:30:00+08:00,D1,L1,debtor,13800000001,Asia/Shanghai,sms,outbound,"
    "delivered,AG1,华东-1组,华东信和,cn,再不还钱，我们就上门找你，让你全家不得安宁。,\n"
    "E3,2026-01-06T11:00:00+08:00,D2,L2,debtor,13800000002,Asia/Shanghai,call,outbound,"
    "answered,AG2,华东-2组,华东信和,cn,,\n"
    "E4,2026-01-07T23:45:00+08:00,D1,L1,debtor,13800000001,Asia/Shanghai,sms,outbound,"
    "delivered,AG1,华东-1组,华东信和,cn,今天不还款，明天就派人去你家门口堵你。,\n"
    "E5,2026-01-07T15:00:00+08:00,D3,L3,debtor,13800000003,Asia/Shanghai,sms,outbound,"
    "delivered,AG3,北方-1组,北方正信,cn,【XX消费金融】温馨提示：您的账单将于明日到期。,\n"
)
LOG = (HEADER + ROWS).encode()


@pytest.fixture
def app(tmp_path: Path) -> FastAPI:
    settings = WebSettings(data_dir=tmp_path, secret_key="audit-test", clock=lambda: NOW)
    app = create_app(settings)
    seed_demo(app.state.web.sessions, now=NOW, passwords=PASSWORDS)
    return app


def submit(client: TestClient, name: str = "log.csv", data: bytes = LOG) -> TestClient:
    token = csrf(client, "/staff/audits")
    return client.post("/staff/audits", data={"csrf_token": token}, files={"log": (name, data)})


def wait_done(client: TestClient, path: str, timeout: float = 120) -> str:
    deadline = time.monotonic() + timeout
    while True:
        page = client.get(path).text
        status = re.search(r'data-status="(\w+)"', page)
        assert status
        if status.group(1) in ("done", "failed"):
            return page
        assert time.monotonic() < deadline, f"audit still {status.group(1)}"
        assert 'http-equiv="refresh"' in page and "<progress" in page
        time.sleep(0.2)


def test_staff_uploads_a_log_and_sees_the_report(app: FastAPI) -> None:
    staff = login(app, "wangfang")
    r = submit(staff)
    assert r.status_code == 200 and re.search(r"/staff/audits/\d+$", str(r.url))
    page = wait_done(staff, str(r.url).removeprefix("http://testserver"))
    assert 'data-status="done"' in page and 'http-equiv="refresh"' not in page
    assert "催收员评分卡" in page and "AG1" in page and "华东-1组" in page
    assert "cn.content.threat_violence" in page and "屡次违规" in page
    assert "完整报告（中文）" in page
    run_id = int(str(r.url).rsplit("/", 1)[1])
    report = staff.get(f"/staff/audits/{run_id}/files/report.zh-CN.html")
    assert report.status_code == 200 and "催收通信合规审计报告" in report.text
    csp = report.headers["content-security-policy"]
    assert "sandbox" in csp and "script-src" not in csp and "default-src 'none'" in csp
    assert (
        "Collection communications"
        in staff.get(f"/staff/audits/{run_id}/files/report.en.html").text
    )
    summary = staff.get(f"/staff/audits/{run_id}/files/summary.json").json()
    assert summary["contacts"] == 5 and summary["violations"] >= 3
    # the reports name the upload, never the server's folders
    server_dir = str(app.state.web.settings.data_dir)
    assert summary["log"]["path"] == "log.csv" and summary["rejects_file"] == "rejects.jsonl"
    assert server_dir not in report.text and "<code>log.csv</code>" in report.text
    cards = json.loads(staff.get(f"/staff/audits/{run_id}/files/scorecards.json").text)
    assert cards["scorecards"]["agent"][0]["agent_id"] == "AG1"
    for name in ("violations.parquet", "rejects.jsonl", "log.csv", "..%2F..%2Fweb-secret",
                 "../../../web-secret"):  # fmt: skip
        r = staff.get(f"/staff/audits/{run_id}/files/{name}")
        assert r.status_code in (400, 404) and "audit-test" not in r.text, name
    # the list and the staff desk show the run with its figures
    listing = staff.get("/staff/audits").text
    assert "log.csv" in listing and "已完成" in listing
    assert f'href="/staff/audits/{run_id}"' in staff.get("/staff").text


def test_jsonl_log_is_audited_too(app: FastAPI) -> None:
    rows = [dict(zip(HEADER.strip().split(","), line.split(","), strict=True))
            for line in ROWS.strip().splitlines()]  # fmt: skip
    data = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode()
    staff = login(app, "wangfang")
    r = submit(staff, "log.jsonl", data)
    page = wait_done(staff, str(r.url).removeprefix("http://testserver"))
    assert 'data-status="done"' in page and "AG1" in page


def test_rejected_rows_are_counted_and_failures_say_why(
    app: FastAPI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    staff = login(app, "wangfang")
    bad_row = "E9,not-a-time,D1,L1,debtor,1380,Asia/Shanghai,sms,outbound,delivered,A,T,G,cn,,\n"
    r = submit(staff, "mixed.csv", (HEADER + ROWS + bad_row).encode())
    page = wait_done(staff, str(r.url).removeprefix("http://testserver"))
    kpi = re.search(r"拒绝行数</dt><dd>(\d+)</dd>", page)
    assert 'data-status="done"' in page and kpi and kpi.group(1) == "1"
    # the audit refuses the file as a whole: its own reason is shown
    with app.state.web.sessions() as db:
        db.add(AuditRun(folder="gonegonegonegonegone", filename="gone.csv", size_bytes=1,
                        status="queued", created_at=NOW))  # fmt: skip
        db.commit()
        run_id = db.scalar(select(AuditRun.id).where(AuditRun.filename == "gone.csv"))
    app.state.audit_runner.submit(run_id).result(timeout=60)
    page = staff.get(f"/staff/audits/{run_id}").text
    assert 'data-status="failed"' in page and "the uploaded log is gone" in page
    # a log the audit refuses (no event columns): the reason names the upload, not our disk
    import pyarrow as pa
    import pyarrow.parquet as pq

    wrong = tmp_path / "wrong.parquet"
    pq.write_table(pa.table({"a": [1, 2]}), wrong)
    r = submit(staff, "wrong.parquet", wrong.read_bytes())
    page = wait_done(staff, str(r.url).removeprefix("http://testserver"))
    assert 'data-status="failed"' in page and "missing columns" in page
    assert "wrong.parquet" in page and str(app.state.web.settings.data_dir) not in page
    # a crash inside the audit: a plain message, no internals
    import collectguard.audit.run as run_module

    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("secret internals /etc/passwd")

    monkeypatch.setattr(run_module, "audit", boom)
    r = submit(staff)
    page = wait_done(staff, str(r.url).removeprefix("http://testserver"))
    assert 'data-status="failed"' in page and "服务器内部错误" in page
    assert "secret internals" not in page and "Traceback" not in page


def test_uploads_are_type_checked(app: FastAPI, tmp_path: Path) -> None:
    staff = login(app, "wangfang")
    for name, data, message in (
        ("report.pdf", b"%PDF-1.4", "文件类型不对"),
        ("log.csv", b"", "文件是空的"),
        ("log.csv", b"a,b,c\n1,2,3\n", "缺少必需的列"),
        ("log.jsonl", b"not json\n", "文件类型不对"),
        ("log.jsonl", b"[1, 2]\n", "文件类型不对"),
        ("log.parquet", b"PAR1 but not really", "文件类型不对"),
        ("log.csv", b"\x00\x01\x02" * 10, "文件类型不对"),
    ):
        r = submit(staff, name, data)
        assert r.status_code == 400 and message in r.text, (name, data, r.status_code)
    with app.state.web.sessions() as db:
        assert db.scalars(select(AuditRun)).all() == []
    assert not any((tmp_path / "audits").glob("*/log.*"))  # refused files are not kept


def test_upload_size_limit(tmp_path: Path) -> None:
    settings = WebSettings(data_dir=tmp_path, secret_key="t", max_upload_bytes=4096)
    app = create_app(settings)
    seed_demo(app.state.web.sessions, now=NOW, passwords=PASSWORDS)
    staff = login(app, "wangfang")
    r = submit(staff, "log.csv", LOG + ROWS.encode() * 20)
    assert r.status_code == 413
    assert "最大 4 KB" in staff.get("/staff/audits").text
    assert "最大 20 MB" in login(app_default(tmp_path), "wangfang").get("/staff/audits").text


def app_default(tmp_path: Path) -> FastAPI:
    app = create_app(WebSettings(data_dir=tmp_path / "other", secret_key="t"))
    seed_demo(app.state.web.sessions, now=NOW, passwords=PASSWORDS)
    return app


def audit_routes() -> list[APIRoute]:
    return [r for r in audits_router.routes if isinstance(r, APIRoute)]


def test_every_audit_route_needs_the_staff_role(app: FastAPI) -> None:
    staff = login(app, "wangfang")
    r = submit(staff)
    run_path = str(r.url).removeprefix("http://testserver")
    wait_done(staff, run_path)
    run_id = int(run_path.rsplit("/", 1)[1])
    routes = audit_routes()
    assert {r.path for r in routes} == {
        "/staff/audits",
        "/staff/audits/{run_id}",
        "/staff/audits/{run_id}/files/{name}",
    }
    borrower = login(app, "zhangwei")
    anonymous = TestClient(app)
    token = csrf(borrower, "/portal")
    for route in routes:
        path = route.path.format(run_id=run_id, name="report.zh-CN.html")
        for method in route.methods:
            if method == "GET":
                assert staff.get(path).status_code == 200, path
                r = borrower.get(path)
                assert r.status_code == 403 and "AG1" not in r.text, path
                r = anonymous.get(path, follow_redirects=False)
                assert r.status_code == 303 and r.headers["location"].startswith("/login")
            else:
                files = {"log": ("log.csv", LOG)}
                r = borrower.post(path, data={"csrf_token": token}, files=files)
                assert r.status_code == 403, path
    with app.state.web.sessions() as db:
        assert len(db.scalars(select(AuditRun)).all()) == 1
    assert staff.get("/staff/audits/999").status_code == 404


def test_audit_upload_requires_csrf(app: FastAPI) -> None:
    staff = login(app, "wangfang")
    for data in ({}, {"csrf_token": "forged"}):
        r = staff.post("/staff/audits", data=data, files={"log": ("log.csv", LOG)})
        assert r.status_code == 403


def test_runs_left_queued_resume_after_a_restart(tmp_path: Path) -> None:
    settings = WebSettings(data_dir=tmp_path, secret_key="t", clock=lambda: NOW)
    app = create_app(settings)
    seed_demo(app.state.web.sessions, now=NOW, passwords=PASSWORDS)
    folder = tmp_path / "audits" / "resumeresumeresume"
    folder.mkdir(parents=True)
    (folder / "log.csv").write_bytes(LOG)
    with app.state.web.sessions() as db:
        db.add(AuditRun(folder=folder.name, filename="log.csv", size_bytes=len(LOG),
                        status="running", created_at=NOW))  # fmt: skip
        db.commit()
    restarted = create_app(settings)  # the server comes back
    staff = login(restarted, "wangfang")
    with restarted.state.web.sessions() as db:
        run_id = db.scalar(select(AuditRun.id))
    page = wait_done(staff, f"/staff/audits/{run_id}")
    assert 'data-status="done"' in page


def test_a_running_audit_shows_its_stage(app: FastAPI) -> None:
    """The status page of a running audit says which step it is at and how many rows it has
    read (from the progress file the runner keeps in the run's folder)."""
    import json as _json

    from collectguard.web.audits import PROGRESS_FILE, _progress_writer

    staff = login(app, "wangfang")
    folder = app.state.web.settings.data_dir / "audits" / ("r" * 24)
    folder.mkdir(parents=True)
    with app.state.web.sessions() as db:
        db.add(AuditRun(folder="r" * 24, filename="big.csv", size_bytes=1, status="running",
                        created_at=NOW, started_at=NOW))  # fmt: skip
        db.commit()
        run_id = db.scalar(select(AuditRun.id).where(AuditRun.filename == "big.csv"))
    page = staff.get(f"/staff/audits/{run_id}").text
    assert 'data-status="running"' in page and "data-stage" not in page  # nothing yet
    _progress_writer(folder)("read", 1_234_567)
    assert _json.loads((folder / PROGRESS_FILE).read_text())["rows"] == 1_234_567
    page = staff.get(f"/staff/audits/{run_id}").text
    assert 'data-stage="read"' in page and "第 1 步" in page and "1,234,567" in page
    _progress_writer(folder)("report", 1_300_000)
    page = staff.get(f"/staff/audits/{run_id}").text
    assert 'data-stage="report"' in page and "第 3 步" in page and "1,300,000" in page
    (folder / PROGRESS_FILE).write_text("{broken", encoding="utf-8")
    assert 'data-status="running"' in staff.get(f"/staff/audits/{run_id}").text


def test_audit_pages_render_in_english(app: FastAPI) -> None:
    staff = login(app, "wangfang")
    staff.get("/staff/audits?lang=en")
    r = submit(staff)
    page = wait_done(staff, str(r.url).removeprefix("http://testserver"))
    assert '<html lang="en">' in page and "Agent scorecards" in page
    assert "Full report (English)" in page
    assert "Communication log audits" in staff.get("/staff/audits").text
