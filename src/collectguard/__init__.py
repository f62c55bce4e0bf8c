"""collectguard: analyse debt-collection messages (催收短信) against one open rule set.

The public Python API is curated here; everything else is private and may change.

    >>> from collectguard import Analyzer
    >>> result = Analyzer.default().check("【招联金融】您的借款已逾期3天，请及时还款。")
    >>> result.is_collection
    True

The analyzer and the result models are loaded on first use (PEP 562), so that importing
any part of the package (the CLI, the gateway, the evidence locker) does not pay for
compiling the rule packs, the extractors and the pydantic models it may never need.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from collectguard._version import __version__
from collectguard.errors import (
    CollectguardError,
    InputError,
    RegistryError,
    RulePackError,
)

if TYPE_CHECKING:
    from collectguard.analyze.analyzer import Analyzer
    from collectguard.analyze.result import CheckInput, CheckResult
    from collectguard.findings import Finding, Span

__all__ = [
    "Analyzer",
    "CheckInput",
    "CheckResult",
    "CollectguardError",
    "Finding",
    "InputError",
    "RegistryError",
    "RulePackError",
    "Span",
    "__version__",
]

# Public name → the module that defines it; imported on first access.
_LAZY: dict[str, str] = {
    "Analyzer": "collectguard.analyze.analyzer",
    "CheckInput": "collectguard.analyze.result",
    "CheckResult": "collectguard.analyze.result",
    "Finding": "collectguard.findings",
    "Span": "collectguard.findings",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
