"""Scorecards per agent, team and agency, and repeat-offender (屡教不改) escalation. Pure
(pandas / Arrow in, plain data out).

- Volume: outbound contacts. Violation rate: events with at least one violation / contacts.
- By rule and by severity: violation counts. Trend: contacts and violations per ISO week
  (Monday of the recipient's local week).
- Repeat: the same agent breaks the same rule again within `repeat_window_days` after a
  prior finding (per event; several violations of one event count once).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd
import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.compute as pc  # type: ignore[import-untyped]

LEVELS = {"agent": ["agent_id", "team", "agency"], "team": ["team", "agency"], "agency": ["agency"]}
_EPOCH = dt.date(1970, 1, 1)


def _week(local_day: pd.Series, weekday: pd.Series) -> pd.Series:
    monday = local_day.astype("int64") - (weekday.astype("int64") - 1)
    return monday.map(lambda d: (_EPOCH + dt.timedelta(days=int(d))).isoformat())


def contacts_frame(events: pa.Table) -> pd.DataFrame:
    out = events.filter(pc.equal(events["direction"], "outbound"))
    cols = ["agent_id", "team", "agency", "local_day", "local_weekday", "local_minute"]
    return out.select(cols).to_pandas()


def scorecards(contacts: pd.DataFrame, violations: pd.DataFrame) -> dict[str, list[dict[str, Any]]]:
    vio = violations[violations["direction"] == "outbound"] if len(violations) else violations
    out: dict[str, list[dict[str, Any]]] = {}
    c_week = _week(contacts["local_day"], contacts["local_weekday"]) if len(contacts) else None
    v_week = _week(vio["local_day"], vio["local_weekday"]) if len(vio) else None
    for level, keys in LEVELS.items():
        vol = contacts.groupby(keys).size()
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
            weekly_c = c_week[cmask].value_counts() if c_week is not None else pd.Series()
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


def heat_grid(minutes: pd.Series, weekdays: pd.Series) -> list[list[float]]:
    """7 × 24 counts: ISO weekday rows (Mon first), local hour columns."""
    grid = [[0.0] * 24 for _ in range(7)]
    if len(minutes):
        counts = pd.DataFrame(
            {"w": weekdays.astype("int64"), "h": minutes.astype("int64") // 60}
        ).value_counts()
        for (w, h), n in counts.items():
            grid[int(w) - 1][int(h)] = float(n)
    return grid
