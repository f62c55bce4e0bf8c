"""The evidence locker's commands: a Typer sub-app the main CLI mounts.

    evidence_app                 import, attach, runs, cases, case show, letter, export,
                                 verify, verify-bundle

Mount with ``app.add_typer(evidence_app, name="evidence")`` to get ``collectguard evidence
import``, ``attach``, ``runs``, ``cases``, ``case show``, ``letter``, ``export``, ``verify`` and
``verify-bundle``.
Output is zh-CN first, English second; ``--json`` gives machine-readable output. Exit codes:
0 done (verify: intact), 1 verify found tampering, 2 stopped (unreadable source, bad option,
broken store) — an import stopped by a broken file keeps the batches it committed and says
where it stopped.

Start-up pays only for what a command uses: the analyzer, the PDF/DOCX letter stack, the
bundle writer and the import pipeline are imported inside the commands that need them.
Typer evaluates every command's signature at start-up, so signatures use only cheap names.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any
from zoneinfo import ZoneInfo

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from collectguard.errors import CollectguardError
from collectguard.evidence.store import DB_ENV, EvidenceStore, open_store

if TYPE_CHECKING:
    from rich.progress import ProgressColumn

    from collectguard.evidence.history import Case
    from collectguard.evidence.ingest import ImportReport
    from collectguard.rules import RulePack

# Copies of `sources.FORMATS` and of the keys of `letters.LETTER_KINDS`, for option help that
# Typer builds at start-up: importing those modules would load the analyzer and the letter
# stack for every command. tests/test_cli_startup.py keeps them equal to the originals.
_FORMATS = ("android", "ios", "csv", "jsonl", "text")  # sources.FORMATS, without importing it
_LETTER_KINDS = (
    "lender_complaint",
    "regulator_complaint",
    "police_report",
    "spam_12321",
    "pboc_objection",
    "us_debt_validation",
    "us_cease_communication",
    "cfpb_narrative",
    "us_fraud_report",
)

evidence_app = typer.Typer(
    help=(
        "证据箱：导入手机短信备份、按机构查看案件、校验证据链。\n\n"
        "Evidence locker: import phone backups, see cases per lender, verify the evidence chain."
        "\n\nExamples / 示例:\n\n"
        "  collectguard evidence import sms-20250114.xml\n\n"
        "  collectguard evidence import mum.xml --recipient 妈妈\n\n"
        "  collectguard evidence cases\n\n"
        "  collectguard evidence case show mashang_cfc\n\n"
        "  collectguard evidence letter mashang_cfc --kind regulator_complaint -o 投诉.pdf\n\n"
        "  collectguard evidence export mashang_cfc -o case.zip\n\n"
        "  collectguard evidence verify\n\n"
        "  collectguard evidence verify-bundle case.zip"
    ),
    no_args_is_help=True,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
)
case_app = typer.Typer(
    help="查看一个案件（一家机构的全部短信与来电）/ Show one case (all of a lender's contacts).",
    no_args_is_help=True,
    rich_markup_mode=None,
)
evidence_app.add_typer(case_app, name="case")

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)
# Message texts, sender names, file names and bundle member names come from whoever wrote
# them: printed through `escape` or as `Text` (`_row`), never as Rich markup ("[/x]" in a
# text crashed `case show`, "[red]x" printed as "x").


def _row(table: Table, *cells: str) -> None:
    """Add a row of plain-text cells (no markup)."""
    table.add_row(*(Text(c) for c in cells))


@contextmanager
def _progress_bar(
    label: str, *columns: ProgressColumn, quiet: bool
) -> Iterator[Callable[[int, int], None] | None]:
    """A transient bar on stderr for long work; yields its `tick(done, total)`, or None when
    there is no bar (`quiet`, or stderr is not a terminal) so callers can skip counting."""
    from rich.progress import BarColumn, Progress, TextColumn

    if quiet or not err.is_terminal:
        yield None
        return
    bar_columns = (TextColumn(f"[bold]{label}"), BarColumn(), *columns)
    with Progress(*bar_columns, console=err, transient=True) as bar:
        task = bar.add_task(label, total=None)

        def tick(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total or None)

        yield tick


DbOption = Annotated[
    str | None,
    typer.Option(
        "--db",
        envvar=DB_ENV,
        help="数据库地址或 SQLite 文件；默认在用户数据目录 / database URL or SQLite file "
        "(default: evidence.sqlite3 in the user data folder; postgresql://… for a server)",
    ),
]
PackOption = Annotated[
    str,
    typer.Option("--pack", help="规则包名或文件 / rule pack name or file (cn, us, overlay.yaml)"),
]


def _zone(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        ZoneInfo(value)
    except (ValueError, KeyError, OSError):
        raise typer.BadParameter(
            f"未知时区 {value!r}，请用 IANA 名称如 Asia/Shanghai / unknown time zone {value!r}; "
            "use an IANA name such as Asia/Shanghai or America/New_York"
        ) from None
    return value


TzOption = Annotated[
    str,
    typer.Option(
        "--timezone",
        "--tz",
        callback=_zone,
        help="收信人所在时区（IANA），用于判断夜间和按天计数 / the recipient's IANA zone, for "
        "night hours and per-day counts",
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="输出 JSON / print JSON")]
CasePackOption = Annotated[
    str | None,
    typer.Option(
        "--pack",
        help="规则包名或文件；默认按案件短信的分析结果选 cn 或 us / rule pack name or file; "
        "default: cn or us, as the case's messages were analysed",
    ),
]
CaseTzOption = Annotated[
    str | None,
    typer.Option(
        "--timezone",
        "--tz",
        callback=_zone,
        help="信中时间所用时区（IANA）；默认为导入这些短信时的 --tz / the IANA zone of the "
        "letter's times; default: the --tz the case's messages were imported with",
    ),
]
ForceOption = Annotated[
    bool,
    typer.Option(
        "--force",
        help="即使信函与案件不符（如诈骗案件的投诉信）也生成 / write a letter even where it does "
        "not fit the case (e.g. a complaint about a scam)",
    ),
]


def _fail(message: str, code: int = 2) -> typer.Exit:
    err.print(f"[bold red]错误 / error:[/] {escape(message)}")
    return typer.Exit(code)


def _store(db: str | None, *, must_exist: bool = True) -> EvidenceStore:
    """The store of a command; only `import` may create one."""
    try:
        return open_store(db, must_exist=must_exist)
    except CollectguardError as exc:
        raise _fail(str(exc)) from None


def _writable(output: Path, suffixes: tuple[str, ...]) -> Path:
    """`output` as a file this command may write, checked before any work is done."""
    if output.is_dir():
        raise _fail(
            f"{output} 是文件夹，请给出文件名，如 {output / ('case' + suffixes[0])} / {output} is "
            f"a folder: name a file, e.g. {output / ('case' + suffixes[0])}"
        )
    if not output.parent.is_dir():
        raise _fail(f"文件夹不存在 / no such folder: {output.parent}（请先创建 / create it first）")
    if output.suffix.lower() not in suffixes:
        raise _fail(
            f"不支持的后缀 {output.suffix!r}，请用 {' '.join(suffixes)} / use {', '.join(suffixes)}"
        )
    return output


def _head(value: str | None) -> str | None:
    """A chain head as given with --head: 64 hex characters (the tool shows 16 of them)."""
    if value is None:
        return None
    v = value.strip().lower()
    if len(v) == 64 and any(c not in "0123456789abcdef" for c in v):
        raise typer.BadParameter(
            "链头只含 0-9 和 a-f / a chain head holds only 0-9 and a-f (hex); check the copy"
        )
    if len(v) != 64:
        raise typer.BadParameter(
            f"链头应为 64 位十六进制字符（export/verify 的 --json 输出、信函中均有完整值），收到 "
            f"{len(v)} 位 / a chain head is 64 hex characters (the full value is in the --json "
            f"output of export and verify, and in every letter); got {len(v)}"
        )
    return v


HeadOption = Annotated[
    str | None,
    typer.Option(
        "--head",
        callback=_head,
        help="之前记下的完整链头哈希（64 位）/ the full chain head (64 hex) recorded earlier",
    ),
]


def _pack(name: str) -> RulePack:
    from collectguard.rules import resolve_pack

    try:
        return resolve_pack(name)
    except CollectguardError as exc:
        raise _fail(str(exc)) from None


def _report_dict(r: ImportReport) -> dict[str, Any]:
    d = dataclasses.asdict(r)
    d["rejections"] = [{"position": p, "reason": why} for p, why in r.rejections]
    return d


def _print_report(r: ImportReport) -> None:
    out.print(f"[bold]{escape(r.source_name)}[/] ({r.format}) sha256 {r.source_sha256[:16]}…")
    out.print(r.summary())
    kinds = r.new_by_kind
    out.print(
        f"  短信 {kinds['message']}、来电 {kinds['call']}、附件 {kinds['attachment']} / "
        f"messages {kinds['message']}, calls {kinds['call']}, attachments {kinds['attachment']}"
    )
    for why, n in sorted(r.skip_reasons.items(), key=lambda kv: -kv[1]):
        out.print(f"  跳过 / skipped {n}: {escape(why)}")
    for pos, why in r.rejections[:20]:
        out.print(f"  [yellow]拒收 / rejected[/] {escape(pos)}: {escape(why)}")
    if len(r.rejections) > 20:
        out.print(f"  … +{r.rejected - 20}")
    if r.odd_times:
        where = escape("；".join(r.odd_time_positions))
        out.print(
            f"  [yellow]时间存疑 / odd times[/] {r.odd_times} 条的时间在 2000 年以前或在未来，"
            f"已按原样保存，请检查备份或 --tz / {r.odd_times} item(s) dated before 2000 or in "
            "the future, "
            f"kept as read: check the backup and --tz ({where})"
        )


@evidence_app.command("import")
def import_cmd(
    source: Annotated[
        str,
        typer.Argument(
            help="备份文件或 iPhone 备份文件夹；- 表示从标准输入粘贴文字 / backup file, an "
            "iPhone iTunes/Finder backup folder, or - for pasted text"
        ),
    ],
    format: Annotated[
        str | None,
        typer.Option(
            "--format",
            "-f",
            help=f"格式，默认自动识别 / format, detected when omitted: {', '.join(_FORMATS)}",
        ),
    ] = None,
    recipient: Annotated[
        str,
        typer.Option(
            "--recipient",
            help="这些短信是谁收到的；亲友收到的填其称呼（如 妈妈）/ who received these "
            "messages: self, or a relative's label when they received them",
        ),
    ] = "self",
    tz: TzOption = "Asia/Shanghai",
    mapping: Annotated[
        list[str] | None,
        typer.Option(
            "--map",
            help="CSV 列对应，如 --map text=内容 --map sender=号码；--map received_at= 留空表示"
            "文件没有时间列 / CSV column mapping (text, sender, received_at, direction); "
            "--map received_at= (empty): the file has no time column",
        ),
    ] = None,
    encoding: Annotated[
        str | None,
        typer.Option("--encoding", help="文本编码，默认自动 / text encoding (utf-8, gb18030…)"),
    ] = None,
    sender: Annotated[
        str | None, typer.Option("--sender", help="粘贴文字的发送号码 / sender of pasted text")
    ] = None,
    at: Annotated[
        str | None, typer.Option("--at", help="粘贴文字的接收时间 / receive time of pasted text")
    ] = None,
    collection_only: Annotated[
        bool,
        typer.Option(
            "--collection-only",
            help="只保存催收短信，其余跳过 / keep only collection messages, skip the rest",
        ),
    ] = False,
    workers: Annotated[
        int,
        typer.Option(
            "--workers",
            "-w",
            min=0,
            help="并行分析的进程数，0 表示按 CPU 核数自动 / analysis processes; 0 picks one "
            "per CPU core (at most 8), 1 analyses in this process",
        ),
    ] = 0,
    pack: PackOption = "cn",
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """导入短信备份并逐条体检、存证 / Import a backup: analyse, store and chain every message.

    格式自动识别 / the format is detected: Android "SMS Backup & Restore" XML (短信、彩信、
    通话记录 / SMS, MMS, call logs), iPhone sms.db or a whole unencrypted iTunes/Finder
    backup folder (附件一并导入 / attachments included), CSV, JSONL, or pasted text.

    \b
    例 / e.g.:
      collectguard evidence import sms-20250101.xml
      collectguard evidence import calls-20250101.xml
      collectguard evidence import sms.db          # iPhone 未加密备份 / unencrypted backup
      collectguard evidence import ~/Library/Application\\ Support/MobileSync/Backup/<UDID>
      collectguard evidence import 导出.csv --map text=内容 --map sender=号码 --map received_at=时间
      collectguard evidence import 妈妈的短信.xml --recipient 妈妈  # 亲友收到的 / relative's
      collectguard evidence import - --sender 10690000 --at "2025-01-14 23:15" < 粘贴.txt

    时间 / times: "2025-01-14 23:15", "2025/1/14 23:15:00", "2025年1月14日 23:15", ISO 8601
    with an offset, or epoch seconds / milliseconds; a time without an offset is read in --tz.
    重复导入不会重复保存 / re-importing adds nothing twice: run it again to finish a stopped import.
    """
    from rich.progress import DownloadColumn, TimeRemainingColumn

    from collectguard.analyze.analyzer import Analyzer
    from collectguard.evidence.errors import ImportFormatError
    from collectguard.evidence.ingest import Importer, ImportFailed
    from collectguard.evidence.sources import open_ios_backup, parse_time

    csv_mapping: dict[str, str] = {}
    fields = ("text", "sender", "received_at", "direction")
    for item in mapping or []:
        field, sep, column = item.partition("=")
        if not sep:
            raise _fail(f"--map 需要 字段=列名 / --map needs FIELD=COLUMN, got {item!r}")
        if field not in fields:
            raise _fail(
                f"--map 的字段 {field!r} 不存在，可用：{', '.join(fields)} / unknown --map field "
                f"{field!r}; use one of {', '.join(fields)} (e.g. --map text={column or '内容'})"
            )
        csv_mapping[field] = column
    if source != "-" and Path(source).is_dir():
        # an iPhone backup folder: refused before any store is created when it is not one,
        # is encrypted, or holds no Messages
        try:
            open_ios_backup(Path(source))
        except ImportFormatError as exc:
            raise _fail(str(exc)) from None
    analyzer = Analyzer.default() if pack == "cn" else Analyzer.from_options([pack])
    store = _store(db, must_exist=False)
    importer = Importer(
        store,
        analyzer,
        recipient=recipient,
        timezone=tz,
        collection_only=collection_only,
        workers=workers or min(os.cpu_count() or 1, 8),
    )
    try:
        if source == "-":
            try:
                when = parse_time(at, tz) if at else None
            except ValueError as exc:
                raise _fail(f"--at: {exc}") from None
            report = importer.import_text(sys.stdin.read(), sender=sender, received_at=when)
        else:
            path = Path(source)
            with _progress_bar(
                "导入 / importing", DownloadColumn(), TimeRemainingColumn(), quiet=as_json
            ) as tick:
                report = importer.import_file(
                    path,
                    format=format,
                    csv_mapping=csv_mapping or None,
                    encoding=encoding,
                    progress=tick,
                )
    except ImportFailed as exc:
        if as_json:
            print(json.dumps(_report_dict(exc.report), ensure_ascii=False))
        elif exc.report.new or exc.report.duplicate or exc.report.resume_position:
            _print_report(exc.report)
            out.print(
                f"已保存出错前的 {exc.report.new} 条；修好文件后重新导入即可续上（重复的会跳过）/ "
                f"kept {exc.report.new} items committed before the fault; re-run the import on "
                "the repaired file to finish (duplicates are skipped)"
            )
        raise _fail(str(exc)) from None
    except CollectguardError as exc:
        raise _fail(str(exc)) from None
    finally:
        store.close()
    if as_json:
        print(json.dumps(_report_dict(report), ensure_ascii=False))
    else:
        _print_report(report)


def _fmt_time(t: dt.datetime | None, tz: str) -> str:
    if t is None:
        return "—"
    from zoneinfo import ZoneInfo

    return t.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M")


def _case_dict(c: Case, *, timeline: bool) -> dict[str, Any]:
    d: dict[str, Any] = {
        "key": c.key,
        "name": c.name,
        "messages": c.messages,
        "calls": c.calls,
        "first": c.first.isoformat() if c.first else None,
        "last": c.last.isoformat() if c.last else None,
        "max_severity": c.max_severity,
        "rule_counts": dict(c.rule_counts),
        "code_counts": dict(c.code_counts),
        "night_messages": c.night_messages,
        "night_calls": c.night_calls,
        "third_party_recipients": sorted(c.third_party_recipients),
        "findings": [{**dataclasses.asdict(f), "detail": f.detail} for f in c.findings],
        "undated_copies": c.undated_copies,
        "notes": [{"zh": zh, "en": en} for zh, en in c.notes],
    }
    if timeline:
        d["per_day"] = c.per_day
        d["timeline"] = [
            {
                "at": t.at.isoformat() if t.at else None,
                "kind": t.kind,
                "id": t.item_id,
                "party": t.party,
                "recipient": t.recipient,
                "summary": t.summary,
                "authenticity": t.authenticity,
                "violations": list(dict.fromkeys(v.rule_id for v in t.violations)),
            }
            for t in c.timeline
        ]
    return d


@evidence_app.command("attach")
def attach_cmd(
    file: Annotated[Path, typer.Argument(help="截图、录音等文件 / screenshot, recording, photo")],
    case_key: Annotated[
        str | None, typer.Option("--case", help="所属案件，见 cases / the case it belongs to")
    ] = None,
    message_id: Annotated[
        int | None, typer.Option("--message", help="所属短信编号 / the message it belongs to")
    ] = None,
    note: Annotated[str | None, typer.Option("--note", help="说明 / what it shows")] = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """把截图、录音等文件存证并记入证据链 / Keep a file as evidence, hashed and chained."""
    from collectguard.evidence.ingest import Importer

    if case_key is None and message_id is None:
        raise _fail("需要 --case 或 --message / give --case or --message")
    store = _store(db)  # a case or message to attach to: the store must exist
    try:
        if case_key is not None:
            from collectguard.evidence.history import build_cases

            known = {c.key for c in build_cases(store, include_all=True)}
            if case_key not in known:
                raise _fail(f"没有案件 {case_key!r}，见 cases / no case {case_key!r}; see `cases`")
        report = Importer(store).import_attachment(
            file, case_key=case_key, message_id=message_id, note=note
        )
    except CollectguardError as exc:
        raise _fail(str(exc)) from None
    finally:
        store.close()
    if as_json:
        print(json.dumps(_report_dict(report), ensure_ascii=False))
    else:
        out.print(f"{report.summary()} · sha256 {report.source_sha256}")


@evidence_app.command("runs")
def runs_cmd(db: DbOption = None, as_json: JsonOption = False) -> None:
    """导入记录：状态、计数、停在哪里 / Import runs: status, counts, where each stopped."""
    from sqlalchemy import select

    from collectguard.evidence.models import ImportRun

    store = _store(db)
    try:
        with store.session() as s:
            runs = list(s.scalars(select(ImportRun).order_by(ImportRun.id)))
    finally:
        store.close()
    rows: list[dict[str, Any]] = [
        {
            "id": r.id,
            "started_at": r.started_at.isoformat(),
            "source": r.source_name,
            "format": r.format,
            "recipient": r.recipient,
            "source_sha256": r.source_sha256,
            "status": r.status,
            "new": r.new_count,
            "duplicate": r.duplicate_count,
            "rejected": r.rejected_count,
            "skipped": r.skipped_count,
            "resume_position": r.resume_position,
            "error": r.error,
        }
        for r in runs
    ]
    # A run that never finished (killed, or failed) is settled once a later run of the same
    # file (same SHA-256, same recipient) completed: re-importing is how a run is finished.
    done_by: dict[tuple[str, str], int] = {}
    for r in reversed(rows):
        key = (str(r["source_sha256"]), str(r["recipient"]))
        if r["status"] == "complete":
            done_by[key] = r["id"]
        elif key in done_by:
            r["finished_by"] = done_by[key]
    if as_json:
        print(json.dumps(rows, ensure_ascii=False))
        return
    table = Table(title="导入记录 / import runs")
    for col in (
        "#",
        "来源 / source",
        "状态 / status",
        "新增/重复/拒收 new/dup/rej",
        "已提交到 / committed up to",
    ):
        table.add_column(col)
    for r in rows:
        _row(
            table,
            str(r["id"]),
            f"{r['source']} ({r['format']})",
            str(r["status"]),
            f"{r['new']}/{r['duplicate']}/{r['rejected']}",
            str(r["resume_position"] or "—"),
        )
    out.print(table)
    for r in rows:
        if r["status"] == "complete":
            continue
        why = escape(r["error"] or "中断 / interrupted")
        if "finished_by" in r:
            n = r["finished_by"]
            out.print(f"#{r['id']} {r['status']}: {why} — 已由 #{n} 完成 / finished by run #{n}")
        else:
            out.print(
                f"#{r['id']} {r['status']}: {why} — "
                "重新导入同一文件即可续上 / re-import the same file to finish"
            )


@evidence_app.command("cases")
def cases_cmd(
    pack: PackOption = "cn",
    tz: CaseTzOption = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """按机构列出案件与违规次数 / List cases per lender with violation counts.

    时间默认按各案件短信导入时的时区显示 / Times are shown in each case's own zone (the
    --tz its messages were imported with) unless --tz is given."""
    from collectguard.evidence.history import build_cases
    from collectguard.evidence.letters import case_zone

    store = _store(db)
    try:
        rule_pack = _pack(pack)
        found = build_cases(store, rule_pack, zone=tz or rule_pack.timezone or "Asia/Shanghai")
        zones = {c.key: tz or case_zone(store, c) or "Asia/Shanghai" for c in found}
    finally:
        store.close()
    if as_json:
        print(json.dumps([_case_dict(c, timeline=False) for c in found], ensure_ascii=False))
        return
    if not found:
        out.print("还没有催收短信，请先导入 / no collection messages yet; import a backup first")
        return
    table = Table(title="案件 / cases")
    for col in (
        "案件 / case",
        "机构 / lender",
        "短信 / msgs",
        "来电 / calls",
        "首次 / first",
        "最近 / last",
        "违规 / violations",
        "最重 / worst",
    ):
        table.add_column(col)
    for c in found:
        _row(
            table,
            c.key,
            c.name,
            str(c.messages),
            str(c.calls),
            _fmt_time(c.first, zones[c.key]),
            _fmt_time(c.last, zones[c.key]),
            ", ".join(f"{k}×{n}" for k, n in c.code_counts.most_common()) or "—",
            c.max_severity or "—",
        )
    out.print(table)


@case_app.command("show")
def case_show(
    key: Annotated[str, typer.Argument(help="案件编号，见 cases / case key from `cases`")],
    pack: CasePackOption = None,
    tz: CaseTzOption = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """一个案件的时间线、每日次数与跨短信违规 / A case's timeline, daily counts and history.

    规则包和时区默认按案件本身（美国案件用 us 规则包和导入时的时区）/ The pack and zone
    default to the case's own (a US case: the us pack and the zone it was imported in)."""
    store = _store(db)
    try:
        c, _rule_pack, tz, _jurisdiction = _letter_case(store, key, pack, tz, force=True)
    finally:
        store.close()
    if as_json:
        print(json.dumps(_case_dict(c, timeline=True), ensure_ascii=False))
        return
    out.print(f"[bold]{escape(c.name)}[/] ({escape(c.key)})")
    out.print(
        f"短信 {c.messages} 条、来电 {c.calls} 次，{_fmt_time(c.first, tz)} — "
        f"{_fmt_time(c.last, tz)} / {c.messages} messages, {c.calls} calls"
    )
    if c.undated_copies:
        out.print(
            f"另有 {c.undated_copies} 条无时间的副本（同一短信另有带时间的记录）未重复计入 / "
            f"{c.undated_copies} undated cop{'y' if c.undated_copies == 1 else 'ies'} of dated "
            "messages not counted twice"
        )
    if c.findings:
        out.print("[bold]跨短信违规 / across messages[/]")
        for f in c.findings:
            out.print(escape(f"  {f.title_zh} / {f.title_en} [{f.rule_id}] ×{f.count}: {f.detail}"))
    for zh, en in c.notes:
        out.print(escape(f"注 / note: {zh} / {en}"))
    if c.rule_counts:
        out.print("[bold]各规则次数 / per-rule counts[/]")
        for rule_id, n in c.rule_counts.most_common():
            out.print(f"  {rule_id}: {n}")
    if c.per_day:
        days = Table(title=f"每日次数（{tz}）/ per day ({tz})")
        for col in ("日期 / date", "短信 / sms", "来电 / calls", "未接 / unanswered"):
            days.add_column(col, justify="left" if col.startswith("日期") else "right")
        for date, day in sorted(c.per_day.items()):
            missed = c.calls_by_outcome.get(date, {}).get("call_unanswered", 0)
            _row(days, date, str(day["sms"]), str(day["call"]), str(missed) if day["call"] else "—")
        out.print(days)
    table = Table(title="时间线 / timeline")
    for col in (
        "时间 / time",
        "类型 / kind",
        "号码 / party",
        "收信人 / to",
        "内容 / content",
        "违规 / violations",
    ):
        table.add_column(col)
    for t in c.timeline:
        _row(
            table,
            _fmt_time(t.at, tz),
            "短信" if t.kind == "message" else "来电",
            t.party or "—",
            t.recipient,
            t.summary,
            ", ".join(dict.fromkeys(v.code for v in t.violations)) or "—",
        )
    out.print(table)


@evidence_app.command("letter")
def letter_cmd(
    key: Annotated[str, typer.Argument(help="案件编号，见 cases / case key from `cases`")],
    kind: Annotated[
        str | None,
        typer.Option(
            "--kind",
            "-k",
            help=f"信函类型；默认为最适合此案件的一种 / letter kind (default: the one that fits "
            f"the case best): {', '.join(_LETTER_KINDS)}",
        ),
    ] = None,
    lang: Annotated[
        str | None,
        typer.Option("--lang", help="语言 zh 或 en；默认为该信函的首选语言 / language: zh, en"),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="输出文件；后缀 .md/.docx/.pdf/.txt（纯文本，便于粘贴到网页表单）决定格式，省略则"
            "打印 Markdown / output file; .md, .docx, .pdf or .txt (plain text for web forms) "
            "picks the format; omitted: Markdown on stdout",
        ),
    ] = None,
    pack: CasePackOption = None,
    tz: CaseTzOption = None,
    force: ForceOption = False,
    db: DbOption = None,
) -> None:
    """生成投诉信、报警摘要、征信异议等，引用违规规则并列出证据哈希 / Write a letter.

    例 / e.g.: collectguard evidence letter jingdong_cfc -o 投诉.pdf；
    collectguard evidence letter jingdong_cfc --kind police_report --lang zh -o 报警.docx
    """
    from collectguard.evidence.letters import (
        LETTER_KINDS,
        case_is_scam,
        case_recommendation,
        letter_context,
        render_letter,
        to_text,
        write_docx,
        write_pdf,
    )

    if output is not None:
        _writable(output, (".pdf", ".docx", ".md", ".markdown", ".txt"))
    store = _store(db)
    try:
        case, rule_pack, zone, jurisdiction = _letter_case(store, key, pack, tz, force)
        if kind is None:
            _, recommended = case_recommendation(store, case, jurisdiction)  # its own kinds
            default = "cfpb_narrative" if jurisdiction == "us" else "lender_complaint"
            kind = recommended[0] if recommended else default
        elif kind not in LETTER_KINDS:
            raise _fail(
                f"没有这种信函 {kind!r} / no letter kind {kind!r}; use one of "
                + ", ".join(LETTER_KINDS)
            )
        _check_fits(kind, jurisdiction, case_is_scam(case), force)
        context = letter_context(store, case, pack=rule_pack, zone=zone)
    finally:
        store.close()
    if not context["violations"] and not context["findings"]:
        err.print(
            f"提示：本工具未在案件 {key} 中识别出违规，信函里“问题”一节留空待您填写；请确认确有"
            f"可投诉之处再寄出 / note: no rule broken was found in case {key}; the letter leaves "
            "what they did for you to fill in: make sure there is something to complain about"
        )
    lang = lang or LETTER_KINDS[kind].languages[0]
    try:
        letter = render_letter(kind, lang, context)
        if output is None:
            print(letter.markdown, end="")
            return
        suffix = output.suffix.lower()
        if suffix == ".pdf":
            _hint_slow_pdf()
            write_pdf(letter, output)
        elif suffix == ".docx":
            write_docx(letter, output)
        elif suffix == ".txt":  # plain text, for pasting into a web form
            output.write_text(to_text(letter), encoding="utf-8")
        elif suffix in (".md", ".markdown"):
            output.write_text(letter.markdown, encoding="utf-8")
        else:
            raise _fail(f"不支持的后缀 {suffix!r} / use .md, .docx or .pdf")
    except CollectguardError as exc:
        raise _fail(str(exc)) from None
    out.print(f"已写入 / written: {escape(str(output))}（{kind}, {lang}）")


def _hint_slow_pdf() -> None:
    """Say, before a PDF is rendered, when it will be slow for want of libharfbuzz-subset."""
    from collectguard.evidence.letters import slow_pdf_hint

    hint = slow_pdf_hint()
    if hint:
        err.print(hint)


def _letter_case(
    store: EvidenceStore, key: str, pack: str | None, tz: str | None, force: bool
) -> tuple[Case, RulePack, str, str]:
    """(case, pack, zone, jurisdiction) for a letter or bundle: the pack and zone the user
    named, else those the case's messages were analysed and imported with. The jurisdiction
    is always the case's own (its messages' analysis); a --pack of another jurisdiction is
    refused unless forced."""
    from collectguard.evidence.history import build_cases
    from collectguard.evidence.letters import case_jurisdiction, case_zone

    first_pack = _pack(pack or "cn")
    first_zone = tz or first_pack.timezone or "Asia/Shanghai"
    match = [c for c in build_cases(store, first_pack, zone=first_zone) if c.key == key]
    if not match:
        raise _fail(f"没有案件 {key!r}，见 cases / no case {key!r}; see `cases`")
    case = match[0]
    jurisdiction = case_jurisdiction(store, case)
    if pack is None:
        rule_pack = first_pack if jurisdiction == "cn" else _pack(jurisdiction)
    else:
        rule_pack = first_pack
        given = "us" if rule_pack.jurisdiction.lower().startswith("us") else "cn"
        if given != jurisdiction:
            why = (
                f"此案件的短信按 {jurisdiction} 规则包分析，--pack {pack} 属于 {given}，不符 / the "
                f"case's messages were analysed under the {jurisdiction} pack; --pack {pack} "
                f"is a {given} pack"
            )
            if not force:
                raise _fail(f"{why}（确需使用请加 --force / add --force to use it anyway）")
            err.print(f"[yellow]注意 / note:[/] {escape(why)}")
    zone = tz or case_zone(store, case) or rule_pack.timezone or first_zone
    if rule_pack is not first_pack or zone != first_zone:
        again = [c for c in build_cases(store, rule_pack, zone=zone) if c.key == key]
        case = again[0] if again else case
    return case, rule_pack, zone, jurisdiction


def _check_fits(kind: str, jurisdiction: str, scam: bool, force: bool) -> None:
    from collectguard.evidence.letters import letter_fits

    why = letter_fits(kind, jurisdiction, scam=scam)
    if why is None:
        return
    if not force:
        raise _fail(f"{why}（确需生成请加 --force / add --force to write it anyway）")
    err.print(f"[yellow]注意 / note:[/] {escape(why)}")


@evidence_app.command("export")
def export_cmd(
    key: Annotated[str, typer.Argument(help="案件编号，见 cases / case key from `cases`")],
    output: Annotated[
        Path, typer.Option("--output", "-o", help="证据包 zip 路径 / bundle zip to write")
    ],
    letter: Annotated[
        list[str] | None,
        typer.Option(
            "--letter",
            help="附带的信函 KIND[:LANG]，可重复；默认为最适合此案件的一种 / letters to include, "
            "KIND[:LANG], repeatable; default: the one that fits the case best",
        ),
    ] = None,
    pack: CasePackOption = None,
    tz: CaseTzOption = None,
    force: ForceOption = False,
    db: DbOption = None,
) -> None:
    """导出案件证据包（清单、账本、短信表、PDF 报告、信函、附件）/ Export a case bundle.

    默认附上最适合此案件的信函 / by default the bundle holds the letter that fits the case
    best (e.g. a police report for a scam, not a complaint to the impersonated lender).
    """
    from collectguard.evidence.bundle import export_bundle
    from collectguard.evidence.letters import (
        LETTER_KINDS,
        case_is_scam,
        case_recommendation,
    )

    _writable(output, (".zip",))
    store = _store(db)
    try:
        case, rule_pack, zone, jurisdiction = _letter_case(store, key, pack, tz, force)
        wanted: list[tuple[str, str]] = []
        if letter:
            for item in letter:
                kind, _, lang = item.partition(":")
                spec = LETTER_KINDS.get(kind)
                if spec is not None:
                    _check_fits(kind, jurisdiction, case_is_scam(case), force)
                wanted.append((kind, lang or (spec.languages[0] if spec else "zh")))
        else:
            _, recommended = case_recommendation(store, case, jurisdiction)
            if recommended:
                wanted.append((recommended[0], LETTER_KINDS[recommended[0]].languages[0]))
        _hint_slow_pdf()  # report.pdf and any PDF letters
        manifest = export_bundle(
            store, case, output, pack=rule_pack, zone=zone, letters=tuple(wanted)
        )
    except CollectguardError as exc:
        raise _fail(str(exc)) from None
    finally:
        store.close()
    out.print(
        f"已导出 / exported {escape(str(output))}: {len(manifest['files'])} files, "
        f"{manifest['items']} items, chain head {manifest['chain_head']}"
    )


@evidence_app.command("verify-bundle")
def verify_bundle_cmd(
    bundle: Annotated[Path, typer.Argument(help="证据包 zip / bundle zip")],
    expected_head: HeadOption = None,
    as_json: JsonOption = False,
) -> None:
    """不依赖数据库校验证据包 / Verify a bundle without the database (exit 1 if tampered)."""
    from collectguard.evidence.bundle import verify_bundle

    try:
        report = verify_bundle(bundle, expected_head=expected_head)
    except CollectguardError as exc:
        raise _fail(str(exc)) from None
    if as_json:
        print(json.dumps(dataclasses.asdict(report), ensure_ascii=False))
    else:
        out.print(report.describe(), markup=False)  # member names are the zip maker's
    if not report.ok:
        raise typer.Exit(1)


@evidence_app.command("verify")
def verify_cmd(
    expected_head: HeadOption = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """校验证据链：找出被修改、删除、插入或调换顺序的条目 / Verify the evidence chain."""
    from rich.progress import MofNCompleteColumn

    from collectguard.evidence.verify import verify_store

    store = _store(db)
    try:
        with _progress_bar("校验 / verifying", MofNCompleteColumn(), quiet=as_json) as tick:
            report = verify_store(store, expected_head=expected_head, progress=tick)
    finally:
        store.close()
    if as_json:
        print(
            json.dumps(
                {
                    "ok": report.ok,
                    "entries": report.chain.checked,
                    "head": report.chain.head,
                    "items": report.items_checked,
                    "chain_problems": [dataclasses.asdict(p) for p in report.chain.problems],
                    "item_problems": [dataclasses.asdict(p) for p in report.problems],
                    "unreadable": report.unreadable,
                },
                ensure_ascii=False,
            )
        )
    else:
        out.print(report.describe(), markup=False)
        if report.unreadable is None:
            out.print(f"链头 / head: {report.chain.head}")
    if not report.ok:
        raise typer.Exit(1)
