"""CLI: crawl a source once, now (``yuqing crawl --source ID``)."""

from __future__ import annotations

import signal

import typer

from config.cli.common import fail, open_engine, settings
from ledger.types import utcnow


class CrawlTimeLimit(BaseException):
    """The crawl ran past ``crawl_time_limit_seconds`` (a BaseException, so that no handler of
    ordinary crawl errors swallows it)."""


class time_limit:
    """Raise :class:`CrawlTimeLimit` in the main thread after ``seconds`` (SIGALRM interrupts a
    blocking read, e.g. a server that drips one byte at a time)."""

    def __init__(self, seconds: int) -> None:
        self.seconds = seconds

    def _expired(self, _signum, _frame) -> None:
        raise CrawlTimeLimit

    def __enter__(self) -> None:
        self.previous = signal.signal(signal.SIGALRM, self._expired)
        signal.alarm(max(1, self.seconds))

    def __exit__(self, *exc) -> None:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, self.previous)


def crawl_cmd(
    source: int = typer.Option(..., "--source", help="来源 id (source id)"),
) -> None:
    """立即抓取一个来源一次 (crawl one source once, now). 成功退出码 0，失败非 0 并给出原因."""
    import config.alerting  # noqa: F401  (monitoring schemes checked on new posts; alert routing)
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
    limit = int(cfg.crawl_time_limit_seconds)
    try:
        # under `yuqing run` the service kills this command at the same limit: stop a few seconds
        # earlier, so that the command itself records the stop on the source (once)
        with time_limit(limit if limit <= 10 else limit - 5):
            report = crawl_once(engine, cfg, source, utcnow())
    except CrawlTimeLimit:
        from ledger.posts.sources import record_failure

        error = f"抓取超过时间上限 {limit} 秒，已终止 (crawl stopped at its time limit)"
        with session_scope(engine) as session:
            record_failure(session, source=get_source(session, source), error=error, now=utcnow(),
                           down_after=cfg.source_down_after)
        fail(f"抓取失败 (crawl failed): {error}")
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
