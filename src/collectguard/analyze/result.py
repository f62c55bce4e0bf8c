"""Input and output models of one check — the stable "contract of a check" in DESIGN.md.

`CheckInput` is what a caller gives (text, sender, received_at, optional timezone and
jurisdiction; extra fields are passed through). `CheckResult.to_contract()` is the JSON object
the batch CLI writes per line.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, available_timezones

from pydantic import BaseModel, ConfigDict, Field, field_validator

from collectguard.findings import Finding, Span

Authenticity = Literal["genuine", "suspicious", "scam", "unknown"]

MAX_TEXT_CHARS = 1_000_000
"""Longest text accepted; longer input is an InputError rather than a slow silent check."""


def _zone_enum(schema: dict[str, Any]) -> None:
    """The JSON schema of a zone field lists the zones this machine knows (computed only
    when a schema is generated: listing them reads the tz database)."""
    schema["enum"] = sorted(available_timezones())


IanaZone = Annotated[str, Field(json_schema_extra=_zone_enum)]
"""An IANA time-zone name (Asia/Shanghai, America/New_York); checked by `CheckInput`."""


@lru_cache(maxsize=512)
def _is_zone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ValueError, KeyError, OSError):  # ZoneInfoNotFoundError is a KeyError
        return False
    return True


class CheckInput(BaseModel):
    """One message to check."""

    model_config = ConfigDict(extra="allow", frozen=True)

    text: str
    sender: str | None = None
    received_at: dt.datetime | dt.date | None = None
    """When the message arrived; a bare date (no time of day) is kept but never judged for hours."""
    timezone: IanaZone | None = Field(
        default=None, description="IANA zone of the recipient, e.g. Asia/Shanghai"
    )
    jurisdiction: str | None = Field(default=None, description="cn or us; inferred when absent")

    @field_validator("text")
    @classmethod
    def _bounded(cls, v: str) -> str:
        if len(v) > MAX_TEXT_CHARS:
            raise ValueError(
                f"text has {len(v):,} characters; the limit is {MAX_TEXT_CHARS:,} "
                "(split long transcripts into messages)"
            )
        return v

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, v: str | None) -> str | None:
        if v is not None and not _is_zone(v):
            raise ValueError(
                f"unknown time zone {v!r}; use an IANA name such as Asia/Shanghai or "
                "America/New_York (未知时区)"
            )
        return v

    @field_validator("jurisdiction")
    @classmethod
    def _lower(cls, v: str | None) -> str | None:
        return v.lower() if v else None


class Platform(BaseModel):
    """The organisation the message claims to come from."""

    claimed_name: str
    """The name as the message states it (signature or body)."""
    brand: str | None = None
    """The claimed name normalized (simplified Chinese, half-width)."""
    registry_name: str | None = None
    """The registry entry's display name when `id` is set."""
    id: str | None = None
    legal_name: str | None = None
    kind: str | None = None
    license_type: str | None = None
    confidence: float
    matched_by: list[str]
    span: Span | None = None


class Violation(BaseModel):
    code: str
    rule_id: str
    title: str
    span: Span | None
    evidence: str | None
    citation: str
    binding: str
    severity: str


class Advice(BaseModel):
    """One next step, zh-CN first, with the official channel it names (never from the message).
    Frozen: an analyzer hands the same steps to every result in the same situation."""

    model_config = ConfigDict(frozen=True)

    id: str
    text_zh: str
    text_en: str
    channel: str | None = None
    number: str | None = None
    url: str | None = None
    source: str | None = None
    confidence: str | None = None


class CheckResult(BaseModel):
    """Verdict for one message; every score and violation is backed by `findings`."""

    input: dict[str, Any]
    jurisdiction: str
    language: str
    rule_pack: str
    is_collection: bool
    collection_score: float
    platform: Platform | None
    authenticity: Authenticity
    scam_score: float
    violations: list[Violation]
    findings: list[Finding]
    advice: list[Advice]

    def to_contract(self) -> dict[str, Any]:
        """The JSON-ready object of the batch contract (DESIGN.md, "Contract of a check")."""
        return self.model_dump(mode="json")
