"""`collectguard gateway …` sub-app: check (readable and --json), dry run, export, verify."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from collectguard.gateway.cli import gateway_app

runner = CliRunner()
OK = "【招联金融】您的借款已到期，请通过招联金融App还款。"


def check(db: Path, *args: str) -> tuple[int, str]:
    res = runner.invoke(
        gateway_app,
        ["check", "--db", str(db), "--phone", "13812345678", "--tz", "Asia/Shanghai", *args],
    )
    return res.exit_code, res.output


def test_check_allow_readable_zh_first(tmp_path: Path) -> None:
    code, out = check(tmp_path / "gw.db", "--text", OK, "--at", "2030-01-02T10:00:00+08:00")
    assert code == 0, out
    assert out.index("决定") < out.index("decision")
    assert "允许 allow" in out and "attempt id" in out


def test_check_night_defers_json(tmp_path: Path) -> None:
    code, out = check(
        tmp_path / "gw.db", "--text", OK, "--at", "2030-01-02T23:00:00+08:00", "--json"
    )
    assert code == 1
    d = json.loads(out)
    assert d["decision"] == "defer"
    assert d["not_before"].startswith("2030-01-03T08:00:00")
    assert d["reasons"][0]["rule_id"] == "cn.hours"


def test_check_deny_shows_citation(tmp_path: Path) -> None:
    code, out = check(
        tmp_path / "gw.db",
        "--text",
        "【XX金融】再不还款就爆你通讯录",
        "--at",
        "2030-01-02T10:00:00+08:00",
    )
    assert code == 1
    assert "拒绝 deny" in out and "依据 / citation" in out


def test_check_missing_timezone_denies(tmp_path: Path) -> None:
    res = runner.invoke(
        gateway_app,
        [
            "check",
            "--db",
            str(tmp_path / "gw.db"),
            "--phone",
            "13812345678",
            "--text",
            OK,
            "--json",
        ],
    )
    assert res.exit_code == 1
    assert json.loads(res.output)["reasons"][0]["code"] == "timezone_unknown"


def test_check_bad_input_exit_2(tmp_path: Path) -> None:
    code, out = check(tmp_path / "gw.db", "--text", OK, "--channel", "fax")
    assert code == 2 and "error" in out


def test_dry_run_allows_and_says_so(tmp_path: Path) -> None:
    code, out = check(
        tmp_path / "gw.db", "--text", OK, "--at", "2030-01-02T23:00:00+08:00", "--dry-run"
    )
    assert code == 0
    assert "would have defer" in out and "演练模式" in out


def test_request_file_export_and_verify(tmp_path: Path) -> None:
    db = tmp_path / "gw.db"
    req = {
        "debt_id": "loan-1",
        "debtor_id": "cust-1",
        "agent_id": "a",
        "channel": "call",
        "recipient": {"role": "debtor", "phone": "13812345678", "timezone": "Asia/Shanghai"},
        "planned_at": "2030-01-02T10:00:00+08:00",
        "idempotency_key": "file-1",
        "jurisdiction": "cn",
    }
    f = tmp_path / "req.json"
    f.write_text(json.dumps(req), encoding="utf-8")
    res = runner.invoke(gateway_app, ["check", "--db", str(db), "--request", str(f), "--json"])
    assert res.exit_code == 0, res.output
    out = tmp_path / "audit.jsonl"
    res = runner.invoke(gateway_app, ["export", "--db", str(db), "--out", str(out)])
    assert res.exit_code == 0, res.output
    lines = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
    assert lines[-1]["count"] == 1 and lines[-1]["ok"] is True
    assert lines[0]["payload"]["request"]["recipient"]["phone"] == "138******78"
    res = runner.invoke(gateway_app, ["verify", "--db", str(db), "--head", lines[-1]["chain_head"]])
    assert res.exit_code == 0 and "intact" in res.output
    res = runner.invoke(gateway_app, ["verify", "--db", str(db), "--head", "0" * 64])
    assert res.exit_code == 1


def test_lender_rule_pack_overlay(tmp_path: Path) -> None:
    overlay = tmp_path / "acme.yaml"
    overlay.write_text(
        (Path(__file__).parent / "data" / "cn-acme-overlay.yaml").read_text("utf-8"),
        encoding="utf-8",
    )
    text = "【招联金融】您的借款已到期，请通过招联金融App还款，可加急处理。"
    at = ["--at", "2030-01-02T10:00:00+08:00", "--json"]
    code, out = check(tmp_path / "gw.db", "--text", text, *at)
    assert code == 0, out
    code, out = check(tmp_path / "gw.db", "--text", text, "--pack", str(overlay), *at)
    assert code == 1
    d = json.loads(out)
    assert d["reasons"][0]["rule_id"] == "cn.acme.no_rush_wording"
    assert d["rule_pack"].startswith("cn-acme@")


def test_bad_pack_or_policy_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("pack: x\n", encoding="utf-8")
    code, out = check(tmp_path / "gw.db", "--text", OK, "--pack", str(bad))
    assert code == 2 and "error" in out
    code, out = check(tmp_path / "gw.db", "--text", OK, "--policy", str(bad))
    assert code == 2 and "error" in out


def test_profile_command_changes_decisions(tmp_path: Path) -> None:
    db = tmp_path / "gw.db"
    res = runner.invoke(
        gateway_app,
        ["profile", "cli-debtor", "--db", str(db), "--opt-out", "sms", "--hours", "12:00-13:00"],
    )
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["opted_out_channels"] == ["sms"]
    code, out = check(db, "--text", OK, "--at", "2030-01-02T10:00:00+08:00", "--json")
    assert code == 1 and json.loads(out)["reasons"][0]["code"] == "opted_out"
    res = runner.invoke(gateway_app, ["profile", "cli-debtor", "--db", str(db), "--opt-in", "sms"])
    assert json.loads(res.output)["opted_out_channels"] == []
    code, out = check(db, "--text", OK, "--at", "2030-01-02T10:00:00+08:00", "--json")
    d = json.loads(out)
    assert d["decision"] == "defer" and d["not_before"].startswith("2030-01-02T12:00:00")
    res = runner.invoke(gateway_app, ["profile", "cli-debtor", "--db", str(db), "--hours", "9-5"])
    assert res.exit_code == 2


def test_check_regf_excluded_calls(tmp_path: Path) -> None:
    db = tmp_path / "gw.db"
    us = ["--db", str(db), "--phone", "+16175550100", "--tz", "America/New_York"]
    us += ["--channel", "call", "--jurisdiction", "us", "--at", "2030-01-08T10:00:00-05:00"]

    def us_check(*args: str) -> tuple[int, str]:
        res = runner.invoke(gateway_app, ["check", *us, *args])
        return res.exit_code, res.output

    for _ in range(7):
        assert us_check()[0] == 0
    code, out = us_check()
    assert code == 1 and "us.regf.7in7" in out
    code, out = us_check("--responds-to-request")
    assert code == 0, out
    assert "备注 / note: excluded_call:person_request" in out and "1006.14(b)(3)(i)" in out
    code, out = us_check("--call-consent-at", "2030-01-08T09:00:00-05:00", "--json")
    assert code == 0, out
    assert "day 1 of 7" in json.loads(out)["notes"][0]
    code, out = us_check("--call-consent-at", "2030-01-08 09:00")  # no offset
    assert code == 2 and "UTC offset" in out
    res = runner.invoke(
        gateway_app, ["profile", "cli-debtor", "--db", str(db), "--call-consent-at", "none"]
    )
    assert res.exit_code == 0 and json.loads(res.output)["call_consent_at"] is None
    assert us_check()[0] == 1  # revoked: counted again


def test_a_bad_policy_file_stops_serve_and_check_clearly(tmp_path: Path) -> None:
    """`serve` refuses a policy it cannot use before starting any worker; `check` too."""
    bad = tmp_path / "policy.yaml"
    bad.write_text("version: 1\njurisdictions: {cn: {window: nope}}\n", encoding="utf-8")
    for policy in (bad, tmp_path / "missing.yaml"):
        res = runner.invoke(gateway_app, ["serve", "--policy", str(policy), "--port", "1"])
        assert res.exit_code == 2 and f"policy {policy}" in res.output, res.output
        assert "Traceback" not in res.output
        res = runner.invoke(
            gateway_app,
            ["check", "--db", str(tmp_path / "g.db"), "--policy", str(policy), "--debt", "d1",
             "--debtor", "p1", "--phone", "13800000000", "--tz", "Asia/Shanghai",
             "--text", "您好"],
        )  # fmt: skip
        assert res.exit_code == 2 and f"policy {policy}" in res.output, res.output


def test_ledger_url_puts_the_log_where_the_replicas_share_it(tmp_path: Path) -> None:
    """`--ledger-url` (as `serve` has): decisions and profile changes go to that log, and
    `export`/`verify` read it there; the `--db` file keeps the state only."""
    db, shared = tmp_path / "state.db", tmp_path / "shared-log.db"
    url = f"sqlite:///{shared}"
    code, _ = check(db, "--text", "您好，请按时还款。", "--ledger-url", url)
    assert code in (0, 1)
    res = runner.invoke(
        gateway_app, ["profile", "p1", "--db", str(db), "--ledger-url", url, "--cease"]
    )
    assert res.exit_code == 0, res.output
    out = tmp_path / "audit.jsonl"
    res = runner.invoke(gateway_app, ["export", "--ledger-url", url, "--out", str(out)])
    assert res.exit_code == 0, res.output
    kinds = [json.loads(line).get("kind") for line in out.read_text("utf-8").splitlines()[:-1]]
    assert kinds.count("decision") == 1 and kinds.count("profile") == 1
    head = json.loads(out.read_text("utf-8").splitlines()[-1])["chain_head"]
    res = runner.invoke(gateway_app, ["verify", "--ledger-url", url, "--head", head])
    assert res.exit_code == 0, res.output
    # the state file holds no log entries of its own
    res = runner.invoke(gateway_app, ["export", "--db", str(db), "--out", str(out)])
    assert res.exit_code == 0 and out.read_text("utf-8").count('"kind"') == 0
