"""Intake: the one sink every crawler and importer writes to.

A batch of :class:`RawPost` items is normalised, assessed, deduplicated against what is stored
(unique per source and external id) and written in the caller's transaction. A changed item (same
id, new content) is updated and its earlier version kept in ``post_version``. Evidence (the raw
response, compressed) is stored with its SHA-256.

The write path is built for throughput: one existence query per batch; new rows written with
``ON CONFLICT DO NOTHING`` (so a concurrent or repeated run cannot store a post twice), on SQLite
by one ``executemany`` and their ids read back with one query, on PostgreSQL by ``COPY`` into a
staging table and one ``INSERT … SELECT … RETURNING``; the stored rows handed back as fully
loaded :class:`Post` objects (no per-row ORM flush) for event clustering.

The driver-level inserts are :mod:`ledger.posts.bulk`; citizens' messages (留言) from hotline
exports go through :func:`ledger.messages.intake.store_messages`, linked to the post stored for the
same row.
"""

from __future__ import annotations

import hashlib
import json
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, insert, inspect, select, update
from sqlmodel import Session

from analysis.assess import Assessment, Assessor
from analysis.dedupe import simhash_batch
from analysis.events import (
    PostFeatures,
    document_counts,
    features,
    pack_batch_terms,
    pack_counts,
    unpack_batch_terms,
    unpack_counts,
)
from analysis.heat import EventParams
from analysis.normalize import content_hash, normalize_text
from ledger.models.core import Evidence, Post, PostVersion
from ledger.posts import events as ledger_events
from ledger.posts.bulk import JSON_COLUMNS, insert_postgres, insert_sqlite

MAX_TEXT_CHARS = 200_000
MAX_TITLE_CHARS = 2_000
MAX_EXTERNAL_ID = 512
# rows per existence query (SQLite allows 32,766 bound parameters since 3.32)
QUERY_CHUNK = 5_000

_POST = Post.__table__  # type: ignore[attr-defined]
_MAPPER = inspect(Post)


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


# Called with (session, posts=<new posts>, now=...) after each batch is stored, in its transaction
# (monitoring schemes: registered by the composition root). A hook may not commit.
NewPostHook = Callable[..., None]
NEW_POST_HOOKS: list[NewPostHook] = []


def add_new_post_hook(hook: NewPostHook) -> None:
    """Register ``hook`` to see every batch of newly stored posts (once, however often called)."""
    if hook not in NEW_POST_HOOKS:
        NEW_POST_HOOKS.append(hook)


def prepare(item: RawPost) -> tuple[str | None, str]:
    """Normalised (title, text) of an item, bounded in size."""
    title = normalize_text(item.title, is_html=None)[:MAX_TITLE_CHARS] if item.title else None
    text = normalize_text(item.text, is_html=item.is_html)[:MAX_TEXT_CHARS]
    return title or None, text


@dataclass(slots=True)
class Prepared:
    """The database-free work on one item, done ahead of storing it (possibly in another process):
    normalised title and text, content hash, the assessment as the ``post`` column values it
    fills, and the event features with the SimHash fingerprint (shingles dropped: the
    fingerprint is all that is needed of them)."""

    title: str | None
    text: str
    digest: str
    values: dict[str, Any]  # the assessment's non-JSON columns and the cleaned ``author``
    features: PostFeatures
    fingerprint: int | None
    json: dict[str, str] = field(default_factory=dict)  # the JSON columns, serialised

    def all_values(self) -> dict[str, Any]:
        """Every column value of the assessment, the JSON ones decoded."""
        return {**self.values, **{k: json.loads(v) for k, v in self.json.items()}}


def _heat(item: RawPost) -> float:
    return float(item.likes + item.dislikes + item.reposts)


def _joined(title: str | None, text: str) -> str:
    return title + "\n" + text if title else text


_ENCODE = json.JSONEncoder().encode  # what json.dumps (SQLAlchemy's JSON serialiser) uses by default


def _to_json(value: Any) -> str:
    return "[]" if value == [] else _ENCODE(value)


class PreparedBatch(list):
    """:func:`prepare_batch`'s result: one :class:`Prepared` per item, and ``term_counts``, how
    many of the batch's posts contain each event-feature term (so that the importing process can
    update its document frequencies without counting the terms again)."""

    def __init__(self, items: Sequence[Prepared], term_counts: dict[str, int]) -> None:
        super().__init__(items)
        self.term_counts = term_counts

    def __reduce__(self):
        # Columns, not objects: a list of strings or small dicts loads several times faster than
        # as many pickled dataclass instances, and loading is on the importing process's critical
        # path. The posts' terms travel as one run for the whole batch (analysis.events.TermSpan).
        packed, starts = pack_batch_terms([p.features for p in self])
        columns = (
            [p.title for p in self], [p.text for p in self], [p.digest for p in self], [p.values for p in self],
            [p.fingerprint for p in self], [p.json for p in self], [p.features.hashtags for p in self],
            [p.features.entities for p in self], [p.features.tag_words for p in self],
        )
        return (_rebuild_batch, (columns, pack_counts(self.term_counts), packed, starts))


def _rebuild_batch(columns: tuple[list, ...], counts: Any, packed: Any, starts: list[int]) -> PreparedBatch:
    items = [
        Prepared(title, text, digest, values, PostFeatures([], {}, tags, names, words), fp, texts)
        for title, text, digest, values, fp, texts, tags, names, words in zip(*columns, strict=True)
    ]
    unpack_batch_terms(packed, starts, [p.features for p in items])
    return PreparedBatch(items, unpack_counts(counts))


def prepare_batch(
    items: Sequence[RawPost], assessor: Assessor, event_params: EventParams | None = None
) -> PreparedBatch:
    """Normalise, hash, assess and featurise ``items`` (one :class:`Prepared` per item, in order).

    A pure function of the items and the assessor: :func:`store_posts` accepts its result, so an
    importer can run it for the next batch in a worker process while this one is being stored."""
    params = event_params or EventParams()
    normal = [prepare(item) for item in items]
    assessments = assessor.assess_batch(
        [_joined(t, x) for t, x in normal], heats=[_heat(it) for it in items]
    ) if items else []
    feats = [features(text, title, params, with_tag_words=True) for title, text in normal]
    fps = simhash_batch([f.shingles for f in feats])
    out = []
    for item, (title, text), a, f, fp in zip(items, normal, assessments, feats, fps, strict=True):
        f.shingles = []
        digest = content_hash((title or "") + "\n" + text)
        values = _assessment_values(a)
        values["author"] = author_name(item.author)
        # the JSON columns travel serialised only (what the SQLite insert sends as it is)
        texts = {k: _to_json(values.pop(k)) for k in JSON_COLUMNS if k in values}
        out.append(Prepared(title, text, digest, values, f, fp, texts))
    return PreparedBatch(out, document_counts(feats))


def author_name(value: str | None) -> str | None:
    """An author name as plain text (no markup, no NUL), bounded."""
    if not value:
        return None
    if "<" in value or "&" in value:
        value = normalize_text(value, simplify=False)
    return value.replace("\x00", "").strip()[:200] or None


def external_key(value: Any) -> str:
    return str(value)[:MAX_EXTERNAL_ID]


def _existing(session: Session, source_id: int, ids: Sequence[str]) -> dict[str, tuple]:
    """external_id → (id, content_hash, likes, dislikes, reposts) of stored posts, one query per chunk."""
    out: dict[str, tuple] = {}
    c = _POST.c
    for start in range(0, len(ids), QUERY_CHUNK):
        chunk = ids[start : start + QUERY_CHUNK]
        rows = session.execute(
            select(c.external_id, c.id, c.content_hash, c.likes, c.dislikes, c.reposts).where(
                c.source_id == source_id, c.external_id.in_(chunk)
            )
        ).all()
        for ext, *rest in rows:
            out[ext] = tuple(rest)
    return out


def insert_ignoring_duplicates(session: Session, table, key: str):
    """``INSERT`` that skips rows whose (source_id, external_id) is already stored."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(table).on_conflict_do_nothing(constraint=key)
    if dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert(table).on_conflict_do_nothing(index_elements=["source_id", "external_id"])
    return insert(table)


_LIMITS = {c.name: getattr(c.type, "length", None) for c in _POST.columns}


def _fit(value: str | None, column: str) -> str | None:
    """Bound a label to its column's length (PostgreSQL refuses longer strings; SQLite does not):
    a list such as ``A区、B区、…`` is cut at a separator and marked ``等``."""
    limit = _LIMITS[column]
    if value is None or limit is None or len(value) <= limit:
        return value
    cut = value[: limit - 1]
    if "、" in cut:
        cut = cut[: cut.rindex("、")]
    return cut + "等"


def _assessment_values(a: Assessment) -> dict[str, Any]:
    """The ``post`` columns an assessment fills."""
    return {
        "sentiment": _fit(a.sentiment, "sentiment"),
        "sentiment_score": a.sentiment_score,
        "categories": a.categories,
        "topics": a.topics,
        "sensitivity": a.sensitivity,
        "severity": _fit(a.severity, "severity"),
        "jurisdiction": _fit(a.jurisdiction, "jurisdiction"),
        "responsible_unit": _fit(a.responsible_unit, "responsible_unit"),
        "disposal_type": _fit(a.disposal_type, "disposal_type"),
        "rumour": a.rumour,
        "pii": a.pii,
        "assessment": {
            "reasons": a.reasons,
            "topic": a.topic,
            "topic_score": None if a.topic_score is None else round(a.topic_score, 4),
        },
    }


_KNOWN_POST_COLUMNS = frozenset(
    ["id", "source_id", "external_id", "url", "title", "text", "author", "published_at", "fetched_at", "updated_at", "version", "content_hash", "simhash", "dup_of_id", "likes", "dislikes", "reposts", "event_id", "sentiment", "sentiment_score", "categories", "topics", "sensitivity", "severity", "jurisdiction", "responsible_unit", "disposal_type", "rumour", "pii", "assessment"]
)


def _other_post_columns() -> list[tuple[str, Any]]:
    """Columns added to ``post`` later (by other modules) with their Python-side defaults, so the
    objects handed back are complete and never lazy-load."""
    out = []
    for col in _POST.columns:
        if col.name in _KNOWN_POST_COLUMNS:
            continue
        default = col.default.arg if col.default is not None else None
        if callable(default):
            fn = default
            default = (lambda fn=fn: fn(None))  # SQLAlchemy passes an execution context
        out.append((col.name, default))
    return out


def _stored_post(values: dict[str, Any]) -> Post:
    """A Post for a row just inserted, as if loaded and then detached (no extra query).

    Every column in ``values`` is loaded, so reading it never touches the database;
    ``session.add(post)`` attaches it (persistent, not re-inserted) if a caller wants ORM change
    tracking. Not adding thousands of objects to the session per batch saves the cascade walk of
    ``Session.add``. Rows prepared ahead (``prepared=`` of :func:`store_posts`) come without
    their JSON columns (categories, topics, pii, assessment), which are then not loaded: reading
    one raises ``DetachedInstanceError`` (re-read the row to get them)."""
    post = Post._sa_class_manager.new_instance()  # type: ignore[attr-defined]
    post.__dict__.update(values)
    # what make_transient_to_detached does for an object whose every column is set, without its
    # per-object identity computation (a third of this function's cost at ingest rates)
    inspect(post).key = _MAPPER.identity_key_from_primary_key((values["id"],))
    return post


def store_posts(
    session: Session,
    *,
    source_id: int,
    items: Sequence[RawPost],
    assessor: Assessor,
    now: datetime,
    prepared: Sequence[Prepared] | None = None,
) -> IntakeResult:
    """Normalise, assess and store ``items`` of one source; does not commit.

    Items already stored with the same content are left alone (crawling twice stores nothing
    twice); items whose content changed are updated and their previous version kept.
    ``result.posts`` holds the inserted and updated rows as ``Post`` objects with ids and every
    column loaded (inserted ones detached: see :func:`_stored_post`).

    ``prepared``: :func:`prepare_batch` of the same ``items`` (same order), computed ahead; the
    normalisation, assessment and event features are then taken from it instead of being redone.
    """
    result = IntakeResult()
    if not items:
        return result
    if prepared is not None and len(prepared) != len(items):
        raise ValueError("prepared 与 items 数量不一致 (prepared and items differ in length)")
    # de-duplicate within the batch: last occurrence of an external id wins
    by_id: dict[str, int] = {}
    for i, item in enumerate(items):
        by_id[external_key(item.external_id)] = i
    existing = _existing(session, source_id, list(by_id))

    new_items: list[tuple[str, RawPost, str | None, str, str]] = []
    changed: list[tuple[int, RawPost, str | None, str, str]] = []
    new_prep: list[Prepared] = []
    changed_prep: list[Prepared] = []
    counts: list[dict[str, Any]] = []
    for ext_id, i in by_id.items():
        item = items[i]
        if prepared is not None:
            prep = prepared[i]
            title, text, digest = prep.title, prep.text, prep.digest
        else:
            title, text = prepare(item)
            digest = content_hash((title or "") + "\n" + text)
        old = existing.get(ext_id)
        if old is None:
            new_items.append((ext_id, item, title, text, digest))
            if prepared is not None:
                new_prep.append(prep)
        elif old[1] != digest:
            changed.append((old[0], item, title, text, digest))
            if prepared is not None:
                changed_prep.append(prep)
        else:
            result.unchanged += 1
            if (item.likes, item.dislikes, item.reposts) != tuple(old[2:5]):
                counts.append({"_id": old[0], "_l": item.likes, "_d": item.dislikes, "_r": item.reposts})
    if counts:
        session.execute(
            update(_POST)
            .where(_POST.c.id == bindparam("_id"))
            .values(likes=bindparam("_l"), dislikes=bindparam("_d"), reposts=bindparam("_r")),
            counts,
        )

    if prepared is not None:
        values = [p.values for p in new_prep] + [p.all_values() for p in changed_prep]
    else:
        to_assess = [_joined(t, x) for _, _, t, x, _ in new_items] + [_joined(t, x) for _, _, t, x, _ in changed]
        heats = [_heat(it) for _, it, _, _, _ in new_items] + [_heat(it) for _, it, _, _, _ in changed]
        assessments = assessor.assess_batch(to_assess, heats=heats) if to_assess else []
        values = [_assessment_values(a) for a in assessments]

    texts = [p.json for p in new_prep] if prepared is not None else None
    fresh = _insert_new(session, source_id, new_items, values[: len(new_items)], now, texts)
    updated = _update_changed(session, changed, values[len(new_items) :], now)
    result.inserted = len(fresh)
    result.updated = len(updated)
    result.unchanged += len(new_items) - len(fresh)  # stored meanwhile by a concurrent run
    result.posts = fresh + updated

    # evidence for every new or changed item that carried its raw response
    raw_by_id = {ext: items[i] for ext, i in by_id.items() if items[i].raw is not None}
    if raw_by_id:
        for post in result.posts:
            item = raw_by_id.get(post.external_id)
            if item is not None:
                session.add(make_evidence(source_id, post.id, item.url, item.raw or b"", item.raw_content_type, now))
    if fresh:
        ahead = None
        if prepared is not None:
            by_ext = {ext: p for (ext, *_rest), p in zip(new_items, new_prep, strict=True)}
            ahead = {post.id: (by_ext[post.external_id].features, by_ext[post.external_id].fingerprint)
                     for post in fresh}
        counts = getattr(prepared, "term_counts", None)
        batch = (counts, [p.features for p in prepared]) if counts is not None else None
        ledger_events.process_new_posts(session, posts=fresh, now=now, precomputed=ahead, batch_counts=batch)
        for hook in NEW_POST_HOOKS:
            hook(session, posts=fresh, now=now)
    return result


def _insert_new(session: Session, source_id: int, new_items: list, values: list, now: datetime,
                json_texts: list[dict[str, str] | None] | None = None) -> list[Post]:
    if not new_items:
        return []
    rows: list[dict[str, Any]] = []
    others = _other_post_columns()
    for (ext_id, item, title, text, digest), assessed in zip(new_items, values, strict=True):
        row = {
            "source_id": source_id,
            "external_id": ext_id,
            "url": item.url[:2000] if item.url else None,
            "title": title,
            "text": text,
            "published_at": item.published_at,
            "fetched_at": now,
            "updated_at": None,
            "version": 1,
            "content_hash": digest,
            "simhash": None,
            "dup_of_id": None,
            "likes": item.likes,
            "dislikes": item.dislikes,
            "reposts": item.reposts,
            "event_id": None,
        }
        row.update(assessed)
        if "author" not in assessed:
            row["author"] = author_name(item.author)
        for name, default in others:
            row[name] = default() if callable(default) else default
        rows.append(row)
    # PostgreSQL: COPY and one INSERT … SELECT … RETURNING (_insert_postgres). Elsewhere an
    # executemany of one small statement, then one query for the ids (cheaper than INSERT …
    # RETURNING over many VALUES rows). A row another process stored between the existence query
    # and this insert is skipped by the insert, its id read back, and then taken as new.
    dialect = session.get_bind().dialect.name
    ids: dict[str, int] = {}
    if dialect == "postgresql":
        ids = insert_postgres(session, rows, json_texts)
    elif json_texts is not None and dialect == "sqlite":
        insert_sqlite(session, rows, json_texts)
    else:
        if json_texts is not None:  # decoded for SQLAlchemy's JSON type on other databases
            for row, ready in zip(rows, json_texts, strict=True):
                for key, text in ready.items():
                    row[key] = json.loads(text)
        stmt = insert_ignoring_duplicates(session, _POST, "uq_post_source_external")
        session.execute(stmt, rows)
    missing = [r["external_id"] for r in rows if r["external_id"] not in ids]
    if missing:  # not returned by the insert (or not asked): read back
        ids.update((ext, pk) for ext, (pk, *_rest) in _existing(session, source_id, missing).items())
    fresh: list[Post] = []
    for row in rows:
        pk = ids.get(row["external_id"])
        if pk is not None:
            row["id"] = pk
            fresh.append(_stored_post(row))
    return fresh


def _update_changed(session: Session, changed: list, values: list, now: datetime) -> list[Post]:
    out: list[Post] = []
    for (post_id, item, title, text, digest), assessed in zip(changed, values, strict=True):
        post = session.get(Post, post_id)
        if post is None:  # deleted meanwhile
            continue
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
        for key, value in assessed.items():
            if key != "author":  # an edit keeps the stored author
                setattr(post, key, value)
        session.add(post)
        out.append(post)
    if out:
        session.flush()
    return out


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


def post_ids(session: Session, *, source_id: int, external_ids: Sequence[str]) -> dict[str, int]:
    """external_id → post id for the stored posts of a source among ``external_ids``."""
    return {ext: row[0] for ext, row in _existing(session, source_id, [external_key(x) for x in external_ids]).items()}


__all__ = [
    "NEW_POST_HOOKS",
    "IntakeResult",
    "Prepared",
    "PreparedBatch",
    "RawPost",
    "add_new_post_hook",
    "make_evidence",
    "post_ids",
    "prepare",
    "prepare_batch",
    "store_posts",
]
