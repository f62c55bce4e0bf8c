"""Audit reports on the staff desk: upload a communication log, audit it in the background.

Owns ``/staff/audits`` (the list and the upload form), ``/staff/audits/{id}`` (status while it
runs — the page refreshes itself — then the summary, agent/team/agency scorecards and repeat
offenders), and the files the audit wrote (the HTML reports in zh-CN and English, the JSON
summary and scorecards). Every route needs the staff role.

The upload is size-limited (the app's body limit for this path), type-checked (suffix, then
content: a CSV header with the schema's required columns, a JSON object on the first JSONL
line, the Parquet magic bytes) and stored under ``<data_dir>/audits/<folder>/``; the audit
itself is `collectguard.audit.run.audit` on one background worker thread, so one heavy audit
never starves the pages.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import re
import secrets
import shutil
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, File, HTTPException, Request, UploadFile
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from collectguard.web.deps import Csrf, DbSession, Staff, context, render
from collectguard.web.models import AuditRun
from collectguard.web.settings import LENDER_ZONE, WebSettings

__all__ = ["AUDIT_SUFFIXES", "AuditRunner", "router", "sniff_log"]

router = APIRouter(include_in_schema=False)
_log = logging.getLogger(__name__)

AUDIT_SUFFIXES: tuple[str, ...] = (".csv", ".jsonl", ".ndjson", ".parquet")
_FOLDER = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
_REPORT_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'; sandbox"
)
"""The audit's own report page carries its inline stylesheet: allowed there, and nothing else
(no script at all, sandboxed)."""


class LogRejected(Exception):
    def __init__(self, key: str) -> None:
        self.key = key


def sniff_log(path: Path, suffix: str) -> None:
    """Refuse what is not an audit log before it is queued (`LogRejected` with a catalog key)."""
    from collectguard.audit.schema import REQUIRED_COLUMNS

    size = path.stat().st_size
    if size == 0:
        raise LogRejected("audits.error.empty")
    with path.open("rb") as fh:
        head = fh.read(64 * 1024)
        if suffix == ".parquet":
            fh.seek(max(size - 4, 0))
            tail = fh.read(4)
            if not (head.startswith(b"PAR1") and tail == b"PAR1"):
                raise LogRejected("audits.error.type")
            return
    if b"\x00" in head:
        raise LogRejected("audits.error.type")
    text = head.removeprefix(b"\xef\xbb\xbf").decode("utf-8", errors="replace")
    first = next((line for line in text.splitlines() if line.strip()), "")
    if suffix == ".csv":
        header = next(csv.reader(io.StringIO(first)), [])
        if not set(REQUIRED_COLUMNS) <= {h.strip() for h in header}:
            raise LogRejected("audits.error.columns")
        return
    try:
        row = json.loads(first)
    except ValueError:
        raise LogRejected("audits.error.type") from None
    if not isinstance(row, dict):
        raise LogRejected("audits.error.type")


def _dir(settings: WebSettings, run: AuditRun) -> Path:
    if not _FOLDER.match(run.folder):
        raise HTTPException(status_code=404)
    return settings.data_dir / "audits" / run.folder


class AuditRunner:
    """One background worker that runs queued audits, oldest first, and records the outcome."""

    def __init__(self, settings: WebSettings, sessions: sessionmaker[Session]) -> None:
        self.settings = settings
        self.sessions = sessions
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cg-audit")

    def submit(self, run_id: int) -> Future[None]:
        return self._pool.submit(self._run, run_id)

    def resume(self) -> None:
        """Queue again what a stopped server left queued or running (the log is on disk)."""
        with self.sessions() as db:
            ids = db.scalars(
                select(AuditRun.id)
                .where(AuditRun.status.in_(("queued", "running")))
                .order_by(AuditRun.id)
            ).all()
            db.execute(update(AuditRun).where(AuditRun.id.in_(ids)).values(status="queued"))
            db.commit()
        for run_id in ids:
            self.submit(run_id)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _set(self, run_id: int, **values: Any) -> None:
        with self.sessions() as db:
            db.execute(update(AuditRun).where(AuditRun.id == run_id).values(**values))
            db.commit()

    def _run(self, run_id: int) -> None:
        from collectguard.audit.readers import AuditInputError
        from collectguard.audit.run import audit

        with self.sessions() as db:
            run = db.get(AuditRun, run_id)
            if run is None:
                return
            folder = _dir(self.settings, run)
            log = next(folder.glob("log.*"), None)
            filename = run.filename
        self._set(run_id, status="running", started_at=self.settings.clock(), error=None)
        try:
            if log is None:
                raise AuditInputError("the uploaded log is gone")
            out = folder / "out"
            shutil.rmtree(out, ignore_errors=True)
            summary = audit(
                log, out, html=True, log_name=filename, progress=_progress_writer(folder)
            )
        except AuditInputError as exc:
            # the audit's own message names the line and the problem: show it, with the
            # uploaded file's name where it names the server's copy
            error = str(exc).replace(str(log), filename).replace(str(folder), "…")
            self._set(
                run_id, status="failed", finished_at=self.settings.clock(), error=error[:2000]
            )
            return
        except Exception:
            _log.exception("audit run %s crashed", run_id)
            self._set(run_id, status="failed", finished_at=self.settings.clock(), error=None)
            return
        finally:
            (folder / PROGRESS_FILE).unlink(missing_ok=True)
        stats = summary.get("log", {})
        self._set(
            run_id,
            status="done",
            finished_at=self.settings.clock(),
            input_rows=int(stats.get("input_rows", 0)),
            rejected_rows=int(stats.get("rejected", 0)),
            contacts=int(summary.get("contacts", 0)),
            violations=int(summary.get("violations", 0)),
            violation_rate=float(summary.get("violation_rate", 0.0)),
        )


PROGRESS_FILE = "progress.json"
"""In a run's folder while it runs: ``{"stage": "read" | "rules" | "report", "rows": n}``."""


def _progress_writer(folder: Path) -> Callable[[str, int], None]:
    """Where `audit` reports its stage: a small JSON file the status page reads (replaced
    atomically, so a page never sees half of it)."""

    def write(stage: str, rows: int) -> None:
        tmp = folder / (PROGRESS_FILE + ".tmp")
        tmp.write_text(json.dumps({"stage": stage, "rows": rows}), encoding="utf-8")
        tmp.replace(folder / PROGRESS_FILE)

    return write


def size_text(n: int) -> str:
    """A byte count as people read it: ``20 MB``, ``512 KB``."""
    if n >= 1024 * 1024:
        return f"{n / (1024 * 1024):.0f} MB"
    return f"{max(n // 1024, 1)} KB"


def _runner(request: Request) -> AuditRunner:
    runner: AuditRunner = request.app.state.audit_runner
    return runner


def _own_run(db: Session, run_id: int) -> AuditRun:
    run = db.get(AuditRun, run_id)
    if run is None:
        raise HTTPException(status_code=404)
    return run


def recent_runs(db: Session, limit: int = 50) -> list[AuditRun]:
    return list(db.scalars(select(AuditRun).order_by(AuditRun.id.desc()).limit(limit)).all())


def _list_page(
    request: Request, db: Session, user: Any, *, error: str | None = None, status_code: int = 200
) -> HTMLResponse:
    values = {
        "runs": recent_runs(db),
        "suffixes": AUDIT_SUFFIXES,
        "error": error,
        "zone": LENDER_ZONE,
        "limit": size_text(context(request).settings.max_upload_bytes),
    }
    return render(request, "audits.html.j2", values, status_code=status_code, user=user)


@router.get("/staff/audits", response_class=HTMLResponse)
def audits_page(request: Request, db: DbSession, user: Staff) -> HTMLResponse:
    return _list_page(request, db, user)


@router.post("/staff/audits", dependencies=[Csrf], response_model=None)
def audit_upload(
    request: Request, db: DbSession, user: Staff, log: Annotated[UploadFile, File()]
) -> Response:
    settings = context(request).settings
    name = Path(log.filename or "").name
    suffix = Path(name).suffix.lower()
    if suffix not in AUDIT_SUFFIXES:
        return _list_page(request, db, user, error="audits.error.type", status_code=400)
    folder = secrets.token_urlsafe(18)
    target_dir = settings.data_dir / "audits" / folder
    target_dir.mkdir(parents=True, exist_ok=True)
    target = target_dir / f"log{suffix}"
    try:
        with target.open("wb") as out:
            shutil.copyfileobj(log.file, out)
        sniff_log(target, suffix)
    except LogRejected as err:
        shutil.rmtree(target_dir, ignore_errors=True)
        return _list_page(request, db, user, error=err.key, status_code=400)
    except BaseException:
        shutil.rmtree(target_dir, ignore_errors=True)
        raise
    run = AuditRun(
        folder=folder,
        filename=name[:200] or f"log{suffix}",
        size_bytes=target.stat().st_size,
        status="queued",
        created_by=user.id,
        created_at=settings.clock(),
    )
    db.add(run)
    db.commit()
    _runner(request).submit(run.id)
    return RedirectResponse(f"/staff/audits/{run.id}", status_code=303)


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


@router.get("/staff/audits/{run_id}", response_class=HTMLResponse)
def audit_page(request: Request, db: DbSession, user: Staff, run_id: int) -> HTMLResponse:
    run = _own_run(db, run_id)
    settings = context(request).settings
    out = _dir(settings, run) / "out"
    summary = cards = progress = None
    if run.status == "done":
        summary = _read_json(out / "summary.json")
        cards = _read_json(out / "scorecards.json")
    elif run.status == "running":
        progress = _read_json(_dir(settings, run) / PROGRESS_FILE)
    now = settings.clock()
    elapsed = int(((run.finished_at or now) - (run.started_at or run.created_at)).total_seconds())
    values = {
        "run": run,
        "summary": summary,
        "cards": (cards or {}).get("scorecards", {}),
        "escalation": (cards or {}).get("escalation", []),
        "elapsed": max(elapsed, 0),
        "progress": progress if isinstance(progress, dict) else None,
        "zone": LENDER_ZONE,
        "refresh": run.status in ("queued", "running"),
    }
    return render(request, "audit.html.j2", values, user=user)


_FILES = {
    "report.zh-CN.html": "text/html; charset=utf-8",
    "report.en.html": "text/html; charset=utf-8",
    "summary.json": "application/json",
    "scorecards.json": "application/json",
}


@router.get("/staff/audits/{run_id}/files/{name}", response_model=None)
def audit_file(request: Request, db: DbSession, user: Staff, run_id: int, name: str) -> Response:
    """A file the audit wrote; the HTML report is shown in the browser under a strict CSP."""
    run = _own_run(db, run_id)
    if name not in _FILES or run.status != "done":
        raise HTTPException(status_code=404)
    path = _dir(context(request).settings, run) / "out" / name
    if not path.is_file():
        raise HTTPException(status_code=404)
    if name.endswith(".html"):
        return FileResponse(
            path, media_type=_FILES[name], headers={"Content-Security-Policy": _REPORT_CSP}
        )
    return FileResponse(path, media_type=_FILES[name], filename=f"audit-{run.id}-{name}")
