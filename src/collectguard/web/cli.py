"""The ``serve`` command (Typer sub-app `web_app`): start the web app with uvicorn.

Mounted by the main CLI as ``collectguard serve``. Prints the demo passwords when ``--demo``
seeds the database.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

__all__ = ["web_app"]

web_app = typer.Typer(
    help="网页端：短信体检、借款人门户、合规工作台 / Web app: checker, borrower portal, staff desk",
    no_args_is_help=True,
)


@web_app.command("serve")
def serve(
    host: Annotated[str, typer.Option(help="监听地址 / address to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="端口 / port")] = 8000,
    demo: Annotated[
        bool,
        typer.Option("--demo", help="写入演示数据并打印密码 / seed demo data, print passwords"),
    ] = False,
    db: Annotated[
        str | None, typer.Option("--db", help="数据库 URL（默认 SQLite）/ database URL")
    ] = None,
    data_dir: Annotated[
        Path | None, typer.Option(help="数据目录 / data folder (database, session secret)")
    ] = None,
    gateway_db: Annotated[
        Path | None,
        typer.Option(
            "--gateway-db",
            help="网关的 SQLite 数据库：显示决策、同步联系偏好 / gateway database file",
        ),
    ] = None,
    secure_cookies: Annotated[
        bool, typer.Option(help="仅 HTTPS 发送会话 Cookie / Secure session cookie (behind HTTPS)")
    ] = False,
) -> None:
    """启动网页端 / Start the web app."""
    import uvicorn

    from collectguard.web.app import create_app
    from collectguard.web.settings import WebSettings

    gateway_options: dict[str, object] = {}
    if gateway_db:
        from collectguard.gateway import DecisionLog, Gateway, SqlStateStore
        from collectguard.gateway.store import sqlite_engine

        engine = sqlite_engine(f"sqlite:///{gateway_db}")
        log = DecisionLog(engine)
        gateway = Gateway(SqlStateStore(engine), log)
        gateway_options = {"decision_log": log, "on_contact_preferences": gateway.set_preferences}
    settings = WebSettings.from_env(
        db_url=db, data_dir=data_dir, secure_cookies=secure_cookies or None, **gateway_options
    )
    app = create_app(settings)
    if demo:
        from collectguard.web.demo import seed_demo

        passwords = seed_demo(app.state.web.sessions, now=settings.clock())
        typer.echo("演示账号 / demo accounts:")
        for username, password in passwords.items():
            typer.echo(f"  {username:<10} {password}")
    from collectguard import Analyzer

    Analyzer.default()  # compile the rule packs now, not on the first visitor's request
    typer.echo(f"数据库 / database: {settings.database_url()}")
    typer.echo(f"打开 / open: http://{host}:{port}/")
    uvicorn.run(app, host=host, port=port, log_level="info")


if __name__ == "__main__":  # ``python -m collectguard.web.cli --demo`` (one command: no name)
    web_app()
