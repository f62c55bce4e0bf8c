"""Account-like numbers: bank cards, accounts, card tails, ID numbers, order numbers.

Two passes. `find_cued_accounts` runs early and takes numbers introduced by a cue word
(``尾号1234``, ``账户6450``, ``信用卡6666``, ``订单2537489474``, ``身份证号…``,
``account ending in 1234``) so that no later extractor reads them as dates, amounts or
phones; the span includes the cue. `find_bare_accounts` runs after dates and amounts and takes
uncued 16–19-digit card numbers and 18-character resident ID numbers.
"""

from __future__ import annotations

import re

from collectguard.extract._common import claim, is_free, match_at, orig, word_starts
from collectguard.extract._model import AccountKind, AccountNumber
from collectguard.normalize import NormalizedText

_NOT_AFTER = r"(?![0-9a-z年月日号时点:元万]|[.,][0-9])"
_CARD_GROUPED = r"[0-9]{4}(?:[ \-][0-9]{4}){3}(?:[ \-]?[0-9]{1,3})?"
_CUED_RE = re.compile(
    r"(?P<tail>(?:卡|账户|账号)?尾号(?:为|是)?[: ]?)(?P<tail_d>[0-9*]{3,6})(?![0-9])"
    r"|(?P<id>身份证(?:号码|号)?(?:尾号)?(?:为|是)?[: ]?)(?P<id_d>[0-9]{17}[0-9x]|[0-9*x]{4,18})"
    r"(?![0-9a-z])"
    r"|(?P<order>(?:订单号?|单号|合同号|合同编号|借据号|借款编号"
    r"|(?<![a-z])order(?: ?(?:no\.?|number|#|id))?)[:# ]{0,2})(?P<order_d>[0-9][0-9\-]{4,31})"
    r"(?![0-9])"
    r"|(?P<acc>(?:收款账户|收款账号|收款卡号|银行账户|银行账号|银行卡号?|对公账户|账户|账号|卡号|信用卡"
    r"|借记卡|储蓄卡|贷记卡|(?<![a-z])(?:account|acct\.?)(?: ?(?:number|no\.?|#))?)[:# ]{0,2})"
    rf"(?P<acc_d>{_CARD_GROUPED}|[0-9*]{{3,30}}){_NOT_AFTER}"
    r"|(?P<en_tail>(?<![a-z])(?:account|card|acct\.?) ending(?: in| with)? )"
    r"(?P<en_tail_d>[0-9]{3,6})(?![0-9])"
)
# Where a cued number can start (see `match_at`).
_CUED_ANCHOR_RE = re.compile(
    r"卡尾号|尾号|账户|账号|身份证|订单|单号|合同|借据号|借款编号|收款|银行|对公|卡号|信用卡|借记卡|储蓄卡"
    r"|贷记卡|order|account|acct|card"
)
_BARE_RE = re.compile(
    r"(?<![0-9a-z])(?P<idn>[1-9][0-9]{5}(?:19|20)[0-9]{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])"
    r"[0-9]{3}[0-9x])(?![0-9a-z])"
    rf"|(?<![0-9a-z])(?P<card>{_CARD_GROUPED}|[0-9]{{16,19}})(?![0-9a-z])"
)
_SEPS = str.maketrans("", "", " -")
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10x98765432"
_CARD_CUES = ("信用卡", "借记卡", "储蓄卡", "贷记卡", "卡号", "银行卡")


def luhn_valid(digits: str) -> bool:
    """Luhn checksum of a card number (digits only)."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        n = ord(ch) - 48
        if i % 2:
            n *= 2
            if n > 9:
                n -= 9
        total += n
    return total % 10 == 0


def id_checksum_valid(id18: str) -> bool:
    """ISO 7064 MOD 11-2 check character of an 18-character PRC resident ID number."""
    total = sum((ord(c) - 48) * w for c, w in zip(id18[:17], _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11] == id18[17]


def _card_kind(digits: str) -> tuple[AccountKind, bool | None]:
    if "*" in digits or not 16 <= len(digits) <= 19:
        return "account", None
    valid = luhn_valid(digits)
    return ("bank_card" if valid or digits.startswith("62") else "account"), valid


def find_cued_accounts(norm: NormalizedText, claimed: bytearray) -> list[AccountNumber]:
    text = norm.text
    out: list[AccountNumber] = []
    for m in match_at(_CUED_RE, text, word_starts(_CUED_ANCHOR_RE, text)):
        group = m.lastgroup
        if group is None:
            continue
        digits = m.group(group).translate(_SEPS)
        if not any(c.isdigit() for c in digits):
            continue  # 尾号**** — all masked; the mask extractor reports it
        cue = m.group(group.removesuffix("_d"))
        luhn: bool | None = None
        kind: AccountKind
        if group == "tail_d" or group == "en_tail_d":
            kind = "card_tail"
        elif group == "id_d":
            kind = "id_number"
        elif group == "order_d":
            kind = "order"
        elif 16 <= len(digits) <= 19 and "*" not in digits:
            kind = "bank_card"
            luhn = luhn_valid(digits)
        elif len(digits) <= 4 and cue.rstrip(":# ").endswith(_CARD_CUES):
            kind = "card_tail"
        else:
            kind = "account"
        s, e = m.span()
        if not is_free(claimed, s, e):
            continue
        claim(claimed, s, e)
        span, original = orig(norm, s, e)
        out.append(AccountNumber(kind, digits, span, original, luhn))
    return out


def find_bare_accounts(norm: NormalizedText, claimed: bytearray) -> list[AccountNumber]:
    text = norm.text
    out: list[AccountNumber] = []
    for m in _BARE_RE.finditer(text):
        s, e = m.span()
        if not is_free(claimed, s, e):
            continue
        kind: AccountKind
        luhn: bool | None
        if m.group("idn") is not None:
            digits = m.group("idn")
            if id_checksum_valid(digits):
                kind, luhn = "id_number", None
            elif digits.isdigit() and luhn_valid(digits):
                kind, luhn = "bank_card", True
            else:
                kind, luhn = "id_number", None
        else:
            digits = m.group("card").translate(_SEPS)
            kind, luhn = _card_kind(digits)
        claim(claimed, s, e)
        span, original = orig(norm, s, e)
        out.append(AccountNumber(kind, digits, span, original, luhn))
    return out
