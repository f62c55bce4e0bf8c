"""Audit rules on the local engine: each rule fires where it must and not where it must not,
with the policy's citations; generated logs are scored against their injected truth."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from collectguard.audit.engine_local import run_local
from collectguard.audit.generate import generate, score, write_log
from collectguard.audit.readers import read_events
from collectguard.audit.rules import AuditParams, catalogue
from collectguard.audit.violations import identity
from collectguard.gateway.policy import default_policy
from test_audit_readers import ev

THREAT = "再不还钱，我们就上门找你，让你全家不得安宁。"
DISCLOSE = "您好，您的朋友刘伟在我司借款已逾期，欠款5000元，请转告他尽快还款。"
CONTACT = "您好，这里是XX消费金融，有事找李明先生，请他方便时回电，谢谢。"


def at(day: int, hhmm: str, off: str = "+08:00") -> str:
    return f"2026-01-{5 + day:02d}T{hhmm}:00{off}"


def scenario() -> tuple[list[dict[str, Any]], dict[str, str]]:
    rows: list[dict[str, Any]] = []
    n = 0

    def add(**kw: Any) -> str:
        nonlocal n
        n += 1
        rows.append(ev(n, **kw))
        return rows[-1]["event_id"]

    d1 = {"debtor_id": "D1", "debt_id": "L1", "recipient_phone": "13800000001"}
    ids = {
        "night": add(occurred_at=at(0, "22:30"), **d1),
        "ok_2159": add(occurred_at=at(0, "21:59"), **d1),
        "early": add(occurred_at=at(1, "07:59"), **d1),
        # 23:30 in Beijing is 21:30 in Urumqi: the recipient's clock decides
        "urumqi": add(occurred_at=at(1, "23:30"), recipient_timezone="Asia/Urumqi", **d1),
    }
    d2 = {"debtor_id": "D2", "debt_id": "L2", "recipient_phone": "13800000002", "channel": "call"}
    conv = [add(occurred_at=at(0, f"1{i}:00"), outcome="conversation", **d2) for i in range(5)]
    add(occurred_at=at(0, "16:00"), outcome="failed", **d2)
    next_day = add(occurred_at=at(1, "10:00"), outcome="conversation", **d2)
    d3 = {"debtor_id": "D3", "debt_id": "L3", "recipient_phone": "13800000003", "channel": "call"}
    unans = [add(occurred_at=at(0, f"1{i}:00"), outcome="delivered", **d3) for i in range(7)]
    d4 = {"debtor_id": "D4", "debt_id": "L4", "channel": "call"}
    add(occurred_at=at(0, "10:00"), outcome="conversation", recipient_phone="13800000004", **d4)
    ids["reach"] = add(
        occurred_at=at(0, "12:00"),
        outcome="conversation",
        recipient_role="emergency_contact",
        recipient_phone="13900000004",
        **d4,
    )
    d5 = {
        "debtor_id": "D5",
        "debt_id": "L5",
        "recipient_role": "emergency_contact",
        "recipient_phone": "13900000005",
    }
    ids["unreachable_ok"] = add(
        occurred_at=at(0, "10:00"), channel="call", outcome="conversation", **d5
    )
    ids["disclose"] = add(occurred_at=at(0, "11:00"), text=DISCLOSE, **d5)
    ids["contact_ok"] = add(occurred_at=at(0, "12:00"), text=CONTACT, **d5)
    add(occurred_at=at(1, "10:00"), channel="call", outcome="objected", **d5)
    ids["after_objection"] = add(occurred_at=at(2, "10:00"), channel="call", **d5)
    d6 = {"debtor_id": "D6", "debt_id": "L6", "recipient_phone": "13800000006"}
    add(occurred_at=at(0, "10:00"), direction="inbound", outcome="objected", text="退订", **d6)
    ids["opt_out"] = add(occurred_at=at(1, "10:00"), **d6)
    ids["other_channel"] = add(occurred_at=at(1, "11:00"), channel="call", **d6)
    ids["threat"] = add(occurred_at=at(0, "10:00"), text=THREAT, debtor_id="D7", debt_id="L7")
    ids.update(conv4=conv[3], conv5=conv[4], next_day=next_day, unans7=unans[6], unans6=unans[5])
    return rows, ids


@pytest.fixture(scope="module")
def audited(tmp_path_factory: pytest.TempPathFactory) -> tuple[pd.DataFrame, dict[str, str]]:
    rows, ids = scenario()
    path = write_log(rows, tmp_path_factory.mktemp("eng") / "log.jsonl")
    events, stats = read_events(path)
    assert stats.rejected == 0
    return run_local(events, default_policy(), AuditParams()), ids


def rules_of(v: pd.DataFrame, event_id: str) -> set[str]:
    return set(v.loc[v["event_id"] == event_id, "rule_id"])


def test_time_window_in_recipients_zone(audited: tuple[pd.DataFrame, dict[str, str]]) -> None:
    v, ids = audited
    assert rules_of(v, ids["night"]) == {"cn.hours"}
    assert rules_of(v, ids["early"]) == {"cn.hours"}
    assert rules_of(v, ids["ok_2159"]) == set()
    assert rules_of(v, ids["urumqi"]) == set()
    row = v[v["event_id"] == ids["night"]].iloc[0]
    assert (
        "22:30" in row["evidence"]
        and row["citation"] == default_policy().for_("cn").window.citation.strip()
    )


def test_frequency_caps_count_day_aligned(audited: tuple[pd.DataFrame, dict[str, str]]) -> None:
    v, ids = audited
    cap = "cn.freq.voice_conversations"
    assert cap in rules_of(v, ids["conv4"]) and cap in rules_of(v, ids["conv5"])
    assert cap not in rules_of(v, ids["next_day"])
    assert len(v[v["rule_id"] == cap]) == 2
    assert rules_of(v, ids["unans7"]) == {"cn.freq.unanswered_attempts"}
    assert rules_of(v, ids["unans6"]) == set()
    row = v[v["event_id"] == ids["conv4"]].iloc[0]
    assert "#4" in row["evidence"] and row["binding"] == "national_standard_recommended"


def test_third_party_rules(audited: tuple[pd.DataFrame, dict[str, str]]) -> None:
    v, ids = audited
    assert rules_of(v, ids["reach"]) == {"cn.third_party.only_if_unreachable"}
    assert rules_of(v, ids["unreachable_ok"]) == set()
    assert "cn.third_party.no_debt_disclosure" in rules_of(v, ids["disclose"])
    kinds = set(v.loc[v["event_id"] == ids["disclose"], "kind"])
    assert kinds == {"third_party", "content"}  # the structural rule and the analyzer agree
    assert rules_of(v, ids["contact_ok"]) == set()
    assert rules_of(v, ids["after_objection"]) == {"cn.third_party.objected"}
    assert rules_of(v, ids["opt_out"]) == {"cn.stop.opt_out"}
    assert rules_of(v, ids["other_channel"]) == set()


def test_content_rules_keep_exact_evidence(audited: tuple[pd.DataFrame, dict[str, str]]) -> None:
    v, ids = audited
    row = v[v["event_id"] == ids["threat"]].iloc[0]
    assert row["rule_id"] == "cn.content.threat_violence" and row["severity"] == "crime"
    assert THREAT[int(row["span_start"]) : int(row["span_end"])] == row["evidence"]


def test_every_structural_finding_carries_the_policy_citation(
    audited: tuple[pd.DataFrame, dict[str, str]],
) -> None:
    v, _ = audited
    cat = catalogue(default_policy(), AuditParams())
    for r in v[v["kind"] != "content"].itertuples():
        assert r.citation == cat[r.rule_id].citation and r.citation


def test_generated_log_precision_recall_and_workers(tmp_path: Path) -> None:
    g = generate(3000, seed=3)
    events, _ = read_events(write_log(g.events, tmp_path / "g.parquet"))
    v1 = run_local(events, default_policy(), AuditParams(), workers=1)
    s = score(g.truth, zip(v1["event_id"], v1["rule_id"], strict=True))
    for kind in (
        "night",
        "conversations",
        "unanswered",
        "reachable",
        "disclosure",
        "objected",
        "opt_out",
        "insult",
    ):
        assert s["per_kind"][kind]["found"] == s["per_kind"][kind]["truth"], kind
    assert s["precision"] >= 0.95, s["false_positives"]
    v2 = run_local(events, default_policy(), AuditParams(), workers=2)
    assert identity(v1) == identity(v2)


def test_us_rules_regulation_f_and_state_caps(tmp_path: Path) -> None:
    us = {
        "jurisdiction": "us",
        "recipient_timezone": "America/New_York",
        "channel": "call",
        "debtor_id": "U1",
        "debt_id": "UL1",
        "recipient_phone": "+12025550100",
        "text": None,
    }
    rows = [
        ev(i, occurred_at=f"2026-03-0{2 + i // 2}T{10 + i % 2 * 3}:00:00-05:00", **us)
        for i in range(8)
    ]
    conv = {**us, "debtor_id": "U2", "debt_id": "UL2", "recipient_phone": "+12025550101"}
    rows.append(ev(20, occurred_at="2026-03-02T10:00:00-05:00", outcome="conversation", **conv))
    rows.append(ev(21, occurred_at="2026-03-05T10:00:00-05:00", **conv))
    rows.append(ev(22, occurred_at="2026-03-02T21:30:00-05:00", **{**conv, "debt_id": "UL3"}))
    ma = {**us, "debtor_id": "U4", "debt_id": "UL4", "recipient_phone": "+16175550100"}
    rows += [
        ev(30 + i, occurred_at=f"2026-03-0{2 + i}T11:00:00-05:00", state="MA", **ma)
        for i in range(3)
    ]
    events, _ = read_events(write_log(rows, tmp_path / "us.jsonl"))
    v = run_local(events, default_policy(), AuditParams())
    assert rules_of(v, "E0007") == {"us.regf.7in7"}  # the 8th call in 7 days
    assert all(rules_of(v, f"E{i:04d}") == set() for i in range(7))
    assert rules_of(v, "E0021") == {"us.regf.after_conversation"}
    assert rules_of(v, "E0022") == {"us.fdcpa.time"}  # 21:30 in New York
    assert rules_of(v, "E0032") == {"us.ma.2in7"} and rules_of(v, "E0031") == set()
    assert v.loc[v["rule_id"] == "us.regf.7in7", "citation"].iloc[0] == "12 CFR 1006.14(b)(2)(i)(A)"


def test_lender_hours_and_quiet_days_from_a_policy_file(tmp_path: Path) -> None:
    from importlib import resources

    import yaml

    from collectguard.gateway.policy import load_policy

    raw = yaml.safe_load(
        resources.files("collectguard.gateway").joinpath("policy.yaml").read_text("utf-8")
    )
    raw["jurisdictions"]["cn"]["lender_window"] = {
        "start": "09:00",
        "end": "20:00",
        "citation": "机构政策 / lender policy",
    }
    raw["jurisdictions"]["cn"]["quiet_weekdays"] = [7]
    path = tmp_path / "lender.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    policy = load_policy(path)
    rows = [
        ev(1, occurred_at="2026-01-05T08:30:00+08:00"),  # Monday, legal but before 09:00
        ev(2, occurred_at="2026-01-05T22:30:00+08:00"),  # outside the legal window
        ev(3, occurred_at="2026-01-11T10:00:00+08:00"),  # Sunday: a quiet day
        ev(4, occurred_at="2026-01-05T10:00:00+08:00"),  # fine
    ]
    events, _ = read_events(write_log(rows, tmp_path / "l.jsonl"))
    v = run_local(events, policy, AuditParams())
    assert rules_of(v, "E0001") == {"policy.lender_hours"}
    assert rules_of(v, "E0002") == {"cn.hours"}  # the legal rule, not both
    assert rules_of(v, "E0003") == {"policy.lender_hours"}
    assert rules_of(v, "E0004") == set()
    row = v[v["event_id"] == "E0001"].iloc[0]
    assert row["binding"] == "lender_policy" and row["citation"].startswith("机构政策")
    assert set(run_local(events, default_policy(), AuditParams())["rule_id"]) == {"cn.hours"}
