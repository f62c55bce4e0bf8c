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
from sqlalchemy import create_engine

from collectguard._version import __version__
from collectguard.analyze.analyzer import Analyzer
from collectguard.gateway.core import ContentChecker
from collectguard.gateway.log import DecisionLog
from collectguard.gateway.models import ContactProfile, Decision, DecisionRequest, OutcomeReport
from collectguard.gateway.policy import load_policy
from collectguard.gateway.service import Gateway
from collectguard.gateway.store import (
    SqlStateStore,
    StoreUnavailable,
    UnknownAttempt,
    sqlite_engine,
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


def build_gateway(
    *,
    db: str | Path = "gateway.db",
    redis_url: str | None = None,
    ledger_url: str | None = None,
    policy_path: str | Path | None = None,
    dry_run: bool = False,
    templates: dict[str, str] | None = None,
    packs: list[str] | None = None,
) -> Gateway:
    """A gateway on SQLite (`db`: state and decision log in one file), or on Redis
    (`redis_url`) for several replicas, with the decision log in `ledger_url` (e.g. a shared
    PostgreSQL, so all replicas append to one chain) or else in `db`. `packs`: rule-pack files or
    overlays (`extends: cn`) used for the content rules instead of the shipped packs."""
    engine = sqlite_engine(f"sqlite:///{db}")
    log_engine = create_engine(ledger_url) if ledger_url else engine
    store: Any
    if redis_url:
        from collectguard.gateway.redis_store import RedisStateStore

        store = RedisStateStore(redis_url)
    else:
        store = SqlStateStore(engine)
    return Gateway(
        store,
        DecisionLog(log_engine),
        policy=load_policy(policy_path),
        content=ContentChecker(Analyzer.from_options(packs)) if packs else None,
        dry_run=dry_run,
        templates=templates,
    )


ENV_PREFIX = "COLLECTGUARD_GATEWAY_"


def app_from_env() -> FastAPI:
    """App factory for `uvicorn --factory` with several workers: options come from
    COLLECTGUARD_GATEWAY_DB, _REDIS_URL, _LEDGER_URL, _POLICY, _DRY_RUN, _TEMPLATES (a YAML
    file mapping template id → text), _PACKS (rule-pack files, joined with os.pathsep)."""
    env = os.environ
    templates = None
    if env.get(ENV_PREFIX + "TEMPLATES"):
        import yaml

        raw = yaml.safe_load(Path(env[ENV_PREFIX + "TEMPLATES"]).read_text(encoding="utf-8"))
        templates = {str(k): str(v) for k, v in (raw or {}).items()}
    return create_app(
        db=env.get(ENV_PREFIX + "DB", "gateway.db"),
        redis_url=env.get(ENV_PREFIX + "REDIS_URL") or None,
        ledger_url=env.get(ENV_PREFIX + "LEDGER_URL") or None,
        policy_path=env.get(ENV_PREFIX + "POLICY") or None,
        dry_run=env.get(ENV_PREFIX + "DRY_RUN", "") in ("1", "true", "yes"),
        templates=templates,
        packs=[p for p in env.get(ENV_PREFIX + "PACKS", "").split(os.pathsep) if p] or None,
    )


def create_app(gateway: Gateway | None = None, **options: Any) -> FastAPI:
    """The FastAPI app; pass a `Gateway`, or `build_gateway` options (db, redis_url, …)."""
    gw = gateway or build_gateway(**options)
    app = FastAPI(
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
        "/v1/decisions",
        response_model=Decision,
        summary="May this attempt go out now? / 此次联系可否发出",
        responses={422: {"description": "malformed request: field errors"}},
    )
    async def decide(
        req: Annotated[DecisionRequest, Body(openapi_examples={"cn_sms": {"value": _EXAMPLE}})],
    ) -> Response:
        # Inline, not in the thread pool: a decision is 1–3 ms of CPU-bound work and the pool
        # hop costs about as much. One decision at a time per worker process; run one worker
        # per core (`serve --workers N`); workers share the state through the store.
        # The Decision is already validated: serialise it directly (`response_model` above
        # still documents it).
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
        summary="Consent, preferred hours, opt-outs, cease, attorney, objections / 联系偏好与状态",
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
