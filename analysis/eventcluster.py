"""Event clustering: group post vectors into events, incrementally, in bounded memory.

``EventClusterer`` keeps the active events (an LRU of at most ``max_active`` events, each with a
centroid truncated to ``centroid_terms`` terms) and an inverted index from terms to the events
that contain them (bounded per term). A post (its features: ``analysis.eventfeatures``) becomes
a unit TF-IDF vector with stream IDF (``analysis.eventstate.IdfModel``), is compared (cosine)
with the events that share one of its strongest terms and joins the most similar one above
``threshold``; otherwise it starts a new event. Memory therefore does not grow with the length
of the stream. ``analysis.events`` re-exports the public names.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from itertools import repeat
from operator import itemgetter

import numpy as np

from analysis.eventfeatures import PostFeatures, TermSpan, _tag_words
from analysis.eventstate import EventState, IdfModel, _cosine, _dominant_tags, _order
from analysis.heat import EventParams


class EventClusterer:
    """Single-pass clustering of post vectors into events with an LRU of active events."""

    def __init__(self, params: EventParams | None = None) -> None:
        self.params = params or EventParams()
        self.idf = IdfModel(self.params.df_cap)
        self.events: OrderedDict[int, EventState] = OrderedDict()  # key: id(state) until stored
        self.postings: dict[str, list[EventState]] = {}
        self.tag_words: dict[str, list[EventState]] = {}
        self.owners: dict[str, EventState] = {}  # anchor -> largest event dominated by it
        self.dead = 0  # events evicted or merged away since the postings were last swept

    # --- vectors -------------------------------------------------------------------------
    def vector(self, feats: PostFeatures) -> dict[str, float]:
        """Unit TF-IDF vector of a post, restricted to its ``post_terms`` strongest terms."""
        return self.vectors([feats])[0]

    def vectors(self, batch: Sequence[PostFeatures]) -> list[dict[str, float]]:
        """:meth:`vector` of many posts at once, computed over the whole batch with numpy.

        Weight of a term: IDF × (1 + log tf); anchors (hashtags, entity names) get an IDF floor
        and a boost; the ``post_terms`` strongest terms are kept (ties: first seen first, which
        is also the order of the returned dict) and the vector is scaled to unit length.
        """
        if not batch:
            return []
        p = self.params
        idf = self.idf
        n1 = idf.n + 1
        keys: list[str] = []
        counts: list[int] = []
        starts = [0]
        for f in batch:
            terms = f.terms
            if type(terms) is TermSpan:
                keys.extend(terms.key_list())
                counts.extend(terms.count_list())
            else:
                keys.extend(terms)
                counts.extend(terms.values())
            starts.append(len(keys))
        if not keys:
            return [{} for _ in batch]
        df = np.fromiter(map(idf.df.get, keys, repeat(0)), dtype=np.float64, count=len(keys))
        w = np.log(n1 / (df + 1.0)) + 1.0
        tf = np.fromiter(counts, dtype=np.float64, count=len(counts))
        multi = tf > 1.0
        if multi.any():
            w[multi] *= 1.0 + np.log(tf[multi])
        # anchors (hashtags, entity names) are distinctive by nature: a burst about one thing
        # makes its anchor frequent, which must not make it weak, so their IDF has a floor
        anchor_idf = p.anchor_idf_floor * (math.log(n1) + 1.0)
        at: list[int] = []
        boost: list[float] = []
        for i, f in enumerate(batch):
            if not (f.hashtags or f.entities):
                continue
            # hashtag stuffing (many tags on one post) must not make a post about everything
            tag_boost = p.hashtag_boost / max(1.0, len(f.hashtags)) ** 0.5
            where = _anchor_positions(f, starts[i], starts[i + 1], keys)
            for t in f.hashtags:
                at.append(where[t])
                boost.append(tag_boost)
            for e in f.entities:
                at.append(where["@" + e])
                boost.append(p.entity_boost)
        if at:
            pos = np.asarray(at, dtype=np.int64)
            w[pos] = np.maximum(w[pos], anchor_idf) * np.asarray(boost)
        k = p.post_terms
        lengths = np.diff(np.asarray(starts, dtype=np.int64))
        order = np.arange(len(keys), dtype=np.int64)  # the entries each post keeps, in output order
        seg = np.repeat(np.arange(len(batch), dtype=np.int64), lengths)
        in_big = lengths[seg] > k
        if in_big.any():
            idx = order[in_big]
            # grouped by post, then weight descending, then first seen (stable, as sorted() is)
            ranked = idx[np.lexsort((idx, -w[idx], seg[idx]))]
            big_len = lengths[lengths > k]
            rank = np.arange(ranked.size) - np.repeat(np.cumsum(big_len) - big_len, big_len)
            merged = np.concatenate([ranked[rank < k], order[~in_big]])
            order = merged[np.argsort(seg[merged], kind="stable")]
        kept_len = np.minimum(lengths, k)
        wk = w[order]
        sq = np.add.reduceat(wk * wk, np.concatenate(([0], np.cumsum(kept_len)[:-1]))) if wk.size else wk
        sq[kept_len == 0] = 0.0
        inv = 1.0 / np.where(sq > 0, np.sqrt(sq), 1.0)
        scaled = (wk * np.repeat(inv, kept_len)).tolist()
        chosen = itemgetter(*order.tolist())(keys) if order.size > 1 else [keys[j] for j in order.tolist()]
        out = []
        pos0 = 0
        for n in kept_len.tolist():
            end = pos0 + n
            out.append(dict(zip(chosen[pos0:end], scaled[pos0:end])))
            pos0 = end
        return out

    # --- assignment ----------------------------------------------------------------------
    def owner_match(self, vec: dict[str, float]) -> EventState | None:
        """Fast path: the event that owns the post's strongest anchor, if similar enough."""
        p = self.params
        best_t, best_w = None, 0.0
        for t, w in vec.items():
            if w > best_w and t[0] in "#@":
                best_t, best_w = t, w
        if best_t is None:
            return None
        ev = self.owners.get(best_t)
        if ev is None or not ev.alive:
            return None
        c = ev.centroid
        if c.get(best_t, 0.0) < p.anchor_share * ev.maxw:
            return None
        dot = 0.0
        for t, w in vec.items():
            cw = c.get(t)
            if cw is not None:
                dot += w * cw
        return ev if dot * ev.inv >= p.anchor_threshold else None

    def best_match(self, vec: dict[str, float]) -> tuple[EventState | None, float]:
        """The best active event for a post vector and its score (None, 0.0 if none).

        Candidates come from the inverted index of the post's strongest terms, pre-scored by
        the part of the dot product those terms give; the best few are scored exactly. The
        score is the cosine similarity, raised to ``anchor_threshold``-passing strength when
        the post shares an anchor (hashtag or entity name) that is among the event's dominant
        terms (at least ``anchor_share`` of its strongest term's weight).
        """
        p = self.params
        query = sorted(vec.items(), key=lambda kv: kv[1], reverse=True)[: p.query_terms]
        partial: dict[int, float] = {}
        states: dict[int, EventState] = {}
        postings = self.postings
        for t, w in query:
            plist = postings.get(t)
            if not plist:
                continue
            for ev in plist:
                if ev.alive:
                    k = id(ev)
                    partial[k] = partial.get(k, 0.0) + w * ev.centroid.get(t, 0.0) * ev.inv
                    states[k] = ev
        if not partial:
            return None, 0.0
        top = sorted(partial.items(), key=lambda kv: kv[1], reverse=True)[: p.rescore]
        anchors = [t for t, _ in query if t[0] in "#@"]
        best: EventState | None = None
        best_sim = 0.0
        for k, _ in top:
            ev = states[k]
            c = ev.centroid
            dot = 0.0
            for t, w in vec.items():
                cw = c.get(t)
                if cw is not None:
                    dot += w * cw
            sim = dot * ev.inv
            if anchors and sim >= p.anchor_threshold and sim < p.threshold:
                limit = p.anchor_share * ev.maxw
                if any(c.get(a, 0.0) >= limit for a in anchors):
                    sim = p.threshold + sim  # anchored: passes, ranked above plain matches
            if sim > best_sim:
                best, best_sim = ev, sim
        return best, best_sim

    def assign(self, vec: dict[str, float]) -> tuple[EventState, bool]:
        """Put a post vector into its event: (the event, whether it is new)."""
        ev = self.owner_match(vec)
        if ev is not None:
            self.add_to(ev, vec)
            return ev, False
        ev, sim = self.best_match(vec)
        if ev is None or sim < self.params.threshold:
            ev = self.new_event()
            created = True
        else:
            created = False
        self.add_to(ev, vec)
        return ev, created

    def new_event(self) -> EventState:
        ev = EventState()
        self._remember(ev)
        self._sweep_if_due()
        return ev

    def _sweep_if_due(self) -> None:
        if self.dead > max(1_000, len(self.events)):
            self.drop_dead()

    def add_to(self, ev: EventState, vec: dict[str, float]) -> None:
        p = self.params
        if ev.posts > p.centroid_sample_after and ev.posts % (
            ev.posts // p.centroid_sample_after + 1
        ):
            self.touch(ev)  # a large event's centroid is stable: sample the posts that shape it
            return
        fresh = ev.add_vector(vec, self.params.centroid_terms)
        if fresh:
            self._index(ev, fresh, vec)
        self.touch(ev)
        if ev.posts >= 2:
            top_t = max(vec, key=vec.__getitem__)
            if top_t[0] in "#@":
                cur = self.owners.get(top_t)
                if cur is None or not cur.alive or (cur is not ev and cur.posts < ev.posts):
                    self.owners[top_t] = ev

    def _index(self, ev: EventState, terms: list[str], weights: dict[str, float]) -> None:
        """Add ``ev`` to the postings of its strongest new terms (lists capped per term)."""
        p = self.params
        k = 2 * p.query_terms
        if len(terms) > k:
            terms = sorted(terms, key=lambda t: weights.get(t, 0.0), reverse=True)[:k]
        postings = self.postings
        cap = p.postings_cap
        for t in terms:
            plist = postings.get(t)
            if plist is None:
                postings[t] = [ev]
            else:
                plist.append(ev)
                if len(plist) > cap:
                    del plist[0]

    def touch(self, ev: EventState) -> None:
        key = id(ev)
        if key in self.events:
            self.events.move_to_end(key)
        else:
            self._remember(ev)

    def _remember(self, ev: EventState) -> None:
        self.events[id(ev)] = ev
        ev.alive = True
        while len(self.events) > self.params.max_active:
            _, old = self.events.popitem(last=False)
            old.alive = False
            old.centroid = {}  # no longer a candidate: keep its totals only
            old.norm2, old.inv = 0.0, 1.0
            self.dead += 1
        if len(self.postings) > self.params.df_cap:
            self.prune_postings()

    def restore(self, ev: EventState, signature: dict[str, float]) -> None:
        """Bring back a stored event (e.g. in a new process) from its stored signature."""
        ev.centroid = dict(signature)
        ev.norm2 = sum(w * w for w in signature.values())
        ev.maxw = max(signature.values(), default=0.0)
        ev.inv = 1.0 / math.sqrt(ev.norm2) if ev.norm2 > 0 else 1.0
        ev.is_new = False
        ev.dirty = False
        ev.sig_posts = ev.posts
        self._index(ev, list(signature), signature)
        self.touch(ev)

    def merge_similar(self, touched: Iterable[EventState]) -> list[tuple[EventState, EventState]]:
        """Merge events whose centroids became similar (cosine ≥ ``merge_threshold``).

        Called after each batch with the events it touched; the smaller event is folded into
        the larger one. Returns the (absorbed, kept) pairs so the caller can move their posts.
        """
        p = self.params
        merged: list[tuple[EventState, EventState]] = []
        touched = sorted(touched, key=lambda e: e.posts, reverse=True)
        for ev in touched:
            if ev.alive and ev.posts >= p.tag_link_min_posts:
                for word in {w for tag in _dominant_tags(ev) for w in _tag_words(tag)}:
                    holders = self.tag_words.setdefault(word, [])
                    if ev not in holders:
                        holders[:] = [e for e in holders if e.alive][
                            -4 * p.tag_word_max_events :
                        ] + [ev]
        for ev in touched:
            if not ev.alive or ev.posts < p.merge_min_posts or ev.posts < 1.25 * ev.checked_posts:
                continue
            ev.checked_posts = ev.posts
            top = sorted(ev.centroid.items(), key=lambda kv: kv[1], reverse=True)[: p.query_terms]
            seen: dict[int, EventState] = {}
            for t, _ in top:
                for other in self.postings.get(t, ()):
                    if other is not ev and other.alive and other.posts >= p.merge_min_posts:
                        seen[id(other)] = other
            best, best_sim = None, p.merge_threshold
            for other in seen.values():
                sim = _cosine(ev.centroid, other.centroid, ev.norm, other.norm)
                if sim >= best_sim:
                    best, best_sim = other, sim
            if best is not None:
                keep, gone = self._merge(ev, best)
                merged.append((gone, keep))
                ev = keep
            linked = self._linked_by_tag(ev)
            if linked is not None:
                keep, gone = self._merge(ev, linked)
                merged.append((gone, keep))
        self._sweep_if_due()
        return merged

    def _merge(self, a: EventState, b: EventState) -> tuple[EventState, EventState]:
        keep, gone = (a, b) if (a.posts, -_order(a)) >= (b.posts, -_order(b)) else (b, a)
        self.absorb(keep, gone)
        return keep, gone

    def _linked_by_tag(self, ev: EventState) -> EventState | None:
        """An event whose dominant hashtag shares a specific word (≥ 3 characters) with ``ev``'s.

        Different hashtags name one story (``#双黄连可抑制新型冠状病毒#`` and its rebuttal
        ``#请勿抢购自行服用双黄连口服液#``). A word is specific while at most
        ``tag_word_max_events`` active events carry it in their dominant hashtag.
        """
        p = self.params
        if ev.posts < p.tag_link_min_posts:
            return None
        tags = _dominant_tags(ev)
        if not tags:
            return None
        best = None
        words = {w for tag in tags for w in _tag_words(tag)}
        for word in words:
            alive = [e for e in self.tag_words.get(word, ()) if e.alive and e is not ev]
            if len(alive) + 1 > p.tag_word_max_events:
                continue
            for other in alive:
                if other.posts >= p.tag_link_min_posts and (
                    best is None or other.posts > best.posts
                ):
                    best = other
        return best

    def absorb(self, keep: EventState, gone: EventState) -> None:
        """Fold event ``gone`` into ``keep`` (centroid and totals)."""
        scale = keep.posts and 1.0
        fresh = keep.add_vector(
            {t: w * scale for t, w in gone.centroid.items()}, self.params.centroid_terms
        )
        if fresh:
            self._index(keep, fresh, gone.centroid)
        keep.posts += gone.posts
        keep.likes += gone.likes
        keep.dislikes += gone.dislikes
        keep.reposts += gone.reposts
        for seen in (gone.first_seen, gone.last_seen):
            if seen is not None:
                if keep.first_seen is None or seen < keep.first_seen:
                    keep.first_seen = seen
                if keep.last_seen is None or seen > keep.last_seen:
                    keep.last_seen = seen
        keep.dirty = True
        gone.alive = False
        gone.merged_into = keep
        for t, e in list(self.owners.items()):
            if e is gone:
                self.owners[t] = keep
        self.events.pop(id(gone), None)
        self.dead += 1
        self.touch(keep)

    def prune_postings(self) -> None:
        """Drop the postings of events no longer active; if still too many terms, the oldest."""
        self.drop_dead()
        excess = len(self.postings) - self.params.df_cap // 2
        if excess > 0:
            for t in list(self.postings)[:excess]:  # dicts keep insertion order: oldest first
                del self.postings[t]

    def drop_dead(self) -> None:
        """Remove evicted and merged-away events from the postings, tag words and owners. Only
        active events are candidates anyway; without this sweep the lists would keep the dead
        events (and their centroids) in memory until a term's list filled up, so memory would
        grow with the number of events ever seen instead of staying bounded by the active ones.
        Run (between assignments, never inside a loop over the index) once as many events have
        died as are active, and at least 1,000: linear in the index, rare enough to cost little."""
        for table in (self.postings, self.tag_words):
            for key, evs in list(table.items()):
                live = [e for e in evs if e.alive]
                if not live:
                    del table[key]
                elif len(live) != len(evs):
                    table[key] = live  # an existing key keeps its place (oldest-first pruning)
        for t in [t for t, e in self.owners.items() if not e.alive]:
            del self.owners[t]
        self.dead = 0


def _anchor_positions(f: PostFeatures, lo: int, hi: int, keys: list[str]) -> dict[str, int]:
    """Positions in ``keys`` of a post's anchor terms (its last ones, as ``features`` adds them)."""
    wanted = [*f.hashtags, *("@" + e for e in f.entities)]
    start = hi - len(wanted)
    if start >= lo and keys[start:hi] == wanted:
        return {t: start + j for j, t in enumerate(wanted)}
    return {t: lo + j for j, t in enumerate(keys[lo:hi]) if t[:1] in "#@"}  # built some other way
