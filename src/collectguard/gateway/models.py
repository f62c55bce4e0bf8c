"""Request, response and state models of the gateway (pydantic).

Owns the wire shapes: `DecisionRequest` → `Decision`, outcome reports, and the per-debtor
`ContactProfile` (consent, preferred hours, opt-outs, cease, attorney, objections). Pure.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from collectguard.gateway.policy import Channel, Role

Verdict = Literal["allow", "deny", "defer"]
Outcome = Literal["delivered", "answered", "conversation", "failed"]

_ID = r"^[A-Za-z0-9_.:\-]{1,128}$"
_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Recipient(_Model):
    role: Role
    phone: str | None = Field(
        default=None, max_length=32, description="the number (or address) contacted"
    )
    timezone: str | None = Field(
        default=None,
        max_length=64,
        description="IANA zone of the recipient; missing or unknown → deny (never guessed)",
    )

    @field_validator("phone")
    @classmethod
    def _phone(cls, v: str | None) -> str | None:
        if v is not None and not re.fullmatch(r"\+?[0-9 ()\-]{3,31}", v):
            raise ValueError("phone must be digits, optionally with +, spaces, dashes")
        return v


class DecisionRequest(_Model):
    """May this contact attempt go out now? One request per attempt."""

    debt_id: str = Field(pattern=_ID)
    debtor_id: str = Field(pattern=_ID)
    recipient: Recipient
    channel: Channel
    text: str | None = Field(default=None, max_length=20_000)
    template_id: str | None = Field(default=None, pattern=_ID)
    variables: dict[str, str | int | float] = Field(default_factory=dict)
    agent_id: str = Field(pattern=_ID)
    planned_at: dt.datetime | None = Field(
        default=None, description="ISO-8601 with offset; default: the gateway's clock"
    )
    idempotency_key: str = Field(pattern=r"^[A-Za-z0-9_.:\-]{1,200}$")
    jurisdiction: Literal["cn", "us"]
    state: str | None = Field(default=None, pattern=r"^[A-Z]{2}$", description="US state, e.g. MA")
    lender_id: str | None = Field(
        default=None, pattern=_ID, description="selects the lender's policy overlays"
    )
    product: str | None = Field(
        default=None, pattern=_ID, description="selects the product's policy overlays"
    )
    responds_to_request: bool = Field(
        default=False,
        description="this call answers the recipient's own request for information or for a "
        "call, made directly to the collector within the last 7 days (its day = day 1). US: "
        "such a call is placed with the person's prior consent and does not count toward the "
        "Reg F call frequencies (12 CFR 1006.14(b)(3)(i)); the decision notes it and the "
        "flag is logged with the request. Other caps (Massachusetts, CN) still count the call",
    )

    @field_validator("planned_at")
    @classmethod
    def _aware(cls, v: dt.datetime | None) -> dt.datetime | None:
        if v is not None and v.tzinfo is None:
            raise ValueError("planned_at needs a UTC offset (e.g. 2026-01-05T10:00:00+08:00)")
        return v

    @model_validator(mode="after")
    def _text_or_template(self) -> DecisionRequest:
        if self.text is not None and self.template_id is not None:
            raise ValueError("give text or template_id, not both")
        if self.channel in ("sms", "email", "app_push") and (
            self.text is None and self.template_id is None
        ):
            raise ValueError(f"channel {self.channel} needs text or template_id")
        return self


class Reason(BaseModel):
    rule_id: str
    code: str
    citation: str
    binding: str
    message_zh: str
    message_en: str
    fix: str = ""


class Decision(BaseModel):
    decision: Verdict
    not_before: dt.datetime | None = None
    reasons: list[Reason] = Field(default_factory=list)
    rule_pack: str
    policy_version: str
    overlays: list[str] = Field(
        default_factory=list, description="policy overlays in force for this decision"
    )
    decision_id: str
    attempt_id: str | None = Field(
        default=None, description="set when allowed: report the outcome against it"
    )
    dry_run: bool = False
    would_have: Verdict | None = Field(
        default=None, description="dry-run: what the gateway would have answered"
    )
    replayed: bool = False
    evaluated_at: dt.datetime
    notes: list[str] = Field(
        default_factory=list,
        description="e.g. planned_at_in_past: the sender's clock lags; judged at the gateway's",
    )


class OutcomeReport(_Model):
    outcome: Outcome


class PreferredHours(_Model):
    start: str
    end: str

    @field_validator("start", "end")
    @classmethod
    def _hhmm(cls, v: str) -> str:
        if not _HHMM.match(v):
            raise ValueError("time must be HH:MM")
        return v

    @model_validator(mode="after")
    def _ordered(self) -> PreferredHours:
        if self.start >= self.end:
            raise ValueError("preferred hours need start < end (same local day)")
        return self


class ContactProfile(_Model):
    """What the lender knows about one debtor's contact wishes and status. Consents here are
    the debtor's own: they never extend to a guarantor, emergency contact or other person."""

    night_consent: bool = Field(
        default=False,
        description="the debtor agreed to contact outside the legal hours; lifts the legal "
        "window (where the policy says consent_lifts) for contacts with the debtor only, "
        "never for a guarantor, emergency contact or other third party",
    )
    call_consent_at: dt.datetime | None = Field(
        default=None,
        description="when the debtor gave prior consent to further calls directly to the "
        "collector (ISO-8601 with offset). US: calls to the debtor from then on, on the day it "
        "was given (day 1) through day 7 in the debtor's zone, do not count toward the Reg F "
        "call frequencies (12 CFR 1006.14(b)(3)(i)); null = no such consent, and clearing it "
        "ends the consent early (revoked)",
    )
    call_consent_days: int = Field(
        default=7,
        ge=1,
        le=7,
        description="days the consent in call_consent_at covers, counting the day it was "
        "given: fewer than 7 when the debtor consented for a shorter period (Reg F caps the "
        "period at 7 consecutive days)",
    )
    preferred_hours: PreferredHours | None = None
    opted_out_channels: list[Channel] = Field(default_factory=list)
    cease_communication: bool = False
    attorney_represented: bool = False
    debtor_unreachable: bool = False
    objected_contacts: list[str] = Field(
        default_factory=list, description="phones of third parties who objected"
    )

    @field_validator("call_consent_at")
    @classmethod
    def _aware(cls, v: dt.datetime | None) -> dt.datetime | None:
        if v is not None and v.tzinfo is None:
            raise ValueError("call_consent_at needs a UTC offset (e.g. 2026-12-01T10:00:00-05:00)")
        return v

    def objected(self, phone: str | None) -> bool:
        if phone is None:
            return False
        key = phone_key(phone)
        return any(phone_key(p) == key for p in self.objected_contacts)


def phone_key(phone: str) -> str:
    """Digits only, with a leading + kept: the identity of a number for counters."""
    digits = re.sub(r"\D", "", phone)
    return ("+" if phone.strip().startswith("+") else "") + digits


def phone_hash(phone: str) -> str:
    return hashlib.sha256(phone_key(phone).encode()).hexdigest()[:24]


def mask_phone(phone: str | None) -> str | None:
    """Keep the first 3 and last 2 digits: 13812345678 → 138******78."""
    if phone is None:
        return None
    d = phone_key(phone)
    plus = d.startswith("+")
    d = d.lstrip("+")
    if len(d) <= 5:
        return ("+" if plus else "") + "*" * len(d)
    return ("+" if plus else "") + d[:3] + "*" * (len(d) - 5) + d[-2:]


_PHONE_IN_TEXT = re.compile(r"(?<!\d)(\+?\d[\d \-]{5,18}\d)(?!\d)")


def mask_text(text: str) -> str:
    """Mask phone-like digit runs (7+ digits) in free text."""

    def sub(m: re.Match[str]) -> str:
        s = m.group(1)
        if len(re.sub(r"\D", "", s)) < 7:
            return s
        return mask_phone(s) or s

    return _PHONE_IN_TEXT.sub(sub, text)
