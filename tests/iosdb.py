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
