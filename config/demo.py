"""Prepare the demo database: the demo source pointing at the local platform, plus seed hooks.

The demo users, duty roster, cases and messages come from ``config.demo_seed``.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.engine import Engine

from config.settings import Settings

DEMO_SOURCE = "示例市网络问政平台（演示）"


def prepare_demo(engine: Engine, settings: Settings, *, feed_url: str, interval: int,
                 now: datetime | None = None) -> list[str]:
    """Point the demo source at ``feed_url`` (creating it once) and seed the demo ledger."""
    from ledger import audit
    from ledger.db import session_scope
    from ledger.models.core import Source
    from ledger.posts.sources import add_source

    now = now or datetime.now(UTC)
    with session_scope(engine) as session:
        src = session.exec(select(Source).where(Source.name == DEMO_SOURCE)).scalars().first()  # type: ignore[call-overload]
        if src is None:
            add_source(session, name=DEMO_SOURCE, kind="rss", url=feed_url, interval_seconds=interval,
                       actor="demo", now=now)
        elif src.url != feed_url:
            src.url, src.etag, src.last_modified = feed_url, None, None
            src.interval_seconds = interval
            session.add(src)
            audit.record(session, actor="demo", action="source.update", entity="source",
                         entity_id=src.id, now=now, after={"url": feed_url})
    from config.demo_seed import seed_demo

    return seed_demo(engine, settings, now)
