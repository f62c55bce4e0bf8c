"""Audit log readers: per-row rejects with line numbers, error budget, reconciliation."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]
import pytest

from collectguard.audit.generate import FIELDS, write_log
from collectguard.audit.readers import AuditInputError, ErrorBudgetExceeded, read_events
from collectguard.audit.schema import AuditEvent


def ev(i: int, **kw: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "event_id": f"E{i:04d}",
        "occurred_at": f"2026-01-05T{10 + i % 8:02d}:00:00+08:00",
        "debtor_id": "D1",
        "debt_id": "L1",
        "recipient_role": "debtor",
        "recipient_phone": "13800000001",
        "recipient_timezone": "Asia/Shanghai",
        "channel": "sms",
        "direction": "outbound",
        "outcome": "delivered",
        "agent_id": "A1",
        "team": "T1",
        "agency": "G1",
        "jurisdiction": "cn",
        "text": "您好",
        "state": None,
    }
    base.update(kw)
    return base


def rejects(path: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()]


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_formats_read_the_same_rows(tmp_path: Path, fmt: str) -> None:
    events = [ev(i) for i in range(5)]
    path = write_log(events, tmp_path / f"log.{fmt}")
    table, stats = read_events(path)
    assert stats.input_rows == stats.audited == 5 and stats.reconciled
    assert table.column("event_id").to_pylist() == [e["event_id"] for e in events]
    # local wall clock of the recipient: 10:00 Shanghai → minute 600
    assert table.column("local_minute").to_pylist()[0] == 600


def test_bad_rows_go_to_rejects_with_line_and_reason(tmp_path: Path) -> None:
    events = [
        ev(0),
        ev(1, recipient_timezone="Mars/Olympus"),
        ev(0, occurred_at="2026-01-05T11:00:00+08:00"),  # duplicate id
        ev(3, occurred_at="2026-01-05T12:00:00"),  # no offset
        ev(4, channel="pigeon"),
        ev(5),
    ]
    path = write_log(events, tmp_path / "log.csv")
    table, stats = read_events(path, rejects=tmp_path / "rej.jsonl")
    assert (stats.input_rows, stats.audited, stats.rejected) == (6, 2, 4)
    assert stats.reconciled and table.num_rows == 2
    rej = rejects(tmp_path / "rej.jsonl")
    assert [r["line"] for r in rej] == [3, 4, 5, 6]
    assert "unknown IANA zone 'Mars/Olympus'" in rej[0]["reason"]
    assert rej[1]["reason"].startswith("duplicate: event_id 'E0000' first seen at line 2")
    assert "no UTC offset" in rej[2]["reason"]
    assert rej[3]["reason"].startswith("channel:")


def test_missing_column_is_a_file_error(tmp_path: Path) -> None:
    path = tmp_path / "log.csv"
    path.write_text("event_id,occurred_at\nE1,2026-01-05T10:00:00+08:00\n", encoding="utf-8")
    with pytest.raises(AuditInputError, match="missing columns: debtor_id"):
        read_events(path)
    pq.write_table(pa.table({"event_id": ["E1"]}), tmp_path / "log.parquet")
    with pytest.raises(AuditInputError, match="missing columns"):
        read_events(tmp_path / "log.parquet")


def test_jsonl_row_missing_field_and_broken_json(tmp_path: Path) -> None:
    a = ev(0)
    b = ev(1)
    del b["agent_id"]
    path = tmp_path / "log.jsonl"
    path.write_text(
        json.dumps(a) + "\n" + json.dumps(b) + "\n{not json\n\n" + json.dumps(ev(2)) + "\n",
        encoding="utf-8",
    )
    _, stats = read_events(path, rejects=tmp_path / "r.jsonl")
    assert (stats.input_rows, stats.audited, stats.rejected) == (4, 2, 2)
    rej = rejects(tmp_path / "r.jsonl")
    assert rej[0]["line"] == 2 and "missing agent_id" in rej[0]["reason"]
    assert rej[1]["line"] == 3 and rej[1]["reason"].startswith("json:")


def test_mixed_encodings_rejected_or_decoded_by_fallback(tmp_path: Path) -> None:
    head = ",".join(FIELDS) + "\n"
    good = write_log([ev(0)], tmp_path / "one.csv").read_text(encoding="utf-8").splitlines()[1]
    gbk_row = good.replace("E0000", "E0001").replace("您好", "逾期提醒")
    path = tmp_path / "mixed.csv"
    path.write_bytes(
        head.encode() + (good + "\n").encode("utf-8") + (gbk_row + "\n").encode("gb18030")
    )
    _, stats = read_events(path, rejects=tmp_path / "r.jsonl")
    assert (stats.audited, stats.rejected) == (1, 1)
    reason = rejects(tmp_path / "r.jsonl")[0]["reason"]
    assert "line 3 is not valid UTF-8" in reason and "GB18030" in reason
    table, stats = read_events(path, fallback_encoding="gb18030")
    assert (stats.audited, stats.rejected, stats.fallback_decoded) == (2, 0, 1)
    assert table.column("text").to_pylist()[1] == "逾期提醒"


def test_unsorted_rows_are_counted_or_rejected_when_strict(tmp_path: Path) -> None:
    events = [
        ev(0, occurred_at="2026-01-05T12:00:00+08:00"),
        ev(1, occurred_at="2026-01-05T11:00:00+08:00"),
    ]
    path = write_log(events, tmp_path / "log.jsonl")
    _, stats = read_events(path)
    assert (stats.audited, stats.out_of_order) == (2, 1)
    _, stats = read_events(path, strict_order=True, rejects=tmp_path / "r.jsonl")
    assert (stats.audited, stats.rejected) == (1, 1)
    assert "earlier than the row at line 1" in rejects(tmp_path / "r.jsonl")[0]["reason"]


def test_error_budget_stops_the_run(tmp_path: Path) -> None:
    events = [ev(i, channel="fax") for i in range(5)]
    path = write_log(events, tmp_path / "log.csv")
    with pytest.raises(ErrorBudgetExceeded, match="more than the error budget \\(2\\)"):
        read_events(path, error_budget=2, rejects=tmp_path / "r.jsonl")
    assert len(rejects(tmp_path / "r.jsonl")) == 3  # what was rejected is kept
    _, stats = read_events(path, error_budget=5)
    assert stats.rejected == 5 and stats.reconciled


def test_schema_model_documents_every_column() -> None:
    props = AuditEvent.model_json_schema()["properties"]
    assert set(props) == set(FIELDS)
    AuditEvent.model_validate(ev(1))


def test_profile_columns_parse_and_bad_values_are_rejected(tmp_path: Path) -> None:
    rows = [
        ev(0, night_consent="TRUE", preferred_hours="09:00-18:00", lender_id="acme"),
        ev(1, night_consent="0", preferred_hours=" 10:30 - 12:00 ", product="card"),
        ev(2, night_consent="maybe"),
        ev(3, preferred_hours="18:00-09:00"),  # start after end
        ev(4, preferred_hours="9-18"),
        ev(5, lender_id="acme corp"),  # not an id
        ev(6),
    ]
    path = write_log(rows, tmp_path / "p.csv")
    table, stats = read_events(path, rejects=tmp_path / "r.jsonl")
    assert (stats.audited, stats.rejected) == (3, 4)
    t = table.to_pylist()
    assert (t[0]["night_consent"], t[0]["pref_start"], t[0]["pref_end"]) == (True, 540, 1080)
    assert (t[1]["night_consent"], t[1]["pref_start"], t[1]["pref_end"]) == (False, 630, 720)
    assert (t[0]["lender_id"], t[1]["product"]) == ("acme", "card")
    assert (t[2]["night_consent"], t[2]["pref_start"], t[2]["lender_id"]) == (False, None, None)
    reasons = [r["reason"] for r in rejects(tmp_path / "r.jsonl")]
    assert reasons[0].startswith("night_consent: 'maybe'")
    assert "needs start < end" in reasons[1]
    assert reasons[2].startswith("preferred_hours: '9-18' is not HH:MM-HH:MM")
    assert reasons[3].startswith("lender_id:")


def test_jsonl_takes_the_gateways_profile_shapes(tmp_path: Path) -> None:
    path = tmp_path / "p.jsonl"
    rows = [
        ev(0, night_consent=True, preferred_hours={"start": "09:00", "end": "18:00"}),
        ev(1, night_consent=1),
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    table, stats = read_events(path)
    assert stats.rejected == 0
    assert table.column("night_consent").to_pylist() == [True, True]
    assert table.column("pref_start").to_pylist() == [540, None]
    AuditEvent.model_validate(rows[0])  # the documented model takes the object form too


def test_duplicates_and_order_are_exact_across_chunks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Chunks are settled against the store: the answer is the one of a single pass."""
    from collectguard.audit import readers

    rows = [ev(i, occurred_at=f"2026-01-05T10:{i:02d}:00+08:00") for i in range(10)]
    rows.insert(7, ev(2, occurred_at="2026-01-05T11:00:00+08:00"))  # dup of line 4, chunk 3
    rows.insert(3, ev(1, occurred_at="2026-01-05T11:00:00+08:00"))  # dup in the same chunk
    rows.insert(9, ev(20, channel="fax"))  # invalid, between valid rows of a chunk
    rows.append(ev(21, occurred_at="2026-01-05T09:00:00+08:00"))  # out of order
    path = write_log(rows, tmp_path / "c.csv")
    whole, s1 = read_events(path, rejects=tmp_path / "r1.jsonl", strict_order=True)
    monkeypatch.setattr(readers, "CHUNK", 3)
    for workers in (1, 2):  # chunks validated here, or in two worker processes
        out = tmp_path / f"r-{workers}.jsonl"
        chunked, s2 = read_events(path, rejects=out, strict_order=True, workers=workers)
        assert whole.equals(chunked)
        assert s1.as_dict() | {"path": ""} == s2.as_dict() | {"path": ""}
        assert s2.duplicates == 2 and s2.out_of_order == 1 and s2.reconciled
        r2 = rejects(out)
        assert r2 == rejects(tmp_path / "r1.jsonl")
        assert [r["line"] for r in r2] == [5, 10, 11, 15]
        assert "first seen at line 3" in r2[0]["reason"]
        assert "first seen at line 4" in r2[1]["reason"]
        assert r2[2]["reason"].startswith("channel:") and r2[3]["reason"].startswith("order:")


def test_event_store_on_disk_spills_and_cleans_up(tmp_path: Path) -> None:
    from collectguard.audit.readers import EventStore, load_events

    path = write_log([ev(i) for i in range(20)], tmp_path / "log.parquet")
    with EventStore(tmp_path / "work", memory_limit="256MB") as store:
        assert store.dir is not None and store.dir.parent == tmp_path / "work"
        stats = load_events(path, store)
        assert stats.audited == store.rows == 20
        limit = store.con.execute("SELECT current_setting('memory_limit')").fetchall()
        assert "MiB" in str(limit[0][0]), limit
        assert store.con.execute("SELECT count(*) FROM events").fetchall() == [(20,)]
        out = store.to_parquet()
        assert pq.read_table(out).num_rows == 20
    assert list((tmp_path / "work").iterdir()) == []  # the work folder is removed
    with pytest.raises(AuditInputError, match="memory limit"):
        EventStore(tmp_path / "work", memory_limit="lots")
    assert list((tmp_path / "work").iterdir()) == []  # nothing left behind


def test_seen_hashes_answer_like_a_set() -> None:
    import random

    from collectguard.audit.readers import _SeenHashes

    rng = random.Random(3)
    seen, plain = _SeenHashes(), set()
    for _ in range(40):
        ids = [f"id-{rng.randrange(5000)}" for _ in range(rng.randrange(1, 300))]
        probe = [f"id-{rng.randrange(5000)}" for _ in range(200)]
        got = seen.contains(_SeenHashes.of(probe)).tolist()
        assert got == [p in plain for p in probe]
        seen.add(_SeenHashes.of(ids))
        plain.update(ids)
    assert len(seen.runs) <= 8  # merged as it grows
