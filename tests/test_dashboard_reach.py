"""Dashboard parts of issue #25 through streamlit.testing.v1.AppTest on a real SQLite file: the
热榜 panel on 值班台 (local places highlighted, a case opened from an item), the 舆情快报 buttons
on the case and event pages, and the 来源模板 form on 设置 · 来源."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

from docx import Document
from sqlalchemy import func, select

from config.settings import DEFAULTS_DIR, get_settings
from crawlers.templates import expand, load_templates
from ledger.db import session_scope
from ledger.models import Post, Source
from ledger.models.cases import Case, CasePost
from ledger.posts.intake import RawPost, store_posts
from ledger.posts.sources import add_source
from tests.test_dashboard import _principal, _render, demo_db  # noqa: F401  (the fixture)

CATALOGUE = load_templates(DEFAULTS_DIR / "templates.toml")


def _hot_source(engine, name: str = "weibo_hot") -> int:
    spec = expand(CATALOGUE[name], {}, rsshub_url="http://rsshub.intranet:1200")
    with session_scope(engine) as s:
        return add_source(s, name=spec.name, kind=spec.kind, url=spec.url, config=spec.config, actor="t",
                          now=datetime.now(UTC)).id


def test_hotlist_panel_highlights_local_items_and_opens_a_case(demo_db):  # noqa: F811
    from config.wiring import build_assessor

    now = datetime.now(UTC)
    sid = _hot_source(demo_db)
    with session_scope(demo_db) as s:  # 青山区 is a district of the shipped gazetteer (units.toml)
        store_posts(s, source_id=sid, assessor=build_assessor(get_settings()), now=now, items=[
            RawPost(external_id="h1", title="某明星官宣结婚", text="热度 900万"),
            RawPost(external_id="h2", title="青山区一小区电梯坠落", text="热度 300万"),
            RawPost(external_id="h3", title="新款手机发布", text="热度 100万"),
        ])
        local_post, local_event = s.execute(select(Post.id, Post.event_id).where(Post.external_id == "h2")).one()
    at = _render("onduty", _principal(demo_db, "zhiban"))
    assert "热榜" in [h.value for h in at.subheader]
    assert any("热榜上有 1 条涉及本地" in w.value and "青山区一小区电梯坠落" in w.value for w in at.warning)
    shown = [m.value for m in at.markdown]
    local = [m for m in shown if "青山区一小区电梯坠落" in m]
    assert local and ":red[" in local[0] and "涉及 青山区" in local[0]
    assert local_event is not None and f"事件 {local_event}" in local[0]  # where to find its event
    assert any("某明星官宣结婚" in m and ":red[" not in m for m in shown)
    # only the local item offers 立案
    assert [b.key for b in at.button if b.key and b.key.startswith("hot_case_")] == [f"hot_case_{local_post}"]
    at.button(key=f"hot_case_{local_post}").click().run()
    assert not at.error, [e.value for e in at.error]
    with session_scope(demo_db) as s:
        case = s.execute(select(Case).where(Case.title == "青山区一小区电梯坠落")).scalars().one()
        assert case.grade == "一般" and case.jurisdiction == "青山区" and case.created_by == "zhiban"
        assert s.execute(select(CasePost.post_id).where(CasePost.case_id == case.id)).scalars().all() == [local_post]
    again = _render("onduty", _principal(demo_db, "zhiban"))
    assert any(f"已立案 {case.number}" in c.value for c in again.caption)
    assert not [b for b in again.button if b.key and b.key.startswith("hot_case_")]


def test_hotlist_panel_without_hot_sources_says_how_to_add_one(demo_db):  # noqa: F811
    at = _render("onduty", _principal(demo_db, "zhiban"))
    assert any("暂无热榜" in c.value for c in at.caption)


def test_case_page_brief_button_gives_the_docx(demo_db):  # noqa: F811
    with session_scope(demo_db) as s:
        case = s.execute(select(Case).where(Case.title == "清河镇河道黑臭死鱼")).scalars().one()
        case_id, number = case.id, case.number
    at = _render("cases", _principal(demo_db, "lingdao"))
    at.selectbox(key="case_pick").set_value(case_id).run()
    def briefs():  # the page also offers the case list as CSV (key cases_csv): only the 快报 counts here
        return [b for b in at.get("download_button") if b.key == f"brief_case_{case_id}_dl"]

    assert [b.key for b in at.get("download_button")] == ["cases_csv"]  # no 快报 before the button is pressed
    at.button(key=f"brief_case_{case_id}").click().run()
    assert not at.error, [e.value for e in at.error]
    downloads = briefs()
    assert len(downloads) == 1 and number in downloads[0].proto.label
    # the file offered is the 快报 of this case
    from dashboard.reach import brief_button  # noqa: F401  (the page's own writer produced it)

    data = at.session_state[f"brief_case_{case_id}_file"][1]
    text = "\n".join(p.text for p in Document(io.BytesIO(data)).paragraphs)
    assert "清河镇河道黑臭死鱼" in text and number in text and "七、下一步建议" in text


def test_event_page_brief_button(demo_db):  # noqa: F811
    from config.wiring import build_assessor
    from crawlers.demo import load_demo_posts

    now = datetime.now(UTC)
    with session_scope(demo_db) as s:
        sid = add_source(s, name="演示", kind="rss", url="http://127.0.0.1/x", actor="t", now=now).id
        store_posts(s, source_id=sid, assessor=build_assessor(get_settings()), now=now,
                    items=[RawPost(external_id=str(i), title=p["title"], text=p["text"],
                                   published_at=now - timedelta(minutes=i)) for i, p in enumerate(load_demo_posts())])
    at = _render("events", _principal(demo_db, "zhiban"))
    pick = at.selectbox(key="ev_pick").value
    at.button(key=f"brief_event_{pick}").click().run()
    assert not at.error, [e.value for e in at.error]
    name, data = at.session_state[f"brief_event_{pick}_file"]
    assert name == f"舆情快报_事件{pick}.docx"
    assert f"事件 {pick}" in "\n".join(p.text for p in Document(io.BytesIO(data)).paragraphs)


def test_settings_template_form_adds_a_source(demo_db, monkeypatch):  # noqa: F811
    monkeypatch.setenv("YUQING_RSSHUB_URL", "http://rsshub.intranet:1200")
    with session_scope(demo_db) as s:
        before = s.execute(select(func.count()).select_from(Source)).scalar_one()
    at = _render("admin", _principal(demo_db, "admin"))
    at.selectbox(key="tpl_pick").set_value("weibo_keyword").run()
    at.text_input(key="tpl_weibo_keyword_keyword").input("青山区 电梯")
    at.button(key="FormSubmitter:tpl_form_weibo_keyword-添加来源").click().run()
    assert not at.error, [e.value for e in at.error]
    assert any("已添加来源" in x.value for x in at.success)
    with session_scope(demo_db) as s:
        assert s.execute(select(func.count()).select_from(Source)).scalar_one() == before + 1
        src = s.execute(select(Source).order_by(Source.id.desc())).scalars().first()
        assert src.name == "微博关键词 青山区 电梯" and src.kind == "rss"
        assert src.url == "http://rsshub.intranet:1200/weibo/keyword/%E9%9D%92%E5%B1%B1%E5%8C%BA%20%E7%94%B5%E6%A2%AF"
    # a required parameter left empty: a clear error, nothing added
    at.selectbox(key="tpl_pick").set_value("tieba_forum").run()
    at.button(key="FormSubmitter:tpl_form_tieba_forum-添加来源").click().run()
    assert any("需要参数 kw" in e.value for e in at.error)
    with session_scope(demo_db) as s:
        assert s.execute(select(func.count()).select_from(Source)).scalar_one() == before + 1
