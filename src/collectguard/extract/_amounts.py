"""Amounts of money: ``3600元``, ``人民币12000.00``, ``RMB138.20元``, ``$1,234.50``, ``1.2万元``,
``三千元``, template placeholders (``{0}元``, ``KES {Amount}``), and bare numbers after an
amount cue (``余额1653.35``, ``消费1169.00``).

A number counts as money only with a currency mark, a unit or an amount cue; a bare number
is left to the other extractors.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from collectguard.extract._common import claim, is_free, match_at, orig, word_starts
from collectguard.extract._model import Amount
from collectguard.normalize import NormalizedText

_NUM = r"[0-9]{1,3}(?:,[0-9]{3})+(?:\.[0-9]+)?|[0-9]+(?:\.[0-9]+)?"
_PH = r"\{[^{}\n]{0,30}\}|%[0-9]*\$?[sd]"
_CN_DIGITS = "零一二两三四五六七八九十百千万亿壹贰叁肆伍陆柒捌玖拾佰仟"

# token → ISO 4217 code. Prefix marks come before the number, units after it.
_PREFIX_CURRENCY = {
    "人民币": "CNY", "rmb": "CNY", "cny": "CNY", "¥": "CNY",
    "us$": "USD", "usd": "USD", "$": "USD",
    "hk$": "HKD", "hkd": "HKD",
    "eur": "EUR", "€": "EUR", "gbp": "GBP", "£": "GBP",
    "kes": "KES", "ksh": "KES", "inr": "INR", "₹": "INR", "rs.": "INR", "rs": "INR",
    "php": "PHP", "₱": "PHP", "ngn": "NGN", "₦": "NGN",
    "港币": "HKD", "港元": "HKD", "美元": "USD", "美金": "USD", "欧元": "EUR", "英镑": "GBP",
}  # fmt: skip
_UNIT_CURRENCY = {
    "亿元": "CNY", "万元": "CNY", "千元": "CNY", "元": "CNY", "块钱": "CNY", "块": "CNY",
    "圆": "CNY", "人民币": "CNY", "rmb": "CNY", "cny": "CNY", "yuan": "CNY",
    "万": "CNY", "亿": "CNY",
    "美元": "USD", "美金": "USD", "usd": "USD", "dollars": "USD", "dollar": "USD",
    "bucks": "USD", "港币": "HKD", "港元": "HKD", "hkd": "HKD", "欧元": "EUR", "eur": "EUR",
    "英镑": "GBP", "gbp": "GBP", "kes": "KES", "ksh": "KES", "inr": "INR",
}  # fmt: skip
_MULTIPLIER = {"亿元": 1e8, "亿": 1e8, "万元": 1e4, "万": 1e4, "千元": 1e3}


def _alt(tokens: Iterable[str]) -> str:
    return "|".join(re.escape(t) for t in sorted(tokens, key=len, reverse=True))


_PREFIX = _alt(_PREFIX_CURRENCY)
_UNIT = (
    r"亿元|万元|千元|块钱|美元|美金|港币|港元|欧元|英镑|人民币|元(?![旦素宵])|块|圆"
    r"|万(?![人次条个家户名件位年里米])|亿(?![人次条个])"
    r"|(?:rmb|cny|yuan|usd|dollars?|bucks|hkd|eur|gbp|kes|ksh|inr)(?![a-z])"
)
_CUE = (
    r"余额|金额|消费|应还|欠款|透支|支取|存入|转入|转出|收入|支出|入账|退款|扣款|扣收|本金|利息"
    r"|罚息|共计|合计|总计|还款|缴存|到账|欠"
)

_AMOUNT_RE = re.compile(
    rf"(?P<pre>(?<![a-z])(?:{_PREFIX})(?!\{{)[ ]?(?:{_NUM}|{_PH})(?:[ ]?(?:{_UNIT}))?)(?![0-9])"
    rf"|(?P<suf>(?<![0-9a-z])(?<![0-9][.,])(?:{_NUM}|{_PH})[ ]?(?:{_UNIT}))"
    rf"|(?P<cn>(?<![{_CN_DIGITS}])[{_CN_DIGITS}]+(?:块钱|元(?![旦素宵化])))"
    rf"|(?:{_CUE})[:为是约了]{{0,2}}[ ]?"
    rf"(?P<cue>(?:人民币|rmb|¥)?[ ]?(?:{_NUM})(?:[ ]?(?:{_UNIT}))?)"
    r"(?![0-9]|[个天月日年号期次笔条分秒%倍])"
)
# Where an amount can start (see `match_at`): a number followed by a unit, or a word below
# (currency marks, placeholders, amount cues; 元 for a Chinese numeral before it).
_WORD_ANCHOR_RE = re.compile(rf"{_PREFIX}|\{{|%|元|块钱|{_CUE}")
_UNIT_AT_RE = re.compile(rf" ?(?:{_UNIT})")
_CN_DIGIT_SET = frozenset(_CN_DIGITS)
# Characters that may follow the first digit run of an amount: a unit's first character,
# a thousands separator or decimal point, a space.
_NUMBER_NEXT = frozenset({k[0] for k in _UNIT_CURRENCY} | set("千,. "))
_NUM_RE = re.compile(_NUM)
_PH_RE = re.compile(_PH)
_UNIT_TAIL_RE = re.compile(rf"(?:{_UNIT})$")
_PREFIX_HEAD_RE = re.compile(rf"(?:{_PREFIX})")

_CN_VALUE = {
    "零": 0, "〇": 0, "一": 1, "壹": 1, "二": 2, "两": 2, "贰": 2, "三": 3, "叁": 3,
    "四": 4, "肆": 4, "五": 5, "伍": 5, "六": 6, "陆": 6, "七": 7, "柒": 7, "八": 8,
    "捌": 8, "九": 9, "玖": 9,
}  # fmt: skip
_CN_UNIT = {"十": 10, "拾": 10, "百": 100, "佰": 100, "千": 1000, "仟": 1000}


def chinese_number(s: str) -> float | None:
    """Value of a Chinese numeral such as 三千, 一万二千五百, 十, 两百; None if malformed."""
    if not s:
        return None
    if all(c in _CN_VALUE for c in s):
        return float("".join(str(_CN_VALUE[c]) for c in s))
    total = 0
    section = 0
    num = 0
    for ch in s:
        if ch in _CN_VALUE:
            num = _CN_VALUE[ch]
        elif ch in _CN_UNIT:
            section += (num or 1) * _CN_UNIT[ch]
            num = 0
        elif ch == "万":
            total += (section + num) * 10_000
            section = num = 0
        elif ch == "亿":
            total = (total + section + num) * 100_000_000
            section = num = 0
        else:
            return None
    return float(total + section + num)


def _parse(value_text: str, cn: bool) -> tuple[float | None, str]:
    if cn:
        body = value_text[:-2] if value_text.endswith("块钱") else value_text[:-1]
        n = chinese_number(body)
        return n, "CNY"
    currency = "CNY"
    unit_m = _UNIT_TAIL_RE.search(value_text)
    unit = unit_m.group() if unit_m else ""
    if unit:
        currency = _UNIT_CURRENCY.get(unit.strip(), "CNY")
    head = _PREFIX_HEAD_RE.match(value_text)
    if head:
        currency = _PREFIX_CURRENCY[head.group()]
    if _PH_RE.search(value_text):
        return None, currency
    mult = _MULTIPLIER.get(unit, 1.0)
    num_m = _NUM_RE.search(value_text)
    if num_m is None:
        return None, currency
    return float(num_m.group().replace(",", "")) * mult, currency


def _starts(text: str, runs: list[tuple[int, int]]) -> list[int]:
    starts: list[int] = []
    n = len(text)
    num_match = _NUM_RE.match
    unit_match = _UNIT_AT_RE.match
    for s, e in runs:
        if e < n and text[e] in _NUMBER_NEXT:
            num = num_match(text, s)
            if num is not None and unit_match(text, num.end()):
                starts.append(s)
    for s in word_starts(_WORD_ANCHOR_RE, text):
        ch = text[s]
        if ch == "元" or (ch == "块" and text.startswith("块钱", s)):
            j = s
            while j > 0 and text[j - 1] in _CN_DIGIT_SET:
                j -= 1
            if j < s:
                starts.append(j)
            continue
        starts.append(s)
    starts.sort()
    return starts


def find_amounts(
    norm: NormalizedText, claimed: bytearray, runs: list[tuple[int, int]]
) -> list[Amount]:
    """Amounts in the text; `runs` are the spans of its digit runs, in order."""
    text = norm.text
    out: list[Amount] = []
    for m in match_at(_AMOUNT_RE, text, _starts(text, runs)):
        group = m.lastgroup
        if group is None:
            continue
        s, e = m.span(group)
        if not is_free(claimed, s, e):
            continue
        value, currency = _parse(text[s:e], group == "cn")
        if group == "cn" and value is None:
            continue
        claim(claimed, s, e)
        span, original = orig(norm, s, e)
        out.append(Amount(value, currency, span, original))
    return out
