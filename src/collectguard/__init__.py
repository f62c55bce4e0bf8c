"""collectguard: analyse debt-collection messages (催收短信) against one open rule set.

The public Python API is curated here; everything else is private and may change.

    >>> from collectguard import Analyzer
    >>> result = Analyzer.default().check("【招联金融】您的借款已逾期3天，请及时还款。")
    >>> result.is_collection
    True
"""

from collectguard._version import __version__
from collectguard.analyze.analyzer import Analyzer
from collectguard.analyze.result import CheckInput, CheckResult
from collectguard.errors import (
    CollectguardError,
    InputError,
    RegistryError,
    RulePackError,
)
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
