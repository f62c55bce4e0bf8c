"""The log generator streams: chunk by chunk in time order, the same events as in memory,
deterministic by seed, with its truth written beside the log."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq  # type: ignore[import-untyped]
import pytest

from collectguard.audit.engine_local import run_local
from collectguard.audit.generate import (
    DAYS,
    MIX,
    generate,
    read_truth,
    score,
    stream_log,
    write_log,
    write_stream,
)
from collectguard.audit.readers import read_events
from collectguard.audit.rules import AuditParams
from collectguard.gateway.policy import default_policy


def instants(events: list[dict[str, object]]) -> list[dt.datetime]:
    return [dt.datetime.fromisoformat(str(e["occurred_at"])) for e in events]


def test_stream_is_chunked_in_time_order_and_equals_the_in_memory_log() -> None:
    s = stream_log(5000, seed=4)
    chunks = list(s.chunks())
    assert DAYS - 2 <= len(chunks) <= DAYS + 1  # about a day of traffic per chunk
    assert max(len(c) for c in chunks) < 5000 / DAYS * 2
    events = [e for c in chunks for e in c]
    assert len(events) == 5000
    assert instants(events) == sorted(instants(events))
    assert [e["event_id"] for e in events] == [f"E{i:09d}" for i in range(1, 5001)]
    g = generate(5000, seed=4)
    assert g.events == events
    assert [(t.event_id, t.must, t.kind) for t in g.truth] == [
        (t.event_id, t.must, t.kind) for t in s.truth
    ]
    ids = {e["event_id"] for e in events}
    assert all(t.event_id in ids for t in s.truth)
    assert Counter(t.kind for t in s.truth) == {k: max(1, round(v * 5)) for k, v in MIX.items()}


def test_deterministic_by_seed_and_profiles_on_rows() -> None:
    a, b, c = generate(2000, seed=9), generate(2000, seed=9), generate(2000, seed=10)
    assert a.events == b.events and a.events != c.events
    consent = [e for e in a.events if e["night_consent"]]
    assert consent and {e["recipient_timezone"] for e in a.events} <= {
        "Asia/Shanghai",
        "Asia/Urumqi",
    }
    assert any(e["preferred_hours"] for e in a.events)
    assert {e["lender_id"] for e in a.events} == {"xxcf"}


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_write_stream_matches_write_log(tmp_path: Path, fmt: str) -> None:
    n = write_stream(stream_log(1500, seed=2), tmp_path / f"s.{fmt}", tmp_path / "t.jsonl")
    g = generate(1500, seed=2)
    write_log(g.events, tmp_path / f"m.{fmt}")
    assert n == 1500
    if fmt == "parquet":  # row groups differ (a day per group vs 65,536 rows), rows do not
        assert pq.read_table(tmp_path / "s.parquet").equals(pq.read_table(tmp_path / "m.parquet"))
    else:
        assert (tmp_path / f"s.{fmt}").read_bytes() == (tmp_path / f"m.{fmt}").read_bytes()
    truth = read_truth(tmp_path / "t.jsonl")
    assert [t.event_id for t in truth] == [t.event_id for t in g.truth]
    table, stats = read_events(tmp_path / f"s.{fmt}")
    assert stats.rejected == 0 and table.num_rows == 1500


def test_parquet_is_written_in_row_groups(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from collectguard.audit import generate as gen

    monkeypatch.setattr(gen, "ROW_GROUP", 100)
    write_stream(stream_log(1000, seed=1), tmp_path / "g.parquet", tmp_path / "t.jsonl")
    meta = pq.ParquetFile(tmp_path / "g.parquet").metadata
    assert meta.num_rows == 1000 and meta.num_row_groups >= 10
    assert pq.read_schema(tmp_path / "g.parquet").field("night_consent").type == "bool"


def test_shuffled_stream_is_unsorted_within_chunks(tmp_path: Path) -> None:
    s = stream_log(1200, seed=5, shuffle=True)
    events = [e for c in s.chunks() for e in c]
    assert instants(events) != sorted(instants(events))
    path = write_log(events, tmp_path / "u.jsonl")
    _, stats = read_events(path)
    assert stats.out_of_order > 0 and stats.rejected == 0


def test_consent_and_preferred_hours_are_scored_exactly(tmp_path: Path) -> None:
    """Lawful night contacts under consent are not flagged; contacts outside the debtor's
    preferred hours are (`policy.lender_hours`), and every structural kind is found."""
    g = generate(6000, seed=12)
    assert sum(1 for e in g.events if e["night_consent"]) > 20
    events, _ = read_events(write_log(g.events, tmp_path / "g.parquet"))
    v = run_local(events, default_policy(), AuditParams())
    s = score(g.truth, zip(v["event_id"], v["rule_id"], strict=True))
    for kind in ("night", "preferred", "conversations", "unanswered", "reachable", "opt_out"):
        assert s["per_kind"][kind]["found"] == s["per_kind"][kind]["truth"], kind
    assert s["fp"] == 0, s["false_positives"]
    night = [
        e
        for e in g.events
        if e["night_consent"]
        and not 8 <= dt.datetime.fromisoformat(str(e["occurred_at"])).hour < 22
    ]
    assert night and not set(v["event_id"]) & {e["event_id"] for e in night}
    # the consent is the debtor's own: the lawful night contacts are all with the debtor
    assert {e["recipient_role"] for e in night} == {"debtor"}


def test_cli_generate_streams_with_truth(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from collectguard.audit.cli import audit_app

    out = tmp_path / "c.csv"
    res = CliRunner().invoke(audit_app, ["generate", str(out), "--events", "900", "--seed", "3"])
    assert res.exit_code == 0, res.output
    lines = (tmp_path / "c.csv.truth.jsonl").read_text(encoding="utf-8").splitlines()
    assert lines and all(json.loads(x)["event_id"].startswith("E") for x in lines)
    assert out.read_text(encoding="utf-8").count("\n") == 901
    us = tmp_path / "us.jsonl"
    res = CliRunner().invoke(audit_app, ["generate", str(us), "--events", "900", "--us-share", "1"])
    assert res.exit_code == 0, res.output
    rows = [json.loads(x) for x in us.read_text(encoding="utf-8").splitlines()]
    assert {r["jurisdiction"] for r in rows} == {"us"} and len(rows) == 900
    bad = CliRunner().invoke(audit_app, ["generate", str(us), "--us-share", "1.5"])
    assert bad.exit_code == 2 and "us-share" in bad.output


def _typed_rows(n: int, seed: int) -> list[dict[str, object]]:
    rows = generate(n, seed=seed).events[:n]
    for i, r in enumerate(rows):
        r["night_consent"] = i % 3 == 0
        r["call_consent_days"] = 1 + i % 7
    return rows


def test_parquet_later_chunks_with_text_in_typed_columns(tmp_path: Path) -> None:
    """Column types come from the first chunk (bool, int32); a later chunk that writes the
    same values as text is stored as the audit reads that text — the Parquet log reads
    exactly like a CSV of the same rows."""
    from collectguard.audit.generate import LogWriter

    first, later = _typed_rows(40, 3), _typed_rows(40, 4)
    texts = ["yes", "No", "", "TRUE", "0", None, "f", "1"]
    for i, r in enumerate(later):
        r["event_id"] = f"later-{i}"
        r["night_consent"] = texts[i % len(texts)]
        r["call_consent_days"] = ["3", " 7 ", "", None, 2][i % 5]
    with LogWriter(tmp_path / "log.parquet") as w:
        w.write(first)
        w.write(later)
    schema = pq.read_schema(tmp_path / "log.parquet")
    assert schema.field("night_consent").type == "bool"
    assert schema.field("call_consent_days").type == "int32"
    stored = pq.read_table(tmp_path / "log.parquet").to_pylist()[40:]
    assert [r["night_consent"] for r in stored[:8]] == [
        True, False, None, True, False, None, False, True
    ]  # fmt: skip
    assert [r["call_consent_days"] for r in stored[:5]] == [3, 7, None, None, 2]
    from_parquet, s1 = read_events(tmp_path / "log.parquet")
    from_csv, s2 = read_events(write_log(first + later, tmp_path / "log.csv"))
    assert s1.rejected == s2.rejected == 0
    for col in ("night_consent", "consent_days"):
        assert from_parquet.column(col).to_pylist() == from_csv.column(col).to_pylist(), col


@pytest.mark.parametrize(
    ("column", "bad"),
    [("night_consent", "maybe"), ("call_consent_days", "three"), ("call_consent_days", True)],
)
def test_parquet_refuses_what_a_typed_column_cannot_hold(
    tmp_path: Path, column: str, bad: object
) -> None:
    """A value the first chunk's column type cannot hold is refused with its row and column,
    and the rows already written stay readable."""
    from collectguard.audit.generate import LogWriter

    later = _typed_rows(10, 6)
    later[4][column] = bad
    with pytest.raises(
        ValueError, match=rf"row 25: {column} = .*whole number|row 25: {column} = .*true/false"
    ):
        with LogWriter(tmp_path / "log.parquet") as w:
            w.write(_typed_rows(20, 5))
            w.write(later)
    assert pq.read_table(tmp_path / "log.parquet").num_rows == 20


def test_us_debtors_are_scored_exactly_and_excluded_calls_are_not_flagged(
    tmp_path: Path,
) -> None:
    """With `us_share`, US debtors get English texts and calls in their own zones; night texts,
    8th calls within 7 days and calls after a conversation are found exactly, and the Reg F
    excluded calls (prior consent, the debtor's request) are not flagged — unless their consent
    and request are taken away, when the 7-in-7 cap catches them."""
    from collectguard.audit.generate import US_MIX, US_ZONES

    s = stream_log(8000, seed=21, us_share=0.3)
    events = [e for c in s.chunks() for e in c]
    assert instants(events) == sorted(instants(events))  # western zones keep the stream sorted
    us = [e for e in events if e["jurisdiction"] == "us"]
    assert 0.2 < len(us) / len(events) < 0.4
    assert {e["recipient_timezone"] for e in us} <= set(US_ZONES)
    assert all(e["state"] == US_ZONES[str(e["recipient_timezone"])] for e in us)
    assert all(e["recipient_role"] == "debtor" for e in us)
    assert {e["channel"] for e in us} == {"sms", "call"}
    assert {t.kind for t in s.truth} >= set(US_MIX) - {"us_excluded_calls"}
    excluded = [e for e in us if e["call_consent_at"] or e["responds_to_request"]]
    assert len(excluded) >= 9 and any(e["responds_to_request"] for e in excluded)

    policy, params = default_policy(), AuditParams()
    table, stats = read_events(write_log(events, tmp_path / "us.csv"))
    assert stats.rejected == 0
    v = run_local(table, policy, params)
    result = score(s.truth, zip(v["event_id"], v["rule_id"], strict=True))
    for kind in ("us_night", "us_7in7", "us_after_conversation"):
        assert result["per_kind"][kind]["found"] == result["per_kind"][kind]["truth"] > 0, kind
    assert result["fp"] == 0, result["false_positives"]

    for e in excluded:  # the same calls without what excluded them
        e["call_consent_at"] = e["call_consent_days"] = e["responds_to_request"] = None
    table, _ = read_events(write_log(events, tmp_path / "us-no-consent.csv"))
    again = run_local(table, policy, params)
    flagged = set(zip(again["event_id"], again["rule_id"], strict=True))
    ids = {e["event_id"] for e in excluded}
    assert any(eid in ids and rid == "us.regf.7in7" for eid, rid in flagged)


def test_us_texts_of_the_generator_are_lawful_under_the_us_pack() -> None:
    from collectguard.analyze.analyzer import Analyzer
    from collectguard.audit.generate import US_REMINDERS

    for text in US_REMINDERS:
        result = Analyzer.default().check(text, jurisdiction="us")
        assert result.is_collection and result.violations == [], text


def test_us_share_is_checked_and_zero_adds_no_us_traffic() -> None:
    with pytest.raises(ValueError, match="us_share"):
        stream_log(100, us_share=1.5)
    assert {e["jurisdiction"] for e in generate(2000, seed=9).events} == {"cn"}
    only_us = generate(2000, seed=9, us_share=1.0)
    assert {e["jurisdiction"] for e in only_us.events} == {"us"}
    assert {t.kind for t in only_us.truth} == {"us_night", "us_7in7", "us_after_conversation"}
