"""The audit pipeline: read and validate the log → run an engine → scorecards and repeat
offenders → violations.parquet, scorecards.json, summary.json and the HTML reports.

The validated events live in an `EventStore` on disk under `work_dir` (default: the system
temporary folder), removed at the end; DuckDB works within `memory_limit` and spills beyond
it. What stays in Python memory is one chunk of rows while reading, the violations table and
the per-agent-day-hour contact counts.
"""

from __future__ import annotations

import datetime as dt
import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import pandas as pd
import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]

from collectguard.audit.readers import EventStore, load_events
from collectguard.audit.report import render_html
from collectguard.audit.rules import AuditParams, load_overlay, rule_packs
from collectguard.audit.scorecard import _week, contacts_frame, repeat_offenders, scorecards
from collectguard.errors import PolicyError
from collectguard.gateway.policy import Policy, load_policy

Engine = Literal["local", "spark"]
LANGS = ("zh-CN", "en")


def run_engine(
    engine: Engine,
    events: pa.Table | EventStore,
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
    packs: tuple[str, ...] = (),
) -> dict[str, Any]:
    vio = violations
    bad_events = int(vio["event_id"].nunique()) if len(vio) else 0
    if "n" not in contacts.columns:
        contacts = contacts.assign(n=1)
    n_contacts = int(contacts["n"].sum())
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
    vol = contacts.groupby("agency")["n"].sum()
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
        contacts["n"].groupby(_week(contacts["local_day"], contacts["local_weekday"])).sum()
        if n_contacts
        else {}
    )
    vw = _week(vio["local_day"], vio["local_weekday"]).value_counts() if len(vio) else {}
    weeks = sorted(set(getattr(cw, "index", [])) | set(getattr(vw, "index", [])))
    return {
        "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "engine": engine,
        "policy_version": policy.version,
        "rule_packs": [f"{p.name}@{p.version}" for p in rule_packs(packs).values()],
        "policy_overlays": [
            {
                "id": ov.id,
                "jurisdiction": ov.jurisdiction,
                "lender": ov.lender,
                "product": ov.product,
                "from": ov.effective_from.isoformat(),
                "to": ov.effective_to.isoformat() if ov.effective_to else None,
            }
            for ov in policy.overlays
        ],
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
    overlays: tuple[str, ...] = (),
    work_dir: Path | str | None = None,
    memory_limit: str | None = None,
    read_workers: int = 1,
    log_name: str | None = None,
    progress: Callable[[str, int], None] | None = None,
) -> dict[str, Any]:
    """Audit one log into `out_dir`; return the JSON summary (also written to summary.json).

    `log_name`: how the summary and the reports name the log (default: its path; a server
    passes the uploaded file's name so its folders never reach a report). A rejects file in
    `out_dir` is named without its folder. `progress(stage, rows)`: called as the audit moves
    on — ``read`` (rows read so far, every few ten thousand rows), ``rules`` and ``report``
    (rows read in all) — e.g. for a status page.

    `packs`: rule packs or overlays for the content rules; `overlays`: rule-pack overlays
    (`extends: cn`), checked to be overlays. `work_dir`: where the validated events are kept
    while auditing (default: the system temporary folder); `memory_limit`: DuckDB's (e.g.
    "2GB"; default DuckDB's own, 80 % of RAM). `workers`: processes for the content rules;
    `read_workers`: processes that validate rows while this one parses (worth it with more
    than two free cores: the rows are pickled to them)."""
    params = params or AuditParams()
    packs = (*packs, *(load_overlay(o) for o in overlays))
    rule_packs(packs)  # fail early: unreadable pack, two for one jurisdiction
    policy = load_policy(policy_path)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rejects_path = Path(rejects) if rejects else out / "rejects.jsonl"
    timings: dict[str, float] = {}
    with EventStore(work_dir or tempfile.gettempdir(), memory_limit=memory_limit) as store:
        t0 = time.perf_counter()
        stats = load_events(
            log,
            store,
            rejects=rejects_path,
            error_budget=error_budget,
            fallback_encoding=fallback_encoding,
            strict_order=strict_order,
            workers=read_workers,
            progress=(lambda rows: progress("read", rows)) if progress is not None else None,
        )
        timings["read_s"] = time.perf_counter() - t0
        if progress is not None:
            progress("rules", stats.input_rows)
        t1 = time.perf_counter()
        try:
            violations = run_engine(
                engine, store, policy, params, workers=workers, packs=packs, master=master
            )
        except PolicyError as exc:  # a value the SQL cannot take: name the file it came from
            raise PolicyError(f"policy {policy_path or '(shipped)'}: {exc}") from None
        timings["engine_s"] = time.perf_counter() - t1
        if progress is not None:
            progress("report", stats.input_rows)
        t2 = time.perf_counter()
        contacts = contacts_frame(store)
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
        rejects_file=rejects_path.name if rejects_path.parent == out else str(rejects_path),
        packs=packs,
    )
    if log_name is not None:
        summary["log"]["path"] = log_name
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
