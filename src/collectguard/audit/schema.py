"""The communication-event schema of an audit log, and its fast per-row validator.

`AuditEvent` documents the schema (pydantic; `AuditEvent.model_json_schema()` is published in
docs/audit.md). `validate_row` is the hot path used by the readers: it checks one raw row
(strings, as read from CSV / JSONL / Parquet) and returns the normalized values or raises
`RowError` with a reason a person can act on. Pure: no I/O.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field

from collectguard.gateway.models import PreferredHours, phone_key
from collectguard.gateway.timewin import zone

Channel = Literal["sms", "call", "ai_voice", "email", "app_push", "visit"]
Role = Literal["debtor", "guarantor", "emergency_contact", "third_party"]
Direction = Literal["outbound", "inbound"]
Outcome = Literal["delivered", "failed", "answered", "conversation", "objected"]

CHANNELS: frozenset[str] = frozenset(Channel.__args__)  # type: ignore[attr-defined]
ROLES: frozenset[str] = frozenset(Role.__args__)  # type: ignore[attr-defined]
DIRECTIONS: frozenset[str] = frozenset(Direction.__args__)  # type: ignore[attr-defined]
OUTCOMES: frozenset[str] = frozenset(Outcome.__args__)  # type: ignore[attr-defined]
JURISDICTIONS: frozenset[str] = frozenset({"cn", "us"})
THIRD_PARTIES: tuple[str, ...] = ("emergency_contact", "third_party")

REQUIRED_COLUMNS: tuple[str, ...] = (
    "event_id",
    "occurred_at",
    "debtor_id",
    "debt_id",
    "recipient_role",
    "recipient_phone",
    "recipient_timezone",
    "channel",
    "direction",
    "outcome",
    "agent_id",
    "team",
    "agency",
    "jurisdiction",
)
OPTIONAL_COLUMNS: tuple[str, ...] = (
    "text",
    "state",
    "night_consent",
    "preferred_hours",
    "lender_id",
    "product",
    "responds_to_request",
    "call_consent_at",
    "call_consent_days",
)
COLUMNS: tuple[str, ...] = REQUIRED_COLUMNS + OPTIONAL_COLUMNS

_ID = re.compile(r"^[A-Za-z0-9_.:\-]{1,128}$")
_PHONE = re.compile(r"^\+?[0-9 ()\-]{3,31}$")
_STATE = re.compile(r"^[A-Z]{2}$")
_HOURS = re.compile(r"^\s*([01]\d|2[0-3]):([0-5]\d)\s*-\s*([01]\d|2[0-3]):([0-5]\d)\s*$")
TRUE_TEXT = frozenset({"true", "t", "yes", "y", "1"})
FALSE_TEXT = frozenset({"false", "f", "no", "n", "0"})
"""How a yes/no column may be written (case-insensitive); empty is no."""
MAX_TEXT = 20_000
MAX_CONSENT_DAYS = 7
"""The longest prior consent to calls (Reg F 1006.14(b)(3)(i): 7 consecutive days); also the
period when a log gives `call_consent_at` without `call_consent_days` (the gateway's default)."""
_EPOCH = dt.date(1970, 1, 1)
_EPOCH_UTC = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_US = dt.timedelta(microseconds=1)


class AuditEvent(BaseModel):
    """One communication event of a collection log (a message sent, a call placed or
    received, a voice-bot call, a visit). Field names are the column names of CSV / Parquet
    and the keys of JSONL."""

    model_config = ConfigDict(extra="forbid")

    event_id: str = Field(pattern=_ID.pattern, description="unique in the log")
    occurred_at: dt.datetime = Field(
        description="ISO-8601 instant WITH a UTC offset, e.g. 2026-01-05T10:00:00+08:00"
    )
    debtor_id: str = Field(pattern=_ID.pattern)
    debt_id: str = Field(pattern=_ID.pattern)
    recipient_role: Role = Field(description="who was contacted (or who contacted us)")
    recipient_phone: str = Field(description="number or address; counters key on its digits")
    recipient_timezone: str = Field(description="IANA zone of the recipient, e.g. Asia/Shanghai")
    channel: Channel
    direction: Direction = Field(description="outbound = by the collector; inbound = to it")
    outcome: Outcome = Field(
        description="delivered (message delivered / call rang unanswered), failed (not sent / "
        "not connected), answered, conversation, objected (the recipient asked to stop)"
    )
    agent_id: str = Field(pattern=_ID.pattern)
    team: str = Field(min_length=1, max_length=128)
    agency: str = Field(min_length=1, max_length=128)
    jurisdiction: Literal["cn", "us"]
    text: str | None = Field(default=None, max_length=MAX_TEXT, description="message/transcript")
    state: str | None = Field(default=None, pattern=_STATE.pattern, description="US state")
    night_consent: bool | None = Field(
        default=None,
        description="the debtor's consent to contact outside the legal hours was on file when "
        "this contact was made (the gateway's `night_consent`); empty = no consent. Where the "
        "policy window says `consent_lifts` (cn and us as shipped), such a contact WITH THE "
        "DEBTOR is not a time-window violation; the consent is the debtor's own and never "
        "covers a guarantor or third party",
    )
    preferred_hours: Annotated[str, Field(pattern=_HOURS.pattern)] | PreferredHours | None = Field(
        default=None,
        description="the debtor's preferred contact hours on file, local wall clock "
        "'HH:MM-HH:MM' (start < end; JSONL may also give the gateway's {start, end} object). "
        "A contact with the debtor or a guarantor outside them is `policy.lender_hours`",
    )
    lender_id: str | None = Field(
        default=None,
        pattern=_ID.pattern,
        description="the lender; selects the policy overlays for this lender (as the gateway)",
    )
    product: str | None = Field(
        default=None,
        pattern=_ID.pattern,
        description="the product; selects the policy overlays for this product (as the gateway)",
    )
    responds_to_request: bool | None = Field(
        default=None,
        description="this call answered the recipient's own request (for information or for a "
        "call) given directly to the collector (the gateway's `responds_to_request`); empty = "
        "no. Where the policy has `excluded_calls.person_request` (us as shipped) such a call "
        "is an excluded call: it neither counts toward nor is judged by the caps marked "
        "`excludable` (Reg F 7-in-7 and after-conversation), though a conversation on it "
        "still blocks later calls; other caps (Massachusetts, CN) still count it",
    )
    call_consent_at: dt.datetime | None = Field(
        default=None,
        description="when the debtor gave prior consent to calls directly to the collector, "
        "as on file when this contact was made (the gateway's `call_consent_at`): ISO-8601 "
        "instant WITH a UTC offset (a naive time is rejected); empty = no such consent. Where "
        "the policy has `excluded_calls.prior_consent` (us as shipped: 7 days) a call to THE "
        "DEBTOR at or after it, on day 1…N in the recipient's zone (day 1 = the local day the "
        "consent was given), is an excluded call (see `responds_to_request`); the consent is "
        "the debtor's own and never covers a guarantor or third party",
    )
    call_consent_days: int | None = Field(
        default=None,
        ge=1,
        le=MAX_CONSENT_DAYS,
        description="days the consent in `call_consent_at` covers, counting the day it was "
        "given (the gateway's `call_consent_days`): 1–7, fewer when the debtor consented for "
        "a shorter period; N is then the shorter of this and the policy's days. Empty = 7 "
        "(Reg F caps the period at 7 consecutive days)",
    )


class RowError(ValueError):
    """A row that cannot be audited; the message names the field and what is wrong."""


_ZONES: dict[str, ZoneInfo | None] = {}
_PHONES: dict[str, str] = {}


def _phone_key(phone: str) -> str:
    try:
        return _PHONES[phone]
    except KeyError:
        if len(_PHONES) > 1_000_000:
            _PHONES.clear()
        key = _PHONES[phone] = phone_key(phone)
        return key


def _zone(name: str) -> ZoneInfo | None:
    try:
        return _ZONES[name]
    except KeyError:
        z = zone(name)
        _ZONES[name] = z
        return z


def _text(row: dict[str, Any], key: str) -> str:
    v = row.get(key)
    if v is None:
        raise RowError(f"{key}: missing")
    if not isinstance(v, str):
        v = str(v)
    v = v.strip()
    if not v:
        raise RowError(f"{key}: empty")
    return v


def _ident(row: dict[str, Any], key: str) -> str:
    v = row.get(key)
    if v.__class__ is str and _ID.fullmatch(v):  # fast path: a clean id
        return v
    v = _text(row, key)
    if not _ID.fullmatch(v):
        raise RowError(f"{key}: {v[:40]!r} is not an id (letters, digits, _.:- ; ≤128)")
    return v


_SEEN_IDS: set[str] = set()
"""Values of the few-valued id columns (agent, lender, product) already found valid."""


def _few_ident(row: dict[str, Any], key: str) -> str:
    v = row.get(key)
    if v.__class__ is str and v in _SEEN_IDS:
        return v
    v = _ident(row, key)
    if len(_SEEN_IDS) > 100_000:
        _SEEN_IDS.clear()
    _SEEN_IDS.add(v)
    return v


def _opt_ident(row: dict[str, Any], key: str) -> str | None:
    v = row.get(key)
    if v is None:
        return None
    if v.__class__ is str and (v in _SEEN_IDS or _ID.fullmatch(v)):
        if len(_SEEN_IDS) > 100_000:
            _SEEN_IDS.clear()
        _SEEN_IDS.add(v)
        return v
    v = str(v).strip()
    if not v:
        return None
    if not _ID.fullmatch(v):
        raise RowError(f"{key}: {v[:40]!r} is not an id (letters, digits, _.:- ; ≤128)")
    return v


def _flag(row: dict[str, Any], key: str) -> bool:
    """A yes/no column: empty = False."""
    v = row.get(key)
    if v is None or v is False:
        return False
    if v is True:
        return True
    if isinstance(v, int) and v in (0, 1):
        return bool(v)
    s = str(v).strip().lower()
    if not s or s in FALSE_TEXT:
        return False
    if s in TRUE_TEXT:
        return True
    raise RowError(f"{key}: {s[:20]!r} is not true/false (or 1/0, yes/no)")


_HOURS_SEEN: dict[str, tuple[int, int]] = {}


def _preferred(row: dict[str, Any]) -> tuple[int, int] | tuple[None, None]:
    v = row.get("preferred_hours")
    if v is None:
        return None, None
    if v.__class__ is str and v in _HOURS_SEEN:
        return _HOURS_SEEN[v]
    if isinstance(v, dict):  # the gateway's shape: {"start": "09:00", "end": "18:00"}
        v = f"{v.get('start')}-{v.get('end')}"
    elif not isinstance(v, str):
        v = str(v)
    if not v.strip():
        return None, None
    m = _HOURS.match(v)
    if m is None:
        raise RowError(f"preferred_hours: {v[:40]!r} is not HH:MM-HH:MM (e.g. 09:00-18:00)")
    h1, m1, h2, m2 = (int(x) for x in m.groups())
    start, end = h1 * 60 + m1, h2 * 60 + m2
    if start >= end:
        raise RowError(f"preferred_hours: {v.strip()!r} needs start < end (same local day)")
    if len(_HOURS_SEEN) < 10_000:
        _HOURS_SEEN[v] = (start, end)
    return start, end


def _instant(value: Any, key: str) -> tuple[dt.datetime, str]:
    """An ISO-8601 instant with a UTC offset (a naive time is never guessed)."""
    if isinstance(value, dt.datetime):
        at, raw = value, value.isoformat()
    else:
        raw = value if isinstance(value, str) else str(value)
        raw = raw.strip()
        try:
            at = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError:
            raise RowError(f"{key}: {raw[:40]!r} is not an ISO-8601 date-time") from None
    if at.tzinfo is None:
        raise RowError(
            f"{key}: {raw[:40]!r} has no UTC offset (write e.g. +08:00); "
            "a naive time is never guessed"
        )
    return at, raw


def _call_consent(row: dict[str, Any], tz: ZoneInfo) -> tuple[int, int] | tuple[None, None]:
    """`call_consent_at` as (instant in µs since the epoch, the recipient's local day of it)."""
    v = row.get("call_consent_at")
    if v is None or (isinstance(v, str) and not v.strip()):
        return None, None
    at, _ = _instant(v, "call_consent_at")
    return (at - _EPOCH_UTC) // _US, (at.astimezone(tz).date() - _EPOCH).days


def _consent_days(row: dict[str, Any]) -> int | None:
    """`call_consent_days`: a whole number 1–7, or None when empty."""
    v = row.get("call_consent_days")
    if v is None or (v.__class__ is int and 1 <= v <= MAX_CONSENT_DAYS):
        return v
    s = str(v).strip()
    if not s:
        return None
    if not s.isascii() or not s.isdigit() or not 1 <= int(s) <= MAX_CONSENT_DAYS:
        raise RowError(
            f"call_consent_days: {s[:20]!r} is not a whole number of days from 1 to "
            f"{MAX_CONSENT_DAYS}"
        )
    return int(s)


def _choice(row: dict[str, Any], key: str, allowed: frozenset[str]) -> str:
    v = row.get(key)
    if v in allowed:  # fast path: already canonical
        return v  # type: ignore[no-any-return]
    v = _text(row, key).lower()
    if v not in allowed:
        raise RowError(f"{key}: {v[:40]!r} is not one of {', '.join(sorted(allowed))}")
    return v


Normalized = tuple[Any, ...]
"""(event_id, occurred_at, ts_us, local_day, local_minute, local_weekday, debtor_id, debt_id,
role, phone_key, timezone, channel, direction, outcome, agent_id, team, agency, jurisdiction,
text, state, night_consent, pref_start, pref_end, lender_id, product, responds_to_request,
consent_ts, consent_day, consent_days) — the order of `NORMALIZED_FIELDS`."""

NORMALIZED_FIELDS: tuple[str, ...] = (
    "event_id",
    "occurred_at",
    "ts",
    "local_day",
    "local_minute",
    "local_weekday",
    "debtor_id",
    "debt_id",
    "role",
    "phone_key",
    "tz",
    "channel",
    "direction",
    "outcome",
    "agent_id",
    "team",
    "agency",
    "jurisdiction",
    "text",
    "state",
    "night_consent",
    "pref_start",
    "pref_end",
    "lender_id",
    "product",
    "responds_to_request",
    "consent_ts",
    "consent_day",
    "consent_days",
)


def validate_row(row: dict[str, Any]) -> Normalized:
    """Check one raw row and return its normalized values (see `NORMALIZED_FIELDS`).

    `ts` is the instant in microseconds since the epoch (UTC); `local_day` (days since
    1970-01-01), `local_minute` (0–1439) and `local_weekday` (ISO, 1 = Monday) are the
    recipient's wall clock — the clock the time-window and daily-cap rules speak of.
    `night_consent` and `responds_to_request` are bools (empty = False); `pref_start` /
    `pref_end` are the preferred hours in local minutes (None when not given); `consent_ts` /
    `consent_day` are `call_consent_at` as an instant (µs) and as the recipient's local day
    (None when not given); `consent_days` is `call_consent_days` (None when not given).
    """
    event_id = _ident(row, "event_id")
    value = row.get("occurred_at")
    at, raw_at = _instant(
        value if isinstance(value, dt.datetime) else _text(row, "occurred_at"), "occurred_at"
    )
    tz_name = _text(row, "recipient_timezone")
    tz = _zone(tz_name)
    if tz is None:
        raise RowError(f"recipient_timezone: unknown IANA zone {tz_name[:64]!r}")
    local = at.astimezone(tz)
    phone = row.get("recipient_phone")
    key = _PHONES.get(phone) if phone.__class__ is str else None  # seen: valid
    if key is None:
        phone = _text(row, "recipient_phone")
        if not _PHONE.match(phone):
            raise RowError("recipient_phone: must be digits, optionally with +, spaces, dashes")
        key = _phone_key(phone)
    team = _text(row, "team")
    agency = _text(row, "agency")
    if len(team) > 128 or len(agency) > 128:
        raise RowError("team/agency: longer than 128 characters")
    text = row.get("text")
    if text is not None and not isinstance(text, str):
        text = str(text)
    if text is not None:
        if "\ufffd" in text:
            raise RowError("text: contains U+FFFD (the file was decoded with losses)")
        if len(text) > MAX_TEXT:
            raise RowError(f"text: {len(text):,} characters; the limit is {MAX_TEXT:,}")
        if not text.strip():
            text = None
    state = row.get("state")
    if state is not None and not isinstance(state, str):
        state = str(state)
    if state is not None:
        state = state.strip().upper() or None
        if state is not None and not _STATE.match(state):
            raise RowError(f"state: {state[:10]!r} is not a two-letter US state code")
    pref_start, pref_end = _preferred(row)
    consent_ts, consent_day = _call_consent(row, tz)
    return (
        event_id,
        raw_at,
        (at - _EPOCH_UTC) // _US,
        (local.date() - _EPOCH).days,
        local.hour * 60 + local.minute,
        local.isoweekday(),
        _ident(row, "debtor_id"),
        _ident(row, "debt_id"),
        _choice(row, "recipient_role", ROLES),
        key,
        tz_name,
        _choice(row, "channel", CHANNELS),
        _choice(row, "direction", DIRECTIONS),
        _choice(row, "outcome", OUTCOMES),
        _few_ident(row, "agent_id"),
        team,
        agency,
        _choice(row, "jurisdiction", JURISDICTIONS),
        text,
        state,
        _flag(row, "night_consent"),
        pref_start,
        pref_end,
        _opt_ident(row, "lender_id"),
        _opt_ident(row, "product"),
        _flag(row, "responds_to_request"),
        consent_ts,
        consent_day,
        _consent_days(row),
    )
