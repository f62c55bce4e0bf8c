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
from collectguard.audit.readers import read_events
from collectguard.audit.rules import AuditParams
from collectguard.audit.violations import identity
from collectguard.gateway.policy import load_policy
from test_audit_engine import scenario

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
    g = generate(600, seed=11, shuffle=True)
    rows, _ = scenario()
    for r in rows:
        r["event_id"] = "S" + r["event_id"]
    events, stats = read_events(write_log(g.events + rows, tmp_path / "log.parquet"))
    assert stats.rejected == 0 and stats.out_of_order > 0
    # a lender's policy file with its own hours and a quiet day, so that every rule kind runs
    raw = yaml.safe_load(
        resources.files("collectguard.gateway").joinpath("policy.yaml").read_text("utf-8")
    )
    raw["jurisdictions"]["cn"]["lender_window"] = {"start": "08:30", "end": "20:30"}
    raw["jurisdictions"]["cn"]["quiet_dates"] = ["2026-01-11"]
    (tmp_path / "p.yaml").write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    policy, params = load_policy(tmp_path / "p.yaml"), AuditParams()
    local = run_local(events, policy, params)
    spark = run_spark(events, policy, params, master="local[2]")
    assert len(local) > 20
    assert "policy.lender_hours" in set(local["rule_id"])
    assert set(local["kind"]) == {"time", "frequency", "third_party", "stop", "content"}
    assert identity(spark) == identity(local)
    assert list(spark["event_id"]) == list(local["event_id"])  # same order after finalize
