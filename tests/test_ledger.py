"""The shared hash-chained ledger: every kind of tampering is found and named."""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import json
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, create_engine, delete, event, text, update

import collectguard.ledger.store as store_module
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


def _run_in_threads(worker: Callable[[int], None], n: int) -> None:
    """Run worker(0) … worker(n-1) in threads; fail with the first exception any raised."""
    errors: list[BaseException] = []

    def guarded(k: int) -> None:
        try:
            worker(k)
        except BaseException as exc:  # collected and raised below
            errors.append(exc)

    threads = [threading.Thread(target=guarded, args=(k,)) for k in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]


def test_intact_chain_verifies_and_reports_its_head() -> None:
    entries = chain(5)
    report = verify_chain(entries, expected_head=entries[-1].entry_hash)
    assert report.ok and report.checked == 5 and report.head == entries[-1].entry_hash
    assert entries[0].prev_hash == GENESIS and entries[1].prev_hash == entries[0].entry_hash


def test_a_recorded_head_still_in_the_chain_passes_and_counts_what_came_after() -> None:
    entries = chain(5)
    report = verify_chain(entries, expected_head=entries[2].entry_hash)
    assert report.ok and report.after_head == 2  # appended since: growth, not tampering
    assert "2 entries added after the recorded head" in report.describe()
    cut = verify_chain(entries[:2], expected_head=entries[2].entry_hash)
    assert not cut.ok and cut.problems[0].problem == "deleted"


def test_verifying_after_a_known_entry_checks_only_the_continuation() -> None:
    entries = chain(8)
    whole = verify_chain(entries)
    assert whole.head_seq == 8 and verify_chain([]).head_seq == 0
    known = (3, entries[2].entry_hash)
    report = verify_chain(entries[3:], after=known)
    assert report.ok and report.checked == 5
    assert (report.head_seq, report.head) == (8, entries[-1].entry_hash) == (8, whole.head)
    nothing_new = verify_chain([], after=known)
    assert nothing_new.ok and (nothing_new.head_seq, nothing_new.head) == known
    # the first new entry must link to the known one
    unlinked = verify_chain(entries[3:], after=(3, entries[1].entry_hash))
    assert [(p.seq, p.problem) for p in unlinked.problems] == [(4, "inserted")]
    # positions up to the known one are taken; missing new positions are named
    again = verify_chain([entries[1], *entries[3:]], after=known)
    assert [(p.seq, p.problem) for p in again.problems] == [(2, "inserted")]
    assert "verified before" in again.problems[0].detail
    same = verify_chain([entries[2], *entries[3:]], after=known)
    assert [(p.seq, p.problem) for p in same.problems] == [(3, "inserted")]
    gap = verify_chain([entries[3], *entries[5:]], after=known)
    assert [(p.seq, p.problem) for p in gap.problems] == [(5, "deleted")]
    # an edit before the known entry is not read, so not seen: the full pass finds it
    edited = [*entries[:1], LedgerEntry(**{**entries[1].__dict__, "kind": "x"}), *entries[2:]]
    assert verify_chain(edited[3:], after=known).ok
    assert [(p.seq, p.problem) for p in verify_chain(edited).problems] == [(2, "edited")]


def test_canonical_json_is_stable_and_refuses_non_json() -> None:
    assert canonical_json({"b": 1, "a": "催"}) == '{"a":"催","b":1}'.encode()
    with pytest.raises(TypeError, match="ISO"):
        canonical_json({"at": T0})


_PLAIN = st.one_of(
    st.text(),
    st.booleans(),
    st.none(),
    st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1),
)


def _assert_writes_what_json_dumps_writes(obj: dict[str, object]) -> None:
    """`canonical_json` gives the reference encoding's bytes, and fails where it fails."""
    try:
        reference: bytes | None = json.dumps(
            obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False
        ).encode("utf-8")
    except UnicodeEncodeError:
        reference = None
    if reference is None:
        with pytest.raises(UnicodeEncodeError):
            canonical_json(obj)
    else:
        assert canonical_json(obj) == reference


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(st.text(), _PLAIN | st.integers() | st.floats(allow_nan=False), max_size=8))
def test_canonical_json_fast_path_writes_what_json_dumps_writes(obj: dict[str, object]) -> None:
    """Flat str/bool/None/int dicts take a faster encoder: its bytes must equal the reference
    encoding, or old ledgers would stop verifying. Lone surrogates fail the same way."""
    _assert_writes_what_json_dumps_writes(obj)


_JSON_TREE = st.recursive(
    _PLAIN | st.integers() | st.floats(allow_nan=False),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=24,
)


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(st.text(max_size=6), _JSON_TREE, max_size=6))
def test_canonical_json_of_nested_payloads_writes_what_json_dumps_writes(
    obj: dict[str, object],
) -> None:
    """Nested payloads (the gateway's decision log) take the fast path too when plain."""
    _assert_writes_what_json_dumps_writes(obj)


def test_canonical_json_leaves_floats_tuples_and_odd_keys_to_the_reference_encoder() -> None:
    for obj in (
        {"a": [1.5, 1e16, {"b": 2**60}]},
        {"t": (1, "x")},
        {"n": {1: "int key", 2: "another"}},
    ):
        assert canonical_json(obj) == json.dumps(
            obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False
        ).encode("utf-8")
    with pytest.raises(TypeError):
        canonical_json({"n": {1: "int", "a": "str"}})  # unorderable keys, as json.dumps
    with pytest.raises(TypeError, match="ISO"):
        canonical_json({"deep": [{"at": T0}]})


def test_canonical_json_of_control_characters_and_surrogates() -> None:
    every_control = "".join(chr(i) for i in range(0x20)) + '"\\\x7f\u2028\u2029\ufeff😀'
    assert canonical_json({"t": every_control}) == json.dumps(
        {"t": every_control}, ensure_ascii=False, separators=(",", ":")
    ).encode("utf-8")
    with pytest.raises(UnicodeEncodeError):
        canonical_json({"t": "\ud800"})


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
    assert not report.ok
    # two swapped entries are one problem, named where the late one was stored; neither is
    # also reported as missing or unlinked
    assert [(p.seq, p.problem) for p in report.problems] == [(2, "reordered")]
    assert "stored after entry 3" in report.problems[0].detail
    assert report.head == entries[-1].entry_hash


def test_an_entry_moved_far_back_is_one_problem_and_the_head_is_the_last_position() -> None:
    entries = chain(8)
    moved = [*entries[:2], *entries[3:], entries[2]]  # entry 3 stored last
    report = verify_chain(moved)
    assert [(p.seq, p.problem) for p in report.problems] == [(3, "reordered")]
    assert report.head == entries[-1].entry_hash  # the highest position, not the last row
    assert verify_chain(moved, expected_head=entries[-1].entry_hash).problems == (report.problems)


def test_swap_and_deletion_together_are_told_apart() -> None:
    entries = chain(9)
    # 4 and 5 swapped, 7 and 8 deleted
    report = verify_chain([*entries[:3], entries[4], entries[3], entries[5], entries[8]])
    assert [(p.seq, p.problem) for p in report.problems] == [(4, "reordered"), (7, "deleted")]
    assert report.problems[1].detail == "缺少第 7…8 条 / entries 7…8 are missing"


def test_a_forged_far_position_costs_one_gap_not_memory_per_position() -> None:
    entries = chain(3)
    far = LedgerEntry(**{**entries[2].__dict__, "seq": 10**15})
    report = verify_chain([*entries[:2], far])
    problems = [(p.seq, p.problem) for p in report.problems]
    assert (3, "deleted") in problems and (10**15, "edited") in problems


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


@pytest.fixture(params=["pysqlite_transactions", "own_transactions"])
def engine(tmp_path: Path, request: pytest.FixtureRequest) -> Engine:
    """SQLite as pysqlite manages transactions by default, and as the evidence and gateway
    stores set it up (``isolation_level = None``: BEGIN and COMMIT are issued by the code,
    which lets the ledger append in a transaction of its own on the driver's connection)."""
    eng = create_engine(f"sqlite:///{tmp_path / 'ledger.db'}", connect_args={"timeout": 30})
    if request.param == "own_transactions":

        @event.listens_for(eng, "connect")
        def _connect(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None

        @event.listens_for(eng, "begin")
        def _begin(conn: Any) -> None:
            conn.connection.driver_connection.execute("BEGIN")

    SqlLedger(eng, "evidence").create_table()
    return eng


def test_a_failed_append_of_its_own_leaves_nothing_and_the_connection_usable(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    kept = engine.connect()  # one connection for every append, as a hot path keeps it
    led = SqlLedger(engine, "evidence", connect=lambda: contextlib.nullcontext(kept))
    led.append("message", {"n": 0})
    real = store_module._run

    def insert_then_fail(c: Any, cur: Any, statement: str, params: Any, **kw: Any) -> None:
        real(c, cur, statement, params, **kw)
        if statement.startswith("INSERT"):
            raise RuntimeError("disk on fire")  # after the rows went in, before the commit

    monkeypatch.setattr(store_module, "_run", insert_then_fail)
    with pytest.raises(RuntimeError, match="disk on fire"):
        led.append_many([("message", {"n": 1}), ("message", {"n": 2})])
    monkeypatch.setattr(store_module, "_run", real)
    after = led.append("message", {"n": 3})
    assert after.seq == 2
    assert [e.payload for e in led.entries()] == [{"n": 0}, {"n": 3}]
    assert led.verify().ok
    kept.close()


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


def test_entries_of_interleaved_streams_come_back_whole_and_in_row_order(engine: Engine) -> None:
    evidence, gateway = SqlLedger(engine, "evidence"), SqlLedger(engine, "gateway")
    for i in range(7):
        evidence.append("message", {"n": i})
        if i % 2:
            gateway.append_many([("decision", {"n": i, "k": k}) for k in range(3)])
    for batch in (1, 2, 3, 1000):  # pages that end inside and between the other stream's rows
        assert [e.payload for e in evidence.entries(batch=batch)] == [{"n": i} for i in range(7)]
        assert [e.seq for e in gateway.entries(batch=batch)] == list(range(1, 10))
    assert evidence.verify().ok and gateway.verify().ok
    assert list(SqlLedger(engine, "empty").entries()) == []


def test_reading_a_stream_walks_the_primary_key_not_a_sort_per_page(engine: Engine) -> None:
    """Each page must be a range of the primary key. With the stream compared as the bare
    column SQLite sorted the whole stream for every page (quadratic in its length)."""
    led = SqlLedger(engine, "evidence")
    led.append_many([("message", {"n": i}) for i in range(50)])
    sql = str(led.page_query(10, 5).compile(engine, compile_kwargs={"literal_binds": True}))
    with engine.connect() as c:
        plan = " / ".join(str(r[-1]) for r in c.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}"))
        assert "PRIMARY KEY" in plan and "TEMP B-TREE" not in plan, plan
        assert [r[2] for r in c.execute(led.page_query(10, 5))] == [11, 12, 13, 14, 15]


def test_rows_after_a_row_id_and_the_last_entries_of_interleaved_streams(engine: Engine) -> None:
    evidence, gateway = SqlLedger(engine, "evidence"), SqlLedger(engine, "gateway")
    for i in range(6):
        evidence.append_many([("message" if k % 3 else "call", {"n": i, "k": k}) for k in range(4)])
        gateway.append("decision", {"n": i})
    rows = list(evidence.rows(batch=5))
    assert [e.seq for _, e in rows] == list(range(1, 25))
    ids = [row_id for row_id, _ in rows]
    assert ids == sorted(ids) and len(set(ids)) == 24
    for batch in (1, 4, 1000):  # from any row on, only what was stored after it
        after = [e.seq for _, e in evidence.rows(after_id=ids[10], batch=batch)]
        assert after == list(range(12, 25))
    assert list(evidence.rows(after_id=ids[-1])) == []
    assert [e.seq for e in evidence.last(5)] == [24, 23, 22, 21, 20]  # newest first
    assert [e.payload for e in evidence.last(3, kind="call")] == [
        {"n": 5, "k": 3},
        {"n": 5, "k": 0},
        {"n": 4, "k": 3},
    ]
    assert [e.seq for e in gateway.last(100)] == [6, 5, 4, 3, 2, 1]
    assert evidence.last(0) == [] and SqlLedger(engine, "empty").last(5) == []


def test_the_last_entries_walk_the_primary_key_backwards_not_a_sort(engine: Engine) -> None:
    """Like the pages of `entries`: with the stream compared as the bare column, SQLite reads
    the whole stream through the (stream, seq) index and sorts it by id."""
    led = SqlLedger(engine, "evidence")
    led.append_many([("message", {"n": i}) for i in range(50)])
    SqlLedger(engine, "gateway").append_many([("decision", {"n": i}) for i in range(5)])
    for query in (led.last_query(5), led.last_query(5, kind="message")):
        sql = str(query.compile(engine, compile_kwargs={"literal_binds": True}))
        with engine.connect() as c:
            plan = [str(r[-1]) for r in c.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}")]
            assert plan == ["SCAN ledger_entries"], plan  # the rowid, backwards; no index
            assert [r[2] for r in c.execute(query)] == [50, 49, 48, 47, 46]
        bare = sql.replace("(ledger_entries.stream || '')", "ledger_entries.stream")
        assert bare != sql
        with engine.connect() as c:
            plan = [str(r[-1]) for r in c.exec_driver_sql(f"EXPLAIN QUERY PLAN {bare}")]
        assert "USE TEMP B-TREE FOR ORDER BY" in plan, plan  # what the expression avoids


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

    def worker(k: int) -> None:
        for j in range(5):
            led.append("message", {"worker": k, "j": j})

    _run_in_threads(worker, 8)
    report = led.verify()
    assert report.ok and report.checked == 40


# ---------------------------------------------------------------------- append_many


def test_append_many_keeps_order_and_chains_on_the_head(engine: Engine) -> None:
    led = SqlLedger(engine, "evidence")
    first = led.append("message", {"n": 0})
    batch = led.append_many(
        [("message", {"n": 1}), ("attachment", {"n": 2, "t": "催收"}), ("message", {"n": 3})],
        recorded_at=T0,
    )
    assert [e.seq for e in batch] == [2, 3, 4]
    assert [e.kind for e in batch] == ["message", "attachment", "message"]
    assert batch[0].prev_hash == first.entry_hash
    assert all(b.prev_hash == a.entry_hash for a, b in itertools.pairwise(batch))
    assert {e.recorded_at for e in batch} == {T0.isoformat(timespec="microseconds")}
    stored = list(led.entries())
    assert [e.payload for e in stored] == [{"n": 0}, {"n": 1}, {"n": 2, "t": "催收"}, {"n": 3}]
    assert [e.entry_hash for e in stored[1:]] == [e.entry_hash for e in batch]
    assert led.verify(expected_head=batch[-1].entry_hash).ok
    head = led.head()
    assert head is not None and head.entry_hash == batch[-1].entry_hash


def test_append_many_hashes_like_make_entry(engine: Engine) -> None:
    """The SQL path and the pure chain agree byte for byte (the stored chain format)."""
    led = SqlLedger(engine, "evidence")
    items = [("message", {"i": i, "t": "短信", "x": [1, 2.5, None]}) for i in range(4)]
    stored = led.append_many(items, recorded_at=T0)
    expected: list[LedgerEntry] = []
    for kind, payload in items:
        expected.append(
            make_entry("evidence", expected[-1] if expected else None, kind, payload, T0)
        )
    assert stored == expected


def test_append_many_empty_batch_writes_nothing(engine: Engine) -> None:
    led = SqlLedger(engine, "evidence")
    assert led.append_many([]) == []
    assert led.head() is None


def test_append_many_inside_callers_transaction_rolls_back_with_it(engine: Engine) -> None:
    led = SqlLedger(engine, "evidence")
    led.append("message", {"n": 0})
    with pytest.raises(RuntimeError), engine.begin() as c:
        led.append_many([("message", {"n": 1}), ("message", {"n": 2})], conn=c)
        raise RuntimeError("import failed")
    assert [e.seq for e in led.entries()] == [1]
    with engine.begin() as c:
        batch = led.append_many([("message", {"n": 1}), ("message", {"n": 2})], conn=c)
    assert [e.seq for e in batch] == [2, 3] and led.verify().ok


def test_append_many_refuses_non_json_before_writing(engine: Engine) -> None:
    led = SqlLedger(engine, "evidence")
    with pytest.raises(TypeError, match="ISO"):
        led.append_many([("message", {"n": 1}), ("message", {"at": T0})])
    assert led.head() is None


def test_concurrent_append_many_never_forks_the_chain(engine: Engine) -> None:
    """Threads appending batches and single entries to one SQLite stream: one chain, every
    batch contiguous and in its own order."""
    led = SqlLedger(engine, "evidence")
    barrier = threading.Barrier(8)

    def worker(k: int) -> None:
        barrier.wait()
        for j in range(4):
            if k % 2:
                led.append_many([("message", {"w": k, "j": j, "i": i}) for i in range(5)])
            else:
                led.append("message", {"w": k, "j": j, "i": 0})

    _run_in_threads(worker, 8)
    report = led.verify()
    assert report.ok and report.checked == 4 * 4 * 5 + 4 * 4
    entries = list(led.entries())
    assert [e.seq for e in entries] == list(range(1, len(entries) + 1))
    assert len({e.prev_hash for e in entries}) == len(entries)  # no two share a parent
    payloads = [e.payload or {} for e in entries]
    for k in range(1, 8, 2):
        for j in range(4):
            at = [n for n, p in enumerate(payloads) if p.get("w") == k and p.get("j") == j]
            assert [payloads[n]["i"] for n in at] == list(range(5))
            assert at == list(range(at[0], at[0] + 5))  # the batch is contiguous


def test_concurrent_append_many_from_processes_sharing_one_file(tmp_path: Path) -> None:
    """Separate processes (as uvicorn workers are) on one SQLite file: still one chain."""
    db = tmp_path / "shared.db"
    eng = create_engine(f"sqlite:///{db}", connect_args={"timeout": 30})
    SqlLedger(eng, "gateway").create_table()
    script = (
        "import sys\n"
        "from sqlalchemy import create_engine\n"
        "from collectguard.ledger import SqlLedger\n"
        "eng = create_engine(sys.argv[1], connect_args={'timeout': 30})\n"
        "led = SqlLedger(eng, 'gateway')\n"
        "for j in range(10):\n"
        "    batch = [('decision', {'p': sys.argv[2], 'j': j, 'i': i}) for i in range(3)]\n"
        "    led.append_many(batch)\n"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", script, f"sqlite:///{db}", str(p)])
        for p in range(4)
    ]
    assert all(p.wait(120) == 0 for p in procs)
    report = SqlLedger(eng, "gateway").verify()
    assert report.ok and report.checked == 4 * 10 * 3


# ---------------------------------------------------------------------- PostgreSQL


@pytest.fixture(scope="module")
def pg_url(pg_server: str) -> str:
    """The throwaway PostgreSQL server of `conftest.pg_server` (the evidence locker's ledger
    may live there)."""
    return f"{pg_server}/postgres"


def test_postgresql_pages_of_a_stream_need_no_sort(pg_url: str) -> None:
    eng = create_engine(pg_url)
    led = SqlLedger(eng, "paged")
    led.create_table()
    led.append_many([("message", {"n": i}) for i in range(30)])
    SqlLedger(eng, "other").append_many([("decision", {"n": i}) for i in range(5)])
    assert [e.payload for e in led.entries(batch=4)] == [{"n": i} for i in range(30)]
    sql = str(led.page_query(3, 4).compile(eng, compile_kwargs={"literal_binds": True}))
    with eng.connect() as c:
        # What a large table gets: an ordered walk of the primary key that stops at the
        # limit (on a few rows the planner prefers to read them all and sort).
        c.exec_driver_sql("SET enable_seqscan = off")
        c.exec_driver_sql("SET enable_bitmapscan = off")
        plan = "\n".join(r[0] for r in c.exec_driver_sql(f"EXPLAIN {sql}"))
    assert "ledger_entries_pkey" in plan and "Sort" not in plan, plan
    eng.dispose()


def test_postgresql_last_entries_and_rows_after_a_row_need_no_sort(pg_url: str) -> None:
    eng = create_engine(pg_url)
    led = SqlLedger(eng, "newest")
    led.create_table()
    led.append_many([("message" if i % 2 else "call", {"n": i}) for i in range(30)])
    SqlLedger(eng, "other").append_many([("decision", {"n": i}) for i in range(5)])
    assert [e.payload for e in led.last(3)] == [{"n": 29}, {"n": 28}, {"n": 27}]
    assert [e.payload for e in led.last(2, kind="call")] == [{"n": 28}, {"n": 26}]
    ids = [row_id for row_id, _ in led.rows(batch=7)]
    assert [e.payload for _, e in led.rows(after_id=ids[25], batch=2)] == [
        {"n": i} for i in range(26, 30)
    ]
    for query in (led.last_query(3), led.last_query(3, kind="call")):
        sql = str(query.compile(eng, compile_kwargs={"literal_binds": True}))
        with eng.connect() as c:
            # as for pages: what a large table gets (on a few rows a seq scan and sort wins)
            c.exec_driver_sql("SET enable_seqscan = off")
            c.exec_driver_sql("SET enable_bitmapscan = off")
            plan = "\n".join(r[0] for r in c.exec_driver_sql(f"EXPLAIN {sql}"))
        assert "Index Scan Backward using ledger_entries_pkey" in plan, plan
        assert "Sort" not in plan, plan
    eng.dispose()


def test_postgresql_append_many_and_concurrent_appenders(pg_url: str) -> None:
    eng = create_engine(pg_url, pool_size=10)
    led = SqlLedger(eng, "evidence")
    led.create_table()
    first = led.append("message", {"n": 0, "t": "短信"})
    batch = led.append_many([("message", {"n": i}) for i in range(1, 4)], recorded_at=T0)
    assert [e.seq for e in batch] == [2, 3, 4] and batch[0].prev_hash == first.entry_hash
    with pytest.raises(RuntimeError), eng.begin() as c:
        led.append("message", {"n": "rolled back"}, conn=c)
        raise RuntimeError("import failed")

    def worker(k: int) -> None:
        for j in range(5):
            led.append_many([("message", {"w": k, "j": j, "i": i}) for i in range(3)])
            led.append("message", {"w": k, "j": j})

    _run_in_threads(worker, 6)
    report = led.verify()
    assert report.ok and report.checked == 4 + 6 * 5 * 4
    head = led.head()
    assert head is not None and head.seq == report.checked and head.entry_hash == report.head
    eng.dispose()
