"""Entity extraction from one message: signatures, numbers, links, money, dates, masks,
account numbers and third parties.

Owns: `extract(norm) -> Extraction` over a `NormalizedText` (and `extract_lazy`, the same
fields computed on first read), and `classify_sender` for the
input's sender field. Every entity's `span` is a half-open range of the ORIGINAL text and
its `text` the original substring there. Term lists and number tables are data files in
``collectguard/extract/data`` loaded once at import.

Pure: imports only `collectguard.normalize` — no I/O beyond its own package data, no web,
database or CLI code, no network (the public-suffix list is tldextract's bundled snapshot).
"""

from collectguard.extract._extract import LazyExtraction, extract, extract_lazy
from collectguard.extract._model import (
    AccountKind,
    AccountNumber,
    Amount,
    DateKind,
    DateMention,
    Extraction,
    Link,
    Masked,
    MaskKind,
    PartyMention,
    PartyRole,
    PhoneKind,
    PhoneNumber,
    SenderInfo,
    SenderKind,
    Signature,
    SignaturePosition,
    Span,
)
from collectguard.extract._phones import classify_sender

__all__ = [
    "AccountKind",
    "AccountNumber",
    "Amount",
    "DateKind",
    "DateMention",
    "Extraction",
    "LazyExtraction",
    "Link",
    "MaskKind",
    "Masked",
    "PartyMention",
    "PartyRole",
    "PhoneKind",
    "PhoneNumber",
    "SenderInfo",
    "SenderKind",
    "Signature",
    "SignaturePosition",
    "Span",
    "classify_sender",
    "extract",
    "extract_lazy",
]
