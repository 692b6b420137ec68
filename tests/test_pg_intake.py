"""The PostgreSQL write path of the intake: new posts go in through ``COPY`` into a staging table
and one ``INSERT … SELECT … ON CONFLICT DO NOTHING``; text that means something to ``COPY``
(tabs, newlines, backslashes, ``\\N``, ``\\.``) is stored exactly as on SQLite; a row another writer
stored first is not stored twice; and a growing table gets fresh planner statistics."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select, text
from sqlmodel import Session

from config.settings import get_settings
from config.wiring import build_assessor
from crawlers.importers import ensure_source, import_file, posts_spec
from ledger.db import PlannerStats, make_engine, session_scope
from ledger.migrate import upgrade
from ledger.models.core import Post
from ledger.posts import events as ledger_events
from ledger.posts import intake
from ledger.posts.intake import RawPost, store_posts

pytestmark = pytest.mark.postgres

NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def assessor():
    return build_assessor(get_settings())

AWKWARD = [
    "制表符\t之后\t还有",
    "换行\n第二行\r\n第三行",
    "反斜杠 \\ 和 \\N 和 \\. 和 \\t 字面量",
    "\\.",
    "\\N",
    '引号 "双" \'单\' 与 JSON {"a": [1, 2]}',
    "表情 😀 与全角 ＡＢＣ１２３ 与 ＜b＞",
    "电话 13812345678 身份证 110101199003071234",
]


def _items(prefix: str) -> list[RawPost]:
    return [RawPost(external_id=f"{prefix}{i}", text=t, title=f"标题\t{i}" if i % 2 else None,
                    author=f"作者\\{i}", likes=i, published_at=datetime(2026, 3, 1, i, 0, tzinfo=UTC))
            for i, t in enumerate(AWKWARD)]


def _stored(engine) -> list[tuple]:
    with Session(engine) as s:
        return [(p.external_id, p.title, p.text, p.author, p.likes, p.published_at, p.content_hash,
                 p.sentiment, p.categories, p.topics, p.pii, p.assessment, p.dup_of_id is None)
                for p in s.execute(select(Post).order_by(Post.id)).scalars()]


def test_awkward_text_is_stored_as_on_sqlite(pg_engine, sqlite_engine, assessor):
    stored = []
    for engine in (pg_engine, sqlite_engine):
        ledger_events.forget_state()
        sid, _ = ensure_source(engine, name="测试", kind="file", config={}, actor="test", now=NOW)
        with session_scope(engine) as s:
            res = store_posts(s, source_id=sid, items=_items("x"), assessor=assessor, now=NOW)
        assert res.inserted == len(AWKWARD)
        assert [p.external_id for p in res.posts] == [f"x{i}" for i in range(len(AWKWARD))]
        stored.append(_stored(engine))
    assert stored[0] == stored[1]
    texts = [row[2] for row in stored[0]]
    assert "\\N" in texts and "\\." in texts and any("\n" in t for t in texts)  # tabs are normalised
    assert any("\\N 和 \\." in t for t in texts)
    assert all("13812345678" not in (row[2] or "") or row[10] for row in stored[0])  # PII recorded


def test_a_row_stored_first_by_another_writer_is_not_stored_twice(pg_engine, assessor, monkeypatch):
    sid, _ = ensure_source(pg_engine, name="测试", kind="file", config={}, actor="test", now=NOW)
    items = _items("y")
    with session_scope(pg_engine) as s:
        # the same external id committed by another connection (a real second writer) right after
        # this batch's existence check and before its insert

        real = intake._existing
        calls = []

        def existing_then_other_writer(session, source_id, ids):
            out = real(session, source_id, ids)
            if not calls:
                calls.append(1)
                with session_scope(pg_engine) as other:
                    store_posts(other, source_id=sid, items=[items[3]], assessor=assessor, now=NOW)
            return out

        monkeypatch.setattr(intake, "_existing", existing_then_other_writer)
        res = store_posts(s, source_id=sid, items=items, assessor=assessor, now=NOW)
        monkeypatch.undo()
    with Session(pg_engine) as s:
        ids = s.execute(select(Post.external_id, func.count()).group_by(Post.external_id)).all()
    assert sorted(ids) == sorted((f"y{i}", 1) for i in range(len(AWKWARD)))
    # the other writer's row is handed back as this batch's (its id read back), not lost
    assert {p.external_id for p in res.posts} == {f"y{i}" for i in range(len(AWKWARD))}


def _reltuples(engine) -> float:
    with engine.connect() as conn:
        return conn.execute(text("SELECT reltuples FROM pg_class WHERE oid = to_regclass('post')")).scalar()


def test_planner_statistics_follow_a_growing_table(pg_engine, sqlite_engine, assessor, tmp_path):
    stats = PlannerStats("post", min_rows=100)
    assert not stats.grew(sqlite_engine, 10_000)  # SQLite: nothing to do
    assert _reltuples(pg_engine) < 0  # a new table: never analysed
    sid, _ = ensure_source(pg_engine, name="测试", kind="file", config={}, actor="test", now=NOW)
    with session_scope(pg_engine) as s:
        store_posts(s, source_id=sid, assessor=assessor, now=NOW,
                    items=[RawPost(external_id=f"z{i}", text=f"第 {i} 条 留言 内容") for i in range(150)])
    assert not stats.grew(pg_engine, 60)
    assert stats.grew(pg_engine, 90)  # 150 added ≥ min_rows
    assert _reltuples(pg_engine) == 150
    assert not stats.grew(pg_engine, 149)  # next when the table has doubled
    assert stats.runs == 1
    with pytest.raises(ValueError):
        PlannerStats("post; DROP TABLE post")

    # an import analyses the table as it grows: the statistics see the rows it stored
    path = tmp_path / "posts.csv"
    path.write_text("userid,text\n" + "".join(f"u{i},第 {i} 条 关于 停车 收费 的 留言\n" for i in range(2_500)),
                    encoding="utf-8")
    url = str(pg_engine.url.render_as_string(hide_password=False))
    engine = make_engine(url)
    upgrade(url)
    sid2, _ = ensure_source(engine, name="文件", kind="file", config={}, actor="test", now=NOW)
    rep = import_file(engine, path, posts_spec(text_col="text", author_col="userid", now=NOW), source_id=sid2,
                      assessor=assessor, now=NOW, batch_size=500)
    engine.dispose()
    assert rep.inserted == 2_500
    assert _reltuples(pg_engine) >= 2_000  # analysed after the import had added ≥ 2,000 rows
