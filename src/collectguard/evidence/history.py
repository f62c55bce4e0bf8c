"""History-aware rules and cases: what only shows across many messages.

Owns the grouping of stored messages and calls into **cases** (one per lender: the registry
id, else the claimed brand, else the sender) and the rules no single message can break:

- **daily cap** (`excessive_frequency`): contacts per lender per local day above the cap a
  rule pack declares (a rule with ``detect: {builtin: frequency, params: {max_per_day: N}}``,
  optional ``channel: sms|call|any`` and, for calls, ``counts: all|answered|unanswered``
  — an answered call has a duration, an unanswered one was missed, rejected or blocked);
  the numbers come from the pack, never from code; days before the rule's ``in_force``
  date are named as predating it, not counted as breaches;
- **night-time counts**: messages and calls inside the pack's ``night_time`` window, each
  judged in the recipient's zone (the zone its message was imported with; calls and messages
  without one in the zone most of the case's messages have), whatever zone days are shown in;
- **escalation**: a lender's violations getting more severe over time;
- **third-party contacts**: collection messages that reached someone other than the debtor
  (imported with a recipient other than ``self``) or disclosed the debt to them; a
  collection message someone else received also counts under the pack's third-party
  disclosure rule, whatever its text says (it told them of the debt).

Reads the store; writes nothing.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sqlalchemy import select

from collectguard.evidence.items import normalise_party
from collectguard.evidence.models import CallRecord, Message, Violation
from collectguard.evidence.store import EvidenceStore
from collectguard.findings import SEVERITY_LABELS
from collectguard.rules import RulePack, load_builtin
from collectguard.rules.fixtures import HistoryEvent

SEVERITY_RANK = {
    "self_regulatory": 1,
    "standard": 2,
    "regulatory": 3,
    "illegal": 4,
    "crime": 5,
}
"""Order of a violation's severity, for escalation (unknown severities rank 0)."""

THIRD_PARTY_CODES = frozenset({"third_party_disclosure", "contacts_relatives_or_employer"})
Channel = Literal["sms", "call", "any"]
CallCount = Literal["all", "answered", "unanswered"]
UNANSWERED_CALL_TYPES = frozenset({"missed", "rejected", "blocked"})
CALL_TYPE_LABELS: dict[str, tuple[str, str]] = {
    "incoming": ("来电", "incoming call"),
    "outgoing": ("去电", "outgoing call"),
    "missed": ("未接来电", "missed call"),
    "voicemail": ("语音留言", "voicemail"),
    "rejected": ("拒接来电", "rejected call"),
    "blocked": ("拦截来电", "blocked call"),
    "answered_elsewhere": ("他处接听", "answered elsewhere"),
    "unknown": ("来电（类型未知）", "call of unknown type"),
}
"""A call record's type in words, (zh-CN, English)."""


def describe_call(call_type: str, duration_s: int) -> tuple[str, str]:
    """(zh, en) of a call record: its type and how long it lasted."""
    zh, en = CALL_TYPE_LABELS.get(call_type, (call_type, call_type))
    return f"{zh}，{duration_s} 秒", f"{en}, {duration_s} s"


@dataclass(frozen=True)
class FrequencyCap:
    rule_id: str
    code: str
    max_per_day: int
    channel: Channel
    title_zh: str
    title_en: str
    citation: str
    counts: CallCount = "all"
    in_force: dt.date | None = None
    """The rule's first day: days before it are not breaches (a cap of the 2026 CBA
    guideline does not apply to calls of 2025)."""

    def count(self, day: dict[str, int]) -> int:
        """Contacts of one day (`Case.per_day` value) this cap counts."""
        if self.channel == "call" and self.counts != "all":
            return day.get(f"call_{self.counts}", 0)
        if self.channel == "any":
            return day["sms"] + day["call"]
        return day[self.channel]

    def describe(self) -> tuple[str, str]:
        """(zh, en) of the cap."""
        if self.channel == "call" and self.counts != "all":
            zh = "接通的电话" if self.counts == "answered" else "未接通的电话"
            en = f"{self.counts} calls"
        else:
            zh = {"sms": "短信", "call": "电话", "any": "短信和电话"}[self.channel]
            en = {"sms": "messages", "call": "calls", "any": "messages and calls"}[self.channel]
        return f"每天上限 {self.max_per_day} 次（{zh}）", f"cap {self.max_per_day} per day ({en})"


@dataclass(frozen=True)
class NightWindow:
    rule_id: str
    start: dt.time
    end: dt.time

    def contains(self, t: dt.time) -> bool:
        if self.start <= self.end:
            return self.start <= t < self.end
        return t >= self.start or t < self.end


def frequency_caps(pack: RulePack) -> list[FrequencyCap]:
    """The daily caps a pack declares (enabled rules with the ``frequency`` builtin)."""
    caps: list[FrequencyCap] = []
    for rule in pack.rules:
        if rule.detect.builtin != "frequency":
            continue
        params = rule.detect.params
        raw = params.get("max_per_day", params.get("per_day"))
        if isinstance(raw, bool) or not isinstance(raw, int | float | str):
            continue
        try:
            cap = int(raw)
        except ValueError:
            continue
        channel = str(params.get("channel", "any"))
        counts = str(params.get("counts", "all"))
        caps.append(
            FrequencyCap(
                rule_id=rule.id,
                code=rule.code,
                max_per_day=cap,
                channel=channel if channel in ("sms", "call") else "any",  # type: ignore[arg-type]
                title_zh=rule.title.zh,
                title_en=rule.title.en,
                citation="；".join(rule.citation),
                counts=counts if counts in ("answered", "unanswered") else "all",  # type: ignore[arg-type]
                in_force=rule.in_force,
            )
        )
    return caps


def night_window(pack: RulePack) -> NightWindow | None:
    """The forbidden hours of the pack's ``night_time`` rule (its params), if any."""
    for rule in pack.rules:
        if rule.detect.builtin != "night_time":
            continue
        p = rule.detect.params
        start, end = p.get("forbidden_start"), p.get("forbidden_end")
        if isinstance(start, str) and isinstance(end, str):
            try:
                return NightWindow(
                    rule.id, dt.time.fromisoformat(start), dt.time.fromisoformat(end)
                )
            except ValueError:
                return None
    return None


# ---------------------------------------------------------------------------- cases
@dataclass(frozen=True)
class ViolationRef:
    rule_id: str
    code: str
    severity: str
    title: str


@dataclass(frozen=True)
class TimelineItem:
    at: dt.datetime | None
    kind: Literal["message", "call"]
    item_id: int
    party: str | None
    recipient: str
    summary: str
    violations: tuple[ViolationRef, ...] = ()
    authenticity: str | None = None
    call_outcome: Literal["answered", "unanswered"] | None = None
    """For calls: answered (a duration) or unanswered (missed, rejected, blocked)."""
    zone: str | None = None
    """The IANA zone the message's time was read in (`import --tz`): the recipient's."""


@dataclass(frozen=True)
class HistoryFinding:
    """A violation seen across messages: rule, how often, and on which days or messages."""

    rule_id: str
    code: str
    title_zh: str
    title_en: str
    count: int
    detail_zh: str
    detail_en: str
    citation: str = ""

    @property
    def detail(self) -> str:
        """Both languages, for bilingual views (the CLI, the bundle's report)."""
        if self.detail_zh == self.detail_en:
            return self.detail_zh
        return f"{self.detail_zh} / {self.detail_en}"


@dataclass
class Case:
    key: str
    name: str
    timeline: list[TimelineItem] = field(default_factory=list)
    rule_counts: Counter[str] = field(default_factory=Counter)
    code_counts: Counter[str] = field(default_factory=Counter)
    findings: list[HistoryFinding] = field(default_factory=list)
    per_day: dict[str, dict[str, int]] = field(default_factory=dict)
    """Local date → {"sms": n, "call": n} (every call, answered or not)."""
    calls_by_outcome: dict[str, dict[str, int]] = field(default_factory=dict)
    """Local date → {"call_answered": n, "call_unanswered": n}, for caps on either."""
    night_messages: int = 0
    night_calls: int = 0
    third_party_recipients: set[str] = field(default_factory=set)
    undated_copies: int = 0
    """Messages without a time left out because the same message (party, recipient, text)
    is in the case with its time: kept from the checker, or imported from a file without
    times, and then imported again from a backup. The ledger keeps both items."""
    notes: list[tuple[str, str]] = field(default_factory=list)
    """(zh-CN, English) facts that are no violation but explain what the case shows: days over
    a frequency cap, all before the cap's rule took effect (the per-day chart shows them)."""

    @property
    def messages(self) -> int:
        return sum(1 for t in self.timeline if t.kind == "message")

    @property
    def calls(self) -> int:
        return sum(1 for t in self.timeline if t.kind == "call")

    @property
    def first(self) -> dt.datetime | None:
        times = [t.at for t in self.timeline if t.at is not None]
        return min(times) if times else None

    @property
    def last(self) -> dt.datetime | None:
        times = [t.at for t in self.timeline if t.at is not None]
        return max(times) if times else None

    @property
    def max_severity(self) -> str | None:
        sev = [v.severity for t in self.timeline for v in t.violations]
        return max(sev, key=lambda s: SEVERITY_RANK.get(s, 0)) if sev else None


def _key_for_party(party: str | None) -> str:
    return f"sender:{party}" if party else "unknown"


def build_cases(
    store: EvidenceStore,
    pack: RulePack | None = None,
    *,
    zone: str | None = None,
    include_all: bool = False,
) -> list[Case]:
    """Group stored items into cases and evaluate the history-aware rules of `pack`.

    A case holds the incoming messages judged collection (or carrying a violation) of one
    lender, and the calls from numbers that only that lender used. Days are counted in
    `zone` (default: the pack's zone, else UTC). `include_all` also groups non-collection
    messages. Cases come sorted by most violations first.
    """
    pack = pack or load_builtin("cn")
    tz = ZoneInfo(zone or pack.timezone or "UTC")
    with store.session() as s:
        vrows = s.execute(
            select(Violation.message_id, Violation.rule_id, Violation.code, Violation.severity,
                   Violation.title)
        ).all()  # fmt: skip
        by_msg: dict[int, list[ViolationRef]] = defaultdict(list)
        for mid, rid, code, sev, title in vrows:
            by_msg[mid].append(ViolationRef(rid, code, sev, title))
        incoming = Message.direction == "in"
        order = (Message.received_at, Message.id)
        # Which lenders each sender spoke for: every incoming message naming one counts.
        lrows = s.execute(
            select(Message.sender, Message.lender_id, Message.lender_name)
            .where(incoming, Message.lender_id.is_not(None))
            .order_by(*order)
        ).all()
        # The messages a case holds (read with their text): only those, not the whole phone.
        wanted = incoming
        if not include_all:
            flagged = select(Violation.message_id)
            wanted = incoming & (Message.is_collection | Message.id.in_(flagged))
        mrows = s.execute(
            select(
                Message.id, Message.sender, Message.recipient, Message.received_at,
                Message.text, Message.lender_id, Message.is_collection, Message.authenticity,
                Message.timezone,
            ).where(wanted).order_by(*order)
        ).all()  # fmt: skip
        crows = s.execute(
            select(
                CallRecord.id, CallRecord.number, CallRecord.recipient, CallRecord.started_at,
                CallRecord.call_type, CallRecord.duration_s,
            ).where(CallRecord.call_type.notin_(("outgoing",)))
            .order_by(CallRecord.started_at, CallRecord.id)
        ).all()  # fmt: skip

    # A party (sender number) stands for a lender only when it carried no other lender's name.
    lenders_of_party: dict[str, set[str]] = defaultdict(set)
    names: dict[str, str] = {}
    for sender, lender_id, lender_name in lrows:
        if lender_id:
            lenders_of_party[normalise_party(sender) or ""].add(lender_id)
            names.setdefault(lender_id, lender_name or lender_id)

    def case_key(party: str | None, lender: str | None) -> str:
        if lender:
            return lender
        np = normalise_party(party)
        owners = lenders_of_party.get(np or "", set())
        return next(iter(owners)) if len(owners) == 1 else _key_for_party(np)

    cases: dict[str, Case] = {}

    def case(key: str) -> Case:
        if key not in cases:
            name = names.get(key) or (key.split(":", 1)[1] if ":" in key else "未知 / unknown")
            cases[key] = Case(key=key, name=name)
        return cases[key]

    def same_message(row: Any) -> tuple[str | None, str, str]:
        return (normalise_party(row.sender), row.recipient, " ".join(row.text.split()))

    def grouped(row: Any) -> bool:
        return include_all or row.is_collection or row.id in by_msg

    dated = {same_message(r) for r in mrows if r.received_at is not None and grouped(r)}
    disclosure = _disclosure_rule(pack)
    for row in mrows:
        if not grouped(row):
            continue
        violations = tuple(by_msg.get(row.id, ()))
        if disclosure is not None and row.recipient != "self" and row.is_collection:
            if all(v.rule_id != disclosure.rule_id for v in violations):
                violations += (disclosure,)  # the relative now knows of the debt
        c = case(case_key(row.sender, row.lender_id))
        if row.received_at is None and same_message(row) in dated:
            c.undated_copies += 1  # counted once, with its time
            continue
        text = " ".join(row.text.split())
        c.timeline.append(
            TimelineItem(
                at=row.received_at,
                kind="message",
                item_id=row.id,
                party=row.sender,
                recipient=row.recipient,
                summary=text[:80] + ("…" if len(text) > 80 else ""),
                violations=violations,
                authenticity=row.authenticity,
                zone=row.timezone,
            )
        )
    for crow in crows:
        key = case_key(crow.number, None)
        if key not in cases:
            continue  # calls join a case only through a number its messages came from
        cases[key].timeline.append(
            TimelineItem(
                at=crow.started_at,
                kind="call",
                item_id=crow.id,
                party=crow.number,
                recipient=crow.recipient,
                summary=" / ".join(describe_call(crow.call_type, crow.duration_s)),
                call_outcome=_call_outcome(crow.call_type, crow.duration_s),
            )
        )
    caps = frequency_caps(pack)
    night = night_window(pack)
    for c in cases.values():
        c.timeline.sort(key=lambda t: (t.at is None, t.at or dt.datetime.min, t.item_id))
        _evaluate(c, caps, night, tz)
    return sorted(cases.values(), key=lambda c: (-sum(c.rule_counts.values()), -c.messages, c.key))


def _disclosure_rule(pack: RulePack) -> ViolationRef | None:
    """The pack's rule against telling a third party about the debt (``third_party_disclosure``
    on who is contacted: cn.third_party.no_debt_disclosure, us.fdcpa.third_party_disclosure):
    a collection message that someone else received breaks it, whatever its text says — the
    analyzer sees only the text, the import knows who received it."""
    for rule in pack.rules:
        if rule.code == "third_party_disclosure" and rule.check == "party_restriction":
            title = rule.title.zh if pack.name == "cn" else rule.title.en
            return ViolationRef(rule.id, rule.code, rule.severity, title)
    return None


def evaluate_timeline(
    events: Iterable[HistoryEvent], pack: RulePack, zone: str | None = None
) -> Case:
    """The history-aware rules of `pack` over one lender's contacts (a fixture timeline or
    any other list of SMS and call events), without a store."""
    tz = ZoneInfo(zone or pack.timezone or "UTC")
    case = Case(key="timeline", name="timeline")
    for i, ev in enumerate(sorted(events, key=lambda e: e.at)):
        is_call = ev.kind == "call"
        case.timeline.append(
            TimelineItem(
                at=ev.at,
                kind="call" if is_call else "message",
                item_id=i,
                party=None,
                recipient="self",
                summary=f"{ev.call_type} {ev.duration_s}s" if is_call else "sms",
                call_outcome=_call_outcome(ev.call_type, ev.duration_s) if is_call else None,
            )
        )
    _evaluate(case, frequency_caps(pack), night_window(pack), tz)
    return case


def _call_outcome(call_type: str, duration_s: int) -> Literal["answered", "unanswered"] | None:
    if call_type in UNANSWERED_CALL_TYPES:
        return "unanswered"
    if call_type == "incoming":
        return "answered" if duration_s > 0 else "unanswered"
    return None  # outgoing, voicemail, unknown: not a collector's attempt we can judge


def _zone(name: str | None) -> dt.tzinfo | None:
    try:
        return ZoneInfo(name) if name else None
    except (ValueError, KeyError):  # ZoneInfoNotFoundError is a KeyError; "../x" a ValueError
        return None


def _evaluate(c: Case, caps: list[FrequencyCap], night: NightWindow | None, tz: dt.tzinfo) -> None:
    # Night hours are the recipient's: each message in the zone it was imported with, calls
    # (which keep no zone) and messages without one in the zone most messages have.
    zones = Counter(t.zone for t in c.timeline if t.zone)
    home = _zone(zones.most_common(1)[0][0]) if zones else None
    home = home or tz
    for item in c.timeline:
        # per message: one that names relatives and the employer breaks the rule once
        c.rule_counts.update({v.rule_id for v in item.violations})
        c.code_counts.update({v.code for v in item.violations})
        if item.at is None:
            continue
        local = item.at.astimezone(tz)
        day = c.per_day.setdefault(local.date().isoformat(), {"sms": 0, "call": 0})
        day["sms" if item.kind == "message" else "call"] += 1
        if item.kind == "call" and item.call_outcome is not None:
            out = c.calls_by_outcome.setdefault(
                local.date().isoformat(), {"call_answered": 0, "call_unanswered": 0}
            )
            out[f"call_{item.call_outcome}"] += 1
        if night is not None and night.contains(
            item.at.astimezone(_zone(item.zone) or home).time()
        ):
            if item.kind == "message":
                c.night_messages += 1
            else:
                c.night_calls += 1

    for cap in caps:
        over: list[str] = []
        early: list[str] = []
        first = cap.in_force.isoformat() if cap.in_force else ""
        for date, n in sorted(c.per_day.items()):
            count = cap.count({**n, **c.calls_by_outcome.get(date, {})})
            if count > cap.max_per_day:
                (early if date < first else over).append(f"{date}: {count}")
        if early and not over:
            before = ", ".join(early)
            zh, en = cap.describe()
            c.notes.append(
                (
                    f"{cap.title_zh}：{zh}；超过的日子都早于该规则 {first} 施行，"
                    f"不计为违规：{before}",
                    f"{cap.title_en}: {en}; every day over it is before the rule took effect on "
                    f"{first}, not counted as a violation: {before}",
                )
            )
        if over:
            c.rule_counts[cap.rule_id] += len(over)
            c.code_counts[cap.code] += len(over)
            zh, en = cap.describe()
            days = ", ".join(over)
            note_zh = note_en = ""
            if early:
                before = ", ".join(early)
                note_zh = f"（另有早于该规则 {first} 施行的日子，不计入：{before}）"
                note_en = f" (not counted, before the rule took effect on {first}: {before})"
            c.findings.append(
                HistoryFinding(
                    rule_id=cap.rule_id,
                    code=cap.code,
                    title_zh=cap.title_zh,
                    title_en=cap.title_en,
                    count=len(over),
                    detail_zh=f"{zh}；超过的日子：{days}{note_zh}",
                    detail_en=f"{en}; days over it: {days}{note_en}",
                    citation=cap.citation,
                )
            )

    if night is not None and (c.night_messages or c.night_calls):
        window = f"{night.start:%H:%M}–{night.end:%H:%M}"
        c.findings.append(
            HistoryFinding(
                rule_id=night.rule_id,
                code="night_time",
                title_zh="夜间联系次数",
                title_en="Night-time contacts",
                count=c.night_messages + c.night_calls,
                detail_zh=f"{window}：短信 {c.night_messages} 条、来电 {c.night_calls} 次",
                detail_en=f"{window}: {c.night_messages} message(s), {c.night_calls} call(s)",
            )
        )

    steps = escalation_steps(c.timeline, tz)
    if steps:
        c.findings.append(
            HistoryFinding(
                rule_id="history.escalation",
                code="other",
                title_zh="催收手段逐步升级",
                title_en="Escalating conduct",
                count=len(steps),
                detail_zh="；".join(zh for zh, _ in steps),
                detail_en="; ".join(en for _, en in steps),
            )
        )

    # Two different facts, never added up: messages that reached someone else (imported as
    # received by them), and messages to the debtor that named or threatened third parties.
    c.third_party_recipients = {t.recipient for t in c.timeline if t.recipient != "self"}
    messages = [t for t in c.timeline if t.kind == "message"]
    sent = sum(1 for t in messages if t.recipient != "self")
    named = sum(
        1
        for t in messages
        if t.recipient == "self" and any(v.code in THIRD_PARTY_CODES for v in t.violations)
    )
    if sent or named:
        to = "、".join(sorted(c.third_party_recipients))
        zh_parts, en_parts = [], []
        if sent:
            zh_parts.append(f"发给他人（{to}）的短信 {sent} 条")
            en_parts.append(
                f"{sent} message(s) sent to others ({', '.join(sorted(c.third_party_recipients))})"
            )
        if named:
            zh_parts.append(f"发给本人、提及或扬言联系第三人的短信 {named} 条")
            en_parts.append(
                f"{named} message(s) to the debtor naming or threatening to contact third parties"
            )
        c.findings.append(
            HistoryFinding(
                rule_id="history.third_party",
                code="third_party_disclosure",
                title_zh="联系或波及第三人",
                title_en="Contacts with third parties",
                count=sent + named,
                detail_zh="；".join(zh_parts),
                detail_en="; ".join(en_parts),
            )
        )


def escalation_steps(timeline: list[TimelineItem], tz: dt.tzinfo = dt.UTC) -> list[tuple[str, str]]:
    """(zh, en) of each message more severe than every earlier violation of the case — the
    first violation is where it starts, not a step up. Times are local to `tz`."""
    steps: list[tuple[str, str]] = []
    best = 0  # the worst severity so far; 0: no violation yet
    for item in timeline:
        if item.kind != "message":
            continue
        rank, worst = 0, None
        for v in item.violations:
            r = SEVERITY_RANK.get(v.severity, 0)
            if r > rank:
                rank, worst = r, v
        if best > 0 and rank > best and worst is not None:
            when = item.at.astimezone(tz).strftime("%Y-%m-%d %H:%M") if item.at else "?"
            zh, en = SEVERITY_LABELS.get(worst.severity, (worst.severity, worst.severity))
            steps.append(
                (
                    f"{when} 升级至：{zh}（{worst.rule_id}）",
                    f"{when} escalated to: {en.lower()} ({worst.rule_id})",
                )
            )
        best = max(best, rank)
    return steps
