"""Imports: read a source, analyse each new message, store it, chain it in the ledger.

Owns the import semantics (docs/evidence.md):

- **Streaming**: records come from `collectguard.evidence.sources` one chunk at a time.
- **Batch-transactional**: every `batch_size` records are stored in ONE transaction together
  with their ledger entries and the import run's counters and resume point — a batch is
  either entirely in the store and the chain, or not at all (a crash or ``kill -9`` loses at
  most the batch in flight). A broken file keeps every batch before the fault (records read
  before it included), marks the run ``failed`` with the position, and raises.
- **Parallel analysis** (``workers`` > 1, where the OS can fork): batches are analysed by
  worker processes that inherit the importer's analyzer, one batch ahead of the writer, so
  reading, analysing and storing overlap; writes stay in order, in the one writer.
- **Idempotent**: each item has a dedupe key (other party, recipient, direction, time to the
  second, text); an item already stored is counted as a duplicate, so re-running an import
  after a fault or crash finishes the job and adds nothing twice.

Imports the analyzer, never the CLI.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import gc
import mimetypes
import multiprocessing
import operator
import os
import re
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from sqlalchemy import Connection, DateTime, func, insert, select, update
from sqlalchemy import text as sql_text
from sqlalchemy.exc import IntegrityError

from collectguard.analyze.analyzer import Analyzer
from collectguard.analyze.result import CheckResult
from collectguard.dbtypes import UTCDateTime
from collectguard.errors import InputError
from collectguard.evidence import sources
from collectguard.evidence.errors import ImportFormatError
from collectguard.evidence.items import (
    call_content,
    call_dedupe_key,
    iso_utc,
    item_sha256,
    message_content,
    message_dedupe_key,
)
from collectguard.evidence.models import Attachment, CallRecord, ImportRun, Message, Violation
from collectguard.evidence.sources import (
    AttachmentData,
    CallItem,
    MessageRecord,
    Record,
    RejectedRecord,
    SkippedRecord,
)
from collectguard.evidence.store import EvidenceStore, RawJSON
from collectguard.ledger import ledger_entries, sha256_hex, sha256_stream

Progress = Callable[[int, int], None]
Clock = Callable[[], dt.datetime]
MAX_REJECTIONS_KEPT = 1000
NOT_COLLECTION = "不是催收短信（只导入催收短信）/ not a collection message (collection only)"
"""The skip reason of a message left out by `Importer(collection_only=True)`."""


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def _clean(value: str | None) -> str | None:
    return None if value is None else _UNSTORABLE.sub("\ufffd", value)


def storable(rec: Record) -> Record:
    """A record whose strings every database can hold: NUL (PostgreSQL refuses it) and lone
    surrogates (not encodable as UTF-8, e.g. from a JSON ``"\\ud800"``) become U+FFFD."""
    if isinstance(rec, MessageRecord):
        if _UNSTORABLE.search(rec.text) or (rec.sender and _UNSTORABLE.search(rec.sender)):
            return dataclasses.replace(rec, text=_clean(rec.text) or "", sender=_clean(rec.sender))
    elif isinstance(rec, CallItem) and rec.number and _UNSTORABLE.search(rec.number):
        return dataclasses.replace(rec, number=_clean(rec.number))
    return rec


def lender_of(result: CheckResult) -> tuple[str | None, str | None]:
    """(lender key, display name): the registry id when known, else ``name:<brand>``."""
    p = result.platform
    if p is None:
        return None, None
    if p.id:
        return p.id, p.registry_name or p.legal_name or p.claimed_name
    return f"name:{p.brand or p.claimed_name}", p.claimed_name


def file_sha256(path: Path) -> str:
    with path.open("rb") as fp:
        return sha256_stream(fp)


@dataclass
class ImportReport:
    """Counts of one import run; `rejections` holds (position, reason) of rejected records."""

    run_id: int
    source_name: str
    format: str
    source_sha256: str
    new: int = 0
    duplicate: int = 0
    rejected: int = 0
    skipped: int = 0
    new_by_kind: dict[str, int] = field(
        default_factory=lambda: {"message": 0, "call": 0, "attachment": 0}
    )
    rejections: list[tuple[str, str]] = field(default_factory=list)
    skip_reasons: dict[str, int] = field(default_factory=dict)
    """How many records were skipped for each reason (a tapback, a group event, not a
    collection message with `collection_only`)."""
    odd_times: int = 0
    """New items dated in the future or before 2000: kept as read, worth a look (a backup
    writing seconds for milliseconds, a wrong --tz, a phone with a wrong clock)."""
    odd_time_positions: list[str] = field(default_factory=list)
    """Where the first few of them are."""
    status: str = "running"
    error: str | None = None
    resume_position: str | None = None
    stopped_at: str | None = None
    """Where reading stopped because `max_records` was reached (the first record left
    unread); None when the whole source was read."""

    def summary(self) -> str:
        return (
            f"新增 {self.new}，重复 {self.duplicate}，拒收 {self.rejected}"
            + (f"，跳过 {self.skipped}" if self.skipped else "")
            + f" / new {self.new}, duplicate {self.duplicate}, rejected {self.rejected}"
            + (f", skipped {self.skipped}" if self.skipped else "")
        )


class ImportFailed(ImportFormatError):
    """The source broke part-way; `report` says what was committed and where to resume."""

    def __init__(self, cause: ImportFormatError, report: ImportReport) -> None:
        super().__init__(str(cause), position=cause.position)
        self.report = report


class Verdict(NamedTuple):
    """What the locker stores of one analysis (small enough to come back from a worker; a
    named tuple because it unpickles several times faster than a dataclass)."""

    data: str
    """The result as JSON (the contract of a check) less its ``input`` echo, which the row's
    own columns hold; serialised once, in the worker."""
    is_collection: bool
    authenticity: str
    lender_id: str | None
    lender_name: str | None
    violations: tuple[tuple[str, str, str, str], ...]
    """(rule id, code, severity, title) of each violation."""

    @classmethod
    def of(cls, result: CheckResult) -> Verdict:
        lender_id, lender_name = lender_of(result)
        return cls(
            data=result.model_dump_json(exclude=_NOT_STORED),
            is_collection=result.is_collection,
            authenticity=result.authenticity,
            lender_id=lender_id,
            lender_name=lender_name,
            violations=tuple((v.rule_id, v.code, v.severity, v.title) for v in result.violations),
        )


_NOT_STORED = {"input"}


_EARLIEST = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
_CLOCK_SLACK = dt.timedelta(days=1)


def _odd_time(when: dt.datetime | None, now: dt.datetime) -> bool:
    """Dated before 2000 or more than a day after the import: kept, but reported."""
    return when is not None and not (_EARLIEST <= when <= now + _CLOCK_SLACK)


def _at_most(records: Iterable[Record], limit: int, report: ImportReport) -> Iterator[Record]:
    """`records` up to `limit` messages and calls (rejected ones pass, uncounted); notes in
    `report.stopped_at` where it stopped when more were left."""
    read = 0
    iterator = iter(records)
    try:
        for rec in iterator:
            if not isinstance(rec, RejectedRecord):
                if read >= limit:
                    report.stopped_at = rec.position
                    return
                read += 1
            yield rec
    finally:
        close = getattr(iterator, "close", None)
        if close is not None:
            close()  # a reader holding a file or a database connection lets it go now


BATCH_SIZE = 1000
"""Records per transaction by default. Fewer, larger batches cost the writer less per record
(≈ 10 % less CPU than 500 on a 100,000-message import, docs/benchmarks.md); a crash loses at
most the batches in flight, which a re-run redoes."""

BATCH_BYTES = 32 * 1024 * 1024
"""A batch also ends once its attachments (MMS photos, videos) hold this many bytes: a
backup of photos keeps at most a few such batches in memory, not a thousand photos per
batch (a 1 GB MMS backup peaked at 823 MB before this bound, docs/benchmarks.md)."""

PIPELINE_DEPTH = 2
"""With analysis workers: how many batches are read and being analysed while one is written."""

_Job = tuple[str, str | None, dt.datetime | None, str | None]  # text, sender, received, zone
_WORKER_ANALYZER: Analyzer | None = None  # set in the parent just before the pool forks


def _analyse_jobs(analyzer: Analyzer, jobs: list[_Job]) -> list[Verdict | str]:
    out: list[Verdict | str] = []
    for text, sender, received_at, zone in jobs:
        try:
            out.append(
                Verdict.of(
                    analyzer.check(
                        text, sender=sender, received_at=received_at, timezone=zone, echo=False
                    )
                )
            )
        except InputError as exc:
            out.append(str(exc))
    return out


WORKER_NICENESS = 5
"""How much lower the analysis workers' scheduling priority is than the importer's. The one
writer is the serial stage of the pipeline: when the workers and the writer outnumber the
cores, the writer is scheduled first, and the workers take the rest (≈ 5 % shorter imports
with two workers on two cores, docs/benchmarks.md)."""


def _yield_to_writer() -> None:
    try:
        os.nice(WORKER_NICENESS)
    except OSError:  # not permitted here: run at the same priority
        pass


def _analyse_in_worker(jobs: list[_Job]) -> list[Verdict | str]:
    assert _WORKER_ANALYZER is not None, "worker started without an analyzer"
    return _analyse_jobs(_WORKER_ANALYZER, jobs)


@dataclass
class _Pending:
    rec: Record
    key: str | None = None
    verdict: Verdict | None = None


@dataclass
class _Batch:
    """A batch read and checked against the store, its analysis done or under way."""

    records: list[Record]
    pending: list[_Pending]
    message_keys: list[str]
    call_keys: list[str]
    todo: list[_Pending]
    known: set[str]
    """Keys of the batch already stored when it was read."""
    head_seen: int
    """The ledger head (highest position) just before `known` was looked up."""
    claimed: list[str] = field(default_factory=list)
    """Message keys this batch took first in this import (let go once it is written)."""
    results: list[Verdict | str] | None = None
    futures: list[Future[list[Verdict | str]]] = field(default_factory=list)

    @property
    def keys(self) -> list[str]:
        return self.message_keys + self.call_keys

    def analysed(self) -> list[Verdict | str]:
        if self.results is None:
            self.results = [v for f in self.futures for v in f.result()]
        return self.results


class Importer:
    """Imports sources into one store. Build once; the analyzer and clock are injected."""

    def __init__(
        self,
        store: EvidenceStore,
        analyzer: Analyzer | None = None,
        *,
        recipient: str = "self",
        timezone: str | None = "Asia/Shanghai",
        collection_only: bool = False,
        batch_size: int = BATCH_SIZE,
        batch_bytes: int = BATCH_BYTES,
        clock: Clock = _utc_now,
        workers: int = 1,
    ) -> None:
        if batch_size < 1 or batch_bytes < 1:
            raise ValueError("batch_size and batch_bytes must be positive")
        if workers < 1:
            raise ValueError("workers must be at least 1")
        if timezone is not None:
            sources.zone_info(timezone)  # ValueError naming it, before any run is recorded
        self.store = store
        self.analyzer = analyzer or Analyzer.default()
        self.recipient = recipient.strip() or "self"
        self.timezone = timezone
        self.collection_only = collection_only
        self.batch_size = batch_size
        self.batch_bytes = batch_bytes
        self.clock = clock
        self.workers = workers if "fork" in multiprocessing.get_all_start_methods() else 1
        self._pool: ProcessPoolExecutor | None = None
        # (ledger head before, head after, keys written) of the last batches this importer
        # committed: lets the batches in flight skip looking up their keys again (`_known_now`).
        self._recent_writes: deque[tuple[int, int, set[str]]] = deque(maxlen=PIPELINE_DEPTH + 1)
        # Message keys taken by batches read but not yet written, with their messages' times;
        # and, per key two messages at different sub-second times shared, each occurrence's
        # time and key (`_tell_apart`). Both start again with every import.
        self._claimed: dict[str, dt.datetime | None] = {}
        self._occurrences: dict[str, dict[dt.datetime, str]] = {}

    # ------------------------------------------------------------------ entry points
    def import_file(
        self,
        path: Path,
        *,
        format: str | None = None,
        csv_mapping: dict[str, str] | None = None,
        encoding: str | None = None,
        progress: Progress | None = None,
        source_name: str | None = None,
        max_records: int | None = None,
    ) -> ImportReport:
        """Import one file, or an iPhone iTunes/Finder backup folder; `format` is detected
        from a file's first bytes when None (a folder can only be ``ios``).

        `source_name` is what the import run records as the source (default: the path; a
        server passes the uploaded file's own name, not its temporary path). A backup
        folder's run records the folder and its ``sms.db``'s SHA-256, so importing the same
        backup again, or the same ``sms.db`` extracted, is recognised as the same source. With
        `max_records`, reading stops after that many messages and calls (rejected records do
        not count): what was read is stored as usual, the run completes, and
        `report.stopped_at` names the first record left unread."""
        if max_records is not None and max_records < 0:
            raise ValueError("max_records must not be negative")
        if path.is_dir():
            return self._import_ios_backup(path, format, progress, source_name, max_records)
        if not path.is_file():
            raise ImportFormatError(f"找不到文件 / no such file: {path}")
        fmt = format or sources.detect_format(path)
        if fmt not in sources.FORMATS:
            raise ImportFormatError(
                f"未知格式 {fmt!r} / unknown format; use one of {', '.join(sources.FORMATS)}"
            )
        total = path.stat().st_size
        if fmt == "text" and total > sources.MAX_TEXT_FILE_BYTES:
            raise ImportFormatError(
                f"文本文件 {path.name} 有 {total / 2**20:,.0f} MiB，超过 "
                f"{sources.MAX_TEXT_FILE_BYTES >> 20} MiB；请另存为 JSONL 或 CSV（逐行读取）"
                "后导入 / "
                f"the text file {path.name} is {total / 2**20:,.0f} MiB, over "
                f"{sources.MAX_TEXT_FILE_BYTES >> 20} MiB: save it as JSONL or CSV, which are "
                "read line by line"
            )
        digest = file_sha256(path)
        tick = progress or (lambda done, total: None)
        report = self._start(source_name or str(path), fmt, digest)

        def limited(records: Iterable[Record]) -> Iterable[Record]:
            return records if max_records is None else _at_most(records, max_records, report)

        if fmt == "ios":
            return self._run(limited(sources.read_ios_smsdb(path, tick)), report, fmt)
        with path.open("rb") as fp:
            records: Iterable[Record]
            if fmt == "android":
                records = sources.read_android_xml(fp, tick, total)
            elif fmt == "csv":
                records = sources.read_csv(
                    fp, csv_mapping, encoding=encoding, zone=self.timezone, tick=tick, total=total
                )
            elif fmt == "jsonl":
                records = sources.read_jsonl(fp, zone=self.timezone, tick=tick, total=total)
            else:
                raw = fp.read()
                enc = encoding or sources.detect_encoding(raw[: 64 * 1024])
                records = sources.read_pasted(raw.decode(enc, errors="replace"))
            out = self._run(limited(records), report, fmt)
        tick(total, total)
        return out

    def _import_ios_backup(
        self,
        folder: Path,
        format: str | None,
        progress: Progress | None,
        source_name: str | None,
        max_records: int | None,
    ) -> ImportReport:
        """`import_file` of an iPhone backup folder: checked (not a backup, encrypted, no
        Messages: `ImportFormatError`) before a run is recorded."""
        if format not in (None, "ios"):
            raise ImportFormatError(
                f"{folder} 是文件夹，只能按 iPhone 备份导入（--format ios），不能按 {format} / "
                f"{folder} is a folder: it can only be imported as an iPhone backup "
                f"(--format ios), not as {format}"
            )
        backup = sources.open_ios_backup(folder)
        report = self._start(source_name or str(folder), "ios", file_sha256(backup.smsdb))
        records: Iterable[Record] = sources.read_ios_backup(backup, progress or (lambda d, t: None))
        if max_records is not None:
            records = _at_most(records, max_records, report)
        return self._run(records, report, "ios")

    def import_text(
        self,
        text: str,
        *,
        sender: str | None = None,
        received_at: dt.datetime | None = None,
        source_name: str = "<pasted>",
        split: bool = True,
    ) -> ImportReport:
        """Import pasted text (messages separated by blank lines; `split=False`: the text is
        one message). Text with nothing but whitespace is refused (`ImportFormatError`)
        before a run is recorded."""
        if not text.strip():
            raise ImportFormatError(
                "粘贴的文字为空，未导入 / the pasted text is empty: nothing imported"
            )
        digest = sha256_hex(text.encode("utf-8", errors="surrogatepass"))
        report = self._start(source_name, "text", digest)
        return self._run(
            sources.read_pasted(text, sender=sender, received_at=received_at, split=split),
            report,
            "text",
        )

    def import_attachment(
        self,
        path: Path,
        *,
        case_key: str | None = None,
        message_id: int | None = None,
        note: str | None = None,
        media_type: str | None = None,
    ) -> ImportReport:
        """Keep one file (screenshot, call recording, letter photo) as evidence of a case or a
        message: stored under its SHA-256 and chained. The same file for the same case or
        message again is a duplicate."""
        if not path.is_file():
            raise ImportFormatError(f"找不到文件 / no such file: {path}")
        if message_id is not None:
            with self.store.session() as s:
                if s.get(Message, message_id) is None:
                    raise ImportFormatError(f"没有短信 {message_id} / no message {message_id}")
        data = path.read_bytes()
        digest = sha256_hex(data)
        report = self._start(str(path), "attachment", digest)
        key = sha256_hex(f"attachment:{case_key}:{message_id}:{digest}".encode())
        now = self.clock()
        with self.store.writer() as s, s.begin():
            exists = s.scalar(select(Attachment.id).where(Attachment.dedupe_key == key))
            if exists is None:
                self.store.put_attachment(data)
                row = {
                    "dedupe_key": key,
                    "sha256": digest,
                    "message_id": message_id,
                    "filename": path.name[:400],
                    "media_type": (media_type or mimetypes.guess_type(path.name)[0] or None),
                    "size": len(data),
                    "case_key": case_key[:200] if case_key else None,
                    "note": note,
                    "import_run_id": report.run_id,
                    "imported_at": now,
                }
                conn = s.connection()
                (row["id"],) = _reserve_ids(conn, Attachment, 1)
                payload = {
                    "imported_at": iso_utc(now),
                    "source_sha256": digest,
                    "import_run": report.run_id,
                    "item": "attachment",
                    "item_id": row["id"],
                    "item_sha256": digest,
                    "dedupe_key": key,
                    "case_key": case_key,
                    "message_item_id": message_id,
                }
                entry = self.store.ledger.append("attachment", payload, conn=conn, recorded_at=now)
                row["ledger_seq"] = entry.seq
                conn.execute(insert(Attachment), [row])
                report.new, report.new_by_kind["attachment"] = 1, 1
            else:
                report.duplicate = 1
            conn = s.connection()
            conn.execute(
                update(ImportRun)
                .where(ImportRun.id == report.run_id)
                .values(new_count=report.new, duplicate_count=report.duplicate)
            )
        self._finish(report, "complete", None)
        return report

    # ------------------------------------------------------------------ the run
    def _start(self, name: str, fmt: str, digest: str) -> ImportReport:
        with self.store.writer() as s, s.begin():
            run = ImportRun(
                source_name=name[:1000],
                source_sha256=digest,
                format=fmt,
                recipient=self.recipient,
                started_at=self.clock(),
                status="running",
                new_count=0,
                duplicate_count=0,
                rejected_count=0,
                skipped_count=0,
            )
            s.add(run)
            s.flush()
            run_id = run.id
        return ImportReport(run_id=run_id, source_name=name, format=fmt, source_sha256=digest)

    def _run(self, records: Iterable[Record], report: ImportReport, fmt: str) -> ImportReport:
        """Read, analyse and store batch by batch; with workers, the next `PIPELINE_DEPTH`
        batches are analysed while one is written (writes stay in order: a crash loses at
        most what is in flight)."""
        self._claimed.clear()
        self._occurrences.clear()
        with fewer_collections():
            return self._run_batches(records, report, fmt)

    def _run_batches(
        self, records: Iterable[Record], report: ImportReport, fmt: str
    ) -> ImportReport:
        batch: list[Record] = []
        held = 0  # attachment bytes in `batch`
        ahead: deque[_Batch] = deque()  # read and sent for analysis, not yet written
        depth = 1 if self.workers == 1 else PIPELINE_DEPTH
        iterator: Iterator[Record] = iter(records)
        try:
            try:
                for rec in iterator:
                    batch.append(rec)
                    if isinstance(rec, MessageRecord) and rec.attachments:
                        held += sum(len(a.data) for a in rec.attachments)
                    if len(batch) >= self.batch_size or held >= self.batch_bytes:
                        ahead.append(self._prepare(batch))
                        batch, held = [], 0
                        if len(ahead) > depth:
                            self._commit(ahead.popleft(), report, fmt)
                while ahead:
                    self._commit(ahead.popleft(), report, fmt)
                if batch:
                    self._commit(self._prepare(batch), report, fmt)
            except ImportFormatError as exc:
                while ahead:
                    self._commit(ahead.popleft(), report, fmt)
                if batch:
                    self._commit(self._prepare(batch), report, fmt)
                self._finish(report, "failed", str(exc))
                raise ImportFailed(exc, report) from None
            except BaseException as exc:
                self._finish(report, "failed", f"{type(exc).__name__}: {exc}")
                raise
        finally:
            self._close_pool()
        self._finish(report, "complete", None)
        return report

    def _close_pool(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None

    def _pool_for_analysis(self) -> ProcessPoolExecutor:
        global _WORKER_ANALYZER
        if self._pool is None:
            _WORKER_ANALYZER = self.analyzer  # the forked workers inherit it, packs and all
            self._pool = ProcessPoolExecutor(
                max_workers=self.workers,
                mp_context=multiprocessing.get_context("fork"),
                initializer=_yield_to_writer,
            )
        return self._pool

    def _finish(self, report: ImportReport, status: str, error: str | None) -> None:
        report.status = status
        report.error = error
        with self.store.writer() as s, s.begin():
            s.execute(
                update(ImportRun)
                .where(ImportRun.id == report.run_id)
                .values(status=status, error=error, finished_at=self.clock())
            )

    def _key(self, rec: Record) -> str | None:
        if isinstance(rec, MessageRecord):
            return message_dedupe_key(rec, self.recipient)
        if isinstance(rec, CallItem):
            return call_dedupe_key(rec, self.recipient)
        return None

    @staticmethod
    def _existing(
        conn: Connection,
        message_keys: list[str],
        call_keys: list[str],
        times: dict[str, dt.datetime | None] | None = None,
    ) -> set[str]:
        """Which of these keys are stored. A message's key is looked up among messages only,
        a call's among calls: the kind is part of what a key hashes. With `times`, the stored
        messages' times are put there by key."""
        found: set[str] = set()
        sqlite = conn.dialect.name == "sqlite"
        for model, keys in ((Message, message_keys), (CallRecord, call_keys)):
            name = model.__tablename__
            timed = times is not None and model is Message
            for i in range(0, len(keys), 500):
                part = keys[i : i + 500]
                if sqlite:  # plain SQL: an expanding IN is compiled again on every call
                    marks = ",".join("?" * len(part))
                    cols = "dedupe_key, received_at" if timed else "dedupe_key"
                    sql = f"SELECT {cols} FROM {name} WHERE dedupe_key IN ({marks})"
                    rows = conn.exec_driver_sql(sql, tuple(part)).all()
                    if timed:
                        assert times is not None
                        read = _time_reader(conn.dialect)
                        times.update((r[0], read(r[1])) for r in rows)
                else:
                    col = model.__table__.c.dedupe_key
                    query = select(col, Message.received_at) if timed else select(col)
                    rows = conn.execute(query.where(col.in_(part))).all()
                    if timed:
                        assert times is not None
                        times.update((r[0], r[1]) for r in rows)
                found.update(r[0] for r in rows)
        return found

    def _tell_apart(self, conn: Connection, pending: list[_Pending], known: set[str]) -> list[str]:
        """Give a message its occurrence key (`message_dedupe_key`) when its plain key is
        taken — stored, or read earlier in this import — by a message at another sub-second
        time: the same text from the same party twice within one second is two messages.
        Times to the whole second (CSV, pasted text) cannot tell: their key stands, as before.
        Adds the stored keys it finds to `known`; returns the keys this batch claims."""
        claimed = self._claimed
        mine: list[str] = []
        times: dict[str, dt.datetime | None] | None = None
        for p in pending:
            rec = p.rec
            if p.key is None or type(rec) is not MessageRecord:
                continue
            base, at = p.key, rec.received_at
            occ = self._occurrences.get(base)
            if occ is None:
                if base in claimed:
                    first = claimed[base]
                elif base in known:
                    if times is None:  # the times of this batch's stored keys, looked up once
                        times = {}
                        keys = [q.key for q in pending if q.key and type(q.rec) is MessageRecord]
                        self._existing(conn, keys, [], times)
                    first = times.get(base)
                else:
                    claimed[base] = at
                    mine.append(base)
                    continue
                if not _subsecond(at) or not _subsecond(first) or first == at:
                    continue  # the same message, or times too coarse to tell
                assert first is not None
                occ = self._occurrences[base] = self._stored_occurrences(conn, rec, base, first)
            if not _subsecond(at):
                continue
            assert at is not None
            key = occ.get(at)
            if key is None:
                key = message_dedupe_key(rec, self.recipient, len(occ) + 1)
                occ[at] = key
                claimed[key] = at
                mine.append(key)
            elif key != base and self._existing(conn, [key], []):
                known.add(key)
            p.key = key
        return mine

    def _stored_occurrences(
        self, conn: Connection, rec: MessageRecord, base: str, first: dt.datetime
    ) -> dict[dt.datetime, str]:
        """Time → key of each occurrence of `base` stored (or claimed) so far: the first at
        `first`, then the second, third … as far as they are stored."""
        occ = {first: base}
        while True:
            key = message_dedupe_key(rec, self.recipient, len(occ) + 1)
            at = self._claimed.get(key)
            if at is None:
                times: dict[str, dt.datetime | None] = {}
                self._existing(conn, [key], [], times)
                at = times.get(key)
            if at is None:
                return occ
            occ[at] = key

    def _head_seq(self, conn: Connection) -> int:
        t = ledger_entries
        seq = conn.execute(
            select(func.max(t.c.seq)).where(t.c.stream == self.store.ledger.stream)
        ).scalar()
        return int(seq) if seq is not None else 0

    def _known_now(self, conn: Connection, head: int, b: _Batch) -> set[str]:
        """The batch's keys stored by now (`head`: the ledger head under the write lock). If
        the ledger moved only by this importer's own batches since `b` was read (every stored
        item has a ledger entry), that is what was known then plus what those batches wrote;
        else look again. A wrong guess cannot store a duplicate: the unique keys refuse it and
        the batch is written again with `look_again`."""
        if head == b.head_seen:
            return b.known
        known = set(b.known)
        at = b.head_seen
        batch_keys = set(b.keys)
        for before, after, keys in self._recent_writes:  # oldest first
            if before == at:
                known |= keys & batch_keys
                at = after
        if at == head:
            return known
        return self._existing(conn, b.message_keys, b.call_keys)

    def _job(self, rec: Record) -> _Job:
        assert isinstance(rec, MessageRecord)
        return (rec.text, rec.sender, rec.received_at, rec.timezone or self.timezone)

    def _prepare(self, records: list[Record]) -> _Batch:
        """Dedupe a batch against the store and start analysing its new messages."""
        pending = [_Pending(r, self._key(r)) for r in map(storable, records)]
        message_keys = [p.key for p in pending if p.key is not None and type(p.rec) is not CallItem]
        call_keys = [p.key for p in pending if p.key is not None and type(p.rec) is CallItem]
        with self.store.session() as s:
            conn = s.connection()
            head_seen = self._head_seq(conn)  # first: what `known` sees is at least this
            known = self._existing(conn, message_keys, call_keys)
            claimed = self._tell_apart(conn, pending, known)
        message_keys = [p.key for p in pending if p.key is not None and type(p.rec) is not CallItem]
        # Analyse outside the write transaction so SQLite's write lock is held briefly.
        todo = [p for p in pending if isinstance(p.rec, MessageRecord) and p.key not in known]
        batch = _Batch(records, pending, message_keys, call_keys, todo, known, head_seen, claimed)
        jobs = [self._job(p.rec) for p in todo]
        if self.workers > 1 and len(jobs) >= 2 * self.workers:
            pool = self._pool_for_analysis()
            step = -(-len(jobs) // self.workers)
            batch.futures = [
                pool.submit(_analyse_in_worker, jobs[i : i + step])
                for i in range(0, len(jobs), step)
            ]
        else:
            batch.results = _analyse_jobs(self.analyzer, jobs)
        return batch

    def _commit(self, b: _Batch, report: ImportReport, fmt: str) -> None:
        if not b.records:
            return
        for p, result in zip(b.todo, b.analysed(), strict=True):
            if isinstance(result, str):
                p.rec = RejectedRecord(p.rec.position, result)
                p.key = None
            else:
                p.verdict = result
        for attempt in range(3):
            try:
                counts, by_kind, rejections, odd, skips = self._write(
                    b, report, fmt, look_again=attempt > 0
                )
                break
            except IntegrityError:
                # another import stored one of these items first: look again and retry
                if attempt == 2:
                    raise
        for key in b.claimed:  # stored now (or rejected): the store answers for them
            self._claimed.pop(key, None)
        # Only after the commit: the report mirrors what is durably stored.
        report.new += counts["new"]
        report.duplicate += counts["duplicate"]
        report.rejected += counts["rejected"]
        report.skipped += counts["skipped"]
        for k, v in by_kind.items():
            report.new_by_kind[k] += v
        room = MAX_REJECTIONS_KEPT - len(report.rejections)
        report.rejections.extend(rejections[: max(room, 0)])
        report.odd_times += len(odd)
        for why in skips:
            report.skip_reasons[why] = report.skip_reasons.get(why, 0) + 1
        report.odd_time_positions.extend(odd[: max(5 - len(report.odd_time_positions), 0)])

    def _write(
        self, b: _Batch, report: ImportReport, fmt: str, *, look_again: bool = False
    ) -> tuple[dict[str, int], dict[str, int], list[tuple[str, str]], list[str], list[str]]:
        """One transaction: the batch's new items, their ledger entries, the run's counters.
        `look_again`: query the stored keys instead of trusting what the batch saw. Also
        returns the positions of new items dated in the future or before 2000, and the reason
        of each skipped record."""
        pending, batch = b.pending, b.records
        counts = {"new": 0, "duplicate": 0, "rejected": 0, "skipped": 0}
        by_kind = {"message": 0, "call": 0, "attachment": 0}
        rejections: list[tuple[str, str]] = []
        odd: list[str] = []
        skips: list[str] = []
        now = self.clock()
        with self.store.writer() as s, s.begin():
            conn = s.connection()
            head = self._head_seq(conn)
            known = (
                self._existing(conn, b.message_keys, b.call_keys)
                if look_again
                else self._known_now(conn, head, b)
            )
            seen: set[str] = set()
            messages: list[tuple[dict[str, Any], MessageRecord, Verdict]] = []
            calls: list[dict[str, Any]] = []
            for p in pending:
                rec = p.rec
                if isinstance(rec, SkippedRecord):  # not a message (an iPhone tapback)
                    counts["skipped"] += 1
                    skips.append(rec.reason)
                    continue
                if isinstance(rec, RejectedRecord) or p.key is None:
                    assert isinstance(rec, RejectedRecord)
                    counts["rejected"] += 1
                    rejections.append((rec.position, rec.reason))
                    continue
                if p.key in known or p.key in seen:
                    counts["duplicate"] += 1
                    continue
                seen.add(p.key)
                if isinstance(rec, CallItem):
                    calls.append(self._call_row(rec, p.key, fmt, report, now))
                    if _odd_time(rec.started_at, now):
                        odd.append(rec.position)
                    continue
                assert isinstance(rec, MessageRecord) and p.verdict is not None
                if self.collection_only and not (p.verdict.is_collection or p.verdict.violations):
                    counts["skipped"] += 1
                    skips.append(NOT_COLLECTION)
                    continue
                if _odd_time(rec.received_at, now):
                    odd.append(rec.position)
                messages.append(
                    (self._message_row(rec, p.key, p.verdict, fmt, report, now), rec, p.verdict)
                )
            base = {
                "imported_at": iso_utc(now),
                "source_sha256": report.source_sha256,
                "import_run": report.run_id,
            }
            # Ids are reserved first, so the ledger entries (which name their item) and the
            # rows (which name their ledger position) are each written once, in bulk.
            message_rows = [m for m, _, _ in messages]
            for mid, row in zip(
                _reserve_ids(conn, Message, len(message_rows)), message_rows, strict=True
            ):
                row["id"] = mid
            violations: list[dict[str, Any]] = []
            attachments: list[dict[str, Any]] = []
            for row, rec, verdict in messages:
                violations += [
                    {
                        "message_id": row["id"],
                        "rule_id": rule_id,
                        "code": code,
                        "severity": severity,
                        "title": title[:400],
                    }
                    for rule_id, code, severity, title in verdict.violations
                ]
                for att in rec.attachments:
                    arow = self._attachment_row(att, row["id"], row["dedupe_key"], report, now)
                    if arow["dedupe_key"] not in seen:  # the same file twice in one MMS
                        seen.add(arow["dedupe_key"])
                        attachments.append(arow)
            for aid, arow in zip(
                _reserve_ids(conn, Attachment, len(attachments)), attachments, strict=True
            ):
                arow["id"] = aid
            for cid, crow in zip(_reserve_ids(conn, CallRecord, len(calls)), calls, strict=True):
                crow["id"] = cid

            # each ledger entry names its item: kind, id, content hash, dedupe key
            def ledger_item(row: dict[str, Any], kind: str, sha: str, **extra: Any) -> Any:
                payload = {**base, "item": kind, "item_id": row["id"], "item_sha256": sha}
                payload.update(dedupe_key=row["dedupe_key"], **extra)
                return (row, kind, payload)

            chain: list[tuple[dict[str, Any], str, dict[str, Any]]] = [
                ledger_item(row, "message", row["item_sha256"]) for row in message_rows
            ]
            chain += [
                ledger_item(a, "attachment", a["sha256"], message_item_id=a["message_id"])
                for a in attachments
            ]
            chain += [ledger_item(c, "call", c["item_sha256"]) for c in calls]
            if chain:
                entries = self.store.ledger.append_many(
                    [(kind, payload) for _row, kind, payload in chain], conn=conn, recorded_at=now
                )
                for (row, _kind, _payload), entry in zip(chain, entries, strict=True):
                    row["ledger_seq"] = entry.seq
            written = (head, entries[-1].seq if chain else head, seen)
            for model, rows in (
                (Message, message_rows),
                (Violation, violations),
                (Attachment, attachments),
                (CallRecord, calls),
            ):
                if rows:
                    _bulk_insert(conn, model, rows)
            by_kind["message"] += len(messages)
            by_kind["attachment"] += len(attachments)
            by_kind["call"] += len(calls)
            counts["new"] = len(messages) + len(calls)
            report.resume_position = batch[-1].position
            conn.execute(
                update(ImportRun)
                .where(ImportRun.id == report.run_id)
                .values(
                    new_count=ImportRun.new_count + counts["new"],
                    duplicate_count=ImportRun.duplicate_count + counts["duplicate"],
                    rejected_count=ImportRun.rejected_count + counts["rejected"],
                    skipped_count=ImportRun.skipped_count + counts["skipped"],
                    resume_position=report.resume_position[:200],
                )
            )
        self._recent_writes.append(written)  # committed: the batches in flight may count on it
        return counts, by_kind, rejections, odd, skips

    # ------------------------------------------------------------------ rows
    def _message_row(
        self,
        rec: MessageRecord,
        key: str,
        verdict: Verdict,
        fmt: str,
        report: ImportReport,
        now: dt.datetime,
    ) -> dict[str, Any]:
        lender_id, lender_name = verdict.lender_id, verdict.lender_name
        row: dict[str, Any] = {
            "dedupe_key": key,
            "sender": rec.sender[:200] if rec.sender else None,
            "recipient": self.recipient,
            "direction": rec.direction,
            "received_at": rec.received_at,
            "received_at_text": rec.received_at_text[:64] if rec.received_at_text else None,
            "timezone": rec.timezone or self.timezone,  # the zone its time was read in
            "text": rec.text,
            "source": fmt,
            "source_ref": rec.position[:200],
            "lender_id": lender_id[:200] if lender_id else None,
            "lender_name": lender_name[:200] if lender_name else None,
            "is_collection": verdict.is_collection,
            "authenticity": verdict.authenticity,
            "verdict": RawJSON(verdict.data),
            "import_run_id": report.run_id,
            "imported_at": now,
        }
        # hash what a read-back returns: times to the microsecond, in UTC
        if rec.received_at is not None:
            row["received_at"] = rec.received_at.astimezone(dt.UTC)
        row["item_sha256"] = item_sha256(message_content(row))
        return row

    def _call_row(
        self, rec: CallItem, key: str, fmt: str, report: ImportReport, now: dt.datetime
    ) -> dict[str, Any]:
        row: dict[str, Any] = {
            "dedupe_key": key,
            "number": rec.number[:200] if rec.number else None,
            "recipient": self.recipient,
            "call_type": rec.call_type,
            "started_at": rec.started_at.astimezone(dt.UTC) if rec.started_at else None,
            "duration_s": rec.duration_s,
            "source": fmt,
            "source_ref": rec.position[:200],
            "import_run_id": report.run_id,
            "imported_at": now,
        }
        row["item_sha256"] = item_sha256(call_content(row))
        return row

    def _attachment_row(
        self,
        att: AttachmentData,
        message_id: int,
        message_key: str,
        report: ImportReport,
        now: dt.datetime,
    ) -> dict[str, Any]:
        digest = self.store.put_attachment(att.data)  # before the commit: harmless if rolled back
        return {
            "dedupe_key": sha256_hex(f"{message_key}:{digest}".encode()),
            "sha256": digest,
            "message_id": message_id,
            "filename": att.filename[:400] if att.filename else None,
            "media_type": att.media_type[:100] if att.media_type else None,
            "size": len(att.data),
            "import_run_id": report.run_id,
            "imported_at": now,
        }


def _subsecond(t: dt.datetime | None) -> bool:
    """Whether `t` is known finer than the second (a time with no fraction may be a whole
    second's reading: CSV, pasted text; one in a thousand Android times too)."""
    return t is not None and t.microsecond != 0


def _time_reader(dialect: Any) -> Callable[[Any], dt.datetime | None]:
    """How a message's `received_at` reads back from plain SQL on `dialect` (SQLite returns
    text): the column type's own result processing (cached by SQLAlchemy), aware UTC."""
    proc = Message.__table__.c.received_at.type._cached_result_processor(dialect, None)
    return proc if proc is not None else _as_is


def _as_is(value: Any) -> Any:
    return value


GC_GEN0_THRESHOLD = 50_000
"""During an import: allocations between young-generation collections (Python's default is
700). An import allocates millions of short-lived, acyclic objects (records, rows, findings)
that reference counting frees; collecting every 700 allocations also walked what the batches
in flight hold, several percent of the CPU time of the writer and of each worker."""


@dataclass
class _CollectorChange:
    runs: int = 0
    """Imports running now."""
    before: tuple[int, int, int] = (700, 10, 10)
    """The thresholds before the first of them."""
    froze: bool = False
    """Whether the first of them froze what was loaded."""


_GC_LOCK = threading.Lock()
_GC_CHANGE = _CollectorChange()


@contextmanager
def fewer_collections() -> Iterator[None]:
    """Run a long import with a larger young-generation threshold, and with what is already
    loaded (analyzer, packs, registry) frozen out of the collector: full collections no longer
    walk it, and forked workers do not copy its pages by touching their reference counts.
    The collector's settings are process-wide: imports running at once in several threads
    (the web app) share one change, and the last to finish restores the caller's settings
    (a freeze the caller made is left alone)."""
    c = _GC_CHANGE
    with _GC_LOCK:
        if c.runs == 0:
            c.before = gc.get_threshold()
            c.froze = gc.get_freeze_count() == 0
            if c.froze:
                gc.freeze()
            gc.set_threshold(max(c.before[0], GC_GEN0_THRESHOLD), *c.before[1:])
        c.runs += 1
    try:
        yield
    finally:
        with _GC_LOCK:
            c.runs -= 1
            if c.runs == 0:
                gc.set_threshold(*c.before)
                if c.froze:
                    gc.unfreeze()


def _bulk_insert(conn: Connection, model: Any, rows: list[dict[str, Any]]) -> None:
    """Insert rows that all have the same keys. On SQLite one plain ``executemany`` with the
    columns' own bind processors (what `conn.execute(insert(...), rows)` does, without
    compiling parameters row by row: a third of the writer's time on a large import)."""
    table = model.__table__
    if conn.dialect.name != "sqlite":
        conn.execute(insert(table), rows)
        return
    cols = list(rows[0])
    procs = [table.c[c].type._cached_bind_processor(conn.dialect) for c in cols]
    procs = [
        _repeat_last(p) if p is not None and isinstance(table.c[c].type, _TIMES) else p
        for c, p in zip(cols, procs, strict=True)
    ]
    # The values in column order by one C call, then the few columns with a processor
    # (times, JSON, booleans) converted in place: half the cost of a per-column generator.
    get = operator.itemgetter(*cols)
    fix = [(i, p) for i, p in enumerate(procs) if p is not None]
    values: list[tuple[Any, ...]] = []
    for r in rows:
        v = list(get(r)) if len(cols) > 1 else [get(r)]
        for i, p in fix:
            v[i] = p(v[i])
        values.append(tuple(v))
    names = ", ".join(f'"{c}"' for c in cols)
    sql = f'INSERT INTO "{table.name}" ({names}) VALUES ({", ".join("?" * len(cols))})'
    conn.exec_driver_sql(sql, values)


_TIMES = (UTCDateTime, DateTime)


def _repeat_last(process: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """A bind processor that reuses its last result for the same object again: every row of
    a batch carries the one `imported_at`, formatted once instead of once per row."""
    last: list[Any] = [None, None]

    def repeat(value: Any) -> Any:
        if value is not last[0] or value is None:
            last[0], last[1] = value, process(value)
        return last[1]

    return repeat


def _reserve_ids(conn: Connection, model: Any, n: int) -> list[int]:
    """`n` new primary keys for `model`'s table, ascending, inside the caller's write
    transaction: from the table's sequence on PostgreSQL (safe with concurrent writers), else
    after the largest id (SQLite: the transaction holds the write lock from BEGIN IMMEDIATE)."""
    if n == 0:
        return []
    table = model.__table__
    if conn.dialect.name == "postgresql":
        rows = conn.execute(
            sql_text(
                "SELECT nextval(pg_get_serial_sequence(:t, 'id')) FROM generate_series(1, :n)"
            ),
            {"t": table.name, "n": n},
        )
        return sorted(int(r[0]) for r in rows)
    start = conn.execute(select(func.coalesce(func.max(table.c.id), 0))).scalar_one()
    return list(range(int(start) + 1, int(start) + n + 1))
