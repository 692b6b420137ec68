"""Reply suggestions on a real SQLite file and a real PostgreSQL schema: the answered messages most
like a new one, with replies, unit and similarity; the index grown incrementally; the CLI."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from analysis.replyunit import reply_unit
from ledger.db import session_scope
from ledger.messages.intake import RawMessage, store_messages
from ledger.messages.suggest import ReplyIndex, SuggestError, refresh, suggest
from ledger.posts.sources import add_source
from tests.cli import run_cli

NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)

MESSAGES = [  # id, title, text, reply, unit
    ("m1", "搅拌站夜间施工噪音扰民", "小区旁边的搅拌站每天晚上施工，噪音太大无法入睡", "经查，该搅拌站已责令夜间停工。A7县城市管理和行政执法局 2019年5月9日", None),
    ("m2", "小区停水三天", "幸福小区停水三天没人管，电话13812345678", "自来水公司已抢修完毕，恢复供水。", "水务局"),
    ("m3", "学校收费问题", "孩子学校乱收费，要求家长交资料费", "经教育局核查，已责令学校退还。", None),
    ("m4", "工地夜间施工", "工地晚上十二点还在施工，噪音扰民", None, None),  # not answered: never suggested
    ("m5", "道路破损", "人民路路面坑洼不平", "区住房和城乡建设局已安排维修。", None),
    ("m6", "广场舞噪音", "广场舞音响声音太大", "已协调社区管理。", None),
]


def _store(engine, rows=MESSAGES, source="问政"):
    with session_scope(engine) as s:
        sid = add_source(s, name=source, kind="hotline", url=None, actor="t", now=NOW).id
        store_messages(s, source_id=sid, now=NOW, items=[
            RawMessage(external_id=e, channel="网上留言", received_at=NOW - timedelta(days=10), title=t, text=x,
                       reply_text=r, replied_at=NOW - timedelta(days=5) if r else None, unit=u)
            for e, t, x, r, u in rows])


def test_most_similar_answered_messages_with_reply_unit_and_similarity(any_engine):
    _store(any_engine)
    with session_scope(any_engine) as s:
        found = suggest(s, text="小区旁边的搅拌站晚上施工噪音太大…", top=3)
        assert found[0]["external_id"] == "m1"
        assert "m4" not in [r["external_id"] for r in found]  # unanswered
        sims = [r["similarity"] for r in found]
        assert sims == sorted(sims, reverse=True) and 0 < sims[-1] <= sims[0] <= 1
        top = found[0]
        assert top["reply"].startswith("经查，该搅拌站已责令夜间停工")
        assert (top["unit"], top["unit_from"]) == ("城市管理和行政执法局", "reply_text")  # named in the reply
        water = suggest(s, text="停水好几天了", top=1)[0]
        assert (water["external_id"], water["unit"], water["unit_from"]) == ("m2", "水务局", "message")
        assert "138****5678" in water["text"] and "13812345678" not in water["text"]
        assert "13812345678" in suggest(s, text="停水好几天了", top=1, unmasked=True)[0]["text"]
        assert suggest(s, text="完全无关的内容ＸＹＺ", top=3) == [] or all(
            r["similarity"] < 0.2 for r in suggest(s, text="完全无关的内容ＸＹＺ", top=3))
        with pytest.raises(SuggestError, match="至少两个字"):
            suggest(s, text=" ")
        with pytest.raises(SuggestError, match="1 到 50"):
            suggest(s, text="噪音", top=0)


def test_index_grows_with_new_replies_and_matches_a_full_build(any_engine):
    _store(any_engine, MESSAGES[:2])
    with session_scope(any_engine) as s:
        index = refresh(s)
        assert len(index) == 2
    _store(any_engine, MESSAGES[2:], source="信箱")
    with session_scope(any_engine) as s:
        grown = refresh(s, index)
        assert grown is index and len(index) == 5  # only the new answered ones were read and added
        full = refresh(s, ReplyIndex())
        query = "晚上施工噪音"
        a, b = index.query(query, top=4), full.query(query, top=4)
        assert [i for i, _ in a] == [i for i, _ in b]
        assert [round(x, 9) for _, x in a] == [round(x, 9) for _, x in b]
        # a message answered later is added on the next refresh
        from sqlmodel import select

        from ledger.models.core import Message

        m4 = s.exec(select(Message).where(Message.external_id == "m4")).one()
        m4.reply_text, m4.replied_at = "已责令工地夜间停工。", NOW
        s.add(m4)
        s.flush()
        refresh(s, index)
        assert m4.id in index.ids
        assert suggest(s, text="工地晚上十二点施工", index=index, top=1, exclude_id=None)[0]["external_id"] == "m4"
        assert suggest(s, text="工地晚上十二点施工", index=index, top=1, exclude_id=m4.id)[0]["external_id"] != "m4"


def test_reply_unit_reads_signature_or_last_named_unit():
    assert reply_unit("已处理。特此回复。A7县交通运输局 2019年5月9日") == "交通运输局"
    assert reply_unit("经区住房和城乡建设局核查，已要求整改。") == "住房和城乡建设局"
    assert reply_unit("我局已安排人员处理，感谢关注。") is None
    assert reply_unit("") is None and reply_unit(None) is None


def test_cli_messages_suggest(sqlite_url, sqlite_engine):
    _store(sqlite_engine)
    r = run_cli("messages", "suggest", "--text", "小区旁边的搅拌站晚上施工噪音太大…", "--json", "--top", "3",
                db_url=sqlite_url)
    assert r.code == 0, r.err
    rows = json.loads(r.out)
    assert len(rows) == 3 and rows[0]["external_id"] == "m1" and all(x["reply"] for x in rows)
    assert {"unit", "similarity", "reply", "title", "text"} <= set(rows[0])
    r = run_cli("messages", "suggest", "--text", "搅拌站噪音", db_url=sqlite_url)
    assert r.code == 0 and "相似度" in r.out and "城市管理和行政执法局 (据答复推断)" in r.out
    r = run_cli("messages", "suggest", "--text", "噪音", "--top", "0", db_url=sqlite_url)
    assert r.code == 2 and "--top" in r.err
