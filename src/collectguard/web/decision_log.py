"""The staff desk's view of the pre-send gateway's decision log: the recent decisions, the
counts by verdict and the state of the log's hash chain.

Owns: `gateway_summary` (one page view) and `verify_decision_log` (the "verify the whole
log" button), and the per-log tally they keep in this process. A page view costs what is
new since the last view, not the log's size:

- the recent decisions are the last rows of the log (`SqlLedger.last`);
- counts and the chain's state are kept per log (engine URL + stream). The first view in a
  process reads and verifies the whole log once; later views read only the rows stored after
  the last one read, verify that they continue the chain from the last verified entry
  (`verify_chain(after=…)`), and re-read that last entry to see that it is still there,
  unchanged (which also catches entries removed from the end).

An edit to an OLDER entry is invisible to that incremental check: only the full pass of the
button (or of a new process) reads those. Problems found stay on the page until a full pass
no longer finds them. Passes over one log run one at a time (a lock per log): two views of a
fresh process never both read the whole log. Imports no gateway code: it reads the log's
`SqlLedger` (``decision_log.ledger``).
"""

from __future__ import annotations

import datetime as dt
import itertools
import threading
from collections import Counter, OrderedDict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from collectguard.ledger import GENESIS, ChainProblem, LedgerEntry, SqlLedger, verify_chain

if TYPE_CHECKING:
    from collectguard.web.settings import WebSettings

__all__ = [
    "ChainState",
    "GatewayRow",
    "GatewaySummary",
    "forget_decision_logs",
    "gateway_summary",
    "verify_decision_log",
]

DECISION = "decision"
"""The entry kind of a gateway decision (the log also holds outcomes and profiles)."""


@dataclass(frozen=True)
class GatewayRow:
    recorded_at: str
    decision: str
    channel: str
    debtor_id: str
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class ChainState:
    """What the page says about the chain, and since when."""

    ok: bool
    problems: tuple[ChainProblem, ...]
    verified_to: int
    """Position of the last verified entry (0: the log is empty)."""
    head: str
    """Its entry hash."""
    checked_at: dt.datetime
    """When the chain was last checked (a view, incremental, or a full pass)."""
    full_at: dt.datetime
    """When the whole log was last verified from its first entry."""
    full_entries: int
    """Entries that full pass read."""
    read_now: int
    """Entries this view read (new entries, plus the last verified one read again)."""


@dataclass(frozen=True)
class GatewaySummary:
    rows: list[GatewayRow]
    counts: dict[str, int]
    chain: ChainState


@dataclass
class _Tally:
    """What the views of one log know: counts, the verified head and where reading stopped."""

    full_at: dt.datetime
    full_entries: int
    checked_at: dt.datetime
    counts: Counter[str] = field(default_factory=Counter)
    problems: list[ChainProblem] = field(default_factory=list)
    link: tuple[int, str] | None = None
    """(position, entry hash) of the verified head; None while the log is empty."""
    last_id: int = 0
    """Row id of the last entry read."""
    last_row: LedgerEntry | None = None
    """That entry as it was read, to see on the next view that it is still there, unchanged."""


class _Watch:
    """One decision log's tally and the lock its passes run under."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.tally: _Tally | None = None


_LOGS_KEPT = 8
_watches: OrderedDict[tuple[str, str], _Watch] = OrderedDict()
_watches_lock = threading.Lock()


def _watch(ledger: SqlLedger) -> _Watch:
    key = (ledger.engine.url.render_as_string(hide_password=True), ledger.stream)
    with _watches_lock:
        watch = _watches.get(key)
        if watch is None:
            watch = _watches[key] = _Watch()
            while len(_watches) > _LOGS_KEPT:
                _watches.popitem(last=False)
        else:
            _watches.move_to_end(key)
        return watch


def forget_decision_logs() -> None:
    """Drop every kept tally: the next view of each log verifies it whole again."""
    with _watches_lock:
        _watches.clear()


def gateway_summary(settings: WebSettings, limit: int = 50) -> GatewaySummary | None:
    """Recent gateway decisions (newest first), counts by verdict and the chain's state; reads
    the last `limit` decisions and what was stored since the last view (everything, once per
    process)."""
    if settings.decision_log is None:
        return None
    ledger = settings.decision_log.ledger
    watch = _watch(ledger)
    with watch.lock:
        now = settings.clock()
        if watch.tally is None:
            watch.tally, read = _full_pass(ledger, now)
        else:
            watch.tally, read = _increment(watch.tally, ledger, now)
        tally = watch.tally  # replaced, never changed, by later passes: safe to read unlocked
    rows = [_row(e) for e in ledger.last(limit, kind=DECISION)]
    return GatewaySummary(rows, dict(tally.counts), _state(tally, read))


def verify_decision_log(settings: WebSettings) -> ChainState | None:
    """The button: verify the whole log from its first entry and start the tally afresh
    from that pass (this is what finds an edit to an older entry)."""
    if settings.decision_log is None:
        return None
    ledger = settings.decision_log.ledger
    watch = _watch(ledger)
    with watch.lock:
        watch.tally, read = _full_pass(ledger, settings.clock())
        return _state(watch.tally, read)


def _state(tally: _Tally, read: int) -> ChainState:
    verified_to, head = tally.link or (0, GENESIS)
    return ChainState(
        ok=not tally.problems,
        problems=tuple(tally.problems),
        verified_to=verified_to,
        head=head,
        checked_at=tally.checked_at,
        full_at=tally.full_at,
        full_entries=tally.full_entries,
        read_now=read,
    )


class _Reader:
    """Counts the decisions among the rows it passes on and remembers the last row."""

    def __init__(self, counts: Counter[str], last_id: int, last_row: LedgerEntry | None) -> None:
        self.counts = counts
        self.read = 0
        self.last_id = last_id
        self.last_row = last_row

    def __call__(self, rows: Iterable[tuple[int, LedgerEntry]]) -> Iterator[LedgerEntry]:
        for row_id, entry in rows:
            self.read += 1
            if entry.kind == DECISION and entry.payload:
                verdict = (entry.payload.get("decision") or {}).get("decision", "?")
                self.counts[str(verdict)] += 1
            self.last_id, self.last_row = row_id, entry
            yield entry


def _full_pass(ledger: SqlLedger, now: dt.datetime) -> tuple[_Tally, int]:
    reader = _Reader(Counter(), 0, None)
    report = verify_chain(reader(ledger.rows()))
    tally = _Tally(
        full_at=now,
        full_entries=report.checked,
        checked_at=now,
        counts=reader.counts,
        problems=list(report.problems),
        link=(report.head_seq, report.head) if report.head_seq else None,
        last_id=reader.last_id,
        last_row=reader.last_row,
    )
    return tally, reader.read


def _increment(tally: _Tally, ledger: SqlLedger, now: dt.datetime) -> tuple[_Tally, int]:
    """The rows stored after the last one read, verified as the chain's continuation; the
    tally is replaced only when the whole read went through."""
    problems: list[ChainProblem] = []
    read = 0
    rows: Iterator[tuple[int, LedgerEntry]] = ledger.rows(after_id=max(tally.last_id - 1, 0))
    if tally.last_row is not None:
        # the last entry read comes first again, unless it was removed or replaced
        first = next(rows, None)
        if first is not None and first[0] == tally.last_id:
            read += 1
            if first[1] != tally.last_row:
                problems.append(
                    ChainProblem(
                        tally.last_row.seq,
                        "edited",
                        "上次核对到的最后一条已被改动 / the last entry verified before was changed",
                    )
                )
        else:
            problems.append(
                ChainProblem(
                    tally.last_row.seq,
                    "deleted",
                    "上次核对到的最后一条已不在日志中 / the last entry verified before is no "
                    "longer in the log",
                )
            )
            if first is not None:  # a later row: new, read with the others
                rows = itertools.chain([first], rows)
    reader = _Reader(Counter(tally.counts), tally.last_id, tally.last_row)
    report = verify_chain(reader(rows), after=tally.link)
    known = set(tally.problems)  # a removed or changed last entry is found on every view
    problems = [p for p in (*problems, *report.problems) if p not in known]
    new = _Tally(
        full_at=tally.full_at,
        full_entries=tally.full_entries,
        checked_at=now,
        counts=reader.counts,
        problems=tally.problems + problems,
        link=(report.head_seq, report.head) if report.head_seq else tally.link,
        last_id=reader.last_id,
        last_row=reader.last_row,
    )
    return new, read + reader.read


def _row(entry: LedgerEntry) -> GatewayRow:
    payload: dict[str, Any] = entry.payload or {}
    req = payload.get("request") or {}
    dec = payload.get("decision") or {}
    return GatewayRow(
        recorded_at=entry.recorded_at[:19].replace("T", " "),
        decision=str(dec.get("decision", "?")),
        channel=str(req.get("channel", "")),
        debtor_id=str(req.get("debtor_id", "")),
        reasons=tuple(
            str(r.get("message_zh") or r.get("rule_id") or "") for r in dec.get("reasons") or ()
        ),
    )
