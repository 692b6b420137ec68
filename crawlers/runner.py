"""Run one crawl of one source: fetch outside any transaction, then store items and health together.

A fetch or parse failure records the error on the source (and marks it down after N failures)
and changes nothing else. A 留言板 source (kind ``board``) also stores its citizens' messages,
linked to their posts, with the reply clock the caller hands in.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Engine

from analysis.assess import Assessor
from crawlers.base import CrawlError, CrawlOptions, Fetched
from crawlers.templates import explain_failure
from ledger.db import session_scope
from ledger.messages.intake import MessageResult, store_messages
from ledger.models.core import Message, Source
from ledger.posts.intake import IntakeResult, post_ids, store_posts
from ledger.posts.sources import get_source, record_failure, record_success

log = logging.getLogger(__name__)


@dataclass
class CrawlReport:
    source_id: int
    ok: bool
    fetched: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    not_modified: bool = False
    error: str | None = None
    marked_down: bool = False
    warning: str | None = None  # what went wrong in a successful crawl (Fetched.problem)
    messages: MessageResult | None = None  # a 留言板 source: its citizens' messages


def fetch_feed_source(source: Source, options: CrawlOptions, now: datetime) -> Fetched:
    from crawlers.feeds import FeedError, fetch_feed, parse_feed
    from crawlers.guard import OriginPolicy

    if not source.url:
        raise CrawlError("来源没有 URL (source has no url)")
    try:
        got = fetch_feed(source.url, etag=source.etag, last_modified=source.last_modified,
                         timeout=options.timeout, user_agent=options.user_agent,
                         max_bytes=options.max_bytes, proxy=options.proxy,
                         policy=OriginPolicy([source.url], (source.config or {}).get("allowed_domains") or ()))
        if got.not_modified:
            return Fetched([], source.etag, source.last_modified, not_modified=True)
        parsed = parse_feed(got.body, base_url=source.url, content_type=got.content_type)
    except FeedError as exc:
        raise CrawlError(str(exc)) from exc
    return Fetched(parsed.items, got.etag, got.last_modified, problem=parsed.problem)


def _web_fetcher(source: Source, options: CrawlOptions, now: datetime, engine: Engine | None = None) -> Fetched:
    from crawlers.web import fetch_web_source, known_external_ids  # Scrapy-based collectors

    # JSON APIs hand every entry back (no extra fetch); list->detail sites skip known detail pages
    known = known_external_ids(engine, source.id) if engine is not None and source.kind == "html" else None
    return fetch_web_source(source, options, now, known_ids=known)


def _board_fetcher(source: Source, options: CrawlOptions, now: datetime) -> Fetched:
    from crawlers.boards import fetch_board_source

    return fetch_board_source(source, options, now)


FETCHERS: dict[str, Callable[[Source, CrawlOptions, datetime], Fetched]] = {
    "rss": fetch_feed_source,
    "atom": fetch_feed_source,
    "feed": fetch_feed_source,
    "html": _web_fetcher,
    "json": _web_fetcher,
    "board": _board_fetcher,
}


def crawl_source(engine: Engine, source_id: int, *, options: CrawlOptions, assessor: Assessor,
                 now: datetime, reply_clock: Callable[[Message], Any] | None = None) -> CrawlReport:
    """Crawl ``source_id`` once at ``now`` and store what it yields (``reply_clock``: applied to
    the citizens' messages a 留言板 source carries)."""
    with session_scope(engine) as session:
        source = get_source(session, source_id)
        session.expunge(source)
    fetcher = FETCHERS.get(source.kind)
    report = CrawlReport(source_id=source_id, ok=False)
    try:
        if fetcher is None:
            raise CrawlError(f"来源类型 {source.kind!r} 不能抓取 (kind cannot be crawled; use `yuqing import`)")
        if fetcher is _web_fetcher:  # incremental: the web fetcher skips ids already stored
            fetched = _web_fetcher(source, options, now, engine)
        else:
            fetched = fetcher(source, options, now)
    except Exception as exc:  # every failure is recorded on the source, never raised
        message = str(exc) if isinstance(exc, CrawlError) else f"{exc.__class__.__name__}: {exc}"
        message = explain_failure(source.config, message)  # RSSHub 403/418/503: cookie / Puppeteer
        log.warning("crawl of source %s failed: %s", source_id, message)
        with session_scope(engine) as session:
            src = get_source(session, source_id)
            report.marked_down = record_failure(session, source=src, error=message, now=now,
                                                down_after=options.down_after)
        report.error = message
        return report
    with session_scope(engine) as session:
        src = get_source(session, source_id)
        result = IntakeResult()
        if fetched.items:
            result = store_posts(session, source_id=source_id, items=fetched.items, assessor=assessor, now=now)
        messages = getattr(fetched, "messages", None)
        if messages:
            links = post_ids(session, source_id=source_id, external_ids=[m.external_id for m in messages])
            report.messages = store_messages(session, source_id=source_id, items=messages, post_ids=links,
                                             reply_clock=reply_clock, now=now)
        # unchanged since the last fetch (304): so is what was wrong with it
        report.warning = src.last_warning if fetched.not_modified else fetched.problem
        record_success(session, source=src, items=len(fetched.items), now=now,
                       etag=fetched.etag, last_modified=fetched.last_modified, warning=report.warning)
    report.ok = True
    report.fetched = len(fetched.items)
    report.inserted, report.updated, report.unchanged = result.inserted, result.updated, result.unchanged
    report.not_modified = fetched.not_modified
    return report
