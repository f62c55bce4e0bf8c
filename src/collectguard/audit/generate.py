"""Synthetic collection logs with injected, recorded ground-truth violations.

Benign traffic is built to stay inside every rule (contacts 09:00–21:00 local, at most two
conversations and three unanswered calls a day, third parties contacted only for debtors
who never answer, no objections); violations are injected over the same eight weeks, each
for its own debtor (who then gets no benign traffic, so one finding cannot cause another),
and recorded in a truth list as (event_id, rule_id) with the rule ids of the gateway policy.
Content texts are written here (threats, insults, third-party disclosures, polite
reminders); benign voice-bot texts may also be drawn at run time from the Apache-2.0
`collection_call_intents_zh/bot_reminder_templates.csv` in ../shared/data (never copied).

Each truth item names `must` rule ids (a miss lowers recall) and `may` rule ids (a defensible
extra reading of the same words: neither a hit nor a false positive).
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from collectguard.audit.schema import COLUMNS
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


def load_corpus_texts(data_dir: Path | str | None) -> list[str]:
    """Debtor-facing bot reminder texts from ../shared/data (Apache-2.0), if present."""
    if data_dir is None:
        return []
    path = Path(data_dir) / CORPUS_FILE
    if not path.is_file():
        return []
    with path.open(encoding="utf-8") as fh:
        return [r["text"] for r in csv.DictReader(fh) if r.get("action") in BOT_TEMPLATES]


class _Gen:
    def __init__(self, seed: int, policy: Policy, corpus: list[str]) -> None:
        self.rng = random.Random(seed)
        self.events: list[dict[str, Any]] = []
        self.truth: list[Truth] = []
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
        self.zones = {z: ZoneInfo(z) for z in set(ZONES)}
        self.agents = [
            (f"AG{a}{t}{k:02d}", f"{AGENCIES[a]}-{t + 1}组", AGENCIES[a])
            for a in range(len(AGENCIES))
            for t in range(3)
            for k in range(5)
        ]
        self.bad_agents = self.agents[::12][:5]

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
            "jurisdiction": "cn",
            "text": text,
            "state": None,
        }
        self.events.append(ev)
        return ev

    def reminder(self) -> str:
        if self.corpus and self.rng.random() < 0.2:
            return self.rng.choice(self.corpus)
        return self.rng.choice(REMINDERS)

    # ------------------------------------------------------------------ benign
    def benign_day(self, d: _Debtor, day: int) -> None:
        rng = self.rng
        minutes = sorted(rng.sample(range(9 * 60, 21 * 60), 4))
        conv = unans = 0
        for m in minutes[: rng.randint(1, 4)]:
            at = self.when(d, day, m)
            r = rng.random()
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

    # ------------------------------------------------------------------ injections
    def inject(self, kind: str, d: _Debtor, day: int) -> None:
        rng = self.rng
        agent = rng.choice(self.bad_agents) if rng.random() < 0.7 else d.agent
        base = rng.randrange(9 * 60, 14 * 60)
        if kind == "night":
            m = rng.choice((rng.randrange(22 * 60, 24 * 60), rng.randrange(0, 8 * 60)))
            ev = self.add(
                d, self.when(d, day, m), "sms", "delivered", text=self.reminder(), agent=agent
            )
            self.truth.append(Truth(ev["event_id"], (self.r_hours,), kind=kind))
            self._pending.append(ev)
        elif kind == "conversations":
            evs = [
                self.add(d, self.when(d, day, base + 20 * i), "call", "conversation", agent=agent)
                for i in range(self.lim_conv + 1)
            ]
            self.truth.append(Truth("", (self.r_conv,), kind=kind))
            self._pending.append(evs[-1])
        elif kind == "unanswered":
            evs = [
                self.add(d, self.when(d, day, base + 15 * i), "call", "delivered", agent=agent)
                for i in range(self.lim_unans + 1)
            ]
            self.truth.append(Truth("", (self.r_unans,), kind=kind))
            self._pending.append(evs[-1])
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
            self.truth.append(Truth("", (self.r_reach,), kind=kind))
            self._pending.append(ev)
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
            self.truth.append(Truth("", (self.r_disc,), may, kind=kind))
            self._pending.append(ev)
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
            self.truth.append(Truth("", (self.r_obj,), kind=kind))
            self._pending.append(ev)
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
            self.truth.append(Truth("", (self.r_optout,), kind=kind))
            self._pending.append(ev)
        elif kind in ("threat", "insult"):
            text, must, may = rng.choice(THREATS if kind == "threat" else INSULTS)
            ev = self.add(d, self.when(d, day, base), "sms", "delivered", text=text, agent=agent)
            self.truth.append(Truth("", must, may, kind=kind))
            self._pending.append(ev)

    _pending: list[dict[str, Any]]


# injections per 1,000 events (kind → count)
MIX = {
    "night": 3.0,
    "conversations": 0.5,
    "unanswered": 0.3,
    "reachable": 1.0,
    "disclosure": 1.0,
    "objected": 0.5,
    "opt_out": 0.5,
    "threat": 1.0,
    "insult": 1.0,
}


def generate(
    n_events: int,
    *,
    seed: int = 7,
    policy: Policy | None = None,
    corpus_dir: Path | str | None = None,
    shuffle: bool = False,
) -> Generated:
    """About `n_events` events (sorted by time unless `shuffle`) and the injected truth."""
    g = _Gen(seed, policy or default_policy(), load_corpus_texts(corpus_dir))
    g._pending = []
    rng = g.rng
    n_debtors = max(10, n_events // 20)
    debtors = []
    for i in range(n_debtors):
        contacts = [("emergency_contact", f"139{i:08d}"), ("third_party", f"137{i:08d}")]
        debtors.append(
            _Debtor(
                i,
                rng.choice(ZONES),
                f"138{i:08d}",
                contacts,
                rng.random() < 0.7,
                rng.choice(g.agents),
            )
        )
    # injections first (so the truth events are known), one debtor each
    counts = {k: max(1, round(v * n_events / 1000)) for k, v in MIX.items()}
    reach = [d for d in debtors if d.reachable]
    unreach = [d for d in debtors if not d.reachable]
    used: set[tuple[int, int]] = set()
    injected: set[int] = set()
    for kind, n in counts.items():
        pool = unreach if kind in ("disclosure", "objected") else reach
        for _ in range(n):
            # one injection per debtor where the pool allows: a debtor who opted out or was
            # reached would make a later injection on another day a second, unrecorded finding
            for _try in range(50):
                d = rng.choice(pool)
                day = rng.randrange(DAYS - 1)
                if d.idx not in injected:
                    break
            if d.idx in injected:
                d = _Debtor(
                    len(debtors),
                    rng.choice(ZONES),
                    f"136{len(debtors):08d}",
                    [
                        ("emergency_contact", f"135{len(debtors):08d}"),
                        ("third_party", f"133{len(debtors):08d}"),
                    ],
                    d.reachable,
                    rng.choice(g.agents),
                )
                debtors.append(d)
            injected.add(d.idx)
            used.update({(d.idx, day), (d.idx, day + 1)})
            g.inject(kind, d, day)
    # benign traffic until the target size
    n_injected = len(g.events)
    while len(g.events) < n_events:
        d = debtors[rng.randrange(n_debtors)]
        day = rng.randrange(DAYS)
        if d.idx in injected or (d.idx, day) in used:
            continue
        used.add((d.idx, day))
        g.benign_day(d, day)
    del g.events[max(n_events, n_injected) :]
    if shuffle:
        rng.shuffle(g.events)
    else:
        g.events.sort(key=lambda e: e["occurred_at"])
    for n, ev in enumerate(g.events, start=1):
        ev["event_id"] = f"E{n:09d}"
    for t, ev in zip(g.truth, g._pending, strict=True):
        t.event_id = ev["event_id"]
    for ev in g.events:
        ev["occurred_at"] = ev["occurred_at"].isoformat()
    return Generated(g.events, g.truth, {k: v for k, v in counts.items()})


# ---------------------------------------------------------------------------- writers
FIELDS = COLUMNS  # the documented log schema, in its column order


def write_log(events: Iterable[dict[str, Any]], path: Path | str, fmt: str | None = None) -> Path:
    path = Path(path)
    fmt = fmt or path.suffix.lstrip(".").lower()
    if fmt == "csv":
        with path.open("w", encoding="utf-8", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=FIELDS)
            w.writeheader()
            w.writerows(events)
    elif fmt == "jsonl":
        with path.open("w", encoding="utf-8") as fh:
            for ev in events:
                fh.write(json.dumps(ev, ensure_ascii=False) + "\n")
    elif fmt == "parquet":
        import pyarrow as pa  # type: ignore[import-untyped]
        import pyarrow.parquet as pq  # type: ignore[import-untyped]

        rows = list(events)
        table = pa.table({f: pa.array([e[f] for e in rows], type=pa.string()) for f in FIELDS})
        pq.write_table(table, path)
    else:
        raise ValueError(f"unknown format {fmt!r}")
    return path


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
