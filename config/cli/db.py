"""CLI: database schema commands (``yuqing db upgrade``, ``yuqing db current``)."""

from __future__ import annotations

import typer

from config.cli.common import fail, settings

db_app = typer.Typer(help="数据库 (database schema).", no_args_is_help=True)


@db_app.command("upgrade")
def upgrade_cmd() -> None:
    """把数据库升级到最新结构 (apply all migrations to the database in YUQING_DATABASE_URL)."""
    from ledger.migrate import upgrade

    cfg = settings()
    try:
        upgrade(cfg.effective_database_url)
    except Exception as exc:
        fail(f"数据库升级失败 (migration failed): {exc.__class__.__name__}: {exc}")
    typer.echo("数据库已是最新结构 (database upgraded)")


@db_app.command("current")
def current_cmd() -> None:
    """显示数据库当前版本 (show the applied migration revisions)."""
    from ledger.db import make_engine
    from ledger.migrate import current

    cfg = settings()
    try:
        revs = current(make_engine(cfg.effective_database_url))
    except Exception as exc:
        fail(f"无法读取数据库 (cannot read database): {exc}")
    typer.echo(", ".join(sorted(revs)) or "(空 / empty)")


def register(app: typer.Typer) -> None:
    app.add_typer(db_app, name="db")
