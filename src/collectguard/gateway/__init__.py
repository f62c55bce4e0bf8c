"""Lender side: the pre-send compliance gateway (放贷机构侧：发送前合规网关).

A lender's sending systems ask before every contact attempt — may this text go, may this call
be placed, to this person, now? — and get ``allow``, ``deny`` or ``defer`` (with
``not_before``), each reason carrying its rule id, citation and binding force.

Parts and what each owns:

- `policy` + ``policy.yaml``: windows, caps, party rules and their citations (data, not code);
- `models`: request/response/profile models, phone masking;
- `timewin`: local-time windows in the recipient's zone (DST-correct);
- `core`: the pure decision rules (no web, database or CLI code);
- `store` (SQLite) and `redis_store` (Redis): idempotency, attempts and atomic
  sliding-window check-and-reserve;
- `log`: the decision log on the shared hash-chained ledger, audit export;
- `service`: `Gateway`, which ties them together and fails closed;
- `http`: the FastAPI app (`create_app`); `cli`: the ``collectguard gateway`` commands.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# Exports load lazily, so that `collectguard.gateway.cli` (mounted in the main CLI) does not pull
# in SQLAlchemy, Redis or FastAPI until a gateway command actually runs.
_EXPORTS = {
    "ContactProfile": "models",
    "Decision": "models",
    "DecisionRequest": "models",
    "Reason": "models",
    "Recipient": "models",
    "ContentChecker": "core",
    "DecisionLog": "log",
    "Gateway": "service",
    "Policy": "policy",
    "default_policy": "policy",
    "load_policy": "policy",
    "SqlStateStore": "store",
    "StateStore": "store",
    "StoreUnavailable": "store",
    "UnknownAttempt": "store",
}

if TYPE_CHECKING:
    from collectguard.gateway.core import ContentChecker
    from collectguard.gateway.log import DecisionLog
    from collectguard.gateway.models import (
        ContactProfile,
        Decision,
        DecisionRequest,
        Reason,
        Recipient,
    )
    from collectguard.gateway.policy import Policy, default_policy, load_policy
    from collectguard.gateway.service import Gateway
    from collectguard.gateway.store import (
        SqlStateStore,
        StateStore,
        StoreUnavailable,
        UnknownAttempt,
    )


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'collectguard.gateway' has no attribute {name!r}")
    return getattr(importlib.import_module(f"collectguard.gateway.{module}"), name)


__all__ = [
    "ContactProfile",
    "ContentChecker",
    "Decision",
    "DecisionLog",
    "DecisionRequest",
    "Gateway",
    "Policy",
    "Reason",
    "Recipient",
    "SqlStateStore",
    "StateStore",
    "StoreUnavailable",
    "UnknownAttempt",
    "default_policy",
    "load_policy",
]
