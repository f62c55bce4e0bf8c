"""`collectguard audit …` (Typer sub-app `audit_app`): audit a communication log, and
generate synthetic logs with ground truth.

    collectguard audit LOG --pack cn [--engine local|spark] --out DIR [--rejects FILE]
                           [--error-budget N] [--workers N] [--overlay FILE]
                           [--policy FILE] [--work-dir DIR] [--memory-limit 2GB]
    collectguard audit generate OUT.csv --events 100000 [--truth truth.jsonl]

A first argument that is not a sub-command is the LOG of `audit run`. Exit codes: 0 audited
(with or without violations); 3 audited, some rows rejected; 2 stopped (unreadable log,
missing columns, error budget exceeded, bad rule pack or overlay, Spark unavailable).

The readers (DuckDB, NumPy, PyArrow), the rules and the engines are imported inside the
commands, so `--help` and `generate` do not pay for them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from typer.core import TyperGroup

from collectguard.errors import PolicyError, RulePackError


class _DefaultRun(TyperGroup):
    """`audit LOG …` means `audit run LOG …`."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["run", *args]
        return super().parse_args(ctx, args)


audit_app = typer.Typer(
    cls=_DefaultRun,
    help=(
        "催收通信日志审计：时段、频次、第三方与内容规则，评分卡与屡教不改名单，HTML/JSON 报告。\n\n"
        "Audit collection communication logs: time windows, frequency caps, third-party and "
        "content rules; scorecards, repeat offenders; HTML/JSON reports.\n\n"
        "Examples / 示例:\n\n"
        "  collectguard audit calls.csv --pack cn --out audit-2026-01\n\n"
        "  collectguard audit generate sample.csv --events 100000 --truth truth.jsonl"
    ),
    no_args_is_help=True,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
)


def _fail(zh: str, en: str, code: int = 2) -> NoReturn:
    typer.echo(f"错误：{zh}\nerror: {en}", err=True)
    raise typer.Exit(code)


@audit_app.command("run")
def run_cmd(
    log: Annotated[Path, typer.Argument(help="日志 / log: .csv, .jsonl or .parquet")],
    out: Annotated[Path, typer.Option("--out", help="输出目录 / output directory")] = Path(
        "audit-out"
    ),
    pack: Annotated[
        list[str] | None,
        typer.Option("--pack", help="规则包（内置名或文件）/ rule pack: cn, us or a file"),
    ] = None,
    engine: Annotated[str, typer.Option(help="local (DuckDB) 或 / or spark")] = "local",
    policy: Annotated[
        Path | None, typer.Option(help="网关策略文件 / gateway policy YAML (default: shipped)")
    ] = None,
    rejects: Annotated[
        Path | None, typer.Option(help="拒绝行文件 / rejects file (default OUT/rejects.jsonl)")
    ] = None,
    error_budget: Annotated[
        int | None, typer.Option(help="最多容忍的拒绝行数 / max rejected rows before stopping")
    ] = None,
    fallback_encoding: Annotated[
        str | None, typer.Option(help="非 UTF-8 行的备用编码 / e.g. gb18030")
    ] = None,
    strict_order: Annotated[
        bool, typer.Option(help="乱序行作为拒绝 / reject rows out of time order")
    ] = False,
    workers: Annotated[int, typer.Option(help="内容规则进程数 / content-rule processes")] = 1,
    read_workers: Annotated[
        int,
        typer.Option(help="校验进程数（多核时）/ row-validation processes (for 4+ cores)"),
    ] = 1,
    reachable_hours: Annotated[
        int,
        typer.Option(help="债务人联系上后视为可联系的小时数 / hours the debtor counts reachable"),
    ] = 72,
    repeat_window_days: Annotated[
        int, typer.Option(help="再犯窗口（天）/ repeat-offender window in days")
    ] = 30,
    sms_cap: Annotated[
        int | None, typer.Option(help="机构每日短信上限 / lender's daily SMS cap")
    ] = None,
    master: Annotated[str, typer.Option(help="Spark master")] = "local[2]",
    pdf: Annotated[
        bool, typer.Option(help="另存 PDF（需本机 Chromium）/ also write PDF (local Chromium)")
    ] = False,
    overlay: Annotated[
        list[Path] | None,
        typer.Option(
            "--overlay",
            help="规则包覆盖文件（extends: cn/us，可重复）/ rule-pack overlay file (repeatable)",
        ),
    ] = None,
    work_dir: Annotated[
        Path | None,
        typer.Option(
            help="校验后事件的临时目录 / where validated events are kept (default: TMPDIR)"
        ),
    ] = None,
    memory_limit: Annotated[
        str | None,
        typer.Option(help="DuckDB 内存上限，超出则落盘 / DuckDB memory limit, e.g. 2GB (spills)"),
    ] = None,
) -> None:
    """审计一个日志 / audit one log."""
    if engine not in ("local", "spark"):
        _fail(f"未知引擎 {engine!r}", f"unknown engine {engine!r}; use local or spark")
    from collectguard.audit.rules import AuditParams

    packs = tuple(p for p in (pack or []) if p not in ("cn", "us"))
    params = AuditParams(reachable_hours, repeat_window_days, sms_cap)
    from collectguard.audit.engine_spark import SparkUnavailable
    from collectguard.audit.pdf import PdfUnavailable
    from collectguard.audit.readers import AuditInputError
    from collectguard.audit.run import audit

    try:
        summary: dict[str, Any] = audit(
            log,
            out,
            engine=engine,  # type: ignore[arg-type]
            policy_path=policy,
            packs=packs,
            rejects=rejects,
            error_budget=error_budget,
            fallback_encoding=fallback_encoding,
            strict_order=strict_order,
            workers=workers,
            params=params,
            master=master,
            pdf=pdf,
            overlays=tuple(str(o) for o in overlay or ()),
            work_dir=work_dir,
            memory_limit=memory_limit,
            read_workers=read_workers,
        )
    except (AuditInputError, RulePackError, PolicyError, SparkUnavailable, PdfUnavailable) as exc:
        headings: tuple[tuple[type[Exception], str], ...] = (  # zh; the error itself is the en
            (AuditInputError, "日志无法审计（见下）"),
            (RulePackError, "规则包或覆盖文件有误（见下）"),
            (PolicyError, "策略文件有误（见下）"),
            (SparkUnavailable, "Spark 不可用"),
            (PdfUnavailable, "无法生成 PDF（HTML 报告已生成）"),
        )
        _fail(next(zh for kind, zh in headings if isinstance(exc, kind)), str(exc))
    lg = summary["log"]
    typer.echo(
        f"已审计 {lg['audited']:,} 行，拒绝 {lg['rejected']:,} 行（共 {lg['input_rows']:,} 行）；"
        f"违规 {summary['violations']:,} 条，涉及 {summary['violating_events']:,} 个事件；"
        f"升级名单 {summary['escalations']} 人。\n"
        f"audited {lg['audited']:,} rows, rejected {lg['rejected']:,} (of {lg['input_rows']:,}); "
        f"{summary['violations']:,} violations on {summary['violating_events']:,} events; "
        f"{summary['escalations']} agents to escalate.\n"
        f"→ {out}/report.zh-CN.html, report.en.html, violations.parquet, summary.json"
    )
    if lg["rejected"]:
        raise typer.Exit(3)


@audit_app.command("generate")
def generate_cmd(
    out: Annotated[Path, typer.Argument(help="输出日志 / output log (.csv, .jsonl, .parquet)")],
    events: Annotated[int, typer.Option(help="事件数 / number of events")] = 10_000,
    truth: Annotated[
        Path | None, typer.Option(help="真值文件 / ground-truth JSONL (default OUT.truth.jsonl)")
    ] = None,
    seed: Annotated[int, typer.Option()] = 7,
    shuffle: Annotated[bool, typer.Option(help="打乱顺序 / write events unsorted")] = False,
    corpus_dir: Annotated[
        Path | None, typer.Option(help="../shared/data 目录（可选的良性文本）/ optional corpus dir")
    ] = None,
    us_share: Annotated[
        float,
        typer.Option(
            min=0.0,
            max=1.0,
            help="美国债务人占比（FDCPA/Reg F 流量与注入）/ share of US debtors (FDCPA, Reg F)",
        ),
    ] = 0.0,
) -> None:
    """生成带真值的合成日志 / generate a synthetic log with injected ground truth.

    Written chunk by chunk (bounded memory, any size); with --shuffle the events are shuffled
    within each chunk (about one day of traffic). With --us-share 0.2 a fifth of the debtors
    are US debtors: English texts and calls, with night texts, Reg F 7-in-7 and after-a-
    conversation calls injected, and excluded calls (prior consent, the debtor's request) that
    must not be flagged."""
    from collectguard.audit.generate import stream_log, write_stream

    truth_path = truth or out.with_name(out.name + ".truth.jsonl")
    stream = stream_log(
        events, seed=seed, corpus_dir=corpus_dir, shuffle=shuffle, us_share=us_share
    )
    try:
        n = write_stream(stream, out, truth_path)
    except ValueError as exc:
        _fail("无法写出日志", str(exc))
        return
    typer.echo(
        f"已生成 {n:,} 个事件，注入 {len(stream.truth):,} 处违规 → {out}, {truth_path}\n"
        f"generated {n:,} events with {len(stream.truth):,} injected violations"
    )
