"""Full-text search over posts and messages on a real SQLite file and a real PostgreSQL schema:
substring semantics (any phrase of two or more characters), normalisation, filters, the index
kept in step by every write, the migration indexing rows stored before it, the CLI."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from analysis.assess import Assessor
from ledger.db import make_engine, session_scope
from ledger.messages.intake import RawMessage, store_messages
from ledger.migrate import upgrade
from ledger.posts.intake import RawPost, store_posts
from ledger.posts.search import (
    SearchError,
    SearchFilters,
    count_messages,
    count_posts,
    search_message_ids,
    search_post_ids,
)
from ledger.posts.sources import add_source
from tests.cli import run_cli

NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)

POSTS = [  # external id, title, text, published
    ("p1", None, "双黄连口服液可以抑制新冠病毒", NOW - timedelta(days=3)),
    ("p2", "抢购", "大家都在抢购双黄连", NOW - timedelta(days=1)),
    ("p3", None, "转发：双黄连", None),
    ("p4", None, "這段是繁體：結尾是雙黃", None),   # stored simplified; 双黄 only at the very end
    ("p5", "標題末尾雙黃", "正文无关", None),         # 双黄 only at the end of the title
    ("p6", None, "ＡＢＣ全角字母 def 其他", None),     # full-width letters folded to ASCII
    ("p7", None, "黄连素不是双黄连的简称", None),
    ("p8", None, "双 黄连 中间有空格", None),          # not a substring of 双黄连
]


def _store(engine, items=POSTS, *, source="微博"):
    with session_scope(engine) as s:
        sid = add_source(s, name=source, kind="file", url=None, actor="t", now=NOW).id
        store_posts(s, source_id=sid, assessor=Assessor(), now=NOW, items=[
            RawPost(external_id=e, title=t, text=x, published_at=p) for e, t, x, p in items])
    return sid


def _ids(engine, query, **filters):
    with session_scope(engine) as s:
        ext = dict(s.execute(text("SELECT id, external_id FROM post")).all())
        found = search_post_ids(s, query=query, filters=SearchFilters(**filters), limit=100)
        n = count_posts(s, query=query, filters=SearchFilters(**filters))
    assert n == len(found)
    return [ext[i] for i in found]


def test_posts_match_any_phrase_of_two_or_more_characters(any_engine):
    _store(any_engine)
    assert _ids(any_engine, "双黄连") == ["p7", "p3", "p2", "p1"]  # newest (highest id) first
    # two characters: at the end of the text, at the end of the title, anywhere
    assert _ids(any_engine, "双黄") == ["p7", "p5", "p4", "p3", "p2", "p1"]
    assert _ids(any_engine, "黄连") == ["p8", "p7", "p3", "p2", "p1"]
    assert _ids(any_engine, "简称") == ["p7"]  # the last two characters of a text
    # a query is normalised like stored text: traditional → simplified, full width folded, any case
    assert _ids(any_engine, "雙黃連") == ["p7", "p3", "p2", "p1"]
    assert _ids(any_engine, "abc") == _ids(any_engine, "ＡＢＣ") == ["p6"]
    assert _ids(any_engine, "DEF") == ["p6"]
    # several terms: every one must occur (in title or text)
    assert _ids(any_engine, "双黄连 抢购") == ["p2"]
    assert _ids(any_engine, "抢购 大家") == ["p2"]
    assert _ids(any_engine, "口服液 不存在") == []
    assert _ids(any_engine, "连口") == ["p1"]
    assert _ids(any_engine, "不存在的词") == [] and _ids(any_engine, "鬣狗") == []


def test_filters_time_source_sentiment_category(any_engine):
    _store(any_engine)
    _store(any_engine, [("q1", None, "另一来源的双黄连", NOW)], source="论坛")
    assert _ids(any_engine, "双黄连", since=NOW - timedelta(days=2)) == ["q1", "p7", "p3", "p2"]
    assert _ids(any_engine, "双黄连", until=NOW - timedelta(days=2)) == ["p1"]
    with session_scope(any_engine) as s:
        forum = s.execute(text("SELECT id FROM source WHERE name = '论坛'")).scalar_one()
        s.execute(text("UPDATE post SET sentiment = CASE WHEN external_id IN ('p2', 'q1') THEN 'negative' "
                       "ELSE 'neutral' END, categories = '[]'"))
        s.execute(text("UPDATE post SET categories = :c WHERE external_id = 'p3'"),
                  {"c": json.dumps([{"id": "c.rumour", "name": "不实信息", "terms": ["转发"]}], ensure_ascii=False)})
    assert _ids(any_engine, "双黄连", source_id=forum) == ["q1"]
    assert _ids(any_engine, "双黄连", sentiment="negative") == ["q1", "p2"]
    assert _ids(any_engine, "双黄连", category="不实信息") == ["p3"]
    assert _ids(any_engine, "双黄连", category="其他类别") == []


def test_index_follows_updates_and_deletes(any_engine):
    sid = _store(any_engine)
    with session_scope(any_engine) as s:  # the same post changed at its source: the intake updates it
        store_posts(s, source_id=sid, assessor=Assessor(), now=NOW + timedelta(hours=1),
                    items=[RawPost(external_id="p1", text="已更正：此前消息不实")])
    assert "p1" not in _ids(any_engine, "双黄连")
    assert _ids(any_engine, "更正") == ["p1"]
    with session_scope(any_engine) as s:
        s.execute(text("DELETE FROM post WHERE external_id = 'p2'"))
    assert _ids(any_engine, "双黄连") == ["p7", "p3"]
    assert _ids(any_engine, "抢购") == []


def test_a_post_of_the_longest_kept_size_is_stored_and_found(any_engine):
    """The intake keeps up to 200,000 characters; indexing such a post must not hold the writer
    (PostgreSQL's bigram function was quadratic in the length: minutes for one crawled page).
    A 60 s statement limit turns a hang into a failure here."""
    body = ("很长的页面内容。𠀀ab\n" * 20_000)[:199_990] + "结尾双黄连"
    if any_engine.dialect.name == "postgresql":
        with any_engine.begin() as conn:
            conn.execute(text("SET statement_timeout = '60s'"))  # session-wide, on this pool's connection
    sid = _store(any_engine, [("big", "长页面", body, None), ("p1", None, "双黄连口服液", None)])
    assert sorted(_ids(any_engine, "双黄连")) == ["big", "p1"]
    assert _ids(any_engine, "容。𠀀a") == ["big"]
    assert sid


def test_postgres_bigrams_are_each_pair_of_neighbouring_characters(pg_engine):
    """yq_bigrams (the PostgreSQL index expression) against a reference written in Python."""
    docs = ["", "a", "ab", "aaa", "双黄连\n双黄连", "𠀀𠀁x\t Ａ", "é́漢字"]
    with pg_engine.connect() as conn:
        for doc in docs:
            got = conn.execute(text("SELECT yq_bigrams(:d)"), {"d": doc}).scalar_one()
            assert sorted(got) == sorted({doc[i:i + 2] for i in range(len(doc) - 1)}), doc


def test_bad_queries_are_refused_in_chinese(any_engine):
    _store(any_engine)
    with session_scope(any_engine) as s:
        for query, words in (("", "不能为空"), ("   ", "不能为空"), ("黄", "至少两个字"), ("双黄连 的", "至少两个字"),
                             ("字" * 201, "过长"), (" ".join(f"词{i}" for i in range(9)), "最多")):
            with pytest.raises(SearchError, match=words):
                count_posts(s, query=query)
        assert count_posts(s, query="双黄连") == 4  # nothing lost


def test_messages_are_searched_with_their_filters(any_engine):
    with session_scope(any_engine) as s:
        sid = add_source(s, name="问政", kind="hotline", url=None, actor="t", now=NOW).id
        store_messages(s, source_id=sid, now=NOW, items=[
            RawMessage(external_id="m1", channel="网上留言", received_at=NOW - timedelta(days=5),
                       title="搅拌站噪音扰民", text="晚上施工噪音太大", unit="城管局"),
            RawMessage(external_id="m2", channel="网上留言", received_at=NOW - timedelta(days=1),
                       title="小区停水", text="停水三天，噪音", unit="住建局"),
            RawMessage(external_id="m3", channel="网上留言", received_at=NOW, title="噪聲", text="繁體的噪聲問題"),
        ])
    with session_scope(any_engine) as s:
        ext = dict(s.execute(text("SELECT id, external_id FROM message")).all())

        def ids(q, **f):
            found = [ext[i] for i in search_message_ids(s, query=q, filters=SearchFilters(**f), limit=50)]
            assert count_messages(s, query=q, filters=SearchFilters(**f)) == len(found)
            return found

        assert ids("噪音") == ["m2", "m1"]
        assert ids("噪声") == ["m3"]  # traditional text stored simplified
        assert ids("搅拌站") == ["m1"]
        assert ids("噪音", unit="住建局") == ["m2"]
        assert ids("噪音", since=NOW - timedelta(days=2)) == ["m2"]


def test_migration_indexes_rows_stored_before_it(any_url):
    upgrade(any_url, "0009_source_warning")
    engine = make_engine(any_url)
    try:
        with engine.begin() as conn:  # rows written before the search indexes existed
            conn.execute(text("INSERT INTO source (name, kind, config, enabled, status, consecutive_failures) "
                              "VALUES ('旧来源', 'file', '{}', true, 'ok', 0)"))
            conn.execute(text(
                "INSERT INTO post (source_id, external_id, title, text, fetched_at, version, content_hash, likes, "
                "dislikes, reposts, categories, topics, rumour, pii, assessment) VALUES "
                "(1, 'old1', '旧标题', '迁移之前入库的双黄连帖文', :t, 1, 'h1', 0, 0, 0, '[]', '[]', false, '[]', '{}'),"
                "(1, 'old2', NULL, '另一条帖文以黄连结尾黄连', :t, 1, 'h2', 0, 0, 0, '[]', '[]', false, '[]', '{}')"),
                {"t": NOW})
            conn.execute(text(
                "INSERT INTO message (source_id, external_id, channel, title, text, received_at, simple, "
                "due_provisional, likes, dislikes) VALUES (1, 'm1', '网上留言', '旧留言', '迁移前的留言内容', :t, "
                "false, false, 0, 0)"), {"t": NOW})
        upgrade(any_url)
        with session_scope(engine) as s:
            assert count_posts(s, query="双黄连") == 1
            assert count_posts(s, query="黄连") == 2
            assert count_posts(s, query="旧标题") == 1
            assert count_messages(s, query="迁移前") == 1
    finally:
        engine.dispose()


def test_search_goes_through_the_index(any_engine):
    _store(any_engine)
    with session_scope(any_engine) as s:
        if s.get_bind().dialect.name == "sqlite":
            plan = " ".join(str(r) for r in s.execute(text(
                "EXPLAIN QUERY PLAN SELECT rowid FROM post_fts WHERE post_fts MATCH '\"双黄连\"'")).all())
            assert "VIRTUAL TABLE INDEX" in plan
        else:  # the planner can use the GIN index for the query's own expression
            s.execute(text("SET LOCAL enable_seqscan = off"))
            grams = ["双黄", "黄连"]
            plan = " ".join(r[0] for r in s.execute(text(
                "EXPLAIN SELECT id FROM post WHERE yq_bigrams(lower(coalesce(post.title, '') || chr(10) || post.text)) "
                "@> CAST(:g AS text[])"), {"g": grams}).all())
            assert "ix_post_search" in plan


def test_cli_posts_search(sqlite_url, sqlite_engine):
    sid = _store(sqlite_engine)
    r = run_cli("posts", "search", "双黄连", "--count", db_url=sqlite_url)
    assert r.code == 0, r.err
    assert r.out.strip() == "4"
    r = run_cli("posts", "search", "双黄连", "--json", "--limit", "2", db_url=sqlite_url)
    assert r.code == 0, r.err
    rows = json.loads(r.out)
    assert [x["external_id"] for x in rows] == ["p7", "p3"]
    r = run_cli("posts", "search", "双黄连", "--count", "--since", "2026-02-28T00:00", "--source", str(sid),
                db_url=sqlite_url)
    assert r.out.strip() == "3"  # p1 published before; naive times are Beijing time
    r = run_cli("posts", "search", "黄", db_url=sqlite_url)
    assert r.code == 2 and "至少两个字" in r.err
    r = run_cli("posts", "search", "双黄连", "--since", "昨天", db_url=sqlite_url)
    assert r.code == 2 and "无法解析的时间" in r.err
    r = run_cli("posts", "search", "双黄连", "--sentiment", "坏", db_url=sqlite_url)
    assert r.code == 2 and "--sentiment" in r.err


def test_postgres_newest_first_probe_and_index_agree(pg_engine, monkeypatch):
    """PostgreSQL answers from the newest rows when they hold enough matches (a common phrase),
    else through the bigram index; both give the newest matches, in order, with offsets."""
    import ledger.posts.search as search

    items = [(f"n{i}", None, ("常见短语 " if i % 2 else "") + ("罕见词" if i in (1, 4) else "") + f" 第{i}条", None)
             for i in range(40)]
    _store(pg_engine, items)
    with session_scope(pg_engine) as s:
        rows = s.execute(text("SELECT id, external_id, text FROM post ORDER BY id DESC")).all()
    def expect(term, limit, offset=0):
        return [e for _, e, t in rows if term in t][offset:offset + limit]
    monkeypatch.setattr(search, "RECENT_PROBE_ROWS", 10)
    calls = []
    real = search._matching
    monkeypatch.setattr(search, "_matching", lambda *a, **k: calls.append(1) or real(*a, **k))
    assert _ids(pg_engine, "常见短语")[:3] == expect("常见短语", 3)  # _ids: limit 100 -> index path too
    calls.clear()
    with session_scope(pg_engine) as s:
        ext = dict(s.execute(text("SELECT id, external_id FROM post")).all())
        common = [ext[i] for i in search.search_post_ids(s, query="常见短语", limit=3, offset=1)]
        assert common == expect("常见短语", 3, 1) and calls == []  # answered by the newest rows alone
        rare = [ext[i] for i in search.search_post_ids(s, query="罕见词", limit=5)]
        assert rare == expect("罕见词", 5) and len(rare) == 2 and calls  # old rows: through the index


def test_postgres_probe_extends_by_its_match_rate_before_the_index(pg_engine, monkeypatch):
    """When the newest rows hold some matches but too few (a common phrase under a narrowing
    filter), PostgreSQL reads as many older rows as the match rate says are needed; a phrase that
    would need more than the limit goes to the index. Every path gives the newest matches."""
    import ledger.posts.search as search

    items = [(f"x{i}", None, ("延伸词 " if i % 4 == 0 else "") + f"第{i}条", None) for i in range(200)]
    _store(pg_engine, items)
    with session_scope(pg_engine) as s:
        rows = s.execute(text("SELECT id, external_id, text FROM post ORDER BY id DESC")).all()
        ext = {i: e for i, e, _ in rows}
    expect = [e for _, e, t in rows if "延伸词" in t]
    monkeypatch.setattr(search, "RECENT_PROBE_ROWS", 20)  # 5 matches in the newest 20 rows
    monkeypatch.setattr(search, "MAX_PROBE_EXTENSION_ROWS", 100)
    calls = []
    real = search._matching
    monkeypatch.setattr(search, "_matching", lambda *a, **k: calls.append(1) or real(*a, **k))
    with session_scope(pg_engine) as s:
        got = [ext[i] for i in search.search_post_ids(s, query="延伸词", limit=10)]
        assert got == expect[:10] and calls == []  # 20 rows found 5: 30 more rows read, no index
        got = [ext[i] for i in search.search_post_ids(s, query="延伸词", limit=40)]
        assert got == expect[:40] and calls  # would need 210 more rows: through the index
        calls.clear()
        monkeypatch.setattr(search, "MAX_PROBE_EXTENSION_ROWS", 1000)
        got = [ext[i] for i in search.search_post_ids(s, query="延伸词", limit=100)]
        assert got == expect and len(got) == 50 and calls == []  # the extension reached the oldest row
