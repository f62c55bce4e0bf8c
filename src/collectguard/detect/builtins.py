"""Built-in detectors: the checks a rule pack names by `builtin:` because they need more than
the text — extracted entities, the registry's verdict on the claimed platform, the sender,
the receive time, or the offensive-language model.

Each detector gets a `MessageContext` and returns zero or more `(span, cue)` pairs with spans
in the ORIGINAL text (None when the evidence is not a piece of text, e.g. the time).
Pure: no I/O beyond the model file the insult scorer loads once.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from collectguard.extract import Extraction, LazyExtraction, SenderInfo
from collectguard.normalize import NormalizedText
from collectguard.registry import LenderEntry, NameHit, Organization, PlatformRegistry

Evidence = tuple[tuple[int, int] | None, str]


@dataclass(slots=True)
class MessageContext:
    """Everything a built-in detector may look at for one message."""

    norm: NormalizedText
    comp: NormalizedText
    ext: Extraction | LazyExtraction
    sender: SenderInfo | None
    received_at: dt.datetime | dt.date | None
    timezone: str | None
    pack_timezone: str | None
    registry: PlatformRegistry
    entry: LenderEntry | Organization | None
    claimed_name: str | None
    claimed_span: tuple[int, int] | None
    conflicts: list[str]
    consistency: list[str]
    is_collection: bool = False
    scam_score: float = 0.0
    lookalike_fired: bool = False
    lures: list[tuple[str, tuple[int, int] | None, str]] = field(default_factory=list)
    """(signal id, span, cue) of the scam signals that fired, for the phishing-lure check."""
    body_names: list[NameHit] | None = None
    """`registry.match_names(comp.text)`, computed once per message (see `names`)."""

    def names(self) -> list[NameHit]:
        """Registry names in the compact text (matched on first use, then kept)."""
        if self.body_names is None:
            self.body_names = self.registry.match_names(self.comp.text)
        return self.body_names


_LINK_PLACEHOLDER = re.compile(r"此处为链接|二维码|(?:点击|登录|登入)(?:下方|以下)?链接")


def _domain_tokens(domain: str) -> set[str]:
    label = domain.split(".")[0]
    return {t for t in re.split(r"[^a-z0-9]+", label) if len(t) >= 3}


def lookalike_link(ctx: MessageContext, params: dict[str, object]) -> list[Evidence]:
    """A link that imitates the claimed organisation, belongs to another, or hides its host."""
    out: list[Evidence] = []
    for link in ctx.ext.links:
        if link.is_ip:
            out.append((link.span, f"IP 地址链接 / IP-address link {link.host}"))
            continue
        if link.is_masked:
            if ctx.entry is not None:
                out.append((link.span, f"被遮盖的链接 / masked link {link.text}"))
            continue
        if ctx.entry is None or ctx.registry.is_official_domain(ctx.entry.id, link.host):
            continue
        owners = ctx.registry.domain_owner(link.registered_domain or link.host)
        if owners and all(o.id != ctx.entry.id for o, _ in owners):
            out.append(
                (link.span, f"链接属于另一机构 / link belongs to another organisation: {link.host}")
            )
            continue
        official = {d.domain for d in ctx.entry.domains}
        tokens = set().union(*(_domain_tokens(d) for d in official)) if official else set()
        label = (link.registered_domain or link.host).split(".")[0]
        if any(t in label for t in tokens) and label not in {d.split(".")[0] for d in official}:
            out.append(
                (link.span, f"仿冒官方域名 / look-alike of {sorted(official)[0]}: {link.host}")
            )
    return out


def offdomain_link(ctx: MessageContext, params: dict[str, object]) -> list[Evidence]:
    """A link the registry cannot vouch for: unknown domain of a known lender, or a short link."""
    out: list[Evidence] = []
    for link in ctx.ext.links:
        if link.is_ip or link.is_masked or ctx.entry is None:
            continue
        if ctx.registry.is_official_domain(ctx.entry.id, link.host) is not None:
            continue
        if link.is_shortlink:
            out.append((link.span, f"短链接 / short link {link.host}"))
        elif isinstance(ctx.entry, LenderEntry) and ctx.entry.domains:
            out.append(
                (
                    link.span,
                    f"未登记的域名 / domain not in the registry for {ctx.entry.id}: {link.host}",
                )
            )
    return out


def authority_link(ctx: MessageContext, params: dict[str, object]) -> list[Evidence]:
    """An authority named beside a link or QR code: authorities do not send those by SMS."""
    has_link = bool(ctx.ext.links) or bool(_LINK_PLACEHOLDER.search(ctx.comp.text))
    if not has_link:
        return []
    for hit in ctx.names():
        org = ctx.registry.get(hit.entry_id)
        if isinstance(org, Organization) and org.is_authority:
            span = ctx.comp.to_original(hit.start, hit.end)
            return [(span, ctx.norm.original[span[0] : span[1]])]
    return []


def personal_sender(ctx: MessageContext, params: dict[str, object]) -> list[Evidence]:
    s = ctx.sender
    if s is None or not s.is_personal or not isinstance(ctx.entry, LenderEntry):
        return []
    return [(None, f"个人号码发送 / personal number sender {s.digits} claims {ctx.entry.id}")]


def registry_mismatch(ctx: MessageContext, params: dict[str, object]) -> list[Evidence]:
    return [(None, f"登记渠道不符 / registry conflict: {c}") for c in ctx.conflicts]


_LURE_SIGNALS = frozenset(
    [
        "cn.signal.scam.account_threat",
        "cn.signal.scam.verify_identity",
        "cn.signal.scam.points",
        "cn.signal.scam.subsidy_lure",
        "us.signal.scam.verify_account",
        "us.signal.scam.prize",
    ]
)


def phishing_link(ctx: MessageContext, params: dict[str, object]) -> list[Evidence]:
    """A link (or link/QR placeholder) in a scam or a look-alike link; or, in a scam of the
    online-lure family (points, verify-or-lose, subsidies) that gives no phone or chat contact,
    the lure itself — such messages act through a link even when the copy we have omits it.
    """
    if not (ctx.scam_score >= 0.5 or ctx.lookalike_fired):
        return []
    out: list[Evidence] = [(link.span, link.text) for link in ctx.ext.links]
    if not out:
        for m in _LINK_PLACEHOLDER.finditer(ctx.comp.text):
            out.append((ctx.comp.to_original(m.start(), m.end()), m.group(0)))
    if not out and not ctx.ext.phones and not _CHAT_HANDLE.search(ctx.comp.text):
        out.extend(
            (span, f"钓鱼诱导 / phishing lure: {cue}")
            for rid, span, cue in ctx.lures
            if rid in _LURE_SIGNALS
        )
    return out[:3]


_CHAT_HANDLE = re.compile(r"微信|qq|加好友|添加|联系客服|致电|电话|回电|回复")


def authority_impersonation(ctx: MessageContext, params: dict[str, object]) -> list[Evidence]:
    """An authority's name used by a scam or a collector, or in the speaker's position."""
    out: list[Evidence] = []
    for hit in ctx.names():
        org = ctx.registry.get(hit.entry_id)
        if not isinstance(org, Organization) or not org.is_authority:
            continue
        span = ctx.comp.to_original(hit.start, hit.end)
        speaker = (
            ctx.claimed_span is not None and ctx.claimed_span[0] <= span[0] < ctx.claimed_span[1]
        )
        tail = ctx.comp.text[hit.end : hit.end + 3]
        speaks = tail.startswith(("通知", "提醒", "告知", "温馨")) or hit.start <= 2
        if ctx.scam_score >= 0.5 or ((speaker or speaks) and ctx.is_collection):
            out.append((span, ctx.norm.original[span[0] : span[1]]))
    return out[:2]


def night_time(ctx: MessageContext, params: dict[str, object]) -> list[Evidence]:
    """Received inside the forbidden window, in the recipient's local time.

    The zone is the input's explicit `timezone`; else the offset carried by `received_at`
    (the phone's own clock); else, for a naive time, the pack's zone (Asia/Shanghai for cn).
    """
    at = ctx.received_at
    if not isinstance(at, dt.datetime):  # no time, or a bare date: hours cannot be judged
        return []
    local = _localize(at, ctx.timezone, ctx.pack_timezone)
    if local is None:
        return []
    start = _hm(str(params.get("forbidden_start", "22:00")))
    end = _hm(str(params.get("forbidden_end", "08:00")))
    t = local.time()
    inside = (t >= start or t < end) if start > end else (start <= t < end)
    if not inside:
        return []
    return [(None, f"{local.isoformat(timespec='minutes')} 在 {start:%H:%M}–{end:%H:%M} 之间")]


def _hm(value: str) -> dt.time:
    h, m = value.split(":")
    return dt.time(int(h), int(m))


def _localize(at: dt.datetime, tz: str | None, pack_tz: str | None) -> dt.datetime | None:
    try:
        if tz:
            zone = ZoneInfo(tz)
            return at.astimezone(zone) if at.tzinfo else at.replace(tzinfo=zone)
        if at.tzinfo is not None:
            return at
        return at.replace(tzinfo=ZoneInfo(pack_tz)) if pack_tz else None
    except (ZoneInfoNotFoundError, ValueError):
        return None


def insult_model(ctx: MessageContext, params: dict[str, object]) -> list[Evidence]:
    from collectguard.detect.insult_model import InsultModel

    model = InsultModel.default()
    threshold = float(str(params.get("threshold", 0.9)))
    score = model.score(ctx.norm.text)
    if score < threshold:
        return []
    top = ", ".join(g for g, _ in model.top_ngrams(ctx.norm.text, 3))
    return [(None, f"offensive-language score {score:.2f} ({top})")]


BUILTINS: dict[str, Callable[[MessageContext, dict[str, object]], list[Evidence]]] = {
    "lookalike_link": lookalike_link,
    "offdomain_link": offdomain_link,
    "authority_link": authority_link,
    "personal_sender": personal_sender,
    "registry_mismatch": registry_mismatch,
    "phishing_link": phishing_link,
    "authority_impersonation": authority_impersonation,
    "night_time": night_time,
    "insult_model": insult_model,
}
"""Builtin name → detector. `frequency` and other history-aware checks run in the evidence
locker and the gateway, which see more than one message."""
