"""Command line of the repayment planner: ``collectguard plan …`` and ``collectguard model …``.

Owns: two Typer apps, :data:`plan_app` (propose plans for a borrower) and :data:`model_app`
(train and inspect the capacity model), plus :data:`app` holding both for standalone use
(``python -m collectguard.repayment.cli plan --help``). Help and messages are zh-CN first,
English second. Only this module (and :mod:`.http`) may import Typer / FastAPI.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from collectguard.repayment.caps import CN_ABSOLUTE_36, CN_JUDICIAL_24, CostCap
from collectguard.repayment.explain import format_money
from collectguard.repayment.models import (
    BorrowerProfile,
    Debt,
    LenderPolicy,
    PlanProposal,
    PlanRequest,
)

__all__ = ["app", "model_app", "plan_app"]

_CAPS: dict[str, CostCap | None] = {"none": None, "cn-24": CN_JUDICIAL_24, "cn-36": CN_ABSOLUTE_36}

plan_app = typer.Typer(
    name="plan",
    no_args_is_help=True,
    rich_markup_mode=None,
    help=(
        "还款方案：可负担、合法的分期与减免 / Repayment plans: affordable, lawful.\n\n"
        "为借款人生成 3–5 个方案（月供、期数、减免），按预期回收排序并附说明。"
        "Propose 3–5 plans (instalment, term, waiver) ranked by expected recovery, explained.\n\n"
        "示例 / Examples:\n\n"
        "  collectguard plan propose --principal 10000 --interest 1500 --fees 800 "
        "--loan-start 2025-01-10 --as-of 2026-03-01 --income 6000 --expenses 3500 --cap cn-24\n\n"
        "  collectguard plan example > req.json\n\n"
        "  collectguard plan propose --request req.json --json"
    ),
)
model_app = typer.Typer(
    name="model",
    no_args_is_help=True,
    rich_markup_mode=None,
    help=(
        "还款能力模型：训练、查看 / Repayment-capacity model: train, inspect.\n\n"
        "数据：台湾信用卡违约（CC BY 4.0）。Data: Taiwan credit default (CC BY 4.0).\n\n"
        "示例 / Examples:\n\n"
        "  collectguard model train --data ../shared/data/taiwan_credit_default\n\n"
        "  collectguard model inspect --evaluate"
    ),
)
app = typer.Typer(no_args_is_help=True, rich_markup_mode=None, help="collectguard repayment")
app.add_typer(plan_app)
app.add_typer(model_app)


def _fail(zh: str, en: str) -> typer.Exit:
    typer.echo(f"错误：{zh}\nError: {en}", err=True)
    return typer.Exit(code=2)


def _cents(value: str, name: str) -> int:
    try:
        amount = Decimal(value)
    except InvalidOperation:
        raise _fail(f"{name} 不是金额：{value!r}", f"{name} is not an amount: {value!r}") from None
    if amount != amount.quantize(Decimal("0.01")):
        raise _fail(f"{name} 最多两位小数：{value}", f"{name} allows at most 2 decimals: {value}")
    return int(amount * 100)


def _validation_message(err: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or 'request'}: {e['msg']}" for e in err.errors()
    )


def _print_proposal(proposal: PlanProposal, console: Console) -> None:
    cur = proposal.currency
    console.print(proposal.summary.zh_CN)
    console.print(proposal.summary.en)
    if proposal.no_plan_reason is not None:
        console.print(proposal.no_plan_reason.zh_CN)
        console.print(proposal.no_plan_reason.en)
        return
    table = Table(title="还款方案 / Repayment plans")
    for col in (
        "#",
        "期数 Term",
        "月供 Monthly",
        "合计 Total",
        "减免 Waiver",
        "完成概率 P(complete)",
        "预期回收 E[recovery]",
    ):
        table.add_column(col, justify="right")
    for i, p in enumerate(proposal.plans, 1):
        table.add_row(
            str(i),
            str(p.term_months),
            format_money(p.monthly_amount_cents, cur, lang="en"),
            format_money(p.total_paid_cents, cur, lang="en"),
            format_money(p.waiver_cents, cur, lang="en"),
            f"{p.completion_probability:.0%}",
            format_money(p.expected_recovery_cents, cur, lang="en"),
        )
    console.print(table)
    for i, p in enumerate(proposal.plans, 1):
        console.print(f"{i}. {p.explanation.zh_CN}\n   {p.explanation.en}")


@plan_app.command("propose")
def propose_cmd(
    request: Annotated[
        Path | None,
        typer.Option(
            "--request",
            "-r",
            help="PlanRequest JSON 文件（'-' 为标准输入）/ request JSON file ('-' = stdin).",
        ),
    ] = None,
    principal: Annotated[str | None, typer.Option(help="未还本金（元）/ principal, yuan")] = None,
    interest: Annotated[str, typer.Option(help="已计利息（元）/ accrued interest")] = "0",
    fees: Annotated[str, typer.Option(help="罚息及费用（元）/ penalties and fees")] = "0",
    loan_start: Annotated[
        str | None, typer.Option(help="放款日 YYYY-MM-DD / loan start date")
    ] = None,
    as_of: Annotated[
        str | None, typer.Option(help="方案生效日 YYYY-MM-DD（必填）/ plan date (required)")
    ] = None,
    income: Annotated[str | None, typer.Option(help="月收入（元）/ monthly income")] = None,
    expenses: Annotated[str | None, typer.Option(help="月支出（元）/ monthly expenses")] = None,
    max_term: Annotated[int, typer.Option(help="最长期数 / max term, months")] = 24,
    min_installment: Annotated[str, typer.Option(help="最低月供（元）/ min instalment")] = "100",
    max_waiver: Annotated[
        str, typer.Option(help="利息费用最高减免比例 0-1 / max share of charges waived")
    ] = "0.5",
    affordability: Annotated[
        str, typer.Option(help="月供占可支配收入上限 0-1 / max share of disposable income")
    ] = "0.4",
    cap: Annotated[
        str, typer.Option(help="综合成本上限 / cost cap: cn-24 | cn-36 | none")
    ] = "cn-24",
    risk: Annotated[
        float | None, typer.Option(help="指定违约概率 0-1（跳过模型）/ given default risk")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="输出 JSON / print JSON")] = False,
) -> None:
    """生成还款方案 / Propose repayment plans.

    示例 / Example: collectguard plan propose --principal 10000 --interest 1500
    --loan-start 2025-01-10 --as-of 2026-03-01 --income 6000 --expenses 3500
    """
    from collectguard.repayment.planner import plan

    try:
        if request is not None:
            text = sys.stdin.read() if str(request) == "-" else request.read_text(encoding="utf-8")
            req = PlanRequest.model_validate_json(text)
        else:
            if principal is None or loan_start is None or as_of is None:
                raise _fail(
                    "需要 --request，或同时给出 --principal、--loan-start、--as-of",
                    "give --request, or all of --principal, --loan-start and --as-of",
                )
            if cap not in _CAPS:
                raise _fail(f"未知上限 {cap!r}", f"unknown cap {cap!r}; use cn-24, cn-36 or none")
            req = PlanRequest(
                as_of=dt.date.fromisoformat(as_of),
                debt=Debt(
                    principal_cents=_cents(principal, "--principal"),
                    interest_cents=_cents(interest, "--interest"),
                    fees_cents=_cents(fees, "--fees"),
                    loan_start=dt.date.fromisoformat(loan_start),
                ),
                borrower=BorrowerProfile(
                    monthly_income_cents=None if income is None else _cents(income, "--income"),
                    monthly_expenses_cents=(
                        None if expenses is None else _cents(expenses, "--expenses")
                    ),
                ),
                policy=LenderPolicy(
                    max_term_months=max_term,
                    min_installment_cents=_cents(min_installment, "--min-installment"),
                    max_waiver_share_of_charges=Decimal(max_waiver),
                    affordability_share=Decimal(affordability),
                    cost_cap=_CAPS[cap],
                ),
                default_probability=risk,
            )
    except ValidationError as err:
        msg = _validation_message(err)
        raise _fail(f"输入无效：{msg}", f"invalid input: {msg}") from None
    except (ValueError, InvalidOperation, OSError) as err:
        raise _fail(f"输入无效：{err}", f"invalid input: {err}") from None
    try:
        proposal = plan(req)
    except ValueError as err:
        raise _fail(str(err), str(err)) from None
    if as_json:
        typer.echo(proposal.model_dump_json(indent=1))
    else:
        _print_proposal(proposal, Console())


@plan_app.command("example")
def example_cmd() -> None:
    """打印一个示例请求 JSON / Print an example request JSON.

    示例 / Example: collectguard plan example > req.json
    """
    req = PlanRequest(
        as_of=dt.date(2026, 3, 1),
        debt=Debt(
            principal_cents=1_000_000,
            interest_cents=150_000,
            fees_cents=80_000,
            loan_start=dt.date(2025, 1, 10),
        ),
        borrower=BorrowerProfile(monthly_income_cents=600_000, monthly_expenses_cents=350_000),
        policy=LenderPolicy(cost_cap=CN_JUDICIAL_24),
    )
    typer.echo(req.model_dump_json(indent=1))


@model_app.command("train")
def train_cmd(
    data: Annotated[
        Path | None,
        typer.Option(
            help="台湾数据目录或 CSV（默认 $COLLECTGUARD_DATA 或 ../shared/data）/ data path"
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(help="输出目录（默认：包内模型目录）/ output folder (default: shipped)"),
    ] = None,
    seed: Annotated[int, typer.Option(help="划分随机种子 / split seed")] = 20240607,
    calibration: Annotated[str, typer.Option(help="platt | isotonic")] = "platt",
) -> None:
    """训练并写出模型 / Train the model and write it (ships in the package by default).

    示例 / Example: collectguard model train --data ../shared/data/taiwan_credit_default
    """
    from collectguard.repayment.capacity import shipped_model_dir
    from collectguard.repayment.training import load_taiwan, train_capacity_model, write_model

    try:
        df = load_taiwan(data)
        result = train_capacity_model(df, seed=seed, calibration=calibration)
    except (FileNotFoundError, ValueError) as err:
        raise _fail(str(err), str(err)) from None
    folder = out or shipped_model_dir()
    for path in write_model(result, folder):
        typer.echo(f"写入 / wrote {path}")
    m = result.metrics
    typer.echo(
        f"测试集 AUC / test AUC {m['auc_test']:.4f}; ECE {m['ece_before']:.4f} → "
        f"{m['ece_after']:.4f} (n_test={m['n_test']}, seed={seed})"
    )


@model_app.command("inspect")
def inspect_cmd(
    model: Annotated[
        Path | None, typer.Option(help="模型目录（默认：包内）/ model folder (default: shipped)")
    ] = None,
    evaluate: Annotated[
        bool,
        typer.Option(help="在保留测试集上重新评估（需要数据）/ re-evaluate on the held-out split"),
    ] = False,
    data: Annotated[Path | None, typer.Option(help="数据路径 / data path")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="输出 JSON / print JSON")] = False,
) -> None:
    """查看模型：数据、划分、指标、公平性 / Show the model's data, split, metrics, fairness.

    示例 / Example: collectguard model inspect --evaluate
    """
    from collectguard.repayment.capacity import CapacityModel, shipped_model_dir

    folder = model or shipped_model_dir()
    try:
        cm = CapacityModel.load(folder)
    except (FileNotFoundError, ValueError) as err:
        raise _fail(str(err), str(err)) from None
    metrics_path = folder / "metrics.json"
    metrics: dict[str, Any] = (
        json.loads(metrics_path.read_text(encoding="utf-8")) if metrics_path.is_file() else {}
    )
    if evaluate:
        from collectguard.repayment.training import evaluate as run_eval
        from collectguard.repayment.training import load_taiwan

        try:
            df = load_taiwan(data)
        except (FileNotFoundError, ValueError) as err:
            raise _fail(str(err), str(err)) from None
        ids = json.loads((folder / "split.json").read_text(encoding="utf-8"))["test"]
        fresh = run_eval(cm, df.set_index("ID").loc[ids])
        metrics = {k: v for k, v in fresh.items() if not k.startswith("reliability")}
    if as_json:
        typer.echo(json.dumps({"metadata": cm.metadata, "metrics": metrics}, indent=1))
        return
    meta = cm.metadata
    console = Console()
    console.print(f"{meta['name']} — {meta['target']}")
    console.print(f"数据 / data: {meta['data']['name']} ({meta['data']['citation']})")
    console.print(f"划分 / split: {meta['split']['method']}, seed {meta['split']['seed']}")
    console.print(f"校准 / calibration: {meta['calibration']['method']}")
    console.print(
        f"未使用的敏感属性 / not used: {', '.join(meta['excluded_sensitive_attributes'])}"
    )
    if metrics:
        console.print(
            f"测试集 / test: AUC {metrics['auc_test']:.4f} (calibrated "
            f"{metrics['auc_test_calibrated']:.4f}), ECE {metrics['ece_before']:.4f} → "
            f"{metrics['ece_after']:.4f}, n={metrics['n_test']}"
        )
        table = Table(title="公平性 / Fairness (test split)")
        for col in ("属性 attr", "组 group", "n", "AUC", "平均预测 mean pred", "实际 actual"):
            table.add_column(col)
        for attr, rows in metrics["fairness"].items():
            for r in rows:
                auc = "-" if r["auc"] is None else f"{r['auc']:.3f}"
                table.add_row(
                    attr,
                    r["group"],
                    str(r["n"]),
                    auc,
                    f"{r['mean_predicted']:.3f}",
                    f"{r['actual_rate']:.3f}",
                )
        console.print(table)


if __name__ == "__main__":  # pragma: no cover
    app()
