"""The audit's rule catalogue and the SQL both engines run.

Numbers (windows, caps) and citations come from the gateway policy
(`collectguard.gateway.policy`), severities from the rule pack rule a policy entry names
(`pack_rule`), so the audit judges the past by the same rules the gateway enforces before
sending. The SQL is plain ANSI window-function SQL that DuckDB and Spark SQL both run
unchanged: that is what makes the two engines give the same answer. Pure: no I/O.

Audit assumptions that are not in any regulation (configurable, see `AuditParams`):
the debtor counts as reachable for `reachable_hours` after answering a call, having a
conversation or contacting the collector.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from collectguard.gateway.policy import Cap, Cited, JurisdictionPolicy, Policy
from collectguard.rules.pack import load_builtin

THIRD = "('emergency_contact', 'third_party')"
_EPOCH = dt.date(1970, 1, 1)
REACHED = "('answered', 'conversation', 'objected')"

# What each cap kind counts, and which events it judges (after the fact the outcome of
# every attempt is known): `counted` events fill the window; a `subject` event with at least
# `limit` counted events before it in the window breaks the cap.
_COUNTED: dict[str, str] = {
    "effective_conversations": f"outcome IN {REACHED}",
    "unanswered_attempts": "outcome IN ('delivered', 'failed')",
    "calls_placed": "outcome <> 'failed'",
    "conversations_block": "outcome IN ('conversation', 'objected')",
    "messages": "outcome <> 'failed'",
}
_SUBJECT: dict[str, str] = {**_COUNTED, "conversations_block": "outcome <> 'failed'"}

_SEVERITY_BY_BINDING = {
    "law": "illegal",
    "admin_regulation": "illegal",
    "dept_rule": "regulatory",
    "national_standard_recommended": "standard",
    "self_regulatory": "self_regulatory",
    "lender_policy": "policy",
}
_SAFE = re.compile(r"^[A-Za-z0-9_.\-/ ]+$")

OUTPUT_COLUMNS = (
    "event_id",
    "rule_id",
    "kind",
    "metric",
    "span_start",
    "span_end",
    "evidence",
    "code",
    "severity",
    "binding",
    "citation",
)
EVENT_COLUMNS = (
    "occurred_at",
    "ts",
    "local_day",
    "local_minute",
    "local_weekday",
    "debtor_id",
    "debt_id",
    "role",
    "channel",
    "direction",
    "outcome",
    "agent_id",
    "team",
    "agency",
    "jurisdiction",
    "tz",
    "line",
)


@dataclass(frozen=True)
class AuditParams:
    """Auditor's settings that no regulation fixes."""

    reachable_hours: int = 72
    """A third party contacted within this many hours after the debtor was reached breaks
    the only-if-unreachable rule."""
    repeat_window_days: int = 30
    """The same agent breaking the same rule again within this many days is a repeat."""
    sms_cap: int | None = None
    """A lender's daily SMS cap (the sources give no number; None = not judged)."""


@dataclass(frozen=True)
class RuleInfo:
    rule_id: str
    kind: str
    code: str
    binding: str
    severity: str
    citation: str
    title_zh: str
    title_en: str
    params: dict[str, Any]


def _lit(value: str) -> str:
    if not _SAFE.match(value):
        raise ValueError(f"unsafe identifier in policy: {value!r}")
    return f"'{value}'"


def _in(values: tuple[str, ...] | list[str]) -> str:
    return "(" + ", ".join(_lit(v) for v in values) + ")"


def _severity(cited: Cited | Cap, jurisdiction: str) -> str:
    pack_rule = getattr(cited, "pack_rule", None)
    if pack_rule:
        for rule in load_builtin(jurisdiction).rules:
            if rule.id == pack_rule:
                return str(rule.severity)
    return _SEVERITY_BY_BINDING.get(cited.binding, "regulatory")


def _info(cited: Cited, j: str, kind: str, code: str, zh: str, en: str, **params: Any) -> RuleInfo:
    return RuleInfo(
        cited.rule_id,
        kind,
        code,
        cited.binding,
        _severity(cited, j),
        cited.citation.strip(),
        zh,
        en,
        params,
    )


def effective_policy(policy: Policy, params: AuditParams) -> Policy:
    if params.sms_cap is None:
        return policy
    for j in policy.jurisdictions:
        policy = policy.with_sms_cap(j, params.sms_cap)
    return policy


def catalogue(policy: Policy, params: AuditParams) -> dict[str, RuleInfo]:
    """Every structural rule the audit judges, by rule id (content rules come from the pack)."""
    policy = effective_policy(policy, params)
    out: dict[str, RuleInfo] = {}
    for j, jp in policy.jurisdictions.items():
        w = jp.window
        out[w.rule_id] = _info(
            w,
            j,
            "time",
            "night_time",
            "非允许时段联系",
            "contact outside the allowed hours",
            start=w.start,
            end=w.end,
        )
        if _has_lender_hours(jp):
            lw = jp.lender_window
            out[LENDER_HOURS] = RuleInfo(
                LENDER_HOURS,
                "time",
                "other",
                "lender_policy",
                "policy",
                (lw.citation if lw else "lender policy") + "; quiet days",
                "不在机构自定联系时段或静默日",
                "outside the lender's hours or on a quiet day",
                {
                    "start": lw.start if lw else None,
                    "end": lw.end if lw else None,
                    "quiet_weekdays": list(jp.quiet_weekdays),
                    "quiet_dates": [d.isoformat() for d in jp.quiet_dates],
                },
            )
        for cap in jp.caps:
            if cap.limit is None:
                continue
            out[cap.id] = RuleInfo(
                cap.id,
                "frequency",
                "excessive_frequency",
                cap.binding,
                _SEVERITY_BY_BINDING.get(cap.binding, "regulatory"),
                cap.citation.strip(),
                cap.message.zh,
                cap.message.en,
                {"limit": cap.limit, "window_days": cap.window_days, "what": cap.what},
            )
        p = jp.parties
        out[p.third_party_only_if_unreachable.rule_id] = _info(
            p.third_party_only_if_unreachable,
            j,
            "third_party",
            "third_party_disclosure",
            "可联系到债务人时联系第三方",
            "third party contacted while the debtor was reachable",
            reachable_hours=params.reachable_hours,
        )
        out[p.third_party_no_debt_details.rule_id] = _info(
            p.third_party_no_debt_details,
            j,
            "third_party",
            "third_party_disclosure",
            "向第三方透露债务",
            "debt disclosed to a third party",
        )
        out[p.third_party_objected.rule_id] = _info(
            p.third_party_objected,
            j,
            "third_party",
            "other",
            "第三方拒绝后仍被联系",
            "third party contacted after objecting",
        )
        out[jp.stops.opt_out.rule_id] = _info(
            jp.stops.opt_out,
            j,
            "stop",
            "other",
            "债务人拒绝后仍经同一渠道联系",
            "debtor contacted on a channel after opting out",
        )
    return out


def _cols(rule_id: str, kind: str, metric: str) -> str:
    return (
        f"event_id, {_lit(rule_id)} AS rule_id, {_lit(kind)} AS kind, "
        f"CAST({metric} AS BIGINT) AS metric, CAST(NULL AS INT) AS span_start, "
        "CAST(NULL AS INT) AS span_end, CAST(NULL AS STRING) AS evidence, "
        "CAST(NULL AS STRING) AS code, CAST(NULL AS STRING) AS severity, "
        "CAST(NULL AS STRING) AS binding, CAST(NULL AS STRING) AS citation"
    )


def _window_sql(j: str, jp: JurisdictionPolicy) -> str:
    start, end = jp.window.minutes()
    return (
        f"SELECT {_cols(jp.window.rule_id, 'time', 'local_minute')} FROM events "
        f"WHERE jurisdiction = {_lit(j)} AND direction = 'outbound' "
        f"AND (local_minute < {start} OR local_minute >= {end})"
    )


LENDER_HOURS = "policy.lender_hours"
"""The gateway's rule id for a contact inside the legal window but outside the lender's own
hours or on one of its quiet days (policy `lender_window`, `quiet_weekdays`, `quiet_dates`)."""


def _has_lender_hours(jp: JurisdictionPolicy) -> bool:
    return bool(jp.lender_window or jp.quiet_weekdays or jp.quiet_dates)


def _lender_hours_sql(j: str, jp: JurisdictionPolicy) -> str:
    start, end = jp.window.minutes()
    outside = []
    if jp.lender_window is not None:
        ls = int(jp.lender_window.start[:2]) * 60 + int(jp.lender_window.start[3:])
        le = int(jp.lender_window.end[:2]) * 60 + int(jp.lender_window.end[3:])
        outside.append(f"local_minute < {ls} OR local_minute >= {le}")
    if jp.quiet_weekdays:
        outside.append(f"local_weekday IN ({', '.join(str(int(d)) for d in jp.quiet_weekdays)})")
    if jp.quiet_dates:
        days = ", ".join(str((d - _EPOCH).days) for d in jp.quiet_dates)
        outside.append(f"local_day IN ({days})")
    return (
        f"SELECT {_cols(LENDER_HOURS, 'time', 'local_minute')} FROM events "
        f"WHERE jurisdiction = {_lit(j)} AND direction = 'outbound' "
        f"AND local_minute >= {start} AND local_minute < {end} AND ({' OR '.join(outside)})"
    )


def _cap_sql(j: str, cap: Cap) -> str:
    assert cap.limit is not None
    if cap.scope == "phone":
        key = "phone_key"
    else:
        base = "debtor_id" if cap.scope == "debtor" else "debt_id"
        key = (
            f"CASE WHEN role = 'debtor' THEN {base} "
            f"ELSE concat({base}, '/', role, '/', phone_key) END"
        )
    state = f" AND state IN {_in(list(cap.states))}" if cap.states else ""
    return (
        f"SELECT {_cols(cap.id, 'frequency', 'prior')} FROM ("
        "SELECT event_id, subj, "
        "SUM(cnt) OVER (PARTITION BY k ORDER BY ts, event_id "
        "ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) - cnt - "
        "COALESCE(SUM(cnt) OVER (PARTITION BY k ORDER BY local_day "
        f"RANGE BETWEEN UNBOUNDED PRECEDING AND {cap.window_days} PRECEDING), 0) AS prior "
        "FROM (SELECT event_id, ts, local_day, "
        f"{key} AS k, "
        f"CASE WHEN {_COUNTED[cap.what]} THEN 1 ELSE 0 END AS cnt, "
        f"CASE WHEN {_SUBJECT[cap.what]} THEN 1 ELSE 0 END AS subj "
        f"FROM events WHERE jurisdiction = {_lit(j)} AND direction = 'outbound' "
        f"AND channel IN {_in(list(cap.channels))} AND role IN {_in(list(cap.roles))}{state}"
        f") c) w WHERE subj = 1 AND prior >= {cap.limit}"
    )


def _unreachable_sql(j: str, rule_id: str, reach_us: int) -> str:
    return (
        f"SELECT {_cols(rule_id, 'third_party', 'ts - last_reach')} FROM ("
        "SELECT event_id, ts, role, direction, outcome, "
        "MAX(CASE WHEN role = 'debtor' AND (direction = 'inbound' "
        f"OR outcome IN {REACHED}) THEN ts END) OVER (PARTITION BY debtor_id "
        "ORDER BY ts, event_id ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS last_reach "
        f"FROM events WHERE jurisdiction = {_lit(j)}) x "
        f"WHERE role IN {THIRD} AND direction = 'outbound' AND outcome <> 'failed' "
        f"AND last_reach IS NOT NULL AND ts - last_reach <= {reach_us}"
    )


def _after_objection_sql(j: str, rule_id: str, roles: str, by: str) -> str:
    kind = "stop" if "debtor" in roles else "third_party"
    return (
        f"SELECT {_cols(rule_id, kind, 'ts - obj_ts')} "
        "FROM (SELECT event_id, ts, direction, "
        "MIN(CASE WHEN outcome = 'objected' THEN ts END) OVER (PARTITION BY "
        f"{by} ORDER BY ts, event_id ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS obj_ts "
        f"FROM events WHERE jurisdiction = {_lit(j)} AND role IN {roles}) x "
        "WHERE direction = 'outbound' AND obj_ts IS NOT NULL"
    )


def _disclosure_sql(j: str, rule_id: str) -> str:
    cols = _cols(rule_id, "third_party", "NULL").replace("event_id,", "e.event_id AS event_id,", 1)
    return (
        f"SELECT {cols} FROM events e JOIN content c "
        "ON e.text = c.text AND e.jurisdiction = c.jurisdiction "
        f"WHERE c.hit = 'mentions_debt' AND e.jurisdiction = {_lit(j)} "
        f"AND e.role IN {THIRD} AND e.direction = 'outbound'"
    )


CONTENT_SQL = (
    "SELECT e.event_id AS event_id, c.rule_id AS rule_id, 'content' AS kind, "
    "CAST(NULL AS BIGINT) AS metric, c.span_start AS span_start, c.span_end AS span_end, "
    "c.evidence AS evidence, c.code AS code, c.severity AS severity, c.binding AS binding, "
    "c.citation AS citation FROM events e JOIN content c "
    "ON e.text = c.text AND e.jurisdiction = c.jurisdiction "
    "WHERE c.hit = 'violation' AND e.direction = 'outbound'"
)


def rule_queries(policy: Policy, params: AuditParams) -> list[str]:
    """One SELECT per structural rule and one for content; each yields `OUTPUT_COLUMNS`."""
    policy = effective_policy(policy, params)
    out: list[str] = []
    reach_us = params.reachable_hours * 3_600_000_000
    for j, jp in policy.jurisdictions.items():
        out.append(_window_sql(j, jp))
        if _has_lender_hours(jp):
            out.append(_lender_hours_sql(j, jp))
        out.extend(_cap_sql(j, cap) for cap in jp.caps if cap.limit is not None)
        p = jp.parties
        out.append(_unreachable_sql(j, p.third_party_only_if_unreachable.rule_id, reach_us))
        out.append(_disclosure_sql(j, p.third_party_no_debt_details.rule_id))
        out.append(
            _after_objection_sql(j, p.third_party_objected.rule_id, THIRD, "debtor_id, phone_key")
        )
        out.append(
            _after_objection_sql(j, jp.stops.opt_out.rule_id, "('debtor')", "debtor_id, channel")
        )
    out.append(CONTENT_SQL)
    return out


def violations_sql(policy: Policy, params: AuditParams) -> str:
    """All violations joined with the attributes of their event."""
    union = "\nUNION ALL\n".join(rule_queries(policy, params))
    ev = ", ".join(f"e.{c} AS {c}" for c in EVENT_COLUMNS)
    vs = ", ".join(f"v.{c} AS {c}" for c in OUTPUT_COLUMNS)
    return f"SELECT {vs}, {ev} FROM ({union}) v JOIN events e ON v.event_id = e.event_id"
