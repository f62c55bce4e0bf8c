"""JSONL batch I/O for `collectguard check --jsonl` (the contract of a check).

One JSON object per input line → one JSON object per output line, same order. A line that
cannot be analysed (invalid UTF-8, bad JSON, wrong field types, text too long) produces
`{"error": "...", "line": N}` in its place so the order holds; blank lines are skipped.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import IO, Any

from pydantic import ValidationError

from collectguard.analyze.analyzer import Analyzer
from collectguard.analyze.result import CheckInput
from collectguard.errors import InputError


@dataclass(slots=True)
class BatchStats:
    lines: int = 0
    ok: int = 0
    errors: int = 0


def parse_line(raw: bytes, lineno: int) -> CheckInput:
    """One input line → CheckInput, or InputError with a message for a person."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"line {lineno}: not valid UTF-8 at byte {exc.start}") from None
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"line {lineno}: not valid JSON: {exc.msg} at column {exc.colno}"
        ) from None
    if not isinstance(obj, dict):
        raise InputError(f"line {lineno}: expected a JSON object with a 'text' field")
    if not isinstance(obj.get("text"), str):
        raise InputError(f"line {lineno}: field 'text' must be a string")
    for key in ("sender", "received_at", "timezone", "jurisdiction"):
        if obj.get(key) is not None and not isinstance(obj[key], str):
            raise InputError(f"line {lineno}: field {key!r} must be a string or null")
    received = obj.get("received_at")
    if isinstance(received, str) and received.strip():
        value = received.strip().replace("Z", "+00:00")
        try:
            obj["received_at"] = (
                dt.date.fromisoformat(value)
                if len(value) <= 10
                else dt.datetime.fromisoformat(value)
            )
        except ValueError:
            raise InputError(f"line {lineno}: received_at {received!r} is not ISO-8601") from None
    else:
        obj["received_at"] = None
    try:
        return CheckInput(**obj)
    except ValidationError as exc:
        detail = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise InputError(f"line {lineno}: {detail}") from None


def run_batch(
    analyzer: Analyzer,
    source: Iterable[bytes],
    out: IO[str],
    *,
    stop_on_error: bool = False,
    include_findings: bool = True,
) -> BatchStats:
    stats = BatchStats()
    for lineno, raw in enumerate(source, start=1):
        if not raw.strip():
            continue
        stats.lines += 1
        record: dict[str, Any]
        try:
            message = parse_line(raw.rstrip(b"\r\n"), lineno)
            record = analyzer.check(message).to_contract()
            if not include_findings:
                record.pop("findings", None)
            stats.ok += 1
        except InputError as exc:
            stats.errors += 1
            if stop_on_error:
                raise
            record = {"error": str(exc), "line": lineno}
        except Exception as exc:  # a bug must not shift every later line: report it in place
            stats.errors += 1
            if stop_on_error:
                raise
            record = {"error": f"internal error: {type(exc).__name__}: {exc}", "line": lineno}
        out.write(json.dumps(record, ensure_ascii=False))
        out.write("\n")
    out.flush()
    return stats


def read_lines(stream: IO[bytes]) -> Iterator[bytes]:
    yield from stream
