"""Letters as downloads: which letters fit a case, and one letter as a PDF, DOCX or Markdown file.

Owns the list of letters a page offers (the recommended ones first, the rest of the
jurisdiction's kinds after) and the file responses. Which letters fit a case and their texts
come from the evidence package (`collectguard.evidence.letters`: `case_recommendation`,
`letter_context`, `render_letter`, `write_pdf`, `write_docx`); nothing here writes letter
text.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from fastapi.responses import Response

from collectguard.evidence import letters
from collectguard.evidence.errors import EvidenceError
from collectguard.evidence.history import Case
from collectguard.evidence.letters import (
    CN_KINDS,
    LETTER_KINDS,
    US_KINDS,
    case_jurisdiction,
    letter_context,
    letter_fits,
    recommended_kinds,
    render_letter,
    write_docx,
    write_pdf,
)
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


class LetterUnavailable(Exception):
    """The letter cannot be made (unknown kind or language, or no PDF font installed)."""


@dataclass(frozen=True)
class LetterChoice:
    kind: str
    title_zh: str
    title_en: str
    languages: tuple[str, ...]
    recommended: bool


def letter_choices(
    jurisdiction: str, recommended: list[str], *, scam: bool = False
) -> list[LetterChoice]:
    """Every letter kind of the jurisdiction that fits (`letter_fits`: no complaint against
    an institution a scam posed as), the recommended ones first (in their order)."""
    pool = [
        k
        for k in (US_KINDS if jurisdiction == "us" else CN_KINDS)
        if letter_fits(k, jurisdiction, scam=scam) is None
    ]
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


def case_recommendation(store: EvidenceStore, case: Case) -> tuple[str, list[LetterChoice]]:
    """(jurisdiction, letter choices) of a stored case."""
    jurisdiction, kinds = letters.case_recommendation(store, case)
    return jurisdiction, letter_choices(jurisdiction, kinds, scam=letters.case_is_scam(case))


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
