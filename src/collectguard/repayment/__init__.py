"""Repayment capacity and personalised repayment plans (the lender's side).

Owns: the capacity model (:class:`CapacityModel`, trained reproducibly from the Taiwan
credit-default data and shipped as a small file), the plan optimizer
(:func:`propose_plans`: lawful, affordable plans ranked by expected recovery), the zh-CN /
English explanations, and the one-call :func:`plan`. The CLI (:mod:`.cli`) and HTTP
router (:mod:`.http`) live beside it and are not imported here.

The optimizer and models need only pydantic; :class:`CapacityModel` and :func:`plan`
need the ``model`` extra (numpy, LightGBM) and are imported on first use.

    >>> import datetime as dt
    >>> from collectguard.repayment import (
    ...     CN_JUDICIAL_24, BorrowerProfile, Debt, LenderPolicy, propose_plans)
    >>> proposal = propose_plans(
    ...     Debt(principal_cents=1_000_000, interest_cents=150_000, fees_cents=0,
    ...          loan_start=dt.date(2025, 1, 10)),
    ...     BorrowerProfile(monthly_income_cents=600_000, monthly_expenses_cents=350_000),
    ...     LenderPolicy(cost_cap=CN_JUDICIAL_24),
    ...     as_of=dt.date(2026, 3, 1), default_probability=0.1)
    >>> len(proposal.plans) >= 1
    True
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from collectguard.repayment.caps import (
    CN_ABSOLUTE_36,
    CN_JUDICIAL_24,
    CostCap,
    cn_private_lending_4x_lpr,
)
from collectguard.repayment.explain import format_money
from collectguard.repayment.models import (
    BorrowerProfile,
    Debt,
    Explanation,
    Installment,
    LenderPolicy,
    PaymentHistory,
    PlanProposal,
    PlanRequest,
    RepaymentPlan,
)
from collectguard.repayment.optimizer import lawful_max_cents, propose_plans

if TYPE_CHECKING:
    from collectguard.repayment.capacity import CapacityModel
    from collectguard.repayment.planner import plan

__all__ = [
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
]


def __getattr__(name: str) -> Any:
    # numpy/LightGBM are optional: load the model side only when asked for.
    if name == "CapacityModel":
        from collectguard.repayment.capacity import CapacityModel

        return CapacityModel
    if name == "plan":
        from collectguard.repayment.planner import plan

        return plan
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
