"""CLI area 'events': list the hottest events (热点事件) and show the posts of one event."""

from __future__ import annotations

from pathlib import Path

import typer
from sqlalchemy.exc import SQLAlchemyError

from config.cli.common import fail, iso_local, open_engine, parse_now, print_json

events_app = typer.Typer(
    help="事件 (events): 同一事情的多条帖子聚为一个事件, 按热度排序。",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    """Add this area's commands to the main app."""
    app.add_typer(events_app, name="events")


@events_app.command("list")
def list_events(
    top: int = typer.Option(10, "--top", min=1, max=1000, help="显示前 N 个事件"),
    as_json: bool = typer.Option(False, "--json", help="输出 JSON 数组"),
    now: str | None = typer.Option(None, "--now", help="计算热度的时刻 ISO 8601 (默认当前时间)"),
    min_posts: int = typer.Option(1, "--min-posts", min=1, help="只列出帖子数不少于此值的事件"),
) -> None:
    """列出最热的事件: 标题、关键词、帖子数、首次/最近出现时间、热度与趋势。

    List the hottest events with id, title, keywords, posts, first_seen, last_seen, heat,
    likes and trend (last hour against the previous 12 hours). Heat decays with the time since
    the event was last seen (see docs/BENCHMARKS.md, Events)."""
    from ledger.db import session_scope
    from ledger.posts.event_views import top_events

    at = parse_now(now)
    engine = open_engine()
    try:
        with session_scope(engine) as session:
            rows = top_events(session, limit=top, now=at, min_posts=min_posts)
    except SQLAlchemyError as exc:  # database errors: one clear line
        fail(f"无法读取事件 (cannot read events): {exc.__class__.__name__}: {exc}")
    finally:
        engine.dispose()
    if as_json:
        print_json([_jsonable(r) for r in rows])
        return
    if not rows:
        typer.echo("暂无事件 (no events yet)")
        return
    typer.echo(
        f"{'编号':>6}  {'热度':>10}  {'帖子':>6}  {'点赞':>7}  {'趋势':<4}  {'最近出现':<19}  标题 / 关键词"
    )
    for r in rows:
        last = (iso_local(r["last_seen"]) or "")[:19].replace("T", " ")
        typer.echo(
            f"{r['id']:>6}  {r['heat']:>10.4f}  {r['posts']:>6}  {r['likes']:>7}  "
            f"{r['trend']['direction']:<4}  {last:<19}  {r['title']}"
        )
        if r["keywords"]:
            typer.echo(f"{'':>62}关键词: {'、'.join(r['keywords'])}")


@events_app.command("show")
def show_event(
    event_id: int = typer.Argument(..., help="事件编号"),
    limit: int = typer.Option(20, "--limit", min=1, max=1000, help="最多显示的帖子数"),
    as_json: bool = typer.Option(False, "--json", help="输出 JSON"),
) -> None:
    """显示一个事件的帖子 (按点赞数, 再按时间)。 Show the posts of one event."""
    from ledger.db import session_scope
    from ledger.models.events import Event
    from ledger.posts.event_views import event_posts

    engine = open_engine()
    try:
        with session_scope(engine) as session:
            event = session.get(Event, event_id)
            if event is None:
                fail(f"事件不存在 (no such event): {event_id}", code=2)
            posts = event_posts(session, event_id=event_id, limit=limit)
            data = [
                {
                    "id": p.id,
                    "title": p.title,
                    "text": p.text[:200],
                    "likes": p.likes,
                    "dup_of_id": p.dup_of_id,
                    "published_at": iso_local(p.published_at or p.fetched_at),
                }
                for p in posts
            ]
            head = {"id": event.id, "title": event.title, "merged_into_id": event.merged_into_id}
    finally:
        engine.dispose()
    if as_json:
        print_json({"event": head, "posts": data})
        return
    if head["merged_into_id"]:
        typer.echo(f"事件 {event_id} 已并入事件 {head['merged_into_id']}")
    typer.echo(f"事件 {head['id']}: {head['title']}")
    for p in data:
        dup = f" (重复于 {p['dup_of_id']})" if p["dup_of_id"] else ""
        line = (p["title"] or p["text"]).replace("\n", " ")[:70]
        typer.echo(f"  [{p['id']}] {p['published_at'] or ''} 赞{p['likes']}{dup} {line}")


@events_app.command("brief")
def brief_event(
    event_id: int = typer.Argument(..., help="事件编号"),
    out: Path = typer.Option(Path("."), "--out", help="输出目录"),
    now: str | None = typer.Option(None, "--now", help="生成时刻 ISO 8601 (默认当前时间)"),
) -> None:
    """生成事件的舆情快报 (docx)。 Write the 舆情快报 of one event."""
    from config.briefs import write_event_brief
    from config.cli.common import write_brief

    write_brief(write_event_brief, out, now, event_id=event_id)


def _jsonable(row: dict) -> dict:
    out = dict(row)
    for key in ("first_seen", "last_seen"):
        out[key] = iso_local(out[key])
    return out
