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
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from collectguard.extract import Extraction, SenderInfo
from collectguard.normalize import NormalizedText
from collectguard.registry import LenderEntry, Organization, PlatformRegistry

Evidence = tuple[tuple[int, int] | None, str]


@dataclass(slots=True)
class MessageContext:
    """Everything a built-in detector may look at for one message."""

    norm: NormalizedText
    comp: NormalizedText
    ext: Extraction
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
    offdomain_fired: bool = False


_LINK_PLACEHOLDER = re.compile(r"此处为链接|二维码|(?:点击|登录|登入)(?:下方|以下)?链接")


def offdomain_link(ctx: MessageContext, params: dict[str, object]) -> list[Evidence]:
    """A link outside the claimed organisation's official domains (or an obviously risky link)."""
    out: list[Evidence] = []
    for link in ctx.ext.links:
        if link.is_ip:
            out.append((link.span, f"IP 地址链接 / IP-address link {link.host}"))
            continue
        if ctx.entry is None:
            continue
        if link.is_masked:
            out.append((link.span, f"被遮盖的链接 / masked link {link.text}"))
            continue
        if ctx.registry.is_official_domain(ctx.entry.id, link.host) is not None:
            continue
        owners = ctx.registry.domain_owner(link.registered_domain or link.host)
        if owners and all(o.id != ctx.entry.id for o, _ in owners):
            out.append((link.span, f"链接属于另一机构 / link belongs to another organisation: {link.host}"))
        elif isinstance(ctx.entry, LenderEntry) and ctx.entry.domains and not owners:
            out.append((link.span, f"非官方域名 / not an official domain of {ctx.entry.id}: {link.host}"))
        elif link.is_shortlink:
            out.append((link.span, f"短链接 / short link {link.host}"))
    return out


def personal_sender(ctx: MessageContext, params: dict[str, object]) -> list[Evidence]:
    s = ctx.sender
    if s is None or not s.is_personal or not isinstance(ctx.entry, LenderEntry):
        return []
    return [(None, f"个人号码发送 / personal number sender {s.digits} claims {ctx.entry.id}")]


def registry_mismatch(ctx: MessageContext, params: dict[str, object]) -> list[Evidence]:
    return [(None, f"登记渠道不符 / registry conflict: {c}") for c in ctx.conflicts]


def phishing_link(ctx: MessageContext, params: dict[str, object]) -> list[Evidence]:
    """A link (or link/QR placeholder) in a message judged a scam, or an off-domain link."""
    if not (ctx.scam_score >= 0.5 or ctx.offdomain_fired):
        return []
    out: list[Evidence] = [(link.span, link.text) for link in ctx.ext.links]
    if not out:
        for m in _LINK_PLACEHOLDER.finditer(ctx.comp.text):
            out.append((ctx.comp.to_original(m.start(), m.end()), m.group(0)))
    return out[:3]


def authority_impersonation(ctx: MessageContext, params: dict[str, object]) -> list[Evidence]:
    """An authority's name used by a scam or a collector, or in the speaker's position."""
    out: list[Evidence] = []
    for hit in ctx.registry.match_names(ctx.comp.text):
        org = ctx.registry.get(hit.entry_id)
        if not isinstance(org, Organization) or not org.is_authority:
            continue
        span = ctx.comp.to_original(hit.start, hit.end)
        speaker = ctx.claimed_span is not None and ctx.claimed_span[0] <= span[0] < ctx.claimed_span[1]
        tail = ctx.comp.text[hit.end : hit.end + 3]
        speaks = tail.startswith(("通知", "提醒", "告知", "温馨")) or hit.start <= 2
        if ctx.scam_score >= 0.5 or speaker or (speaks and ctx.is_collection):
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
    "offdomain_link": offdomain_link,
    "personal_sender": personal_sender,
    "registry_mismatch": registry_mismatch,
    "phishing_link": phishing_link,
    "authority_impersonation": authority_impersonation,
    "night_time": night_time,
    "insult_model": insult_model,
}
"""Builtin name → detector. `frequency` and other history-aware checks run in the evidence
locker and the gateway, which see more than one message."""
