"""The extraction pipeline: run every extractor over one normalized message.

Order matters because extractors claim the characters they consume: links first (their
digits are no phone numbers), then cued account numbers (``尾号1234``), amounts, dates,
verification codes, bare card and ID numbers, and phones last. Signatures, masks and
parties are independent of the claims.
"""

from __future__ import annotations

from collectguard.extract._accounts import find_bare_accounts, find_cued_accounts
from collectguard.extract._amounts import find_amounts
from collectguard.extract._common import DIGIT_RUN_RE
from collectguard.extract._dates import find_dates
from collectguard.extract._links import find_links
from collectguard.extract._masks import find_masked
from collectguard.extract._model import AccountNumber, Extraction, PhoneNumber
from collectguard.extract._parties import find_parties
from collectguard.extract._phones import claim_codes, find_phones
from collectguard.extract._signatures import find_signatures
from collectguard.normalize import NormalizedText

_EMPTY = Extraction()


def extract(norm: NormalizedText) -> Extraction:
    """Signatures, phones, links, amounts, dates, masks, accounts and parties of a message.

    Spans refer to `norm.original`; each tuple is in text order.
    """
    text = norm.text
    if not text or text.isspace():
        return _EMPTY
    claimed = bytearray(len(text))
    links = find_links(norm, claimed)
    runs = [m.span() for m in DIGIT_RUN_RE.finditer(text)]
    accounts: list[AccountNumber] = find_cued_accounts(norm, claimed) if runs else []
    amounts = find_amounts(norm, claimed, runs)
    dates = find_dates(norm, claimed, runs)
    phones: list[PhoneNumber] = []
    if runs:
        claim_codes(text, claimed)
        # Bare cards and IDs need a run of 15+ digits, or four groups of four (6222 0212 …).
        if any(e - s >= 15 for s, e in runs) or sum(e - s == 4 for s, e in runs) >= 4:
            bare = find_bare_accounts(norm, claimed)
            if bare:
                accounts = sorted(accounts + bare, key=lambda a: a.span)
        phones = find_phones(norm, claimed, runs)
    return Extraction(
        signatures=tuple(find_signatures(norm)),
        phones=tuple(phones),
        links=tuple(links),
        amounts=tuple(amounts),
        dates=tuple(dates),
        masked=tuple(find_masked(norm)),
        accounts=tuple(accounts),
        parties=tuple(find_parties(norm)),
    )
