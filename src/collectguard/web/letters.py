"""Letters as downloads: which letters fit a case, and one letter as a PDF, DOCX or Markdown file.

Owns the choice of letters (recommended ones first, the rest of the jurisdiction's kinds
after) and the file responses. The texts come from the evidence package's templates
(`collectguard.evidence.letters`: `letter_context`, `render_letter`, `write_pdf`,
`write_docx`); nothing here writes letter text.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
import tempfile
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from fastapi.responses import Response
from sqlalchemy import select

from collectguard.evidence.errors import EvidenceError
from collectguard.evidence.history import Case
from collectguard.evidence.letters import (
    LETTER_KINDS,
    letter_context,
    render_letter,
    write_docx,
    write_pdf,
)
from collectguard.evidence.models import Message
from collectguard.evidence.store import EvidenceStore
from collectguard.rules import RulePack, load_builtin

__all__ = [
    "FORMATS",
    "LetterChoice",
    "LetterUnavailable",
    "case_jurisdiction",
    "download_name",
    "letter_choices",
    "letter_response",
    "pack_for",
    "recommended_kinds",
]

FORMATS: dict[str, str] = {
    "pdf": "application/pdf",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
}
US_KINDS: tuple[str, ...] = ("us_debt_validation", "us_cease_communication", "cfpb_narrative")
CN_KINDS: tuple[str, ...] = tuple(k for k in LETTER_KINDS if k not in US_KINDS)
_SPAM_CODES = frozenset({"excessive_frequency", "night_time", "phishing_link"})
_POLICE_CODES = frozenset({"threat", "impersonates_authority"})


class LetterUnavailable(Exception):
    """The letter cannot be made (unknown kind or language, or no PDF font installed)."""


@dataclass(frozen=True)
class LetterChoice:
    kind: str
    title_zh: str
    title_en: str
    languages: tuple[str, ...]
    recommended: bool


def recommended_kinds(
    jurisdiction: str,
    *,
    scam: bool,
    codes: Iterable[str],
    severities: Iterable[str],
    is_collection: bool,
) -> list[str]:
    """The letters that fit what happened, most useful first.

    A scam goes to the police and the spam hotline (never a "complaint to the lender" it
    only pretends to be); a real collector's violations go to the lender and the regulator,
    threats also to the police, night/volume/phishing also to 12321; a real debt may also
    need a credit-report objection. US cases get the FDCPA letters and the CFPB narrative.
    """
    found = set(codes)
    kinds: list[str] = []
    if jurisdiction == "us":
        kinds = ["us_debt_validation", "us_cease_communication"]
        if found or scam:
            kinds.insert(0, "cfpb_narrative")
        return kinds
    if scam:
        return ["police_report", "spam_12321"]
    if found:
        kinds += ["lender_complaint", "regulator_complaint"]
        if found & _POLICE_CODES or "crime" in set(severities):
            kinds.append("police_report")
        if found & _SPAM_CODES:
            kinds.append("spam_12321")
    if is_collection or found:
        kinds.append("pboc_objection")
    return kinds


def letter_choices(jurisdiction: str, recommended: list[str]) -> list[LetterChoice]:
    """Every letter kind of the jurisdiction, the recommended ones first (in their order)."""
    pool = US_KINDS if jurisdiction == "us" else CN_KINDS
    order = [k for k in recommended if k in pool] + [k for k in pool if k not in recommended]
    return [
        LetterChoice(
            kind=k,
            title_zh=LETTER_KINDS[k].title_zh,
            title_en=LETTER_KINDS[k].title_en,
            languages=LETTER_KINDS[k].languages,
            recommended=k in recommended,
        )
        for k in order
    ]


def case_jurisdiction(store: EvidenceStore, case: Case) -> str:
    """``us`` when most of the case's messages were judged under the US pack, else ``cn``."""
    ids = [t.item_id for t in case.timeline if t.kind == "message"][:500]
    if not ids:
        return "cn"
    votes: Counter[str] = Counter()
    with store.session() as s:
        for verdict in s.scalars(select(Message.verdict).where(Message.id.in_(ids))):
            if isinstance(verdict, dict):
                votes[str(verdict.get("jurisdiction") or "cn")] += 1
    return "us" if votes["us"] > votes["cn"] else "cn"


def case_recommendation(store: EvidenceStore, case: Case) -> tuple[str, list[LetterChoice]]:
    """(jurisdiction, letter choices) of a stored case."""
    jurisdiction = case_jurisdiction(store, case)
    scam = any(t.authenticity == "scam" for t in case.timeline)
    codes = {v.code for t in case.timeline for v in t.violations}
    codes |= {f.code for f in case.findings}
    severities = {v.severity for t in case.timeline for v in t.violations}
    kinds = recommended_kinds(
        jurisdiction, scam=scam, codes=codes, severities=severities, is_collection=True
    )
    return jurisdiction, letter_choices(jurisdiction, kinds)


def pack_for(jurisdiction: str) -> RulePack:
    return load_builtin("us" if jurisdiction == "us" else "cn")


def download_name(stem: str, ascii_stem: str, suffix: str) -> str:
    """A Content-Disposition value with an ASCII fallback and the UTF-8 name (RFC 6266)."""
    safe_ascii = re.sub(r"[^A-Za-z0-9_.-]+", "_", ascii_stem)[:60] or "download"
    readable = re.sub(r'[\\/:*?"<>|\s]+', "_", stem)[:80] or safe_ascii
    return (
        f'attachment; filename="{safe_ascii}.{suffix}"; '
        f"filename*=UTF-8''{quote(readable + '.' + suffix)}"
    )


def letter_response(
    store: EvidenceStore,
    case: Case,
    *,
    kind: str,
    lang: str,
    fmt: str,
    jurisdiction: str,
    zone: str,
    now: dt.datetime,
) -> Response:
    """One letter of `case` as a file download (PDF, DOCX or Markdown)."""
    spec = LETTER_KINDS.get(kind)
    if spec is None or lang not in spec.languages or (fmt not in FORMATS and fmt != "md"):
        raise LetterUnavailable(kind)
    context = letter_context(store, case, pack=pack_for(jurisdiction), zone=zone, now=now)
    try:
        letter = render_letter(kind, lang, context)
    except EvidenceError:
        raise LetterUnavailable(kind) from None
    title = spec.title_zh if lang == "zh" else spec.title_en
    disposition = download_name(f"{title}-{case.name}", f"{kind}-{lang}", fmt)
    if fmt == "md":
        return Response(
            letter.markdown.encode("utf-8"),
            media_type="text/markdown; charset=utf-8",
            headers={"Content-Disposition": disposition},
        )
    folder = Path(tempfile.mkdtemp(prefix="cg-letter-"))
    try:
        target = folder / f"letter.{fmt}"
        try:
            (write_pdf if fmt == "pdf" else write_docx)(letter, target)
        except EvidenceError:
            # no CJK font (PDF) or python-docx missing: say so instead of a broken file
            raise LetterUnavailable(kind) from None
        data = target.read_bytes()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return Response(data, media_type=FORMATS[fmt], headers={"Content-Disposition": disposition})
