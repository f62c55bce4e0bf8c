"""Property: the engines' window-function SQL for time windows and frequency caps equals a
brute-force count over the same events (day-aligned windows in the recipient's zone)."""

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

event = st.tuples(
    st.integers(0, 1),  # debtor / phone
    st.integers(0, 36 * 60 - 1),  # minute from the start (dense: caps are reached)
    st.sampled_from(["call", "ai_voice", "sms"]),
    st.sampled_from(["delivered", "failed", "answered", "conversation"]),
    st.sampled_from(["Asia/Shanghai", "Asia/Urumqi"]),
)


def build(spec: list[tuple[int, int, str, str, str]]) -> tuple[pa.Table, list[tuple[Any, ...]]]:
    rows = []
    start = dt.datetime(2026, 1, 5, tzinfo=dt.UTC)
    for i, (who, minute, channel, outcome, tz) in enumerate(spec):
        at = (start + dt.timedelta(minutes=minute)).astimezone(ZoneInfo(tz))
        raw = {
            "event_id": f"E{i:03d}",
            "occurred_at": at.isoformat(),
            "debtor_id": f"D{who}",
            "debt_id": f"L{who}",
            "recipient_role": "debtor",
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
        if not start <= r[f["local_minute"]] < end:
            out.add((r[0], jp.window.rule_id))
    for cap in jp.caps:
        if cap.limit is None or cap.what not in COUNTED:
            continue
        counted = COUNTED[cap.what]
        for r in rows:
            if r[f["channel"]] not in cap.channels or r[f["outcome"]] not in counted:
                continue
            key = r[f["phone_key"]] if cap.scope == "phone" else r[f["debtor_id"]]
            prior = sum(
                1
                for o in rows
                if o[f["channel"]] in cap.channels
                and o[f["outcome"]] in counted
                and (o[f["phone_key"]] if cap.scope == "phone" else o[f["debtor_id"]]) == key
                and r[f["local_day"]] - cap.window_days < o[f["local_day"]] <= r[f["local_day"]]
                and (o[f["ts"]], o[0]) < (r[f["ts"]], r[0])
            )
            if prior >= cap.limit:
                out.add((r[0], cap.id))
    return out


@settings(max_examples=30, deadline=None)
@given(st.lists(event, min_size=15, max_size=60))
def test_sql_windows_equal_brute_force(spec: list[tuple[int, int, str, str, str]]) -> None:
    table, rows = build(spec)
    v = run_local(table, default_policy(), AuditParams())
    assert set(zip(v["event_id"], v["rule_id"], strict=True)) == brute(rows)


def test_dense_day_breaks_both_caps(tmp_path: Path) -> None:
    spec = [(0, 60 * 3 + i, "call", "conversation", "Asia/Shanghai") for i in range(5)]
    spec += [(1, 60 * 3 + i, "call", "failed", "Asia/Shanghai") for i in range(8)]
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
