"""The audit's rule catalogue and the SQL both engines run.

Numbers (windows, caps) and citations come from the gateway policy
(`collectguard.gateway.policy`), severities from the rule pack rule a policy entry names
(`pack_rule`), so the audit judges the past by the same rules the gateway enforces before
sending. The SQL is plain ANSI window-function SQL that DuckDB and Spark SQL both run
unchanged: that is what makes the two engines give the same answer. Pure: no I/O.

Audit assumptions that are not in any regulation (configurable, see `AuditParams`):
the debtor counts as reachable for `reachable_hours` after answering a call, having a
conversation or contacting the collector.

As the gateway does: consent to night contact on file (`night_consent`, the debtor's own) lifts
the legal window where the policy says `consent_lifts`, for contacts with the debtor only (never
for a guarantor or third party); the debtor's preferred hours (`pref_start`/`pref_end`)
bind contacts with the debtor and guarantors (not third parties) under `policy.lender_hours`;
policy overlays apply per event by `lender_id`, `product` and the recipient's local day
(tighter caps, a narrower lender window, more quiet days).

Reg F's excluded calls (12 CFR 1006.14(b)(3)(i)) are judged as the gateway's `excluded_calls`
and `cap_checks` judge them, where the jurisdiction's policy has an `excluded_calls` block: a
call answering the recipient's own request (`responds_to_request`, under `person_request`), or
a call to the debtor at or after the debtor's prior consent given directly (`call_consent_at`,
under `prior_consent`) on day 1…N of it in the recipient's zone (day 1 = the local day it
was given; N = the shorter of the policy's `days` and the row's `call_consent_days`, 7 when
empty, as the gateway's profile). For the caps marked
`excludable` such a call is neither counted nor judged, except that a conversation on it still
counts toward a `conversations_block` cap (it blocks later calls); other caps count it.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from collectguard._yaml import safe_load as safe_yaml
from collectguard.audit.schema import MAX_CONSENT_DAYS
from collectguard.errors import PolicyError, RulePackError
from collectguard.gateway.policy import Cap, Cited, JurisdictionPolicy, Overlay, Policy
from collectguard.rules.pack import RulePack, load_builtin, load_pack_file, resolve_pack

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
_SAFE = re.compile(r"^[A-Za-z0-9_.:\-/ ]+$")

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
    "night_consent",
    "pref_start",
    "pref_end",
    "lender_id",
    "product",
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
        raise PolicyError(
            f"policy value {value!r} cannot be used by the audit: ids, lender ids and products "
            "may hold letters, digits, spaces and . _ : - / only"
        )
    return f"'{value}'"


def _in(values: tuple[str, ...] | list[str]) -> str:
    return "(" + ", ".join(_lit(v) for v in values) + ")"


def rule_packs(packs: tuple[str, ...] = ()) -> dict[str, RulePack]:
    """The rule pack per jurisdiction: the shipped `cn` / `us`, replaced by user packs or
    overlays (`extends: cn`) named in `packs` — the analyzer's choice (`from_options`)."""
    chosen = {"cn": load_builtin("cn"), "us": load_builtin("us")}
    given: dict[str, str] = {}
    for spec in packs:
        pack = resolve_pack(spec)
        j = pack.jurisdiction.lower().split("-")[0]
        if j in given:  # the analyzer would keep only the last: say so instead
            raise RulePackError(
                f"{spec}: a second pack or overlay for {j!r} (after {given[j]}); "
                "merge them into one file"
            )
        given[j] = spec
        chosen[j] = pack
    return chosen


def load_overlay(path: Path | str) -> str:
    """Check that `path` is a rule-pack overlay (`extends: cn` or `us`); return it as a pack
    option for the analyzer."""
    load_pack_file(Path(path))  # a valid pack file, its base known
    try:
        head = safe_yaml(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:  # pragma: no cover - loaded above
        raise RulePackError(f"{path}: cannot read: {exc}") from exc
    if not isinstance(head, dict) or not head.get("extends"):
        raise RulePackError(
            f"{path}: not an overlay (no `extends:`); a whole pack is given with --pack"
        )
    return str(path)


def _severity(cited: Cited | Cap, pack: RulePack | None) -> str:
    pack_rule = getattr(cited, "pack_rule", None)
    if pack_rule and pack is not None:
        rule = pack.get(pack_rule)
        if rule is not None and hasattr(rule, "severity"):
            return str(rule.severity)
    return _SEVERITY_BY_BINDING.get(cited.binding, "regulatory")


def _info(
    cited: Cited, pack: RulePack | None, kind: str, code: str, zh: str, en: str, **params: Any
) -> RuleInfo:
    return RuleInfo(
        cited.rule_id,
        kind,
        code,
        cited.binding,
        _severity(cited, pack),
        cited.citation.strip(),
        zh,
        en,
        params,
    )


def overlays_for(policy: Policy, jurisdiction: str) -> list[Overlay]:
    return [ov for ov in policy.overlays if ov.jurisdiction == jurisdiction]


def effective_policy(policy: Policy, params: AuditParams) -> Policy:
    if params.sms_cap is None:
        return policy
    for j in policy.jurisdictions:
        policy = policy.with_sms_cap(j, params.sms_cap)
    return policy


def _overlay_limits(policy: Policy, j: str, cap_id: str) -> list[dict[str, Any]]:
    return [
        {
            "overlay": ov.id,
            "lender": ov.lender,
            "product": ov.product,
            "from_day": (ov.effective_from - _EPOCH).days,
            "to_day": (ov.effective_to - _EPOCH).days if ov.effective_to else None,
            "limit": ov.cap_limits[cap_id],
        }
        for ov in overlays_for(policy, j)
        if cap_id in ov.cap_limits
    ]


def _judged(policy: Policy, j: str, cap: Cap) -> bool:
    """A cap is judged when it has a limit, here or in one of the jurisdiction's overlays."""
    return cap.limit is not None or bool(_overlay_limits(policy, j, cap.id))


def catalogue(
    policy: Policy, params: AuditParams, packs: tuple[str, ...] = ()
) -> dict[str, RuleInfo]:
    """Every structural rule the audit judges, by rule id (content rules come from the pack).

    `packs`: user packs or overlays (as for the analyzer); a policy rule's severity comes from
    the pack rule it names (`pack_rule`) in the pack in force."""
    policy = effective_policy(policy, params)
    chosen = rule_packs(packs)
    out: dict[str, RuleInfo] = {}
    lender_cites: list[str] = []
    for j, jp in policy.jurisdictions.items():
        pack = chosen.get(j)
        w = jp.window
        out[w.rule_id] = _info(
            w,
            pack,
            "time",
            "night_time",
            "非允许时段联系",
            "contact outside the allowed hours",
            start=w.start,
            end=w.end,
            consent_lifts=w.consent_lifts,
        )
        if jp.lender_window is not None:
            lender_cites.append(jp.lender_window.citation)
        lender_cites += [
            ov.lender_window.citation for ov in overlays_for(policy, j) if ov.lender_window
        ]
        for cap in jp.caps:
            if not _judged(policy, j, cap):
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
                {
                    "limit": cap.limit,
                    "window_days": cap.window_days,
                    "what": cap.what,
                    "overlay_limits": _overlay_limits(policy, j, cap.id),
                },
            )
        p = jp.parties
        out[p.third_party_only_if_unreachable.rule_id] = _info(
            p.third_party_only_if_unreachable,
            pack,
            "third_party",
            "third_party_disclosure",
            "可联系到债务人时联系第三方",
            "third party contacted while the debtor was reachable",
            reachable_hours=params.reachable_hours,
        )
        out[p.third_party_no_debt_details.rule_id] = _info(
            p.third_party_no_debt_details,
            pack,
            "third_party",
            "third_party_disclosure",
            "向第三方透露债务",
            "debt disclosed to a third party",
        )
        out[p.third_party_objected.rule_id] = _info(
            p.third_party_objected,
            pack,
            "third_party",
            "other",
            "第三方拒绝后仍被联系",
            "third party contacted after objecting",
        )
        out[jp.stops.opt_out.rule_id] = _info(
            jp.stops.opt_out,
            pack,
            "stop",
            "other",
            "债务人拒绝后仍经同一渠道联系",
            "debtor contacted on a channel after opting out",
        )
    # the gateway's rule id for the lender's own hours, quiet days and the debtor's preferred
    # hours: always judged (preferred hours come with the log)
    cites = list(dict.fromkeys(lender_cites)) or ["lender policy"]
    out[LENDER_HOURS] = RuleInfo(
        LENDER_HOURS,
        "time",
        "other",
        "lender_policy",
        "policy",
        "; ".join(cites) + "; debtor preferred hours / quiet days",
        "不在机构自定联系时段、静默日或债务人偏好时段",
        "outside the lender's hours, on a quiet day, or outside the debtor's preferred hours",
        {},
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


def _outside_legal(jp: JurisdictionPolicy) -> str:
    """Outside the legal window, and no consent on file that lifts it (as the gateway: the
    debtor's consent lifts it for contacts with the debtor only)."""
    start, end = jp.window.minutes()
    lifted = " AND NOT (night_consent AND role = 'debtor')" if jp.window.consent_lifts else ""
    return f"(local_minute < {start} OR local_minute >= {end}){lifted}"


def _window_sql(j: str, jp: JurisdictionPolicy) -> str:
    return (
        f"SELECT {_cols(jp.window.rule_id, 'time', 'local_minute')} FROM events "
        f"WHERE jurisdiction = {_lit(j)} AND direction = 'outbound' AND {_outside_legal(jp)}"
    )


LENDER_HOURS = "policy.lender_hours"
"""The gateway's rule id for a contact inside the legal window but outside the lender's own
hours or on one of its quiet days (policy `lender_window`, `quiet_weekdays`, `quiet_dates`)."""


def _hhmm(v: str) -> int:
    return int(v[:2]) * 60 + int(v[3:])


def _stricter_hours(
    lender_window: Any, quiet_weekdays: tuple[int, ...], quiet_dates: tuple[dt.date, ...]
) -> list[str]:
    """Conditions under which a contact is outside a lender window or on a quiet day."""
    outside = []
    if lender_window is not None:
        ls, le = _hhmm(lender_window.start), _hhmm(lender_window.end)
        outside.append(f"(local_minute < {ls} OR local_minute >= {le})")
    if quiet_weekdays:
        outside.append(f"local_weekday IN ({', '.join(str(int(d)) for d in quiet_weekdays)})")
    if quiet_dates:
        days = ", ".join(str((d - _EPOCH).days) for d in quiet_dates)
        outside.append(f"local_day IN ({days})")
    return outside


def _overlay_match(ov: Overlay) -> str:
    """The events an overlay is in force for: its lender and product, on the recipient's
    local days from `effective_from` (inclusive) to `effective_to` (exclusive)."""
    cond = [f"local_day >= {(ov.effective_from - _EPOCH).days}"]
    if ov.effective_to is not None:
        cond.append(f"local_day < {(ov.effective_to - _EPOCH).days}")
    if ov.lender is not None:
        cond.append(f"lender_id = {_lit(ov.lender)}")
    if ov.product is not None:
        cond.append(f"product = {_lit(ov.product)}")
    return "(" + " AND ".join(cond) + ")"


def _lender_hours_sql(j: str, jp: JurisdictionPolicy, overlays: list[Overlay]) -> str:
    """Inside the legal window (or the debtor's consent lifts it for a contact with the
    debtor) but outside a lender window (the policy's, or an overlay's in force: windows
    intersect), on a quiet day, or outside the debtor's preferred hours (contacts with the
    debtor and guarantors only)."""
    outside = _stricter_hours(jp.lender_window, jp.quiet_weekdays, jp.quiet_dates)
    for ov in overlays:
        extra = _stricter_hours(ov.lender_window, ov.quiet_weekdays, ov.quiet_dates)
        if extra:
            outside.append(f"({_overlay_match(ov)} AND ({' OR '.join(extra)}))")
    outside.append(
        f"(role NOT IN {THIRD} AND pref_start IS NOT NULL "
        "AND (local_minute < pref_start OR local_minute >= pref_end))"
    )
    return (
        f"SELECT {_cols(LENDER_HOURS, 'time', 'local_minute')} FROM events "
        f"WHERE jurisdiction = {_lit(j)} AND direction = 'outbound' "
        f"AND NOT ({_outside_legal(jp)}) AND ({' OR '.join(outside)})"
    )


def _excluded(jp: JurisdictionPolicy) -> str | None:
    """The events that are Reg F excluded calls under the policy's `excluded_calls` (None: no
    such block), as the gateway's `excluded_calls`: the call answers the recipient's own
    request, or it is a call to the debtor at or after the debtor's prior consent, on local
    day 1…N of it (day 1 = the recipient's local day the consent was given; N = the shorter
    of the policy's `days` and the row's `call_consent_days`, 7 when empty)."""
    ex = jp.excluded_calls
    if ex is None:
        return None
    grounds: list[str] = []
    if ex.person_request is not None:
        grounds.append("COALESCE(responds_to_request, FALSE)")
    if ex.prior_consent is not None:
        grounds.append(
            "(role = 'debtor' AND consent_ts IS NOT NULL AND consent_ts <= ts "
            f"AND local_day - consent_day < LEAST({int(ex.prior_consent.days)}, "
            f"COALESCE(consent_days, {MAX_CONSENT_DAYS})))"
        )
    return f"({' OR '.join(grounds)})" if grounds else None


def _cap_sql(j: str, cap: Cap, overlays: list[Overlay], excluded: str | None = None) -> str:
    """A subject event with at least `limit` counted events before it in its window breaks
    the cap; the limit is the lowest of the policy's and of the overlays in force for it.

    `excluded` (see `_excluded`), for a cap marked `excludable`: such events are neither
    counted nor judged, except that a conversation on one still counts toward a
    `conversations_block` cap (as the gateway's `cap_checks` keeps its block key)."""
    over: list[str] = []
    if cap.limit is not None:
        over.append(f"prior >= {int(cap.limit)}")
    over += [
        f"({_overlay_match(ov)} AND prior >= {int(ov.cap_limits[cap.id])})"
        for ov in overlays
        if cap.id in ov.cap_limits
    ]
    assert over, cap.id
    if cap.scope == "phone":
        key = "phone_key"
    else:
        base = "debtor_id" if cap.scope == "debtor" else "debt_id"
        key = (
            f"CASE WHEN role = 'debtor' THEN {base} "
            f"ELSE concat({base}, '/', role, '/', phone_key) END"
        )
    state = f" AND state IN {_in(list(cap.states))}" if cap.states else ""
    counted, subject = _COUNTED[cap.what], _SUBJECT[cap.what]
    if excluded is not None and cap.excludable:
        subject = f"({subject}) AND NOT {excluded}"
        if cap.what != "conversations_block":
            counted = f"({counted}) AND NOT {excluded}"
    return (
        f"SELECT {_cols(cap.id, 'frequency', 'prior')} FROM ("
        "SELECT event_id, subj, local_day, lender_id, product, "
        "SUM(cnt) OVER (PARTITION BY k ORDER BY ts, event_id "
        "ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) - cnt - "
        "COALESCE(SUM(cnt) OVER (PARTITION BY k ORDER BY local_day "
        f"RANGE BETWEEN UNBOUNDED PRECEDING AND {cap.window_days} PRECEDING), 0) AS prior "
        "FROM (SELECT event_id, ts, local_day, lender_id, product, "
        f"{key} AS k, "
        f"CASE WHEN {counted} THEN 1 ELSE 0 END AS cnt, "
        f"CASE WHEN {subject} THEN 1 ELSE 0 END AS subj "
        f"FROM events WHERE jurisdiction = {_lit(j)} AND direction = 'outbound' "
        f"AND channel IN {_in(list(cap.channels))} AND role IN {_in(list(cap.roles))}{state}"
        f") c) w WHERE subj = 1 AND ({' OR '.join(over)})"
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
        ovs = overlays_for(policy, j)
        out.append(_window_sql(j, jp))
        out.append(_lender_hours_sql(j, jp, ovs))
        ex = _excluded(jp)
        out.extend(_cap_sql(j, cap, ovs, ex) for cap in jp.caps if _judged(policy, j, cap))
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
