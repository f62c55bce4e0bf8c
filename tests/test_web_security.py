"""Web app security: borrower isolation on every route, inert pasted HTML, CSRF on every form,
body-size limit, login rate limit, session revocation, and no stack traces to users."""

from __future__ import annotations

import datetime as dt
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
from collectguard.web.backup import router as backup_router
from collectguard.web.consumer import page_router
from collectguard.web.demo import seed_demo
from collectguard.web.locker import router as locker_router
from collectguard.web.models import Bill, Complaint, LenderMessage, User
from collectguard.web.portal import router as portal_router
from webclient import PASSWORDS, csrf, login

NOW = dt.datetime(2026, 11, 29, 2, 0, tzinfo=dt.UTC)


@pytest.fixture
def app(tmp_path: Path) -> FastAPI:
    settings = WebSettings(data_dir=tmp_path, secret_key="test-secret", clock=lambda: NOW)
    app = create_app(settings)
    seed_demo(app.state.web.sessions, now=NOW, passwords=PASSWORDS)
    return app


def ids_of(app: FastAPI, username: str) -> dict[str, int]:
    with app.state.web.sessions() as db:
        user = db.scalar(select(User).where(User.username == username))
        assert user is not None
        bill = db.scalar(select(Bill.id).where(Bill.user_id == user.id))
        msg = db.scalar(select(LenderMessage.id).where(LenderMessage.user_id == user.id))
        comp = db.scalar(select(Complaint.id).where(Complaint.user_id == user.id))
        assert bill and msg
        any_complaint = db.scalar(select(Complaint.id).limit(1))
        return {"bill_id": bill, "message_id": msg, "complaint_id": comp or any_complaint or 1}


def page_routes() -> list[APIRoute]:
    """Every HTML page route (the routers' own lists: the app's are nested in FastAPI ≥ 0.16x)."""
    routes = [
        *page_router.routes,
        *portal_router.routes,
        *backup_router.routes,
        *locker_router.routes,
        *audits_router.routes,
    ]
    return [r for r in routes if isinstance(r, APIRoute)]


def borrower_routes(app: FastAPI) -> list[APIRoute]:
    return [r for r in page_routes() if r.path.startswith("/portal") and "{" in r.path]


def test_borrower_never_reads_another_borrowers_data(app: FastAPI) -> None:
    lina_ids = ids_of(app, "lina")
    zhang = login(app, "zhangwei")
    token = csrf(zhang, "/portal")
    routes = borrower_routes(app)
    assert {r.path for r in routes} >= {
        "/portal/bills/{bill_id}",
        "/portal/bills/{bill_id}/plans",
        "/portal/messages/{message_id}",
        "/portal/complaints/{complaint_id}",
    }
    for route in routes:
        path = route.path.format(**lina_ids)
        for method in route.methods:
            if method == "GET":
                r = zhang.get(path)
            else:
                r = zhang.post(path, data={"csrf_token": token, "term_months": "3"})
            assert r.status_code == 404, (method, path, r.status_code)
            assert "李娜" not in r.text and "26,000.00" not in r.text
    # Lina's own view works, so the 404s above are about ownership, not broken routes.
    lina = login(app, "lina")
    assert lina.get(f"/portal/bills/{lina_ids['bill_id']}").status_code == 200
    # The plan request did not land on Lina's bill.
    assert "审核中" not in lina.get("/portal").text


def test_lists_show_only_own_data(app: FastAPI) -> None:
    zhang = login(app, "zhangwei")
    for path in ("/portal", "/portal/complaints"):
        page = zhang.get(path).text
        assert "李娜" not in page and "晚上十点多" not in page and "24 期" not in page


def test_pages_need_sign_in_and_the_right_role(app: FastAPI) -> None:
    anonymous = TestClient(app)
    for path in ("/portal", "/portal/bills/1", "/portal/preferences", "/staff"):
        r = anonymous.get(path, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/login")
    assert login(app, "zhangwei").get("/staff").status_code == 403
    assert login(app, "wangfang").get("/portal").status_code == 403


def test_pasted_html_is_inert(app: FastAPI) -> None:
    client = TestClient(app)
    hostile = (
        "【招联金融】您已逾期，再不还款将上门"
        '<script>alert("x")</script><img src=x onerror=alert(1)>'
    )
    r = client.post(
        "/check",
        data={"csrf_token": csrf(client), "text": hostile, "sender": "<b>10690000</b>"},
    )
    assert r.status_code == 200
    assert "<script>alert" not in r.text and "<img src=x" not in r.text
    assert "&lt;script&gt;alert" in r.text and "&lt;img src=x onerror=alert(1)&gt;" in r.text
    assert '<mark class="hit"' in r.text  # highlighting still works around escaped text
    assert "script-src 'self'" in r.headers["content-security-policy"]


def test_complaint_html_is_inert_in_staff_inbox(app: FastAPI) -> None:
    zhang = login(app, "zhangwei")
    zhang.post(
        "/portal/complaints",
        data={"csrf_token": csrf(zhang, "/portal/complaints"), "category": "other",
              "subject": "<script>x()</script>", "body": "<iframe src=//evil>"},
    )  # fmt: skip
    page = login(app, "wangfang").get("/staff").text
    assert "<script>x()" not in page and "<iframe" not in page
    assert "&lt;script&gt;x()&lt;/script&gt;" in page


def test_every_form_post_requires_csrf(app: FastAPI) -> None:
    posts = [r for r in page_routes() if "POST" in r.methods]
    assert len(posts) >= 16
    assert {"/check/letter", "/locker/delete", "/staff/audits"} <= {r.path for r in posts}
    ids = ids_of(app, "zhangwei")
    for route in posts:
        client = login(app, "wangfang" if route.path.startswith("/staff") else "zhangwei")
        path = route.path.format(**ids, request_id=1)
        for data in ({}, {"csrf_token": "forged"}):
            r = client.post(path, data=data, follow_redirects=False)
            assert r.status_code == 403, (path, data, r.status_code)


def test_body_size_limit(app: FastAPI) -> None:
    client = TestClient(app)
    big = "逾" * 200_000  # 600 kB of UTF-8, over the 256 KiB default
    assert client.post("/check", data={"csrf_token": csrf(client), "text": big}).status_code == 413
    r = client.post("/api/v1/check", json={"text": big})
    assert r.status_code == 413
    # Under the byte limit but over the character limit: a clear message, not a crash.
    r = client.post("/check", data={"csrf_token": csrf(client), "text": "逾" * 25_000})
    assert r.status_code == 422 and "20,000" in r.text
    assert client.post("/api/v1/check", json={"text": "x" * 20_001}).status_code == 422


def test_login_rate_limit(app: FastAPI) -> None:
    client = TestClient(app)
    token = csrf(client, "/login")
    wrong = {"csrf_token": token, "username": "lina", "password": "no"}
    codes = [client.post("/login", data=wrong).status_code for _ in range(6)]
    assert codes[:5] == [401] * 5 and codes[5] == 429
    # Even the right password is refused while the limit holds.
    r = client.post(
        "/login", data={"csrf_token": token, "username": "lina", "password": PASSWORDS["lina"]}
    )
    assert r.status_code == 429


def test_sign_out_revokes_a_copied_cookie(app: FastAPI) -> None:
    zhang = login(app, "zhangwei")
    stolen = dict(zhang.cookies)
    zhang.post("/logout", data={"csrf_token": csrf(zhang, "/portal")})
    thief = TestClient(app, cookies=stolen)
    assert thief.get("/portal", follow_redirects=False).status_code == 303


def test_open_redirect_refused(app: FastAPI) -> None:
    client = TestClient(app)
    r = client.post(
        "/login",
        data={"csrf_token": csrf(client, "/login"), "username": "lina",
              "password": PASSWORDS["lina"], "next": "//evil.example/"},
        follow_redirects=False,
    )  # fmt: skip
    assert r.headers["location"] == "/portal"


def test_no_stack_traces_to_users(app: FastAPI) -> None:
    def boom() -> None:
        raise RuntimeError("secret internals /etc/passwd")

    app.add_api_route("/boom", boom)
    app.add_api_route("/api/v1/boom", boom)
    client = TestClient(app, raise_server_exceptions=False)
    r = client.get("/boom")
    assert r.status_code == 500 and "服务器出错了" in r.text
    assert "Traceback" not in r.text and "secret internals" not in r.text
    r = client.get("/api/v1/boom")
    assert r.status_code == 500 and r.json() == {"detail": "internal error"}
    r = client.get("/portal/bills/not-a-number", follow_redirects=False)
    assert r.status_code in (303, 400)
    assert "Traceback" not in client.get("/no/such/page").text


def test_session_cookie_flags(app: FastAPI) -> None:
    r = TestClient(app).get("/")
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie


def test_login_limiter_forgets_old_keys() -> None:
    from collectguard.web.security import LoginLimiter

    now = [NOW]
    limiter = LoginLimiter(
        max_failures=2, max_failures_per_client=100, window_s=60, clock=lambda: now[0]
    )
    limiter.MAX_KEYS = 10
    for i in range(30):
        limiter.failed("1.2.3.4", f"user{i}")
    assert limiter.blocked("1.2.3.4", "user29") is False
    limiter.failed("1.2.3.4", "user29")
    assert limiter.blocked("1.2.3.4", "user29") is True
    now[0] += dt.timedelta(seconds=61)
    limiter.failed("5.6.7.8", "x")
    assert len(limiter._fails) <= 12 and not limiter.blocked("1.2.3.4", "user29")
