"""Audit pipeline outputs: reports (zh-CN and English, inline SVG, no network), JSON summary,
scorecards and repeat offenders; the `audit` CLI."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq  # type: ignore[import-untyped]
import pytest
import typer
from typer.testing import CliRunner

from collectguard.audit.cli import audit_app
from collectguard.audit.generate import generate, write_log
from collectguard.audit.run import audit
from collectguard.audit.scorecard import repeat_offenders


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("rep")
    g = generate(2000, seed=5)
    log = write_log(g.events, tmp / "log.csv")
    with log.open("a", encoding="utf-8") as fh:  # one bad row
        fh.write("X1,not-a-time,D1,L1,debtor,138,Asia/Shanghai,sms,outbound,delivered,A,T,G,cn,,\n")
    return tmp / "out", audit(log, tmp / "out")


def test_progress_reports_each_stage_with_rows(tmp_path: Path) -> None:
    from collectguard.audit import readers

    g = generate(3000, seed=7)
    log = write_log(g.events, tmp_path / "log.csv")
    seen: list[tuple[str, int]] = []
    old = readers.CHUNK
    readers.CHUNK = 1000  # several chunks from a small log
    try:
        summary = audit(
            log, tmp_path / "out", html=False, progress=lambda s, n: seen.append((s, n))
        )
    finally:
        readers.CHUNK = old
    rows = summary["log"]["input_rows"]
    reads = [n for s, n in seen if s == "read"]
    assert len(reads) >= 3 and reads == sorted(reads) and reads[-1] <= rows
    assert [s for s, _ in seen][-2:] == ["rules", "report"]
    assert seen[-1] == ("report", rows) and seen[-2] == ("rules", rows)


def test_outputs_and_reconciliation(result: tuple[Path, dict[str, Any]]) -> None:
    out, summary = result
    for name in (
        "violations.parquet",
        "summary.json",
        "scorecards.json",
        "rejects.jsonl",
        "report.zh-CN.html",
        "report.en.html",
    ):
        assert (out / name).is_file(), name
    log = summary["log"]
    assert log["input_rows"] == 2001 and log["rejected"] == 1 and log["reconciled"]
    table = pq.read_table(out / "violations.parquet")
    assert table.num_rows == summary["violations"] > 0
    assert {"event_id", "rule_id", "citation", "binding", "evidence"} <= set(table.column_names)
    assert sum(r["count"] for r in summary["by_rule"]) == summary["violations"]
    assert (
        json.loads((out / "summary.json").read_text(encoding="utf-8"))["violations"]
        == (summary["violations"])
    )


def test_html_reports_are_self_contained_and_bilingual(result: tuple[Path, dict[str, Any]]) -> None:
    out, _ = result
    zh = (out / "report.zh-CN.html").read_text(encoding="utf-8")
    en = (out / "report.en.html").read_text(encoding="utf-8")
    assert '<html lang="zh-CN">' in zh and "催收通信合规审计报告" in zh and "屡教不改" in zh
    assert '<html lang="en">' in en and "Repeat offenders" in en
    for page in (zh, en):
        assert page.count("<svg") == 5
        urls = re.findall(r"(?:src|href)=\"([^\"]+)\"", page)
        assert urls == []  # nothing fetched: no scripts, styles or images from elsewhere
        assert "<script" not in page
        assert "GB/T 45251-2025" in page


def test_scorecards_add_up(result: tuple[Path, dict[str, Any]]) -> None:
    out, summary = result
    cards = json.loads((out / "scorecards.json").read_text(encoding="utf-8"))["scorecards"]
    for level in ("agent", "team", "agency"):
        assert sum(c["contacts"] for c in cards[level]) == summary["contacts"]
        assert sum(c["violating_events"] for c in cards[level]) == summary["violating_events"]
    top = cards["agent"][0]
    assert top["violation_rate"] == max(c["violation_rate"] for c in cards["agent"])
    assert sum(w["contacts"] for w in top["weekly"]) == top["contacts"]


def test_repeat_offenders_within_window_only() -> None:
    day = 86_400_000_000
    rows = [
        ("E1", "A1", "cn.hours", 0),
        ("E2", "A1", "cn.hours", 10 * day),  # repeat (10 days after)
        ("E3", "A1", "cn.content.insult", 11 * day),  # another rule: not a repeat
        ("E4", "A2", "cn.hours", 0),
        ("E5", "A2", "cn.hours", 45 * day),  # outside the 30-day window
    ]
    df = pd.DataFrame(
        [
            {
                "event_id": e,
                "agent_id": a,
                "team": "T",
                "agency": "G",
                "rule_id": r,
                "ts": t,
                "occurred_at": str(t),
            }
            for e, a, r, t in rows
        ]
    )
    esc = repeat_offenders(df, window_days=30)
    assert [(e["agent_id"], e["repeats"], e["events"]) for e in esc] == [("A1", 1, ["E2"])]
    assert esc[0]["findings"] == 3


def audit_cli() -> typer.Typer:
    """The `audit` sub-app under a root app, as `collectguard audit …` runs it."""
    app = typer.Typer()
    app.add_typer(audit_app, name="audit")

    @app.command()
    def version() -> None:  # a second command so that `audit` stays a sub-command
        pass

    return app


def test_cli_generate_and_audit(tmp_path: Path) -> None:
    app = audit_cli()
    runner = CliRunner()
    log = tmp_path / "g.jsonl"
    res = runner.invoke(app, ["audit", "generate", str(log), "--events", "800"])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "g.jsonl.truth.jsonl").is_file()
    res = runner.invoke(app, ["audit", str(log), "--pack", "cn", "--out", str(tmp_path / "o")])
    assert res.exit_code == 0, res.output
    assert "已审计 8" in res.output and "audited 8" in res.output
    with log.open("a", encoding="utf-8") as fh:
        fh.write("{broken\n")
    res = runner.invoke(app, ["audit", str(log), "--out", str(tmp_path / "o2")])
    assert res.exit_code == 3, res.output  # audited, with rejects
    res = runner.invoke(
        app, ["audit", str(log), "--out", str(tmp_path / "o3"), "--error-budget", "0"]
    )
    assert res.exit_code == 2 and "error budget" in res.output


def test_pdf_without_a_browser_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from collectguard.audit import pdf

    monkeypatch.setattr(pdf, "find_browser", lambda: None)
    html = tmp_path / "r.html"
    html.write_text("<html></html>", encoding="utf-8")
    with pytest.raises(pdf.PdfUnavailable, match="no headless Chromium"):
        pdf.html_to_pdf(html, tmp_path / "r.pdf")


@pytest.mark.skipif(
    __import__("collectguard.audit.pdf", fromlist=["find_browser"]).find_browser() is None,
    reason="PDF output is optional and needs a local Chromium",
)
def test_pdf_printed_by_local_chromium(result: tuple[Path, dict[str, Any]], tmp_path: Path) -> None:
    from collectguard.audit.pdf import html_to_pdf

    out, _ = result
    pdf = html_to_pdf(out / "report.zh-CN.html", tmp_path / "report.pdf")
    assert pdf.read_bytes()[:5] == b"%PDF-" and pdf.stat().st_size > 10_000


def test_a_policy_the_audit_cannot_use_is_a_clear_cli_error(tmp_path: Path) -> None:
    """A missing, broken or unusable `--policy` file: exit 2 with the file and the fault
    named, no traceback."""
    import yaml

    from collectguard.gateway.policy import default_policy

    app = audit_cli()
    runner = CliRunner()
    log = tmp_path / "g.csv"
    assert runner.invoke(app, ["audit", "generate", str(log), "--events", "300"]).exit_code == 0
    base = default_policy().model_dump(mode="json")
    overlay = {
        "id": "o1",
        "jurisdiction": "cn",
        "lender": "x'; DROP",
        "effective_from": "2020-01-01",
        "lender_window": {"start": "09:00", "end": "20:00"},
    }
    weird = dict(base, overlays=[overlay])
    (tmp_path / "weird.yaml").write_text(yaml.safe_dump(weird, allow_unicode=True), "utf-8")
    (tmp_path / "bad.yaml").write_text("version: 1\n", "utf-8")
    (tmp_path / "broken.yaml").write_text("version: [1\n", "utf-8")
    for name, expected in (
        ("missing.yaml", "cannot read"),
        ("bad.yaml", "jurisdictions"),
        ("broken.yaml", "not valid YAML"),
        ("weird.yaml", "cannot be used by the audit"),
    ):
        policy = tmp_path / name
        res = runner.invoke(app, ["audit", str(log), "--policy", str(policy),
                                  "--out", str(tmp_path / "o")])  # fmt: skip
        assert res.exit_code == 2, (name, res.output)
        assert "策略文件有误" in res.output and expected in res.output and name in res.output
        assert "Traceback" not in res.output
