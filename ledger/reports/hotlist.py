"""热榜: the items of the hot-list sources (sources made from a template marked ``hotlist``, e.g.
微博热搜, 百度热搜, 知乎热榜 through RSSHub) first seen since a moment, each marked with the places
of the office's gazetteer it mentions and the case it is already linked to. Read-only."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlmodel import Session, select

from ledger.models.cases import Case, CasePost
from ledger.models.core import Post, Source

PER_SOURCE = 30


def hot_sources(session: Session) -> list[Source]:
    """Enabled sources whose config marks them as a hot list."""
    rows = session.exec(select(Source).where(Source.enabled == True).order_by(Source.id))
    return [s for s in rows if (s.config or {}).get("hotlist")]


def places_in(text: str, places: Iterable[str]) -> list[str]:
    """The gazetteer names written in ``text`` (longest first, none inside another found)."""
    found: list[str] = []
    for name in sorted({p for p in places if p}, key=len, reverse=True):
        if name in text and not any(name in f for f in found):
            found.append(name)
    return found


def hotlist(session: Session, *, since: datetime, places: Iterable[str], per_source: int = PER_SOURCE) -> list[dict[str, Any]]:
    """Hot-list items first seen since ``since``, per source in list order; items naming one of
    ``places`` carry them in ``places`` (the panel highlights those)."""
    names = list(places)
    out: list[dict[str, Any]] = []
    for src in hot_sources(session):
        posts = session.exec(select(Post).where(Post.source_id == src.id, Post.fetched_at >= since)
                             .order_by(Post.fetched_at.desc(), Post.id).limit(per_source)).all()
        cases = {}
        if posts:
            linked = session.exec(select(CasePost.post_id, Case.number).join(Case, Case.id == CasePost.case_id)
                                  .where(CasePost.post_id.in_([p.id for p in posts]))).all()
            cases = {pid: number for pid, number in linked}
        for rank, p in enumerate(posts, 1):
            text = f"{p.title or ''} {p.text or ''}"
            out.append({"source": src.name, "rank": rank, "post_id": p.id, "title": p.title or p.text[:60],
                        "url": p.url, "seen_at": p.fetched_at, "event_id": p.event_id,
                        "places": places_in(text, names), "case": cases.get(p.id)})
    return out
