"""HTTP API (FastAPI TestClient): decisions, 422 field errors, outcomes, profiles, audit
export with a verifiable chain head, OpenAPI."""

from __future__ import annotations

import datetime as dt
import json
import warnings
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

with warnings.catch_warnings():
    # starlette ≥ 1.x prefers the `httpx2` package and warns when it falls back to httpx
    warnings.simplefilter("ignore", UserWarning)  # StarletteDeprecationWarning
    from fastapi.testclient import TestClient

from collectguard.gateway import ContentChecker, DecisionLog, Gateway, SqlStateStore
from collectguard.gateway.http import GatewayApp, create_app
from collectguard.gateway.store import sqlite_engine
from collectguard.ledger import verify_chain
from collectguard.ledger.chain import LedgerEntry

SH = ZoneInfo("Asia/Shanghai")
NOW = dt.datetime(2026, 11, 30, 10, 0, tzinfo=SH)
CONTENT = ContentChecker()


@pytest.fixture
def client(tmp_path: Path) -> TestClient:
    engine = sqlite_engine(f"sqlite:///{tmp_path / 'gw.db'}")
    gw = Gateway(SqlStateStore(engine), DecisionLog(engine), content=CONTENT, clock=lambda: NOW)
    return TestClient(create_app(gw))


def body(**kw: Any) -> dict[str, Any]:
    b: dict[str, Any] = {
        "debt_id": "loan-1",
        "debtor_id": "cust-1",
        "recipient": {"role": "debtor", "phone": "13812345678", "timezone": "Asia/Shanghai"},
        "channel": "sms",
        "text": "【招联金融】您的借款已到期，请联系13912345678或通过招联金融App还款。",
        "agent_id": "agent-1",
        "idempotency_key": "k1",
        "jurisdiction": "cn",
    }
    b.update(kw)
    return b


def test_decision_allow_and_replay(client: TestClient) -> None:
    r = client.post("/v1/decisions", json=body())
    assert r.status_code == 200, r.text
    d = r.json()
    assert d["decision"] == "allow" and d["attempt_id"] and d["rule_pack"] == "cn@2026.11.4"
    r2 = client.post("/v1/decisions", json=body())
    assert r2.json()["decision_id"] == d["decision_id"] and r2.json()["replayed"] is True


def test_deny_carries_reasons(client: TestClient) -> None:
    r = client.post(
        "/v1/decisions", json=body(idempotency_key="k2", text="【XX金融】再不还款就爆你通讯录")
    )
    d = r.json()
    assert d["decision"] == "deny"
    reason = d["reasons"][0]
    assert set(reason) >= {
        "rule_id",
        "code",
        "citation",
        "binding",
        "message_zh",
        "message_en",
        "fix",
    }


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"channel": "fax"}, "channel"),
        ({"recipient": {"role": "neighbour", "timezone": "Asia/Shanghai"}}, "role"),
        ({"planned_at": "2026-11-30T10:00:00"}, "planned_at"),
        ({"planned_at": "yesterday"}, "planned_at"),
        ({"jurisdiction": "uk"}, "jurisdiction"),
        ({"idempotency_key": ""}, "idempotency_key"),
        ({"debt_id": None}, "debt_id"),
        ({"unexpected": 1}, "unexpected"),
    ],
)
def test_malformed_request_gets_422_with_field_errors(
    client: TestClient, patch: dict[str, Any], field: str
) -> None:
    r = client.post("/v1/decisions", json=body(**patch))
    assert r.status_code == 422
    locs = [e["loc"] for e in r.json()["detail"]]
    assert any(field in loc for loc in locs), locs


def test_missing_body_and_bad_json(client: TestClient) -> None:
    assert client.post("/v1/decisions").status_code == 422
    r = client.post(
        "/v1/decisions", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert r.status_code == 422


def test_outcome_endpoint(client: TestClient) -> None:
    d = client.post("/v1/decisions", json=body(channel="call", text=None)).json()
    r = client.post(f"/v1/attempts/{d['attempt_id']}/outcome", json={"outcome": "conversation"})
    assert r.status_code == 200 and r.json()["outcome"] == "conversation"
    assert (
        client.post(f"/v1/attempts/{'a' * 32}/outcome", json={"outcome": "answered"}).status_code
        == 404
    )
    assert (
        client.post(
            f"/v1/attempts/{d['attempt_id']}/outcome", json={"outcome": "maybe"}
        ).status_code
        == 422
    )


def test_profile_roundtrip_changes_decisions(client: TestClient) -> None:
    r = client.put("/v1/debtors/cust-1/profile", json={"opted_out_channels": ["sms"]})
    assert r.status_code == 200
    assert client.get("/v1/debtors/cust-1/profile").json()["opted_out_channels"] == ["sms"]
    d = client.post("/v1/decisions", json=body(idempotency_key="k9")).json()
    assert d["decision"] == "deny" and d["reasons"][0]["code"] == "opted_out"
    bad = client.put(
        "/v1/debtors/cust-1/profile", json={"preferred_hours": {"start": "20:00", "end": "09:00"}}
    )
    assert bad.status_code == 422


def test_audit_export_masks_phones_and_verifies(client: TestClient) -> None:
    client.post("/v1/decisions", json=body())
    client.post(
        "/v1/decisions",
        json=body(
            idempotency_key="k3",
            recipient={"role": "debtor", "phone": "13812345678", "timezone": None},
        ),
    )
    client.post("/v1/decisions", json=body())  # replay: not logged twice
    text = client.get("/v1/audit/export").text
    assert "13812345678" not in text and "13912345678" not in text
    assert "138******78" in text
    lines = [json.loads(x) for x in text.splitlines()]
    head = lines[-1]
    entries = [LedgerEntry(**e) for e in lines[:-1]]
    assert [e.kind for e in entries] == ["decision", "decision"]
    report = verify_chain(entries, expected_head=head["chain_head"])
    assert report.ok and head["ok"] and head["count"] == 2
    decisions = [e.payload["decision"]["decision"] for e in entries if e.payload]
    assert decisions == ["allow", "deny"]
    # tampering with an exported entry is detected
    assert entries[0].payload is not None
    entries[0].payload["decision"]["decision"] = "deny"
    assert not verify_chain(entries, expected_head=head["chain_head"]).ok


def test_openapi_documents_routes(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert "/v1/decisions" in spec["paths"]
    assert "/v1/attempts/{attempt_id}/outcome" in spec["paths"]
    assert "DecisionRequest" in spec["components"]["schemas"]
    assert client.get("/healthz").json() == {"status": "ok"}


def test_app_from_env_and_store_down(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from collectguard.gateway.http import app_from_env

    tpl = tmp_path / "tpl.yaml"
    tpl.write_text(
        "due: 【招联金融】{name}您好，您的借款已到期，请通过招联金融App还款。\n", "utf-8"
    )
    monkeypatch.setenv("COLLECTGUARD_GATEWAY_DB", str(tmp_path / "env.db"))
    monkeypatch.setenv("COLLECTGUARD_GATEWAY_DRY_RUN", "1")
    monkeypatch.setenv("COLLECTGUARD_GATEWAY_TEMPLATES", str(tpl))
    c = TestClient(app_from_env())
    b = body(
        text=None,
        template_id="due",
        variables={"name": "张三"},
        planned_at="2030-01-02T23:30:00+08:00",
    )
    d = c.post("/v1/decisions", json=b).json()
    assert d["decision"] == "allow" and d["dry_run"] is True and d["would_have"] == "defer"
    # the store going away: health says so, decisions fail closed
    gw = c.app.state.gateway  # type: ignore[attr-defined]
    gw.store.engine.dispose()
    (tmp_path / "env.db").unlink()
    (tmp_path / "env.db").mkdir()  # a directory where the database was: unusable
    assert c.get("/healthz").status_code == 503
    d = c.post("/v1/decisions", json=body(idempotency_key="k-down")).json()
    assert d["decision"] == "deny" and d["reasons"][0]["code"] == "state_unavailable"


def test_openapi_documents_decision_response(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    op = spec["paths"]["/v1/decisions"]["post"]
    schema = op["responses"]["200"]["content"]["application/json"]["schema"]
    assert schema["$ref"].endswith("/Decision")
    assert "422" in op["responses"]


# ---------------------------------------------------------------------- the direct path


def _without_ids(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if k not in ("decision_id", "attempt_id")}


@pytest.mark.parametrize(
    "patch",
    [
        {},
        {"text": "【XX金融】再不还款就爆你通讯录"},
        {"channel": "call", "text": None},
        {"planned_at": "2026-11-30T23:30:00+08:00"},
        {"recipient": {"role": "debtor", "timezone": "Mars/Base"}},
    ],
)
def test_direct_path_answers_as_fastapi_route_does(
    client: TestClient, patch: dict[str, Any]
) -> None:
    app = client.app
    assert isinstance(app, GatewayApp)
    direct = client.post("/v1/decisions", json=body(idempotency_key="direct", **patch))
    app.direct_decisions = False
    routed = client.post("/v1/decisions", json=body(idempotency_key="routed", **patch))
    assert direct.status_code == routed.status_code == 200
    assert direct.headers["content-type"] == routed.headers["content-type"]
    assert _without_ids(direct.json()) == _without_ids(routed.json())


def test_direct_path_is_taken_only_when_nothing_could_observe_the_request(
    client: TestClient, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    taken: list[str] = []
    original = GatewayApp._decide_direct

    async def spy(self: GatewayApp, scope: Any, receive: Any, send: Any) -> None:
        taken.append(scope["path"])
        await original(self, scope, receive, send)

    monkeypatch.setattr(GatewayApp, "_decide_direct", spy)
    assert client.post("/v1/decisions", json=body(idempotency_key="a")).status_code == 200
    assert taken == ["/v1/decisions"]
    # no JSON content type: FastAPI's strict content type answers (422), not the direct path
    raw = json.dumps(body(idempotency_key="b")).encode()
    assert client.post("/v1/decisions", content=raw, headers={"content-type": ""}).status_code == (
        422
    )
    assert taken == ["/v1/decisions"]
    # user middleware must see every request: then FastAPI's route answers
    engine = sqlite_engine(f"sqlite:///{tmp_path / 'mw.db'}")
    gw = Gateway(SqlStateStore(engine), DecisionLog(engine), content=CONTENT, clock=lambda: NOW)
    app = create_app(gw)
    seen: list[str] = []

    @app.middleware("http")
    async def audit(request: Any, call_next: Any) -> Any:
        seen.append(request.url.path)
        return await call_next(request)

    r = TestClient(app).post("/v1/decisions", json=body(idempotency_key="c"))
    assert r.status_code == 200 and r.json()["decision"] == "allow"
    assert seen == ["/v1/decisions"] and taken == ["/v1/decisions"]


def _asgi_post(app: GatewayApp, chunks: list[bytes]) -> tuple[int, bytes]:
    """Call the app directly with a body in several `http.request` messages."""
    import asyncio

    messages: list[dict[str, Any]] = [
        {"type": "http.request", "body": c, "more_body": i < len(chunks) - 1}
        for i, c in enumerate(chunks)
    ]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        if messages:
            return messages.pop(0)
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/v1/decisions",
        "raw_path": b"/v1/decisions",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"test"), (b"content-type", b"application/json")],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }
    asyncio.run(app(scope, receive, send))
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    data = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return status, data


def test_direct_path_reads_a_body_in_parts_and_hands_large_ones_to_fastapi(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = client.app
    assert isinstance(app, GatewayApp)
    raw = json.dumps(body(idempotency_key="parts")).encode()
    status, data = _asgi_post(app, [raw[:10], raw[10:50], raw[50:]])
    assert status == 200 and json.loads(data)["decision"] == "allow"
    monkeypatch.setattr(GatewayApp, "MAX_DIRECT_BODY", 16)  # FastAPI reads the rest
    raw = json.dumps(body(idempotency_key="large")).encode()
    status, data = _asgi_post(app, [raw[:10], raw[10:50], raw[50:]])
    assert status == 200 and json.loads(data)["decision"] == "allow"
    bad = json.dumps(body(idempotency_key="bad", channel="fax")).encode()
    status, data = _asgi_post(app, [bad[:20], bad[20:]])
    assert status == 422
    assert any("channel" in e["loc"] for e in json.loads(data)["detail"])


def test_regf_excluded_calls_over_http(client: TestClient) -> None:
    """Prior consent in the profile and `responds_to_request` on a decision: the call is not
    counted toward the Reg F caps and the decision says why; OpenAPI documents both."""
    at = "2026-12-01T10:00:00-05:00"
    us = {"role": "debtor", "phone": "+16175550100", "timezone": "America/New_York"}

    def call(key: str, **kw: Any) -> dict[str, Any]:
        return body(
            idempotency_key=key,
            channel="call",
            text=None,
            jurisdiction="us",
            recipient=us,
            planned_at=at,
            **kw,
        )

    for i in range(7):
        assert client.post("/v1/decisions", json=call(f"c{i}")).json()["decision"] == "allow"
    d = client.post("/v1/decisions", json=call("c7")).json()
    assert d["decision"] == "defer" and d["reasons"][0]["rule_id"] == "us.regf.7in7"
    d = client.post("/v1/decisions", json=call("c8", responds_to_request=True)).json()
    assert d["decision"] == "allow" and d["notes"][0].startswith("excluded_call:person_request")
    r = client.put(
        "/v1/debtors/cust-1/profile", json={"call_consent_at": "2026-12-01T09:00:00-05:00"}
    )
    assert r.status_code == 200, r.text
    assert (
        client.get("/v1/debtors/cust-1/profile")
        .json()["call_consent_at"]
        .startswith("2026-12-01T09:00:00")
    )
    d = client.post("/v1/decisions", json=call("c9")).json()
    assert d["decision"] == "allow" and "day 1 of 7" in d["notes"][0]
    bad = client.put("/v1/debtors/cust-1/profile", json={"call_consent_at": "2026-12-01T09:00"})
    assert bad.status_code == 422
    bad = client.post("/v1/decisions", json=call("c10", responds_to_request="perhaps"))
    assert bad.status_code == 422
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    req_props = schemas["DecisionRequest"]["properties"]
    assert "1006.14(b)(3)(i)" in req_props["responds_to_request"]["description"]
    prof = schemas["ContactProfile"]["properties"]
    assert "1006.14(b)(3)(i)" in prof["call_consent_at"]["description"]
    assert "debtor only" in prof["night_consent"]["description"]
    assert prof["call_consent_days"]["maximum"] == 7
