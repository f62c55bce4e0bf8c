"""Contact profiles and overlays in the audit: consent to night contact, the debtor's preferred
hours, policy overlays by lender / product / date, and rule-pack overlays — judged as the
gateway judges them before sending (a property test asks the gateway's own `plan`)."""

from __future__ import annotations

import datetime as dt
import functools
from importlib import resources
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pyarrow as pa  # type: ignore[import-untyped]
import pytest
import yaml
from hypothesis import example, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from collectguard.audit.engine_local import run_local
from collectguard.audit.generate import write_log
from collectguard.audit.readers import EVENT_SCHEMA, read_events
from collectguard.audit.rules import AuditParams, catalogue
from collectguard.audit.run import audit
from collectguard.audit.schema import validate_row
from collectguard.errors import RulePackError
from collectguard.gateway.core import ContentChecker, plan
from collectguard.gateway.models import ContactProfile, DecisionRequest, PreferredHours
from collectguard.gateway.policy import Policy, default_policy
from test_audit_readers import ev

START = dt.date(2026, 1, 5)  # a Monday


def raw_policy() -> dict[str, Any]:
    text = resources.files("collectguard.gateway").joinpath("policy.yaml").read_text("utf-8")
    return yaml.safe_load(text)  # type: ignore[no-any-return]


@functools.lru_cache(maxsize=1)
def lender_policy() -> Policy:
    """A lender's file: its own window and a quiet Sunday, and an overlay for ACME cards
    from 2026-01-07 (narrower window, quiet Saturday, 2 unanswered calls a day)."""
    raw = raw_policy()
    raw["jurisdictions"]["cn"]["lender_window"] = {
        "start": "08:30",
        "end": "21:00",
        "citation": "lender policy §1",
    }
    raw["jurisdictions"]["cn"]["quiet_weekdays"] = [7]
    raw["overlays"] = [
        {
            "id": "acme-cards",
            "jurisdiction": "cn",
            "lender": "acme",
            "product": "card",
            "effective_from": "2026-01-07",
            "effective_to": "2026-01-10",
            "lender_window": {"start": "10:00", "end": "19:00", "citation": "ACME policy §7"},
            "quiet_weekdays": [6],
            "cap_limits": {"cn.freq.unanswered_attempts": 2},
        }
    ]
    return Policy.model_validate(raw)


def table_of(rows: list[dict[str, Any]]) -> pa.Table:
    norm = [(*validate_row(r), i + 1) for i, r in enumerate(rows)]
    cols = list(zip(*norm, strict=True)) if norm else [[] for _ in EVENT_SCHEMA.names]
    return pa.Table.from_arrays(
        [pa.array(c, type=f.type) for c, f in zip(cols, EVENT_SCHEMA, strict=True)],
        schema=EVENT_SCHEMA,
    )


def found(v: Any, event_id: str) -> set[str]:
    return set(v.loc[v["event_id"] == event_id, "rule_id"])


def one(i: int, hhmm: str, **kw: Any) -> dict[str, Any]:
    """An SMS at 2026-01-05 HH:MM Beijing time to debtor D{i} (each on its own debtor)."""
    base = {
        "occurred_at": f"2026-01-05T{hhmm}:00+08:00",
        "debtor_id": f"D{i}",
        "debt_id": f"L{i}",
        "recipient_phone": f"1380000{i:04d}",
    }
    return ev(i, **{**base, **kw})


def test_consent_lifts_the_night_window_as_the_gateway_does() -> None:
    rows = [
        one(1, "22:30", night_consent="true"),
        one(2, "22:30"),
        one(3, "07:00", night_consent="yes"),
        # the consent is the debtor's own: it lifts the window for contacts with the debtor
        # only, never for a third party or a guarantor (as in the gateway)
        one(4, "23:00", night_consent="true", recipient_role="emergency_contact"),
        one(5, "07:30", night_consent="true", recipient_role="guarantor"),
        one(6, "23:00", night_consent="true", recipient_role="third_party"),
        one(7, "12:00", night_consent="true", recipient_role="emergency_contact"),
    ]
    v = run_local(table_of(rows), default_policy(), AuditParams())
    assert found(v, "E0001") == set() and found(v, "E0003") == set()
    assert found(v, "E0002") == {"cn.hours"}
    assert found(v, "E0004") == found(v, "E0005") == found(v, "E0006") == {"cn.hours"}
    assert found(v, "E0007") == set()
    raw = raw_policy()
    raw["jurisdictions"]["cn"]["window"]["consent_lifts"] = False
    strict = run_local(table_of(rows), Policy.model_validate(raw), AuditParams())
    assert found(strict, "E0001") == {"cn.hours"} and found(strict, "E0003") == {"cn.hours"}


def test_preferred_hours_bind_the_debtor_and_guarantors_not_third_parties() -> None:
    pref = {"preferred_hours": "09:00-18:00"}
    rows = [
        one(1, "19:00", **pref),
        one(2, "10:00", **pref),
        one(3, "19:00", recipient_role="emergency_contact", **pref),
        one(4, "19:00", recipient_role="guarantor", **pref),
        one(5, "23:00", **pref),  # the legal window decides: cn.hours, not both
        one(6, "23:00", night_consent="true", **pref),  # consent lifts the law, not her hours
        one(7, "08:59", **pref),
    ]
    v = run_local(table_of(rows), default_policy(), AuditParams())
    assert found(v, "E0001") == {"policy.lender_hours"}
    assert found(v, "E0002") == set() and found(v, "E0003") == set()
    assert found(v, "E0004") == {"policy.lender_hours"}
    assert found(v, "E0005") == {"cn.hours"}
    assert found(v, "E0006") == {"policy.lender_hours"}
    assert found(v, "E0007") == {"policy.lender_hours"}
    row = v[v["event_id"] == "E0001"].iloc[0]
    assert "preferred hours 09:00–18:00" in row["evidence"] and "偏好时段" in row["evidence"]
    assert row["binding"] == "lender_policy" and "debtor preferred hours" in row["citation"]
    assert (row["pref_start"], row["pref_end"]) == (540, 1080)


def test_policy_overlays_apply_by_lender_product_and_local_day() -> None:
    acme = {"lender_id": "acme", "product": "card"}
    rows = [
        # Wed 2026-01-07, 09:30: inside the lender's 08:30–21:00 but before ACME's 10:00
        one(1, "09:30", occurred_at="2026-01-07T09:30:00+08:00", **acme),
        one(2, "09:30", occurred_at="2026-01-07T09:30:00+08:00", lender_id="acme"),
        one(3, "09:30", occurred_at="2026-01-06T09:30:00+08:00", **acme),  # not yet in force
        one(4, "11:00", occurred_at="2026-01-10T11:00:00+08:00", **acme),  # Sat: ended 01-10
        one(5, "11:00", occurred_at="2026-01-11T11:00:00+08:00"),  # Sunday: quiet for all
        one(6, "08:15"),  # before the lender's 08:30
    ]
    # three unanswered calls to one number on Thursday: the overlay's cap is 2
    calls = {"channel": "call", "debtor_id": "D9", "debt_id": "L9", "recipient_phone": "139"}
    rows += [
        ev(90 + k, occurred_at=f"2026-01-08T1{k}:00:00+08:00", **calls, **acme) for k in range(3)
    ]
    rows += [  # and for another lender the policy's 6 apply
        ev(95 + k, occurred_at=f"2026-01-08T1{k}:00:00+08:00", **{**calls, "debtor_id": "D8"})
        for k in range(3)
    ]
    for r in rows[-3:]:
        r["recipient_phone"] = "137"
    policy = lender_policy()
    v = run_local(table_of(rows), policy, AuditParams())
    assert found(v, "E0001") == {"policy.lender_hours"}
    assert found(v, "E0002") == set() and found(v, "E0003") == set()
    assert found(v, "E0004") == set()
    assert found(v, "E0005") == {"policy.lender_hours"}
    assert found(v, "E0006") == {"policy.lender_hours"}
    assert found(v, "E0092") == {"cn.freq.unanswered_attempts"}
    assert found(v, "E0091") == set() and found(v, "E0097") == set()
    row = v[v["event_id"] == "E0092"].iloc[0]
    assert "(cap 2)" in row["evidence"] and "#3" in row["evidence"]
    cat = catalogue(policy, AuditParams())
    assert cat["policy.lender_hours"].citation.startswith("lender policy §1; ACME policy §7")
    overlay_caps = cat["cn.freq.unanswered_attempts"].params["overlay_limits"]
    assert overlay_caps[0]["overlay"] == "acme-cards" and overlay_caps[0]["limit"] == 2


ROLES = ("debtor", "guarantor", "emergency_contact", "third_party")
PREFS = (None, ("09:00", "18:00"), ("12:00", "21:00"), ("07:00", "10:00"))
case = st.tuples(
    st.sampled_from(("cn", "cn", "us")),
    st.booleans(),  # night consent
    st.sampled_from(range(len(PREFS))),
    st.sampled_from(ROLES),
    st.integers(0, 6),  # day of the week from Monday 2026-01-05
    st.integers(0, 24 * 4 - 1),  # quarter hour of the local day
    st.sampled_from((None, "acme", "other")),
    st.sampled_from((None, "card")),
)
CONTENT = ContentChecker()


@settings(max_examples=25, deadline=None)
@given(st.lists(case, min_size=5, max_size=25))
# always tried: consent on file and contacts at night (23:00, 07:00) with each role, in both
# jurisdictions; the consent takes only the debtor's contacts out of the legal window
@example(
    [(j, True, 0, role, 1, q, None, None) for j in ("cn", "us") for role in ROLES for q in (92, 28)]
)
def test_time_verdicts_equal_the_gateways_plan(cases: list[tuple[Any, ...]]) -> None:
    """Whatever consent, preferred hours, role, lender, product and local time: the audit
    flags a contact under the rule the gateway would have deferred it by, and only then."""
    policy = lender_policy()
    rows, expected = [], set()
    for i, (j, consent, pref, role, day, quarter, lender, product) in enumerate(cases):
        tz = "Asia/Shanghai" if j == "cn" else "America/New_York"
        local = dt.datetime.combine(
            START + dt.timedelta(days=day), dt.time(quarter // 4, quarter % 4 * 15)
        ).replace(tzinfo=ZoneInfo(tz))
        hours = PREFS[pref]
        req = DecisionRequest.model_validate(
            {
                "debt_id": f"L{i}",
                "debtor_id": f"D{i}",
                "recipient": {"role": role, "phone": f"1380000{i:04d}", "timezone": tz},
                "channel": "call",
                "agent_id": "A1",
                "idempotency_key": f"k{i}",
                "jurisdiction": j,
                "planned_at": local.isoformat(),
                "lender_id": lender,
                "product": product,
            }
        )
        profile = ContactProfile(
            night_consent=consent,
            preferred_hours=PreferredHours(start=hours[0], end=hours[1]) if hours else None,
            debtor_unreachable=True,  # third parties are judged on time only here
        )
        p = plan(req, profile, policy, CONTENT, local)
        if p.verdict == "deny":  # windows that never meet: the gateway refuses outright
            continue
        event_id = f"E{i:04d}"
        if p.verdict == "defer":
            expected.add((event_id, p.reasons[0].rule_id))
        rows.append(
            ev(
                i,
                occurred_at=local.isoformat(),
                debtor_id=f"D{i}",
                debt_id=f"L{i}",
                recipient_role=role,
                recipient_phone=f"1380000{i:04d}",
                recipient_timezone=tz,
                channel="call",
                jurisdiction=j,
                text=None,
                night_consent=consent,
                preferred_hours=f"{hours[0]}-{hours[1]}" if hours else None,
                lender_id=lender,
                product=product,
            )
        )
    v = run_local(table_of(rows), policy, AuditParams())
    assert set(zip(v["event_id"], v["rule_id"], strict=True)) == expected


OVERLAY = (Path(__file__).parent / "data" / "cn-acme-overlay.yaml").read_text("utf-8")
RUSH = "【XX消费金融】您的借款已到期，请通过官方App还款，可加急处理。"


def test_rule_pack_overlay_in_the_audit_and_its_cli(tmp_path: Path) -> None:
    overlay = tmp_path / "acme.yaml"
    overlay.write_text(OVERLAY, encoding="utf-8")
    log = write_log([one(1, "10:00", text=RUSH), one(2, "11:00")], tmp_path / "log.csv")
    base = audit(log, tmp_path / "base", html=False)
    assert base["violations"] == 0
    s = audit(log, tmp_path / "o", html=False, overlays=(str(overlay),), workers=2)
    assert [r["rule_id"] for r in s["by_rule"]] == ["cn.acme.no_rush_wording"]
    assert s["by_rule"][0]["citation"] == "ACME collection wording policy §3"
    assert any(p.startswith("cn-acme@") for p in s["rule_packs"])
    # Spark and DuckDB read the same overlay (in the Spark equivalence test too); a whole
    # pack is not an overlay, and two overlays for one jurisdiction are refused
    whole = tmp_path / "whole.yaml"
    whole.write_text(OVERLAY.replace("extends: cn\n", ""), encoding="utf-8")
    with pytest.raises(RulePackError, match="not an overlay"):
        audit(log, tmp_path / "x", overlays=(str(whole),))
    with pytest.raises(RulePackError, match="second pack or overlay for 'cn'"):
        audit(log, tmp_path / "y", overlays=(str(overlay), str(overlay)))

    from collectguard.audit.cli import audit_app

    runner = CliRunner()
    args = ["run", str(log), "--out", str(tmp_path / "cli"), "--overlay", str(overlay)]
    res = runner.invoke(audit_app, [*args, "--memory-limit", "512MB"])
    assert res.exit_code == 0, res.output
    assert "违规 1 条" in res.output
    res = runner.invoke(audit_app, ["run", str(log), "--overlay", str(whole)])
    assert res.exit_code == 2 and "not an overlay" in res.output


def test_audit_keeps_its_work_folder_under_work_dir_and_removes_it(tmp_path: Path) -> None:
    rows = [one(i, "10:00", preferred_hours="11:00-12:00") for i in range(1, 30)]
    log = write_log(rows, tmp_path / "log.parquet")
    work = tmp_path / "work"
    s = audit(log, tmp_path / "out", work_dir=work, memory_limit="300MB", html=False)
    assert s["violations"] == 29 and s["by_rule"][0]["rule_id"] == "policy.lender_hours"
    assert work.is_dir() and list(work.iterdir()) == []
    table, _ = read_events(log)
    assert table.column("pref_start").to_pylist() == [660] * 29
