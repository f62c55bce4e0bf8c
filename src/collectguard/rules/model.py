"""Schema of a rule pack: pydantic models validated when a pack is loaded.

A pack is data (YAML): its rules say what is a violation, with citations (each optionally
dated), binding force and in-force date; its signals are weighted cues that feed the
collection and scam scores.
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


_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_CONFIDENCE = re.compile(r"(high|medium|low)\b")


def _iso_date(v: object) -> object:
    """A date written as text must be ``YYYY-MM-DD`` and exist (YAML reads an unquoted one
    itself; see `pack._parse` for one that does not exist)."""
    if isinstance(v, dt.datetime):
        raise ValueError(f"{v.isoformat()} is a time, not a date: write YYYY-MM-DD")
    if isinstance(v, str):
        if not _ISO_DATE.fullmatch(v.strip()):
            raise ValueError(f"{v!r} is not a date: write it as YYYY-MM-DD (e.g. 2026-01-01)")
        try:
            return dt.date.fromisoformat(v.strip())
        except ValueError as exc:
            raise ValueError(f"{v!r} is not a date ({exc})") from None
    return v


class Citation(_Strict):
    """One instrument a rule cites, with the days it applies on when the reference gives them.

    In a pack a citation is either plain text (undated: taken to apply whenever the rule
    does) or a mapping::

        - text: "治安管理处罚法（2025修订）第50条"
          in_force: 2026-01-01          # first day it applies (optional)
          until: 2027-12-31             # last day it applies (optional)
          sources: ["https://…"]
          confidence: "medium-high [2nd]"  # as regulations.md words it, flags kept
          supersedes:                   # the earlier instrument, cited before in_force
            text: "治安管理处罚法（2012）第42条"
            in_force: 2006-03-01

    `supersedes` is not part of the rule's `citation` texts (what the analyzer and every
    per-message output cite: today's instrument); letters, which know each message's date,
    cite it for messages sent before this one's `in_force`. Its `until` defaults to the day
    before that and may not reach past it.
    """

    text: str
    in_force: dt.date | None = None
    until: dt.date | None = None
    sources: tuple[str, ...] = ()
    confidence: str | None = None
    supersedes: Citation | None = None

    @model_validator(mode="before")
    @classmethod
    def _plain_text(cls, data: object) -> object:
        if isinstance(data, str):
            return {"text": data}
        if not isinstance(data, dict | Citation):
            raise ValueError(
                "a citation is text, or a mapping with text (required), in_force, until, "
                f"sources, confidence and supersedes; got {type(data).__name__}"
            )
        return data

    @field_validator("in_force", "until", mode="before")
    @classmethod
    def _date(cls, v: object) -> object:
        return _iso_date(v)

    @field_validator("text")
    @classmethod
    def _has_text(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("citation text is empty")
        return v

    @field_validator("confidence")
    @classmethod
    def _confidence(cls, v: str | None) -> str | None:
        if v is not None and not _CONFIDENCE.match(v):
            raise ValueError(
                f"confidence {v!r} must start with high, medium or low "
                "(flags such as [mem] or [2nd] may follow)"
            )
        return v

    @model_validator(mode="after")
    def _dates_in_order(self) -> Citation:
        if self.in_force and self.until and self.until < self.in_force:
            raise ValueError(
                f"until {self.until} is before in_force {self.in_force} for {self.text!r}"
            )
        old = self.supersedes
        if old is not None:
            if self.in_force is None:
                raise ValueError(
                    f"{self.text!r} supersedes {old.text!r} but has no in_force date to say "
                    "from when"
                )
            last = self.in_force - dt.timedelta(days=1)
            if old.until is None:
                if old.in_force and old.in_force > last:
                    raise ValueError(f"{old.text!r} starts after {self.text!r} does")
                object.__setattr__(self, "supersedes", old.model_copy(update={"until": last}))
            elif old.until > last:
                raise ValueError(
                    f"{old.text!r} applies until {old.until}, past {self.text!r}'s in_force "
                    f"{self.in_force}"
                )
        return self

    @property
    def dated(self) -> bool:
        return self.in_force is not None or self.until is not None

    def applies_on(self, day: dt.date) -> bool:
        """Whether it was in force on `day` (an undated citation always is)."""
        return (self.in_force is None or day >= self.in_force) and (
            self.until is None or day <= self.until
        )

    def versions(self) -> tuple[Citation, ...]:
        """The instruments it superseded, oldest first, then itself."""
        older = self.supersedes.versions() if self.supersedes else ()
        return (*older, self)


def _text_of(entry: object) -> str:
    """The text of a `citation` entry as written (a bad entry is reported by `Citation`)."""
    if isinstance(entry, Citation):
        return entry.text
    if isinstance(entry, dict):
        return str(entry.get("text", ""))
    return entry if isinstance(entry, str) else repr(entry)


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
    """A checkable rule: a violation with its legal basis.

    `citation` holds the texts the pack cites (what the analyzer, the gateway and the audit
    join into a violation's citation); `citations` the same entries with their dates,
    sources and superseded instruments (`Citation`), in the same order. A pack writes only
    `citation`, each entry text or a mapping; both fields are filled from it.
    """

    id: str
    code: str
    title: Localized
    binding: Binding
    severity: str
    check: CheckKind
    citation: tuple[str, ...]
    citations: tuple[Citation, ...] = ()
    in_force: dt.date | None
    confidence: Literal["high", "medium", "low"]
    sources: tuple[str, ...] = ()
    sides: tuple[Literal["consumer", "lender"], ...] = ("consumer", "lender")
    explain: Localized
    detect: Detect
    enabled: bool = True
    notes: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _split_citations(cls, data: object) -> object:
        """``citation: [text | mapping, …]`` → `citation` (texts) and `citations` (dated)."""
        if not isinstance(data, dict) or "citations" in data:
            return data
        raw = data.get("citation")
        if not isinstance(raw, list | tuple):
            return data
        return {**data, "citation": [_text_of(c) for c in raw], "citations": raw}

    @field_validator("in_force", mode="before")
    @classmethod
    def _in_force_date(cls, v: object) -> object:
        return _iso_date(v)

    @model_validator(mode="after")
    def _citations_match(self) -> Rule:
        if tuple(c.text for c in self.citations) != self.citation:
            raise ValueError("citations must be the citation texts with their dates, in order")
        return self

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
