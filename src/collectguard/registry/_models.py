"""Schema of registry files: pydantic models for lenders, organisations and their channels.

Every model is frozen and forbids unknown fields, so a typo in a user's registry file
(``hotline:`` for ``hotlines:``) is an error, not a silently ignored key. A hotline and a
domain always carry a non-empty ``source`` and a ``confidence`` (see the package docstring
for what each confidence level allows).

Pure: imports only pydantic and the standard library.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

Confidence = Literal["high", "medium", "low"]
CONFIDENCE_LEVELS: tuple[Confidence, ...] = ("high", "medium", "low")

LicenseType = Literal[
    "consumer_finance_company", "bank", "microloan", "platform_guarantee", "other"
]
OrganizationKind = Literal[
    "authority",
    "court",
    "police",
    "regulator",
    "courier",
    "telecom",
    "platform",
    "bank_union",
    "other",
]
NameField = Literal["legal_name", "brand", "product", "signature", "organization"]

NonEmptyStr = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
EntryId = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]

_DOMAIN_RE = re.compile(
    r"^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,61}[a-z0-9]$"
)
_NUMBER_RE = re.compile(r"^\+?[0-9][0-9 ()\-]*$")
# "name (note)" or "name (low: note)" as written in the research reference.
_PAREN_RE = re.compile(r"^(?P<name>[^()]+?)\s*\((?P<inner>[^()]*)\)\s*$")
_CONF_NOTE_RE = re.compile(r"^(?P<conf>high|medium|low)\s*:\s*(?P<note>.*)$")
# Chinese registered company names inside a free-text legal_name.
_COMPANY_SUFFIXES = ("股份有限公司", "有限责任公司", "有限公司", "股份公司")
_COMPANY_RE = re.compile(r"[\u4e00-\u9fff（）()]+?(?:" + "|".join(_COMPANY_SUFFIXES) + ")")


def digits_of(number: str) -> str:
    """The ASCII digits of a phone number, separators (and full-width forms) removed."""
    if number.isdigit() and number.isascii():  # most senders: already plain digits
        return number
    folded = unicodedata.normalize("NFKC", number)
    return "".join(c for c in folded if "0" <= c <= "9")


def split_parenthetical(text: str) -> tuple[str, Confidence | None, str | None]:
    """Split ``'新易贷 (low: single listing)'`` into ``('新易贷', 'low', 'single listing')``."""
    m = _PAREN_RE.match(text.strip())
    if m is None:
        return text.strip(), None, None
    inner = m.group("inner").strip()
    cm = _CONF_NOTE_RE.match(inner)
    if cm is not None:
        conf: Confidence = cm.group("conf")  # type: ignore[assignment]
        return m.group("name").strip(), conf, cm.group("note").strip() or None
    return m.group("name").strip(), None, inner or None


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)


class Hotline(_Frozen):
    """A phone number attributed to an entry, with where that attribution comes from."""

    number: NonEmptyStr
    """As published, e.g. ``400-036-8876``."""
    digits: str = ""
    """``number`` without separators; computed when omitted."""
    source: NonEmptyStr
    confidence: Confidence
    note: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _fill_digits(cls, data: Any) -> Any:
        if isinstance(data, dict) and not data.get("digits") and "number" in data:
            return {**data, "digits": digits_of(str(data["number"]))}
        return data

    @field_validator("number", mode="before")
    @classmethod
    def _number_as_str(cls, v: Any) -> Any:
        # YAML reads an unquoted 95588 as an int; a number is text here.
        return str(v) if isinstance(v, int) and not isinstance(v, bool) else v

    @model_validator(mode="after")
    def _check_digits(self) -> Hotline:
        if not _NUMBER_RE.match(self.number):
            raise ValueError(
                f"number {self.number!r} may contain only digits, spaces, '-', '(' , ')'"
                " and a leading '+'"
            )
        expected = digits_of(self.number)
        if self.digits != expected:
            raise ValueError(f"digits {self.digits!r} do not match number {self.number!r}")
        if not 3 <= len(self.digits) <= 16:
            raise ValueError(f"number {self.number!r} has {len(self.digits)} digits (3-16)")
        return self


class OfficialDomain(_Frozen):
    """A domain (and all its subdomains) attributed to an entry."""

    domain: NonEmptyStr
    source: NonEmptyStr
    confidence: Confidence
    note: str | None = None

    @field_validator("domain")
    @classmethod
    def _bare_domain(cls, v: str) -> str:
        d = v.lower().rstrip(".")
        if not _DOMAIN_RE.match(d):
            raise ValueError(
                f"{v!r} is not a bare domain such as 'example.com' (no scheme, path or port)"
            )
        return d


class App(_Frozen):
    """An official app name (apps are not used for name matching)."""

    name: NonEmptyStr
    source: NonEmptyStr
    confidence: Confidence
    note: str | None = None


class SmsSignature(_Frozen):
    """An SMS signature such as ``【招联金融】``; `name` is the text inside the brackets."""

    text: NonEmptyStr
    source: NonEmptyStr
    confidence: Confidence
    note: str | None = None

    @field_validator("text")
    @classmethod
    def _has_name(cls, v: str) -> str:
        if not v.strip("【】[] "):
            raise ValueError(f"signature {v!r} has no text inside its brackets")
        return v

    @property
    def name(self) -> str:
        return self.text.strip("【】[] ")


class SmsPort(_Frozen):
    """An SMS sender port observed for an entry (e.g. ``106980095533``); evidence, not proof."""

    port: NonEmptyStr
    source: NonEmptyStr
    note: str | None = None

    @field_validator("port", mode="before")
    @classmethod
    def _port_as_str(cls, v: Any) -> Any:
        return str(v) if isinstance(v, int) and not isinstance(v, bool) else v

    @field_validator("port")
    @classmethod
    def _digits_only(cls, v: str) -> str:
        if not v.isascii() or not v.isdigit():
            raise ValueError(f"port {v!r} must be digits only")
        return v


def _coerce_named(v: Any) -> Any:
    """Accept the reference's plain strings (``'捷信 (former name)'``) for brands/products."""
    if isinstance(v, str):
        name, conf, note = split_parenthetical(v)
        out: dict[str, Any] = {"name": name}
        if conf is not None:
            out["confidence"] = conf
        if note is not None:
            out["note"] = note
        return out
    return v


class Brand(_Frozen):
    """A name the entry trades under (including former names, flagged in `note`)."""

    name: NonEmptyStr
    note: str | None = None
    confidence: Confidence | None = None
    """Set only where the reference doubts the link; None = not graded."""

    @model_validator(mode="before")
    @classmethod
    def _from_str(cls, v: Any) -> Any:
        return _coerce_named(v)


class Product(_Frozen):
    """A product the entry sells; `matchable` is False for descriptions like 'credit cards'."""

    name: NonEmptyStr
    confidence: Confidence | None = None
    note: str | None = None
    matchable: bool = True

    @model_validator(mode="before")
    @classmethod
    def _from_str(cls, v: Any) -> Any:
        return _coerce_named(v)


class ProductAlias(_Frozen):
    """A name (usually a product) that points at the entry that owns it.

    When several entries carry the same name, the alias's entry is the preferred owner.
    """

    alias: NonEmptyStr
    entry_id: EntryId
    source: NonEmptyStr
    confidence: Confidence
    note: str | None = None


class LenderEntry(_Frozen):
    """A lender, bank or lending platform with its official channels."""

    id: EntryId
    legal_name: NonEmptyStr
    """As given by the source; may hold several entities and remarks (see `registered_names`)."""
    legal_name_source: NonEmptyStr
    brands: tuple[Brand, ...] = ()
    products: tuple[Product, ...] = ()
    license_type: LicenseType
    hotlines: tuple[Hotline, ...] = ()
    domains: tuple[OfficialDomain, ...] = ()
    apps: tuple[App, ...] = ()
    sms_signatures: tuple[SmsSignature, ...] = ()
    notes: str = ""
    nfra_institution_code: str | None = None
    related_ids: tuple[EntryId, ...] = ()
    sms_ports_observed: tuple[SmsPort, ...] = ()

    @property
    def is_lender(self) -> bool:
        return True

    @property
    def display_name(self) -> str:
        """The first brand, else the first registered name, else the legal name text."""
        if self.brands:
            return self.brands[0].name
        names = self.registered_names
        return names[0] if names else self.legal_name

    @property
    def registered_names(self) -> tuple[str, ...]:
        """Chinese company names found in `legal_name` (``XX有限公司`` …), in order."""
        seen: list[str] = []
        for m in _COMPANY_RE.finditer(self.legal_name):
            name = m.group(0).lstrip("（）()")
            if name not in seen:
                seen.append(name)
        return tuple(seen)

    @property
    def short_registered_names(self) -> tuple[str, ...]:
        """`registered_names` without the company-form suffix (``中国邮政储蓄银行``)."""
        out: list[str] = []
        for name in self.registered_names:
            for suffix in _COMPANY_SUFFIXES:
                if name.endswith(suffix):
                    short = name.removesuffix(suffix)
                    if len(short) >= 4 and short not in out:
                        out.append(short)
                    break
        return tuple(out)


class Organization(_Frozen):
    """A non-lender organisation a message may claim to come from (attribution only)."""

    id: EntryId
    names: tuple[NonEmptyStr, ...] = Field(min_length=1)
    """Aliases in Chinese and English; the first is the display name."""
    kind: OrganizationKind
    is_authority: bool
    related_ids: tuple[EntryId, ...] = ()
    hotlines: tuple[Hotline, ...] = ()
    domains: tuple[OfficialDomain, ...] = ()
    note: str | None = None

    @property
    def is_lender(self) -> bool:
        return False

    @property
    def display_name(self) -> str:
        return self.names[0]


RegistryEntry = LenderEntry | Organization
