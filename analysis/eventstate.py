"""The clusterer's state: stream IDF statistics and an active event's centroid and totals.

``IdfModel`` counts document frequencies on the stream itself (batch by batch, halved when the
vocabulary outgrows its cap, which also lets old topics fade). ``EventState`` is one active event
in memory: its centroid (truncated to ``centroid_terms`` terms) and running totals. Used by
``analysis.eventcluster``; ``analysis.events`` re-exports the public names.
"""

from __future__ import annotations

import math
from collections import _count_elements  # type: ignore[attr-defined]  # C-accelerated counting
from collections.abc import Iterable
from datetime import datetime
from itertools import chain

from analysis.eventfeatures import PostFeatures


class IdfModel:
    """Document frequencies counted on the stream; ``halve`` keeps the vocabulary bounded."""

    def __init__(self, cap: int = 300_000) -> None:
        self.cap = cap
        self.df: dict[str, int] = {}
        self.n = 0

    def update(self, docs: Iterable[Iterable[str]]) -> None:
        docs = list(docs)
        self.n += len(docs)
        _count_elements(self.df, chain.from_iterable(docs))
        if len(self.df) > self.cap:
            self.halve()

    def update_counts(self, counts: dict[str, int], n_docs: int) -> None:
        """The same as :meth:`update` over ``n_docs`` documents whose terms, each counted once per
        document, add up to ``counts`` (counted elsewhere, e.g. by an import worker)."""
        self.n += n_docs
        df = self.df
        get = df.get
        for t, c in counts.items():
            df[t] = get(t, 0) + c
        if len(df) > self.cap:
            self.halve()


    def halve(self) -> None:
        """Halve every count (dropping zeros): bounded memory, older documents weigh less."""
        self.df = {t: c // 2 for t, c in self.df.items() if c >= 2}
        self.n = max(1, self.n // 2)

    def idf(self, term: str) -> float:
        return math.log((self.n + 1) / (self.df.get(term, 0) + 1)) + 1.0


def document_counts(feats: Iterable[PostFeatures]) -> dict[str, int]:
    """How many of the posts contain each term (the input of :meth:`IdfModel.update_counts`)."""
    counts: dict[str, int] = {}
    _count_elements(counts, chain.from_iterable(f.terms.keys() for f in feats))
    return counts


class EventState:
    """An active event in memory: its centroid and running totals."""

    __slots__ = (
        "alive",
        "centroid",
        "checked_posts",
        "dirty",
        "dislikes",
        "first_seen",
        "id",
        "inv",
        "is_new",
        "last_seen",
        "likes",
        "maxw",
        "merged_into",
        "norm2",
        "posts",
        "reposts",
        "sig_posts",
        "title",
    )  # fmt: skip

    def __init__(self) -> None:
        self.id: int | None = None
        self.centroid: dict[str, float] = {}
        self.norm2 = 0.0
        self.maxw = 0.0
        self.inv = 1.0  # 1 / |centroid|
        self.checked_posts = 0  # posts when merging was last considered
        self.merged_into: EventState | None = None
        self.posts = 0
        self.likes = 0
        self.dislikes = 0
        self.reposts = 0
        self.first_seen: datetime | None = None
        self.last_seen: datetime | None = None
        self.title: str | None = None
        self.alive = True
        self.dirty = False
        self.sig_posts = 0  # posts when the signature was last stored
        self.is_new = True

    def add_vector(self, vec: dict[str, float], cap: int) -> list[str]:
        """Add a unit post vector to the centroid; return the terms that are new to it."""
        c = self.centroid
        fresh = []
        n2 = self.norm2
        mx = self.maxw
        for t, w in vec.items():
            old = c.get(t)
            if old is None:
                fresh.append(t)
                old = 0.0
            new = old + w
            c[t] = new
            n2 += new * new - old * old
            mx = max(mx, new)
        self.norm2 = n2
        self.maxw = mx
        self.inv = 1.0 / math.sqrt(n2) if n2 > 0 else 1.0
        if len(c) > cap + cap // 2:
            keep = sorted(c.items(), key=lambda kv: kv[1], reverse=True)[:cap]
            self.centroid = dict(keep)
            self.norm2 = sum(w * w for _, w in keep)
            self.inv = 1.0 / math.sqrt(self.norm2) if self.norm2 > 0 else 1.0
        return fresh

    @property
    def norm(self) -> float:
        return math.sqrt(self.norm2) or 1.0

    def add_counts(self, *, likes: int, dislikes: int, reposts: int, seen: datetime | None) -> None:
        self.posts += 1
        self.likes += likes
        self.dislikes += dislikes
        self.reposts += reposts
        if seen is not None:
            if self.first_seen is None or seen < self.first_seen:
                self.first_seen = seen
            if self.last_seen is None or seen > self.last_seen:
                self.last_seen = seen
        self.dirty = True

    def signature(self, k: int = 64) -> dict[str, float]:
        """The strongest ``k`` centroid terms, rounded: enough to rebuild the event elsewhere."""
        top = sorted(self.centroid.items(), key=lambda kv: kv[1], reverse=True)[:k]
        return {t: round(w, 4) for t, w in top}


def _cosine(a: dict[str, float], b: dict[str, float], na: float, nb: float) -> float:
    if len(a) > len(b):
        a, b = b, a
    dot = 0.0
    for t, w in a.items():
        v = b.get(t)
        if v is not None:
            dot += w * v
    return dot / (na * nb)


def _dominant_tags(ev: EventState, k: int = 3) -> list[str]:
    """The event's strongest hashtags (at least half the weight of its strongest term)."""
    limit = 0.5 * ev.maxw
    tags = [(w, t) for t, w in ev.centroid.items() if t[0] == "#" and w >= limit]
    return [t for _, t in sorted(tags, reverse=True)[:k]]


def _order(ev: EventState) -> int:
    """Stored events before new ones, older (smaller id) first."""
    return ev.id if ev.id is not None else 1 << 62
