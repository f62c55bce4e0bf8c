"""Reg F excluded calls in the audit (12 CFR 1006.14(b)(3)(i)): a call answering the
recipient's own request (`responds_to_request`) or a call to the debtor on day 1…N of the
debtor's prior consent given directly (`call_consent_at`; N = `call_consent_days`, 7 when
empty) neither counts toward nor is judged by the caps marked `excludable` — as the gateway's
`excluded_calls` / `cap_checks` decide."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from collectguard.audit.engine_local import run_local
from collectguard.audit.generate import write_log
from collectguard.audit.readers import read_events
from collectguard.audit.rules import AuditParams
from collectguard.gateway.core import excluded_calls
from collectguard.gateway.models import ContactProfile, DecisionRequest
from collectguard.gateway.policy import Policy, default_policy
from test_audit_profiles import raw_policy, table_of
from test_audit_readers import ev, rejects

NY = "America/New_York"


def call(i: int, day: int, hour: int, **kw: Any) -> dict[str, Any]:
    """A US call about debt L9 of debtor D9, on 2026-01-DAY at HOUR:00 New York time, that
    rang unanswered (placed: counted toward 7-in-7, no conversation)."""
    base = {
        "occurred_at": f"2026-01-{day:02d}T{hour:02d}:00:00-05:00",
        "debtor_id": "D9",
        "debt_id": "L9",
        "recipient_phone": "+12125550100",
        "recipient_timezone": NY,
        "channel": "call",
        "jurisdiction": "us",
        "text": None,
    }
    return ev(i, **{**base, **kw})


def eight(**kw: Any) -> list[dict[str, Any]]:
    """Eight calls within 7 local days (Jan 5…11): the eighth (E0008) breaks 7-in-7."""
    slots = [(5, 10), (5, 14), (6, 10), (7, 10), (8, 10), (9, 10), (10, 10), (11, 10)]
    return [call(i, d, h, **kw) for i, (d, h) in enumerate(slots, start=1)]


def verdicts(rows: list[dict[str, Any]], policy: Policy | None = None) -> set[tuple[str, str]]:
    v = run_local(table_of(rows), policy or default_policy(), AuditParams())
    return set(zip(v["event_id"], v["rule_id"], strict=True))


def test_eight_calls_in_seven_days_break_7in7() -> None:
    assert verdicts(eight()) == {("E0008", "us.regf.7in7")}


def test_calls_answering_the_persons_request_are_not_counted_nor_judged() -> None:
    rows = eight()
    for r in (rows[2], rows[7]):  # E0003 and the eighth call itself
        r["responds_to_request"] = "true"
    assert verdicts(rows) == set()
    # the excluded call is not judged even when 7 counted calls precede it
    rows = [*eight(), call(9, 11, 12, responds_to_request="yes")]
    assert verdicts(rows) == {("E0008", "us.regf.7in7")}
    # and one excluded call earlier in the window is enough for the eighth to pass
    rows = eight()
    rows[0]["responds_to_request"] = True
    assert verdicts(rows) == set()


def test_without_an_excluded_calls_block_such_calls_count() -> None:
    raw = raw_policy()
    del raw["jurisdictions"]["us"]["excluded_calls"]
    rows = eight(responds_to_request="true")
    assert verdicts(rows, Policy.model_validate(raw)) == {("E0008", "us.regf.7in7")}
    # a block with prior consent only does not exclude calls answering a request
    raw = raw_policy()
    raw["jurisdictions"]["us"]["excluded_calls"]["person_request"] = None
    assert verdicts(rows, Policy.model_validate(raw)) == {("E0008", "us.regf.7in7")}


@pytest.mark.parametrize(
    ("consent", "role", "flagged"),
    [
        ("2026-01-05T09:00:00-05:00", "debtor", False),  # days 1–7: all excluded
        ("2026-01-05T09:00:00-05:00", "guarantor", True),  # the debtor's consent only
        ("2026-01-11T11:00:00-05:00", "debtor", True),  # given after every call
        ("2026-01-11T10:00:00-05:00", "debtor", False),  # given at the eighth call's instant
        ("2026-01-04T09:00:00-05:00", "debtor", False),  # E1…E7 on days 2–7: excluded
    ],
)
def test_prior_consent_covers_the_debtors_calls_on_days_1_to_7(
    consent: str, role: str, flagged: bool
) -> None:
    rows = eight(call_consent_at=consent, recipient_role=role)
    assert verdicts(rows) == ({("E0008", "us.regf.7in7")} if flagged else set())


@pytest.mark.parametrize(
    ("consent", "flagged"),
    [
        ("2026-01-06T09:00:00-05:00", False),  # Jan 12 is day 7
        ("2026-01-05T09:00:00-05:00", True),  # Jan 12 is day 8: counted
        # 04:00 UTC on Jan 6 is 23:00 on Jan 5 in New York: day 1 is the recipient's day
        ("2026-01-06T04:00:00+00:00", True),
        ("2026-01-06T05:00:00+00:00", False),
    ],
)
def test_day_8_after_the_consent_counts(consent: str, flagged: bool) -> None:
    rows = [call(i, 12, 8 + i, call_consent_at=consent) for i in range(1, 9)]
    assert verdicts(rows) == ({("E0008", "us.regf.7in7")} if flagged else set())


@pytest.mark.parametrize(
    ("days", "covered"),
    [("", True), (None, True), ("7", True), (7, True), ("4", True), ("3", False), (1, False)],
)
def test_a_shorter_consent_ends_sooner(days: Any, covered: bool) -> None:
    """Consent given Jan 9 for `call_consent_days`: Jan 12 is day 4, so the eighth call of
    that day is excluded only by a consent of 4 days or more (empty = 7, as the gateway)."""
    consent = "2026-01-09T09:00:00-05:00"
    rows = [call(i, 12, 8 + i) for i in range(1, 8)]
    rows.append(call(8, 12, 16, call_consent_at=consent, call_consent_days=days))
    assert verdicts(rows) == (set() if covered else {("E0008", "us.regf.7in7")})


def test_a_consent_longer_than_reg_f_allows_is_rejected(tmp_path: Path) -> None:
    rows = [call(1, 12, 9, call_consent_at="2026-01-09T09:00:00-05:00", call_consent_days="8")]
    _table, stats = read_events(write_log(rows, tmp_path / "x.csv"), rejects=tmp_path / "r.jsonl")
    assert (stats.audited, stats.rejected) == (0, 1)
    (reason,) = [r["reason"] for r in rejects(tmp_path / "r.jsonl")]
    assert reason.startswith("call_consent_days: '8' is not a whole number of days from 1 to 7")


def test_a_conversation_on_an_excluded_call_still_blocks_later_calls() -> None:
    rows = [
        call(1, 5, 10, outcome="conversation", responds_to_request="true"),
        call(2, 8, 10),  # 3 days later, not excluded: blocked by E0001's conversation
    ]
    assert verdicts(rows) == {("E0002", "us.regf.after_conversation")}
    rows = [
        call(1, 5, 10, outcome="conversation"),
        call(2, 6, 10, responds_to_request="true"),  # excluded: not judged
        call(3, 7, 10, call_consent_at="2026-01-07T09:00:00-05:00"),  # excluded: not judged
        call(4, 8, 10),  # not excluded: blocked
    ]
    assert verdicts(rows) == {("E0004", "us.regf.after_conversation")}


def test_non_excludable_caps_still_count_excluded_calls() -> None:
    rows = [call(i, 5 + i, 10, state="MA", responds_to_request="true") for i in range(1, 4)]
    assert verdicts(rows) == {("E0003", "us.ma.2in7")}
    rows = [
        call(i, 5 + i, 10, state="MA", call_consent_at="2026-01-05T09:00:00-05:00")
        for i in range(1, 4)
    ]
    assert verdicts(rows) == {("E0003", "us.ma.2in7")}


def test_excluded_call_columns_parse_and_bad_values_are_rejected(tmp_path: Path) -> None:
    rows = [
        call(0, 5, 10, responds_to_request="TRUE", call_consent_at="2026-01-05T09:00:00Z"),
        call(1, 5, 11, responds_to_request="0", call_consent_at=" "),
        call(2, 5, 12, call_consent_at="2026-01-05T09:00:00"),  # naive
        call(3, 5, 13, call_consent_at="yesterday"),
        call(4, 5, 14, responds_to_request="maybe"),
        call(5, 5, 15),
        call(6, 5, 16, call_consent_at="2026-01-05T09:00:00Z", call_consent_days=" 3 "),
        call(7, 5, 17, call_consent_days="0"),
        call(8, 5, 18, call_consent_days="2.5"),
    ]
    path = write_log(rows, tmp_path / "x.csv")
    table, stats = read_events(path, rejects=tmp_path / "r.jsonl")
    assert (stats.audited, stats.rejected) == (4, 5) and stats.reconciled
    t = table.to_pylist()
    assert [r["responds_to_request"] for r in t] == [True, False, False, False]
    assert t[0]["consent_ts"] == int(dt.datetime(2026, 1, 5, 9, tzinfo=dt.UTC).timestamp()) * 10**6
    assert t[0]["consent_day"] == (dt.date(2026, 1, 5) - dt.date(1970, 1, 1)).days
    assert t[1]["consent_ts"] is None and t[2]["consent_day"] is None
    assert [r["consent_days"] for r in t] == [None, None, None, 3]
    reasons = [r["reason"] for r in rejects(tmp_path / "r.jsonl")]
    assert reasons[0].startswith("call_consent_at: '2026-01-05T09:00:00' has no UTC offset")
    assert reasons[1].startswith("call_consent_at: 'yesterday' is not an ISO-8601 date-time")
    assert reasons[2].startswith("responds_to_request: 'maybe' is not true/false")
    assert reasons[3].startswith("call_consent_days: '0' is not a whole number of days")
    assert reasons[4].startswith("call_consent_days: '2.5' is not a whole number of days")


ROLES = ("debtor", "debtor", "guarantor")
ZONES = (NY, "America/Los_Angeles", "Pacific/Honolulu")
case = st.tuples(
    st.sampled_from(ROLES),
    st.sampled_from(ZONES),
    st.one_of(st.none(), st.integers(-10 * 24 * 60, 24 * 60)),  # consent minutes from the call
    st.booleans(),  # responds to the person's request
    st.one_of(st.none(), st.integers(1, 7)),  # call_consent_days
)


@settings(max_examples=25, deadline=None)
@given(st.lists(case, min_size=1, max_size=12))
@example(
    [("debtor", NY, -6 * 24 * 60 - 600, False, None), ("debtor", NY, -7 * 24 * 60, False, None)]
)
@example([("debtor", NY, -2 * 24 * 60, False, 2), ("debtor", NY, -2 * 24 * 60, False, 3)])
def test_exclusions_equal_the_gateways(cases: list[tuple[Any, ...]]) -> None:
    """Whatever role, zone, consent time and period, and request: the eighth call of a local
    day breaks 7-in-7 exactly when the gateway's `excluded_calls` would count it."""
    policy = default_policy()
    jp = policy.for_("us")
    rows, expected = [], set()
    for i, (role, tz_name, consent_min, responds, days) in enumerate(cases):
        tz = ZoneInfo(tz_name)
        at = dt.datetime(2026, 1, 14, 20, 0, tzinfo=tz)
        given_at = at + dt.timedelta(minutes=consent_min) if consent_min is not None else None
        req = DecisionRequest.model_validate(
            {
                "debt_id": f"L{i}",
                "debtor_id": f"D{i}",
                "recipient": {"role": role, "phone": f"+1212555{i:04d}", "timezone": tz_name},
                "channel": "call",
                "agent_id": "A1",
                "idempotency_key": f"k{i}",
                "jurisdiction": "us",
                "planned_at": at.isoformat(),
                "responds_to_request": responds,
            }
        )
        profile = ContactProfile(
            call_consent_at=given_at, **({} if days is None else {"call_consent_days": days})
        )
        if not excluded_calls(req, profile, jp, at, tz):
            expected.add((f"E{i:03d}8", "us.regf.7in7"))
        common = {
            "debtor_id": f"D{i}",
            "debt_id": f"L{i}",
            "recipient_role": role,
            "recipient_phone": f"+1212555{i:04d}",
            "recipient_timezone": tz_name,
            "channel": "call",
            "jurisdiction": "us",
            "text": None,
        }
        rows += [  # seven plain calls earlier that local day
            {**ev(0, **common), "event_id": f"E{i:03d}{k}", "occurred_at": at.replace(hour=9 + k)}
            for k in range(1, 8)
        ]
        rows.append(
            {
                **ev(0, **common),
                "event_id": f"E{i:03d}8",
                "occurred_at": at.isoformat(),
                "responds_to_request": responds,
                "call_consent_at": given_at.isoformat() if given_at else None,
                "call_consent_days": days,
            }
        )
    for r in rows:
        if isinstance(r["occurred_at"], dt.datetime):
            r["occurred_at"] = r["occurred_at"].isoformat()
    assert verdicts(rows, policy) == expected


@pytest.mark.parametrize("fmt", ["parquet", "jsonl", "csv"])
def test_excluded_call_columns_in_every_format(tmp_path: Path, fmt: str) -> None:
    rows = eight()
    rows[7]["responds_to_request"] = True
    rows[6]["call_consent_at"] = "2026-01-10T09:00:00-05:00"
    rows[6]["call_consent_days"] = 2  # Jan 10 and 11: E0007 (Jan 10) is still covered
    path = write_log(rows, tmp_path / f"x.{fmt}")
    if fmt == "parquet":
        import pyarrow.parquet as pq  # type: ignore[import-untyped]

        assert pq.read_schema(path).field("responds_to_request").type == "bool"
    table, stats = read_events(path)
    assert stats.rejected == 0
    assert table.column("responds_to_request").to_pylist() == [False] * 7 + [True]
    assert (
        table.column("consent_day").to_pylist()[6]
        == (dt.date(2026, 1, 10) - dt.date(1970, 1, 1)).days
    )
    assert table.column("consent_days").to_pylist() == [None] * 6 + [2, None]
    v = run_local(table, default_policy(), AuditParams())
    assert len(v) == 0  # E0007 and E0008 excluded
