"""The iPhone ``sms.db`` reader against real-iOS tables: a database with its ``-wal``, messages
whose handle is gone, tapbacks and group events, attachments."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest
from sqlalchemy import select

from collectguard.evidence.ingest import Importer
from collectguard.evidence.models import Attachment, Message
from collectguard.evidence.sources import MessageRecord, SkippedRecord, read_ios_smsdb
from collectguard.evidence.store import EvidenceStore
from collectguard.evidence.verify import verify_store
from iosdb import FullSmsDb, ios_smsdb

THREAT = "【招联金融】您的借款已逾期，今天再不还款就上门，通知你的家人和单位。"
EMPTY = "正文为空 / empty message text"
JPEG = b"\xff\xd8\xff\xe0fake jpeg\xff\xd9"


@pytest.fixture
def temp_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The folder temporary files go to, to see that the reader's copy is removed."""
    root = tmp_path / "tmp"
    root.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(root))
    return root


def messages(store: EvidenceStore) -> list[Message]:
    with store.session() as s:
        return list(s.scalars(select(Message).order_by(Message.id)).all())


# ---------------------------------------------------------------------------- the -wal
def _backup_with_wal(tmp_path: Path) -> Path:
    """A copy of a live database taken while its newest message is still in the -wal."""
    live = tmp_path / "live"
    live.mkdir()
    db = FullSmsDb(live / "sms.db")
    db.con.execute("PRAGMA journal_mode=WAL")
    db.con.execute("PRAGMA wal_autocheckpoint=0")
    db.add("【招联金融】您的借款已逾期3天，请及时还款。")
    db.con.commit()
    db.con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.add(THREAT)  # only in sms.db-wal
    db.con.commit()
    backup = tmp_path / "backup"
    backup.mkdir()
    for name in ("sms.db", "sms.db-wal", "sms.db-shm"):
        shutil.copyfile(live / name, backup / name)
    db.close()
    assert (backup / "sms.db-wal").stat().st_size > 0
    return backup / "sms.db"


def test_messages_still_in_the_wal_are_read(
    store: EvidenceStore, tmp_path: Path, temp_root: Path
) -> None:
    db = _backup_with_wal(tmp_path)
    names = ("sms.db", "sms.db-wal", "sms.db-shm")
    before = {n: (db.parent / n).read_bytes() for n in names}
    report = Importer(store).import_file(db, format="ios")
    assert (report.new, report.rejected) == (2, 0)
    assert [m.text for m in messages(store)][-1] == THREAT
    # the user's files are untouched, none added beside them, the private copy is gone
    assert {n: (db.parent / n).read_bytes() for n in names} == before
    assert sorted(p.name for p in db.parent.iterdir()) == sorted(names)
    assert list(temp_root.iterdir()) == []


def test_without_a_wal_nothing_is_copied(tmp_path: Path, temp_root: Path) -> None:
    path = tmp_path / "sms.db"
    db = FullSmsDb(path)
    db.add(THREAT)
    db.close()
    reader = read_ios_smsdb(path)
    assert isinstance(next(reader), MessageRecord)
    assert list(temp_root.iterdir()) == []  # read in place (immutable, read-only)
    reader.close()


def test_a_copy_left_unread_is_removed_when_the_reader_is_closed(
    tmp_path: Path, temp_root: Path
) -> None:
    reader = read_ios_smsdb(_backup_with_wal(tmp_path))
    next(reader)
    assert len(list(temp_root.iterdir())) == 1
    reader.close()
    assert list(temp_root.iterdir()) == []


# ---------------------------------------------------------------------------- senders
def test_a_message_without_a_handle_takes_its_one_to_one_chats_number(
    store: EvidenceStore, tmp_path: Path
) -> None:
    path = tmp_path / "sms.db"
    db = FullSmsDb(path)
    db.add(THREAT, handle=6, chat=4)  # handle row deleted; chat 4 has no chat_handle_join
    db.add("我下周还", handle=0, chat=1, from_me=1)  # sent, handle 0: the addressee
    db.add("请不要在群里发我的信息", handle=0, chat=3, from_me=1)  # group: no one person
    db.add("张三是老赖", handle=9, chat=3)  # group, handle deleted: not the group's id
    db.add("你好", handle=3, chat=3)
    db.close()
    report = Importer(store).import_file(path, format="ios")
    assert report.new == 5
    got = [(m.sender, m.direction) for m in messages(store)]
    assert got == [
        ("+8613012345678", "in"),
        ("+8613800138000", "out"),
        (None, "out"),
        (None, "in"),
        ("+8613911112222", "in"),
    ]


def test_an_old_schema_group_chat_identifier_is_not_a_sender(tmp_path: Path) -> None:
    path = tmp_path / "sms.db"
    con = ios_smsdb(path)  # no chat_handle_join, no chat.style
    con.execute("INSERT INTO chat VALUES (1, '+8613012345678'), (2, 'chat987654')")
    con.executemany(
        "INSERT INTO message VALUES (?, ?, ?, NULL, 0, 758600000, 0)",
        [(1, "g1", THREAT), (2, "g2", "群消息")],
    )
    con.executemany("INSERT INTO chat_message_join VALUES (?, ?)", [(1, 1), (2, 2)])
    con.commit()
    con.close()
    got = [r.sender for r in read_ios_smsdb(path) if isinstance(r, MessageRecord)]
    assert got == ["+8613012345678", None]


# ---------------------------------------------------------------------------- not messages
def test_tapbacks_and_group_events_are_skipped_not_rejected(
    store: EvidenceStore, tmp_path: Path
) -> None:
    path = tmp_path / "sms.db"
    db = FullSmsDb(path)
    db.add(THREAT)
    db.add("Loved “【招联金融】您的借款已逾期”", handle=0, from_me=1, assoc=2000)
    db.add("Removed a heart from “…”", assoc=3000)
    db.add(None, handle=4, chat=3, item_type=1)  # a member added to the group
    db.add("新群名", handle=4, chat=3, item_type=2)  # a rename
    db.close()
    records = list(read_ios_smsdb(path))
    assert [type(r) for r in records] == [MessageRecord] + [SkippedRecord] * 4
    report = Importer(store).import_file(path, format="ios")
    assert (report.new, report.rejected, report.skipped) == (1, 0, 4)
    assert report.rejections == []
    assert "skipped 4" in report.summary()
    # each reason with its count (a tapback twice, a group event twice)
    assert sorted(report.skip_reasons.values()) == [2, 2]
    assert any("tapback" in why for why in report.skip_reasons)
    assert any("group event" in why for why in report.skip_reasons)
    # and the CLI lists them so
    import typer
    from typer.testing import CliRunner

    from collectguard.evidence.cli import evidence_app

    app = typer.Typer()
    app.add_typer(evidence_app, name="evidence")
    r = CliRunner().invoke(
        app, ["evidence", "import", str(path), "--db", str(tmp_path / "cli.sqlite3")]
    )
    assert r.exit_code == 0, r.output
    assert r.stdout.count("跳过 / skipped 2:") == 2 and "tapback" in r.stdout


# ---------------------------------------------------------------------------- attachments
def test_an_attachment_beside_the_database_is_imported(
    store: EvidenceStore, tmp_path: Path
) -> None:
    folder = tmp_path / "Library" / "SMS"
    (folder / "Attachments" / "ab" / "01").mkdir(parents=True)
    (folder / "Attachments" / "ab" / "01" / "IMG_0001.JPG").write_bytes(JPEG)
    path = folder / "sms.db"
    db = FullSmsDb(path)
    name = "~/Library/SMS/Attachments/ab/01/IMG_0001.JPG"
    db.add("\ufffc", files=((name, "image/jpeg", "IMG_0001.JPG"),))
    db.close()
    report = Importer(store).import_file(path, format="ios")
    assert (report.new, report.rejected) == (1, 0)
    assert report.new_by_kind["attachment"] == 1
    [msg] = messages(store)
    assert msg.text == ""  # the U+FFFC placeholder is not text
    with store.session() as s:
        [att] = s.scalars(select(Attachment)).all()
    assert (att.message_id, att.filename, att.media_type) == (msg.id, "IMG_0001.JPG", "image/jpeg")
    assert store.attachment_path(att.sha256).read_bytes() == JPEG
    assert verify_store(store).ok


def test_attachments_not_found_are_reported_and_a_placeholder_is_not_a_message(
    store: EvidenceStore, tmp_path: Path
) -> None:
    (tmp_path / "secret").write_bytes(b"not yours")
    path = tmp_path / "sms.db"
    db = FullSmsDb(path)
    photo = ("~/Library/SMS/Attachments/ab/02/IMG_0002.JPG", "image/jpeg", "IMG_0002.JPG")
    db.add("\ufffc", files=(photo,))  # photo only, file missing
    db.add("这是你家的照片\ufffc", files=(photo,))  # text kept, attachment noted
    db.add("\ufffc")  # a placeholder with no attachment row at all
    db.add("\ufffc", files=(("~/Library/SMS/../secret", "text/plain", "secret"),))
    db.close()
    report = Importer(store).import_file(path, format="ios")
    assert [m.text for m in messages(store)] == ["这是你家的照片"]
    assert (report.new, report.rejected, report.new_by_kind["attachment"]) == (1, 4, 0)
    where = [w for w, _ in report.rejections]
    assert where == ["ROWID 1", "ROWID 2 附件 / attachment", "ROWID 3", "ROWID 4"]
    reasons = dict(report.rejections)
    assert "attachment not imported" in reasons["ROWID 1"]
    assert "IMG_0002.JPG" in reasons["ROWID 1"] and "not stored" in reasons["ROWID 1"]
    assert "attachment not imported" in reasons["ROWID 2 附件 / attachment"]
    assert reasons["ROWID 3"] == EMPTY
    assert "attachment not imported" in reasons["ROWID 4"]  # outside the folder: not read
