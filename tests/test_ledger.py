"""The shared hash-chained ledger: every kind of tampering is found and named."""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, create_engine, delete, text, update

from collectguard.ledger import (
    GENESIS,
    LedgerEntry,
    SqlLedger,
    canonical_json,
    ledger_entries,
    make_entry,
    verify_chain,
)

T0 = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)


def chain(n: int, stream: str = "s") -> list[LedgerEntry]:
    out: list[LedgerEntry] = []
    for i in range(n):
        out.append(make_entry(stream, out[-1] if out else None, "msg", {"i": i, "t": "短信"}, T0))
    return out


def test_intact_chain_verifies_and_reports_its_head() -> None:
    entries = chain(5)
    report = verify_chain(entries, expected_head=entries[-1].entry_hash)
    assert report.ok and report.checked == 5 and report.head == entries[-1].entry_hash
    assert entries[0].prev_hash == GENESIS and entries[1].prev_hash == entries[0].entry_hash


def test_canonical_json_is_stable_and_refuses_non_json() -> None:
    assert canonical_json({"b": 1, "a": "催"}) == '{"a":"催","b":1}'.encode()
    with pytest.raises(TypeError, match="ISO"):
        canonical_json({"at": T0})


def test_naive_time_is_refused() -> None:
    with pytest.raises(ValueError, match="time zone"):
        make_entry("s", None, "k", {}, dt.datetime(2026, 1, 1))


def test_edited_payload_is_named() -> None:
    entries = chain(4)
    e = entries[2]
    forged = LedgerEntry(**{**e.__dict__, "payload": {"i": 99, "t": "短信"}})
    report = verify_chain([*entries[:2], forged, entries[3]])
    assert not report.ok
    assert [(p.seq, p.problem) for p in report.problems] == [(3, "edited")]


def test_deleted_entry_is_named() -> None:
    entries = chain(5)
    report = verify_chain([*entries[:2], *entries[3:]])
    assert [(p.seq, p.problem) for p in report.problems] == [(3, "deleted")]


def test_deleted_tail_is_caught_by_the_recorded_head() -> None:
    entries = chain(5)
    assert verify_chain(entries[:4]).ok  # without the head nothing shows
    report = verify_chain(entries[:4], expected_head=entries[-1].entry_hash)
    assert [p.problem for p in report.problems] == ["deleted"]


def test_reordered_entries_are_named() -> None:
    entries = chain(5)
    report = verify_chain([entries[0], entries[2], entries[1], entries[3], entries[4]])
    problems = {p.problem for p in report.problems}
    assert "reordered" in problems and not report.ok


def test_inserted_entry_is_named() -> None:
    entries = chain(4)
    intruder = make_entry("s", entries[1], "msg", {"forged": True}, T0)
    report = verify_chain([*entries[:2], intruder, *entries[2:]])
    assert not report.ok
    assert {p.problem for p in report.problems} <= {"inserted", "broken_link"}
    assert any(p.problem == "inserted" for p in report.problems)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.dictionaries(st.text(max_size=5), st.one_of(st.integers(), st.text(max_size=8))),
        min_size=2,
        max_size=8,
    ),
    st.data(),
)
def test_any_single_payload_change_breaks_the_chain(
    payloads: list[dict[str, object]], data: st.DataObject
) -> None:
    entries: list[LedgerEntry] = []
    for p in payloads:
        entries.append(make_entry("p", entries[-1] if entries else None, "k", p, T0))
    i = data.draw(st.integers(0, len(entries) - 1))
    changed = {**(entries[i].payload or {}), "__tampered__": 1}
    tampered = [*entries]
    tampered[i] = LedgerEntry(**{**entries[i].__dict__, "payload": changed})
    report = verify_chain(tampered)
    assert not report.ok and report.problems[0].seq == i + 1


# ---------------------------------------------------------------------- SQL store


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    eng = create_engine(f"sqlite:///{tmp_path / 'ledger.db'}", connect_args={"timeout": 30})
    SqlLedger(eng, "evidence").create_table()
    return eng


def test_sql_ledger_appends_and_verifies(engine: Engine) -> None:
    led = SqlLedger(engine, "evidence")
    first = led.append("message", {"sha256": "ab" * 32, "text": "您的借款已逾期"})
    second = led.append("message", {"sha256": "cd" * 32})
    other = SqlLedger(engine, "gateway").append("decision", {"d": "allow"})
    assert (first.seq, second.seq, other.seq) == (1, 2, 1)
    assert second.prev_hash == first.entry_hash
    head = led.head()
    assert head is not None and head.entry_hash == second.entry_hash
    assert led.verify(expected_head=second.entry_hash).ok
    assert next(e.payload for e in led.entries(batch=1)) == {
        "sha256": "ab" * 32,
        "text": "您的借款已逾期",
    }


def test_sql_append_inside_callers_transaction_rolls_back_with_it(engine: Engine) -> None:
    led = SqlLedger(engine, "evidence")
    with pytest.raises(RuntimeError), engine.begin() as c:
        led.append("message", {"n": 1}, conn=c)
        raise RuntimeError("import failed")
    assert led.head() is None


@pytest.mark.parametrize(
    ("tamper", "problem"),
    [
        ("UPDATE ledger_entries SET payload_json = '{\"n\": 7}' WHERE seq = 3", "edited"),
        ("UPDATE ledger_entries SET kind = 'call' WHERE seq = 2", "edited"),
        ("DELETE FROM ledger_entries WHERE seq = 3", "deleted"),
        ("UPDATE ledger_entries SET seq = -seq WHERE seq IN (2, 3)", None),
    ],
)
def test_tampering_in_the_database_is_found(
    engine: Engine, tamper: str, problem: str | None
) -> None:
    led = SqlLedger(engine, "evidence")
    for n in range(5):
        led.append("message", {"n": n})
    with engine.begin() as c:
        c.execute(text(tamper))
        if problem is None:  # swap positions 2 and 3
            c.execute(text("UPDATE ledger_entries SET seq = 3 WHERE seq = -2"))
            c.execute(text("UPDATE ledger_entries SET seq = 2 WHERE seq = -3"))
    report = led.verify()
    assert not report.ok
    if problem is not None:
        assert problem in {p.problem for p in report.problems}
        assert 3 in {p.seq for p in report.problems} or 2 in {p.seq for p in report.problems}


def test_row_inserted_in_the_database_is_found(engine: Engine) -> None:
    led = SqlLedger(engine, "evidence")
    entries = [led.append("message", {"n": n}) for n in range(3)]
    with engine.begin() as c:
        c.execute(delete(ledger_entries).where(ledger_entries.c.seq == 3))
        forged = make_entry("evidence", entries[1], "message", {"n": "forged"})
        c.execute(
            ledger_entries.insert().values(
                stream="evidence",
                seq=3,
                kind="message",
                payload_json='{"n": "forged"}',
                payload_sha256=forged.payload_sha256,
                prev_hash=forged.prev_hash,
                entry_hash=forged.entry_hash,
                recorded_at=forged.recorded_at,
            )
        )
    # a forger who recomputes hashes still cannot match the head saved elsewhere
    report = led.verify(expected_head=entries[-1].entry_hash)
    assert not report.ok


def test_unreadable_payload_is_reported_not_raised(engine: Engine) -> None:
    led = SqlLedger(engine, "evidence")
    led.append("message", {"n": 1})
    with engine.begin() as c:
        c.execute(update(ledger_entries).values(payload_json="{not json"))
    report = led.verify()
    assert [p.problem for p in report.problems] == ["edited"]


def test_concurrent_appends_keep_one_chain(engine: Engine) -> None:
    led = SqlLedger(engine, "evidence")
    errors: list[BaseException] = []

    def worker(k: int) -> None:
        try:
            for j in range(5):
                led.append("message", {"worker": k, "j": j})
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    report = led.verify()
    assert report.ok and report.checked == 40
