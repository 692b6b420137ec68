"""``yuqing source test ID``: fetch a source without storing anything and show what would be extracted.

Staff use it to tune a source's selectors: it prints the first items (title, time, author, the
first 100 characters of the body, URL) and the pages that were skipped, with the reason.
"""

from __future__ import annotations

import typer

from config.cli.common import fail, iso_local, open_engine, print_json, settings
from ledger.types import utcnow

BODY_PREVIEW = 100


def run_source_test(source_id: int, *, limit: int, as_json: bool) -> None:
    from config.runtime import crawl_options
    from crawlers.runner import CrawlError, fetch_feed_source
    from ledger.db import session_scope
    from ledger.intake import prepare
    from ledger.sources import SourceError, get_source

    if limit < 1:
        fail("--limit 必须大于 0 (must be positive)", code=2)
    cfg = settings()
    engine = open_engine(cfg)
    try:
        with session_scope(engine) as session:
            source = get_source(session, source_id)
            session.expunge(source)
    except SourceError as exc:
        fail(str(exc), code=2)
    options = crawl_options(cfg)
    now = utcnow()
    notes: list[tuple[str, str]] = []
    try:
        if source.kind in ("html", "json"):
            from crawlers.web import fetch_web_source

            fetched = fetch_web_source(source, options, now, known_ids=None, limit=limit)
            notes = list(fetched.notes)
        elif source.kind in ("rss", "atom", "feed"):
            # no conditional GET here: always show the current entries
            fetched = fetch_feed_source(_without_cache(source), options, now)
        else:
            fail(f"来源类型 {source.kind!r} 不能试抓 (kind cannot be fetched; use `yuqing import`)", code=2)
    except CrawlError as exc:
        fail(f"试抓失败 (test fetch failed): {exc}")
    rows = []
    for item in fetched.items[:limit]:
        title, text = prepare(item)
        rows.append({
            "external_id": item.external_id,
            "title": title,
            "published_at": iso_local(item.published_at),
            "author": item.author,
            "body": text[:BODY_PREVIEW],
            "url": item.url,
        })
    if as_json:
        print_json({"source_id": source_id, "items": rows, "total": len(fetched.items),
                    "skipped": [{"url": u, "reason": r} for u, r in notes]})
        return
    typer.echo(f"来源 {source_id} [{source.kind}] 试抓结果 (未入库 / nothing stored): 共 {len(fetched.items)} 条, "
               f"显示前 {len(rows)} 条")
    for i, row in enumerate(rows, 1):
        typer.echo(f"\n[{i}] 标题: {row['title'] or '(无)'}")
        typer.echo(f"    时间: {row['published_at'] or '(未识别)'}")
        typer.echo(f"    作者: {row['author'] or '(无)'}")
        typer.echo(f"    正文: {row['body'] or '(空)'}")
        typer.echo(f"    链接: {row['url'] or '-'}")
    if notes:
        typer.echo(f"\n跳过或有问题的页面 (skipped pages / warnings): {len(notes)}")
        for url, reason in notes[:20]:
            typer.echo(f"  - {url}: {reason}")


def _without_cache(source):
    """A copy of the source row without its ETag / Last-Modified, so the feed is fetched in full."""
    from ledger.models.core import Source

    copy = Source.model_validate(source.model_dump())
    copy.etag = None
    copy.last_modified = None
    return copy
