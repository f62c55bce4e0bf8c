"""Tests of the repayment planner's Python API, CLI and HTTP endpoint."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from typing import Any

import httpx
from typer.testing import CliRunner

import collectguard.repayment as repayment
from collectguard.repayment import (
    BorrowerProfile,
    Debt,
    LenderPolicy,
    PaymentHistory,
    PlanRequest,
    plan,
)
from collectguard.repayment.cli import app, model_app, plan_app
from collectguard.repayment.http import _EXAMPLE, create_app

runner = CliRunner()


def test_exported_members() -> None:
    assert set(repayment.__all__) == {
        "CN_ABSOLUTE_36",
        "CN_JUDICIAL_24",
        "BorrowerProfile",
        "CapacityModel",
        "CostCap",
        "Debt",
        "Explanation",
        "Installment",
        "LenderPolicy",
        "PaymentHistory",
        "PlanProposal",
        "PlanRequest",
        "RepaymentPlan",
        "cn_private_lending_4x_lpr",
        "format_money",
        "lawful_max_cents",
        "plan",
        "propose_plans",
    }
    for name in repayment.__all__:
        assert getattr(repayment, name) is not None


def _request(**borrower: Any) -> PlanRequest:
    return PlanRequest(
        as_of=dt.date(2026, 3, 1),
        debt=Debt(
            principal_cents=1_000_000,
            interest_cents=100_000,
            fees_cents=0,
            loan_start=dt.date(2025, 6, 1),
        ),
        borrower=BorrowerProfile(**borrower),
        policy=LenderPolicy(),
    )


def test_plan_uses_history_when_given() -> None:
    history = PaymentHistory(
        credit_limit=50_000, statuses=[2] * 6, bills=[40_000] * 6, payments=[0] * 6
    )
    with_history = plan(_request(history=history, monthly_income_cents=800_000))
    without = plan(_request(monthly_income_cents=800_000))
    assert with_history.risk_source == "model" and without.risk_source == "base_rate"
    assert with_history.default_probability > without.default_probability
    given = plan(_request().model_copy(update={"default_probability": 0.05}))
    assert given.risk_source == "given" and given.default_probability == 0.05


def _call(method: str, url: str, **kwargs: Any) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=create_app())
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.request(method, url, **kwargs)

    return asyncio.run(go())


def test_http_post_plans() -> None:
    response = _call("POST", "/v1/plans", json=_EXAMPLE)
    assert response.status_code == 200
    body = response.json()
    assert 3 <= len(body["plans"]) <= 5
    for p in body["plans"]:
        assert p["total_paid_cents"] <= p["lawful_max_cents"]
        assert p["explanation"]["zh_CN"] and p["explanation"]["en"]


def test_http_validation_names_the_field() -> None:
    bad = {**_EXAMPLE, "debt": {**_EXAMPLE["debt"], "principal_cents": -5}}
    response = _call("POST", "/v1/plans", json=bad)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "debt", "principal_cents"]
    early = {**_EXAMPLE, "as_of": "2024-01-01"}
    response = _call("POST", "/v1/plans", json=early)
    assert response.status_code == 422 and "before the loan start" in response.json()["detail"]


def test_http_openapi_and_model_info() -> None:
    spec = _call("GET", "/openapi.json").json()
    op = spec["paths"]["/v1/plans"]["post"]
    assert "Propose" in op["summary"] and "typical" in json.dumps(op)
    info = _call("GET", "/v1/plans/model").json()
    assert info["metrics"]["auc_test"] >= 0.78


def test_cli_help_teaches() -> None:
    for sub, args in (
        (plan_app, ["--help"]),
        (model_app, ["--help"]),
        (app, ["plan", "propose", "--help"]),
    ):
        result = runner.invoke(sub, args)
        assert result.exit_code == 0
        assert "示例" in result.output and "Example" in result.output


def test_cli_propose_json_and_table(tmp_path: Any) -> None:
    args = [
        "propose",
        "--principal",
        "10000",
        "--interest",
        "1500",
        "--loan-start",
        "2025-01-10",
        "--as-of",
        "2026-03-01",
        "--income",
        "6000",
        "--expenses",
        "3500",
    ]
    result = runner.invoke(plan_app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    assert body["plans"] and body["risk_source"] == "base_rate"
    table = runner.invoke(plan_app, args)
    assert table.exit_code == 0 and "还款方案" in table.output
    example = runner.invoke(plan_app, ["example"])
    req = tmp_path / "req.json"
    req.write_text(example.output, encoding="utf-8")
    from_file = runner.invoke(plan_app, ["propose", "--request", str(req), "--json"])
    assert from_file.exit_code == 0 and json.loads(from_file.output)["plans"]


def test_cli_errors_are_bilingual() -> None:
    result = runner.invoke(plan_app, ["propose", "--principal", "10000"])
    assert result.exit_code == 2 and "错误" in result.output and "Error" in result.output
    result = runner.invoke(
        plan_app,
        ["propose", "--principal", "1.234", "--loan-start", "2025-01-01", "--as-of", "2026-01-01"],
    )
    assert result.exit_code == 2 and "2 decimals" in result.output


def test_cli_model_inspect() -> None:
    result = runner.invoke(model_app, ["inspect", "--json"])
    assert result.exit_code == 0
    assert json.loads(result.output)["metrics"]["auc_test"] >= 0.78
    table = runner.invoke(model_app, ["inspect"])
    assert table.exit_code == 0 and "Fairness" in table.output
