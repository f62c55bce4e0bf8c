"""The consumer's evidence locker on the web: keep imported messages between visits.

No account and no personal data: a locker is a row in the web database and an evidence store
of its own under ``<data_dir>/lockers/<folder>/`` (the evidence package's SQLite store with
its hash-chained ledger, so bundles exported from it verify). An upload or a saved message
opens a *temporary* locker (deleted after `TEMPORARY_TTL`); "keep" issues a random locker
key, shown once, with which the person opens it again on any device (a signed cookie
remembers it on this one). "Delete my data" removes the folder and the row.

The session (and the cookie) name the locker and carry its key's nonce (`key_nonce`,
renewed with every key), so a replaced key closes it on every other device; no URL carries
a locker id, so one locker's pages can only ever read its own store. Owns the ``/locker``
routes: the cases page (a page of cases, each with its latest days and first violations)
with letters (PDF/DOCX) and bundle downloads per case, a case page with everything (paged),
open by key, keep, forget on this device, delete, verify, and saving a pasted message; and
the notice of the last import (kept beside the store, shown once).
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import re
import secrets
import shutil
import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import itsdangerous
from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from itsdangerous.exc import BadSignature
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from collectguard import Analyzer
from collectguard.evidence import EvidenceStore, open_store
from collectguard.evidence.errors import EvidenceError, ImportFormatError
from collectguard.evidence.history import Case, TimelineItem, build_cases
from collectguard.evidence.ingest import Importer, ImportReport
from collectguard.evidence.models import CallRecord, Message
from collectguard.rules import load_builtin
from collectguard.web.deps import Csrf, DbSession, context, current_user, flash, render
from collectguard.web.letters import (
    LetterChoice,
    LetterUnavailable,
    case_recommendation,
    download_name,
    letter_response,
    pack_for,
)
from collectguard.web.models import ConsumerLocker
from collectguard.web.settings import LENDER_ZONE, WebSettings

__all__ = [
    "LOCKER_COOKIE",
    "TEMPORARY_TTL",
    "ZONE",
    "case_id",
    "create_locker",
    "current_locker",
    "delete_locker",
    "locker_store",
    "new_key",
    "normalise_key",
    "purge_expired",
    "remember_import",
    "router",
    "stored_records",
]

router = APIRouter(include_in_schema=False)

ZONE = "Asia/Shanghai"
"""The zone message times are read and shown in (the consumer side serves China first)."""
LOCKER_COOKIE = "cg_locker"
COOKIE_MAX_AGE_S = 90 * 86400
TEMPORARY_TTL = dt.timedelta(hours=2)
"""How long an upload is kept when the person does not keep it."""
KEY_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32: no I, L, O, U
KEY_LENGTH = 24  # 24 × 5 = 120 random bits
_FOLDER = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
_CID = re.compile(r"^[0-9a-f]{16}$")
_LETTER_FILE = re.compile(r"^(?P<kind>[a-z0-9_]{1,40})\.(?P<lang>zh|en)\.(?P<fmt>pdf|docx|md)$")
IMPORT_NOTE = "last-import.json"
"""Beside the store: what the last import did, shown once (too big for the session cookie)."""
REJECTIONS_SHOWN = 20
CASES_PER_PAGE = 20
"""Cases on one page of ``/locker``."""
ITEMS_SHOWN = 20
"""Messages with violations listed per case on ``/locker`` (all of them on the case page)."""
DAYS_SHOWN = 31
"""Latest days of a case's timeline on ``/locker`` (every day on the case page)."""
ITEMS_PER_PAGE = 200
"""Messages with violations per page of a case page."""


# ---------------------------------------------------------------- keys and storage


def new_key() -> str:
    """A fresh locker key, e.g. ``7KQ2-M9XD-…`` (six groups of four)."""
    raw = "".join(secrets.choice(KEY_ALPHABET) for _ in range(KEY_LENGTH))
    return "-".join(raw[i : i + 4] for i in range(0, KEY_LENGTH, 4))


def normalise_key(typed: str) -> str:
    """What a person typed, as the key's canonical characters (case, dashes, O/0, I/L/1)."""
    text = typed.upper().translate(str.maketrans("OIL", "011"))
    return re.sub(r"[^0-9A-Z]", "", text)


def key_digest(typed: str) -> str:
    return hashlib.sha256(normalise_key(typed).encode("ascii", "ignore")).hexdigest()


def locker_dir(settings: WebSettings, locker: ConsumerLocker) -> Path:
    if not _FOLDER.match(locker.folder):  # never build a path from anything else
        raise HTTPException(status_code=404)
    return settings.data_dir / "lockers" / locker.folder


@contextmanager
def locker_store(settings: WebSettings, locker: ConsumerLocker) -> Iterator[EvidenceStore]:
    """The locker's own evidence store (created on first use), closed on exit."""
    folder = locker_dir(settings, locker)
    folder.mkdir(parents=True, exist_ok=True)
    store = open_store(
        f"sqlite:///{folder / 'evidence.sqlite3'}", attachments_dir=folder / "attachments"
    )
    try:
        yield store
    finally:
        store.close()


def case_id(case: Case) -> str:
    """A case's id in URLs: a hash of its key (lender ids and sender numbers stay out)."""
    return hashlib.sha256(case.key.encode("utf-8")).hexdigest()[:16]


# ---------------------------------------------------------------- which locker is open


def _signer(settings: WebSettings) -> itsdangerous.TimestampSigner:
    return itsdangerous.TimestampSigner(settings.session_secret(), salt="cg-locker")


Claim = tuple[str, str | None]
"""(folder, key nonce) a session or cookie names; the nonce is None for a temporary locker
and for a kept one from before nonces (a cookie of that time carries only the folder)."""


def _cookie_claim(request: Request) -> Claim | None:
    raw = request.cookies.get(LOCKER_COOKIE)
    if not raw:
        return None
    try:
        value = _signer(context(request).settings).unsign(raw, max_age=COOKIE_MAX_AGE_S)
    except BadSignature:
        return None
    folder, sep, nonce = value.decode("ascii", "ignore").partition(":")
    return folder, (nonce if sep else None)


def _session_claim(request: Request) -> Claim | None:
    folder = request.session.get("locker")
    if not isinstance(folder, str):
        return None
    nonce = request.session.get("locker_key")
    return folder, (nonce if isinstance(nonce, str) else None)


def _open_here(request: Request, locker: ConsumerLocker) -> None:
    """Open `locker` in this session, with its current key nonce."""
    request.session["locker"] = locker.folder
    if locker.key_nonce:
        request.session["locker_key"] = locker.key_nonce
    else:
        request.session.pop("locker_key", None)


def _forget_here(request: Request) -> None:
    request.session.pop("locker", None)
    request.session.pop("locker_key", None)


def remembered_here(request: Request, locker: ConsumerLocker) -> bool:
    """Whether this device's cookie (valid, same key) remembers `locker`."""
    return _cookie_claim(request) == (locker.folder, locker.key_nonce)


def current_locker(request: Request, db: Session) -> ConsumerLocker | None:
    """The locker this visitor has open: the session's, else a kept one the cookie names —
    either only while it carries the locker's current key nonce (a replaced key closes the
    locker on every device that opened it with the old one)."""
    for from_cookie in (False, True):
        claim = _cookie_claim(request) if from_cookie else _session_claim(request)
        if claim is None:
            continue
        folder, nonce = claim
        if not _FOLDER.match(folder):
            _forget_here(request)
            continue
        locker = db.scalar(select(ConsumerLocker).where(ConsumerLocker.folder == folder))
        if (
            locker is None
            or (from_cookie and locker.key_sha256 is None)
            or nonce != locker.key_nonce
        ):
            _forget_here(request)
            continue
        if locker.expires_at is not None and locker.expires_at <= context(request).settings.clock():
            delete_locker(request, db, locker)
            continue
        if from_cookie:
            _open_here(request, locker)
        return locker
    return None


def require_locker(request: Request, db: DbSession) -> ConsumerLocker:
    locker = current_locker(request, db)
    if locker is None:
        raise HTTPException(status_code=404)
    return locker


Locker = Annotated[ConsumerLocker, Depends(require_locker)]


def create_locker(request: Request, db: Session) -> ConsumerLocker:
    """A new temporary locker, opened in this session."""
    settings = context(request).settings
    now = settings.clock()
    purge_expired(db, settings)
    locker = ConsumerLocker(
        folder=secrets.token_urlsafe(18), created_at=now, expires_at=now + TEMPORARY_TTL
    )
    db.add(locker)
    db.commit()
    _open_here(request, locker)
    return locker


def _remove(settings: WebSettings, db: Session, locker: ConsumerLocker) -> None:
    folder = locker_dir(settings, locker)
    _forget_cases(folder)  # deleted for good: nothing of it stays in memory either
    shutil.rmtree(folder, ignore_errors=True)
    db.delete(locker)
    db.commit()


def delete_locker(request: Request, db: Session, locker: ConsumerLocker) -> None:
    """Delete the locker's folder (store, attachments) and its row; forget it here."""
    _remove(context(request).settings, db, locker)
    _forget_here(request)


def purge_expired(db: Session, settings: WebSettings) -> int:
    """Delete every temporary locker past its time; returns how many."""
    now = settings.clock()
    expired = db.scalars(
        select(ConsumerLocker).where(
            ConsumerLocker.expires_at.is_not(None), ConsumerLocker.expires_at <= now
        )
    ).all()
    for locker in expired:
        _remove(settings, db, locker)
    return len(expired)


def stored_records(store: EvidenceStore) -> int:
    """Messages and call records in the store (what `WebSettings.max_locker_messages` caps)."""
    with store.session() as s:
        messages = s.scalar(select(func.count()).select_from(Message)) or 0
        calls = s.scalar(select(func.count()).select_from(CallRecord)) or 0
    return messages + calls


def broken_line(exc: ImportFormatError) -> int | None:
    """The line a broken file stops at, from the library's position or message."""
    for text in (exc.position or "", str(exc)):
        match = re.search(r"line (\d+)", text)
        if match:
            return int(match.group(1))
    return None


def remember_import(
    request: Request,
    locker: ConsumerLocker,
    report: ImportReport,
    *,
    failure: ImportFormatError | None = None,
    limit: int | None = None,
    total: int | None = None,
) -> None:
    """What the import did, shown once on the locker page: counts, the first rejections with
    their position and reason, odd times, where a broken file stops, a reached limit. Kept
    beside the locker's store (the rejections' reasons would overflow the session cookie);
    the session holds only the run's id."""
    note = {
        "run": report.run_id,
        "new": report.new,
        "duplicate": report.duplicate,
        "rejected": report.rejected,
        "rejections": [list(r) for r in report.rejections[:REJECTIONS_SHOWN]],
        "odd_times": report.odd_times,
        "odd_positions": list(report.odd_time_positions),
        "broken": None
        if failure is None
        else {"line": broken_line(failure), "reason": str(failure)},
        "stopped_at": report.stopped_at,
        "limit": limit,
        "total": total,
    }
    folder = locker_dir(context(request).settings, locker)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / IMPORT_NOTE).write_text(json.dumps(note, ensure_ascii=False), encoding="utf-8")
    request.session["import"] = report.run_id


def _import_note(request: Request, locker: ConsumerLocker) -> dict[str, Any] | None:
    run = request.session.pop("import", None)
    if not isinstance(run, int):
        return None
    path = locker_dir(context(request).settings, locker) / IMPORT_NOTE
    try:
        note = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    path.unlink(missing_ok=True)
    return note if isinstance(note, dict) and note.get("run") == run else None


def _set_cookie(request: Request, response: Response, locker: ConsumerLocker) -> None:
    settings = context(request).settings
    claim = f"{locker.folder}:{locker.key_nonce}" if locker.key_nonce else locker.folder
    value = _signer(settings).sign(claim).decode("ascii")
    response.set_cookie(
        LOCKER_COOKIE,
        value,
        max_age=COOKIE_MAX_AGE_S,
        httponly=True,
        samesite="lax",
        secure=settings.secure_cookies,
    )


# ---------------------------------------------------------------- pages


@dataclass(frozen=True)
class CaseView:
    """One case as a page shows it: only some of its flagged items and days when short."""

    id: str
    case: Case
    jurisdiction: str
    letters: list[LetterChoice]
    items: list[TimelineItem]
    """The messages/calls with violations shown (a slice of all of them)."""
    items_total: int
    items_from: int
    days: list[tuple[str, dict[str, int]]]
    """(local date, counts) shown, oldest first: the latest ones on the locker page."""
    days_total: int

    @property
    def items_more(self) -> int:
        return self.items_total - self.items_from - len(self.items)


def _view(
    store: EvidenceStore,
    case: Case,
    *,
    items_from: int = 0,
    items: int = ITEMS_SHOWN,
    days: int | None = DAYS_SHOWN,
) -> CaseView:
    jurisdiction, letters = case_recommendation(store, case)
    flagged = [item for item in case.timeline if item.violations]
    all_days = sorted(case.per_day.items())
    return CaseView(
        id=case_id(case),
        case=case,
        jurisdiction=jurisdiction,
        letters=letters,
        items=flagged[items_from : items_from + items],
        items_total=len(flagged),
        items_from=items_from,
        days=all_days if days is None else all_days[-days:],
        days_total=len(all_days),
    )


@functools.cache
def rule_titles_en() -> dict[str, str]:
    """Rule id → the rule's English title (stored violations carry the Chinese one)."""
    return {rule.id: rule.title.en for name in ("cn", "us") for rule in load_builtin(name).rules}


def _peak(cases: list[Case]) -> int:
    return max(1, max((sum(d.values()) for c in cases for d in c.per_day.values()), default=0))


_CASES_KEPT = 16
_cases_kept: OrderedDict[tuple[str, int, str], list[Case]] = OrderedDict()
_cases_lock = threading.Lock()


def _cases(store: EvidenceStore) -> list[Case]:
    """The locker's cases, grouped once per state of its ledger: every item a case can hold
    (message, call, attachment) is chained when stored, so the same ledger head means the same
    cases. A few lockers' cases are kept in memory; pages only read them."""
    head = store.ledger.head()
    if head is None:
        return []
    key = (store.engine.url.render_as_string(hide_password=True), head.seq, head.entry_hash)
    with _cases_lock:
        kept = _cases_kept.get(key)
        if kept is not None:
            _cases_kept.move_to_end(key)
            return kept
    cases = build_cases(store, load_builtin("cn"), zone=ZONE)
    with _cases_lock:
        _cases_kept[key] = cases
        while len(_cases_kept) > _CASES_KEPT:
            _cases_kept.popitem(last=False)
    return cases


def _forget_cases(folder: Path) -> None:
    """Drop the kept cases of the locker in `folder` (its store lives inside it)."""
    inside = f"{folder}/"  # as `_open` builds the store URL from `locker_dir`
    with _cases_lock:
        for key in [k for k in _cases_kept if inside in k[0]]:
            del _cases_kept[key]


def _find_case(store: EvidenceStore, cid: str) -> Case:
    if not _CID.match(cid):
        raise HTTPException(status_code=404)
    for case in _cases(store):
        if case_id(case) == cid:
            return case
    raise HTTPException(status_code=404)


@router.get("/locker", response_class=HTMLResponse)
def locker_page(
    request: Request, db: DbSession, page: Annotated[int, Query(ge=1, le=100_000)] = 1
) -> HTMLResponse:
    """The open locker: `CASES_PER_PAGE` cases a page, each with its latest days and its
    first flagged messages (the case page and the bundle have the rest)."""
    user = current_user(request, db)
    locker = current_locker(request, db)
    if locker is None:
        return render(request, "locker_open.html.j2", {}, user=user)
    settings = context(request).settings
    start = (page - 1) * CASES_PER_PAGE
    with locker_store(settings, locker) as store:
        cases = _cases(store)
        views = [_view(store, case) for case in cases[start : start + CASES_PER_PAGE]]
        head = store.ledger.head()
    values: dict[str, Any] = {
        "locker": locker,
        "cases": views,
        "cases_total": len(cases),
        "page": page,
        "pages": max(1, -(-len(cases) // CASES_PER_PAGE)),
        "cases_per_page": CASES_PER_PAGE,
        "peak": _peak(cases),
        "zone": LENDER_ZONE,
        "note": _import_note(request, locker),
        "chain_head": head.entry_hash if head else None,
        "entries": head.seq if head else 0,
        "remembered": remembered_here(request, locker),
        "session_hours": max(1, settings.session_max_age_s // 3600),
        "locker_note": request.session.pop("locker_note", None),
        "titles_en": rule_titles_en(),
    }
    return render(request, "locker.html.j2", values, user=user)


@router.get("/locker/cases/{cid}", response_class=HTMLResponse)
def locker_case(
    request: Request,
    db: DbSession,
    locker: Locker,
    cid: str,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> HTMLResponse:
    """One case with every day of its timeline and its flagged messages, `ITEMS_PER_PAGE`
    a page."""
    with locker_store(context(request).settings, locker) as store:
        case = _find_case(store, cid)
        view = _view(store, case, items_from=(page - 1) * ITEMS_PER_PAGE, items=ITEMS_PER_PAGE,
                     days=None)  # fmt: skip
    values: dict[str, Any] = {
        "view": view,
        "page": page,
        "pages": max(1, -(-view.items_total // ITEMS_PER_PAGE)),
        "peak": _peak([case]),
        "zone": LENDER_ZONE,
        "titles_en": rule_titles_en(),
    }
    return render(request, "locker_case.html.j2", values, user=current_user(request, db))


@router.post("/locker/open", dependencies=[Csrf], response_model=None)
def locker_open(
    request: Request,
    db: DbSession,
    key: Annotated[str, Form(max_length=80)] = "",
    remember: Annotated[bool, Form()] = False,
) -> Response:
    limiter = context(request).limiter
    client = request.client.host if request.client else "unknown"
    if limiter.blocked(client, "locker"):
        values = {"error": "login.error.rate_limited"}
        return render(request, "locker_open.html.j2", values, status_code=429)
    locker = None
    if len(normalise_key(key)) == KEY_LENGTH:
        locker = db.scalar(
            select(ConsumerLocker).where(ConsumerLocker.key_sha256 == key_digest(key))
        )
    if locker is None:
        limiter.failed(client, "locker")
        values = {"error": "locker.error.key"}
        return render(request, "locker_open.html.j2", values, status_code=401)
    limiter.succeeded(client, "locker")
    _open_here(request, locker)
    response = RedirectResponse("/locker", status_code=303)
    if remember:
        _set_cookie(request, response, locker)
    else:
        response.delete_cookie(LOCKER_COOKIE)
    return response


@router.post("/locker/keep", dependencies=[Csrf], response_model=None)
def locker_keep(
    request: Request,
    db: DbSession,
    locker: Locker,
    version: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    """Issue a key (a new one replaces the old) and show it once, in this response.

    The key is never stored, nor put in the session cookie (signed, not encrypted): only its
    SHA-256. Every key gets a new `key_nonce`: sessions and cookies of other devices, which
    carry the old one, stop opening the locker; this device gets the new one. The form sends
    the nonce it was shown (`version`): a reload that re-sends it after the key was issued
    does not replace the key again, it goes back to the locker."""
    if version != (locker.key_nonce or ""):
        request.session["locker_note"] = "key_unchanged"
        return RedirectResponse("/locker", status_code=303)
    key = new_key()
    locker.key_sha256 = key_digest(key)
    locker.key_hint = normalise_key(key)[-4:]
    locker.key_nonce = secrets.token_urlsafe(12)
    locker.expires_at = None
    db.commit()
    _open_here(request, locker)
    response = render(request, "locker_key.html.j2", {"key": key}, user=current_user(request, db))
    _set_cookie(request, response, locker)
    return response


@router.get("/locker/key", response_model=None)
def locker_key(request: Request, db: DbSession, locker: Locker) -> Response:
    """Where the key page used to be: the key is shown only in the answer to "keep"."""
    return RedirectResponse("/locker", status_code=303)


@router.post("/locker/close", dependencies=[Csrf])
def locker_close(request: Request, db: DbSession, locker: Locker) -> Response:
    """Forget the locker on this device (a temporary one is then deleted: no key opens it)."""
    if locker.key_sha256 is None:
        delete_locker(request, db, locker)
    _forget_here(request)
    flash(request, "locker.closed")
    response = RedirectResponse("/locker", status_code=303)
    response.delete_cookie(LOCKER_COOKIE)
    return response


@router.post("/locker/delete", dependencies=[Csrf])
def locker_delete(
    request: Request,
    db: DbSession,
    locker: Locker,
    confirm: Annotated[str, Form(max_length=8)] = "",
) -> Response:
    if confirm != "yes":
        raise HTTPException(status_code=400, detail="confirm")
    delete_locker(request, db, locker)
    flash(request, "locker.deleted")
    response = RedirectResponse("/locker", status_code=303)
    response.delete_cookie(LOCKER_COOKIE)
    return response


@router.get("/locker/verify", response_class=HTMLResponse)
def locker_verify(request: Request, db: DbSession, locker: Locker) -> HTMLResponse:
    from collectguard.evidence.verify import verify_store

    with locker_store(context(request).settings, locker) as store:
        report = verify_store(store)
    return render(
        request, "locker_verify.html.j2", {"report": report}, user=current_user(request, db)
    )


@router.get("/locker/cases/{cid}/letters/{name}", response_model=None)
def locker_letter(request: Request, db: DbSession, locker: Locker, cid: str, name: str) -> Response:
    """One letter of one of this locker's cases: ``{kind}.{zh|en}.{pdf|docx|md}``."""
    match = _LETTER_FILE.match(name)
    if match is None:
        raise HTTPException(status_code=404)
    settings = context(request).settings
    with locker_store(settings, locker) as store:
        case = _find_case(store, cid)
        jurisdiction, choices = case_recommendation(store, case)
        choice = next((c for c in choices if c.kind == match["kind"]), None)
        if choice is None or match["lang"] not in choice.languages:
            raise HTTPException(status_code=404)
        try:
            return letter_response(
                store,
                case,
                kind=match["kind"],
                lang=match["lang"],
                fmt=match["fmt"],
                jurisdiction=jurisdiction,
                zone=ZONE,
                now=settings.clock(),
            )
        except LetterUnavailable:  # no CJK font for PDF, or python-docx missing
            raise HTTPException(status_code=503) from None


@router.get("/locker/cases/{cid}/bundle", response_model=None)
def locker_bundle(request: Request, db: DbSession, locker: Locker, cid: str) -> Response:
    """The case's evidence bundle (ZIP) with its recommended letters in Markdown."""
    import tempfile

    from collectguard.evidence.bundle import export_bundle

    settings = context(request).settings
    with locker_store(settings, locker) as store:
        case = _find_case(store, cid)
        jurisdiction, choices = case_recommendation(store, case)
        letters = tuple(
            (c.kind, "zh" if "zh" in c.languages else "en") for c in choices if c.recommended
        )
        with tempfile.TemporaryDirectory(prefix="cg-bundle-") as tmp:
            target = Path(tmp) / "bundle.zip"
            try:
                export_bundle(
                    store,
                    case,
                    target,
                    pack=pack_for(jurisdiction),
                    zone=ZONE,
                    letters=letters,
                    letter_pdf=False,
                    now=settings.clock(),
                )
            except EvidenceError:
                raise HTTPException(status_code=500) from None
            data = target.read_bytes()
    return Response(
        data,
        media_type="application/zip",
        headers={"Content-Disposition": download_name(f"证据包-{case.name}", "evidence", "zip")},
    )


@router.post("/locker/messages", dependencies=[Csrf])
def locker_add_message(
    request: Request,
    db: DbSession,
    text: Annotated[str, Form(max_length=20_000)] = "",
    sender: Annotated[str, Form(max_length=64)] = "",
    received_at: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    """Keep a pasted message (from the verdict card) in the locker."""
    from collectguard.web.consumer import parse_received_at

    if not text.strip():
        raise HTTPException(status_code=400, detail="text")
    try:
        when = parse_received_at(received_at)
    except ValueError:
        raise HTTPException(status_code=400, detail="received_at") from None
    settings = context(request).settings
    locker = current_locker(request, db) or create_locker(request, db)
    with locker_store(settings, locker) as store:
        importer = Importer(store, Analyzer.default(), timezone=ZONE, clock=settings.clock)
        report = importer.import_text(  # one message, as the checker analysed it
            text, sender=sender.strip() or None, received_at=when, source_name="<web>", split=False
        )
    remember_import(request, locker, report)
    return RedirectResponse("/locker", status_code=303)
