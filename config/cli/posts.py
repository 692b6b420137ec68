"""CLI: list stored posts (``yuqing posts list [--json] [--limit N]``), with personal numbers masked."""

from __future__ import annotations

import typer

from config.cli.common import fail, iso_local, open_engine, print_json

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
