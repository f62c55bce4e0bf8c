"""The pure hash chain: canonical encoding, entry hashing and verification.

Each entry commits to its stream, position, kind, the SHA-256 of its payload, the time it was
recorded and the hash of the entry before it. Changing, removing, inserting or swapping any
entry therefore breaks the chain at a place `verify_chain` names. No I/O here: the stores
(`collectguard.ledger.store`) persist entries, the evidence locker and the gateway use them.
"""

from __future__ import annotations

import bisect
import datetime as dt
import hashlib
import json
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any, Literal

import orjson

GENESIS = "0" * 64
"""`prev_hash` of the first entry of every stream."""

Problem = Literal["edited", "deleted", "inserted", "reordered", "broken_link"]


def canonical_json(obj: Any) -> bytes:
    """Sorted keys, no insignificant spaces, UTF-8. Non-JSON types (datetimes…) are refused
    so a payload hashes the same on every machine."""
    if type(obj) is dict and _plain(obj):
        # The hot case (dedupe keys, item contents, entry headers, decision-log payloads):
        # plain JSON (str / bool / None / int leaves in dicts and lists) is written by orjson,
        # the same bytes as `json.dumps` below (property-tested), several times as fast.
        try:
            return orjson.dumps(obj, option=orjson.OPT_SORT_KEYS)
        except TypeError:  # orjson.JSONEncodeError: a lone surrogate, a key that is not a
            pass  # str, an int beyond 64 bits: the reference encoder decides (or raises)

    def refuse(o: object) -> object:
        raise TypeError(f"{type(o).__name__} is not JSON: convert it first (ISO text for times)")

    return json.dumps(
        obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=refuse
    ).encode("utf-8")


_LEAVES = frozenset({str, int, bool, type(None)})
"""Leaf types that orjson and `json.dumps` write alike (floats differ: ``1e16`` against
``1e+16``, NaN; subclasses are left to the reference encoder)."""


def _plain(obj: dict[Any, Any] | list[Any]) -> bool:
    """Whether `obj` holds only dicts, lists and `_LEAVES` (exact types), at any depth."""
    for v in obj.values() if type(obj) is dict else obj:
        t = type(v)
        if t not in _LEAVES and not ((t is dict or t is list) and _plain(v)):
            return False
    return True


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
    head_seq: int = 0
    """The position of `head` (0: no entry)."""

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
    entries: Iterable[LedgerEntry],
    *,
    expected_head: str | None = None,
    after: tuple[int, str] | None = None,
) -> ChainReport:
    """Walk entries in stored order and name every break, once.

    - ``edited``: the entry's own hash or its payload's hash no longer matches its content;
    - ``deleted``: positions no entry holds (one problem per run of missing positions);
    - ``inserted``: an entry whose position is already taken, or that links to nothing;
    - ``reordered``: an entry stored after a later one (two swapped entries are one problem,
      named at the entry that came late);
    - ``broken_link``: an entry does not link to the one before it for another reason.

    Links are checked between neighbouring positions wherever they are stored, so entries
    out of order are not also reported as missing or unlinked. `expected_head` (a head hash
    saved elsewhere, e.g. in an exported bundle) also catches entries removed from the end:
    it must be in the chain. Entries appended after it are normal growth and counted in
    `after_head`, not reported as problems.

    `after` = (position, entry hash) of an entry verified before: `entries` are then only
    what was stored after it (an incremental check). Positions up to it count as taken, so
    the first new entry must link to it, and a new entry claiming an earlier position is
    ``inserted``. Nothing before it is read, so an edit there goes unnoticed: verify from the
    start for that. `checked` counts the new entries only; with none, the head is `after`'s.
    """
    report = ChainReport()
    base = 0 if after is None else after[0]  # positions up to `base` were verified before
    seen: dict[int, str] = {}  # position -> entry hash of the first entry holding it
    if after is not None:
        seen[base] = after[1]
    # position -> prev_hash, for entries stored before their predecessor
    waiting: dict[int, str] = {}
    missing = _Gaps()  # positions below the highest seen that no entry has held yet
    high = base  # highest position seen

    def link_problem(seq: int, prev_hash: str) -> None:
        known = prev_hash in seen.values()
        report.problems.append(
            ChainProblem(
                seq,
                "reordered" if known else "inserted",
                "链接到更早的条目而非前一条 / links to an earlier entry, not its predecessor"
                if known
                else "没有链接到前一条 / does not link to the entry before it",
            )
        )

    for e in entries:
        report.checked += 1
        if e.expected_hash() != e.entry_hash:
            report.problems.append(
                ChainProblem(e.seq, "edited", "条目哈希不符 / entry hash does not match")
            )
        if e.payload is not None and sha256_hex(canonical_json(e.payload)) != e.payload_sha256:
            report.problems.append(
                ChainProblem(
                    e.seq,
                    "edited",
                    "内容与记录的 SHA-256 不符 / payload does not match its recorded SHA-256",
                )
            )
        if e.seq in seen:
            report.problems.append(
                ChainProblem(
                    e.seq,
                    "inserted",
                    f"第二个条目占用第 {e.seq} 位 / a second entry claims position {e.seq}",
                )
            )
            continue
        if e.seq < 1:
            report.problems.append(
                ChainProblem(e.seq, "inserted", "没有这个位置 / no such position")
            )
            continue
        if e.seq < base:
            report.problems.append(
                ChainProblem(
                    e.seq,
                    "inserted",
                    f"第 {e.seq} 位此前已核对过，属于另一条目 / position {e.seq} was verified "
                    "before, in another entry",
                )
            )
            continue
        if e.seq > high + 1:
            missing.add(high + 1, e.seq - 1)
        elif e.seq < high:
            missing.discard(e.seq)
            report.problems.append(
                ChainProblem(
                    e.seq, "reordered", f"存放在第 {high} 条之后 / stored after entry {high}"
                )
            )
        if e.seq == 1:
            if e.prev_hash != GENESIS:
                report.problems.append(
                    ChainProblem(
                        e.seq,
                        "broken_link",
                        "第一条没有接在链首 / first entry does not start the chain",
                    )
                )
        elif e.seq - 1 in seen:
            if e.prev_hash != seen[e.seq - 1]:
                link_problem(e.seq, e.prev_hash)
        else:  # its predecessor is missing (reported as such) or stored later
            waiting[e.seq] = e.prev_hash
        later = waiting.pop(e.seq + 1, None)
        if later is not None and later != e.entry_hash:
            link_problem(e.seq + 1, later)
        seen[e.seq] = e.entry_hash
        high = max(high, e.seq)
    for lo, hi in missing:
        what = (
            f"缺少第 {lo} 条 / entry {lo} is missing"
            if lo == hi
            else f"缺少第 {lo}…{hi} 条 / entries {lo}…{hi} are missing"
        )
        report.problems.append(ChainProblem(lo, "deleted", what))
    report.problems.sort(key=lambda p: p.seq)  # stable: an entry's own problems keep their order
    report.head = seen.get(high, GENESIS)
    report.head_seq = high
    if expected_head is not None and expected_head != report.head:
        at = next((seq for seq, h in seen.items() if h == expected_head), None)
        if at is None:
            report.problems.append(
                ChainProblem(
                    report.checked,
                    "deleted",
                    "记录的链头不在链中（末尾的条目被删除，或之前的条目被改写）/ the recorded "
                    "head is not in the chain (entries removed at the end, or an entry before "
                    "it rewritten)",
                )
            )
        else:  # an append-only ledger grows: what came later is reported, not refused
            report.after_head = sum(1 for seq in seen if seq > at)
    report.ok = not report.problems
    return report


class _Gaps:
    """Runs of missing positions as sorted, disjoint [lo, hi] pairs: a forged position far
    ahead costs one pair, not one set member per skipped position."""

    def __init__(self) -> None:
        self._runs: list[list[int]] = []

    def add(self, lo: int, hi: int) -> None:
        """Positions lo…hi, all above every run added before."""
        self._runs.append([lo, hi])

    def discard(self, seq: int) -> None:
        i = bisect.bisect_right(self._runs, [seq, math.inf]) - 1
        if i < 0 or not self._runs[i][0] <= seq <= self._runs[i][1]:
            return
        lo, hi = self._runs[i]
        pieces = [r for r in ([lo, seq - 1], [seq + 1, hi]) if r[0] <= r[1]]
        self._runs[i : i + 1] = pieces

    def __iter__(self) -> Iterator[tuple[int, int]]:
        return ((lo, hi) for lo, hi in self._runs)
