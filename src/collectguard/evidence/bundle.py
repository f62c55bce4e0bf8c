"""Evidence bundles: one zip per case that a third party can check without the database.

Owns the bundle layout and its verification:

    manifest.json     format, tool and rule-pack versions, case, time zone, chain head,
                      SHA-256 and size of every other file
    items.jsonl       each item's evidence content exactly as hashed (see items.message_content)
    ledger.jsonl      the whole ``evidence`` ledger stream (entries with payloads)
    messages.csv      the case's messages and calls for people (UTF-8 with BOM for Excel)
    report.pdf        summary, contacts per day (every day of the span, per week / month /
                      year for a long one), hour-of-day heatmap (22:00–08:00 shaded),
                      per-rule counts and the timeline
    letters/*.md|pdf  the letters asked for
    attachments/<sha256>

`verify_bundle` re-hashes every file, re-verifies the chain against the recorded head, and
checks every item's content against the ledger entry that vouches for it. It checks
contents, not zip layout: a bundle unzipped and zipped again (member order, compression,
directory entries, macOS' ``__MACOSX/`` and ``.DS_Store`` extras, which are named as
ignored, or the whole folder zipped) still verifies; any other unlisted file is inserted.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import html
import io
import json
import math
import tempfile
import zipfile
import zlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from collectguard._version import __version__
from collectguard.evidence.errors import EvidenceError
from collectguard.evidence.history import Case, TimelineItem, night_window
from collectguard.evidence.items import (
    CALL_CONTENT,
    MESSAGE_CONTENT,
    call_content,
    item_sha256,
    message_content,
)
from collectguard.evidence.letters import (
    PDF_FONT_FAMILY,
    html_to_pdf,
    letter_context,
    render_letter,
    write_pdf,
)
from collectguard.evidence.models import Attachment, CallRecord, Message
from collectguard.evidence.sources import MAX_FIELD_CHARS
from collectguard.evidence.store import EvidenceStore
from collectguard.ledger import LedgerEntry, sha256_stream, verify_chain
from collectguard.rules import RulePack

BUNDLE_FORMAT = "collectguard-evidence-bundle/1"


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass
class BundleReport:
    ok: bool = True
    problems: list[str] = field(default_factory=list)
    files: int = 0
    items: int = 0
    entries: int = 0
    chain_head: str = ""
    manifest_sha256: str = ""
    after_head: int = 0
    """Entries after the head given with ``--head`` (the store grew before the export)."""
    ignored: list[str] = field(default_factory=list)
    """Members an archiver adds when the bundle is zipped again (``__MACOSX/…``,
    ``.DS_Store``): not in the manifest, never read, named in the report."""
    folder: str = ""
    """The one folder every file was found in (the bundle's folder zipped again whole)."""

    def fail(self, problem: str) -> None:
        self.ok = False
        self.problems.append(problem)

    def describe(self) -> str:
        head = (
            f"文件 {self.files} 个、条目 {self.items} 项、账本 {self.entries} 条 / {self.files} "
            f"files, {self.items} items, {self.entries} ledger entries; chain head "
            f"{self.chain_head[:16]}…, manifest sha256 {self.manifest_sha256[:16]}…"
        )
        notes = []
        if self.folder:
            notes.append(
                f"  所有文件都在文件夹 {self.folder} 中（重新压缩时加上），已按其中的文件校验 / "
                f"every file is inside the folder {self.folder} (added when zipped again); "
                "the files inside it were checked"
            )
        notes += [
            f"  {name}: 压缩软件附加的文件，不在清单中，已忽略 / added by the archiving tool, "
            "not in the manifest (ignored)"
            for name in self.ignored
        ]
        if self.ok:
            since = (
                f"; 记录的链头之后新增 {self.after_head} 条 / {self.after_head} entries after the "
                "recorded head"
                if self.after_head
                else ""
            )
            return "\n".join([f"证据包完整 / bundle intact: {head}{since}", *notes])
        return "\n".join(
            [f"证据包被改动 / bundle tampered: {head}", *(f"  {p}" for p in self.problems), *notes]
        )


# ---------------------------------------------------------------------------- charts (SVG)
SMS_FILL = "#3b6ea5"
CALL_FILL = "#e39b3b"

PER_DAY_MAX_DAYS = 92
"""A case spanning more days than this is drawn per week, beyond `PER_DAY_MAX_WEEKS` weeks
per month and beyond `PER_DAY_MAX_MONTHS` months (a wrong year in one date) per year: a bar
per day of a three-year case would be a thousand hairlines."""
PER_DAY_MAX_WEEKS = 105
PER_DAY_MAX_MONTHS = 120


@dataclass(frozen=True)
class _Slot:
    start: dt.date
    label: str
    sms: int = 0
    call: int = 0


def _month_start(d: dt.date, months: int = 0) -> dt.date:
    n = d.year * 12 + d.month - 1 + months
    return dt.date(n // 12, n % 12 + 1, 1)


def _per_day_slots(days: dict[dt.date, dict[str, int]]) -> tuple[list[_Slot], str]:
    """One slot per day from the first to the last (empty days too), or per week / month /
    year for a long span; and the unit ("day", "week", "month", "year")."""
    first, last = min(days), max(days)
    span = (last - first).days + 1
    monday = first - dt.timedelta(first.weekday())
    weeks = (last - monday).days // 7 + 1
    if span <= PER_DAY_MAX_DAYS:
        unit, starts = "day", [first + dt.timedelta(i) for i in range(span)]
    elif weeks <= PER_DAY_MAX_WEEKS:
        unit, starts = "week", [monday + dt.timedelta(7 * i) for i in range(weeks)]
    elif (months := (last.year - first.year) * 12 + last.month - first.month + 1) <= (
        PER_DAY_MAX_MONTHS
    ):
        unit, starts = "month", [_month_start(first, i) for i in range(months)]
    else:
        unit = "year"
        starts = [dt.date(y, 1, 1) for y in range(first.year, last.year + 1)]
    sms: Counter[dt.date] = Counter()
    call: Counter[dt.date] = Counter()
    for d, v in days.items():
        if unit == "week":
            d = d - dt.timedelta(d.weekday())
        elif unit == "month":
            d = d.replace(day=1)
        elif unit == "year":
            d = d.replace(month=1, day=1)
        sms[d] += v.get("sms", 0)
        call[d] += v.get("call", 0)
    fmt = {"day": "%m-%d", "week": "%Y-%m-%d", "month": "%Y-%m", "year": "%Y"}[unit]
    return [_Slot(s, s.strftime(fmt), sms[s], call[s]) for s in starts], unit


_UNIT_TEXT = {
    "day": ("每格一天", "one bar per day"),
    "week": ("每格一周（周一起）合计", "one bar per week (from Monday)"),
    "month": ("每格一月合计", "one bar per month"),
    "year": ("每格一年合计", "one bar per year"),
}


def _svg_per_day(per_day: dict[str, dict[str, int]]) -> str:
    """Contacts per day as stacked bars (SMS, calls) on a continuous date axis: a day
    without contacts is an empty slot. A span longer than `PER_DAY_MAX_DAYS` days is
    totalled per week, month or year (see `PER_DAY_MAX_DAYS`) and the caption says so. Every
    bar pair is a ``<g class="slot">`` whose ``<title>`` names its first day; the legend's
    swatches are ``<rect>``s filled like the bars. No fonts, scripts or links."""
    days: dict[dt.date, dict[str, int]] = {}
    for key, value in per_day.items():
        try:
            days[dt.date.fromisoformat(key)] = value
        except (TypeError, ValueError):
            continue
    if not days:
        return ""
    slots, unit = _per_day_slots(days)
    first, last = min(days), max(days)
    span = (last - first).days + 1
    w, left, right, base, plot_h = 640, 30, 20, 196, 150
    top = max(s.sms + s.call for s in slots) or 1
    bw = (w - left - right) / len(slots)
    e = html.escape
    zh, en = _UNIT_TEXT[unit]
    if unit != "day":
        zh += f"（超过 {PER_DAY_MAX_DAYS} 天不逐日显示）"
        en += f" (more than {PER_DAY_MAX_DAYS} days are not shown day by day)"
    dates = f"{first.isoformat()} – {last.isoformat()}"
    captions = (  # zh-CN first, then English
        f"{dates}，共 {span} 天，{zh}，最高一格 {top} 次",
        f"{dates}: {span} days, {en}, tallest bar {top} contacts",
    )
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{base + 16}">']
    parts += [
        f'<text class="caption" x="{left}" y="{11 + 11 * n}" font-size="8">{e(c)}</text>'
        for n, c in enumerate(captions)
    ]
    x = left
    for cls, fill, text in (("sms", SMS_FILL, "短信 SMS"), ("call", CALL_FILL, "来电 calls")):
        parts.append(
            f'<rect class="swatch {cls}" x="{x}" y="29" width="9" height="9" fill="{fill}"/>'
            f'<text x="{x + 12}" y="37" font-size="8">{e(text)}</text>'
        )
        x += 70
    parts.append(
        f'<line x1="{left}" y1="{base}" x2="{w - right}" y2="{base}" stroke="#999" '
        'stroke-width="0.5"/>'
    )
    # a label per slot, or every `step` slots so that labels do not overlap: from Mondays
    # for days, from quarters / years for months, from round years for years
    label_w = max(len(s.label) for s in slots) * 4.4 + 6
    steps = {
        "day": (1, 2, 7, 14, 28),
        "week": (1, 2, 4, 8, 13, 26, 52),
        "month": (1, 2, 3, 6, 12, 24),
        "year": (1, 2, 5, 10, 20, 50, 100),
    }[unit]
    step = next((n for n in steps if n * bw >= label_w), 0) or math.ceil(label_w / bw)
    monday = first - dt.timedelta(first.weekday())

    def labelled(i: int, start: dt.date) -> bool:
        if unit == "day" and step >= 7:
            return (start - monday).days % step == 0
        if unit == "month":
            return (start.year * 12 + start.month - 1) % step == 0
        if unit == "year":
            return start.year % step == 0
        return i % step == 0

    for i, s in enumerate(slots):
        xi = left + i * bw
        hs, hc = plot_h * s.sms / top, plot_h * s.call / top
        parts.append(
            f'<g class="slot"><title>{e(s.start.isoformat())}: {s.sms} sms, {s.call} calls'
            f'</title><rect class="sms" x="{xi + bw * 0.1:.1f}" y="{base - hs:.1f}" '
            f'width="{bw * 0.8:.1f}" height="{hs:.1f}" fill="{SMS_FILL}"/>'
            f'<rect class="call" x="{xi + bw * 0.1:.1f}" y="{base - hs - hc:.1f}" '
            f'width="{bw * 0.8:.1f}" height="{hc:.1f}" fill="{CALL_FILL}"/></g>'
        )
        if labelled(i, s.start):
            parts.append(
                f'<text class="tick" x="{xi + bw / 2:.1f}" y="{base + 10}" font-size="7" '
                f'text-anchor="middle">{e(s.label)}</text>'
            )
    parts.append("</svg>")
    return "".join(parts)


def _svg_heatmap(counts: Counter[tuple[int, int]], night: tuple[int, int] | None) -> str:
    cell, left, top = 22, 40, 24
    w, h = left + 24 * cell + 10, top + 7 * cell + 20
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}">']
    if night is not None:
        start, end = night
        hours = [
            hh
            for hh in range(24)
            if (start <= hh < end if start < end else hh >= start or hh < end)
        ]
        for hh in hours:
            parts.append(
                f'<rect x="{left + hh * cell}" y="{top - 6}" width="{cell}" '
                f'height="{7 * cell + 6}" fill="#f6d5d5"/>'
            )
    peak = max(counts.values(), default=0) or 1
    for wd in range(7):
        parts.append(
            f'<text x="2" y="{top + wd * cell + 15}" font-size="9">'
            f"{'一二三四五六日'[wd]} {['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'][wd]}</text>"
        )
        for hh in range(24):
            n = counts.get((wd, hh), 0)
            if n:
                alpha = 0.15 + 0.85 * n / peak
                parts.append(
                    f'<rect x="{left + hh * cell + 2}" y="{top + wd * cell + 2}" '
                    f'width="{cell - 4}" height="{cell - 4}" fill="#b22222" '
                    f'fill-opacity="{alpha:.2f}"><title>{n}</title></rect>'
                )
    for hh in range(0, 24, 2):
        parts.append(
            f'<text x="{left + hh * cell + 4}" y="{top - 10}" font-size="8">{hh:02d}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


REPORT_MAX_ROWS = 1000
"""Timeline rows in report.pdf: the first and last half of that many. WeasyPrint's memory
and time grow with the table (3,000 rows: 50 s and 675 MiB; 1,000: 17 s and 410 MiB), and
the complete list is in messages.csv and items.jsonl; the charts count every item."""


def report_html(case: Case, pack: RulePack, zone: str, *, chain_head: str, created: str) -> str:
    tz = ZoneInfo(zone)
    heat: Counter[tuple[int, int]] = Counter()
    for t in case.timeline:
        if t.at is not None:
            local = t.at.astimezone(tz)
            heat[(local.weekday(), local.hour)] += 1
    win = night_window(pack)
    band = (win.start.hour, win.end.hour) if win is not None else None
    e = html.escape

    def row(t: TimelineItem) -> str:
        return (
            f"<tr><td>{e(t.at.astimezone(tz).strftime('%Y-%m-%d %H:%M') if t.at else '—')}</td>"
            f"<td>{'短信' if t.kind == 'message' else '来电'}</td><td>{e(t.party or '—')}</td>"
            f"<td>{e(t.recipient)}</td><td>{e(t.summary)}</td>"
            f"<td>{e(', '.join(sorted({v.code for v in t.violations})) or '—')}</td></tr>"
        )

    shown = case.timeline
    omitted = len(shown) - REPORT_MAX_ROWS
    if omitted > 0:  # the first and the last rows; every item is in messages.csv
        half = REPORT_MAX_ROWS // 2
        rows = "".join(map(row, shown[:half]))
        rows += (
            f'<tr><td colspan="6">…… 中间 {omitted} 条未列出，完整清单见证据包中的 messages.csv'
            f"（共 {len(shown)} 条）/ {omitted} items in between are not listed here: every "
            f"item is in the bundle's messages.csv ({len(shown)} in all) ……</td></tr>"
        )
        rows += "".join(map(row, shown[-(REPORT_MAX_ROWS - half) :]))
    else:
        rows = "".join(map(row, shown))
    rules = "".join(
        f"<tr><td>{e(rule)}</td><td>{n}</td></tr>" for rule, n in case.rule_counts.most_common()
    )
    findings = "".join(
        f"<li>{e(f.title_zh)} / {e(f.title_en)} ×{f.count}: {e(f.detail)}</li>"
        for f in case.findings
    )
    notes = "".join(f"<p>注 / note: {e(zh)} / {e(en)}</p>" for zh, en in case.notes)
    return (
        '<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8"><style>'
        f"@page {{ size: A4; margin: 15mm; }} body {{ font-family: {PDF_FONT_FAMILY}; "
        "font-size: 9pt; }"
        "table { border-collapse: collapse; width: 100%; } td, th { border: 0.5pt solid #999;"
        " padding: 2pt; vertical-align: top; overflow-wrap: anywhere; } h1 { font-size: 15pt; }"
        "code { font-size: 7pt; overflow-wrap: anywhere; } tr { break-inside: avoid; }"
        "table.timeline { table-layout: fixed; } table.timeline td:nth-child(5) { width: 45%; }"
        "</style></head><body>"
        f"<h1>证据报告 / Evidence report: {e(case.name)}</h1>"
        f"<p>案件 / case <code>{e(case.key)}</code> · 短信 {case.messages} 条 / messages · "
        f"来电 {case.calls} 次 / calls · 时区 / zone {e(zone)} · 规则包 / rule pack "
        f"{e(pack.name)}@{e(pack.version)} · collectguard {e(__version__)} · {e(created)}</p>"
        f"<p>证据链头 / chain head <code>{e(chain_head)}</code></p>"
        f"<h2>每日联系次数 / contacts per day</h2>{_svg_per_day(case.per_day)}"
        "<h2>星期 × 小时 / weekday × hour (22:00–08:00 阴影 / shaded)</h2>"
        f"{_svg_heatmap(heat, band)}"
        f"<h2>跨短信违规 / across messages</h2><ul>{findings or '<li>—</li>'}</ul>"
        f"{notes}"
        "<h2>各规则次数 / per-rule counts</h2><table><tr><th>rule</th><th>n</th></tr>"
        f"{rules}</table>"
        '<h2>时间线 / timeline</h2><table class="timeline"><tr><th>时间 time</th><th>类型 kind</th>'
        "<th>号码 party</th><th>收信人 to</th><th>内容 content</th><th>违规 violations</th></tr>"
        f"{rows}</table></body></html>"
    )


# ---------------------------------------------------------------------------- export
def export_bundle(
    store: EvidenceStore,
    case: Case,
    path: Path,
    *,
    pack: RulePack,
    zone: str,
    letters: tuple[tuple[str, str], ...] = (("lender_complaint", "zh"),),
    letter_pdf: bool = True,
    now: dt.datetime | None = None,
) -> dict[str, Any]:
    """Write the case's bundle to `path` (atomically) and return its manifest."""
    created = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).isoformat(timespec="seconds")
    tz = ZoneInfo(zone)
    msg_ids = sorted(t.item_id for t in case.timeline if t.kind == "message")
    call_ids = sorted(t.item_id for t in case.timeline if t.kind == "call")
    files: dict[str, bytes] = {}
    items: list[dict[str, Any]] = []
    csv_buf = io.StringIO()
    writer = csv.writer(csv_buf)
    writer.writerow(
        [
            "kind",
            "id",
            "time_local",
            "party",
            "recipient",
            "direction",
            "text",
            "rules",
            "sha256",
            "ledger_seq",
        ]
    )
    rules_of = {
        (t.kind, t.item_id): sorted({v.rule_id for v in t.violations}) for t in case.timeline
    }
    attachments: list[tuple[int, str]] = []
    with store.session() as s:
        for i in range(0, len(msg_ids), 500):
            q = (
                select(
                    Message.id,
                    Message.item_sha256,
                    Message.ledger_seq,
                    *[getattr(Message, k) for k in MESSAGE_CONTENT],
                )
                .where(Message.id.in_(msg_ids[i : i + 500]))
                .order_by(Message.id)
            )
            for row in s.execute(q):
                m = row._mapping
                content = message_content(m)
                items.append(
                    {
                        "item": "message",
                        "item_id": m["id"],
                        "item_sha256": m["item_sha256"],
                        "content": content,
                    }
                )
                at = m["received_at"]
                writer.writerow(
                    [
                        "message",
                        m["id"],
                        at.astimezone(tz).isoformat() if at else "",
                        _cell(m["sender"] or ""),
                        _cell(m["recipient"]),
                        m["direction"],
                        _cell(m["text"]),
                        " ".join(rules_of.get(("message", m["id"]), [])),
                        m["item_sha256"],
                        m["ledger_seq"],
                    ]
                )
            aq = select(Attachment.id, Attachment.sha256).where(
                Attachment.message_id.in_(msg_ids[i : i + 500])
            )
            attachments += [(int(a), str(b)) for a, b in s.execute(aq)]
        aq = select(Attachment.id, Attachment.sha256).where(Attachment.case_key == case.key)
        attachments += [(int(a), str(b)) for a, b in s.execute(aq)]
        for i in range(0, len(call_ids), 500):
            q = (
                select(
                    CallRecord.id,
                    CallRecord.item_sha256,
                    CallRecord.ledger_seq,
                    *[getattr(CallRecord, k) for k in CALL_CONTENT],
                )
                .where(CallRecord.id.in_(call_ids[i : i + 500]))
                .order_by(CallRecord.id)
            )
            for row in s.execute(q):
                c = row._mapping
                items.append(
                    {
                        "item": "call",
                        "item_id": c["id"],
                        "item_sha256": c["item_sha256"],
                        "content": call_content(c),
                    }
                )
                at = c["started_at"]
                writer.writerow(
                    [
                        "call",
                        c["id"],
                        at.astimezone(tz).isoformat() if at else "",
                        _cell(c["number"] or ""),
                        _cell(c["recipient"]),
                        c["call_type"],
                        f"{c['duration_s']}s",
                        "",
                        c["item_sha256"],
                        c["ledger_seq"],
                    ]
                )
    on_disk: dict[str, Path] = {}  # attachments: copied from disk into the zip, never held
    for aid, digest in dict(attachments).items():  # one row may match both ways
        p = store.attachment_path(digest)
        if not p.is_file():
            raise EvidenceError(f"附件文件丢失 / attachment file missing: {p}")
        on_disk[f"attachments/{digest}"] = p
        items.append({"item": "attachment", "item_id": aid, "item_sha256": digest})
    files["messages.csv"] = csv_buf.getvalue().encode("utf-8-sig")
    files["items.jsonl"] = "".join(
        json.dumps(it, ensure_ascii=False, sort_keys=True) + "\n" for it in items
    ).encode("utf-8")
    listed: dict[str, tuple[str, int]] = {}  # path -> (sha256, size)
    tmp_zip = path.with_name(path.name + ".part")
    try:
        with zipfile.ZipFile(tmp_zip, "w", compression=zipfile.ZIP_DEFLATED) as z:
            # The two parts that grow without bound (the whole ledger, the photos) are
            # streamed into the zip and hashed on the way; the rest is small.
            entries, head = _write_ledger(z, store, listed)
            for name, src in sorted(on_disk.items()):
                listed[name] = _copy_into(z, name, src)
            with tempfile.TemporaryDirectory() as tmp:
                report = Path(tmp) / "report.pdf"
                html_to_pdf(report_html(case, pack, zone, chain_head=head, created=created), report)
                files["report.pdf"] = report.read_bytes()
                if letters:
                    ctx = letter_context(store, case, pack=pack, zone=zone, now=now)
                    for kind, lang in letters:
                        letter = render_letter(kind, lang, ctx)
                        files[f"letters/{kind}.{lang}.md"] = letter.markdown.encode("utf-8")
                        if letter_pdf:
                            out = Path(tmp) / f"{kind}.{lang}.pdf"
                            write_pdf(letter, out)
                            files[f"letters/{kind}.{lang}.pdf"] = out.read_bytes()
            for name, data in sorted(files.items()):
                z.writestr(name, data)
                listed[name] = (_sha(data), len(data))
            manifest = {
                "format": BUNDLE_FORMAT,
                "tool_version": __version__,
                "rule_pack": f"{pack.name}@{pack.version}",
                "case": {"key": case.key, "name": case.name},
                "timezone": zone,
                "created_at": created,
                "chain_head": head,
                "ledger_entries": entries,
                "items": len(items),
                "files": [
                    {"path": name, "sha256": sha, "size": size}
                    for name, (sha, size) in sorted(listed.items())
                ],
            }
            z.writestr("manifest.json", json.dumps(manifest, ensure_ascii=False, indent=2) + "\n")
        tmp_zip.replace(path)
    except BaseException:
        tmp_zip.unlink(missing_ok=True)
        raise
    return manifest


_COPY_BLOCK = 1 << 20


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: str) -> str:
    """A sender-controlled value for messages.csv, which opens in a spreadsheet: one that
    starts like a formula (``=HYPERLINK(…)``, ``+86…``, ``@…``) gets a leading ``'`` so that
    Excel shows it as text instead of running it. The exact text is in items.jsonl."""
    return "'" + value if value.startswith(_FORMULA_START) else value


def _write_ledger(
    z: zipfile.ZipFile, store: EvidenceStore, listed: dict[str, tuple[str, int]]
) -> tuple[int, str]:
    """Stream the whole ``evidence`` ledger into ``ledger.jsonl``; (entries, chain head)."""
    h = hashlib.sha256()
    size = n = 0
    head = "0" * 64
    with z.open(_member("ledger.jsonl", z), "w", force_zip64=True) as out:
        for e in store.ledger.entries():
            line = (
                json.dumps(
                    {
                        "stream": e.stream,
                        "seq": e.seq,
                        "kind": e.kind,
                        "payload_sha256": e.payload_sha256,
                        "prev_hash": e.prev_hash,
                        "entry_hash": e.entry_hash,
                        "recorded_at": e.recorded_at,
                        "payload": e.payload,
                    },
                    ensure_ascii=False,
                    sort_keys=True,
                )
                + "\n"
            ).encode("utf-8")
            out.write(line)
            h.update(line)
            size += len(line)
            n += 1
            head = e.entry_hash
    listed["ledger.jsonl"] = (h.hexdigest(), size)
    return n, head


def _member(name: str, z: zipfile.ZipFile) -> zipfile.ZipInfo:
    """A member written in pieces, dated now as `writestr` dates the others (a bare name
    would be dated 1980-01-01) and compressed as the archive is."""
    info = zipfile.ZipInfo(name, date_time=dt.datetime.now().timetuple()[:6])
    info.compress_type = z.compression
    return info


def _copy_into(z: zipfile.ZipFile, name: str, src: Path) -> tuple[str, int]:
    """Copy a file into the zip in blocks; (sha256, size) of what was copied."""
    h = hashlib.sha256()
    size = 0
    try:
        with src.open("rb") as fp, z.open(_member(name, z), "w", force_zip64=True) as out:
            for block in iter(lambda: fp.read(_COPY_BLOCK), b""):
                out.write(block)
                h.update(block)
                size += len(block)
    except OSError as exc:
        raise EvidenceError(f"附件文件无法读取 / cannot read attachment {src}: {exc}") from None
    return h.hexdigest(), size


def _zip_lines(z: zipfile.ZipFile, name: str | zipfile.ZipInfo) -> Iterator[tuple[int, str]]:
    """(line number, line) of a UTF-8 JSON Lines member, split at ``\\n`` only: texts may hold
    U+2028 or U+0085, which `str.splitlines` would also split at."""
    with (
        z.open(name) as raw,
        io.TextIOWrapper(raw, encoding="utf-8", errors="replace", newline="\n") as text,
    ):
        for n, line in enumerate(text, 1):
            yield n, line.rstrip("\n")


# ---------------------------------------------------------------------------- verify
def _archiver_extra(name: str) -> bool:
    """A member macOS adds when it zips a folder: AppleDouble files under ``__MACOSX/`` and
    Finder's ``.DS_Store``. Never a bundle file, never read."""
    return name.startswith("__MACOSX/") or name.rsplit("/", 1)[-1] == ".DS_Store"


def _members(z: zipfile.ZipFile, report: BundleReport) -> dict[str, zipfile.ZipInfo]:
    """The bundle's members by their name in the manifest.

    A bundle unzipped and zipped again (``zip -r``, Windows' "Send to compressed folder",
    macOS' "Compress") gains directory entries, which are skipped; macOS' extras are skipped
    and named in ``report.ignored``; a bundle whose folder was zipped whole has every file
    under that one folder (``report.folder``). Every other member keeps its name, so a file
    the manifest does not list is still reported as inserted. A name held twice is reported:
    an unzip tool may show the other copy than the one checked.
    """
    kept: list[zipfile.ZipInfo] = []
    for info in z.infolist():
        if info.filename.endswith("/") and info.file_size == 0:
            continue  # a directory entry: no content
        if _archiver_extra(info.filename):
            report.ignored.append(info.filename)
            continue
        kept.append(info)
    names = {info.filename for info in kept}
    tops = {name.split("/", 1)[0] for name in names}
    if "manifest.json" not in names and len(tops) == 1:
        top = f"{tops.pop()}/"
        if f"{top}manifest.json" in names:
            report.folder = top
    members: dict[str, zipfile.ZipInfo] = {}
    held: Counter[str] = Counter()
    for info in kept:
        name = info.filename.removeprefix(report.folder)
        held[name] += 1
        members[name] = info  # the last of a name, as zipfile reads it
    for name, n in sorted(held.items()):
        if n > 1:
            report.fail(f"{name}: 在证据包中出现 {n} 次 / held {n} times in the bundle (inserted)")
    return members


def verify_bundle(path: Path, *, expected_head: str | None = None) -> BundleReport:
    """Check a bundle without any database: files, chain, and items against the chain.

    `expected_head` is a chain head recorded elsewhere (a letter, a message to yourself): a
    bundle rebuilt wholesale with a new chain only fails against it.
    """
    report = BundleReport()
    try:
        z = zipfile.ZipFile(path)
    except _DAMAGED as exc:
        raise EvidenceError(f"不是有效的证据包 / not a readable bundle: {exc}") from None
    with z:
        members = _members(z, report)
        names = set(members)
        if "manifest.json" not in names:
            raise EvidenceError("证据包缺少 manifest.json / bundle has no manifest.json")
        try:
            raw_manifest = z.read(members["manifest.json"])
        except _DAMAGED as exc:
            raise EvidenceError(
                f"manifest.json 无法读取，证据包已损坏 / manifest.json cannot be read, the "
                f"bundle is damaged: {exc}"
            ) from None
        report.manifest_sha256 = _sha(raw_manifest)
        try:
            manifest = json.loads(raw_manifest)
        except ValueError as exc:
            raise EvidenceError(f"manifest.json 不是 JSON / is not JSON: {exc}") from None
        if not isinstance(manifest, dict):
            raise EvidenceError("manifest.json 不是 JSON 对象 / manifest.json is not an object")
        if manifest.get("format") != BUNDLE_FORMAT:
            report.fail(f"未知的证据包格式 / unknown bundle format {manifest.get('format')!r}")
        listed: dict[str, str] = {}  # path -> sha256 the manifest records
        files = manifest.get("files")
        for i, f in enumerate(files if isinstance(files, list) else []):
            if (
                isinstance(f, dict)
                and isinstance(f.get("path"), str)
                and isinstance(f.get("sha256"), str)
            ):
                listed[f["path"]] = f["sha256"]
            else:
                report.fail(f"manifest.json files[{i}]: 无法读取 / unreadable entry")
        if not isinstance(files, list):
            report.fail("manifest.json 没有文件清单 / manifest.json lists no files")
        for name in sorted(names - {"manifest.json"} - set(listed)):
            report.fail(f"{name}: 清单外的文件 / not in the manifest (inserted)")
        for name, recorded in sorted(listed.items()):
            if name not in names:
                report.fail(f"{name}: 文件缺失 / missing (deleted)")
                continue
            report.files += 1
            try:
                with z.open(members[name]) as member:
                    digest = sha256_stream(member)
            except _DAMAGED as exc:
                report.fail(f"{name}: 无法读取，已损坏 / cannot be read, damaged ({exc})")
                continue
            if digest != recorded:
                report.fail(f"{name}: 内容与清单哈希不符 / content differs from its hash (edited)")
            if name.startswith("attachments/") and digest != name.split("/", 1)[1]:
                report.fail(f"{name}: 附件名不是其哈希 / attachment name is not its hash")
        vouched: dict[tuple[Any, Any], Any] = {}
        seen_hashes: list[str] = []  # entry hashes in order, to find a recorded head

        def ledger() -> Iterator[LedgerEntry]:
            """The bundle's entries, read line by line; `vouched` is filled on the way."""
            if "ledger.jsonl" not in names:
                return
            for n, line in _damage_stops(
                report, "ledger.jsonl", _zip_lines(z, members["ledger.jsonl"])
            ):
                try:
                    e = _ledger_entry(json.loads(line))
                except (ValueError, TypeError) as exc:
                    report.fail(f"ledger.jsonl 第{n}行 / line {n}: 无法读取 / unreadable ({exc})")
                    continue
                pl = e.payload or {}
                vouched[(_plain(pl.get("item")), _plain(pl.get("item_id")))] = pl.get("item_sha256")
                seen_hashes.append(e.entry_hash)
                yield e

        chain = verify_chain(ledger(), expected_head=manifest.get("chain_head"))
        if expected_head is not None and expected_head != manifest.get("chain_head"):
            # a head recorded earlier must be in the bundle's chain (the store grew since)
            if expected_head not in seen_hashes:
                report.fail(
                    "记录的链头不在证据包的链中 / the recorded chain head is not in the bundle's "
                    f"chain ({expected_head[:16]}…): entries removed, or the chain rebuilt"
                )
            else:
                report.after_head = chain.checked - seen_hashes.index(expected_head) - 1
        report.entries = chain.checked
        report.chain_head = chain.head
        for p in chain.problems:
            report.fail(f"账本 / ledger {p.describe()}")
        held: set[tuple[str, str, str]] = set()  # (kind, id, sha256) of messages and calls
        if "items.jsonl" in names:
            for n, line in _damage_stops(
                report, "items.jsonl", _zip_lines(z, members["items.jsonl"])
            ):
                where = f"items.jsonl 第{n}行 / line {n}"
                try:
                    it = json.loads(line)
                    if not isinstance(it, dict):
                        raise ValueError("not an object")
                except ValueError as exc:
                    report.fail(f"{where}: 无法读取 / unreadable ({exc})")
                    continue
                report.items += 1
                key = (_plain(it.get("item")), _plain(it.get("item_id")))
                if key[0] in ("message", "call"):
                    held.add((str(key[0]), str(key[1]), str(it.get("item_sha256"))))
                want = vouched.get(key)
                if want is None:
                    report.fail(
                        f"{where}: {key[0]} {key[1]} 不在账本中 / not in the ledger (inserted)"
                    )
                    continue
                got = item_sha256(it["content"]) if "content" in it else it.get("item_sha256")
                if got != want or it.get("item_sha256") != want:
                    report.fail(
                        f"{where}: {key[0]} {key[1]} 与账本不符 / differs from the ledger (edited)"
                    )
        # The case's items are listed three times: the manifest counts them, items.jsonl holds
        # them, messages.csv lists the messages and calls. An item taken out of one must be
        # taken out of all three, and the manifest's file hashes redone, to go unseen.
        if isinstance(manifest.get("items"), int) and manifest["items"] != report.items:
            report.fail(
                f"items.jsonl 有 {report.items} 项，清单记为 {manifest['items']} 项 / "
                f"items.jsonl holds {report.items} items, the manifest says {manifest['items']} "
                "(deleted or inserted)"
            )
        if "messages.csv" in names:
            try:
                listed_rows = _csv_items(z, members["messages.csv"])
            except (csv.Error, *_DAMAGED) as exc:
                report.fail(f"messages.csv 无法读取 / unreadable ({exc})")
                listed_rows = held
            for kind, item_id, _ in sorted(listed_rows - held):
                report.fail(
                    f"messages.csv 列出 {kind} {item_id}，items.jsonl 中没有或哈希不同 / "
                    f"messages.csv lists {kind} {item_id}, which items.jsonl lacks or holds "
                    "with another hash (deleted or edited)"
                )
            for kind, item_id, _ in sorted(held - listed_rows):
                report.fail(
                    f"items.jsonl 有 {kind} {item_id}，messages.csv 中没有 / items.jsonl holds "
                    f"{kind} {item_id}, which messages.csv does not list (deleted or inserted)"
                )
    return report


_DAMAGED = (
    zipfile.BadZipFile,  # a CRC that does not match, a broken header
    zlib.error,  # compressed data that does not inflate
    EOFError,
    OSError,
    RuntimeError,  # an encrypted member
    NotImplementedError,  # a compression method zipfile does not know
)
"""What reading a damaged zip member raises: reported against that member."""


def _damage_stops(
    report: BundleReport, name: str, lines: Iterator[tuple[int, str]]
) -> Iterator[tuple[int, str]]:
    """`lines` until the member turns out to be damaged, which is reported (once)."""
    try:
        yield from lines
    except _DAMAGED as exc:
        report.fail(
            f"{name}: 读到一半无法再读，已损坏 / cannot be read to the end, damaged ({exc})"
        )


def _plain(value: object) -> object:
    """A JSON value usable as a key: lists and objects (from an edited file) as their JSON."""
    if isinstance(value, list | dict):
        return json.dumps(value, sort_keys=True, ensure_ascii=False)
    return value


_ENTRY_TEXT = ("stream", "kind", "payload_sha256", "prev_hash", "entry_hash", "recorded_at")


def _ledger_entry(obj: object) -> LedgerEntry:
    """A ledger line as an entry; TypeError for a field of the wrong type."""
    if not isinstance(obj, dict):
        raise TypeError("not an object")
    seq, payload = obj.get("seq"), obj.get("payload")
    if not isinstance(seq, int) or isinstance(seq, bool):
        raise TypeError("seq is not an integer")
    if payload is not None and not isinstance(payload, dict):
        raise TypeError("payload is not an object")
    for k in _ENTRY_TEXT:
        if not isinstance(obj.get(k), str):
            raise TypeError(f"{k} is not text")
    return LedgerEntry(**obj)


def _csv_items(z: zipfile.ZipFile, member: zipfile.ZipInfo) -> set[tuple[str, str, str]]:
    """(kind, id, sha256) of every row of the bundle's messages.csv."""
    if csv.field_size_limit() < MAX_FIELD_CHARS:  # a long message is one long field
        csv.field_size_limit(MAX_FIELD_CHARS)
    out: set[tuple[str, str, str]] = set()
    with (
        z.open(member) as raw,
        io.TextIOWrapper(raw, encoding="utf-8-sig", errors="replace", newline="") as text,
    ):
        for row in csv.DictReader(text):
            out.add((row.get("kind") or "", row.get("id") or "", row.get("sha256") or ""))
    return out
