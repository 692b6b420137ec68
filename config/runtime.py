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
                        assessor=build_assessor(settings), now=now)
