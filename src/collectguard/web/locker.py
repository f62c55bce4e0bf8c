"""The consumer's evidence locker on the web: keep imported messages between visits.

No account and no personal data: a locker is a row in the web database and an evidence store
of its own under ``<data_dir>/lockers/<folder>/`` (the evidence package's SQLite store with
its hash-chained ledger, so bundles exported from it verify). An upload or a saved message
opens a *temporary* locker (deleted after `TEMPORARY_TTL`); "keep" issues a random locker
key, shown once, with which the person opens it again on any device (a signed cookie
remembers it on this one). "Delete my data" removes the folder and the row.

The session (and the cookie) name the locker; no URL carries a locker id, so one locker's
pages can only ever read its own store. Owns the ``/locker`` routes: the cases page with
letters (PDF/DOCX) and bundle downloads per case, open by key, keep, forget on this device,
delete, verify, and saving a pasted message.
"""

from __future__ import annotations

import datetime as dt
import hashlib
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
from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from itsdangerous.exc import BadSignature
from sqlalchemy import select
from sqlalchemy.orm import Session

from collectguard import Analyzer
from collectguard.evidence import EvidenceStore, open_store
from collectguard.evidence.errors import EvidenceError
from collectguard.evidence.history import Case, build_cases
from collectguard.evidence.ingest import Importer, ImportReport
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


def _cookie_folder(request: Request) -> str | None:
    raw = request.cookies.get(LOCKER_COOKIE)
    if not raw:
        return None
    try:
        value = _signer(context(request).settings).unsign(raw, max_age=COOKIE_MAX_AGE_S)
    except BadSignature:
        return None
    return value.decode("ascii", "ignore")


def current_locker(request: Request, db: Session) -> ConsumerLocker | None:
    """The locker this visitor has open: the session's, else a kept one the cookie names."""
    folder = request.session.get("locker")
    from_cookie = False
    if not isinstance(folder, str):
        folder = _cookie_folder(request)
        from_cookie = True
    if not folder or not _FOLDER.match(folder):
        return None
    locker = db.scalar(select(ConsumerLocker).where(ConsumerLocker.folder == folder))
    if locker is None or (from_cookie and locker.key_sha256 is None):
        request.session.pop("locker", None)
        return None
    if locker.expires_at is not None and locker.expires_at <= context(request).settings.clock():
        delete_locker(request, db, locker)
        return None
    if from_cookie:
        request.session["locker"] = folder
    return locker


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
    request.session["locker"] = locker.folder
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
    request.session.pop("locker", None)


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


def remember_import(request: Request, report: ImportReport) -> None:
    """Counts of the last import, shown once on the locker page."""
    request.session["import"] = {
        "new": report.new,
        "duplicate": report.duplicate,
        "rejected": report.rejected,
    }


def _set_cookie(request: Request, response: Response, locker: ConsumerLocker) -> None:
    settings = context(request).settings
    value = _signer(settings).sign(locker.folder).decode("ascii")
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
    id: str
    case: Case
    jurisdiction: str
    letters: list[LetterChoice]


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
def locker_page(request: Request, db: DbSession) -> HTMLResponse:
    user = current_user(request, db)
    locker = current_locker(request, db)
    if locker is None:
        return render(request, "locker_open.html.j2", {}, user=user)
    settings = context(request).settings
    with locker_store(settings, locker) as store:
        cases = _cases(store)
        views = []
        for case in cases:
            jurisdiction, letters = case_recommendation(store, case)
            views.append(CaseView(case_id(case), case, jurisdiction, letters))
        head = store.ledger.head()
    peak = max((sum(day.values()) for c in cases for day in c.per_day.values()), default=0)
    values: dict[str, Any] = {
        "locker": locker,
        "cases": views,
        "peak": max(peak, 1),
        "zone": LENDER_ZONE,
        "imported": request.session.pop("import", None),
        "chain_head": head.entry_hash if head else None,
        "entries": head.seq if head else 0,
    }
    return render(request, "locker.html.j2", values, user=user)


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
    request.session["locker"] = locker.folder
    response = RedirectResponse("/locker", status_code=303)
    if remember:
        _set_cookie(request, response, locker)
    else:
        response.delete_cookie(LOCKER_COOKIE)
    return response


@router.post("/locker/keep", dependencies=[Csrf])
def locker_keep(request: Request, db: DbSession, locker: Locker) -> Response:
    """Issue a key (a new one replaces the old) and show it once on ``GET /locker/key``.

    The key travels to that page in the session and is removed from it there, so a reload
    shows nothing and never re-submits the form (which would silently replace the key)."""
    key = new_key()
    locker.key_sha256 = key_digest(key)
    locker.key_hint = normalise_key(key)[-4:]
    locker.expires_at = None
    db.commit()
    request.session["new_key"] = key
    response = RedirectResponse("/locker/key", status_code=303)
    _set_cookie(request, response, locker)
    return response


@router.get("/locker/key", response_model=None)
def locker_key(request: Request, db: DbSession, locker: Locker) -> Response:
    key = request.session.pop("new_key", None)
    if not isinstance(key, str):
        return RedirectResponse("/locker", status_code=303)
    return render(request, "locker_key.html.j2", {"key": key}, user=current_user(request, db))


@router.post("/locker/close", dependencies=[Csrf])
def locker_close(request: Request, db: DbSession, locker: Locker) -> Response:
    """Forget the locker on this device (a temporary one is then deleted: no key opens it)."""
    if locker.key_sha256 is None:
        delete_locker(request, db, locker)
    request.session.pop("locker", None)
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
    remember_import(request, report)
    return RedirectResponse("/locker", status_code=303)
