"""Letters from a case: complaints and requests that cite the rules broken and list the
evidence with its hashes, leaving clear blanks (【待填写：…】, [FILL IN: …]) for what only the
person knows. Also owns which letters fit a case (`case_recommendation`, `letter_fits`: the
case's jurisdiction, and never a complaint against an institution a scammer posed as).

Owns the Jinja2 templates in ``templates/`` (``KIND.LANG.md.j2``) and three outputs:
Markdown (the templates' own output), DOCX (python-docx) and PDF (WeasyPrint with a CJK font
from fontconfig, e.g. Debian's fonts-noto-cjk; without one, PDF output is refused instead of
printing tofu). Text from messages is escaped before it reaches Markdown, HTML or DOCX.
python-docx and WeasyPrint are imported only when those outputs are asked for.
"""

from __future__ import annotations

import datetime as dt
import html
import importlib
import re
import shutil
import subprocess
import warnings
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, StrictUndefined
from sqlalchemy import or_, select

from collectguard._version import __version__
from collectguard.analyze.advice import channels
from collectguard.evidence.errors import EvidenceError
from collectguard.evidence.history import SEVERITY_RANK, THIRD_PARTY_CODES, Case, describe_call
from collectguard.evidence.models import Attachment, CallRecord, Message
from collectguard.evidence.store import EvidenceStore
from collectguard.normalize import show_bidi_controls
from collectguard.rules import Citation, Rule, RulePack


@dataclass(frozen=True)
class LetterKind:
    kind: str
    languages: tuple[str, ...]
    title_zh: str
    title_en: str


LETTER_KINDS: dict[str, LetterKind] = {
    k.kind: k
    for k in (
        LetterKind("lender_complaint", ("zh", "en"), "向放贷机构投诉", "Complaint to the lender"),
        LetterKind(
            "regulator_complaint",
            ("zh", "en"),
            "向金融监管部门投诉（12378）",
            "Complaint to the financial regulator (12378)",
        ),
        LetterKind(
            "police_report",
            ("zh", "en"),
            "报警材料摘要（诈骗或威胁）",
            "Police report summary (fraud or threats)",
        ),
        LetterKind("spam_12321", ("zh", "en"), "12321 垃圾短信举报", "12321 spam report"),
        LetterKind("pboc_objection", ("zh", "en"), "征信异议申请", "Credit-report objection"),
        # US letters go to US collectors in English; the zh version is a reading copy.
        LetterKind(
            "us_debt_validation", ("en", "zh"), "美国：债务核实请求", "Debt validation request"
        ),
        LetterKind(
            "us_cease_communication",
            ("en", "zh"),
            "美国：停止联系函",
            "Cease-communication letter",
        ),
        LetterKind(
            "cfpb_narrative", ("en", "zh"), "美国：CFPB 投诉陈述", "CFPB complaint narrative"
        ),
        LetterKind(
            "us_fraud_report",
            ("en", "zh"),
            "美国：诈骗举报（FTC ReportFraud）",
            "Fraud report (FTC ReportFraud)",
        ),
    )
}

CJK_FONTS = ("Noto Sans CJK SC", "Noto Serif CJK SC", "WenQuanYi Micro Hei", "Source Han Sans SC")
PDF_FONT_FAMILY = ", ".join(f'"{f}"' for f in CJK_FONTS) + ", sans-serif"
"""The CSS font-family of letters and the bundle's report. No emoji font is named: listed,
Noto Color Emoji drew every digit as a colour keycap glyph (and a 100,000-message case's
letter took 22 s instead of 6 s); emoji in texts fall back through fontconfig to whatever
emoji font is installed (Debian's fonts-noto-color-emoji, which .ci/run installs)."""
MAX_ITEMS = 300
"""Most evidence items listed in one letter (violating items first, then the rest by time)."""

US_KINDS: tuple[str, ...] = (
    "us_debt_validation",
    "us_cease_communication",
    "cfpb_narrative",
    "us_fraud_report",
)
US_DEBT_KINDS = frozenset({"us_debt_validation", "us_cease_communication", "cfpb_narrative"})
"""US letters that treat the sender as a real collector (a scam gets `us_fraud_report`)."""
CN_KINDS: tuple[str, ...] = tuple(k for k in LETTER_KINDS if k not in US_KINDS)
COMPLAINT_KINDS = frozenset({"lender_complaint", "regulator_complaint"})
"""Letters that accuse the institution a case is named after."""
_SPAM_CODES = frozenset({"excessive_frequency", "night_time", "phishing_link"})
_POLICE_CODES = frozenset({"threat", "impersonates_authority"})


REGULATORS: dict[str | None, tuple[str, ...]] = {
    "bank": ("cn.12378",),
    "consumer_finance_company": ("cn.12378",),
    "microloan": ("cn.local_fin",),
    # an online platform: NIFA's reporting platform, then its funder's regulator
    "platform_guarantee": ("cn.nifa", "cn.12378", "cn.local_fin"),
}
"""Where a complaint about a lender goes, by its licence (regulations.md A5 routing: banks
and consumer-finance companies → NFRA 12378; microloan companies → the local financial
bureau; online platforms → NIFA's platform plus their funder's regulator). Unknown or
other licences get both regulators, for the person to choose."""


def regulator_channels(license_type: str | None) -> list[dict[str, str]]:
    """The public channels (from `channels.yaml`, each with its source and confidence) a
    complaint about a lender with this licence goes to."""
    out = []
    for cid in REGULATORS.get(license_type, ("cn.12378", "cn.local_fin")):
        c = channels()[cid]
        where = " ".join(x for x in (c.get("number"), c.get("url")) if x)
        zh, en = c["name"]["zh"], c["name"]["en"]
        if len(en) > 1 and en[1].islower():  # "Local financial bureau", not "NFRA 12378"
            en = en[0].lower() + en[1:]
        out.append(
            {
                "id": cid,
                "zh": f"{zh}（{where}）" if where and where not in zh else zh,
                "en": f"{en} ({where})" if where and where not in en else en,
                "source": c["source"],
                "confidence": c["confidence"],
            }
        )
    return out


def case_is_scam(case: Case) -> bool:
    """Whether most of the case's messages were judged a scam (someone posing as the lender,
    a court or the police): then the case is not the named institution's doing. A few scam
    messages among a lender's own (a fraudster borrowing its name) leave it the lender's
    case; `case_recommendation` then adds the police report."""
    messages = [t for t in case.timeline if t.kind == "message"]
    return 2 * sum(t.authenticity == "scam" for t in messages) > len(messages)


def case_jurisdiction(store: EvidenceStore, case: Case) -> str:
    """``us`` when most of the case's messages were judged under the US pack, else ``cn``."""
    ids = [t.item_id for t in case.timeline if t.kind == "message"][:500]
    if not ids:
        return "cn"
    votes: Counter[str] = Counter()
    with store.session() as s:
        for verdict in s.scalars(select(Message.verdict).where(Message.id.in_(ids))):
            if isinstance(verdict, dict):
                votes[str(verdict.get("jurisdiction") or "cn")] += 1
    return "us" if votes["us"] > votes["cn"] else "cn"


def case_zone(store: EvidenceStore, case: Case) -> str | None:
    """The time zone most of the case's messages were imported with (`import --tz`)."""
    ids = [t.item_id for t in case.timeline if t.kind == "message"][:500]
    if not ids:
        return None
    with store.session() as s:
        zones = Counter(
            z for z in s.scalars(select(Message.timezone).where(Message.id.in_(ids))) if z
        )
    return zones.most_common(1)[0][0] if zones else None


def recommended_kinds(
    jurisdiction: str,
    *,
    scam: bool,
    codes: Iterable[str],
    severities: Iterable[str],
    is_collection: bool,
) -> list[str]:
    """The letters that fit what happened, most useful first.

    A scam goes to the police and the spam hotline (never a "complaint to the lender" it
    only pretends to be); a real collector's violations go to the lender and the regulator,
    threats also to the police, night/volume/phishing also to 12321; a real debt may also
    need a credit-report objection. US cases get the FDCPA letters and the CFPB narrative.
    """
    found = set(codes)
    kinds: list[str] = []
    if jurisdiction == "us":
        if scam:  # never a letter to the scammer, nor a complaint naming whom it posed as
            return ["us_fraud_report"]
        kinds = ["us_debt_validation", "us_cease_communication"]
        if found:
            kinds.insert(0, "cfpb_narrative")
        return kinds
    if scam:
        return ["police_report", "spam_12321"]
    if found:
        kinds += ["lender_complaint", "regulator_complaint"]
        if found & _POLICE_CODES or "crime" in set(severities):
            kinds.append("police_report")
        if found & _SPAM_CODES:
            kinds.append("spam_12321")
    if is_collection or found:
        kinds.append("pboc_objection")
    return kinds


def case_recommendation(
    store: EvidenceStore, case: Case, jurisdiction: str | None = None
) -> tuple[str, list[str]]:
    """(jurisdiction, recommended letter kinds) of a stored case (`jurisdiction`: already
    known from `case_jurisdiction`, else read)."""
    jurisdiction = jurisdiction or case_jurisdiction(store, case)
    codes = {v.code for t in case.timeline for v in t.violations}
    codes |= {f.code for f in case.findings}
    severities = {v.severity for t in case.timeline for v in t.violations}
    kinds = recommended_kinds(
        jurisdiction,
        scam=case_is_scam(case),
        codes=codes,
        severities=severities,
        is_collection=True,
    )
    if jurisdiction == "cn" and "police_report" not in kinds:
        if any(t.authenticity == "scam" for t in case.timeline):
            kinds.append("police_report")  # some messages only pose as the lender
    return jurisdiction, kinds


def letter_fits(kind: str, jurisdiction: str, *, scam: bool) -> str | None:
    """Why `kind` does not fit a case (zh / en), or None when it does: US letters cite US law
    and go to US collectors, Chinese ones to Chinese institutions; a complaint about a scam
    would accuse the institution the scammer pretended to be."""
    pool = US_KINDS if jurisdiction == "us" else CN_KINDS
    if kind not in pool:
        where = "美国" if jurisdiction == "us" else "中国"
        return (
            f"此案件按{where}规则包分析，{kind} 不适用；可用：{', '.join(pool)} / the case was "
            f"analysed under the {jurisdiction} pack, where {kind} does not apply; use one of "
            f"{', '.join(pool)}"
        )
    if scam and kind in US_DEBT_KINDS:
        return (
            "此案件的短信被判定为诈骗（冒充催收方），不要向发信人寄送核实或停止联系函、也不要提供"
            "个人信息；请改用 us_fraud_report（向美国联邦贸易委员会 ReportFraud.ftc.gov 举报）/ "
            "the case's messages were judged a scam posing as a collector: do not send the "
            "sender a validation or cease letter or any personal details; use us_fraud_report "
            "(report it at ReportFraud.ftc.gov) instead"
        )
    if scam and kind in COMPLAINT_KINDS:
        return (
            "此案件的短信被判定为诈骗（冒用机构名义），投诉信会指控被冒用的机构；请改用 "
            "police_report（报警，也可拨打 96110）或 spam_12321 / the case's messages were judged "
            "a scam posing as the institution: a complaint would accuse the institution it "
            "impersonates; use police_report or spam_12321 instead"
        )
    return None


_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|#])")


def md_escape(value: object) -> str:
    """Text from a message, safe inside one Markdown line (no markup, no line breaks).

    Bidi controls are written out as ``[U+202E]`` (`show_bidi_controls`): an invisible
    right-to-left override in a collector's text would otherwise reverse the rest of the
    line — the hash and ledger number after it."""
    text = show_bidi_controls(" ".join(str(value).split()))
    return _MD_SPECIAL.sub(r"\\\1", text)


_env: Environment | None = None


def _environment() -> Environment:
    global _env
    if _env is None:
        _env = Environment(
            loader=PackageLoader("collectguard.evidence", "templates"),
            undefined=StrictUndefined,
            autoescape=False,  # Markdown, not HTML: message text goes through `md`
            keep_trailing_newline=True,
            trim_blocks=False,
        )
        _env.filters["md"] = md_escape
    return _env


@dataclass(frozen=True)
class Letter:
    kind: str
    lang: str
    title: str
    markdown: str


def letter_context(
    store: EvidenceStore,
    case: Case,
    *,
    pack: RulePack,
    zone: str,
    now: dt.datetime | None = None,
) -> dict[str, Any]:
    """Everything a template may use, from one case."""
    tz = ZoneInfo(zone)
    msg_ids = [t.item_id for t in case.timeline if t.kind == "message"]
    call_ids = [t.item_id for t in case.timeline if t.kind == "call"]
    facts: dict[tuple[str, int], tuple[str, int | None, str]] = {}
    call_words: dict[int, tuple[str, str]] = {}  # call id -> (zh, en)
    own_zones: dict[int, str] = {}  # message id -> the zone its time was read and judged in
    with store.session() as s:
        for i in range(0, len(msg_ids), 500):
            rows = s.execute(
                select(
                    Message.id,
                    Message.item_sha256,
                    Message.ledger_seq,
                    Message.text,
                    Message.timezone,
                ).where(Message.id.in_(msg_ids[i : i + 500]))
            )
            for mid, sha, seq, text, own_zone in rows:
                facts[("message", mid)] = (sha, seq, text)
                if own_zone and own_zone != zone:
                    own_zones[mid] = own_zone
        for i in range(0, len(call_ids), 500):
            crows = s.execute(
                select(
                    CallRecord.id,
                    CallRecord.item_sha256,
                    CallRecord.ledger_seq,
                    CallRecord.call_type,
                    CallRecord.duration_s,
                ).where(CallRecord.id.in_(call_ids[i : i + 500]))
            )
            for cid, sha, seq, ctype, dur in crows:
                call_words[cid] = describe_call(ctype, dur)
                facts[("call", cid)] = (sha, seq, call_words[cid][1])
    chosen = sorted(
        case.timeline, key=lambda t: (not t.violations, t.at or dt.datetime.max.replace(tzinfo=tz))
    )[:MAX_ITEMS]
    items_total = len(case.timeline)
    chosen.sort(key=lambda t: (t.at is None, t.at or dt.datetime.min.replace(tzinfo=tz)))
    items = []
    # A lender's template sent many times is quoted once: later copies point back to the
    # first (each keeps its own time, hash and ledger position). Compared whole, not as shown.
    first_of: dict[str, int] = {}
    for n, t in enumerate(chosen, 1):
        sha, seq, text = facts.get((t.kind, t.item_id), ("?", None, t.summary))
        same = first_of.setdefault(text, n) if t.kind == "message" else n
        shown = text if len(text) <= 300 else text[:300] + "…"
        # A message whose record named its own zone was judged in it (night hours): its time
        # is shown there, with the zone, so the time and the flags agree.
        own = own_zones.get(t.item_id) if t.kind == "message" else None
        if t.at is None:
            shown_at = "—"
        elif own is not None:
            shown_at = f"{t.at.astimezone(ZoneInfo(own)):%Y-%m-%d %H:%M} ({own})"
        else:
            shown_at = t.at.astimezone(tz).strftime("%Y-%m-%d %H:%M")
        items.append(
            {
                "at": shown_at,
                "kind": t.kind,
                "kind_zh": "短信" if t.kind == "message" else "来电",
                "party": t.party or "—",
                "recipient": t.recipient,
                "same_as": same if same != n else None,
                "suspect": t.authenticity == "scam",
                "text": shown,
                "text_zh": call_words[t.item_id][0]
                if t.kind == "call" and t.item_id in call_words
                else shown,
                "rules": sorted({v.rule_id for v in t.violations}),
                "sha256": sha,
                "ledger_seq": seq if seq is not None else "?",
            }
        )
    with store.session() as s:
        linked = Attachment.case_key == case.key
        if msg_ids:
            linked = or_(linked, Attachment.message_id.in_(msg_ids[:MAX_ITEMS]))
        atts = s.execute(
            select(
                Attachment.imported_at,
                Attachment.filename,
                Attachment.media_type,
                Attachment.note,
                Attachment.sha256,
                Attachment.ledger_seq,
            )
            .where(linked)
            .order_by(Attachment.id)
        ).all()
    for at, name, media, note, sha, seq in atts:
        items.append(
            {
                "at": at.astimezone(tz).strftime("%Y-%m-%d %H:%M"),
                "kind": "attachment",
                "kind_zh": "附件",
                "party": name or "—",
                "recipient": "self",
                "text": note or media or "",
                "text_zh": note or media or "",
                "same_as": None,
                "suspect": False,
                "rules": [],
                "sha256": sha,
                "ledger_seq": seq if seq is not None else "?",
            }
        )
    by_rule: dict[str, dict[str, Any]] = {}
    counts: dict[str, int] = defaultdict(int)
    early: dict[str, int] = defaultdict(int)  # messages sent before the rule was in force
    days: dict[str, list[dt.date | None]] = defaultdict(list)  # local day of each, or None
    for t in case.timeline:
        for rule_id in {v.rule_id for v in t.violations}:
            counts[rule_id] += 1  # messages that broke the rule, as the letter says
            day = t.at.astimezone(tz).date() if t.at is not None else None
            days[rule_id].append(day)
            rule = pack.get(rule_id)
            if isinstance(rule, Rule) and rule.in_force and day is not None:
                early[rule_id] += day < rule.in_force
        for v in t.violations:
            if v.rule_id not in by_rule:
                rule = pack.get(v.rule_id)
                known = isinstance(rule, Rule)
                by_rule[v.rule_id] = {
                    "rule_id": v.rule_id,
                    "code": v.code,
                    "severity": v.severity,
                    "title_zh": rule.title.zh if isinstance(rule, Rule) else v.title,
                    "title_en": rule.title.en if isinstance(rule, Rule) else v.title,
                    "citations": list(rule.citation) if isinstance(rule, Rule) else [],
                    "in_force": rule.in_force.isoformat()
                    if isinstance(rule, Rule) and rule.in_force
                    else None,
                    "known": known,
                }

    def citations_of(rule_id: str) -> tuple[Citation, ...]:
        rule = pack.get(rule_id)
        return rule.citations if isinstance(rule, Rule) else ()

    violations = sorted(
        (
            {
                **v,
                "count": counts[k],
                "before_in_force": early[k],
                **cited_on(citations_of(k), days[k]),
            }
            for k, v in by_rule.items()
        ),
        key=lambda v: (-SEVERITY_RANK.get(v["severity"], 0), -v["count"], v["rule_id"]),
    )
    head = store.ledger.head()
    lender_legal = None
    with store.session() as s:
        verdict = s.scalar(select(Message.verdict).where(Message.lender_id == case.key).limit(1))
        claimed: Counter[str] = Counter()
        for i in range(0, min(len(msg_ids), MAX_ITEMS), 500):
            for v in s.scalars(select(Message.verdict).where(Message.id.in_(msg_ids[i : i + 500]))):
                platform = v.get("platform") if isinstance(v, dict) else None
                if isinstance(platform, dict) and platform.get("claimed_name"):
                    claimed[str(platform["claimed_name"])] += 1
    license_type = None
    if isinstance(verdict, dict) and isinstance(verdict.get("platform"), dict):
        lender_legal = verdict["platform"].get("legal_name")
        license_type = verdict["platform"].get("license_type")
    scam = case_is_scam(case)
    first = case.first.astimezone(tz).strftime("%Y-%m-%d %H:%M") if case.first else "—"
    last = case.last.astimezone(tz).strftime("%Y-%m-%d %H:%M") if case.last else "—"
    generated = (now or dt.datetime.now(dt.UTC)).astimezone(tz)
    messages = [t for t in case.timeline if t.kind == "message"]
    to_others = Counter(t.recipient for t in messages if t.recipient != "self")
    return {
        "lender": case.name,
        # a registry lender; else the case is named after a sender number, which letters do
        # not present as the company's name
        "lender_known": not case.key.startswith(("sender:", "unknown")),
        "messages_to_me": len(messages) - sum(to_others.values()),
        "messages_to_others": sorted(to_others.items()),
        "lender_legal": lender_legal,
        "regulators": regulator_channels(license_type),
        "claimed_names": [name for name, _ in claimed.most_common(3)],
        "case_key": case.key,
        "first": first,
        "last": last,
        "period_zh": first if first == last else f"{first} 至 {last}",
        "when_en": f"On {first}" if first == last else f"From {first} to {last}",
        "zone": zone,
        "mixed_zones": bool(own_zones),
        "messages": case.messages,
        "calls": case.calls,
        "third_party": sorted(case.third_party_recipients),
        "third_party_contact": any(
            t.recipient != "self" or any(v.code in THIRD_PARTY_CODES for v in t.violations)
            for t in messages
        ),
        "parties": sorted({t.party for t in case.timeline if t.party}),
        "scam": scam,
        "violations": violations,
        # a scam's "night-time contacts" say nothing about it; the rest still may
        "findings": [f for f in case.findings if not (scam and f.code == "night_time")],
        "items": items,
        "items_total": items_total + len(atts),
        "chain_head": head.entry_hash if head else "0" * 64,
        "tool_version": __version__,
        "rule_pack": f"{pack.name}@{pack.version}",
        "generated_at": generated.strftime("%Y-%m-%d %H:%M %Z"),
    }


def cited_on(citations: Iterable[Citation], days: list[dt.date | None]) -> dict[str, Any]:
    """Which of a rule's citations applied on the days of the messages that broke it.

    Each citation and the instruments it superseded (oldest first) is weighed on its own
    against the dated messages: one in force on all of them is cited plainly (``start`` and
    ``end`` None); one in force on some gets its dates and how many (``applies``); one in
    force on none is left out — unless messages without a date might fall in its time, then
    it is kept with ``undated_only``. Undated citations always apply. When every dated
    citation is left out, all are kept with their dates and ``basis_note`` says
    ``none_in_force``. ``undated`` counts the messages without a date; when some citation is
    dated, ``basis_note`` (``undated_some`` / ``undated_all``) asks the reader to check those.
    """
    dated_days = [d for d in days if d is not None]
    undated = len(days) - len(dated_days)
    versions = [c for top in citations for c in top.versions()]
    any_dated = any(c.dated for c in versions)

    def entry(
        c: Citation, applies: int | None = None, undated_only: int = 0, *, plain: bool = False
    ) -> dict[str, Any]:
        # name only the dates that split these messages (all of them when none is dated)
        early = c.in_force is not None and (
            not dated_days or any(d < c.in_force for d in dated_days)
        )
        late = c.until is not None and (not dated_days or any(d > c.until for d in dated_days))
        return {
            "text": c.text,
            "start": c.in_force.isoformat() if early and c.in_force and not plain else None,
            "end": c.until.isoformat() if late and c.until and not plain else None,
            "applies": applies,
            "undated_only": undated_only,
        }

    basis: list[dict[str, Any]] = []
    left_out: list[str] = []
    for c in versions:
        applies = sum(c.applies_on(d) for d in dated_days)
        if not c.dated or (dated_days and applies == len(dated_days)):
            basis.append(entry(c, plain=True))
        elif not dated_days:
            basis.append(entry(c))
        elif applies:
            basis.append(entry(c, applies))
        elif undated:
            basis.append(entry(c, undated_only=undated))
        else:
            left_out.append(c.text)
    note = None
    if versions and not basis:
        basis = [entry(c) for c in versions]
        note = "none_in_force"
    elif any_dated and undated:
        note = "undated_all" if not dated_days else "undated_some"
    return {
        "basis": basis,
        "left_out": left_out,
        "undated": undated,
        "dated_citations": any_dated,
        "basis_note": note,
    }


def render_letter(kind: str, lang: str, context: dict[str, Any]) -> Letter:
    """Markdown of one letter."""
    spec = LETTER_KINDS.get(kind)
    if spec is None:
        raise EvidenceError(
            f"没有这种信函 {kind!r} / no letter kind {kind!r}; use one of "
            + ", ".join(LETTER_KINDS)
        )
    if lang not in spec.languages:
        raise EvidenceError(
            f"{kind} 只有 {'/'.join(spec.languages)} 版本 / {kind} exists in "
            f"{'/'.join(spec.languages)} only"
        )
    text = _environment().get_template(f"{kind}.{lang}.md.j2").render(**context)
    text = re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"
    return Letter(kind, lang, spec.title_zh if lang == "zh" else spec.title_en, text)


# ---------------------------------------------------------------------------- Markdown subset
@dataclass(frozen=True)
class Block:
    kind: str  # h1, h2, ul, ol, p
    text: str


def blocks(markdown: str) -> list[Block]:
    """The Markdown subset the templates write: ``#``/``##`` headings, ``-`` and ``1.`` list
    items, paragraphs (consecutive lines joined)."""
    out: list[Block] = []
    para: list[str] = []

    def flush() -> None:
        if para:
            out.append(Block("p", " ".join(para)))
            para.clear()

    for line in markdown.splitlines():
        s = line.strip()
        if not s:
            flush()
        elif s.startswith("## "):
            flush()
            out.append(Block("h2", s[3:]))
        elif s.startswith("# "):
            flush()
            out.append(Block("h1", s[2:]))
        elif s.startswith("- "):
            flush()
            out.append(Block("ul", s[2:]))
        elif m := re.match(r"\d+\. ", s):
            flush()
            out.append(Block("ol", s[m.end() :]))
        else:
            para.append(s)
    flush()
    return out


def inline_runs(text: str) -> list[tuple[str, bool]]:
    """(text, is_code) runs with Markdown backslash escapes removed."""
    runs = []
    for i, part in enumerate(re.split(r"(?<!\\)`", text)):
        plain = re.sub(r"\\(.)", r"\1", part)
        if plain:
            runs.append((plain, i % 2 == 1))
    return runs


def to_text(letter: Letter) -> str:
    """Plain text, for pasting into a web form (the CFPB's, 12321's): no Markdown escapes
    or backticks; headings, list items and paragraphs on lines of their own."""
    lines: list[str] = []
    numbered = 0
    for b in blocks(letter.markdown):
        text = "".join(run for run, _ in inline_runs(b.text))
        numbered = numbered + 1 if b.kind == "ol" else 0
        if b.kind in ("h1", "h2"):
            lines += ["", text, ""] if lines else [text, ""]
        elif b.kind == "ul":
            lines.append(f"- {text}")
        elif b.kind == "ol":
            lines.append(f"{numbered}. {text}")
        else:
            if lines and lines[-1]:  # a paragraph after a list stands apart from it
                lines.append("")
            lines += [text, ""]
    return "\n".join(lines).strip() + "\n"


def to_html(letter: Letter) -> str:
    def inline(t: str) -> str:
        return "".join(
            f"<code>{html.escape(s)}</code>" if code else html.escape(s)
            for s, code in inline_runs(t)
        )

    body: list[str] = []
    open_list: str | None = None
    for b in blocks(letter.markdown):
        if b.kind in ("ul", "ol"):
            if open_list != b.kind:
                if open_list:
                    body.append(f"</{open_list}>")
                body.append(f"<{b.kind}>")
                open_list = b.kind
            body.append(f"<li>{inline(b.text)}</li>")
            continue
        if open_list:
            body.append(f"</{open_list}>")
            open_list = None
        tag = {"h1": "h1", "h2": "h2"}.get(b.kind, "p")
        body.append(f"<{tag}>{inline(b.text)}</{tag}>")
    if open_list:
        body.append(f"</{open_list}>")
    css = (
        "@page { size: A4; margin: 20mm 18mm; }"
        f"body {{ font-family: {PDF_FONT_FAMILY}; font-size: 10.5pt; line-height: 1.6; }}"
        "h1 { font-size: 16pt; text-align: center; } h2 { font-size: 12.5pt; margin-top: 1.2em; }"
        # a hash stays on one line: one copied from the PDF must be whole
        "code { font-family: 'DejaVu Sans Mono', monospace; font-size: 7.5pt;"
        " white-space: nowrap; }"
        "li { margin-bottom: 0.3em; overflow-wrap: anywhere; }"
    )
    lang = "zh-CN" if letter.lang == "zh" else "en"
    return (
        f'<!DOCTYPE html><html lang="{lang}"><head><meta charset="utf-8">'
        f"<title>{html.escape(letter.title)}</title><style>{css}</style></head>"
        f"<body>{''.join(body)}</body></html>"
    )


def cjk_font_installed() -> bool | None:
    """True/False from fontconfig (``fc-list :lang=zh``); None when fc-list is missing."""
    fc = shutil.which("fc-list")
    if fc is None:
        return None
    found = subprocess.run([fc, ":lang=zh", "family"], capture_output=True, text=True, check=False)
    return bool(found.stdout.strip())


def _weasyprint() -> Any:
    try:
        with warnings.catch_warnings():
            # WeasyPrint warns at import when the optional libharfbuzz-subset is missing
            warnings.simplefilter("ignore", DeprecationWarning)
            return importlib.import_module("weasyprint")
    except (ImportError, OSError) as exc:
        raise EvidenceError(
            f"PDF 需要 WeasyPrint / PDF output needs WeasyPrint (pip install weasyprint): {exc}"
        ) from None


SLOW_PDF_HINT = (
    "提示：未安装 libharfbuzz-subset，生成 PDF 时裁剪中文字体很慢（一封信约 20 秒，装上后约 "
    "3 秒）；可安装 libharfbuzz-subset0（Debian/Ubuntu）或 harfbuzz（Homebrew）/ note: "
    "libharfbuzz-subset is not installed, so WeasyPrint subsets the CJK font in Python (about "
    "20 s a letter instead of 3 s): install libharfbuzz-subset0 (Debian/Ubuntu) or harfbuzz "
    "(Homebrew)"
)


def slow_pdf_hint() -> str | None:
    """`SLOW_PDF_HINT` when WeasyPrint found no libharfbuzz-subset (it then subsets the
    fonts with fontTools: a one-message letter took 21 s instead of 3 s with Noto Sans CJK);
    None when it has it, or when WeasyPrint is missing (`html_to_pdf` says so)."""
    try:
        ffi = importlib.import_module("weasyprint.text.ffi")
    except (ImportError, OSError):
        return None
    return SLOW_PDF_HINT if getattr(ffi, "harfbuzz_subset", None) is None else None


def html_to_pdf(document: str, path: Path) -> None:
    """Render HTML to PDF with WeasyPrint; refuses when no CJK font is installed."""
    if cjk_font_installed() is False:
        raise EvidenceError(
            "没有安装中文字体，PDF 会显示方块；请安装 fonts-noto-cjk / no CJK font installed "
            "(PDF would show tofu); install fonts-noto-cjk"
        )
    _weasyprint().HTML(string=document).write_pdf(str(path))


def write_pdf(letter: Letter, path: Path) -> None:
    html_to_pdf(to_html(letter), path)


class _ListNumbering:
    """Word numbering that starts again at 1 for each numbered list: the "List Number"
    style has one numbering of its own, so the evidence list after a letter's three requests
    ran on from 4 and "same text as item 1" pointed at a request."""

    def __init__(self, document: Any) -> None:
        self._numbering = document.part.numbering_part.element
        style_num = document.styles["List Number"].element.pPr.numPr.numId.val
        self._abstract = self._numbering.num_having_numId(style_num).abstractNumId.val
        self._num_id: int | None = None

    def number(self, para: Any, *, restart: bool) -> None:
        """Number `para` in the current list; `restart`: it opens a new list."""
        if restart or self._num_id is None:
            num = self._numbering.add_num(self._abstract)
            num.add_lvlOverride(ilvl=0).add_startOverride(1)
            self._num_id = num.numId
        num_pr = para._p.get_or_add_pPr().get_or_add_numPr()
        num_pr.get_or_add_ilvl().val = 0
        num_pr.get_or_add_numId().val = self._num_id


def write_docx(letter: Letter, path: Path) -> None:
    """A Word document with the same blocks; East Asian text set in a CJK font."""
    try:
        docx: Any = importlib.import_module("docx")
        shared: Any = importlib.import_module("docx.shared")
        ns: Any = importlib.import_module("docx.oxml.ns")
    except ImportError as exc:
        raise EvidenceError(
            f"DOCX 需要 python-docx / DOCX output needs python-docx: {exc}"
        ) from None
    document = docx.Document()
    normal = document.styles["Normal"]
    normal.font.name = "Calibri"
    normal.font.size = shared.Pt(10.5)
    normal.element.rPr.rFonts.set(ns.qn("w:eastAsia"), CJK_FONTS[0])
    document.core_properties.title = letter.title
    numbered = _ListNumbering(document)
    previous = None
    for b in blocks(letter.markdown):
        if b.kind == "h1":
            para = document.add_heading(level=0)
        elif b.kind == "h2":
            para = document.add_heading(level=1)
        elif b.kind == "ul":
            para = document.add_paragraph(style="List Bullet")
        elif b.kind == "ol":
            para = document.add_paragraph(style="List Number")
            numbered.number(para, restart=previous != "ol")
        else:
            para = document.add_paragraph()
        previous = b.kind
        for text, code in inline_runs(b.text):
            run = para.add_run(text)
            run.element.get_or_add_rPr().get_or_add_rFonts().set(ns.qn("w:eastAsia"), CJK_FONTS[0])
            if code:
                run.font.name = "Consolas"
                run.font.size = shared.Pt(7.5)
    document.save(str(path))
