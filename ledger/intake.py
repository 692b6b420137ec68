"""Intake: the one sink every crawler and importer writes to.

A batch of :class:`RawPost` items is normalised, assessed, deduplicated against what is stored
(unique per source and external id) and written in the caller's transaction. A changed item (same
id, new content) is updated and its earlier version kept in ``post_version``. Evidence (the raw
response, compressed) is stored with its SHA-256.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from analysis.assess import Assessor
from analysis.normalize import content_hash, normalize_text
from ledger import events as ledger_events
from ledger.models.core import Evidence, Post, PostVersion

MAX_TEXT_CHARS = 200_000
MAX_TITLE_CHARS = 2_000


@dataclass
class RawPost:
    """One collected item, as emitted by every crawler and importer."""

    external_id: str
    text: str
    title: str | None = None
    url: str | None = None
    author: str | None = None
    published_at: datetime | None = None
    likes: int = 0
    dislikes: int = 0
    reposts: int = 0
    is_html: bool | None = None
    raw: bytes | None = None  # evidence: the raw response / entry
    raw_content_type: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class IntakeResult:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    posts: list[Post] = field(default_factory=list)  # inserted or updated rows

    def merge(self, other: IntakeResult) -> None:
        self.inserted += other.inserted
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.posts.extend(other.posts)


def prepare(item: RawPost) -> tuple[str | None, str]:
    """Normalised (title, text) of an item, bounded in size."""
    title = normalize_text(item.title, is_html=None)[:MAX_TITLE_CHARS] if item.title else None
    text = normalize_text(item.text, is_html=item.is_html)[:MAX_TEXT_CHARS]
    return title or None, text


def store_posts(
    session: Session,
    *,
    source_id: int,
    items: Sequence[RawPost],
    assessor: Assessor,
    now: datetime,
) -> IntakeResult:
    """Normalise, assess and store ``items`` of one source; does not commit.

    Items already stored with the same content are left alone (crawling twice stores nothing
    twice); items whose content changed are updated and their previous version kept.
    """
    result = IntakeResult()
    if not items:
        return result
    # de-duplicate within the batch: last occurrence of an external id wins
    by_id: dict[str, RawPost] = {}
    for item in items:
        by_id[str(item.external_id)[:512]] = item
    ids = list(by_id)
    existing: dict[str, Post] = {}
    for chunk_start in range(0, len(ids), 500):
        chunk = ids[chunk_start : chunk_start + 500]
        rows = session.exec(  # type: ignore[call-overload]
            select(Post).where(Post.source_id == source_id, Post.external_id.in_(chunk))
        ).scalars()
        for row in rows:
            existing[row.external_id] = row

    new_items: list[tuple[str, RawPost, str | None, str, str]] = []
    changed: list[tuple[Post, RawPost, str | None, str, str]] = []
    for ext_id, item in by_id.items():
        title, text = prepare(item)
        digest = content_hash((title or "") + "\n" + text)
        old = existing.get(ext_id)
        if old is None:
            new_items.append((ext_id, item, title, text, digest))
        elif old.content_hash != digest:
            changed.append((old, item, title, text, digest))
        else:
            result.unchanged += 1
            if item.likes != old.likes or item.dislikes != old.dislikes or item.reposts != old.reposts:
                old.likes, old.dislikes, old.reposts = item.likes, item.dislikes, item.reposts
                session.add(old)

    to_assess = [(t or "") + "\n" + x if t else x for _, _, t, x, _ in new_items] + [
        (t or "") + "\n" + x if t else x for _, _, t, x, _ in changed
    ]
    assessments = assessor.assess_batch(to_assess) if to_assess else []

    fresh: list[Post] = []
    for (ext_id, item, title, text, digest), a in zip(new_items, assessments, strict=False):
        post = Post(
            source_id=source_id,
            external_id=ext_id,
            url=item.url,
            title=title,
            text=text,
            author=(item.author or None) and item.author[:200],
            published_at=item.published_at,
            fetched_at=now,
            content_hash=digest,
            likes=item.likes,
            dislikes=item.dislikes,
            reposts=item.reposts,
        )
        _apply_assessment(post, a)
        session.add(post)
        fresh.append(post)
    for (post, item, title, text, digest), a in zip(changed, assessments[len(new_items) :], strict=True):
        session.add(
            PostVersion(
                post_id=post.id,
                version=post.version,
                title=post.title,
                text=post.text,
                content_hash=post.content_hash,
                fetched_at=post.fetched_at,
                replaced_at=now,
            )
        )
        post.title, post.text, post.content_hash = title, text, digest
        post.url = item.url or post.url
        post.published_at = item.published_at or post.published_at
        post.version += 1
        post.updated_at = now
        post.fetched_at = now
        post.likes, post.dislikes, post.reposts = item.likes, item.dislikes, item.reposts
        _apply_assessment(post, a)
        session.add(post)
        result.posts.append(post)
    session.flush()
    result.inserted = len(fresh)
    result.updated = len(changed)
    result.posts = fresh + result.posts

    # evidence for every new or changed item that carried its raw response
    raw_by_id = {ext: it for ext, it in by_id.items() if it.raw is not None}
    if raw_by_id:
        for post in result.posts:
            item = raw_by_id.get(post.external_id)
            if item is not None:
                session.add(make_evidence(source_id, post.id, item.url, item.raw or b"", item.raw_content_type, now))
    if fresh:
        ledger_events.process_new_posts(session, posts=fresh, now=now)
    return result


def make_evidence(
    source_id: int, post_id: int | None, url: str | None, raw: bytes, content_type: str | None, now: datetime
) -> Evidence:
    """An Evidence row for a raw response: zlib-compressed body and its SHA-256."""
    return Evidence(
        source_id=source_id,
        post_id=post_id,
        url=url,
        fetched_at=now,
        sha256=hashlib.sha256(raw).hexdigest(),
        content_type=content_type,
        size=len(raw),
        body=zlib.compress(raw, 6),
    )


def _apply_assessment(post: Post, a) -> None:
    post.sentiment = a.sentiment
    post.sentiment_score = a.sentiment_score
    post.categories = a.categories
    post.topics = a.topics
    post.sensitivity = a.sensitivity
    post.severity = a.severity
    post.jurisdiction = a.jurisdiction
    post.responsible_unit = a.responsible_unit
    post.disposal_type = a.disposal_type
    post.rumour = a.rumour
    post.pii = a.pii
    post.assessment = {"reasons": a.reasons, "topic": a.topic}


def existing_keys(session: Session, *, source_id: int, external_ids: Sequence[str]) -> set[str]:
    """Which of ``external_ids`` are already stored for the source (for incremental crawling)."""
    out: set[str] = set()
    ids = list(external_ids)
    for i in range(0, len(ids), 500):
        rows = session.exec(  # type: ignore[call-overload]
            select(Post.external_id).where(Post.source_id == source_id, Post.external_id.in_(ids[i : i + 500]))
        ).scalars()
        out.update(rows)
    return out


__all__ = ["IntakeResult", "RawPost", "existing_keys", "make_evidence", "prepare", "store_posts"]
