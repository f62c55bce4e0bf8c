"""Platform attribution: which organisation does the message claim to come from?

Order of evidence, strongest first: a 【signature】 naming a registry entry; a registry name
(legal name, brand, product alias) in the body; a signature naming something the registry
does not know; the sender field when it is a name; the sender number when it is a registry
hotline; a name the body introduces in a typical phrase (``在XX申请的借款``, ``Your X
verification code``). Consistency checks against the registry (official hotline, domain) are
recorded as `consistency` for the verdict.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field

from collectguard.extract import Extraction, LazyExtraction, SenderInfo
from collectguard.normalize import NormalizedText, compact, normalize
from collectguard.registry import LenderEntry, NameHit, Organization, PlatformRegistry

_CN = r"[\u4e00-\u9fffa-z0-9]"
# Patterns run on the normalized text (lower-case ASCII); the name is the group "name".
# (literals one of which the text must contain, pattern): the cheap check skips the regex.
_BODY_NAME_PATTERNS = [
    (
        ("在", "您在"),
        re.compile(r"在[“\"「]?(?P<name>" + _CN + r"{2,10}?)[”\"」]?(?:申请|借|办理|使用)的"),
    ),
    (
        ("您", "您在"),
        re.compile(
            r"您在?[“\"「]?(?P<name>" + _CN + r"{2,8}?)[”\"」]?的(?:订单|借款|账单|贷款|分期)"
        ),
    ),
    (
        ("关注", "搜索", "下载"),
        re.compile(
            r"(?:关注|搜索|下载)(?:微信)?(?:公众号|公共号|服务号|app)[:：]?(?P<name>"
            + _CN
            + r"{2,10})"
        ),
    ),
    (("用户",), re.compile(r"(?:^|[,，。】])(?P<name>" + _CN + r"{2,8}?)用户[,，:：]")),
    (
        ("提醒", "通知"),
        re.compile(r"(?:^|[,，。】])(?P<name>" + _CN + r"{2,10}?)(?:提醒|通知)(?:您|你)"),
    ),
    (("您在",), re.compile(r"您在(?P<name>[\u4e00-\u9fff]{2,8}?)有")),
    (
        (" code",),
        re.compile(
            r"\byour (?P<name>[a-z0-9][\w.-]{1,24}) "
            r"(?:verification|confirmation|security|login) code\b"
        ),
    ),
    (("welcome to ",), re.compile(r"\bwelcome to (?P<name>[a-z0-9][\w.-]{1,24})\b")),
]
# Every literal above, longest first so that findall reports 您在 rather than 您 (the
# patterns that need 您 or 在 list 您在 too).
_BODY_LITERALS = re.compile(
    "|".join(
        re.escape(lit)
        for lit in sorted(
            {x for lits, _ in _BODY_NAME_PATTERNS for x in lits}, key=len, reverse=True
        )
    )
)
# Patterns run on the original text: capitalised company names.
_EN_NAME_PATTERNS = [
    (
        ("from ", "this is ", "on behalf of "),
        re.compile(
            r"\b(?:calling from|this is|on behalf of|from) (?P<name>(?:[A-Z][\w&.-]*\s?){1,4}"
            r"(?:LTD|Ltd|Inc|LLC|Limited|Corp|Services|Systems|Financial|Bank|Recovery|Collections?))"
        ),
    ),
    (
        ("LTD", "Ltd", "Inc", "LLC", "Limited", "Corp"),
        re.compile(r"\b(?P<name>(?:[A-Z][\w&.-]*\s){1,4}(?:LTD|Ltd|Inc|LLC|Limited|Corp)\b\.?)"),
    ),
]
_GENERIC = frozenset(
    [
        "尊敬",
        "客户",
        "尊敬的客户",
        "您",
        "我们",
        "用户",
        "亲爱",
        "本人",
        "平台",
        "系统",
        "app",
        "您的",
        "我司",
    ]
)


# Signatures that name a kind of message rather than a sender (【温馨提示】, 【验证码】).
_GENERIC_SIGNATURE = re.compile(
    r"^(温馨|重要|紧急|特别|友情|安全|系统|业务|最新|官方)?(提示|提醒|通知|公告|消息|告知|警示|短信)$"
    r"|验证码|验证密码|校验码|动态码|监控系统|^通知$|^提醒$|^公告$"
)


@functools.lru_cache(maxsize=4096)
def _compact_name(name: str) -> NormalizedText:
    """Signatures and sender names repeat across a batch: normalize each once."""
    return compact(normalize(name))


def _is_sender_name(name: str) -> bool:
    name = name.strip()
    return bool(name) and name not in _GENERIC and not _GENERIC_SIGNATURE.search(name)


@dataclass(slots=True)
class Attribution:
    claimed_name: str
    entry: LenderEntry | Organization | None
    matched_by: list[str]
    confidence: float
    span: tuple[int, int] | None
    consistency: list[str] = field(default_factory=list)
    """Registry checks that passed: sender_official_hotline, port_suffix, official_domain."""
    conflicts: list[str] = field(default_factory=list)
    """Registry checks that failed: sender_other_entry, callback_not_official, ..."""

    @property
    def entry_id(self) -> str | None:
        return self.entry.id if self.entry is not None else None


def _entry_kind(entry: LenderEntry | Organization) -> str:
    if isinstance(entry, LenderEntry):
        return "bank" if entry.license_type == "bank" else "lender"
    return entry.kind


def _name_hits(
    registry: PlatformRegistry, text: NormalizedText, names: list[NameHit] | None = None
) -> list[tuple[LenderEntry | Organization, str, tuple[int, int], str]]:
    """Registry entries named in `text` (`names`: its `match_names` hits, when known)."""
    out: list[tuple[LenderEntry | Organization, str, tuple[int, int], str]] = []
    for hit in registry.match_names(text.text) if names is None else names:
        entry = registry.get(hit.entry_id)
        if entry is None:
            continue
        span = text.to_original(hit.start, hit.end)
        out.append((entry, text.original[span[0] : span[1]], span, hit.field))
    return out


def _prefer(
    hits: list[tuple[LenderEntry | Organization, str, tuple[int, int], str]],
) -> tuple[LenderEntry | Organization, str, tuple[int, int], str] | None:
    """Lenders and banks before other organisations; then the earliest, longest name."""
    if not hits:
        return None
    return sorted(
        hits,
        key=lambda h: (0 if isinstance(h[0], LenderEntry) else 1, h[2][0], -(h[2][1] - h[2][0])),
    )[0]


def attribute(
    norm: NormalizedText,
    comp: NormalizedText,
    ext: Extraction | LazyExtraction,
    sender: SenderInfo | None,
    sender_text: str | None,
    registry: PlatformRegistry,
    body_names: list[NameHit] | None = None,
) -> Attribution | None:
    """The claimed organisation, with what matched and how it squares with the registry.

    `body_names` are `registry.match_names(comp.text)` when the caller has them already."""
    result: Attribution | None = None
    # 1-2. signatures, registry hits inside them first
    unknown_signature: tuple[str, tuple[int, int]] | None = None
    sig_hits: list[tuple[LenderEntry | Organization, str, tuple[int, int], str]] = []
    for sig in ext.signatures:
        sig_norm = _compact_name(sig.name)
        for hit in registry.match_names(sig_norm.text):
            entry = registry.get(hit.entry_id)
            if entry is not None:
                sig_hits.append((entry, sig.name, sig.span, hit.field))
        if unknown_signature is None and _is_sender_name(sig.name):
            unknown_signature = (sig.name, sig.span)
    best = _prefer(sig_hits)
    if best is not None:
        entry, name, span, fld = best
        result = Attribution(name, entry, ["signature", fld], 0.9, span)
    if result is None and unknown_signature is not None:
        result = Attribution(unknown_signature[0], None, ["signature"], 0.6, unknown_signature[1])
    body_hits = _name_hits(registry, comp, body_names)
    body_lender = _prefer([h for h in body_hits if isinstance(h[0], LenderEntry)])
    body_org = _prefer(
        [
            h
            for h in body_hits
            if not isinstance(h[0], LenderEntry) and _org_speaks(norm.original, h[2])
        ]
    )
    if result is None and body_lender is not None:
        entry, name, span, fld = body_lender
        result = Attribution(name, entry, ["body", fld], 0.7, span)
    elif result is not None and result.entry_id is not None:
        if any(h[0].id == result.entry_id for h in body_hits):
            result.matched_by.append("body")
    if result is None:
        result = _body_phrase(norm)
        if result is not None and body_org is not None and result.span is not None:
            o_span = body_org[2]
            if o_span[0] < result.span[1] and result.span[0] < o_span[1]:
                result = None  # the phrase names a registry organisation: use the entry
    if result is None and body_org is not None:
        entry, name, span, fld = body_org
        result = Attribution(name, entry, ["body", fld], 0.6, span)
    if result is None and sender_text and sender is not None and sender.kind == "name":
        sn = _compact_name(sender_text)
        sender_hit = _prefer(_name_hits(registry, sn))
        if sender_hit is not None:
            result = Attribution(
                sender_text, sender_hit[0], ["sender_name", sender_hit[3]], 0.6, None
            )
    if result is None and sender is not None and sender.digits:
        owners = registry.hotline_owner(sender.digits)
        if owners:
            entry_h, _hotline = owners[0]
            result = Attribution(entry_h.display_name, entry_h, ["sender_hotline"], 0.5, None)
    if result is None:
        return None
    _check_consistency(result, ext, sender, registry, norm.text)
    return result


_MENTION_BEFORE = ("向", "去", "到", "找", "往", "报", "交给", "交由", "移交", "移送")
_CHANNEL_BEFORE = ("加", "添加", "客服", "私聊", "关注", "打开", "下载", "搜索", "通过", "用")
_CHANNEL_AFTER = ("号", "搜索", "扫码", "扫一扫", "转账", "联系", "好友", "群", "私聊")


def _org_speaks(text: str, span: tuple[int, int]) -> bool:
    """False when the body only names an organisation as the target of an action
    (``已向公安机关报案``, ``移交法院``) or uses its app as a channel (``添加客服微信``,
    ``微信号``): that organisation is not the claimed sender."""
    before = text[max(0, span[0] - 4) : span[0]].rstrip()
    after = text[span[1] : span[1] + 3].lstrip()
    return not (
        before.endswith(_MENTION_BEFORE)
        or before.endswith(_CHANNEL_BEFORE)
        or after.startswith(_CHANNEL_AFTER)
    )


def _body_phrase(norm: NormalizedText) -> Attribution | None:
    text = norm.text
    present = set(_BODY_LITERALS.findall(text))
    if not present:
        return _en_body_phrase(norm)
    for literals, pat in _BODY_NAME_PATTERNS:
        if present.isdisjoint(literals):
            continue
        for m in pat.finditer(text):
            name = m.group("name")
            if name in _GENERIC or name.startswith("尊敬"):
                continue
            s, e = norm.to_original(m.start("name"), m.end("name"))
            return Attribution(norm.original[s:e], None, ["body_phrase"], 0.45, (s, e))
    return _en_body_phrase(norm)


def _en_body_phrase(norm: NormalizedText) -> Attribution | None:
    for literals, pat in _EN_NAME_PATTERNS:
        if not any(lit in norm.original for lit in literals):
            continue
        em = pat.search(norm.original)
        if em:
            name = em.group("name").strip()
            s = em.start("name")
            return Attribution(name, None, ["body_phrase"], 0.45, (s, s + len(name)))
    return None


# An unmasked mobile (11 digits) or landline (area code + 7-8 digits) is a stretch of at
# least 10 digits with at most 3 separator characters between them (what the phone
# extractor accepts): without one, the costly extraction of phones cannot find either.
_CALLABLE_NUMBER = re.compile(r"[0-9](?:[ \-.()]{0,3}[0-9]){9}")


def _check_consistency(
    result: Attribution,
    ext: Extraction | LazyExtraction,
    sender: SenderInfo | None,
    registry: PlatformRegistry,
    text: str,
) -> None:
    entry = result.entry
    if sender is not None and sender.digits:
        owners = registry.hotline_owner(sender.digits)
        if entry is not None and any(o.id == entry.id for o, _ in owners):
            result.consistency.append("sender_official_hotline")
            result.matched_by.append("sender_hotline")
        elif owners and entry is not None:
            result.conflicts.append("sender_is_other_entrys_hotline")
    if entry is None:
        return
    for link in ext.links:
        if link.is_masked or not link.registered_domain:
            continue
        if registry.is_official_domain(entry.id, link.host) is not None:
            result.consistency.append("official_domain")
            if "domain" not in result.matched_by:
                result.matched_by.append("domain")
    if not _CALLABLE_NUMBER.search(text):
        return  # no unmasked mobile or landline number can be in this text
    if isinstance(entry, LenderEntry) and entry.hotlines:
        for phone in ext.phones:
            if phone.kind in ("mobile", "landline") and not getattr(phone, "masked", False):
                if registry.is_official_hotline(entry.id, phone.digits) is None:
                    result.conflicts.append("callback_number_not_official")
                    break
    elif isinstance(entry, Organization):
        for phone in ext.phones:
            if phone.kind in ("mobile", "landline") and not getattr(phone, "masked", False):
                result.conflicts.append("callback_personal_number_for_organization")
                break


def platform_kind(entry: LenderEntry | Organization | None) -> str | None:
    return _entry_kind(entry) if entry is not None else None
