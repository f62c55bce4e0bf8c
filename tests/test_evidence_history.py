"""History findings without a store: escalation steps and third-party counts."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from collectguard.evidence.history import (
    Case,
    TimelineItem,
    ViolationRef,
    _evaluate,
    escalation_steps,
)

UTC = dt.UTC


def item(
    i: int, hour: int, *severities: str, recipient: str = "self", code: str = "x"
) -> TimelineItem:
    return TimelineItem(
        at=dt.datetime(2025, 2, 3, hour, 30, tzinfo=UTC),
        kind="message",
        item_id=100 + i,
        party="10690000",
        recipient=recipient,
        summary="",
        violations=tuple(ViolationRef(f"r.{s}", code, s, s) for s in severities),
    )


def test_the_first_violation_is_no_escalation_and_steps_are_local_times() -> None:
    timeline = [item(0, 1), item(1, 2, "standard"), item(2, 3, "standard"), item(3, 4, "crime")]
    ny = dt.timezone(dt.timedelta(hours=-5))
    (step,) = escalation_steps(timeline, ny)
    zh, en = step
    assert zh == "2025-02-02 23:30 升级至：可能涉嫌犯罪（r.crime）"  # the local date, not UTC's
    assert en == "2025-02-02 23:30 escalated to: possibly a crime (r.crime)"
    assert "#" not in zh + en  # no database ids in a letter
    assert escalation_steps([item(0, 1, "crime")], ny) == []
    assert escalation_steps([item(0, 1, "crime"), item(1, 2, "standard")], ny) == []


def test_messages_sent_to_others_and_messages_naming_them_are_counted_apart() -> None:
    case = Case(key="k", name="k")
    case.timeline = [
        item(0, 1, "illegal", recipient="妈妈", code="third_party_disclosure"),
        item(1, 2, recipient="妈妈"),
        item(2, 3, "illegal", code="contacts_relatives_or_employer"),
        item(3, 4, "illegal", code="contacts_relatives_or_employer"),
        item(4, 5, "illegal", code="contacts_relatives_or_employer"),
        item(5, 6),
    ]
    _evaluate(case, [], None, dt.UTC)
    (third,) = [f for f in case.findings if f.rule_id == "history.third_party"]
    assert third.detail_zh == (
        "发给他人（妈妈）的短信 2 条；发给本人、提及或扬言联系第三人的短信 3 条"
    )
    assert third.detail_en.startswith("2 message(s) sent to others (妈妈); 3 message(s)")
    assert third.count == 5
    assert third.detail == f"{third.detail_zh} / {third.detail_en}"


def test_an_undated_copy_of_a_dated_message_is_counted_once(tmp_path: Path) -> None:
    """A message kept from the checker (no time) and later imported from a backup (with its
    time) is two ledger items but one message: the case counts it once, with its time."""
    from collectguard.evidence import open_store
    from collectguard.evidence.history import build_cases
    from collectguard.evidence.ingest import Importer

    threat = "【招联金融】您的借款已逾期，今天再不还款就上门，通知你的家人和单位。"
    other = "【招联金融】您的借款已逾期3天，请及时还款。"
    store = open_store(f"sqlite:///{tmp_path / 'e.sqlite3'}")
    try:
        imp = Importer(store)
        imp.import_text(threat, sender="10690000")  # kept from the checker: no time
        imp.import_text(other, sender="10690000")  # undated, and never seen with a time
        at = dt.datetime(2025, 2, 3, 23, 30, tzinfo=dt.timezone(dt.timedelta(hours=8)))
        imp.import_text(f"  {threat}\n", sender="+86 1069-0000", received_at=at)
        (case,) = build_cases(store)
    finally:
        store.close()
    assert case.messages == 2 and case.undated_copies == 1
    dated = [t for t in case.timeline if t.at is not None]
    assert len(dated) == 1 and dated[0].at == at
    assert case.night_messages == 1  # the copy's night-time finding is the dated one's
