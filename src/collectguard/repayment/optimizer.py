"""The repayment-plan optimizer: lawful, affordable plans ranked by expected recovery.

Owns: candidate generation over (term, waiver), the lawful-cost ceiling, the affordability
constraint, the completion model and the ranking. Pure and deterministic: money is integer
cents, rates are :class:`~decimal.Decimal`, the date is an argument and the default
probability comes in as a number (see :mod:`collectguard.repayment.capacity`). Imports no
web, CLI or model code.

Completion model (a stated heuristic, not learned — there is no public data on plan
outcomes): the capacity model's calibrated probability ``p`` of defaulting next month is
the monthly hazard at a burden equal to the policy's affordability share; a lighter burden
lowers it linearly down to a quarter of ``p``::

    share  = instalment / disposable income           (1.0 × affordability share if unknown)
    hazard = p × (0.25 + 0.75 × share / affordability_share)
    P(complete) = (1 − hazard) ** term
    E[recovery] = Σ_k instalment_k × (1 − hazard) ** k

So a larger capacity (more disposable income or a lower ``p``) never lowers any plan's
completion probability or expected recovery and never removes a plan from the affordable
set — the best plan can only get better.
"""

from __future__ import annotations

import datetime as dt
from calendar import monthrange
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal

from collectguard.repayment.caps import cap_basis
from collectguard.repayment.explain import explain_no_plan, explain_plan, explain_summary
from collectguard.repayment.models import (
    BorrowerProfile,
    Debt,
    Installment,
    LenderPolicy,
    PlanLabel,
    PlanProposal,
    RepaymentPlan,
    RiskSource,
)

__all__ = ["add_months", "lawful_max_cents", "monthly_hazard", "propose_plans"]

_WAIVER_STEPS = (Decimal(0), Decimal("0.25"), Decimal("0.5"), Decimal("0.75"), Decimal(1))
_MIN_HAZARD = 0.0005
_MAX_HAZARD = 0.99


def add_months(day: dt.date, months: int) -> dt.date:
    """The same day ``months`` later, clamped to the month's last day (Jan 31 → Feb 28)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return dt.date(year, month, min(day.day, monthrange(year, month)[1]))


def _floor_cents(value: Decimal) -> int:
    return int(value.to_integral_value(rounding=ROUND_FLOOR))


def lawful_max_cents(debt: Debt, policy: LenderPolicy, last_due: dt.date) -> int | None:
    """Principal plus the most the cost cap allows from loan start to ``last_due``.

    Floored to the cent, so rounding can only favour the borrower.
    """
    if policy.cost_cap is None:
        return None
    days = max((last_due - debt.loan_start).days, 0)
    allowed = Decimal(debt.principal_cents) * policy.cost_cap.annual_rate * days / 365
    return debt.principal_cents + _floor_cents(allowed)


def monthly_hazard(
    default_probability: float, share: float | None, affordability_share: Decimal
) -> float:
    """Monthly chance of dropping out of a plan (see the module docstring)."""
    ratio = 1.0 if share is None else share / float(affordability_share)
    hazard = default_probability * (0.25 + 0.75 * ratio)
    return min(max(hazard, _MIN_HAZARD), _MAX_HAZARD)


@dataclass(frozen=True)
class _Candidate:
    term: int
    amounts: tuple[int, ...]
    dues: tuple[dt.date, ...]
    charges_waiver: int
    principal_waiver: int
    plan_interest: int
    excess_removed: int
    lawful_max: int | None
    share: float | None
    affordable: bool | None
    completion: float
    recovery: int

    @property
    def total(self) -> int:
        return sum(self.amounts)

    def rank_key(self) -> tuple[int, float, int, int]:
        # Highest expected recovery first; ties broken towards completion, then shorter,
        # then less waived — all deterministic.
        return (-self.recovery, -self.completion, self.term, self.charges_waiver)


def _split(total: int, term: int) -> tuple[int, ...]:
    base, extra = divmod(total, term)
    return tuple(base + 1 if k < extra else base for k in range(term))


def _build(
    debt: Debt,
    borrower: BorrowerProfile,
    policy: LenderPolicy,
    as_of: dt.date,
    default_probability: float,
    term: int,
    charges_step: Decimal,
    principal_step: Decimal,
) -> _Candidate | None:
    charges_waiver = _floor_cents(
        Decimal(debt.charges_cents) * policy.max_waiver_share_of_charges * charges_step
    )
    principal_waiver = _floor_cents(
        Decimal(debt.principal_cents) * policy.max_principal_waiver_share * principal_step
    )
    principal_due = debt.principal_cents - principal_waiver
    charges = debt.charges_cents - charges_waiver
    # Simple interest on a balance falling in equal steps: average balance (n+1)/2n.
    plan_interest = _floor_cents(Decimal(principal_due) * policy.plan_annual_rate * (term + 1) / 24)
    dues = tuple(add_months(as_of, k) for k in range(1, term + 1))
    lawful_max = lawful_max_cents(debt, policy, dues[-1])
    excess = 0
    total = principal_due + charges + plan_interest
    if lawful_max is not None and total > lawful_max:
        excess = total - lawful_max
        # Remove plan interest first, then old charges; never principal (cap >= 0 above it).
        cut_interest = min(excess, plan_interest)
        plan_interest -= cut_interest
        charges -= excess - cut_interest
        total = lawful_max
    amounts = _split(total, term)
    if term > 1 and min(amounts) < policy.min_installment_cents:
        return None
    disposable = borrower.disposable_cents
    share: float | None = None
    affordable: bool | None = None
    if disposable is not None:
        limit = _floor_cents(Decimal(max(disposable, 0)) * policy.affordability_share)
        affordable = max(amounts) <= limit
        if not affordable:
            return None
        share = max(amounts) / disposable
    hazard = monthly_hazard(default_probability, share, policy.affordability_share)
    survive = 1.0 - hazard
    completion = survive**term
    recovery = round(sum(a * survive ** (k + 1) for k, a in enumerate(amounts)))
    return _Candidate(
        term=term,
        amounts=amounts,
        dues=dues,
        charges_waiver=charges_waiver,
        principal_waiver=principal_waiver,
        plan_interest=plan_interest,
        excess_removed=excess,
        lawful_max=lawful_max,
        share=share,
        affordable=affordable,
        completion=completion,
        recovery=recovery,
    )


def _candidates(
    debt: Debt,
    borrower: BorrowerProfile,
    policy: LenderPolicy,
    as_of: dt.date,
    default_probability: float,
) -> list[_Candidate]:
    principal_steps = _WAIVER_STEPS if policy.max_principal_waiver_share > 0 else (Decimal(0),)
    found: list[_Candidate] = []
    for term in policy.terms():
        for charges_step in _WAIVER_STEPS:
            for principal_step in principal_steps:
                # Principal is waived only once all waivable charges are.
                if principal_step > 0 and charges_step < 1:
                    continue
                cand = _build(
                    debt,
                    borrower,
                    policy,
                    as_of,
                    default_probability,
                    term,
                    charges_step,
                    principal_step,
                )
                if cand is not None:
                    found.append(cand)
    return found


def _select(cands: list[_Candidate], k: int) -> list[tuple[_Candidate, PlanLabel]]:
    ranked = sorted(cands, key=_Candidate.rank_key)
    if not ranked:
        return []
    chosen: list[tuple[_Candidate, PlanLabel]] = [(ranked[0], "best_recovery")]
    likely = min(ranked, key=lambda c: (-c.completion, *c.rank_key()))
    if likely is not ranked[0]:
        chosen.append((likely, "most_likely_to_complete"))
    used_terms = {c.term for c, _ in chosen}
    # Fill with the best plan of each other term, so the borrower sees real choices.
    for cand in ranked:
        if len(chosen) >= k:
            break
        if cand.term not in used_terms:
            chosen.append((cand, "alternative"))
            used_terms.add(cand.term)
    for cand in ranked:
        if len(chosen) >= k:
            break
        if all(cand is not c for c, _ in chosen):
            chosen.append((cand, "alternative"))
    return chosen


def propose_plans(
    debt: Debt,
    borrower: BorrowerProfile,
    policy: LenderPolicy,
    *,
    as_of: dt.date,
    default_probability: float,
    risk_source: RiskSource = "given",
) -> PlanProposal:
    """Propose up to ``policy.max_plans`` plans, best expected recovery first.

    ``as_of`` is the day the plan is agreed; the first instalment falls due a month later.
    ``default_probability`` is the calibrated monthly default risk (0..1).
    """
    if not 0.0 <= default_probability <= 1.0:
        raise ValueError(f"default_probability must be within 0..1, got {default_probability}")
    if as_of < debt.loan_start:
        raise ValueError(f"as_of {as_of} is before the loan start {debt.loan_start}")
    chosen = _select(
        _candidates(debt, borrower, policy, as_of, default_probability), policy.max_plans
    )
    plans = [
        RepaymentPlan(
            term_months=c.term,
            monthly_amount_cents=max(c.amounts),
            installments=[
                Installment(due=d, amount_cents=a) for d, a in zip(c.dues, c.amounts, strict=True)
            ],
            total_paid_cents=c.total,
            waiver_cents=c.charges_waiver + c.principal_waiver,
            principal_waiver_cents=c.principal_waiver,
            plan_interest_cents=c.plan_interest,
            excess_cost_removed_cents=c.excess_removed,
            lawful_max_cents=c.lawful_max,
            installment_share_of_disposable=c.share,
            affordable=c.affordable,
            completion_probability=c.completion,
            expected_recovery_cents=c.recovery,
            label=label,
            explanation=explain_plan(
                term=c.term,
                monthly_cents=max(c.amounts),
                total_cents=c.total,
                waiver_cents=c.charges_waiver + c.principal_waiver,
                excess_cents=c.excess_removed,
                share=c.share,
                affordability_share=policy.affordability_share,
                completion=c.completion,
                label=label,
                currency=debt.currency,
                cap_name=None if policy.cost_cap is None else policy.cost_cap.name,
                cap_basis=None if policy.cost_cap is None else cap_basis(policy.cost_cap),
            ),
        )
        for c, label in chosen
    ]
    return PlanProposal(
        as_of=as_of,
        currency=debt.currency,
        default_probability=default_probability,
        risk_source=risk_source,
        plans=plans,
        no_plan_reason=None if plans else explain_no_plan(borrower, policy),
        summary=explain_summary(
            default_probability=default_probability,
            risk_source=risk_source,
            n_plans=len(plans),
            income_declared=borrower.disposable_cents is not None,
        ),
    )
