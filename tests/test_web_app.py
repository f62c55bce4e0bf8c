"""Web app behaviour in-process: checker pages and JSON API, language switch, catalog,
borrower portal flows, staff inbox, demo seed, settings and the `serve` CLI."""

from __future__ import annotations

import datetime as dt
import re
import stat
import warnings
from pathlib import Path
from typing import Any

import pytest

with warnings.catch_warnings():
    # starlette ≥ 1.x prefers the `httpx2` package and warns when it falls back to httpx
    warnings.simplefilter("ignore", UserWarning)  # StarletteDeprecationWarning
    from fastapi.testclient import TestClient

from fastapi import FastAPI
from typer.testing import CliRunner

from collectguard.analyze.result import Violation
from collectguard.web import WebSettings, create_app
from collectguard.web.cli import web_app
from collectguard.web.demo import seed_demo
from collectguard.web.i18n import CATALOG
from collectguard.web.verdict import Segment, highlight, yuan
from webclient import PASSWORDS, csrf, login

NOW = dt.datetime(2026, 11, 29, 2, 0, tzinfo=dt.UTC)
SCAM = "【中国银联】您的征信存在异常，需注销校园贷账户，请点击 http://yl-zx.cc 处理，否则影响征信"
THREAT = "【招联金融】您的借款已逾期，再不还款我们将上门并通知你的家人和单位"
TEMPLATES = Path(__file__).parents[1] / "src" / "collectguard" / "web" / "templates"


@pytest.fixture
def app(tmp_path: Path) -> FastAPI:
    settings = WebSettings(data_dir=tmp_path, secret_key="test-secret", clock=lambda: NOW)
    app = create_app(settings)
    seed_demo(app.state.web.sessions, now=NOW, passwords=PASSWORDS)
    return app


# ---------------------------------------------------------------- checker


def test_scam_message_gets_a_scam_verdict_page(app: FastAPI) -> None:
    client = TestClient(app)
    r = client.post("/check", data={"csrf_token": csrf(client), "text": SCAM})
    assert r.status_code == 200
    assert 'data-authenticity="scam"' in r.text and "疑似诈骗" in r.text
    assert "中国银联" in r.text and "下一步怎么做" in r.text


def test_verdict_highlights_violations_and_cites_the_clause(app: FastAPI) -> None:
    client = TestClient(app)
    data = {"csrf_token": csrf(client), "text": THREAT, "sender": "10690000"}
    r = client.post("/check", data={**data, "received_at": "2026-01-14T23:15"})
    page = r.text
    assert '<mark class="hit"' in page and ">上门<sup" in page
    assert "夜间催收" in page and "刑法" in page  # the clause is cited
    assert "招联消费金融股份有限公司" in page
    assert 'href="tel:110"' in page  # official channel, high confidence
    assert "10690000" not in re.sub(r'value="10690000"', "", page.split("下一步")[1])


def test_checker_form_errors_are_clear(app: FastAPI) -> None:
    client = TestClient(app)
    token = csrf(client)
    r = client.post("/check", data={"csrf_token": token, "text": "  "})
    assert r.status_code == 422 and "请粘贴短信内容" in r.text
    r = client.post("/check", data={"csrf_token": token, "text": "逾期", "received_at": "昨天"})
    assert r.status_code == 422 and "收到时间格式不对" in r.text


def test_json_api_follows_the_contract(app: FastAPI) -> None:
    client = TestClient(app)
    r = client.post("/api/v1/check", json={"text": THREAT, "sender": "10690000"})
    assert r.status_code == 200
    body = r.json()
    assert body["platform"]["id"] == "zhaolian_cfc"
    for v in body["violations"]:
        if v["span"]:
            assert THREAT[v["span"][0] : v["span"][1]] == v["evidence"]
    assert client.post("/api/v1/check", json={"text": ""}).status_code == 422
    assert client.post("/api/v1/check", json={"text": "x", "bogus": 1}).status_code == 422
    r = client.post("/api/v1/check", json={"text": "逾期", "received_at": "yesterday"})
    assert r.status_code == 422 and "detail" in r.json()


def test_openapi_documents_the_api(app: FastAPI) -> None:
    spec = TestClient(app).get("/api/openapi.json").json()
    assert "/api/v1/check" in spec["paths"] and "/api/v1/plans" in spec["paths"]
    assert not any(p.startswith(("/portal", "/staff", "/login")) for p in spec["paths"])
    assert TestClient(app).get("/api/docs").status_code == 404  # Swagger UI would need a CDN


# ---------------------------------------------------------------- language, catalog, assets


def test_english_switch_sets_a_cookie(app: FastAPI) -> None:
    client = TestClient(app)
    assert '<html lang="zh-CN">' in client.get("/").text
    r = client.get("/?lang=en")
    assert '<html lang="en">' in r.text and "Is this collection message real?" in r.text
    assert '<html lang="en">' in client.get("/login").text  # remembered by cookie
    assert '<html lang="zh-CN">' in client.get("/?lang=zh-CN").text
    assert '<html lang="zh-CN">' in TestClient(app).get("/?lang=xx").text


def test_catalog_is_complete_for_both_languages() -> None:
    for key, (zh, en) in CATALOG.items():
        assert zh.strip() and en.strip(), key
    used = set()
    for path in TEMPLATES.glob("*.j2"):
        used |= set(re.findall(r"\bt\('([a-z_.0-9]+)'\s*[,)]", path.read_text(encoding="utf-8")))
    assert used and not used - set(CATALOG), used - set(CATALOG)


def test_static_assets_and_security_headers(app: FastAPI) -> None:
    client = TestClient(app)
    assert client.get("/static/app.css").status_code == 200
    assert client.get("/static/app.js").status_code == 200
    r = client.get("/")
    assert r.headers["x-frame-options"] == "DENY"
    assert "cdn" not in r.text.lower() and "http://" not in r.text and "https://" not in r.text


def test_every_page_has_labelled_fields_and_a_skip_link(app: FastAPI) -> None:
    zhang = login(app, "zhangwei")
    staff = login(app, "wangfang")
    pages = [
        zhang.get(p).text
        for p in ("/", "/portal", "/portal/bills/1", "/portal/bills/1/plans",
                  "/portal/preferences", "/portal/complaints")
    ] + [staff.get("/staff").text, TestClient(app).get("/login").text]  # fmt: skip
    pages += [staff.get("/staff/audits").text, zhang.get("/locker").text, zhang.get("/backup").text]
    verdict = zhang.post("/check", data={"csrf_token": csrf(zhang), "text": THREAT}).text
    assert 'id="letter-kind"' in verdict
    zhang.post("/locker/messages", data={"csrf_token": csrf(zhang), "text": THREAT})
    pages += [verdict, zhang.get("/locker").text, zhang.get("/locker/verify").text]
    for page in pages:
        assert 'class="skip" href="#main"' in page
        for field_id in re.findall(r'<(?:input|textarea|select)\b[^>]*?\bid="([^"]+)"', page):
            assert f'for="{field_id}"' in page, field_id


# ---------------------------------------------------------------- portal


def test_borrower_requests_a_plan_and_staff_sees_it(app: FastAPI) -> None:
    zhang = login(app, "zhangwei")
    page = zhang.get("/portal").text
    assert "张伟" in page and "安心借 12 期" in page and "还款进度" in page
    plans = zhang.get("/portal/bills/1/plans?income=8000&expenses=5000").text
    terms = re.findall(r'name="term_months" value="(\d+)"', plans)
    assert len(terms) >= 3
    token = csrf(zhang, "/portal/bills/1/plans")
    data = {"csrf_token": token, "term_months": terms[-1], "income": "8000", "expenses": "5000"}
    r = zhang.post("/portal/bills/1/plans", data=data)
    assert r.status_code == 200 and "已提交还款方案申请" in r.text and "审核中" in r.text
    # A term the planner did not offer is refused (figures are never taken from the form).
    r = zhang.post("/portal/bills/1/plans", data={**data, "term_months": "7"})
    assert r.status_code == 400
    assert "待审核的还款方案申请（1）" in login(app, "wangfang").get("/staff").text


def test_contact_preferences_are_saved(app: FastAPI) -> None:
    zhang = login(app, "zhangwei")
    token = csrf(zhang, "/portal/preferences")
    data = {"csrf_token": token, "sms": "true", "hour_start": "10", "hour_end": "18"}
    r = zhang.post("/portal/preferences", data={**data, "opt_out": "true"})
    assert r.status_code == 200 and "已保存联系偏好" in r.text
    assert 'name="opt_out" value="true" checked' in r.text
    assert 'name="phone" value="true" checked' not in r.text
    assert zhang.post("/portal/preferences", data={**data, "hour_start": "7"}).status_code == 400
    assert zhang.post("/portal/preferences", data={**data, "hour_end": "23"}).status_code == 400


def test_complaint_reaches_staff_and_the_reply_comes_back(app: FastAPI) -> None:
    zhang = login(app, "zhangwei")
    data = {"csrf_token": csrf(zhang, "/portal/complaints"), "category": "billing"}
    r = zhang.post(
        "/portal/complaints", data={**data, "subject": "费用不清楚", "body": "罚息怎么算"}
    )
    assert "投诉已提交" in r.text and "费用不清楚" in r.text
    staff = login(app, "wangfang")
    inbox = staff.get("/staff?status=open").text
    assert "费用不清楚" in inbox and "晚上十点多" in inbox
    cid = max(int(x) for x in re.findall(r'action="/staff/complaints/(\d+)"', inbox))
    token = csrf(staff, "/staff")
    r = staff.post(
        f"/staff/complaints/{cid}",
        data={"csrf_token": token, "status": "resolved", "staff_note": "已核对并减免罚息"},
    )
    assert "已更新投诉状态" in r.text
    assert "费用不清楚" not in staff.get("/staff?status=open").text
    detail = zhang.get(f"/portal/complaints/{cid}").text
    assert "已解决" in detail and "已核对并减免罚息" in detail
    bad = {"csrf_token": token, "status": "deleted"}
    assert staff.post(f"/staff/complaints/{cid}", data=bad).status_code == 400


def test_lender_message_shows_its_compliance_check(app: FastAPI) -> None:
    lina = login(app, "lina")
    mid = re.findall(r'href="/portal/messages/(\d+)"', lina.get("/portal").text)[0]
    page = lina.get(f"/portal/messages/{mid}").text
    assert "夜间催收" in page and '<mark class="hit"' in page


def test_wrong_password_and_sign_out(app: FastAPI) -> None:
    client = TestClient(app)
    data = {"csrf_token": csrf(client, "/login"), "username": "lina", "password": "nope"}
    r = client.post("/login", data=data)
    assert r.status_code == 401 and "用户名或密码不正确" in r.text
    r = client.post("/login", data={**data, "username": "nobody"})
    assert r.status_code == 401
    lina = login(app, "lina")
    lina.post("/logout", data={"csrf_token": csrf(lina, "/portal")})
    assert lina.get("/portal", follow_redirects=False).status_code == 303


# ---------------------------------------------------------------- pieces


def _v(span: tuple[int, int] | None) -> Violation:
    return Violation(
        code="threat", rule_id="r", title="t", span=span, evidence=None, citation="c",
        binding="law", severity="crime",
    )  # fmt: skip


def test_highlight_segments_overlaps_and_bad_spans() -> None:
    text = "abcdefgh"
    segs = highlight(text, [_v((1, 4)), _v((3, 6)), _v(None), _v((7, 99)), _v((5, 5))])
    assert "".join(s.text for s in segs) == text
    assert segs == [
        Segment("a", ()),
        Segment("bc", (1,)),
        Segment("d", (1, 2)),
        Segment("ef", (2,)),
        Segment("g", ()),
        Segment("h", (4,)),
    ]
    assert highlight("", []) == []


def test_yuan() -> None:
    assert yuan(123456) == "1,234.56" and yuan(5) == "0.05" and yuan(-100) == "-1.00"


def test_demo_seed_is_idempotent_and_resets_passwords(app: FastAPI) -> None:
    again = seed_demo(app.state.web.sessions, now=NOW)
    assert set(again) == set(PASSWORDS) and again["lina"] != PASSWORDS["lina"]
    client = TestClient(app)
    data = {"csrf_token": csrf(client, "/login"), "username": "lina"}
    assert client.post("/login", data={**data, "password": again["lina"]}).status_code == 200
    with app.state.web.sessions() as db:
        from sqlalchemy import func, select

        from collectguard.web.models import Bill

        assert db.scalar(select(func.count()).select_from(Bill)) == 3


def test_session_secret_is_generated_once_owner_only(tmp_path: Path) -> None:
    settings = WebSettings(data_dir=tmp_path / "d")
    key = settings.session_secret()
    path = tmp_path / "d" / "web-secret"
    assert len(key) > 40 and settings.session_secret() == key
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert settings.database_url() == f"sqlite:///{tmp_path / 'd' / 'web.sqlite3'}"


def test_serve_cli_help() -> None:
    result = CliRunner().invoke(web_app, ["serve", "--help"])
    assert result.exit_code == 0
    for option in ("--host", "--port", "--demo", "--db"):
        assert option in result.output


def test_contact_preferences_feed_the_gateway_consent_state(tmp_path: Path) -> None:
    from collectguard.gateway import ContactProfile, Gateway, SqlStateStore
    from collectguard.gateway.store import sqlite_engine

    gateway = Gateway(SqlStateStore(sqlite_engine(f"sqlite:///{tmp_path / 'gw.db'}")), None)
    settings = WebSettings(
        data_dir=tmp_path,
        secret_key="test-secret",
        clock=lambda: NOW,
        on_contact_preferences=gateway.set_preferences,
    )
    app = create_app(settings)
    seed_demo(app.state.web.sessions, now=NOW, passwords=PASSWORDS)
    # what the lender holds on file survives the borrower's own choices
    on_file = dt.datetime(2026, 3, 1, 10, tzinfo=dt.UTC)
    gateway.set_profile(
        "zhangwei",
        ContactProfile(night_consent=True, call_consent_at=on_file, attorney_represented=True),
    )
    zhang = login(app, "zhangwei")
    data = {"csrf_token": csrf(zhang, "/portal/preferences"), "sms": "true", "email": "true"}
    zhang.post("/portal/preferences", data={**data, "hour_start": "10", "hour_end": "18"})
    profile = gateway.get_profile("zhangwei")
    assert profile.preferred_hours is not None
    assert (profile.preferred_hours.start, profile.preferred_hours.end) == ("10:00", "18:00")
    assert set(profile.opted_out_channels) == {"call", "ai_voice", "app_push"}
    assert profile.cease_communication is False
    assert profile.night_consent and profile.attorney_represented
    assert profile.call_consent_at == on_file
    zhang.post("/portal/preferences", data={**data, "opt_out": "true"})
    assert gateway.get_profile("zhangwei").cease_communication is True


def test_staff_decides_a_plan_request(app: FastAPI) -> None:
    zhang = login(app, "zhangwei")
    plans = zhang.get("/portal/bills/2/plans").text
    term = re.findall(r'name="term_months" value="(\d+)"', plans)[0]
    zhang.post(
        "/portal/bills/2/plans",
        data={"csrf_token": csrf(zhang, "/portal"), "term_months": term},
    )
    staff = login(app, "wangfang")
    inbox = staff.get("/staff").text
    rid = re.findall(r'action="/staff/plan-requests/(\d+)"', inbox)[0]
    token = csrf(staff, "/staff")
    r = staff.post(
        f"/staff/plan-requests/{rid}", data={"csrf_token": token, "decision": "approved"}
    )
    assert "已处理还款方案申请" in r.text and "待审核的还款方案申请（0）" in r.text
    assert "已批准" in zhang.get("/portal").text
    again = {"csrf_token": token, "decision": "declined"}
    assert staff.post(f"/staff/plan-requests/{rid}", data=again).status_code == 400
    assert zhang.post(f"/staff/plan-requests/{rid}", data=again).status_code == 403


def test_language_switch_keeps_the_page_and_its_query(app: FastAPI) -> None:
    zhang = login(app, "zhangwei")
    page = zhang.get("/portal/bills/1/plans?income=8000&expenses=5000").text
    assert 'href="/portal/bills/1/plans?income=8000&amp;expenses=5000&amp;lang=en"' in page
    # The verdict page's switch lands on GET /check, which goes back to the form.
    r = TestClient(app).get("/check?lang=en")
    assert r.status_code == 200 and '<html lang="en">' in r.text


def test_every_setting_is_documented_and_the_public_api_is_pinned() -> None:
    import dataclasses

    import collectguard.web as web

    doc = (Path(__file__).parents[1] / "docs" / "web.md").read_text(encoding="utf-8")
    for f in dataclasses.fields(WebSettings):
        assert f"`{f.name}`" in doc, f"WebSettings.{f.name} is missing from docs/web.md"
    assert sorted(web.__all__) == ["WebSettings", "create_app"]


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_us_message_and_every_page_render_in_both_languages(app: FastAPI, lang: str) -> None:
    client = TestClient(app)
    client.get(f"/?lang={lang}")
    us = (
        "This is a debt collector. If you don't pay today we will call your employer "
        "and have you arrested."
    )
    r = client.post(
        "/check", data={"csrf_token": csrf(client), "text": us, "sender": "+12025550100"}
    )
    assert r.status_code == 200 and f'<html lang="{lang}">' in r.text
    zhang = login(app, "zhangwei")
    zhang.get(f"/portal?lang={lang}")
    for path in (
        "/portal",
        "/portal/bills/1",
        "/portal/bills/1/plans",
        "/portal/preferences",
        "/portal/complaints",
        "/portal/messages/1",
        "/backup",
        "/locker",
        "/no-such-page",
    ):
        r = zhang.get(path)
        assert r.status_code in (200, 404) and f'<html lang="{lang}">' in r.text, path


def test_staff_desk_lists_gateway_decisions_and_chain_state(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sqlalchemy import text

    from collectguard.gateway import DecisionLog, DecisionRequest, Gateway, SqlStateStore
    from collectguard.gateway.store import sqlite_engine
    from collectguard.ledger import SqlLedger

    engine = sqlite_engine(f"sqlite:///{tmp_path / 'gw.db'}")
    log = DecisionLog(engine)
    gateway = Gateway(SqlStateStore(engine), log, clock=lambda: NOW)
    base = {
        "debt_id": "loan-1",
        "debtor_id": "zhangwei",
        "recipient": {"role": "debtor", "phone": "13812345678", "timezone": "Asia/Shanghai"},
        "channel": "sms",
        "agent_id": "agent-1",
        "jurisdiction": "cn",
    }
    gateway.decide(
        DecisionRequest(
            **base, idempotency_key="k1", text="【安信消费金融】您的账单已到期，请还款。"
        )
    )
    gateway.decide(
        DecisionRequest(
            **base,
            idempotency_key="k2",
            text="【安信消费金融】再不还款就上门，通知你的家人和单位！",
        )
    )
    settings = WebSettings(data_dir=tmp_path, secret_key="t", clock=lambda: NOW, decision_log=log)
    app = create_app(settings)
    seed_demo(app.state.web.sessions, now=NOW, passwords=PASSWORDS)
    reads: list[int] = []
    real_rows = SqlLedger.rows

    def counted(self: SqlLedger, **kw: Any) -> Any:
        reads.append(kw.get("after_id", 0))
        return real_rows(self, **kw)

    monkeypatch.setattr(SqlLedger, "rows", counted)
    wangfang = login(app, "wangfang")
    page = wangfang.get("/staff").text
    assert 'data-chain-ok="true"' in page and "决策日志的哈希链完整" in page
    assert "拦截 1" in page and "放行 1" in page
    assert page.count('class="gw-') == 2 and "zhangwei" in page
    assert "13812345678" not in page  # the log keeps phones masked
    assert reads == [0]  # counted and verified in one read of the log
    with engine.begin() as c:  # an edit of the last entry shows on the next view
        c.execute(text("UPDATE ledger_entries SET recorded_at = '2020-01-01T00:00:00+00:00'"))
    page = wangfang.get("/staff").text
    assert 'data-chain-ok="false"' in page and "拦截 1" in page
    assert reads == [0, 1]  # that view read from the last entry on (tests/test_web_decision_log.py)


def test_serve_wires_a_gateway_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import uvicorn

    seen: dict[str, FastAPI] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: seen.setdefault("app", app))
    result = CliRunner().invoke(
        web_app,
        ["--data-dir", str(tmp_path), "--demo", "--gateway-db", str(tmp_path / "gw.db")],
    )
    assert result.exit_code == 0, result.output
    assert "zhangwei" in result.output and "wangfang" in result.output
    settings = seen["app"].state.web.settings
    assert settings.decision_log is not None and settings.on_contact_preferences is not None
