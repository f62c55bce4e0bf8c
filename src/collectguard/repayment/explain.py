"""Plain-language explanations of plans, zh-CN first, English second.

Owns: every borrower-facing sentence the repayment planner produces. Pure: string
formatting only; no I/O, no web or CLI imports.
"""

from __future__ import annotations

from decimal import Decimal

from collectguard.repayment.models import BorrowerProfile, Explanation, LenderPolicy

__all__ = ["explain_no_plan", "explain_plan", "explain_summary", "format_money"]

_LABELS_ZH = {
    "best_recovery": "综合最优方案",
    "most_likely_to_complete": "最容易按期还完的方案",
    "alternative": "备选方案",
}
_LABELS_EN = {
    "best_recovery": "Best overall plan",
    "most_likely_to_complete": "Plan you are most likely to complete",
    "alternative": "Alternative plan",
}


def format_money(cents: int, currency: str = "CNY", *, lang: str = "zh-CN") -> str:
    """``123456`` → ``1,234.56 元`` (zh-CN, CNY) or ``CNY 1,234.56`` (en)."""
    sign = "-" if cents < 0 else ""
    yuan, fen = divmod(abs(cents), 100)
    number = f"{sign}{yuan:,}.{fen:02d}"
    if lang == "zh-CN" and currency == "CNY":
        return f"{number} 元"
    return f"{currency} {number}"


def _pct(x: float) -> str:
    return f"{round(x * 100)}%"


def explain_plan(
    *,
    term: int,
    monthly_cents: int,
    total_cents: int,
    waiver_cents: int,
    excess_cents: int,
    share: float | None,
    affordability_share: Decimal,
    completion: float,
    label: str,
    currency: str,
    cap_name: str | None,
    cap_basis: tuple[str, str] | None = None,
) -> Explanation:
    """Explain one plan: amount, term, total, waiver, burden and completion chance.

    `cap_basis`: the cost cap's legal basis as (zh-CN, en) with sources and confidence
    (`caps.cap_basis`), said when the cap removed something — the borrower may cite it."""

    def money(c: int, lang: str) -> str:
        return format_money(c, currency, lang=lang)

    zh = [
        f"{_LABELS_ZH[label]}：每月还 {money(monthly_cents, 'zh-CN')}，共 {term} 期，"
        f"合计 {money(total_cents, 'zh-CN')}。"
    ]
    en = [
        f"{_LABELS_EN[label]}: pay {money(monthly_cents, 'en')} a month for {term} "
        f"month{'s' if term > 1 else ''}, {money(total_cents, 'en')} in total."
    ]
    if waiver_cents:
        zh.append(f"按机构政策减免 {money(waiver_cents, 'zh-CN')}。")
        en.append(f"The lender waives {money(waiver_cents, 'en')} under its policy.")
    if excess_cents:
        zh.append(
            f"超出法定综合成本上限（{cap_name}）的 {money(excess_cents, 'zh-CN')} "
            "已扣除，不得收取。"
        )
        en.append(
            f"{money(excess_cents, 'en')} above the lawful cost ceiling ({cap_name}) is "
            "removed: it must not be collected."
        )
        if cap_basis is not None:
            zh.append(f"（{cap_basis[0]}）")
            en.append(f"({cap_basis[1]})")
    if share is None:
        zh.append("您未提供收入，无法核实月供是否在您的承受范围内。")
        en.append("No income was declared, so affordability could not be checked.")
    else:
        zh.append(
            f"月供约占您每月可支配收入的 {_pct(share)}（上限 {_pct(float(affordability_share))}）。"
        )
        en.append(
            f"The instalment is about {_pct(share)} of your monthly disposable income "
            f"(limit {_pct(float(affordability_share))})."
        )
    zh.append(f"根据还款记录估计，按期还完的可能性约为 {_pct(completion)}。")
    en.append(
        f"From your repayment record, the chance of completing it is about {_pct(completion)}."
    )
    return Explanation(zh_CN="".join(zh), en=" ".join(en))


def explain_no_plan(borrower: BorrowerProfile, policy: LenderPolicy) -> Explanation:
    """Why no plan could be offered, and what to do next."""
    disposable = borrower.disposable_cents
    if disposable is not None and disposable <= 0:
        return Explanation(
            zh_CN="您申报的支出不低于收入，任何分期都超出承受能力。建议与机构协商困难减免或暂缓还款。",
            en=(
                "Your declared expenses are not below your income, so no instalment is "
                "affordable. Ask the lender about hardship relief or a payment holiday."
            ),
        )
    return Explanation(
        zh_CN=(
            f"在机构政策（最长 {policy.max_term_months} 期、最低月供 "
            f"{format_money(policy.min_installment_cents)}）内，没有月供不超过可支配收入 "
            f"{_pct(float(policy.affordability_share))} 的方案。建议申请更长期限或更多减免。"
        ),
        en=(
            f"Within the lender's policy (at most {policy.max_term_months} months, at least "
            f"{format_money(policy.min_installment_cents, lang='en')} a month) no plan keeps the "
            f"instalment within {_pct(float(policy.affordability_share))} of disposable income. "
            "Ask for a longer term or a larger waiver."
        ),
    )


def explain_summary(
    *, default_probability: float, risk_source: str, n_plans: int, income_declared: bool
) -> Explanation:
    """One line on where the risk estimate came from and how many plans follow."""
    if risk_source == "model":
        zh_src, en_src = "根据近 6 个月还款记录", "From the last 6 months of repayment history"
    elif risk_source == "base_rate":
        zh_src, en_src = (
            "未提供还款记录，采用总体平均水平",
            "No repayment history was given, so the population average is used",
        )
    else:
        zh_src, en_src = "按调用方给定的风险", "Using the risk given by the caller"
    zh = f"{zh_src}，下月逾期风险估计为 {_pct(default_probability)}。共 {n_plans} 个可选方案。"
    en = (
        f"{en_src}: estimated risk of missing next month's payment {_pct(default_probability)}. "
        f"{n_plans} plan{'s' if n_plans != 1 else ''} offered."
    )
    if not income_declared:
        zh += "提供月收入和支出可获得更贴合您能力的方案。"
        en += " Declare monthly income and expenses for plans that fit your means."
    return Explanation(zh_CN=zh, en=en)
