"""Streaming readers of audit logs (CSV, JSONL, Parquet) with per-row validation.

Every input row ends up either audited or in the rejects file (JSONL: line, event_id, reason,
raw excerpt) — nothing is dropped silently, and `ReadStats.reconciled` checks
input rows = audited + rejected. The error budget bounds how many rejects a run tolerates
before it stops (`ErrorBudgetExceeded`). File-level problems (missing columns, unreadable
file) raise `AuditInputError` before any row is read.
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import pyarrow as pa  # type: ignore[import-untyped]

from collectguard.audit.schema import (
    COLUMNS,
    NORMALIZED_FIELDS,
    REQUIRED_COLUMNS,
    RowError,
    validate_row,
)

CHUNK = 100_000

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
            excerpt = (
                raw if isinstance(raw, str) else json.dumps(raw, ensure_ascii=False, default=str)
            )
            rec = {"line": line, "event_id": event_id, "reason": reason, "raw": excerpt[:500]}
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


def _rows_csv(
    path: Path, fallback: str | None, stats: ReadStats
) -> Iterator[tuple[int, dict[str, Any] | None, str | None, Any]]:
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
        index = [(c, header.index(c)) for c in COLUMNS if c in header]
        width = len(header)
        last = reader.line_num
        for rec in reader:
            start, last = last + 1, reader.line_num
            if not rec:
                continue
            reason = next((bad[n] for n in range(start, last + 1) if n in bad), None)
            if reason is None and len(rec) != width:
                reason = f"columns: expected {width} fields, got {len(rec)}"
            if reason is not None:
                yield start, None, reason, ",".join(rec)
                continue
            yield start, {c: (rec[i] if rec[i] != "" else None) for c, i in index}, None, rec


def _rows_jsonl(
    path: Path, fallback: str | None, stats: ReadStats
) -> Iterator[tuple[int, dict[str, Any] | None, str | None, Any]]:
    bad: dict[int, str] = {}
    with path.open("rb") as fh:
        for n, line in enumerate(_decode_lines(fh, fallback, bad, stats), start=1):
            if not line.strip():
                continue
            if n in bad:
                yield n, None, bad[n], line
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                yield n, None, f"json: {exc.msg} at column {exc.colno}", line
                continue
            if not isinstance(obj, dict):
                yield n, None, "json: a line must be one JSON object", line
                continue
            missing = [c for c in REQUIRED_COLUMNS if c not in obj]
            if missing:
                yield n, None, f"columns: missing {', '.join(missing)}", line
                continue
            yield n, obj, None, line


def _rows_parquet(
    path: Path, stats: ReadStats
) -> Iterator[tuple[int, dict[str, Any] | None, str | None, Any]]:
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
    cols = [c for c in COLUMNS if c in names]
    n = 0
    for batch in pf.iter_batches(batch_size=65_536, columns=cols):
        for row in batch.to_pylist():
            n += 1
            yield n, row, None, row


def read_events(
    path: Path | str,
    *,
    fmt: str | None = None,
    rejects: Path | str | None = None,
    error_budget: int | None = None,
    fallback_encoding: str | None = None,
    strict_order: bool = False,
) -> tuple[pa.Table, ReadStats]:
    """Read and validate a log; return the audited events (`EVENT_SCHEMA`) and the counts.

    Duplicate event ids (the later row is rejected, naming the first line), rows earlier
    than the row before them (counted, and rejected only with `strict_order`; the engines
    sort), unknown time zones, missing fields and undecodable bytes become per-row rejects.
    """
    path = Path(path)
    if not path.is_file():
        raise AuditInputError(f"{path}: no such file")
    fmt = fmt or detect_format(path)
    stats = ReadStats(str(path), fmt)
    if fmt == "csv":
        rows = _rows_csv(path, fallback_encoding, stats)
    elif fmt == "jsonl":
        rows = _rows_jsonl(path, fallback_encoding, stats)
    elif fmt == "parquet":
        rows = _rows_parquet(path, stats)
    else:
        raise AuditInputError(f"unknown format {fmt!r}; use csv, jsonl or parquet")
    rej = _Rejects(Path(rejects) if rejects else None, error_budget, stats)
    seen: dict[str, int] = {}
    batches: list[pa.RecordBatch] = []
    chunk: list[tuple[Any, ...]] = []
    last_ts: int | None = None
    last_line = 0
    try:
        for line, row, reason, raw in rows:
            stats.input_rows += 1
            event_id = row.get("event_id") if row is not None else None
            if row is None:
                rej.add(line, reason or "unreadable", raw)
                continue
            try:
                norm = validate_row(row)
            except RowError as exc:
                rej.add(line, str(exc), raw, str(event_id) if event_id is not None else None)
                continue
            first = seen.get(norm[0])
            if first is not None:
                stats.duplicates += 1
                rej.add(
                    line,
                    f"duplicate: event_id {norm[0]!r} first seen at line {first}",
                    raw,
                    norm[0],
                )
                continue
            if last_ts is not None and norm[2] < last_ts:
                stats.out_of_order += 1
                if strict_order:
                    rej.add(
                        line,
                        f"order: occurred_at is earlier than the row at line {last_line} "
                        "(sort the log, or audit without --strict-order)",
                        raw,
                        norm[0],
                    )
                    continue
            else:
                last_ts, last_line = norm[2], line
            seen[norm[0]] = line
            chunk.append((*norm, line))
            stats.audited += 1
            if len(chunk) >= CHUNK:
                batches.append(_batch(chunk))
                chunk = []
    finally:
        rej.close()
    if chunk or not batches:
        batches.append(_batch(chunk))
    return pa.Table.from_batches(batches, schema=EVENT_SCHEMA), stats


def _batch(rows: list[tuple[Any, ...]]) -> pa.RecordBatch:
    cols: list[Any] = list(zip(*rows, strict=True)) if rows else [[] for _ in EVENT_SCHEMA.names]
    return pa.RecordBatch.from_arrays(
        [pa.array(c, type=f.type) for c, f in zip(cols, EVENT_SCHEMA, strict=True)],
        schema=EVENT_SCHEMA,
    )
