"""CLI: crawl a source once, now (``yuqing crawl --source ID``)."""

from __future__ import annotations

import typer

from config.cli.common import fail, open_engine, settings
from ledger.types import utcnow


def crawl_cmd(
    source: int = typer.Option(..., "--source", help="来源 id (source id)"),
) -> None:
    """立即抓取一个来源一次 (crawl one source once, now). 成功退出码 0，失败非 0 并给出原因."""
    from config.runtime import crawl_once
    from ledger.db import session_scope
    from ledger.posts.sources import SourceError, get_source

    cfg = settings()
    engine = open_engine(cfg)
    try:
        with session_scope(engine) as session:
            get_source(session, source)
    except SourceError as exc:
        fail(str(exc), code=2)
    report = crawl_once(engine, cfg, source, utcnow())
    if not report.ok:
        fail(f"抓取失败 (crawl failed): {report.error}"
             + ("；来源已标记为停摆 (source marked down)" if report.marked_down else ""))
    if report.not_modified:
        typer.echo("未变化 (not modified, 304)")
        return
    typer.echo(f"抓取完成 (crawled): 获取 {report.fetched} 条, 新增 {report.inserted}, "
               f"更新 {report.updated}, 未变 {report.unchanged}")
    if report.messages is not None:  # a 留言板: its citizens' messages
        m = report.messages
        typer.echo(f"留言 (messages): 新增 {m.inserted}, 更新 {m.updated}, 未变 {m.unchanged}")
    if report.warning:
        typer.echo(f"注意 (warning): {report.warning}")


def register(app: typer.Typer) -> None:
    app.command("crawl")(crawl_cmd)
