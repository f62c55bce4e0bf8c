"""Synthetic collection logs with injected, recorded ground-truth violations.

Benign traffic is built to stay inside every rule (contacts 09:00–21:00 local, at most two
conversations and three unanswered calls a day, third parties contacted only for debtors
who never answer, no objections); violations are injected over the same eight weeks, each
for its own debtor (who then gets no benign traffic, so one finding cannot cause another),
and recorded in a truth list as (event_id, rule_id) with the rule ids of the gateway policy.
Content texts are written here (threats, insults, third-party disclosures, polite
reminders); benign voice-bot texts may also be drawn at run time from the Apache-2.0
`collection_call_intents_zh/bot_reminder_templates.csv` in ../shared/data (never copied).

Contact profiles ride on every row of a debtor, as a lender's export would carry them: 5 % of
debtors have consent to night contact on file (`night_consent`) and get some benign contacts
at night — to the debtor only (the consent is the debtor's own and lifts the window for no one
else), judged lawful, as the gateway judges them; 10 % have preferred hours
(`preferred_hours`) and are contacted only inside them (their third parties need not be).
Injected `preferred` violations contact such a debtor outside them (`policy.lender_hours`).

US debtors are opt-in (`us_share`): English texts and calls in US zones, with their own
injections (a text outside 08:00–21:00, Reg F 7-in-7, a call after a conversation) and Reg F
excluded calls (prior consent, the debtor's request) that must not be flagged.

Each truth item names `must` rule ids (a miss lowers recall) and `may` rule ids (a defensible
extra reading of the same words: neither a hit nor a false positive).

Streaming: `stream_log` produces the log day by day in time order (events are held only until
no later-generated event can precede them: about one day of traffic), so a log of any size is
written with bounded memory by `write_stream`; `generate` collects the same stream in memory
for tests. Deterministic by seed.
"""

from __future__ import annotations

import bisect
import csv
import datetime as dt
import json
import operator
import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any
from zoneinfo import ZoneInfo

from collectguard.audit.schema import COLUMNS, FALSE_TEXT, TRUE_TEXT
from collectguard.gateway.policy import Policy, default_policy

START = dt.date(2026, 1, 5)  # a Monday
DAYS = 56

AGENCIES = ("华东信和", "北方正信", "南粤合规", "西部安诚")
ZONES = ("Asia/Shanghai",) * 19 + ("Asia/Urumqi",)

# Written for this generator (never from a real message). must / may rule ids (cn pack).
THREATS: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] = (
    ("再不还钱，我们就上门找你，让你全家不得安宁。", ("cn.content.threat_violence",), ()),
    ("今天不还款，明天就派人去你家门口堵你。", ("cn.content.threat_violence",), ()),
    ("你要是再拖着，小心出门被人打断腿。", ("cn.content.threat_violence",), ()),
    (
        "你再不接电话，我们就去你单位找你，看你还要不要脸面。",
        ("cn.content.threat_violence",),
        ("cn.third_party.relative_contacted", "cn.third_party.address_book_blast"),
    ),
)
INSULTS: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] = (
    (
        "你这个老赖，真不要脸，欠钱不还的废物。",
        ("cn.content.insult",),
        ("cn.content.insult_model",),
    ),
    (
        "欠钱不还的垃圾，你就是个骗子，活该被人看不起。",
        ("cn.content.insult",),
        ("cn.content.insult_model",),
    ),
    ("无耻老赖，赶紧还钱，别装死。", ("cn.content.insult",), ("cn.content.insult_model",)),
)
DISCLOSURES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("您好，您的朋友{name}在我司借款已逾期，欠款{amount}元，请转告他尽快还款。", ()),
    (
        "您好，您的亲属{name}在本平台的借款已逾期30天，请督促其尽快还清欠款。",
        ("cn.third_party.relative_contacted",),
    ),
    ("您好，{name}将您留为紧急联系人，他的贷款已严重逾期，请提醒他还款。", ()),
)
REMINDERS = (
    "【XX消费金融】尊敬的客户，您本期应还款项尚未结清，请登录官方App查看账单并按时还款，如已还款请忽略。",
    "【XX消费金融】温馨提示：您的账单已逾期，逾期可能影响您的信用记录，请尽快通过官方App还款。如有困难可致电官方客服协商。",
    "【XX消费金融】您好，您的还款日为本月15日，请提前准备资金，以免逾期。",
    "【XX消费金融】您的分期账单本期应还金额已更新，请登录官方App查看。",
    "【XX金融】您好，您本期账单将于明日到期，请按时通过官方渠道还款。",
)
CONTACT_TEXTS = (
    "您好，我们是XX消费金融客服，请问{name}先生是否方便接听电话？麻烦转告他回电，谢谢。",
    "您好，这里是XX消费金融，有事找{name}先生，请他方便时回电，谢谢。",
)
NAMES = ("刘伟", "王芳", "李明", "陈军", "张静", "赵磊", "孙丽", "周强")
BOT_TEMPLATES = (
    "utter_remind_repayment",
    "utter_receive_goodbey",
    "utter_response_dateamount",
    "utter_remind_repayment_datenotconfirmed",
)
CORPUS_FILE = "collection_call_intents_zh/bot_reminder_templates.csv"

# US debtors (opt-in, `us_share`): zone → state; never Massachusetts, whose 2-in-7 also counts
# texts (the benign US traffic below sends several a week).
US_ZONES = {"America/New_York": "NY", "America/Chicago": "IL", "America/Los_Angeles": "CA"}
_US_TZ = tuple(US_ZONES)
# Written for this generator: a collector's lawful texts (they say a debt collector sends them
# and how to opt out, 12 CFR 1006.6(e)); the us pack finds no violation in them (tested).
US_REMINDERS = (
    "This is Apex Recovery, a debt collector. Your account ending 4417 is past due. Please "
    "call us at 800-555-0142 or pay online at your account page. Reply STOP to opt out.",
    "Apex Recovery: a payment of $120.00 on your account is past due. You can set up a payment "
    "plan online or call 800-555-0142. This is a communication from a debt collector. "
    "Text STOP to opt out.",
    "Reminder from Apex Recovery, a debt collector: your balance of $340.00 remains unpaid. "
    "Call 800-555-0142, Mon-Fri 9am-6pm. Reply STOP to opt out.",
)

PREFERRED = ((9 * 60, 18 * 60), (10 * 60, 20 * 60), (12 * 60, 21 * 60), (9 * 60, 12 * 60))
"""Preferred-hours profiles (local minutes) given to 10 % of debtors."""
PRODUCTS = ("cash", "card", "instalment")
LENDER = "xxcf"
CONSENT_SHARE = 0.05
PREFERRED_SHARE = 0.10
SHANGHAI, URUMQI = "Asia/Shanghai", "Asia/Urumqi"
_EAST = ZoneInfo(SHANGHAI)  # the easternmost zone of ZONES: its midnight comes first


@dataclass
class Truth:
    event_id: str
    must: tuple[str, ...]
    may: tuple[str, ...] = ()
    kind: str = ""


@dataclass
class Generated:
    events: list[dict[str, Any]]
    truth: list[Truth]
    stats: dict[str, int] = field(default_factory=dict)


@dataclass
class _Debtor:
    idx: int
    tz: str
    phone: str
    contacts: list[tuple[str, str]]  # (role, phone)
    reachable: bool
    agent: tuple[str, str, str]
    consent: bool = False
    preferred: tuple[int, int] | None = None
    state: str | None = None
    """Set for a US debtor (the state of its zone, `US_ZONES`); None for a cn debtor."""


def load_corpus_texts(data_dir: Path | str | None) -> list[str]:
    """Debtor-facing bot reminder texts from ../shared/data (Apache-2.0), if present."""
    if data_dir is None:
        return []
    path = Path(data_dir) / CORPUS_FILE
    if not path.is_file():
        return []
    with path.open(encoding="utf-8") as fh:
        return [r["text"] for r in csv.DictReader(fh) if r.get("action") in BOT_TEMPLATES]


def _us_debtor(idx: int, tz: str, agent: tuple[str, str, str], *, extra: bool = False) -> _Debtor:
    """A US debtor: reachable, the state of its zone, no consent or preferred hours on file
    (debtors added for injections get numbers from other area codes)."""
    own, other = ("1213", "1647") if extra else ("1212", "1646")
    phone, contact = f"+{own}{idx:07d}", f"+{other}{idx:07d}"
    return _Debtor(idx, tz, phone, [("third_party", contact)], True, agent, state=US_ZONES[tz])


def _hhmm(m: int) -> str:
    return f"{m // 60:02d}:{m % 60:02d}"


class _Gen:
    def __init__(self, seed: int, policy: Policy, corpus: list[str], us_share: float = 0.0) -> None:
        self.rng = random.Random(seed)
        self.us_share = us_share
        self.buffer: list[tuple[float, int, dict[str, Any]]] = []
        self.seq = 0
        self.truth: list[Truth] = []
        self.pending: dict[int, Truth] = {}  # id(event) → its truth item
        self.corpus = corpus
        jp = policy.for_("cn")
        caps = {c.what: c for c in jp.caps}
        self.r_hours = jp.window.rule_id
        self.r_conv = caps["effective_conversations"].id
        self.r_unans = caps["unanswered_attempts"].id
        self.lim_conv = caps["effective_conversations"].limit or 3
        self.lim_unans = caps["unanswered_attempts"].limit or 6
        self.r_reach = jp.parties.third_party_only_if_unreachable.rule_id
        self.r_disc = jp.parties.third_party_no_debt_details.rule_id
        self.r_obj = jp.parties.third_party_objected.rule_id
        self.r_optout = jp.stops.opt_out.rule_id
        us = policy.for_("us")
        us_caps = {c.what: c for c in us.caps if not c.states}
        self.r_us_hours = us.window.rule_id
        self.r_us_7in7 = us_caps["calls_placed"].id
        self.lim_us_calls = us_caps["calls_placed"].limit or 7
        self.r_us_block = us_caps["conversations_block"].id
        self.zones = {z: ZoneInfo(z) for z in {*ZONES, *_US_TZ}}
        self.agents = [
            (f"AG{a}{t}{k:02d}", f"{AGENCIES[a]}-{t + 1}组", AGENCIES[a])
            for a in range(len(AGENCIES))
            for t in range(3)
            for k in range(5)
        ]
        self.bad_agents = self.agents[::12][:5]
        # debtors, compactly (a log of 10M events has 500k of them)
        self.n_debtors = 0
        self.tz_of = bytearray()
        self.flags = bytearray()  # bit 0 reachable, bit 1 consent, bits 2.. preferred (1-based)
        self.agent_of: list[int] = []
        self.extra: dict[int, _Debtor] = {}

    def make_debtors(self, n: int) -> None:
        rng = self.rng
        self.n_debtors = n
        for _ in range(n):
            if self.us_share and rng.random() < self.us_share:
                # a US debtor: reachable, no consent or preferred hours on file
                self.tz_of.append(2 + rng.randrange(len(_US_TZ)))
                self.flags.append(1)
                self.agent_of.append(rng.randrange(len(self.agents)))
                continue
            self.tz_of.append(1 if rng.choice(ZONES) == URUMQI else 0)
            f = 1 if rng.random() < 0.7 else 0
            u = rng.random()
            if u < CONSENT_SHARE:
                f |= 2
            elif u < CONSENT_SHARE + PREFERRED_SHARE:
                f |= (1 + rng.randrange(len(PREFERRED))) << 2
            self.flags.append(f)
            self.agent_of.append(rng.randrange(len(self.agents)))

    def debtor(self, idx: int) -> _Debtor:
        if idx in self.extra:
            return self.extra[idx]
        f = self.flags[idx]
        pref = f >> 2
        if self.tz_of[idx] >= 2:
            return _us_debtor(idx, _US_TZ[self.tz_of[idx] - 2], self.agents[self.agent_of[idx]])
        return _Debtor(
            idx,
            URUMQI if self.tz_of[idx] else SHANGHAI,
            f"138{idx:08d}",
            [("emergency_contact", f"139{idx:08d}"), ("third_party", f"137{idx:08d}")],
            bool(f & 1),
            self.agents[self.agent_of[idx]],
            bool(f & 2),
            PREFERRED[pref - 1] if pref else None,
        )

    def new_debtor(self, reachable: bool, *, us: bool = False) -> _Debtor:
        i = self.n_debtors + len(self.extra)
        if us:
            tz = self.rng.choice(_US_TZ)
            d = _us_debtor(i, tz, self.rng.choice(self.agents), extra=True)
            self.extra[i] = d
            return d
        d = _Debtor(
            i,
            self.rng.choice(ZONES),
            f"136{i:08d}",
            [("emergency_contact", f"135{i:08d}"), ("third_party", f"133{i:08d}")],
            reachable,
            self.rng.choice(self.agents),
        )
        self.extra[i] = d
        return d

    def when(self, d: _Debtor, day: int, minute: int) -> dt.datetime:
        local = dt.datetime.combine(
            START + dt.timedelta(days=day), dt.time(minute // 60, minute % 60)
        )
        return local.replace(tzinfo=self.zones[d.tz], second=self.rng.randrange(60))

    def add(
        self,
        d: _Debtor,
        at: dt.datetime,
        channel: str,
        outcome: str,
        *,
        role: str = "debtor",
        phone: str | None = None,
        text: str | None = None,
        direction: str = "outbound",
        agent: tuple[str, str, str] | None = None,
    ) -> dict[str, Any]:
        agent_id, team, agency = agent or d.agent
        ev = {
            "event_id": "",
            "occurred_at": at,
            "debtor_id": f"D{d.idx:07d}",
            "debt_id": f"L{d.idx:07d}",
            "recipient_role": role,
            "recipient_phone": phone or d.phone,
            "recipient_timezone": d.tz,
            "channel": channel,
            "direction": direction,
            "outcome": outcome,
            "agent_id": agent_id,
            "team": team,
            "agency": agency,
            "jurisdiction": "us" if d.state else "cn",
            "text": text,
            "state": d.state,
            "night_consent": True if d.consent else None,
            "preferred_hours": (
                f"{_hhmm(d.preferred[0])}-{_hhmm(d.preferred[1])}" if d.preferred else None
            ),
            "lender_id": LENDER,
            "product": PRODUCTS[d.idx % len(PRODUCTS)],
            "responds_to_request": None,
            "call_consent_at": None,
            "call_consent_days": None,
        }
        self.seq += 1
        self.buffer.append((at.timestamp(), self.seq, ev))
        return ev

    def expect(self, ev: dict[str, Any], truth: Truth) -> None:
        self.truth.append(truth)
        self.pending[id(ev)] = truth

    def reminder(self) -> str:
        if self.corpus and self.rng.random() < 0.2:
            return self.rng.choice(self.corpus)
        return self.rng.choice(REMINDERS)

    # ------------------------------------------------------------------ benign
    def benign_day(self, d: _Debtor, day: int, limit: int) -> int:
        """One debtor-day of lawful traffic, at most `limit` events; returns how many."""
        rng = self.rng
        lo, hi = 9 * 60, 21 * 60
        if d.preferred:
            lo, hi = max(lo, d.preferred[0]), min(hi, d.preferred[1])
        minutes = sorted(rng.sample(range(lo, hi), 4))
        conv = unans = n = 0
        for m in minutes[: min(rng.randint(1, 4), limit)]:
            if d.consent and rng.random() < 0.15:  # consent on file: a lawful night contact,
                # with the debtor only (it would break the window for a third party)
                m = rng.choice((rng.randrange(22 * 60, 24 * 60), rng.randrange(6 * 60, 8 * 60)))
                at = self.when(d, day, m)
                self.add(d, at, "sms", "delivered", role="debtor", text=self.reminder())
                n += 1
                continue
            at = self.when(d, day, m)
            r = rng.random()
            n += 1
            if r < 0.4:
                self.add(d, at, "sms", "delivered", text=self.reminder())
            elif d.reachable and r < 0.75 and conv < self.lim_conv - 1:
                conv += 1
                out = rng.choice(("answered", "conversation"))
                text = rng.choice(self.corpus) if self.corpus and rng.random() < 0.3 else None
                self.add(d, at, rng.choice(("call", "ai_voice")), out, text=text)
            elif unans < self.lim_unans // 2:
                unans += 1
                self.add(d, at, "call", rng.choice(("delivered", "failed")))
            elif not d.reachable:
                role, phone = rng.choice(d.contacts)
                name = rng.choice(NAMES)
                if rng.random() < 0.5:
                    text = rng.choice(CONTACT_TEXTS).format(name=name)
                    self.add(d, at, "sms", "delivered", role=role, phone=phone, text=text)
                else:
                    self.add(d, at, "call", "conversation", role=role, phone=phone)
            else:
                n -= 1
        return n

    def benign_us_day(self, d: _Debtor, day: int, limit: int) -> int:
        """One US debtor-day of lawful traffic: texts (with the debt-collector and opt-out
        wording) and at most one call, never a conversation, 08:30–20:30 local — so no 7 days
        hold more than 7 calls and no call follows a conversation (12 CFR 1006.14(b))."""
        rng = self.rng
        minutes = sorted(rng.sample(range(8 * 60 + 30, 20 * 60 + 30), 3))
        n = 0
        for i, m in enumerate(minutes[: min(rng.randint(1, 3), limit)]):
            at = self.when(d, day, m)
            if i == 0 and rng.random() < 0.5:
                self.add(d, at, "call", rng.choice(("delivered", "failed", "answered")))
            else:
                self.add(d, at, "sms", "delivered", text=rng.choice(US_REMINDERS))
            n += 1
        return n

    # ------------------------------------------------------------------ injections
    def inject(self, kind: str, d: _Debtor, day: int) -> None:
        if kind.startswith("us_"):
            self.inject_us(kind, d, day)
            return
        rng = self.rng
        agent = rng.choice(self.bad_agents) if rng.random() < 0.7 else d.agent
        base = rng.randrange(9 * 60, 14 * 60)
        if kind == "night":
            m = rng.choice((rng.randrange(22 * 60, 24 * 60), rng.randrange(0, 8 * 60)))
            ev = self.add(
                d, self.when(d, day, m), "sms", "delivered", text=self.reminder(), agent=agent
            )
            self.expect(ev, Truth("", (self.r_hours,), kind=kind))
        elif kind == "preferred":
            assert d.preferred is not None
            m = rng.randrange(d.preferred[1], 22 * 60)  # inside 08–22, after the debtor's hours
            ev = self.add(
                d, self.when(d, day, m), "sms", "delivered", text=self.reminder(), agent=agent
            )
            self.expect(ev, Truth("", ("policy.lender_hours",), kind=kind))
        elif kind == "conversations":
            evs = [
                self.add(d, self.when(d, day, base + 20 * i), "call", "conversation", agent=agent)
                for i in range(self.lim_conv + 1)
            ]
            self.expect(evs[-1], Truth("", (self.r_conv,), kind=kind))
        elif kind == "unanswered":
            evs = [
                self.add(d, self.when(d, day, base + 15 * i), "call", "delivered", agent=agent)
                for i in range(self.lim_unans + 1)
            ]
            self.expect(evs[-1], Truth("", (self.r_unans,), kind=kind))
        elif kind == "reachable":
            self.add(d, self.when(d, day, base), "call", "conversation", agent=agent)
            role, phone = rng.choice(d.contacts)
            ev = self.add(
                d,
                self.when(d, day, base + 120),
                "call",
                "conversation",
                role=role,
                phone=phone,
                agent=agent,
            )
            self.expect(ev, Truth("", (self.r_reach,), kind=kind))
        elif kind == "disclosure":
            role, phone = rng.choice(d.contacts)
            tmpl, may = rng.choice(DISCLOSURES)
            text = tmpl.format(name=rng.choice(NAMES), amount=rng.choice((3000, 5000, 8800)))
            ev = self.add(
                d,
                self.when(d, day, base),
                "sms",
                "delivered",
                role=role,
                phone=phone,
                text=text,
                agent=agent,
            )
            self.expect(ev, Truth("", (self.r_disc,), may, kind=kind))
        elif kind == "objected":
            role, phone = rng.choice(d.contacts)
            self.add(
                d, self.when(d, day, base), "call", "objected", role=role, phone=phone, agent=agent
            )
            ev = self.add(
                d,
                self.when(d, day + 1, base),
                "call",
                "conversation",
                role=role,
                phone=phone,
                agent=agent,
            )
            self.expect(ev, Truth("", (self.r_obj,), kind=kind))
        elif kind == "opt_out":
            self.add(
                d, self.when(d, day, base), "sms", "objected", text="退订", direction="inbound"
            )
            ev = self.add(
                d,
                self.when(d, day + 1, base),
                "sms",
                "delivered",
                text=self.reminder(),
                agent=agent,
            )
            self.expect(ev, Truth("", (self.r_optout,), kind=kind))
        elif kind in ("threat", "insult"):
            text, must, may = rng.choice(THREATS if kind == "threat" else INSULTS)
            ev = self.add(d, self.when(d, day, base), "sms", "delivered", text=text, agent=agent)
            self.expect(ev, Truth("", must, may, kind=kind))

    def inject_us(self, kind: str, d: _Debtor, day: int) -> None:
        """US kinds, each on its own US debtor: a text outside 08:00–21:00 local; an eighth
        call within 7 local days (two a day over four days); a call three days after a
        conversation; and, recorded as no violation, Reg F excluded calls — nine calls over two
        days after the debtor's prior consent, the last answering the debtor's request."""
        rng = self.rng
        agent = rng.choice(self.bad_agents) if rng.random() < 0.7 else d.agent
        base = rng.randrange(9 * 60, 14 * 60)
        if kind == "us_night":
            m = rng.choice((rng.randrange(21 * 60 + 15, 24 * 60), rng.randrange(0, 7 * 60 + 45)))
            text = rng.choice(US_REMINDERS)
            ev = self.add(d, self.when(d, day, m), "sms", "delivered", text=text, agent=agent)
            self.expect(ev, Truth("", (self.r_us_hours,), kind=kind))
        elif kind == "us_7in7":
            evs = [
                self.add(d, self.when(d, day + i // 2, base + 240 * (i % 2)), "call", "delivered")
                for i in range(self.lim_us_calls + 1)
            ]
            self.expect(evs[-1], Truth("", (self.r_us_7in7,), kind=kind))
        elif kind == "us_after_conversation":
            self.add(d, self.when(d, day, base), "call", "conversation")
            ev = self.add(d, self.when(d, day + 3, base), "call", "delivered", agent=agent)
            self.expect(ev, Truth("", (self.r_us_block,), kind=kind))
        elif kind == "us_excluded_calls":
            consent = self.when(d, day, base - 30)
            for i in range(self.lim_us_calls + 2):
                ev = self.add(
                    d, self.when(d, day + i // 5, base + 30 * (i % 5)), "call", "delivered"
                )
                ev["call_consent_at"] = consent.isoformat()
                ev["call_consent_days"] = 2
            ev["call_consent_at"] = None
            ev["call_consent_days"] = None
            ev["responds_to_request"] = True

    def events_of(self, kind: str) -> int:
        return {
            "conversations": self.lim_conv + 1,
            "unanswered": self.lim_unans + 1,
            "reachable": 2,
            "objected": 2,
            "opt_out": 2,
            "us_7in7": self.lim_us_calls + 1,
            "us_after_conversation": 2,
            "us_excluded_calls": self.lim_us_calls + 2,
        }.get(kind, 1)


# injections per 1,000 events (kind → count)
MIX = {
    "night": 3.0,
    "preferred": 0.5,
    "conversations": 0.5,
    "unanswered": 0.3,
    "reachable": 1.0,
    "disclosure": 1.0,
    "objected": 0.5,
    "opt_out": 0.5,
    "threat": 1.0,
    "insult": 1.0,
}

# with `us_share`: US injections per 1,000 events of US traffic
US_MIX = {"us_night": 3.0, "us_7in7": 1.0, "us_after_conversation": 1.0, "us_excluded_calls": 1.0}


class LogStream:
    """A generated log as chunks of events in time order (`chunks()`), and its truth.

    Iterate `chunks()` once; `truth` is complete when it is exhausted. About `n_events`
    events (exactly, unless the injections alone need more). `shuffle` shuffles the events
    inside each chunk (an unsorted log; event ids stay in time order). `us_share` (0 to 1):
    that share of the debtors are US debtors (jurisdiction us, a US zone and state), with
    lawful texts and calls and the `US_MIX` injections; 0 (the default) gives the same log
    as before US debtors existed."""

    def __init__(
        self,
        n_events: int,
        *,
        seed: int = 7,
        policy: Policy | None = None,
        corpus_dir: Path | str | None = None,
        shuffle: bool = False,
        us_share: float = 0.0,
    ) -> None:
        if not 0.0 <= us_share <= 1.0:
            raise ValueError(f"us_share must be between 0 and 1, not {us_share}")
        self.n_events = n_events
        self.shuffle = shuffle
        self.g = _Gen(seed, policy or default_policy(), load_corpus_texts(corpus_dir), us_share)
        self.truth = self.g.truth
        self.emitted = 0
        cn_share = 1.0 - us_share
        self.counts = {
            k: max(1, round(v * n_events * cn_share / 1000)) for k, v in MIX.items() if cn_share
        }
        if us_share:
            self.counts.update(
                {k: max(1, round(v * n_events * us_share / 1000)) for k, v in US_MIX.items()}
            )

    @property
    def stats(self) -> dict[str, int]:
        return dict(self.counts)

    def _plan(self) -> tuple[dict[int, list[tuple[str, _Debtor]]], set[int], int]:
        g, rng = self.g, self.g.rng
        g.make_debtors(max(10, self.n_events // 20))
        reach = [i for i in range(g.n_debtors) if g.flags[i] & 1 and g.tz_of[i] < 2]
        unreach = [i for i in range(g.n_debtors) if not g.flags[i] & 1]
        prefer = [i for i in reach if g.flags[i] >> 2]
        us = [i for i in range(g.n_debtors) if g.tz_of[i] >= 2]
        plan: dict[int, list[tuple[str, _Debtor]]] = {}
        injected: set[int] = set()
        n_injected = 0
        for kind, n in self.counts.items():
            pool = (
                us
                if kind.startswith("us_")
                else unreach
                if kind in ("disclosure", "objected")
                else prefer
                if kind == "preferred"
                else reach
            )
            for _ in range(n):
                # one injection per debtor where the pool allows: a debtor who opted out or was
                # reached would make a later injection on another day a second finding
                idx = -1
                day = rng.randrange(DAYS - 4 if kind.startswith("us_") else DAYS - 1)
                for _try in range(50):
                    if not pool:
                        break
                    idx = rng.choice(pool)
                    if idx not in injected:
                        break
                if idx < 0 or idx in injected:
                    d = g.new_debtor(kind not in ("disclosure", "objected"), us=kind[:3] == "us_")
                    if kind == "preferred":
                        d.preferred = PREFERRED[0]
                else:
                    d = g.debtor(idx)
                    d.consent = False  # an injected debtor's profile holds only what is judged
                    if kind != "preferred":
                        d.preferred = None
                injected.add(d.idx)
                plan.setdefault(day, []).append((kind, d))
                n_injected += g.events_of(kind)
        return plan, injected, n_injected

    def chunks(self) -> Iterator[list[dict[str, Any]]]:
        g, rng = self.g, self.g.rng
        plan, injected, n_injected = self._plan()
        benign = max(0, self.n_events - n_injected)
        for day in range(DAYS):
            for kind, d in plan.get(day, ()):
                g.inject(kind, d, day)
            target = benign * (day + 1) // DAYS - benign * day // DAYS
            today: set[int] = set()
            tries = 0
            while target > 0 and tries < 20 * g.n_debtors:
                tries += 1
                idx = rng.randrange(g.n_debtors)
                if idx in injected or idx in today:
                    continue
                today.add(idx)
                d = g.debtor(idx)
                fill = g.benign_us_day if d.state else g.benign_day
                target -= fill(d, day, target)
            horizon = dt.datetime.combine(
                START + dt.timedelta(days=day + 1), dt.time(0), tzinfo=_EAST
            ).timestamp()
            out = self._emit(horizon)
            if out:
                yield out
        out = self._emit(float("inf"))
        if out:
            yield out

    def _emit(self, horizon: float) -> list[dict[str, Any]]:
        """The buffered events before `horizon`, in time order, with their event ids."""
        g = self.g
        g.buffer.sort(key=lambda t: (t[0], t[1]))
        cut = bisect.bisect_left(g.buffer, horizon, key=lambda t: t[0])
        ready, g.buffer = g.buffer[:cut], g.buffer[cut:]
        out = []
        for _, _, ev in ready:
            self.emitted += 1
            ev["event_id"] = f"E{self.emitted:09d}"
            ev["occurred_at"] = ev["occurred_at"].isoformat()
            t = g.pending.pop(id(ev), None)
            if t is not None:
                t.event_id = ev["event_id"]
            out.append(ev)
        if self.shuffle:
            g.rng.shuffle(out)
        return out


def stream_log(
    n_events: int,
    *,
    seed: int = 7,
    policy: Policy | None = None,
    corpus_dir: Path | str | None = None,
    shuffle: bool = False,
    us_share: float = 0.0,
) -> LogStream:
    """A log of about `n_events` events generated chunk by chunk (see `LogStream`)."""
    return LogStream(
        n_events,
        seed=seed,
        policy=policy,
        corpus_dir=corpus_dir,
        shuffle=shuffle,
        us_share=us_share,
    )


def generate(
    n_events: int,
    *,
    seed: int = 7,
    policy: Policy | None = None,
    corpus_dir: Path | str | None = None,
    shuffle: bool = False,
    us_share: float = 0.0,
) -> Generated:
    """About `n_events` events (sorted by time unless `shuffle`) and the injected truth, in
    memory: the stream of `stream_log` collected."""
    s = stream_log(n_events, seed=seed, policy=policy, corpus_dir=corpus_dir, us_share=us_share)
    events = [ev for chunk in s.chunks() for ev in chunk]
    if shuffle:
        random.Random(seed).shuffle(events)
    return Generated(events, s.truth, s.stats)


# ---------------------------------------------------------------------------- writers
FIELDS = COLUMNS  # the documented log schema, in its column order
_ROW = operator.itemgetter(*FIELDS)
ROW_GROUP = 65_536


BOOL_FIELDS = ("night_consent", "responds_to_request")
"""Boolean columns: Parquet bool unless the caller wrote text; CSV `true` / `false`."""


INT_FIELDS = ("call_consent_days",)
"""Whole-number columns: Parquet int32 unless the caller wrote text."""


def _parquet_schema(
    as_bool: frozenset[str] = frozenset(BOOL_FIELDS), as_int: frozenset[str] = frozenset()
) -> Any:
    import pyarrow as pa  # type: ignore[import-untyped]

    return pa.schema(
        [
            (f, pa.bool_() if f in as_bool else pa.int32() if f in as_int else pa.string())
            for f in FIELDS
        ]
    )


def _consent_text(v: Any) -> Any:
    return "true" if v is True else "false" if v is False else v


def _as_typed(name: str, is_bool: bool, values: list[Any], first_row: int) -> list[Any]:
    """`values` of a column the file types as boolean or int32 (chosen from the first chunk),
    from a later chunk: text the audit reads the same way is converted (``"yes"`` → true,
    ``"3"`` → 3, empty → null); anything else cannot be stored in the column, and is refused
    with the row, rather than written as something the caller did not write."""
    out: list[Any] = []
    for i, v in enumerate(values):
        if v is None or (type(v) is bool if is_bool else type(v) is int):
            out.append(v)
            continue
        s = str(v).strip().lower()
        if not s:
            out.append(None)
        elif is_bool and (s in TRUE_TEXT or s in FALSE_TEXT):
            out.append(s in TRUE_TEXT)
        elif not is_bool and type(v) is not bool and s.isascii() and s.isdigit():
            out.append(int(s))
        else:
            kind = "true/false" if is_bool else "a whole number"
            raise ValueError(
                f"row {first_row + i + 1}: {name} = {str(v)[:40]!r} cannot be written to this "
                f"Parquet file, whose {name} column holds {kind} (chosen from the first rows "
                "written); write text in that column from the first row, or use CSV or JSONL"
            )
    return out


class LogWriter:
    """Writes events to CSV, JSONL or Parquet chunk by chunk (Parquet: one row group per
    `ROW_GROUP` rows), so a log of any size is written with bounded memory."""

    def __init__(self, path: Path | str, fmt: str | None = None) -> None:
        self.path = Path(path)
        self.fmt = fmt or self.path.suffix.lstrip(".").lower()
        self.rows = 0
        self._fh: IO[str] | None = None
        self._csv: Any = None
        self._pq: Any = None
        if self.fmt == "csv":
            self._fh = self.path.open("w", encoding="utf-8", newline="")
            self._csv = csv.writer(self._fh)
            self._csv.writerow(FIELDS)
        elif self.fmt == "jsonl":
            self._fh = self.path.open("w", encoding="utf-8")
        elif self.fmt != "parquet":
            raise ValueError(f"unknown format {self.fmt!r}")

    def _parquet(self, rows: list[dict[str, Any]]) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq  # type: ignore[import-untyped]

        if self._pq is None:  # bool columns are boolean unless the caller wrote text
            as_bool = frozenset(
                f for f in BOOL_FIELDS if all(e.get(f) in (None, True, False) for e in rows)
            )
            as_int = frozenset(
                f
                for f in INT_FIELDS
                if all(e.get(f) is None or type(e.get(f)) is int for e in rows)
            )
            self._schema = _parquet_schema(as_bool, as_int)
            self._pq = pq.ParquetWriter(self.path, self._schema)
        for i in range(0, len(rows), ROW_GROUP):
            part = rows[i : i + ROW_GROUP]
            cols = {}
            for f in self._schema:
                values = [e.get(f.name) for e in part]
                if f.name in BOOL_FIELDS:
                    if f.type == pa.string():
                        values = [_consent_text(v) for v in values]
                    else:
                        values = _as_typed(f.name, True, values, self.rows)
                elif f.name in INT_FIELDS:
                    if f.type == pa.string():
                        values = [None if v is None else str(v) for v in values]
                    else:
                        values = _as_typed(f.name, False, values, self.rows)
                cols[f.name] = pa.array(values, f.type)
            self._pq.write_table(pa.table(cols, schema=self._schema))
            self.rows += len(part)

    def write(self, events: Iterable[dict[str, Any]]) -> None:
        if self.fmt == "parquet":
            self._parquet(list(events))
            return
        assert self._fh is not None
        if self._csv is not None:
            flags = [FIELDS.index(f) for f in BOOL_FIELDS]
            for ev in events:
                try:
                    row = list(_ROW(ev))
                except KeyError:  # a caller's dict without every column: those are empty
                    row = [ev.get(f) for f in FIELDS]
                for i in flags:
                    if row[i] is True or row[i] is False:
                        row[i] = _consent_text(row[i])
                self._csv.writerow(row)
                self.rows += 1
        else:
            for ev in events:
                self._fh.write(json.dumps(ev, ensure_ascii=False) + "\n")
                self.rows += 1

    def close(self) -> None:
        if self.fmt == "parquet" and self._pq is None:
            self._parquet([])  # an empty log still gets its schema
        if self._pq is not None:
            self._pq.close()
            self._pq = None
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    def __enter__(self) -> LogWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def write_log(events: Iterable[dict[str, Any]], path: Path | str, fmt: str | None = None) -> Path:
    """Write events (dicts keyed by the schema's columns; missing ones are empty)."""
    with LogWriter(path, fmt) as w:
        chunk: list[dict[str, Any]] = []
        for ev in events:
            chunk.append(ev)
            if len(chunk) >= ROW_GROUP:
                w.write(chunk)
                chunk = []
        w.write(chunk)
    return Path(path)


def write_stream(
    stream: LogStream, path: Path | str, truth_path: Path | str, fmt: str | None = None
) -> int:
    """Write a generated log chunk by chunk and its truth beside it; return the event count."""
    with LogWriter(path, fmt) as w:
        for chunk in stream.chunks():
            w.write(chunk)
    write_truth(stream.truth, truth_path)
    return w.rows


def write_truth(truth: Iterable[Truth], path: Path | str) -> Path:
    path = Path(path)
    with path.open("w", encoding="utf-8") as fh:
        for t in truth:
            rec = {"event_id": t.event_id, "must": list(t.must), "may": list(t.may), "kind": t.kind}
            fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
    return path


def read_truth(path: Path | str) -> list[Truth]:
    out = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if line.strip():
            r = json.loads(line)
            out.append(Truth(r["event_id"], tuple(r["must"]), tuple(r["may"]), r.get("kind", "")))
    return out


def score(truth: Iterable[Truth], found: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """Precision and recall of (event_id, rule_id) findings against the injected truth."""
    must = {(t.event_id, r) for t in truth for r in t.must}
    may = {(t.event_id, r) for t in truth for r in t.may}
    kinds = {(t.event_id, r): t.kind for t in truth for r in t.must}
    got = set(found) - (may - must)
    tp = len(got & must)
    fp = len(got - must)
    fn = len(must - got)
    per_kind: dict[str, dict[str, int]] = {}
    for key, kind in kinds.items():
        k = per_kind.setdefault(kind, {"truth": 0, "found": 0})
        k["truth"] += 1
        k["found"] += key in got
    return {
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "precision": tp / (tp + fp) if tp + fp else 1.0,
        "recall": tp / (tp + fn) if tp + fn else 1.0,
        "per_kind": per_kind,
        "false_positives": sorted(got - must)[:20],
        "misses": sorted(must - got)[:20],
    }
