"""Link newly stored posts to their duplicates and events (reading events: :mod:`ledger.posts.event_views`).

``process_new_posts`` is called by the intake after it inserted a batch of posts (in the same
transaction). It finds exact duplicates (normalised content hash, across the whole database),
near duplicates (SimHash over recent posts), clusters the rest into events
(``analysis.events.EventClusterer``), writes ``post.dup_of_id`` / ``post.event_id`` /
``post.simhash`` and creates or updates ``event`` rows with bulk statements.

The clusterer's state (active events, IDF, recent fingerprints) is kept per database URL in
this process. It is rebuilt from the database when it is missing or stale: when posts were
added by somebody else since this process last wrote, or after a rollback. Rebuilding reads
the most recently updated events (their stored signatures) and the latest posts, so it costs
a fraction of a second, not a pass over the history.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, select, update
from sqlalchemy import event as sa_event
from sqlalchemy import text as sql_text
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Session

from analysis.dedupe import DuplicateIndex, Known, from_signed64, simhash_batch, to_signed64
from analysis.events import (
    EventClusterer,
    EventParams,
    EventState,
    PostFeatures,
    features,
    heat_base,
    prime_tag_words,
)
from ledger.models.core import Post
from ledger.models.events import Event

#: events restored into memory when a process starts clustering
RESTORE_EVENTS = 5000
#: latest posts whose fingerprints are restored
RESTORE_POSTS = 20000
#: latest posts used to estimate document frequencies in a new process
IDF_SAMPLE = 3000
#: signature terms stored per event
SIGNATURE_TERMS = 64


@dataclass
class _State:
    clusterer: EventClusterer
    index: DuplicateIndex
    by_id: dict[int, EventState] = field(default_factory=dict)
    last_post_id: int = 0


_STATES: dict[str, _State] = {}
_LOCK = threading.RLock()


def _key(session: Session) -> str:
    return session.get_bind().url.render_as_string(hide_password=False)


def forget_state(session_or_url: Session | str | None = None) -> None:
    """Drop the cached clustering state (one database, or all)."""
    with _LOCK:
        if session_or_url is None:
            _STATES.clear()
        else:
            key = session_or_url if isinstance(session_or_url, str) else _key(session_or_url)
            _STATES.pop(key, None)


def _watch_rollback(session: Session, key: str) -> None:
    if session.info.get("_events_watch"):
        return
    session.info["_events_watch"] = True

    def _on_rollback(_session: Session) -> None:
        forget_state(key)

    sa_event.listen(session, "after_rollback", _on_rollback)


def _seen_at(post: Any) -> datetime | None:
    return post.published_at or post.fetched_at


def _resolve(ev: EventState) -> EventState:
    while ev.merged_into is not None:
        ev = ev.merged_into
    return ev


# --- state ----------------------------------------------------------------------------------
def _state_for(session: Session, batch_min_id: int, params: EventParams) -> _State:
    key = _key(session)
    prev = session.execute(select(func.max(Post.id)).where(Post.id < batch_min_id)).scalar() or 0
    with _LOCK:
        state = _STATES.get(key)
        if state is not None and state.last_post_id == prev and state.clusterer.params == params:
            return state
    state = _load_state(session, batch_min_id, params)
    state.last_post_id = prev
    with _LOCK:
        _STATES[key] = state
    return state


def _load_state(session: Session, batch_min_id: int, params: EventParams) -> _State:
    """Rebuild the clustering state from the database (recent events and posts)."""
    clusterer = EventClusterer(params)
    index = DuplicateIndex()
    state = _State(clusterer=clusterer, index=index)
    sample = session.execute(
        select(Post.title, Post.text)
        .where(Post.id < batch_min_id)
        .order_by(Post.id.desc())
        .limit(IDF_SAMPLE)
    ).all()
    clusterer.idf.update(features(text or "", title, params).terms.keys() for title, text in sample)
    rows = session.execute(
        select(
            Event.id,
            Event.signature,
            Event.posts,
            Event.likes,
            Event.dislikes,
            Event.reposts,
            Event.first_seen,
            Event.last_seen,
            Event.title,
        )
        .where(Event.merged_into_id.is_(None))
        .order_by(Event.updated_at.desc(), Event.id.desc())
        .limit(min(RESTORE_EVENTS, params.max_active))
    ).all()
    for row in reversed(rows):
        ev = _event_state(row)
        clusterer.restore(ev, {k: float(v) for k, v in (row.signature or {}).items()})
        state.by_id[row.id] = ev
    posts = session.execute(
        select(Post.id, Post.simhash, Post.content_hash, Post.dup_of_id, Post.event_id)
        .where(Post.id < batch_min_id, Post.event_id.is_not(None))
        .order_by(Post.id.desc())
        .limit(RESTORE_POSTS)
    ).all()
    for pid, fp, chash, dup_of, ev_id in reversed(posts):
        index.add(Known(pid, dup_of or pid, ev_id, from_signed64(fp)), chash or None)
    return state


def _event_state(row: Any) -> EventState:
    ev = EventState()
    ev.id = row.id
    ev.posts, ev.likes, ev.dislikes, ev.reposts = row.posts, row.likes, row.dislikes, row.reposts
    ev.first_seen, ev.last_seen, ev.title = row.first_seen, row.last_seen, row.title
    ev.is_new = False
    return ev


def _event_of(session: Session, state: _State, ref: Any) -> EventState | None:
    """The in-memory event for an index entry (an EventState or a stored event id)."""
    if isinstance(ref, EventState):
        return _resolve(ref)
    if ref is None:
        return None
    ev = state.by_id.get(ref)
    if ev is None:
        row = session.get(Event, ref)
        while row is not None and row.merged_into_id is not None:
            row = session.get(Event, row.merged_into_id)
        if row is None:
            return None
        ev = state.by_id.get(row.id)
        if ev is None:
            ev = _event_state(row)
            ev.alive = False  # counts only; not a clustering candidate
            state.by_id[row.id] = ev
    return _resolve(ev)


# --- ingest ----------------------------------------------------------------------------------
def process_new_posts(
    session: Session,
    *,
    posts: Sequence[Post],
    now: datetime,
    params: EventParams | None = None,
    precomputed: Mapping[int, tuple[PostFeatures, int | None]] | None = None,
    batch_counts: tuple[Mapping[str, int], Sequence[PostFeatures]] | None = None,
) -> None:
    """Set ``dup_of_id``, ``event_id`` and ``simhash`` on freshly inserted posts; update events.

    ``posts`` must have ids (flushed). The caller owns the transaction. Reposts and copies
    (same normalised text, or SimHash within 5 bits of a recent post) point to the first post
    with that text and count toward its event; other posts join the most similar active event
    or start a new one.

    ``precomputed``: post id → (features, SimHash fingerprint) computed ahead with the same
    ``params`` (``ledger.posts.intake.prepare_batch``); those posts are not featurised again.
    ``batch_counts``: (document counts of every term over ``features``, ``features``) for the
    whole batch the posts came from, precomputed; the posts' own document frequencies are then
    derived from it (the counts minus the batch's posts that are not clustered here).
    """
    posts = [p for p in posts if p.id is not None]
    if not posts:
        return
    params = params or EventParams()
    posts.sort(key=lambda p: p.id)
    state = _state_for(session, posts[0].id, params)
    _watch_rollback(session, _key(session))
    cl, index = state.clusterer, state.index

    # exact copies (same normalised text) need no features: find them first
    stored = _stored_originals(session, posts, index)
    seen: set[str] = set()
    copy: list[bool] = []
    for p in posts:
        h = p.content_hash or ""
        copy.append(bool(h) and (h in seen or h in stored or index.find_exact(h) is not None))
        seen.add(h)
    fresh = [i for i, c in enumerate(copy) if not c]
    feats: list[Any] = [None] * len(posts)
    fps: list[int | None] = [None] * len(posts)
    todo = []
    for i in fresh:
        ahead = precomputed.get(posts[i].id) if precomputed else None
        if ahead is None:
            feats[i] = features(posts[i].text or "", posts[i].title, params)
            todo.append(i)
        else:
            feats[i], fps[i] = ahead
            if feats[i].tag_words:
                prime_tag_words(feats[i].tag_words)
    _update_idf(cl, [feats[i] for i in fresh], todo, batch_counts)
    for i, fp in zip(todo, simhash_batch([feats[i].shingles for i in todo]), strict=True):
        fps[i] = fp

    # unit vectors of every post that may start or join an event, at once (numpy over the batch)
    vectors = dict(zip(fresh, cl.vectors([feats[i] for i in fresh]), strict=True))
    touched: dict[int, EventState] = {}
    results: list[tuple[Any, int | None, EventState]] = []
    for i, post in enumerate(posts):
        chash = post.content_hash or None
        if copy[i]:
            known = index.find_exact(chash) or stored.get(chash)  # type: ignore[arg-type]
            fps[i] = known.fingerprint if known is not None else None
        else:
            known = index.find_near(fps[i])
        ev = _event_of(session, state, known.event_id) if known is not None else None
        if ev is not None:
            root = known.root_id  # type: ignore[union-attr]
        else:
            root = None
            feat = feats[i] or features(post.text or "", post.title, params)
            vec = vectors.get(i)
            ev, created = cl.assign(vec if vec is not None else cl.vector(feat))
            if created:
                ev.title = _cheap_title(post, feat.hashtags)
        ev.add_counts(
            likes=post.likes or 0,
            dislikes=post.dislikes or 0,
            reposts=getattr(post, "reposts", 0) or 0,
            seen=_seen_at(post),
        )
        touched[id(ev)] = ev
        index.add(Known(post.id, root or post.id, ev, fps[i]), chash)
        results.append((post, root, ev))

    merged = cl.merge_similar(list(touched.values()))
    _write(session, state, results, touched, merged, fps, now, params)
    state.last_post_id = posts[-1].id


def _update_idf(cl: EventClusterer, fresh: list[PostFeatures], computed_here: list[int],
                batch_counts: tuple[Mapping[str, int], Sequence[PostFeatures]] | None) -> None:
    """Count the document frequencies of the posts to cluster, from the batch's counts when given."""
    if batch_counts is None or computed_here:
        cl.idf.update(f.terms.keys() for f in fresh)
        return
    counts, everyone = batch_counts
    mine = {id(f) for f in fresh}
    left = dict(counts)
    for f in everyone:
        if id(f) not in mine:
            for t in f.terms:
                left[t] -= 1
    cl.idf.update_counts({t: c for t, c in left.items() if c}, len(fresh))


def _stored_originals(
    session: Session, posts: Sequence[Post], index: DuplicateIndex
) -> dict[str, Known]:
    """Earliest stored post for each content hash of the batch that the index does not know."""
    missing = {
        p.content_hash for p in posts if p.content_hash and index.find_exact(p.content_hash) is None
    }
    if not missing:
        return {}
    out: dict[str, Known] = {}
    min_id = posts[0].id
    hashes = list(missing)
    for i in range(0, len(hashes), 500):
        rows = session.execute(
            select(Post.content_hash, Post.id, Post.dup_of_id, Post.event_id)
            .where(
                Post.content_hash.in_(hashes[i : i + 500]),
                Post.id < min_id,
                Post.event_id.is_not(None),
            )
            .order_by(Post.id)
        ).all()
        for chash, pid, dup_of, ev_id in rows:
            out.setdefault(chash, Known(pid, dup_of or pid, ev_id, None))
    return out


def _cheap_title(post: Any, tags: list[str]) -> str:
    if tags:
        return tags[0]
    title = (post.title or "").strip()
    if title:
        return title[:80]
    line = (post.text or "").strip().split("\n", 1)[0]
    if not line:
        return "（无正文）"
    return line[:60] + ("…" if len(line) > 60 else "")


def _write(
    session: Session,
    state: _State,
    results: list[tuple[Any, int | None, EventState]],
    touched: dict[int, EventState],
    merged: list[tuple[EventState, EventState]],
    fps: list[int | None],
    now: datetime,
    params: EventParams,
) -> None:
    live = {id(_resolve(ev)): _resolve(ev) for ev in touched.values()}
    for gone, keep in merged:
        live[id(_resolve(keep))] = _resolve(keep)
    new = [ev for ev in live.values() if ev.id is None]
    rep = {}
    for post, _root, ev in results:
        rep.setdefault(id(_resolve(ev)), post.id)
    if new:
        rows = [_event_row(ev, now, params, rep_post_id=rep.get(id(ev))) for ev in new]
        ids = (
            session.execute(
                Event.__table__.insert().returning(
                    Event.__table__.c.id, sort_by_parameter_order=True
                ),
                rows,
            )
            .scalars()
            .all()
        )
        for ev, eid in zip(new, ids, strict=True):
            ev.id = eid
            ev.is_new = False
            state.by_id[eid] = ev
    if len(state.by_id) > 2 * params.max_active:  # keep the id map bounded: active events only
        state.by_id = {k: e for k, e in state.by_id.items() if e.alive}
    old = [ev for ev in live.values() if ev not in new]
    if old:
        groups: dict[bool, list[dict[str, Any]]] = {True: [], False: []}
        for ev in old:
            row = _event_row(ev, now, params)
            groups["signature" in row].append(
                {f"b_{k}": v for k, v in row.items()} | {"b_id": ev.id}
            )
        t = Event.__table__
        for rows in groups.values():
            if rows:
                cols = [k[2:] for k in rows[0] if k != "b_id"]
                session.execute(
                    t.update()
                    .where(t.c.id == bindparam("b_id"))
                    .values({c: bindparam(f"b_{c}") for c in cols}),
                    rows,
                )
    gone_ids = [(gone.id, _resolve(keep).id) for gone, keep in merged if gone.id is not None]
    if gone_ids:
        t = Event.__table__
        for gid, kid in gone_ids:
            session.execute(update(Post).where(Post.event_id == gid).values(event_id=kid))
            state.by_id.pop(gid, None)
        session.execute(
            t.update()
            .where(t.c.id == bindparam("b_id"))
            .values(merged_into_id=bindparam("b_into"), updated_at=now),
            [{"b_id": g, "b_into": k} for g, k in gone_ids],
        )
    params_rows = []
    for (post, root, ev), fp in zip(results, fps, strict=True):
        eid = _resolve(ev).id
        sim = to_signed64(fp)
        params_rows.append({"b_id": post.id, "b_dup": root, "b_event": eid, "b_sim": sim})
        state_ = getattr(post, "_sa_instance_state", None)
        if state_ is None:
            post.dup_of_id, post.event_id, post.simhash = root, eid, sim
        elif state_.session_id is None and not state_.committed_state:
            # a detached row fresh from the intake: its loaded values are just replaced
            post.__dict__.update(dup_of_id=root, event_id=eid, simhash=sim)
        else:  # an ORM instance in a session: recorded as loaded, so no second UPDATE
            for attr, value in (("dup_of_id", root), ("event_id", eid), ("simhash", sim)):
                set_committed_value(post, attr, value)
    pt = Post.__table__
    stmt = (
        pt.update()
        .where(pt.c.id == bindparam("b_id"))
        .values(
            dup_of_id=bindparam("b_dup"), event_id=bindparam("b_event"), simhash=bindparam("b_sim")
        )
    )
    dialect = session.get_bind().dialect
    if dialect.name == "sqlite":
        # integers only, nothing to convert: the driver's executemany without SQLAlchemy's
        # per-row parameter processing (the statement is the one SQLAlchemy compiles)
        compiled = stmt.compile(dialect=dialect)
        order = compiled.positiontup
        session.connection().exec_driver_sql(
            str(compiled), [tuple(row[k] for k in order) for row in params_rows]
        )
    elif dialect.name == "postgresql":
        # one statement for the batch: the rows as four arrays joined to ``post`` by id (an
        # executemany sends and plans one UPDATE per post)
        cols = ("b_id", "b_dup", "b_event", "b_sim")
        arrays = {k: [row[k] for row in params_rows] for k in cols}
        session.execute(_UPDATE_FROM_ARRAYS, arrays)
    else:
        session.execute(stmt, params_rows)


_UPDATE_FROM_ARRAYS = sql_text(  # the ``post`` table of ledger.models.core.Post
    "UPDATE post SET dup_of_id = v.dup, event_id = v.ev, simhash = v.sim "
    "FROM unnest(CAST(:b_id AS integer[]), CAST(:b_dup AS integer[]), "
    "CAST(:b_event AS integer[]), CAST(:b_sim AS bigint[])) AS v(id, dup, ev, sim) "
    "WHERE post.id = v.id"
)


def _event_row(
    ev: EventState, now: datetime, params: EventParams, rep_post_id: int | None = None
) -> dict[str, Any]:
    row: dict[str, Any] = {
        "first_seen": ev.first_seen,
        "last_seen": ev.last_seen,
        "posts": ev.posts,
        "likes": ev.likes,
        "dislikes": ev.dislikes,
        "reposts": ev.reposts,
        "heat_base": heat_base(ev.posts, ev.likes, ev.dislikes, ev.reposts, params),
        "updated_at": now,
    }
    grown = ev.posts >= 2 * max(1, ev.sig_posts) or ev.posts - ev.sig_posts >= 64
    if ev.is_new or (ev.centroid and grown):  # an evicted event keeps its stored signature
        row["signature"] = ev.signature(SIGNATURE_TERMS)
        ev.sig_posts = ev.posts
    if ev.is_new:
        row.update(title=ev.title or "", keywords=[], created_at=now, rep_post_id=rep_post_id)
    return row
