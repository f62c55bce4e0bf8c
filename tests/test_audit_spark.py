"""The Spark engine (local mode) gives the IDENTICAL violation set as the local engine.

Needs pyspark and Java 17+; without them this test FAILS with what to install (it never
skips: CI must run it)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest
import yaml

from collectguard.audit.engine_local import run_local
from collectguard.audit.generate import generate, write_log
from collectguard.audit.readers import EventStore, load_events, read_events
from collectguard.audit.rules import AuditParams
from collectguard.audit.violations import identity
from collectguard.gateway.policy import load_policy
from test_audit_engine import scenario
from test_audit_excluded_calls import call, eight
from test_audit_profiles import OVERLAY, RUSH, one

# PySpark 4 warns that it does not fully support pandas 3 (FutureWarning) on every pandas
# conversion; our conversions are plain columns, checked by the equality below.
pytestmark = pytest.mark.filterwarnings(
    "ignore:PySpark does not yet fully support pandas:FutureWarning"
)


def test_spark_and_local_engines_agree(tmp_path: Path) -> None:
    from collectguard.audit.engine_spark import SparkUnavailable, check_spark, run_spark

    try:
        check_spark()
    except SparkUnavailable as exc:
        pytest.fail(f"Spark engine cannot run here: {exc}")
    g = generate(600, seed=11, shuffle=True)  # with consent and preferred hours on rows
    rows, _ = scenario()
    for r in rows:
        r["event_id"] = "S" + r["event_id"]
    acme = {"lender_id": "acme", "product": "card"}
    profiles = [  # debtors D101… of their own
        one(101, "22:30", night_consent="true"),
        one(102, "23:10", night_consent="true", preferred_hours="09:00-18:00"),
        one(103, "19:00", preferred_hours="09:00-18:00"),
        one(104, "19:00", preferred_hours="09:00-18:00", recipient_role="emergency_contact"),
        one(105, "09:30", occurred_at="2026-01-07T09:30:00+08:00", **acme),
        one(106, "09:30", occurred_at="2026-01-07T09:30:00+08:00", lender_id="acme"),
        one(107, "10:00", text=RUSH),
    ]
    calls = {"channel": "call", "debtor_id": "D109", "debt_id": "L109", "recipient_phone": "139"}
    profiles += [
        one(110 + k, "10:00", occurred_at=f"2026-01-08T1{k}:00:00+08:00", **calls, **acme)
        for k in range(3)
    ]
    # Reg F excluded calls (US): answering the person's request, the debtor's prior consent
    # (day 1…7 in her zone), and a conversation on an excluded call that blocks a later call
    us = eight(debtor_id="D120")
    us[7]["responds_to_request"] = "true"  # E0001…E0007 fill the window; E0008 is excluded
    us.append(call(9, 11, 16, debtor_id="D120"))  # the eighth counted call: 7-in-7
    consented = eight(call_consent_at="2026-01-06T04:00:00+00:00", debtor_id="D121")
    for k, r in enumerate(consented, start=11):  # days 2…7 (New York) excluded: no finding
        r["event_id"] = f"E{k:04d}"
    # a two-day consent given Jan 9 covers Jan 9 and 10 only: Jan 11 counts, and its third
    # call is the eighth counted within 7 days (a 7-day consent would cover all three)
    slots = [(5, 10), (5, 14), (6, 10), (7, 10), (8, 10), (9, 10), (10, 10)]
    slots += [(11, 10), (11, 12), (11, 16)]
    short = [
        call(40 + k, d, h, debtor_id="D123", call_consent_at="2026-01-09T08:00:00-05:00")
        for k, (d, h) in enumerate(slots)
    ]
    for r in short:
        r["call_consent_days"] = "2"
    us += [
        *consented,
        call(30, 5, 10, outcome="conversation", responds_to_request="true", debtor_id="D122"),
        call(31, 8, 10, debtor_id="D122"),
        *short,
    ]
    for r in us:
        r["debt_id"] = r["debtor_id"].replace("D", "L")
    profiles += us
    for r in profiles:
        r["event_id"] = "P" + r["event_id"]
    log = write_log(g.events + rows + profiles, tmp_path / "log.parquet")
    events, stats = read_events(log)
    assert stats.rejected == 0 and stats.out_of_order > 0
    # a lender's policy file with its own hours, a quiet day and an overlay for ACME cards, so
    # that every rule kind runs; and a rule-pack overlay for the content rules
    raw = yaml.safe_load(
        resources.files("collectguard.gateway").joinpath("policy.yaml").read_text("utf-8")
    )
    raw["jurisdictions"]["cn"]["lender_window"] = {"start": "08:30", "end": "20:30"}
    raw["jurisdictions"]["cn"]["quiet_dates"] = ["2026-01-11"]
    raw["overlays"] = [
        {
            "id": "acme-cards",
            "jurisdiction": "cn",
            "lender": "acme",
            "product": "card",
            "effective_from": "2026-01-06",
            "lender_window": {"start": "10:00", "end": "19:00", "citation": "ACME §7"},
            "cap_limits": {"cn.freq.unanswered_attempts": 2},
        }
    ]
    (tmp_path / "p.yaml").write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    (tmp_path / "acme.yaml").write_text(OVERLAY, encoding="utf-8")
    policy, params = load_policy(tmp_path / "p.yaml"), AuditParams()
    packs = (str(tmp_path / "acme.yaml"),)
    local = run_local(events, policy, params, packs=packs)
    with EventStore(tmp_path / "work", memory_limit="512MB") as store:
        load_events(log, store)
        local_disk = run_local(store, policy, params, packs=packs, workers=2)
        spark = run_spark(store, policy, params, packs=packs, master="local[2]")
    assert len(local) > 20
    found = set(zip(local["event_id"], local["rule_id"], strict=True))
    assert {
        ("PE0101", "policy.lender_hours"),  # consent lifts the law, not the lender's 20:30
        ("PE0102", "policy.lender_hours"),  # nor her own hours
        ("PE0103", "policy.lender_hours"),  # outside her preferred hours
        ("PE0105", "policy.lender_hours"),  # before the ACME overlay's 10:00
        ("PE0112", "cn.freq.unanswered_attempts"),  # the overlay's cap of 2
        ("PE0107", "cn.acme.no_rush_wording"),  # the pack overlay's content rule
    } <= found
    us_ids = {r["event_id"] for r in us}  # P-prefixed above
    us_found = {(e, r) for e, r in found if e in us_ids}
    assert us_found == {
        ("PE0009", "us.regf.7in7"),
        ("PE0031", "us.regf.after_conversation"),
        ("PE0049", "us.regf.7in7"),
    }
    quiet = {"PE0104", "PE0106", "PE0111"}
    assert {(e, r) for e, r in found if e in quiet} == set()
    assert ("PE0101", "cn.hours") not in found
    assert set(local["kind"]) == {"time", "frequency", "third_party", "stop", "content"}
    assert identity(local_disk) == identity(local)
    assert identity(spark) == identity(local)
    assert list(spark["event_id"]) == list(local["event_id"])  # same order after finalize
