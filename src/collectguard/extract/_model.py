"""Result types of the extractors: one frozen, slotted dataclass per kind of entity.

Every entity carries `span`, a half-open [start, end) range of the ORIGINAL message text,
and `text`, the original substring at that span (``text == original[span[0]:span[1]]``).

Pure data: imports nothing from the rest of the package.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Span = tuple[int, int]
"""Half-open [start, end) character offsets into the original message text."""

SignaturePosition = Literal["start", "end", "inner"]

PhoneKind = Literal[
    "sms_port",
    "service_95",
    "service_96",
    "service_400",
    "service_800",
    "short_service",
    "mobile",
    "landline",
    "international",
    "unknown",
]

SenderKind = Literal[
    "sms_port",
    "service_95",
    "service_96",
    "service_400",
    "service_800",
    "short_service",
    "mobile",
    "landline",
    "international",
    "unknown",
    "name",
]

DateKind = Literal["date", "time", "deadline", "relative"]

MaskKind = Literal["mask", "placeholder"]

AccountKind = Literal["bank_card", "account", "card_tail", "id_number", "order"]

PartyRole = Literal["relative", "employer", "contacts", "community", "authority", "public"]


@dataclass(frozen=True, slots=True)
class Signature:
    """An SMS signature (签名) such as 【招商银行】 or a trailing [建设银行].

    `name` is the bracket's content in normalized form (width-folded, lower-cased ASCII,
    simplified Chinese), stripped.
    """

    name: str
    span: Span
    text: str
    position: SignaturePosition


@dataclass(frozen=True, slots=True)
class PhoneNumber:
    """A telephone number or SMS port mentioned in the text.

    `digits` has separators removed and keeps a leading ``+``; masked digits stay ``*``.
    `carrier` is the mobile segment's original operator (``china_mobile``, ``china_unicom``,
    ``china_telecom``, ``china_broadnet``, ``virtual``); `region` is the area code of a
    landline (``021``) or the ISO region of an international number (``US``).
    """

    digits: str
    kind: PhoneKind
    span: Span
    text: str
    carrier: str | None = None
    region: str | None = None
    masked: bool = False


@dataclass(frozen=True, slots=True)
class SenderInfo:
    """What the message's sender field is: a number of some kind, or a name.

    `is_personal` is true for an individual's number (mobile or landline) rather than an
    enterprise port or service number. `note` keeps a parenthetical remark of the input
    (``95188(伪基站冒用)`` → ``伪基站冒用``); `name` is the sender when it is not a number.
    """

    kind: SenderKind
    digits: str | None
    carrier: str | None
    is_personal: bool
    region: str | None = None
    note: str | None = None
    name: str | None = None


@dataclass(frozen=True, slots=True)
class Link:
    """A URL or bare domain.

    `url` is the link as written, width-folded but with its case kept (paths are
    case-sensitive); `host` is lower-case. `registered_domain` (``95508.com``) and `suffix`
    (``com``, ``com.cn``) come from the bundled public-suffix list and are None for IP hosts
    or unknown suffixes. `is_masked` marks hosts the source blanked out (``***.***.cn``).
    """

    url: str
    host: str
    registered_domain: str | None
    suffix: str | None
    span: Span
    text: str
    is_shortlink: bool = False
    is_ip: bool = False
    is_masked: bool = False


@dataclass(frozen=True, slots=True)
class Amount:
    """A sum of money. `value` is None for a template placeholder (``{0}元``)."""

    value: float | None
    currency: str
    span: Span
    text: str


@dataclass(frozen=True, slots=True)
class DateMention:
    """A date, time, deadline or relative day.

    `iso` is ISO 8601 where the mention is absolute: ``2024-10-05``, ``--12-27`` (no year),
    ``---29`` (day of month only), ``11:27``, ``--12-31T23:59``; None otherwise.
    `offset_days` is the day relative to the message (今天 0, 明天 1, 昨天 -1) when stated.
    """

    span: Span
    text: str
    kind: DateKind
    iso: str | None = None
    offset_days: int | None = None


@dataclass(frozen=True, slots=True)
class Masked:
    """A blanked-out run (``***``, ``×××``, ``某某``) or a template placeholder (``{0}``)."""

    span: Span
    text: str
    kind: MaskKind


@dataclass(frozen=True, slots=True)
class AccountNumber:
    """A bank card, account, card tail, ID number or order number.

    When a cue word introduced the number (``尾号``, ``账户``, ``订单``) the span covers the
    cue too; `digits` is the number alone (masked digits kept as ``*``, an ID's check
    character as ``x``). `luhn_valid` is set for full card numbers.
    """

    kind: AccountKind
    digits: str
    span: Span
    text: str
    luhn_valid: bool | None = None


@dataclass(frozen=True, slots=True)
class PartyMention:
    """A third party named in the text (家人, 单位, 通讯录, 村委会, 法院 …).

    `term` is the lexicon entry that matched, in normalized form.
    """

    role: PartyRole
    span: Span
    text: str
    term: str


@dataclass(frozen=True, slots=True)
class Extraction:
    """Everything the extractors found in one message, each tuple in text order."""

    signatures: tuple[Signature, ...] = ()
    phones: tuple[PhoneNumber, ...] = ()
    links: tuple[Link, ...] = ()
    amounts: tuple[Amount, ...] = ()
    dates: tuple[DateMention, ...] = ()
    masked: tuple[Masked, ...] = ()
    accounts: tuple[AccountNumber, ...] = ()
    parties: tuple[PartyMention, ...] = ()
