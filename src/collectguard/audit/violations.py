"""The violations table both engines return, finished the same way.

Engines yield the rows of `rules.violations_sql`; `finalize` fills the citation, binding,
severity and code of structural rules from the catalogue, writes a bilingual evidence line
for them (content rules keep the analyzer's evidence: the exact words), fixes the dtypes and
the order. `identity` is the set the engine-equivalence test compares.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from collectguard.audit.rules import EVENT_COLUMNS, LENDER_HOURS, OUTPUT_COLUMNS, RuleInfo
from collectguard.audit.schema import THIRD_PARTIES

COLUMNS = (*OUTPUT_COLUMNS, *EVENT_COLUMNS)
INT_COLUMNS = (
    "metric",
    "span_start",
    "span_end",
    "ts",
    "local_day",
    "local_minute",
    "local_weekday",
    "pref_start",
    "pref_end",
    "line",
)


def _hours(us: Any) -> str:
    return f"{int(us) / 3_600_000_000:.1f}"


def _hm(m: Any) -> str:
    m = int(m)
    return f"{m // 60:02d}:{m % 60:02d}"


def _cap_limit(row: Any, p: dict[str, Any]) -> Any:
    """The cap in force for this event: the policy's, or a lower one of an overlay in force
    for its lender, product and local day (as `rules._cap_sql` judges)."""
    limits = [p["limit"]] if p.get("limit") is not None else []
    day = int(row.local_day)
    for ov in p.get("overlay_limits", ()):
        if (
            (ov["lender"] is None or ov["lender"] == row.lender_id)
            and (ov["product"] is None or ov["product"] == row.product)
            and ov["from_day"] <= day
            and (ov["to_day"] is None or day < ov["to_day"])
        ):
            limits.append(ov["limit"])
    return min(limits) if limits else None


def _evidence(row: Any, info: RuleInfo | None) -> str:
    kind = row.kind
    if kind == "time" and row.rule_id == LENDER_HOURS:
        hhmm = _hm(row.local_minute)
        if (
            not pd.isna(row.pref_start)
            and row.role not in THIRD_PARTIES
            and not int(row.pref_start) <= int(row.local_minute) < int(row.pref_end)
        ):
            pref = f"{_hm(row.pref_start)}–{_hm(row.pref_end)}"
            return (
                f"本地时间 {hhmm}（{row.tz}），不在债务人偏好时段 {pref} 内 / "
                f"local time {hhmm} ({row.tz}): outside the debtor's preferred hours {pref}"
            )
        return (
            f"本地时间 {hhmm}（{row.tz}），不在机构时段或为静默日 / "
            f"local time {hhmm} ({row.tz}): outside the lender's hours or a quiet day"
        )
    if kind == "time":
        m = int(row.local_minute)
        p = info.params if info else {}
        hhmm = f"{m // 60:02d}:{m % 60:02d}"
        allowed = f"{p.get('start')}–{p.get('end')}"
        return (
            f"本地时间 {hhmm}（{row.tz}），允许 {allowed} / "
            f"local time {hhmm} ({row.tz}), allowed {allowed}"
        )
    if kind == "frequency":
        p = info.params if info else {}
        n = int(row.metric)
        if p.get("what") == "conversations_block":
            return (
                f"{p.get('window_days')} 天内已有通话 / a conversation took place within "
                f"{p.get('window_days')} days"
            )
        cap = _cap_limit(row, p)
        return (
            f"{p.get('window_days')} 天窗口内第 {n + 1} 次（上限 {cap}）/ "
            f"#{n + 1} in a {p.get('window_days')}-day window (cap {cap})"
        )
    if kind == "third_party" and info is not None and info.code == "third_party_disclosure":
        if pd.isna(row.metric):
            return "发给第三方的信息提及债务 / a message to a third party mentions the debt"
        return (
            f"债务人 {_hours(row.metric)} 小时前已联系上 / the debtor was reached "
            f"{_hours(row.metric)} h earlier"
        )
    if kind in ("third_party", "stop"):
        return (
            f"对方 {_hours(row.metric)} 小时前已拒绝 / the recipient objected "
            f"{_hours(row.metric)} h earlier"
        )
    return str(row.evidence) if row.evidence is not None else ""


def finalize(df: pd.DataFrame, catalogue: dict[str, RuleInfo]) -> pd.DataFrame:
    df = df.loc[:, list(COLUMNS)].copy()
    for c in INT_COLUMNS:
        df[c] = pd.array(df[c].astype("float64"), dtype="Int64") if len(df) else df[c]
        df[c] = df[c].astype("Int64")
    for c in ("evidence", "code", "severity", "binding", "citation"):
        df[c] = df[c].astype(object).where(df[c].notna(), None)
    if len(df):
        structural = df["kind"] != "content"
        infos = [catalogue.get(r) for r in df["rule_id"]]
        evid = [
            _evidence(row, info) if s else row.evidence
            for row, info, s in zip(df.itertuples(index=False), infos, structural, strict=True)
        ]
        df["evidence"] = evid
        for col in ("code", "severity", "binding", "citation"):
            vals = [
                (getattr(info, col) if info else "") if s else v
                for v, info, s in zip(df[col], infos, structural, strict=True)
            ]
            df[col] = vals
    df = df.sort_values(["ts", "event_id", "rule_id", "span_start"], na_position="first")
    return df.reset_index(drop=True)


def identity(df: pd.DataFrame) -> set[tuple[Any, ...]]:
    """The comparable content of a violations table (order and dtypes aside)."""

    def norm(v: Any) -> Any:
        return None if v is None or (not isinstance(v, str) and pd.isna(v)) else v

    return {
        (
            r.event_id,
            r.rule_id,
            norm(r.metric),
            norm(r.span_start),
            norm(r.span_end),
            norm(r.evidence),
            r.citation,
        )
        for r in df.itertuples(index=False)
    }
