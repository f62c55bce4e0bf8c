"""`collectguard gateway …` commands (Typer sub-app `gateway_app`): `serve` (uvicorn),
`check` (one decision from the command line), `export` and `verify` (the decision log).

Owns argument parsing and the readable zh-CN/English rendering of a decision; the decision
itself comes from `Gateway`.

Start-up pays only for what a command uses: the models, YAML, uvicorn, SQLAlchemy and the
gateway itself are imported inside the commands that need them (Typer evaluates every
command's signature at start-up, so signatures use only cheap types).
"""

from __future__ import annotations

import sys
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from collectguard.errors import CollectguardError

if TYPE_CHECKING:
    from collectguard.gateway.log import DecisionLog
    from collectguard.gateway.models import Decision

gateway_app = typer.Typer(
    help=(
        "发送前合规网关：每次联系前询问 allow / deny / defer。\n\n"
        "Pre-send compliance gateway: ask before every contact attempt.\n\n"
        "Examples / 示例:\n\n"
        "  collectguard gateway serve --db gateway.db --port 8080\n\n"
        '  collectguard gateway check --text "【XX金融】您的借款已逾期" --phone 13812345678 '
        "--tz Asia/Shanghai --jurisdiction cn"
    ),
    no_args_is_help=True,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
)

_VERDICT_ZH = {"allow": "允许", "deny": "拒绝", "defer": "推迟"}


def default_db() -> Path:
    from platformdirs import user_data_dir

    path = Path(user_data_dir("collectguard")) / "gateway.db"
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def _templates(path: Path | None) -> dict[str, str] | None:
    if path is None:
        return None
    from collectguard._yaml import safe_load as safe_yaml

    data = safe_yaml(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        raise typer.BadParameter("templates file must map template id → text")
    return {str(k): v for k, v in data.items()}


DbOpt = Annotated[Path | None, typer.Option("--db", help="SQLite file (state and decision log)")]
RedisOpt = Annotated[
    str | None, typer.Option("--redis-url", help="Redis state for several replicas")
]
LedgerOpt = Annotated[
    str | None,
    typer.Option("--ledger-url", help="SQLAlchemy URL of a shared decision log (replicas)"),
]
PolicyOpt = Annotated[Path | None, typer.Option("--policy", help="policy YAML (stricter)")]
DryOpt = Annotated[
    bool, typer.Option("--dry-run", help="allow everything, log what would have been denied")
]
PackOpt = Annotated[
    list[str] | None,
    typer.Option("--pack", help="rule pack or overlay file for the content rules (repeatable)"),
]
TplOpt = Annotated[Path | None, typer.Option("--templates", help="YAML: template id → text")]


@gateway_app.command()
def serve(
    host: Annotated[str, typer.Option(help="bind address")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port")] = 8080,
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            help="worker processes: one per core; on Redis at least 2 (a worker waits for "
            "Redis during each decision)",
        ),
    ] = 1,
    db: DbOpt = None,
    redis_url: RedisOpt = None,
    ledger_url: LedgerOpt = None,
    policy: PolicyOpt = None,
    dry_run: DryOpt = False,
    templates: TplOpt = None,
    pack: PackOpt = None,
    access_log: Annotated[
        bool,
        typer.Option(
            "--access-log/--no-access-log",
            help="uvicorn's line per request (the decision log records every decision anyway; "
            "off saves a few percent of CPU at high rates)",
        ),
    ] = True,
) -> None:
    """启动 HTTP 网关 / Start the HTTP gateway (OpenAPI at /docs)."""
    import os

    import uvicorn

    from collectguard.gateway.http import ENV_PREFIX

    _templates(templates)  # fail early on a bad file
    if policy is not None:
        from collectguard.gateway.policy import load_policy

        try:
            load_policy(policy)  # the workers load it again; a bad file stops here, clearly
        except CollectguardError as exc:
            typer.echo(f"错误 / error: {exc}", err=True)
            raise typer.Exit(2) from None
    env = {
        "DB": str(db or default_db()),
        "REDIS_URL": redis_url or "",
        "LEDGER_URL": ledger_url or "",
        "POLICY": str(policy) if policy else "",
        "DRY_RUN": "1" if dry_run else "",
        "TEMPLATES": str(templates) if templates else "",
        "PACKS": os.pathsep.join(pack or []),
    }
    os.environ.update({ENV_PREFIX + k: v for k, v in env.items()})
    uvicorn.run(
        "collectguard.gateway.http:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="info",
        access_log=access_log,
    )


@gateway_app.command()
def check(
    text: Annotated[str | None, typer.Option(help="message text (sms/email/push)")] = None,
    request: Annotated[
        Path | None, typer.Option("--request", help="a DecisionRequest JSON file, or - for stdin")
    ] = None,
    channel: Annotated[str, typer.Option(help="sms|call|ai_voice|email|app_push|visit")] = "sms",
    role: Annotated[str, typer.Option(help="debtor|guarantor|emergency_contact|third_party")] = (
        "debtor"
    ),
    phone: Annotated[str | None, typer.Option(help="recipient number")] = None,
    tz: Annotated[str | None, typer.Option("--tz", help="recipient IANA zone (required)")] = None,
    jurisdiction: Annotated[str, typer.Option(help="cn|us")] = "cn",
    state: Annotated[str | None, typer.Option(help="US state, e.g. MA")] = None,
    at: Annotated[str | None, typer.Option(help="planned time, ISO-8601 with offset")] = None,
    debt: Annotated[str, typer.Option(help="debt id")] = "cli-debt",
    debtor: Annotated[str, typer.Option(help="debtor id")] = "cli-debtor",
    agent: Annotated[str, typer.Option(help="agent id")] = "cli",
    key: Annotated[str | None, typer.Option(help="idempotency key (default: random)")] = None,
    consent: Annotated[bool, typer.Option(help="record night-time consent first")] = False,
    call_consent_at: Annotated[
        str | None,
        typer.Option(
            "--call-consent-at",
            help="record first when the debtor gave prior consent to calls directly to the "
            "collector (ISO-8601 with offset); US: calls to the debtor on that day through "
            "day 7 do not count toward the Reg F call frequencies (12 CFR 1006.14(b)(3)(i))",
        ),
    ] = None,
    responds_to_request: Annotated[
        bool,
        typer.Option(
            "--responds-to-request",
            help="this call answers the recipient's own request for information or a call, "
            "made directly to the collector (US: not counted toward the Reg F call "
            "frequencies)",
        ),
    ] = False,
    unreachable: Annotated[bool, typer.Option(help="record debtor unreachable first")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print the decision as JSON")] = False,
    db: DbOpt = None,
    redis_url: RedisOpt = None,
    policy: PolicyOpt = None,
    dry_run: DryOpt = False,
    templates: TplOpt = None,
    pack: PackOpt = None,
    ledger_url: LedgerOpt = None,
) -> None:
    """一次决定 / One decision. Exit 0 allow, 1 deny or defer, 2 bad input."""
    import yaml
    from pydantic import ValidationError

    from collectguard.gateway.models import ContactProfile, DecisionRequest
    from collectguard.gateway.service import build_gateway

    try:
        if request is not None:
            raw = sys.stdin.read() if str(request) == "-" else request.read_text("utf-8")
            req = DecisionRequest.model_validate_json(raw)
        else:
            req = DecisionRequest.model_validate(
                {
                    "debt_id": debt,
                    "debtor_id": debtor,
                    "recipient": {"role": role, "phone": phone, "timezone": tz},
                    "channel": channel,
                    "text": text,
                    "agent_id": agent,
                    "planned_at": at,
                    "idempotency_key": key or f"cli-{uuid.uuid4().hex}",
                    "jurisdiction": jurisdiction,
                    "state": state,
                    "responds_to_request": responds_to_request,
                }
            )
        if responds_to_request and not req.responds_to_request:  # given with --request
            req = req.model_copy(update={"responds_to_request": True})
        update: dict[str, Any] = {}
        if consent:
            update["night_consent"] = True
        if unreachable:
            update["debtor_unreachable"] = True
        if call_consent_at is not None:
            update["call_consent_at"] = call_consent_at
        ContactProfile.model_validate(update)  # bad input: exit 2 before anything is stored
    except (ValidationError, ValueError, OSError) as exc:
        typer.echo(f"错误 / error: {exc}", err=True)
        raise typer.Exit(2) from None
    try:
        gw = build_gateway(
            db=db or default_db(),
            redis_url=redis_url,
            ledger_url=ledger_url,
            policy_path=policy,
            dry_run=dry_run,
            templates=_templates(templates),
            packs=pack or None,
        )
    except (CollectguardError, ValidationError, ValueError, OSError, yaml.YAMLError) as exc:
        typer.echo(f"错误 / error: {exc}", err=True)
        raise typer.Exit(2) from None
    if update:
        prof = gw.get_profile(req.debtor_id)
        gw.set_profile(
            req.debtor_id, ContactProfile.model_validate({**prof.model_dump(), **update})
        )
    decision = gw.decide(req)
    if as_json:
        typer.echo(decision.model_dump_json(indent=2))
    else:
        typer.echo(render(decision))
    raise typer.Exit(0 if decision.decision == "allow" else 1)


def render(d: Decision) -> str:
    """A decision for people: zh-CN first, English second."""
    lines = [f"决定 / decision: {_VERDICT_ZH[d.decision]} {d.decision}"]
    if d.dry_run and d.would_have:
        lines.append(
            f"演练模式：实际会{_VERDICT_ZH[d.would_have]} / dry run: would have {d.would_have}"
        )
    if d.not_before:
        lines.append(f"最早可发送 / not before: {d.not_before.isoformat()}")
    if d.replayed:
        lines.append("重复请求，返回首次决定 / replayed: first decision returned")
    for note in d.notes:
        lines.append(f"备注 / note: {note}")
    for r in d.reasons:
        lines.append(f"- [{r.rule_id}] ({r.binding}) {r.message_zh}")
        lines.append(f"  {r.message_en}")
        lines.append(f"  依据 / citation: {r.citation}")
        if r.fix:
            lines.append(f"  修改 / fix: {r.fix}")
    lines.append(f"规则包 / rule pack: {d.rule_pack}; policy {d.policy_version}")
    lines.append(f"决定编号 / decision id: {d.decision_id}")
    if d.attempt_id:
        lines.append(f"联系编号 / attempt id: {d.attempt_id}")
    return "\n".join(lines)


@gateway_app.command()
def profile(
    debtor: Annotated[str, typer.Argument(help="debtor id")],
    night_consent: Annotated[
        bool | None, typer.Option("--night-consent/--no-night-consent", help="consent on file")
    ] = None,
    opt_out: Annotated[
        list[str] | None, typer.Option("--opt-out", help="channel the debtor opted out of")
    ] = None,
    opt_in: Annotated[list[str] | None, typer.Option("--opt-in", help="undo an opt-out")] = None,
    cease: Annotated[
        bool | None, typer.Option("--cease/--no-cease", help="debtor asked contact to cease")
    ] = None,
    attorney: Annotated[
        bool | None, typer.Option("--attorney/--no-attorney", help="represented by a lawyer")
    ] = None,
    unreachable: Annotated[
        bool | None, typer.Option("--unreachable/--reachable", help="debtor cannot be reached")
    ] = None,
    objected: Annotated[
        list[str] | None, typer.Option("--objected", help="a third party's phone that objected")
    ] = None,
    hours: Annotated[
        str | None, typer.Option("--hours", help="preferred hours HH:MM-HH:MM, or 'none'")
    ] = None,
    call_consent_at: Annotated[
        str | None,
        typer.Option(
            "--call-consent-at",
            help="when the debtor gave prior consent to calls directly to the collector "
            "(ISO-8601 with offset), or 'none' (revoked)",
        ),
    ] = None,
    call_consent_days: Annotated[
        int | None,
        typer.Option("--call-consent-days", help="days that consent covers, 1–7 (default 7)"),
    ] = None,
    db: DbOpt = None,
    redis_url: RedisOpt = None,
    ledger_url: LedgerOpt = None,
) -> None:
    """查看或修改债务人的联系偏好与状态（修改会记入决策日志）/ Show or change a debtor's
    contact profile (changes are logged)."""
    from pydantic import ValidationError

    from collectguard.gateway.models import ContactProfile
    from collectguard.gateway.service import build_gateway

    gw = build_gateway(db=db or default_db(), redis_url=redis_url, ledger_url=ledger_url)
    prof = gw.get_profile(debtor)
    data = prof.model_dump()
    changed = False
    for field, value in (
        ("night_consent", night_consent),
        ("cease_communication", cease),
        ("attorney_represented", attorney),
        ("debtor_unreachable", unreachable),
    ):
        if value is not None:
            data[field] = value
            changed = True
    if opt_out or opt_in:
        chans = [c for c in data["opted_out_channels"] if c not in (opt_in or [])]
        data["opted_out_channels"] = chans + [c for c in opt_out or [] if c not in chans]
        changed = True
    if objected:
        data["objected_contacts"] = [*data["objected_contacts"], *objected]
        changed = True
    if call_consent_at is not None:
        data["call_consent_at"] = None if call_consent_at == "none" else call_consent_at
        changed = True
    if call_consent_days is not None:
        data["call_consent_days"] = call_consent_days
        changed = True
    if hours is not None:
        if hours == "none":
            data["preferred_hours"] = None
        else:
            start, _, end = hours.partition("-")
            data["preferred_hours"] = {"start": start, "end": end}
        changed = True
    if changed:
        try:
            new = ContactProfile.model_validate(data)
        except ValidationError as exc:
            typer.echo(f"错误 / error: {exc}", err=True)
            raise typer.Exit(2) from None
        gw.set_profile(debtor, new)
        prof = new
    typer.echo(prof.model_dump_json(indent=2))


@gateway_app.command()
def export(
    db: DbOpt = None,
    out: Annotated[Path | None, typer.Option("--out", help="JSONL file (default stdout)")] = None,
    ledger_url: LedgerOpt = None,
) -> None:
    """导出决策日志（JSONL，末行为链头）/ Export the decision log for audit."""
    log = _decision_log(db, ledger_url)
    if out is None:
        report = log.export_jsonl(sys.stdout)
    else:
        with out.open("w", encoding="utf-8") as fh:
            report = log.export_jsonl(fh)
    typer.echo(report.describe(), err=True)
    raise typer.Exit(0 if report.ok else 1)


@gateway_app.command()
def verify(
    db: DbOpt = None,
    head: Annotated[str | None, typer.Option(help="expected chain head from an export")] = None,
    ledger_url: LedgerOpt = None,
) -> None:
    """校验决策日志哈希链 / Verify the decision log's hash chain."""
    report = _decision_log(db, ledger_url).verify(head)
    typer.echo(report.describe())
    raise typer.Exit(0 if report.ok else 1)


def _decision_log(db: Path | None, ledger_url: str | None) -> DecisionLog:
    """The decision log in `--ledger-url` (replicas sharing one) or in the SQLite `--db`."""
    from sqlalchemy import create_engine

    from collectguard.gateway.log import DecisionLog
    from collectguard.gateway.store import sqlite_engine

    if ledger_url:
        return DecisionLog(create_engine(ledger_url))
    return DecisionLog(sqlite_engine(f"sqlite:///{db or default_db()}"))
