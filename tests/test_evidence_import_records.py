"""Per-record problems end-to-end (import into a store): a record-supplied time zone, the zone
stored with a message, empty message texts and a CSV whose time column is not recognised."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
import typer
from sqlalchemy import func, select
from typer.testing import CliRunner

from collectguard.evidence import ImportFormatError, open_store
from collectguard.evidence.cli import evidence_app
from collectguard.evidence.ingest import Importer, ImportFailed
from collectguard.evidence.models import ImportRun, Message
from collectguard.evidence.store import EvidenceStore
from collectguard.evidence.verify import verify_store
from iosdb import ios_smsdb

CN = dt.timezone(dt.timedelta(hours=8))
THREAT = "【招联金融】您的借款已逾期，今天再不还款就上门，通知你的家人和单位。"
PLAIN = "【招联金融】您的借款已逾期3天，请及时还款。"
EMPTY = "正文为空 / empty message text"


def jsonl(path: Path, *lines: dict[str, Any]) -> Path:
    path.write_text("\n".join(json.dumps(x, ensure_ascii=False) for x in lines) + "\n", "utf-8")
    return path


def messages(store: EvidenceStore) -> list[Message]:
    with store.session() as s:
        return list(s.scalars(select(Message).order_by(Message.id)).all())


def runs(store: EvidenceStore) -> list[ImportRun]:
    with store.session() as s:
        return list(s.scalars(select(ImportRun).order_by(ImportRun.id)).all())


def zh_then_en(reason: str, zh: str, en: str) -> bool:
    return zh in reason and en in reason and reason.index(zh) < reason.index(en)


# ---------------------------------------------------------------------------- 1. unknown zone
def test_an_unknown_line_timezone_rejects_that_line_only(
    store: EvidenceStore, tmp_path: Path
) -> None:
    f = jsonl(
        tmp_path / "zones.jsonl",
        {"text": PLAIN, "sender": "10690000", "received_at": "2025-01-14 10:00"},
        {"text": THREAT, "received_at": "2025-01-14 23:30", "timezone": "Mars/Base"},
        {"text": "第三条", "received_at": "2025-01-14 23:30", "timezone": "Asia"},  # a folder
        {"text": "第四条", "received_at": "2025-01-14 23:30", "timezone": "../../etc/passwd"},
        {"text": "第五条", "received_at": "2025-01-14 23:30", "timezone": 8},
        {"text": "第六条", "received_at": "2025-01-14T23:30:00+08:00", "timezone": "Mars/Base"},
        {"text": "最后一条", "sender": "10690000", "received_at": "2025-01-15 09:00"},
    )
    report = Importer(store).import_file(f)
    assert report.status == "complete" and report.error is None
    assert (report.new, report.rejected) == (2, 5)
    assert [p for p, _ in report.rejections] == [f"第{n}行 / line {n}" for n in (2, 3, 4, 5, 6)]
    for _, reason in report.rejections:
        assert zh_then_en(reason, "未知时区", "unknown time zone"), reason
    assert "Mars/Base" in report.rejections[0][1]
    assert [m.text for m in messages(store)] == [PLAIN, "最后一条"]
    (run,) = runs(store)
    assert (run.status, run.error, run.rejected_count, run.new_count) == ("complete", None, 5, 2)
    assert verify_store(store).ok


def test_an_importer_with_an_unknown_zone_is_refused_before_it_starts(
    store: EvidenceStore,
) -> None:
    with pytest.raises(ValueError, match="Mars/Base"):
        Importer(store, timezone="Mars/Base")
    assert runs(store) == []


# ---------------------------------------------------------------------------- 2. stored zone
def test_a_line_timezone_is_the_zone_stored_and_analysed_in(
    store: EvidenceStore, tmp_path: Path
) -> None:
    f = jsonl(
        tmp_path / "ny.jsonl",
        {
            "text": THREAT,
            "sender": "10690000",
            "received_at": "2025-01-14 23:30",
            "timezone": "America/New_York",
        },
        {"text": PLAIN, "sender": "10690000", "received_at": "2025-01-14 23:30"},
    )
    report = Importer(store).import_file(f)
    assert (report.new, report.rejected) == (2, 0)
    ny, cn = messages(store)
    assert ny.received_at == dt.datetime(2025, 1, 15, 4, 30, tzinfo=dt.UTC)
    assert ny.received_at_text == "2025-01-14 23:30"
    assert ny.timezone == "America/New_York"  # the zone its time was read in
    assert cn.timezone == "Asia/Shanghai"  # no zone of its own: the import's
    assert cn.received_at == dt.datetime(2025, 1, 14, 15, 30, tzinfo=dt.UTC)
    # analysed where it was received: 23:30 in New York is night (12:30 in Shanghai is not)
    with store.session() as s:
        codes = {v.code for v in s.get(Message, ny.id).violations}  # type: ignore[union-attr]
    assert "night_time" in codes
    assert verify_store(store).ok
    again = Importer(store).import_file(f)
    assert (again.new, again.duplicate) == (0, 2)


# ---------------------------------------------------------------------------- 3. empty texts
def test_empty_jsonl_texts_are_rejected_with_their_lines(
    store: EvidenceStore, tmp_path: Path
) -> None:
    f = jsonl(
        tmp_path / "empty.jsonl",
        {"text": "", "received_at": "2025-01-14 10:00"},
        {"text": "   ", "received_at": "2025-01-14 10:00"},
        {"text": "\u3000\n\t", "received_at": "2025-01-14 10:00"},
        {"text": PLAIN, "sender": "10690000", "received_at": "2025-01-14 10:00"},
    )
    report = Importer(store).import_file(f)
    assert (report.new, report.duplicate, report.rejected) == (1, 0, 3)
    assert report.rejections == [(f"第{n}行 / line {n}", EMPTY) for n in (1, 2, 3)]
    assert [m.text for m in messages(store)] == [PLAIN]


def _ms(h: int, mi: int = 0) -> int:
    return int(dt.datetime(2025, 1, 14, h, mi, tzinfo=CN).timestamp() * 1000)


def test_empty_android_bodies_and_text_less_mms_are_rejected(
    store: EvidenceStore, tmp_path: Path
) -> None:
    import base64

    png = base64.b64encode(b"\x89PNG\r\n\x1a\n" + bytes(64)).decode()
    f = tmp_path / "sms.xml"
    f.write_text(
        "<?xml version='1.0' encoding='UTF-8'?>\n<smses count=\"6\">\n"
        f'<sms address="10690000" date="{_ms(9)}" type="1" body="" />\n'
        f'<sms address="10690000" date="{_ms(9, 1)}" type="1" body="   " />\n'
        f'<mms date="{_ms(9, 2)}" msg_box="1" address="10690000"><parts>'
        '<part seq="-1" ct="application/smil" text="&lt;smil/&gt;" /></parts></mms>\n'
        f'<mms date="{_ms(9, 3)}" msg_box="1" address="10690000"><parts>'
        '<part seq="0" ct="text/plain" text=" " /></parts></mms>\n'
        f'<mms date="{_ms(9, 4)}" msg_box="1" address="10690000"><parts>'
        '<part seq="-1" ct="application/smil" text="&lt;smil/&gt;" />'
        f'<part seq="0" ct="image/png" cl="photo.png" data="{png}" /></parts></mms>\n'
        f'<sms address="10690000" date="{_ms(9, 5)}" type="1" body="{PLAIN}" />\n'
        "</smses>\n",
        encoding="utf-8",
    )
    report = Importer(store).import_file(f)
    assert (report.new, report.rejected) == (2, 4)
    assert [r for _, r in report.rejections] == [EMPTY] * 4
    assert [p.split("/")[0] for p, _ in report.rejections] == [
        "第1条（第3行）",
        "第2条（第4行）",
        "第3条（第5行）",
        "第4条（第6行）",
    ]
    photo, plain = messages(store)
    assert photo.text == "" and plain.text == PLAIN  # a photo without text is a message
    assert report.new_by_kind["attachment"] == 1
    assert verify_store(store).ok


def test_an_empty_ios_text_is_rejected(store: EvidenceStore, tmp_path: Path) -> None:
    db = tmp_path / "sms.db"
    con = ios_smsdb(db)
    secs = int((dt.datetime(2025, 1, 14, 9, tzinfo=CN) - dt.datetime(2001, 1, 1, tzinfo=dt.UTC))
               .total_seconds())  # fmt: skip
    con.executemany(
        "INSERT INTO message VALUES (?, ?, ?, ?, ?, ?, ?)",
        [
            (1, "g1", "", None, 1, secs, 0),
            (2, "g2", " \n ", None, 1, secs + 1, 0),
            (3, "g3", PLAIN, None, 1, secs + 2, 0),
        ],
    )
    con.commit()
    con.close()
    report = Importer(store).import_file(db)
    assert (report.new, report.rejected) == (1, 2)
    assert report.rejections == [("ROWID 1", EMPTY), ("ROWID 2", EMPTY)]


def test_an_empty_paste_creates_nothing(store: EvidenceStore) -> None:
    for blank in ("", "  \n\n\u3000\n"):
        with pytest.raises(ImportFormatError, match="empty"):
            Importer(store).import_text(blank, sender="10690000")
    assert runs(store) == [] and messages(store) == []


# ---------------------------------------------------------------------------- 4. CSV times
def test_a_csv_without_a_recognised_time_column_stops_before_storing(
    store: EvidenceStore, tmp_path: Path
) -> None:
    f = tmp_path / "export.csv"
    f.write_text(f"From,Message,Zeit\n10690000,{THREAT},2025-01-14 23:30\n", encoding="utf-8")
    with pytest.raises(ImportFailed) as info:
        Importer(store).import_file(f)
    msg = str(info.value)
    assert zh_then_en(msg, "找不到接收时间列", "no receive-time column")
    assert "From, Message, Zeit" in msg
    assert "--map received_at=列名" in msg and "--map received_at=COLUMN" in msg
    assert messages(store) == []
    (run,) = runs(store)
    assert run.status == "failed" and run.new_count == 0

    # mapped by hand, the same file imports with its times
    done = Importer(store).import_file(f, csv_mapping={"received_at": "Zeit"})
    assert done.new == 1
    assert messages(store)[0].received_at == dt.datetime(2025, 1, 14, 15, 30, tzinfo=dt.UTC)


def test_common_time_headers_are_recognised(store: EvidenceStore, tmp_path: Path) -> None:
    f = tmp_path / "when.csv"
    f.write_text(f"From,Message,When\n10690000,{THREAT},2025-01-14 23:30\n", encoding="utf-8")
    assert Importer(store).import_file(f).new == 1
    g = tmp_path / "发送时间.csv"
    g.write_text(f"发送号码,短信内容,发送时间\n10690000,{PLAIN},2025-01-15 09:00\n", "utf-8")
    assert Importer(store).import_file(g).new == 1
    assert [m.received_at is not None for m in messages(store)] == [True, True]


def test_no_times_is_a_deliberate_choice(store: EvidenceStore, tmp_path: Path) -> None:
    f = tmp_path / "notes.csv"
    f.write_text(f"号码,内容,备注\n10690000,{THREAT},朋友转来的\n", encoding="utf-8")
    with pytest.raises(ImportFailed, match="备注"):
        Importer(store).import_file(f)
    report = Importer(store).import_file(f, csv_mapping={"received_at": ""})
    assert report.new == 1 and messages(store)[0].received_at is None
    # a file of nothing but text and number has no column that could hold the time
    g = tmp_path / "plain.csv"
    g.write_text(f"内容,号码\n{PLAIN},10690000\n", encoding="utf-8")
    assert Importer(store).import_file(g).new == 1


def test_cli_names_the_fix_and_takes_an_empty_time_mapping(tmp_path: Path) -> None:
    app = typer.Typer()
    app.add_typer(evidence_app, name="evidence")
    runner = CliRunner()
    db = str(tmp_path / "cli.sqlite3")
    f = tmp_path / "export.csv"
    f.write_text(f"From,Message,Zeit\n10690000,{THREAT},昨天\n", encoding="utf-8")
    r = runner.invoke(app, ["evidence", "import", str(f), "--db", db])
    assert r.exit_code == 2 and "--map received_at=COLUMN" in r.stderr
    r = runner.invoke(
        app, ["evidence", "import", str(f), "--db", db, "--map", "received_at=", "--json"]
    )
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["new"] == 1
    s = open_store(f"sqlite:///{db}")
    try:
        with s.session() as session:
            assert session.scalar(select(func.count()).select_from(Message)) == 1
            assert session.scalar(select(Message.received_at)) is None
    finally:
        s.close()


# ---------------------------------------------------------------------------- unclosed quotes
def test_a_quote_never_closed_rejects_the_record_that_took_in_later_rows(
    store: EvidenceStore, tmp_path: Path
) -> None:
    f = tmp_path / "broken.csv"
    f.write_text(
        "sender,received_at,text\n"
        f'10690000,2025-01-14 08:00,"{PLAIN}\n'  # quote opened on line 2, never closed
        f"10690001,2025-01-14 09:00,{THREAT}\n"
        "10690002,2025-01-14 10:00,第三条\n",
        encoding="utf-8",
    )
    report = Importer(store).import_file(f)
    assert report.new == 0 and report.rejected == 1
    ((_where, reason),) = report.rejections
    assert zh_then_en(reason, "第2行开始的引号没有闭合", "the quote opened on line 2 is not closed")
    assert "2 later line(s)" in reason
    assert messages(store) == []  # not one message holding three rows' text

    # a stray quote closed rows later: that record is rejected, the rows after it import
    g = tmp_path / "stray.csv"
    g.write_text(
        "sender,received_at,text\n"
        f"10690009,2025-01-13 08:00,{PLAIN}\n"
        f'10690000,2025-01-14 08:00,"{PLAIN}\n'
        f'10690001,2025-01-14 09:00,"第二条"\n'
        f"10690002,2025-01-14 10:00,{THREAT}\n",
        encoding="utf-8",
    )
    report = Importer(store).import_file(g)
    assert (report.new, report.rejected) == (2, 1)
    assert "line 3 is not closed: 1 later line(s)" in report.rejections[0][1]
    assert [m.text for m in messages(store)] == [PLAIN, THREAT]

    # fixed, the file imports whole; what was stored is recognised
    g.write_text(g.read_text("utf-8").replace(f'"{PLAIN}\n', f'"{PLAIN}"\n'), encoding="utf-8")
    report = Importer(store).import_file(g)
    assert (report.new, report.duplicate, report.rejected) == (2, 2, 0)


def test_a_message_text_over_several_lines_is_not_mistaken_for_rows(
    store: EvidenceStore, tmp_path: Path
) -> None:
    text = "您好,\n本期应还,500,元\n请于今日还款,逾期将上报,谢谢\n1月14日,10690000,前"
    f = tmp_path / "multi.csv"
    f.write_text(
        'received_at,text,sender\n2025-01-14 08:00,"' + text + '",10690000\n', encoding="utf-8"
    )
    report = Importer(store).import_file(f)
    assert (report.new, report.rejected) == (1, 0)
    assert messages(store)[0].text == text
    # without a time column, lines are judged by a number in the sender column
    g = tmp_path / "untimed.csv"
    g.write_text('号码,内容\n10690000,"第一行\n逾期,将上报"\n', encoding="utf-8")
    assert Importer(store).import_file(g).new == 1
    h = tmp_path / "untimed-broken.csv"
    h.write_text('号码,内容\n10690000,"第一行\n10690001,第二条\n', encoding="utf-8")
    report = Importer(store).import_file(h)
    assert (report.new, report.rejected) == (0, 1)


# ---------------------------------------------------------------------------- damaged files
def test_an_ios_text_that_is_not_utf8_rejects_that_message_only(
    store: EvidenceStore, tmp_path: Path
) -> None:
    db = tmp_path / "sms.db"
    con = ios_smsdb(db)
    con.execute(
        "INSERT INTO message VALUES (1, 'g1', CAST(x'e682a8ce' AS TEXT), NULL, 1, 758000000, 0)"
    )
    con.execute("INSERT INTO message VALUES (2, 'g2', ?, NULL, 1, 758000001, 0)", (PLAIN,))
    con.commit()
    con.close()
    report = Importer(store).import_file(db)  # was: UnicodeDecodeError, nothing stored
    assert (report.new, report.rejected) == (1, 1)
    ((where, reason),) = report.rejections
    assert where == "ROWID 1" and zh_then_en(reason, "不是有效的 UTF-8", "not valid UTF-8")
    assert [m.text for m in messages(store)] == [PLAIN]


def test_an_ios_db_with_a_damaged_schema_is_a_clear_error(
    store: EvidenceStore, tmp_path: Path
) -> None:
    db = tmp_path / "sms.db"
    ios_smsdb(db).close()
    raw = db.read_bytes()
    good = b"(ROWID INTEGER PRIMARY KEY, id TEXT"
    # one byte of the stored schema made invalid: SQLite's own error message then holds it
    db.write_bytes(raw.replace(good, good.replace(b",", b"\xce"), 1))
    with pytest.raises(ImportFormatError, match="damaged"):
        Importer(store).import_file(db, format="ios")


@pytest.mark.parametrize("encoding", ["UDF-8", "UTF-7"])
def test_an_android_xml_declaring_an_unreadable_encoding_is_a_clear_error(
    store: EvidenceStore, tmp_path: Path, encoding: str
) -> None:
    f = tmp_path / "backup.xml"
    f.write_text(
        f'<?xml version="1.0" encoding="{encoding}"?>\n<smses count="1">\n'
        f'<sms address="10690000" date="1736870400000" type="1" body="{PLAIN}" />\n</smses>\n',
        encoding="utf-8",
    )
    with pytest.raises(ImportFormatError) as info:  # was: LookupError / ValueError
        Importer(store).import_file(f, format="android")
    assert zh_then_en(str(info.value), "编码无法读取", "encoding the XML declares cannot be read")
    assert messages(store) == []


# ---------------------------------------------------------------------------- read at most N
def test_max_records_stops_reading_and_says_where(store: EvidenceStore, tmp_path: Path) -> None:
    """`max_records` (the web caps a locker with it): messages and calls past it are left
    unread, rejected records do not count, `stopped_at` names the first one left; the run
    records the name it is given instead of the path."""
    lines: list[dict[str, Any]] = [{"text": ""}]  # rejected: not counted
    lines += [
        {"text": f"{PLAIN} #{i}", "sender": "10690000", "received_at": f"2025-01-{i + 1:02d} 09:00"}
        for i in range(6)
    ]
    source = jsonl(tmp_path / "m.jsonl", *lines)
    report = Importer(store).import_file(source, max_records=4, source_name="我的短信.jsonl")
    assert (report.new, report.rejected, report.status) == (4, 1, "complete")
    assert report.stopped_at == "第6行 / line 6"
    assert len(messages(store)) == 4 and runs(store)[-1].source_name == "我的短信.jsonl"
    assert verify_store(store).ok
    again = Importer(store).import_file(source, max_records=10)  # room for all: reads to the end
    assert (again.new, again.duplicate, again.stopped_at) == (2, 4, None)
    assert runs(store)[-1].source_name == str(source)
    with pytest.raises(ValueError):
        Importer(store).import_file(source, max_records=-1)
