"""Dashboard parts of issue #24 through streamlit.testing.v1.AppTest on a real SQLite file: the
search boxes of 最新帖文 and 留言办理, reply suggestions beside the reply box, the 监测方案 editor
with its live preview."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from streamlit.testing.v1 import AppTest

from analysis.assess import Assessor
from ledger.db import session_scope
from ledger.messages.intake import RawMessage, store_messages
from ledger.posts.intake import RawPost, store_posts
from ledger.posts.sources import add_source


@pytest.fixture
def db(sqlite_engine, sqlite_url, monkeypatch):
    monkeypatch.setenv("YUQING_DATABASE_URL", sqlite_url)
    now = datetime.now(UTC)
    with session_scope(sqlite_engine) as s:
        sid = add_source(s, name="微博", kind="file", url=None, actor="t", now=now).id
        store_posts(s, source_id=sid, assessor=Assessor(), now=now - timedelta(days=1), items=[
            RawPost(external_id="1", text="药店里大家都在抢购双黄连 电话13812345678"),
            RawPost(external_id="2", text="转发：抢购双黄连"),
            RawPost(external_id="3", text="今天天气很好"),
        ])
        store_posts(s, source_id=sid, assessor=Assessor(), now=now - timedelta(days=30), items=[
            RawPost(external_id="old", text="一个月前也有人抢购双黄连")])
        hid = add_source(s, name="问政", kind="hotline", url=None, actor="t", now=now).id
        store_messages(s, source_id=hid, now=now, items=[
            RawMessage(external_id="W1", channel="网上留言", received_at=now - timedelta(days=20),
                       title="搅拌站夜间施工噪音", text="搅拌站每天晚上施工，噪音太大",
                       reply_text="已责令搅拌站夜间停工。A7县城市管理和行政执法局 2019年5月9日",
                       replied_at=now - timedelta(days=15)),
            RawMessage(external_id="W2", channel="网上留言", received_at=now - timedelta(hours=3),
                       title="工地晚上施工噪音", text="小区旁边的工地晚上施工噪音太大"),
            RawMessage(external_id="W3", channel="网上留言", received_at=now - timedelta(hours=2),
                       title="停水", text="小区停水两天"),
        ])
    return sqlite_engine


def _page(module: str, role: str = "值班员") -> AppTest:
    def script(module_name, role_name):
        import importlib

        from ledger.users import Principal

        importlib.import_module(module_name).render(Principal(1, "zhiban", "值班员甲", role_name, None, False))

    return AppTest.from_function(script, args=(module, role), default_timeout=90)


def test_posts_page_search_box(db):
    at = _page("dashboard.pages.posts")
    at.run()
    assert len(at.dataframe[0].value) == 4
    at.text_input(key="posts_query").input("双黄连").run()
    assert not at.exception
    df = at.dataframe[0].value
    assert len(df) == 3 and all("双黄连" in t for t in df["正文"])
    assert "138****5678" in " ".join(df["正文"])
    at.text_input(key="posts_query").input("双黄连 药店").run()
    assert len(at.dataframe[0].value) == 1
    at.text_input(key="posts_query").input("黄").run()
    assert any("至少两个字" in e.value for e in at.error)
    at.text_input(key="posts_query").input("没有这个词").run()
    assert any("没有包含「没有这个词」的帖文" in i.value for i in at.info)


def test_messages_page_search_and_reply_suggestions(db):
    at = _page("dashboard.pages.messages")
    at.run()
    assert not at.exception
    assert len(at.dataframe[0].value) == 3
    at.text_input(key="msg_query").input("晚上施工").run()
    df = at.dataframe[0].value
    assert sorted(df["编号"]) == ["W1", "W2"]
    at.text_input(key="msg_query").input("").run()
    # choose W2 (unanswered) and read the suggestions beside the reply box
    at.selectbox(key="msg_pick").select(_message_id("W2")).run()
    assert not at.exception
    texts = " ".join(t.value for t in at.text)
    assert "已责令搅拌站夜间停工" in texts  # W1's reply suggested for W2
    captions = " ".join(c.value for c in at.caption)
    assert "城市管理和行政执法局（据答复推断）" in captions and "相似度" in captions
    use = [b for b in at.button if b.label == "以此答复为起点"]
    assert use
    use[0].click().run()
    reply_box = next(t for t in at.text_area if t.label == "答复意见")
    assert reply_box.value.startswith("已责令搅拌站夜间停工")


def _message_id(external_id: str) -> int:
    from sqlalchemy import text as sql

    from dashboard.data import engine

    with engine().connect() as conn:
        return conn.execute(sql("SELECT id FROM message WHERE external_id = :e"), {"e": external_id}).scalar_one()


def test_scheme_editor_live_preview_and_save(db):
    at = _page("dashboard.pages.schemes")
    at.run()
    assert not at.exception
    assert any("还没有监测方案" in i.value for i in at.info)
    k = "scheme_0_"
    at.text_input(key=k + "name").input("双黄连抢购").run()
    at.text_input(key=k + "all").input("双黄连").run()
    at.text_input(key=k + "any").input("抢购，口服液").run()
    at.text_input(key=k + "none").input("转发").run()
    assert not at.exception
    # the preview: the last 7 days only (not the post of a month ago), exclusions applied
    assert at.metric[0].value == "1"
    assert "药店里大家都在抢购双黄连" in at.dataframe[-1].value["正文"][0]
    assert any("双黄连 且 (抢购 或 口服液) 不含 转发" in c.value for c in at.caption)
    at.text_input(key=k + "none").input("").run()
    assert at.metric[0].value == "2"
    next(b for b in at.button if b.label == "保存方案").click().run()
    assert not at.exception
    from sqlalchemy import text as sql

    from dashboard.data import engine

    with engine().connect() as conn:
        rows = conn.execute(sql("SELECT name, all_terms, any_terms, none_terms, enabled FROM monitor_scheme")).all()
    import json

    assert [(r[0], json.loads(r[1]), json.loads(r[2]), json.loads(r[3]), r[4]) for r in rows] == [
        ("双黄连抢购", ["双黄连"], ["抢购", "口服液"], [], 1)]
    # the saved scheme is now the one edited; a one-character term is explained, not saved
    assert at.selectbox(key="scheme_pick").value == 1
    assert [b for b in at.button if b.label == "保存修改"] and [b for b in at.button if b.label == "停用"]
    at.text_input(key="scheme_1_all").input("黄").run()
    assert any("至少两个字" in w.value for w in at.warning)


def test_unit_role_sees_schemes_read_only(db):
    at = _page("dashboard.pages.schemes", role="领导")
    at.run()
    at.text_input(key="scheme_0_any").input("抢购").run()
    assert not at.exception
    assert not [b for b in at.button if b.label in ("保存方案", "保存修改")]
