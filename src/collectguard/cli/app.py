"""Typer application: `check`, `rules`, `registry` (and sub-apps mounted from other parts).

Start-up pays only for what a command uses: the analyzer and the rule packs are imported
inside the commands that need them, and another part's sub-app is imported only when its
command is named (or for the full help; see `_mount_optional`). Typer evaluates every
command's signature at start-up, so signatures use only cheap types.
"""

from __future__ import annotations

import datetime as dt
import functools
import gc
import importlib
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape

from collectguard._version import __version__
from collectguard.errors import CollectguardError, InputError

if TYPE_CHECKING:
    from collectguard.analyze.analyzer import Analyzer
    from collectguard.analyze.result import CheckResult

app = typer.Typer(
    name="collectguard",
    help=(
        "催收短信体检：是哪家机构发的、是不是真的、是否合法、该怎么办。\n\n"
        "Check debt-collection messages: who sent it, is it real, is it lawful, what to do.\n\n"
        "Examples / 示例:\n\n"
        '  collectguard check "【XX金融】您已逾期，再不还款将通知你的家人和单位"\n\n'
        "  collectguard check --jsonl messages.jsonl > verdicts.jsonl\n\n"
        "  collectguard rules list --pack cn\n\n"
        "  collectguard registry search 借呗"
    ),
    no_args_is_help=True,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
)
rules_app = typer.Typer(
    help="规则包：列出、查看、运行注释样例 / Rule packs: list, show, test fixtures."
)
registry_app = typer.Typer(
    help="机构登记表：搜索、查看 / Platform registry: search and show entries."
)
app.add_typer(rules_app, name="rules")
app.add_typer(registry_app, name="registry")

err = Console(stderr=True)


def _fail(message: str, code: int = 2) -> typer.Exit:
    err.print(f"[bold red]错误 / error:[/] {escape(message)}", highlight=False)
    return typer.Exit(code)


def _analyzer(packs: list[str], registries: list[Path]) -> Analyzer:
    from collectguard.analyze.analyzer import Analyzer

    try:
        if not packs and not registries:
            return Analyzer.default()
        return Analyzer.from_options(packs, registries)
    except CollectguardError as exc:
        raise _fail(str(exc)) from None


@app.command()
def check(
    text: Annotated[
        str | None, typer.Argument(help="短信正文 / message text (omit when using --jsonl)")
    ] = None,
    sender: Annotated[
        str | None, typer.Option("--sender", "-s", help="发送号码或名称 / sender number or name")
    ] = None,
    at: Annotated[
        str | None,
        typer.Option(
            "--at", help="接收时间 ISO-8601，如 2025-01-14T23:15:00+08:00 / received time"
        ),
    ] = None,
    tz: Annotated[
        str | None,
        typer.Option(
            "--tz", help="收信人所在时区（IANA），如 Asia/Shanghai / recipient's time zone"
        ),
    ] = None,
    jurisdiction: Annotated[
        str | None,
        typer.Option(
            "--jurisdiction", "-j", help="cn 或 us；默认按语言和号码推断 / inferred by default"
        ),
    ] = None,
    jsonl: Annotated[
        str | None,
        typer.Option(
            "--jsonl",
            help=(
                "批量模式：每行一个 JSON（text, sender, received_at），'-' 为标准输入 / batch mode"
            ),
        ),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="输出 JSON / print the JSON verdict")
    ] = False,
    stop_on_error: Annotated[
        bool,
        typer.Option(
            "--stop-on-error", help="批量模式遇到坏行即停止（退出码2） / stop at the first bad line"
        ),
    ] = False,
    no_findings: Annotated[
        bool,
        typer.Option("--no-findings", help="批量输出不含 findings / omit findings in batch output"),
    ] = False,
    pack: Annotated[
        list[str],
        typer.Option("--pack", help="额外规则包或叠加包文件 / extra rule pack or overlay file"),
    ] = [],  # noqa: B006 (Typer reads the default, never mutates it)
    registry: Annotated[
        list[Path],
        typer.Option("--registry", help="自定义机构登记文件（增补或覆盖）/ your registry file"),
    ] = [],  # noqa: B006
    lang: Annotated[str, typer.Option("--lang", help="zh 或 en / report language")] = "zh",
    fail_on: Annotated[
        str | None,
        typer.Option("--fail-on", help="scam 或 violation：命中时退出码为1 / exit 1 when found"),
    ] = None,
) -> None:
    """检查一条短信，或用 --jsonl 批量检查。Check one message, or a JSONL batch.

    Examples:

      collectguard check "【招联金融】您的借款已逾期，今天不还就上门" --sender 10690000

      collectguard check "Final notice: call us or we'll contact your employer" -j us --json

      cat messages.jsonl | collectguard check --jsonl - > verdicts.jsonl
    """
    from pydantic import ValidationError

    from collectguard.analyze.analyzer import describe_input_error
    from collectguard.analyze.result import CheckInput

    analyzer = _analyzer(pack, registry)
    analyzer.lang = "en" if lang.lower().startswith("en") else "zh"
    if jsonl is not None:
        if text is not None:
            raise _fail("give either TEXT or --jsonl, not both")
        _batch(analyzer, jsonl, stop_on_error, not no_findings)
        return
    if text is None:
        raise _fail('missing message text. Try: collectguard check "短信内容" (or --jsonl FILE)')
    received: dt.datetime | None = None
    if at:
        try:
            received = dt.datetime.fromisoformat(at.replace("Z", "+00:00"))
        except ValueError:
            raise _fail(
                f"--at {at!r} is not an ISO-8601 time, e.g. 2025-01-14T23:15:00+08:00"
            ) from None
    try:
        message = CheckInput(
            text=text, sender=sender, received_at=received, timezone=tz, jurisdiction=jurisdiction
        )
        result = analyzer.check(message)
    except ValidationError as exc:
        raise _fail(describe_input_error(exc)) from None
    except (InputError, ValueError) as exc:
        raise _fail(str(exc)) from None
    if as_json:
        sys.stdout.write(json.dumps(result.to_contract(), ensure_ascii=False, indent=2) + "\n")
    else:
        from collectguard.cli.report import render

        render(result, Console(), analyzer.lang)
    if fail_on == "scam" and result.authenticity == "scam":
        raise typer.Exit(1)
    if fail_on == "violation" and result.violations:
        raise typer.Exit(1)


def _batch(analyzer: Analyzer, source: str, stop_on_error: bool, findings: bool) -> None:
    from collectguard.cli.batch import run_batch

    try:
        stream = sys.stdin.buffer if source == "-" else Path(source).open("rb")
    except OSError as exc:
        raise _fail(f"cannot read {source}: {exc.strerror}") from None
    try:
        stats = run_batch(
            analyzer, stream, sys.stdout, stop_on_error=stop_on_error, include_findings=findings
        )
    except InputError as exc:
        sys.stdout.flush()
        raise _fail(str(exc)) from None
    finally:
        if stream is not sys.stdin.buffer:
            stream.close()
    if stats.errors:
        err.print(f"{stats.errors} of {stats.lines} lines had errors (see their error lines)")
        raise typer.Exit(3)


# ---------------------------------------------------------------------- rules
@rules_app.command("list")
def rules_list(
    pack: Annotated[str, typer.Option("--pack", help="cn, us, or a pack file")] = "cn",
) -> None:
    """列出规则包中的规则 / list the rules of a pack."""
    from rich.table import Table

    from collectguard.rules import resolve_pack

    try:
        p = resolve_pack(pack)
    except CollectguardError as exc:
        raise _fail(str(exc)) from None
    table = Table(title=f"{p.name} {p.version} — {p.spec.title.zh} / {p.spec.title.en}")
    for col in ("id", "code", "binding", "severity", "in force", "title"):
        table.add_column(col)
    for r in p.rules:
        table.add_row(r.id, r.code, r.binding, r.severity, str(r.in_force or "—"), r.title.zh)
    Console().print(table)


@rules_app.command("show")
def rules_show(rule_id: Annotated[str, typer.Argument(help="rule id, e.g. cn.hours")]) -> None:
    """显示一条规则的引用、效力和检测方式 / show one rule in full."""
    from collectguard.rules import Rule, load_builtin

    prefix = rule_id.split(".")[0]
    try:
        p = load_builtin(prefix)
    except CollectguardError as exc:
        raise _fail(str(exc)) from None
    item = p.get(rule_id)
    if not isinstance(item, Rule):
        raise _fail(
            f"no rule {rule_id!r} in pack {prefix}; see: collectguard rules list --pack {prefix}"
        )
    sys.stdout.write(json.dumps(item.model_dump(mode="json"), ensure_ascii=False, indent=2) + "\n")


@rules_app.command("test")
def rules_test(
    pack: Annotated[
        list[str], typer.Option("--pack", help="pack names (default: all built-in packs)")
    ] = [],  # noqa: B006
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """运行每条规则的注释样例（ruleid/ok）/ run every rule's annotated fixtures."""
    from collectguard.analyze.analyzer import Analyzer
    from collectguard.rules import BUILTIN_PACKS, fixture_text, load_builtin
    from collectguard.rules.fixtures import parse_fixtures, run_case

    analyzer = Analyzer.default()
    failures = 0
    total = 0
    todo = 0
    for name in pack or list(BUILTIN_PACKS):
        p = load_builtin(name)
        known = {r.id for r in p.rules}
        cases = parse_fixtures(fixture_text(name), f"{name}.fixtures.txt")
        for case in cases:
            total += 1
            outcome = run_case(case, functools.partial(_check_case, analyzer, pack=name), known)
            todo += len(outcome.todo_still_missing)
            if not outcome.ok:
                failures += 1
                err.print(
                    f"[red]FAIL[/] {name}.fixtures.txt:{case.line} "
                    f"missed={sorted(outcome.false_negatives)} "
                    f"unexpected={sorted(outcome.false_positives)} {outcome.wrong_expectations}\n"
                    f"     {case.text}",
                    highlight=False,
                )
            elif verbose:
                err.print(f"[green]ok[/] {name}:{case.line} {sorted(outcome.fired)}")
    Console().print(f"{total - failures} passed, {failures} failed ({todo} known gaps marked todo)")
    if failures:
        raise typer.Exit(1)


def _check_case(analyzer: Analyzer, case: object, pack: str) -> CheckResult:
    from collectguard.analyze.result import CheckInput
    from collectguard.rules.fixtures import FixtureCase

    assert isinstance(case, FixtureCase)
    return analyzer.check(
        CheckInput(
            text=case.text,
            sender=case.sender,
            received_at=case.at,
            timezone=case.tz,
            jurisdiction=pack,
        )
    )


# ---------------------------------------------------------------------- registry
@registry_app.command("search")
def registry_search(
    query: Annotated[
        str, typer.Argument(help="名称、产品、号码或域名 / name, product, number or domain")
    ],
) -> None:
    """按名称、品牌、产品、热线或域名搜索 / search by name, brand, product, hotline or domain."""
    from collectguard.analyze.analyzer import Analyzer
    from collectguard.cli.report import registry_table

    reg = Analyzer.default().registry
    hits = reg.search(query)
    if not hits:
        raise _fail(f"no registry entry matches {query!r}", 1)
    Console().print(registry_table(hits))


@registry_app.command("show")
def registry_show(
    entry_id: Annotated[str, typer.Argument(help="entry id, e.g. mashang_cfc")],
) -> None:
    """显示一个机构的全部登记信息（含来源和可信度）/ show one entry with sources."""
    from collectguard.analyze.analyzer import Analyzer

    reg = Analyzer.default().registry
    entry = reg.get(entry_id)
    if entry is None:
        raise _fail(f"no registry entry {entry_id!r}; try: collectguard registry search NAME")
    sys.stdout.write(json.dumps(entry.model_dump(mode="json"), ensure_ascii=False, indent=2) + "\n")


@app.command()
def version() -> None:
    """显示版本和规则包版本 / show versions."""
    from collectguard.rules import BUILTIN_PACKS, load_builtin

    packs = ", ".join(f"{n}@{load_builtin(n).version}" for n in BUILTIN_PACKS)
    sys.stdout.write(f"collectguard {__version__} (rule packs: {packs})\n")


_CORE_COMMANDS = frozenset({"check", "version", "rules", "registry"})


def _mount_optional() -> None:
    """Sub-apps owned by other parts of the package. Each imports its heavy dependencies
    (SQLAlchemy, FastAPI, DuckDB, Spark …) only when one of its commands runs; a part whose
    optional extra is not installed is simply absent."""
    mounts: list[tuple[str, str, str | None]] = [
        ("collectguard.repayment.cli", "plan_app", "plan"),
        ("collectguard.repayment.cli", "model_app", "model"),
        ("collectguard.evidence.cli", "evidence_app", "evidence"),
        ("collectguard.gateway.cli", "gateway_app", "gateway"),
        ("collectguard.audit.cli", "audit_app", "audit"),
        ("collectguard.web.cli", "web_app", None),  # its one command: `collectguard serve`
    ]
    argv = sys.argv
    first = argv[1] if Path(argv[0]).name == "collectguard" and argv[1:2] else None
    if first in _CORE_COMMANDS:
        return  # `collectguard check …` need not import SQLAlchemy, FastAPI and DuckDB
    # `collectguard evidence …` imports only the evidence part; help, no command or an
    # unknown one mount everything (so the help and the error list every command).
    wanted = [m for m in mounts if first is not None and (m[2] or "serve") == first]
    for module_name, attr, name in wanted or mounts:
        try:
            module = importlib.import_module(module_name)
        except ImportError:  # optional extra not installed
            continue
        sub = getattr(module, attr, None)
        if isinstance(sub, typer.Typer):
            if name is None:
                app.add_typer(sub)
            else:
                app.add_typer(sub, name=name)


_mount_optional()


def _database_error(exc: BaseException) -> str | None:
    """The driver's words when `exc` is a database error (SQLAlchemy's or sqlite3's), else
    None. Looked up by module name: a command that never opened a database must not pay for
    importing SQLAlchemy here."""
    if not type(exc).__module__.startswith(("sqlalchemy", "sqlite3", "psycopg")):
        return None
    orig = getattr(exc, "orig", None)
    return str(orig if orig is not None else exc).split("\n")[0][:300]


def main() -> None:
    try:
        app()
    except Exception as exc:
        words = _database_error(exc)
        if words is None:
            raise
        # A store whose file was damaged (or a server that went away) mid-command: say so
        # plainly instead of a traceback. `evidence verify` reports a damaged store itself.
        print(
            f"错误 / error: 数据库读写失败，文件可能已损坏或服务器已断开 / the database could "
            f"not be read or written (a damaged file, or the server went away): {words}",
            file=sys.stderr,
        )
        sys.exit(2)
    finally:
        # What the command built is about to be thrown away: move it out of the collector's
        # reach, so the interpreter's shutdown does not walk it in full collections (≈ 0.5 s
        # of CPU after every `evidence` command, ≈ 0.15 s after `check`). Objects are still
        # released by reference counting; stores and files are closed by the commands.
        gc.freeze()
