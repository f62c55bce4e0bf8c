"""Letters: every kind cites the rules broken, lists the evidence hashes, leaves blanks; hostile
text stays text; the PDF shows Chinese (not tofu); DOCX opens; the CLI writes each format."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
from pathlib import Path

import pytest
import typer
from sqlalchemy import select
from typer.testing import CliRunner

from collectguard.evidence import EvidenceError, letters, open_store
from collectguard.evidence.cli import evidence_app
from collectguard.evidence.history import build_cases
from collectguard.evidence.ingest import Importer
from collectguard.evidence.letters import (
    LETTER_KINDS,
    html_to_pdf,
    letter_context,
    render_letter,
    to_html,
    write_docx,
    write_pdf,
)
from collectguard.evidence.models import Message
from collectguard.evidence.store import EvidenceStore
from collectguard.rules import load_builtin, load_pack_file

CN = dt.timezone(dt.timedelta(hours=8))
THREAT = "【招联金融】您的借款已逾期，今天再不还款就上门，通知你的家人和单位。"
HOSTILE = '【招联金融】您已逾期<script>alert("x")</script> `rm -rf` **bold** # 标题'
NOW = dt.datetime(2026, 11, 29, 8, 0, tzinfo=dt.UTC)
app = typer.Typer()
app.add_typer(evidence_app, name="evidence")
runner = CliRunner()


def poppler(tool: str) -> str:
    found = shutil.which(tool)
    if found is None:
        pytest.fail(
            f"{tool} not found: `.ci/run` installs poppler-utils and fonts-noto-cjk "
            "(Debian: apt-get install poppler-utils fonts-noto-cjk)"
        )
    return found


@pytest.fixture
def store(tmp_path: Path) -> EvidenceStore:
    s = open_store(f"sqlite:///{tmp_path / 'e.sqlite3'}", attachments_dir=tmp_path / "att")
    imp = Importer(s)
    imp.import_text(
        THREAT, sender="10690000", received_at=dt.datetime(2025, 1, 14, 23, 5, tzinfo=CN)
    )
    imp.import_text(HOSTILE, sender="10690000", received_at=dt.datetime(2025, 1, 15, 9, tzinfo=CN))
    Importer(s, recipient="妈妈").import_text(
        "【招联金融】您儿子张三在我司的借款已逾期30天，请转告他尽快还款。",
        sender="10690000",
        received_at=dt.datetime(2025, 1, 16, 10, tzinfo=CN),
    )
    return s


def context(store: EvidenceStore) -> dict[str, object]:
    pack = load_builtin("cn")
    case = build_cases(store, pack)[0]
    return letter_context(store, case, pack=pack, zone="Asia/Shanghai", now=NOW)


def one_message_context(tmp_path: Path, text: str, at: dt.datetime) -> dict[str, object]:
    """The letter context of a store holding one message from 10690000 (one case)."""
    with open_store(str(tmp_path / "one.sqlite3")) as s:
        Importer(s).import_text(text, sender="10690000", received_at=at)
        pack = load_builtin("cn")
        (case,) = build_cases(s, pack)
        return letter_context(s, case, pack=pack, zone="Asia/Shanghai", now=NOW)


def test_every_letter_cites_rules_lists_hashes_and_leaves_blanks(store: EvidenceStore) -> None:
    ctx = context(store)
    with store.session() as s:
        hashes = list(s.scalars(select(Message.item_sha256)))
    assert len(hashes) == 3
    head = store.ledger.head()
    assert head is not None
    for kind, spec in LETTER_KINDS.items():
        for lang in spec.languages:
            md = render_letter(kind, lang, ctx).markdown
            assert all(h in md for h in hashes), (kind, lang)
            assert head.entry_hash in md
            assert "cn.hours" in md and "cn.third_party" in md, (kind, lang)
            assert ("【待填写：" if lang == "zh" else "[FILL IN:") in md, (kind, lang)
            assert "妈妈" in md, (kind, lang)  # the relative the collector reached
            assert "{{" not in md and "{%" not in md
    pboc = render_letter("pboc_objection", "zh", ctx).markdown
    assert "第二十五条" in pboc and "20 日" in pboc
    assert "Article 25" in render_letter("pboc_objection", "en", ctx).markdown
    assert "1692g" in render_letter("us_debt_validation", "en", ctx).markdown
    assert "1692c(c)" in render_letter("us_cease_communication", "en", ctx).markdown
    assert "12378" in render_letter("regulator_complaint", "zh", ctx).markdown


def test_unknown_kind_or_language(store: EvidenceStore) -> None:
    ctx = context(store)
    with pytest.raises(EvidenceError, match="no letter kind"):
        render_letter("love_letter", "zh", ctx)
    with pytest.raises(EvidenceError, match="zh/en only"):
        render_letter("lender_complaint", "fr", ctx)


def test_us_letters_have_a_chinese_reading_copy(store: EvidenceStore) -> None:
    """A Chinese-speaking borrower in the US reads the zh copy and sends the English one."""
    ctx = context(store)
    for kind, citation in (
        ("us_debt_validation", "1692g(b)"),
        ("us_cease_communication", "1692c(c)"),
        ("cfpb_narrative", "consumerfinance.gov"),
    ):
        zh = render_letter(kind, "zh", ctx).markdown
        assert citation in zh and "英文版" in zh and f"--kind {kind} --lang en" in zh
        assert "【待填写：" in zh


def test_hostile_text_stays_text(store: EvidenceStore) -> None:
    letter = render_letter("lender_complaint", "zh", context(store))
    assert "\\<script\\>" in letter.markdown and "<script>" not in letter.markdown
    assert "\\`rm -rf\\`" in letter.markdown and "\\*\\*bold\\*\\*" in letter.markdown
    page = to_html(letter)
    assert "<script>" not in page and "&lt;script&gt;alert(&quot;x&quot;)" in page
    assert "**bold**" in page and "<code>rm -rf</code>" not in page


def test_pdf_shows_chinese(store: EvidenceStore, tmp_path: Path) -> None:
    pdftotext, pdffonts = poppler("pdftotext"), poppler("pdffonts")
    letter = render_letter("lender_complaint", "zh", context(store))
    pdf = tmp_path / "letter.pdf"
    write_pdf(letter, pdf)
    text = subprocess.run([pdftotext, str(pdf), "-"], capture_output=True, text=True).stdout
    for phrase in ("投诉函：违规催收", "一、事实", "招联金融", '<script>alert("x")</script>'):
        assert phrase in text, phrase
    fonts = subprocess.run([pdffonts, str(pdf)], capture_output=True, text=True).stdout
    assert "CJK" in fonts


def test_emoji_in_a_text_use_the_emoji_font_and_digits_do_not(tmp_path: Path) -> None:
    """🙏 printed as a box where no emoji font was installed (.ci/run installs Noto Color
    Emoji now; fontconfig falls back to it). Named in the CSS it drew every digit as a colour
    keycap, so it is not named: digits stay in the CJK font."""
    pdffonts = poppler("pdffonts")
    fc = shutil.which("fc-list")
    if (
        fc is None
        or "Noto Color Emoji"
        not in subprocess.run([fc, ":", "family"], capture_output=True, text=True).stdout
    ):
        pytest.fail("no Noto Color Emoji: `.ci/run` installs fonts-noto-color-emoji")
    assert "Emoji" not in letters.PDF_FONT_FAMILY

    def fonts_of(markdown: str, name: str) -> str:
        pdf = tmp_path / f"{name}.pdf"
        write_pdf(letters.Letter("lender_complaint", "zh", "t", markdown), pdf)
        return subprocess.run([pdffonts, str(pdf)], capture_output=True, text=True).stdout

    emoji = fonts_of("# 标题\n\n求求你们别再打了🙏😡\n", "emoji")
    assert "Noto-Color-Emoji" in emoji and "CJK" in emoji
    digits = fonts_of("# 标题\n\n2026-01-01 03:35 · 短信 · 1065502010 · 账本 #46090\n", "digits")
    assert "Emoji" not in digits and "CJK" in digits


def _pgm_pixels(path: Path) -> bytes:
    data = path.read_bytes()
    # P5 <w> <h> <max>\n<raw bytes>
    fields = data.split(maxsplit=4)
    assert fields[0] == b"P5"
    return fields[4]


def test_pdf_glyphs_are_not_tofu(tmp_path: Path) -> None:
    pdftoppm = poppler("pdftoppm")
    pages = []
    for i, char in enumerate("催收"):
        pdf = tmp_path / f"{i}.pdf"
        html_to_pdf(
            "<html><body style='font-family: \"Noto Sans CJK SC\"; font-size: 120pt'>"
            f"<p>{char}</p></body></html>",
            pdf,
        )
        subprocess.run(
            [
                pdftoppm,
                "-gray",
                "-r",
                "30",
                "-f",
                "1",
                "-l",
                "1",
                str(pdf),
                str(tmp_path / f"p{i}"),
            ],
            check=True,
        )
        (png,) = tmp_path.glob(f"p{i}*.pgm")
        pages.append(_pgm_pixels(png))
    for pixels in pages:
        assert sum(1 for b in pixels if b < 128) > 50  # something was drawn
    # Missing glyphs all draw the same box; two different characters must differ.
    assert pages[0] != pages[1]


def test_docx(store: EvidenceStore, tmp_path: Path) -> None:
    import docx
    from docx.oxml.ns import qn

    letter = render_letter("regulator_complaint", "zh", context(store))
    path = tmp_path / "letter.docx"
    write_docx(letter, path)
    doc = docx.Document(str(path))
    text = "\n".join(p.text for p in doc.paragraphs)
    assert "金融消费投诉：违规催收" in text and '<script>alert("x")</script>' in text
    with store.session() as s:
        first = s.scalars(select(Message.item_sha256)).first()
    assert first is not None and first in text
    rfonts = doc.styles["Normal"].element.rPr.rFonts
    assert rfonts.get(qn("w:eastAsia")) == "Noto Sans CJK SC"


def test_docx_numbered_lists_each_start_at_one(store: EvidenceStore, tmp_path: Path) -> None:
    """The evidence list after the requests starts again at 1 (Word's "List Number" style
    has one numbering: item 1 of the evidence read as 4, and "same text as item 1" pointed
    at a request)."""
    import docx
    from docx.oxml.ns import qn

    letter = render_letter("lender_complaint", "zh", context(store))
    path = tmp_path / "letter.docx"
    write_docx(letter, path)
    doc = docx.Document(str(path))
    lists: list[list[str]] = []  # the numId of each paragraph, list by list
    previous_numbered = False
    for para in doc.paragraphs:
        num_pr = para._p.pPr.numPr if para._p.pPr is not None else None
        numbered = para.style.name == "List Number"
        if numbered:
            assert num_pr is not None and num_pr.numId is not None
            if not previous_numbered:
                lists.append([])
            lists[-1].append(num_pr.numId.val)
        previous_numbered = numbered
    assert len(lists) >= 2, "requests and evidence are two numbered lists"
    numbering = doc.part.numbering_part.element
    for ids in lists:
        assert len(set(ids)) == 1  # one list, one numbering
        num = numbering.num_having_numId(ids[0])
        (override,) = num.lvlOverride_lst
        start = override.find(qn("w:startOverride"))
        assert start is not None and start.get(qn("w:val")) == "1"
    assert len({ids[0] for ids in lists}) == len(lists)  # each list its own


def test_spam_report_names_what_the_texts_claimed_and_counts_calls(tmp_path: Path) -> None:
    """12321: the sender "claimed" what the texts say (捷信), with the registry's current name
    beside it, not the registry name alone; the list holding calls is not called SMS only."""
    calls = tmp_path / "calls.xml"
    calls.write_text(
        '<?xml version="1.0" encoding="UTF-8"?><calls count="1">'
        '<call number="10690001" duration="0" date="1762959600000" type="3" /></calls>',
        encoding="utf-8",
    )
    with open_store(str(tmp_path / "e.sqlite3")) as s:
        imp = Importer(s)
        imp.import_text(
            "【捷信】您的借款已逾期，今晚再不还款就通知你的家人。",
            sender="10690001",
            received_at=dt.datetime(2025, 11, 12, 23, 0, tzinfo=CN),
        )
        imp.import_file(calls)
        pack = load_builtin("cn")
        (case,) = build_cases(s, pack)
        ctx = letter_context(s, case, pack=pack, zone="Asia/Shanghai", now=NOW)
    assert case.calls == 1 and ctx["claimed_names"] == ["捷信"] and case.name != "捷信"
    zh = render_letter("spam_12321", "zh", ctx).markdown
    assert f"短信自称：捷信（对应登记名称：{case.name}）" in zh
    assert "共发送短信 1 条、来电 1 次" in zh and "## 短信与来电清单" in zh
    en = render_letter("spam_12321", "en", ctx).markdown
    assert f"Claimed sender: 捷信 (registry name: {case.name})" in en
    assert "sent 1 message(s) and made 1 call(s)" in en and "## Messages and calls" in en


def test_cli_letter_formats(store: EvidenceStore, tmp_path: Path) -> None:
    db = store.engine.url.database
    assert db is not None
    store.close()
    key = "zhaolian_cfc"
    r = runner.invoke(app, ["evidence", "letter", key, "--db", db, "--kind", "spam_12321"])
    assert r.exit_code == 0 and r.stdout.startswith("# 垃圾短信举报")
    for suffix in (".md", ".docx", ".pdf"):
        out = tmp_path / f"letter{suffix}"
        r = runner.invoke(app, ["evidence", "letter", key, "--db", db, "-o", str(out)])
        assert r.exit_code == 0, r.stderr
        assert out.stat().st_size > 0
    assert (tmp_path / "letter.pdf").read_bytes().startswith(b"%PDF")
    r = runner.invoke(app, ["evidence", "letter", key, "--db", db, "-o", str(tmp_path / "x.odt")])
    assert r.exit_code == 2 and ".pdf" in r.stderr
    r = runner.invoke(app, ["evidence", "letter", "nobody", "--db", db])
    assert r.exit_code == 2 and "no case" in r.stderr


def test_counts_are_of_messages_not_of_places_in_a_message(tmp_path: Path) -> None:
    """A message that threatens the family council AND the employer holds the third-party
    rule at two places; the letter and the case count it once (the letter said "618 次"
    for 309 messages)."""
    s = open_store(f"sqlite:///{tmp_path / 'e.sqlite3'}", attachments_dir=tmp_path / "att")
    text = (
        "【mo9】您申请的江湖救急借款已经拖欠30天，请确保按函件要求还款，"
        "否则我们将考虑详您户籍地村委会/居委会以及工作单位通报情况，协助调查。"
    )
    imp = Importer(s)
    for day in (14, 15):
        imp.import_text(
            text, sender="10690000888", received_at=dt.datetime(2025, 1, day, 10, tzinfo=CN)
        )
    rule = "cn.third_party.address_book_blast"
    pack = load_builtin("cn")
    case = build_cases(s, pack)[0]
    places = sum(v.rule_id == rule for t in case.timeline for v in t.violations)
    assert places == 4  # two places in each of the two messages
    assert case.rule_counts[rule] == 2
    ctx = letter_context(s, case, pack=pack, zone="Asia/Shanghai", now=NOW)
    assert [v["count"] for v in ctx["violations"] if v["rule_id"] == rule] == [2]
    assert f"（2 条短信；规则 {rule}）" in render_letter("lender_complaint", "zh", ctx).markdown
    s.close()


PHISH = (
    "【工商银行】您的信用卡已严重逾期，将影响征信，请立即点击 http://icbc-vip.cc/pay 处理，"
    "或转账至安全账户。"
)


def test_a_scam_gets_a_police_report_never_a_complaint_against_the_impersonated_bank(
    tmp_path: Path,
) -> None:
    db = str(tmp_path / "scam.sqlite3")
    with open_store(db) as s:
        Importer(s).import_text(
            PHISH, sender="13800001234", received_at=dt.datetime(2025, 4, 1, 23, 30, tzinfo=CN)
        )
        (case,) = build_cases(s, load_builtin("cn"))
    r = runner.invoke(app, ["evidence", "letter", case.key, "--db", db])
    assert r.exit_code == 0, r.output
    md = r.stdout
    assert md.startswith("# 报警材料摘要（疑似诈骗）") and "96110" in md
    assert "自称：工商银行" in md
    assert "2025-04-01 23:30，" in md and " 至 " not in md.split("## 经过")[1].split("\n\n")[1]
    assert "夜间联系次数" not in md  # the hour says nothing about a scam
    r = runner.invoke(app, ["evidence", "letter", case.key, "--db", db, "-k", "lender_complaint"])
    assert r.exit_code == 2 and "police_report" in r.stderr and "--force" in r.stderr
    r = runner.invoke(
        app, ["evidence", "letter", case.key, "--db", db, "-k", "lender_complaint", "--force"]
    )
    assert r.exit_code == 0 and r.stdout.startswith("# 投诉函") and "注意 / note" in r.stderr


def test_a_us_case_gets_us_letters_in_its_own_zone_without_options(tmp_path: Path) -> None:
    db = str(tmp_path / "us.sqlite3")
    ny = dt.timezone(dt.timedelta(hours=-5))
    text = (
        "This is ABC Collections, a debt collector. Call us about your past due account "
        "or we will contact your employer."
    )
    with open_store(db) as s:
        imp = Importer(s, analyzer=None, timezone="America/New_York")
        imp.import_text(
            text, sender="+12025550123", received_at=dt.datetime(2025, 2, 3, 21, 16, tzinfo=ny)
        )
        imp.import_text(
            text + " Final notice.",
            sender="+12025550123",
            received_at=dt.datetime(2025, 2, 4, 10, 0, tzinfo=ny),
        )
        cases = build_cases(s, load_builtin("us"), zone="America/New_York")
    (case,) = [c for c in cases if c.messages == 2]
    r = runner.invoke(app, ["evidence", "letter", case.key, "--db", db])
    assert r.exit_code == 0, r.output
    md = r.stdout
    assert md.startswith("# CFPB complaint narrative") or md.startswith("# Debt validation")
    assert "2025-02-03 21:16" in md and "America/New_York" in md  # local times, zone named
    assert "不便时间" not in md and "Basis: ;" not in md
    r = runner.invoke(
        app, ["evidence", "letter", case.key, "--db", db, "-k", "regulator_complaint"]
    )
    assert r.exit_code == 2 and "us_debt_validation" in r.stderr
    r = runner.invoke(app, ["evidence", "letter", case.key, "--db", db, "--pack", "cn"])
    assert r.exit_code == 2 and "analysed under the us pack" in " ".join(r.stderr.split())
    out = tmp_path / "x.zip"
    r = runner.invoke(
        app, ["evidence", "export", case.key, "--db", db, "--pack", "cn", "-o", str(out)]
    )
    assert r.exit_code == 2 and not out.exists()


def test_findings_speak_the_letters_language_and_long_lists_say_they_are_cut(
    store: EvidenceStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx = context(store)
    zh = render_letter("regulator_complaint", "zh", ctx).markdown
    en = render_letter("regulator_complaint", "en", ctx).markdown
    zh_findings = [
        ln for ln in zh.splitlines() if ln.startswith(("- 夜间联系次数", "- 联系或波及"))
    ]
    en_findings = [
        ln for ln in en.splitlines() if ln.startswith(("- Night-time contacts", "- Contacts with"))
    ]
    assert len(zh_findings) == 2 and len(en_findings) == 2
    assert not any(w in ln for ln in zh_findings for w in ("message", "sent to", " / "))
    cjk = [ch for ln in en_findings for ch in ln.replace("妈妈", "") if "\u4e00" <= ch <= "\u9fff"]
    assert cjk == []
    assert "verify-bundle" in zh and "verify-bundle" in en
    assert "Asia/Shanghai" in zh
    assert "此处列出" not in zh  # all 3 items listed
    monkeypatch.setattr(letters, "MAX_ITEMS", 2)
    cut = render_letter("regulator_complaint", "zh", context(store)).markdown
    assert "共 3 项，此处列出 2 项（有违规的在先），完整清单见证据包" in cut


def test_calls_read_in_the_letters_language_and_an_empty_list_asks(tmp_path: Path) -> None:
    db = str(tmp_path / "calls.sqlite3")
    plain = "【招联金融】您的借款已逾期3天，请今日还款。"  # collection, breaks no rule
    with open_store(db) as s:
        Importer(s).import_text(
            plain, sender="10690000", received_at=dt.datetime(2025, 1, 14, 10, tzinfo=CN)
        )
        calls = tmp_path / "calls.xml"
        when = int(dt.datetime(2025, 1, 14, 11, tzinfo=CN).timestamp() * 1000)
        calls.write_text(
            f'<calls>\n<call number="10690000" duration="0" date="{when}" type="3" />\n</calls>\n'
        )
        Importer(s).import_file(calls)
        pack = load_builtin("cn")
        (case,) = [c for c in build_cases(s, pack) if c.messages]
        ctx = letter_context(s, case, pack=pack, zone="Asia/Shanghai", now=NOW)
    zh = render_letter("lender_complaint", "zh", ctx).markdown
    en = render_letter("lender_complaint", "en", ctx).markdown
    assert "「未接来电，0 秒」" in zh and '"missed call, 0 s"' in en
    assert "missed" not in zh
    assert ctx["violations"] == [] and ctx["findings"] == []
    assert "本工具未从短信中识别出违规" in zh and "found no rule broken" in en


def test_a_template_sent_many_times_is_quoted_once(tmp_path: Path) -> None:
    db = str(tmp_path / "same.sqlite3")
    with open_store(db) as s:
        for day in (14, 15, 16):
            Importer(s).import_text(
                THREAT, sender="10690000", received_at=dt.datetime(2025, 1, day, 23, tzinfo=CN)
            )
        pack = load_builtin("cn")
        (case,) = build_cases(s, pack)
        ctx = letter_context(s, case, pack=pack, zone="Asia/Shanghai", now=NOW)
        with s.session() as q:
            hashes = list(q.scalars(select(Message.item_sha256)))
    zh = render_letter("police_report", "zh", ctx).markdown
    en = render_letter("police_report", "en", ctx).markdown
    assert zh.count(THREAT) == 1 and zh.count("（内容同第 1 项）") == 2
    assert en.count("(same text as item 1)") == 2
    assert all(h in zh for h in hashes)  # every copy keeps its own hash


def test_plain_text_for_web_forms_has_no_markdown_escapes(
    store: EvidenceStore, tmp_path: Path
) -> None:
    letter = render_letter("cfpb_narrative", "en", context(store))
    assert "\\*\\*bold\\*\\*" in letter.markdown  # escaped in Markdown
    text = letters.to_text(letter)
    assert "**bold**" in text and "\\*" not in text  # the message's own text, as sent
    assert "`rm -rf`" in text and "SHA-256 `" not in text  # no code marks of our own
    assert text.startswith("CFPB complaint narrative")
    # the paragraph after the list of violations stands apart from its last item
    assert "\n\nWhat I did:" in text and "\n- " in text.split("What I did:")[0]
    db = store.engine.url.database
    assert db is not None
    store.close()
    out = tmp_path / "narrative.txt"
    r = runner.invoke(
        app,
        ["evidence", "letter", "zhaolian_cfc", "--db", db, "-k", "police_report", "-o", str(out)],
    )
    assert r.exit_code == 0, r.output
    pasted = out.read_text(encoding="utf-8")
    assert pasted.startswith("报警材料摘要") and "\\*" not in pasted and "SHA-256 `" not in pasted


def test_a_few_scam_messages_leave_the_case_the_lenders() -> None:
    from collectguard.evidence.history import Case, TimelineItem

    def msg(i: int, authenticity: str) -> TimelineItem:
        return TimelineItem(
            at=None,
            kind="message",
            item_id=i,
            party="1069",
            recipient="self",
            summary="",
            authenticity=authenticity,
        )

    case = Case(key="k", name="k", timeline=[msg(1, "genuine"), msg(2, "genuine"), msg(3, "scam")])
    assert not letters.case_is_scam(case)
    assert letters.letter_fits("lender_complaint", "cn", scam=letters.case_is_scam(case)) is None
    case.timeline.append(msg(4, "scam"))
    assert not letters.case_is_scam(case)  # half is not most
    case.timeline.append(msg(5, "scam"))
    assert letters.case_is_scam(case)
    assert "police_report" in (letters.letter_fits("lender_complaint", "cn", scam=True) or "")


def test_citations_not_yet_in_force_when_the_message_came_are_left_out(
    store: EvidenceStore,
) -> None:
    """The 2025-01-14 night message predates GB/T 45251-2025 (2025-02-28) and the CBA
    guideline (2026-01-30): the letter cites the NIFA guideline of 2024-05-15 alone, plainly,
    where it used to cite all three with a note that the rule was not yet in force."""
    ctx = context(store)
    (hours,) = [v for v in ctx["violations"] if v["rule_id"] == "cn.hours"]
    assert hours["count"] == 1 and hours["dated_citations"] and hours["basis_note"] is None
    nifa = "中国互联网金融协会《互联网金融贷后催收业务指引》（2024-05-15）"
    assert [c["text"] for c in hours["basis"]] == [nifa]
    assert hours["left_out"] == [
        "GB/T 45251-2025《互联网金融 个人网络消费信贷 贷后催收风控指引》",
        "中国银行业协会《金融机构个人消费类贷款催收工作指引（试行）》（2026-01-30）",
    ]
    for lang in ("zh", "en"):
        md = render_letter("regulator_complaint", lang, ctx).markdown
        (line,) = [x for x in md.splitlines() if "rule cn.hours" in x or "规则 cn.hours" in x]
        assert line.endswith(nifa), line  # cited plainly: it was in force
        assert "GB/T 45251" not in line and "2026-01-30" not in line
        assert "仅供参考" not in line and "for reference only" not in line
    third = {v["rule_id"]: v for v in ctx["violations"] if v["rule_id"].startswith("cn.third")}
    assert all(c["start"] is None for v in third.values() for c in v["basis"])  # plainly
    blast = third["cn.third_party.address_book_blast"]  # PIPL and 民法典 (2021) stay
    # each instrument on its own: both came after the message (2025-01-14)
    assert blast["left_out"] == [
        "GB/T 45251-2025 第三人规则",
        "中国银行业协会催收工作指引（2026）第三人规则",
    ]
    assert blast["basis"][0]["text"] == "个人信息保护法 第6条、第10条、第13条、第25条、第66条"


def test_instruments_cited_together_are_dated_one_by_one(tmp_path: Path) -> None:
    """A threat to tell the family on 2025-11-12 came after GB/T 45251-2025 (2025-02-28) and
    before the CBA guideline (2026-01-30): the letter cites the standard and leaves the
    guideline out (the pack used to cite both as one text, dated by the earlier)."""
    ctx = one_message_context(
        tmp_path,
        "【闪电贷】您的借款已逾期，再不还款就通知你的家人和单位。",
        dt.datetime(2025, 11, 12, 15, 0, tzinfo=CN),
    )
    by_rule = {v["rule_id"]: v for v in ctx["violations"]}
    blast = by_rule["cn.third_party.address_book_blast"]
    assert "GB/T 45251-2025 第三人规则" in [c["text"] for c in blast["basis"]]
    assert blast["left_out"] == ["中国银行业协会催收工作指引（2026）第三人规则"]
    zh = render_letter("lender_complaint", "zh", ctx).markdown
    (line,) = [x for x in zh.splitlines() if "规则 cn.third_party.address_book_blast" in x]
    assert "GB/T 45251-2025 第三人规则" in line and "（2026）" not in line


def test_a_case_older_than_every_citation_lists_them_for_reference_only(tmp_path: Path) -> None:
    ctx = one_message_context(
        tmp_path,
        "【招联金融】您的借款已逾期5天，请立即还款。",
        dt.datetime(2024, 3, 1, 23, 30, tzinfo=CN),
    )
    (hours,) = [v for v in ctx["violations"] if v["rule_id"] == "cn.hours"]
    assert hours["basis_note"] == "none_in_force" and len(hours["basis"]) == 3
    zh = render_letter("lender_complaint", "zh", ctx).markdown
    en = render_letter("lender_complaint", "en", ctx).markdown
    assert "贷后催收风控指引》（2025-02-28 起施行）" in zh
    assert "（2024-05-15 起施行）" in zh and "以上依据均未施行，仅供参考" in zh
    assert "风控指引》 (in force from 2025-02-28)" in en
    assert "none of these was in force when the messages were sent; for reference only" in en


def test_a_pack_without_dated_citations_still_notes_the_rules_own_date(
    store: EvidenceStore, tmp_path: Path
) -> None:
    """A user's pack that cites plain text: the rule's in_force is all there is to go on."""
    overlay = tmp_path / "cn-plain.yaml"
    overlay.write_text(
        """
pack: cn-plain
version: "1"
extends: cn
jurisdiction: CN
languages: [zh]
timezone: Asia/Shanghai
title: {zh: 无日期, en: undated}
rules:
  - id: cn.hours
    code: night_time
    title: {zh: 夜间催收, en: Night-time collection}
    binding: self_regulatory
    severity: standard
    check: time_window
    citation: ["lender policy §1"]
    in_force: 2025-02-28
    confidence: high
    explain: {zh: 本机构政策, en: house policy}
    detect: {builtin: night_time, params: {forbidden_start: "22:00", forbidden_end: "08:00"}}
""",
        encoding="utf-8",
    )
    pack = load_pack_file(overlay)
    case = build_cases(store, pack)[0]
    ctx = letter_context(store, case, pack=pack, zone="Asia/Shanghai", now=NOW)
    (hours,) = [v for v in ctx["violations"] if v["rule_id"] == "cn.hours"]
    assert not hours["dated_citations"] and hours["before_in_force"] == 1
    zh = render_letter("regulator_complaint", "zh", ctx).markdown
    en = render_letter("regulator_complaint", "en", ctx).markdown
    assert "依据：lender policy §1（注意：其中 1 条早于该规则施行日 2025-02-28，仅供参考）" in zh
    assert "1 of them predate the rule's entry into force on 2025-02-28" in en


THREAT_ONLY = "【招联金融】您的借款已逾期，今天再不还款就上门，后果自负。"


def _threat_case(tmp_path: Path, *when: dt.datetime | None) -> dict[str, object]:
    with open_store(str(tmp_path / "threats.sqlite3")) as s:
        imp = Importer(s)
        for n, at in enumerate(when):
            imp.import_text(f"{THREAT_ONLY}（{n}）", sender="10690000", received_at=at)
        pack = load_builtin("cn")
        (case,) = build_cases(s, pack)
        return letter_context(s, case, pack=pack, zone="Asia/Shanghai", now=NOW)


def _rule_line(md: str, rule_id: str) -> str:
    """The letter's line for one rule broken (zh or en)."""
    (line,) = [
        x
        for x in md.splitlines()
        if x.startswith("- ") and (f"规则 {rule_id}）" in x or f"rule {rule_id})" in x)
    ]
    return line


OLD_ART = "治安管理处罚法（2012）第42条"
NEW_ART = "治安管理处罚法（2025修订）第50条"
CBA = "中国银行业协会《金融机构个人消费类贷款催收工作指引（试行）》（2026）红线"


def test_a_2024_case_cites_the_2012_public_security_law_not_the_2025_revision(
    tmp_path: Path,
) -> None:
    ctx = _threat_case(
        tmp_path,
        dt.datetime(2024, 3, 5, 10, tzinfo=CN),
        dt.datetime(2024, 9, 1, 10, tzinfo=CN),
    )
    (threat,) = [v for v in ctx["violations"] if v["rule_id"] == "cn.content.threat_violence"]
    assert threat["left_out"] == [NEW_ART, CBA]
    for kind, lang in (("lender_complaint", "zh"), ("police_report", "en")):
        letter = render_letter(kind, lang, ctx)
        line = _rule_line(letter.markdown, "cn.content.threat_violence")
        assert OLD_ART in line and NEW_ART not in line and "2026" not in line, line
        assert "（2019-04-09）第1–2条" in line  # the soft-violence opinion, in force since
        text = letters.to_text(letter)  # the .txt and (via the same blocks) DOCX/PDF
        assert OLD_ART in text and NEW_ART not in text
    zh = render_letter("lender_complaint", "zh", ctx).markdown
    assert f"{OLD_ART}（" not in zh and "适用于其中" not in zh  # plainly: in force on both days


def test_a_case_across_2025_and_2026_says_which_citations_apply_to_how_many(
    tmp_path: Path,
) -> None:
    ctx = _threat_case(
        tmp_path,
        dt.datetime(2025, 6, 1, 10, tzinfo=CN),
        dt.datetime(2025, 12, 31, 20, tzinfo=CN),
        # 2025-12-31 16:30 UTC: already 2026-01-01 where the debtor is, under the new law
        dt.datetime(2025, 12, 31, 16, 30, tzinfo=dt.UTC),
        dt.datetime(2026, 2, 5, 10, tzinfo=CN),
    )
    zh = _rule_line(render_letter("lender_complaint", "zh", ctx).markdown,
                    "cn.content.threat_violence")  # fmt: skip
    assert f"{OLD_ART}（施行至 2025-12-31，适用于其中 2 条）" in zh
    assert f"{NEW_ART}（2026-01-01 起施行，适用于其中 2 条）" in zh
    assert f"{CBA}（2026-01-30 起施行，适用于其中 1 条）" in zh
    assert zh.index(OLD_ART) < zh.index(NEW_ART)  # the older text first
    assert "2019-04-09 起施行" not in zh  # in force on every day: cited plainly
    en = _rule_line(render_letter("lender_complaint", "en", ctx).markdown,
                    "cn.content.threat_violence")  # fmt: skip
    assert f"{OLD_ART} (in force until 2025-12-31: applies to 2 of them)" in en
    assert f"{NEW_ART} (in force from 2026-01-01: applies to 2 of them)" in en
    assert f"{CBA} (in force from 2026-01-30: applies to 1 of them)" in en


def test_messages_without_a_date_keep_the_citations_that_may_apply_and_say_so(
    tmp_path: Path,
) -> None:
    ctx = _threat_case(tmp_path, dt.datetime(2024, 3, 5, 10, tzinfo=CN), None)
    (threat,) = [v for v in ctx["violations"] if v["rule_id"] == "cn.content.threat_violence"]
    assert threat["undated"] == 1 and threat["basis_note"] == "undated_some"
    assert not threat["left_out"]  # the undated message may be from 2026
    zh = _rule_line(render_letter("lender_complaint", "zh", ctx).markdown,
                    "cn.content.threat_violence")  # fmt: skip
    assert f"{OLD_ART}；" in zh  # in force on the one dated message
    assert f"{NEW_ART}（2026-01-01 起施行，仅可能适用于其中时间不明的 1 条）" in zh
    assert "（注意：其中 1 条时间不明，无法按日期核对以上依据是否适用于它们）" in zh
    en = _rule_line(render_letter("lender_complaint", "en", ctx).markdown,
                    "cn.content.threat_violence")  # fmt: skip
    assert f"{NEW_ART} (in force from 2026-01-01: can apply only to the 1 without a date)" in en
    assert "(Note: 1 of them has no date, so whether the citations above" in en


def test_a_case_of_undated_messages_shows_each_citations_dates(tmp_path: Path) -> None:
    ctx = _threat_case(tmp_path, None, None)
    zh = _rule_line(render_letter("lender_complaint", "zh", ctx).markdown,
                    "cn.content.threat_violence")  # fmt: skip
    assert f"{OLD_ART}（2006-03-01 至 2025-12-31 施行）" in zh
    assert f"{NEW_ART}（2026-01-01 起施行）" in zh and f"{CBA}（2026-01-30 起施行）" in zh
    assert zh.startswith("- 威胁恐吓（2 条短信；") and "刑法 第293条（寻衅滋事）" in zh
    assert "（注意：这些短信时间不明，请按各依据的施行日期自行核对）" in zh
    en = _rule_line(render_letter("lender_complaint", "en", ctx).markdown,
                    "cn.content.threat_violence")  # fmt: skip
    assert f"{OLD_ART} (in force 2006-03-01 to 2025-12-31)" in en
    assert "(Note: the messages have no date: check each citation's dates.)" in en


def test_a_us_case_before_regulation_f_cites_the_fdcpa_alone(tmp_path: Path) -> None:
    ny = dt.timezone(dt.timedelta(hours=-5))
    with open_store(str(tmp_path / "us-old.sqlite3")) as s:
        imp = Importer(s, analyzer=None, timezone="America/New_York")
        imp.import_text(
            "This is ABC Collections, a debt collector. We will contact your employer.",
            sender="+12025550123",
            received_at=dt.datetime(2021, 6, 1, 10, tzinfo=ny),
        )
        pack = load_builtin("us")
        (case,) = build_cases(s, pack, zone="America/New_York")
        ctx = letter_context(s, case, pack=pack, zone="America/New_York", now=NOW)
    (v,) = [v for v in ctx["violations"] if v["rule_id"] == "us.fdcpa.third_party_contact"]
    assert [c["text"] for c in v["basis"]] == ["FDCPA §805(b) (15 U.S.C. 1692c(b))"]
    assert v["left_out"] == ["12 CFR 1006.6(d)", "12 CFR 1006.22(f)(4)"]
    en = render_letter("cfpb_narrative", "en", ctx).markdown
    assert "1692c(b))" in en and "1006.6(d)" not in en


def test_complaints_go_to_the_regulator_of_the_lenders_licence() -> None:
    assert [r["id"] for r in letters.regulator_channels("consumer_finance_company")] == ["cn.12378"]
    assert [r["id"] for r in letters.regulator_channels("microloan")] == ["cn.local_fin"]
    assert [r["id"] for r in letters.regulator_channels(None)] == ["cn.12378", "cn.local_fin"]
    nifa = letters.regulator_channels("platform_guarantee")[0]
    assert nifa["id"] == "cn.nifa" and "jubao.nifa.org.cn" in nifa["zh"]
    assert nifa["source"] and nifa["confidence"] in ("high", "medium")  # facts carry sources


def test_a_consumer_finance_company_is_sent_to_12378_only(store: EvidenceStore) -> None:
    ctx = context(store)  # 招联金融: a consumer-finance company in the registry
    zh = render_letter("regulator_complaint", "zh", ctx).markdown
    assert "12378" in zh and "地方金融管理局" not in zh and "按机构的牌照类型选择" not in zh


def test_a_scam_message_in_a_lenders_case_is_marked_as_possibly_not_theirs(
    tmp_path: Path,
) -> None:
    with open_store(str(tmp_path / "mixed.sqlite3")) as s:
        for day in (14, 15):
            Importer(s).import_text(
                f"【工商银行】您的信用卡已逾期{day}天，请按时还款。",
                sender="95588",
                received_at=dt.datetime(2025, 3, day, 10, tzinfo=CN),
            )
        Importer(s).import_text(
            PHISH, sender="13800001234", received_at=dt.datetime(2025, 3, 16, 10, tzinfo=CN)
        )
        pack = load_builtin("cn")
        (case,) = [c for c in build_cases(s, pack) if c.key == "icbc"]
        assert not letters.case_is_scam(case) and case.messages == 3
        ctx = letter_context(s, case, pack=pack, zone="Asia/Shanghai", now=NOW)
    zh = render_letter("lender_complaint", "zh", ctx).markdown
    assert zh.count("〔判定为疑似冒用，可能并非该机构所发〕") == 1
    en = render_letter("lender_complaint", "en", ctx).markdown
    assert en.count("[judged a possible impersonation") == 1


def test_texts_alike_only_in_their_first_300_characters_are_both_quoted(tmp_path: Path) -> None:
    head = "【招联金融】您的借款已逾期，" + "请尽快还款。" * 60  # over 300 characters
    with open_store(str(tmp_path / "long.sqlite3")) as s:
        for day, tail in ((14, "甲"), (15, "乙")):
            Importer(s).import_text(
                head + tail, sender="10690000", received_at=dt.datetime(2025, 3, day, 10, tzinfo=CN)
            )
        pack = load_builtin("cn")
        (case,) = build_cases(s, pack)
        ctx = letter_context(s, case, pack=pack, zone="Asia/Shanghai", now=NOW)
    assert [it["same_as"] for it in ctx["items"]] == [None, None]  # they differ at the end


def test_a_message_read_in_its_own_zone_is_shown_in_it(tmp_path: Path) -> None:
    lines = [
        {"text": THREAT, "sender": "10690000", "received_at": "2025-03-05 10:00"},
        {"text": THREAT + "最后通知", "sender": "10690000", "received_at": "2025-03-05 23:30",
         "timezone": "America/New_York"},
    ]  # fmt: skip
    f = tmp_path / "zones.jsonl"
    f.write_text("\n".join(json.dumps(x, ensure_ascii=False) for x in lines), encoding="utf-8")
    with open_store(str(tmp_path / "zones.sqlite3")) as s:
        Importer(s).import_file(f)
        pack = load_builtin("cn")
        (case,) = build_cases(s, pack)
        ctx = letter_context(s, case, pack=pack, zone="Asia/Shanghai", now=NOW)
    shown = [it["at"] for it in ctx["items"]]
    assert shown == ["2025-03-05 10:00", "2025-03-05 23:30 (America/New_York)"]
    zh = render_letter("lender_complaint", "zh", ctx).markdown
    assert "时间为 Asia/Shanghai 时间（另注时区的除外）" in zh


def test_a_right_to_left_override_in_a_message_is_shown_not_obeyed(tmp_path: Path) -> None:
    """U+202E in a collector's text reversed the rest of the evidence line (its hash and
    ledger number) when the letter was shown; it is written out visibly instead."""
    s = open_store(f"sqlite:///{tmp_path / 'e.sqlite3'}", attachments_dir=tmp_path / "att")
    rlo = "【招联金融】您已逾期，再不还款就上门。\u202e(http://x.example)gpj.exe"
    Importer(s).import_text(
        rlo, sender="10690000", received_at=dt.datetime(2025, 1, 14, 23, 5, tzinfo=CN)
    )
    pack = load_builtin("cn")
    ctx = letter_context(s, build_cases(s, pack)[0], pack=pack, zone="Asia/Shanghai", now=NOW)
    letter = render_letter("lender_complaint", "zh", ctx)
    s.close()
    assert "\u202e" not in letter.markdown
    assert "上门。\\[U+202E\\](http://x.example)gpj.exe" in letter.markdown  # no link either
    assert "上门。[U+202E](http://x.example)gpj.exe" in letters.to_text(letter)
    pdf = tmp_path / "letter.pdf"
    write_pdf(letter, pdf)
    text = subprocess.run(
        [poppler("pdftotext"), str(pdf), "-"], capture_output=True, text=True
    ).stdout
    assert "[U+202E]" in " ".join(text.split())


def _us_store(db: str) -> None:
    ny = dt.timezone(dt.timedelta(hours=-5))
    real = "This is a debt collector. Pay your past due account today or we will sue you."
    scam = (
        "This is Portfolio Recovery Associates. Your overdue debt of $980 must be paid today "
        "with gift cards or police will arrest you. This is a debt collector."
    )
    with open_store(db) as s:
        imp = Importer(s, analyzer=None, timezone="America/New_York")
        for day in (3, 4, 5):
            at = dt.datetime(2025, 2, day, 7, 15, tzinfo=ny)
            imp.import_text(f"{real} #{day}", sender="+12125550101", received_at=at)
            imp.import_text(f"{scam} #{day}", sender="+13105550199", received_at=at)
        Importer(s, analyzer=None, timezone="America/New_York", recipient="Mom").import_text(
            "This is a debt collector. Tell your son to pay his past due debt today.",
            sender="+12125550101",
            received_at=dt.datetime(2025, 2, 6, 12, 0, tzinfo=ny),
        )


def test_a_us_scam_gets_a_fraud_report_never_a_letter_to_the_scammer(tmp_path: Path) -> None:
    db = str(tmp_path / "us.sqlite3")
    _us_store(db)
    key = "sender:+13105550199"
    r = runner.invoke(app, ["evidence", "letter", key, "--db", db])
    assert r.exit_code == 0, r.output
    assert r.stdout.startswith("# Fraud report (ReportFraud.ftc.gov)")
    assert "Do not send the sender a validation or cease letter" in r.stdout
    assert "[FILL IN: amount, payment method" in r.stdout and "I received 3 text" in r.stdout
    for kind in ("us_debt_validation", "us_cease_communication", "cfpb_narrative"):
        r = runner.invoke(app, ["evidence", "letter", key, "--db", db, "-k", kind])
        assert r.exit_code == 2, kind  # was: a validation letter addressed to the scammer
        assert "ReportFraud.ftc.gov" in " ".join(r.stderr.split())
    r = runner.invoke(
        app, ["evidence", "letter", key, "--db", db, "-k", "us_fraud_report", "--lang", "zh"]
    )
    assert r.exit_code == 0 and "诈骗举报" in r.stdout and "不要向发信人寄送" in r.stdout


def test_a_us_cfpb_narrative_counts_texts_to_the_debtor_and_to_others_apart(
    tmp_path: Path,
) -> None:
    db = str(tmp_path / "us.sqlite3")
    _us_store(db)
    r = runner.invoke(
        app, ["evidence", "letter", "sender:+12125550101", "--db", db, "-k", "cfpb_narrative"]
    )
    assert r.exit_code == 0, r.output
    md = " ".join(r.stdout.split())
    # was "contacted me 4 time(s)": the text to Mom counted as one to the debtor
    assert "contacted me 3 time(s) by text message and 0 time(s) by phone" in md
    assert "and texted Mom 1 time(s)" in md
    # the case is named after a number: it is not presented as the company's name
    assert "Company: [FILL IN: company name] (texts from +12125550101)" in md
    r = runner.invoke(
        app, ["evidence", "letter", "sender:+12125550101", "--db", db, "-k", "us_debt_validation"]
    )
    assert "To: [FILL IN: company name]" in r.stdout


def test_case_show_and_cases_default_to_the_cases_own_zone(tmp_path: Path) -> None:
    db = str(tmp_path / "us.sqlite3")
    _us_store(db)
    r = runner.invoke(app, ["evidence", "case", "show", "sender:+12125550101", "--db", db])
    assert r.exit_code == 0, r.output
    out = " ".join(r.stdout.split())
    assert "2025-02-03 07:15" in out  # New York time (was 20:15, Shanghai)
    assert "21:00–08:00" in out and "22:00–08:00" not in out  # the us pack's night band
    r = runner.invoke(app, ["evidence", "cases", "--db", db], env={"COLUMNS": "250"})
    assert r.exit_code == 0 and "2025-02-03 07:15" in r.stdout, r.stdout


def test_a_letter_for_a_case_without_violations_says_so(tmp_path: Path) -> None:
    """A police report for a lawful bank notice is written, with a note on stderr that no
    rule broken was found (and none for a case that has violations)."""
    db = tmp_path / "e.sqlite3"
    with open_store(str(db)) as s:
        Importer(s).import_text(
            "【招联金融】您的借款已逾期3天，请及时还款。",
            sender="10690000",
            received_at=dt.datetime(2025, 3, 4, 10, 0, tzinfo=CN),
        )
        Importer(s).import_text(
            "【安逸花】你已逾期，再不还款就通知你的家人和单位。",
            sender="10690555",
            received_at=dt.datetime(2025, 3, 4, 11, 0, tzinfo=CN),
        )
        cases = {c.key: c for c in build_cases(s, load_builtin("cn"))}
    clean = [k for k, c in cases.items() if not c.rule_counts and not c.findings]
    broken = [k for k, c in cases.items() if c.rule_counts]
    assert clean and broken
    r = runner.invoke(
        app, ["evidence", "letter", clean[0], "--db", str(db), "--kind", "lender_complaint"]
    )
    assert r.exit_code == 0 and "no rule broken was found" in r.stderr and "未在案件" in r.stderr
    r = runner.invoke(
        app, ["evidence", "letter", broken[0], "--db", str(db), "--kind", "lender_complaint"]
    )
    assert r.exit_code == 0 and "no rule broken" not in r.stderr


def test_a_slow_pdf_says_which_library_makes_it_fast(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without libharfbuzz-subset WeasyPrint subsets the CJK font in Python (21 s for a
    one-message letter instead of 3 s): the CLI names the package before rendering."""
    import importlib

    ffi = importlib.import_module("weasyprint.text.ffi")
    if ffi.harfbuzz_subset is None:  # this machine is the slow case itself
        assert letters.slow_pdf_hint() == letters.SLOW_PDF_HINT
    else:
        assert letters.slow_pdf_hint() is None
    monkeypatch.setattr(ffi, "harfbuzz_subset", None)
    assert letters.slow_pdf_hint() == letters.SLOW_PDF_HINT
    assert "libharfbuzz-subset0" in letters.SLOW_PDF_HINT
    assert letters.SLOW_PDF_HINT.index("提示") < letters.SLOW_PDF_HINT.index("note")
