"""Findings: the explained unit of every analysis result.

A `Finding` says what fired (rule or detector id), where (a span into the ORIGINAL text),
on which cue, with which citation, and how much it contributed to a score. Violations,
scam cues and collection cues are all findings; the verdict is derived from them.

Pure data: imports nothing from the rest of the package.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

Span = tuple[int, int]
"""Half-open [start, end) character offsets into the original message text."""

FindingKind = Literal["violation", "scam_cue", "collection_cue", "genuine_cue", "info"]

VIOLATION_CODES: tuple[str, ...] = (
    "threat",
    "insult",
    "third_party_disclosure",
    "contacts_relatives_or_employer",
    "false_legal_claim",
    "impersonates_authority",
    "pay_to_personal_account",
    "phishing_link",
    "night_time",
    "excessive_frequency",
    "other",
)


SEVERITY_LABELS: dict[str, tuple[str, str]] = {
    "crime": ("可能涉嫌犯罪", "Possibly a crime"),
    "illegal": ("违法", "Unlawful"),
    "regulatory": ("违反监管规定", "Breaks regulation"),
    "standard": ("违反国家标准", "Breaks the national standard"),
    "self_regulatory": ("违反行业自律规则", "Breaks self-regulatory rules"),
}
"""A violation's severity in words, (zh-CN, English): letters, case findings, web pages."""


class Finding(BaseModel):
    """One explained observation about a message."""

    model_config = ConfigDict(frozen=True)

    kind: FindingKind
    rule_id: str
    code: str | None = None
    """Violation code (see VIOLATION_CODES) for kind == "violation"; else a cue name."""
    span: Span | None = None
    evidence: str | None = None
    """The original text under `span` (or a description when there is no span)."""
    cue: str
    """What fired: the lexicon term, pattern name or registry check, in plain words."""
    score: float = 0.0
    """Contribution to the score of its kind (collection, scam), 0 for plain violations."""
    citation: str | None = None
    binding: str | None = None
    severity: str | None = None
    jurisdiction: str | None = None
