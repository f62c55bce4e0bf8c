"""Semgrep-style annotated fixtures for rule packs.

A fixture file holds cases. Each case is one message line preceded by annotation lines:

    # ruleid: cn.content.threat_violence          the rule must fire on the next message
    # ok: cn.content.insult                       the rule must not fire
    # todoruleid: cn.content.insult               a known miss (reported as debt, not failure)
    # expect: collection=true authenticity=scam   verdict fields that must hold
    # sender: 10690000000   /  # at: 2025-01-01T23:10:00+08:00  /  # tz: Asia/Shanghai
    ## a comment line (ignored)

History-aware rules (daily caps) cannot fire on one message; their fixtures are timelines in
``<pack>.history-fixtures.yaml`` (`parse_history_fixtures`): a list of cases, each with
``ruleid``/``ok`` lists, an optional ``tz`` and ``events`` — ``{sms|call: <type>, at: <ISO
time>, duration_s: N, repeat: N, every_minutes: M}`` (``call`` takes an Android call type:
incoming, missed, rejected, blocked …).

Strictness: a rule that fires on a case without a `ruleid`/`todoruleid` annotation for it is a
false positive, exactly as in Semgrep. Parsing is pure; running needs an analyzer callable.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import yaml

from collectguard._yaml import safe_load as safe_yaml
from collectguard.errors import RulePackError

_ANNOTATIONS = ("ruleid", "ok", "todoruleid", "todook", "expect", "sender", "at", "tz")


@dataclass(slots=True)
class FixtureCase:
    line: int
    text: str
    must_fire: set[str] = field(default_factory=set)
    must_not_fire: set[str] = field(default_factory=set)
    todo_fire: set[str] = field(default_factory=set)
    todo_ok: set[str] = field(default_factory=set)
    expect: dict[str, str] = field(default_factory=dict)
    sender: str | None = None
    at: dt.datetime | None = None
    tz: str | None = None


@dataclass(slots=True)
class CaseOutcome:
    case: FixtureCase
    fired: set[str]
    false_negatives: set[str]
    false_positives: set[str]
    wrong_expectations: list[str]
    todo_still_missing: set[str]

    @property
    def ok(self) -> bool:
        return not (self.false_negatives or self.false_positives or self.wrong_expectations)


def parse_fixtures(raw: str, origin: str) -> list[FixtureCase]:
    cases: list[FixtureCase] = []
    pending = FixtureCase(line=0, text="")
    have_annotation = False
    for lineno, line in enumerate(raw.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("##"):
            continue
        if stripped.startswith("#"):
            body = stripped[1:].strip()
            key, sep, value = body.partition(":")
            key = key.strip()
            if not sep or key not in _ANNOTATIONS:
                raise RulePackError(
                    f"{origin}:{lineno}: unknown annotation {body!r}; use one of "
                    + ", ".join(f"'{a}:'" for a in _ANNOTATIONS)
                )
            value = value.strip()
            ids = {v.strip() for v in value.split(",") if v.strip()}
            have_annotation = True
            if key == "ruleid":
                pending.must_fire |= ids
            elif key == "ok":
                pending.must_not_fire |= ids
            elif key == "todoruleid":
                pending.todo_fire |= ids
            elif key == "todook":
                pending.todo_ok |= ids
            elif key == "expect":
                for pair in value.split():
                    k, eq, v = pair.partition("=")
                    if not eq:
                        raise RulePackError(
                            f"{origin}:{lineno}: expect needs key=value, got {pair!r}"
                        )
                    pending.expect[k] = v
            elif key == "sender":
                pending.sender = value
            elif key == "at":
                try:
                    pending.at = dt.datetime.fromisoformat(value)
                except ValueError as exc:
                    raise RulePackError(f"{origin}:{lineno}: bad time {value!r}: {exc}") from None
            elif key == "tz":
                pending.tz = value
            continue
        if not have_annotation:
            raise RulePackError(f"{origin}:{lineno}: message without annotations before it")
        pending.line = lineno
        pending.text = line.rstrip("\n")
        cases.append(pending)
        pending = FixtureCase(line=0, text="")
        have_annotation = False
    if have_annotation:
        raise RulePackError(f"{origin}: annotations at the end of the file with no message")
    return cases


def run_case(
    case: FixtureCase,
    check: Callable[[FixtureCase], Any],
    known_rule_ids: set[str],
) -> CaseOutcome:
    """Run one case; `check` returns a CheckResult-like object for it."""
    result = check(case)
    fired = {v.rule_id for v in result.violations}
    annotated = case.must_fire | case.todo_fire
    fn = case.must_fire - fired
    fp = {r for r in fired - annotated if r in known_rule_ids}
    fp |= fired & case.must_not_fire
    wrong: list[str] = []
    for key, want in case.expect.items():
        if key == "collection":
            got = str(bool(result.is_collection)).lower()
        elif key == "authenticity":
            got = str(result.authenticity)
        elif key == "platform":
            got = str(result.platform.id if result.platform else None)
        elif key == "claimed":
            got = str(result.platform.claimed_name if result.platform else None)
        else:
            wrong.append(f"unknown expectation {key!r}")
            continue
        if got != want:
            wrong.append(f"{key}: expected {want}, got {got}")
    return CaseOutcome(case, fired, fn, fp, wrong, case.todo_fire - fired)


@dataclass(frozen=True, slots=True)
class HistoryEvent:
    """One contact in a history fixture: an SMS or a call of an Android call type."""

    kind: str  # "sms" or "call"
    at: dt.datetime
    call_type: str = ""
    duration_s: int = 0


@dataclass(slots=True)
class HistoryCase:
    index: int
    events: list[HistoryEvent]
    must_fire: set[str] = field(default_factory=set)
    must_not_fire: set[str] = field(default_factory=set)
    tz: str | None = None


def parse_history_fixtures(raw: str, origin: str) -> list[HistoryCase]:
    """Timeline cases for history-aware rules (see the module docstring for the format)."""
    try:
        doc = safe_yaml(raw)
    except yaml.YAMLError as exc:
        raise RulePackError(f"{origin}: not valid YAML: {exc}") from None
    if not isinstance(doc, list):
        raise RulePackError(f"{origin}: must be a YAML list of cases")
    cases: list[HistoryCase] = []
    for i, item in enumerate(doc, start=1):
        where = f"{origin}: case {i}"
        if not isinstance(item, dict) or not isinstance(item.get("events"), list):
            raise RulePackError(f"{where}: needs a mapping with an 'events' list")
        unknown = set(item) - {"ruleid", "ok", "tz", "events", "note"}
        if unknown:
            raise RulePackError(f"{where}: unknown keys {sorted(unknown)}")
        case = HistoryCase(
            index=i,
            events=[],
            must_fire=set(item.get("ruleid") or []),
            must_not_fire=set(item.get("ok") or []),
            tz=item.get("tz"),
        )
        if not (case.must_fire or case.must_not_fire):
            raise RulePackError(f"{where}: annotate it with 'ruleid' or 'ok'")
        for ev in item["events"]:
            case.events.extend(_history_events(ev, where))
        cases.append(case)
    return cases


def _history_events(ev: Any, where: str) -> list[HistoryEvent]:
    if not isinstance(ev, dict) or ("sms" in ev) == ("call" in ev):
        raise RulePackError(f"{where}: each event needs exactly one of 'sms' or 'call': {ev!r}")
    at = ev.get("at")
    try:
        start = at if isinstance(at, dt.datetime) else dt.datetime.fromisoformat(str(at))
    except ValueError:
        raise RulePackError(f"{where}: bad time {at!r}") from None
    if start.tzinfo is None:
        raise RulePackError(f"{where}: time {at!r} needs a UTC offset")
    repeat = int(ev.get("repeat", 1))
    step = dt.timedelta(minutes=int(ev.get("every_minutes", 10)))
    kind = "sms" if "sms" in ev else "call"
    call_type = "" if kind == "sms" else str(ev["call"])
    return [
        HistoryEvent(kind, start + k * step, call_type, int(ev.get("duration_s", 0)))
        for k in range(repeat)
    ]
