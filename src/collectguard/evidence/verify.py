"""Verification of the evidence store: the ledger chain and every item against it.

Owns `verify_store`: walks the ``evidence`` stream of `collectguard.ledger` (which names an
edited, deleted, inserted or reordered entry) and then each stored message, call and
attachment: an item whose content no longer hashes to what its ledger entry recorded was
edited; an entry whose item is gone was deleted; an item no entry vouches for was inserted.
Attachments are re-hashed from disk. Reads only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from collectguard.evidence.items import (
    CALL_CONTENT,
    MESSAGE_CONTENT,
    call_content,
    item_sha256,
    message_content,
)
from collectguard.evidence.models import Attachment, CallRecord, Message
from collectguard.evidence.store import EvidenceStore
from collectguard.ledger import (
    ChainReport,
    LedgerEntry,
    ledger_entries,
    sha256_stream,
    verify_chain,
)

ItemKind = Literal["message", "call", "attachment"]
ItemProblemKind = Literal["edited", "deleted", "inserted"]


@dataclass(frozen=True)
class ItemProblem:
    item: ItemKind
    item_id: int
    seq: int | None
    problem: ItemProblemKind
    detail: str

    def describe(self) -> str:
        where = f"ledger #{self.seq}" if self.seq is not None else "no ledger entry"
        zh = {"edited": "被修改", "deleted": "被删除", "inserted": "被插入"}[self.problem]
        return f"{self.item} {self.item_id} ({where}): {zh} / {self.problem} — {self.detail}"


@dataclass
class VerifyReport:
    chain: ChainReport
    items_checked: int = 0
    problems: list[ItemProblem] = field(default_factory=list)
    unreadable: str | None = None
    """The database's own error when the store could not be read to the end (bytes of the
    file changed underneath SQLite): what was read before is reported as usual."""

    @property
    def ok(self) -> bool:
        return self.chain.ok and not self.problems and self.unreadable is None

    def describe(self) -> str:
        lines = [
            "证据库完整 / store intact" if self.ok else "证据库被改动 / store tampered",
        ]
        if self.unreadable is not None:
            lines.append(
                "证据库文件已损坏，未能读完 / the store's file is damaged and could not be read "
                f"to the end: {self.unreadable}"
            )
            lines.append(
                f"读取在账本第 {self.chain.checked} 条、证据条目第 {self.items_checked} 项后中断 / "
                f"reading stopped after {self.chain.checked} ledger entries and "
                f"{self.items_checked} items"
            )
            lines += [f"  {p.describe()}" for p in self.chain.problems]
            lines += [f"  {p.describe()}" for p in self.problems]
            return "\n".join(lines)
        lines.append(self.chain.describe())
        if self.problems:
            lines.append(
                f"证据条目有 {len(self.problems)} 处问题 / {len(self.problems)} item problem(s) "
                f"in {self.items_checked} items"
            )
            lines += [f"  {p.describe()}" for p in self.problems]
        else:
            lines.append(
                f"证据条目与账本一致 / all {self.items_checked} items match their ledger entries"
            )
        return "\n".join(lines)


def _file_sha256(path: Path) -> str | None:
    try:
        with path.open("rb") as fp:
            return sha256_stream(fp)
    except OSError:
        return None


Progress = Callable[[int, int], None]
"""Called with (entries and items checked, how many there are) every 1,000 and at the end."""


def _total(store: EvidenceStore) -> int:
    """Ledger entries of the evidence stream plus stored items: the work `verify_store` does."""
    with store.session() as s:
        entries = s.scalar(
            select(func.count())
            .select_from(ledger_entries)
            .where(ledger_entries.c.stream == store.ledger.stream)
        )
        items = sum(
            s.scalar(select(func.count()).select_from(model)) or 0
            for model in (Message, CallRecord, Attachment)
        )
    return int(entries or 0) + items


def verify_store(
    store: EvidenceStore, *, expected_head: str | None = None, progress: Progress | None = None
) -> VerifyReport:
    """Check the chain, then each item against the entry that vouches for it. `progress`
    hears how far it got (a large store takes a while: ≈ 10 s per 100,000 items)."""
    vouched: dict[tuple[str, int], tuple[int, str]] = {}
    try:
        total = _total(store) if progress is not None else 0
    except SQLAlchemyError:  # a damaged file: the walk below says where reading stops
        total = 0
    done = 0

    def step() -> None:
        nonlocal done
        done += 1
        if progress is not None and done % 1000 == 0:
            progress(done, max(total, done))

    read = 0  # ledger entries read, for where a damaged file stops the walk

    def remember(entries: Iterable[LedgerEntry]) -> Iterator[LedgerEntry]:
        nonlocal read
        for e in entries:
            read += 1
            p = e.payload or {}
            kind, item_id, digest = p.get("item"), p.get("item_id"), p.get("item_sha256")
            if isinstance(kind, str) and isinstance(item_id, int) and isinstance(digest, str):
                vouched.setdefault((kind, item_id), (e.seq, digest))
            step()
            yield e

    unreadable: str | None = None
    try:
        chain = verify_chain(remember(store.ledger.entries()), expected_head=expected_head)
    except SQLAlchemyError as exc:  # the ledger cannot be read to the end: nothing vouches
        chain = ChainReport(ok=False, checked=read)  # entries read before it broke
        unreadable = _driver_words(exc)
    report = VerifyReport(chain=chain, unreadable=unreadable)
    if unreadable is not None:
        return report
    seen: set[tuple[str, int]] = set()

    def check(kind: ItemKind, item_id: int, stored: str, actual: str | None) -> None:
        report.items_checked += 1
        step()
        seen.add((kind, item_id))
        entry = vouched.get((kind, item_id))
        if entry is None:
            report.problems.append(
                ItemProblem(kind, item_id, None, "inserted", "不在账本中 / not in the ledger")
            )
            return
        seq, digest = entry
        if actual is None:
            report.problems.append(
                ItemProblem(kind, item_id, seq, "deleted", "附件文件丢失 / attachment file missing")
            )
        elif actual != digest:
            report.problems.append(
                ItemProblem(
                    kind,
                    item_id,
                    seq,
                    "edited",
                    f"内容哈希 {actual[:12]}… 与账本记录 {digest[:12]}… 不符 / content hash "
                    "differs from the ledger",
                )
            )
        elif stored != digest:
            report.problems.append(
                ItemProblem(kind, item_id, seq, "edited", "记录的哈希被改 / stored hash changed")
            )

    try:
        _check_items(store, check)
    except SQLAlchemyError as exc:
        report.unreadable = _driver_words(exc)
        return report  # items not reached are not reported as deleted
    if progress is not None:
        progress(done, done)
    for (kind, item_id), (seq, _digest) in sorted(vouched.items(), key=lambda kv: kv[1][0]):
        if (kind, item_id) not in seen and kind in ("message", "call", "attachment"):
            report.problems.append(
                ItemProblem(
                    kind,  # type: ignore[arg-type]
                    item_id,
                    seq,
                    "deleted",
                    "账本记录的条目已不在库中 / the item its ledger entry vouches for is gone",
                )
            )
    return report


def _driver_words(exc: SQLAlchemyError) -> str:
    """The database driver's own message, without SQLAlchemy's statement echo and link."""
    orig = getattr(exc, "orig", None)
    return str(orig if orig is not None else exc).split("\n")[0][:300]


def _check_items(
    store: EvidenceStore, check: Callable[[ItemKind, int, str, str | None], None]
) -> None:
    """Every stored message, call and attachment, re-hashed, through `check`."""
    with store.session() as s:
        mcols = [getattr(Message, k) for k in MESSAGE_CONTENT]
        q = select(Message.id, Message.item_sha256, *mcols).order_by(Message.id)
        for item_id, stored, *values in s.execute(q.execution_options(yield_per=2000)):
            content = message_content(dict(zip(MESSAGE_CONTENT, values, strict=True)))
            check("message", item_id, stored, item_sha256(content))
        ccols = [getattr(CallRecord, k) for k in CALL_CONTENT]
        q = select(CallRecord.id, CallRecord.item_sha256, *ccols).order_by(CallRecord.id)
        for item_id, stored, *values in s.execute(q.execution_options(yield_per=2000)):
            content = call_content(dict(zip(CALL_CONTENT, values, strict=True)))
            check("call", item_id, stored, item_sha256(content))
        for a in s.scalars(select(Attachment).order_by(Attachment.id)):
            check("attachment", a.id, a.sha256, _file_sha256(store.attachment_path(a.sha256)))
