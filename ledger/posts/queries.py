"""Read-side queries shared by the CLI and the dashboard (masked views of stored rows)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from analysis.pii import mask
from ledger.models.core import Post, Source


def recent_posts(session: Session, *, limit: int = 50, source_id: int | None = None,
                 min_sensitivity: float | None = None) -> list[Post]:
    """Newest posts first (by fetch time, then id)."""
    stmt = select(Post).order_by(Post.fetched_at.desc(), Post.id.desc()).limit(limit)  # type: ignore[union-attr]
    if source_id is not None:
        stmt = stmt.where(Post.source_id == source_id)
    if min_sensitivity is not None:
        stmt = stmt.where(Post.sensitivity >= min_sensitivity)
    return list(session.exec(stmt).scalars())  # type: ignore[call-overload]


def post_view(post: Post, *, unmasked: bool = False) -> dict[str, Any]:
    """A post as shown to users: plain text with personal numbers masked unless ``unmasked``."""
    show = (lambda s: s) if unmasked else mask
    return {
        "id": post.id,
        "source_id": post.source_id,
        "external_id": post.external_id,
        "url": post.url,
        "title": show(post.title) if post.title else post.title,
        "text": show(post.text),
        "author": post.author,
        "published_at": post.published_at,
        "fetched_at": post.fetched_at,
        "sentiment": post.sentiment,
        "sentiment_score": post.sentiment_score,
        "categories": post.categories,
        "topics": post.topics,
        "sensitivity": post.sensitivity,
        "severity": post.severity,
        "jurisdiction": post.jurisdiction,
        "responsible_unit": post.responsible_unit,
        "disposal_type": post.disposal_type,
        "rumour": post.rumour,
        "event_id": post.event_id,
        "dup_of_id": post.dup_of_id,
        "likes": post.likes,
    }


def source_names(session: Session) -> dict[int, str]:
    return {s.id: s.name for s in session.exec(select(Source)).scalars()}  # type: ignore[call-overload]
