"""The one call that turns a :class:`PlanRequest` into a :class:`PlanProposal`.

Owns: joining the capacity model (risk) and the optimizer (plans). The shipped model is
loaded once and cached; tests and callers may pass their own. No web or CLI imports.
"""

from __future__ import annotations

from functools import lru_cache

from collectguard.repayment.capacity import CapacityModel
from collectguard.repayment.models import PlanProposal, PlanRequest, RiskSource
from collectguard.repayment.optimizer import propose_plans

__all__ = ["plan", "shipped_model"]


@lru_cache(maxsize=1)
def shipped_model() -> CapacityModel:
    """The model that ships with the package, loaded once per process."""
    return CapacityModel.load()


def plan(request: PlanRequest, *, model: CapacityModel | None = None) -> PlanProposal:
    """Propose plans for one borrower.

    The risk comes from ``request.default_probability`` when given, else from the
    model (shipped one by default) scoring the borrower's payment history, else from the
    model's base rate when no history is given.
    """
    source: RiskSource
    if request.default_probability is not None:
        p, source = request.default_probability, "given"
    else:
        p, source = (model or shipped_model()).default_probability(request.borrower.history)
    return propose_plans(
        request.debt,
        request.borrower,
        request.policy,
        as_of=request.as_of,
        default_probability=p,
        risk_source=source,
    )
