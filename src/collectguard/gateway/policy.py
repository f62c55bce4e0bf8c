"""Gateway policy: the windows, caps, party rules and citations the gateway enforces.

Owns the schema of `policy.yaml` (shipped beside this module) and its loading. Numbers and
citations live in the YAML, never in code. Pure: no web, database or CLI imports.
"""

from __future__ import annotations

import datetime as dt
import re
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from collectguard._yaml import safe_load as safe_yaml
from collectguard.errors import PolicyError

Channel = Literal["sms", "call", "ai_voice", "email", "app_push", "visit"]
Role = Literal["debtor", "guarantor", "emergency_contact", "third_party"]
CapKind = Literal[
    "effective_conversations",
    "unanswered_attempts",
    "calls_placed",
    "conversations_block",
    "messages",
]

_HHMM = re.compile(r"^([01]\d|2[0-4]):[0-5]\d$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Cited(_Strict):
    rule_id: str
    binding: str
    citation: str
    source_ref: tuple[str, ...] = ()
    pack_rule: str | None = None


class Window(Cited):
    """Allowed local hours [start, end) in the recipient's zone ("24:00" = end of day)."""

    start: str
    end: str
    consent_lifts: bool = True

    @field_validator("start", "end")
    @classmethod
    def _hhmm(cls, v: str) -> str:
        if not _HHMM.match(v) or (v.startswith("24") and v != "24:00"):
            raise ValueError(f"time must be HH:MM, got {v!r}")
        return v

    def minutes(self) -> tuple[int, int]:
        return _mins(self.start), _mins(self.end)


class LenderWindow(_Strict):
    start: str
    end: str
    citation: str = "lender policy"

    @field_validator("start", "end")
    @classmethod
    def _hhmm(cls, v: str) -> str:
        if not _HHMM.match(v):
            raise ValueError(f"time must be HH:MM, got {v!r}")
        return v


class Localized(_Strict):
    zh: str
    en: str


class Cap(_Strict):
    id: str
    what: CapKind
    channels: tuple[Channel, ...]
    roles: tuple[Role, ...]
    scope: Literal["debtor", "debt", "phone"]
    window_days: int = Field(ge=1, le=31)
    limit: int | None = Field(default=None, ge=1)
    states: tuple[str, ...] = ()
    excludable: bool = False
    """Calls excluded by the jurisdiction's `excluded_calls` do not count toward this cap
    (neither checked nor counted; a conversation on such a call still starts a
    `conversations_block`)."""
    binding: str
    citation: str
    source_ref: tuple[str, ...] = ()
    message: Localized


class PriorConsent(Cited):
    """Calls placed with the person's prior consent, given directly to the collector, on the
    day it was received (day 1) through day `days` in the recipient's zone."""

    days: int = Field(ge=1, le=31)


class ExcludedCalls(_Strict):
    """Calls that do not count toward the caps marked `excludable`: with the debtor's prior
    consent on file (`ContactProfile.call_consent_at`, calls to the debtor only), or
    answering the recipient's own request (`DecisionRequest.responds_to_request`)."""

    prior_consent: PriorConsent | None = None
    person_request: Cited | None = None


class Parties(_Strict):
    third_party_only_if_unreachable: Cited
    third_party_no_debt_details: Cited
    third_party_objected: Cited


class Stops(_Strict):
    opt_out: Cited
    cease_communication: Cited
    attorney_represented: Cited


class OptOutText(Cited):
    channels: tuple[Channel, ...]
    patterns: tuple[str, ...]


class JurisdictionPolicy(_Strict):
    rule_pack: str
    window: Window
    lender_window: LenderWindow | None = None
    quiet_weekdays: tuple[int, ...] = ()
    quiet_dates: tuple[dt.date, ...] = ()
    caps: tuple[Cap, ...] = ()
    excluded_calls: ExcludedCalls | None = None
    parties: Parties
    stops: Stops
    require_opt_out_text: OptOutText | None = None


class Overlay(_Strict):
    """A lender's or product's stricter settings, in force from `effective_from` (inclusive)
    to `effective_to` (exclusive). Overlays only tighten: a cap limit may only go down (or be
    set where the base has none); windows are intersected; quiet days are added."""

    id: str
    jurisdiction: Literal["cn", "us"]
    lender: str | None = None
    product: str | None = None
    effective_from: dt.date
    effective_to: dt.date | None = None
    lender_window: LenderWindow | None = None
    quiet_weekdays: tuple[int, ...] = ()
    quiet_dates: tuple[dt.date, ...] = ()
    cap_limits: dict[str, int] = Field(default_factory=dict)

    def matches(
        self, jurisdiction: str, lender: str | None, product: str | None, day: dt.date
    ) -> bool:
        return (
            self.jurisdiction == jurisdiction
            and (self.lender is None or self.lender == lender)
            and (self.product is None or self.product == product)
            and self.effective_from <= day
            and (self.effective_to is None or day < self.effective_to)
        )


class Policy(_Strict):
    version: str
    clock_skew_tolerance_s: int = Field(default=120, ge=0)
    jurisdictions: dict[Literal["cn", "us"], JurisdictionPolicy]
    overlays: tuple[Overlay, ...] = ()

    @model_validator(mode="after")
    def _overlays_only_tighten(self) -> Policy:
        for ov in self.overlays:
            base = {c.id: c for c in self.jurisdictions[ov.jurisdiction].caps}
            for cap_id, limit in ov.cap_limits.items():
                if cap_id not in base:
                    raise ValueError(f"overlay {ov.id}: unknown cap {cap_id!r}")
                if limit < 1:
                    raise ValueError(f"overlay {ov.id}: cap {cap_id} limit must be ≥ 1")
                current = base[cap_id].limit
                if current is not None and limit > current:
                    raise ValueError(
                        f"overlay {ov.id}: cap {cap_id} {limit} > {current}; overlays only tighten"
                    )
        return self

    def for_(self, jurisdiction: str) -> JurisdictionPolicy:
        return self.jurisdictions[jurisdiction]  # type: ignore[index]

    def resolve(
        self, jurisdiction: str, lender: str | None, product: str | None, day: dt.date
    ) -> tuple[JurisdictionPolicy, tuple[str, ...]]:
        """The jurisdiction's policy with every overlay in force on `day` for this lender and
        product applied, and the ids of those overlays."""
        jp = self.for_(jurisdiction)
        applied: list[str] = []
        for ov in self.overlays:
            if not ov.matches(jurisdiction, lender, product, day):
                continue
            applied.append(ov.id)
            caps = tuple(
                c.model_copy(update={"limit": min(ov.cap_limits[c.id], c.limit or 10**9)})
                if c.id in ov.cap_limits
                else c
                for c in jp.caps
            )
            window = jp.lender_window
            if ov.lender_window is not None:
                if window is None:
                    window = ov.lender_window
                else:
                    window = LenderWindow(
                        start=max(window.start, ov.lender_window.start),
                        end=min(window.end, ov.lender_window.end),
                        citation=f"{window.citation}; {ov.lender_window.citation}",
                    )
            jp = jp.model_copy(
                update={
                    "caps": caps,
                    "lender_window": window,
                    "quiet_weekdays": tuple(sorted({*jp.quiet_weekdays, *ov.quiet_weekdays})),
                    "quiet_dates": tuple(sorted({*jp.quiet_dates, *ov.quiet_dates})),
                }
            )
        return jp, tuple(applied)

    def with_sms_cap(self, jurisdiction: str, limit: int | None) -> Policy:
        """A copy with the SMS cap (`what: messages`) of one jurisdiction set to `limit`."""
        jp = self.for_(jurisdiction)
        caps = tuple(
            c.model_copy(update={"limit": limit}) if c.what == "messages" else c for c in jp.caps
        )
        juris = dict(self.jurisdictions)
        juris[jurisdiction] = jp.model_copy(update={"caps": caps})  # type: ignore[index]
        return self.model_copy(update={"jurisdictions": juris})


def _mins(hhmm: str) -> int:
    h, m = hhmm.split(":")
    return int(h) * 60 + int(m)


def load_policy(path: Path | str | None = None) -> Policy:
    """The shipped policy, or a lender's file with the same schema. A file that cannot be
    read or does not validate is a `PolicyError` naming the file and the fields at fault."""
    if path is None:
        return default_policy()
    try:
        data = safe_yaml(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyError(f"policy {path}: cannot read: {exc}") from None
    except yaml.YAMLError as exc:
        raise PolicyError(f"policy {path}: not valid YAML: {exc}") from None
    try:
        return Policy.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'policy'}: {e['msg']}" for e in exc.errors()
        )
        raise PolicyError(f"policy {path}: {problems}") from None


@lru_cache(maxsize=1)
def default_policy() -> Policy:
    raw = resources.files("collectguard.gateway").joinpath("policy.yaml").read_text("utf-8")
    return Policy.model_validate(safe_yaml(raw))
