"""Reading events for the CLI and dashboard: the hottest live events with heat and trend, one
event's details and posts, and refreshing an event's title and keywords from its posts when it
has grown.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, func, select, type_coerce
from sqlmodel import Session

from analysis.events import (
    EventParams,
    heat,
    keywords,
    title_of,
    trend,
)
from ledger.models.core import Post
from ledger.models.events import Event
from ledger.types import UTCDateTime


def _live_events():
    return select(Event).where(Event.merged_into_id.is_(None), Event.posts > 0)


def top_events(
    session: Session,
    *,
    limit: int = 10,
    now: datetime,
    min_posts: int = 1,
    params: EventParams | None = None,
    refresh_labels: bool = True,
) -> list[dict[str, Any]]:
    """The hottest events at ``now``, hottest first, as plain dicts (ready for JSON).

    Candidates are the events with the largest time-free heat plus those seen in the last two
    days; their heat at ``now`` decides the order. Titles and keywords are recomputed from the
    event's posts when the event has grown by half since they were last computed
    (``refresh_labels``; the caller's transaction stores them).
    """
    params = params or EventParams()
    pool = max(200, 10 * limit)
    q = _live_events().where(Event.posts >= min_posts)
    cands = {e.id: e for e in session.scalars(q.order_by(Event.heat_base.desc()).limit(pool)).all()}
    recent = (
        q.where(Event.last_seen >= now - timedelta(hours=48))
        .order_by(Event.heat_base.desc())
        .limit(pool)
    )
    for e in session.scalars(recent).all():
        cands.setdefault(e.id, e)
    scored = sorted(
        cands.values(),
        key=lambda e: (heat(e.heat_base, e.last_seen, now, params), e.posts, -e.id),
        reverse=True,
    )[:limit]
    trends = event_trends(session, event_ids=[e.id for e in scored], now=now, params=params)
    out = []
    for e in scored:
        if refresh_labels:
            refresh_event_labels(session, event=e)
        out.append(event_dict(e, now=now, params=params, trend_info=trends.get(e.id)))
    return out


def event_dict(
    e: Event,
    *,
    now: datetime,
    params: EventParams | None = None,
    trend_info: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """An event as a plain dict with its heat at ``now``."""
    return {
        "id": e.id,
        "title": e.title,
        "keywords": list(e.keywords or []),
        "posts": e.posts,
        "first_seen": e.first_seen,
        "last_seen": e.last_seen,
        "heat": round(heat(e.heat_base, e.last_seen, now, params), 4),
        "heat_base": round(e.heat_base, 2),
        "likes": e.likes,
        "dislikes": e.dislikes,
        "reposts": e.reposts,
        "trend": trend_info or trend(0, 0, params),
    }


def event_trends(
    session: Session, *, event_ids: Sequence[int], now: datetime, params: EventParams | None = None
) -> dict[int, dict[str, Any]]:
    """Posts of each event in the last hour and in the 12 hours before, with the spike ratio."""
    if not event_ids:
        return {}
    seen = type_coerce(func.coalesce(Post.published_at, Post.fetched_at), UTCDateTime())
    hour = now - timedelta(hours=1)
    start = now - timedelta(hours=13)
    rows = session.execute(
        select(
            Post.event_id,
            func.sum(case((seen >= hour, 1), else_=0)),
            func.sum(case((seen < hour, 1), else_=0)),
        )
        .where(Post.event_id.in_(list(event_ids)), seen >= start, seen <= now)
        .group_by(Post.event_id)
    ).all()
    counts = {eid: (int(a or 0), int(b or 0)) for eid, a, b in rows}
    return {eid: trend(*counts.get(eid, (0, 0)), params) for eid in event_ids}


def event_posts(session: Session, *, event_id: int, limit: int = 50) -> list[Post]:
    """Posts of an event (following merges), most liked first, then earliest."""
    target = session.get(Event, event_id)
    while target is not None and target.merged_into_id is not None:
        target = session.get(Event, target.merged_into_id)
    if target is None:
        return []
    q = (
        select(Post)
        .where(Post.event_id == target.id)
        .order_by(Post.likes.desc(), Post.id)
        .limit(limit)
    )
    return list(session.scalars(q).all())


def refresh_event_labels(
    session: Session, *, event: Event, sample: int = 30, force: bool = False
) -> bool:
    """Recompute an event's title and keywords from sample posts when it grew by half."""
    if (
        not force
        and event.labels_posts
        and event.posts < 1.5 * event.labels_posts
        and event.keywords
    ):
        return False
    rows = session.execute(
        select(Post.title, Post.text)
        .where(Post.event_id == event.id, Post.dup_of_id.is_(None))
        .order_by(Post.likes.desc(), Post.id)
        .limit(sample)
    ).all()
    if not rows:
        rows = session.execute(
            select(Post.title, Post.text)
            .where(Post.event_id == event.id)
            .order_by(Post.id)
            .limit(sample)
        ).all()
    if not rows:
        return False
    sig = {k: float(v) for k, v in (event.signature or {}).items()}
    texts = [f"{t or ''} {x or ''}" for t, x in rows]
    event.keywords = keywords(texts, sig)
    event.title = title_of([(t, x or "") for t, x in rows], sig) or event.title
    event.labels_posts = event.posts
    session.add(event)
    return True
