"""The pure decision core: from a request, the debtor's contact profile, the policy and the
content verdict of the analyzer, decide deny / defer, or "allow if these caps hold".

Owns every rule of the gateway except the atomic counting itself (the state store does that
with the `CapCheck`s planned here). Imports no web, database or CLI code.

Consents in the profile are the debtor's own: night consent lifts the legal window, and prior
consent to calls excludes calls from the Reg F frequencies, for contacts with the debtor only
(`consent_lifts_window`, `excluded_calls`).
"""

from __future__ import annotations

import datetime as dt
import re
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Literal
from zoneinfo import ZoneInfo

from collectguard.analyze.analyzer import Analyzer
from collectguard.gateway.models import (
    ContactProfile,
    DecisionRequest,
    Outcome,
    Reason,
    Verdict,
    phone_hash,
)
from collectguard.gateway.policy import (
    Cap,
    CapKind,
    Cited,
    JurisdictionPolicy,
    Policy,
    Role,
)
from collectguard.gateway.timewin import local_midnight, next_allowed, zone

THIRD_PARTIES = ("emergency_contact", "third_party")
PHONE_CHANNELS = ("sms", "call", "ai_voice")

# What an outcome does to the counters of each cap kind (see `outcome_effects`).
# keep: the reservation stays; remove: it stops counting; add: it starts counting.
Effect = Literal["keep", "remove", "add"]
OUTCOME_EFFECTS: dict[CapKind, dict[Outcome, Effect]] = {
    # connected calls count as effective conversations (the stricter reading of GB/T 45251)
    "effective_conversations": {
        "delivered": "remove",
        "answered": "keep",
        "conversation": "keep",
        "failed": "remove",
    },
    "unanswered_attempts": {
        "delivered": "keep",
        "answered": "remove",
        "conversation": "remove",
        "failed": "keep",
    },
    # Reg F: calls that did not connect to the dialed number are not counted
    "calls_placed": {
        "delivered": "keep",
        "answered": "keep",
        "conversation": "keep",
        "failed": "remove",
    },
    "conversations_block": {
        "delivered": "keep",
        "answered": "keep",
        "conversation": "add",
        "failed": "keep",
    },
    "messages": {
        "delivered": "keep",
        "answered": "keep",
        "conversation": "keep",
        "failed": "remove",
    },
}


# ---------------------------------------------------------------------------- content
@dataclass(frozen=True)
class ContentVerdict:
    reasons: tuple[Reason, ...]
    mentions_debt: bool
    rule_pack: str


class ContentChecker:
    """The analyzer's content rules, cached per (text, jurisdiction): senders reuse templates."""

    def __init__(self, analyzer: Analyzer | None = None, cache_size: int = 4096) -> None:
        self.analyzer = analyzer or Analyzer.default()
        self._english = {
            r.id: (r.explain.en if r.explain else r.title.en)
            for pack in self.analyzer.packs.values()
            for r in pack.rules
        }
        self._check = lru_cache(maxsize=cache_size)(self._uncached)

    def rule_pack(self, jurisdiction: str) -> str:
        pack = self.analyzer.packs[jurisdiction]
        return f"{pack.name}@{pack.version}"

    def check(self, text: str, jurisdiction: str) -> ContentVerdict:
        return self._check(text, jurisdiction)

    def _uncached(self, text: str, jurisdiction: str) -> ContentVerdict:
        result = self.analyzer.check(text, jurisdiction=jurisdiction)  # thread-safe
        reasons = tuple(
            Reason(
                rule_id=v.rule_id,
                code=v.code,
                citation=v.citation,
                binding=v.binding,
                message_zh=f"内容违规：{v.title}" + (f"（“{v.evidence}”）" if v.evidence else ""),
                message_en=f"content: {self._english.get(v.rule_id, v.title)}"
                + (f' ("{v.evidence}")' if v.evidence else ""),
                fix="删除或改写被标出的措辞 / remove or rewrite the flagged wording",
            )
            for v in result.violations
            if v.code != "night_time"  # time is judged by the gateway in the recipient's zone
        )
        mentions_debt = result.is_collection or any(
            v.code in ("third_party_disclosure", "contacts_relatives_or_employer")
            for v in result.violations
        )
        return ContentVerdict(reasons, mentions_debt, result.rule_pack)


# ---------------------------------------------------------------------------- plan
@dataclass(frozen=True)
class CapCheck:
    """Count members of `key` with score in [min_score, max_score); pass iff count < limit.
    On allow, the attempt is added to the key when `add` is true."""

    cap_id: str
    what: CapKind
    key: str
    min_score: float
    max_score: float
    limit: int
    add: bool
    window_days: int


@dataclass(frozen=True)
class Plan:
    verdict: Verdict
    reasons: tuple[Reason, ...]
    not_before: dt.datetime | None
    at: dt.datetime
    tz: ZoneInfo | None
    checks: tuple[CapCheck, ...] = ()
    keys: tuple[tuple[CapKind, str], ...] = ()
    rule_pack: str = ""
    notes: tuple[str, ...] = field(default_factory=tuple)
    policy: JurisdictionPolicy | None = None
    overlays: tuple[str, ...] = ()


def _reason(
    cited: Cited, code: str, zh: str, en: str, fix: str = "", *, rule_id: str | None = None
) -> Reason:
    return Reason(
        rule_id=rule_id or cited.rule_id,
        code=code,
        citation=cited.citation,
        binding=cited.binding,
        message_zh=zh,
        message_en=en,
        fix=fix,
    )


def system_reason(code: str, zh: str, en: str, fix: str = "") -> Reason:
    return Reason(
        rule_id=f"gateway.{code}",
        code=code,
        citation="collectguard gateway (fail closed)",
        binding="system",
        message_zh=zh,
        message_en=en,
        fix=fix,
    )


def render_text(
    req: DecisionRequest, templates: Mapping[str, str]
) -> tuple[str | None, list[Reason]]:
    """The text to be sent: `text`, or the template filled with `variables`."""
    if req.template_id is None:
        return req.text, []
    tpl = templates.get(req.template_id)
    if tpl is None:
        return None, [
            system_reason(
                "template_unknown",
                f"未知模板 {req.template_id}",
                f"unknown template {req.template_id!r}",
                "先登记模板或直接提交 text / register the template or send text",
            )
        ]
    names = {f for _, f, _, _ in string.Formatter().parse(tpl) if f}
    missing = sorted(n for n in names if n not in req.variables)
    if missing:
        return None, [
            system_reason(
                "template_variables",
                f"模板缺少变量：{', '.join(missing)}",
                f"template variables missing: {', '.join(missing)}",
            )
        ]
    return tpl.format_map({k: str(v) for k, v in req.variables.items()}), []


def effective_time(planned_at: dt.datetime | None, now: dt.datetime) -> dt.datetime:
    """A send cannot happen in the past: a planned time behind the gateway clock (a sender's
    clock that lags) is judged at the gateway clock."""
    if planned_at is None or planned_at < now:
        return now
    return planned_at


def plan(
    req: DecisionRequest,
    profile: ContactProfile,
    policy: Policy,
    content: ContentChecker,
    now: dt.datetime,
    templates: Mapping[str, str] | None = None,
) -> Plan:
    at = effective_time(req.planned_at, now)
    tz = zone(req.recipient.timezone)
    day = at.astimezone(tz).date() if tz is not None else at.astimezone(dt.UTC).date()
    jp, overlays = policy.resolve(req.jurisdiction, req.lender_id, req.product, day)

    notes: list[str] = []
    if req.planned_at is not None and (now - req.planned_at).total_seconds() > (
        policy.clock_skew_tolerance_s
    ):
        notes.append("planned_at_in_past")
    deny: list[Reason] = []
    role = req.recipient.role
    third = role in THIRD_PARTIES
    if tz is None:
        deny.append(
            system_reason(
                "timezone_unknown",
                f"收件人时区缺失或无法识别（{req.recipient.timezone!r}），无法判断联系时间",
                f"recipient timezone missing or unknown ({req.recipient.timezone!r}); "
                "contact hours cannot be judged",
                "提供收件人的 IANA 时区，如 Asia/Shanghai、America/New_York / "
                "give the recipient's IANA zone",
            )
        )
    if req.channel in PHONE_CHANNELS and not req.recipient.phone:
        deny.append(
            system_reason("phone_missing", "电话或短信须提供号码", "calls and SMS need the number")
        )

    # --- stops: cease, attorney, opt-out
    stops = jp.stops
    if profile.cease_communication:
        deny.append(
            _reason(
                stops.cease_communication,
                "cease_communication",
                "债务人已要求停止联系",
                "the debtor asked that communication cease",
                "停止联系；仅可发送法律允许的终止/救济通知 / stop; only the notices the law allows",
            )
        )
    if profile.attorney_represented and not third:
        deny.append(
            _reason(
                stops.attorney_represented,
                "attorney_represented",
                "债务人已委托律师，应联系其律师",
                "the debtor is represented by an attorney; contact the attorney",
                "改为联系律师 / contact the attorney instead",
            )
        )
    if req.channel in profile.opted_out_channels and not third:
        deny.append(
            _reason(
                stops.opt_out,
                "opted_out",
                f"债务人已拒收该渠道（{req.channel}）",
                f"the debtor opted out of this channel ({req.channel})",
                "改用未拒收的渠道 / use a channel not opted out of",
            )
        )

    # --- third parties
    parties = jp.parties
    if third:
        if not profile.debtor_unreachable:
            deny.append(
                _reason(
                    parties.third_party_only_if_unreachable,
                    "third_party_contact",
                    "仅在无法联系债务人时才可联系联系人或第三人",
                    "third parties may be contacted only when the debtor cannot be reached",
                    "先联系债务人本人 / contact the debtor",
                )
            )
        if profile.objected(req.recipient.phone):
            deny.append(
                _reason(
                    parties.third_party_objected,
                    "third_party_objected",
                    "该联系人已拒绝或要求不再联系",
                    "this contact objected or asked not to be contacted again",
                    "不再联系此人 / do not contact this person again",
                )
            )

    # --- content
    text, tpl_reasons = render_text(req, templates or {})
    deny.extend(tpl_reasons)
    rule_pack = content.rule_pack(jp.rule_pack)
    if text is not None and text.strip():
        verdict = content.check(text, jp.rule_pack)
        deny.extend(verdict.reasons)
        if third and verdict.mentions_debt:
            deny.append(
                _reason(
                    parties.third_party_no_debt_details,
                    "third_party_disclosure",
                    "发给第三人的内容不得提及债务或逾期",
                    "a message to a third party must not mention the debt",
                    "只请其转达联系方式，不提债务 / ask only for contact, never the debt",
                )
            )
        opt = jp.require_opt_out_text
        if (
            opt is not None
            and req.channel in opt.channels
            and not any(re.search(p, text, re.IGNORECASE) for p in opt.patterns)
        ):
            deny.append(
                _reason(
                    opt,
                    "missing_opt_out",
                    "电子消息须说明如何退订（如 Reply STOP to opt out）",
                    "electronic messages must say how to opt out",
                    'add e.g. "Reply STOP to opt out" / 加入退订说明',
                )
            )

    if deny:
        return Plan(
            "deny",
            tuple(_dedupe(deny)),
            None,
            at,
            tz,
            rule_pack=rule_pack,
            notes=tuple(notes),
            policy=jp,
            overlays=overlays,
        )
    assert tz is not None

    # --- time windows in the recipient's zone
    lifted = consent_lifts_window(jp, profile, role)
    windows = _windows(jp, profile, role)
    nb = next_allowed(at, tz, windows, quiet_weekdays=jp.quiet_weekdays, quiet_dates=jp.quiet_dates)
    if nb is None:
        return Plan(
            "deny",
            (
                system_reason(
                    "no_allowed_time",
                    "所配置的时段与偏好时段没有交集",
                    "the configured windows and preferred hours never overlap",
                ),
            ),
            None,
            at,
            tz,
            rule_pack=rule_pack,
            policy=jp,
            overlays=overlays,
            notes=tuple(notes),
        )
    if nb > at:
        w = jp.window
        local = at.astimezone(tz)
        legal_ok = lifted or next_allowed(at, tz, [jp.window.minutes()]) == at
        if legal_ok:  # only the lender's windows, quiet days or the debtor's hours defer it
            reason = Reason(
                rule_id="policy.lender_hours",
                code="outside_lender_hours",
                citation=(jp.lender_window.citation if jp.lender_window else "lender policy")
                + "; debtor preferred hours / quiet days",
                binding="lender_policy",
                message_zh=f"收件人当地时间 {local:%H:%M}（{tz.key}）"
                "不在机构时段、静默日或债务人偏好时段内",
                message_en=f"recipient local time {local:%H:%M} ({tz.key}) is outside the lender's "
                "hours, on a quiet day, or outside the debtor's preferred hours",
                fix=f"在 {nb.isoformat()} 之后发送 / send at or after {nb.isoformat()}",
            )
        else:
            reason = _reason(
                w,
                "night_time",
                f"收件人当地时间 {local:%H:%M}（{tz.key}）不在法定允许时段 {w.start}–{w.end} 内",
                f"recipient local time {local:%H:%M} ({tz.key}) is outside the legal hours "
                f"{w.start}–{w.end}",
                f"在 {nb.isoformat()} 之后发送 / send at or after {nb.isoformat()}",
            )
        return Plan(
            "defer",
            (reason,),
            nb,
            at,
            tz,
            rule_pack=rule_pack,
            notes=tuple(notes),
            policy=jp,
            overlays=overlays,
        )

    exclusions = excluded_calls(req, profile, jp, at, tz)
    checks, keys = cap_checks(req, jp, at, tz, excluded=bool(exclusions))
    if exclusions:
        spared = [c.id for c in jp.caps if c.excludable and _applies(c, req)]
        notes += [f"{note}; not counted toward {', '.join(spared)}" for note in exclusions]
    return Plan("allow", (), None, at, tz, checks, keys, rule_pack, tuple(notes), jp, overlays)


def consent_lifts_window(jp: JurisdictionPolicy, profile: ContactProfile, role: Role) -> bool:
    """Whether the debtor's consent to contact outside the legal hours lifts the legal window
    for this recipient: only for the debtor. The consent is the debtor's own (FDCPA §805(a)(1):
    "the prior consent of the consumer given directly"); a debtor cannot consent for a
    guarantor, an emergency contact or anyone else, whom the window protects in their own
    right."""
    return jp.window.consent_lifts and profile.night_consent and role == "debtor"


def _windows(jp: JurisdictionPolicy, profile: ContactProfile, role: Role) -> list[tuple[int, int]]:
    """The local windows an attempt must fall in: the legal one (unless consent lifts it),
    the lender's, and the debtor's preferred hours (debtor and guarantors, not third
    parties)."""
    windows: list[tuple[int, int]] = []
    if not consent_lifts_window(jp, profile, role):
        windows.append(jp.window.minutes())
    if jp.lender_window is not None:
        windows.append((_mins(jp.lender_window.start), _mins(jp.lender_window.end)))
    if profile.preferred_hours is not None and role not in THIRD_PARTIES:
        windows.append((_mins(profile.preferred_hours.start), _mins(profile.preferred_hours.end)))
    return windows


def excluded_calls(
    req: DecisionRequest,
    profile: ContactProfile,
    jp: JurisdictionPolicy,
    at: dt.datetime,
    tz: ZoneInfo,
) -> list[str]:
    """Why this attempt does not count toward the caps marked `excludable` (one note per
    ground; empty: it counts). Grounds: it answers the recipient's own request
    (`responds_to_request`), or it is a call to the debtor on day 1…N of the debtor's prior
    consent given directly to the collector (`call_consent_at`; day 1 = the local day the
    consent was given; N = the shorter of the policy's days and `call_consent_days`). The
    consent is the debtor's: it never covers calls to anyone else."""
    ex = jp.excluded_calls
    if ex is None or not any(c.excludable and _applies(c, req) for c in jp.caps):
        return []
    out: list[str] = []
    pc = ex.prior_consent
    given = profile.call_consent_at
    if pc is not None and given is not None and req.recipient.role == "debtor" and given <= at:
        first = given.astimezone(tz).date()
        days = min(pc.days, profile.call_consent_days)
        day = (at.astimezone(tz).date() - first).days + 1
        if day <= days:
            out.append(
                f"excluded_call:prior_consent ({pc.rule_id}; {pc.citation}): the debtor's "
                f"prior consent given directly on {first.isoformat()}, day {day} of {days}"
            )
    pr = ex.person_request
    if pr is not None and req.responds_to_request:
        out.append(
            f"excluded_call:person_request ({pr.rule_id}; {pr.citation}): answers the "
            "recipient's own request"
        )
    return out


def cap_checks(
    req: DecisionRequest,
    jp: JurisdictionPolicy,
    at: dt.datetime,
    tz: ZoneInfo,
    *,
    excluded: bool = False,
) -> tuple[tuple[CapCheck, ...], tuple[tuple[CapKind, str], ...]]:
    """The frequency caps that apply to this attempt, as day-aligned windows in the
    recipient's zone (day 1 = the attempt's local day).

    `excluded` (see `excluded_calls`): the caps marked `excludable` are neither checked nor
    counted; only a `conversations_block` key is kept, so that a conversation on this call
    still blocks later calls (the call is excluded, the conversation is not)."""
    checks: list[CapCheck] = []
    keys: list[tuple[CapKind, str]] = []
    day = at.astimezone(tz).date()
    for cap in jp.caps:
        if not _applies(cap, req):
            continue
        scope = _scope_value(cap, req)
        key = f"{cap.id}|{cap.scope}:{scope}"
        if excluded and cap.excludable:
            if cap.what == "conversations_block":
                keys.append((cap.what, key))
            continue
        lo = local_midnight(day - dt.timedelta(days=cap.window_days - 1), tz).timestamp()
        hi = local_midnight(day + dt.timedelta(days=1), tz).timestamp()
        assert cap.limit is not None
        checks.append(
            CapCheck(
                cap.id,
                cap.what,
                key,
                lo,
                hi,
                cap.limit,
                cap.what != "conversations_block",
                cap.window_days,
            )
        )
        keys.append((cap.what, key))
    return tuple(checks), tuple(keys)


def _applies(cap: Cap, req: DecisionRequest) -> bool:
    return (
        cap.limit is not None
        and req.channel in cap.channels
        and req.recipient.role in cap.roles
        and (not cap.states or req.state in cap.states)
    )


def _scope_value(cap: Cap, req: DecisionRequest) -> str:
    """The counter's subject. Caps protect a person: a guarantor's calls are counted for the
    guarantor (by number), not added to the debtor's."""
    if cap.scope == "phone":
        return phone_hash(req.recipient.phone or "")
    base = req.debtor_id if cap.scope == "debtor" else req.debt_id
    if req.recipient.role == "debtor":
        return base
    return f"{base}/{req.recipient.role}/{phone_hash(req.recipient.phone or '')}"


def cap_not_before(check: CapCheck, scores: Sequence[float], tz: ZoneInfo) -> dt.datetime:
    """Start of the first local day on which the window of `check` again holds fewer than
    `limit` members, given the member scores inside the current window."""
    days = sorted(dt.datetime.fromtimestamp(s, tz).date() for s in scores)
    if len(days) < check.limit:  # should not happen: the store said the cap is full
        return dt.datetime.fromtimestamp(check.max_score, tz)
    pivot = days[len(days) - check.limit]
    return local_midnight(pivot + dt.timedelta(days=check.window_days), tz)


def cap_reason(check: CapCheck, jp: JurisdictionPolicy, not_before: dt.datetime) -> Reason:
    cap = next(c for c in jp.caps if c.id == check.cap_id)
    return Reason(
        rule_id=cap.id,
        code="excessive_frequency",
        citation=cap.citation,
        binding=cap.binding,
        message_zh=cap.message.zh,
        message_en=cap.message.en,
        fix=f"在 {not_before.isoformat()} 之后再联系 / try again at or after "
        f"{not_before.isoformat()}",
    )


def after_caps(
    jp: JurisdictionPolicy,
    tz: ZoneInfo,
    profile: ContactProfile,
    role: Role,
    candidate: dt.datetime,
) -> dt.datetime:
    """Move a cap's not-before into the next allowed local time window of this recipient."""
    nb = next_allowed(
        candidate,
        tz,
        _windows(jp, profile, role),
        quiet_weekdays=jp.quiet_weekdays,
        quiet_dates=jp.quiet_dates,
    )
    return nb or candidate


def outcome_effects(
    keys: Sequence[tuple[str, str]], outcome: Outcome
) -> list[tuple[Literal["add", "remove"], str]]:
    """Whether the attempt is a member of each of its counter keys once `outcome` is known.

    Computed from the reserved state, not from the previous outcome, so a corrected outcome
    (``conversation`` then ``failed``) leaves the counters as if only the last one was sent.
    """
    out: list[tuple[Literal["add", "remove"], str]] = []
    for what, key in keys:
        effect = OUTCOME_EFFECTS[what][outcome]  # type: ignore[index]
        member = effect == "add" or (effect == "keep" and what != "conversations_block")
        out.append(("add" if member else "remove", key))
    return out


def _mins(hhmm: str) -> int:
    h, m = hhmm.split(":")
    return int(h) * 60 + int(m)


def _dedupe(reasons: list[Reason]) -> list[Reason]:
    seen: set[tuple[str, str]] = set()
    out: list[Reason] = []
    for r in reasons:
        k = (r.rule_id, r.message_en)
        if k not in seen:
            seen.add(k)
            out.append(r)
    return out


def plan_summary(p: Plan) -> dict[str, Any]:
    return {"verdict": p.verdict, "checks": [c.cap_id for c in p.checks], "notes": list(p.notes)}
