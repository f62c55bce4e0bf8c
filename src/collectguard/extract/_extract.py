"""The extraction pipeline: run every extractor over one normalized message.

Order matters because extractors claim the characters they consume: links first (their
digits are no phone numbers), then cued account numbers (``尾号1234``), amounts, dates,
verification codes, bare card and ID numbers, and phones last. Signatures, masks and
parties are independent of the claims.

`LazyExtraction` runs the same extractors but only when a field is first read: the
analyzer reads signatures and links for every message, phones only when a lender is
attributed or a scam needs its contact, and never amounts, dates, masks or parties, so it
saves the number chain on most messages. `extract` resolves every field at once.
"""

from __future__ import annotations

from collectguard.extract._accounts import find_bare_accounts, find_cued_accounts
from collectguard.extract._amounts import find_amounts
from collectguard.extract._common import DIGIT_RUN_RE
from collectguard.extract._dates import find_dates
from collectguard.extract._links import find_links
from collectguard.extract._masks import find_masked
from collectguard.extract._model import (
    AccountNumber,
    Amount,
    DateMention,
    Extraction,
    Link,
    Masked,
    PartyMention,
    PhoneNumber,
    Signature,
)
from collectguard.extract._parties import find_parties
from collectguard.extract._phones import claim_codes, find_phones
from collectguard.extract._signatures import find_signatures
from collectguard.normalize import NormalizedText

_EMPTY = Extraction()

_Numbers = tuple[
    tuple[AccountNumber, ...], tuple[Amount, ...], tuple[DateMention, ...], tuple[PhoneNumber, ...]
]
_NO_NUMBERS: _Numbers = ((), (), (), ())


class LazyExtraction:
    """The fields of `Extraction`, each computed on first read (same results, same order)."""

    __slots__ = ("_claimed", "_masked", "_norm", "_numbers", "_parties", "_signatures", "links")

    def __init__(self, norm: NormalizedText) -> None:
        self._norm = norm
        self._signatures: tuple[Signature, ...] | None = None
        self._masked: tuple[Masked, ...] | None = None
        self._parties: tuple[PartyMention, ...] | None = None
        text = norm.text
        if not text or text.isspace():
            self.links: tuple[Link, ...] = ()
            self._claimed = bytearray()
            self._numbers: _Numbers | None = _NO_NUMBERS
            self._signatures = self._masked = self._parties = ()
            return
        # Links claim their digits before any number extractor runs, so they go first.
        self._claimed = bytearray(len(text))
        self.links = tuple(find_links(norm, self._claimed))
        self._numbers = None

    def _number_chain(self) -> _Numbers:
        if self._numbers is not None:
            return self._numbers
        norm, claimed = self._norm, self._claimed
        text = norm.text
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
        self._numbers = (tuple(accounts), tuple(amounts), tuple(dates), tuple(phones))
        return self._numbers

    @property
    def signatures(self) -> tuple[Signature, ...]:
        if self._signatures is None:
            self._signatures = tuple(find_signatures(self._norm))
        return self._signatures

    @property
    def accounts(self) -> tuple[AccountNumber, ...]:
        return self._number_chain()[0]

    @property
    def amounts(self) -> tuple[Amount, ...]:
        return self._number_chain()[1]

    @property
    def dates(self) -> tuple[DateMention, ...]:
        return self._number_chain()[2]

    @property
    def phones(self) -> tuple[PhoneNumber, ...]:
        return self._number_chain()[3]

    @property
    def masked(self) -> tuple[Masked, ...]:
        if self._masked is None:
            self._masked = tuple(find_masked(self._norm))
        return self._masked

    @property
    def parties(self) -> tuple[PartyMention, ...]:
        if self._parties is None:
            self._parties = tuple(find_parties(self._norm))
        return self._parties

    def resolve(self) -> Extraction:
        """Every field computed, as the immutable `Extraction`."""
        if not self._norm.text or self._norm.text.isspace():
            return _EMPTY
        return Extraction(
            signatures=self.signatures,
            phones=self.phones,
            links=self.links,
            amounts=self.amounts,
            dates=self.dates,
            masked=self.masked,
            accounts=self.accounts,
            parties=self.parties,
        )


def extract(norm: NormalizedText) -> Extraction:
    """Signatures, phones, links, amounts, dates, masks, accounts and parties of a message.

    Spans refer to `norm.original`; each tuple is in text order.
    """
    return LazyExtraction(norm).resolve()


def extract_lazy(norm: NormalizedText) -> LazyExtraction:
    """`extract` computed field by field on first read (see `LazyExtraction`)."""
    return LazyExtraction(norm)
