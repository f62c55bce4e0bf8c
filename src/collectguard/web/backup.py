"""Phone-backup upload: cases per lender with a per-day timeline, and the evidence bundle.

Owns ``GET /backup`` (the form), ``POST /backup`` (cases page) and ``POST /backup/bundle``
(the evidence bundle ZIP of the case with the most violations). Each upload is imported into
a throw-away evidence store in a temporary folder (`collectguard.evidence`: importers,
history-aware rules, bundle export) and deleted when the response is built: the web app
keeps no one's messages.
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
from fastapi.responses import HTMLResponse, Response

from collectguard import Analyzer
from collectguard.evidence import EvidenceStore, open_store
from collectguard.evidence.errors import EvidenceError
from collectguard.evidence.history import Case, build_cases
from collectguard.evidence.ingest import Importer, ImportReport
from collectguard.evidence.sources import detect_format
from collectguard.rules import load_builtin
from collectguard.web.deps import Csrf, DbSession, context, current_user, render
from collectguard.web.settings import LENDER_ZONE

__all__ = ["ALLOWED_SUFFIXES", "router"]

router = APIRouter(include_in_schema=False)

ALLOWED_SUFFIXES: tuple[str, ...] = (".xml", ".csv", ".jsonl", ".json", ".txt", ".db", ".sqlite")
"""Android "SMS Backup & Restore" XML, CSV, JSON lines, pasted text, iOS sms.db."""
_ZONE = "Asia/Shanghai"


class UploadRejected(Exception):
    def __init__(self, key: str) -> None:
        self.key = key


@dataclass
class Imported:
    store: EvidenceStore
    report: ImportReport
    cases: list[Case]


@contextmanager
def _imported(request: Request, upload: UploadFile) -> Iterator[Imported]:
    """Import the upload into a temporary store; everything is deleted on exit."""
    name = upload.filename or ""
    suffix = Path(name).suffix.lower()
    if suffix not in ALLOWED_SUFFIXES:
        raise UploadRejected("backup.error.type")
    folder = Path(tempfile.mkdtemp(prefix="cg-upload-"))
    store: EvidenceStore | None = None
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
        store = open_store(f"sqlite:///{folder / 'evidence.sqlite3'}", attachments_dir=folder / "a")
        settings = context(request).settings
        importer = Importer(store, Analyzer.default(), timezone=_ZONE, clock=settings.clock)
        try:
            report = importer.import_file(path, format=fmt)
        except EvidenceError:
            raise UploadRejected("backup.error.broken") from None
        cases = build_cases(store, load_builtin("cn"), zone=_ZONE)
        yield Imported(store, report, cases)
    finally:
        if store is not None:
            store.close()
        shutil.rmtree(folder, ignore_errors=True)


def _rejected(request: Request, db: DbSession, key: str) -> HTMLResponse:
    return render(
        request,
        "backup.html.j2",
        {"error": key, "suffixes": ALLOWED_SUFFIXES},
        status_code=400,
        user=current_user(request, db),
    )


@router.get("/backup", response_class=HTMLResponse)
def backup_form(request: Request, db: DbSession) -> HTMLResponse:
    return render(
        request, "backup.html.j2", {"suffixes": ALLOWED_SUFFIXES}, user=current_user(request, db)
    )


@router.post("/backup", response_class=HTMLResponse, dependencies=[Csrf])
def backup_cases(
    request: Request, db: DbSession, backup: Annotated[UploadFile, File()]
) -> HTMLResponse:
    try:
        with _imported(request, backup) as imported:
            peak = max(
                (sum(day.values()) for c in imported.cases for day in c.per_day.values()),
                default=0,
            )
            return render(
                request,
                "cases.html.j2",
                {
                    "report": imported.report,
                    "cases": imported.cases,
                    "peak": max(peak, 1),
                    "zone": LENDER_ZONE,
                },
                user=current_user(request, db),
            )
    except UploadRejected as err:
        return _rejected(request, db, err.key)


@router.post("/backup/bundle", dependencies=[Csrf])
def backup_bundle(
    request: Request, db: DbSession, backup: Annotated[UploadFile, File()]
) -> Response:
    from collectguard.evidence.bundle import export_bundle

    try:
        with _imported(request, backup) as imported:
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
                    zone=_ZONE,
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
