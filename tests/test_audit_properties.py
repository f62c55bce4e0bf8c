"""Property: the engines' window-function SQL for time windows and frequency caps equals a
brute-force count over the same events (day-aligned windows in the recipient's zone), for
every recipient role, with and without the debtor's consent to night contact on file."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pyarrow as pa  # type: ignore[import-untyped]
from hypothesis import given, settings
from hypothesis import strategies as st

from collectguard.audit.engine_local import run_local
from collectguard.audit.readers import EVENT_SCHEMA
from collectguard.audit.rules import AuditParams
from collectguard.audit.schema import validate_row
from collectguard.gateway.policy import default_policy

COUNTED = {
    "effective_conversations": {"answered", "conversation", "objected"},
    "unanswered_attempts": {"delivered", "failed"},
}

ROLES = ["debtor", "debtor", "guarantor", "emergency_contact", "third_party"]
event = st.tuples(
    st.integers(0, 1),  # debtor / phone
    st.integers(0, 36 * 60 - 1),  # minute from the start (dense: caps are reached)
    st.sampled_from(["call", "ai_voice", "sms"]),
    st.sampled_from(["delivered", "failed", "answered", "conversation"]),
    st.sampled_from(["Asia/Shanghai", "Asia/Urumqi"]),
    st.sampled_from(ROLES),
    st.booleans(),  # the debtor's night consent on file
)
Spec = tuple[int, int, str, str, str, str, bool]


def build(spec: list[Spec]) -> tuple[pa.Table, list[tuple[Any, ...]]]:
    rows = []
    start = dt.datetime(2026, 1, 5, tzinfo=dt.UTC)
    for i, (who, minute, channel, outcome, tz, role, consent) in enumerate(spec):
        at = (start + dt.timedelta(minutes=minute)).astimezone(ZoneInfo(tz))
        raw = {
            "event_id": f"E{i:03d}",
            "occurred_at": at.isoformat(),
            "debtor_id": f"D{who}",
            "debt_id": f"L{who}",
            "recipient_role": role,
            "recipient_phone": f"1380000000{who}",
            "recipient_timezone": "Asia/Shanghai" if who % 2 else "Asia/Urumqi",
            "channel": channel,
            "direction": "outbound",
            "outcome": outcome,
            "agent_id": "A",
            "team": "T",
            "agency": "G",
            "jurisdiction": "cn",
            "text": None,
            "night_consent": consent,
        }
        rows.append((*validate_row(raw), i + 1))
    cols = list(zip(*rows, strict=True)) if rows else [[] for _ in EVENT_SCHEMA.names]
    table = pa.Table.from_arrays(
        [pa.array(c, type=f.type) for c, f in zip(cols, EVENT_SCHEMA, strict=True)],
        schema=EVENT_SCHEMA,
    )
    return table, rows


def brute(rows: list[tuple[Any, ...]]) -> set[tuple[str, str]]:
    jp = default_policy().for_("cn")
    out: set[tuple[str, str]] = set()
    f = {name: i for i, name in enumerate(EVENT_SCHEMA.names)}
    start, end = jp.window.minutes()
    for r in rows:
        # the debtor's consent lifts the legal window for contacts with the debtor only
        lifted = jp.window.consent_lifts and r[f["night_consent"]] and r[f["role"]] == "debtor"
        if not start <= r[f["local_minute"]] < end and not lifted:
            out.add((r[0], jp.window.rule_id))

    def key_of(cap: Any, r: tuple[Any, ...]) -> str:
        """Caps protect a person: a guarantor's or third party's own counter (the gateway's
        `_scope_value`)."""
        if cap.scope == "phone":
            return str(r[f["phone_key"]])
        base = r[f["debtor_id"]] if cap.scope == "debtor" else r[f["debt_id"]]
        role = r[f["role"]]
        return base if role == "debtor" else f"{base}/{role}/{r[f['phone_key']]}"

    for cap in jp.caps:
        if cap.limit is None or cap.what not in COUNTED:
            continue
        counted = COUNTED[cap.what]

        def applies(r: tuple[Any, ...], cap: Any = cap, counted: set[str] = counted) -> bool:
            return (
                r[f["channel"]] in cap.channels
                and r[f["role"]] in cap.roles
                and r[f["outcome"]] in counted
            )

        for r in rows:
            if not applies(r):
                continue
            key = key_of(cap, r)
            prior = sum(
                1
                for o in rows
                if applies(o)
                and key_of(cap, o) == key
                and r[f["local_day"]] - cap.window_days < o[f["local_day"]] <= r[f["local_day"]]
                and (o[f["ts"]], o[0]) < (r[f["ts"]], r[0])
            )
            if prior >= cap.limit:
                out.add((r[0], cap.id))
    return out


@settings(max_examples=30, deadline=None)
@given(st.lists(event, min_size=15, max_size=60))
def test_sql_windows_equal_brute_force(spec: list[Spec]) -> None:
    table, rows = build(spec)
    v = run_local(table, default_policy(), AuditParams())
    jp = default_policy().for_("cn")
    judged = {jp.window.rule_id, *(c.id for c in jp.caps)}  # third-party rules judged elsewhere
    found = set(zip(v["event_id"], v["rule_id"], strict=True))
    assert {(e, r) for e, r in found if r in judged} == brute(rows)


def test_dense_day_breaks_both_caps(tmp_path: Path) -> None:
    spec: list[Spec] = [
        (0, 60 * 3 + i, "call", "conversation", "Asia/Shanghai", "debtor", False) for i in range(5)
    ]
    spec += [(1, 60 * 3 + i, "call", "failed", "Asia/Shanghai", "debtor", False) for i in range(8)]
    table, rows = build(spec)
    found = set(
        zip(
            *(
                run_local(table, default_policy(), AuditParams())[c]
                for c in ("event_id", "rule_id")
            ),
            strict=True,
        )
    )
    assert found == brute(rows)
    assert {r for _, r in found} == {"cn.freq.voice_conversations", "cn.freq.unanswered_attempts"}
