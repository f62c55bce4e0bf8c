"""Gateway rules on SQLite state: windows (DST), caps, parties, stops, content, templates."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from collectguard.gateway import (
    ContactProfile,
    ContentChecker,
    Decision,
    DecisionRequest,
    Gateway,
    SqlStateStore,
    default_policy,
)
from collectguard.gateway.store import sqlite_engine
from collectguard.gateway.timewin import next_allowed, zone

SH = ZoneInfo("Asia/Shanghai")
NY = ZoneInfo("America/New_York")
CONTENT = ContentChecker()
OK_CN = "【招联金融】您的借款已到期，请通过招联金融App按时还款。"
OK_US = "This is ACME Collections, a debt collector. Please call us. Reply STOP to opt out."


def make_gateway(tmp_path: Path, now: dt.datetime, **kw: Any) -> Gateway:
    engine = sqlite_engine(f"sqlite:///{tmp_path / 'gw.db'}")
    clock = kw.pop("clock", lambda: now)
    return Gateway(SqlStateStore(engine), None, content=CONTENT, clock=clock, **kw)


_n = 0


def req(**kw: Any) -> DecisionRequest:
    global _n
    _n += 1
    base: dict[str, Any] = {
        "debt_id": "loan-1",
        "debtor_id": "cust-1",
        "recipient": {"role": "debtor", "phone": "13812345678", "timezone": "Asia/Shanghai"},
        "channel": "call",
        "agent_id": "agent-1",
        "idempotency_key": f"k-{_n}",
        "jurisdiction": "cn",
    }
    rec = kw.pop("recipient", {})
    base["recipient"] = {**base["recipient"], **rec}
    base.update(kw)
    return DecisionRequest.model_validate(base)


def codes(d: Decision) -> set[str]:
    return {r.code for r in d.reasons}


# ------------------------------------------------------------------ time windows
def test_cn_night_defers_to_0800_next_morning(tmp_path: Path) -> None:
    now = dt.datetime(2026, 11, 30, 22, 30, tzinfo=SH)
    d = make_gateway(tmp_path, now).decide(req(channel="sms", text=OK_CN))
    assert d.decision == "defer"
    assert d.not_before == dt.datetime(2026, 12, 1, 8, 0, tzinfo=SH)
    assert d.reasons[0].rule_id == "cn.hours"
    assert "GB/T 45251-2025" in d.reasons[0].citation


def test_cn_window_edges(tmp_path: Path) -> None:
    gw = make_gateway(tmp_path, dt.datetime(2026, 11, 30, 0, 0, tzinfo=SH))
    at = dt.datetime(2026, 11, 30, 21, 59, tzinfo=SH)
    assert gw.decide(req(channel="sms", text=OK_CN, planned_at=at.isoformat())).decision == "allow"
    at = dt.datetime(2026, 11, 30, 22, 0, tzinfo=SH)
    assert gw.decide(req(channel="sms", text=OK_CN, planned_at=at.isoformat())).decision == "defer"
    at = dt.datetime(2026, 11, 30, 7, 59, tzinfo=SH)
    d = gw.decide(req(channel="sms", text=OK_CN, planned_at=at.isoformat()))
    assert d.decision == "defer" and d.not_before == at.replace(hour=8, minute=0)


def test_window_is_judged_in_recipient_zone_not_sender(tmp_path: Path) -> None:
    # 10:00 in Shanghai is 21:00 (previous day) in New York: allowed for a CN recipient,
    # deferred for a US recipient in New York.
    now = dt.datetime(2026, 11, 30, 10, 0, tzinfo=SH)
    gw = make_gateway(tmp_path, now)
    assert gw.decide(req(channel="sms", text=OK_CN)).decision == "allow"
    d = gw.decide(
        req(
            channel="sms",
            text=OK_US,
            jurisdiction="us",
            recipient={"timezone": "America/New_York", "phone": "+16175550100"},
        )
    )
    assert d.decision == "defer"
    assert d.not_before == dt.datetime(2026, 11, 30, 8, 0, tzinfo=NY)


def test_night_consent_lifts_cn_window(tmp_path: Path) -> None:
    now = dt.datetime(2026, 11, 30, 23, 0, tzinfo=SH)
    gw = make_gateway(tmp_path, now)
    gw.set_profile("cust-1", ContactProfile(night_consent=True))
    assert gw.decide(req(channel="sms", text=OK_CN)).decision == "allow"


def test_preferred_hours_and_quiet_days_from_policy(tmp_path: Path) -> None:
    pol = default_policy()
    cn = pol.jurisdictions["cn"].model_copy(update={"quiet_weekdays": (7,)})
    pol = pol.model_copy(update={"jurisdictions": {**pol.jurisdictions, "cn": cn}})
    # Sunday 2026-11-29 10:00 → quiet day → Monday; preferred 12:00–13:00 → Monday 12:00
    now = dt.datetime(2026, 11, 29, 10, 0, tzinfo=SH)
    gw = make_gateway(tmp_path, now, policy=pol)
    gw.set_profile("cust-1", ContactProfile(preferred_hours={"start": "12:00", "end": "13:00"}))
    d = gw.decide(req(channel="sms", text=OK_CN))
    assert d.decision == "defer"
    assert d.not_before == dt.datetime(2026, 11, 30, 12, 0, tzinfo=SH)


@pytest.mark.parametrize("tz", [None, "", "Mars/Olympus_Mons", "../etc/passwd", "EST5EDTX"])
def test_unknown_timezone_denies_never_defaults(tmp_path: Path, tz: str | None) -> None:
    gw = make_gateway(tmp_path, dt.datetime(2026, 11, 30, 10, 0, tzinfo=SH))
    d = gw.decide(req(channel="sms", text=OK_CN, recipient={"timezone": tz}))
    assert d.decision == "deny"
    assert "timezone_unknown" in codes(d)


def test_us_dst_spring_forward_not_before(tmp_path: Path) -> None:
    # 2026-03-08 02:00 EST → 03:00 EDT. At 06:30 EDT the next allowed instant is 08:00 EDT,
    # which is 12:00 UTC (not 13:00 as a fixed -05:00 offset would give).
    now = dt.datetime(2026, 3, 8, 10, 30, tzinfo=dt.UTC)
    d = make_gateway(tmp_path, now).decide(
        req(
            channel="sms",
            text=OK_US,
            jurisdiction="us",
            recipient={"timezone": "America/New_York", "phone": "+16175550100"},
        )
    )
    assert d.decision == "defer"
    assert d.not_before is not None
    assert d.not_before.astimezone(dt.UTC) == dt.datetime(2026, 3, 8, 12, 0, tzinfo=dt.UTC)


def test_us_dst_fall_back_evening(tmp_path: Path) -> None:
    # 2026-11-01 is fall-back day; 21:00 EST = 02:00 UTC next day. 01:30 UTC is 20:30 EST: ok.
    gw = make_gateway(tmp_path, dt.datetime(2026, 11, 2, 1, 30, tzinfo=dt.UTC))
    us = {"timezone": "America/New_York", "phone": "+16175550100"}
    assert gw.decide(req(channel="sms", text=OK_US, jurisdiction="us", recipient=us)).decision == (
        "allow"
    )
    gw.clock = lambda: dt.datetime(2026, 11, 2, 2, 0, tzinfo=dt.UTC)  # 21:00 EST
    d = gw.decide(req(channel="sms", text=OK_US, jurisdiction="us", recipient=us))
    assert d.decision == "defer"
    assert d.not_before == dt.datetime(2026, 11, 2, 8, 0, tzinfo=NY)
    assert d.not_before.utcoffset() == dt.timedelta(hours=-5)


def test_sender_clock_behind_is_judged_at_gateway_clock(tmp_path: Path) -> None:
    # The sender claims 21:58, but the gateway clock says 22:01: judged at 22:01 → defer.
    now = dt.datetime(2026, 11, 30, 22, 1, tzinfo=SH)
    planned = dt.datetime(2026, 11, 30, 21, 58, tzinfo=SH)
    d = make_gateway(tmp_path, now).decide(
        req(channel="sms", text=OK_CN, planned_at=planned.isoformat())
    )
    assert d.decision == "defer"


@settings(max_examples=300, deadline=None)
@given(
    at=st.datetimes(
        min_value=dt.datetime(2025, 1, 1),
        max_value=dt.datetime(2028, 12, 31),
        timezones=st.just(dt.UTC),
    ),
    tzname=st.sampled_from(
        [
            "America/New_York",
            "America/Los_Angeles",
            "Asia/Shanghai",
            "America/Chicago",
            "Europe/London",
        ]
    ),
    start=st.integers(3 * 60, 22 * 60),  # real windows: no boundary in a DST gap
    length=st.integers(30, 8 * 60),
)
def test_next_allowed_is_earliest_allowed_instant(
    at: dt.datetime, tzname: str, start: int, length: int
) -> None:
    tz = ZoneInfo(tzname)
    end = min(start + length, 1440)
    nb = next_allowed(at, tz, [(start, end)])
    assert nb is not None and nb >= at

    def inside(t: dt.datetime) -> bool:
        loc = t.astimezone(tz)
        m = loc.hour * 60 + loc.minute
        return start <= m < end

    assert inside(nb)
    if nb > at:
        # nothing allowed between `at` and `nb` (checked minute by minute, up to a day)
        t = at
        step = dt.timedelta(minutes=1)
        while t < nb and t < at + dt.timedelta(hours=30):
            assert not inside(t), (t, nb)
            t += step


def test_zone_rejects_paths_and_accepts_iana() -> None:
    assert zone("America/New_York") is not None
    assert zone("/etc/localtime") is None
    assert zone(None) is None


# ------------------------------------------------------------------ caps
def test_cn_three_effective_conversations_per_day(tmp_path: Path) -> None:
    now = dt.datetime(2026, 11, 30, 10, 0, tzinfo=SH)
    gw = make_gateway(tmp_path, now)
    for _ in range(3):
        d = gw.decide(req(agent_id="agent-x"))
        assert d.decision == "allow" and d.attempt_id
        gw.record_outcome(d.attempt_id, "conversation")
    d = gw.decide(req(agent_id="agent-y"))  # another agent, same debtor
    assert d.decision == "defer"
    assert d.reasons[0].rule_id == "cn.freq.voice_conversations"
    assert d.not_before == dt.datetime(2026, 12, 1, 8, 0, tzinfo=SH)


def test_cn_unanswered_attempts_per_number(tmp_path: Path) -> None:
    now = dt.datetime(2026, 11, 30, 10, 0, tzinfo=SH)
    gw = make_gateway(tmp_path, now)
    for _ in range(6):
        d = gw.decide(req())
        assert d.decision == "allow" and d.attempt_id
        gw.record_outcome(d.attempt_id, "failed")  # not answered: frees the conversation slot
    d = gw.decide(req())
    assert d.decision == "defer"
    assert d.reasons[0].rule_id == "cn.freq.unanswered_attempts"
    # a different number of the same debtor is still allowed
    assert gw.decide(req(recipient={"phone": "13900001111"})).decision == "allow"


def test_answered_calls_do_not_count_as_unanswered(tmp_path: Path) -> None:
    gw = make_gateway(tmp_path, dt.datetime(2026, 11, 30, 10, 0, tzinfo=SH))
    for _ in range(2):
        d = gw.decide(req())
        assert d.attempt_id
        gw.record_outcome(d.attempt_id, "answered")
    for _ in range(6):
        d = gw.decide(req())
        assert d.decision == "allow", d.reasons
        assert d.attempt_id
        gw.record_outcome(d.attempt_id, "delivered")
    assert gw.decide(req()).reasons[0].rule_id == "cn.freq.unanswered_attempts"


def us_call(**kw: Any) -> DecisionRequest:
    us = {"timezone": "America/New_York", "phone": "+16175550100"}
    return req(jurisdiction="us", recipient=us, **kw)


def test_regf_seven_calls_in_seven_days(tmp_path: Path) -> None:
    day0 = dt.datetime(2026, 12, 1, 10, 0, tzinfo=NY)
    clock = {"now": day0}
    gw = make_gateway(tmp_path, day0, clock=lambda: clock["now"])
    for i in range(7):
        clock["now"] = day0 + dt.timedelta(days=i % 3)  # days 1..3
        d = gw.decide(us_call())
        assert d.decision == "allow", d.reasons
        assert d.attempt_id
        gw.record_outcome(d.attempt_id, "delivered")
    clock["now"] = day0 + dt.timedelta(days=3)
    d = gw.decide(us_call())
    assert d.decision == "defer"
    assert d.reasons[0].rule_id == "us.regf.7in7"
    assert "1006.14(b)(2)(i)(A)" in d.reasons[0].citation
    # earliest day with ≤ 6 calls in the 7-day window: the first call day (Dec 1) + 7
    assert d.not_before == dt.datetime(2026, 12, 8, 8, 0, tzinfo=NY)
    # failed (not connected) calls do not count
    (tmp_path / "other").mkdir()
    other = make_gateway(tmp_path / "other", day0)
    for _ in range(8):
        d = other.decide(us_call(debt_id="loan-2"))
        assert d.decision == "allow" and d.attempt_id
        other.record_outcome(d.attempt_id, "failed")


def test_regf_no_call_within_seven_days_after_conversation(tmp_path: Path) -> None:
    day0 = dt.datetime(2026, 12, 1, 10, 0, tzinfo=NY)
    clock = {"now": day0}
    gw = make_gateway(tmp_path, day0, clock=lambda: clock["now"])
    d = gw.decide(us_call())
    assert d.attempt_id
    gw.record_outcome(d.attempt_id, "conversation")
    clock["now"] = day0 + dt.timedelta(days=6, hours=8)  # Dec 7 18:00, still day 7
    d = gw.decide(us_call())
    assert d.decision == "defer"
    assert d.reasons[0].rule_id == "us.regf.after_conversation"
    assert d.not_before == dt.datetime(2026, 12, 8, 8, 0, tzinfo=NY)
    clock["now"] = dt.datetime(2026, 12, 8, 9, 0, tzinfo=NY)
    assert gw.decide(us_call()).decision == "allow"
    # SMS is not a telephone call for Reg F's call-frequency presumption
    clock["now"] = day0 + dt.timedelta(days=1)
    assert gw.decide(us_call(channel="sms", text=OK_US)).decision == "allow"


def test_massachusetts_two_in_seven_counts_texts(tmp_path: Path) -> None:
    now = dt.datetime(2026, 12, 1, 10, 0, tzinfo=NY)
    gw = make_gateway(tmp_path, now)
    assert gw.decide(us_call(state="MA")).decision == "allow"
    assert gw.decide(us_call(state="MA", channel="sms", text=OK_US)).decision == "allow"
    d = gw.decide(us_call(state="MA"))
    assert d.decision == "defer" and d.reasons[0].rule_id == "us.ma.2in7"
    # without the state the federal cap alone applies
    assert gw.decide(us_call(debt_id="loan-9")).decision == "allow"


def test_configurable_sms_cap(tmp_path: Path) -> None:
    pol = default_policy().with_sms_cap("cn", 2)
    gw = make_gateway(tmp_path, dt.datetime(2026, 11, 30, 10, 0, tzinfo=SH), policy=pol)
    assert gw.decide(req(channel="sms", text=OK_CN)).decision == "allow"
    assert gw.decide(req(channel="sms", text=OK_CN)).decision == "allow"
    d = gw.decide(req(channel="sms", text=OK_CN))
    assert d.decision == "defer" and d.reasons[0].rule_id == "cn.freq.sms"
    # the shipped policy has no SMS cap (no numeric cap in the sources)
    (tmp_path / "shipped").mkdir()
    gw2 = make_gateway(tmp_path / "shipped", dt.datetime(2026, 11, 30, 10, 0, tzinfo=SH))
    for _ in range(5):
        assert gw2.decide(req(channel="sms", text=OK_CN, debtor_id="cust-77")).decision == "allow"


def test_deferred_and_denied_do_not_consume_slots(tmp_path: Path) -> None:
    night = dt.datetime(2026, 11, 30, 23, 0, tzinfo=SH)
    clock = {"now": night}
    gw = make_gateway(tmp_path, night, clock=lambda: clock["now"])
    for _ in range(10):
        assert gw.decide(req()).decision == "defer"
    clock["now"] = dt.datetime(2026, 12, 1, 9, 0, tzinfo=SH)
    assert gw.decide(req()).decision == "allow"


# ------------------------------------------------------------------ parties, stops, content
def test_third_party_only_when_debtor_unreachable(tmp_path: Path) -> None:
    gw = make_gateway(tmp_path, dt.datetime(2026, 11, 30, 10, 0, tzinfo=SH))
    contact = {"role": "emergency_contact", "phone": "13700001111"}
    d = gw.decide(req(recipient=contact))
    assert d.decision == "deny" and "third_party_contact" in codes(d)
    gw.set_profile("cust-1", ContactProfile(debtor_unreachable=True))
    assert gw.decide(req(recipient=contact)).decision == "allow"


def test_third_party_never_gets_debt_details(tmp_path: Path) -> None:
    gw = make_gateway(tmp_path, dt.datetime(2026, 11, 30, 10, 0, tzinfo=SH))
    gw.set_profile("cust-1", ContactProfile(debtor_unreachable=True))
    contact = {"role": "emergency_contact", "phone": "13700001111"}
    d = gw.decide(
        req(
            recipient=contact,
            channel="sms",
            text="【招联金融】您的朋友张三借款已逾期30天，请转告他尽快还款。",
        )
    )
    assert d.decision == "deny"
    assert "third_party_disclosure" in codes(d)
    ok = gw.decide(
        req(
            recipient=contact,
            channel="sms",
            text="【招联金融】您好，请张三先生方便时回电95786，谢谢。",
        )
    )
    assert ok.decision == "allow", ok.reasons


def test_third_party_objection_is_final(tmp_path: Path) -> None:
    gw = make_gateway(tmp_path, dt.datetime(2026, 11, 30, 10, 0, tzinfo=SH))
    gw.set_profile(
        "cust-1", ContactProfile(debtor_unreachable=True, objected_contacts=["137-0000-1111"])
    )
    d = gw.decide(req(recipient={"role": "third_party", "phone": "13700001111"}))
    assert d.decision == "deny" and "third_party_objected" in codes(d)


@pytest.mark.parametrize(
    ("profile", "code"),
    [
        (ContactProfile(cease_communication=True), "cease_communication"),
        (ContactProfile(attorney_represented=True), "attorney_represented"),
        (ContactProfile(opted_out_channels=["call"]), "opted_out"),
    ],
)
def test_stops(tmp_path: Path, profile: ContactProfile, code: str) -> None:
    gw = make_gateway(tmp_path, dt.datetime(2026, 12, 1, 10, 0, tzinfo=NY))
    gw.set_profile("cust-1", profile)
    d = gw.decide(us_call())
    assert d.decision == "deny" and code in codes(d)
    assert all(r.citation for r in d.reasons)


def test_opt_out_of_one_channel_leaves_others(tmp_path: Path) -> None:
    gw = make_gateway(tmp_path, dt.datetime(2026, 11, 30, 10, 0, tzinfo=SH))
    gw.set_profile("cust-1", ContactProfile(opted_out_channels=["sms"]))
    assert gw.decide(req(channel="sms", text=OK_CN)).decision == "deny"
    assert gw.decide(req(channel="call")).decision == "allow"


def test_content_violation_denies_with_pack_citation(tmp_path: Path) -> None:
    gw = make_gateway(tmp_path, dt.datetime(2026, 11, 30, 10, 0, tzinfo=SH))
    d = gw.decide(req(channel="sms", text="【XX金融】您已逾期，再不还款将通知你的家人和单位"))
    assert d.decision == "deny"
    r = next(r for r in d.reasons if r.rule_id == "cn.third_party.address_book_blast")
    assert r.binding == "law" and "个人信息保护法" in r.citation
    assert r.message_zh and r.message_en and r.fix


def test_us_text_needs_opt_out_notice(tmp_path: Path) -> None:
    gw = make_gateway(tmp_path, dt.datetime(2026, 12, 1, 10, 0, tzinfo=NY))
    d = gw.decide(us_call(channel="sms", text="This is ACME Collections, a debt collector."))
    assert d.decision == "deny" and "missing_opt_out" in codes(d)
    assert gw.decide(us_call(channel="sms", text=OK_US)).decision == "allow"


def test_us_false_threat_denied(tmp_path: Path) -> None:
    gw = make_gateway(tmp_path, dt.datetime(2026, 12, 1, 10, 0, tzinfo=NY))
    d = gw.decide(
        us_call(
            channel="sms",
            text=(
                "This is a debt collector. Pay today or a warrant for your arrest will be issued. "
                "Reply STOP to opt out."
            ),
        )
    )
    assert d.decision == "deny"
    assert any(r.rule_id == "us.fdcpa.false_representation" for r in d.reasons)


def test_templates(tmp_path: Path) -> None:
    tpl = {"due": "【招联金融】{name}您好，您的借款{amount}元已到期，请通过招联金融App还款。"}
    gw = make_gateway(tmp_path, dt.datetime(2026, 11, 30, 10, 0, tzinfo=SH), templates=tpl)
    ok = gw.decide(req(channel="sms", template_id="due", variables={"name": "张三", "amount": 500}))
    assert ok.decision == "allow"
    d = gw.decide(req(channel="sms", template_id="due", variables={"name": "张三"}))
    assert d.decision == "deny" and "template_variables" in codes(d)
    d = gw.decide(req(channel="sms", template_id="nope"))
    assert d.decision == "deny" and "template_unknown" in codes(d)


def test_idempotent_replay_returns_first_decision(tmp_path: Path) -> None:
    clock = {"now": dt.datetime(2026, 11, 30, 10, 0, tzinfo=SH)}
    gw = make_gateway(tmp_path, clock["now"], clock=lambda: clock["now"])
    first = gw.decide(req(idempotency_key="same"))
    assert first.decision == "allow" and not first.replayed
    clock["now"] = dt.datetime(2026, 11, 30, 23, 0, tzinfo=SH)  # would now be deferred
    again = gw.decide(req(idempotency_key="same"))
    assert again.replayed and again.decision == "allow"
    assert again.decision_id == first.decision_id and again.attempt_id == first.attempt_id
    # a replay does not consume a second slot: two more conversations still fit today
    assert first.attempt_id
    gw.record_outcome(first.attempt_id, "conversation")
    clock["now"] = dt.datetime(2026, 11, 30, 11, 0, tzinfo=SH)
    for _ in range(2):
        d = gw.decide(req())
        assert d.decision == "allow" and d.attempt_id
        gw.record_outcome(d.attempt_id, "conversation")
    assert gw.decide(req()).decision == "defer"


def test_replayed_deny_is_stable(tmp_path: Path) -> None:
    gw = make_gateway(tmp_path, dt.datetime(2026, 11, 30, 10, 0, tzinfo=SH))
    first = gw.decide(req(idempotency_key="d1", recipient={"timezone": None}))
    again = gw.decide(req(idempotency_key="d1"))
    assert first.decision == again.decision == "deny"
    assert again.replayed and again.decision_id == first.decision_id


def test_dry_run_allows_but_records_what_it_would_have_done(tmp_path: Path) -> None:
    gw = make_gateway(tmp_path, dt.datetime(2026, 11, 30, 23, 0, tzinfo=SH), dry_run=True)
    d = gw.decide(req(channel="sms", text="【XX金融】再不还款就爆你通讯录"))
    assert d.decision == "allow" and d.dry_run and d.would_have == "deny"
    assert d.reasons  # the reasons it would have denied for are kept
    assert d.attempt_id
    night = gw.decide(req())
    assert night.decision == "allow" and night.would_have == "defer"


def test_validation_errors() -> None:
    with pytest.raises(ValueError, match="planned_at"):
        req(planned_at="2026-11-30T10:00:00")
    with pytest.raises(ValueError, match="text or template_id"):
        req(channel="sms")
    with pytest.raises(ValueError):
        req(channel="fax")
    with pytest.raises(ValueError):
        req(recipient={"role": "neighbour"})


# ------------------------------------------------------------------ policy overlays
def overlay_policy(**ov: Any) -> Any:
    from collectguard.gateway.policy import Policy

    data = default_policy().model_dump(mode="json")
    data["overlays"] = [
        {
            "id": "acme-cards",
            "jurisdiction": "cn",
            "lender": "acme",
            "product": "card",
            "effective_from": "2026-12-01",
            "lender_window": {"start": "09:00", "end": "20:00", "citation": "ACME policy 7"},
            "cap_limits": {"cn.freq.voice_conversations": 2, "cn.freq.sms": 1},
            **ov,
        }
    ]
    return Policy.model_validate(data)


def test_overlay_applies_by_lender_product_and_date(tmp_path: Path) -> None:
    pol = overlay_policy()
    clock = {"now": dt.datetime(2026, 11, 30, 8, 30, tzinfo=SH)}
    gw = make_gateway(tmp_path, clock["now"], policy=pol, clock=lambda: clock["now"])
    acme = {"lender_id": "acme", "product": "card"}
    # before its effective date: base policy (08:00 start)
    d = gw.decide(req(channel="sms", text=OK_CN, **acme))
    assert d.decision == "allow" and d.overlays == []
    # in force: 08:30 is before the lender's 09:00 → deferred, attributed to the lender
    clock["now"] = dt.datetime(2026, 12, 1, 8, 30, tzinfo=SH)
    d = gw.decide(req(channel="sms", text=OK_CN, **acme))
    assert d.decision == "defer" and d.overlays == ["acme-cards"]
    assert d.reasons[0].code == "outside_lender_hours" and "ACME policy 7" in d.reasons[0].citation
    assert d.not_before == dt.datetime(2026, 12, 1, 9, 0, tzinfo=SH)
    # other lenders keep the base policy
    assert gw.decide(req(channel="sms", text=OK_CN, lender_id="other")).decision == "allow"
    # tightened caps: SMS 1 a day, 2 conversations a day
    clock["now"] = dt.datetime(2026, 12, 1, 10, 0, tzinfo=SH)
    assert gw.decide(req(channel="sms", text=OK_CN, **acme)).decision == "allow"
    d = gw.decide(req(channel="sms", text=OK_CN, **acme))
    assert d.decision == "defer" and d.reasons[0].rule_id == "cn.freq.sms"
    for _ in range(2):
        a = gw.decide(req(debtor_id="cust-2", **acme))
        assert a.decision == "allow" and a.attempt_id
        gw.record_outcome(a.attempt_id, "conversation")
    assert gw.decide(req(debtor_id="cust-2", **acme)).decision == "defer"


def test_overlay_may_not_loosen() -> None:
    with pytest.raises(ValueError, match="only tighten"):
        overlay_policy(cap_limits={"cn.freq.voice_conversations": 5})
    with pytest.raises(ValueError, match="unknown cap"):
        overlay_policy(cap_limits={"cn.freq.nope": 1})


def test_guarantor_counted_separately_from_debtor(tmp_path: Path) -> None:
    gw = make_gateway(tmp_path, dt.datetime(2026, 11, 30, 10, 0, tzinfo=SH))
    for _ in range(3):
        d = gw.decide(req())
        assert d.attempt_id
        gw.record_outcome(d.attempt_id, "conversation")
    assert gw.decide(req()).decision == "defer"
    g = {"role": "guarantor", "phone": "13600002222"}
    for _ in range(3):
        d = gw.decide(req(recipient=g))
        assert d.decision == "allow" and d.attempt_id
        gw.record_outcome(d.attempt_id, "conversation")
    assert gw.decide(req(recipient=g)).decision == "defer"


def test_planned_time_far_behind_is_noted(tmp_path: Path) -> None:
    now = dt.datetime(2026, 11, 30, 10, 0, tzinfo=SH)
    gw = make_gateway(tmp_path, now)
    d = gw.decide(req(planned_at=(now - dt.timedelta(minutes=10)).isoformat()))
    assert d.decision == "allow" and d.notes == ["planned_at_in_past"]
    d = gw.decide(req(planned_at=(now - dt.timedelta(seconds=30)).isoformat()))
    assert d.notes == []


def test_corrected_outcome_replaces_the_first(tmp_path: Path) -> None:
    gw = make_gateway(tmp_path, dt.datetime(2026, 12, 1, 10, 0, tzinfo=NY))
    d = gw.decide(us_call())
    assert d.attempt_id
    gw.record_outcome(d.attempt_id, "conversation")
    assert gw.decide(us_call()).decision == "defer"  # conversation blocks 7 days
    gw.record_outcome(d.attempt_id, "failed")  # correction: the call never connected
    assert gw.decide(us_call()).decision == "allow"


# ------------------------------------------------------------------ consent is the debtor's own
@pytest.mark.parametrize(
    ("jurisdiction", "tz", "phone", "at"),
    [
        ("cn", "Asia/Shanghai", "13600002222", dt.datetime(2026, 11, 30, 23, 0, tzinfo=SH)),
        ("us", "America/New_York", "+16175550199", dt.datetime(2026, 12, 1, 7, 0, tzinfo=NY)),
    ],
)
def test_night_consent_lifts_the_window_for_the_debtor_only(
    tmp_path: Path, jurisdiction: str, tz: str, phone: str, at: dt.datetime
) -> None:
    gw = make_gateway(tmp_path, at)
    gw.set_profile("cust-1", ContactProfile(night_consent=True, debtor_unreachable=True))
    debtor = {"timezone": tz, "phone": "+16175550100" if jurisdiction == "us" else "13812345678"}
    assert gw.decide(req(jurisdiction=jurisdiction, recipient=debtor)).decision == "allow"
    window = "cn.hours" if jurisdiction == "cn" else "us.fdcpa.time"
    for role in ("guarantor", "emergency_contact", "third_party"):
        d = gw.decide(
            req(jurisdiction=jurisdiction, recipient={"role": role, "timezone": tz, "phone": phone})
        )
        assert d.decision == "defer", (role, d.reasons)
        assert [r.rule_id for r in d.reasons] == [window], role
        assert d.not_before is not None and d.not_before.astimezone(ZoneInfo(tz)).hour == 8


def test_cap_deferral_lands_in_the_legal_window_for_a_guarantor_despite_debtor_consent(
    tmp_path: Path,
) -> None:
    gw = make_gateway(tmp_path, dt.datetime(2026, 11, 30, 20, 0, tzinfo=SH))
    gw.set_profile("cust-1", ContactProfile(night_consent=True))
    guarantor = {"role": "guarantor", "phone": "13600002222"}
    for recipient in ({}, guarantor):
        for _ in range(3):
            d = gw.decide(req(recipient=recipient))
            assert d.decision == "allow" and d.attempt_id
            gw.record_outcome(d.attempt_id, "conversation")
    mine = gw.decide(req())
    theirs = gw.decide(req(recipient=guarantor))
    assert mine.reasons[0].rule_id == theirs.reasons[0].rule_id == "cn.freq.voice_conversations"
    # the debtor consented to night contact: the next day starts at midnight for her …
    assert mine.not_before == dt.datetime(2026, 12, 1, 0, 0, tzinfo=SH)
    # … not for the guarantor, whom the legal hours still protect
    assert theirs.not_before == dt.datetime(2026, 12, 1, 8, 0, tzinfo=SH)


# ------------------------------------------------------------------ Reg F excluded calls
def regf_notes(d: Decision) -> list[str]:
    return [n for n in d.notes if n.startswith("excluded_call:")]


def test_regf_prior_consent_excludes_calls_for_seven_days(tmp_path: Path) -> None:
    day0 = dt.datetime(2026, 12, 1, 10, 0, tzinfo=NY)  # Tuesday
    clock = {"now": day0}
    gw = make_gateway(tmp_path, day0, clock=lambda: clock["now"])
    for _ in range(7):
        d = gw.decide(us_call())
        assert d.decision == "allow" and regf_notes(d) == []
    clock["now"] = day0.replace(hour=10, minute=30)
    given = day0.replace(hour=11)
    gw.set_profile("cust-1", ContactProfile(call_consent_at=given))
    d = gw.decide(us_call())  # before the consent was given: not "with prior consent"
    assert d.decision == "defer" and d.reasons[0].rule_id == "us.regf.7in7"
    clock["now"] = day0.replace(hour=12)
    d = gw.decide(us_call())
    assert d.decision == "allow" and d.attempt_id, d.reasons
    (note,) = regf_notes(d)
    assert note.startswith("excluded_call:prior_consent")
    assert "12 CFR 1006.14(b)(3)(i)" in note and "day 1 of 7" in note
    assert "us.regf.7in7, us.regf.after_conversation" in note
    for day in range(2, 7):  # Dec 3 … Dec 7 (day 7): two calls a day, none counted
        clock["now"] = day0 + dt.timedelta(days=day, hours=8)
        for _ in range(2):
            d = gw.decide(us_call())
            assert d.decision == "allow" and f"day {day + 1} of 7" in regf_notes(d)[0]
            assert d.attempt_id
            gw.record_outcome(d.attempt_id, "delivered")
    # day 8: the consent is over; the Dec 1 calls left the window and the excluded ones were
    # never counted: seven calls again, then the cap
    clock["now"] = dt.datetime(2026, 12, 8, 9, 0, tzinfo=NY)
    for _ in range(7):
        d = gw.decide(us_call())
        assert d.decision == "allow" and regf_notes(d) == [], d.reasons
    assert gw.decide(us_call()).reasons[0].rule_id == "us.regf.7in7"


def test_regf_shorter_or_revoked_consent_ends_early(tmp_path: Path) -> None:
    day0 = dt.datetime(2026, 12, 1, 10, 0, tzinfo=NY)
    clock = {"now": day0}
    gw = make_gateway(tmp_path, day0, clock=lambda: clock["now"])
    for _ in range(7):
        assert gw.decide(us_call()).decision == "allow"
    gw.set_profile("cust-1", ContactProfile(call_consent_at=day0, call_consent_days=2))
    clock["now"] = day0 + dt.timedelta(days=1)
    d = gw.decide(us_call())
    assert d.decision == "allow" and "day 2 of 2" in regf_notes(d)[0]
    clock["now"] = day0 + dt.timedelta(days=2)
    assert gw.decide(us_call()).reasons[0].rule_id == "us.regf.7in7"
    gw.set_profile("cust-1", ContactProfile(call_consent_at=day0 + dt.timedelta(days=2)))
    assert gw.decide(us_call()).decision == "allow"
    gw.set_profile("cust-1", ContactProfile())  # revoked
    assert gw.decide(us_call()).reasons[0].rule_id == "us.regf.7in7"


def test_regf_consent_lifts_the_conversation_block_but_its_conversations_count(
    tmp_path: Path,
) -> None:
    day0 = dt.datetime(2026, 12, 1, 10, 0, tzinfo=NY)
    clock = {"now": day0}
    gw = make_gateway(tmp_path, day0, clock=lambda: clock["now"])
    d = gw.decide(us_call())
    assert d.attempt_id
    gw.record_outcome(d.attempt_id, "conversation")
    clock["now"] = day0 + dt.timedelta(days=2)  # Dec 3
    assert gw.decide(us_call()).reasons[0].rule_id == "us.regf.after_conversation"
    # "call me back": consent given directly on Dec 3 covers Dec 3 … Dec 9
    gw.set_profile("cust-1", ContactProfile(call_consent_at=clock["now"] - dt.timedelta(hours=1)))
    d = gw.decide(us_call())
    assert d.decision == "allow" and regf_notes(d)
    clock["now"] = day0 + dt.timedelta(days=7)  # Dec 8, day 6 of the consent
    d = gw.decide(us_call())
    assert d.decision == "allow" and d.attempt_id and regf_notes(d)
    gw.record_outcome(d.attempt_id, "conversation")  # the excluded call had a conversation
    clock["now"] = day0 + dt.timedelta(days=9)  # Dec 10: consent over, Dec 8 talk blocks
    d = gw.decide(us_call())
    assert d.decision == "defer" and d.reasons[0].rule_id == "us.regf.after_conversation"
    assert d.not_before == dt.datetime(2026, 12, 15, 8, 0, tzinfo=NY)


def test_regf_debtors_consent_does_not_cover_a_guarantor_but_a_request_does(
    tmp_path: Path,
) -> None:
    now = dt.datetime(2026, 12, 1, 10, 0, tzinfo=NY)
    gw = make_gateway(tmp_path, now)
    g = {"role": "guarantor", "timezone": "America/New_York", "phone": "+16175550199"}
    for _ in range(7):
        assert gw.decide(req(jurisdiction="us", recipient=g)).decision == "allow"
    gw.set_profile("cust-1", ContactProfile(call_consent_at=now - dt.timedelta(hours=1)))
    d = gw.decide(req(jurisdiction="us", recipient=g))
    assert d.decision == "defer" and d.reasons[0].rule_id == "us.regf.7in7"
    assert regf_notes(d) == []
    d = gw.decide(req(jurisdiction="us", recipient=g, responds_to_request=True))
    assert d.decision == "allow", d.reasons
    (note,) = regf_notes(d)
    assert note.startswith("excluded_call:person_request") and "1006.14(b)(3)(i)" in note
    # text messages are not telephone calls: no Reg F cap to spare, no note
    d = gw.decide(us_call(channel="sms", text=OK_US, responds_to_request=True))
    assert d.decision == "allow" and regf_notes(d) == []


def test_state_and_cn_caps_still_count_excluded_calls(tmp_path: Path) -> None:
    now = dt.datetime(2026, 12, 1, 10, 0, tzinfo=NY)
    gw = make_gateway(tmp_path, now)
    gw.set_profile("cust-1", ContactProfile(call_consent_at=now - dt.timedelta(hours=1)))
    assert gw.decide(us_call(state="MA", responds_to_request=True)).decision == "allow"
    assert gw.decide(us_call(state="MA")).decision == "allow"
    d = gw.decide(us_call(state="MA", responds_to_request=True))
    assert d.decision == "defer" and d.reasons[0].rule_id == "us.ma.2in7"
    assert len(regf_notes(d)) == 2  # excluded from Reg F on both grounds, not from MA
    (tmp_path / "cn").mkdir()
    cn = make_gateway(tmp_path / "cn", dt.datetime(2026, 11, 30, 10, 0, tzinfo=SH))
    cn.set_profile("cust-1", ContactProfile(call_consent_at=now - dt.timedelta(days=1)))
    for _ in range(3):
        d = cn.decide(req(responds_to_request=True))
        assert d.decision == "allow" and d.attempt_id and regf_notes(d) == []
        cn.record_outcome(d.attempt_id, "conversation")
    d = cn.decide(req(responds_to_request=True))
    assert d.decision == "defer" and d.reasons[0].rule_id == "cn.freq.voice_conversations"


def test_call_consent_validation() -> None:
    with pytest.raises(ValueError, match="UTC offset"):
        ContactProfile.model_validate({"call_consent_at": "2026-12-01T10:00:00"})
    with pytest.raises(ValueError):
        ContactProfile(call_consent_days=8)
    with pytest.raises(ValueError):
        ContactProfile(call_consent_days=0)
