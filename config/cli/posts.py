"""CLI: list and search stored posts (``yuqing posts list|search``), with personal numbers masked."""

from __future__ import annotations

import typer

from config.cli.common import fail, iso_local, open_engine, parse_instant, print_json

posts_app = typer.Typer(help="帖文 (stored posts).", no_args_is_help=True)


@posts_app.command("list")
def list_cmd(
    limit: int = typer.Option(50, "--limit", help="最多条数 (max rows)"),
    source: int | None = typer.Option(None, "--source", help="只看某来源"),
    as_json: bool = typer.Option(False, "--json", help="JSON 数组输出"),
) -> None:
    """列出最新帖文，个人号码已脱敏 (newest posts; personal numbers masked)."""
    from ledger.db import session_scope
    from ledger.posts.queries import post_view, recent_posts

    if limit < 1 or limit > 100000:
        fail("--limit 须在 1 到 100000 之间", code=2)
    engine = open_engine()
    with session_scope(engine) as session:
        rows = [post_view(p) for p in recent_posts(session, limit=limit, source_id=source)]
    _print_posts(rows, as_json)


@posts_app.command("search")
def search_cmd(
    query: str = typer.Argument(..., help="检索词: 任意两个字以上的词语; 多个词以空格分隔, 须同时出现"),
    limit: int = typer.Option(50, "--limit", help="最多条数 (max rows)"),
    since: str | None = typer.Option(None, "--since", help="只看此时刻之后的帖文 (ISO 8601, 不带时区按北京时间)"),
    until: str | None = typer.Option(None, "--until", help="只看此时刻之前的帖文 (ISO 8601)"),
    source: int | None = typer.Option(None, "--source", help="只看某来源 (来源 id)"),
    sentiment: str | None = typer.Option(None, "--sentiment", help="情感: positive | neutral | negative"),
    category: str | None = typer.Option(None, "--category", help="监测类别名称, 如 重大突发事件和自然灾害"),
    count: bool = typer.Option(False, "--count", help="只输出匹配条数"),
    as_json: bool = typer.Option(False, "--json", help="JSON 数组输出"),
) -> None:
    """全文检索帖文标题和正文 (子串匹配, 不分词), 最新的在前; 个人号码已脱敏。"""
    from ledger.db import session_scope
    from ledger.posts.queries import post_view
    from ledger.posts.search import SearchError, SearchFilters, count_posts, search_posts

    if limit < 1 or limit > 100000:
        fail("--limit 须在 1 到 100000 之间", code=2)
    if sentiment is not None and sentiment not in ("positive", "neutral", "negative"):
        fail(f"--sentiment 须为 positive / neutral / negative: {sentiment!r}", code=2)
    filters = SearchFilters(
        since=parse_instant(since, "--since") if since else None,
        until=parse_instant(until, "--until") if until else None,
        source_id=source, sentiment=sentiment, category=category,
    )
    engine = open_engine()
    try:
        with session_scope(engine) as session:
            if count:
                typer.echo(str(count_posts(session, query=query, filters=filters)))
                return
            rows = [post_view(p) for p in search_posts(session, query=query, filters=filters, limit=limit)]
    except SearchError as exc:
        fail(str(exc), code=2)
    finally:
        engine.dispose()
    _print_posts(rows, as_json)


def _print_posts(rows: list[dict], as_json: bool) -> None:
    if as_json:
        for r in rows:
            r["published_at"] = iso_local(r["published_at"])
            r["fetched_at"] = iso_local(r["fetched_at"])
        print_json(rows)
        return
    for r in rows:
        when = iso_local(r["published_at"] or r["fetched_at"]) or "-"
        typer.echo(f"[{r['id']}] {when[:16]} {r['sentiment'] or '-':8} {(r['title'] or r['text'])[:60]}")


def register(app: typer.Typer) -> None:
    app.add_typer(posts_app, name="posts")
