"""Scorecards per agent, team and agency, and repeat-offender (屡教不改) escalation. Pure
(pandas / Arrow in, plain data out) but for `contacts_frame`, which counts the contacts in
DuckDB: one row per agent, local day and hour with its count `n` — tens of thousands of rows
whatever the size of the log.

- Volume: outbound contacts. Violation rate: events with at least one violation / contacts.
- By rule and by severity: violation counts. Trend: contacts and violations per ISO week
  (Monday of the recipient's local week).
- Repeat: the same agent breaks the same rule again within `repeat_window_days` after a
  prior finding (per event; several violations of one event count once).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa  # type: ignore[import-untyped]

from collectguard.audit.readers import EventStore

LEVELS = {"agent": ["agent_id", "team", "agency"], "team": ["team", "agency"], "agency": ["agency"]}
_EPOCH = dt.date(1970, 1, 1)


def _week(local_day: pd.Series, weekday: pd.Series) -> pd.Series:
    monday = local_day.astype("int64") - (weekday.astype("int64") - 1)
    return monday.map(lambda d: (_EPOCH + dt.timedelta(days=int(d))).isoformat())


CONTACTS_SQL = (
    "SELECT agent_id, team, agency, local_day, local_weekday, "
    "CAST(local_minute // 60 * 60 AS INTEGER) AS local_minute, COUNT(*) AS n "
    "FROM events WHERE direction = 'outbound' GROUP BY ALL "
    "ORDER BY agent_id, team, agency, local_day, local_minute"
)


def contacts_frame(events: pa.Table | EventStore) -> pd.DataFrame:
    """Outbound contacts counted per agent, team, agency, local day and local hour
    (`local_minute` is the hour's first minute; `n` the count)."""
    if isinstance(events, EventStore):
        return events.con.sql(CONTACTS_SQL).df()
    con = duckdb.connect()
    try:
        con.register("events", events)
        return con.sql(CONTACTS_SQL).df()
    finally:
        con.close()


def scorecards(contacts: pd.DataFrame, violations: pd.DataFrame) -> dict[str, list[dict[str, Any]]]:
    """Per agent, team and agency; `contacts` as `contacts_frame` gives it (a count `n` per
    row; a frame without `n` counts one per row)."""
    vio = violations[violations["direction"] == "outbound"] if len(violations) else violations
    if "n" not in contacts.columns:
        contacts = contacts.assign(n=1)
    out: dict[str, list[dict[str, Any]]] = {}
    c_week = _week(contacts["local_day"], contacts["local_weekday"]) if len(contacts) else None
    v_week = _week(vio["local_day"], vio["local_weekday"]) if len(vio) else None
    for level, keys in LEVELS.items():
        vol = contacts.groupby(keys)["n"].sum()
        ev = vio.drop_duplicates(["event_id"]).groupby(keys).size() if len(vio) else None
        cards = []
        for key, n in vol.items():
            kt = key if isinstance(key, tuple) else (key,)
            sel = dict(zip(keys, kt, strict=True))
            mask = pd.Series(True, index=vio.index)
            for k, v in sel.items():
                mask &= vio[k] == v
            mine = vio[mask]
            bad = int(ev.get(key, 0)) if ev is not None else 0
            cmask = pd.Series(True, index=contacts.index)
            for k, v in sel.items():
                cmask &= contacts[k] == v
            weekly_c = (
                contacts["n"][cmask].groupby(c_week[cmask]).sum()
                if c_week is not None
                else pd.Series()
            )
            weekly_v = v_week[mask].value_counts() if v_week is not None else pd.Series()
            weeks = sorted(set(weekly_c.index) | set(weekly_v.index))
            cards.append(
                {
                    **sel,
                    "contacts": int(n),
                    "violating_events": bad,
                    "violations": len(mine),
                    "violation_rate": bad / int(n) if n else 0.0,
                    "by_rule": {str(k): int(v) for k, v in mine["rule_id"].value_counts().items()},
                    "by_severity": {
                        str(k): int(v) for k, v in mine["severity"].value_counts().items()
                    },
                    "weekly": [
                        {
                            "week": w,
                            "contacts": int(weekly_c.get(w, 0)),
                            "violations": int(weekly_v.get(w, 0)),
                        }
                        for w in weeks
                    ],
                }
            )
        cards.sort(key=lambda c: (-c["violation_rate"], -c["violations"], str(c[keys[0]])))
        out[level] = cards
    return out


def repeat_offenders(violations: pd.DataFrame, window_days: int = 30) -> list[dict[str, Any]]:
    """Agents who broke the same rule again within `window_days` after a prior finding."""
    if not len(violations):
        return []
    f = violations.drop_duplicates(["event_id", "rule_id"]).sort_values(["ts", "event_id"])
    f = f[["agent_id", "team", "agency", "rule_id", "event_id", "ts", "occurred_at"]].copy()
    f["prev_ts"] = f.groupby(["agent_id", "rule_id"])["ts"].shift(1)
    window = window_days * 86_400_000_000
    f["repeat"] = f["prev_ts"].notna() & ((f["ts"] - f["prev_ts"]) <= window)
    rep = f[f["repeat"]]
    out = []
    for (agent, team, agency), g in rep.groupby(["agent_id", "team", "agency"]):
        total = f[f["agent_id"] == agent]
        out.append(
            {
                "agent_id": agent,
                "team": team,
                "agency": agency,
                "repeats": len(g),
                "findings": len(total),
                "rules": {str(k): int(v) for k, v in g["rule_id"].value_counts().items()},
                "first": str(total["occurred_at"].iloc[0]),
                "last": str(g["occurred_at"].iloc[-1]),
                "events": [str(e) for e in g["event_id"].head(20)],
            }
        )
    out.sort(key=lambda r: (-r["repeats"], r["agent_id"]))
    return out


def heat_grid(
    minutes: pd.Series, weekdays: pd.Series, weights: pd.Series | None = None
) -> list[list[float]]:
    """7 × 24 counts (or sums of `weights`): ISO weekday rows (Mon first), local hours."""
    grid = [[0.0] * 24 for _ in range(7)]
    if len(minutes):
        frame = pd.DataFrame(
            {
                "w": weekdays.astype("int64").to_numpy(),
                "h": minutes.astype("int64").to_numpy() // 60,
                "n": weights.astype("int64").to_numpy() if weights is not None else 1,
            }
        )
        counts = frame.groupby(["w", "h"])["n"].sum()
        for (w, h), n in counts.items():
            grid[int(w) - 1][int(h)] = float(n)
    return grid
