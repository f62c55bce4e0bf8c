"""The command line: the batch contract, errors that keep the order, exit codes, reports."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from collectguard.cli import app

runner = CliRunner()


def _batch(lines: list[bytes], *args: str) -> tuple[int, list[dict[str, object]]]:
    result = runner.invoke(app, ["check", "--jsonl", "-", *args], input=b"\n".join(lines) + b"\n")
    out = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    return result.exit_code, out


def test_batch_contract_fields_and_order() -> None:
    msgs = [
        {
            "text": "【速借宝】您的借款已逾期3天，今天再不还就上门。",
            "sender": None,
            "received_at": None,
            "id": 1,
        },
        {
            "text": "【某某银行】验证码：482913，5分钟内有效。",
            "sender": "95599",
            "received_at": "2025-01-01T10:00:00+08:00",
            "id": 2,
        },
    ]
    code, out = _batch([json.dumps(m, ensure_ascii=False).encode() for m in msgs])
    assert code == 0
    assert [o["input"]["id"] for o in out] == [1, 2]  # extra fields pass through, order kept
    for o in out:
        for key in (
            "is_collection",
            "collection_score",
            "platform",
            "authenticity",
            "scam_score",
            "violations",
            "findings",
            "advice",
        ):
            assert key in o
    assert out[0]["is_collection"] is True
    assert any(v["code"] == "threat" for v in out[0]["violations"])
    v = out[0]["violations"][0]
    assert {"code", "rule_id", "span", "evidence", "citation", "severity"} <= set(v)
    text = msgs[0]["text"]
    assert isinstance(text, str)
    s, e = v["span"]
    assert text[s:e] == v["evidence"]
    assert out[1]["is_collection"] is False


def test_bad_lines_keep_their_place() -> None:
    good = json.dumps({"text": "您的借款已逾期，请还款"}, ensure_ascii=False).encode()
    lines = [
        good,
        b"{not json",
        b"\xff\xfe broken utf-8",
        b'{"text": 42}',
        b'["a list"]',
        b'{"text": "x", "received_at": "yesterday"}',
        good,
    ]
    code, out = _batch(lines)
    assert code == 3
    assert len(out) == 7
    assert "error" not in out[0] and "error" not in out[6]
    for i, needle in [
        (1, "not valid JSON"),
        (2, "UTF-8"),
        (3, "'text' must be a string"),
        (4, "JSON object"),
        (5, "ISO-8601"),
    ]:
        assert out[i]["line"] == i + 1
        assert needle in str(out[i]["error"])


def test_stop_on_error_stops() -> None:
    good = json.dumps({"text": "您的借款已逾期"}, ensure_ascii=False).encode()
    code, out = _batch([good, b"{oops", good], "--stop-on-error")
    assert code == 2
    assert len(out) == 1


def test_blank_lines_are_skipped_not_counted() -> None:
    good = json.dumps({"text": "您的借款已逾期"}, ensure_ascii=False).encode()
    code, out = _batch([good, b"", b"   ", good])
    assert code == 0 and len(out) == 2


def test_single_check_report_and_json() -> None:
    result = runner.invoke(app, ["check", "你这个老赖，欠款逾期再不还就爆你通讯录"])
    assert result.exit_code == 0
    assert "insult" in result.stdout and "contacts_relatives_or_employer" in result.stdout
    result = runner.invoke(app, ["check", "您的借款已逾期", "--json"])
    assert json.loads(result.stdout)["is_collection"] is True


def test_fail_on_and_usage_errors() -> None:
    scam = "您的账户涉嫌洗钱，请将资金转入安全账户配合资金清查。"
    assert runner.invoke(app, ["check", scam, "--fail-on", "scam"]).exit_code == 1
    assert runner.invoke(app, ["check"]).exit_code == 2
    bad_time = runner.invoke(app, ["check", "x", "--at", "tomorrow"])
    assert bad_time.exit_code == 2 and "ISO-8601" in bad_time.stderr
    missing = runner.invoke(app, ["check", "--jsonl", "/nonexistent/file.jsonl"])
    assert missing.exit_code == 2


def test_rules_and_registry_commands() -> None:
    listing = runner.invoke(app, ["rules", "list", "--pack", "cn"])
    assert listing.exit_code == 0 and "cn.hours" in listing.stdout
    shown = runner.invoke(app, ["rules", "show", "cn.hours"])
    assert json.loads(shown.stdout)["code"] == "night_time"
    assert runner.invoke(app, ["rules", "show", "cn.nope"]).exit_code == 2
    tested = runner.invoke(app, ["rules", "test"])
    assert tested.exit_code == 0, tested.stderr
    assert " 0 failed" in tested.stdout
    found = runner.invoke(app, ["registry", "search", "安逸花"])
    assert found.exit_code == 0 and "mashang_cfc" in found.stdout


def test_installed_entry_point_streams_stdin(tmp_path: Path) -> None:
    exe = Path(sys.executable).parent / "collectguard"
    if not exe.exists():
        pytest.fail(f"console script not installed next to {sys.executable}; run `make setup`")
    data = "\n".join(
        json.dumps({"text": t}, ensure_ascii=False) for t in ["您的借款已逾期", "Your code is 1234"]
    )
    proc = subprocess.run(
        [str(exe), "check", "--jsonl", "-", "--no-findings"],
        input=data.encode(),
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr.decode()
    outs = [json.loads(x) for x in proc.stdout.decode().splitlines()]
    assert len(outs) == 2 and "findings" not in outs[0]


def test_unknown_timezone_is_a_clear_cli_error() -> None:
    from typer.testing import CliRunner

    from collectguard.cli.app import app

    res = CliRunner().invoke(app, ["check", "您的借款已逾期", "--tz", "Mars/Olympus"])
    assert res.exit_code == 2
    assert "unknown time zone 'Mars/Olympus'" in res.output and "Traceback" not in res.output
    res = CliRunner().invoke(app, ["evidence", "cases", "--tz", "Mars/Olympus"])
    assert res.exit_code == 2 and "未知时区" in res.output


def test_a_message_that_looks_like_rich_markup_is_shown_as_it_is(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """ "[/x]" in a signature crashed `check` (Rich read the claimed name as a closing tag);
    brackets in texts and names are printed as they are."""
    monkeypatch.setenv("COLUMNS", "200")
    text = "【催收[/x]金融】你再不还款[red]就上门找你[/red]，通知你的家人"
    result = runner.invoke(app, ["check", text])
    assert result.exit_code == 0, result.output
    assert "催收[/x]金融 (by signature" in result.stdout
    assert "[red]" in result.stdout
