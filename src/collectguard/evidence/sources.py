"""Readers of phone backups and message files: each turns one source into a stream of records.

Owns the formats, not the storage: Android "SMS Backup & Restore" XML (messages, MMS and call
logs), the iPhone ``sms.db``, CSV with a column mapping, JSON Lines and pasted text. Every
reader is a generator that holds at most one chunk of the source in memory, yields
`MessageRecord`, `CallItem` or `RejectedRecord` (a record it could not read, with the reason),
and raises `ImportFormatError` naming the line and record when the file itself is broken.
Imports nothing from the database layer (`collectguard.evidence.ingest` does the storing).
"""

from __future__ import annotations

import base64
import binascii
import codecs
import csv
import datetime as dt
import hashlib
import io
import itertools
import json
import plistlib
import re
import shutil
import sqlite3
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Literal, NamedTuple
from xml.etree.ElementTree import ParseError
from xml.parsers.expat import ExpatError
from zoneinfo import ZoneInfo

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import DefusedXMLParser

from collectguard.evidence.errors import ImportFormatError

Direction = Literal["in", "out"]
FORMATS = ("android", "ios", "csv", "jsonl", "text")

CHUNK = 1 << 20
"""Bytes read from a source at a time; bounds memory for files of any size."""
MAX_FIELD_CHARS = 4_000_000
"""Longest CSV field read (the csv module's default stops at 131,072 characters). Above the
longest message the analyzer accepts (1,000,000 characters), so a long message is read and
then rejected with that reason while the import goes on; a longer field ends the import
with a clear error (the batches before it are kept)."""
MAX_TEXT_FILE_BYTES = 64 << 20
"""Largest plain-text file (`text` format: messages separated by blank lines) imported: it is
read whole. Larger exports belong in JSONL or CSV, which are read line by line."""
MAX_LINE_BYTES = 32 << 20
"""Longest JSON line read; a longer one is rejected with its line number and passed over
without being held in memory (the rest of the file is read)."""
MAX_XML_ELEMENT_BYTES = 32 << 20
"""Longest run of an Android XML file without a ``>``, i.e. the largest single tag (an SMS
body or an MMS part's base64 data is an attribute). expat holds such a tag whole and parses
it in time that grows faster than its length (60 MB: 7 s and 370 MB), so a longer one is
read past without being held: a ``<sms/>``, ``<call/>`` or an MMS ``<part/>`` is rejected
with its line (the rest of the file imports), anything else ends the import."""


@dataclass(frozen=True)
class AttachmentData:
    data: bytes
    media_type: str | None = None
    filename: str | None = None


@dataclass(frozen=True)
class MessageRecord:
    """One message as read from a source.

    `sender` is the other party (for an outgoing message, the addressee); `received_at` is
    aware when known; `received_at_text` keeps the time as the source wrote it; `timezone` is
    the IANA zone the record itself names (a JSON line's ``timezone``), in which its time was
    read — None when it names none, and the import's zone applies.
    """

    text: str
    sender: str | None
    received_at: dt.datetime | None
    direction: Direction
    position: str
    received_at_text: str | None = None
    attachments: tuple[AttachmentData, ...] = field(default=())
    timezone: str | None = None


@dataclass(frozen=True)
class CallItem:
    number: str | None
    started_at: dt.datetime | None
    duration_s: int
    call_type: str
    position: str


@dataclass(frozen=True)
class RejectedRecord:
    position: str
    reason: str


@dataclass(frozen=True)
class SkippedRecord(RejectedRecord):
    """A row that is not a message (an iPhone tapback reaction, a group event): counted as
    `skipped`, not `rejected`, and not stored. A kind of `RejectedRecord`, so whatever
    passes rejected records over passes these too."""


Record = MessageRecord | CallItem | RejectedRecord
Tick = Callable[[int, int], None]
"""Progress: (done, total) in the reader's unit (bytes or rows)."""


def _no_tick(done: int, total: int) -> None:
    return None


# ---------------------------------------------------------------------------- helpers
EMPTY_TEXT = "正文为空 / empty message text"
"""The reason every reader gives for a message with no text (empty or only whitespace) and
no attachment: there is nothing to keep or analyse."""


_VISIBLE = re.compile(r"[^\s\u200b-\u200f\u2028-\u202e\u2060-\u2064\ufeff\u00ad]")
"""Any character but whitespace, zero-width and direction marks, BOM and soft hyphen."""


def _blank(text: str, attachments: tuple[AttachmentData, ...] = ()) -> bool:
    """No visible character (whitespace, zero-width and direction marks, BOM) and nothing
    attached."""
    return not attachments and _VISIBLE.search(text) is None


def zone_info(name: object) -> ZoneInfo:
    """The IANA zone `name` (``Asia/Shanghai``); ValueError naming it, in zh-CN and English,
    when it is not one (a record's ``timezone`` is data: ``Mars/Base``, ``Asia``, ``8``)."""
    try:
        if not isinstance(name, str):
            raise TypeError(name)
        return ZoneInfo(name)
    except (ValueError, KeyError, OSError, TypeError):  # KeyError: ZoneInfoNotFoundError
        shown = repr(name)[:60]
        raise ValueError(
            f"未知时区 {shown}，应为 IANA 名称如 Asia/Shanghai / unknown time zone {shown}; "
            "expected an IANA name such as Asia/Shanghai"
        ) from None


def _epoch_ms(value: str | None) -> dt.datetime | None:
    if value is None or not value.strip().lstrip("-").isdigit():
        return None
    ms = int(value)
    if ms <= 0:
        return None
    try:
        return dt.datetime.fromtimestamp(ms / 1000, dt.UTC)
    except (OverflowError, OSError, ValueError):
        return None


_LOOSE_TIME = re.compile(
    r"^(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?"
    r"(?:[ T]+(\d{1,2})[:时](\d{1,2})(?:[:分](\d{1,2}))?)?"
)


def parse_time(value: Any, zone: str | None) -> dt.datetime | None:
    """A receive time from a CSV cell, JSON value or option.

    ISO-8601 with or without offset, ``2025/01/14 23:15``, ``2025年1月14日 23:15`` or epoch
    milliseconds (13 digits) / seconds (10 digits). A time without offset is read in `zone`
    (the recipient's IANA zone); without a zone it stays unknown (None). Raises ValueError on
    text that is not a time, and on a zone that is not an IANA name (`zone_info`).
    """
    if value is None or value == "":
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return dt.datetime.fromtimestamp(value / 1000 if value > 1e11 else value, dt.UTC)
    s = str(value).strip()
    if s.isdigit() and len(s) in (10, 13):
        n = int(s)
        return dt.datetime.fromtimestamp(n / 1000 if len(s) == 13 else n, dt.UTC)
    try:
        t = dt.datetime.fromisoformat(s.replace("Z", "+00:00"))
    except ValueError:
        m = _LOOSE_TIME.match(s)
        if not m:
            raise ValueError(f"not a time: {s[:40]!r}") from None
        parts = [int(x) if x else 0 for x in m.groups()]
        t = dt.datetime(*parts)  # type: ignore[arg-type]
    if t.tzinfo is None:
        if zone is None:
            return None
        t = t.replace(tzinfo=zone_info(zone))
    return t


def _where(record_no: int, line: int | None) -> str:
    if line is None:
        return f"第{record_no}条 / record {record_no}"
    return f"第{record_no}条（第{line}行）/ record {record_no} (line {line})"


# ---------------------------------------------------------------------------- Android XML
_PAIR = re.compile(
    rb"&#(?:(5[5-6]\d{3})|x([dD][89abAB][0-9a-fA-F]{2}));&#(?:(5[6-7]\d{3})|x([dD][c-fC-F][0-9a-fA-F]{2}));"
)
_REF = re.compile(rb"&#(?:([0-9]{1,8})|x([0-9a-fA-F]{1,8}));")
_RAW_CTRL = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f]")
_REPLACEMENT = b"&#65533;"


def _join_pair(m: re.Match[bytes]) -> bytes:
    hi = int(m[1]) if m[1] else int(m[2], 16)
    lo = int(m[3]) if m[3] else int(m[4], 16)
    if not (0xD800 <= hi <= 0xDBFF and 0xDC00 <= lo <= 0xDFFF):
        return m[0]
    return f"&#{0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)};".encode()


def _fix_ref(m: re.Match[bytes]) -> bytes:
    v = int(m[1]) if m[1] else int(m[2], 16)
    if v in (0x9, 0xA, 0xD) or 0x20 <= v <= 0xD7FF or 0xE000 <= v <= 0xFFFD:
        return m[0]
    if 0x10000 <= v <= 0x10FFFF:
        return m[0]
    return _REPLACEMENT


def repair_xml_chunk(chunk: bytes) -> bytes:
    """Make what SMS Backup & Restore writes acceptable to an XML 1.0 parser.

    The app writes an emoji as two numeric references to UTF-16 surrogates
    (``&#55357;&#56832;``) and keeps control characters, which XML 1.0 forbids; the pairs are
    joined into one reference and every other unrepresentable character becomes U+FFFD.
    Never touches a newline, so line numbers in error messages stay true.
    """
    chunk = _PAIR.sub(_join_pair, chunk)
    chunk = _REF.sub(_fix_ref, chunk)
    return _RAW_CTRL.sub("\ufffd".encode(), chunk)


@dataclass
class _Oversize:
    """A tag longer than `MAX_XML_ELEMENT_BYTES`, read past and not given to the parser."""

    head: bytes
    """Its first bytes (whitespace before it included), enough to name the tag."""
    size: int
    newlines: int
    closed: bool = False
    """Whether the file went on past the tag's ``>``."""
    self_closing: bool = False
    """Whether it ended with ``/>`` (an element on its own, which can be left out)."""


def _repaired_chunks(
    fp: IO[bytes], limit: int | None = None
) -> Iterator[tuple[bytes | _Oversize, int]]:
    """Repaired chunks with the bytes consumed so far. A chunk ends after a ``>``, so no tag
    and no character reference (or pair of them) is split. A tag of more than `limit` bytes
    (counted from the ``>`` before it) is yielded as `_Oversize` instead, and one still open
    at `limit` bytes is read past in `CHUNK` pieces without being held."""
    limit = MAX_XML_ELEMENT_BYTES if limit is None else limit
    if limit < CHUNK:  # then a long tag could lie inside one block, unseen
        raise ValueError(f"the tag limit ({limit}) must be at least CHUNK ({CHUNK})")
    pending = bytearray()  # starts just after a ">" (or at the file's start)
    consumed = 0
    while True:
        block = fp.read(CHUNK)
        consumed += len(block)
        if not block:
            if pending:
                yield repair_xml_chunk(bytes(pending)), consumed
            return
        before = len(pending)
        pending += block
        end = block.find(b">")
        if end < 0:
            if len(pending) <= limit:
                continue
            tag = _Oversize(bytes(pending[:256]), len(pending), pending.count(b"\n"))
            last = bytes(pending[-1:])
            pending.clear()
            while end < 0:  # read past the rest of the tag
                block = fp.read(CHUNK)
                consumed += len(block)
                if not block:
                    yield tag, consumed
                    return
                end = block.find(b">")
                if end < 0:
                    tag.size += len(block)
                    tag.newlines += block.count(b"\n")
                    last = block[-1:]
            tag.size += end + 1
            tag.newlines += block.count(b"\n", 0, end)
            tag.closed = True
            tag.self_closing = (block[end - 1 : end] if end else last) == b"/"
            yield tag, consumed
            pending += block[end + 1 :]
        elif before + end + 1 > limit:  # the tag this ">" closes is over the limit
            first = before + end
            yield (
                _Oversize(
                    bytes(pending[:256]),
                    first + 1,
                    pending.count(b"\n", 0, first),
                    closed=True,
                    self_closing=pending[first - 1 : first] == b"/",
                ),
                consumed,
            )
            del pending[: first + 1]
        cut = pending.rfind(b">") + 1
        if cut:
            yield repair_xml_chunk(bytes(pending[:cut])), consumed
            del pending[:cut]


_CALL_TYPES = {
    "1": "incoming",
    "2": "outgoing",
    "3": "missed",
    "4": "voicemail",
    "5": "rejected",
    "6": "blocked",
    "7": "answered_elsewhere",
}


class _AndroidTarget:
    """Parser target collecting records as the expat parser meets them."""

    def __init__(self) -> None:
        self.parser: DefusedXMLParser | None = None
        self.out: list[Record] = []
        self.count = 0
        self.roots: list[str] = []
        self._mms: dict[str, Any] | None = None
        self._depth = 0

    def _line(self) -> int | None:
        p = self.parser
        return int(p.parser.CurrentLineNumber) if p is not None else None

    def start(self, tag: str, attrib: dict[str, str]) -> None:
        self._depth += 1
        if self._depth == 1:
            self.roots.append(tag)
            return
        if tag in ("sms", "call", "mms") and self._mms is None:
            self.count += 1
            where = _where(self.count, self._line())
            if tag == "sms":
                self.out.append(_android_sms(attrib, where))
            elif tag == "call":
                self.out.append(_android_call(attrib, where))
            else:
                self._mms = {"attrib": attrib, "where": where, "parts": [], "addrs": []}
        elif self._mms is not None and tag == "part":
            self._mms["parts"].append(attrib)
        elif self._mms is not None and tag == "addr":
            self._mms["addrs"].append(attrib)

    def end(self, tag: str) -> None:
        self._depth -= 1
        if tag == "mms" and self._mms is not None:
            self.out.append(_android_mms(self._mms))
            self._mms = None

    def data(self, data: str) -> None:
        return None

    def skip(self, tag: _Oversize) -> None:
        """Leave out a tag too long to parse: its record is rejected, or the import ends
        (`ImportFormatError`) when the tag is not a whole record or MMS part."""
        lead = len(tag.head) - len(tag.head.lstrip())  # the whitespace before it
        m = _TAG_NAME.match(tag.head, lead)
        name = m[1].decode("ascii") if m else None
        line = self._line()
        if line is not None:
            line += tag.head.count(b"\n", 0, lead)
        size = f"{tag.size - lead:,}"  # from its first byte to its ">"
        limit = f"{MAX_XML_ELEMENT_BYTES:,}"
        if tag.closed and tag.self_closing and self._depth >= 1:
            if name in ("sms", "call") and self._mms is None:
                self.count += 1
                self.out.append(
                    RejectedRecord(
                        _where(self.count, line),
                        f"记录长 {size} 字节，超过上限 {limit}，未读入 / the record is "
                        f"{size} bytes, over the limit of {limit}: not read",
                    )
                )
                return
            if name in ("part", "addr") and self._mms is not None:
                self._mms["oversize"] = (name, size, limit)
                return
        what = f"<{name}>" if name else "一段内容 / a run"
        where = f"第{line}行 / line {line}"
        ends = "" if tag.closed else "，文件在其中结束 / the file ends inside it"
        raise ImportFormatError(
            f"{where}：{what} 长 {size} 字节却没有 '>'，超过上限 {limit}，无法作为短信备份读取"
            f"（已读 {self.count} 条记录）/ at {where}: {what} runs {size} bytes without a "
            f"'>', over the limit of {limit}: not readable as an SMS backup (after "
            f"{self.count} records)" + ends,
            position=where,
        )

    def close(self) -> None:
        return None


def _android_sms(a: Mapping[str, str], where: str) -> Record:
    when = _epoch_ms(a.get("date"))
    if when is None:
        return RejectedRecord(
            where, f"date 不是有效的毫秒时间 / date is not epoch ms: {a.get('date')!r}"
        )
    body = a.get("body")
    if body is None or body == "null":
        return RejectedRecord(where, "缺少正文 / sms has no body")
    if _blank(body):
        return RejectedRecord(where, EMPTY_TEXT)
    direction: Direction = "in" if a.get("type", "1") == "1" else "out"
    return MessageRecord(
        text=body,
        sender=(a.get("address") or None),
        received_at=when,
        direction=direction,
        position=where,
        received_at_text=a.get("readable_date") or None,
    )


def _android_call(a: Mapping[str, str], where: str) -> Record:
    when = _epoch_ms(a.get("date"))
    if when is None:
        return RejectedRecord(
            where, f"date 不是有效的毫秒时间 / date is not epoch ms: {a.get('date')!r}"
        )
    try:
        duration = int(a.get("duration") or 0)
    except ValueError:
        return RejectedRecord(
            where, f"duration 不是整数 / duration is not an integer: {a.get('duration')!r}"
        )
    return CallItem(
        number=a.get("number") or None,
        started_at=when,
        duration_s=max(duration, 0),
        call_type=_CALL_TYPES.get(a.get("type", ""), "unknown"),
        position=where,
    )


_TAG_NAME = re.compile(rb"<([A-Za-z_][\w.-]*)")


def _android_mms(m: dict[str, Any]) -> Record:
    a: Mapping[str, str] = m["attrib"]
    where: str = m["where"]
    if "oversize" in m:
        name, size, limit = m["oversize"]
        return RejectedRecord(
            where,
            f"彩信的 <{name}> 长 {size} 字节，超过上限 {limit}，整条未读入 / an MMS <{name}> "
            f"of {size} bytes, over the limit of {limit}: the MMS was not read",
        )
    when = _epoch_ms(a.get("date"))
    if when is not None and when.year < 2000:  # some phones write MMS dates in seconds
        when = _epoch_ms(str(int(a.get("date", "0")) * 1000))
    if when is None:
        return RejectedRecord(
            where, f"date 不是有效的时间 / mms date is not a time: {a.get('date')!r}"
        )
    texts: list[str] = []
    files: list[AttachmentData] = []
    for part in m["parts"]:
        ct = part.get("ct", "")
        if ct == "application/smil":
            continue
        if ct.startswith("text/plain") and part.get("text") not in (None, "null"):
            texts.append(part["text"])
        elif part.get("data"):
            try:
                data = base64.b64decode(part["data"], validate=False)
            except (binascii.Error, ValueError):
                return RejectedRecord(where, "附件不是有效的 base64 / attachment is not base64")
            name = part.get("cl") or part.get("name")
            files.append(AttachmentData(data, ct or None, None if name == "null" else name))
    text = "\n".join(texts)
    if _blank(text, tuple(files)):  # e.g. only the application/smil layout part
        return RejectedRecord(where, EMPTY_TEXT)
    inbound = a.get("msg_box", "1") == "1"
    sender = a.get("address") or None
    if inbound:
        for addr in m["addrs"]:
            if addr.get("type") == "137" and addr.get("address"):
                sender = addr["address"]
    return MessageRecord(
        text=text,
        sender=sender,
        received_at=when,
        direction="in" if inbound else "out",
        position=where,
        received_at_text=a.get("readable_date") or None,
        attachments=tuple(files),
    )


def read_android_xml(fp: IO[bytes], tick: Tick = _no_tick, total: int = 0) -> Iterator[Record]:
    """Android "SMS Backup & Restore" XML: ``<smses>`` (sms, mms) or ``<calls>`` (call).

    Streams with a DTD- and entity-refusing parser; a malformed or truncated file raises
    `ImportFormatError` naming line, column and the last record read, after every record
    before the fault has been yielded.
    """
    target = _AndroidTarget()
    parser = DefusedXMLParser(target=target, forbid_dtd=True)
    target.parser = parser
    # Element starts and ends go straight from expat to the target, attributes as a dict:
    # ElementTree's own handlers rebuild every attribute name for namespaces (which these
    # files do not use), a quarter to a third of the reading time. Its DTD- and
    # entity-refusing handlers stay as defusedxml set them.
    expat = parser.parser
    expat.ordered_attributes = False
    expat.StartElementHandler = target.start
    expat.EndElementHandler = target.end

    def fail(exc: Exception) -> ImportFormatError:
        pos = getattr(exc, "position", None)
        line, col = pos if isinstance(pos, tuple) else (target._line(), 0)
        where = f"第{line}行第{col}列 / line {line}, column {col}"
        return ImportFormatError(
            f"XML 格式错误或文件不完整，{where}，已读 {target.count} 条记录："
            f"{exc} / malformed or truncated XML at {where} after {target.count} records",
            position=where,
        )

    try:
        for chunk, consumed in _repaired_chunks(fp):
            if isinstance(chunk, _Oversize):
                target.skip(chunk)
                chunk = b"\n" * chunk.newlines  # keeps the line numbers of what follows
            parser.feed(chunk)
            yield from target.out
            target.out.clear()
            tick(consumed, total)
        parser.close()
    except (ParseError, DefusedXmlException) as exc:
        yield from target.out
        raise fail(exc) from None
    except (LookupError, ValueError) as exc:
        if isinstance(exc, ValueError) and "encoding" not in str(exc):
            raise
        # expat: an encoding name Python does not know, or one it cannot stream (UTF-7)
        raise ImportFormatError(
            f"XML 声明的编码无法读取（{exc}）；SMS Backup & Restore 文件应为 UTF-8，请检查文件"
            f"开头的 <?xml … encoding=…?> / the encoding the XML declares cannot be read "
            f"({exc}); SMS Backup & Restore files are UTF-8: check the <?xml … encoding=…?> at "
            "the start of the file",
            position="第1行 / line 1",
        ) from None
    yield from target.out
    if target.roots and target.roots[0] not in ("smses", "calls"):
        raise ImportFormatError(
            f"不是 SMS Backup & Restore 文件：根元素是 <{target.roots[0]}> / "
            f"not an SMS Backup & Restore file: root element is <{target.roots[0]}>"
        )


# ---------------------------------------------------------------------------- iPhone sms.db
APPLE_EPOCH = dt.datetime(2001, 1, 1, tzinfo=dt.UTC)
_IOS_TABLES = ("message", "handle", "chat", "chat_message_join")


class _Undecodable(NamedTuple):
    """A text value of sms.db that is not UTF-8 (a damaged file): its record is rejected."""

    data: bytes


def _ios_text(data: bytes) -> str | _Undecodable:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return _Undecodable(data)


def apple_time(value: int | float | None) -> dt.datetime | None:
    """``message.date``: seconds since 2001-01-01 UTC, nanoseconds on iOS 11 and later."""
    if not value:
        return None
    seconds = value / 1e9 if abs(value) > 1e11 else float(value)
    return APPLE_EPOCH + dt.timedelta(seconds=seconds)


def attributed_body_text(blob: bytes | None) -> str | None:
    """The plain text inside ``message.attributedBody`` (an NSArchiver typedstream), which
    newer iOS versions fill instead of ``message.text``. Best effort: None when not found."""
    if not blob:
        return None
    i = blob.find(b"NSString")
    if i < 0:
        return None
    j = blob.find(b"+", i + 8)
    if j < 0 or j + 1 >= len(blob):
        return None
    n, k = blob[j + 1], j + 2
    if n == 0x81:
        n, k = int.from_bytes(blob[k : k + 2], "little"), k + 2
    elif n == 0x82:
        n, k = int.from_bytes(blob[k : k + 4], "little"), k + 4
    raw = blob[k : k + n]
    return raw.decode("utf-8", errors="replace") if raw else None


MAX_IOS_ATTACHMENT_BYTES = 64 << 20
"""Largest iPhone attachment file read into the store; a larger one (a long video) is noted
as not imported, with its name, and its message keeps its text."""
_IOS_TAPBACK = "点赞等回应，不是消息 / a tapback reaction, not a message"
_IOS_NOT_MESSAGE = "群组事件等，不是消息 / not a message (a group event, a rename)"
_IOS_GROUP_ID = re.compile(r"chat\d+")


def _ios_attachment(base: Path, name: str | None) -> Path | None:
    """The file an ``attachment.filename`` (``~/Library/SMS/Attachments/ab/01/…/IMG.JPG``)
    names, looked for under the database's own folder (``Attachments/ab/01/…`` beside
    ``sms.db``, as in an extracted backup or a Mac's ``~/Library/Messages``); None when it
    is not there, or would lie outside that folder."""
    if not name:
        return None
    rel = name.replace("\\", "/")
    for prefix in ("~/Library/SMS/", "~/Library/Messages/", "/var/mobile/Library/SMS/"):
        if rel.startswith(prefix):
            rel = rel[len(prefix) :]
            break
    else:
        return None
    root = base.resolve()
    found = (root / rel).resolve()
    if not found.is_relative_to(root) or not found.is_file():
        return None
    return found


def _ios_open(
    path: Path, stack: list[tempfile.TemporaryDirectory[str]], wal: Path | None = None
) -> sqlite3.Connection:
    """A read-only connection to `path`. With a ``-wal`` beside it, or `wal` when given (a
    backup stores it under its own hashed name), holding messages not yet written into the
    database file, a private copy of the database and its WAL is opened instead so SQLite
    reads them too; the user's files are never opened for writing. The copy's folder goes
    on `stack` for the caller to remove."""
    wal = wal or path.with_name(path.name + "-wal")
    if not (wal.is_file() and wal.stat().st_size > 0):
        return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro&immutable=1", uri=True)
    tmp = tempfile.TemporaryDirectory(prefix="collectguard-ios-")
    stack.append(tmp)
    copy = Path(tmp.name) / "sms.db"
    shutil.copyfile(path, copy)
    # The -shm (the WAL's index) is not copied: SQLite rebuilds it from the WAL, and a stale
    # one copied at another moment than the WAL could hide its newest frames.
    shutil.copyfile(wal, copy.with_name("sms.db-wal"))
    return sqlite3.connect(copy)


def read_ios_smsdb(
    path: Path,
    tick: Tick = _no_tick,
    *,
    find_attachment: Callable[[str | None], Path | None] | None = None,
    wal: Path | None = None,
) -> Iterator[Record]:
    """iPhone ``sms.db`` / Mac ``chat.db``, never modified (with a ``-wal`` beside it, or
    `wal`, a private copy that includes the WAL is read, then deleted).

    A message without a handle takes the number of its one-to-one chat; tapbacks and group
    events are skipped; each attachment is the file `find_attachment` gives for its
    ``attachment.filename`` (default: ``Attachments/…`` beside the database) when there,
    else it is noted as not imported (rejected with its name).
    """
    temps: list[tempfile.TemporaryDirectory[str]] = []
    try:
        db = _ios_open(path, temps, wal)
    except (sqlite3.Error, OSError) as exc:
        for t in temps:
            t.cleanup()
        raise ImportFormatError(f"无法打开 sms.db / cannot open sms.db: {exc}") from None
    db.text_factory = _ios_text
    try:
        try:
            tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        except (sqlite3.DatabaseError, UnicodeDecodeError) as exc:  # the latter: a damaged schema
            raise ImportFormatError(
                f"不是 SQLite 数据库，或已损坏 / not an SQLite database, or a damaged one: {exc}"
            ) from None
        missing = [t for t in _IOS_TABLES if t not in tables]
        if missing:
            raise ImportFormatError(
                f"不是 iPhone 短信数据库，缺少表 {', '.join(missing)} / "
                f"not an iPhone sms.db: missing table(s) {', '.join(missing)}"
            )
        cols = {r[1] for r in db.execute("PRAGMA table_info(message)")}
        chat_cols = {r[1] for r in db.execute("PRAGMA table_info(chat)")}

        def col(name: str, have: set[str] = cols, alias: str = "m") -> str:
            return f"{alias}.{name}" if name in have else "NULL"

        # chat ROWID -> (identifier, is a group): a group's identifier is not a person
        members: dict[int, int] = {}
        if "chat_handle_join" in tables:
            members = dict(
                db.execute("SELECT chat_id, COUNT(*) FROM chat_handle_join GROUP BY chat_id")
            )
        chats: dict[int, str | None] = {}
        for cid, ident, style in db.execute(
            f"SELECT c.ROWID, c.chat_identifier, {col('style', chat_cols, 'c')} FROM chat c"
        ):
            ident = ident if isinstance(ident, str) else None
            group = (
                style == 43
                or members.get(cid, 0) > 1
                or (style != 45 and bool(ident and _IOS_GROUP_ID.fullmatch(ident)))
            )
            chats[cid] = None if group else ident
        with_files = "attachment" in tables and "message_attachment_join" in tables
        total = int(db.execute("SELECT COUNT(*) FROM message").fetchone()[0])
        rows = db.execute(
            f"SELECT m.ROWID, m.text, {col('attributedBody')}, m.date, m.is_from_me, h.id, "
            f"j.chat_id, {col('associated_message_type')}, {col('item_type')}, "
            f"{col('cache_has_attachments')} "
            "FROM message m LEFT JOIN handle h ON h.ROWID = m.handle_id "
            "LEFT JOIN (SELECT message_id, MIN(chat_id) AS chat_id FROM chat_message_join "
            "GROUP BY message_id) j ON j.message_id = m.ROWID "
            "ORDER BY m.ROWID"
        )
        base = path.parent
        find = find_attachment or (lambda name: _ios_attachment(base, name))
        done = 0
        for rowid, text, blob, date, from_me, handle, chat, assoc, item, has_att in rows:
            done += 1
            where = f"ROWID {rowid}"
            if done % 1000 == 0:
                tick(done, total)
            if isinstance(assoc, int) and 2000 <= assoc < 4000:
                yield SkippedRecord(where, _IOS_TAPBACK)
                continue
            if item not in (None, 0):
                yield SkippedRecord(where, _IOS_NOT_MESSAGE)
                continue
            if isinstance(text, _Undecodable):
                yield RejectedRecord(
                    where,
                    f"文字不是有效的 UTF-8（数据库可能已损坏）/ the text is not valid UTF-8 "
                    f"(a damaged database?): {text.data[:40]!r}",
                )
                continue
            if isinstance(handle, _Undecodable):
                handle = handle.data.decode("utf-8", "replace")
            if not handle and chat is not None:
                handle = chats.get(chat)  # the other party of a one-to-one chat
            files: list[AttachmentData] = []
            lost: list[str] = []
            if with_files and (has_att is None or has_att):
                for fname, mime, tname in db.execute(
                    "SELECT a.filename, a.mime_type, a.transfer_name FROM attachment a "
                    "JOIN message_attachment_join x ON x.attachment_id = a.ROWID "
                    "WHERE x.message_id = ? ORDER BY a.ROWID",
                    (rowid,),
                ):
                    fname = fname if isinstance(fname, str) else None
                    label = tname if isinstance(tname, str) and tname else None
                    label = label or (fname.rsplit("/", 1)[-1] if fname else "?")
                    found = find(fname)
                    if found is None or found.stat().st_size > MAX_IOS_ATTACHMENT_BYTES:
                        lost.append(label)
                        continue
                    files.append(
                        AttachmentData(
                            found.read_bytes(), mime if isinstance(mime, str) else None, label
                        )
                    )
            if text is None or text == "":
                text = attributed_body_text(blob) or text
            if text is None and not files and not lost:
                yield RejectedRecord(where, "消息没有文字 / message has no text")
                continue
            raw = "" if text is None else str(text)
            shown = raw.replace("\ufffc", "").strip()
            if not shown and "\ufffc" not in raw:
                shown = raw  # whitespace only: rejected below, as in every format
            attached = tuple(files)
            if _blank(shown, attached):
                if lost:
                    yield RejectedRecord(where, _ios_lost(lost, only=True))
                else:
                    yield RejectedRecord(where, EMPTY_TEXT)
                continue
            try:
                when = apple_time(date)
            except (OverflowError, TypeError):
                yield RejectedRecord(where, f"date 无效 / invalid date {date!r}")
                continue
            yield MessageRecord(
                text=shown,
                sender=str(handle) if handle else None,
                received_at=when,
                direction="out" if from_me else "in",
                position=where,
                attachments=attached,
            )
            if lost:
                yield RejectedRecord(f"{where} 附件 / attachment", _ios_lost(lost))
        tick(done, total)
    except (sqlite3.DatabaseError, UnicodeDecodeError) as exc:
        raise ImportFormatError(f"sms.db 读取失败 / sms.db read failed: {exc}") from None
    finally:
        db.close()
        for t in temps:
            t.cleanup()


def _ios_lost(names: list[str], *, only: bool = False) -> str:
    """The reason for attachments not imported; `only`: the message had nothing else, so
    it is not stored either."""
    listed = ", ".join(names[:5]) + (f" (+{len(names) - 5})" if len(names) > 5 else "")
    return (
        ("只有附件，整条未导入：" if only else "")
        + f"附件未导入（数据库旁的 Attachments 文件夹里没有该文件，或文件超过 "
        f"{MAX_IOS_ATTACHMENT_BYTES >> 20} MiB）/ attachment not imported (its file is not in "
        f"the Attachments folder beside the database, or is over "
        f"{MAX_IOS_ATTACHMENT_BYTES >> 20} MiB)"
        + ("; the message has nothing else and is not stored" if only else "")
        + f": {listed}"
    )


# ---------------------------------------------------------------------------- iPhone backup
IOS_SMSDB_DOMAIN = "HomeDomain"
IOS_SMSDB_PATH = "Library/SMS/sms.db"
IOS_ATTACHMENT_DOMAIN = "MediaDomain"
_IOS_MANIFESTS = ("Manifest.db", "Manifest.plist", "Manifest.mbdb")
_IOS_FILE_ID = re.compile(r"[0-9a-f]{40}")
_SQLITE_MAGIC = b"SQLite format 3\x00"
_IOS_HOME_PREFIXES = ("~/", "/var/mobile/", "/private/var/mobile/")
_IOS_DECRYPT_ADVICE = (
    "请在 Finder（Windows 上为 iTunes 或“Apple 设备”）中取消勾选“加密本地备份”（需输入备份"
    "密码），重新备份后再导入；或用能解密备份的工具导出 sms.db，导入该文件",
    'in Finder (on Windows: iTunes or Apple Devices) untick "Encrypt local backup" (it asks '
    "for the backup password), back up again and import the new backup; or export sms.db "
    "with a tool that decrypts backups and import that file",
)
IOS_BACKUP_ENCRYPTED = (
    f"这是加密的 iPhone 备份，里面的文件无法读取。{_IOS_DECRYPT_ADVICE[0]} / this is an "
    f"encrypted iPhone backup: its files cannot be read. To import it, {_IOS_DECRYPT_ADVICE[1]}"
)
IOS_BACKUP_NO_MESSAGES = (
    "备份里没有短信数据库（HomeDomain 的 Library/SMS/sms.db），未导入任何内容。可能是手机开启了"
    "“iCloud 信息”，短信存放在 iCloud 而不在这份备份里：请在 设置 > 你的名字 > iCloud 中关闭"
    "“信息”，等短信全部下载到手机后重新备份；也可能是备份没有完成，请重新备份 / the backup "
    "holds no Messages database (HomeDomain Library/SMS/sms.db): nothing was imported. "
    "Messages in iCloud may be on, keeping the messages in iCloud instead of this backup: "
    "turn Messages off in Settings > your name > iCloud, wait until all messages are on the "
    "phone, and back up again; or the backup did not finish: back up again"
)


def backup_file_id(domain: str, relative_path: str) -> str:
    """The name an iTunes/Finder backup stores a file under: the SHA-1 of
    ``domain-relativePath`` (``HomeDomain-Library/SMS/sms.db`` is ``3d0d7e5f…``)."""
    return hashlib.sha1(f"{domain}-{relative_path}".encode()).hexdigest()


def is_ios_backup(folder: Path) -> bool:
    """Whether `folder` is an iTunes/Finder backup folder: it holds a ``Manifest.db``
    (iOS 10 and later), ``Manifest.plist`` or ``Manifest.mbdb`` (older iOS)."""
    return any((folder / name).is_file() for name in _IOS_MANIFESTS)


@dataclass(frozen=True)
class IosBackup:
    """An unencrypted iTunes/Finder backup folder holding a Messages database."""

    root: Path
    smsdb: Path
    """The hashed file of ``HomeDomain`` ``Library/SMS/sms.db``."""
    wal: Path | None
    """The hashed file of its ``sms.db-wal``, when the backup holds one."""
    manifest: Path | None
    """``Manifest.db``, which lists every file; None in an older backup (``Manifest.mbdb``),
    whose files are found by their computed names alone."""


def _ios_manifest(path: Path | None) -> sqlite3.Connection | None:
    """A read-only connection to ``Manifest.db``; None without one or when it cannot be
    opened (files are then found by their computed names)."""
    if path is None:
        return None
    try:
        return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro&immutable=1", uri=True)
    except (sqlite3.Error, OSError):
        return None


def _backup_file(
    root: Path, manifest: sqlite3.Connection | None, domain: str, relative_path: str
) -> Path | None:
    """The file holding `relative_path` of `domain` in the backup at `root`: the file ID
    ``Manifest.db`` lists for it, else the computed one (`backup_file_id`); stored as
    ``ab/abcd…`` (iOS 10 and later) or ``abcd…`` (older). None when neither is there."""
    ids: list[str] = []
    if manifest is not None:
        try:
            row = manifest.execute(
                "SELECT fileID FROM Files WHERE domain = ? AND relativePath = ?",
                (domain, relative_path),
            ).fetchone()
        except sqlite3.Error:  # no Files table, a damaged file: the computed name still works
            row = None
        # a file ID is 40 hex digits, so the path below cannot leave the backup folder
        if row and isinstance(row[0], str) and _IOS_FILE_ID.fullmatch(row[0].lower()):
            ids.append(row[0].lower())
    ids.append(backup_file_id(domain, relative_path))
    for fid in dict.fromkeys(ids):
        for found in (root / fid[:2] / fid, root / fid):
            if found.is_file():
                return found
    return None


def _backup_attachment(
    root: Path, manifest: sqlite3.Connection | None, name: str | None
) -> Path | None:
    """The hashed file of an ``attachment.filename`` in a backup: the phone's
    ``~/Library/SMS/Attachments/ab/01/…/IMG.JPG`` is ``MediaDomain``
    ``Library/SMS/Attachments/ab/01/…/IMG.JPG``. None when it is not in the backup."""
    if not name:
        return None
    rel = name.replace("\\", "/")
    for prefix in _IOS_HOME_PREFIXES:
        if rel.startswith(prefix):
            rel = rel[len(prefix) :]
            break
    else:
        return None
    if not rel.startswith("Library/SMS/") or ".." in rel.split("/"):
        return None
    return _backup_file(root, manifest, IOS_ATTACHMENT_DOMAIN, rel)


def _not_a_backup(folder: Path) -> str:
    """Why `folder` is refused, with what was expected and, where it can tell, the fix."""
    zh = (
        f"{folder} 是文件夹，但不是 iPhone 备份文件夹（里面没有 Manifest.db 或 "
        "Manifest.plist）。请给出 iTunes/Finder 备份文件夹（Backup 下以设备标识命名的那一个），"
        "或备份文件本身（如 sms-20250101.xml、sms.db、messages.csv）"
    )
    en = (
        f"{folder} is a folder, but not an iPhone backup folder (it has no Manifest.db or "
        "Manifest.plist): "
        "give an iTunes/Finder backup folder (the one under Backup named after the device's "
        "ID), or a backup file (e.g. sms-20250101.xml, sms.db, messages.csv)"
    )
    if (folder / "sms.db").is_file():
        zh += "；这个文件夹里有 sms.db，可直接导入该文件"
        en += "; this folder holds sms.db: import that file"
    try:
        inside = sorted(
            p.name
            for p in itertools.islice(folder.iterdir(), 1000)
            if p.is_dir() and is_ios_backup(p)
        )
    except OSError:
        inside = []
    if inside:
        shown = ", ".join(inside[:3]) + (f" (+{len(inside) - 3})" if len(inside) > 3 else "")
        zh += f"；它里面有 {len(inside)} 个备份：{shown}，请选其中一个"
        en += f"; it holds {len(inside)} backup(s): {shown}: give one of them"
    return f"{zh} / {en}"


def open_ios_backup(folder: Path) -> IosBackup:
    """Check that `folder` is an unencrypted iTunes/Finder backup holding Messages and find
    its ``sms.db``; `ImportFormatError` saying what is wrong and what to do (zh-CN, then
    English) when it is not a backup, is encrypted, or holds no Messages database."""
    if not is_ios_backup(folder):
        raise ImportFormatError(_not_a_backup(folder))
    plist = folder / "Manifest.plist"
    if plist.is_file():
        try:
            with plist.open("rb") as fp:
                info = plistlib.load(fp)
        except (ValueError, OSError, ExpatError, TypeError, KeyError, IndexError, OverflowError):
            info = None  # damaged: encryption is still told by Manifest.db below
        if isinstance(info, dict) and info.get("IsEncrypted"):
            raise ImportFormatError(IOS_BACKUP_ENCRYPTED)
    manifest = folder / "Manifest.db" if (folder / "Manifest.db").is_file() else None
    if manifest is not None:
        try:
            with manifest.open("rb") as fp:
                head = fp.read(len(_SQLITE_MAGIC))
        except OSError:
            head = b""
        if head != _SQLITE_MAGIC:  # an encrypted backup's Manifest.db is ciphertext too
            raise ImportFormatError(
                f"备份的 Manifest.db 不是 SQLite 数据库：备份已加密或已损坏。"
                f"{_IOS_DECRYPT_ADVICE[0]} / the backup's Manifest.db is not an SQLite "
                f"database: the backup is encrypted or damaged. If it is encrypted, "
                f"{_IOS_DECRYPT_ADVICE[1]}"
            )
    con = _ios_manifest(manifest)
    try:
        smsdb = _backup_file(folder, con, IOS_SMSDB_DOMAIN, IOS_SMSDB_PATH)
        wal = _backup_file(folder, con, IOS_SMSDB_DOMAIN, IOS_SMSDB_PATH + "-wal")
    finally:
        if con is not None:
            con.close()
    if smsdb is None:
        raise ImportFormatError(IOS_BACKUP_NO_MESSAGES)
    return IosBackup(folder, smsdb, wal, manifest)


def read_ios_backup(backup: IosBackup, tick: Tick = _no_tick) -> Iterator[Record]:
    """The messages of a backup folder (from `open_ios_backup`): its ``sms.db`` read by
    `read_ios_smsdb`, exactly as the extracted file would be, with each attachment found
    through ``Manifest.db`` (else by its computed name) instead of beside the database."""
    con = _ios_manifest(backup.manifest)
    try:
        yield from read_ios_smsdb(
            backup.smsdb,
            tick,
            find_attachment=lambda name: _backup_attachment(backup.root, con, name),
            wal=backup.wal,
        )
    finally:
        if con is not None:
            con.close()


# ---------------------------------------------------------------------------- CSV
CSV_FIELDS = ("text", "sender", "received_at", "direction")
_SYNONYMS: dict[str, tuple[str, ...]] = {
    "text": ("text", "body", "content", "message", "sms", "内容", "短信内容", "正文", "短信"),
    "sender": (
        "sender",
        "address",
        "from",
        "number",
        "phone",
        "号码",
        "发送方",
        "发件人",
        "发送号码",
    ),
    "received_at": (
        "received_at",
        "date",
        "time",
        "datetime",
        "timestamp",
        "when",
        "received",
        "received at",
        "received_time",
        "sent_at",
        "date_sent",
        "时间",
        "日期",
        "接收时间",
        "收到时间",
        "发送时间",
        "短信时间",
        "日期时间",
    ),
    "direction": ("direction", "type", "类型", "方向"),
}
_DIRECTIONS = {
    "in": "in", "1": "in", "inbox": "in", "received": "in", "incoming": "in", "接收": "in",
    "收到": "in", "out": "out", "2": "out", "sent": "out", "outgoing": "out", "发送": "out",
    "已发送": "out",
}  # fmt: skip


def detect_encoding(sample: bytes) -> str:
    """utf-8-sig, utf-8 or gb18030 for the first bytes of a text file; ImportFormatError when
    none fits (naming where utf-8 decoding broke)."""
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or b"\x00" in sample:
        raise ImportFormatError(
            "文件像是 UTF-16 或二进制，请另存为 UTF-8 / the file looks like UTF-16 or binary; "
            "save it as UTF-8 or pass --encoding"
        )
    utf8_error: UnicodeDecodeError | None = None
    for enc in ("utf-8", "gb18030"):
        try:
            codecs.getincrementaldecoder(enc)("strict").decode(sample, final=False)
        except UnicodeDecodeError as exc:
            utf8_error = utf8_error or exc
            continue
        return enc
    assert utf8_error is not None
    line = sample[: utf8_error.start].count(b"\n") + 1
    raise ImportFormatError(
        f"无法识别文件编码（不是 UTF-8 或 GB18030），第{line}行、第{utf8_error.start}字节处 / "
        f"unknown encoding (neither UTF-8 nor GB18030) at line {line}, byte {utf8_error.start}; "
        "pass --encoding",
        position=f"line {line}",
    )


def _text_stream(fp: IO[bytes], encoding: str | None) -> tuple[io.TextIOWrapper, str]:
    sample = fp.read(64 * 1024)
    fp.seek(0)
    enc = encoding or detect_encoding(sample)
    try:
        codecs.lookup(enc)
    except LookupError:
        raise ImportFormatError(f"未知编码 / unknown encoding {enc!r}") from None
    return io.TextIOWrapper(fp, encoding=enc, errors="strict", newline=""), enc


def read_csv(
    fp: IO[bytes],
    mapping: Mapping[str, str] | None = None,
    *,
    encoding: str | None = None,
    zone: str | None = None,
    tick: Tick = _no_tick,
    total: int = 0,
) -> Iterator[Record]:
    """CSV with a header row. `mapping` maps our fields (text, sender, received_at, direction)
    to column names; unmapped fields are found by common names (``内容``, ``号码``, ``时间`` …).
    A field mapped to ``""`` has no column (``--map received_at=``: the file has no times).

    Refused before any record (`ImportFormatError`, naming the columns and the fix): no text
    column; no receive-time column while some column is left unused (it may hold the times,
    and messages stored without them lose night-time and per-day findings and are not
    recognised again when re-imported with times). A file whose every column is used by
    another field has no times to find and is read without them."""
    stream, enc = _text_stream(fp, encoding)
    if csv.field_size_limit() < MAX_FIELD_CHARS:  # process-wide: only ever raised
        csv.field_size_limit(MAX_FIELD_CHARS)
    reader = csv.reader(stream)
    line = 0
    try:
        header = next(reader, None)
        if header is None:
            return
        names = [h.strip().lstrip("\ufeff") for h in header]
        lowered = [n.lower() for n in names]
        cols: dict[str, int] = {}
        unmapped: set[str] = set()  # fields mapped to "" (no such column)
        for fld in CSV_FIELDS:
            want = (mapping or {}).get(fld)
            if want == "":  # text cannot go without: refused just below
                unmapped.add(fld)
                continue
            if want is not None:
                if want not in names:
                    raise ImportFormatError(
                        f"CSV 没有列 {want!r}（已有：{', '.join(names)}）/ "
                        f"CSV has no column {want!r} (columns: {', '.join(names)})"
                    )
                cols[fld] = names.index(want)
                continue
            for syn in _SYNONYMS[fld]:
                if syn in lowered:
                    cols[fld] = lowered.index(syn)
                    break
        if "text" not in cols:
            raise ImportFormatError(
                "CSV 找不到正文列，请用 --map text=列名 指定 / no message-text column found; "
                "map it with --map text=COLUMN"
            )
        unused = [i for i in range(len(names)) if i not in cols.values()]
        if "received_at" not in cols and "received_at" not in unmapped and unused:

            def listed(idx: Iterable[int], blank: str) -> str:  # an unnamed column by number
                return ", ".join(names[i] or blank.format(i + 1) for i in idx)

            every = range(len(names))
            zh = f"列：{listed(every, '第{}列')}；未识别：{listed(unused, '第{}列')}"
            en = f"columns: {listed(every, 'column {}')}; not recognised: "
            en += listed(unused, "column {}")
            raise ImportFormatError(
                f"CSV 找不到接收时间列（{zh}），未导入任何短信。请用 "
                "--map received_at=列名 指定时间列；文件确实没有时间时用 --map received_at= "
                "（留空），这些短信将不带时间保存 / no receive-time column found "
                f"({en}); nothing was imported. Name the time column "
                "with --map received_at=COLUMN, or pass --map received_at= (empty) if the file "
                "has no times and the messages are to be kept without them"
            )
        n = 0
        line = reader.line_num  # the header's last line
        for row in reader:
            first, line = line + 1, reader.line_num  # the lines this row spans
            n += 1
            where = _where(n, line)
            if not any(c.strip() for c in row):
                n -= 1
                continue
            if line > first:
                swallowed = _rows_inside(row, len(names), cols)
                if swallowed:
                    yield RejectedRecord(where, _unclosed_quote(first, swallowed))
                    continue
            if n % 1000 == 0:
                tick(fp.tell() if fp.seekable() else 0, total)

            def cell(fld: str, row: list[str] = row) -> str | None:
                i = cols.get(fld)
                return row[i].strip() if i is not None and i < len(row) and row[i].strip() else None

            text = cell("text")
            if text is None:
                yield RejectedRecord(where, EMPTY_TEXT)
                continue
            try:
                when = parse_time(cell("received_at"), zone)
            except ValueError as exc:
                yield RejectedRecord(where, f"时间无法识别 / unreadable time: {exc}")
                continue
            raw_dir = (cell("direction") or "in").lower()
            direction = _DIRECTIONS.get(raw_dir)
            if direction is None:
                yield RejectedRecord(where, f"方向无法识别 / unknown direction {raw_dir!r}")
                continue
            yield MessageRecord(
                text=row[cols["text"]],
                sender=cell("sender"),
                received_at=when,
                direction="in" if direction == "in" else "out",
                position=where,
                received_at_text=cell("received_at"),
            )
    except UnicodeDecodeError as exc:
        n = line + 1
        raise ImportFormatError(
            f"第{n}行附近的内容不是 {enc} 编码，请用 --encoding 指定正确的编码（utf-8、utf-8-sig、"
            f"gb18030）/ near line {n} the file is not {enc} ({exc.reason}); pass the right "
            "--encoding (utf-8, utf-8-sig, gb18030)",
            position=f"第{n}行附近 / near line {n}",
        ) from None
    except csv.Error as exc:
        where = f"第{reader.line_num}行 / line {reader.line_num}"
        if "field limit" in str(exc):
            limit = csv.field_size_limit()
            raise ImportFormatError(
                f"{where}有超过 {limit:,} 个字符的字段，请拆分或删去后重新导入"
                f"（之前的记录已保存）/ a field longer than {limit:,} characters at {where}: "
                "split or remove it and import again (the records before it are kept)",
                position=where,
            ) from None
        raise ImportFormatError(f"CSV 格式错误 / malformed CSV at {where}: {exc}") from None
    finally:
        stream.detach()


_PHONE_LIKE = re.compile(r"\+?[0-9][0-9 ()\-]{2,24}")


def _rows_inside(row: list[str], width: int, cols: Mapping[str, int]) -> int:
    """How many lines inside the fields of a multi-line `row` read as rows of the file on
    their own: as many fields as the header and a readable time in the time column (in a
    file without one, a number in the sender column). A message text spanning lines does not
    look like that; rows taken in by a quote that was never closed do."""
    time_col, sender_col = cols.get("received_at"), cols.get("sender")
    if width < 2 or (time_col is None and sender_col is None):
        return 0
    found = 0
    for cell in row:
        for part in cell.split("\n")[1:]:
            fields = next(csv.reader([part]), [])
            if len(fields) != width:
                continue
            if time_col is not None:
                try:
                    if parse_time(fields[time_col].strip() or None, "UTC") is None:
                        continue
                except ValueError:
                    continue
            elif sender_col is not None and not _PHONE_LIKE.fullmatch(fields[sender_col].strip()):
                continue
            found += 1
    return found


def _unclosed_quote(first: int, swallowed: int) -> str:
    return (
        f"第{first}行开始的引号没有闭合，其后 {swallowed} 行被并入了这一条（它们看起来是单独的"
        "记录）；请修正引号后重新导入，已保存的记录会被识别为重复 / the quote opened on line "
        f"{first} is not closed: {swallowed} later line(s) that look like records of their own "
        "were taken into this one; fix the quote and import again (records already stored are "
        "recognised as duplicates)"
    )


# ---------------------------------------------------------------------------- JSON Lines
def _bounded_lines(fp: IO[bytes], limit: int) -> Iterator[tuple[bytes | None, int]]:
    """(line, bytes read) for each line of `fp`; a line longer than `limit` bytes (its
    newline not counted) comes back as None, read past in chunks, never held whole."""
    while True:
        line = fp.readline(limit + 1)
        if not line:
            return
        if len(line) <= limit or line.endswith(b"\n"):
            yield line, len(line)
            continue
        size = len(line)
        while not line.endswith(b"\n"):
            line = fp.readline(CHUNK)
            if not line:
                break
            size += len(line)
        yield None, size


def read_jsonl(
    fp: IO[bytes], *, zone: str | None = None, tick: Tick = _no_tick, total: int = 0
) -> Iterator[Record]:
    """One JSON object per line: ``text`` (required), ``sender``, ``received_at``,
    ``direction``. A bad line is rejected with its number; the rest are read."""
    done = 0
    for n, (raw, size) in enumerate(_bounded_lines(fp, MAX_LINE_BYTES), start=1):
        done += size
        where = f"第{n}行 / line {n}"
        if n % 1000 == 0:
            tick(done, total)
        if raw is None:
            yield RejectedRecord(
                where,
                f"行太长（{size:,} 字节，上限 {MAX_LINE_BYTES:,}）/ line too long "
                f"({size:,} bytes; at most {MAX_LINE_BYTES:,})",
            )
            continue
        if not raw.strip():
            continue
        try:
            obj = json.loads(raw.decode("utf-8-sig" if n == 1 else "utf-8"))
        except UnicodeDecodeError as exc:
            yield RejectedRecord(where, f"不是 UTF-8 / not UTF-8: {exc.reason}")
            continue
        except ValueError as exc:
            yield RejectedRecord(where, f"不是 JSON / not JSON: {exc}")
            continue
        if not isinstance(obj, dict) or not isinstance(obj.get("text"), str):
            yield RejectedRecord(where, '需要 {"text": "..."} 对象 / needs an object with "text"')
            continue
        if _blank(obj["text"]):
            yield RejectedRecord(where, EMPTY_TEXT)
            continue
        own_zone = obj.get("timezone")
        if own_zone in (None, ""):
            own_zone = None
        else:  # checked even when the time has an offset: it is stored with the message
            try:
                zone_info(own_zone)
            except ValueError as exc:
                yield RejectedRecord(where, str(exc))
                continue
        try:
            when = parse_time(obj.get("received_at"), own_zone or zone)
        except (ValueError, OverflowError, OSError) as exc:
            yield RejectedRecord(where, f"时间无法识别 / unreadable time: {exc}")
            continue
        direction = _DIRECTIONS.get(str(obj.get("direction") or "in").lower())
        if direction is None:
            yield RejectedRecord(
                where, f"方向无法识别 / unknown direction {obj.get('direction')!r}"
            )
            continue
        sender = obj.get("sender")
        yield MessageRecord(
            text=obj["text"],
            sender=str(sender) if sender not in (None, "") else None,
            received_at=when,
            direction="in" if direction == "in" else "out",
            position=where,
            received_at_text=str(obj["received_at"]) if obj.get("received_at") else None,
            timezone=own_zone,
        )
    tick(done, total)


# ---------------------------------------------------------------------------- pasted text
def read_pasted(
    text: str,
    *,
    sender: str | None = None,
    received_at: dt.datetime | None = None,
    split: bool = True,
) -> Iterator[Record]:
    """Pasted text: messages separated by blank lines; one sender and time for all.
    `split=False`: the text is one message, blank lines and all (a message kept from the
    checker, which analysed it whole)."""
    text = text.replace("\r\n", "\n")
    blocks = [b.strip() for b in re.split(r"\n[ \t\u3000]*\n", text)] if split else [text.strip()]
    for n, block in enumerate((b for b in blocks if b), start=1):
        yield MessageRecord(
            text=block,
            sender=sender,
            received_at=received_at,
            direction="in",
            position=f"第{n}段 / block {n}",
            received_at_text=received_at.isoformat() if received_at else None,
        )


# ---------------------------------------------------------------------------- detection
def detect_format(path: Path) -> str:
    """android, ios, csv or jsonl from the first bytes of a file (text: by .txt suffix); ios
    for an iPhone backup folder (`is_ios_backup`)."""
    if path.is_dir():
        if not is_ios_backup(path):
            raise ImportFormatError(_not_a_backup(path))
        return "ios"
    with path.open("rb") as fp:
        head = fp.read(4096)
    if head.startswith(b"SQLite format 3\x00"):
        return "ios"
    stripped = head.lstrip(codecs.BOM_UTF8).lstrip()
    if stripped.startswith(b"<"):
        return "android"
    if stripped.startswith(b"{"):
        return "jsonl"
    if path.suffix.lower() == ".txt":
        return "text"
    if path.suffix.lower() in (".csv", ".tsv") or b"," in head.split(b"\n", 1)[0]:
        return "csv"
    raise ImportFormatError(
        f"无法识别 {path.name} 的格式，请用 --format 指定（{', '.join(FORMATS)}）/ "
        f"cannot tell the format of {path.name}; pass --format ({', '.join(FORMATS)})"
    )
