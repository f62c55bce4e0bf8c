"""Source readers without a database: XML repair, streaming, times, encodings, formats."""

from __future__ import annotations

import datetime as dt
import io
import json
from pathlib import Path
from xml.sax.saxutils import quoteattr

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from collectguard.evidence import ImportFormatError, sources
from collectguard.evidence.sources import (
    CallItem,
    MessageRecord,
    RejectedRecord,
    apple_time,
    attributed_body_text,
    detect_encoding,
    detect_format,
    parse_time,
    read_android_xml,
    read_csv,
    read_jsonl,
    read_pasted,
    repair_xml_chunk,
)

CN = dt.timezone(dt.timedelta(hours=8))


def doc(*bodies: str, raw: bool = False) -> bytes:
    rows = "".join(
        f'<sms address="1069" date="{1736867700000 + i}" type="1" '
        f"body={chr(34) + b + chr(34) if raw else quoteattr(b)} />\n"
        for i, b in enumerate(bodies)
    )
    return f"<?xml version='1.0' encoding='UTF-8'?>\n<smses>\n{rows}</smses>\n".encode()


def texts(data: bytes) -> list[str]:
    out = []
    for r in read_android_xml(io.BytesIO(data)):
        assert isinstance(r, MessageRecord), r
        out.append(r.text)
    return out


def test_repair_joins_surrogate_pairs_and_replaces_forbidden_characters() -> None:
    assert repair_xml_chunk(b"a&#55357;&#56832;b") == b"a&#128512;b"
    assert repair_xml_chunk(b"&#xD83D;&#xDE00;") == b"&#128512;"
    assert repair_xml_chunk(b"&#55357;x") == b"&#65533;x"  # lone high surrogate
    assert repair_xml_chunk(b"&#1;&#65535;&#11;") == b"&#65533;" * 3
    kept = b"&#10;&#13;&#9;&#20320;&#128512;&amp;&lt;"
    assert repair_xml_chunk(kept) == kept
    raw = b"a\x01b\nc\x1fd"
    assert repair_xml_chunk(raw) == "a\ufffdb\nc\ufffdd".encode()


def test_android_reader_handles_the_apps_emoji_and_newline_references() -> None:
    got = texts(doc("第一行&#10;第二行&#55357;&#56832;", "&#1;x", raw=True))
    assert got == ["第一行\n第二行\U0001f600", "\ufffdx"]


def test_tiny_chunks_give_the_same_records(monkeypatch: pytest.MonkeyPatch) -> None:
    data = doc(*[f"逾期第{i}天&#55357;&#56832;&#10;" for i in range(40)], raw=True)
    whole = texts(data)
    for size in (1, 3, 7, 64):
        monkeypatch.setattr(sources, "CHUNK", size)
        assert texts(data) == whole


def test_android_reader_streams() -> None:
    data = doc(*["【某金融】您已逾期，请还款。" * 20 for _ in range(5000)])
    fp = io.BytesIO(data)
    reader = read_android_xml(fp)
    first = next(reader)
    assert isinstance(first, MessageRecord)
    assert fp.tell() < len(data) // 2  # the first record came before the file was read
    assert sum(1 for _ in reader) == 4999


def test_android_reader_names_the_position_of_a_fault() -> None:
    data = doc("a", "b", "c").replace(b'body="b" />', b'body="b" <oops />')
    got: list[object] = []
    with pytest.raises(ImportFormatError) as info:
        got.extend(read_android_xml(io.BytesIO(data)))
    assert "line 4" in str(info.value) and "第4行" in str(info.value)
    assert [r.text for r in got if isinstance(r, MessageRecord)] == ["a"]


def test_android_reader_refuses_other_xml() -> None:
    with pytest.raises(ImportFormatError, match="root element is <html>"):
        list(read_android_xml(io.BytesIO(b"<html><body>hi</body></html>")))


def test_android_calls_and_rejections() -> None:
    data = (
        b"<calls>\n"
        b'<call number="95588" duration="12" date="1736867700000" type="5" />\n'
        b'<call number="95588" duration="12" date="-1" type="1" />\n'
        b"</calls>\n"
    )
    recs = list(read_android_xml(io.BytesIO(data)))
    assert isinstance(recs[0], CallItem) and recs[0].call_type == "rejected"
    assert isinstance(recs[1], RejectedRecord) and "line 3" in recs[1].position


def test_a_tag_over_the_limit_is_read_past_and_its_record_rejected(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sources, "MAX_XML_ELEMENT_BYTES", 1000)
    monkeypatch.setattr(sources, "CHUNK", 64)
    # raw newlines inside the long body: the lines after it must still be counted
    data = doc("a", "长\n" * 2000, "c", raw=True) + b"<broken"
    got: list[object] = []
    with pytest.raises(ImportFormatError) as info:
        got.extend(read_android_xml(io.BytesIO(data)))
    assert [r.text for r in got if isinstance(r, MessageRecord)] == ["a", "c"]
    (bad,) = [r for r in got if isinstance(r, RejectedRecord)]
    assert "record 2 (line 4)" in bad.position
    start = data.index(b"<sms", data.index(b'body="a"'))
    size = data.index(b"/>", start) + 2 - start
    assert f"is {size:,} bytes, over the limit of 1,000:" in bad.reason
    assert got.index(bad) == 1
    # the long record spans lines 4 to 2004; then "c", "</smses>" and "<broken" on 2007
    assert "line 2007," in str(info.value)


@pytest.mark.parametrize("chunk", [1, 7, 64, 333, 999, 1000])
def test_the_tag_limit_is_exact_whatever_the_chunk_size(
    monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    monkeypatch.setattr(sources, "MAX_XML_ELEMENT_BYTES", 1000)
    monkeypatch.setattr(sources, "CHUNK", chunk)
    base = doc("a", "", "c")
    tag_start = base.index(b"<sms", base.index(b'body="a"'))
    tag = base[tag_start : base.index(b"/>", tag_start) + 2]
    for size in (999, 1000, 1001):
        # the tag is measured from the ">" before it: the newline there counts
        data = base.replace(
            tag, tag.replace(b'body=""', b'body="' + b"x" * (size - 1 - len(tag)) + b'"')
        )
        kinds = [type(r).__name__ for r in read_android_xml(io.BytesIO(data))]
        want = "MessageRecord" if size <= 1000 else "RejectedRecord"
        assert kinds == ["MessageRecord", want, "MessageRecord"], (chunk, size)


def test_an_mms_part_over_the_limit_rejects_that_mms_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sources, "MAX_XML_ELEMENT_BYTES", 4096)
    monkeypatch.setattr(sources, "CHUNK", 64)  # the limit is counted in whole chunks
    photo = "A" * 10_000
    data = (
        "<smses>\n"
        '<mms date="1736867700000" msg_box="1" address="1069"><parts>\n'
        '<part ct="text/plain" text="逾期通知" />\n'
        f'<part ct="image/jpeg" cl="big.jpg" data="{photo}" />\n'
        "</parts></mms>\n"
        '<sms address="1069" date="1736867800000" type="1" body="下一条" />\n'
        "</smses>\n"
    ).encode()
    recs = list(read_android_xml(io.BytesIO(data)))
    assert isinstance(recs[0], RejectedRecord)
    assert "<part>" in recs[0].reason and "10,0" in recs[0].reason
    assert "line 2" in recs[0].position
    assert isinstance(recs[1], MessageRecord) and recs[1].text == "下一条"


@pytest.mark.parametrize(
    ("tail", "message"),
    [
        ('<mms date="1" msg_box="1" x="' + "y" * 5000 + '">', "<mms>"),  # not a whole record
        ('<sms date="1" body="' + "y" * 5000, "the file ends inside it"),
        ("y" * 5000, "a run"),
    ],
)
def test_a_long_tag_that_cannot_be_left_out_ends_the_import(
    monkeypatch: pytest.MonkeyPatch, tail: str, message: str
) -> None:
    monkeypatch.setattr(sources, "MAX_XML_ELEMENT_BYTES", 1000)
    monkeypatch.setattr(sources, "CHUNK", 64)
    data = b"<smses>\n" + doc("a").split(b"<smses>\n")[1].replace(b"</smses>\n", b"")
    data += tail.encode()
    got: list[object] = []
    with pytest.raises(ImportFormatError, match=message) as info:
        got.extend(read_android_xml(io.BytesIO(data)))
    assert "line 3" in str(info.value) and "after 1 records" in str(info.value)
    assert [r.text for r in got if isinstance(r, MessageRecord)] == ["a"]


def test_a_body_over_32_mib_is_read_past_at_full_size() -> None:
    body = b"x" * (sources.MAX_XML_ELEMENT_BYTES + 5)
    data = doc("a", "__BODY__", "c").replace(b"__BODY__", body)
    recs = list(read_android_xml(io.BytesIO(data)))
    assert [type(r).__name__ for r in recs] == ["MessageRecord", "RejectedRecord", "MessageRecord"]


# Characters XML 1.0 can carry (plus the C0 controls the phone keeps, which become U+FFFD).
xml_chars = st.characters(blacklist_categories=("Cs",), blacklist_characters="\ufffe\uffff")


@settings(max_examples=150, deadline=None)
@given(st.lists(st.text(xml_chars, max_size=40), min_size=1, max_size=5))
def test_any_body_survives_the_round_trip(bodies: list[str]) -> None:
    bodies = [b for b in bodies if b != "null"]  # the app's word for "no body": rejected
    control = {c: "\ufffd" for c in map(chr, range(32)) if c not in "\t\n\r"}
    # the parser normalises a raw CR/LF in an attribute; quoteattr escapes them, so they stay
    want = [b.translate(str.maketrans(control)) for b in bodies]
    got = list(read_android_xml(io.BytesIO(doc(*bodies))))
    assert len(got) == len(want)
    for rec, body in zip(got, want, strict=True):
        if body.strip():
            assert isinstance(rec, MessageRecord) and rec.text == body
        else:  # nothing but whitespace: no message
            assert isinstance(rec, RejectedRecord) and rec.reason == sources.EMPTY_TEXT


def test_parse_time_forms() -> None:
    want = dt.datetime(2025, 1, 14, 23, 15, tzinfo=CN)
    assert parse_time("2025-01-14T23:15:00+08:00", None) == want
    assert parse_time("2025-01-14T15:15:00Z", None) == want
    assert parse_time("2025-01-14 23:15", "Asia/Shanghai") == want
    assert parse_time("2025/1/14 23:15:00", "Asia/Shanghai") == want
    assert parse_time("2025年1月14日 23:15", "Asia/Shanghai") == want
    assert parse_time(str(int(want.timestamp() * 1000)), None) == want
    assert parse_time(str(int(want.timestamp())), None) == want
    assert parse_time("2025-01-14 23:15", None) is None  # no zone: unknown, never guessed
    assert parse_time("", "Asia/Shanghai") is None
    with pytest.raises(ValueError, match="not a time"):
        parse_time("昨天晚上", "Asia/Shanghai")


def test_apple_times_in_seconds_and_nanoseconds() -> None:
    t = dt.datetime(2025, 1, 14, 15, 15, tzinfo=dt.UTC)
    secs = int((t - sources.APPLE_EPOCH).total_seconds())
    assert apple_time(secs) == t
    assert apple_time(secs * 1_000_000_000) == t
    assert apple_time(0) is None and apple_time(None) is None


def test_attributed_body_long_text() -> None:
    body = ("【某金融】" + "逾期" * 100).encode()
    blob = b"streamtyped\x84NSString\x01\x94\x84\x01+\x81" + len(body).to_bytes(2, "little")
    assert attributed_body_text(blob + body + b"\x86") == body.decode()
    assert attributed_body_text(b"no string here") is None


def test_detect_encoding() -> None:
    assert detect_encoding("内容".encode("utf-8-sig")) == "utf-8-sig"
    assert detect_encoding("内容,号码".encode()) == "utf-8"
    assert detect_encoding("内容".encode()[:-1]) == "utf-8"  # a sample cut mid-character
    assert detect_encoding("短信内容,号码".encode("gb18030")) == "gb18030"
    with pytest.raises(ImportFormatError, match="UTF-16"):
        detect_encoding("内容".encode("utf-16"))
    with pytest.raises(ImportFormatError, match="line 2"):
        detect_encoding(b"text\n\xff\xff\xff")


def test_csv_reader_needs_a_text_column() -> None:
    with pytest.raises(ImportFormatError, match="--map text="):
        list(read_csv(io.BytesIO(b"a,b\n1,2\n")))
    with pytest.raises(ImportFormatError, match="no column 'body'"):
        list(read_csv(io.BytesIO(b"a,b\n1,2\n"), {"text": "body"}))


def test_detect_format(tmp_path: Path) -> None:
    cases = {
        "a.db": b"SQLite format 3\x00rest",
        "b.xml": b"\xef\xbb\xbf  <?xml version='1.0'?><smses/>",
        "c.jsonl": b'{"text": "x"}\n',
        "d.csv": b"text,sender\nx,1\n",
        "e.txt": b"pasted message",
    }
    want = {"a.db": "ios", "b.xml": "android", "c.jsonl": "jsonl", "d.csv": "csv", "e.txt": "text"}
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
        assert detect_format(tmp_path / name) == want[name]
    (tmp_path / "f.bin").write_bytes(b"\x00\x01\x02")
    with pytest.raises(ImportFormatError, match="--format"):
        detect_format(tmp_path / "f.bin")


def test_pasted_blocks() -> None:
    recs = list(read_pasted("第一条\r\n还是第一条\r\n\r\n\u3000\n第二条\n\n\n"))
    assert [r.text for r in recs if isinstance(r, MessageRecord)] == [
        "第一条\n还是第一条",
        "第二条",
    ]


def test_reader_memory_stays_flat_on_a_large_file(tmp_path: Path) -> None:
    import tracemalloc

    row = '<sms address="1069" date="1736867700000" type="1" body="{}" />\n'
    body = "【某金融】您已逾期，请尽快还款，否则后果自负。" * 8
    f = tmp_path / "big.xml"
    with f.open("w", encoding="utf-8") as out:
        out.write("<?xml version='1.0' encoding='UTF-8'?>\n<smses>\n")
        for _ in range(40_000):
            out.write(row.format(body))
        out.write("</smses>\n")
    size = f.stat().st_size
    assert size > 20_000_000
    tracemalloc.start()
    try:
        with f.open("rb") as fp:
            n = sum(1 for _ in read_android_xml(fp))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert n == 40_000
    assert peak < 12_000_000, peak  # a few chunks, never the file (> 20 MB)


def test_csv_reads_a_message_longer_than_the_csv_modules_default_field_limit() -> None:
    """csv stops at 131,072 characters by default: a long message (the analyzer takes up to
    1,000,000) used to end the whole import as "malformed CSV"."""
    long = "长" * 200_000
    data = f"text,sender\n短一点,1069\n{long},1069\n最后一条,1069\n".encode()
    recs = list(read_csv(io.BytesIO(data)))
    assert [len(r.text) for r in recs if isinstance(r, MessageRecord)] == [3, 200_000, 4]


def test_csv_field_beyond_the_limit_is_a_clear_error_with_its_line() -> None:
    import csv

    before = csv.field_size_limit()
    csv.field_size_limit(sources.MAX_FIELD_CHARS)  # as a fresh process has it once read
    try:
        data = ("text\nfirst\n" + "x" * (sources.MAX_FIELD_CHARS + 1) + "\n").encode()
        got: list[object] = []
        with pytest.raises(ImportFormatError, match=r"longer than 4,000,000 characters at") as e:
            got.extend(read_csv(io.BytesIO(data)))
    finally:
        csv.field_size_limit(before)
    assert [r.text for r in got if isinstance(r, MessageRecord)] == ["first"]
    assert e.value.position is not None and "line 3" in e.value.position


def test_jsonl_line_too_long_is_rejected_and_passed_over(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sources, "MAX_LINE_BYTES", 100)
    monkeypatch.setattr(sources, "CHUNK", 7)  # the long line is read past in small pieces
    fits = '{"text": "' + "a" * 88 + '"}'  # exactly 100 bytes before its newline
    data = "\n".join(
        ['{"text": "一"}', '{"text": "' + "b" * 5000 + '"}', fits, '{"text": "二"}', "", "{"]
    ).encode()
    recs = list(read_jsonl(io.BytesIO(data)))
    assert len(fits) == 100
    kinds = [(type(r).__name__, r.position) for r in recs]
    assert kinds == [
        ("MessageRecord", "第1行 / line 1"),
        ("RejectedRecord", "第2行 / line 2"),
        ("MessageRecord", "第3行 / line 3"),
        ("MessageRecord", "第4行 / line 4"),
        ("RejectedRecord", "第6行 / line 6"),
    ]
    assert isinstance(recs[1], RejectedRecord) and "5,013 bytes" in recs[1].reason
    assert isinstance(recs[3], MessageRecord) and recs[3].text == "二"


def test_jsonl_progress_counts_every_byte_of_a_long_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sources, "MAX_LINE_BYTES", 10)
    data = b'{"text": "' + b"c" * 50 + b'"}\n{"text": "d"}'
    seen: list[tuple[int, int]] = []
    list(read_jsonl(io.BytesIO(data), tick=lambda done, total: seen.append((done, total)),
                    total=len(data)))  # fmt: skip
    assert seen[-1] == (len(data), len(data))


# ---------------------------------------------------------------------------- record problems
@pytest.mark.parametrize("zone", ["Mars/Base", "Asia", "../../etc/passwd", "", "UTC\x00", 8])
def test_an_unknown_zone_is_a_value_error_naming_it(zone: object) -> None:
    with pytest.raises(ValueError, match="unknown time zone") as info:
        sources.zone_info(zone)
    assert str(info.value).startswith("未知时区")
    if zone:
        with pytest.raises(ValueError, match="unknown time zone"):
            parse_time("2025-01-14 23:30", str(zone))  # never ZoneInfoNotFoundError


def test_jsonl_record_carries_the_zone_its_time_was_read_in() -> None:
    lines = [
        '{"text": "a", "received_at": "2025-01-14 23:30", "timezone": "America/New_York"}',
        '{"text": "b", "received_at": "2025-01-14 23:30"}',
        '{"text": "c", "received_at": "2025-01-14 23:30", "timezone": "Mars/Base"}',
        '{"text": "d", "received_at": "2025-01-14 23:30", "timezone": null}',
        '{"text": "e", "timezone": ["Asia/Shanghai"]}',
    ]
    recs = list(read_jsonl(io.BytesIO("\n".join(lines).encode()), zone="Asia/Shanghai"))
    a, b, c, d, e = recs
    assert isinstance(a, MessageRecord) and a.timezone == "America/New_York"
    assert a.received_at == dt.datetime(2025, 1, 15, 4, 30, tzinfo=dt.UTC)
    assert isinstance(b, MessageRecord) and b.timezone is None
    assert b.received_at == dt.datetime(2025, 1, 14, 23, 30, tzinfo=CN)
    assert isinstance(c, RejectedRecord) and c.position == "第3行 / line 3"
    assert "未知时区 'Mars/Base'" in c.reason and "unknown time zone 'Mars/Base'" in c.reason
    assert isinstance(d, MessageRecord) and d.timezone is None
    assert isinstance(e, RejectedRecord) and "unknown time zone" in e.reason


def test_every_reader_rejects_an_empty_text() -> None:
    j = list(read_jsonl(io.BytesIO(b'{"text": ""}\n{"text": " \\n"}\n{"text": "x"}\n')))
    assert [(type(r).__name__, r.position) for r in j] == [
        ("RejectedRecord", "第1行 / line 1"),
        ("RejectedRecord", "第2行 / line 2"),
        ("MessageRecord", "第3行 / line 3"),
    ]
    c = list(read_csv(io.BytesIO(b"text,time\n  ,2025-01-14 10:00\nx,\n")))
    a = list(read_android_xml(io.BytesIO(doc("", " \t ", "x"))))
    for got in (j, c, a):
        rejected = [r for r in got if isinstance(r, RejectedRecord)]
        assert rejected and all(r.reason == sources.EMPTY_TEXT for r in rejected)
        assert [r.text for r in got if isinstance(r, MessageRecord)] == ["x"]
    assert list(read_pasted(" \n\n\u3000\n")) == []


def test_csv_refuses_a_file_whose_time_column_is_not_recognised() -> None:
    data = b"From,Message,Zeit\n1069,hello,2025-01-14 23:30\n"
    with pytest.raises(ImportFormatError) as info:
        list(read_csv(io.BytesIO(data), zone="Asia/Shanghai"))
    msg = str(info.value)
    assert msg.startswith("CSV 找不到接收时间列") and "no receive-time column" in msg
    assert "From, Message, Zeit" in msg and "--map received_at=COLUMN" in msg
    (rec,) = read_csv(io.BytesIO(data), {"received_at": "Zeit"}, zone="Asia/Shanghai")
    assert isinstance(rec, MessageRecord) and rec.received_at is not None
    (rec,) = read_csv(io.BytesIO(data), {"received_at": ""}, zone="Asia/Shanghai")
    assert isinstance(rec, MessageRecord) and rec.received_at is None
    (rec,) = read_csv(io.BytesIO(data.replace(b"Zeit", b"When")), zone="Asia/Shanghai")
    assert isinstance(rec, MessageRecord) and rec.received_at is not None
    with pytest.raises(ImportFormatError, match="--map text="):
        list(read_csv(io.BytesIO(data), {"text": ""}))


def test_invisible_only_texts_are_blank() -> None:
    lines = [{"text": t} for t in ("\u200b", "\ufeff", " \u200e\u3000 ", "a\u200b")]
    recs = list(read_jsonl(io.BytesIO("\n".join(json.dumps(x) for x in lines).encode())))
    kinds = [type(r).__name__ for r in recs]
    assert kinds == ["RejectedRecord"] * 3 + ["MessageRecord"]
