"""Phone-backup upload: into the visitor's evidence locker, or straight to an evidence bundle.

Owns ``GET /backup`` (the form), ``POST /backup`` (import into the current locker — a new
temporary one when none is open — then the locker's cases page) and ``POST /backup/bundle``
(the evidence bundle ZIP of the case with the most violations, from a throw-away store that
is deleted when the response is built). The upload checks (suffix, empty file, content
sniffing with `collectguard.evidence.sources.detect_format`) are shared by both.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, File, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from collectguard import Analyzer
from collectguard.evidence import EvidenceStore, open_store
from collectguard.evidence.errors import EvidenceError
from collectguard.evidence.history import Case, build_cases
from collectguard.evidence.ingest import Importer, ImportReport
from collectguard.evidence.sources import detect_format
from collectguard.rules import load_builtin
from collectguard.web.deps import Csrf, DbSession, context, current_user, render
from collectguard.web.locker import (
    ZONE,
    create_locker,
    current_locker,
    delete_locker,
    locker_store,
    remember_import,
)

__all__ = ["ALLOWED_SUFFIXES", "UploadRejected", "checked_upload", "router"]

router = APIRouter(include_in_schema=False)

ALLOWED_SUFFIXES: tuple[str, ...] = (".xml", ".csv", ".jsonl", ".json", ".txt", ".db", ".sqlite")
"""Android "SMS Backup & Restore" XML, CSV, JSON lines, pasted text, iOS sms.db."""


class UploadRejected(Exception):
    def __init__(self, key: str) -> None:
        self.key = key


@dataclass(frozen=True)
class CheckedUpload:
    path: Path
    format: str


@contextmanager
def checked_upload(upload: UploadFile) -> Iterator[CheckedUpload]:
    """The upload in a temporary folder, type-checked by suffix and content; deleted on exit."""
    suffix = Path(upload.filename or "").suffix.lower()
    if suffix not in ALLOWED_SUFFIXES:
        raise UploadRejected("backup.error.type")
    folder = Path(tempfile.mkdtemp(prefix="cg-upload-"))
    try:
        path = folder / f"upload{suffix}"
        with path.open("wb") as out:
            shutil.copyfileobj(upload.file, out)
        if path.stat().st_size == 0:
            raise UploadRejected("backup.error.empty")
        try:
            fmt = detect_format(path)
        except EvidenceError:
            raise UploadRejected("backup.error.type") from None
        if fmt == "ios" and suffix not in (".db", ".sqlite"):
            raise UploadRejected("backup.error.type")
        yield CheckedUpload(path, fmt)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@dataclass
class Imported:
    store: EvidenceStore
    report: ImportReport
    cases: list[Case]


@contextmanager
def _throwaway(request: Request, upload: UploadFile) -> Iterator[Imported]:
    """Import the upload into a temporary store; everything is deleted on exit."""
    with checked_upload(upload) as checked:
        folder = checked.path.parent
        store = open_store(f"sqlite:///{folder / 'evidence.sqlite3'}", attachments_dir=folder / "a")
        try:
            settings = context(request).settings
            importer = Importer(store, Analyzer.default(), timezone=ZONE, clock=settings.clock)
            try:
                report = importer.import_file(checked.path, format=checked.format)
            except EvidenceError:
                raise UploadRejected("backup.error.broken") from None
            cases = build_cases(store, load_builtin("cn"), zone=ZONE)
            yield Imported(store, report, cases)
        finally:
            store.close()


def _rejected(request: Request, db: DbSession, key: str) -> HTMLResponse:
    return render(
        request,
        "backup.html.j2",
        {"error": key, "suffixes": ALLOWED_SUFFIXES, "locker": current_locker(request, db)},
        status_code=400,
        user=current_user(request, db),
    )


@router.get("/backup", response_class=HTMLResponse)
def backup_form(request: Request, db: DbSession) -> HTMLResponse:
    return render(
        request,
        "backup.html.j2",
        {"suffixes": ALLOWED_SUFFIXES, "locker": current_locker(request, db)},
        user=current_user(request, db),
    )


@router.post("/backup", dependencies=[Csrf])
def backup_import(
    request: Request, db: DbSession, backup: Annotated[UploadFile, File()]
) -> Response:
    """Import into the open locker (or a new temporary one) and show its cases."""
    settings = context(request).settings
    try:
        with checked_upload(backup) as checked:
            locker = current_locker(request, db)
            created = locker is None
            if locker is None:
                locker = create_locker(request, db)
            try:
                with locker_store(settings, locker) as store:
                    importer = Importer(
                        store, Analyzer.default(), timezone=ZONE, clock=settings.clock
                    )
                    report = importer.import_file(checked.path, format=checked.format)
            except EvidenceError:
                if created:
                    delete_locker(request, db, locker)
                raise UploadRejected("backup.error.broken") from None
    except UploadRejected as err:
        return _rejected(request, db, err.key)
    remember_import(request, report)
    return RedirectResponse("/locker", status_code=303)


@router.post("/backup/bundle", dependencies=[Csrf])
def backup_bundle(
    request: Request, db: DbSession, backup: Annotated[UploadFile, File()]
) -> Response:
    """The bundle of the case with the most violations, keeping nothing of the upload."""
    from collectguard.evidence.bundle import export_bundle

    try:
        with _throwaway(request, backup) as imported:
            if not imported.cases:
                raise UploadRejected("backup.error.no_cases")
            case = imported.cases[0]  # the one with the most violations
            out = Path(tempfile.mkdtemp(prefix="cg-bundle-"))
            try:
                target = out / "bundle.zip"
                export_bundle(
                    imported.store,
                    case,
                    target,
                    pack=load_builtin("cn"),
                    zone=ZONE,
                    letters=(("lender_complaint", "zh"),),
                    letter_pdf=False,
                    now=context(request).settings.clock(),
                )
                data = target.read_bytes()
            finally:
                shutil.rmtree(out, ignore_errors=True)
    except UploadRejected as err:
        return _rejected(request, db, err.key)
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", case.key)[:40] or "case"
    return Response(
        data,
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="evidence-{slug}.zip"'},
    )
