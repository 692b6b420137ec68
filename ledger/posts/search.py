"""Full-text search over posts and citizens' messages (title and text), Chinese substring semantics.

A query is normalised like stored text (simplified characters, folded width, lower case) and
split at spaces into terms; a row matches when it contains every term as a substring (no word
segmentation: any phrase of two or more characters matches wherever it occurs). The indexes
are made by migration ``0012_search_schemes`` and kept in step by the database on every write:

- SQLite: the contentless FTS5 table ``<table>_fts`` (trigram tokenizer) over
  ``title \\n text \\n``. A term of three or more characters is an FTS5 phrase (consecutive
  trigrams: exactly a substring). A two-character term is looked up in the index's vocabulary
  (``<table>_fts_terms``) as the trigrams that begin with it, OR-ed: the trailing line break
  makes every pair of characters the start of some trigram, so nothing is missed.
- PostgreSQL: a GIN index over the distinct bigrams of the lower-cased document
  (``yq_bigrams``); the rows holding every bigram of every term are confirmed with ``strpos``.

Filters: time (posts: ``coalesce(published_at, fetched_at)``; messages: ``received_at``),
source, sentiment and monitoring category (posts), unit (messages). Newest (highest id) first.
Nothing here writes.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Table, bindparam, column, func, select, table, text
from sqlmodel import Session

from analysis.normalize import normalize_text
from ledger.models.core import Message, Post

MIN_TERM_CHARS = 2
MAX_TERMS = 8
MAX_QUERY_CHARS = 200
# a two-character term whose trigrams are more than this is refused on SQLite (a term that
# common matches nearly everything; narrow it with a longer phrase)
MAX_PREFIX_TRIGRAMS = 5000

# SQL of the two searched tables, written out (no SQL composed from strings)
_VOCAB_SQL = {
    "post": text("SELECT term FROM post_fts_terms WHERE term >= :lo AND term < :hi LIMIT :cap"),
    "message": text("SELECT term FROM message_fts_terms WHERE term >= :lo AND term < :hi LIMIT :cap"),
}
_FTS_MATCH = {"post": text("post_fts MATCH :fts_query"), "message": text("message_fts MATCH :fts_query")}
_PG_CATEGORY = text("CAST(post.categories AS jsonb) @> CAST(:category AS jsonb)")
_SQLITE_CATEGORY = text("EXISTS (SELECT 1 FROM json_each(post.categories) AS j "
                        "WHERE json_extract(j.value, '$.name') = :category)")
_PG_WORK_MEM = text("SET LOCAL work_mem = '64MB'")  # for the search statement's transaction
_POST: Table = Post.__table__  # type: ignore[attr-defined]
_MESSAGE: Table = Message.__table__  # type: ignore[attr-defined]
_counter = itertools.count()


class SearchError(ValueError):
    """A query that cannot be searched (message in Chinese for the user)."""


@dataclass(frozen=True)
class SearchFilters:
    """What narrows a search besides the terms (every field optional)."""

    since: datetime | None = None
    until: datetime | None = None
    source_id: int | None = None
    sentiment: str | None = None
    category: str | None = None
    unit: str | None = None  # messages only


def parse_query(query: str | None) -> list[str]:
    """The terms of a query: normalised as stored text is, lower-cased, split at spaces.

    Refused (:class:`SearchError`): an empty query, one longer than ``MAX_QUERY_CHARS``, more
    than ``MAX_TERMS`` terms, or a term of one character."""
    raw = (query or "").strip()
    if not raw:
        raise SearchError("检索词不能为空")
    if len(raw) > MAX_QUERY_CHARS:
        raise SearchError(f"检索词过长 (最多 {MAX_QUERY_CHARS} 个字符)")
    terms = list(dict.fromkeys(t for t in normalize_text(raw).lower().split() if t))
    if not terms:
        raise SearchError("检索词不能为空")
    if len(terms) > MAX_TERMS:
        raise SearchError(f"检索词最多 {MAX_TERMS} 个 (以空格分隔)")
    short = [t for t in terms if len(t) < MIN_TERM_CHARS]
    if short:
        raise SearchError(f"检索词至少两个字: {'、'.join(short)}")
    return terms


def _fts_phrase(text_: str) -> str:
    return '"' + text_.replace('"', '""') + '"'


def _sqlite_match(session: Session, name: str, terms: Sequence[str]) -> str | None:
    """The FTS5 MATCH expression of ``terms`` on ``<name>_fts``; None when a two-character term
    begins no trigram of the index (nothing can match)."""
    parts = []
    for term in terms:
        if len(term) >= 3:
            parts.append(_fts_phrase(term))
            continue
        grams = [r[0] for r in session.execute(
            _VOCAB_SQL[name],
            {"lo": term, "hi": term + "\U0010ffff", "cap": MAX_PREFIX_TRIGRAMS + 1},
        )]
        if not grams:
            return None
        if len(grams) > MAX_PREFIX_TRIGRAMS:
            raise SearchError(f"检索词「{term}」过于常见, 请使用更长的词或加上其他检索词")
        parts.append("(" + " OR ".join(_fts_phrase(g) for g in grams) + ")")
    return " AND ".join(parts)


def _doc_sql(name: str) -> str:
    return f"lower(coalesce({name}.title, '') || chr(10) || {name}.text)"


def _doc_expr(tbl: Table):
    """``_doc_sql`` as a SQL expression of ``tbl``'s columns (for scans without the index)."""
    return func.lower(func.coalesce(tbl.c.title, "") + "\n" + tbl.c.text)


def _postgres_clause(name: str, terms: Sequence[str]):
    """``yq_bigrams(doc) @> bigrams AND strpos(doc, term) > 0 …`` (the GIN index's expression)."""
    n = next(_counter)
    grams = sorted({t[i : i + 2] for t in terms for i in range(len(t) - 1)})
    doc = _doc_sql(name)
    conds = [f"yq_bigrams({doc}) @> CAST(:g{n} AS text[])"]
    params: dict[str, Any] = {f"g{n}": grams}
    for i, term in enumerate(terms):
        conds.append(f"strpos({doc}, :t{n}_{i}) > 0")
        params[f"t{n}_{i}"] = term
    clause = text(" AND ".join(conds)).bindparams(*[bindparam(k, v) for k, v in params.items()])
    return clause


def _filters(tbl: Table, f: SearchFilters, dialect: str) -> list[Any]:
    c = tbl.c
    out: list[Any] = []
    when = func.coalesce(c.published_at, c.fetched_at) if tbl is _POST else c.received_at
    if f.since is not None:
        out.append(when >= f.since)
    if f.until is not None:
        out.append(when < f.until)
    if f.source_id is not None:
        out.append(c.source_id == f.source_id)
    if tbl is _POST:
        if f.sentiment:
            out.append(c.sentiment == f.sentiment)
        if f.category:
            if dialect == "postgresql":
                out.append(_PG_CATEGORY.bindparams(
                    bindparam("category", json.dumps([{"name": f.category}], ensure_ascii=False))))
            else:
                out.append(_SQLITE_CATEGORY.bindparams(bindparam("category", f.category)))
    elif f.unit:
        out.append(c.unit == f.unit)
    return out


def _matching(session: Session, tbl: Table, terms: Sequence[str], filters: SearchFilters, what):
    """A SELECT of ``what`` over the rows of ``tbl`` matching ``terms`` and ``filters``; None when
    nothing can match."""
    dialect = session.get_bind().dialect.name
    name = tbl.name
    conds = _filters(tbl, filters, dialect)
    if dialect == "sqlite":
        expr = _sqlite_match(session, name, terms)
        if expr is None:
            return None, None
        fts = table(f"{name}_fts", column("rowid"))
        stmt = (select(*what).select_from(fts.join(tbl, tbl.c.id == fts.c.rowid))
                .where(_FTS_MATCH[name].bindparams(bindparam("fts_query", expr)), *conds))
        return stmt, fts.c.rowid
    if dialect == "postgresql":
        # a bitmap of many matches must not turn lossy: a lossy page is rechecked by computing
        # the index expression (every bigram of the text) for each of its rows
        session.execute(_PG_WORK_MEM)
        stmt = select(*what).select_from(tbl).where(_postgres_clause(name, terms), *conds)
        return stmt, tbl.c.id
    # any other database: a plain scan (no index), same semantics
    doc = _doc_expr(tbl)
    stmt = select(*what).select_from(tbl).where(*[doc.contains(t, autoescape=True) for t in terms], *conds)
    return stmt, tbl.c.id


# PostgreSQL: how many of the newest rows are read directly (newest first, ``strpos``) before the
# bigram index is asked. A common phrase (a tenth of all posts, say) has its newest matches among
# them and is answered without the index, whose bitmap of hundreds of thousands of rows takes
# seconds; a rarer phrase finds fewer and goes to the index, which is fast for it.
RECENT_PROBE_ROWS = 10_000
# When the first probe found some matches but not enough (a common phrase under a narrowing
# filter, e.g. only negative posts), the rows still needed are estimated from its match rate
# (with half again as many for safety) and read the same way, if that is at most this many; a
# phrase that would need more goes to the index.
MAX_PROBE_EXTENSION_ROWS = 60_000


def _nth_newest_id(session: Session, tbl: Table, n: int, below: int | None = None) -> int | None:
    """The id ``n`` rows below the newest (below ``below`` when given); None past the oldest row."""
    stmt = select(tbl.c.id)
    if below is not None:
        stmt = stmt.where(tbl.c.id <= below)
    return session.execute(stmt.order_by(tbl.c.id.desc()).offset(n).limit(1)).scalar()


def _probe_window(session: Session, tbl: Table, terms: Sequence[str], filters: SearchFilters, want: int,
                  floor: int | None, ceiling: int | None) -> list[int]:
    """The newest ``want`` matching ids with ``floor < id <= ceiling`` (open ends when None)."""
    doc = _doc_expr(tbl)
    conds = [func.strpos(doc, t) > 0 for t in terms] + _filters(tbl, filters, "postgresql")
    if floor is not None:
        conds.append(tbl.c.id > floor)
    if ceiling is not None:
        conds.append(tbl.c.id <= ceiling)
    return [r[0] for r in session.execute(select(tbl.c.id).where(*conds).order_by(tbl.c.id.desc()).limit(want))]


def _recent_probe(session: Session, tbl: Table, terms: Sequence[str], filters: SearchFilters, want: int,
                  ) -> tuple[list[int], bool]:
    """The newest matching ids among the newest rows and whether that answer is final: it is
    when ``want`` were found (any other match is older) or when the probes covered the whole
    table. First the newest ``RECENT_PROBE_ROWS``; then, if that found some matches but too few,
    as many older rows as its match rate says are needed (at most ``MAX_PROBE_EXTENSION_ROWS``)."""
    floor = _nth_newest_id(session, tbl, RECENT_PROBE_ROWS)
    ids = _probe_window(session, tbl, terms, filters, want, floor, None)
    if len(ids) >= want or floor is None:
        return ids, True
    if not ids:
        return ids, False
    extension = -(-RECENT_PROBE_ROWS * (want - len(ids)) * 3 // (2 * len(ids)))  # ceil(1.5 × rows per match × missing)
    if extension > MAX_PROBE_EXTENSION_ROWS:
        return ids, False
    lower = _nth_newest_id(session, tbl, extension, below=floor)
    ids += _probe_window(session, tbl, terms, filters, want - len(ids), lower, floor)
    return ids, len(ids) >= want or lower is None


def _search_ids(session: Session, tbl: Table, query: str, filters: SearchFilters, limit: int,
                offset: int = 0) -> list[int]:
    if limit < 1:
        raise SearchError("条数须大于 0")
    terms = parse_query(query)
    if terms and session.get_bind().dialect.name == "postgresql":
        ids, final = _recent_probe(session, tbl, terms, filters, limit + offset)
        if final:
            return ids[offset:offset + limit]
    stmt, order = _matching(session, tbl, terms, filters, [tbl.c.id])
    if stmt is None:
        return []
    stmt = stmt.order_by(order.desc()).limit(limit).offset(offset)
    return [r[0] for r in session.execute(stmt)]


def _count(session: Session, tbl: Table, query: str, filters: SearchFilters) -> int:
    terms = parse_query(query)
    stmt, _order = _matching(session, tbl, terms, filters, [func.count()])
    if stmt is None:
        return 0
    return int(session.execute(stmt).scalar_one())


def _load(session: Session, model, ids: list[int]) -> list[Any]:
    if not ids:
        return []
    rows = {r.id: r for r in session.execute(select(model).where(model.id.in_(ids))).scalars()}
    return [rows[i] for i in ids if i in rows]


def search_post_ids(session: Session, *, query: str, filters: SearchFilters | None = None,
                    limit: int = 50, offset: int = 0) -> list[int]:
    """Ids of the posts matching ``query`` and ``filters``, newest first."""
    return _search_ids(session, _POST, query, filters or SearchFilters(), limit, offset)


def search_posts(session: Session, *, query: str, filters: SearchFilters | None = None,
                 limit: int = 50, offset: int = 0) -> list[Post]:
    """The posts matching ``query`` and ``filters``, newest first."""
    return _load(session, Post, search_post_ids(session, query=query, filters=filters, limit=limit, offset=offset))


def count_posts(session: Session, *, query: str, filters: SearchFilters | None = None) -> int:
    """How many posts match ``query`` and ``filters``."""
    return _count(session, _POST, query, filters or SearchFilters())


def search_message_ids(session: Session, *, query: str, filters: SearchFilters | None = None,
                       limit: int = 50, offset: int = 0) -> list[int]:
    """Ids of the citizens' messages matching ``query`` and ``filters``, newest first."""
    return _search_ids(session, _MESSAGE, query, filters or SearchFilters(), limit, offset)


def search_messages(session: Session, *, query: str, filters: SearchFilters | None = None,
                    limit: int = 50, offset: int = 0) -> list[Message]:
    """The citizens' messages matching ``query`` and ``filters``, newest first."""
    return _load(session, Message, search_message_ids(session, query=query, filters=filters, limit=limit,
                                                        offset=offset))


def count_messages(session: Session, *, query: str, filters: SearchFilters | None = None) -> int:
    """How many citizens' messages match ``query`` and ``filters``."""
    return _count(session, _MESSAGE, query, filters or SearchFilters())


__all__ = [
    "SearchError",
    "SearchFilters",
    "count_messages",
    "count_posts",
    "parse_query",
    "search_message_ids",
    "search_messages",
    "search_post_ids",
    "search_posts",
]
