"""An iPhone iTunes/Finder backup folder imported whole: its hashed ``sms.db`` read, each
attachment found through ``Manifest.db`` (or by its computed name), an encrypted backup, a
folder that is no backup and a backup without Messages refused, and the same dedupe keys as
the extracted ``sms.db``."""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from collectguard.cli import app
from collectguard.evidence import ImportFormatError
from collectguard.evidence.ingest import Importer
from collectguard.evidence.items import message_dedupe_key
from collectguard.evidence.models import Attachment, ImportRun, Message
from collectguard.evidence.sources import (
    MAX_IOS_ATTACHMENT_BYTES,
    MessageRecord,
    open_ios_backup,
    read_ios_backup,
    read_ios_smsdb,
)
from collectguard.evidence.store import EvidenceStore
from collectguard.evidence.verify import verify_store
from iosdb import SMSDB_FILE_ID, FullSmsDb, IosBackupFolder, file_id

THREAT = "【招联金融】您的借款已逾期，今天再不还款就上门，通知你的家人和单位。"
PLAIN = "【招联金融】您的借款已逾期3天，请及时还款。"
JPEG = b"\xff\xd8\xff\xe0fake jpeg\xff\xd9"
PHOTO = "ab/11/A1B2C3D4-0000-4000-8000-000000000001/IMG_0001.JPG"
runner = CliRunner()


def messages(store: EvidenceStore) -> list[Message]:
    with store.session() as s:
        return list(s.scalars(select(Message).order_by(Message.id)).all())


def attachments(store: EvidenceStore) -> list[Attachment]:
    with store.session() as s:
        return list(s.scalars(select(Attachment).order_by(Attachment.id)).all())


def runs(store: EvidenceStore) -> int:
    with store.session() as s:
        return int(s.scalar(select(func.count()).select_from(ImportRun)) or 0)


def backup_with_photo(root: Path) -> Path:
    """A backup holding three messages: a threat, a photo with text, a plain reminder."""
    b = IosBackupFolder(root)
    photo = b.attachment(PHOTO, JPEG)
    db = b.sms_db()
    db.add(THREAT)
    db.add("这是你家的照片\ufffc", files=((photo, "image/jpeg", "IMG_0001.JPG"),))
    db.add(PLAIN, handle=3, chat=3)
    db.close()
    b.close()
    return root


def zh_first(message: str, zh: str, en: str) -> None:
    assert zh in message and en in message
    assert message.index(zh) < message.index(" / ") < message.index(en)


# ---------------------------------------------------------------------------- importing
def test_a_backup_folder_imports_its_messages_and_attachments(
    store: EvidenceStore, tmp_path: Path
) -> None:
    folder = backup_with_photo(tmp_path / "Backup" / "00008030-001A2B3C4D5E6F70")
    hashed = folder / SMSDB_FILE_ID[:2] / SMSDB_FILE_ID
    assert hashed.is_file() and not list(folder.rglob("sms.db"))  # only the hashed name
    report = Importer(store).import_file(folder)
    assert (report.new, report.rejected, report.format) == (3, 0, "ios")
    assert report.new_by_kind["attachment"] == 1
    assert report.source_name == str(folder)
    assert report.source_sha256 == hashlib.sha256(hashed.read_bytes()).hexdigest()
    got = [(m.text, m.sender) for m in messages(store)]
    assert got == [
        (THREAT, "+8613800138000"),
        ("这是你家的照片", "+8613800138000"),
        (PLAIN, "+8613911112222"),
    ]
    [att] = attachments(store)
    assert (att.message_id, att.filename, att.media_type) == (
        messages(store)[1].id,
        "IMG_0001.JPG",
        "image/jpeg",
    )
    assert store.attachment_path(att.sha256).read_bytes() == JPEG
    assert verify_store(store).ok


def test_format_ios_takes_a_folder_and_no_other_format_does(
    store: EvidenceStore, tmp_path: Path
) -> None:
    folder = backup_with_photo(tmp_path / "backup")
    with pytest.raises(ImportFormatError) as err:
        Importer(store).import_file(folder, format="csv")
    assert "--format ios" in str(err.value)
    assert runs(store) == 0
    assert Importer(store).import_file(folder, format="ios").new == 3


def test_an_attachment_is_found_through_manifest_db(store: EvidenceStore, tmp_path: Path) -> None:
    b = IosBackupFolder(tmp_path / "backup")
    rel = f"Library/SMS/Attachments/{PHOTO}"
    # Stored under the ID Manifest.db names, not the computed one: only the lookup finds it.
    listed = "0" * 38 + "ff"
    assert listed != file_id("MediaDomain", rel)
    b.add("MediaDomain", rel, JPEG, fid=listed)
    db = b.sms_db()
    db.add("\ufffc", files=((f"~/{rel}", "image/jpeg", "IMG_0001.JPG"),))
    db.close()
    b.close()
    report = Importer(store).import_file(b.root)
    assert (report.new, report.rejected, report.new_by_kind["attachment"]) == (1, 0, 1)
    [att] = attachments(store)
    assert store.attachment_path(att.sha256).read_bytes() == JPEG


def test_an_older_backup_without_manifest_db_is_read_by_computed_names(
    store: EvidenceStore, tmp_path: Path
) -> None:
    b = IosBackupFolder(tmp_path / "backup", manifest_db=False)  # iOS 9: Manifest.mbdb, flat
    photo = b.attachment(PHOTO, JPEG)
    db = b.sms_db()
    db.add(THREAT, files=((photo, "image/jpeg", "IMG_0001.JPG"),))
    db.close()
    b.close()
    assert (b.root / SMSDB_FILE_ID).is_file() and not (b.root / "Manifest.db").exists()
    report = Importer(store).import_file(b.root)
    assert (report.new, report.rejected, report.new_by_kind["attachment"]) == (1, 0, 1)


def test_attachments_missing_or_too_large_are_rejected_by_name(
    store: EvidenceStore, tmp_path: Path
) -> None:
    b = IosBackupFolder(tmp_path / "backup")
    b.list("MediaDomain", "Library/SMS/Attachments/ab/12/G2/IMG_0002.JPG")  # listed, no file
    big = b.attachment("ab/13/G3/IMG_0003.MOV", b"")
    with b.path(file_id("MediaDomain", big.removeprefix("~/"))).open("r+b") as fp:
        fp.truncate(MAX_IOS_ATTACHMENT_BYTES + 1)  # sparse: no 64 MiB written
    db = b.sms_db()
    listed = "~/Library/SMS/Attachments/ab/12/G2/IMG_0002.JPG"
    unlisted = "~/Library/SMS/Attachments/ab/14/G4/IMG_0004.JPG"  # not in the backup at all
    db.add("这是你家的照片\ufffc", files=((listed, "image/jpeg", "IMG_0002.JPG"),))
    db.add("\ufffc", files=((unlisted, "image/jpeg", "IMG_0004.JPG"),))
    db.add("\ufffc", files=((big, "video/quicktime", "IMG_0003.MOV"),))
    db.close()
    b.close()
    report = Importer(store).import_file(b.root)
    assert [m.text for m in messages(store)] == ["这是你家的照片"]
    assert (report.new, report.rejected, report.new_by_kind["attachment"]) == (1, 3, 0)
    reasons = dict(report.rejections)
    assert list(reasons) == ["ROWID 1 附件 / attachment", "ROWID 2", "ROWID 3"]
    for where, name in zip(reasons, ("IMG_0002.JPG", "IMG_0004.JPG", "IMG_0003.MOV"), strict=True):
        assert "attachment not imported" in reasons[where] and reasons[where].endswith(name)
    assert "not stored" in reasons["ROWID 2"]


def test_the_backups_own_wal_is_read(store: EvidenceStore, tmp_path: Path) -> None:
    live = tmp_path / "live"
    live.mkdir()
    db = FullSmsDb(live / "sms.db")
    db.con.execute("PRAGMA journal_mode=WAL")
    db.con.execute("PRAGMA wal_autocheckpoint=0")
    db.add(PLAIN)
    db.con.commit()
    db.con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.add(THREAT)  # only in sms.db-wal
    db.con.commit()
    b = IosBackupFolder(tmp_path / "backup")
    b.add("HomeDomain", "Library/SMS/sms.db", (live / "sms.db").read_bytes())
    b.add("HomeDomain", "Library/SMS/sms.db-wal", (live / "sms.db-wal").read_bytes())
    db.close()
    b.close()
    report = Importer(store).import_file(b.root)
    assert report.new == 2 and messages(store)[-1].text == THREAT


# ---------------------------------------------------------------------------- refused
def test_an_encrypted_backup_is_refused_before_a_run_is_recorded(
    store: EvidenceStore, tmp_path: Path
) -> None:
    b = IosBackupFolder(tmp_path / "backup", encrypted=True)
    b.add("HomeDomain", "Library/SMS/sms.db", b"\x8f\x03ciphertext" * 100)
    b.close()
    with pytest.raises(ImportFormatError) as err:
        Importer(store).import_file(b.root)
    zh_first(str(err.value), "加密的 iPhone 备份", "encrypted iPhone backup")
    assert "加密本地备份" in str(err.value) and "Encrypt local backup" in str(err.value)
    assert runs(store) == 0


def test_a_manifest_db_that_is_not_sqlite_is_refused_as_encrypted_or_damaged(
    store: EvidenceStore, tmp_path: Path
) -> None:
    folder = tmp_path / "backup"
    folder.mkdir()
    (folder / "Manifest.db").write_bytes(b"\x8f\x03ciphertext" * 100)  # no Manifest.plist
    with pytest.raises(ImportFormatError) as err:
        Importer(store).import_file(folder)
    zh_first(str(err.value), "已加密或已损坏", "encrypted or damaged")
    assert runs(store) == 0


def test_a_folder_that_is_not_a_backup_is_refused_saying_what_was_expected(
    store: EvidenceStore, tmp_path: Path
) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "IMG_0001.JPG").write_bytes(JPEG)
    with pytest.raises(ImportFormatError) as err:
        Importer(store).import_file(folder)
    zh_first(
        str(err.value), "不是 iPhone 备份文件夹", "is a folder, but not an iPhone backup folder"
    )
    assert "Manifest.db" in str(err.value) and "this folder holds" not in str(err.value)
    assert runs(store) == 0


def test_a_refused_folder_names_what_it_holds(tmp_path: Path) -> None:
    extracted = tmp_path / "extracted"
    extracted.mkdir()
    FullSmsDb(extracted / "sms.db").close()
    with pytest.raises(ImportFormatError, match=r"this folder holds sms\.db: import that file"):
        open_ios_backup(extracted)
    parent = tmp_path / "Backup"
    backup_with_photo(parent / "00008030-001A2B3C4D5E6F70")
    with pytest.raises(ImportFormatError, match=r"holds 1 backup\(s\): 00008030-001A2B3C4D5E6F70"):
        open_ios_backup(parent)


def test_a_backup_without_messages_is_refused_naming_messages_in_icloud(
    store: EvidenceStore, tmp_path: Path
) -> None:
    b = IosBackupFolder(tmp_path / "backup")
    b.attachment(PHOTO, JPEG)  # files of other apps, but no sms.db
    b.add("HomeDomain", "Library/Notes/notes.sqlite", b"SQLite format 3\x00")
    b.close()
    with pytest.raises(ImportFormatError) as err:
        Importer(store).import_file(b.root)
    zh_first(str(err.value), "备份里没有短信数据库", "the backup holds no Messages database")
    assert "iCloud 信息" in str(err.value) and "Messages in iCloud" in str(err.value)
    assert runs(store) == 0


# ---------------------------------------------------------------------------- idempotent
def test_importing_the_same_backup_again_stores_nothing_twice(
    store: EvidenceStore, tmp_path: Path
) -> None:
    folder = backup_with_photo(tmp_path / "backup")
    first = Importer(store).import_file(folder)
    again = Importer(store).import_file(folder)
    assert (again.new, again.duplicate, again.rejected) == (0, first.new, 0)
    assert again.source_sha256 == first.source_sha256
    assert len(messages(store)) == 3 and len(attachments(store)) == 1
    assert len([p for p in (tmp_path / "a").rglob("*") if p.is_file()]) == 1
    assert verify_store(store).ok


def test_the_folder_and_its_extracted_sms_db_are_the_same_messages(
    store: EvidenceStore, tmp_path: Path
) -> None:
    folder = backup_with_photo(tmp_path / "backup")
    bare = tmp_path / "extracted" / "sms.db"
    bare.parent.mkdir()
    shutil.copyfile(folder / SMSDB_FILE_ID[:2] / SMSDB_FILE_ID, bare)

    def keys(records: Iterator[object]) -> list[str]:
        return [message_dedupe_key(r, "self") for r in records if isinstance(r, MessageRecord)]

    from_folder = keys(read_ios_backup(open_ios_backup(folder)))
    assert len(from_folder) == 3 and from_folder == keys(read_ios_smsdb(bare))

    # the bare file first (its photo is not beside it), then the whole backup
    first = Importer(store).import_file(bare)
    assert (first.new, first.new_by_kind["attachment"]) == (3, 0)
    later = Importer(store).import_file(folder)
    assert (later.new, later.duplicate) == (0, 3)
    assert later.source_sha256 == first.source_sha256
    assert len(messages(store)) == 3


# ---------------------------------------------------------------------------- the command
def test_the_collectguard_command_imports_a_backup_folder(tmp_path: Path) -> None:
    folder = backup_with_photo(tmp_path / "backup")
    db = str(tmp_path / "cli.sqlite3")
    r = runner.invoke(app, ["evidence", "import", str(folder), "--db", db, "--json"])
    assert r.exit_code == 0, r.stderr
    report = json.loads(r.stdout)
    assert (report["new"], report["duplicate"], report["format"]) == (3, 0, "ios")
    r = runner.invoke(app, ["evidence", "import", str(folder), "--db", db, "--format", "ios"])
    assert r.exit_code == 0, r.stderr
    assert "重复 3" in r.stdout and "duplicate 3" in r.stdout


@pytest.mark.parametrize(
    ("kind", "zh", "en"),
    [
        ("plain", "不是 iPhone 备份文件夹", "is a folder, but not an iPhone backup folder"),
        ("encrypted", "加密的 iPhone 备份", "Encrypt local backup"),
        ("no_messages", "备份里没有短信数据库", "holds no Messages database"),
    ],
)
def test_the_command_refuses_a_folder_it_cannot_import_and_creates_no_store(
    tmp_path: Path, kind: str, zh: str, en: str
) -> None:
    folder = tmp_path / "folder"
    if kind == "plain":
        folder.mkdir()
    else:
        b = IosBackupFolder(folder, encrypted=kind == "encrypted")
        if kind == "encrypted":
            b.add("HomeDomain", "Library/SMS/sms.db", b"\x8f\x03ciphertext")
        b.close()
    db = tmp_path / "cli.sqlite3"
    r = runner.invoke(app, ["evidence", "import", str(folder), "--db", str(db)])
    assert r.exit_code == 2
    err, zh, en = ("".join(t.split()) for t in (r.stderr, zh, en))  # the console wraps lines
    assert zh in err and en in err and err.index(zh) < err.index(en)
    assert not db.exists()
