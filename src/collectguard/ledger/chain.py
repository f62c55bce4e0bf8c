"""The pure hash chain: canonical encoding, entry hashing and verification.

Each entry commits to its stream, position, kind, the SHA-256 of its payload, the time it was
recorded and the hash of the entry before it. Changing, removing, inserting or swapping any
entry therefore breaks the chain at a place `verify_chain` names. No I/O here: the stores
(`collectguard.ledger.store`) persist entries, the evidence locker and the gateway use them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import IO, Any, Literal

import pydantic_core

GENESIS = "0" * 64
"""`prev_hash` of the first entry of every stream."""

Problem = Literal["edited", "deleted", "inserted", "reordered", "broken_link"]


def canonical_json(obj: Any) -> bytes:
    """Sorted keys, no insignificant spaces, UTF-8. Non-JSON types (datetimes…) are refused
    so a payload hashes the same on every machine."""
    if type(obj) is dict:
        # The hot case (dedupe keys, item contents, entry headers, decision-log payloads):
        # plain JSON (str keys; str / bool / None / small-int leaves in dicts and lists) is
        # key-sorted here and written by pydantic-core, the same bytes as `json.dumps` below
        # (property-tested), two to three times as fast.
        try:
            return pydantic_core.to_json(_sorted_plain(obj))
        except _NotPlain:
            pass  # floats, tuples, other types: the reference encoder decides
        except pydantic_core.PydanticSerializationError:
            pass  # e.g. a lone surrogate: let json.dumps raise its own error

    def refuse(o: object) -> object:
        raise TypeError(f"{type(o).__name__} is not JSON: convert it first (ISO text for times)")

    return json.dumps(
        obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=refuse
    ).encode("utf-8")


_PLAIN_TYPES = frozenset({str, bool, type(None)})
_SAFE_INT = 2**53


class _NotPlain(Exception):
    """A value `_sorted_plain` leaves to the reference encoder."""


def _sorted_plain(obj: Any) -> Any:
    """A copy of `obj` with every dict's keys in sorted order; raises `_NotPlain` for anything
    but str-keyed dicts, lists, str, bool, None and ints with |i| < 2**53."""
    t = type(obj)
    if t is dict:
        out = {}
        # keys of mixed types raise TypeError here, as they do in json.dumps(sort_keys=True)
        for k in sorted(obj):
            if type(k) is not str:
                raise _NotPlain
            v = obj[k]
            tv = type(v)  # leaves inline: most values are, and a call per value costs
            if tv in _PLAIN_TYPES or (tv is int and -_SAFE_INT < v < _SAFE_INT):
                out[k] = v
            else:
                out[k] = _sorted_plain(v)
        return out
    if t is list:
        return [_sorted_plain(v) for v in obj]
    if t in _PLAIN_TYPES or (t is int and -_SAFE_INT < obj < _SAFE_INT):
        return obj
    raise _NotPlain


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_stream(fp: IO[bytes], block: int = 1 << 20) -> str:
    """SHA-256 (hex) of everything left in `fp`, read `block` bytes at a time."""
    h = hashlib.sha256()
    for chunk in iter(lambda: fp.read(block), b""):
        h.update(chunk)
    return h.hexdigest()


@dataclass(frozen=True)
class LedgerEntry:
    stream: str
    seq: int
    kind: str
    payload_sha256: str
    prev_hash: str
    entry_hash: str
    recorded_at: str
    payload: dict[str, Any] | None = None

    def expected_hash(self) -> str:
        return _entry_hash(
            self.stream, self.seq, self.kind, self.payload_sha256, self.prev_hash, self.recorded_at
        )


def _entry_hash(
    stream: str, seq: int, kind: str, payload_sha256: str, prev_hash: str, recorded_at: str
) -> str:
    return sha256_hex(
        canonical_json(
            {
                "stream": stream,
                "seq": seq,
                "kind": kind,
                "payload_sha256": payload_sha256,
                "prev_hash": prev_hash,
                "recorded_at": recorded_at,
            }
        )
    )


def make_entry(
    stream: str,
    prev: LedgerEntry | None,
    kind: str,
    payload: dict[str, Any],
    recorded_at: dt.datetime | None = None,
) -> LedgerEntry:
    """The entry that follows `prev` (None: the first of the stream)."""
    if prev is not None and prev.stream != stream:
        raise ValueError(f"previous entry belongs to stream {prev.stream!r}, not {stream!r}")
    link = None if prev is None else (prev.seq, prev.entry_hash)
    return next_entry(stream, link, kind, payload, recorded_stamp(recorded_at))


def recorded_stamp(recorded_at: dt.datetime | None = None) -> str:
    """`recorded_at` as stored and hashed: UTC ISO-8601 with microseconds (default: now)."""
    at = recorded_at or dt.datetime.now(dt.UTC)
    if at.tzinfo is None:
        raise ValueError("recorded_at must carry a time zone")
    return at.astimezone(dt.UTC).isoformat(timespec="microseconds")


def next_entry(
    stream: str,
    link: tuple[int, str] | None,
    kind: str,
    payload: dict[str, Any],
    stamp: str,
    *,
    payload_sha256: str | None = None,
) -> LedgerEntry:
    """The entry after the one at `link` = (seq, entry_hash) (None: the first of the stream),
    recorded at `stamp` (see `recorded_stamp`). Same hashes as `make_entry`; for stores that
    read only the head's position and hash. `payload_sha256`: the payload's digest when the
    caller already hashed its canonical JSON."""
    seq = 1 if link is None else link[0] + 1
    prev_hash = GENESIS if link is None else link[1]
    digest = payload_sha256 or sha256_hex(canonical_json(payload))
    return LedgerEntry(
        stream=stream,
        seq=seq,
        kind=kind,
        payload_sha256=digest,
        prev_hash=prev_hash,
        entry_hash=_entry_hash(stream, seq, kind, digest, prev_hash, stamp),
        recorded_at=stamp,
        payload=payload,
    )


PROBLEM_LABELS: dict[str, str] = {
    "edited": "被修改",
    "deleted": "被删除",
    "inserted": "被插入",
    "reordered": "顺序被调换",
    "broken_link": "链接断开",
}
"""Each problem kind in zh-CN, shown before the English word."""


@dataclass(frozen=True)
class ChainProblem:
    seq: int
    problem: Problem
    detail: str

    def describe(self) -> str:
        return f"#{self.seq}: {PROBLEM_LABELS[self.problem]} / {self.problem} — {self.detail}"


@dataclass
class ChainReport:
    ok: bool = True
    checked: int = 0
    head: str = GENESIS
    problems: list[ChainProblem] = field(default_factory=list)
    after_head: int = 0
    """Entries after a recorded head that was found in the chain (appended since)."""

    def describe(self) -> str:
        if self.ok:
            since = (
                f"; 记录的链头之后新增 {self.after_head} 条 / {self.after_head} entries added "
                "after the recorded head"
                if self.after_head
                else ""
            )
            return (
                f"账本链完整 / chain intact: {self.checked} entries, head {self.head[:16]}…{since}"
            )
        lines = [
            f"账本链被改动 / chain tampered: {len(self.problems)} problem(s) in "
            f"{self.checked} entries"
        ]
        lines += [f"  {p.describe()}" for p in self.problems]
        return "\n".join(lines)


def verify_chain(
    entries: Iterable[LedgerEntry], *, expected_head: str | None = None
) -> ChainReport:
    """Walk entries in stored order and name every break.

    - ``edited``: the entry's own hash or its payload's hash no longer matches its content;
    - ``deleted``: a sequence number is missing (reported at the first missing position);
    - ``inserted``: an entry whose position is already taken, or that links to nothing;
    - ``reordered``: sequence numbers go backwards;
    - ``broken_link``: an entry does not link to the one before it for another reason.

    `expected_head` (a head hash saved elsewhere, e.g. in an exported bundle) also catches
    entries removed from the end: it must be in the chain. Entries appended after it are
    normal growth and counted in `after_head`, not reported as problems.
    """
    report = ChainReport()
    prev: LedgerEntry | None = None
    seen: dict[int, str] = {}
    for e in entries:
        report.checked += 1
        if e.expected_hash() != e.entry_hash:
            report.problems.append(ChainProblem(e.seq, "edited", "entry hash does not match"))
        if e.payload is not None and sha256_hex(canonical_json(e.payload)) != e.payload_sha256:
            report.problems.append(
                ChainProblem(e.seq, "edited", "payload does not match its recorded SHA-256")
            )
        if e.seq in seen:
            report.problems.append(
                ChainProblem(e.seq, "inserted", f"a second entry claims position {e.seq}")
            )
        elif prev is None:
            if e.seq != 1:
                report.problems.append(
                    ChainProblem(1, "deleted", f"entries 1…{e.seq - 1} are missing")
                )
            elif e.prev_hash != GENESIS:
                report.problems.append(
                    ChainProblem(e.seq, "broken_link", "first entry does not start the chain")
                )
        elif e.seq < prev.seq:
            report.problems.append(
                ChainProblem(e.seq, "reordered", f"stored after entry {prev.seq}")
            )
        elif e.seq > prev.seq + 1:
            report.problems.append(
                ChainProblem(
                    prev.seq + 1,
                    "deleted",
                    f"entries {prev.seq + 1}…{e.seq - 1} are missing (next is {e.seq})",
                )
            )
        elif e.prev_hash != prev.entry_hash:
            known = e.prev_hash in seen.values()
            report.problems.append(
                ChainProblem(
                    e.seq,
                    "reordered" if known else "inserted",
                    "links to an earlier entry, not its predecessor"
                    if known
                    else "does not link to the entry before it",
                )
            )
        seen.setdefault(e.seq, e.entry_hash)
        prev = e
    report.head = prev.entry_hash if prev is not None else GENESIS
    if expected_head is not None and expected_head != report.head:
        at = next((seq for seq, h in seen.items() if h == expected_head), None)
        if at is None:
            report.problems.append(
                ChainProblem(
                    report.checked,
                    "deleted",
                    "the recorded head is not in the chain (entries removed at the end, or "
                    "an entry before it rewritten)",
                )
            )
        else:  # an append-only ledger grows: what came later is reported, not refused
            report.after_head = sum(1 for seq in seen if seq > at)
    report.ok = not report.problems
    return report
