"""iPhone test data: an empty ``sms.db`` with the four tables the reader needs and one
handle, one with the real iOS tables, and an iTunes/Finder backup folder holding one."""

from __future__ import annotations

import hashlib
import plistlib
import sqlite3
from pathlib import Path

IOS_SCHEMA = """
CREATE TABLE handle (ROWID INTEGER PRIMARY KEY, id TEXT, service TEXT);
CREATE TABLE chat (ROWID INTEGER PRIMARY KEY, chat_identifier TEXT);
CREATE TABLE message (ROWID INTEGER PRIMARY KEY, guid TEXT, text TEXT,
    attributedBody BLOB, handle_id INTEGER, date INTEGER, is_from_me INTEGER);
CREATE TABLE chat_message_join (chat_id INTEGER, message_id INTEGER);
INSERT INTO handle VALUES (1, '+8610690000', 'SMS');
"""


def ios_smsdb(path: Path) -> sqlite3.Connection:
    """A new ``sms.db`` at `path` with handle 1 = +8610690000; the caller adds messages."""
    con = sqlite3.connect(path)
    con.executescript(IOS_SCHEMA)
    return con


IOS_FULL_SCHEMA = """
CREATE TABLE handle (ROWID INTEGER PRIMARY KEY AUTOINCREMENT UNIQUE, id TEXT NOT NULL,
    service TEXT NOT NULL, UNIQUE (id, service));
CREATE TABLE chat (ROWID INTEGER PRIMARY KEY AUTOINCREMENT, guid TEXT UNIQUE NOT NULL,
    style INTEGER, chat_identifier TEXT, service_name TEXT);
CREATE TABLE message (ROWID INTEGER PRIMARY KEY AUTOINCREMENT, guid TEXT UNIQUE NOT NULL,
    text TEXT, handle_id INTEGER DEFAULT 0, attributedBody BLOB, date INTEGER,
    is_from_me INTEGER DEFAULT 0, cache_has_attachments INTEGER DEFAULT 0,
    item_type INTEGER DEFAULT 0, associated_message_type INTEGER DEFAULT 0);
CREATE TABLE chat_message_join (chat_id INTEGER, message_id INTEGER,
    PRIMARY KEY (chat_id, message_id));
CREATE TABLE chat_handle_join (chat_id INTEGER, handle_id INTEGER, UNIQUE(chat_id, handle_id));
CREATE TABLE attachment (ROWID INTEGER PRIMARY KEY AUTOINCREMENT, guid TEXT UNIQUE NOT NULL,
    filename TEXT, mime_type TEXT, transfer_name TEXT, total_bytes INTEGER DEFAULT 0);
CREATE TABLE message_attachment_join (message_id INTEGER, attachment_id INTEGER,
    UNIQUE(message_id, attachment_id));
INSERT INTO handle VALUES (1, '+8613800138000', 'SMS'), (3, '+8613911112222', 'iMessage'),
    (4, '+8613933334444', 'iMessage');
INSERT INTO chat VALUES (1, 'SMS;-;+8613800138000', 45, '+8613800138000', 'SMS'),
    (3, 'iMessage;+;chat123456', 43, 'chat123456', 'iMessage'),
    (4, 'SMS;-;+8613012345678', 45, '+8613012345678', 'SMS');
INSERT INTO chat_handle_join VALUES (1, 1), (3, 3), (3, 4);
"""
"""Real iOS tables (a subset of their columns): chat 1 is one-to-one with handle 1, chat 3 a
group of handles 3 and 4, chat 4 one-to-one with a handle since deleted."""


class FullSmsDb:
    """An ``sms.db`` with the real iOS tables; `add` writes one message into a chat."""

    def __init__(self, path: Path) -> None:
        self.con = sqlite3.connect(path)
        self.con.executescript(IOS_FULL_SCHEMA)
        self.rowid = 0

    def add(
        self,
        text: str | None,
        *,
        handle: int = 1,
        chat: int = 1,
        secs: int = 758_600_000,
        from_me: int = 0,
        item_type: int = 0,
        assoc: int = 0,
        files: tuple[tuple[str, str, str], ...] = (),  # (filename, mime_type, transfer_name)
    ) -> int:
        self.rowid += 1
        rid = self.rowid
        self.con.execute(
            "INSERT INTO message (ROWID, guid, text, handle_id, date, is_from_me, "
            "cache_has_attachments, item_type, associated_message_type) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (rid, f"G{rid}", text, handle, secs + rid, from_me, int(bool(files)), item_type,
             assoc),
        )  # fmt: skip
        self.con.execute("INSERT INTO chat_message_join VALUES (?, ?)", (chat, rid))
        for name, mime, shown in files:
            cur = self.con.execute(
                "INSERT INTO attachment (guid, filename, mime_type, transfer_name) "
                "VALUES (?, ?, ?, ?)",
                (f"A{rid}-{shown}", name, mime, shown),
            )
            self.con.execute(
                "INSERT INTO message_attachment_join VALUES (?, ?)", (rid, cur.lastrowid)
            )
        return rid

    def close(self) -> None:
        self.con.commit()
        self.con.close()


SMSDB_FILE_ID = "3d0d7e5fb2ce288813306e4d4636395e047a3d28"
"""The name every iTunes/Finder backup stores ``HomeDomain`` ``Library/SMS/sms.db`` under."""


def file_id(domain: str, relative_path: str) -> str:
    """A backup's name for a file: SHA-1 of ``domain-relativePath``."""
    return hashlib.sha1(f"{domain}-{relative_path}".encode()).hexdigest()


class IosBackupFolder:
    """An unencrypted iTunes/Finder backup folder as iOS 10 and later write it: a
    ``Manifest.plist``, a ``Manifest.db`` listing the files, each file at ``ab/abcd…``.

    `manifest_db=False` writes an older backup instead (``Manifest.mbdb``, files at
    ``abcd…`` with no sub-folder); `encrypted` only sets ``IsEncrypted``."""

    def __init__(self, root: Path, *, encrypted: bool = False, manifest_db: bool = True) -> None:
        self.root = root
        self.flat = not manifest_db
        root.mkdir(parents=True, exist_ok=True)
        with (root / "Manifest.plist").open("wb") as fp:
            plistlib.dump({"IsEncrypted": encrypted, "Version": "10.0"}, fp)
        (root / "Info.plist").write_bytes(plistlib.dumps({"Device Name": "iPhone"}))
        self.manifest: sqlite3.Connection | None = None
        if manifest_db:
            self.manifest = sqlite3.connect(root / "Manifest.db")
            self.manifest.execute(
                "CREATE TABLE Files (fileID TEXT PRIMARY KEY, domain TEXT, relativePath TEXT, "
                "flags INTEGER, file BLOB)"
            )
        else:
            (root / "Manifest.mbdb").write_bytes(b"mbdb\x05\x00")  # the header; no records

    def path(self, fid: str) -> Path:
        """Where the file with ID `fid` lies in this backup (its folder is created)."""
        where = self.root / fid if self.flat else self.root / fid[:2] / fid
        where.parent.mkdir(parents=True, exist_ok=True)
        return where

    def list(self, domain: str, relative_path: str, fid: str | None = None) -> str:
        """Enter a file in ``Manifest.db`` (under `fid`, default its computed ID)."""
        fid = fid or file_id(domain, relative_path)
        if self.manifest is not None:
            self.manifest.execute(
                "INSERT INTO Files VALUES (?, ?, ?, 1, NULL)", (fid, domain, relative_path)
            )
        return fid

    def add(self, domain: str, relative_path: str, data: bytes, *, fid: str | None = None) -> Path:
        """Store `data` as `relative_path` of `domain`, listed in the manifest."""
        where = self.path(self.list(domain, relative_path, fid))
        where.write_bytes(data)
        return where

    def attachment(self, name: str, data: bytes) -> str:
        """Store an attachment the phone keeps at ``~/Library/SMS/Attachments/<name>``;
        returns that ``attachment.filename``."""
        self.add("MediaDomain", f"Library/SMS/Attachments/{name}", data)
        return f"~/Library/SMS/Attachments/{name}"

    def sms_db(self) -> FullSmsDb:
        """A new ``sms.db`` in the backup, listed in the manifest; the caller adds messages."""
        return FullSmsDb(self.path(self.list("HomeDomain", "Library/SMS/sms.db")))

    def close(self) -> None:
        if self.manifest is not None:
            self.manifest.commit()
            self.manifest.close()
            self.manifest = None
