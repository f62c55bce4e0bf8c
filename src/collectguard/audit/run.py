"""The audit pipeline: read and validate the log → run an engine → scorecards and repeat
offenders → violations.parquet, scorecards.json, summary.json and the HTML reports."""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path
from typing import Any, Literal

import pandas as pd
import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]

from collectguard.audit.readers import read_events
from collectguard.audit.report import render_html
from collectguard.audit.rules import AuditParams
from collectguard.audit.scorecard import _week, contacts_frame, repeat_offenders, scorecards
from collectguard.gateway.policy import Policy, load_policy
from collectguard.rules.pack import load_builtin

Engine = Literal["local", "spark"]
LANGS = ("zh-CN", "en")


def run_engine(
    engine: Engine,
    events: pa.Table,
    policy: Policy,
    params: AuditParams,
    *,
    workers: int = 1,
    packs: tuple[str, ...] = (),
    master: str = "local[2]",
) -> pd.DataFrame:
    if engine == "spark":
        from collectguard.audit.engine_spark import run_spark

        return run_spark(events, policy, params, packs=packs, master=master)
    from collectguard.audit.engine_local import run_local

    return run_local(events, policy, params, workers=workers, packs=packs)


def summarize(
    violations: pd.DataFrame,
    contacts: pd.DataFrame,
    log: dict[str, Any],
    *,
    engine: str,
    policy: Policy,
    params: AuditParams,
    escalation: list[dict[str, Any]],
    rejects_file: str | None,
) -> dict[str, Any]:
    vio = violations
    bad_events = int(vio["event_id"].nunique()) if len(vio) else 0
    n_contacts = len(contacts)
    by_rule: list[dict[str, Any]] = []
    if len(vio):
        for rule_id, g in vio.groupby("rule_id"):
            first = g.iloc[0]
            by_rule.append(
                {
                    "rule_id": str(rule_id),
                    "count": len(g),
                    "events": int(g["event_id"].nunique()),
                    "kind": first["kind"],
                    "code": first["code"],
                    "severity": first["severity"],
                    "binding": first["binding"],
                    "citation": first["citation"],
                }
            )
    by_rule.sort(key=lambda r: (-int(r["count"]), str(r["rule_id"])))
    by_agency: list[dict[str, Any]] = []
    vol = contacts.groupby("agency").size()
    vag = vio.groupby("agency").size() if len(vio) else pd.Series(dtype="int64")
    for agency, n in vol.items():
        by_agency.append(
            {
                "agency": str(agency),
                "contacts": int(n),
                "violations": int(vag.get(agency, 0)),
            }
        )
    by_agency.sort(key=lambda a: -int(a["violations"]))
    cw = (
        _week(contacts["local_day"], contacts["local_weekday"]).value_counts() if n_contacts else {}
    )
    vw = _week(vio["local_day"], vio["local_weekday"]).value_counts() if len(vio) else {}
    weeks = sorted(set(getattr(cw, "index", [])) | set(getattr(vw, "index", [])))
    return {
        "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "engine": engine,
        "policy_version": policy.version,
        "rule_packs": [f"{p.name}@{p.version}" for p in (load_builtin("cn"), load_builtin("us"))],
        "params": {
            "reachable_hours": params.reachable_hours,
            "repeat_window_days": params.repeat_window_days,
            "sms_cap": params.sms_cap,
        },
        "log": log,
        "rejects_file": rejects_file,
        "contacts": n_contacts,
        "violations": len(vio),
        "violating_events": bad_events,
        "violation_rate": bad_events / n_contacts if n_contacts else 0.0,
        "by_rule": by_rule,
        "by_severity": {str(k): int(v) for k, v in vio["severity"].value_counts().items()}
        if len(vio)
        else {},
        "by_agency": by_agency,
        "weekly": [
            {"week": w, "contacts": int(cw.get(w, 0)), "violations": int(vw.get(w, 0))}
            for w in weeks
        ],
        "escalations": len(escalation),
    }


def audit(
    log: Path | str,
    out_dir: Path | str,
    *,
    engine: Engine = "local",
    policy_path: Path | str | None = None,
    packs: tuple[str, ...] = (),
    rejects: Path | str | None = None,
    error_budget: int | None = None,
    fallback_encoding: str | None = None,
    strict_order: bool = False,
    workers: int = 1,
    params: AuditParams | None = None,
    master: str = "local[2]",
    html: bool = True,
    pdf: bool = False,
) -> dict[str, Any]:
    """Audit one log into `out_dir`; return the JSON summary (also written to summary.json)."""
    params = params or AuditParams()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rejects_path = Path(rejects) if rejects else out / "rejects.jsonl"
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    events, stats = read_events(
        log,
        rejects=rejects_path,
        error_budget=error_budget,
        fallback_encoding=fallback_encoding,
        strict_order=strict_order,
    )
    timings["read_s"] = time.perf_counter() - t0
    policy = load_policy(policy_path)
    t1 = time.perf_counter()
    violations = run_engine(
        engine, events, policy, params, workers=workers, packs=packs, master=master
    )
    timings["engine_s"] = time.perf_counter() - t1
    t2 = time.perf_counter()
    contacts = contacts_frame(events)
    cards = scorecards(contacts, violations)
    escalation = repeat_offenders(violations, params.repeat_window_days)
    pq.write_table(
        pa.Table.from_pandas(violations, preserve_index=False), out / "violations.parquet"
    )
    summary = summarize(
        violations,
        contacts,
        stats.as_dict(),
        engine=engine,
        policy=policy,
        params=params,
        escalation=escalation,
        rejects_file=str(rejects_path),
    )
    (out / "scorecards.json").write_text(
        json.dumps({"scorecards": cards, "escalation": escalation}, ensure_ascii=False, indent=1),
        encoding="utf-8",
    )
    if html:
        for lang in LANGS:
            page = render_html(lang, summary, cards, escalation, contacts, violations)
            (out / f"report.{lang}.html").write_text(page, encoding="utf-8")
            if pdf:
                from collectguard.audit.pdf import html_to_pdf

                html_to_pdf(out / f"report.{lang}.html", out / f"report.{lang}.pdf")
    timings["report_s"] = time.perf_counter() - t2
    summary["timings"] = {k: round(v, 3) for k, v in timings.items()}
    (out / "summary.json").write_text(
        json.dumps(summary, ensure_ascii=False, indent=1), encoding="utf-8"
    )
    return summary
