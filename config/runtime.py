"""Runtime wiring from settings: crawl options and the one-shot crawl used by the CLI and the service."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.engine import Engine

from config.settings import Settings


def crawl_options(settings: Settings):
    from crawlers.runner import CrawlOptions

    return CrawlOptions(
        timeout=settings.http_timeout,
        user_agent=settings.user_agent,
        max_bytes=settings.max_response_bytes,
        proxy=settings.http_proxy,
        down_after=settings.source_down_after,
    )


def crawl_once(engine: Engine, settings: Settings, source_id: int, now: datetime):
    """Crawl one source now with the configured assessor."""
    from config.wiring import build_assessor
    from crawlers.runner import crawl_source

    return crawl_source(engine, source_id, options=crawl_options(settings),
                        assessor=build_assessor(settings), now=now, reply_clock=reply_clock(settings))


def reply_clock(settings: Settings):
    """``apply_reply_clock`` bound to the configured calendar and rules (messages crawled from a
    留言板 get their reply clock as imported ones do)."""
    from functools import partial

    from config.clockconfig import load_calendar, load_clock_rules
    from ledger.clocks.replies import apply_reply_clock

    return partial(apply_reply_clock, calendar=load_calendar(settings), rules=load_clock_rules(settings))


BODY_PREVIEW = 100


def preview_source(engine: Engine, settings: Settings, source_id: int, now: datetime, *, limit: int = 5):
    """Fetch a source without storing anything; return (source, rows, total, skipped notes).

    Rows carry what would be extracted: external id, title, time, author, the first 100
    characters of the body, URL. Raises ``SourceError`` for an unknown id, ``CrawlError`` when the
    fetch fails, ``ValueError`` for a kind that cannot be fetched.
    """
    from crawlers.runner import fetch_feed_source
    from ledger.db import session_scope
    from ledger.models.core import Source
    from ledger.posts.intake import prepare
    from ledger.posts.sources import get_source

    with session_scope(engine) as session:
        source = get_source(session, source_id)
        session.expunge(source)
    options = crawl_options(settings)
    notes: list[tuple[str, str]] = []
    if source.kind in ("html", "json"):
        from crawlers.web import fetch_web_source

        fetched = fetch_web_source(source, options, now, known_ids=None, limit=limit)
        notes = list(fetched.notes)
    elif source.kind == "board":
        from crawlers.boards import fetch_board_source

        fetched = fetch_board_source(source, options, now)
        if fetched.problem:
            notes = [(source.url or "", fetched.problem)]
    elif source.kind in ("rss", "atom", "feed"):
        # no conditional GET here: always show the current entries
        fresh = Source.model_validate(source.model_dump())
        fresh.etag = fresh.last_modified = None
        fetched = fetch_feed_source(fresh, options, now)
        if fetched.problem:
            notes = [(source.url or "", fetched.problem)]
    else:
        raise ValueError(f"来源类型 {source.kind!r} 不能试抓 (kind cannot be fetched; use `yuqing import`)")
    rows = []
    for item in fetched.items[:limit]:
        title, text = prepare(item)
        rows.append({"external_id": item.external_id, "title": title, "published_at": item.published_at,
                     "author": item.author, "body": text[:BODY_PREVIEW], "url": item.url})
    return source, rows, len(fetched.items), notes
