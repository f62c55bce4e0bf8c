"""Streaming readers of audit logs (CSV, JSONL, Parquet) with per-row validation.

Every input row ends up either audited or in the rejects file (JSONL: line, event_id, reason,
raw excerpt) — nothing is dropped silently, and `ReadStats.reconciled` checks
input rows = audited + rejected. The error budget bounds how many rejects a run tolerates
before it stops (`ErrorBudgetExceeded`). File-level problems (missing columns, unreadable
file) raise `AuditInputError` before any row is read.

Memory is bounded: rows are validated in chunks of `CHUNK` and appended to an `EventStore`
(a Parquet file in a work folder, queried by DuckDB, which spills under its memory limit).
Duplicate event ids are found exactly, chunk by chunk, by looking the chunk's ids up in
DuckDB — no set of every id is held in Python.
"""

from __future__ import annotations

import csv
import json
import multiprocessing as mp
import re
import shutil
import sys
import tempfile
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import duckdb
import numpy as np
import pyarrow as pa  # type: ignore[import-untyped]

from collectguard.audit.schema import (
    COLUMNS,
    NORMALIZED_FIELDS,
    REQUIRED_COLUMNS,
    RowError,
    validate_row,
)

CHUNK = 32_768

EVENT_SCHEMA = pa.schema(
    [
        ("event_id", pa.string()),
        ("occurred_at", pa.string()),
        ("ts", pa.int64()),
        ("local_day", pa.int32()),
        ("local_minute", pa.int32()),
        ("local_weekday", pa.int32()),
        ("debtor_id", pa.string()),
        ("debt_id", pa.string()),
        ("role", pa.string()),
        ("phone_key", pa.string()),
        ("tz", pa.string()),
        ("channel", pa.string()),
        ("direction", pa.string()),
        ("outcome", pa.string()),
        ("agent_id", pa.string()),
        ("team", pa.string()),
        ("agency", pa.string()),
        ("jurisdiction", pa.string()),
        ("text", pa.string()),
        ("state", pa.string()),
        ("night_consent", pa.bool_()),
        ("pref_start", pa.int32()),
        ("pref_end", pa.int32()),
        ("lender_id", pa.string()),
        ("product", pa.string()),
        ("responds_to_request", pa.bool_()),
        ("consent_ts", pa.int64()),
        ("consent_day", pa.int32()),
        ("consent_days", pa.int32()),
        ("line", pa.int64()),
    ]
)
assert tuple(EVENT_SCHEMA.names[:-1]) == NORMALIZED_FIELDS


class AuditInputError(Exception):
    """The log as a whole cannot be read (missing columns, unknown format, unreadable)."""


class ErrorBudgetExceeded(AuditInputError):
    """More rows were rejected than the error budget allows; the run stops."""


@dataclass
class ReadStats:
    path: str
    format: str
    input_rows: int = 0
    audited: int = 0
    rejected: int = 0
    duplicates: int = 0
    out_of_order: int = 0
    fallback_decoded: int = 0
    ignored_columns: list[str] = field(default_factory=list)
    reasons: dict[str, int] = field(default_factory=dict)

    @property
    def reconciled(self) -> bool:
        return self.input_rows == self.audited + self.rejected

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "format": self.format,
            "input_rows": self.input_rows,
            "audited": self.audited,
            "rejected": self.rejected,
            "reconciled": self.reconciled,
            "duplicates": self.duplicates,
            "out_of_order": self.out_of_order,
            "fallback_decoded": self.fallback_decoded,
            "ignored_columns": self.ignored_columns,
            "reject_reasons": dict(sorted(self.reasons.items(), key=lambda kv: -kv[1])),
        }


def detect_format(path: Path) -> str:
    name = path.name.lower()
    for ext, fmt in (
        (".parquet", "parquet"),
        (".pq", "parquet"),
        (".jsonl", "jsonl"),
        (".ndjson", "jsonl"),
        (".csv", "csv"),
    ):
        if name.endswith(ext):
            return fmt
    raise AuditInputError(
        f"{path}: unknown log format; name it .csv, .jsonl or .parquet (or pass the format)"
    )


class _Rejects:
    def __init__(self, path: Path | None, budget: int | None, stats: ReadStats) -> None:
        self.fh: IO[str] | None = path.open("w", encoding="utf-8") if path else None
        self.budget = budget
        self.stats = stats

    def add(self, line: int, reason: str, raw: Any, event_id: str | None = None) -> None:
        self.stats.rejected += 1
        key = reason.split(":", 1)[0]
        self.stats.reasons[key] = self.stats.reasons.get(key, 0) + 1
        if self.fh is not None:
            rec = {"line": line, "event_id": event_id, "reason": reason, "raw": _excerpt(raw)}
            self.fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
        if self.budget is not None and self.stats.rejected > self.budget:
            self.close()
            raise ErrorBudgetExceeded(
                f"{self.stats.rejected} rows rejected, more than the error budget "
                f"({self.budget}); last: line {line}: {reason}"
            )

    def close(self) -> None:
        if self.fh is not None:
            self.fh.close()
            self.fh = None


def _decode_lines(
    fh: IO[bytes], fallback: str | None, bad: dict[int, str], stats: ReadStats
) -> Iterator[str]:
    """Decode line by line: UTF-8 (BOM stripped), else `fallback`; an undecodable line is
    yielded with replacement characters and its number recorded in `bad` with the reason."""
    for n, raw in enumerate(fh, start=1):
        if n == 1 and raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]
        try:
            yield raw.decode("utf-8")
            continue
        except UnicodeDecodeError as exc:
            err = exc
        if fallback:
            try:
                text = raw.decode(fallback)
                stats.fallback_decoded += 1
                yield text
                continue
            except UnicodeDecodeError:
                pass
        hint = ""
        if fallback is None:
            try:
                raw.decode("gb18030")
                hint = "; it decodes as GB18030 — re-export as UTF-8 or pass --fallback-encoding"
            except UnicodeDecodeError:
                pass
        bad[n] = (
            f"encoding: line {n} is not valid UTF-8 (byte 0x{raw[err.start]:02x} at offset "
            f"{err.start}){hint}"
        )
        yield raw.decode("utf-8", errors="replace")


Item = tuple[int, Any, str | None, Any]
"""(line, payload, reason, raw): `payload` is the row still to be turned into a dict and
validated (CSV: the list of fields; JSONL: the decoded line; Parquet: the row dict), or None
with `reason` when the row is already rejected; `raw` is what a reject shows."""


@dataclass(frozen=True)
class _Shape:
    """How a chunk's payloads become rows (sent to the validating process)."""

    fmt: str
    index: tuple[tuple[str, int], ...] = ()  # CSV: (column, position)


def _rows_csv(
    path: Path, fallback: str | None, stats: ReadStats, shape: list[_Shape]
) -> Iterator[Item]:
    bad: dict[int, str] = {}
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
    with path.open("rb") as fh:
        reader = csv.reader(_decode_lines(fh, fallback, bad, stats))
        try:
            header = [h.strip() for h in next(reader)]
        except StopIteration:
            return
        missing = [c for c in REQUIRED_COLUMNS if c not in header]
        if missing:
            raise AuditInputError(f"{path}: missing columns: {', '.join(missing)}")
        stats.ignored_columns = [h for h in header if h not in COLUMNS]
        shape.append(_Shape("csv", tuple((c, header.index(c)) for c in COLUMNS if c in header)))
        width = len(header)
        last = reader.line_num
        for rec in reader:
            start, last = last + 1, reader.line_num
            if not rec:
                continue
            reason = (
                next((bad[n] for n in range(start, last + 1) if n in bad), None) if bad else None
            )
            if reason is None and len(rec) != width:
                reason = f"columns: expected {width} fields, got {len(rec)}"
            if reason is not None:
                yield start, None, reason, ",".join(rec)
                continue
            yield start, rec, None, rec


def _rows_jsonl(
    path: Path, fallback: str | None, stats: ReadStats, shape: list[_Shape]
) -> Iterator[Item]:
    bad: dict[int, str] = {}
    shape.append(_Shape("jsonl"))
    with path.open("rb") as fh:
        for n, line in enumerate(_decode_lines(fh, fallback, bad, stats), start=1):
            if not line.strip():
                continue
            if n in bad:
                yield n, None, bad[n], line
                continue
            yield n, line, None, line


def _rows_parquet(path: Path, stats: ReadStats, shape: list[_Shape]) -> Iterator[Item]:
    import pyarrow.parquet as pq  # type: ignore[import-untyped]

    try:
        pf = pq.ParquetFile(path)
    except (OSError, pa.ArrowException) as exc:
        raise AuditInputError(f"{path}: not a readable Parquet file ({exc})") from None
    names = pf.schema_arrow.names
    missing = [c for c in REQUIRED_COLUMNS if c not in names]
    if missing:
        raise AuditInputError(f"{path}: missing columns: {', '.join(missing)}")
    stats.ignored_columns = [c for c in names if c not in COLUMNS]
    shape.append(_Shape("parquet"))
    cols = [c for c in COLUMNS if c in names]
    n = 0
    for batch in pf.iter_batches(batch_size=65_536, columns=cols):
        for row in batch.to_pylist():
            n += 1
            yield n, row, None, row


def _excerpt(raw: Any) -> str:
    text = raw if isinstance(raw, str) else json.dumps(raw, ensure_ascii=False, default=str)
    return text[:500]


def _row(shape: _Shape, payload: Any) -> tuple[dict[str, Any] | None, str | None]:
    """A payload as a row dict, or the reason it is not one."""
    if shape.fmt == "csv":
        return {c: (payload[i] if payload[i] != "" else None) for c, i in shape.index}, None
    if shape.fmt == "jsonl":
        try:
            obj = json.loads(payload)
        except json.JSONDecodeError as exc:
            return None, f"json: {exc.msg} at column {exc.colno}"
        if not isinstance(obj, dict):
            return None, "json: a line must be one JSON object"
        missing = [c for c in REQUIRED_COLUMNS if c not in obj]
        if missing:
            return None, f"columns: missing {', '.join(missing)}"
        return obj, None
    return payload, None


Rejected = tuple[int, str, str, str | None]
"""(line, reason, raw excerpt, event_id) of a row rejected while validating."""


def _validate_chunk(
    shape: _Shape, items: list[Item]
) -> tuple[pa.RecordBatch, list[Rejected], list[int]]:
    """Validate a chunk (in this process or a worker): the valid rows as a batch of
    `EVENT_SCHEMA` (with `line`), the rejected ones, and the valid rows' positions."""
    rows: list[tuple[Any, ...]] = []
    rejected: list[Rejected] = []
    where: list[int] = []
    for pos, (line, payload, reason, raw) in enumerate(items):
        if reason is not None:
            rejected.append((line, reason, _excerpt(raw), None))
            continue
        row, reason = _row(shape, payload)
        if row is None:
            rejected.append((line, reason or "unreadable", _excerpt(raw), None))
            continue
        try:
            rows.append((*validate_row(row), line))
            where.append(pos)
        except RowError as exc:
            event_id = row.get("event_id")
            eid = str(event_id) if event_id is not None else None
            rejected.append((line, str(exc), _excerpt(raw), eid))
    return _batch(rows), rejected, where


class _SeenHashes:
    """64-bit hashes of the event ids stored so far, in a few sorted runs that merge when
    one reaches the size of the one before (8 bytes an id; lookups vectorised). A hit is only
    a candidate: the exact answer comes from DuckDB, for those ids alone."""

    def __init__(self) -> None:
        self.runs: list[np.ndarray[Any, Any]] = []

    @staticmethod
    def of(ids: list[str]) -> np.ndarray[Any, Any]:
        return np.fromiter((hash(i) for i in ids), dtype=np.int64, count=len(ids))

    def contains(self, h: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        order = np.argsort(h)
        keys = h[order]  # sorted keys: searchsorted walks each run once, cache-friendly
        found = np.zeros(len(h), dtype=bool)
        for run in self.runs:
            at = np.minimum(np.searchsorted(run, keys), len(run) - 1)
            found |= run[at] == keys
        hit = np.empty_like(found)
        hit[order] = found
        return hit

    def add(self, h: np.ndarray[Any, Any]) -> None:
        run = np.sort(h)
        while self.runs and len(self.runs[-1]) <= 2 * len(run):
            run = np.sort(np.concatenate([self.runs.pop(), run]), kind="stable")
        self.runs.append(run)


class EventStore:
    """Validated events (`EVENT_SCHEMA`) in a Parquet file, and a DuckDB connection that sees
    them as the view `events` once `finish()` is called.

    The file and DuckDB's spill folder live in a fresh temporary folder under `workdir`
    (default: the system temporary folder); `memory_limit` (e.g. "2GB") bounds DuckDB, which
    spills beyond it — what lets a log far larger than memory be audited. While reading, only
    (event_id, line) go into DuckDB, for the exact duplicate lookups. `close()` removes the
    folder. The Spark engine reads the same Parquet file.
    """

    def __init__(
        self,
        workdir: Path | str | None = None,
        *,
        memory_limit: str | None = None,
        threads: int | None = None,
    ) -> None:
        import pyarrow.parquet as pq

        limit = _size(memory_limit) if memory_limit else None  # checked before any file
        if workdir is not None:
            Path(workdir).mkdir(parents=True, exist_ok=True)
        self.dir: Path | None = Path(tempfile.mkdtemp(prefix="cg-audit-", dir=workdir))
        self.path = self.dir / "events.parquet"
        self.con = duckdb.connect()
        self._writer: Any = None
        try:
            spill = (self.dir / "spill").as_posix().replace("'", "''")
            self.con.execute(f"SET temp_directory = '{spill}'")
            if limit:
                self.con.execute(f"SET memory_limit = '{limit}'")
            if threads:
                self.con.execute(f"SET threads TO {int(threads)}")
            self.con.execute("SET preserve_insertion_order = false")
            self.con.execute("CREATE TABLE ids (event_id VARCHAR, line BIGINT)")
            self._writer = pq.ParquetWriter(self.path, EVENT_SCHEMA)
        except BaseException:
            self.close()
            raise
        self._seen = _SeenHashes()
        self.rows = 0

    @classmethod
    def from_arrow(cls, table: pa.Table, **kw: Any) -> EventStore:
        store = cls(**kw)
        for batch in table.cast(EVENT_SCHEMA).to_batches(max_chunksize=CHUNK):
            store.append(batch)
        store.finish()
        return store

    def append(self, batch: pa.RecordBatch) -> None:
        if batch.num_rows == 0:
            return
        if self._writer is None:
            raise RuntimeError("the event store is finished; it takes no more rows")
        self._writer.write_batch(batch)
        self._seen.add(_SeenHashes.of(batch.column("event_id").to_pylist()))
        self.con.register("_ids", pa.Table.from_batches([batch.select(["event_id", "line"])]))
        self.con.execute("INSERT INTO ids SELECT * FROM _ids")
        self.con.unregister("_ids")
        self.rows += batch.num_rows

    def first_lines(self, ids: list[str]) -> dict[str, int]:
        """Of `ids`, those already stored, with the line where each was first seen."""
        if not ids or not self.rows:
            return {}
        hit = self._seen.contains(_SeenHashes.of(ids))
        if not hit.any():
            return {}
        probe = [ids[i] for i in np.flatnonzero(hit)]
        self.con.register("_probe", pa.table({"event_id": pa.array(probe, type=pa.string())}))
        found = self.con.execute(
            "SELECT i.event_id, min(i.line) FROM ids i "
            "WHERE i.event_id IN (SELECT event_id FROM _probe) GROUP BY i.event_id"
        ).fetchall()
        self.con.unregister("_probe")
        return {str(k): int(v) for k, v in found}

    def finish(self) -> None:
        """No more rows: close the file and let DuckDB see it as `events`."""
        if self._writer is None:
            return
        self._writer.close()
        self._writer = None
        self.con.execute("DROP TABLE ids")
        self._seen = _SeenHashes()
        target = self.path.as_posix().replace("'", "''")
        self.con.execute(f"CREATE VIEW events AS SELECT * FROM read_parquet('{target}')")

    def arrow(self) -> pa.Table:
        """All events, in the order they were read."""
        self.finish()
        import pyarrow.parquet as pq

        return pq.read_table(self.path, schema=EVENT_SCHEMA)

    def to_parquet(self) -> Path:
        """The events as one Parquet file (for the Spark engine)."""
        self.finish()
        return self.path

    def close(self) -> None:
        try:
            if self._writer is not None:
                self._writer.close()
                self._writer = None
            self.con.close()
        finally:
            if self.dir is not None:
                shutil.rmtree(self.dir, ignore_errors=True)
                self.dir = None

    def __enter__(self) -> EventStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]i?B|B)?\s*$", re.IGNORECASE)


def _size(value: str) -> str:
    """A memory size such as "2GB", "512MB", "1.5GiB" (checked: it is put in a SET)."""
    m = _SIZE.match(value)
    if m is None:
        raise AuditInputError(f"memory limit {value!r}: write e.g. 2GB or 512MB")
    return f"{m.group(1)}{m.group(2) or 'B'}"


def read_events(
    path: Path | str,
    *,
    fmt: str | None = None,
    rejects: Path | str | None = None,
    error_budget: int | None = None,
    fallback_encoding: str | None = None,
    strict_order: bool = False,
    workers: int = 1,
) -> tuple[pa.Table, ReadStats]:
    """Read and validate a log; return the audited events (`EVENT_SCHEMA`) and the counts.

    Holds the whole log in memory: for large logs use `load_events` into an on-disk store.
    """
    with EventStore() as store:
        stats = load_events(
            path,
            store,
            fmt=fmt,
            rejects=rejects,
            error_budget=error_budget,
            fallback_encoding=fallback_encoding,
            strict_order=strict_order,
            workers=workers,
        )
        return store.arrow(), stats


def load_events(
    path: Path | str,
    store: EventStore,
    *,
    fmt: str | None = None,
    rejects: Path | str | None = None,
    error_budget: int | None = None,
    fallback_encoding: str | None = None,
    strict_order: bool = False,
    workers: int = 1,
    progress: Callable[[int], None] | None = None,
) -> ReadStats:
    """Read and validate a log into `store`; return the counts. `progress` is called with
    the number of rows read so far after each chunk (every `CHUNK` rows).

    Duplicate event ids (the later row is rejected, naming the first line), rows earlier
    than the row before them (counted, and rejected only with `strict_order`; the engines
    sort), unknown time zones, missing fields and undecodable bytes become per-row rejects,
    written in line order. `workers` > 1 validates chunks in that many processes while this
    one parses the file and decides duplicates, order and rejects — the same answer.
    """
    path = Path(path)
    if not path.is_file():
        raise AuditInputError(f"{path}: no such file")
    fmt = fmt or detect_format(path)
    stats = ReadStats(str(path), fmt)
    shape: list[_Shape] = []
    if fmt == "csv":
        items = _rows_csv(path, fallback_encoding, stats, shape)
    elif fmt == "jsonl":
        items = _rows_jsonl(path, fallback_encoding, stats, shape)
    elif fmt == "parquet":
        items = _rows_parquet(path, stats, shape)
    else:
        raise AuditInputError(f"unknown format {fmt!r}; use csv, jsonl or parquet")
    rej = _Rejects(Path(rejects) if rejects else None, error_budget, stats)
    order = _Order(strict_order)
    pool: ProcessPoolExecutor | None = None
    try:
        if workers > 1:
            pool = ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn"))
        pending: deque[tuple[list[Item], Any]] = deque()
        for chunk in _chunks(items, stats):
            if progress is not None:
                progress(stats.input_rows)
            if pool is None:
                _settle(chunk, _validate_chunk(shape[0], chunk), store, rej, stats, order)
                continue
            pending.append((chunk, pool.submit(_validate_chunk, shape[0], chunk)))
            if len(pending) > workers + 1:  # bounded: a few chunks in flight
                done, fut = pending.popleft()
                _settle(done, fut.result(), store, rej, stats, order)
        while pending:
            done, fut = pending.popleft()
            _settle(done, fut.result(), store, rej, stats, order)
    finally:
        rej.close()
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    store.finish()
    return stats


def _chunks(items: Iterator[Item], stats: ReadStats) -> Iterator[list[Item]]:
    chunk: list[Item] = []
    for item in items:
        stats.input_rows += 1
        chunk.append(item)
        if len(chunk) >= CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


@dataclass
class _Order:
    strict: bool
    last_ts: int | None = None
    last_line: int = 0


def _settle(
    chunk: list[Item],
    checked: tuple[pa.RecordBatch, list[Rejected], list[int]],
    store: EventStore,
    rej: _Rejects,
    stats: ReadStats,
    order: _Order,
) -> None:
    """Decide a validated chunk in line order (rejects, duplicates, order); store its rows."""
    batch, rejected, where = checked
    ids: list[str] = batch.column("event_id").to_pylist()
    ts: list[int] = batch.column("ts").to_pylist()
    lines: list[int] = batch.column("line").to_pylist()
    prior = store.first_lines(ids)
    seen: dict[str, int] = {}
    keep = [False] * len(ids)
    r = 0
    for i, event_id in enumerate(ids):
        line = lines[i]
        while r < len(rejected) and rejected[r][0] < line:
            rej.add(*rejected[r])
            r += 1
        first = prior.get(event_id) or seen.get(event_id)
        if first is not None:
            stats.duplicates += 1
            raw = chunk[where[i]][3]
            rej.add(
                line, f"duplicate: event_id {event_id!r} first seen at line {first}", raw, event_id
            )
            continue
        if order.last_ts is not None and ts[i] < order.last_ts:
            stats.out_of_order += 1
            if order.strict:
                rej.add(
                    line,
                    f"order: occurred_at is earlier than the row at line {order.last_line} "
                    "(sort the log, or audit without --strict-order)",
                    chunk[where[i]][3],
                    event_id,
                )
                continue
        else:
            order.last_ts, order.last_line = ts[i], line
        seen[event_id] = line
        keep[i] = True
        stats.audited += 1
    for item in rejected[r:]:
        rej.add(*item)
    if all(keep):
        store.append(batch)
    elif any(keep):
        store.append(batch.filter(pa.array(keep)))


def _batch(rows: list[tuple[Any, ...]]) -> pa.RecordBatch:
    cols: list[Any] = list(zip(*rows, strict=True)) if rows else [[] for _ in EVENT_SCHEMA.names]
    return pa.RecordBatch.from_arrays(
        [pa.array(c, type=f.type) for c, f in zip(cols, EVENT_SCHEMA, strict=True)],
        schema=EVENT_SCHEMA,
    )
