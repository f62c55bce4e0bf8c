"""HTTP endpoint of the repayment planner for the borrower portal and lender systems.

Owns: a FastAPI :data:`router` with ``POST /v1/plans`` (a :class:`PlanRequest` in, a
:class:`PlanProposal` out) and ``GET /v1/plans/model`` (the model card figures), plus
:func:`create_app` — an app holding only this router, for tests and standalone serving.
Validation errors come back as FastAPI's standard 422 body naming each field at fault.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, FastAPI, HTTPException

from collectguard.repayment.caps import CN_JUDICIAL_24
from collectguard.repayment.models import PlanProposal, PlanRequest

__all__ = ["create_app", "router"]

router = APIRouter(tags=["repayment"])

_EXAMPLE: dict[str, Any] = {
    "as_of": "2026-03-01",
    "debt": {
        "principal_cents": 1_000_000,
        "interest_cents": 150_000,
        "fees_cents": 80_000,
        "loan_start": "2025-01-10",
    },
    "borrower": {"monthly_income_cents": 600_000, "monthly_expenses_cents": 350_000},
    "policy": {
        "max_term_months": 24,
        # the shipped preset as it is (its citation marks what is unverified)
        "cost_cap": CN_JUDICIAL_24.model_dump(mode="json"),
    },
}


@router.post(
    "/v1/plans",
    response_model=PlanProposal,
    summary="生成还款方案 / Propose repayment plans",
    description=(
        "为一位借款人生成 3–5 个合法、可负担的还款方案，按预期回收排序，附中英文说明。\n\n"
        "Propose 3–5 lawful, affordable plans for one borrower, ranked by expected "
        "recovery, each with a zh-CN and English explanation. Money is integer cents; "
        "`as_of` is required (no implicit 'today')."
    ),
    responses={422: {"description": "请求字段无效 / a field is invalid (see `detail`)"}},
)
def post_plans(
    request: Annotated[
        PlanRequest,
        Body(
            openapi_examples={
                "typical": {
                    "summary": "有收入申报，24% 上限 / declared income, 24% cap",
                    "value": _EXAMPLE,
                }
            }
        ),
    ],
) -> PlanProposal:
    from collectguard.repayment.planner import plan

    try:
        return plan(request)
    except ValueError as err:
        raise HTTPException(status_code=422, detail=str(err)) from None


@router.get(
    "/v1/plans/model",
    summary="还款能力模型信息 / Capacity model card figures",
)
def get_model_info() -> dict[str, Any]:
    from collectguard.repayment.planner import shipped_model

    meta = shipped_model().metadata
    return {
        k: meta[k]
        for k in ("name", "target", "data", "split", "metrics", "excluded_sensitive_attributes")
        if k in meta
    }


def create_app() -> FastAPI:
    """A FastAPI app with only the repayment router (tests, standalone serving)."""
    app = FastAPI(
        title="collectguard repayment",
        description="还款方案 API / Repayment plan API",
        version="1",
    )
    app.include_router(router)
    return app
