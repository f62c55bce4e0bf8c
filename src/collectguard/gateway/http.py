"""HTTP face of the gateway (FastAPI): `create_app(...)`.

Owns the routes and their OpenAPI description: ``POST /v1/decisions``,
``POST /v1/attempts/{attempt_id}/outcome``, ``GET|PUT /v1/debtors/{debtor_id}/profile``,
``GET /v1/audit/export`` (JSONL with chain head), ``GET /healthz``. Malformed input gets 422
with field errors (FastAPI's standard body).
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Annotated, Any

from fastapi import Body, FastAPI, HTTPException
from fastapi import Path as PathParam
from fastapi.responses import PlainTextResponse, Response
from pydantic import ValidationError
from starlette.types import Message, Receive, Scope, Send

from collectguard._version import __version__
from collectguard._yaml import safe_load as safe_yaml
from collectguard.gateway.models import ContactProfile, Decision, DecisionRequest, OutcomeReport
from collectguard.gateway.service import Gateway, build_gateway
from collectguard.gateway.store import (
    StoreUnavailable,
    UnknownAttempt,
)

_ID = r"^[A-Za-z0-9_.:\-]{1,128}$"

_EXAMPLE = {
    "debt_id": "loan-001",
    "debtor_id": "cust-42",
    "recipient": {"role": "debtor", "phone": "13812345678", "timezone": "Asia/Shanghai"},
    "channel": "sms",
    "text": "【招联金融】您的借款已逾期3天，请通过招联金融App还款。",
    "agent_id": "agent-7",
    "planned_at": "2026-11-30T10:00:00+08:00",
    "idempotency_key": "sms-loan-001-2026-11-30-1",
    "jurisdiction": "cn",
}


ENV_PREFIX = "COLLECTGUARD_GATEWAY_"


def app_from_env() -> GatewayApp:
    """App factory for `uvicorn --factory` with several workers: options come from
    COLLECTGUARD_GATEWAY_DB, _REDIS_URL, _LEDGER_URL, _POLICY, _DRY_RUN, _TEMPLATES (a YAML
    file mapping template id → text), _PACKS (rule-pack files, joined with os.pathsep),
    _TELEMETRY (1: FastAPI's native OpenTelemetry, see `create_app`)."""
    env = os.environ
    templates = None
    if env.get(ENV_PREFIX + "TEMPLATES"):
        raw = safe_yaml(Path(env[ENV_PREFIX + "TEMPLATES"]).read_text(encoding="utf-8"))
        templates = {str(k): str(v) for k, v in (raw or {}).items()}
    return create_app(
        db=env.get(ENV_PREFIX + "DB", "gateway.db"),
        redis_url=env.get(ENV_PREFIX + "REDIS_URL") or None,
        ledger_url=env.get(ENV_PREFIX + "LEDGER_URL") or None,
        policy_path=env.get(ENV_PREFIX + "POLICY") or None,
        dry_run=env.get(ENV_PREFIX + "DRY_RUN", "") in ("1", "true", "yes"),
        templates=templates,
        packs=[p for p in env.get(ENV_PREFIX + "PACKS", "").split(os.pathsep) if p] or None,
        telemetry=env.get(ENV_PREFIX + "TELEMETRY", "") in ("1", "true", "yes"),
    )


DECISIONS = "/v1/decisions"
_JSON_RESPONSE = [(b"content-type", b"application/json")]


class GatewayApp(FastAPI):
    """The FastAPI app with a direct path for the hot route, ``POST /v1/decisions``.

    FastAPI's middleware stack, routing, dependency solving and response classes cost about
    0.3 ms a request on the reference machine, a third of a logged decision. A well-formed
    JSON decision request is therefore answered here: the body is read, validated with
    `DecisionRequest.model_validate_json` and decided, and the decision is written with its
    length. Everything else goes through FastAPI unchanged, and so does a decision request
    that is not plain JSON, that does not validate (FastAPI then answers its standard 422
    with field errors from the very same model), or that arrives while anything could
    observe the request: user middleware, a root path, or native telemetry. The FastAPI
    route stays in place for those and documents the API (OpenAPI).
    """

    direct_decisions = True
    """Off: every request goes through FastAPI (as a test or a profiler may want)."""

    MAX_DIRECT_BODY = 1 << 20
    """A larger body is handed to FastAPI (which applies `max_body_size`, if any)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["path"] == DECISIONS
            and scope["method"] == "POST"
            and self.direct_decisions
            and not scope.get("root_path")
            and not self.root_path
            and not self.user_middleware
            and not self._telemetry_on
            and _is_json(scope)
        ):
            await self._decide_direct(scope, receive, send)
            return
        await super().__call__(scope, receive, send)

    @property
    def _telemetry_on(self) -> bool:
        t = self._telemetry
        return bool(t["tracing"] or t["metrics"] or t["logs"])

    async def _decide_direct(self, scope: Scope, receive: Receive, send: Send) -> None:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            chunk = message.get("body", b"")
            chunks.append(chunk)
            size += len(chunk)
            if not message.get("more_body", False):
                break
            if size > self.MAX_DIRECT_BODY:
                await super().__call__(scope, _replay(chunks, receive, more=True), send)
                return
        body = b"".join(chunks)
        try:
            req = DecisionRequest.model_validate_json(body)
        except ValidationError:
            # FastAPI answers: the same model's errors, in its standard 422 shape
            await super().__call__(scope, _replay([body], receive, more=False), send)
            return
        gw: Gateway = self.state.gateway
        payload = gw.decide(req).model_dump_json().encode()
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [*_JSON_RESPONSE, (b"content-length", str(len(payload)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": payload, "more_body": False})


def _is_json(scope: Scope) -> bool:
    for name, value in scope["headers"]:
        if name == b"content-type":
            media: bytes = value.split(b";", 1)[0].strip().lower()
            return media == b"application/json" or media.endswith(b"+json")
    return False  # FastAPI's strict content type: no header, no JSON body


def _replay(chunks: list[bytes], receive: Receive, *, more: bool) -> Receive:
    """A `receive` that hands out the body already read, then the rest from `receive`."""
    pending = list(chunks)

    async def replay() -> Message:
        if pending:
            chunk = pending.pop(0)
            return {"type": "http.request", "body": chunk, "more_body": bool(pending) or more}
        return await receive()

    return replay


def create_app(
    gateway: Gateway | None = None, *, telemetry: bool = False, **options: Any
) -> GatewayApp:
    """The FastAPI app; pass a `Gateway`, or `build_gateway` options (db, redis_url, …).

    `telemetry`: FastAPI's native OpenTelemetry spans, metrics and logs. Off by default: even
    with no provider configured, FastAPI looks the providers up on every request, which costs
    about a tenth of a decision; turn it on (``COLLECTGUARD_GATEWAY_TELEMETRY=1`` with
    `app_from_env`) when a collector is set up (decisions then take FastAPI's route, traced).
    """
    gw = gateway or build_gateway(**options)
    app = GatewayApp(
        telemetry={"tracing": telemetry, "metrics": telemetry, "logs": telemetry},
        title="collectguard gateway / 催收发送前合规网关",
        version=__version__,
        description=(
            "发送前合规检查：每次联系前询问，得到 allow / deny / defer 及理由"
            "（规则、条款、效力）。\n\n"
            "Pre-send compliance: ask before every contact attempt; get allow / deny / defer "
            "with reasons (rule, citation, binding force). Report outcomes so the caps count "
            "what happened. Fails closed: if the state store is unreachable the answer is deny "
            "(`state_unavailable`)."
        ),
    )
    app.state.gateway = gw

    @app.post(
        DECISIONS,
        response_model=Decision,
        summary="May this attempt go out now? / 此次联系可否发出",
        responses={422: {"description": "malformed request: field errors"}},
    )
    async def decide(
        req: Annotated[DecisionRequest, Body(openapi_examples={"cn_sms": {"value": _EXAMPLE}})],
    ) -> Response:
        # Well-formed requests are usually answered by `GatewayApp._decide_direct`; this
        # route answers the rest and documents the API. Inline, not in the thread pool: a
        # decision is about a millisecond of CPU-bound work and the pool hop costs a good part
        # of that. One decision at a time per worker process; run one worker per core
        # (`serve --workers N`); workers share the state through the store. The Decision is
        # already validated: serialise it directly (`response_model` documents it).
        decision = gw.decide(req)
        return Response(decision.model_dump_json(), media_type="application/json")

    @app.post(
        "/v1/attempts/{attempt_id}/outcome",
        summary="Report what happened to an allowed attempt / 回报联系结果",
        responses={404: {"description": "unknown attempt"}, 503: {"description": "store down"}},
    )
    def outcome(
        attempt_id: Annotated[str, PathParam(pattern=r"^[0-9a-f]{32}$")],
        report: OutcomeReport,
    ) -> dict[str, Any]:
        try:
            return gw.record_outcome(attempt_id, report.outcome)
        except UnknownAttempt:
            raise HTTPException(404, f"unknown attempt {attempt_id}") from None
        except StoreUnavailable as exc:
            raise HTTPException(503, f"state_unavailable: {exc}") from None

    @app.get("/v1/debtors/{debtor_id}/profile", response_model=ContactProfile)
    def get_profile(debtor_id: Annotated[str, PathParam(pattern=_ID)]) -> ContactProfile:
        try:
            return gw.get_profile(debtor_id)
        except StoreUnavailable as exc:
            raise HTTPException(503, f"state_unavailable: {exc}") from None

    @app.put(
        "/v1/debtors/{debtor_id}/profile",
        response_model=ContactProfile,
        summary="Consents (night contact, calls), preferred hours, opt-outs, cease, attorney, "
        "objections / 联系偏好与状态",
    )
    def put_profile(
        debtor_id: Annotated[str, PathParam(pattern=_ID)], profile: ContactProfile
    ) -> ContactProfile:
        try:
            gw.set_profile(debtor_id, profile)
        except StoreUnavailable as exc:
            raise HTTPException(503, f"state_unavailable: {exc}") from None
        return profile

    @app.get(
        "/v1/audit/export",
        response_class=PlainTextResponse,
        summary="Decision log as JSONL, last line the verified chain head / 审计导出",
    )
    def export() -> str:
        if gw.log is None:
            raise HTTPException(404, "no decision log configured")
        buf = io.StringIO()
        gw.log.export_jsonl(buf)
        return buf.getvalue()

    @app.get("/healthz")
    def health() -> dict[str, str]:
        try:
            gw.store.ping()
        except StoreUnavailable as exc:
            raise HTTPException(503, f"state_unavailable: {exc}") from None
        return {"status": "ok"}

    return app
