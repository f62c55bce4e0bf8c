"""Telephone numbers and SMS ports in the text, and the classification of a sender field.

Number kinds follow the Chinese numbering plan: ``106…`` SMS ports, ``95xxx(x)`` and
``96xxx(x)`` customer-service numbers, ``400``/``800`` intelligent-service numbers, short
public numbers (110, 12321, 12378, 10086, 1010xxxx), 11-digit mobiles (carrier by segment,
``data/mobile_segments.txt``), landlines (area code + 7–8 digits), and international numbers
(``+…``, or North-American numbers in English text, via phonenumbers).

Digits that earlier extractors claimed (links, amounts, dates, accounts) and verification
codes (``验证码:953421``) are never read as phones. Short numbers must look like a known
service number or follow a cue (电话, 致电, call …); a number followed by a unit (天, 元, 分 …)
is a quantity.
"""

from __future__ import annotations

import functools
import re

import phonenumbers

from collectguard.extract._common import CJK_RE, claim, data_lines, is_free, orig
from collectguard.extract._model import PhoneKind, PhoneNumber, SenderInfo, SenderKind
from collectguard.normalize import NormalizedText, normalize


def _load_segments() -> dict[str, str]:
    out: dict[str, str] = {}
    for line in data_lines("mobile_segments.txt"):
        prefix, carrier = line.split()
        out[prefix] = carrier
    return out


MOBILE_SEGMENTS: dict[str, str] = _load_segments()

_EMERGENCY = frozenset({"110", "112", "114", "119", "120", "122", "911", "999"})

_SEP = r"(?:[ ]?[\-.][ ]?|[ ]|[ ]?\([ ]?|[ ]?\)[ ]?)"
_CANDIDATE_RE = re.compile(
    r"(?<![0-9a-z_@#%$¥&=/\\.*+\-])"
    r"(?:\+[ ]?)?\(?"
    rf"[0-9][0-9*]*(?:{_SEP}[0-9*]+)*"
    r"(?![0-9a-z])"
)
_MASKED_X_RE = re.compile(r"(?<![0-9a-z])1[3-9][0-9]{1,2}[x×]{4,5}[0-9]{3,4}(?![0-9a-z])")
_PIECE_RE = re.compile(r"\+?[0-9*][0-9*().\-]*")
_GROUP_SPLIT_RE = re.compile(r"[^0-9*]+")
_CODE_RE = re.compile(
    r"(?:验证码|校验码|动态码|动态密码|确认码|激活码|识别码|授权码|短信码|(?<![a-z])(?:code|otp|pin)(?![a-z]))"
    r"[^0-9\n]{0,12}?(?P<a>[0-9]{4,8})(?![0-9])"
    r"|(?<![0-9])(?P<b>[0-9]{4,8})(?:[)\]] ?|是|为| is )(?:您|你|your )?的?"
    r"[\u4e00-\u9fffa-z ]{0,16}?(?:验证码|校验码|动态码|(?<![a-z])code)"
)
_CUE_RE = re.compile(
    r"(?:电话|致电|拨打|热线|客服|回电|联系|报警|举报|手机|号码|传真|座机|专线|"
    r"(?<![a-z])(?:tel|phone|call|dial|fax|hotline|mobile|cell|at))"
    r"(?:号码)?(?:是|为)?[ :#]*$"
)
_SEP_CHARS = frozenset(" -.()")
_UNIT_AFTER = frozenset("元块天日月年个分秒笔期次人条万亿%岁份倍家件楼室栋位名号")


def _carrier(d: str) -> str | None:
    return MOBILE_SEGMENTS.get(d[:4]) or MOBILE_SEGMENTS.get(d[:3])


@functools.lru_cache(maxsize=1024)
def _international(e164: str) -> str | None:
    """ISO region of a +number, or None when phonenumbers says it is impossible."""
    try:
        n = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(n):
        return None
    return phonenumbers.region_code_for_number(n) or "001"


@functools.lru_cache(maxsize=1024)
def _nanp_valid(d: str) -> bool:
    try:
        n = phonenumbers.parse(d, "US")
    except phonenumbers.NumberParseException:
        return False
    return bool(phonenumbers.is_valid_number(n))


Classified = tuple[PhoneKind, str | None, str | None]  # kind, carrier, region


def _national(d: str, groups: list[str]) -> Classified | None:
    """Classify a mainland number without international prefix."""
    n = len(d)
    if "*" in d:
        if n == 11 and d[0] == "1" and d[1] in "3456789" and "*" not in d[:3]:
            return "mobile", _carrier(d), None
        if d[0] == "0" and 10 <= n <= 12 and "*" not in d[:3]:
            return "landline", None, d[:3] if d[1] in "12" else d[:4]
        return None
    if d.startswith("106") and 8 <= n <= 21:
        return "sms_port", None, None
    if n == 11 and d[0] == "1" and d[1] in "3456789":
        return "mobile", _carrier(d), None
    if n == 10 and d.startswith("400"):
        return "service_400", None, None
    if n == 10 and d.startswith("800"):
        return "service_800", None, None
    if d[0] == "0" and d[1:2] != "0" and 10 <= n <= 12:
        if groups and len(groups) > 1 and len(groups[0]) in (3, 4) and groups[0][0] == "0":
            area = groups[0]
        else:
            area = d[:3] if d[1] in "12" else d[:4]
        if n - len(area) in (7, 8):
            return "landline", None, area
        return None
    if d.startswith("95") and 5 <= n <= 8:
        return "service_95", None, None
    if d.startswith("96") and 5 <= n <= 6:
        return "service_96", None, None
    if n == 5 and d.startswith(("100", "12")):
        return "short_service", None, None
    if n == 8 and d.startswith("1010"):
        return "short_service", None, None
    if n == 3 and d in _EMERGENCY:
        return "short_service", None, None
    return None


def classify_digits(d: str, groups: list[str], english: bool) -> Classified | None:
    """Kind, carrier and region of a number; None when it is no recognizable number."""
    if d.startswith("+") or (d.startswith("00") and len(d) >= 9):
        rest = d[1:] if d[0] == "+" else d[2:]
        if "*" in rest or not rest:
            return None
        if rest.startswith("86"):
            nat = rest[2:]
            if nat and nat[0] != "0" and not (nat[0] == "1" and len(nat) == 11):
                nat = "0" + nat  # +86 21 5386 6655 → 021 5386 6655
            cn = _national(nat, []) if len(nat) >= 3 else None
            if cn is not None:
                return cn
        region = _international("+" + rest)
        if region is None:
            return None
        return "international", None, region
    n = len(d)
    if "*" not in d:
        nanp_groups = [len(g) for g in groups]
        if (nanp_groups == [1, 3, 3, 4] and d[0] == "1") or (
            (english or nanp_groups == [3, 3, 4])
            and (n == 10 or (n == 11 and d[0] == "1"))
            and not d.startswith(("400", "0"))
            and not (n == 11 and nanp_groups in ([11], [3, 4, 4]))
            and (english or not d.startswith("800"))
        ):
            if _nanp_valid(d):
                return "international", None, "US"
    return _national(d, groups)


def _has_cue(text: str, start: int) -> bool:
    return _CUE_RE.search(text, max(0, start - 12), start) is not None


def claim_codes(text: str, claimed: bytearray) -> None:
    """Claim verification codes so they are never read as phone numbers."""
    if "码" not in text and "code" not in text and "otp" not in text and "pin" not in text:
        return
    for m in _CODE_RE.finditer(text):
        group = "a" if m.group("a") is not None else "b"
        claim(claimed, m.start(group), m.end(group))


def _accept(
    text: str, s: int, e: int, d: str, cls: Classified | None, allow_unknown: bool
) -> tuple[Classified | None, bool]:
    """Apply context rules; returns (classification, keep)."""
    digits_only = d.lstrip("+")
    short = len(digits_only) <= 8 and not d.startswith("+")
    if short and e < len(text) and text[e] in _UNIT_AFTER and not text.startswith("号码", e):
        return None, False
    if short and s > 0 and text[s - 1] == "第":
        return None, False
    if cls is None:
        if allow_unknown and len(digits_only) >= 5 and "*" not in d and _has_cue(text, s):
            return ("unknown", None, None), True
        return None, False
    if cls[0] == "short_service" and len(digits_only) == 3 and not _has_cue(text, s):
        return None, False
    return cls, True


def find_phones(
    norm: NormalizedText, claimed: bytearray, runs: list[tuple[int, int]]
) -> list[PhoneNumber]:
    """Phones in the text; `runs` are the spans of its digit runs, in order."""
    text = norm.text
    n = len(text)
    out: list[PhoneNumber] = []
    english: bool | None = None
    last = 0
    match = _CANDIDATE_RE.match
    for rs, re_ in runs:
        if rs < last or claimed[rs]:
            continue
        if re_ - rs < 3 and (re_ >= n or text[re_] not in _SEP_CHARS):
            continue
        st = rs
        if rs > 0 and text[rs - 1] in "(+":
            st = rs - 1
            if st > 0 and text[st - 1] == "+":
                st -= 1
        elif rs > 1 and text[rs - 2 : rs] == "+ ":
            st = rs - 2
        m = match(text, st)
        if m is None and st != rs:
            m = match(text, rs)
        if m is None:
            continue
        s, e = m.span()
        last = e
        raw = m.group()
        if e - s < 3:
            continue
        if english is None:
            english = CJK_RE.search(text) is None
        whole_free = is_free(claimed, s, e)
        if whole_free and _emit(norm, claimed, s, e, english, out, False):
            continue
        # The whole run is no number (or overlaps a claimed date, amount …): try the parts
        # between spaces, e.g. "95588 10086" or "2024 95588".
        found = False
        if " " in raw or not whole_free:
            for pm in _PIECE_RE.finditer(raw):
                ps, pe = s + pm.start(), s + pm.end()
                if (ps, pe) != (s, e) and is_free(claimed, ps, pe):
                    found = _emit(norm, claimed, ps, pe, english, out, False) or found
        if not found and whole_free:
            _emit(norm, claimed, s, e, english, out, True)
    if "x" in text or "×" in text:
        for m in _MASKED_X_RE.finditer(text):
            s, e = m.span()
            if len(m.group()) == 11 and is_free(claimed, s, e):
                d = m.group().replace("x", "*").replace("×", "*")
                claim(claimed, s, e)
                span, original = orig(norm, s, e)
                out.append(PhoneNumber(d, "mobile", span, original, _carrier(d), None, True))
        out.sort(key=lambda p: p.span)
    return out


def _emit(
    norm: NormalizedText,
    claimed: bytearray,
    s: int,
    e: int,
    english: bool,
    out: list[PhoneNumber],
    allow_unknown: bool,
) -> bool:
    text = norm.text
    # Trim spaces and an unbalanced "(" or ")" the separator pattern may leave at the edges.
    while s < e and (text[s] == " " or (text[s] == "(" and ")" not in text[s:e])):
        s += 1
    while e > s and (text[e - 1] == " " or (text[e - 1] == ")" and "(" not in text[s:e])):
        e -= 1
    raw = text[s:e]
    plus = raw.startswith("+")
    groups = [g for g in _GROUP_SPLIT_RE.split(raw) if g]
    d = ("+" if plus else "") + "".join(groups)
    if len(d.lstrip("+")) < 3:
        return False
    cls, keep = _accept(text, s, e, d, classify_digits(d, groups, english), allow_unknown)
    if not keep or cls is None:
        return False
    kind, carrier, region = cls
    claim(claimed, s, e)
    span, original = orig(norm, s, e)
    out.append(PhoneNumber(d, kind, span, original, carrier, region, "*" in d))
    return True


_PAREN_RE = re.compile(r"[(（]([^()（）]*)[)）]")
_SPACE_BEFORE_PUNCT_RE = re.compile(r" ([,，;；:：])")
_SENDER_NUM_RE = re.compile(r"\+?[0-9][0-9 \-.()]*[0-9]|[0-9]+")
_PREFIX_NOTE_RE = re.compile(r"开头|开始|起始|prefix|starting")
_DESCRIPTIVE_RE = re.compile(r"号码|号|number|unknown|未知|隐藏|未公开")
_PERSONAL: frozenset[str] = frozenset({"mobile", "landline"})


def _prefix_kind(d: str) -> SenderKind:
    if d.startswith("106"):
        return "sms_port"
    if d.startswith("95"):
        return "service_95"
    if d.startswith("96"):
        return "service_96"
    if d.startswith("400"):
        return "service_400"
    if d.startswith("800"):
        return "service_800"
    if len(d) >= 2 and d[0] == "1" and d[1] in "3456789":
        return "mobile"
    if d.startswith("0"):
        return "landline"
    return "unknown"


@functools.lru_cache(maxsize=16384)  # a phone's messages come from a few hundred senders
def classify_sender(sender: str) -> SenderInfo:
    """Classify a message's sender field: a number (``95588``, ``+12035638713``), a name
    (``建设银行``) or free text with a parenthetical note (``95188(伪基站冒用)``). Cached:
    `SenderInfo` is immutable."""
    if sender.isascii() and sender.isdigit():
        return _classify_plain_number(sender)  # most senders: nothing to fold or parse
    return _classify_sender_text(sender)


def _classify_plain_number(d: str) -> SenderInfo:
    """`classify_sender` of a sender that is only ASCII digits: nothing to fold, no note, one
    group (property-tested against `_classify_sender_text`)."""
    cls = classify_digits(d, [d], english=False)
    if cls is None:
        return SenderInfo("unknown", d, None, False, None, None, None)
    kind, carrier, region = cls
    return SenderInfo(kind, d, carrier, kind in _PERSONAL, region, None, None)


def _classify_sender_text(sender: str) -> SenderInfo:
    raw = sender.strip()
    notes = [m.group(1).strip() for m in _PAREN_RE.finditer(raw)]
    rest = _SPACE_BEFORE_PUNCT_RE.sub(r"\1", " ".join(_PAREN_RE.sub(" ", raw).split()))
    rest = rest.strip(" ,，;；")
    note = "; ".join(n for n in notes if n) or None
    folded = normalize(rest).text.strip()
    m = _SENDER_NUM_RE.search(folded)
    if m is None:
        if not folded:
            return SenderInfo("unknown", None, None, False, None, note, None)
        if _DESCRIPTIVE_RE.search(folded) and len(folded) <= 12:
            return SenderInfo("unknown", None, None, False, None, note, None)
        return SenderInfo("name", None, None, False, None, note, rest)
    raw_num = m.group()
    plus = raw_num.startswith("+")
    groups = [g for g in _GROUP_SPLIT_RE.split(raw_num) if g]
    d = ("+" if plus else "") + "".join(groups)
    leftover = (folded[: m.start()] + folded[m.end() :]).strip()
    if leftover and _PREFIX_NOTE_RE.search(leftover):
        kind: SenderKind = _prefix_kind(d)
        extra = leftover
        note = f"{extra}; {note}" if note else extra
        return SenderInfo(kind, d, None, False, None, note, None)
    cls = classify_digits(d, groups, english=False)
    if cls is None:
        return SenderInfo("unknown", d, None, False, None, note, leftover or None)
    kind, carrier, region = cls
    return SenderInfo(kind, d, carrier, kind in _PERSONAL, region, note, leftover or None)
