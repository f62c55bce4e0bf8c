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


def _call(i: int, at: dt.datetime) -> TimelineItem:
    return TimelineItem(
        at=at,
        kind="call",
        item_id=500 + i,
        party="10690000",
        recipient="self",
        summary="missed",
        call_outcome="unanswered",
    )


def test_days_before_a_caps_rule_took_effect_are_named_not_counted() -> None:
    """The CBA 2026 cap on unanswered calls (6 a day, in force 2026-01-30) does not make 8
    missed calls of 2025-11-12 a breach; the same on 2026-02-10 is one."""
    from collectguard.evidence.history import frequency_caps
    from collectguard.rules import load_builtin

    pack = load_builtin("cn")
    caps = [c for c in frequency_caps(pack) if c.rule_id == "cn.freq.unanswered_attempts"]
    assert caps and caps[0].in_force == dt.date(2026, 1, 30)
    cn = dt.timezone(dt.timedelta(hours=8))

    def calls_on(day: dt.date, base: int) -> list[TimelineItem]:
        return [_call(base + h, dt.datetime(day.year, day.month, day.day, 9 + h, tzinfo=cn))
                for h in range(8)]  # fmt: skip

    case = Case(key="k", name="k")
    case.timeline = calls_on(dt.date(2025, 11, 12), 0)
    _evaluate(case, caps, None, cn)
    assert case.rule_counts["cn.freq.unanswered_attempts"] == 0
    assert not [f for f in case.findings if f.rule_id == "cn.freq.unanswered_attempts"]
    # but the case says why the chart's day over the cap is no violation
    ((zh, en),) = case.notes
    assert "早于该规则 2026-01-30 施行，不计为违规：2025-11-12: 8" in zh
    assert "before the rule took effect on 2026-01-30" in en and "2025-11-12: 8" in en

    case = Case(key="k", name="k")
    case.timeline = calls_on(dt.date(2025, 11, 12), 0) + calls_on(dt.date(2026, 2, 10), 10)
    _evaluate(case, caps, None, cn)
    assert case.rule_counts["cn.freq.unanswered_attempts"] == 1
    (f,) = [f for f in case.findings if f.rule_id == "cn.freq.unanswered_attempts"]
    assert f.count == 1
    assert "超过的日子：2026-02-10: 8" in f.detail_zh
    assert "早于该规则 2026-01-30 施行的日子，不计入：2025-11-12: 8" in f.detail_zh
    assert "not counted, before the rule took effect on 2026-01-30: 2025-11-12: 8" in f.detail_en
    assert case.notes == []  # the finding names the early day already


def test_night_hours_are_the_recipients_whatever_zone_days_are_shown_in(tmp_path: Path) -> None:
    """A message at 23:30 in Shanghai is at night, and one at 16:30 is not, also when the case
    is shown in UTC (where they are 15:30 and 08:30: `letter --tz UTC` counted no night
    message); a call, which keeps no zone, is judged in the zone of the case's messages."""
    from zoneinfo import ZoneInfo

    from collectguard.evidence import open_store
    from collectguard.evidence.history import build_cases
    from collectguard.evidence.ingest import Importer
    from collectguard.rules import load_builtin

    sh = ZoneInfo("Asia/Shanghai")
    store = open_store(f"sqlite:///{tmp_path / 'e.sqlite3'}")
    try:
        imp = Importer(store, timezone="Asia/Shanghai")
        for text, hour in (
            ("您的借款已逾期，请立即还款。", 23),
            ("您的借款已逾期3天，请及时还款。", 16),
        ):
            imp.import_text(
                "【招联金融】" + text,
                sender="10690000",
                received_at=dt.datetime(2025, 3, 4, hour, 30, tzinfo=sh),
            )
        pack = load_builtin("cn")
        (utc_case,) = build_cases(store, pack, zone="UTC")
        (home_case,) = build_cases(store, pack, zone="Asia/Shanghai")
    finally:
        store.close()
    assert utc_case.night_messages == home_case.night_messages == 1
    night = [t for t in home_case.timeline if t.at is not None and t.at.astimezone(sh).hour == 23]
    assert night and night[0].zone == "Asia/Shanghai"
    # a call at 06:00 Shanghai (22:00 UTC the day before) is at night in the messages' zone
    case = Case(key="k", name="k")
    case.timeline = [
        *home_case.timeline,
        _call(1, dt.datetime(2025, 3, 5, 6, 0, tzinfo=sh)),
        _call(2, dt.datetime(2025, 3, 5, 12, 0, tzinfo=sh)),  # 04:00 UTC: not at night there
    ]
    from collectguard.evidence.history import night_window

    _evaluate(case, [], night_window(pack), ZoneInfo("UTC"))
    assert case.night_calls == 1 and case.night_messages == 1


def test_collection_texts_a_relative_received_all_disclose_the_debt(tmp_path: Path) -> None:
    """Three collection texts imported as received by 妈妈: the analyzer, which sees only the
    text, flags disclosure in some; the case counts all three under the pack's disclosure
    rule (once each), while texts to the debtor are left as the analyzer judged them."""
    from collectguard.evidence import open_store
    from collectguard.evidence.history import build_cases
    from collectguard.evidence.ingest import Importer
    from collectguard.rules import load_builtin

    cn = dt.timezone(dt.timedelta(hours=8))
    at = [dt.datetime(2025, 3, d, 10, 0, tzinfo=cn) for d in (4, 5, 6, 7)]
    store = open_store(f"sqlite:///{tmp_path / 'e.sqlite3'}")
    try:
        mum = Importer(store, recipient="妈妈")
        for text, when in zip(
            (
                "【招联金融】您儿子张三在我司的借款已逾期30天，请转告他尽快还款。",
                "【招联金融】张三欠款8632.50元已严重逾期，请立即还款。",
                "【招联金融】您的借款已逾期3天，请及时还款。",
            ),
            at,
            strict=False,
        ):
            mum.import_text(text, sender="10690000", received_at=when)
        Importer(store).import_text(
            "【招联金融】您的借款已逾期3天，请及时还款。", sender="10690000", received_at=at[3]
        )
        (case,) = build_cases(store, load_builtin("cn"))
    finally:
        store.close()
    rule = "cn.third_party.no_debt_disclosure"
    assert case.rule_counts[rule] == 3 and case.code_counts["third_party_disclosure"] == 3
    for t in case.timeline:
        assert (rule in {v.rule_id for v in t.violations}) == (t.recipient == "妈妈"), t
    added = [v for t in case.timeline for v in t.violations if v.rule_id == rule]
    assert {v.title for v in added} == {"向第三人透露债务"}  # the pack's zh title, as stored
