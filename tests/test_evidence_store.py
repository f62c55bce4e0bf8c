"""Evidence store on SQLite AND a real PostgreSQL: imports, de-duplication, faults, the
ledger, tampering found by `verify`, cases and history-aware rules.

The PostgreSQL server is a throwaway one started here with initdb/pg_ctl on a random port.
Missing binaries are a FAILURE (`.ci/run` installs postgresql), never a skip.
"""

from __future__ import annotations

import base64
import datetime as dt
import itertools
import json
import os
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, func, inspect, select, text, update

from collectguard.analyze.analyzer import Analyzer
from collectguard.evidence import ImportFormatError, open_store, sources
from collectguard.evidence.history import build_cases, frequency_caps
from collectguard.evidence.ingest import NOT_COLLECTION, Importer, ImportFailed
from collectguard.evidence.items import message_dedupe_key
from collectguard.evidence.models import Attachment, CallRecord, ImportRun, Message, Violation
from collectguard.evidence.store import EvidenceStore
from collectguard.evidence.verify import verify_store
from collectguard.ledger import ledger_entries
from collectguard.rules import load_builtin, load_pack_file
from iosdb import ios_smsdb

CN = dt.timezone(dt.timedelta(hours=8))
_db_numbers = itertools.count(1)


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[EvidenceStore]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'evidence.sqlite3'}"
    else:
        import psycopg

        base: str = request.getfixturevalue("pg_server")
        name = f"cg_test_{os.getpid()}_{next(_db_numbers)}"
        plain = base.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(f"{plain}/postgres", autocommit=True) as c:
            c.execute(f'CREATE DATABASE "{name}"')
        url = f"{base}/{name}"
    s = open_store(url, attachments_dir=tmp_path / "attachments")
    try:
        yield s
    finally:
        s.close()


# ---------------------------------------------------------------------------- fixtures
def ms(y: int, mo: int, d: int, h: int, mi: int = 0) -> int:
    return int(dt.datetime(y, mo, d, h, mi, tzinfo=CN).timestamp() * 1000)


def sms(address: str, when: int, body: str, kind: int = 1, raw: bool = False) -> str:
    """One <sms/> line; `raw` puts the body in as written (character references kept)."""
    from xml.sax.saxutils import quoteattr

    value = f'"{body}"' if raw else quoteattr(body)
    return (
        f'  <sms protocol="0" address={quoteattr(address)} date="{when}" type="{kind}" '
        f'body={value} read="1" />\n'
    )


def backup(*rows: str) -> str:
    return (
        "<?xml version='1.0' encoding='UTF-8' standalone='yes' ?>\n"
        f'<smses count="{len(rows)}">\n' + "".join(rows) + "</smses>\n"
    )


THREAT = "【招联金融】您的借款已逾期，今天再不还款就上门，通知你的家人和单位。"
PLAIN = "【招联金融】您的借款已逾期3天，请及时还款。"
FIXED_NOW = dt.datetime(2025, 3, 1, 12, 0, tzinfo=dt.UTC)


def count(store: EvidenceStore, model: type[Message | CallRecord | Attachment]) -> int:
    with store.session() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def ledger_rows(store: EvidenceStore) -> int:
    with store.engine.connect() as c:
        return int(c.scalar(select(func.count()).select_from(ledger_entries)) or 0)


# ---------------------------------------------------------------------------- store
def test_open_store_migrates_and_reopens(store: EvidenceStore) -> None:
    tables = set(inspect(store.engine).get_table_names())
    assert {
        "evidence_messages",
        "evidence_calls",
        "evidence_attachments",
        "evidence_import_runs",
        "evidence_violations",
        "ledger_entries",
        "evidence_alembic_version",
    } <= tables
    with store.engine.connect() as c:
        assert c.scalar(text("SELECT version_num FROM evidence_alembic_version")) == "0003"
        if c.dialect.name == "sqlite":  # crash-safe WAL, checkpointed every ~40 MB
            assert c.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert c.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
            assert c.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 10_000
    again = open_store(store.engine.url.render_as_string(hide_password=False))
    again.close()  # running the migrations twice is a no-op, not an error


def test_android_import_analyses_stores_and_chains(store: EvidenceStore, tmp_path: Path) -> None:
    f = tmp_path / "sms.xml"
    f.write_text(
        backup(
            sms("10690000", ms(2025, 1, 14, 23, 15), THREAT),
            sms("+86 138-0000-0000", ms(2025, 1, 14, 23, 20), "别再发了", kind=2),
            sms("10690000", ms(2025, 1, 15, 10), "【招联金融】今晚期限&#55357;&#56832;", raw=True),
        ),
        encoding="utf-8",
    )
    report = Importer(store).import_file(f)
    assert (report.new, report.duplicate, report.rejected) == (3, 0, 0)
    assert report.status == "complete"
    with store.session() as s:
        msgs = s.scalars(select(Message).order_by(Message.id)).all()
        assert [m.direction for m in msgs] == ["in", "out", "in"]
        assert msgs[2].text.endswith("\U0001f600")  # surrogate pair joined, not lost
        threat = msgs[0]
        assert threat.received_at == dt.datetime(2025, 1, 14, 15, 15, tzinfo=dt.UTC)
        assert threat.is_collection
        assert threat.lender_id is not None
        codes = {v["code"] for v in threat.verdict["violations"]}
        # the stored verdict is the check's contract less its input echo (the row holds it)
        fresh = Analyzer.default().check(
            THREAT, sender="10690000", received_at=threat.received_at, timezone="Asia/Shanghai"
        )
        assert threat.verdict == {k: v for k, v in fresh.to_contract().items() if k != "input"}
        assert {"threat", "night_time"} <= codes  # 23:15 Beijing time is night-time
        rules = set(s.scalars(select(Violation.rule_id).where(Violation.message_id == threat.id)))
        assert "cn.hours" in rules
        run = s.get(ImportRun, report.run_id)
        assert run is not None and run.status == "complete" and run.new_count == 3
        assert run.source_sha256 == report.source_sha256 and len(run.source_sha256) == 64
    entries = list(store.ledger.entries())
    assert [e.kind for e in entries] == ["message"] * 3
    assert entries[0].payload is not None
    assert entries[0].payload["source_sha256"] == report.source_sha256
    assert entries[0].payload["item_sha256"] == threat.item_sha256
    assert verify_store(store).ok


def test_parallel_import_stores_what_a_serial_import_stores(
    store: EvidenceStore, tmp_path: Path
) -> None:
    """Worker processes analyse one batch ahead of the writer: same rows, same order, same
    verdicts and a chain that verifies, batch boundaries and a mid-file fault included."""
    texts = [THREAT, PLAIN, "【平安银行】您的验证码是123456。", "你这个老赖，再不还钱就上门。"]
    records = [
        sms(f"1069000{i % 3}", ms(2025, 2, 1 + i // 24, i % 24, i % 60), texts[i % 4] + str(i))
        for i in range(57)
    ]
    f = tmp_path / "many.xml"
    f.write_text(backup(*records), encoding="utf-8")
    serial = open_store(f"sqlite:///{tmp_path / 'serial.db'}", attachments_dir=tmp_path / "a1")
    try:
        one = Importer(serial, batch_size=10, clock=lambda: FIXED_NOW).import_file(f)
        many = Importer(store, batch_size=10, clock=lambda: FIXED_NOW, workers=2).import_file(f)
        assert (many.new, many.duplicate, many.rejected) == (one.new, 0, 0) == (57, 0, 0)

        def rows(st: EvidenceStore) -> list[tuple[Any, ...]]:
            with st.session() as s:
                return [
                    (m.item_sha256, m.is_collection, m.lender_id, m.verdict, m.ledger_seq)
                    for m in s.scalars(select(Message).order_by(Message.id))
                ]

        assert rows(store) == rows(serial)
        assert [e.entry_hash for e in store.ledger.entries()] == [
            e.entry_hash for e in serial.ledger.entries()
        ]
        assert verify_store(store).ok
        again = Importer(store, batch_size=10, workers=2).import_file(f)
        assert (again.new, again.duplicate) == (0, 57)
    finally:
        serial.close()

    broken = tmp_path / "broken.xml"
    broken.write_text(backup(*records[:35])[:-40], encoding="utf-8")  # cut inside the end
    fresh = open_store(f"sqlite:///{tmp_path / 'fresh.db'}", attachments_dir=tmp_path / "a2")
    try:
        with pytest.raises(ImportFailed) as info:
            Importer(fresh, batch_size=10, workers=2).import_file(broken)
        assert info.value.report.new == count(fresh, Message) >= 30
        assert verify_store(fresh).ok
    finally:
        fresh.close()


def test_item_hash_is_that_of_the_stored_row(store: EvidenceStore, tmp_path: Path) -> None:
    """Each message's content hash is of the row as stored — a long sender cut to the column,
    the time in UTC — which is what `verify` recomputes (with analysis workers too)."""
    from collectguard.evidence.items import item_sha256, message_content

    long_sender = "1069" + "8" * 246  # 250 characters: the column keeps 200
    rows = [
        sms(long_sender if i % 2 else f"10690{i}", ms(2025, 3, 1, 8, i), THREAT) for i in range(9)
    ]
    f = tmp_path / "long.xml"
    f.write_text(backup(*rows), encoding="utf-8")
    report = Importer(store, batch_size=5, workers=2, timezone="America/New_York").import_file(f)
    assert report.new == 9
    fields = ("sender", "recipient", "direction", "received_at", "received_at_text")
    fields += ("timezone", "text", "source", "source_ref")
    with store.session() as s:
        stored = s.scalars(select(Message).order_by(Message.id)).all()
    assert {len(m.sender or "") for m in stored} >= {200}
    for m in stored:
        assert m.item_sha256 == item_sha256(message_content({k: getattr(m, k) for k in fields}))
    assert verify_store(store).ok


def test_reimport_is_idempotent(store: EvidenceStore, tmp_path: Path) -> None:
    f = tmp_path / "sms.xml"
    f.write_text(
        backup(
            sms("10690000", ms(2025, 1, 14, 9), PLAIN), sms("10690000", ms(2025, 1, 14, 9), PLAIN)
        )
    )
    first = Importer(store).import_file(f)
    assert (first.new, first.duplicate) == (1, 1)  # a duplicate inside one file too
    second = Importer(store).import_file(f)
    assert (second.new, second.duplicate, second.rejected) == (0, 2, 0)
    assert count(store, Message) == 1
    assert ledger_rows(store) == 1
    # the same message from another source (JSONL, other spelling of the number) is the same
    j = tmp_path / "m.jsonl"
    line = {"text": PLAIN, "sender": "+86 1069 0000", "received_at": "2025-01-14T09:00:00+08:00"}
    j.write_text(json.dumps(line, ensure_ascii=False) + "\n", encoding="utf-8")
    third = Importer(store).import_file(j)
    assert (third.new, third.duplicate) == (0, 1)


def test_the_same_text_twice_within_one_second_is_two_messages(
    store: EvidenceStore, tmp_path: Path
) -> None:
    """A lender's system sending one text twice in a second: the backup's milliseconds tell
    the two apart, and each counts (frequency caps count messages). A record repeated at the
    same millisecond is still one message; re-imports, batch edges and a CSV that knows only
    the second add nothing."""
    at = ms(2025, 1, 14, 9)
    f = tmp_path / "sms.xml"
    f.write_text(
        backup(
            sms("10690000", at + 200, PLAIN),
            sms("10690000", at + 700, PLAIN),
            sms("10690000", at + 200, PLAIN),  # the first again, to the millisecond
            sms("10690000", at + 950, PLAIN),
        )
    )
    first = Importer(store, batch_size=2).import_file(f)  # the third copy in another batch
    assert (first.new, first.duplicate) == (3, 1)
    with store.session() as s:
        rows = s.scalars(select(Message).order_by(Message.received_at)).all()
        assert [m.received_at.microsecond for m in rows] == [200_000, 700_000, 950_000]
        keys = [m.dedupe_key for m in rows]
    assert len(set(keys)) == 3
    rec = sources.MessageRecord(
        PLAIN, "10690000", dt.datetime.fromtimestamp((at + 200) / 1000, dt.UTC), "in", "x"
    )
    # the first occurrence keeps the key every earlier version gave it
    assert keys[0] == message_dedupe_key(rec, "self")
    assert keys[1] == message_dedupe_key(rec, "self", 2)
    assert verify_store(store).ok
    for size in (1, 1000):
        again = Importer(store, batch_size=size).import_file(f)
        assert (again.new, again.duplicate) == (0, 4)
    # a later backup holding the same messages and one more copy in that second
    g = tmp_path / "later.xml"
    g.write_text(backup(*(sms("10690000", at + d, PLAIN) for d in (950, 200, 700, 400))))
    later = Importer(store).import_file(g)
    assert (later.new, later.duplicate) == (1, 3)
    assert count(store, Message) == 4
    # a CSV export of that second (no milliseconds) is the messages already stored
    c = tmp_path / "export.csv"
    c.write_text(f"号码,时间,短信内容\n10690000,2025-01-14 09:00:00,{PLAIN}\n", encoding="utf-8")
    csv = Importer(store).import_file(c)
    assert (csv.new, csv.duplicate) == (0, 1)
    assert count(store, Message) == 4


def test_calls_are_stored_and_chained(store: EvidenceStore, tmp_path: Path) -> None:
    f = tmp_path / "calls.xml"
    f.write_text(
        "<?xml version='1.0' encoding='UTF-8'?>\n<calls count=\"3\">\n"
        f'<call number="4008888888" duration="0" date="{ms(2025, 1, 14, 23)}" type="3" />\n'
        f'<call number="4008888888" duration="65" date="{ms(2025, 1, 15, 9)}" type="1" />\n'
        f'<call number="4008888888" duration="x" date="{ms(2025, 1, 15, 9)}" type="1" />\n'
        "</calls>\n"
    )
    report = Importer(store).import_file(f)
    assert (report.new, report.rejected) == (2, 1)
    assert "duration" in report.rejections[0][1] and "line 5" in report.rejections[0][0]
    with store.session() as s:
        calls = s.scalars(select(CallRecord).order_by(CallRecord.id)).all()
    assert [(c.call_type, c.duration_s) for c in calls] == [("missed", 0), ("incoming", 65)]
    assert [e.kind for e in store.ledger.entries()] == ["call", "call"]
    again = Importer(store, batch_size=2).import_file(f)  # calls are looked up among calls
    assert (again.new, again.duplicate, again.rejected) == (0, 2, 1)
    assert count(store, CallRecord) == 2


def test_truncated_xml_keeps_committed_batches_and_resumes(
    store: EvidenceStore, tmp_path: Path
) -> None:
    rows = [
        sms("10690000", ms(2025, 1, 10 + i, 10), f"【招联金融】第{i}次提醒您还款") for i in range(7)
    ]
    whole = backup(*rows)
    cut = whole[: whole.index(rows[5]) + 40]  # stops in the middle of record 6
    f = tmp_path / "broken.xml"
    f.write_text(cut, encoding="utf-8")
    with pytest.raises(ImportFailed) as info:
        Importer(store, batch_size=2).import_file(f)
    msg = str(info.value)
    assert "line 8" in msg and "5 records" in msg  # names the position and what was read
    assert info.value.report.new == 5  # records before the fault are kept
    assert info.value.report.status == "failed"
    assert count(store, Message) == 5
    with store.session() as s:
        run = s.get(ImportRun, info.value.report.run_id)
        assert run is not None and run.status == "failed" and "line 8" in (run.error or "")
        assert run.resume_position is not None and "record 5" in run.resume_position
    assert verify_store(store).ok
    f.write_text(whole, encoding="utf-8")
    done = Importer(store, batch_size=2).import_file(f)
    assert (done.new, done.duplicate) == (2, 5)
    assert count(store, Message) == 7 and verify_store(store).ok


def test_a_record_too_long_to_parse_is_rejected_and_the_rest_imported(
    store: EvidenceStore, tmp_path: Path
) -> None:
    huge = "催收" * (sources.MAX_XML_ELEMENT_BYTES // 6 + 1)  # 3 bytes a character in UTF-8
    f = tmp_path / "huge.xml"
    f.write_text(
        backup(
            sms("10690000", ms(2025, 2, 1, 10), "【招联金融】第一条"),
            sms("10690000", ms(2025, 2, 1, 11), huge),
            sms("10690000", ms(2025, 2, 1, 12), "【招联金融】第三条"),
        ),
        encoding="utf-8",
    )
    report = Importer(store).import_file(f)
    assert (report.new, report.rejected, report.status) == (2, 1, "complete")
    ((where, why),) = report.rejections
    assert "record 2" in where and "over the limit of 33,554,432" in why
    assert verify_store(store).ok
    again = Importer(store).import_file(f)
    assert (again.new, again.duplicate, again.rejected) == (0, 2, 1)


def test_entity_expansion_and_dtd_are_refused(store: EvidenceStore, tmp_path: Path) -> None:
    bomb = (
        '<?xml version="1.0"?>\n<!DOCTYPE smses [<!ENTITY a "aaaaaaaaaa">'
        '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>\n'
        '<smses><sms address="1" date="1736867700000" type="1" body="&b;" /></smses>\n'
    )
    f = tmp_path / "bomb.xml"
    f.write_text(bomb)
    with pytest.raises(ImportFormatError, match="line 2"):
        Importer(store).import_file(f)
    assert count(store, Message) == 0


def test_hostile_html_and_odd_unicode_are_kept_verbatim(
    store: EvidenceStore, tmp_path: Path
) -> None:
    hostile = '<script>alert("x")</script><img src=x onerror=alert(1)> 【招联金融】逾期 &amp;'
    odd = "【招联\u200b金融】\u202e逾期\u202c 请还款 \U0001f4b0 e\u0301 \ufeff"
    f = tmp_path / "odd.xml"
    f.write_text(
        backup(
            sms("10690000", ms(2025, 2, 1, 10), hostile),
            sms("10690000", ms(2025, 2, 1, 11), odd),
            # control characters the phone kept: XML 1.0 forbids them, the import survives
            sms("10690000", ms(2025, 2, 1, 12), "A&#1;B&#xFFFF;", raw=True),
        ),
        encoding="utf-8",
    )
    report = Importer(store).import_file(f)
    assert report.new == 3, report.rejections
    with store.session() as s:
        texts = list(s.scalars(select(Message.text).order_by(Message.id)))
    assert texts[0] == hostile  # stored as data, never interpreted or escaped twice
    assert texts[1] == odd
    assert texts[2] == "A\ufffdB\ufffd"
    assert verify_store(store).ok


def test_mms_attachment_is_content_addressed(store: EvidenceStore, tmp_path: Path) -> None:
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256))
    b64 = base64.b64encode(png).decode()
    when = ms(2025, 3, 1, 12)
    f = tmp_path / "mms.xml"
    f.write_text(
        "<?xml version='1.0' encoding='UTF-8'?>\n<smses count=\"1\">\n"
        f'<mms date="{when}" msg_box="1" address="10690000" m_type="132">\n'
        '<parts><part seq="-1" ct="application/smil" text="&lt;smil/&gt;" />\n'
        '<part seq="0" ct="text/plain" text="【招联金融】见附件催收函" />\n'
        f'<part seq="1" ct="image/png" cl="letter.png" data="{b64}" />\n'
        f'<part seq="2" ct="image/png" cl="again.png" data="{b64}" /></parts>\n'
        '<addrs><addr address="10690000" type="137" /></addrs>\n'
        "</mms>\n</smses>\n"
    )
    report = Importer(store).import_file(f)
    assert report.new_by_kind == {"message": 1, "call": 0, "attachment": 1}
    import hashlib

    digest = hashlib.sha256(png).hexdigest()
    path = store.attachment_path(digest)
    assert path.read_bytes() == png and path.parent.parent.name == digest[:2]
    with store.session() as s:
        att = s.scalars(select(Attachment)).one()
        assert (att.sha256, att.filename, att.media_type) == (digest, "letter.png", "image/png")
    assert verify_store(store).ok
    path.write_bytes(png + b"tampered")
    rep = verify_store(store)
    assert not rep.ok
    assert [(p.item, p.problem) for p in rep.problems] == [("attachment", "edited")]
    path.unlink()
    assert [p.problem for p in verify_store(store).problems] == ["deleted"]


def _photo_backup(path: Path, n: int, size: int) -> None:
    """An Android backup of `n` MMS, each with its own photo of `size` random bytes."""
    rng = __import__("random").Random(3)
    with path.open("w", encoding="utf-8") as f:
        f.write(f"<?xml version='1.0' encoding='UTF-8'?>\n<smses count=\"{n}\">\n")
        for i in range(n):
            b64 = base64.b64encode(rng.randbytes(size)).decode()
            f.write(
                f'<mms date="{ms(2025, 3, 1, 12, i % 60)}" msg_box="1" address="1069000{i}">'
                f'<parts><part seq="0" ct="text/plain" text="照片 {i}" />'
                f'<part seq="1" ct="image/jpeg" cl="p{i}.jpg" data="{b64}" /></parts></mms>\n'
            )
        f.write("</smses>\n")


def test_a_backup_of_photos_is_batched_by_bytes_and_memory_stays_bounded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A batch ends at `batch_bytes` of attachments, not only at `batch_size` records: a
    backup of photos never holds a thousand of them in memory at once."""
    import tracemalloc

    f = tmp_path / "photos.xml"
    _photo_backup(f, 80, 256 * 1024)  # 20 MiB of photos
    store = open_store(f"sqlite:///{tmp_path / 'e.sqlite3'}", attachments_dir=tmp_path / "att")
    sizes: list[int] = []
    real_commit = Importer._commit

    def commit(self: Importer, b: Any, report: Any, fmt: str) -> None:
        sizes.append(len(b.records))
        real_commit(self, b, report, fmt)

    monkeypatch.setattr(Importer, "_commit", commit)
    importer = Importer(store, batch_bytes=1024 * 1024)
    tracemalloc.start()
    try:
        report = importer.import_file(f)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert report.new_by_kind == {"message": 80, "call": 0, "attachment": 80}
    assert sizes == [4] * 20  # 4 photos of 256 KiB fill a 1 MiB batch
    # A few batches in flight plus the XML chunk being parsed (≈ 9 MiB here; one batch of
    # all 80 photos peaked at ≈ 27 MiB), never the 20 MiB of photos.
    assert peak < 12 * 1024 * 1024, peak
    assert verify_store(store).ok
    store.close()


# ---------------------------------------------------------------------------- tampering
@pytest.fixture
def filled(store: EvidenceStore, tmp_path: Path) -> EvidenceStore:
    f = tmp_path / "five.xml"
    f.write_text(
        backup(*[sms("10690000", ms(2025, 1, 1 + i, 10), f"【招联金融】第{i}条") for i in range(5)])
    )
    Importer(store).import_file(f)
    assert verify_store(store).ok
    return store


def _problems(store: EvidenceStore) -> tuple[list[tuple[int, str]], list[tuple[str, str]]]:
    r = verify_store(store)
    assert not r.ok
    return (
        [(p.seq, p.problem) for p in r.chain.problems],
        [(p.item, p.problem) for p in r.problems],
    )


def test_verify_reports_its_progress_over_entries_and_items(
    store: EvidenceStore, tmp_path: Path
) -> None:
    f = tmp_path / "many.xml"
    f.write_text(
        backup(*[sms("10690000", ms(2025, 1, 1, 10) + i * 1000, f"第{i}条") for i in range(1500)])
    )
    Importer(store).import_file(f)
    seen: list[tuple[int, int]] = []
    report = verify_store(store, progress=lambda done, total: seen.append((done, total)))
    assert report.ok and report.items_checked == 1500
    # 1,500 ledger entries and 1,500 messages: a tick per 1,000, then the end
    assert seen == [(1000, 3000), (2000, 3000), (3000, 3000), (3000, 3000)]


def test_verify_finds_an_edited_message(filled: EvidenceStore) -> None:
    with filled.engine.begin() as c:
        c.execute(update(Message).where(Message.id == 3).values(text="改过的内容"))
    chain, _items = _problems(filled)
    assert chain == []
    rep = verify_store(filled)
    assert [(p.item_id, p.seq, p.problem) for p in rep.problems] == [(3, 3, "edited")]


def test_verify_finds_an_edited_ledger_entry(filled: EvidenceStore) -> None:
    t = ledger_entries
    with filled.engine.begin() as c:
        c.execute(update(t).where(t.c.seq == 2).values(payload_json='{"item": "message"}'))
    chain, _items = _problems(filled)
    assert (2, "edited") in chain


def test_verify_finds_a_deleted_ledger_entry_and_message(filled: EvidenceStore) -> None:
    t = ledger_entries
    with filled.engine.begin() as c:
        c.execute(delete(t).where(t.c.seq == 3))
    chain, items = _problems(filled)
    assert (3, "deleted") in chain
    assert ("message", "inserted") in items  # message 3 is no longer vouched for
    with filled.engine.begin() as c:
        c.execute(delete(Message).where(Message.id == 4))
    rep = verify_store(filled)
    assert ("message", 4, "deleted") in [(p.item, p.item_id, p.problem) for p in rep.problems]


def test_verify_finds_an_inserted_message(filled: EvidenceStore) -> None:
    with filled.session() as s, s.begin():
        src = s.get(Message, 1)
        assert src is not None
        s.add(
            Message(
                dedupe_key="f" * 64,
                item_sha256="0" * 64,
                sender="10690000",
                recipient="self",
                direction="in",
                received_at=src.received_at,
                text="伪造的短信",
                source="android",
                source_ref="x",
                is_collection=True,
                authenticity="genuine",
                verdict={},
                import_run_id=src.import_run_id,
                imported_at=src.imported_at,
            )
        )
    _chain, items = _problems(filled)
    assert items == [("message", "inserted")]


def test_verify_finds_reordered_entries(filled: EvidenceStore) -> None:
    t = ledger_entries
    with filled.engine.begin() as c:
        rows = {r.seq: r for r in c.execute(select(t).where(t.c.seq.in_((2, 3))))}
        # swap the contents of rows 2 and 3 (their ids keep the stored order)
        c.execute(update(t).where(t.c.id == rows[2].id).values(seq=-2))
        for seq, other in ((3, 2), (2, 3)):
            r = rows[other]
            c.execute(
                update(t)
                .where(t.c.id == rows[seq].id)
                .values(
                    seq=r.seq,
                    kind=r.kind,
                    payload_json=r.payload_json,
                    payload_sha256=r.payload_sha256,
                    prev_hash=r.prev_hash,
                    entry_hash=r.entry_hash,
                    recorded_at=r.recorded_at,
                )
            )
    chain, items = _problems(filled)
    assert chain == [(2, "reordered")], chain  # one swap, one problem
    assert items == []


def test_a_saved_head_still_verifies_after_more_imports(
    filled: EvidenceStore, tmp_path: Path
) -> None:
    head = verify_store(filled).chain.head
    more = tmp_path / "more.xml"
    more.write_text(backup(sms("10690000", ms(2025, 2, 1, 10), "【招联金融】后来的一条")))
    Importer(filled).import_file(more)
    rep = verify_store(filled, expected_head=head)
    assert rep.ok and rep.chain.after_head == 1


def test_verify_catches_removal_at_the_end_with_a_saved_head(filled: EvidenceStore) -> None:
    head = verify_store(filled).chain.head
    t = ledger_entries
    with filled.engine.begin() as c:
        c.execute(delete(t).where(t.c.seq == 5))
        c.execute(delete(Message).where(Message.id == 5))
    assert verify_store(filled).ok  # without the head, a clean cut at the end looks intact
    rep = verify_store(filled, expected_head=head)
    assert not rep.ok and rep.chain.problems[0].problem == "deleted"


# ---------------------------------------------------------------------------- history
FREQ_OVERLAY = textwrap.dedent(
    """\
    pack: cn-test
    version: "1"
    extends: cn
    jurisdiction: CN
    languages: [zh]
    timezone: Asia/Shanghai
    title: {zh: 测试, en: test}
    rules:
      - id: cn.freq.daily_test
        code: excessive_frequency
        title: {zh: 每日联系过多, en: Too many contacts per day}
        binding: national_standard_recommended
        severity: standard
        check: rate_limit
        citation: ["测试用上限 / a test cap"]
        in_force: 2024-01-01  # before the messages: days before a rule's date are not counted
        confidence: medium
        explain: {zh: 测试用上限, en: test cap}
        detect: {builtin: frequency, params: {max_per_day: %d, channel: any}}
    """
)


def test_cases_history_rules(store: EvidenceStore, tmp_path: Path) -> None:
    day = [
        sms("10690000", ms(2025, 1, 14, 9), PLAIN),
        sms("10690000", ms(2025, 1, 14, 12), "【招联金融】请尽快还款，否则影响征信。"),
        sms("10690000", ms(2025, 1, 14, 23, 30), THREAT),  # later, night, and more severe
        sms("10690000", ms(2025, 1, 15, 10), PLAIN + "今天"),
        sms("95511", ms(2025, 1, 15, 11), "【平安银行】您的验证码是123456。"),  # not collection
    ]
    f = tmp_path / "me.xml"
    f.write_text(backup(*day))
    Importer(store).import_file(f)
    calls = tmp_path / "calls.xml"
    calls.write_text(
        "<?xml version='1.0'?>\n<calls>\n"
        f'<call number="10690000" duration="0" date="{ms(2025, 1, 14, 22, 30)}" type="3" />\n'
        f'<call number="95599" duration="10" date="{ms(2025, 1, 14, 10)}" type="1" />\n'
        "</calls>\n"
    )
    Importer(store).import_file(calls)
    mum = tmp_path / "mum.xml"
    mum.write_text(
        backup(
            sms(
                "10690000",
                ms(2025, 1, 16, 10),
                "【招联金融】您儿子张三在我司的借款已逾期30天，请转告他尽快还款。",
            )
        )
    )
    Importer(store, recipient="妈妈").import_file(mum)

    cap2 = tmp_path / "cap2.yaml"
    cap2.write_text(FREQ_OVERLAY % 2, encoding="utf-8")
    pack = load_pack_file(cap2)
    caps = {(c.rule_id, c.max_per_day, c.channel, c.counts) for c in frequency_caps(pack)}
    assert ("cn.freq.daily_test", 2, "any", "all") in caps
    # the shipped cn pack's caps (CBA 2026, GB/T 45251-2025), inherited by the overlay
    assert {
        ("cn.freq.unanswered_attempts", 6, "call", "unanswered"),
        ("cn.freq.effective_conversations", 3, "call", "answered"),
    } == {
        (c.rule_id, c.max_per_day, c.channel, c.counts) for c in frequency_caps(load_builtin("cn"))
    }
    cases = build_cases(store, pack)
    assert len(cases) == 1  # the bank OTP is no case; the call joined through the number
    c = cases[0]
    assert c.messages == 5 and c.calls == 1
    assert c.per_day["2025-01-14"] == {"sms": 3, "call": 1}
    freq = [f for f in c.findings if f.code == "excessive_frequency"]
    assert len(freq) == 1 and freq[0].count == 1 and "2025-01-14: 4" in freq[0].detail
    assert c.rule_counts["cn.freq.daily_test"] == 1
    assert (c.night_messages, c.night_calls) == (1, 1)
    # the threat is the case's first violation: where it starts, not an escalation
    assert not [f for f in c.findings if f.rule_id == "history.escalation"]
    (third,) = [f for f in c.findings if f.rule_id == "history.third_party"]
    assert "发给他人（妈妈）的短信 1 条" in third.detail_zh
    assert "1 message(s) sent to others (妈妈)" in third.detail_en
    assert "/" not in third.detail_zh and not any(
        "\u4e00" <= ch <= "\u9fff" for ch in third.detail_en.replace("妈妈", "")
    )
    assert c.third_party_recipients == {"妈妈"}
    assert c.rule_counts["cn.hours"] >= 1

    # the numbers come from the pack: a higher cap, no finding
    cap9 = tmp_path / "cap9.yaml"
    cap9.write_text(FREQ_OVERLAY % 9, encoding="utf-8")
    relaxed = build_cases(store, load_pack_file(cap9))[0]
    assert not [f for f in relaxed.findings if f.code == "excessive_frequency"]
    # days are local: in UTC the 23:30 message falls on the 14th too but 09:00 CN is the 14th
    utc = build_cases(store, pack, zone="UTC")[0]
    assert sum(d["sms"] for d in utc.per_day.values()) == 5


# ---------------------------------------------------------------------------- other sources
def test_ios_smsdb_import(store: EvidenceStore, tmp_path: Path) -> None:
    db = tmp_path / "sms.db"
    con = ios_smsdb(db)
    apple = dt.datetime(2001, 1, 1, tzinfo=dt.UTC)
    t1 = dt.datetime(2025, 1, 14, 23, 15, tzinfo=CN)
    secs = int((t1 - apple).total_seconds())
    body = "【招联金融】您已逾期，再不还款就上门".encode()
    blob = b"\x04\x0bstreamtyped\x81\xe8\x03\x84\x01@\x84\x84\x84\x12NSAttributedString\x00"
    blob += b"\x84\x84\x08NSObject\x00\x85\x92\x84\x84\x84\x08NSString\x01\x94\x84\x01+"
    blob += bytes([len(body)]) + body + b"\x86\x84\x02iI\x01"
    con.executemany(
        "INSERT INTO message VALUES (?, ?, ?, ?, ?, ?, ?)",
        [
            (1, "g1", THREAT, None, 1, secs, 0),  # seconds (old iOS)
            (2, "g2", "好的", None, 1, (secs + 60) * 1_000_000_000, 1),  # nanoseconds
            (3, "g3", None, blob, 1, (secs + 120) * 1_000_000_000, 0),  # attributedBody only
            (4, "g4", None, None, 1, secs + 180, 0),  # nothing readable
        ],
    )
    con.commit()
    con.close()
    before = db.read_bytes()
    report = Importer(store).import_file(db)
    assert report.format == "ios"
    assert (report.new, report.rejected) == (3, 1)
    assert db.read_bytes() == before  # the backup is never modified
    with store.session() as s:
        msgs = s.scalars(select(Message).order_by(Message.id)).all()
    assert msgs[0].received_at == t1
    assert msgs[1].received_at == t1 + dt.timedelta(seconds=60) and msgs[1].direction == "out"
    assert msgs[2].text == body.decode()
    assert msgs[0].sender == "+8610690000"


def test_ios_import_refuses_other_sqlite(store: EvidenceStore, tmp_path: Path) -> None:
    db = tmp_path / "other.db"
    con = sqlite3.connect(db)
    con.execute("CREATE TABLE message (ROWID INTEGER PRIMARY KEY, text TEXT)")
    con.commit()
    con.close()
    with pytest.raises(ImportFormatError, match="handle"):
        Importer(store).import_file(db)


def test_csv_gb18030_with_mapping(store: EvidenceStore, tmp_path: Path) -> None:
    f = tmp_path / "export.csv"
    rows = (
        f"号码,时间,短信内容,类型\n10690000,2025-01-14 23:15,{THREAT},接收\n"
        "10690000,不是时间,x,接收\n"
    )
    f.write_bytes(rows.encode("gb18030"))
    report = Importer(store).import_file(f)
    assert (report.new, report.rejected) == (1, 1)
    assert "line 3" in report.rejections[0][0]
    with store.session() as s:
        m = s.scalars(select(Message)).one()
        assert any(v.code == "night_time" for v in m.violations)
    assert m.text == THREAT and m.received_at == dt.datetime(2025, 1, 14, 15, 15, tzinfo=dt.UTC)

    g = tmp_path / "mapped.csv"
    g.write_text("a,b,c\n" + f"95588,{PLAIN},2025-01-15T10:00:00+08:00\n", encoding="utf-8-sig")
    mapped = Importer(store).import_file(
        g, csv_mapping={"sender": "a", "text": "b", "received_at": "c"}
    )
    assert mapped.new == 1


def test_csv_wrong_encoding_is_a_clear_error(store: EvidenceStore, tmp_path: Path) -> None:
    f = tmp_path / "gbk.csv"
    lines = ["text,sender"] + [f"第{i}条 ok,1069" for i in range(3)] + [f"{THREAT},1069"]
    f.write_bytes("\n".join(lines).encode("gb18030"))
    with pytest.raises(ImportFailed) as info:
        Importer(store).import_file(f, encoding="utf-8")
    assert "utf-8" in str(info.value) and "--encoding" in str(info.value)
    assert "line" in str(info.value)
    raw = tmp_path / "binary.csv"
    raw.write_bytes(b"text,sender\n\xff\xfe\xfa\xfb,1\n")
    with pytest.raises(ImportFormatError, match=r"UTF-16 or binary|unknown encoding"):
        Importer(store).import_file(raw, format="csv")


def test_jsonl_and_pasted_text(store: EvidenceStore, tmp_path: Path) -> None:
    f = tmp_path / "m.jsonl"
    f.write_bytes(
        b'{"text": "%s", "sender": "10690000", "received_at": "2025-01-14T23:15:00+08:00"}\n'
        % THREAT.encode()
        + b"not json\n\n"
        + b'{"sender": "1"}\n'
        + b'{"text": "\xff\xfe"}\n'
        + b'{"text": "ok", "received_at": "yesterday"}\n'
    )
    report = Importer(store).import_file(f)
    assert report.new == 1
    assert [p for p, _ in report.rejections] == [
        "第2行 / line 2",
        "第4行 / line 4",
        "第5行 / line 5",
        "第6行 / line 6",
    ]
    pasted = Importer(store).import_text(
        f"{PLAIN}\n\n  \n{THREAT}\n",
        sender="10690000",
        received_at=dt.datetime(2025, 1, 20, 23, 0, tzinfo=CN),
    )
    assert pasted.new == 2 and pasted.format == "text"
    again = Importer(store).import_text(
        f"{PLAIN}\n\n{THREAT}",
        sender="10690000",
        received_at=dt.datetime(2025, 1, 20, 23, 0, tzinfo=CN),
    )
    assert (again.new, again.duplicate) == (0, 2)


def test_a_text_file_too_big_to_read_whole_is_refused_before_a_run_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from collectguard.evidence import sources

    store = open_store(f"sqlite:///{tmp_path / 'e.sqlite3'}", attachments_dir=tmp_path / "att")
    f = tmp_path / "pasted.txt"
    f.write_text(f"{PLAIN}\n\n{THREAT}\n", encoding="utf-8")
    monkeypatch.setattr(sources, "MAX_TEXT_FILE_BYTES", f.stat().st_size - 1)
    with pytest.raises(ImportFormatError, match="JSONL or CSV"):
        Importer(store).import_file(f)
    with store.session() as s:
        assert s.scalar(select(func.count()).select_from(ImportRun)) == 0
    monkeypatch.setattr(sources, "MAX_TEXT_FILE_BYTES", f.stat().st_size)
    assert Importer(store).import_file(f).new == 2
    store.close()


def test_collection_only_skips_other_messages(store: EvidenceStore, tmp_path: Path) -> None:
    f = tmp_path / "mixed.xml"
    f.write_text(
        backup(
            sms("10690000", ms(2025, 1, 14, 9), PLAIN),
            sms("13800000000", ms(2025, 1, 14, 9), "晚上一起吃饭吗？"),
        )
    )
    report = Importer(store, collection_only=True).import_file(f)
    assert (report.new, report.skipped) == (1, 1)
    assert report.skip_reasons == {NOT_COLLECTION: 1}
    assert count(store, Message) == 1


# ---------------------------------------------------------------------------- kill -9
KILL_SCRIPT = """
import sys
from pathlib import Path
from collectguard.evidence import open_store
from collectguard.evidence.ingest import Importer
store = open_store(sys.argv[1], attachments_dir=Path(sys.argv[3]))
Importer(store, batch_size=25).import_file(Path(sys.argv[2]))
"""


def test_kill_9_mid_import_leaves_a_verifiable_store(tmp_path: Path) -> None:
    n = 1500
    f = tmp_path / "big.xml"
    f.write_text(
        backup(
            *[
                sms("10690000", ms(2025, 1, 1, 0) + i * 60_000, f"【招联金融】第{i}次提醒")
                for i in range(n)
            ]
        )
    )
    url = f"sqlite:///{tmp_path / 'e.sqlite3'}"
    open_store(url, attachments_dir=tmp_path / "att").close()
    proc = subprocess.Popen(
        [sys.executable, "-c", KILL_SCRIPT, url, str(f), str(tmp_path / "att")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    store = open_store(url, attachments_dir=tmp_path / "att")
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if count(store, Message) >= 100 or proc.poll() is not None:
                break
            time.sleep(0.05)
        proc.kill()  # SIGKILL: no cleanup, no rollback handler
        proc.wait()
        assert proc.returncode == -9, proc.stderr.read() if proc.stderr else ""
        stored = count(store, Message)
        assert 0 < stored < n
        assert stored % 25 == 0  # whole batches only
        assert ledger_rows(store) == stored
        assert verify_store(store).ok
        done = Importer(store, batch_size=200).import_file(f)
        assert done.new == n - stored and done.duplicate == stored
        assert count(store, Message) == n and verify_store(store).ok
    finally:
        if proc.stderr:
            proc.stderr.close()
        store.close()


def test_unstorable_characters_and_oversized_texts(store: EvidenceStore, tmp_path: Path) -> None:
    f = tmp_path / "odd.jsonl"
    lines = [
        {"text": "【招联金融】逾期\u0000请还款\ud800", "sender": "1069\ud83d"},
        {"text": "x" * 1_000_001},
        {"text": "正常短信", "received_at": "2025-01-14T23:15:00+08:00"},
    ]
    f.write_text("\n".join(json.dumps(x) for x in lines) + "\n", encoding="utf-8")
    report = Importer(store).import_file(f)
    assert (report.new, report.rejected) == (2, 1)
    assert report.rejections[0][0] == "第2行 / line 2"
    assert "1,000,000" in report.rejections[0][1]
    with store.session() as s:
        first = s.scalars(select(Message).order_by(Message.id)).first()
    assert first is not None
    assert first.text == "【招联金融】逾期\ufffd请还款\ufffd" and first.sender == "1069\ufffd"
    assert verify_store(store).ok
    assert Importer(store).import_file(f).duplicate == 2  # the cleaned form de-duplicates


def test_concurrent_imports_of_one_backup_store_each_item_once(
    store: EvidenceStore, tmp_path: Path
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    n = 120
    f = tmp_path / "same.xml"
    f.write_text(
        backup(
            *[sms("10690000", ms(2025, 3, 1, 0) + i * 60_000, f"【招联金融】{i}") for i in range(n)]
        )
    )
    with ThreadPoolExecutor(2) as pool:
        reports = list(pool.map(lambda _: Importer(store, batch_size=10).import_file(f), range(2)))
    assert sum(r.new for r in reports) == n
    assert all(r.new + r.duplicate == n for r in reports)
    assert count(store, Message) == n and ledger_rows(store) == n
    assert verify_store(store).ok


def test_duplicates_across_batches_and_a_write_between_read_and_commit(
    store: EvidenceStore, tmp_path: Path
) -> None:
    """A batch is read (and its stored keys looked up) one batch before it is written. The
    writer must still see a duplicate stored by the batch before it, and one stored by another
    import in between; every item is stored once and the chain verifies."""
    texts = [f"【招联金融】第{i}条提醒" for i in range(30)]
    records = [sms("10690000", ms(2025, 4, 1, 9) + i * 60_000, t) for i, t in enumerate(texts)]
    # batch size 10: items 0..9, 10..19, 20..29, then repeats of items 5 and 15
    f = tmp_path / "dups.xml"
    f.write_text(backup(*records, records[5], records[15]), encoding="utf-8")
    other = tmp_path / "other.xml"
    other.write_text(backup(records[12], records[25]), encoding="utf-8")

    class Interleaved(Importer):
        calls = 0

        def _commit(self, b: Any, report: Any, fmt: str) -> None:
            Interleaved.calls += 1
            if Interleaved.calls == 1:  # batches 1 and 2 are read; batch 1 not yet written
                assert Importer(store).import_file(other).new == 2
            super()._commit(b, report, fmt)

    report = Interleaved(store, batch_size=10, workers=2).import_file(f)
    assert Interleaved.calls >= 4
    assert (report.new, report.duplicate) == (28, 4)
    again = Importer(store, batch_size=10).import_file(f)
    assert (again.new, again.duplicate) == (0, 32)
    assert count(store, Message) == 30 and ledger_rows(store) == 30
    assert verify_store(store).ok


def test_migrations_match_the_models(store: EvidenceStore) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from collectguard.evidence.models import Base

    with store.engine.connect() as c:
        diff = compare_metadata(
            MigrationContext.configure(c, opts={"compare_type": True}), Base.metadata
        )

    def table_of(op: Any) -> str:
        op = op[0] if isinstance(op, list) else op  # modify_* ops come as lists
        if len(op) > 2 and isinstance(op[2], str):  # (add_column, schema, table, column)
            return str(op[2])
        table = getattr(op[1], "table", None)  # an index or constraint
        return str(getattr(table, "name", None) or getattr(op[1], "name", ""))

    ours = [
        d
        for d in diff
        if table_of(d).startswith("evidence_") and table_of(d) != "evidence_alembic_version"
    ]
    assert ours == [], ours  # a model change without a migration fails here


def test_default_store_lives_in_the_user_data_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import collectguard.evidence.store as store_mod

    monkeypatch.delenv("COLLECTGUARD_DB", raising=False)
    monkeypatch.setattr(store_mod, "default_data_dir", lambda: tmp_path / "data")
    s = open_store()
    try:
        assert s.engine.url.database == str(tmp_path / "data" / "evidence.sqlite3")
        assert s.attachments_dir == tmp_path / "data" / "attachments"
    finally:
        s.close()
    monkeypatch.setenv("COLLECTGUARD_DB", str(tmp_path / "other.db"))
    s = open_store()
    try:
        assert s.engine.url.database == str(tmp_path / "other.db")
    finally:
        s.close()


def test_attach_a_screenshot_to_a_case(store: EvidenceStore, tmp_path: Path) -> None:
    shot = tmp_path / "wechat.png"
    shot.write_bytes(b"\x89PNG\r\n\x1a\nscreenshot")
    imp = Importer(store)
    report = imp.import_attachment(shot, case_key="zhaolian_cfc", note="微信里的威胁")
    assert (report.new, report.new_by_kind["attachment"]) == (1, 1)
    assert imp.import_attachment(shot, case_key="zhaolian_cfc").duplicate == 1
    with store.session() as s:
        att = s.scalars(select(Attachment)).one()
    assert (att.case_key, att.note, att.media_type) == ("zhaolian_cfc", "微信里的威胁", "image/png")
    assert store.attachment_path(att.sha256).read_bytes() == shot.read_bytes()
    assert [e.kind for e in store.ledger.entries()] == ["attachment"]
    assert verify_store(store).ok
    with pytest.raises(ImportFormatError, match="no message 99"):
        imp.import_attachment(shot, message_id=99)
    store.attachment_path(att.sha256).write_bytes(b"edited")
    assert [p.problem for p in verify_store(store).problems] == ["edited"]


def test_upgrade_from_the_first_schema_keeps_data(tmp_path: Path) -> None:
    from alembic import command
    from alembic.config import Config

    import collectguard.evidence.store as store_mod

    url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    engine = store_mod.create_engine(url)
    cfg = Config()
    cfg.set_main_option("script_location", str(Path(store_mod.__file__).parent / "migrations"))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0001")
    with engine.begin() as conn:
        cols = {c["name"] for c in inspect(conn).get_columns("evidence_attachments")}
        assert "case_key" not in cols
        indexes = {i["name"] for i in inspect(conn).get_indexes("evidence_messages")}
        assert "ix_evidence_messages_sender" in indexes
        conn.execute(
            text(
                "INSERT INTO evidence_import_runs (id, source_name, source_sha256, format, "
                "recipient, started_at, status, new_count, duplicate_count, rejected_count, "
                "skipped_count) VALUES (1, 'x', 'ab', 'text', 'self', '2025-01-01 00:00:00', "
                "'complete', 0, 0, 0, 0)"
            )
        )
    engine.dispose()
    s = open_store(url, attachments_dir=tmp_path / "att")
    try:
        with s.engine.connect() as conn:
            assert conn.scalar(text("SELECT version_num FROM evidence_alembic_version")) == "0003"
            cols = {c["name"] for c in inspect(conn).get_columns("evidence_attachments")}
            indexes = {i["name"] for i in inspect(conn).get_indexes("evidence_messages")}
        assert {"case_key", "note"} <= cols
        assert "ix_evidence_messages_sender" not in indexes  # 0003: no query used it
        with s.session() as session:
            run = session.get(ImportRun, 1)
            assert run is not None and run.source_name == "x"
    finally:
        s.close()


def test_imports_collect_less_often_and_restore_the_collector() -> None:
    import gc

    from collectguard.evidence.ingest import GC_GEN0_THRESHOLD, fewer_collections

    before = gc.get_threshold()
    with fewer_collections():
        assert gc.get_threshold()[0] == max(before[0], GC_GEN0_THRESHOLD)
        assert gc.get_threshold()[1:] == before[1:]
        assert gc.get_freeze_count() > 0  # what was loaded is out of the collector's way
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0
    # overlapping imports (threads of the web app): the last to finish restores
    with fewer_collections():
        with fewer_collections():
            pass
        assert gc.get_threshold()[0] == max(before[0], GC_GEN0_THRESHOLD)
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0
    first, second = fewer_collections(), fewer_collections()
    first.__enter__()
    second.__enter__()
    first.__exit__(None, None, None)  # the first to start is not the last to finish
    assert gc.get_threshold()[0] == max(before[0], GC_GEN0_THRESHOLD)
    second.__exit__(None, None, None)
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0
    gc.freeze()  # a caller's own freeze is theirs to undo
    try:
        with fewer_collections():
            pass
        assert gc.get_freeze_count() > 0  # not unfrozen by the import
    finally:
        gc.unfreeze()


def test_bulk_insert_stores_what_sqlalchemy_stores(tmp_path: Path) -> None:
    """The importer's SQLite fast path (its own executemany, one formatting of the batch's
    shared `imported_at`) writes the same stored values as SQLAlchemy's own insert."""
    from sqlalchemy import insert

    from collectguard.evidence.ingest import _bulk_insert

    shared = dt.datetime(2025, 3, 1, 20, 0, 0, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    first = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    runs = [
        {
            "id": i + 1,
            "source_name": "x",
            "source_sha256": "0" * 64,
            "format": "text",
            "recipient": "self",
            "started_at": first + dt.timedelta(seconds=i, microseconds=i) if i < 2 else shared,
            "finished_at": None if i % 2 else (shared if i % 3 else FIXED_NOW),
            "status": "complete",
            "new_count": 0,
            "duplicate_count": 0,
            "rejected_count": 0,
            "skipped_count": 0,
        }
        for i in range(7)
    ]
    stored = []
    for fast in (True, False):
        st = open_store(
            f"sqlite:///{tmp_path / f'{fast}.db'}", attachments_dir=tmp_path / str(fast)
        )
        try:
            with st.writer() as s, s.begin():
                if fast:
                    _bulk_insert(s.connection(), ImportRun, runs)
                else:
                    s.connection().execute(insert(ImportRun), runs)
            with st.engine.connect() as c:
                stored.append(
                    c.exec_driver_sql(
                        "SELECT id, started_at, finished_at FROM evidence_import_runs ORDER BY id"
                    ).all()
                )
        finally:
            st.close()
    assert stored[0] == stored[1]
    assert len({r[1] for r in stored[0]}) == 3  # two distinct starts, then the shared time
    assert {r[2] for r in stored[0]} == {None, "2025-03-01 12:00:00.000000"}


def test_analysis_workers_yield_to_the_writer(store: EvidenceStore) -> None:
    """Forked analysis workers run at a lower priority than the importer (the writer)."""
    from collectguard.evidence.ingest import WORKER_NICENESS

    importer = Importer(store, workers=2)
    if importer.workers == 1:
        pytest.skip("no fork on this platform: imports analyse in-process")
    try:
        worker_nice = importer._pool_for_analysis().submit(os.nice, 0).result(timeout=60)
    finally:
        importer._close_pool()
    assert worker_nice == min(os.nice(0) + WORKER_NICENESS, 19)


def test_a_case_knows_its_lender_from_the_senders_other_messages(
    store: EvidenceStore, tmp_path: Path
) -> None:
    """A collection message that names no lender joins the case of the one lender its sender
    number spoke for — even when only a non-collection message (a verification code) named
    it; only the collection message is read into the case."""
    f = tmp_path / "sms.xml"
    f.write_text(
        backup(
            sms("1069012345", ms(2025, 1, 14, 9), "【招联金融】您的验证码是123456，请勿泄露。"),
            sms(
                "1069012345", ms(2025, 1, 15, 9), "您的借款已逾期3天，请今日还款，否则将影响征信。"
            ),
            sms("13800000000", ms(2025, 1, 15, 10), "周末一起吃饭吗"),
        ),
        encoding="utf-8",
    )
    Importer(store).import_file(f)
    (case,) = build_cases(store)
    assert case.key == "zhaolian_cfc"
    assert [t.summary[:6] for t in case.timeline] == ["您的借款已逾"]
    assert len(build_cases(store, include_all=True)) == 2  # and the dinner chat, on its own


def _damage(store: EvidenceStore, sql: str) -> Path:
    """Write bytes that are not UTF-8 into a text column, as a damaged file would hold."""
    db = Path(store.engine.url.database or "")
    store.close()
    con = sqlite3.connect(db)
    con.execute(sql)
    con.commit()
    con.close()
    return db


@pytest.mark.parametrize("store", ["sqlite"], indirect=True)
def test_verify_reports_a_store_it_cannot_read_to_the_end(filled: EvidenceStore) -> None:
    db = _damage(
        filled, "UPDATE ledger_entries SET payload_json = CAST(x'7b22ce' AS TEXT) WHERE seq = 3"
    )
    reopened = open_store(f"sqlite:///{db}", must_exist=True)
    try:
        report = verify_store(reopened)  # was: OperationalError out of verify
    finally:
        reopened.close()
    assert not report.ok and report.unreadable is not None
    assert "UTF-8" in report.unreadable
    text = report.describe()
    assert text.startswith("证据库被改动 / store tampered")
    assert "the store's file is damaged and could not be read to the end" in text
    assert "all 0 items match" not in text  # nothing is said to match what was never read


@pytest.mark.parametrize("store", ["sqlite"], indirect=True)
def test_cli_says_a_damaged_store_cannot_be_read_instead_of_a_traceback(
    filled: EvidenceStore,
) -> None:
    db = _damage(filled, "UPDATE evidence_import_runs SET source_name = CAST(x'e682ce' AS TEXT)")
    run = [sys.executable, "-c", "from collectguard.cli import main; main()", "evidence"]
    r = subprocess.run([*run, "verify", "--db", str(db)], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr  # verify reads no run names: still intact
    r = subprocess.run([*run, "runs", "--db", str(db)], capture_output=True, text=True)
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    assert "数据库读写失败" in r.stderr and "could not be read or written" in r.stderr
