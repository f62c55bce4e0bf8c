"""Schema of a rule pack: pydantic models validated when a pack is loaded.

A pack is data (YAML): its rules say what is a violation, with citation, binding force and
in-force date; its signals are weighted cues that feed the collection and scam scores.
Pure data: imports nothing from the rest of the package except `findings`.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from collectguard.findings import VIOLATION_CODES

Binding = Literal[
    "law",
    "admin_regulation",
    "dept_rule",
    "national_standard_recommended",
    "self_regulatory",
    "judicial_interpretation",
    "practice",
]
CheckKind = Literal[
    "content_prohibited",
    "content_required",
    "time_window",
    "rate_limit",
    "party_restriction",
    "process",
    "record_keeping",
    "info",
]
Builtin = Literal[
    "night_time",
    "insult_model",
    "phishing_link",
    "lookalike_link",
    "authority_link",
    "authority_impersonation",
    "personal_sender",
    "registry_mismatch",
    "offdomain_link",
    "missing_collector_disclosure",
    "missing_opt_out",
    "frequency",
]
HISTORY_BUILTINS = frozenset({"frequency"})
"""Builtins no single message can trigger: the locker, gateway and audit judge them over
many contacts; their fixtures are timelines (`<pack>.history-fixtures.yaml`)."""
Context = Literal["any", "collection", "scam", "collection_or_scam"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Localized(_Strict):
    zh: str
    en: str


class Detect(_Strict):
    """How a rule or signal fires on a message.

    `terms` are literal strings matched in the compact normalized text (Aho–Corasick);
    `patterns` are regular expressions searched in the compact text (for English packs the
    compact text keeps single spaces between words, so write ``\\b`` where it matters).
    `unless` patterns, searched in the same clause as the hit, cancel it (negations and
    warnings such as ``请勿``/``不会索取``); with `unless_scope: message` they are searched in the
    whole message instead. `builtin` names a detector implemented in code
    that needs extracted entities, the registry or the time (see `collectguard.detect`).
    `context` restricts the rule to messages judged collection, scam (score at the scam
    threshold), either (``collection_or_scam``: collection, or a scam score at least
    `suspicious`), or anything.
    """

    terms: tuple[str, ...] = ()
    patterns: tuple[str, ...] = ()
    unless: tuple[str, ...] = ()
    unless_scope: Literal["clause", "message"] = "clause"
    builtin: Builtin | None = None
    context: Context = "any"
    params: dict[str, str | int | float | bool | list[str]] = Field(default_factory=dict)

    @field_validator("patterns", "unless")
    @classmethod
    def _compiles(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for p in v:
            try:
                re.compile(p)
            except re.error as exc:
                raise ValueError(f"pattern {p!r} does not compile: {exc}") from exc
        return v

    @model_validator(mode="after")
    def _fires_somehow(self) -> Detect:
        if not (self.terms or self.patterns or self.builtin):
            raise ValueError("detect needs at least one of terms, patterns or builtin")
        return self


class Rule(_Strict):
    """A checkable rule: a violation with its legal basis."""

    id: str
    code: str
    title: Localized
    binding: Binding
    severity: str
    check: CheckKind
    citation: tuple[str, ...]
    in_force: dt.date | None
    confidence: Literal["high", "medium", "low"]
    sources: tuple[str, ...] = ()
    sides: tuple[Literal["consumer", "lender"], ...] = ("consumer", "lender")
    explain: Localized
    detect: Detect
    enabled: bool = True
    notes: str | None = None

    @field_validator("code")
    @classmethod
    def _known_code(cls, v: str) -> str:
        if v not in VIOLATION_CODES:
            raise ValueError(
                f"unknown violation code {v!r}; use one of {', '.join(VIOLATION_CODES)}"
            )
        return v

    @field_validator("id")
    @classmethod
    def _id_shape(cls, v: str) -> str:
        if not re.fullmatch(r"[a-z]{2}(-[a-z]{2})?(\.[a-z0-9_]+)+", v):
            raise ValueError(f"rule id {v!r} must look like 'cn.content.threat_violence'")
        return v


class Signal(_Strict):
    """A weighted cue for the collection or scam score (not a violation by itself)."""

    id: str
    kind: Literal["collection", "scam", "genuine"]
    weight: float
    explain: Localized
    detect: Detect


class Thresholds(_Strict):
    collection_bias: float = -2.0
    scam_bias: float = -2.5
    collection: float = 0.5
    scam: float = 0.5
    suspicious: float = 0.3


class RulePackFile(_Strict):
    """One YAML file: a pack or an overlay (`extends` names the pack it tightens)."""

    pack: str
    version: str
    jurisdiction: str
    languages: tuple[str, ...]
    timezone: str | None = None
    """Zone for a receive time given without offset or zone; None: such a time is not judged."""
    title: Localized
    extends: str | None = None
    thresholds: Thresholds = Thresholds()
    evasions: dict[str, str] = Field(default_factory=dict)
    signals: tuple[Signal, ...] = ()
    rules: tuple[Rule, ...] = ()

    @model_validator(mode="after")
    def _unique_ids(self) -> RulePackFile:
        seen: set[str] = set()
        items: list[Signal | Rule] = [*self.signals, *self.rules]
        for item in items:
            if item.id in seen:
                raise ValueError(f"duplicate id {item.id!r}")
            seen.add(item.id)
        return self
