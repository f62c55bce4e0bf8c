"""Phone-backup upload: into the visitor's evidence locker, or straight to an evidence bundle.

Owns ``GET /backup`` (the form), ``POST /backup`` (import into the current locker — a new
temporary one when none is open — then the locker's cases page) and ``POST /backup/bundle``
(the evidence bundle ZIP of the case with the most violations, from a throw-away store that
is deleted when the response is built). The upload checks (suffix, empty file, content
sniffing with `collectguard.evidence.sources.detect_format`: a file whose suffix says
nothing, such as an iPhone backup's hashed ``3d0d7e5f…`` name for ``sms.db``, is taken by
its content) are shared by both. A locker holds at most `WebSettings.max_locker_messages`
messages and calls: an import stops there and says so (the CLI has no such limit). A file
that breaks part-way keeps what was read before the break, as the CLI does.
"""

from __future__ import annotations

import re
import shutil
import tempfile
import unicodedata
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
from collectguard.evidence.ingest import Importer, ImportFailed, ImportReport
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
    stored_records,
)

__all__ = ["ALLOWED_SUFFIXES", "UploadRejected", "checked_upload", "router", "upload_name"]

router = APIRouter(include_in_schema=False)

ALLOWED_SUFFIXES: tuple[str, ...] = (".xml", ".csv", ".jsonl", ".json", ".txt", ".db", ".sqlite")
"""Android "SMS Backup & Restore" XML, CSV, JSON lines, pasted text, iOS sms.db."""
SNIFFED_FORMATS = frozenset({"ios", "android", "jsonl"})
"""Formats taken by content alone when the suffix is not one of `ALLOWED_SUFFIXES`: their
first bytes say what they are (SQLite's header, ``<``, ``{``); CSV and text do not."""


class UploadRejected(Exception):
    """An upload refused with the catalog message `key`, or with `text` (zh-CN, English);
    `detail` is the library's own reason, shown beneath."""

    def __init__(
        self, key: str | None, *, text: tuple[str, str] | None = None, detail: str | None = None
    ) -> None:
        self.key = key
        self.text = text
        self.detail = detail


@dataclass(frozen=True)
class CheckedUpload:
    path: Path
    format: str
    name: str
    """The file's own name as the browser sent it, made safe (what the import run records)."""


_UNSAFE_NAME = re.compile(r"[\x00-\x1f\x7f]")


def upload_name(filename: str | None) -> str:
    """The uploaded file's name without any folder, control or bidi characters, at most 200
    characters ("upload" when nothing is left)."""
    base = re.split(r"[\\/]", filename or "")[-1]
    kept = "".join(
        c for c in _UNSAFE_NAME.sub("", base) if unicodedata.category(c) not in ("Cf", "Zl", "Zp")
    )
    return kept.strip()[:200] or "upload"


@contextmanager
def checked_upload(upload: UploadFile) -> Iterator[CheckedUpload]:
    """The upload in a temporary folder, type-checked by suffix and content; deleted on exit.

    The content decides: a file of a known suffix must still sniff as a backup, and a file
    whose suffix says nothing (an iPhone backup's hashed file name, a wrong suffix) is taken
    when its first bytes are an SQLite database, XML or JSON."""
    name = upload_name(upload.filename)
    suffix = Path(name).suffix.lower()
    known = suffix in ALLOWED_SUFFIXES
    folder = Path(tempfile.mkdtemp(prefix="cg-upload-"))
    try:
        path = folder / f"upload{suffix if known else ''}"
        with path.open("wb") as out:
            shutil.copyfileobj(upload.file, out)
        if path.stat().st_size == 0:
            raise UploadRejected("backup.error.empty" if known else "backup.error.type")
        try:
            fmt = detect_format(path)
        except EvidenceError:
            raise UploadRejected("backup.error.type") from None
        if not known and fmt not in SNIFFED_FORMATS:
            raise UploadRejected("backup.error.type")
        yield CheckedUpload(path, fmt, name)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _too_many(limit: int) -> tuple[str, str]:
    return (
        f"这个文件超过 {limit:,} 条记录，网页版一次最多处理这么多。请在自己的电脑上用命令行工具"
        "导入（没有这个上限）：collectguard evidence import 备份文件，再用 collectguard evidence "
        "export 导出证据包。",
        f"This file holds more than {limit:,} records, the most the web version handles at "
        "once. Use the command line on your own computer (no such limit): collectguard "
        "evidence import BACKUP-FILE, then collectguard evidence export for the bundle.",
    )


def _full(limit: int) -> tuple[str, str]:
    return (
        f"证据柜已满：网页版每个证据柜最多保存 {limit:,} 条短信和通话记录，本次没有导入。"
        "更多的记录请在自己的电脑上用命令行工具导入（没有这个上限）：collectguard evidence "
        "import 备份文件。",
        f"The locker is full: on the web a locker holds at most {limit:,} messages and calls, "
        "so nothing was imported. For more, use the command line on your own computer (no such "
        "limit): collectguard evidence import BACKUP-FILE.",
    )


@dataclass
class Imported:
    store: EvidenceStore
    report: ImportReport
    cases: list[Case]


@contextmanager
def _throwaway(request: Request, upload: UploadFile) -> Iterator[Imported]:
    """Import the upload into a temporary store; everything is deleted on exit."""
    settings = context(request).settings
    limit = settings.max_locker_messages
    with checked_upload(upload) as checked:
        folder = checked.path.parent
        store = open_store(f"sqlite:///{folder / 'evidence.sqlite3'}", attachments_dir=folder / "a")
        try:
            importer = Importer(store, Analyzer.default(), timezone=ZONE, clock=settings.clock)
            try:
                report = importer.import_file(
                    checked.path, format=checked.format, source_name=checked.name,
                    max_records=limit,
                )  # fmt: skip
            except EvidenceError as exc:
                raise UploadRejected("backup.error.broken", detail=str(exc)) from None
            if report.stopped_at is not None:  # a bundle of part of the file would mislead
                raise UploadRejected(None, text=_too_many(limit))
            cases = build_cases(store, load_builtin("cn"), zone=ZONE)
            yield Imported(store, report, cases)
        finally:
            store.close()


def _rejected(request: Request, db: DbSession, err: UploadRejected) -> HTMLResponse:
    values = {
        "error": err.key,
        "error_text": err.text,
        "detail": err.detail,
        "suffixes": ALLOWED_SUFFIXES,
        "locker": current_locker(request, db),
    }
    return render(
        request, "backup.html.j2", values, status_code=400, user=current_user(request, db)
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
    """Import into the open locker (or a new temporary one) and show its cases.

    A file that breaks part-way keeps what was read before the break (a new locker too) and
    the locker page says where it broke; a file of which nothing could be read is refused
    (and a locker made for it deleted)."""
    settings = context(request).settings
    limit = settings.max_locker_messages
    try:
        with checked_upload(backup) as checked:
            locker = current_locker(request, db)
            created = locker is None
            if locker is None:
                locker = create_locker(request, db)
            failure: ImportFailed | None = None
            refused: UploadRejected | None = None
            with locker_store(settings, locker) as store:
                room = limit - stored_records(store)
                if room <= 0:
                    refused = UploadRejected(None, text=_full(limit))
                else:
                    importer = Importer(
                        store, Analyzer.default(), timezone=ZONE, clock=settings.clock
                    )
                    try:
                        report = importer.import_file(
                            checked.path, format=checked.format, source_name=checked.name,
                            max_records=room,
                        )  # fmt: skip
                    except ImportFailed as exc:
                        failure, report = exc, exc.report
                        if not (report.new or report.duplicate):
                            refused = UploadRejected("backup.error.broken", detail=str(exc))
                    except EvidenceError as exc:  # refused before reading anything
                        refused = UploadRejected("backup.error.broken", detail=str(exc))
                total = stored_records(store)
            if refused is not None:
                if created:
                    delete_locker(request, db, locker)
                raise refused
    except UploadRejected as err:
        return _rejected(request, db, err)
    remember_import(request, locker, report, failure=failure, limit=limit, total=total)
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
        return _rejected(request, db, err)
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", case.key)[:40] or "case"
    return Response(
        data,
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="evidence-{slug}.zip"'},
    )
