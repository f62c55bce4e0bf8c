"""An empty iPhone ``sms.db`` for tests: the four tables the reader needs and one handle."""

from __future__ import annotations

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
