"""Inputs and outputs of the repayment planner as validated pydantic models.

Owns: the debt, the borrower's signals, the lender's policy, and the plans proposed.
Money is integer cents (分) throughout; rates and shares are :class:`~decimal.Decimal`.
Pure: no I/O, no web or CLI imports.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from collectguard.repayment.caps import CostCap

__all__ = [
    "BorrowerProfile",
    "Debt",
    "Explanation",
    "Installment",
    "LenderPolicy",
    "PaymentHistory",
    "PlanProposal",
    "PlanRequest",
    "RepaymentPlan",
]

HISTORY_MONTHS = 6
PlanLabel = Literal["best_recovery", "most_likely_to_complete", "alternative"]
RiskSource = Literal["model", "base_rate", "given"]
DEFAULT_TERM_OPTIONS: tuple[int, ...] = (1, 3, 6, 9, 12, 18, 24, 36, 48, 60)


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Debt(_Strict):
    """What the borrower owes today, split the way a court would look at it."""

    principal_cents: int = Field(gt=0, description="Outstanding principal in cents (分).")
    interest_cents: int = Field(ge=0, description="Accrued, unpaid interest in cents.")
    fees_cents: int = Field(ge=0, description="Penalties and fees in cents.")
    loan_start: dt.date = Field(description="Date the loan was drawn; the cost cap runs from it.")
    currency: str = Field(default="CNY", min_length=3, max_length=3, pattern=r"^[A-Z]{3}$")

    @property
    def charges_cents(self) -> int:
        """Interest plus fees: everything beyond the principal."""
        return self.interest_cents + self.fees_cents


class PaymentHistory(_Strict):
    """Six months of card-style behaviour, most recent month first.

    The same shape as the Taiwan credit-default data the capacity model learned from:
    ``statuses`` use its codes (-2 no consumption, -1 paid in full, 0 revolving credit,
    1..9 months of delay); amounts are whole currency units.
    """

    credit_limit: int = Field(gt=0, description="Credit limit, whole currency units.")
    statuses: list[int] = Field(description="Repayment status per month, newest first (-2..9).")
    bills: list[int] = Field(description="Statement amount per month, newest first.")
    payments: list[int] = Field(description="Amount paid per month, newest first (>= 0).")

    @model_validator(mode="after")
    def _six_months(self) -> Self:
        for name in ("statuses", "bills", "payments"):
            values: list[int] = getattr(self, name)
            if len(values) != HISTORY_MONTHS:
                raise ValueError(
                    f"{name} must list exactly {HISTORY_MONTHS} months (newest first), "
                    f"got {len(values)}"
                )
        bad = [s for s in self.statuses if not -2 <= s <= 9]
        if bad:
            raise ValueError(f"statuses must be between -2 and 9, got {bad}")
        if any(p < 0 for p in self.payments):
            raise ValueError("payments must not be negative")
        return self


class BorrowerProfile(_Strict):
    """The borrower's signals; every part is optional and its absence is explained."""

    history: PaymentHistory | None = None
    monthly_income_cents: int | None = Field(default=None, ge=0)
    monthly_expenses_cents: int | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _expenses_need_income(self) -> Self:
        if self.monthly_expenses_cents is not None and self.monthly_income_cents is None:
            raise ValueError("monthly_expenses_cents is given but monthly_income_cents is not")
        return self

    @property
    def disposable_cents(self) -> int | None:
        """Declared income minus declared expenses; ``None`` when no income is declared."""
        if self.monthly_income_cents is None:
            return None
        return self.monthly_income_cents - (self.monthly_expenses_cents or 0)


class LenderPolicy(_Strict):
    """What the lender allows a plan to be. Validation errors name the field at fault."""

    max_term_months: int = Field(default=24, ge=1, le=120)
    min_installment_cents: int = Field(default=10_000, ge=0)
    max_waiver_share_of_charges: Decimal = Field(
        default=Decimal("0.5"),
        ge=0,
        le=1,
        description="Largest share of interest + fees the lender may waive (0..1).",
    )
    max_principal_waiver_share: Decimal = Field(
        default=Decimal(0),
        ge=0,
        le=Decimal("0.5"),
        description="Largest share of principal the lender may waive (0..0.5).",
    )
    plan_annual_rate: Decimal = Field(
        default=Decimal(0),
        ge=0,
        le=1,
        description="Simple annual interest charged on the declining balance during the plan.",
    )
    affordability_share: Decimal = Field(
        default=Decimal("0.4"),
        gt=0,
        le=1,
        description="An instalment may take at most this share of disposable income.",
    )
    cost_cap: CostCap | None = Field(
        default=None, description="Ceiling on the overall cost of credit; none when not set."
    )
    term_options: tuple[int, ...] = Field(default=DEFAULT_TERM_OPTIONS, min_length=1)
    max_plans: int = Field(default=4, ge=3, le=5)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if any(t < 1 for t in self.term_options):
            raise ValueError(f"term_options must be positive months, got {self.term_options}")
        if self.cost_cap is not None and self.plan_annual_rate > self.cost_cap.annual_rate:
            raise ValueError(
                f"plan_annual_rate {self.plan_annual_rate} exceeds the cost cap "
                f"{self.cost_cap.annual_rate} ({self.cost_cap.name})"
            )
        return self

    def terms(self) -> tuple[int, ...]:
        """Terms the optimizer tries: the options within the maximum, plus the maximum."""
        return tuple(
            sorted(
                {t for t in self.term_options if t <= self.max_term_months} | {self.max_term_months}
            )
        )


class Installment(_Strict):
    due: dt.date
    amount_cents: int = Field(ge=0)


class Explanation(_Strict):
    """The same explanation in both languages (zh-CN first)."""

    zh_CN: str
    en: str


class RepaymentPlan(_Strict):
    """One concrete plan with the figures a borrower and a lender need to compare it."""

    term_months: int
    monthly_amount_cents: int = Field(description="The largest (regular) instalment.")
    installments: list[Installment]
    total_paid_cents: int
    waiver_cents: int = Field(description="Charges and principal waived under the policy.")
    principal_waiver_cents: int
    plan_interest_cents: int
    excess_cost_removed_cents: int = Field(
        description="Cost above the lawful maximum, removed because it must not be collected."
    )
    lawful_max_cents: int | None = Field(description="Principal plus the capped overall cost.")
    installment_share_of_disposable: float | None
    affordable: bool | None = Field(description="None when no income was declared.")
    completion_probability: float
    expected_recovery_cents: int
    label: PlanLabel
    explanation: Explanation


class PlanProposal(_Strict):
    """The optimizer's answer: ranked plans, or an explained empty list."""

    as_of: dt.date
    currency: str
    default_probability: float = Field(description="Calibrated probability of default next month.")
    risk_source: RiskSource
    plans: list[RepaymentPlan]
    no_plan_reason: Explanation | None
    summary: Explanation


class PlanRequest(_Strict):
    """Everything needed to propose plans; the date is explicit, never "today" by default."""

    as_of: dt.date = Field(description="Day the plan is agreed; first instalment a month later.")
    debt: Debt
    borrower: BorrowerProfile = Field(default_factory=BorrowerProfile)
    policy: LenderPolicy = Field(default_factory=LenderPolicy)
    default_probability: float | None = Field(
        default=None,
        ge=0,
        le=1,
        description="Override the model's risk estimate (0..1); normally left empty.",
    )
