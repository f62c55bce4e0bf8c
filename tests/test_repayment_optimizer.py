"""Unit and property tests of the repayment plan optimizer (pure; no data, no model)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from collectguard.repayment import (
    CN_ABSOLUTE_36,
    CN_JUDICIAL_24,
    BorrowerProfile,
    Debt,
    LenderPolicy,
    PaymentHistory,
    cn_private_lending_4x_lpr,
    format_money,
    lawful_max_cents,
    propose_plans,
)
from collectguard.repayment.caps import cap_basis
from collectguard.repayment.optimizer import add_months, monthly_hazard

AS_OF = dt.date(2026, 3, 1)
DEBT = Debt(
    principal_cents=1_000_000,
    interest_cents=150_000,
    fees_cents=80_000,
    loan_start=dt.date(2025, 1, 10),
)
BORROWER = BorrowerProfile(monthly_income_cents=600_000, monthly_expenses_cents=350_000)
POLICY = LenderPolicy(cost_cap=CN_JUDICIAL_24)


def test_typical_proposal_is_explained_and_consistent() -> None:
    proposal = propose_plans(DEBT, BORROWER, POLICY, as_of=AS_OF, default_probability=0.1)
    assert 3 <= len(proposal.plans) <= POLICY.max_plans
    assert proposal.plans[0].label == "best_recovery"
    recoveries = [p.expected_recovery_cents for p in proposal.plans]
    assert recoveries[0] == max(recoveries)
    for plan in proposal.plans:
        assert sum(i.amount_cents for i in plan.installments) == plan.total_paid_cents
        assert len(plan.installments) == plan.term_months
        assert plan.installments[0].due == dt.date(2026, 4, 1)
        assert plan.affordable is True
        assert plan.monthly_amount_cents <= 250_000 * 0.4
        assert "元" in plan.explanation.zh_CN and "CNY" in plan.explanation.en
        assert plan.explanation.zh_CN.startswith(("综合", "最容易", "备选"))


def test_same_input_same_output() -> None:
    a = propose_plans(DEBT, BORROWER, POLICY, as_of=AS_OF, default_probability=0.2)
    b = propose_plans(DEBT, BORROWER, POLICY, as_of=AS_OF, default_probability=0.2)
    assert a == b


def test_cost_above_the_cap_is_removed_and_said() -> None:
    # 50 % of principal in charges after a year is above the 24 % line.
    debt = Debt(
        principal_cents=100_000,
        interest_cents=40_000,
        fees_cents=30_000,
        loan_start=dt.date(2025, 3, 1),
    )
    policy = LenderPolicy(
        cost_cap=CN_JUDICIAL_24, max_waiver_share_of_charges=Decimal(0), min_installment_cents=0
    )
    proposal = propose_plans(
        debt, BorrowerProfile(), policy, as_of=dt.date(2025, 9, 1), default_probability=0.1
    )
    one = next(p for p in proposal.plans if p.term_months == 1)
    assert one.lawful_max_cents is not None
    assert one.total_paid_cents == one.lawful_max_cents < 170_000
    assert one.excess_cost_removed_cents == 170_000 - one.total_paid_cents
    assert "不得收取" in one.explanation.zh_CN and "must not be collected" in one.explanation.en
    # the cap's basis, as the borrower may cite it, with its source and whether it is verified
    zh_basis, en_basis = cap_basis(CN_JUDICIAL_24)
    assert f"（{zh_basis}）" in one.explanation.zh_CN and f"({en_basis})" in one.explanation.en
    assert "未核实" in one.explanation.zh_CN and "unverified" in one.explanation.en
    assert "来源：" in one.explanation.zh_CN and "source: " in one.explanation.en
    assert one.affordable is None and "未提供收入" in one.explanation.zh_CN


def test_lawful_max_is_floored_simple_interest_on_principal() -> None:
    debt = DEBT.model_copy(update={"loan_start": dt.date(2025, 1, 1)})
    # 365 days at 24 % on 10,000.00 → 2,400.00
    assert lawful_max_cents(debt, POLICY, dt.date(2026, 1, 1)) == 1_000_000 + 240_000
    assert lawful_max_cents(debt, LenderPolicy(), dt.date(2026, 1, 1)) is None


def test_no_affordable_plan_is_explained() -> None:
    broke = BorrowerProfile(monthly_income_cents=300_000, monthly_expenses_cents=300_000)
    proposal = propose_plans(DEBT, broke, POLICY, as_of=AS_OF, default_probability=0.1)
    assert proposal.plans == []
    assert proposal.no_plan_reason is not None
    assert "困难" in proposal.no_plan_reason.zh_CN and "hardship" in proposal.no_plan_reason.en
    tight = BorrowerProfile(monthly_income_cents=50_000)
    proposal = propose_plans(DEBT, tight, POLICY, as_of=AS_OF, default_probability=0.1)
    assert proposal.plans == [] and proposal.no_plan_reason is not None
    assert "最长 24 期" in proposal.no_plan_reason.zh_CN


def test_principal_waiver_only_after_all_charges() -> None:
    policy = LenderPolicy(
        cost_cap=CN_JUDICIAL_24,
        max_waiver_share_of_charges=Decimal(1),
        max_principal_waiver_share=Decimal("0.2"),
    )
    low = BorrowerProfile(monthly_income_cents=200_000, monthly_expenses_cents=150_000)
    proposal = propose_plans(DEBT, low, policy, as_of=AS_OF, default_probability=0.1)
    for plan in proposal.plans:
        if plan.principal_waiver_cents:
            assert plan.waiver_cents - plan.principal_waiver_cents == DEBT.charges_cents
            assert plan.principal_waiver_cents <= 200_000


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        (dt.date(2026, 1, 31), 1, dt.date(2026, 2, 28)),
        (dt.date(2028, 1, 31), 1, dt.date(2028, 2, 29)),
        (dt.date(2026, 11, 15), 3, dt.date(2027, 2, 15)),
        (dt.date(2026, 12, 31), 12, dt.date(2027, 12, 31)),
    ],
)
def test_add_months(day: dt.date, months: int, expected: dt.date) -> None:
    assert add_months(day, months) == expected


def test_caps_carry_citations() -> None:
    # Sources and confidence of each cap: tests/test_repayment_caps.py.
    for cap in (CN_JUDICIAL_24, CN_ABSOLUTE_36):
        assert cap.citation and cap.source
    assert CN_JUDICIAL_24.annual_rate == Decimal("0.24")
    assert cn_private_lending_4x_lpr(Decimal("0.031")).annual_rate == Decimal("0.124")


def test_policy_errors_say_what_is_wrong() -> None:
    with pytest.raises(ValidationError, match="exceeds the cost cap"):
        LenderPolicy(cost_cap=CN_JUDICIAL_24, plan_annual_rate=Decimal("0.3"))
    with pytest.raises(ValidationError, match="max_term_months"):
        LenderPolicy(max_term_months=0)
    with pytest.raises(ValidationError, match="term_options must be positive"):
        LenderPolicy(term_options=(0, 3))
    with pytest.raises(ValidationError, match="exactly 6 months"):
        PaymentHistory(credit_limit=1000, statuses=[0] * 5, bills=[0] * 6, payments=[0] * 6)
    with pytest.raises(ValidationError, match="between -2 and 9"):
        PaymentHistory(credit_limit=1000, statuses=[12] * 6, bills=[0] * 6, payments=[0] * 6)
    with pytest.raises(ValidationError, match="monthly_income_cents is not"):
        BorrowerProfile(monthly_expenses_cents=100)
    with pytest.raises(ValueError, match="before the loan start"):
        propose_plans(DEBT, BORROWER, POLICY, as_of=dt.date(2024, 1, 1), default_probability=0.1)
    with pytest.raises(ValueError, match=r"within 0\.\.1"):
        propose_plans(DEBT, BORROWER, POLICY, as_of=AS_OF, default_probability=1.5)


def test_format_money() -> None:
    assert format_money(123_456) == "1,234.56 元"
    assert format_money(5, lang="en") == "CNY 0.05"
    assert format_money(-100, "USD") == "USD -1.00"


def test_hazard_is_monotone_in_burden_and_risk() -> None:
    share = Decimal("0.4")
    assert monthly_hazard(0.2, 0.1, share) < monthly_hazard(0.2, 0.3, share)
    assert monthly_hazard(0.1, 0.3, share) < monthly_hazard(0.2, 0.3, share)
    assert monthly_hazard(0.2, None, share) == pytest.approx(0.2)


# --- properties -----------------------------------------------------------------------

money = st.integers(min_value=1, max_value=50_000_000)
debts = st.builds(
    Debt,
    principal_cents=money,
    interest_cents=st.integers(0, 30_000_000),
    fees_cents=st.integers(0, 10_000_000),
    loan_start=st.dates(dt.date(2020, 1, 1), dt.date(2026, 1, 1)),
)
policies = st.builds(
    LenderPolicy,
    max_term_months=st.integers(1, 60),
    min_installment_cents=st.integers(0, 100_000),
    max_waiver_share_of_charges=st.decimals(0, 1, places=2),
    max_principal_waiver_share=st.decimals(0, "0.5", places=2),
    plan_annual_rate=st.decimals(0, "0.12", places=3),
    affordability_share=st.decimals("0.05", 1, places=2),
    cost_cap=st.sampled_from(
        [CN_JUDICIAL_24, CN_ABSOLUTE_36, cn_private_lending_4x_lpr(Decimal("0.031"))]
    ),
)
risks = st.floats(0.0, 1.0, allow_nan=False)
incomes = st.one_of(st.none(), st.integers(0, 5_000_000))


@settings(max_examples=150, deadline=None)
@given(debt=debts, policy=policies, risk=risks, income=incomes)
def test_total_paid_never_exceeds_lawful_maximum(
    debt: Debt, policy: LenderPolicy, risk: float, income: int | None
) -> None:
    borrower = BorrowerProfile(monthly_income_cents=income)
    proposal = propose_plans(
        debt, borrower, policy, as_of=dt.date(2026, 2, 1), default_probability=risk
    )
    assert len(proposal.plans) <= policy.max_plans
    for plan in proposal.plans:
        assert plan.lawful_max_cents is not None
        assert plan.total_paid_cents <= plan.lawful_max_cents
        assert plan.total_paid_cents == sum(i.amount_cents for i in plan.installments)
        assert plan.total_paid_cents >= debt.principal_cents - plan.principal_waiver_cents
        assert plan.waiver_cents - plan.principal_waiver_cents <= (
            debt.charges_cents * policy.max_waiver_share_of_charges
        )
        assert plan.term_months <= policy.max_term_months
        if plan.term_months > 1:
            assert min(i.amount_cents for i in plan.installments) >= policy.min_installment_cents
        if income is not None:
            assert plan.monthly_amount_cents <= income * policy.affordability_share
        assert 0.0 <= plan.completion_probability <= 1.0


@settings(max_examples=150, deadline=None)
@given(
    debt=debts,
    policy=policies,
    risk=risks,
    risk_drop=st.floats(0.0, 1.0),
    income=st.integers(0, 5_000_000),
    extra=st.integers(0, 5_000_000),
)
def test_larger_capacity_never_yields_a_worse_best_plan(
    debt: Debt, policy: LenderPolicy, risk: float, risk_drop: float, income: int, extra: int
) -> None:
    def best(income: int, risk: float) -> tuple[int, float] | None:
        proposal = propose_plans(
            debt,
            BorrowerProfile(monthly_income_cents=income),
            policy,
            as_of=dt.date(2026, 2, 1),
            default_probability=risk,
        )
        if not proposal.plans:
            return None
        top = proposal.plans[0]
        likely = max(p.completion_probability for p in proposal.plans)
        return top.expected_recovery_cents, likely

    before = best(income, risk)
    after = best(income + extra, risk * risk_drop)
    if before is not None:
        assert after is not None
        assert after[0] >= before[0]
        assert after[1] >= before[1] - 1e-12
